//! `{{ ... }}` templates in paths, URLs, header values and bodies: parsed here, once, into a
//! [`Template`] of text and values. Only the scenario's own text is parsed: what feeds, captures
//! and `${VAR}` secrets hold is inserted later as data, never read as syntax.
//!
//! Inside `{{ }}`: a `variables:` name, `feed.column`, a captured name, `user`, `iteration`,
//! `uuid()`, `now_ms()`, `random_int(a, b)`, `random_choice(["a", "b"])`, or a string literal
//! (`{{ "{{" }}` is a literal `{{`).

use crate::plan::{Expr, Segment, Template};

/// The names a template may use at one point of the scenario.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    /// `variables:` constants.
    pub vars: Vec<(String, String)>,
    /// Feed names and their columns.
    pub feeds: Vec<(String, Vec<String>)>,
    /// Every capture name of the scenario (slot = index).
    pub captures: Vec<String>,
    /// Capture slots some earlier request of the same sequence (or the setup) fills.
    pub available: Vec<bool>,
    /// Feeds a template used, by index (for the engine: which rows an iteration takes).
    pub used_feeds: Vec<bool>,
}

const BUILTINS: [&str; 6] = [
    "user",
    "iteration",
    "uuid()",
    "now_ms()",
    "random_int(a, b)",
    "random_choice([...])",
];

/// Why a template does not compile: `offset`/`len` locate the `{{ ... }}` in the text.
#[derive(Debug)]
pub(crate) struct TemplateError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub help: String,
}

/// Whether `text` holds template syntax at all.
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{")
}

/// The placeholder the Fargate path writes for a secret in plan.json: never a template.
const SECRET_PLACEHOLDER: &str = "{{loadgate-secret-";

pub(crate) fn parse(text: &str, scope: &mut Scope) -> Result<Template, TemplateError> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut rest = text;
    let push_text = |segments: &mut Vec<Segment>, t: &str| {
        if t.is_empty() {
            return;
        }
        if let Some(Segment::Text(last)) = segments.last_mut() {
            last.push_str(t);
        } else {
            segments.push(Segment::Text(t.to_string()));
        }
    };
    while let Some(open) = rest.find("{{") {
        let offset = text.len() - rest.len() + open;
        push_text(&mut segments, &rest[..open]);
        let inner_start = &rest[open + 2..];
        let Some(close) = inner_start.find("}}") else {
            return Err(TemplateError {
                offset,
                len: 2,
                message: "`{{` is not closed by `}}`".to_string(),
                help: "a template is `{{ name }}`; write `{{ \"{{\" }}` for a literal `{{`"
                    .to_string(),
            });
        };
        let inner = &inner_start[..close];
        let len = close + 4;
        let fail = |message: String, help: String| TemplateError {
            offset,
            len,
            message,
            help,
        };
        if rest[open..].starts_with(SECRET_PLACEHOLDER) {
            return Err(fail(
                "`{{loadgate-secret-...}}` is reserved for loadgate's own use".to_string(),
                "use `${VAR}` for a secret from the environment".to_string(),
            ));
        }
        match expr(inner.trim(), scope) {
            Ok(Item::Text(t)) => push_text(&mut segments, &t),
            Ok(Item::Value(e)) => segments.push(Segment::Value(e)),
            Err((message, help)) => return Err(fail(message, help)),
        }
        rest = &inner_start[close + 2..];
    }
    push_text(&mut segments, rest);
    Ok(Template(segments))
}

enum Item {
    Text(String),
    Value(Expr),
}

type ExprError = (String, String);

