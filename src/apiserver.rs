//! What the harness and the playground do in the API server's place: build
//! the AdmissionReview request for an object, and answer Kubewarden's
//! `kubernetes/*` lookups from a list of objects with the API server's
//! semantics (label selectors, `metadata.name` and `metadata.namespace` field
//! selectors, field masks). Policy modules never call it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::selector::LabelSelector;

/// A resource a policy may look up (`contextAwareResources` in metadata.yml).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    pub api_version: String,
    pub kind: String,
}

/// One decoded lookup.
#[derive(Debug, Deserialize)]
pub struct Lookup {
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

impl Lookup {
    /// Decodes the payload of `operation`; the engine refuses resources the
    /// policy's metadata does not list.
    pub fn decode(
        operation: &str,
        payload: &[u8],
        allowed: &[ResourceType],
    ) -> Result<Self, String> {
        let lookup: Lookup = serde_json::from_slice(payload)
            .map_err(|e| format!("cannot decode {operation} request: {e}"))?;
        if !allowed
            .iter()
            .any(|r| r.api_version == lookup.api_version && r.kind == lookup.kind)
        {
            return Err(format!(
                "{}/{} is not among the policy's contextAwareResources",
                lookup.api_version, lookup.kind
            ));
        }
        Ok(lookup)
    }

    /// The answer the API server would give, from `objects`.
    pub fn answer<'v>(
        &self,
        operation: &str,
        objects: impl IntoIterator<Item = &'v Value>,
    ) -> Result<Vec<u8>, String> {
        let masks = self.field_masks.as_deref().unwrap_or_default();
        match operation {
            "list_resources_by_namespace" | "list_resources_all" => {
                let namespace = match operation {
                    "list_resources_by_namespace" => Some(
                        self.namespace
                            .as_deref()
                            .ok_or("list_resources_by_namespace needs a namespace")?,
                    ),
                    _ => None,
                };
                let labels = LabelSelector::parse(self.label_selector.as_deref().unwrap_or(""))?;
                let fields = parse_field_selector(self.field_selector.as_deref().unwrap_or(""))?;
                let items: Vec<Value> = objects
                    .into_iter()
                    .filter(|o| is_type(o, &self.api_version, &self.kind))
                    .filter(|o| {
                        namespace.is_none_or(|ns| str_at(o, &["metadata", "namespace"]) == ns)
                    })
                    .filter(|o| labels.matches(&labels_of(o)))
                    .filter(|o| fields.iter().all(|f| f.matches(o)))
                    .map(|o| mask(o, masks))
                    .collect();
                let list = json!({
                    "apiVersion": self.api_version,
                    "kind": format!("{}List", self.kind),
                    "metadata": {"resourceVersion": "1"},
                    "items": items,
                });
                serde_json::to_vec(&list).map_err(|e| e.to_string())
            }
            "get_resource" => {
                let name = self.name.as_deref().unwrap_or("");
                let namespace = self.namespace.as_deref().unwrap_or("");
                objects
                    .into_iter()
                    .find(|o| {
                        is_type(o, &self.api_version, &self.kind)
                            && str_at(o, &["metadata", "name"]) == name
                            && str_at(o, &["metadata", "namespace"]) == namespace
                    })
                    .map(|o| serde_json::to_vec(&mask(o, masks)).map_err(|e| e.to_string()))
                    .unwrap_or_else(|| {
                        Err(format!("{} \"{name}\" not found", self.kind.to_lowercase()))
                    })
            }
            other => Err(format!(
                "unknown host capability kubewarden/kubernetes/{other}"
            )),
        }
    }
}

/// The AdmissionReview request the API server sends about `object` (or, on
/// DELETE, `old_object`).
pub fn admission_request(
    uid: &str,
    operation: &str,
    object: &Value,
    old_object: &Value,
    namespace: &str,
    user_info: &Value,
) -> Value {
    let subject = if object.is_null() { old_object } else { object };
    let kind = str_at(subject, &["kind"]);
    let api_version = str_at(subject, &["apiVersion"]);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": plural(kind)});
    let mut request = json!({
        "uid": uid,
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": str_at(subject, &["metadata", "name"]),
        "operation": operation,
        "userInfo": user_info,
        "object": object,
        "oldObject": old_object,
        "dryRun": false,
    });
    if let (false, Some(fields)) = (namespace.is_empty(), request.as_object_mut()) {
        fields.insert("namespace".to_string(), json!(namespace));
    }
    request
}

/// The user requests come from unless a case or input names one.
pub fn default_user() -> Value {
    json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]})
}

/// The resource name the API server uses for a kind.
pub fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower == "endpoints" {
        lower
    } else if let Some(stem) = lower
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

fn is_type(object: &Value, api_version: &str, kind: &str) -> bool {
    str_at(object, &["apiVersion"]) == api_version && str_at(object, &["kind"]) == kind
}

/// The string at `path` in `object`, or `""`.
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
