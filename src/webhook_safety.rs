//! webhook-safety (crashes 6 and 7): admission webhooks that can take the
//! control plane down, either by what they do in kube-system (Istio's
//! injector in every pod) or by being down themselves (a validating webhook
//! on Endpoints whose only pod was evicted deadlocked the control plane).

mod lookups;
mod webhooks;

use serde::Deserialize;

use crate::exemptions::Exemptions;
use crate::host::{Host, OnLookupFailure};
use crate::policy::Rule;
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::response::{count, decimal, signed};
use crate::selector::{labels_flow_yaml, LabelSelector, NAMESPACE_NAME_LABEL};
use crate::settings::{
    is_dns_label, is_dns_subdomain, namespace_names, validate_section, SettingsError, Validate,
};
use crate::text::Text;
use crate::violation::{Verdict, Violation};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use lookups::{Backend, Failure, Lookups, NamespaceLabels};
use webhooks::{
    is_built_in_group, is_cluster_scoped, split_slash, RuleSpec, Scope, Subject, Webhook,
    WebhookObject, WRITES,
};

pub use webhooks::{skipped_namespaces, DEFAULT_TIMEOUT_SECONDS};

/// The API server refuses `timeoutSeconds` above 30.
pub const API_SERVER_MAX_TIMEOUT_SECONDS: u32 = 30;

