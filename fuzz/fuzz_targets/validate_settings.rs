//! The input is the `validate_settings` payload (the settings document).
#![no_main]

use crash_guard_fuzz::{check_settings, init, select};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: init(), |data: &[u8]| {
    let Some((rule, payload)) = select(data) else {
        return;
    };
    let response = (rule.validate_settings)(payload);
    check_settings(rule, &response);
});
