use super::*;
use crate::report::fixtures;

/// The passing fixture as the baseline, and a new run whose figures moved by known amounts.
fn runs() -> (Results, Results) {
    let base = fixtures::passing();
    let mut new = base.clone();
    let p = &mut new.total.response_time_ms;
    p.p50 *= 1.04; // within 10%: noise
    p.p95 *= 1.18; // beyond both floors: worse
    p.p99 = base.total.response_time_ms.p99 + 4.0; // beyond 10% only if small, but < 5 ms: noise
    p.max *= 0.5; // better
    new.total.rps *= 0.8; // worse (lower throughput)
    new.total.error_rate = 0.02; // 0% -> 2%: worse (2 pp > 0.5 pp)
    if let Some(create) = new.labels.get_mut("create-order") {
        create.response_time_ms.p95 *= 1.5;
    }
    (base, new)
}

#[test]
fn figures_and_markers_snapshot() {
    let (base, new) = runs();
    let c = compare(&base, &new, &Noise::default());
    insta::assert_json_snapshot!("comparison", c.total);
    let verdicts: Vec<(&str, Verdict)> = c
        .total
        .iter()
        .map(|ch| (ch.metric.as_str(), ch.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("rps", Verdict::Worse),
            ("error_rate", Verdict::Worse),
            ("p50", Verdict::Same),
            ("p90", Verdict::Same),
            ("p95", Verdict::Worse),
            ("p99", Verdict::Same),
            ("p99.9", Verdict::Same),
            ("max", Verdict::Better),
        ]
    );
    assert_eq!(
        c.get(Some("create-order"), "p95").map(|ch| ch.verdict),
        Some(Verdict::Worse)
    );
    assert_eq!(
        c.get(Some("home"), "p95").map(|ch| ch.verdict),
        Some(Verdict::Same)
    );
    assert_eq!(c.timeline, base.timeline);
}

#[test]
fn both_floors_must_be_exceeded() {
    let floors = Noise::default();
    // +50% but 1 ms: a fast endpoint's jitter.
    let small = change(
        "p95",
        Unit::Ms,
        Better::Lower,
        Some(2.0),
        Some(3.0),
        &floors,
    );
    assert_eq!(small.verdict, Verdict::Same);
    // +8 ms but 4%: a slow endpoint's jitter.
    let slow = change(
        "p95",
        Unit::Ms,
        Better::Lower,
        Some(200.0),
        Some(208.0),
        &floors,
    );
    assert_eq!(slow.verdict, Verdict::Same);
    let real = change(
        "p95",
        Unit::Ms,
        Better::Lower,
        Some(200.0),
        Some(240.0),
        &floors,
    );
    assert_eq!(
        (real.verdict, real.delta, real.delta_pct),
        (Verdict::Worse, Some(40.0), Some(20.0))
    );
    let strict = Noise {
        relative_pct: 1.0,
        latency_ms: 0.5,
        ..floors
    };
    let now = change(
        "p95",
        Unit::Ms,
        Better::Lower,
        Some(2.0),
        Some(3.0),
        &strict,
    );
    assert_eq!(now.verdict, Verdict::Worse);
}

#[test]
fn from_zero_the_absolute_floor_decides_and_missing_sides_are_unknown() {
    let floors = Noise::default();
    let errors = change(
        "error_rate",
        Unit::Percent,
        Better::Lower,
        Some(0.0),
        Some(0.3),
        &floors,
    );
    assert_eq!((errors.verdict, errors.delta_pct), (Verdict::Same, None));
    let errors = change(
        "error_rate",
        Unit::Percent,
        Better::Lower,
        Some(0.0),
        Some(1.0),
        &floors,
    );
    assert_eq!(errors.verdict, Verdict::Worse);
    let new_label = change("p95", Unit::Ms, Better::Lower, None, Some(3.0), &floors);
    assert_eq!(
        (new_label.verdict, new_label.delta),
        (Verdict::Unknown, None)
    );
}

