//! Report tests: snapshots of the Markdown and JUnit, schema validation, results.json round trip.

use std::path::Path;
use std::process::Command;

use super::fixtures;
use super::*;

// ---------- summary.md ----------

#[test]
fn markdown_of_a_passing_run() {
    let md = markdown(&fixtures::passing());
    assert!(
        md.starts_with("## ✅ loadgate: checkout-api passed\n"),
        "{md}"
    );
    assert!(md.contains("```mermaid\nxychart-beta"));
    insta::assert_snapshot!("markdown_passing", md);
}

#[test]
fn markdown_of_a_failing_run() {
    let md = markdown(&fixtures::failing());
    assert!(
        md.starts_with("## ❌ loadgate: checkout-api failed (3 of 6 thresholds)\n"),
        "{md}"
    );
    assert!(md.contains("> [!WARNING]"));
    assert!(md.contains("_no data_"));
    assert!(
        md.contains("Sample failures (4)"),
        "3 status samples + 1 timeout"
    );
    // The hostile body stays inside its code block, and the warning's markup is neutralised.
    assert!(md.contains("````text\n{\"error\":\"```boom``` <script>"));
    assert!(!md.contains("<b>"));
    insta::assert_snapshot!("markdown_failing", md);
}

#[test]
fn markdown_of_a_partial_run() {
    let md = markdown(&fixtures::partial());
    assert!(
        md.starts_with(
            "## ❌ loadgate: checkout-api failed (1 of 1 threshold) — partial results\n"
        ),
        "{md}"
    );
    assert!(md.contains("> **Stopped early:** aborted by threshold \\`p99 &lt; 100ms\\`"));
    insta::assert_snapshot!("markdown_partial", md);
}

#[test]
fn template_renders_a_minimal_run_with_strict_undefined() {
    let md = markdown::render(&fixtures::minimal()).expect("renders");
    assert!(md.starts_with("## ✅ loadgate: checkout-api passed\n"));
    assert!(md.contains("_No thresholds were checked._"));
    assert!(!md.contains("### By label"));
    assert!(!md.contains("mermaid"), "no chart without a timeline");
    assert!(!md.contains("\n\n\n"), "no runs of blank lines:\n{md}");
    insta::assert_snapshot!("markdown_minimal", md);
}

#[test]
fn the_environment_rejects_undefined_values() {
    let env = markdown::environment().expect("template compiles");
    let err = env.render_str("{{ nothing_here }}", minijinja::context! {});
    assert!(err.is_err(), "strict undefined must be on");
}

#[test]
fn a_failed_run_without_thresholds_says_failed() {
    let mut r = fixtures::minimal();
    r.passed = false;
    assert!(markdown(&r).starts_with("## ❌ loadgate: checkout-api failed\n"));
}

#[test]
fn over_three_samples_of_a_kind_are_not_shown() {
    let mut r = fixtures::failing();
    let extra = r.failures[0].clone();
    r.failures.push(extra.clone());
    r.failures.push(extra);
    assert!(markdown(&r).contains("Sample failures (4)"));
}

#[test]
fn load_model_and_context_are_one_line() {
    let md = markdown(&fixtures::failing());
    let context = md.lines().nth(2).unwrap_or_default();
    assert!(
        context.contains("run `20261126-180000-abc123`"),
        "{context}"
    );
    assert!(
        context.contains("`local` executor · 2 workers · 5 s"),
        "{context}"
    );
    assert!(
        context.contains("open model: 30/s, ramp-up 0s, hold 5s, at most 100 in flight"),
        "{context}"
    );
}

// ---------- junit.xml ----------

#[test]
fn junit_of_a_failing_run() {
    let xml = junit(&fixtures::failing());
    assert!(xml.contains("<testsuite name=\"loadgate: checkout-api\" tests=\"6\""));
    assert!(xml.contains("classname=\"loadgate.checkout-api.create-order\""));
    assert!(xml.contains("message=\"error_rate = "));
    assert!(xml.contains("message=\"p95 has no data, limit &lt; 200 ms\""));
    insta::assert_snapshot!("junit_failing", xml);
}

