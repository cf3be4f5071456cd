use super::*;
use rstest::rstest;
use serde_json::{json, Value};

/// Serves get_resource and list_resources_by_namespace from `objects`, or
/// fails every lookup with `error`.
struct FakeHost {
    objects: Vec<Value>,
    error: Option<&'static str>,
    calls: std::cell::Cell<usize>,
}

fn host(objects: Vec<Value>) -> FakeHost {
    FakeHost {
        objects,
        error: None,
        calls: std::cell::Cell::new(0),
    }
}

impl Host for FakeHost {
    fn call(&self, _: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.calls.set(self.calls.get() + 1);
        if let Some(error) = self.error {
            return Err(error.to_string());
        }
        let request: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or("").to_string();
        let fits = |o: &&Value| {
            o["apiVersion"] == request["api_version"]
                && o["kind"] == request["kind"]
                && text(&o["metadata"], "namespace") == text(&request, "namespace")
        };
        match operation {
            "get_resource" => self
                .objects
                .iter()
                .filter(fits)
                .find(|o| o["metadata"]["name"] == request["name"])
                .map(|o| o.to_string().into_bytes())
                .ok_or_else(|| "not found".to_string()),
            _ => {
                let items: Vec<&Value> = self.objects.iter().filter(fits).collect();
                Ok(json!({ "items": items }).to_string().into_bytes())
            }
        }
    }
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn service(ns: &str, name: &str, selector: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": {"selector": selector}})
}

fn deployment(ns: &str, name: &str, replicas: Option<i64>, labels: Value) -> Value {
    let mut spec = json!({"template": {"metadata": {"labels": labels}}});
    if let Some(r) = replicas {
        spec["replicas"] = json!(r);
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

/// A healthy backend for Service `webhooks/guard`.
fn healthy_backend() -> Vec<Value> {
    vec![
        service("webhooks", "guard", json!({"app": "guard"})),
        deployment("webhooks", "guard", Some(2), json!({"app": "guard"})),
    ]
}

fn webhook(extra: Value) -> Value {
    let mut hook = json!({
        "name": "guard.example.com",
        "clientConfig": {"service": {"namespace": "webhooks", "name": "guard"}},
        "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}],
        "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease", "webhooks"]}]},
        "failurePolicy": "Fail",
        "timeoutSeconds": 5,
    });
    if let (Some(hook), Some(extra)) = (hook.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                hook.remove(k);
            } else {
                hook.insert(k.clone(), v.clone());
            }
        }
    }
    hook
}

fn configuration(kind: &str, hooks: Vec<Value>) -> Value {
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": "guard"}, "webhooks": hooks})
}

fn review_update(object: &Value, old: &Value) -> String {
    let mut review: Value = serde_json::from_str(&review("UPDATE", object)).expect("json");
    review["oldObject"] = old.clone();
    review.to_string()
}

/// The protected namespaces and Istio's, without labels.
fn unlabelled_namespaces() -> Vec<Value> {
    [
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "istio-system",
    ]
    .map(|n| namespace(n, json!({})))
    .to_vec()
}

#[rstest]
#[case::introduced(istio(json!({"matchLabels": {"istio-injection": "enabled"}})), istio(Value::Null), false, 0)]
#[case::kept_while_fixing_another(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null, "timeoutSeconds": 30}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null}))]),
    true,
    1
)]
#[case::worsened(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null, "timeoutSeconds": 30}))]),
    false,
    1
)]
#[case::kept_while_its_rules_shrink(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null, "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments", "statefulsets"]}]}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null}))]),
    true,
    1
)]
#[case::kept_while_its_selector_narrows(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "webhooks"]}]}}))]),
    true,
    1
)]
#[case::kept_when_an_earlier_webhook_goes(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"name": "first.example.com", "namespaceSelector": null})), webhook(json!({"namespaceSelector": null}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null}))]),
    true,
    1
)]
#[case::newly_reaches_a_namespace(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "webhooks"]}]}}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-public", "webhooks"]}]}}))]),
    false,
    0
)]
#[case::renamed_webhook_is_new(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"name": "renamed.example.com", "namespaceSelector": null}))]),
    false,
    0
)]
#[case::timeout_shortened_but_still_over(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"timeoutSeconds": 30}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"timeoutSeconds": 20}))]),
    true,
    1
)]
#[case::timeout_lengthened(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"timeoutSeconds": 20}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"timeoutSeconds": 30}))]),
    false,
    0
)]
#[case::other_resources_failing_closed(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"clientConfig": {"url": "https://guard.example.com/"}, "namespaceSelector": null, "failurePolicy": "Ignore", "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["secrets"]}]}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"clientConfig": {"url": "https://guard.example.com/"}, "namespaceSelector": null, "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]}))]),
    false,
    0
)]
#[case::same_resources_now_failing_closed(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"clientConfig": {"url": "https://guard.example.com/"}, "namespaceSelector": null, "failurePolicy": "Ignore"}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"clientConfig": {"url": "https://guard.example.com/"}, "namespaceSelector": null}))]),
    false,
    0
)]
#[case::every_resource_narrowed_to_one(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"clientConfig": {"url": "https://guard.example.com/"}, "namespaceSelector": null, "failurePolicy": "Ignore", "rules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*/*"]}]}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"clientConfig": {"url": "https://guard.example.com/"}, "namespaceSelector": null, "failurePolicy": "Ignore"}))]),
    true,
    1
)]
#[case::timeout_kept_while_leases_go(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"failurePolicy": "Ignore", "timeoutSeconds": 20, "rules": [{"apiGroups": ["coordination.k8s.io", ""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["leases", "configmaps"]}]}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"failurePolicy": "Ignore", "timeoutSeconds": 20, "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["configmaps"]}]}))]),
    true,
    1
)]
#[case::timeout_kept_while_leases_come(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"failurePolicy": "Ignore", "timeoutSeconds": 20, "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["configmaps"]}]}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"failurePolicy": "Ignore", "timeoutSeconds": 20, "rules": [{"apiGroups": ["coordination.k8s.io", ""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["leases", "configmaps"]}]}))]),
    false,
    0
)]
#[case::kubewarden_allowed_inside_introduced(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({})),
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true})),
    false,
    0
)]
#[case::kubewarden_allowed_inside_now_failing_closed(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true, "failurePolicy": "Ignore"})),
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true})),
    false,
    0
)]
#[case::kubewarden_allowed_inside_kept(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true})),
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true, "module": "registry://ghcr.io/example/pods:v2"})),
    true,
    1
)]
#[case::trailing_slash_is_the_resource(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases"]}], "timeoutSeconds": 2}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases/"]}], "timeoutSeconds": 2}))]),
    true,
    1
)]
#[case::lease_deletes_widened_to_renewals(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["DELETE"], "resources": ["leases"]}], "timeoutSeconds": 2}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["CREATE", "UPDATE", "DELETE"], "resources": ["leases"]}], "timeoutSeconds": 2}))]),
    false,
    0
)]
#[case::node_deletes_widened_to_status(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["DELETE"], "resources": ["nodes"]}]}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["UPDATE", "DELETE"], "resources": ["nodes", "nodes/status"]}]}))]),
    false,
    0
)]
#[case::node_subresources_narrowed_to_status(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["UPDATE"], "resources": ["nodes/*"]}]}))]),
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["UPDATE"], "resources": ["nodes/status"]}]}))]),
    true,
    1
)]
#[case::own_endpoints_widened_to_pod_creation(
    kubewarden_pods("AdmissionPolicy", Some("kubewarden"), json!({"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["endpoints"], "operations": ["UPDATE"]}]})),
    kubewarden_pods("AdmissionPolicy", Some("kubewarden"), json!({})),
    false,
    0
)]
#[case::own_pods_narrowed(
    kubewarden_pods("AdmissionPolicy", Some("kubewarden"), json!({"rules": [{"apiGroups": ["", "discovery.k8s.io"], "apiVersions": ["v1"], "resources": ["pods", "endpointslices"], "operations": ["CREATE"]}]})),
    kubewarden_pods("AdmissionPolicy", Some("kubewarden"), json!({})),
    true,
    1
)]
fn updates_are_refused_only_for_what_they_introduce(
    #[case] old: Value,
    #[case] new: Value,
    #[case] accepted: bool,
    #[case] warnings: usize,
) {
    let json = review_update(&new, &old);
    let namespaces = unlabelled_namespaces();
    let cluster = [istio_backend(2), healthy_backend(), namespaces].concat();
    let verdict =
        crate::policy::evaluate::<WebhookSafety>(&json, &Settings::default(), &host(cluster))
            .expect("decodes");
    assert_eq!(verdict.is_accepted(), accepted, "{verdict:#?}");
    assert_eq!(verdict.warnings.len(), warnings, "{verdict:#?}");
}

