//! What makes virtual users realistic: data feeds, flows, a setup sequence, templated requests,
//! captures and checks. A plan without any of it (`UserPlan::default()`, no `RequestPlan::dynamic`)
//! runs on the engine's plain loop, at the plain loop's cost.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{LoadPlan, Table};

/// Per-user behaviour of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserPlan {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<FeedPlan>,
    /// Named flows, each a list of request indices; empty: every request in order as one
    /// unnamed flow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowPlan>,
    /// Requests (indices) a user sends once, before its first iteration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<usize>,
    /// Names of captured values: a capture's `slot` and a template's `Capture` index this.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<String>,
    /// Seed of every user's random choices (flows, `random` feeds, `random_int`...): the same seed
    /// gives the same choices per user number. None: random.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Upper end of a `think_time: 1s..3s` range, milliseconds (the lower end is the load's
    /// `think_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time_max_ms: Option<u64>,
    /// Each user keeps a cookie jar (on the per-user path).
    #[serde(default = "yes")]
    pub cookies: bool,
    /// Redirects followed per request unless the request says otherwise (per-user path).
    #[serde(default = "default_redirects")]
    pub follow_redirects: u32,
    /// The scenario asked for per-user behaviour explicitly (`cookies` or `follow_redirects`
    /// given), so the plain loop is not used even without templates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// User numbers of this part start after this (a Fargate worker's offset); the first is 1.
    #[serde(default)]
    pub user_base: u64,
    /// Step between this part's user numbers (open model on Fargate: workers interleave).
    #[serde(default = "one")]
    pub user_stride: u64,
    /// Users started so far in this process: numbers users across engine threads.
    #[serde(skip)]
    pub started: Arc<AtomicU64>,
}

fn yes() -> bool {
    true
}

fn one() -> u64 {
    1
}

pub const DEFAULT_REDIRECTS: u32 = 10;

fn default_redirects() -> u32 {
    DEFAULT_REDIRECTS
}

impl Default for UserPlan {
    fn default() -> Self {
        UserPlan {
            feeds: Vec::new(),
            flows: Vec::new(),
            setup: Vec::new(),
            captures: Vec::new(),
            seed: None,
            think_time_max_ms: None,
            cookies: true,
            follow_redirects: DEFAULT_REDIRECTS,
            forced: false,
            user_base: 0,
            user_stride: 1,
            started: Arc::default(),
        }
    }
}

/// What one part (a Fargate worker) of a split run gets: where its user numbers start and the
/// rows of each `unique` feed it may use (`StartDoc` carries it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserShare {
    pub user_base: u64,
    pub user_stride: u64,
    /// Feed name -> rows `[start, end)`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rows: std::collections::BTreeMap<String, (u64, u64)>,
}

impl UserPlan {
    /// Splits users and `unique` rows among parts with these load shares: rows in proportion to
    /// each part's users (closed) or rate (open), so together the parts use each row at most
    /// once; user numbers in consecutive blocks (closed) or interleaved (open).
    pub fn split(&self, shares: &[LoadPlan]) -> Vec<UserShare> {
        let weight = |l: &LoadPlan| match *l {
            LoadPlan::Closed { concurrency, .. } => f64::from(concurrency),
            LoadPlan::Open { rate, .. } => rate.max(0.0),
        };
        let total: f64 = shares.iter().map(weight).sum();
        let parts = shares.len() as u64;
        let mut before = 0.0;
        let mut users_before = 0u64;
        shares
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let w = weight(l);
                let cut = |rows: u64, x: f64| {
                    if total <= 0.0 {
                        0
                    } else {
                        ((rows as f64) * x / total).floor() as u64
                    }
                };
                let rows = self
                    .feeds
                    .iter()
                    .filter(|f| f.mode == FeedMode::Unique)
                    .map(|f| {
                        let end = if i + 1 == shares.len() {
                            f.rows
                        } else {
                            cut(f.rows, before + w)
                        };
                        (f.name.clone(), (cut(f.rows, before), end))
                    })
                    .collect();
                before += w;
                match *l {
                    LoadPlan::Closed { concurrency, .. } => {
                        let s = UserShare {
                            user_base: self.user_base + users_before,
                            user_stride: 1,
                            rows,
                        };
                        users_before += u64::from(concurrency);
                        s
                    }
                    LoadPlan::Open { .. } => UserShare {
                        user_base: self.user_base + i as u64,
                        user_stride: parts.max(1),
                        rows,
                    },
                }
            })
            .collect()
    }

    /// Takes a part's share (see [`UserPlan::split`]).
    pub fn apply(&mut self, share: &UserShare) {
        self.user_base = share.user_base;
        self.user_stride = share.user_stride.max(1);
        for f in &mut self.feeds {
            if let Some(range) = share.rows.get(&f.name) {
                f.range = Some(*range);
            }
        }
    }
}

/// A named sequence of requests, picked per iteration with probability weight / total.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowPlan {
    pub name: String,
    pub weight: u32,
    pub requests: Vec<usize>,
}

/// How a feed hands out rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedMode {
    /// In order, wrapping.
    Sequential,
    Random,
    /// Each row at most once in the whole run (across threads and workers).
    Unique,
}

/// What a `unique` feed does when its rows run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exhausted {
    /// The user ends (closed model); the arrival is dropped (open model).
    Stop,
    /// Start again from the first row.
    Recycle,
}

