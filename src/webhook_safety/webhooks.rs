//! The webhooks a request defines, decoded from a webhook configuration or a
//! Kubewarden policy, and what their rules reach.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::request::{DecodeError, GroupVersionKind, Object, Operation, Prefetch, Request};
use crate::response::{count, signed};
use crate::selector::{LabelSelector, Operator, Requirement};
use crate::text::Text;

/// `rules[]` of a webhook or Kubewarden policy (apiVersions are not read:
/// any version of a resource is the same data).
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec<'a> {
    #[serde(default, borrow)]
    pub api_groups: Option<Vec<Text<'a>>>,
    #[serde(default, borrow)]
    pub resources: Option<Vec<Text<'a>>>,
    #[serde(default, borrow)]
    pub operations: Option<Vec<Text<'a>>>,
    #[serde(default, borrow)]
    pub scope: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MatchCondition<'a> {
    #[serde(default, borrow)]
    pub expression: Cow<'a, str>,
}

/// A name and a namespace: a Service reference, or the metadata a webhook's
/// messages name (labels are not read).
#[derive(Debug, Default, Deserialize)]
struct NameRef<'a> {
    #[serde(default, borrow)]
    namespace: Cow<'a, str>,
    #[serde(default, borrow)]
    name: Cow<'a, str>,
}

#[derive(Debug, Default, Deserialize)]
struct ClientConfig<'a> {
    #[serde(default, borrow)]
    service: Option<NameRef<'a>>,
}

/// The fields every webhook, and every Kubewarden policy spec, shares.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookSpec<'a> {
    #[serde(default, borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    client_config: Option<ClientConfig<'a>>,
    #[serde(default, borrow)]
    rules: Option<Vec<RuleSpec<'a>>>,
    #[serde(default, borrow)]
    failure_policy: Option<Text<'a>>,
    #[serde(default)]
    timeout_seconds: Option<i64>,
    #[serde(default)]
    namespace_selector: Option<LabelSelector>,
    #[serde(default, borrow)]
    match_conditions: Option<Vec<MatchCondition<'a>>>,
    /// Kubewarden cluster-wide policies only.
    #[serde(default)]
    allow_inside_admission_controller_namespace: Option<bool>,
    /// Kubewarden policies only.
    #[serde(default, borrow)]
    policy_server: Option<Text<'a>>,
}

/// A webhook configuration or a Kubewarden policy, decoded before the kind
/// is looked at; [`decode`] takes what the kind has.
#[derive(Debug, Default, Deserialize)]
pub struct WebhookObject<'a> {
    #[serde(default, borrow)]
    metadata: NameRef<'a>,
    #[serde(default, borrow)]
    webhooks: Option<Vec<WebhookSpec<'a>>>,
    #[serde(default, borrow)]
    spec: Option<WebhookSpec<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct WebhookConfiguration<'a> {
    #[serde(default, borrow)]
    metadata: NameRef<'a>,
    #[serde(default, borrow)]
    webhooks: Option<Vec<WebhookSpec<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
struct KubewardenPolicy<'a> {
    #[serde(default, borrow)]
    metadata: NameRef<'a>,
    #[serde(default, borrow)]
    spec: Option<WebhookSpec<'a>>,
}

/// The API server's default for `timeoutSeconds` (admissionregistration/v1),
/// which Kubewarden uses as well.
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 10;

/// The PolicyServer a Kubewarden policy runs on when `spec.policyServer` is unset.
const DEFAULT_POLICY_SERVER: &str = "default";

/// Where a webhook may be called, as far as namespaces go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Any namespace the selector matches (absent: all of them).
    Selector(Option<LabelSelector>),
    /// Only this namespace: a namespaced Kubewarden AdmissionPolicy.
    Only(String),
}

