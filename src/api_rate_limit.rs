//! api-rate-limit (crash 4): a custom controller shipped with client QPS 3000;
//! the API server answered 429 to everyone and kube-controller-manager,
//! kube-scheduler and the kubelets stopped working. Refuses client rate limits
//! above a maximum, and FlowSchemas that let ordinary clients bypass API
//! Priority and Fairness.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::exemptions::Exemptions;
use crate::host::{GetResource, Host, OnLookupFailure};
use crate::policy::Rule;
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::settings::{non_empty_entries, validate_section, SettingsError, Validate};
use crate::violation::{Finding, Verdict, Violation, MAX_LISTED};
use crate::workload::shell::{is_assignment, is_variable_name, tokenize};
use crate::workload::{
    container_finding, expansion_violation, judge_change, ArgField, ContainerAt, Env, Expansions,
    Workload, WorkloadKind, WorkloadObject,
};

pub struct ApiRateLimit;

const FLOWCONTROL_GROUP: &str = "flowcontrol.apiserver.k8s.io";
/// The mandatory priority level that bypasses every limit.
const EXEMPT_LEVEL: &str = "exempt";
/// Groups every client (or every service account) is in.
const EVERYONE_GROUPS: &[&str] = &[
    "*",
    "system:authenticated",
    "system:unauthenticated",
    "system:serviceaccounts",
];
/// The built-in FlowSchemas of the system components after `exempt` and
/// `probes`, with their matchingPrecedence.
const SYSTEM_FLOW_SCHEMAS: &[(&str, i64)] = &[
    ("system-leader-election", 100),
    ("endpoint-controller", 150),
    ("workload-leader-election", 200),
    ("system-node-high", 400),
    ("system-nodes", 500),
    ("kube-controller-manager", 800),
    ("kube-scheduler", 800),
    ("kube-system-service-accounts", 900),
];
/// The highest of them (kube-system-service-accounts).
const SYSTEM_PRECEDENCE: i64 = 900;
/// matchingPrecedence the API server gives a FlowSchema that sets none.
const DEFAULT_PRECEDENCE: i64 = 1000;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// Highest client QPS a container may configure.
    pub max_qps: f64,
    /// Highest client burst a container may configure.
    pub max_burst: f64,
    /// Command-line flags setting the client QPS (with or without dashes).
    pub qps_flags: Vec<String>,
    pub burst_flags: Vec<String>,
    /// Environment variables setting the client QPS.
    pub qps_env_vars: Vec<String>,
    pub burst_env_vars: Vec<String>,
    pub flow_schemas: FlowSchemaSettings,
    pub on_lookup_failure: OnLookupFailure,
    #[serde(deserialize_with = "exemptions_over_defaults")]
    pub exemptions: Exemptions,
}

/// The API server maintains the built-in FlowSchemas itself, `probes`
/// (health checks of everyone, routed to exempt) included: it is exempt
/// whatever `exemptions.users` lists.
const APISERVER: &str = "system:apiserver";

fn default_exemptions() -> Exemptions {
    Exemptions {
        users: vec![APISERVER.to_string()],
        ..Exemptions::default()
    }
}

fn exemptions_over_defaults<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Exemptions, D::Error> {
    let mut exemptions = crate::exemptions::deserialize_over(deserializer, default_exemptions())?;
    if !exemptions.users.iter().any(|user| user == APISERVER) {
        exemptions.users.push(APISERVER.to_string());
    }
    Ok(exemptions)
}

impl Default for Settings {
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Self {
            max_qps: 50.0,
            max_burst: 100.0,
            qps_flags: strings(&[
                "--kube-api-qps",
                "--qps",
                "--kube-client-qps",
                "--kubernetes-client-qps",
                "--kubeClientQPS",
            ]),
            burst_flags: strings(&[
                "--kube-api-burst",
                "--burst",
                "--kube-client-burst",
                "--kubernetes-client-burst",
                "--kubeClientBurst",
            ]),
            qps_env_vars: strings(&["KUBE_API_QPS", "KUBE_CLIENT_QPS"]),
            burst_env_vars: strings(&["KUBE_API_BURST", "KUBE_CLIENT_BURST"]),
            flow_schemas: FlowSchemaSettings::default(),
            on_lookup_failure: OnLookupFailure::default(),
            exemptions: default_exemptions(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct FlowSchemaSettings {
    /// Subjects that may be routed to an Exempt priority level and may take
    /// precedence ahead of the built-in system FlowSchemas.
    pub system_users: Vec<String>,
    pub system_groups: Vec<String>,
    /// `namespace/name` or `namespace/*`.
    pub system_service_accounts: Vec<String>,
    /// Lowest matchingPrecedence a FlowSchema with other subjects may claim.
    pub min_precedence: i64,
}

impl Default for FlowSchemaSettings {
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Self {
            system_users: strings(&[
                "system:apiserver",
                "system:kube-controller-manager",
                "system:kube-scheduler",
            ]),
            system_groups: strings(&["system:masters", "system:nodes"]),
            system_service_accounts: strings(&["kube-system/*"]),
            min_precedence: DEFAULT_PRECEDENCE,
        }
    }
}

impl Validate for FlowSchemaSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        non_empty_entries("systemUsers", &self.system_users)?;
        non_empty_entries("systemGroups", &self.system_groups)?;
        // In APF, `*` matches every user (and every group).
        if let Some(index) = self.system_users.iter().position(|u| u == "*") {
            return Err(SettingsError::new(
                format!("systemUsers[{index}]"),
                "`*` matches every user, so no FlowSchema would be checked; list the users of the system components only",
            ));
        }
        for (index, group) in self.system_groups.iter().enumerate() {
            if EVERYONE_GROUPS.contains(&group.as_str()) {
                return Err(SettingsError::new(
                    format!("systemGroups[{index}]"),
                    format!("`{group}` holds every client (or every service account), so no FlowSchema would be checked; list the groups of the system components only"),
                ));
            }
        }
        let accounts = Exemptions {
            service_accounts: self.system_service_accounts.clone(),
            ..Exemptions::default()
        };
        accounts.validate().map_err(|e| {
            SettingsError::new(
                e.field.replace("serviceAccounts", "systemServiceAccounts"),
                e.problem,
            )
        })?;
        if !(1..=10_000).contains(&self.min_precedence) {
            return Err(SettingsError::new(
                "minPrecedence",
                format!(
                    "{} is outside the range of matchingPrecedence, 1 to 10000",
                    self.min_precedence
                ),
            ));
        }
        Ok(())
    }
}

fn check_names(field: &str, names: &[String], what: &str) -> Result<(), SettingsError> {
    if names.is_empty() {
        return Err(SettingsError::new(
            field,
            "is empty, which would switch this check off; leave it out for the defaults",
        ));
    }
    for (index, name) in names.iter().enumerate() {
        let bare = name.trim_start_matches('-');
        if bare.is_empty() || bare.contains(['=', ' ', '\t', '\n']) {
            return Err(SettingsError::new(
                format!("{field}[{index}]"),
                format!("`{name}` is not {what}"),
            ));
        }
    }
    Ok(())
}

fn check_maximum(field: &str, value: f64, minimum: f64) -> Result<(), SettingsError> {
    if value.is_finite() && value >= minimum {
        Ok(())
    } else {
        Err(SettingsError::new(
            field,
            format!("must be a finite number of at least {minimum}, got {value}"),
        ))
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        check_maximum("maxQps", self.max_qps, 1.0)?;
        check_maximum("maxBurst", self.max_burst, 1.0)?;
        check_names(
            "qpsFlags",
            &self.qps_flags,
            "a flag name such as --kube-api-qps",
        )?;
        check_names(
            "burstFlags",
            &self.burst_flags,
            "a flag name such as --kube-api-burst",
        )?;
        check_names(
            "qpsEnvVars",
            &self.qps_env_vars,
            "an environment variable name",
        )?;
        check_names(
            "burstEnvVars",
            &self.burst_env_vars,
            "an environment variable name",
        )?;
        validate_section("flowSchemas", &self.flow_schemas)?;
        validate_section("exemptions", &self.exemptions)
    }
}

impl Rule for ApiRateLimit {
    const NAME: &'static str = "api-rate-limit";
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
        host: &dyn Host,
    ) -> Result<Verdict, DecodeError> {
        if let Some(kind) = WorkloadKind::of(&request.kind) {
            return judge_change(
                Self::NAME,
                request,
                Workload::from_object(kind, objects.object)?,
                || Workload::old_object(request),
                |workload| judge_workload(settings, workload),
            );
        }
        if request.kind.is(FLOWCONTROL_GROUP, "FlowSchema") {
            return judge_change(
                Self::NAME,
                request,
                request.object::<FlowSchema>()?,
                || request.old_object::<FlowSchema>(),
                |schema| judge_flow_schema(request, settings, host, schema),
            );
        }
        Ok(Verdict::accept())
    }
}

// ---- client rate limits in workloads ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Qps,
    Burst,
}

/// One place a container sets a rate limit; its texts are rendered only
/// for a violation.
struct Setting<'s> {
    place: Place<'s>,
    limit: Limit,
    value: &'s str,
}

enum Place<'s> {
    /// A flag word, its separate value if any, and the reference it was
    /// split from if any.
    Flag {
        field: ArgField,
        word: &'s str,
        next: Option<&'s str>,
        origin: Option<&'s str>,
    },
    Env {
        index: usize,
        name: &'s str,
        value: &'s str,
    },
    /// A script's assignment to a client env var.
    Script {
        field: ArgField,
        name: &'s str,
        value: &'s str,
    },
}

