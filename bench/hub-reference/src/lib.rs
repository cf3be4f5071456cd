//! Refuses privileged containers, the way the hub's Rust policies do it:
//! the whole request, then the whole object, decoded into full types.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{PodSpec, SecurityContext};
use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::settings::Validatable;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{accept_request, logging, reject_request};
use serde::{Deserialize, Serialize};
use slog::{info, o, Logger};

#[derive(Serialize, Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    skip_init_containers: bool,
    skip_ephemeral_containers: bool,
}

impl Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

static LOG: LazyLock<Logger> = LazyLock::new(|| {
    Logger::root(
        logging::KubewardenDrain::new(),
        o!("policy" => "hub-reference"),
    )
});

#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function(
        "validate_settings",
        kubewarden_policy_sdk::validate_settings::<Settings>,
    );
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

pub fn validate(payload: &[u8]) -> CallResult {
    let request: ValidationRequest<Settings> = ValidationRequest::new(payload)?;
    info!(LOG, "starting validation");
    match request.extract_pod_spec_from_object() {
        Ok(Some(spec)) => match privileged(&spec, &request.settings) {
            Some(what) => reject_request(
                Some(format!("Privileged {what} is not allowed")),
                None,
                None,
                None,
            ),
            None => accept_request(),
        },
        Ok(None) => accept_request(),
        Err(_) => reject_request(
            Some("Cannot parse validation request".into()),
            None,
            None,
            None,
        ),
    }
}

fn any_privileged<'a>(mut contexts: impl Iterator<Item = Option<&'a SecurityContext>>) -> bool {
    contexts.any(|c| c.and_then(|c| c.privileged).unwrap_or(false))
}

fn privileged(spec: &PodSpec, settings: &Settings) -> Option<&'static str> {
    let init = spec.init_containers.iter().flatten();
    let ephemeral = spec.ephemeral_containers.iter().flatten();
    if any_privileged(spec.containers.iter().map(|c| c.security_context.as_ref())) {
        Some("container")
    } else if !settings.skip_init_containers
        && any_privileged(init.map(|c| c.security_context.as_ref()))
    {
        Some("init container")
    } else if !settings.skip_ephemeral_containers
        && any_privileged(ephemeral.map(|c| c.security_context.as_ref()))
    {
        Some("ephemeral container")
    } else {
        None
    }
}
