//! The Kubewarden policy protocol's response documents.

use serde::Serialize;

/// Answer of the `validate` waPC function. The rules only validate: the
/// protocol's `mutated_object` and `audit_annotations` are always null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub warnings: Option<Vec<String>>,
}

impl ValidationResponse {
    pub fn accept(warnings: Vec<String>) -> Self {
        Self {
            accepted: true,
            message: None,
            code: None,
            warnings: non_empty(warnings),
        }
    }

    pub fn reject(message: String, code: Option<u16>, warnings: Vec<String>) -> Self {
        Self {
            accepted: false,
            message: Some(message),
            code,
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

/// `n` in decimal, written at the end of `buf`: numbers in messages without
/// the formatting machinery.
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &str {
    let at = write_digits(n, buf);
    digits_from(buf, at)
}

/// A length or an index in decimal.
pub fn count(n: usize, buf: &mut [u8; 20]) -> &str {
    decimal(u64::try_from(n).unwrap_or(u64::MAX), buf)
}

/// `n` in decimal, as `Display` prints an `i64`.
pub fn signed(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut at = write_digits(n.unsigned_abs(), buf);
    if n < 0 {
        // |i64::MIN| has 19 digits, so the sign always has room.
        at = at.saturating_sub(1);
        if let Some(sign) = buf.get_mut(at) {
            *sign = b'-';
        }
    }
    digits_from(buf, at)
}

/// Writes the digits of `n` at the end of `buf`; where they start.
fn write_digits(n: u64, buf: &mut [u8; 20]) -> usize {
    let mut rest = n;
    let mut at = buf.len();
    while at > 0 {
        at -= 1;
        if let Some(digit) = buf.get_mut(at) {
            *digit = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    at
}

fn digits_from(buf: &[u8; 20], at: usize) -> &str {
    buf.get(at..)
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .unwrap_or("0")
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of each byte of `word` below 0x20 (exact: no carries between bytes).
#[inline(always)]
fn controls(word: u64) -> u64 {
    !(((word & LOW_SEVEN) + LOW_BITS * 0x60) | word | LOW_SEVEN)
}

/// The high bit of each byte of `word` equal to `byte` (exact).
#[inline(always)]
fn equal_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (LOW_BITS * u64::from(byte));
    !(((x & LOW_SEVEN) + LOW_SEVEN) | x | LOW_SEVEN)
}

/// The high bit of each `"` and `\` in `word`.
#[inline(always)]
fn quotes(word: u64) -> u64 {
    equal_bytes(word, b'"') | equal_bytes(word, b'\\')
}

/// How serde_json writes each byte in a string: 0 as it is, otherwise a
/// backslash and this letter (`u` for `\u00XX`).
#[allow(clippy::indexing_slicing)] // constant indices: a bad one fails the build
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table
};

#[inline(always)]
fn escape_letter(byte: u8) -> u8 {
    ESCAPES.get(usize::from(byte)).copied().unwrap_or(0)
}

/// The eight bytes at `at`, if there are eight.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> Option<[u8; 8]> {
    bytes
        .get(at..at.wrapping_add(8))
        .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok())
}

/// Writes `text` as a JSON string, escaped exactly as serde_json escapes it.
/// What precedes the first escape is copied whole; the rest is written in one
/// pass, eight bytes at a time between escapes (the JSON snippets in messages
/// are full of quotes), in room made for every byte doubled, and for `\u00XX`
/// when a word holding a control character is met.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let plain = plain_prefix(bytes);
    let rest = bytes.get(plain..).unwrap_or_default();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes.get(..plain).unwrap_or_default());
    if rest.is_empty() {
        out.push(b'"');
        return;
    }
    let mut to = out.len();
    // Kept from here on: `out` holds `to`, twice the bytes left, the closing quote and a word.
    out.resize(to + 2 * rest.len() + 1 + 8, b'"');
    let mut at = 0;
    while let Some(word) = word_at(rest, at) {
        let value = u64::from_le_bytes(word);
        if controls(value) == 0 {
            write_quoted_word(out, &mut to, value);
        } else {
            let after = rest.len() - at - 8;
            make_room(out, to + 6 * 8 + 2 * after + 1 + 8);
            for byte in word {
                write_byte(out, &mut to, byte);
            }
        }
        at += 8;
    }
    let tail = rest.get(at..).unwrap_or_default();
    make_room(out, to + 6 * tail.len() + 1);
    for &byte in tail {
        write_byte(out, &mut to, byte);
    }
    out.truncate(to);
    out.push(b'"');
}

/// How many bytes from the start need no escape: all of them, or up to the
/// word (or the last few bytes) holding the first escape.
fn plain_prefix(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(word) = word_at(bytes, at) {
        let value = u64::from_le_bytes(word);
        if controls(value) | quotes(value) != 0 {
            return at;
        }
        at += 8;
    }
    let tail = bytes.get(at..).unwrap_or_default();
    if tail.iter().all(|&byte| escape_letter(byte) == 0) {
        bytes.len()
    } else {
        at
    }
}

/// Writes a word free of control characters, with a backslash before each `"` and `\`.
#[inline(always)]
fn write_quoted_word(dest: &mut [u8], to: &mut usize, value: u64) {
    let mut escapes = quotes(value);
    let mut from = 0;
    while escapes != 0 {
        let next = (escapes.trailing_zeros() / 8) as usize;
        store_word(dest, *to, value >> (8 * from));
        *to += next - from;
        put(dest, to, b'\\');
        put(dest, to, (value >> (8 * next)) as u8);
        from = next + 1;
        escapes &= escapes - 1;
    }
    if from < 8 {
        store_word(dest, *to, value >> (8 * from));
        *to += 8 - from;
    }
}

