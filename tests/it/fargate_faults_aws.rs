//! Faults of AWS itself on the Fargate path (issue 14): S3 answering 500 and 503 SlowDown on a
//! share of requests, and RunTask refusing for lack of Fargate capacity. Every AWS call of the
//! controller AND of the workers passes through tests/it/proxy.rs, which injects the faults in
//! front of moto; tests/it/fake_fargate.rs plays Fargate. Each test ends with a documented
//! outcome (README, "Faults on the Fargate path").

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use loadgate::target::Route;

use crate::fake_fargate::{self, FakeFargate, Options};
use crate::harness::Test;
use crate::moto::Moto;
use crate::proxy::{Proxy, Reply, Seen};

/// The reason ECS gives in RunTask's `failures` (each an `arn` and a `reason`: "API failure
/// reasons", Amazon ECS Developer Guide) when Fargate has no capacity, word for word as the AWS
/// re:Post knowledge-center article "ecs-fargate-runtask-capacity" quotes it.
const NO_CAPACITY: &str = "Capacity is unavailable at this time. Please try again later or in a \
                           different availability zone";

fn setup() -> Moto {
    let moto = Moto::start();
    moto.keep_tasks_running();
    fake_fargate::deploy(&moto);
    moto
}

/// Fargate whose workers reach AWS through `proxy` (their `AWS_ENDPOINT_URL` replaces moto's).
fn fargate_through(moto: &Moto, proxy: &Proxy) -> FakeFargate {
    FakeFargate::start_with(
        moto,
        Options {
            worker_env: vec![("AWS_ENDPOINT_URL".to_string(), proxy.endpoint.clone())],
            ..Options::default()
        },
    )
}

fn controller(proxy: &Proxy, timing: &str, workers: &str) -> Test {
    crate::fake_fargate::fargate_run(proxy.env(), &["--workers", workers])
        .scenario(
            "name: faults\ntarget: \"{target}\"\nload: { concurrency: 4, hold_for: 3s }\n\
             requests:\n  - { name: a, path: /a }\n",
        )
        .target(vec![Route::ok("/a")])
        .env("LOADGATE_FARGATE_TIMING", timing)
}

/// The test intervals, with a heartbeat limit long enough that S3's retried writes (the SDK
/// backs off up to seconds) cannot make a worker think the controller is gone: the fault under
/// test is S3's errors, not a lost controller. `launch_backoff` shortens RunTask's retry rounds.
const TIMING: &str = r#"{"heartbeat_every":1000,"heartbeat_timeout":30000,"live_every":1000,"start_delay":1500,"ready_timeout":60000,"launch_backoff":50}"#;

fn is_result_write(s: &Seen) -> bool {
    s.service == "s3" && s.method == "PUT" && s.path.contains("/results/")
}

/// Every third S3 request of the controller and the workers answers 500 InternalError or 503
/// SlowDown, and so does the first attempt of every worker's result write. The SDK's standard
/// retries (3 attempts) and the store's own (4 rounds of those) carry the run through: exit 0,
/// the exact merge of both workers, nothing lost, nothing left running.
#[test]
fn s3_errors_on_a_share_of_requests_are_retried_and_the_merge_stays_exact() {
    let moto = setup();
    let (count, faulted) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let (n, f) = (count.clone(), faulted.clone());
    let proxy = Proxy::with(&moto, move |seen| {
        if seen.service != "s3" {
            return Reply::Forward;
        }
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = if is_result_write(seen) && seen.attempt == 1 {
            Some((503, "SlowDown"))
        } else if i % 3 == 0 {
            Some(if i % 2 == 0 {
                (500, "InternalError")
            } else {
                (503, "SlowDown")
            })
        } else {
            None
        };
        match fault {
            Some((status, code)) => {
                f.fetch_add(1, Ordering::SeqCst);
                Reply::S3Error { status, code }
            }
            None => Reply::Forward,
        }
    });
    let fargate = fargate_through(&moto, &proxy);
    let ran = controller(&proxy, TIMING, "2").run();
    let codes = fargate.finish();
    ran.code(0);
    let results = ran.results();
    assert_eq!(
        results["total"]["requests"].as_u64(),
        Some(ran.target().total()),
        "{}",
        ran.stderr
    );
    assert!(ran.target().total() > 0);
    assert_eq!(results["distributed"]["contributed"], 2, "{}", ran.stderr);
    assert_eq!(results["distributed"]["failed"], serde_json::json!([]));
    assert_eq!(codes.len(), 2);
    assert!(codes.values().all(|c| *c == Some(0)), "{codes:?}");
    // The faults happened and were retried: requests the SDK sent as attempt 2 or 3.
    let seen: Vec<Seen> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.service == "s3")
        .collect();
    let retried = seen.iter().filter(|s| s.attempt > 1).count();
    let faulted = faulted.load(Ordering::SeqCst) as usize;
    eprintln!(
        "S3 faults: {} S3 requests, {faulted} answered 500/503, {retried} sent as a retry \
         (SDK attempt > 1), {} result writes",
        seen.len(),
        seen.iter().filter(|s| is_result_write(s)).count()
    );
    assert!(
        faulted > 0 && retried > 0,
        "{faulted} faults, {retried} retries"
    );
    // The controller and the workers alike signed for the run's region.
    assert!(
        seen.iter().all(|s| s.region == crate::moto::REGION),
        "{:?}",
        seen.iter()
            .map(|s| &s.region)
            .collect::<std::collections::BTreeSet<_>>()
    );
    // Each worker's result write failed once and went through on the SDK's next attempt.
    for id in codes.keys() {
        let writes: Vec<u32> = seen
            .iter()
            .filter(|s| is_result_write(s) && s.path.contains(id.as_str()))
            .map(|s| s.attempt)
            .collect();
        assert!(
            writes.contains(&1) && writes.iter().any(|a| *a > 1),
            "result of {id}: attempts {writes:?}"
        );
    }
    // Nothing after the merge was lost to the faults either: the reports' copy in the bucket
    // and the run's history entry were written.
    assert!(
        ran.stderr.contains("reports also in s3://"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("not recorded"), "{}", ran.stderr);
    assert!(
        seen.iter()
            .any(|s| s.method == "PUT" && s.path.contains("/history/")),
        "no history write"
    );
    let tasks = fake_fargate::tasks(&moto);
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.status == "STOPPED"), "{tasks:?}");
}

