//! The few fields of a Gardener Shoot (core.gardener.cloud/v1beta1) that the
//! shoot rules read. Every other field is ignored; absent and `null` fields
//! decode as `None`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::request::GroupVersionKind;
use crate::text::Text;

pub const API_VERSION: &str = "core.gardener.cloud/v1beta1";
pub const GROUP: &str = "core.gardener.cloud";
pub const KIND: &str = "Shoot";

/// True when the request is about a Gardener Shoot.
pub fn is_shoot(kind: &GroupVersionKind) -> bool {
    kind.is(GROUP, KIND)
}

#[derive(Debug, Default, Deserialize)]
pub struct Shoot<'a> {
    #[serde(default, borrow)]
    pub metadata: ShootMeta<'a>,
    #[serde(default, borrow)]
    pub spec: Option<ShootSpec<'a>>,
    #[serde(default, borrow)]
    pub status: Option<ShootStatus<'a>>,
}

/// `ObjectMeta` plus the `generation` the canary check compares.
#[derive(Debug, Default, Deserialize)]
pub struct ShootMeta<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, borrow)]
    pub namespace: Cow<'a, str>,
    #[serde(default, borrow)]
    pub labels: std::collections::BTreeMap<Text<'a>, Text<'a>>,
    #[serde(default)]
    pub generation: Option<i64>,
    #[serde(default, borrow)]
    pub annotations: Option<Annotations<'a>>,
}

/// The operation annotations; the others are skipped, not decoded.
#[derive(Debug, Default, Deserialize)]
pub struct Annotations<'a> {
    #[serde(default, borrow, rename = "gardener.cloud/operation")]
    pub operation: Option<Text<'a>>,
    #[serde(default, borrow, rename = "maintenance.gardener.cloud/operation")]
    pub maintenance_operation: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShootSpec<'a> {
    #[serde(default, borrow)]
    pub kubernetes: Option<Kubernetes<'a>>,
    #[serde(default, borrow)]
    pub provider: Option<Provider<'a>>,
    #[serde(default)]
    pub maintenance: Option<Maintenance>,
    #[serde(default)]
    pub hibernation: Option<Toggle>,
    #[serde(default)]
    pub system_components: Option<SystemComponents>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SystemComponents {
    #[serde(default, rename = "nodeLocalDNS")]
    pub node_local_dns: Option<Toggle>,
}

/// `spec.hibernation` and `spec.systemComponents.nodeLocalDNS`: an `enabled` flag.
#[derive(Debug, Default, Deserialize)]
pub struct Toggle {
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kubernetes<'a> {
    #[serde(default, borrow)]
    pub version: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub kubelet: Option<Kubelet<'a>>,
    #[serde(default, rename = "kubeAPIServer")]
    pub kube_api_server: Option<KubeApiServer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kubelet<'a> {
    #[serde(default)]
    pub pod_pids_limit: Option<i64>,
    /// The blocks below as written, decoded by the rule that reads them
    /// (staged-rollout), so that the others skip them as cheaply as unknown keys.
    #[serde(default, borrow)]
    kube_reserved: Option<&'a RawValue>,
    #[serde(default, borrow)]
    system_reserved: Option<&'a RawValue>,
    #[serde(default, borrow)]
    eviction_hard: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub cpu_manager_policy: Option<Text<'a>>,
}

impl<'a> Kubelet<'a> {
    /// `kubeReserved`'s cpu, memory, pid and ephemeralStorage.
    pub fn kube_reserved(&self) -> Option<[Option<&'a str>; 4]> {
        self.kube_reserved.map(reserved_fields)
    }

    /// `systemReserved`'s cpu, memory, pid and ephemeralStorage.
    pub fn system_reserved(&self) -> Option<[Option<&'a str>; 4]> {
        self.system_reserved.map(reserved_fields)
    }

    /// `evictionHard`'s memoryAvailable, imageFSAvailable, imageFSInodesFree,
    /// nodeFSAvailable and nodeFSInodesFree.
    pub fn eviction_hard(&self) -> Option<[Option<&'a str>; 5]> {
        self.eviction_hard.map(|raw| {
            block_fields(raw, |e: &EvictionHard<'a>| {
                [
                    e.memory_available,
                    e.image_fs_available,
                    e.image_fs_inodes_free,
                    e.node_fs_available,
                    e.node_fs_inodes_free,
                ]
            })
        })
    }
}

