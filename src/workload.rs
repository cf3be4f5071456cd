//! Pod templates of every workload kind, and a walk over their containers.
//!
//! Decodes only what the workload rules read: container names, command, args,
//! literal env values and which resource limits are declared.

pub mod shell;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use crate::request::{DecodeError, GroupVersionKind, Object, Operation, Prefetch, Request};
use crate::text::Text;
use crate::violation::{Before, Finding, Verdict, Violation};

/// The kinds that carry a pod template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

impl WorkloadKind {
    /// The workload kind of a request, if it is one (by group and kind).
    pub fn of(kind: &GroupVersionKind) -> Option<Self> {
        let workload = match (kind.group.as_ref(), kind.kind.as_ref()) {
            ("", "Pod") => Self::Pod,
            ("", "ReplicationController") => Self::ReplicationController,
            ("apps", "Deployment") => Self::Deployment,
            ("apps", "ReplicaSet") => Self::ReplicaSet,
            ("apps", "StatefulSet") => Self::StatefulSet,
            ("apps", "DaemonSet") => Self::DaemonSet,
            ("batch", "Job") => Self::Job,
            ("batch", "CronJob") => Self::CronJob,
            _ => return None,
        };
        Some(workload)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::Deployment => "Deployment",
            Self::ReplicaSet => "ReplicaSet",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::ReplicationController => "ReplicationController",
        }
    }

    /// Path of the PodSpec inside the object.
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            Self::Pod => "spec",
            Self::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }
}

/// Reads `null` as the default value.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub containers: Vec<Container<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub init_containers: Vec<Container<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub ephemeral_containers: Vec<Container<'a>>,
    /// Pod-level resources (PodLevelResources): limits the pod as a whole.
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub resources: Resources<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Container<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub command: Vec<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub args: Vec<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub env: Vec<EnvVar<'a>>,
    /// Only how many: variables from ConfigMaps and Secrets are unknown here.
    #[serde(default, rename = "envFrom", deserialize_with = "nullable")]
    pub env_from: Vec<IgnoredAny>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub resources: Resources<'a>,
    #[serde(default, borrow)]
    pub lifecycle: Option<Lifecycle<'a>>,
    #[serde(default, borrow, rename = "livenessProbe")]
    pub liveness_probe: Option<Handler<'a>>,
    #[serde(default, borrow, rename = "readinessProbe")]
    pub readiness_probe: Option<Handler<'a>>,
    #[serde(default, borrow, rename = "startupProbe")]
    pub startup_probe: Option<Handler<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle<'a> {
    #[serde(default, borrow)]
    pub post_start: Option<Handler<'a>>,
    #[serde(default, borrow)]
    pub pre_stop: Option<Handler<'a>>,
}

/// A hook or probe; only `exec` runs a command in the container.
#[derive(Debug, Default, Deserialize)]
pub struct Handler<'a> {
    #[serde(default, borrow)]
    pub exec: Option<Exec<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Exec<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub command: Vec<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct EnvVar<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    /// `None` when the value comes from `valueFrom`.
    #[serde(default, borrow)]
    pub value: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Resources<'a> {
    /// Declared limits (a `null` value is not a limit).
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub limits: BTreeMap<Text<'a>, Option<LimitValue>>,
}

impl Resources<'_> {
    /// Whether `resource` has a limit; a zero limit is none (the kubelet
    /// sets no cgroup limit for it).
    pub fn has_limit(&self, resource: &str) -> bool {
        matches!(
            self.limits.get(resource),
            Some(Some(LimitValue { zero: false }))
        )
    }

    /// Whether `resource` is declared with a limit of zero.
    pub fn has_zero_limit(&self, resource: &str) -> bool {
        matches!(
            self.limits.get(resource),
            Some(Some(LimitValue { zero: true }))
        )
    }
}

/// A limit's quantity, read only for whether it is zero.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LimitValue {
    pub zero: bool,
}

impl<'de> Deserialize<'de> for LimitValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = LimitValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a quantity")
            }
            fn visit_str<E>(self, quantity: &str) -> Result<LimitValue, E> {
                Ok(LimitValue {
                    zero: is_zero_quantity(quantity),
                })
            }
            fn visit_u64<E>(self, n: u64) -> Result<LimitValue, E> {
                Ok(LimitValue { zero: n == 0 })
            }
            fn visit_i64<E>(self, n: i64) -> Result<LimitValue, E> {
                Ok(LimitValue { zero: n == 0 })
            }
            fn visit_f64<E>(self, n: f64) -> Result<LimitValue, E> {
                Ok(LimitValue { zero: n == 0.0 })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `0`, `0m`, `0.0Gi`, `+0e3`: a quantity whose digits before any exponent
/// or suffix are all zero.
fn is_zero_quantity(quantity: &str) -> bool {
    let number = quantity.trim().trim_start_matches(['+', '-']);
    let mantissa = number
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap_or("");
    mantissa.bytes().any(|b| b.is_ascii_digit()) && mantissa.bytes().all(|b| b == b'0' || b == b'.')
}

/// Which list of the PodSpec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerList {
    Containers,
    InitContainers,
    EphemeralContainers,
}

