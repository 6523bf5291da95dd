//! From the scenario as written to the [`Plan`]: defaults, load model, target. Requests live in
//! `requests.rs`; thresholds, TLS and Fargate in `sections.rs`.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use percent_encoding::percent_decode_str;
use serde_saphyr::Spanned;
use url::Url;

use crate::plan::{LoadPlan, Plan, Secrets};
use crate::secrets::MIN_SECRET_CHARS;

use super::diagnostic::{Pos, ScenarioError, Source};
use super::duration::{parse_duration, parse_rate, ValueError};
use super::model::{Load, Scenario};
use super::template::Scope;
use super::vars::{substitute, VarError};
use super::Env;

pub(crate) type Result<T> = std::result::Result<T, ScenarioError>;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_NAME_CHARS: usize = 100;
const MAX_WORKERS: i64 = 1000;
/// Connections one generator (a Fargate task, or this machine) can hold: each virtual user or
/// arrival in flight needs a socket, and one source address has at most 64,511 ports towards
/// one target address (28,232 with Linux's default `ip_local_port_range`). Beyond it a run
/// cannot send what it claims, so it is refused rather than left to fail slowly.
pub(crate) const MAX_CONNECTIONS_PER_WORKER: u32 = 50_000;

const LOAD_MODELS: &str = "give one load model: `concurrency: 50` (closed: 50 virtual users, each \
    sending its next request when the last one is done) or `rate: 100/s` (open: 100 arrivals per \
    second however slow the target gets)";

/// Everything resolution needs, and what it collects on the way (secrets, warnings).
pub(crate) struct Resolver<'a> {
    pub src: Source<'a>,
    pub(super) base_dir: &'a Path,
    pub(super) env: &'a dyn Env,
    pub secrets: Secrets,
    pub warnings: Vec<String>,
    /// `Authorization: Basic ...` from the userinfo of `target` (`http://user:pw@host`).
    pub(super) target_auth: Option<String>,
    /// Names templates may use at the point being resolved.
    pub(super) scope: Scope,
    /// Upper end of a `think_time` range.
    think_max: Option<Duration>,
}

impl<'a> Resolver<'a> {
    pub fn new(src: Source<'a>, base_dir: &'a Path, env: &'a dyn Env) -> Self {
        Resolver {
            src,
            base_dir,
            env,
            secrets: Secrets::default(),
            warnings: Vec::new(),
            target_auth: None,
            scope: Scope::default(),
            think_max: None,
        }
    }

    pub fn resolve(&mut self, mut scenario: Scenario) -> Result<Plan> {
        let name = self.name(&scenario.name)?;
        let defaults = scenario.defaults.take().unwrap_or_default();
        let timeout = match &defaults.timeout {
            Some(node) => self.positive_duration(node, "timeout")?,
            None => DEFAULT_TIMEOUT,
        };
        let regions = self.regions(scenario.fargate.as_ref(), scenario.workers.as_ref())?;
        let workers = match &scenario.workers {
            Some(node) => self.int_in(node, 1, MAX_WORKERS, "workers")?,
            None if !regions.is_empty() => regions.iter().map(|(_, n)| n).sum(),
            None => 1,
        };
        let load = self.load(&scenario.load, timeout, workers)?;
        let target = scenario
            .target
            .as_ref()
            .map(|node| self.target(node))
            .transpose()?;
        let (labels, requests, mut users) = self.users(&scenario, target.as_ref(), &defaults)?;
        users.think_time_max_ms = self.think_max.map(|d| d.as_millis() as u64);
        let (thresholds, default_threshold) =
            self.thresholds(scenario.thresholds.as_deref().unwrap_or_default(), &labels)?;
        let tls = self.tls(&scenario.tls.unwrap_or_default())?;
        let mut fargate = self.fargate(&scenario.fargate.unwrap_or_default(), workers)?;
        fargate.regions = regions;
        // Without a target, the first request's origin is what a reader recognises the run by.
        let target = match target {
            Some(url) => url.to_string(),
            None => requests
                .first()
                .and_then(|r| Url::parse(&r.url).ok())
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default(),
        };
        Ok(Plan {
            name,
            source: self.src.file.to_string(),
            target,
            labels,
            requests,
            load,
            timeout,
            tls,
            workers,
            thresholds,
            default_threshold,
            fargate,
            users,
            secrets: self.secrets.clone(),
        })
    }

