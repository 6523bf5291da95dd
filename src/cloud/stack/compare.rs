//! What differs between a deployed stack and what this loadgate would deploy: parameter values
//! and versions. Pure functions of DescribeStacks' answer.

use aws_sdk_cloudformation::types::{Parameter, Stack};

use crate::cloud::stack::template;
use crate::Result;

pub(crate) fn given((key, value): &(String, String)) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

/// The given parameters whose value differs from the stack's. List values compare item by item,
/// since CloudFormation may give `a,b` back for `a, b`.
pub(crate) fn changed_parameters(stack: &Stack, params: &[(String, String)]) -> Vec<String> {
    let normal = |v: &str| v.split(',').map(str::trim).collect::<Vec<_>>().join(",");
    params
        .iter()
        .filter(|(key, value)| {
            let current = stack
                .parameters()
                .iter()
                .find(|p| p.parameter_key() == Some(key.as_str()))
                .and_then(|p| p.parameter_value());
            current.map(normal) != Some(normal(value))
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// The given parameters, and every other one at the stack's current value: an update must not
/// reset a `--param` that an earlier deploy set. The value is passed explicitly rather than as
/// UsePreviousValue, which moto rejects for parameters that were defaulted at creation; only a
/// NoEcho value (shown masked) needs UsePreviousValue. Parameters new in this template get their
/// defaults.
pub(crate) fn update_parameters(
    stack: &Stack,
    params: &[(String, String)],
) -> Result<Vec<Parameter>> {
    let mut all: Vec<Parameter> = params.iter().map(given).collect();
    for declared in template::declared_parameters()? {
        let name = declared.name.as_str();
        if params.iter().any(|(k, _)| k == name) {
            continue;
        }
        let current = stack
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(name));
        let Some(current) = current else { continue };
        let previous = Parameter::builder().parameter_key(name);
        all.push(match current.parameter_value() {
            Some(value) if value != "****" => previous.parameter_value(value).build(),
            _ => previous.use_previous_value(true).build(),
        });
    }
    Ok(all)
}

/// `a` is a later version than `b` (`major.minor.patch`, a pre-release before its release).
/// Unparsable versions count as older, so a hand-edited tag never blocks updates.
pub(crate) fn is_newer(a: &str, b: &str) -> bool {
    match (parse_version(a), parse_version(b)) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }
}

/// (major, minor, patch, is-release, pre-release): ordered as semver orders them, except that
/// pre-release identifiers compare as text.
fn parse_version(v: &str) -> Option<(u64, u64, u64, bool, String)> {
    let v = v.trim().trim_start_matches('v');
    let v = v.split('+').next().unwrap_or(v);
    let (core, pre) = match v.split_once('-') {
        Some((core, pre)) => (core, pre.to_string()),
        None => (v, String::new()),
    };
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() {
        return None;
    }
    Some((version.0, version.1, version.2, pre.is_empty(), pre))
}