fn reserved_fields(raw: &RawValue) -> [Option<&str>; 4] {
    block_fields(raw, |r: &Reserved| {
        [r.cpu, r.memory, r.pid, r.ephemeral_storage]
    })
}

/// Resources set aside from pods (`kubeReserved`, `systemReserved`): each a
/// quantity, which Kubernetes reads from a string or a number.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reserved<'a> {
    #[serde(default, borrow)]
    cpu: Option<&'a RawValue>,
    #[serde(default, borrow)]
    memory: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pid: Option<&'a RawValue>,
    #[serde(default, borrow)]
    ephemeral_storage: Option<&'a RawValue>,
}

/// `evictionHard`: the thresholds at which the kubelet evicts pods.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EvictionHard<'a> {
    #[serde(default, borrow)]
    memory_available: Option<&'a RawValue>,
    #[serde(default, borrow, rename = "imageFSAvailable")]
    image_fs_available: Option<&'a RawValue>,
    #[serde(default, borrow, rename = "imageFSInodesFree")]
    image_fs_inodes_free: Option<&'a RawValue>,
    #[serde(default, borrow, rename = "nodeFSAvailable")]
    node_fs_available: Option<&'a RawValue>,
    #[serde(default, borrow, rename = "nodeFSInodesFree")]
    node_fs_inodes_free: Option<&'a RawValue>,
}

/// A string's text (when it needs no unescaping), else the value as written.
fn value_text(raw: &RawValue) -> &str {
    let text = raw.get();
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('\\'))
        .unwrap_or(text)
}

/// The fields of a settings block, as texts; a block the API server would not
/// have admitted (not an object) reads as its text in the first field, so
/// that a change to it still counts.
fn block_fields<'a, T: Deserialize<'a>, const N: usize>(
    raw: &'a RawValue,
    fields: impl Fn(&T) -> [Option<&'a RawValue>; N],
) -> [Option<&'a str>; N] {
    match crate::json::from_str::<T>(raw.get()) {
        Ok(block) => fields(&block).map(|f| f.map(value_text)),
        Err(_) => {
            let mut texts = [None; N];
            if let Some(first) = texts.first_mut() {
                *first = Some(raw.get());
            }
            texts
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct KubeApiServer {
    #[serde(default)]
    pub requests: Option<ApiServerRequests>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiServerRequests {
    #[serde(default)]
    pub max_non_mutating_inflight: Option<i64>,
    #[serde(default)]
    pub max_mutating_inflight: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Provider<'a> {
    #[serde(default, borrow)]
    pub workers: Option<Vec<Worker<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Worker<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default)]
    pub minimum: Option<i64>,
    #[serde(default)]
    pub maximum: Option<i64>,
    #[serde(default)]
    pub max_surge: Option<IntOrPercent>,
    #[serde(default)]
    pub max_unavailable: Option<IntOrPercent>,
    #[serde(default, borrow)]
    pub machine: Option<Machine<'a>>,
    #[serde(default, borrow)]
    pub kubernetes: Option<WorkerKubernetes<'a>>,
    #[serde(default)]
    pub zones: Option<ZoneCount>,
    #[serde(default, borrow)]
    pub volume: Option<Volume<'a>>,
    #[serde(default, borrow)]
    pub cri: Option<Cri<'a>>,
    #[serde(default, borrow)]
    pub provider_config: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub data_volumes: Option<Vec<Volume<'a>>>,
    #[serde(default, borrow)]
    pub update_strategy: Option<Text<'a>>,
}

/// A pool's `volume`, and each of its `dataVolumes` (whose `name` is not read).
#[derive(Debug, Default, Deserialize)]
pub struct Volume<'a> {
    #[serde(default, borrow)]
    pub size: Cow<'a, str>,
    #[serde(default, borrow, rename = "type")]
    pub volume_type: Option<Text<'a>>,
    #[serde(default)]
    pub encrypted: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Cri<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
}

/// How many entries `zones` has; the names are skipped, not kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ZoneCount(pub u64);

impl<'de> Deserialize<'de> for ZoneCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ZoneCountVisitor;

        impl<'de> Visitor<'de> for ZoneCountVisitor {
            type Value = ZoneCount;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of zones")
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut count = 0u64;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {
                    count = count.saturating_add(1);
                }
                Ok(ZoneCount(count))
            }
        }

        deserializer.deserialize_seq(ZoneCountVisitor)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Machine<'a> {
    #[serde(default, borrow, rename = "type")]
    pub machine_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub image: Option<MachineImage<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub struct MachineImage<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, borrow)]
    pub version: Option<Text<'a>>,
}

