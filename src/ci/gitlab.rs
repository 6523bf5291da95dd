//! GitLab: the merge-request note, created or updated by its marker, like the GitHub comment.

use http::Method;
use serde_json::json;

use super::body::{self, Origin};
use super::http::Http;
use super::{Log, Publish};
use crate::report;
use crate::scenario::Env;

/// GitLab's limit on a note is 1,000,000 characters; stay well under it.
const NOTE_MAX: usize = 999_000;

const NO_TOKEN: &str = "no merge-request note: GitLab's job token cannot write notes. Create a \
    project access token with the `api` scope and the Reporter role (Settings > Access tokens) and \
    add it as a masked CI/CD variable named GITLAB_TOKEN (Settings > CI/CD > Variables)";

/// What the GitLab job environment says about the merge request.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    api_url: String,
    project: String,
    iid: String,
}

pub(crate) fn publish(run: &Publish, env: &dyn Env) {
    if !run.comment {
        return;
    }
    let var = |name: &str| env.var(name).filter(|v| !v.is_empty());
    let mut log = Log::new(None, run.plan.secrets.clone());
    let Some(iid) = var("CI_MERGE_REQUEST_IID") else {
        return; // not a merge-request pipeline: nothing to comment on
    };
    let (Some(api_url), Some(project)) = (var("CI_API_V4_URL"), var("CI_PROJECT_ID")) else {
        log.warn("no merge-request note: CI_API_V4_URL or CI_PROJECT_ID is not set");
        return;
    };
    let Some(token) = var("GITLAB_TOKEN").or_else(|| var("LOADGATE_GITLAB_TOKEN")) else {
        log.warn(NO_TOKEN);
        return;
    };
    log.hide(&token);
    let origin = Origin {
        commit: var("CI_COMMIT_SHA"),
        run_url: var("CI_JOB_URL").or_else(|| var("CI_PIPELINE_URL")),
        run_label: "job",
    };
    let name = &run.results.scenario;
    let summary = report::markdown(run.results);
    let body = log.mask(&body::comment(name, &summary, &origin, NOTE_MAX));
    let target = Target {
        api_url,
        project,
        iid,
    };
    let marker = body::marker(name);
    let outcome = super::block_on(async { upsert_note(&target, &token, &marker, &body).await });
    match outcome {
        Ok(Ok(Upserted::Created)) => log.info("posted the merge-request note"),
        Ok(Ok(Upserted::Updated)) => log.info("updated the merge-request note"),
        Ok(Err(e)) => log.warn(&format!("cannot write the merge-request note: {e}")),
        Err(e) => log.warn(&e),
    }
}

/// Whether the note was created or updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upserted {
    Created,
    Updated,
}

/// Finds the note holding `marker` (100 a page, following `X-Next-Page`) and updates it, or
/// creates one.
async fn upsert_note(
    target: &Target,
    token: &str,
    marker: &str,
    body: &str,
) -> Result<Upserted, String> {
    let http = Http::new()?;
    let auth = [("PRIVATE-TOKEN", token)];
    let notes = format!(
        "{}/projects/{}/merge_requests/{}/notes",
        target.api_url.trim_end_matches('/'),
        url_segment(&target.project),
        url_segment(&target.iid)
    );
    let mut page = 1u32;
    let existing = loop {
        let url = format!("{notes}?per_page=100&page={page}&sort=asc&order_by=created_at");
        let response = http.send(Method::GET, &url, &auth, None).await?;
        if response.status != 200 {
            return Err(status_error(response.status, &response.message()));
        }
        let list = response.json()?;
        let found = list.as_array().and_then(|notes| {
            notes.iter().find_map(|n| {
                let text = n["body"].as_str()?;
                text.contains(marker).then(|| n["id"].as_u64()).flatten()
            })
        });
        if found.is_some() {
            break found;
        }
        match response
            .header("x-next-page")
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            Some(next) if next > page => page = next,
            _ => break None,
        }
    };
    let payload = json!({ "body": body });
    let (method, url, upserted) = match existing {
        Some(id) => (Method::PUT, format!("{notes}/{id}"), Upserted::Updated),
        None => (Method::POST, notes.clone(), Upserted::Created),
    };
    let response = http.send(method, &url, &auth, Some(&payload)).await?;
    if (200..300).contains(&response.status) {
        Ok(upserted)
    } else {
        Err(status_error(response.status, &response.message()))
    }
}

fn status_error(status: u16, message: &str) -> String {
    match status {
        401 | 403 => format!(
            "{status} {message}: the token in GITLAB_TOKEN needs the `api` scope and at least \
             the Reporter role on the project"
        ),
        _ => format!("{status} {message}"),
    }
}

/// A path segment: a project given as `group/name` must be sent as `group%2Fname`.
fn url_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_are_one_segment() {
        assert_eq!(url_segment("group/sub project"), "group%2Fsub%20project");
        assert_eq!(url_segment("42"), "42");
    }

    #[test]
    fn auth_errors_say_what_the_token_needs() {
        assert!(status_error(403, "Forbidden").contains("`api` scope"));
        assert_eq!(status_error(500, "boom"), "500 boom");
    }
}
