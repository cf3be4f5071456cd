//! object-size (crash 2): Secrets and ConfigMaps large enough that many of
//! them get kube-apiserver OOM-killed, since it caches every one of them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::btree;
use crate::exemptions::Exemptions;
use crate::host::Host;
use crate::policy::Rule;
use crate::quantity::ByteSize;
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::settings::{validate_section, SettingsError, Validate};
use crate::text::Text;
use crate::violation::{Verdict, Violation};

/// The API server refuses Secrets and ConfigMaps above 1 MiB; a larger limit never applies.
pub const API_SERVER_CAP: ByteSize = ByteSize(ByteSize::MIB);
const LARGEST_KEYS_SHOWN: usize = 3;
/// Client-side `kubectl apply` keeps the whole applied object here.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The type of the Secrets in which Helm 3 keeps its release records.
const HELM_RELEASE: &str = "helm.sh/release.v1";

pub struct ObjectSize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// Limit per kind.
    pub limits: KindLimits,
    /// Limit per Secret `type`, overriding `limits.Secret`. Replaces the default map when set.
    #[serde(deserialize_with = "unique_type_limits")]
    pub secret_type_limits: BTreeMap<String, ByteSize>,
    pub exemptions: Exemptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KindLimits {
    #[serde(rename = "Secret")]
    pub secret: ByteSize,
    #[serde(rename = "ConfigMap")]
    pub config_map: ByteSize,
}

impl Default for KindLimits {
    fn default() -> Self {
        Self {
            secret: ByteSize::kib(256),
            config_map: ByteSize::kib(256),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            limits: KindLimits::default(),
            secret_type_limits: btree::map([
                ("kubernetes.io/tls".to_string(), ByteSize::kib(64)),
                (
                    "kubernetes.io/dockerconfigjson".to_string(),
                    ByteSize::kib(64),
                ),
                (HELM_RELEASE.to_string(), ByteSize::kib(512)),
            ]),
            exemptions: Exemptions::default(),
        }
    }
}

/// `secretTypeLimits`, refusing a type given twice (a map would keep the last silently).
fn unique_type_limits<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, ByteSize>, D::Error> {
    struct UniqueVisitor;

    impl<'de> Visitor<'de> for UniqueVisitor {
        type Value = BTreeMap<String, ByteSize>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of Secret types to sizes")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut limits = BTreeMap::new();
            while let Some((secret_type, limit)) = map.next_entry::<String, ByteSize>()? {
                match limits.entry(secret_type) {
                    std::collections::btree_map::Entry::Vacant(entry) => {
                        entry.insert(limit);
                    }
                    std::collections::btree_map::Entry::Occupied(entry) => {
                        return Err(A::Error::custom(format!(
                            "Secret type `{}` is listed twice; keep one entry",
                            entry.key()
                        )));
                    }
                }
            }
            Ok(limits)
        }
    }

    deserializer.deserialize_map(UniqueVisitor)
}

/// The Secret types Kubernetes defines, and Helm's.
const KNOWN_TYPES: [&str; 9] = [
    "Opaque",
    "kubernetes.io/service-account-token",
    "kubernetes.io/dockercfg",
    "kubernetes.io/dockerconfigjson",
    "kubernetes.io/basic-auth",
    "kubernetes.io/ssh-auth",
    "kubernetes.io/tls",
    "bootstrap.kubernetes.io/token",
    HELM_RELEASE,
];

/// The intended spelling of a `secretTypeLimits` key that has spaces around
/// it or spells a known type in other case (`kubernetes.io/TLS`, `opaque`).
fn misspelt_type(key: &str) -> Option<&str> {
    let trimmed = key.trim();
    let intended = KNOWN_TYPES
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(trimmed))
        .unwrap_or(trimmed);
    (intended != key).then_some(intended)
}

fn check_limit(field: &str, limit: ByteSize) -> Result<(), SettingsError> {
    if limit.0 == 0 {
        Err(SettingsError::new(field, "must be greater than 0 bytes"))
    } else if limit > API_SERVER_CAP {
        Err(SettingsError::new(
            field,
            format!("{limit} is above the API server's own cap of {API_SERVER_CAP}, so it would never apply"),
        ))
    } else {
        Ok(())
    }
}

impl Validate for KindLimits {
    fn validate(&self) -> Result<(), SettingsError> {
        check_limit("Secret", self.secret)?;
        check_limit("ConfigMap", self.config_map)
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        validate_section("limits", &self.limits)?;
        for (secret_type, limit) in &self.secret_type_limits {
            if secret_type.trim().is_empty() {
                return Err(SettingsError::new(
                    "secretTypeLimits",
                    "a Secret type must not be empty",
                ));
            }
            let field = format!("secretTypeLimits[\"{secret_type}\"]");
            if let Some(intended) = misspelt_type(secret_type) {
                return Err(SettingsError::new(
                    field,
                    format!("Secret types are matched exactly, case and spaces included, so this entry would not apply to Secrets of type `{intended}`; write `{intended}`"),
                ));
            }
            check_limit(&field, *limit)?;
        }
        validate_section("exemptions", &self.exemptions)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret,
    ConfigMap,
}

impl Settings {
    /// `secret_type` is empty for a ConfigMap, or [`HELM_RELEASE`] when it
    /// holds a Helm release record (Helm's ConfigMap driver), which gets that
    /// type's limit, or `limits.ConfigMap` where that is higher.
    fn limit(&self, kind: Kind, secret_type: &str) -> (ByteSize, String) {
        let config_map = || (self.limits.config_map, "limits.ConfigMap".to_string());
        match (self.secret_type_limits.get(secret_type), kind) {
            (Some(limit), Kind::ConfigMap) if *limit < self.limits.config_map => config_map(),
            (Some(limit), _) => (*limit, format!("secretTypeLimits[\"{secret_type}\"]")),
            (None, Kind::ConfigMap) => config_map(),
            (None, Kind::Secret) => (self.limits.secret, "limits.Secret".to_string()),
        }
    }
}

/// How a map's values are stored in JSON.
trait Encoding {
    fn decoded_len(value: &str) -> u64;
}

struct Plain;
struct Base64;

impl Encoding for Plain {
    fn decoded_len(value: &str) -> u64 {
        value.len() as u64
    }
}

impl Encoding for Base64 {
    fn decoded_len(value: &str) -> u64 {
        let unpadded = value.trim_end_matches('=').len() as u64;
        unpadded * 3 / 4
    }
}

/// The decoded length of a JSON string, measured without keeping it (a
/// string with escapes is unescaped into a String first).
struct Len<E>(u64, PhantomData<E>);

impl<'de, E: Encoding> Deserialize<'de> for Len<E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LenVisitor<E>(PhantomData<E>);