impl MachineImage<'_> {
    /// The image as messages name it, e.g. `gardenlinux 1592.1.0`.
    pub fn text(&self) -> String {
        match &self.version {
            Some(version) => [self.name.as_ref(), " ", version].concat(),
            None => [self.name.as_ref(), " (version not set)"].concat(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct WorkerKubernetes<'a> {
    #[serde(default, borrow)]
    pub version: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub kubelet: Option<Kubelet<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Maintenance {
    #[serde(default)]
    pub auto_update: Option<AutoUpdate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoUpdate {
    #[serde(default)]
    pub machine_image_version: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShootStatus<'a> {
    #[serde(default, borrow)]
    pub last_operation: Option<LastOperation<'a>>,
    #[serde(default, borrow)]
    pub conditions: Option<Vec<Condition<'a>>>,
    #[serde(default)]
    pub hibernated: Option<bool>,
    #[serde(default)]
    pub observed_generation: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LastOperation<'a> {
    #[serde(default, borrow, rename = "type")]
    pub operation_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub state: Cow<'a, str>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Condition<'a> {
    #[serde(default, borrow, rename = "type")]
    pub condition_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub status: Cow<'a, str>,
}

/// An `IntOrString` as Gardener accepts it for `maxSurge`/`maxUnavailable`:
/// a whole number or a percentage such as `25%`. Anything else is kept as
/// `Invalid` so that a rule can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntOrPercent {
    Count(u64),
    Percent(u64),
    Invalid(String),
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrPercent::Count(n) => write!(f, "{n}"),
            IntOrPercent::Percent(p) => write!(f, "{p}%"),
            IntOrPercent::Invalid(text) => write!(f, "{text}"),
        }
    }
}

impl IntOrPercent {
    pub fn parse(text: &str) -> Self {
        text.strip_suffix('%')
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok())
            .map_or_else(
                || IntOrPercent::Invalid(format!("\"{text}\"")),
                IntOrPercent::Percent,
            )
    }
}

/// A JSON number as `Display` writes it, for values below 2^53 with up to 9
/// decimals, without core's float formatting (~14 KiB in a module).
fn number_text(v: f64) -> String {
    let sign = if v.is_sign_negative() { "-" } else { "" };
    let magnitude = v.abs();
    if magnitude.fract() == 0.0 && magnitude < 9_007_199_254_740_992.0 {
        // Whole and below 2^53: exact, and every digit is needed to read it back.
        return [sign, &(magnitude as u64).to_string()].concat();
    }
    let mut scale = 1u64;
    for _ in 0..9 {
        scale *= 10;
        let scaled = (magnitude * scale as f64).round();
        if scaled < 9_007_199_254_740_992.0 && scaled / scale as f64 == magnitude {
            let scaled = scaled as u64;
            // The fraction's digits with its leading zeros: `1` + digits, less the `1`.
            let fraction = (scale + scaled % scale).to_string();
            let whole = (scaled / scale).to_string();
            return [sign, &whole, ".", fraction.get(1..).unwrap_or("")].concat();
        }
    }
    "a number too large or too precise to show".to_string()
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntOrPercentVisitor;

        impl Visitor<'_> for IntOrPercentVisitor {
            type Value = IntOrPercent;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a percentage string")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(IntOrPercent::Count(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(u64::try_from(v).map_or_else(
                    |_| IntOrPercent::Invalid(v.to_string()),
                    IntOrPercent::Count,
                ))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(IntOrPercent::Invalid(number_text(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(IntOrPercent::parse(v))
            }
        }

        deserializer.deserialize_any(IntOrPercentVisitor)
    }
}

impl<'a> Shoot<'a> {
    pub fn workers(&self) -> &[Worker<'a>] {
        self.spec
            .as_ref()
            .and_then(|s| s.provider.as_ref())
            .and_then(|p| p.workers.as_deref())
            .unwrap_or(&[])
    }

