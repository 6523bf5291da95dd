//! The scenario file: model, parsing with positions, validation, JSON Schema.
//!
//! `load`/`parse_str` turn a YAML file into a [`Plan`]: every default applied, every `${VAR}`
//! substituted, every path and URL settled. Any problem is a [`ScenarioError`] that points at
//! the offending node, says what was expected and suggests a fix.

mod data;
mod describe;
mod describe_regions;
mod describe_users;
mod diagnostic;
mod duration;
mod excerpt;
mod model;
mod model_users;
mod regions;
mod requests;
mod resolve;
mod schema;
mod sections;
mod template;
mod templated;
mod users;
mod vars;

#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod hardening_tests;
#[cfg(test)]
mod tests;

use std::path::Path;

pub use describe::{cost_words, describe, wants_cost};
pub use describe_regions::regions_words;
pub use diagnostic::ScenarioError;
pub use schema::json_schema;

use crate::plan::Plan;
use diagnostic::Source;

pub use crate::env::{Env, ProcessEnv};

/// Entry point for the template fuzz target (`fuzz/`). Not an API.
#[doc(hidden)]
pub mod fuzzing {
    use super::template::{parse, Scope};
    use crate::plan::Segment;

    /// Parses `text` as a template in a scope holding a variable, a feed and two captures (one
    /// filled by an earlier request). Panics when an invariant breaks: an error must point at a
    /// `{{` inside the text, on character boundaries, with a message bounded by the text's size;
    /// a text without `{{` is its own template; text segments are never empty nor adjacent.
    pub fn template(text: &str) {
        let mut scope = Scope {
            vars: vec![("env".to_string(), "staging".to_string())],
            feeds: vec![(
                "users".to_string(),
                vec!["email".to_string(), "password".to_string()],
            )],
            captures: vec!["token".to_string(), "later".to_string()],
            available: vec![true, false],
            used_feeds: vec![false],
        };
        match parse(text, &mut scope) {
            Err(e) => {
                let end = e.offset + e.len;
                assert!(
                    end <= text.len(),
                    "error span {}..{end} of {}",
                    e.offset,
                    text.len()
                );
                assert!(text.is_char_boundary(e.offset) && text.is_char_boundary(end));
                assert!(text[e.offset..].starts_with("{{"), "error not at a `{{`");
                assert!(!e.message.is_empty() && !e.help.is_empty());
                assert!(
                    e.message.len() <= text.len() + 200,
                    "message grows past the text"
                );
            }
            Ok(t) => {
                if !text.contains("{{") {
                    assert_eq!(t.as_text().as_deref(), Some(text));
                }
                for pair in t.0.windows(2) {
                    assert!(
                        !matches!(pair, [Segment::Text(_), Segment::Text(_)]),
                        "adjacent text segments"
                    );
                }
                for s in &t.0 {
                    assert!(!matches!(s, Segment::Text(x) if x.is_empty()), "empty text");
                }
            }
        }
    }
}

/// A resolved scenario, and what the user should know about it without it being an error.
#[derive(Debug)]
pub struct Loaded {
    pub plan: Plan,
    pub warnings: Vec<String>,
}

/// Reads and resolves the scenario file at `path`; relative files it names are taken from its
/// directory.
pub fn load(path: &Path, env: &dyn Env) -> Result<Loaded, ScenarioError> {
    let file_name = path.display().to_string();
    let source =
        crate::input::read_text_limited(path, crate::input::MAX_SCENARIO_BYTES).map_err(|err| {
            ScenarioError::without_position(
                &file_name,
                format!("cannot read scenario file `{file_name}`: {err}"),
            )
        })?;
    let base_dir = path.parent().unwrap_or_else(|| Path::new(""));
    parse_str(&source, &file_name, base_dir, env)
}

/// Resolves scenario text. `file_name` is used in messages and as `Plan.source`; `base_dir`
/// is where `body_file` and `tls.ca_file` are looked up.
pub fn parse_str(
    source: &str,
    file_name: &str,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<Loaded, ScenarioError> {
    let src = Source {
        file: file_name,
        text: source,
    };
    if src.is_empty() {
        return Err(
            ScenarioError::without_position(file_name, "the scenario file is empty")
                .with_help("a scenario needs at least `name`, `target`, `load` and `requests`"),
        );
    }
    let scenario: model::Scenario =
        serde_saphyr::from_str(source).map_err(|err| src.yaml_error(&err))?;
    let mut resolver = resolve::Resolver::new(src, base_dir, env);
    match resolver.resolve(scenario) {
        Ok(plan) => Ok(Loaded {
            plan,
            warnings: resolver.warnings,
        }),
        Err(err) => Err(err.masked(&resolver.secrets)),
    }
}
