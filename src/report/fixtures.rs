//! Deterministic results for the report tests: known recorded values, fixed run id and time.

use std::time::Duration;

use crate::plan::{LoadPlan, ThresholdPlan};
use crate::results::{Results, RunMeta, ThresholdResult};
use crate::stats::{
    Aggregate, ErrorKind, FailureSample, Histogram, MetricSet, SIGFIGS, TIMELINE_SIGFIGS,
};
use crate::threshold;

const LABELS: [&str; 2] = ["home", "create-order"];
pub const SECONDS: u32 = 5;

fn meta(load: Option<LoadPlan>, partial: bool) -> RunMeta {
    RunMeta {
        scenario: "checkout-api".to_string(),
        run_id: "20261126-180000-abc123".to_string(),
        executor: "local".to_string(),
        workers: 2,
        started_at: "2026-11-26T18:00:00Z".to_string(),
        partial,
        load: load.and_then(|l| serde_json::to_value(l).ok()),
    }
}

/// A histogram that records every test value as it is. MetricSet::new's histograms start at a
/// highest value of 2 and `saturating_record` clamps instead of growing them (reported to the
/// stats owner), so the fixtures record into bounded histograms and add those: the figures are
/// then right whether or not that is fixed.
fn bounded(sigfigs: u8) -> Histogram {
    Histogram::new_with_bounds(1, 3_600_000_000, sigfigs).expect("valid bounds")
}

fn metric_set() -> MetricSet {
    let mut m = MetricSet::new();
    m.response_time = bounded(SIGFIGS);
    m.ttfb = bounded(SIGFIGS);
    m.connect = bounded(SIGFIGS);
    m
}

/// 5 seconds; each second `home` gets 20 fast responses and `create-order` 10 slower ones.
/// With `failures`, every fifth create-order is a 500 (with a hostile body) and one times out.
pub(crate) fn aggregate(failures: bool) -> Aggregate {
    let names: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let mut agg = Aggregate::new(&names);
    for second in 0..SECONDS {
        let s = u64::from(second);
        let mut home = metric_set();
        for k in 0..20 {
            let rt = 1_000 + (s * 20 + k) * 450;
            home.record_response(200, true, rt, rt / 2, 120, 2_048);
            if second == 0 && k < 4 {
                home.record_connect(800 + k * 100);
            }
        }
        let mut create = metric_set();
        for k in 0..10 {
            let rt = 20_000 + (s * 10 + k) * 9_000;
            if failures && second == 3 && k == 1 {
                create.record_transport_error(ErrorKind::Timeout, 300, 0);
                agg.failures.push(FailureSample {
                    label: "create-order".to_string(),
                    kind: ErrorKind::Timeout,
                    status: None,
                    message: "no response within 10s".to_string(),
                    body: None,
                });
            } else if failures && k % 5 == 0 {
                create.record_response(500, false, rt, rt / 3, 300, 64);
                agg.failures.push(FailureSample {
                    label: "create-order".to_string(),
                    kind: ErrorKind::Status,
                    status: Some(500),
                    message: "HTTP/1.1 500 Internal Server Error".to_string(),
                    body: Some(format!(
                        "{{\"error\":\"```boom``` <script>alert({second})</script>\",\n\"at\":{k}}}"
                    )),
                });
            } else {
                create.record_response(201, true, rt, rt / 3, 300, 512);
            }
        }
        let bucket = agg.bucket_mut(second as usize);
        bucket.response_time = bounded(TIMELINE_SIGFIGS);
        bucket.active = 10;
        for set in [&home, &create] {
            bucket.requests += set.requests;
            bucket.errors += set.errors;
            let _ = bucket.response_time.add(&set.response_time);
        }
        for (i, set) in [home, create].into_iter().enumerate() {
            agg.total.add(&set);
            agg.labels[i].1.add(&set);
        }
    }
    agg.duration = Duration::from_millis(5_020);
    agg
}

/// The results of `exprs` on `agg`, as the evaluator gives them: the fixtures hold no verdict
/// logic of their own, so the reports are tested on what a run would really produce.
pub(crate) fn evaluated(exprs: &[&str], agg: &Aggregate) -> Vec<ThresholdResult> {
    let plans: Vec<ThresholdPlan> = exprs
        .iter()
        .map(|e| ThresholdPlan {
            threshold: threshold::parse(e).expect("a fixture threshold parses"),
            abort: false,
            after: Duration::ZERO,
            line: 0,
            column: 0,
        })
        .collect();
    threshold::evaluate(&plans, agg)
}

fn closed() -> LoadPlan {
    LoadPlan::Closed {
        concurrency: 10,
        ramp_up: Duration::from_secs(1),
        hold_for: Duration::from_secs(4),
        think_time: Duration::ZERO,
    }
}

