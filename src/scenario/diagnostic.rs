//! Scenario errors rendered rustc-style: message, `file:line:column`, the source line with a
//! caret under the offending node, what was expected, and a suggestion.

use std::fmt;

use serde_saphyr::{Location, MessageFormatter};

use crate::plan::Secrets;

use super::excerpt::{printable, snippet, Snippet};

/// A problem in a scenario file. `Display` renders the whole diagnostic.
#[derive(Debug, Clone)]
pub struct ScenarioError {
    // Boxed: errors travel up through every resolution step, and `Result` stays small.
    inner: Box<Details>,
}

#[derive(Debug, Clone)]
struct Details {
    file: String,
    line: usize,
    column: usize,
    message: String,
    label: Option<String>,
    help: Option<String>,
    snippet: Option<Snippet>,
}

impl ScenarioError {
    /// An error that has no position in the file (the file cannot be read, say).
    pub(crate) fn without_position(file: &str, message: impl Into<String>) -> Self {
        ScenarioError {
            inner: Box::new(Details {
                file: file.to_string(),
                line: 0,
                column: 0,
                message: message.into(),
                label: None,
                help: None,
                snippet: None,
            }),
        }
    }

    /// The scenario file as it was named.
    pub fn file(&self) -> &str {
        &self.inner.file
    }

    /// 1-based line of the offending node (0 when the error has no position).
    pub fn line(&self) -> usize {
        self.inner.line
    }

    /// 1-based column of the offending node, in characters (0 when the error has no position).
    pub fn column(&self) -> usize {
        self.inner.column
    }

