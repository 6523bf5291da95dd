//! Line charts as inline SVG, written by hand: no chart crate to compile, no script to run, and
//! the page stays one self-contained file. Text is escaped; numbers are rounded to 0.1 px.

use std::fmt::Write;

use super::escape::html as escape;
use super::format;

const WIDTH: f64 = 1100.0;
/// Height of the plot area; the title and legend rows come on top of it.
const PLOT_HEIGHT: f64 = 220.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 20.0;
const BOTTOM: f64 = 40.0;
/// Baseline of the first legend row, and the height of each.
const LEGEND_Y: f64 = 42.0;
const LEGEND_ROW: f64 = 20.0;

/// How the y axis' figures read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum YUnit {
    Ms,
    PerSecond,
    Count,
}

/// The x axis: seconds of the run, or percentiles on a "nines" scale (x = number of nines, so
/// p90 is 1, p99 is 2, p99.9 is 3), where the tail gets as much room as the median.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum XAxis {
    Seconds,
    Nines,
}

/// One series of points (x in the axis' terms, y in its unit).
#[derive(Clone, Debug)]
pub struct Line {
    pub name: String,
    pub color: &'static str,
    /// Baseline series are dashed.
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct Chart {
    /// The `<svg>` element's id.
    pub id: &'static str,
    pub title: String,
    pub x: XAxis,
    pub y: YUnit,
    pub lines: Vec<Line>,
}

/// Highest number of nines drawn (p99.99).
pub const MAX_NINES: f64 = 4.0;

/// Percentile (0..100) -> position on the nines axis.
pub fn nines(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(10f64.powf(-MAX_NINES));
    -rest.log10()
}

pub fn render(chart: &Chart) -> String {
    let (legend, rows) = legend(&chart.lines);
    let top = LEGEND_Y + rows as f64 * LEGEND_ROW;
    let height = top + PLOT_HEIGHT + BOTTOM;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg id="{}" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        chart.id,
        escape(&chart.title)
    );
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="18" class="title">{}</text>"#,
        escape(&chart.title)
    );
    let points = chart.lines.iter().flat_map(|l| l.points.iter());
    let finite: Vec<(f64, f64)> = points
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if finite.is_empty() {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" class="empty" text-anchor="middle">no data</text></svg>"#,
            WIDTH / 2.0,
            height / 2.0
        );
        return out;
    }
    let (x_min, x_max) = match chart.x {
        XAxis::Nines => (0.0, MAX_NINES),
        XAxis::Seconds => {
            let max = finite.iter().map(|p| p.0).fold(0.0, f64::max);
            (0.0, max.max(1.0))
        }
    };
    let y_top = finite.iter().map(|p| p.1).fold(0.0, f64::max);
    // Headroom above the highest point, so a flat line does not sit on the frame.
    let y_ticks = ticks(y_top * 1.08);
    let y_max = y_ticks
        .last()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = PLOT_HEIGHT;
    let sx = |x: f64| LEFT + (x - x_min) / (x_max - x_min) * plot_w;
    let sy = |y: f64| top + plot_h - (y / y_max).clamp(0.0, 1.0) * plot_h;

    out.push_str(r#"<g class="grid">"#);
    for &t in &y_ticks {
        let y = sy(t);
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 8.0,
            y + 4.0,
            y_label(t, chart.y)
        );
    }
    for (x, label) in x_ticks(chart.x, x_max) {
        let px = sx(x);
        let _ = write!(
            out,
            r#"<line x1="{px:.1}" x2="{px:.1}" y1="{top:.1}" y2="{:.1}"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            top + plot_h,
            top + plot_h + 18.0
        );
    }
    out.push_str("</g>");

    for line in &chart.lines {
        // A point that is not finite (a second with no data) breaks the line: a gap, not a
        // line drawn across it.
        let runs: Vec<Vec<String>> = line
            .points
            .split(|(x, y)| !(x.is_finite() && y.is_finite()))
            .filter(|run| !run.is_empty())
            .map(|run| {
                run.iter()
                    .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                    .collect()
            })
            .collect();
        let dash = if line.dashed {
            r#" stroke-dasharray="7 5" stroke-opacity="0.75""#
        } else {
            ""
        };
        let _ = write!(out, "<g><title>{}</title>", escape(&line.name));
        for pts in &runs {
            match pts.as_slice() {
                [] => {}
                [one] => {
                    let (x, y) = one.split_once(',').unwrap_or(("0", "0"));
                    let _ = write!(
                        out,
                        r#"<circle cx="{x}" cy="{y}" r="3.5" fill="{}"/>"#,
                        line.color
                    );
                }
                many => {
                    let _ = write!(
                        out,
                        r#"<polyline fill="none" stroke="{}" stroke-width="2.2" stroke-linejoin="round" stroke-linecap="round"{dash} points="{}"/>"#,
                        line.color,
                        many.join(" ")
                    );
                }
            }
        }
        out.push_str("</g>");
    }
    out.push_str(&legend);
    out.push_str("</svg>");
    out
}

