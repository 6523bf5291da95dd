//! The IAM policies `loadgate stack policy` prints: one to deploy the stack, one for everyday runs.
//!
//! The template leaves roles, cluster and bucket unnamed (IAM and S3 names are global), so
//! CloudFormation names them `<stack>-<LogicalId>-<random suffix>`; the policies match those names
//! with a wildcard rather than asking AWS, so they can be printed before the stack exists.

use serde::Serialize;
use serde_json::{json, Value};

use crate::cloud::{repository_name, runs_parameter_path, task_family, validate_stack_name};
use crate::{Error, Result};

const VERSION: &str = "2012-10-17";

/// An IAM policy document. Typed rather than a `serde_json::Value` so that it prints in the order
/// people read policies in (Version first, Sid first), which a JSON map would sort away.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

/// One `Allow` statement; these policies never need a `Deny`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: &'static str,
    pub effect: &'static str,
    pub action: Vec<String>,
    pub resource: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

fn allow<R: Into<String>>(
    sid: &'static str,
    actions: &[&str],
    resources: impl IntoIterator<Item = R>,
) -> Statement {
    Statement {
        sid,
        effect: "Allow",
        action: actions.iter().map(|a| a.to_string()).collect(),
        resource: resources.into_iter().map(Into::into).collect(),
        condition: None,
    }
}

impl Statement {
    fn when(mut self, condition: Value) -> Statement {
        self.condition = Some(condition);
        self
    }
}

fn passed_to_ecs_tasks() -> Value {
    json!({ "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } })
}

/// Where the policies apply. `*` stands for a region or account not given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub stack_name: String,
    pub region: String,
    pub account: String,
}

impl Scope {
    /// Checks the parts that go into ARNs, so a typo cannot print a policy that matches nothing.
    pub fn new(stack_name: &str, region: Option<&str>, account: Option<&str>) -> Result<Scope> {
        validate_stack_name(stack_name)?;
        let region = region.unwrap_or("*");
        let valid_region = region == "*"
            || (region.starts_with(|c: char| c.is_ascii_lowercase())
                && region.contains('-')
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        if !valid_region {
            return Err(Error::input(format!(
                "invalid region `{region}`: expected a region code such as eu-west-1"
            )));
        }
        let account = account.unwrap_or("*");
        if account != "*" && !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) {
            return Err(Error::input(format!(
                "invalid account `{account}`: an AWS account id is 12 digits"
            )));
        }
        Ok(Scope {
            stack_name: stack_name.to_string(),
            region: region.to_string(),
            account: account.to_string(),
        })
    }

    /// The partition follows the region; with no region, the commercial one.
    fn partition(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition(),
            self.region,
            self.account
        )
    }

    /// IAM and S3 ARNs carry no region (S3 no account either).
    fn role_arn(&self, logical_id: &str) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            self.partition(),
            self.account,
            generated_name(&self.stack_name, logical_id, 64)
        )
    }

    fn bucket_arn(&self) -> String {
        // CloudFormation lowercases generated bucket names.
        let stack = self.stack_name.to_ascii_lowercase();
        format!(
            "arn:{}:s3:::{}",
            self.partition(),
            generated_name(&stack, "bucket", 63)
        )
    }

    fn stack_arn(&self) -> String {
        self.arn("cloudformation", &format!("stack/{}/*", self.stack_name))
    }

    fn cluster_name(&self) -> String {
        generated_name(&self.stack_name, "Cluster", 255)
    }

    fn cluster_arn(&self) -> String {
        self.arn("ecs", &format!("cluster/{}", self.cluster_name()))
    }

    fn repository_arn(&self) -> String {
        self.arn(
            "ecr",
            &format!("repository/{}", repository_name(&self.stack_name)),
        )
    }

    /// The log group and, through `:*`, its streams.
    fn log_group_arns(&self) -> [String; 2] {
        let group = self.arn("logs", &format!("log-group:/loadgate/{}", self.stack_name));
        [group.clone(), format!("{group}:*")]
    }

    fn runs_parameters_arn(&self) -> String {
        self.arn(
            "ssm",
            &format!("parameter{}/*", runs_parameter_path(&self.stack_name)),
        )
    }

    fn worker_roles(&self) -> [String; 2] {
        [self.role_arn("ExecutionRole"), self.role_arn("TaskRole")]
    }
}

/// The name pattern of a resource CloudFormation names itself: `<stack>-<LogicalId>-<suffix>`.
/// Past the service's length limit CloudFormation shortens the stack and logical id parts, so the
/// pattern then keeps only the stack name's first 16 characters, which it always keeps.
fn generated_name(stack: &str, logical_id: &str, max_len: usize) -> String {
    // The suffix is a hyphen and 12 or 13 random characters.
    const SUFFIX: usize = 14;
    if stack.len() + 1 + logical_id.len() + SUFFIX <= max_len {
        format!("{stack}-{logical_id}-*")
    } else {
        let prefix: String = stack.chars().take(16).collect();
        format!("{prefix}*")
    }
}

