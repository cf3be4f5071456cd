//! Building blocks for rule settings: strict decoding and per-section validation.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// A settings problem, naming the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub field: String,
    pub problem: String,
}

impl SettingsError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Places the error below `section`, e.g. `exemptions` + `users[0]`.
    pub fn within(mut self, section: &str) -> Self {
        self.field = if self.field.is_empty() {
            section.to_string()
        } else if self.field.starts_with('[') {
            format!("{section}{}", self.field)
        } else {
            format!("{section}.{}", self.field)
        };
        self
    }
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "invalid settings: {}", self.problem)
        } else {
            write!(f, "invalid settings: {}: {}", self.field, self.problem)
        }
    }
}

/// A settings section that checks what serde cannot.
pub trait Validate {
    fn validate(&self) -> Result<(), SettingsError>;
}

/// Validates `section` and places any error below `name`.
pub fn validate_section<V: Validate + ?Sized>(
    name: &str,
    section: &V,
) -> Result<(), SettingsError> {
    section.validate().map_err(|e| e.within(name))
}

/// Decodes settings strictly (unknown keys refused) and validates them.
/// Absent, `null` or `{}` settings give the defaults, which every rule's
/// tests validate once (`registry`), not every request.
pub fn parse<S>(raw: Option<&RawValue>) -> Result<S, SettingsError>
where
    S: DeserializeOwned + Default + Validate,
{
    let settings: S = match raw.map(RawValue::get) {
        None | Some("null" | "{}") => return Ok(S::default()),
        Some(json) if !json.trim_start().starts_with('{') => {
            return Err(SettingsError::new(
                "",
                format!(
                    "invalid type: settings must be an object, got `{}`",
                    preview(json)
                ),
            ))
        }
        Some(json) => crate::json::from_str(json).map_err(|e| {
            SettingsError::new(
                crate::json_path::error_path(json.as_bytes(), &e),
                e.to_string(),
            )
        })?,
    };
    settings.validate()?;
    Ok(settings)
}

/// Settings decoded by an earlier call, by type and raw text.
struct Decoded {
    type_id: TypeId,
    raw: Box<str>,
    settings: Rc<dyn Any>,
}

thread_local! {
    static DECODED: RefCell<Vec<Decoded>> = const { RefCell::new(Vec::new()) };
}

/// `decode(raw)`, reused while `raw` stays the same: policy-server sends an
/// instance the same settings with every request, so they are decoded and
/// validated once per instance (one entry per type). Errors are not kept.
/// Kept settings live outside the per-call arena ([`crate::arena::lasting`]).
pub fn cached<T, E>(
    raw: Option<&RawValue>,
    decode: impl FnOnce(Option<&RawValue>) -> Result<T, E>,
) -> Result<Rc<T>, E>
where
    T: 'static,
{
    let type_id = TypeId::of::<T>();
    let key = raw.map_or("", RawValue::get);
    let hit = DECODED
        .try_with(|decoded| {
            let decoded = decoded.try_borrow().ok()?;
            let entry = decoded
                .iter()
                .find(|d| d.type_id == type_id && *d.raw == *key)?;
            Rc::clone(&entry.settings).downcast::<T>().ok()
        })
        .ok()
        .flatten();
    if let Some(settings) = hit {
        return Ok(settings);
    }
    crate::arena::lasting(|| {
        let settings = Rc::new(decode(raw)?);
        let _ = DECODED.try_with(|decoded| {
            if let Ok(mut decoded) = decoded.try_borrow_mut() {
                decoded.retain(|d| d.type_id != type_id);
                decoded.push(Decoded {
                    type_id,
                    raw: key.into(),
                    settings: Rc::clone(&settings) as Rc<dyn Any>,
                });
            }
        });
        Ok(settings)
    })
}

/// The payload without its last member and the settings it holds, when that
/// member is `"settings"` with the raw text last decoded as `T`:
/// policy-server and kwctl write `{"request":…,"settings":…}` compactly,
/// settings last, so a warm instance need not scan them again.
pub fn cached_last_member<T: 'static>(payload: &str) -> Option<(&str, Rc<T>)> {
    DECODED
        .try_with(|decoded| {
            let decoded = decoded.try_borrow().ok()?;
            let entry = decoded
                .iter()
                .find(|d| d.type_id == TypeId::of::<T>() && !d.raw.is_empty())?;
            let head = payload
                .strip_suffix('}')?
                .strip_suffix(&*entry.raw)?
                .strip_suffix(",\"settings\":")?;
            let settings = Rc::clone(&entry.settings).downcast::<T>().ok()?;
            Some((head, settings))
        })
        .ok()
        .flatten()
}

fn preview(json: &str) -> String {
    let mut text: String = json.chars().take(40).collect();
    if text.len() < json.len() {
        text.push('…');
    }
    text
}

/// An RFC 1123 DNS label: at most 63 of `a-z`, `0-9`, `-`, alphanumeric at both ends.
pub fn is_dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    text.len() <= 63
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

