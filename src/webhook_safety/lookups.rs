//! What the rule looks up: Namespace labels, and the workload behind a
//! webhook's Service. Every failure is kept, to be reported once.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::btree;
use crate::host::{list_items, GetResource, Host, ListResources};
use crate::request::from_slice;
use crate::selector::NAMESPACE_NAME_LABEL;

/// The labels the rule reasons with for one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceLabels {
    pub labels: BTreeMap<String, String>,
    /// False when assumed: only `kubernetes.io/metadata.name`.
    pub looked_up: bool,
}

impl NamespaceLabels {
    pub fn assumed(name: &str) -> Self {
        Self {
            labels: btree::map([(NAMESPACE_NAME_LABEL.to_string(), name.to_string())]),
            looked_up: false,
        }
    }
}

/// A lookup that failed: what, what went unchecked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub what: String,
    pub unchecked: String,
    pub error: String,
}

/// Lookups of one evaluation, each made at most once; a failure is
/// reported once per pass (old object, new object) that meets it.
pub struct Lookups<'h> {
    host: &'h dyn Host,
    lookup_namespaces: bool,
    namespaces: BTreeMap<String, (NamespaceLabels, Option<Failure>)>,
    pub failures: Vec<Failure>,
}

#[derive(Deserialize)]
struct LabelsOnly {
    #[serde(default)]
    metadata: LabelsMeta,
}

#[derive(Default, Deserialize)]
struct LabelsMeta {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

impl<'h> Lookups<'h> {
    pub fn new(host: &'h dyn Host, lookup_namespaces: bool) -> Self {
        Self {
            host,
            lookup_namespaces,
            namespaces: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    /// Starts judging another object: what the last one met is not its.
    pub fn new_pass(&mut self) {
        self.failures.clear();
    }

    /// Reports `failure` unless this pass has already.
    pub fn report(&mut self, failure: &Failure) {
        if !self.failures.iter().any(|f| f.what == failure.what) {
            self.failures.push(failure.clone());
        }
    }

    /// The labels of namespace `name`: looked up when allowed and `needed`
    /// (the selector reads labels other than the name), assumed otherwise or
    /// when the lookup fails.
    pub fn namespace(&mut self, name: &str, needed: bool) -> NamespaceLabels {
        if !(needed && self.lookup_namespaces) {
            return NamespaceLabels::assumed(name);
        }
        if let Some((known, failure)) = self.namespaces.get(name) {
            let known = known.clone();
            if let Some(failure) = failure.clone() {
                self.report(&failure);
            }
            return known;
        }
        let answer = GetResource {
            api_version: "v1",
            kind: "Namespace",
            name,
            namespace: None,
            disable_cache: false,
            field_masks: Some(vec!["metadata.labels"]),
        }
        .call(self.host)
        .and_then(|body| {
            from_slice::<LabelsOnly>(&body, "the Namespace lookup answer")
                .map_err(|e| e.to_string())
        });
        let (known, failure) = match answer {
            Ok(namespace) => {
                let mut labels = namespace.metadata.labels.unwrap_or_default();
                // The API server sets it on every Namespace.
                labels
                    .entry(NAMESPACE_NAME_LABEL.to_string())
                    .or_insert_with(|| name.to_string());
                let known = NamespaceLabels {
                    labels,
                    looked_up: true,
                };
                (known, None)
            }
            Err(error) => {
                let failure = Failure {
                    what: ["Namespace ", name].concat(),
                    unchecked: [
                        "whether the webhooks' namespaceSelectors match its real labels (assumed it carries only ",
                        NAMESPACE_NAME_LABEL,
                        "=",
                        name,
                        ")",
                    ]
                    .concat(),
                    error,
                };
                self.report(&failure);
                (NamespaceLabels::assumed(name), Some(failure))
            }
        };
        self.namespaces
            .insert(name.to_string(), (known.clone(), failure));
        known
    }

    /// The Deployments and StatefulSets whose pods Service `namespace/name`
    /// selects, with their replicas, or why they are unknown (not reported).
    pub fn backend(&self, namespace: &str, name: &str) -> Result<Backend, Failure> {
        self.backend_lookup(namespace, name)
            .map_err(|error| Failure {
                what: ["the backend of Service ", namespace, "/", name].concat(),
                unchecked: "the replica count of the webhook's backend".to_string(),
                error,
            })
    }

    fn backend_lookup(&self, namespace: &str, name: &str) -> Result<Backend, String> {
        #[derive(Deserialize)]
        struct Service {
            #[serde(default)]
            spec: ServiceSpec,
        }
        #[derive(Default, Deserialize)]
        struct ServiceSpec {
            #[serde(default)]
            selector: Option<BTreeMap<String, String>>,
        }
        let body = GetResource {
            api_version: "v1",
            kind: "Service",
            name,
            namespace: Some(namespace),
            disable_cache: false,
            field_masks: Some(vec!["spec.selector"]),
        }
        .call(self.host)?;
        let service: Service =
            from_slice(&body, "the Service lookup answer").map_err(|e| e.to_string())?;
        let selector = service.spec.selector.unwrap_or_default();
        if selector.is_empty() {
            return Ok(Backend {
                selector,
                workloads: vec![],
            });
        }
        let mut workloads = Vec::new();
        for kind in ["Deployment", "StatefulSet"] {
            let body = ListResources {
                api_version: "apps/v1",
                kind,
                namespace: Some(namespace),
                label_selector: None,
                field_selector: None,
                field_masks: Some(vec![
                    "metadata.name",
                    "spec.replicas",
                    "spec.template.metadata.labels",
                ]),
            }
            .call(self.host)?;
            for item in list_items::<WorkloadItem>(&body)? {
                let labels = item.spec.template.metadata.labels.unwrap_or_default();
                if selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                    workloads.push(Workload {
                        kind,
                        name: item.metadata.name.into_owned(),
                        // The API server defaults spec.replicas to 1.
                        replicas: item.spec.replicas.unwrap_or(1).max(0),
                    });
                }
            }
        }
        Ok(Backend {
            selector,
            workloads,
        })
    }
}

#[derive(Deserialize)]
struct WorkloadItem {
    #[serde(default)]
    metadata: NameOnly,
    #[serde(default)]
    spec: WorkloadSpec,
}

#[derive(Default, Deserialize)]
struct NameOnly {
    #[serde(default)]
    name: Cow<'static, str>,
}

#[derive(Default, Deserialize)]
struct WorkloadSpec {
    #[serde(default)]
    replicas: Option<i64>,
    #[serde(default)]
    template: Template,
}

#[derive(Default, Deserialize)]
struct Template {
    #[serde(default)]
    metadata: LabelsMeta,
}

/// A Deployment or StatefulSet behind a webhook's Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: &'static str,
    pub name: String,
    pub replicas: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub selector: BTreeMap<String, String>,
    pub workloads: Vec<Workload>,
}

impl Backend {
    pub fn replicas(&self) -> i64 {
        self.workloads
            .iter()
            .fold(0i64, |sum, w| sum.saturating_add(w.replicas))
    }
}
