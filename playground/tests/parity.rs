//! Parity: every fixture case of `e2e-tests/*/cases.yaml` gives the same
//! answer through the playground's entry point as through the rule's module
//! entry point (`crash_guard::registry`, the functions each policy module
//! exports), and meets the fixture's own expectations.
//!
//! With `PLAYGROUND_SESSIONS=DIR` (written by `harness replay --sessions DIR`,
//! as `make playground-test` does), the module side gets exactly the request
//! and settings the harness sent to the wasm module, and its lookups are
//! answered by replaying the harness's recorded host exchanges in order: the
//! playground (its own request, its own cluster) is then compared with what
//! the module saw, not with a re-implementation.
//!
//! Not comparable, and listed: rawPayload cases, settings-invalid cases,
//! lookupError/lookupBody cases, cases granting contextAwareResources of their
//! own, `module: "*"` suites, and cases whose namespace override differs from
//! the object's own namespace.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crash_guard::host::Host;
use crash_guard::registry::{self, RuleEntry};
use crash_guard::response::ValidationResponse;
use playground::cluster::ClusterHost;
use playground::metadata::Metadata;
use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load_document(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// A fixture `Source`: a file path relative to the suite, or an inline document.
fn load(source: &Value, dir: &Path) -> Value {
    match source {
        Value::String(path) => load_document(&dir.join(path)),
        other => other.clone(),
    }
}

/// The request the harness builds from a case's shorthand (harness/src/suite.rs).
fn harness_request(case: &Value, dir: &Path, id: &str) -> Value {
    if let Some(source) = case.get("request") {
        let document = load(source, dir);
        return if document["kind"] == "AdmissionReview" {
            document["request"].clone()
        } else {
            document
        };
    }
    let object = case
        .get("object")
        .map(|s| load(s, dir))
        .unwrap_or(Value::Null);
    let old_object = case
        .get("oldObject")
        .map(|s| load(s, dir))
        .unwrap_or(Value::Null);
    let subject = if object.is_null() {
        &old_object
    } else {
        &object
    };
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let api_version = text(subject, "/apiVersion");
    let kind = text(subject, "/kind");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let namespace = case
        .get("namespace")
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| text(subject, "/metadata/namespace"));
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": playground::plural(&kind)});
    let mut request = json!({
        "uid": id, "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": text(subject, "/metadata/name"),
        "operation": case.get("operation").and_then(Value::as_str).unwrap_or("CREATE"),
        "userInfo": case.get("userInfo").cloned().unwrap_or_else(playground::default_user),
        "object": object, "oldObject": old_object, "dryRun": false,
    });
    if !namespace.is_empty() {
        request["namespace"] = json!(namespace);
    }
    request
}

/// A recorded host call: operation, request, answer.
type Exchange = (String, Value, Result<Vec<u8>, String>);

/// Serves lookups by replaying the harness's recorded exchanges, strictly in
/// order, after refusing those the policy's metadata does not grant, as
/// kwctl's engine does before its replay.
struct SessionHost {
    exchanges: RefCell<std::collections::VecDeque<Exchange>>,
    allowed: Vec<playground::metadata::ResourceType>,
}

