//! The results.json reader (with every histogram decoded) and the reports rendered from what it
//! accepts: what `loadgate report`, `compare` and `--baseline` do with a file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(results) = loadgate::report::parse_results(text, "fuzz.json") {
        let _ = loadgate::report::markdown(&results);
        let _ = loadgate::report::junit(&results);
        let _ = loadgate::report::html(&results);
        let _ = loadgate::report::json(&results);
    }
});
