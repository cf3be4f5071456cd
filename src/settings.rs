//! Building blocks for rule settings: strict decoding and per-section validation.

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
        Some(json) => serde_json::from_str(json).map_err(|e| {
            SettingsError::new(
                crate::json_path::error_path(json.as_bytes(), &e),
                e.to_string(),
            )
        })?,
    };
    settings.validate()?;
    Ok(settings)
}

fn preview(json: &str) -> String {
    let mut text: String = json.chars().take(40).collect();
    if text.len() < json.len() {
        text.push('…');
    }
    text
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

    #[test]
    fn nested_errors_name_the_whole_path() {
        let error = SettingsError::new("[2]", "bad")
            .within("users")
            .within("exemptions");
        assert_eq!(error.field, "exemptions.users[2]");
    }
}