pub struct WebhookSafety;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// Namespaces every webhook must provably skip.
    pub protected_namespaces: Vec<String>,
    /// What the control plane writes to heal itself; never behind `failurePolicy: Fail`.
    pub self_healing_resources: Vec<SelfHealingResource>,
    pub max_timeout_seconds: u32,
    /// The tighter maximum for webhooks that intercept leases; unset, 3 or
    /// `max_timeout_seconds` if lower ([`Settings::lease_limit`]).
    pub lease_max_timeout_seconds: Option<u32>,
    /// Look up Namespaces for their real labels (otherwise assume only
    /// `kubernetes.io/metadata.name`).
    pub lookup_namespace_labels: bool,
    /// Look up the workload behind a webhook's Service and count its replicas.
    pub check_backend_replicas: bool,
    pub min_backend_replicas: u32,
    /// Where Kubewarden runs its controller and PolicyServers.
    pub kubewarden_namespace: String,
    pub on_lookup_failure: OnLookupFailure,
    pub exemptions: Exemptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SelfHealingResource {
    /// `""` for the core group.
    #[serde(default)]
    pub api_group: String,
    pub resource: String,
    /// Where it matters; empty means every namespace (and cluster-scoped resources).
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl SelfHealingResource {
    fn new(api_group: &str, resource: &str, namespaces: &[&str]) -> Self {
        Self {
            api_group: api_group.to_string(),
            resource: resource.to_string(),
            namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            protected_namespaces: ["kube-system", "kube-public", "kube-node-lease"]
                .map(String::from)
                .to_vec(),
            self_healing_resources: vec![
                // Leader election of kube-controller-manager, kube-scheduler and
                // every operator; node heartbeats in kube-node-lease.
                SelfHealingResource::new("coordination.k8s.io", "leases", &[]),
                // Older leader-election locks; kube-dns's endpoints.
                SelfHealingResource::new("", "endpoints", &["kube-system"]),
                SelfHealingResource::new("discovery.k8s.io", "endpointslices", &["kube-system"]),
                // Leader-election locks, kube-proxy/CoreDNS configuration, the
                // API server's extension-apiserver-authentication.
                SelfHealingResource::new("", "configmaps", &["kube-system"]),
                // Node status (nodes/status) is how nodes stay Ready.
                SelfHealingResource::new("", "nodes", &[]),
                // Kubelet client and serving certificate rotation.
                SelfHealingResource::new("certificates.k8s.io", "certificatesigningrequests", &[]),
            ],
            max_timeout_seconds: 10,
            lease_max_timeout_seconds: None,
            lookup_namespace_labels: true,
            check_backend_replicas: true,
            min_backend_replicas: 2,
            kubewarden_namespace: "kubewarden".to_string(),
            on_lookup_failure: OnLookupFailure::default(),
            exemptions: Exemptions::default(),
        }
    }
}

/// The lease timeout limit when `leaseMaxTimeoutSeconds` is unset.
const DEFAULT_LEASE_MAX_TIMEOUT_SECONDS: u32 = 3;

impl Settings {
    /// `leaseMaxTimeoutSeconds`, by default 3, or `maxTimeoutSeconds` if lower.
    pub fn lease_limit(&self) -> u32 {
        self.lease_max_timeout_seconds
            .unwrap_or(DEFAULT_LEASE_MAX_TIMEOUT_SECONDS.min(self.max_timeout_seconds))
    }
}

impl Validate for SelfHealingResource {
    fn validate(&self) -> Result<(), SettingsError> {
        let resource = &self.resource;
        if !is_dns_label(resource) {
            let hint = if resource.contains('/') {
                "name the resource alone, e.g. `nodes`, not `nodes/status`: the status and the other subresources the control plane writes are checked with it"
            } else if resource.contains('*') {
                "name one resource, not a wildcard"
            } else {
                "use the lowercase plural resource, e.g. `leases`, not the kind `Lease`"
            };
            return Err(SettingsError::new(
                "resource",
                format!("`{resource}` is not a resource name: {hint}"),
            ));
        }
        let group = &self.api_group;
        if !group.is_empty() && !is_dns_subdomain(group) {
            let hint = if group.contains('/') {
                "name the group without a version, e.g. `coordination.k8s.io`, not `coordination.k8s.io/v1`"
            } else {
                "use `\"\"` for the core group, or one lowercase group such as `coordination.k8s.io`, not a wildcard"
            };
            return Err(SettingsError::new(
                "apiGroup",
                format!("`{group}` is not an API group: {hint}"),
            ));
        }
        // A well-known resource in another built-in group exists nowhere (custom groups may have one).
        let home = match resource.as_str() {
            "leases" => "coordination.k8s.io",
            "endpointslices" => "discovery.k8s.io",
            "certificatesigningrequests" => "certificates.k8s.io",
            "nodes" | "endpoints" | "configmaps" => "",
            _ => group,
        };
        if group != home && is_built_in_group(group) {
            // `""` for the core group.
            let core = |g: &str| if g.is_empty() { "\"\"" } else { "" };
            let home = [home, core(home)].concat();
            return Err(SettingsError::new(
                "apiGroup",
                [
                    "the ",
                    resource,
                    " the control plane writes are in `",
                    &home,
                    "`, not `",
                    group,
                    core(group),
                    "`, so this entry would protect nothing (and it replaces the defaults): set `apiGroup: ",
                    &home,
                    "`",
                ]
                .concat(),
            ));
        }
        namespace_names("namespaces", &self.namespaces)
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        namespace_names("protectedNamespaces", &self.protected_namespaces)?;
        for (index, entry) in self.self_healing_resources.iter().enumerate() {
            validate_section(&format!("selfHealingResources[{index}]"), entry)?;
        }
        let max = API_SERVER_MAX_TIMEOUT_SECONDS;
        if self.max_timeout_seconds == 0 || self.max_timeout_seconds > max {
            return Err(SettingsError::new(
                "maxTimeoutSeconds",
                format!("must be between 1 and {max} (the API server's own range)"),
            ));
        }
        let lease = self.lease_limit();
        if lease == 0 || lease > self.max_timeout_seconds {
            return Err(SettingsError::new(
                "leaseMaxTimeoutSeconds",
                format!(
                    "must be between 1 and maxTimeoutSeconds ({}); leave it unset to follow a maxTimeoutSeconds below 3",
                    self.max_timeout_seconds
                ),
            ));
        }
        if self.min_backend_replicas == 0 {
            return Err(SettingsError::new(
                "minBackendReplicas",
                "must be at least 1; set `checkBackendReplicas: false` to switch the check off",
            ));
        }
        if !is_dns_label(&self.kubewarden_namespace) {
            return Err(SettingsError::new(
                "kubewardenNamespace",
                format!(
                    "`{}` is not a namespace name (at most 63 of a-z, 0-9 and `-`, starting and ending alphanumeric)",
                    self.kubewarden_namespace
                ),
            ));
        }
        validate_section("exemptions", &self.exemptions)
    }
}

impl Rule for WebhookSafety {
    const NAME: &'static str = "webhook-safety";
    type Settings = Settings;
    type Object<'a> = WebhookObject<'a>;

    fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
        webhooks::prefetch(kind, operation)
    }

    fn exemptions(settings: &Settings) -> &Exemptions {
        &settings.exemptions
    }

    fn evaluate<'a>(
        request: &Request<'a>,
        objects: Objects<'a, WebhookObject<'a>>,
        settings: &Settings,
        host: &dyn Host,
    ) -> Result<Verdict, DecodeError> {
        if !matches!(request.operation, Operation::Create | Operation::Update) {
            return Ok(Verdict::accept());
        }
        let webhooks_of = |object| -> Result<Option<Vec<Webhook>>, DecodeError> {
            Ok(match webhooks::decode(request, object)? {
                Subject::WebhookConfiguration(found) => Some(found),
                Subject::KubewardenPolicy(webhook) => Some(vec![*webhook]),
                Subject::Other => None,
            })
        };
        let Some(found) = webhooks_of(objects.object)? else {
            return Ok(Verdict::accept());
        };
        let old_found = match request.operation {
            Operation::Update => webhooks_of(objects.old_object)?,
            _ => None,
        };
        let mut judge = Judge {
            settings,
            lookups: Lookups::new(host, settings.lookup_namespace_labels),
            verdict: Verdict::accept(),
            findings: Vec::new(),
            track_findings: request.operation == Operation::Update,
            findings_only: request.operation == Operation::Update,
            backends: Vec::new(),
            exclusions: Vec::new(),
            selector_fixes: Vec::new(),
        };
        // An UPDATE is refused only for what it introduces: never block the
        // remediation of a webhook that was already unsafe.
        let mut old_findings = Vec::new();
        if request.operation == Operation::Update {
            for webhook in old_found.iter().flatten() {
                judge.webhook(webhook);
            }
            // Only the findings are the old object's to keep.
            judge.findings_only = false;
            judge.verdict = Verdict::accept();
            judge.lookups.new_pass();
            for (.., reported) in &mut judge.backends {
                *reported = false;
            }
            old_findings.extend(judge.findings.drain(..).flatten());
        }
        let mut before = BTreeMap::new();
        let mut before_entries = Vec::new();
        for finding in &old_findings {
            if let About::Entries(_) = finding.subject {
                before_entries.push(finding);
                continue;
            }
            let worst = before.entry(finding.own_key()).or_insert(finding.extent);
            *worst = (*worst).max(finding.extent);
        }
        for webhook in &found {
            judge.webhook(webhook);
        }
        let kept = std::mem::take(&mut judge.verdict.violations);
        let findings = std::mem::take(&mut judge.findings);
        for (index, violation) in kept.into_iter().enumerate() {
            let about = findings.get(index).map_or(&[][..], Vec::as_slice);
            let old =
                !about.is_empty() && about.iter().all(|f| f.was_before(&before, &before_entries));
            if old {
                judge.verdict.warning(
                    [
                        "crash-guard/",
                        Self::NAME,
                        ": ",
                        &violation.field,
                        " = ",
                        &violation.value,
                        ": ",
                        &violation.problem,
                        " Allowed because this update does not make it worse. Fix: ",
                        &violation.fix,
                    ]
                    .concat(),
                );
            } else {
                judge.verdict.violation(violation);
            }
        }
        let Judge {
            mut verdict,
            lookups,
            ..
        } = judge;
        for failure in &lookups.failures {
            settings.on_lookup_failure.record(
                &mut verdict,
                Self::NAME,
                &failure.what,
                &failure.unchecked,
                &failure.error,
            );
        }
        Ok(verdict)
    }
}

/// Whether a webhook is called for requests in one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    /// Called; `basis` says why, for messages.
    Reached { basis: Basis },
    /// Skipped; `explicit` when that holds whatever labels the namespace gains.
    Skipped { explicit: bool },
}

/// Why a webhook is called in a namespace, written only for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Basis {
    AdmissionPolicy,
    NoSelector,
    EmptySelector,
    LabelsLeftOut,
    Labels(NamespaceLabels),
}

impl Basis {
    fn text(&self, namespace: &str) -> String {
        match self {
            Basis::AdmissionPolicy => [" (it is a namespaced policy in ", namespace, ")"].concat(),
            Basis::NoSelector => {
                " (it has no namespaceSelector, so it matches every namespace)".to_string()
            }
            Basis::EmptySelector => {
                " (its namespaceSelector is empty, so it matches every namespace)".to_string()
            }
            Basis::LabelsLeftOut => {
                " (without its matchLabels, its namespaceSelector matches every namespace)"
                    .to_string()
            }
            Basis::Labels(known) => {
                let labels = labels_text(&known.labels);
                let middle = if known.looked_up {
                    "'s labels "
                } else {
                    " if, as assumed without a lookup, it carries only "
                };
                [
                    " (its namespaceSelector matches ",
                    namespace,
                    middle,
                    &labels,
                    ")",
                ]
                .concat()
            }
        }
    }
}

