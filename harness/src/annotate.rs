//! `kwctl annotate` without kwctl: embeds a policy's metadata in its module as
//! the `io.kubewarden.metadata` custom section, in the JSON kwctl writes.
//!
//! kwctl deserialises `metadata.yml` into policy-evaluator's `Metadata`, sets
//! `protocolVersion`, adds the annotations `io.kubewarden.kwctl` (its version)
//! and, with `--usage-path`, `io.kubewarden.policy.usage` (the README), then
//! writes `serde_json::to_vec(&metadata)`: compact, camelCase, fields in the
//! struct's order, defaults written out, unknown keys (`contextAware`) dropped.
//! Recent kwctl removes every existing metadata section before adding its
//! own; so do we, appending the new section at the end of the module.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const METADATA_SECTION: &str = "io.kubewarden.metadata";
pub const ANNOTATION_KWCTL: &str = "io.kubewarden.kwctl";
pub const ANNOTATION_USAGE: &str = "io.kubewarden.policy.usage";
/// kwctl writes its own version here; we write who really annotated.
pub const KWCTL_ANNOTATION_VALUE: &str = concat!("crash-guard-harness-", env!("CARGO_PKG_VERSION"));

const WASM_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const CUSTOM_SECTION_ID: u8 = 0;

/// policy-evaluator's `Rule`: four fields, in this order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    api_groups: Vec<String>,
    api_versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextAwareResource {
    api_version: String,
    kind: String,
}

/// policy-evaluator's `Metadata`, field for field and in its order.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    protocol_version: Option<String>,
    rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    mutating: bool,
    #[serde(default = "yes")]
    background_audit: bool,
    #[serde(default = "wapc")]
    execution_mode: String,
    #[serde(default = "kubernetes")]
    policy_type: String,
    #[serde(default)]
    context_aware_resources: BTreeSet<ContextAwareResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_capabilities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    minimum_kubewarden_version: Option<String>,
}

fn yes() -> bool {
    true
}

fn wapc() -> String {
    "kubewarden-wapc".into()
}

fn kubernetes() -> String {
    "kubernetes".into()
}

const OPERATIONS: [&str; 5] = ["CREATE", "UPDATE", "DELETE", "CONNECT", "*"];
const EXECUTION_MODES: [&str; 4] = ["kubewarden-wapc", "opa", "gatekeeper", "wasi"];

impl Metadata {
    /// The checks of policy-evaluator's `Metadata::validate` that apply here.
    fn validate(&self) -> Result<()> {
        for (index, rule) in self.rules.iter().enumerate() {
            let fields = [
                ("apiGroups", &rule.api_groups),
                ("apiVersions", &rule.api_versions),
                ("resources", &rule.resources),
                ("operations", &rule.operations),
            ];
            for (name, values) in fields {
                if values.is_empty() {
                    bail!("rules[{index}].{name} is empty");
                }
                if values.len() > 1 && values.iter().any(|v| v == "*") {
                    bail!("rules[{index}].{name}: no other value may be listed with '*'");
                }
            }
            if rule.resources.iter().any(String::is_empty) {
                bail!("rules[{index}].resources: empty resource");
            }
            if let Some(op) = rule
                .operations
                .iter()
                .find(|op| !OPERATIONS.contains(&op.as_str()))
            {
                bail!("rules[{index}].operations: unknown operation {op:?}");
            }
        }
        if !EXECUTION_MODES.contains(&self.execution_mode.as_str()) {
            bail!("executionMode: unknown mode {:?}", self.execution_mode);
        }
        if !["kubernetes", "raw"].contains(&self.policy_type.as_str()) {
            bail!("policyType: unknown type {:?}", self.policy_type);
        }
        for resource in &self.context_aware_resources {
            if resource.api_version.is_empty() || resource.kind.is_empty() {
                bail!("contextAwareResources: apiVersion and kind must be set");
            }
        }
        if self.execution_mode == "kubewarden-wapc"
            && self.protocol_version.as_deref() != Some("v1")
        {
            bail!("a kubewarden-wapc policy must speak protocol v1");
        }
        Ok(())
    }
}

/// The section's content: the metadata as `kwctl annotate` serialises it.
pub fn metadata_json(
    metadata_yml: &str,
    protocol_version: &str,
    readme: Option<&str>,
) -> Result<Vec<u8>> {
    let mut metadata: Metadata =
        serde_yaml::from_str(metadata_yml).context("metadata.yml is not valid metadata")?;
    metadata.protocol_version = Some(protocol_version.to_string());
    let mut annotations = metadata.annotations.take().unwrap_or_default();
    if let Some(readme) = readme {
        annotations.insert(ANNOTATION_USAGE.into(), readme.into());
    }
    annotations.insert(ANNOTATION_KWCTL.into(), KWCTL_ANNOTATION_VALUE.into());
    metadata.annotations = Some(annotations);
    metadata.validate().context("metadata is invalid")?;
    Ok(serde_json::to_vec(&metadata)?)
}

