//! Valid JSON in one form, as Kubernetes re-encodes it after decoding it into
//! a generic map (Gardener hashes a Worker's providerConfig that way): object
//! members sorted by key (a repeated key: the last one counts), strings in one
//! escape form, equal numbers written alike (`3000.0` as `3000`), no spaces.
//! Two texts come out equal only when they decode to the same value.

use std::borrow::Cow;
use std::fmt::Write;

use crate::response::count;

/// Values nested deeper are copied as written: each object level reads its
/// members twice, so the work grows with the depth.
const MAX_DEPTH: u32 = 32;

/// `raw` (one JSON value) in canonical form, or `raw` itself when it is not
/// valid JSON.
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

/// Removes `byte` (after spaces) from the start of `text` if it is there.
fn eat(text: &mut &str, byte: u8) -> bool {
    *text = skip_spaces(text);
    match text.strip_prefix(char::from(byte)) {
        Some(after) => {
            *text = after;
            true
        }
        None => false,
    }
}

/// Writes the value at the start of `text` to `out` and moves past it.
fn value(text: &mut &str, out: &mut String, depth: u32) -> Option<()> {
    *text = skip_spaces(text);
    match text.as_bytes().first()? {
        b'{' | b'[' if depth >= MAX_DEPTH => out.push_str(skip_value(text)?),
        b'{' => object(text, out, depth)?,
        b'[' => {
            *text = text.get(1..)?;
            out.push('[');
            let mut first = true;
            while !eat(text, b']') {
                if !first {
                    if !eat(text, b',') {
                        return None;
                    }
                    out.push(',');
                }
                first = false;
                value(text, out, depth + 1)?;
            }
            out.push(']');
        }
        b'"' => write_string(out, &string(text)?),
        b'-' | b'0'..=b'9' => number(out, skip_value(text)?)?,
        _ => match skip_value(text)? {
            literal @ ("true" | "false" | "null") => out.push_str(literal),
            _ => return None,
        },
    }
    Some(())
}

fn object(text: &mut &str, out: &mut String, depth: u32) -> Option<()> {
    let mut members = members(text)?;
    // Stable: a repeated key's members stay in document order.
    members.sort_by(|a, b| a.0.cmp(&b.0));
    out.push('{');
    let mut first = true;
    for (index, (key, member)) in members.iter().enumerate() {
        if members.get(index + 1).is_some_and(|(next, _)| next == key) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_string(out, key);
        out.push(':');
        let mut member = *member;
        value(&mut member, out, depth + 1)?;
    }
    out.push('}');
    Some(())
}

/// The object at the start of `text`: each member's decoded key and value
/// text, in document order. Moves past it.
fn members<'t>(text: &mut &'t str) -> Option<Vec<(Cow<'t, str>, &'t str)>> {
    *text = text.strip_prefix('{')?;
    let mut members = Vec::new();
    while !eat(text, b'}') {
        if !members.is_empty() && !eat(text, b',') {
            return None;
        }
        *text = skip_spaces(text);
        let key = string(text)?;
        if !eat(text, b':') {
            return None;
        }
        *text = skip_spaces(text);
        members.push((key, skip_value(text)?));
    }
    Some(members)
}

/// The array at the start of `text` (canonical: no spaces): each element's
/// text. Moves past it.
fn elements<'t>(text: &mut &'t str) -> Option<Vec<&'t str>> {
    *text = text.strip_prefix('[')?;
    let mut elements = Vec::new();
    while !eat(text, b']') {
        if !elements.is_empty() && !eat(text, b',') {
            return None;
        }
        *text = skip_spaces(text);
        elements.push(skip_value(text)?);
    }
    Some(elements)
}

/// Where two different canonical texts first differ (members in key order):
/// the path to it from the root (`.key`, `["odd key"]`, `[index]`; empty at
/// the root) and the two values there, `None` where one side has none.
pub struct Difference<'t> {
    pub path: String,
    pub was: Option<&'t str>,
    pub is: Option<&'t str>,
}

/// Values (both sides) larger than this are followed one level down only.
const MAX_FOLLOWED: usize = 16 * 1024;

