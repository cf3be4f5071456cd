//! Kubernetes label selectors: matching, validation, and the string form used
//! by list requests (`a=b,c in (x,y),!d`).

use std::borrow::Borrow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::settings::{SettingsError, Validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Operator {
    /// The name Kubernetes writes.
    pub fn name(self) -> &'static str {
        match self {
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Exists => "Exists",
            Operator::DoesNotExist => "DoesNotExist",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    #[serde(default)]
    pub values: Vec<String>,
}

/// `metav1.LabelSelector`. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

/// Read access to an object's labels, whatever map holds them.
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

impl<K, V> Labels for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(AsRef::as_ref)
    }
}

impl Requirement {
    pub fn matches(&self, labels: &impl Labels) -> bool {
        let value = labels.label(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    pub fn matches(&self, labels: &impl Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.label(k) == Some(v.as_str()))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Parses the string form (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut selector = Self::default();
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            selector.match_expressions.push(parse_term(term)?);
        }
        Ok(selector)
    }

    /// The string form, as list requests carry it.
    pub fn to_query(&self) -> String {
        let mut query = String::with_capacity(64);
        let mut separator = "";
        for (key, value) in &self.match_labels {
            for part in [separator, key, "=", value] {
                query.push_str(part);
            }
            separator = ",";
        }
        for r in &self.match_expressions {
            query.push_str(separator);
            separator = ",";
            let (before, between) = match r.operator {
                Operator::In => ("", " in ("),
                Operator::NotIn => ("", " notin ("),
                Operator::Exists => ("", ""),
                Operator::DoesNotExist => ("!", ""),
            };
            for part in [before, &r.key, between] {
                query.push_str(part);
            }
            if !between.is_empty() {
                for (i, value) in r.values.iter().enumerate() {
                    if i > 0 {
                        query.push(',');
                    }
                    query.push_str(value);
                }
                query.push(')');
            }
        }
        query
    }
}

/// The label the API server sets on every Namespace to its name; nobody can
/// change or remove it, so selectors on it are the only lasting exclusions.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl LabelSelector {
    /// The label keys the selector reads.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.match_labels
            .keys()
            .map(String::as_str)
            .chain(self.match_expressions.iter().map(|r| r.key.as_str()))
    }

    /// True when no object whose label `key` is `value` can match, whatever
    /// its other labels: a term on `key` itself fails for `value`.
    pub fn excludes_whenever(&self, key: &str, value: &str) -> bool {
        let fixed = crate::btree::map([(key, value)]);
        self.match_labels
            .get(key)
            .is_some_and(|wanted| wanted != value)
            || self
                .match_expressions
                .iter()
                .any(|r| r.key == key && !r.matches(&fixed))
    }

    /// This selector narrowed so that objects whose label `key` is one of
    /// `values` never match: extends a `NotIn` term on `key`, or adds one.
    pub fn excluding(&self, key: &str, values: &[&str]) -> LabelSelector {
        let mut narrowed = self.clone();
        let missing: Vec<String> = values
            .iter()
            .filter(|v| !self.excludes_whenever(key, v))
            .map(|v| v.to_string())
            .collect();
        if missing.is_empty() {
            return narrowed;
        }
        match narrowed
            .match_expressions
            .iter_mut()
            .find(|r| r.key == key && r.operator == Operator::NotIn)
        {
            Some(term) => term.values.extend(missing),
            None => narrowed.match_expressions.push(Requirement {
                key: key.to_string(),
                operator: Operator::NotIn,
                values: missing,
            }),
        }
        narrowed
    }

    /// The YAML flow form, to paste into a manifest:
    /// `{matchExpressions: [{key: a, operator: NotIn, values: [x]}]}`.
    pub fn to_flow_yaml(&self) -> String {
        let mut out = String::from("{");
        if !self.match_labels.is_empty() {
            out.push_str("matchLabels: ");
            push_flow_map(&mut out, &self.match_labels);
        }
        if !self.match_expressions.is_empty() {
            if !self.match_labels.is_empty() {
                out.push_str(", ");
            }
            out.push_str("matchExpressions: [");
            for (index, requirement) in self.match_expressions.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str("{key: ");
                push_yaml_scalar(&mut out, &requirement.key);
                out.push_str(", operator: ");
                out.push_str(requirement.operator.name());
                if !requirement.values.is_empty() {
                    out.push_str(", values: [");
                    for (index, value) in requirement.values.iter().enumerate() {
                        if index > 0 {
                            out.push_str(", ");
                        }
                        push_yaml_scalar(&mut out, value);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
        out.push('}');
        out
    }
}

/// Labels in YAML flow form: `{app: web, tier: "1"}`.
pub fn labels_flow_yaml(labels: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    push_flow_map(&mut out, labels);
    out
}

fn push_flow_map(out: &mut String, labels: &BTreeMap<String, String>) {
    out.push('{');
    for (index, (key, value)) in labels.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        push_yaml_scalar(out, key);
        out.push_str(": ");
        push_yaml_scalar(out, value);
    }
    out.push('}');
}

/// Appends a label key or value as a YAML scalar, quoted when YAML would read
/// it as something other than that string.
fn push_yaml_scalar(out: &mut String, text: &str) {
    // With those of a float Rust parses (which a leading letter leaves).
    const YAML_WORDS: [&str; 13] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "inf", "infinity", "nan",
    ];
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !YAML_WORDS
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
        // A leading digit may make a number, a date or a base-prefixed integer.
        && !text.starts_with(|c: char| c == '-' || c == '.' || c.is_ascii_digit());
    if plain {
        out.push_str(text);
        return;
    }
    // A YAML double-quoted scalar, escaped as JSON escapes a string.
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Control characters and the two noncharacters YAML does not print.
            c if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why `value` is not a label value (empty, or a [`is_label_segment`]), if it is not.
fn label_value_problem(value: &str) -> Option<String> {
    (!value.is_empty() && !is_label_segment(value)).then(|| {
        format!("`{value}` is not a label value (at most 63 characters of A-Z, a-z, 0-9, `-`, `_` and `.`, starting and ending alphanumeric), so it matches no object")
    })
}

impl Validate for LabelSelector {
    fn validate(&self) -> Result<(), SettingsError> {
        for (key, value) in &self.match_labels {
            let field = format!("matchLabels.{key}");
            if let Some(problem) = label_key_problem(key) {
                let problem = format!("`{key}` is not a label key: {problem}");
                return Err(SettingsError::new(field, problem));
            }
            if let Some(problem) = label_value_problem(value) {
                return Err(SettingsError::new(field, problem));
            }
        }
        for (index, r) in self.match_expressions.iter().enumerate() {
            let field = format!("matchExpressions[{index}]");
            if let Some(problem) = label_key_problem(&r.key) {
                let problem = format!("`{}` is not a label key: {problem}", r.key);
                return Err(SettingsError::new(format!("{field}.key"), problem));
            }
            if let Some((at, problem)) = r
                .values
                .iter()
                .enumerate()
                .find_map(|(at, v)| Some((at, label_value_problem(v)?)))
            {
                return Err(SettingsError::new(format!("{field}.values[{at}]"), problem));
            }
            let needs_values = matches!(r.operator, Operator::In | Operator::NotIn);
            if needs_values == r.values.is_empty() {
                let problem = if needs_values {
                    "operators In and NotIn need at least one value"
                } else {
                    "operators Exists and DoesNotExist take no values"
                };
                return Err(SettingsError::new(format!("{field}.values"), problem));
            }
        }
        Ok(())
    }
}

/// A label name or value segment: at most 63 alphanumerics, `-`, `_`, `.`,
/// starting and ending alphanumeric.
pub fn is_label_segment(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    text.len() <= 63
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Why `text` is not a label key (`[prefix/]name`), if it is not.
pub fn label_key_problem(text: &str) -> Option<&'static str> {
    let name = match text.split_once('/') {
        Some((prefix, name)) => {
            if !crate::settings::is_dns_subdomain(prefix) {
                return Some("the prefix before `/` must be a lowercase DNS subdomain (RFC 1123: at most 253 characters, dot-separated parts of a-z, 0-9 and `-`, each starting and ending alphanumeric)");
            }
            name
        }
        None => text,
    };
    (!is_label_segment(name)).then_some("the name must be 1 to 63 characters of A-Z, a-z, 0-9, `-`, `_` and `.`, starting and ending alphanumeric")
}

/// Splits on commas outside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.extend(text.get(start..i));
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.extend(text.get(start..));
    terms
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    let requirement = |key: &str, operator, values: Vec<String>| {
        let key = key.trim();
        if key.is_empty() {
            Err(format!("selector term `{term}` has no key"))
        } else {
            Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            })
        }
    };
    if let Some(key) = term.strip_prefix('!') {
        return requirement(key, Operator::DoesNotExist, vec![]);
    }
    if let Some((key, value)) = term.split_once("!=") {
        return requirement(key, Operator::NotIn, vec![value.trim().to_string()]);
    }
    if let Some((key, value)) = term.split_once('=') {
        let value = value.strip_prefix('=').unwrap_or(value);
        return requirement(key, Operator::In, vec![value.trim().to_string()]);
    }
    for (word, operator) in [(" notin ", Operator::NotIn), (" in ", Operator::In)] {
        if let Some((key, rest)) = term.split_once(word) {
            let list = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("selector term `{term}` needs a (list)"))?;
            let values = list.split(',').map(|v| v.trim().to_string()).collect();
            return requirement(key, operator, values);
        }
    }
    requirement(term, Operator::Exists, vec![])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn selector(json: &str) -> LabelSelector {
        serde_json::from_str(json).expect("valid selector")
    }

    #[rstest]
    #[case::empty_matches_all("{}", &[], true)]
    #[case::match_labels("{\"matchLabels\":{\"a\":\"1\"}}", &[("a", "1")], true)]
    #[case::match_labels_other_value("{\"matchLabels\":{\"a\":\"1\"}}", &[("a", "2")], false)]
    #[case::match_labels_missing("{\"matchLabels\":{\"a\":\"1\"}}", &[], false)]
    #[case::in_hit(r#"{"matchExpressions":[{"key":"a","operator":"In","values":["1","2"]}]}"#, &[("a", "2")], true)]
    #[case::in_missing(r#"{"matchExpressions":[{"key":"a","operator":"In","values":["1"]}]}"#, &[], false)]
    #[case::not_in_missing_key(r#"{"matchExpressions":[{"key":"a","operator":"NotIn","values":["1"]}]}"#, &[], true)]
    #[case::not_in_listed(r#"{"matchExpressions":[{"key":"a","operator":"NotIn","values":["1"]}]}"#, &[("a", "1")], false)]
    #[case::exists(r#"{"matchExpressions":[{"key":"a","operator":"Exists"}]}"#, &[("a", "")], true)]
    #[case::does_not_exist(r#"{"matchExpressions":[{"key":"a","operator":"DoesNotExist"}]}"#, &[("a", "x")], false)]
    #[case::all_must_hold(r#"{"matchLabels":{"b":"2"},"matchExpressions":[{"key":"a","operator":"Exists"}]}"#, &[("a", "1")], false)]
    fn matches(#[case] json: &str, #[case] pairs: &[(&str, &str)], #[case] expected: bool) {
        assert_eq!(selector(json).matches(&labels(pairs)), expected);
    }

    #[rstest]
    #[case::equality("a=1", &[("a", "1")], true)]
    #[case::double_equality("a==1", &[("a", "2")], false)]
    #[case::inequality("a!=1", &[], true)]
    #[case::set("a in (1, 2),b notin (3)", &[("a", "2"), ("b", "4")], true)]
    #[case::set_miss("a in (1,2)", &[("a", "3")], false)]
    #[case::exists_and_not("a,!b", &[("a", "x")], true)]
    #[case::not_exists_fails("!b", &[("b", "x")], false)]
    #[case::empty_matches_all("", &[], true)]
    fn parses_string_form(
        #[case] text: &str,
        #[case] pairs: &[(&str, &str)],
        #[case] expected: bool,
    ) {
        let parsed = LabelSelector::parse(text).expect("valid");
        assert_eq!(parsed.matches(&labels(pairs)), expected);
        let reparsed = LabelSelector::parse(&parsed.to_query()).expect("round trip");
        assert_eq!(reparsed.matches(&labels(pairs)), expected);
    }

    #[rstest]
    #[case::no_list("a in 1")]
    #[case::no_key("=1")]
    fn refuses_bad_strings(#[case] text: &str) {
        assert!(LabelSelector::parse(text).is_err());
    }

    #[rstest]
    #[case::in_without_values(
        r#"{"matchExpressions":[{"key":"a","operator":"In"}]}"#,
        "matchExpressions[0].values"
    )]
    #[case::exists_with_values(
        r#"{"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]}"#,
        "matchExpressions[0].values"
    )]
    #[case::empty_key(
        r#"{"matchExpressions":[{"key":"","operator":"Exists"}]}"#,
        "matchExpressions[0].key"
    )]
    fn validates(#[case] json: &str, #[case] field: &str) {
        assert_eq!(selector(json).validate().unwrap_err().field, field);
    }

    fn named(name: &str) -> BTreeMap<String, String> {
        labels(&[(NAMESPACE_NAME_LABEL, name)])
    }

    #[rstest]
    #[case::not_in_name(r#"{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system"]}]}"#, "kube-system", true)]
    #[case::not_in_other_name(r#"{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["apps"]}]}"#, "kube-system", false)]
    #[case::in_other_names(r#"{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"In","values":["apps","web"]}]}"#, "kube-system", true)]
    #[case::match_labels_other_name(
        r#"{"matchLabels":{"kubernetes.io/metadata.name":"apps"}}"#,
        "kube-system",
        true
    )]
    #[case::match_labels_same_name(
        r#"{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}}"#,
        "kube-system",
        false
    )]
    #[case::does_not_exist(
        r#"{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"DoesNotExist"}]}"#,
        "kube-system",
        true
    )]
    #[case::opt_in_label_depends_on_labels(
        r#"{"matchLabels":{"istio-injection":"enabled"}}"#,
        "kube-system",
        false
    )]
    #[case::legacy_name_label_depends_on_labels(
        r#"{"matchExpressions":[{"key":"name","operator":"NotIn","values":["kube-system"]}]}"#,
        "kube-system",
        false
    )]
    #[case::empty("{}", "kube-system", false)]
    fn excludes_whenever(#[case] json: &str, #[case] name: &str, #[case] expected: bool) {
        let parsed = selector(json);
        assert_eq!(
            parsed.excludes_whenever(NAMESPACE_NAME_LABEL, name),
            expected
        );
        if expected {
            assert!(!parsed.matches(&named(name)));
        }
    }

    #[rstest]
    #[case::empty("{}", "{matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, kube-public]}]}")]
    #[case::keeps_opt_in(r#"{"matchLabels":{"istio-injection":"enabled"}}"#, "{matchLabels: {istio-injection: enabled}, matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, kube-public]}]}")]
    #[case::extends_not_in(r#"{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system"]}]}"#, "{matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, kube-public]}]}")]
    #[case::already_excluded(
        r#"{"matchLabels":{"kubernetes.io/metadata.name":"apps"}}"#,
        "{matchLabels: {kubernetes.io/metadata.name: apps}}"
    )]
    #[case::quotes_odd_values(r#"{"matchExpressions":[{"key":"enabled","operator":"In","values":["true",""]}]}"#, r#"{matchExpressions: [{key: enabled, operator: In, values: ["true", ""]}, {key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, kube-public]}]}"#)]
    fn excluding_renders_a_snippet(#[case] json: &str, #[case] expected: &str) {
        let narrowed =
            selector(json).excluding(NAMESPACE_NAME_LABEL, &["kube-system", "kube-public"]);
        assert_eq!(narrowed.to_flow_yaml(), expected);
        for name in ["kube-system", "kube-public"] {
            assert!(narrowed.excludes_whenever(NAMESPACE_NAME_LABEL, name));
            assert!(!narrowed.matches(&named(name)));
        }
    }

    #[rstest]
    #[case::empty("{}", "{}")]
    #[case::labels_and_expressions(
        r#"{"matchLabels":{"a":"1","b":"Yes"},"matchExpressions":[{"key":"c","operator":"Exists"},{"key":"d","operator":"DoesNotExist"}]}"#,
        r#"{matchLabels: {a: "1", b: "Yes"}, matchExpressions: [{key: c, operator: Exists}, {key: d, operator: DoesNotExist}]}"#
    )]
    #[case::quoted_key(
        r#"{"matchLabels":{"-x":"a b","y.z/w":"inf"}}"#,
        r#"{matchLabels: {"-x": "a b", y.z/w: "inf"}}"#
    )]
    #[case::leading_digits_quoted(
        r#"{"matchLabels":{"b":"0b101","d":"2001-12-14","n":"1_000","r":"0x1F","v":"v1_0"}}"#,
        r#"{matchLabels: {b: "0b101", d: "2001-12-14", "n": "1_000", r: "0x1F", v: v1_0}}"#
    )]
    #[case::float_words_quoted(
        r#"{"matchLabels":{"a":"NaN","b":"Infinity","c":"info"}}"#,
        r#"{matchLabels: {a: "NaN", b: "Infinity", c: info}}"#
    )]
    #[case::escaped_as_json(
        r#"{"matchLabels":{"a":"say \"hi\"\\","b":"\u001b[0m\n","c":"ü x","d":"\uffff"}}"#,
        r#"{matchLabels: {a: "say \"hi\"\\", b: "\u001b[0m\n", c: "ü x", d: "\uffff"}}"#
    )]
    fn renders_flow_yaml(#[case] json: &str, #[case] expected: &str) {
        assert_eq!(selector(json).to_flow_yaml(), expected);
    }

    #[test]
    fn keys_lists_every_term() {
        let parsed = selector(
            r#"{"matchLabels":{"a":"1"},"matchExpressions":[{"key":"b","operator":"Exists"}]}"#,
        );
        assert_eq!(parsed.keys().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn unknown_operator_is_a_decode_error() {
        let result: Result<LabelSelector, _> =
            serde_json::from_str(r#"{"matchExpressions":[{"key":"a","operator":"Maybe"}]}"#);
        assert!(result.is_err());
    }
}