impl Place<'_> {
    fn field(&self, at: &ContainerAt) -> String {
        match self {
            Place::Flag { field, .. } | Place::Script { field, .. } => {
                format!("{}.{field}", at.path)
            }
            Place::Env { index, .. } => format!("{}.env[{index}]", at.path),
        }
    }

    fn shown(&self) -> String {
        match self {
            Place::Flag {
                word, next, origin, ..
            } => {
                let (space, next) = next.map_or(("", ""), |next| (" ", next));
                let (from, origin, close) = origin.map_or(("", "", ""), |o| (" (from ", o, ")"));
                [*word, space, next, from, origin, close].concat()
            }
            Place::Env { name, value, .. } | Place::Script { name, value, .. } => {
                [*name, "=", value].concat()
            }
        }
    }
}

fn bare_flag(name: &str) -> &str {
    name.trim_start_matches('-')
}

/// Whether flag names `a` and `b` (without dashes) are one: component-base
/// reads `_` as `-` (`--kube_api_qps`).
fn same_flag(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x == y || matches!((x, y), (b'_', b'-') | (b'-', b'_')))
}

/// How deep scripts quoted inside scripts (`su -c '...'`) are split.
const MAX_NESTING: usize = 4;
/// How deep references are followed (`A=$B`, `${A:-${B:-1}}`, `$ARGS`
/// holding more references).
const MAX_DEPTH: usize = 8;

/// A whole-word shell reference: `$NAME`, `${NAME}`, or `${NAME<op>word}`
/// with op `-` (default), `=` (default, assigned), `+` (alternative: the
/// word when set) or `?` (error when unset), each also after `:`, which
/// reads an empty value as unset.
struct Reference<'t> {
    name: &'t str,
    op: Option<(char, &'t str)>,
    colon: bool,
}

impl<'t> Reference<'t> {
    fn parse(text: &'t str) -> Option<Self> {
        let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
            let name = text.strip_prefix('$')?;
            return Some(Self::plain(name));
        };
        let at = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let (Some(name), Some(rest)) = (inner.get(..at), inner.get(at..)) else {
            return Some(Self::plain(inner));
        };
        let (colon, rest) = match rest.strip_prefix(':') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let mut chars = rest.chars();
        let op = match chars.next() {
            None if !colon => None,
            Some(op @ ('-' | '=' | '+' | '?')) if !name.is_empty() => Some((op, chars.as_str())),
            // `${#A}`, `${A%x}`, `${A:1}`: not read.
            _ => return Some(Self::plain(inner)),
        };
        Some(Self { name, op, colon })
    }

    fn plain(name: &'t str) -> Self {
        Self {
            name,
            op: None,
            colon: false,
        }
    }

    /// The word of a default (`-`, `=`).
    fn default(&self) -> Option<&'t str> {
        self.op
            .filter(|(op, _)| matches!(op, '-' | '='))
            .map(|(_, word)| word)
    }

    /// The word of an alternative (`+`).
    fn alternative(&self) -> Option<&'t str> {
        self.op.filter(|(op, _)| *op == '+').map(|(_, word)| word)
    }
}

/// What a variable holds, as far as this rule can tell.
#[derive(Clone, Copy)]
enum Value<'t> {
    /// Set, perhaps by several assignments (branches): the worst value
    /// (`None`: none can be judged), and whether one is empty.
    Set {
        worst: Option<&'t str>,
        empty: bool,
    },
    Unset,
    /// From a ConfigMap or Secret (`valueFrom`, `envFrom`).
    Unknown,
}

/// How far a value goes, in thousandths so an UPDATE that lowers it keeps
/// it; unlimited (a negative QPS) and infinite are farthest.
fn extent(value: f64, limit: Limit) -> u64 {
    if (limit == Limit::Qps && value < 0.0) || !value.is_finite() {
        u64::MAX
    } else {
        (value * 1000.0).ceil() as u64
    }
}

/// Of two candidate values, the one that goes farther (a number beats
/// text, text beats nothing).
fn worse<'t>(a: Option<&'t str>, b: Option<&'t str>, limit: Limit) -> Option<&'t str> {
    let rank = |v: Option<&str>| {
        v.map(|t| {
            let number = go_number(t.trim(), limit).map(|n| extent(n, limit));
            (number, !t.is_empty())
        })
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// What a container's scripts assign (`QPS=3000`, `export QPS=3000`,
/// `env QPS=3000 /manager`, `: ${QPS:=3000}`), and references resolved
/// through it.
struct Scripts<'w, 'e, 'a> {
    env: &'w Env<'e, 'a>,
    /// Every value each name is given. `${QPS:=3000}` gives QPS itself,
    /// which reads as the env's value or 3000.
    assigned: BTreeMap<&'w str, BTreeSet<&'w str>>,
    /// Assignments to `qpsEnvVars` / `burstEnvVars`.
    client_env: Vec<(ArgField, &'w str, &'w str, Limit)>,
}

/// Each name's worst value per limit once worked out, and the names being
/// worked out (a reference to one of those reads the value before the
/// scripts: `QPS=${QPS:-3000}`).
#[derive(Default)]
struct Memo<'w> {
    qps: BTreeMap<&'w str, Value<'w>>,
    burst: BTreeMap<&'w str, Value<'w>>,
    busy: BTreeSet<&'w str>,
}

impl<'w> Memo<'w> {
    fn of(&mut self, limit: Limit) -> &mut BTreeMap<&'w str, Value<'w>> {
        match limit {
            Limit::Qps => &mut self.qps,
            Limit::Burst => &mut self.burst,
        }
    }
}

impl<'w, 'e, 'a> Scripts<'w, 'e, 'a> {
    fn new(
        words: &'w [(ArgField, Cow<'_, str>)],
        env: &'w Env<'e, 'a>,
        client_limit: impl Fn(&str) -> Option<Limit>,
    ) -> Self {
        let mut scripts = Self {
            env,
            assigned: BTreeMap::new(),
            client_env: Vec::new(),
        };
        for (field, word) in words {
            let word: &'w str = word;
            let trimmed = word.trim_end_matches(';');
            let assignment = match Reference::parse(trimmed) {
                Some(r) if r.op.is_some_and(|(op, _)| op == '=') => Some((r.name, trimmed)),
                _ => word.split_once('='),
            };
            let named = |name: &str| {
                is_variable_name(name)
                    || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
            };
            let Some((name, value)) = assignment.filter(|(name, _)| named(name)) else {
                continue;
            };
            scripts.assigned.entry(name).or_default().insert(value);
            if let Some(limit) = client_limit(name) {
                scripts.client_env.push((*field, name, value, limit));
            }
        }
        scripts
    }

    /// The value of `name`: the worst of what the scripts assign it, else
    /// (or while it is being worked out) the env's.
    fn value_of(&self, memo: &mut Memo<'w>, name: &str, limit: Limit, depth: usize) -> Value<'w> {
        if let Some((&key, values)) = self.assigned.get_key_value(name) {
            if !memo.busy.contains(key) {
                if let Some(known) = memo.of(limit).get(key) {
                    return *known;
                }
                memo.busy.insert(key);
                let mut worst = None;
                let mut empty = false;
                for &value in values {
                    let resolved = self.resolve(memo, value, limit, depth + 1);
                    empty |= value.is_empty() || resolved == Some("");
                    worst = worse(worst, resolved, limit);
                }
                memo.busy.remove(key);
                let value = Value::Set { worst, empty };
                memo.of(limit).insert(key, value);
                return value;
            }
        }
        if self.env.defines(name) {
            match self.env.value(name) {
                Some(literal) => Value::Set {
                    worst: Some(literal),
                    empty: literal.is_empty(),
                },
                None => Value::Unknown,
            }
        } else if self.env.has_env_from() {
            // `envFrom` may set it.
            Value::Unknown
        } else {
            Value::Unset
        }
    }

    /// `text` with a whole-word reference resolved (a default applies when
    /// nothing sets the name and no `envFrom` may; an alternative unless
    /// the name is unset, or empty under `:`): the worst value it may
    /// have, `None` when it cannot be told.
    fn resolve<'v>(
        &self,
        memo: &mut Memo<'w>,
        text: &'v str,
        limit: Limit,
        depth: usize,
    ) -> Option<&'v str>
    where
        'w: 'v,
    {
        let Some(reference) = Reference::parse(text) else {
            return Some(text);
        };
        if depth >= MAX_DEPTH {
            return None;
        }
        let word = |memo: &mut Memo<'w>, word: Option<&'v str>| {
            word.and_then(|d| self.resolve(memo, d, limit, depth + 1))
        };
        let value = self.value_of(memo, reference.name, limit, depth);
        if let Some(alternative) = reference.alternative() {
            return match value {
                Value::Unset => Some(""),
                Value::Set {
                    worst: Some(""), ..
                } if reference.colon => Some(""),
                _ => word(memo, Some(alternative)),
            };
        }
        match value {
            Value::Set { worst, empty } if empty && reference.colon => {
                worse(worst, word(memo, reference.default()), limit)
            }
            Value::Set { worst, .. } => worst,
            Value::Unset => word(memo, reference.default()),
            Value::Unknown => None,
        }
    }

    /// The words an unquoted whole-word reference (`$EXTRA_ARGS`) may stand
    /// for, split at whitespace as the shell splits them, followed into the
    /// references they hold. Each name and text is split once per container.
    fn split(&self, word: &str, depth: usize, seen: &mut Seen, out: &mut Vec<String>) {
        let Some(reference) = Reference::parse(word) else {
            return;
        };
        if depth >= MAX_DEPTH {
            return;
        }
        // Whether the name may be unset (or empty, under `:`), and whether
        // it may be set (non-empty, under `:`).
        let assigned = self.assigned.get(reference.name);
        let (lacking, having) = if let Some(assigned) = assigned {
            let empty = assigned.contains("");
            (
                reference.colon && empty,
                !reference.colon || !empty || assigned.len() > 1,
            )
        } else if self.env.defines(reference.name) {
            let empty = self.env.value(reference.name) == Some("");
            (reference.colon && empty, !(reference.colon && empty))
        } else {
            let env_from = self.env.has_env_from();
            (!env_from, env_from)
        };
        let mut texts = Vec::new();
        if let Some(alternative) = reference.alternative() {
            if having {
                texts.push(alternative);
            }
        } else {
            // A name's values are read at its first reference only.
            if !seen.names.contains(reference.name) {
                seen.names.insert(reference.name.to_string());
                match assigned {
                    Some(assigned) => texts.extend(assigned.iter().copied()),
                    None => texts.extend(self.env.value(reference.name)),
                }
            }
            if lacking {
                texts.extend(reference.default());
            }
        }
        for text in texts {
            if text.is_empty() || seen.texts.contains(text) {
                continue;
            }
            seen.texts.insert(text.to_string());
            for part in text.split_whitespace() {
                out.push(part.to_string());
                self.split(part, depth + 1, seen, out);
            }
        }
    }
}

