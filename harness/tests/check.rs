//! `harness check` on the fixtures in e2e-tests/check: the talk's eight crash manifests are
//! refused (each by its rule), a clean chart's output is accepted. Needs dist/ (`make policies`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every rule module is built; otherwise the test is skipped with a note.
fn dist_built() -> bool {
    let root = root();
    let missing: Vec<String> = std::fs::read_dir(root.join("policies"))
        .expect("policies/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|rule| !root.join("dist").join(format!("{rule}.wasm")).is_file())
        .collect();
    if !missing.is_empty() {
        println!(
            "skipped: dist/ lacks {missing:?}; run `make policies` (or `make check-fixtures`)"
        );
    }
    missing.is_empty()
}

fn check(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .arg("check")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("harness finishes")
}

fn parse_json(output: &Output) -> Vec<Value> {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn every_crash_manifest_is_refused_by_its_rule() {
    if !dist_built() {
        return;
    }
    let expected = [
        (
            "1-tiller-release-configmap.yaml",
            "ConfigMap kube-system/legacy-app.v3",
            &["object-count"][..],
        ),
        (
            "2-oversized-secret.yaml",
            "Secret payments/app-bundle",
            &["object-size"],
        ),
        (
            "3-fork-bomb-daemonset.yaml",
            "DaemonSet loadtest/load-test",
            &["daemonset-guard"],
        ),
        (
            "4-qps-3000-controller.yaml",
            "Deployment inventory/inventory-controller",
            &["api-rate-limit"],
        ),
        (
            "5-shoot-without-pod-pids-limit.yaml",
            "Shoot garden-shop/webshop",
            &["shoot-hardening", "staged-rollout"],
        ),
        (
            "6-istio-sidecar-injector.yaml",
            "MutatingWebhookConfiguration istio-sidecar-injector",
            &["webhook-safety"],
        ),
        (
            "7-endpoints-validating-webhook.yaml",
            "ValidatingWebhookConfiguration endpoints-validator",
            &["webhook-safety"],
        ),
        (
            "8-deny-all-networkpolicy-kube-system.yaml",
            "NetworkPolicy kube-system/deny-all",
            &["system-networkpolicy"],
        ),
    ];
    let dir = root().join("e2e-tests/check/crashes");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("crashes/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let names: Vec<&str> = expected.iter().map(|(file, _, _)| *file).collect();
    assert_eq!(files, names, "one file per crash");
    for (file, object, rules) in expected {
        let path = format!("e2e-tests/check/crashes/{file}");
        let output = check(&[&path, "--output", "json"], None);
        assert!(!output.status.success(), "{file}: exit status 0");
        let findings = parse_json(&output);
        let refused: Vec<&str> = findings
            .iter()
            .filter(|f| f["allowed"] == false)
            .map(|f| {
                assert_eq!(
                    f["object"], object,
                    "{file}: only the crash object is refused"
                );
                assert!(!f["message"].as_str().unwrap_or("").is_empty());
                f["rule"].as_str().unwrap_or("(input error)")
            })
            .collect();
        assert_eq!(refused, rules, "{file}: refusing rules");
        println!("{file}: {object} refused by {}", refused.join(", "));
    }
    let text = check(
        &["e2e-tests/check/crashes/3-fork-bomb-daemonset.yaml"],
        None,
    );
    let report = String::from_utf8_lossy(&text.stdout);
    assert!(!text.status.success());
    assert!(
        report.contains("DaemonSet loadtest/load-test (") && report.contains("REFUSED"),
        "{report}"
    );
}

#[test]
fn the_clean_chart_is_accepted() {
    if !dist_built() {
        return;
    }
    let output = check(&["e2e-tests/check/clean", "--output", "json"], None);
    let findings = parse_json(&output);
    assert!(output.status.success(), "{findings:#?}");
    assert!(findings
        .iter()
        .all(|f| f["allowed"] == true && f["warnings"] == serde_json::json!([])));
    let objects: std::collections::BTreeSet<&str> = findings
        .iter()
        .filter_map(|f| f["object"].as_str())
        .collect();
    assert_eq!(
        objects.into_iter().collect::<Vec<_>>(),
        [
            "ConfigMap shop/shop-config",
            "Deployment shop/shop",
            "Secret shop/shop-db"
        ]
    );
}

#[test]
fn stdin_lists_defaults_and_identity() {
    if !dist_built() {
        return;
    }
    // A DaemonSet without a namespace lands in --namespace; kube-system is an admin namespace.
    let daemonset = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"apps/v1","kind":"DaemonSet",
        "metadata":{"name":"agent"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1",
        "resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}}}}]}"#;
    let output = check(
        &["-", "--output", "json", "--namespace", "kube-system"],
        Some(daemonset),
    );
    let findings = parse_json(&output);
    assert!(output.status.success(), "{findings:#?}");
    assert_eq!(findings[0]["object"], "DaemonSet kube-system/agent");
    let output = check(
        &[
            "-",
            "--output",
            "json",
            "--namespace",
            "apps",
            "--user",
            "dev",
            "--group",
            "developers",
        ],
        Some(daemonset),
    );
    assert!(!output.status.success());
    let message = parse_json(&output)
        .iter()
        .find(|f| f["rule"] == "daemonset-guard")
        .map(|f| f["message"].as_str().unwrap_or("").to_string())
        .expect("daemonset-guard ran");
    assert!(
        message.contains("DaemonSet apps/agent")
            && message.contains("user `dev` (groups developers)"),
        "{message}"
    );
}

#[test]
fn bad_input_is_reported_and_fails() {
    if !dist_built() {
        return;
    }
    let output = check(
        &["-"],
        Some("metadata: {name: a}\n---\napiVersion: v1\nkind: [\n"),
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(
        report.contains("ERROR <stdin>#1: not a Kubernetes object"),
        "{report}"
    );
    assert!(
        report.contains("ERROR <stdin>#2: not valid YAML"),
        "{report}"
    );
    let output = check(&["-", "--settings", "Cargo.toml"], Some(""));
    assert!(!output.status.success());
}
