//! The Fargate executor: the controller of a distributed run (DESIGN.md, "Distributed run on
//! Fargate"). It launches the workers, holds them at a barrier until enough are ready, starts them
//! on one instant of S3's clock, shows their merged live progress to the observer, and merges
//! their partial results exactly. Every task it starts is stopped on every path out (a guard).

pub(crate) mod assets;
mod barrier;
mod collect;
mod guard;
pub mod ops;
mod regions;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{DistributedRun, Execution, Executor, Observer, StopReason};
use crate::cloud::aws::Aws;
use crate::cloud::image::{self, CpuArch};
use crate::cloud::outputs::StackOutputs;
use crate::cloud::run::quota::{self, QuotaCheck};
use crate::cloud::run::store::Store;
use crate::cloud::run::{secrets, tasks};
use crate::cloud::stack::{self, StackSpec};
use crate::cost;
use crate::plan::Plan;
use crate::protocol::{Abort, Heartbeat, PlanDoc, RunLocation, SecretRef, Timing, VERSION};
use crate::results::{Distributed, Phases};
use crate::stats::Aggregate;
use crate::{Error, Result};

use guard::TaskGuard;

/// Runs the load on `workers` Fargate tasks of the stack.
#[derive(Clone, Debug)]
pub struct Fargate {
    pub stack_name: String,
    pub region: Option<String>,
    /// The worker image; without it the controller pushes its own (static) binary as one.
    pub image: Option<String>,
    pub workers: u32,
    pub timing: Timing,
    /// Workers per region when the run loads from several (`--regions`, `fargate.regions`);
    /// empty: one region, `region`, with `workers`.
    pub regions: crate::regions::RegionWorkers,
}

impl Executor for Fargate {
    fn execute(&self, plan: &Plan, observer: &mut dyn Observer) -> Result<Execution> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| {
                Error::infra(format!("cannot start the controller's runtime: {e}"), None)
            })?;
        let cancelled = Arc::new(AtomicBool::new(false));
        let flag = cancelled.clone();
        let signals = rt.spawn(async move {
            super::termination().await;
            flag.store(true, Ordering::SeqCst);
        });
        let out = if self.regions.is_empty() {
            rt.block_on(self.control(plan, observer, &cancelled))
        } else {
            rt.block_on(regions::control(self, plan, observer, &cancelled))
        };
        signals.abort();
        out
    }
}

/// The protocol's intervals: the defaults, or `LOADGATE_FARGATE_TIMING` (JSON of [`Timing`], in
/// ms) so that tests see a lost heartbeat in seconds rather than minutes.
pub fn timing_from_env() -> Timing {
    std::env::var("LOADGATE_FARGATE_TIMING")
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The first wait between RunTask rounds that found no capacity (doubled each round): 2 s, or
/// `launch_backoff` (ms) in `LOADGATE_FARGATE_TIMING`, so that a test of a launch refused every
/// time does not wait the minute a real one should.
pub(crate) fn launch_backoff() -> Duration {
    std::env::var("LOADGATE_FARGATE_TIMING")
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|t| t["launch_backoff"].as_u64())
        .map_or(Duration::from_secs(2), Duration::from_millis)
}

/// What to do when RunTask started fewer tasks than the run needs. Capacity is managed per
/// availability zone, so more subnets in more zones, or another task size, may find some (AWS
/// re:Post knowledge center, "ecs-fargate-runtask-capacity"); the stack's parameters that give
/// the subnets are named.
pub(crate) fn launch_help(no_capacity: bool) -> String {
    let min = "fargate.min_workers lets a run go on with fewer workers";
    if no_capacity {
        format!(
            "Fargate had no capacity for the tasks: run again later; give the stack subnets in \
             more availability zones (`loadgate stack deploy --param AvailabilityZone1=... \
             --param AvailabilityZone2=...`, or your own `--param SubnetIds=...`); try another \
             task size (fargate.cpu / fargate.memory) or fewer workers; {min}"
        )
    } else {
        format!("check the stack's subnets and the Fargate capacity of the region; {min}")
    }
}