        impl<E: Encoding> Visitor<'_> for LenVisitor<E> {
            type Value = Len<E>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<Er>(self, value: &str) -> Result<Self::Value, Er> {
                Ok(Len(E::decoded_len(value), PhantomData))
            }
        }

        deserializer.deserialize_str(LenVisitor(PhantomData))
    }
}

/// A `map[string]string` or `map[string][]byte`, kept as key and decoded value size.
struct Entries<'a, E> {
    sizes: Vec<(Cow<'a, str>, u64)>,
    encoding: PhantomData<E>,
}

impl<E> Default for Entries<'_, E> {
    fn default() -> Self {
        Self {
            sizes: Vec::new(),
            encoding: PhantomData,
        }
    }
}

impl<'de: 'a, 'a, E: Encoding> Deserialize<'de> for Entries<'a, E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<'a, E>(PhantomData<(&'a (), E)>);

        impl<'de: 'a, 'a, E: Encoding> Visitor<'de> for EntriesVisitor<'a, E> {
            type Value = Entries<'a, E>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of strings")
            }

            fn visit_unit<Er>(self) -> Result<Self::Value, Er> {
                Ok(Entries::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Entries::default();
                while let Some((key, value)) = map.next_entry::<Text, Option<Len<E>>>()? {
                    entries.sizes.push((key.0, value.map_or(0, |v| v.0)));
                }
                Ok(entries)
            }
        }

        deserializer.deserialize_any(EntriesVisitor(PhantomData))
    }
}

/// `metadata.annotations` or `metadata.labels` as sizes: keys and values in
/// all, the largest entry, and kubectl's last-applied copy of the object.
#[derive(Debug, Default)]
struct MetadataMap<'a> {
    bytes: u64,
    largest: Option<(Cow<'a, str>, u64)>,
    last_applied: u64,
    /// `owner: helm`, the label Helm puts on its release records.
    helm_owner: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for MetadataMap<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<'a>(PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for MapVisitor<'a> {
            type Value = MetadataMap<'a>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of strings")
            }

            fn visit_unit<Er>(self) -> Result<Self::Value, Er> {
                Ok(MetadataMap::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut sizes = MetadataMap::default();
                while let Some(Text(key)) = map.next_key::<Text>()? {
                    let value = if key == "owner" {
                        let owner = map.next_value::<Option<Text>>()?;
                        sizes.helm_owner = owner.as_ref().is_some_and(|o| o.0 == "helm");
                        owner.map_or(0, |o| o.0.len() as u64)
                    } else {
                        map.next_value::<Option<Len<Plain>>>()?.map_or(0, |v| v.0)
                    };
                    let entry = (key.len() as u64).saturating_add(value);
                    sizes.bytes = sizes.bytes.saturating_add(entry);
                    if key == LAST_APPLIED {
                        sizes.last_applied = entry;
                    }
                    if sizes.largest.as_ref().is_none_or(|(_, most)| entry > *most) {
                        sizes.largest = Some((key, entry));
                    }
                }
                Ok(sizes)
            }
        }

        deserializer.deserialize_any(MapVisitor(PhantomData))
    }
}

/// The part of `metadata` the rule reads; the rest is skipped unread.
#[derive(Default, Deserialize)]
struct Metadata<'a> {
    #[serde(default, borrow)]
    annotations: MetadataMap<'a>,
    #[serde(default, borrow)]
    labels: MetadataMap<'a>,
}

/// What the rule reads of a Secret; decoded in the request's pass
/// ([`Rule::prefetch`]), since Secrets are the objects that grow large.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretPayload<'a> {
    #[serde(default, borrow, rename = "type")]
    secret_type: Option<Text<'a>>,
    #[serde(default, borrow)]
    data: Entries<'a, Base64>,
    #[serde(default, borrow)]
    string_data: Entries<'a, Plain>,
    #[serde(default, borrow)]
    metadata: Option<Metadata<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapPayload<'a> {
    #[serde(default, borrow)]
    data: Entries<'a, Plain>,
    #[serde(default, borrow)]
    binary_data: Entries<'a, Base64>,
    #[serde(default, borrow)]
    metadata: Option<Metadata<'a>>,
}

/// The size of one object: its keys and values, annotations and labels.
#[derive(Debug, PartialEq, Eq)]
struct Measurement {
    /// `payload` + `annotations` + `labels`, what the limit applies to.
    bytes: u64,
    /// Keys and decoded values.
    payload: u64,
    keys: usize,
    annotations: u64,
    last_applied: u64,
    /// Key and size (key + value) of the largest annotation.
    largest_annotation: Option<(String, u64)>,
    labels: u64,
    /// A Secret's type; for a ConfigMap, empty or [`HELM_RELEASE`] (a Helm release record).
    secret_type: String,
    /// Key and size (key + value) of the largest entries.
    largest: Vec<(String, u64)>,
}

/// Labels and annotations (but kubectl's last-applied copy) up to this size
/// together are ignored when an update is checked for growth, so relabelling
/// or annotating an oversized object (Argo CD's tracking-id, Helm's adoption)
/// is not refused; real sets are far smaller, and a larger one counts in full.
const METADATA_ALLOWANCE: u64 = 4 * 1024;

impl Measurement {
    /// Labels and the annotations other than the last-applied copy.
    fn metadata(&self) -> u64 {
        self.labels
            .saturating_add(self.annotations.saturating_sub(self.last_applied))
    }

    /// The sizes an update is judged by, old and new, and whether labels and
    /// annotations other than the last-applied copy are left out of them.
    fn compared(&self, old: &Measurement) -> (u64, u64, bool) {
        let within = self.metadata() <= METADATA_ALLOWANCE;
        let ignored = |m: &Measurement| if within { m.metadata() } else { 0 };
        (
            old.bytes.saturating_sub(ignored(old)),
            self.bytes.saturating_sub(ignored(self)),
            within,
        )
    }

    fn grows_from(&self, old: &Measurement) -> bool {
        let (before, after, _) = self.compared(old);
        after > before
    }
}