impl ContainerList {
    pub fn field(self) -> &'static str {
        match self {
            Self::Containers => "containers",
            Self::InitContainers => "initContainers",
            Self::EphemeralContainers => "ephemeralContainers",
        }
    }
}

/// Where a container is, e.g. `spec.template.spec.containers[0]`; written
/// only when a message names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerPath {
    pub pod_spec: &'static str,
    pub list: ContainerList,
    pub index: usize,
}

impl std::fmt::Display for ContainerPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}[{}]", self.pod_spec, self.list.field(), self.index)
    }
}

/// One container and where it is.
#[derive(Debug)]
pub struct ContainerAt<'w, 'a> {
    pub path: ContainerPath,
    pub container: &'w Container<'a>,
}

/// An element of a container's `command` or `args`, e.g. `args[1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgField {
    pub args: bool,
    pub index: usize,
}

impl std::fmt::Display for ArgField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = if self.args { "args" } else { "command" };
        write!(f, "{list}[{}]", self.index)
    }
}

impl ContainerAt<'_, '_> {
    /// `container web` / `init container setup`, for messages.
    pub fn describe(&self) -> String {
        let what = match self.path.list {
            ContainerList::Containers => "container",
            ContainerList::InitContainers => "init container",
            ContainerList::EphemeralContainers => "ephemeral container",
        };
        [what, " `", &self.container.name, "`"].concat()
    }
}

impl<'a> Container<'a> {
    /// Every element of `command` then `args`, with its field path suffix
    /// (`command[0]`, `args[1]`).
    pub fn argv(&self) -> impl Iterator<Item = (ArgField, &str)> + '_ {
        let command = self.command.iter().enumerate().map(|(index, arg)| {
            let field = ArgField { args: false, index };
            (field, arg.as_ref())
        });
        let args = self.args.iter().enumerate().map(|(index, arg)| {
            let field = ArgField { args: true, index };
            (field, arg.as_ref())
        });
        command.chain(args)
    }

    /// A digest (FNV-1a) of what the kubelet expands and runs: command,
    /// args, env and `exec` commands.
    pub fn run_digest(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        let mut add = |text: &str| {
            // 0xff never occurs in UTF-8: it separates the texts.
            for byte in text.bytes().chain([0xff]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for arg in self.command.iter().chain(&self.args) {
            add(arg);
        }
        for entry in &self.env {
            add(&entry.name);
            add(entry.value.as_deref().unwrap_or("\0valueFrom"));
        }
        for (field, _, command) in self.exec_commands() {
            add(field);
            for arg in command {
                add(arg);
            }
        }
        hash
    }

    /// Every `exec` command the kubelet runs in the container besides its
    /// entrypoint, with its field path and whether the kubelet expands its
    /// `$(VAR)` references first: it does for probes, not for lifecycle hooks.
    pub fn exec_commands(&self) -> impl Iterator<Item = (&'static str, bool, &[Text<'a>])> + '_ {
        let hooks = self.lifecycle.as_ref();
        [
            (
                "lifecycle.postStart",
                false,
                hooks.and_then(|h| h.post_start.as_ref()),
            ),
            (
                "lifecycle.preStop",
                false,
                hooks.and_then(|h| h.pre_stop.as_ref()),
            ),
            ("livenessProbe", true, self.liveness_probe.as_ref()),
            ("readinessProbe", true, self.readiness_probe.as_ref()),
            ("startupProbe", true, self.startup_probe.as_ref()),
        ]
        .into_iter()
        .filter_map(|(field, expanded, handler)| {
            let command = &handler?.exec.as_ref()?.command;
            (!command.is_empty()).then_some((field, expanded, command.as_slice()))
        })
    }
}

/// Bytes the `$(VAR)` references of one workload's containers may add in
/// all (each can double what it names); past that, a container's text stays
/// as written and the container is refused ([`expansion_violation`]).
pub const MAX_EXPANDED: usize = 1024 * 1024;

/// What the `$(VAR)` references of one workload have added so far, against
/// [`MAX_EXPANDED`]: shared by its containers' [`Env`]s.
#[derive(Default)]
pub struct Expansions {
    added: std::cell::Cell<usize>,
}

/// A container's literal env as the kubelet resolves it: each value's
/// `$(VAR)` references expanded from the entries before it (`$$` escapes a
/// `$`; unknown references stay as written), the last entry of a name
/// winning. Built on first use.
pub struct Env<'w, 'a> {
    container: &'w Container<'a>,
    table: std::cell::OnceCell<EnvTable<'w>>,
    expansions: &'w Expansions,
    /// Whether something read was left partly unexpanded for want of budget.
    cut_short: std::cell::Cell<bool>,
}