/// The old object's pass writes no message, only findings: an object
/// unchanged by an UPDATE keeps each violation as a warning, whatever check found it.
#[rstest]
#[case::protected_and_backend(istio(Value::Null), istio_backend(1), 3)]
#[case::wildcard(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["CREATE"], "resources": ["deployments", "statefulsets"]}], "namespaceSelector": {"matchLabels": {"team": "a"}}}))]),
    healthy_backend(),
    1
)]
#[case::protected_and_self_healing(lease_webhook(Value::Null), healthy_backend(), 2)]
#[case::timeout(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"timeoutSeconds": 30}))]),
    healthy_backend(),
    1
)]
#[case::own_pods(
    kubewarden_pods("AdmissionPolicy", Some("kubewarden"), json!({"rules": [{"apiGroups": ["", "discovery.k8s.io"], "apiVersions": ["v1"], "resources": ["pods", "endpointslices"], "operations": ["CREATE"]}]})),
    vec![],
    1
)]
fn unchanged_objects_keep_every_violation_as_a_warning(
    #[case] object: Value,
    #[case] backend: Vec<Value>,
    #[case] violations: usize,
) {
    let namespaces = unlabelled_namespaces();
    let cluster = host([backend, namespaces].concat());
    let created = judge_with(&object, &Settings::default(), &cluster, "CREATE");
    assert_eq!(created.violations.len(), violations, "{created:#?}");
    let json = review_update(&object, &object);
    let updated = crate::policy::evaluate::<WebhookSafety>(&json, &Settings::default(), &cluster)
        .expect("decodes");
    assert!(updated.is_accepted(), "{updated:#?}");
    assert_eq!(
        updated.warnings.len(),
        violations + created.warnings.len(),
        "{updated:#?}"
    );
    // The new pass's own warnings come first, then the violations kept.
    let kept = updated.warnings.iter().skip(created.warnings.len());
    for (warning, violation) in kept.zip(&created.violations) {
        let field = format!(
            "{} = {}: {}",
            violation.field, violation.value, violation.problem
        );
        let fix = format!("Fix: {}", violation.fix);
        assert!(warning.contains(&field), "{warning}\n{field}");
        assert!(warning.ends_with(&fix), "{warning}\n{fix}");
    }
}

fn review(operation: &str, object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    json!({
        "uid": "u", "operation": operation, "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"].as_str().unwrap_or(""),
        "kind": {"group": group, "version": version, "kind": object["kind"]},
        "object": if operation == "DELETE" { Value::Null } else { object.clone() },
    })
    .to_string()
}

fn judge_with(object: &Value, settings: &Settings, host: &FakeHost, operation: &str) -> Verdict {
    let json = review(operation, object);
    crate::policy::evaluate::<WebhookSafety>(&json, settings, host).expect("decodes")
}

fn judge(object: &Value, cluster: Vec<Value>) -> Verdict {
    judge_with(object, &Settings::default(), &host(cluster), "CREATE")
}

fn fields(verdict: &Verdict) -> Vec<&str> {
    verdict
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect()
}

fn istio(selector: Value) -> Value {
    let mut hook = json!({
        "name": "sidecar-injector.istio.io",
        "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system", "path": "/inject"}},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    });
    if !selector.is_null() {
        hook["namespaceSelector"] = selector;
    }
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": "istio-sidecar-injector"}, "webhooks": [hook]})
}

fn istio_backend(replicas: i64) -> Vec<Value> {
    vec![
        service("istio-system", "istiod", json!({"app": "istiod"})),
        deployment(
            "istio-system",
            "istiod",
            Some(replicas),
            json!({"app": "istiod", "istio": "pilot"}),
        ),
    ]
}