/// One webhook, whatever object defined it.
#[derive(Debug)]
pub struct Webhook<'a> {
    /// Its `name` in a configuration (unique there), empty for a Kubewarden policy.
    pub name: Cow<'a, str>,
    /// How messages name it, e.g. `webhook sidecar-injector.istio.io (webhooks[0])`.
    pub label: String,
    /// Path of its fields, e.g. `webhooks[0]` or `spec`.
    pub path: String,
    pub rules: Vec<RuleSpec<'a>>,
    /// `failurePolicy: Fail`, explicitly or by default.
    pub fails_closed: bool,
    pub failure_policy_set: bool,
    pub timeout_seconds: i64,
    pub timeout_set: bool,
    pub scope: Scope,
    /// Namespaces its matchConditions provably skip.
    pub skipped_by_conditions: Vec<String>,
    /// `namespace/name` of the in-cluster Service serving it.
    pub service: Option<(String, String)>,
    /// A Kubewarden policy: the controller writes its webhook, served by a PolicyServer.
    pub kubewarden: bool,
    /// The PolicyServer serving a Kubewarden policy whose webhook may reach
    /// Kubewarden's own namespace: a namespaced policy, or a cluster-wide one
    /// with `allowInsideAdmissionControllerNamespace: true` (otherwise the
    /// controller excludes that namespace).
    pub inside_kubewarden: Option<String>,
    /// The `matchLabels` the Kubewarden controller leaves out of a cluster-wide
    /// policy's webhook: it copies only `matchExpressions` (since adm-controller
    /// PR #883) unless `allowInsideAdmissionControllerNamespace` is true.
    pub labels_left_out: BTreeMap<String, String>,
}

/// What a request is about.
pub enum Subject<'a> {
    WebhookConfiguration(Vec<Webhook<'a>>),
    KubewardenPolicy(Box<Webhook<'a>>),
    Other,
}

const POLICY_KINDS: [&str; 4] = [
    "ClusterAdmissionPolicy",
    "AdmissionPolicy",
    "ClusterAdmissionPolicyGroup",
    "AdmissionPolicyGroup",
];

fn is_configuration(kind: &GroupVersionKind) -> bool {
    kind.is(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ) || kind.is(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    )
}

fn is_policy(kind: &GroupVersionKind) -> bool {
    kind.group == "policies.kubewarden.io" && POLICY_KINDS.contains(&kind.kind.as_ref())
}

/// The objects of a CREATE or UPDATE of a webhook configuration or a
/// Kubewarden policy are decoded in the request's pass.
pub fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
    if !is_configuration(kind) && !is_policy(kind) {
        return Prefetch::NONE;
    }
    match operation {
        Operation::Create => Prefetch::OBJECT,
        Operation::Update => Prefetch::BOTH,
        _ => Prefetch::NONE,
    }
}

/// Decodes the webhooks `object` (the request's object or old object) defines.
pub fn decode<'a>(
    request: &Request<'a>,
    object: Object<'a, WebhookObject<'a>>,
) -> Result<Subject<'a>, DecodeError> {
    let kind = &request.kind;
    if is_configuration(kind) {
        let configuration = object.decode_as(|o| WebhookConfiguration {
            metadata: o.metadata,
            webhooks: o.webhooks,
        })?;
        let Some(configuration) = configuration else {
            return Ok(Subject::Other);
        };
        let webhooks = configuration
            .webhooks
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                let mut digits = [0; 20];
                let index = count(index, &mut digits);
                let path = ["webhooks[", index, "]"].concat();
                let label = [
                    "webhook ",
                    &spec.name,
                    " (",
                    &path,
                    ") of ",
                    &kind.kind,
                    " ",
                    &configuration.metadata.name,
                ]
                .concat();
                Webhook::new(spec, label, path, None, false)
            })
            .collect();
        return Ok(Subject::WebhookConfiguration(webhooks));
    }
    if is_policy(kind) {
        let policy = object.decode_as(|o| KubewardenPolicy {
            metadata: o.metadata,
            spec: o.spec,
        })?;
        let Some(policy) = policy else {
            return Ok(Subject::Other);
        };
        let namespaced = kind.kind == "AdmissionPolicy" || kind.kind == "AdmissionPolicyGroup";
        let only = namespaced.then(|| {
            if policy.metadata.namespace.is_empty() {
                request.namespace.to_string()
            } else {
                policy.metadata.namespace.to_string()
            }
        });
        let label = ["the webhook of ", &kind.kind, " ", &policy.metadata.name].concat();
        let spec = policy.spec.unwrap_or_default();
        return Ok(Subject::KubewardenPolicy(Box::new(Webhook::new(
            spec,
            label,
            "spec".to_string(),
            only,
            true,
        ))));
    }
    Ok(Subject::Other)
}

