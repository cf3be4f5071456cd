//! What the harness and the playground do in the API server's place: build
//! the AdmissionReview request for an object, and answer Kubewarden's
//! `kubernetes/*` lookups from a list of objects as policy-server does
//! (policy-evaluator's callback handler: label selectors, `metadata.name` and
//! `metadata.namespace` field selectors, field masks, its error texts).
//! Policy modules never call it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

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
                "Policy has not been granted access to Kubernetes {}/{} resources. The violation has been reported.",
                lookup.api_version, lookup.kind
            ));
        }
        Ok(lookup)
    }

    /// The answer policy-server would give, from `objects`.
    pub fn answer<'v>(
        &self,
        operation: &str,
        objects: impl IntoIterator<Item = &'v Value>,
    ) -> Result<Vec<u8>, String> {
        let cluster_scoped = is_cluster_scoped(&self.kind);
        match operation {
            "list_resources_by_namespace" | "list_resources_all" => {
                let namespace = match operation {
                    "list_resources_by_namespace" if cluster_scoped => {
                        return Err(format!(
                            "resource {}/{} is cluster wide. Cannot search for it inside of a namespace",
                            self.api_version, self.kind
                        ))
                    }
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
                    .map(|o| listed(o, self.field_masks.as_deref()))
                    .collect();
                let list = json!({
                    "apiVersion": self.api_version,
                    "kind": format!("{}List", self.kind),
                    "metadata": {},
                    "items": items,
                });
                serde_json::to_vec(&list).map_err(|e| e.to_string())
            }
            "get_resource" => {
                let name = self.name.as_deref().unwrap_or("");
                let namespace = match self.namespace.as_deref() {
                    _ if cluster_scoped => "",
                    Some(namespace) => namespace,
                    None => {
                        return Err(format!(
                            "Resource {}/{} is namespaced, but no namespace was provided",
                            self.api_version, self.kind
                        ))
                    }
                };
                // A direct GET: the object as stored, without field masks.
                objects
                    .into_iter()
                    .find(|o| {
                        is_type(o, &self.api_version, &self.kind)
                            && str_at(o, &["metadata", "name"]) == name
                            && str_at(o, &["metadata", "namespace"]) == namespace
                    })
                    .map(|o| serde_json::to_vec(o).map_err(|e| e.to_string()))
                    .unwrap_or_else(|| {
                        Err(format!(
                            "Cannot find {}/{} named '{name}' inside of namespace '{:?}'",
                            self.api_version,
                            self.kind,
                            self.namespace.as_deref()
                        ))
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

/// How policy-evaluator hands the error of a granted lookup to the policy
/// (refusals of resources not granted come without it).
pub fn callback_failure(error: String) -> String {
    ["Callback evaluation failure: ", &error].concat()
}

/// A listed object as policy-server's watch cache holds it
/// (policy-evaluator's `modify_object`): `managedFields` emptied, the
/// last-applied-configuration annotation dropped, and field masks applied to
/// everything but `apiVersion`, `kind` and `metadata`.
fn listed(object: &Value, masks: Option<&[String]>) -> Value {
    let mut served = object.clone();
    let Some(fields) = served.as_object_mut() else {
        return served;
    };
    let mut metadata = fields.remove("metadata").unwrap_or_else(|| json!({}));
    if let Some(meta) = metadata.as_object_mut() {
        meta.insert("managedFields".into(), json!([]));
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    let api_version = fields.remove("apiVersion");
    let kind = fields.remove("kind");
    if let Some(masks) = masks {
        prune(&mut served, &MaskNode::new(masks));
    }
    if let Some(fields) = served.as_object_mut() {
        fields.extend(api_version.map(|v| ("apiVersion".to_string(), v)));
        fields.extend(kind.map(|v| ("kind".to_string(), v)));
        fields.insert("metadata".into(), metadata);
    }
    served
}

/// Field masks as a tree of keys; a node without children keeps all below it.
#[derive(Default)]
struct MaskNode(BTreeMap<String, MaskNode>);

impl MaskNode {
    fn new(masks: &[String]) -> Self {
        let mut root = MaskNode::default();
        for mask in masks {
            let mut node = &mut root;
            for part in mask.split('.') {
                node = node.0.entry(part.to_string()).or_default();
            }
        }
        root
    }
}

/// Keeps the masked keys; arrays take the mask of their parent, plain values
/// under a masked key stay whole.
fn prune(value: &mut Value, node: &MaskNode) {
    if node.0.is_empty() {
        return;
    }
    match value {
        Value::Object(fields) => fields.retain(|key, child| match node.0.get(key) {
            Some(below) => {
                prune(child, below);
                true
            }
            None => false,
        }),
        Value::Array(items) => items.iter_mut().for_each(|item| prune(item, node)),
        _ => {}
    }
}

/// Kinds the API server keeps outside namespaces.
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CertificateSigningRequest",
    "ClusterAdmissionPolicy",
    "ClusterAdmissionPolicyGroup",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "CloudProfile",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PolicyServer",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "Project",
    "RuntimeClass",
    "Seed",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn service() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {
                "name": "web", "namespace": "apps", "labels": {"app": "web"},
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "a"}
            },
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "name": "http"}], "type": "ClusterIP"},
            "status": {"loadBalancer": {}}
        })
    }

    fn lookup(operation: &str, request: Value) -> Result<Value, String> {
        let allowed = [
            ResourceType {
                api_version: "v1".into(),
                kind: "Service".into(),
            },
            ResourceType {
                api_version: "v1".into(),
                kind: "Namespace".into(),
            },
        ];
        let objects = [
            service(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        ];
        let payload = request.to_string();
        let body =
            Lookup::decode(operation, payload.as_bytes(), &allowed)?.answer(operation, &objects)?;
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }

    #[rstest]
    #[case::no_masks(None, json!({"selector": {"app": "web"}, "ports": [{"port": 80, "name": "http"}], "type": "ClusterIP"}), true)]
    #[case::empty_masks(Some(json!([])), json!({"selector": {"app": "web"}, "ports": [{"port": 80, "name": "http"}], "type": "ClusterIP"}), true)]
    #[case::through_arrays(Some(json!(["spec.ports.port", "metadata.name"])), json!({"ports": [{"port": 80}]}), false)]
    #[case::whole_value_below(Some(json!(["spec.selector", "spec.type.deeper"])), json!({"selector": {"app": "web"}, "type": "ClusterIP"}), false)]
    fn lists_serve_masked_objects_with_whole_metadata(
        #[case] masks: Option<Value>,
        #[case] spec: Value,
        #[case] status_kept: bool,
    ) {
        let mut request = json!({"api_version": "v1", "kind": "Service", "namespace": "apps"});
        if let Some(masks) = masks {
            request["field_masks"] = masks;
        }
        let list = lookup("list_resources_by_namespace", request).unwrap();
        let item = &list["items"][0];
        assert_eq!(item["spec"], spec);
        assert_eq!(item["status"].is_object(), status_kept);
        assert_eq!(
            (item["apiVersion"].as_str(), item["kind"].as_str()),
            (Some("v1"), Some("Service"))
        );
        assert_eq!(item["metadata"]["managedFields"], json!([]));
        assert_eq!(item["metadata"]["annotations"], json!({"team": "a"}));
        assert_eq!(item["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(list["metadata"], json!({}));
    }

    #[rstest]
    #[case::not_granted("list_resources_all", json!({"api_version": "v1", "kind": "Secret"}),
        "Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported.")]
    #[case::cluster_wide_by_namespace("list_resources_by_namespace", json!({"api_version": "v1", "kind": "Namespace", "namespace": "apps"}),
        "resource v1/Namespace is cluster wide. Cannot search for it inside of a namespace")]
    #[case::namespaced_without_namespace("get_resource", json!({"api_version": "v1", "kind": "Service", "name": "web"}),
        "Resource v1/Service is namespaced, but no namespace was provided")]
    #[case::not_found("get_resource", json!({"api_version": "v1", "kind": "Service", "name": "db", "namespace": "apps"}),
        "Cannot find v1/Service named 'db' inside of namespace 'Some(\"apps\")'")]
    fn errors_read_as_policy_servers(
        #[case] operation: &str,
        #[case] request: Value,
        #[case] error: &str,
    ) {
        assert_eq!(lookup(operation, request), Err(error.to_string()));
    }

    #[test]
    fn get_resource_serves_the_stored_object() {
        let request = json!({"api_version": "v1", "kind": "Service", "name": "web", "namespace": "apps", "field_masks": ["spec.type"]});
        assert_eq!(lookup("get_resource", request), Ok(service()));
        let namespace = json!({"api_version": "v1", "kind": "Namespace", "name": "apps", "namespace": "ignored"});
        assert_eq!(
            lookup("get_resource", namespace).unwrap()["metadata"]["name"],
            "apps"
        );
    }
}