#[test]
fn junit_of_a_partial_run_notes_it() {
    let xml = junit(&fixtures::partial());
    assert!(xml.contains("<system-out>Partial results: stopped early: aborted by threshold"));
    assert!(xml.contains("(scenario line 14)"));
}

#[test]
fn junit_without_thresholds_has_one_case() {
    let xml = junit(&fixtures::minimal());
    assert!(xml.contains("tests=\"1\""));
    assert!(xml.contains("<testcase name=\"run completed\" classname=\"loadgate.checkout-api\""));
    assert!(!xml.contains("<failure"));
}

fn xsd() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/report/junit.xsd"
    ))
}

/// Jenkins xunit-plugin's schema, vendored (see tests/fixtures/report/README.md).
fn jenkins_xsd() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/report/junit-10.xsd"
    ))
}

/// The common junit-4.xsd (Jenkins dtkit), vendored (see tests/fixtures/report/README.md).
fn dtkit_xsd() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/report/junit-4.xsd"
    ))
}

/// Runs xmllint; Err(output) when the document is invalid. Fails the test when xmllint is not
/// installed: a skipped validation would look like a passed one.
fn validate(xml: &str) -> Result<(), String> {
    validate_with(xml, xsd())
}

fn validate_with(xml: &str, xsd: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).expect("write junit.xml");
    let out = match Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd)
        .arg(&file)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("xmllint is not installed: apt-get update && apt-get install -y libxml2-utils")
        }
        Err(e) => panic!("cannot run xmllint: {e}"),
    };
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Issue 14 item 17: junit.xml failed junit-10.xsd (`disabled` on `<testsuite>`) and junit-4.xsd
/// (`message` on `<skipped>`); test cases had no `time`; twin thresholds had the same name.
#[test]
fn junit_is_valid_for_strict_consumers() {
    let mut skipping = fixtures::compared();
    let twin = skipping.thresholds[0].clone();
    let mut abort_twin = twin.clone();
    abort_twin.abort = true;
    skipping.thresholds.push(twin);
    skipping.thresholds.push(abort_twin);
    for (name, r) in [
        ("passing", fixtures::passing()),
        ("failing", fixtures::failing()),
        ("partial", fixtures::partial()),
        ("minimal", fixtures::minimal()),
        ("compared", skipping.clone()),
    ] {
        let xml = junit(&r);
        if let Err(e) = validate_with(&xml, jenkins_xsd()) {
            panic!("{name} against junit-10.xsd: {e}\n{xml}");
        }
        if let Err(e) = validate_with(&xml, dtkit_xsd()) {
            panic!("{name} against junit-4.xsd: {e}\n{xml}");
        }
        assert!(!xml.contains("disabled="), "{name}");
        // Every test case has a time.
        assert_eq!(
            xml.matches("<testcase ").count(),
            xml.matches("<testcase name=").count()
        );
        for case in xml.split("<testcase ").skip(1) {
            let head = case.split('>').next().unwrap_or_default();
            assert!(head.contains(" time=\""), "{name}: {head}");
        }
        // Names are unique per class.
        let mut keys: Vec<String> = xml
            .split("<testcase ")
            .skip(1)
            .map(|c| {
                c.split('>')
                    .next()
                    .unwrap_or_default()
                    .replace(" time=", "|")
            })
            .map(|head| head.split('|').next().unwrap_or_default().to_string())
            .collect();
        let all = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all, "{name}: duplicate test names\n{xml}");
    }
    let xml = junit(&skipping);
    assert!(xml.contains("<skipped>skipped: "), "{xml}");
    assert!(xml.contains(" (abort)\""), "{xml}");
}

#[test]
fn junit_validates_against_the_schema() {
    for (name, r) in [
        ("passing", fixtures::passing()),
        ("failing", fixtures::failing()),
        ("partial", fixtures::partial()),
        ("minimal", fixtures::minimal()),
    ] {
        if let Err(e) = validate(&junit(&r)) {
            panic!("{name}: {e}");
        }
    }
}