/// Swatches and names in rows under the title, wrapped at the chart's width; returns the SVG
/// and the number of rows (a chart of many labels gets a taller head, never overlapping text).
fn legend(lines: &[Line]) -> (String, usize) {
    let mut out = String::from(r#"<g class="legend">"#);
    let (mut x, mut row) = (LEFT, 0usize);
    for line in lines {
        // 12 px text averages under 7 px a character.
        let width = 28.0 + 7.0 * line.name.chars().count() as f64;
        if x + width > WIDTH - RIGHT && x > LEFT {
            x = LEFT;
            row += 1;
        }
        let y = LEGEND_Y - 4.0 + row as f64 * LEGEND_ROW;
        let dash = if line.dashed {
            r#" stroke-dasharray="7 5""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="3"{dash}/><text x="{:.1}" y="{y:.1}">{}</text>"#,
            x + 22.0,
            y - 4.0,
            y - 4.0,
            line.color,
            x + 28.0,
            escape(&line.name)
        );
        x += width + 16.0;
    }
    out.push_str("</g>");
    let rows = if lines.is_empty() { 0 } else { row + 1 };
    (out, rows)
}

/// About five round ticks from 0 to at least `max`: steps of 1, 2 or 5 times a power of ten.
pub fn ticks(max: f64) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0, 1.0];
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let count = (max / step).ceil() as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

fn x_ticks(axis: XAxis, max: f64) -> Vec<(f64, String)> {
    match axis {
        XAxis::Nines => [
            (0.0, "p0"),
            (nines(50.0), "p50"),
            (1.0, "p90"),
            (2.0, "p99"),
            (3.0, "p99.9"),
            (4.0, "p99.99"),
        ]
        .iter()
        .map(|(x, l)| (*x, l.to_string()))
        .collect(),
        XAxis::Seconds => ticks(max)
            .into_iter()
            .filter(|t| *t <= max)
            .map(|t| (t, seconds_label(t)))
            .collect(),
    }
}

fn seconds_label(t: f64) -> String {
    let s = t.round() as u64;
    if s >= 60 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn y_label(value: f64, unit: YUnit) -> String {
    match unit {
        YUnit::Ms => format::ms(value),
        YUnit::PerSecond => format::per_second(value),
        YUnit::Count => format::count_f64(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(9.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(100.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(ticks(0.0), vec![0.0, 1.0]);
        assert_eq!(ticks(f64::NAN), vec![0.0, 1.0]);
        let t = ticks(437.0);
        assert!(*t.last().unwrap_or(&0.0) >= 437.0, "{t:?}");
        assert!(t.len() <= 7, "{t:?}");
    }

    #[test]
    fn the_nines_axis_gives_the_tail_room() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(nines(100.0), MAX_NINES);
    }

    #[test]
    fn a_chart_has_its_id_lines_and_escaped_text() {
        let chart = Chart {
            id: "chart-x",
            title: "a <b> & c".to_string(),
            x: XAxis::Seconds,
            y: YUnit::Ms,
            lines: vec![
                Line {
                    name: "p95".to_string(),
                    color: "#123456",
                    dashed: false,
                    points: vec![(0.0, 1.0), (1.0, 2.0), (2.0, f64::NAN)],
                },
                Line {
                    name: "main p95".to_string(),
                    color: "#123456",
                    dashed: true,
                    points: vec![(0.0, 3.0)],
                },
            ],
        };
        let svg = render(&chart);
        assert!(svg.starts_with(r#"<svg id="chart-x""#), "{svg}");
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("<circle"), "a single point is a dot");
        assert!(svg.contains("stroke-dasharray"));
        assert!(!svg.contains("NaN"));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn an_empty_chart_says_so() {
        let chart = Chart {
            id: "chart-empty",
            title: "t".to_string(),
            x: XAxis::Nines,
            y: YUnit::Count,
            lines: Vec::new(),
        };
        let svg = render(&chart);
        assert!(svg.contains(r#"id="chart-empty""#));
        assert!(svg.contains("no data"));
    }

    #[test]
    fn a_long_legend_wraps_into_more_rows_and_a_taller_chart() {
        let line = |i: usize| Line {
            name: format!("label number {i} with a long name"),
            color: "#000",
            dashed: i % 2 == 1,
            points: vec![(0.0, 1.0), (1.0, 2.0)],
        };
        let (_, one) = legend(&[line(0)]);
        let (_, many) = legend(&(0..16).map(line).collect::<Vec<_>>());
        assert_eq!(one, 1);
        assert!(many >= 4, "{many} rows");
        let chart = |n: usize| Chart {
            id: "c",
            title: "t".to_string(),
            x: XAxis::Seconds,
            y: YUnit::Count,
            lines: (0..n).map(line).collect(),
        };
        let view = |svg: String| {
            svg.split("viewBox=\"0 0 1100 ")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|h| h.parse::<f64>().ok())
        };
        assert!(view(render(&chart(16))) > view(render(&chart(1))));
    }
}