/// ListTasks of the stack's cluster. IAM authorises ListTasks on the container-instance resource
/// type, with the cluster only as the `ecs:cluster` condition key (Service Authorization
/// Reference, Amazon ECS): a statement naming the cluster's ARN as its resource never applies.
fn list_workers(scope: &Scope) -> Statement {
    allow("ListWorkers", &["ecs:ListTasks"], ["*"])
        .when(json!({ "ArnLike": { "ecs:cluster": scope.cluster_arn() } }))
}

/// What the one-time deployment needs: create, update and delete the stack, and everything the
/// template creates — including IAM roles and their inline policies (nothing in the template
/// passes a role to a service: the controller does, with the run policy).
///
/// This is a powerful policy: whoever holds it can write IAM policies on roles named after the
/// stack. Grant it to the person or job that deploys the stack (`loadgate stack deploy`), not to
/// every CI run; everyday runs need only [`run_policy`].
pub fn deploy_policy(scope: &Scope) -> Policy {
    let mut network = allow(
        "Network",
        &[
            "ec2:AssociateRouteTable",
            "ec2:AttachInternetGateway",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:CreateInternetGateway",
            "ec2:CreateRoute",
            "ec2:CreateRouteTable",
            "ec2:CreateSecurityGroup",
            "ec2:CreateSubnet",
            "ec2:CreateTags",
            "ec2:CreateVpc",
            "ec2:DeleteInternetGateway",
            "ec2:DeleteRoute",
            "ec2:DeleteRouteTable",
            "ec2:DeleteSecurityGroup",
            "ec2:DeleteSubnet",
            "ec2:DeleteTags",
            "ec2:DeleteVpc",
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeInstances",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeNetworkAcls",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeRouteTables",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcAttribute",
            "ec2:DescribeVpcs",
            "ec2:DetachInternetGateway",
            "ec2:DisassociateRouteTable",
            "ec2:ModifySubnetAttribute",
            "ec2:ModifyVpcAttribute",
            "ec2:ReplaceRoute",
            "ec2:ReplaceRouteTableAssociation",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
        ],
        // EC2 creation calls have no ARN to name before the VPC exists.
        ["*"],
    );
    if scope.region != "*" {
        network = network.when(json!({ "StringEquals": { "aws:RequestedRegion": scope.region } }));
    }
    let bucket = scope.bucket_arn();
    let statement = vec![
        allow(
            "Stack",
            &[
                "cloudformation:CreateStack",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStacks",
                "cloudformation:TagResource",
                "cloudformation:UntagResource",
                "cloudformation:UpdateStack",
            ],
            [scope.stack_arn()],
        ),
        network,
        allow(
            "Cluster",
            &[
                "ecs:CreateCluster",
                "ecs:DeleteCluster",
                "ecs:DescribeClusters",
                "ecs:ListTagsForResource",
                "ecs:PutClusterCapacityProviders",
                "ecs:TagResource",
                "ecs:UntagResource",
                "ecs:UpdateCluster",
                "ecs:UpdateClusterSettings",
            ],
            [scope.cluster_arn()],
        ),
        // `stack deploy` waits for running tasks before an update: the run policy's statement.
        list_workers(scope),
        // A first cluster in an account creates ECS's service-linked role.
        allow(
            "EcsServiceLinkedRole",
            &["iam:CreateServiceLinkedRole"],
            [format!(
                "arn:{}:iam::{}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
                scope.partition(),
                scope.account
            )],
        )
        .when(json!({ "StringEquals": { "iam:AWSServiceName": "ecs.amazonaws.com" } })),
        allow(
            "Repository",
            &[
                "ecr:BatchDeleteImage",
                "ecr:CreateRepository",
                "ecr:DeleteLifecyclePolicy",
                "ecr:DeleteRepository",
                "ecr:DeleteRepositoryPolicy",
                "ecr:DescribeRepositories",
                "ecr:GetLifecyclePolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:ListImages",
                "ecr:ListTagsForResource",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:PutLifecyclePolicy",
                "ecr:SetRepositoryPolicy",
                "ecr:TagResource",
                "ecr:UntagResource",
            ],
            [scope.repository_arn()],
        ),
        allow(
            "Bucket",
            &[
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:DeleteBucketPolicy",
                // The resource's read handler reads every configuration a bucket can have.
                "s3:GetAccelerateConfiguration",
                "s3:GetAnalyticsConfiguration",
                "s3:GetBucket*",
                "s3:GetEncryptionConfiguration",
                "s3:GetIntelligentTieringConfiguration",
                "s3:GetInventoryConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:GetMetricsConfiguration",
                "s3:GetReplicationConfiguration",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:ListTagsForResource",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketTagging",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:TagResource",
                "s3:UntagResource",
            ],
            [bucket.clone()],
        ),
        // `loadgate stack destroy` empties the bucket: CloudFormation cannot delete it otherwise.
        allow(
            "EmptyBucket",
            &["s3:DeleteObject", "s3:DeleteObjectVersion"],
            [format!("{bucket}/*")],
        ),
        allow(
            "LogGroup",
            &[
                "logs:CreateLogGroup",
                "logs:DeleteDataProtectionPolicy",
                "logs:DeleteLogGroup",
                "logs:DeleteRetentionPolicy",
                "logs:GetDataProtectionPolicy",
                "logs:ListTagsForResource",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            scope.log_group_arns(),
        ),
        // Account-level reads of the log group resource's handlers: IAM authorises them on no
        // resource type, so only `*` applies.
        allow(
            "DescribeLogGroups",
            &[
                "logs:DescribeIndexPolicies",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
            ],
            ["*"],
        ),
        allow(
            "WorkerRoles",
            &[
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
            ],
            scope.worker_roles(),
        ),
    ];
    Policy {
        version: VERSION,
        statement,
    }
}

/// The narrow policy of everyday runs (`loadgate run --executor fargate`): find the stack, push
/// the worker image, register the worker task definition, start, watch and stop workers, exchange
/// the run's files and secrets. It cannot change the stack or any role.
pub fn run_policy(scope: &Scope) -> Policy {
    let cluster = scope.cluster_arn();
    let tasks = scope.arn("ecs", &format!("task/{}/*", scope.cluster_name()));
    let task_definitions = scope.arn(
        "ecs",
        &format!("task-definition/{}:*", task_family(&scope.stack_name)),
    );
    let on_cluster = json!({ "ArnLike": { "ecs:cluster": cluster } });
    let bucket = scope.bucket_arn();
    let statement = vec![
        allow(
            "Stack",
            &["cloudformation:DescribeStacks"],
            [scope.stack_arn()],
        ),
        // DescribeTaskDefinition has no resource type. The Service Authorization Reference gives
        // RegisterTaskDefinition one (task-definition), which could narrow it to the family:
        // left at `*` until the real-AWS check (scripts/aws-e2e.sh) has shown it works.
        allow(
            "TaskDefinitions",
            &["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
            ["*"],
        ),
        allow("StartWorkers", &["ecs:RunTask"], [task_definitions.clone()]).when(on_cluster),
        allow(
            "WatchWorkers",
            &["ecs:DescribeTasks", "ecs:StopTask"],
            [tasks.clone()],
        ),
        list_workers(scope),
        // The Fargate vCPU quotas, checked before launching (without it the run proceeds with a note).
        allow(
            "FargateQuota",
            &["servicequotas:GetServiceQuota"],
            [scope.arn("servicequotas", "fargate/*")],
        ),
        // Tags given to RunTask and RegisterTaskDefinition (which run a task belongs to).
        allow(
            "TagWorkers",
            &["ecs:TagResource"],
            [tasks, task_definitions],
        )
        .when(json!({
            "StringEquals": { "ecs:CreateAction": ["RegisterTaskDefinition", "RunTask"] }
        })),
        allow("PassWorkerRoles", &["iam:PassRole"], scope.worker_roles())
            .when(passed_to_ecs_tasks()),
        allow(
            "RunAndHistoryFiles",
            &["s3:GetObject", "s3:PutObject"],
            [format!("{bucket}/*")],
        ),
        allow("ListFiles", &["s3:ListBucket"], [bucket]),
        allow("RegistryLogin", &["ecr:GetAuthorizationToken"], ["*"]),
        allow(
            "PushWorkerImage",
            &[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:DescribeImages",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            [scope.repository_arn()],
        ),
        // SecureStrings use the account's aws/ssm key, whose key policy already lets the account
        // use it through SSM: no KMS statement needed.
        allow(
            "RunSecrets",
            &["ssm:DeleteParameters", "ssm:PutParameter"],
            [scope.runs_parameters_arn()],
        ),
    ];
    Policy {
        version: VERSION,
        statement,
    }
}

/// A policy as printed: pretty JSON and a final newline.
pub fn render(policy: &Policy) -> String {
    // Serialising plain strings and JSON values cannot fail; an empty string would show if it did.
    let mut text = serde_json::to_string_pretty(policy).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
