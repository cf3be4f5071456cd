//! Splits a JSON object into its members without decoding their values.
//!
//! The admission request carries whole objects that rules read a few fields
//! of; skipping them here, eight bytes at a time inside strings, costs a
//! fraction of a validating parse. Anything unexpected answers `None` and the
//! caller falls back to serde_json, which names the problem.

/// The members of the object `json` (whitespace around it allowed): each
/// key's raw text (without quotes) and value's raw text. `None` when `json`
/// is not a well-delimited object or a key holds an escape.
pub fn members(json: &str) -> Option<Vec<(&str, &str)>> {
    let bytes = json.as_bytes();
    let mut i = skip_space(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_space(bytes, i + 1);
    let mut out = Vec::new();
    if bytes.get(i) == Some(&b'}') {
        return (skip_space(bytes, i + 1) == bytes.len()).then_some(out);
    }
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, i)?;
        let key = json.get(i + 1..key_end - 1)?;
        if key.contains('\\') {
            return None;
        }
        i = skip_space(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_space(bytes, i + 1);
        let end = value_end(bytes, start)?;
        out.push((key, json.get(start..end)?));
        i = skip_space(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_space(bytes, i + 1),
            Some(b'}') => {
                return (skip_space(bytes, i + 1) == bytes.len()).then_some(out);
            }
            _ => return None,
        }
    }
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// End (exclusive) of the value starting at `i`.
fn value_end(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i)? {
        b'"' => string_end(bytes, i),
        b'{' | b'[' => container_end(bytes, i),
        _ => {
            let mut end = i;
            while bytes
                .get(end)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
            {
                end += 1;
            }
            (end > i).then_some(end)
        }
    }
}

/// End of the object or array starting at `i`, brackets balanced outside strings.
fn container_end(bytes: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    loop {
        match bytes.get(j)? {
            b'"' => {
                j = string_end(bytes, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
}

/// End of the string whose opening quote is at `i`, just after its closing quote.
fn string_end(bytes: &[u8], i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    };
    let mut j = i + 1;
    loop {
        while let Some(chunk) = bytes.get(j..j + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let word = u64::from_le_bytes(word);
            if has(word, b'"') || has(word, b'\\') {
                break;
            }
            j += 8;
        }
        match bytes.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::empty("{}", vec![])]
    #[case::spaced(" { \"a\" : 1 , \"b\":[1,{\"c\":\"]}\"}] }\n", vec![("a", "1"), ("b", "[1,{\"c\":\"]}\"}]")])]
    #[case::strings(
        r#"{"long":"0123456789abcdef\"quoted\"0123456789","e":"\\"}"#,
        vec![("long", r#""0123456789abcdef\"quoted\"0123456789""#), ("e", r#""\\""#)]
    )]
    #[case::literals(r#"{"t":true,"n":null,"x":-1.5e3}"#, vec![("t", "true"), ("n", "null"), ("x", "-1.5e3")])]
    #[case::nested(r#"{"o":{"a":{"b":[]}},"z":""}"#, vec![("o", r#"{"a":{"b":[]}}"#), ("z", r#""""#)])]
    fn splits_members(#[case] json: &str, #[case] expected: Vec<(&str, &str)>) {
        assert_eq!(members(json), Some(expected));
    }

    #[rstest]
    #[case::not_object("[1]")]
    #[case::truncated(r#"{"a":{"b":1}"#)]
    #[case::unterminated_string(r#"{"a":"abc"#)]
    #[case::missing_colon(r#"{"a" 1}"#)]
    #[case::missing_value(r#"{"a":}"#)]
    #[case::trailing(r#"{"a":1} x"#)]
    #[case::escaped_key(r#"{"\u0061":1}"#)]
    #[case::empty("")]
    fn refuses_what_it_cannot_split(#[case] json: &str) {
        assert_eq!(members(json), None);
    }
}
