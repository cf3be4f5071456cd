//! Settings of object-count: per-kind limits, namespace overrides, Helm storage.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer};

use crate::exemptions::Exemptions;
use crate::host::OnLookupFailure;
use crate::selector::{LabelSelector, Operator, Requirement};
use crate::settings::{
    is_dns_subdomain, namespace_names, validate_section, SettingsError, Validate,
};

/// Default per-namespace ceiling for ConfigMaps and Secrets (README: "Why these defaults").
pub const DEFAULT_KIND_LIMIT: u32 = 1000;
/// Default stored revisions a Helm release may already hold before a new one is refused.
pub const DEFAULT_MAX_STORED_REVISIONS: u32 = 20;
/// Helm never prunes the deployed revision, and the policy may still see the one
/// Helm pruned just before writing: fewer would refuse ordinary upgrades.
const MIN_STORED_REVISIONS: u32 = 2;

/// Built-in (and Kubewarden's) cluster-scoped kinds by group, which a
/// per-namespace count cannot apply to.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "ResourceSlice"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    ("policies.kubewarden.io", "ClusterAdmissionPolicy"),
    ("policies.kubewarden.io", "ClusterAdmissionPolicyGroup"),
    ("policies.kubewarden.io", "PolicyServer"),
];

/// Groups the API server no longer serves: their kinds moved (Deployment to
/// `apps/v1`, Ingress and NetworkPolicy to `networking.k8s.io/v1`).
const RETIRED_GROUPS: &[&str] = &["extensions"];

/// The namespaced kinds of built-in groups whose kinds are fixed (no
/// CustomResource can join them), so a kind paired with the wrong one is certain.
const FIXED_GROUPS: &[(&str, &str, &[&str])] = &[
    (
        "",
        "v1",
        &[
            "Binding",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
    (
        "apps",
        "apps/v1",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    ("batch", "batch/v1", &["CronJob", "Job"]),
];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// Counted kinds and their per-namespace limit. Replaces the default list when set.
    pub limits: Vec<KindLimit>,
    /// Other limits for some namespaces; the first matching entry wins.
    pub namespace_overrides: Vec<NamespaceOverride>,
    pub helm: HelmSettings,
    pub on_lookup_failure: OnLookupFailure,
    pub exemptions: Exemptions,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            limits: vec![
                KindLimit::new("v1", "ConfigMap", DEFAULT_KIND_LIMIT),
                KindLimit::new("v1", "Secret", DEFAULT_KIND_LIMIT),
            ],
            namespace_overrides: Vec::new(),
            helm: HelmSettings::default(),
            on_lookup_failure: OnLookupFailure::default(),
            exemptions: Exemptions::default(),
        }
    }
}

/// At most `max` objects of `apiVersion`/`kind` per namespace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KindLimit {
    pub api_version: String,
    pub kind: String,
    pub max: u32,
}

impl KindLimit {
    pub fn new(api_version: &str, kind: &str, max: u32) -> Self {
        Self {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            max,
        }
    }

    /// The API group: `""` for `v1`, `apps` for `apps/v1`.
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// Same group and kind (versions of one kind share their objects).
    pub fn same_kind(&self, other: &KindLimit) -> bool {
        self.group() == other.group() && self.kind == other.kind
    }
}

impl Validate for KindLimit {
    fn validate(&self) -> Result<(), SettingsError> {
        check_api_version(&self.api_version)?;
        check_kind(self.group(), &self.kind)?;
        check_group(self.group(), &self.api_version, &self.kind)?;
        if self.max == 0 {
            return Err(SettingsError::new(
                "max",
                "must be greater than 0 (controllers create some objects in every namespace, e.g. the kube-root-ca.crt ConfigMap); exempt the namespace instead",
            ));
        }
        Ok(())
    }
}