impl SessionHost {
    fn load(path: &Path, allowed: &[playground::metadata::ResourceType]) -> Self {
        let mut exchanges = std::collections::VecDeque::new();
        if path.is_file() {
            let entries = load_document(path);
            for entry in entries.as_array().cloned().unwrap_or_default() {
                let request = entry["request"].as_str().unwrap_or("");
                let (tag, body) = request.split_once('\n').unwrap_or((request, ""));
                let operation = match tag.trim() {
                    "!KubernetesListResourceNamespace" => "list_resources_by_namespace",
                    "!KubernetesListResourceAll" => "list_resources_all",
                    "!KubernetesGetResource" => "get_resource",
                    other => panic!("unexpected session entry {other} in {}", path.display()),
                };
                let body: Value = serde_yaml::from_str(body).unwrap_or(Value::Null);
                let response = match entry["response"]["type"].as_str() {
                    Some("Success") => Ok(entry["response"]["payload"]
                        .as_str()
                        .unwrap_or("")
                        .as_bytes()
                        .to_vec()),
                    _ => Err(entry["response"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .to_string()),
                };
                exchanges.push_back((operation.to_string(), body, response));
            }
        }
        Self {
            exchanges: RefCell::new(exchanges),
            allowed: allowed.to_vec(),
        }
    }
}

impl Host for SessionHost {
    fn call(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        crash_guard::apiserver::Lookup::decode(operation, payload, &self.allowed)?;
        let sent: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let Some((recorded_operation, recorded, response)) =
            self.exchanges.borrow_mut().pop_front()
        else {
            return Err(format!(
                "session replay: unexpected {namespace}/{operation} {sent}"
            ));
        };
        if namespace != "kubernetes" || recorded_operation != operation || recorded != sent {
            return Err(format!(
                "session replay: expected {recorded_operation} {recorded}, got {namespace}/{operation} {sent}"
            ));
        }
        response.map_err(crash_guard::apiserver::callback_failure)
    }
}

fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => vec![],
    }
}

/// The harness's check of a fixture's expectation, on a ValidationResponse.
fn meets(expect: &Value, response: &ValidationResponse, lookups: usize) -> Result<(), String> {
    if expect.get("allowed").and_then(Value::as_bool) != Some(response.accepted) {
        return Err(format!(
            "allowed = {}, expected {}",
            response.accepted, expect["allowed"]
        ));
    }
    let message = response.message.as_deref().unwrap_or("");
    for needle in texts(expect.get("message")) {
        if !message.contains(&needle) {
            return Err(format!("message lacks `{needle}`: {message}"));
        }
    }
    if let Some(code) = expect.get("code").and_then(Value::as_u64) {
        if response.code.map(u64::from) != Some(code) {
            return Err(format!("code = {:?}, expected {code}", response.code));
        }
    }
    let warnings = response.warnings.clone().unwrap_or_default();
    let expected = texts(expect.get("warnings"));
    if warnings.len() != expected.len()
        || warnings
            .iter()
            .zip(&expected)
            .any(|(w, n)| !w.contains(n.as_str()))
    {
        return Err(format!(
            "warnings = {warnings:?}, expected ones containing {expected:?}"
        ));
    }
    if let Some(count) = expect.get("lookups").and_then(Value::as_u64) {
        if lookups as u64 != count {
            return Err(format!("{lookups} lookups, expected {count}"));
        }
    }
    Ok(())
}

fn json_text(values: &[Value]) -> String {
    if values.is_empty() {
        String::new()
    } else {
        Value::Array(values.to_vec()).to_string()
    }
}

/// Why a case cannot be put to the playground, if it cannot.
fn not_comparable(case: &Value, request: &Value) -> Option<&'static str> {
    let expect = &case["expect"];
    if case.get("rawPayload").is_some() {
        return Some("rawPayload");
    }
    if expect.get("settingsValid") == Some(&Value::Bool(false)) {
        return Some("settings invalid");
    }
    if case.get("lookupError").is_some() || case.get("lookupBody").is_some() {
        return Some("lookupError/lookupBody: the playground's cluster is its input");
    }
    if case.get("contextAwareResources").is_some() {
        return Some("contextAwareResources: the playground grants what metadata.yml grants");
    }
    let subject = if request["object"].is_null() {
        &request["oldObject"]
    } else {
        &request["object"]
    };
    if !subject.is_object() {
        return Some("no object");
    }
    let own = subject
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if request
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        != own
    {
        return Some("request namespace differs from the object's own");
    }
    None
}

struct Tally {
    compared: usize,
    skipped: Vec<String>,
    failures: Vec<String>,
}

