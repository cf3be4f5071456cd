//! The manifests of deploy/ checked against the policies' own metadata: every
//! ClusterAdmissionPolicy's rules and contextAwareResources equal those of
//! `policies/<rule>/metadata.yml` (the bundle's: the root `metadata.yml`), every
//! one runs on the crash-guard PolicyServer and excludes the Kubewarden
//! namespace, and the PolicyServer cannot be drained down to no pod.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};

const KUBEWARDEN_NAMESPACE: &str = "kubewarden";
const NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Policies that must see kube-system (it is what they protect).
const NEED_KUBE_SYSTEM: [&str; 5] = [
    "crash-guard-object-count",
    "crash-guard-system-networkpolicy",
    "crash-guard-webhook-safety",
    "crash-guard",
    "crash-guard-daemonset-guard-kube-system",
];
/// Policies that must also see kube-public and kube-node-lease: an
/// AdmissionPolicy there can intercept the nodes' heartbeat Leases, and no
/// namespace may be left where a fork bomb goes unchecked.
const NEED_EVERY_SYSTEM_NAMESPACE: [&str; 3] = [
    "crash-guard-webhook-safety",
    "crash-guard",
    "crash-guard-daemonset-guard-kube-system",
];
/// Second policies of a rule that fails closed elsewhere: the system
/// namespaces only, failing open, with a subset of the rule's `rules`.
const KUBE_SYSTEM_COMPANIONS: [&str; 1] = ["crash-guard-daemonset-guard-kube-system"];
const RULES: [&str; 9] = [
    "object-size",
    "object-count",
    "daemonset-guard",
    "api-rate-limit",
    "shoot-hardening",
    "staged-rollout",
    "system-networkpolicy",
    "webhook-safety",
    "crash-guard",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn load_yaml(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// Every manifest under deploy/, except the VAP's test fixtures.
fn manifests() -> Vec<(PathBuf, Value)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Value)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "fixtures") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                for doc in load_yaml(&path) {
                    out.push((path.clone(), doc));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("deploy"), &mut out);
    out
}

fn policies() -> Vec<(PathBuf, Value)> {
    manifests()
        .into_iter()
        .filter(|(_, doc)| doc["kind"] == "ClusterAdmissionPolicy")
        .collect()
}

/// `registry://ghcr.io/crash-guard/<rule>:v<version>` -> (rule, version).
fn module_rule(module: &str) -> (String, String) {
    let rest = module
        .strip_prefix("registry://ghcr.io/crash-guard/")
        .unwrap_or_else(|| {
            panic!("module {module} is not registry://ghcr.io/crash-guard/<rule>:v<version>")
        });
    let (rule, tag) = rest
        .split_once(':')
        .unwrap_or_else(|| panic!("module {module} has no tag"));
    let version = tag
        .strip_prefix('v')
        .unwrap_or_else(|| panic!("module {module}: tag must be v<version>"));
    (rule.to_string(), version.to_string())
}

fn metadata_path(rule: &str) -> PathBuf {
    if rule == "crash-guard" {
        root().join("metadata.yml")
    } else {
        root().join("policies").join(rule).join("metadata.yml")
    }
}

/// Rules as the API server reads them: every (group, version, resource,
/// operation, scope) they match, however they are grouped or ordered.
fn normalized_rules(rules: &Value) -> BTreeSet<[String; 5]> {
    let values = |rule: &Value, field: &str| -> Vec<String> {
        match rule.get(field) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect(),
            Some(other) => vec![other.as_str().unwrap_or_default().to_string()],
            None if field == "scope" => vec!["*".to_string()],
            None => vec![],
        }
    };
    let mut tuples = BTreeSet::new();
    for rule in rules.as_array().into_iter().flatten() {
        for group in values(rule, "apiGroups") {
            for version in values(rule, "apiVersions") {
                for resource in values(rule, "resources") {
                    for operation in values(rule, "operations") {
                        for scope in values(rule, "scope") {
                            tuples.insert([
                                group.clone(),
                                version.clone(),
                                resource.clone(),
                                operation.clone(),
                                scope,
                            ]);
                        }
                    }
                }
            }
        }
    }
    tuples
}