struct Judge<'s, 'h, 'w> {
    settings: &'s Settings,
    lookups: Lookups<'h>,
    verdict: Verdict,
    /// What each violation of `verdict` is about, in the same order (in the
    /// old object's pass, each check's findings alone): only for an UPDATE
    /// (`track_findings`), which compares them with the old object's.
    findings: Vec<Vec<Finding<'w>>>,
    track_findings: bool,
    /// The old object's pass of an UPDATE: findings are kept, no message is written.
    findings_only: bool,
    /// Backends already looked up, by `namespace/name`, and whether this
    /// pass has reported what it found wrong with them.
    backends: Vec<(String, Result<Backend, Failure>, bool)>,
    /// Namespaces the current webhook's selector must exclude, and the
    /// violations whose fix shows that selector: one snippet fixes them all.
    exclusions: Vec<String>,
    selector_fixes: Vec<SelectorFix>,
}

/// A fix that reads `{before}<the narrowed selector>{after}`.
struct SelectorFix {
    index: usize,
    before: String,
    after: String,
}

/// One thing a violation is about, named so that it survives rewording,
/// reordering and renumbering: the webhook's name, the check and its
/// subject. An UPDATE keeps a violation as old only if each of its findings
/// was there before, under its own key or a broader one (its own first),
/// with at least this `extent` (failing closed, a timeout's seconds).
struct Finding<'w> {
    webhook: Rc<str>,
    check: &'static str,
    subject: About<'w>,
    extent: i64,
}

enum About<'w> {
    /// Its own name, then broader ones.
    Named(Vec<String>),
    /// The rules' entries (group, resource, operation) that reach namespaced
    /// resources; each must be covered by an old one ([`entries_held`]).
    Entries(&'w [RuleSpec<'w>]),
}

/// A finding's webhook, check and subject.
type FindingKey<'k> = (&'k str, &'static str, &'k str);

impl Finding<'_> {
    fn key<'k>(&'k self, subject: &'k str) -> FindingKey<'k> {
        (&self.webhook, self.check, subject)
    }

    fn own_key(&self) -> FindingKey<'_> {
        match &self.subject {
            About::Named(names) => self.key(names.first().map_or("", String::as_str)),
            About::Entries(_) => self.key(""),
        }
    }

    /// Whether `before` (or, for rule entries, `entries`) holds this
    /// finding, or a broader one, as far.
    fn was_before<'k>(
        &'k self,
        before: &BTreeMap<FindingKey<'k>, i64>,
        entries: &[&Finding],
    ) -> bool {
        let held = |key| before.get(&key).is_some_and(|&worst| worst >= self.extent);
        match &self.subject {
            About::Named(names) => names.iter().any(|n| held(self.key(n))),
            About::Entries(rules) => {
                let old: Vec<&[RuleSpec]> = entries
                    .iter()
                    .filter(|f| f.webhook == self.webhook && f.extent >= self.extent)
                    .filter_map(|f| match f.subject {
                        About::Entries(old) => Some(old),
                        About::Named(_) => None,
                    })
                    .collect();
                entries_held(rules, &old)
            }
        }
    }
}

impl<'w> Judge<'_, '_, 'w> {
    fn webhook(&mut self, webhook: &'w Webhook<'w>) {
        self.exclusions.clear();
        self.selector_fixes.clear();
        self.protected_namespaces(webhook);
        self.self_healing(webhook);
        self.timeout(webhook);
        self.own_pods(webhook);
        self.backend_replicas(webhook);
        self.complete_selector_fixes(webhook);
    }