#[inline(always)]
fn make_room(out: &mut Vec<u8>, len: usize) {
    if out.len() < len {
        grow(out, len);
    }
}

#[cold]
#[inline(never)]
fn grow(out: &mut Vec<u8>, len: usize) {
    out.resize(len, b'"');
}

/// Stores the eight bytes of `value` at `to`; the caller keeps as many as it needs.
#[inline(always)]
fn store_word(dest: &mut [u8], to: usize, value: u64) {
    if let Some(slot) = dest
        .get_mut(to..to + 8)
        .and_then(|slot| <&mut [u8; 8]>::try_from(slot).ok())
    {
        *slot = value.to_le_bytes();
    }
}

#[inline(always)]
fn write_byte(dest: &mut [u8], to: &mut usize, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = |nibble: u8| HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
    match escape_letter(byte) {
        0 => put(dest, to, byte),
        b'u' => {
            for byte in [b'\\', b'u', b'0', b'0', hex(byte >> 4), hex(byte & 0xf)] {
                put(dest, to, byte);
            }
        }
        letter => {
            put(dest, to, b'\\');
            put(dest, to, letter);
        }
    }
}

#[inline(always)]
fn put(dest: &mut [u8], to: &mut usize, byte: u8) {
    if let Some(slot) = dest.get_mut(*to) {
        *slot = byte;
    }
    *to += 1;
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
    #[case::json_snippet(r#"apply first: {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","spec":{"egress":[{"ports":[{"port":53,"protocol":"UDP"}]}]}}"#)]
    #[case::escapes_at_both_ends("\"\u{1}plain text between\u{1f}\\")]
    #[case::controls_after_quotes_outgrow_the_doubled_room(&format!("{}{}x", "\"".repeat(20), "\u{1}".repeat(40)))]
    fn strings_are_escaped_as_serde_json_escapes_them(#[case] text: &str) {
        let mut out = Vec::new();
        write_str(&mut out, text);
        assert_eq!(out, serde_json::to_vec(text).expect("serialisable"));
        let mut appended = b"[1,".to_vec();
        write_str(&mut appended, text);
        assert_eq!(appended, [b"[1,".as_slice(), &out].concat());
    }

    #[test]
    fn escapes_at_every_offset_and_length_match_serde_json() {
        let sample = "{\"a\":\"b\\\\c\"}\u{1}x\ty\"\"\"\"\"\"\"\"\"z\\é\u{1f}\"done\"";
        let chars: Vec<char> = sample.chars().collect();
        for start in 0..chars.len() {
            for end in start..=chars.len() {
                let text: String = chars[start..end].iter().collect();
                let mut out = b"x".to_vec();
                write_str(&mut out, &text);
                let expected = serde_json::to_vec(&text).expect("serialisable");
                assert_eq!(out.get(1..), Some(expected.as_slice()), "{text:?}");
            }
        }
    }

    #[rstest]
    #[case::all_bytes_plain(0x6161_6161_6161_6161, 0, 0)]
    #[case::quote_and_backslash(u64::from_le_bytes(*b"a\"bc\\\\de"), 0, 3)]
    #[case::controls_only(u64::from_le_bytes(*b"\n\x1f a\x00bc\x7f"), 3, 0)]
    #[case::high_bytes_are_neither(0x8080_a2dc_ff9f_e0c2, 0, 0)]
    fn word_masks_are_exact(
        #[case] word: u64,
        #[case] controls_found: u32,
        #[case] quotes_found: u32,
    ) {
        assert_eq!(controls(word).count_ones(), controls_found);
        assert_eq!(quotes(word).count_ones(), quotes_found);
    }

    #[rstest]
    #[case::zero(0)]
    #[case::one_digit(7)]
    #[case::port(6443)]
    #[case::u32_largest(u64::from(u32::MAX))]
    #[case::largest(u64::MAX)]
    fn decimals_are_what_display_writes(#[case] n: u64) {
        assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
    }

    #[rstest]
    #[case::zero(0)]
    #[case::port(443)]
    #[case::negative(-1)]
    #[case::largest(i64::MAX)]
    #[case::smallest(i64::MIN)]
    fn signed_decimals_are_what_display_writes(#[case] n: i64) {
        assert_eq!(signed(n, &mut [0; 20]), n.to_string());
    }

    #[test]
    fn word_masks_match_bytewise_tests() {
        for byte in 0..=255u8 {
            for fill in [0u8, b'"', b'a', 0x80, 0xff] {
                for at in 0..8 {
                    let mut word = [fill; 8];
                    word[at] = byte;
                    let value = u64::from_le_bytes(word);
                    let below_space = word.iter().filter(|&&b| b < 0x20).count();
                    let quoted = word.iter().filter(|&&b| b == b'"' || b == b'\\').count();
                    assert_eq!(
                        controls(value).count_ones() as usize,
                        below_space,
                        "{word:?}"
                    );
                    assert_eq!(quotes(value).count_ones() as usize, quoted, "{word:?}");
                }
            }
        }
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
    fn responses_are_the_bytes_serde_json_writes(#[case] response: ValidationResponse) {
        /// The protocol's document, as serde_json writes it.
        #[derive(Serialize)]
        struct Document<'a> {
            accepted: bool,
            message: &'a Option<String>,
            code: Option<u16>,
            mutated_object: Option<()>,
            audit_annotations: Option<()>,
            warnings: &'a Option<Vec<String>>,
        }
        let document = Document {
            accepted: response.accepted,
            message: &response.message,
            code: response.code,
            mutated_object: None,
            audit_annotations: None,
            warnings: &response.warnings,
        };
        assert_eq!(
            to_json(&response),
            serde_json::to_vec(&document).expect("serialisable")
        );
    }
}
