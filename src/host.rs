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

/// Decodes the `items` of a Kubernetes `List` answer into the fields a rule reads.
pub fn list_items<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Vec<T>, String> {
    #[derive(serde::Deserialize)]
    struct List<T> {
        #[serde(default = "Vec::new")]
        items: Vec<T>,
    }
    crate::request::from_slice::<List<T>>(body, "the lookup answer")
        .map(|list| list.items)
        .map_err(|e| e.to_string())
}

/// What a rule does when a lookup fails: the `onLookupFailure` setting every
/// context-aware rule shares. By default a degraded cluster is never blocked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnLookupFailure {
    /// Accept, with a warning naming what could not be checked.
    #[default]
    Allow,
    /// Refuse, naming what could not be checked.
    Deny,
}

impl OnLookupFailure {
    /// Records that `what` (e.g. "the ConfigMaps in namespace apps") could not be
    /// looked up because of `error`, and what the rule therefore did not check.
    pub fn record(
        self,
        verdict: &mut crate::violation::Verdict,
        rule: &str,
        what: &str,
        unchecked: &str,
        error: &str,
    ) {
        match self {
            OnLookupFailure::Allow => verdict.warning(format!(
                "crash-guard/{rule}: could not look up {what} ({error}); {unchecked} was not checked"
            )),
            OnLookupFailure::Deny => verdict.violation(crate::violation::Violation::new(
                "lookup",
                what,
                format!("the lookup failed ({error}), so {unchecked} could not be checked, and onLookupFailure is deny."),
                "grant the policy its contextAwareResources and check the API server's health, or set `onLookupFailure: allow`.",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::violation::Verdict;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Named {
        name: String,
    }

    #[test]
    fn decodes_list_items() {
        let items: Vec<Named> =
            list_items(br#"{"apiVersion":"v1","kind":"ConfigMapList","items":[{"name":"a"}]}"#)
                .expect("valid list");
        assert_eq!(items, vec![Named { name: "a".into() }]);
        assert!(list_items::<Named>(br#"{"items":7}"#).is_err());
        assert_eq!(list_items::<Named>(b"{}").expect("empty list"), vec![]);
    }

    #[test]
    fn lookup_failures_warn_or_refuse() {
        let mut verdict = Verdict::accept();
        OnLookupFailure::Allow.record(
            &mut verdict,
            "r",
            "the ConfigMaps in apps",
            "the count",
            "timeout",
        );
        assert!(verdict.is_accepted());
        assert_eq!(
            verdict.warnings,
            vec!["crash-guard/r: could not look up the ConfigMaps in apps (timeout); the count was not checked"]
        );
        OnLookupFailure::Deny.record(
            &mut verdict,
            "r",
            "the ConfigMaps in apps",
            "the count",
            "timeout",
        );
        assert!(!verdict.is_accepted());
    }
}
