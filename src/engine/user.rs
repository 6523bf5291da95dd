//! A virtual user's own state on the per-user path: its number, iteration, random source, current
//! feed rows, captured values and cookie jar; and what the engine thread prepared once for all
//! of its users (flows, weights, compiled expressions).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

use crate::plan::{
    CaptureSource, CheckPlan, Exhausted, Expr, FeedMode, FeedPer, FeedPlan, Plan, Segment, Template,
};

use super::cookies::Jar;
use super::EngineError;

/// Body bytes a capture or a check may read; a longer body is an error of that capture or check.
pub const MAX_CAPTURE_BODY: usize = 1 << 20;

/// What an engine thread prepares once for the per-user path.
pub(crate) struct UserCtx {
    /// Request indices of each flow (one unnamed flow for `requests:`).
    pub flows: Vec<Vec<usize>>,
    /// Cumulative weights, for picking a flow.
    pub cumulative: Vec<u64>,
    /// Flows are named: their mix is recorded.
    pub named: bool,
    pub setup: Vec<usize>,
    /// Per-iteration feeds each flow uses; the setup's.
    pub flow_feeds: Vec<Vec<usize>>,
    pub setup_feeds: Vec<usize>,
    /// Per-user feeds used anywhere.
    pub user_feeds: Vec<usize>,
    /// Per request: compiled regular expressions and what its response needs.
    pub reqs: Vec<ReqExtra>,
    pub think_max: Option<Duration>,
}

#[derive(Default)]
pub(crate) struct ReqExtra {
    /// One per capture (None for non-regex sources).
    pub capture_res: Vec<Option<Regex>>,
    /// One per check (None for non-header checks).
    pub check_res: Vec<Option<Regex>>,
    pub reads_body: bool,
    /// Headers are looked at (header captures or checks).
    pub reads_headers: bool,
    pub redirects: u32,
}

impl UserCtx {
    pub fn new(plan: &Plan) -> Result<UserCtx, EngineError> {
        let u = &plan.users;
        let (flows, weights, named): (Vec<Vec<usize>>, Vec<u32>, bool) = if u.flows.is_empty() {
            let setup: Vec<bool> = (0..plan.requests.len())
                .map(|i| u.setup.contains(&i))
                .collect();
            let all = (0..plan.requests.len()).filter(|i| !setup[*i]).collect();
            (vec![all], vec![1], false)
        } else {
            (
                u.flows.iter().map(|f| f.requests.clone()).collect(),
                u.flows.iter().map(|f| f.weight.max(1)).collect(),
                true,
            )
        };
        let mut total = 0u64;
        let cumulative = weights
            .iter()
            .map(|w| {
                total += u64::from(*w);
                total
            })
            .collect();
        let n = plan.requests.len();
        let invalid = |reason: String| EngineError::InvalidRequest {
            name: plan.name.clone(),
            reason,
        };
        if flows.iter().flatten().chain(&u.setup).any(|&i| i >= n) {
            return Err(invalid(
                "a flow names a request that does not exist".to_string(),
            ));
        }
        let uses = |list: &[usize], per: FeedPer| -> Vec<usize> {
            (0..u.feeds.len())
                .filter(|&f| {
                    u.feeds[f].per == per
                        && list
                            .iter()
                            .any(|&i| request_uses_feed(&plan.requests[i], f))
                })
                .collect()
        };
        let flow_feeds = flows.iter().map(|f| uses(f, FeedPer::Iteration)).collect();
        let setup_feeds = uses(&u.setup, FeedPer::Iteration);
        let everything: Vec<usize> = (0..n).collect();
        let user_feeds = uses(&everything, FeedPer::User);
        for f in &u.feeds {
            if f.table.is_none() {
                return Err(invalid(format!("data feed `{}` is not loaded", f.name)));
            }
        }
        let mut reqs = Vec::with_capacity(n);
        for r in &plan.requests {
            let mut extra = ReqExtra {
                redirects: u.follow_redirects,
                ..ReqExtra::default()
            };
            if let Some(d) = &r.dynamic {
                let compile = |p: &str| {
                    Regex::new(p).map_err(|e| invalid(format!("request {:?}: {e}", r.name)))
                };
                for c in &d.captures {
                    extra.capture_res.push(match &c.source {
                        CaptureSource::Regex { pattern, .. } => Some(compile(pattern)?),
                        CaptureSource::Header(_) => {
                            extra.reads_headers = true;
                            None
                        }
                        _ => None,
                    });
                }
                for c in &d.checks {
                    extra.check_res.push(match c {
                        CheckPlan::Header { pattern, .. } => {
                            extra.reads_headers = true;
                            Some(compile(pattern)?)
                        }
                        _ => None,
                    });
                }
                extra.reads_body = d.reads_body();
                if let Some(n) = d.follow_redirects {
                    extra.redirects = n;
                }
            }
            reqs.push(extra);
        }
        Ok(UserCtx {
            flows,
            cumulative,
            named,
            setup: u.setup.clone(),
            flow_feeds,
            setup_feeds,
            user_feeds,
            reqs,
            think_max: u.think_time_max_ms.map(Duration::from_millis),
        })
    }

