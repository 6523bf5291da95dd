//! The load phase and the merge: the controller keeps the heartbeat fresh, merges the workers'
//! live snapshots for the observer (which checks `abort` thresholds), watches for lost workers,
//! and at the end merges every partial result exactly (histograms add).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::barrier::Ready;
use super::guard::TaskGuard;
use super::Run;
use crate::cloud::run::store::Store;
use crate::cloud::run::tasks;
use crate::executor::{Observer, StopReason};
use crate::protocol::{self, Abort, WorkerResult};
use crate::results::FailedWorker;
use crate::stats::Aggregate;
use crate::Result;

const TICK: Duration = Duration::from_secs(1);
const DESCRIBE_EVERY: Duration = Duration::from_secs(5);

pub struct Collected {
    pub stopped: Option<StopReason>,
    /// Workers that will send no result, and why.
    pub lost: BTreeMap<String, String>,
}

pub async fn run_load(
    run: &Run<'_>,
    ready: &Ready,
    guard: &mut TaskGuard,
    observer: &mut dyn Observer,
) -> Result<Collected> {
    let t = run.timing;
    let planned = run.plan.load.duration();
    let workers: BTreeSet<String> = ready.workers.iter().cloned().collect();
    let hard_end = ready.start + planned + t.heartbeat_timeout + t.live_every * 4;
    let (mut last_beat, mut last_live, mut last_describe) =
        (Instant::now(), Instant::now(), Instant::now());
    let mut live = Aggregate::new(&run.plan.labels);
    let mut done: BTreeSet<String>;
    let mut lost: BTreeMap<String, String> = BTreeMap::new();
    let mut stopped_since: BTreeMap<String, Instant> = BTreeMap::new();
    let mut stopped = None;
    loop {
        tokio::time::sleep(TICK).await;
        if run.cancelled() {
            stopped = Some(StopReason::Cancelled);
            break;
        }
        if last_beat.elapsed() >= t.heartbeat_every {
            last_beat = Instant::now();
            run.heartbeat().await?;
        }
        let elapsed = Instant::now().saturating_duration_since(ready.start);
        if last_live.elapsed() >= t.live_every {
            last_live = Instant::now();
            let (merged, reporting) = merge_prefix(&run.store, &run.loc.live_prefix(), run).await?;
            live = merged;
            eprintln!(
                "loadgate: {reporting}/{} workers reporting, {} requests",
                workers.len(),
                live.total.requests
            );
        }
        live.duration = elapsed.min(planned);
        if elapsed > Duration::ZERO {
            if let Some(reason) = observer.progress(&live, elapsed, planned) {
                stopped = Some(StopReason::Aborted(reason));
                break;
            }
        }
        done = run.workers_under(&run.loc.results_prefix()).await?;
        if workers
            .iter()
            .all(|w| done.contains(w) || lost.contains_key(w))
        {
            break;
        }
        if last_describe.elapsed() >= DESCRIBE_EVERY {
            last_describe = Instant::now();
            let states = tasks::describe(&run.ecs, &run.outputs.cluster_name, guard.arns()).await?;
            for s in states
                .iter()
                .filter(|s| s.stopped() && workers.contains(&s.id))
            {
                if done.contains(&s.id) {
                    continue;
                }
                // A worker writes its result before it exits: give the write a moment to land.
                let since = *stopped_since
                    .entry(s.id.clone())
                    .or_insert_with(Instant::now);
                if since.elapsed() >= t.live_every + DESCRIBE_EVERY {
                    let reason = s.stopped_reason.clone().unwrap_or_else(|| "stopped".into());
                    lost.insert(
                        s.id.clone(),
                        format!("task stopped without a result: {reason}"),
                    );
                }
            }
        }
        if Instant::now() >= hard_end {
            for w in workers.iter().filter(|w| !done.contains(*w)) {
                lost.entry(w.clone())
                    .or_insert_with(|| "no result by the run's deadline".to_string());
            }
            break;
        }
    }
    if stopped.is_none() {
        stopped = stopped_from_outside(&run.store, &run.loc.abort()).await;
    }
    if let Some(why) = &stopped {
        let reason = match why {
            StopReason::Cancelled => "cancelled (SIGINT/SIGTERM)".to_string(),
            StopReason::Aborted(r) => r.clone(),
        };
        run.abort(&reason).await;
        for l in guard.stop_all(&reason).await {
            eprintln!("warning: {l}");
        }
        // Stopped workers flush their results (SIGTERM or abort.json): wait for them, briefly.
        let until = Instant::now() + t.live_every * 2 + Duration::from_secs(10);
        while Instant::now() < until {
            done = run.workers_under(&run.loc.results_prefix()).await?;
            if workers
                .iter()
                .all(|w| done.contains(w) || lost.contains_key(w))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(Collected { stopped, lost })
}

/// The run stopped by someone other than this controller: `loadgate stop` writes abort.json (and
/// stops the tasks), so the workers end early and send what they have; without this, their
/// partial figures would be reported as a complete run that passed. Read once the load loop is
/// over (the workers have seen it by then), so a run costs no extra request per tick.
pub(super) async fn stopped_from_outside(store: &Store, key: &str) -> Option<StopReason> {
    match store.get_json_if_written::<Abort>(key).await {
        Ok(Some(abort)) => Some(StopReason::Aborted(format!(
            "{} (abort.json, written while the run was loading)",
            abort.reason
        ))),
        Ok(None) => None,
        Err(e) => {
            eprintln!("warning: cannot read abort.json, so a stop from outside may be missed: {e}");
            None
        }
    }
}

/// Why a worker that sent its result ended before its share did by itself, if it did: anything
/// but the controller's abort (abort.json, read by the worker) and the plan's hard deadline, both
/// of which the controller decided, worded by [`protocol::STOPPED_BY_ABORT`] and
/// [`protocol::STOPPED_AT_DEADLINE`]. Anything else is the worker's own: SIGTERM that was not the
/// controller's StopTask (a Spot interruption, a host's end), a heartbeat it found stale. `None` when the whole run was stopped, since then every worker ends
/// early by design.
pub(super) fn stopped_early(result: &WorkerResult, run_stopped: bool) -> Option<String> {
    let why = result.stopped.as_deref()?;
    if run_stopped
        || why.starts_with(protocol::STOPPED_BY_ABORT)
        || why.starts_with(protocol::STOPPED_AT_DEADLINE)
    {
        return None;
    }
    Some(format!(
        "stopped before the end of its share by itself ({why}); what it measured is merged"
    ))
}

/// Merges every snapshot under `prefix`; with how many there were.
async fn merge_prefix(store: &Store, prefix: &str, run: &Run<'_>) -> Result<(Aggregate, usize)> {
    let keys = store.list(prefix).await?;
    let fetched = fetch_all(store, keys).await;
    let mut agg = Aggregate::new(&run.plan.labels);
    let mut n = 0;
    for r in fetched.into_iter().flatten() {
        if let Some(Ok(part)) = r.results.as_ref().map(|res| res.to_aggregate()) {
            agg.merge(&part);
            n += 1;
        }
    }
    Ok((agg, n))
}

/// Reads the documents in parallel; one that cannot be read or parsed is `None`.
async fn fetch_all(store: &Store, keys: Vec<String>) -> Vec<Option<WorkerResult>> {
    let calls = keys.into_iter().map(|k| {
        let store = store.clone();
        async move { store.get_json::<WorkerResult>(&k).await.ok().flatten() }
    });
    tasks::join_all(calls).await
}

pub struct Merged {
    pub aggregate: Aggregate,
    pub contributed: u32,
    pub failed: Vec<FailedWorker>,
    pub cpu: Vec<f64>,
    pub start_skew_ms: Option<f64>,
    pub warnings: Vec<String>,
}

/// Merges the final results of `workers`; names each worker that failed or sent nothing.
pub async fn merge(run: &Run<'_>, workers: &[String], collected: &Collected) -> Result<Merged> {
    let keys = workers.iter().map(|w| run.loc.result(w)).collect();
    let fetched = fetch_all(&run.store, keys).await;
    let by_id: BTreeMap<String, WorkerResult> = fetched
        .into_iter()
        .flatten()
        .map(|r| (r.worker_id.clone(), r))
        .collect();
    let mut aggregate = Aggregate::new(&run.plan.labels);
    let (mut contributed, mut failed, mut cpu, mut starts) =
        (0, Vec::new(), Vec::new(), Vec::new());
    for w in workers {
        let log_stream = Some(tasks::log_stream(w));
        let Some(r) = by_id.get(w) else {
            let reason = collected
                .lost
                .get(w)
                .cloned()
                .unwrap_or_else(|| "sent no result".into());
            failed.push(FailedWorker {
                worker: w.clone(),
                reason,
                log_stream,
            });
            continue;
        };
        let early = stopped_early(r, collected.stopped.is_some());
        if let Some(Ok(part)) = r.results.as_ref().map(|res| res.to_aggregate()) {
            aggregate.merge(&part);
            if r.error.is_none() && early.is_none() {
                contributed += 1;
            }
        }
        if let Some(reason) = r.error.clone().or(early) {
            failed.push(FailedWorker {
                worker: w.clone(),
                reason,
                log_stream,
            });
        }
        starts.extend(r.started_at_ms);
        cpu.extend(r.cpu.iter().copied().reduce(f64::max));
    }
    let start_skew_ms = match (starts.iter().min(), starts.iter().max()) {
        (Some(lo), Some(hi)) => Some((hi - lo) as f64),
        _ => None,
    };
    let mut warnings = Vec::new();
    if !failed.is_empty() {
        warnings.push(format!(
            "{} of {} workers contributed; failed: {}",
            contributed,
            workers.len(),
            failed
                .iter()
                .map(|f| format!(
                    "{} ({}; log stream {})",
                    f.worker,
                    f.reason,
                    f.log_stream.as_deref().unwrap_or("-")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Merged {
        aggregate,
        contributed,
        failed,
        cpu,
        start_skew_ms,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(why: Option<&str>) -> WorkerResult {
        WorkerResult {
            version: crate::protocol::VERSION,
            worker_id: "w".into(),
            error: None,
            stopped: why.map(str::to_string),
            started_at_ms: None,
            cpu: Vec::new(),
            results: None,
        }
    }

    /// The words of protocol.rs (which src/worker/watch.rs writes) decide who ended a worker.
    #[test]
    fn only_a_worker_that_ended_its_share_by_itself_stopped_early() {
        for mine in [
            "SIGTERM",
            "the controller's heartbeat is 61s old: the controller is gone",
        ] {
            let why = stopped_early(&stopped(Some(mine)), false).expect(mine);
            assert!(why.contains(mine), "{why}");
            // A run the controller stopped ends every worker early: none is singled out.
            assert_eq!(stopped_early(&stopped(Some(mine)), true), None);
        }
        for theirs in [
            format!("{}: stopped by `loadgate stop`", protocol::STOPPED_BY_ABORT),
            protocol::STOPPED_AT_DEADLINE.to_string(),
        ] {
            assert_eq!(
                stopped_early(&stopped(Some(&theirs)), false),
                None,
                "{theirs}"
            );
        }
        assert_eq!(stopped_early(&stopped(None), false), None);
    }
}
