//! The exact merge of a run from several regions: every worker of every region into the total,
//! and each region's workers into its own figures and aggregate.

use std::collections::BTreeMap;

use super::Run;
use crate::cloud::run::{store::Store, tasks};
use crate::executor::fargate::collect::stopped_early;
use crate::protocol::WorkerResult;
use crate::results::{FailedWorker, RegionFigures};
use crate::stats::Aggregate;

pub(super) async fn fetch(store: &Store, keys: Vec<String>) -> Vec<Option<WorkerResult>> {
    let calls = keys.into_iter().map(|k| {
        let store = store.clone();
        async move { store.get_json::<WorkerResult>(&k).await.ok().flatten() }
    });
    tasks::join_all(calls).await
}

pub(super) struct Merged {
    pub aggregate: Aggregate,
    pub aggregates: Vec<(String, Aggregate)>,
    pub regions: Vec<RegionFigures>,
    pub failed: Vec<FailedWorker>,
    pub cpu: Vec<f64>,
    pub start_skew_ms: Option<f64>,
    pub warnings: Vec<String>,
}

fn skew(starts: &[i64]) -> Option<f64> {
    match (starts.iter().min(), starts.iter().max()) {
        (Some(lo), Some(hi)) => Some((hi - lo) as f64),
        _ => None,
    }
}

/// The exact merge: every worker of every region into the total, and each region's into its own.
pub(super) async fn merge(
    run: &Run<'_>,
    workers: &[Vec<String>],
    lost: &BTreeMap<String, String>,
    run_stopped: bool,
) -> Merged {
    let labels = &run.plan.labels;
    let mut aggregate = Aggregate::new(labels);
    let (mut failed, mut cpu, mut all_starts, mut regions, mut warnings) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut aggregates = Vec::new();
    for (site, ws) in run.sites.iter().zip(workers) {
        let keys = ws.iter().map(|w| site.loc.result(w)).collect();
        let by_id: BTreeMap<String, WorkerResult> = fetch(&site.store, keys)
            .await
            .into_iter()
            .flatten()
            .map(|r| (r.worker_id.clone(), r))
            .collect();
        let mut agg = Aggregate::new(labels);
        let (mut contributed, mut starts, mut region_failed) = (0u32, Vec::new(), Vec::new());
        for w in ws {
            let log_stream = Some(tasks::log_stream(w));
            let Some(r) = by_id.get(w) else {
                let reason = lost
                    .get(w)
                    .cloned()
                    .unwrap_or_else(|| "sent no result".into());
                let reason = if reason.starts_with(&format!("{}: ", site.region)) {
                    reason
                } else {
                    format!("{}: {reason}", site.region)
                };
                region_failed.push(FailedWorker {
                    worker: w.clone(),
                    reason,
                    log_stream,
                });
                continue;
            };
            if let Some(Ok(part)) = r.results.as_ref().map(|res| res.to_aggregate()) {
                agg.merge(&part);
                // A worker that ended its share early by itself sent figures (merged) but did
                // not run its share: failed, as in a run from one region (collect.rs).
                if r.error.is_none() {
                    match stopped_early(r, run_stopped) {
                        Some(why) => region_failed.push(FailedWorker {
                            worker: w.clone(),
                            reason: format!("{}: {why}", site.region),
                            log_stream: log_stream.clone(),
                        }),
                        None => contributed += 1,
                    }
                }
            }
            if let Some(e) = &r.error {
                region_failed.push(FailedWorker {
                    worker: w.clone(),
                    reason: format!("{}: {e}", site.region),
                    log_stream,
                });
            }
            starts.extend(r.started_at_ms);
            cpu.extend(r.cpu.iter().copied().reduce(f64::max));
        }
        if !region_failed.is_empty() {
            warnings.push(format!(
                "region {} lost {} of {} workers: {}",
                site.region,
                site.workers - contributed,
                site.workers,
                region_failed
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
        aggregate.merge(&agg);
        // The region's figures carry its histograms, so a later run can take this one as its
        // baseline per region.
        regions.push(RegionFigures {
            workers: site.workers,
            contributed,
            start_skew_ms: skew(&starts),
            ..RegionFigures::of(&site.region, &agg)
        });
        all_starts.extend(starts);
        failed.extend(region_failed);
        aggregates.push((site.region.clone(), agg));
    }
    Merged {
        aggregate,
        aggregates,
        regions,
        failed,
        cpu,
        start_skew_ms: skew(&all_starts),
        warnings,
    }
}
