//! What a deployed stack gives the controller: the template's outputs, parsed once. The stack code
//! produces it (`stack::ensure`); the Fargate executor, the image push and the S3 history consume it.

use super::aws::{self, Aws};
use crate::{Error, Result};

/// The stack's outputs (templates/stack.yaml, `Outputs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackOutputs {
    pub stack_name: String,
    pub cluster_name: String,
    pub cluster_arn: String,
    pub subnet_ids: Vec<String>,
    /// The stack made the subnets itself: they are public, so tasks need `assignPublicIp`.
    pub public_subnets: bool,
    pub security_group_id: String,
    pub bucket: String,
    pub log_group: String,
    pub repository_name: String,
    pub repository_uri: String,
    pub task_role_arn: String,
    pub execution_role_arn: String,
}

impl StackOutputs {
    /// Parses CloudFormation's `(OutputKey, OutputValue)` pairs. A missing output means the stack
    /// was made by another template (or by hand): exit 3 saying which output is missing.
    pub fn from_pairs<'a>(
        stack_name: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<StackOutputs> {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        let get = |key: &str| -> Result<String> {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
                .ok_or_else(|| {
                    Error::infra(
                        format!("stack {stack_name} has no output {key}"),
                        format!(
                            "the stack was not made by this version of loadgate's template: run \
                             `loadgate stack deploy --stack-name {stack_name}` to update it"
                        ),
                    )
                })
        };
        Ok(StackOutputs {
            stack_name: stack_name.to_string(),
            cluster_name: get("ClusterName")?,
            cluster_arn: get("ClusterArn")?,
            subnet_ids: get("SubnetIds")?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            public_subnets: get("PublicSubnets")? == "true",
            security_group_id: get("SecurityGroupId")?,
            bucket: get("BucketName")?,
            log_group: get("LogGroupName")?,
            repository_name: get("RepositoryName")?,
            repository_uri: get("RepositoryUri")?,
            task_role_arn: get("TaskRoleArn")?,
            execution_role_arn: get("ExecutionRoleArn")?,
        })
    }
}

/// The outputs of a stack that must already exist, with one DescribeStacks: for the commands that
/// use a stack but never create or update it (`runs`, `stop`, `image push`, the report upload);
/// a run uses `stack::ensure`.
pub async fn describe(aws: &Aws, stack_name: &str) -> Result<StackOutputs> {
    crate::cloud::validate_stack_name(stack_name)?;
    let answer = aws
        .cloudformation()
        .describe_stacks()
        .stack_name(stack_name)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) if aws::error_message(&e).is_some_and(|m| m.contains("does not exist")) => {
            return Err(Error::infra(
                format!("stack {stack_name} does not exist in {}", aws.region()),
                format!("deploy it with `loadgate stack deploy --stack-name {stack_name}`"),
            ))
        }
        Err(e) => return Err(aws::error(format!("describe stack {stack_name}"), e)),
    };
    let stack = answer.stacks().first().ok_or_else(|| {
        Error::infra(
            format!("stack {stack_name} does not exist in {}", aws.region()),
            format!("deploy it with `loadgate stack deploy --stack-name {stack_name}`"),
        )
    })?;
    let pairs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?, o.output_value()?)));
    StackOutputs::from_pairs(stack_name, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIRS: [(&str, &str); 12] = [
        ("ClusterName", "lg"),
        ("ClusterArn", "arn:aws:ecs:us-east-1:1:cluster/lg"),
        ("SubnetIds", "subnet-1, subnet-2"),
        ("PublicSubnets", "true"),
        ("SecurityGroupId", "sg-1"),
        ("BucketName", "b"),
        ("LogGroupName", "/loadgate/lg"),
        ("RepositoryName", "lg"),
        ("RepositoryUri", "1.dkr.ecr.us-east-1.amazonaws.com/lg"),
        ("TaskRoleArn", "arn:task"),
        ("ExecutionRoleArn", "arn:exec"),
        ("TemplateVersion", "1"),
    ];

    #[test]
    fn parses_every_output() {
        let out = StackOutputs::from_pairs("lg", PAIRS).expect("outputs");
        assert_eq!(out.subnet_ids, ["subnet-1", "subnet-2"]);
        assert!(out.public_subnets);
        assert_eq!(out.bucket, "b");
        assert_eq!(out.execution_role_arn, "arn:exec");
    }

    #[test]
    fn a_missing_output_says_how_to_fix_it() {
        let pairs = PAIRS.iter().copied().filter(|(k, _)| *k != "BucketName");
        let err = StackOutputs::from_pairs("lg", pairs).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_INFRASTRUCTURE);
        assert!(err.to_string().contains("BucketName"), "{err}");
        assert!(err.help().unwrap_or("").contains("stack deploy"));
    }
}
