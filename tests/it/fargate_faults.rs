//! Faults on the Fargate path (issue 14), on moto with tests/it/fake_fargate.rs playing Fargate.
//! Each ends with a documented outcome: what survived, what was lost and named, nothing left
//! running. (A worker killed with SIGKILL is covered by tests/it/fargate.rs: the run fails
//! naming it, or passes under `min_workers` saying so.)

use std::time::Instant;

use loadgate::target::Route;

use crate::fake_fargate::FakeFargate;
use crate::moto::Moto;

fn setup() -> Moto {
    let moto = Moto::start();
    moto.keep_tasks_running();
    crate::fake_fargate::deploy(&moto);
    moto
}

/// Keys under `runs/` in the stack's bucket.
fn run_keys(moto: &Moto) -> Vec<String> {
    let bucket = crate::fake_fargate::outputs(moto).bucket;
    crate::fake_fargate::runtime().block_on(async {
        let s3 = moto.aws().await.s3();
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(&bucket)
                .prefix("runs/")
                .set_continuation_token(token)
                .send()
                .await
                .expect("list");
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        keys
    })
}

/// The controller killed with SIGKILL (a CI runner gone) cannot stop its tasks: every worker
/// stops by itself once the heartbeat is older than the plan's limit (5 s here, shortened
/// through the plan as the other tests do), flushing its result first, so nothing keeps running
/// and nothing measured is lost.
#[test]
fn workers_stop_by_themselves_when_the_controller_is_killed() {
    let moto = setup();
    let fargate = FakeFargate::start(&moto);
    let scenario = "name: orphan\ntarget: \"{target}\"\nload: { concurrency: 2, hold_for: 120s }\n\
                    requests: [{ path: / }]\n";
    let test = crate::fake_fargate::fargate_run(moto.env(), &["--workers", "2"])
        .scenario(scenario)
        .target(vec![Route::ok("/")]);
    let bucket = crate::fake_fargate::outputs(&moto).bucket;
    let mut killed_at = None;
    let ran = test.run_with(|child| {
        // Killed once both workers observably send load (their live snapshots count requests).
        crate::fake_fargate::wait_for_load(&moto, crate::moto::REGION, &bucket, 2);
        killed_at = Some(Instant::now());
        let _ = child.kill();
    });
    assert_eq!(ran.code, -1, "killed by a signal: {}", ran.stderr);
    // `finish` waits up to 30 s for each worker and kills what is left (code None).
    let codes = fargate.finish();
    let stopped_after = killed_at.map(|k| k.elapsed()).unwrap_or_default();
    eprintln!(
        "controller SIGKILL: workers stopped by themselves within {stopped_after:?}: {codes:?}"
    );
    assert_eq!(codes.len(), 2);
    assert!(
        codes.values().all(Option::is_some),
        "a worker kept running: {codes:?}"
    );
    let keys = run_keys(&moto);
    for id in codes.keys() {
        assert!(
            keys.iter()
                .any(|k| k.contains("/results/") && k.contains(id.as_str())),
            "worker {id} left no result: {keys:?}"
        );
    }
    assert!(ran.target().total() > 0);
}

/// A worker that stops early by itself (SIGTERM straight to its process, as a Spot interruption
/// or a crash-looping host would: not `loadgate stop`, not an abort, not the deadline) flushes
/// what it measured. That is merged, but the worker did not run its share: it is named among the
/// failed workers with its reason, and `fargate.min_workers` decides as for a lost worker.
fn one_worker_stops_early(min_workers: Option<u32>) -> (crate::harness::Ran, String) {
    let moto = setup();
    let fargate = FakeFargate::start(&moto);
    let min = min_workers
        .map(|m| format!("fargate: {{ min_workers: {m} }}\n"))
        .unwrap_or_default();
    let scenario = format!(
        "name: early\ntarget: \"{{target}}\"\nload: {{ concurrency: 2, hold_for: 8s }}\n\
         workers: 2\nrequests: [{{ path: / }}]\n{min}"
    );
    let test = crate::fake_fargate::fargate_run(moto.env(), &["--workers", "2"])
        .scenario(&scenario)
        .target(vec![Route::ok("/")]);
    let bucket = crate::fake_fargate::outputs(&moto).bucket;
    let mut early = String::new();
    let ran = test.run_with(|_| {
        crate::fake_fargate::wait_for_load(&moto, crate::moto::REGION, &bucket, 2);
        early = fargate.term_one();
    });
    let codes = fargate.finish();
    assert_eq!(codes.get(&early), Some(&Some(0)), "{codes:?}");
    let results = ran.results();
    // Everything both workers measured is merged; the early one abandoned at most its one
    // user's request in flight (the target saw it, the worker did not count it).
    let counted = results["total"]["requests"].as_u64().expect("requests");
    let served = ran.target().total();
    assert!(
        counted <= served && served - counted <= 1,
        "counted {counted}, served {served}"
    );
    assert_eq!(results["distributed"]["contributed"], 1, "{}", ran.stderr);
    let failed = results["distributed"]["failed"].to_string();
    assert!(
        failed.contains(&early) && failed.contains("SIGTERM"),
        "{failed}"
    );
    eprintln!(
        "early stop (min_workers {min_workers:?}): exit {}, {counted} of {served} merged, failed {failed}",
        ran.code
    );
    (ran, early)
}

#[test]
fn a_worker_that_stops_early_by_itself_fails_the_run_when_every_worker_is_needed() {
    let (ran, early) = one_worker_stops_early(None);
    ran.code(3);
    let warnings = ran.results()["warnings"].to_string();
    assert!(warnings.contains(&early), "{warnings}");
}

#[test]
fn a_worker_that_stops_early_by_itself_is_named_and_min_workers_lets_the_run_pass() {
    let (ran, early) = one_worker_stops_early(Some(1));
    ran.code(0);
    let warnings = ran.results()["warnings"].to_string();
    assert!(warnings.contains(&early), "{warnings}");
}
