//! The field path (`spec.containers[0].image`) at which decoding failed,
//! found by rescanning the document from the error's position. One small
//! scanner instead of a path-tracking copy of every `Deserialize` impl,
//! which would double the decoding code in every module.

/// The path of the value at which `error` occurred in `json`; empty for the
/// document itself.
pub fn error_path(json: &[u8], error: &serde_json::Error) -> String {
    // The reader, as serde_json, reports an error at the end of the value
    // it is about (a missing field at the end of its object), or at the
    // start of a container it refused to enter.
    let offset = offset_of(json, error.line(), error.column());
    render(json, &path_at(json, offset))
}

/// Byte offset of serde_json's 1-based line and 0-based byte column.
fn offset_of(json: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        json.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(json.len(), |(i, _)| i + 1)
    };
    line_start.saturating_add(column).min(json.len())
}

#[derive(Clone, Copy)]
enum Segment {
    Root,
    /// Byte range of the key, quotes included.
    Key(usize, usize),
    Index(usize),
}

struct Open {
    segment: Segment,
    is_array: bool,
    next_index: usize,
    /// Byte range of the key just read, in an object.
    key: Option<(usize, usize)>,
}

/// Segments of the value that starts last among those whose span (end
/// included) holds `offset`.
fn path_at(json: &[u8], offset: usize) -> Vec<Segment> {
    let path = |stack: &[Open], last: Option<Segment>| -> Vec<Segment> {
        stack.iter().map(|o| o.segment).chain(last).collect()
    };
    let holds = |end: usize| offset <= end;
    let mut stack: Vec<Open> = Vec::new();
    let mut i = skip_space(json, 0);
    let mut segment = Segment::Root;
    loop {
        // A value starts at `i`, reached as `segment`.
        let Some(&byte) = json.get(i).filter(|_| i <= offset) else {
            return path(&stack, None);
        };
        match byte {
            open @ (b'{' | b'[') => {
                stack.push(Open {
                    segment,
                    is_array: open == b'[',
                    next_index: 0,
                    key: None,
                });
                i = skip_space(json, i + 1);
            }
            _ => {
                let end = scalar_end(json, i);
                if holds(end) {
                    return path(&stack, Some(segment));
                }
                i = skip_space(json, end);
            }
        }
        // After a value or an opening bracket: close containers, find the next value.
        loop {
            let Some(top) = stack.last_mut() else {
                return Vec::new();
            };
            let Some(&byte) = json.get(i).filter(|_| i <= offset) else {
                return path(&stack, None);
            };
            match byte {
                b'}' | b']' => {
                    if holds(i + 1) {
                        return path(&stack, None);
                    }
                    stack.pop();
                    i = skip_space(json, i + 1);
                    if stack.is_empty() {
                        return Vec::new();
                    }
                }
                b',' => i = skip_space(json, i + 1),
                b'"' if !top.is_array && top.key.is_none() => {
                    let end = scalar_end(json, i);
                    top.key = Some((i, end));
                    i = skip_space(json, end);
                    if json.get(i) == Some(&b':') {
                        i = skip_space(json, i + 1);
                    }
                }
                _ if top.is_array => {
                    segment = Segment::Index(top.next_index);
                    top.next_index += 1;
                    break;
                }
                _ => {
                    let (start, end) = top.key.take().unwrap_or((i, i));
                    segment = Segment::Key(start, end);
                    break;
                }
            }
        }
    }
}

fn skip_space(json: &[u8], mut i: usize) -> usize {
    while json.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// End of the string, number or literal starting at `i`.
fn scalar_end(json: &[u8], i: usize) -> usize {
    if json.get(i) != Some(&b'"') {
        let mut end = i;
        while json
            .get(end)
            .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b':') && !b.is_ascii_whitespace())
        {
            end += 1;
        }
        return end.max(i + 1);
    }
    let mut end = i + 1;
    while let Some(b) = json.get(end) {
        match b {
            b'\\' => end += 2,
            b'"' => return end + 1,
            _ => end += 1,
        }
    }
    json.len()
}

