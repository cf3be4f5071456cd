use std::cell::RefCell;

use rstest::rstest;
use serde_json::{json, Value};

use super::*;
use crate::host::OnLookupFailure;

/// Serves lists and gets from a few objects, like the harness; records calls.
#[derive(Default)]
struct FakeHost {
    objects: Vec<Value>,
    fail: Option<&'static str>,
    body: Option<&'static str>,
    calls: RefCell<Vec<Value>>,
}

impl FakeHost {
    fn new(objects: Vec<Value>) -> Self {
        Self {
            objects,
            ..Self::default()
        }
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

impl Host for FakeHost {
    fn call(&self, _: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let request: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        self.calls
            .borrow_mut()
            .push(json!({"op": operation, "request": request}));
        if let Some(error) = self.fail {
            return Err(error.to_string());
        }
        if let Some(body) = self.body {
            return Ok(body.as_bytes().to_vec());
        }
        let same_type = |o: &&Value| {
            text(o, "/apiVersion") == text(&request, "/api_version")
                && text(o, "/kind") == text(&request, "/kind")
        };
        if operation == "get_resource" {
            let found = self
                .objects
                .iter()
                .filter(same_type)
                .find(|o| text(o, "/metadata/name") == text(&request, "/name"));
            return found
                .map(|o| o.to_string().into_bytes())
                .ok_or_else(|| "not found".to_string());
        }
        let selector = LabelSelector::parse(text(&request, "/label_selector"))?;
        let items: Vec<&Value> = self
            .objects
            .iter()
            .filter(same_type)
            .filter(|o| text(o, "/metadata/namespace") == text(&request, "/namespace"))
            .filter(|o| {
                let labels: BTreeMap<String, String> = o
                    .pointer("/metadata/labels")
                    .and_then(|l| serde_json::from_value(l.clone()).ok())
                    .unwrap_or_default();
                selector.matches(&labels)
            })
            .collect();
        Ok(json!({"items": items}).to_string().into_bytes())
    }
}

fn object(kind: &str, namespace: &str, name: &str, labels: Value) -> Value {
    let api_version = if kind == "Job" { "batch/v1" } else { "v1" };
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace, "labels": labels}})
}

fn many(kind: &str, namespace: &str, count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| object(kind, namespace, &format!("{namespace}-{i}"), json!({})))
        .collect()
}

fn release_secret(namespace: &str, release: &str, version: usize) -> Value {
    let mut secret = object(
        "Secret",
        namespace,
        &format!("sh.helm.release.v1.{release}.v{version}"),
        json!({"owner": "helm", "name": release, "version": version.to_string(), "status": "superseded"}),
    );
    secret["type"] = json!(HELM_RELEASE_TYPE);
    secret
}

