//! The Kubewarden policy protocol around a rule: decoding, settings,
//! exemptions, and rendering. Rules only judge.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::exemptions::Exemptions;
use crate::host::Host;
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::response::{SettingsValidationResponse, ValidationResponse};
use crate::settings::{self, SettingsError, Validate};
use crate::violation::Verdict;
use serde_json::value::RawValue;

/// Status code for requests a policy cannot judge (malformed input).
pub const BAD_REQUEST: u16 = 400;

/// A crash-guard rule: a pure judgement of one request under its settings.
pub trait Rule {
    /// Kebab-case name, as in `policies/<name>` and messages.
    const NAME: &'static str;
    type Settings: DeserializeOwned + Default + Validate + 'static;

    /// The fields the rule reads from `object` and `oldObject`.
    type Object<'a>: Deserialize<'a>;

    /// Which objects of a request of this kind and operation are decoded as
    /// [`Rule::Object`] in the same pass as the request, which saves
    /// scanning them twice. Rules that read objects of several types keep
    /// them raw (the default).
    fn prefetch(_kind: &GroupVersionKind, _operation: Operation) -> Prefetch {
        Prefetch::NONE
    }

    fn exemptions(settings: &Self::Settings) -> &Exemptions;

    /// Judges `request`, whose objects `objects` holds decoded or raw. Kinds
    /// and operations the rule does not handle are accepted. `host` serves
    /// context-aware lookups.
    fn evaluate<'a>(
        request: &Request<'a>,
        objects: Objects<'a, Self::Object<'a>>,
        settings: &Self::Settings,
        host: &dyn Host,
    ) -> Result<Verdict, DecodeError>;
}

/// The `validate` waPC function of rule `R`. Never fails: input it cannot
/// decode is refused with code 400 and a message saying why.
pub fn validate<R: Rule>(payload: &[u8], host: &dyn Host) -> ValidationResponse {
    match judge::<R>(payload, host) {
        Ok(response) => response,
        Err(problem) => ValidationResponse::reject(
            format!(
                "crash-guard/{} cannot judge this request: {problem}",
                R::NAME
            ),
            Some(BAD_REQUEST),
            vec![],
        ),
    }
}

fn judge<R: Rule>(payload: &[u8], host: &dyn Host) -> Result<ValidationResponse, String> {
    let text = crate::utf8::from_utf8(payload)
        .map_err(|e| format!("the validate payload is not UTF-8: {e}"))?;
    let mut head = String::new();
    let (request, settings, objects) = Request::decode_payload_settled::<R::Object<'_>, _, _>(
        text,
        &mut head,
        R::prefetch,
        settings::parse::<R::Settings>,
    )?;
    let verdict = judge_settled::<R>(&request, objects, &settings, host)?;
    let object = if verdict.is_accepted() {
        String::new()
    } else {
        request.object_ref()
    };
    Ok(verdict.into_response(R::NAME, &object))
}

/// Judges a decoded request under raw settings: exempt requests are accepted.
pub fn judge_request<R: Rule>(
    request: &Request,
    settings: Option<&RawValue>,
    host: &dyn Host,
) -> Result<Verdict, String> {
    let settings =
        settings::cached(settings, settings::parse::<R::Settings>).map_err(|e| e.to_string())?;
    judge_settled::<R>(request, Objects::raw(request), &settings, host)
}

fn judge_settled<'a, R: Rule>(
    request: &Request<'a>,
    objects: Objects<'a, R::Object<'a>>,
    settings: &R::Settings,
    host: &dyn Host,
) -> Result<Verdict, String> {
    if R::exemptions(settings).reason(request).is_some() {
        return Ok(Verdict::accept());
    }
    R::evaluate(request, objects, settings, host).map_err(|e| e.to_string())
}

/// Judges a bare `AdmissionReview.request` under decoded settings, decoded
/// as `validate` decodes what policy-server sends (its fields in Kubernetes'
/// order, objects prefetched where the rule asks) but without exemptions:
/// the rule alone, for tests and tools.
pub fn evaluate<R: Rule>(
    request: &str,
    settings: &R::Settings,
    host: &dyn Host,
) -> Result<Verdict, DecodeError> {
    let payload = match serde_json::from_str(request) {
        Ok(value) => crate::request::write_payload(&value, &serde_json::Value::Null),
        Err(e) => Err(e),
    }
    .map_err(|e| DecodeError {
        what: "the admission request".to_string(),
        detail: e.to_string(),
    })?;
    let payload = String::from_utf8_lossy(&payload);
    let (request, _, objects) =
        Request::decode_payload_with::<R::Object<'_>>(&payload, R::prefetch)?;
    R::evaluate(&request, objects, settings, host)
}

/// Checks raw settings of rule `R`.
pub fn check_settings<R: Rule>(settings: Option<&RawValue>) -> Result<(), SettingsError> {
    settings::parse::<R::Settings>(settings).map(|_| ())
}

/// The `validate_settings` waPC function of rule `R`.
pub fn validate_settings<R: Rule>(payload: &[u8]) -> SettingsValidationResponse {
    let outcome = crate::utf8::from_utf8(payload)
        .map_err(|e| format!("invalid settings: not UTF-8: {e}"))
        .and_then(|text| {
            let raw = crate::json::from_str::<&serde_json::value::RawValue>(text)
                .map_err(|e| format!("invalid settings: not JSON: {e}"))?;
            settings::parse::<R::Settings>(Some(raw)).map_err(|e| e.to_string())
        });
    match outcome {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidationResponse {
            valid: false,
            message: Some(format!("crash-guard/{}: {message}", R::NAME)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::NoHost;
    use crate::object_size::ObjectSize;
    use rstest::rstest;

    const BEFORE_NAME: &[u8] =
        br#"{"request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Secret"},"name":""#;

    fn secret_payload(name: &[u8]) -> Vec<u8> {
        let blob = "QUJD".repeat(400 * 1024 / 3);
        [
            BEFORE_NAME,
            name,
            br#"","namespace":"apps","operation":"CREATE","object":{"data":{"blob":""#,
            blob.as_bytes(),
            br#""}}},"settings":{}}"#,
        ]
        .concat()
    }

    #[rstest]
    #[case::ascii(b"big".as_slice(), "Secret apps/big")]
    #[case::multibyte_name("gro\u{df}-\u{1f510}".as_bytes(), "Secret apps/gro\u{df}-\u{1f510}")]
    fn names_survive_the_utf8_check(#[case] name: &[u8], #[case] expected: &str) {
        let response = validate::<ObjectSize>(&secret_payload(name), &NoHost);
        assert!(!response.accepted);
        assert_eq!(response.code, None);
        let message = response.message.unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }

    #[rstest]
    #[case::invalid_byte(b"b\xffg".as_slice(), 1)]
    #[case::cut_character(b"gro\xc3".as_slice(), 3)]
    fn payload_not_utf8_is_refused_with_400(#[case] name: &[u8], #[case] offset: usize) {
        let at = BEFORE_NAME.len() + offset;
        let response = validate::<ObjectSize>(&secret_payload(name), &NoHost);
        assert!(!response.accepted);
        assert_eq!(response.code, Some(BAD_REQUEST));
        let message = response.message.unwrap_or_default();
        assert!(
            message.contains(&format!(
                "the validate payload is not UTF-8: invalid utf-8 sequence of 1 bytes from index {at}"
            )),
            "{message}"
        );
    }
}