/// The two vendored schemas refuse what loadgate used to write, so their checks above are live.
#[test]
fn the_strict_schemas_refuse_the_old_shapes() {
    let skipped_with_message = "<?xml version=\"1.0\"?><testsuites><testsuite name=\"s\" tests=\"1\">\
        <testcase name=\"c\" classname=\"k\" time=\"0\"><skipped message=\"no baseline\"/></testcase>\
        </testsuite></testsuites>";
    assert!(validate_with(skipped_with_message, dtkit_xsd()).is_err());
    let disabled_suite = "<?xml version=\"1.0\"?><testsuites><testsuite name=\"s\" tests=\"1\" \
        disabled=\"0\"><testcase name=\"c\" classname=\"k\" time=\"0\"/></testsuite></testsuites>";
    assert!(validate_with(disabled_suite, jenkins_xsd()).is_err());
}

#[test]
fn the_schema_rejects_what_it_should() {
    let bad = "<?xml version=\"1.0\"?><testsuites><testsuite tests=\"1\">\
               <testcase/></testsuite></testsuites>";
    assert!(validate(bad).is_err(), "a suite and case without names");
}

#[test]
fn junit_survives_hostile_names() {
    let mut r = fixtures::failing();
    r.scenario = "a\u{1}<b>&\"c\"".to_string();
    r.thresholds[0].expr = "p95 < 300ms ]]> \u{0}".to_string();
    validate(&junit(&r)).expect("still valid XML");
}

// ---------- results.json ----------

#[test]
fn json_round_trips_through_write_all_and_read_results() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("nested/loadgate-report");
    let original = fixtures::failing();
    let written = write_all(&original, &out).expect("written");
    assert_eq!(written.json, out.join("results.json"));
    assert!(written.summary.is_file() && written.junit.is_file());
    let text = std::fs::read_to_string(&written.json).expect("read");
    assert!(text.ends_with("}\n"));
    let back = read_results(&written.json).expect("reads back");
    assert_eq!(json(&back), text);
    assert_eq!(back.total, original.total);
    assert_eq!(back.thresholds, original.thresholds);
    assert_eq!(back.failures, original.failures);
    assert_eq!(back.stopped, original.stopped);
    // The histograms survive too: the aggregate rebuilds with every sample.
    let agg = back.to_aggregate().expect("histograms decode");
    assert_eq!(agg.total.response_time.len(), original.total.requests - 1);
}

#[test]
fn json_holds_every_key_of_the_contract() {
    let value: serde_json::Value =
        serde_json::from_str(&json(&fixtures::failing())).expect("valid JSON");
    let has = |pointer: &str| {
        assert!(value.pointer(pointer).is_some(), "missing {pointer}");
    };
    for key in [
        "schema",
        "scenario",
        "run_id",
        "executor",
        "workers",
        "passed",
        "partial",
        "started_at",
        "duration_s",
        "labels",
        "thresholds",
        "timeline",
        "histograms",
    ] {
        has(&format!("/{key}"));
    }
    let summary = [
        "requests",
        "errors",
        "error_rate",
        "rps",
        "dropped",
        "bytes_sent",
        "bytes_received",
        "ttfb_ms",
        "connect_ms",
        "status",
        "error_kinds",
    ];
    let percentiles = ["min", "avg", "p50", "p90", "p95", "p99", "p99.9", "max"];
    for base in ["/total", "/labels/home"] {
        for key in summary {
            has(&format!("{base}/{key}"));
        }
        for key in percentiles {
            has(&format!("{base}/response_time_ms/{key}"));
            has(&format!("{base}/ttfb_ms/{key}"));
            has(&format!("{base}/connect_ms/{key}"));
        }
    }
    for key in [
        "expr", "label", "metric", "op", "limit", "actual", "unit", "passed",
    ] {
        has(&format!("/thresholds/0/{key}"));
    }
    for key in ["t", "requests", "errors", "p50_ms", "p95_ms", "p99_ms"] {
        has(&format!("/timeline/0/{key}"));
    }
    has("/histograms/total/response_time");
    has("/histograms/labels/home/response_time");
    assert_eq!(value["schema"], "loadgate/results/v1");
    assert_eq!(value["thresholds"][1]["unit"], "%");
    assert_eq!(value["thresholds"][0]["op"], "<");
}

