//! One snapshot of the rendered diagnostic for each kind of bad input.

use super::tests::{parse, MINIMAL_HEAD};

/// The rendered error for `source`; panics if it parses.
fn rendered(source: &str) -> String {
    match parse(source) {
        Ok(_) => panic!("expected an error for:\n{source}"),
        Err(err) => err.to_string(),
    }
}

/// A valid scenario whose `requests` are `requests` (indented list items).
fn with_requests(requests: &str) -> String {
    format!("{MINIMAL_HEAD}requests:\n{requests}")
}

macro_rules! snapshot {
    ($name:ident, $source:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), rendered(&$source));
        }
    };
}

snapshot!(
    unknown_key_top_level,
    "name: x\ntarget: https://h\nlod:\n  concurrency: 1\n"
);
snapshot!(
    unknown_key_nested,
    with_requests("  - path: /\n    heders: { X-A: b }\n")
);
snapshot!(
    unknown_key_in_load,
    "name: x\nload:\n  concurency: 5\n  hold_for: 1m\nrequests: [{ url: 'https://h' }]\n"
);
snapshot!(
    wrong_type_integer,
    format!("{MINIMAL_HEAD}workers: many\nrequests: [{{ path: / }}]\n")
);
snapshot!(
    wrong_type_list,
    format!("{MINIMAL_HEAD}requests:\n  path: /\n")
);
snapshot!(
    missing_key,
    "target: https://h\nload: { concurrency: 1, hold_for: 1s }\nrequests: [{ path: / }]\n"
);
snapshot!(bad_duration_bare_number, "name: x\ntarget: https://h\nload:\n  concurrency: 1\n  hold_for: 30\nrequests: [{ path: / }]\n");
snapshot!(bad_duration_unit, "name: x\ntarget: https://h\nload:\n  concurrency: 1\n  hold_for: 5 minutes\nrequests: [{ path: / }]\n");
snapshot!(
    bad_rate,
    "name: x\ntarget: https://h\nload:\n  rate: 100/d\n  hold_for: 1m\nrequests: [{ path: / }]\n"
);
snapshot!(bad_url_target, "name: x\ntarget: staging.example.com\nload: { concurrency: 1, hold_for: 1s }\nrequests: [{ path: / }]\n");
snapshot!(bad_url_scheme, "name: x\nload: { concurrency: 1, hold_for: 1s }\nrequests:\n  - url: ftp://files.example.com/a\n");
snapshot!(path_without_slash, with_requests("  - path: orders\n"));
snapshot!(
    path_without_target,
    "name: x\nload: { concurrency: 1, hold_for: 1s }\nrequests:\n  - path: /orders\n"
);
snapshot!(bad_method, with_requests("  - path: /\n    method: PSOT\n"));
snapshot!(empty_request_list, format!("{MINIMAL_HEAD}requests: []\n"));
snapshot!(
    undefined_variable,
    with_requests("  - path: /\n    headers:\n      X-Key: \"key ${API_TOKN}\"\n")
);
snapshot!(both_load_models, "name: x\ntarget: https://h\nload:\n  concurrency: 10\n  rate: 100/s\n  hold_for: 1m\nrequests: [{ path: / }]\n");
snapshot!(
    neither_load_model,
    "name: x\ntarget: https://h\nload:\n  ramp_up: 10s\n  hold_for: 1m\nrequests: [{ path: / }]\n"
);
snapshot!(think_time_with_rate, "name: x\ntarget: https://h\nload:\n  rate: 100/s\n  hold_for: 1m\n  think_time: 1s\nrequests: [{ path: / }]\n");
snapshot!(max_in_flight_with_concurrency, "name: x\ntarget: https://h\nload:\n  concurrency: 5\n  hold_for: 1m\n  max_in_flight: 10\nrequests: [{ path: / }]\n");
snapshot!(
    missing_hold_for,
    "name: x\ntarget: https://h\nload:\n  concurrency: 5\nrequests: [{ path: / }]\n"
);
snapshot!(
    path_and_url,
    with_requests("  - path: /a\n    url: https://other.example/a\n")
);
snapshot!(
    neither_path_nor_url,
    with_requests("  - name: lost\n    method: GET\n")
);
snapshot!(
    body_and_body_file,
    with_requests(
        "  - path: /\n    method: POST\n    body: '{}'\n    body_file: payloads/order.json\n"
    )
);
snapshot!(
    missing_body_file,
    with_requests("  - path: /\n    method: POST\n    body_file: payloads/nope.json\n")
);
snapshot!(
    bad_status_code,
    with_requests("  - path: /\n    expect: { status: [200, 99] }\n")
);
snapshot!(
    fargate_memory_mismatch,
    format!("{MINIMAL_HEAD}requests: [{{ path: / }}]\nfargate:\n  cpu: 1024\n  memory: 1024\n")
);
snapshot!(
    fargate_bad_cpu,
    format!("{MINIMAL_HEAD}requests: [{{ path: / }}]\nfargate: {{ cpu: 1000 }}\n")
);
snapshot!(
    min_workers_above_workers,
    format!("{MINIMAL_HEAD}workers: 2\nrequests: [{{ path: / }}]\nfargate: {{ min_workers: 3 }}\n")
);
snapshot!(
    ca_file_not_pem,
    format!("{MINIMAL_HEAD}requests: [{{ path: / }}]\ntls: {{ ca_file: certs/not-a-cert.pem }}\n")
);
snapshot!(
    yaml_bad_indentation,
    "name: x\n  target: https://h\nload: { concurrency: 1, hold_for: 1s }\n"
);
snapshot!(
    yaml_unclosed_flow,
    "name: x\ntarget: https://h\nload: { concurrency: 1, hold_for: 1s\nrequests: [{ path: / }]\n"
);
snapshot!(duplicate_key, "name: x\nname: y\n");
snapshot!(empty_file, "# nothing here yet\n\n");
snapshot!(non_mapping_document, "- name: x\n- target: https://h\n");
snapshot!(scalar_document, "just some words\n");
snapshot!(empty_name, format!("name: ''\ntarget: https://h\nload: {{ concurrency: 1, hold_for: 1s }}\nrequests: [{{ path: / }}]\n"));
snapshot!(
    bad_header_name,
    with_requests("  - path: /\n    headers: { Bad Name: x }\n")
);
snapshot!(
    zero_workers,
    format!("{MINIMAL_HEAD}workers: 0\nrequests: [{{ path: / }}]\n")
);

