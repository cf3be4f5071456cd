//! daemonset-guard (crash 3): a "load test" ran the classic bash fork bomb as
//! a DaemonSet and every node died. Admission cannot set the kubelet's PID
//! limit, but it can refuse fork bombs, keep DaemonSets to admin namespaces,
//! and require resource limits.

mod fork_bomb;

use std::borrow::Cow;
use std::cell::Cell;

use serde::Deserialize;

use crate::arena;
use crate::exemptions::Exemptions;
use crate::host::Host;
use crate::policy::Rule;
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::settings::{namespace_names, validate_section, SettingsError, Validate};
use crate::violation::{Verdict, Violation};
use crate::workload::{
    container_finding, expansion_violation, judge_change, ArgField, ContainerAt, ContainerList,
    Env, Expansions, Workload, WorkloadKind, WorkloadObject,
};

use fork_bomb::{EnvReader, ForkBomb, NestedTooLarge};

pub struct DaemonSetGuard;

const PID_FIX: &str = "protect every node whatever runs on it: set the kubelet's `--pod-max-pids` \
     (Gardener: `spec.kubernetes.kubelet.podPidsLimit` in the Shoot), which admission cannot set";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// Refuse fork bombs in the commands and args of every workload.
    pub detect_fork_bombs: bool,
    pub daemon_sets: DaemonSetSettings,
    pub resource_limits: LimitSettings,
    pub exemptions: Exemptions,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            detect_fork_bombs: true,
            daemon_sets: DaemonSetSettings::default(),
            resource_limits: LimitSettings::default(),
            exemptions: Exemptions::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct DaemonSetSettings {
    /// Where (namespaces) and by whom (users, groups, service accounts) new
    /// DaemonSets may be created.
    #[serde(deserialize_with = "allowed_over_defaults")]
    pub allowed: Exemptions,
}

fn default_allowed() -> Exemptions {
    Exemptions {
        namespaces: vec!["kube-system".to_string()],
        ..Exemptions::default()
    }
}

fn allowed_over_defaults<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Exemptions, D::Error> {
    crate::exemptions::deserialize_over(deserializer, default_allowed())
}

impl Default for DaemonSetSettings {
    fn default() -> Self {
        Self {
            allowed: default_allowed(),
        }
    }
}

impl Validate for DaemonSetSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        validate_section("allowed", &self.allowed)?;
        let a = &self.allowed;
        if a.namespaces.is_empty()
            && a.users.is_empty()
            && a.groups.is_empty()
            && a.service_accounts.is_empty()
        {
            return Err(SettingsError::new(
                "allowed",
                "allows no namespace and no subject, so every new DaemonSet would be refused, \
                 node agents such as kube-proxy and CNI plugins included; list at least kube-system",
            ));
        }
        Ok(())
    }
}

/// Which workloads must declare resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LimitScope {
    DaemonSets,
    AllWorkloads,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct LimitSettings {
    pub applies_to: LimitScope,
    /// Resources every container must limit.
    pub resources: Vec<String>,
    /// Namespaces whose workloads need no limits (fork bombs are still refused there).
    pub exempt_namespaces: Vec<String>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            applies_to: LimitScope::DaemonSets,
            resources: vec!["cpu".to_string(), "memory".to_string()],
            exempt_namespaces: Vec::new(),
        }
    }
}

impl LimitSettings {
    fn apply(&self, request: &Request, daemon_set: bool) -> bool {
        let scope = match self.applies_to {
            LimitScope::AllWorkloads => true,
            LimitScope::DaemonSets => daemon_set,
            LimitScope::None => false,
        };
        scope
            && !self
                .exempt_namespaces
                .iter()
                .any(|n| *n == request.namespace)
    }
}

/// A name the API server accepts in `resources.limits`: a standard one,
/// `hugepages-<size>`, or an extended `<DNS subdomain>/<name>`.
fn is_resource_name(name: &str) -> bool {
    if matches!(name, "cpu" | "memory" | "ephemeral-storage") {
        return true;
    }
    if let Some(size) = name.strip_prefix("hugepages-") {
        return crate::quantity::amount(size).is_some();
    }
    let Some((prefix, local)) = name.split_once('/') else {
        return false;
    };
    let alnum_ends = |t: &str| {
        t.starts_with(|c: char| c.is_ascii_alphanumeric())
            && t.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    crate::settings::is_dns_subdomain(prefix)
        && local.len() <= 63
        && alnum_ends(local)
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

impl Validate for LimitSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        namespace_names("exemptNamespaces", &self.exempt_namespaces)?;
        for (index, name) in self.resources.iter().enumerate() {
            if !is_resource_name(name) {
                return Err(SettingsError::new(
                    format!("resources[{index}]"),
                    format!("`{name}` is not a resource name such as cpu, memory, ephemeral-storage, hugepages-2Mi or example.com/gpu"),
                ));
            }
            if self
                .resources
                .get(..index)
                .is_some_and(|before| before.contains(name))
            {
                return Err(SettingsError::new(
                    format!("resources[{index}]"),
                    format!("`{name}` is listed twice"),
                ));
            }
        }
        if self.applies_to != LimitScope::None && self.resources.is_empty() {
            return Err(SettingsError::new(
                "resources",
                "must name at least one resource (cpu, memory) unless appliesTo is None",
            ));
        }
        Ok(())
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        validate_section("daemonSets", &self.daemon_sets)?;
        validate_section("resourceLimits", &self.resource_limits)?;
        validate_section("exemptions", &self.exemptions)
    }
}

