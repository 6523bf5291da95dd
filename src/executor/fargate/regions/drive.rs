//! The phases of a run from several regions, once every region is prepared: the plan and the
//! secrets to every region, the launch in every region, one barrier over all of them, one start,
//! the load (heartbeat and live merge over every bucket) and the exact merge, per region too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::merge::{fetch, merge};
use super::{each, in_region, Run, Site, REGION_MARGIN};
use crate::cloud::run::secrets;
use crate::cloud::run::tasks::{self, TaskState};
use crate::executor::fargate::guard::TaskGuard;
use crate::executor::{DistributedRun, Execution, Observer, StopReason};
use crate::protocol::{PlanDoc, SecretRef, StartDoc, VERSION};
use crate::results::{Distributed, Phases, RegionPhases};
use crate::stats::Aggregate;
use crate::{Error, Result};

const POLL: Duration = Duration::from_millis(500);
const DESCRIBE_EVERY: Duration = Duration::from_secs(2);

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// The workers that wrote a file under `prefix` in each region.
async fn under(run: &Run<'_>, prefix: fn(&Site) -> String) -> Result<Vec<BTreeSet<String>>> {
    let out = each(run.sites.clone(), move |s| async move {
        let p = prefix(&s);
        s.store.list(&p).await.map(|keys| {
            keys.iter()
                .filter_map(|k| crate::protocol::worker_of(k, &p))
                .collect::<BTreeSet<String>>()
        })
    })
    .await;
    run.sites
        .iter()
        .zip(out)
        .map(|(s, r)| match r {
            Some(r) => r.map_err(|e| in_region(&s.region, e)),
            None => Err(Error::infra(
                format!("{}: listing the bucket failed", s.region),
                None,
            )),
        })
        .collect()
}

async fn describe_all(run: &Run<'_>, guards: &[TaskGuard]) -> Result<Vec<Vec<TaskState>>> {
    let items: Vec<(Site, Vec<String>)> = run
        .sites
        .iter()
        .cloned()
        .zip(guards.iter().map(|g| g.arns().to_vec()))
        .collect();
    let out = each(items, |(s, arns)| async move {
        tasks::describe(&s.ecs, &s.outputs.cluster_name, &arns)
            .await
            .map_err(|e| in_region(&s.region, e))
    })
    .await;
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::infra("describing tasks failed", None))))
        .collect()
}

async fn stop_everywhere(run: &Run<'_>, guards: &mut [TaskGuard], reason: &str) {
    for (site, guard) in run.sites.iter().zip(guards.iter_mut()) {
        for l in guard.stop_all(reason).await {
            eprintln!("warning: {}: {l}", site.region);
        }
    }
}

