//! Which run a new run is compared with.
//!
//! `--baseline auto` (the default) takes the newest run of the same scenario on the *target*
//! branch: a pull/merge request's target (`GITHUB_BASE_REF`,
//! `CI_MERGE_REQUEST_TARGET_BRANCH_NAME`), else `--baseline-branch` (default `main`). Runs are
//! recorded under their own branch, and only the target branch's runs are ever read, so a PR's
//! runs can never become the main branch's baseline. A push to the target branch is compared
//! with that branch's previous run (the new run is recorded only after it is compared).
//! `--baseline PATH` takes a given results.json; `--baseline none` turns comparison off.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::cli::{HistoryArgs, NoiseArgs};
use crate::compare::{self, Noise};
use crate::env::Env;
use crate::history::{self, Entry, HistoryStore, RunInfo};
use crate::results::{BaselineRef, Results};
use crate::stats::Aggregate;
use crate::threshold::RegionBaselines;
use crate::{report, threshold, Error, Result};

/// The branch compared against when neither CI nor `--baseline-branch` names one.
pub const DEFAULT_BRANCH: &str = "main";

/// `--baseline`: `auto`, `none` or a path to a results.json.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaselineArg {
    Auto,
    None,
    Path(PathBuf),
}

impl FromStr for BaselineArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" => Err("expected auto, none or the path of a results.json".to_string()),
            "auto" => Ok(BaselineArg::Auto),
            "none" => Ok(BaselineArg::None),
            path => Ok(BaselineArg::Path(PathBuf::from(path))),
        }
    }
}

impl fmt::Display for BaselineArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaselineArg::Auto => f.write_str("auto"),
            BaselineArg::None => f.write_str("none"),
            BaselineArg::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A baseline run and where it came from.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub results: Results,
    pub reference: BaselineRef,
}

/// The outcome of selection: a baseline, or why there is none (shown beside every relative
/// threshold, which is then skipped).
#[derive(Clone, Debug)]
pub enum Selection {
    Found(Box<Baseline>),
    Missing(String),
}

/// The branch a run is compared against: a PR's target, else `--baseline-branch`, else `main`.
pub fn target_branch(env: &dyn Env, flag: Option<&str>) -> String {
    history::first_set(
        env,
        &["GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"],
    )
    .or_else(|| flag.map(str::to_string))
    .map(|b| b.trim().to_string())
    .filter(|b| !b.is_empty())
    .unwrap_or_else(|| DEFAULT_BRANCH.to_string())
}

/// Selects the baseline of a run of `scenario` (see the module docs). A `--baseline PATH` that
/// cannot be read is an input error: it is found before any load is sent. A history entry that
/// cannot be read is skipped with a warning in `warnings`, and the next older one is tried;
/// partial runs (cancelled, aborted) are skipped silently.
pub fn select(
    arg: &BaselineArg,
    store: &dyn HistoryStore,
    scenario: &str,
    target: &str,
    warnings: &mut Vec<String>,
) -> Result<Selection> {
    match arg {
        BaselineArg::None => Ok(Selection::Missing(
            "baseline comparison is off (--baseline none)".to_string(),
        )),
        BaselineArg::Path(path) => {
            let results = report::read_results(path)?;
            if results.scenario != scenario {
                warnings.push(format!(
                    "the baseline {} is a run of scenario \"{}\", not \"{scenario}\": \
                     its figures may not be comparable",
                    path.display(),
                    results.scenario
                ));
            }
            let reference = reference(&results, path.display().to_string());
            Ok(Selection::Found(Box::new(Baseline { results, reference })))
        }
        BaselineArg::Auto => {
            for entry in store.list(scenario, target)? {
                match store.load(&entry) {
                    // A cancelled or aborted run measured only part of the load: its figures
                    // would make any complete run look worse (or better) than it is.
                    Ok(results) if results.partial => continue,
                    Ok(results) => {
                        let mut reference = reference(&results, entry.key.clone());
                        // The directory it was found in is the branch, whatever the file says.
                        reference.branch = Some(entry.branch.clone());
                        return Ok(Selection::Found(Box::new(Baseline { results, reference })));
                    }
                    Err(e) => warnings.push(format!("skipped a history entry as baseline: {e}")),
                }
            }
            Ok(Selection::Missing(format!(
                "no earlier run of `{scenario}` on `{target}` in the {}",
                store.describe()
            )))
        }
    }
}

/// Everything a run needs for history and comparison, settled before any load is sent.
pub struct Tracking {
    pub store: Box<dyn HistoryStore>,
    /// This run's own branch and commit.
    pub info: RunInfo,
    pub selection: Selection,
    pub noise: Noise,
    /// For the report (an unreadable history entry, a baseline of another scenario).
    pub warnings: Vec<String>,
    /// The baseline's histograms, rebuilt for relative thresholds.
    aggregate: Option<Aggregate>,
    /// The baseline's regions' histograms, for relative thresholds with `{region:...}`.
    regions: RegionBaselines,
}

