//! The pull-request comment: one per scenario, found by its marker and updated in place.

use std::time::Duration;

use octocrab::{Octocrab, Page};
use serde_json::{json, Value};

use super::github::Problem;

/// An API client for `api_url` (GITHUB_API_URL: github.com or a GitHub Enterprise server).
/// Must be called inside a Tokio runtime: the client spawns its connection tasks there.
pub(crate) fn client(api_url: &str, token: &str) -> octocrab::Result<Octocrab> {
    Octocrab::builder()
        .base_uri(api_url)?
        .personal_token(token.to_string())
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)))
        .build()
}

/// What [`upsert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upserted {
    Created,
    Updated,
}

/// Updates the comment of `number` that holds `marker`, or creates it. Comments are read 100 a
/// page, following the Link headers, until the marker is found.
pub(crate) async fn upsert(
    octo: &Octocrab,
    owner: &str,
    repo: &str,
    number: u64,
    marker: &str,
    body: &str,
) -> octocrab::Result<Upserted> {
    let route = format!("/repos/{owner}/{repo}/issues/{number}/comments");
    let mut page: Page<Value> = octo.get(&route, Some(&[("per_page", "100")])).await?;
    let existing = loop {
        if let Some(id) = page.items.iter().find_map(|c| {
            let text = c["body"].as_str()?;
            text.contains(marker).then(|| c["id"].as_u64()).flatten()
        }) {
            break Some(id);
        }
        match octo.get_page::<Value>(&page.next).await? {
            Some(next) => page = next,
            None => break None,
        }
    };
    let payload = json!({ "body": body });
    match existing {
        Some(id) => {
            let route = format!("/repos/{owner}/{repo}/issues/comments/{id}");
            let _: Value = octo.patch(route, Some(&payload)).await?;
            Ok(Upserted::Updated)
        }
        None => {
            let _: Value = octo.post(route, Some(&payload)).await?;
            Ok(Upserted::Created)
        }
    }
}

/// What went wrong, and what to do about it. A read-only token is the common case: fork PRs get
/// one whatever the workflow asks for.
pub(crate) fn explain(error: &octocrab::Error, number: u64) -> Problem {
    match status_of(error) {
        Some(403) => Problem::Warning(format!(
            "cannot comment on pull request #{number}: the token may not write to pull requests \
             (403 {}). Add `permissions: pull-requests: write` to the job; pull requests from forks \
             always get a read-only token, so for them run loadgate in a `pull_request` workflow and \
             post the comment from a `workflow_run` workflow. The verdict is unchanged.",
            message_of(error)
        )),
        Some(404) => Problem::Warning(format!(
            "cannot comment on pull request #{number}: not found (404); the token cannot see \
             the repository or the pull request"
        )),
        _ => Problem::Warning(format!(
            "cannot comment on pull request #{number}: {}",
            describe(error)
        )),
    }
}

/// The HTTP status of an API error, when the API answered.
pub(crate) fn status_of(error: &octocrab::Error) -> Option<u16> {
    match error {
        octocrab::Error::GitHub { source, .. } => Some(source.status_code.as_u16()),
        _ => None,
    }
}

fn message_of(error: &octocrab::Error) -> String {
    match error {
        octocrab::Error::GitHub { source, .. } => source.message.clone(),
        other => other.to_string(),
    }
}

/// A one-line description: the API's status and message, or the transport error.
pub(crate) fn describe(error: &octocrab::Error) -> String {
    match error {
        octocrab::Error::GitHub { source, .. } => {
            format!("{} {}", source.status_code.as_u16(), source.message)
        }
        other => {
            // The chain says why (connection refused, timeout), the top level only "Hyper error".
            let mut text = other.to_string();
            let mut cause = std::error::Error::source(other);
            while let Some(c) = cause {
                text.push_str(": ");
                text.push_str(&c.to_string());
                cause = c.source();
            }
            text
        }
    }
}