impl<'a> Webhook<'a> {
    fn new(
        spec: WebhookSpec<'a>,
        label: String,
        path: String,
        only: Option<String>,
        kubewarden: bool,
    ) -> Self {
        let skipped_by_conditions = spec
            .match_conditions
            .iter()
            .flatten()
            .flat_map(|c| skipped_namespaces(&c.expression))
            .collect();
        let service = spec
            .client_config
            .and_then(|c| c.service)
            .map(|s| (s.namespace.to_string(), s.name.to_string()));
        let allowed_inside =
            only.is_some() || spec.allow_inside_admission_controller_namespace == Some(true);
        let inside_kubewarden = (kubewarden && allowed_inside).then(|| {
            spec.policy_server
                .as_deref()
                .filter(|name| !name.is_empty())
                .unwrap_or(DEFAULT_POLICY_SERVER)
                .to_string()
        });
        let mut rules = spec.rules.unwrap_or_default();
        for rule in &mut rules {
            // The controller sets `scope: Namespaced` on every rule of a namespaced policy.
            if only.is_some() {
                rule.scope = Some("Namespaced".into());
            }
            // The API server reads `x/` as `x` (subresource "" is the resource itself).
            for entry in rule.resources.iter_mut().flatten() {
                if let Some((main, "")) = split_slash(entry) {
                    *entry = main.to_string().into();
                }
            }
        }
        let mut selector = spec.namespace_selector;
        let labels_left_out = match selector.as_mut() {
            Some(s) if kubewarden && !allowed_inside => std::mem::take(&mut s.match_labels),
            _ => BTreeMap::new(),
        };
        Self {
            name: if kubewarden {
                Cow::Borrowed("")
            } else {
                spec.name
            },
            label,
            path,
            rules,
            fails_closed: spec.failure_policy.as_deref() != Some("Ignore"),
            failure_policy_set: spec.failure_policy.is_some(),
            timeout_seconds: spec.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
            timeout_set: spec.timeout_seconds.is_some(),
            scope: match only {
                Some(namespace) => Scope::Only(namespace),
                None => Scope::Selector(selector),
            },
            skipped_by_conditions,
            service,
            kubewarden,
            inside_kubewarden,
            labels_left_out,
        }
    }

    /// The namespaceSelector as written, `matchLabels` the controller leaves out included.
    pub fn written_selector(&self) -> Option<Cow<'_, LabelSelector>> {
        let Scope::Selector(Some(selector)) = &self.scope else {
            return None;
        };
        if self.labels_left_out.is_empty() {
            return Some(Cow::Borrowed(selector));
        }
        let mut written = selector.clone();
        written.match_labels.clone_from(&self.labels_left_out);
        Some(Cow::Owned(written))
    }

    /// The selector to start a fix from: the written one, with `matchLabels`
    /// the controller leaves out turned into `In` expressions, which it keeps.
    pub fn fixable_selector(&self) -> LabelSelector {
        let Scope::Selector(selector) = &self.scope else {
            return LabelSelector::default();
        };
        let mut fixable = selector.clone().unwrap_or_default();
        if !self.labels_left_out.is_empty() {
            let mut expressions: Vec<Requirement> = self
                .labels_left_out
                .iter()
                .map(|(key, value)| Requirement {
                    key: key.clone(),
                    operator: Operator::In,
                    values: vec![value.clone()],
                })
                .collect();
            expressions.append(&mut fixable.match_expressions);
            fixable.match_expressions = expressions;
        }
        fixable
    }

    /// `failurePolicy` as found, for messages.
    pub fn failure_policy(&self) -> &'static str {
        match (self.fails_closed, self.failure_policy_set) {
            (true, true) => "Fail",
            (true, false) => "Fail (the default)",
            (false, _) => "Ignore",
        }
    }

    /// `timeoutSeconds` as found, for messages.
    pub fn timeout(&self) -> String {
        if self.timeout_set {
            signed(self.timeout_seconds, &mut [0; 20]).to_string()
        } else {
            [signed(self.timeout_seconds, &mut [0; 20]), " (the default)"].concat()
        }
    }

    /// The rules that can reach `resource` of `group`, or one of its
    /// `subresources`, for one of `operations`.
    pub fn covers(
        &self,
        group: &str,
        resource: &str,
        subresources: &[&str],
        operations: &[&str],
    ) -> bool {
        self.rules
            .iter()
            .any(|r| r.covers(group, resource, subresources, operations))
    }

    /// Whether any rule can reach a namespaced resource.
    pub fn reaches_namespaced(&self) -> bool {
        self.rules.iter().any(RuleSpec::reaches_namespaced)
    }
}

