//! The `{{ ... }}` template parser alone: any text parses or gives an error that points at a `{{`
//! inside it (the invariants are in `loadgate::scenario::fuzzing::template`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        loadgate::scenario::fuzzing::template(text);
    }
});
