//! waPC entry points of a policy module (wasm32 only).

use wapc_guest::{register_function, CallResult};

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
        host_call(namespace, operation, payload)
    }
}

#[link(wasm_import_module = "wapc")]
extern "C" {
    fn __host_call(
        binding_ptr: *const u8,
        binding_len: usize,
        namespace_ptr: *const u8,
        namespace_len: usize,
        operation_ptr: *const u8,
        operation_len: usize,
        payload_ptr: *const u8,
        payload_len: usize,
    ) -> usize;
    fn __host_response_len() -> usize;
    fn __host_response(ptr: *mut u8);
    fn __host_error_len() -> usize;
    fn __host_error(ptr: *mut u8);
}

/// waPC's `host_call` on the `kubewarden` binding, but an answer too large
/// for the memory left is an error, not a trap (`wapc_guest::host_call`
/// would abort on the allocation).
fn host_call(namespace: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
    let binding = "kubewarden";
    // SAFETY: each pointer and length describe a live slice.
    let succeeded = unsafe {
        __host_call(
            binding.as_ptr(),
            binding.len(),
            namespace.as_ptr(),
            namespace.len(),
            operation.as_ptr(),
            operation.len(),
            payload.as_ptr(),
            payload.len(),
        )
    } == 1;
    // SAFETY: the host reports the length of what it then copies in.
    let (len, copy): (usize, unsafe extern "C" fn(*mut u8)) = unsafe {
        if succeeded {
            (__host_response_len(), __host_response)
        } else {
            (__host_error_len(), __host_error)
        }
    };
    let mut buffer: Vec<u8> = Vec::new();
    if buffer.try_reserve_exact(len).is_err() {
        return Err(format!(
            "the answer is {len} bytes, more than the memory left"
        ));
    }
    // SAFETY: the buffer holds `len` bytes, all of which the host writes.
    unsafe {
        copy(buffer.as_mut_ptr());
        buffer.set_len(len);
    }
    if succeeded {
        Ok(buffer)
    } else {
        Err(["Host error: ", &String::from_utf8_lossy(&buffer)].concat())
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
