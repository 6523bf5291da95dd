//! What moto cannot produce: CloudFormation states, races, throttling and the API limits, with
//! aws-smithy-mocks. Each test counts the calls it expects (e.g. the warm path is one call).

use std::sync::{Arc, Mutex};

use aws_sdk_cloudformation::operation::create_stack::{CreateStackError, CreateStackOutput};
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::operation::update_stack::{UpdateStackError, UpdateStackOutput};
use aws_sdk_cloudformation::types::{Output, Parameter, ResourceStatus, StackEvent, StackStatus};
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::Client as Ecs;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime;

use super::*;
use crate::error::{EXIT_INFRASTRUCTURE, EXIT_INVALID_INPUT};

const ID: &str = "arn:aws:cloudformation:us-east-1:1:stack/lg/1";

fn outputs() -> Vec<Output> {
    [
        ("TemplateVersion", "1"),
        ("ClusterName", "lg-cluster"),
        ("ClusterArn", "arn:aws:ecs:us-east-1:1:cluster/lg-cluster"),
        ("SubnetIds", "subnet-1,subnet-2"),
        ("PublicSubnets", "true"),
        ("SecurityGroupId", "sg-1"),
        ("BucketName", "lg-bucket"),
        ("LogGroupName", "/loadgate/lg"),
        ("RepositoryName", "lg"),
        ("RepositoryUri", "1.dkr.ecr.us-east-1.amazonaws.com/lg"),
        ("TaskRoleArn", "arn:task"),
        ("ExecutionRoleArn", "arn:exec"),
    ]
    .into_iter()
    .map(|(k, v)| Output::builder().output_key(k).output_value(v).build())
    .collect()
}

/// A stack as DescribeStacks returns it: `current` tags it with this build's template and version.
fn stack(status: StackStatus, version: &str, sha: &str) -> Stack {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    Stack::builder()
        .stack_id(ID)
        .stack_name("lg")
        .stack_status(status)
        .creation_time(DateTime::from_secs(1_000))
        .tags(tag(template::TAG_VERSION, version))
        .tags(tag(template::TAG_TEMPLATE_SHA256, sha))
        .set_outputs(Some(outputs()))
        .parameters(
            Parameter::builder()
                .parameter_key("RepositoryName")
                .parameter_value("lg")
                .build(),
        )
        .parameters(
            Parameter::builder()
                .parameter_key("LogRetentionDays")
                .parameter_value("14")
                .build(),
        )
        .build()
}

fn current(status: StackStatus) -> Stack {
    stack(status, VERSION, template::sha256())
}

fn found(stack: Stack) -> DescribeStacksOutput {
    DescribeStacksOutput::builder().stacks(stack).build()
}

fn missing() -> DescribeStacksError {
    DescribeStacksError::generic(
        ErrorMetadata::builder()
            .code("ValidationError")
            .message("Stack with id lg does not exist")
            .build(),
    )
}

fn event(at: i64, resource: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    StackEvent::builder()
        .stack_id(ID)
        .stack_name("lg")
        .event_id(format!("{resource}-{at}-{}", status.as_str()))
        .logical_resource_id(resource)
        .resource_type("AWS::S3::Bucket")
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(at))
        .build()
}

fn no_events() -> Rule {
    mock!(Cfn::describe_stack_events).then_output(|| DescribeStackEventsOutput::builder().build())
}

fn tasks(n: usize) -> Rule {
    mock!(Ecs::list_tasks).then_output(move || {
        let mut out = ListTasksOutput::builder();
        for i in 0..n {
            out = out.task_arns(format!("arn:aws:ecs:us-east-1:1:task/lg/{i}"));
        }
        out.build()
    })
}

fn clients(cfn: &[&Rule], ecs: &[&Rule]) -> Clients {
    Clients {
        cfn: mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, cfn),
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs),
        poll: Duration::ZERO,
    }
}

fn spec() -> StackSpec {
    StackSpec {
        name: "lg".to_string(),
        params: Vec::new(),
        wait: Duration::from_secs(60),
    }
}

