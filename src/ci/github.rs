//! GitHub Actions: workflow commands (masks, groups, annotations), the job summary, step outputs,
//! and the API calls (pull-request comment, check run).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use super::body::{self, Measure, Origin};
use super::context::GitHub;
use super::{check_run, comment, Log, Publish};
use crate::plan::Secrets;
use crate::report::{self, format};
use crate::results::Results;
use crate::scenario::Env;

/// GitHub refuses a step summary over 1 MiB; what came before us in the same step counts too.
const STEP_SUMMARY_MAX: usize = 1024 * 1024 - 1024;
/// GitHub's limit on a comment body and on a check run's summary (65,536 characters).
pub(crate) const BODY_MAX: usize = 65_536 - 536;

/// A workflow command's message: `%`, CR and LF escaped, so that a value cannot end the command
/// or start another one on a new line.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`escape_data`], plus `:` and `,`, which separate
/// properties.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::name key=value,...::message`, every part escaped.
pub fn command(name: &str, properties: &[(&str, &str)], message: &str) -> String {
    let props: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!("::{name}{sep}{}::{}", props.join(","), escape_data(message))
}

/// `::add-mask::` for each form of each secret (as written, percent-encoded, lower-cased,
/// base64, JSON-escaped: see [`crate::secrets`]). A multi-line value is masked line by line as
/// well, because the runner matches masks within single log lines.
pub fn mask_secrets(secrets: &Secrets, out: &mut dyn Write) {
    // The values as taken first, then every other form.
    let values = secrets
        .values()
        .iter()
        .filter(|v| secrets.forms().contains(v));
    let others = secrets
        .forms()
        .iter()
        .filter(|f| !secrets.values().contains(f));
    for value in values.chain(others) {
        let _ = writeln!(out, "{}", command("add-mask", &[], value));
        if value.contains(['\n', '\r']) {
            for line in value.lines().map(str::trim).filter(|l| l.len() >= 3) {
                let _ = writeln!(out, "{}", command("add-mask", &[], line));
            }
        }
    }
    let _ = out.flush();
}

/// A collapsible group in the job log; `::endgroup::` when dropped.
#[derive(Debug)]
pub struct LogGroup(());

impl LogGroup {
    pub fn start(title: &str) -> LogGroup {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", command("group", &[], title));
        let _ = out.flush();
        LogGroup(())
    }
}

impl Drop for LogGroup {
    fn drop(&mut self) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "::endgroup::");
        let _ = out.flush();
    }
}

/// The step outputs, in the order the action declares them.
pub fn outputs(results: &Results, report_dir: &Path, results_json: &Path) -> Vec<(String, String)> {
    let t = &results.total;
    let path = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    // A figure with nothing behind it is empty, not 0: `p95-ms=0` would read as a fast run.
    let transport_errors = t.errors
        - t.error_kinds
            .get("status")
            .copied()
            .unwrap_or(0)
            .min(t.errors);
    let timed = t.requests.saturating_sub(transport_errors) > 0;
    let latency = |ms: f64| if timed { ms.to_string() } else { String::new() };
    let error_rate = if t.requests > 0 {
        round(t.error_rate, 1e6).to_string()
    } else {
        String::new()
    };
    vec![
        ("passed".into(), results.passed.to_string()),
        ("p95-ms".into(), latency(t.response_time_ms.p95)),
        ("p99-ms".into(), latency(t.response_time_ms.p99)),
        // Rounded: 15389.957184487193 requests per second is noise to a later step.
        ("rps".into(), round(t.rps, 1e3).to_string()),
        ("error-rate".into(), error_rate),
        ("requests".into(), t.requests.to_string()),
        ("report-dir".into(), path(report_dir)),
        ("results-json".into(), path(results_json)),
    ]
}

fn round(value: f64, scale: f64) -> f64 {
    (value * scale).round() / scale
}