    /// The `gardener.cloud/operation` annotation (now) and
    /// `maintenance.gardener.cloud/operation` (in the maintenance window).
    pub fn operations(&self) -> [Option<&str>; 2] {
        let annotations = self.metadata.annotations.as_ref();
        [
            annotations.and_then(|a| a.operation.as_deref()),
            annotations.and_then(|a| a.maintenance_operation.as_deref()),
        ]
    }

    /// `spec.systemComponents.nodeLocalDNS.enabled`, off when unset.
    pub fn node_local_dns(&self) -> bool {
        self.spec
            .as_ref()
            .and_then(|s| s.system_components.as_ref())
            .and_then(|c| c.node_local_dns.as_ref())
            .and_then(|d| d.enabled)
            .unwrap_or(false)
    }

    pub fn kubernetes(&self) -> Option<&Kubernetes<'a>> {
        self.spec.as_ref().and_then(|s| s.kubernetes.as_ref())
    }

    /// `spec.kubernetes.version`.
    pub fn kubernetes_version(&self) -> Option<&str> {
        self.kubernetes().and_then(|k| k.version.as_deref())
    }

    /// `spec.kubernetes.kubelet`.
    pub fn kubelet(&self) -> Option<&Kubelet<'a>> {
        self.kubernetes().and_then(|k| k.kubelet.as_ref())
    }

    /// `spec.kubernetes.kubeAPIServer.requests`.
    pub fn api_server_requests(&self) -> Option<&ApiServerRequests> {
        self.kubernetes()
            .and_then(|k| k.kube_api_server.as_ref())
            .and_then(|a| a.requests.as_ref())
    }

    /// `spec.maintenance.autoUpdate.machineImageVersion`; Gardener defaults it
    /// to `true` when unset.
    pub fn machine_image_auto_update(&self) -> Option<bool> {
        self.spec
            .as_ref()
            .and_then(|s| s.maintenance.as_ref())
            .and_then(|m| m.auto_update.as_ref())
            .and_then(|a| a.machine_image_version)
    }

    pub fn worker(&self, name: &str) -> Option<&Worker<'a>> {
        self.workers().iter().find(|w| w.name == name)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.get(key).map(AsRef::as_ref)
    }

    /// `namespace/name`.
    pub fn reference(&self) -> String {
        [
            self.metadata.namespace.as_ref(),
            "/",
            self.metadata.name.as_ref(),
        ]
        .concat()
    }

    pub fn last_operation_state(&self) -> Option<&str> {
        self.status
            .as_ref()
            .and_then(|s| s.last_operation.as_ref())
            .map(|o| o.state.as_ref())
    }

    /// Hibernated or on the way in or out of it (`spec.hibernation.enabled`
    /// or `status.hibernated`): no nodes to judge by.
    pub fn hibernated(&self) -> bool {
        let spec = self
            .spec
            .as_ref()
            .and_then(|s| s.hibernation.as_ref())
            .and_then(|h| h.enabled);
        let status = self.status.as_ref().and_then(|s| s.hibernated);
        spec == Some(true) || status == Some(true)
    }

    /// `(metadata.generation, status.observedGeneration)` when they differ:
    /// the current spec is not reconciled yet.
    pub fn unobserved_generation(&self) -> Option<(i64, i64)> {
        let generation = self.metadata.generation?;
        let observed = self.status.as_ref()?.observed_generation?;
        (generation != observed).then_some((generation, observed))
    }

    /// The `status` of condition `condition_type`, if reported.
    pub fn condition(&self, condition_type: &str) -> Option<&str> {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or(&[])
            .iter()
            .find(|c| c.condition_type == condition_type)
            .map(|c| c.status.as_ref())
    }
}