fn check_api_version(api_version: &str) -> Result<(), SettingsError> {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (Some(group), version),
        None => (None, api_version),
    };
    // A group is a DNS subdomain: `.`, `-x-` or `a..b` never names one.
    let group_ok = group.is_none_or(is_dns_subdomain);
    if group == Some("core") {
        return Err(SettingsError::new(
            "apiVersion",
            format!("`{api_version}`: the core group has no name in an apiVersion (its objects carry group \"\"), so this limit would never apply; write `{version}`"),
        ));
    }
    if !group_ok {
        return Err(SettingsError::new(
            "apiVersion",
            format!("`{api_version}` is not an apiVersion: its API group must be a lowercase DNS subdomain (dot-separated parts of a-z, 0-9 and `-`, each starting and ending alphanumeric), as in apps/v1 or serving.knative.dev/v1"),
        ));
    }
    if !is_version(version) {
        return Err(SettingsError::new(
            "apiVersion",
            format!("`{api_version}` is not an apiVersion such as v1, apps/v1 or batch/v1"),
        ));
    }
    Ok(())
}

/// `v1`, `v2beta1`, `v1alpha3`.
fn is_version(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let (major, suffix) = rest.split_at(digits);
    if major.is_empty() {
        return false;
    }
    if suffix.is_empty() {
        return true;
    }
    suffix
        .strip_prefix("alpha")
        .or_else(|| suffix.strip_prefix("beta"))
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// A kind of a fixed built-in group paired with another group, or with a
/// version the group no longer serves, never counts.
fn check_group(group: &str, api_version: &str, kind: &str) -> Result<(), SettingsError> {
    if RETIRED_GROUPS.contains(&group) {
        return Err(SettingsError::new(
            "apiVersion",
            format!("the API server no longer serves `{api_version}`, so this limit would never apply; write the apiVersion {kind} has today (apps/v1 for Deployment, DaemonSet and ReplicaSet, networking.k8s.io/v1 for Ingress and NetworkPolicy)"),
        ));
    }
    let home = FIXED_GROUPS
        .iter()
        .find(|(_, _, kinds)| kinds.contains(&kind));
    let fixed = FIXED_GROUPS.iter().find(|(g, _, _)| *g == group);
    let problem = match (home, fixed) {
        (Some((home, written, _)), Some(_)) if *home != group => {
            format!("{kind} is in the API group of `{written}`, not of `{api_version}`, so this limit would never apply; write `apiVersion: {written}`")
        }
        (None, Some((_, written, _))) => format!(
            "the API group of `{written}` has no kind {kind}, so this limit would never apply; write the apiVersion of {kind} as in its manifests"
        ),
        // The count lists the kind at the version written, which must be served.
        (_, Some((_, written, _))) if api_version != *written => format!(
            "the API server serves {kind} only as `{written}`, so the count's lookups of `{api_version}` would fail and this limit would never apply; write `apiVersion: {written}`"
        ),
        _ => return Ok(()),
    };
    Err(SettingsError::new("apiVersion", problem))
}

fn check_kind(group: &str, kind: &str) -> Result<(), SettingsError> {
    let camel = kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphanumeric());
    if !camel {
        return Err(SettingsError::new(
            "kind",
            format!("`{kind}` is not a kind (kinds are singular CamelCase, e.g. ConfigMap, not configmaps)"),
        ));
    }
    if CLUSTER_SCOPED.contains(&(group, kind)) {
        return Err(SettingsError::new(
            "kind",
            format!("{kind} is cluster-scoped; this rule counts objects per namespace"),
        ));
    }
    Ok(())
}

