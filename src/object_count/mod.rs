//! object-count (crash 1): objects that pile up in a namespace until etcd
//! crashes, above all Helm release storage (Tiller's ConfigMaps, one per
//! revision, written by a CI pipeline on every build).

mod settings;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

pub use settings::{
    HelmSettings, KindLimit, NamespaceOverride, Settings, DEFAULT_KIND_LIMIT,
    DEFAULT_MAX_STORED_REVISIONS,
};

use crate::exemptions::Exemptions;
use crate::host::{self, GetResource, Host, ListResources};
use crate::policy::Rule;
use crate::request::{
    BorrowedStr, DecodeError, GroupVersionKind, ObjectMeta, Objects, Operation, Prefetch, Request,
};
use crate::selector::LabelSelector;
use crate::text::Text;
use crate::violation::{Verdict, Violation};

/// Lookups fetch only names: the count is all the rule needs.
const NAME_ONLY: &[&str] = &["metadata.name"];
const HELM_RELEASE_TYPE: &str = "helm.sh/release.v1";

pub struct ObjectCount;

impl Rule for ObjectCount {
    const NAME: &'static str = "object-count";
    type Settings = Settings;
    type Object<'a> = StoredObject<'a>;

    fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
        if operation == Operation::Create && (kind.is("", "ConfigMap") || kind.is("", "Secret")) {
            Prefetch::OBJECT
        } else {
            Prefetch::NONE
        }
    }

    fn exemptions(settings: &Settings) -> &Exemptions {
        &settings.exemptions
    }

    fn evaluate<'a>(
        request: &Request<'a>,
        objects: Objects<'a, StoredObject<'a>>,
        settings: &Settings,
        host: &dyn Host,
    ) -> Result<Verdict, DecodeError> {
        // Only a CREATE adds an object; UPDATE and DELETE are never refused.
        if request.operation != Operation::Create || request.namespace.is_empty() {
            return Ok(Verdict::accept());
        }
        // Decoded before any lookup, so a malformed object costs none.
        let stored = if request.kind.is("", "ConfigMap") || request.kind.is("", "Secret") {
            objects.object.decode()?
        } else {
            None
        };
        let mut verdict = Verdict::accept();
        if let Some((index, limit)) = settings.limits.iter().enumerate().find(|(_, l)| {
            l.group() == request.kind.group.as_ref() && l.kind == request.kind.kind.as_ref()
        }) {
            check_count(request, settings, index, limit, host, &mut verdict);
        }
        if let Some(object) = &stored {
            check_helm_storage(request, settings, object, host, &mut verdict);
        }
        Ok(verdict)
    }
}

/// The fields of a ConfigMap or Secret that identify Helm release storage.
#[derive(Debug, Default, Deserialize)]
pub struct StoredObject<'a> {
    #[serde(default, borrow, rename = "type")]
    secret_type: Cow<'a, str>,
    #[serde(default, borrow)]
    metadata: ObjectMeta<'a>,
}

/// Whether a list answer (`{items: [{metadata: {name}}]}`) names `name`; read
/// only at the limit, keeping nothing.
fn lists_name(body: &[u8], name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    // Object names ([a-z0-9.-]) need no escaping in JSON: an answer that lists
    // one holds it quoted as it is, so one that does not is not read again.
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if plain {
        let quoted = ["\"", name, "\""].concat();
        if !crate::utf8::from_utf8(body).is_ok_and(|text| text.contains(&quoted)) {
            return false;
        }
    }
    crate::request::from_slice_seed(body, "the lookup answer", Names::List(name)).unwrap_or(false)
}

