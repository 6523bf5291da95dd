//! The scenario as a whole: DESIGN.md's example, secrets, and never panicking on any input.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::plan::LoadPlan;

pub(super) const FIXTURES: &str = "tests/fixtures/scenario";
pub(super) const EXAMPLE: &str = include_str!("../../tests/fixtures/scenario/design-example.yaml");
pub(super) const TOKEN: &str = "tok-9f8e7d6c5b4a";

pub(super) fn env() -> HashMap<String, String> {
    HashMap::from([
        ("API_TOKEN".to_string(), TOKEN.to_string()),
        (
            "STAGING_HOST".to_string(),
            "staging.internal.example".to_string(),
        ),
    ])
}

pub(super) fn parse(source: &str) -> Result<Loaded, ScenarioError> {
    parse_str(source, "loadgate.yaml", Path::new(FIXTURES), &env())
}

/// The example with its load section switched to DESIGN.md's open-model variant.
fn open_example() -> String {
    let closed =
        "  concurrency: 200                    # virtual users in total, divided among workers\n";
    assert!(
        EXAMPLE.contains(closed),
        "the example's load section changed"
    );
    EXAMPLE
        .replace(closed, "  rate: 1000/s\n")
        .replace("  think_time: 0s\n", "  max_in_flight: 5000\n")
}

