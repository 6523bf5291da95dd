//! Where the load runs. An executor turns a plan into an aggregate of what was measured; it knows
//! nothing of thresholds or reports: it shows its progress to an observer, which may stop the run.

mod fargate;
mod local;

use std::time::Duration;

pub(crate) use crate::signals::termination;
pub(crate) use fargate::assets;
pub use fargate::{ops, timing_from_env, Fargate};
pub use local::Local;

use crate::plan::Plan;
use crate::stats::Aggregate;
use crate::Result;

/// Why a run ended before its planned end.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// SIGINT or SIGTERM.
    Cancelled,
    /// The observer stopped it (an `abort` threshold breached), with its reason.
    Aborted(String),
}

/// What the executor measured.
#[derive(Debug)]
pub struct Execution {
    pub aggregate: Aggregate,
    pub stopped: Option<StopReason>,
    /// Engine threads locally, tasks on Fargate.
    pub parts: usize,
    /// Busy fraction of each part (CPU time over wall time): near 1, the generator was saturated.
    pub cpu: Vec<f64>,
    /// Set by a distributed executor: the run id it used, its name, and its own figures.
    pub distributed: Option<DistributedRun>,
}

/// What a distributed executor adds to an execution.
#[derive(Debug)]
pub struct DistributedRun {
    /// `fargate`.
    pub executor: &'static str,
    /// The id the run's resources carry; results.json uses the same.
    pub run_id: String,
    pub figures: crate::results::Distributed,
    /// Things the summary must say (a lost worker tolerated by `min_workers`...).
    pub warnings: Vec<String>,
    /// Workers were lost beyond what the scenario allows: the run fails with exit 3, after its
    /// (partial) report is written.
    pub infra_failure: Option<String>,
    /// The estimated and the actual cost of the tasks.
    pub cost: Option<crate::cost::RunCost>,
    /// A run from several regions: each region's merged aggregate, for `{region:X}` thresholds.
    pub regions: Vec<(String, Aggregate)>,
}

/// Live view of a run; called about once a second.
pub trait Observer {
    /// `agg` holds everything measured so far. Return `Some(reason)` to stop the run.
    fn progress(&mut self, agg: &Aggregate, elapsed: Duration, planned: Duration)
        -> Option<String>;
}

pub trait Executor {
    fn execute(&self, plan: &Plan, observer: &mut dyn Observer) -> Result<Execution>;
}