pub fn first_difference<'t>(was: &'t str, is: &'t str) -> Difference<'t> {
    let mut path = String::new();
    // Large values are followed one level down: each level reads its values
    // whole again, and a message describes up to 20 differences.
    let depth = if was.len() + is.len() > MAX_FOLLOWED {
        MAX_DEPTH - 1
    } else {
        0
    };
    let (was, is) = difference(was, is, &mut path, depth);
    Difference { path, was, is }
}

type Sides<'t> = (Option<&'t str>, Option<&'t str>);

fn difference<'t>(was: &'t str, is: &'t str, path: &mut String, depth: u32) -> Sides<'t> {
    let whole = (Some(was), Some(is));
    if depth >= MAX_DEPTH {
        return whole;
    }
    match (was.as_bytes().first(), is.as_bytes().first()) {
        (Some(b'{'), Some(b'{')) => {
            let (Some(a), Some(b)) = (members(&mut { was }), members(&mut { is })) else {
                return whole;
            };
            let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
            loop {
                let (at, sides) = match (a.peek(), b.peek()) {
                    (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                        std::cmp::Ordering::Less => (ka, (Some(*va), None)),
                        std::cmp::Ordering::Greater => (kb, (None, Some(*vb))),
                        std::cmp::Ordering::Equal if va == vb => {
                            a.next();
                            b.next();
                            continue;
                        }
                        std::cmp::Ordering::Equal => {
                            push_key(path, ka);
                            return difference(va, vb, path, depth + 1);
                        }
                    },
                    (Some((ka, va)), None) => (ka, (Some(*va), None)),
                    (None, Some((kb, vb))) => (kb, (None, Some(*vb))),
                    (None, None) => return whole,
                };
                push_key(path, at);
                return sides;
            }
        }
        (Some(b'['), Some(b'[')) => {
            let (Some(a), Some(b)) = (elements(&mut { was }), elements(&mut { is })) else {
                return whole;
            };
            let Some(index) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) else {
                return whole;
            };
            for part in ["[", count(index, &mut [0; 20]), "]"] {
                path.push_str(part);
            }
            match (a.get(index), b.get(index)) {
                (Some(va), Some(vb)) => difference(va, vb, path, depth + 1),
                (va, vb) => (va.copied(), vb.copied()),
            }
        }
        _ => whole,
    }
}

/// Keys longer than this are cut in paths.
const MAX_KEY_SHOWN: usize = 40;

fn push_key(path: &mut String, key: &str) {
    let shown = cut(key, MAX_KEY_SHOWN);
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        path.push('.');
        path.push_str(&shown);
    } else {
        path.push('[');
        write_string(path, &shown);
        path.push(']');
    }
}

/// `text` cut to `max` characters, marked with `…` when cut.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((at, _)) => Cow::Owned([text.get(..at).unwrap_or(text), "…"].concat()),
        None => Cow::Borrowed(text),
    }
}

/// A canonical value as people read it: a number in decimal (`3e3` as
/// `3000`), a string as JSON, an object by its keys, an array by its length.
pub fn readable(value: &str) -> String {
    match value.as_bytes().first() {
        Some(b'{') => match members(&mut { value }) {
            Some(members) => {
                let keys: Vec<&str> = members.iter().map(|(key, _)| key.as_ref()).collect();
                ["{", &keys.join(", "), "}"].concat()
            }
            None => value.to_string(),
        },
        Some(b'[') => match elements(&mut { value }) {
            Some(elements) => ["[", count(elements.len(), &mut [0; 20]), " item(s)]"].concat(),
            None => value.to_string(),
        },
        Some(b'-' | b'0'..=b'9') => decimal_number(value),
        Some(b'f') if value.as_bytes().get(1).is_some_and(u8::is_ascii_digit) => {
            decimal_number(value)
        }
        _ => value.to_string(),
    }
}