#[rstest]
#[case::istio_without_selector(istio(Value::Null), istio_backend(2), vec!["webhooks[0].namespaceSelector", "webhooks[0].namespaceSelector"])]
#[case::istio_opt_in(istio(json!({"matchLabels": {"istio-injection": "enabled"}})), istio_backend(2), vec![])]
#[case::istio_empty_selector(istio(json!({})), istio_backend(2), vec!["webhooks[0].namespaceSelector", "webhooks[0].namespaceSelector"])]
#[case::istio_single_replica(istio(json!({"matchLabels": {"istio-injection": "enabled"}})), istio_backend(1), vec!["webhooks[0].clientConfig.service"])]
#[case::istio_opt_in_but_kube_system_labelled(
    istio(json!({"matchLabels": {"istio-injection": "enabled"}})),
    [istio_backend(2), vec![namespace("kube-system", json!({"istio-injection": "enabled"}))]].concat(),
    vec!["webhooks[0].namespaceSelector"]
)]
#[case::safe_webhook(configuration("ValidatingWebhookConfiguration", vec![webhook(json!({}))]), healthy_backend(), vec![])]
#[case::endpoints_validator(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["CREATE", "UPDATE"], "resources": ["endpoints"]}], "namespaceSelector": null}))]),
    healthy_backend(),
    // Its own Service's Endpoints, too: replacement pods are never published.
    vec!["webhooks[0].namespaceSelector", "webhooks[0].failurePolicy", "webhooks[0].namespaceSelector"]
)]
#[case::own_endpointslices(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["discovery.k8s.io"], "operations": ["UPDATE"], "resources": ["endpointslices"]}], "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease"]}]}}))]),
    healthy_backend(),
    vec!["webhooks[0].namespaceSelector"]
)]
#[case::own_endpoints_left_out(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["", "discovery.k8s.io"], "operations": ["CREATE", "UPDATE"], "resources": ["endpoints", "endpointslices"]}]}))]),
    healthy_backend(),
    vec![]
)]
#[case::lease_deletes_only(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["DELETE"], "resources": ["leases"]}], "failurePolicy": "Ignore", "timeoutSeconds": 10}))]),
    healthy_backend(),
    vec![]
)]
#[case::endpoints_validator_ignore(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["CREATE", "UPDATE"], "resources": ["endpoints"]}], "failurePolicy": "Ignore"}))]),
    healthy_backend(),
    vec![]
)]
#[case::leases_anywhere(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases"]}], "timeoutSeconds": 2}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::leases_ignore_slow(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases"]}], "failurePolicy": "Ignore", "timeoutSeconds": 5}))]),
    healthy_backend(),
    vec!["webhooks[0].timeoutSeconds"]
)]
#[case::node_status(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["UPDATE"], "resources": ["nodes/status"]}]}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::scale_subresources_heal_nothing(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["UPDATE"], "resources": ["*/scale"]}], "timeoutSeconds": 2}))]),
    healthy_backend(),
    vec![]
)]
#[case::every_status_includes_nodes(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["UPDATE"], "resources": ["*/status"]}], "timeoutSeconds": 2}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::csr_approval(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["certificates.k8s.io"], "operations": ["UPDATE"], "resources": ["certificatesigningrequests/approval"]}]}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::every_subresource_of_nodes(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["UPDATE"], "resources": ["nodes/*"]}]}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::lease_subresource_only_is_not_a_lease(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases/proxy"]}], "timeoutSeconds": 5}))]),
    healthy_backend(),
    vec![]
)]
#[case::evictions_of_own_pods(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["CREATE"], "resources": ["pods/eviction"]}], "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease"]}]}}))]),
    healthy_backend(),
    vec![]
)]
#[case::binding_of_own_pods(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["CREATE"], "resources": ["pods/binding"]}], "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease"]}]}}))]),
    healthy_backend(),
    vec!["webhooks[0].namespaceSelector"]
)]
#[case::every_status_is_not_a_lease(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["UPDATE"], "resources": ["*/status"]}], "failurePolicy": "Ignore", "timeoutSeconds": 5}))]),
    healthy_backend(),
    vec![]
)]
#[case::every_binding_is_not_a_lease(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["*"], "resources": ["*/binding", "*/approval"]}]}))]),
    healthy_backend(),
    vec![]
)]
#[case::every_subresource_of_leases_includes_leases(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases/*"]}], "timeoutSeconds": 2}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::default_failure_policy_is_fail(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["*"], "resources": ["nodes"]}], "failurePolicy": null}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::timeout_too_long(configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"timeoutSeconds": 30}))]), healthy_backend(), vec!["webhooks[0].timeoutSeconds"])]
#[case::default_timeout_fits(configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"timeoutSeconds": null}))]), healthy_backend(), vec![])]
#[case::wildcard_skipping_by_labels(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["CREATE"], "resources": ["deployments", "statefulsets"]}], "namespaceSelector": {"matchLabels": {"team": "a"}}}))]),
    healthy_backend(),
    vec!["webhooks[0].rules[0]"]
)]
#[case::wildcard_ignore(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["CREATE"], "resources": ["deployments", "statefulsets"]}], "namespaceSelector": {"matchLabels": {"team": "a"}}, "failurePolicy": "Ignore"}))]),
    healthy_backend(),
    vec![]
)]
#[case::wildcard_everything_with_exclusion_still_covers_leases(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["*"], "resources": ["*/*"]}], "timeoutSeconds": 3}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::wildcard_explicit(configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["CREATE"], "resources": ["deployments"], "scope": "Namespaced"}]}))]), healthy_backend(), vec![])]
#[case::own_pods(
    configuration("MutatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["CREATE"], "resources": ["pods"]}], "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease"]}]}}))]),
    healthy_backend(),
    vec!["webhooks[0].namespaceSelector"]
)]
#[case::match_conditions_skip(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"namespaceSelector": null, "matchConditions": [{"name": "skip-system", "expression": "!(request.namespace in ['kube-system', 'kube-public', 'kube-node-lease'])"}, {"name": "skip-own", "expression": "request.namespace != 'webhooks'"}]}))]),
    healthy_backend(),
    vec![]
)]
#[case::cluster_scoped_only(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "operations": ["CREATE"], "resources": ["clusterroles"]}], "namespaceSelector": null}))]),
    healthy_backend(),
    vec![]
)]
#[case::second_webhook_reported(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({})), webhook(json!({"name": "slow", "timeoutSeconds": 20}))]),
    healthy_backend(),
    vec!["webhooks[1].timeoutSeconds"]
)]
#[case::cluster_admission_policy_pods(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicy", "metadata": {"name": "pod-privileged"},
           "spec": {"module": "registry://ghcr.io/kubewarden/policies/pod-privileged:v1.0.0", "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE", "UPDATE"]}], "failurePolicy": "Fail", "mutating": false}}),
    vec![],
    vec!["spec.namespaceSelector"]
)]
#[case::cluster_admission_policy_group_excluding(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicyGroup", "metadata": {"name": "pods"},
           "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}], "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease"]}]}}}),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_match_labels_left_out(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicy", "metadata": {"name": "inject"},
           "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}], "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}, "mutating": true}}),
    vec![],
    vec!["spec.namespaceSelector"]
)]
#[case::cluster_admission_policy_match_labels_kept_inside(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicy", "metadata": {"name": "inject"},
           "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}], "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}, "allowInsideAdmissionControllerNamespace": true, "mutating": true}}),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_match_labels_as_expression(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicy", "metadata": {"name": "inject"},
           "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}], "namespaceSelector": {"matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]}, "mutating": true}}),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_group_match_labels_and_exclusion(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicyGroup", "metadata": {"name": "pods"},
           "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}], "namespaceSelector": {"matchLabels": {"team": "a"}, "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease"]}]}}}),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_group_match_labels_left_out(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicyGroup", "metadata": {"name": "pods"},
           "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}], "namespaceSelector": {"matchLabels": {"team": "a"}}}}),
    vec![],
    vec!["spec.namespaceSelector"]
)]
#[case::webhook_configuration_keeps_match_labels(
    configuration("MutatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["CREATE"], "resources": ["pods"]}], "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}, "failurePolicy": "Ignore"}))]),
    healthy_backend(),
    vec![]
)]
#[case::admission_policy_elsewhere(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "AdmissionPolicy", "metadata": {"name": "p", "namespace": "apps"},
           "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}]}}),
    vec![],
    vec![]
)]
#[case::admission_policy_in_kube_system(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "AdmissionPolicy", "metadata": {"name": "p", "namespace": "kube-system"},
           "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}]}}),
    vec![],
    vec!["metadata.namespace"]
)]
#[case::kubewarden_policy_on_leases(
    json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "AdmissionPolicyGroup", "metadata": {"name": "p", "namespace": "apps"},
           "spec": {"rules": [{"apiGroups": ["coordination.k8s.io"], "apiVersions": ["v1"], "resources": ["leases"], "operations": ["UPDATE"]}], "timeoutSeconds": 2}}),
    vec![],
    vec!["spec.failurePolicy"]
)]
#[case::cluster_admission_policy_allowed_inside_own_pods(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true})),
    vec![],
    vec!["spec.allowInsideAdmissionControllerNamespace"]
)]
#[case::cluster_admission_policy_kept_out_by_the_controller(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({})),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_allowed_inside_fails_open(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true, "failurePolicy": "Ignore"})),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_allowed_inside_excluding_kubewarden(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true,
        "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease", "kubewarden"]}]}})),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_allowed_inside_opt_in_by_labels(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true,
        "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}})),
    vec![namespace("kubewarden", json!({"kubernetes.io/metadata.name": "kubewarden"}))],
    vec![]
)]
#[case::cluster_admission_policy_allowed_inside_labelled_kubewarden(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true,
        "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}})),
    vec![namespace("kubewarden", json!({"kubernetes.io/metadata.name": "kubewarden", "istio-injection": "enabled"}))],
    vec!["spec.allowInsideAdmissionControllerNamespace"]
)]
#[case::cluster_admission_policy_group_allowed_inside_binding(
    kubewarden_pods("ClusterAdmissionPolicyGroup", None, json!({"allowInsideAdmissionControllerNamespace": true,
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/binding"], "operations": ["CREATE"]}]})),
    vec![],
    vec!["spec.allowInsideAdmissionControllerNamespace"]
)]
#[case::cluster_admission_policy_allowed_inside_evictions(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true,
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/eviction"], "operations": ["CREATE"]}]})),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_allowed_inside_in_monitor_mode(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true, "mode": "monitor"})),
    vec![],
    vec!["spec.allowInsideAdmissionControllerNamespace"]
)]
#[case::cluster_admission_policy_allowed_inside_skipping_kubewarden_by_condition(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true,
        "matchConditions": [{"name": "not-kubewarden", "expression": "request.namespace != 'kubewarden'"}]})),
    vec![],
    vec![]
)]
#[case::cluster_admission_policy_allowed_inside_without_selector(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true, "namespaceSelector": null})),
    vec![],
    vec!["spec.namespaceSelector", "spec.allowInsideAdmissionControllerNamespace"]
)]
#[case::admission_policy_in_kubewarden(
    kubewarden_pods("AdmissionPolicy", Some("kubewarden"), json!({})),
    vec![],
    vec!["metadata.namespace"]
)]
#[case::admission_policy_group_in_kubewarden_fails_open(
    kubewarden_pods("AdmissionPolicyGroup", Some("kubewarden"), json!({"failurePolicy": "Ignore"})),
    vec![],
    vec![]
)]
#[case::trailing_slash_lease(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases/"]}], "timeoutSeconds": 2}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::trailing_slash_wildcard(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["*"], "operations": ["*"], "resources": ["*/"]}], "timeoutSeconds": 2}))]),
    healthy_backend(),
    vec!["webhooks[0].failurePolicy"]
)]
#[case::trailing_slash_own_pods(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true,
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/"], "operations": ["CREATE"]}]})),
    vec![],
    vec!["spec.allowInsideAdmissionControllerNamespace"]
)]
#[case::slash_alone_is_nothing(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["/", "leases//"]}], "timeoutSeconds": 2}))]),
    healthy_backend(),
    vec![]
)]
#[case::other_kind(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps"}, "webhooks": 7}), vec![], vec![])]
#[case::no_webhooks(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "empty"}, "webhooks": null}), vec![], vec![])]
fn judges(#[case] object: Value, #[case] cluster: Vec<Value>, #[case] expected: Vec<&str>) {
    let verdict = judge(&object, cluster);
    assert_eq!(fields(&verdict), expected, "{verdict:#?}");
}

