use super::*;
use crate::history::LocalStore;
use crate::report::fixtures;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.to_string())
    }
}

fn record(store: &LocalStore, time: &str, id: &str, branch: &str) {
    let mut r = fixtures::passing();
    r.started_at = time.to_string();
    r.run_id = id.to_string();
    let info = RunInfo {
        branch: branch.to_string(),
        commit: Some(format!("sha-{id}")),
    };
    store.record(&r, &info).expect("recorded");
}

/// main: m1 (18:00), m2 (19:00); feature: f1 (20:00, the newest of all).
fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path());
    record(&store, "2026-11-26T18:00:00Z", "m1", "main");
    record(&store, "2026-11-26T19:00:00Z", "m2", "main");
    record(&store, "2026-11-26T20:00:00Z", "f1", "feature");
    (dir, store)
}

fn selected(store: &LocalStore, target: &str) -> Option<BaselineRef> {
    let mut warnings = Vec::new();
    match select(
        &BaselineArg::Auto,
        store,
        "checkout-api",
        target,
        &mut warnings,
    ) {
        Ok(Selection::Found(b)) => Some(b.reference),
        Ok(Selection::Missing(_)) => None,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_pr_compares_with_the_newest_run_of_its_target() {
    let (_dir, store) = store();
    let env = env_of(&[("GITHUB_HEAD_REF", "feature"), ("GITHUB_BASE_REF", "main")]);
    let target = target_branch(&env, Some("develop"));
    assert_eq!(target, "main");
    let b = selected(&store, &target).expect("found");
    assert_eq!(b.run_id, "m2");
    assert_eq!(b.branch.as_deref(), Some("main"));
    assert_eq!(b.commit.as_deref(), Some("sha-m2"));
}

#[test]
fn a_push_to_main_compares_with_the_previous_main_run_never_a_pr_run() {
    let (_dir, store) = store();
    let env = env_of(&[("GITHUB_REF_NAME", "main")]);
    let target = target_branch(&env, None);
    assert_eq!(target, "main");
    // f1 is newer, but it is a PR's run: never main's baseline.
    assert_eq!(
        selected(&store, &target).map(|b| b.run_id).as_deref(),
        Some("m2")
    );
}

#[test]
fn the_target_falls_back_to_the_flag_then_main() {
    assert_eq!(target_branch(&env_of(&[]), Some("develop")), "develop");
    assert_eq!(target_branch(&env_of(&[]), None), "main");
    let gitlab = env_of(&[("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "trunk")]);
    assert_eq!(target_branch(&gitlab, None), "trunk");
    // GitHub sets GITHUB_BASE_REF to "" on push events: that is unset, not a branch.
    let push = |k: &str| (k == "GITHUB_BASE_REF").then(String::new);
    assert_eq!(target_branch(&push, Some("develop")), "develop");
}

#[test]
fn no_run_on_the_target_is_a_reason_not_an_error() {
    let (_dir, store) = store();
    let mut warnings = Vec::new();
    match select(
        &BaselineArg::Auto,
        &store,
        "checkout-api",
        "release",
        &mut warnings,
    ) {
        Ok(Selection::Missing(why)) => assert!(why.contains("`release`"), "{why}"),
        other => panic!("{other:?}"),
    }
    match select(
        &BaselineArg::None,
        &store,
        "checkout-api",
        "main",
        &mut warnings,
    ) {
        Ok(Selection::Missing(why)) => assert!(why.contains("--baseline none"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreadable_entry_is_skipped_for_the_next_older() {
    let (dir, store) = store();
    let newest = &store.list("checkout-api", "main").expect("lists")[0];
    std::fs::write(dir.path().join(&newest.key), "{ not json").expect("write");
    let mut warnings = Vec::new();
    match select(
        &BaselineArg::Auto,
        &store,
        "checkout-api",
        "main",
        &mut warnings,
    ) {
        Ok(Selection::Found(b)) => assert_eq!(b.reference.run_id, "m1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn a_baseline_path_that_cannot_be_read_is_invalid_input() {
    let (dir, store) = store();
    let path = dir.path().join("missing.json");
    let err = select(
        &BaselineArg::Path(path),
        &store,
        "checkout-api",
        "main",
        &mut Vec::new(),
    )
    .expect_err("missing file");
    assert_eq!(err.exit_code(), crate::error::EXIT_INVALID_INPUT);
}

#[test]
fn baseline_arg_parses() {
    assert_eq!("auto".parse(), Ok(BaselineArg::Auto));
    assert_eq!("none".parse(), Ok(BaselineArg::None));
    assert_eq!(
        "base/results.json".parse(),
        Ok(BaselineArg::Path("base/results.json".into()))
    );
    assert!("".parse::<BaselineArg>().is_err());
}

#[test]
fn a_partial_run_is_never_a_baseline() {
    let (dir, store) = store();
    let mut partial = fixtures::partial();
    partial.started_at = "2026-11-26T21:00:00Z".to_string();
    let info = RunInfo {
        branch: "main".to_string(),
        commit: None,
    };
    store.record(&partial, &info).expect("recorded");
    assert_eq!(store.list("checkout-api", "main").expect("lists").len(), 3);
    assert_eq!(
        selected(&store, "main").map(|b| b.run_id).as_deref(),
        Some("m2")
    );
    drop(dir);
}

/// A region's aggregate: 100 responses of `ms` milliseconds each over 10 s, with label `a`.
fn region_agg(ms: u64) -> crate::stats::Aggregate {
    let mut agg = crate::stats::Aggregate::new(&["a".to_string()]);
    let mut set = crate::stats::MetricSet::new();
    for _ in 0..100 {
        set.record_response(200, true, ms * 1000, ms * 500, 100, 100);
    }
    agg.total.add(&set);
    agg.labels[0].1 = set;
    agg.duration = std::time::Duration::from_secs(10);
    agg
}

/// A run from the regions given, each with its responses of the given milliseconds, written to
/// results.json and read back (the comparison reads a baseline from its file).
fn run_from(regions: &[(&str, u64)]) -> Results {
    let mut r = fixtures::passing();
    r.distributed = Some(crate::results::Distributed {
        regions: regions
            .iter()
            .map(|(name, ms)| crate::results::RegionFigures::of(name, &region_agg(*ms)))
            .collect(),
        ..Default::default()
    });
    let json = serde_json::to_string(&r).expect("serialises");
    serde_json::from_str(&json).expect("reads back")
}

fn region_plan(expr: &str) -> crate::plan::ThresholdPlan {
    crate::plan::ThresholdPlan {
        threshold: threshold::parse(expr).expect("parses"),
        abort: false,
        after: std::time::Duration::ZERO,
        line: 1,
        column: 1,
    }
}

#[test]
fn a_relative_threshold_with_a_region_is_measured_against_that_region_of_the_baseline() {
    // The baseline: us-east-1 answered in 10 ms, eu-west-1 in 100 ms.
    let base = run_from(&[("us-east-1", 10), ("eu-west-1", 100)]);
    let regions = region_baselines(&base);
    let base_agg = base.to_aggregate().expect("decodes");
    // This run: 12 ms everywhere, and a third region the baseline did not load from.
    let now: Vec<(String, crate::stats::Aggregate)> = ["us-east-1", "eu-west-1", "ap-south-1"]
        .iter()
        .map(|r| (r.to_string(), region_agg(12)))
        .collect();
    let out = threshold::evaluate_with_regions(
        &[
            region_plan("p95{region:us-east-1} < baseline + 10%"),
            region_plan("a: p95{region:eu-west-1} < baseline + 10%"),
            region_plan("p95{region:ap-south-1} < baseline + 10%"),
            region_plan("p95 < baseline + 10%"),
        ],
        &now[0].1,
        &now,
        threshold::Baseline::Regional(&base_agg, &regions),
    );
    // Each against its own region of the baseline, exactly: the baseline's own figure of it.
    let base_p95 = |i: usize| {
        base.distributed.as_ref().unwrap().regions[i]
            .total
            .response_time_ms
            .p95
    };
    assert_eq!(out[0].baseline, Some(base_p95(0)), "{:?}", out[0]);
    assert!(
        out[0].failed(),
        "12 ms is not within 10 ms + 10%: {:?}",
        out[0]
    );
    assert_eq!(out[1].baseline, Some(base_p95(1)), "{:?}", out[1]);
    assert!(out[1].passed, "{:?}", out[1]);
    assert!(out[2].skipped, "{:?}", out[2]);
    assert_eq!(
        out[2].reason.as_deref(),
        Some("the baseline did not load from region ap-south-1 (it ran from us-east-1, eu-west-1)")
    );
    // Without a region, the run's total against the baseline's total, as before.
    assert_eq!(out[3].baseline, Some(base.total.response_time_ms.p95));
}

#[test]
fn a_region_threshold_is_skipped_naming_the_region_without_a_usable_baseline_region() {
    let now = vec![("eu-west-1".to_string(), region_agg(12))];
    let plans = [region_plan("p95{region:eu-west-1} < baseline + 10%")];
    let reason = |base: &Results| {
        let regions = region_baselines(base);
        let agg = base.to_aggregate().expect("decodes");
        let out = threshold::evaluate_with_regions(
            &plans,
            &now[0].1,
            &now,
            threshold::Baseline::Regional(&agg, &regions),
        );
        assert!(out[0].skipped && !out[0].failed(), "{:?}", out[0]);
        out[0].reason.clone().unwrap_or_default()
    };
    // A baseline from one region.
    let why = reason(&fixtures::passing());
    assert!(
        why.contains("one region") && why.contains("eu-west-1"),
        "{why}"
    );
    // A baseline from several regions written before they kept their histograms.
    let mut old = run_from(&[("us-east-1", 10), ("eu-west-1", 100)]);
    for r in &mut old.distributed.as_mut().unwrap().regions {
        r.histograms = None;
        r.duration_s = None;
    }
    let why = reason(&old);
    assert!(
        why.contains("region eu-west-1 of the baseline") && why.contains("no histograms"),
        "{why}"
    );
    // A region whose baseline has no such figure says where it looked.
    let base = run_from(&[("eu-west-1", 100)]);
    let regions = region_baselines(&base);
    let agg = base.to_aggregate().expect("decodes");
    let out = threshold::evaluate_with_regions(
        &[region_plan("nope: p95{region:eu-west-1} < baseline")],
        &now[0].1,
        &now,
        threshold::Baseline::Regional(&agg, &regions),
    );
    assert_eq!(
        out[0].reason.as_deref(),
        Some("the baseline run has no `p95` of label `nope` in region eu-west-1")
    );
    // No baseline at all: the run's reason, as for any relative threshold.
    let out = threshold::evaluate_with_regions(
        &plans,
        &now[0].1,
        &now,
        threshold::Baseline::Missing("no earlier run"),
    );
    assert_eq!(out[0].reason.as_deref(), Some("no earlier run"));
}

#[test]
fn a_region_s_histograms_survive_results_json_exactly() {
    let agg = region_agg(37);
    let fig = crate::results::RegionFigures::of("eu-west-1", &agg);
    let json = serde_json::to_value(&fig).expect("serialises");
    assert!(
        json["histograms"]["total"]["response_time"].is_string(),
        "{json}"
    );
    assert!(
        json["histograms"]["labels"]["a"]["ttfb"].is_string(),
        "{json}"
    );
    assert_eq!(json["duration_s"], 10.0);
    let back: crate::results::RegionFigures = serde_json::from_value(json).expect("reads");
    let rebuilt = back.to_aggregate().expect("decodes");
    assert_eq!(rebuilt.total.response_time, agg.total.response_time);
    assert_eq!(rebuilt.total.requests, 100);
    assert_eq!(rebuilt.label("a").map(|s| s.requests), Some(100));
    assert_eq!(rebuilt.duration, agg.duration);
}