/// A canonical number (`[-][f]<digits>[e<power>]`) in plain decimal when its
/// exponent is small, else as it is.
fn decimal_number(number: &str) -> String {
    let (sign, unsigned) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    let (float, unsigned) = match unsigned.strip_prefix('f') {
        Some(rest) => (true, rest),
        None => (false, unsigned),
    };
    let (digits, power) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let power = match power.strip_prefix('-') {
        Some(magnitude) => -exponent_value(magnitude),
        None => exponent_value(power),
    };
    let length = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    if (0..=21).contains(&power) {
        let zeros = usize::try_from(power).unwrap_or(0);
        // A float spelling of a whole number is not that integer (see `number`).
        let point = if float { ".0" } else { "" };
        [sign, digits, &"0".repeat(zeros), point].concat()
    } else if (-21..0).contains(&power) {
        let point = length.saturating_add(power);
        match usize::try_from(point) {
            Ok(point) if point > 0 => match (digits.get(..point), digits.get(point..)) {
                (Some(whole), Some(fraction)) => [sign, whole, ".", fraction].concat(),
                _ => number.to_string(),
            },
            _ => {
                let zeros = usize::try_from(-point).unwrap_or(0);
                [sign, "0.", &"0".repeat(zeros), digits].concat()
            }
        }
    } else {
        number.to_string()
    }
}

/// The text of the value at the start of `text` (no leading spaces), moving
/// past it; nested values are skipped without recursion.
fn skip_value<'t>(text: &mut &'t str) -> Option<&'t str> {
    let bytes = text.as_bytes();
    let end = match bytes.first()? {
        b'"' => string_end(bytes, 0)?,
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = 0;
            loop {
                match bytes.get(at)? {
                    b'"' => {
                        at = string_end(bytes, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            break at + 1;
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => bytes
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(bytes.len()),
    };
    let token = text.get(..end).filter(|t| !t.is_empty())?;
    *text = text.get(end..)?;
    Some(token)
}

/// Where the string opening at `start` ends (one past its closing quote).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        match bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
}

/// The decoded string at the start of `text`, moving past it.
fn string<'t>(text: &mut &'t str) -> Option<Cow<'t, str>> {
    if !text.starts_with('"') {
        return None;
    }
    let end = string_end(text.as_bytes(), 0)?;
    let token = text.get(..end)?;
    *text = text.get(end..)?;
    match token.get(1..end - 1) {
        Some(plain) if !plain.contains('\\') => Some(Cow::Borrowed(plain)),
        _ => crate::json::from_str::<String>(token).ok().map(Cow::Owned),
    }
}

/// Writes `text` quoted, escaping only what JSON requires.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number by its exact decimal value, as `[-]<digits>[e<exponent>]` with
/// no zeros at either end of the digits: `3000`, `3000.0` and `3e3` come out
/// alike, as Kubernetes re-encodes them. (Two decimals so close that they
/// round to one float64 differ here, which errs towards counting a change.)
fn number(out: &mut String, text: &str) -> Option<()> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (unsigned.get(..at)?, Some(unsigned.get(at + 1..)?)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_only = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let exponent = exponent.unwrap_or("0");
    let exponent_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return None;
    }
    if exponent_digits.is_empty() || !digits_only(exponent_digits) {
        return None;
    }
    let mut power = exponent_value(exponent_digits);
    if exponent.starts_with('-') {
        power = -power;
    }
    let fraction_length = i64::try_from(fraction.len()).unwrap_or(i64::MAX);
    power = power.saturating_sub(fraction_length);
    let float = text.contains(['.', 'e', 'E']);
    let digits = [whole, fraction].concat();
    let significant = digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        // Zero; a float's sign survives re-encoding (`-0.0`), an integer's not.
        let float_zero = negative && float;
        out.push_str(if float_zero { "-0" } else { "0" });
        return Some(());
    }
    let dropped = i64::try_from(significant.len() - trimmed.len()).unwrap_or(i64::MAX);
    if negative {
        out.push('-');
    }
    // Spelled as a float, with more digits than a float64 holds: not the
    // integer it spells (which Kubernetes would keep exact).
    if float && trimmed.len() > 15 {
        out.push('f');
    }
    out.push_str(trimmed);
    let power = power.saturating_add(dropped);
    if power != 0 {
        let _ = write!(out, "e{power}");
    }
    Some(())
}

