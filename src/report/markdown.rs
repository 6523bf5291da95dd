//! summary.md: the job summary and the PR comment, rendered by minijinja from a view model.
//!
//! Rust formats and escapes every value (format.rs, escape.rs); the template only lays the
//! figures out. Undefined variables are errors, so a renamed field cannot silently vanish.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::escape::{md_code, md_code_block, md_text};
use super::{chart, comparison, format};
use crate::compare::Comparison;
use crate::results::{Percentiles, Results, Summary, ThresholdResult};
use crate::stats::{ErrorKind, MAX_SAMPLES_PER_KIND};

const TEMPLATE_NAME: &str = "summary.md";
const TEMPLATE: &str = include_str!("../../templates/summary.md.j2");
/// Bodies are cut to this upstream; cut again here, so a hand-edited results.json cannot flood
/// a PR comment.
const MAX_BODY_BYTES: usize = 200;
const NO_DATA: &str = "–";

#[derive(Serialize)]
struct View {
    verdict: String,
    stopped: Option<String>,
    context: String,
    cost: Option<String>,
    baseline: Option<BaselineView>,
    warnings: Vec<String>,
    thresholds: Vec<ThresholdRow>,
    totals: Totals,
    labels: Vec<LabelRow>,
    /// A run from several regions: its per-region table, ready to print.
    regions: Option<String>,
    /// Some label had requests skipped: the label table shows the column.
    skipped: bool,
    flows: Vec<OutcomeRow>,
    outcomes: Vec<OutcomeRow>,
    failures: Vec<FailureView>,
    chart: Option<String>,
}

#[derive(Serialize)]
struct BaselineView {
    line: String,
    highlights: Option<String>,
    against: String,
    table: Option<String>,
}

#[derive(Serialize)]
struct ThresholdRow {
    icon: &'static str,
    expr: String,
    actual: String,
    limit: String,
}

#[derive(Serialize)]
struct Totals {
    line: String,
    series: Vec<SeriesRow>,
}

#[derive(Serialize)]
struct SeriesRow {
    name: &'static str,
    p50: String,
    p90: String,
    p95: String,
    p99: String,
    p99_9: String,
    max: String,
}

#[derive(Serialize)]
struct LabelRow {
    name: String,
    requests: String,
    rps: String,
    error_rate: String,
    p50: String,
    p95: String,
    p99: String,
    max: String,
    skipped: String,
}

#[derive(Serialize)]
struct OutcomeRow {
    name: String,
    count: String,
    share: String,
}

#[derive(Serialize)]
struct FailureView {
    heading: String,
    body: Option<String>,
}

/// The template environment: strict about undefined values, blocks trimmed so that `{% %}`
/// lines leave no blank lines behind.
pub(crate) fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.add_template(TEMPLATE_NAME, TEMPLATE)?;
    Ok(env)
}