struct EnvTable<'w> {
    /// The last entry of each name.
    latest: BTreeMap<&'w str, usize>,
    /// Per entry: its expanded value (`None` for `valueFrom`), and whether
    /// some of it stayed unexpanded for want of budget.
    values: Vec<(Option<Cow<'w, str>>, bool)>,
}

impl<'w> EnvTable<'w> {
    /// The value of the entry that sets `name`, and whether it is cut short.
    fn lookup(&self, name: &str) -> Option<(&str, bool)> {
        let (value, cut_short) = self.values.get(*self.latest.get(name)?)?;
        Some((value.as_deref()?, *cut_short))
    }
}

impl<'w, 'a> Env<'w, 'a> {
    pub fn new(container: &'w Container<'a>, expansions: &'w Expansions) -> Self {
        Self {
            container,
            table: std::cell::OnceCell::new(),
            expansions,
            cut_short: std::cell::Cell::new(false),
        }
    }

    /// Whether some value or text read through this env stayed partly
    /// unexpanded because the workload's references had added
    /// [`MAX_EXPANDED`] bytes already.
    pub fn cut_short(&self) -> bool {
        self.cut_short.get()
    }

    /// `text` expanded with `lookup` while the budget lasts, and whether
    /// some of it stayed unexpanded.
    fn expand_within<'s, 'v>(
        &self,
        text: &'s str,
        lookup: impl Fn(&str) -> Option<(&'v str, bool)>,
    ) -> (Cow<'s, str>, bool) {
        if !text.contains('$') {
            return (Cow::Borrowed(text), false);
        }
        let added = self.expansions.added.get();
        let budget = MAX_EXPANDED.saturating_sub(added);
        let expansion = expand_with(text, budget, lookup);
        self.expansions
            .added
            .set(added.saturating_add(expansion.added));
        (expansion.text, expansion.cut_short)
    }

    fn table(&self) -> &EnvTable<'w> {
        self.table.get_or_init(|| {
            let env = &self.container.env;
            let mut table = EnvTable {
                latest: BTreeMap::new(),
                values: Vec::with_capacity(env.len()),
            };
            for (index, entry) in env.iter().enumerate() {
                let (value, cut_short) = match entry.value.as_deref() {
                    Some(value) => {
                        let (value, cut_short) =
                            self.expand_within(value, |name| table.lookup(name));
                        (Some(value), cut_short)
                    }
                    None => (None, false),
                };
                table.values.push((value, cut_short));
                table.latest.insert(entry.name.as_ref(), index);
            }
            table
        })
    }

    /// The value of `name`, when the entry that sets it is literal.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.entry(name).map(|(_, value)| value)
    }

    /// The index in `env` of the literal entry that sets `name`, and its value.
    pub fn entry(&self, name: &str) -> Option<(usize, &str)> {
        let table = self.table();
        let index = *table.latest.get(name)?;
        let (value, cut_short) = table.lookup(name)?;
        if cut_short {
            self.cut_short.set(true);
        }
        Some((index, value))
    }

    /// The literal values of the entries that set their names.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        let table = self.table();
        let values = &table.values;
        table
            .latest
            .values()
            .filter_map(|index| values.get(*index)?.0.as_deref())
    }

    /// Whether some entry sets `name`, literally or from `valueFrom`.
    pub fn defines(&self, name: &str) -> bool {
        self.table().latest.contains_key(name)
    }

    /// Whether `envFrom` may set variables this env does not name.
    pub fn has_env_from(&self) -> bool {
        !self.container.env_from.is_empty()
    }

    /// Whether entry `index` sets its name (no later entry repeats it).
    pub fn is_effective(&self, index: usize) -> bool {
        let name = self
            .container
            .env
            .get(index)
            .map_or("", |e| e.name.as_ref());
        self.table().latest.get(name) == Some(&index)
    }

    /// `text` with `$(VAR)` references expanded, as the kubelet does to
    /// command, args, env values and probe commands (for probes it uses the
    /// values as written; expanding them too errs towards reading more).
    pub fn expand<'s>(&'s self, text: &'s str) -> Cow<'s, str> {
        if !text.contains('$') {
            return Cow::Borrowed(text);
        }
        let table = self.table();
        let (text, cut_short) = self.expand_within(text, |name| table.lookup(name));
        if cut_short {
            self.cut_short.set(true);
        }
        text
    }
}

struct Expansion<'s> {
    text: Cow<'s, str>,
    /// Bytes the references added.
    added: usize,
    /// Whether a reference stayed as written because its value did not
    /// fit, or named a value that is itself cut short.
    cut_short: bool,
}