#[test]
fn a_label_only_in_the_new_run_has_unknown_changes() {
    let (base, mut new) = runs();
    let extra = new.labels["home"].clone();
    new.labels.insert("search".to_string(), extra);
    let c = compare(&base, &new, &Noise::default());
    assert!(c.labels["search"]
        .iter()
        .all(|ch| ch.verdict == Verdict::Unknown));
    assert!(c
        .significant()
        .iter()
        .all(|(l, _)| *l != Scope::Label("search")));
    assert_eq!(
        c.significant().first().map(|(_, ch)| ch.verdict),
        Some(Verdict::Worse)
    );
}

/// `results` from the regions given, each region's totals those of the run with its p95
/// multiplied by the factor given.
fn with_regions(mut results: Results, regions: &[(&str, f64)]) -> Results {
    let list = regions
        .iter()
        .map(|(name, p95)| {
            let mut total = results.total.clone();
            total.response_time_ms.p95 *= p95;
            crate::results::RegionFigures {
                region: name.to_string(),
                workers: 1,
                contributed: 1,
                start_skew_ms: None,
                cost_usd: None,
                phases: Default::default(),
                total,
                labels: Default::default(),
                duration_s: None,
                histograms: None,
            }
        })
        .collect();
    results.distributed = Some(crate::results::Distributed {
        regions: list,
        ..Default::default()
    });
    results
}

#[test]
fn each_region_is_compared_with_the_same_region_of_the_baseline() {
    let base = with_regions(
        fixtures::passing(),
        &[("us-east-1", 1.0), ("eu-west-1", 1.0)],
    );
    // The new run lists its regions in another order, and adds one the baseline lacks.
    let new = with_regions(
        fixtures::passing(),
        &[("eu-west-1", 1.5), ("us-east-1", 1.0), ("ap-south-1", 1.0)],
    );
    let c = compare(&base, &new, &Noise::default());
    let names: Vec<&str> = c.regions.iter().map(|r| r.region.as_str()).collect();
    assert_eq!(names, ["eu-west-1", "us-east-1", "ap-south-1"]);
    assert_eq!(
        c.region("eu-west-1", "p95").map(|ch| ch.verdict),
        Some(Verdict::Worse)
    );
    let base_p95 = base.distributed.as_ref().unwrap().regions[1]
        .total
        .response_time_ms
        .p95;
    assert_eq!(
        c.region("eu-west-1", "p95").and_then(|ch| ch.base),
        Some(base_p95)
    );
    assert_eq!(
        c.region("us-east-1", "p95").map(|ch| ch.verdict),
        Some(Verdict::Same)
    );
    let south = &c.regions[2];
    assert!(south.total.is_empty());
    assert_eq!(
        south.skipped.as_deref(),
        Some("the baseline did not load from region ap-south-1")
    );
    assert!(c.region("ap-south-1", "p95").is_none());
    // A region's change is named as a threshold on it would be.
    let worse: Vec<String> = c
        .significant()
        .iter()
        .filter(|(s, _)| matches!(s, Scope::Region(_)))
        .map(|(s, ch)| s.name(&ch.metric))
        .collect();
    assert_eq!(worse, ["p95{region:eu-west-1}"]);
    // results.json keeps it, and reads it back.
    let json = serde_json::to_value(&c).expect("serialises");
    assert_eq!(json["regions"][2]["region"], "ap-south-1");
    assert!(json["regions"][2].get("total").is_none());
    let back: Comparison = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, c);
}

#[test]
fn a_baseline_from_one_region_compares_no_region_and_one_region_runs_have_no_part() {
    let base = fixtures::passing();
    let new = with_regions(fixtures::passing(), &[("eu-west-1", 1.0)]);
    let c = compare(&base, &new, &Noise::default());
    assert_eq!(c.regions.len(), 1);
    assert!(c.regions[0].total.is_empty());
    assert!(c.regions[0]
        .skipped
        .as_deref()
        .is_some_and(|w| w.contains("one region") && w.contains("eu-west-1")));
    // Neither run from several regions: no regions part, and none in results.json.
    let c = compare(&base, &fixtures::passing(), &Noise::default());
    assert!(c.regions.is_empty());
    let json = serde_json::to_value(&c).expect("serialises");
    assert!(json.get("regions").is_none(), "{json}");
    // A comparison written before regions were compared reads as having none.
    let mut old = json;
    old.as_object_mut().expect("object").remove("regions");
    let back: Comparison = serde_json::from_value(old).expect("reads");
    assert!(back.regions.is_empty());
}