/// An RFC 1123 DNS subdomain (an API group, a label key's prefix): dot-separated
/// DNS labels, at most 253 bytes.
pub fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
}

/// Refuses an empty entry in a list of names.
pub fn non_empty_entries(field: &str, entries: &[String]) -> Result<(), SettingsError> {
    match entries.iter().position(|e| e.trim().is_empty()) {
        Some(index) => Err(SettingsError::new(
            format!("{field}[{index}]"),
            "must not be empty",
        )),
        None => Ok(()),
    }
}

/// Refuses an empty entry, or one that is not a namespace name (it would never match).
pub fn namespace_names(field: &str, entries: &[String]) -> Result<(), SettingsError> {
    non_empty_entries(field, entries)?;
    match entries.iter().enumerate().find(|(_, n)| !is_dns_label(n)) {
        Some((index, name)) => Err(SettingsError::new(
            format!("{field}[{index}]"),
            format!("`{name}` is not a namespace name: at most 63 of a-z, 0-9 and `-`, starting and ending alphanumeric; no wildcards"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default, rename_all = "camelCase")]
    struct Sample {
        limit: u32,
        names: Vec<String>,
    }

    impl Default for Sample {
        fn default() -> Self {
            Self {
                limit: 3,
                names: vec![],
            }
        }
    }

    impl Validate for Sample {
        fn validate(&self) -> Result<(), SettingsError> {
            if self.limit == 0 {
                return Err(SettingsError::new("limit", "must be greater than 0"));
            }
            non_empty_entries("names", &self.names)
        }
    }

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_string()).expect("valid json")
    }

    #[rstest]
    #[case::null("null")]
    #[case::empty("{}")]
    fn defaults(#[case] json: &str) {
        let parsed: Sample = parse(Some(&raw(json))).expect("valid");
        assert_eq!(parsed, Sample::default());
    }

    #[rstest]
    #[case::unknown_key(r#"{"limt": 3}"#, "unknown field `limt`")]
    #[case::wrong_type(r#"{"limit": "x"}"#, "limit: invalid type")]
    #[case::negative(r#"{"limit": -1}"#, "limit: invalid value")]
    #[case::zero(r#"{"limit": 0}"#, "limit: must be greater than 0")]
    #[case::empty_name(r#"{"names": ["a", ""]}"#, "names[1]: must not be empty")]
    #[case::not_an_object("[1]", "invalid type")]
    fn refuses_invalid(#[case] json: &str, #[case] expected: &str) {
        let error = parse::<Sample>(Some(&raw(json))).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }

    fn cached_sample(json: &str) -> Result<Rc<Sample>, SettingsError> {
        cached(Some(&raw(json)), parse::<Sample>)
    }

    #[test]
    fn same_settings_are_decoded_once() {
        let first = cached_sample(r#"{"limit": 7}"#).expect("valid");
        let again = cached_sample(r#"{"limit": 7}"#).expect("valid");
        assert!(Rc::ptr_eq(&first, &again));
        assert_eq!(again.limit, 7);
    }

    #[test]
    fn changed_settings_are_decoded_again() {
        let first = cached_sample(r#"{"limit": 7}"#).expect("valid");
        let changed = cached_sample(r#"{"limit": 8}"#).expect("valid");
        assert_eq!((first.limit, changed.limit), (7, 8));
        let back = cached_sample(r#"{"limit": 7}"#).expect("valid");
        assert!(!Rc::ptr_eq(&first, &back));
        assert_eq!(back.limit, 7);
    }

    #[test]
    fn invalid_settings_are_refused_every_time() {
        let valid = cached_sample(r#"{"limit": 7}"#).expect("valid");
        for _ in 0..2 {
            let error = cached_sample(r#"{"limit": 0}"#).unwrap_err();
            assert_eq!(error.field, "limit");
        }
        let again = cached_sample(r#"{"limit": 7}"#).expect("valid");
        assert!(Rc::ptr_eq(&valid, &again));
    }

    #[test]
    fn types_with_the_same_text_do_not_share() {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Other {
            #[serde(default)]
            limit: u64,
        }
        impl Validate for Other {
            fn validate(&self) -> Result<(), SettingsError> {
                Ok(())
            }
        }
        let json = r#"{"limit": 9}"#;
        let sample = cached_sample(json).expect("valid");
        let other = cached(Some(&raw(json)), parse::<Other>).expect("valid");
        assert_eq!((sample.limit, other.limit), (9, 9));
        assert!(Rc::ptr_eq(&sample, &cached_sample(json).expect("valid")));
    }

    #[test]
    fn absent_settings_are_the_defaults() {
        let absent = cached(None, parse::<Sample>).expect("valid");
        assert_eq!(*absent, Sample::default());
    }

    #[test]
    fn nested_errors_name_the_whole_path() {
        let error = SettingsError::new("[2]", "bad")
            .within("users")
            .within("exemptions");
        assert_eq!(error.field, "exemptions.users[2]");
    }
}
