//! `harness/src/annotate.rs` against the real policies: every metadata.yml
//! annotates a module and reads back as itself, and every module already
//! built into dist/ (and its `.annotated.wasm`, when `make` wrote one) carries
//! the metadata of its policy.

#[allow(dead_code)]
#[path = "../src/annotate.rs"]
mod annotate;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// (rule, metadata.yml, README.md) for every policy dir, and the bundle's.
fn policies() -> Vec<(String, PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("policies"))
        .expect("policies/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("metadata.yml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let rule = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        out.push((rule, dir.join("metadata.yml"), dir.join("README.md")));
    }
    if root().join("metadata.yml").is_file() {
        out.push((
            "crash-guard".into(),
            root().join("metadata.yml"),
            root().join("README.md"),
        ));
    }
    out
}

/// What the section must say about `metadata.yml`.
fn assert_matches(section: &Value, metadata_yml: &str, readme: Option<&str>, what: &str) {
    let metadata: Value = serde_yaml::from_str(metadata_yml).expect("metadata.yml");
    assert_eq!(section["protocolVersion"], json!("v1"), "{what}");
    assert_eq!(section["rules"], metadata["rules"], "{what}: rules");
    assert_eq!(
        section["mutating"], metadata["mutating"],
        "{what}: mutating"
    );
    assert_eq!(
        section["backgroundAudit"],
        metadata
            .get("backgroundAudit")
            .cloned()
            .unwrap_or(json!(true)),
        "{what}: backgroundAudit"
    );
    assert_eq!(section["executionMode"], json!("kubewarden-wapc"), "{what}");
    let mut expected_resources: Vec<Value> = metadata["contextAwareResources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    expected_resources.sort_by_key(|r| (r["apiVersion"].to_string(), r["kind"].to_string()));
    expected_resources.dedup();
    assert_eq!(
        section["contextAwareResources"],
        json!(expected_resources),
        "{what}: contextAwareResources"
    );
    for (key, value) in metadata["annotations"].as_object().into_iter().flatten() {
        if key != annotate::ANNOTATION_KWCTL {
            assert_eq!(
                &section["annotations"][key], value,
                "{what}: annotation {key}"
            );
        }
    }
    assert!(
        section["annotations"][annotate::ANNOTATION_KWCTL].is_string(),
        "{what}"
    );
    if let Some(readme) = readme {
        assert_eq!(
            section["annotations"][annotate::ANNOTATION_USAGE],
            json!(readme),
            "{what}"
        );
    }
}

/// `(module)`: the smallest valid module.
const EMPTY_MODULE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

#[test]
fn every_metadata_yml_annotates_and_reads_back() {
    let policies = policies();
    assert!(policies.iter().any(|(rule, ..)| rule == "object-size"));
    for (rule, metadata_path, readme_path) in policies {
        let metadata = std::fs::read_to_string(&metadata_path).expect("metadata.yml");
        let readme = std::fs::read_to_string(&readme_path).ok();
        let annotated = annotate::annotate(&EMPTY_MODULE, &metadata, "v1", readme.as_deref())
            .unwrap_or_else(|e| panic!("{rule}: {e:#}"));
        let section = annotate::read_metadata(&annotated)
            .expect("readable")
            .expect("annotated");
        assert_matches(&section, &metadata, readme.as_deref(), &rule);
    }
}

#[test]
fn built_modules_annotate_and_annotated_modules_are_current() {
    for (rule, metadata_path, readme_path) in policies() {
        let metadata = std::fs::read_to_string(&metadata_path).expect("metadata.yml");
        let readme = std::fs::read_to_string(&readme_path).ok();
        let plain = root().join("dist").join(format!("{rule}.wasm"));
        let Ok(wasm) = std::fs::read(&plain) else {
            println!("note: {} not built: skipped", plain.display());
            continue;
        };
        let annotated = annotate::annotate(&wasm, &metadata, "v1", readme.as_deref())
            .unwrap_or_else(|e| panic!("{rule}: {e:#}"));
        assert!(
            annotated.starts_with(&wasm) || annotate::read_metadata(&wasm).ok().flatten().is_some()
        );
        let section = annotate::read_metadata(&annotated)
            .expect("ok")
            .expect("section");
        assert_matches(&section, &metadata, readme.as_deref(), &rule);
        let path = root().join("dist").join(format!("{rule}.annotated.wasm"));
        if let Ok(written) = std::fs::read(&path) {
            let section = annotate::read_metadata(&written)
                .expect("readable")
                .unwrap_or_else(|| panic!("{} has no metadata section", path.display()));
            assert_matches(&section, &metadata, None, &path.display().to_string());
        }
    }
}