fn tiller_config_map(namespace: &str, release: &str, version: usize) -> Value {
    object(
        "ConfigMap",
        namespace,
        &format!("{release}.v{version}"),
        json!({"OWNER": "TILLER", "NAME": release, "VERSION": version.to_string(), "STATUS": "SUPERSEDED"}),
    )
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn request(operation: &str, object: &Value) -> String {
    let api_version = text(object, "/apiVersion");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    json!({
        "uid": "u",
        "operation": operation,
        "kind": {"group": group, "version": version, "kind": text(object, "/kind")},
        "namespace": text(object, "/metadata/namespace"),
        "name": text(object, "/metadata/name"),
        "object": if operation == "DELETE" { Value::Null } else { object.clone() },
        "oldObject": if operation == "CREATE" { Value::Null } else { object.clone() },
    })
    .to_string()
}

fn settings(json: Value) -> Settings {
    let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
    crate::settings::parse(Some(&raw)).expect("valid settings")
}

/// Small limits, like the fixture suite.
fn small() -> Settings {
    settings(json!({
        "limits": [
            {"apiVersion": "v1", "kind": "ConfigMap", "max": 3},
            {"apiVersion": "v1", "kind": "Secret", "max": 3},
            {"apiVersion": "batch/v1", "kind": "Job", "max": 2},
        ],
        "namespaceOverrides": [
            {"namespaces": ["ci"], "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 5}]},
            {"namespaceSelector": {"matchLabels": {"tier": "bulk"}}, "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 6}]},
            {"namespaces": ["web"], "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 20}]},
        ],
        "helm": {"maxStoredRevisions": 3},
    }))
}

fn judge(host: &FakeHost, json: &str, settings: &Settings) -> Verdict {
    crate::policy::evaluate::<ObjectCount>(json, settings, host).expect("decodes")
}

fn cluster() -> Vec<Value> {
    let mut objects = vec![
        namespace("apps", json!({})),
        namespace("ci", json!({})),
        namespace("bulk", json!({"tier": "bulk"})),
        namespace("team", json!({})),
        namespace("web", json!({})),
        namespace("kube-system", json!({})),
    ];
    objects.extend(many("ConfigMap", "apps", 3));
    objects.extend(many("ConfigMap", "team", 2));
    objects.extend(many("ConfigMap", "ci", 4));
    objects.extend(many("ConfigMap", "bulk", 5));
    objects.extend(many("Job", "apps", 2));
    // No Namespace objects: their lookups fail.
    objects.extend(many("ConfigMap", "fresh4", 4));
    objects.extend(many("ConfigMap", "fresh6", 6));
    objects.extend((1..=3).map(|v| release_secret("web", "shop", v)));
    objects.extend((1..=4).map(|v| release_secret("web", "blog", v)));
    objects.extend((1..=2).map(|v| tiller_config_map("kube-system", "legacy", v)));
    objects
}

#[rstest]
#[case::under_every_limit_needs_no_namespace(object("ConfigMap", "team", "new", json!({})), "CREATE", true, 1)]
#[case::at_limit(object("ConfigMap", "apps", "new", json!({})), "CREATE", false, 2)]
#[case::update_at_limit(object("ConfigMap", "apps", "apps-0", json!({})), "UPDATE", true, 0)]
#[case::create_of_an_existing_name_at_limit(object("ConfigMap", "apps", "apps-0", json!({})), "CREATE", true, 1)]
#[case::create_of_a_new_name_like_an_existing_one_at_limit(object("ConfigMap", "apps", "apps-00", json!({})), "CREATE", false, 2)]
#[case::job_of_an_existing_name_at_limit(object("Job", "apps", "apps-1", json!({})), "CREATE", true, 1)]
#[case::delete_at_limit(object("ConfigMap", "apps", "apps-0", json!({})), "DELETE", true, 0)]
#[case::override_by_name(object("ConfigMap", "ci", "new", json!({})), "CREATE", true, 1)]
#[case::override_by_label(object("ConfigMap", "bulk", "new", json!({})), "CREATE", true, 2)]
#[case::secret_needs_no_namespace(object("Secret", "apps", "new", json!({})), "CREATE", true, 1)]
#[case::job_at_limit(object("Job", "apps", "new", json!({})), "CREATE", false, 1)]
#[case::uncounted_kind(object("Pod", "apps", "new", json!({})), "CREATE", true, 0)]
#[case::release_within_history(release_secret("web", "shop", 4), "CREATE", true, 2)]
#[case::release_beyond_history(release_secret("web", "blog", 5), "CREATE", false, 2)]
#[case::tiller_refused(tiller_config_map("kube-system", "legacy", 3), "CREATE", false, 2)]
#[case::unread_namespace_between_limits(object("ConfigMap", "fresh4", "new", json!({})), "CREATE", true, 2)]
#[case::over_every_limit_reads_the_namespace_to_name_the_limit(object("ConfigMap", "fresh6", "new", json!({})), "CREATE", false, 2)]
#[case::helm_v3_config_map_driver(object("ConfigMap", "ci", "sh.helm.release.v1.shop.v2", json!({"owner": "helm", "name": "shop", "version": "2"})), "CREATE", true, 2)]
#[case::opaque_secret_labelled_helm(object("Secret", "web", "not-a-release", json!({"owner": "helm", "name": "blog"})), "CREATE", true, 1)]
fn judges(
    #[case] object: Value,
    #[case] operation: &str,
    #[case] accepted: bool,
    #[case] lookups: usize,
) {
    let host = FakeHost::new(cluster());
    let verdict = judge(&host, &request(operation, &object), &small());
    assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
    assert_eq!(host.calls.borrow().len(), lookups, "{:?}", host.calls);
}

#[test]
fn count_lookup_fetches_names_only() {
    let host = FakeHost::new(cluster());
    judge(
        &host,
        &request("CREATE", &object("Secret", "apps", "n", json!({}))),
        &small(),
    );
    assert_eq!(
        host.calls.borrow().first(),
        Some(&json!({"op": "list_resources_by_namespace", "request": {
            "api_version": "v1", "kind": "Secret", "namespace": "apps",
            "label_selector": null, "field_selector": null, "field_masks": ["metadata.name"]}}))
    );
}

#[test]
fn history_lookup_selects_the_release() {
    let host = FakeHost::new(cluster());
    judge(
        &host,
        &request("CREATE", &release_secret("web", "shop", 4)),
        &small(),
    );
    let calls = host.calls.borrow();
    assert_eq!(
        calls.get(1).map(|c| c["request"]["label_selector"].clone()),
        Some(json!("name=shop,owner=helm"))
    );
}

#[test]
fn refusal_names_count_limit_setting_and_fix() {
    let host = FakeHost::new(cluster());
    let verdict = judge(
        &host,
        &request("CREATE", &object("ConfigMap", "apps", "new", json!({}))),
        &small(),
    );
    let message = verdict
        .into_response("object-count", "ConfigMap apps/new")
        .message
        .unwrap_or_default();
    for needle in [
        "ConfigMap apps/new",
        "metadata.namespace = apps",
        "already holds 3 ConfigMaps",
        "limit is 3 (`limits[0].max`)",
        "etcd",
        "kubectl get configmaps -n apps",
        "namespaceOverrides",
    ] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
}

#[test]
fn release_refusal_names_history_max() {
    let host = FakeHost::new(cluster());
    let verdict = judge(
        &host,
        &request("CREATE", &release_secret("web", "blog", 5)),
        &small(),
    );
    let message = verdict
        .into_response("object-count", "Secret web/x")
        .message
        .unwrap_or_default();
    for needle in [
        "metadata.labels.name = blog",
        "already stores 4 revisions",
        "`helm.maxStoredRevisions` = 3",
        "revision 5",
        "--history-max",
        "Terraform's `helm_release`: `max_history`, whose default 0 means no limit",
        "owner=helm",
    ] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
}

#[test]
fn tiller_refusal_and_migration() {
    let host = FakeHost::new(cluster());
    let json = request("CREATE", &tiller_config_map("kube-system", "legacy", 3));
    let verdict = judge(&host, &json, &small());
    let message = verdict
        .clone()
        .into_response("object-count", "ConfigMap kube-system/legacy.v3")
        .message
        .unwrap_or_default();
    for needle in [
        "metadata.labels.OWNER = TILLER",
        "Helm v3",
        "helm 2to3 convert legacy",
        "helm.tillerMigration",
    ] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
    let mut migrating = small();
    migrating.helm.tiller_migration = true;
    let verdict = judge(&host, &json, &migrating);
    assert!(verdict.is_accepted());
    assert_eq!(verdict.warnings.len(), 1);
    assert!(verdict.warnings[0].contains("tillerMigration"));
}

#[rstest]
#[case::allow(OnLookupFailure::Allow, true)]
#[case::deny(OnLookupFailure::Deny, false)]
fn lookup_failure(#[case] policy: OnLookupFailure, #[case] accepted: bool) {
    let host = FakeHost {
        fail: Some("connection refused"),
        ..FakeHost::default()
    };
    let mut settings = small();
    settings.on_lookup_failure = policy;
    let verdict = judge(
        &host,
        &request("CREATE", &object("Secret", "apps", "n", json!({}))),
        &settings,
    );
    assert_eq!(verdict.is_accepted(), accepted);
    if accepted {
        assert_eq!(
            verdict.warnings,
            vec!["crash-guard/object-count: could not look up the Secrets in namespace apps (connection refused); the limit of 3 Secrets per namespace was not checked"]
        );
    }
}

#[test]
fn namespace_lookup_failure_skips_a_count_between_the_limits() {
    let host = FakeHost::new(many("ConfigMap", "gone", 4));
    let verdict = judge(
        &host,
        &request("CREATE", &object("ConfigMap", "gone", "n", json!({}))),
        &small(),
    );
    assert!(verdict.is_accepted());
    assert!(
        verdict.warnings[0].contains("Namespace gone")
            && verdict.warnings[0].contains("it holds 4, between their limits 3 and 6"),
        "{verdict:?}"
    );
}

#[rstest]
#[case::not_json("not json")]
#[case::items_not_a_list(r#"{"items": 7}"#)]
fn malformed_answers_warn(#[case] body: &'static str) {
    let host = FakeHost {
        body: Some(body),
        ..FakeHost::default()
    };
    let verdict = judge(
        &host,
        &request("CREATE", &release_secret("web", "shop", 2)),
        &small(),
    );
    assert!(verdict.is_accepted());
    assert_eq!(verdict.warnings.len(), 2, "{verdict:?}");
}

#[test]
fn defaults_count_config_maps_and_secrets() {
    let defaults = Settings::default();
    assert_eq!(defaults.limits.len(), 2);
    assert!(defaults.limits.iter().all(|l| l.max == DEFAULT_KIND_LIMIT));
    assert_eq!(
        defaults.helm.max_stored_revisions,
        DEFAULT_MAX_STORED_REVISIONS
    );
    assert!(!defaults.helm.tiller_migration);
}

#[rstest]
#[case::zero_max(json!({"limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 0}]}), "limits[0].max: must be greater than 0")]
#[case::negative_max(json!({"limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": -1}]}), "limits[0].max")]
#[case::missing_max(json!({"limits": [{"apiVersion": "v1", "kind": "ConfigMap"}]}), "missing field `max`")]
#[case::resource_not_kind(json!({"limits": [{"apiVersion": "v1", "kind": "configmaps", "max": 5}]}), "limits[0].kind")]
#[case::bad_api_version(json!({"limits": [{"apiVersion": "apps", "kind": "ReplicaSet", "max": 5}]}), "limits[0].apiVersion")]
#[case::cluster_scoped(json!({"limits": [{"apiVersion": "v1", "kind": "Namespace", "max": 5}]}), "cluster-scoped")]
#[case::duplicate(json!({"limits": [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "max": 5}, {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "max": 6}]}), "limits[1]: PodDisruptionBudget is listed twice")]
#[case::older_apps_version(json!({"limits": [{"apiVersion": "apps/v1beta2", "kind": "Deployment", "max": 5}]}), "limits[0].apiVersion: the API server serves Deployment only as `apps/v1`, so the count's lookups of `apps/v1beta2` would fail")]
#[case::beta_core_version(json!({"limits": [{"apiVersion": "v1beta1", "kind": "ConfigMap", "max": 5}]}), "limits[0].apiVersion: the API server serves ConfigMap only as `v1`")]
#[case::beta_batch_version(json!({"limits": [{"apiVersion": "batch/v1beta1", "kind": "Job", "max": 5}]}), "write `apiVersion: batch/v1`")]
#[case::old_version_in_override(json!({"limits": [{"apiVersion": "apps/v1", "kind": "Deployment", "max": 5}], "namespaceOverrides": [{"namespaces": ["a"], "limits": [{"apiVersion": "apps/v1beta1", "kind": "Deployment", "max": 9}]}]}), "namespaceOverrides[0].limits[0].apiVersion: the API server serves Deployment only as `apps/v1`")]
#[case::override_neither_with_empty_selector(json!({"namespaceOverrides": [{"namespaces": [], "namespaceSelector": {"matchLabels": {}}, "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "namespaceOverrides[0].namespaceSelector: an empty selector matches every namespace")]
#[case::override_both(json!({"namespaceOverrides": [{"namespaces": ["a"], "namespaceSelector": {"matchLabels": {"a": "b"}}, "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "namespaceOverrides[0]: set exactly one")]
#[case::override_neither(json!({"namespaceOverrides": [{"limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "namespaceOverrides[0]: set exactly one")]
#[case::override_empty_selector(json!({"namespaceOverrides": [{"namespaceSelector": {}, "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "namespaceOverrides[0].namespaceSelector")]
#[case::override_uncounted_kind(json!({"namespaceOverrides": [{"namespaces": ["a"], "limits": [{"apiVersion": "batch/v1", "kind": "Job", "max": 5}]}]}), "namespaceOverrides[0].limits[0]: batch/v1 Job is not in the top-level `limits`")]
#[case::override_no_limits(json!({"namespaceOverrides": [{"namespaces": ["a"]}]}), "namespaceOverrides[0].limits")]
#[case::override_empty_name(json!({"namespaceOverrides": [{"namespaces": [""], "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "namespaceOverrides[0].namespaces[0]")]
#[case::history_too_small(json!({"helm": {"maxStoredRevisions": 1}}), "helm.maxStoredRevisions: must be at least 2")]
#[case::unknown_helm_key(json!({"helm": {"historyMax": 10}}), "unknown field `historyMax`")]
#[case::bad_lookup_failure(json!({"onLookupFailure": "ignore"}), "onLookupFailure")]
#[case::bad_exemption(json!({"exemptions": {"serviceAccounts": ["x"]}}), "exemptions.serviceAccounts[0]")]
#[case::core_group(json!({"limits": [{"apiVersion": "core/v1", "kind": "ConfigMap", "max": 1}]}), "limits[0].apiVersion: `core/v1`: the core group has no name in an apiVersion")]
#[case::core_group_write_v1(json!({"limits": [{"apiVersion": "core/v1", "kind": "Secret", "max": 1}]}), "write `v1`")]
#[case::core_group_in_override(json!({"namespaceOverrides": [{"namespaces": ["a"], "limits": [{"apiVersion": "core/v1", "kind": "Secret", "max": 5}]}]}), "namespaceOverrides[0].limits[0].apiVersion: `core/v1`")]
#[case::job_in_core_group(json!({"limits": [{"apiVersion": "v1", "kind": "Job", "max": 5}]}), "limits[0].apiVersion: Job is in the API group of `batch/v1`, not of `v1`")]
#[case::deployment_in_core_group(json!({"limits": [{"apiVersion": "v1", "kind": "Deployment", "max": 5}]}), "write `apiVersion: apps/v1`")]
#[case::config_map_in_apps(json!({"limits": [{"apiVersion": "apps/v1", "kind": "ConfigMap", "max": 5}]}), "ConfigMap is in the API group of `v1`, not of `apps/v1`")]
#[case::unknown_core_kind(json!({"limits": [{"apiVersion": "v1", "kind": "Widget", "max": 5}]}), "limits[0].apiVersion: the API group of `v1` has no kind Widget")]
#[case::selector_misspelt_key(json!({"namespaceOverrides": [{"namespaceSelector": {"matchLabels": {"team": "ci"}, "matchExpresions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 5000}]}]}), "namespaceOverrides[0].namespaceSelector: unknown field `matchExpresions`")]
#[case::requirement_misspelt_key(json!({"namespaceOverrides": [{"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "Exists", "value": ["prod"]}]}, "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 5000}]}]}), "namespaceOverrides[0].namespaceSelector.matchExpressions[0]: unknown field `value`")]
#[case::empty_limits(json!({"limits": []}), "limits: an empty list counts no kind")]
#[case::csr_cluster_scoped(json!({"limits": [{"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "max": 5}]}), "limits[0].kind: CertificateSigningRequest is cluster-scoped")]
#[case::ingress_class_cluster_scoped(json!({"limits": [{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "max": 5}]}), "IngressClass is cluster-scoped")]
#[case::retired_extensions_group(json!({"limits": [{"apiVersion": "extensions/v1beta1", "kind": "Deployment", "max": 5}]}), "limits[0].apiVersion: the API server no longer serves `extensions/v1beta1`")]
#[case::override_name_not_a_namespace(json!({"namespaceOverrides": [{"namespaces": ["Apps"], "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "namespaceOverrides[0].namespaces[0]: `Apps` is not a namespace name")]
#[case::selector_label_key(json!({"namespaceOverrides": [{"namespaceSelector": {"matchLabels": {"crash guard/budget": "bulk"}}, "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "namespaceOverrides[0].namespaceSelector.matchLabels.crash guard/budget: `crash guard/budget` is not a label key")]
#[case::selector_label_value(json!({"namespaceOverrides": [{"namespaceSelector": {"matchLabels": {"budget": "bulk!"}}, "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "matchLabels.budget: `bulk!` is not a label value")]
#[case::group_dot(json!({"limits": [{"apiVersion": "./v1", "kind": "Widget", "max": 4}]}), "limits[0].apiVersion: `./v1` is not an apiVersion: its API group must be a lowercase DNS subdomain")]
#[case::group_dash(json!({"limits": [{"apiVersion": "-/v1", "kind": "Widget", "max": 4}]}), "limits[0].apiVersion: `-/v1` is not an apiVersion: its API group")]
#[case::group_empty_part(json!({"limits": [{"apiVersion": "a..b/v1", "kind": "Widget", "max": 4}]}), "limits[0].apiVersion: `a..b/v1` is not an apiVersion: its API group")]
#[case::group_dash_edges(json!({"limits": [{"apiVersion": "-x-/v1", "kind": "Widget", "max": 4}]}), "limits[0].apiVersion: `-x-/v1` is not an apiVersion: its API group")]
#[case::group_empty(json!({"limits": [{"apiVersion": "/v1", "kind": "Widget", "max": 4}]}), "limits[0].apiVersion: `/v1` is not an apiVersion: its API group")]
#[case::group_uppercase(json!({"limits": [{"apiVersion": "Serving.knative.dev/v1", "kind": "Service", "max": 4}]}), "its API group must be a lowercase DNS subdomain")]
#[case::selector_expression_value(json!({"namespaceOverrides": [{"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["ok", "not ok"]}]}, "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5}]}]}), "matchExpressions[0].values[1]: `not ok` is not a label value")]
fn refuses_invalid_settings(#[case] json: Value, #[case] expected: &str) {
    let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
    let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
    assert!(error.to_string().contains(expected), "{error}");
}

/// Review regression: each limit was compared with every earlier one.
#[test]
fn ten_thousand_limits_are_validated_in_linear_time() {
    let limits: Vec<Value> = (0..10_000)
        .map(|i| json!({"apiVersion": "example.com/v1", "kind": format!("Widget{i}"), "max": 5}))
        .collect();
    let raw = serde_json::value::RawValue::from_string(json!({ "limits": limits }).to_string())
        .expect("json");
    assert!(crate::settings::parse::<Settings>(Some(&raw)).is_ok());
}

/// A CustomResource may share a built-in cluster-scoped kind's name.
#[test]
fn cluster_scoped_kinds_are_known_by_group() {
    let raw = serde_json::value::RawValue::from_string(
        json!({"limits": [{"apiVersion": "example.com/v1", "kind": "IngressClass", "max": 5}]})
            .to_string(),
    )
    .expect("json");
    assert!(crate::settings::parse::<Settings>(Some(&raw)).is_ok());
}

#[rstest]
#[case::config_map("ConfigMap", "ConfigMaps")]
#[case::policy("NetworkPolicy", "NetworkPolicies")]
#[case::ingress("Ingress", "Ingresses")]
#[case::gateway("Gateway", "Gateways")]
#[case::endpoints("Endpoints", "Endpoints")]
#[case::ingress_class("IngressClass", "IngressClasses")]
#[case::status("ComponentStatus", "ComponentStatuses")]
#[case::proxy("Proxy", "Proxies")]
#[case::endpoint_slice("EndpointSlice", "EndpointSlices")]
fn plurals(#[case] kind: &str, #[case] expected: &str) {
    assert_eq!(plural(kind), expected);
}

/// The cost of one count at 10,000 objects: the masked list's JSON size and
/// the time to count it natively. Prints figures; asserts no timing.
/// `cargo test --release -p crash-guard object_count::tests::lookup_cost_at_scale -- --ignored --nocapture`
#[test]
#[ignore]
fn lookup_cost_at_scale() {
    for count in [100usize, 1_000, 10_000] {
        // Masked as policy-server masks: `data` pruned, metadata whole but for
        // managedFields (emptied) and the last-applied annotation.
        let items: Vec<Value> = (0..count)
            .map(|i| {
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i:05}"),
                "namespace": "scale", "uid": "6f1c1e8a-3b7e-4d2a-9c55-0a6f4f2b9d10",
                "resourceVersion": "123456789", "creationTimestamp": "2026-11-26T10:00:00Z",
                "labels": {"app": "build"}, "annotations": {}, "managedFields": []}})
            })
            .collect();
        let body =
            json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {}, "items": items})
                .to_string()
                .into_bytes();
        // The same list unmasked, each item as the API server returns a small ConfigMap.
        let full: Vec<Value> = (0..count)
            .map(|i| {
                json!({"metadata": {"name": format!("cm-{i:05}"), "namespace": "scale",
                "uid": "6f1c1e8a-3b7e-4d2a-9c55-0a6f4f2b9d10", "resourceVersion": "123456789",
                "creationTimestamp": "2026-11-26T10:00:00Z", "labels": {"app": "build"},
                "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update",
                    "apiVersion": "v1", "time": "2026-11-26T10:00:00Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {".": {}, "f:settings.yaml": {}}}}]},
                "data": {"settings.yaml": "x".repeat(200)}})
            })
            .collect();
        let full_size = json!({"items": full}).to_string().len();
        let rounds = 200u32;
        let start = std::time::Instant::now();
        let mut counted = 0;
        for _ in 0..rounds {
            counted = host::list_items::<IgnoredAny>(&body).map_or(0, |i| i.len());
        }
        let each = start.elapsed() / rounds;
        assert_eq!(counted, count);
        println!(
            "{count} objects: masked list {} bytes (unmasked ~{full_size} bytes), counted in {each:?}",
            body.len()
        );
    }
}