/// One level of a list answer, looking for an item named by the `&str`.
#[derive(Clone, Copy)]
enum Names<'n> {
    List(&'n str),
    Items(&'n str),
    Item(&'n str),
    Metadata(&'n str),
}

impl<'de> DeserializeSeed<'de> for Names<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        match self {
            Names::Items(_) => de.deserialize_seq(self),
            _ => de.deserialize_map(self),
        }
    }
}

impl<'de> Visitor<'de> for Names<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Names::Items(_) => "a list of objects",
            _ => "an object",
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(named) = items.next_element_seed(Names::Item(self.name()))? {
            found |= named;
        }
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let (key, inner) = match self {
            Names::List(name) => ("items", Some(Names::Items(name))),
            Names::Item(name) => ("metadata", Some(Names::Metadata(name))),
            Names::Metadata(_) | Names::Items(_) => ("name", None),
        };
        let mut found = false;
        while let Some(read) = map.next_key_seed(BorrowedStr)? {
            found = match inner {
                _ if read != key => map.next_value::<IgnoredAny>().map(|_| found)?,
                Some(inner) => map.next_value_seed(inner)?,
                None => map.next_value_seed(BorrowedStr)? == self.name(),
            };
        }
        Ok(found)
    }
}

impl<'n> Names<'n> {
    fn name(self) -> &'n str {
        match self {
            Names::List(name) | Names::Items(name) | Names::Item(name) | Names::Metadata(name) => {
                name
            }
        }
    }
}

/// The limit that applies in one namespace, and the setting that holds it.
#[derive(Clone, Copy)]
struct AppliedLimit {
    max: u32,
    setting: LimitSetting,
}

impl AppliedLimit {
    fn overridden(&self) -> bool {
        matches!(self.setting, LimitSetting::Override { .. })
    }
}

/// Where a limit is set; written out only in messages.
#[derive(Clone, Copy)]
enum LimitSetting {
    Default { index: usize },
    Override { entry: usize, limit: usize },
}

impl std::fmt::Display for LimitSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LimitSetting::Default { index } => write!(f, "limits[{index}].max"),
            LimitSetting::Override { entry, limit } => {
                write!(f, "namespaceOverrides[{entry}].limits[{limit}].max")
            }
        }
    }
}

fn check_count(
    request: &Request,
    settings: &Settings,
    index: usize,
    limit: &KindLimit,
    host: &dyn Host,
    verdict: &mut Verdict,
) {
    let namespace = request.namespace.as_ref();
    let list = ListResources {
        api_version: &limit.api_version,
        kind: &limit.kind,
        namespace: Some(namespace),
        label_selector: None,
        field_selector: None,
        field_masks: Some(NAME_ONLY.to_vec()),
    };
    let listed = list
        .call(host)
        .and_then(|body| host::list_items::<IgnoredAny>(&body).map(|items| (items.len(), body)));
    // Every limit that may apply here: which one does may take a Namespace
    // lookup, needed only when the count lies between them.
    let Candidates {
        lowest,
        highest,
        first_by_label,
        named,
    } = candidate_limits(settings, index, limit, namespace);
    let count = match listed {
        Ok((count, _)) if count < lowest.max as usize => return,
        // A CREATE of a name the namespace already holds adds nothing: the API
        // server answers AlreadyExists, on which create-then-update clients
        // (kubeadm) update instead. Refusing it would break them at the limit.
        Ok((_, body)) if lists_name(&body, &request.name) => return,
        Ok((count, _)) => count,
        Err(error) => {
            let plural = plural(&limit.kind);
            settings.on_lookup_failure.record(
                verdict,
                ObjectCount::NAME,
                &format!("the {plural} in namespace {namespace}"),
                &if lowest.max == highest.max {
                    format!("the limit of {} {plural} per namespace", lowest.max)
                } else {
                    format!(
                        "the limit on {plural} per namespace ({} to {})",
                        lowest.max, highest.max
                    )
                },
                &error,
            );
            return;
        }
    };
    let plural = plural(&limit.kind);
    let Some(first_by_label) = first_by_label else {
        if count >= highest.max as usize {
            verdict.violation(count_violation(namespace, limit, &plural, count, &highest));
        }
        return;
    };
    // Several limits may apply: the labels decide. Over every one of them the
    // object is refused anyway; they are read only to name the right limit.
    let applied = match applied_limit(settings, index, limit, namespace, host) {
        Ok(applied) if count < applied.max as usize => return,
        Ok(applied) => applied,
        Err(error) if count >= highest.max as usize => {
            let unread = Unread {
                highest: &highest,
                first_by_label,
                named,
                limit,
                error: &error,
            };
            return verdict.violation(unread_count_violation(namespace, &plural, count, &unread));
        }
        Err(error) => {
            settings.on_lookup_failure.record(
                verdict,
                ObjectCount::NAME,
                &format!("Namespace {namespace}"),
                &format!(
                    "the limit on {plural} in namespace {namespace} (its namespaceOverrides select namespaces by label; it holds {count}, between their limits {} and {})",
                    lowest.max, highest.max
                ),
                &error,
            );
            return;
        }
    };
    verdict.violation(count_violation(namespace, limit, &plural, count, &applied));
}

