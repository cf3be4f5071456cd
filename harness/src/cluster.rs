//! Serves the Kubewarden host capabilities from a fixture's cluster state,
//! and records every exchange (for kwctl session files).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crash_guard::selector::LabelSelector;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A resource a policy may look up (`contextAwareResources` in metadata.yml).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    pub api_version: String,
    pub kind: String,
}

/// One host call and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub operation: String,
    pub request: Value,
    pub response: Result<Vec<u8>, String>,
}

/// A lookup's answer: the body, or the error the host reports.
type Answer = Result<Vec<u8>, String>;

/// The host side of one case.
#[derive(Debug, Default)]
pub struct CaseHost {
    objects: Vec<Value>,
    /// What the policy's metadata lets it look up; policy-server refuses the rest.
    allowed: Vec<ResourceType>,
    /// When set, every Kubernetes lookup fails with this message.
    lookup_error: Option<String>,
    /// When set, every Kubernetes lookup answers this body verbatim.
    lookup_body: Option<String>,
    exchanges: Mutex<Vec<Exchange>>,
    logs: Mutex<Vec<String>>,
    /// While benchmarking: nothing recorded, and lookup answers reused, as
    /// policy-server reuses its cached answers.
    quiet: AtomicBool,
    answers: Mutex<HashMap<(String, Vec<u8>), Answer>>,
    /// Bytes of lookup answers served while quiet.
    served: AtomicUsize,
}

#[derive(Debug, Deserialize)]
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

impl CaseHost {
    pub fn new(
        objects: Vec<Value>,
        allowed: Vec<ResourceType>,
        lookup_error: Option<String>,
        lookup_body: Option<String>,
    ) -> Self {
        Self {
            objects,
            allowed,
            lookup_error,
            lookup_body,
            ..Self::default()
        }
    }

    pub fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }

    /// Bytes of lookup answers served while quiet, since the last call.
    pub fn take_served_bytes(&self) -> usize {
        self.served.swap(0, Ordering::Relaxed)
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().map(|e| e.clone()).unwrap_or_default()
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The waPC host callback.
    pub fn serve(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        match (binding, namespace) {
            ("kubewarden", "tracing") if operation == "log" => {
                if self.quiet.load(Ordering::Relaxed) {
                    return Ok(Vec::new());
                }
                if let Ok(mut logs) = self.logs.lock() {
                    logs.push(String::from_utf8_lossy(payload).into_owned());
                }
                Ok(Vec::new())
            }
            ("kubewarden", "kubernetes") if self.quiet.load(Ordering::Relaxed) => {
                let key = (operation.to_string(), payload.to_vec());
                let cached = self.answers.lock().ok().and_then(|a| a.get(&key).cloned());
                let answer = cached.unwrap_or_else(|| {
                    let answer = self.kubernetes(operation, payload);
                    if let Ok(mut answers) = self.answers.lock() {
                        answers.insert(key, answer.clone());
                    }
                    answer
                });
                let size = answer.as_ref().map_or(0, Vec::len);
                self.served.fetch_add(size, Ordering::Relaxed);
                answer
            }
            ("kubewarden", "kubernetes") => {
                let request: Value = serde_json::from_slice(payload)
                    .map_err(|e| format!("cannot decode request: {e}"))?;
                let response = self.kubernetes(operation, payload);
                if let Ok(mut exchanges) = self.exchanges.lock() {
                    exchanges.push(Exchange {
                        operation: operation.to_string(),
                        request,
                        response: response.clone(),
                    });
                }
                response
            }
            _ => Err(format!(
                "unknown host capability {binding}/{namespace}/{operation}"
            )),
        }
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
        if let Some(message) = &self.lookup_error {
            return Err(message.clone());
        }
        if let Some(body) = &self.lookup_body {
            return Ok(body.clone().into_bytes());
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

/// Lets rules run natively against the same cluster state.
impl crash_guard::host::Host for CaseHost {
    fn call(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.serve("kubewarden", namespace, operation, payload)
    }
}

fn is_type(object: &Value, api_version: &str, kind: &str) -> bool {
    str_at(object, &["apiVersion"]) == api_version && str_at(object, &["kind"]) == kind
}

pub fn str_at<'a>(object: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(object, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn labels_of(object: &Value) -> std::collections::BTreeMap<String, String> {
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

    fn host(objects: Vec<Value>) -> CaseHost {
        CaseHost::new(
            objects,
            vec![ResourceType {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
            }],
            None,
            None,
        )
    }

    fn cm(ns: &str, name: &str, labels: Value) -> Value {
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":ns,"labels":labels},"data":{"a":"b"}})
    }

    fn list(host: &CaseHost, request: Value) -> Value {
        let body = host
            .serve(
                "kubewarden",
                "kubernetes",
                "list_resources_by_namespace",
                request.to_string().as_bytes(),
            )
            .expect("lookup succeeds");
        serde_json::from_slice(&body).expect("json")
    }

    #[test]
    fn lists_by_namespace_and_label_with_masks() {
        let host = host(vec![
            cm("a", "one", json!({"OWNER":"TILLER"})),
            cm("a", "two", json!({})),
            cm("b", "three", json!({"OWNER":"TILLER"})),
        ]);
        let answer = list(
            &host,
            json!({"api_version":"v1","kind":"ConfigMap","namespace":"a","label_selector":"OWNER=TILLER","field_masks":["metadata.name"]}),
        );
        assert_eq!(answer["kind"], "ConfigMapList");
        assert_eq!(answer["items"], json!([{"metadata":{"name":"one"}}]));
        assert_eq!(host.exchanges().len(), 1);
    }

    #[test]
    fn refuses_resources_not_in_metadata() {
        let host = host(vec![]);
        let error = host
            .serve(
                "kubewarden",
                "kubernetes",
                "list_resources_all",
                br#"{"api_version":"v1","kind":"Secret"}"#,
            )
            .unwrap_err();
        assert!(error.contains("contextAwareResources"));
    }

    #[test]
    fn unknown_capabilities_are_errors() {
        assert!(host(vec![])
            .serve("kubewarden", "oci", "v1/manifest_digest", b"{}")
            .is_err());
    }

    #[test]
    fn get_resource_finds_by_name() {
        let host = host(vec![cm("a", "one", json!({}))]);
        let found = host.serve(
            "kubewarden",
            "kubernetes",
            "get_resource",
            br#"{"api_version":"v1","kind":"ConfigMap","name":"one","namespace":"a","disable_cache":false}"#,
        );
        assert!(found.is_ok());
        let missing = host.serve(
            "kubewarden",
            "kubernetes",
            "get_resource",
            br#"{"api_version":"v1","kind":"ConfigMap","name":"two","namespace":"a","disable_cache":false}"#,
        );
        assert!(missing.unwrap_err().contains("not found"));
    }
}
