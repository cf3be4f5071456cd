//! waPC entry points of a policy module (wasm32 only).

use wapc_guest::{host_call, register_function, CallResult};

use crate::arena::Arena;
use crate::host::Host;
use crate::policy::{self, Rule};
use crate::response::to_json;

/// Each call's allocations come from a bump arena reclaimed by the next call.
#[global_allocator]
pub(crate) static ALLOCATOR: Arena<std::alloc::System> = Arena::new(std::alloc::System);

struct WapcHost;

impl Host for WapcHost {
    fn call(&self, namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        host_call("kubewarden", namespace, operation, payload).map_err(|e| e.to_string())
    }
}

/// Registers `validate`, `validate_settings` and `protocol_version` for `R`.
pub fn register<R: Rule>() {
    register_function("validate", validate::<R>);
    register_function("validate_settings", validate_settings::<R>);
    register_function("protocol_version", protocol_version);
}

fn validate<R: Rule>(payload: &[u8]) -> CallResult {
    ALLOCATOR.scope(|| Ok(to_json(&policy::validate::<R>(payload, &WapcHost))))
}

fn validate_settings<R: Rule>(payload: &[u8]) -> CallResult {
    ALLOCATOR.scope(|| Ok(to_json(&policy::validate_settings::<R>(payload))))
}

fn protocol_version(_: &[u8]) -> CallResult {
    Ok(br#""v1""#.to_vec())
}

/// Registers the bundle's `validate`, `validate_settings` and `protocol_version`.
pub fn register_bundle() {
    register_function("validate", validate_bundle);
    register_function("validate_settings", validate_bundle_settings);
    register_function("protocol_version", protocol_version);
}

fn validate_bundle(payload: &[u8]) -> CallResult {
    ALLOCATOR.scope(|| Ok(to_json(&crate::bundle::validate(payload, &WapcHost))))
}

fn validate_bundle_settings(payload: &[u8]) -> CallResult {
    ALLOCATOR.scope(|| Ok(to_json(&crate::bundle::validate_settings(payload))))
}
