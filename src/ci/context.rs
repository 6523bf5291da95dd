//! What a GitHub Actions runner tells a step about itself: variables and the event payload.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::scenario::Env;

pub(crate) const DEFAULT_API_URL: &str = "https://api.github.com";

/// The pull request a run is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PullRequest {
    pub number: u64,
    /// The PR's head commit: on pull_request events `GITHUB_SHA` is a merge commit nobody sees.
    pub head_sha: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct GitHub {
    pub api_url: String,
    pub token: Option<String>,
    /// `owner/name`.
    pub repository: Option<String>,
    pub sha: Option<String>,
    pub pull_request: Option<PullRequest>,
    pub run_url: Option<String>,
    pub workspace: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

impl GitHub {
    /// Reads the runner's variables; a payload that cannot be read is a warning, not an error.
    pub(crate) fn from_env(env: &dyn Env) -> (GitHub, Option<String>) {
        let var = |name: &str| env.var(name).filter(|v| !v.is_empty());
        let (pull_request, warning) = match (var("GITHUB_EVENT_NAME"), var("GITHUB_EVENT_PATH")) {
            (Some(event), Some(path))
                if event == "pull_request" || event == "pull_request_target" =>
            {
                match read_pull_request(Path::new(&path)) {
                    Ok(pr) => (pr, None),
                    Err(e) => (None, Some(e)),
                }
            }
            _ => (None, None),
        };
        let run_url = match (
            var("GITHUB_SERVER_URL"),
            var("GITHUB_REPOSITORY"),
            var("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(id)) => Some(format!(
                "{}/{repo}/actions/runs/{id}",
                server.trim_end_matches('/')
            )),
            _ => None,
        };
        let github = GitHub {
            api_url: var("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string()),
            token: var("GITHUB_TOKEN"),
            repository: var("GITHUB_REPOSITORY"),
            sha: var("GITHUB_SHA"),
            pull_request,
            run_url,
            workspace: var("GITHUB_WORKSPACE").map(PathBuf::from),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
        };
        (github, warning)
    }

    /// The commit the run is about: the PR's head, else the pushed commit.
    pub(crate) fn commit(&self) -> Option<&str> {
        self.pull_request
            .as_ref()
            .and_then(|pr| pr.head_sha.as_deref())
            .or(self.sha.as_deref())
    }

    /// `(owner, name)` of the repository.
    pub(crate) fn owner_repo(&self) -> Option<(&str, &str)> {
        let (owner, name) = self.repository.as_deref()?.split_once('/')?;
        (!owner.is_empty() && !name.is_empty()).then_some((owner, name))
    }

    /// `scenario` as a path relative to the workspace (what annotations need), when it is inside.
    pub(crate) fn workspace_path(&self, scenario: &Path) -> Option<String> {
        let workspace = self.workspace.as_deref()?;
        let file = std::path::absolute(scenario).ok()?;
        let relative = match file.strip_prefix(workspace) {
            Ok(p) => p.to_path_buf(),
            // The workspace may be reached through a symlink (macOS's /var -> /private/var).
            Err(_) => {
                let real_ws = workspace.canonicalize().ok()?;
                let real_file = file.canonicalize().ok()?;
                real_file.strip_prefix(&real_ws).ok()?.to_path_buf()
            }
        };
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        (!parts.is_empty()).then(|| parts.join("/"))
    }
}

fn read_pull_request(path: &Path) -> Result<Option<PullRequest>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the event payload {}: {e}; no pull-request comment",
            path.display()
        )
    })?;
    let event: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "the event payload {} is not JSON ({e}); no pull-request comment",
            path.display()
        )
    })?;
    let number = event["pull_request"]["number"]
        .as_u64()
        .or_else(|| event["number"].as_u64());
    Ok(number.map(|number| PullRequest {
        number,
        head_sha: event["pull_request"]["head"]["sha"]
            .as_str()
            .map(str::to_string),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::tests::Vars;

    #[test]
    fn pull_request_number_and_head_come_from_the_payload() {
        let dir = tempfile::tempdir().expect("temp dir");
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"number": 7, "pull_request": {"number": 7, "head": {"sha": "headsha"}}}"#,
        )
        .expect("write");
        let vars = Vars::of(&[
            ("GITHUB_EVENT_NAME", "pull_request_target"),
            ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
            ("GITHUB_SHA", "mergesha"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SERVER_URL", "https://github.com/"),
            ("GITHUB_RUN_ID", "42"),
        ]);
        let (gh, warning) = GitHub::from_env(&vars);
        assert_eq!(warning, None);
        assert_eq!(
            gh.pull_request,
            Some(PullRequest {
                number: 7,
                head_sha: Some("headsha".into())
            })
        );
        assert_eq!(gh.commit(), Some("headsha"));
        assert_eq!(gh.owner_repo(), Some(("o", "r")));
        assert_eq!(
            gh.run_url.as_deref(),
            Some("https://github.com/o/r/actions/runs/42")
        );
        assert_eq!(gh.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn push_events_have_no_pull_request_and_a_bad_payload_warns() {
        let vars = Vars::of(&[("GITHUB_EVENT_NAME", "push"), ("GITHUB_SHA", "s")]);
        let (gh, warning) = GitHub::from_env(&vars);
        assert_eq!((gh.pull_request, warning), (None, None));
        let vars = Vars::of(&[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", "/nonexistent/event.json"),
        ]);
        let (_, warning) = GitHub::from_env(&vars);
        assert!(warning.is_some_and(|w| w.contains("/nonexistent/event.json")));
    }

    #[test]
    fn scenario_paths_are_relative_to_the_workspace() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("load")).expect("mkdir");
        let file = dir.path().join("load/api.yaml");
        std::fs::write(&file, "x").expect("write");
        let gh = GitHub {
            workspace: Some(dir.path().to_path_buf()),
            ..GitHub::default()
        };
        assert_eq!(gh.workspace_path(&file).as_deref(), Some("load/api.yaml"));
        assert_eq!(gh.workspace_path(Path::new("/elsewhere/x.yaml")), None);
    }
}