/// A proxy that answers RunTask with ECS's capacity failure `refusals` times (every time with
/// `None`), and lets every other call through.
fn refusing(moto: &Moto, refusals: Option<u32>) -> (Proxy, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let n = calls.clone();
    let proxy = Proxy::with(moto, move |seen| {
        if seen.action() != "RunTask" {
            return Reply::Forward;
        }
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        if refusals.is_some_and(|r| i > r) {
            return Reply::Forward;
        }
        let body = serde_json::json!({
            "tasks": [],
            "failures": [{
                "arn": "arn:aws:ecs:us-east-1:123456789012:cluster/loadgate",
                "reason": NO_CAPACITY,
            }],
        });
        Reply::Answer {
            status: 200,
            body: body.to_string(),
        }
    });
    (proxy, calls)
}

/// RunTask refused twice for capacity, then served: the launch retries (with backoff), every
/// worker starts, and the run is as if nothing had happened.
#[test]
fn run_task_capacity_failures_are_retried_until_the_workers_start() {
    let moto = setup();
    let (proxy, _) = refusing(&moto, Some(2));
    let fargate = fargate_through(&moto, &proxy);
    let ran = controller(&proxy, TIMING, "2").run();
    let codes = fargate.finish();
    ran.code(0);
    let run_tasks = proxy.calls("RunTask").len();
    eprintln!("RunTask capacity (transient): {run_tasks} RunTask calls, worker exits {codes:?}");
    // Two refused rounds, then one that started both tasks (one call carries up to 10).
    assert_eq!(run_tasks, 3, "{}", ran.stderr);
    assert!(ran.stderr.contains("(3 RunTask calls)"), "{}", ran.stderr);
    let results = ran.results();
    assert_eq!(
        results["total"]["requests"].as_u64(),
        Some(ran.target().total())
    );
    assert!(ran.target().total() > 0);
    assert_eq!(results["distributed"]["contributed"], 2, "{}", ran.stderr);
    let tasks = fake_fargate::tasks(&moto);
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.status == "STOPPED"), "{tasks:?}");
}

/// RunTask refused every time: after its retry rounds the run fails with exit 3, quoting what ECS
/// said and what to do about it; no task was started, so none can be left running.
#[test]
fn run_task_always_refused_fails_with_ecs_reason_and_what_to_do() {
    let moto = setup();
    let (proxy, _) = refusing(&moto, None);
    let fargate = fargate_through(&moto, &proxy);
    let ran = controller(&proxy, TIMING, "2").run();
    let codes = fargate.finish();
    ran.code(3);
    let run_tasks = proxy.calls("RunTask").len();
    eprintln!(
        "RunTask capacity (always): {run_tasks} RunTask calls, exit {}: {}",
        ran.code,
        ran.stderr
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .join(" | ")
    );
    // The first call and 5 retry rounds.
    assert_eq!(run_tasks, 6, "{}", ran.stderr);
    for words in [
        NO_CAPACITY,
        "0 of 2",
        "later",
        "SubnetIds",
        "AvailabilityZone1",
        "fargate.cpu",
        "fargate.min_workers",
    ] {
        assert!(
            ran.stderr.contains(words),
            "no `{words}` in:\n{}",
            ran.stderr
        );
    }
    assert!(codes.is_empty(), "a worker ran: {codes:?}");
    assert!(fake_fargate::tasks(&moto).is_empty());
    assert_eq!(ran.target().total(), 0);
}
