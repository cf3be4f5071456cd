//! The input is the whole `validate` payload, as the waPC host sends it.
//! Lookups fail (the structured target feeds them answers).
#![no_main]

use crash_guard_fuzz::{check_validation, init, select, FuzzHost};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: init(), |data: &[u8]| {
    let Some((rule, payload)) = select(data) else {
        return;
    };
    let response = (rule.validate)(payload, &FuzzHost::Fails);
    check_validation(rule, &response);
});