/// A Kubewarden policy on pod creation that skips the protected namespaces;
/// `spec` entries are merged over it.
fn kubewarden_pods(kind: &str, namespace: Option<&str>, spec: Value) -> Value {
    let mut policy = json!({"apiVersion": "policies.kubewarden.io/v1", "kind": kind, "metadata": {"name": "pods"},
        "spec": {"module": "registry://ghcr.io/example/pods:v1", "mutating": true,
                 "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}]}});
    if let Some(namespace) = namespace {
        policy["metadata"]["namespace"] = json!(namespace);
    } else {
        policy["spec"]["namespaceSelector"] = json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease"]}]});
    }
    for (key, value) in spec.as_object().into_iter().flatten() {
        policy["spec"][key] = value.clone();
    }
    policy
}

fn lease_webhook(selector: Value) -> Value {
    configuration(
        "ValidatingWebhookConfiguration",
        vec![webhook(
            json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases"]}], "timeoutSeconds": 2, "namespaceSelector": selector}),
        )],
    )
}

#[rstest]
#[case::one_namespace(
    lease_webhook(json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["apps"]}]})),
    &["leases.coordination.k8s.io (in the namespaces it reaches, not kube-system or kube-node-lease)", "the controllers that keep leader-election leases"],
    &["kube-controller-manager", "NotReady", "every namespace"]
)]
#[case::every_namespace(
    lease_webhook(Value::Null),
    &["leases.coordination.k8s.io (in every namespace)", "kube-controller-manager cannot renew", "nodes stop reporting and go NotReady, and nothing recreates the webhook's pods: a deadlock."],
    &["the controllers that keep"]
)]
#[case::kube_system_among_them(
    lease_webhook(json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-node-lease", "webhooks"]}]})),
    &["(in the namespaces it reaches, kube-system among them)", "loses leadership, and nothing recreates the webhook's pods"],
    &["NotReady"]
)]
#[case::every_namespace_but_by_condition(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": ["coordination.k8s.io"], "operations": ["UPDATE"], "resources": ["leases"]}], "timeoutSeconds": 2, "namespaceSelector": null,
        "matchConditions": [{"name": "skip", "expression": "request.namespace != 'kube-system'"}]}))]),
    &["(in the namespaces it reaches, kube-node-lease among them)", "nodes stop reporting and go NotReady, and their pods, the webhook's among them, are evicted"],
    &["kube-controller-manager"]
)]
#[case::node_status(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["UPDATE"], "resources": ["nodes/status"]}]}))]),
    &["nodes (cluster-scoped)", "nodes stop reporting"],
    &["kube-controller-manager"]
)]
#[case::endpoints_in_kube_system(
    configuration("ValidatingWebhookConfiguration", vec![webhook(json!({"rules": [{"apiGroups": [""], "operations": ["UPDATE"], "resources": ["endpoints"]}], "namespaceSelector": null}))]),
    &["endpoints in kube-system", "kube-controller-manager cannot renew"],
    &["NotReady"]
)]
fn self_healing_consequences_follow_what_is_reached(
    #[case] object: Value,
    #[case] present: &[&str],
    #[case] absent: &[&str],
) {
    let verdict = judge(&object, healthy_backend());
    let problem = verdict
        .violations
        .iter()
        .find(|v| v.field == "webhooks[0].failurePolicy")
        .map(|v| v.problem.as_str())
        .unwrap_or_default();
    for text in present {
        assert!(problem.contains(text), "{text} not in {problem}");
    }
    for text in absent {
        assert!(!problem.contains(text), "{text} in {problem}");
    }
}

