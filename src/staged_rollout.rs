//! staged-rollout (crash 5): new node images went to every node of every
//! cluster at once, and a systemd-journald memory leak that took days to show
//! put all of them under memory pressure. A Shoot update may replace the nodes
//! of only a few worker pools at once (unless the Shoot is an early stage), and a prod-stage Shoot may adopt a machine image
//! version only once enough canary-stage Shoots run it.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde_json::value::RawValue;

use serde::Deserialize;

use crate::btree;
use crate::canonical_json::{canonical, cut, first_difference, readable, Difference};
use crate::exemptions::Exemptions;
use crate::host::{Host, ListResources, OnLookupFailure};
use crate::policy::Rule;
use crate::quantity::{amount, Amount, Format};
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::response::{count, decimal, signed};
use crate::selector::{is_label_segment, label_key_problem};
use crate::selector::{LabelSelector, Operator, Requirement};
use crate::settings::{non_empty_entries, validate_section, SettingsError, Validate};
use crate::shoot::{self, is_shoot, list_shoots, MachineImage, Shoot};
use crate::violation::{Verdict, Violation};

pub struct StagedRollout;

/// Only what the canary check reads; the rest of each Shoot is left on the server.
const CANARY_FIELD_MASKS: [&str; 10] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
    "metadata.generation",
    "spec.provider.workers",
    "spec.hibernation.enabled",
    "status.lastOperation",
    "status.conditions",
    "status.hibernated",
    "status.observedGeneration",
];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// The Shoot label holding its stage.
    pub stage_label: String,
    /// Stages that may change any number of pools at once.
    pub early_stages: Vec<String>,
    /// Stages whose Shoots count as canaries for prod.
    pub canary_stages: Vec<String>,
    /// Stages that need canaries before adopting a machine image version.
    pub prod_stages: Vec<String>,
    /// Stage assumed for Shoots without the label; none by default.
    pub unlabeled_stage: Option<String>,
    /// Worker pools whose nodes one update may replace.
    pub max_pools_changed_at_once: u64,
    /// Canary Shoots that must run a machine image version before prod adopts it.
    pub min_canaries: u64,
    /// Refuse `spec.maintenance.autoUpdate.machineImageVersion: true` on prod stages.
    pub refuse_machine_image_auto_update_in_prod: bool,
    pub on_lookup_failure: OnLookupFailure,
    pub exemptions: Exemptions,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            stage_label: "crash-guard.io/stage".to_string(),
            early_stages: vec!["dev".to_string()],
            canary_stages: vec!["canary".to_string()],
            prod_stages: vec!["prod".to_string()],
            unlabeled_stage: None,
            max_pools_changed_at_once: 1,
            min_canaries: 2,
            refuse_machine_image_auto_update_in_prod: true,
            on_lookup_failure: OnLookupFailure::default(),
            exemptions: Exemptions::default(),
        }
    }
}

fn check_stages(field: &str, stages: &[String]) -> Result<(), SettingsError> {
    non_empty_entries(field, stages)?;
    match stages.iter().position(|s| !is_label_segment(s)) {
        Some(index) => Err(SettingsError::new(
            format!("{field}[{index}]"),
            format!(
                "`{}` is not a valid label value",
                stages.get(index).map_or("", String::as_str)
            ),
        )),
        None => Ok(()),
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        if let Some(problem) = label_key_problem(&self.stage_label) {
            return Err(SettingsError::new(
                "stageLabel",
                format!("`{}` is not a valid label key: {problem}", self.stage_label),
            ));
        }
        check_stages("earlyStages", &self.early_stages)?;
        check_stages("canaryStages", &self.canary_stages)?;
        check_stages("prodStages", &self.prod_stages)?;
        let lists = [
            ("earlyStages", &self.early_stages),
            ("canaryStages", &self.canary_stages),
            ("prodStages", &self.prod_stages),
        ];
        for (i, (name, stages)) in lists.iter().enumerate() {
            for (other_name, other) in lists.iter().skip(i + 1) {
                if let Some(stage) = stages.iter().find(|s| other.contains(s)) {
                    return Err(SettingsError::new(
                        *other_name,
                        format!("stage `{stage}` is also in {name}; a stage belongs to one list"),
                    ));
                }
            }
        }
        if let Some(stage) = &self.unlabeled_stage {
            let problem = if !is_label_segment(stage) {
                "is not a valid label value"
            } else if self.canary_stages.contains(stage) {
                "is a canary stage, but the canary lookup selects Shoots by their stageLabel, so an unlabeled Shoot never counts as a canary; label canary Shoots instead"
            } else {
                ""
            };
            if !problem.is_empty() {
                return Err(SettingsError::new(
                    "unlabeledStage",
                    ["`", stage, "` ", problem].concat(),
                ));
            }
        }
        if self.max_pools_changed_at_once == 0 {
            return Err(SettingsError::new(
                "maxPoolsChangedAtOnce",
                "must be at least 1, or no pool could ever be updated",
            ));
        }
        if self.min_canaries > 0 && self.canary_stages.is_empty() {
            return Err(SettingsError::new(
                "canaryStages",
                format!(
                    "must name at least one stage while minCanaries is {}",
                    self.min_canaries
                ),
            ));
        }
        validate_section("exemptions", &self.exemptions)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Early,
    Canary,
    Prod,
    Other,
}

impl Settings {
    fn stage<'s>(&'s self, shoot: &'s Shoot) -> Option<&'s str> {
        shoot
            .label(&self.stage_label)
            .or(self.unlabeled_stage.as_deref())
    }

    fn class(&self, shoot: &Shoot) -> Class {
        let Some(stage) = self.stage(shoot) else {
            return Class::Other;
        };
        let listed = |list: &[String]| list.iter().any(|s| s == stage);
        if listed(&self.early_stages) {
            Class::Early
        } else if listed(&self.canary_stages) {
            Class::Canary
        } else if listed(&self.prod_stages) {
            Class::Prod
        } else {
            Class::Other
        }
    }

    fn stage_text(&self, shoot: &Shoot) -> String {
        match self.stage(shoot) {
            Some(stage) => ["the Shoot is in stage ", stage].concat(),
            None => ["the Shoot has no ", &self.stage_label, " label"].concat(),
        }
    }

    fn canary_selector(&self) -> LabelSelector {
        LabelSelector {
            match_expressions: vec![Requirement {
                key: self.stage_label.clone(),
                operator: Operator::In,
                values: self.canary_stages.clone(),
            }],
            ..LabelSelector::default()
        }
    }
}

/// One worker pool whose nodes an update replaces, described only for a message.
struct PoolChange<'s> {
    name: &'s str,
    cause: Cause<'s>,
}

enum Cause<'s> {
    Setup(Box<SetupChange<'s>>),
    /// An operation this update sets.
    Operation(ShootOperation<'s>),
}

/// An operation that rolls pools: a credentials rotation, or a rollout
/// (its verb: `rollout-workers` or `rotate-rollout-workers`) of every pool
/// or of the pools listed.
#[derive(Clone, Copy)]
enum ShootOperation<'s> {
    Rotation(&'s str),
    Every(&'s str),
    Listed(&'s str),
}

/// The pool's setup changes. A removed pool is compared with a pool that
/// takes its workloads (`removed_to`: which pools, and one of them).
struct SetupChange<'s> {
    was: NodeSetup<'s>,
    is: NodeSetup<'s>,
    versions: (Option<&'s str>, Option<&'s str>),
    images: (Option<&'s MachineImage<'s>>, Option<&'s MachineImage<'s>>),
    via_shoot_version: bool,
    via_shoot_kubelet: bool,
    removed_to: Option<(&'static str, &'s str)>,
}

impl<'s> PoolChange<'s> {
    fn setup(
        before: (&'s shoot::Worker<'s>, &'s Shoot<'s>),
        after: (&'s shoot::Worker<'s>, &'s Shoot<'s>),
        (was, is): (NodeSetup<'s>, NodeSetup<'s>),
        removed_to: Option<&'static str>,
    ) -> Self {
        let removed = removed_to.is_some();
        let ((from, old), (to, new)) = (before, after);
        Self {
            name: &from.name,
            cause: Cause::Setup(Box::new(SetupChange {
                was,
                is,
                versions: (
                    from.effective_kubernetes_version(old),
                    to.effective_kubernetes_version(new),
                ),
                images: (from.image(), to.image()),
                via_shoot_version: !removed && to.kubernetes_version().is_none(),
                via_shoot_kubelet: !removed && to.kubelet().is_none(),
                removed_to: removed_to.map(|pools| (pools, to.name.as_ref())),
            })),
        }
    }

    #[inline(never)]
    fn description(&self) -> String {
        let SetupChange {
            was,
            is,
            versions,
            images,
            via_shoot_version,
            via_shoot_kubelet,
            removed_to,
        } = match &self.cause {
            Cause::Operation(operation) => {
                let (verb, separator, pool) = match *operation {
                    ShootOperation::Rotation(rotation) => (rotation, "", ""),
                    ShootOperation::Every(verb) => (verb, "=*", ""),
                    ShootOperation::Listed(verb) => (verb, "=", self.name),
                };
                return [self.name, " (operation ", verb, separator, pool, ")"].concat();
            }
            Cause::Setup(change) => change.as_ref(),
        };
        let mut parts: Vec<String> = Vec::new();
        if was.image != is.image {
            let (from, to) = (image_text(images.0), image_text(images.1));
            parts.push(change("machine image ", &from, &to));
        }
        if was.kubernetes != is.kubernetes {
            let (from, to) = (versions.0.unwrap_or(NOT_SET), versions.1.unwrap_or(NOT_SET));
            let mut text = change("Kubernetes ", from, to);
            if *via_shoot_version {
                text.push_str(" via spec.kubernetes.version");
            }
            parts.push(text);
        }
        if was.machine_type != is.machine_type {
            let (from, to) = (or_not_set(was.machine_type), or_not_set(is.machine_type));
            parts.push(change("machine type ", from, to));
        }
        if was.volume != is.volume {
            let (from, to) = (
                volume_text(was.volume.as_ref()),
                volume_text(is.volume.as_ref()),
            );
            parts.push(change("volume ", &from, &to));
        }
        if was.data_volumes != is.data_volumes {
            parts.push(data_volumes_change(&was.data_volumes, &is.data_volumes));
        }
        if was.cri != is.cri {
            let (from, to) = (
                was.cri.map_or(NOT_SET, or_not_set),
                is.cri.map_or(NOT_SET, or_not_set),
            );
            parts.push(change("CRI ", from, to));
        }
        if was.kubelet != is.kubelet {
            let mut text = kubelet_change(&was.kubelet.setup, &is.kubelet.setup);
            if *via_shoot_kubelet {
                text.push_str(" via spec.kubernetes.kubelet");
            }
            parts.push(text);
        }
        if was.provider_config != is.provider_config {
            parts.push(provider_config_change(
                was.provider_config.as_deref(),
                is.provider_config.as_deref(),
            ));
        }
        let opening = match removed_to {
            Some((pools, to)) => [
                " (removed: its machines are deleted at once and its workloads move to ",
                pools,
                " such as ",
                to,
                ": ",
            ]
            .concat(),
            None => " (".to_string(),
        };
        [self.name, &opening, &parts.join(", "), ")"].concat()
    }
}

const NOT_SET: &str = "(not set)";

fn or_not_set(text: &str) -> &str {
    if text.is_empty() {
        NOT_SET
    } else {
        text
    }
}

fn change(what: &str, was: &str, is: &str) -> String {
    [what, was, " -> ", is].concat()
}

fn volume_text(volume: Option<&VolumeSetup>) -> String {
    let Some(&(size, kind, encrypted)) = volume else {
        return NOT_SET.to_string();
    };
    let mut text = or_not_set(size).to_string();
    for part in [
        kind,
        encrypted.map(|e| if e { "encrypted" } else { "unencrypted" }),
    ]
    .into_iter()
    .flatten()
    {
        text.push(' ');
        text.push_str(part);
    }
    text
}

/// The first data volume that differs (they are hashed in order), and the
/// count when it changes.
fn data_volumes_change(was: &[VolumeSetup], is: &[VolumeSetup]) -> String {
    let at = was
        .iter()
        .zip(is)
        .position(|(a, b)| a != b)
        .unwrap_or(was.len().min(is.len()));
    let text_at = |volumes: &[VolumeSetup]| {
        volumes
            .get(at)
            .map_or_else(|| "(none)".to_string(), |v| volume_text(Some(v)))
    };
    let mut text = change(
        &["dataVolumes[", count(at, &mut [0; 20]), "] "].concat(),
        &text_at(was),
        &text_at(is),
    );
    if was.len() != is.len() {
        for part in [
            " (",
            count(was.len(), &mut [0; 20]),
            " -> ",
            count(is.len(), &mut [0; 20]),
            " data volumes)",
        ] {
            text.push_str(part);
        }
    }
    text
}

/// The kubelet settings in the node agent's key, which names a pool's nodes
/// (Gardener's `KeyV2`): kubeReserved and systemReserved summed per resource,
/// evictionHard's thresholds, cpuManagerPolicy.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct KubeletSetup<'s> {
    /// Per resource of [`RESERVED`]; `None` when neither block is set.
    reserved: Option<[Option<Reservation<'s>>; 4]>,
    /// Per threshold of [`EVICTION_HARD`] (an empty one is unset, as Gardener
    /// reads it).
    eviction_hard: Option<[Option<&'s str>; 5]>,
    cpu_manager_policy: Option<&'s str>,
}

const RESERVED: [&str; 4] = ["cpu", "memory", "pid", "ephemeralStorage"];
const EVICTION_HARD: [&str; 5] = [
    "memoryAvailable",
    "imageFSAvailable",
    "imageFSInodesFree",
    "nodeFSAvailable",
    "nodeFSInodesFree",
];

impl<'s> KubeletSetup<'s> {
    fn of(kubelet: Option<&'s shoot::Kubelet<'s>>) -> Self {
        let Some(kubelet) = kubelet else {
            return Self::default();
        };
        let (kube, system) = (kubelet.kube_reserved(), kubelet.system_reserved());
        let reserved = (kube.is_some() || system.is_some()).then(|| {
            let mut sums = <[Option<Reservation>; 4]>::default();
            let pairs = kube
                .unwrap_or_default()
                .into_iter()
                .zip(system.unwrap_or_default());
            for (sum, (kube, system)) in sums.iter_mut().zip(pairs) {
                *sum = Reservation::of(kube, system);
            }
            sums
        });
        Self {
            reserved,
            eviction_hard: kubelet
                .eviction_hard()
                .map(|e| e.map(|t| t.filter(|t| !t.is_empty()))),
            cpu_manager_policy: kubelet.cpu_manager_policy.as_deref(),
        }
    }
}

/// A Shoot's kubelet settings, shared by its pools without their own (and by
/// both sides of an update that leaves them as they are). The two Shoots'
/// settings are compared once, and their order kept (`shoot_rank`), so that
/// comparing pools that use them takes no reading.
#[derive(Clone, Default)]
struct SharedKubelet<'s> {
    setup: Rc<KubeletSetup<'s>>,
    shoot_rank: Option<u8>,
}

impl<'s> SharedKubelet<'s> {
    /// The old Shoot's settings, or the new one's (`old` given).
    fn of(shoot: &'s Shoot<'s>, old: Option<&Self>) -> Self {
        let setup = KubeletSetup::of(shoot.kubelet());
        let Some(old) = old else {
            return Self {
                setup: Rc::new(setup),
                shoot_rank: Some(1),
            };
        };
        let rank = match setup.cmp(&old.setup) {
            std::cmp::Ordering::Equal => return old.clone(),
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Greater => 2,
        };
        Self {
            setup: Rc::new(setup),
            shoot_rank: Some(rank),
        }
    }

    /// The settings a pool runs: its own block, else the Shoot's (`self`).
    fn for_pool(&self, worker: &'s shoot::Worker<'s>) -> Self {
        match worker.kubelet() {
            Some(own) => Self {
                setup: Rc::new(KubeletSetup::of(Some(own))),
                shoot_rank: None,
            },
            None => self.clone(),
        }
    }
}

impl PartialEq for SharedKubelet<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for SharedKubelet<'_> {}

impl PartialOrd for SharedKubelet<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedKubelet<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Rc::ptr_eq(&self.setup, &other.setup) {
            return std::cmp::Ordering::Equal;
        }
        match (self.shoot_rank, other.shoot_rank) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.setup.cmp(&other.setup),
        }
    }
}