/// Operations that write, and so can be blocked.
pub const WRITES: [&str; 3] = ["CREATE", "UPDATE", "DELETE"];

fn list<'r>(items: &'r Option<Vec<Text<'_>>>) -> impl Iterator<Item = &'r str> {
    items.iter().flatten().map(|c| c.as_ref())
}

impl RuleSpec<'_> {
    fn scope(&self) -> &str {
        self.scope.as_deref().unwrap_or("*")
    }

    fn has_operation(&self, operations: &[&str]) -> bool {
        list(&self.operations).any(|o| o == "*" || operations.contains(&o))
    }

    /// `*` in apiGroups or as the resource of an entry (`*`, `*/*`, `*/status`).
    pub fn is_wildcard(&self) -> bool {
        list(&self.api_groups).any(|g| g == "*") || list(&self.resources).any(|r| base(r) == "*")
    }

    /// Whether the rule reaches `resource` of `group`, or one of its
    /// `subresources` (`""` for the resource itself), as the API server
    /// matches them: `*` is every resource but no subresource, `pods/*` pods
    /// and all their subresources, `*/status` every status, `*/*` everything.
    pub fn covers(
        &self,
        group: &str,
        resource: &str,
        subresources: &[&str],
        operations: &[&str],
    ) -> bool {
        let names = |name: &str, wanted: &str| name == "*" || name == wanted;
        // The scope's table lookup last: most entries fail sooner.
        self.has_operation(operations)
            && list(&self.api_groups).any(|g| names(g, group))
            && list(&self.resources).any(|entry| match split_slash(entry) {
                None => names(entry, resource) && subresources.contains(&""),
                // As the API server: `*` after the slash matches the resource itself too.
                Some((main, sub)) => {
                    names(main, resource)
                        && subresources
                            .iter()
                            .any(|s| sub == "*" || (!s.is_empty() && sub == *s))
                }
            })
            && match self.scope() {
                "Cluster" => is_cluster_scoped(group, resource),
                "Namespaced" => !is_cluster_scoped(group, resource),
                _ => true,
            }
    }

    /// Whether the rule can reach some namespaced resource. Unknown
    /// resources (custom ones) count as namespaced.
    pub fn reaches_namespaced(&self) -> bool {
        if self.scope() == "Cluster"
            || !self.has_operation(&["CREATE", "UPDATE", "DELETE", "CONNECT"])
        {
            return false;
        }
        let groups = self.namespacing();
        list(&self.resources).any(|r| groups.is_namespaced(r))
    }

    /// What the rule's groups make of a resource's scope, read once: a
    /// resource is then judged in constant time, not once per group.
    pub fn namespacing(&self) -> Namespacing<'_> {
        let mut groups = Namespacing::default();
        for group in list(&self.api_groups) {
            groups.any = true;
            if group == "*" || is_built_in_group(group) {
                groups.built_in = true;
            } else if !CLUSTER_SCOPED.iter().any(|(g, _)| *g == group) {
                groups.custom = true;
            } else if !groups.listed.contains(&group) {
                groups.listed.push(group);
            }
        }
        groups
    }

    /// Whether `resource` of `group` is namespaced (or may be).
    pub fn is_namespaced_in(group: &str, resource: &str) -> bool {
        let b = base(resource);
        match group {
            _ if b == "*" => true,
            "*" => !known_cluster_scoped(b),
            _ if is_built_in_group(group) => !known_cluster_scoped(b),
            _ => !is_cluster_scoped(group, b),
        }
    }

    /// The rule as people write it, e.g. `apiGroups: [*], resources: [*/*]`.
    pub fn summary(&self) -> String {
        let join = |items: &Option<Vec<Text<'_>>>| {
            list(items)
                .map(|i| if i.is_empty() { "\"\"" } else { i })
                .collect::<Vec<_>>()
                .join(", ")
        };
        [
            "apiGroups: [",
            &join(&self.api_groups),
            "], resources: [",
            &join(&self.resources),
            "], operations: [",
            &join(&self.operations),
            "]",
        ]
        .concat()
    }
}