/// Names and texts [`Scripts::split`] has split.
#[derive(Default)]
struct Seen {
    names: BTreeSet<String>,
    texts: BTreeSet<String>,
}

/// Splits `text` into words when it is a script (has whitespace, as passed
/// to `sh -c`), and the scripts quoted in it and here-documents too. A
/// quoted assignment (`ARGS="--qps=1 --burst=2"`) is kept whole too, for
/// what `$ARGS` holds.
fn push_words<'s>(
    field: ArgField,
    text: Cow<'s, str>,
    depth: usize,
    words: &mut Vec<(ArgField, Cow<'s, str>)>,
) {
    if depth >= MAX_NESTING || !text.contains(char::is_whitespace) {
        words.push((field, text));
        return;
    }
    for token in tokenize(&text) {
        let word = match token.word() {
            Some(word) => Some(unquote_braces(word)),
            None => token.here_doc().map(String::from),
        };
        if let Some(word) = word {
            push_words(field, Cow::Owned(word), depth + 1, words);
        }
    }
    if depth > 0 && is_assignment(&text) {
        words.push((field, text));
    }
}

/// `word` without the quotes inside its `${..}`, which the tokenizer keeps
/// and the shell removes (`${QPS:-"3000"}` is `${QPS:-3000}`).
fn unquote_braces(word: &str) -> String {
    if !word.contains("${") || !word.contains(['"', '\'']) {
        return word.to_string();
    }
    let mut unquoted = String::with_capacity(word.len());
    let mut depth = 0usize;
    for c in word.chars() {
        match c {
            '{' if depth > 0 || unquoted.ends_with('$') => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '"' | '\'' if depth > 0 => continue,
            _ => {}
        }
        unquoted.push(c);
    }
    unquoted
}

/// Whether `arg` is a shell's `-c` (alone or with other options: `-ec`).
fn is_command_option(arg: &str) -> bool {
    arg.strip_prefix('-')
        .is_some_and(|o| o.contains('c') && o.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// Words of command and args after the kubelet's `$(VAR)` expansion; the
/// arguments after `-c SCRIPT NAME` are `$1`, `$2`, .. as assignments.
fn words<'s>(at: &'s ContainerAt, env: &'s Env) -> Vec<(ArgField, Cow<'s, str>)> {
    let mut words = Vec::new();
    let mut after_command = None;
    for (field, arg) in at.container.argv() {
        let arg = env.expand(arg);
        if let Some(n) = after_command {
            if n > 1 {
                words.push((field, Cow::Owned(format!("{}={arg}", n - 1))));
            }
            after_command = Some(n + 1);
        } else if is_command_option(&arg) {
            after_command = Some(0usize);
        }
        push_words(field, arg, 0, &mut words);
    }
    words
}

/// Every client rate limit a container sets, each (name, value) once: flags
/// in its words and in what whole-word references there split into, env
/// entries, and its scripts' assignments to `qpsEnvVars` / `burstEnvVars`.
fn container_settings(
    settings: &Settings,
    at: &ContainerAt,
    env: &Env,
    sink: &mut dyn FnMut(Setting),
) {
    let flag_limit = |name: &str| {
        if settings
            .qps_flags
            .iter()
            .any(|f| same_flag(bare_flag(f), name))
        {
            Some(Limit::Qps)
        } else if settings
            .burst_flags
            .iter()
            .any(|f| same_flag(bare_flag(f), name))
        {
            Some(Limit::Burst)
        } else {
            None
        }
    };
    let env_limit = |name: &str| {
        if settings.qps_env_vars.iter().any(|n| n == name) {
            Some(Limit::Qps)
        } else if settings.burst_env_vars.iter().any(|n| n == name) {
            Some(Limit::Burst)
        } else {
            None
        }
    };
    let words = words(at, env);
    let scripts = Scripts::new(&words, env, env_limit);
    let mut memo = Memo::default();
    let mut seen = Seen::default();
    let mut split = Vec::new();
    for (index, (_, word)) in words.iter().enumerate() {
        if word.starts_with('$') {
            let mut parts = Vec::new();
            scripts.split(word, 0, &mut seen, &mut parts);
            split.extend(parts.into_iter().map(|part| (index, part)));
        }
    }
    // What a reference splits into follows it.
    let mut stream: Vec<(ArgField, &str, Option<&str>)> =
        Vec::with_capacity(words.len().saturating_add(split.len()));
    let mut parts = split.iter().peekable();
    for (index, (field, word)) in words.iter().enumerate() {
        stream.push((*field, word, None));
        while let Some((_, part)) = parts.next_if(|(at, _)| *at == index) {
            stream.push((*field, part, Some(word)));
        }
    }
    let mut judged = BTreeSet::new();
    for (index, &(field, word, origin)) in stream.iter().enumerate() {
        if !word.starts_with('-') {
            continue;
        }
        let (name, inline) = match bare_flag(word).split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (bare_flag(word), None),
        };
        let Some(limit) = flag_limit(name) else {
            continue;
        };
        let (value, next) = match inline {
            Some(value) => (value, None),
            None => match stream.get(index.saturating_add(1)) {
                Some(&(_, next, _)) => (next, Some(next)),
                None => continue,
            },
        };
        let Some(value) = scripts.resolve(&mut memo, value, limit, 0) else {
            continue;
        };
        if !judged.insert((name, value)) {
            continue;
        }
        sink(Setting {
            place: Place::Flag {
                field,
                word,
                next,
                origin,
            },
            limit,
            value,
        });
    }
    for (index, entry) in at.container.env.iter().enumerate() {
        let Some(limit) = env_limit(&entry.name) else {
            continue;
        };
        // A later entry of the same name wins; values from ConfigMaps or
        // Secrets (valueFrom) cannot be judged here.
        if !env.is_effective(index) {
            continue;
        }
        let Some(value) = env.value(&entry.name) else {
            continue;
        };
        if !judged.insert((&entry.name, value)) {
            continue;
        }
        sink(Setting {
            place: Place::Env {
                index,
                name: &entry.name,
                value,
            },
            limit,
            value,
        });
    }
    for &(field, name, value, limit) in &scripts.client_env {
        let Some(resolved) = scripts.resolve(&mut memo, value, limit, 0) else {
            continue;
        };
        if !judged.insert((name, resolved)) {
            continue;
        }
        sink(Setting {
            place: Place::Script { field, name, value },
            limit,
            value: resolved,
        });
    }
}

/// A container's farthest QPS or burst: how far the listed violations go,
/// and the farthest setting past [`MAX_LISTED`] when it goes farther.
#[derive(Default)]
struct Farthest {
    listed: Option<u64>,
    unlisted: Option<(Violation, u64)>,
}

fn judge_workload(settings: &Settings, workload: &Workload) -> Verdict {
    let mut verdict = Verdict::accept();
    let expansions = Expansions::default();
    for at in workload.containers() {
        let env = Env::new(at.container, &expansions);
        // Past MAX_LISTED violations (the rest go unlisted) only what an
        // UPDATE compares is worked out: each limit's farthest.
        let (mut qps, mut burst) = (Farthest::default(), Farthest::default());
        container_settings(settings, &at, &env, &mut |setting| {
            let Some(excess) = excess(settings, &setting) else {
                return;
            };
            let farthest = match setting.limit {
                Limit::Qps => &mut qps,
                Limit::Burst => &mut burst,
            };
            if verdict.violations.len() < MAX_LISTED {
                farthest.listed = farthest.listed.max(Some(excess.extent));
                verdict.violation(setting_violation(settings, &at, &setting, &excess));
            } else if Some(excess.extent) > farthest.listed
                && farthest
                    .unlisted
                    .as_ref()
                    .is_none_or(|(_, kept)| excess.extent > *kept)
            {
                let violation = setting_violation(settings, &at, &setting, &excess);
                farthest.unlisted = Some((violation, excess.extent));
            }
        });
        for (violation, _) in [qps, burst].into_iter().filter_map(|f| f.unlisted) {
            verdict.violation(violation);
        }
        if env.cut_short() {
            verdict.violation(expansion_violation(
                &at,
                "it sets a client QPS or burst above the limits",
            ));
        }
    }
    verdict
}