    pub fn pick_flow(&self, rng: &mut fastrand::Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        let x = rng.u64(0..total);
        self.cumulative.iter().position(|&c| x < c).unwrap_or(0)
    }
}

fn template_uses(t: &Template, feed: usize) -> bool {
    t.0.iter()
        .any(|s| matches!(s, Segment::Value(Expr::Column { feed: f, .. }) if *f == feed))
}

fn request_uses_feed(r: &crate::plan::RequestPlan, feed: usize) -> bool {
    let Some(d) = &r.dynamic else {
        return false;
    };
    d.target
        .iter()
        .chain(d.body.iter())
        .any(|t| template_uses(t, feed))
        || d.headers.iter().any(|(_, t)| template_uses(t, feed))
}

/// One virtual user.
pub(crate) struct User {
    pub plan: Arc<Plan>,
    /// Across the run, from 1.
    pub number: u64,
    pub iteration: u64,
    pub rng: fastrand::Rng,
    pub captures: Vec<Option<String>>,
    pub rows: Vec<Option<u64>>,
    pub jar: Jar,
    /// The rendered request (reused).
    pub wire: Vec<u8>,
    /// A rendered body (reused).
    pub body: Vec<u8>,
}

impl User {
    pub fn new(plan: Arc<Plan>) -> User {
        let u = &plan.users;
        let k = u.started.fetch_add(1, Ordering::Relaxed);
        let number = u.user_base + k * u.user_stride.max(1) + 1;
        let rng = match u.seed {
            Some(seed) => {
                fastrand::Rng::with_seed(seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            }
            None => fastrand::Rng::new(),
        };
        User {
            number,
            iteration: 0,
            rng,
            captures: vec![None; u.captures.len()],
            rows: vec![None; u.feeds.len()],
            jar: Jar::default(),
            wire: Vec::new(),
            body: Vec::new(),
            plan,
        }
    }

    /// Takes a fresh row of each feed in `feeds`; false when a `stop` feed ran out.
    pub fn take_rows(&mut self, feeds: &[usize]) -> bool {
        for &f in feeds {
            let feed = &self.plan.users.feeds[f];
            match take_row(feed, &mut self.rng) {
                Some(row) => self.rows[f] = Some(row),
                None => return false,
            }
        }
        true
    }

    pub fn column(&self, feed: usize, column: usize) -> &str {
        let Some(row) = self.rows.get(feed).copied().flatten() else {
            return "";
        };
        match &self.plan.users.feeds[feed].table {
            Some(t) => t.field(row, column),
            None => "",
        }
    }

    /// `text` with the run's secrets and this user's captured values, secret columns and cookie
    /// values masked: what a failure sample may show.
    pub fn mask(&self, text: &str) -> String {
        let mut out = self.plan.secrets.mask(text);
        let mut hide = |v: &str| {
            if v.len() >= 3 && out.contains(v) {
                out = out.replace(v, "***");
            }
        };
        for v in self.captures.iter().flatten() {
            hide(v);
        }
        for (f, feed) in self.plan.users.feeds.iter().enumerate() {
            for &c in &feed.secret_columns {
                if self.rows[f].is_some() {
                    hide(self.column(f, c));
                }
            }
        }
        for v in self.jar.values() {
            hide(v);
        }
        out
    }
}

/// The next row of `feed` for this process, or None when a `unique` feed with `stop` ran out.
pub(crate) fn take_row(feed: &FeedPlan, rng: &mut fastrand::Rng) -> Option<u64> {
    let table = feed.table.as_ref()?;
    let (lo, hi) = feed.range.unwrap_or((0, table.rows()));
    let n = hi.saturating_sub(lo).min(table.rows().saturating_sub(lo));
    if n == 0 {
        return None;
    }
    match feed.mode {
        FeedMode::Random => Some(lo + rng.u64(0..n)),
        FeedMode::Sequential => Some(lo + table.cursor.fetch_add(1, Ordering::Relaxed) % n),
        FeedMode::Unique => {
            let k = table.cursor.fetch_add(1, Ordering::Relaxed);
            if k < n {
                Some(lo + k)
            } else if feed.on_exhausted == Exhausted::Recycle {
                Some(lo + k % n)
            } else {
                None
            }
        }
    }
}