/// The groups of a rule, as far as scope goes (see [`RuleSpec::namespacing`]).
#[derive(Default)]
pub struct Namespacing<'r> {
    any: bool,
    /// `*` or a built-in group: namespaced unless known as cluster-scoped.
    built_in: bool,
    /// A custom group with no cluster-scoped resource listed: all namespaced.
    custom: bool,
    /// The custom groups that do list some, each once.
    listed: Vec<&'r str>,
}

impl Namespacing<'_> {
    /// Whether resource entry `resource` names a namespaced resource in some
    /// group of the rule. The API server pairs every group with every
    /// resource; a pair of a built-in group with a resource known as
    /// cluster-scoped (`""` with `clusterroles`) exists in none.
    pub fn is_namespaced(&self, resource: &str) -> bool {
        let b = base(resource);
        self.any
            && (b == "*"
                || self.custom
                || (self.built_in && !known_cluster_scoped(b))
                || self.listed.iter().any(|g| !is_cluster_scoped(g, b)))
    }
}

fn known_cluster_scoped(resource: &str) -> bool {
    CLUSTER_SCOPED.iter().any(|(_, known)| *known == resource)
}

/// The resource of a rule entry without its subresource: `pods` of `pods/status`.
pub fn base(resource: &str) -> &str {
    split_slash(resource).map_or(resource, |(main, _)| main)
}

/// `split_once('/')`, by a byte loop: entries are a few bytes long, too short
/// for the searcher's setup to pay.
pub fn split_slash(entry: &str) -> Option<(&str, &str)> {
    let at = entry.bytes().position(|b| b == b'/')?;
    Some((entry.get(..at)?, entry.get(at + 1..)?))
}

/// Cluster-scoped built-in resources (and Kubewarden's); everything else is
/// treated as namespaced.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "nodes"),
    ("", "namespaces"),
    ("", "persistentvolumes"),
    ("", "componentstatuses"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("apiregistration.k8s.io", "apiservices"),
    (
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicies",
    ),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicybindings",
    ),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
    (
        "admissionregistration.k8s.io",
        "mutatingadmissionpolicybindings",
    ),
    ("storage.k8s.io", "storageclasses"),
    ("storage.k8s.io", "csidrivers"),
    ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "volumeattachments"),
    ("scheduling.k8s.io", "priorityclasses"),
    ("node.k8s.io", "runtimeclasses"),
    ("networking.k8s.io", "ingressclasses"),
    ("networking.k8s.io", "ipaddresses"),
    ("networking.k8s.io", "servicecidrs"),
    ("certificates.k8s.io", "certificatesigningrequests"),
    ("certificates.k8s.io", "clustertrustbundles"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
    ),
    ("authentication.k8s.io", "tokenreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("resource.k8s.io", "deviceclasses"),
    ("resource.k8s.io", "resourceslices"),
    ("storage.k8s.io", "volumeattributesclasses"),
    ("storagemigration.k8s.io", "storageversionmigrations"),
    ("internal.apiserver.k8s.io", "storageversions"),
    ("policies.kubewarden.io", "clusteradmissionpolicies"),
    ("policies.kubewarden.io", "clusteradmissionpolicygroups"),
    ("policies.kubewarden.io", "policyservers"),
];

/// The core group and the groups Kubernetes serves itself (CustomResources
/// under `*.k8s.io` need an API review).
pub fn is_built_in_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps" | "batch" | "autoscaling" | "policy" | "extensions"
    ) || group.ends_with(".k8s.io")
}

pub fn is_cluster_scoped(group: &str, resource: &str) -> bool {
    CLUSTER_SCOPED.contains(&(group, resource))
}

/// Namespaces a matchCondition provably skips. Only conjunctions of
/// `request.namespace != "x"`, `!(request.namespace == "x")` and
/// `!(request.namespace in ["x", ...])` are understood; a false conjunct
/// makes the whole condition false, whatever the others evaluate to.
/// Escapes, triple-quoted strings, comments, `||` and a conditional `? :`
/// (which binds looser than `&&`) leave the expression not understood.
pub fn skipped_namespaces(expression: &str) -> Vec<String> {
    if !expression.is_ascii() {
        let compact = without_spaces(expression, char::is_whitespace);
        return skipped_by_conjuncts(&compact);
    }
    skipped_by_conjuncts(expression)
}