fn expr(e: &str, scope: &mut Scope) -> Result<Item, ExprError> {
    if e.is_empty() {
        return Err((
            "an empty `{{ }}`".to_string(),
            "name a value, e.g. `{{ user }}`".to_string(),
        ));
    }
    if let Some(s) = string_literal(e) {
        return Ok(Item::Text(s));
    }
    if let Some(open) = e.find('(') {
        let name = e[..open].trim();
        let Some(args) = e[open + 1..].trim_end().strip_suffix(')') else {
            return Err((format!("`{e}` is missing its `)`"), call_help()));
        };
        let args = args.trim();
        return match name {
            "uuid" | "now_ms" if !args.is_empty() => Err((
                format!("`{name}()` takes no arguments"),
                format!("write `{name}()`"),
            )),
            "uuid" => Ok(Item::Value(Expr::Uuid)),
            "now_ms" => Ok(Item::Value(Expr::NowMs)),
            "random_int" => {
                let parts: Vec<&str> = args.split(',').map(str::trim).collect();
                let nums: Vec<i64> = parts.iter().filter_map(|p| p.parse().ok()).collect();
                match nums[..] {
                    [a, b] if parts.len() == 2 && a <= b => Ok(Item::Value(Expr::RandomInt(a, b))),
                    _ => Err((
                        format!(
                            "`random_int({args})` needs two whole numbers, the first not larger"
                        ),
                        "e.g. `{{ random_int(1, 100) }}` (both ends included)".to_string(),
                    )),
                }
            }
            "random_choice" => {
                let list = args
                    .strip_prefix('[')
                    .and_then(|a| a.strip_suffix(']'))
                    .unwrap_or(args);
                let items: Option<Vec<String>> = if list.trim().is_empty() {
                    None
                } else {
                    list.split(',').map(|i| string_literal(i.trim())).collect()
                };
                match items {
                    Some(items) if !items.is_empty() => Ok(Item::Value(Expr::RandomChoice(items))),
                    _ => Err((
                        "`random_choice` needs a list of quoted strings".to_string(),
                        "e.g. `{{ random_choice([\"red\", \"green\"]) }}`".to_string(),
                    )),
                }
            }
            _ => Err((format!("unknown function `{name}()`"), call_help())),
        };
    }
    if let Some((feed, column)) = e.split_once('.') {
        let (feed, column) = (feed.trim(), column.trim());
        let Some(index) = scope.feeds.iter().position(|(n, _)| n == feed) else {
            let names: Vec<&str> = scope.feeds.iter().map(|(n, _)| n.as_str()).collect();
            return Err((
                format!("`{feed}` is not a data feed"),
                if names.is_empty() {
                    "declare it under `data:` (e.g. `data: { users: { file: users.csv } }`)"
                        .to_string()
                } else {
                    format!("feeds: {}", names.join(", "))
                },
            ));
        };
        let columns = &scope.feeds[index].1;
        let Some(col) = columns.iter().position(|c| c == column) else {
            return Err((
                format!("feed `{feed}` has no column `{column}`"),
                format!("its header names: {}", columns.join(", ")),
            ));
        };
        scope.used_feeds[index] = true;
        return Ok(Item::Value(Expr::Column {
            feed: index,
            column: col,
        }));
    }
    if !is_name(e) {
        return Err((
            format!("`{e}` is not a name, a column or a function call"),
            format!(
                "inside `{{{{ }}}}` write a variable, `feed.column`, a captured name or one of {}; `{{{{ \"{{{{\" }}}}` is a literal `{{{{`",
                BUILTINS.join(", ")
            ),
        ));
    }
    match e {
        "user" => return Ok(Item::Value(Expr::User)),
        "iteration" => return Ok(Item::Value(Expr::Iteration)),
        _ => {}
    }
    if let Some((_, v)) = scope.vars.iter().find(|(n, _)| n == e) {
        return Ok(Item::Text(v.clone()));
    }
    if let Some(slot) = scope.captures.iter().position(|c| c == e) {
        if scope.available.get(slot).copied().unwrap_or(false) {
            return Ok(Item::Value(Expr::Capture(slot)));
        }
        return Err((
            format!("`{e}` is captured, but by no earlier request of this sequence"),
            "a value can be used after the request that captures it, in the same flow or in `setup`".to_string(),
        ));
    }
    if scope.feeds.iter().any(|(n, _)| n == e) {
        return Err((
            format!("`{e}` is a data feed: name one of its columns"),
            format!(
                "e.g. `{{{{ {e}.{} }}}}`",
                scope
                    .feeds
                    .iter()
                    .find(|(n, _)| n == e)
                    .and_then(|(_, c)| c.first())
                    .map_or("column", String::as_str)
            ),
        ));
    }
    let mut known: Vec<&str> = scope.vars.iter().map(|(n, _)| n.as_str()).collect();
    known.extend(scope.captures.iter().map(String::as_str));
    known.extend(["user", "iteration"]);
    let help = match super::diagnostic::nearest(e, known.iter().copied()) {
        Some(n) => format!("did you mean `{n}`?"),
        None => format!(
            "define it under `variables:`, capture it in an earlier request, or use one of {}",
            BUILTINS.join(", ")
        ),
    };
    Err((format!("`{e}` is not defined"), help))
}

