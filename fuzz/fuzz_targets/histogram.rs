//! The HdrHistogram V2 (+ DEFLATE) decoder on arbitrary bytes: declared lengths are checked
//! before anything is allocated for them.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(h) = loadgate::stats::decode(&text) {
        // A decoded histogram re-encodes and decodes to the same counts.
        let again = loadgate::stats::decode(&loadgate::stats::encode(&h)).expect("round trip");
        assert_eq!(again.len(), h.len());
    }
});