/// One resource's kubeReserved + systemReserved, as Gardener hashes it: the
/// sum printed by Kubernetes, which depends on its value and on its format
/// (`1Gi` + `512Mi` is `1536Mi`, but `1Gi` and `1073741824` print apart).
#[derive(Clone)]
struct Reservation<'s> {
    /// `None` where a side is not a quantity: then compared as written.
    printed: Option<(i128, Option<Format>)>,
    written: Written<'s>,
}

/// kubeReserved's and systemReserved's texts.
type Written<'s> = (Option<&'s str>, Option<&'s str>);

impl<'s> Reservation<'s> {
    fn of(kube: Option<&'s str>, system: Option<&'s str>) -> Option<Self> {
        let read = |text: Option<&str>| text.map(amount);
        let printed = match (read(kube), read(system)) {
            (None, None) => return None,
            (Some(Some(one)), None) | (None, Some(Some(one))) => Some(one),
            // The sum keeps kubeReserved's format, unless it is zero.
            (Some(Some(left)), Some(Some(right))) => {
                left.nanos.checked_add(right.nanos).map(|nanos| Amount {
                    nanos,
                    format: if left.nanos == 0 {
                        right.format
                    } else {
                        left.format
                    },
                })
            }
            _ => None,
        };
        Some(Self {
            printed: printed.map(|a| (a.nanos, printed_format(a))),
            written: (kube, system),
        })
    }

    /// How it prints, or the texts where one is not a quantity.
    fn key(&self) -> Result<(i128, Option<Format>), Written<'s>> {
        self.printed.ok_or(self.written)
    }

    fn text(&self) -> String {
        match self.written {
            (Some(kube), Some(system)) => [kube, " + ", system].concat(),
            (Some(one), None) | (None, Some(one)) => one.to_string(),
            (None, None) => NOT_SET.to_string(),
        }
    }
}

/// How Kubernetes prints an amount: `None` for a plain integer (`1025`,
/// whatever its format), else in its format. Zero prints as `0`, and a binary
/// amount under 1024 or with a fraction as a decimal one.
fn printed_format(amount: Amount) -> Option<Format> {
    const NANOS: i128 = 1_000_000_000;
    let units = (amount.nanos % NANOS == 0).then_some(amount.nanos / NANOS);
    let format = match amount.format {
        Format::BinarySi if units.is_none_or(|u| u.unsigned_abs() < 1024) => Format::DecimalSi,
        format => format,
    };
    let plain = match (units, format) {
        (Some(0), _) => true,
        (Some(u), Format::BinarySi) => u % 1024 != 0,
        (Some(u), _) => u % 1000 != 0,
        (None, _) => false,
    };
    (!plain).then_some(format)
}

impl PartialEq for Reservation<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Reservation<'_> {}

impl PartialOrd for Reservation<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Reservation<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// Each kubelet setting that differs, with both values.
fn kubelet_change(was: &KubeletSetup, is: &KubeletSetup) -> String {
    let mut parts = Vec::new();
    push_field_changes(
        &mut parts,
        "kubeReserved + systemReserved",
        &RESERVED,
        (was.reserved.as_ref(), is.reserved.as_ref()),
        |r| shown(r.as_ref().map(Reservation::text).as_deref()),
    );
    push_field_changes(
        &mut parts,
        "evictionHard",
        &EVICTION_HARD,
        (was.eviction_hard.as_ref(), is.eviction_hard.as_ref()),
        |t| shown(*t),
    );
    if was.cpu_manager_policy != is.cpu_manager_policy {
        parts.push(change(
            "cpuManagerPolicy ",
            &shown(was.cpu_manager_policy),
            &shown(is.cpu_manager_policy),
        ));
    }
    ["kubelet ", &parts.join(", ")].concat()
}

/// The fields of a settings block that differ (`<block>.<field> a -> b`),
/// or, when only whether the block is there differs, the block itself.
fn push_field_changes<T: PartialEq + Default, const N: usize>(
    parts: &mut Vec<String>,
    block: &str,
    names: &[&str; N],
    (was, is): (Option<&[T; N]>, Option<&[T; N]>),
    text: impl Fn(&T) -> String,
) {
    if was == is {
        return;
    }
    let unset = T::default();
    let before = parts.len();
    for (at, name) in names.iter().enumerate() {
        let a = was.and_then(|f| f.get(at)).unwrap_or(&unset);
        let b = is.and_then(|f| f.get(at)).unwrap_or(&unset);
        if a != b {
            parts.push(change(
                &[block, ".", name, " "].concat(),
                &text(a),
                &text(b),
            ));
        }
    }
    if parts.len() == before {
        let shown = |fields: Option<&[T; N]>| if fields.is_some() { "{}" } else { NOT_SET };
        parts.push(change(&[block, " "].concat(), shown(was), shown(is)));
    }
}

/// Values are cut to this many characters in messages.
const MAX_VALUE_SHOWN: usize = 60;

/// A value for a message: cut, or `(not set)`.
fn shown(value: Option<&str>) -> String {
    value.map_or_else(
        || NOT_SET.to_string(),
        |value| cut(value, MAX_VALUE_SHOWN).into_owned(),
    )
}

/// Where two providerConfigs (canonical) first differ, and the values there.
fn provider_config_change(was: Option<&str>, is: Option<&str>) -> String {
    let Difference { path, was, is } = match (was, is) {
        (Some(was), Some(is)) => first_difference(was, is),
        _ => Difference {
            path: String::new(),
            was,
            is,
        },
    };
    let readable_shown = |value: Option<&str>| shown(value.map(readable).as_deref());
    change(
        &["providerConfig", &path, " "].concat(),
        &readable_shown(was),
        &readable_shown(is),
    )
}

/// A volume's size, type and encryption.
type VolumeSetup<'s> = (&'s str, Option<&'s str>, Option<bool>);

fn volume_setup<'s>(volume: &'s shoot::Volume<'s>) -> VolumeSetup<'s> {
    (
        volume.size.as_ref(),
        volume.volume_type.as_deref(),
        volume.encrypted,
    )
}

/// A pool as Gardener's worker pool hash reads it (with what the provider
/// extensions add): a change to any field replaces the pool's nodes.
/// Kubernetes counts by minor version (patch versions are applied in place).
/// Ordered by machine type first, so that setups of one type are neighbours.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct NodeSetup<'s> {
    machine_type: &'s str,
    image: Option<(&'s str, Option<&'s str>)>,
    kubernetes: Option<&'s str>,
    volume: Option<VolumeSetup<'s>>,
    /// In order: the hash reads them so. Shared by the changes naming it.
    data_volumes: Rc<[VolumeSetup<'s>]>,
    cri: Option<&'s str>,
    kubelet: SharedKubelet<'s>,
    /// In canonical form (see [`canonical`]), shared by the changes naming it.
    provider_config: Option<Rc<str>>,
}

impl<'s> NodeSetup<'s> {
    /// The setup; `providerConfig` only `with_config`, as canonicalising it
    /// costs a pass over it.
    fn of(worker: &'s shoot::Worker<'s>, side: &Side<'s>, with_config: bool) -> Self {
        Self {
            machine_type: worker.machine.as_ref().map_or("", |m| &m.machine_type),
            image: worker.image().map(image_key),
            kubernetes: worker
                .effective_kubernetes_version(side.shoot)
                .map(shoot::minor_version),
            volume: worker.volume.as_ref().map(volume_setup),
            data_volumes: worker
                .data_volumes
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(volume_setup)
                .collect(),
            cri: worker.cri.as_ref().map(|c| c.name.as_ref()),
            kubelet: side.kubelet.for_pool(worker),
            provider_config: if with_config {
                canonical_config(worker)
            } else {
                None
            },
        }
    }
}

impl NodeSetup<'_> {
    /// What the nodes run: image, Kubernetes, CRI, kubelet (not the machine,
    /// its volumes or providerConfig).
    fn software(&self) -> Self {
        Self {
            machine_type: "",
            volume: None,
            data_volumes: Rc::from([]),
            provider_config: None,
            ..self.clone()
        }
    }
}

fn canonical_config(worker: &shoot::Worker) -> Option<Rc<str>> {
    worker
        .provider_config
        .map(|raw| Rc::from(canonical(raw.get()).as_ref()))
}

/// Pools by setup: the first of each, and how many of them are counted.
type Pools<'s> = BTreeMap<NodeSetup<'s>, (&'s shoot::Worker<'s>, usize)>;

/// Counts `worker` (if `counted`) under its setup.
#[inline(never)]
fn tally<'s>(
    pools: &mut Pools<'s>,
    setup: NodeSetup<'s>,
    worker: &'s shoot::Worker<'s>,
    counted: bool,
) {
    let (_, n) = pools.entry(setup).or_insert((worker, 0));
    *n += usize::from(counted);
}

/// Whether a counted pool of `setup` is there; `taken` from the count.
#[inline(never)]
fn stands_for<'s>(pools: &mut Pools<'s>, setup: &NodeSetup<'s>, taken: usize) -> bool {
    pools
        .get_mut(setup)
        .filter(|(_, n)| *n > 0)
        .map(|(_, n)| *n -= taken)
        .is_some()
}

/// A pool set up otherwise than `setup`, and its setup.
#[inline(never)]
fn other<'s>(
    pools: &Pools<'s>,
    setup: &NodeSetup,
) -> Option<(&'s shoot::Worker<'s>, NodeSetup<'s>)> {
    pools
        .iter()
        .find(|(is, _)| *is != setup)
        .map(|(is, &(to, _))| (to, is.clone()))
}

/// Both setups of a kept pool when the update replaces its nodes.
fn kept_pool_change<'s>(
    (before, old): (&'s shoot::Worker<'s>, &Side<'s>),
    (after, new): (&'s shoot::Worker<'s>, &Side<'s>),
) -> Option<(NodeSetup<'s>, NodeSetup<'s>)> {
    let (mut was, mut is) = (
        NodeSetup::of(before, old, false),
        NodeSetup::of(after, new, false),
    );
    // The configs as written first: canonicalised only when they differ.
    if before.provider_config.map(RawValue::get) != after.provider_config.map(RawValue::get) {
        was.provider_config = canonical_config(before);
        is.provider_config = canonical_config(after);
    }
    (was != is).then_some((was, is))
}

/// A Shoot with its kubelet settings, read once for all its pools.
struct Side<'s> {
    shoot: &'s Shoot<'s>,
    kubelet: SharedKubelet<'s>,
}