/// `name=value` lines for `$GITHUB_OUTPUT`; a value with a line break goes in a heredoc whose
/// delimiter does not occur in it.
pub fn output_lines(outputs: &[(String, String)]) -> String {
    let mut text = String::new();
    for (name, value) in outputs {
        if value.contains(['\n', '\r']) {
            let mut delimiter = format!("ghadelimiter_{:016x}", fastrand::u64(..));
            while value.contains(&delimiter) {
                delimiter = format!("ghadelimiter_{:016x}", fastrand::u64(..));
            }
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    text
}

/// `::error` for each failed threshold, at its line when the scenario is in the workspace. A
/// skipped threshold (relative, without a baseline) did not fail: no annotation.
pub fn threshold_annotations(results: &Results, file: Option<&str>) -> Vec<String> {
    results
        .thresholds
        .iter()
        .filter(|t| t.failed())
        .map(|t| {
            let line = t.line.max(1).to_string();
            let mut props = vec![("title", format!("loadgate: {}", results.scenario))];
            if let Some(file) = file {
                props.insert(0, ("file", file.to_string()));
                props.insert(1, ("line", line));
            }
            let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
            command("error", &props, &failure_message(t))
        })
        .collect()
}

/// "threshold `p95 < 300ms` failed: actual 398 ms, limit < 300 ms".
pub(crate) fn failure_message(t: &crate::results::ThresholdResult) -> String {
    let actual = t
        .actual
        .map_or_else(|| "no data".to_string(), |a| format::in_unit(a, t.unit));
    format!(
        "threshold `{}` failed: actual {actual}, limit {}",
        t.expr,
        format::limit(t.op, t.limit, t.unit)
    )
}

pub(crate) fn publish(run: &Publish, env: &dyn Env, out: &mut dyn Write) {
    let (gh, payload_warning) = GitHub::from_env(env);
    let secrets = run.plan.secrets.clone();
    let summary = secrets.mask(&report::markdown(run.results));
    let mut log = Log::new(Some(out), secrets);
    if let Some(token) = &gh.token {
        log.hide(token);
    }
    if let Some(w) = payload_warning {
        log.warn(&w);
    }

    if let Some(path) = &gh.step_summary {
        if let Err(e) = append_step_summary(path, &summary) {
            log.warn(&format!(
                "cannot append to the job summary {}: {e}",
                path.display()
            ));
        }
    }
    if let Some(path) = &gh.output {
        let report_dir = run.written.json.parent().unwrap_or(Path::new("."));
        let lines = output_lines(&outputs(run.results, report_dir, &run.written.json));
        if let Err(e) = append(path, &lines) {
            log.warn(&format!(
                "cannot write the step outputs to {}: {e}",
                path.display()
            ));
        }
    }
    let file = gh.workspace_path(Path::new(&run.plan.source));
    let mut lines: Vec<String> = threshold_annotations(run.results, file.as_deref());
    lines.extend(
        run.results
            .warnings
            .iter()
            .chain(&run.results.stopped)
            .map(|w| command("warning", &[("title", "loadgate")], w)),
    );
    for line in lines {
        let masked = log.mask(&line);
        log.raw(&masked);
    }

    api_calls(run, &gh, &summary, file.as_deref(), &mut log);
}

/// The comment and the check run: both need the API, a token and the repository.
fn api_calls(run: &Publish, gh: &GitHub, summary: &str, file: Option<&str>, log: &mut Log) {
    let wants_comment = run.comment && gh.pull_request.is_some();
    let Some(token) = gh.token.clone() else {
        if wants_comment {
            log.warn(
                "GITHUB_TOKEN is not set: no pull-request comment and no check run \
                 (the action sets it from its github-token input)",
            );
        }
        return;
    };
    let (Some((owner, repo)), Some(sha)) = (gh.owner_repo(), gh.commit()) else {
        return;
    };
    let name = &run.results.scenario;
    let origin = Origin {
        commit: Some(sha.to_string()),
        run_url: gh.run_url.clone(),
        run_label: "workflow run",
    };
    let body = log.mask(&body::comment(name, summary, &origin, BODY_MAX));
    let check = check_run::CheckRun {
        name: format!("loadgate / {name}"),
        head_sha: sha.to_string(),
        conclusion: check_run::conclusion(run.exit_code),
        title: check_run::title(run.results),
        summary: log.mask(&body::fit(summary, BODY_MAX, Measure::Utf16)),
        details_url: gh.run_url.clone(),
        annotations: file
            .map(|f| check_run::annotations(run.results, f))
            .unwrap_or_default()
            .into_iter()
            .map(|mut a| {
                a.message = log.mask(&a.message);
                a
            })
            .collect(),
    };
    let api_url = gh.api_url.clone();
    let pr = gh.pull_request.clone().filter(|_| run.comment);
    let marker = body::marker(name);
    let outcome = super::block_on(async move {
        let octo = match comment::client(&api_url, &token) {
            Ok(octo) => octo,
            Err(e) => {
                return vec![Err(Problem::Warning(format!(
                    "cannot set up the GitHub API client: {}",
                    comment::describe(&e)
                )))]
            }
        };
        let mut results = Vec::new();
        if let Some(pr) = pr {
            results.push(
                comment::upsert(&octo, owner, repo, pr.number, &marker, &body)
                    .await
                    .map(|done| {
                        let verb = match done {
                            comment::Upserted::Created => "posted",
                            comment::Upserted::Updated => "updated",
                        };
                        Some(format!("{verb} the comment on pull request #{}", pr.number))
                    })
                    .map_err(|e| comment::explain(&e, pr.number)),
            );
        }
        results.push(
            check_run::create(&octo, owner, repo, &check)
                .await
                .map(|()| Some(format!("created the check run `{}`", check.name)))
                .map_err(|e| check_run::explain(&e)),
        );
        results
    });
    match outcome {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(Some(done)) => log.info(&done),
                    Ok(None) => {}
                    Err(Problem::Warning(w)) => log.warn(&w),
                    Err(Problem::Notice(n)) => log.notice(&n),
                }
            }
        }
        Err(e) => log.warn(&e),
    }
}

