//! Runs cases with the real kwctl, replaying the host calls the harness served.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cluster::Exchange;
use crate::suite::{admission_response, Outcome, Prepared};

/// kwctl's `--replay-host-capabilities-interactions` session file.
pub fn session_yaml(exchanges: &[Exchange]) -> Result<String> {
    let mut entries = Vec::new();
    for exchange in exchanges {
        let tag = match exchange.operation.as_str() {
            "list_resources_by_namespace" => "!KubernetesListResourceNamespace",
            "list_resources_all" => "!KubernetesListResourceAll",
            "get_resource" => "!KubernetesGetResource",
            "can_i" => "!KubernetesCanI",
            other => anyhow::bail!("no kwctl session type for {other}"),
        };
        let request = format!("{tag}\n{}", serde_yaml::to_string(&exchange.request)?);
        let response = match &exchange.response {
            Ok(body) => {
                serde_json::json!({"type": "Success", "payload": String::from_utf8_lossy(body)})
            }
            Err(message) => serde_json::json!({"type": "Error", "message": message}),
        };
        entries.push(
            serde_json::json!({"type": "Exchange", "request": request, "response": response}),
        );
    }
    Ok(serde_yaml::to_string(&entries)?)
}

/// Writes a case's request, settings and session file into `dir`.
pub fn write_case_files(
    dir: &Path,
    prepared: &Prepared,
    exchanges: &[Exchange],
) -> Result<(PathBuf, PathBuf, Option<PathBuf>)> {
    std::fs::create_dir_all(dir)?;
    let request = dir.join("request.json");
    std::fs::write(&request, serde_json::to_vec_pretty(&prepared.request)?)?;
    let settings = dir.join("settings.json");
    std::fs::write(&settings, serde_json::to_vec_pretty(&prepared.settings)?)?;
    let session = if exchanges.is_empty() {
        None
    } else {
        let path = dir.join("session.yml");
        std::fs::write(&path, session_yaml(exchanges)?)?;
        Some(path)
    };
    Ok((request, settings, session))
}

pub fn available() -> bool {
    Command::new("kwctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `kwctl run` on the files of one case.
pub fn run(
    module: &Path,
    dir: &Path,
    prepared: &Prepared,
    exchanges: &[Exchange],
) -> Result<Outcome> {
    let (request, settings, session) = write_case_files(dir, prepared, exchanges)?;
    let mut command = Command::new("kwctl");
    command
        .arg("run")
        .arg("--request-path")
        .arg(&request)
        .arg("--settings-path")
        .arg(&settings);
    if let Some(session) = &session {
        command
            .arg("--allow-context-aware")
            .arg("--replay-host-capabilities-interactions")
            .arg(session);
    }
    command.arg(module);
    let output = command.output().context("cannot run kwctl")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Ok(Outcome::SettingsInvalid(format!("{stderr}{stdout}")));
    }
    let response: Value =
        serde_json::from_str(stdout.trim()).with_context(|| format!("kwctl printed {stdout}"))?;
    // kwctl prints an AdmissionResponse already; normalise through the same shape.
    let validation = serde_json::json!({
        "accepted": response.get("allowed").cloned().unwrap_or(Value::Null),
        "message": response.pointer("/status/message").cloned().unwrap_or(Value::Null),
        "code": response.pointer("/status/code").cloned().unwrap_or(Value::Null),
        "warnings": response.get("warnings").cloned().unwrap_or(Value::Null),
    });
    Ok(Outcome::Response(admission_response(
        response.get("uid").and_then(Value::as_str).unwrap_or(""),
        &validation,
    )?))
}
