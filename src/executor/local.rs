//! The local executor: one engine thread per core, each with its share of the load; their
//! per-second intervals are added here into one aggregate, the same merge Fargate workers get.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Execution, Executor, Observer, StopReason};
use crate::engine::{self, Stop};
use crate::plan::{LoadPlan, Plan};
use crate::signals::termination;
use crate::stats::Aggregate;
use crate::{Error, Result};

/// Runs the load in this process.
#[derive(Clone, Debug, Default)]
pub struct Local {
    /// Engine threads; `None` means one per core.
    pub threads: Option<usize>,
}

impl Local {
    fn parts(&self, load: &LoadPlan) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = self.threads.unwrap_or(cores).max(1);
        match *load {
            // A thread without users would only cost a runtime.
            LoadPlan::Closed { concurrency, .. } => wanted.min(concurrency.max(1) as usize),
            LoadPlan::Open { .. } => wanted,
        }
    }
}

impl Executor for Local {
    fn execute(&self, plan: &Plan, observer: &mut dyn Observer) -> Result<Execution> {
        let parts = self.parts(&plan.load);
        let planned = plan.load.duration();
        let stop = Stop::new();
        let signals = SignalWatch::install(stop.clone());
        let shared = Arc::new(plan.clone());
        let (tx, rx) = mpsc::channel();
        // A short delay so that every thread starts on the same instant.
        let start = Instant::now() + Duration::from_millis(20);
        let mut threads: Vec<JoinHandle<_>> = Vec::with_capacity(parts);
        for i in 0..parts {
            let (plan, thread_stop, tx) = (shared.clone(), stop.clone(), tx.clone());
            let load = plan.load.share(i, parts);
            let spawned = std::thread::Builder::new()
                .name(format!("engine-{i}"))
                .spawn(move || engine::run_thread(plan, load, start, thread_stop, tx));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    stop.trigger();
                    return Err(Error::infra(
                        format!("cannot start engine thread: {e}"),
                        "lower --threads".to_string(),
                    ));
                }
            }
        }
        drop(tx);

        let mut agg = Aggregate::new(&plan.labels)
            .with_flows(plan.users.flows.iter().map(|f| f.name.clone()));
        let mut stopped = None;
        let mut next_tick = start + Duration::from_millis(1100);
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(interval) => agg.add_interval(&interval),
                Err(RecvTimeoutError::Timeout) => {
                    let elapsed = start.elapsed();
                    agg.duration = elapsed;
                    if stopped.is_none() {
                        if let Some(reason) = observer.progress(&agg, elapsed, planned) {
                            stopped = Some(StopReason::Aborted(reason));
                            stop.trigger();
                        }
                    }
                    next_tick += Duration::from_secs(1);
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if stopped.is_none() && signals.fired() {
                stopped = Some(StopReason::Cancelled);
            }
        }
        agg.duration = start.elapsed();
        if stopped.is_none() && signals.fired() {
            stopped = Some(StopReason::Cancelled);
        }

        let mut cpu = Vec::with_capacity(parts);
        let mut failures = Vec::new();
        for (i, t) in threads.into_iter().enumerate() {
            match t.join() {
                Ok(Ok(report)) if !report.wall.is_zero() => {
                    cpu.push(report.cpu_time.as_secs_f64() / report.wall.as_secs_f64());
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => failures.push(format!("engine thread {i}: {e}")),
                Err(_) => failures.push(format!("engine thread {i} panicked")),
            }
        }
        if !failures.is_empty() {
            return Err(Error::infra(failures.join("; "), None));
        }
        Ok(Execution {
            aggregate: agg,
            stopped,
            parts,
            cpu,
            distributed: None,
        })
    }
}

/// SIGINT and SIGTERM stop the load; watched on a small thread of its own for the run's length.
struct SignalWatch {
    fired: Arc<AtomicBool>,
    done: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SignalWatch {
    fn install(stop: Stop) -> SignalWatch {
        let fired = Arc::new(AtomicBool::new(false));
        let (done, done_rx) = tokio::sync::oneshot::channel::<()>();
        let flag = fired.clone();
        let thread = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    tokio::select! {
                        _ = done_rx => {}
                        _ = termination() => {
                            flag.store(true, Ordering::SeqCst);
                            stop.trigger();
                        }
                    }
                });
            })
            .ok();
        SignalWatch {
            fired,
            done: Some(done),
            thread,
        }
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