#[rstest]
#[case::cluster_wide_left_out_by_the_controller(kubewarden_pods("ClusterAdmissionPolicy", None, json!({})), vec![])]
#[case::cluster_wide_group_left_out_by_the_controller(kubewarden_pods("ClusterAdmissionPolicyGroup", None, json!({})), vec![])]
#[case::cluster_wide_allowed_inside(
    kubewarden_pods("ClusterAdmissionPolicy", None, json!({"allowInsideAdmissionControllerNamespace": true, "failurePolicy": "Ignore"})),
    vec!["spec.namespaceSelector"]
)]
#[case::namespaced_in_kubewarden(
    kubewarden_pods("AdmissionPolicy", Some("kubewarden"), json!({"failurePolicy": "Ignore"})),
    vec!["metadata.namespace"]
)]
#[case::webhook_configuration(
    configuration("MutatingWebhookConfiguration", vec![webhook(json!({"failurePolicy": "Ignore"}))]),
    vec!["webhooks[0].namespaceSelector"]
)]
fn kubewarden_namespace_protected(#[case] object: Value, #[case] expected: Vec<&str>) {
    let settings = Settings {
        protected_namespaces: ["kube-system", "kubewarden"].map(String::from).to_vec(),
        ..Settings::default()
    };
    let verdict = judge_with(&object, &settings, &host(healthy_backend()), "CREATE");
    assert_eq!(fields(&verdict), expected, "{verdict:#?}");
}

#[test]
fn kubewarden_policy_inside_its_own_namespace_is_explained() {
    let object = kubewarden_pods(
        "ClusterAdmissionPolicy",
        None,
        json!({"allowInsideAdmissionControllerNamespace": true, "policyServer": "reserved"}),
    );
    let verdict = judge(&object, vec![]);
    let [violation] = verdict.violations.as_slice() else {
        panic!("{verdict:#?}");
    };
    assert_eq!(violation.value, "true");
    assert_eq!(
        violation.problem,
        "the webhook of ClusterAdmissionPolicy pods is served by PolicyServer reserved, whose pods run in kubewarden \
         (Kubewarden's namespace, per the kubewardenNamespace setting), and intercepts pod creation in kubewarden with \
         failurePolicy Fail (the default) \
         (its namespaceSelector matches kubewarden if, as assumed without a lookup, it carries only \
         kubernetes.io/metadata.name=kubewarden); allowInsideAdmissionControllerNamespace: true keeps the Kubewarden \
         controller from leaving that namespace out of its webhook: once its pods are gone (evicted, rescheduled, crashed) \
         the API server refuses their replacements, because creating them needs this very webhook, so it can never come \
         back. Until then every policy it serves with failurePolicy Fail refuses what it guards."
    );
    assert_eq!(
        violation.fix,
        "remove `spec.allowInsideAdmissionControllerNamespace: true` (the controller then leaves kubewarden out), \
         or set `spec.namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, \
         values: [kube-system, kube-public, kube-node-lease, kubewarden]}]}` \
         (kubernetes.io/metadata.name is set by the API server on every namespace and cannot be changed)."
    );
}

#[rstest]
#[case::no_selector(
    json!({"namespaceSelector": null}),
    "remove `spec.allowInsideAdmissionControllerNamespace: true` (the controller then leaves kubewarden out), or ",
    "{matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, kube-public, kube-node-lease, kubewarden]}]}"
)]
#[case::match_labels_are_kept_only_inside(
    json!({"namespaceSelector": {"matchLabels": {"tier": "platform"}}}),
    "",
    "{matchLabels: {tier: platform}, matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kubewarden]}]}"
)]
fn kubewarden_policy_inside_fixes(
    #[case] spec: Value,
    #[case] removal: &str,
    #[case] selector: &str,
) {
    let mut spec = spec;
    spec["allowInsideAdmissionControllerNamespace"] = json!(true);
    spec["policyServer"] = json!("");
    let object = kubewarden_pods("ClusterAdmissionPolicy", None, spec);
    let cluster = vec![namespace(
        "kubewarden",
        json!({"kubernetes.io/metadata.name": "kubewarden", "tier": "platform"}),
    )];
    let verdict = judge(&object, cluster);
    let own = verdict
        .violations
        .iter()
        .find(|v| v.field == "spec.allowInsideAdmissionControllerNamespace")
        .unwrap_or_else(|| panic!("{verdict:#?}"));
    assert!(
        own.problem.contains("served by PolicyServer default,"),
        "{own:#?}"
    );
    let set = ["set `spec.namespaceSelector: ", selector, "`"].concat();
    assert!(own.fix.starts_with(&[removal, &set].concat()), "{own:#?}");
    // One snippet fixes every violation of the webhook.
    assert!(
        verdict.violations.iter().all(|v| v.fix.contains(&set)),
        "{verdict:#?}"
    );
}