#[rstest]
#[case::metadata_null(r#"{"metadata":null}"#)]
#[case::labels_null(r#"{"metadata":{"labels":null}}"#)]
#[case::no_metadata("{}")]
fn masked_namespace_without_labels(#[case] body: &'static str) {
    let host = FakeHost {
        body: Some(body),
        ..FakeHost::default()
    };
    assert_eq!(namespace_labels("apps", &host), Ok(BTreeMap::new()));
}

#[test]
fn malformed_object_is_a_decode_error_before_any_lookup() {
    let host = FakeHost::new(cluster());
    let json = request(
        "CREATE",
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "apps", "labels": ["not", "a", "map"]}}),
    );
    let error = crate::policy::evaluate::<ObjectCount>(&json, &small(), &host).unwrap_err();
    assert!(
        error.to_string().contains("object: metadata.labels"),
        "{error}"
    );
    assert!(host.calls.borrow().is_empty());
}

#[rstest]
#[case::kube_system("kube-system", "ConfigMap", "`helm 2to3 convert legacy`")]
#[case::own_namespace("team-a", "Secret", "`helm 2to3 convert --tiller-ns team-a legacy`")]
fn tiller_fix_names_tillers_namespace(
    #[case] namespace: &str,
    #[case] kind: &str,
    #[case] command: &str,
) {
    let host = FakeHost::new(cluster());
    let mut stored = tiller_config_map(namespace, "legacy", 3);
    stored["kind"] = json!(kind);
    let verdict = judge(&host, &request("CREATE", &stored), &small());
    let fix = &verdict.violations[0].fix;
    let storage = format!("--release-storage {}s", kind.to_lowercase());
    for needle in [command, "--tiller-out-cluster", &storage] {
        assert!(fix.contains(needle), "{needle} missing from {fix}");
    }
}

