//! Where the load runs. An executor turns a plan into an aggregate of what was measured; it knows
//! nothing of thresholds or reports: it shows its progress to an observer, which may stop the run.

mod local;

use std::time::Duration;

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
