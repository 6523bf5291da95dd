//! A run from several regions compared with its baseline per region, end to end: one moto serves
//! three regions, a fake Fargate per region starts the workers. The baseline loads from two
//! regions; the next run loads from those two and a third, with `--baseline` the first run's
//! results.json.

use serde_json::Value;

use crate::fake_fargate::{self, FakeFargate, Options, FAST};
use crate::fargate_regions::{region, routes, scenario, EU, SECRET};
use crate::harness::{Ran, Test};
use crate::moto::{Moto, REGION};

/// The region the baseline did not load from.
const THIRD: &str = "ap-south-1";

/// `loadgate run --executor fargate` against moto from the regions of `spec`, each region's
/// workers started by its own fake Fargate; `files` are written beside the scenario first.
fn run(moto: &Moto, spec: &str, extra: &str, baseline: &str, files: &[(&str, &str)]) -> Ran {
    let names: Vec<&str> = spec
        .split(',')
        .map(|r| r.split_once('=').map_or(r, |(name, _)| name))
        .collect();
    let fargates: Vec<FakeFargate> = names
        .iter()
        .map(|r| FakeFargate::start_in(moto, Options::default(), r))
        .collect();
    let mut test = Test::new()
        .scenario(&scenario("{ concurrency: 3, hold_for: 2s }", extra))
        .target(routes())
        .env("API_TOKEN", SECRET)
        .env("LOADGATE_FARGATE_TIMING", FAST)
        .args(&[
            "run",
            "--executor",
            "fargate",
            "--image",
            "x",
            "--regions",
            spec,
            "--baseline",
            baseline,
        ]);
    for (name, contents) in files {
        test = test.file(name, contents);
    }
    for (k, v) in moto.env() {
        test = test.env(k, &v);
    }
    let ran = test.run();
    for f in fargates {
        f.finish();
    }
    ran
}

fn threshold<'a>(results: &'a Value, expr: &str) -> &'a Value {
    results["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .find(|t| t["expr"] == expr)
        .unwrap_or_else(|| panic!("no threshold `{expr}` in {}", results["thresholds"]))
}

/// The rows of a Markdown comparison table that name a region's figure (`| p95{region:X} |`),
/// not the thresholds table's rows, whose first cell is a whole expression.
fn region_rows(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            let first = l
                .strip_prefix("| ")
                .and_then(|rest| rest.split(" | ").next())
                .unwrap_or_default();
            first.contains("{region:") && first.ends_with('}') && !first.contains(' ')
        })
        .collect()
}

