//! The check run `loadgate / NAME` on the pull request's head commit: the verdict where GitHub
//! shows test results, with an annotation at each failed threshold's line.

use octocrab::Octocrab;
use serde::Serialize;
use serde_json::Value;

use super::comment::{describe, status_of};
use super::github::{failure_message, Problem};
use crate::error::{EXIT_CANCELLED, EXIT_PASSED};
use crate::report::format;
use crate::results::Results;

/// GitHub takes at most 50 annotations per request.
const MAX_ANNOTATIONS: usize = 50;

#[derive(Clone, Debug, Serialize)]
pub(crate) struct CheckRun {
    pub name: String,
    pub head_sha: String,
    pub conclusion: &'static str,
    pub title: String,
    pub summary: String,
    pub details_url: Option<String>,
    pub annotations: Vec<Annotation>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Annotation {
    pub path: String,
    pub start_line: usize,
    pub end_line: usize,
    pub annotation_level: &'static str,
    pub title: String,
    pub message: String,
}

/// The check's conclusion from the run's exit code.
pub(crate) fn conclusion(exit_code: i32) -> &'static str {
    match exit_code {
        EXIT_PASSED => "success",
        EXIT_CANCELLED => "cancelled",
        _ => "failure",
    }
}

/// One line: the verdict and the headline figures.
pub(crate) fn title(results: &Results) -> String {
    let t = &results.total;
    let failed = results.thresholds.iter().filter(|t| !t.passed).count();
    let verdict = if results.passed {
        "passed".to_string()
    } else if failed > 0 {
        format!("{failed} of {} thresholds failed", results.thresholds.len())
    } else {
        "failed".to_string()
    };
    format!(
        "{verdict} · p95 {} · {} · errors {}",
        format::ms(t.response_time_ms.p95),
        format::per_second(t.rps),
        format::percent(t.error_rate)
    )
}

/// A failure annotation at each failed threshold's line of `path` (relative to the repository);
/// a skipped one did not fail.
pub(crate) fn annotations(results: &Results, path: &str) -> Vec<Annotation> {
    results
        .thresholds
        .iter()
        .filter(|t| t.failed())
        .take(MAX_ANNOTATIONS)
        .map(|t| Annotation {
            path: path.to_string(),
            start_line: t.line.max(1),
            end_line: t.line.max(1),
            annotation_level: "failure",
            title: format!("loadgate: {}", results.scenario),
            message: failure_message(t),
        })
        .collect()
}

pub(crate) async fn create(
    octo: &Octocrab,
    owner: &str,
    repo: &str,
    check: &CheckRun,
) -> octocrab::Result<()> {
    let mut output = serde_json::json!({ "title": check.title, "summary": check.summary });
    if !check.annotations.is_empty() {
        output["annotations"] = serde_json::to_value(&check.annotations).unwrap_or_default();
    }
    let mut payload = serde_json::json!({
        "name": check.name,
        "head_sha": check.head_sha,
        "status": "completed",
        "conclusion": check.conclusion,
        "output": output,
    });
    if let Some(url) = &check.details_url {
        payload["details_url"] = Value::String(url.clone());
    }
    let _: Value = octo
        .post(format!("/repos/{owner}/{repo}/check-runs"), Some(&payload))
        .await?;
    Ok(())
}

/// Without `checks: write` (the default token of many workflows) the check run is an extra that
/// is simply not there: a notice, not a warning.
pub(crate) fn explain(error: &octocrab::Error) -> Problem {
    match status_of(error) {
        Some(403) | Some(404) => Problem::Notice(
            "no check run: the token may not create check runs; add `permissions: checks: write` \
             to the job to see the verdict among the pull request's checks"
                .to_string(),
        ),
        _ => Problem::Warning(format!("cannot create the check run: {}", describe(error))),
    }
}