#[test]
fn kubewarden_namespace_lookup_failure_follows_on_lookup_failure() {
    let object = kubewarden_pods(
        "ClusterAdmissionPolicy",
        None,
        json!({"allowInsideAdmissionControllerNamespace": true,
               "namespaceSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["system"]}]}}),
    );
    let failing = FakeHost {
        error: Some("connection refused"),
        ..host(vec![])
    };
    let settings = Settings {
        protected_namespaces: vec![],
        on_lookup_failure: OnLookupFailure::Deny,
        ..Settings::default()
    };
    let verdict = judge_with(&object, &settings, &failing, "CREATE");
    assert_eq!(
        fields(&verdict),
        vec!["spec.allowInsideAdmissionControllerNamespace", "lookup"],
        "{verdict:#?}"
    );
}

#[rstest]
#[case::default_namespace("kubewarden", "kubewarden", false)]
#[case::moved_namespace("kubewarden", "kw-system", true)]
#[case::policy_in_the_moved_namespace("kw-system", "kw-system", false)]
fn kubewarden_namespace_follows_settings(
    #[case] policy_namespace: &str,
    #[case] kubewarden_namespace: &str,
    #[case] accepted: bool,
) {
    let object = kubewarden_pods("AdmissionPolicy", Some(policy_namespace), json!({}));
    let settings = Settings {
        kubewarden_namespace: kubewarden_namespace.to_string(),
        ..Settings::default()
    };
    let verdict = judge_with(&object, &settings, &host(vec![]), "CREATE");
    assert_eq!(verdict.is_accepted(), accepted, "{verdict:#?}");
}

#[test]
fn match_labels_left_out_are_explained_and_kept_in_the_fix() {
    let object = json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicy", "metadata": {"name": "inject"},
        "spec": {"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}],
                 "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}, "mutating": true}});
    let verdict = judge(&object, vec![]);
    let [violation] = verdict.violations.as_slice() else {
        panic!("{verdict:#?}");
    };
    assert_eq!(violation.value, "{matchLabels: {istio-injection: enabled}}");
    for part in [
        "without its matchLabels, its namespaceSelector matches every namespace",
        "its matchLabels {istio-injection: enabled} narrow nothing",
        "copies only the matchExpressions",
    ] {
        assert!(violation.problem.contains(part), "{part}: {violation:#?}");
    }
    assert_eq!(
        violation.fix,
        "set `spec.namespaceSelector: {matchExpressions: [{key: istio-injection, operator: In, values: [enabled]}, \
         {key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, kube-public, kube-node-lease]}]}` \
         (kubernetes.io/metadata.name is set by the API server on every namespace and cannot be changed)."
    );
}

#[rstest]
#[case::default_labels(vec![], false)]
#[case::legacy_name_label(vec![namespace("kube-system", json!({"kubernetes.io/metadata.name": "kube-system", "name": "kube-system"}))], true)]
fn talk_endpoints_fix_needs_the_real_labels(#[case] cluster: Vec<Value>, #[case] accepted: bool) {
    let object = configuration(
        "ValidatingWebhookConfiguration",
        vec![webhook(json!({
            "rules": [{"apiGroups": [""], "operations": ["CREATE", "UPDATE"], "resources": ["endpoints"]}],
            // Its own namespace left out by name: its Endpoints never wait on it.
            "namespaceSelector": {"matchExpressions": [
                {"key": "name", "operator": "NotIn", "values": ["kube-system"]},
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["webhooks"]},
            ]},
        }))],
    );
    let settings = Settings {
        protected_namespaces: vec!["kube-system".into()],
        self_healing_resources: vec![SelfHealingResource::new("", "endpoints", &["kube-system"])],
        ..Settings::default()
    };
    let cluster = [cluster, healthy_backend()].concat();
    let fake = host(cluster);
    let verdict = judge_with(&object, &settings, &fake, "CREATE");
    assert_eq!(verdict.is_accepted(), accepted, "{verdict:#?}");
    // The default-labels case fails its Namespace lookup, and says so.
    assert_eq!(
        verdict.warnings.len(),
        usize::from(!accepted),
        "{verdict:#?}"
    );
}

#[rstest]
#[case::two_replicas(Some(2), None, true)]
#[case::one_replica(Some(1), None, false)]
#[case::replicas_defaulted_to_one(None, None, false)]
#[case::split_over_two_workloads(Some(1), Some(1), true)]
fn backend_replicas(
    #[case] first: Option<i64>,
    #[case] second: Option<i64>,
    #[case] accepted: bool,
) {
    let mut cluster = vec![
        service("webhooks", "guard", json!({"app": "guard"})),
        deployment(
            "webhooks",
            "guard",
            first,
            json!({"app": "guard", "version": "1"}),
        ),
        deployment("webhooks", "unrelated", Some(1), json!({"app": "other"})),
    ];
    if let Some(replicas) = second {
        cluster.push(deployment(
            "webhooks",
            "guard-canary",
            Some(replicas),
            json!({"app": "guard"}),
        ));
    }
    let object = configuration("ValidatingWebhookConfiguration", vec![webhook(json!({}))]);
    let verdict = judge(&object, cluster);
    assert_eq!(verdict.is_accepted(), accepted, "{verdict:#?}");
}

#[rstest]
#[case::allow(OnLookupFailure::Allow, true, 1)]
#[case::deny(OnLookupFailure::Deny, false, 0)]
fn lookup_failures(
    #[case] on_failure: OnLookupFailure,
    #[case] accepted: bool,
    #[case] warnings: usize,
) {
    let object = configuration(
        "ValidatingWebhookConfiguration",
        vec![webhook(json!({})), webhook(json!({"name": "second"}))],
    );
    let settings = Settings {
        on_lookup_failure: on_failure,
        ..Settings::default()
    };
    let fake = FakeHost {
        error: Some("connection refused"),
        ..host(vec![])
    };
    let verdict = judge_with(&object, &settings, &fake, "CREATE");
    assert_eq!(verdict.is_accepted(), accepted, "{verdict:#?}");
    assert_eq!(verdict.warnings.len(), warnings, "{verdict:#?}");
    // One Service lookup, shared by both webhooks; no Namespace lookup, as
    // the selector reads only the name label.
    assert_eq!(fake.calls.get(), 1);
}

#[rstest]
#[case::backend_check_off(Settings { check_backend_replicas: false, ..Settings::default() }, 0)]
#[case::no_namespace_lookups(Settings { lookup_namespace_labels: false, check_backend_replicas: false, ..Settings::default() }, 0)]
#[case::defaults(Settings::default(), 3)]
fn lookups_follow_settings(#[case] settings: Settings, #[case] calls: usize) {
    let object = istio(json!({"matchLabels": {"istio-injection": "enabled"}}));
    let fake = host(
        [
            istio_backend(2),
            vec![
                namespace("kube-system", json!({})),
                namespace("kube-public", json!({})),
                namespace("kube-node-lease", json!({})),
                namespace("istio-system", json!({})),
            ],
        ]
        .concat(),
    );
    let verdict = judge_with(&object, &settings, &fake, "CREATE");
    assert!(verdict.is_accepted(), "{verdict:#?}");
    // Namespace lookups: 3 protected + istio-system, unless switched off; backend: 1 get + 2 lists.
    let namespace_calls = if settings.lookup_namespace_labels {
        4
    } else {
        0
    };
    assert_eq!(fake.calls.get(), namespace_calls + calls);
}

#[rstest]
#[case::delete("DELETE")]
#[case::connect("CONNECT")]
fn other_operations_accepted(#[case] operation: &str) {
    let verdict = judge_with(
        &istio(Value::Null),
        &Settings::default(),
        &host(vec![]),
        operation,
    );
    assert!(verdict.is_accepted());
}

#[test]
fn message_names_webhook_problem_and_fix() {
    let verdict = judge(&istio(Value::Null), istio_backend(2));
    let response = verdict.into_response(
        "webhook-safety",
        "MutatingWebhookConfiguration istio-sidecar-injector",
    );
    let message = response.message.unwrap_or_default();
    for needle in [
        "MutatingWebhookConfiguration istio-sidecar-injector",
        "webhook sidecar-injector.istio.io (webhooks[0])",
        "webhooks[0].namespaceSelector = (none)",
        "protected namespaces kube-system, kube-public, kube-node-lease",
        "Envoy",
        "intercepts pod creation in istio-system",
        // One snippet fixes both violations.
        "Fix: set `webhooks[0].namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, kube-public, kube-node-lease, istio-system]}]}`",
    ] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
}

#[rstest]
#[case::not_equal("request.namespace != 'kube-system'", vec!["kube-system"])]
#[case::reversed("\"kube-system\" != request.namespace", vec!["kube-system"])]
#[case::negated_in("!(request.namespace in [\"a\", 'b'])", vec!["a", "b"])]
#[case::negated_equal("!(request.namespace == 'a')", vec!["a"])]
#[case::conjunction("request.namespace != 'a' && object.metadata.name != 'x' && (request.namespace != 'b')", vec!["a", "b"])]
#[case::disjunction("request.namespace != 'a' || true", vec![])]
#[case::equality("request.namespace == 'a'", vec![])]
#[case::other("object.metadata.labels.skip != 'true'", vec![])]
#[case::malformed("!(request.namespace in ['a', b])", vec![])]
#[case::conditional_binds_loosest("request.namespace != 'a' && true ? true : true", vec![])]
#[case::escaped_quote_hides_disjunction(r#"request.namespace != "a" && "\"" != "" || true"#, vec![])]
#[case::triple_quoted("request.namespace != 'a' && '''x' || true''' != ''", vec![])]
#[case::comment_hides_the_rest("request.namespace != 'a'\n// && request.namespace != 'kube-system'", vec![])]
#[case::optional_field_is_no_conditional("request.namespace != 'a' && object.?metadata.?labels.orValue({}) != {}", vec!["a"])]
#[case::disjunction_in_parentheses("(request.namespace != 'a' || true) && request.namespace != 'b'", vec!["b"])]
#[case::over_lines("request.namespace != 'a'\n  && request.namespace != 'b'", vec!["a", "b"])]
#[case::conditional_inside_brackets("request.namespace != 'a' && [true ? 1 : 2][0] == 1", vec!["a"])]
#[case::question_mark_in_string_is_text("request.namespace != 'a' && object.metadata.name != '?'", vec!["a"])]
#[case::space_in_a_literal_is_its_value("!(request.namespace in [\"kube-system \", ' a'])", vec!["kube-system ", " a"])]
#[case::space_in_a_literal_non_ascii("request.namespace != 'kube-system ' && object.metadata.name != 'é'", vec!["kube-system "])]
#[case::conjuncts_in_a_map_are_nested("{'k': request.namespace != 'a' && false}.size() == 1", vec![])]
fn match_conditions(#[case] expression: &str, #[case] expected: Vec<&str>) {
    assert_eq!(skipped_namespaces(expression), expected);
}

#[rstest]
#[case::timeout_zero(r#"{"maxTimeoutSeconds": 0}"#, "maxTimeoutSeconds")]
#[case::timeout_above_api_server(
    r#"{"maxTimeoutSeconds": 31}"#,
    "maxTimeoutSeconds: must be between 1 and 30"
)]
#[case::lease_timeout_above_max(
    r#"{"maxTimeoutSeconds": 5, "leaseMaxTimeoutSeconds": 6}"#,
    "leaseMaxTimeoutSeconds"
)]
#[case::zero_replicas(r#"{"minBackendReplicas": 0}"#, "minBackendReplicas")]
#[case::empty_protected(
    r#"{"protectedNamespaces": ["kube-system", ""]}"#,
    "protectedNamespaces[1]"
)]
#[case::wildcard_resource(
    r#"{"selfHealingResources": [{"resource": "*"}]}"#,
    "selfHealingResources[0].resource"
)]
#[case::missing_resource(
    r#"{"selfHealingResources": [{"apiGroup": "x"}]}"#,
    "selfHealingResources[0]: missing field `resource`"
)]
#[case::bad_lookup_failure(r#"{"onLookupFailure": "maybe"}"#, "onLookupFailure")]
#[case::unknown_key(r#"{"protectedNamespace": []}"#, "unknown field `protectedNamespace`")]
#[case::kubewarden_namespace_not_a_name(
    r#"{"kubewardenNamespace": "Kubewarden"}"#,
    "kubewardenNamespace: `Kubewarden` is not a namespace name"
)]
#[case::kubewarden_namespace_empty(r#"{"kubewardenNamespace": ""}"#, "kubewardenNamespace")]
#[case::bad_exemption(
    r#"{"exemptions": {"serviceAccounts": ["x"]}}"#,
    "exemptions.serviceAccounts[0]"
)]
#[case::kind_as_resource(
    r#"{"selfHealingResources": [{"apiGroup": "coordination.k8s.io", "resource": "Lease"}]}"#,
    "selfHealingResources[0].resource: `Lease` is not a resource name: use the lowercase plural resource, e.g. `leases`, not the kind `Lease`"
)]
#[case::resource_with_space(
    r#"{"selfHealingResources": [{"resource": " leases"}]}"#,
    "selfHealingResources[0].resource"
)]
#[case::subresource(
    r#"{"selfHealingResources": [{"resource": "nodes/status"}]}"#,
    "not `nodes/status`"
)]
#[case::group_with_version(
    r#"{"selfHealingResources": [{"apiGroup": "coordination.k8s.io/v1", "resource": "leases"}]}"#,
    "selfHealingResources[0].apiGroup: `coordination.k8s.io/v1` is not an API group: name the group without a version"
)]
#[case::wildcard_group(
    r#"{"selfHealingResources": [{"apiGroup": "*", "resource": "leases"}]}"#,
    "selfHealingResources[0].apiGroup"
)]
#[case::namespace_wildcard(
    r#"{"selfHealingResources": [{"resource": "configmaps", "namespaces": ["*"]}]}"#,
    "selfHealingResources[0].namespaces[0]: `*` is not a namespace name"
)]
#[case::lease_in_the_core_group(
    r#"{"selfHealingResources": [{"resource": "leases"}]}"#,
    "selfHealingResources[0].apiGroup: the leases the control plane writes are in `coordination.k8s.io`, not `\"\"`, so this entry would protect nothing (and it replaces the defaults): set `apiGroup: coordination.k8s.io`"
)]
#[case::endpointslices_in_the_core_group(
    r#"{"selfHealingResources": [{"resource": "endpointslices", "namespaces": ["kube-system"]}]}"#,
    "set `apiGroup: discovery.k8s.io`"
)]
#[case::csrs_in_the_core_group(
    r#"{"selfHealingResources": [{"resource": "certificatesigningrequests"}]}"#,
    "set `apiGroup: certificates.k8s.io`"
)]
#[case::nodes_in_a_group(
    r#"{"selfHealingResources": [{"apiGroup": "apps", "resource": "nodes"}]}"#,
    "selfHealingResources[0].apiGroup: the nodes the control plane writes are in `\"\"`, not `apps`"
)]
#[case::configmaps_in_a_group(
    r#"{"selfHealingResources": [{"apiGroup": "coordination.k8s.io", "resource": "configmaps"}]}"#,
    "set `apiGroup: \"\"`"
)]
#[case::protected_capitalised(
    r#"{"protectedNamespaces": ["Kube-System"]}"#,
    "protectedNamespaces[0]: `Kube-System` is not a namespace name"
)]
#[case::protected_wildcard(r#"{"protectedNamespaces": ["*"]}"#, "protectedNamespaces[0]")]
fn refuses_invalid_settings(#[case] json: &str, #[case] expected: &str) {
    let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
    let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
    assert!(error.to_string().contains(expected), "{error}");
}