/// Over every limit that may apply the object is refused whatever the
/// labels; they are read to name the limit that applies, else the fix says
/// where a by-name entry must go.
#[rstest]
#[case::labelled(Some(json!({"tier": "bulk"})), "its limit is 6 (`namespaceOverrides[1].limits[0].max`)", "raise `namespaceOverrides[1].limits[0].max`")]
#[case::not_labelled(Some(json!({})), "its limit is 3 (`limits[0].max`)", "rather than raising `limits[0].max`")]
#[case::unread(
    None,
    "the highest is 6 (`namespaceOverrides[1].limits[0].max`)",
    "placed before `namespaceOverrides[1]` (the first matching entry wins)"
)]
fn over_every_limit_names_the_limit_that_applies(
    #[case] labels: Option<Value>,
    #[case] statement: &str,
    #[case] fix: &str,
) {
    let mut objects = many("ConfigMap", "legacy", 6);
    objects.extend(labels.map(|l| namespace("legacy", l)));
    let host = FakeHost::new(objects);
    let verdict = judge(
        &host,
        &request("CREATE", &object("ConfigMap", "legacy", "new", json!({}))),
        &small(),
    );
    assert_eq!(host.calls.borrow().len(), 2);
    let violation = &verdict.violations[0];
    assert!(violation.problem.contains(statement), "{violation:?}");
    assert!(violation.fix.contains(fix), "{violation:?}");
}

