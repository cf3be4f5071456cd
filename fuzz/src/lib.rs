//! Shared plumbing of the fuzz targets: which rule to fuzz, a host whose
//! answers come from the input, and the checks every response must pass.
//!
//! Every target fuzzes the rule named by `CRASH_GUARD_RULE`, or, when it is
//! unset, the rule `RULES[first byte % RULES.len()]` with the rest of the
//! input. Rules are taken from `crash_guard::registry::RULES`, so a rule
//! added there is fuzzed without new code here.

use std::sync::OnceLock;

use crash_guard::host::Host;
use crash_guard::registry::{self, RuleEntry, RULES};
use crash_guard::response::{SettingsValidationResponse, ValidationResponse};

/// Environment variable naming the rule to fuzz.
pub const RULE_VAR: &str = "CRASH_GUARD_RULE";
/// When set, a target prints the registry's rule names and exits.
pub const LIST_VAR: &str = "CRASH_GUARD_LIST_RULES";
/// When set, every response is printed to stderr (to inspect seeds: `target input...`).
pub const SHOW_VAR: &str = "CRASH_GUARD_SHOW";

/// When set, an input containing `selftest-panic` panics: proves that `make
/// selftest` catches, minimises and saves a crash.
pub const SELFTEST_VAR: &str = "CRASH_GUARD_FUZZ_SELFTEST";

static SHOW: OnceLock<bool> = OnceLock::new();
static SELFTEST: OnceLock<bool> = OnceLock::new();

static FIXED_RULE: OnceLock<Option<&'static RuleEntry>> = OnceLock::new();

/// Runs once before fuzzing (libFuzzer's `LLVMFuzzerInitialize`): answers
/// `CRASH_GUARD_LIST_RULES` and refuses an unknown `CRASH_GUARD_RULE`.
pub fn init() {
    if std::env::var_os(LIST_VAR).is_some() {
        for rule in RULES {
            println!("{}", rule.name);
        }
        std::process::exit(0);
    }
    let fixed = match std::env::var(RULE_VAR) {
        Ok(name) if !name.is_empty() => match registry::find(&name) {
            Some(rule) => Some(rule),
            None => {
                let known: Vec<&str> = RULES.iter().map(|r| r.name).collect();
                eprintln!(
                    "{RULE_VAR}={name} is not a rule; known: {}",
                    known.join(", ")
                );
                std::process::exit(2);
            }
        },
        _ => None,
    };
    let _ = FIXED_RULE.set(fixed);
    let _ = SHOW.set(std::env::var_os(SHOW_VAR).is_some());
    let _ = SELFTEST.set(std::env::var_os(SELFTEST_VAR).is_some());
}

fn show(rule: &RuleEntry, response: &impl std::fmt::Debug) {
    if SHOW.get().copied().unwrap_or(false) {
        eprintln!("{}: {response:?}", rule.name);
    }
}

/// The rule to fuzz and the input meant for it.
pub fn select(data: &[u8]) -> Option<(&'static RuleEntry, &[u8])> {
    if SELFTEST.get().copied().unwrap_or(false) && data.windows(14).any(|w| w == b"selftest-panic")
    {
        panic!("selftest: planted panic");
    }
    match FIXED_RULE.get_or_init(|| None) {
        Some(rule) => Some((rule, data)),
        None => {
            let (first, rest) = data.split_first()?;
            let rule = RULES.get(usize::from(*first) % RULES.len().max(1))?;
            Some((rule, rest))
        }
    }
}

/// Lookups either fail with a message or answer a fixed body, as the
/// harness's `lookupError` / `lookupBody` do.
pub enum FuzzHost<'a> {
    Fails,
    Answers(&'a [u8]),
}

impl Host for FuzzHost<'_> {
    fn call(&self, namespace: &str, operation: &str, _: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            FuzzHost::Fails => Err(format!("fuzz host: {namespace}/{operation} failed")),
            FuzzHost::Answers(body) => Ok(body.to_vec()),
        }
    }
}

/// What the waPC layer would send back must be a valid, sensible document.
pub fn check_validation(rule: &RuleEntry, response: &ValidationResponse) {
    show(rule, response);
    let json = serde_json::to_vec(response).unwrap_or_else(|e| {
        panic!(
            "{}: the validate response cannot be encoded: {e}",
            rule.name
        )
    });
    assert!(!json.is_empty());
    if !response.accepted {
        let message = response.message.as_deref().unwrap_or("");
        assert!(
            !message.is_empty(),
            "{}: a refusal without a message: {response:?}",
            rule.name
        );
    }
}

pub fn check_settings(rule: &RuleEntry, response: &SettingsValidationResponse) {
    show(rule, response);
    serde_json::to_vec(response).unwrap_or_else(|e| {
        panic!(
            "{}: the settings response cannot be encoded: {e}",
            rule.name
        )
    });
    if !response.valid {
        assert!(
            response.message.as_deref().is_some_and(|m| !m.is_empty()),
            "{}: invalid settings without a message",
            rule.name
        );
    }
}
