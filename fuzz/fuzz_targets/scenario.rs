//! The scenario loader: YAML text to a plan, with `${VAR}` substitution. Any input either loads
//! or is a diagnostic; the diagnostic's rendering is bounded whatever the input's size.
#![no_main]

use std::collections::HashMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env: HashMap<String, String> = HashMap::from([
        ("TOKEN".to_string(), "s3cr3t-Token/?#%".to_string()),
        ("HOST".to_string(), "Example.COM".to_string()),
        ("SHORT".to_string(), "ab".to_string()),
        ("EMPTY".to_string(), String::new()),
    ]);
    // The secret may only come from the environment: an input that writes it itself is quoted
    // back as the scenario's own text, which is no leak.
    let own_text = text.contains("s3cr3t");
    // No file is read: body_file and ca_file point into a directory that does not exist.
    match loadgate::scenario::parse_str(text, "fuzz.yaml", Path::new("/nonexistent/fuzz"), &env) {
        Ok(loaded) => {
            let described = loadgate::scenario::describe(&loaded.plan, 3);
            assert!(
                own_text || !described.contains("s3cr3t"),
                "a secret in validate's output"
            );
        }
        Err(err) => {
            let shown = err.to_string();
            assert!(own_text || !shown.contains("s3cr3t"), "a secret in an error");
            // The excerpt and the messages are cut: never the whole input back.
            assert!(shown.len() < 16 * 1024, "{} bytes", shown.len());
        }
    }
});