/// The labels unread, an entry that names the namespace after one that
/// selects by label: the fix raises that entry and moves it up, rather than
/// adding another.
#[test]
fn over_every_limit_unread_names_the_by_name_entry() {
    let settings = settings(json!({
        "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 5}],
        "namespaceOverrides": [
            {"namespaceSelector": {"matchLabels": {"budget": "bulk"}}, "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 8}]},
            {"namespaces": ["team-b"], "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 10}]},
        ],
    }));
    let host = FakeHost::new(many("ConfigMap", "team-b", 12));
    let verdict = judge(
        &host,
        &request("CREATE", &object("ConfigMap", "team-b", "new", json!({}))),
        &settings,
    );
    let violation = &verdict.violations[0];
    assert!(
        violation
            .problem
            .contains("the highest is 10 (`namespaceOverrides[1].limits[0].max`)"),
        "{violation:?}"
    );
    assert!(
        violation.fix.ends_with(
            "If team-b really needs more: raise `namespaceOverrides[1].limits[0].max` (the entry that names team-b); \
             it applies only if team-b matches no `namespaceSelector` of the entries before it, so if it may, move \
             that entry before `namespaceOverrides[0]` (the first matching entry wins)."
        ),
        "{violation:?}"
    );
    assert!(!violation.fix.contains("its own entry"), "{violation:?}");
}

/// kubectl lists a custom resource as `kind.group`: its plural alone may
/// name a built-in kind (Knative's Service, Volcano's Job).
#[rstest]
#[case::config_map("v1", "ConfigMap", "`kubectl get configmaps -n apps`")]
#[case::job("batch/v1", "Job", "`kubectl get jobs -n apps`")]
#[case::deployment("apps/v1", "Deployment", "`kubectl get deployments -n apps`")]
#[case::knative_service(
    "serving.knative.dev/v1",
    "Service",
    "`kubectl get service.serving.knative.dev -n apps`"
)]
#[case::volcano_job(
    "batch.volcano.sh/v1alpha1",
    "Job",
    "`kubectl get job.batch.volcano.sh -n apps`"
)]
#[case::pdb(
    "policy/v1",
    "PodDisruptionBudget",
    "`kubectl get poddisruptionbudget.policy -n apps`"
)]
fn cleanup_lists_the_kind_of_the_limit(
    #[case] api_version: &str,
    #[case] kind: &str,
    #[case] command: &str,
) {
    let limit = KindLimit::new(api_version, kind, 1);
    let text = cleanup("apps", &limit, &plural(kind));
    assert!(text.contains(command), "{text}");
}