    /// The one-line message, without position or source.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    pub fn help(&self) -> Option<&str> {
        self.inner.help.as_deref()
    }

    /// Text shown after the carets: usually what was expected.
    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.inner.label = Some(label.into());
        self
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.inner.help = Some(help.into());
        self
    }

    pub(crate) fn maybe_help(mut self, help: Option<String>) -> Self {
        self.inner.help = help.or(self.inner.help);
        self
    }

    /// Masks secret values in every part of the message. Messages are written to quote the
    /// scenario as written, so this is a second line of defence, not the first.
    pub(crate) fn masked(mut self, secrets: &Secrets) -> Self {
        if secrets.is_empty() {
            return self;
        }
        self.inner.message = secrets.mask(&self.inner.message);
        self.inner.label = self.inner.label.map(|l| secrets.mask(&l));
        self.inner.help = self.inner.help.map(|h| secrets.mask(&h));
        if let Some(snippet) = &mut self.inner.snippet {
            snippet.text = secrets.mask(&snippet.text);
        }
        self
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", printable(&self.inner.message))?;
        let gutter = if self.inner.line > 0 {
            self.inner.line.to_string().len()
        } else {
            1
        };
        let pad = " ".repeat(gutter);
        if self.inner.line > 0 {
            writeln!(
                f,
                "{pad}--> {}:{}:{}",
                self.inner.file, self.inner.line, self.inner.column
            )?;
        } else {
            writeln!(f, "{pad}--> {}", self.inner.file)?;
        }
        if let Some(snippet) = &self.inner.snippet {
            writeln!(f, "{pad} |")?;
            writeln!(f, "{} | {}", self.inner.line, printable(&snippet.text))?;
            // Keep tabs in the lead-in so the caret lines up however the terminal shows them.
            let lead: String = snippet
                .text
                .chars()
                .take(snippet.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let carets = "^".repeat(snippet.width.max(1));
            match &self.inner.label {
                Some(label) => writeln!(f, "{pad} | {lead}{carets} {}", printable(label))?,
                None => writeln!(f, "{pad} | {lead}{carets}")?,
            }
        } else if let Some(label) = &self.inner.label {
            writeln!(f, "{pad} = note: {}", printable(label))?;
        }
        if let Some(help) = &self.inner.help {
            writeln!(f, "{pad} |")?;
            writeln!(f, "{pad} = help: {}", printable(help))?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

impl From<ScenarioError> for crate::Error {
    fn from(err: ScenarioError) -> Self {
        crate::Error::Input(err.to_string().trim_end().to_string())
    }
}

/// A position in the source: 1-based line and column (characters) and the node's length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
    pub len: usize,
}

impl Pos {
    pub fn of(location: &Location) -> Pos {
        Pos {
            line: location.line() as usize,
            column: location.column() as usize,
            len: location.span().len() as usize,
        }
    }

    pub fn shifted(self, chars: usize, len: usize) -> Pos {
        Pos {
            line: self.line,
            column: self.column + chars,
            len,
        }
    }
}

/// The scenario text with its name: makes positioned errors.
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn line_text(&self, line: usize) -> Option<&str> {
        line.checked_sub(1)
            .and_then(|i| self.text.lines().nth(i))
            .map(|l| l.trim_end_matches('\r'))
    }

    /// The character at a position, to tell a quoted scalar from a plain one.
    pub fn char_at(&self, pos: Pos) -> Option<char> {
        self.line_text(pos.line)?
            .chars()
            .nth(pos.column.checked_sub(1)?)
    }

    pub fn error(&self, pos: Pos, message: impl Into<String>) -> ScenarioError {
        let mut err = ScenarioError::without_position(self.file, message);
        if pos.line == 0 {
            return err;
        }
        err.inner.line = pos.line;
        err.inner.column = pos.column.max(1);
        if let Some(text) = self.line_text(pos.line) {
            err.inner.snippet = Some(snippet(text, err.inner.column, pos.len));
        }
        err
    }

    /// Position of a top-level key such as `load:`, for errors about a whole section.
    pub fn top_level_key(&self, key: &str) -> Option<Pos> {
        self.text.lines().enumerate().find_map(|(i, line)| {
            let rest = line.strip_prefix(key)?;
            rest.trim_start().starts_with(':').then_some(Pos {
                line: i + 1,
                column: 1,
                len: key.chars().count(),
            })
        })
    }

    /// Position of the first thing in the file that is not a comment, blank or a marker.
    fn first_content(&self) -> Option<Pos> {
        self.text.lines().enumerate().find_map(|(i, line)| {
            let trimmed = line.trim();
            let skip = trimmed.is_empty()
                || trimmed.starts_with('#')
                || trimmed.starts_with("---")
                || trimmed.starts_with('%');
            (!skip).then(|| Pos {
                line: i + 1,
                column: line.len() - line.trim_start().len() + 1,
                len: trimmed.chars().count(),
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.first_content().is_none()
    }

    /// Turns a YAML or structure error from the parser into a diagnostic in our words.
    pub fn yaml_error(&self, err: &serde_saphyr::Error) -> ScenarioError {
        use serde_saphyr::Error as E;
        let pos = err.location().map(|l| Pos::of(&l)).unwrap_or(Pos {
            line: 0,
            column: 0,
            len: 0,
        });
        match err.without_snippet() {
            E::SerdeUnknownField {
                field, expected, ..
            } => {
                let keys = expected
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let help = nearest(field, expected.iter().copied())
                    .map(|k| format!("did you mean `{k}`?"))
                    .or_else(|| home_of(field).map(|home| format!("`{field}` belongs {home}")));
                self.error(
                    pos,
                    format!("unknown key `{field}` in {}", section_of(expected)),
                )
                .label(format!("expected one of {keys}"))
                .maybe_help(help)
            }
            E::SerdeMissingField { field, .. } => {
                // The parser points at the last key it read; for the scenario's own keys the
                // start of the file says "this mapping" better.
                let at = match *field {
                    "name" | "load" | "requests" => self.first_content().unwrap_or(pos),
                    _ => pos,
                };
                let at = Pos {
                    len: self.key_len(at).unwrap_or(at.len),
                    ..at
                };
                self.error(at, format!("missing key `{field}`"))
                    .label(format!("`{field}` is required"))
                    .maybe_help(missing_help(field))
            }
            E::SerdeInvalidType {
                unexpected,
                expected,
                ..
            }
            | E::SerdeInvalidValue {
                unexpected,
                expected,
                ..
            } => self
                .error(
                    pos,
                    format!("expected {}, found {}", human(expected), found(unexpected)),
                )
                .label(format!("expected {}", human(expected))),
            E::InvalidScalar { ty, .. } => {
                let found = self.token(pos);
                self.error(pos, format!("expected {}, found `{found}`", human(ty)))
                    .label(format!("expected {}", human(ty)))
            }
            E::Unexpected { .. } if self.is_document_start(pos) => self
                .error(pos, "a scenario file must be a mapping of keys")
                .label("expected `name:`, `target:`, `load:`, `requests:` ...")
                .with_help(
                    "the top level is `key: value` lines, starting with e.g. `name: my-api`",
                ),
            E::Unexpected { expected, .. } => {
                let err = self
                    .error(pos, format!("expected {}", human(expected)))
                    .label(format!("expected {}", human(expected)));
                if expected.contains("sequence") {
                    err.with_help(
                        "list items start with `- ` on their own lines, or write `[a, b]`",
                    )
                } else {
                    err
                }
            }
            E::DuplicateMappingKey { key, .. } => {
                let key = key.as_deref().unwrap_or("?");
                self.error(pos, format!("duplicate key `{key}`"))
                    .label("already given above")
                    .with_help("each key may appear once per mapping; remove one of them")
            }
            E::ExternalMessage { msg, .. } => {
                let help = if msg.contains("flow") {
                    "a `{` or `[` opened on this line or above is not closed, or an entry lacks its `,`"
                } else if msg.contains("quoted") {
                    "a quoted string opened on this line or above is not closed"
                } else {
                    "YAML nests by indentation: keys of one mapping start in the same column, \
                     and a nested mapping is indented further than its key (spaces, not tabs)"
                };
                self.error(pos, format!("invalid YAML: {msg}"))
                    .with_help(help)
            }
            E::Eof { .. } => self
                .error(pos, "the scenario file ended unexpectedly")
                .with_help("a value or a closing bracket is missing"),
            // The library's own words name its API ("use from_str_multiple", "use
            // Option<String>") or dump a struct.
            E::NullIntoString { .. } => self
                .error(pos, "expected a value, found nothing (null)")
                .label("expected text here")
                .with_help("give a value, or remove the key"),
            E::MultipleDocuments { .. } => self
                .error(pos, "the scenario file holds more than one YAML document")
                .label("a second document starts here")
                .with_help("a scenario is one document: remove the `---` line, or keep each scenario in a file of its own"),
            E::Budget { .. }
            | E::AliasReplayCounterOverflow { .. }
            | E::AliasReplayLimitExceeded { .. }
            | E::AliasExpansionLimitExceeded { .. }
            | E::AliasReplayStackDepthExceeded { .. } => self
                .error(
                    pos,
                    "the scenario file is too large or too deeply nested to read (aliases, anchors, nesting or size beyond what a scenario needs)",
                )
                .with_help("write the values out instead of repeating them through many `*alias` references, and keep nesting shallow"),
            other => {
                let message = serde_saphyr::DefaultMessageFormatter.format_message(other);
                self.error(pos, message.into_owned())
            }
        }
    }

    /// Length of a `key:` starting at `pos`, if there is one.
    fn key_len(&self, pos: Pos) -> Option<usize> {
        let line = self.line_text(pos.line)?;
        let rest: String = line.chars().skip(pos.column.checked_sub(1)?).collect();
        let key = rest.split(':').next()?.trim_end();
        (!key.is_empty() && key.len() < rest.len()).then(|| key.chars().count())
    }

    fn is_document_start(&self, pos: Pos) -> bool {
        self.first_content()
            .is_some_and(|first| first.line == pos.line && first.column == pos.column)
    }

    /// The source text of a scalar node, for "found `...`".
    fn token(&self, pos: Pos) -> String {
        self.line_text(pos.line)
            .map(|l| {
                l.chars()
                    .skip(pos.column.saturating_sub(1))
                    .take(pos.len.max(1))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The closest candidate to a misspelt word, if any is close enough to be a likely typo.
pub(crate) fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&word, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Names the mapping an unknown key was found in, from the keys it allows.
fn section_of(expected: &[&str]) -> &'static str {
    let has = |k: &str| expected.contains(&k);
    if has("requests") {
        "the scenario"
    } else if has("concurrency") {
        "`load`"
    } else if has("timeout") {
        "`defaults`"
    } else if has("ca_file") {
        "`tls`"
    } else if has("body_file") {
        "a request"
    } else if has("status") {
        "`expect`"
    } else if has("expr") {
        "a threshold"
    } else if has("cpu") {
        "`fargate`"
    } else {
        "this mapping"
    }
}

/// Where a key that is valid somewhere else in the file belongs.
fn home_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "timeout" => "under `defaults`",
        "concurrency" | "rate" | "ramp_up" | "hold_for" | "think_time" | "max_in_flight" => {
            "under `load`"
        }
        "path" | "url" | "method" | "body" | "body_file" | "expect" | "headers" => {
            "to a request, under `requests`"
        }
        "ca_file" | "insecure" => "under `tls`",
        "cpu" | "memory" | "spot" | "min_workers" | "max_cost_usd" => "under `fargate`",
        "status" => "under a request's `expect`",
        "expr" | "abort" | "after" => "to a threshold mapping, under `thresholds`",
        _ => return None,
    })
}

fn missing_help(field: &str) -> Option<String> {
    let help = match field {
        "name" => "add `name: my-api`: it names the run in reports, history and the PR comment",
        "load" => "add a `load:` section, e.g. `load: { concurrency: 10, hold_for: 1m }`",
        "requests" => "add `requests:` with at least one request, e.g. `requests: [{ path: / }]`",
        "expr" => "a threshold mapping needs `expr`, e.g. `{ expr: \"p99 < 2s\", abort: true }`",
        _ => return None,
    };
    Some(help.to_string())
}

/// serde's description of what was found, in a user's words.
fn found(unexpected: &str) -> String {
    match unexpected {
        "sequence" => "a list".to_string(),
        "map" => "a mapping".to_string(),
        "unit value" | "unit" | "null" => "nothing".to_string(),
        other => other.to_string(),
    }
}

/// serde's and the parser's type names in a user's words.
fn human(expected: &str) -> String {
    let e = expected.trim_start_matches("a ").trim_start_matches("an ");
    match e {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "integer" => {
            "a whole number".to_string()
        }
        "f32" | "f64" => "a number".to_string(),
        "bool" | "boolean" => "`true` or `false`".to_string(),
        "sequence" | "seq" | "sequence start" => "a list".to_string(),
        "map" | "mapping" | "mapping start" => "a mapping (`key: value`)".to_string(),
        "string" | "string scalar" => "a string".to_string(),
        _ if e.starts_with("struct ") => "a mapping (`key: value`)".to_string(),
        _ => expected.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_only() {
        let keys = ["name", "target", "load", "requests"];
        assert_eq!(nearest("lod", keys), Some("load"));
        assert_eq!(nearest("reqests", keys), Some("requests"));
        assert_eq!(nearest("Target", keys), Some("target"));
        assert_eq!(nearest("completely-else", keys), None);
    }

    #[test]
    fn renders_with_caret_under_the_node() {
        let source = Source {
            file: "s.yaml",
            text: "name: x\nlod:\n",
        };
        let pos = Pos {
            line: 2,
            column: 1,
            len: 3,
        };
        let rendered = source
            .error(pos, "unknown key `lod`")
            .label("expected `load`")
            .with_help("did you mean `load`?")
            .to_string();
        assert_eq!(
            rendered,
            "error: unknown key `lod`\n --> s.yaml:2:1\n  |\n2 | lod:\n  | ^^^ expected `load`\n  |\n  = help: did you mean `load`?\n"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let source = Source {
            file: "s.yaml",
            text: "name: x\nlo\u{1b}[31md: 1\n",
        };
        let pos = Pos {
            line: 2,
            column: 1,
            len: 8,
        };
        let rendered = source.error(pos, "unknown key `lo\u{1b}[31md`").to_string();
        assert!(!rendered.contains('\u{1b}'), "{rendered}");
        assert!(rendered.contains("lo\u{fffd}[31md: 1"), "{rendered}");
    }

    #[test]
    fn errors_convert_to_input_errors() {
        let err: crate::Error = ScenarioError::without_position("a.yaml", "boom").into();
        assert_eq!(err.exit_code(), crate::error::EXIT_INVALID_INPUT);
        assert!(err.to_string().contains("a.yaml"));
    }
}
