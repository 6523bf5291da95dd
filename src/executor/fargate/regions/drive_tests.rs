//! The launch over several regions against aws-smithy-mocks (moto has no capacity errors).

use super::*;
use aws_sdk_ecs::operation::run_task::RunTaskOutput;
use aws_sdk_ecs::types::{Failure, Task};
use aws_smithy_mocks::{mock, mock_client, RuleMode};

fn spec() -> tasks::Launch {
    tasks::Launch {
        cluster: "lg".into(),
        task_definition: "lg-worker:1".into(),
        subnets: vec!["subnet-1".into()],
        security_group: "sg-1".into(),
        public_ip: true,
        run_id: "r1".into(),
        run_url: "s3://b/runs/r1".into(),
        spot: false,
        rounds: 2,
        backoff: Duration::from_millis(1),
    }
}

#[tokio::test]
async fn a_region_without_capacity_is_named_even_when_min_workers_would_allow_it() {
    let started = mock!(aws_sdk_ecs::Client::run_task).then_output(|| {
        RunTaskOutput::builder()
            .tasks(
                Task::builder()
                    .task_arn("arn:aws:ecs:us-east-1:1:task/lg/t1")
                    .build(),
            )
            .build()
    });
    let no_capacity = mock!(aws_sdk_ecs::Client::run_task).then_output(|| {
        RunTaskOutput::builder()
            .failures(
                Failure::builder()
                    .reason("Capacity is unavailable at this time. Please try again later")
                    .build(),
            )
            .build()
    });
    let us = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&started]);
    let eu = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&no_capacity]);
    let us_out = tasks::launch(&us, &spec(), 1).await;
    let eu_out = tasks::launch(&eu, &spec(), 1).await;
    assert_eq!(us_out.arns.len(), 1);
    assert!(eu_out.arns.is_empty());
    // Capacity is retried (rounds) before the region counts as short.
    assert_eq!(no_capacity.num_calls(), 3);
    let outcomes = vec![
        ("us-east-1".to_string(), 1, Some(us_out.clone())),
        ("eu-west-1".to_string(), 1, Some(eu_out)),
    ];
    // min_workers 1 over all regions would allow 1 of 2, but eu-west-1 has none.
    let err = short_launch(&outcomes, 1, 2).expect("refused");
    let text = err.to_string();
    assert_eq!(err.exit_code(), 3);
    assert!(
        text.contains("eu-west-1: 0 of 1 started (") && text.contains("no Fargate capacity"),
        "{text}"
    );
    assert!(!text.contains("us-east-1:"), "{text}");
    let fine = vec![("us-east-1".to_string(), 1, Some(us_out))];
    assert!(short_launch(&fine, 1, 1).is_none());
}
