//! Deterministic results for the report tests: known recorded values, fixed run id and time.

use std::time::Duration;

use crate::plan::LoadPlan;
use crate::results::{Results, RunMeta, ThresholdResult};
use crate::stats::{
    Aggregate, ErrorKind, FailureSample, Histogram, MetricSet, SIGFIGS, TIMELINE_SIGFIGS,
};
use crate::threshold::{Op, Unit};

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
fn aggregate(failures: bool) -> Aggregate {
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

/// A threshold result whose verdict follows from `actual` (no data fails).
pub fn threshold(
    expr: &str,
    label: Option<&str>,
    metric: &str,
    (op, limit, unit): (Op, f64, Unit),
    actual: Option<f64>,
) -> ThresholdResult {
    let passed = actual.is_some_and(|a| match op {
        Op::Lt => a < limit,
        Op::Le => a <= limit,
        Op::Gt => a > limit,
        Op::Ge => a >= limit,
    });
    ThresholdResult {
        expr: expr.to_string(),
        label: label.map(str::to_string),
        metric: metric.to_string(),
        op,
        limit,
        actual,
        unit,
        passed,
        abort: false,
        line: 0,
        skipped: false,
        reason: None,
        baseline: None,
    }
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
    let mut r = Results::new(meta(Some(closed()), false), &aggregate(false));
    let create = r.labels.get("create-order").map(|s| s.response_time_ms.p99);
    r.thresholds = vec![
        threshold(
            "p95 < 1s",
            None,
            "p95",
            (Op::Lt, 1000.0, Unit::Ms),
            Some(r.total.response_time_ms.p95),
        ),
        threshold(
            "error_rate < 1%",
            None,
            "error_rate",
            (Op::Lt, 1.0, Unit::Percent),
            Some(r.total.error_rate * 100.0),
        ),
        threshold(
            "rps > 20",
            None,
            "rps",
            (Op::Gt, 20.0, Unit::PerSecond),
            Some(r.total.rps),
        ),
        threshold(
            "create-order: p99 < 500ms",
            Some("create-order"),
            "p99",
            (Op::Lt, 500.0, Unit::Ms),
            create,
        ),
    ];
    r.passed = r.thresholds.iter().all(|t| t.passed);
    r
}

pub fn failing() -> Results {
    let open = LoadPlan::Open {
        rate: 30.0,
        ramp_up: Duration::ZERO,
        hold_for: Duration::from_secs(5),
        max_in_flight: 100,
    };
    let mut r = Results::new(meta(Some(open), false), &aggregate(true));
    let create = r.labels.get("create-order").map(|s| s.response_time_ms.p99);
    let mut abort = threshold(
        "p99 < 2s",
        None,
        "p99",
        (Op::Lt, 2000.0, Unit::Ms),
        Some(r.total.response_time_ms.p99),
    );
    abort.abort = true;
    let mut p95 = threshold(
        "p95 < 300ms",
        None,
        "p95",
        (Op::Lt, 300.0, Unit::Ms),
        Some(r.total.response_time_ms.p95),
    );
    p95.line = 21;
    r.thresholds = vec![
        p95,
        threshold(
            "error_rate < 1%",
            None,
            "error_rate",
            (Op::Lt, 1.0, Unit::Percent),
            Some(r.total.error_rate * 100.0),
        ),
        threshold(
            "rps > 20",
            None,
            "rps",
            (Op::Gt, 20.0, Unit::PerSecond),
            Some(r.total.rps),
        ),
        threshold(
            "create-order: p99 < 500ms",
            Some("create-order"),
            "p99",
            (Op::Lt, 500.0, Unit::Ms),
            create,
        ),
        threshold(
            "search: p95 < 200ms",
            Some("search"),
            "p95",
            (Op::Lt, 200.0, Unit::Ms),
            None,
        ),
        abort,
    ];
    r.warnings = vec![
        "The load generator was saturated (CPU above 90% for 3 s): latencies include client-side queueing.".to_string(),
        "Label <b>|weird|</b> sent nothing".to_string(),
    ];
    r.passed = false;
    r
}

pub fn partial() -> Results {
    let mut r = Results::new(meta(Some(closed()), true), &aggregate(true));
    let mut abort = threshold(
        "p99 < 100ms",
        None,
        "p99",
        (Op::Lt, 100.0, Unit::Ms),
        Some(r.total.response_time_ms.p99),
    );
    abort.abort = true;
    abort.line = 14;
    r.thresholds = vec![abort];
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
    let base_p95 = base.total.response_time_ms.p95;
    let mut relative = threshold(
        "p95 < baseline + 10%",
        None,
        "p95",
        (Op::Lt, base_p95 * 1.1, Unit::Ms),
        Some(r.total.response_time_ms.p95),
    );
    relative.baseline = Some(base_p95);
    let mut skipped = threshold(
        "search: p95 < baseline",
        Some("search"),
        "p95",
        (Op::Lt, 0.0, Unit::Ms),
        None,
    );
    skipped.skipped = true;
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
