//! The resolved plan in words, for `loadgate validate`. Secrets never appear: URLs and the target
//! are masked, and header values and bodies are not printed at all.

use std::fmt::Write;

use crate::cost::{self, CostEstimate};
use crate::plan::{LoadPlan, Plan, ThresholdPlan};
use crate::threshold::{Margin, Metric, Op, Series, Stat, Unit};

use super::duration::format_duration;

/// Describes `plan` for a person; `parts` is how many engines share the load (engine threads
/// locally, workers on Fargate).
pub fn describe(plan: &Plan, parts: usize) -> String {
    let mask = |text: &str| plan.secrets.mask(text);
    let parts = parts.max(1);
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "scenario    {} ({})", mask(&plan.name), plan.source);
    let _ = writeln!(out, "target      {}", mask(&plan.target));
    let _ = writeln!(out, "load        {}", load_words(&plan.load));
    let _ = writeln!(
        out,
        "duration    {} (ramp-up included)",
        format_duration(plan.load.duration())
    );
    let _ = writeln!(out, "per part    {}", share_words(&plan.load, parts));
    let _ = writeln!(out, "timeout     {}", format_duration(plan.timeout));
    let _ = writeln!(out, "workers     {}", plan.workers);

    super::describe_users::requests(&mut out, plan);

    let _ = writeln!(out, "thresholds  each must hold for the run to pass:");
    for t in &plan.thresholds {
        let _ = writeln!(out, "  {}", threshold_words(t));
    }
    if plan.default_threshold {
        let _ = writeln!(out, "  (added because the scenario has no thresholds)");
    }

    let tls = match (&plan.tls.ca_pem, plan.tls.insecure) {
        (_, true) => "certificates NOT verified (insecure)".to_string(),
        (Some(pem), false) => format!(
            "system roots + {} extra CA certificate(s)",
            pem.matches("-----BEGIN CERTIFICATE-----").count()
        ),
        (None, false) => "system roots".to_string(),
    };
    let _ = writeln!(out, "tls         {tls}");
    let f = &plan.fargate;
    let cost = f.max_cost_usd.map_or_else(
        || "no cost limit".to_string(),
        |c| format!("max cost ${c:.2}"),
    );
    let _ = writeln!(
        out,
        "fargate     cpu {}, memory {} MiB, {}, at least {} worker(s), {cost}",
        f.cpu,
        f.memory,
        if f.spot { "Spot" } else { "on-demand" },
        f.min_workers
    );
    out
}

/// Whether the scenario is meant for Fargate, so `validate` shows what a run would cost: it
/// spreads the load over several workers or sets a Fargate-only limit.
pub fn wants_cost(plan: &Plan) -> bool {
    plan.workers > 1 || plan.fargate.max_cost_usd.is_some() || plan.fargate.spot
}

/// `cost        about $0.0181 on Fargate: 4 tasks × 1 vCPU, ..., within max_cost_usd $5.00`,
/// with the estimate's fallback-region note on a line of its own.
pub fn cost_words(plan: &Plan, estimate: &CostEstimate) -> String {
    let mut out = format!(
        "cost        about {} on Fargate: {}{}",
        cost::usd(estimate.usd),
        cost::breakdown(estimate),
        budget_words(plan, estimate.usd)
    );
    out.push('\n');
    for note in estimate
        .assumptions
        .iter()
        .filter(|a| a.starts_with("no rates"))
    {
        let _ = writeln!(out, "            {note}");
    }
    out
}

/// `; within fargate.max_cost_usd $5.00`, `; ABOVE ...`, or nothing without a budget.
pub(super) fn budget_words(plan: &Plan, usd: f64) -> String {
    match plan.fargate.max_cost_usd {
        Some(max) if usd > max => format!("; ABOVE fargate.max_cost_usd {}", cost::usd(max)),
        Some(max) => format!("; within fargate.max_cost_usd {}", cost::usd(max)),
        None => String::new(),
    }
}

fn load_words(load: &LoadPlan) -> String {
    match *load {
        LoadPlan::Closed {
            concurrency,
            ramp_up,
            hold_for,
            think_time,
        } => format!(
            "closed model: {concurrency} virtual users, ramp-up {}, hold {}, think time {}",
            format_duration(ramp_up),
            format_duration(hold_for),
            format_duration(think_time)
        ),
        LoadPlan::Open {
            rate,
            ramp_up,
            hold_for,
            max_in_flight,
        } => format!(
            "open model: {} arrivals/s, ramp-up {}, hold {}, at most {max_in_flight} in flight",
            number(rate),
            format_duration(ramp_up),
            format_duration(hold_for)
        ),
    }
}

