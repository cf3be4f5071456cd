//! Namespaces and subjects a rule leaves alone.

use serde::{Deserialize, Deserializer};

use crate::request::Request;
use crate::settings::{is_dns_label, namespace_names, non_empty_entries, SettingsError, Validate};

const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// The `exemptions` section every rule's settings share.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Exemptions {
    /// Requests for objects in these namespaces are accepted.
    pub namespaces: Vec<String>,
    /// Requests by these users (`userInfo.username`) are accepted.
    pub users: Vec<String>,
    /// Requests by members of these groups are accepted.
    pub groups: Vec<String>,
    /// Requests by these service accounts, as `namespace/name` or `namespace/*`.
    pub service_accounts: Vec<String>,
}

impl Validate for Exemptions {
    fn validate(&self) -> Result<(), SettingsError> {
        namespace_names("namespaces", &self.namespaces)?;
        non_empty_entries("users", &self.users)?;
        non_empty_entries("groups", &self.groups)?;
        for (index, entry) in self.service_accounts.iter().enumerate() {
            match entry.split_once('/') {
                Some((ns, name)) if is_dns_label(ns) && !name.is_empty() && !name.contains('/') => {
                }
                _ => {
                    return Err(SettingsError::new(
                        format!("serviceAccounts[{index}]"),
                        format!("`{entry}` is not `namespace/name` or `namespace/*`"),
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Reads an `exemptions`-shaped section over `defaults`: each list the
/// settings leave out keeps its default, as the READMEs' tables say. A
/// `null` section or list is refused, as every other section is.
pub fn deserialize_over<'de, D: Deserializer<'de>>(
    deserializer: D,
    defaults: Exemptions,
) -> Result<Exemptions, D::Error> {
    fn given<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
        Vec::deserialize(deserializer).map(Some)
    }
    #[derive(Deserialize)]
    #[serde(
        expecting = "struct Exemptions",
        deny_unknown_fields,
        rename_all = "camelCase"
    )]
    struct Given {
        #[serde(default, deserialize_with = "given")]
        namespaces: Option<Vec<String>>,
        #[serde(default, deserialize_with = "given")]
        users: Option<Vec<String>>,
        #[serde(default, deserialize_with = "given")]
        groups: Option<Vec<String>>,
        #[serde(default, deserialize_with = "given")]
        service_accounts: Option<Vec<String>>,
    }
    let given = Given::deserialize(deserializer)?;
    Ok(Exemptions {
        namespaces: given.namespaces.unwrap_or(defaults.namespaces),
        users: given.users.unwrap_or(defaults.users),
        groups: given.groups.unwrap_or(defaults.groups),
        service_accounts: given.service_accounts.unwrap_or(defaults.service_accounts),
    })
}

/// Why a request is exempt; written only when shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exemption<'r> {
    Namespace(&'r str),
    User(&'r str),
    Group(&'r str),
    ServiceAccount(&'r str, &'r str),
}

impl std::fmt::Display for Exemption<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exemption::Namespace(namespace) => write!(f, "namespace {namespace} is exempt"),
            Exemption::User(user) => write!(f, "user {user} is exempt"),
            Exemption::Group(group) => write!(f, "group {group} is exempt"),
            Exemption::ServiceAccount(ns, name) => {
                write!(f, "service account {ns}/{name} is exempt")
            }
        }
    }
}

impl Exemptions {
    /// Why `request` is exempt, if it is.
    pub fn reason<'r>(&self, request: &'r Request) -> Option<Exemption<'r>> {
        if !request.namespace.is_empty() && self.namespaces.iter().any(|n| *n == request.namespace)
        {
            return Some(Exemption::Namespace(&request.namespace));
        }
        let user = &request.user_info.username;
        if self.users.iter().any(|u| u == user) {
            return Some(Exemption::User(user));
        }
        if let Some(group) = request
            .user_info
            .groups
            .iter()
            .find(|g| self.groups.iter().any(|e| e == g.as_ref()))
        {
            return Some(Exemption::Group(group));
        }
        let (ns, name) = user.strip_prefix(SERVICE_ACCOUNT_PREFIX)?.split_once(':')?;
        self.service_accounts
            .iter()
            .filter_map(|entry| entry.split_once('/'))
            .any(|(e_ns, e_name)| e_ns == ns && (e_name == "*" || e_name == name))
            .then_some(Exemption::ServiceAccount(ns, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn exemptions() -> Exemptions {
        Exemptions {
            namespaces: vec!["kube-system".into()],
            users: vec!["admin".into()],
            groups: vec!["system:masters".into()],
            service_accounts: vec!["flux/helm-controller".into(), "argo/*".into()],
        }
    }

    fn request(json: &str) -> Request<'_> {
        Request::decode(json).expect("valid request")
    }

    #[rstest]
    #[case::namespace(
        r#"{"uid":"u","namespace":"kube-system"}"#,
        Some("namespace kube-system")
    )]
    #[case::user(r#"{"uid":"u","userInfo":{"username":"admin"}}"#, Some("user admin"))]
    #[case::group(
        r#"{"uid":"u","userInfo":{"username":"bob","groups":["system:masters"]}}"#,
        Some("group system:masters")
    )]
    #[case::service_account(
        r#"{"uid":"u","userInfo":{"username":"system:serviceaccount:flux:helm-controller"}}"#,
        Some("service account flux/helm-controller")
    )]
    #[case::service_account_wildcard(
        r#"{"uid":"u","userInfo":{"username":"system:serviceaccount:argo:any"}}"#,
        Some("service account argo/any")
    )]
    #[case::other_service_account(
        r#"{"uid":"u","userInfo":{"username":"system:serviceaccount:flux:other"}}"#,
        None
    )]
    #[case::other_namespace(
        r#"{"uid":"u","namespace":"apps","userInfo":{"username":"bob","groups":["devs"]}}"#,
        None
    )]
    fn exempts(#[case] json: &str, #[case] expected: Option<&str>) {
        let request = request(json);
        let reason = exemptions().reason(&request).map(|r| r.to_string());
        match expected {
            Some(prefix) => assert!(
                reason.as_deref().unwrap_or("").starts_with(prefix),
                "{reason:?}"
            ),
            None => assert_eq!(reason, None),
        }
    }

    #[rstest]
    #[case::no_slash(vec!["flux"], "serviceAccounts[0]")]
    #[case::empty_name(vec!["ok/a", "flux/"], "serviceAccounts[1]")]
    #[case::wildcard_namespace(vec!["*/*"], "serviceAccounts[0]")]
    #[case::capital_namespace(vec!["Flux/helm"], "serviceAccounts[0]")]
    fn refuses_bad_service_accounts(#[case] entries: Vec<&str>, #[case] field: &str) {
        let e = Exemptions {
            service_accounts: entries.into_iter().map(String::from).collect(),
            ..Exemptions::default()
        };
        assert_eq!(e.validate().unwrap_err().field, field);
    }

    #[rstest]
    #[case::left_out(r#"{}"#, Ok(vec!["kube-system"]))]
    #[case::given(r#"{"namespaces":["apps"]}"#, Ok(vec!["apps"]))]
    #[case::emptied(r#"{"namespaces":[]}"#, Ok(vec![]))]
    #[case::null_list(
        r#"{"namespaces":null}"#,
        Err("invalid type: null, expected a sequence")
    )]
    #[case::null_section(r#"null"#, Err("invalid type: null, expected struct Exemptions"))]
    fn reads_over_defaults(#[case] json: &str, #[case] expected: Result<Vec<&str>, &str>) {
        let defaults = Exemptions {
            namespaces: vec!["kube-system".into()],
            ..Exemptions::default()
        };
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let read = deserialize_over(&mut deserializer, defaults).map(|e| e.namespaces);
        match expected {
            Ok(namespaces) => assert_eq!(read.expect("reads"), namespaces),
            Err(problem) => assert!(
                read.as_ref()
                    .is_err_and(|e| e.to_string().starts_with(problem)),
                "{json}: {:?}",
                read.err()
            ),
        }
    }

    #[rstest]
    #[case::wildcard(vec!["*"], Some("namespaces[0]"))]
    #[case::leading_space(vec!["apps", " kube-system"], Some("namespaces[1]"))]
    #[case::capitals(vec!["Kube-System"], Some("namespaces[0]"))]
    #[case::empty(vec![""], Some("namespaces[0]"))]
    #[case::names(vec!["kube-system", "team-1"], None)]
    fn namespaces_must_be_names(#[case] entries: Vec<&str>, #[case] field: Option<&str>) {
        let e = Exemptions {
            namespaces: entries.into_iter().map(String::from).collect(),
            ..Exemptions::default()
        };
        assert_eq!(e.validate().err().map(|e| e.field), field.map(String::from));
    }
}