fn skipped_by_conjuncts(expression: &str) -> Vec<String> {
    let Some(conjuncts) = top_level_conjuncts(expression) else {
        return vec![];
    };
    conjuncts
        .into_iter()
        .flat_map(|conjunct| {
            let compact = without_spaces(conjunct, is_space);
            skipped_by_conjunct(&compact)
        })
        .collect()
}

/// `text` without the whitespace outside its string literals (within them
/// it is part of the value: `"kube-system "` never names a namespace).
fn without_spaces(text: &str, space: impl Fn(char) -> bool) -> String {
    let mut quote = None;
    text.chars()
        .filter(|&c| {
            match quote {
                Some(q) if c == q => quote = None,
                None if c == '"' || c == '\'' => quote = Some(c),
                _ => {}
            }
            quote.is_some() || !space(c)
        })
        .collect()
}

/// `char::is_whitespace` on ASCII.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t'..='\r')
}

/// The `&&` conjuncts of an expression outside brackets, braces and quotes, read in
/// one pass as if its ASCII whitespace were not there; `None` for what is not
/// understood: a backslash, `'''`, `"""` or `//` anywhere, `||` or a
/// conditional `?` outside them (`.?` and `[?` select optional fields).
fn top_level_conjuncts(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    // The next byte from `i` on that is not whitespace, and its index.
    let significant = |mut i: usize| {
        while let Some(&b) = bytes.get(i) {
            if !is_space(char::from(b)) {
                return Some((i, b));
            }
            i += 1;
        }
        None
    };
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut start = 0;
    let mut previous: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        if is_space(char::from(b)) {
            continue;
        }
        let before = previous.replace(b);
        if !matches!(
            b,
            b'&' | b'|'
                | b'?'
                | b'\''
                | b'"'
                | b'\\'
                | b'/'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
        ) {
            continue;
        }
        let next = significant(i + 1);
        let next_byte = next.map(|(_, n)| n);
        let tripled = matches!(b, b'\'' | b'"')
            && next_byte == Some(b)
            && next.and_then(|(j, _)| significant(j + 1)).map(|(_, n)| n) == Some(b);
        if b == b'\\' || (b == b'/' && next_byte == Some(b'/')) || tripled {
            return None;
        }
        match (quote, b) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'(' | b'[' | b'{') => depth = depth.saturating_add(1),
            (None, b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            (None, b'|') if depth == 0 && next_byte == Some(b'|') => return None,
            (None, b'?') if depth == 0 && !matches!(before, Some(b'.' | b'[')) => return None,
            (None, b'&') if depth == 0 && next_byte == Some(b'&') => {
                if let Some(part) = text.get(start..i) {
                    parts.push(part);
                }
                start = next.map_or(i + 2, |(j, _)| j + 1);
            }
            _ => {}
        }
    }
    if let Some(rest) = text.get(start..) {
        parts.push(rest);
    }
    Some(parts)
}

fn skipped_by_conjunct(conjunct: &str) -> Vec<String> {
    let mut term = conjunct;
    while let Some(inner) = term.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        term = inner;
    }
    let field = "request.namespace";
    if let Some(rest) = term.strip_prefix(field).and_then(|t| t.strip_prefix("!=")) {
        return quoted(rest).into_iter().collect();
    }
    if let Some(rest) = term.strip_suffix(field).and_then(|t| t.strip_suffix("!=")) {
        return quoted(rest).into_iter().collect();
    }
    let Some(negated) = term
        .strip_prefix("!(")
        .and_then(|t| t.strip_suffix(')'))
        .and_then(|t| t.strip_prefix(field))
    else {
        return vec![];
    };
    if let Some(rest) = negated.strip_prefix("==") {
        return quoted(rest).into_iter().collect();
    }
    let Some(items) = negated
        .strip_prefix("in[")
        .and_then(|t| t.strip_suffix(']'))
    else {
        return vec![];
    };
    let values: Vec<Option<String>> = items.split(',').map(quoted).collect();
    if values.iter().all(Option::is_some) {
        values.into_iter().flatten().collect()
    } else {
        vec![]
    }
}

fn quoted(text: &str) -> Option<String> {
    ['"', '\'']
        .iter()
        .find_map(|q| text.strip_prefix(*q).and_then(|t| t.strip_suffix(*q)))
        .filter(|v| !v.contains(['"', '\'', '\\']))
        .map(String::from)
}