/// Each part's share, with equal shares grouped: `4 parts: 3 x 67 users, 1 x 66 users`.
fn share_words(load: &LoadPlan, parts: usize) -> String {
    let noun = if parts == 1 { "part" } else { "parts" };
    format!("{parts} {noun}: {}", share_groups(load, 0..parts, parts))
}

/// The shares of parts `range` of `parts` (a region's workers are a range of all of the run's),
/// equal ones grouped: `3 x 67 users, 1 x 66 users`.
pub(super) fn share_groups(load: &LoadPlan, range: std::ops::Range<usize>, parts: usize) -> String {
    let shares: Vec<String> = range
        .map(|i| match load.share(i, parts) {
            LoadPlan::Closed { concurrency, .. } => format!("{concurrency} users"),
            LoadPlan::Open {
                rate,
                max_in_flight,
                ..
            } => format!("{}/s (max {max_in_flight} in flight)", number(rate)),
        })
        .collect();
    let mut groups: Vec<(usize, &str)> = Vec::new();
    for share in &shares {
        match groups.last_mut() {
            Some((count, last)) if *last == share.as_str() => *count += 1,
            _ => groups.push((1, share)),
        }
    }
    let groups: Vec<String> = groups
        .iter()
        .map(|(count, share)| format!("{count} x {share}"))
        .collect();
    groups.join(", ")
}

/// `p95 < 300ms  -> 95th percentile of response time, all requests, must be < 300 ms`.
pub(crate) fn threshold_words(plan: &ThresholdPlan) -> String {
    let t = &plan.threshold;
    let scope = match &t.label {
        Some(label) => format!("requests `{label}`"),
        None => "all requests".to_string(),
    };
    let op = match t.op {
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    };
    let in_unit = |v: f64| match t.unit {
        Unit::Ms => format!("{} ms", number(v)),
        Unit::Percent => format!("{}%", number(v)),
        Unit::PerSecond => format!("{}/s", number(v)),
        Unit::Count => number(v),
    };
    let sign = |v: f64| if v < 0.0 { "-" } else { "+" };
    let limit = match t.relative {
        None => in_unit(t.limit),
        Some(Margin::Absolute(0.0)) => "the baseline's value".to_string(),
        Some(Margin::Absolute(a)) => {
            format!("the baseline's value {} {}", sign(a), in_unit(a.abs()))
        }
        Some(Margin::Percent(p)) => {
            format!("the baseline's value {} {}%", sign(p), number(p.abs()))
        }
    };
    let mut words = format!(
        "{}  -> {}, {scope}, must be {op} {limit}",
        t.expr.trim(),
        metric_words(&t.metric)
    );
    if plan.abort {
        let _ = write!(
            words,
            "; checked live after {}; a breach stops the run",
            format_duration(plan.after)
        );
    }
    words
}

fn metric_words(metric: &Metric) -> String {
    match metric {
        Metric::Latency { series, stat } => {
            let series = match series {
                Series::ResponseTime => "response time",
                Series::Ttfb => "time to first byte",
                Series::Connect => "connect time",
            };
            let stat = match stat {
                Stat::Percentile(p) => format!("{} percentile", ordinal(*p)),
                Stat::Avg => "average".to_string(),
                Stat::Min => "minimum".to_string(),
                Stat::Max => "maximum".to_string(),
            };
            format!("{stat} of {series}")
        }
        Metric::ErrorRate => "error rate".to_string(),
        Metric::Errors => "number of errors".to_string(),
        Metric::Requests => "number of requests".to_string(),
        Metric::Rps => "requests per second".to_string(),
        Metric::Dropped => "number of dropped arrivals".to_string(),
    }
}

/// `95` -> `95th`, `1` -> `1st`, `99.9` -> `99.9th`.
fn ordinal(p: f64) -> String {
    if p.fract() != 0.0 {
        // Exactly as written: rounding 99.9999 for reading would call it the 100th.
        return format!("{p}th");
    }
    let n = p as u64;
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A number without a needless `.0`, rounded for reading.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let text = format!("{x:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_and_numbers() {
        assert_eq!(ordinal(95.0), "95th");
        assert_eq!(ordinal(1.0), "1st");
        assert_eq!(ordinal(52.0), "52nd");
        assert_eq!(ordinal(13.0), "13th");
        assert_eq!(ordinal(99.9), "99.9th");
        // Issue 14 item 13: it was "100th".
        assert_eq!(ordinal(99.9999), "99.9999th");
        assert_eq!(number(300.0), "300");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(16.666_666), "16.667");
    }
}