#[test]
fn custom_resource_refusal_lists_it_by_group() {
    let settings = settings(
        json!({"limits": [{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "max": 2}]}),
    );
    let service = |name: &str| json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name, "namespace": "apps"}});
    let mut objects = vec![service("a"), service("b")];
    objects.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "apps"}}));
    let host = FakeHost::new(objects);
    let verdict = judge(&host, &request("CREATE", &service("c")), &settings);
    let violation = &verdict.violations[0];
    assert!(
        violation.problem.contains("already holds 2 Services"),
        "{violation:?}"
    );
    assert!(
        violation
            .fix
            .contains("(`kubectl get service.serving.knative.dev -n apps`)"),
        "{violation:?}"
    );
}

#[test]
fn tiller_secret_driver_is_tiller_storage() {
    let host = FakeHost::new(cluster());
    let mut secret = tiller_config_map("kube-system", "legacy", 3);
    secret["kind"] = json!("Secret");
    let verdict = judge(&host, &request("CREATE", &secret), &small());
    assert_eq!(verdict.violations.len(), 1);
    assert_eq!(verdict.violations[0].field, "metadata.labels.OWNER");
}

#[rstest]
#[case::volcano_job(json!({"limits": [{"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "max": 5}]}))]
#[case::endpoints(json!({"limits": [{"apiVersion": "v1", "kind": "Endpoints", "max": 5}]}))]
#[case::knative_service(json!({"limits": [{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "max": 5}]}))]
#[case::group_with_digits_and_dashes(json!({"limits": [{"apiVersion": "x-1.example.com/v2beta1", "kind": "Widget", "max": 5}]}))]
#[case::other_group_beta(json!({"limits": [{"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "max": 5}]}))]
#[case::other_group(json!({"limits": [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "max": 5}]}))]
#[case::full_selector(json!({"namespaceOverrides": [{"namespaceSelector": {"matchLabels": {"team": "ci"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 5000}]}]}))]
fn accepts_valid_settings(#[case] json: Value) {
    let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
    let parsed = crate::settings::parse::<Settings>(Some(&raw));
    assert!(parsed.is_ok(), "{parsed:?}");
}

