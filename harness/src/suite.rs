//! Fixture suites: every `e2e-tests/<rule>/cases.yaml`, found by convention.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use crash_guard::apiserver;
pub use crash_guard::apiserver::plural;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cluster::{str_at, CaseHost, Exchange, ResourceType};
use crate::engine::{Engine, HostSlot, Instance, Module};

/// The module holding every rule, `dist/crash-guard.wasm`, described by the root metadata.yml.
pub const BUNDLE: &str = "crash-guard";

/// A file path (relative to the suite folder) or an inline document.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Source {
    File(String),
    Inline(Value),
}

impl Source {
    pub fn load(&self, dir: &Path) -> Result<Value> {
        match self {
            Source::Inline(value) => Ok(value.clone()),
            Source::File(path) => load_document(&dir.join(path)),
        }
    }
}

/// Reads a JSON or YAML document.
pub fn load_document(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
    } else {
        serde_yaml::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<String> {
        match self {
            OneOrMany::None => vec![],
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// What a case must produce.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    /// The verdict; required unless the settings are expected to be invalid.
    #[serde(default)]
    pub allowed: Option<bool>,
    /// `false`: validate_settings must refuse the settings (with `message`).
    #[serde(default = "yes")]
    pub settings_valid: bool,
    /// Substrings the message must contain; required for refusals.
    #[serde(default)]
    pub message: OneOrMany,
    #[serde(default)]
    pub code: Option<u16>,
    /// Substrings of each warning, in order; absent means no warnings.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// How many Kubernetes lookups the policy must make.
    #[serde(default)]
    pub lookups: Option<usize>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// A whole request (bare or AdmissionReview), instead of the shorthand below.
    #[serde(default)]
    pub request: Option<Source>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub object: Option<Source>,
    #[serde(default)]
    pub old_object: Option<Source>,
    /// Overrides the namespace taken from the object's metadata.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub user_info: Option<Value>,
    /// Overrides the suite's settings.
    #[serde(default)]
    pub settings: Option<Value>,
    /// Overrides the suite's cluster state.
    #[serde(default)]
    pub cluster: Option<Vec<Source>>,
    /// Granted besides the module's metadata.yml `contextAwareResources`, as a
    /// ClusterAdmissionPolicy that configures the rule for other kinds grants them.
    #[serde(default)]
    pub context_aware_resources: Vec<ResourceType>,
    /// Every Kubernetes lookup fails with this message.
    #[serde(default)]
    pub lookup_error: Option<String>,
    /// Every Kubernetes lookup answers this body.
    #[serde(default)]
    pub lookup_body: Option<String>,
    /// Sent verbatim as the `validate` payload (malformed input).
    #[serde(default)]
    pub raw_payload: Option<String>,
    /// Built to exhaust a bound (an expansion budget, a warning cap): the
    /// benchmark reports it with the large inputs, whatever its size.
    #[serde(default)]
    pub adversarial: bool,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SuiteFile {
    /// The module to run, `dist/<module>.wasm`; defaults to the folder name.
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default)]
    cluster: Vec<Source>,
    cases: Vec<Case>,
}

pub struct Suite {
    pub rule: String,
    pub module: String,
    pub dir: PathBuf,
    pub settings: Value,
    pub cluster: Vec<Source>,
    pub cases: Vec<Case>,
}

/// Every `<root>/e2e-tests/*/cases.yaml`, sorted by folder.
pub fn discover(root: &Path) -> Result<Vec<Suite>> {
    let dir = root.join("e2e-tests");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("cases.yaml").is_file())
        .collect();
    folders.sort();
    folders.iter().map(|folder| load_suite(folder)).collect()
}

