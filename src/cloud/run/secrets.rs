//! A run's secrets (`${VAR}` values of the scenario) on their way to the workers: never in
//! container overrides (DescribeTasks shows them) nor in plaintext S3. The controller replaces
//! each value in plan.json with a placeholder and stores the value as an SSM SecureString under
//! `/loadgate/<stack>/runs/<run_id>/`, which only the task role can read; the worker puts the
//! values back; the controller deletes the parameters when the run ends.

use std::time::{Duration, Instant};

use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use serde_json::Value;

use crate::cloud::aws;
use crate::plan::Secrets;
use crate::protocol::SecretRef;
use crate::{Error, Result};

/// DeleteParameters and GetParameters take at most this many names.
const DELETE_MAX: usize = 10;
const GET_MAX: usize = 10;

/// The longest value of a Standard-tier parameter, and of an Advanced-tier one, in characters
/// ("Standard tier parameters support a maximum parameter value of 4096 characters"; Advanced:
/// 8 KB. AWS Systems Manager User Guide, "Managing parameter tiers").
pub const STANDARD_MAX: usize = 4096;
pub const ADVANCED_MAX: usize = 8192;

/// Whether one secret goes into the Advanced tier (billed per parameter, prorated hourly).
fn advanced(value: &str) -> bool {
    value.chars().count() > STANDARD_MAX
}

/// Refuses, before anything is launched, a secret SSM cannot hold (exit 2, naming the variable,
/// never the value); returns the variables whose values need the Advanced tier. `env` gives the
/// variables the values came from (`${VAR}` values are taken whole from the environment).
pub fn check_sizes(
    secrets: &Secrets,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>> {
    let env: Vec<(String, String)> = env.into_iter().collect();
    let names = |value: &str| {
        let mut names: Vec<&str> = env
            .iter()
            .filter(|(_, v)| v == value)
            .map(|(k, _)| k.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            "a ${VAR} value".to_string()
        } else {
            names.join(", ")
        }
    };
    let mut advanced_vars = Vec::new();
    for value in secrets.values() {
        let chars = value.chars().count();
        if chars > ADVANCED_MAX {
            return Err(Error::input(format!(
                "the value of {} has {chars} characters: an SSM parameter holds at most \
                 {ADVANCED_MAX}, so it cannot reach the Fargate workers; pass a shorter value \
                 (a token rather than a file's contents)",
                names(value)
            )));
        }
        if advanced(value) {
            advanced_vars.push(names(value));
        }
    }
    Ok(advanced_vars)
}

/// The SSM path of one run's secrets (ends with `/`).
pub fn run_path(stack_name: &str, run_id: &str) -> String {
    format!(
        "{}/{run_id}/",
        crate::cloud::runs_parameter_path(stack_name)
    )
}

/// Replaces every secret value in `doc` by a placeholder; returns the references and the values
/// they stand for (`values[i]` belongs to `refs[i]`).
pub fn externalise(doc: &mut Value, secrets: &Secrets, path: &str) -> Vec<(SecretRef, String)> {
    // Every form that is there, not only the values: a URL holds a secret percent-encoded.
    // `Secrets` keeps the forms longest first, so a secret inside another is replaced whole.
    let refs: Vec<(SecretRef, String)> = secrets
        .forms()
        .iter()
        .filter(|form| any_string(doc, &|s| s.contains(form.as_str())))
        .enumerate()
        .map(|(i, v)| {
            let r = SecretRef {
                placeholder: format!("{{{{loadgate-secret-{i}}}}}"),
                parameter: format!("{path}secret-{i}"),
            };
            (r, v.clone())
        })
        .collect();
    map_strings(doc, &|s| {
        let mut out = s.to_string();
        for (r, v) in &refs {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), &r.placeholder);
            }
        }
        out
    });
    refs
}

/// Puts the values back in place of their placeholders.
pub fn internalise(doc: &mut Value, values: &[(SecretRef, String)]) {
    map_strings(doc, &|s| {
        let mut out = s.to_string();
        for (r, v) in values {
            if out.contains(r.placeholder.as_str()) {
                out = out.replace(r.placeholder.as_str(), v);
            }
        }
        out
    });
}

fn any_string(doc: &Value, f: &dyn Fn(&str) -> bool) -> bool {
    match doc {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().any(|v| any_string(v, f)),
        Value::Object(map) => map.values().any(|v| any_string(v, f)),
        _ => false,
    }
}

fn map_strings(doc: &mut Value, f: &dyn Fn(&str) -> String) {
    match doc {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|v| map_strings(v, f)),
        Value::Object(map) => map.values_mut().for_each(|v| map_strings(v, f)),
        _ => {}
    }
}