pub(crate) fn render(results: &Results) -> Result<String, minijinja::Error> {
    let env = environment()?;
    let mut text = env.get_template(TEMPLATE_NAME)?.render(view(results))?;
    // Printed on stdout and appended to job summaries: end on a line break.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

fn view(r: &Results) -> View {
    View {
        verdict: verdict(r),
        stopped: stopped(r),
        context: context(r),
        cost: cost(r),
        baseline: comparison::baseline_line(r).map(|line| BaselineView {
            line,
            highlights: comparison::highlights(r),
            against: comparison::against(r),
            table: comparison::table(r),
        }),
        warnings: r.warnings.iter().map(|w| md_text(w)).collect(),
        thresholds: r.thresholds.iter().map(threshold_row).collect(),
        totals: totals(&r.total, r.comparison.as_ref()),
        labels: r
            .labels
            .iter()
            .map(|(name, s)| label_row(name, s, r.comparison.as_ref()))
            .collect(),
        regions: super::regions::markdown(r),
        skipped: r.labels.values().any(|s| s.skipped > 0),
        flows: flows(r),
        outcomes: outcomes(&r.total),
        failures: failures(r),
        chart: chart::mermaid(&r.timeline),
    }
}

/// The headline, also used alone when the template cannot render.
pub(crate) fn verdict(r: &Results) -> String {
    let name = md_text(&r.scenario);
    let failed = r.thresholds.iter().filter(|t| t.failed()).count();
    let mut line = if r.passed {
        format!("✅ loadgate: {name} passed")
    } else if failed > 0 {
        let total = r.thresholds.len();
        let noun = if total == 1 {
            "threshold"
        } else {
            "thresholds"
        };
        format!("❌ loadgate: {name} failed ({failed} of {total} {noun})")
    } else {
        format!("❌ loadgate: {name} failed")
    };
    if r.partial {
        line.push_str(" — partial results");
    }
    line
}

fn stopped(r: &Results) -> Option<String> {
    match &r.stopped {
        Some(reason) => Some(format!(
            "{}. The figures cover the run until then.",
            md_text(reason)
        )),
        None if r.partial => Some("the run did not finish; the figures are partial.".to_string()),
        None => None,
    }
}

fn context(r: &Results) -> String {
    // A local run's parts are engine threads; "1 worker" would undersell a run on every core.
    let (count, noun) = match &r.generator {
        Some(g) if r.executor == "local" => (g.parts, "engine thread"),
        _ => (r.workers, "worker"),
    };
    let plural = if count == 1 { "" } else { "s" };
    let mut parts = vec![
        format!("run {}", md_code(&r.run_id)),
        format!("{} executor", md_code(&r.executor)),
        format!("{} {noun}{plural}", format::count(u64::from(count))),
        format::duration_s(r.duration_s),
        format!("started {}", md_text(&r.started_at)),
    ];
    if let Some(load) = r.load.as_ref().map(describe_load) {
        parts.push(load);
    }
    let mut text = parts.join(" · ");
    if let Some(d) = &r.distributed {
        // Failed workers are named in the warnings; this line says how the run went.
        let p = &d.phases;
        let skew = d
            .start_skew_ms
            .map(|s| format!(" · start skew {s:.0} ms"))
            .unwrap_or_default();
        text.push_str(&format!(
            "\n\n{} of {} workers contributed{skew} · phases: stack check {:.1}s, launch {:.1}s, \
             barrier {:.1}s, load {:.1}s, merge {:.1}s",
            d.contributed, d.workers, p.stack_check_s, p.launch_s, p.barrier_s, p.load_s, p.merge_s
        ));
    }
    text
}

/// Fargate runs: `**Fargate cost:** $0.0812 (estimated $0.0950) · 4 tasks × 1 vCPU, ...`.
fn cost(r: &Results) -> Option<String> {
    use crate::cost::{breakdown, usd};
    let c = r.cost.as_ref()?;
    let (figure, shown) = match &c.actual {
        Some(actual) => (
            format!("{} (estimated {})", usd(actual.usd), usd(c.estimate.usd)),
            actual,
        ),
        None => (
            format!("about {}, estimated", usd(c.estimate.usd)),
            &c.estimate,
        ),
    };
    // md_text escapes `$`: two of them on a line would start GitHub's math rendering.
    let mut line = format!(
        "**Fargate cost:** {} · {}",
        md_text(&figure),
        md_text(&breakdown(shown))
    );
    // The one assumption a reader must see: the figure is not at the run region's rates.
    if let Some(fallback) = shown.assumptions.iter().find(|a| a.starts_with("no rates")) {
        line.push_str(&format!(" ({})", md_text(fallback)));
    }
    Some(line)
}

/// `{"model":"closed","concurrency":200,"ramp_up":30000,...}` (LoadPlan, durations in ms) ->
/// "closed model: 200 users, ramp-up 30s, hold 5m". Unknown keys are shown as they are, so a
/// field added later still reaches the reader.
fn describe_load(load: &serde_json::Value) -> String {
    use serde_json::Value;
    let Some(map) = load.as_object() else {
        return md_text(&load.to_string());
    };
    let duration = |v: &Value| match v.as_u64() {
        Some(ms) => format::duration_ms_compact(ms),
        None => scalar(v),
    };
    // serde_json orders keys alphabetically; a person reads the model's figures in this order.
    const ORDER: [&str; 6] = [
        "concurrency",
        "rate",
        "ramp_up",
        "hold_for",
        "think_time",
        "max_in_flight",
    ];
    let known = ORDER.iter().filter_map(|k| map.get_key_value(*k));
    let others = map
        .iter()
        .filter(|(k, _)| k.as_str() != "model" && !ORDER.contains(&k.as_str()));
    let mut figures = Vec::new();
    for (key, value) in known.chain(others) {
        let figure = match key.as_str() {
            "concurrency" => format!("{} users", scalar(value)),
            "rate" => match value.as_f64() {
                Some(rate) => format::per_second(rate),
                None => scalar(value),
            },
            "ramp_up" => format!("ramp-up {}", duration(value)),
            "hold_for" => format!("hold {}", duration(value)),
            "think_time" if value.as_u64() == Some(0) => continue,
            "think_time" => format!("think time {}", duration(value)),
            "max_in_flight" => format!("at most {} in flight", scalar(value)),
            other => format!("{} {}", md_text(other), scalar(value)),
        };
        figures.push(figure);
    }
    let model = map
        .get("model")
        .map(|m| format!("{} model", scalar(m)))
        .unwrap_or_else(|| "load".to_string());
    if figures.is_empty() {
        model
    } else {
        format!("{model}: {}", figures.join(", "))
    }
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => md_text(s),
        serde_json::Value::Number(n) => match n.as_u64() {
            Some(n) => format::count(n),
            None => md_text(&n.to_string()),
        },
        other => md_text(&other.to_string()),
    }
}