/// When a user takes a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedPer {
    /// A new row for each iteration (and one for the setup).
    Iteration,
    /// One row for the user's whole life.
    User,
}

/// A CSV data feed. Its rows never travel inside the plan: they are read from `path` (locally)
/// or from the run's assets (Fargate) into `table`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedPlan {
    pub name: String,
    /// The file as the scenario names it (messages).
    pub file: String,
    /// Where this process reads it.
    pub path: String,
    pub mode: FeedMode,
    pub on_exhausted: Exhausted,
    pub per: FeedPer,
    pub columns: Vec<String>,
    /// Column indices whose values are masked in every output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_columns: Vec<usize>,
    /// Rows in the file.
    pub rows: u64,
    /// Rows `[start, end)` this part may use (a `unique` feed split among workers); None: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<(u64, u64)>,
    /// Fargate: the key of the run's asset holding the file (gzip), under `runs/<run_id>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// The rows, once loaded.
    #[serde(skip)]
    pub table: Option<Arc<Table>>,
}

/// What a templated, capturing or checking request adds to its [`super::RequestPlan`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DynamicPlan {
    /// Path and query (origin-form), when templated; the origin stays `RequestPlan::url`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Template>,
    /// Templated header values (by header name), over the request's fixed headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, Template)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<CapturePlan>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckPlan>,
    /// Redirects to follow for this request (None: the plan's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<u32>,
}

impl DynamicPlan {
    /// Whether the response body must be read (captures or checks look at it).
    pub fn reads_body(&self) -> bool {
        self.captures.iter().any(|c| {
            matches!(
                c.source,
                CaptureSource::Json(_) | CaptureSource::Regex { .. }
            )
        }) || self
            .checks
            .iter()
            .any(|c| matches!(c, CheckPlan::BodyContains(_) | CheckPlan::Json { .. }))
    }
}

/// A compiled template: literal text and values, in order. Values are substituted as data: what a
/// feed, a capture or a secret holds is never read as template syntax.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Template(pub Vec<Segment>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Text(String),
    Value(Expr),
}

/// A value a template inserts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// Column `column` of the user's current row of feed `feed`.
    Column {
        feed: usize,
        column: usize,
    },
    /// Captured value (slot index).
    Capture(usize),
    /// The user's number across the run (from 1).
    User,
    /// The user's iteration (from 0).
    Iteration,
    Uuid,
    NowMs,
    RandomInt(i64, i64),
    RandomChoice(Vec<String>),
}

impl Template {
    /// The text when the template holds no values.
    pub fn as_text(&self) -> Option<String> {
        let mut out = String::new();
        for s in &self.0 {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Value(_) => return None,
            }
        }
        Some(out)
    }
}

/// A value taken from a response into a capture slot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CapturePlan {
    pub name: String,
    pub slot: usize,
    pub source: CaptureSource,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureSource {
    /// JSON Pointer (RFC 6901) into the body.
    Json(String),
    /// A response header (case-insensitive name).
    Header(String),
    /// A regular expression on the body; the capture group's text.
    Regex {
        pattern: String,
        group: usize,
    },
    Status,
}

/// A condition on a response beyond its status; failing one is an error of kind `check`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckPlan {
    BodyContains(String),
    /// The JSON value at `pointer` equals `value`.
    Json {
        pointer: String,
        value: serde_json::Value,
    },
    /// Header `name` is present and matches the regular expression `pattern`.
    Header {
        name: String,
        pattern: String,
    },
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn feed(rows: u64) -> FeedPlan {
        FeedPlan {
            name: "f".to_string(),
            file: "f.csv".to_string(),
            path: "f.csv".to_string(),
            mode: FeedMode::Unique,
            on_exhausted: Exhausted::Stop,
            per: FeedPer::Iteration,
            columns: vec!["a".to_string()],
            secret_columns: vec![],
            rows,
            range: None,
            asset: None,
            table: None,
        }
    }

    #[test]
    fn unique_rows_split_by_share_cover_every_row_once() {
        let plan = UserPlan {
            feeds: vec![feed(1001)],
            ..UserPlan::default()
        };
        let load = LoadPlan::Closed {
            concurrency: 10,
            ramp_up: Duration::ZERO,
            hold_for: Duration::from_secs(1),
            think_time: Duration::ZERO,
        };
        let shares: Vec<LoadPlan> = (0..3).map(|i| load.share(i, 3)).collect();
        let split = plan.split(&shares);
        let ranges: Vec<(u64, u64)> = split.iter().map(|s| s.rows["f"]).collect();
        assert_eq!(ranges[0].0, 0);
        assert_eq!(ranges[2].1, 1001);
        assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0));
        // 4, 3 and 3 users: the first worker gets the largest share of rows.
        assert_eq!(ranges[0], (0, 400));
        assert_eq!(
            split.iter().map(|s| s.user_base).collect::<Vec<_>>(),
            [0, 4, 7]
        );
        let open = LoadPlan::Open {
            rate: 90.0,
            ramp_up: Duration::ZERO,
            hold_for: Duration::from_secs(1),
            max_in_flight: 9,
        };
        let shares: Vec<LoadPlan> = (0..3).map(|i| open.share(i, 3)).collect();
        let split = plan.split(&shares);
        assert_eq!(split[1].user_stride, 3);
        assert_eq!(split[1].user_base, 1);
        assert_eq!(split[2].rows["f"], (667, 1001));
    }
}
