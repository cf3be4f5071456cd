//! Every crash-guard rule in the browser: manifests, the operation and user to
//! simulate, and per-rule settings in; per object and rule the verdict out.
//!
//! It calls the rules through [`crash_guard::registry::RULES`], the same entry
//! points the policy modules export, building the admission request as the
//! API server (and the harness) does. Context-aware rules see the other
//! objects of the input, plus the optional `cluster` manifests, as the cluster.

pub mod cluster;
pub mod manifests;
pub mod metadata;

use std::collections::BTreeMap;

pub use crash_guard::apiserver::{admission_request, default_user, plural};
use crash_guard::registry::{RuleEntry, RULES};
use crash_guard::response::ValidationResponse;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cluster::{str_at, ClusterHost};
use crate::manifests::Document;
use crate::metadata::Metadata;

/// What the page sends.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Input {
    /// The objects to judge: multi-document YAML, JSON, or a `List`.
    pub manifests: String,
    /// Current versions of objects, used as `oldObject` for UPDATE and DELETE.
    pub old_manifests: String,
    /// Objects that only make up the cluster state, not judged.
    pub cluster: String,
    /// CREATE (default), UPDATE, DELETE or CONNECT.
    pub operation: Option<String>,
    /// `userInfo` of the request; default kubernetes-admin in system:masters.
    pub user_info: Option<Value>,
    /// Namespace of namespaced objects that name none, as `kubectl -n`; default `default`.
    pub namespace: Option<String>,
    /// The rules to run and their settings; absent: every rule with `{}`.
    pub rules: Option<BTreeMap<String, Value>>,
}

/// An input error, shown in the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputError {
    /// `manifests`, `oldManifests`, `cluster`, `operation`, `rules` or `input`.
    pub source: String,
    /// 1-based YAML document, when the error is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsResult {
    pub rule: String,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One rule's answer for one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    pub rule: String,
    /// Whether the policy's webhook rules (metadata.yml) match this request;
    /// the rule is evaluated either way, as the fixtures do.
    pub applies: bool,
    pub response: ValidationResponse,
    pub lookups: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectResult {
    pub document: usize,
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub operation: String,
    pub notes: Vec<String>,
    pub results: Vec<RuleResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    pub rules: Vec<String>,
    pub errors: Vec<InputError>,
    pub settings: Vec<SettingsResult>,
    pub objects: Vec<ObjectResult>,
}

impl Output {
    fn failed(error: InputError) -> Self {
        Self {
            rules: vec![],
            errors: vec![error],
            settings: vec![],
            objects: vec![],
        }
    }
}

/// Kinds the API server keeps outside namespaces (the common ones).
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "PriorityClass",
    "StorageClass",
    "CSIDriver",
    "IngressClass",
    "RuntimeClass",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "ClusterPolicy",
    "ClusterAdmissionPolicy",
    "PodSecurityPolicy",
];

/// The `evaluate` entry point: input JSON in, output JSON out. Never fails.
pub fn evaluate_json(input: &str) -> String {
    let output = match serde_json::from_str::<Input>(input) {
        Ok(input) => evaluate(&input),
        Err(error) => Output::failed(InputError {
            source: "input".into(),
            document: None,
            message: format!("the playground input is not valid: {error}"),
        }),
    };
    serde_json::to_string(&output).unwrap_or_else(|e| {
        json!({"rules": [], "errors": [{"source": "output", "message": e.to_string()}], "settings": [], "objects": []})
            .to_string()
    })
}

