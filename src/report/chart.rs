//! The latency-over-time chart: a Mermaid `xychart-beta` block, which GitHub renders in place.

use std::fmt::Write;

use crate::results::TimelinePoint;

/// More points than this make the chart unreadable at PR-comment width.
pub const MAX_POINTS: usize = 60;

/// One point of the chart: the first second it covers and the percentiles drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartPoint {
    pub t: u32,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// No response completed in any second it covers (a stall).
    pub empty: bool,
}

/// The timeline with at most [`MAX_POINTS`] points. Longer runs merge consecutive seconds and
/// keep the *highest* value of each percentile among them: a one-second spike must stay visible
/// on the chart of a one-hour run, and an average would hide it.
pub fn downsample(timeline: &[TimelinePoint]) -> Vec<ChartPoint> {
    let per_point = timeline.len().div_ceil(MAX_POINTS).max(1);
    timeline
        .chunks(per_point)
        .filter_map(|chunk| {
            let first = chunk.first()?;
            let max = |f: fn(&TimelinePoint) -> f64| {
                chunk.iter().filter(|p| !p.empty).map(f).fold(0.0, f64::max)
            };
            Some(ChartPoint {
                t: first.t,
                p50_ms: max(|p| p.p50_ms),
                p95_ms: max(|p| p.p95_ms),
                p99_ms: max(|p| p.p99_ms),
                empty: chunk.iter().all(|p| p.empty),
            })
        })
        .collect()
}

/// The Mermaid block, or None when there are fewer than two seconds to draw. Mermaid's lines
/// cannot have gaps, so a second in which nothing completed carries the last value drawn, and its
/// label on the x axis says so: a stall must not look like latency dropping to 0.
pub fn mermaid(timeline: &[TimelinePoint]) -> Option<String> {
    if timeline.len() < 2 {
        return None;
    }
    let mut points = downsample(timeline);
    let mut last: Option<(f64, f64, f64)> = None;
    for p in &mut points {
        if p.empty {
            if let Some((p50, p95, p99)) = last {
                (p.p50_ms, p.p95_ms, p.p99_ms) = (p50, p95, p99);
            }
        } else {
            last = Some((p.p50_ms, p.p95_ms, p.p99_ms));
        }
    }
    let xs: Vec<String> = points
        .iter()
        .map(|p| {
            if p.empty {
                format!("\"{} none\"", p.t)
            } else {
                p.t.to_string()
            }
        })
        .collect();
    let series = |f: fn(&ChartPoint) -> f64| -> String {
        points
            .iter()
            .map(|p| number(f(p)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::from("```mermaid\nxychart-beta\n");
    // Writing into a String cannot fail.
    let _ = writeln!(out, "    title \"Response time (ms): p50, p95, p99\"");
    let _ = writeln!(out, "    x-axis \"seconds\" [{}]", xs.join(", "));
    let _ = writeln!(out, "    y-axis \"ms\"");
    let _ = writeln!(out, "    line \"p50\" [{}]", series(|p| p.p50_ms));
    let _ = writeln!(out, "    line \"p95\" [{}]", series(|p| p.p95_ms));
    let _ = writeln!(out, "    line \"p99\" [{}]", series(|p| p.p99_ms));
    out.push_str("```");
    if points.iter().any(|p| p.empty) {
        out.push_str(
            "\n\n\"none\": no response completed in that second (a stall); the chart carries \
             the last value there instead of drawing 0 ms.",
        );
    }
    Some(out)
}

/// A plain decimal Mermaid accepts (no exponent, no separators), at three significant digits
/// like the rest of the report, and at least to the microsecond.
fn number(value: f64) -> String {
    if !value.is_finite() || value <= 0.0 {
        return "0".to_string();
    }
    let decimals = (2 - value.log10().floor() as i32).clamp(0, 3) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: u32, p99: f64) -> TimelinePoint {
        TimelinePoint {
            t,
            requests: 10,
            errors: 0,
            dropped: 0,
            active: 1,
            p50_ms: p99 / 4.0,
            p95_ms: p99 / 2.0,
            p99_ms: p99,
            empty: false,
        }
    }

    /// Issue 14 item 15: a stalled second was drawn as latency dropping to 0.
    #[test]
    fn a_second_without_responses_carries_the_last_value_and_is_labelled() {
        let mut stall = point(2, 0.0);
        stall.requests = 0;
        stall.empty = true;
        let timeline = [point(0, 40.0), point(1, 80.0), stall, point(3, 120.0)];
        let text = mermaid(&timeline).unwrap();
        assert!(
            text.contains(r#"x-axis "seconds" [0, 1, "2 none", 3]"#),
            "{text}"
        );
        assert!(text.contains(r#"line "p99" [40, 80, 80, 120]"#), "{text}");
        assert!(
            text.contains("no response completed in that second"),
            "{text}"
        );
        let quiet = mermaid(&[point(0, 1.0), point(1, 2.0)]).unwrap();
        assert!(!quiet.contains("none"), "{quiet}");
    }

    #[test]
    fn fewer_than_two_seconds_draw_nothing() {
        assert_eq!(mermaid(&[]), None);
        assert_eq!(mermaid(&[point(0, 1.0)]), None);
        assert!(mermaid(&[point(0, 1.0), point(1, 2.0)]).is_some());
    }

    #[test]
    fn short_runs_keep_every_second() {
        let timeline: Vec<_> = (0..60).map(|t| point(t, t as f64)).collect();
        let points = downsample(&timeline);
        assert_eq!(points.len(), 60);
        assert_eq!(points[59].p99_ms, 59.0);
    }

    #[test]
    fn long_runs_merge_seconds_and_keep_the_spike() {
        let mut timeline: Vec<_> = (0..3600).map(|t| point(t, 10.0)).collect();
        timeline[1234].p99_ms = 900.0;
        let points = downsample(&timeline);
        assert!(points.len() <= MAX_POINTS, "{} points", points.len());
        assert_eq!(points[1].t, 60);
        assert_eq!(points.iter().filter(|p| p.p99_ms == 900.0).count(), 1);
        let text = mermaid(&timeline).unwrap_or_default();
        assert!(text.contains(", 900,"), "{text}");
    }

    #[test]
    fn mermaid_block_has_three_lines_and_plain_numbers() {
        let text = mermaid(&[point(0, 1.5), point(1, 2.0004)]).unwrap_or_default();
        assert!(text.starts_with("```mermaid\nxychart-beta\n"));
        assert!(text.contains("x-axis \"seconds\" [0, 1]"));
        assert!(text.contains("line \"p99\" [1.5, 2]"));
        assert!(text.contains("line \"p50\" [0.375, 0.5]"));
        assert!(text.ends_with("```"));
        let text = mermaid(&[point(0, 462.847), point(1, 0.0004)]).unwrap_or_default();
        assert!(text.contains("line \"p99\" [463, 0]"), "{text}");
    }
}
