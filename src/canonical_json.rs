//! Valid JSON in one form: object members sorted by key, no spaces outside
//! strings. Two texts with the same content in another key order or spacing
//! come out equal, as they do once Kubernetes decodes and encodes them again.
//! Strings and numbers stay as written (`1.0` and `1` differ).

use std::borrow::Cow;

/// Deeper values are left as written: each level copies its members once.
const MAX_DEPTH: u32 = 32;

/// `raw` (one valid JSON value) in canonical form, or `raw` itself when it
/// nests deeper than [`MAX_DEPTH`] or is not valid JSON.
pub fn canonical(raw: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    match value(&mut rest, &mut out, 0) {
        Some(()) if skip_spaces(rest).is_empty() => Cow::Owned(out),
        _ => Cow::Borrowed(raw),
    }
}

fn skip_spaces(text: &str) -> &str {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
}

/// Removes `byte` from the start of `text` if it is there.
fn eat(text: &mut &str, byte: u8) -> bool {
    let rest = skip_spaces(text);
    match rest.strip_prefix(char::from(byte)) {
        Some(after) => {
            *text = after;
            true
        }
        None => {
            *text = rest;
            false
        }
    }
}

/// Writes the value at the start of `text` to `out` and moves past it.
fn value(text: &mut &str, out: &mut String, depth: u32) -> Option<()> {
    *text = skip_spaces(text);
    match text.as_bytes().first()? {
        b'{' | b'[' if depth >= MAX_DEPTH => None,
        b'{' => object(text, out, depth),
        b'[' => {
            *text = text.get(1..)?;
            out.push('[');
            let mut first = true;
            while !eat(text, b']') {
                if !first && !eat(text, b',') {
                    return None;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                value(text, out, depth + 1)?;
            }
            out.push(']');
            Some(())
        }
        b'"' => {
            out.push_str(string(text)?);
            Some(())
        }
        _ => {
            let end = text
                .find([',', '}', ']', ' ', '\t', '\n', '\r'])
                .unwrap_or(text.len());
            out.push_str(text.get(..end).filter(|t| !t.is_empty())?);
            *text = text.get(end..)?;
            Some(())
        }
    }
}

fn object(text: &mut &str, out: &mut String, depth: u32) -> Option<()> {
    *text = text.get(1..)?;
    let start = out.len();
    // Each member as written to `out`: its key and where its text lies.
    let mut members: Vec<(&str, std::ops::Range<usize>)> = Vec::new();
    while !eat(text, b'}') {
        if !members.is_empty() && !eat(text, b',') {
            return None;
        }
        *text = skip_spaces(text);
        let key = string(text)?;
        if !eat(text, b':') {
            return None;
        }
        let at = out.len();
        out.push_str(key);
        out.push(':');
        value(text, out, depth + 1)?;
        members.push((key, at..out.len()));
    }
    // Sorted by key, a key's members in document order; the last one counts.
    members.sort_by(|a, b| a.0.cmp(b.0));
    let written = out.split_off(start);
    out.push('{');
    let mut first = true;
    for (index, (key, range)) in members.iter().enumerate() {
        if members.get(index + 1).is_some_and(|(next, _)| next == key) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(written.get(range.start - start..range.end - start)?);
    }
    out.push('}');
    Some(())
}

/// The string token (quotes included) at the start of `text`, moving past it.
fn string<'t>(text: &mut &'t str) -> Option<&'t str> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut at = 1;
    loop {
        match bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => break,
            _ => at += 1,
        }
    }
    let token = text.get(..=at)?;
    *text = text.get(at + 1..)?;
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::scalar("  42 ", "42")]
    #[case::string(r#""a b""#, r#""a b""#)]
    #[case::sorted(r#"{"b":1,"a":2}"#, r#"{"a":2,"b":1}"#)]
    #[case::spaces("{ \"a\" :\n[ 1 , true, null ] }", r#"{"a":[1,true,null]}"#)]
    #[case::nested(
        r#"{"z":{"y":1,"x":{"w":[{"b":1,"a":2}]}},"a":"}"}"#,
        r#"{"a":"}","z":{"x":{"w":[{"a":2,"b":1}]},"y":1}}"#
    )]
    #[case::escapes(r#"{"k\"2":"v\\","k":"\u00e9"}"#, r#"{"k":"\u00e9","k\"2":"v\\"}"#)]
    #[case::duplicate_keys_last_wins(r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#)]
    #[case::empty(r#"{ } "#, "{}")]
    #[case::empty_array("[ ]", "[]")]
    #[case::unicode(r#"{"é":"ü","a":"€"}"#, r#"{"a":"€","é":"ü"}"#)]
    fn canonical_forms(#[case] raw: &str, #[case] expected: &str) {
        assert_eq!(canonical(raw), expected);
    }

    #[rstest]
    #[case::unclosed_object(r#"{"a":1"#)]
    #[case::unclosed_string(r#"{"a":"x}"#)]
    #[case::missing_colon(r#"{"a" 1}"#)]
    #[case::missing_comma(r#"[1 2]"#)]
    #[case::trailing(r#"{} {}"#)]
    #[case::empty("")]
    #[case::too_deep(&["[".repeat(40), "]".repeat(40)].concat())]
    fn left_as_written(#[case] raw: &str) {
        assert_eq!(canonical(raw), raw);
    }

    #[test]
    fn same_content_in_any_order_is_equal() {
        let a = r#"{"apiVersion":"aws/v1alpha1","kind":"WorkerConfig","volume":{"iops":3000,"throughput":125}}"#;
        let b = "{\n  \"volume\": {\"throughput\": 125, \"iops\": 3000},\n  \"kind\": \"WorkerConfig\",\n  \"apiVersion\": \"aws/v1alpha1\"\n}";
        assert_eq!(canonical(a), canonical(b));
        assert_ne!(canonical(a), canonical(&b.replace("125", "250")));
    }
}