/// How serious a failed API call is.
#[derive(Debug)]
pub(crate) enum Problem {
    Warning(String),
    Notice(String),
}

fn append_step_summary(path: &Path, summary: &str) -> std::io::Result<()> {
    let used = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
    let room = STEP_SUMMARY_MAX.saturating_sub(used);
    if room < 200 {
        return Err(std::io::Error::other(
            "it is already at GitHub's 1 MiB limit",
        ));
    }
    append(path, &body::fit(summary, room, Measure::Bytes))
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_properties_are_escaped() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(
            command(
                "error",
                &[("file", "a,b.yaml"), ("line", "3")],
                "p95: 1%\nx"
            ),
            "::error file=a%2Cb.yaml,line=3::p95: 1%25%0Ax"
        );
        assert_eq!(command("endgroup", &[], ""), "::endgroup::");
    }

    #[test]
    fn a_value_cannot_inject_a_second_command() {
        let line = command("warning", &[], "ok\n::add-mask::x");
        assert_eq!(line.lines().count(), 1);
        assert!(line.ends_with("ok%0A::add-mask::x"));
    }

    #[test]
    fn every_secret_is_masked_in_every_form_and_multiline_values_line_by_line() {
        let mut secrets = Secrets::default();
        secrets.add("S3cr3t/x y");
        secrets.add("line one\nline two");
        let mut out = Vec::new();
        mask_secrets(&secrets, &mut out);
        let out = String::from_utf8_lossy(&out);
        let masks: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("::add-mask::"))
            .collect();
        assert_eq!(masks.len(), out.lines().count(), "{out}");
        for form in [
            "S3cr3t/x y",
            "S3cr3t/x%20y",
            "S3cr3t%2Fx%20y",
            "s3cr3t/x y",
            "UzNjcjN0L3ggeQ==",
            "line one\nline two",
            "line one",
            "line two",
        ] {
            // As the runner reads them: workflow-command escaped (`%` is `%25`).
            let escaped = escape_data(form);
            assert!(
                masks.contains(&escaped.as_str()),
                "{escaped} not in {masks:?}"
            );
        }
    }

    #[test]
    fn multi_line_outputs_use_a_heredoc() {
        let text = output_lines(&[("a".into(), "1".into()), ("b".into(), "x\ny".into())]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "a=1");
        let delimiter = lines[1].strip_prefix("b<<").expect("heredoc");
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(&lines[2..], ["x", "y", delimiter]);
    }
}
