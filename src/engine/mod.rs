//! The load generator: closed and open model, HTTP client, pacing, recording.
//!
//! One engine thread runs a current_thread tokio runtime with a `LocalSet`: its users or arrivals,
//! their connections and its recorder live on that thread only, so recording is a `RefCell`
//! borrow, never a lock. Each second the recorder is swapped for a fresh one and sent to the
//! collector as an [`Interval`]. The engine knows nothing of thresholds, reports or executors.

mod capture;
mod client;
mod closed;
mod cookies;
mod flow;
mod http1;
mod http1_body;
mod open;
mod pacer;
mod request;
mod send;
mod stop;
mod template;
mod tls;
mod user;

pub use user::MAX_CAPTURE_BODY;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod http1_tests;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::LocalSet;
use tokio_rustls::TlsConnector;

use crate::plan::{LoadPlan, Plan};
use crate::stats::{Interval, Recorder};

pub use stop::Stop;

use client::{Origin, Prepared};

/// What one thread did, beyond the intervals it sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreadReport {
    pub intervals_sent: u64,
    /// CPU time (user + system) of the engine thread: with `wall`, tells a saturated generator.
    pub cpu_time: Duration,
    /// From the common start to the end of the run (zero if it ended before the start).
    pub wall: Duration,
    /// Largest open-model scheduling lag (actual - scheduled start of an arrival), microseconds.
    pub max_sched_lag_us: u64,
    /// True when the run ended by [`Stop`] rather than by its deadline.
    pub stopped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("request {name:?}: {reason}")]
    InvalidRequest { name: String, reason: String },
    #[error("cannot start the engine's runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Runs one engine thread's share of the load to its end (or until `stop`), on a current_thread
/// tokio runtime it builds itself. `start` is the common start instant of all threads: second `k`
/// of the timeline is [start+k s, start+(k+1) s). When second `k` ends it sends
/// `Interval { second: k, .. }` to `sink`; at the end it sends the last, partial interval.
/// Blocking: call it on its own thread. A share with no users sends nothing.
pub fn run_thread(
    plan: Arc<Plan>,
    load: LoadPlan,
    start: Instant,
    stop: Stop,
    sink: Sender<Interval>,
) -> Result<ThreadReport, EngineError> {
    if !has_load(&load) {
        return Ok(ThreadReport::default());
    }
    let (requests, origins) = client::prepare(&plan.requests, plan.labels.len())?;
    // Only a plan with per-user state leaves the plain loops.
    let users = if plan.per_user() {
        Some(user::UserCtx::new(&plan)?)
    } else {
        None
    };
    let tls = if origins.iter().any(Origin::is_https) {
        Some(tls::connector(&plan.tls)?)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ctx = Rc::new(Ctx {
        recorder: RefCell::new(Recorder::new(plan.labels.len())),
        timeout: plan.timeout,
        deadline: after(start, load.duration()),
        plan,
        requests,
        origins,
        users,
        tls,
        active: Cell::new(0),
        second: Cell::new(0),
        start,
        sink,
        stop: stop.clone(),
        intervals_sent: Cell::new(0),
        max_lag_us: Cell::new(0),
    });
    let cpu_before = thread_cpu_time();
    let local = LocalSet::new();
    let stopped = local.block_on(&runtime, async {
        tokio::task::spawn_local(ticker(ctx.clone()));
        let stopped = tokio::select! {
            biased;
            _ = stop.wait() => true,
            _ = run_load(ctx.clone(), load) => false,
        };
        ctx.flush();
        stopped
    });
    // Dropping the set abandons whatever was in flight after a stop: those requests are not counted.
    drop(local);
    let report = ThreadReport {
        intervals_sent: ctx.intervals_sent.get(),
        cpu_time: thread_cpu_time().saturating_sub(cpu_before),
        wall: start.elapsed(),
        max_sched_lag_us: ctx.max_lag_us.get(),
        stopped,
    };
    Ok(report)
}

fn has_load(load: &LoadPlan) -> bool {
    match *load {
        LoadPlan::Closed { concurrency, .. } => concurrency > 0,
        LoadPlan::Open { rate, .. } => rate.is_finite() && rate > 0.0,
    }
}

async fn run_load(ctx: Rc<Ctx>, load: LoadPlan) {
    match load {
        LoadPlan::Closed {
            concurrency,
            ramp_up,
            think_time,
            ..
        } => closed::run(ctx, concurrency, ramp_up, think_time).await,
        LoadPlan::Open {
            rate,
            ramp_up,
            max_in_flight,
            ..
        } => open::run(ctx, rate, ramp_up, max_in_flight).await,
    }
}

/// Closes each second at start + (k+1) s. tokio's 1 ms timer is precise enough for bucketing.
async fn ticker(ctx: Rc<Ctx>) {
    loop {
        let next = ctx.second.get() + 1;
        let at = after(ctx.start, Duration::from_secs(u64::from(next)));
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        ctx.flush();
    }
}

/// Everything an engine thread's tasks share. Single-threaded: cells, no locks.
pub(crate) struct Ctx {
    pub plan: Arc<Plan>,
    pub requests: Vec<Prepared>,
    pub origins: Vec<Origin>,
    /// The per-user path's prepared state; None for a plan of fixed requests.
    pub users: Option<user::UserCtx>,
    pub tls: Option<TlsConnector>,
    pub recorder: RefCell<Recorder>,
    /// Users running (closed) or arrivals in flight (open).
    pub active: Cell<u64>,
    pub start: Instant,
    /// No request starts at or after it.
    pub deadline: Instant,
    pub timeout: Duration,
    /// The second being recorded.
    second: Cell<u32>,
    sink: Sender<Interval>,
    stop: Stop,
    intervals_sent: Cell<u64>,
    max_lag_us: Cell<u64>,
}

impl Ctx {
    /// Sends the second being recorded and opens the next one.
    fn flush(&self) {
        let fresh = Recorder::new(self.plan.labels.len());
        let mut recorder = self.recorder.replace(fresh);
        recorder.active = self.active.get();
        let second = self.second.get();
        self.second.set(second.saturating_add(1));
        if self.sink.send(Interval { second, recorder }).is_ok() {
            self.intervals_sent.set(self.intervals_sent.get() + 1);
        } else {
            // Nobody collects any more (the executor ended): load sent now would be measured
            // by no one, so every thread stops.
            self.stop.trigger();
        }
    }

    #[inline]
    pub fn past_deadline(&self) -> bool {
        Instant::now() >= self.deadline
    }

    pub fn record_lag(&self, lag_us: u64) {
        crate::stats::record(&mut self.recorder.borrow_mut().sched_lag, lag_us, 1);
        if lag_us > self.max_lag_us.get() {
            self.max_lag_us.set(lag_us);
        }
    }
}

/// `base + d`, or a point far enough away to never come when that is not representable (a plan
/// can hold durations of any size; `Instant + Duration` would panic).
pub(crate) fn after(base: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    base.checked_add(d)
        .or_else(|| base.checked_add(FAR))
        .unwrap_or(base)
}

/// CPU time of the calling thread; zero where it cannot be read.
fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes into a live timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    Duration::ZERO
}