/// Everything one run shares between its phases.
struct Run<'a> {
    plan: &'a Plan,
    workers: u32,
    timing: Timing,
    outputs: StackOutputs,
    ecs: aws_sdk_ecs::Client,
    store: Store,
    loc: RunLocation,
    cancelled: &'a AtomicBool,
}

impl Run<'_> {
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    async fn heartbeat(&self) -> Result<()> {
        let beat = Heartbeat {
            version: VERSION,
            at_ms: self.store.clock().now_ms(),
        };
        self.store.put_json(&self.loc.heartbeat(), &beat).await
    }

    /// The workers that wrote a file under `prefix` (`ready/`, `results/`).
    async fn workers_under(&self, prefix: &str) -> Result<std::collections::BTreeSet<String>> {
        let keys = self.store.list(prefix).await?;
        Ok(keys
            .iter()
            .filter_map(|k| crate::protocol::worker_of(k, prefix))
            .collect())
    }

    /// Tells every worker to stop (best effort: the tasks are stopped as well).
    async fn abort(&self, reason: &str) {
        let doc = Abort {
            version: VERSION,
            reason: reason.to_string(),
        };
        if let Err(e) = self.store.put_json(&self.loc.abort(), &doc).await {
            eprintln!("warning: cannot write abort.json: {e}");
        }
    }
}

impl Fargate {
    /// How many workers must contribute. The scenario's `min_workers` defaults to its
    /// `workers`, meaning all of them: that stays "all" when `--workers` changes the count.
    fn min_workers(&self, plan: &Plan) -> u32 {
        let min = plan.fargate.min_workers;
        if min == 0 || min >= plan.workers {
            self.workers
        } else {
            min.min(self.workers)
        }
    }

