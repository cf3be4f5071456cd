//! Serves the Kubewarden lookups from the objects of the input, with the same
//! semantics as the harness (label and field selectors, field masks), and only
//! for the resources the rule's metadata lists, as the real engine does.

use std::cell::Cell;
use std::collections::BTreeMap;

use crash_guard::host::Host;
use crash_guard::selector::LabelSelector;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::metadata::ResourceType;

/// The cluster state one object is judged against.
pub struct ClusterHost<'a> {
    pub objects: Vec<&'a Value>,
    pub allowed: &'a [ResourceType],
    lookups: Cell<usize>,
}

#[derive(Deserialize)]
struct LookupRequest {
    api_version: String,
    kind: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    label_selector: Option<String>,
    #[serde(default)]
    field_selector: Option<String>,
    #[serde(default)]
    field_masks: Option<Vec<String>>,
}

impl<'a> ClusterHost<'a> {
    pub fn new(objects: Vec<&'a Value>, allowed: &'a [ResourceType]) -> Self {
        Self {
            objects,
            allowed,
            lookups: Cell::new(0),
        }
    }

    /// How many Kubernetes lookups were served.
    pub fn lookups(&self) -> usize {
        self.lookups.get()
    }

    fn kubernetes(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let request: LookupRequest = serde_json::from_slice(payload)
            .map_err(|e| format!("cannot decode {operation} request: {e}"))?;
        if !self
            .allowed
            .iter()
            .any(|r| r.api_version == request.api_version && r.kind == request.kind)
        {
            return Err(format!(
                "{}/{} is not among the policy's contextAwareResources",
                request.api_version, request.kind
            ));
        }
        let masks = request.field_masks.clone().unwrap_or_default();
        match operation {
            "list_resources_by_namespace" | "list_resources_all" => {
                let namespace = match operation {
                    "list_resources_by_namespace" => Some(
                        request
                            .namespace
                            .clone()
                            .ok_or("list_resources_by_namespace needs a namespace")?,
                    ),
                    _ => None,
                };
                let labels = LabelSelector::parse(request.label_selector.as_deref().unwrap_or(""))?;
                let fields = parse_field_selector(request.field_selector.as_deref().unwrap_or(""))?;
                let items: Vec<Value> = self
                    .objects
                    .iter()
                    .filter(|o| is_type(o, &request.api_version, &request.kind))
                    .filter(|o| {
                        namespace
                            .as_deref()
                            .is_none_or(|ns| str_at(o, &["metadata", "namespace"]) == ns)
                    })
                    .filter(|o| labels.matches(&labels_of(o)))
                    .filter(|o| fields.iter().all(|f| f.matches(o)))
                    .map(|o| mask(o, &masks))
                    .collect();
                let list = json!({
                    "apiVersion": request.api_version,
                    "kind": format!("{}List", request.kind),
                    "metadata": {"resourceVersion": "1"},
                    "items": items,
                });
                serde_json::to_vec(&list).map_err(|e| e.to_string())
            }
            "get_resource" => {
                let name = request.name.as_deref().unwrap_or("");
                let namespace = request.namespace.as_deref().unwrap_or("");
                self.objects
                    .iter()
                    .find(|o| {
                        is_type(o, &request.api_version, &request.kind)
                            && str_at(o, &["metadata", "name"]) == name
                            && str_at(o, &["metadata", "namespace"]) == namespace
                    })
                    .map(|o| serde_json::to_vec(&mask(o, &masks)).map_err(|e| e.to_string()))
                    .unwrap_or_else(|| {
                        Err(format!(
                            "{} \"{name}\" not found",
                            request.kind.to_lowercase()
                        ))
                    })
            }
            other => Err(format!(
                "unknown host capability kubewarden/kubernetes/{other}"
            )),
        }
    }
}

impl Host for ClusterHost<'_> {
    fn call(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        match namespace {
            "kubernetes" => {
                self.lookups.set(self.lookups.get().saturating_add(1));
                self.kubernetes(operation, payload)
            }
            _ => Err(format!(
                "unknown host capability kubewarden/{namespace}/{operation}"
            )),
        }
    }
}

fn is_type(object: &Value, api_version: &str, kind: &str) -> bool {
    str_at(object, &["apiVersion"]) == api_version && str_at(object, &["kind"]) == kind
}

