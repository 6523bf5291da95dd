//! The JSON Schema (schema/loadgate.schema.json) agrees with the binary (issue 14 item 18): over
//! a corpus of scenarios, `loadgate validate` accepts exactly those the schema accepts. The
//! schema is checked by an independent validator, Python's `jsonschema` in the tools venv
//! (`scripts/tools.sh python check-jsonschema`, which brings it and ruamel.yaml).

use std::path::PathBuf;
use std::process::Command;

use crate::harness::Test;

const HEAD: &str = "name: x\ntarget: http://h.example\nload: { concurrency: 1, hold_for: 1s }\n";

/// (name, scenario, the binary accepts it).
fn corpus() -> Vec<(&'static str, String, bool)> {
    let with = |requests: &str| format!("{HEAD}requests:\n{requests}");
    vec![
        ("minimal", with("  - path: /\n"), true),
        ("url instead of path", with("  - url: https://h.example/a?b=1\n"), true),
        ("scheme in capitals", with("  - url: HTTPS://h.example/a\n"), true),
        ("url from a variable", with("  - url: \"${URL}\"\n"), true),
        ("header as a number", with("  - path: /\n    headers: { X-Count: 5 }\n"), true),
        ("header as a boolean", with("  - path: /\n    headers: { X-On: true }\n"), true),
        ("body as a number", with("  - { path: /, method: POST, body: 5 }\n"), true),
        (
            "concurrency quoted",
            "name: x\ntarget: http://h.example\nload: { concurrency: '10', hold_for: 1s }\nrequests: [{ path: / }]\n".into(),
            true,
        ),
        (
            "workers quoted",
            format!("{HEAD}workers: '2'\nrequests: [{{ path: / }}]\n"),
            true,
        ),
        (
            "insecure quoted",
            format!("{HEAD}tls: {{ insecure: 'true' }}\nrequests: [{{ path: / }}]\n"),
            true,
        ),
        (
            "hold_for 0s with a ramp-up",
            "name: x\ntarget: http://h.example\nload: { concurrency: 1, ramp_up: 2s, hold_for: 0s }\nrequests: [{ path: / }]\n".into(),
            true,
        ),
        (
            "open model",
            "name: x\ntarget: http://h.example\nload: { rate: 10/s, hold_for: 1s, max_in_flight: '50' }\nrequests: [{ path: / }]\n".into(),
            true,
        ),
        ("no target, absolute url", "name: x\nload: { concurrency: 1, hold_for: 1s }\nrequests: [{ url: http://h.example/ }]\n".into(), true),
        // Refused by the binary.
        ("body and body_file", with("  - { path: /, body: a, body_file: b.json }\n"), false),
        ("path and url", with("  - { path: /, url: http://h.example/ }\n"), false),
        ("neither path nor url", with("  - { method: GET }\n"), false),
        (
            "hold_for 0s alone",
            "name: x\ntarget: http://h.example\nload: { concurrency: 1, hold_for: 0s }\nrequests: [{ path: / }]\n".into(),
            false,
        ),
        (
            "hold_for 0ms with a zero ramp-up",
            "name: x\ntarget: http://h.example\nload: { concurrency: 1, ramp_up: 0s, hold_for: 0ms }\nrequests: [{ path: / }]\n".into(),
            false,
        ),
        (
            "target not a URL",
            "name: x\ntarget: staging.example\nload: { concurrency: 1, hold_for: 1s }\nrequests: [{ path: / }]\n".into(),
            false,
        ),
        (
            "target with a query",
            "name: x\ntarget: http://h.example/?a=1\nload: { concurrency: 1, hold_for: 1s }\nrequests: [{ path: / }]\n".into(),
            false,
        ),
        ("url not a URL", with("  - url: h.example/a\n"), false),
        ("path without a slash", with("  - path: orders\n"), false),
        (
            "concurrency zero, quoted",
            "name: x\ntarget: http://h.example\nload: { concurrency: '0', hold_for: 1s }\nrequests: [{ path: / }]\n".into(),
            false,
        ),
        (
            "concurrency not a number",
            "name: x\ntarget: http://h.example\nload: { concurrency: many, hold_for: 1s }\nrequests: [{ path: / }]\n".into(),
            false,
        ),
        ("unknown key", with("  - { path: /, heders: {} }\n"), false),
        ("status as a string", with("  - { path: /, expect: { status: '200' } }\n"), false),
    ]
}

fn venv_python() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/tools/venv/bin/python"
    ))
}

const VALIDATE: &str = r#"
import json, sys
import jsonschema
from ruamel.yaml import YAML
schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft202012Validator(schema)
yaml = YAML(typ="safe")
for path in sys.argv[2:]:
    errors = list(validator.iter_errors(yaml.load(open(path))))
    print(path, "valid" if not errors else "invalid:" + errors[0].message.replace("\n", " "))
"#;

#[test]
fn the_schema_accepts_exactly_what_the_binary_accepts() {
    let python = venv_python();
    assert!(
        python.exists(),
        "{} is missing: run `scripts/tools.sh python check-jsonschema==0.39.0`",
        python.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let corpus = corpus();
    let mut files = Vec::new();
    for (i, (name, yaml, binary_ok)) in corpus.iter().enumerate() {
        let ran = Test::new()
            .file("s.yaml", yaml)
            .env("URL", "http://h.example/from-env")
            .args(&["validate", "s.yaml"])
            .run();
        assert_eq!(
            ran.code == 0,
            *binary_ok,
            "{name}: the binary says {}\n{}",
            ran.code,
            ran.stderr
        );
        let file = dir.path().join(format!("{i}.yaml"));
        std::fs::write(&file, yaml).expect("write");
        files.push(file);
    }
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/loadgate.schema.json");
    let out = Command::new(&python)
        .arg("-c")
        .arg(VALIDATE)
        .arg(schema)
        .args(&files)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = verdicts.lines().collect();
    assert_eq!(lines.len(), corpus.len(), "{verdicts}");
    let mut disagreements = Vec::new();
    for ((name, _, binary_ok), line) in corpus.iter().zip(lines) {
        let schema_ok = line.split_once(' ').is_some_and(|(_, v)| v == "valid");
        if schema_ok != *binary_ok {
            disagreements.push(format!("{name}: binary {binary_ok}, schema {line}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
