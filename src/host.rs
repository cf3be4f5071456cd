//! Kubewarden host capabilities, behind a trait so rules stay pure and testable.

use serde::Serialize;

/// Calls a Kubewarden host capability (`binding` is always `kubewarden`).
pub trait Host {
    /// `namespace`/`operation` as in `host_call("kubewarden", namespace, operation, payload)`.
    fn call(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}

/// A host without capabilities: every lookup fails. Used by non-context-aware
/// rules in native tests.
pub struct NoHost;

impl Host for NoHost {
    fn call(&self, namespace: &str, operation: &str, _: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!(
            "host capability {namespace}/{operation} is not available"
        ))
    }
}

/// `kubernetes/list_resources_by_namespace` and `kubernetes/list_resources_all`
/// (the latter when `namespace` is `None`).
#[derive(Debug, Clone, Serialize)]
pub struct ListResources<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_masks: Option<Vec<&'a str>>,
}

/// `kubernetes/get_resource`.
#[derive(Debug, Clone, Serialize)]
pub struct GetResource<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub disable_cache: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_masks: Option<Vec<&'a str>>,
}

impl ListResources<'_> {
    /// Lists the resources; the answer is a Kubernetes `List` as JSON.
    pub fn call(&self, host: &dyn Host) -> Result<Vec<u8>, String> {
        let operation = if self.namespace.is_some() {
            "list_resources_by_namespace"
        } else {
            "list_resources_all"
        };
        call_json(host, operation, self)
    }
}

impl GetResource<'_> {
    /// Gets one resource; the answer is the object as JSON.
    pub fn call(&self, host: &dyn Host) -> Result<Vec<u8>, String> {
        call_json(host, "get_resource", self)
    }
}

fn call_json(
    host: &dyn Host,
    operation: &str,
    request: &impl Serialize,
) -> Result<Vec<u8>, String> {
    let payload = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    host.call("kubernetes", operation, &payload)
}
