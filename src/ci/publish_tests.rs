//! `publish` on a simulated GitHub Actions runner without a token: everything that needs no API,
//! in process, with the workflow commands snapshotted.

use std::path::Path;

use super::tests::Vars;
use super::{publish_with, Publish};
use crate::report::{self, Written};
use crate::results::{Results, RunMeta};
use crate::scenario;
use crate::stats::Aggregate;
use crate::threshold;

const SCENARIO: &str = "name: api
target: http://127.0.0.1:9
defaults:
  headers: { Authorization: \"Bearer ${API_TOKEN}\" }
load: { concurrency: 1, hold_for: 1s }
requests:
  - { name: home, path: / }
thresholds:
  - p95 < 300ms
  - \"home: requests > 10\"
";

fn results(plan: &crate::plan::Plan) -> Results {
    let meta = RunMeta {
        scenario: plan.name.clone(),
        run_id: "20261126T180000Z-0001".into(),
        executor: "local".into(),
        workers: 1,
        started_at: "2026-11-26T18:00:00Z".into(),
        partial: false,
        load: None,
    };
    let agg = Aggregate::new(&plan.labels);
    let mut results = Results::new(meta, &agg);
    results.thresholds = threshold::evaluate(&plan.thresholds, &agg);
    results.passed = results.thresholds.iter().all(|t| t.passed);
    results.warnings = vec![
        "the load generator was saturated: 100% of a core\nsecond line".into(),
        "a message that quotes the token tok-4242-secret".into(),
    ];
    results
}

#[test]
fn github_commands_summary_and_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("load")).expect("mkdir");
    let file = dir.path().join("load/api.yaml");
    std::fs::write(&file, SCENARIO).expect("write");
    let env = Vars::of(&[("API_TOKEN", "tok-4242-secret")]);
    let loaded = scenario::parse_str(
        SCENARIO,
        &file.display().to_string(),
        dir.path().join("load").as_path(),
        &env,
    )
    .expect("valid scenario");
    let results = results(&loaded.plan);
    let out_dir = dir.path().join("report");
    let written: Written = report::write_all(&results, &out_dir).expect("reports");

    let path = |name: &str| dir.path().join(name).display().to_string();
    let vars = Vars::of(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_WORKSPACE", &dir.path().display().to_string()),
        ("GITHUB_STEP_SUMMARY", &path("summary")),
        ("GITHUB_OUTPUT", &path("output")),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_SHA", "abc"),
    ]);
    let mut out = Vec::new();
    publish_with(
        &Publish {
            plan: &loaded.plan,
            results: &results,
            written: &written,
            exit_code: 1,
            comment: true,
        },
        &vars,
        &mut out,
    );
    let commands = String::from_utf8(out).expect("UTF-8");
    assert!(!commands.contains("tok-4242-secret"));
    insta::assert_snapshot!(commands);

    let summary = std::fs::read_to_string(path("summary")).expect("summary");
    assert_eq!(
        summary,
        report::markdown(&results).replace("tok-4242-secret", "***")
    );
    let outputs = std::fs::read_to_string(path("output")).expect("outputs");
    let report_dir = std::path::absolute(&out_dir).expect("absolute");
    assert!(
        // Nothing was measured: the latency and error-rate outputs are empty, not 0.
        outputs.starts_with("passed=false\np95-ms=\np99-ms=\nrps=0\nerror-rate=\nrequests=0\n"),
        "{outputs}"
    );
    assert!(outputs.ends_with(&format!(
        "report-dir={}\nresults-json={}\n",
        report_dir.display(),
        report_dir.join("results.json").display()
    )));
    assert!(Path::new(&written.json).exists());
}
