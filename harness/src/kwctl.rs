//! Runs cases with the real kwctl, replaying the host calls the harness served.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cluster::Exchange;
use crate::suite::{admission_response, Outcome, Prepared, SETTINGS_NOT_AN_OBJECT};

/// kwctl's `--replay-host-capabilities-interactions` session file.
pub fn session_yaml(exchanges: &[Exchange]) -> Result<String> {
    let mut entries = Vec::new();
    for exchange in exchanges.iter().filter(|e| e.granted) {
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
    let session = if !exchanges.iter().any(|e| e.granted) {
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
    if !prepared.settings.is_object() {
        // kwctl refuses these itself, in words of its own, before loading the module.
        return Ok(Outcome::SettingsInvalid(SETTINGS_NOT_AN_OBJECT.to_string()));
    }
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
        // On invalid settings kwctl prints the SettingsValidationResponse as a
        // JSON line, then fails with the message in Rust's debug quoting.
        let refusal = stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|answer| answer.get("valid") == Some(&Value::Bool(false)));
        let message = match refusal {
            Some(answer) => answer
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            None => format!("{}{stdout}", String::from_utf8_lossy(&output.stderr)),
        };
        return Ok(Outcome::SettingsInvalid(message));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exchange(kind: &str, granted: bool) -> Exchange {
        Exchange {
            operation: "list_resources_all".into(),
            request: json!({"api_version": "v1", "kind": kind}),
            response: if granted {
                Ok(b"{}".to_vec())
            } else {
                Err("Policy has not been granted access".into())
            },
            granted,
        }
    }

    #[test]
    fn sessions_hold_only_the_lookups_the_host_lets_through() {
        let yaml = session_yaml(&[exchange("Secret", false), exchange("ConfigMap", true)])
            .expect("session");
        let entries: Vec<Value> = serde_yaml::from_str(&yaml).expect("yaml");
        assert_eq!(entries.len(), 1, "{yaml}");
        assert!(
            yaml.contains("ConfigMap") && !yaml.contains("Secret"),
            "{yaml}"
        );
        assert!(yaml.contains("!KubernetesListResourceAll"), "{yaml}");
    }
}