/// Decimal digits as a number, saturating; other bytes count as digits too,
/// so callers check them first.
fn exponent_value(digits: &str) -> i64 {
    digits.bytes().fold(0i64, |n, b| {
        n.saturating_mul(10)
            .saturating_add(i64::from(b.wrapping_sub(b'0')))
    })
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
    #[case::escapes_decoded(r#"{"k\"2":"v\\","k":"\u00e9\/"}"#, r#"{"k":"é/","k\"2":"v\\"}"#)]
    #[case::control_escaped(r#""a\tb\u0001""#, r#""a\u0009b\u0001""#)]
    #[case::duplicate_keys_last_wins(r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#)]
    #[case::escaped_duplicate_key(r#"{"a":1,"\u0061":2}"#, r#"{"a":2}"#)]
    #[case::empty(r#"{ } "#, "{}")]
    #[case::empty_array("[ ]", "[]")]
    #[case::unicode(r#"{"é":"ü","a":"€"}"#, r#"{"a":"€","é":"ü"}"#)]
    #[case::integral_float("3000.0", "3e3")]
    #[case::exponent("30E+2", "3e3")]
    #[case::fraction("-0.0250", "-25e-3")]
    #[case::negative_zero_integer("-0", "0")]
    #[case::big_integer("9007199254740993", "9007199254740993")]
    fn canonical_forms(#[case] raw: &str, #[case] expected: &str) {
        assert_eq!(canonical(raw), expected);
    }

    #[rstest]
    #[case::integral_float(r#"{"iops":3000}"#, r#"{"iops":3000.0}"#, true)]
    #[case::fraction("0.5", "5e-1", true)]
    #[case::escaped_string(r#"{"k":"é"}"#, r#"{"k":"\u00e9"}"#, true)]
    #[case::escaped_duplicate_keys(r#"{"a":1,"\u0061":2}"#, r#"{"\u0061":2,"a":1}"#, false)]
    #[case::big_integers("9007199254740993", "9007199254740992", false)]
    #[case::big_integer_and_its_float_spelling("9007199254740993", "9007199254740993.0", false)]
    #[case::long_floats_spelled_alike("9007199254740993.0", "9007199254740993e0", true)]
    #[case::rounding_of_long_fractions("0.2239724886842166905e4", "2239.7248868421666", false)]
    #[case::integer_as_exponent("1e3", "1000", true)]
    #[case::negative_zero_float("-0.0", "0", false)]
    #[case::zero_float("0.0", "0", true)]
    #[case::fractions("0.5", "0.25", false)]
    #[case::string_and_number(r#""1""#, "1", false)]
    fn equal_exactly_when_the_values_are(#[case] a: &str, #[case] b: &str, #[case] same: bool) {
        assert_eq!(canonical(a) == canonical(b), same, "{a} / {b}");
    }

    #[test]
    fn deep_values_keep_the_outer_levels_sorted() {
        let deep = ["[".repeat(40), "0".to_string(), "]".repeat(40)].concat();
        let a = canonical(&format!(r#"{{"a":1,"b":{deep}}}"#)).into_owned();
        let b = canonical(&format!(r#"{{"b":{deep},"a":1}}"#)).into_owned();
        assert_eq!(a, b);
        assert!(a.starts_with(r#"{"a":1,"b":[["#), "{a}");
    }

    #[rstest]
    #[case::unclosed_object(r#"{"a":1"#)]
    #[case::unclosed_string(r#"{"a":"x}"#)]
    #[case::unclosed_array("[1,")]
    #[case::missing_colon(r#"{"a" 1}"#)]
    #[case::missing_comma(r#"[1 2]"#)]
    #[case::trailing(r#"{} {}"#)]
    #[case::bare_word(r#"{"a":yes}"#)]
    #[case::bad_number("[1.2.3]")]
    #[case::empty_exponent("1e")]
    #[case::bad_escape(r#""\x""#)]
    #[case::stray_close("]")]
    #[case::empty("")]
    fn invalid_json_is_left_as_written(#[case] raw: &str) {
        assert_eq!(canonical(raw), raw);
    }

    fn difference_of(was: &str, is: &str) -> (String, Option<String>, Option<String>) {
        let (was, is) = (canonical(was), canonical(is));
        let Difference { path, was, is } = first_difference(&was, &is);
        (path, was.map(readable), is.map(readable))
    }

    #[rstest]
    #[case::scalar("1", "2", "", Some("1"), Some("2"))]
    #[case::kinds(r#"{"a":1}"#, "[1]", "", Some("{a}"), Some("[1 item(s)]"))]
    #[case::member(
        r#"{"a":{"b":1,"c":2}}"#,
        r#"{"a":{"c":3,"b":1}}"#,
        ".a.c",
        Some("2"),
        Some("3")
    )]
    #[case::member_removed(r#"{"a":1,"b":2}"#, r#"{"b":2}"#, ".a", Some("1"), None)]
    #[case::member_added(r#"{"b":2}"#, r#"{"b":2,"c":[]}"#, ".c", None, Some("[0 item(s)]"))]
    #[case::first_in_key_order(r#"{"z":1,"a":1}"#, r#"{"z":2,"a":2}"#, ".a", Some("1"), Some("2"))]
    #[case::element(r#"[1,[2,3]]"#, r#"[1,[2,4]]"#, "[1][1]", Some("3"), Some("4"))]
    #[case::element_added("[1]", "[1,2]", "[1]", None, Some("2"))]
    #[case::odd_key(r#"{"a.b":1}"#, r#"{"a.b":2}"#, r#"["a.b"]"#, Some("1"), Some("2"))]
    #[case::string(r#"{"k":"aA"}"#, r#"{"k":"b"}"#, ".k", Some(r#""aA""#), Some(r#""b""#))]
    #[case::fraction(r#"{"k":0.025}"#, r#"{"k":-1.5e1}"#, ".k", Some("0.025"), Some("-15"))]
    #[case::small_fraction("0.000123", "1.23", "", Some("0.000123"), Some("1.23"))]
    #[case::huge_number("1e300", "2", "", Some("1e300"), Some("2"))]
    #[case::long_float(
        "9007199254740993.0",
        "9007199254740993",
        "",
        Some("9007199254740993.0"),
        Some("9007199254740993")
    )]
    #[case::booleans(
        r#"{"on":true}"#,
        r#"{"on":false}"#,
        ".on",
        Some("true"),
        Some("false")
    )]
    #[case::null("[false]", "[null]", "[0]", Some("false"), Some("null"))]
    fn first_differences(
        #[case] was: &str,
        #[case] is: &str,
        #[case] path: &str,
        #[case] was_shown: Option<&str>,
        #[case] is_shown: Option<&str>,
    ) {
        let expected = (
            path.to_string(),
            was_shown.map(str::to_string),
            is_shown.map(str::to_string),
        );
        assert_eq!(difference_of(was, is), expected);
    }

    #[test]
    fn deep_differences_stop_at_the_depth_limit() {
        let deep = |leaf: &str| ["[".repeat(40), leaf.to_string(), "]".repeat(40)].concat();
        let (path, was, is) = difference_of(&deep("0"), &deep("1"));
        assert_eq!(path, "[0]".repeat(32));
        assert_eq!(was.as_deref(), Some("[1 item(s)]"));
        assert_eq!(is.as_deref(), Some("[1 item(s)]"));
    }

    #[test]
    fn large_values_are_followed_one_level_only() {
        let chain = |leaf: &str| [&r#"{"a":"#.repeat(30), leaf, &"}".repeat(30)].concat();
        let big = ["[", &"1,".repeat(40_000), "1]"].concat();
        let at_x = |value: String| [r#"{"x":"#, &value, "}"].concat();
        let (path, was, is) = difference_of(&at_x(chain("1")), &at_x(chain(&big)));
        assert_eq!(path, ".x");
        assert_eq!((was.as_deref(), is.as_deref()), (Some("{a}"), Some("{a}")));
        let (path, was, is) = difference_of(&chain("1"), &chain("2"));
        assert_eq!(path, ".a".repeat(30));
        assert_eq!((was.as_deref(), is.as_deref()), (Some("1"), Some("2")));
    }

    #[rstest]
    #[case::short("abc", 3, "abc")]
    #[case::long("abcd", 3, "abc…")]
    #[case::characters("ééé", 2, "éé…")]
    fn cut_texts(#[case] text: &str, #[case] max: usize, #[case] expected: &str) {
        assert_eq!(cut(text, max), expected);
    }

    #[test]
    fn same_content_in_any_order_is_equal() {
        let a = r#"{"apiVersion":"aws/v1alpha1","kind":"WorkerConfig","volume":{"iops":3000,"throughput":125}}"#;
        let b = "{\n  \"volume\": {\"throughput\": 125, \"iops\": 3000},\n  \"kind\": \"WorkerConfig\",\n  \"apiVersion\": \"aws/v1alpha1\"\n}";
        assert_eq!(canonical(a), canonical(b));
        assert_ne!(canonical(a), canonical(&b.replace("125", "250")));
    }
}
