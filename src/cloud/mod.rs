//! AWS: thin wrappers over the aws-sdk-* clients. Nothing here knows about reports.
//!
//! - `stack/`: the stack loadgate deploys (template, IAM policies, deploy/status/destroy);
//! - `image/`: the worker image, pushed to the stack's ECR repository without Docker;
//! - `run/`: one distributed run's S3 protocol, ECS tasks, SSM secrets and Fargate quota;
//! - `aws` loads the configuration and maps errors, `outputs` reads what the stack exports,
//!   `s3_blobs` keeps history in a bucket.

pub mod aws;
pub mod image;
pub mod outputs;
pub mod record;
pub mod run;
pub mod s3_blobs;
pub mod stack;

use crate::{Error, Result};

/// The stack name when `--stack-name` is not given.
pub const DEFAULT_STACK_NAME: &str = "loadgate";

/// CloudFormation's rule for stack names, checked before the name goes into ARNs, resource names
/// and SSM paths, so that a typo is exit 2 here rather than an AWS error later.
pub fn validate_stack_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    if starts_with_letter && rest_ok && name.len() <= 128 {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid stack name `{name}`: a stack name starts with a letter and has only letters, \
             digits and hyphens (at most 128 characters)"
        )))
    }
}

/// The ECR repository name of a stack: the stack name lowercased, since ECR names must be and
/// CloudFormation cannot lowercase. Runs of hyphens collapse, because ECR forbids `--`.
pub fn repository_name(stack_name: &str) -> String {
    let mut name = String::with_capacity(stack_name.len());
    for c in stack_name.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if c == '-' && (name.is_empty() || name.ends_with('-')) {
            continue;
        }
        name.push(c);
    }
    while name.ends_with('-') {
        name.pop();
    }
    // ECR names have at least two characters.
    if name.len() < 2 {
        name = format!("{DEFAULT_STACK_NAME}-{name}");
        if name.ends_with('-') {
            name.pop();
        }
    }
    name
}

/// The task definition family the controller registers worker task definitions under: one per
/// stack, so the run policy can name it.
pub fn task_family(stack_name: &str) -> String {
    format!("{stack_name}-worker")
}

/// The SSM path under which a run's secrets live (`<path>/<run_id>/...`).
pub fn runs_parameter_path(stack_name: &str) -> String {
    format!("/loadgate/{stack_name}/runs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_follow_cloudformation() {
        for ok in ["loadgate", "L", "load-gate-2", &"a".repeat(128)] {
            assert!(validate_stack_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "2load",
            "-x",
            "load_gate",
            "load gate",
            "lö",
            &"a".repeat(129),
        ] {
            let err = validate_stack_name(bad).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::EXIT_INVALID_INPUT, "{bad}");
        }
    }

    #[test]
    fn repository_names_are_valid_ecr_names() {
        assert_eq!(repository_name("loadgate"), "loadgate");
        assert_eq!(repository_name("LoadGate-Prod"), "loadgate-prod");
        assert_eq!(repository_name("a--b---"), "a-b");
        assert_eq!(repository_name("X"), "loadgate-x");
    }

    #[test]
    fn names_derived_from_the_stack() {
        assert_eq!(task_family("loadgate"), "loadgate-worker");
        assert_eq!(runs_parameter_path("ci"), "/loadgate/ci/runs");
    }
}
