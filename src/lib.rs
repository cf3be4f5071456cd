//! Shared validation logic of the crash-guard Kubewarden policies.
//!
//! Each rule is a pure function from a decoded request and its settings to a
//! [`violation::Verdict`]; [`policy`] turns that into the Kubewarden protocol,
//! and [`export_policy!`] wires a rule to the waPC entry points of a module.
//!
//! A policy must never panic on any input (a trap is a 500, and with
//! `failurePolicy: Fail` it blocks the cluster), so outside tests the crate
//! refuses the constructs that can: unwraps, indexing, explicit panics.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod apiserver;
pub mod arena;
pub mod btree;
pub mod bundle;
pub mod canonical_json;
pub mod exemptions;
pub mod host;
pub mod json;
pub mod json_path;
pub mod memcmp;
pub mod policy;
pub mod quantity;
pub mod registry;
pub mod request;
pub mod response;
pub mod selector;
pub mod settings;
pub mod text;
pub mod utf8;
pub mod violation;

// Rules, one module each, and the models they share.
pub mod api_rate_limit;
pub mod daemonset_guard;
pub mod network_policy;
pub mod object_count;
pub mod object_size;
pub mod shoot;
pub mod shoot_hardening;
pub mod staged_rollout;
pub mod system_networkpolicy;
pub mod webhook_safety;
pub mod workload;

#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
#[doc(hidden)]
pub mod wapc;

/// Exports rule `$rule` as a Kubewarden waPC policy module. Expands to nothing
/// outside wasm32-wasip1, so the workspace builds and tests natively and the
/// playground builds for the browser.
#[macro_export]
macro_rules! export_policy {
    ($rule:ty) => {
        #[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
        #[no_mangle]
        pub extern "C" fn wapc_init() {
            $crate::wapc::register::<$rule>();
        }
    };
}

/// Exports the bundle (every rule in one module) as a waPC policy module.
#[macro_export]
macro_rules! export_bundle {
    () => {
        #[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
        #[no_mangle]
        pub extern "C" fn wapc_init() {
            $crate::wapc::register_bundle();
        }
    };
}