impl Tracking {
    /// Resolves branches and commit from CI (`env`) and flags, and selects the baseline.
    pub fn prepare(args: &HistoryArgs, scenario: &str, env: &dyn Env) -> Result<Tracking> {
        Tracking::prepare_with(history::open(&args.history)?, args, scenario, env)
    }

    /// As [`Tracking::prepare`], with a store chosen by the caller instead of `--history`
    /// (a Fargate run: `history::s3_history` over the stack's bucket).
    pub fn prepare_with(
        store: Box<dyn HistoryStore>,
        args: &HistoryArgs,
        scenario: &str,
        env: &dyn Env,
    ) -> Result<Tracking> {
        let info = RunInfo {
            branch: history::resolve_branch(env, args.branch.as_deref(), true),
            commit: history::resolve_commit(env, true),
        };
        let target = target_branch(env, args.baseline_branch.as_deref());
        let mut warnings = Vec::new();
        let mut selection = select(
            &args.baseline,
            store.as_ref(),
            scenario,
            &target,
            &mut warnings,
        )?;
        let mut aggregate = None;
        let mut regions = RegionBaselines::OneRegion;
        if let Selection::Found(baseline) = &selection {
            regions = region_baselines(&baseline.results);
            match baseline.results.to_aggregate() {
                Ok(agg) => aggregate = Some(agg),
                Err(e) if matches!(args.baseline, BaselineArg::Path(_)) => {
                    return Err(Error::input(format!(
                        "{}: the histograms cannot be read: {e}",
                        baseline.reference.source
                    )))
                }
                Err(e) => {
                    let why = format!(
                        "the baseline {} is unreadable: {e}",
                        baseline.reference.source
                    );
                    warnings.push(why.clone());
                    selection = Selection::Missing(why);
                }
            }
        }
        Ok(Tracking {
            store,
            info,
            selection,
            noise: noise(&args.noise),
            warnings,
            aggregate,
            regions,
        })
    }

    /// What relative thresholds are measured against.
    pub fn thresholds(&self) -> threshold::Baseline<'_> {
        match (&self.aggregate, &self.selection) {
            (Some(agg), _) => threshold::Baseline::Regional(agg, &self.regions),
            (None, Selection::Missing(why)) => threshold::Baseline::Missing(why),
            (None, Selection::Found(_)) => {
                threshold::Baseline::Missing("the baseline is unreadable")
            }
        }
    }

    /// Adds the branch, the commit, the baseline and the comparison to `results`.
    pub fn annotate(&self, results: &mut Results) {
        results.branch = Some(self.info.branch.clone());
        results.commit.clone_from(&self.info.commit);
        if let Selection::Found(baseline) = &self.selection {
            results.comparison = Some(compare::compare(&baseline.results, results, &self.noise));
            results.baseline = Some(baseline.reference.clone());
        }
        results.warnings.extend(self.warnings.iter().cloned());
    }

    /// Records the finished run under its own branch.
    pub fn record(&self, results: &Results) -> Result<Entry> {
        self.store.record(results, &self.info)
    }
}

/// The noise floors from the flags; the rates keep their documented defaults.
pub fn noise(args: &NoiseArgs) -> Noise {
    Noise {
        relative_pct: args.noise_pct,
        latency_ms: args.noise_ms,
        ..Noise::default()
    }
}

/// What a baseline offers relative thresholds with `{region:...}`: each of its regions' exact
/// merge, rebuilt from `distributed.regions[].histograms`, or why a region cannot be used.
pub fn region_baselines(results: &Results) -> RegionBaselines {
    let list = results
        .distributed
        .as_ref()
        .map_or(&[][..], |d| d.regions.as_slice());
    if list.is_empty() {
        return RegionBaselines::OneRegion;
    }
    RegionBaselines::Regions(
        list.iter()
            .map(|r| {
                let agg = match &r.histograms {
                    None => Err(
                        "it has no histograms per region (the baseline was recorded \
                                 by a loadgate that did not keep them)"
                            .to_string(),
                    ),
                    Some(_) => r
                        .to_aggregate()
                        .map_err(|e| format!("its histograms cannot be read: {e}")),
                };
                (r.region.clone(), agg)
            })
            .collect(),
    )
}

fn reference(results: &Results, source: String) -> BaselineRef {
    BaselineRef {
        run_id: results.run_id.clone(),
        branch: results.branch.clone(),
        commit: results.commit.clone(),
        started_at: results.started_at.clone(),
        source,
    }
}

#[cfg(test)]
mod tests;