async fn run(clients: &Clients, spec: &StackSpec, mode: Mode) -> Result<(StackOutputs, Action)> {
    Bootstrap::new(clients, spec, mode)?.run().await
}

fn create_ok() -> Rule {
    mock!(Cfn::create_stack)
        .match_requests(|r| {
            // The contract of a create: IAM capability and the tags the warm path reads.
            let tags: Vec<_> = r.tags().iter().filter_map(|t| t.key()).collect();
            r.capabilities().contains(&Capability::CapabilityIam)
                && tags.contains(&template::TAG_TEMPLATE_SHA256)
                && tags.contains(&template::TAG_VERSION)
                && tags.contains(&template::TAG_STACK)
        })
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build())
}

fn update_ok() -> Rule {
    mock!(Cfn::update_stack).then_output(|| UpdateStackOutput::builder().stack_id(ID).build())
}

fn delete_ok() -> Rule {
    mock!(Cfn::delete_stack).then_output(|| DeleteStackOutput::builder().build())
}

#[tokio::test]
async fn the_warm_path_is_one_describe_stacks_call() {
    let describe =
        mock!(Cfn::describe_stacks).then_output(|| found(current(StackStatus::CreateComplete)));
    let (create, update, events, list) = (create_ok(), update_ok(), no_events(), tasks(0));
    let c = clients(&[&describe, &create, &update, &events], &[&list]);
    let (outputs, action) = run(&c, &spec(), Mode::Run).await.expect("ensure");
    assert_eq!(outputs.bucket, "lg-bucket");
    assert_eq!(action, Action::Unchanged);
    assert_eq!(describe.num_calls(), 1);
    let others = create.num_calls() + update.num_calls() + events.num_calls() + list.num_calls();
    assert_eq!(others, 0);
}

#[tokio::test]
async fn a_missing_stack_is_created_with_its_tags_and_waited_for() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .error(missing)
        .output(|| found(current(StackStatus::CreateInProgress)))
        .output(|| found(current(StackStatus::CreateComplete)))
        .repeatedly()
        .build();
    let (create, events) = (create_ok(), no_events());
    let c = clients(&[&describe, &create, &events], &[]);
    let (outputs, action) = run(&c, &spec(), Mode::Run).await.expect("ensure");
    assert_eq!(action, Action::Created);
    assert_eq!(outputs.cluster_name, "lg-cluster");
    assert_eq!(
        create.num_calls(),
        1,
        "the create request lacked IAM or tags"
    );
}

#[tokio::test]
async fn rollback_complete_is_deleted_and_created_again() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| found(current(StackStatus::RollbackComplete)))
        .error(missing) // waiting for the delete
        .error(missing) // the next round: create
        .output(|| found(current(StackStatus::CreateComplete)))
        .repeatedly()
        .build();
    let (create, delete, events) = (create_ok(), delete_ok(), no_events());
    let c = clients(&[&describe, &create, &delete, &events], &[]);
    let (_, action) = run(&c, &spec(), Mode::Run).await.expect("ensure");
    assert_eq!(action, Action::Created);
    assert_eq!((delete.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test]
async fn another_run_creating_at_the_same_moment_is_waited_for() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .error(missing)
        .output(|| found(current(StackStatus::CreateInProgress)))
        .times(2)
        .output(|| found(current(StackStatus::CreateComplete)))
        .repeatedly()
        .build();
    let create = mock!(Cfn::create_stack).then_error(|| {
        CreateStackError::generic(
            ErrorMetadata::builder()
                .code("AlreadyExistsException")
                .message("Stack [lg] already exists")
                .build(),
        )
    });
    let events = no_events();
    let c = clients(&[&describe, &create, &events], &[]);
    let (outputs, action) = run(&c, &spec(), Mode::Run).await.expect("ensure");
    assert_eq!(outputs.stack_name, "lg");
    assert_eq!(action, Action::Unchanged, "the other run created it");
    assert_eq!(create.num_calls(), 1);
    assert!(describe.num_calls() >= 4, "{}", describe.num_calls());
}

