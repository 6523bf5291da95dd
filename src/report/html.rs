//! report.html: one self-contained page (inline CSS and SVG, no script, no font or image to
//! fetch), so it works offline, as a CI artifact, and under a strict Content-Security-Policy.
//! Charts: latency percentiles over time, requests and errors per second, active users (closed
//! model) or arrival rate (open model), and per-label latency distribution; the baseline run is
//! overlaid dashed when there is one.

use std::fmt::Write;

use super::escape::html as escape;
use super::svg::{self, Chart, Line, XAxis, YUnit};
use super::{comparison, format};
use crate::compare::{Comparison, Verdict};
use crate::results::{Results, ThresholdResult, TimelinePoint};
use crate::stats;

const P50: &str = "#2f9e44";
const P95: &str = "#1971c2";
const P99: &str = "#e8590c";
const ERRORS: &str = "#e03131";
const NEUTRAL: &str = "#495057";
/// Label curves, in order; distinct for the colour-blind in pairs (blue/orange first).
const PALETTE: [&str; 8] = [
    "#1971c2", "#e8590c", "#2f9e44", "#9c36b5", "#c2255c", "#0c8599", "#f08c00", "#5c940d",
];

/// Chart ids, for tests and deep links.
pub const CHART_IDS: [&str; 4] = [
    "chart-latency",
    "chart-throughput",
    "chart-load",
    "chart-distribution",
];

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212529;
  margin: 0 auto; max-width: 1160px; padding: 24px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
