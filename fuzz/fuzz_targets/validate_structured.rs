//! Structure-aware: the input is turned into a valid `validate` envelope, so
//! the fuzzer spends its time in the rule rather than in the envelope decoder.
//!
//! Input: byte 0 picks the operation, bit 0 of byte 1 makes lookups fail (else
//! they answer the host-body section), then NUL-separated sections:
//! `object \0 oldObject \0 settings \0 userInfo \0 host body`. JSON never holds a
//! raw NUL, so fixtures written this way (fuzz/seed.py) mutate into more of the
//! same. An empty section is absent; a section that is not JSON is rejected
//! (the `validate` target covers malformed payloads). The request's kind, name
//! and namespace come from the object (or oldObject), as the harness builds them.
#![no_main]

use crash_guard_fuzz::{check_validation, init, select, FuzzHost};
use libfuzzer_sys::{fuzz_target, Corpus};
use serde_json::{json, Value};

const OPERATIONS: [&str; 5] = ["CREATE", "UPDATE", "DELETE", "CONNECT", "PATCH"];

/// A JSON section: `null` when empty, `None` when not JSON.
fn section(bytes: Option<&[u8]>) -> Option<&str> {
    let bytes = bytes.unwrap_or_default();
    if bytes.is_empty() {
        return Some("null");
    }
    let text = std::str::from_utf8(bytes).ok()?;
    serde_json::from_str::<&serde_json::value::RawValue>(text).ok()?;
    Some(text)
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> &'v str {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fuzz_target!(init: init(), |data: &[u8]| -> Corpus {
    let Some((rule, input)) = select(data) else {
        return Corpus::Reject;
    };
    let [operation, host_mode, rest @ ..] = input else {
        return Corpus::Reject;
    };
    let mut parts = rest.splitn(5, |b| *b == 0);
    let (Some(object), Some(old_object), Some(settings), Some(user_info)) = (
        section(parts.next()),
        section(parts.next()),
        section(parts.next()),
        section(parts.next()),
    ) else {
        return Corpus::Reject;
    };
    let host_body = parts.next().unwrap_or_default();

    let parsed = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let subject = match parsed(object) {
        Value::Null => parsed(old_object),
        value => value,
    };
    let api_version = str_at(&subject, &["apiVersion"]);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let request = json!({
        "uid": "fuzz",
        "kind": {"group": group, "version": version, "kind": str_at(&subject, &["kind"])},
        "name": str_at(&subject, &["metadata", "name"]),
        "namespace": str_at(&subject, &["metadata", "namespace"]),
        "operation": OPERATIONS[usize::from(*operation) % OPERATIONS.len()],
        "dryRun": false,
    })
    .to_string();
    let user_info = if user_info == "null" {
        r#"{"username":"kubernetes-admin","groups":["system:masters","system:authenticated"]}"#
    } else {
        user_info
    };
    // The request built above ends in `}`: splice the raw sections in before it.
    let payload = format!(
        r#"{{"request":{},"userInfo":{user_info},"object":{object},"oldObject":{old_object}}},"settings":{settings}}}"#,
        &request[..request.len() - 1],
    );
    let host = if host_mode & 1 == 1 {
        FuzzHost::Fails
    } else {
        FuzzHost::Answers(host_body)
    };
    let response = (rule.validate)(payload.as_bytes(), &host);
    check_validation(rule, &response);
    if response.code == Some(crash_guard::policy::BAD_REQUEST) {
        let message = response.message.as_deref().unwrap_or("");
        // The envelope is valid by construction: only the object, oldObject,
        // settings or a lookup answer may be refused as undecodable.
        assert!(
            !message.contains("the validate payload"),
            "{}: a valid envelope was refused: {message}",
            rule.name
        );
    }
    Corpus::Keep
});
