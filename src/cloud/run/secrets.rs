//! A run's secrets (`${VAR}` values of the scenario) on their way to the workers: never in
//! container overrides (DescribeTasks shows them) nor in plaintext S3. The controller replaces
//! each value in plan.json with a placeholder and stores the value as an SSM SecureString under
//! `/loadgate/<stack>/runs/<run_id>/`, which only the task role can read; the worker puts the
//! values back; the controller deletes the parameters when the run ends.

use aws_sdk_ssm::types::ParameterType;
use serde_json::Value;

use crate::cloud::aws;
use crate::plan::Secrets;
use crate::protocol::SecretRef;
use crate::{Error, Result};

/// DeleteParameters takes at most this many names.
const DELETE_MAX: usize = 10;

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
    // Every form, not only the values: a URL holds a secret percent-encoded. `Secrets` keeps the
    // forms longest first, so a secret inside another is replaced whole.
    let refs: Vec<(SecretRef, String)> = secrets
        .forms()
        .iter()
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

fn map_strings(doc: &mut Value, f: &dyn Fn(&str) -> String) {
    match doc {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|v| map_strings(v, f)),
        Value::Object(map) => map.values_mut().for_each(|v| map_strings(v, f)),
        _ => {}
    }
}

/// Stores each value as a SecureString.
pub async fn put(ssm: &aws_sdk_ssm::Client, values: &[(SecretRef, String)]) -> Result<()> {
    for (r, v) in values {
        ssm.put_parameter()
            .name(&r.parameter)
            .value(v)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            // The error names the parameter, never the value.
            .map_err(|e| aws::error(format!("store secret {}", r.parameter), e))?;
    }
    Ok(())
}

/// Reads (and decrypts) the values of `refs`.
pub async fn get(
    ssm: &aws_sdk_ssm::Client,
    refs: &[SecretRef],
) -> Result<Vec<(SecretRef, String)>> {
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        let answer = ssm
            .get_parameter()
            .name(&r.parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| aws::error(format!("read secret {}", r.parameter), e))?;
        let value = answer
            .parameter()
            .and_then(|p| p.value())
            .ok_or_else(|| Error::infra(format!("secret {} has no value", r.parameter), None))?;
        out.push((r.clone(), value.to_string()));
    }
    Ok(out)
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