    /// `subjects`: its own first, then broader ones that stand for it.
    fn finding(
        &self,
        webhook: &Webhook,
        check: &'static str,
        subjects: &[&str],
        extent: i64,
    ) -> Option<Finding<'w>> {
        self.track_findings.then(|| Finding {
            webhook: webhook.name.as_ref().into(),
            check,
            subject: About::Named(subjects.iter().map(|s| s.to_string()).collect()),
            extent,
        })
    }

    /// In the old object's pass, keeps `findings` and returns true: the
    /// caller writes no message.
    fn only_findings(&mut self, findings: &mut Vec<Finding<'w>>) -> bool {
        if self.findings_only {
            self.findings.push(std::mem::take(findings));
        }
        self.findings_only
    }

    fn record(&mut self, violation: Violation, findings: Vec<Finding<'w>>) {
        self.verdict.violation(violation);
        self.findings.push(findings);
    }

    /// Adds a violation whose fix shows the webhook's narrowed selector.
    fn selector_violation(
        &mut self,
        violation: Violation,
        findings: Vec<Finding<'w>>,
        after: &str,
        exclude: &[&str],
    ) {
        for namespace in exclude {
            if !self.exclusions.iter().any(|n| n == namespace) {
                self.exclusions.push(namespace.to_string());
            }
        }
        self.selector_fixes.push(SelectorFix {
            index: self.verdict.violations.len(),
            before: violation.fix.clone(),
            after: after.to_string(),
        });
        self.record(violation, findings);
    }

    /// A violation of the webhook's namespaceSelector, fixed by narrowing it.
    fn namespace_selector_violation(
        &mut self,
        webhook: &Webhook,
        problem: String,
        findings: Vec<Finding<'w>>,
        exclude: &[&str],
    ) {
        self.selector_violation(
            Violation::new(
                [&webhook.path, ".namespaceSelector"].concat(),
                selector_value(webhook.written_selector().as_deref()),
                problem,
                ["set `", &webhook.path, ".namespaceSelector: "].concat(),
            ),
            findings,
            SELECTOR_FIX_END,
            exclude,
        );
    }

    fn complete_selector_fixes(&mut self, webhook: &Webhook) {
        if !matches!(webhook.scope, Scope::Selector(_)) {
            return;
        }
        if self.selector_fixes.is_empty() {
            return;
        }
        let names: Vec<&str> = self.exclusions.iter().map(String::as_str).collect();
        let snippet = webhook
            .fixable_selector()
            .excluding(NAMESPACE_NAME_LABEL, &names)
            .to_flow_yaml();
        for pending in self.selector_fixes.drain(..) {
            if let Some(violation) = self.verdict.violations.get_mut(pending.index) {
                violation.fix = [pending.before.as_str(), &snippet, &pending.after].concat();
            }
        }
    }

    fn reach(&mut self, webhook: &Webhook, namespace: &str) -> Reach {
        // The controller adds `kubernetes.io/metadata.name NotIn [<its namespace>]`
        // to a cluster-wide policy's webhook unless allowed inside.
        let left_out = webhook.kubewarden
            && webhook.inside_kubewarden.is_none()
            && namespace == self.settings.kubewarden_namespace;
        if left_out || webhook.skipped_by_conditions.iter().any(|n| n == namespace) {
            return Reach::Skipped { explicit: true };
        }
        let selector = match &webhook.scope {
            Scope::Only(own) if own == namespace => {
                return Reach::Reached {
                    basis: Basis::AdmissionPolicy,
                }
            }
            Scope::Only(_) => return Reach::Skipped { explicit: true },
            Scope::Selector(None) => {
                return Reach::Reached {
                    basis: Basis::NoSelector,
                }
            }
            Scope::Selector(Some(selector)) if selector.is_empty() => {
                let basis = if webhook.labels_left_out.is_empty() {
                    Basis::EmptySelector
                } else {
                    Basis::LabelsLeftOut
                };
                return Reach::Reached { basis };
            }
            Scope::Selector(Some(selector)) => selector,
        };
        if selector.excludes_whenever(NAMESPACE_NAME_LABEL, namespace) {
            return Reach::Skipped { explicit: true };
        }
        let needed = selector.keys().any(|k| k != NAMESPACE_NAME_LABEL);
        let known = self.lookups.namespace(namespace, needed);
        if !selector.matches(&known.labels) {
            return Reach::Skipped { explicit: false };
        }
        Reach::Reached {
            basis: Basis::Labels(known),
        }
    }

    /// Protected namespaces the webhook reaches, and those it skips only by their labels.
    fn protected_reach(&mut self, webhook: &Webhook) -> (Vec<(String, String)>, Vec<String>) {
        let mut reached = Vec::new();
        let mut by_labels = Vec::new();
        for namespace in &self.settings.protected_namespaces {
            match self.reach(webhook, namespace) {
                Reach::Reached { basis } => {
                    reached.push((namespace.clone(), basis.text(namespace)));
                }
                Reach::Skipped { explicit: false } => by_labels.push(namespace.clone()),
                Reach::Skipped { explicit: true } => {}
            }
        }
        (reached, by_labels)
    }

    fn protected_namespaces(&mut self, webhook: &'w Webhook<'w>) {
        if !webhook.reaches_namespaced() {
            return;
        }
        let (reached, by_labels) = self.protected_reach(webhook);
        if !reached.is_empty() {
            let names: Vec<&str> = reached.iter().map(|(n, _)| n.as_str()).collect();
            // The webhook reaches every namespace with every rule entry: new
            // namespaces, new entries or failing closed are worse.
            let mut findings = Vec::new();
            if self.track_findings {
                let extent = i64::from(webhook.fails_closed);
                for namespace in &names {
                    findings.extend(self.finding(webhook, "protected", &[namespace], extent));
                }
                findings.push(Finding {
                    webhook: webhook.name.as_ref().into(),
                    check: "protected-entry",
                    subject: About::Entries(&webhook.rules),
                    extent,
                });
            }
            if self.only_findings(&mut findings) {
                return self.wildcard(webhook, &by_labels);
            }
            let why = match reached.as_slice() {
                [(_, first), rest @ ..] if rest.iter().all(|(_, b)| b == first) => first.clone(),
                _ => {
                    let each: Vec<String> = reached
                        .iter()
                        .map(|(n, b)| [n.as_str(), b].concat())
                        .collect();
                    [": ", &each.join("; ")].concat()
                }
            };
            let resources = namespaced_resources(webhook);
            let problem = [
                webhook.label.as_str(),
                " can intercept namespaced resources (",
                &listed(&resources, 20),
                ") in the protected namespaces ",
                &names.join(", "),
                &why,
                &labels_left_out(webhook),
                ". What it does there, or fails to do while it is down, hits kube-proxy, the CNI, DNS and the control plane \
                 (Istio's sidecar injector without a namespaceSelector put Envoy into every kube-system pod and the cluster slowly died).",
            ]
            .concat();
            match &webhook.scope {
                Scope::Only(own) => self.record(
                    Violation::new(
                        "metadata.namespace",
                        own.clone(),
                        problem,
                        [
                            "create this policy in a namespace of its own instead of ",
                            own,
                            ", or use a ClusterAdmissionPolicy with `spec.namespaceSelector: ",
                            &LabelSelector::default()
                                .excluding(NAMESPACE_NAME_LABEL, &self.protected())
                                .to_flow_yaml(),
                            "`.",
                        ]
                        .concat(),
                    ),
                    findings,
                ),
                Scope::Selector(_) => {
                    self.namespace_selector_violation(webhook, problem, findings, &names)
                }
            }
        }
        self.wildcard(webhook, &by_labels);
    }

    /// Wildcard rules with `failurePolicy: Fail` must exclude the protected
    /// namespaces explicitly (by name or matchCondition), not by labels that may change.
    fn wildcard(&mut self, webhook: &Webhook, by_labels: &[String]) {
        if !webhook.fails_closed || by_labels.is_empty() {
            return;
        }
        let Some((index, rule)) = webhook
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.is_wildcard() && r.reaches_namespaced())
        else {
            return;
        };
        if !matches!(webhook.scope, Scope::Selector(_)) {
            return;
        }
        let names: Vec<&str> = by_labels.iter().map(String::as_str).collect();
        let mut findings = names
            .iter()
            .filter_map(|n| self.finding(webhook, "wildcard", &[n], 0))
            .collect();
        if self.only_findings(&mut findings) {
            return;
        }
        let violation = Violation::new(
            [
                &webhook.path,
                ".rules[",
                count(index, &mut [0; 20]),
                "]",
            ]
            .concat(),
            rule.summary(),
            [
                webhook.label.as_str(),
                " has a wildcard rule and failurePolicy ",
                webhook.failure_policy(),
                ", so it intercepts every resource, including kinds installed later, and it skips ",
                &names.join(", "),
                " only because of their current labels: one label added there by a chart, an operator or a person, \
                 and every write in them waits on this webhook and is refused while it is down.",
            ]
            .concat(),
            ["set `", &webhook.path, ".namespaceSelector: "].concat(),
        );
        self.selector_violation(violation, findings, SELECTOR_FIX_END, &names);
    }

    fn self_healing(&mut self, webhook: &Webhook) {
        if !webhook.fails_closed {
            return;
        }
        let mut hits = Vec::new();
        let mut findings = Vec::new();
        let mut namespaced_hits: Vec<String> = Vec::new();
        // Whether kube-controller-manager's lease (kube-system) or the nodes'
        // heartbeats (kube-node-lease, nodes, CSRs) are among them.
        let (mut kcm, mut nodes) = (false, false);
        for entry in &self.settings.self_healing_resources {
            let writes = healing_writes(&entry.api_group, &entry.resource);
            if !webhook.covers(&entry.api_group, &entry.resource, writes, &WRITES) {
                continue;
            }
            let name = resource_name(&entry.api_group, &entry.resource);
            if is_cluster_scoped(&entry.api_group, &entry.resource) {
                nodes |= matches!(
                    entry.resource.as_str(),
                    "nodes" | "certificatesigningrequests"
                );
                hits.push([name.as_str(), " (cluster-scoped)"].concat());
                self.healing_findings(webhook, entry, writes, &name, &mut findings);
            } else if entry.namespaces.is_empty() {
                let mut reached = |n| matches!(self.reach(webhook, n), Reach::Reached { .. });
                let (system, lease) = (reached("kube-system"), reached("kube-node-lease"));
                kcm |= system;
                nodes |= lease;
                let where_ = match &webhook.scope {
                    Scope::Only(own) => [" (in ", own, ")"].concat(),
                    Scope::Selector(s)
                        if system
                            && lease
                            && s.as_ref().is_none_or(LabelSelector::is_empty)
                            && webhook.skipped_by_conditions.is_empty() =>
                    {
                        " (in every namespace)".to_string()
                    }
                    Scope::Selector(_) => [
                        " (in the namespaces it reaches, ",
                        match (system, lease) {
                            (true, true) => "kube-system and kube-node-lease among them)",
                            (true, false) => "kube-system among them)",
                            (false, true) => "kube-node-lease among them)",
                            _ => "not kube-system or kube-node-lease)",
                        },
                    ]
                    .concat(),
                };
                hits.push([name.as_str(), &where_].concat());
                self.healing_findings(webhook, entry, writes, &name, &mut findings);
            } else {
                let mut reached = Vec::new();
                for namespace in &entry.namespaces {
                    if let Reach::Reached { .. } = self.reach(webhook, namespace) {
                        kcm |= namespace == "kube-system";
                        nodes |= namespace == "kube-node-lease";
                        let name = [name.as_str(), " in ", namespace].concat();
                        self.healing_findings(webhook, entry, writes, &name, &mut findings);
                        reached.push(namespace.clone());
                    }
                }
                if !reached.is_empty() {
                    hits.push([name.as_str(), " in ", &reached.join(", ")].concat());
                    for namespace in reached {
                        if !namespaced_hits.contains(&namespace) {
                            namespaced_hits.push(namespace);
                        }
                    }
                }
            }
        }
        if hits.is_empty() || self.only_findings(&mut findings) {
            return;
        }
        let mut fix = [
            "set `",
            &webhook.path,
            ".failurePolicy: Ignore`, or take these resources out of its rules (a separate webhook with failurePolicy Ignore, if it must see them)",
        ]
        .concat();
        let note = labels_left_out(webhook);
        let by_selector =
            !namespaced_hits.is_empty() && matches!(webhook.scope, Scope::Selector(_));
        let names: Vec<&str> = namespaced_hits.iter().map(String::as_str).collect();
        if by_selector {
            for part in [
                "; for ",
                &names.join(", "),
                ", excluding the namespace also works: `",
                &webhook.path,
                ".namespaceSelector: ",
            ] {
                fix.push_str(part);
            }
        } else {
            fix.push('.');
        }
        let violation = Violation::new(
            [&webhook.path, ".failurePolicy"].concat(),
            webhook.failure_policy(),
            [
                webhook.label.as_str(),
                " intercepts what the control plane writes to heal itself: ",
                &hits.join(", "),
                if namespaced_hits.is_empty() { "" } else { &note },
                ". While its backend is down (its only pod evicted, as in crash 7) these writes are refused: ",
                if kcm {
                    "kube-controller-manager cannot renew its leader-election lease and loses leadership, "
                } else {
                    ""
                },
                if nodes {
                    "nodes stop reporting and go NotReady, "
                } else {
                    ""
                },
                match (kcm, nodes) {
                    (true, _) => "and nothing recreates the webhook's pods: a deadlock.",
                    (false, true) => "and their pods, the webhook's among them, are evicted with nowhere to go: a deadlock.",
                    _ => "the controllers that keep leader-election leases or other state in them stall, \
                          and nothing brings the webhook back if its own controller is among them: a deadlock.",
                },
            ]
            .concat(),
            fix,
        );
        if by_selector {
            self.selector_violation(violation, findings, "`.", &names);
        } else {
            self.record(violation, findings);
        }
    }

    /// One finding per healing write (subresource and operation) of `entry`
    /// the webhook intercepts, so that an UPDATE adding one is refused.
    fn healing_findings(
        &self,
        webhook: &Webhook,
        entry: &SelfHealingResource,
        writes: &[&str],
        name: &str,
        findings: &mut Vec<Finding<'w>>,
    ) {
        if !self.track_findings {
            return;
        }
        for subresource in writes {
            for operation in WRITES {
                if webhook.covers(
                    &entry.api_group,
                    &entry.resource,
                    &[subresource],
                    &[operation],
                ) {
                    let subject = [name, "/", subresource, " ", operation].concat();
                    findings.extend(self.finding(webhook, "self-healing", &[&subject], 0));
                }
            }
        }
    }

    fn timeout(&mut self, webhook: &Webhook) {
        // Acquiring and renewing a lease; a webhook on DELETE alone never delays them.
        let leases = webhook.covers(
            "coordination.k8s.io",
            "leases",
            &[""],
            &["CREATE", "UPDATE"],
        );
        let (limit, setting, why) = if leases {
            (
                self.settings.lease_limit(),
                "leaseMaxTimeoutSeconds",
                "it intercepts leases: kube-controller-manager and kube-scheduler must renew their leader-election lease within 10 s, \
                 and a renewal that waits this long on an unavailable webhook loses leadership even with failurePolicy Ignore",
            )
        } else {
            (
                self.settings.max_timeout_seconds,
                "maxTimeoutSeconds",
                "while the webhook's backend is unavailable every request it intercepts waits this long (then fails or goes through), \
                 and several slow webhooks on one request exhaust the API server's 60 s request budget and its clients' patience",
            )
        };
        if webhook.timeout_seconds <= i64::from(limit) {
            return;
        }
        // The lease limit is the stricter: a timeout over it before stands for one over the other.
        let subjects: &[&str] = if leases {
            &["leaseMaxTimeoutSeconds"]
        } else {
            &["maxTimeoutSeconds", "leaseMaxTimeoutSeconds"]
        };
        let mut findings = self
            .finding(webhook, "timeout", subjects, webhook.timeout_seconds)
            .into_iter()
            .collect();
        if self.only_findings(&mut findings) {
            return;
        }
        self.record(
            Violation::new(
                [&webhook.path, ".timeoutSeconds"].concat(),
                webhook.timeout(),
                [
                    webhook.label.as_str(),
                    " waits up to ",
                    signed(webhook.timeout_seconds, &mut [0; 20]),
                    " s for its backend, above the ",
                    decimal(u64::from(limit), &mut [0; 20]),
                    " s allowed by `",
                    setting,
                    "`: ",
                    why,
                    ".",
                ]
                .concat(),
                [
                    "set `",
                    &webhook.path,
                    ".timeoutSeconds: ",
                    decimal(u64::from(limit), &mut [0; 20]),
                    "` or less.",
                ]
                .concat(),
            ),
            findings,
        );
    }

    fn own_pods(&mut self, webhook: &Webhook) {
        if !webhook.fails_closed {
            return;
        }
        let settings = self.settings;
        let (namespace, server) = match (&webhook.inside_kubewarden, &webhook.service) {
            (Some(policy_server), _) => (settings.kubewarden_namespace.as_str(), policy_server),
            (None, Some((namespace, name))) if !webhook.kubewarden => (namespace.as_str(), name),
            _ => return,
        };
        let Some((.., step, consequence)) =
            POD_START
                .iter()
                .find(|(group, resource, subresource, operation, ..)| {
                    webhook.covers(group, resource, &[subresource], &[operation])
                })
        else {
            return;
        };
        let Reach::Reached { basis } = self.reach(webhook, namespace) else {
            return;
        };
        // Each step it blocks, so that an UPDATE adding one is refused.
        let mut findings = Vec::new();
        if self.track_findings {
            for (group, resource, subresource, operation, ..) in &POD_START {
                if webhook.covers(group, resource, &[subresource], &[operation]) {
                    let subject =
                        [namespace, " ", resource, "/", subresource, " ", operation].concat();
                    findings.extend(self.finding(webhook, "own-pods", &[&subject], 0));
                }
            }
        }
        if self.only_findings(&mut findings) {
            return;
        }
        let by_policy_server = webhook.inside_kubewarden.is_some();
        let served_by = if by_policy_server {
            [
                "PolicyServer ",
                server,
                ", whose pods run in ",
                namespace,
                " (Kubewarden's namespace, per the kubewardenNamespace setting),",
            ]
            .concat()
        } else {
            ["Service ", namespace, "/", server].concat()
        };
        let problem = [
            webhook.label.as_str(),
            " is served by ",
            &served_by,
            " and intercepts ",
            step,
            " in ",
            namespace,
            " with failurePolicy ",
            webhook.failure_policy(),
            &basis.text(namespace),
            if by_policy_server && matches!(webhook.scope, Scope::Selector(_)) {
                "; allowInsideAdmissionControllerNamespace: true keeps the Kubewarden controller from leaving that namespace out of its webhook"
            } else {
                ""
            },
            ": once its pods are gone (evicted, rescheduled, crashed) ",
            consequence,
            " needs this very webhook, so it can never come back.",
            if by_policy_server {
                " Until then every policy it serves with failurePolicy Fail refuses what it guards."
            } else {
                ""
            },
        ]
        .concat();
        let selector = match &webhook.scope {
            Scope::Only(own) => {
                let fix = [
                    "delete this policy and create it in a namespace other than ",
                    own,
                    ", or set `spec.failurePolicy: Ignore`.",
                ]
                .concat();
                let violation = Violation::new("metadata.namespace", own.clone(), problem, fix);
                return self.record(violation, findings);
            }
            Scope::Selector(_) if !by_policy_server => {
                return self.namespace_selector_violation(webhook, problem, findings, &[namespace]);
            }
            Scope::Selector(selector) => selector,
        };
        let flag = [&webhook.path, ".allowInsideAdmissionControllerNamespace"].concat();
        let mut fix = String::new();
        // Without the flag the controller would drop matchLabels too.
        if selector.as_ref().is_none_or(|s| s.match_labels.is_empty()) {
            for part in [
                "remove `",
                &flag,
                ": true` (the controller then leaves ",
                namespace,
                " out), or ",
            ] {
                fix.push_str(part);
            }
        }
        for part in ["set `", &webhook.path, ".namespaceSelector: "] {
            fix.push_str(part);
        }
        let violation = Violation::new(flag, "true", problem, fix);
        self.selector_violation(violation, findings, SELECTOR_FIX_END, &[namespace]);
    }

    fn backend_replicas(&mut self, webhook: &Webhook) {
        if !self.settings.check_backend_replicas || !webhook.fails_closed || webhook.kubewarden {
            return;
        }
        let Some((namespace, name)) = &webhook.service else {
            return;
        };
        let key = [namespace, "/", name].concat();
        let at = match self.backends.iter().position(|(k, ..)| *k == key) {
            Some(at) => at,
            None => {
                let found = self.lookups.backend(namespace, name);
                self.backends.push((key.clone(), found, false));
                self.backends.len() - 1
            }
        };
        let Some((_, found, reported)) = self.backends.get_mut(at) else {
            return;
        };
        let found = found.clone();
        let first_use = !std::mem::replace(reported, true);
        let backend = match found {
            Ok(backend) => backend,
            Err(failure) => {
                self.lookups.report(&failure);
                return;
            }
        };
        if first_use && backend.selector.is_empty() {
            self.verdict.warning(
                [
                    "crash-guard/webhook-safety: Service ",
                    &key,
                    " selects no pods, so the replicas behind ",
                    webhook.label.as_str(),
                    " were not checked.",
                ]
                .concat(),
            );
        } else if first_use && backend.workloads.is_empty() {
            self.verdict.warning(
                [
                    "crash-guard/webhook-safety: no Deployment or StatefulSet in ",
                    namespace,
                    " runs the pods Service ",
                    &key,
                    " selects (",
                    &labels_text(&backend.selector),
                    "), so the replicas behind ",
                    webhook.label.as_str(),
                    " were not checked.",
                ]
                .concat(),
            );
        }
        if backend.workloads.is_empty() {
            return;
        }
        let min = i64::from(self.settings.min_backend_replicas);
        let replicas = backend.replicas();
        if replicas >= min {
            return;
        }
        let mut findings = self
            .finding(webhook, "backend", &[&key], 0)
            .into_iter()
            .collect();
        if self.only_findings(&mut findings) {
            return;
        }
        let workloads: Vec<String> = backend
            .workloads
            .iter()
            .map(|w| {
                [
                    w.kind,
                    " ",
                    namespace,
                    "/",
                    &w.name,
                    " (",
                    signed(w.replicas, &mut [0; 20]),
                    if w.replicas == 1 {
                        " replica)"
                    } else {
                        " replicas)"
                    },
                ]
                .concat()
            })
            .collect();
        self.record(
            Violation::new(
            [&webhook.path, ".clientConfig.service"].concat(),
            key,
            [
                webhook.label.as_str(),
                " is served by ",
                &workloads.join(", "),
                ", ",
                signed(replicas, &mut [0; 20]),
                if replicas == 1 { " pod" } else { " pods" },
                " in all, fewer than the ",
                signed(min, &mut [0; 20]),
                " required by `minBackendReplicas`: with failurePolicy ",
                webhook.failure_policy(),
                " every request it intercepts is refused whenever that pod is down (node drain, eviction, OOM kill). \
                 In crash 7 the only pod of an Endpoints webhook was evicted and the control plane deadlocked.",
            ]
            .concat(),
            [
                "run at least ",
                signed(min, &mut [0; 20]),
                " replicas (`spec.replicas: ",
                signed(min, &mut [0; 20]),
                "` on ",
                &backend
                    .workloads
                    .iter()
                    .map(|w| [w.kind, " ", namespace, "/", &w.name].concat())
                    .collect::<Vec<_>>()
                    .join(", "),
                "), spread over nodes (topologySpreadConstraints or pod anti-affinity) and kept up by a PodDisruptionBudget (minAvailable: 1).",
            ]
            .concat(),
        ),
            findings,
        );
    }

    fn protected(&self) -> Vec<&str> {
        self.settings
            .protected_namespaces
            .iter()
            .map(String::as_str)
            .collect()
    }
}