fn threshold_row(t: &ThresholdResult) -> ThresholdRow {
    let mut expr = md_code(&t.expr);
    if t.abort {
        expr.push_str(" · abort");
    }
    let limit = if t.skipped {
        format!(
            "_skipped: {}_",
            md_text(t.reason.as_deref().unwrap_or("no baseline"))
        )
    } else {
        let mut limit = format::limit(t.op, t.limit, t.unit);
        if let Some(base) = t.baseline {
            limit.push_str(&format!(" (baseline {})", format::in_unit(base, t.unit)));
        }
        limit
    };
    ThresholdRow {
        icon: if t.skipped {
            "⏭️"
        } else if t.passed {
            "✅"
        } else {
            "❌"
        },
        expr,
        actual: t
            .actual
            .map(|a| format::in_unit(a, t.unit))
            .unwrap_or_else(|| "_no data_".to_string()),
        limit,
    }
}

fn totals(s: &Summary, c: Option<&Comparison>) -> Totals {
    let mut line = format!(
        "**{}** requests at **{}**{} · errors **{}**{}",
        format::count(s.requests),
        format::per_second(s.rps),
        comparison::suffix(c, None, "rps"),
        format::percent(s.error_rate),
        comparison::suffix(c, None, "error_rate"),
    );
    if s.errors > 0 {
        let kinds: Vec<String> = s
            .error_kinds
            .iter()
            .map(|(k, n)| format!("{} {}", md_text(k), format::count(*n)))
            .collect();
        line.push_str(&format!(
            " ({}: {})",
            format::count(s.errors),
            kinds.join(", ")
        ));
    }
    if s.dropped > 0 {
        line.push_str(&format!(
            " · **{}** dropped (over `max_in_flight`, or a `unique` feed ran out)",
            format::count(s.dropped)
        ));
    }
    if s.skipped > 0 {
        line.push_str(&format!(
            " · **{}** skipped (after a failed capture in the same iteration)",
            format::count(s.skipped)
        ));
    }
    line.push_str(&format!(
        " · received {} · sent {}",
        format::bytes(s.bytes_received),
        format::bytes(s.bytes_sent)
    ));
    let mut series = vec![series_row("Response time", &s.response_time_ms)];
    // The comparison covers response time: its figures carry their change.
    let rt = &mut series[0];
    for (cell, metric) in [
        (&mut rt.p50, "p50"),
        (&mut rt.p90, "p90"),
        (&mut rt.p95, "p95"),
        (&mut rt.p99, "p99"),
        (&mut rt.p99_9, "p99.9"),
        (&mut rt.max, "max"),
    ] {
        cell.push_str(&comparison::suffix(c, None, metric));
    }
    // Time to first byte and connect time only when measured: a run over kept-alive
    // connections has few connects, and a row of dashes says nothing.
    if has_data(&s.ttfb_ms) {
        series.push(series_row("Time to first byte", &s.ttfb_ms));
    }
    if has_data(&s.connect_ms) {
        series.push(series_row("Connect (new connections)", &s.connect_ms));
    }
    Totals { line, series }
}

