//! Checking thresholds against a merged aggregate, at the end of a run and live (abort thresholds).

use std::time::Duration;

use super::{Metric, Op, RegionBaselines, Series, Stat, Threshold};
use crate::plan::ThresholdPlan;
use crate::results::ThresholdResult;
use crate::stats::{self, Aggregate, Histogram, MetricSet};

impl Threshold {
    /// The metric's value on `agg`, in the threshold's unit (ms, %, /s or count).
    ///
    /// None when there is nothing to measure: the label does not exist, a latency metric has no
    /// sample (every request failed before a response), `error_rate` of no request, or `rps` of
    /// a run with no measured duration.
    pub fn actual(&self, agg: &Aggregate) -> Option<f64> {
        let set = match &self.label {
            Some(label) => agg.label(label)?,
            None => &agg.total,
        };
        match self.metric {
            Metric::Latency { series, stat } => latency(histogram(set, series), stat),
            // Zero errors of zero requests is not a 0% error rate: a run that sent nothing must
            // not pass `error_rate < 1%`.
            Metric::ErrorRate => {
                (set.requests > 0).then(|| set.errors as f64 / set.requests as f64 * 100.0)
            }
            Metric::Rps => {
                (!agg.duration.is_zero()).then(|| stats::aggregate_rate(set.requests, agg.duration))
            }
            Metric::Errors => Some(set.errors as f64),
            Metric::Requests => Some(set.requests as f64),
            Metric::Dropped => Some(set.dropped as f64),
        }
    }

    /// Whether the condition holds for `actual` (never for NaN).
    pub fn holds(&self, actual: f64) -> bool {
        self.holds_against(actual, self.limit)
    }

