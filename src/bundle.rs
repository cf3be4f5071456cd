//! The crash-guard bundle: every rule in one module. Settings hold one section
//! per rule (`enabled`, and the rule's own `settings`); each refusal reads
//! exactly as the rule's own module words it.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::host::Host;
use crate::policy::BAD_REQUEST;
use crate::registry::{self, RULES};
use crate::request::Request;
use crate::response::{SettingsValidationResponse, ValidationResponse};
use crate::settings::SettingsError;

pub const NAME: &str = "crash-guard";

/// One rule's section of the bundle's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Section {
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default)]
    pub settings: Option<Box<RawValue>>,
}

fn enabled() -> bool {
    true
}

/// Sections by rule name; a rule without a section runs with its defaults.
pub type Settings = BTreeMap<String, Section>;

/// Decodes and checks the bundle's settings, naming `<rule>.settings.<field>` on error.
pub fn parse_settings(raw: Option<&RawValue>) -> Result<Settings, SettingsError> {
    let sections: BTreeMap<String, Box<RawValue>> = match raw.map(RawValue::get) {
        None | Some("null") => BTreeMap::new(),
        Some(json) if !json.trim_start().starts_with('{') => {
            return Err(SettingsError::new(
                "",
                "invalid type: settings must be an object",
            ))
        }
        Some(json) => {
            crate::json::from_str(json).map_err(|e| SettingsError::new("", e.to_string()))?
        }
    };
    let mut settings = Settings::new();
    for (name, section) in sections {
        let rule = registry::find(&name).ok_or_else(|| {
            let known: Vec<&str> = RULES.iter().map(|r| r.name).collect();
            SettingsError::new(
                "",
                format!(
                    "unknown field `{name}`: not a rule; the rules are {}",
                    known.join(", ")
                ),
            )
        })?;
        let section: Section = crate::request::from_str(section.get(), "the section")
            .map_err(|e| SettingsError::new(name.as_str(), e.detail))?;
        (rule.check_settings)(section.settings.as_deref())
            .map_err(|e| e.within("settings").within(&name))?;
        settings.insert(name, section);
    }
    Ok(settings)
}

/// The bundle's `validate_settings`.
pub fn validate_settings(payload: &[u8]) -> SettingsValidationResponse {
    let outcome = crate::utf8::from_utf8(payload)
        .map_err(|e| format!("invalid settings: not UTF-8: {e}"))
        .and_then(|text| {
            let raw = crate::json::from_str::<&RawValue>(text)
                .map_err(|e| format!("invalid settings: not JSON: {e}"))?;
            parse_settings(Some(raw))
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    SettingsValidationResponse {
        valid: outcome.is_ok(),
        message: outcome.err().map(|m| format!("crash-guard: {m}")),
    }
}

/// The bundle's `validate`: every enabled rule, in registry order.
pub fn validate(payload: &[u8], host: &dyn Host) -> ValidationResponse {
    match judge(payload, host) {
        Ok(response) => response,
        Err(problem) => ValidationResponse::reject(
            format!("crash-guard cannot judge this request: {problem}"),
            Some(BAD_REQUEST),
            vec![],
        ),
    }
}

fn judge(payload: &[u8], host: &dyn Host) -> Result<ValidationResponse, String> {
    let text = crate::utf8::from_utf8(payload)
        .map_err(|e| format!("the validate payload is not UTF-8: {e}"))?;
    let mut head = String::new();
    let (request, settings, _) = Request::decode_payload_settled::<IgnoredAny, _, _>(
        text,
        &mut head,
        crate::request::no_prefetch,
        parse_settings,
    )?;
    let object = request.object_ref();
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    for rule in RULES {
        let section = settings.get(rule.name);
        if section.is_some_and(|s| !s.enabled) {
            continue;
        }
        let raw = section.and_then(|s| s.settings.as_deref());
        let response = (rule.judge)(&request, raw, host)?.into_response(rule.name, &object);
        warnings.extend(response.warnings.unwrap_or_default());
        refusals.extend(response.message);
    }
    Ok(if refusals.is_empty() {
        ValidationResponse::accept(warnings)
    } else {
        ValidationResponse::reject(refusals.join(" | "), None, warnings)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::NoHost;
    use rstest::rstest;

    fn payload(settings: &str) -> Vec<u8> {
        let secret = format!(
            r#"{{"data":{{"blob":"{}"}}}}"#,
            "QUJD".repeat(400 * 1024 / 3)
        );
        format!(
            r#"{{"request":{{"uid":"u","operation":"CREATE","kind":{{"group":"","version":"v1","kind":"Secret"}},"namespace":"apps","name":"big","object":{secret}}},"settings":{settings}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn refusal_reads_as_the_rule_module() {
        let bundle = validate(&payload("{}"), &NoHost);
        let single =
            crate::policy::validate::<crate::object_size::ObjectSize>(&payload("{}"), &NoHost);
        assert!(!bundle.accepted);
        assert_eq!(bundle.message, single.message);
    }

    #[rstest]
    #[case::disabled(r#"{"object-size":{"enabled":false}}"#, true)]
    #[case::own_settings(r#"{"object-size":{"settings":{"limits":{"Secret":"1Mi"}}}}"#, true)]
    #[case::defaults("{}", false)]
    fn sections_steer_rules(#[case] settings: &str, #[case] accepted: bool) {
        assert_eq!(validate(&payload(settings), &NoHost).accepted, accepted);
    }

    #[rstest]
    #[case::unknown_rule(r#"{"object-sise":{}}"#, "unknown field `object-sise`: not a rule")]
    #[case::rule_settings(
        r#"{"object-size":{"settings":{"limits":{"Secret":0}}}}"#,
        "object-size.settings.limits.Secret"
    )]
    #[case::unknown_section_key(r#"{"object-size":{"enable":false}}"#, "unknown field `enable`")]
    #[case::not_an_object("[]", "settings must be an object")]
    fn refuses_invalid_settings(#[case] settings: &str, #[case] expected: &str) {
        let response = validate_settings(settings.as_bytes());
        assert!(!response.valid);
        let message = response.message.unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }
}