fn load_suite(folder: &Path) -> Result<Suite> {
    let path = folder.join("cases.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file: SuiteFile = serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not a valid suite", path.display()))?;
    let rule = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("bad folder {}", folder.display()))?;
    for case in &file.cases {
        check_expectation(case)
            .with_context(|| format!("{}: case {}", path.display(), case.name))?;
    }
    Ok(Suite {
        module: file.module.unwrap_or_else(|| rule.clone()),
        rule,
        dir: folder.to_path_buf(),
        settings: file.settings.unwrap_or_else(|| json!({})),
        cluster: file.cluster,
        cases: file.cases,
    })
}

/// A case must assert something definite.
fn check_expectation(case: &Case) -> Result<()> {
    let e = &case.expect;
    let has_message = !e.message.items().is_empty();
    match (e.settings_valid, e.allowed) {
        (false, Some(_)) => {
            bail!("settingsValid: false leaves no verdict to expect; drop `allowed`")
        }
        (false, None) if !has_message => bail!("invalid settings need an expected `message`"),
        (true, None) => bail!("`expect.allowed` is required"),
        (true, Some(false)) if !has_message => bail!("a refusal needs an expected `message`"),
        _ => Ok(()),
    }
}

/// Everything one case needs, resolved from files.
pub struct Prepared {
    pub id: String,
    pub settings: Value,
    pub request: Value,
    pub payload: Vec<u8>,
    pub host: Arc<CaseHost>,
}

impl Suite {
    pub fn prepare(&self, case: &Case, allowed: Vec<ResourceType>) -> Result<Prepared> {
        let id = format!("{}/{}", self.rule, case.name);
        self.prepare_as(case, allowed, id)
    }

    pub fn prepare_as(
        &self,
        case: &Case,
        allowed: Vec<ResourceType>,
        id: String,
    ) -> Result<Prepared> {
        self.prepare_for(case, allowed, id, &self.module)
    }

    /// Prepares `case` for `module`; for the bundle, the rule's settings become
    /// its section and every other rule is switched off.
    pub fn prepare_for(
        &self,
        case: &Case,
        allowed: Vec<ResourceType>,
        id: String,
        module: &str,
    ) -> Result<Prepared> {
        let mut settings = host_settings(
            case.settings
                .clone()
                .unwrap_or_else(|| self.settings.clone()),
        );
        if module == BUNDLE && self.module != "*" && self.module != BUNDLE {
            let mut sections = serde_json::Map::new();
            for rule in crash_guard::registry::RULES {
                sections.insert(rule.name.to_string(), json!({"enabled": false}));
            }
            sections.insert(self.module.clone(), json!({ "settings": settings }));
            settings = Value::Object(sections);
        }
        let settings_only =
            !case.expect.settings_valid && case.object.is_none() && case.old_object.is_none();
        let request = match (&case.raw_payload, &case.request) {
            (Some(_), _) => json!(null),
            (None, None) if settings_only => json!(null),
            (None, Some(source)) => {
                let document = source.load(&self.dir)?;
                if document.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
                    document.get("request").cloned().unwrap_or(Value::Null)
                } else {
                    document
                }
            }
            (None, None) => self.shorthand_request(case, &id)?,
        };
        let payload = match &case.raw_payload {
            Some(raw) => raw.clone().into_bytes(),
            None => validate_payload(&request, &settings)?,
        };
        let mut objects = Vec::new();
        for source in case.cluster.as_ref().unwrap_or(&self.cluster) {
            match source.load(&self.dir)? {
                Value::Array(items) => objects.extend(items),
                object => objects.push(object),
            }
        }
        let mut allowed = allowed;
        allowed.extend(case.context_aware_resources.iter().cloned());
        let host = Arc::new(CaseHost::new(
            objects,
            allowed,
            case.lookup_error.clone(),
            case.lookup_body.clone(),
        ));
        Ok(Prepared {
            id,
            settings,
            request,
            payload,
            host,
        })
    }

    fn shorthand_request(&self, case: &Case, id: &str) -> Result<Value> {
        let load = |source: &Option<Source>| -> Result<Value> {
            source
                .as_ref()
                .map(|s| s.load(&self.dir))
                .transpose()
                .map(|v| v.unwrap_or(Value::Null))
        };
        let object = load(&case.object)?;
        let old_object = load(&case.old_object)?;
        let subject = if object.is_null() {
            &old_object
        } else {
            &object
        };
        if subject.is_null() {
            bail!("case {id} has neither request, object nor oldObject");
        }
        let namespace = case
            .namespace
            .clone()
            .unwrap_or_else(|| str_at(subject, &["metadata", "namespace"]).to_string());
        let user_info = case
            .user_info
            .clone()
            .unwrap_or_else(apiserver::default_user);
        Ok(apiserver::admission_request(
            id,
            case.operation.as_deref().unwrap_or("CREATE"),
            &object,
            &old_object,
            &namespace,
            &user_info,
        ))
    }
}