const COUNT_RISK: &str = "Every object is stored in etcd and cached by kube-apiserver; objects that pile up without cleanup \
     (a CI pipeline running Helm v2 wrote one ConfigMap per build) grow etcd until it runs out of space and \
     the API server stops answering.";

fn count_violation(
    namespace: &str,
    limit: &KindLimit,
    plural: &str,
    count: usize,
    applied: &AppliedLimit,
) -> Violation {
    let raise = if applied.overridden() {
        format!("raise `{}`", applied.setting)
    } else {
        format!("give it its own limit in `namespaceOverrides` (by name or by namespace label) rather than raising `{}` for every namespace", applied.setting)
    };
    Violation::new(
        "metadata.namespace",
        namespace,
        format!(
            "namespace {namespace} already holds {count} {plural}, and its limit is {max} (`{setting}`). {COUNT_RISK}",
            max = applied.max,
            setting = applied.setting,
        ),
        format!(
            "{cleanup} If {namespace} really needs more, {raise}.",
            cleanup = cleanup(namespace, limit, plural),
        ),
    )
}

fn cleanup(namespace: &str, limit: &KindLimit, plural: &str) -> String {
    // A custom resource may share a built-in kind's plural (Knative's
    // Service, Volcano's Job): kubectl takes `kind.group` for it.
    let resource = match limit.group() {
        "" | "apps" | "batch" => plural.to_lowercase(),
        group => format!("{}.{group}", limit.kind.to_lowercase()),
    };
    format!(
        "delete the {plural} in {namespace} that are no longer used (`kubectl get {resource} -n {namespace}`) and fix \
         whatever creates them without cleaning up."
    )
}

/// A count over every limit that may apply, in a namespace whose labels,
/// which pick the one that does, could not be read.
struct Unread<'a> {
    highest: &'a AppliedLimit,
    /// The first `namespaceOverrides` entry that selects by label and may apply.
    first_by_label: usize,
    /// The entry that names the namespace, and its limit's index, if any.
    named: Option<(usize, usize)>,
    limit: &'a KindLimit,
    error: &'a str,
}

fn unread_count_violation(
    namespace: &str,
    plural: &str,
    count: usize,
    unread: &Unread,
) -> Violation {
    let Unread {
        highest,
        first_by_label,
        named,
        limit,
        error,
    } = unread;
    let raise = match named {
        // Entries that select by label come first: it applies only if none matches.
        Some((entry, own)) => format!(
            "raise `namespaceOverrides[{entry}].limits[{own}].max` (the entry that names {namespace}); it applies only \
             if {namespace} matches no `namespaceSelector` of the entries before it, so if it may, move that entry \
             before `namespaceOverrides[{first_by_label}]` (the first matching entry wins)."
        ),
        None => format!(
            "if it carries the labels of a `namespaceOverrides` entry's `namespaceSelector`, raise the {kind} limit of \
             the first such entry; if not, give it its own entry `{{namespaces: [{namespace}], limits: [{{apiVersion: \
             {api_version}, kind: {kind}, max: ...}}]}}` placed before `namespaceOverrides[{first_by_label}]` (the \
             first matching entry wins).",
            kind = limit.kind,
            api_version = limit.api_version,
        ),
    };
    Violation::new(
        "metadata.namespace",
        namespace,
        format!(
            "namespace {namespace} already holds {count} {plural}, at or over every limit that may apply to it: the highest is {max} \
             (`{setting}`), and which one applies depends on its labels, which could not be read ({error}). {COUNT_RISK}",
            max = highest.max,
            setting = highest.setting,
        ),
        format!(
            "{cleanup} If {namespace} really needs more: {raise}",
            cleanup = cleanup(namespace, limit, plural),
        ),
    )
}