/// The Kubewarden UI sends `namespaceSelector: {}` beside the names of a
/// by-name entry: an empty selector there is no selector.
#[rstest]
#[case::empty_map(json!({}))]
#[case::empty_parts(json!({"matchLabels": {}, "matchExpressions": []}))]
fn empty_selector_beside_names_is_by_name(#[case] selector: Value) {
    let parsed = settings(json!({"namespaceOverrides": [{
        "namespaces": ["ci"], "namespaceSelector": selector,
        "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 5}],
    }]}));
    assert_eq!(parsed.namespace_overrides[0].namespace_selector, None);
    let mut objects = many("ConfigMap", "ci", 4);
    objects.extend(many("ConfigMap", "apps", 1000));
    let host = FakeHost::new(objects);
    let ci = request("CREATE", &object("ConfigMap", "ci", "new", json!({})));
    assert!(judge(&host, &ci, &parsed).is_accepted());
    assert_eq!(host.calls.borrow().len(), 1, "no Namespace lookup");
    let apps = request("CREATE", &object("ConfigMap", "apps", "new", json!({})));
    assert!(!judge(&host, &apps, &parsed).is_accepted());
}

/// A section given in part keeps the defaults of the fields left out
/// (serde's struct-level `default` takes them from the section's own `Default`).
#[rstest]
#[case::helm_migration_only(json!({"helm": {"tillerMigration": true}}))]
#[case::overrides_only(json!({"namespaceOverrides": [{"namespaces": ["ci"], "limits": [{"apiVersion": "v1", "kind": "Secret", "max": 5000}]}]}))]
#[case::exemptions_only(json!({"exemptions": {"namespaces": ["kube-system"]}}))]
fn partial_settings_keep_sibling_defaults(#[case] json: Value) {
    let parsed = settings(json);
    let defaults = Settings::default();
    assert_eq!(parsed.limits, defaults.limits);
    assert_eq!(
        parsed.helm.max_stored_revisions,
        DEFAULT_MAX_STORED_REVISIONS
    );
    assert_eq!(parsed.on_lookup_failure, defaults.on_lookup_failure);
}

