//! object-count counting a custom resource whose plural is a built-in kind's
//! (Knative's serving.knative.dev Service): the refusal's `kubectl get` lists
//! it by group, not the core Services. The fixture suites serve only the
//! lookups the module's metadata.yml grants, so this grants the kind in a
//! metadata file of its own, as a ClusterAdmissionPolicy counting it would.
//! Needs dist/object-count.wasm (`make policies`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn custom_resource_cleanup_lists_it_by_group() {
    let root = root();
    let module = root.join("dist/object-count.wasm");
    if !module.is_file() {
        println!("skipped: dist/object-count.wasm is missing; run `make policies`");
        return;
    }
    let scratch = std::env::temp_dir().join(format!("harness-crd-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let service = |api_version: &str, name: &str| {
        json!({"apiVersion": api_version, "kind": "Service",
               "metadata": {"name": name, "namespace": "apps"}})
    };
    let cluster = json!([
        service("serving.knative.dev/v1", "preview-1"),
        service("serving.knative.dev/v1", "preview-2"),
        service("v1", "db"),
    ]);
    let request = json!({
        "uid": "crd", "operation": "CREATE", "name": "preview-3", "namespace": "apps",
        "kind": {"group": "serving.knative.dev", "version": "v1", "kind": "Service"},
        "resource": {"group": "serving.knative.dev", "version": "v1", "resource": "services"},
        "userInfo": {"username": "ci-bot"},
        "object": service("serving.knative.dev/v1", "preview-3"),
    });
    let metadata =
        "contextAwareResources:\n  - {apiVersion: serving.knative.dev/v1, kind: Service}\n";
    let cluster_path = scratch.join("cluster.json");
    let request_path = scratch.join("request.json");
    let metadata_path = scratch.join("metadata.yml");
    std::fs::write(&cluster_path, serde_json::to_vec(&cluster).expect("json")).expect("write");
    std::fs::write(&request_path, serde_json::to_vec(&request).expect("json")).expect("write");
    std::fs::write(&metadata_path, metadata).expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(&root)
        .args(["run", "--request-path"])
        .arg(&request_path)
        .arg("--cluster")
        .arg(&cluster_path)
        .arg("--metadata")
        .arg(&metadata_path)
        .args([
            "--settings-json",
            r#"{"limits":[{"apiVersion":"serving.knative.dev/v1","kind":"Service","max":2}]}"#,
        ])
        .arg(&module)
        .output()
        .expect("harness runs");
    let _ = std::fs::remove_dir_all(&scratch);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let response: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(response["allowed"], json!(false), "{response}");
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("namespace apps already holds 2 Services")
            && message.contains("(`kubectl get service.serving.knative.dev -n apps`)"),
        "{response}"
    );
}