/// Other limits for the namespaces named in `namespaces`, or selected by
/// their labels with `namespaceSelector` (exactly one of the two).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "OverrideFields")]
pub struct NamespaceOverride {
    pub namespaces: Vec<String>,
    pub namespace_selector: Option<LabelSelector>,
    pub limits: Vec<KindLimit>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
struct OverrideFields {
    namespaces: Vec<String>,
    #[serde(deserialize_with = "strict_selector")]
    namespace_selector: Option<LabelSelector>,
    limits: Vec<KindLimit>,
}

impl From<OverrideFields> for NamespaceOverride {
    fn from(fields: OverrideFields) -> Self {
        // Beside names, an empty selector (the Kubewarden UI's blank field)
        // is no selector; alone, it is refused as matching every namespace.
        let selector = fields
            .namespace_selector
            .filter(|s| fields.namespaces.is_empty() || !s.is_empty());
        Self {
            namespaces: fields.namespaces,
            namespace_selector: selector,
            limits: fields.limits,
        }
    }
}

/// A `LabelSelector` in settings, whose unknown keys are refused: a misspelt
/// `matchExpressions` dropped silently would widen the selection.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StrictSelector {
    #[serde(default)]
    match_labels: BTreeMap<String, String>,
    #[serde(default)]
    match_expressions: Vec<StrictRequirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictRequirement {
    key: String,
    operator: Operator,
    #[serde(default)]
    values: Vec<String>,
}

fn strict_selector<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<LabelSelector>, D::Error> {
    let strict = Option::<StrictSelector>::deserialize(deserializer)?;
    Ok(strict.map(|s| LabelSelector {
        match_labels: s.match_labels,
        match_expressions: s
            .match_expressions
            .into_iter()
            .map(|r| Requirement {
                key: r.key,
                operator: r.operator,
                values: r.values,
            })
            .collect(),
    }))
}

impl NamespaceOverride {
    fn validate_in(&self, counted: &BTreeSet<(&str, &str)>) -> Result<(), SettingsError> {
        match (&self.namespace_selector, self.namespaces.is_empty()) {
            (Some(_), false) | (None, true) => {
                return Err(SettingsError::new(
                    "",
                    "set exactly one of `namespaces` (names) and `namespaceSelector` (labels)",
                ))
            }
            (Some(selector), true) => {
                validate_section("namespaceSelector", selector)?;
                if selector.is_empty() {
                    return Err(SettingsError::new(
                        "namespaceSelector",
                        "an empty selector matches every namespace; change `limits` instead",
                    ));
                }
            }
            (None, false) => namespace_names("namespaces", &self.namespaces)?,
        }
        if self.limits.is_empty() {
            return Err(SettingsError::new("limits", "must list at least one kind"));
        }
        check_limits(&self.limits).map_err(|e| e.within("limits"))?;
        for (index, limit) in self.limits.iter().enumerate() {
            if !counted.contains(&(limit.group(), limit.kind.as_str())) {
                return Err(SettingsError::new(
                    format!("limits[{index}]"),
                    format!(
                        "{} {} is not in the top-level `limits`; list it there first (only kinds listed there are counted)",
                        limit.api_version, limit.kind
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn check_limits(limits: &[KindLimit]) -> Result<(), SettingsError> {
    let mut seen = BTreeSet::new();
    for (index, limit) in limits.iter().enumerate() {
        validate_section(&format!("[{index}]"), limit)?;
        if !seen.insert((limit.group(), limit.kind.as_str())) {
            return Err(SettingsError::new(
                format!("[{index}]"),
                format!("{} is listed twice", limit.kind),
            ));
        }
    }
    Ok(())
}

/// Helm release storage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct HelmSettings {
    /// Accept Helm v2 (Tiller) release storage while releases are migrated to Helm v3.
    pub tiller_migration: bool,
    /// A new revision is refused when its release already stores more than this many.
    pub max_stored_revisions: u32,
}

impl Default for HelmSettings {
    fn default() -> Self {
        Self {
            tiller_migration: false,
            max_stored_revisions: DEFAULT_MAX_STORED_REVISIONS,
        }
    }
}

impl Validate for HelmSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.max_stored_revisions < MIN_STORED_REVISIONS {
            return Err(SettingsError::new(
                "maxStoredRevisions",
                format!(
                    "must be at least {MIN_STORED_REVISIONS}: Helm never prunes the deployed revision, and the policy may still see the revision Helm pruned just before writing the next"
                ),
            ));
        }
        Ok(())
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.limits.is_empty() {
            return Err(SettingsError::new(
                "limits",
                "an empty list counts no kind and switches the count off; list at least one kind, or leave `limits` out for the defaults (ConfigMap and Secret, 1000 each)",
            ));
        }
        check_limits(&self.limits).map_err(|e| e.within("limits"))?;
        let counted: BTreeSet<(&str, &str)> = self
            .limits
            .iter()
            .map(|l| (l.group(), l.kind.as_str()))
            .collect();
        for (index, entry) in self.namespace_overrides.iter().enumerate() {
            entry
                .validate_in(&counted)
                .map_err(|e| e.within(&format!("namespaceOverrides[{index}]")))?;
        }
        validate_section("helm", &self.helm)?;
        validate_section("exemptions", &self.exemptions)
    }
}