/// What the control plane writes to heal `resource`: the object, and those of
/// its subresources on that path: its status, a CSR's approval, a pod's
/// binding to a node (not scale, eviction, exec, ...). Resources known to have
/// no status give none; unknown ones are taken to have one.
fn healing_writes(group: &str, resource: &str) -> &'static [&'static str] {
    match (group, resource) {
        ("", "pods") => &["", "status", "binding"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["", "status", "approval"],
        ("coordination.k8s.io", "leases")
        | ("discovery.k8s.io", "endpointslices")
        | ("", "endpoints" | "configmaps" | "secrets" | "events" | "serviceaccounts") => &[""],
        _ => &["", "status"],
    }
}

/// What starting a pod takes, each step a resource, subresource and
/// operation: creating it, the scheduler's binding, the kubelet's status
/// (Ready), publishing its address (EndpointSlices, and the Endpoints
/// mirrored from them), without which no request reaches it; how it is
/// named, and what the webhook then blocks.
const POD_START: [(&str, &str, &str, &str, &str, &str); 7] = [
    (
        "",
        "pods",
        "",
        "CREATE",
        "pod creation",
        "the API server refuses their replacements, because creating them",
    ),
    (
        "",
        "pods",
        "binding",
        "CREATE",
        "the scheduling of pods (pods/binding)",
        "the API server refuses their replacements, because scheduling them",
    ),
    (
        "",
        "pods",
        "status",
        "UPDATE",
        "the kubelet's pod status updates (pods/status)",
        "their replacements never become Ready and so never serve it, because reporting their status",
    ),
    (
        "discovery.k8s.io",
        "endpointslices",
        "",
        "CREATE",
        "EndpointSlice creation",
        ENDPOINTS_CONSEQUENCE,
    ),
    (
        "discovery.k8s.io",
        "endpointslices",
        "",
        "UPDATE",
        "EndpointSlice updates",
        ENDPOINTS_CONSEQUENCE,
    ),
    (
        "",
        "endpoints",
        "",
        "CREATE",
        "Endpoints creation",
        ENDPOINTS_CONSEQUENCE,
    ),
    (
        "",
        "endpoints",
        "",
        "UPDATE",
        "Endpoints updates",
        ENDPOINTS_CONSEQUENCE,
    ),
];

const ENDPOINTS_CONSEQUENCE: &str = "their replacements never receive its requests, because publishing their new addresses (the endpoint controllers' EndpointSlice and Endpoints writes)";

const SELECTOR_FIX_END: &str = "` (kubernetes.io/metadata.name is set by the API server on every namespace and cannot be changed).";

/// Why the `matchLabels` of a cluster-wide Kubewarden policy select nothing, if it has any.
fn labels_left_out(webhook: &Webhook) -> String {
    if webhook.labels_left_out.is_empty() {
        return String::new();
    }
    [
        "; its matchLabels ",
        &labels_flow_yaml(&webhook.labels_left_out),
        " narrow nothing: the Kubewarden controller copies only the matchExpressions of a cluster-wide policy's \
         namespaceSelector into its webhook, unless allowInsideAdmissionControllerNamespace is true",
    ]
    .concat()
}

fn selector_value(selector: Option<&LabelSelector>) -> String {
    match selector {
        None => "(none)".to_string(),
        Some(s) => s.to_flow_yaml(),
    }
}

fn resource_name(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        [resource, ".", group].concat()
    }
}