#[test]
fn a_run_from_three_regions_compares_the_two_its_baseline_had_per_region() {
    let moto = Moto::start();
    moto.keep_tasks_running();
    fake_fargate::deploy(&moto);
    fake_fargate::deploy_in(&moto, EU);
    fake_fargate::deploy_in(&moto, THIRD);

    // The baseline: two regions.
    let first = run(&moto, &format!("{REGION}=1,{EU}=1"), "", "none", &[]);
    first.code(0);
    let base = first.results();
    let base_text = first.read("loadgate-report/results.json");
    for name in [REGION, EU] {
        let r = region(&base, name);
        assert!(r["histograms"]["total"]["response_time"].is_string(), "{r}");
        assert!(
            r["histograms"]["labels"]["a"]["response_time"].is_string(),
            "{r}"
        );
        assert!(r["duration_s"].as_f64().is_some_and(|d| d > 0.0), "{r}");
    }

    // The new run: the same two regions and a third, against that baseline.
    let p95_eu = format!("p95{{region:{EU}}} < baseline + 10m");
    let errors_us = format!("errors{{region:{REGION}}} <= baseline");
    let p95_third = format!("p95{{region:{THIRD}}} < baseline + 10%");
    let extra = format!(
        "thresholds:\n  - \"{p95_eu}\"\n  - \"{errors_us}\"\n  - \"{p95_third}\"\n  - error_rate < 1%\n"
    );
    let second = run(
        &moto,
        &format!("{REGION}=1,{EU}=1,{THIRD}=1"),
        &extra,
        "base.json",
        &[("base.json", &base_text)],
    );
    second.code(0);
    let new = second.results();
    assert_eq!(
        new["baseline"]["run_id"], base["run_id"],
        "{}",
        second.stderr
    );

    // Relative thresholds with a region: measured against that region of the baseline, exactly.
    let t = threshold(&new, &p95_eu);
    assert_eq!(
        t["baseline"].as_f64(),
        region(&base, EU)["total"]["response_time_ms"]["p95"].as_f64(),
        "{t}"
    );
    assert_eq!(
        t["actual"].as_f64(),
        region(&new, EU)["total"]["response_time_ms"]["p95"].as_f64(),
        "{t}"
    );
    assert_eq!(t["passed"], true, "{t}");
    let t = threshold(&new, &errors_us);
    assert_eq!(
        t["baseline"].as_f64(),
        region(&base, REGION)["total"]["errors"].as_f64(),
        "{t}"
    );
    assert_eq!(t["passed"], true, "{t}");
    // The third region is skipped, saying which.
    let t = threshold(&new, &p95_third);
    assert_eq!(t["skipped"], true, "{t}");
    let why = t["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains(&format!("did not load from region {THIRD}")),
        "{why}"
    );

    // comparison.regions: the two shared regions figure by figure, the third skipped.
    let regions = new["comparison"]["regions"]
        .as_array()
        .expect("comparison.regions");
    assert_eq!(regions.len(), 3, "{regions:?}");
    for name in [REGION, EU] {
        let c = regions
            .iter()
            .find(|r| r["region"] == name)
            .expect("a shared region");
        assert!(c.get("skipped").is_none(), "{c}");
        let changes = c["total"].as_array().expect("changes");
        let get = |metric: &str| {
            changes
                .iter()
                .find(|ch| ch["metric"] == metric)
                .unwrap_or_else(|| panic!("{name}: no {metric} in {c}"))
        };
        for (metric, field) in [("rps", "rps"), ("p95", "p95")] {
            let (base_value, new_value) = match field {
                "rps" => (
                    region(&base, name)["total"]["rps"].as_f64(),
                    region(&new, name)["total"]["rps"].as_f64(),
                ),
                _ => (
                    region(&base, name)["total"]["response_time_ms"][field].as_f64(),
                    region(&new, name)["total"]["response_time_ms"][field].as_f64(),
                ),
            };
            assert_eq!(get(metric)["base"].as_f64(), base_value, "{name} {metric}");
            assert_eq!(get(metric)["new"].as_f64(), new_value, "{name} {metric}");
        }
    }
    let third = regions
        .iter()
        .find(|r| r["region"] == THIRD)
        .expect("the third region");
    assert!(third.get("total").is_none(), "{third}");
    assert!(
        third["skipped"].as_str().is_some_and(|w| w.contains(THIRD)),
        "{third}"
    );

    // The summary: a row per figure of each shared region, none of the third, and why.
    let summary = second.read("loadgate-report/summary.md");
    let rows = region_rows(&summary);
    for name in [REGION, EU] {
        let tag = format!("{{region:{name}}}");
        assert_eq!(
            rows.iter().filter(|l| l.contains(&tag)).count(),
            8,
            "{name}: {rows:#?}"
        );
    }
    assert!(!rows.iter().any(|l| l.contains(THIRD)), "{rows:#?}");
    let not_compared =
        format!("Not compared per region: {THIRD} (the baseline did not load from region {THIRD})");
    assert!(summary.contains(&not_compared), "{summary}");

    // `loadgate compare` prints the same rows, from the two files alone.
    let compared = Test::new()
        .file("base.json", &base_text)
        .file("new.json", &second.read("loadgate-report/results.json"))
        .args(&["compare", "base.json", "new.json"])
        .run();
    compared.code(0);
    assert_eq!(region_rows(&compared.stdout), rows, "{}", compared.stdout);
    assert!(
        compared.stdout.contains(&not_compared),
        "{}",
        compared.stdout
    );
}