#[test]
fn defaults_are_valid() {
    assert_eq!(Settings::default().validate(), Ok(()));
}

#[rstest]
#[case::core_resource(
    r#"{"selfHealingResources": [{"resource": "configmaps", "namespaces": ["kube-system"]}]}"#
)]
#[case::grouped_resource(
    r#"{"selfHealingResources": [{"apiGroup": "coordination.k8s.io", "resource": "leases"}]}"#
)]
#[case::custom_group_leases(
    r#"{"selfHealingResources": [{"apiGroup": "example.com", "resource": "leases"}]}"#
)]
#[case::other_core_resource(
    r#"{"selfHealingResources": [{"resource": "secrets", "namespaces": ["kube-system"]}]}"#
)]
#[case::max_timeout_below_lease_default(r#"{"maxTimeoutSeconds": 2}"#)]
fn accepts_valid_settings(#[case] json: &str) {
    let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
    crate::settings::parse::<Settings>(Some(&raw)).expect("valid");
}

#[rstest]
#[case::defaults(10, None, 3)]
#[case::max_below_default(2, None, 2)]
#[case::set(10, Some(5), 5)]
fn lease_limit(#[case] max: u32, #[case] lease: Option<u32>, #[case] expected: u32) {
    let settings = Settings {
        max_timeout_seconds: max,
        lease_max_timeout_seconds: lease,
        ..Settings::default()
    };
    assert_eq!(settings.lease_limit(), expected);
}