#[test]
fn design_example_parses_into_the_expected_plan() {
    let loaded = parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let plan = &loaded.plan;
    assert_eq!(plan.name, "checkout-api");
    assert_eq!(plan.source, "loadgate.yaml");
    assert_eq!(plan.target, "https://staging.example.com/");
    assert_eq!(plan.labels, ["home", "create-order"]);
    assert_eq!(
        plan.load,
        LoadPlan::Closed {
            concurrency: 200,
            ramp_up: Duration::from_secs(30),
            hold_for: Duration::from_secs(300),
            think_time: Duration::ZERO,
        }
    );
    assert_eq!(plan.timeout, Duration::from_secs(10));
    assert_eq!(plan.workers, 4);

    let bearer = ("Authorization".to_string(), format!("Bearer {TOKEN}"));
    let home = &plan.requests[0];
    assert_eq!((home.name.as_str(), home.label), ("home", 0));
    assert_eq!(home.method, "GET");
    assert_eq!(home.url, "https://staging.example.com/");
    assert_eq!(home.headers, std::slice::from_ref(&bearer));
    assert_eq!(home.body, None);
    assert!(home.expect_status.is_empty());
    let order = &plan.requests[1];
    assert_eq!((order.name.as_str(), order.label), ("create-order", 1));
    assert_eq!(order.method, "POST");
    assert_eq!(order.url, "https://staging.example.com/orders");
    assert_eq!(
        order.headers,
        [
            bearer,
            ("Content-Type".to_string(), "application/json".to_string())
        ]
    );
    assert_eq!(order.body.as_deref(), Some(r#"{"sku": "A-1"}"#));
    assert_eq!(order.expect_status, [201]);

    assert!(plan
        .tls
        .ca_pem
        .as_deref()
        .is_some_and(|p| p.contains("BEGIN CERTIFICATE")));
    assert!(!plan.tls.insecure);
    assert_eq!(plan.fargate.cpu, 1024);
    assert_eq!(plan.fargate.memory, 2048);
    assert!(!plan.fargate.spot);
    assert_eq!(plan.fargate.min_workers, 4);
    assert_eq!(plan.fargate.max_cost_usd, Some(5.0));
    assert_eq!(plan.secrets.values(), [TOKEN]);

    assert!(!plan.default_threshold);
    let exprs: Vec<&str> = plan
        .thresholds
        .iter()
        .map(|t| t.threshold.expr.as_str())
        .collect();
    assert_eq!(
        exprs,
        [
            "p95 < 300ms",
            "p99 < 1s",
            "error_rate < 1%",
            "rps > 150",
            "create-order: p95 < 500ms",
            "p99 < 2s"
        ]
    );
    let first = &plan.thresholds[0];
    assert_eq!((first.line, first.column, first.abort), (28, 5, false));
    let labelled = &plan.thresholds[4];
    assert_eq!(labelled.threshold.label.as_deref(), Some("create-order"));
    let live = &plan.thresholds[5];
    assert!(live.abort);
    assert_eq!(live.after, Duration::from_secs(30));
    assert_eq!(live.line, 33);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn design_example_open_variant_parses() {
    let loaded = parse(&open_example()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        loaded.plan.load,
        LoadPlan::Open {
            rate: 1000.0,
            ramp_up: Duration::from_secs(30),
            hold_for: Duration::from_secs(300),
            max_in_flight: 5000,
        }
    );
}

#[test]
fn open_variant_is_described_per_part() {
    let plan = parse(&open_example())
        .unwrap_or_else(|e| panic!("{e}"))
        .plan;
    let text = describe(&plan, 4);
    assert!(text.contains("open model: 1000 arrivals/s"), "{text}");
    assert!(
        text.contains("4 parts: 4 x 250/s (max 1250 in flight)"),
        "{text}"
    );
}

#[test]
fn questionable_settings_are_warned_about() {
    let source = format!(
        "{MINIMAL}tls: {{ insecure: true }}\nthresholds:\n  - {{ expr: p95 < 1s, after: 10s }}\n"
    );
    let loaded = parse(&source).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("`after` has an effect only with `abort: true`"));
    assert!(loaded.warnings[1].contains("not verified"));
    assert!(loaded.plan.tls.insecure);
}

#[test]
fn load_reads_the_file_and_names_it() {
    let path = Path::new(FIXTURES).join("design-example.yaml");
    let loaded = load(&path, &env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.plan.source, path.display().to_string());
    let missing = load(Path::new("no/such/loadgate.yaml"), &env()).unwrap_err();
    let text = missing.to_string();
    assert!(text.contains("no/such/loadgate.yaml"), "{text}");
    assert!(text.contains("os error 2"), "{text}");
}

/// The keys before `requests` of a small valid scenario.
pub(super) const MINIMAL_HEAD: &str =
    "name: smoke\ntarget: https://h.example/api/\nload: { concurrency: 2, hold_for: 10s }\n";
const MINIMAL: &str = "name: smoke\ntarget: https://h.example/api/\nload: { concurrency: 2, hold_for: 10s }\nrequests:\n  - path: /orders\n";

#[test]
fn minimal_scenario_gets_defaults_and_a_default_threshold() {
    let loaded = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    let plan = &loaded.plan;
    assert_eq!(plan.requests[0].url, "https://h.example/api/orders");
    assert_eq!(plan.labels, ["GET /orders"]);
    assert_eq!(plan.workers, 1);
    assert_eq!(plan.timeout, Duration::from_secs(10));
    assert_eq!(plan.fargate.min_workers, 1);
    assert!(plan.default_threshold);
    assert_eq!(plan.thresholds.len(), 1);
    assert_eq!(plan.thresholds[0].threshold.expr, "error_rate < 1%");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("every request failed"));
}

#[test]
fn requests_with_one_name_share_a_label_and_headers_merge() {
    let source = "name: x\ntarget: http://127.0.0.1:8080\ndefaults:\n  headers: { accept: text/plain, X-A: a }\nload: { rate: 60/m, hold_for: 1m }\nrequests:\n  - { name: read, path: /a, method: get, headers: { Accept: application/json } }\n  - { path: /b, method: delete }\n  - { name: read, url: 'http://127.0.0.1:9090/c?x=1', expect: { status: 204 } }\n";
    let plan = parse(source).unwrap_or_else(|e| panic!("{e}")).plan;
    assert_eq!(plan.labels, ["read", "DELETE /b"]);
    let labels: Vec<usize> = plan.requests.iter().map(|r| r.label).collect();
    assert_eq!(labels, [0, 1, 0]);
    assert_eq!(plan.requests[0].method, "GET");
    assert_eq!(
        plan.requests[0].headers,
        [
            ("Accept".to_string(), "application/json".to_string()),
            ("X-A".to_string(), "a".to_string())
        ]
    );
    assert_eq!(plan.requests[2].url, "http://127.0.0.1:9090/c?x=1");
    assert_eq!(plan.requests[2].expect_status, [204]);
    match plan.load {
        LoadPlan::Open {
            rate,
            max_in_flight,
            ..
        } => {
            assert!((rate - 1.0).abs() < 1e-9);
            assert_eq!(max_in_flight, 1000);
        }
        other => panic!("expected the open model, got {other:?}"),
    }
}

#[test]
fn body_file_is_read_relative_to_the_scenario_and_substituted() {
    let source = format!("{MINIMAL}    method: POST\n    body_file: payloads/order.json\n");
    let plan = parse(&source).unwrap_or_else(|e| panic!("{e}")).plan;
    let body = plan.requests[0].body.clone().unwrap_or_default();
    assert!(body.contains(TOKEN), "{body}");
    assert!(body.starts_with(r#"{"sku": "A-1""#));
    assert_eq!(plan.secrets.values(), [TOKEN]);
}

#[test]
fn literal_dollar_brace_is_kept() {
    let source = format!("{MINIMAL}    body: 'price: $${{AMOUNT}}'\n");
    let plan = parse(&source).unwrap_or_else(|e| panic!("{e}")).plan;
    assert_eq!(plan.requests[0].body.as_deref(), Some("price: ${AMOUNT}"));
    assert!(plan.secrets.is_empty());
}

#[test]
fn secrets_stay_out_of_describe_and_errors() {
    let source = "name: secretive\ntarget: https://${STAGING_HOST}/v1\ndefaults:\n  headers: { Authorization: \"Bearer ${API_TOKEN}\" }\nload: { concurrency: 3, hold_for: 1m }\nrequests:\n  - path: /me\n";
    let plan = parse(source).unwrap_or_else(|e| panic!("{e}")).plan;
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        plan.requests[0].headers,
        [("Authorization".to_string(), bearer)]
    );
    assert_eq!(
        plan.requests[0].url,
        "https://staging.internal.example/v1/me"
    );
    assert!(plan.secrets.values().iter().any(|v| v == TOKEN));
    let text = describe(&plan, 2);
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!text.contains("staging.internal.example"), "{text}");
    assert!(text.contains("https://***/v1/me"), "{text}");

    // An error on the very line that holds the reference shows the reference, not the value.
    let bad = source.replace("\" }", "\", Bad Name: x }");
    let err = parse(&bad).unwrap_err().to_string();
    assert!(err.contains("${API_TOKEN}"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");

    // A substituted value that breaks the URL is not quoted back either.
    let mut broken = env();
    broken.insert("STAGING_HOST".to_string(), "bad host:99999".to_string());
    let err = parse_str(source, "s.yaml", Path::new(FIXTURES), &broken)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("bad host"), "{err}");
    assert!(err.contains("${STAGING_HOST}"), "{err}");
}

#[test]
fn describe_tells_the_plan_in_words() {
    let plan = parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}")).plan;
    let text = describe(&plan, 3);
    assert!(text.contains("closed model: 200 virtual users"), "{text}");
    assert!(
        text.contains("3 parts: 2 x 67 users, 1 x 66 users"),
        "{text}"
    );
    assert!(text.contains("duration    5m30s"), "{text}");
    assert!(
        text.contains(
            "p95 < 300ms  -> 95th percentile of response time, all requests, must be < 300 ms"
        ),
        "{text}"
    );
    assert!(
        text.contains("checked live after 30s; a breach stops the run"),
        "{text}"
    );
    assert!(text.contains("requests `create-order`"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    insta::assert_snapshot!("describe_design_example", text);
}

fn yamlish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "name:",
        "load:",
        "requests:",
        "- ",
        "  ",
        "\n",
        "path: /",
        "url:",
        "{",
        "}",
        "[",
        "]",
        ",",
        "\"",
        "'",
        "${",
        "}",
        "$${",
        "rate: 1/s",
        "concurrency:",
        "hold_for: 1s",
        "&a",
        "*a",
        "<<:",
        "#",
        "thresholds:",
        "- p95 < 1ms",
        "expect:",
        "status:",
        "99",
        "-1",
        "1e999",
        "~",
        "null",
        ":",
        "fargate: {cpu: 256, memory: 1536}",
        "body_file: x",
        "\t",
        "é",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn yaml_ish_text_never_panics(text in yamlish()) {
        let _ = parse(&text);
    }
}

#[test]
fn every_prefix_of_the_example_is_handled() {
    for (end, _) in EXAMPLE.char_indices() {
        let _ = parse(&EXAMPLE[..end]);
    }
    let open = open_example();
    for (end, _) in open.char_indices().step_by(7) {
        let _ = parse(&open[..end]);
    }
}
