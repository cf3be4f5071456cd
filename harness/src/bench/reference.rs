//! The hub's way, timed on this machine: `bench/hub-reference`, a policy
//! written as the hub's Rust policies are (pod-privileged's pattern), on the
//! Pods the issue quotes. Its figures against the issue's tell how fast this
//! machine is, so our figures can be read against the 10 µs target.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use super::{fresh_validate, micros, Figure, Timing};
use crate::cluster::CaseHost;
use crate::engine::{Engine, HostSlot, Instance, Module};
use crate::suite::{self, Outcome, Prepared};

/// Where `make bench` puts the reference module.
pub const MODULE: &str = "dist/reference/hub-reference.wasm";
/// Its name for `--only`: `--only hub-reference` times it alone.
pub const NAME: &str = "hub-reference";

/// The issue's figures for pod-privileged, on its machine.
const HUB_SMALL_US: f64 = 52.0;
const HUB_WIDE_US: f64 = 1_600.0;
const HUB_LARGE_US: f64 = 7_600.0;
const HUB_PER_KIB_US: f64 = 20.0;
const HUB_PER_REQUEST_US: f64 = 410.0;

/// The Pods: a small one, 50 containers x 20 env vars, and one of 320 KiB.
const WIDE: (usize, usize) = (50, 20);
const LARGE_KIB: usize = 320;

pub struct ReferenceBench {
    size: usize,
    module: Module,
    warm: Instance,
    /// Small, wide and large Pods, in that order.
    pods: [Prepared; 3],
}

/// The reference's figures on this machine.
pub struct Reference {
    size: usize,
    kib: [f64; 3],
    warm: [Timing; 3],
    per_request: Timing,
}

impl Reference {
    /// How many times as long the small Pod took here as on the issue's machine.
    fn slowdown(&self) -> f64 {
        micros(self.warm[0].median) / HUB_SMALL_US
    }
}

impl ReferenceBench {
    /// `None` when the module was not built (`make bench` builds it).
    pub fn load(engine: &Engine, root: &Path) -> Result<Option<Self>> {
        let path = root.join(MODULE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let module = engine.compile(&bytes)?;
        let host = Arc::new(CaseHost::new(vec![], vec![], None, None));
        host.set_quiet(true);
        let slot = HostSlot::new(host.clone());
        let warm = module.instantiate(host.clone())?;
        let pods = [
            prepare("small", &pod(1, 0, false), &host)?,
            prepare("wide", &pod(WIDE.0, WIDE.1, false), &host)?,
            prepare("large", &large_pod(), &host)?,
        ];
        let privileged = prepare("privileged", &pod(1, 0, true), &host)?;
        for (prepared, allowed) in pods.iter().map(|p| (p, true)).chain([(&privileged, false)]) {
            expect_verdict(&module, &warm, &slot, prepared, allowed)?;
        }
        Ok(Some(Self {
            size: bytes.len(),
            module,
            warm,
            pods,
        }))
    }

    /// Its timed figures, in the order `reference` reads them back.
    pub fn figures<'a>(&'a self, budget: Duration, figures: &mut Vec<Figure<'a>>) {
        for prepared in &self.pods {
            let request = &prepared.payload;
            figures.push(
                Figure::new(budget, 30, 20_000, move || {
                    hub_validate(&self.warm, request)
                })
                .entered_by(move || {
                    let _ = self.warm.call("validate", request);
                }),
            );
        }
        let [small, ..] = &self.pods;
        figures.push(Figure::new(budget / 2, 20, 5_000, move || {
            fresh_validate(&self.module, small)
        }));
    }

    pub fn reference(&self, timings: &mut std::vec::IntoIter<Timing>) -> Result<Reference> {
        let mut next = || {
            timings
                .next()
                .ok_or_else(|| anyhow!("bench: the hub reference read more timings than it timed"))
        };
        let warm = [next()?, next()?, next()?];
        Ok(Reference {
            size: self.size,
            kib: self
                .pods
                .each_ref()
                .map(|p| p.payload.len() as f64 / 1024.0),
            warm,
            per_request: next()?,
        })
    }
}

/// One timed evaluation of the reference; a named frame, as `warm_validate`
/// is, so callgrind can count its instructions (30 calls per Pod at `--budget-ms 0`).
#[inline(never)]
fn hub_validate(instance: &Instance, request: &[u8]) {
    let _ = instance.call("validate", request);
}