/// What the module answered for one case.
#[derive(Debug)]
pub enum Outcome {
    /// `validate_settings` refused the settings.
    SettingsInvalid(String),
    /// The AdmissionResponse, as kwctl prints it.
    Response(Value),
}

/// Runs one case on fresh instances, as policy-server does.
/// The `validate` payload as policy-server and kwctl write it (see
/// [`crash_guard::request::write_payload`]).
pub fn validate_payload(request: &Value, settings: &Value) -> Result<Vec<u8>> {
    Ok(crash_guard::request::write_payload(request, settings)?)
}

/// Settings as policy-server and kwctl hand them on: `null` becomes `{}`
/// (policy-evaluator's `PolicySettings`); anything else but an object they
/// refuse themselves ([`SETTINGS_NOT_AN_OBJECT`]).
pub fn host_settings(settings: Value) -> Value {
    if settings.is_null() {
        json!({})
    } else {
        settings
    }
}

/// Why policy-server and kwctl refuse settings that are not an object, before
/// any module is called.
pub const SETTINGS_NOT_AN_OBJECT: &str =
    "settings must be an object: policy-server and kwctl take only an object (or null, as {}) and refuse anything else before calling the policy";

pub fn run(module: &Module, prepared: &Prepared) -> Result<Outcome> {
    if !prepared.settings.is_object() {
        return Ok(Outcome::SettingsInvalid(SETTINGS_NOT_AN_OBJECT.to_string()));
    }
    let instance = module.instantiate(prepared.host.clone())?;
    let version = instance.protocol_version().map_err(|e| anyhow!("{e}"))?;
    if version != "v1" {
        bail!("protocol_version answered {version}, expected v1");
    }
    // As policy-evaluator: a guest error or an answer that is not a
    // SettingsValidationResponse makes the settings invalid.
    let answer = match instance.call(
        "validate_settings",
        &serde_json::to_vec(&prepared.settings)?,
    ) {
        Ok(answer) => serde_json::from_slice::<Value>(&answer).unwrap_or_else(
            |e| json!({"valid": false, "message": format!("{SETTINGS_ANSWER_UNREADABLE}{e}")}),
        ),
        Err(e) => json!({
            "valid": false,
            "message": format!("{SETTINGS_CALL_FAILED}{e}"),
        }),
    };
    if answer.get("valid") != Some(&Value::Bool(true)) {
        let message = answer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        return Ok(Outcome::SettingsInvalid(message));
    }
    let instance = module.instantiate(prepared.host.clone())?;
    let uid = str_at(&prepared.request, &["uid"]);
    // As policy-evaluator: a guest error, a trap or a timeout is a 500.
    let raw = match instance.call("validate", &prepared.payload) {
        Ok(raw) => raw,
        Err(e) => {
            return Ok(Outcome::Response(internal_server_error(
                uid,
                &e.to_string(),
            )))
        }
    };
    let response = match serde_json::from_slice::<Value>(&raw) {
        Ok(response) if response.get("accepted").is_some_and(Value::is_boolean) => response,
        _ => {
            let text = String::from_utf8_lossy(&raw);
            let message = format!("cannot deserialize the policy's answer: {text}");
            return Ok(Outcome::Response(internal_server_error(uid, &message)));
        }
    };
    if response.get("mutated_object").is_some_and(|m| !m.is_null()) {
        bail!("validate answered with a mutated_object, but crash-guard's policies are not mutating: policy-server would refuse the request");
    }
    Ok(Outcome::Response(admission_response(uid, &response)?))
}