fn render(json: &[u8], segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match *segment {
            Segment::Root => {}
            Segment::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            Segment::Key(start, end) => {
                let raw = json.get(start..end).unwrap_or_default();
                let key = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|text| crate::json::from_str::<String>(text).ok())
                    .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&key);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        #[serde(default)]
        name: String,
        #[serde(default)]
        spec: Option<Spec>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Spec {
        items: Vec<Item>,
        #[serde(default)]
        count: u8,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        id: u32,
        #[serde(default)]
        tags: Vec<String>,
    }

    fn path_of(json: &str) -> String {
        let error = serde_json::from_str::<Doc>(json).expect_err("invalid document");
        error_path(json.as_bytes(), &error)
    }

    #[rstest]
    #[case::scalar_wrong_type(r#"{"name": 7}"#, "name")]
    #[case::scalar_before_brace(r#"{"spec":{"items":[],"count":"x"}}"#, "spec.count")]
    #[case::out_of_range(r#"{"spec":{"items":[],"count":300}}"#, "spec.count")]
    #[case::container_wrong_type(r#"{"spec":{"items":{"a":1}}}"#, "spec.items")]
    #[case::array_element(r#"{"spec":{"items":[{"id":1},{"id":"two"}]}}"#, "spec.items[1].id")]
    #[case::nested_array(
        r#"{"spec":{"items":[{"id":1,"tags":["a",2]}]}}"#,
        "spec.items[0].tags[1]"
    )]
    #[case::missing_field(r#"{"spec":{"items":[{"id":1},{"tags":[]}]}}"#, "spec.items[1]")]
    #[case::missing_field_spaced("{\n  \"spec\": {\n    \"count\": 1\n  }\n}", "spec")]
    #[case::unknown_field(r#"{"spec":{"items":[],"cuont":1}}"#, "spec")]
    #[case::unknown_top_level(r#"{"nmae":"x"}"#, "")]
    #[case::map_value(r#"{"labels":{"a":"b","c":3}}"#, "labels.c")]
    #[case::escaped_key(r#"{"labels":{"a\"b":3}}"#, "labels.a\"b")]
    #[case::multiline(
        "{\n  \"spec\": {\n    \"items\": [\n      {\"id\": -1}\n    ]\n  }\n}",
        "spec.items[0].id"
    )]
    #[case::struct_from_array("[1]", "[0]")]
    #[case::truncated(r#"{"spec":{"items":[{"id":1},"#, "spec.items")]
    fn names_the_offending_value(#[case] json: &str, #[case] expected: &str) {
        assert_eq!(path_of(json), expected);
    }

    #[test]
    fn every_prefix_and_byte_flip_is_answered() {
        let json = br#"{"spec":{"items":[{"id":1,"tags":["a\"b",2]},{"id":"x"}],"count":3},"labels":{"k":"v"}}"#;
        let mut inputs: Vec<Vec<u8>> = (0..json.len()).map(|n| json[..n].to_vec()).collect();
        for at in 0..json.len() {
            for byte in [b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'\n', 0xff] {
                let mut flipped = json.to_vec();
                flipped[at] = byte;
                inputs.push(flipped);
            }
        }
        for input in inputs {
            let Err(error) = serde_json::from_slice::<Doc>(&input) else {
                continue;
            };
            let path = error_path(&input, &error);
            let text = String::from_utf8_lossy(&input);
            for key in path.split(['.', '[', ']']).filter(|k| !k.is_empty()) {
                let escaped = serde_json::to_string(key).unwrap_or_default();
                let named = key.parse::<usize>().is_ok()
                    || text.contains(key)
                    || text.contains(escaped.trim_matches('"'));
                assert!(named, "`{key}` of `{path}` is not in {text}");
            }
        }
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let error = serde_json::from_str::<Doc>(&json).expect_err("not a Doc");
        assert!(error_path(json.as_bytes(), &error).starts_with("[0]"));
        assert_eq!(path_at(json.as_bytes(), 50_000).len(), 50_001);
    }
}
