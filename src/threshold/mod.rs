//! Threshold expressions: `[LABEL ":"] METRIC OP VALUE`, conditions that must hold for a run to pass.
//! VALUE may be relative to a baseline run: `p95 < baseline + 10%` (see `relative`).
//!
//! A threshold states what must hold, as in k6 (`p(95)<500` is accepted as written); Taurus-style
//! failure criteria state the opposite and are refused with a suggestion. Parsing lives in
//! [`parse`](parse()), evaluation against a merged [`crate::stats::Aggregate`] in `eval`.

use std::fmt;

use serde::{Deserialize, Serialize};

mod bounds;
mod eval;
mod foreign;
mod parse;
mod region;
mod relative;

pub use eval::{breached_aborts, evaluate, evaluate_against, Baseline};
pub use parse::parse;
pub use region::{evaluate_with_regions, RegionBaselines};
pub use relative::Margin;

/// One parsed threshold. `limit` is in `unit` (ms for time metrics, % for error_rate, /s for rps,
/// count for errors, requests and dropped).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The expression as written (trimmed).
    pub expr: String,
    pub label: Option<String>,
    /// The k6-style tag filter `{region:NAME}`: the threshold holds for that region's workers
    /// only (a run from several regions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub metric: Metric,
    pub op: Op,
    pub limit: f64,
    pub unit: Unit,
    /// Set when the limit is relative to a baseline run (`p95 < baseline + 10%`); `limit` is
    /// then 0 and the real limit is known only once a baseline is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<Margin>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    ResponseTime,
    Ttfb,
    Connect,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    /// 0 < p <= 100; `median` is 50.
    Percentile(f64),
    Avg,
    Min,
    Max,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Latency { series: Series, stat: Stat },
    ErrorRate,
    Errors,
    Requests,
    Rps,
    Dropped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    #[serde(rename = "ms")]
    Ms,
    #[serde(rename = "%")]
    Percent,
    #[serde(rename = "/s")]
    PerSecond,
    #[serde(rename = "count")]
    Count,
}

/// Why an expression does not parse: `offset` is the byte offset of the offending character, so
/// the message can put a caret under it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl Threshold {
    /// The canonical metric name of results.json's `"metric"` field: `p95`, `p99.9`, `p97.5`,
    /// `ttfb_p95`, `connect_avg`, `error_rate`, `rps`... `median` is `p50` and `p(95)` is `p95`,
    /// so one metric has one name whatever way it was written.
    pub fn metric_name(&self) -> String {
        self.metric.name()
    }
}

impl Metric {
    /// See [`Threshold::metric_name`].
    pub fn name(&self) -> String {
        match self {
            Metric::Latency { series, stat } => {
                let prefix = match series {
                    Series::ResponseTime => "",
                    Series::Ttfb => "ttfb_",
                    Series::Connect => "connect_",
                };
                let stat = match stat {
                    // f64's Display is the shortest form that reads back: 95 -> "95", 97.5 -> "97.5".
                    Stat::Percentile(p) => format!("p{p}"),
                    Stat::Avg => "avg".to_string(),
                    Stat::Min => "min".to_string(),
                    Stat::Max => "max".to_string(),
                };
                format!("{prefix}{stat}")
            }
            Metric::ErrorRate => "error_rate".to_string(),
            Metric::Errors => "errors".to_string(),
            Metric::Requests => "requests".to_string(),
            Metric::Rps => "rps".to_string(),
            Metric::Dropped => "dropped".to_string(),
        }
    }

    /// The unit a limit of this metric is stored in.
    pub fn unit(&self) -> Unit {
        match self {
            Metric::Latency { .. } => Unit::Ms,
            Metric::ErrorRate => Unit::Percent,
            Metric::Rps => Unit::PerSecond,
            Metric::Errors | Metric::Requests | Metric::Dropped => Unit::Count,
        }
    }
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// The operator that holds exactly when this one does not.
    pub fn negated(self) -> Op {
        match self {
            Op::Lt => Op::Ge,
            Op::Le => Op::Gt,
            Op::Gt => Op::Le,
            Op::Ge => Op::Lt,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Unit {
    /// The suffix written after a value: `ms`, `%`, `/s`, and nothing for a count.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Percent => "%",
            Unit::PerSecond => "/s",
            Unit::Count => "",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

impl std::str::FromStr for Threshold {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Renders a parse error as the expression's line with a caret under the offending character:
///
/// ```text
/// p95 < 300xs
///          ^ unknown unit `xs`: expected one of us, ms, s, m
/// ```
pub fn render_error(expr: &str, err: &ParseError) -> String {
    let mut offset = err.offset.min(expr.len());
    while !expr.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = expr[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = expr[offset..].find('\n').map_or(expr.len(), |i| offset + i);
    let line = expr[line_start..line_end].trim_end_matches('\r');
    // Tabs stay tabs so the caret lines up however the terminal expands them.
    let pad: String = expr[line_start..offset]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("{line}\n{pad}^ {}", err.message)
}

#[cfg(test)]
mod parse_tests;
