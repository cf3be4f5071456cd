//! The policies' metadata.yml files are consistent: each names its own version,
//! and the bundle's rules and contextAwareResources are exactly their union.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Every (group, version, resource, operation) a metadata's rules match.
fn rule_tuples(metadata: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut tuples = BTreeSet::new();
    for rule in metadata["rules"].as_sequence().into_iter().flatten() {
        for group in strings(&rule["apiGroups"]) {
            for version in strings(&rule["apiVersions"]) {
                for resource in strings(&rule["resources"]) {
                    for operation in strings(&rule["operations"]) {
                        tuples.insert((
                            group.clone(),
                            version.clone(),
                            resource.clone(),
                            operation,
                        ));
                    }
                }
            }
        }
    }
    tuples
}

fn context_aware(metadata: &Value) -> BTreeSet<(String, String)> {
    metadata["contextAwareResources"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["apiVersion"].as_str().unwrap_or_default().to_string(),
                r["kind"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn policies() -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> = std::fs::read_dir(root().join("policies"))
        .expect("policies/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("metadata.yml"))
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p
                .parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let metadata = load(&p);
            (name, metadata)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn workspace_version() -> String {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    cargo
        .lines()
        .find_map(|l| {
            l.strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
        })
        .expect("workspace version")
        .to_string()
}

#[test]
fn bundle_metadata_is_the_union_of_the_rules() {
    let policies = policies();
    assert!(!policies.is_empty());
    let bundle = load(&root().join("metadata.yml"));
    let rules: BTreeSet<_> = policies.iter().flat_map(|(_, m)| rule_tuples(m)).collect();
    let resources: BTreeSet<_> = policies
        .iter()
        .flat_map(|(_, m)| context_aware(m))
        .collect();
    assert_eq!(rule_tuples(&bundle), rules, "root metadata.yml rules");
    assert_eq!(
        context_aware(&bundle),
        resources,
        "root metadata.yml contextAwareResources"
    );
}

#[test]
fn every_policy_names_its_version_and_protocol() {
    let version = workspace_version();
    for (name, metadata) in policies().into_iter().chain([(
        "crash-guard".to_string(),
        load(&root().join("metadata.yml")),
    )]) {
        let annotations = &metadata["annotations"];
        assert_eq!(
            annotations["io.kubewarden.policy.version"].as_str(),
            Some(version.as_str()),
            "{name}"
        );
        assert_eq!(
            metadata["executionMode"].as_str(),
            Some("kubewarden-wapc"),
            "{name}"
        );
        assert_eq!(metadata["mutating"].as_bool(), Some(false), "{name}");
        assert!(
            metadata["backgroundAudit"].as_bool().is_some(),
            "{name}: backgroundAudit"
        );
        for key in [
            "io.kubewarden.policy.title",
            "io.kubewarden.policy.description",
            "io.kubewarden.policy.ociUrl",
            "io.artifacthub.displayName",
        ] {
            assert!(
                annotations[key].as_str().is_some_and(|v| !v.is_empty()),
                "{name}: {key}"
            );
        }
    }
}

#[test]
fn every_rule_module_is_registered() {
    let registered: BTreeSet<&str> = crash_guard::registry::RULES
        .iter()
        .map(|r| r.name)
        .collect();
    let dirs: BTreeSet<String> = policies().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        dirs.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        registered
    );
}
