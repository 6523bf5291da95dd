//! Sequences of requests (the `requests` list, `flows`, `setup`), `variables`, captures and
//! checks: what turns fixed requests into users. Capture names are checked in order: a template
//! may use a value only after a request of the same flow (or the setup) captures it.

use serde_saphyr::Spanned;
use url::Url;

use crate::plan::{CapturePlan, CaptureSource, CheckPlan, FlowPlan, RequestPlan, UserPlan};

use super::diagnostic::Pos;
use super::model::{Defaults, Expect, Headers, Request, Scenario};
use super::model_users::{Capture, Captures};
use super::resolve::{Resolver, Result};

const MAX_REDIRECTS: i64 = 100;
const RESERVED: [&str; 6] = [
    "user",
    "iteration",
    "uuid",
    "now_ms",
    "random_int",
    "random_choice",
];

type List = Spanned<Vec<Spanned<Request>>>;

impl Resolver<'_> {
    /// Resolves every request of the scenario; returns the distinct labels (first-appearance
    /// order), the requests that index them (setup first, then the flows'), and the users' plan.
    pub(super) fn users(
        &mut self,
        scenario: &Scenario,
        target: Option<&Url>,
        defaults: &Defaults,
    ) -> Result<(Vec<String>, Vec<RequestPlan>, UserPlan)> {
        let mut users = UserPlan {
            seed: scenario.seed,
            ..UserPlan::default()
        };
        if let Some(cookies) = defaults.cookies {
            users.cookies = cookies;
            users.forced = true;
        }
        if let Some(n) = &defaults.follow_redirects {
            users.follow_redirects = self.int_in(n, 0, MAX_REDIRECTS, "follow_redirects")?;
            users.forced = true;
        }
        for (name, value) in scenario.variables.iter().flatten() {
            let n = name.value.trim().to_string();
            if !is_name(&n) || RESERVED.contains(&n.as_str()) {
                return Err(self
                    .error(
                        &name.referenced,
                        format!("`{n}` cannot be a variable's name"),
                    )
                    .label("expected letters, digits and `_`, and not a built-in name")
                    .with_help(format!("built-in names: {}", RESERVED.join(", "))));
            }
            let what = format!("variable `{n}`");
            let v = self.subst(value, &what)?;
            self.scope.vars.push((n, v));
        }
        if let Some(data) = &scenario.data {
            users.feeds = self.feeds(data)?;
        }
        for f in &users.feeds {
            if self.scope.vars.iter().any(|(n, _)| *n == f.name) {
                self.warnings
                    .push(format!("data feed `{}` has the name of a variable", f.name));
            }
            self.scope.feeds.push((f.name.clone(), f.columns.clone()));
        }
        self.scope.used_feeds = vec![false; users.feeds.len()];

        // Every capture name first, so that a use before its capture is told apart from a typo.
        let flows = scenario.flows.as_ref();
        let mut all: Vec<&List> = scenario.setup.iter().collect();
        all.extend(scenario.requests.iter());
        all.extend(
            flows
                .iter()
                .flat_map(|f| f.value.iter().map(|f| &f.value.requests)),
        );
        for list in &all {
            for req in &list.value {
                for name in req.value.capture.iter().flat_map(|c| c.keys()) {
                    self.capture_name(name)?;
                }
            }
        }

        let default_headers = defaults.headers.as_ref();
        let mut labels = Vec::new();
        let mut plans = Vec::new();
        self.scope.available = vec![false; self.scope.captures.len()];
        if let Some(setup) = &scenario.setup {
            users.setup = self.sequence(
                setup,
                target,
                default_headers,
                &mut labels,
                &mut plans,
                false,
            )?;
        }
        let after_setup = self.scope.available.clone();
        match (&scenario.requests, flows) {
            (Some(_), Some(f)) => {
                return Err(self
                    .error(&f.referenced, "the scenario has both `requests` and `flows`")
                    .label("keep one")
                    .with_help("`requests` is one unnamed flow; put it under `flows:` with a name and a weight"))
            }
            (None, None) => {
                let at = self.src.top_level_key("name").unwrap_or(Pos { line: 1, column: 1, len: 1 });
                return Err(self
                    .src
                    .error(at, "the scenario has no `requests` (nor `flows`)")
                    .label("expected a list of requests")
                    .with_help("add e.g. `requests: [{ path: / }]`"));
            }
            (Some(list), None) => {
                if list.value.is_empty() {
                    let at = self
                        .src
                        .top_level_key("requests")
                        .unwrap_or_else(|| Pos::of(&list.referenced));
                    return Err(self
                        .src
                        .error(at, "`requests` is empty")
                        .label("expected at least one request")
                        .with_help("add a request, e.g. `requests: [{ path: / }]`"));
                }
                self.sequence(list, target, default_headers, &mut labels, &mut plans, true)?;
            }
            (None, Some(list)) => {
                if list.value.is_empty() {
                    return Err(self
                        .error(&list.referenced, "`flows` is empty")
                        .label("expected at least one flow"));
                }
                for flow in &list.value {
                    let name = flow.value.name.value.trim().to_string();
                    if name.is_empty() || users.flows.iter().any(|f| f.name == name) {
                        return Err(self
                            .error(&flow.value.name.referenced, "a flow needs a name of its own")
                            .label("empty or used by another flow"));
                    }
                    let weight = match &flow.value.weight {
                        Some(w) => self.int_in(w, 1, 1_000_000, "weight")?,
                        None => 1,
                    };
                    self.scope.available = after_setup.clone();
                    let requests = self.sequence(&flow.value.requests, target, default_headers, &mut labels, &mut plans, true)?;
                    users.flows.push(FlowPlan { name, weight, requests });
                }
            }
        }
        for (i, used) in self.scope.used_feeds.iter().enumerate() {
            if !used {
                self.warnings.push(format!(
                    "data feed `{}` is never used by a template",
                    users.feeds[i].name
                ));
            }
        }
        users.captures = self.scope.captures.clone();
        Ok((labels, plans, users))
    }

    fn capture_name(&mut self, node: &Spanned<String>) -> Result<()> {
        let n = node.value.trim();
        let clash = self.scope.vars.iter().any(|(v, _)| v == n)
            || self.scope.feeds.iter().any(|(f, _)| f == n);
        if !is_name(n) || RESERVED.contains(&n) || clash {
            return Err(self
                .error(
                    &node.referenced,
                    format!("`{n}` cannot be a capture's name"),
                )
                .label("expected letters, digits and `_`, not a variable, feed or built-in name"));
        }
        if !self.scope.captures.iter().any(|c| c == n) {
            self.scope.captures.push(n.to_string());
        }
        Ok(())
    }

    /// Resolves one list in order, adding its requests to `plans`; returns their indices.
    fn sequence(
        &mut self,
        list: &List,
        target: Option<&Url>,
        defaults: Option<&Headers>,
        labels: &mut Vec<String>,
        plans: &mut Vec<RequestPlan>,
        required: bool,
    ) -> Result<Vec<usize>> {
        if required && list.value.is_empty() {
            return Err(self
                .error(&list.referenced, "this list of requests is empty")
                .label("expected at least one request")
                .with_help("add a request, e.g. `[{ path: / }]`"));
        }
        let mut indices = Vec::with_capacity(list.value.len());
        for node in &list.value {
            let mut plan = self.request(node, target, defaults)?;
            let request = &node.value;
            let captures = match &request.capture {
                Some(c) => self.captures(c)?,
                None => Vec::new(),
            };
            let checks = match &request.expect {
                Some(e) => self.checks(e)?,
                None => Vec::new(),
            };
            let redirects = match &request.follow_redirects {
                Some(n) => Some(self.int_in(n, 0, MAX_REDIRECTS, "follow_redirects")?),
                None => None,
            };
            if !captures.is_empty() || !checks.is_empty() || redirects.is_some() {
                let dynamic = plan.dynamic.get_or_insert_with(Default::default);
                dynamic.captures = captures;
                dynamic.checks = checks;
                dynamic.follow_redirects = redirects;
            }
            // Later requests of this sequence may use what this one captures.
            for c in plan.dynamic.iter().flat_map(|d| d.captures.iter()) {
                self.scope.available[c.slot] = true;
            }
            plan.label = match labels.iter().position(|l| *l == plan.name) {
                Some(index) => index,
                None => {
                    labels.push(plan.name.clone());
                    labels.len() - 1
                }
            };
            indices.push(plans.len());
            plans.push(plan);
        }
        Ok(indices)
    }

    fn captures(&mut self, captures: &Captures) -> Result<Vec<CapturePlan>> {
        let mut out = Vec::with_capacity(captures.len());
        for (name, node) in captures {
            let name = name.value.trim().to_string();
            let slot = self
                .scope
                .captures
                .iter()
                .position(|c| *c == name)
                .unwrap_or(0);
            let source = self.capture_source(&node.value, node)?;
            out.push(CapturePlan { name, slot, source });
        }
        Ok(out)
    }

    fn capture_source(&self, c: &Capture, node: &Spanned<Capture>) -> Result<CaptureSource> {
        let given = [
            c.json.is_some(),
            c.header.is_some(),
            c.regex.is_some(),
            c.status == Some(true),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(self
                .error(&node.referenced, "a capture needs exactly one of `json`, `header`, `regex`, `status`")
                .label("where does the value come from?")
                .with_help("e.g. `token: { json: /token }`, `id: { header: X-Id }`, `n: { regex: 'id=(\\d+)' }`"));
        }
        if let Some(p) = &c.json {
            return Ok(CaptureSource::Json(self.pointer(p)?));
        }
        if let Some(h) = &c.header {
            let name = h.value.trim();
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(self
                    .error(
                        &h.referenced,
                        format!("`{name}` is not a valid header name"),
                    )
                    .label("expected letters, digits and `-`"));
            }
            return Ok(CaptureSource::Header(name.to_ascii_lowercase()));
        }
        if let Some(r) = &c.regex {
            let re = self.regex(r)?;
            let groups = re.captures_len();
            let group = c
                .group
                .map_or(if groups > 1 { 1 } else { 0 }, |g| g as usize);
            if group >= groups {
                return Err(self
                    .error(
                        &r.referenced,
                        format!("the expression has no group {group}"),
                    )
                    .label(format!("it has {} group(s)", groups - 1))
                    .with_help("put the part to capture in parentheses, e.g. `id=(\\d+)`"));
            }
            return Ok(CaptureSource::Regex {
                pattern: r.value.clone(),
                group,
            });
        }
        Ok(CaptureSource::Status)
    }

    fn regex(&self, node: &Spanned<String>) -> Result<regex::Regex> {
        regex::RegexBuilder::new(&node.value)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                self.error(&node.referenced, "not a valid regular expression")
                    .label("expected a regular expression (Rust `regex` syntax)")
                    .with_help(
                        e.to_string()
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                    )
            })
    }

    /// A JSON Pointer as written, or a `$.a.b[0]` JSONPath of names and indices made one.
    fn pointer(&self, node: &Spanned<String>) -> Result<String> {
        let p = node.value.trim();
        if p.is_empty() || p.starts_with('/') {
            return Ok(p.to_string());
        }
        json_path_to_pointer(p).ok_or_else(|| {
            self.error(&node.referenced, format!("`{p}` is not a JSON Pointer"))
                .label("expected e.g. `/items/0/id` (or `$.items[0].id`)")
                .with_help(
                    "JSON Pointer (RFC 6901): `/` then each key or index, `~1` for a `/` in a key",
                )
        })
    }

    fn checks(&mut self, expect: &Expect) -> Result<Vec<CheckPlan>> {
        let mut checks = Vec::new();
        if let Some(text) = &expect.body_contains {
            let text = self.subst(text, "`body_contains`")?;
            checks.push(CheckPlan::BodyContains(text));
        }
        for (pointer, value) in expect.json.iter().flatten() {
            checks.push(CheckPlan::Json {
                pointer: self.pointer(pointer)?,
                value: value.clone(),
            });
        }
        for (name, pattern) in expect.headers.iter().flatten() {
            let n = name.value.trim();
            if http::HeaderName::from_bytes(n.as_bytes()).is_err() {
                return Err(self
                    .error(
                        &name.referenced,
                        format!("`{n}` is not a valid header name"),
                    )
                    .label("expected letters, digits and `-`"));
            }
            self.regex(pattern)?;
            checks.push(CheckPlan::Header {
                name: n.to_ascii_lowercase(),
                pattern: pattern.value.clone(),
            });
        }
        Ok(checks)
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$.a.b[0]` or `$['a'][0]` -> `/a/b/0`; None for anything else (filters, wildcards...).
pub(crate) fn json_path_to_pointer(path: &str) -> Option<String> {
    let mut rest = path.strip_prefix('$')?;
    let mut out = String::new();
    let push = |out: &mut String, key: &str| {
        out.push('/');
        out.push_str(&key.replace('~', "~0").replace('/', "~1"));
    };
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || key == "*" {
                return None;
            }
            push(&mut out, key);
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            let key = if let Some(q) = inner.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')) {
                q
            } else if let Some(q) = inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                q
            } else if inner.parse::<u64>().is_ok() {
                inner
            } else {
                return None;
            };
            push(&mut out, key);
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::json_path_to_pointer as p;

    #[test]
    fn json_path_subset_becomes_a_pointer() {
        assert_eq!(p("$.data.items[0].id").as_deref(), Some("/data/items/0/id"));
        assert_eq!(p("$['a/b'][2]").as_deref(), Some("/a~1b/2"));
        assert_eq!(p("$").as_deref(), Some(""));
        assert_eq!(p("$.items[*].id"), None);
        assert_eq!(p("$..id"), None);
        assert_eq!(p("items.id"), None);
    }
}
