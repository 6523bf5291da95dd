//! `loadgate runs` and `loadgate stop RUN_ID`: the stack's active runs seen from outside any run.

use std::collections::BTreeMap;
use std::io::Write;

use crate::cloud::aws::Aws;
use crate::cloud::run::store::Store;
use crate::cloud::run::tasks;
use crate::error::EXIT_PASSED;
use crate::protocol::{Abort, RunLocation, VERSION};
use crate::{Error, Result};

mod regions;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::infra(format!("cannot start a runtime: {e}"), None))
}

/// Prints each active run (tasks grouped by `startedBy`) and its tasks' states.
pub fn runs(stack_name: &str, region: Option<&str>) -> Result<i32> {
    crate::cloud::validate_stack_name(stack_name)?;
    runtime()?.block_on(async {
        let aws = Aws::load(region).await?;
        let outputs = crate::cloud::outputs::describe(&aws, stack_name).await?;
        let ecs = aws.ecs();
        let arns = tasks::list(&ecs, &outputs.cluster_name, None).await?;
        let states = tasks::describe(&ecs, &outputs.cluster_name, &arns).await?;
        let mut by_run: BTreeMap<String, Vec<&tasks::TaskState>> = BTreeMap::new();
        for s in &states {
            let run = s
                .started_by
                .clone()
                .unwrap_or_else(|| "(not loadgate)".into());
            by_run.entry(run).or_default().push(s);
        }
        let mut out = std::io::stdout().lock();
        if by_run.is_empty() {
            let _ = writeln!(out, "no active runs in stack {stack_name}");
        }
        for (run, tasks) in by_run {
            let _ = writeln!(out, "{run}  {} task(s)", tasks.len());
            for t in tasks {
                let _ = writeln!(out, "  {}  {}", t.id, t.last_status);
            }
        }
        drop(out);
        // Runs from several regions, through the index in this (home) region's bucket.
        regions::print_runs(&Store::new(&aws, &outputs.bucket)).await?;
        Ok(EXIT_PASSED)
    })
}

/// Writes the run's abort.json and stops its tasks.
pub fn stop(stack_name: &str, region: Option<&str>, run_id: &str) -> Result<i32> {
    crate::cloud::validate_stack_name(stack_name)?;
    if run_id.is_empty() || run_id.contains('/') {
        return Err(Error::input(format!(
            "`{run_id}` is not a run id (see `loadgate runs`)"
        )));
    }
    runtime()?.block_on(async {
        let aws = Aws::load(region).await?;
        let outputs = crate::cloud::outputs::describe(&aws, stack_name).await?;
        let store = Store::new(&aws, &outputs.bucket);
        if regions::stop(&store, run_id).await?.is_some() {
            return Ok(EXIT_PASSED);
        }
        let loc = RunLocation::new(&outputs.bucket, run_id);
        let abort = Abort {
            version: VERSION,
            reason: "stopped by `loadgate stop`".to_string(),
        };
        store.put_json(&loc.abort(), &abort).await?;
        let ecs = aws.ecs();
        let arns = tasks::list(&ecs, &outputs.cluster_name, Some(run_id)).await?;
        let left = tasks::stop(&ecs, &outputs.cluster_name, &arns, "loadgate stop").await;
        if !left.is_empty() {
            return Err(Error::infra(
                format!(
                    "some tasks of run {run_id} were not stopped: {}",
                    left.join("; ")
                ),
                "run `loadgate stop` again, or stop them in the ECS console".to_string(),
            ));
        }
        let _ = writeln!(
            std::io::stdout(),
            "run {run_id}: abort.json written, {} task(s) stopped",
            arns.len()
        );
        Ok(EXIT_PASSED)
    })
}