fn changed_pools<'s>(old: &'s Shoot<'s>, new: &'s Shoot<'s>) -> Vec<PoolChange<'s>> {
    let old_side = Side {
        shoot: old,
        kubelet: SharedKubelet::of(old, None),
    };
    let new_side = Side {
        shoot: new,
        kubelet: SharedKubelet::of(new, Some(&old_side.kubelet)),
    };
    // Old pools by name (the first of a name, as `Shoot::worker` finds it): a
    // lookup per new pool by scan is quadratic in the pools.
    let mut old_pools: BTreeMap<&str, &shoot::Worker> = BTreeMap::new();
    for worker in old.workers() {
        old_pools.entry(worker.name.as_ref()).or_insert(worker);
    }
    // Added pools but those of `maximum: 0` per setup: the first (for
    // messages) and how many with nodes are not yet standing for a removed pool.
    let mut added = Pools::new();
    let mut changes = Vec::new();
    let mut new_names = BTreeSet::new();
    // Kept pools, each with whether this update changes its setup.
    let mut kept = Vec::new();
    // A name the API server would refuse twice counts once.
    for worker in new
        .workers()
        .iter()
        .filter(|w| new_names.insert(w.name.as_ref()))
    {
        let Some(&before) = old_pools.get(worker.name.as_ref()) else {
            // A pool of `maximum: 0` takes no workloads.
            if worker.maximum != Some(0) {
                let setup = NodeSetup::of(worker, &new_side, true);
                tally(&mut added, setup, worker, worker.maximum > Some(0));
            }
            continue;
        };
        let setups = kept_pool_change((before, &old_side), (worker, &new_side));
        kept.push((worker, setups.is_some()));
        // A pool of `maximum: 0` had no node to replace.
        if let Some(setups) = setups.filter(|_| before.maximum != Some(0)) {
            changes.push(PoolChange::setup(
                (before, old),
                (worker, new),
                setups,
                None,
            ));
        }
    }
    // The node software of the kept pools with nodes: the first pool running
    // each, and how many of those this update leaves as they were. Read when
    // first needed.
    let mut kept_software: Option<Pools> = None;
    // Gardener deletes a removed pool's machines at once: its workloads move
    // to the added pools, so it rolls when they are set up otherwise.
    for worker in old.workers() {
        let name = worker.name.as_ref();
        let first = old_pools
            .get(name)
            .is_some_and(|&w| std::ptr::eq(w, worker));
        if !first || new_names.contains(name) || worker.maximum == Some(0) {
            continue;
        }
        let mut was = NodeSetup::of(worker, &old_side, true);
        // Each pool added with a removed one's setup and nodes can take its
        // workloads (a scale-in under a new name); one such pool stands for one.
        if stands_for(&mut added, &was, 1) {
            continue;
        }
        // For the message, the pool taking its workloads: one of its machine
        // type if any, else any set up otherwise.
        let same_type = NodeSetup {
            machine_type: was.machine_type,
            image: None,
            kubernetes: None,
            volume: None,
            data_volumes: Rc::from([]),
            cri: None,
            kubelet: SharedKubelet::default(),
            provider_config: None,
        };
        let mut pools = "added pools";
        let mut target = added
            .range(same_type..)
            .take_while(|(is, _)| is.machine_type == was.machine_type)
            .find(|(is, _)| **is != was)
            .map(|(is, &(to, ..))| (to, is.clone()))
            .or_else(|| other(&added, &was));
        // With none added, its workloads stay on its node software only
        // where a kept pool left as it was runs that.
        if target.is_none() {
            let software = kept_software.get_or_insert_with(|| {
                let mut software = Pools::new();
                for &(w, rolled) in kept.iter().filter(|(w, _)| w.maximum != Some(0)) {
                    let setup = NodeSetup::of(w, &new_side, false).software();
                    tally(&mut software, setup, w, !rolled);
                }
                software
            });
            // Compared by software alone, in the message too.
            was = was.software();
            if stands_for(software, &was, 0) {
                continue;
            }
            target = other(software, &was);
            pools = "kept pools";
        }
        let Some((to, is)) = target else {
            continue;
        };
        changes.push(PoolChange::setup(
            (worker, old),
            (to, new),
            (was, is),
            Some(pools),
        ));
    }
    changes
}

/// Credentials rotations that replace every pool's nodes.
const ROLLING_ROTATIONS: [&str; 3] = [
    "rotate-credentials-start",
    "rotate-ca-start",
    "rotate-serviceaccount-key-start",
];

/// The pools that the operations this update adds roll (in either
/// operation annotation, several joined by `;`; one already waiting in the
/// old value of the same annotation does not count again), each with the
/// first operation that rolls it.
fn operation_pools<'s>(
    old: &'s Shoot<'s>,
    new: &'s Shoot<'s>,
) -> BTreeMap<&'s str, ShootOperation<'s>> {
    let mut rolled = BTreeMap::new();
    if new.operations().iter().all(Option::is_none) {
        return rolled;
    }
    // The old object's pools with nodes: an added pool or one of `maximum: 0`
    // has no node to roll (the caller skips removed ones).
    let names = btree::set(
        old.workers()
            .iter()
            .filter(|w| w.maximum != Some(0))
            .map(|w| w.name.as_ref()),
    );
    let mut every_pool = None;
    for (value, before) in new.operations().into_iter().zip(old.operations()) {
        let waiting = btree::set(before.unwrap_or("").split(';').map(str::trim));
        let mut seen = BTreeSet::new();
        let added = value
            .unwrap_or("")
            .split(';')
            .map(str::trim)
            .filter(|op| !waiting.contains(op) && seen.insert(*op));
        for operation in added {
            let rollout = ["rollout-workers", "rotate-rollout-workers"]
                .into_iter()
                .find_map(|verb| Some((verb, operation.strip_prefix(verb)?.strip_prefix('=')?)));
            match rollout {
                Some((verb, "*")) => {
                    every_pool = every_pool.or(Some(ShootOperation::Every(verb)));
                }
                Some((verb, list)) => {
                    for name in list.split(',').map(str::trim) {
                        if let Some(&pool) = names.get(name) {
                            rolled.entry(pool).or_insert(ShootOperation::Listed(verb));
                        }
                    }
                }
                None if ROLLING_ROTATIONS.contains(&operation) => {
                    every_pool = every_pool.or(Some(ShootOperation::Rotation(operation)));
                }
                None => {}
            }
        }
    }
    if let Some(operation) = every_pool {
        for name in names {
            rolled.entry(name).or_insert(operation);
        }
    }
    rolled
}

/// The pools this update replaces: by setup, then by operation.
fn rolled_pools<'s>(old: &'s Shoot<'s>, new: &'s Shoot<'s>) -> Vec<PoolChange<'s>> {
    let mut changes = changed_pools(old, new);
    let mut by_operation = operation_pools(old, new);
    for change in &changes {
        by_operation.remove(change.name);
    }
    // In the Shoot's order; each name once.
    for worker in new.workers() {
        let name = worker.name.as_ref();
        if let Some(operation) = by_operation.remove(name) {
            changes.push(PoolChange {
                name,
                cause: Cause::Operation(operation),
            });
        }
    }
    changes
}

fn image_text(image: Option<&MachineImage>) -> String {
    image.map_or_else(|| NOT_SET.to_string(), MachineImage::text)
}

/// Machine image versions `new` runs in some pool that `old` ran in none,
/// with the pools (index, name) that adopt each.
fn adopted_images<'n>(
    old: &Shoot,
    new: &'n Shoot<'n>,
) -> Vec<(&'n MachineImage<'n>, Vec<(usize, &'n str)>)> {
    // Sets and an index, not scans per pool: those are quadratic in the pools.
    let old_images = btree::set(
        old.workers()
            .iter()
            .filter_map(|w| w.image())
            .map(image_key),
    );
    let mut adopted: Vec<(&MachineImage, Vec<(usize, &str)>)> = Vec::new();
    let mut positions: BTreeMap<(&str, Option<&str>), usize> = BTreeMap::new();
    for (index, worker) in new.workers().iter().enumerate() {
        let Some(image) = worker.image().filter(|i| i.version.is_some()) else {
            continue;
        };
        let key = image_key(image);
        if old_images.contains(&key) {
            continue;
        }
        let pool = (index, worker.name.as_ref());
        match positions.get(&key).and_then(|&at| adopted.get_mut(at)) {
            Some((_, pools)) => pools.push(pool),
            None => {
                positions.insert(key, adopted.len());
                adopted.push((image, vec![pool]));
            }
        }
    }
    adopted
}

fn image_key<'i>(image: &'i MachineImage) -> (&'i str, Option<&'i str>) {
    (&image.name, image.version.as_deref())
}

/// For each adopted image, the canaries (indexes into `canaries`) that run
/// it, in one pass over their pools: not a scan of every canary per image,
/// which is quadratic with thousands of both. Each comes with a pool of
/// `maximum: 0` where only such pools name the image: no node runs it there.
#[inline(never)]
fn canary_runners<'c>(
    adopted: &[(&MachineImage, Vec<(usize, &str)>)],
    canaries: &'c [(String, &'c Shoot<'c>)],
) -> Vec<Vec<(usize, Option<&'c str>)>> {
    let mut wanted: BTreeMap<(&str, Option<&str>), usize> = BTreeMap::new();
    let mut runners: Vec<Vec<(usize, Option<&str>)>> = Vec::with_capacity(adopted.len());
    for (image, _) in adopted {
        wanted.insert(image_key(image), runners.len());
        runners.push(Vec::new());
    }
    for (at, (_, canary)) in canaries.iter().enumerate() {
        for worker in canary.workers() {
            let Some(runs_it) = worker
                .image()
                .and_then(|image| wanted.get(&image_key(image)))
                .and_then(|i| runners.get_mut(*i))
            else {
                continue;
            };
            let empty = (worker.maximum == Some(0)).then_some(worker.name.as_ref());
            match runs_it.last_mut() {
                Some((last, only_empty)) if *last == at && empty.is_none() => *only_empty = None,
                Some((last, _)) if *last == at => {}
                _ => runs_it.push((at, empty)),
            }
        }
    }
    runners
}

/// Whether a canary that runs the image counts, and why not.
fn canary_health(canary: &Shoot) -> Result<(), String> {
    if canary.hibernated() {
        return Err("it is hibernated: no node runs the image, and Gardener reports its conditions as not checked".to_string());
    }
    if let Some((generation, observed)) = canary.unobserved_generation() {
        return Err([
            "its current spec is not rolled out yet: generation ",
            signed(generation, &mut [0; 20]),
            ", observedGeneration ",
            signed(observed, &mut [0; 20]),
        ]
        .concat());
    }
    match canary.last_operation_state() {
        Some("Succeeded") => {}
        Some("") => return Err("its last operation reports no state".to_string()),
        Some(state) => return Err(["its last operation is ", &shown(Some(state))].concat()),
        None => return Err("it reports no last operation".to_string()),
    }
    if canary.condition("EveryNodeReady") == Some("False") {
        return Err("condition EveryNodeReady is False".to_string());
    }
    Ok(())
}

fn auto_update_check(
    request: &Request,
    settings: &Settings,
    new: &Shoot,
    old: Option<&Shoot>,
    verdict: &mut Verdict,
) {
    let enabled = |shoot: &Shoot| {
        settings.class(shoot) == Class::Prod
            && !shoot.workers().is_empty()
            && shoot.machine_image_auto_update().unwrap_or(true)
    };
    if !settings.refuse_machine_image_auto_update_in_prod || !enabled(new) {
        return;
    }
    let value = match new.machine_image_auto_update() {
        Some(value) => value.to_string(),
        None => "(not set: Gardener defaults it to true)".to_string(),
    };
    let violation = Violation::new(
        "spec.maintenance.autoUpdate.machineImageVersion",
        value,
        [
            &settings.stage_text(new),
            " (a prod stage), and machine image auto-update rolls every new image version to all its pools in the next maintenance window, skipping the canary stages: a fault that takes days to show reaches prod untested (crash 5).",
        ]
        .concat(),
        "set spec.maintenance.autoUpdate.machineImageVersion: false and update machine.image.version by hand, pool by pool, once canaries run the version.",
    );
    if old.is_some_and(enabled) {
        verdict.warning(violation.kept_warning(
            StagedRollout::NAME,
            &request.object_ref(),
            " was already the case before this update, so the update is allowed. ",
        ));
    } else {
        verdict.violation(violation);
    }
}

/// Pools, canaries or machine image versions named in one refusal; the
/// rest are counted.
const MAX_LISTED: usize = 20;

/// `texts` (the first [`MAX_LISTED`] of `total`) joined by `separator`, then
/// how many more there are.
#[inline(never)]
fn listing(mut texts: Vec<String>, total: usize, separator: &str) -> String {
    texts.truncate(MAX_LISTED);
    if let Some(more) = total.checked_sub(texts.len()).filter(|&n| n > 0) {
        texts.push(["and ", count(more, &mut [0; 20]), " more"].concat());
    }
    texts.join(separator)
}