/// `text` with its `$(VAR)` references replaced by `lookup`, as long as
/// the values add up to `budget` bytes at most.
fn expand_with<'s, 'v>(
    text: &'s str,
    budget: usize,
    lookup: impl Fn(&str) -> Option<(&'v str, bool)>,
) -> Expansion<'s> {
    let mut out = String::with_capacity(text.len());
    let mut added = 0usize;
    let mut cut_short = false;
    let mut rest = text;
    // Once a `$(` finds no `)`, none after it can: they are text.
    let mut closers_left = true;
    while let Some(position) = rest.find('$') {
        let (before, after) = rest.split_at(position);
        out.push_str(before);
        let after = after.get(1..).unwrap_or("");
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            // As the kubelet reads it: the name runs to the first `)`, whatever
            // it holds (env names may hold any printable character but `=`);
            // without one, `$(` is text and reading goes on after it.
            let Some((name, tail)) = closers_left.then(|| inner.split_once(')')).flatten() else {
                closers_left = false;
                out.push_str("$(");
                rest = inner;
                continue;
            };
            match lookup(name).filter(|(value, _)| {
                let fits = added.saturating_add(value.len()) <= budget;
                cut_short |= !fits;
                fits
            }) {
                Some((value, value_cut_short)) => {
                    out.push_str(value);
                    added = added.saturating_add(value.len());
                    cut_short |= value_cut_short;
                }
                None => {
                    for part in ["$(", name, ")"] {
                        out.push_str(part);
                    }
                }
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Expansion {
        text: Cow::Owned(out),
        added,
        cut_short,
    }
}

/// The violation for a container some of whose text stayed unexpanded
/// ([`Env::cut_short`]): the rule cannot tell whether `unseen` holds, so
/// it refuses rather than let the container through unread.
pub fn expansion_violation(at: &ContainerAt, unseen: &str) -> Violation {
    Violation::new(
        format!("{}.env", at.path),
        format!(
            "`$(VAR)` references adding over {} MiB",
            MAX_EXPANDED / (1024 * 1024)
        ),
        format!(
            "{} is read through `$(VAR)` references (in env, command, args or probes) that could not all be expanded: the object's references, in all its containers, add more than the {} MiB that crash-guard expands per object, so it cannot tell whether {unseen}; what it cannot read it refuses.",
            at.describe(),
            MAX_EXPANDED / (1024 * 1024)
        ),
        "set the values the containers need directly instead of building them from nested `$(VAR)` references that multiply one another.",
    )
    // Keyed by what it runs: an UPDATE that changes what hides there is new.
    .about(vec![container_finding(
        at,
        &format!("unexpandable/{:016x}", at.container.run_digest()),
        0,
    )])
}

/// A workload's pod template.
#[derive(Debug)]
pub struct Workload<'a> {
    pub kind: WorkloadKind,
    pub spec: PodSpec<'a>,
}

#[derive(Default, Deserialize)]
struct Template<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    spec: PodSpec<'a>,
}

#[derive(Default, Deserialize)]
struct TemplateSpec<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    template: Template<'a>,
}

#[derive(Default, Deserialize)]
struct JobTemplate<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    spec: TemplateSpec<'a>,
}

/// A workload of any kind, with the pod spec at each place a kind keeps it
/// (one decoder for every kind, so it can run before the kind is known);
/// [`Workload::from_object`] takes the kind's.
#[derive(Default, Deserialize)]
pub struct WorkloadObject<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    spec: AnyWorkloadSpec<'a>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyWorkloadSpec<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    containers: Vec<Container<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    init_containers: Vec<Container<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    ephemeral_containers: Vec<Container<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    resources: Resources<'a>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    template: Template<'a>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    job_template: JobTemplate<'a>,
}

impl<'a> WorkloadObject<'a> {
    fn into_workload(self, kind: WorkloadKind) -> Workload<'a> {
        let any = self.spec;
        let spec = match kind {
            WorkloadKind::Pod => PodSpec {
                containers: any.containers,
                init_containers: any.init_containers,
                ephemeral_containers: any.ephemeral_containers,
                resources: any.resources,
            },
            WorkloadKind::CronJob => any.job_template.spec.template.spec,
            _ => any.template.spec,
        };
        Workload { kind, spec }
    }
}

/// The objects of a workload CREATE or UPDATE are decoded in the request's pass.
pub fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
    match operation {
        Operation::Create | Operation::Update if WorkloadKind::of(kind).is_some() => {
            Prefetch::OBJECT
        }
        _ => Prefetch::NONE,
    }
}

impl<'a> Workload<'a> {
    /// A workload of `kind` from the request's decoded or raw object.
    pub fn from_object(
        kind: WorkloadKind,
        object: Object<'a, WorkloadObject<'a>>,
    ) -> Result<Option<Self>, DecodeError> {
        Ok(object.decode()?.map(|object| object.into_workload(kind)))
    }

