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
        let mut terms: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for r in &self.match_expressions {
            terms.push(match r.operator {
                Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
                Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Operator::Exists => r.key.clone(),
                Operator::DoesNotExist => format!("!{}", r.key),
            });
        }
        terms.join(",")
    }
}

impl Validate for LabelSelector {
    fn validate(&self) -> Result<(), SettingsError> {
        for (index, r) in self.match_expressions.iter().enumerate() {
            let field = format!("matchExpressions[{index}]");
            if r.key.is_empty() {
                return Err(SettingsError::new(
                    format!("{field}.key"),
                    "must not be empty",
                ));
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
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
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

    #[test]
    fn unknown_operator_is_a_decode_error() {
        let result: Result<LabelSelector, _> =
            serde_json::from_str(r#"{"matchExpressions":[{"key":"a","operator":"Maybe"}]}"#);
        assert!(result.is_err());
    }
}