fn call_help() -> String {
    format!("functions: {}", BUILTINS[2..].join(", "))
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `"text"` or `'text'` (no escapes inside): its text.
fn string_literal(s: &str) -> Option<String> {
    let quote = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = s.strip_prefix(quote)?.strip_suffix(quote)?;
    (!inner.contains(quote)).then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            vars: vec![("tenant".to_string(), "acme".to_string())],
            feeds: vec![(
                "users".to_string(),
                vec!["email".to_string(), "password".to_string()],
            )],
            captures: vec!["token".to_string(), "order".to_string()],
            available: vec![true, false],
            used_feeds: vec![false],
        }
    }

    #[test]
    fn compiles_text_values_and_constants() {
        let mut s = scope();
        let t = parse(
            "/t/{{ tenant }}/u/{{users.email}}?k={{ token }}&n={{ random_int(1, 3) }}",
            &mut s,
        )
        .unwrap();
        assert_eq!(
            t.0,
            vec![
                Segment::Text("/t/acme/u/".to_string()),
                Segment::Value(Expr::Column { feed: 0, column: 0 }),
                Segment::Text("?k=".to_string()),
                Segment::Value(Expr::Capture(0)),
                Segment::Text("&n=".to_string()),
                Segment::Value(Expr::RandomInt(1, 3)),
            ]
        );
        assert!(s.used_feeds[0]);
    }

    #[test]
    fn escape_and_choices() {
        let mut s = scope();
        let t = parse(
            r#"{"a": "{{ "{{" }}x}}", "c": "{{ random_choice(['r', "g"]) }}"}"#,
            &mut s,
        )
        .unwrap();
        assert_eq!(
            t.0[0],
            Segment::Text(r#"{"a": "{{x}}", "c": ""#.to_string())
        );
        assert_eq!(
            t.0[1],
            Segment::Value(Expr::RandomChoice(vec!["r".to_string(), "g".to_string()]))
        );
        assert_eq!(parse("plain", &mut s).unwrap().as_text().unwrap(), "plain");
    }

    #[test]
    fn errors_say_what_and_where() {
        let mut s = scope();
        let cases = [
            ("/x/{{ nope }}", 3, "`nope` is not defined"),
            ("/x/{{ order }}", 3, "by no earlier request"),
            ("{{ users.phone }}", 0, "no column `phone`"),
            ("{{ carts.id }}", 0, "not a data feed"),
            ("ab {{ user", 3, "not closed"),
            ("{{ random_int(5, 1) }}", 0, "two whole numbers"),
            ("{{ users }}", 0, "is a data feed"),
            ("{{loadgate-secret-0}}", 0, "reserved"),
            ("{{ a + b }}", 0, "not a name"),
        ];
        for (text, offset, message) in cases {
            let e = parse(text, &mut s).unwrap_err();
            assert_eq!(e.offset, offset, "{text}");
            assert!(e.message.contains(message), "{text}: {}", e.message);
        }
        let e = parse("{{ tenent }}", &mut s).unwrap_err();
        assert!(e.help.contains("`tenant`"), "{}", e.help);
    }
}

#[cfg(test)]
mod secret_tests {
    use std::collections::HashMap;
    use std::path::Path;

    use crate::cloud::run::secrets;
    use crate::plan::{Plan, Segment};

    /// A `${VAR}` secret inside a templated header: its value (which here looks like template
    /// syntax) is literal text of the compiled template, and survives the Fargate path's
    /// placeholders both ways without ever being parsed.
    #[test]
    fn a_secret_in_a_template_is_data_and_survives_the_placeholders() {
        let env = HashMap::from([("TOKEN".to_string(), "{{ user }}-s3cret".to_string())]);
        let yaml = "name: x\ntarget: http://h\nload: { concurrency: 1, hold_for: 1s }\n\
                    requests: [{ path: /a, headers: { Authorization: \"Bearer ${TOKEN} {{ user }}\" } }]\n";
        let plan = super::super::parse_str(yaml, "s.yaml", Path::new(""), &env)
            .unwrap()
            .plan;
        let header = &plan.requests[0].dynamic.as_ref().unwrap().headers[0].1;
        assert_eq!(
            header.0[0],
            Segment::Text("Bearer {{ user }}-s3cret ".to_string())
        );
        let mut doc = serde_json::to_value(&plan).unwrap();
        let refs = secrets::externalise(&mut doc, &plan.secrets, "/p/");
        assert!(!doc.to_string().contains("s3cret"));
        secrets::internalise(&mut doc, &refs);
        let back: Plan = serde_json::from_value(doc).unwrap();
        assert_eq!(
            &back.requests[0].dynamic.as_ref().unwrap().headers[0].1,
            header
        );
    }
}