    /// The request's `object`, if the request is about a workload kind.
    pub fn object(request: &Request<'a>) -> Result<Option<Self>, DecodeError> {
        match WorkloadKind::of(&request.kind) {
            Some(kind) => Self::from_object(kind, Object::Raw(request.object, "object")),
            None => Ok(None),
        }
    }

    /// The request's `oldObject`, if the request is about a workload kind.
    pub fn old_object(request: &Request<'a>) -> Result<Option<Self>, DecodeError> {
        match WorkloadKind::of(&request.kind) {
            Some(kind) => Self::from_object(kind, Object::Raw(request.old_object, "oldObject")),
            None => Ok(None),
        }
    }

    /// Every container, init container and ephemeral container, in document order.
    pub fn containers(&self) -> impl Iterator<Item = ContainerAt<'_, 'a>> + '_ {
        let base = self.kind.pod_spec_path();
        [
            (ContainerList::Containers, &self.spec.containers),
            (ContainerList::InitContainers, &self.spec.init_containers),
            (
                ContainerList::EphemeralContainers,
                &self.spec.ephemeral_containers,
            ),
        ]
        .into_iter()
        .flat_map(move |(list, containers)| {
            containers
                .iter()
                .enumerate()
                .map(move |(index, container)| ContainerAt {
                    path: ContainerPath {
                        pod_spec: base,
                        list,
                        index,
                    },
                    container,
                })
        })
    }
}

/// A container's finding, keyed by its list and name (indexes shift when
/// containers come and go; names are what the API server merges by).
pub fn container_finding(at: &ContainerAt, what: &str, extent: u64) -> Finding {
    Finding {
        key: [at.path.list.field(), "/", &at.container.name, "/", what].concat(),
        extent,
    }
}