pub fn passing() -> Results {
    let agg = aggregate(false);
    let mut r = Results::new(meta(Some(closed()), false), &agg);
    r.thresholds = evaluated(
        &[
            "p95 < 1s",
            "error_rate < 1%",
            "rps > 20",
            "create-order: p99 < 500ms",
        ],
        &agg,
    );
    r.passed = r.thresholds.iter().all(|t| t.passed);
    assert!(r.passed, "the passing fixture passes");
    r
}

pub fn failing() -> Results {
    let open = LoadPlan::Open {
        rate: 30.0,
        ramp_up: Duration::ZERO,
        hold_for: Duration::from_secs(5),
        max_in_flight: 100,
    };
    let agg = aggregate(true);
    let mut r = Results::new(meta(Some(open), false), &agg);
    r.thresholds = evaluated(
        &[
            "p95 < 300ms",
            "error_rate < 1%",
            "rps > 20",
            "create-order: p99 < 500ms",
            "search: p95 < 200ms",
            "p99 < 2s",
        ],
        &agg,
    );
    r.thresholds[0].line = 21;
    r.thresholds[5].abort = true;
    r.warnings = vec![
        "The load generator was saturated (CPU above 90% for 3 s): latencies include client-side queueing.".to_string(),
        "Label <b>|weird|</b> sent nothing".to_string(),
    ];
    r.passed = false;
    r
}

pub fn partial() -> Results {
    let agg = aggregate(true);
    let mut r = Results::new(meta(Some(closed()), true), &agg);
    r.thresholds = evaluated(&["p99 < 100ms"], &agg);
    r.thresholds[0].abort = true;
    r.thresholds[0].line = 14;
    r.stopped = Some("aborted by threshold `p99 < 100ms` after 5 s".to_string());
    r.passed = false;
    r
}

/// Nothing recorded: no labels, no timeline, no thresholds, no load model.
pub fn minimal() -> Results {
    let mut r = Results::new(meta(None, false), &Aggregate::new(&[]));
    r.passed = true;
    r
}

/// A pull request's run (branch `feature/slow`) against a `main` baseline that was faster:
/// create-order got 30% slower, the total p95 18%; one relative threshold fails because of it,
/// one is skipped (its label is new).
pub fn compared() -> Results {
    use crate::compare::{compare, Noise};
    use crate::results::BaselineRef;

    let mut base = passing();
    for p in &mut base.timeline {
        p.p50_ms *= 0.8;
        p.p95_ms *= 0.8;
        p.p99_ms *= 0.8;
    }
    let mut r = passing();
    r.run_id = "20261126-190000-def456".to_string();
    r.started_at = "2026-11-26T19:00:00Z".to_string();
    r.branch = Some("feature/slow".to_string());
    r.commit = Some("fedcba9876543210fedcba".to_string());
    r.total.response_time_ms.p95 *= 1.18;
    r.total.response_time_ms.p99 *= 1.2;
    if let Some(create) = r.labels.get_mut("create-order") {
        let p = &mut create.response_time_ms;
        for v in [
            &mut p.p50,
            &mut p.p90,
            &mut p.p95,
            &mut p.p99,
            &mut p.p99_9,
            &mut p.max,
        ] {
            *v *= 1.3;
        }
    }
    // Relative limits come from the baseline's figure; the verdict is the evaluator's operator.
    let base_p95 = base.total.response_time_ms.p95;
    let mut relative = evaluated(&["p95 < baseline + 10%"], &Aggregate::new(&[])).remove(0);
    let rule = threshold::parse(&relative.expr).expect("parses");
    relative.limit = base_p95 * 1.1;
    relative.actual = Some(r.total.response_time_ms.p95);
    relative.passed = rule.holds_against(r.total.response_time_ms.p95, relative.limit);
    relative.skipped = false;
    relative.reason = None;
    relative.baseline = Some(base_p95);
    // The evaluator skips a relative threshold whose label the baseline lacks.
    let mut skipped = evaluated(&["search: p95 < baseline"], &Aggregate::new(&[])).remove(0);
    skipped.reason = Some("the baseline run has no `p95` of label `search`".to_string());
    r.thresholds.push(relative);
    r.thresholds.push(skipped);
    r.comparison = Some(compare(&base, &r, &Noise::default()));
    r.baseline = Some(BaselineRef {
        run_id: base.run_id.clone(),
        branch: Some("main".to_string()),
        commit: Some("0123456789abcdef0123".to_string()),
        started_at: base.started_at.clone(),
        source: "checkout-api/main/20261126T180000Z-20261126-180000-abc123.json".to_string(),
    });
    r.passed = false;
    r
}