/// A value as Go's flag packages read it: `strconv.ParseFloat` for QPS
/// (float flags), `strconv.ParseInt(s, 0, 64)` for burst (int flags). So
/// `0x1770`, `6_000`, hexadecimal floats and, for burst, octal `0144` too.
fn go_number(text: &str, limit: Limit) -> Option<f64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = if unsigned
        .bytes()
        .any(|b| b == b'_' || b.is_ascii_uppercase())
    {
        Cow::Owned(unsigned.replace('_', "").to_ascii_lowercase())
    } else {
        Cow::Borrowed(unsigned)
    };
    let octal_int = limit == Limit::Burst
        && digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        hex_float(hex)?
    } else if let Some(octal) = digits.strip_prefix("0o") {
        integer(octal, 8)?
    } else if let Some(binary) = digits.strip_prefix("0b") {
        integer(binary, 2)?
    } else if octal_int {
        integer(&digits, 8)?
    } else {
        digits.parse::<f64>().ok()?
    };
    Some(if negative { -value } else { value })
}

fn integer(digits: &str, radix: u32) -> Option<f64> {
    if digits.is_empty() {
        return None;
    }
    digits.chars().try_fold(0f64, |value, c| {
        Some(value * f64::from(radix) + f64::from(c.to_digit(radix)?))
    })
}