    fn name(&self, node: &Spanned<String>) -> Result<String> {
        let name = node.value.trim();
        if name.is_empty() {
            return Err(self
                .error(&node.referenced, "`name` is empty")
                .label("expected a name for the run")
                .with_help("e.g. `name: checkout-api`; it names the run in reports and history"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(self
                .error(
                    &node.referenced,
                    format!("`name` is longer than {MAX_NAME_CHARS} characters"),
                )
                .label("too long")
                .with_help("a short name reads better in reports and the pull-request comment"));
        }
        Ok(name.to_string())
    }

    fn load(&mut self, node: &Spanned<Load>, timeout: Duration, workers: u32) -> Result<LoadPlan> {
        let most = MAX_CONNECTIONS_PER_WORKER.saturating_mul(workers.max(1));
        let load = &node.value;
        let at = self
            .src
            .top_level_key("load")
            .unwrap_or_else(|| Pos::of(&node.referenced));
        let Some(hold_node) = &load.hold_for else {
            return Err(self
                .src
                .error(at, "`load` needs `hold_for`")
                .label("missing `hold_for`")
                .with_help("`hold_for` is how long the full load runs after the ramp-up, e.g. `hold_for: 5m`"));
        };
        let hold_for = self.duration(hold_node)?;
        let ramp_up = self.optional_duration(load.ramp_up.as_ref())?;
        if (ramp_up + hold_for).is_zero() {
            return Err(self
                .error(&hold_node.referenced, "the load lasts no time at all")
                .label("expected a duration above zero")
                .with_help("e.g. `hold_for: 1m`"));
        }
        match (&load.concurrency, &load.rate) {
            (Some(_), Some(_)) => Err(self
                .src
                .error(at, "`load` gives both `concurrency` and `rate`")
                .label("expected one load model")
                .with_help(LOAD_MODELS)),
            (None, None) => Err(self
                .src
                .error(at, "`load` gives neither `concurrency` nor `rate`")
                .label("expected one load model")
                .with_help(LOAD_MODELS)),
            (Some(concurrency), None) => {
                if let Some(extra) = &load.max_in_flight {
                    return Err(self
                        .error(&extra.referenced, "`max_in_flight` belongs to the open model (`rate`)")
                        .label("not used with `concurrency`")
                        .with_help("the closed model is bounded by `concurrency` itself: remove `max_in_flight`, or use `rate` instead of `concurrency`"));
                }
                let users = self.int_in(concurrency, 1, i64::from(u32::MAX), "concurrency")?;
                if users > most {
                    return Err(self.too_many(
                        &concurrency.referenced,
                        "concurrency",
                        users,
                        most,
                        workers,
                    ));
                }
                Ok(LoadPlan::Closed {
                    concurrency: users,
                    ramp_up,
                    hold_for,
                    think_time: self.think_time(load.think_time.as_ref())?,
                })
            }
            (None, Some(rate_node)) => {
                if let Some(extra) = &load.think_time {
                    return Err(self
                        .error(&extra.referenced, "`think_time` belongs to the closed model (`concurrency`)")
                        .label("not used with `rate`")
                        .with_help("in the open model arrivals are paced by `rate` alone: remove `think_time`, or use `concurrency` instead of `rate`"));
                }
                let rate = parse_rate(&rate_node.value).map_err(|e| {
                    self.value_error(&rate_node.referenced, e, "a rate such as `100/s`")
                })?;
                let max_in_flight = match &load.max_in_flight {
                    Some(n) => {
                        let slots = self.int_in(n, 1, i64::from(u32::MAX), "max_in_flight")?;
                        if slots > most {
                            return Err(self.too_many(
                                &n.referenced,
                                "max_in_flight",
                                slots,
                                most,
                                workers,
                            ));
                        }
                        slots
                    }
                    None => default_max_in_flight(rate, timeout).min(most),
                };
                Ok(LoadPlan::Open {
                    rate,
                    ramp_up,
                    hold_for,
                    max_in_flight,
                })
            }
        }
    }

    /// A size no generator can hold (see [`MAX_CONNECTIONS_PER_WORKER`]).
    fn too_many(
        &self,
        at: &serde_saphyr::Location,
        what: &str,
        value: u32,
        most: u32,
        workers: u32,
    ) -> ScenarioError {
        self.error(
            at,
            format!("`{what}` is {value}, more than {most} connections at once for {workers} worker(s)"),
        )
        .label(format!("expected at most {most}"))
        .with_help(format!(
            "each virtual user or request in flight holds a connection, and one generator holds at most {MAX_CONNECTIONS_PER_WORKER} (its ports towards one target run out, and memory with them): lower `{what}`, or spread it over more `workers` on Fargate"
        ))
    }

    fn target(&mut self, node: &Spanned<String>) -> Result<Url> {
        if super::template::is_template(&node.value) {
            return Err(self
                .error(&node.referenced, "`target` cannot be templated")
                .label("a fixed base URL")
                .with_help("connections are kept per origin (scheme, host, port); template each request's `path` instead"));
        }
        let text = self.subst(node, "`target`")?;
        let mut url = self.http_url(&text, node, "target")?;
        self.target_auth = self.take_userinfo(&mut url);
        if url.query().is_some() || url.fragment().is_some() {
            return Err(self
                .error(
                    &node.referenced,
                    "`target` must not have a query or a fragment",
                )
                .label("expected a base URL such as `https://staging.example.com/api`")
                .with_help("put query strings on each request's `path`"));
        }
        Ok(url)
    }

    /// Parses an absolute http(s) URL. Messages quote the node as written, never `text`,
    /// which may hold substituted secrets.
    pub(super) fn http_url(&self, text: &str, node: &Spanned<String>, what: &str) -> Result<Url> {
        let raw = node.value.trim();
        let bad = |message: String| {
            let help = if raw.contains("://") {
                "write an absolute URL such as `https://staging.example.com`".to_string()
            } else {
                format!("did you mean `https://{raw}`?")
            };
            self.error(&node.referenced, message)
                .label("expected an http:// or https:// URL with a host")
                .with_help(help)
        };
        let url = Url::parse(text.trim())
            .map_err(|e| bad(format!("`{what}` is not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "`{what}` must be an http or https URL, not `{}:`",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad(format!("`{what}` has no host")));
        }
        Ok(url)
    }

    /// Takes the userinfo out of `url` (`http://user:pw@host`) and returns it as the value of an
    /// `Authorization: Basic` header, which is how a browser or curl sends it. The credential is
    /// masked wherever it appears, whether or not it came from `${VAR}`.
    pub(super) fn take_userinfo(&mut self, url: &mut Url) -> Option<String> {
        if url.username().is_empty() && url.password().is_none() {
            return None;
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = decode(url.username());
        let password = url.password().map(decode).unwrap_or_default();
        // Cannot fail: the URL has a host (checked by `http_url`).
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.secrets.add_form(&token);
        if !password.is_empty() {
            self.secrets.add(&password);
        }
        Some(format!("Basic {token}"))
    }

    /// Substitutes `${VAR}` in a node's text; `what` names the node for messages.
    pub(super) fn subst(&mut self, node: &Spanned<String>, what: &str) -> Result<String> {
        match substitute(&node.value, self.env, &mut self.secrets) {
            Ok(text) => Ok(text),
            Err(err) => Err(self.var_error(err, &node.referenced, what)),
        }
    }

    /// Substitutes `${VAR}` in text that has no position of its own (a body file's contents):
    /// errors point at `node`, the key that named the text.
    pub(super) fn subst_text(
        &mut self,
        text: &str,
        node: &Spanned<String>,
        what: &str,
    ) -> Result<String> {
        match substitute(text, self.env, &mut self.secrets) {
            Ok(text) => Ok(text),
            Err(err) => Err(self.var_error(err, &node.referenced, what)),
        }
    }

    fn var_error(&self, err: VarError, at: &serde_saphyr::Location, what: &str) -> ScenarioError {
        let node = Pos::of(at);
        match err {
            VarError::Unset { name, empty, .. } => {
                let pos = self.find_reference(node, &name);
                let state = if empty { "is empty" } else { "is not set" };
                self.src
                    .error(pos, format!("environment variable {name} {state}"))
                    .label(format!("used in {what}"))
                    .with_help(format!(
                        "set {name} in the environment of the run (in CI, from a secret or variable), or give a default: `${{{name}:-value}}`; write `$${{` for a literal `${{`"
                    ))
            }
            VarError::Short { name, .. } => {
                let pos = self.find_reference(node, &name);
                self.src
                    .error(
                        pos,
                        format!(
                            "the value of environment variable {name} is shorter than {MIN_SECRET_CHARS} characters"
                        ),
                    )
                    .label(format!("used in {what}"))
                    .with_help(
                        "`${VAR}` values are secrets, masked in every output, and a value this short cannot be masked without wrecking the reports: use a longer secret, or write a value that is not secret into the scenario file itself (generate the file in the CI step if it varies)",
                    )
            }
            VarError::BadName { .. } => self
                .src
                .error(node, format!("malformed `${{...}}` reference in {what}"))
                .label("expected `${NAME}`")
                .with_help("a reference is `${NAME}`, NAME made of letters, digits and `_` and not starting with a digit; write `$${` for a literal `${`"),
        }
    }

    /// Where `${NAME}` (or `${NAME:-...}`) is on the node's line; the node itself if not there.
    fn find_reference(&self, node: Pos, name: &str) -> Pos {
        self.find_on_line(node, &format!("${{{name}}}"))
            .or_else(|| self.find_on_line(node, &format!("${{{name}:-")))
            .unwrap_or(node)
    }

    /// The position of `needle` on the node's line, at or after the node's column.
    pub(super) fn find_on_line(&self, node: Pos, needle: &str) -> Option<Pos> {
        let line = self.src.line_text(node.line)?;
        let start = line
            .char_indices()
            .nth(node.column.checked_sub(1)?)
            .map(|(i, _)| i)?;
        let found = line.get(start..)?.find(needle)? + start;
        let column = line.get(..found)?.chars().count() + 1;
        Some(Pos {
            line: node.line,
            column,
            len: needle.chars().count(),
        })
    }

    pub(super) fn error(
        &self,
        at: &serde_saphyr::Location,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.src.error(Pos::of(at), message)
    }

    pub(super) fn value_error(
        &self,
        at: &serde_saphyr::Location,
        err: ValueError,
        expected: &str,
    ) -> ScenarioError {
        self.error(at, err.message)
            .label(format!("expected {expected}"))
            .maybe_help(err.help)
    }

    pub(super) fn duration(&self, node: &Spanned<String>) -> Result<Duration> {
        parse_duration(&node.value)
            .map_err(|e| self.value_error(&node.referenced, e, "a duration such as `30s`"))
    }

    pub(super) fn optional_duration(&self, node: Option<&Spanned<String>>) -> Result<Duration> {
        node.map_or(Ok(Duration::ZERO), |n| self.duration(n))
    }

    fn positive_duration(&self, node: &Spanned<String>, what: &str) -> Result<Duration> {
        let d = self.duration(node)?;
        if d.is_zero() {
            return Err(self
                .error(
                    &node.referenced,
                    format!("`{what}` must be greater than zero"),
                )
                .label("expected a duration above zero, such as `10s`"));
        }
        Ok(d)
    }

    pub(super) fn int_in(
        &self,
        node: &Spanned<i64>,
        min: i64,
        max: i64,
        what: &str,
    ) -> Result<u32> {
        let value = node.value;
        if value < min || value > max {
            let range = if max == i64::from(u32::MAX) {
                format!("at least {min}")
            } else {
                format!("from {min} to {max}")
            };
            return Err(self
                .error(
                    &node.referenced,
                    format!("`{what}` must be {range}, not {value}"),
                )
                .label(format!("expected a whole number {range}")));
        }
        u32::try_from(value)
            .map_err(|_| self.error(&node.referenced, format!("`{what}` is too large")))
    }

    /// `think_time`: a duration, or a range `a..b` whose upper end is kept for the users' plan.
    fn think_time(&mut self, node: Option<&Spanned<String>>) -> Result<Duration> {
        let Some(node) = node else {
            return Ok(Duration::ZERO);
        };
        let Some((lo, hi)) = node.value.split_once("..") else {
            return self.duration(node);
        };
        let expected = "a duration such as `1s`, or a range such as `1s..3s`";
        let lo = parse_duration(lo).map_err(|e| self.value_error(&node.referenced, e, expected))?;
        let hi = parse_duration(hi).map_err(|e| self.value_error(&node.referenced, e, expected))?;
        if hi < lo {
            return Err(self
                .error(
                    &node.referenced,
                    "the `think_time` range ends before it starts",
                )
                .label("expected `low..high`")
                .with_help("e.g. `think_time: 1s..3s`"));
        }
        if hi > lo {
            self.think_max = Some(hi);
        }
        Ok(lo)
    }

    pub(super) fn base_dir_text(&self) -> String {
        let dir = self.base_dir.display().to_string();
        if dir.is_empty() {
            ".".to_string()
        } else {
            dir
        }
    }

    /// A path in the scenario, relative to the scenario file's directory.
    pub(super) fn read_file(
        &self,
        node: &Spanned<String>,
        what: &str,
        limit: u64,
    ) -> Result<String> {
        let path = self.base_dir.join(node.value.trim());
        crate::input::read_text_limited(&path, limit).map_err(|e| {
            let dir = self.base_dir.display().to_string();
            let dir = if dir.is_empty() { ".".to_string() } else { dir };
            self.error(
                &node.referenced,
                format!("cannot read {what} `{}`: {e}", node.value.trim()),
            )
            .label("this file")
            .with_help(format!(
                "paths are relative to the scenario file's directory (`{dir}`)"
            ))
        })
    }
}

/// Enough slots for every arrival of one timeout period, so a target that is merely slow is
/// measured rather than dropped; never fewer than 1000.
fn default_max_in_flight(rate_per_s: f64, timeout: Duration) -> u32 {
    let needed = (rate_per_s * timeout.as_secs_f64()).ceil();
    if needed >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        (needed as u32).max(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_in_flight_covers_one_timeout_of_arrivals() {
        assert_eq!(default_max_in_flight(10.0, Duration::from_secs(10)), 1000);
        assert_eq!(default_max_in_flight(500.0, Duration::from_secs(10)), 5000);
        assert_eq!(
            default_max_in_flight(1e12, Duration::from_secs(10)),
            u32::MAX
        );
    }
}