pub fn evaluate(input: &Input) -> Output {
    let mut errors = Vec::new();
    let operation = input
        .operation
        .as_deref()
        .unwrap_or("CREATE")
        .trim()
        .to_uppercase();
    if !["CREATE", "UPDATE", "DELETE", "CONNECT"].contains(&operation.as_str()) {
        return Output::failed(InputError {
            source: "operation".into(),
            document: None,
            message: format!(
                "unknown operation `{operation}`: use CREATE, UPDATE, DELETE or CONNECT"
            ),
        });
    }
    let default_namespace = input.namespace.as_deref().unwrap_or("default");
    let documents = manifests::parse(&input.manifests, "manifests", &mut errors);
    let old_documents = manifests::parse(&input.old_manifests, "oldManifests", &mut errors);
    let cluster_documents = manifests::parse(&input.cluster, "cluster", &mut errors);
    let mut objects: Vec<Document> = documents
        .into_iter()
        .map(|mut d| {
            place_in_namespace(&mut d.value, default_namespace);
            d
        })
        .collect();
    let mut old_objects = old_documents;
    for d in &mut old_objects {
        place_in_namespace(&mut d.value, default_namespace);
    }
    let mut cluster = cluster_documents;
    for d in &mut cluster {
        place_in_namespace(&mut d.value, default_namespace);
    }
    if objects.is_empty() && errors.is_empty() {
        errors.push(InputError {
            source: "manifests".into(),
            document: None,
            message: "no objects: paste one or more manifests, or pick an example".into(),
        });
    }

    let mut selected: Vec<(&'static RuleEntry, Value)> = Vec::new();
    match &input.rules {
        None => selected.extend(RULES.iter().map(|r| (r, json!({})))),
        Some(chosen) => {
            for name in chosen.keys() {
                if !RULES.iter().any(|r| r.name == name) {
                    errors.push(InputError {
                        source: "rules".into(),
                        document: None,
                        message: format!("unknown rule `{name}`"),
                    });
                }
            }
            for rule in RULES {
                if let Some(settings) = chosen.get(rule.name) {
                    let settings = if settings.is_null() {
                        json!({})
                    } else {
                        settings.clone()
                    };
                    selected.push((rule, settings));
                }
            }
        }
    }
    let mut settings_results = Vec::new();
    let mut runnable = Vec::new();
    for (rule, settings) in &selected {
        let answer = (rule.validate_settings)(settings.to_string().as_bytes());
        settings_results.push(SettingsResult {
            rule: rule.name.to_string(),
            valid: answer.valid,
            message: answer.message,
        });
        if answer.valid {
            runnable.push((*rule, settings, Metadata::of(rule.name)));
        }
    }

    objects.retain(|d| d.value.is_object());
    let results = objects
        .iter()
        .enumerate()
        .map(|(index, doc)| {
            let others: Vec<&Value> = objects
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, d)| &d.value)
                .chain(cluster.iter().map(|d| &d.value))
                .collect();
            judge(doc, &old_objects, &others, &operation, input, &runnable)
        })
        .collect();
    Output {
        rules: selected.iter().map(|(r, _)| r.name.to_string()).collect(),
        errors,
        settings: settings_results,
        objects: results,
    }
}

/// Sets `metadata.namespace` of namespaced objects that name none, as the API
/// server does before admission.
fn place_in_namespace(object: &mut Value, namespace: &str) {
    let kind = str_at(object, &["kind"]).to_string();
    if namespace.is_empty() || CLUSTER_SCOPED.contains(&kind.as_str()) {
        return;
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if metadata
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            metadata.insert("namespace".into(), json!(namespace));
        }
    }
}

fn same_object(a: &Value, b: &Value) -> bool {
    ["apiVersion", "kind"]
        .iter()
        .all(|k| str_at(a, &[k]) == str_at(b, &[k]))
        && ["name", "namespace"]
            .iter()
            .all(|k| str_at(a, &["metadata", k]) == str_at(b, &["metadata", k]))
}

fn judge(
    doc: &Document,
    old_objects: &[Document],
    others: &[&Value],
    operation: &str,
    input: &Input,
    rules: &[(&RuleEntry, &Value, Metadata)],
) -> ObjectResult {
    let object = &doc.value;
    let mut notes = Vec::new();
    let old = old_objects.iter().find(|o| same_object(&o.value, object));
    let (new_object, old_object) = match operation {
        "UPDATE" => {
            if old.is_none() {
                notes.push(
                    "UPDATE without a current version in “Old objects”: oldObject is empty"
                        .to_string(),
                );
            }
            (
                object.clone(),
                old.map(|o| o.value.clone()).unwrap_or(Value::Null),
            )
        }
        "DELETE" => (Value::Null, old.map(|o| &o.value).unwrap_or(object).clone()),
        _ => (object.clone(), Value::Null),
    };
    let user_info = input.user_info.clone().unwrap_or_else(default_user);
    let request = admission_request(
        &format!("playground-{}", doc.index),
        operation,
        &new_object,
        &old_object,
        str_at(object, &["metadata", "namespace"]),
        &user_info,
    );
    let (group, _) = group_version(str_at(object, &["apiVersion"]));
    let resource = plural(str_at(object, &["kind"]));
    let mut results = Vec::new();
    for (rule, settings, metadata) in rules {
        let host = ClusterHost::new(others.to_vec(), &metadata.context_aware_resources);
        let payload = json!({"request": request, "settings": settings}).to_string();
        let response = (rule.validate)(payload.as_bytes(), &host);
        results.push(RuleResult {
            rule: rule.name.to_string(),
            applies: metadata.matches(group, &resource, operation),
            response,
            lookups: host.lookups(),
        });
    }
    if !rules.is_empty() && results.iter().all(|r| !r.applies) {
        notes.push(format!(
            "no selected crash-guard policy matches {resource} on {operation}: in a cluster none of them would be called"
        ));
    }
    ObjectResult {
        document: doc.index,
        api_version: str_at(object, &["apiVersion"]).to_string(),
        kind: str_at(object, &["kind"]).to_string(),
        namespace: str_at(object, &["metadata", "namespace"]).to_string(),
        name: str_at(object, &["metadata", "name"]).to_string(),
        operation: operation.to_string(),
        notes,
        results,
    }
}

