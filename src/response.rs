//! The Kubewarden policy protocol's response documents.

use serde::Serialize;

/// Answer of the `validate` waPC function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub mutated_object: Option<serde_json::Value>,
    pub audit_annotations: Option<serde_json::Map<String, serde_json::Value>>,
    pub warnings: Option<Vec<String>>,
}

impl ValidationResponse {
    pub fn accept(warnings: Vec<String>) -> Self {
        Self {
            accepted: true,
            message: None,
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: non_empty(warnings),
        }
    }

    pub fn reject(message: String, code: Option<u16>, warnings: Vec<String>) -> Self {
        Self {
            accepted: false,
            message: Some(message),
            code,
            mutated_object: None,
            audit_annotations: None,
            warnings: non_empty(warnings),
        }
    }
}

/// Answer of the `validate_settings` waPC function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsValidationResponse {
    pub valid: bool,
    pub message: Option<String>,
}

fn non_empty(warnings: Vec<String>) -> Option<Vec<String>> {
    if warnings.is_empty() {
        None
    } else {
        Some(warnings)
    }
}

/// Serialises a response; these types cannot fail to serialise, but a policy
/// must never trap, so a failure still yields a valid document.
pub fn to_json<T: Serialize>(response: &T) -> Vec<u8> {
    serde_json::to_vec(response).unwrap_or_else(|_| {
        br#"{"accepted":false,"message":"crash-guard: cannot encode the response","code":500}"#
            .to_vec()
    })
}