/// Checks the reference's verdict as `harness replay` checks ours: on fresh
/// instances (protocol version and settings first), then on the warm one.
fn expect_verdict(
    module: &Module,
    warm: &Instance,
    slot: &HostSlot,
    prepared: &Prepared,
    allowed: bool,
) -> Result<()> {
    let fresh =
        suite::run(module, prepared).with_context(|| format!("hub reference, {}", prepared.id))?;
    let Outcome::Response(response) = &fresh else {
        return Err(anyhow!("hub reference, {}: settings refused", prepared.id));
    };
    if suite::is_internal_server_error(response)
        || response.get("allowed") != Some(&Value::Bool(allowed))
    {
        return Err(anyhow!(
            "hub reference, {}: answered {response}, expected allowed = {allowed}",
            prepared.id
        ));
    }
    suite::run_warm(warm, slot, prepared, &fresh)
        .with_context(|| format!("hub reference, {}", prepared.id))
}

/// A CREATE of `pod`, as the API server sends it, with default settings.
fn prepare(id: &str, pod: &Value, host: &Arc<CaseHost>) -> Result<Prepared> {
    let request = json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "web",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]},
        "object": pod,
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"},
    });
    let settings = json!({});
    Ok(Prepared {
        id: format!("{NAME}/{id}"),
        payload: suite::validate_payload(&request, &settings)?,
        settings,
        request,
        host: host.clone(),
    })
}

/// The 320 KiB Pod: 50 containers with as many env vars as it takes.
fn large_pod() -> Value {
    let size = |env_vars| pod(WIDE.0, env_vars, false).to_string().len();
    let (base, step) = (size(WIDE.1), size(WIDE.1 + 1).saturating_sub(size(WIDE.1)));
    let mut env_vars = WIDE.1 + (LARGE_KIB * 1024).saturating_sub(base) / step.max(1);
    while size(env_vars) < LARGE_KIB * 1024 && env_vars < 10_000 {
        env_vars += 1;
    }
    pod(WIDE.0, env_vars, false)
}

/// A Pod as the API server hands it to admission after defaulting.
fn pod(containers: usize, env_vars: usize, privileged: bool) -> Value {
    let containers: Vec<Value> = (0..containers)
        .map(|i| {
            let env: Vec<Value> = (0..env_vars)
                .map(|j| json!({"name": format!("SETTING_{j:03}"), "value": format!("value-{i}-{j}")}))
                .collect();
            json!({
                "name": format!("app-{i}"),
                "image": "registry.k8s.io/nginx-slim:0.27",
                "imagePullPolicy": "IfNotPresent",
                "env": env,
                "ports": [{"containerPort": 8080 + i, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
                "securityContext": {"privileged": privileged, "allowPrivilegeEscalation": privileged},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-5xq2l", "readOnly": true}],
            })
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "containers": containers,
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": "default",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "tolerations": [
                {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
                {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
            ],
            "volumes": [{"name": "kube-api-access-5xq2l", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
            ]}}]
        },
        "status": {"phase": "Pending", "qosClass": "Burstable"}
    })
}

/// A module's median of typical case medians, in wasm and natively.
pub struct Medians {
    pub module: String,
    pub wasm: f64,
    pub native: Option<f64>,
}