impl<'a> Worker<'a> {
    pub fn image(&self) -> Option<&MachineImage<'a>> {
        self.machine.as_ref().and_then(|m| m.image.as_ref())
    }

    /// The pool's own `kubernetes.kubelet` block, which Gardener uses instead of
    /// (not merged with) `spec.kubernetes.kubelet`.
    pub fn kubelet(&self) -> Option<&Kubelet<'a>> {
        self.kubernetes.as_ref().and_then(|k| k.kubelet.as_ref())
    }

    /// `kubernetes.version` of the pool, if it overrides the Shoot's.
    pub fn kubernetes_version(&self) -> Option<&str> {
        self.kubernetes.as_ref().and_then(|k| k.version.as_deref())
    }

    /// The Kubernetes (kubelet) version the pool's nodes run.
    pub fn effective_kubernetes_version<'s>(&'s self, shoot: &'s Shoot<'_>) -> Option<&'s str> {
        self.kubernetes_version()
            .or_else(|| shoot.kubernetes_version())
    }
}

/// `major.minor` of a Kubernetes version (`1.31.2` -> `1.31`): Gardener
/// applies patch versions in place, without rolling nodes.
pub fn minor_version(version: &str) -> &str {
    let mut dots = version.match_indices('.').map(|(at, _)| at);
    match (dots.next(), dots.next()) {
        (Some(_), Some(second)) => version.get(..second).unwrap_or(version),
        _ => version,
    }
}