fn group_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// Every rule with what its metadata says, for the page's rule panel.
pub fn rules_json() -> String {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            let metadata = Metadata::of(rule.name);
            let resources: Vec<&str> = metadata
                .rules
                .iter()
                .flat_map(|r| r.resources.iter().map(String::as_str))
                .collect();
            json!({
                "name": rule.name,
                "description": metadata.description(),
                "resources": resources,
                "contextAware": !metadata.context_aware_resources.is_empty(),
            })
        })
        .collect();
    Value::Array(rules).to_string()
}

#[cfg(target_arch = "wasm32")]
mod web {
    use wasm_bindgen::prelude::wasm_bindgen;

    /// Input JSON (see [`crate::Input`]) in, output JSON (see [`crate::Output`]) out.
    #[wasm_bindgen]
    pub fn evaluate(input: &str) -> String {
        crate::evaluate_json(input)
    }

    /// Every rule: `[{name, description, resources, contextAware}]`.
    #[wasm_bindgen]
    pub fn rules() -> String {
        crate::rules_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: Value) -> Value {
        serde_json::from_str(&evaluate_json(&input.to_string())).expect("output is JSON")
    }

    #[test]
    fn bad_yaml_is_an_input_error() {
        let out = run(json!({"manifests": "kind: Secret\n  bad: [indent"}));
        assert_eq!(out["errors"][0]["source"], "manifests");
        assert_eq!(out["errors"][0]["document"], 1);
        assert_eq!(out["objects"], json!([]));
    }

    #[test]
    fn missing_kind_is_an_input_error() {
        let out = run(
            json!({"manifests": "apiVersion: v1\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n"}),
        );
        assert!(out["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("kind"));
        assert_eq!(out["objects"].as_array().map(Vec::len), Some(1));
        assert_eq!(out["objects"][0]["namespace"], "default");
    }

    #[test]
    fn big_secret_is_refused_by_object_size() {
        let data = "A".repeat(400 * 1024);
        let manifest = format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: big, namespace: apps}}\ndata: {{blob: {data}}}\n");
        let out = run(json!({"manifests": manifest, "rules": {"object-size": {}}}));
        let result = &out["objects"][0]["results"][0];
        assert_eq!(result["rule"], "object-size");
        assert_eq!(result["applies"], true);
        assert_eq!(result["response"]["accepted"], false);
        assert!(result["response"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Secret apps/big"));
    }

    #[test]
    fn invalid_settings_are_reported_and_the_rule_skipped() {
        let out = run(
            json!({"manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n", "rules": {"object-size": {"limits": {"Secret": 0}}}}),
        );
        assert_eq!(out["settings"][0]["valid"], false);
        assert_eq!(out["objects"][0]["results"], json!([]));
    }

    #[test]
    fn unknown_rule_and_operation_are_errors() {
        let out = run(
            json!({"manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n", "rules": {"nope": {}}}),
        );
        assert!(out["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nope"));
        let out = run(json!({"manifests": "", "operation": "PATCH"}));
        assert_eq!(out["errors"][0]["source"], "operation");
        let out: Value = serde_json::from_str(&evaluate_json("{")).expect("json");
        assert_eq!(out["errors"][0]["source"], "input");
    }

    #[test]
    fn every_rule_has_metadata_and_is_listed() {
        let rules: Value = serde_json::from_str(&rules_json()).expect("json");
        assert_eq!(rules.as_array().map(Vec::len), Some(RULES.len()));
        for rule in RULES {
            assert!(
                !Metadata::of(rule.name).rules.is_empty(),
                "{} has no metadata rules",
                rule.name
            );
        }
    }
}
