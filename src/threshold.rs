//! Threshold expressions: `[LABEL ":"] METRIC OP VALUE`, conditions that must hold for a run to pass.

use serde::{Deserialize, Serialize};

/// One parsed threshold. `limit` is in `unit` (ms for time metrics, % for error_rate, /s for rps,
/// count for errors, requests and dropped).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The expression as written.
    pub expr: String,
    pub label: Option<String>,
    pub metric: Metric,
    pub op: Op,
    pub limit: f64,
    pub unit: Unit,
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

/// Parses one threshold expression.
pub fn parse(expr: &str) -> Result<Threshold, ParseError> {
    // Placeholder until the threshold parser lands (being written in parallel).
    Err(ParseError {
        offset: 0,
        message: format!("threshold parser not built yet: {expr}"),
    })
}