#[tokio::test]
async fn delete_in_progress_is_waited_for_then_created() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| found(current(StackStatus::DeleteInProgress)))
        .output(|| found(current(StackStatus::DeleteComplete)))
        .error(missing)
        .output(|| found(current(StackStatus::CreateComplete)))
        .repeatedly()
        .build();
    let (create, events) = (create_ok(), no_events());
    let c = clients(&[&describe, &create, &events], &[]);
    let (_, action) = run(&c, &spec(), Mode::Run).await.expect("ensure");
    assert_eq!(action, Action::Created);
}

#[tokio::test]
async fn no_updates_to_be_performed_is_success() {
    let describe = mock!(Cfn::describe_stacks)
        .then_output(|| found(stack(StackStatus::UpdateComplete, VERSION, "old-sha")));
    let update = mock!(Cfn::update_stack).then_error(|| {
        UpdateStackError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("No updates are to be performed.")
                .build(),
        )
    });
    let list = tasks(0);
    let c = clients(&[&describe, &update], &[&list]);
    let (outputs, action) = run(&c, &spec(), Mode::Deploy).await.expect("ensure");
    assert_eq!(action, Action::Unchanged);
    assert_eq!(outputs.repository_name, "lg");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn a_run_without_the_right_to_update_uses_the_current_stack() {
    let describe = mock!(Cfn::describe_stacks)
        .then_output(|| found(stack(StackStatus::UpdateComplete, "0.0.1", "old-sha")));
    let update = mock!(Cfn::update_stack).then_error(|| {
        UpdateStackError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not authorized to perform: cloudformation:UpdateStack")
                .build(),
        )
    });
    let list = tasks(0);
    let c = clients(&[&describe, &update], &[&list]);
    let (outputs, _) = run(&c, &spec(), Mode::Run).await.expect("current stack");
    assert_eq!(outputs.bucket, "lg-bucket");
    assert_eq!(update.num_calls(), 1);
    // `stack deploy` was asked to update: the denial is its error.
    let err = run(&c, &spec(), Mode::Deploy).await.expect_err("denied");
    assert_eq!(err.exit_code(), EXIT_INFRASTRUCTURE);
    assert!(err.help().unwrap_or("").contains("stack policy"), "{err:?}");
}

#[test]
fn an_event_line_has_elapsed_time_resource_status_and_reason() {
    let e = event(
        1_700_000_000,
        "Bucket",
        ResourceStatus::CreateFailed,
        "Access Denied",
    );
    let line = wait::format_event(&e, Duration::from_millis(72_400));
    assert_eq!(
        line,
        "  +1m 12s   22:13:20  Bucket (AWS::S3::Bucket)  CREATE_FAILED  Access Denied"
    );
}

#[tokio::test]
async fn a_run_without_params_never_resets_an_own_repository_name() {
    let describe = mock!(Cfn::describe_stacks).then_output(|| {
        let mut s = current(StackStatus::UpdateComplete);
        s.parameters = Some(vec![Parameter::builder()
            .parameter_key("RepositoryName")
            .parameter_value("team/loadgate")
            .build()]);
        found(s)
    });
    let update = update_ok();
    let c = clients(&[&describe, &update], &[]);
    let (_, action) = run(&c, &spec(), Mode::Run).await.expect("ensure");
    assert_eq!(action, Action::Unchanged);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn a_changed_parameter_updates_and_keeps_the_others() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| found(current(StackStatus::CreateComplete)))
        .output(|| found(current(StackStatus::UpdateInProgress)))
        .output(|| found(current(StackStatus::UpdateComplete)))
        .repeatedly()
        .build();
    // RunsRetentionDays is given; LogRetentionDays keeps the stack's 14, not the default.
    let update = mock!(Cfn::update_stack)
        .match_requests(|r| {
            let value = |k: &str| {
                r.parameters()
                    .iter()
                    .find(|p| p.parameter_key() == Some(k))
                    .and_then(|p| p.parameter_value())
            };
            value("RunsRetentionDays") == Some("7") && value("LogRetentionDays") == Some("14")
        })
        .then_output(|| UpdateStackOutput::builder().stack_id(ID).build());
    let (events, list) = (no_events(), tasks(0));
    let c = clients(&[&describe, &update, &events], &[&list]);
    let mut spec = spec();
    spec.params = vec![("RunsRetentionDays".to_string(), "7".to_string())];
    let (_, action) = run(&c, &spec, Mode::Run).await.expect("ensure");
    assert_eq!(action, Action::Updated);
    assert_eq!(update.num_calls(), 1, "parameters of the update were wrong");
}

