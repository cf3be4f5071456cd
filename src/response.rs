//! The Kubewarden policy protocol's response documents.

use serde::Serialize;

/// Answer of the `validate` waPC function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub mutated_object: Option<serde_json::Value>,
    pub audit_annotations: Option<serde_json::Map<String, serde_json::Value>>,
    pub warnings: Option<Vec<String>>,
}

impl ValidationResponse {
    pub fn accept(warnings: Vec<String>) -> Self {
        Self {
            accepted: true,
            message: None,
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: non_empty(warnings),
        }
    }

    pub fn reject(message: String, code: Option<u16>, warnings: Vec<String>) -> Self {
        Self {
            accepted: false,
            message: Some(message),
            code,
            mutated_object: None,
            audit_annotations: None,
            warnings: non_empty(warnings),
        }
    }
}

/// Answer of the `validate_settings` waPC function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsValidationResponse {
    pub valid: bool,
    pub message: Option<String>,
}

fn non_empty(warnings: Vec<String>) -> Option<Vec<String>> {
    if warnings.is_empty() {
        None
    } else {
        Some(warnings)
    }
}

/// A document a waPC function answers with.
pub trait ToJson {
    fn to_json(&self) -> Vec<u8>;
}

impl ToJson for ValidationResponse {
    /// The same bytes as `serde_json::to_vec`, written directly: messages are
    /// long, and escaping them a byte at a time is a tenth of a refusal's cost.
    fn to_json(&self) -> Vec<u8> {
        if self.mutated_object.is_some() || self.audit_annotations.is_some() {
            return serialize(self);
        }
        let text_len = self.message.as_ref().map_or(0, String::len)
            + self
                .warnings
                .iter()
                .flatten()
                .map(|w| w.len() + 3)
                .sum::<usize>();
        let mut out = Vec::with_capacity(text_len + 128);
        out.extend_from_slice(b"{\"accepted\":");
        out.extend_from_slice(if self.accepted { b"true" } else { b"false" });
        out.extend_from_slice(b",\"message\":");
        match &self.message {
            Some(message) => write_str(&mut out, message),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"code\":");
        match self.code {
            Some(code) => out.extend_from_slice(code.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"mutated_object\":null,\"audit_annotations\":null,\"warnings\":");
        match &self.warnings {
            Some(warnings) => {
                out.push(b'[');
                for (i, warning) in warnings.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(&mut out, warning);
                }
                out.push(b']');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
        out
    }
}

impl ToJson for SettingsValidationResponse {
    fn to_json(&self) -> Vec<u8> {
        serialize(self)
    }
}

/// Serialises a response; these types cannot fail to serialise, but a policy
/// must never trap, so a failure still yields a valid document.
fn serialize<T: Serialize>(response: &T) -> Vec<u8> {
    serde_json::to_vec(response).unwrap_or_else(|_| {
        br#"{"accepted":false,"message":"crash-guard: cannot encode the response","code":500}"#
            .to_vec()
    })
}

/// Serialises a waPC answer.
pub fn to_json(response: &impl ToJson) -> Vec<u8> {
    response.to_json()
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// True if some byte of `word` may need escaping (a control character, `"`
/// or `\`); false positives only cost a byte-wise look.
fn may_need_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(LOW_BITS * 0x20) & !word;
    let quote = word ^ (LOW_BITS * u64::from(b'"'));
    let backslash = word ^ (LOW_BITS * u64::from(b'\\'));
    let has_zero = |v: u64| v.wrapping_sub(LOW_BITS) & !v;
    (below_space | has_zero(quote) | has_zero(backslash)) & HIGH_BITS != 0
}

/// Writes `text` as a JSON string, escaped exactly as serde_json escapes it.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.push(b'"');
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(chunk) = bytes.get(at..at + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !may_need_escape(u64::from_le_bytes(word)) {
                at += 8;
                continue;
            }
        }
        let end = (at + 8).min(bytes.len());
        while at < end {
            let byte = bytes.get(at).copied().unwrap_or(b' ');
            let escape: Option<&[u8]> = match byte {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0x08 => Some(b"\\b"),
                0x0c => Some(b"\\f"),
                0..=0x1f => None,
                _ => {
                    at += 1;
                    continue;
                }
            };
            out.extend_from_slice(bytes.get(start..at).unwrap_or_default());
            match escape {
                Some(escape) => out.extend_from_slice(escape),
                None => {
                    let hex = |nibble: u8| HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
                    out.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        hex(byte >> 4),
                        hex(byte & 0xf),
                    ]);
                }
            }
            at += 1;
            start = at;
        }
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::empty("")]
    #[case::plain("crash-guard/object-size: Secret apps/big is 1.0 MiB")]
    #[case::quotes_and_backslashes(r#"set "a\b" to "c""#)]
    #[case::every_control_character(&(0u8..0x20).map(char::from).collect::<String>())]
    #[case::delete_and_unicode("\u{7f} é → 漢字 \u{1F600} \u{2028}")]
    #[case::escape_at_every_offset("0123456789abcdef\"0123456\n89abcdef\\")]
    #[case::long_yaml_snippet(&"spec:\n  egress:\n  - to: [{ipBlock: {cidr: \"0.0.0.0/0\"}}]\n".repeat(40))]
    fn strings_are_escaped_as_serde_json_escapes_them(#[case] text: &str) {
        let mut out = Vec::new();
        write_str(&mut out, text);
        assert_eq!(out, serde_json::to_vec(text).expect("serialisable"));
    }

    #[test]
    fn every_single_byte_string_matches_serde_json() {
        for c in (0u32..0x800).filter_map(char::from_u32) {
            for text in [c.to_string(), format!("abcdefg{c}"), format!("{c}abcdefgh")] {
                let mut out = Vec::new();
                write_str(&mut out, &text);
                assert_eq!(
                    out,
                    serde_json::to_vec(&text).expect("serialisable"),
                    "{c:?}"
                );
            }
        }
    }

    #[rstest]
    #[case::accepted(ValidationResponse::accept(vec![]))]
    #[case::accepted_with_warnings(ValidationResponse::accept(vec!["a \"b\"".into(), "c\nd".into()]))]
    #[case::refused(ValidationResponse::reject("no\t\"way\"".into(), None, vec![]))]
    #[case::refused_with_code_and_warning(ValidationResponse::reject("bad".into(), Some(400), vec!["w".into()]))]
    #[case::mutated(ValidationResponse { mutated_object: Some(serde_json::json!({"a": 1})), ..ValidationResponse::accept(vec![]) })]
    fn responses_are_the_bytes_serde_json_writes(#[case] response: ValidationResponse) {
        assert_eq!(
            to_json(&response),
            serde_json::to_vec(&response).expect("serialisable")
        );
    }
}
