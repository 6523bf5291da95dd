//! History and baseline through the binary: a run recorded on main, then a pull request's run
//! against a slower target, compared with it.

use std::time::Duration;

use loadgate::target::{Latency, Route};

use crate::harness::{Ran, Test};

const SCENARIO: &str = r#"
name: checkout
target: "{target}"
load: { concurrency: 4, hold_for: 1s }
requests:
  - { name: home, path: /home }
  - { name: checkout, path: /checkout }
thresholds:
  - error_rate < 1%
  - p95 < baseline + 10%
  - "checkout: p95 < baseline + 10%"
"#;

/// CI variables of the machine running the tests must not leak into these runs: empty is unset.
const CI_VARS: [&str; 8] = [
    "GITHUB_HEAD_REF",
    "GITHUB_BASE_REF",
    "GITHUB_REF_NAME",
    "GITHUB_SHA",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_SHA",
];

fn test(history: &str, checkout: Duration, env: &[(&str, &str)], args: &[&str]) -> Ran {
    let mut t = Test::new()
        .scenario(SCENARIO)
        .target(vec![
            Route::ok("/home"),
            Route::ok("/checkout").latency(Latency::Fixed(checkout)),
        ])
        .args(&["run", "--threads", "2", "--history", history])
        .args(args);
    for var in CI_VARS {
        t = t.env(var, "");
    }
    for (k, v) in env {
        t = t.env(k, v);
    }
    t.run()
}

#[test]
fn a_pull_request_that_slows_an_endpoint_fails_its_relative_threshold() {
    let history = tempfile::tempdir().expect("temp dir");
    let history_dir = history.path().to_str().expect("utf-8 path");

    // On main: nothing to compare with yet, so the relative thresholds are skipped, not failed.
    let main = test(
        history_dir,
        Duration::ZERO,
        &[("GITHUB_SHA", "1111111111111111111111111111111111111111")],
        &["--branch", "main"],
    );
    main.code(0);
    let results = main.results();
    assert_eq!(results["branch"], "main");
    assert_eq!(results["thresholds"][1]["skipped"], true);
    assert!(main.stdout.contains("⏭️"), "{}", main.stdout);
    assert!(main
        .read("loadgate-report/junit.xml")
        .contains("<skipped>skipped: "));
    assert!(main.path("loadgate-report/report.html").is_file());

    // A pull request from `feature` into main, against a checkout 60 ms slower.
    let pr = test(
        history_dir,
        Duration::from_millis(60),
        &[
            ("GITHUB_HEAD_REF", "feature"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_REF_NAME", "7/merge"),
            ("GITHUB_SHA", "2222222222222222222222222222222222222222"),
        ],
        &[],
    );
    pr.code(1);
    let results = pr.results();
    assert_eq!(results["branch"], "feature");
    assert_eq!(results["baseline"]["branch"], "main");
    assert_eq!(results["baseline"]["run_id"], main.results()["run_id"]);
    assert_eq!(
        results["baseline"]["commit"],
        "1111111111111111111111111111111111111111"
    );
    let relative = &results["thresholds"][2];
    assert_eq!(relative["expr"], "checkout: p95 < baseline + 10%");
    assert_eq!(relative["passed"], false, "{relative}");
    // The limit comes from main's run (its own p95 of checkout), not from this slower one.
    let main_p95 = main.results()["labels"]["checkout"]["response_time_ms"]["p95"]
        .as_f64()
        .expect("main's checkout p95");
    let base = relative["baseline"].as_f64().expect("a baseline value");
    assert!(
        (base - main_p95).abs() <= main_p95 * 0.001 + 0.001,
        "{relative} vs main's p95 {main_p95}"
    );
    assert!(relative["actual"].as_f64() >= Some(60.0), "{relative}");
    let summary = pr.read("loadgate-report/summary.md");
    assert!(summary.contains("**Baseline:** run `"), "{summary}");
    assert!(
        summary.contains("on `main` · commit `111111111111`"),
        "{summary}"
    );
    assert!(summary.contains("🔴 checkout: p95 "), "{summary}");
    assert!(summary.contains("vs main)"), "{summary}");
    assert!(
        summary.contains("| ❌ | `checkout: p95 < baseline + 10%` |"),
        "{summary}"
    );
    let html = pr.read("loadgate-report/report.html");
    assert!(
        html.contains("<title>main p95</title>"),
        "baseline overlaid"
    );

    // A PR's run is recorded under its own branch and never becomes main's baseline.
    let listed = Test::new()
        .args(&["history", "checkout", "--history", history_dir])
        .run();
    listed.code(0);
    assert!(
        listed.stdout.contains("checkout · feature\n"),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains("checkout · main\n"),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains("2222222"), "{}", listed.stdout);
    // (Its verdict is not asserted: sub-millisecond p95s of two runs on a busy machine differ
    // by more than 10%, which is exactly what the relative threshold checks.)
    let main_again = test(history_dir, Duration::ZERO, &[], &["--branch", "main"]);
    assert!(
        main_again.code == 0 || main_again.code == 1,
        "{}",
        main_again.stderr
    );
    assert_eq!(
        main_again.results()["baseline"]["run_id"],
        main.results()["run_id"]
    );

    // The same comparison on its own.
    let compared = Test::new()
        .args(&[
            "compare",
            main.path("loadgate-report/results.json")
                .to_str()
                .expect("utf-8"),
            pr.path("loadgate-report/results.json")
                .to_str()
                .expect("utf-8"),
        ])
        .run();
    compared.code(0);
    assert!(
        compared.stdout.contains("| checkout: p95 |"),
        "{}",
        compared.stdout
    );
    assert!(compared.stdout.contains("🔴"), "{}", compared.stdout);
}

#[test]
fn an_unreadable_baseline_path_is_invalid_input_before_any_load() {
    let history = tempfile::tempdir().expect("temp dir");
    let ran = test(
        history.path().to_str().expect("utf-8 path"),
        Duration::ZERO,
        &[],
        &["--baseline", "nowhere/results.json"],
    );
    ran.code(2);
    assert!(
        ran.stderr.contains("nowhere/results.json"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.target().total(), 0, "no load was sent");
}

#[test]
fn baseline_none_skips_relative_thresholds_and_still_records() {
    let history = tempfile::tempdir().expect("temp dir");
    let ran = test(
        history.path().to_str().expect("utf-8 path"),
        Duration::ZERO,
        &[],
        &["--baseline", "none", "--branch", "release/1.2"],
    );
    ran.code(0);
    let reason = &ran.results()["thresholds"][1]["reason"];
    assert!(
        reason
            .as_str()
            .is_some_and(|r| r.contains("--baseline none")),
        "{reason}"
    );
    assert!(history.path().join("checkout/release%2F1.2").is_dir());
}