/// The resources of the rules that reach namespaced ones, as written, each once.
fn namespaced_resources<'w>(webhook: &'w Webhook) -> Vec<&'w str> {
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for rule in webhook.rules.iter().filter(|r| r.reaches_namespaced()) {
        let groups = rule.namespacing();
        for resource in rule.resources.iter().flatten() {
            if groups.is_namespaced(resource) && seen.insert(resource.as_ref()) {
                found.push(resource.as_ref());
            }
        }
    }
    found
}

/// Above this many (group, resource) pairs, entries are compared rule by rule.
const ENTRY_PAIRS_CAP: usize = 50_000;

/// Lookups a rule-by-rule comparison may make before it gives up (not held).
const RULE_LOOKUPS_BUDGET: usize = 200_000;

/// Whether each entry (group, resource, operation) of `new` rules that
/// reaches a namespaced resource is covered by one of the `old` rules' (with
/// `*` groups, or [`covering`] resources). The same rules hold; few pairs are
/// compared one by one; many, rule by rule: each new rule within a single
/// old one (a new rule only the union of old ones covers counts as new).
fn entries_held(new: &[RuleSpec], old: &[&[RuleSpec]]) -> bool {
    if old.contains(&new) {
        return true;
    }
    let new: Vec<&RuleSpec> = new.iter().filter(|r| r.reaches_namespaced()).collect();
    let old: Vec<&RuleSpec> = old
        .iter()
        .flat_map(|rules| rules.iter())
        .filter(|r| r.reaches_namespaced())
        .collect();
    if let (Some(new), Some(old)) = (entry_pairs(&new), entry_pairs(&old)) {
        return new.iter().all(|(&(group, resource), &operations)| {
            let groups: &[&str] = if group == "*" { &["*"] } else { &[group, "*"] };
            let mut covered = 0;
            for resource in covering(resource) {
                for group in groups {
                    covered |= old.get(&(*group, resource.as_ref())).copied().unwrap_or(0);
                }
            }
            operations & !covered == 0
        });
    }
    let old: Vec<RuleSets> = old.into_iter().map(RuleSets::new).collect();
    let mut budget = RULE_LOOKUPS_BUDGET;
    new.iter()
        .all(|n| old.iter().any(|o| o.holds(n, &mut budget)))
}

