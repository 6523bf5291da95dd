//! `${VAR}` substitution from the environment. Every value taken is a secret: it is recorded in
//! [`Secrets`] and never appears in a message (messages quote the text as written instead).

use crate::plan::Secrets;
use crate::secrets::MIN_SECRET_CHARS;

use super::Env;

/// Why a string could not be substituted; `offset` is the byte offset of the `$` in the text.
#[derive(Debug, PartialEq)]
pub(crate) enum VarError {
    /// Unset, or set to the empty string, and no default given.
    Unset {
        name: String,
        empty: bool,
        offset: usize,
    },
    /// Set, but too short to be masked (see [`MIN_SECRET_CHARS`]).
    Short {
        name: String,
        offset: usize,
    },
    BadName {
        offset: usize,
    },
}

/// Replaces each `${NAME}` with the variable's value, and `${NAME:-default}` with the value or,
/// when NAME is unset or empty, with `default` (text of the scenario, so not a secret);
/// `$${` stands for a literal `${`.
pub(crate) fn substitute(
    text: &str,
    env: &dyn Env,
    secrets: &mut Secrets,
) -> Result<String, VarError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let offset = text.len() - tail.len();
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(inner) = tail.strip_prefix("${") {
            let end = inner.find('}').ok_or(VarError::BadName { offset })?;
            let (name, default) = match inner[..end].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&inner[..end], None),
            };
            if !is_var_name(name) {
                return Err(VarError::BadName { offset });
            }
            match (env.var(name).filter(|v| !v.is_empty()), default) {
                (Some(value), _) => {
                    if value.chars().count() < MIN_SECRET_CHARS {
                        return Err(VarError::Short {
                            name: name.to_string(),
                            offset,
                        });
                    }
                    secrets.add(&value);
                    out.push_str(&value);
                }
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(VarError::Unset {
                        name: name.to_string(),
                        empty: env.var(name).is_some(),
                        offset,
                    })
                }
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env() -> HashMap<String, String> {
        HashMap::from([
            ("API_TOKEN".to_string(), "s3cr3t-value".to_string()),
            ("HOST".to_string(), "example.com".to_string()),
        ])
    }

    #[test]
    fn substitutes_and_records_secrets() {
        let mut secrets = Secrets::default();
        let out = substitute("Bearer ${API_TOKEN} @ ${HOST}", &env(), &mut secrets).unwrap();
        assert_eq!(out, "Bearer s3cr3t-value @ example.com");
        assert_eq!(secrets.values().len(), 2);
        assert_eq!(secrets.mask(&out), "Bearer *** @ ***");
    }

    #[test]
    fn double_dollar_is_a_literal() {
        let mut secrets = Secrets::default();
        let out = substitute("cost $5, $${HOST} and $", &env(), &mut secrets).unwrap();
        assert_eq!(out, "cost $5, ${HOST} and $");
        assert!(secrets.is_empty());
    }

    #[test]
    fn unset_and_malformed_references_are_errors() {
        let mut secrets = Secrets::default();
        assert_eq!(
            substitute("x ${NOPE}", &env(), &mut secrets),
            Err(VarError::Unset {
                name: "NOPE".to_string(),
                empty: false,
                offset: 2
            })
        );
        assert_eq!(
            substitute("${1BAD}", &env(), &mut secrets),
            Err(VarError::BadName { offset: 0 })
        );
        assert_eq!(
            substitute("ab ${OPEN", &env(), &mut secrets),
            Err(VarError::BadName { offset: 3 })
        );
    }

    /// Issue 14 item 3: an empty value is an error unless a default is given; a short one is
    /// refused (it could not be masked).
    #[test]
    fn empty_values_need_a_default_and_short_values_are_refused() {
        let mut env = env();
        env.insert("EMPTY".to_string(), String::new());
        env.insert("SHORT".to_string(), "123".to_string());
        let mut secrets = Secrets::default();
        assert_eq!(
            substitute("${EMPTY}", &env, &mut secrets),
            Err(VarError::Unset {
                name: "EMPTY".to_string(),
                empty: true,
                offset: 0
            })
        );
        assert_eq!(
            substitute("a${SHORT}", &env, &mut secrets),
            Err(VarError::Short {
                name: "SHORT".to_string(),
                offset: 1
            })
        );
        let out = substitute("${EMPTY:-x}/${NOPE:-}/${HOST:-other}", &env, &mut secrets).unwrap();
        assert_eq!(out, "x//example.com");
        // The default is the scenario's own text, not a secret; the value taken is.
        assert_eq!(secrets.values(), ["example.com"]);
        assert!(secrets.is_empty() || secrets.mask("x") == "x");
    }
}