/// The module with its metadata section replaced by one built from
/// `metadata_yml`, `protocol_version` (what `protocol_version` answers) and the
/// README as usage.
pub fn annotate(
    wasm: &[u8],
    metadata_yml: &str,
    protocol_version: &str,
    readme: Option<&str>,
) -> Result<Vec<u8>> {
    let data = metadata_json(metadata_yml, protocol_version, readme)?;
    let sections = sections(wasm)?;
    let mut out = Vec::with_capacity(wasm.len() + data.len() + 32);
    out.extend_from_slice(&WASM_HEADER);
    for section in &sections {
        if section.custom_name.as_deref() != Some(METADATA_SECTION) {
            out.extend_from_slice(wasm.get(section.whole.clone()).unwrap_or_default());
        }
    }
    out.extend_from_slice(&custom_section(METADATA_SECTION, &data)?);
    Ok(out)
}

/// The metadata of the first `io.kubewarden.metadata` section (the one
/// policy-server reads), if the module has one.
pub fn read_metadata(wasm: &[u8]) -> Result<Option<Value>> {
    for section in sections(wasm)? {
        if section.custom_name.as_deref() == Some(METADATA_SECTION) {
            let data = wasm.get(section.custom_data).unwrap_or_default();
            return serde_json::from_slice(data)
                .map(Some)
                .context("the metadata section is not JSON");
        }
    }
    Ok(None)
}

struct Section {
    /// Id byte, size and payload.
    whole: Range<usize>,
    custom_name: Option<String>,
    custom_data: Range<usize>,
}

/// Splits a module into its sections (id, LEB128 size, payload).
fn sections(wasm: &[u8]) -> Result<Vec<Section>> {
    if wasm.get(..8) != Some(&WASM_HEADER[..]) {
        bail!("not a WebAssembly 1.0 module (bad magic or version)");
    }
    let mut sections = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let start = at;
        let id = *wasm.get(at).ok_or_else(|| anyhow!("truncated section"))?;
        at += 1;
        let size = read_u32(wasm, &mut at)? as usize;
        let end = at
            .checked_add(size)
            .filter(|end| *end <= wasm.len())
            .ok_or_else(|| anyhow!("section at byte {start} runs past the end of the module"))?;
        let (custom_name, custom_data) = if id == CUSTOM_SECTION_ID {
            let mut name_at = at;
            let len = read_u32(wasm, &mut name_at)? as usize;
            let name_end = name_at
                .checked_add(len)
                .filter(|e| *e <= end)
                .ok_or_else(|| anyhow!("custom section name at byte {start} is truncated"))?;
            let name = std::str::from_utf8(wasm.get(name_at..name_end).unwrap_or_default())
                .context("custom section name is not UTF-8")?;
            (Some(name.to_string()), name_end..end)
        } else {
            (None, end..end)
        };
        sections.push(Section {
            whole: start..end,
            custom_name,
            custom_data,
        });
        at = end;
    }
    Ok(sections)
}

fn read_u32(bytes: &[u8], at: &mut usize) -> Result<u32> {
    let mut value: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at).ok_or_else(|| anyhow!("truncated LEB128"))?;
        *at += 1;
        let low = u32::from(byte & 0x7f);
        if shift == 28 && low > 0x0f {
            bail!("LEB128 value does not fit in 32 bits");
        }
        value |= low << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("LEB128 value longer than 5 bytes")
}

fn write_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn custom_section(name: &str, data: &[u8]) -> Result<Vec<u8>> {
    let name_len = u32::try_from(name.len())?;
    let mut payload = Vec::with_capacity(name.len() + data.len() + 5);
    write_u32(&mut payload, name_len);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let size = u32::try_from(payload.len()).context("metadata section over 4 GiB")?;
    let mut section = vec![CUSTOM_SECTION_ID];
    write_u32(&mut section, size);
    section.extend_from_slice(&payload);
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn custom_section_names(wasm: &[u8]) -> Result<Vec<String>> {
        Ok(sections(wasm)?
            .into_iter()
            .filter_map(|section| section.custom_name)
            .collect())
    }

    /// `(module (func (export "f")))` plus a `name` custom section.
    fn tiny_module() -> Vec<u8> {
        let mut wasm = WASM_HEADER.to_vec();
        wasm.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type
        wasm.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]); // func
        wasm.extend_from_slice(&[0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00]); // export
        wasm.extend_from_slice(&[0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b]); // code
        wasm.extend(custom_section("name", &[0x00, 0x01, b'm']).unwrap_or_default());
        wasm
    }

    const METADATA: &str = r#"
rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["secrets"]
    operations: ["CREATE", "UPDATE"]
mutating: false
contextAware: true
contextAwareResources:
  - apiVersion: v1
    kind: Secret
  - apiVersion: v1
    kind: Namespace
executionMode: kubewarden-wapc
annotations:
  io.kubewarden.policy.title: t
  io.kubewarden.kwctl: stale
"#;

    #[test]
    fn writes_the_json_kwctl_writes() {
        let json = String::from_utf8(metadata_json(METADATA, "v1", Some("# usage")).unwrap())
            .unwrap_or_default();
        let expected = format!(
            "{{\"protocolVersion\":\"v1\",\"rules\":[{{\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\
             \"resources\":[\"secrets\"],\"operations\":[\"CREATE\",\"UPDATE\"]}}],\"annotations\":\
             {{\"io.kubewarden.kwctl\":\"{KWCTL_ANNOTATION_VALUE}\",\"io.kubewarden.policy.title\":\"t\",\
             \"io.kubewarden.policy.usage\":\"# usage\"}},\"mutating\":false,\"backgroundAudit\":true,\
             \"executionMode\":\"kubewarden-wapc\",\"policyType\":\"kubernetes\",\"contextAwareResources\":\
             [{{\"apiVersion\":\"v1\",\"kind\":\"Namespace\"}},{{\"apiVersion\":\"v1\",\"kind\":\"Secret\"}}]}}"
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn round_trip_keeps_the_module_and_adds_the_section_last() {
        let module = tiny_module();
        let annotated = annotate(&module, METADATA, "v1", None).unwrap();
        assert!(annotated.starts_with(&module));
        assert_eq!(
            custom_section_names(&annotated).unwrap(),
            vec!["name".to_string(), METADATA_SECTION.to_string()]
        );
        let metadata = read_metadata(&annotated).unwrap().unwrap_or_default();
        assert_eq!(metadata["protocolVersion"], json!("v1"));
        assert_eq!(metadata["rules"][0]["resources"], json!(["secrets"]));
        assert!(metadata.get("contextAware").is_none());
        assert_eq!(read_metadata(&module).unwrap(), None);
    }

    #[test]
    fn annotating_twice_replaces_the_section() {
        let once = annotate(&tiny_module(), METADATA, "v1", None).unwrap();
        let other = METADATA.replace("title: t", "title: u");
        let twice = annotate(&once, &other, "v1", Some("readme")).unwrap();
        let names = custom_section_names(&twice).unwrap();
        assert_eq!(names.iter().filter(|n| *n == METADATA_SECTION).count(), 1);
        let metadata = read_metadata(&twice).unwrap().unwrap_or_default();
        assert_eq!(
            metadata["annotations"]["io.kubewarden.policy.title"],
            json!("u")
        );
        assert_eq!(metadata["annotations"][ANNOTATION_USAGE], json!("readme"));
    }

    #[test]
    fn large_sections_use_multi_byte_sizes() {
        let readme = "x".repeat(70_000);
        let annotated = annotate(&tiny_module(), METADATA, "v1", Some(&readme)).unwrap();
        let metadata = read_metadata(&annotated).unwrap().unwrap_or_default();
        assert_eq!(metadata["annotations"][ANNOTATION_USAGE], json!(readme));
    }

    #[test]
    fn leb128_round_trips_and_rejects_overflow() {
        for value in [0, 1, 127, 128, 300, 70_000, u32::MAX] {
            let mut bytes = Vec::new();
            write_u32(&mut bytes, value);
            let mut at = 0;
            assert_eq!(read_u32(&bytes, &mut at).unwrap(), value);
            assert_eq!(at, bytes.len());
        }
        let mut at = 0;
        assert!(read_u32(&[0xff, 0xff, 0xff, 0xff, 0x1f], &mut at).is_err());
        let mut at = 0;
        assert!(read_u32(&[0x80, 0x80], &mut at).is_err());
    }

    #[test]
    fn refuses_what_is_not_a_module() {
        assert!(annotate(b"\0asm\x02\0\0\0", METADATA, "v1", None).is_err());
        let mut truncated = tiny_module();
        truncated.truncate(truncated.len() - 2);
        assert!(read_metadata(&truncated).is_err());
    }

    #[test]
    fn refuses_invalid_metadata() {
        let bad_operation = METADATA.replace("\"UPDATE\"", "\"PATCH\"");
        assert!(metadata_json(&bad_operation, "v1", None).is_err());
        let star_and_more = METADATA.replace("[\"secrets\"]", "[\"*\", \"secrets\"]");
        assert!(metadata_json(&star_and_more, "v1", None).is_err());
        assert!(metadata_json(METADATA, "Unknown", None).is_err());
        assert!(metadata_json("rules: []", "v1", None).is_err()); // mutating is required
    }
}
