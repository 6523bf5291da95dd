//! Two runs at once on one stack, as two pull requests start them (issue 14): each merges only
//! its own workers, `loadgate runs` lists both, `loadgate stop` ends one and leaves the other
//! running, and neither run's stack check changes the stack under the other. The controllers,
//! `runs` and `stop` are the real binary; moto behind tests/it/proxy.rs (which records every
//! call) is AWS; tests/it/fake_fargate.rs plays Fargate for both runs in the stack's cluster.

use std::time::{Duration, Instant};

use loadgate::target::Route;

use crate::fake_fargate::{self, FakeFargate};
use crate::harness::{Ran, Test};
use crate::moto::Moto;
use crate::proxy::Proxy;

fn controller(proxy: &Proxy, name: &str, hold_for: &str) -> Test {
    crate::fake_fargate::fargate_run(proxy.env(), &["--workers", "2"])
        .scenario(&format!(
            "name: {name}\ntarget: \"{{target}}\"\nload: {{ concurrency: 2, hold_for: {hold_for} }}\n\
             requests:\n  - {{ name: a, path: /a }}\n"
        ))
        .target(vec![Route::ok("/a")])
}

fn command(proxy: &Proxy, args: &[&str]) -> Ran {
    let mut test = Test::new().args(args);
    for (k, v) in proxy.env() {
        test = test.env(k, &v);
    }
    test.run()
}

/// The run id whose tasks are in the cluster, other than `not`, once it has `n` of them.
fn run_with_tasks(moto: &Moto, n: usize, not: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let tasks = fake_fargate::tasks(moto);
        let mut runs: Vec<&str> = tasks
            .iter()
            .map(|t| t.started_by.as_str())
            .filter(|r| Some(*r) != not)
            .collect();
        runs.sort_unstable();
        runs.dedup();
        if let Some(run) = runs.first() {
            if tasks.iter().filter(|t| t.started_by == *run).count() >= n {
                return run.to_string();
            }
        }
        assert!(Instant::now() < deadline, "no run launched {n} tasks");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_runs_on_one_stack_stay_apart_and_stopping_one_leaves_the_other() {
    let moto = Moto::start();
    moto.keep_tasks_running();
    fake_fargate::deploy(&moto);
    let bucket = fake_fargate::outputs(&moto).bucket;
    let proxy = Proxy::start(&moto);
    let fargate = FakeFargate::start(&moto);
    let (a, b, stopped_a, listed) = std::thread::scope(|s| {
        // A would hold for 90 s: it ends only because it is stopped.
        let a = s.spawn(|| {
            let ran = controller(&proxy, "pr-one", "90s").run();
            (ran, Instant::now())
        });
        let a_id = run_with_tasks(&moto, 2, None);
        let b = s.spawn(|| controller(&proxy, "pr-two", "20s").run());
        let b_id = run_with_tasks(&moto, 2, Some(&a_id));
        // Both runs observably load the target (four live snapshots counting requests).
        fake_fargate::wait_for_load(&moto, crate::moto::REGION, &bucket, 4);
        let listed = command(&proxy, &["runs"]);
        let stopped = command(&proxy, &["stop", &a_id]);
        let stopped_at = Instant::now();
        // Right after the stop: A's tasks are stopped, B's still run.
        let tasks = fake_fargate::tasks(&moto);
        for t in &tasks {
            let want = if t.started_by == a_id {
                "STOPPED"
            } else {
                "RUNNING"
            };
            assert_eq!(t.status, want, "{} of {}: {tasks:?}", t.id, t.started_by);
        }
        let ((a, a_ended), b) = (a.join().expect("run A"), b.join().expect("run B"));
        let a_took = a_ended.saturating_duration_since(stopped_at);
        ((a_id, a, a_took), (b_id, b), stopped, listed)
    });
    let codes = fargate.finish();
    let ((a_id, a, a_took), (b_id, b)) = (a, b);
    listed.code(0);
    for id in [&a_id, &b_id] {
        assert!(
            listed.stdout.contains(&format!("{id}  2 task(s)")),
            "{id} not listed with its 2 tasks:\n{}",
            listed.stdout
        );
    }
    stopped_a.code(0);
    assert!(
        stopped_a.stdout.contains("2 task(s) stopped"),
        "{}",
        stopped_a.stdout
    );
    // A: stopped from outside, so partial and not passed (exit 1), with what it measured.
    a.code(1);
    let ra = a.results();
    assert_eq!(ra["run_id"], a_id.as_str());
    assert_eq!(ra["partial"], true);
    assert_eq!(ra["passed"], false);
    assert!(
        ra["stopped"]
            .as_str()
            .unwrap_or_default()
            .contains("loadgate stop"),
        "{}",
        ra["stopped"]
    );
    let a_counted = ra["total"]["requests"].as_u64().expect("A's requests");
    // Requests in flight at the stop were abandoned (the target saw them, the workers did not
    // count them): at most one per virtual user (2).
    assert!(
        a_counted <= a.target().total() && a.target().total() - a_counted <= 2,
        "A counted {a_counted}, its target served {}",
        a.target().total()
    );
    assert!(a_counted > 0);
    // B: untouched by A's stop, its own two workers merged exactly.
    b.code(0);
    let rb = b.results();
    assert_eq!(rb["run_id"], b_id.as_str());
    assert_eq!(rb["partial"], false);
    assert_eq!(
        rb["total"]["requests"].as_u64(),
        Some(b.target().total()),
        "{}",
        b.stderr
    );
    assert!(b.target().total() > 0);
    assert_eq!(rb["distributed"]["contributed"], 2, "{}", b.stderr);
    assert_eq!(rb["distributed"]["failed"], serde_json::json!([]));
    // Neither stack check changed the stack: each made its DescribeStacks, nothing else.
    for action in [
        "CreateStack",
        "UpdateStack",
        "CreateChangeSet",
        "ExecuteChangeSet",
        "DeleteStack",
    ] {
        assert_eq!(proxy.calls(action).len(), 0, "{action} during the runs");
    }
    let describes = proxy.calls("DescribeStacks").len();
    assert!(describes >= 2, "{describes} DescribeStacks");
    let tasks = fake_fargate::tasks(&moto);
    eprintln!(
        "two runs: A {a_id} exit {} {a_took:?} after `stop` returned ({a_counted} of {} served), B {b_id} exit {} ({} requests), \
         {describes} DescribeStacks, worker exits {codes:?}",
        a.code,
        a.target().total(),
        b.code,
        b.target().total()
    );
    assert_eq!(tasks.len(), 4, "{tasks:?}");
    assert!(tasks.iter().all(|t| t.status == "STOPPED"), "{tasks:?}");
}