#[tokio::test]
async fn throttling_is_retried() {
    let throttled = r#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>
        <Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"#;
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .http_status(400, Some(throttled.to_string()))
        .output(|| found(current(StackStatus::CreateComplete)))
        .build();
    let c = clients(&[&describe], &[]);
    let (_, action) = run(&c, &spec(), Mode::Run).await.expect("retried");
    assert_eq!(action, Action::Unchanged);
    assert_eq!(describe.num_calls(), 2);
}

#[tokio::test]
async fn a_failed_create_reports_the_first_failure() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .error(missing)
        .output(|| found(current(StackStatus::RollbackComplete)))
        .repeatedly()
        .build();
    // Newest first, as CloudFormation lists them: the cause is the oldest failure.
    let events = mock!(Cfn::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event(1_004, "lg", ResourceStatus::RollbackComplete, ""))
            .stack_events(event(
                1_003,
                "Cluster",
                ResourceStatus::CreateFailed,
                "Resource creation cancelled",
            ))
            .stack_events(event(
                1_002,
                "Bucket",
                ResourceStatus::CreateFailed,
                "API: s3:CreateBucket Access Denied",
            ))
            .stack_events(event(
                1_001,
                "lg",
                ResourceStatus::CreateInProgress,
                "User Initiated",
            ))
            .build()
    });
    let create = create_ok();
    let c = clients(&[&describe, &create, &events], &[]);
    let err = run(&c, &spec(), Mode::Run).await.expect_err("failed");
    assert_eq!(err.exit_code(), EXIT_INFRASTRUCTURE);
    let text = err.to_string();
    assert!(text.contains("ROLLBACK_COMPLETE"), "{text}");
    assert!(
        text.contains("Bucket: API: s3:CreateBucket Access Denied"),
        "{text}"
    );
    assert!(err.help().unwrap_or("").contains("stack deploy"), "{err:?}");
}