/// `matchExpressions` (spelt right) keeps a labelled prod namespace out of the override.
#[rstest]
#[case::excluded_prod_namespace("prod-ci", "prod", false)]
#[case::included_dev_namespace("dev-ci", "dev", true)]
fn selector_expressions_narrow_the_override(
    #[case] name: &str,
    #[case] env: &str,
    #[case] accepted: bool,
) {
    let settings = settings(json!({
        "namespaceOverrides": [{
            "namespaceSelector": {"matchLabels": {"team": "ci"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
            "limits": [{"apiVersion": "v1", "kind": "ConfigMap", "max": 5000}],
        }],
    }));
    let mut objects = many("ConfigMap", name, 1200);
    objects.push(namespace(name, json!({"team": "ci", "env": env})));
    let host = FakeHost::new(objects);
    let verdict = judge(
        &host,
        &request("CREATE", &object("ConfigMap", name, "new", json!({}))),
        &settings,
    );
    assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
}

#[test]
fn endpoints_refusal_names_the_resource() {
    let settings =
        settings(json!({"limits": [{"apiVersion": "v1", "kind": "Endpoints", "max": 1}]}));
    let host = FakeHost::new(many("Endpoints", "apps", 2));
    let verdict = judge(
        &host,
        &request("CREATE", &object("Endpoints", "apps", "new", json!({}))),
        &settings,
    );
    let message = verdict
        .into_response("object-count", "Endpoints apps/new")
        .message
        .unwrap_or_default();
    for needle in [
        "already holds 2 Endpoints,",
        "`kubectl get endpoints -n apps`",
    ] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
}

/// A custom resource nested as deep as Kubernetes allows (10,000 levels for
/// x-kubernetes-preserve-unknown-fields), of a kind not counted, on wasm32's
/// default 1 MiB stack: accepted, no overflow.
#[rstest]
#[case::depth_200(200)]
#[case::depth_10000(10_000)]
fn deep_uncounted_object_is_accepted(#[case] depth: usize) {
    let spec = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let payload = format!(
        r#"{{"request":{{"uid":"u","kind":{{"group":"example.com","version":"v1","kind":"Widget"}},"namespace":"apps","name":"w","operation":"CREATE","object":{{"apiVersion":"example.com/v1","kind":"Widget","metadata":{{"name":"w","namespace":"apps"}},"spec":{spec}}}}},"settings":{{}}}}"#
    );
    let accepted = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let host = FakeHost::new(vec![]);
            crate::policy::validate::<ObjectCount>(payload.as_bytes(), &host).accepted
        })
        .expect("thread")
        .join();
    assert_eq!(accepted.ok(), Some(true));
}

#[rstest]
#[case::listed(
    r#"{"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"cm-1"}}]}"#,
    "cm-1",
    true
)]
#[case::not_listed(r#"{"items":[{"metadata":{"name":"cm-10"}}]}"#, "cm-1", false)]
#[case::only_elsewhere(
    r#"{"metadata":{"name":"cm-1"},"items":[{"metadata":{"labels":{"x":"cm-1"},"name":"b"}}]}"#,
    "cm-1",
    false
)]
#[case::owner_of_the_same_name(
    r#"{"items":[{"metadata":{"name":"b","ownerReferences":[{"name":"cm-1"}]}}]}"#,
    "cm-1",
    false
)]
#[case::escaped_in_the_answer(r#"{"items":[{"metadata":{"name":"a\"b"}}]}"#, "a\"b", true)]
#[case::keys_in_any_order(r#"{"items":[{"kind":"ConfigMap","metadata":{"namespace":"x","name":"cm-1"}}],"kind":"ConfigMapList"}"#, "cm-1", true)]
#[case::empty_name(r#"{"items":[{"metadata":{"name":""}}]}"#, "", false)]
#[case::no_items(r#"{"kind":"ConfigMapList"}"#, "cm-1", false)]
#[case::items_not_objects(r#"{"items":[1,"cm-1"]}"#, "cm-1", false)]
#[case::not_json(r#"{"items":[{"metadata":{"name":"cm-1"}}"#, "cm-1", false)]
fn a_name_is_listed_only_as_an_items_name(
    #[case] body: &str,
    #[case] name: &str,
    #[case] listed: bool,
) {
    assert_eq!(lists_name(body.as_bytes(), name), listed);
}