/// The operations of a rule as bits (`*` all four; others match nothing).
fn operation_bits(rule: &RuleSpec) -> u8 {
    let bit = |operation: &str| match operation {
        "*" => 0b1111,
        "CREATE" => 1,
        "UPDATE" => 2,
        "DELETE" => 4,
        "CONNECT" => 8,
        _ => 0,
    };
    rule.operations
        .iter()
        .flatten()
        .fold(0, |bits, o| bits | bit(o))
}

/// Each namespaced (group, resource) pair of `rules`, as written, with its
/// operations; `None` above [`ENTRY_PAIRS_CAP`].
fn entry_pairs<'r>(rules: &[&'r RuleSpec]) -> Option<BTreeMap<(&'r str, &'r str), u8>> {
    let size = |items: &Option<Vec<Text>>| items.as_ref().map_or(0, Vec::len);
    let pairs = rules.iter().fold(0usize, |pairs, rule| {
        pairs.saturating_add(size(&rule.api_groups).saturating_mul(size(&rule.resources)))
    });
    if pairs > ENTRY_PAIRS_CAP {
        return None;
    }
    let mut entries = BTreeMap::new();
    for rule in rules {
        let operations = operation_bits(rule);
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                if RuleSpec::is_namespaced_in(group, resource) {
                    *entries
                        .entry((group.as_ref(), resource.as_ref()))
                        .or_insert(0) |= operations;
                }
            }
        }
    }
    Some(entries)
}