#[tokio::test]
async fn no_update_while_another_runs_tasks_are_running() {
    let describe = mock!(Cfn::describe_stacks)
        .then_output(|| found(stack(StackStatus::UpdateComplete, VERSION, "old-sha")));
    let (update, list) = (update_ok(), tasks(3));
    let c = clients(&[&describe, &update], &[&list]);
    // A run proceeds on the current stack...
    let (outputs, action) = run(&c, &spec(), Mode::Run).await.expect("ensure");
    assert_eq!(action, Action::Kept("tasks running".to_string()));
    assert_eq!(outputs.cluster_name, "lg-cluster");
    // ...a deploy waits for the tasks, here past its timeout.
    let mut spec = spec();
    spec.wait = Duration::ZERO;
    let err = run(&c, &spec, Mode::Deploy).await.expect_err("timed out");
    assert_eq!(err.exit_code(), EXIT_INFRASTRUCTURE);
    assert!(err.to_string().contains("3 task(s)"), "{err}");
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn a_stack_of_a_newer_version_is_never_downgraded() {
    let describe = mock!(Cfn::describe_stacks)
        .then_output(|| found(stack(StackStatus::UpdateComplete, "99.0.0", "newer-sha")));
    let (update, list) = (update_ok(), tasks(0));
    let c = clients(&[&describe, &update], &[&list]);
    let (_, action) = run(&c, &spec(), Mode::Deploy).await.expect("ensure");
    assert_eq!(action, Action::Kept("deployed by 99.0.0".to_string()));
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn update_rollback_complete_is_usable_with_a_warning_for_runs() {
    let describe = mock!(Cfn::describe_stacks).then_output(|| {
        found(stack(
            StackStatus::UpdateRollbackComplete,
            "0.0.1",
            "old-sha",
        ))
    });
    let events = mock!(Cfn::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                1_002,
                "Repository",
                ResourceStatus::UpdateFailed,
                "Resource handler returned message: Invalid lifecycle policy",
            ))
            .build()
    });
    let update = update_ok();
    let c = clients(&[&describe, &events, &update], &[]);
    let (_, action) = run(&c, &spec(), Mode::Run).await.expect("usable");
    let Action::Kept(why) = action else {
        panic!("expected Kept, got {action:?}")
    };
    assert!(why.contains("0.0.1"), "{why}");
    assert!(why.contains("Invalid lifecycle policy"), "{why}");
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn a_failed_state_is_exit_3_with_what_to_do() {
    let describe = mock!(Cfn::describe_stacks).then_output(|| {
        let mut s = current(StackStatus::UpdateRollbackFailed);
        s.stack_status_reason = Some("Role cannot be rolled back".to_string());
        found(s)
    });
    let events = no_events();
    let c = clients(&[&describe, &events], &[]);
    let err = run(&c, &spec(), Mode::Run).await.expect_err("stuck");
    assert_eq!(err.exit_code(), EXIT_INFRASTRUCTURE);
    assert!(err.to_string().contains("UPDATE_ROLLBACK_FAILED"), "{err}");
    assert!(
        err.to_string().contains("Role cannot be rolled back"),
        "{err}"
    );
    assert!(err
        .help()
        .unwrap_or("")
        .contains("continue-update-rollback"));
}

#[tokio::test]
async fn a_wait_that_outlasts_its_timeout_says_so() {
    let describe =
        mock!(Cfn::describe_stacks).then_output(|| found(current(StackStatus::UpdateInProgress)));
    let events = no_events();
    let c = clients(&[&describe, &events], &[]);
    let mut spec = spec();
    spec.wait = Duration::ZERO;
    let err = run(&c, &spec, Mode::Run).await.expect_err("timeout");
    assert!(
        err.to_string().contains("still UPDATE_IN_PROGRESS"),
        "{err}"
    );
    assert!(err.help().unwrap_or("").contains("--wait-timeout"));
}

#[tokio::test]
async fn a_bad_parameter_is_invalid_input_before_any_call() {
    let describe = mock!(Cfn::describe_stacks).then_error(missing);
    let c = clients(&[&describe], &[]);
    let mut spec = spec();
    spec.params = vec![("LogRetentionDays".to_string(), "13".to_string())];
    let err = run(&c, &spec, Mode::Run).await.expect_err("bad value");
    assert_eq!(err.exit_code(), EXIT_INVALID_INPUT);
    assert_eq!(describe.num_calls(), 0);
}

#[test]
fn versions_compare_as_semver() {
    assert!(is_newer("0.2.0", "0.1.9"));
    assert!(is_newer("1.0.0", "1.0.0-rc.1"));
    assert!(is_newer("0.10.0", "0.9.0"));
    assert!(!is_newer("0.1.0", "0.1.0"));
    assert!(!is_newer("0.1.0-rc.1", "0.1.0"));
    assert!(!is_newer("garbage", "0.1.0"));
}

#[test]
fn list_parameters_compare_item_by_item() {
    let s = Stack::builder()
        .parameters(
            Parameter::builder()
                .parameter_key("SubnetIds")
                .parameter_value("subnet-1,subnet-2")
                .build(),
        )
        .build();
    let same = [("SubnetIds".to_string(), "subnet-1, subnet-2".to_string())];
    assert!(changed_parameters(&s, &same).is_empty());
    let other = [("SubnetIds".to_string(), "subnet-3".to_string())];
    assert_eq!(changed_parameters(&s, &other), ["SubnetIds"]);
}

