use super::*;
use crate::cloud::stack::template::TEMPLATE;
use crate::error::EXIT_INVALID_INPUT;

fn default_scope() -> Scope {
    Scope::new("loadgate", None, None).expect("valid scope")
}

fn actions(policy: &Policy) -> Vec<String> {
    policy
        .statement
        .iter()
        .flat_map(|s| s.action.clone())
        .collect()
}

#[test]
fn deploy_policy_snapshot() {
    insta::assert_json_snapshot!(deploy_policy(&default_scope()));
}

#[test]
fn run_policy_snapshot() {
    insta::assert_json_snapshot!(run_policy(&default_scope()));
}

#[test]
fn run_policy_scoped_to_a_region_and_account() {
    let scope = Scope::new("Perf", Some("eu-west-1"), Some("123456789012")).expect("valid");
    insta::assert_json_snapshot!(run_policy(&scope));
}

#[test]
fn run_policy_cannot_change_the_stack_or_any_role() {
    let actions = actions(&run_policy(&default_scope()));
    for action in &actions {
        let forbidden = action.starts_with("iam:") && action != "iam:PassRole"
            || action.starts_with("cloudformation:") && action != "cloudformation:DescribeStacks"
            || action.starts_with("ec2:")
            || action.contains('*');
        assert!(!forbidden, "run policy allows {action}");
    }
    for needed in [
        "ecs:RunTask",
        "ecs:DescribeTasks",
        "ecs:StopTask",
        "ecs:ListTasks",
        "ecs:TagResource",
        "ecs:RegisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ssm:PutParameter",
        "ssm:DeleteParameters",
        "ecr:PutImage",
        "s3:PutObject",
    ] {
        assert!(
            actions.iter().any(|a| a == needed),
            "run policy lacks {needed}"
        );
    }
}

#[test]
fn pass_role_names_only_the_two_worker_roles_and_only_for_ecs_tasks() {
    let scope = Scope::new("ci", Some("us-east-1"), Some("123456789012")).expect("valid");
    // The deployment passes no role (CloudFormation creates them; the run registers the task
    // definition that names them).
    assert!(!actions(&deploy_policy(&scope)).contains(&"iam:PassRole".to_string()));
    {
        let policy = run_policy(&scope);
        let pass: Vec<&Statement> = policy
            .statement
            .iter()
            .filter(|s| s.action.iter().any(|a| a == "iam:PassRole"))
            .collect();
        assert_eq!(pass.len(), 1);
        assert_eq!(pass[0].action, ["iam:PassRole"]);
        assert_eq!(
            pass[0].resource,
            [
                "arn:aws:iam::123456789012:role/ci-ExecutionRole-*",
                "arn:aws:iam::123456789012:role/ci-TaskRole-*",
            ]
        );
        let condition = pass[0].condition.as_ref().expect("a condition");
        assert_eq!(
            condition["StringEquals"]["iam:PassedToService"],
            "ecs-tasks.amazonaws.com"
        );
    }
}

#[test]
fn deploy_policy_can_create_what_the_template_declares() {
    let actions = actions(&deploy_policy(&default_scope()));
    for needed in [
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "ec2:CreateVpc",
        "ec2:CreateSubnet",
        "ec2:CreateRoute",
        "ec2:AuthorizeSecurityGroupEgress",
        "ecs:CreateCluster",
        "ecr:CreateRepository",
        "ecr:PutLifecyclePolicy",
        "s3:CreateBucket",
        "s3:PutBucketPolicy",
        "s3:PutLifecycleConfiguration",
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
    ] {
        assert!(
            actions.iter().any(|a| a == needed),
            "deploy policy lacks {needed}"
        );
    }
}

#[test]
fn statement_ids_are_unique_and_every_statement_allows() {
    for policy in [
        deploy_policy(&default_scope()),
        run_policy(&default_scope()),
    ] {
        assert_eq!(policy.version, "2012-10-17");
        let mut sids: Vec<&str> = policy.statement.iter().map(|s| s.sid).collect();
        let count = sids.len();
        sids.sort_unstable();
        sids.dedup();
        assert_eq!(sids.len(), count, "duplicate Sid");
        for s in &policy.statement {
            assert_eq!(s.effect, "Allow");
            assert!(!s.action.is_empty() && !s.resource.is_empty(), "{}", s.sid);
        }
    }
}

#[test]
fn policies_fit_a_managed_policy_even_for_the_longest_stack_name() {
    // A customer managed policy holds at most 6,144 characters, whitespace not counted.
    let scope = Scope::new(
        &"L".repeat(128),
        Some("ap-southeast-2"),
        Some("123456789012"),
    )
    .expect("valid");
    for policy in [deploy_policy(&scope), run_policy(&scope)] {
        let compact = serde_json::to_string(&policy).expect("serialises");
        assert!(compact.len() < 6_144, "{} characters", compact.len());
    }
}

