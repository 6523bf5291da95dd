//! Requests: method, URL (target + path, or absolute url), merged headers, body, expected status.

use serde_saphyr::Spanned;
use url::Url;

use crate::plan::{DynamicPlan, RequestPlan, Template};

use super::diagnostic::{nearest, Pos};
use super::model::{Headers, Request};
use super::resolve::{Resolver, Result};
use super::template::is_template;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl Resolver<'_> {
    pub(super) fn request(
        &mut self,
        node: &Spanned<Request>,
        target: Option<&Url>,
        defaults: Option<&Headers>,
    ) -> Result<RequestPlan> {
        let request = &node.value;
        let mut dynamic = DynamicPlan::default();
        let method = match &request.method {
            Some(m) => self.method(m)?,
            None => "GET".to_string(),
        };
        let (url, written) =
            match (&request.path, &request.url) {
                (Some(_), Some(url)) => {
                    return Err(self
                        .error(&url.referenced, "a request has both `path` and `url`")
                        .label("remove `url` or `path`")
                        .with_help(
                            "`path` joins `target`; `url` is a whole URL on its own. Keep one.",
                        ))
                }
                (None, None) => return Err(self
                    .error(&node.referenced, "a request needs `path` or `url`")
                    .label("this request has neither")
                    .with_help(
                        "e.g. `path: /orders` (joined to `target`) or `url: https://host/orders`",
                    )),
                (Some(path), None) if is_template(&path.value) => (
                    self.templated_path(path, target, &mut dynamic)?,
                    path.value.trim(),
                ),
                (Some(path), None) => (self.path_url(path, target)?, path.value.trim()),
                (None, Some(url)) if is_template(&url.value) => {
                    (self.templated_url(url, &mut dynamic)?, url.value.trim())
                }
                (None, Some(url)) => {
                    let text = self.subst(url, "`url`")?;
                    (self.http_url(&text, url, "url")?, url.value.trim())
                }
            };
        // The default name is built from the text as written, so a `${VAR}` in the path never
        // puts its value into labels, reports or history.
        let name = match &request.name {
            Some(n) if n.value.trim().is_empty() => {
                return Err(self
                    .error(&n.referenced, "a request's `name` is empty")
                    .label("expected a label for reports and thresholds")
                    .with_help(format!(
                        "remove `name` to use the default `{method} {written}`"
                    )))
            }
            Some(n) => n.value.trim().to_string(),
            None => format!("{method} {written}"),
        };
        let mut headers = Vec::new();
        for list in [defaults, request.headers.as_ref()].into_iter().flatten() {
            headers = self.headers(list, headers, &mut dynamic.headers)?;
        }
        let body =
            match (&request.body, &request.body_file) {
                (Some(_), Some(file)) => return Err(self
                    .error(
                        &file.referenced,
                        "a request has both `body` and `body_file`",
                    )
                    .label("remove `body_file` or `body`")
                    .with_help(
                        "`body` is the text itself; `body_file` names a file holding it. Keep one.",
                    )),
                (Some(body), None) if is_template(&body.value) => {
                    dynamic.body = Some(self.template(&body.value, body, "`body`", false)?);
                    None
                }
                (Some(body), None) => Some(self.subst(body, "`body`")?),
                (None, Some(file)) => {
                    let text = self.read_file(file, "body_file")?;
                    if is_template(&text) {
                        let what = format!("body_file `{}`", file.value.trim());
                        dynamic.body = Some(self.template(&text, file, &what, true)?);
                        return self.finish(name, method, url, headers, None, request, dynamic);
                    }
                    let what = format!("body_file `{}`", file.value.trim());
                    Some(self.subst_text(&text, file, &what)?)
                }
                (None, None) => None,
            };
        self.finish(name, method, url, headers, body, request, dynamic)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        name: String,
        method: String,
        url: Url,
        headers: Vec<(String, String)>,
        body: Option<String>,
        request: &Request,
        dynamic: DynamicPlan,
    ) -> Result<RequestPlan> {
        let expect_status = match request.expect.as_ref().and_then(|e| e.status.as_ref()) {
            Some(status) => self.statuses(status)?,
            None => Vec::new(),
        };
        let templated =
            dynamic.target.is_some() || !dynamic.headers.is_empty() || dynamic.body.is_some();
        Ok(RequestPlan {
            name,
            label: 0,
            method,
            url: url.to_string(),
            headers,
            body,
            expect_status,
            dynamic: templated.then(|| Box::new(dynamic)),
        })
    }

    fn method(&self, node: &Spanned<String>) -> Result<String> {
        let method = node.value.trim().to_ascii_uppercase();
        if METHODS.contains(&method.as_str()) {
            return Ok(method);
        }
        let help = nearest(&method, METHODS).map(|m| format!("did you mean `{m}`?"));
        Err(self
            .error(
                &node.referenced,
                format!("unknown HTTP method `{}`", node.value.trim()),
            )
            .label(format!("expected one of {}", METHODS.join(", ")))
            .maybe_help(help))
    }

    fn path_url(&mut self, node: &Spanned<String>, target: Option<&Url>) -> Result<Url> {
        let Some(target) = target else {
            return Err(self
                .error(&node.referenced, "`path` needs a `target` to join")
                .label("relative to what?")
                .with_help("add `target: https://host` at the top, or give this request an absolute `url:`"));
        };
        let path = self.subst(node, "`path`")?;
        if !path.starts_with('/') {
            let raw = node.value.trim();
            let help = if raw.contains("://") {
                "for a whole URL, write `url:` instead of `path:`".to_string()
            } else {
                format!("did you mean `/{raw}`?")
            };
            return Err(self
                .error(&node.referenced, "`path` must start with `/`")
                .label("expected a path such as `/orders`")
                .with_help(help));
        }
        // Keep the target's own path as a prefix: `https://h/api` + `/orders` is `/api/orders`.
        let joined = format!("{}{path}", target.as_str().trim_end_matches('/'));
        Url::parse(&joined).map_err(|e| {
            self.error(
                &node.referenced,
                format!("`path` does not make a valid URL: {e}"),
            )
            .label("expected a path such as `/orders`")
        })
    }

    /// Adds `own` headers over `base`; names compare case-insensitively and `own` wins. Values
    /// with `{{` go to `templated` (same rule).
    pub(super) fn headers(
        &mut self,
        own: &Headers,
        mut base: Vec<(String, String)>,
        templated: &mut Vec<(String, Template)>,
    ) -> Result<Vec<(String, String)>> {
        for (name_node, value_node) in own {
            let name = name_node.value.trim();
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(self
                    .error(
                        &name_node.referenced,
                        format!("`{name}` is not a valid header name"),
                    )
                    .label("expected letters, digits and `-`, e.g. `Content-Type`"));
            }
            let what = format!("header `{name}`");
            templated.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            if is_template(&value_node.value) {
                base.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                let t = self.template(&value_node.value, value_node, &what, false)?;
                templated.push((name.to_string(), t));
                continue;
            }
            let value = self.subst(value_node, &what)?;
            if http::HeaderValue::from_str(&value).is_err() {
                // Never quote the value: it may hold a substituted secret.
                return Err(self
                    .error(
                        &value_node.referenced,
                        format!("the value of header `{name}` is not a valid header value"),
                    )
                    .label("line breaks, control characters and non-ASCII text are not allowed"));
            }
            match base.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some(slot) => *slot = (name.to_string(), value),
                None => base.push((name.to_string(), value)),
            }
        }
        Ok(base)
    }

    fn statuses(&self, node: &Spanned<super::model::StatusCodes>) -> Result<Vec<u16>> {
        if node.value.0.is_empty() {
            return Err(self
                .error(&node.referenced, "`expect.status` is an empty list")
                .label("expected at least one status code")
                .with_help("remove `expect` to accept any status below 400"));
        }
        let mut codes = Vec::with_capacity(node.value.0.len());
        for &code in &node.value.0 {
            let Some(code) = u16::try_from(code).ok().filter(|c| (100..=599).contains(c)) else {
                let at = Pos::of(&node.referenced);
                let at = self.find_on_line(at, &code.to_string()).unwrap_or(at);
                return Err(self
                    .src
                    .error(at, format!("{code} is not an HTTP status code"))
                    .label("expected codes from 100 to 599")
                    .with_help("e.g. `expect: { status: [200, 201] }`"));
            };
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        Ok(codes)
    }
}