fn run_case(
    tally: &mut Tally,
    rule: &RuleEntry,
    suite: &str,
    dir: &Path,
    suite_file: &Value,
    case: &Value,
    sessions: Option<&Path>,
) {
    let name = case["name"].as_str().unwrap_or("?");
    let id = format!("{suite}/{name}");
    let settings = case
        .get("settings")
        .or(suite_file.get("settings"))
        .cloned()
        .unwrap_or(json!({}));
    let settings = if settings.is_null() {
        json!({})
    } else {
        settings
    };
    if let Some(reason) = case.get("rawPayload").map(|_| "rawPayload").or_else(|| {
        (case["expect"].get("settingsValid") == Some(&Value::Bool(false)))
            .then_some("settings invalid")
    }) {
        tally.skipped.push(format!("{id}: {reason}"));
        return;
    }
    let mut request = harness_request(case, dir, &id);
    let mut module_settings = settings.clone();
    let session_dir = sessions.map(|s| s.join(suite).join(name));
    if let Some(dir) = &session_dir {
        let path = dir.join("request.json");
        if !path.is_file() {
            tally.failures.push(format!(
                "{id}: no {} (replay with --sessions first)",
                path.display()
            ));
            return;
        }
        request = load_document(&path);
        module_settings = load_document(&dir.join("settings.json"));
    }
    if let Some(reason) = not_comparable(case, &request) {
        tally.skipped.push(format!("{id}: {reason}"));
        return;
    }
    let mut cluster = Vec::new();
    for source in case
        .get("cluster")
        .or(suite_file.get("cluster"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        match load(&source, dir) {
            Value::Array(items) => cluster.extend(items),
            object => cluster.push(object),
        }
    }

    // The module side: the rule's exported validate on the harness's request.
    let payload = json!({"request": request, "settings": module_settings}).to_string();
    let metadata = Metadata::of(rule.name);
    let module = match &session_dir {
        Some(dir) => {
            let host =
                SessionHost::load(&dir.join("session.yml"), &metadata.context_aware_resources);
            let response = (rule.validate)(payload.as_bytes(), &host);
            let left = host.exchanges.borrow().len();
            if left > 0 {
                tally
                    .failures
                    .push(format!("{id}: {left} recorded lookups were not made"));
            }
            response
        }
        None => {
            let host =
                ClusterHost::new(cluster.iter().collect(), &metadata.context_aware_resources);
            (rule.validate)(payload.as_bytes(), &host)
        }
    };

    // The playground side: the case as a person would paste it.
    let (object, old_object) = (&request["object"], &request["oldObject"]);
    let (manifests, old) = if object.is_null() {
        (json_text(std::slice::from_ref(old_object)), String::new())
    } else if old_object.is_null() {
        (json_text(std::slice::from_ref(object)), String::new())
    } else {
        (
            json_text(std::slice::from_ref(object)),
            json_text(std::slice::from_ref(old_object)),
        )
    };
    let input = json!({
        "manifests": manifests,
        "oldManifests": old,
        "cluster": json_text(&cluster),
        "operation": request.get("operation").and_then(Value::as_str).unwrap_or("CREATE"),
        "userInfo": request.get("userInfo").cloned().unwrap_or_else(playground::default_user),
        "namespace": "",
        "rules": {rule.name: settings},
    });
    let output: Value =
        serde_json::from_str(&playground::evaluate_json(&input.to_string())).expect("output JSON");
    let errors = output["errors"].as_array().cloned().unwrap_or_default();
    if !errors.is_empty() {
        tally.skipped.push(format!(
            "{id}: not expressible as manifests: {}",
            errors[0]["message"]
        ));
        return;
    }
    let result = &output["objects"][0]["results"][0];
    let Ok(playground) = serde_json::from_value::<PlainResponse>(result["response"].clone()) else {
        tally
            .failures
            .push(format!("{id}: the playground gave no result: {output}"));
        return;
    };
    let playground = playground.into_response();
    tally.compared += 1;
    if playground != module {
        tally.failures.push(format!(
            "{id}: playground {playground:?} != module {module:?}"
        ));
    }
    let lookups = result["lookups"].as_u64().unwrap_or(0) as usize;
    if let Err(difference) = meets(&case["expect"], &playground, lookups) {
        tally.failures.push(format!(
            "{id}: the playground misses the fixture's expectation: {difference}"
        ));
    }
}

#[derive(serde::Deserialize)]
struct PlainResponse {
    accepted: bool,
    message: Option<String>,
    code: Option<u16>,
    warnings: Option<Vec<String>>,
}

impl PlainResponse {
    fn into_response(self) -> ValidationResponse {
        let mut response = match self.message {
            Some(message) if !self.accepted => {
                ValidationResponse::reject(message, self.code, vec![])
            }
            _ => ValidationResponse::accept(vec![]),
        };
        response.code = self.code;
        response.warnings = self.warnings;
        response
    }
}

#[test]
fn every_fixture_case_gives_the_same_answer_in_the_playground() {
    let sessions = std::env::var_os("PLAYGROUND_SESSIONS").map(PathBuf::from);
    let mut tally = Tally {
        compared: 0,
        skipped: vec![],
        failures: vec![],
    };
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root().join("e2e-tests"))
        .expect("e2e-tests/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("cases.yaml").is_file())
        .collect();
    folders.sort();
    for dir in folders {
        let suite = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = load_document(&dir.join("cases.yaml"));
        let module = file
            .get("module")
            .and_then(Value::as_str)
            .unwrap_or(&suite)
            .to_string();
        if module == "*" {
            tally.skipped.push(format!(
                "{suite}/*: runs against every module (module: \"*\")"
            ));
            continue;
        }
        let Some(rule) = registry::find(&module) else {
            tally.skipped.push(format!(
                "{suite}/*: {module} is not in crash_guard::registry::RULES yet"
            ));
            continue;
        };
        for case in file["cases"].as_array().cloned().unwrap_or_default() {
            run_case(
                &mut tally,
                rule,
                &suite,
                &dir,
                &file,
                &case,
                sessions.as_deref(),
            );
        }
    }
    for skipped in &tally.skipped {
        println!("skipped {skipped}");
    }
    for failure in &tally.failures {
        println!("FAIL {failure}");
    }
    let against = if sessions.is_some() {
        "the harness's recorded requests and lookups"
    } else {
        "the registry on the harness-shaped request"
    };
    println!(
        "parity against {against}: {} passed, {} failed ({} not comparable)",
        tally.compared.saturating_sub(tally.failures.len()),
        tally.failures.len(),
        tally.skipped.len()
    );
    assert!(
        tally.failures.is_empty(),
        "{} parity failures",
        tally.failures.len()
    );
    assert!(tally.compared > 0, "no fixture case was compared");
}

#[test]
fn session_replay_answers_in_order_and_refuses_other_calls() {
    let dir = std::env::temp_dir().join(format!("playground-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("session.yml");
    let session = r#"
- type: Exchange
  request: "!KubernetesListResourceNamespace\napi_version: v1\nkind: ConfigMap\nnamespace: a\nlabel_selector: null\nfield_selector: null\n"
  response: {type: Success, payload: '{"items":[]}'}
- type: Exchange
  request: "!KubernetesGetResource\napi_version: v1\nkind: Namespace\nname: a\nnamespace: null\ndisable_cache: false\n"
  response: {type: Error, message: namespace "a" not found}
"#;
    std::fs::write(&path, session).expect("session file");
    let granted = |kind: &str| playground::metadata::ResourceType {
        api_version: "v1".into(),
        kind: kind.into(),
    };
    let host = SessionHost::load(&path, &[granted("ConfigMap"), granted("Namespace")]);
    let secrets = br#"{"api_version":"v1","kind":"Secret"}"#;
    assert!(host
        .call("kubernetes", "list_resources_all", secrets)
        .unwrap_err()
        .contains("Policy has not been granted access to Kubernetes v1/Secret"));
    let list = br#"{"api_version":"v1","kind":"ConfigMap","namespace":"a","label_selector":null,"field_selector":null}"#;
    assert_eq!(
        host.call("kubernetes", "list_resources_by_namespace", list),
        Ok(br#"{"items":[]}"#.to_vec())
    );
    let other = br#"{"api_version":"v1","kind":"Namespace","name":"b","namespace":null,"disable_cache":false}"#;
    assert!(host
        .call("kubernetes", "get_resource", other)
        .unwrap_err()
        .contains("session replay: expected get_resource"));
    assert!(host
        .call("kubernetes", "get_resource", other)
        .unwrap_err()
        .contains("unexpected"));
    let _ = std::fs::remove_dir_all(&dir);
}
