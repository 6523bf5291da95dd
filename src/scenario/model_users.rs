//! The scenario file's per-user parts as written: data feeds, flows, captures. See `model.rs`
//! for the rest; `users.rs` and `data.rs` resolve these.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::model::Request;

/// A CSV data feed: a header row naming the columns, then one row per record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Feed {
    /// CSV file (RFC 4180, UTF-8, header row), relative to the scenario file.
    #[schemars(with = "String")]
    pub file: Spanned<String>,
    /// `sequential` (rows in order, wrapping; the default), `random`, or `unique` (each row at
    /// most once in the whole run, also across Fargate workers).
    #[schemars(with = "Option<FeedModeSchema>")]
    pub mode: Option<Spanned<String>>,
    /// For `unique`: `stop` (the default: a closed-model user ends, an open-model arrival is
    /// dropped) or `recycle` (start again from the first row).
    #[schemars(with = "Option<ExhaustedSchema>")]
    pub on_exhausted: Option<Spanned<String>>,
    /// `iteration` (the default: a row per iteration, and one for `setup`) or `user` (one row
    /// for the user's whole life, e.g. its login).
    #[schemars(with = "Option<PerSchema>")]
    pub per: Option<Spanned<String>>,
    /// Columns whose values are masked in every output, like `${VAR}` values.
    #[schemars(with = "Option<Vec<String>>")]
    pub secret: Option<Vec<Spanned<String>>>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used
enum FeedModeSchema {
    Sequential,
    Random,
    Unique,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum ExhaustedSchema {
    Stop,
    Recycle,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum PerSchema {
    Iteration,
    User,
}

/// A named journey; each iteration of a user picks one flow, with probability weight / total.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Flow {
    /// Names the flow in the reports' flow mix.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Relative weight (default 1).
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub weight: Option<Spanned<i64>>,
    /// The flow's requests, in order.
    #[schemars(with = "Vec<Request>", length(min = 1))]
    pub requests: Spanned<Vec<Spanned<Request>>>,
}

/// Where a captured value comes from: exactly one of `json`, `header`, `regex`, `status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Capture {
    /// JSON Pointer into the (decoded) body, e.g. `/token` or `/items/0/id`; `$.items[0].id`
    /// (a JSONPath of names and indices) is accepted too.
    #[schemars(with = "Option<String>")]
    pub json: Option<Spanned<String>>,
    /// A response header, e.g. `X-Request-Id`.
    #[schemars(with = "Option<String>")]
    pub header: Option<Spanned<String>>,
    /// A regular expression on the body; the value is its group `group` (default 1, or the
    /// whole match when it has no group).
    #[schemars(with = "Option<String>")]
    pub regex: Option<Spanned<String>>,
    pub group: Option<u32>,
    /// The status code.
    pub status: Option<bool>,
    /// Masked in every output. Captured values are always masked in failure samples (the only
    /// output they can reach), so this only says so explicitly.
    #[allow(dead_code)] // accepted for symmetry with feed columns
    pub secret: Option<bool>,
}

/// Captures of one request: name -> source.
pub(crate) type Captures = IndexMap<Spanned<String>, Spanned<Capture>>;

/// Checks on a response's body as written: JSON Pointer -> expected value.
pub(crate) type JsonChecks = IndexMap<Spanned<String>, serde_json::Value>;