fn resources(list: &Value) -> BTreeSet<(String, String)> {
    list.as_array()
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

fn is_companion(doc: &Value) -> bool {
    KUBE_SYSTEM_COMPANIONS.contains(&doc["metadata"]["name"].as_str().unwrap_or_default())
}

/// Whether the policy's namespaceSelector can match `namespace`, judged by its
/// terms on the name label (other terms may match anything). Only
/// `matchExpressions`: the Kubewarden controller leaves `matchLabels` out of the
/// webhook (`selectors_are_match_expressions`).
fn reaches(spec: &Value, namespace: &str) -> bool {
    spec["namespaceSelector"]["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["key"] == NAME_LABEL)
        .all(|e| {
            let listed = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v == namespace);
            match e["operator"].as_str() {
                Some("NotIn") => !listed,
                Some("In") => listed,
                _ => true,
            }
        })
}

/// The Kubewarden controller copies only `matchExpressions` of a cluster-wide
/// policy's namespaceSelector into its webhook (adm-controller PR #883), so a
/// `matchLabels` term would silently select nothing.
#[test]
fn selectors_are_match_expressions() {
    for (path, doc) in policies() {
        let labels = &doc["spec"]["namespaceSelector"]["matchLabels"];
        assert!(
            labels.is_null(),
            "{}: {}: write namespaceSelector.matchLabels {labels} as matchExpressions",
            path.display(),
            doc["metadata"]["name"]
        );
    }
}

#[test]
fn every_rule_has_one_cluster_admission_policy() {
    let found: BTreeSet<String> = policies()
        .iter()
        .map(|(_, doc)| module_rule(doc["spec"]["module"].as_str().unwrap_or_default()).0)
        .collect();
    let expected: BTreeSet<String> = RULES.iter().map(|r| r.to_string()).collect();
    assert_eq!(found, expected);
    let companions = policies().iter().filter(|(_, d)| is_companion(d)).count();
    assert_eq!(companions, KUBE_SYSTEM_COMPANIONS.len());
    assert_eq!(
        policies().len(),
        RULES.len() + companions,
        "one policy per rule, and the kube-system companions"
    );
}

#[test]
fn rules_and_context_aware_resources_match_metadata() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, doc) in policies() {
        let spec = &doc["spec"];
        let (rule, version) = module_rule(spec["module"].as_str().unwrap_or_default());
        let metadata_file = metadata_path(&rule);
        assert!(
            metadata_file.is_file(),
            "{}: {} does not exist",
            path.display(),
            metadata_file.display()
        );
        let metadata = load_yaml(&metadata_file)
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut problems = Vec::new();
        let (rules, declared) = (
            normalized_rules(&spec["rules"]),
            normalized_rules(&metadata["rules"]),
        );
        if is_companion(&doc) {
            if rules.is_empty() || !rules.is_subset(&declared) {
                problems.push(format!(
                    "rules {} must be some of metadata's {}",
                    spec["rules"], metadata["rules"]
                ));
            }
        } else if rules != declared {
            problems.push(format!(
                "rules {} != metadata {}",
                spec["rules"], metadata["rules"]
            ));
        }
        if resources(&spec["contextAwareResources"])
            != resources(&metadata["contextAwareResources"])
        {
            problems.push(format!(
                "contextAwareResources {} != metadata {}",
                spec["contextAwareResources"], metadata["contextAwareResources"]
            ));
        }
        let background = metadata["backgroundAudit"].as_bool().unwrap_or(true);
        if spec["backgroundAudit"].as_bool().unwrap_or(true) != background {
            problems.push(format!(
                "backgroundAudit must be {background}, as in metadata"
            ));
        }
        if spec["mutating"].as_bool().unwrap_or(false)
            != metadata["mutating"].as_bool().unwrap_or(false)
        {
            problems.push("mutating differs from metadata".into());
        }
        let metadata_version = metadata["annotations"]["io.kubewarden.policy.version"]
            .as_str()
            .unwrap_or_default();
        if version != metadata_version {
            problems.push(format!(
                "module tag v{version} but metadata version {metadata_version}"
            ));
        }
        if problems.is_empty() {
            checked += 1;
        } else {
            failures.push(format!("{}: {}", path.display(), problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        checked,
        RULES.len() + KUBE_SYSTEM_COMPANIONS.len(),
        "every ClusterAdmissionPolicy is checked"
    );
    println!("{checked} policies match their metadata");
}

#[test]
fn policies_are_safe_to_deploy() {
    let mut failures = Vec::new();
    for (path, doc) in policies() {
        let spec = &doc["spec"];
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        let mut problems = Vec::new();
        if reaches(spec, KUBEWARDEN_NAMESPACE) || reaches(spec, "cattle-kubewarden-system") {
            problems.push(format!(
                "namespaceSelector must exclude the Kubewarden namespace ({NAME_LABEL} NotIn [{KUBEWARDEN_NAMESPACE}, cattle-kubewarden-system])"
            ));
        }
        let needs_kube_system = NEED_KUBE_SYSTEM.contains(&name);
        if reaches(spec, "kube-system") != needs_kube_system {
            problems.push(if needs_kube_system {
                "must not exclude kube-system: the rule protects it".to_string()
            } else {
                "must exclude kube-system".to_string()
            });
        }
        // webhook-safety's other protected namespaces.
        let needs_every = NEED_EVERY_SYSTEM_NAMESPACE.contains(&name);
        for namespace in ["kube-public", "kube-node-lease"] {
            if reaches(spec, namespace) != needs_every {
                problems.push(if needs_every {
                    format!("must not exclude {namespace}")
                } else {
                    format!("must exclude {namespace}")
                });
            }
        }
        if needs_every && spec["failurePolicy"] != "Ignore" {
            problems.push(
                "a policy that sees every system namespace must fail open (failurePolicy Ignore)"
                    .into(),
            );
        }
        if is_companion(&doc) {
            let system_only = json!({"matchExpressions": [
                {"key": NAME_LABEL, "operator": "In", "values": ["kube-system", "kube-public", "kube-node-lease"]}
            ]});
            if spec["namespaceSelector"] != system_only {
                problems.push(format!(
                    "a kube-system companion's namespaceSelector must be {system_only}"
                ));
            }
        }
        if spec["policyServer"] != "crash-guard" {
            problems.push("policyServer must be crash-guard".into());
        }
        if spec["mode"] != "protect" {
            problems.push("mode must be protect".into());
        }
        if !matches!(spec["failurePolicy"].as_str(), Some("Fail" | "Ignore")) {
            problems.push("failurePolicy must be stated (Fail or Ignore)".into());
        }
        match spec["timeoutSeconds"].as_u64() {
            Some(1..=5) => {}
            other => problems.push(format!("timeoutSeconds {other:?} must be 1..=5")),
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", path.display(), problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn policy_server_survives_drains() {
    let docs = manifests();
    let server = docs
        .iter()
        .find(|(_, d)| d["kind"] == "PolicyServer")
        .map(|(_, d)| d)
        .expect("a PolicyServer");
    assert_eq!(server["apiVersion"], "policies.kubewarden.io/v1");
    assert_eq!(server["metadata"]["name"], "crash-guard");
    let replicas = server["spec"]["replicas"].as_u64().unwrap_or(0);
    assert!(replicas >= 2, "at least 2 replicas, got {replicas}");
    assert!(
        server["spec"].get("minAvailable").is_none()
            && server["spec"].get("maxUnavailable").is_none(),
        "the PDB is a separate manifest: a second budget would block evictions"
    );
    let pdb = docs
        .iter()
        .find(|(_, d)| d["kind"] == "PodDisruptionBudget")
        .map(|(_, d)| d)
        .expect("a PodDisruptionBudget");
    assert_eq!(pdb["apiVersion"], "policy/v1");
    assert_eq!(pdb["metadata"]["namespace"], KUBEWARDEN_NAMESPACE);
    assert_eq!(
        pdb["spec"]["selector"],
        json!({"matchLabels": {"app": "kubewarden-policy-server-crash-guard"}})
    );
    let min = pdb["spec"]["minAvailable"].as_u64().unwrap_or(0);
    assert!(
        min >= 1 && min < replicas,
        "minAvailable {min} must leave a pod evictable"
    );
}

#[test]
fn kustomizations_list_existing_files_and_every_policy() {
    let deploy = root().join("deploy");
    let mut listed = BTreeSet::new();
    let mut stack = vec![deploy.clone()];
    while let Some(dir) = stack.pop() {
        let kustomization = dir.join("kustomization.yaml");
        let doc = load_yaml(&kustomization)
            .into_iter()
            .next()
            .unwrap_or_default();
        for resource in doc["resources"].as_array().into_iter().flatten() {
            let target = dir.join(resource.as_str().unwrap_or_default());
            assert!(
                target.exists(),
                "{} lists missing {}",
                kustomization.display(),
                target.display()
            );
            let target = target.canonicalize().unwrap_or(target);
            if target.is_dir() {
                if listed.insert(target.clone()) {
                    stack.push(target);
                }
            } else {
                listed.insert(target);
            }
        }
    }
    stack.push(deploy.join("bundle"));
    // Opt-in extras, each applied on its own (kubectl apply -k deploy/opt-in/<name>).
    stack.extend(
        std::fs::read_dir(deploy.join("opt-in"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir()),
    );
    while let Some(dir) = stack.pop() {
        let doc = load_yaml(&dir.join("kustomization.yaml"))
            .into_iter()
            .next()
            .unwrap_or_default();
        for resource in doc["resources"].as_array().into_iter().flatten() {
            let target = dir.join(resource.as_str().unwrap_or_default());
            let target = target.canonicalize().unwrap_or(target);
            if target.is_dir() && listed.insert(target.clone()) {
                stack.push(target);
            } else {
                listed.insert(target);
            }
        }
    }
    for (path, _) in manifests() {
        if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
            continue;
        }
        let path = path.canonicalize().unwrap_or(path);
        assert!(
            listed.contains(&path),
            "{} is in no kustomization",
            path.display()
        );
    }
}

/// The API server's plural resource name of the kinds rules look up.
fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    match lower.strip_suffix('y') {
        _ if lower.ends_with('s') => lower,
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    }
}

/// (group, resource) pairs that the ClusterRole `name` of deploy/ can get and list.
fn readable_by(name: &str) -> BTreeSet<(String, String)> {
    let docs = manifests();
    let role = docs
        .iter()
        .find(|(_, d)| d["kind"] == "ClusterRole" && d["metadata"]["name"] == name)
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("no ClusterRole {name} in deploy/"));
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_array().into_iter().flatten() {
        let verbs: BTreeSet<&str> = rule["verbs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !["get", "list"].iter().all(|v| verbs.contains(v)) {
            continue;
        }
        for group in rule["apiGroups"].as_array().into_iter().flatten() {
            for resource in rule["resources"].as_array().into_iter().flatten() {
                granted.insert((
                    group.as_str().unwrap_or_default().to_string(),
                    resource.as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    granted
}

#[test]
fn policy_server_can_read_every_context_aware_resource() {
    let granted = readable_by("crash-guard-policy-server");
    let needed: BTreeSet<(String, String)> =
        resources(&load_yaml(&root().join("metadata.yml"))[0]["contextAwareResources"])
            .into_iter()
            .map(|(api_version, kind)| {
                let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
                (group.to_string(), plural(&kind))
            })
            .collect();
    let missing: Vec<_> = needed.difference(&granted).collect();
    assert!(
        missing.is_empty(),
        "rbac.yaml does not grant get/list on {missing:?}"
    );
}

/// e2e-tests/deploy-safety/cases.yaml replays every ClusterAdmissionPolicy of
/// deploy/ against webhook-safety: none may be missing from it.
#[test]
fn webhook_safety_suite_covers_every_policy() {
    let suite_dir = root().join("e2e-tests").join("deploy-safety");
    let suite = load_yaml(&suite_dir.join("cases.yaml"))
        .into_iter()
        .next()
        .unwrap_or_default();
    assert_eq!(suite["module"], "webhook-safety");
    let mut covered = BTreeSet::new();
    for case in suite["cases"].as_array().into_iter().flatten() {
        let Some(object) = case["object"].as_str() else {
            continue;
        };
        let path = suite_dir.join(object);
        let path = path.canonicalize().unwrap_or(path);
        if case["expect"]["allowed"] == true
            && case["operation"].as_str().unwrap_or("CREATE") == "CREATE"
        {
            covered.insert(path);
        }
    }
    for (path, _) in policies() {
        let path = path.canonicalize().unwrap_or(path);
        assert!(
            covered.contains(&path),
            "{} is loaded by no accepting case of e2e-tests/deploy-safety/cases.yaml",
            path.display()
        );
    }
}

/// What Kubernetes' `view` ClusterRole reads, of the kinds policies audit.
const VIEW: &[(&str, &str)] = &[
    ("", "configmaps"),
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("", "services"),
    ("", "endpoints"),
    ("", "namespaces"),
    ("apps", "daemonsets"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
    ("networking.k8s.io", "networkpolicies"),
    ("discovery.k8s.io", "endpointslices"),
];

/// Kubewarden's audit scanner reads with `view` plus crash-guard's
/// audit-scanner-rbac.yaml (and, opted in, Secrets): every resource an audited
/// policy matches must be readable, or the audit silently reports nothing about it.
#[test]
fn audit_scanner_can_read_every_audited_resource() {
    let mut readable = readable_by("crash-guard-audit-scanner");
    // Secrets only by opt-in (deploy/opt-in/audit-scanner-secrets), as Kubewarden.
    readable.extend(readable_by("crash-guard-audit-scanner-secrets"));
    readable.extend(VIEW.iter().map(|(g, r)| (g.to_string(), r.to_string())));
    let mut missing = BTreeSet::new();
    for (path, doc) in policies() {
        let spec = &doc["spec"];
        if spec["backgroundAudit"] == false {
            continue;
        }
        for [group, _, resource, _, _] in normalized_rules(&spec["rules"]) {
            // The scanner lists objects, never subresources.
            if resource.contains('/') {
                continue;
            }
            if !readable.contains(&(group.clone(), resource.clone())) {
                missing.insert(format!(
                    "{} ({}): {group}/{resource}",
                    path.display(),
                    spec["module"]
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the audit scanner cannot read what these audited policies match (add it to deploy/policy-server/audit-scanner-rbac.yaml):\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
    for role in [
        "crash-guard-audit-scanner",
        "crash-guard-audit-scanner-secrets",
    ] {
        let binding = manifests()
            .into_iter()
            .map(|(_, d)| d)
            .find(|d| d["kind"] == "ClusterRoleBinding" && d["roleRef"]["name"] == role)
            .unwrap_or_else(|| panic!("no ClusterRoleBinding of {role}"));
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": "audit-scanner", "namespace": KUBEWARDEN_NAMESPACE}]),
            "{role}"
        );
    }
}

/// The settings each ClusterAdmissionPolicy of deploy/ ships are accepted by
/// its rule's `validate_settings` (natively, the same code the module runs).
#[test]
fn shipped_settings_are_valid() {
    let mut failures = Vec::new();
    for (path, doc) in policies() {
        let spec = &doc["spec"];
        let (rule, _) = module_rule(spec["module"].as_str().unwrap_or_default());
        let settings = serde_json::to_vec(&spec["settings"]).unwrap_or_default();
        let response = if rule == "crash-guard" {
            crash_guard::bundle::validate_settings(&settings)
        } else {
            let entry = crash_guard::registry::find(&rule)
                .unwrap_or_else(|| panic!("{}: no rule {rule}", path.display()));
            (entry.validate_settings)(&settings)
        };
        if !response.valid {
            failures.push(format!("{}: {:?}", path.display(), response.message));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The shipped settings of the bundle's ClusterAdmissionPolicy.
fn bundle_settings() -> Value {
    let (_, bundle) = policies()
        .into_iter()
        .find(|(_, doc)| doc["metadata"]["name"] == "crash-guard")
        .expect("the bundle's ClusterAdmissionPolicy");
    bundle["spec"]["settings"].clone()
}

/// The bundle sees the system namespaces for the rules that protect them, and
/// its shipped settings keep the others out of them, as their own policies'
/// namespaceSelectors do: a kube-controller-manager mirror Pod with
/// `--kube-api-qps=100` is judged by api-rate-limit only outside them.
#[test]
fn bundle_settings_keep_rules_out_of_the_system_namespaces() {
    let settings = &bundle_settings();
    let judge = |namespace: &str| {
        let request = json!({
            "uid": "kcm", "operation": "CREATE", "name": "kube-controller-manager-cp-1",
            "namespace": namespace,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "userInfo": {"username": "system:node:cp-1", "groups": ["system:nodes"]},
            "object": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "kube-controller-manager-cp-1", "namespace": namespace},
                "spec": {"containers": [{"name": "kube-controller-manager",
                    "image": "registry.k8s.io/kube-controller-manager:v1.34.0",
                    "command": ["kube-controller-manager", "--kube-api-qps=100", "--kube-api-burst=200"]}]}}
        });
        let payload = crash_guard::request::write_payload(&request, settings).expect("payload");
        crash_guard::bundle::validate(&payload, &crash_guard::host::NoHost)
    };
    for namespace in ["kube-system", "kube-public", "kube-node-lease"] {
        let response = judge(namespace);
        assert!(response.accepted, "{namespace}: {:?}", response.message);
    }
    let response = judge("team-a");
    assert!(
        !response.accepted,
        "outside the system namespaces it is judged"
    );
    assert!(
        response
            .message
            .unwrap_or_default()
            .contains("api-rate-limit"),
        "refused by api-rate-limit"
    );
}

/// The bundle's daemonset-guard, as its kube-system companion, requires no
/// limits of the system namespaces' DaemonSets but still refuses fork bombs there.
#[test]
fn bundle_settings_require_no_limits_in_the_system_namespaces() {
    let settings = &bundle_settings();
    let judge = |namespace: &str, command: &[&str]| {
        let request = json!({
            "uid": "ds", "operation": "CREATE", "name": "kube-proxy", "namespace": namespace,
            "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
            "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters"]},
            "object": {"apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": "kube-proxy", "namespace": namespace},
                "spec": {"template": {"spec": {"containers": [{"name": "kube-proxy",
                    "image": "registry.k8s.io/kube-proxy:v1.34.0", "command": command}]}}}}
        });
        let payload = crash_guard::request::write_payload(&request, settings).expect("payload");
        let response = crash_guard::bundle::validate(&payload, &crash_guard::host::NoHost);
        (response.accepted, response.message.unwrap_or_default())
    };
    let proxy = [
        "/usr/local/bin/kube-proxy",
        "--config=/var/lib/kube-proxy/config.conf",
    ];
    for namespace in ["kube-system", "kube-public", "kube-node-lease"] {
        let (accepted, message) = judge(namespace, &proxy);
        assert!(
            accepted || !message.contains("resources.limits"),
            "{namespace}: {message}"
        );
        let (accepted, message) = judge(namespace, &["bash", "-c", ":(){ :|:& };:"]);
        assert!(
            !accepted && message.contains("fork bomb"),
            "{namespace}: {message}"
        );
    }
    let (accepted, message) = judge("kube-system", &proxy);
    assert!(accepted, "kube-system: {message}");
    let (accepted, message) = judge("team-a", &proxy);
    assert!(
        !accepted && message.contains("resources.limits = missing cpu, memory"),
        "outside them limits are required: {message}"
    );
}
