//! `loadgate runs` and `loadgate stop` for runs from several regions, through the run index in
//! the home region's bucket (`runs/index/<run_id>.json`).

use std::io::Write;

use crate::cloud::aws::Aws;
use crate::cloud::run::store::Store;
use crate::cloud::run::tasks;
use crate::protocol::{index_key, Abort, RunIndex, RunLocation, INDEX_PREFIX, VERSION};
use crate::{Error, Result};

/// The index entries of runs that have not ended.
async fn active(store: &Store) -> Result<Vec<RunIndex>> {
    let mut out = Vec::new();
    for key in store.list(INDEX_PREFIX).await? {
        if let Some(index) = store.get_json::<RunIndex>(&key).await? {
            if !index.ended {
                out.push(index);
            }
        }
    }
    Ok(out)
}

/// Prints each active run from several regions, with its tasks in each region.
pub(super) async fn print_runs(store: &Store) -> Result<()> {
    for index in active(store).await? {
        let names: Vec<&str> = index.regions.iter().map(|r| r.region.as_str()).collect();
        let mut lines = vec![format!(
            "{}  from {} regions: {}",
            index.run_id,
            names.len(),
            names.join(", ")
        )];
        for r in &index.regions {
            let aws = Aws::load(Some(&r.region)).await?;
            let ecs = aws.ecs();
            let arns = tasks::list(&ecs, &r.cluster, Some(&index.run_id)).await?;
            let states = tasks::describe(&ecs, &r.cluster, &arns).await?;
            lines.push(format!("  {}  {} task(s)", r.region, states.len()));
            for t in states {
                lines.push(format!("    {}  {}", t.id, t.last_status));
            }
        }
        let _ = writeln!(std::io::stdout(), "{}", lines.join("\n"));
    }
    Ok(())
}

/// Stops a run from several regions in every region; `None` when the run is not in the index
/// (a run from one region, stopped as before).
pub(super) async fn stop(store: &Store, run_id: &str) -> Result<Option<usize>> {
    let Some(index) = store.get_json::<RunIndex>(&index_key(run_id)).await? else {
        return Ok(None);
    };
    let abort = Abort {
        version: VERSION,
        reason: "stopped by `loadgate stop`".to_string(),
    };
    let (mut stopped, mut left) = (0, Vec::new());
    for r in &index.regions {
        let aws = Aws::load(Some(&r.region)).await?;
        let region_store = Store::new(&aws, &r.bucket);
        let loc = RunLocation::new(&r.bucket, run_id);
        if let Err(e) = region_store.put_json(&loc.abort(), &abort).await {
            left.push(format!("{}: abort.json not written: {e}", r.region));
        }
        let ecs = aws.ecs();
        let arns = tasks::list(&ecs, &r.cluster, Some(run_id)).await?;
        let failed = tasks::stop(&ecs, &r.cluster, &arns, "loadgate stop").await;
        stopped += arns.len() - failed.len().min(arns.len());
        left.extend(failed.into_iter().map(|l| format!("{}: {l}", r.region)));
        let _ = writeln!(
            std::io::stdout(),
            "run {run_id} in {}: abort.json written, {} task(s) stopped",
            r.region,
            arns.len()
        );
    }
    if !left.is_empty() {
        return Err(Error::infra(
            format!(
                "some tasks of run {run_id} were not stopped: {}",
                left.join("; ")
            ),
            "run `loadgate stop` again, or stop them in each region's ECS console".to_string(),
        ));
    }
    Ok(Some(stopped))
}