#[test]
fn long_stack_names_match_the_shortened_generated_names() {
    let long = "a".repeat(60);
    assert_eq!(
        generated_name("loadgate", "TaskRole", 64),
        "loadgate-TaskRole-*"
    );
    assert_eq!(
        generated_name(&long, "TaskRole", 64),
        format!("{}*", &long[..16])
    );
    let scope = Scope::new(&long, None, None).expect("valid");
    let run = run_policy(&scope);
    let pass = run
        .statement
        .iter()
        .find(|s| s.sid == "PassWorkerRoles")
        .expect("a PassRole statement");
    assert_eq!(
        pass.resource[0],
        format!("arn:aws:iam::*:role/{}*", &long[..16])
    );
}

#[test]
fn the_partition_follows_the_region() {
    let china = Scope::new("loadgate", Some("cn-north-1"), None).expect("valid");
    let text = render(&run_policy(&china));
    assert!(text.contains("arn:aws-cn:cloudformation:cn-north-1:*:stack/loadgate/*"));
    assert!(!text.contains("arn:aws:"), "{text}");
    let gov = Scope::new("loadgate", Some("us-gov-west-1"), None).expect("valid");
    assert!(render(&deploy_policy(&gov)).contains("arn:aws-us-gov:s3:::loadgate-bucket-*"));
}

#[test]
fn bad_scopes_are_input_errors() {
    for (stack, region, account) in [
        ("9lives", None, None),
        ("loadgate", Some("EU-WEST-1"), None),
        ("loadgate", Some("eu west 1"), None),
        ("loadgate", None, Some("12345")),
        ("loadgate", None, Some("12345678901a")),
    ] {
        let err = Scope::new(stack, region, account).unwrap_err();
        assert_eq!(
            err.exit_code(),
            EXIT_INVALID_INPUT,
            "{stack} {region:?} {account:?}"
        );
    }
}

#[test]
fn names_in_the_policies_are_the_templates() {
    // The policies guess CloudFormation's generated names from these logical ids and paths; a
    // rename in the template must show up here.
    for declared in [
        "\n  ExecutionRole:\n    Type: AWS::IAM::Role\n",
        "\n  TaskRole:\n    Type: AWS::IAM::Role\n",
        "\n  Cluster:\n    Type: AWS::ECS::Cluster\n",
        "\n  Bucket:\n    Type: AWS::S3::Bucket\n",
        "LogGroupName: !Sub \"/loadgate/${AWS::StackName}\"\n",
        ":parameter/loadgate/${AWS::StackName}/runs/*\"\n",
        "RepositoryName: !Ref RepositoryName\n",
    ] {
        assert!(TEMPLATE.contains(declared), "template lacks {declared:?}");
    }
    assert_eq!(runs_parameter_path("loadgate"), "/loadgate/loadgate/runs");
}

#[test]
fn render_is_pretty_json_with_a_final_newline() {
    let text = render(&run_policy(&default_scope()));
    assert!(
        text.starts_with("{\n  \"Version\": \"2012-10-17\""),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
    let statements = parsed["Statement"].as_array().expect("a Statement list");
    assert_eq!(
        statements.len(),
        run_policy(&default_scope()).statement.len()
    );
    // Sid leads each statement, as people write them.
    assert!(
        text.contains("{\n      \"Sid\": \"Stack\",\n      \"Effect\": \"Allow\""),
        "{text}"
    );
}

#[test]
fn both_policies_list_the_cluster_s_tasks_on_the_container_instance_with_its_condition() {
    // `stack deploy` lists the cluster's tasks before an update (Bootstrap::tasks_allow_update).
    // ListTasks is authorised on the container-instance resource type, the cluster being only
    // the `ecs:cluster` condition key: a statement whose resource is the cluster never applies.
    let scope = Scope::new("ci", Some("us-east-1"), Some("123456789012")).expect("valid");
    for policy in [deploy_policy(&scope), run_policy(&scope)] {
        let list: Vec<&Statement> = policy
            .statement
            .iter()
            .filter(|s| s.action.iter().any(|a| a == "ecs:ListTasks"))
            .collect();
        assert_eq!(list.len(), 1, "{}", render(&policy));
        assert_eq!(list[0].resource, ["*"]);
        let condition = list[0].condition.as_ref().expect("a condition");
        assert_eq!(
            condition["ArnLike"]["ecs:cluster"],
            "arn:aws:ecs:us-east-1:123456789012:cluster/ci-Cluster-*"
        );
    }
}

#[test]
fn deploy_policy_can_run_the_repository_s_update_handler() {
    // AWS::ECR::Repository's update handler (resource schema, handlers.update.permissions)
    // sets or deletes the repository policy; every upgrade changes the stack's tags, so it runs.
    let actions = actions(&deploy_policy(&default_scope()));
    for needed in [
        "ecr:SetRepositoryPolicy",
        "ecr:DeleteRepositoryPolicy",
        "ecr:GetRepositoryPolicy",
    ] {
        assert!(
            actions.iter().any(|a| a == needed),
            "deploy policy lacks {needed}"
        );
    }
}