    async fn control(
        &self,
        plan: &Plan,
        observer: &mut dyn Observer,
        cancelled: &AtomicBool,
    ) -> Result<Execution> {
        let started = Instant::now();
        // Refused before any AWS call: a laptop build cannot be the workers' image.
        if self.image.is_none() && !image::current_binary_is_static() {
            return Err(Error::input(
                "this loadgate binary is not a static Linux build, so it cannot push itself as the \
                 worker image: pass --image URI (or LOADGATE_IMAGE), e.g. the published \
                 ghcr.io/loadgate/loadgate:<version>, or run the static release binary",
            ));
        }
        // A secret SSM cannot hold is invalid input, found before anything is created.
        let advanced_secrets = secrets::check_sizes(&plan.secrets, std::env::vars())?;
        let aws = Aws::load(self.region.as_deref()).await?;
        let arch = match &self.image {
            Some(_) if tasks::host_is_arm64() => CpuArch::Arm64,
            Some(_) => CpuArch::X86_64,
            None => image::current_arch(),
        };
        let estimate = cost::estimate(plan, self.workers, aws.region(), arch, plan.fargate.spot);
        cost::check_budget(plan, &estimate)?;
        let outputs = stack::ensure(&aws, &StackSpec::new(&self.stack_name)).await?;
        let image = match &self.image {
            Some(uri) => uri.clone(),
            None => image::ensure_pushed(&aws, &outputs).await?.uri,
        };
        match quota::check(
            &aws.service_quotas(),
            plan.fargate.spot,
            self.workers,
            plan.fargate.cpu,
        )
        .await
        {
            QuotaCheck::TooSmall { quota, needed } => return Err(Error::infra(
                format!(
                    "{} workers of {} vCPU need {needed} vCPU, but the account's Fargate quota \
                         in {} is {quota} vCPU",
                    self.workers,
                    f64::from(plan.fargate.cpu) / 1024.0,
                    aws.region()
                ),
                "lower --workers or fargate.cpu, or ask AWS for a higher quota (Service Quotas)"
                    .to_string(),
            )),
            QuotaCheck::Unknown(why) => {
                eprintln!("note: the Fargate vCPU quota is unknown ({why}); proceeding")
            }
            QuotaCheck::Fits { .. } => {}
        }
        let spec = tasks::TaskSpec {
            family: crate::cloud::task_family(&self.stack_name),
            image,
            cpu: plan.fargate.cpu,
            memory: plan.fargate.memory,
            arm64: arch == CpuArch::Arm64,
            execution_role_arn: outputs.execution_role_arn.clone(),
            task_role_arn: outputs.task_role_arn.clone(),
            log_group: outputs.log_group.clone(),
            region: aws.region().to_string(),
        };
        let ecs = aws.ecs();
        let task_definition = tasks::ensure_task_definition(&ecs, &spec).await?;
        let stack_check = started.elapsed();

        let run_id = crate::run::new_run_id();
        let store = Store::new(&aws, &outputs.bucket);
        let loc = RunLocation::new(&outputs.bucket, &run_id);
        let run = Run {
            plan,
            workers: self.workers,
            timing: self.timing,
            outputs,
            ecs,
            store,
            loc,
            cancelled,
        };
        let ssm = aws.ssm();
        let mut guard = TaskGuard::new(run.ecs.clone(), run.outputs.cluster_name.clone());
        let mut refs: Vec<SecretRef> = Vec::new();
        let launched = Instant::now();
        let mut out = self
            .drive(
                &run,
                &task_definition,
                &ssm,
                &mut refs,
                &mut guard,
                observer,
                stack_check,
            )
            .await;
        if let Err(e) = &out {
            run.abort(&format!("the controller failed: {e}")).await;
        }
        let left = guard.stop_all("loadgate run ended").await;
        for l in left {
            eprintln!("warning: {l}");
        }
        for l in secrets::delete(&ssm, &refs).await {
            eprintln!("warning: the run's secrets were not deleted: {l}");
        }
        if let Ok(Execution {
            distributed: Some(d),
            ..
        }) = &mut out
        {
            // Billing runs from a task's image pull to its stop: the controller's launch-to-stop
            // time bounds it from above, which suits a cost figure.
            let seconds = vec![launched.elapsed().as_secs_f64(); self.workers as usize];
            let mut actual = cost::actual(plan, aws.region(), arch, plan.fargate.spot, &seconds);
            actual.assumptions.insert(
                0,
                "each task billed from the controller's launch to its stop (an upper bound)"
                    .to_string(),
            );
            d.cost = Some(cost::RunCost {
                estimate,
                actual: Some(actual),
            });
            if !advanced_secrets.is_empty() {
                d.warnings.push(format!(
                    "the value of {} is over {} characters, so it was stored as an SSM \
                     Advanced-tier parameter for the run: Advanced parameters are billed (per \
                     parameter-month, prorated hourly, and per API interaction), unlike Standard ones",
                    advanced_secrets.join(" and "),
                    secrets::STANDARD_MAX
                ));
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    async fn drive(
        &self,
        run: &Run<'_>,
        task_definition: &str,
        ssm: &aws_sdk_ssm::Client,
        refs: &mut Vec<SecretRef>,
        guard: &mut TaskGuard,
        observer: &mut dyn Observer,
        stack_check: Duration,
    ) -> Result<Execution> {
        let plan = run.plan;
        // The heartbeat first: its answer's Date also calibrates the clock for the deadline.
        run.heartbeat().await?;
        let mut doc_plan = serde_json::to_value(plan)
            .map_err(|e| Error::infra(format!("cannot serialise the plan: {e}"), None))?;
        assets::ship(&run.store, &run.loc, plan, &mut doc_plan).await?;
        let path = secrets::run_path(&self.stack_name, &run.loc.run_id);
        let values = secrets::externalise(&mut doc_plan, &plan.secrets, &path);
        refs.extend(values.iter().map(|(r, _)| r.clone()));
        secrets::put(ssm, &values).await?;
        let t = run.timing;
        let budget = t.ready_timeout
            + t.start_delay
            + plan.load.duration()
            + t.heartbeat_timeout
            + t.live_every * 4;
        let doc = PlanDoc {
            version: VERSION,
            run_id: run.loc.run_id.clone(),
            plan: doc_plan,
            secrets: refs.clone(),
            workers: self.workers,
            deadline_ms: run.store.clock().now_ms() + budget.as_millis() as i64,
            timing: t,
        };
        run.store.put_json(&run.loc.plan(), &doc).await?;

        let launch_started = Instant::now();
        let launch = tasks::Launch {
            cluster: run.outputs.cluster_name.clone(),
            task_definition: task_definition.to_string(),
            subnets: run.outputs.subnet_ids.clone(),
            security_group: run.outputs.security_group_id.clone(),
            public_ip: run.outputs.public_subnets,
            run_id: run.loc.run_id.clone(),
            run_url: run.loc.url(),
            spot: plan.fargate.spot,
            rounds: 5,
            backoff: launch_backoff(),
        };
        let launched = tasks::launch(&run.ecs, &launch, self.workers).await;
        guard.add(&launched.arns);
        eprintln!(
            "loadgate: run {} launched {}/{} Fargate tasks in {:.1}s ({} RunTask calls)",
            run.loc.run_id,
            launched.arns.len(),
            self.workers,
            launch_started.elapsed().as_secs_f64(),
            launched.calls
        );
        let min = self.min_workers(plan);
        if (launched.arns.len() as u32) < min {
            return Err(Error::infra(
                format!(
                    "only {} of {} Fargate tasks started: {}",
                    launched.arns.len(),
                    self.workers,
                    launched.failures.join("; ")
                ),
                launch_help(launched.no_capacity > 0),
            ));
        }
        let launch_time = launch_started.elapsed();

        let barrier_started = Instant::now();
        let ready = match barrier::wait(run, guard.arns(), min).await? {
            barrier::Outcome::Ready(ready) => ready,
            barrier::Outcome::Cancelled => {
                run.abort("cancelled (SIGINT/SIGTERM)").await;
                return Ok(empty(plan, run, StopReason::Cancelled));
            }
        };
        let barrier_time = barrier_started.elapsed();

        let load_started = Instant::now();
        let collected = collect::run_load(run, &ready, guard, observer).await?;
        let load_time = load_started.elapsed();

        let merge_started = Instant::now();
        let merged = collect::merge(run, &ready.workers, &collected).await?;
        let phases = Phases {
            stack_check_s: secs(stack_check),
            launch_s: secs(launch_time),
            barrier_s: secs(barrier_time),
            load_s: secs(load_time),
            merge_s: secs(merge_started.elapsed()),
        };
        let mut warnings = ready.notes.clone();
        warnings.extend(merged.warnings.iter().cloned());
        let contributed = merged.contributed;
        let infra_failure = (contributed < min && collected.stopped.is_none()).then(|| {
            format!(
                "{} of {} workers contributed (fargate.min_workers needs {min}); failed: {}",
                contributed,
                self.workers,
                merged
                    .failed
                    .iter()
                    .map(|f| format!("{} ({})", f.worker, f.reason))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        Ok(Execution {
            aggregate: merged.aggregate,
            stopped: collected.stopped,
            parts: contributed as usize,
            cpu: merged.cpu,
            distributed: Some(DistributedRun {
                executor: "fargate",
                run_id: run.loc.run_id.clone(),
                figures: Distributed {
                    workers: self.workers,
                    contributed,
                    start_skew_ms: merged.start_skew_ms,
                    phases,
                    failed: merged.failed,
                    ..Distributed::default()
                },
                warnings,
                infra_failure,
                cost: None,
                regions: Vec::new(),
            }),
        })
    }
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// A run cancelled before any load: nothing measured, but still a (partial) report.
fn empty(plan: &Plan, run: &Run<'_>, why: StopReason) -> Execution {
    Execution {
        aggregate: Aggregate::new(&plan.labels),
        stopped: Some(why),
        parts: 0,
        cpu: Vec::new(),
        distributed: Some(DistributedRun {
            executor: "fargate",
            run_id: run.loc.run_id.clone(),
            figures: Distributed {
                workers: run.workers,
                ..Distributed::default()
            },
            warnings: Vec::new(),
            infra_failure: None,
            cost: None,
            regions: Vec::new(),
        }),
    }
}