fn read_error(text: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("r.json");
    std::fs::write(&path, text).expect("write");
    match read_results(&path) {
        Ok(_) => panic!("{text} was accepted"),
        Err(e) => {
            assert!(matches!(e, Error::Input(_)), "{e:?} is not an input error");
            let message = e.to_string();
            assert!(message.contains("r.json"), "names the file: {message}");
            message
        }
    }
}

#[test]
fn bad_results_files_are_input_errors_saying_what_is_wrong() {
    let e = read_error("{\n  \"schema\": ");
    assert!(e.contains("not valid JSON") && e.contains("line 2"), "{e}");

    let e = read_error("{\"name\": \"a package.json\"}");
    assert!(e.contains("not a loadgate results file"), "{e}");

    let e = read_error("{\"schema\": \"loadgate/results/v2\"}");
    assert!(e.contains("\"loadgate/results/v2\""), "{e}");

    let e = read_error("{\"schema\": 1}");
    assert!(e.contains("\"schema\" is 1"), "{e}");

    let e = read_error("{\n\"schema\": \"loadgate/results/v1\",\n\"scenario\": 42\n}");
    assert!(e.contains("invalid results") && e.contains("line 3"), "{e}");
}

#[test]
fn a_missing_results_file_is_an_input_error() {
    let e =
        read_results(Path::new("/nonexistent/loadgate/results.json")).expect_err("missing file");
    assert!(e
        .to_string()
        .contains("/nonexistent/loadgate/results.json: cannot read"));
    assert_eq!(e.exit_code(), crate::error::EXIT_INVALID_INPUT);
}

// ---------- against a baseline ----------

#[test]
fn markdown_against_a_baseline() {
    let md = markdown(&fixtures::compared());
    assert!(
        md.starts_with("## ❌ loadgate: checkout-api failed (1 of 6 thresholds)\n"),
        "a skipped threshold is not a failed one:\n{md}"
    );
    assert!(
        md.contains("**Baseline:** run `20261126-180000-abc123` on `main` · commit `0123456789ab`")
    );
    assert!(md.contains("**vs main:** 🔴 p95 "), "{md}");
    assert!(md.contains("| ⏭️ | `search: p95 < baseline` |"), "{md}");
    assert!(
        md.contains("_skipped: the baseline run has no \\`p95\\` of label \\`search\\`_"),
        "{md}"
    );
    assert!(
        md.contains("(baseline "),
        "a relative limit names its baseline value"
    );
    assert!(md.contains("(+18% 🔴)"), "{md}");
    assert!(
        md.contains("(+30% 🔴)"),
        "create-order is 30% slower:\n{md}"
    );
    assert!(md.contains("<details><summary>Every figure vs main</summary>"));
    insta::assert_snapshot!("markdown_compared", md);
}

#[test]
fn junit_shows_skipped_thresholds_as_skipped() {
    let xml = junit(&fixtures::compared());
    assert!(
        xml.contains("<skipped>skipped: the baseline run has no `p95` of label `search`</skipped>"),
        "{xml}"
    );
    assert!(xml.contains("(baseline "), "{xml}");
}

#[test]
fn comparison_markdown_alone() {
    let md = comparison_markdown(&fixtures::compared());
    assert!(md.starts_with("## loadgate compare: checkout-api\n"));
    assert!(md.contains("| Figure | main | This run | Change |"));
    assert!(md.contains("| create-order: p95 |"));
    assert!(comparison_markdown(&fixtures::passing()).contains("_No baseline to compare with._"));
}

#[test]
fn a_local_run_counts_its_engine_threads_not_workers() {
    let mut r = fixtures::passing();
    r.executor = "local".into();
    r.generator = Some(crate::results::Generator {
        parts: 2,
        cpu_max: None,
        sched_lag_ms: None,
    });
    assert!(markdown(&r).contains("2 engine threads"));
    r.executor = "fargate".into();
    r.workers = 3;
    assert!(markdown(&r).contains("3 workers"));
}
