//! Reporting a finished run back to the CI that ran it: the GitHub job summary, outputs,
//! annotations, pull-request comment and check run; the GitLab merge-request note.
//!
//! Everything here happens after the verdict: a failure to publish is a warning, never a change
//! of the verdict or of the exit code. The network calls run on a small runtime built here, once,
//! after the load has stopped, so none of this touches the engine's hot path.

mod body;
mod check_run;
mod comment;
mod context;
pub mod github;
mod gitlab;
#[cfg(test)]
mod hardening_tests;
mod http;
#[cfg(test)]
mod publish_tests;

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use crate::plan::{Plan, Secrets};
use crate::report::Written;
use crate::results::Results;
use crate::scenario::{Env, ProcessEnv};

pub use body::{fit, marker, Measure};
pub use github::{escape_data, escape_property, LogGroup};

/// The CI this process runs in, as far as publishing is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ci {
    GitHub,
    GitLab,
    /// Jenkins and everything else: the exit code and junit.xml say it all.
    Other,
}

/// Which CI sets this environment.
pub fn detect(env: &dyn Env) -> Ci {
    let is_true = |name| env.var(name).is_some_and(|v| v == "true");
    if is_true("GITHUB_ACTIONS") {
        Ci::GitHub
    } else if is_true("GITLAB_CI") {
        Ci::GitLab
    } else {
        Ci::Other
    }
}

/// What a finished run hands to the CI.
#[derive(Clone, Copy, Debug)]
pub struct Publish<'a> {
    pub plan: &'a Plan,
    pub results: &'a Results,
    pub written: &'a Written,
    /// The exit code the run ends with (the check run's conclusion follows it).
    pub exit_code: i32,
    /// Post or update the pull-request comment / merge-request note (`--no-comment` turns it off).
    pub comment: bool,
}

/// Publishes the run to the CI of this process's environment. Never fails: what cannot be
/// published is reported as a warning.
pub fn publish(run: &Publish) {
    let stdout = std::io::stdout();
    publish_with(run, &ProcessEnv, &mut stdout.lock());
}

/// [`publish`] with the environment and the workflow-command stream given.
pub fn publish_with(run: &Publish, env: &dyn Env, out: &mut dyn Write) {
    match detect(env) {
        Ci::GitHub => github::publish(run, env, out),
        Ci::GitLab => gitlab::publish(run, env),
        Ci::Other => {}
    }
}

/// Tells the CI to hide every secret value from its logs. Call it before anything is printed.
pub fn mask_secrets(secrets: &Secrets) {
    if detect(&ProcessEnv) == Ci::GitHub {
        let stdout = std::io::stdout();
        github::mask_secrets(secrets, &mut stdout.lock());
    }
}

/// Opens a collapsible log group around the live progress; it closes when dropped.
pub fn log_group(title: &str) -> Option<LogGroup> {
    (detect(&ProcessEnv) == Ci::GitHub).then(|| LogGroup::start(title))
}

/// Warnings and notices about publishing, shown where the CI shows them best.
pub(crate) struct Log<'a> {
    /// Workflow commands (`::warning::`) when running on GitHub Actions; plain stderr otherwise.
    github: Option<&'a mut dyn Write>,
    /// Masked out of every message: secrets of the scenario and the API tokens.
    secrets: Secrets,
}

impl<'a> Log<'a> {
    pub(crate) fn new(github: Option<&'a mut dyn Write>, secrets: Secrets) -> Log<'a> {
        Log { github, secrets }
    }

    /// Adds a value that must never be shown (a token), even when it is short.
    pub(crate) fn hide(&mut self, value: &str) {
        self.secrets.add(value);
        self.secrets.add_form(value);
    }

    /// What was published: a plain line on stderr, beside the run's own messages.
    pub(crate) fn info(&mut self, message: &str) {
        let _ = writeln!(
            std::io::stderr(),
            "loadgate: {}",
            self.secrets.mask(message)
        );
    }

    pub(crate) fn warn(&mut self, message: &str) {
        self.emit("warning", message);
    }

    pub(crate) fn notice(&mut self, message: &str) {
        self.emit("notice", message);
    }

    /// A workflow command, as is (already escaped); nothing outside GitHub Actions.
    pub(crate) fn raw(&mut self, line: &str) {
        if let Some(out) = self.github.as_mut() {
            let _ = writeln!(out, "{line}");
        }
    }

    pub(crate) fn mask(&self, text: &str) -> String {
        self.secrets.mask(text)
    }

    fn emit(&mut self, level: &str, message: &str) {
        let message = self.secrets.mask(message);
        match self.github.as_mut() {
            Some(out) => {
                let _ = writeln!(
                    out,
                    "{}",
                    github::command(level, &[("title", "loadgate")], &message)
                );
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{level}: {message}");
            }
        }
    }
}

/// How long all the API calls of one publication may take together: a hung API must not hold
/// the CI job (and its runner minutes) hostage after the run is over.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `future` on a fresh single-threaded runtime, bounded by [`PUBLISH_TIMEOUT`].
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime for the API calls: {e}"))?;
    runtime
        .block_on(async { tokio::time::timeout(PUBLISH_TIMEOUT, future).await })
        .map_err(|_| {
            format!(
                "the API calls took longer than {}s and were abandoned",
                PUBLISH_TIMEOUT.as_secs()
            )
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A fixed environment for tests.
    pub(crate) struct Vars(pub HashMap<String, String>);

    impl Vars {
        pub(crate) fn of(pairs: &[(&str, &str)]) -> Vars {
            Vars(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        }
    }

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    #[test]
    fn github_wins_over_gitlab_and_only_true_counts() {
        assert_eq!(detect(&Vars::of(&[("GITHUB_ACTIONS", "true")])), Ci::GitHub);
        assert_eq!(detect(&Vars::of(&[("GITLAB_CI", "true")])), Ci::GitLab);
        assert_eq!(
            detect(&Vars::of(&[
                ("GITHUB_ACTIONS", "false"),
                ("JENKINS_URL", "x")
            ])),
            Ci::Other
        );
    }

    #[test]
    fn log_messages_hide_tokens_and_escape_for_github() {
        let mut out = Vec::new();
        {
            let mut log = Log::new(Some(&mut out), Secrets::default());
            log.hide("ghs_secret_token");
            log.warn("denied for ghs_secret_token\n50% done");
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            "::warning title=loadgate::denied for ***%0A50%25 done\n"
        );
    }
}
