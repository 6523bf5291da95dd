//! The plain-http client's response parser (head, then body framing) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head_request = data.first().is_some_and(|b| b & 1 == 1);
    if let Some(status) = loadgate::engine::fuzzing::http1_response(data, head_request) {
        assert!((100..=599).contains(&status), "status {status}");
    }
});
