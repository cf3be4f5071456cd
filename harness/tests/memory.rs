//! A lookup answer larger than the memory a module has left is a lookup
//! failure (judged by `onLookupFailure`), not a trap: object-count listing
//! 400 ConfigMaps of 64 KiB each (26 MB) under a 24 MiB cap, accepted with a
//! warning, or refused with a fix that fits the cause. Needs
//! dist/object-count.wasm (`make policies`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn an_answer_too_large_for_memory_is_a_lookup_failure() {
    let root = root();
    let module = root.join("dist/object-count.wasm");
    if !module.is_file() {
        println!("skipped: dist/object-count.wasm is missing; run `make policies`");
        return;
    }
    let scratch = std::env::temp_dir().join(format!("harness-memory-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let blob = "x".repeat(64 * 1024);
    let cluster: Vec<Value> = (0..400)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": format!("cm-{i:04}"), "namespace": "scale",
                "annotations": {"example.com/blob": blob}}})
        })
        .collect();
    let request = json!({
        "uid": "memory", "operation": "CREATE", "name": "one-more", "namespace": "scale",
        "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "resource": {"group": "", "version": "v1", "resource": "configmaps"},
        "userInfo": {"username": "ci-bot"},
        "object": {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "one-more", "namespace": "scale"}}
    });
    let cluster_path = scratch.join("cluster.json");
    let request_path = scratch.join("request.json");
    std::fs::write(&cluster_path, serde_json::to_vec(&cluster).expect("json")).expect("write");
    std::fs::write(&request_path, serde_json::to_vec(&request).expect("json")).expect("write");
    let run = |settings: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(&root)
            .args(["run", "--max-memory-mib", "24", "--request-path"])
            .arg(&request_path)
            .arg("--cluster")
            .arg(&cluster_path)
            .args(["--metadata", "policies/object-count/metadata.yml"])
            .args(["--settings-json", settings])
            .arg(&module)
            .output()
            .expect("harness runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str::<Value>(&stdout).unwrap_or_else(|e| {
            panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr))
        })
    };
    let response = run(r#"{"limits":[{"apiVersion":"v1","kind":"ConfigMap","max":1000}]}"#);
    assert_eq!(response["allowed"], json!(true), "{response}");
    let warning = response["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("could not look up the ConfigMaps in namespace scale (the answer is")
            && warning.contains("bytes, more than the memory left)"),
        "{response}"
    );
    // Refused under `onLookupFailure: deny`, with a fix that can help.
    let response = run(
        r#"{"limits":[{"apiVersion":"v1","kind":"ConfigMap","max":1000}],"onLookupFailure":"deny"}"#,
    );
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(response["allowed"], json!(false), "{response}");
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("bytes, more than the memory left)")
            && message.contains("have fewer or smaller objects; or set `onLookupFailure: allow`."),
        "{response}"
    );
}