.meta { color: #495057; margin: 0 0 4px; } .pass { color: #2b8a3e; } .fail { color: #c92a2a; }
.cards { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; margin: 16px 0; }
.card { border: 1px solid #dee2e6; border-radius: 8px; padding: 10px 12px; }
.card .k { color: #495057; font-size: 13px; } .card .v { font-size: 20px; font-weight: 600; }
.card .d { font-size: 13px; color: #495057; }
.worse { color: #c92a2a; font-weight: 600; } .better { color: #2b8a3e; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e9ecef; padding: 5px 8px; text-align: right; }
th:first-child, td:first-child, td.l { text-align: left; }
th { background: #f8f9fa; font-weight: 600; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f1f3f5;
  padding: 1px 4px; border-radius: 4px; }
.chart { width: 100%; height: auto; display: block; margin: 4px 0 12px; }
.chart .title { font-size: 15px; font-weight: 600; fill: #212529; }
.chart .grid line { stroke: #e9ecef; stroke-width: 1; shape-rendering: crispEdges; }
.chart .grid text, .chart .legend text { font-size: 12px; fill: #495057; }
.chart .empty { font-size: 14px; fill: #868e96; }
.warn { background: #fff9db; border-left: 4px solid #fab005; padding: 8px 12px; margin: 12px 0; }
"#;

pub(crate) fn render(r: &Results) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("loadgate: {}", r.scenario);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        escape(&title)
    );
    header(&mut out, r);
    cards(&mut out, r);
    thresholds(&mut out, &r.thresholds);
    out.push_str("<h2>Over time</h2>\n");
    for chart in [latency_chart(r), throughput_chart(r), load_chart(r)] {
        out.push_str(&svg::render(&chart));
        out.push('\n');
    }
    out.push_str("<h2>Latency distribution by label</h2>\n");
    out.push_str(&svg::render(&distribution_chart(r)));
    out.push('\n');
    labels(&mut out, r);
    kinds_and_flows(&mut out, r);
    super::regions::html(&mut out, r);
    out.push_str("</body></html>\n");
    out
}

fn header(out: &mut String, r: &Results) {
    let failed = r.thresholds.iter().filter(|t| t.failed()).count();
    let (class, verdict) = if r.passed {
        ("pass", "passed".to_string())
    } else if failed > 0 {
        (
            "fail",
            format!("failed ({failed} of {} thresholds)", r.thresholds.len()),
        )
    } else {
        ("fail", "failed".to_string())
    };
    let _ = writeln!(
        out,
        "<h1>loadgate: {} <span class=\"{class}\">{}</span></h1>",
        escape(&r.scenario),
        escape(&verdict)
    );
    let mut meta = vec![
        format!("run <code>{}</code>", escape(&r.run_id)),
        format!("started {}", escape(&r.started_at)),
        escape(&format::duration_s(r.duration_s)),
        format!("{} executor", escape(&r.executor)),
    ];
    if let Some(branch) = &r.branch {
        meta.push(format!("branch <code>{}</code>", escape(branch)));
    }
    if let Some(commit) = &r.commit {
        let short: String = commit.chars().take(12).collect();
        meta.push(format!("commit <code>{}</code>", escape(&short)));
    }
    let _ = writeln!(out, "<p class=\"meta\">{}</p>", meta.join(" · "));
    if let Some(b) = &r.baseline {
        let mut line = format!("Baseline: run <code>{}</code>", escape(&b.run_id));
        if let Some(branch) = &b.branch {
            let _ = write!(line, " on <code>{}</code>", escape(branch));
        }
        if let Some(commit) = &b.commit {
            let short: String = commit.chars().take(12).collect();
            let _ = write!(line, " · commit <code>{}</code>", escape(&short));
        }
        let _ = write!(line, " · started {} — drawn dashed", escape(&b.started_at));
        let _ = writeln!(out, "<p class=\"meta\">{line}</p>");
    }
    if let Some(stopped) = &r.stopped {
        let _ = writeln!(
            out,
            "<p class=\"warn\">Stopped early: {}</p>",
            escape(stopped)
        );
    }
    for w in &r.warnings {
        let _ = writeln!(out, "<p class=\"warn\">{}</p>", escape(w));
    }
}

/// The change of a figure as HTML: "+18% vs main", coloured when beyond noise.
fn change_html(r: &Results, label: Option<&str>, metric: &str) -> String {
    let Some(ch) = r.comparison.as_ref().and_then(|c| c.get(label, metric)) else {
        return String::new();
    };
    let class = match ch.verdict {
        Verdict::Worse => "worse",
        Verdict::Better => "better",
        Verdict::Same | Verdict::Unknown => "",
    };
    let against = r
        .baseline
        .as_ref()
        .and_then(|b| b.branch.clone())
        .unwrap_or_else(|| "baseline".to_string());
    format!(
        "<span class=\"{class}\">{} vs {}</span>",
        escape(&comparison::delta(ch)),
        escape(&against)
    )
}

fn cards(out: &mut String, r: &Results) {
    let s = &r.total;
    let p = &s.response_time_ms;
    let figures = [
        ("Requests", format::count(s.requests), String::new()),
        (
            "Throughput",
            format::per_second(s.rps),
            change_html(r, None, "rps"),
        ),
        (
            "Errors",
            format::percent(s.error_rate),
            change_html(r, None, "error_rate"),
        ),
        ("p50", format::ms(p.p50), change_html(r, None, "p50")),
        ("p95", format::ms(p.p95), change_html(r, None, "p95")),
        ("p99", format::ms(p.p99), change_html(r, None, "p99")),
    ];
    out.push_str("<div class=\"cards\">");
    for (k, v, d) in figures {
        let _ = write!(
            out,
            "<div class=\"card\"><div class=\"k\">{k}</div><div class=\"v\">{}</div><div class=\"d\">{d}</div></div>",
            escape(&v)
        );
    }
    out.push_str("</div>\n");
}

fn thresholds(out: &mut String, list: &[ThresholdResult]) {
    out.push_str("<h2>Thresholds</h2>\n");
    if list.is_empty() {
        out.push_str("<p>No thresholds were checked.</p>\n");
        return;
    }
    out.push_str(
        "<table><tr><th>Threshold</th><th>Result</th><th>Actual</th><th>Limit</th></tr>\n",
    );
    for t in list {
        let (class, result) = if t.skipped {
            ("", "skipped")
        } else if t.passed {
            ("better", "passed")
        } else {
            ("worse", "failed")
        };
        let actual = t
            .actual
            .map_or_else(|| "no data".to_string(), |a| format::in_unit(a, t.unit));
        let limit = if t.skipped {
            t.reason
                .clone()
                .unwrap_or_else(|| "no baseline".to_string())
        } else {
            let mut limit = format::limit(t.op, t.limit, t.unit);
            if let Some(base) = t.baseline {
                let _ = write!(limit, " (baseline {})", format::in_unit(base, t.unit));
            }
            limit
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code>{}</td><td class=\"{class}\">{result}</td><td>{}</td><td>{}</td></tr>",
            escape(&t.expr),
            if t.abort { " · abort" } else { "" },
            escape(&actual),
            escape(&limit)
        );
    }
    out.push_str("</table>\n");
}

fn labels(out: &mut String, r: &Results) {
    if r.labels.is_empty() {
        return;
    }
    let skipped = r.labels.values().any(|s| s.skipped > 0);
    out.push_str(
        "<h2>By label</h2>\n<table><tr><th>Label</th><th>Requests</th><th>Rate</th>\
                  <th>Errors</th><th>p50</th><th>p95</th><th>p99</th><th>max</th>",
    );
    out.push_str(if skipped {
        "<th>Skipped</th></tr>\n"
    } else {
        "</tr>\n"
    });
    for (name, s) in &r.labels {
        let p = &s.response_time_ms;
        let cell = |text: String, metric: &str| {
            let change = change_html(r, Some(name), metric);
            if change.is_empty() {
                escape(&text)
            } else {
                format!("{}<br>{change}", escape(&text))
            }
        };
        let extra = if skipped {
            format!("<td>{}</td>", format::count(s.skipped))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{extra}</tr>",
            escape(name),
            format::count(s.requests),
            cell(format::per_second(s.rps), "rps"),
            cell(format::percent(s.error_rate), "error_rate"),
            cell(format::ms(p.p50), "p50"),
            cell(format::ms(p.p95), "p95"),
            cell(format::ms(p.p99), "p99"),
            cell(format::ms(p.max), "max"),
        );
    }
    out.push_str("</table>\n");
}

/// Errors by kind (`check` and `capture` got a response), and the flow mix when the scenario
/// has named flows.
fn kinds_and_flows(out: &mut String, r: &Results) {
    // Transport and status errors show in the outcome charts; a response that failed a check or
    // a capture shows only here.
    let per_user = ["check", "capture"];
    if r.total
        .error_kinds
        .keys()
        .any(|k| per_user.contains(&k.as_str()))
    {
        out.push_str("<h2>Errors by kind</h2>\n<table><tr><th>Kind</th><th>Count</th></tr>\n");
        for (kind, n) in &r.total.error_kinds {
            let _ = writeln!(
                out,
                "<tr><td class=\"l\"><code>{}</code></td><td>{}</td></tr>",
                escape(kind),
                format::count(*n)
            );
        }
        out.push_str("</table>\n");
    }
    if !r.flows.is_empty() {
        let total: u64 = r.flows.values().sum();
        out.push_str(
            "<h2>Flow mix</h2>\n<table><tr><th>Flow</th><th>Iterations</th><th>Share</th></tr>\n",
        );
        for (name, n) in &r.flows {
            let share = if total == 0 {
                "–".to_string()
            } else {
                format::percent(*n as f64 / total as f64)
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                format::count(*n),
                escape(&share)
            );
        }
        out.push_str("</table>\n");
    }
}

/// What the baseline is called in legends: its branch, else "baseline".
fn base_name(r: &Results) -> String {
    r.baseline
        .as_ref()
        .and_then(|b| b.branch.clone())
        .unwrap_or_else(|| "baseline".to_string())
}

fn series(timeline: &[TimelinePoint], f: impl Fn(&TimelinePoint) -> f64) -> Vec<(f64, f64)> {
    timeline.iter().map(|p| (f64::from(p.t), f(p))).collect()
}

/// Counts per second of a run lasting `duration_s`: the last second is usually a fraction (the
/// requests in flight at the deadline finishing), so its count is divided by its real length
/// rather than drawn as a cliff; a sliver too short to give a rate is left out.
fn rate_series(
    timeline: &[TimelinePoint],
    duration_s: f64,
    f: impl Fn(&TimelinePoint) -> f64,
) -> Vec<(f64, f64)> {
    timeline
        .iter()
        .filter_map(|p| {
            let length = (duration_s - f64::from(p.t)).clamp(0.0, 1.0);
            (length >= 0.2).then(|| (f64::from(p.t), f(p) / length))
        })
        .collect()
}

/// Seconds in which nothing completed have no latency: a gap in the line (a NaN point, which the
/// chart breaks the line at) rather than a drop to 0 ms.
fn latency_series(
    timeline: &[TimelinePoint],
    f: impl Fn(&TimelinePoint) -> f64,
) -> Vec<(f64, f64)> {
    timeline
        .iter()
        .map(|p| {
            let empty = p.empty || (p.requests <= p.errors && f(p) <= 0.0);
            (f64::from(p.t), if empty { f64::NAN } else { f(p) })
        })
        .collect()
}

fn baseline_timeline(r: &Results) -> Option<&[TimelinePoint]> {
    r.comparison
        .as_ref()
        .map(|c: &Comparison| c.timeline.as_slice())
        .filter(|t| !t.is_empty())
}

/// A percentile line of the timeline: its name, colour and figure.
type Pick = (&'static str, &'static str, fn(&TimelinePoint) -> f64);

fn latency_chart(r: &Results) -> Chart {
    let mut lines = Vec::new();
    let base = base_name(r);
    let picks: [Pick; 3] = [
        ("p50", P50, |p| p.p50_ms),
        ("p95", P95, |p| p.p95_ms),
        ("p99", P99, |p| p.p99_ms),
    ];
    for (name, color, f) in picks {
        lines.push(Line {
            name: name.to_string(),
            color,
            dashed: false,
            points: latency_series(&r.timeline, f),
        });
    }
    if let Some(timeline) = baseline_timeline(r) {
        for (name, color, f) in picks {
            lines.push(Line {
                name: format!("{base} {name}"),
                color,
                dashed: true,
                points: latency_series(timeline, f),
            });
        }
    }
    Chart {
        id: CHART_IDS[0],
        title: "Response time per second: p50, p95, p99".to_string(),
        x: XAxis::Seconds,
        y: YUnit::Ms,
        lines,
    }
}

fn throughput_chart(r: &Results) -> Chart {
    let mut lines = vec![
        Line {
            name: "requests/s".to_string(),
            color: P95,
            dashed: false,
            points: rate_series(&r.timeline, r.duration_s, |p| p.requests as f64),
        },
        Line {
            name: "errors/s".to_string(),
            color: ERRORS,
            dashed: false,
            points: rate_series(&r.timeline, r.duration_s, |p| p.errors as f64),
        },
    ];
    if let Some(timeline) = baseline_timeline(r) {
        lines.push(Line {
            name: format!("{} requests/s", base_name(r)),
            color: P95,
            dashed: true,
            points: series(timeline, |p| p.requests as f64),
        });
        lines.push(Line {
            name: format!("{} errors/s", base_name(r)),
            color: ERRORS,
            dashed: true,
            points: series(timeline, |p| p.errors as f64),
        });
    }
    Chart {
        id: CHART_IDS[1],
        title: "Requests and errors per second".to_string(),
        x: XAxis::Seconds,
        y: YUnit::PerSecond,
        lines,
    }
}

/// Closed model: virtual users active each second. Open model: arrivals per second (sent and
/// dropped), which is what that model controls.
fn load_chart(r: &Results) -> Chart {
    let open = r
        .load
        .as_ref()
        .and_then(|l| l.get("model"))
        .and_then(|m| m.as_str())
        == Some("open");
    let (title, name, y, f): (&str, &str, YUnit, fn(&TimelinePoint) -> f64) = if open {
        (
            "Arrival rate (sent and dropped per second)",
            "arrivals/s",
            YUnit::PerSecond,
            |p| (p.requests + p.dropped) as f64,
        )
    } else {
        ("Active users", "active users", YUnit::Count, |p| {
            p.active as f64
        })
    };
    let mut lines = vec![Line {
        name: name.to_string(),
        color: NEUTRAL,
        dashed: false,
        points: if open {
            rate_series(&r.timeline, r.duration_s, f)
        } else {
            series(&r.timeline, f)
        },
    }];
    if let Some(timeline) = baseline_timeline(r) {
        lines.push(Line {
            name: format!("{} {name}", base_name(r)),
            color: NEUTRAL,
            dashed: true,
            points: series(timeline, f),
        });
    }
    Chart {
        id: CHART_IDS[2],
        title: title.to_string(),
        x: XAxis::Seconds,
        y,
        lines,
    }
}

/// Steps along the nines axis: 0.05 nines apart, 81 points from p0 to p99.99.
const CURVE_STEPS: usize = 80;

/// Each label's percentile curve from its histogram; the baseline's as dashed lines through the
/// percentiles its summary kept (p50 to p99.9).
fn distribution_chart(r: &Results) -> Chart {
    let mut lines = Vec::new();
    let base = base_name(r);
    for (i, (name, set)) in r.histograms.sets.labels.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let Ok(h) = stats::decode(&set.response_time) else {
            continue;
        };
        if h.is_empty() {
            continue;
        }
        let points = (0..=CURVE_STEPS)
            .map(|k| {
                let x = svg::MAX_NINES * k as f64 / CURVE_STEPS as f64;
                let percentile = 100.0 * (1.0 - 10f64.powf(-x));
                (x, stats::percentile_ms(&h, percentile))
            })
            .collect();
        lines.push(Line {
            name: name.clone(),
            color,
            dashed: false,
            points,
        });
        if let Some(summary) = baseline_summary(r, name) {
            lines.push(Line {
                name: format!("{base} {name}"),
                color,
                dashed: true,
                points: summary,
            });
        }
    }
    Chart {
        id: CHART_IDS[3],
        title: "Response time by percentile (log scale of nines)".to_string(),
        x: XAxis::Nines,
        y: YUnit::Ms,
        lines,
    }
}

/// The baseline's percentiles of `label` on the nines axis, from the comparison's figures.
fn baseline_summary(r: &Results, label: &str) -> Option<Vec<(f64, f64)>> {
    let c = r.comparison.as_ref()?;
    let points: Vec<(f64, f64)> = [
        ("p50", 50.0),
        ("p90", 90.0),
        ("p95", 95.0),
        ("p99", 99.0),
        ("p99.9", 99.9),
    ]
    .iter()
    .filter_map(|(metric, p)| Some((svg::nines(*p), c.get(Some(label), metric)?.base?)))
    .collect();
    (points.len() > 1).then_some(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: u32, requests: u64) -> TimelinePoint {
        TimelinePoint {
            t,
            requests,
            errors: 0,
            dropped: 0,
            active: 0,
            p50_ms: 1.0,
            p95_ms: 1.0,
            p99_ms: 1.0,
            empty: false,
        }
    }

    /// Issue 14 item 15: a stalled second is a gap in the latency line, not a drop to 0 ms.
    #[test]
    fn a_second_without_responses_is_a_gap() {
        let mut stall = point(1, 0);
        stall.empty = true;
        (stall.p50_ms, stall.p95_ms, stall.p99_ms) = (0.0, 0.0, 0.0);
        let timeline = [point(0, 10), stall, point(2, 10), point(3, 10)];
        let series = latency_series(&timeline, |p| p.p99_ms);
        assert!(series[1].1.is_nan(), "{series:?}");
        let svg = svg::render(&Chart {
            id: "chart-gap",
            title: "t".to_string(),
            x: XAxis::Seconds,
            y: YUnit::Ms,
            lines: vec![Line {
                name: "p99".to_string(),
                color: "#000000",
                dashed: false,
                points: series,
            }],
        });
        // One dot before the stall, one line after it, nothing across it.
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
    }

    #[test]
    fn the_last_fraction_of_a_second_is_a_rate_not_a_cliff() {
        let timeline = [point(0, 100), point(1, 100), point(2, 50)];
        // 2.5 s: the last bucket lasted half a second, so 50 requests are 100/s.
        assert_eq!(
            rate_series(&timeline, 2.5, |p| p.requests as f64),
            vec![(0.0, 100.0), (1.0, 100.0), (2.0, 100.0)]
        );
        // A 0.1 s sliver gives no honest rate: left out.
        assert_eq!(rate_series(&timeline, 2.1, |p| p.requests as f64).len(), 2);
    }
}