fn measure_entries<'a>(
    kept: impl Iterator<Item = &'a (Cow<'a, str>, u64)>,
    secret_type: String,
    metadata: Option<&Metadata>,
) -> Measurement {
    let mut payload = 0u64;
    let mut keys = 0usize;
    let mut largest: Vec<(&str, u64)> = Vec::with_capacity(LARGEST_KEYS_SHOWN + 1);
    for (key, value) in kept {
        let size = (key.len() as u64).saturating_add(*value);
        payload = payload.saturating_add(size);
        keys += 1;
        let position = largest
            .iter()
            .position(|(k, s)| size > *s || (size == *s && key.as_ref() < *k))
            .unwrap_or(largest.len());
        if position < LARGEST_KEYS_SHOWN {
            largest.insert(position, (key.as_ref(), size));
            largest.truncate(LARGEST_KEYS_SHOWN);
        }
    }
    let (annotations, labels) = match metadata {
        Some(metadata) => (&metadata.annotations, metadata.labels.bytes),
        None => (&NO_ANNOTATIONS, 0),
    };
    Measurement {
        bytes: payload
            .saturating_add(annotations.bytes)
            .saturating_add(labels),
        payload,
        keys,
        annotations: annotations.bytes,
        last_applied: annotations.last_applied,
        largest_annotation: annotations
            .largest
            .as_ref()
            .map(|(key, bytes)| (key.to_string(), *bytes)),
        labels,
        secret_type,
        largest: largest
            .into_iter()
            .map(|(k, s)| (k.to_string(), s))
            .collect(),
    }
}

static NO_ANNOTATIONS: MetadataMap<'static> = MetadataMap {
    bytes: 0,
    largest: None,
    last_applied: 0,
    helm_owner: false,
};

fn measure_secret(secret: &SecretPayload) -> Measurement {
    // stringData keys replace data keys of the same name.
    let overridden = btree::set(secret.string_data.sizes.iter().map(|(key, _)| key.as_ref()));
    let data = secret
        .data
        .sizes
        .iter()
        .filter(|(key, _)| !overridden.contains(key.as_ref()));
    let secret_type = match secret.secret_type.as_deref() {
        None | Some("") => "Opaque".to_string(),
        Some(other) => other.to_string(),
    };
    measure_entries(
        data.chain(secret.string_data.sizes.iter()),
        secret_type,
        secret.metadata.as_ref(),
    )
}

/// Helm's ConfigMap storage driver names its release records
/// `sh.helm.release.v1.<release>.v<revision>` and labels them `owner: helm`.
fn measure_config_map(config_map: &ConfigMapPayload, name: &str) -> Measurement {
    let entries = config_map.data.sizes.iter();
    let helm = name.starts_with("sh.helm.release.v1.")
        && config_map
            .metadata
            .as_ref()
            .is_some_and(|m| m.labels.helm_owner);
    measure_entries(
        entries.chain(config_map.binary_data.sizes.iter()),
        if helm { HELM_RELEASE } else { "" }.to_string(),
        config_map.metadata.as_ref(),
    )
}

fn size(bytes: u64) -> String {
    ByteSize(bytes).to_string()
}

impl Rule for ObjectSize {
    const NAME: &'static str = "object-size";
    type Settings = Settings;
    type Object<'a> = SecretPayload<'a>;

    fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
        match operation {
            Operation::Create | Operation::Update if kind.is("", "Secret") => Prefetch::OBJECT,
            _ => Prefetch::NONE,
        }
    }

    fn exemptions(settings: &Settings) -> &Exemptions {
        &settings.exemptions
    }

    fn evaluate<'a>(
        request: &Request<'a>,
        objects: Objects<'a, SecretPayload<'a>>,
        settings: &Settings,
        _host: &dyn Host,
    ) -> Result<Verdict, DecodeError> {
        let kind = if request.kind.is("", "Secret") {
            Kind::Secret
        } else if request.kind.is("", "ConfigMap") {
            Kind::ConfigMap
        } else {
            return Ok(Verdict::accept());
        };
        if !matches!(request.operation, Operation::Create | Operation::Update) {
            return Ok(Verdict::accept());
        }
        let new = match kind {
            Kind::Secret => objects.object.decode()?.as_ref().map(measure_secret),
            Kind::ConfigMap => request
                .object()?
                .as_ref()
                .map(|c| measure_config_map(c, &request.name)),
        };
        let Some(new) = new else {
            return Ok(Verdict::accept());
        };
        let (limit, limit_setting) = settings.limit(kind, &new.secret_type);
        if new.bytes <= limit.0 {
            return Ok(Verdict::accept());
        }
        let old = match (request.operation, kind) {
            (Operation::Update, Kind::Secret) => {
                objects.old_object.decode()?.as_ref().map(measure_secret)
            }
            (Operation::Update, Kind::ConfigMap) => request
                .old_object()?
                .as_ref()
                .map(|c| measure_config_map(c, &request.name)),
            _ => None,
        };
        if let Some(old) = &old {
            if !new.grows_from(old) {
                return Ok(Verdict::accept().with_warning(format!(
                    "crash-guard/object-size: {} holds {}, over the {} limit; allowed because this update does not grow it. Shrink it: kube-apiserver caches every {}.",
                    request.object_ref(),
                    size(new.bytes),
                    limit,
                    kind_name(kind),
                )));
            }
        }
        Ok(violation(
            request,
            kind,
            &new,
            old.as_ref(),
            (limit, &limit_setting),
        ))
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Secret => "Secret",
        Kind::ConfigMap => "ConfigMap",
    }
}

fn plural(count: usize, one: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {one}s")
    }
}