/// A valid scenario with one request named `create-order` and these thresholds.
fn with_thresholds(thresholds: &str) -> String {
    format!("{MINIMAL_HEAD}requests:\n  - {{ name: create-order, path: /orders }}\nthresholds:\n{thresholds}")
}

snapshot!(
    bad_threshold_unit,
    with_thresholds("  - p95 < 300ms\n  - p99 < 3xs\n")
);
snapshot!(
    bad_threshold_quoted,
    with_thresholds("  - \"create-order: p95 >> 500ms\"\n")
);
snapshot!(
    bad_threshold_in_mapping,
    with_thresholds("  - { expr: 'p99 < 2 seconds', abort: true, after: 30s }\n")
);
snapshot!(bad_threshold_metric, with_thresholds("  - pp95 < 300ms\n"));
snapshot!(
    unknown_threshold_label,
    with_thresholds("  - \"create-ordr: p95 < 500ms\"\n")
);
snapshot!(
    unknown_threshold_label_far,
    with_thresholds("  - 'checkout: p95 < 500ms'\n")
);
snapshot!(
    threshold_mapping_without_expr,
    with_thresholds("  - { abort: true }\n")
);
snapshot!(
    threshold_mapping_unknown_key,
    with_thresholds("  - { expr: p99 < 2s, abort: true, afer: 30s }\n")
);
snapshot!(threshold_not_a_string, with_thresholds("  - [p95, 300]\n"));
snapshot!(
    key_in_the_wrong_section,
    format!("{MINIMAL_HEAD}timeout: 5s\nrequests: [{{ path: / }}]\n")
);
