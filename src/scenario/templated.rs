//! Templated paths, URLs and texts of a request: compiled with the names in scope, `${VAR}`
//! substituted in their literal text only, errors pointed at the `{{ ... }}` at fault.

use serde_saphyr::Spanned;
use url::Url;

use crate::plan::{DynamicPlan, Expr, Segment, Template};

use super::diagnostic::Pos;
use super::resolve::{Resolver, Result};
use super::template;
use super::vars::substitute;

impl Resolver<'_> {
    /// Compiles `text` (the node's value, or a file's contents when `in_file`).
    pub(super) fn template(
        &mut self,
        text: &str,
        node: &Spanned<String>,
        what: &str,
        in_file: bool,
    ) -> Result<Template> {
        let mut t = match template::parse(text, &mut self.scope) {
            Ok(t) => t,
            Err(e) => {
                let snippet = text[e.offset..(e.offset + e.len).min(text.len())]
                    .lines()
                    .next()
                    .unwrap_or("{{");
                let at = Pos::of(&node.referenced);
                let (pos, message) = if in_file {
                    let line = text[..e.offset].matches('\n').count() + 1;
                    (at, format!("{} (in {what}, line {line})", e.message))
                } else {
                    (
                        self.find_on_line(at, snippet).unwrap_or(at),
                        format!("{} (in {what})", e.message),
                    )
                };
                return Err(self
                    .src
                    .error(pos, message)
                    .label("this template")
                    .with_help(e.help));
            }
        };
        for segment in &mut t.0 {
            if let Segment::Text(s) = segment {
                match substitute(s, self.env, &mut self.secrets) {
                    Ok(v) => *s = v,
                    Err(_) => {
                        // Report it as the plain substitution would, at the node.
                        self.subst_text(text, node, what)?;
                    }
                }
            }
        }
        Ok(t)
    }

    /// `path: /orders/{{ id }}`: the target's own path is a prefix, the origin the target's.
    pub(super) fn templated_path(
        &mut self,
        node: &Spanned<String>,
        target: Option<&Url>,
        dynamic: &mut DynamicPlan,
    ) -> Result<Url> {
        let Some(target) = target else {
            return Err(self
                .error(&node.referenced, "`path` needs a `target` to join")
                .label("relative to what?")
                .with_help("add `target: https://host` at the top, or give this request an absolute `url:`"));
        };
        let raw = node.value.trim();
        if !raw.starts_with('/') {
            return Err(self
                .error(&node.referenced, "`path` must start with `/`")
                .label("expected a path such as `/orders/{{ id }}`"));
        }
        let mut t = self.template(raw, node, "`path`", false)?;
        let prefix = target.path().trim_end_matches('/').to_string();
        t.0.insert(0, Segment::Text(prefix));
        let origin = target.origin().ascii_serialization();
        self.sample_url(&origin, &t, node, dynamic)
    }

    /// `url: https://host/orders/{{ id }}`: scheme, host and port are fixed text.
    pub(super) fn templated_url(
        &mut self,
        node: &Spanned<String>,
        dynamic: &mut DynamicPlan,
    ) -> Result<Url> {
        let raw = node.value.trim();
        let after_scheme = raw.find("://").map_or(0, |i| i + 3);
        let end = raw[after_scheme..]
            .find(['/', '?'])
            .map_or(raw.len(), |i| i + after_scheme);
        let (origin, rest) = raw.split_at(end);
        if template::is_template(origin) {
            return Err(self
                .error(&node.referenced, "the scheme, host and port of a `url` cannot be templated")
                .label("templates belong in the path, query, headers and body")
                .with_help("connections are kept per origin (scheme, host, port), so each request's origin is fixed; template the path instead"));
        }
        let origin_node = Spanned {
            value: origin.to_string(),
            referenced: node.referenced,
            defined: node.defined,
        };
        let origin_text = self.subst(&origin_node, "`url`")?;
        let base = self.http_url(&format!("{origin_text}/"), node, "url")?;
        let rest = if rest.starts_with('/') {
            rest.to_string()
        } else {
            format!("/{rest}")
        };
        let t = self.template(&rest, node, "`url`", false)?;
        let origin = base.origin().ascii_serialization();
        self.sample_url(&origin, &t, node, dynamic)
    }

    /// Checks that the template makes a URL (values taken as `1`), and keeps it.
    fn sample_url(
        &self,
        origin: &str,
        t: &Template,
        node: &Spanned<String>,
        dynamic: &mut DynamicPlan,
    ) -> Result<Url> {
        let sample: String =
            t.0.iter()
                .map(|s| match s {
                    Segment::Text(x) => x.as_str(),
                    Segment::Value(Expr::RandomChoice(c)) => c.first().map_or("1", String::as_str),
                    Segment::Value(_) => "1",
                })
                .collect();
        let url = Url::parse(&format!("{origin}{sample}")).map_err(|e| {
            self.error(
                &node.referenced,
                format!("this does not make a valid URL: {e}"),
            )
            .label("expected a path such as `/orders/{{ id }}`")
        })?;
        dynamic.target = Some(t.clone());
        Ok(url)
    }
}