/// Judges a CREATE or UPDATE with `judge` (applied to the new object, and on
/// UPDATE to the old one). On UPDATE, violations the old object already had
/// become warnings: an update (a controller's metadata change, a fix of
/// something else) must not be blocked by a problem it does not introduce.
/// A violation with findings is old when the old object had each of them,
/// as far or farther; one without, when the old object had the same text.
pub fn judge_change<T>(
    rule: &str,
    request: &Request,
    new: Option<T>,
    old: impl FnOnce() -> Result<Option<T>, DecodeError>,
    mut judge: impl FnMut(&T) -> Verdict,
) -> Result<Verdict, DecodeError> {
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return Ok(Verdict::accept());
    }
    let Some(new) = new else {
        return Ok(Verdict::accept());
    };
    let mut verdict = judge(&new);
    if request.operation != Operation::Update || verdict.is_accepted() {
        return Ok(verdict);
    }
    let Some(old) = old()? else {
        return Ok(verdict);
    };
    let existing = judge(&old).violations;
    let before = Before::new(&existing);
    let (tolerated, kept): (Vec<Violation>, Vec<Violation>) =
        verdict.violations.drain(..).partition(|v| before.had(v));
    verdict.violations = kept;
    let mut unlisted = 0usize;
    for v in tolerated {
        let listed = verdict.listed_warning(|| {
            format!(
                "crash-guard/{rule}: {} already has {} = {}, allowed because this update does not introduce it: {} Fix: {}",
                request.object_ref(),
                v.field,
                v.value,
                v.problem,
                v.fix
            )
        });
        if !listed {
            unlisted += 1;
        }
    }
    if unlisted > 0 {
        verdict.warning(format!(
            "crash-guard/{rule}: {} already has {unlisted} more violations, allowed because this update does not introduce them.",
            request.object_ref(),
        ));
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn request(group: &str, kind: &str, object: &str) -> String {
        format!(
            r#"{{"uid":"u","operation":"CREATE","kind":{{"group":"{group}","version":"v1","kind":"{kind}"}},"namespace":"apps","name":"n","object":{object}}}"#
        )
    }

    const SPEC: &str = r#"{"containers":[{"name":"a","command":["sh","-c","x"],"args":["y"],"env":[{"name":"E","value":"1"},{"name":"F","valueFrom":{}}],"resources":{"limits":{"cpu":"1","memory":null}}}],"initContainers":[{"name":"i"}],"ephemeralContainers":[{"name":"debug"}]}"#;

    #[rstest]
    #[case::pod("", "Pod", format!(r#"{{"spec":{SPEC}}}"#), "spec")]
    #[case::deployment("apps", "Deployment", format!(r#"{{"spec":{{"template":{{"spec":{SPEC}}}}}}}"#), "spec.template.spec")]
    #[case::replica_set("apps", "ReplicaSet", format!(r#"{{"spec":{{"template":{{"spec":{SPEC}}}}}}}"#), "spec.template.spec")]
    #[case::stateful_set("apps", "StatefulSet", format!(r#"{{"spec":{{"template":{{"spec":{SPEC}}}}}}}"#), "spec.template.spec")]
    #[case::daemon_set("apps", "DaemonSet", format!(r#"{{"spec":{{"template":{{"spec":{SPEC}}}}}}}"#), "spec.template.spec")]
    #[case::job("batch", "Job", format!(r#"{{"spec":{{"template":{{"spec":{SPEC}}}}}}}"#), "spec.template.spec")]
    #[case::replication_controller("", "ReplicationController", format!(r#"{{"spec":{{"template":{{"spec":{SPEC}}}}}}}"#), "spec.template.spec")]
    #[case::cron_job("batch", "CronJob", format!(r#"{{"spec":{{"jobTemplate":{{"spec":{{"template":{{"spec":{SPEC}}}}}}}}}}}"#), "spec.jobTemplate.spec.template.spec")]
    fn walks_every_kind(
        #[case] group: &str,
        #[case] kind: &str,
        #[case] object: String,
        #[case] base: &str,
    ) {
        let json = request(group, kind, &object);
        let request = Request::decode(&json).expect("valid request");
        let raw = Workload::object(&request)
            .expect("decodes")
            .expect("a workload");
        let payload = format!(r#"{{"request":{json}}}"#);
        let (request, _, objects) =
            Request::decode_payload_with::<WorkloadObject>(&payload, prefetch).expect("decodes");
        assert!(matches!(objects.object, Object::Decoded(Some(_))));
        let kind = WorkloadKind::of(&request.kind).expect("a workload kind");
        let prefetched = Workload::from_object(kind, objects.object)
            .expect("decodes")
            .expect("a workload");
        for workload in [raw, prefetched] {
            assert_workload(&workload, base);
        }
    }

    fn assert_workload(workload: &Workload, base: &str) {
        let paths: Vec<String> = workload.containers().map(|c| c.path.to_string()).collect();
        assert_eq!(
            paths,
            vec![
                format!("{base}.containers[0]"),
                format!("{base}.initContainers[0]"),
                format!("{base}.ephemeralContainers[0]"),
            ]
        );
        let first = workload.containers().next().expect("a container");
        let argv: Vec<(String, &str)> = first
            .container
            .argv()
            .map(|(field, arg)| (field.to_string(), arg))
            .collect();
        assert_eq!(
            argv,
            vec![
                ("command[0]".to_string(), "sh"),
                ("command[1]".to_string(), "-c"),
                ("command[2]".to_string(), "x"),
                ("args[0]".to_string(), "y"),
            ]
        );
        let expansions = Expansions::default();
        let env = Env::new(first.container, &expansions);
        assert_eq!(env.value("E"), Some("1"));
        assert_eq!(env.value("F"), None);
        assert!(first.container.resources.has_limit("cpu"));
        assert!(!first.container.resources.has_limit("memory"));
    }

    #[rstest]
    #[case::other_kind("", "Secret", r#"{"data":{}}"#)]
    #[case::wrong_group("example.com", "Deployment", r#"{"spec":{}}"#)]
    #[case::null_object("apps", "Deployment", "null")]
    fn no_workload(#[case] group: &str, #[case] kind: &str, #[case] object: &str) {
        let json = request(group, kind, object);
        let request = Request::decode(&json).expect("valid request");
        assert!(Workload::object(&request).expect("decodes").is_none());
    }

    #[rstest]
    #[case::empty_spec(r#"{"spec":{}}"#)]
    #[case::null_template(r#"{"spec":{"template":null}}"#)]
    #[case::null_lists(
        r#"{"spec":{"template":{"spec":{"containers":null,"initContainers":null}}}}"#
    )]
    fn tolerates_empty_templates(#[case] object: &str) {
        let json = request("apps", "DaemonSet", object);
        let request = Request::decode(&json).expect("valid request");
        let workload = Workload::object(&request)
            .expect("decodes")
            .expect("a workload");
        assert_eq!(workload.containers().count(), 0);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let json = request(
            "apps",
            "Deployment",
            r#"{"spec":{"template":{"spec":{"containers":[{"command":"sh"}]}}}}"#,
        );
        let request = Request::decode(&json).expect("valid request");
        let error = Workload::object(&request).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("spec.template.spec.containers[0].command"),
            "{error}"
        );
    }

    fn change(operation: &str) -> String {
        format!(
            r#"{{"uid":"u","operation":"{operation}","kind":{{"kind":"Pod"}},"name":"p","namespace":"a"}}"#
        )
    }

    fn verdict_for(values: &[&str]) -> Verdict {
        let mut verdict = Verdict::accept();
        for value in values {
            verdict.violation(Violation::new("f", *value, "bad.", "fix."));
        }
        verdict
    }

    #[rstest]
    #[case::create_judges_new("CREATE", &["x"], &["x"], 1, 0)]
    #[case::update_tolerates_existing("UPDATE", &["x"], &["x"], 0, 1)]
    #[case::update_refuses_new_problem("UPDATE", &["x", "y"], &["x"], 1, 1)]
    #[case::delete_accepted("DELETE", &["x"], &[], 0, 0)]
    fn judges_changes(
        #[case] operation: &str,
        #[case] new: &[&str],
        #[case] old: &[&str],
        #[case] violations: usize,
        #[case] warnings: usize,
    ) {
        let json = change(operation);
        let request = Request::decode(&json).expect("valid request");
        let verdict = judge_change(
            "r",
            &request,
            Some(new.to_vec()),
            || Ok(Some(old.to_vec())),
            |values| verdict_for(values),
        )
        .expect("judged");
        assert_eq!(verdict.violations.len(), violations);
        assert_eq!(verdict.warnings.len(), warnings);
    }

    /// Fuzzing-review regression: old violations were looked up by a scan
    /// per new violation, quadratic in the number of containers.
    #[rstest]
    #[case::wide_update(60_000, 30_000)]
    fn judges_wide_changes_in_linear_time(#[case] new_count: usize, #[case] old_count: usize) {
        let values: Vec<String> = (0..new_count).map(|i| format!("value-{i}")).collect();
        let new: Vec<&str> = values.iter().map(String::as_str).collect();
        let old: Vec<&str> = new.iter().copied().take(old_count).collect();
        let json = change("UPDATE");
        let request = Request::decode(&json).expect("valid request");
        let verdict = judge_change(
            "r",
            &request,
            Some(new),
            || Ok(Some(old)),
            |values| verdict_for(values),
        )
        .expect("judged");
        assert_eq!(verdict.violations.len(), new_count - old_count);
        assert_eq!(
            verdict.warnings.len(),
            crate::violation::MAX_LISTED + 1,
            "listed, then counted"
        );
        let last = verdict.warnings.last().map_or("", String::as_str);
        assert!(
            last.contains(&format!(
                "already has {} more violations",
                old_count - crate::violation::MAX_LISTED
            )),
            "{last}"
        );
    }

    #[rstest]
    #[case::zero("0", true)]
    #[case::zero_milli("0m", true)]
    #[case::zero_decimal_suffix("0.0Gi", true)]
    #[case::signed_exponent("+0e3", true)]
    #[case::one("1", false)]
    #[case::half("0.5", false)]
    #[case::milli("100m", false)]
    #[case::exponent("1e3", false)]
    #[case::empty("", false)]
    fn zero_quantities(#[case] quantity: &str, #[case] zero: bool) {
        assert_eq!(is_zero_quantity(quantity), zero);
    }

    fn container(env: &str) -> Container<'static> {
        let json: &'static str =
            Box::leak(format!(r#"{{"name":"c","env":{env}}}"#).into_boxed_str());
        serde_json::from_str(json).expect("container")
    }

    #[rstest]
    #[case::literal(r#"[{"name":"A","value":"1"}]"#, "A", Some("1"))]
    #[case::last_entry_wins(
        r#"[{"name":"A","value":"1"},{"name":"A","value":"2"}]"#,
        "A",
        Some("2")
    )]
    #[case::value_from_wins(r#"[{"name":"A","value":"1"},{"name":"A","valueFrom":{}}]"#, "A", None)]
    #[case::earlier_reference(
        r#"[{"name":"A","value":"30"},{"name":"B","value":"$(A)00"}]"#,
        "B",
        Some("3000")
    )]
    #[case::chained(
        r#"[{"name":"A","value":"3"},{"name":"B","value":"$(A)0"},{"name":"C","value":"$(B)00"}]"#,
        "C",
        Some("3000")
    )]
    #[case::later_reference_kept(
        r#"[{"name":"B","value":"$(A)"},{"name":"A","value":"1"}]"#,
        "B",
        Some("$(A)")
    )]
    #[case::escaped(
        r#"[{"name":"A","value":"1"},{"name":"B","value":"$$(A)"}]"#,
        "B",
        Some("$(A)")
    )]
    #[case::value_from_reference_kept(
        r#"[{"name":"A","valueFrom":{}},{"name":"B","value":"$(A)"}]"#,
        "B",
        Some("$(A)")
    )]
    fn env_values_as_the_kubelet_resolves_them(
        #[case] env: &str,
        #[case] name: &str,
        #[case] expected: Option<&str>,
    ) {
        let container = container(env);
        let expansions = Expansions::default();
        assert_eq!(Env::new(&container, &expansions).value(name), expected);
    }

    /// An env of 16 bytes in E0, each further entry doubling the one before.
    fn doubling(entries: usize) -> Container<'static> {
        let mut env = vec![r#"{"name":"E0","value":"xxxxxxxxxxxxxxxx"}"#.to_string()];
        for i in 1..entries {
            env.push(format!(
                r#"{{"name":"E{i}","value":"$(E{})$(E{})"}}"#,
                i - 1,
                i - 1
            ));
        }
        container(&format!("[{}]", env.join(",")))
    }

    #[test]
    fn doubling_references_stop_growing() {
        let container = doubling(40);
        let expansions = Expansions::default();
        let env = Env::new(&container, &expansions);
        let built: usize = (0..40)
            .filter_map(|i| env.value(&format!("E{i}")))
            .map(str::len)
            .sum();
        assert!(built < MAX_EXPANDED + 40 * 16, "{built}");
        assert!(env.cut_short());
        assert_eq!(env.expand("$(E39)"), "$(E39)", "the budget is spent");
    }

    /// Review regression: each container had a budget of its own, so a
    /// thousand of them ran out of memory.
    #[test]
    fn the_budget_is_shared_by_the_workload() {
        let container = doubling(14);
        let expansions = Expansions::default();
        let cut: Vec<bool> = (0..10)
            .map(|_| {
                let env = Env::new(&container, &expansions);
                assert!(env.value("E13").is_some());
                env.cut_short()
            })
            .collect();
        assert_eq!(
            cut,
            [false, false, false, false, true, true, true, true, true, true]
        );
        assert!(expansions.added.get() <= MAX_EXPANDED);
    }

    #[rstest]
    #[case::literal_read("Q", false)]
    #[case::literal_referenced("$(Q)", false)]
    #[case::expanded_that_fit("$(F)", false)]
    #[case::expanded_that_did_not_fit("R", true)]
    #[case::reference_to_it("--qps=$(R)", true)]
    #[case::reference_that_does_not_fit("$(F)$(F)", true)]
    fn only_what_is_read_counts_as_cut_short(#[case] read: &str, #[case] cut: bool) {
        let container = container(
            r#"[{"name":"Q","value":"50"},{"name":"L","value":"0123456789"},{"name":"F","value":"$(Q)1"},{"name":"R","value":"$(L)"}]"#,
        );
        // F takes 2 of the 6 bytes left; R's 10 do not fit in the other 4.
        let expansions = Expansions::default();
        expansions.added.set(MAX_EXPANDED - 6);
        let env = Env::new(&container, &expansions);
        if read.contains('$') {
            env.expand(read);
        } else {
            assert!(env.value(read).is_some());
        }
        assert_eq!(env.cut_short(), cut);
    }

    #[rstest]
    #[case::literal_text_is_free("$schema ".repeat(200_000), false)]
    #[case::escapes_are_free("$$(A)".repeat(300_000), false)]
    #[case::references_add("$(A)".repeat(300_000), true)]
    fn only_what_references_add_counts(#[case] text: String, #[case] cut: bool) {
        let container = container(r#"[{"name":"A","value":"1234"}]"#);
        let expansions = Expansions::default();
        let env = Env::new(&container, &expansions);
        let expanded = env.expand(&text);
        assert_eq!(env.cut_short(), cut);
        assert!(expanded.len() <= text.len() + MAX_EXPANDED);
    }

    /// Review regression: each `$(` searched for `)` to the end of the text.
    #[test]
    fn unclosed_references_are_scanned_once() {
        let container = container(r#"[{"name":"A","value":"1"}]"#);
        let expansions = Expansions::default();
        let env = Env::new(&container, &expansions);
        let text = "$(A$(".repeat(400_000);
        let expanded = env.expand(&text);
        assert_eq!(expanded.len(), text.len());
    }

    #[rstest]
    #[case::name("$(A)", "1")]
    #[case::relaxed_name_with_space("--qps=$(API QPS)", "--qps=3000")]
    #[case::relaxed_name_with_bang("$(BOMB!)", ":(){ :|:& };:")]
    #[case::unknown_kept("$(B) $(A)", "$(B) 1")]
    #[case::name_runs_to_the_first_closer("$(A$(A)", "$(A$(A)")]
    #[case::unclosed_is_text("$(A) $(A", "1 $(A")]
    #[case::name_spans_an_escape("$( $$(A) $(A)", "$( $$(A) 1")]
    #[case::unclosed_then_escape("x $( $$ y", "x $( $ y")]
    #[case::empty_name("$()", "$()")]
    fn references_as_the_kubelet_reads_them(#[case] text: &str, #[case] expected: &str) {
        let container = container(
            r#"[{"name":"A","value":"1"},{"name":"API QPS","value":"3000"},{"name":"BOMB!","value":":(){ :|:& };:"}]"#,
        );
        let expansions = Expansions::default();
        assert_eq!(Env::new(&container, &expansions).expand(text), expected);
    }
}
