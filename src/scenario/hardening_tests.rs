//! Issue 14's scenario regressions: secrets in encoded forms and short values (1-4), sizes no
//! generator can hold (6), unbounded reads and excerpts (7-8), library wording (9).

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;

use super::parse_str;
use super::tests::MINIMAL_HEAD;

fn parse_with(source: &str, env: &[(&str, &str)]) -> Result<super::Loaded, super::ScenarioError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse_str(
        source,
        "loadgate.yaml",
        Path::new("tests/fixtures/scenario"),
        &env,
    )
}

/// Item 2: a secret in a path, a query or a host came out percent-encoded or lower-cased, which
/// masking the raw value missed.
#[test]
fn a_secret_is_masked_in_the_forms_urls_give_it() {
    let source = "name: s\ntarget: https://${HOST}/\nload: { concurrency: 1, hold_for: 1s }\n\
                  requests:\n  - path: /a/${TOKEN}?k=${TOKEN}\n";
    let loaded = parse_with(
        source,
        &[("TOKEN", "sek ret\"<x>"), ("HOST", "Secret-Host.Example")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let plan = &loaded.plan;
    let url = &plan.requests[0].url;
    assert!(url.contains("sek%20ret%22%3Cx%3E"), "{url}");
    assert!(url.contains("secret-host.example"), "{url}");
    let described = super::describe(plan, 1);
    for form in ["sek%20ret", "sek ret", "secret-host", "Secret-Host"] {
        assert!(!described.contains(form), "{form} in:\n{described}");
    }
    assert_eq!(plan.secrets.mask(url), "https://***/a/***?k=***");
}

/// Item 3: short values were never masked and empty values were accepted silently.
#[test]
fn short_and_empty_values_are_errors_unless_a_default_is_given() {
    let source = format!("{MINIMAL_HEAD}requests:\n  - path: /${{V}}\n");
    let err = parse_with(&source, &[("V", "abc")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("environment variable V is shorter than 4 characters"),
        "{err}"
    );
    assert!(err.contains("loadgate.yaml:5:"), "{err}");
    assert!(!err.contains("abc"), "{err}");
    let err = parse_with(&source, &[("V", "")]).unwrap_err().to_string();
    assert!(err.contains("environment variable V is empty"), "{err}");
    assert!(err.contains("${V:-value}"), "{err}");
    let err = parse_with(&source, &[]).unwrap_err().to_string();
    assert!(err.contains("environment variable V is not set"), "{err}");
    let with_default = format!("{MINIMAL_HEAD}requests:\n  - path: /${{V:-x}}\n");
    let plan = parse_with(&with_default, &[("V", "")]).unwrap().plan;
    assert!(
        plan.requests[0].url.ends_with("/api/x"),
        "{}",
        plan.requests[0].url
    );
    let plan = parse_with(&with_default, &[("V", "long-enough")])
        .unwrap()
        .plan;
    assert!(plan.requests[0].url.ends_with("/long-enough"));
    assert_eq!(plan.secrets.mask("long-enough"), "***");
}

/// Item 4: userinfo in `target` was silently dropped. It is sent as Basic auth, masked.
#[test]
fn userinfo_becomes_basic_auth_and_leaves_the_url() {
    let source = "name: s\ntarget: http://user:${PW}@h.example/api\n\
                  load: { concurrency: 1, hold_for: 1s }\n\
                  requests:\n  - path: /a\n  - url: http://other:p%40ss@h.example/b\n  - path: /c\n    headers: { Authorization: Bearer x }\n";
    let plan = parse_with(source, &[("PW", "pa ss:word")]).unwrap().plan;
    let token = base64::engine::general_purpose::STANDARD.encode("user:pa ss:word");
    assert_eq!(plan.target, "http://h.example/api");
    assert_eq!(plan.requests[0].url, "http://h.example/api/a");
    let auth = |i: usize| {
        plan.requests[i]
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(auth(0), Some(format!("Basic {token}")));
    let other = base64::engine::general_purpose::STANDARD.encode("other:p@ss");
    assert_eq!(auth(1), Some(format!("Basic {other}")));
    assert_eq!(plan.requests[1].url, "http://h.example/b");
    // The scenario's own header wins.
    assert_eq!(auth(2), Some("Bearer x".to_string()));
    assert_eq!(plan.secrets.mask(&format!("Basic {token}")), "Basic ***");
    assert_eq!(plan.secrets.mask(&format!("Basic {other}")), "Basic ***");
}

/// Item 6: `concurrency: 10000000` passed validation and then ran out of memory.
#[test]
fn sizes_no_generator_can_hold_are_refused_with_the_limit() {
    let source = "name: s\ntarget: http://h\nload: { concurrency: 10000000, hold_for: 1s }\nrequests: [{ path: / }]\n";
    let err = parse_with(source, &[]).unwrap_err().to_string();
    assert!(
        err.contains("more than 50000 connections at once for 1 worker(s)"),
        "{err}"
    );
    assert!(err.contains("workers"), "{err}");
    let spread = source.replace("load:", "workers: 200\nload:");
    parse_with(&spread, &[]).unwrap_or_else(|e| panic!("{e}"));
    let open = "name: s\ntarget: http://h\nload: { rate: 10/s, hold_for: 1s, max_in_flight: 60000 }\nrequests: [{ path: / }]\n";
    let err = parse_with(open, &[]).unwrap_err().to_string();
    assert!(err.contains("`max_in_flight` is 60000"), "{err}");
    // The default in-flight bound of a huge rate stays within what one generator holds.
    let huge = "name: s\ntarget: http://h\nload: { rate: 1000000000000/s, hold_for: 1s }\nrequests: [{ path: / }]\n";
    let plan = parse_with(huge, &[]).unwrap().plan;
    match plan.load {
        crate::plan::LoadPlan::Open { max_in_flight, .. } => assert_eq!(max_in_flight, 50_000),
        other => panic!("{other:?}"),
    }
}

/// Item 7: `body_file` or `ca_file` naming a device, a FIFO or a huge file read without bound
/// (or blocked forever).
#[test]
fn body_and_ca_files_are_bounded_and_must_be_regular_files() {
    let body =
        format!("{MINIMAL_HEAD}requests:\n  - {{ path: /, method: POST, body_file: /dev/zero }}\n");
    let err = parse_with(&body, &[]).unwrap_err().to_string();
    assert!(
        err.contains("cannot read body_file `/dev/zero`: it is a device, not a regular file"),
        "{err}"
    );
    let ca = format!("{MINIMAL_HEAD}tls: {{ ca_file: /dev/zero }}\nrequests: [{{ path: / }}]\n");
    let err = parse_with(&ca, &[]).unwrap_err().to_string();
    assert!(err.contains("it is a device"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'x'; 2 << 20]).unwrap();
    for (file, expected) in [(&fifo, "a FIFO"), (&big, "larger than 1 MB")] {
        let source = format!(
            "{MINIMAL_HEAD}tls: {{ ca_file: '{}' }}\nrequests: [{{ path: / }}]\n",
            file.display()
        );
        let err = parse_with(&source, &[]).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

/// Item 8: a 50 MB one-line scenario got its whole line back on stderr.
#[test]
fn an_error_on_a_huge_line_shows_an_excerpt() {
    let line = format!("name: x\ntarget: http://h\nload: {{ concurrency: 1, hold_for: 1s }}\nrequests: [{{ path: /, bogus: '{}' }}]\n", "y".repeat(5 << 20));
    let err = parse_with(&line, &[]).unwrap_err().to_string();
    assert!(err.len() < 4096, "{} bytes of error", err.len());
    assert!(err.contains("unknown key `bogus`"), "{err}");
    assert!(err.contains('…'), "{err}");
}

fn with_headers(n: usize) -> String {
    let mut source = format!("{MINIMAL_HEAD}defaults:\n  headers:\n");
    for i in 0..n / 2 {
        source.push_str(&format!("    X-D{i}: v\n"));
    }
    source.push_str("requests:\n  - path: /\n    headers:\n");
    for i in 0..n / 2 {
        // Half override a default (in another case), half are new.
        if i % 2 == 0 {
            source.push_str(&format!("      x-d{i}: w\n"));
        } else {
            source.push_str(&format!("      X-R{i}: w\n"));
        }
    }
    source
}

/// Item 8: 100k request headers took 16.7 s: the merge looked each name up linearly. Compared,
/// not timed: ten times the headers must cost about ten times the work (a quadratic step makes it
/// a hundred), so the slower of the two is allowed 35 times the faster, whatever the machine.
#[test]
fn resolving_headers_is_linear_in_their_number() {
    let best = |n: usize| {
        let source = with_headers(n);
        (0..3)
            .map(|_| {
                let started = std::time::Instant::now();
                let plan = parse_with(&source, &[])
                    .unwrap_or_else(|e| panic!("{e}"))
                    .plan;
                assert_eq!(plan.requests[0].headers.len(), n / 2 + n / 4);
                started.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let small = best(4_000);
    let large = best(40_000);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    assert!(
        ratio < 35.0,
        "10x the headers took {ratio:.0}x the time ({small:?} -> {large:?})"
    );
    let plan = parse_with(&with_headers(8), &[]).unwrap().plan;
    let headers = &plan.requests[0].headers;
    assert_eq!(headers[0], ("x-d0".to_string(), "w".to_string()));
    assert_eq!(headers[1], ("X-D1".to_string(), "v".to_string()));
}

/// Item 9: parser limits leaked the library's wording.
#[test]
fn parser_limits_are_said_in_words() {
    let two = format!("{MINIMAL_HEAD}requests: [{{ path: / }}]\n---\nname: y\n");
    let err = parse_with(&two, &[]).unwrap_err().to_string();
    assert!(err.contains("more than one YAML document"), "{err}");
    assert!(!err.contains("from_str_multiple"), "{err}");
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
        .iter()
        .enumerate()
    {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            ["b", "c", "d", "e", "f", "g", "h", "i"][i - 1].to_string()
        };
        bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let err = parse_with(&bomb, &[]).unwrap_err().to_string();
    assert!(!err.contains("budget breached"), "{err}");
    let null = format!("{MINIMAL_HEAD}requests:\n  - {{ path: /, headers: {{ X-A: null }} }}\n");
    let err = parse_with(&null, &[]).unwrap_err().to_string();
    assert!(err.contains("found nothing (null)"), "{err}");
    assert!(!err.contains("Option<String>"), "{err}");
    assert!(!err.contains("Aliases"), "{err}");
}