/// `1770`, `bb8p0`, `1.8p3`: hexadecimal digits, an optional fraction and
/// a binary exponent.
fn hex_float(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.split_once('p') {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let value = integer(&[whole, fraction].concat(), 16)?;
    let shift = i32::try_from(fraction.len())
        .ok()?
        .checked_mul(4)
        .and_then(|bits| exponent.checked_sub(bits))?;
    Some(value * 2f64.powi(shift))
}

/// A value above its maximum (or a negative QPS), and how far it goes.
struct Excess {
    value: f64,
    extent: u64,
}

fn excess(settings: &Settings, setting: &Setting) -> Option<Excess> {
    // Not a number (e.g. a reference this rule cannot resolve): the client
    // fails to start rather than flooding the API server.
    let value = go_number(setting.value.trim(), setting.limit)?;
    let maximum = match setting.limit {
        Limit::Qps => settings.max_qps,
        Limit::Burst => settings.max_burst,
    };
    let unlimited = setting.limit == Limit::Qps && value < 0.0;
    if value.is_finite() && value <= maximum && !unlimited {
        return None;
    }
    Some(Excess {
        value,
        extent: extent(value, setting.limit),
    })
}

fn setting_violation(
    settings: &Settings,
    at: &ContainerAt,
    setting: &Setting,
    excess: &Excess,
) -> Violation {
    let value = excess.value;
    let (what, maximum, setting_name, default, kind) = match setting.limit {
        Limit::Qps => (
            "QPS (queries per second)",
            settings.max_qps,
            "maxQps",
            "client-go's default is 5, kube-controller-manager's 20",
            "qps",
        ),
        Limit::Burst => (
            "burst",
            settings.max_burst,
            "maxBurst",
            "client-go's default is 10, kube-controller-manager's 30",
            "burst",
        ),
    };
    // Built with `concat`, not `format!`: this is most of a refusal's cost.
    let (value, maximum) = (value.to_string(), maximum.to_string());
    let found = if setting.limit == Limit::Qps && excess.value < 0.0 {
        [
            "a negative QPS (",
            &value,
            "), which switches client-go's rate limiter off entirely",
        ]
        .concat()
    } else {
        [
            &value,
            ", above the maximum of ",
            &maximum,
            " (",
            default,
            ")",
        ]
        .concat()
    };
    Violation::new(
        setting.place.field(at),
        setting.place.shown(),
        [
            &at.describe(),
            " sets its Kubernetes client ",
            what,
            " to ",
            &found,
            ". One client this fast floods the API server: it answers 429 Too Many Requests to everyone, \
             and kube-controller-manager, kube-scheduler and the kubelets stop working.",
        ]
        .concat(),
        [
            "set it to at most ",
            &maximum,
            "; watch with informers instead of polling, and let API Priority and Fairness queue bursts. \
             If this client really needs more, raise `",
            setting_name,
            "` in the policy settings or exempt it.",
        ]
        .concat(),
    )
    .about(vec![container_finding(at, kind, excess.extent)])
}

// ---- FlowSchemas ----

#[derive(Debug, Default, Deserialize)]
struct FlowSchema<'a> {
    #[serde(default, borrow)]
    spec: FlowSchemaSpec<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowSchemaSpec<'a> {
    #[serde(default, borrow)]
    priority_level_configuration: Named<'a>,
    #[serde(default)]
    matching_precedence: Option<i64>,
    #[serde(default, borrow)]
    rules: Vec<PolicyRule<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Named<'a> {
    #[serde(default, borrow)]
    name: Cow<'a, str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyRule<'a> {
    #[serde(default, borrow)]
    subjects: Vec<Subject<'a>>,
    #[serde(default, borrow)]
    resource_rules: Option<&'a serde_json::value::RawValue>,
    #[serde(default, borrow)]
    non_resource_rules: Option<&'a serde_json::value::RawValue>,
}

impl PolicyRule<'_> {
    /// A digest (FNV-1a) of the requests the rule matches, so that an
    /// UPDATE that widens them for a subject is new.
    fn digest(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        for rules in [self.resource_rules, self.non_resource_rules] {
            let text = rules.map_or("", |r| r.get());
            // 0xff never occurs in UTF-8: it separates the texts.
            for byte in text.bytes().chain([0xff]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subject<'a> {
    #[serde(default, borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    user: Option<Named<'a>>,
    #[serde(default, borrow)]
    group: Option<Named<'a>>,
    #[serde(default, borrow)]
    service_account: Option<ServiceAccountSubject<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct ServiceAccountSubject<'a> {
    #[serde(default, borrow)]
    namespace: Cow<'a, str>,
    #[serde(default, borrow)]
    name: Cow<'a, str>,
}

#[derive(Debug, Default, Deserialize)]
struct PriorityLevel {
    #[serde(default)]
    spec: PriorityLevelSpec,
}

#[derive(Debug, Default, Deserialize)]
struct PriorityLevelSpec {
    #[serde(default, rename = "type")]
    level_type: String,
}

impl FlowSchemaSettings {
    /// `None` for a system subject, otherwise how to name it.
    fn other_subject(&self, subject: &Subject) -> Option<String> {
        let name_of =
            |n: &Option<Named>| n.as_ref().map(|n| n.name.to_string()).unwrap_or_default();
        match subject.kind.as_ref() {
            "User" => {
                let name = name_of(&subject.user);
                (!self.system_users.contains(&name)).then(|| format!("User {name}"))
            }
            "Group" => {
                let name = name_of(&subject.group);
                (!self.system_groups.contains(&name)).then(|| format!("Group {name}"))
            }
            "ServiceAccount" => {
                let (ns, name) = subject
                    .service_account
                    .as_ref()
                    .map(|s| (s.namespace.as_ref(), s.name.as_ref()))
                    .unwrap_or_default();
                let system = self.system_service_accounts.iter().any(|entry| {
                    entry.split_once('/').is_some_and(|(e_ns, e_name)| {
                        e_ns == ns && (e_name == "*" || e_name == name)
                    })
                });
                (!system).then(|| format!("ServiceAccount {ns}/{name}"))
            }
            other => Some(format!("{other} subject")),
        }
    }
}

/// Non-system subjects, with their field paths and their rule's digest.
fn other_subjects(
    settings: &FlowSchemaSettings,
    schema: &FlowSchema,
) -> Vec<(String, String, u64)> {
    let mut found = Vec::new();
    for (r, rule) in schema.spec.rules.iter().enumerate() {
        let mut digest = None;
        for (s, subject) in rule.subjects.iter().enumerate() {
            if let Some(named) = settings.other_subject(subject) {
                let digest = *digest.get_or_insert_with(|| rule.digest());
                found.push((format!("spec.rules[{r}].subjects[{s}]"), named, digest));
            }
        }
    }
    found
}

/// One finding per subject and rule: an UPDATE is refused for a subject
/// it adds, or whose rule it changes, or (`extent`) that it moves earlier.
fn subject_findings(others: &[(String, String, u64)], what: &str, extent: u64) -> Vec<Finding> {
    others
        .iter()
        .map(|(_, named, digest)| Finding {
            key: format!("{what}/{named}/{digest}"),
            extent,
        })
        .collect()
}

/// Whether priority level `name` is of type Exempt; `None` when unknown.
fn is_exempt_level(
    request: &Request,
    settings: &Settings,
    host: &dyn Host,
    name: &str,
    verdict: &mut Verdict,
) -> Option<bool> {
    if name == EXEMPT_LEVEL {
        return Some(true);
    }
    let version = match request.kind.version.as_ref() {
        v @ ("v1" | "v1beta3") => v,
        _ => "v1",
    };
    let api_version = format!("{FLOWCONTROL_GROUP}/{version}");
    let lookup = GetResource {
        api_version: &api_version,
        kind: "PriorityLevelConfiguration",
        name,
        namespace: None,
        disable_cache: false,
        field_masks: Some(vec!["spec.type"]),
    };
    let what = format!("PriorityLevelConfiguration {name}");
    let unchecked = "whether it is of type Exempt";
    let answer = lookup.call(host).and_then(|body| {
        crate::request::from_slice::<PriorityLevel>(&body, "the lookup answer")
            .map(|level| level.spec.level_type == "Exempt")
            .map_err(|e| e.to_string())
    });
    match answer {
        Ok(exempt) => Some(exempt),
        Err(error) => {
            settings.on_lookup_failure.record(
                verdict,
                ApiRateLimit::NAME,
                &what,
                unchecked,
                &error,
            );
            None
        }
    }
}

fn judge_flow_schema(
    request: &Request,
    settings: &Settings,
    host: &dyn Host,
    schema: &FlowSchema,
) -> Verdict {
    let mut verdict = Verdict::accept();
    let others = other_subjects(&settings.flow_schemas, schema);
    if others.is_empty() {
        return verdict;
    }
    let listed = others
        .iter()
        .map(|(field, named, _)| format!("{named} ({field})"))
        .collect::<Vec<_>>()
        .join(", ");
    let level = schema.spec.priority_level_configuration.name.as_ref();
    if is_exempt_level(request, settings, host, level, &mut verdict) == Some(true) {
        let kind = if level == EXEMPT_LEVEL {
            "the built-in exempt priority level".to_string()
        } else {
            format!("priority level {level}, which is of type Exempt")
        };
        verdict.violation(Violation::new(
            "spec.priorityLevelConfiguration.name",
            level,
            format!(
                "it routes {listed} to {kind}. Exempt requests bypass the API server's protection entirely (--max-requests-inflight, \
                 --max-mutating-requests-inflight and API Priority and Fairness), so one fast client can overload the API server until it answers 429 to everyone, \
                 and kube-controller-manager, kube-scheduler and the kubelets stop working."
            ),
            "route these subjects to a limited priority level such as workload-low or a PriorityLevelConfiguration of type Limited; \
             leave exempt to the system subjects (`flowSchemas.systemUsers`, `systemGroups`, `systemServiceAccounts` in the policy settings).",
        )
        .about(subject_findings(&others, "exempt", 0)));
    }
    let precedence = schema
        .spec
        .matching_precedence
        .unwrap_or(DEFAULT_PRECEDENCE);
    let minimum = settings.flow_schemas.min_precedence;
    if precedence < minimum {
        let (ahead, fix) = if precedence < SYSTEM_PRECEDENCE {
            let behind = SYSTEM_FLOW_SCHEMAS
                .iter()
                .filter(|(_, p)| *p > precedence)
                .map(|(name, p)| format!("{name} {p}"))
                .collect::<Vec<_>>()
                .join(", ");
            (
                format!("ahead of the built-in FlowSchemas of the system components ({behind})"),
                "only the system subjects of `flowSchemas.systemUsers`, `systemGroups` and `systemServiceAccounts` in the policy settings may match ahead of them.",
            )
        } else {
            (
                "within the precedences the policy settings keep for the system components' FlowSchemas".to_string(),
                "or lower `flowSchemas.minPrecedence` in the policy settings.",
            )
        };
        verdict.violation(Violation::new(
            "spec.matchingPrecedence",
            precedence.to_string(),
            format!(
                "it matches {listed} {ahead}, below the minimum of {minimum} (`flowSchemas.minPrecedence`). \
                 It can capture their requests and take their share of the API server's capacity (--max-requests-inflight, API Priority and Fairness), \
                 so leader election, scheduling and node heartbeats fail."
            ),
            format!("set matchingPrecedence to {minimum} or more (lower numbers match first); {fix}"),
        )
        .about(subject_findings(
            &others,
            "precedence",
            minimum.saturating_sub(precedence).unsigned_abs(),
        )));
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::NoHost;
    use rstest::rstest;
    use std::cell::RefCell;

    fn deployment(container: &str) -> String {
        format!(
            r#"{{"uid":"u","operation":"CREATE","kind":{{"group":"apps","version":"v1","kind":"Deployment"}},"namespace":"apps","name":"ctrl","object":{{"spec":{{"template":{{"spec":{{"containers":[{container}]}}}}}}}}}}"#
        )
    }

    fn judge_json(json: &str, settings: &Settings, host: &dyn Host) -> Verdict {
        crate::policy::evaluate::<ApiRateLimit>(json, settings, host).expect("decodes")
    }

    fn shown(verdict: &Verdict) -> Vec<String> {
        verdict
            .violations
            .iter()
            .map(|v| format!("{} = {}", v.field, v.value))
            .collect()
    }

    #[rstest]
    #[case::talk_qps_3000(r#"{"name":"c","args":["--kube-api-qps=3000","--kube-api-burst=6000"]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-qps=3000", "spec.template.spec.containers[0].args[1] = --kube-api-burst=6000"])]
    #[case::separate_value(r#"{"name":"c","command":["/manager","--qps","200.5"]}"#, &["spec.template.spec.containers[0].command[1] = --qps 200.5"])]
    #[case::single_dash(r#"{"name":"c","args":["-burst=500"]}"#, &["spec.template.spec.containers[0].args[0] = -burst=500"])]
    #[case::within_limits(r#"{"name":"c","args":["--kube-api-qps=50","--kube-api-burst","100","--qps=20.5"]}"#, &[])]
    #[case::negative_qps_unlimited(r#"{"name":"c","args":["--kube-api-qps","-1"]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-qps -1"])]
    #[case::infinite(r#"{"name":"c","args":["--qps=+Inf"]}"#, &["spec.template.spec.containers[0].args[0] = --qps=+Inf"])]
    #[case::env_vars(r#"{"name":"c","env":[{"name":"OTHER","value":"9999"},{"name":"KUBE_API_QPS","value":"3000"},{"name":"KUBE_API_BURST","valueFrom":{"configMapKeyRef":{"name":"x","key":"y"}}}]}"#, &["spec.template.spec.containers[0].env[1] = KUBE_API_QPS=3000"])]
    #[case::kubernetes_expansion(r#"{"name":"c","args":["--kube-api-qps=$(QPS)"],"env":[{"name":"QPS","value":"3000"}]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-qps=3000"])]
    #[case::shell_script(r#"{"name":"c","command":["sh","-c","exec /manager --leader-elect --kube-api-qps=3000 --kube-api-burst $BURST"],"env":[{"name":"BURST","value":"5000"}]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=3000", "spec.template.spec.containers[0].command[2] = --kube-api-burst $BURST"])]
    #[case::escaped_reference(
        r#"{"name":"c","args":["--qps=$$(QPS)","--burst=$(UNSET)"],"env":[{"name":"QPS","value":"3000"}]}"#,
        &[]
    )]
    #[case::not_a_number(r#"{"name":"c","args":["--qps=fast","--burst"]}"#, &[])]
    #[case::other_flags(r#"{"name":"c","args":["--qps-limit=9000","--max-qps=9000","qps=9000"]}"#, &[])]
    #[case::env_referencing_env(r#"{"name":"c","args":["--kube-api-qps=$(QPS)"],"env":[{"name":"A","value":"3000"},{"name":"QPS","value":"$(A)"}]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-qps=3000"])]
    #[case::env_var_from_earlier_env(r#"{"name":"c","env":[{"name":"A","value":"3000"},{"name":"KUBE_API_QPS","value":"$(A)"}]}"#, &["spec.template.spec.containers[0].env[1] = KUBE_API_QPS=3000"])]
    #[case::later_env_entry_wins(r#"{"name":"c","env":[{"name":"KUBE_API_QPS","value":"3000"},{"name":"KUBE_API_QPS","value":"10"}]}"#, &[])]
    #[case::later_env_entry_too_high(r#"{"name":"c","env":[{"name":"KUBE_API_QPS","value":"10"},{"name":"KUBE_API_QPS","value":"3000"}]}"#, &["spec.template.spec.containers[0].env[1] = KUBE_API_QPS=3000"])]
    #[case::go_hex_int(r#"{"name":"c","args":["--kube-api-burst=0x1770"]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-burst=0x1770"])]
    #[case::go_underscores(r#"{"name":"c","args":["--kube-api-burst=6_000"]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-burst=6_000"])]
    #[case::go_hex_float(r#"{"name":"c","args":["--kube-api-qps=0xbb8p0"]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-qps=0xbb8p0"])]
    #[case::go_octal_burst_over(r#"{"name":"c","args":["--kube-api-burst=0200"]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-burst=0200"])]
    #[case::go_octal_burst_within(r#"{"name":"c","args":["--kube-api-burst=0144","--kube-api-qps=050"]}"#, &[])]
    #[case::go_binary(r#"{"name":"c","args":["--kube-api-burst=0b11111111111"]}"#, &["spec.template.spec.containers[0].args[0] = --kube-api-burst=0b11111111111"])]
    #[case::shell_default(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS:-3000}"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=${QPS:-3000}"])]
    #[case::shell_assign_default(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS:=3000}"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=${QPS:=3000}"])]
    #[case::shell_assign_default_unset_only(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS=3000}"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=${QPS=3000}"])]
    #[case::shell_assign_default_then_used(r#"{"name":"c","command":["sh","-c",": ${QPS:=3000}; exec /manager --kube-api-qps=$QPS"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=$QPS"])]
    #[case::shell_assign_default_then_used_env_set(r#"{"name":"c","command":["sh","-c",": ${QPS:=3000}; exec /manager --kube-api-qps=$QPS"],"env":[{"name":"QPS","value":"20"}]}"#, &[])]
    #[case::shell_assign_default_overridden(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS:=3000}"],"env":[{"name":"QPS","value":"20"}]}"#, &[])]
    #[case::relaxed_env_name(r#"{"name":"c","command":["/manager","--kube-api-qps=$(API QPS)"],"env":[{"name":"API QPS","value":"3000"}]}"#, &["spec.template.spec.containers[0].command[1] = --kube-api-qps=3000"])]
    #[case::shell_default_overridden(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS:-3000}"],"env":[{"name":"QPS","value":"20"}]}"#, &[])]
    #[case::shell_default_env_from(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS:-3000}"],"envFrom":[{"configMapRef":{"name":"manager"}}]}"#, &[])]
    #[case::shell_default_value_from(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS:-3000}"],"env":[{"name":"QPS","valueFrom":{"configMapKeyRef":{"name":"x","key":"y"}}}]}"#, &[])]
    #[case::shell_assignment(r#"{"name":"c","command":["sh","-c","QPS=3000; exec /manager --kube-api-qps=$QPS"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=$QPS"])]
    #[case::nested_script(r#"{"name":"c","command":["sh","-c","su app -s /bin/sh -c '/manager --kube-api-qps=3000'"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=3000"])]
    #[case::default_assignment(r#"{"name":"c","command":["sh","-c","QPS=${QPS:-3000}; exec /manager --kube-api-qps=$QPS"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=$QPS"])]
    #[case::default_assignment_env_set(r#"{"name":"c","command":["sh","-c","QPS=${QPS:-3000}; exec /manager --kube-api-qps=$QPS"],"env":[{"name":"QPS","value":"20"}]}"#, &[])]
    #[case::largest_branch(r#"{"name":"c","command":["sh","-c","if [ -n \"$BIG\" ]; then QPS=3000; else QPS=20; fi; exec /manager --kube-api-qps=$QPS"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=$QPS"])]
    #[case::chain(r#"{"name":"c","command":["sh","-c","DEFAULT_QPS=3000; QPS=$DEFAULT_QPS; exec /manager --kube-api-qps=$QPS"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=$QPS"])]
    #[case::nested_default(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${KUBE_API_QPS:-${QPS:-3000}}"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=${KUBE_API_QPS:-${QPS:-3000}}"])]
    #[case::unset_default_without_colon(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS-${B:-3000}}"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=${QPS-${B:-3000}}"])]
    #[case::cycle(r#"{"name":"c","command":["sh","-c","A=$B; B=$A; exec /manager --kube-api-qps=$A"]}"#, &[])]
    #[case::env_args_split(r#"{"name":"c","command":["sh","-c","exec /manager --leader-elect $EXTRA_ARGS"],"env":[{"name":"EXTRA_ARGS","value":"--kube-api-qps=3000 --kube-api-burst 6000"}]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=3000 (from $EXTRA_ARGS)", "spec.template.spec.containers[0].command[2] = --kube-api-burst 6000 (from $EXTRA_ARGS)"])]
    #[case::script_args_split(r#"{"name":"c","command":["sh","-c","ARGS=\"--kube-api-qps=3000 --kube-api-burst=6000\"; exec /manager $ARGS"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-burst=6000", "spec.template.spec.containers[0].command[2] = --kube-api-qps=3000 (from $ARGS)"])]
    #[case::env_split_once(r#"{"name":"c","command":["sh","-c","/m $A ${A:-1} ${A} $B"],"env":[{"name":"A","value":"--qps=-1 --burst=500"},{"name":"B","value":"--qps=-1"}]}"#, &["spec.template.spec.containers[0].command[2] = --qps=-1 (from $A)", "spec.template.spec.containers[0].command[2] = --burst=500 (from $A)"])]
    #[case::appended_args(r#"{"name":"c","command":["sh","-c","ARGS=\"$ARGS --kube-api-qps=3000\"; exec /manager ${ARGS}"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=3000"])]
    #[case::exported_env(r#"{"name":"c","command":["sh","-c","export KUBE_API_QPS=3000 KUBE_API_BURST=${KUBE_API_BURST:-6000}; exec /manager"]}"#, &["spec.template.spec.containers[0].command[2] = KUBE_API_QPS=3000", "spec.template.spec.containers[0].command[2] = KUBE_API_BURST=${KUBE_API_BURST:-6000}"])]
    #[case::env_command(r#"{"name":"c","command":["env","KUBE_API_QPS=3000","/manager"]}"#, &["spec.template.spec.containers[0].command[1] = KUBE_API_QPS=3000"])]
    #[case::exported_env_within(r#"{"name":"c","command":["sh","-c","export KUBE_API_QPS=20; exec /manager"]}"#, &[])]
    #[case::underscores(r#"{"name":"c","args":["--kube_api_qps=3000","-kube_api-burst","6000"]}"#, &["spec.template.spec.containers[0].args[0] = --kube_api_qps=3000", "spec.template.spec.containers[0].args[1] = -kube_api-burst 6000"])]
    #[case::repeated_once(r#"{"name":"c","args":["--qps=-1","--qps=-1","-qps=-1"],"command":["sh","-c","/m --qps=-1 --qps=-1"]}"#, &["spec.template.spec.containers[0].command[2] = --qps=-1"])]
    #[case::quoted_default(r#"{"name":"c","command":["sh","-c","exec /manager --kube-api-qps=${QPS:-\"3000\"} --kube-api-burst=${B:-'6000'}"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=${QPS:-3000}", "spec.template.spec.containers[0].command[2] = --kube-api-burst=${B:-6000}"])]
    #[case::quoted_default_assigned(r#"{"name":"c","command":["sh","-c","QPS=${QPS:-\"3000\"}; exec /manager --kube-api-qps=$QPS"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=$QPS"])]
    #[case::error_if_unset(r#"{"name":"c","command":["sh","-c","/m --kube-api-qps=${Q:?Q must be set} --kube-api-burst=${B?}"],"env":[{"name":"Q","value":"3000"},{"name":"B","value":"6000"}]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=${Q:?Q must be set}", "spec.template.spec.containers[0].command[2] = --kube-api-burst=${B?}"])]
    #[case::error_if_unset_unset(r#"{"name":"c","command":["sh","-c","/m --kube-api-qps=${Q:?3000}"]}"#, &[])]
    #[case::alternative_set(r#"{"name":"c","command":["sh","-c","/m ${Q:+--kube-api-qps=$Q} --kube-api-burst=${B:+6000}"],"env":[{"name":"Q","value":"3000"},{"name":"B","value":"1"}]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=$Q (from ${Q:+--kube-api-qps=$Q})", "spec.template.spec.containers[0].command[2] = --kube-api-burst=${B:+6000}"])]
    #[case::alternative_empty(r#"{"name":"c","command":["sh","-c","/m ${FAST:+--kube-api-qps=3000} --kube-api-burst=${B:+6000}"],"env":[{"name":"FAST","value":""},{"name":"B","value":""}]}"#, &[])]
    #[case::alternative_unset(r#"{"name":"c","command":["sh","-c","/m ${FAST+--kube-api-qps=3000}"]}"#, &[])]
    #[case::alternative_empty_without_colon(r#"{"name":"c","command":["sh","-c","/m ${FAST+--kube-api-qps=3000}"],"env":[{"name":"FAST","value":""}]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=3000 (from ${FAST+--kube-api-qps=3000})"])]
    #[case::alternative_quoted(r#"{"name":"c","command":["sh","-c","/m ${FAST:+\"--kube-api-qps=3000\"}"],"env":[{"name":"FAST","value":"1"}]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=3000 (from ${FAST:+--kube-api-qps=3000})"])]
    #[case::here_document(r#"{"name":"c","command":["sh","-c","sh <<EOF\nexec /manager --kube-api-qps=3000\nEOF"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=3000"])]
    #[case::positional(r#"{"name":"c","command":["sh","-ec","exec /manager --kube-api-qps=$1 $2","sh","3000"],"args":["--kube-api-burst=6000"]}"#, &["spec.template.spec.containers[0].command[2] = --kube-api-qps=$1", "spec.template.spec.containers[0].command[2] = --kube-api-burst=6000 (from $2)"])]
    #[case::other_spellings(r#"{"name":"c","args":["--kubernetes-client-qps=3000","-kubeClientQPS=3000","--kube-client-burst=6000","-kubeClientBurst","6000"],"env":[{"name":"KUBE_CLIENT_QPS","value":"3000"},{"name":"KUBE_CLIENT_BURST","value":"6000"}]}"#, &["spec.template.spec.containers[0].args[0] = --kubernetes-client-qps=3000", "spec.template.spec.containers[0].args[1] = -kubeClientQPS=3000", "spec.template.spec.containers[0].args[2] = --kube-client-burst=6000", "spec.template.spec.containers[0].args[3] = -kubeClientBurst 6000", "spec.template.spec.containers[0].env[0] = KUBE_CLIENT_QPS=3000", "spec.template.spec.containers[0].env[1] = KUBE_CLIENT_BURST=6000"])]
    fn judges_containers(#[case] container: &str, #[case] expected: &[&str]) {
        let verdict = judge_json(&deployment(container), &Settings::default(), &NoHost);
        assert_eq!(shown(&verdict), expected);
    }

    fn many(values: impl Iterator<Item = u32>) -> String {
        let args = values
            .map(|v| format!(r#""--qps={v}""#))
            .collect::<Vec<_>>()
            .join(",");
        format!(r#"{{"name":"c","args":[{args}]}}"#)
    }

    #[test]
    fn past_the_listed_maximum_only_the_farthest_is_kept() {
        let verdict = judge_json(
            &deployment(&many(1001..1300)),
            &Settings::default(),
            &NoHost,
        );
        let values = verdict
            .violations
            .iter()
            .map(|v| v.value.as_str())
            .collect::<Vec<_>>();
        assert_eq!(values.len(), MAX_LISTED + 1);
        assert_eq!(values.first(), Some(&"--qps=1001"));
        assert_eq!(values.last(), Some(&"--qps=1299"));
    }

    #[rstest]
    #[case::same(1001..1300, 0, 1)]
    #[case::lowered(1001..1200, 0, 1)]
    #[case::raised_past_the_listed(1001..1400, 1, 0)]
    fn updates_past_the_listed_maximum(
        #[case] new: std::ops::Range<u32>,
        #[case] violations: usize,
        #[case] unlisted_warnings: usize,
    ) {
        let verdict = judge_json(
            &update(&many(new), &many(1001..1300)),
            &Settings::default(),
            &NoHost,
        );
        assert_eq!(verdict.violations.len(), violations, "{verdict:?}");
        assert_eq!(
            verdict
                .warnings
                .iter()
                .filter(|w| w.contains("more violations"))
                .count(),
            unlisted_warnings
        );
    }

    #[rstest]
    #[case::ahead_of_one(850, "(kube-system-service-accounts 900)")]
    #[case::ahead_of_all(50, "(system-leader-election 100, endpoint-controller 150, workload-leader-election 200, system-node-high 400, system-nodes 500, kube-controller-manager 800, kube-scheduler 800, kube-system-service-accounts 900)")]
    fn precedence_names_the_built_ins_behind(#[case] precedence: i64, #[case] listed: &str) {
        let verdict = judge_json(
            &flow_schema("v1", "workload-low", Some(precedence), USER_SA),
            &Settings::default(),
            &host(Ok(r#"{"spec":{"type":"Limited"}}"#)),
        );
        let violation = verdict.violations.first().expect("refused");
        assert!(violation.problem.contains(listed), "{}", violation.problem);
    }

    #[test]
    fn custom_names_and_maxima() {
        let raw = serde_json::value::RawValue::from_string(
            r#"{"maxQps":10,"qpsFlags":["client-qps"],"qpsEnvVars":["MY_QPS"]}"#.to_string(),
        )
        .expect("json");
        let settings: Settings = crate::settings::parse(Some(&raw)).expect("valid");
        let verdict = judge_json(
            &deployment(
                r#"{"name":"c","args":["--client-qps=20","--kube-api-qps=3000"],"env":[{"name":"MY_QPS","value":"11"}]}"#,
            ),
            &settings,
            &NoHost,
        );
        assert_eq!(
            shown(&verdict),
            vec![
                "spec.template.spec.containers[0].args[0] = --client-qps=20",
                "spec.template.spec.containers[0].env[0] = MY_QPS=11"
            ]
        );
    }

    #[test]
    fn message_gives_value_maximum_and_fix() {
        let verdict = judge_json(
            &deployment(r#"{"name":"manager","args":["--kube-api-qps=3000"]}"#),
            &Settings::default(),
            &NoHost,
        );
        let message = verdict
            .into_response("api-rate-limit", "Deployment apps/ctrl")
            .message
            .unwrap_or_default();
        for needle in [
            "Deployment apps/ctrl",
            "container `manager` sets its Kubernetes client QPS (queries per second) to 3000, above the maximum of 50",
            "client-go's default is 5",
            "429",
            "at most 50",
            "maxQps",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }

    /// Serves one PriorityLevelConfiguration body, recording requests.
    struct FakeHost {
        answer: Result<String, String>,
        calls: RefCell<Vec<String>>,
    }

    impl Host for FakeHost {
        fn call(&self, _: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
            self.calls
                .borrow_mut()
                .push(format!("{operation} {}", String::from_utf8_lossy(payload)));
            self.answer.clone().map(String::into_bytes)
        }
    }

    fn host(answer: Result<&str, &str>) -> FakeHost {
        FakeHost {
            answer: answer.map(String::from).map_err(String::from),
            calls: RefCell::new(vec![]),
        }
    }

    fn flow_schema(version: &str, level: &str, precedence: Option<i64>, subjects: &str) -> String {
        let precedence = precedence
            .map(|p| format!(r#""matchingPrecedence":{p},"#))
            .unwrap_or_default();
        format!(
            r#"{{"uid":"u","operation":"CREATE","kind":{{"group":"flowcontrol.apiserver.k8s.io","version":"{version}","kind":"FlowSchema"}},"name":"fs","userInfo":{{"username":"alice"}},"object":{{"spec":{{"priorityLevelConfiguration":{{"name":"{level}"}},{precedence}"rules":[{{"subjects":{subjects},"resourceRules":[]}}]}}}}}}"#
        )
    }

    const USER_SA: &str = r#"[{"kind":"ServiceAccount","serviceAccount":{"namespace":"apps","name":"my-controller"}}]"#;
    const NODES: &str = r#"[{"kind":"Group","group":{"name":"system:nodes"}}]"#;
    const EVERYONE: &str = r#"[{"kind":"Group","group":{"name":"system:masters"}},{"kind":"Group","group":{"name":"system:authenticated"}}]"#;
    const KUBE_SYSTEM_SA: &str = r#"[{"kind":"ServiceAccount","serviceAccount":{"namespace":"kube-system","name":"*"}},{"kind":"User","user":{"name":"system:kube-scheduler"}}]"#;

    #[rstest]
    #[case::user_sa_to_exempt(flow_schema("v1", "exempt", Some(1000), USER_SA), &["spec.priorityLevelConfiguration.name = exempt"], 0)]
    #[case::user_sa_early(flow_schema("v1", "workload-high", Some(50), USER_SA), &["spec.matchingPrecedence = 50"], 1)]
    #[case::both(flow_schema("v1beta3", "exempt", Some(10), EVERYONE), &["spec.priorityLevelConfiguration.name = exempt", "spec.matchingPrecedence = 10"], 0)]
    #[case::system_nodes(flow_schema("v1", "system", Some(500), NODES), &[], 0)]
    #[case::system_to_exempt(flow_schema("v1", "exempt", Some(1), KUBE_SYSTEM_SA), &[], 0)]
    #[case::default_precedence(flow_schema("v1", "workload-low", None, USER_SA), &[], 1)]
    fn judges_flow_schemas(
        #[case] json: String,
        #[case] expected: &[&str],
        #[case] lookups: usize,
    ) {
        let fake = host(Ok(r#"{"spec":{"type":"Limited"}}"#));
        let verdict = judge_json(&json, &Settings::default(), &fake);
        assert_eq!(shown(&verdict), expected);
        assert_eq!(fake.calls.borrow().len(), lookups);
    }

    #[test]
    fn custom_exempt_level_is_looked_up() {
        let fake = host(Ok(r#"{"spec":{"type":"Exempt"}}"#));
        let verdict = judge_json(
            &flow_schema("v1beta3", "vip", Some(2000), USER_SA),
            &Settings::default(),
            &fake,
        );
        assert_eq!(
            shown(&verdict),
            vec!["spec.priorityLevelConfiguration.name = vip"]
        );
        let calls = fake.calls.borrow();
        assert_eq!(calls.len(), 1);
        assert!(calls[0].contains(r#""api_version":"flowcontrol.apiserver.k8s.io/v1beta3","kind":"PriorityLevelConfiguration","name":"vip""#), "{calls:?}");
        assert!(
            calls[0].contains(r#""field_masks":["spec.type"]"#),
            "{calls:?}"
        );
    }

    #[rstest]
    #[case::failure_allowed(Err("connection refused"), "allow", true, 1)]
    #[case::failure_denied(Err("connection refused"), "deny", false, 0)]
    #[case::malformed(Ok(r#"{"spec":{"type":7}}"#), "allow", true, 1)]
    fn lookup_failures(
        #[case] answer: Result<&str, &str>,
        #[case] mode: &str,
        #[case] accepted: bool,
        #[case] warnings: usize,
    ) {
        let raw =
            serde_json::value::RawValue::from_string(format!(r#"{{"onLookupFailure":"{mode}"}}"#))
                .expect("json");
        let settings: Settings = crate::settings::parse(Some(&raw)).expect("valid");
        let verdict = judge_json(
            &flow_schema("v1", "vip", Some(2000), USER_SA),
            &settings,
            &host(answer),
        );
        assert_eq!(verdict.is_accepted(), accepted);
        assert_eq!(verdict.warnings.len(), warnings);
    }

    #[test]
    fn flow_schema_message_explains_the_bypass() {
        let verdict = judge_json(
            &flow_schema("v1", "exempt", None, USER_SA),
            &Settings::default(),
            &NoHost,
        );
        let message = verdict
            .into_response("api-rate-limit", "FlowSchema fs")
            .message
            .unwrap_or_default();
        for needle in [
            "routes ServiceAccount apps/my-controller (spec.rules[0].subjects[0]) to the built-in exempt priority level",
            "--max-requests-inflight",
            "API Priority and Fairness",
            "workload-low",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }

    #[rstest]
    #[case::zero_qps(r#"{"maxQps":0}"#, "maxQps: must be a finite number of at least 1")]
    #[case::string_qps(r#"{"maxQps":"fast"}"#, "maxQps")]
    #[case::empty_flag(r#"{"qpsFlags":["--"]}"#, "qpsFlags[0]")]
    #[case::flag_with_value(r#"{"burstFlags":["--burst=5"]}"#, "burstFlags[0]")]
    #[case::env_with_space(r#"{"qpsEnvVars":["MY QPS"]}"#, "qpsEnvVars[0]")]
    #[case::precedence_range(
        r#"{"flowSchemas":{"minPrecedence":20000}}"#,
        "flowSchemas.minPrecedence"
    )]
    #[case::bad_service_account(
        r#"{"flowSchemas":{"systemServiceAccounts":["kube-system"]}}"#,
        "flowSchemas.systemServiceAccounts[0]"
    )]
    #[case::bad_lookup_mode(r#"{"onLookupFailure":"ignore"}"#, "unknown variant `ignore`")]
    #[case::unknown_key(r#"{"maxQPS":10}"#, "unknown field `maxQPS`")]
    #[case::no_qps_flags(
        r#"{"qpsFlags":[]}"#,
        "qpsFlags: is empty, which would switch this check off"
    )]
    #[case::no_burst_env_vars(r#"{"burstEnvVars":[]}"#, "burstEnvVars: is empty")]
    #[case::everyone_is_system(
        r#"{"flowSchemas":{"systemGroups":["system:masters","system:authenticated"]}}"#,
        "flowSchemas.systemGroups[1]: `system:authenticated` holds every client"
    )]
    #[case::every_user_is_system(
        r#"{"flowSchemas":{"systemUsers":["system:apiserver","*"]}}"#,
        "flowSchemas.systemUsers[1]: `*` matches every user"
    )]
    #[case::every_group_is_system(
        r#"{"flowSchemas":{"systemGroups":["*"]}}"#,
        "flowSchemas.systemGroups[0]"
    )]
    #[case::unknown_exemption_key(
        r#"{"exemptions":{"namespace":["x"]}}"#,
        "unknown field `namespace`"
    )]
    fn refuses_invalid_settings(#[case] json: &str, #[case] expected: &str) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }

    fn update(container: &str, old: &str) -> String {
        let object =
            |c: &str| format!(r#"{{"spec":{{"template":{{"spec":{{"containers":[{c}]}}}}}}}}"#);
        format!(
            r#"{{"uid":"u","operation":"UPDATE","kind":{{"group":"apps","version":"v1","kind":"Deployment"}},"namespace":"apps","name":"ctrl","object":{},"oldObject":{}}}"#,
            object(container),
            object(old)
        )
    }

    #[rstest]
    #[case::lowered(
        r#"{"name":"c","args":["--qps=500"]}"#,
        r#"{"name":"c","args":["--qps=3000"]}"#,
        0,
        1
    )]
    #[case::raised(
        r#"{"name":"c","args":["--qps=3000"]}"#,
        r#"{"name":"c","args":["--qps=500"]}"#,
        1,
        0
    )]
    #[case::moved_to_env(
        r#"{"name":"c","env":[{"name":"KUBE_API_QPS","value":"3000"}]}"#,
        r#"{"name":"c","args":["--kube-api-qps=3000"]}"#,
        0,
        1
    )]
    #[case::unlimited_lowered_to_a_number(
        r#"{"name":"c","args":["--qps=900"]}"#,
        r#"{"name":"c","args":["--qps=-1"]}"#,
        0,
        1
    )]
    #[case::burst_is_not_qps(
        r#"{"name":"c","args":["--burst=500"]}"#,
        r#"{"name":"c","args":["--qps=3000"]}"#,
        1,
        0
    )]
    #[case::other_container(
        r#"{"name":"d","args":["--qps=500"]}"#,
        r#"{"name":"c","args":["--qps=3000"]}"#,
        1,
        0
    )]
    fn updates_are_refused_only_for_what_they_make_worse(
        #[case] container: &str,
        #[case] old: &str,
        #[case] violations: usize,
        #[case] warnings: usize,
    ) {
        let verdict = judge_json(&update(container, old), &Settings::default(), &NoHost);
        assert_eq!(verdict.violations.len(), violations, "{verdict:?}");
        assert_eq!(verdict.warnings.len(), warnings, "{verdict:?}");
    }

    fn sa(name: &str) -> String {
        format!(
            r#"{{"kind":"ServiceAccount","serviceAccount":{{"namespace":"apps","name":"{name}"}}}}"#
        )
    }

    fn schema_spec(level: &str, precedence: i64, subjects: &[&str], rules: &str) -> String {
        let subjects = subjects.iter().map(|n| sa(n)).collect::<Vec<_>>().join(",");
        format!(
            r#"{{"spec":{{"priorityLevelConfiguration":{{"name":"{level}"}},"matchingPrecedence":{precedence},"rules":[{{"subjects":[{subjects}]{rules}}}]}}}}"#
        )
    }

    const METRICS: &str =
        r#","nonResourceRules":[{"verbs":["get"],"nonResourceURLs":["/metrics"]}]"#;
    const EVERYTHING: &str = r#","resourceRules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"],"clusterScope":true,"namespaces":["*"]}],"nonResourceRules":[{"verbs":["get"],"nonResourceURLs":["/metrics"]}]"#;

    #[rstest]
    #[case::subject_removed(schema_spec("exempt", 1000, &["a"], ""), schema_spec("exempt", 1000, &["b", "a"], ""), true)]
    #[case::subjects_reordered(schema_spec("exempt", 1000, &["a", "b"], ""), schema_spec("exempt", 1000, &["b", "a"], ""), true)]
    #[case::subject_added(schema_spec("exempt", 1000, &["a", "b"], ""), schema_spec("exempt", 1000, &["a"], ""), false)]
    #[case::rules_widened(schema_spec("exempt", 1000, &["a"], EVERYTHING), schema_spec("exempt", 1000, &["a"], METRICS), false)]
    #[case::precedence_raised(schema_spec("workload-low", 500, &["a"], ""), schema_spec("workload-low", 50, &["a"], ""), true)]
    #[case::precedence_lowered(schema_spec("workload-low", 50, &["a"], ""), schema_spec("workload-low", 500, &["a"], ""), false)]
    #[case::precedence_rules_widened(schema_spec("workload-low", 500, &["a"], EVERYTHING), schema_spec("workload-low", 500, &["a"], METRICS), false)]
    fn flow_schema_updates(#[case] new: String, #[case] old: String, #[case] accepted: bool) {
        let json = format!(
            r#"{{"uid":"u","operation":"UPDATE","kind":{{"group":"flowcontrol.apiserver.k8s.io","version":"v1","kind":"FlowSchema"}},"name":"fs","object":{new},"oldObject":{old}}}"#
        );
        let verdict = judge_json(
            &json,
            &Settings::default(),
            &host(Ok(r#"{"spec":{"type":"Limited"}}"#)),
        );
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
        assert_eq!(verdict.warnings.len(), usize::from(accepted), "{verdict:?}");
    }

    #[rstest]
    #[case::namespaces_only(r#"{"exemptions":{"namespaces":["monitoring"]}}"#, &["system:apiserver"])]
    #[case::users_given(r#"{"exemptions":{"users":["ops"]}}"#, &["ops", "system:apiserver"])]
    #[case::users_emptied(r#"{"exemptions":{"users":[]}}"#, &["system:apiserver"])]
    #[case::users_with_apiserver(r#"{"exemptions":{"users":["system:apiserver","ops"]}}"#, &["system:apiserver", "ops"])]
    fn exemption_lists_left_out_keep_their_defaults(#[case] json: &str, #[case] users: &[&str]) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let settings: Settings = crate::settings::parse(Some(&raw)).expect("valid");
        assert_eq!(settings.exemptions.users, users);
    }

    #[rstest]
    #[case::ahead_of_the_system(
        150,
        1000,
        "ahead of the built-in FlowSchemas",
        "may match ahead of them"
    )]
    #[case::behind_the_system(
        1500,
        2000,
        "within the precedences the policy settings keep",
        "or lower `flowSchemas.minPrecedence`"
    )]
    fn precedence_messages(
        #[case] precedence: i64,
        #[case] minimum: i64,
        #[case] problem: &str,
        #[case] fix: &str,
    ) {
        let settings = Settings {
            flow_schemas: FlowSchemaSettings {
                min_precedence: minimum,
                ..FlowSchemaSettings::default()
            },
            ..Settings::default()
        };
        let verdict = judge_json(
            &flow_schema("v1", "workload-low", Some(precedence), USER_SA),
            &settings,
            &host(Ok(r#"{"spec":{"type":"Limited"}}"#)),
        );
        let violation = verdict.violations.first().expect("refused");
        assert!(violation.problem.contains(problem), "{}", violation.problem);
        assert!(violation.fix.contains(fix), "{}", violation.fix);
    }

    #[rstest]
    #[case::delete(r#"{"uid":"u","operation":"DELETE","kind":{"group":"apps","version":"v1","kind":"Deployment"},"oldObject":{"spec":{"template":{"spec":{"containers":[{"name":"c","args":["--qps=9999"]}]}}}}}"#)]
    #[case::other_kind(r#"{"uid":"u","operation":"CREATE","kind":{"group":"","version":"v1","kind":"ConfigMap"},"object":{"data":{"args":"--qps=9999"}}}"#)]
    fn accepts_unhandled(#[case] json: &str) {
        assert!(judge_json(json, &Settings::default(), &NoHost).is_accepted());
    }
}
