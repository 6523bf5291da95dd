//! `loadgate worker`: the Fargate task's entry point (DESIGN.md, "Distributed run on Fargate").
//! ready -> start.json -> its share of the load on the same engine as a local run (the `Local`
//! executor, not a copy of it) -> live snapshots -> its partial result -> exit 0 (3 on failure).
//! It stops by itself at the plan's deadline, when abort.json appears, when the controller's
//! heartbeat is older than the plan says, and on SIGTERM; in every case it flushes its result.

mod identity;
mod watch;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::cloud::aws::Aws;
use crate::cloud::run::secrets;
use crate::cloud::run::store::Store;
use crate::error::{EXIT_INFRASTRUCTURE, EXIT_PASSED};
use crate::executor::{Executor, Local, Observer, StopReason};
use crate::plan::Plan;
use crate::protocol::{self, PlanDoc, Ready, RunLocation, StartDoc, WorkerResult, VERSION};
use crate::results::{Results, RunMeta};
use crate::stats::Aggregate;
use crate::{Error, Result};

pub use identity::worker_id;

/// Runs the worker; the exit code. Errors before a result could be written are returned.
pub fn main() -> Result<i32> {
    let url = std::env::var(protocol::RUN_ENV).unwrap_or_default();
    let loc = RunLocation::parse(&url).ok_or_else(|| {
        Error::infra(
            format!(
                "{} is `{url}`, not s3://<bucket>/runs/<run_id>",
                protocol::RUN_ENV
            ),
            "`loadgate worker` runs inside the Fargate tasks the controller starts".to_string(),
        )
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::infra(format!("cannot start the worker's runtime: {e}"), None))?;
    let aws = rt.block_on(Aws::load(None))?;
    let store = Store::new(&aws, &loc.bucket);
    let id = rt.block_on(worker_id());
    log(&format!("worker {id} of run {}", loc.run_id));
    let worker = Worker { loc, store, id, rt };
    match worker.prepare(&aws) {
        Ok(Some((plan, doc, start))) => worker.run(plan, doc, start),
        Ok(None) => Ok(EXIT_PASSED),
        Err(e) => {
            worker.flush(failed(&worker.id, &e));
            Err(e)
        }
    }
}

fn log(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn failed(id: &str, e: &Error) -> WorkerResult {
    WorkerResult {
        version: VERSION,
        worker_id: id.to_string(),
        error: Some(e.to_string()),
        stopped: None,
        started_at_ms: None,
        cpu: Vec::new(),
        results: None,
    }
}

struct Worker {
    loc: RunLocation,
    store: Store,
    id: String,
    rt: tokio::runtime::Runtime,
}

impl Worker {
    /// Reads the plan, says ready and waits for start.json. `None`: the run ended before this
    /// worker had a share (aborted, deadline, heartbeat lost, SIGTERM, or started without it).
    fn prepare(&self, aws: &Aws) -> Result<Option<(Plan, PlanDoc, StartDoc)>> {
        self.rt.block_on(async {
            let object = self.store.get(&self.loc.plan()).await?.ok_or_else(|| {
                Error::infra(format!("{} has no plan.json", self.loc.url()), None)
            })?;
            let doc: PlanDoc = serde_json::from_slice(&object.body).map_err(|e| {
                Error::infra(
                    format!("plan.json is not what loadgate wrote: {e}"),
                    "the controller and the workers must run the same loadgate version".to_string(),
                )
            })?;
            if doc.version != VERSION {
                return Err(Error::infra(
                    format!(
                        "plan.json is version {}, this worker reads {VERSION}",
                        doc.version
                    ),
                    "use the controller's loadgate version as the worker image".to_string(),
                ));
            }
            // The controller launches right after writing plan.json and waits `ready_timeout`
            // for the workers: past that, a worker still reading its secrets is too late.
            let barrier_ms = object
                .modified_ms
                .unwrap_or_else(|| self.store.clock().now_ms())
                + doc.timing.ready_timeout.as_millis() as i64;
            let until = Instant::now() + self.store.clock().until(barrier_ms.min(doc.deadline_ms));
            let mut plan = resolve_plan(aws, &doc, until).await?;
            crate::executor::assets::load(&self.store, &mut plan).await?;
            let ready = Ready {
                version: VERSION,
                worker_id: self.id.clone(),
                loadgate: env!("CARGO_PKG_VERSION").to_string(),
            };
            self.store
                .put_json(&self.loc.ready(&self.id), &ready)
                .await?;
            let start = watch::wait_for_start(&self.store, &self.loc, &doc).await?;
            Ok(start.map(|s| (plan, doc, s)))
        })
    }

    fn run(&self, plan: Plan, doc: PlanDoc, start: StartDoc) -> Result<i32> {
        let Some(share) = start.shares.get(&self.id).copied() else {
            log("the run started without this worker: nothing to do");
            return Ok(EXIT_PASSED);
        };
        let wait = self.store.clock().until(start.start_at_ms);
        std::thread::sleep(wait);
        let started_at_ms = self.store.clock().now_ms();
        let stop = Arc::new(Mutex::new(None::<String>));
        let (live_tx, live_rx) = tokio::sync::watch::channel(None::<Vec<u8>>);
        let watcher = self.rt.spawn(watch::watch_run(
            self.store.clone(),
            self.loc.clone(),
            doc.clone(),
            self.id.clone(),
            stop.clone(),
            live_rx,
        ));
        let mut plan = Plan {
            load: share,
            ..plan
        };
        if let Some(users) = start.users.get(&self.id) {
            plan.users.apply(users);
        }
        let mut observer = LiveObserver {
            stop: stop.clone(),
            live: live_tx,
            every: doc.timing.live_every,
            last: Instant::now(),
            meta: meta(&plan, &self.loc.run_id),
            id: self.id.clone(),
            started_at_ms,
        };
        let executed = Local::default().execute(&plan, &mut observer);
        watcher.abort();
        let result = match executed {
            Ok(execution) => {
                let stopped = execution.stopped.map(|s| match s {
                    StopReason::Cancelled => "SIGTERM".to_string(),
                    StopReason::Aborted(reason) => reason,
                });
                let partial = stopped.is_some();
                WorkerResult {
                    version: VERSION,
                    worker_id: self.id.clone(),
                    error: None,
                    stopped,
                    started_at_ms: Some(started_at_ms),
                    cpu: execution.cpu,
                    results: Some(Box::new(Results::new(
                        RunMeta {
                            partial,
                            ..meta(&plan, &self.loc.run_id)
                        },
                        &execution.aggregate,
                    ))),
                }
            }
            Err(e) => WorkerResult {
                started_at_ms: Some(started_at_ms),
                ..failed(&self.id, &e)
            },
        };
        let code = if result.error.is_some() {
            EXIT_INFRASTRUCTURE
        } else {
            EXIT_PASSED
        };
        log(&format!(
            "worker {} done{}",
            self.id,
            result
                .stopped
                .as_deref()
                .map(|s| format!(" (stopped: {s})"))
                .unwrap_or_default()
        ));
        if !self.flush(result) {
            return Ok(EXIT_INFRASTRUCTURE);
        }
        Ok(code)
    }

    /// Writes the final result; false when it could not be written.
    fn flush(&self, result: WorkerResult) -> bool {
        let key = self.loc.result(&self.id);
        match self.rt.block_on(self.store.put_json(&key, &result)) {
            Ok(()) => true,
            Err(e) => {
                log(&format!("error: the result was lost: {e}"));
                false
            }
        }
    }
}

/// The plan of plan.json with its secrets read back from SSM.
async fn resolve_plan(aws: &Aws, doc: &PlanDoc, until: Instant) -> Result<Plan> {
    let values = secrets::get(&aws.ssm(), &doc.secrets, until).await?;
    let mut json = doc.plan.clone();
    secrets::internalise(&mut json, &values);
    let mut plan: Plan = serde_json::from_value(json)
        .map_err(|e| Error::infra(format!("plan.json holds no plan: {e}"), None))?;
    for (_, v) in &values {
        plan.secrets.add(v);
    }
    Ok(plan)
}

fn meta(plan: &Plan, run_id: &str) -> RunMeta {
    RunMeta {
        scenario: plan.name.clone(),
        run_id: run_id.to_string(),
        executor: "fargate-worker".to_string(),
        workers: 1,
        started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        partial: true,
        load: serde_json::to_value(plan.load).ok(),
    }
}

/// Hands live snapshots to the watcher, and stops the load when the watcher says so.
struct LiveObserver {
    stop: Arc<Mutex<Option<String>>>,
    live: tokio::sync::watch::Sender<Option<Vec<u8>>>,
    every: Duration,
    last: Instant,
    meta: RunMeta,
    id: String,
    started_at_ms: i64,
}

impl Observer for LiveObserver {
    fn progress(
        &mut self,
        agg: &Aggregate,
        _elapsed: Duration,
        _planned: Duration,
    ) -> Option<String> {
        if self.last.elapsed() >= self.every {
            self.last = Instant::now();
            let snapshot = WorkerResult {
                version: VERSION,
                worker_id: self.id.clone(),
                error: None,
                stopped: None,
                started_at_ms: Some(self.started_at_ms),
                cpu: Vec::new(),
                results: Some(Box::new(Results::new(self.meta.clone(), agg))),
            };
            if let Ok(body) = serde_json::to_vec(&snapshot) {
                let _ = self.live.send(Some(body));
            }
        }
        self.stop.lock().ok().and_then(|s| s.clone())
    }
}