fn rules(value: Value) -> Vec<webhooks::RuleSpec<'static>> {
    let text: &'static str = Box::leak(value.to_string().into_boxed_str());
    serde_json::from_str(text).expect("rules")
}

#[rstest]
#[case::same(json!([{"apiGroups": ["g"], "resources": ["a", "b"], "operations": ["CREATE"]}]), json!([{"apiGroups": ["g"], "resources": ["a", "b"], "operations": ["CREATE"]}]), true)]
#[case::union_of_old_rules(json!([{"apiGroups": ["g"], "resources": ["a", "b"], "operations": ["CREATE"]}]), json!([{"apiGroups": ["g"], "resources": ["a"], "operations": ["CREATE"]}, {"apiGroups": ["g"], "resources": ["b"], "operations": ["*"]}]), true)]
#[case::new_operation(json!([{"apiGroups": ["g"], "resources": ["a"], "operations": ["CREATE", "DELETE"]}]), json!([{"apiGroups": ["g"], "resources": ["a"], "operations": ["CREATE"]}]), false)]
#[case::new_group(json!([{"apiGroups": ["g", "h"], "resources": ["a"], "operations": ["CREATE"]}]), json!([{"apiGroups": ["g"], "resources": ["a"], "operations": ["CREATE"]}]), false)]
#[case::within_wildcards(json!([{"apiGroups": ["g"], "resources": ["a/status"], "operations": ["UPDATE"]}]), json!([{"apiGroups": ["*"], "resources": ["*/*"], "operations": ["*"]}]), true)]
#[case::cluster_scoped_entry_left_out(json!([{"apiGroups": [""], "resources": ["pods", "nodes"], "operations": ["CREATE"]}]), json!([{"apiGroups": [""], "resources": ["pods"], "operations": ["CREATE"]}]), true)]
fn entries_held_pair_by_pair(#[case] new: Value, #[case] old: Value, #[case] held: bool) {
    let (new, old) = (rules(new), rules(old));
    assert_eq!(super::entries_held(&new, &[&old]), held);
}

/// Above the pair cap: 300 groups x 1,000 resources, compared rule by rule.
#[rstest]
#[case::fewer_resources(999, 300, &["CREATE"], true)]
#[case::more_resources(1001, 300, &["CREATE"], false)]
#[case::more_groups(1000, 301, &["CREATE"], false)]
#[case::more_operations(1000, 300, &["CREATE", "UPDATE"], false)]
fn entries_held_rule_by_rule(
    #[case] resources: usize,
    #[case] groups: usize,
    #[case] operations: &[&str],
    #[case] held: bool,
) {
    let rule = |groups: usize, resources: usize, operations: &[&str]| {
        let groups: Vec<String> = (0..groups).map(|i| format!("g{i}.example.com")).collect();
        let resources: Vec<String> = (0..resources).map(|i| format!("r{i}")).collect();
        rules(json!([{"apiGroups": groups, "resources": resources, "operations": operations}]))
    };
    let old = rule(300, 1000, &["CREATE"]);
    let new = rule(groups, resources, operations);
    assert_eq!(super::entries_held(&new, &[&old]), held);
}

#[rstest]
#[case::built_in_cluster_scoped(json!([""]), "nodes", false)]
#[case::built_in_namespaced(json!(["", "apps"]), "pods", true)]
#[case::custom_group(json!(["example.com"]), "nodes", true)]
#[case::kubewarden_cluster_scoped(json!(["policies.kubewarden.io"]), "clusteradmissionpolicies", false)]
#[case::kubewarden_namespaced(json!(["policies.kubewarden.io"]), "admissionpolicies", true)]
#[case::wildcard_resource(json!(["storage.k8s.io"]), "*", true)]
#[case::no_groups(json!([]), "*", false)]
#[case::resource_slices(json!(["resource.k8s.io"]), "resourceslices", false)]
#[case::volume_attributes_classes(json!(["storage.k8s.io"]), "volumeattributesclasses", false)]
#[case::storage_version_migrations(json!(["storagemigration.k8s.io"]), "storageversionmigrations", false)]
#[case::storage_versions(json!(["internal.apiserver.k8s.io"]), "storageversions/status", false)]
fn namespaced_once_per_rule(#[case] groups: Value, #[case] resource: &str, #[case] expected: bool) {
    let [rule] = <[_; 1]>::try_from(rules(json!([{"apiGroups": groups}]))).expect("one rule");
    assert_eq!(rule.namespacing().is_namespaced(resource), expected);
    let pairwise = rule
        .api_groups
        .iter()
        .flatten()
        .any(|g| webhooks::RuleSpec::is_namespaced_in(g, resource));
    assert_eq!(pairwise, expected);
}

#[test]
fn wrong_types_are_decode_errors() {
    let json = review(
        "CREATE",
        &configuration(
            "ValidatingWebhookConfiguration",
            vec![json!({"name": "x", "timeoutSeconds": "long"})],
        ),
    );
    let error =
        crate::policy::evaluate::<WebhookSafety>(&json, &Settings::default(), &host(vec![]))
            .unwrap_err();
    assert!(
        error.to_string().contains("webhooks[0].timeoutSeconds"),
        "{error}"
    );
}

#[rstest]
#[case::resource("pods", &["pods", "pods/*", "*", "*/*"])]
#[case::subresource("pods/status", &["pods/status", "pods/*", "*/status", "*/*"])]
#[case::all_resources("*", &["*", "*/*"])]
#[case::all_subresources("pods/*", &["pods/*", "*/*"])]
#[case::everything("*/*", &["*/*"])]
fn broader_rule_entries_as_the_api_server_matches(
    #[case] resource: &str,
    #[case] expected: &[&str],
) {
    assert_eq!(super::covering(resource), expected);
}