/// Decodes the Shoots of a `list_resources_*` answer, borrowing from `body`.
pub fn list_shoots(body: &[u8]) -> Result<Vec<Shoot<'_>>, String> {
    #[derive(Deserialize)]
    struct List<'a> {
        #[serde(default, borrow)]
        items: Option<Vec<Shoot<'a>>>,
    }
    let text =
        crate::utf8::from_utf8(body).map_err(|e| format!("the lookup answer is not UTF-8: {e}"))?;
    crate::request::from_str::<List>(text, "the lookup answer")
        .map(|list| list.items.unwrap_or_default())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::versioned(Some("1592.1.0"), "gardenlinux 1592.1.0")]
    #[case::unversioned(None, "gardenlinux (version not set)")]
    fn image_texts_name_the_version(#[case] version: Option<&str>, #[case] expected: &str) {
        let image = MachineImage {
            name: Cow::Borrowed("gardenlinux"),
            version: version.map(Text::from),
        };
        assert_eq!(image.text(), expected);
    }

    #[rstest]
    #[case::patch("1.31.2", "1.31")]
    #[case::minor_only("1.31", "1.31")]
    #[case::major_only("1", "1")]
    #[case::pre_release("1.32.0-rc.1", "1.32")]
    #[case::empty("", "")]
    fn minor_versions(#[case] version: &str, #[case] expected: &str) {
        assert_eq!(minor_version(version), expected);
    }

    #[rstest]
    #[case::running(
        r#"{"metadata":{"generation":7},"status":{"observedGeneration":7}}"#,
        false,
        None
    )]
    #[case::hibernating(r#"{"spec":{"hibernation":{"enabled":true}}}"#, true, None)]
    #[case::hibernated(r#"{"status":{"hibernated":true}}"#, true, None)]
    #[case::woken(
        r#"{"spec":{"hibernation":{"enabled":false}},"status":{"hibernated":false}}"#,
        false,
        None
    )]
    #[case::not_reconciled(r#"{"metadata":{"generation":8},"status":{"observedGeneration":7}}"#, false, Some((8, 7)))]
    #[case::no_observed_generation(r#"{"metadata":{"generation":8}}"#, false, None)]
    fn hibernation_and_generation(
        #[case] json: &str,
        #[case] hibernated: bool,
        #[case] unobserved: Option<(i64, i64)>,
    ) {
        let shoot: Shoot = crate::request::from_str(json, "object").expect("decodes");
        assert_eq!(shoot.hibernated(), hibernated);
        assert_eq!(shoot.unobserved_generation(), unobserved);
    }

    #[rstest]
    #[case::count("3", IntOrPercent::Count(3))]
    #[case::percent("\"25%\"", IntOrPercent::Percent(25))]
    #[case::negative("-1", IntOrPercent::Invalid("-1".into()))]
    #[case::bare_string("\"2\"", IntOrPercent::Invalid("\"2\"".into()))]
    #[case::empty_percent("\"%\"", IntOrPercent::Invalid("\"%\"".into()))]
    #[case::fraction("1.5", IntOrPercent::Invalid("1.5".into()))]
    #[case::small_fraction("-0.05", IntOrPercent::Invalid("-0.05".into()))]
    #[case::whole_float("2.0", IntOrPercent::Invalid("2".into()))]
    #[case::negative_zero("-0.0", IntOrPercent::Invalid("-0".into()))]
    #[case::large_whole_float("1e15", IntOrPercent::Invalid("1000000000000000".into()))]
    #[case::too_large_to_show("1e20", IntOrPercent::Invalid("a number too large or too precise to show".into()))]
    #[case::nine_decimals("12.000000001", IntOrPercent::Invalid("12.000000001".into()))]
    fn int_or_percent(#[case] json: &str, #[case] expected: IntOrPercent) {
        let parsed: IntOrPercent = serde_json::from_str(json).expect("decodes");
        assert_eq!(parsed, expected);
    }

    #[test]
    fn number_text_writes_what_display_writes() {
        let decimals = (0..20_000).flat_map(|i| {
            let text = format!("{}.{:03}", i / 1000, i % 1000);
            let v: f64 = text.parse().expect("a number");
            [v, -v]
        });
        let scaled = (0..=9).flat_map(|e| [1.5, 0.25, 3.125, 7.0].map(|m| m * 10f64.powi(e)));
        let small = (1..=9).map(|e| 10f64.powi(-e));
        let edges = [9_007_199_254_740_991.0, -1e15, 1e-9, 123_456.123_456_789];
        for v in decimals.chain(scaled).chain(small).chain(edges) {
            assert_eq!(number_text(v), v.to_string(), "{v:e}");
        }
        for v in [
            0.1234567891,
            1e20,
            9_007_199_254_740_992.0,
            123_456_789.123_456_79,
        ] {
            assert_eq!(
                number_text(v),
                "a number too large or too precise to show",
                "{v:e}"
            );
        }
    }

    #[test]
    fn tolerates_other_fields_and_nulls() {
        let json = r#"{"apiVersion":"core.gardener.cloud/v1beta1","kind":"Shoot",
            "metadata":{"name":"s","namespace":"garden-a","labels":{"x":"y"},"annotations":{"a":"b"}},
            "spec":{"region":"eu","kubernetes":{"version":"1.31.2","kubelet":null,"kubeAPIServer":{"requests":{"maxMutatingInflight":200}}},
              "provider":{"type":"aws","workers":[{"name":"a","maximum":5,"maxUnavailable":"50%","zones":["eu-1a",{"name":"eu-1b"}],"machine":{"type":"m5","image":{"name":"gardenlinux","version":"1592.1.0"}},"kubernetes":{"version":"1.30.5"}}]},
              "maintenance":null},
            "status":{"lastOperation":{"type":"Reconcile","state":"Succeeded","progress":100},"conditions":[{"type":"EveryNodeReady","status":"True"}]}}"#;
        let shoot: Shoot = crate::request::from_str(json, "object").expect("decodes");
        assert_eq!(shoot.kubernetes_version(), Some("1.31.2"));
        assert!(shoot.kubelet().is_none());
        assert_eq!(
            shoot
                .api_server_requests()
                .and_then(|r| r.max_mutating_inflight),
            Some(200)
        );
        let worker = shoot.worker("a").expect("worker a");
        assert_eq!(worker.max_unavailable, Some(IntOrPercent::Percent(50)));
        assert_eq!(worker.zones, Some(ZoneCount(2)));
        assert_eq!(worker.effective_kubernetes_version(&shoot), Some("1.30.5"));
        assert_eq!(
            worker.image().map(MachineImage::text).as_deref(),
            Some("gardenlinux 1592.1.0")
        );
        assert_eq!(shoot.machine_image_auto_update(), None);
        assert_eq!(shoot.last_operation_state(), Some("Succeeded"));
        assert_eq!(shoot.condition("EveryNodeReady"), Some("True"));
        assert_eq!(shoot.reference(), "garden-a/s");
    }

    #[test]
    fn lists_shoots() {
        let body = br#"{"apiVersion":"core.gardener.cloud/v1beta1","kind":"ShootList","items":[{"metadata":{"name":"c1","namespace":"garden-x"}}]}"#;
        let shoots = list_shoots(body).expect("list");
        assert_eq!(shoots.len(), 1);
        assert!(list_shoots(b"{\"items\":7}").is_err());
        assert!(list_shoots(b"not json").is_err());
        assert!(list_shoots(b"{}").expect("empty").is_empty());
    }
}