/// The limits on a kind that may apply in a namespace whatever its labels.
struct Candidates {
    lowest: AppliedLimit,
    highest: AppliedLimit,
    /// When more than one may apply: the first entry that selects by label.
    first_by_label: Option<usize>,
    /// The entry that names the namespace, and its limit's index.
    named: Option<(usize, usize)>,
}

/// The lowest and the highest limit on `limit`'s kind that may apply in
/// `namespace` whatever its labels (the entries that select by label, up to
/// the first that names it, else the default).
fn candidate_limits(
    settings: &Settings,
    index: usize,
    limit: &KindLimit,
    namespace: &str,
) -> Candidates {
    let mut candidates = Vec::new();
    let mut named = None;
    let mut first_by_label = None;
    for (entry_index, entry) in settings.namespace_overrides.iter().enumerate() {
        let own = entry
            .limits
            .iter()
            .enumerate()
            .find(|(_, l)| l.same_kind(limit));
        let Some((limit_index, own)) = own else {
            continue;
        };
        let by_name = entry.namespace_selector.is_none();
        if by_name && !entry.namespaces.iter().any(|n| n == namespace) {
            continue;
        }
        if !by_name && first_by_label.is_none() {
            first_by_label = Some(entry_index);
        }
        candidates.push(AppliedLimit {
            max: own.max,
            setting: LimitSetting::Override {
                entry: entry_index,
                limit: limit_index,
            },
        });
        if by_name {
            named = Some((entry_index, limit_index));
            break;
        }
    }
    if named.is_none() {
        candidates.push(AppliedLimit {
            max: limit.max,
            setting: LimitSetting::Default { index },
        });
    }
    let mut lowest: Option<AppliedLimit> = None;
    let mut highest: Option<AppliedLimit> = None;
    for candidate in candidates {
        if lowest.as_ref().is_none_or(|l| candidate.max < l.max) {
            lowest = Some(candidate);
        }
        if highest.as_ref().is_none_or(|h| candidate.max > h.max) {
            highest = Some(candidate);
        }
    }
    let default = || AppliedLimit {
        max: limit.max,
        setting: LimitSetting::Default { index },
    };
    Candidates {
        lowest: lowest.unwrap_or_else(default),
        highest: highest.unwrap_or_else(default),
        first_by_label,
        named,
    }
}

/// The first `namespaceOverrides` entry that matches `namespace` and limits
/// the kind, else the default. The Namespace is fetched (once) only when a
/// selector entry has to be consulted.
fn applied_limit(
    settings: &Settings,
    index: usize,
    limit: &KindLimit,
    namespace: &str,
    host: &dyn Host,
) -> Result<AppliedLimit, String> {
    let mut labels: Option<BTreeMap<String, String>> = None;
    for (entry_index, entry) in settings.namespace_overrides.iter().enumerate() {
        let Some((limit_index, own)) = entry
            .limits
            .iter()
            .enumerate()
            .find(|(_, l)| l.same_kind(limit))
        else {
            continue;
        };
        let matches = match &entry.namespace_selector {
            None => entry.namespaces.iter().any(|n| n == namespace),
            Some(selector) => {
                if labels.is_none() {
                    labels = Some(namespace_labels(namespace, host)?);
                }
                labels.as_ref().is_some_and(|l| selector.matches(l))
            }
        };
        if matches {
            return Ok(AppliedLimit {
                max: own.max,
                setting: LimitSetting::Override {
                    entry: entry_index,
                    limit: limit_index,
                },
            });
        }
    }
    Ok(AppliedLimit {
        max: limit.max,
        setting: LimitSetting::Default { index },
    })
}

fn namespace_labels(namespace: &str, host: &dyn Host) -> Result<BTreeMap<String, String>, String> {
    // A masked answer may carry `metadata: null` or `labels: null`.
    #[derive(Deserialize)]
    struct Namespace {
        #[serde(default)]
        metadata: Option<Metadata>,
    }
    #[derive(Deserialize)]
    struct Metadata {
        #[serde(default)]
        labels: Option<BTreeMap<String, String>>,
    }
    let body = GetResource {
        api_version: "v1",
        kind: "Namespace",
        name: namespace,
        namespace: None,
        disable_cache: false,
        field_masks: Some(vec!["metadata.labels"]),
    }
    .call(host)?;
    crate::request::from_slice::<Namespace>(&body, "the Namespace lookup answer")
        .map(|n| n.metadata.and_then(|m| m.labels).unwrap_or_default())
        .map_err(|e| e.to_string())
}