/// policy-evaluator's answer when evaluation fails.
fn internal_server_error(uid: &str, message: &str) -> Value {
    json!({
        "uid": uid,
        "allowed": false,
        "status": {"message": format!("internal server error: {message}"), "code": 500},
    })
}

/// Whether `response` is [`internal_server_error`]'s: the module trapped, ran
/// out of time or answered nonsense, which no crash-guard policy may do.
pub fn is_internal_server_error(response: &Value) -> bool {
    response.pointer("/status/code") == Some(&json!(500))
        && response
            .pointer("/status/message")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("internal server error: "))
}

/// policy-evaluator's words for a `validate_settings` call that failed, and
/// for one whose answer it could not read.
const SETTINGS_CALL_FAILED: &str = "Error invoking settings validation callback: ";
const SETTINGS_ANSWER_UNREADABLE: &str = "error: cannot convert response: ";

/// Whether a settings refusal is policy-evaluator's for a failed call.
pub fn is_settings_call_failure(message: &str) -> bool {
    message.starts_with(SETTINGS_CALL_FAILED) || message.starts_with(SETTINGS_ANSWER_UNREADABLE)
}

/// Evaluates the case again on `warm`, an instance that has already served
/// other cases, and checks that it answers exactly as the fresh instance did.
pub fn run_warm(
    warm: &Instance,
    slot: &HostSlot,
    prepared: &Prepared,
    fresh: &Outcome,
) -> Result<()> {
    let Outcome::Response(expected) = fresh else {
        return Ok(());
    };
    if is_internal_server_error(expected) {
        // The fresh instance failed (the case fails on it); a warm one would
        // only be left poisoned for the next cases.
        return Ok(());
    }
    slot.set(prepared.host.clone());
    let raw = warm
        .call("validate", &prepared.payload)
        .map_err(|e| anyhow!("on a warm instance: {e}"))?;
    let response: Value =
        serde_json::from_slice(&raw).context("validate on a warm instance answered non-JSON")?;
    let answer = admission_response(str_at(&prepared.request, &["uid"]), &response)?;
    if &answer != expected {
        bail!("a warm instance answered {answer}, a fresh one {expected}");
    }
    Ok(())
}

/// Turns the policy's ValidationResponse into the AdmissionResponse kwctl prints.
pub fn admission_response(uid: &str, response: &Value) -> Result<Value> {
    let accepted = response
        .get("accepted")
        .and_then(Value::as_bool)
        .ok_or_else(|| anyhow!("validate answered without `accepted`: {response}"))?;
    let mut out = json!({"uid": uid, "allowed": accepted});
    let message = response.get("message").filter(|m| !m.is_null());
    let code = response.get("code").filter(|c| !c.is_null());
    if message.is_some() || code.is_some() {
        let mut status = json!({});
        if let Some(message) = message {
            status["message"] = message.clone();
        }
        if let Some(code) = code {
            status["code"] = code.clone();
        }
        out["status"] = status;
    }
    for (from, to) in [
        ("warnings", "warnings"),
        ("audit_annotations", "auditAnnotations"),
    ] {
        if let Some(value) = response.get(from).filter(|v| !v.is_null()) {
            out[to] = value.clone();
        }
    }
    Ok(out)
}

