//! Serves the Kubewarden lookups from the objects of the input, with the
//! harness's semantics (`crash_guard::apiserver`), and only for the resources the
//! rule's metadata lists, as the real engine does.

use std::cell::Cell;

pub use crash_guard::apiserver::str_at;
use crash_guard::apiserver::Lookup;
use crash_guard::host::Host;
use serde_json::Value;

use crate::metadata::ResourceType;

/// The cluster state one object is judged against.
pub struct ClusterHost<'a> {
    pub objects: Vec<&'a Value>,
    pub allowed: &'a [ResourceType],
    lookups: Cell<usize>,
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
        Lookup::decode(operation, payload, self.allowed)?
            .answer(operation, self.objects.iter().copied())
            .map_err(crash_guard::apiserver::callback_failure)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::ResourceType;
    use serde_json::json;

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
        // Masks prune the data, never metadata (policy-evaluator's `modify_object`).
        assert_eq!(
            answer["items"],
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": "one", "namespace": "a", "labels": {"OWNER": "TILLER"},
                "annotations": {}, "managedFields": []}}])
        );
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
        assert!(get("two")
            .unwrap_err()
            .contains("Cannot find v1/ConfigMap named 'two'"));
        let secret = host.call(
            "kubernetes",
            "list_resources_all",
            br#"{"api_version":"v1","kind":"Secret"}"#,
        );
        assert!(secret
            .unwrap_err()
            .contains("Policy has not been granted access to Kubernetes v1/Secret"));
        assert!(host.call("oci", "v1/manifest_digest", b"{}").is_err());
    }
}