/// The destroy path: bucket and repository emptied within the API limits, then the stack deleted.
#[path = "destroy_tests.rs"]
mod destroy;

/// An older account in Tokyo whose ap-northeast-1a is apne1-az3, a zone without Fargate: the
/// first create puts the subnets in two zones that run it (the template's default would take
/// 1a). EC2 is a local server; CloudFormation the mocks.
#[tokio::test]
async fn a_first_create_puts_the_subnets_in_zones_that_run_fargate() {
    use wiremock::matchers::{body_string_contains, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let ec2 = MockServer::start().await;
    let zone = |name: &str, id: &str| {
        format!(
            "<item><zoneName>{name}</zoneName><zoneState>available</zoneState>\
             <regionName>ap-northeast-1</regionName><zoneId>{id}</zoneId>\
             <zoneType>availability-zone</zoneType></item>"
        )
    };
    Mock::given(method("POST"))
        .and(body_string_contains("Action=DescribeAvailabilityZones"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            "<DescribeAvailabilityZonesResponse><availabilityZoneInfo>{}{}{}\
             </availabilityZoneInfo></DescribeAvailabilityZonesResponse>",
            zone("ap-northeast-1a", "apne1-az3"),
            zone("ap-northeast-1c", "apne1-az1"),
            zone("ap-northeast-1d", "apne1-az2"),
        )))
        .expect(1)
        .mount(&ec2)
        .await;
    let aws = Aws::load_from(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(ec2.uri())
            .region(aws_config::Region::new("ap-northeast-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "a", "b", None, None, "test",
            )),
    )
    .await
    .expect("config");
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .error(missing)
        .output(|| found(current(StackStatus::CreateComplete)))
        .repeatedly()
        .build();
    let create = mock!(Cfn::create_stack)
        .match_requests(|r| {
            let value = |k: &str| {
                r.parameters()
                    .iter()
                    .find(|p| p.parameter_key() == Some(k))
                    .and_then(|p| p.parameter_value())
            };
            value("AvailabilityZone1") == Some("ap-northeast-1c")
                && value("AvailabilityZone2") == Some("ap-northeast-1d")
        })
        .then_output(|| CreateStackOutput::builder().stack_id(ID).build());
    let events = no_events();
    let c = clients(&[&describe, &create, &events], &[]);
    let (_, action) = Bootstrap::new(&c, &spec(), Mode::Deploy)
        .expect("spec")
        .with_zone_lookup(&aws)
        .run()
        .await
        .expect("created in zones with Fargate");
    assert_eq!(action, Action::Created);
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn an_update_never_moves_the_subnets() {
    // The zones are looked up on a first create only: an update keeps the stack's values.
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| found(stack(StackStatus::CreateComplete, "0.0.1", "old")))
        .output(|| found(current(StackStatus::UpdateComplete)))
        .repeatedly()
        .build();
    let update = mock!(Cfn::update_stack)
        .match_requests(|r| {
            r.parameters().iter().all(|p| {
                !p.parameter_key()
                    .is_some_and(|k| k.starts_with("AvailabilityZone"))
                    || p.use_previous_value() == Some(true)
            })
        })
        .then_output(|| UpdateStackOutput::builder().stack_id(ID).build());
    let (events, list) = (no_events(), tasks(0));
    let c = clients(&[&describe, &update, &events], &[&list]);
    // No EC2 endpoint at all: a lookup would fail the deploy.
    let aws = Aws::load_from(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("ap-northeast-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "a", "b", None, None, "test",
            )),
    )
    .await
    .expect("config");
    let (_, action) = Bootstrap::new(&c, &spec(), Mode::Deploy)
        .expect("spec")
        .with_zone_lookup(&aws)
        .run()
        .await
        .expect("updated");
    assert_eq!(action, Action::Updated);
    assert_eq!(update.num_calls(), 1);
}