/// The section of BENCHMARKS.md: the reference here against the issue's
/// figures, then our typical medians read at the issue's machine's speed.
pub fn render(reference: Option<&Reference>, medians: &[Medians]) -> String {
    let Some(r) = reference else {
        return format!(
            "## The hub's way on this machine\n\nNot measured: {MODULE} was not built (`make bench` builds it), or `--only` left out {NAME}.\n"
        );
    };
    let us = |t: &Timing| micros(t.median);
    let [small, wide, large] = &r.warm;
    let per_kib = (us(large) - us(small)) / (r.kib[2] - r.kib[0]).max(1.0);
    let mut out = String::from("## The hub's way on this machine\n\n");
    out.push_str(&format!(
        "`bench/hub-reference` decodes the whole request with kubewarden-policy-sdk and the whole object with \
         k8s-openapi, as pod-privileged does, and refuses privileged containers. Timed in the same schedule \
         as our modules, against the issue's figures for pod-privileged on its machine. The small Pod is what \
         the API server sends after defaulting (one container, {:.1} KiB request).\n\n",
        r.kib[0]
    ));
    out.push_str(
        "| figure | pod-privileged, the issue's machine | hub reference, here | here / issue |\n",
    );
    out.push_str("| --- | ---: | ---: | ---: |\n");
    out.push_str(&format!(
        "| module size | 1.7 MB | {:.2} MB | |\n",
        r.size as f64 / 1e6
    ));
    let mut line = |figure: String, issue: f64, here: f64| {
        out.push_str(&format!(
            "| {figure} | {} | {} | {:.2}x |\n",
            duration(issue),
            duration(here),
            here / issue
        ));
    };
    line(
        format!("small Pod, warm instance ({:.1} KiB request)", r.kib[0]),
        HUB_SMALL_US,
        us(small),
    );
    line(
        format!(
            "{} containers x {} env vars, warm ({:.0} KiB request)",
            WIDE.0, WIDE.1, r.kib[1]
        ),
        HUB_WIDE_US,
        us(wide),
    );
    line(
        format!("{LARGE_KIB} KiB Pod, warm ({:.0} KiB request)", r.kib[2]),
        HUB_LARGE_US,
        us(large),
    );
    line(
        "growth per KiB (more containers and env vars, all decoded)".into(),
        HUB_PER_KIB_US,
        per_kib,
    );
    line(
        "per request: fresh instance + validate of the small Pod (the issue's: policy-server's whole request)".into(),
        HUB_PER_REQUEST_US,
        us(&r.per_request),
    );
    let slowdown = r.slowdown();
    out.push_str(&format!(
        "\nThis machine ran the small Pod {slowdown:.2}x as long as the issue's machine. Our modules' median of \
         case medians (typical objects), here and divided by that factor, which is how they would read at the \
         issue's machine's speed (a projection: it assumes both workloads slow alike). The native columns \
         project the same rule run in-process the same way. No module has yet run as fast as its rule \
         does natively, so where the native projection is over 10 µs, only a rule that does less can meet \
         the target, not a faster build:\n\n"
    ));
    out.push_str("| module | median here | at the issue's machine's speed | under 10 µs | native median here | native at the issue's machine's speed |\n");
    out.push_str("| --- | ---: | ---: | --- | ---: | ---: |\n");
    let at_issue_speed = |us: f64| us / slowdown.max(f64::MIN_POSITIVE);
    for Medians {
        module,
        wasm,
        native,
    } in medians
    {
        let projected = at_issue_speed(*wasm);
        let (native_here, native_projected) = match native {
            Some(native) => (
                format!("{native:.1} µs"),
                format!("{:.1} µs", at_issue_speed(*native)),
            ),
            None => ("n/a".to_string(), "n/a".to_string()),
        };
        out.push_str(&format!(
            "| {module} | {wasm:.1} µs | {projected:.1} µs | {} | {native_here} | {native_projected} |\n",
            if projected < 10.0 { "yes" } else { "no" }
        ));
    }
    out
}

fn duration(us: f64) -> String {
    if us >= 1_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else {
        format!("{us:.1} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wide_pod_has_50_containers_of_20_env_vars() {
        let wide = pod(WIDE.0, WIDE.1, false);
        let containers = wide
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let env = wide
            .pointer("/spec/containers/49/env")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        assert_eq!((containers, env), (50, 20));
    }

    fn timing(us: u64) -> Timing {
        Timing {
            median: Duration::from_micros(us),
            p99: Duration::from_micros(us),
            runs: 30,
        }
    }

    #[test]
    fn medians_are_read_at_the_issue_machines_speed() {
        let reference = Reference {
            size: 1_700_000,
            kib: [2.0, 70.0, 322.0],
            warm: [timing(104), timing(3_200), timing(15_200)],
            per_request: timing(820),
        };
        let medians = [
            Medians {
                module: "fast".into(),
                wasm: 18.0,
                native: Some(10.0),
            },
            Medians {
                module: "slow".into(),
                wasm: 20.0,
                native: Some(24.0),
            },
            Medians {
                module: "unregistered".into(),
                wasm: 4.0,
                native: None,
            },
        ];
        let section = render(Some(&reference), &medians);
        assert!(section.contains(
            "| small Pod, warm instance (2.0 KiB request) | 52.0 µs | 104.0 µs | 2.00x |"
        ));
        assert!(section.contains("| growth per KiB (more containers and env vars, all decoded) | 20.0 µs | 47.2 µs | 2.36x |"));
        assert!(section.contains("| fast | 18.0 µs | 9.0 µs | yes | 10.0 µs | 5.0 µs |"));
        assert!(section.contains("| slow | 20.0 µs | 10.0 µs | no | 24.0 µs | 12.0 µs |"));
        assert!(section.contains("| unregistered | 4.0 µs | 2.0 µs | yes | n/a | n/a |"));
    }

    #[test]
    fn an_unbuilt_reference_is_reported_not_measured() {
        let medians = [Medians {
            module: "m".into(),
            wasm: 5.0,
            native: Some(2.0),
        }];
        let section = render(None, &medians);
        assert!(section.contains("Not measured"));
        assert!(!section.contains("| m |"));
    }

    #[test]
    fn the_large_pod_is_320_kib() {
        // One more env var per container is the step: 50 x about 45 bytes.
        let bytes = large_pod().to_string().len();
        assert!((320 * 1024..323 * 1024).contains(&bytes), "{bytes} bytes");
    }
}
