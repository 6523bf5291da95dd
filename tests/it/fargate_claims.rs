//! The README's claims about distributed runs that tests/it/fargate.rs does not hold, each one
//! waiting for a state it can observe (a worker's live snapshot in the bucket, a call the proxy
//! saw) instead of a duration. The stack comes from the harness (tests/it/fake_fargate.rs); its
//! names are read from the stack's outputs, not assumed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loadgate::cloud::outputs::StackOutputs;
use loadgate::target::Route;
use serde_json::Value;

use crate::fake_fargate::{self, FakeFargate, STACK};
use crate::harness::{Ran, Test};
use crate::moto::Moto;
use crate::proxy::{Proxy, Reply};

fn scenario(load: &str, extra: &str) -> String {
    format!(
        "name: claims\ntarget: \"{{target}}\"\nload: {load}\nrequests:\n  - {{ name: a, path: /a }}\n  - {{ name: b, path: /b }}\n{extra}"
    )
}

/// `loadgate run --executor fargate` with `env` (moto's, or a proxy's in front of it).
fn controller(env: Vec<(&'static str, String)>, yaml: &str, workers: &str) -> Test {
    crate::fake_fargate::fargate_run(env, &["--workers", workers])
        .scenario(yaml)
        .target(vec![Route::ok("/a"), Route::ok("/b")])
}

fn setup() -> Moto {
    let moto = Moto::start();
    moto.keep_tasks_running();
    fake_fargate::deploy(&moto);
    moto
}

fn outputs(moto: &Moto) -> StackOutputs {
    fake_fargate::runtime().block_on(async {
        loadgate::cloud::outputs::describe(&moto.aws().await, STACK)
            .await
            .expect("the stack's outputs")
    })
}

/// Every object of the bucket under `prefix`, parsed as JSON (`Null` when it is not JSON).
fn objects(moto: &Moto, bucket: &str, prefix: &str) -> BTreeMap<String, Value> {
    fake_fargate::runtime().block_on(async {
        let s3 = moto.aws().await.s3();
        let list = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("list");
        let mut out = BTreeMap::new();
        for o in list.contents() {
            let key = o.key().unwrap_or_default().to_string();
            let got = s3.get_object().bucket(bucket).key(&key).send().await;
            let Ok(got) = got else { continue };
            let body = got.body.collect().await.expect("body").into_bytes();
            out.insert(key, serde_json::from_slice(&body).unwrap_or(Value::Null));
        }
        out
    })
}

/// The lastStatus of every task of the cluster.
fn task_statuses(moto: &Moto, cluster: &str) -> Vec<String> {
    fake_fargate::task_statuses(moto, crate::moto::REGION, cluster)
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) of our own child's pid has no memory effects.
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn assert_counts_match(ran: &Ran) {
    let results = ran.results();
    for (label, path) in [("a", "/a"), ("b", "/b")] {
        assert_eq!(
            results["labels"][label]["requests"].as_u64(),
            Some(ran.target().count(path)),
            "label {label}\n{}",
            ran.stderr
        );
    }
    assert_eq!(
        results["total"]["requests"].as_u64(),
        Some(ran.target().total())
    );
}

#[test]
fn the_merge_adds_the_workers_results_and_measures_their_start_skew() {
    let moto = setup();
    let bucket = outputs(&moto).bucket;
    let fargate = FakeFargate::start(&moto);
    let ran = controller(
        moto.env(),
        &scenario("{ concurrency: 6, hold_for: 2s }", ""),
        "3",
    )
    .run();
    let codes = fargate.finish();
    ran.code(0);
    assert_counts_match(&ran);
    assert_eq!(codes.len(), 3, "{codes:?}");
    assert!(codes.values().all(|c| *c == Some(0)), "{codes:?}");
    let results = ran.results();
    let run_id = results["run_id"].as_str().expect("run id");
    let parts = objects(&moto, &bucket, &format!("runs/{run_id}/results/"));
    assert_eq!(parts.len(), 3, "{parts:?}");
    // Each label of the merged report is the sum of the workers' (histograms add; no average).
    for label in ["a", "b"] {
        let sum: u64 = parts
            .values()
            .map(|p| {
                p["results"]["labels"][label]["requests"]
                    .as_u64()
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(results["labels"][label]["requests"].as_u64(), Some(sum));
        let count: u64 = parts
            .values()
            .filter(|p| p["results"]["labels"][label]["requests"].as_u64() > Some(0))
            .count() as u64;
        assert_eq!(count, 3, "every worker sent label {label}");
    }
    // The skew is the spread of the workers' own start instants, as they wrote them.
    let starts: Vec<i64> = parts
        .values()
        .map(|p| p["started_at_ms"].as_i64().expect("a start instant"))
        .collect();
    let spread = starts.iter().max().unwrap() - starts.iter().min().unwrap();
    assert_eq!(
        results["distributed"]["start_skew_ms"].as_f64(),
        Some(spread as f64),
        "{starts:?}"
    );
}

/// Cancels a 2-worker run with `sig` once the load runs on both workers.
fn cancelled_mid_load(sig: i32) {
    let moto = setup();
    let out = outputs(&moto);
    let fargate = FakeFargate::start(&moto);
    let ran = controller(
        moto.env(),
        &scenario("{ concurrency: 2, hold_for: 60s }", ""),
        "2",
    )
    .run_with(|child| {
        fake_fargate::wait_for_load(&moto, crate::moto::REGION, &out.bucket, 2);
        signal(child, sig);
    });
    let codes = fargate.finish();
    ran.code(130);
    let results = ran.results();
    assert_eq!(results["partial"], true);
    assert_eq!(results["executor"], "fargate");
    let stopped = results["stopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("cancelled"), "{stopped}");
    let statuses = task_statuses(&moto, &out.cluster_name);
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(statuses.iter().all(|s| s == "STOPPED"), "{statuses:?}");
    // Both workers flushed what they had measured and exited cleanly.
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert!(codes.values().all(|c| *c == Some(0)), "{codes:?}");
    let counted = results["total"]["requests"].as_u64().unwrap_or(0);
    let served = ran.target().total();
    assert!(counted > 0, "{}", ran.stderr);
    // Requests in flight at the stop are served but not counted: at most one per user.
    assert!(
        counted <= served && served - counted <= 2,
        "{counted} of {served}"
    );
}

#[test]
fn sigint_to_the_controller_stops_every_task_and_exits_130_with_a_partial_report() {
    cancelled_mid_load(libc::SIGINT);
}

#[test]
fn sigterm_to_the_controller_stops_every_task_and_exits_130_with_a_partial_report() {
    cancelled_mid_load(libc::SIGTERM);
}

#[test]
fn an_abort_threshold_breached_on_live_data_stops_every_worker() {
    let moto = setup();
    let out = outputs(&moto);
    let fargate = FakeFargate::start(&moto);
    let yaml = scenario(
        "{ concurrency: 2, hold_for: 60s }",
        "thresholds:\n  - { expr: \"rps < 1\", abort: true }\n",
    );
    let ran = controller(moto.env(), &yaml, "2").run();
    let codes = fargate.finish();
    ran.code(1);
    let results = ran.results();
    assert_eq!(results["partial"], true);
    let stopped = results["stopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("rps < 1"), "{stopped}");
    let statuses = task_statuses(&moto, &out.cluster_name);
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(statuses.iter().all(|s| s == "STOPPED"), "{statuses:?}");
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert!(codes.values().all(|c| *c == Some(0)), "{codes:?}");
    let run_id = results["run_id"].as_str().expect("run id");
    let abort = objects(&moto, &out.bucket, &format!("runs/{run_id}/abort.json"));
    let reason = abort
        .values()
        .next()
        .and_then(|a| a["reason"].as_str())
        .unwrap_or_default();
    assert!(reason.contains("rps < 1"), "{abort:?}");
    assert!(
        ran.stdout.contains("2 of 2 workers contributed"),
        "{}",
        ran.stdout
    );
}

/// A run of 3 workers in which one is killed (no result) once the load runs on all of them.
fn lost_mid_run(extra: &str) -> (Ran, String) {
    let moto = setup();
    let bucket = outputs(&moto).bucket;
    let fargate = FakeFargate::start(&moto);
    let mut killed = String::new();
    let ran = controller(
        moto.env(),
        &scenario("{ concurrency: 3, hold_for: 6s }", extra),
        "3",
    )
    .run_with(|_| {
        fake_fargate::wait_for_load(&moto, crate::moto::REGION, &bucket, 3);
        killed = fargate.kill_one(&moto);
    });
    drop(fargate);
    (ran, killed)
}

#[test]
fn a_lost_worker_fails_the_run_naming_its_task_reason_and_log_stream() {
    let (ran, killed) = lost_mid_run("");
    ran.code(3);
    let results = ran.results();
    let failed = results["distributed"]["failed"]
        .as_array()
        .expect("failed workers");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["worker"], killed.as_str());
    let reason = failed[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Essential container in task exited"),
        "{reason}"
    );
    let stream = format!("loadgate/worker/{killed}");
    assert_eq!(failed[0]["log_stream"], stream.as_str());
    let summary = ran.read("loadgate-report/summary.md");
    assert!(
        summary.contains(&stream),
        "the summary names the log stream:\n{summary}"
    );
    assert_eq!(results["distributed"]["contributed"], 2);
}

#[test]
fn min_workers_lets_a_run_lose_a_worker_and_says_which() {
    let (ran, killed) = lost_mid_run("workers: 3\nfargate: { min_workers: 2 }\n");
    ran.code(0);
    let results = ran.results();
    assert_eq!(results["distributed"]["contributed"], 2);
    let warnings = results["warnings"].to_string();
    assert!(warnings.contains(&killed), "{warnings}");
    assert!(
        warnings.contains(&format!("loadgate/worker/{killed}")),
        "{warnings}"
    );
}

// --- a worker lost before the start ---------------------------------------------------------------

/// Plays Fargate like tests/it/fake_fargate.rs, except that the first task never starts: it is
/// stopped as a task that could not pull its image is, before its worker could say ready.
struct Player {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    children: Arc<Mutex<Vec<Child>>>,
    lost: Arc<Mutex<Option<String>>>,
}

const PULL_FAILED: &str =
    "CannotPullContainerError: pull image manifest has been retried 5 time(s)";

impl Player {
    fn start(moto: &Moto, cluster: &str) -> Player {
        let metadata = TcpListener::bind("127.0.0.1:0").expect("bind metadata");
        let meta_addr = metadata.local_addr().expect("addr");
        let arn_cluster = cluster.to_string();
        std::thread::spawn(move || serve_metadata(metadata, &arn_cluster));
        let stop = Arc::new(AtomicBool::new(false));
        let children: Arc<Mutex<Vec<Child>>> = Arc::default();
        let lost: Arc<Mutex<Option<String>>> = Arc::default();
        let (flag, kids, first) = (stop.clone(), children.clone(), lost.clone());
        let (env, endpoint, cluster) = (moto.env(), moto.endpoint.clone(), cluster.to_string());
        let thread = std::thread::spawn(move || {
            fake_fargate::runtime().block_on(async move {
                let ecs = fake_fargate::aws_for(&endpoint).await.ecs();
                let mut seen = BTreeSet::new();
                while !flag.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let Ok(list) = ecs.list_tasks().cluster(&cluster).send().await else {
                        continue;
                    };
                    let arns = list.task_arns().to_vec();
                    if arns.is_empty() {
                        continue;
                    }
                    let Ok(described) = ecs
                        .describe_tasks()
                        .cluster(&cluster)
                        .set_tasks(Some(arns))
                        .send()
                        .await
                    else {
                        continue;
                    };
                    for task in described.tasks() {
                        let arn = task.task_arn().unwrap_or_default().to_string();
                        let id = arn.rsplit('/').next().unwrap_or_default().to_string();
                        if !seen.insert(id.clone()) {
                            continue;
                        }
                        let never_starts = {
                            let mut lost = first.lock().expect("lock");
                            lost.is_none() && lost.replace(id.clone()).is_none()
                        };
                        if never_starts {
                            ecs.stop_task()
                                .cluster(&cluster)
                                .task(&arn)
                                .reason(PULL_FAILED)
                                .send()
                                .await
                                .expect("stop the task that never starts");
                            continue;
                        }
                        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgate"));
                        cmd.arg("worker")
                            .env_remove("LOADGATE_FARGATE_TIMING")
                            .env(
                                "ECS_CONTAINER_METADATA_URI_V4",
                                format!("http://{meta_addr}/v4/{id}"),
                            )
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .stderr(Stdio::inherit());
                        for (k, v) in &env {
                            cmd.env(k, v);
                        }
                        for o in task
                            .overrides()
                            .map(|o| o.container_overrides())
                            .unwrap_or_default()
                        {
                            for kv in o.environment() {
                                if let (Some(k), Some(v)) = (kv.name(), kv.value()) {
                                    cmd.env(k, v);
                                }
                            }
                        }
                        kids.lock()
                            .expect("lock")
                            .push(cmd.spawn().expect("start a worker"));
                    }
                }
            });
        });
        Player {
            stop,
            thread: Some(thread),
            children,
            lost,
        }
    }

    fn lost(&self) -> String {
        self.lost
            .lock()
            .expect("lock")
            .clone()
            .expect("a task was lost")
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for child in self.children.lock().expect("lock").iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The task metadata endpoint: `GET /v4/<task_id>/task` -> `{"TaskARN": ...}`.
fn serve_metadata(listener: TcpListener, cluster: &str) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            continue;
        }
        let path = line.split_whitespace().nth(1).unwrap_or_default();
        let id = path.trim_start_matches("/v4/").trim_end_matches("/task");
        let body =
            format!(r#"{{"TaskARN":"arn:aws:ecs:us-east-1:123456789012:task/{cluster}/{id}"}}"#);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

#[test]
fn a_worker_lost_before_the_start_has_its_share_handed_on() {
    let moto = setup();
    let out = outputs(&moto);
    let player = Player::start(&moto, &out.cluster_name);
    let yaml = scenario(
        "{ concurrency: 6, hold_for: 2s }",
        "workers: 3\nfargate: { min_workers: 2 }\n",
    );
    let ran = controller(moto.env(), &yaml, "3").run();
    let lost = player.lost();
    drop(player);
    ran.code(0);
    assert_counts_match(&ran);
    let results = ran.results();
    let run_id = results["run_id"].as_str().expect("run id");
    let start = &objects(&moto, &out.bucket, &format!("runs/{run_id}/start.json"))
        [&format!("runs/{run_id}/start.json")];
    let shares = start["shares"].as_object().expect("shares");
    // The two ready workers carry the whole load between them: 6 users, not 4.
    assert_eq!(shares.len(), 2, "{start}");
    assert!(!shares.contains_key(&lost), "{start}");
    let users: u64 = shares
        .values()
        .map(|s| s["concurrency"].as_u64().expect("a closed share"))
        .sum();
    assert_eq!(users, 6, "{start}");
    assert_eq!(results["distributed"]["contributed"], 2);
    let warnings = results["warnings"].to_string();
    assert!(warnings.contains(&lost), "{warnings}");
    assert!(warnings.contains("took their share"), "{warnings}");
    assert!(warnings.contains("CannotPullContainerError"), "{warnings}");
}

// --- refused or interrupted before any task ---------------------------------------------------------

#[test]
fn a_run_beyond_the_fargate_vcpu_quota_is_refused_before_any_task_starts() {
    let moto = setup();
    let proxy = Proxy::with(&moto, |seen| {
        if seen.action() == "GetServiceQuota" {
            let code = seen.json()["QuotaCode"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Reply::Answer {
                status: 200,
                body: format!(
                    r#"{{"Quota":{{"ServiceCode":"fargate","QuotaCode":"{code}","QuotaName":"Fargate On-Demand vCPU resource count","Value":2.0,"Unit":"None","Adjustable":true,"GlobalQuota":false}}}}"#
                ),
            }
        } else {
            Reply::Forward
        }
    });
    let ran = controller(
        proxy.env(),
        &scenario("{ concurrency: 3, hold_for: 2s }", ""),
        "3",
    )
    .run();
    ran.code(3);
    assert!(
        ran.stderr
            .contains("3 workers of 1 vCPU need 3 vCPU, but the account's Fargate quota in us-east-1 is 2 vCPU"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("Service Quotas"), "{}", ran.stderr);
    let quota = proxy.calls("GetServiceQuota");
    assert_eq!(quota.len(), 1);
    assert_eq!(quota[0].json()["QuotaCode"], "L-3032A538", "on-demand vCPU");
    assert!(proxy.calls("RunTask").is_empty(), "a task was launched");
    assert!(task_statuses(&moto, &outputs(&moto).cluster_name).is_empty());
    assert_eq!(ran.target().total(), 0);
}

#[test]
fn ctrl_c_while_a_run_waits_for_the_stack_exits_130_before_any_task() {
    let moto = Moto::start();
    let held = Arc::new(AtomicUsize::new(0));
    let count = held.clone();
    // moto creates a stack at once; the proxy shows it in progress for as long as the test needs.
    let proxy = Proxy::with(&moto, move |seen| {
        if seen.action() != "DescribeStacks" {
            return Reply::Forward;
        }
        let count = count.clone();
        Reply::Edit(Box::new(move |body| {
            let complete = "<StackStatus>CREATE_COMPLETE</StackStatus>";
            if body.contains(complete) {
                count.fetch_add(1, Ordering::SeqCst);
            }
            body.replace(complete, "<StackStatus>CREATE_IN_PROGRESS</StackStatus>")
        }))
    });
    let ran = controller(
        proxy.env(),
        &scenario("{ concurrency: 2, hold_for: 2s }", ""),
        "2",
    )
    .run_with(|child| {
        // Two polls of the wait: the wait (and its Ctrl-C handler) is running.
        let deadline = Instant::now() + Duration::from_secs(60);
        while held.load(Ordering::SeqCst) < 2 {
            assert!(
                Instant::now() < deadline,
                "the run never waited for the stack"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(child, libc::SIGINT);
    });
    ran.code(130);
    assert!(
        ran.stderr
            .contains("interrupted while waiting for stack loadgate: it is CREATE_IN_PROGRESS"),
        "{}",
        ran.stderr
    );
    assert_eq!(proxy.calls("CreateStack").len(), 1);
    assert!(proxy.calls("RunTask").is_empty());
    assert!(
        !proxy.seen().iter().any(|s| s.method == "PUT"),
        "the run wrote to the bucket"
    );
    assert_eq!(ran.target().total(), 0);
}

// --- the worker's own deadline ----------------------------------------------------------------------

#[test]
fn a_worker_stops_by_itself_at_the_plans_deadline() {
    use loadgate::cloud::run::store::Store;
    use loadgate::protocol::{
        self, Heartbeat, PlanDoc, RunLocation, StartDoc, Timing, WorkerResult, VERSION,
    };
    use loadgate::target::Target;

    let moto = Moto::start();
    let target = Target::start(vec![Route::ok("/a")]).expect("target");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("loadgate.yaml");
    let yaml = format!(
        "name: w\ntarget: \"{}\"\nload: {{ concurrency: 2, hold_for: 120s }}\nrequests:\n  - {{ name: a, path: /a }}\n",
        target.url()
    );
    std::fs::write(&path, yaml).expect("scenario");
    let plan = loadgate::scenario::load(&path, &loadgate::scenario::ProcessEnv)
        .expect("scenario loads")
        .plan;
    let rt = fake_fargate::runtime();
    let loc = RunLocation::new("deadline", "r1");
    // The heartbeat never goes stale (10 minutes) and nobody aborts: only the deadline is left.
    let timing = Timing {
        heartbeat_every: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(600),
        live_every: Duration::from_secs(1),
        start_delay: Duration::from_millis(500),
        ready_timeout: Duration::from_secs(60),
    };
    let store = rt.block_on(async {
        let aws = moto.aws().await;
        aws.s3()
            .create_bucket()
            .bucket("deadline")
            .send()
            .await
            .expect("bucket");
        let store = Store::new(&aws, "deadline");
        let beat = Heartbeat {
            version: VERSION,
            at_ms: 0,
        };
        store
            .put_json(&loc.heartbeat(), &beat)
            .await
            .expect("heartbeat");
        let deadline_ms = store.clock().now_ms() + 8_000;
        let doc = PlanDoc {
            version: VERSION,
            run_id: loc.run_id.clone(),
            plan: serde_json::to_value(&plan).expect("plan"),
            secrets: Vec::new(),
            workers: 1,
            deadline_ms,
            timing,
        };
        store.put_json(&loc.plan(), &doc).await.expect("plan.json");
        store
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgate"));
    cmd.arg("worker")
        .env(protocol::RUN_ENV, loc.url())
        .env_remove("ECS_CONTAINER_METADATA_URI_V4")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    let mut worker = cmd.spawn().expect("worker starts");
    let id = rt.block_on(async {
        let prefix = loc.ready_prefix();
        let until = Instant::now() + Duration::from_secs(60);
        let id = loop {
            let keys = store.list(&prefix).await.expect("list");
            if let Some(id) = keys.iter().find_map(|k| protocol::worker_of(k, &prefix)) {
                break id;
            }
            assert!(Instant::now() < until, "the worker never said ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let start = StartDoc {
            version: VERSION,
            start_at_ms: store.clock().now_ms() + 500,
            shares: BTreeMap::from([(id.clone(), plan.load)]),
            users: BTreeMap::new(),
        };
        store
            .put_json(&loc.start(), &start)
            .await
            .expect("start.json");
        id
    });
    // Refresh the heartbeat as a live controller would, until the worker exits by itself.
    let until = Instant::now() + Duration::from_secs(90);
    let code = loop {
        if let Ok(Some(status)) = worker.try_wait() {
            break status.code();
        }
        if Instant::now() > until {
            let _ = worker.kill();
            panic!("the worker ran past its deadline");
        }
        let beat = Heartbeat {
            version: VERSION,
            at_ms: 0,
        };
        let _ = rt.block_on(store.put_json(&loc.heartbeat(), &beat));
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(code, Some(0));
    let result: WorkerResult = rt
        .block_on(store.get_json(&loc.result(&id)))
        .expect("read")
        .expect("the worker wrote its result");
    let stopped = result.stopped.unwrap_or_default();
    assert!(stopped.contains("deadline"), "{stopped}");
    // Its 120 s share was cut short by the deadline (a finished share has no `stopped`).
    assert!(result.results.expect("figures").total.requests > 0);
}