impl Rule for DaemonSetGuard {
    const NAME: &'static str = "daemonset-guard";
    type Settings = Settings;
    type Object<'a> = WorkloadObject<'a>;

    fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
        crate::workload::prefetch(kind, operation)
    }

    fn exemptions(settings: &Settings) -> &Exemptions {
        &settings.exemptions
    }

    fn evaluate<'a>(
        request: &Request<'a>,
        objects: Objects<'a, WorkloadObject<'a>>,
        settings: &Settings,
        _host: &dyn Host,
    ) -> Result<Verdict, DecodeError> {
        let Some(kind) = WorkloadKind::of(&request.kind) else {
            return Ok(Verdict::accept());
        };
        judge_change(
            Self::NAME,
            request,
            Workload::from_object(kind, objects.object)?,
            || Workload::old_object(request),
            |workload| judge(request, settings, workload),
        )
    }
}

fn judge(request: &Request, settings: &Settings, workload: &Workload) -> Verdict {
    let mut verdict = Verdict::accept();
    let daemon_set = workload.kind == WorkloadKind::DaemonSet;
    if daemon_set && settings.daemon_sets.allowed.reason(request).is_none() {
        verdict.violation(placement(request, &settings.daemon_sets.allowed));
    }
    let limits_apply = settings.resource_limits.apply(request, daemon_set);
    let expansions = Expansions::default();
    for at in workload.containers() {
        if settings.detect_fork_bombs {
            let env = Env::new(at.container, &expansions);
            if let Some((field, found)) = find_fork_bomb(&at, &env) {
                verdict.violation(match found {
                    Found::Bomb(bomb) => fork_bomb_violation(&at, field, bomb, daemon_set),
                    Found::TooLong => nested_violation(&at, field),
                });
            } else if env.cut_short() {
                verdict.violation(expansion_violation(&at, "it runs a fork bomb"));
            }
        }
        // Ephemeral containers cannot declare resources.
        // A pod-level limit caps every container of the pod.
        if limits_apply && at.path.list != ContainerList::EphemeralContainers {
            let pod = &workload.spec.resources;
            let missing: Vec<&str> = settings
                .resource_limits
                .resources
                .iter()
                .map(String::as_str)
                .filter(|r| !at.container.resources.has_limit(r) && !pod.has_limit(r))
                .collect();
            if !missing.is_empty() {
                let zero = missing
                    .iter()
                    .any(|r| at.container.resources.has_zero_limit(r) || pod.has_zero_limit(r));
                verdict.violation(limits_violation(&at, &missing, zero, daemon_set));
            }
        }
    }
    verdict
}

/// Programs that take their arguments as text, never as a script.
const TEXT_PROGRAMS: &[&str] = &[
    "echo", "printf", "grep", "egrep", "fgrep", "rg", "logger", "cat", "sleep",
];

