//! The resolved plan: what a scenario means once every default, `${VAR}` and path is settled.
//! The engine and the executors read only this; they never see the scenario file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::secrets::Secrets;
use crate::threshold::Threshold;

mod table;
mod users;

pub use table::{CsvError, Table, MAX_FEED_BYTES};
pub use users::{
    CapturePlan, CaptureSource, CheckPlan, DynamicPlan, Exhausted, Expr, FeedMode, FeedPer,
    FeedPlan, FlowPlan, Segment, Template, UserPlan, UserShare, DEFAULT_REDIRECTS,
};

/// A whole run, as the engine and the executors see it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// The scenario file the plan came from (for messages and annotations).
    pub source: String,
    /// Base URL, for display. Request URLs are already absolute.
    pub target: String,
    /// Distinct request names, in order of first appearance; `RequestPlan::label` indexes this.
    pub labels: Vec<String>,
    pub requests: Vec<RequestPlan>,
    pub load: LoadPlan,
    #[serde(with = "duration_ms")]
    pub timeout: Duration,
    pub tls: TlsPlan,
    pub workers: u32,
    pub thresholds: Vec<ThresholdPlan>,
    /// True when the scenario had no thresholds and the default `error_rate < 1%` was added.
    pub default_threshold: bool,
    pub fargate: FargatePlan,
    /// Feeds, flows, setup, captures: what makes users realistic (empty for fixed requests).
    #[serde(default)]
    pub users: UserPlan,
    /// Values that came from `${VAR}`: masked wherever text leaves the process.
    #[serde(skip)]
    pub secrets: Secrets,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestPlan {
    pub name: String,
    pub label: usize,
    pub method: String,
    /// Absolute URL (`http` or `https`).
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Statuses that count as success; empty means any status below 400.
    pub expect_status: Vec<u16>,
    /// Templates, captures and checks; None for a fixed request (the engine's plain path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<Box<DynamicPlan>>,
}

impl Plan {
    /// Whether users need state of their own (rows, captures, cookies, flows): if not, the
    /// engine runs its plain loop.
    pub fn per_user(&self) -> bool {
        let u = &self.users;
        u.forced
            || !u.feeds.is_empty()
            || !u.flows.is_empty()
            || !u.setup.is_empty()
            || u.think_time_max_ms.is_some()
            || self.requests.iter().any(|r| r.dynamic.is_some())
    }
}

impl RequestPlan {
    pub fn status_ok(&self, status: u16) -> bool {
        if self.expect_status.is_empty() {
            status < 400
        } else {
            self.expect_status.contains(&status)
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TlsPlan {
    /// PEM text of extra trusted roots (read from `tls.ca_file`).
    pub ca_pem: Option<String>,
    pub insecure: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum LoadPlan {
    /// Virtual users, each walking the request list in a loop.
    Closed {
        concurrency: u32,
        #[serde(with = "duration_ms")]
        ramp_up: Duration,
        #[serde(with = "duration_ms")]
        hold_for: Duration,
        #[serde(with = "duration_ms")]
        think_time: Duration,
    },
    /// Arrivals per second, independent of how slow the target is.
    Open {
        rate: f64,
        #[serde(with = "duration_ms")]
        ramp_up: Duration,
        #[serde(with = "duration_ms")]
        hold_for: Duration,
        max_in_flight: u32,
    },
}

impl LoadPlan {
    /// Ramp-up plus hold: how long the load runs.
    pub fn duration(&self) -> Duration {
        match *self {
            LoadPlan::Closed {
                ramp_up, hold_for, ..
            }
            | LoadPlan::Open {
                ramp_up, hold_for, ..
            } => ramp_up + hold_for,
        }
    }

    /// The share of part `index` of `parts`: concurrency, rate and in-flight bound are divided, so
    /// the parts together send the load of the whole. A part may get zero users (more parts than users).
    pub fn share(&self, index: usize, parts: usize) -> LoadPlan {
        let parts = parts.max(1) as u64;
        let index = index as u64;
        let split = |total: u32| -> u32 {
            let total = total as u64;
            (total / parts + u64::from(index < total % parts)) as u32
        };
        match *self {
            LoadPlan::Closed {
                concurrency,
                ramp_up,
                hold_for,
                think_time,
            } => LoadPlan::Closed {
                concurrency: split(concurrency),
                ramp_up,
                hold_for,
                think_time,
            },
            LoadPlan::Open {
                rate,
                ramp_up,
                hold_for,
                max_in_flight,
            } => LoadPlan::Open {
                rate: rate / parts as f64,
                ramp_up,
                hold_for,
                max_in_flight: split(max_in_flight).max(1),
            },
        }
    }
}

/// A threshold with what the scenario said around it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ThresholdPlan {
    pub threshold: Threshold,
    /// Checked on live data; a breach stops the run.
    pub abort: bool,
    /// Live checks of an `abort` threshold start this long after the start.
    #[serde(with = "duration_ms")]
    pub after: Duration,
    /// 1-based line and column of the threshold in the scenario file (0 when unknown).
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FargatePlan {
    pub cpu: u32,
    pub memory: u32,
    pub spot: bool,
    pub min_workers: u32,
    pub max_cost_usd: Option<f64>,
    /// `fargate.regions`: workers per region, in the scenario's order; empty for one region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: crate::regions::RegionWorkers,
}

impl Default for FargatePlan {
    fn default() -> Self {
        FargatePlan {
            cpu: 1024,
            memory: 2048,
            spot: false,
            min_workers: 0,
            max_cost_usd: None,
            regions: Vec::new(),
        }
    }
}

/// Durations in plan.json and results as integer milliseconds.
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_whole() {
        let closed = LoadPlan::Closed {
            concurrency: 10,
            ramp_up: Duration::ZERO,
            hold_for: Duration::from_secs(1),
            think_time: Duration::ZERO,
        };
        let users: u32 = (0..3)
            .map(|i| match closed.share(i, 3) {
                LoadPlan::Closed { concurrency, .. } => concurrency,
                _ => unreachable!(),
            })
            .sum();
        assert_eq!(users, 10);
        let open = LoadPlan::Open {
            rate: 100.0,
            ramp_up: Duration::ZERO,
            hold_for: Duration::from_secs(1),
            max_in_flight: 7,
        };
        let rate: f64 = (0..4)
            .map(|i| match open.share(i, 4) {
                LoadPlan::Open { rate, .. } => rate,
                _ => unreachable!(),
            })
            .sum();
        assert!((rate - 100.0).abs() < 1e-9);
    }
}
