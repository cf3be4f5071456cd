//! What a rule finds, and the one place that renders it into a response.

use crate::response::{count, ValidationResponse};

/// One thing wrong with an object: where, what value, why it breaks the
/// cluster, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the offending field, e.g. `webhooks[0].namespaceSelector`.
    pub field: String,
    /// The value found there, rendered for people.
    pub value: String,
    /// What is wrong and why it breaks the cluster.
    pub problem: String,
    /// What to change.
    pub fix: String,
    /// What it is about, for telling on UPDATE whether the old object had
    /// it already; empty when the text itself says so.
    pub findings: Vec<Finding>,
}

/// One thing a violation is about (e.g. `containers/web/qps`), and how far
/// it goes: an UPDATE keeps it when the old object had it as far or farther.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub key: String,
    pub extent: u64,
}

impl Violation {
    pub fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            value: value.into(),
            problem: problem.into(),
            fix: fix.into(),
            findings: Vec::new(),
        }
    }

    /// The violation, about `findings`.
    pub fn about(mut self, findings: Vec<Finding>) -> Self {
        self.findings = findings;
        self
    }

    /// The warning for a violation an UPDATE keeps from the old object, which
    /// is allowed so that fixing the rest is never blocked: `allowed` says why.
    pub fn kept_warning(&self, rule: &str, object: &str, allowed: &str) -> String {
        [
            "crash-guard/",
            rule,
            ": ",
            object,
            ": ",
            &self.field,
            " = ",
            &self.value,
            allowed,
            &self.problem,
            " Fix: ",
            &self.fix,
        ]
        .concat()
    }
}

/// What an UPDATE's old object had, to tell which of the new object's
/// violations the update does not introduce: one with findings when the old
/// object had each of them as far or farther, one without when the old
/// object had the same text. A set and a map, not a scan per violation
/// (quadratic in containers or pools).
pub struct Before<'o> {
    texts: std::collections::BTreeSet<(&'o str, &'o str, &'o str, &'o str)>,
    farthest: std::collections::BTreeMap<&'o str, u64>,
}

impl<'o> Before<'o> {
    pub fn new(old: &'o [Violation]) -> Self {
        let mut farthest = std::collections::BTreeMap::new();
        for finding in old.iter().flat_map(|v| &v.findings) {
            let extent = farthest.entry(finding.key.as_str()).or_insert(0);
            *extent = finding.extent.max(*extent);
        }
        let texts = crate::btree::set(old.iter().filter(|v| v.findings.is_empty()).map(|v| {
            (
                v.field.as_str(),
                v.value.as_str(),
                v.problem.as_str(),
                v.fix.as_str(),
            )
        }));
        Self { texts, farthest }
    }

    pub fn had(&self, v: &Violation) -> bool {
        if v.findings.is_empty() {
            let text = (
                v.field.as_str(),
                v.value.as_str(),
                v.problem.as_str(),
                v.fix.as_str(),
            );
            self.texts.contains(&text)
        } else {
            v.findings.iter().all(|f| {
                self.farthest
                    .get(f.key.as_str())
                    .is_some_and(|&extent| extent >= f.extent)
            })
        }
    }
}

/// Everything a rule concluded about one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub violations: Vec<Violation>,
    pub warnings: Vec<String>,
}

impl Verdict {
    pub fn accept() -> Self {
        Self::default()
    }

