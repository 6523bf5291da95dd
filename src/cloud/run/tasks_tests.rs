//! What moto cannot answer RunTask with, against aws-smithy-mocks: throttling, capacity failures,
//! the Spot fallback. The batching of RunTask and DescribeTasks is shown against moto in
//! tests/it/aws_limits.rs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::operation::run_task::{RunTaskError, RunTaskInput, RunTaskOutput};
use aws_sdk_ecs::types::{Failure, Task};
use aws_sdk_ecs::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::*;

fn launch_spec(spot: bool) -> Launch {
    Launch {
        cluster: "lg".into(),
        task_definition: "lg-worker:1".into(),
        subnets: vec!["subnet-1".into()],
        security_group: "sg-1".into(),
        public_ip: true,
        run_id: "r1".into(),
        run_url: "s3://b/runs/r1".into(),
        spot,
        rounds: 3,
        backoff: Duration::from_millis(1),
    }
}

/// A RunTask answer starting `n` tasks with fresh ARNs.
fn started(n: i32, counter: &AtomicUsize) -> RunTaskOutput {
    let tasks = (0..n).map(|_| {
        let i = counter.fetch_add(1, Ordering::SeqCst);
        Task::builder()
            .task_arn(format!("arn:aws:ecs:us-east-1:1:task/lg/t{i}"))
            .build()
    });
    RunTaskOutput::builder()
        .set_tasks(Some(tasks.collect()))
        .build()
}

fn no_capacity(n: i32) -> RunTaskOutput {
    let failures = (0..n).map(|_| {
        Failure::builder()
            .reason("Capacity is unavailable at this time. Please try again later")
            .build()
    });
    RunTaskOutput::builder()
        .set_failures(Some(failures.collect()))
        .build()
}

fn count(req: &RunTaskInput) -> i32 {
    req.count().unwrap_or(1)
}

#[tokio::test]
async fn throttled_run_task_calls_are_retried() {
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let throttled = || {
        RunTaskError::generic(
            ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    };
    // Throttled more times than the SDK's own 3 attempts: loadgate's rounds must cover it.
    let rule = mock!(Client::run_task)
        .sequence()
        .error(throttled)
        .times(4)
        .output(move || started(4, &c))
        .build();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
    let out = launch(&ecs, &launch_spec(false), 4).await;
    assert_eq!(out.arns.len(), 4, "{:?}", out.failures);
    assert_eq!(rule.num_calls(), 5);
}

#[tokio::test]
async fn capacity_failures_are_retried_and_other_failures_are_not() {
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let rule = mock!(Client::run_task).then_compute_output(move |req| {
        match n.fetch_add(1, Ordering::SeqCst) {
            // First: one starts, one has no capacity, one has a bad subnet (not retried).
            0 => {
                let mut out = started(1, &c);
                let failures = [
                    Failure::builder().reason("RESOURCE:ENI").build(),
                    Failure::builder()
                        .reason("MISSING")
                        .detail("subnet-x")
                        .build(),
                ];
                out.failures = Some(failures.to_vec());
                out
            }
            _ => started(count(req), &c),
        }
    });
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
    let out = launch(&ecs, &launch_spec(false), 3).await;
    assert_eq!(out.arns.len(), 2);
    assert_eq!(out.failures, ["MISSING: subnet-x"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn spot_without_capacity_falls_back_to_on_demand() {
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let rule = mock!(Client::run_task).then_compute_output(move |req| {
        if req.capacity_provider_strategy().is_empty() {
            assert_eq!(
                req.launch_type(),
                Some(&aws_sdk_ecs::types::LaunchType::Fargate)
            );
            started(count(req), &c)
        } else {
            no_capacity(count(req))
        }
    });
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
    let out = launch(&ecs, &launch_spec(true), 12).await;
    assert_eq!(out.arns.len(), 12, "{:?}", out.failures);
    assert_eq!(out.on_demand_fallback, 12);
    // Two Spot calls (10 + 2), then two on FARGATE.
    assert_eq!(out.calls, 4);
}

#[tokio::test]
async fn capacity_that_never_comes_is_reported_not_waited_for_forever() {
    let rule = mock!(Client::run_task).then_compute_output(|req| no_capacity(count(req)));
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
    let out = launch(&ecs, &launch_spec(false), 2).await;
    assert!(out.arns.is_empty());
    assert_eq!(rule.num_calls(), 4, "one call per round");
    assert!(
        out.failures[0].contains("no Fargate capacity after 4 RunTask rounds"),
        "{:?}",
        out.failures
    );
    // ECS's own words, once however many tasks it refused: they say what to do.
    assert!(
        out.failures[0].ends_with(
            "ECS said: \"Capacity is unavailable at this time. Please try again later\""
        ),
        "{:?}",
        out.failures
    );
    assert_eq!(out.no_capacity, 2);
}

#[test]
fn task_ids_and_log_streams() {
    assert_eq!(task_id("arn:aws:ecs:r:1:task/lg/abc123"), "abc123");
    assert_eq!(log_stream("abc123"), "loadgate/worker/abc123");
}
