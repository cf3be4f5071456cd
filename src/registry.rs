//! Every rule by name, for hosts that run rules natively (benchmarks, the
//! bundle, shift-left checks).

use serde_json::value::RawValue;

use crate::host::Host;
use crate::policy::{self, Rule};
use crate::request::Request;
use crate::response::{SettingsValidationResponse, ValidationResponse};
use crate::settings::{SettingsError, Validate};
use crate::violation::Verdict;

#[derive(Clone, Copy)]
pub struct RuleEntry {
    pub name: &'static str,
    /// The module's `validate`.
    pub validate: fn(&[u8], &dyn Host) -> ValidationResponse,
    /// The module's `validate_settings`.
    pub validate_settings: fn(&[u8]) -> SettingsValidationResponse,
    /// Judges an already decoded request under raw settings.
    pub judge: fn(&Request, Option<&RawValue>, &dyn Host) -> Result<Verdict, String>,
    pub check_settings: fn(Option<&RawValue>) -> Result<(), SettingsError>,
    /// Validates the default settings (taken without validation per request).
    pub validate_defaults: fn() -> Result<(), SettingsError>,
}

const fn entry<R: Rule>() -> RuleEntry {
    RuleEntry {
        name: R::NAME,
        validate: policy::validate::<R>,
        validate_settings: policy::validate_settings::<R>,
        judge: policy::judge_request::<R>,
        check_settings: policy::check_settings::<R>,
        validate_defaults: || R::Settings::default().validate(),
    }
}

/// Every rule, in the order of the crashes they prevent.
pub const RULES: &[RuleEntry] = &[
    entry::<crate::object_count::ObjectCount>(),
    entry::<crate::object_size::ObjectSize>(),
    entry::<crate::daemonset_guard::DaemonSetGuard>(),
    entry::<crate::api_rate_limit::ApiRateLimit>(),
    entry::<crate::webhook_safety::WebhookSafety>(),
    entry::<crate::system_networkpolicy::SystemNetworkPolicy>(),
    entry::<crate::shoot_hardening::ShootHardening>(),
    entry::<crate::staged_rollout::StagedRollout>(),
];

pub fn find(name: &str) -> Option<&'static RuleEntry> {
    RULES.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_are_valid() {
        for rule in RULES {
            assert_eq!((rule.validate_defaults)(), Ok(()), "{}", rule.name);
        }
    }

    #[test]
    fn names_are_unique_and_match_policy_crates() {
        for (index, rule) in RULES.iter().enumerate() {
            assert!(RULES
                .iter()
                .skip(index + 1)
                .all(|other| other.name != rule.name));
            let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("policies")
                .join(rule.name);
            assert!(
                crate_dir.is_dir(),
                "no policies/{} for rule {}",
                rule.name,
                rule.name
            );
        }
    }
}
