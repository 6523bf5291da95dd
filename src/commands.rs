//! `loadgate compare` and `loadgate history`: looking at past runs without running anything.

use std::io::Write;
use std::path::Path;

use crate::baseline;
use crate::cli::NoiseArgs;
use crate::compare;
use crate::error::EXIT_PASSED;
use crate::history::HistoryStore;
use crate::report::{self, format};
use crate::results::{BaselineRef, Results};
use crate::Result;

/// Newest runs shown per branch by `loadgate history`.
const MAX_PER_BRANCH: usize = 20;

/// Prints the comparison of `new` against `base` in Markdown, as the summary shows it.
pub fn compare(base: &Path, new: &Path, noise: &NoiseArgs) -> Result<i32> {
    let base_results = report::read_results(base)?;
    let mut new_results = report::read_results(new)?;
    new_results.comparison = Some(compare::compare(
        &base_results,
        &new_results,
        &baseline::noise(noise),
    ));
    new_results.baseline = Some(BaselineRef {
        run_id: base_results.run_id.clone(),
        branch: base_results.branch.clone(),
        commit: base_results.commit.clone(),
        started_at: base_results.started_at.clone(),
        source: base.display().to_string(),
    });
    let text = report::comparison_markdown(&new_results);
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(EXIT_PASSED)
}

/// Prints past runs, newest first per scenario and branch, with their headline figures.
pub fn history(store: &dyn HistoryStore, only: Option<&str>) -> Result<i32> {
    let scenarios = match only {
        Some(s) => vec![s.to_string()],
        None => store.scenarios()?,
    };
    let mut out = String::new();
    for scenario in &scenarios {
        for branch in store.branches(scenario)? {
            let entries = store.list(scenario, &branch)?;
            if entries.is_empty() {
                continue;
            }
            out.push_str(&format!("{scenario} · {branch}\n"));
            for entry in entries.iter().take(MAX_PER_BRANCH) {
                let line = match store.load(entry) {
                    Ok(r) => headline(&r),
                    Err(e) => format!("{}  unreadable: {e}", entry.run_id),
                };
                out.push_str(&format!("  {line}\n"));
            }
            if entries.len() > MAX_PER_BRANCH {
                out.push_str(&format!(
                    "  … and {} older\n",
                    entries.len() - MAX_PER_BRANCH
                ));
            }
        }
    }
    if out.is_empty() {
        out = match only {
            Some(s) => format!("no runs of `{s}` in the {}\n", store.describe()),
            None => format!("no runs in the {}\n", store.describe()),
        };
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(EXIT_PASSED)
}

/// `2026-11-26T18:00:00Z  run-id  abc1234  passed  1,234 req  41.2/s  err 0%  p95 12 ms  p99 30 ms`
fn headline(r: &Results) -> String {
    let commit = r
        .commit
        .as_deref()
        .map_or("-------".to_string(), |c| c.chars().take(7).collect());
    let p = &r.total.response_time_ms;
    format!(
        "{}  {}  {commit}  {}  {} req  {}  err {}  p95 {}  p99 {}",
        r.started_at,
        r.run_id,
        if r.passed { "passed" } else { "failed" },
        format::count(r.total.requests),
        format::per_second(r.total.rps),
        format::percent(r.total.error_rate),
        format::ms(p.p95),
        format::ms(p.p99),
    )
}
