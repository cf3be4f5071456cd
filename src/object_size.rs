//! object-size (crash 2): Secrets and ConfigMaps large enough that many of
//! them get kube-apiserver OOM-killed, since it caches every one of them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::btree;
use crate::exemptions::Exemptions;
use crate::host::Host;
use crate::policy::Rule;
use crate::quantity::ByteSize;
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::settings::{validate_section, SettingsError, Validate};
use crate::violation::{Verdict, Violation};

/// The API server refuses Secrets and ConfigMaps above 1 MiB; a larger limit never applies.
pub const API_SERVER_CAP: ByteSize = ByteSize(ByteSize::MIB);
const LARGEST_KEYS_SHOWN: usize = 3;

pub struct ObjectSize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// Limit per kind.
    pub limits: KindLimits,
    /// Limit per Secret `type`, overriding `limits.Secret`. Replaces the default map when set.
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
                ("helm.sh/release.v1".to_string(), ByteSize::kib(512)),
            ]),
            exemptions: Exemptions::default(),
        }
    }
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
            check_limit(&format!("secretTypeLimits[\"{secret_type}\"]"), *limit)?;
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
    fn limit(&self, kind: Kind, secret_type: &str) -> (ByteSize, String) {
        match kind {
            Kind::ConfigMap => (self.limits.config_map, "limits.ConfigMap".to_string()),
            Kind::Secret => match self.secret_type_limits.get(secret_type) {
                Some(limit) => (*limit, format!("secretTypeLimits[\"{secret_type}\"]")),
                None => (self.limits.secret, "limits.Secret".to_string()),
            },
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

/// A `map[string]string` or `map[string][]byte`, kept as key and decoded size.
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

#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

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
                while let Some((key, value)) = map.next_entry::<Text, Option<Text>>()? {
                    let size = value.map_or(0, |v| E::decoded_len(&v.0));
                    entries.sizes.push((key.0, size));
                }
                Ok(entries)
            }
        }

        deserializer.deserialize_any(EntriesVisitor(PhantomData))
    }
}

/// What the rule reads of a Secret; decoded in the request's pass
/// ([`Rule::prefetch`]), since Secrets are the objects that grow large.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretPayload<'a> {
    #[serde(default, borrow, rename = "type")]
    secret_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Entries<'a, Base64>,
    #[serde(default, borrow)]
    string_data: Entries<'a, Plain>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapPayload<'a> {
    #[serde(default, borrow)]
    data: Entries<'a, Plain>,
    #[serde(default, borrow)]
    binary_data: Entries<'a, Base64>,
}

/// The payload size of one object.
#[derive(Debug, PartialEq, Eq)]
struct Measurement {
    bytes: u64,
    secret_type: String,
    largest: Vec<(String, u64)>,
}

fn measure_entries<'a>(
    kept: impl Iterator<Item = &'a (Cow<'a, str>, u64)>,
    secret_type: String,
) -> Measurement {
    let mut bytes = 0u64;
    let mut largest: Vec<(&str, u64)> = Vec::with_capacity(LARGEST_KEYS_SHOWN + 1);
    for (key, size) in kept {
        bytes = bytes.saturating_add(*size);
        let position = largest
            .iter()
            .position(|(k, s)| size > s || (size == s && key.as_ref() < *k))
            .unwrap_or(largest.len());
        if position < LARGEST_KEYS_SHOWN {
            largest.insert(position, (key.as_ref(), *size));
            largest.truncate(LARGEST_KEYS_SHOWN);
        }
    }
    Measurement {
        bytes,
        secret_type,
        largest: largest
            .into_iter()
            .map(|(k, s)| (k.to_string(), s))
            .collect(),
    }
}

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
    measure_entries(data.chain(secret.string_data.sizes.iter()), secret_type)
}

fn measure_config_map(config_map: &ConfigMapPayload) -> Measurement {
    let entries = config_map.data.sizes.iter();
    measure_entries(
        entries.chain(config_map.binary_data.sizes.iter()),
        String::new(),
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
            Kind::ConfigMap => request.object()?.as_ref().map(measure_config_map),
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
            (Operation::Update, Kind::ConfigMap) => {
                request.old_object()?.as_ref().map(measure_config_map)
            }
            _ => None,
        };
        if let Some(old) = &old {
            if old.bytes >= new.bytes {
                return Ok(Verdict::accept().with_warning(format!(
                    "crash-guard/object-size: {} holds {}, over the {} limit; allowed because this update does not grow it. Shrink it: kube-apiserver caches every {}.",
                    request.object_ref(),
                    size(new.bytes),
                    limit,
                    kind_name(kind),
                )));
            }
        }
        Ok(violation(kind, &new, old.as_ref(), limit, &limit_setting))
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Secret => "Secret",
        Kind::ConfigMap => "ConfigMap",
    }
}

fn violation(
    kind: Kind,
    new: &Measurement,
    old: Option<&Measurement>,
    limit: ByteSize,
    limit_setting: &str,
) -> Verdict {
    let (field, scope) = match kind {
        Kind::Secret => (
            "data+stringData",
            format!("Secrets of type {}", new.secret_type),
        ),
        Kind::ConfigMap => ("data+binaryData", "ConfigMaps".to_string()),
    };
    let growth = match old {
        Some(old) => format!(" (this update grows it from {})", size(old.bytes)),
        None => String::new(),
    };
    let largest = new
        .largest
        .iter()
        .map(|(key, bytes)| format!("{key}: {}", size(*bytes)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut verdict = Verdict::accept();
    verdict.violation(Violation::new(
        field,
        size(new.bytes),
        format!(
            "the payload is over the {limit} limit for {scope}{growth}; largest keys: {largest}. \
             kube-apiserver keeps every {kind} in memory (its watch cache), so many large ones, up to the 1 MiB cap each, get it OOM-killed.",
            kind = kind_name(kind),
        ),
        format!(
            "keep large data out of {kind}s: in a dedicated secret store (e.g. Vault) or a CustomResource, \
             and reference it from here; or split the object. If it must be this large, raise `{limit_setting}` in the policy settings.",
            kind = kind_name(kind),
        ),
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
    #[case::secret_at_limit(request("CREATE", "Secret", &secret(262_144), "null"), true)]
    #[case::secret_over_limit(request("CREATE", "Secret", &secret(262_145), "null"), false)]
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
            "data+stringData = 921600 bytes (900.0 KiB)",
            "262144 bytes (256.0 KiB) limit for Secrets of type Opaque",
            "blob: 921600 bytes",
            "OOM-killed",
            "Vault",
            "CustomResource",
            "limits.Secret",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
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
    fn refuses_invalid_settings(#[case] json: &str, #[case] expected: &str) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
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