    pub fn violation(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    pub fn warning(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// Adds the warning `text` makes while fewer than [`MAX_LISTED`] are
    /// listed; once the list is full, makes nothing and returns false, for
    /// the caller to count what was left out.
    pub fn listed_warning(&mut self, text: impl FnOnce() -> String) -> bool {
        let room = self.warnings.len() < MAX_LISTED;
        if room {
            self.warnings.push(text());
        }
        room
    }

    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warning(warning);
        self
    }

    pub fn is_accepted(&self) -> bool {
        self.violations.is_empty()
    }

    /// Renders the verdict about `object` (e.g. `Secret default/big`) for `rule`.
    ///
    /// Violations keep the order the rule found them in (rules walk objects
    /// in document order, so the order is stable); duplicates are dropped.
    /// The first [`MAX_LISTED`] distinct ones are listed, the rest counted.
    pub fn into_response(self, rule: &str, object: &str) -> ValidationResponse {
        let mut warnings = self.warnings;
        for warning in warnings.iter_mut().filter(|w| w.len() > MAX_WARNING) {
            let mut clipped = String::with_capacity(MAX_WARNING + 32);
            push_clipped(&mut clipped, warning, MAX_WARNING);
            *warning = clipped;
        }
        if self.violations.is_empty() {
            return ValidationResponse::accept(warnings);
        }
        let mut listed: Vec<Violation> = Vec::with_capacity(self.violations.len().min(MAX_LISTED));
        let mut unlisted = 0usize;
        for violation in self.violations {
            if listed.contains(&violation) {
                continue;
            }
            if listed.len() < MAX_LISTED {
                listed.push(violation);
            } else {
                unlisted = unlisted.saturating_add(1);
            }
        }
        let message = render(rule, object, &listed, unlisted);
        ValidationResponse::reject(message, None, warnings)
    }
}

/// Violations listed in one message: more than any real object has, and a
/// bound on the message (and the duplicate check) for adversarial ones.
pub const MAX_LISTED: usize = 100;

/// Bytes of one field, value, problem or fix in a message, of one warning,
/// and of the listed violations in all: an object's own text (a selector of
/// 100,000 values) must not make a response of megabytes.
const MAX_PART: usize = 4 * 1024;
const MAX_WARNING: usize = 2 * MAX_PART;
const MAX_MESSAGE: usize = 64 * 1024;

/// Appends `text` to `out`, cut at `max` bytes (at a character's start)
/// with a note of how much was left out.
#[inline(never)]
fn push_clipped(out: &mut String, text: &str, max: usize) {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(text.get(..end).unwrap_or_default());
    if end < text.len() {
        let mut digits = [0; 20];
        for part in ["… (", count(text.len() - end, &mut digits), " more bytes)"] {
            out.push_str(part);
        }
    }
}

fn render(rule: &str, object: &str, violations: &[Violation], unlisted: usize) -> String {
    let mut digits = [0; 20];
    let total = count(violations.len().saturating_add(unlisted), &mut digits);
    let mut message = String::with_capacity(
        64 + violations
            .iter()
            .map(|v| 24 + v.field.len() + v.value.len() + v.problem.len() + v.fix.len())
            .sum::<usize>()
            .min(MAX_MESSAGE + 4 * MAX_PART),
    );
    for part in ["crash-guard/", rule, " refused ", object, ": ", total] {
        message.push_str(part);
    }
    message.push_str(if violations.len().saturating_add(unlisted) == 1 {
        " violation."
    } else {
        " violations."
    });
    let mut unlisted = unlisted;
    for (index, v) in violations.iter().enumerate() {
        if message.len() >= MAX_MESSAGE {
            unlisted = unlisted.saturating_add(violations.len() - index);
            break;
        }
        let mut digits = [0; 20];
        let number = count(index + 1, &mut digits);
        for start in [" [", number] {
            message.push_str(start);
        }
        for (separator, part) in [
            ("] ", &v.field),
            (" = ", &v.value),
            (": ", &v.problem),
            (" Fix: ", &v.fix),
        ] {
            message.push_str(separator);
            push_clipped(&mut message, part, MAX_PART);
        }
    }
    if unlisted > 0 {
        let mut digits = [0; 20];
        for part in [" And ", count(unlisted, &mut digits), " more, not listed."] {
            message.push_str(part);
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(field: &str) -> Violation {
        Violation::new(field, "x", "it breaks.", "change it.")
    }

    #[test]
    fn kept_warnings_name_object_field_value_problem_and_fix() {
        assert_eq!(
            v("spec.x").kept_warning("rule", "Kind ns/name", " was so before. "),
            "crash-guard/rule: Kind ns/name: spec.x = x was so before. it breaks. Fix: change it."
        );
    }

    #[test]
    fn accepted_verdict_carries_warnings() {
        let response = Verdict::accept()
            .with_warning("careful")
            .into_response("r", "Secret a/b");
        assert!(response.accepted);
        assert_eq!(response.warnings, Some(vec!["careful".to_string()]));
    }

    #[test]
    fn every_violation_is_rendered_in_order_once() {
        let mut verdict = Verdict::accept();
        verdict.violation(v("b"));
        verdict.violation(v("a"));
        verdict.violation(v("b"));
        let response = verdict.into_response("object-size", "Secret a/b");
        assert!(!response.accepted);
        assert_eq!(
            response.message.as_deref(),
            Some(
                "crash-guard/object-size refused Secret a/b: 2 violations. \
                 [1] b = x: it breaks. Fix: change it. [2] a = x: it breaks. Fix: change it."
            )
        );
    }

    #[test]
    fn violations_past_the_listed_maximum_are_counted() {
        let mut verdict = Verdict::accept();
        for index in 0..MAX_LISTED + 3 {
            verdict.violation(v(&format!("f{index}")));
            verdict.violation(v("f0"));
        }
        let message = verdict
            .into_response("api-rate-limit", "Pod a/b")
            .message
            .unwrap_or_default();
        assert!(
            message.contains(": 103 violations. [1] f0 = x"),
            "{message}"
        );
        assert!(message.contains("[100] f99 = x"), "{message}");
        assert!(!message.contains("[101]"), "{message}");
        assert!(
            message.ends_with("Fix: change it. And 3 more, not listed."),
            "{message}"
        );
    }

    /// Review regression: a selector of 120,000 values, repeated in the value
    /// and fix of each violation, made a response of 4.85 MB.
    #[test]
    fn long_texts_are_clipped_and_the_message_bounded() {
        let huge = "é".repeat(300_000);
        let mut verdict = Verdict::accept();
        for i in 0..40 {
            verdict.violation(Violation::new(
                format!("f{i}"),
                huge.clone(),
                "bad.",
                huge.clone(),
            ));
        }
        verdict.warning(huge.clone());
        let response = verdict.into_response("rule", "Kind ns/name");
        let message = response.message.unwrap_or_default();
        assert!(
            message.len() < MAX_MESSAGE + 4 * MAX_PART + 100,
            "{}",
            message.len()
        );
        assert!(
            message.contains("… (595904 more bytes)"),
            "clipped at a char boundary"
        );
        assert!(message.ends_with(" more, not listed."));
        let warning = response.warnings.unwrap_or_default();
        assert!(warning.iter().all(|w| w.len() < MAX_WARNING + 40));
    }
}