/// Checks an outcome against the expectation; `Err` says what differs.
pub fn check(
    expect: &Expect,
    outcome: &Outcome,
    exchanges: &[Exchange],
) -> std::result::Result<String, String> {
    let contains_all = |text: &str, what: &str| -> std::result::Result<(), String> {
        for needle in expect.message.items() {
            if !text.contains(&needle) {
                return Err(format!("{what} lacks `{needle}`: {text}"));
            }
        }
        Ok(())
    };
    match outcome {
        Outcome::SettingsInvalid(message) if is_settings_call_failure(message) => Err(format!(
            "validate_settings failed (policy-server would not start): {message}"
        )),
        Outcome::Response(response) if is_internal_server_error(response) => Err(format!(
            "the module failed, a 500 that blocks the cluster under failurePolicy Fail: {response}"
        )),
        Outcome::SettingsInvalid(message) => {
            if expect.settings_valid {
                return Err(format!("settings refused: {message}"));
            }
            contains_all(message, "settings message")?;
            Ok(format!("settings invalid: {message}"))
        }
        Outcome::Response(response) => {
            if !expect.settings_valid {
                return Err("settings were accepted, expected them refused".to_string());
            }
            let allowed = response.get("allowed").and_then(Value::as_bool);
            if allowed != expect.allowed {
                return Err(format!(
                    "allowed = {allowed:?}, expected {:?}: {response}",
                    expect.allowed
                ));
            }
            let message = response
                .pointer("/status/message")
                .and_then(Value::as_str)
                .unwrap_or("");
            contains_all(message, "message")?;
            if let Some(code) = expect.code {
                let got = response.pointer("/status/code").and_then(Value::as_u64);
                if got != Some(u64::from(code)) {
                    return Err(format!("code = {got:?}, expected {code}"));
                }
            }
            let warnings: Vec<&str> = response
                .get("warnings")
                .and_then(Value::as_array)
                .map(|w| w.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if warnings.len() != expect.warnings.len()
                || warnings
                    .iter()
                    .zip(&expect.warnings)
                    .any(|(w, needle)| !w.contains(needle.as_str()))
            {
                return Err(format!(
                    "warnings = {warnings:?}, expected ones containing {:?}",
                    expect.warnings
                ));
            }
            if let Some(lookups) = expect.lookups {
                if exchanges.len() != lookups {
                    return Err(format!("{} lookups, expected {lookups}", exchanges.len()));
                }
            }
            let verdict = if allowed == Some(true) {
                "accepted"
            } else {
                "refused"
            };
            let detail = if message.is_empty() {
                warnings.join(" | ")
            } else {
                message.to_string()
            };
            Ok(if detail.is_empty() {
                verdict.to_string()
            } else {
                format!("{verdict}: {detail}")
            })
        }
    }
}

/// `contextAwareResources` of `policies/<module>/metadata.yml` (the root one for the bundle).
pub fn context_aware_resources(root: &Path, module: &str) -> Result<Vec<ResourceType>> {
    let policy = root.join("policies").join(module).join("metadata.yml");
    let path = if policy.is_file() {
        policy
    } else {
        root.join("metadata.yml")
    };
    if !path.is_file() {
        return Ok(vec![]);
    }
    let metadata = load_document(&path)?;
    match metadata.get("contextAwareResources") {
        None | Some(Value::Null) => Ok(vec![]),
        Some(list) => serde_json::from_value(list.clone())
            .with_context(|| format!("bad contextAwareResources in {}", path.display())),
    }
}

/// Every policy under `policies/` (a folder with a metadata.yml), sorted.
pub fn policy_names(root: &Path) -> Result<Vec<String>> {
    let policies = root.join("policies");
    let mut names: Vec<String> = std::fs::read_dir(&policies)
        .with_context(|| format!("cannot list {}", policies.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("metadata.yml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

impl Suite {
    /// The modules this suite runs against: its own, or every policy for `module: "*"`.
    /// With `only`, a `*` suite runs against the named policies unless it is named itself.
    pub fn modules(&self, root: &Path, only: &[String]) -> Result<Vec<String>> {
        let bundle = root.join("dist").join(format!("{BUNDLE}.wasm")).is_file()
            && root.join("metadata.yml").is_file();
        let named = only.is_empty() || only.contains(&self.rule);
        if self.module != "*" {
            let mut modules = vec![];
            if named {
                modules.push(self.module.clone());
                if bundle && (only.is_empty() || only.iter().any(|o| o == BUNDLE)) {
                    modules.push(BUNDLE.to_string());
                }
            }
            return Ok(modules);
        }
        let mut all = policy_names(root)?;
        if bundle {
            all.push(BUNDLE.to_string());
        }
        if !named {
            all.retain(|m| only.contains(m));
        }
        Ok(all)
    }

    /// `suite/case`, or `suite/case@module` when the module is not the suite's own.
    pub fn case_id(&self, case: &Case, module: &str) -> String {
        if self.module != module {
            format!("{}/{}@{module}", self.rule, case.name)
        } else {
            format!("{}/{}", self.rule, case.name)
        }
    }
}

/// Loads `dist/<module>.wasm` once per suite.
pub fn load_module(engine: &Engine, root: &Path, module: &str) -> Result<Module> {
    engine.load(&root.join("dist").join(format!("{module}.wasm")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        for (kind, resource) in [
            ("Secret", "secrets"),
            ("ConfigMap", "configmaps"),
            ("NetworkPolicy", "networkpolicies"),
            ("Endpoints", "endpoints"),
            ("Ingress", "ingresses"),
            ("Gateway", "gateways"),
        ] {
            assert_eq!(plural(kind), resource);
        }
    }

    fn expect(yaml: &str) -> Expect {
        serde_yaml::from_str(yaml).expect("valid expectation")
    }

    #[test]
    fn refusals_must_name_a_message() {
        let case = Case {
            expect: expect("allowed: false"),
            ..serde_yaml::from_str("{name: x, expect: {allowed: true}}").expect("case")
        };
        assert!(check_expectation(&case).is_err());
    }

    #[test]
    fn warnings_are_checked_in_order() {
        let outcome =
            Outcome::Response(json!({"allowed": true, "warnings": ["first one", "second"]}));
        assert!(check(
            &expect("{allowed: true, warnings: [first, second]}"),
            &outcome,
            &[]
        )
        .is_ok());
        assert!(check(
            &expect("{allowed: true, warnings: [second, first]}"),
            &outcome,
            &[]
        )
        .is_err());
        assert!(check(&expect("{allowed: true}"), &outcome, &[]).is_err());
    }

    #[test]
    fn verdict_and_code_must_match() {
        let outcome = Outcome::Response(
            json!({"allowed": false, "status": {"message": "too big", "code": 400}}),
        );
        assert!(check(
            &expect("{allowed: false, message: big, code: 400}"),
            &outcome,
            &[]
        )
        .is_ok());
        assert!(check(&expect("{allowed: false, message: small}"), &outcome, &[]).is_err());
        assert!(check(&expect("{allowed: true}"), &outcome, &[]).is_err());
        assert!(check(
            &expect("{allowed: false, message: big, code: 500}"),
            &outcome,
            &[]
        )
        .is_err());
    }

    #[test]
    fn a_failed_call_fails_whatever_the_expectation() {
        let trap = Outcome::Response(internal_server_error(
            "u",
            "trap in `validate`: unreachable",
        ));
        assert!(is_internal_server_error(match &trap {
            Outcome::Response(r) => r,
            Outcome::SettingsInvalid(_) => unreachable!(),
        }));
        let expected = expect("{allowed: false, message: internal server error, code: 500}");
        assert!(check(&expected, &trap, &[]).is_err());
        let settings = Outcome::SettingsInvalid(
            "Error invoking settings validation callback: guest error".into(),
        );
        let expected = expect("{settingsValid: false, message: Error}");
        assert!(check(&expected, &settings, &[]).is_err());
    }

    #[test]
    fn settings_as_the_host_hands_them_on() {
        assert_eq!(host_settings(json!(null)), json!({}));
        assert_eq!(host_settings(json!({"a": 1})), json!({"a": 1}));
        assert_eq!(host_settings(json!(42)), json!(42));
    }
}