    /// Whether the condition holds for `actual` against `limit` (a relative threshold's limit
    /// comes from the baseline).
    pub fn holds_against(&self, actual: f64, limit: f64) -> bool {
        match self.op {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }
}

/// What relative thresholds are measured against.
#[derive(Clone, Copy, Debug)]
pub enum Baseline<'a> {
    /// The baseline run, rebuilt from its results.
    Run(&'a Aggregate),
    /// The baseline run and its regions', for thresholds with `{region:...}` (a baseline from
    /// several regions, or why its regions cannot be used).
    Regional(&'a Aggregate, &'a RegionBaselines),
    /// No baseline, and why (said in the report next to each relative threshold).
    Missing(&'a str),
}

fn histogram(set: &MetricSet, series: Series) -> &Histogram {
    match series {
        Series::ResponseTime => &set.response_time,
        Series::Ttfb => &set.ttfb,
        Series::Connect => &set.connect,
    }
}

fn latency(h: &Histogram, stat: Stat) -> Option<f64> {
    if h.is_empty() {
        return None;
    }
    Some(match stat {
        Stat::Percentile(p) => stats::percentile_ms(h, p),
        // Rounded to the microsecond, like the summary's `avg`, so the report's figure and the
        // verdict agree.
        Stat::Avg => (stats::mean_ms(h) * 1000.0).round() / 1000.0,
        Stat::Min => stats::min_ms(h),
        Stat::Max => stats::max_ms(h),
    })
}

/// One result per threshold, in order, without a baseline (relative thresholds are skipped). A
/// threshold whose metric has no value fails: a condition on nothing cannot be shown to hold
/// (the report says "no data").
pub fn evaluate(thresholds: &[ThresholdPlan], agg: &Aggregate) -> Vec<ThresholdResult> {
    evaluate_against(thresholds, agg, Baseline::Missing("no baseline run"))
}

/// One result per threshold, in order; relative thresholds take their limit from `baseline`.
/// Without a baseline, or when the baseline has no value of the metric, a relative threshold is
/// skipped (neither passed nor failed) with the reason: a gate must not fail for want of a
/// reference, nor claim a pass it did not check.
pub fn evaluate_against(
    thresholds: &[ThresholdPlan],
    agg: &Aggregate,
    baseline: Baseline<'_>,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| result(t, agg, baseline))
        .collect()
}

/// For live checks: the first `abort` threshold, past its `after`, that does not hold on `agg`.
/// A threshold without data yet does not abort.
/// A relative threshold without a baseline never aborts.
pub fn breached_aborts(
    thresholds: &[ThresholdPlan],
    agg: &Aggregate,
    elapsed: Duration,
    baseline: Baseline<'_>,
) -> Option<ThresholdResult> {
    thresholds
        .iter()
        .filter(|t| t.abort && elapsed >= t.after && t.threshold.region.is_none())
        .map(|t| result(t, agg, baseline))
        .find(|r| r.actual.is_some() && r.failed())
}

pub(super) fn result(
    plan: &ThresholdPlan,
    agg: &Aggregate,
    baseline: Baseline<'_>,
) -> ThresholdResult {
    let t = &plan.threshold;
    let actual = t.actual(agg);
    let mut r = ThresholdResult {
        expr: t.expr.clone(),
        label: t.label.clone(),
        metric: t.metric_name(),
        op: t.op,
        limit: t.limit,
        actual,
        unit: t.unit,
        passed: actual.is_some_and(|a| t.holds(a)),
        abort: plan.abort,
        line: plan.line,
        skipped: false,
        reason: None,
        baseline: None,
    };
    let Some(margin) = t.relative else {
        return r;
    };
    let reference = match baseline {
        Baseline::Run(base) | Baseline::Regional(base, _) => {
            t.actual(base).ok_or_else(|| match &t.label {
                Some(label) => format!("the baseline run has no `{}` of label `{label}`", r.metric),
                None => format!("the baseline run has no `{}`", r.metric),
            })
        }
        Baseline::Missing(why) => Err(why.to_string()),
    };
    match reference {
        Ok(base) => {
            r.limit = margin.limit(base);
            r.baseline = Some(base);
            r.passed = actual.is_some_and(|a| t.holds_against(a, r.limit));
        }
        Err(why) => {
            r.passed = false;
            r.skipped = true;
            r.reason = Some(why);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::{parse, Unit};

    /// Records straight into the histogram so the fixture states exactly what is in it.
    fn record(h: &mut Histogram, us: u64) {
        h.record(us).expect("histograms auto-resize");
    }

    /// Label `a`: response times 1..=1000 ms (ttfb half of it, connect 5 ms each) and 10
    /// transport errors; 20 errors in all, 3 dropped. Label `b`: one 2 s response. `idle`: nothing.
    /// A run of 10 s.
    fn aggregate() -> Aggregate {
        let mut agg = Aggregate::new(&["a".to_string(), "b".to_string(), "idle".to_string()]);
        let mut a = MetricSet::new();
        for ms in 1..=1000u64 {
            record(&mut a.response_time, ms * 1000);
            record(&mut a.ttfb, ms * 500);
            record(&mut a.connect, 5000);
        }
        a.requests = 1010;
        a.errors = 20;
        a.dropped = 3;
        let mut b = MetricSet::new();
        record(&mut b.response_time, 2_000_000);
        record(&mut b.ttfb, 1000);
        b.requests = 1;
        agg.total.add(&a);
        agg.total.add(&b);
        agg.labels[0].1 = a;
        agg.labels[1].1 = b;
        agg.duration = Duration::from_secs(10);
        agg
    }

    fn actual(expr: &str, agg: &Aggregate) -> Option<f64> {
        parse(expr).expect(expr).actual(agg)
    }

    /// Within HDR's bucket precision (values are reported as their bucket's highest value).
    fn close(actual: Option<f64>, expected: f64) -> bool {
        actual.is_some_and(|a| (a - expected).abs() <= expected * 2e-3)
    }

    #[test]
    fn latency_metrics_read_the_right_histogram() {
        let agg = aggregate();
        let table = [
            ("a: p50 < 1", 500.0),
            ("a: p95 < 1", 950.0),
            ("a: p99 < 1", 990.0),
            ("a: p(99.9) < 1", 999.0),
            ("a: median < 1", 500.0),
            ("a: avg < 1", 500.5),
            ("a: min < 1", 1.0),
            ("a: max < 1", 1000.0),
            ("a: ttfb_p50 < 1", 250.0),
            ("a: ttfb_max < 1", 500.0),
            ("a: connect_p99 < 1", 5.0),
            ("b: max < 1", 2000.0),
            ("max < 1", 2000.0),
            ("p50 < 1", 501.0),
        ];
        for (expr, expected) in table {
            let got = actual(expr, &agg);
            assert!(close(got, expected), "{expr}: {got:?}, expected {expected}");
        }
    }

    #[test]
    fn counts_rates_and_error_rate() {
        let agg = aggregate();
        assert_eq!(actual("a: requests > 1", &agg), Some(1010.0));
        assert_eq!(actual("a: errors < 1", &agg), Some(20.0));
        assert_eq!(actual("a: dropped < 1", &agg), Some(3.0));
        assert_eq!(actual("requests > 1", &agg), Some(1011.0));
        assert_eq!(actual("a: rps > 1", &agg), Some(101.0));
        assert_eq!(actual("rps > 1", &agg), Some(101.1));
        let rate = actual("a: error_rate < 1%", &agg);
        assert!(close(rate, 20.0 / 1010.0 * 100.0), "{rate:?}");
        assert_eq!(actual("b: error_rate < 1%", &agg), Some(0.0));
    }

    #[test]
    fn nothing_to_measure_is_no_value() {
        let agg = aggregate();
        assert_eq!(actual("missing: p95 < 1", &agg), None);
        assert_eq!(actual("missing: requests < 1", &agg), None);
        assert_eq!(actual("idle: p95 < 1", &agg), None);
        assert_eq!(actual("idle: error_rate < 1%", &agg), None);
        assert_eq!(actual("idle: requests < 1", &agg), Some(0.0));
        assert_eq!(actual("b: connect_max < 1", &agg), None);
        let mut no_time = aggregate();
        no_time.duration = Duration::ZERO;
        assert_eq!(actual("rps > 1", &no_time), None);
    }

    #[test]
    fn every_operator_at_its_boundary() {
        let table = [
            ("p95 < 300", [true, false, false]),
            ("p95 <= 300", [true, true, false]),
            ("p95 > 300", [false, false, true]),
            ("p95 >= 300", [false, true, true]),
        ];
        for (expr, expected) in table {
            let t = parse(expr).expect(expr);
            let got = [t.holds(299.999), t.holds(300.0), t.holds(300.001)];
            assert_eq!(got, expected, "{expr}");
            assert!(!t.holds(f64::NAN), "{expr}");
        }
    }

    #[test]
    fn evaluated_counts_at_the_limit() {
        let agg = aggregate();
        let plans: Vec<ThresholdPlan> = ["<", "<=", ">", ">="]
            .iter()
            .map(|op| plan(&format!("a: requests {op} 1010"), false, 0))
            .collect();
        let passed: Vec<bool> = evaluate(&plans, &agg).iter().map(|r| r.passed).collect();
        assert_eq!(passed, [false, true, false, true]);
    }

    fn plan(expr: &str, abort: bool, after_s: u64) -> ThresholdPlan {
        ThresholdPlan {
            threshold: parse(expr).expect(expr),
            abort,
            after: Duration::from_secs(after_s),
            line: 7,
            column: 5,
        }
    }

    #[test]
    fn evaluate_reports_every_threshold() {
        let agg = aggregate();
        let plans = [
            plan("a: error_rate < 1%", false, 0),
            plan("max <= 3s", true, 0),
            plan("idle: p95 < 1s", false, 0),
            plan("b: errors <= 0", false, 0),
        ];
        let results = evaluate(&plans, &agg);
        let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
        assert_eq!(passed, [false, true, false, true]);
        let first = &results[0];
        assert_eq!(first.expr, "a: error_rate < 1%");
        assert_eq!(first.label.as_deref(), Some("a"));
        assert_eq!(first.metric, "error_rate");
        assert_eq!(
            (first.op, first.limit, first.unit),
            (Op::Lt, 1.0, Unit::Percent)
        );
        assert_eq!((first.abort, first.line), (false, 7));
        assert!(results[1].abort);
        assert_eq!(results[2].actual, None);
        assert_eq!(results[3].unit, Unit::Count);
    }

    #[test]
    fn aborts_wait_for_their_time_and_for_data() {
        let agg = aggregate();
        let plans = [
            plan("p99 < 1s", false, 0),
            plan("idle: p95 < 1ms", true, 0),
            plan("a: p95 < 100ms", true, 30),
            plan("a: max < 1ms", true, 10),
        ];
        let none = Baseline::Missing("none");
        let at = |s| breached_aborts(&plans, &agg, Duration::from_secs(s), none).map(|r| r.expr);
        assert_eq!(at(5), None);
        assert_eq!(at(10).as_deref(), Some("a: max < 1ms"));
        assert_eq!(at(30).as_deref(), Some("a: p95 < 100ms"));
        let holding = [plan("a: max < 10m", true, 0)];
        assert_eq!(
            breached_aborts(&holding, &agg, Duration::from_secs(60), none),
            None
        );
    }

    #[test]
    fn relative_thresholds_take_their_limit_from_the_baseline() {
        let agg = aggregate();
        let mut faster = aggregate();
        faster.duration = Duration::from_secs(5);
        let plans = [
            plan("a: p95 < baseline + 10%", false, 0),
            plan("rps > baseline - 5%", false, 0),
            plan("a: error_rate <= baseline", false, 0),
            plan("missing: p95 < baseline", false, 0),
        ];
        let results = evaluate_against(&plans, &agg, Baseline::Run(&faster));
        let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
        assert_eq!(passed, [true, false, true, false]);
        let p95 = &results[0];
        assert!(close(p95.baseline, 950.0), "{p95:?}");
        assert!(close(Some(p95.limit), 950.0 * 1.1), "{p95:?}");
        // The baseline did twice the rate in half the time.
        assert!(
            close(Some(results[1].limit), 202.2 * 0.95),
            "{:?}",
            results[1]
        );
        assert!(results[1].failed());
        let missing = &results[3];
        assert!(missing.skipped && !missing.failed(), "{missing:?}");
        assert!(missing
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("label `missing`")));
    }

    #[test]
    fn without_a_baseline_relative_thresholds_are_skipped_with_the_reason() {
        let agg = aggregate();
        let plans = [
            plan("a: p95 < baseline + 10%", true, 0),
            plan("max <= 3s", false, 0),
        ];
        let results = evaluate_against(&plans, &agg, Baseline::Missing("no run on main yet"));
        let skipped = &results[0];
        assert!(skipped.skipped && !skipped.passed && !skipped.failed());
        assert_eq!(skipped.reason.as_deref(), Some("no run on main yet"));
        assert!(close(skipped.actual, 950.0), "the figure is still shown");
        assert_eq!(skipped.baseline, None);
        assert!(!results[1].skipped && results[1].passed);
        // evaluate() has no baseline either, and a skipped abort threshold never aborts.
        assert!(evaluate(&plans, &agg)[0].skipped);
        let none = Baseline::Missing("none");
        assert_eq!(
            breached_aborts(&plans, &agg, Duration::from_secs(60), none),
            None
        );
    }
}
