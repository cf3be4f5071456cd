//! Serves the Kubewarden host capabilities from a fixture's cluster state,
//! and records every exchange (for kwctl session files).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crash_guard::apiserver::Lookup;
pub use crash_guard::apiserver::{str_at, ResourceType};
use serde_json::Value;

/// One host call and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub operation: String,
    pub request: Value,
    pub response: Result<Vec<u8>, String>,
    /// False when the host refused it (a resource the policy's metadata does
    /// not list): the engine answers such calls itself, before any cluster
    /// or kwctl's session replay sees them.
    pub granted: bool,
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

    /// How much cluster state a lookup could be answered from, in bytes.
    pub fn cluster_bytes(&self) -> usize {
        let state: usize = self.objects.iter().map(|o| o.to_string().len()).sum();
        state + self.lookup_body.as_ref().map_or(0, String::len)
    }

    pub fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }

    /// Bytes of lookup answers served while quiet, since the last call.
    pub fn take_served_bytes(&self) -> usize {
        self.served.swap(0, Ordering::Relaxed)
    }

    /// The bodies of the lookup answers cached while quiet, each once.
    pub fn served_answers(&self) -> Vec<Vec<u8>> {
        self.answers
            .lock()
            .map(|answers| answers.values().filter_map(|a| a.clone().ok()).collect())
            .unwrap_or_default()
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
                    let (granted, answer) = self.kubernetes(operation, payload);
                    let answer = to_policy(answer, granted);
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
                let (granted, response) = self.kubernetes(operation, payload);
                if let Ok(mut exchanges) = self.exchanges.lock() {
                    exchanges.push(Exchange {
                        operation: operation.to_string(),
                        request,
                        response: response.clone(),
                        granted,
                    });
                }
                to_policy(response, granted)
            }
            _ => Err(format!(
                "unknown host capability {binding}/{namespace}/{operation}"
            )),
        }
    }

    /// Whether the engine lets the lookup through, and the answer as the
    /// cluster gives it (and a kwctl session records it).
    fn kubernetes(&self, operation: &str, payload: &[u8]) -> (bool, Answer) {
        let lookup = match Lookup::decode(operation, payload, &self.allowed) {
            Ok(lookup) => lookup,
            Err(refused) => return (false, Err(refused)),
        };
        let answer = if let Some(message) = &self.lookup_error {
            Err(message.clone())
        } else if let Some(body) = &self.lookup_body {
            Ok(body.clone().into_bytes())
        } else {
            lookup.answer(operation, &self.objects)
        };
        (true, answer)
    }
}

/// A lookup's answer as the policy sees it: the engine wraps the errors of
/// granted lookups.
fn to_policy(answer: Answer, granted: bool) -> Answer {
    match answer {
        Err(error) if granted => Err(crash_guard::apiserver::callback_failure(error)),
        other => other,
    }
}

/// Lets rules run natively against the same cluster state.
impl crash_guard::host::Host for CaseHost {
    fn call(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.serve("kubewarden", namespace, operation, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        // Masks prune the data, never metadata (policy-evaluator's `modify_object`).
        assert_eq!(
            answer["items"],
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": "one", "namespace": "a", "labels": {"OWNER": "TILLER"},
                "annotations": {}, "managedFields": []}}])
        );
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
        assert!(error.contains("Policy has not been granted access to Kubernetes v1/Secret"));
    }

    #[test]
    fn served_answers_are_the_cached_bodies_once_each() {
        let host = host(vec![cm("a", "one", json!({}))]);
        host.set_quiet(true);
        let request = br#"{"api_version":"v1","kind":"ConfigMap","name":"one","namespace":"a","disable_cache":false}"#;
        let first = host.serve("kubewarden", "kubernetes", "get_resource", request);
        let second = host.serve("kubewarden", "kubernetes", "get_resource", request);
        assert_eq!(first, second);
        let missing = br#"{"api_version":"v1","kind":"ConfigMap","name":"two","namespace":"a","disable_cache":false}"#;
        assert!(host
            .serve("kubewarden", "kubernetes", "get_resource", missing)
            .is_err());
        assert_eq!(host.served_answers(), vec![first.unwrap_or_default()]);
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
        assert!(missing
            .unwrap_err()
            .contains("Cannot find v1/ConfigMap named 'two'"));
    }
}
