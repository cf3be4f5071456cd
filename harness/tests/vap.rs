//! Evaluates the ValidatingAdmissionPolicy of deploy/vap/ (its variables and
//! validations, read from the YAML) against the webhook configuration
//! fixtures of deploy/vap/fixtures/ with a CEL implementation from crates.io.
//!
//! The API server evaluates the same expressions with cel-go and the
//! Kubernetes libraries; the policy uses only the standard macros (`has`,
//! `all`/`exists`/`filter`/`map`), `in`, `size`, the conditional operator and
//! the strings extension's `join`, all of which the `cel` crate implements.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cel::{Context, Env, Value};
use crash_guard::selector::LabelSelector;
use serde::Deserialize;
use serde_json::Value as Json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn load_yaml(path: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Json::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

struct Policy {
    variables: Vec<(String, String)>,
    validations: Vec<(String, String)>,
    /// The binding's `matchResources.objectSelector`.
    bound: LabelSelector,
}

fn policy() -> Policy {
    let docs = load_yaml(&root().join("deploy/vap/webhook-namespace-safety.yaml"));
    let vap = docs
        .iter()
        .find(|d| d["kind"] == "ValidatingAdmissionPolicy")
        .expect("a ValidatingAdmissionPolicy");
    let binding = docs
        .iter()
        .find(|d| d["kind"] == "ValidatingAdmissionPolicyBinding")
        .expect("its binding");
    assert_eq!(vap["apiVersion"], "admissionregistration.k8s.io/v1");
    assert_eq!(binding["spec"]["policyName"], vap["metadata"]["name"]);
    assert_eq!(
        binding["spec"]["validationActions"],
        serde_json::json!(["Deny"])
    );
    let rule = &vap["spec"]["matchConstraints"]["resourceRules"][0];
    assert_eq!(
        rule["resources"],
        serde_json::json!([
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations"
        ])
    );
    assert_eq!(rule["operations"], serde_json::json!(["CREATE", "UPDATE"]));
    let pairs = |list: &Json, key: &str, value: &str| -> Vec<(String, String)> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                (
                    item[key].as_str().unwrap_or_default().to_string(),
                    item[value].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    Policy {
        bound: serde_json::from_value(binding["spec"]["matchResources"]["objectSelector"].clone())
            .expect("the binding's objectSelector"),
        variables: pairs(&vap["spec"]["variables"], "name", "expression"),
        validations: pairs(
            &vap["spec"]["validations"],
            "expression",
            "messageExpression",
        ),
    }
}

fn env() -> Arc<Env> {
    let mut env = Env::stdlib();
    env.add_extension(cel::extensions::strings)
        .expect("strings extension");
    Arc::new(env)
}

fn eval(env: &Arc<Env>, expression: &str, bindings: &[(&str, Value)]) -> Value {
    let program = env
        .compile(expression)
        .unwrap_or_else(|e| panic!("CEL does not compile: {e:?}\n{expression}"));
    let mut context = Context::with_env(Arc::clone(env));
    for (name, value) in bindings {
        context.add_variable_from_value(*name, value.clone());
    }
    program
        .execute(&context)
        .unwrap_or_else(|e| panic!("CEL evaluation failed: {e:?}\n{expression}"))
}

/// The policy's verdict: `None` when admitted, the message when refused.
fn evaluate(policy: &Policy, object: &Json, old_object: Option<&Json>) -> Option<String> {
    let env = env();
    let object = cel::to_value(object).expect("object as CEL");
    let old_object = match old_object {
        Some(old) => cel::to_value(old).expect("oldObject as CEL"),
        None => Value::Null,
    };
    let mut variables: HashMap<String, Value> = HashMap::new();
    for (name, expression) in &policy.variables {
        let value = eval(
            &env,
            expression,
            &[
                ("object", object.clone()),
                ("oldObject", old_object.clone()),
                ("variables", Value::from(variables.clone())),
            ],
        );
        variables.insert(name.clone(), value);
    }
    let bindings = [
        ("object", object.clone()),
        ("oldObject", old_object.clone()),
        ("variables", Value::from(variables.clone())),
    ];
    for (expression, message) in &policy.validations {
        match eval(&env, expression, &bindings) {
            Value::Bool(true) => {}
            Value::Bool(false) => {
                return Some(match eval(&env, message, &bindings) {
                    Value::String(text) => text.to_string(),
                    other => panic!("messageExpression gave {other:?}"),
                })
            }
            other => panic!("validation gave {other:?}, not a bool"),
        }
    }
    None
}

/// The binding's verdict: `evaluate`'s, for objects its selector matches (on
/// UPDATE, as the API server does, when either object matches).
fn admit(policy: &Policy, object: &Json, old: Option<&Json>) -> Option<String> {
    let matched = |o: &Json| {
        let labels: BTreeMap<String, String> =
            serde_json::from_value(o["metadata"]["labels"].clone()).unwrap_or_default();
        policy.bound.matches(&labels)
    };
    if matched(object) || old.is_some_and(matched) {
        evaluate(policy, object, old)
    } else {
        None
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    object: String,
    #[serde(default)]
    old_object: Option<String>,
    allowed: bool,
    #[serde(default)]
    message: Vec<String>,
    #[serde(default)]
    not_message: Vec<String>,
}

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

fn fixture(name: &str) -> Json {
    load_yaml(&root().join("deploy/vap/fixtures").join(name))
        .into_iter()
        .next()
        .unwrap_or_default()
}

#[test]
fn vap_verdicts_match_the_fixtures() {
    let policy = policy();
    assert!(!policy.variables.is_empty() && !policy.validations.is_empty());
    let path = root().join("deploy/vap/fixtures/cases.yaml");
    let cases: Cases = serde_yaml::from_str(&std::fs::read_to_string(&path).expect("cases.yaml"))
        .expect("cases.yaml is valid");
    assert!(cases.cases.len() >= 5);
    let mut failures = Vec::new();
    for case in &cases.cases {
        let object = fixture(&case.object);
        let old = case.old_object.as_deref().map(fixture);
        let verdict = admit(&policy, &object, old.as_ref());
        match (&verdict, case.allowed) {
            (None, true) => println!("PASS {}: allowed", case.name),
            (Some(message), false) => {
                let missing: Vec<&String> = case
                    .message
                    .iter()
                    .filter(|s| !message.contains(s.as_str()))
                    .collect();
                let unwanted: Vec<&String> = case
                    .not_message
                    .iter()
                    .filter(|s| message.contains(s.as_str()))
                    .collect();
                if case.message.is_empty() || !missing.is_empty() || !unwanted.is_empty() {
                    failures.push(format!(
                        "{}: message {message:?} lacks {missing:?} or has {unwanted:?} \
                         (a refusal must list substrings)",
                        case.name
                    ));
                } else {
                    println!("PASS {}: {message}", case.name);
                }
            }
            (None, false) => failures.push(format!("{}: allowed, expected refused", case.name)),
            (Some(message), true) => failures.push(format!("{}: refused: {message}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn defaulted_fields_do_not_change_the_verdict() {
    // The API server defaults namespaceSelector to {} and rules[].scope to "*".
    let policy = policy();
    let mut object = fixture("istio-injector.yaml");
    object["webhooks"][0]["namespaceSelector"] = serde_json::json!({});
    object["webhooks"][0]["rules"][0]["scope"] = serde_json::json!("*");
    assert!(evaluate(&policy, &object, None).is_some());
    object["webhooks"][0]["namespaceSelector"] =
        serde_json::json!({"matchLabels": {"istio-injection": "enabled"}});
    assert!(evaluate(&policy, &object, None).is_none());
    // A configuration without webhooks, and one whose webhook has no rules.
    assert!(evaluate(&policy, &serde_json::json!({"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "empty"}}), None).is_none());
    object["webhooks"][0]["rules"] = serde_json::json!([]);
    object["webhooks"][0]["namespaceSelector"] = serde_json::json!({});
    assert!(evaluate(&policy, &object, None).is_none());
}

#[test]
fn every_selector_form_is_judged_on_kube_system_labels() {
    let policy = policy();
    let cases = [
        (
            serde_json::json!({"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}),
            false,
        ),
        (
            serde_json::json!({"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}),
            true,
        ),
        (
            serde_json::json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["kube-system", "x"]}]}),
            false,
        ),
        (
            serde_json::json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "DoesNotExist"}]}),
            true,
        ),
        (
            serde_json::json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}),
            false,
        ),
        (
            serde_json::json!({"matchExpressions": [{"key": "team", "operator": "Exists"}]}),
            true,
        ),
        (
            serde_json::json!({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}),
            false,
        ),
        (
            serde_json::json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-public"]}]}),
            false,
        ),
    ];
    for (selector, excluded) in cases {
        let mut object = fixture("endpoints-validator.yaml");
        object["webhooks"][0]["namespaceSelector"] = selector.clone();
        assert_eq!(
            evaluate(&policy, &object, None).is_none(),
            excluded,
            "selector {selector}"
        );
    }
}

/// The configuration the Kubewarden controller generates for a
/// ClusterAdmissionPolicy: its rules, and a namespaceSelector of a `NotIn`
/// on its own namespace plus the policy's `matchExpressions`.
fn generated_configuration(policy: &Json) -> Json {
    let spec = &policy["spec"];
    let name = format!(
        "clusterwide-{}",
        policy["metadata"]["name"].as_str().unwrap_or_default()
    );
    let mut expressions = vec![serde_json::json!({
        "key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kubewarden"]
    })];
    expressions.extend(
        spec["namespaceSelector"]["matchExpressions"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"kubewardenPolicyScope": "cluster"}},
        "webhooks": [{
            "name": format!("{name}.kubewarden.admission"),
            "rules": spec["rules"],
            "namespaceSelector": {"matchExpressions": expressions},
        }],
    })
}

#[test]
fn kubewarden_generated_configurations_are_left_to_webhook_safety() {
    let policy = policy();
    let mut files = vec![root().join("deploy/bundle/crash-guard.yaml")];
    let rules = root().join("deploy/rules");
    for entry in std::fs::read_dir(&rules).expect("deploy/rules") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    let mut reaching = 0;
    for file in files {
        for doc in load_yaml(&file) {
            if doc["kind"] != "ClusterAdmissionPolicy" {
                continue;
            }
            let mut generated = generated_configuration(&doc);
            assert_eq!(admit(&policy, &generated, None), None, "{}", file.display());
            // Without the controller's label the VAP would judge it.
            generated["metadata"]["labels"] = serde_json::json!({});
            reaching += usize::from(evaluate(&policy, &generated, None).is_some());
        }
    }
    // crash-guard's kube-system policies: object-count, the daemonset-guard
    // companion, system-networkpolicy, webhook-safety and the bundle.
    assert_eq!(reaching, 5);
}