/// An old rule, read for [`RuleSets::holds`].
struct RuleSets<'r> {
    operations: u8,
    groups: BTreeSet<&'r str>,
    resources: BTreeSet<&'r str>,
}

impl<'r> RuleSets<'r> {
    fn new(rule: &'r RuleSpec) -> Self {
        let set =
            |items: &'r Option<Vec<Text>>| items.iter().flatten().map(|i| i.as_ref()).collect();
        Self {
            operations: operation_bits(rule),
            groups: set(&rule.api_groups),
            resources: set(&rule.resources),
        }
    }

    /// Whether every namespaced entry of rule `new` is one of this rule's,
    /// read group by group and resource by resource; false once `budget`
    /// lookups are spent.
    fn holds(&self, new: &RuleSpec, budget: &mut usize) -> bool {
        let mut spend = || {
            *budget = budget.saturating_sub(1);
            *budget > 0
        };
        if !spend() || operation_bits(new) & !self.operations != 0 {
            return false;
        }
        let mut exact = true;
        for group in new.api_groups.iter().flatten() {
            if !spend() {
                return false;
            }
            exact &= self.groups.contains(group.as_ref());
        }
        // A group only `*` takes has only the resources `*` pairs with.
        if !exact && !self.groups.contains("*") {
            return false;
        }
        let groups = new.namespacing();
        new.resources.iter().flatten().all(|resource| {
            spend()
                && (!groups.is_namespaced(resource)
                    || covering(resource).iter().any(|c| {
                        self.resources.contains(c.as_ref())
                            && (exact || RuleSpec::is_namespaced_in("*", c))
                    }))
        })
    }
}

/// The resource entries of a rule that intercept all that `resource` does,
/// itself first. As the API server matches them: `*` takes every resource
/// but no subresource, `pods/*` pods and all its subresources, `*/status`
/// every status, `*/*` all.
fn covering(resource: &str) -> Vec<Cow<'_, str>> {
    let mut resources = vec![Cow::Borrowed(resource)];
    match split_slash(resource) {
        None if resource == "*" => resources.push("*/*".into()),
        None => resources.extend([[resource, "/*"].concat().into(), "*".into(), "*/*".into()]),
        Some(("*", "*")) => {}
        Some(("*", _) | (_, "*")) => resources.push("*/*".into()),
        Some((main, sub)) => resources.extend([
            [main, "/*"].concat().into(),
            ["*/", sub].concat().into(),
            "*/*".into(),
        ]),
    }
    resources
}

/// The first `max` of `items`, then how many more there are.
fn listed(items: &[&str], max: usize) -> String {
    let shown = items.get(..max).unwrap_or(items).join(", ");
    match items.len().checked_sub(max) {
        Some(more) if more > 0 => format!("{shown} and {more} more"),
        _ => shown,
    }
}

fn labels_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    let mut text = String::new();
    for (i, (key, value)) in labels.iter().enumerate() {
        let separator = if i > 0 { ", " } else { "" };
        for part in [separator, key, "=", value] {
            text.push_str(part);
        }
    }
    text
}

#[cfg(test)]
mod tests;