/// An element of the entrypoint or of an `exec` hook or probe's command.
#[derive(Clone, Copy)]
enum Element {
    Arg(ArgField),
    Exec(&'static str, usize),
}

/// What the search of a command found.
enum Found {
    Bomb(ForkBomb),
    /// Scripts nested over [`fork_bomb::MAX_NESTED_BYTES`], not all read.
    TooLong,
}

/// A fork bomb in the container's entrypoint (command and args) or in an
/// `exec` hook or probe, after the kubelet's `$(VAR)` expansion where it
/// expands; or nested scripts too long to read.
fn find_fork_bomb(at: &ContainerAt, env: &Env) -> Option<(String, Found)> {
    // `eval "$B"` reads the env (built here, outside the scans, by `values`)
    // when some value may hold a bomb; each value once per container.
    let read_env = env.values().any(fork_bomb::may_hold_fork_bomb);
    let read = if read_env {
        vec![Cell::new(usize::MAX); at.container.env.len()]
    } else {
        Vec::new()
    };
    let lookup = |name: &str| env.entry(name);
    let reader = read_env.then_some(fork_bomb::EnvReader {
        lookup: &lookup,
        read: &read,
    });
    let entrypoint: Vec<(Element, Cow<str>)> = at
        .container
        .argv()
        .map(|(field, arg)| (Element::Arg(field), env.expand(arg)))
        .collect();
    let found =
        find_in_argv(&entrypoint, reader).map(|(element, found)| (element, "command+args", found));
    let (element, line, found) = found.or_else(|| {
        at.container
            .exec_commands()
            .find_map(|(handler, expanded, command)| {
                let argv: Vec<(Element, Cow<str>)> = command
                    .iter()
                    .enumerate()
                    .map(|(index, arg)| {
                        let arg = if expanded {
                            env.expand(arg)
                        } else {
                            Cow::Borrowed(arg.as_ref())
                        };
                        (Element::Exec(handler, index), arg)
                    })
                    .collect();
                find_in_argv(&argv, reader).map(|(element, found)| (element, handler, found))
            })
    })?;
    let field = match element {
        Some(Element::Arg(field)) => format!("{}.{field}", at.path),
        Some(Element::Exec(handler, index)) => {
            format!("{}.{handler}.exec.command[{index}]", at.path)
        }
        None if line == "command+args" => format!("{}.{line}", at.path),
        None => format!("{}.{line}.exec.command", at.path),
    };
    Some((field, found))
}

/// A fork bomb in one element of `argv`, or (`None`) in the whole command
/// line; none when the program only prints or searches its arguments.
fn find_in_argv(
    argv: &[(Element, Cow<str>)],
    env: Option<EnvReader>,
) -> Option<(Option<Element>, Found)> {
    let program = argv
        .first()
        .map_or("", |(_, arg)| arg.rsplit('/').next().unwrap_or(arg));
    if TEXT_PROGRAMS.contains(&program) {
        return None;
    }
    let mut too_long = None;
    for (element, arg) in argv {
        match find_reclaiming(arg, env) {
            Ok(Some(bomb)) => return Some((Some(*element), Found::Bomb(bomb))),
            Ok(None) => {}
            Err(NestedTooLarge) => too_long = too_long.or(Some(Some(*element))),
        }
    }
    if runs_one_script(argv) {
        return too_long.map(|element| (element, Found::TooLong));
    }
    let joined = argv
        .iter()
        .map(|(_, arg)| arg.as_ref())
        .collect::<Vec<_>>()
        .join(" ");
    match find_reclaiming(&joined, env) {
        Ok(Some(bomb)) => Some((None, Found::Bomb(bomb))),
        Ok(None) => too_long.map(|element| (element, Found::TooLong)),
        Err(NestedTooLarge) => Some((too_long.flatten(), Found::TooLong)),
    }
}

/// `[sh, -c, script]`: the command line puts before the script only a
/// shell and its options, which start none of the script's commands, so
/// reading it again finds no bomb that runs beyond the script's own.
fn runs_one_script(argv: &[(Element, Cow<str>)]) -> bool {
    let [(_, shell), (_, options), _] = argv else {
        return false;
    };
    let c_option = options
        .strip_prefix('-')
        .is_some_and(|flags| flags.contains('c') && flags.bytes().all(|b| b.is_ascii_alphabetic()));
    c_option && fork_bomb::is_shell(shell)
}

/// `fork_bomb::find`, whose working memory (tokens and their indexes, some
/// hundred bytes per byte of script) is given back when it returns, so that
/// scanning a large script twice (alone, then in its command line) fits the
/// memory cap.
fn find_reclaiming(
    script: &str,
    env: Option<EnvReader>,
) -> Result<Option<ForkBomb>, NestedTooLarge> {
    let lookup = env.filter(|_| script.contains('$'));
    // SAFETY: `find` keeps nothing it allocates; the bomb it returns is
    // copied out of the arena before its memory is given back.
    unsafe {
        arena::reclaiming(|| {
            fork_bomb::find(script, lookup)
                .map(|found| found.map(|bomb| arena::lasting(|| bomb.clone())))
        })
    }
}

fn describe_subject(request: &Request) -> String {
    let user = &request.user_info.username;
    let groups = &request.user_info.groups;
    if groups.is_empty() {
        format!("user `{user}`")
    } else {
        let groups: Vec<&str> = groups.iter().map(|g| g.as_ref()).collect();
        format!("user `{user}` (groups {})", groups.join(", "))
    }
}

fn allowed_list(allowed: &Exemptions) -> String {
    let mut parts = Vec::new();
    if !allowed.namespaces.is_empty() {
        parts.push(format!("namespaces {}", allowed.namespaces.join(", ")));
    }
    for (what, list) in [
        ("users", &allowed.users),
        ("groups", &allowed.groups),
        ("service accounts", &allowed.service_accounts),
    ] {
        if !list.is_empty() {
            parts.push(format!("{what} {}", list.join(", ")));
        }
    }
    parts.join("; ")
}

fn placement(request: &Request, allowed: &Exemptions) -> Violation {
    let namespace = if request.namespace.is_empty() {
        "(none)"
    } else {
        &request.namespace
    };
    Violation::new(
        "metadata.namespace",
        namespace,
        format!(
            "a DaemonSet runs a pod on every node, so one broken DaemonSet (like the fork bomb that killed every node in the incident) takes down the whole cluster at once; \
             DaemonSets are allowed only for {}, and {} creating one in namespace {namespace} is not.",
            allowed_list(allowed),
            describe_subject(request),
        ),
        format!(
            "run it as a Deployment, or have a cluster admin deploy it in an allowed namespace ({}); \
             to allow more, add the namespace or subject to `daemonSets.allowed` in the policy settings.",
            if allowed.namespaces.is_empty() {
                "none configured".to_string()
            } else {
                allowed.namespaces.join(", ")
            }
        ),
    )
}

fn fork_bomb_violation(
    at: &ContainerAt,
    field: String,
    bomb: ForkBomb,
    daemon_set: bool,
) -> Violation {
    let reach = if daemon_set {
        "; as a DaemonSet it does so on every node at once, and the nodes have to be restarted by hand"
    } else {
        ""
    };
    // The bomb was read from an env value (`eval "$LOAD"`): name where it is.
    let via = bomb
        .env
        .and_then(|index| Some((index, at.container.env.get(index)?)))
        .map(|(index, entry)| format!(" via env {} ({}.env[{index}].value)", entry.name, at.path))
        .unwrap_or_default();
    Violation::new(
        field,
        format!("`{}`", bomb.excerpt),
        format!(
            "{} runs a fork bomb{via}: function `{}` {} and is invoked, so its copies double until the node runs out of process IDs and memory and dies{reach}.",
            at.describe(),
            bomb.function,
            bomb.how,
        ),
        format!(
            "remove it (load-test with a tool that bounds its processes); {PID_FIX}, and give containers cpu and memory limits."
        ),
    )
    .about(vec![container_finding(at, "fork-bomb", 0)])
}

fn nested_violation(at: &ContainerAt, field: String) -> Violation {
    let max = fork_bomb::MAX_NESTED_BYTES / (1024 * 1024);
    Violation::new(
        field,
        format!("scripts nested over {max} MiB"),
        format!(
            "{} runs scripts nested in `sh -c`, `eval` or here-documents that add up to more than crash-guard reads per script ({max} MiB or {} scripts, at every depth), so it cannot tell whether they run a fork bomb; what it cannot read it refuses.",
            at.describe(),
            fork_bomb::MAX_NESTED_SCRIPTS,
        ),
        "run the script from a file (a ConfigMap mounted as a volume: `sh /scripts/run.sh`), or pass it to the shell once instead of evaluating many or long texts.",
    )
    // Keyed by what it runs: an UPDATE that changes what hides there is new.
    .about(vec![container_finding(
        at,
        &format!("unreadable/{:016x}", at.container.run_digest()),
        0,
    )])
}

fn limits_violation(at: &ContainerAt, missing: &[&str], zero: bool, daemon_set: bool) -> Violation {
    let findings = missing
        .iter()
        .map(|resource| container_finding(at, &["no-limit/", resource].concat(), 0))
        .collect();
    let missing = missing.join(", ");
    let reach = if daemon_set {
        " on every node at once, since a DaemonSet runs everywhere"
    } else {
        ""
    };
    Violation::new(
        format!("{}.resources.limits", at.path),
        format!("missing {missing}"),
        format!(
            "{} declares no {missing} limit{}, nor does its pod, so it can take all of its node's {missing}{reach}, starving the kubelet and the container runtime until the node stops working.",
            at.describe(),
            if zero { " (a limit of 0 is no limit: the kubelet sets none)" } else { "" },
        ),
        format!(
            "set `resources.limits` for {missing} on the container, or on the whole pod in `{}.resources.limits` (pod-level resources, Kubernetes 1.34 and later), above 0 (required by the policy's `resourceLimits` setting; `resourceLimits.exemptNamespaces` lists namespaces it skips); and {PID_FIX}.",
            at.path.pod_spec
        ),
    )
    .about(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::NoHost;
    use rstest::rstest;

    const LIMITS: &str = r#""resources":{"limits":{"cpu":"100m","memory":"64Mi"}}"#;

    fn container(name: &str, command: &str, limits: bool) -> String {
        let resources = if limits { LIMITS } else { r#""resources":{}"# };
        format!(r#"{{"name":"{name}","image":"busybox","command":{command},{resources}}}"#)
    }

    fn daemon_set(namespace: &str, containers: &str) -> String {
        format!(
            r#"{{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{{"name":"stress","namespace":"{namespace}"}},"spec":{{"template":{{"spec":{{"containers":[{containers}]}}}}}}}}"#
        )
    }

    fn request(
        kind: (&str, &str),
        operation: &str,
        namespace: &str,
        user: &str,
        object: &str,
        old: &str,
    ) -> String {
        format!(
            r#"{{"uid":"u","operation":"{operation}","kind":{{"group":"{}","version":"v1","kind":"{}"}},"namespace":"{namespace}","name":"stress","userInfo":{{"username":"{user}","groups":["devs"]}},"object":{object},"oldObject":{old}}}"#,
            kind.0, kind.1
        )
    }

    const DS: (&str, &str) = ("apps", "DaemonSet");
    const BOMB: &str = r#"["bash","-c",":(){ :|:& };:"]"#;
    const SLEEP: &str = r#"["sleep","infinity"]"#;

    fn judge_json(json: &str, settings: &Settings) -> Verdict {
        crate::policy::evaluate::<DaemonSetGuard>(json, settings, &NoHost).expect("decodes")
    }

    fn fields(verdict: &Verdict) -> Vec<String> {
        verdict.violations.iter().map(|v| v.field.clone()).collect()
    }

    #[rstest]
    #[case::talk_fork_bomb_daemon_set(
        request(DS, "CREATE", "kube-system", "admin", &daemon_set("kube-system", &container("bomb", BOMB, true)), "null"),
        &["spec.template.spec.containers[0].command[2]"]
    )]
    #[case::app_namespace_by_user(
        request(DS, "CREATE", "apps", "alice", &daemon_set("apps", &container("agent", SLEEP, true)), "null"),
        &["metadata.namespace"]
    )]
    #[case::kube_system_ok(
        request(DS, "CREATE", "kube-system", "alice", &daemon_set("kube-system", &container("agent", SLEEP, true)), "null"),
        &[]
    )]
    #[case::missing_limits(
        request(DS, "CREATE", "kube-system", "alice", &daemon_set("kube-system", &container("agent", SLEEP, false)), "null"),
        &["spec.template.spec.containers[0].resources.limits"]
    )]
    #[case::everything_reported_in_order(
        request(DS, "CREATE", "apps", "alice", &daemon_set("apps", &format!("{},{}", container("bomb", BOMB, false), container("ok", SLEEP, true))), "null"),
        &["metadata.namespace", "spec.template.spec.containers[0].command[2]", "spec.template.spec.containers[0].resources.limits"]
    )]
    #[case::deployment_fork_bomb_without_limits(
        request(("apps", "Deployment"), "CREATE", "apps", "alice", &format!(r#"{{"spec":{{"template":{{"spec":{{"containers":[{}]}}}}}}}}"#, container("bomb", BOMB, false)), "null"),
        &["spec.template.spec.containers[0].command[2]"]
    )]
    #[case::pod_args_bomb(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","command":["/bin/sh"],"args":["-c","f(){ f|f & };f"]}]}}"#, "null"),
        &["spec.containers[0].args[1]"]
    )]
    #[case::joined_command_line(
        request(("batch", "Job"), "CREATE", "apps", "alice", r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","args":["bomb()","{","bomb","|","bomb","&","};","bomb"]}]}}}}"#, "null"),
        &["spec.template.spec.containers[0].command+args"]
    )]
    #[case::init_container_bomb(
        request(("batch", "CronJob"), "CREATE", "apps", "alice", r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"initContainers":[{"name":"i","command":["sh","-c","x(){ x|x& };x"]}]}}}}}}"#, "null"),
        &["spec.jobTemplate.spec.template.spec.initContainers[0].command[2]"]
    )]
    #[case::delete_accepted(
        request(DS, "DELETE", "apps", "alice", "null", &daemon_set("apps", &container("bomb", BOMB, false))),
        &[]
    )]
    #[case::update_keeps_existing_placement(
        request(DS, "UPDATE", "apps", "alice", &daemon_set("apps", &container("agent", SLEEP, true)), &daemon_set("apps", &container("agent", SLEEP, false))),
        &[]
    )]
    #[case::update_adding_bomb(
        request(DS, "UPDATE", "kube-system", "alice", &daemon_set("kube-system", &container("agent", BOMB, true)), &daemon_set("kube-system", &container("agent", SLEEP, true))),
        &["spec.template.spec.containers[0].command[2]"]
    )]
    #[case::other_kind(
        request(("", "ConfigMap"), "CREATE", "apps", "alice", r#"{"data":{"x":":(){ :|:& };:"}}"#, "null"),
        &[]
    )]
    #[case::update_adding_one_missing_limit(
        request(DS, "UPDATE", "kube-system", "alice", &daemon_set("kube-system", r#"{"name":"agent","resources":{"limits":{"cpu":"1"}}}"#), &daemon_set("kube-system", r#"{"name":"agent"}"#)),
        &[]
    )]
    #[case::update_swapping_the_missing_limit(
        request(DS, "UPDATE", "kube-system", "alice", &daemon_set("kube-system", r#"{"name":"agent","resources":{"limits":{"memory":"1Gi"}}}"#), &daemon_set("kube-system", r#"{"name":"agent","resources":{"limits":{"cpu":"1"}}}"#)),
        &["spec.template.spec.containers[0].resources.limits"]
    )]
    #[case::update_removing_an_earlier_container(
        request(DS, "UPDATE", "kube-system", "alice", &daemon_set("kube-system", &container("b", BOMB, false)), &daemon_set("kube-system", &format!("{},{}", container("a", SLEEP, false), container("b", BOMB, false)))),
        &[]
    )]
    #[case::update_renaming_a_container(
        request(DS, "UPDATE", "kube-system", "alice", &daemon_set("kube-system", &container("c", SLEEP, false)), &daemon_set("kube-system", &container("a", SLEEP, false))),
        &["spec.template.spec.containers[0].resources.limits"]
    )]
    #[case::update_moving_a_bomb_to_an_init_container(
        request(DS, "UPDATE", "kube-system", "alice", &format!(r#"{{"spec":{{"template":{{"spec":{{"containers":[{}],"initContainers":[{}]}}}}}}}}"#, container("a", SLEEP, true), container("a", BOMB, true)), &daemon_set("kube-system", &container("a", BOMB, true))),
        &["spec.template.spec.initContainers[0].command[2]"]
    )]
    #[case::post_start_hook_bomb(
        request(DS, "CREATE", "kube-system", "admin", &daemon_set("kube-system", r#"{"name":"c","command":["sleep","infinity"],"lifecycle":{"postStart":{"exec":{"command":["sh","-c",":(){ :|:& };:"]}}},"resources":{"limits":{"cpu":"1","memory":"1Gi"}}}"#), "null"),
        &["spec.template.spec.containers[0].lifecycle.postStart.exec.command[2]"]
    )]
    #[case::liveness_probe_bomb_joined(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","livenessProbe":{"exec":{"command":["f()","{","f|f&","};","f"]}}}]}}"#, "null"),
        &["spec.containers[0].livenessProbe.exec.command"]
    )]
    #[case::http_probe_and_pre_stop_without_exec(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","livenessProbe":{"httpGet":{"path":"/","port":80}},"lifecycle":{"preStop":{"sleep":{"seconds":5}}}}]}}"#, "null"),
        &[]
    )]
    #[case::bomb_in_an_env_var(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","command":["sh","-c","$(BOMB)"],"env":[{"name":"BOMB","value":":(){ :|:& };:"}]}]}}"#, "null"),
        &["spec.containers[0].command[2]"]
    )]
    #[case::hooks_run_as_written(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","lifecycle":{"preStop":{"exec":{"command":["sh","-c","$(BOMB)"]}}},"env":[{"name":"BOMB","value":":(){ :|:& };:"}]}]}}"#, "null"),
        &[]
    )]
    #[case::probes_expanded(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","startupProbe":{"exec":{"command":["sh","-c","$(BOMB)"]}},"env":[{"name":"BOMB","value":":(){ :|:& };:"}]}]}}"#, "null"),
        &["spec.containers[0].startupProbe.exec.command[2]"]
    )]
    #[case::escaped_reference_is_text(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","command":["sh","-c","echo $$(BOMB)"],"env":[{"name":"BOMB","value":":(){ :|:& };:"}]}]}}"#, "null"),
        &[]
    )]
    #[case::grep_argument_is_text(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","command":["grep","-F",":(){ :|:& };:","/var/log/audit.log"]}]}}"#, "null"),
        &[]
    )]
    #[case::echo_argument_is_text(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","command":["/bin/echo"],"args":[":(){ :|:& };:"]}]}}"#, "null"),
        &[]
    )]
    #[case::zero_limits_are_none(
        request(DS, "CREATE", "kube-system", "alice", &daemon_set("kube-system", r#"{"name":"c","resources":{"limits":{"cpu":"0","memory":"0Mi"}}}"#), "null"),
        &["spec.template.spec.containers[0].resources.limits"]
    )]
    #[case::numeric_limits(
        request(DS, "CREATE", "kube-system", "alice", &daemon_set("kube-system", r#"{"name":"c","resources":{"limits":{"cpu":1,"memory":"0.5Gi"}}}"#), "null"),
        &[]
    )]
    #[case::pod_level_limits(
        request(DS, "CREATE", "kube-system", "alice", r#"{"spec":{"template":{"spec":{"resources":{"limits":{"cpu":"1","memory":"1Gi"}},"containers":[{"name":"c"}],"initContainers":[{"name":"i"}]}}}}"#, "null"),
        &[]
    )]
    #[case::pod_level_cpu_limit_only(
        request(DS, "CREATE", "kube-system", "alice", r#"{"spec":{"template":{"spec":{"resources":{"limits":{"cpu":"1","memory":"0"}},"containers":[{"name":"c"},{"name":"d","resources":{"limits":{"memory":"1Gi"}}}]}}}}"#, "null"),
        &["spec.template.spec.containers[0].resources.limits"]
    )]
    #[case::pod_level_limits_of_a_pod(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"resources":{"limits":{"cpu":"1","memory":"1Gi"}},"containers":[{"name":"c"}]}}"#, "null"),
        &[]
    )]
    #[case::bomb_in_env_run_by_eval(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","command":["sh","-c","eval \"$LOAD\""],"env":[{"name":"LOAD","value":":(){ :|:& };:"}]}]}}"#, "null"),
        &["spec.containers[0].command[2]"]
    )]
    #[case::bomb_in_env_run_by_a_hook(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","lifecycle":{"postStart":{"exec":{"command":["bash","-c","bash -c \"$LOAD\""]}}},"env":[{"name":"LOAD","value":":(){ :|:& };:"}]}]}}"#, "null"),
        &["spec.containers[0].lifecycle.postStart.exec.command[2]"]
    )]
    #[case::harmless_env_run_by_eval(
        request(("", "Pod"), "CREATE", "apps", "alice", r#"{"spec":{"containers":[{"name":"c","command":["sh","-c","eval \"$LOAD\""],"env":[{"name":"LOAD","value":"a | b &"},{"name":"X","valueFrom":{}}]}]}}"#, "null"),
        &[]
    )]
    #[case::nested_scripts_over_the_budget(
        request(("", "Pod"), "CREATE", "apps", "alice", &format!(r#"{{"spec":{{"containers":[{{"name":"c","command":["sh","-c","eval {}"]}}]}}}}"#, "'a|{' ".repeat(fork_bomb::MAX_NESTED_SCRIPTS + 1)), "null"),
        &["spec.containers[0].command[2]"]
    )]
    fn judges(#[case] json: String, #[case] expected: &[&str]) {
        assert_eq!(fields(&judge_json(&json, &Settings::default())), expected);
    }

    #[test]
    fn update_tolerating_existing_problems_warns() {
        let json = request(
            DS,
            "UPDATE",
            "apps",
            "alice",
            &daemon_set("apps", &container("agent", SLEEP, true)),
            &daemon_set("apps", &container("agent", SLEEP, false)),
        );
        let verdict = judge_json(&json, &Settings::default());
        assert_eq!(verdict.warnings.len(), 1);
        assert!(
            verdict.warnings[0].contains("does not introduce it"),
            "{:?}",
            verdict.warnings
        );
    }

    #[rstest]
    #[case::allowed_group(r#"{"daemonSets":{"allowed":{"groups":["devs"]}}}"#, 0, 1)]
    #[case::allowed_namespace(r#"{"daemonSets":{"allowed":{"namespaces":["apps"]}}}"#, 0, 1)]
    #[case::limits_everywhere(r#"{"resourceLimits":{"appliesTo":"AllWorkloads"}}"#, 1, 2)]
    #[case::limits_exempt_here(
        r#"{"resourceLimits":{"appliesTo":"AllWorkloads","exemptNamespaces":["apps"]}}"#,
        0,
        2
    )]
    #[case::limits_exempt_elsewhere(
        r#"{"resourceLimits":{"appliesTo":"AllWorkloads","exemptNamespaces":["kube-system"]}}"#,
        1,
        2
    )]
    #[case::no_fork_bomb_check(
        r#"{"detectForkBombs":false,"daemonSets":{"allowed":{"namespaces":["apps"]}}}"#,
        0,
        0
    )]
    fn settings_change_the_verdict(
        #[case] settings: &str,
        #[case] pod_violations: usize,
        #[case] daemon_set_violations: usize,
    ) {
        let raw = serde_json::value::RawValue::from_string(settings.to_string()).expect("json");
        let settings: Settings = crate::settings::parse(Some(&raw)).expect("valid");
        let pod = request(
            ("", "Pod"),
            "CREATE",
            "apps",
            "alice",
            &format!(
                r#"{{"spec":{{"containers":[{}]}}}}"#,
                container("c", SLEEP, false)
            ),
            "null",
        );
        assert_eq!(
            judge_json(&pod, &settings).violations.len(),
            pod_violations,
            "pod"
        );
        let bomb = request(
            DS,
            "CREATE",
            "apps",
            "alice",
            &daemon_set("apps", &container("c", BOMB, true)),
            "null",
        );
        assert_eq!(
            judge_json(&bomb, &settings).violations.len(),
            daemon_set_violations,
            "daemon set"
        );
    }

    fn parsed(settings: &str) -> Settings {
        let raw = serde_json::value::RawValue::from_string(settings.to_string()).expect("json");
        crate::settings::parse(Some(&raw)).expect("valid")
    }

    #[rstest]
    #[case::groups_keep_the_default_namespace(r#"{"daemonSets":{"allowed":{"groups":["admins"]}}}"#, &["kube-system"], &["admins"])]
    #[case::namespaces_replace_the_default(r#"{"daemonSets":{"allowed":{"namespaces":["monitoring"]}}}"#, &["monitoring"], &[])]
    #[case::empty_namespaces_given(r#"{"daemonSets":{"allowed":{"namespaces":[],"groups":["admins"]}}}"#, &[], &["admins"])]
    fn allowed_lists_left_out_keep_their_defaults(
        #[case] settings: &str,
        #[case] namespaces: &[&str],
        #[case] groups: &[&str],
    ) {
        let allowed = parsed(settings).daemon_sets.allowed;
        assert_eq!(allowed.namespaces, namespaces);
        assert_eq!(allowed.groups, groups);
    }

    #[test]
    fn messages_name_container_finding_and_fix() {
        let json = request(
            DS,
            "CREATE",
            "apps",
            "alice",
            &daemon_set("apps", &container("bomb", BOMB, false)),
            "null",
        );
        let response = judge_json(&json, &Settings::default())
            .into_response("daemonset-guard", "DaemonSet apps/stress");
        let message = response.message.unwrap_or_default();
        for needle in [
            "DaemonSet apps/stress",
            "metadata.namespace = apps",
            "user `alice` (groups devs)",
            "namespaces kube-system",
            "container `bomb` runs a fork bomb: function `:` pipes a call of itself into itself",
            "`:(){ :|:& };:`",
            "every node at once",
            "--pod-max-pids",
            "podPidsLimit",
            "missing cpu, memory",
            "or on the whole pod in `spec.template.spec.resources.limits`",
            "daemonSets.allowed",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }

    #[rstest]
    #[case::unknown_key(r#"{"detectForkbombs":false}"#, "unknown field `detectForkbombs`")]
    #[case::nobody_allowed(
        r#"{"daemonSets":{"allowed":{"namespaces":[]}}}"#,
        "daemonSets.allowed: allows no namespace"
    )]
    #[case::empty_namespace(
        r#"{"daemonSets":{"allowed":{"namespaces":[""]}}}"#,
        "daemonSets.allowed.namespaces[0]"
    )]
    #[case::bad_service_account(
        r#"{"daemonSets":{"allowed":{"serviceAccounts":["x"]}}}"#,
        "daemonSets.allowed.serviceAccounts[0]"
    )]
    #[case::bad_scope(
        r#"{"resourceLimits":{"appliesTo":"Everything"}}"#,
        "unknown variant `Everything`"
    )]
    #[case::bad_resource(
        r#"{"resourceLimits":{"resources":["cpu","mem"]}}"#,
        "resourceLimits.resources[1]"
    )]
    #[case::resource_without_name(
        r#"{"resourceLimits":{"resources":["cpu","nvidia.com/"]}}"#,
        "resourceLimits.resources[1]: `nvidia.com/` is not a resource name"
    )]
    #[case::resource_without_prefix(r#"{"resourceLimits":{"resources":["/gpu"]}}"#, "resources[0]")]
    #[case::bare_slash(r#"{"resourceLimits":{"resources":["/"]}}"#, "resources[0]")]
    #[case::hugepages_without_size(
        r#"{"resourceLimits":{"resources":["hugepages-"]}}"#,
        "resources[0]"
    )]
    #[case::duplicate_resource(
        r#"{"resourceLimits":{"resources":["cpu","cpu"]}}"#,
        "resourceLimits.resources[1]: `cpu` is listed twice"
    )]
    #[case::no_resources(
        r#"{"resourceLimits":{"resources":[]}}"#,
        "resourceLimits.resources: must name"
    )]
    #[case::bad_exemption(r#"{"exemptions":{"users":[""]}}"#, "exemptions.users[0]")]
    #[case::bad_limits_namespace(
        r#"{"resourceLimits":{"exemptNamespaces":["kube-system","Apps"]}}"#,
        "resourceLimits.exemptNamespaces[1]: `Apps` is not a namespace name"
    )]
    fn refuses_invalid_settings(#[case] json: &str, #[case] expected: &str) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }

    #[rstest]
    #[case::cpu("cpu", true)]
    #[case::hugepages("hugepages-2Mi", true)]
    #[case::hugepages_1g("hugepages-1Gi", true)]
    #[case::extended("nvidia.com/gpu", true)]
    #[case::extended_name_chars("example.com/fpga_v1.2", true)]
    #[case::no_name("nvidia.com/", false)]
    #[case::no_prefix("/gpu", false)]
    #[case::slash("/", false)]
    #[case::upper_prefix("Example.com/gpu", false)]
    #[case::two_slashes("a.com/b/c", false)]
    #[case::hugepages_without_size("hugepages-", false)]
    #[case::hugepages_bad_size("hugepages-big", false)]
    #[case::unknown("mem", false)]
    fn resource_names_as_the_api_server_accepts_them(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(is_resource_name(name), valid, "{name}");
    }

    #[rstest]
    #[case::sh_c(&["sh", "-c", "f(){ f|f& }"], true)]
    #[case::bash_path_ec(&["/bin/bash", "-ec", "x"], true)]
    #[case::clustered_ce(&["bash", "-ce", "x"], true)]
    #[case::script_arguments(&["sh", "-c", "f(){ f|f& };", "f"], false)]
    #[case::not_a_shell(&["python", "-c", "x"], false)]
    #[case::no_c_option(&["sh", "-x", "x"], false)]
    #[case::long_option(&["bash", "--norc", "x"], false)]
    #[case::split_across_elements(&["f()", "{ f|f& };", "f"], false)]
    fn runs_one_script_only_for_a_shell_and_its_c_script(
        #[case] argv: &[&str],
        #[case] expected: bool,
    ) {
        let argv: Vec<(Element, Cow<str>)> = argv
            .iter()
            .enumerate()
            .map(|(index, arg)| (Element::Exec("livenessProbe", index), Cow::Borrowed(*arg)))
            .collect();
        assert_eq!(runs_one_script(&argv), expected);
    }

    #[test]
    fn no_limits_needed_when_scope_is_none() {
        let raw = serde_json::value::RawValue::from_string(
            r#"{"resourceLimits":{"appliesTo":"None","resources":[]}}"#.to_string(),
        )
        .expect("json");
        let settings: Settings = crate::settings::parse(Some(&raw)).expect("valid");
        let json = request(
            DS,
            "CREATE",
            "kube-system",
            "a",
            &daemon_set("kube-system", &container("c", SLEEP, false)),
            "null",
        );
        assert!(judge_json(&json, &settings).is_accepted());
    }
}
