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
    assert!(c.significant().iter().all(|(l, _)| *l != Some("search")));
    assert_eq!(
        c.significant().first().map(|(_, ch)| ch.verdict),
        Some(Verdict::Worse)
    );
}