fn violation(
    request: &Request,
    kind: Kind,
    new: &Measurement,
    old: Option<&Measurement>,
    (limit, limit_setting): (ByteSize, &str),
) -> Verdict {
    let kind_name = kind_name(kind);
    let (payload_field, scope) = match kind {
        Kind::Secret => (
            "data+stringData",
            format!("Secrets of type {}", new.secret_type),
        ),
        Kind::ConfigMap if new.secret_type == HELM_RELEASE => (
            "data+binaryData",
            "ConfigMaps that hold Helm release records".to_string(),
        ),
        Kind::ConfigMap => ("data+binaryData", "ConfigMaps".to_string()),
    };
    let growth = match old.map(|old| (old, new.compared(old))) {
        Some((old, (before, after, true))) if new.metadata() > 0 || old.metadata() > 0 => format!(
            " This update grows its keys and values{} from {} to {}; labels and other annotations, up to 4 KiB together, are not counted.",
            if new.last_applied > 0 || old.last_applied > 0 {
                ", with the last-applied copy,"
            } else {
                ""
            },
            size(before),
            size(after)
        ),
        Some((_, (before, after, _))) => format!(
            " This update grows it from {} to {}.",
            size(before),
            size(after)
        ),
        None => String::new(),
    };
    let mut parts = format!(
        "{} of keys and values ({})",
        size(new.payload),
        plural(new.keys, "key")
    );
    let mut field = payload_field.to_string();
    let custom_annotation = new
        .largest_annotation
        .as_ref()
        .filter(|(key, _)| key != LAST_APPLIED);
    if new.annotations > 0 {
        field.push_str("+metadata.annotations");
        parts.push_str(&format!(
            " and {} of metadata.annotations",
            size(new.annotations)
        ));
        let mut details = Vec::new();
        if let Some((key, bytes)) = custom_annotation {
            details.push(format!("the largest, {key}: {}", size(*bytes)));
        }
        if new.last_applied > 0 {
            details.push(format!("{} in {LAST_APPLIED}", size(new.last_applied)));
        }
        parts.push_str(&[" (", &details.join("; "), ")"].concat());
    }
    if new.labels > 0 {
        field.push_str("+metadata.labels");
        parts.push_str(&format!(" and {} of metadata.labels", size(new.labels)));
    }
    let largest = if new.largest.is_empty() {
        String::new()
    } else {
        let keys = new
            .largest
            .iter()
            .map(|(key, bytes)| format!("{key}: {}", size(*bytes)))
            .collect::<Vec<_>>();
        ["; largest keys: ", &keys.join(", ")].concat()
    };
    let most = |bytes: u64| bytes > 0 && bytes.saturating_mul(2) >= new.bytes;
    let resource = match kind {
        Kind::Secret => "secret",
        Kind::ConfigMap => "configmap",
    };
    // The larger half of the size, when it is not keys and values, has its own fix.
    let metadata_fix = if most(new.last_applied) {
        // Server-side apply keeps no copy of the object.
        let remove = if request.name.is_empty() {
            String::new()
        } else {
            format!(
                " (on an existing {kind_name}, first remove it: `kubectl annotate {resource} -n {} {} {LAST_APPLIED}-`)",
                request.namespace, request.name
            )
        };
        format!(
            "most of the size is the copy of the object that client-side `kubectl apply` keeps in the annotation {LAST_APPLIED}: \
             apply with `kubectl apply --server-side`, which keeps no such copy{remove}; a GitOps tool needs its own server-side \
             apply option (Argo CD: the `ServerSideApply=true` sync option), or its next client-side sync adds the copy again. Otherwise "
        )
    } else if let Some((key, bytes)) = custom_annotation.filter(|(_, bytes)| most(*bytes)) {
        format!(
            "most of the size is the annotation {key} ({}): annotations are stored and cached with the object, \
             so move that data out of it as below, or drop the annotation. Otherwise ",
            size(*bytes)
        )
    } else if most(new.labels) {
        "most of the size is metadata.labels: labels are stored and cached with the object; keep data out of them. Otherwise "
            .to_string()
    } else {
        String::new()
    };
    let mut verdict = Verdict::accept();
    verdict.violation(Violation::new(
        field,
        size(new.bytes),
        format!(
            "the object is over the {limit} limit for {scope}: {parts}{largest}.{growth} \
             kube-apiserver keeps every {kind_name} in memory (its watch cache), so many large ones, up to the 1 MiB cap each, get it OOM-killed.",
        ),
        match (kind, new.secret_type.as_str()) {
            // Helm writes the release record: its data cannot be moved out or split by hand.
            (_, HELM_RELEASE) => format!(
                "{metadata_fix}this {kind_name} is a Helm release record (the chart with its files, the values and the rendered manifest), \
                 written by Helm, so its data cannot be moved out or split: store releases with Helm's SQL storage driver \
                 (`HELM_DRIVER=sql`, PostgreSQL), which keeps them out of {kind_name}s, or keep large files out of the chart (`.helmignore`). \
                 If it must be this large, raise `{limit_setting}` on purpose, and lower `helm upgrade --history-max` \
                 so that fewer revisions this large are kept.",
            ),
            (Kind::Secret, "kubernetes.io/tls") => format!(
                "{metadata_fix}keep only the certificate chain (`tls.crt`: the leaf and its intermediates) and its key (`tls.key`) here, \
                 and distribute CA bundles separately, in a ConfigMap (e.g. with trust-manager). \
                 If it must be this large, raise `{limit_setting}` in the policy settings.",
            ),
            // Only stores outside kube-apiserver help: it caches split objects and custom resources too.
            (Kind::Secret, _) => format!(
                "{metadata_fix}keep large data outside kube-apiserver (it caches split Secrets and custom resources too): \
                 secrets in an external secret store (e.g. Vault), bulk files in object storage, on a volume or in the container image, \
                 referenced from here. If it must be this large, raise `{limit_setting}` in the policy settings.",
            ),
            (Kind::ConfigMap, _) => format!(
                "{metadata_fix}keep large data outside kube-apiserver (it caches split ConfigMaps and custom resources too): \
                 in object storage, on a volume or in the container image, referenced from here. If it must be this large, raise `{limit_setting}` in the policy settings.",
            ),
        },
    ));
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::NoHost;
    use rstest::rstest;

    fn b64(bytes: usize) -> String {
        let full = "QUJD".repeat(bytes / 3);
        match bytes % 3 {
            1 => full + "QQ==",
            2 => full + "QUI=",
            _ => full,
        }
    }

    fn request(operation: &str, kind: &str, object: &str, old: &str) -> String {
        format!(
            r#"{{"uid":"u","operation":"{operation}","kind":{{"group":"","version":"v1","kind":"{kind}"}},"namespace":"apps","name":"n","object":{object},"oldObject":{old}}}"#
        )
    }

    fn secret(bytes: usize) -> String {
        format!(r#"{{"data":{{"blob":"{}"}}}}"#, b64(bytes))
    }

    /// A Secret of `bytes` of data and `count` labels of 79 bytes each.
    fn labelled_secret(bytes: usize, count: usize) -> String {
        let labels: Vec<String> = (0..count)
            .map(|i| format!(r#""example.com/l{i:06}":"{}""#, "v".repeat(60)))
            .collect();
        format!(
            r#"{{"metadata":{{"labels":{{{}}}}},"data":{{"blob":"{}"}}}}"#,
            labels.join(","),
            b64(bytes)
        )
    }

    /// A Secret of `bytes` of data, `labels` labels of 79 bytes each and, unless
    /// 0, an annotation `example.com/note` (16 bytes) with `annotation` bytes.
    fn annotated_secret(bytes: usize, labels: usize, annotation: usize) -> String {
        let labels: Vec<String> = (0..labels)
            .map(|i| format!(r#""example.com/l{i:06}":"{}""#, "v".repeat(60)))
            .collect();
        let mut metadata = vec![format!(r#""labels":{{{}}}"#, labels.join(","))];
        if annotation > 0 {
            metadata.push(format!(
                r#""annotations":{{"example.com/note":"{}"}}"#,
                "x".repeat(annotation)
            ));
        }
        format!(
            r#"{{"metadata":{{{}}},"data":{{"blob":"{}"}}}}"#,
            metadata.join(","),
            b64(bytes)
        )
    }

    /// `count` keys of 250 characters with empty values.
    fn keys_only(count: usize) -> String {
        let keys: Vec<String> = (0..count)
            .map(|i| format!(r#""{}{i:06}":"""#, "k".repeat(244)))
            .collect();
        format!(r#"{{"data":{{{}}}}}"#, keys.join(","))
    }

    /// A ConfigMap with `data` bytes in key `a` and, unless 0, a last-applied
    /// annotation of `annotation` bytes.
    fn last_applied(annotation: usize, data: usize) -> String {
        let metadata = if annotation == 0 {
            String::new()
        } else {
            format!(
                r#""metadata":{{"annotations":{{"{LAST_APPLIED}":"{}"}}}},"#,
                "x".repeat(annotation)
            )
        };
        format!(r#"{{{metadata}"data":{{"a":"{}"}}}}"#, "y".repeat(data))
    }

    fn judge(json: &str, settings: &Settings) -> Verdict {
        crate::policy::evaluate::<ObjectSize>(json, settings, &NoHost).expect("decodes")
    }

    #[rstest]
    #[case::zero(0, 0)]
    #[case::one(1, 1)]
    #[case::two(2, 2)]
    #[case::three(3, 3)]
    #[case::many(1000, 1000)]
    fn base64_length(#[case] bytes: usize, #[case] expected: u64) {
        assert_eq!(Base64::decoded_len(&b64(bytes)), expected);
    }

    #[rstest]
    #[case::small_secret(request("CREATE", "Secret", &secret(1000), "null"), true)]
    #[case::secret_at_limit(request("CREATE", "Secret", &secret(262_140), "null"), true)]
    #[case::secret_over_limit(request("CREATE", "Secret", &secret(262_141), "null"), false)]
    #[case::keys_only_config_map(request("CREATE", "ConfigMap", &keys_only(4000), "null"), false)]
    #[case::few_keys_only(request("CREATE", "ConfigMap", &keys_only(100), "null"), true)]
    #[case::last_applied_counted(request("CREATE", "ConfigMap", &last_applied(250 * 1024, 190 * 1024), "null"), false)]
    #[case::data_alone_within_limit(request("CREATE", "ConfigMap", &last_applied(0, 190 * 1024), "null"), true)]
    #[case::annotations_on_secret(request("CREATE", "Secret", &format!(r#"{{"metadata":{{"annotations":{{"a":"{}"}}}},"data":{{"b":"{}"}}}}"#, "x".repeat(200_000), b64(100_000)), "null"), false)]
    #[case::annotation_escapes_measured_decoded(request("CREATE", "ConfigMap", &format!(r#"{{"metadata":{{"annotations":{{"a":"{}"}}}}}}"#, "\\\"".repeat(200_000)), "null"), true)]
    #[case::update_dropping_last_applied(request("UPDATE", "ConfigMap", &last_applied(0, 190 * 1024), &last_applied(250 * 1024, 190 * 1024)), true)]
    #[case::update_keeping_last_applied(request("UPDATE", "ConfigMap", &last_applied(250 * 1024, 190 * 1024), &last_applied(250 * 1024, 190 * 1024)), true)]
    #[case::update_growing_last_applied(request("UPDATE", "ConfigMap", &last_applied(250 * 1024, 190 * 1024), &last_applied(0, 190 * 1024)), false)]
    #[case::null_metadata(
        request("CREATE", "ConfigMap", r#"{"metadata":null,"data":{"a":"b"}}"#, "null"),
        true
    )]
    #[case::null_annotations(
        request(
            "CREATE",
            "Secret",
            r#"{"metadata":{"annotations":null,"labels":{"a":"b"}},"data":{"a":"YQ=="}}"#,
            "null"
        ),
        true
    )]
    #[case::talk_900_kib(request("CREATE", "Secret", &secret(900 * 1024), "null"), false)]
    #[case::tls_type_limit(request("CREATE", "Secret", &format!(r#"{{"type":"kubernetes.io/tls","data":{{"tls.crt":"{}"}}}}"#, b64(70_000)), "null"), false)]
    #[case::helm_type_limit(request("CREATE", "Secret", &format!(r#"{{"type":"helm.sh/release.v1","data":{{"release":"{}"}}}}"#, b64(400_000)), "null"), true)]
    #[case::string_data_counts(request("CREATE", "Secret", &format!(r#"{{"stringData":{{"a":"{}"}}}}"#, "x".repeat(300_000)), "null"), false)]
    #[case::string_data_overrides_data(request("CREATE", "Secret", &format!(r#"{{"data":{{"a":"{}"}},"stringData":{{"a":"small"}}}}"#, b64(300_000)), "null"), true)]
    #[case::config_map_data(request("CREATE", "ConfigMap", &format!(r#"{{"data":{{"a":"{}"}}}}"#, "x".repeat(300_000)), "null"), false)]
    #[case::config_map_binary_data(request("CREATE", "ConfigMap", &format!(r#"{{"data":{{"a":"x"}},"binaryData":{{"b":"{}"}}}}"#, b64(300_000)), "null"), false)]
    #[case::escaped_strings_measured_decoded(request("CREATE", "ConfigMap", &format!(r#"{{"data":{{"a":"{}"}}}}"#, "\\n".repeat(200_000)), "null"), true)]
    #[case::shrinking_update(request("UPDATE", "Secret", &secret(600_000), &secret(700_000)), true)]
    #[case::unchanged_update(request("UPDATE", "Secret", &secret(600_000), &secret(600_000)), true)]
    #[case::growing_update(request("UPDATE", "Secret", &secret(700_000), &secret(600_000)), false)]
    #[case::update_crossing_limit(request("UPDATE", "Secret", &secret(300_000), &secret(1_000)), false)]
    #[case::delete(request("DELETE", "Secret", "null", &secret(900_000)), true)]
    #[case::other_kind(request("CREATE", "Pod", &secret(900_000), "null"), true)]
    #[case::labels_counted(request("CREATE", "Secret", &labelled_secret(10, 3400), "null"), false)]
    #[case::few_labels(request("CREATE", "Secret", &labelled_secret(200_000, 10), "null"), true)]
    #[case::update_relabelling_within_allowance(request("UPDATE", "Secret", &labelled_secret(600_000, 51), &secret(600_000)), true)]
    #[case::update_labels_beyond_allowance(request("UPDATE", "Secret", &labelled_secret(600_000, 52), &secret(600_000)), false)]
    #[case::update_annotating_within_allowance(request("UPDATE", "Secret", &annotated_secret(600_000, 0, 4080), &secret(600_000)), true)]
    #[case::update_annotations_beyond_allowance(request("UPDATE", "Secret", &annotated_secret(600_000, 0, 4081), &secret(600_000)), false)]
    #[case::update_labels_and_annotations_share_allowance(request("UPDATE", "Secret", &annotated_secret(600_000, 40, 1000), &secret(600_000)), false)]
    #[case::update_labels_and_annotations_within_allowance(request("UPDATE", "Secret", &annotated_secret(600_000, 40, 900), &secret(600_000)), true)]
    #[case::update_annotating_again_beyond_allowance(request("UPDATE", "Secret", &annotated_secret(600_000, 0, 4100), &annotated_secret(600_000, 0, 4080)), false)]
    #[case::update_shrinking_data_while_annotating(request("UPDATE", "Secret", &annotated_secret(599_000, 0, 1000), &secret(600_000)), true)]
    #[case::update_growing_data_while_annotating(request("UPDATE", "Secret", &annotated_secret(600_001, 0, 10), &annotated_secret(600_000, 0, 10)), false)]
    #[case::update_growing_last_applied_slightly(request("UPDATE", "ConfigMap", &last_applied(250 * 1024 + 1, 190 * 1024), &last_applied(250 * 1024, 190 * 1024)), false)]
    #[case::update_labels_beyond_allowance_unchanged(request("UPDATE", "Secret", &labelled_secret(600_000, 60), &labelled_secret(600_000, 60)), true)]
    #[case::null_values(
        request(
            "CREATE",
            "ConfigMap",
            r#"{"data":{"a":null},"binaryData":null}"#,
            "null"
        ),
        true
    )]
    fn judges(#[case] json: String, #[case] accepted: bool) {
        assert_eq!(judge(&json, &Settings::default()).is_accepted(), accepted);
    }

    #[test]
    fn message_names_size_limit_keys_and_fix() {
        let verdict = judge(
            &request("CREATE", "Secret", &secret(900 * 1024), "null"),
            &Settings::default(),
        );
        let response = verdict.into_response("object-size", "Secret apps/n");
        let message = response.message.unwrap_or_default();
        for needle in [
            "Secret apps/n",
            "data+stringData = 921604 bytes (900.0 KiB)",
            "262144 bytes (256.0 KiB) limit for Secrets of type Opaque",
            "921604 bytes (900.0 KiB) of keys and values (1 key)",
            "blob: 921604 bytes",
            "OOM-killed",
            "secrets in an external secret store (e.g. Vault), bulk files in object storage, on a volume or in the container image",
            "it caches split Secrets and custom resources too",
            "limits.Secret",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
        for needle in ["CustomResource", "split the object", "This update"] {
            assert!(!message.contains(needle), "{needle} in {message}");
        }
    }

    /// Non-secret data is not sent to a secret store.
    #[test]
    fn config_map_fix_names_stores_outside_the_api_server() {
        let verdict = judge(
            &request("CREATE", "ConfigMap", &last_applied(0, 300_000), "null"),
            &Settings::default(),
        );
        let message = verdict
            .into_response("object-size", "ConfigMap apps/n")
            .message
            .unwrap_or_default();
        assert!(
            message.contains("keep large data outside kube-apiserver (it caches split ConfigMaps and custom resources too): in object storage, on a volume or in the container image, referenced from here. If it must be this large, raise `limits.ConfigMap`"),
            "{message}"
        );
        for needle in [
            "secret store",
            "Vault",
            "CustomResource",
            "split the object",
        ] {
            assert!(!message.contains(needle), "{needle} in {message}");
        }
    }

    /// A refused update shows the two figures it was judged by.
    #[rstest]
    #[case::metadata_left_out(
        annotated_secret(300_100, 0, 0),
        annotated_secret(300_000, 0, 3000),
        "This update grows its keys and values from 300004 bytes (293.0 KiB) to 300104 bytes (293.1 KiB); labels and other annotations, up to 4 KiB together, are not counted."
    )]
    #[case::last_applied_counted(
        format!(r#"{{"metadata":{{"annotations":{{"{LAST_APPLIED}":"{}"}}}},"data":{{"blob":"{}"}}}}"#, "x".repeat(100), b64(300_000)),
        annotated_secret(300_000, 0, 3000),
        "This update grows its keys and values, with the last-applied copy, from 300004 bytes (293.0 KiB) to 300152 bytes (293.1 KiB); labels and other annotations"
    )]
    #[case::no_metadata(
        secret(300_100),
        secret(300_000),
        "This update grows it from 300004 bytes (293.0 KiB) to 300104 bytes (293.1 KiB)."
    )]
    #[case::metadata_beyond_allowance(
        annotated_secret(300_000, 0, 5000),
        annotated_secret(300_000, 0, 4090),
        "This update grows it from 304110 bytes (297.0 KiB) to 305020 bytes (297.9 KiB)."
    )]
    fn refused_update_shows_compared_sizes(
        #[case] new: String,
        #[case] old: String,
        #[case] expected: &str,
    ) {
        let verdict = judge(
            &request("UPDATE", "Secret", &new, &old),
            &Settings::default(),
        );
        let message = verdict
            .into_response("object-size", "Secret apps/n")
            .message
            .unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }

    /// A release record of Helm's ConfigMap driver.
    fn helm_config_map(bytes: usize, owner: &str) -> String {
        format!(
            r#"{{"metadata":{{"labels":{{"name":"web","owner":"{owner}","status":"deployed","version":"3"}}}},"data":{{"release":"{}"}}}}"#,
            "x".repeat(bytes)
        )
    }

    fn config_map_named(name: &str, object: &str) -> String {
        request("CREATE", "ConfigMap", object, "null")
            .replace(r#""name":"n""#, &format!(r#""name":"{name}""#))
    }

    #[rstest]
    #[case::helm_record_within_helm_limit(
        "sh.helm.release.v1.web.v3",
        helm_config_map(400_000, "helm"),
        true
    )]
    #[case::helm_record_over_helm_limit(
        "sh.helm.release.v1.web.v3",
        helm_config_map(530_000, "helm"),
        false
    )]
    #[case::other_owner("sh.helm.release.v1.web.v3", helm_config_map(400_000, "flux"), false)]
    #[case::other_name("web-release", helm_config_map(400_000, "helm"), false)]
    #[case::escaped_owner(
        "sh.helm.release.v1.web.v3",
        helm_config_map(400_000, r"hel\u006d"),
        true
    )]
    fn helm_config_map_records_get_the_helm_limit(
        #[case] name: &str,
        #[case] object: String,
        #[case] accepted: bool,
    ) {
        let verdict = judge(&config_map_named(name, &object), &Settings::default());
        assert_eq!(verdict.is_accepted(), accepted);
    }

    /// Final read 47: a `limits.ConfigMap` raised above the Helm limit still
    /// holds for Helm's release records, as it did before they were told apart.
    #[rstest]
    #[case::under_the_raised_limit(600_000, true)]
    #[case::over_the_raised_limit(950_000, false)]
    fn helm_config_map_records_keep_a_higher_config_map_limit(
        #[case] bytes: usize,
        #[case] accepted: bool,
    ) {
        let mut settings = Settings::default();
        settings.limits.config_map = ByteSize(900 * ByteSize::KIB);
        let json = config_map_named("sh.helm.release.v1.web.v3", &helm_config_map(bytes, "helm"));
        let verdict = judge(&json, &settings);
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
        if !accepted {
            let message = verdict
                .into_response("object-size", "ConfigMap apps/sh.helm.release.v1.web.v3")
                .message
                .unwrap_or_default();
            assert!(message.contains("raise `limits.ConfigMap`"), "{message}");
        }
    }

    #[rstest]
    #[case::default_settings(
        Settings::default(),
        "raise `secretTypeLimits[\"helm.sh/release.v1\"]` on purpose"
    )]
    #[case::no_helm_limit(Settings { secret_type_limits: BTreeMap::new(), ..Settings::default() }, "raise `limits.ConfigMap` on purpose")]
    fn helm_config_map_records_get_the_helm_fix(#[case] settings: Settings, #[case] raise: &str) {
        let json = config_map_named(
            "sh.helm.release.v1.web.v3",
            &helm_config_map(600_000, "helm"),
        );
        let message = judge(&json, &settings)
            .into_response("object-size", "ConfigMap apps/sh.helm.release.v1.web.v3")
            .message
            .unwrap_or_default();
        for needle in [
            "limit for ConfigMaps that hold Helm release records",
            "this ConfigMap is a Helm release record",
            "`HELM_DRIVER=sql`, PostgreSQL), which keeps them out of ConfigMaps",
            ".helmignore",
            "helm upgrade --history-max",
            raise,
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
        assert!(!message.contains("object storage"), "{message}");
    }

    #[rstest]
    #[case::helm_release(
        "helm.sh/release.v1",
        600_000,
        &["HELM_DRIVER=sql", ".helmignore", "helm upgrade --history-max", "raise `secretTypeLimits[\"helm.sh/release.v1\"]` on purpose"],
        &["Vault", "split the object"]
    )]
    #[case::tls(
        "kubernetes.io/tls",
        70_000,
        &["`tls.key`", "CA bundles separately, in a ConfigMap (e.g. with trust-manager)", "raise `secretTypeLimits[\"kubernetes.io/tls\"]`"],
        &["Vault", "split the object"]
    )]
    #[case::docker_config_json(
        "kubernetes.io/dockerconfigjson",
        70_000,
        &["Vault", "object storage", "raise `secretTypeLimits[\"kubernetes.io/dockerconfigjson\"]`"],
        &["HELM_DRIVER", "trust-manager", "split the object", "CustomResource"]
    )]
    #[case::opaque("Opaque", 300_000, &["Vault", "object storage", "raise `limits.Secret`"], &["HELM_DRIVER", "trust-manager", "split the object", "CustomResource"])]
    fn fix_depends_on_secret_type(
        #[case] secret_type: &str,
        #[case] bytes: usize,
        #[case] present: &[&str],
        #[case] absent: &[&str],
    ) {
        let object = format!(
            r#"{{"type":"{secret_type}","data":{{"a":"{}"}}}}"#,
            b64(bytes)
        );
        let verdict = judge(
            &request("CREATE", "Secret", &object, "null"),
            &Settings::default(),
        );
        let message = verdict
            .into_response("object-size", "Secret apps/n")
            .message
            .unwrap_or_default();
        for needle in present {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
        for needle in absent {
            assert!(!message.contains(needle), "{needle} in {message}");
        }
    }

    #[test]
    fn keys_are_measured_and_counted() {
        let verdict = judge(
            &request("CREATE", "ConfigMap", &keys_only(4000), "null"),
            &Settings::default(),
        );
        let message = verdict
            .into_response("object-size", "ConfigMap apps/n")
            .message
            .unwrap_or_default();
        for needle in [
            "data+binaryData = 1000000 bytes (976.6 KiB)",
            "of keys and values (4000 keys)",
            "000000: 250 bytes",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }

    #[rstest]
    #[case::last_applied_the_larger_part(250 * 1024, 190 * 1024, true)]
    #[case::last_applied_the_smaller_part(100 * 1024, 190 * 1024, false)]
    fn annotations_shown_apart_with_server_side_fix(
        #[case] annotation: usize,
        #[case] data: usize,
        #[case] server_side: bool,
    ) {
        let verdict = judge(
            &request(
                "CREATE",
                "ConfigMap",
                &last_applied(annotation, data),
                "null",
            ),
            &Settings::default(),
        );
        let message = verdict
            .into_response("object-size", "ConfigMap apps/n")
            .message
            .unwrap_or_default();
        let annotations = size((LAST_APPLIED.len() + annotation) as u64);
        for needle in [
            "data+binaryData+metadata.annotations = ".to_string(),
            format!(
                "{} of keys and values (1 key) and {annotations} of metadata.annotations ({annotations} in {LAST_APPLIED})",
                size(data as u64 + 1)
            ),
        ] {
            assert!(message.contains(&needle), "{needle} missing from {message}");
        }
        let fix = format!("`kubectl apply --server-side`, which keeps no such copy (on an existing ConfigMap, first remove it: `kubectl annotate configmap -n apps n {LAST_APPLIED}-`); a GitOps tool needs its own server-side apply option (Argo CD: the `ServerSideApply=true` sync option), or its next client-side sync adds the copy again.");
        assert_eq!(message.contains(&fix), server_side, "{message}");
    }

    #[test]
    fn shrinking_update_warns() {
        let verdict = judge(
            &request("UPDATE", "Secret", &secret(600_000), &secret(700_000)),
            &Settings::default(),
        );
        assert_eq!(verdict.warnings.len(), 1);
        assert!(verdict.warnings[0].contains("does not grow"));
    }

    #[test]
    fn wrong_types_are_decode_errors() {
        let json = request("CREATE", "Secret", r#"{"data":{"a":7}}"#, "null");
        let error = crate::policy::evaluate::<ObjectSize>(&json, &Settings::default(), &NoHost)
            .unwrap_err();
        assert!(error.to_string().contains("object: data"), "{error}");
    }

    #[rstest]
    #[case::zero(r#"{"limits":{"Secret":0}}"#, "limits.Secret: must be greater than 0")]
    #[case::negative(r#"{"limits":{"ConfigMap":-1}}"#, "limits.ConfigMap")]
    #[case::above_cap(r#"{"limits":{"ConfigMap":"2Mi"}}"#, "above the API server's own cap")]
    #[case::unknown_kind(r#"{"limits":{"Pod":1000}}"#, "unknown field `Pod`")]
    #[case::unknown_key(r#"{"limit":{"Secret":1000}}"#, "unknown field `limit`")]
    #[case::bad_type_limit(
        r#"{"secretTypeLimits":{"kubernetes.io/tls":0}}"#,
        "secretTypeLimits[\"kubernetes.io/tls\"]"
    )]
    #[case::bad_exemption(
        r#"{"exemptions":{"serviceAccounts":["x"]}}"#,
        "exemptions.serviceAccounts[0]"
    )]
    #[case::duplicate_type(
        r#"{"secretTypeLimits":{"kubernetes.io/tls":"1Ki","kubernetes.io/tls":"1Mi"}}"#,
        "secretTypeLimits: Secret type `kubernetes.io/tls` is listed twice"
    )]
    #[case::type_in_other_case(
        r#"{"secretTypeLimits":{"kubernetes.io/TLS":"32Ki"}}"#,
        "secretTypeLimits[\"kubernetes.io/TLS\"]: Secret types are matched exactly, case and spaces included, so this entry would not apply to Secrets of type `kubernetes.io/tls`; write `kubernetes.io/tls`"
    )]
    #[case::opaque_lower_case(r#"{"secretTypeLimits":{"opaque":"32Ki"}}"#, "secretTypeLimits[\"opaque\"]: Secret types are matched exactly, case and spaces included, so this entry would not apply to Secrets of type `Opaque`; write `Opaque`")]
    #[case::leading_space(
        r#"{"secretTypeLimits":{" kubernetes.io/tls":"32Ki"}}"#,
        "secretTypeLimits[\" kubernetes.io/tls\"]: Secret types"
    )]
    #[case::trailing_space_custom_type(
        r#"{"secretTypeLimits":{"example.com/bundle ":"32Ki"}}"#,
        "write `example.com/bundle`"
    )]
    #[case::space_and_case(
        r#"{"secretTypeLimits":{"Helm.sh/Release.v1\t":"768Ki"}}"#,
        "write `helm.sh/release.v1`"
    )]
    #[case::tebibyte(
        r#"{"limits":{"Secret":"1Ti"}}"#,
        "limits.Secret: 1099511627776 bytes (1048576.0 MiB) is above the API server's own cap"
    )]
    #[case::fraction_of_a_byte(r#"{"limits":{"Secret":"0.5"}}"#, "not a whole number of bytes")]
    fn refuses_invalid_settings(#[case] json: &str, #[case] expected: &str) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }

    #[rstest]
    #[case::half_mebibyte(r#"{"limits":{"Secret":"0.5Mi"}}"#, 524_288)]
    #[case::decimal_mebibytes(r#"{"limits":{"Secret":"0.75Mi"}}"#, 786_432)]
    #[case::exponent(r#"{"limits":{"Secret":"1e5"}}"#, 100_000)]
    #[case::milli(r#"{"limits":{"Secret":"512000000m"}}"#, 512_000)]
    #[case::json_float(r#"{"limits":{"Secret":1e5}}"#, 100_000)]
    fn kubernetes_quantities_are_accepted(#[case] json: &str, #[case] bytes: u64) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let settings: Settings = crate::settings::parse(Some(&raw)).expect("valid");
        assert_eq!(settings.limits.secret, ByteSize(bytes));
    }

    #[rstest]
    #[case::known_type("kubernetes.io/tls")]
    #[case::helm("helm.sh/release.v1")]
    #[case::custom_type("example.com/Bundle")]
    #[case::custom_type_with_inner_space("example.com/my bundle")]
    fn exact_secret_types_are_accepted(#[case] secret_type: &str) {
        assert_eq!(misspelt_type(secret_type), None);
    }

    /// A section given in part keeps its other fields' defaults.
    #[test]
    fn partial_settings_keep_sibling_defaults() {
        let raw = serde_json::value::RawValue::from_string(
            r#"{"exemptions":{"namespaces":["vault-system"]}}"#.to_string(),
        )
        .expect("json");
        let settings: Settings = crate::settings::parse(Some(&raw)).expect("valid");
        let defaults = Settings::default();
        assert_eq!(settings.limits, defaults.limits);
        assert_eq!(settings.secret_type_limits, defaults.secret_type_limits);
    }

    #[test]
    fn quantities_and_partial_limits_are_accepted() {
        let raw = serde_json::value::RawValue::from_string(
            r#"{"limits":{"Secret":"128Ki"}}"#.to_string(),
        )
        .expect("json");
        let settings: Settings = crate::settings::parse(Some(&raw)).expect("valid");
        assert_eq!(settings.limits.secret, ByteSize::kib(128));
        assert_eq!(settings.limits.config_map, ByteSize::kib(256));
    }
}