/// Which Helm stores a release revision in this object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HelmStorage {
    /// Helm v2: Tiller's labels `OWNER=TILLER`, `NAME`, `VERSION`.
    Tiller,
    /// Helm v3: labels `owner=helm`, `name`, `version` (Secrets of type helm.sh/release.v1,
    /// or ConfigMaps with the configmap driver).
    V3,
}

impl HelmStorage {
    fn detect(kind: &str, object: &StoredObject) -> Option<Self> {
        let labels = &object.metadata.labels;
        if labels.get("OWNER").map(Text::as_ref) == Some("TILLER") {
            return Some(HelmStorage::Tiller);
        }
        let v3_type = kind == "ConfigMap" || object.secret_type == HELM_RELEASE_TYPE;
        (v3_type && labels.get("owner").map(Text::as_ref) == Some("helm"))
            .then_some(HelmStorage::V3)
    }

    fn owner(self) -> (&'static str, &'static str) {
        match self {
            HelmStorage::Tiller => ("OWNER", "TILLER"),
            HelmStorage::V3 => ("owner", "helm"),
        }
    }

    fn name_label(self) -> &'static str {
        match self {
            HelmStorage::Tiller => "NAME",
            HelmStorage::V3 => "name",
        }
    }

    fn version_label(self) -> &'static str {
        match self {
            HelmStorage::Tiller => "VERSION",
            HelmStorage::V3 => "version",
        }
    }
}

fn check_helm_storage(
    request: &Request,
    settings: &Settings,
    object: &StoredObject,
    host: &dyn Host,
    verdict: &mut Verdict,
) {
    let kind = request.kind.kind.as_ref();
    let Some(storage) = HelmStorage::detect(kind, object) else {
        return;
    };
    let labels = &object.metadata.labels;
    let release = labels
        .get(storage.name_label())
        .map(Text::as_ref)
        .unwrap_or("");
    if storage == HelmStorage::Tiller {
        if settings.helm.tiller_migration {
            verdict.warning(format!(
                "crash-guard/object-count: {} is Helm v2 (Tiller) release storage, accepted because `helm.tillerMigration` is true; finish moving release {release} to Helm v3 and set it back to false.",
                request.object_ref()
            ));
        } else {
            verdict.violation(tiller_violation(kind, release, request.namespace.as_ref()));
        }
    }
    if release.is_empty() {
        return;
    }
    let revision = labels
        .get(storage.version_label())
        .map(Text::as_ref)
        .unwrap_or("(unknown)");
    let release = Release {
        storage,
        name: release,
        revision,
    };
    check_history(request, settings, &release, host, verdict);
}

/// The release revision a ConfigMap or Secret stores.
struct Release<'a> {
    storage: HelmStorage,
    name: &'a str,
    revision: &'a str,
}

fn tiller_violation(kind: &str, release: &str, namespace: &str) -> Violation {
    let release = if release.is_empty() {
        "<release>"
    } else {
        release
    };
    // Tiller keeps its releases in its own namespace, where helm-2to3 looks
    // (kube-system unless told otherwise).
    let tiller_ns = if namespace == "kube-system" {
        String::new()
    } else {
        format!("--tiller-ns {namespace} ")
    };
    Violation::new(
        "metadata.labels.OWNER",
        "TILLER",
        format!(
            "this {kind} is Helm v2 release storage. Tiller writes one {kind} per revision of every release and, \
             with `helm init`'s default `--history-max 0`, never deletes them: a CI pipeline running Helm v2 on every \
             build filled etcd with them until it crashed. Helm v2 has been unsupported since November 2020."
        ),
        format!(
            "move to Helm v3: convert the release with the helm-2to3 plugin (`helm 2to3 convert {tiller_ns}{release}`; \
             without Tiller in the cluster (Tillerless), add `--tiller-out-cluster --release-storage {storage}`); Helm v3 \
             stores each release in its own namespace and keeps 10 revisions by default (`--history-max`). While \
             migrating, set `helm.tillerMigration: true` in the policy settings.",
            storage = plural(kind).to_lowercase(),
        ),
    )
}

