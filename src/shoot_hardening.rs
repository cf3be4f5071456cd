//! shoot-hardening (tips of crashes 3 and 4): a Gardener Shoot must limit the
//! PIDs of every pod (the fork-bomb fix), keep kube-apiserver's in-flight
//! request limits in a sane range (the flood fix), and not take too many
//! nodes of a worker pool down at once during a rolling update.

use serde::Deserialize;

use crate::exemptions::Exemptions;
use crate::host::Host;
use crate::policy::Rule;
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::response::{count, decimal, signed};
use crate::settings::{validate_section, SettingsError, Validate};
use crate::shoot::{is_shoot, IntOrPercent, Shoot, Worker};
use crate::violation::{Before, Finding, Verdict, Violation};

/// Gardener refuses a `podPidsLimit` below 100 (`PodPIDsLimitMinimum`).
pub const GARDENER_PIDS_MINIMUM: u64 = 100;
/// The kernel's `PID_MAX_LIMIT` on 64-bit Linux: no pod can have more PIDs.
pub const KERNEL_PID_MAX_LIMIT: u64 = 4_194_304;
/// kube-apiserver's `--max-requests-inflight` default, used when unset.
pub const DEFAULT_NON_MUTATING_INFLIGHT: u64 = 400;
/// kube-apiserver's `--max-mutating-requests-inflight` default, used when unset.
pub const DEFAULT_MUTATING_INFLIGHT: u64 = 200;
/// Gardener refuses a higher `maxNonMutatingInflight` (`ValidateAPIServerRequests`).
pub const GARDENER_NON_MUTATING_INFLIGHT_MAXIMUM: u64 = 800;
/// Gardener refuses a higher `maxMutatingInflight` (`ValidateAPIServerRequests`).
pub const GARDENER_MUTATING_INFLIGHT_MAXIMUM: u64 = 400;
/// The most nodes a Kubernetes cluster is built for ("Considerations for
/// large clusters"), so the most any pool takes down at once.
pub const KUBERNETES_MAX_NODES: u64 = 5000;

pub struct ShootHardening;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    pub pod_pids_limit: PidsLimitBounds,
    pub api_server_inflight: InflightBounds,
    pub max_unavailable: MaxUnavailableBound,
    pub exemptions: Exemptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct PidsLimitBounds {
    /// Refuse Shoots (with workers) that set no `podPidsLimit`.
    pub required: bool,
    pub minimum: u64,
    pub maximum: u64,
}

impl Default for PidsLimitBounds {
    fn default() -> Self {
        Self {
            required: true,
            minimum: 1024,
            maximum: 32_768,
        }
    }
}

impl Validate for PidsLimitBounds {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.minimum < GARDENER_PIDS_MINIMUM {
            return Err(SettingsError::new(
                "minimum",
                format!("{} is below {GARDENER_PIDS_MINIMUM}, which Gardener itself refuses, so the bound would never apply", self.minimum),
            ));
        }
        if self.maximum > KERNEL_PID_MAX_LIMIT {
            return Err(SettingsError::new(
                "maximum",
                format!("{} is above the kernel's PID_MAX_LIMIT of {KERNEL_PID_MAX_LIMIT}, so it would never apply", self.maximum),
            ));
        }
        check_order(self.minimum, self.maximum)
    }
}

/// An inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Range {
    pub minimum: u64,
    pub maximum: u64,
}

impl Validate for Range {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.minimum == 0 {
            return Err(SettingsError::new(
                "minimum",
                "must be at least 1: a Shoot could then set 0, which takes this share out of kube-apiserver's total concurrency under API Priority and Fairness and switches the limit off without it",
            ));
        }
        check_order(self.minimum, self.maximum)
    }
}