/// The histograms record at least 1 µs, so an empty one is the only one with a zero max.
fn has_data(p: &Percentiles) -> bool {
    p.max > 0.0
}

fn latency(p: &Percentiles, value: f64) -> String {
    if has_data(p) {
        format::ms(value)
    } else {
        NO_DATA.to_string()
    }
}

fn series_row(name: &'static str, p: &Percentiles) -> SeriesRow {
    SeriesRow {
        name,
        p50: latency(p, p.p50),
        p90: latency(p, p.p90),
        p95: latency(p, p.p95),
        p99: latency(p, p.p99),
        p99_9: latency(p, p.p99_9),
        max: latency(p, p.max),
    }
}

fn label_row(name: &str, s: &Summary, c: Option<&Comparison>) -> LabelRow {
    let p = &s.response_time_ms;
    let change = |metric: &str| comparison::suffix(c, Some(name), metric);
    LabelRow {
        name: md_text(name),
        requests: format::count(s.requests),
        rps: format!("{}{}", format::per_second(s.rps), change("rps")),
        error_rate: format!("{}{}", format::percent(s.error_rate), change("error_rate")),
        p50: format!("{}{}", latency(p, p.p50), change("p50")),
        p95: format!("{}{}", latency(p, p.p95), change("p95")),
        p99: format!("{}{}", latency(p, p.p99), change("p99")),
        max: format!("{}{}", latency(p, p.max), change("max")),
        skipped: format::count(s.skipped),
    }
}

/// The flow mix: iterations of each named flow and their share.
fn flows(r: &Results) -> Vec<OutcomeRow> {
    let total: u64 = r.flows.values().sum();
    r.flows
        .iter()
        .map(|(name, n)| OutcomeRow {
            name: md_text(name),
            count: format::count(*n),
            share: if total == 0 {
                NO_DATA.to_string()
            } else {
                format::percent(*n as f64 / total as f64)
            },
        })
        .collect()
}

/// Status codes, then the transport errors that got no status at all. Errors of kind `status`
/// are already visible as their codes.
fn outcomes(s: &Summary) -> Vec<OutcomeRow> {
    let share = |n: u64| {
        if s.requests == 0 {
            NO_DATA.to_string()
        } else {
            format::percent(n as f64 / s.requests as f64)
        }
    };
    let statuses = s.status.iter().map(|(code, n)| OutcomeRow {
        name: format!("HTTP {}", md_text(code)),
        count: format::count(*n),
        share: share(*n),
    });
    let transport = s
        .error_kinds
        .iter()
        .filter(|(kind, _)| kind.as_str() != ErrorKind::Status.as_str())
        .map(|(kind, n)| OutcomeRow {
            name: if kind.as_str() == ErrorKind::Check.as_str()
                || kind.as_str() == ErrorKind::Capture.as_str()
            {
                // These got a response (counted in its status too).
                format!("{} failed", md_code(kind))
            } else {
                format!("{} error, no response", md_code(kind))
            },
            count: format::count(*n),
            share: share(*n),
        });
    statuses.chain(transport).collect()
}

fn failures(r: &Results) -> Vec<FailureView> {
    let mut samples: Vec<_> = r.failures.iter().collect();
    // Grouped by kind and status (stable: arrival order within a group), at most
    // MAX_SAMPLES_PER_KIND per group even if a hand-edited file has more.
    samples.sort_by_key(|f| (f.kind, f.status));
    let mut shown: Vec<FailureView> = Vec::new();
    let mut last: Option<(ErrorKind, Option<u16>)> = None;
    let mut in_group = 0;
    for f in samples {
        let group = (f.kind, f.status);
        in_group = if last == Some(group) { in_group + 1 } else { 1 };
        last = Some(group);
        if in_group > MAX_SAMPLES_PER_KIND {
            continue;
        }
        let mut heading = format!("**{}** · {}", md_text(&f.label), md_code(f.kind.as_str()));
        if let Some(status) = f.status {
            heading.push_str(&format!(" {status}"));
        }
        if !f.message.is_empty() {
            heading.push_str(&format!(" · {}", md_text(&f.message)));
        }
        let body = f
            .body
            .as_deref()
            .filter(|b| !b.trim().is_empty())
            .map(|b| md_code_block(b, MAX_BODY_BYTES));
        shown.push(FailureView { heading, body });
    }
    shown
}