fn check_history(
    request: &Request,
    settings: &Settings,
    release: &Release,
    host: &dyn Host,
    verdict: &mut Verdict,
) {
    let (storage, revision) = (release.storage, release.revision);
    let release = release.name;
    let namespace = request.namespace.as_ref();
    let kind = request.kind.kind.as_ref();
    let (owner_key, owner_value) = storage.owner();
    let selector = LabelSelector {
        match_labels: crate::btree::map([
            (owner_key.to_string(), owner_value.to_string()),
            (storage.name_label().to_string(), release.to_string()),
        ]),
        match_expressions: Vec::new(),
    }
    .to_query();
    let list = ListResources {
        api_version: "v1",
        kind,
        namespace: Some(namespace),
        label_selector: Some(selector.clone()),
        field_selector: None,
        field_masks: Some(NAME_ONLY.to_vec()),
    };
    let max = settings.helm.max_stored_revisions;
    let stored = match list
        .call(host)
        .and_then(|body| host::list_items::<IgnoredAny>(&body))
    {
        Ok(items) => items.len(),
        Err(error) => {
            settings.on_lookup_failure.record(
                verdict,
                ObjectCount::NAME,
                &format!("the stored revisions of Helm release {release} in namespace {namespace} ({kind}s labelled {selector})"),
                &format!("the release history limit of {max} revisions"),
                &error,
            );
            return;
        }
    };
    if stored <= max as usize {
        return;
    }
    let cleanup = format!(
        "kubectl delete {resource} -n {namespace} -l {selector},{status}",
        resource = kind.to_lowercase(),
        status = match storage {
            HelmStorage::Tiller => "STATUS=SUPERSEDED",
            HelmStorage::V3 => "status=superseded",
        },
    );
    // Helm prunes to one below the history before it writes a revision, so
    // any history up to `max` + 1 passes; Helm's default 10 when it does.
    let history = max.min(10);
    let which = if history == 10 {
        "Helm's default"
    } else {
        "at most `helm.maxStoredRevisions`"
    };
    let history_fix = match storage {
        HelmStorage::Tiller => format!(
            "start Tiller with `--history-max {history}` (`helm init --upgrade --history-max {history}`), better move to Helm v3; \
             then delete old revisions (`{cleanup}`)"
        ),
        HelmStorage::V3 => format!(
            "upgrade with `--history-max {history}` ({which}; 0 means no limit) or set HELM_MAX_HISTORY \
             (Flux: `spec.maxHistory`; Terraform's `helm_release`: `max_history`, whose default 0 means no limit); \
             then delete old revisions (`{cleanup}`)"
        ),
    };
    verdict.violation(Violation::new(
        format!("metadata.labels.{}", storage.name_label()),
        release,
        format!(
            "Helm release {release} already stores {stored} revisions in namespace {namespace} ({kind}s labelled {selector}), \
             more than `helm.maxStoredRevisions` = {max}, and this {kind} would add revision {revision}. Helm keeps one \
             {kind} per revision, each up to 1 MiB, and prunes them only down to `--history-max` (never at 0): a release \
             upgraded on every build with a long or unlimited history grows etcd with each build."
        ),
        format!(
            "{history_fix}. If this release really needs a longer history, raise `helm.maxStoredRevisions`."
        ),
    ));
}

/// `ConfigMap` -> `ConfigMaps`, `NetworkPolicy` -> `NetworkPolicies`,
/// `IngressClass` -> `IngressClasses`; `Endpoints` is already plural.
fn plural(kind: &str) -> String {
    if let Some(stem) = kind
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else if ["ss", "us", "x", "ch", "sh"]
        .iter()
        .any(|e| kind.ends_with(e))
    {
        format!("{kind}es")
    } else if kind.ends_with('s') {
        kind.to_string()
    } else {
        format!("{kind}s")
    }
}

#[cfg(test)]
mod tests;