fn check_order(minimum: u64, maximum: u64) -> Result<(), SettingsError> {
    if maximum < minimum {
        Err(SettingsError::new(
            "maximum",
            format!("{maximum} is below minimum {minimum}"),
        ))
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct InflightBounds {
    pub max_non_mutating_inflight: Range,
    pub max_mutating_inflight: Range,
}

impl Default for InflightBounds {
    fn default() -> Self {
        Self {
            max_non_mutating_inflight: Range {
                minimum: DEFAULT_NON_MUTATING_INFLIGHT / 4,
                maximum: DEFAULT_NON_MUTATING_INFLIGHT * 2,
            },
            max_mutating_inflight: Range {
                minimum: DEFAULT_MUTATING_INFLIGHT / 4,
                maximum: DEFAULT_MUTATING_INFLIGHT * 2,
            },
        }
    }
}

impl Validate for InflightBounds {
    fn validate(&self) -> Result<(), SettingsError> {
        let sections = [
            (
                "maxNonMutatingInflight",
                &self.max_non_mutating_inflight,
                GARDENER_NON_MUTATING_INFLIGHT_MAXIMUM,
                DEFAULT_NON_MUTATING_INFLIGHT,
            ),
            (
                "maxMutatingInflight",
                &self.max_mutating_inflight,
                GARDENER_MUTATING_INFLIGHT_MAXIMUM,
                DEFAULT_MUTATING_INFLIGHT,
            ),
        ];
        for (name, range, cap, default) in sections {
            validate_section(name, range)?;
            if range.maximum > cap {
                return Err(SettingsError::new(
                    [name, ".maximum"].concat(),
                    format!("{} is above {cap}, which Gardener itself refuses, so the bound would never apply", range.maximum),
                ));
            }
            // Shoots that leave the field unset get the default, unjudged.
            let (bound, value, side) = if range.minimum > default {
                ("minimum", range.minimum, "above")
            } else if range.maximum < default {
                ("maximum", range.maximum, "below")
            } else {
                continue;
            };
            return Err(SettingsError::new(
                [name, ".", bound].concat(),
                format!("{value} is {side} kube-apiserver's default of {default}, which every Shoot that leaves {name} unset gets, so the bounds would not hold for them: the range must include {default}"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct MaxUnavailableBound {
    /// Share of the pool's `maximum` nodes that may be down at once.
    pub percent_of_pool_maximum: u64,
    /// Nodes that may always be down at once, however small the pool.
    pub always_allowed_nodes: u64,
}

impl Default for MaxUnavailableBound {
    fn default() -> Self {
        Self {
            percent_of_pool_maximum: 25,
            always_allowed_nodes: 1,
        }
    }
}

impl Validate for MaxUnavailableBound {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.percent_of_pool_maximum > 100 {
            return Err(SettingsError::new(
                "percentOfPoolMaximum",
                format!(
                    "{} is above 100, more than the whole pool",
                    self.percent_of_pool_maximum
                ),
            ));
        }
        if self.always_allowed_nodes > KUBERNETES_MAX_NODES {
            return Err(SettingsError::new(
                "alwaysAllowedNodes",
                format!("{} is above {KUBERNETES_MAX_NODES}, the most nodes a Kubernetes cluster is built for, so the bound would never apply", self.always_allowed_nodes),
            ));
        }
        Ok(())
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        validate_section("podPidsLimit", &self.pod_pids_limit)?;
        validate_section("apiServerInflight", &self.api_server_inflight)?;
        validate_section("maxUnavailable", &self.max_unavailable)?;
        validate_section("exemptions", &self.exemptions)
    }
}

/// A violation, about what identifies it across an update (a key using pool
/// names rather than indexes) and how far out of bounds it is.
#[derive(Debug)]
struct Found {
    violation: Violation,
    /// Only zones machine-controller-manager rolls anyway take it over the
    /// bound (Gardener's defaults on a pool over several zones): a warning.
    advisory: bool,
}

const NOT_SET: &str = "(not set)";

/// The key suffixes of a value out of bounds, by direction. No limit at all
/// (a missing or negative `podPidsLimit`, an in-flight limit of 0) is out as
/// far as it goes in both directions, so an UPDATE from it to any limit, too
/// low or too high, keeps the finding (a warning), and one from a limit to
/// none is refused.
const BELOW: &[&str] = &["/below"];
const ABOVE: &[&str] = &["/above"];
const NO_LIMIT: &[&str] = &["/below", "/above"];

fn pool_field(index: usize, worker: &Worker, rest: &str) -> String {
    [
        "spec.provider.workers[",
        count(index, &mut [0; 20]),
        "].",
        rest,
        " (pool ",
        &worker.name,
        ")",
    ]
    .concat()
}

/// The texts of one podPidsLimit check, built only when it finds something.
struct PidsSite {
    /// What identifies the finding across an update: the Shoot-level limit
    /// has one key per pool inheriting it, so a pool that starts inheriting
    /// a bad or missing limit is a new finding, not the one the Shoot
    /// already had.
    keys: Vec<String>,
    field: String,
    missing_problem: String,
    fix: String,
    scope: String,
}

const FORK_BOMB: &str = "one fork bomb (or thread leak) in one pod takes every PID of its node, and kubelet, the container runtime and every other pod there can no longer start processes (crash 3)";

fn check_pids(shoot: &Shoot, bounds: &PidsLimitBounds, findings: &mut Vec<Found>) {
    let workers = shoot.workers();
    if workers.is_empty() {
        // Workerless Shoots have no kubelets; Gardener forbids kubelet settings there.
        return;
    }
    let value = shoot.kubelet().and_then(|k| k.pod_pids_limit);
    // Only pools without a kubelet block get the Shoot's; one added later
    // without it is judged when it is added.
    if workers.iter().any(|w| w.kubelet().is_none()) {
        check_pids_value(value, bounds, || shoot_pids_site(workers, bounds), findings);
    }
    // Inheriting is a fix only when the Shoot's own limit is in bounds.
    let inheritable = value.filter(|v| {
        u64::try_from(*v).is_ok_and(|v| (bounds.minimum..=bounds.maximum).contains(&v))
    });
    for (index, worker) in workers.iter().enumerate() {
        let Some(kubelet) = worker.kubelet() else {
            continue;
        };
        let site = || pool_pids_site(index, worker, bounds, inheritable);
        check_pids_value(kubelet.pod_pids_limit, bounds, site, findings);
    }
}

fn suggested_pids(bounds: &PidsLimitBounds) -> u64 {
    4096u64.clamp(bounds.minimum, bounds.maximum)
}

/// `from 1024 to 32768, e.g. 4096`.
fn pids_range(bounds: &PidsLimitBounds) -> String {
    [
        "from ",
        decimal(bounds.minimum, &mut [0; 20]),
        " to ",
        decimal(bounds.maximum, &mut [0; 20]),
        ", e.g. ",
        decimal(suggested_pids(bounds), &mut [0; 20]),
    ]
    .concat()
}

fn shoot_pids_site(workers: &[Worker], bounds: &PidsLimitBounds) -> PidsSite {
    let inheriting: Vec<&str> = workers
        .iter()
        .filter(|w| w.kubelet().is_none())
        .map(|w| w.name.as_ref())
        .collect();
    let applies_to = ["pools ", &inheriting.join(", ")].concat();
    PidsSite {
        keys: inheriting
            .iter()
            .map(|name| ["pids/shoot/", name].concat())
            .collect(),
        field: "spec.kubernetes.kubelet.podPidsLimit".to_string(),
        missing_problem: [
            "without it the kubelets of ",
            &applies_to,
            " put no PID limit on pods: ",
            FORK_BOMB,
            ".",
        ]
        .concat(),
        fix: [
            "set spec.kubernetes.kubelet.podPidsLimit to a value ",
            &pids_range(bounds),
            ".",
        ]
        .concat(),
        scope: ["applies to ", &applies_to].concat(),
    }
}

fn pool_pids_site(
    index: usize,
    worker: &Worker,
    bounds: &PidsLimitBounds,
    inheritable: Option<i64>,
) -> PidsSite {
    let inherit = inheritable.map_or_else(String::new, |v| {
        [
            ", or remove that block to inherit the Shoot's podPidsLimit of ",
            signed(v, &mut [0; 20]),
            " (with the block go the pool's other kubelet settings)",
        ]
        .concat()
    });
    PidsSite {
        keys: vec![["pids/pool/", worker.name.as_ref()].concat()],
        field: pool_field(index, worker, "kubernetes.kubelet.podPidsLimit"),
        missing_problem: [
            "the pool has its own kubernetes.kubelet block, which Gardener uses instead of spec.kubernetes.kubelet (it is not merged), so without podPidsLimit there its nodes put no PID limit on pods: ",
            FORK_BOMB,
            ".",
        ]
        .concat(),
        fix: [
            "add podPidsLimit (",
            &pids_range(bounds),
            ") to spec.provider.workers[",
            count(index, &mut [0; 20]),
            "].kubernetes.kubelet",
            &inherit,
            ".",
        ]
        .concat(),
        scope: ["pool ", worker.name.as_ref()].concat(),
    }
}

fn check_pids_value(
    value: Option<i64>,
    bounds: &PidsLimitBounds,
    site: impl FnOnce() -> PidsSite,
    findings: &mut Vec<Found>,
) {
    let minimum = i64::try_from(bounds.minimum).unwrap_or(i64::MAX);
    let maximum = i64::try_from(bounds.maximum).unwrap_or(i64::MAX);
    let (directions, excess) = match value {
        None if bounds.required => (NO_LIMIT, u64::MAX),
        Some(v) if v < 0 => (NO_LIMIT, u64::MAX),
        Some(v) if v < minimum => (BELOW, v.abs_diff(minimum)),
        Some(v) if v > maximum => (ABOVE, v.abs_diff(maximum)),
        _ => return,
    };
    let site = site();
    let scope = &site.scope;
    let problem = match value {
        None => site.missing_problem,
        Some(v) if v < 0 => [
            "a negative value means no PID limit at all (",
            scope,
            "): ",
            FORK_BOMB,
            ".",
        ]
        .concat(),
        Some(v) if v < minimum => [
            "below the minimum of ",
            signed(minimum, &mut [0; 20]),
            " (",
            scope,
            "): ordinary pods (JVMs, build jobs, browsers) use hundreds to thousands of threads, and every thread is a PID, so they fail with \"fork: resource temporarily unavailable\".",
        ]
        .concat(),
        Some(_) => [
            "above the maximum of ",
            signed(maximum, &mut [0; 20]),
            " (",
            scope,
            "): a pod may take that many PIDs before it is stopped, so a few runaway pods still exhaust the node's PID space and kubelet and the container runtime fail (crash 3).",
        ]
        .concat(),
    };
    let rendered = value.map_or_else(
        || NOT_SET.to_string(),
        |v| signed(v, &mut [0; 20]).to_string(),
    );
    let about = site.keys.iter().flat_map(|key| {
        directions.iter().map(move |direction| Finding {
            key: [key.as_str(), direction].concat(),
            extent: excess,
        })
    });
    findings.push(Found {
        violation: Violation::new(site.field, rendered, problem, site.fix).about(about.collect()),
        advisory: false,
    });
}

fn check_inflight(shoot: &Shoot, bounds: &InflightBounds, findings: &mut Vec<Found>) {
    let Some(requests) = shoot.api_server_requests() else {
        return;
    };
    let fields = [
        (
            "maxNonMutatingInflight",
            requests.max_non_mutating_inflight,
            bounds.max_non_mutating_inflight,
            DEFAULT_NON_MUTATING_INFLIGHT,
            "read",
        ),
        (
            "maxMutatingInflight",
            requests.max_mutating_inflight,
            bounds.max_mutating_inflight,
            DEFAULT_MUTATING_INFLIGHT,
            "write",
        ),
    ];
    for (name, value, range, default, verb) in fields {
        let Some(value) = value else { continue };
        let minimum = i64::try_from(range.minimum).unwrap_or(i64::MAX);
        let maximum = i64::try_from(range.maximum).unwrap_or(i64::MAX);
        let flood = "each request in flight holds kube-apiserver memory (a LIST of a large collection can hold hundreds of MiB), so a flood of clients OOM-kills kube-apiserver instead of being answered with 429 Too Many Requests (crash 4)";
        let (directions, excess, problem) = if value <= 0 {
            (
                NO_LIMIT,
                u64::MAX,
                [
                    "under API Priority and Fairness (on by default) kube-apiserver's total concurrency is the sum of maxNonMutatingInflight and maxMutatingInflight, so ",
                    signed(value, &mut [0; 20]),
                    " here takes the ",
                    verb,
                    " share out of it and the control plane's own controllers and every kubelet get 429 Too Many Requests sooner; with API Priority and Fairness switched off, it switches the ",
                    verb,
                    " limit off entirely: ",
                    flood,
                    ".",
                ]
                .concat(),
            )
        } else if value < minimum {
            (
                BELOW,
                value.abs_diff(minimum),
                [
                    "below the minimum of ",
                    signed(minimum, &mut [0; 20]),
                    ": the control plane's own controllers and every kubelet share these ",
                    verb,
                    " slots with all other clients, so they get 429 Too Many Requests and fall behind (nodes go NotReady, leases expire).",
                ]
                .concat(),
            )
        } else if value > maximum {
            (
                ABOVE,
                value.abs_diff(maximum),
                [
                    "above the maximum of ",
                    signed(maximum, &mut [0; 20]),
                    ": ",
                    flood,
                    ".",
                ]
                .concat(),
            )
        } else {
            continue;
        };
        let about = directions.iter().map(|direction| Finding {
            key: ["inflight/", name, direction].concat(),
            extent: excess,
        });
        findings.push(Found {
            violation: Violation::new(
                ["spec.kubernetes.kubeAPIServer.requests.", name].concat(),
                signed(value, &mut [0; 20]),
                problem,
                // Settings validation keeps the default within the range.
                [
                    "set it from ",
                    decimal(range.minimum, &mut [0; 20]),
                    " to ",
                    decimal(range.maximum, &mut [0; 20]),
                    ", or remove it to keep kube-apiserver's default of ",
                    decimal(default, &mut [0; 20]),
                    " (Gardener applies 400 read / 200 write when unset).",
                ]
                .concat(),
            )
            .about(about.collect()),
            advisory: false,
        });
    }
}

/// Gardener's defaults for a pool's `maxSurge` and `maxUnavailable`.
static DEFAULT_MAX_SURGE: IntOrPercent = IntOrPercent::Count(1);
static DEFAULT_MAX_UNAVAILABLE: IntOrPercent = IntOrPercent::Count(0);

/// Gardener's `DistributeOverZones`: zone `zone`'s share of `size`, the
/// remainder going to the first zones.
fn zone_share(zone: u64, size: u64, zones: u64) -> u64 {
    size / zones + u64::from(zone < size % zones)
}

/// Gardener's `DistributePercentOverZones`: the percentage zone `zone` gets,
/// weighted by its share of `total` and rounded up, in floating point as
/// Gardener computes it (`as` saturates, never panics).
fn zone_percent(zone: u64, percent: u64, zones: u64, total: u64) -> u64 {
    if total.is_multiple_of(zones) {
        return percent;
    }
    let ratio = 100.0 / (total as f64 / zones as f64) * zone_share(zone, total, zones) as f64;
    (ratio * percent as f64 / 100.0).ceil() as u64
}

/// Nodes of the pool a rolling update may take down at once in the worst
/// case (each zone's machine deployment at its maximum), and how many of
/// them come from zones left with neither surge nor unavailability, where
/// machine-controller-manager takes 1 down (`ResolveFenceposts`). Gardener
/// splits the values over the zones: `maxSurge` by `maximum`,
/// `maxUnavailable` by `minimum` (`DistributePositiveIntOrPercent`).
fn unavailable_nodes(
    worker: &Worker,
    maximum: u64,
    unavailable: &IntOrPercent,
    surge: &IntOrPercent,
) -> (u64, u64) {
    let zones = worker.zones.map_or(1, |z| z.0).max(1);
    let minimum = worker
        .minimum
        .and_then(|m| u64::try_from(m).ok())
        .unwrap_or(0);
    let (mut nodes, mut fenceposts) = (0u64, 0u64);
    for zone in 0..zones {
        let size = zone_share(zone, maximum, zones);
        if size == 0 {
            continue;
        }
        let no_surge = match surge {
            IntOrPercent::Count(n) => zone_share(zone, *n, zones) == 0,
            IntOrPercent::Percent(p) => zone_percent(zone, *p, zones, maximum) == 0,
            IntOrPercent::Invalid(_) => false,
        };
        let down = match unavailable {
            IntOrPercent::Count(n) => zone_share(zone, *n, zones),
            IntOrPercent::Percent(p) => {
                zone_percent(zone, *p, zones, minimum).saturating_mul(size) / 100
            }
            IntOrPercent::Invalid(_) => 0,
        };
        if down == 0 && no_surge {
            fenceposts = fenceposts.saturating_add(1);
            nodes = nodes.saturating_add(1);
        } else {
            nodes = nodes.saturating_add(down.min(size));
        }
    }
    (nodes, fenceposts)
}

fn check_max_unavailable(shoot: &Shoot, bound: &MaxUnavailableBound, findings: &mut Vec<Found>) {
    for (index, worker) in shoot.workers().iter().enumerate() {
        // Operators pick the nodes of a manual in-place update themselves;
        // Gardener fixes such a pool's maxSurge 0 and maxUnavailable 1.
        if worker.update_strategy.as_deref() == Some("ManualInPlaceUpdate") {
            continue;
        }
        // The API server defaults both before admission; unset is the default.
        let value = worker
            .max_unavailable
            .as_ref()
            .unwrap_or(&DEFAULT_MAX_UNAVAILABLE);
        let surge = worker.max_surge.as_ref().unwrap_or(&DEFAULT_MAX_SURGE);
        // The excess is in nodes with a maximum, in percentage points or
        // nodes over `alwaysAllowedNodes` without one: each measure has its
        // own key, so an UPDATE compares it only with the same measure.
        let key = |unit: &str| ["maxUnavailable/", worker.name.as_ref(), unit].concat();
        let one = |unit: &str, extent: u64| {
            vec![Finding {
                key: key(unit),
                extent,
            }]
        };
        // `maximum: 0` is a pool without nodes (Gardener requires
        // maximum >= minimum >= 0): nothing to take down, no finding.
        let maximum = worker.maximum.and_then(|m| u64::try_from(m).ok());
        let pct = bound.percent_of_pool_maximum;
        let always = bound.always_allowed_nodes;
        let fix_suffix = "and roll faster with maxSurge instead: surge nodes add capacity during the update rather than removing it.";
        let fix =
            |limit: &str| ["set maxUnavailable to at most ", limit, ", ", fix_suffix].concat();
        let outcome = match (value, maximum) {
            (IntOrPercent::Invalid(_), _) => Some((
                one("/invalid", 0),
                "is neither a whole number nor a percentage such as 25%, so the rolling update's limit is undefined.".to_string(),
                ["set maxUnavailable to a whole number or a percentage, ", fix_suffix].concat(),
                false,
            )),
            (value, Some(maximum)) => {
                let allowed = always.max(maximum.saturating_mul(pct) / 100);
                let (nodes, fenceposts) = unavailable_nodes(worker, maximum, value, surge);
                let counted = nodes.saturating_sub(fenceposts);
                // MCM applies a whole number to the machines that exist, so it
                // must hold at the pool's smallest size too; a percentage
                // shrinks with the pool.
                let minimum = worker
                    .minimum
                    .and_then(|m| u64::try_from(m).ok())
                    .unwrap_or(0);
                let smallest = minimum.min(maximum).max(1);
                let bound_at = |size: u64| always.max(size.saturating_mul(pct) / 100);
                let allowed_small = bound_at(smallest);
                // The pool loses min(count, size) of `size` nodes: the excess
                // is largest at the size the count empties, or at the minimum.
                let size = smallest.max(counted.min(maximum));
                let lost = counted.min(size);
                let allowed_at = bound_at(size);
                let small_over = matches!(value, IntOrPercent::Count(_)) && lost > allowed_at;
                (nodes > allowed || small_over).then(|| {
                    let advisory = fenceposts > 0 && counted <= allowed && !small_over;
                    let zones = worker.zones.map_or(1, |z| z.0).max(1);
                    let zones_text = decimal(zones, &mut [0; 20]).to_string();
                    let zone_note = if zones < 2 {
                        String::new()
                    } else if fenceposts == 0 || small_over {
                        [" (Gardener splits maxSurge and maxUnavailable over its ", &zones_text, " zones)"].concat()
                    } else {
                        [
                            " (Gardener splits maxSurge ",
                            &surge.to_string(),
                            " and maxUnavailable over its ",
                            &zones_text,
                            " zones, and machine-controller-manager takes 1 node down in each of the ",
                            decimal(fenceposts, &mut [0; 20]),
                            " zone(s) left with neither)",
                        ]
                        .concat()
                    };
                    let small_text = decimal(allowed_small, &mut [0; 20]).to_string();
                    let surge_per_zone = " (one surge node per zone: a zone left with neither surge nor maxUnavailable loses a node anyway)";
                    let fix = if advisory {
                        ["set maxSurge to at least ", &zones_text, surge_per_zone, ": surge nodes add capacity during the update rather than removing it."].concat()
                    } else {
                        // A percentage holds at every size: offer it when it
                        // also holds at the maximum, else a whole number.
                        let percent = IntOrPercent::Percent(pct);
                        let (p_nodes, p_fenceposts) = unavailable_nodes(worker, maximum, &percent, surge);
                        let (target, suggestion) = if pct > 0 && p_nodes.saturating_sub(p_fenceposts) <= allowed {
                            let target = [
                                "a percentage of at most ",
                                decimal(pct, &mut [0; 20]),
                                "% (machine-controller-manager resolves it against the machines that exist, so it holds at every pool size; a whole number must stay within ",
                                &small_text,
                                ", the bound at the pool's minimum)",
                            ]
                            .concat();
                            (target, percent)
                        } else {
                            (["at most ", &small_text].concat(), IntOrPercent::Count(allowed_small))
                        };
                        if unavailable_nodes(worker, maximum, &suggestion, surge).0 > allowed {
                            ["set maxUnavailable to ", &target, " and maxSurge to at least ", &zones_text, surge_per_zone, ": surge nodes add capacity during the update rather than removing it."].concat()
                        } else {
                            ["set maxUnavailable to ", &target, ", ", fix_suffix].concat()
                        }
                    };
                    let mut about = Vec::new();
                    if nodes > allowed {
                        about.push(Finding { key: key(""), extent: nodes.saturating_sub(allowed) });
                    }
                    let (head, bound, of) = if small_over {
                        about.push(Finding { key: key("/minimum"), extent: lost.saturating_sub(allowed_at) });
                        let counted_text = decimal(counted, &mut [0; 20]).to_string();
                        let size_text = decimal(size, &mut [0; 20]).to_string();
                        let minimum_text = decimal(minimum, &mut [0; 20]).to_string();
                        let at = match (size == smallest, minimum, size) {
                            (true, 0, _) => "at 1 node (its minimum is 0) the pool loses ".to_string(),
                            (true, _, 1) => "at its minimum of 1 node the pool loses ".to_string(),
                            (true, _, _) => ["at its minimum of ", &size_text, " nodes the pool loses "].concat(),
                            (false, _, _) => ["at ", &size_text, " nodes (its minimum is ", &minimum_text, ") the pool loses "].concat(),
                        };
                        let lost_text = decimal(lost, &mut [0; 20]).to_string();
                        let lost = match (lost >= size, size) {
                            (true, 1) => "it",
                            (true, _) => "all of them",
                            _ => &lost_text,
                        };
                        let head = [
                            "lets ",
                            &counted_text,
                            " nodes be down at once during a rolling update (e.g. a new machine image) however small the pool",
                            &zone_note,
                            ": machine-controller-manager applies a whole number to the machines that exist, so ",
                            &at,
                            lost,
                        ]
                        .concat();
                        (head, allowed_at, size_text)
                    } else {
                        let head = [
                            "lets up to ",
                            decimal(nodes, &mut [0; 20]),
                            " of the pool's maximum ",
                            decimal(maximum, &mut [0; 20]),
                            " nodes be down at once during a rolling update (e.g. a new machine image)",
                            &zone_note,
                        ]
                        .concat();
                        (head, allowed, "maximum".to_string())
                    };
                    let problem = [
                        &head,
                        ", above the bound of ",
                        decimal(bound, &mut [0; 20]),
                        " (",
                        decimal(pct, &mut [0; 20]),
                        "% of ",
                        &of,
                        ", at least ",
                        decimal(always, &mut [0; 20]),
                        "): the remaining nodes must absorb their pods, run out of capacity and evict or leave them Pending, and a faulty image takes that many nodes down in one step.",
                    ]
                    .concat();
                    (about, problem, fix, advisory)
                })
            }
            (IntOrPercent::Percent(p), None) => (*p > pct).then(|| {
                (
                    one("/percent", p.saturating_sub(pct)),
                    [
                        "lets ",
                        decimal(*p, &mut [0; 20]),
                        "% of the pool's nodes be down at once during a rolling update, above the bound of ",
                        decimal(pct, &mut [0; 20]),
                        "% (the pool sets no maximum to count nodes against): the remaining nodes cannot absorb their pods.",
                    ]
                    .concat(),
                    fix(&[decimal(pct, &mut [0; 20]), "%"].concat()),
                    false,
                )
            }),
            (IntOrPercent::Count(n), None) => (*n > always).then(|| {
                (
                    one("/unsized", n.saturating_sub(always)),
                    [
                        "lets ",
                        decimal(*n, &mut [0; 20]),
                        " nodes be down at once during a rolling update, above the bound of ",
                        decimal(always, &mut [0; 20]),
                        " node(s) for a pool without a maximum to count against: the remaining nodes cannot absorb their pods.",
                    ]
                    .concat(),
                    fix(decimal(always, &mut [0; 20])),
                    false,
                )
            }),
        };
        if let Some((about, problem, fix, advisory)) = outcome {
            let violation = Violation::new(
                pool_field(index, worker, "maxUnavailable"),
                worker.max_unavailable.as_ref().map_or_else(
                    || "(not set: Gardener defaults it to 0)".to_string(),
                    ToString::to_string,
                ),
                problem,
                fix,
            );
            findings.push(Found {
                violation: violation.about(about),
                advisory,
            });
        }
    }
}

fn findings(shoot: &Shoot, settings: &Settings) -> Vec<Found> {
    let mut findings = Vec::new();
    check_pids(shoot, &settings.pod_pids_limit, &mut findings);
    check_inflight(shoot, &settings.api_server_inflight, &mut findings);
    check_max_unavailable(shoot, &settings.max_unavailable, &mut findings);
    findings
}

/// The summary of the warnings past [`crate::violation::MAX_LISTED`]: `[advisory, kept]`.
fn unlisted_warning(object: &str, [advisory, kept]: [usize; 2]) -> String {
    let (mut total, mut kept_digits, mut advisory_digits) = ([0; 20], [0; 20], [0; 20]);
    [
        "crash-guard/shoot-hardening: ",
        object,
        ": … ",
        count(advisory.saturating_add(kept), &mut total),
        " more findings, not listed:",
        if kept > 0 { " " } else { "" },
        if kept > 0 { count(kept, &mut kept_digits) } else { "" },
        if kept > 0 {
            " already out of bounds before this update, which does not make them worse, so the update is allowed"
        } else {
            ""
        },
        if kept > 0 && advisory > 0 { ";" } else { "" },
        if advisory > 0 { " " } else { "" },
        if advisory > 0 { count(advisory, &mut advisory_digits) } else { "" },
        if advisory > 0 {
            " pools over several zones whose rolling update takes more nodes down than the bound, allowed since maxUnavailable itself stays within it (fix: maxSurge of at least the number of zones)"
        } else {
            ""
        },
        ".",
    ]
    .concat()
}

impl Rule for ShootHardening {
    const NAME: &'static str = "shoot-hardening";
    type Settings = Settings;
    type Object<'a> = Shoot<'a>;

    fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
        match operation {
            Operation::Create | Operation::Update if is_shoot(kind) => Prefetch::OBJECT,
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
        _host: &dyn Host,
    ) -> Result<Verdict, DecodeError> {
        if !is_shoot(&request.kind)
            || !matches!(request.operation, Operation::Create | Operation::Update)
        {
            return Ok(Verdict::accept());
        }
        let Some(shoot) = objects.object.decode()? else {
            return Ok(Verdict::accept());
        };
        let new = findings(&shoot, settings);
        if new.is_empty() {
            return Ok(Verdict::accept());
        }
        let old = match request.operation {
            Operation::Update => objects
                .old_object
                .decode()?
                .map(|old| findings(&old, settings))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let old: Vec<Violation> = old.into_iter().map(|f| f.violation).collect();
        let before = Before::new(&old);
        let mut verdict = Verdict::accept();
        // Warnings past MAX_LISTED are counted (one per pool: thousands).
        let mut unlisted = [0usize; 2];
        let object = request.object_ref();
        for finding in new {
            let (kind, allowed) = if finding.advisory {
                (
                    0,
                    " is allowed, since maxUnavailable itself stays within the bound; but note: ",
                )
            } else if before.had(&finding.violation) {
                (1, " was already out of bounds before this update, which does not make it worse, so the update is allowed. ")
            } else {
                verdict.violation(finding.violation);
                continue;
            };
            let listed = verdict
                .listed_warning(|| finding.violation.kept_warning(Self::NAME, &object, allowed));
            if let Some(n) = unlisted.get_mut(kind).filter(|_| !listed) {
                *n = n.saturating_add(1);
            }
        }
        if unlisted != [0, 0] {
            verdict.warning(unlisted_warning(&object, unlisted));
        }
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::NoHost;
    use crate::violation::MAX_LISTED;
    use rstest::rstest;
    use serde_json::{json, Value};

    fn shoot() -> Value {
        json!({
            "apiVersion": "core.gardener.cloud/v1beta1",
            "kind": "Shoot",
            "metadata": {"name": "web", "namespace": "garden-shop"},
            "spec": {
                "kubernetes": {"version": "1.31.2", "kubelet": {"podPidsLimit": 4096}},
                "provider": {"type": "aws", "workers": [
                    {"name": "general", "minimum": 3, "maximum": 12, "maxSurge": 1, "maxUnavailable": 0,
                     "machine": {"type": "m5.xlarge", "image": {"name": "gardenlinux", "version": "1592.1.0"}}},
                    {"name": "gpu", "minimum": 0, "maximum": 4,
                     "machine": {"type": "p3.2xlarge", "image": {"name": "gardenlinux", "version": "1592.1.0"}},
                     "kubernetes": {"kubelet": {"podPidsLimit": 8192}}}
                ]}
            }
        })
    }

    fn with(mut object: Value, pointer: &str, value: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        if let Some(Value::Object(map)) = object.pointer_mut(parent) {
            if value.is_null() {
                map.remove(key);
            } else {
                map.insert(key.to_string(), value);
            }
        }
        object
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

    fn judge(json: &str) -> Verdict {
        crate::policy::evaluate::<ShootHardening>(json, &Settings::default(), &NoHost)
            .expect("decodes")
    }

    fn fields(verdict: &Verdict) -> Vec<String> {
        verdict.violations.iter().map(|v| v.field.clone()).collect()
    }

    /// Pool gpu with this `maximum` (removed when null) and `maxUnavailable`.
    fn gpu_pool(maximum: Value, unavailable: Value) -> Value {
        with(
            with(shoot(), "/spec/provider/workers/1/maximum", maximum),
            "/spec/provider/workers/1/maxUnavailable",
            unavailable,
        )
    }

    fn inflight(mutating: i64) -> Value {
        with(
            shoot(),
            "/spec/kubernetes/kubeAPIServer",
            json!({"requests": {"maxMutatingInflight": mutating}}),
        )
    }

    const SHOOT_PIDS: &str = "/spec/kubernetes/kubelet/podPidsLimit";
    const GPU_PIDS: &str = "/spec/provider/workers/1/kubernetes/kubelet/podPidsLimit";

    #[rstest]
    #[case::valid(shoot(), &[])]
    #[case::shoot_pids_missing(with(shoot(), SHOOT_PIDS, Value::Null), &["spec.kubernetes.kubelet.podPidsLimit"])]
    #[case::shoot_pids_too_low(with(shoot(), SHOOT_PIDS, json!(512)), &["spec.kubernetes.kubelet.podPidsLimit"])]
    #[case::shoot_pids_unlimited(with(shoot(), SHOOT_PIDS, json!(-1)), &["spec.kubernetes.kubelet.podPidsLimit"])]
    #[case::shoot_pids_too_high(with(shoot(), SHOOT_PIDS, json!(100_000)), &["spec.kubernetes.kubelet.podPidsLimit"])]
    #[case::shoot_pids_at_bounds(with(with(shoot(), SHOOT_PIDS, json!(1024)), GPU_PIDS, json!(32768)), &[])]
    #[case::pool_override_too_high(with(shoot(), GPU_PIDS, json!(65536)), &["spec.provider.workers[1].kubernetes.kubelet.podPidsLimit (pool gpu)"])]
    #[case::pool_block_without_pids(with(shoot(), GPU_PIDS, Value::Null), &["spec.provider.workers[1].kubernetes.kubelet.podPidsLimit (pool gpu)"])]
    #[case::workerless(with(with(shoot(), SHOOT_PIDS, Value::Null), "/spec/provider/workers", json!([])), &[])]
    #[case::every_pool_limited_shoot_unset(with(with(shoot(), SHOOT_PIDS, Value::Null), "/spec/provider/workers/0/kubernetes", json!({"kubelet": {"podPidsLimit": 4096}})), &[])]
    #[case::every_pool_limited_shoot_unlimited(with(with(shoot(), SHOOT_PIDS, json!(-1)), "/spec/provider/workers/0/kubernetes", json!({"kubelet": {"podPidsLimit": 4096}})), &[])]
    #[case::every_pool_own_block_one_without_pids(with(with(with(shoot(), SHOOT_PIDS, Value::Null), "/spec/provider/workers/0/kubernetes", json!({"kubelet": {}})), GPU_PIDS, json!(4096)), &["spec.provider.workers[0].kubernetes.kubelet.podPidsLimit (pool general)"])]
    #[case::pool_kubernetes_without_kubelet_inherits(with(with(shoot(), SHOOT_PIDS, Value::Null), "/spec/provider/workers/0/kubernetes", json!({"version": "1.31.2"})), &["spec.kubernetes.kubelet.podPidsLimit"])]
    #[case::inflight_in_bounds(with(shoot(), "/spec/kubernetes/kubeAPIServer", json!({"requests": {"maxNonMutatingInflight": 800, "maxMutatingInflight": 50}})), &[])]
    #[case::inflight_out_of_bounds(
        with(shoot(), "/spec/kubernetes/kubeAPIServer", json!({"requests": {"maxNonMutatingInflight": 3000, "maxMutatingInflight": 0}})),
        &["spec.kubernetes.kubeAPIServer.requests.maxNonMutatingInflight", "spec.kubernetes.kubeAPIServer.requests.maxMutatingInflight"]
    )]
    #[case::max_unavailable_count_ok(with(shoot(), "/spec/provider/workers/0/maxUnavailable", json!(1)), &[])]
    #[case::max_unavailable_count_all_nodes_at_minimum(with(shoot(), "/spec/provider/workers/0/maxUnavailable", json!(3)), &["spec.provider.workers[0].maxUnavailable (pool general)"])]
    #[case::max_unavailable_count_high(with(shoot(), "/spec/provider/workers/0/maxUnavailable", json!(4)), &["spec.provider.workers[0].maxUnavailable (pool general)"])]
    #[case::max_unavailable_percent_ok(with(shoot(), "/spec/provider/workers/0/maxUnavailable", json!("25%")), &[])]
    #[case::max_unavailable_percent_high(with(shoot(), "/spec/provider/workers/0/maxUnavailable", json!("50%")), &["spec.provider.workers[0].maxUnavailable (pool general)"])]
    #[case::small_pool_one_node(with(shoot(), "/spec/provider/workers/1/maxUnavailable", json!(1)), &[])]
    #[case::small_pool_all_nodes(with(shoot(), "/spec/provider/workers/1/maxUnavailable", json!("100%")), &["spec.provider.workers[1].maxUnavailable (pool gpu)"])]
    #[case::max_unavailable_invalid(with(shoot(), "/spec/provider/workers/0/maxUnavailable", json!("2")), &["spec.provider.workers[0].maxUnavailable (pool general)"])]
    #[case::no_maximum_percent(with(with(shoot(), "/spec/provider/workers/0/maximum", Value::Null), "/spec/provider/workers/0/maxUnavailable", json!("30%")), &["spec.provider.workers[0].maxUnavailable (pool general)"])]
    #[case::parked_pool_percent(gpu_pool(json!(0), json!("50%")), &[])]
    #[case::parked_pool_count(gpu_pool(json!(0), json!(5)), &[])]
    #[case::parked_pool_invalid(gpu_pool(json!(0), json!("2")), &["spec.provider.workers[1].maxUnavailable (pool gpu)"])]
    fn judges_creates(#[case] object: Value, #[case] expected: &[&str]) {
        let verdict = judge(&request("CREATE", &object, &Value::Null));
        assert_eq!(fields(&verdict), expected);
        assert!(verdict.warnings.is_empty());
    }

    #[rstest]
    #[case::unchanged_violation_warns(
        with(shoot(), SHOOT_PIDS, Value::Null),
        with(shoot(), SHOOT_PIDS, Value::Null),
        0,
        1
    )]
    #[case::improving_violation_warns(with(shoot(), SHOOT_PIDS, json!(50_000)), with(shoot(), SHOOT_PIDS, json!(90_000)), 0, 1)]
    #[case::worsening_violation_refused(with(shoot(), SHOOT_PIDS, json!(90_000)), with(shoot(), SHOOT_PIDS, json!(50_000)), 1, 0)]
    #[case::new_violation_refused(with(shoot(), SHOOT_PIDS, Value::Null), shoot(), 1, 0)]
    #[case::fix_accepted(shoot(), with(shoot(), SHOOT_PIDS, Value::Null), 0, 0)]
    #[case::pids_missing_to_low_warns(with(shoot(), SHOOT_PIDS, json!(512)), with(shoot(), SHOOT_PIDS, Value::Null), 0, 1)]
    #[case::pids_unlimited_to_low_warns(with(shoot(), SHOOT_PIDS, json!(512)), with(shoot(), SHOOT_PIDS, json!(-1)), 0, 1)]
    #[case::pids_missing_to_high_warns(with(shoot(), SHOOT_PIDS, json!(100_000)), with(shoot(), SHOOT_PIDS, Value::Null), 0, 1)]
    #[case::pids_unlimited_to_missing_warns(with(shoot(), SHOOT_PIDS, Value::Null), with(shoot(), SHOOT_PIDS, json!(-1)), 0, 1)]
    #[case::pids_low_to_missing_refused(with(shoot(), SHOOT_PIDS, Value::Null), with(shoot(), SHOOT_PIDS, json!(512)), 1, 0)]
    #[case::pids_high_to_unlimited_refused(with(shoot(), SHOOT_PIDS, json!(-1)), with(shoot(), SHOOT_PIDS, json!(100_000)), 1, 0)]
    #[case::pids_lower_refused(with(shoot(), SHOOT_PIDS, json!(256)), with(shoot(), SHOOT_PIDS, json!(512)), 1, 0)]
    #[case::pool_pids_missing_to_low_warns(with(shoot(), GPU_PIDS, json!(512)), with(shoot(), GPU_PIDS, Value::Null), 0, 1)]
    #[case::pool_added_inheriting_missing_limit_refused(with(shoot(), SHOOT_PIDS, Value::Null), with(with(shoot(), SHOOT_PIDS, Value::Null), "/spec/provider/workers/0/kubernetes", json!({"kubelet": {"podPidsLimit": 4096}})), 1, 0)]
    #[case::pool_added_inheriting_unlimited_refused(with(shoot(), SHOOT_PIDS, json!(-1)), with(with(shoot(), SHOOT_PIDS, json!(-1)), "/spec/provider/workers/0/kubernetes", json!({"kubelet": {"podPidsLimit": 4096}})), 1, 0)]
    #[case::inflight_off_to_low_warns(inflight(40), inflight(0), 0, 1)]
    #[case::inflight_off_to_high_warns(inflight(600), inflight(0), 0, 1)]
    #[case::inflight_low_to_off_refused(inflight(0), inflight(40), 1, 0)]
    #[case::inflight_lower_refused(inflight(30), inflight(40), 1, 0)]
    #[case::parked_pool_unchanged_accepted(gpu_pool(json!(0), json!("100%")), gpu_pool(json!(0), json!("100%")), 0, 0)]
    #[case::parked_pool_grown_refused(gpu_pool(json!(100), json!("100%")), gpu_pool(json!(0), json!("100%")), 1, 0)]
    #[case::percent_without_maximum_to_nodes_refused(gpu_pool(json!(100), json!("100%")), gpu_pool(Value::Null, json!("100%")), 1, 0)]
    #[case::count_without_maximum_to_nodes_refused(gpu_pool(json!(100), json!(100)), gpu_pool(Value::Null, json!(100)), 1, 0)]
    #[case::nodes_kept_warns(gpu_pool(json!(8), json!("100%")), gpu_pool(json!(8), json!("100%")), 0, 1)]
    #[case::count_at_minimum_kept_warns(general_unavailable(3), general_unavailable(3), 0, 1)]
    #[case::count_at_minimum_lowered_warns(general_unavailable(2), general_unavailable(3), 0, 1)]
    #[case::count_at_minimum_raised_refused(general_unavailable(3), general_unavailable(2), 1, 0)]
    #[case::count_at_minimum_introduced_refused(
        general_unavailable(3),
        general_unavailable(1),
        1,
        0
    )]
    #[case::count_to_percent_accepted(general_unavailable("25%"), general_unavailable(3), 0, 0)]
    fn judges_updates(
        #[case] object: Value,
        #[case] old: Value,
        #[case] violations: usize,
        #[case] warnings: usize,
    ) {
        let verdict = judge(&request("UPDATE", &object, &old));
        assert_eq!(verdict.violations.len(), violations, "{verdict:?}");
        assert_eq!(verdict.warnings.len(), warnings, "{verdict:?}");
    }

    fn general_unavailable(value: impl Into<Value>) -> Value {
        with(
            shoot(),
            "/spec/provider/workers/0/maxUnavailable",
            value.into(),
        )
    }

    fn wide_shoot(pools: usize) -> Value {
        let workers: Vec<Value> = (0..pools)
            .map(|i| json!({"name": format!("p{i}"), "maxUnavailable": "2"}))
            .collect();
        with(shoot(), "/spec/provider/workers", Value::Array(workers))
    }

    /// Fuzzing-review regression: old findings were scanned once per new
    /// finding, quadratic in the worker pools. Review 45: one warning per
    /// kept finding made 30 MB responses (and OOM); MAX_LISTED are listed.
    #[rstest]
    #[case::unchanged_pools(
        30_000,
        30_000,
        0,
        ": … 29900 more findings, not listed: 29900 already out of bounds before this update"
    )]
    #[case::added_pools(
        30_000,
        15_000,
        15_000,
        ": … 14900 more findings, not listed: 14900 already out of bounds before this update"
    )]
    fn wide_updates_are_linear(
        #[case] pools: usize,
        #[case] old_pools: usize,
        #[case] violations: usize,
        #[case] summary: &str,
    ) {
        let json = request("UPDATE", &wide_shoot(pools), &wide_shoot(old_pools));
        let verdict = judge(&json);
        assert_eq!(verdict.violations.len(), violations);
        assert_eq!(verdict.warnings.len(), MAX_LISTED + 1);
        let last = verdict.warnings.last().map_or("", String::as_str);
        assert!(last.contains(summary), "{last}");
    }

    /// Pools over three zones with Gardener's defaults (advisory warnings),
    /// `kept` of them also with an invalid maxUnavailable the old object had.
    fn zoned_pools(advisory: usize, kept: usize) -> Value {
        let zoned = (0..advisory)
            .map(|i| json!({"name": format!("z{i}"), "maximum": 3, "zones": ["a", "b", "c"]}));
        let invalid = (0..kept).map(|i| json!({"name": format!("i{i}"), "maxUnavailable": "2"}));
        let workers: Vec<Value> = zoned.chain(invalid).collect();
        with(shoot(), "/spec/provider/workers", Value::Array(workers))
    }

    #[rstest]
    #[case::listed_all("CREATE", zoned_pools(MAX_LISTED, 0), MAX_LISTED, None)]
    #[case::advisory_on_create("CREATE", zoned_pools(150, 0), MAX_LISTED + 1, Some(": … 50 more findings, not listed: 50 pools over several zones whose rolling update takes more nodes down than the bound, allowed since maxUnavailable itself stays within it (fix: maxSurge of at least the number of zones)."))]
    #[case::both_on_update("UPDATE", zoned_pools(90, 40), MAX_LISTED + 1, Some(": … 30 more findings, not listed: 30 already out of bounds before this update, which does not make them worse, so the update is allowed."))]
    #[case::kept_then_advisory("UPDATE", zoned_pools(150, 120).pointer("/spec/provider/workers").map(|w| { let mut w = w.as_array().cloned().unwrap_or_default(); w.rotate_left(150); with(shoot(), "/spec/provider/workers", Value::Array(w)) }).unwrap_or_default(), MAX_LISTED + 1, Some(": … 170 more findings, not listed: 20 already out of bounds before this update, which does not make them worse, so the update is allowed; 150 pools over several zones"))]
    fn warnings_past_the_listed_maximum_are_counted(
        #[case] operation: &str,
        #[case] object: Value,
        #[case] warnings: usize,
        #[case] summary: Option<&str>,
    ) {
        let verdict = judge(&request(operation, &object, &object));
        assert!(verdict.violations.is_empty(), "{verdict:?}");
        assert_eq!(verdict.warnings.len(), warnings);
        let last = verdict.warnings.last().map_or("", String::as_str);
        match summary {
            Some(summary) => assert!(
                last.starts_with("crash-guard/shoot-hardening: Shoot garden-shop/web: … ")
                    && last.contains(summary),
                "{last}"
            ),
            None => assert!(!last.contains("not listed"), "{last}"),
        }
    }

    #[rstest]
    #[case::delete("DELETE", "Shoot", true)]
    #[case::other_kind("CREATE", "Seed", true)]
    fn ignores(#[case] operation: &str, #[case] kind: &str, #[case] accepted: bool) {
        let object = with(shoot(), SHOOT_PIDS, Value::Null);
        let json = json!({
            "uid": "u", "operation": operation,
            "kind": {"group": "core.gardener.cloud", "version": "v1beta1", "kind": kind},
            "object": object, "oldObject": object,
        })
        .to_string();
        assert_eq!(judge(&json).is_accepted(), accepted);
    }

    #[test]
    fn messages_name_field_value_bound_and_fix() {
        let object = with(
            with(shoot(), SHOOT_PIDS, Value::Null),
            "/spec/provider/workers/0/maxUnavailable",
            json!("50%"),
        );
        let response = judge(&request("CREATE", &object, &Value::Null))
            .into_response("shoot-hardening", "Shoot garden-shop/web");
        let message = response.message.unwrap_or_default();
        for needle in [
            "Shoot garden-shop/web: 2 violations",
            "spec.kubernetes.kubelet.podPidsLimit = (not set)",
            "pools general",
            "from 1024 to 32768",
            "spec.provider.workers[0].maxUnavailable (pool general) = 50%",
            "bound of 3 (25% of maximum",
            "Fix: set maxUnavailable to a percentage of at most 25% (machine-controller-manager resolves it against the machines that exist, so it holds at every pool size; a whole number must stay within 1, the bound at the pool's minimum)",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }

    #[test]
    fn wrong_types_are_decode_errors() {
        let object = with(shoot(), SHOOT_PIDS, json!("many"));
        let json = request("CREATE", &object, &Value::Null);
        let error = crate::policy::evaluate::<ShootHardening>(&json, &Settings::default(), &NoHost)
            .unwrap_err();
        assert!(error.to_string().contains("podPidsLimit"), "{error}");
    }

    #[rstest]
    #[case::pids_below_gardener(r#"{"podPidsLimit":{"minimum":50}}"#, "podPidsLimit.minimum")]
    #[case::pids_above_kernel(r#"{"podPidsLimit":{"maximum":5000000}}"#, "podPidsLimit.maximum")]
    #[case::pids_inverted(
        r#"{"podPidsLimit":{"minimum":4096,"maximum":2048}}"#,
        "podPidsLimit.maximum: 2048 is below minimum 4096"
    )]
    #[case::inflight_zero(
        r#"{"apiServerInflight":{"maxMutatingInflight":{"minimum":0,"maximum":10}}}"#,
        "apiServerInflight.maxMutatingInflight.minimum"
    )]
    #[case::inflight_partial(
        r#"{"apiServerInflight":{"maxMutatingInflight":{"minimum":10}}}"#,
        "missing field `maximum`"
    )]
    #[case::non_mutating_above_gardener(
        r#"{"apiServerInflight":{"maxNonMutatingInflight":{"minimum":100,"maximum":5000}}}"#,
        "apiServerInflight.maxNonMutatingInflight.maximum: 5000 is above 800, which Gardener itself refuses"
    )]
    #[case::mutating_above_gardener(
        r#"{"apiServerInflight":{"maxMutatingInflight":{"minimum":50,"maximum":401}}}"#,
        "apiServerInflight.maxMutatingInflight.maximum: 401 is above 400"
    )]
    #[case::non_mutating_maximum_below_default(
        r#"{"apiServerInflight":{"maxNonMutatingInflight":{"minimum":100,"maximum":300}}}"#,
        "apiServerInflight.maxNonMutatingInflight.maximum: 300 is below kube-apiserver's default of 400, which every Shoot that leaves maxNonMutatingInflight unset gets"
    )]
    #[case::mutating_minimum_above_default(
        r#"{"apiServerInflight":{"maxMutatingInflight":{"minimum":250,"maximum":400}}}"#,
        "apiServerInflight.maxMutatingInflight.minimum: 250 is above kube-apiserver's default of 200"
    )]
    #[case::percent_above_100(
        r#"{"maxUnavailable":{"percentOfPoolMaximum":150}}"#,
        "maxUnavailable.percentOfPoolMaximum"
    )]
    #[case::always_allowed_above_cluster(
        r#"{"maxUnavailable":{"alwaysAllowedNodes":5001}}"#,
        "maxUnavailable.alwaysAllowedNodes: 5001 is above 5000, the most nodes a Kubernetes cluster is built for"
    )]
    #[case::unknown_key(r#"{"podPidLimit":{}}"#, "unknown field `podPidLimit`")]
    #[case::bad_exemption(
        r#"{"exemptions":{"serviceAccounts":["x"]}}"#,
        "exemptions.serviceAccounts[0]"
    )]
    fn refuses_invalid_settings(#[case] json: &str, #[case] expected: &str) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }

    /// Struct-level `#[serde(default)]` takes each missing field from the
    /// section's `Default`, so setting one field keeps the others.
    #[rstest]
    #[case::pids_minimum(r#"{"podPidsLimit":{"minimum":2048}}"#, Settings { pod_pids_limit: PidsLimitBounds { minimum: 2048, ..PidsLimitBounds::default() }, ..Settings::default() })]
    #[case::pids_required(r#"{"podPidsLimit":{"required":false}}"#, Settings { pod_pids_limit: PidsLimitBounds { required: false, ..PidsLimitBounds::default() }, ..Settings::default() })]
    #[case::one_inflight_range(
        r#"{"apiServerInflight":{"maxMutatingInflight":{"minimum":10,"maximum":400}}}"#,
        Settings { api_server_inflight: InflightBounds { max_mutating_inflight: Range { minimum: 10, maximum: 400 }, ..InflightBounds::default() }, ..Settings::default() }
    )]
    #[case::inflight_ranges_at_the_defaults(
        r#"{"apiServerInflight":{"maxNonMutatingInflight":{"minimum":400,"maximum":400},"maxMutatingInflight":{"minimum":200,"maximum":200}}}"#,
        Settings { api_server_inflight: InflightBounds { max_non_mutating_inflight: Range { minimum: 400, maximum: 400 }, max_mutating_inflight: Range { minimum: 200, maximum: 200 } }, ..Settings::default() }
    )]
    #[case::always_allowed_at_cluster_size(r#"{"maxUnavailable":{"alwaysAllowedNodes":5000}}"#, Settings { max_unavailable: MaxUnavailableBound { always_allowed_nodes: 5000, ..MaxUnavailableBound::default() }, ..Settings::default() })]
    #[case::max_unavailable_percent(r#"{"maxUnavailable":{"percentOfPoolMaximum":50}}"#, Settings { max_unavailable: MaxUnavailableBound { percent_of_pool_maximum: 50, ..MaxUnavailableBound::default() }, ..Settings::default() })]
    fn one_setting_keeps_the_other_defaults(#[case] json: &str, #[case] expected: Settings) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let settings = crate::settings::parse::<Settings>(Some(&raw)).expect("valid");
        assert_eq!(settings, expected);
    }

    #[rstest]
    #[case::shoot_limit_in_bounds(
        shoot(),
        Some("or remove that block to inherit the Shoot's podPidsLimit of 4096")
    )]
    #[case::shoot_limit_unset(with(shoot(), SHOOT_PIDS, Value::Null), None)]
    #[case::shoot_limit_out_of_bounds(with(shoot(), SHOOT_PIDS, json!(100_000)), None)]
    fn pool_fix_suggests_inheriting_only_a_valid_limit(
        #[case] object: Value,
        #[case] inherit: Option<&str>,
    ) {
        let object = with(object, GPU_PIDS, Value::Null);
        let verdict = judge(&request("CREATE", &object, &Value::Null));
        let fix = verdict
            .violations
            .iter()
            .find(|v| v.field.contains("(pool gpu)"))
            .map(|v| v.fix.as_str())
            .unwrap_or("");
        assert!(fix.starts_with("add podPidsLimit (from 1024 to 32768, e.g. 4096) to spec.provider.workers[1].kubernetes.kubelet"), "{fix}");
        match inherit {
            Some(text) => assert!(fix.contains(text), "{fix}"),
            None => assert!(!fix.contains("inherit"), "{fix}"),
        }
    }

    /// Review 45: -1 (no limit) was explained as a limit too low.
    #[rstest]
    #[case::shoot(
        SHOOT_PIDS,
        "spec.kubernetes.kubelet.podPidsLimit",
        "a negative value means no PID limit at all (applies to pools general): one fork bomb"
    )]
    #[case::pool(
        GPU_PIDS,
        "(pool gpu)",
        "a negative value means no PID limit at all (pool gpu): one fork bomb"
    )]
    fn negative_pids_limit_is_no_limit(
        #[case] pointer: &str,
        #[case] field: &str,
        #[case] expected: &str,
    ) {
        let object = with(shoot(), pointer, json!(-1));
        let verdict = judge(&request("CREATE", &object, &Value::Null));
        let problem = verdict
            .violations
            .iter()
            .find(|v| v.field.contains(field))
            .map_or("", |v| v.problem.as_str());
        assert!(problem.starts_with(expected), "{problem}");
        assert!(!problem.contains("below the minimum"), "{problem}");
    }

    #[rstest]
    #[case::mutating_zero("maxMutatingInflight", "write")]
    #[case::non_mutating_zero("maxNonMutatingInflight", "read")]
    fn zero_inflight_message_describes_priority_and_fairness(
        #[case] field: &str,
        #[case] verb: &str,
    ) {
        let object = with(
            shoot(),
            "/spec/kubernetes/kubeAPIServer",
            json!({"requests": {field: 0}}),
        );
        let verdict = judge(&request("CREATE", &object, &Value::Null));
        let problem = verdict
            .violations
            .first()
            .map(|v| v.problem.as_str())
            .unwrap_or("");
        for needle in [
            "under API Priority and Fairness (on by default) kube-apiserver's total concurrency is the sum",
            &format!("so 0 here takes the {verb} share out of it"),
            &format!("switched off, it switches the {verb} limit off entirely"),
        ] {
            assert!(problem.contains(needle), "{needle} missing from {problem}");
        }
    }

    fn zoned_pool(
        minimum: u64,
        maximum: u64,
        surge: Value,
        unavailable: Value,
        zones: usize,
    ) -> Value {
        let zones: Vec<String> = (0..zones).map(|z| format!("eu-1{z}")).collect();
        let mut object = shoot();
        if let Some(pool) = object.pointer_mut("/spec/provider/workers/1") {
            *pool = json!({"name": "gpu", "minimum": minimum, "maximum": maximum, "maxSurge": surge,
                   "maxUnavailable": unavailable, "zones": zones,
                   "machine": {"type": "p3.2xlarge", "image": {"name": "gardenlinux", "version": "1592.1.0"}}});
        }
        object
    }

    /// Gardener splits maxSurge/maxUnavailable over the zones (the first
    /// zones get the remainder); machine-controller-manager takes 1 node down
    /// in a zone left with (0, 0); percentages are weighted per zone by
    /// `minimum` and rounded up.
    #[rstest]
    #[case::surge_1_in_3_zones(zoned_pool(3, 4, json!(1), json!(0), 3), Some((false, "lets up to 2 of the pool's maximum 4 nodes", "set maxSurge to at least 3")))]
    #[case::surge_1_unavailable_1_in_3_zones(zoned_pool(3, 4, json!(1), json!(1), 3), Some((false, "lets up to 3 of the pool's maximum 4 nodes", "set maxSurge to at least 3")))]
    #[case::unset_in_3_zones(with(with(zoned_pool(3, 4, json!(1), json!(0), 3), "/spec/provider/workers/1/maxSurge", Value::Null), "/spec/provider/workers/1/maxUnavailable", Value::Null), Some((false, "lets up to 2 of the pool's maximum 4 nodes", "set maxSurge to at least 3")))]
    #[case::surge_per_zone(zoned_pool(3, 4, json!(3), json!(0), 3), None)]
    #[case::surge_per_zone_unavailable_1(zoned_pool(3, 4, json!(3), json!(1), 3), None)]
    #[case::surge_1_in_2_zones_large_pool(zoned_pool(3, 12, json!(1), json!(0), 2), None)]
    #[case::single_zone(zoned_pool(3, 4, json!(1), json!(0), 1), None)]
    #[case::percent_weighted_by_minimum(zoned_pool(1, 11, json!(3), json!("25%"), 3), Some((true, "lets up to 3 of the pool's maximum 11 nodes", "set maxUnavailable to at most 1, and roll faster")))]
    #[case::unavailable_below_zones(zoned_pool(3, 12, json!(1), json!(4), 3), Some((true, "lets 4 nodes be down at once during a rolling update (e.g. a new machine image) however small the pool (Gardener splits maxSurge and maxUnavailable over its 3 zones): machine-controller-manager applies a whole number to the machines that exist, so at 4 nodes (its minimum is 3) the pool loses all of them, above the bound of 1 (25% of 4, at least 1)", "set maxUnavailable to a percentage of at most 25%")))]
    #[case::unavailable_and_surge_short(zoned_pool(3, 8, json!(1), json!(3), 3), Some((true, "lets 3 nodes be down at once", "set maxUnavailable to a percentage of at most 25%")))]
    #[case::percent_short_of_surge(zoned_pool(3, 8, json!(0), json!("50%"), 3), Some((true, "lets up to 3 of the pool's maximum 8 nodes", "set maxUnavailable to a percentage of at most 25% (machine-controller-manager resolves it against the machines that exist, so it holds at every pool size; a whole number must stay within 1, the bound at the pool's minimum) and maxSurge to at least 3 (one surge node")))]
    #[case::manual_in_place(with(zoned_pool(3, 4, json!(0), json!(1), 3), "/spec/provider/workers/1/updateStrategy", json!("ManualInPlaceUpdate")), None)]
    #[case::manual_in_place_any_value(with(zoned_pool(3, 4, json!(0), json!("100%"), 1), "/spec/provider/workers/1/updateStrategy", json!("ManualInPlaceUpdate")), None)]
    #[case::auto_in_place(with(zoned_pool(3, 4, json!(0), json!(4), 1), "/spec/provider/workers/1/updateStrategy", json!("AutoInPlaceUpdate")), Some((true, "lets 4 nodes be down at once", "set maxUnavailable to a percentage of at most 25%")))]
    fn multi_zone_pools(#[case] object: Value, #[case] expected: Option<(bool, &str, &str)>) {
        let verdict = judge(&request("CREATE", &object, &Value::Null));
        let refused = verdict
            .violations
            .iter()
            .find(|v| v.field.contains("(pool gpu)"))
            .map(|v| [v.problem.as_str(), " Fix: ", &v.fix].concat());
        let warned = verdict
            .warnings
            .iter()
            .find(|w| {
                w.contains("(pool gpu)") && w.contains("is allowed, since maxUnavailable itself")
            })
            .cloned();
        match (expected, refused, warned) {
            (None, None, None) => {}
            (Some((true, problem, fix)), Some(text), None)
            | (Some((false, problem, fix)), None, Some(text)) => {
                assert!(text.contains(problem), "{problem} missing from {text}");
                assert!(
                    text.contains(&[" Fix: ", fix].concat()),
                    "{fix} missing from {text}"
                );
            }
            _ => panic!("{verdict:?}"),
        }
    }

    #[test]
    fn zone_message_names_the_split() {
        let object = with(
            with(
                zoned_pool(3, 4, json!(1), json!(0), 3),
                "/spec/provider/workers/1/maxSurge",
                Value::Null,
            ),
            "/spec/provider/workers/1/maxUnavailable",
            Value::Null,
        );
        let verdict = judge(&request("CREATE", &object, &Value::Null));
        assert!(verdict.violations.is_empty(), "{verdict:?}");
        let warning = verdict.warnings.first().map_or("", String::as_str);
        assert!(
            warning.contains("spec.provider.workers[1].maxUnavailable (pool gpu) = (not set: Gardener defaults it to 0) is allowed"),
            "{warning}"
        );
        assert!(
            warning.contains("(Gardener splits maxSurge 1 and maxUnavailable over its 3 zones, and machine-controller-manager takes 1 node down in each of the 2 zone(s) left with neither)"),
            "{warning}"
        );
    }

    /// Review 47: a whole number was bounded only by the pool's maximum, but
    /// machine-controller-manager applies it to the machines that exist, so
    /// a pool at its minimum lost every node. The suggested fix is accepted.
    #[rstest]
    #[case::min3_max12_count3(zoned_pool(3, 12, json!(1), json!(3), 2), "lets 3 nodes be down at once during a rolling update (e.g. a new machine image) however small the pool (Gardener splits maxSurge and maxUnavailable over its 2 zones): machine-controller-manager applies a whole number to the machines that exist, so at its minimum of 3 nodes the pool loses all of them, above the bound of 1 (25% of 3, at least 1)", json!("25%"))]
    #[case::min2_max40_count10(zoned_pool(2, 40, json!(1), json!(10), 2), "so at 10 nodes (its minimum is 2) the pool loses all of them, above the bound of 2 (25% of 10", json!("25%"))]
    #[case::min2_max20_count5_no_surge(zoned_pool(2, 20, json!(0), json!(5), 1), "lets 5 nodes be down at once", json!("25%"))]
    #[case::min8_count3(zoned_pool(8, 40, json!(1), json!(3), 1), "so at its minimum of 8 nodes the pool loses 3, above the bound of 2 (25% of 8, at least 1)", json!("25%"))]
    #[case::min0_count2(zoned_pool(0, 8, json!(1), json!(2), 1), "so at 2 nodes (its minimum is 0) the pool loses all of them, above the bound of 1 (25% of 2, at least 1)", json!("25%"))]
    #[case::percent_weighted_falls_back_to_count(zoned_pool(1, 11, json!(3), json!(9), 3), "so at 9 nodes (its minimum is 1) the pool loses all of them, above the bound of 2 (25% of 9", json!(1))]
    fn count_bounded_at_minimum(
        #[case] object: Value,
        #[case] problem: &str,
        #[case] suggested: Value,
    ) {
        let verdict = judge(&request("CREATE", &object, &Value::Null));
        let violation = verdict.violations.first().expect("refused");
        assert_eq!(
            violation.field,
            "spec.provider.workers[1].maxUnavailable (pool gpu)"
        );
        assert!(
            violation.problem.contains(problem),
            "{problem} missing from {}",
            violation.problem
        );
        let expected_fix = match &suggested {
            Value::String(p) => format!("set maxUnavailable to a percentage of at most {p} "),
            other => format!("set maxUnavailable to at most {other}, and roll faster"),
        };
        assert!(
            violation.fix.starts_with(&expected_fix),
            "{}",
            violation.fix
        );
        let fixed = with(object, "/spec/provider/workers/1/maxUnavailable", suggested);
        let verdict = judge(&request("CREATE", &fixed, &Value::Null));
        assert!(
            verdict.is_accepted() && verdict.warnings.is_empty(),
            "{verdict:?}"
        );
    }

    /// At 100% (final read 47) a pool may lose every node at any size, so a
    /// count up to the maximum empties no pool beyond its bound.
    #[rstest]
    #[case::count_within_bound_at_minimum(zoned_pool(8, 40, json!(1), json!(2), 1), 25)]
    #[case::always_allowed(zoned_pool(0, 40, json!(1), json!(1), 1), 25)]
    #[case::percent_at_minimum(zoned_pool(3, 12, json!(1), json!("25%"), 2), 25)]
    #[case::parked(zoned_pool(0, 0, json!(1), json!(10), 1), 25)]
    #[case::whole_maximum_at_full_percentage(zoned_pool(1, 12, json!(1), json!(12), 1), 100)]
    #[case::half_maximum_at_full_percentage(zoned_pool(1, 12, json!(1), json!(6), 1), 100)]
    fn count_within_bound_at_minimum_accepted(#[case] object: Value, #[case] percent: u64) {
        let settings = Settings {
            max_unavailable: MaxUnavailableBound {
                percent_of_pool_maximum: percent,
                ..MaxUnavailableBound::default()
            },
            ..Settings::default()
        };
        let json = request("CREATE", &object, &Value::Null);
        let verdict =
            crate::policy::evaluate::<ShootHardening>(&json, &settings, &NoHost).expect("decodes");
        assert!(
            verdict.is_accepted() && verdict.warnings.is_empty(),
            "{verdict:?}"
        );
    }

    #[rstest]
    #[case::even(0, 25, 3, 6, 25)]
    #[case::first_of_uneven(0, 25, 3, 4, 38)]
    #[case::last_of_uneven(2, 25, 3, 4, 19)]
    #[case::zone_without_share(1, 50, 2, 1, 0)]
    #[case::exact_in_floating_point(0, 25, 3, 5, 30)]
    #[case::float_rounding_as_gardener(0, 15, 2, 3, 21)]
    fn zone_percents(
        #[case] zone: u64,
        #[case] percent: u64,
        #[case] zones: u64,
        #[case] total: u64,
        #[case] expected: u64,
    ) {
        assert_eq!(zone_percent(zone, percent, zones, total), expected);
    }
}
