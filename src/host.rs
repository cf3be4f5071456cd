//! Kubewarden host capabilities, behind a trait so rules stay pure and testable.

use serde::Serialize;

use crate::response::write_str;

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
        host.call("kubernetes", operation, &self.to_json())
    }

    /// The same bytes as `serde_json::to_vec(self)`, written directly.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = open_request(self.api_version, self.kind);
        if let Some(namespace) = self.namespace {
            out.extend_from_slice(br#","namespace":"#);
            write_str(&mut out, namespace);
        }
        out.extend_from_slice(br#","label_selector":"#);
        write_optional(&mut out, self.label_selector.as_deref());
        out.extend_from_slice(br#","field_selector":"#);
        write_optional(&mut out, self.field_selector.as_deref());
        write_masks(&mut out, self.field_masks.as_deref());
        out.push(b'}');
        out
    }
}

impl GetResource<'_> {
    /// Gets one resource; the answer is the object as JSON.
    pub fn call(&self, host: &dyn Host) -> Result<Vec<u8>, String> {
        host.call("kubernetes", "get_resource", &self.to_json())
    }

    /// The same bytes as `serde_json::to_vec(self)`, written directly.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = open_request(self.api_version, self.kind);
        out.extend_from_slice(br#","name":"#);
        write_str(&mut out, self.name);
        out.extend_from_slice(br#","namespace":"#);
        write_optional(&mut out, self.namespace);
        out.extend_from_slice(br#","disable_cache":"#);
        out.extend_from_slice(if self.disable_cache {
            b"true"
        } else {
            b"false"
        });
        write_masks(&mut out, self.field_masks.as_deref());
        out.push(b'}');
        out
    }
}

/// `{"api_version":…,"kind":…`, the start of every lookup request.
fn open_request(api_version: &str, kind: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(br#"{"api_version":"#);
    write_str(&mut out, api_version);
    out.extend_from_slice(br#","kind":"#);
    write_str(&mut out, kind);
    out
}

fn write_optional(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => write_str(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_masks(out: &mut Vec<u8>, masks: Option<&[&str]>) {
    let Some(masks) = masks else {
        return;
    };
    out.extend_from_slice(br#","field_masks":["#);
    for (i, mask) in masks.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, mask);
    }
    out.push(b']');
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
                // One text for every cause, an answer too large for memory included.
                "grant the policy its contextAwareResources, check the API server or have fewer or smaller objects; or set `onLookupFailure: allow`.",
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
    fn lookup_requests_are_the_bytes_serde_json_writes() {
        let lists = [
            ListResources {
                api_version: "v1",
                kind: "Pod",
                namespace: Some("kube-system"),
                label_selector: Some("k8s-app=kube-dns".into()),
                field_selector: None,
                field_masks: Some(vec!["metadata.labels", "spec.hostNetwork"]),
            },
            ListResources {
                api_version: "core.gardener.cloud/v1beta1",
                kind: "Shoot",
                namespace: None,
                label_selector: None,
                field_selector: Some("metadata.name!=\"a\\b\"".into()),
                field_masks: None,
            },
        ];
        for list in &lists {
            assert_eq!(
                list.to_json(),
                serde_json::to_vec(list).expect("serialisable")
            );
        }
        let gets = [
            GetResource {
                api_version: "v1",
                kind: "Endpoints",
                name: "kubernetes",
                namespace: Some("default"),
                disable_cache: false,
                field_masks: Some(vec![]),
            },
            GetResource {
                api_version: "v1",
                kind: "Namespace",
                name: "é\n",
                namespace: None,
                disable_cache: true,
                field_masks: None,
            },
        ];
        for get in &gets {
            assert_eq!(
                get.to_json(),
                serde_json::to_vec(get).expect("serialisable")
            );
        }
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
            "the answer is 300000000 bytes, more than the memory left",
        );
        assert!(!verdict.is_accepted());
        // The fix covers an answer too large for memory, not only access and health.
        let fix = &verdict.violations[0].fix;
        assert!(fix.contains("contextAwareResources"), "{fix}");
        assert!(fix.contains("have fewer or smaller objects"), "{fix}");
        assert!(fix.ends_with("or set `onLookupFailure: allow`."), "{fix}");
    }
}