/// Stores each value as a SecureString: in the Standard tier up to [`STANDARD_MAX`] characters,
/// in the (billed) Advanced tier up to [`ADVANCED_MAX`] ([`check_sizes`] refused longer ones).
pub async fn put(ssm: &aws_sdk_ssm::Client, values: &[(SecretRef, String)]) -> Result<()> {
    for (r, v) in values {
        let tier = if advanced(v) {
            ParameterTier::Advanced
        } else {
            ParameterTier::Standard
        };
        ssm.put_parameter()
            .name(&r.parameter)
            .value(v)
            .r#type(ParameterType::SecureString)
            .tier(tier)
            .overwrite(true)
            .send()
            .await
            // The error names the parameter, never the value.
            .map_err(|e| aws::error(format!("store secret {}", r.parameter), e))?;
    }
    Ok(())
}

/// Reads (and decrypts) the values of `refs`, ten names a GetParameters call. Every worker of a
/// run reads at the same moment, and Parameter Store's default throughput (40 transactions a
/// second per account and region, shared by GetParameter and GetParameters) throttles a large
/// run: throttled calls are retried with full-jitter exponential backoff until `until` (the
/// barrier's deadline), not for a fixed number of attempts.
pub async fn get(
    ssm: &aws_sdk_ssm::Client,
    refs: &[SecretRef],
    until: Instant,
) -> Result<Vec<(SecretRef, String)>> {
    let mut out = Vec::with_capacity(refs.len());
    for chunk in refs.chunks(GET_MAX) {
        let names: Vec<String> = chunk.iter().map(|r| r.parameter.clone()).collect();
        let mut attempt = 0u32;
        let answer = loop {
            let sent = ssm
                .get_parameters()
                .set_names(Some(names.clone()))
                .with_decryption(true)
                .send()
                .await;
            match sent {
                Ok(answer) => break answer,
                Err(e) if throttled(&e) => {
                    let pause = full_jitter(attempt);
                    if Instant::now() + pause >= until {
                        return Err(aws::error(
                            format!("read secrets {} before the run's start", names.join(", ")),
                            e,
                        ));
                    }
                    attempt += 1;
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(aws::error(format!("read secrets {}", names.join(", ")), e)),
            }
        };
        if !answer.invalid_parameters().is_empty() {
            return Err(Error::infra(
                format!(
                    "secret(s) {} do not exist",
                    answer.invalid_parameters().join(", ")
                ),
                "the controller deletes a run's secrets when it ends: was this worker started \
                 for a run that is over?"
                    .to_string(),
            ));
        }
        for r in chunk {
            let value = answer
                .parameters()
                .iter()
                .find(|p| p.name() == Some(r.parameter.as_str()))
                .and_then(|p| p.value())
                .ok_or_else(|| {
                    Error::infra(format!("secret {} has no value", r.parameter), None)
                })?;
            out.push((r.clone(), value.to_string()));
        }
    }
    Ok(out)
}

/// Throttling, as SSM and the SDK name it.
fn throttled<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    aws::error_code(e).is_some_and(|c| c.contains("Throttl") || c == "TooManyRequestsException")
}

/// "Full jitter": a pause drawn uniformly from zero to an exponentially growing cap, so that
/// workers throttled together do not retry together (AWS Architecture Blog, "Exponential Backoff
/// And Jitter").
fn full_jitter(attempt: u32) -> Duration {
    const BASE_MS: u64 = 100;
    const CAP_MS: u64 = 5_000;
    let cap = (BASE_MS << attempt.min(10)).min(CAP_MS);
    Duration::from_millis(fastrand::u64(0..=cap))
}

/// Deletes the run's parameters (best effort per batch; returns what could not be deleted).
pub async fn delete(ssm: &aws_sdk_ssm::Client, refs: &[SecretRef]) -> Vec<String> {
    let mut left = Vec::new();
    for chunk in refs.chunks(DELETE_MAX) {
        let names: Vec<String> = chunk.iter().map(|r| r.parameter.clone()).collect();
        if let Err(e) = ssm
            .delete_parameters()
            .set_names(Some(names.clone()))
            .send()
            .await
        {
            left.push(format!(
                "{}: {}",
                names.join(", "),
                aws::error("delete secrets", e)
            ));
        }
    }
    left
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod throttling_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_leave_the_document_and_come_back() {
        let mut secrets = Secrets::default();
        secrets.add("tok-123");
        secrets.add("tok-123-long");
        secrets.add("a \"tok\" b");
        let original = serde_json::json!({
            "requests": [{"headers": [["authorization", "Bearer tok-123-long"]],
                          "url": "http://x/?k=tok-123", "body": null},
                         {"url": "http://x/a%20%22tok%22%20b/", "body": "{\"k\": \"a \\\"tok\\\" b\"}"}],
            "n": 3
        });
        let mut doc = original.clone();
        let refs = externalise(&mut doc, &secrets, &run_path("ci", "r1"));
        let text = doc.to_string();
        assert!(!text.contains("tok"), "{text}");
        assert!(refs.len() >= 3);
        assert!(refs
            .iter()
            .all(|(r, _)| r.parameter.starts_with("/loadgate/ci/runs/r1/")));
        internalise(&mut doc, &refs);
        assert_eq!(doc, original);
    }
}