fn pool_count_check(
    request: &Request,
    settings: &Settings,
    old: &Shoot,
    new: &Shoot,
    verdict: &mut Verdict,
) {
    if settings.class(old) == Class::Early && settings.class(new) == Class::Early {
        return;
    }
    let limit = settings.max_pools_changed_at_once;
    node_local_dns_check(request, settings, old, new, verdict);
    let changes = rolled_pools(old, new);
    if u64::try_from(changes.len()).unwrap_or(u64::MAX) <= limit {
        return;
    }
    let listed: Vec<String> = changes
        .iter()
        .take(MAX_LISTED)
        .map(PoolChange::description)
        .collect();
    let operation = changes.iter().find_map(|c| match c.cause {
        Cause::Operation(operation) => Some(operation),
        Cause::Setup { .. } => None,
    });
    let operation_fix = match operation {
        Some(ShootOperation::Rotation(operation)) => [
            " For the credentials rotation, annotate ",
            operation,
            "-without-workers-rollout instead, then roll the pools with gardener.cloud/operation=rotate-rollout-workers=<pool>, one pool at a time.",
        ]
        .concat(),
        Some(_) => " Name one pool per rollout-workers or rotate-rollout-workers annotation.".to_string(),
        None => String::new(),
    };
    // With no early stage, no label lets a Shoot roll every pool at once.
    let relabel = match settings.early_stages.first() {
        Some(stage) => [
            " If this is a development Shoot, label it ",
            &settings.stage_label,
            "=",
            stage,
            " in a separate update first (the stage is read from the Shoot before and after the update, so relabelling in this one does not help), then roll.",
        ]
        .concat(),
        None => String::new(),
    };
    verdict.violation(Violation::new(
        "spec.provider.workers",
        [
            count(changes.len(), &mut [0; 20]),
            " of ",
            count(old.workers().len(), &mut [0; 20]),
            " pools rolled at once: ",
            &listing(listed, changes.len(), "; "),
        ]
        .concat(),
        [
            &settings.stage_text(new),
            " (not an early stage), and this update replaces the nodes of more than ",
            decimal(limit, &mut [0; 20]),
            " pool(s) at once: a new node image or kubelet with a fault that takes days to show (the incident: a systemd-journald memory leak put every node under memory pressure) hits all pools together, with no healthy pool left to move workloads to (crash 5).",
        ]
        .concat(),
        [
            "change at most ",
            decimal(limit, &mut [0; 20]),
            " pool(s) per update: roll one pool first, watch it for days (node memory, journald), then the next; keep the other pools as they are meanwhile (their machine image, machine type, volumes, CRI, kubelet settings and providerConfig; to pin a pool to the Shoot's current kubernetes.version or kubelet settings, set them in the pool's own kubernetes block); replace pools one at a time too.",
            &operation_fix,
            &relabel,
        ]
        .concat(),
    ));
}

/// Switching node-local DNS rolls every pool at once, and Gardener has no
/// way to switch it per pool: allowed, with a warning.
fn node_local_dns_check(
    request: &Request,
    settings: &Settings,
    old: &Shoot,
    new: &Shoot,
    verdict: &mut Verdict,
) {
    let pools = new.workers().len();
    if old.node_local_dns() == new.node_local_dns()
        || new.hibernated()
        || u64::try_from(pools).unwrap_or(u64::MAX) <= settings.max_pools_changed_at_once
    {
        return;
    }
    let fix = if settings.class(new) == Class::Canary {
        "watch this canary Shoot for days before making the same change on prod Shoots; keep other pool changes out of this update."
    } else {
        "make the same change on canary Shoots first and watch them for days before this one; keep other pool changes out of this update."
    };
    let violation = Violation::new(
        "spec.systemComponents.nodeLocalDNS.enabled",
        if new.node_local_dns() {
            "true (was false)"
        } else {
            "false (was true)"
        },
        [
            &settings.stage_text(new),
            " (not an early stage), and Gardener replaces the nodes of every pool (",
            count(pools, &mut [0; 20]),
            ") at once for this change: a fault in it that takes days to show would hit all pools together, with no healthy pool left to move workloads to (crash 5).",
        ]
        .concat(),
        fix,
    );
    verdict.warning(violation.kept_warning(
        StagedRollout::NAME,
        &request.object_ref(),
        " is allowed, since Gardener offers no way to make this change one pool at a time; but note: ",
    ));
}

fn canary_check(
    settings: &Settings,
    host: &dyn Host,
    old: &Shoot,
    new: &Shoot,
    verdict: &mut Verdict,
) {
    if settings.min_canaries == 0
        || (settings.class(old) != Class::Prod && settings.class(new) != Class::Prod)
    {
        return;
    }
    let adopted = adopted_images(old, new);
    if adopted.is_empty() {
        return;
    }
    let selector = settings.canary_selector().to_query();
    let body = ListResources {
        api_version: shoot::API_VERSION,
        kind: shoot::KIND,
        namespace: None,
        label_selector: Some(selector.clone()),
        field_selector: None,
        field_masks: Some(CANARY_FIELD_MASKS.to_vec()),
    }
    .call(host);
    let canaries = match body.as_deref().map_err(Clone::clone).and_then(list_shoots) {
        Ok(canaries) => canaries,
        Err(error) => {
            let images: Vec<String> = adopted.iter().map(|(i, _)| i.text()).collect();
            settings.on_lookup_failure.record(
                verdict,
                StagedRollout::NAME,
                &["the canary-stage Shoots (label selector `", &selector, "`)"].concat(),
                &[
                    "whether at least ",
                    decimal(settings.min_canaries, &mut [0; 20]),
                    " canary Shoots already run ",
                    &images.join(", "),
                ]
                .concat(),
                &error,
            );
            return;
        }
    };
    let me = new.reference();
    let others: Vec<(String, &Shoot)> = canaries
        .iter()
        .map(|c| (c.reference(), c))
        .filter(|(reference, _)| *reference != me)
        .collect();
    let runners = canary_runners(&adopted, &others);
    let mut refused = 0usize;
    for ((image, pools), runners) in adopted.into_iter().zip(runners) {
        let (mut counted, mut not_counted) = (Vec::new(), Vec::new());
        let (mut healthy, mut not_counted_total) = (0usize, 0usize);
        for (at, empty) in runners {
            let Some((reference, canary)) = others.get(at) else {
                continue;
            };
            let health = match empty {
                Some(pool) => Err([
                    "its pool ",
                    &shown(Some(pool)),
                    " that runs the image has maximum 0: no node runs it",
                ]
                .concat()),
                None => canary_health(canary),
            };
            match health {
                Ok(()) => {
                    healthy += 1;
                    if counted.len() < MAX_LISTED {
                        counted.push(reference.clone());
                    }
                }
                Err(reason) => {
                    not_counted_total += 1;
                    if not_counted.len() < MAX_LISTED {
                        not_counted.push([reference, " (", &reason, ")"].concat());
                    }
                }
            }
        }
        if u64::try_from(healthy).unwrap_or(u64::MAX) >= settings.min_canaries {
            continue;
        }
        refused += 1;
        if refused > MAX_LISTED {
            continue;
        }
        let found = if counted.is_empty() {
            "none".to_string()
        } else {
            listing(counted, healthy, ", ")
        };
        let ignored = if not_counted.is_empty() {
            String::new()
        } else {
            [
                "; running it but not counted: ",
                &listing(not_counted, not_counted_total, ", "),
            ]
            .concat()
        };
        let image_name = image.text();
        let fix = [
            "roll ",
            &image_name,
            " out to at least ",
            decimal(settings.min_canaries, &mut [0; 20]),
            " canary Shoots first and let it run there for days; until then keep this Shoot's pools on the image version they run now.",
        ]
        .concat();
        let (first_index, _) = pools.first().copied().unwrap_or((0, ""));
        let pool_names: Vec<String> = pools
            .iter()
            .take(MAX_LISTED)
            .map(|(_, name)| name.to_string())
            .collect();
        verdict.violation(Violation::new(
            [
                "spec.provider.workers[",
                count(first_index, &mut [0; 20]),
                if pools.len() == 1 {
                    "].machine.image (pool "
                } else {
                    "].machine.image (pools "
                },
                &listing(pool_names, pools.len(), ", "),
                ")",
            ]
            .concat(),
            image_name,
            [
                &settings.stage_text(new),
                " (a prod stage) and adopts this machine image version, but it runs on ",
                count(healthy, &mut [0; 20]),
                " healthy canary Shoot(s) (label selector `",
                &selector,
                "`): ",
                &found,
                &ignored,
                "; at least ",
                decimal(settings.min_canaries, &mut [0; 20]),
                " are required, so a fault that takes days to show (the incident: a systemd-journald memory leak in a new node image) would reach prod before any canary could show it (crash 5).",
            ]
            .concat(),
            fix,
        ));
    }
    // Each refused version is listed above up to a bound; the rest counted.
    if refused > MAX_LISTED {
        verdict.violation(Violation::new(
            "spec.provider.workers[*].machine.image",
            [
                &listing(Vec::new(), refused - MAX_LISTED, ""),
                " machine image versions",
            ]
            .concat(),
            [
                &settings.stage_text(new),
                " (a prod stage) and adopts these versions too, each on fewer than ",
                decimal(settings.min_canaries, &mut [0; 20]),
                " healthy canary Shoots (crash 5).",
            ]
            .concat(),
            "roll each out to canary Shoots first, as above.",
        ));
    }
}

impl Rule for StagedRollout {
    const NAME: &'static str = "staged-rollout";
    type Settings = Settings;
    type Object<'a> = Shoot<'a>;

    fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
        match operation {
            Operation::Create if is_shoot(kind) => Prefetch::OBJECT,
            Operation::Update if is_shoot(kind) => Prefetch::BOTH,
            _ => Prefetch::NONE,
        }
    }

    fn exemptions(settings: &Settings) -> &Exemptions {
        &settings.exemptions
    }

    fn evaluate<'a>(
        request: &Request<'a>,
        objects: Objects<'a, Shoot<'a>>,
        settings: &Settings,
        host: &dyn Host,
    ) -> Result<Verdict, DecodeError> {
        if !is_shoot(&request.kind)
            || !matches!(request.operation, Operation::Create | Operation::Update)
        {
            return Ok(Verdict::accept());
        }
        let Some(new) = objects.object.decode()? else {
            return Ok(Verdict::accept());
        };
        let old = match request.operation {
            Operation::Update => objects.old_object.decode()?,
            _ => None,
        };
        let mut verdict = Verdict::accept();
        auto_update_check(request, settings, &new, old.as_ref(), &mut verdict);
        if let Some(old) = &old {
            pool_count_check(request, settings, old, &new, &mut verdict);
            canary_check(settings, host, old, &new, &mut verdict);
        }
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::{json, Value};
    use std::cell::RefCell;

    const V1: &str = "1592.1.0";
    const V2: &str = "1592.2.0";

    fn shoot(name: &str, stage: &str, images: [&str; 3]) -> Value {
        let pool = |pool: &str, version: &str| {
            json!({"name": pool, "minimum": 2, "maximum": 6, "maxSurge": 1,
                   "machine": {"type": "m5.large", "image": {"name": "gardenlinux", "version": version}}})
        };
        json!({
            "apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot",
            "metadata": {"name": name, "namespace": "garden-shop", "labels": {"crash-guard.io/stage": stage}},
            "spec": {
                "kubernetes": {"version": "1.31.2"},
                "provider": {"type": "aws", "workers": [pool("a", images[0]), pool("b", images[1]), pool("c", images[2])]},
                "maintenance": {"autoUpdate": {"kubernetesVersion": true, "machineImageVersion": false}}
            },
            "status": {"lastOperation": {"type": "Reconcile", "state": "Succeeded"},
                       "conditions": [{"type": "EveryNodeReady", "status": "True"}]}
        })
    }

    #[test]
    fn canary_runners_index_each_adopted_image_once_per_canary() {
        let decode = |value: Value| -> Shoot<'static> {
            let text: &'static str = Box::leak(value.to_string().into_boxed_str());
            serde_json::from_str(text).expect("shoot")
        };
        let old = decode(shoot("checkout", "prod", [V1, V1, V1]));
        let new = decode(shoot("checkout", "prod", [V2, "1592.3.0", V2]));
        let adopted = adopted_images(&old, &new);
        let canaries = [
            decode(canary("a", V2, "Succeeded")),
            decode(zero_size(shoot("b", "canary", [V1, "1592.3.0", V2]), 2)),
            decode(canary("c", V1, "Succeeded")),
            decode(zero_size(
                shoot("d", "canary", ["1592.3.0", "1592.3.0", V2]),
                1,
            )),
        ];
        let others: Vec<(String, &Shoot)> = canaries.iter().map(|c| (c.reference(), c)).collect();
        let runners = canary_runners(&adopted, &others);
        let images: Vec<String> = adopted.iter().map(|(image, _)| image.text()).collect();
        assert_eq!(images, ["gardenlinux 1592.2.0", "gardenlinux 1592.3.0"]);
        // b runs 1592.3.0 only in its pool of maximum 0; d in another pool too.
        assert_eq!(
            runners,
            [
                vec![(0, None), (1, None), (3, None)],
                vec![(1, Some("b")), (3, None)]
            ]
        );
    }

    fn canary(name: &str, version: &str, state: &str) -> Value {
        let mut object = shoot(name, "canary", [version, version, version]);
        object["metadata"]["namespace"] = json!("garden-qa");
        object["status"]["lastOperation"]["state"] = json!(state);
        object
    }

    /// Hibernated as Gardener reports it: every condition True, not checked.
    fn hibernated(mut object: Value) -> Value {
        object["spec"]["hibernation"] = json!({"enabled": true});
        object["status"]["hibernated"] = json!(true);
        object["status"]["conditions"] =
            json!([{"type": "EveryNodeReady", "status": "True", "reason": "ConditionNotChecked"}]);
        object
    }

    fn generations(mut object: Value, generation: i64, observed: i64) -> Value {
        object["metadata"]["generation"] = json!(generation);
        object["status"]["observedGeneration"] = json!(observed);
        object
    }

    /// The first `pools` pools scaled to `maximum: 0`.
    fn zero_size(mut object: Value, pools: usize) -> Value {
        for i in 0..pools {
            object["spec"]["provider"]["workers"][i]["maximum"] = json!(0);
        }
        object
    }

    fn without_state(mut object: Value) -> Value {
        object["status"]["lastOperation"] = json!({"type": "Reconcile"});
        object
    }

    /// Serves one list of Shoots (filtered by stage as the API server would) or an error.
    struct FakeHost {
        answer: Result<Vec<Value>, String>,
        calls: RefCell<Vec<String>>,
    }

    impl FakeHost {
        fn new(answer: Result<Vec<Value>, String>) -> Self {
            Self {
                answer,
                calls: RefCell::new(Vec::new()),
            }
        }
    }

    impl Host for FakeHost {
        fn call(
            &self,
            namespace: &str,
            operation: &str,
            payload: &[u8],
        ) -> Result<Vec<u8>, String> {
            self.calls.borrow_mut().push(format!(
                "{namespace}/{operation} {}",
                String::from_utf8_lossy(payload)
            ));
            let items = self.answer.clone()?;
            Ok(json!({"apiVersion": "core.gardener.cloud/v1beta1", "kind": "ShootList", "items": items})
                .to_string()
                .into_bytes())
        }
    }

    fn request(operation: &str, object: &Value, old: &Value) -> String {
        json!({
            "uid": "u", "operation": operation,
            "kind": {"group": "core.gardener.cloud", "version": "v1beta1", "kind": "Shoot"},
            "namespace": "garden-shop", "name": "web",
            "object": object, "oldObject": old,
        })
        .to_string()
    }

    fn judge(json: &str, host: &FakeHost) -> Verdict {
        crate::policy::evaluate::<StagedRollout>(json, &Settings::default(), host).expect("decodes")
    }

    /// Judges the review as written: `judge` re-encodes it, sorting keys.
    fn judge_raw(review: &str) -> Verdict {
        let payload = [r#"{"request":"#, review, r#","settings":null}"#].concat();
        let (request, _, objects) =
            Request::decode_payload_with::<Shoot<'_>>(&payload, StagedRollout::prefetch)
                .expect("decodes");
        let host = FakeHost::new(Ok(vec![]));
        StagedRollout::evaluate(&request, objects, &Settings::default(), &host).expect("evaluates")
    }

    fn two_canaries() -> Result<Vec<Value>, String> {
        Ok(vec![
            canary("canary-eu", V2, "Succeeded"),
            canary("canary-us", V2, "Succeeded"),
        ])
    }

    #[rstest]
    #[case::one_pool_unlabeled("none", [V2, V1, V1], two_canaries(), true, 0)]
    #[case::all_pools_unlabeled("none", [V2, V2, V2], two_canaries(), false, 0)]
    #[case::all_pools_canary_stage("canary", [V2, V2, V2], two_canaries(), false, 0)]
    #[case::all_pools_dev("dev", [V2, V2, V2], two_canaries(), true, 0)]
    #[case::prod_one_pool_two_canaries("prod", [V2, V1, V1], two_canaries(), true, 1)]
    #[case::prod_one_pool_no_canary("prod", [V2, V1, V1], Ok(vec![]), false, 1)]
    #[case::prod_one_pool_one_canary("prod", [V2, V1, V1], Ok(vec![canary("canary-eu", V2, "Succeeded")]), false, 1)]
    #[case::prod_unhealthy_canary_not_counted("prod", [V2, V1, V1], Ok(vec![canary("canary-eu", V2, "Succeeded"), canary("canary-us", V2, "Failed")]), false, 1)]
    #[case::prod_canaries_other_version("prod", [V2, V1, V1], Ok(vec![canary("canary-eu", V1, "Succeeded"), canary("canary-us", V1, "Succeeded")]), false, 1)]
    #[case::prod_lookup_failure_allowed("prod", [V2, V1, V1], Err("connection refused".to_string()), true, 1)]
    #[case::prod_no_image_change("prod", [V1, V1, V1], Ok(vec![]), true, 0)]
    #[case::prod_hibernated_canaries_not_counted("prod", [V2, V1, V1], Ok(vec![hibernated(canary("canary-eu", V2, "Succeeded")), hibernated(canary("canary-us", V2, "Succeeded"))]), false, 1)]
    #[case::prod_unreconciled_canaries_not_counted("prod", [V2, V1, V1], Ok(vec![generations(canary("canary-eu", V2, "Succeeded"), 8, 7), generations(canary("canary-us", V2, "Succeeded"), 8, 7)]), false, 1)]
    #[case::prod_zero_size_canary_not_counted("prod", [V2, V1, V1], Ok(vec![canary("canary-eu", V2, "Succeeded"), zero_size(canary("canary-us", V2, "Succeeded"), 3)]), false, 1)]
    #[case::prod_canary_with_one_sized_pool_counted("prod", [V2, V1, V1], Ok(vec![canary("canary-eu", V2, "Succeeded"), zero_size(canary("canary-us", V2, "Succeeded"), 2)]), true, 1)]
    #[case::prod_reconciled_canaries_counted("prod", [V2, V1, V1], Ok(vec![generations(canary("canary-eu", V2, "Succeeded"), 8, 8), generations(canary("canary-us", V2, "Succeeded"), 8, 8)]), true, 1)]
    fn judges_updates(
        #[case] stage: &str,
        #[case] images: [&str; 3],
        #[case] cluster: Result<Vec<Value>, String>,
        #[case] accepted: bool,
        #[case] lookups: usize,
    ) {
        let old = shoot("web", stage, [V1, V1, V1]);
        let new = shoot("web", stage, images);
        let host = FakeHost::new(cluster);
        let verdict = judge(&request("UPDATE", &new, &old), &host);
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
        assert_eq!(host.calls.borrow().len(), lookups);
    }

    fn wide_shoot(stage: &str, pools: usize, version: &str) -> Value {
        let mut object = shoot("web", stage, [V1, V1, V1]);
        object["spec"]["provider"]["workers"] = (0..pools)
            .map(|i| json!({"name": format!("p{i}"), "machine": {"image": {"name": "gardenlinux", "version": format!("{version}.{i}")}}}))
            .collect();
        object
    }

    /// Fuzzing-review regression: old pools and adopted images were found by
    /// a scan per new pool, quadratic in the worker pools.
    #[rstest]
    #[case::every_pool_new_image("prod", 20_000, false)]
    #[case::dev_every_pool_new_image("dev", 20_000, true)]
    fn wide_updates_are_linear(#[case] stage: &str, #[case] pools: usize, #[case] accepted: bool) {
        let json = request(
            "UPDATE",
            &wide_shoot(stage, pools, "2"),
            &wide_shoot(stage, pools, "1"),
        );
        let host = FakeHost::new(Ok(vec![]));
        let verdict = judge(&json, &host);
        assert_eq!(verdict.is_accepted(), accepted);
    }

    #[test]
    fn lookup_uses_selector_and_masks() {
        let old = shoot("web", "prod", [V1, V1, V1]);
        let new = shoot("web", "prod", [V2, V1, V1]);
        let host = FakeHost::new(two_canaries());
        judge(&request("UPDATE", &new, &old), &host);
        let calls = host.calls.borrow();
        let call = calls.first().expect("one lookup");
        assert!(call.starts_with("kubernetes/list_resources_all"), "{call}");
        assert!(
            call.contains(r#""label_selector":"crash-guard.io/stage in (canary)""#),
            "{call}"
        );
        assert!(call.contains(r#""field_masks":["metadata.name""#), "{call}");
    }

    #[test]
    fn lookup_failure_warns_naming_what_was_not_checked() {
        let old = shoot("web", "prod", [V1, V1, V1]);
        let new = shoot("web", "prod", [V2, V1, V1]);
        let verdict = judge(
            &request("UPDATE", &new, &old),
            &FakeHost::new(Err("timeout".into())),
        );
        assert!(verdict.is_accepted());
        assert_eq!(verdict.warnings.len(), 1);
        assert!(
            verdict.warnings[0].contains("gardenlinux 1592.2.0"),
            "{:?}",
            verdict.warnings
        );
    }

    #[test]
    fn canary_message_names_found_canaries() {
        let old = shoot("web", "prod", [V1, V1, V1]);
        let new = shoot("web", "prod", [V2, V1, V1]);
        let host = FakeHost::new(Ok(vec![
            canary("canary-eu", V2, "Succeeded"),
            canary("canary-us", V2, "Processing"),
        ]));
        let response = judge(&request("UPDATE", &new, &old), &host)
            .into_response("staged-rollout", "Shoot garden-shop/web");
        let message = response.message.unwrap_or_default();
        for needle in [
            "spec.provider.workers[0].machine.image (pool a) = gardenlinux 1592.2.0",
            "garden-qa/canary-eu",
            "garden-qa/canary-us (its last operation is Processing)",
            "at least 2 are required",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }

    #[test]
    fn kubernetes_version_change_counts_for_pools_without_override() {
        let old = shoot("web", "none", [V1, V1, V1]);
        let mut new = old.clone();
        new["spec"]["kubernetes"]["version"] = json!("1.32.0");
        new["spec"]["provider"]["workers"][0]["kubernetes"] = json!({"version": "1.31.2"});
        new["spec"]["provider"]["workers"][1]["kubernetes"] = json!({"version": "1.31.2"});
        let host = FakeHost::new(Ok(vec![]));
        assert!(judge(&request("UPDATE", &new, &old), &host).is_accepted());
        new["spec"]["provider"]["workers"][1]["kubernetes"] = Value::Null;
        let verdict = judge(&request("UPDATE", &new, &old), &host);
        assert!(!verdict.is_accepted());
        assert!(verdict.violations[0]
            .value
            .contains("via spec.kubernetes.version"));
    }

    #[rstest]
    #[case::prod_create_refused("CREATE", Some(true), Value::Null, false, 0)]
    #[case::prod_unset_defaults_true("CREATE", None, Value::Null, false, 0)]
    #[case::prod_off_accepted("CREATE", Some(false), Value::Null, true, 0)]
    #[case::already_on_warns("UPDATE", Some(true), shoot("web", "prod", [V1, V1, V1]), true, 1)]
    fn judges_auto_update(
        #[case] operation: &str,
        #[case] auto_update: Option<bool>,
        #[case] old: Value,
        #[case] accepted: bool,
        #[case] warnings: usize,
    ) {
        let mut new = shoot("web", "prod", [V1, V1, V1]);
        new["spec"]["maintenance"]["autoUpdate"]["machineImageVersion"] = json!(auto_update);
        let mut old = old;
        if old.is_object() {
            old["spec"]["maintenance"]["autoUpdate"]["machineImageVersion"] = json!(true);
        }
        let verdict = judge(&request(operation, &new, &old), &FakeHost::new(Ok(vec![])));
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
        assert_eq!(verdict.warnings.len(), warnings);
    }

    #[rstest]
    #[case::delete("DELETE", "Shoot")]
    #[case::other_kind("UPDATE", "Seed")]
    fn ignores(#[case] operation: &str, #[case] kind: &str) {
        let old = shoot("web", "prod", [V1, V1, V1]);
        let new = shoot("web", "prod", [V2, V2, V2]);
        let json = json!({
            "uid": "u", "operation": operation,
            "kind": {"group": "core.gardener.cloud", "version": "v1beta1", "kind": kind},
            "object": new, "oldObject": old,
        })
        .to_string();
        let host = FakeHost::new(Ok(vec![]));
        assert!(judge(&json, &host).is_accepted());
        assert!(host.calls.borrow().is_empty());
    }

    #[rstest]
    #[case::bad_label_key(r#"{"stageLabel":"crash guard/stage"}"#, "stageLabel")]
    #[case::uppercase_label_prefix(
        r#"{"stageLabel":"Crash-Guard.io/stage"}"#,
        "stageLabel: `Crash-Guard.io/stage` is not a valid label key: the prefix before `/` must be a lowercase DNS subdomain"
    )]
    #[case::bad_stage(r#"{"prodStages":["prod,eu"]}"#, "prodStages[0]")]
    #[case::empty_stage(r#"{"earlyStages":[""]}"#, "earlyStages[0]")]
    #[case::overlap(
        r#"{"earlyStages":["dev","prod"]}"#,
        "prodStages: stage `prod` is also in earlyStages"
    )]
    #[case::zero_pools(r#"{"maxPoolsChangedAtOnce":0}"#, "maxPoolsChangedAtOnce")]
    #[case::no_canary_stage(r#"{"canaryStages":[]}"#, "canaryStages: must name at least one stage")]
    #[case::unlabeled_canary(
        r#"{"unlabeledStage":"canary"}"#,
        "unlabeledStage: `canary` is a canary stage, but the canary lookup selects Shoots by their stageLabel"
    )]
    #[case::bad_lookup_failure(r#"{"onLookupFailure":"ignore"}"#, "onLookupFailure")]
    #[case::unknown_key(r#"{"stages":[]}"#, "unknown field `stages`")]
    fn refuses_invalid_settings(#[case] json: &str, #[case] expected: &str) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }

    #[rstest]
    #[case::plain("stage", true)]
    #[case::prefixed("crash-guard.io/stage", true)]
    #[case::space("a b", false)]
    #[case::empty_prefix("/stage", false)]
    #[case::too_long(&"x".repeat(64), false)]
    #[case::uppercase_prefix("Crash-Guard.io/stage", false)]
    #[case::uppercase_domain("EXAMPLE.COM/stage", false)]
    #[case::underscore_prefix("crash_guard.io/stage", false)]
    #[case::empty_prefix_part("crash-guard..io/stage", false)]
    #[case::uppercase_name("crash-guard.io/Stage", true)]
    #[case::empty_name("crash-guard.io/", false)]
    #[case::long_prefix(&[&"a".repeat(63), ".", &"b".repeat(63), ".", &"c".repeat(63), ".", &"d".repeat(63), "/x"].concat(), false)]
    fn label_keys(#[case] key: &str, #[case] valid: bool) {
        assert_eq!(label_key_problem(key).is_none(), valid);
    }

    /// Struct-level `#[serde(default)]` takes each missing field from
    /// `Settings::default()`, so setting one field keeps the others.
    #[test]
    fn one_setting_keeps_the_other_defaults() {
        let raw = serde_json::value::RawValue::from_string(r#"{"minCanaries":1}"#.to_string())
            .expect("json");
        let settings = crate::settings::parse::<Settings>(Some(&raw)).expect("valid");
        assert_eq!(
            settings,
            Settings {
                min_canaries: 1,
                ..Settings::default()
            }
        );
    }

    #[rstest]
    #[case::shoot_patch("none", "1.31.3", None, true)]
    #[case::shoot_patch_prod("prod", "1.31.3", None, true)]
    #[case::shoot_minor("none", "1.32.0", None, false)]
    #[case::pool_patch("none", "1.31.2", Some("1.31.3"), true)]
    #[case::pool_minor("none", "1.31.2", Some("1.32.1"), false)]
    fn kubernetes_patch_versions_roll_no_pool(
        #[case] stage: &str,
        #[case] shoot_version: &str,
        #[case] pool_version: Option<&str>,
        #[case] accepted: bool,
    ) {
        let mut old = shoot("web", stage, [V1, V1, V1]);
        let mut new = old.clone();
        new["spec"]["kubernetes"]["version"] = json!(shoot_version);
        if let Some(version) = pool_version {
            for i in 0..3 {
                old["spec"]["provider"]["workers"][i]["kubernetes"] = json!({"version": "1.31.2"});
                new["spec"]["provider"]["workers"][i]["kubernetes"] = json!({ "version": version });
            }
        }
        let host = FakeHost::new(Ok(vec![]));
        let verdict = judge(&request("UPDATE", &new, &old), &host);
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
    }

    fn with_pools(stage: &str, pools: &[(&str, &str)]) -> Value {
        let mut object = shoot("web", stage, [V1, V1, V1]);
        object["spec"]["provider"]["workers"] = pools
            .iter()
            .map(|(name, version)| json!({"name": name, "minimum": 2, "maximum": 6,
                "machine": {"type": "m5.large", "image": {"name": "gardenlinux", "version": version}}}))
            .collect();
        object
    }

    #[rstest]
    #[case::renamed_to_new_image("none", &[("a2", V2), ("b2", V2), ("c2", V2)], false)]
    #[case::replaced_by_one_pool("none", &[("general-v2", V2)], false)]
    #[case::replaced_by_one_pool_prod("prod", &[("general-v2", V2)], false)]
    #[case::two_replaced("none", &[("a2", V2), ("b2", V2), ("c", V1)], false)]
    #[case::one_replaced("none", &[("a2", V2), ("b", V1), ("c", V1)], true)]
    #[case::renamed_same_image("none", &[("a2", V1), ("b2", V1), ("c2", V1)], true)]
    #[case::removed_only("none", &[("a", V1), ("b", V1)], true)]
    #[case::replaced_alongside_another_image("none", &[("a", V1), ("b2", V1), ("c2", V1), ("gpu", V2)], true)]
    #[case::one_kept_image_pool_stands_for_one("none", &[("a2", V2), ("b2", V2), ("c2", V2), ("tiny", V1)], false)]
    #[case::dev_renamed_to_new_image("dev", &[("a2", V2), ("b2", V2), ("c2", V2)], true)]
    #[case::merged_into_one_kept_rolled_pool("none", &[("a", V2)], false)]
    #[case::merged_into_one_kept_pool_as_it_was("none", &[("a", V1)], true)]
    #[case::removed_beside_a_kept_pool_as_it_was("none", &[("a", V2), ("b", V1)], true)]
    fn removed_pools_roll_onto_added_pools(
        #[case] stage: &str,
        #[case] pools: &[(&str, &str)],
        #[case] accepted: bool,
    ) {
        let old = shoot("web", stage, [V1, V1, V1]);
        let new = with_pools(stage, pools);
        let verdict = judge(
            &request("UPDATE", &new, &old),
            &FakeHost::new(two_canaries()),
        );
        let rolled: Vec<&Violation> = verdict
            .violations
            .iter()
            .filter(|v| v.field == "spec.provider.workers")
            .collect();
        assert_eq!(rolled.is_empty(), accepted, "{verdict:?}");
    }

    #[rstest]
    #[case::without_nodes(0, false)]
    #[case::with_nodes(1, true)]
    fn only_added_pools_with_room_stand_for_removed_ones(
        #[case] maximum: i64,
        #[case] accepted: bool,
    ) {
        let old = shoot("web", "none", [V1, V1, V1]);
        let mut new = with_pools("none", &[("a", V2), ("b2", V1), ("c2", V1)]);
        for i in 1..3 {
            new["spec"]["provider"]["workers"][i]["maximum"] = json!(maximum);
        }
        let message = pool_change_message(&old, &new);
        assert_eq!(message.is_none(), accepted, "{message:?}");
    }

    /// Pools of `with_pools` (name, image version), with their `maximum`.
    fn sized_pools(pools: &[(&str, &str, i64)]) -> Value {
        let named: Vec<(&str, &str)> = pools.iter().map(|&(n, v, _)| (n, v)).collect();
        let mut object = with_pools("none", &named);
        for (i, &(_, _, maximum)) in pools.iter().enumerate() {
            object["spec"]["provider"]["workers"][i]["maximum"] = json!(maximum);
        }
        object
    }

    #[rstest]
    #[case::blue_green_second_step(&[("a", V1, 6), ("b", V1, 6), ("c", V1, 6), ("d", V2, 6)], &[("d", V2, 6)], false)]
    #[case::removed_beside_a_pool_as_it_was(&[("a", V1, 6), ("b", V1, 6), ("c", V1, 6), ("d", V2, 6)], &[("a", V1, 6), ("d", V2, 6)], true)]
    #[case::only_a_parked_pool_as_it_was(&[("a", V1, 6), ("b", V1, 6), ("p", V1, 0)], &[("a", V2, 6), ("p", V1, 0)], false)]
    #[case::kept_pool_rolled_onto_their_software(&[("a", V1, 6), ("b", V2, 6)], &[("a", V2, 6)], true)]
    #[case::parked_pool_rolled(&[("a", V1, 6), ("b", V1, 6), ("p", V1, 0)], &[("a", V2, 6), ("b", V1, 6), ("p", V2, 0)], true)]
    #[case::parked_pool_removed(&[("a", V1, 6), ("p", V1, 0)], &[("a", V2, 6)], true)]
    #[case::parked_pools_removed(&[("a", V1, 6), ("b", V1, 6), ("p", V1, 0), ("q", V1, 0)], &[("a2", V2, 6), ("b", V1, 6)], true)]
    #[case::unparked_pool_rolled(&[("a", V1, 6), ("b", V1, 6), ("p", V1, 0)], &[("a", V2, 6), ("b", V1, 6), ("p", V2, 6)], true)]
    fn removed_pools_roll_unless_a_kept_pool_runs_their_software(
        #[case] old: &[(&str, &str, i64)],
        #[case] new: &[(&str, &str, i64)],
        #[case] accepted: bool,
    ) {
        let message = pool_change_message(&sized_pools(old), &sized_pools(new));
        assert_eq!(message.is_none(), accepted, "{message:?}");
    }

    #[rstest]
    #[case::other_machine_type(&["machine", "type"], json!("c6i.large"), true)]
    #[case::other_volume(&["volume"], json!({"size": "200Gi"}), true)]
    #[case::other_kubelet(&["kubernetes"], json!({"kubelet": {"kubeReserved": {"cpu": "80m"}}}), false)]
    #[case::other_kubernetes_minor(&["kubernetes"], json!({"version": "1.30.4"}), false)]
    fn removed_pools_compare_node_software_with_kept_pools(
        #[case] path: &[&str],
        #[case] value: Value,
        #[case] accepted: bool,
    ) {
        // b and c differ from a in `path`; a stays as it was.
        let mut old = with_pools("none", &[("b", V1), ("c", V1), ("a", V1)]);
        old = set_in_pools(old, 2, path, &value);
        let new = with_pools("none", &[("a", V1)]);
        let message = pool_change_message(&old, &new);
        assert_eq!(message.is_none(), accepted, "{message:?}");
        if let Some(message) = message {
            assert!(message.contains("b (removed: its machines are deleted at once and its workloads move to kept pools such as a: "), "{message}");
        }
    }

    /// Sets `path` (under each pool) to `value` in the first `pools` pools.
    fn set_in_pools(mut object: Value, pools: usize, path: &[&str], value: &Value) -> Value {
        for i in 0..pools {
            let mut at = &mut object["spec"]["provider"]["workers"][i];
            for key in path {
                at = &mut at[*key];
            }
            *at = value.clone();
        }
        object
    }

    fn pool_change_message(old: &Value, new: &Value) -> Option<String> {
        let verdict = judge(&request("UPDATE", new, old), &FakeHost::new(Ok(vec![])));
        verdict
            .violations
            .iter()
            .find(|v| v.field == "spec.provider.workers")
            .map(|v| v.value.clone())
    }

    #[rstest]
    #[case::machine_type(&["machine", "type"], json!("m5.large"), json!("m6i.large"), "machine type m5.large -> m6i.large")]
    #[case::volume_size(&["volume"], json!({"size": "50Gi", "type": "gp3"}), json!({"size": "80Gi", "type": "gp3"}), "volume 50Gi gp3 -> 80Gi gp3")]
    #[case::volume_type(&["volume"], json!({"size": "50Gi"}), json!({"size": "50Gi", "type": "io2"}), "volume 50Gi -> 50Gi io2")]
    #[case::cri(&["cri"], json!({"name": "docker"}), json!({"name": "containerd"}), "CRI docker -> containerd")]
    #[case::cri_set(&["cri"], Value::Null, json!({"name": "containerd"}), "CRI (not set) -> containerd")]
    #[case::data_volumes(&["dataVolumes"], json!([{"name": "data", "size": "50Gi", "type": "gp3"}]), json!([{"name": "data", "size": "200Gi", "type": "gp3"}]), "dataVolumes[0] 50Gi gp3 -> 200Gi gp3")]
    #[case::data_volume_added(&["dataVolumes"], Value::Null, json!([{"name": "logs", "size": "20Gi"}]), "dataVolumes[0] (none) -> 20Gi (0 -> 1 data volumes)")]
    #[case::volume_encrypted(&["volume"], json!({"size": "50Gi"}), json!({"size": "50Gi", "encrypted": true}), "volume 50Gi -> 50Gi encrypted")]
    #[case::data_volumes_reordered(&["dataVolumes"], json!([{"name": "a", "size": "10Gi"}, {"name": "b", "size": "20Gi"}]), json!([{"name": "b", "size": "20Gi"}, {"name": "a", "size": "10Gi"}]), "dataVolumes[0] 10Gi -> 20Gi")]
    #[case::provider_config(&["providerConfig"], json!({"kind": "WorkerConfig", "nodeTemplate": {"capacity": {"cpu": "2"}}}), json!({"kind": "WorkerConfig", "nodeTemplate": {"capacity": {"cpu": "4"}}}), r#"providerConfig.nodeTemplate.capacity.cpu "2" -> "4""#)]
    #[case::provider_config_number(&["providerConfig"], json!({"volume": {"iops": 3000, "throughput": 125}}), json!({"volume": {"iops": 6000.0, "throughput": 125}}), "providerConfig.volume.iops 3000 -> 6000")]
    #[case::provider_config_set(&["providerConfig"], Value::Null, json!({"kind": "WorkerConfig", "instanceMetadataOptions": {"httpTokens": "required"}}), "providerConfig (not set) -> {instanceMetadataOptions, kind}")]
    #[case::provider_config_key_added(&["providerConfig"], json!({"kind": "WorkerConfig"}), json!({"kind": "WorkerConfig", "cpuOptions": {"coreCount": 2}}), "providerConfig.cpuOptions (not set) -> {coreCount}")]
    #[case::provider_config_array(&["providerConfig"], json!({"zones": [{"name": "a"}, {"name": "b"}]}), json!({"zones": [{"name": "a"}, {"name": "c"}]}), r#"providerConfig.zones[1].name "b" -> "c""#)]
    #[case::provider_config_dotted_key(&["providerConfig"], json!({"labels": {"example.com/tier": "a"}}), json!({"labels": {"example.com/tier": "b"}}), r#"providerConfig.labels["example.com/tier"] "a" -> "b""#)]
    #[case::kube_reserved(&["kubernetes", "kubelet"], json!({"kubeReserved": {"cpu": "80m", "memory": "1Gi"}}), json!({"kubeReserved": {"cpu": "80m", "memory": "2Gi"}}), "kubelet kubeReserved + systemReserved.memory 1Gi -> 2Gi")]
    #[case::system_reserved_added(&["kubernetes", "kubelet"], json!({"kubeReserved": {"cpu": "80m"}}), json!({"kubeReserved": {"cpu": "80m"}, "systemReserved": {"cpu": "20m"}}), "kubelet kubeReserved + systemReserved.cpu 80m -> 80m + 20m")]
    #[case::reserved_block_added(&["kubernetes", "kubelet"], json!({"podPidsLimit": 100}), json!({"kubeReserved": {}}), "kubelet kubeReserved + systemReserved (not set) -> {}")]
    #[case::eviction_hard(&["kubernetes", "kubelet"], json!({"evictionHard": {"memoryAvailable": "100Mi"}}), json!({"evictionHard": {"memoryAvailable": "5%", "nodeFSAvailable": "10%"}}), "kubelet evictionHard.memoryAvailable 100Mi -> 5%, evictionHard.nodeFSAvailable (not set) -> 10%")]
    #[case::cpu_manager_policy(&["kubernetes", "kubelet"], json!({}), json!({"cpuManagerPolicy": "static"}), "kubelet cpuManagerPolicy (not set) -> static")]
    #[case::reserved_printed_otherwise(&["kubernetes", "kubelet"], json!({"kubeReserved": {"memory": "1Gi"}}), json!({"kubeReserved": {"memory": "1073741824"}}), "kubelet kubeReserved + systemReserved.memory 1Gi -> 1073741824")]
    #[case::sum_printed_in_the_first_format(&["kubernetes", "kubelet"], json!({"kubeReserved": {"memory": "1Gi"}}), json!({"kubeReserved": {"memory": "536870912"}, "systemReserved": {"memory": "512Mi"}}), "kubelet kubeReserved + systemReserved.memory 1Gi -> 536870912 + 512Mi")]
    #[case::binary_sum_printed_plain(&["kubernetes", "kubelet"], json!({"kubeReserved": {"pid": "2000"}}), json!({"kubeReserved": {"pid": "1Ki"}, "systemReserved": {"pid": "976"}}), "kubelet kubeReserved + systemReserved.pid 2000 -> 1Ki + 976")]
    #[case::reserved_as_a_number(&["kubernetes", "kubelet"], json!({"kubeReserved": {"pid": 100}}), json!({"kubeReserved": {"pid": 200}}), "kubelet kubeReserved + systemReserved.pid 100 -> 200")]
    #[case::unreadable_block(&["kubernetes", "kubelet"], json!({"evictionHard": 1}), json!({"evictionHard": 2}), "kubelet evictionHard.memoryAvailable 1 -> 2")]
    fn other_pool_fields_roll_nodes(
        #[case] path: &[&str],
        #[case] was: Value,
        #[case] is: Value,
        #[case] described: &str,
    ) {
        let old = set_in_pools(shoot("web", "prod", [V1, V1, V1]), 3, path, &was);
        let all = set_in_pools(old.clone(), 3, path, &is);
        let message = pool_change_message(&old, &all).unwrap_or_default();
        assert!(
            message.starts_with(&["3 of 3 pools rolled at once: a (", described, ")"].concat()),
            "{message}"
        );
        let one = set_in_pools(old.clone(), 1, path, &is);
        assert_eq!(pool_change_message(&old, &one), None);
    }

    /// Kubelet settings that leave the node agent's key as it is.
    #[rstest]
    #[case::reservation_moved(json!({"kubeReserved": {"cpu": "100m", "memory": "1Gi"}}), json!({"kubeReserved": {"cpu": "60m", "memory": "1Gi"}, "systemReserved": {"cpu": "40m"}}))]
    #[case::same_amount_spelled_otherwise(json!({"kubeReserved": {"cpu": "1", "memory": "1024Mi"}}), json!({"kubeReserved": {"cpu": "1000m", "memory": "1Gi"}}))]
    #[case::not_hashed(json!({"podPidsLimit": 100, "evictionHard": {"memoryAvailable": "100Mi"}}), json!({"podPidsLimit": 200, "evictionHard": {"memoryAvailable": "100Mi"}}))]
    #[case::binary_spellings(json!({"kubeReserved": {"memory": "1Gi"}}), json!({"kubeReserved": {"memory": "1024Mi"}}))]
    #[case::sum_in_the_first_format(json!({"kubeReserved": {"memory": "1536Mi"}}), json!({"kubeReserved": {"memory": "1Gi"}, "systemReserved": {"memory": "524288Ki"}}))]
    #[case::zero_first(json!({"kubeReserved": {"cpu": "0"}, "systemReserved": {"cpu": "100m"}}), json!({"systemReserved": {"cpu": "0.1"}}))]
    #[case::number_as_string(json!({"kubeReserved": {"pid": 100}}), json!({"kubeReserved": {"pid": "100"}}))]
    #[case::empty_threshold(json!({"evictionHard": {"memoryAvailable": ""}}), json!({"evictionHard": {}}))]
    #[case::plain_integer_as_exponent(json!({"kubeReserved": {"pid": "1500"}}), json!({"kubeReserved": {"pid": "1.5e3"}}))]
    #[case::plain_integer_from_binary(json!({"kubeReserved": {"pid": "1025"}}), json!({"kubeReserved": {"pid": "1Ki"}, "systemReserved": {"pid": "1"}}))]
    fn kubelet_settings_outside_the_key_roll_nothing(#[case] was: Value, #[case] is: Value) {
        let path = &["kubernetes", "kubelet"];
        let old = set_in_pools(shoot("web", "prod", [V1, V1, V1]), 3, path, &was);
        let new = set_in_pools(old.clone(), 3, path, &is);
        assert_eq!(pool_change_message(&old, &new), None);
    }

    /// Review regression: the Shoot's kubelet settings were read once per pool.
    #[test]
    fn a_wide_shoot_reads_its_kubelet_once() {
        let long = ["0".repeat(40_000), "1".to_string()].concat();
        let mut old = wide_shoot("prod", 5_000, "1");
        old["spec"]["kubernetes"]["kubelet"] = json!({
            "kubeReserved": {"cpu": long, "memory": long, "pid": long, "ephemeralStorage": long},
            "evictionHard": {"memoryAvailable": long}
        });
        let new = old.clone();
        let verdict = judge(&request("UPDATE", &new, &old), &FakeHost::new(Ok(vec![])));
        assert!(verdict.is_accepted(), "{verdict:?}");
    }

    /// Review regression: a changed Shoot kubelet was compared once per pool.
    #[test]
    fn a_wide_shoot_compares_its_changed_kubelet_once() {
        let long = "5".repeat(400_000);
        let (before, after) = ([&long, "0"].concat(), [&long, "1"].concat());
        let mut old = wide_shoot("prod", 5_000, "1");
        old["spec"]["kubernetes"]["kubelet"] = json!({"evictionHard": {"memoryAvailable": before}});
        let mut new = old.clone();
        new["spec"]["kubernetes"]["kubelet"] = json!({"evictionHard": {"memoryAvailable": after}});
        let verdict = judge(&request("UPDATE", &new, &old), &FakeHost::new(Ok(vec![])));
        assert!(!verdict.is_accepted(), "{verdict:?}");
    }

    #[test]
    fn the_shoots_kubelet_rolls_the_pools_without_their_own() {
        let mut old = shoot("web", "prod", [V1, V1, V1]);
        old["spec"]["kubernetes"]["kubelet"] = json!({"kubeReserved": {"memory": "1Gi"}});
        let old = set_in_pools(
            old,
            1,
            &["kubernetes", "kubelet"],
            &json!({"kubeReserved": {"memory": "1Gi"}}),
        );
        let mut new = old.clone();
        new["spec"]["kubernetes"]["kubelet"] = json!({"kubeReserved": {"memory": "2Gi"}});
        let message = pool_change_message(&old, &new).unwrap_or_default();
        let shoot_kubelet =
            "kubelet kubeReserved + systemReserved.memory 1Gi -> 2Gi via spec.kubernetes.kubelet";
        assert_eq!(
            message,
            [
                "2 of 3 pools rolled at once: b (",
                shoot_kubelet,
                "); c (",
                shoot_kubelet,
                ")"
            ]
            .concat()
        );
    }

    #[rstest]
    #[case::key_order(
        r#"{"kind":"WorkerConfig","apiVersion":"aws/v1alpha1"}"#,
        r#"{"apiVersion":"aws/v1alpha1","kind":"WorkerConfig"}"#,
        true
    )]
    #[case::spacing(r#"{"kind":"WorkerConfig"}"#, r#"{ "kind" : "WorkerConfig" }"#, true)]
    #[case::nested_order(r#"{"a":{"x":1,"y":[1,2]}}"#, r#"{"a":{"y":[1,2],"x":1}}"#, true)]
    #[case::array_order(r#"{"a":[1,2]}"#, r#"{"a":[2,1]}"#, false)]
    #[case::value(r#"{"a":"x"}"#, r#"{"a":"y"}"#, false)]
    #[case::added(r#"{"a":"x"}"#, r#"{"a":"x","b":true}"#, false)]
    #[case::escaped_duplicate_key(r#"{"a":1,"\u0061":2}"#, r#"{"\u0061":2,"a":1}"#, false)]
    #[case::number_spelling(r#"{"iops":3000}"#, r#"{"iops":3000.0}"#, true)]
    #[case::string_escape(r#"{"k":"é"}"#, r#"{"k":"\u00e9"}"#, true)]
    fn provider_config_compared_by_content(
        #[case] was: &str,
        #[case] is: &str,
        #[case] same: bool,
    ) {
        // Placeholders, replaced by the texts as written: `json!` would sort them.
        let old = set_in_pools(
            shoot("web", "prod", [V1, V1, V1]),
            3,
            &["providerConfig"],
            &json!("@OLD@"),
        );
        let new = set_in_pools(old.clone(), 3, &["providerConfig"], &json!("@NEW@"));
        let review = request("UPDATE", &new, &old)
            .replace(r#""@OLD@""#, was)
            .replace(r#""@NEW@""#, is);
        let verdict = judge_raw(&review);
        assert_eq!(verdict.is_accepted(), same, "{verdict:?}");
    }

    #[rstest]
    #[case::renamed_onto_other_machine_type("none", "m6i.large", false)]
    #[case::renamed_onto_same_machine_type("none", "m5.large", true)]
    #[case::dev_renamed_onto_other_machine_type("dev", "m6i.large", true)]
    fn replaced_pools_compare_whole_setups(
        #[case] stage: &str,
        #[case] machine_type: &str,
        #[case] accepted: bool,
    ) {
        let old = shoot("web", stage, [V1, V1, V1]);
        let renamed = with_pools(stage, &[("a2", V1), ("b2", V1), ("c2", V1)]);
        let new = set_in_pools(renamed, 3, &["machine", "type"], &json!(machine_type));
        let message = pool_change_message(&old, &new);
        assert_eq!(message.is_none(), accepted, "{message:?}");
        if let Some(message) = message {
            assert!(message.contains("a (removed: its machines are deleted at once and its workloads move to added pools such as a2: machine type m5.large -> m6i.large)"), "{message}");
        }
    }

    #[rstest]
    #[case::enabled_on_prod("prod", false, true, 1)]
    #[case::disabled_on_unlabeled("none", true, false, 1)]
    #[case::unchanged("prod", true, true, 0)]
    #[case::dev("dev", false, true, 0)]
    fn node_local_dns_switch_is_warned(
        #[case] stage: &str,
        #[case] was: bool,
        #[case] is: bool,
        #[case] warnings: usize,
    ) {
        let mut old = shoot("web", stage, [V1, V1, V1]);
        old["spec"]["systemComponents"] = json!({"nodeLocalDNS": {"enabled": was}});
        let mut new = old.clone();
        new["spec"]["systemComponents"]["nodeLocalDNS"]["enabled"] = json!(is);
        let verdict = judge(&request("UPDATE", &new, &old), &FakeHost::new(Ok(vec![])));
        assert!(verdict.is_accepted(), "{verdict:?}");
        assert_eq!(verdict.warnings.len(), warnings, "{verdict:?}");
        if let Some(warning) = verdict.warnings.first() {
            assert!(
                warning.contains("nodeLocalDNS.enabled = true (was false)")
                    || warning.contains("nodeLocalDNS.enabled = false (was true)"),
                "{warning}"
            );
            assert!(warning.contains("every pool (3) at once"), "{warning}");
        }
    }

    #[test]
    fn data_volume_names_are_not_hashed() {
        let old = set_in_pools(
            shoot("web", "prod", [V1, V1, V1]),
            3,
            &["dataVolumes"],
            &json!([{"name": "a", "size": "10Gi"}]),
        );
        let new = set_in_pools(
            old.clone(),
            3,
            &["dataVolumes"],
            &json!([{"name": "b", "size": "10Gi"}]),
        );
        assert_eq!(pool_change_message(&old, &new), None);
    }

    #[rstest]
    #[case::credentials("rotate-credentials-start", 3)]
    #[case::ca("rotate-ca-start", 3)]
    #[case::service_account_key("rotate-serviceaccount-key-start", 3)]
    #[case::every_pool("rollout-workers=*", 3)]
    #[case::listed("rollout-workers=a,c", 2)]
    #[case::rotation_listed("rotate-rollout-workers=a,b", 2)]
    #[case::one_listed("rollout-workers=b", 1)]
    #[case::unknown_pool_listed("rollout-workers=b,zz", 1)]
    #[case::without_workers_rollout("rotate-ca-start-without-workers-rollout", 0)]
    #[case::reconcile("reconcile", 0)]
    #[case::joined("rotate-ssh-keypair;rotate-ca-start", 3)]
    #[case::joined_with_spaces("reconcile ; rollout-workers=a,b", 2)]
    #[case::in_maintenance("maintenance:rotate-ca-start;reconcile", 3)]
    fn operations_roll_pools(#[case] operation: &str, #[case] rolled: usize) {
        let old = shoot("web", "prod", [V1, V1, V1]);
        let mut new = old.clone();
        new["metadata"]["annotations"] = match operation.strip_prefix("maintenance:") {
            Some(operation) => json!({ "maintenance.gardener.cloud/operation": operation }),
            None => json!({ "gardener.cloud/operation": operation }),
        };
        let message = pool_change_message(&old, &new);
        assert_eq!(message.is_none(), rolled <= 1, "{message:?}");
        if let Some(message) = message {
            let expected = [&rolled.to_string(), " of 3 pools rolled at once: "].concat();
            assert!(message.starts_with(&expected), "{message}");
            assert!(message.contains("(operation "), "{message}");
            assert!(!message.contains("(operation reconcile"), "{message}");
        }
        // Kept from before, the annotation is not this update's.
        let mut kept = new.clone();
        kept["spec"]["kubernetes"]["version"] = json!("1.31.3");
        assert_eq!(pool_change_message(&new, &kept), None);
    }

    #[rstest]
    #[case::rotation("rotate-ca-start", 0, Some("3 of 3 pools rolled at once: a (operation rotate-ca-start); b (operation rotate-ca-start); c (operation rotate-ca-start)"))]
    #[case::added_pool_listed("rollout-workers=a,d", 0, None)]
    #[case::rotation_beside_parked_pools("rotate-ca-start", 2, None)]
    #[case::parked_pools_listed("rollout-workers=a,b", 2, None)]
    fn operations_roll_only_the_pools_there_before(
        #[case] operation: &str,
        #[case] parked: usize,
        #[case] expected: Option<&str>,
    ) {
        // The first `parked` pools have no node (`maximum: 0`).
        let old = set_in_pools(
            shoot("web", "prod", [V1, V1, V1]),
            parked,
            &["maximum"],
            &json!(0),
        );
        let mut new = with_pools("prod", &[("a", V1), ("b", V1), ("c", V1), ("d", V1)]);
        new["metadata"]["annotations"] = json!({ "gardener.cloud/operation": operation });
        let message = pool_change_message(&old, &new);
        assert_eq!(message, expected.map(str::to_string), "{message:?}");
    }

    #[rstest]
    #[case::rotation("rotate-ca-start", "annotate rotate-ca-start-without-workers-rollout instead, then roll the pools with gardener.cloud/operation=rotate-rollout-workers=<pool>, one pool at a time")]
    #[case::rollout(
        "rollout-workers=*",
        "Name one pool per rollout-workers or rotate-rollout-workers annotation."
    )]
    #[case::rotation_rollout(
        "rotate-rollout-workers=a,b",
        "Name one pool per rollout-workers or rotate-rollout-workers annotation."
    )]
    fn operation_fixes_name_the_pool_by_pool_way(#[case] operation: &str, #[case] needle: &str) {
        let old = shoot("web", "prod", [V1, V1, V1]);
        let mut new = old.clone();
        new["metadata"]["annotations"] = json!({ "gardener.cloud/operation": operation });
        let verdict = judge(&request("UPDATE", &new, &old), &FakeHost::new(Ok(vec![])));
        let fix = verdict
            .violations
            .first()
            .map(|v| v.fix.as_str())
            .unwrap_or("");
        assert!(fix.contains(needle), "{fix}");
    }

    #[test]
    fn an_operation_and_a_setup_change_count_a_pool_once() {
        let old = shoot("web", "prod", [V1, V1, V1]);
        let mut new = shoot("web", "prod", [V2, V1, V1]);
        new["metadata"]["annotations"] = json!({"gardener.cloud/operation": "rollout-workers=a,b"});
        let message = pool_change_message(&old, &new).unwrap_or_default();
        assert!(
            message.starts_with("2 of 3 pools rolled at once: a (machine image gardenlinux 1592.1.0 -> gardenlinux 1592.2.0); b (operation rollout-workers=b)"),
            "{message}"
        );
    }

    #[rstest]
    #[case::waiting_rotation_kept("rotate-ca-start", "rotate-ca-start;rollout-workers=a", None)]
    #[case::waiting_rotation_moved_last(
        "rotate-ca-start;reconcile",
        "reconcile ;rotate-ca-start",
        None
    )]
    #[case::rollout_added_to_a_waiting_one("rollout-workers=a", "rollout-workers=a;rollout-workers=b,c", Some("2 of 3 pools rolled at once: b (operation rollout-workers=b); c (operation rollout-workers=c)"))]
    fn operations_already_waiting_do_not_count_again(
        #[case] waiting: &str,
        #[case] now: &str,
        #[case] expected: Option<&str>,
    ) {
        let mut old = shoot("web", "prod", [V1, V1, V1]);
        old["metadata"]["annotations"] = json!({ "gardener.cloud/operation": waiting });
        let mut new = old.clone();
        new["metadata"]["annotations"] = json!({ "gardener.cloud/operation": now });
        let message = pool_change_message(&old, &new);
        match expected {
            None => assert_eq!(message, None),
            Some(start) => assert!(
                message.as_deref().unwrap_or("").starts_with(start),
                "{message:?}"
            ),
        }
    }

    #[test]
    fn many_operations_on_many_pools_name_each_pool_once() {
        let old = wide_shoot("prod", 4_000, V1);
        let mut new = old.clone();
        let operations = [
            "rotate-ca-start;",
            "rollout-workers=p1,p2;",
            "rollout-workers=*;",
        ]
        .concat();
        new["metadata"]["annotations"] =
            json!({ "gardener.cloud/operation": operations.repeat(2_000) });
        let message = pool_change_message(&old, &new).unwrap_or_default();
        assert!(
            message.starts_with("4000 of 4000 pools rolled at once: "),
            "{message:.80}"
        );
        assert!(message.ends_with("; and 3980 more"), "{message:.80}");
    }

    #[test]
    fn repeated_new_pool_names_count_once() {
        let old = shoot("web", "none", [V1, V1, V1]);
        let mut new = old.clone();
        let workers = new["spec"]["provider"]["workers"].clone();
        let (pool, b, c) = (&workers[0], &workers[1], &workers[2]);
        new["spec"]["provider"]["workers"] = json!([pool, pool, pool, b, c]);
        new["spec"]["provider"]["workers"][0]["machine"]["image"]["version"] = json!(V2);
        new["spec"]["provider"]["workers"][1]["machine"]["image"]["version"] = json!(V2);
        assert_eq!(pool_change_message(&old, &new), None);
    }

    #[test]
    fn long_pool_lists_are_cut() {
        let old = wide_shoot("none", 30, V1);
        let new = wide_shoot("none", 30, V2);
        let message = pool_change_message(&old, &new).unwrap_or_default();
        assert!(
            message.starts_with("30 of 30 pools rolled at once: "),
            "{message}"
        );
        assert!(message.ends_with("; and 10 more"), "{message}");
        assert_eq!(message.matches("machine image").count(), MAX_LISTED);
    }

    #[test]
    fn removed_pools_sharing_a_large_added_pool_are_linear() {
        let pools = 2_000;
        let mut old = shoot("web", "none", [V1, V1, V1]);
        old["spec"]["provider"]["workers"] = (0..pools)
            .map(|i| {
                json!({"name": format!("p{i}"), "machine": {"type": format!("t{i}"),
                "image": {"name": "gardenlinux", "version": V1}}})
            })
            .collect();
        let config: serde_json::Map<String, Value> = (0..20_000)
            .map(|i| (format!("key{i:05}"), json!(i)))
            .collect();
        let mut new = old.clone();
        new["spec"]["provider"]["workers"] = json!([{"name": "big", "machine": {"type": "t0",
            "image": {"name": "gardenlinux", "version": V1}}, "providerConfig": config}]);
        let message = pool_change_message(&old, &new).unwrap_or_default();
        assert!(
            message.starts_with("2000 of 2000 pools rolled at once: "),
            "{message:.80}"
        );
        assert!(
            message.ends_with("; and 1980 more"),
            "{}",
            &message[message.len() - 40..]
        );
    }

    #[rstest]
    #[case::hibernated("prod", true, 0, "")]
    #[case::canary(
        "canary",
        false,
        1,
        "watch this canary Shoot for days before making the same change on prod Shoots"
    )]
    fn node_local_dns_warning_fits_the_shoot(
        #[case] stage: &str,
        #[case] hibernated: bool,
        #[case] warnings: usize,
        #[case] needle: &str,
    ) {
        let mut old = shoot("web", stage, [V1, V1, V1]);
        old["spec"]["hibernation"] = json!({ "enabled": hibernated });
        let mut new = old.clone();
        new["spec"]["systemComponents"] = json!({"nodeLocalDNS": {"enabled": true}});
        let verdict = judge(&request("UPDATE", &new, &old), &FakeHost::new(Ok(vec![])));
        assert_eq!(verdict.warnings.len(), warnings, "{verdict:?}");
        assert!(
            verdict.warnings.iter().all(|w| w.contains(needle)),
            "{verdict:?}"
        );
    }

    #[test]
    fn removed_pools_are_named_with_the_new_image() {
        let old = shoot("web", "none", [V1, V1, V1]);
        let new = with_pools("none", &[("general-v2", V2)]);
        let verdict = judge(&request("UPDATE", &new, &old), &FakeHost::new(Ok(vec![])));
        let value = verdict
            .violations
            .first()
            .map(|v| v.value.as_str())
            .unwrap_or("");
        assert!(
            value.starts_with("3 of 3 pools rolled at once: a (removed: its machines are deleted at once and its workloads move to added pools such as general-v2: machine image gardenlinux 1592.1.0 -> gardenlinux 1592.2.0)"),
            "{value}"
        );
    }

    #[test]
    fn pool_count_fix_says_to_relabel_separately() {
        let old = shoot("web", "staging", [V1, V1, V1]);
        let new = shoot("web", "dev", [V2, V2, V2]);
        let verdict = judge(&request("UPDATE", &new, &old), &FakeHost::new(Ok(vec![])));
        assert!(!verdict.is_accepted());
        let fix = verdict
            .violations
            .first()
            .map(|v| v.fix.as_str())
            .unwrap_or("");
        assert!(
            fix.contains("label it crash-guard.io/stage=dev in a separate update first"),
            "{fix}"
        );
    }

    #[rstest]
    #[case::hibernated(
        hibernated(canary("canary-us", V2, "Succeeded")),
        "garden-qa/canary-us (it is hibernated: no node runs the image"
    )]
    #[case::not_rolled_out(generations(canary("canary-us", V2, "Succeeded"), 8, 7), "garden-qa/canary-us (its current spec is not rolled out yet: generation 8, observedGeneration 7)")]
    #[case::no_state(
        without_state(canary("canary-us", V2, "")),
        "garden-qa/canary-us (its last operation reports no state)"
    )]
    #[case::long_state_cut(
        canary("canary-us", V2, &"x".repeat(100_000)),
        &["garden-qa/canary-us (its last operation is ", &"x".repeat(60), "…)"].concat()
    )]
    #[case::zero_size_pools(
        zero_size(canary("canary-us", V2, "Succeeded"), 3),
        "garden-qa/canary-us (its pool a that runs the image has maximum 0: no node runs it)"
    )]
    fn canary_reasons_name_why_not_counted(#[case] other: Value, #[case] needle: &str) {
        let old = shoot("web", "prod", [V1, V1, V1]);
        let new = shoot("web", "prod", [V2, V1, V1]);
        let host = FakeHost::new(Ok(vec![canary("canary-eu", V2, "Succeeded"), other]));
        let response = judge(&request("UPDATE", &new, &old), &host)
            .into_response("staged-rollout", "Shoot garden-shop/web");
        let message = response.message.unwrap_or_default();
        assert!(message.contains(needle), "{needle} missing from {message}");
    }

    /// Review regression: every canary not counted was listed for every
    /// adopted version, one violation per version, without a bound.
    #[test]
    fn canary_lists_and_refused_versions_are_bounded() {
        let (old, new) = (wide_shoot("prod", 30, "1"), wide_shoot("prod", 30, "2"));
        let mut failed = wide_shoot("prod", 30, "2");
        failed["metadata"]["labels"]["crash-guard.io/stage"] = json!("canary");
        failed["status"] = json!({"lastOperation": {"state": "Failed"}});
        let cluster = (0..25)
            .map(|i| {
                let mut canary = failed.clone();
                canary["metadata"]["name"] = json!(format!("c{i}"));
                canary
            })
            .collect();
        let verdict = judge(&request("UPDATE", &new, &old), &FakeHost::new(Ok(cluster)));
        let canary: Vec<&Violation> = verdict
            .violations
            .iter()
            .filter(|v| v.field.contains("machine.image"))
            .collect();
        assert_eq!(canary.len(), MAX_LISTED + 1, "{verdict:?}");
        let first = &canary[0].problem;
        assert!(
            first
                .contains("garden-shop/c19 (its last operation is Failed), and 5 more; at least 2"),
            "{first}"
        );
        let last = canary[MAX_LISTED];
        assert_eq!(last.value, "and 10 more machine image versions");
        assert!(last
            .problem
            .contains("each on fewer than 2 healthy canary Shoots"));
    }

    #[rstest]
    #[case::default_early_stage(r#"{}"#, true)]
    #[case::no_early_stage(r#"{"earlyStages":[],"prodStages":["prod","dev"]}"#, false)]
    fn pool_count_fix_names_an_early_stage_only_when_there_is_one(
        #[case] settings: &str,
        #[case] relabel: bool,
    ) {
        let raw = serde_json::value::RawValue::from_string(settings.to_string()).expect("json");
        let settings = crate::settings::parse::<Settings>(Some(&raw)).expect("valid");
        let old = shoot("web", "staging", [V1, V1, V1]);
        let new = shoot("web", "staging", [V2, V2, V2]);
        let verdict = crate::policy::evaluate::<StagedRollout>(
            &request("UPDATE", &new, &old),
            &settings,
            &FakeHost::new(Ok(vec![])),
        )
        .expect("decodes");
        let fix = verdict.violations.first().map_or("", |v| v.fix.as_str());
        assert!(
            fix.starts_with("change at most 1 pool(s) per update"),
            "{fix}"
        );
        assert_eq!(fix.contains("label it"), relabel, "{fix}");
    }
}