pub(super) async fn drive(
    run: &Run<'_>,
    refs: &mut Vec<SecretRef>,
    guards: &mut [TaskGuard],
    observer: &mut dyn Observer,
    stack_check: Duration,
) -> Result<Execution> {
    let plan = run.plan;
    let t = run.fargate.timing;
    let total = run.total_workers();
    let run_id = run.home().loc.run_id.clone();
    // Heartbeats first: their answers' Date calibrate each region's clock.
    run.heartbeat().await?;
    let mut doc_plan = serde_json::to_value(plan)
        .map_err(|e| Error::infra(format!("cannot serialise the plan: {e}"), None))?;
    // Data feeds go to every region's bucket under the same key (the run id is the same).
    for site in &run.sites {
        crate::executor::fargate::assets::ship(&site.store, &site.loc, plan, &mut doc_plan)
            .await
            .map_err(|e| in_region(&site.region, e))?;
    }
    let path = secrets::run_path(&run.fargate.stack_name, &run_id);
    let values = secrets::externalise(&mut doc_plan, &plan.secrets, &path);
    refs.extend(values.iter().map(|(r, _)| r.clone()));
    let put = each(run.sites.clone(), |s| {
        let values = values.clone();
        async move { secrets::put(&s.ssm, &values).await }
    })
    .await;
    for (s, r) in run.sites.iter().zip(put) {
        if let Some(Err(e)) = r {
            return Err(in_region(&s.region, e));
        }
    }
    let budget = t.ready_timeout
        + t.start_delay
        + REGION_MARGIN
        + plan.load.duration()
        + t.heartbeat_timeout
        + t.live_every * 4;
    let doc = PlanDoc {
        version: VERSION,
        run_id: run_id.clone(),
        plan: doc_plan,
        secrets: refs.clone(),
        workers: total,
        deadline_ms: run.home().store.clock().now_ms() + budget.as_millis() as i64,
        timing: t,
    };
    let doc = serde_json::to_value(&doc)
        .map_err(|e| Error::infra(format!("cannot serialise plan.json: {e}"), None))?;
    let wrote = each(run.sites.clone(), |s| {
        let doc = doc.clone();
        async move { s.store.put_json(&s.loc.plan(), &doc).await }
    })
    .await;
    for (s, r) in run.sites.iter().zip(wrote) {
        if let Some(Err(e)) = r {
            return Err(in_region(&s.region, e));
        }
    }

    // Launch in every region at once; each task reaches its region's guard.
    let launch_started = Instant::now();
    let spot = plan.fargate.spot;
    let launches = each(run.sites.clone(), |s| async move {
        let launch = tasks::Launch {
            cluster: s.outputs.cluster_name.clone(),
            task_definition: s.task_definition.clone(),
            subnets: s.outputs.subnet_ids.clone(),
            security_group: s.outputs.security_group_id.clone(),
            public_ip: s.outputs.public_subnets,
            run_id: s.loc.run_id.clone(),
            run_url: s.loc.url(),
            spot,
            rounds: 5,
            backoff: crate::executor::fargate::launch_backoff(),
        };
        let t = Instant::now();
        let out = tasks::launch(&s.ecs, &launch, s.workers).await;
        (out, t.elapsed())
    })
    .await;
    let mut launch_times = Vec::new();
    let mut outcomes = Vec::new();
    for ((site, guard), l) in run.sites.iter().zip(guards.iter_mut()).zip(launches) {
        let Some((l, took)) = l else {
            outcomes.push((site.region.clone(), site.workers, None));
            launch_times.push(Duration::ZERO);
            continue;
        };
        // Into the guard first: whatever happens next, these tasks get stopped.
        guard.add(&l.arns);
        eprintln!(
            "loadgate: run {run_id} launched {}/{} Fargate tasks in {} in {:.1}s",
            l.arns.len(),
            site.workers,
            site.region,
            took.as_secs_f64()
        );
        outcomes.push((site.region.clone(), site.workers, Some(l)));
        launch_times.push(took);
    }
    let min = run.fargate.min_workers(plan);
    let started: u32 = outcomes
        .iter()
        .map(|(_, _, l)| l.as_ref().map_or(0, |l| l.arns.len() as u32))
        .sum();
    if let Some(e) = short_launch(&outcomes, min, total) {
        return Err(e);
    }
    let launch_time = launch_started.elapsed();

    // One barrier over every region.
    let barrier_started = Instant::now();
    let deadline = Instant::now() + t.ready_timeout;
    let mut last_beat = Instant::now();
    let mut last_describe: Option<Instant> = None;
    let mut states: Vec<Vec<TaskState>> = vec![Vec::new(); run.sites.len()];
    let mut ready_at: Vec<Option<Duration>> = vec![None; run.sites.len()];
    let ready = loop {
        if run.cancelled() {
            run.abort("cancelled (SIGINT/SIGTERM)").await;
            return Ok(empty(run, StopReason::Cancelled));
        }
        if last_beat.elapsed() >= t.heartbeat_every {
            last_beat = Instant::now();
            run.heartbeat().await?;
        }
        let ready = under(run, |s| s.loc.ready_prefix()).await?;
        for (i, (r, g)) in ready.iter().zip(guards.iter()).enumerate() {
            if ready_at[i].is_none() && r.len() >= g.arns().len() {
                ready_at[i] = Some(launch_started.elapsed());
            }
        }
        if last_describe.is_none_or(|d| d.elapsed() >= DESCRIBE_EVERY) {
            last_describe = Some(Instant::now());
            states = describe_all(run, guards).await?;
        }
        let n: usize = ready.iter().map(BTreeSet::len).sum();
        let lost: usize = states
            .iter()
            .zip(&ready)
            .map(|(st, r)| {
                st.iter()
                    .filter(|s| s.stopped() && !r.contains(&s.id))
                    .count()
            })
            .sum();
        let every_region = ready.iter().all(|r| !r.is_empty());
        if n as u32 >= total || (every_region && n as u32 >= min && n + lost >= started as usize) {
            break ready;
        }
        if Instant::now() >= deadline {
            if every_region && n as u32 >= min {
                break ready;
            }
            let missing: Vec<String> = run
                .sites
                .iter()
                .zip(&ready)
                .zip(guards.iter())
                .filter(|((_, r), g)| r.len() < g.arns().len())
                .map(|((s, r), g)| {
                    format!(
                        "{}: {} of {} ready (log group {})",
                        s.region,
                        r.len(),
                        g.arns().len(),
                        s.outputs.log_group
                    )
                })
                .collect();
            return Err(Error::infra(
                format!(
                    "{n} of {total} workers were ready after {}s; {}",
                    t.ready_timeout.as_secs(),
                    missing.join("; ")
                ),
                "read the workers' logs in each named region's log group; a task that cannot \
                 pull its image or reach S3 needs a public IP or VPC endpoints"
                    .to_string(),
            ));
        }
        tokio::time::sleep(POLL).await;
    };
    // Shares over all ready workers of all regions, so the regions together send the plan's load.
    let mut workers: Vec<Vec<String>> = Vec::new();
    let mut left = total as usize;
    for r in &ready {
        let take: Vec<String> = r.iter().take(left).cloned().collect();
        left -= take.len();
        workers.push(take);
    }
    let count: usize = workers.iter().map(Vec::len).sum();
    let home = run.home().store.clock().clone();
    let start_at_ms = home.now_ms() + (t.start_delay + REGION_MARGIN).as_millis() as i64;
    // Shares, unique rows and user numbers in one order over every region's ready workers.
    let all: Vec<&String> = workers.iter().flatten().collect();
    let shares: Vec<_> = (0..count).map(|i| plan.load.share(i, count)).collect();
    let mut users: BTreeMap<String, _> = if plan.per_user() {
        all.iter()
            .map(|w| (*w).clone())
            .zip(plan.users.split(&shares))
            .collect()
    } else {
        BTreeMap::new()
    };
    let mut index = 0;
    let docs: Vec<(Site, StartDoc)> = run
        .sites
        .iter()
        .zip(&workers)
        .map(|(s, ws)| {
            let mut region_users = BTreeMap::new();
            let shares = ws
                .iter()
                .map(|w| {
                    index += 1;
                    if let Some(u) = users.remove(w) {
                        region_users.insert(w.clone(), u);
                    }
                    (w.clone(), shares[index - 1])
                })
                .collect();
            (
                s.clone(),
                StartDoc {
                    version: VERSION,
                    start_at_ms,
                    shares,
                    users: region_users,
                },
            )
        })
        .collect();
    let wrote = each(docs, |(s, doc)| async move {
        s.store.put_json(&s.loc.start(), &doc).await
    })
    .await;
    for (s, r) in run.sites.iter().zip(wrote) {
        if let Some(Err(e)) = r {
            return Err(in_region(&s.region, e));
        }
    }
    let start = Instant::now() + home.until(start_at_ms);
    let barrier_time = barrier_started.elapsed();
    eprintln!(
        "loadgate: {count} workers in {} regions start together at {start_at_ms} (home region's S3 clock)",
        run.sites.len()
    );

    let load_started = Instant::now();
    let (stopped, lost) = load(run, &workers, start, guards, observer).await?;
    let load_time = load_started.elapsed();

    let merge_started = Instant::now();
    let merged = merge(run, &workers, &lost, stopped.is_some()).await;
    let phases = Phases {
        stack_check_s: secs(stack_check),
        launch_s: secs(launch_time),
        barrier_s: secs(barrier_time),
        load_s: secs(load_time),
        merge_s: secs(merge_started.elapsed()),
    };
    let mut regions = merged.regions;
    for (i, f) in regions.iter_mut().enumerate() {
        f.phases = RegionPhases {
            stack_check_s: secs(run.sites[i].prepared_in),
            launch_s: secs(launch_times[i]),
            ready_s: ready_at[i].map(secs),
        };
    }
    let contributed: u32 = regions.iter().map(|r| r.contributed).sum();
    let mut problems = Vec::new();
    if contributed < min {
        problems.push(format!(
            "{contributed} of {total} workers contributed (fargate.min_workers needs {min}, over all regions)"
        ));
    }
    for r in regions.iter().filter(|r| r.contributed == 0) {
        problems.push(format!(
            "region {} lost all of its {} workers",
            r.region, r.workers
        ));
    }
    let infra_failure = (!problems.is_empty() && stopped.is_none()).then(|| {
        format!(
            "{}; failed: {}",
            problems.join("; "),
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
        stopped,
        parts: contributed as usize,
        cpu: merged.cpu,
        distributed: Some(DistributedRun {
            executor: "fargate",
            run_id,
            figures: Distributed {
                workers: total,
                contributed,
                start_skew_ms: merged.start_skew_ms,
                phases,
                failed: merged.failed,
                regions,
            },
            warnings: merged.warnings,
            infra_failure,
            cost: None,
            regions: merged.aggregates,
        }),
    })
}

/// The launch falls short: fewer tasks than `min_workers` over all regions, or a region where
/// none started (no capacity, a bad subnet). Names each short region and why.
fn short_launch(
    outcomes: &[(String, u32, Option<tasks::Launched>)],
    min: u32,
    total: u32,
) -> Option<Error> {
    let started: u32 = outcomes
        .iter()
        .map(|(_, _, l)| l.as_ref().map_or(0, |l| l.arns.len() as u32))
        .sum();
    let empty_region = outcomes
        .iter()
        .any(|(_, _, l)| l.as_ref().is_none_or(|l| l.arns.is_empty()));
    if started >= min && !empty_region {
        return None;
    }
    let short: Vec<String> = outcomes
        .iter()
        .filter_map(|(region, asked, l)| match l {
            None => Some(format!("{region}: the launch failed")),
            Some(l) if (l.arns.len() as u32) < *asked => Some(format!(
                "{region}: {} of {asked} started ({})",
                l.arns.len(),
                l.failures.join("; ")
            )),
            Some(_) => None,
        })
        .collect();
    Some(Error::infra(
        format!(
            "only {started} of {total} Fargate tasks started: {}",
            short.join("; ")
        ),
        "check the region's stack subnets and its Fargate capacity; fargate.min_workers \
         (counted over all regions) lets a run go on with fewer workers, but every region \
         needs at least one"
            .to_string(),
    ))
}

/// The load: heartbeats and the live merge over every region; lost workers noticed per region;
/// a stop (cancel, abort threshold) writes abort.json and stops every task in every region.
async fn load(
    run: &Run<'_>,
    workers: &[Vec<String>],
    start: Instant,
    guards: &mut [TaskGuard],
    observer: &mut dyn Observer,
) -> Result<(Option<StopReason>, BTreeMap<String, String>)> {
    let t = run.fargate.timing;
    let planned = run.plan.load.duration();
    let all: BTreeSet<String> = workers.iter().flatten().cloned().collect();
    let hard_end = start + planned + t.heartbeat_timeout + t.live_every * 4;
    let (mut last_beat, mut last_live, mut last_describe) =
        (Instant::now(), Instant::now(), Instant::now());
    let mut live = Aggregate::new(&run.plan.labels);
    let mut lost: BTreeMap<String, String> = BTreeMap::new();
    let mut stopped_since: BTreeMap<String, Instant> = BTreeMap::new();
    let mut stopped = None;
    let finished = |done: &[BTreeSet<String>], lost: &BTreeMap<String, String>| {
        all.iter()
            .all(|w| done.iter().any(|d| d.contains(w)) || lost.contains_key(w))
    };
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if run.cancelled() {
            stopped = Some(StopReason::Cancelled);
            break;
        }
        if last_beat.elapsed() >= t.heartbeat_every {
            last_beat = Instant::now();
            run.heartbeat().await?;
        }
        let elapsed = Instant::now().saturating_duration_since(start);
        if last_live.elapsed() >= t.live_every {
            last_live = Instant::now();
            let mut merged = Aggregate::new(&run.plan.labels);
            let mut reporting = 0;
            for site in &run.sites {
                let keys = site
                    .store
                    .list(&site.loc.live_prefix())
                    .await
                    .unwrap_or_default();
                for r in fetch(&site.store, keys).await.into_iter().flatten() {
                    if let Some(Ok(part)) = r.results.as_ref().map(|res| res.to_aggregate()) {
                        merged.merge(&part);
                        reporting += 1;
                    }
                }
            }
            live = merged;
            eprintln!(
                "loadgate: {reporting}/{} workers reporting from {} regions, {} requests",
                all.len(),
                run.sites.len(),
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
        let done = under(run, |s| s.loc.results_prefix()).await?;
        if finished(&done, &lost) {
            break;
        }
        if last_describe.elapsed() >= Duration::from_secs(5) {
            last_describe = Instant::now();
            let states = describe_all(run, guards).await?;
            for (site, st) in run.sites.iter().zip(&states) {
                for s in st.iter().filter(|s| s.stopped() && all.contains(&s.id)) {
                    if done.iter().any(|d| d.contains(&s.id)) {
                        continue;
                    }
                    let since = *stopped_since
                        .entry(s.id.clone())
                        .or_insert_with(Instant::now);
                    if since.elapsed() >= t.live_every + Duration::from_secs(5) {
                        let reason = s.stopped_reason.clone().unwrap_or_else(|| "stopped".into());
                        lost.insert(
                            s.id.clone(),
                            format!("{}: task stopped without a result: {reason}", site.region),
                        );
                    }
                }
            }
        }
        if Instant::now() >= hard_end {
            for w in all.iter().filter(|w| !done.iter().any(|d| d.contains(*w))) {
                lost.entry(w.clone())
                    .or_insert_with(|| "no result by the run's deadline".to_string());
            }
            break;
        }
    }
    if stopped.is_none() {
        // `loadgate stop` writes abort.json in every region; the home region's says it.
        let home = run.home();
        stopped =
            crate::executor::fargate::collect::stopped_from_outside(&home.store, &home.loc.abort())
                .await;
    }
    if let Some(why) = &stopped {
        let reason = match why {
            StopReason::Cancelled => "cancelled (SIGINT/SIGTERM)".to_string(),
            StopReason::Aborted(r) => r.clone(),
        };
        run.abort(&reason).await;
        stop_everywhere(run, guards, &reason).await;
        let until = Instant::now() + t.live_every * 2 + Duration::from_secs(10);
        while Instant::now() < until {
            let done = under(run, |s| s.loc.results_prefix()).await?;
            if finished(&done, &lost) {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok((stopped, lost))
}

/// A run cancelled before any load: nothing measured, but still a (partial) report.
fn empty(run: &Run<'_>, why: StopReason) -> Execution {
    Execution {
        aggregate: Aggregate::new(&run.plan.labels),
        stopped: Some(why),
        parts: 0,
        cpu: Vec::new(),
        distributed: Some(DistributedRun {
            executor: "fargate",
            run_id: run.home().loc.run_id.clone(),
            figures: Distributed {
                workers: run.total_workers(),
                ..Distributed::default()
            },
            warnings: Vec::new(),
            infra_failure: None,
            cost: None,
            regions: Vec::new(),
        }),
    }
}

#[cfg(test)]
#[path = "drive_tests.rs"]
mod tests;
