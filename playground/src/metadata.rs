//! What each policy's `metadata.yml` says: the resources its webhook matches
//! and the lookups the engine grants it.

use serde::Deserialize;

include!(concat!(env!("OUT_DIR"), "/metadata.rs"));

pub use crash_guard::apiserver::ResourceType;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchRule {
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub rules: Vec<MatchRule>,
    #[serde(default)]
    pub context_aware_resources: Vec<ResourceType>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Metadata {
    /// The metadata of `rule`; empty (matching nothing) when it has none.
    pub fn of(rule: &str) -> Metadata {
        METADATA
            .iter()
            .find(|(name, _)| *name == rule)
            .and_then(|(_, text)| serde_yaml::from_str(text).ok())
            .unwrap_or_default()
    }

    /// Whether the policy's webhook would be called for this request.
    pub fn matches(&self, group: &str, resource: &str, operation: &str) -> bool {
        let any = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
        self.rules.iter().any(|rule| {
            any(&rule.api_groups, group)
                && any(&rule.resources, resource)
                && any(&rule.operations, operation)
        })
    }

    pub fn description(&self) -> &str {
        self.annotations
            .get("io.kubewarden.policy.description")
            .map(String::as_str)
            .unwrap_or("")
    }
}