pub fn str_at<'v>(object: &'v Value, path: &[&str]) -> &'v str {
    path.iter()
        .try_fold(object, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

struct FieldRequirement {
    path: Vec<String>,
    value: String,
    equal: bool,
}

impl FieldRequirement {
    fn matches(&self, object: &Value) -> bool {
        let path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        (str_at(object, &path) == self.value) == self.equal
    }
}

/// The API server supports `metadata.name` and `metadata.namespace` for every kind.
fn parse_field_selector(text: &str) -> Result<Vec<FieldRequirement>, String> {
    let mut requirements = Vec::new();
    for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
            (f, v, false)
        } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            (f, v, true)
        } else {
            return Err(format!("invalid field selector term `{term}`"));
        };
        let field = field.trim();
        if field != "metadata.name" && field != "metadata.namespace" {
            return Err(format!("field label not supported: {field}"));
        }
        requirements.push(FieldRequirement {
            path: field.split('.').map(String::from).collect(),
            value: value.trim().to_string(),
            equal,
        });
    }
    Ok(requirements)
}

/// Keeps only the masked paths (dot notation, arrays traversed); no masks keeps everything.
fn mask(object: &Value, masks: &[String]) -> Value {
    if masks.is_empty() {
        return object.clone();
    }
    let mut out = Value::Object(Map::new());
    for path in masks {
        let parts: Vec<&str> = path.split('.').collect();
        copy_path(object, &mut out, &parts);
    }
    out
}

fn copy_path(from: &Value, to: &mut Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        *to = from.clone();
        return;
    };
    match from {
        Value::Object(map) => {
            let Some(child) = map.get(*first) else { return };
            if !to.is_object() {
                *to = Value::Object(Map::new());
            }
            if let Value::Object(out) = to {
                let slot = out.entry(first.to_string()).or_insert(Value::Null);
                copy_path(child, slot, rest);
            }
        }
        Value::Array(items) => {
            if !to.is_array() {
                *to = Value::Array(vec![Value::Null; items.len()]);
            }
            if let Value::Array(out) = to {
                for (item, slot) in items.iter().zip(out.iter_mut()) {
                    copy_path(item, slot, path);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(ns: &str, name: &str, labels: Value) -> Value {
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":ns,"labels":labels},"data":{"a":"b"}})
    }

    fn allowed() -> Vec<ResourceType> {
        vec![ResourceType {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
        }]
    }

    #[test]
    fn lists_by_namespace_and_label_with_masks() {
        let objects = [
            cm("a", "one", json!({"OWNER":"TILLER"})),
            cm("a", "two", json!({})),
            cm("b", "three", json!({"OWNER":"TILLER"})),
        ];
        let allowed = allowed();
        let host = ClusterHost::new(objects.iter().collect(), &allowed);
        let body = host
            .call(
                "kubernetes",
                "list_resources_by_namespace",
                br#"{"api_version":"v1","kind":"ConfigMap","namespace":"a","label_selector":"OWNER=TILLER","field_masks":["metadata.name"]}"#,
            )
            .expect("lookup succeeds");
        let answer: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(answer["kind"], "ConfigMapList");
        assert_eq!(answer["items"], json!([{"metadata":{"name":"one"}}]));
        let all = host
            .call(
                "kubernetes",
                "list_resources_all",
                br#"{"api_version":"v1","kind":"ConfigMap","label_selector":"OWNER=TILLER","field_selector":"metadata.name!=one"}"#,
            )
            .expect("lookup succeeds");
        let all: Value = serde_json::from_slice(&all).expect("json");
        assert_eq!(all["items"][0]["metadata"]["name"], "three");
        assert_eq!(host.lookups(), 2);
    }

    #[test]
    fn get_resource_and_refusals() {
        let objects = [cm("a", "one", json!({}))];
        let allowed = allowed();
        let host = ClusterHost::new(objects.iter().collect(), &allowed);
        let get = |name: &str| {
            host.call(
                "kubernetes",
                "get_resource",
                format!(r#"{{"api_version":"v1","kind":"ConfigMap","name":"{name}","namespace":"a","disable_cache":false}}"#).as_bytes(),
            )
        };
        assert!(get("one").is_ok());
        assert!(get("two").unwrap_err().contains("not found"));
        let secret = host.call(
            "kubernetes",
            "list_resources_all",
            br#"{"api_version":"v1","kind":"Secret"}"#,
        );
        assert!(secret.unwrap_err().contains("contextAwareResources"));
        assert!(host.call("oci", "v1/manifest_digest", b"{}").is_err());
    }
}
