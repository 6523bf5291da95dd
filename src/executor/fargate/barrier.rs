//! The barrier: wait until enough workers have written `ready/`, then write start.json with a
//! start instant a few seconds ahead on S3's clock and each ready worker's share. A worker lost
//! before the start has its share given to the others (when `min_workers` allows), so the run
//! sends the load it planned, not less.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::Run;
use crate::cloud::run::tasks::{self, TaskState};
use crate::protocol::{StartDoc, VERSION};
use crate::{Error, Result};

/// How often the bucket is listed while waiting.
const POLL: Duration = Duration::from_millis(500);
/// How often the tasks are described while waiting (DescribeTasks has its own rate limit).
const DESCRIBE_EVERY: Duration = Duration::from_secs(2);

pub struct Ready {
    /// The workers that got a share, in the order of start.json.
    pub workers: Vec<String>,
    /// When the load starts, on this machine's monotonic clock.
    pub start: Instant,
    /// Said in the summary: workers not ready in time whose share others took.
    pub notes: Vec<String>,
}

pub enum Outcome {
    Ready(Ready),
    Cancelled,
}

pub async fn wait(run: &Run<'_>, arns: &[String], min: u32) -> Result<Outcome> {
    let deadline = Instant::now() + run.timing.ready_timeout;
    let mut last_beat = Instant::now();
    let mut last_describe: Option<Instant> = None;
    let mut states: Vec<TaskState> = Vec::new();
    let ready = loop {
        if run.cancelled() {
            return Ok(Outcome::Cancelled);
        }
        if last_beat.elapsed() >= run.timing.heartbeat_every {
            last_beat = Instant::now();
            run.heartbeat().await?;
        }
        let ready = run.workers_under(&run.loc.ready_prefix()).await?;
        if last_describe.is_none_or(|t| t.elapsed() >= DESCRIBE_EVERY) {
            last_describe = Some(Instant::now());
            states = tasks::describe(&run.ecs, &run.outputs.cluster_name, arns).await?;
        }
        let lost = states
            .iter()
            .filter(|s| s.stopped() && !ready.contains(&s.id))
            .count();
        let n = ready.len();
        if n as u32 >= run.workers || (n as u32 >= min && n + lost >= arns.len()) {
            break ready;
        }
        if Instant::now() >= deadline {
            if n as u32 >= min {
                break ready;
            }
            let missing = describe_missing(arns, &ready, &states);
            return Err(Error::infra(
                format!(
                    "{n} of {} workers were ready after {}s; not ready: {}",
                    run.workers,
                    run.timing.ready_timeout.as_secs(),
                    missing.join("; ")
                ),
                format!(
                    "read the workers' logs in log group {}; a task that cannot pull its image or \
                     reach S3 needs a public IP or VPC endpoints (DESIGN.md, real-AWS limits)",
                    run.outputs.log_group
                ),
            ));
        }
        tokio::time::sleep(POLL).await;
    };
    let workers: Vec<String> = ready.iter().take(run.workers as usize).cloned().collect();
    let shares: BTreeMap<String, _> = workers
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone(), run.plan.load.share(i, workers.len())))
        .collect();
    let start_at_ms = run.store.clock().now_ms() + run.timing.start_delay.as_millis() as i64;
    // Unique rows and user numbers follow the shares of the workers that are actually ready.
    let ordered: Vec<_> = workers.iter().map(|w| shares[w]).collect();
    let users = if run.plan.per_user() {
        workers
            .iter()
            .cloned()
            .zip(run.plan.users.split(&ordered))
            .collect()
    } else {
        BTreeMap::new()
    };
    let start = StartDoc {
        version: VERSION,
        start_at_ms,
        shares,
        users,
    };
    run.store.put_json(&run.loc.start(), &start).await?;
    let start = Instant::now() + run.store.clock().until(start_at_ms);
    let missing = describe_missing(arns, &ready, &states);
    let notes = if missing.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{} worker(s) were not ready and the {} others took their share: {}",
            missing.len(),
            workers.len(),
            missing.join("; ")
        )]
    };
    Ok(Outcome::Ready(Ready {
        workers,
        start,
        notes,
    }))
}

/// Each launched task that is not ready: its id, state, stoppedReason and log stream.
fn describe_missing(
    arns: &[String],
    ready: &BTreeSet<String>,
    states: &[TaskState],
) -> Vec<String> {
    arns.iter()
        .map(|a| tasks::task_id(a))
        .filter(|id| !ready.contains(*id))
        .map(|id| {
            let state = states.iter().find(|s| s.id == id);
            let status = state.map_or("UNKNOWN", |s| s.last_status.as_str());
            let reason = state
                .and_then(|s| s.stopped_reason.as_deref())
                .map(|r| format!(", {r}"))
                .unwrap_or_default();
            format!(
                "task {id} ({status}{reason}; log stream {})",
                tasks::log_stream(id)
            )
        })
        .collect()
}
