//! Run history in S3 (moto's): the store in-process, then two runs of the binary sharing it with
//! `--history s3://bucket`, a main run and a pull request's compared with it.

use std::time::Duration;

use loadgate::history::{self, HistoryStore, RunInfo};
use loadgate::results::{Results, RunMeta};
use loadgate::stats::Aggregate;
use loadgate::target::{Latency, Route};

use crate::harness::{Ran, Test};
use crate::moto::Moto;

const BUCKET: &str = "loadgate-history-test";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// moto with the bucket created, and an `Aws` for in-process calls.
fn moto_with_bucket(rt: &tokio::runtime::Runtime) -> (Moto, loadgate::cloud::aws::Aws) {
    let moto = Moto::start();
    let aws = rt.block_on(moto.aws());
    rt.block_on(aws.s3().create_bucket().bucket(BUCKET).send())
        .expect("create bucket");
    (moto, aws)
}

fn run(started_at: &str, run_id: &str) -> Results {
    let meta = RunMeta {
        scenario: "checkout-api".to_string(),
        run_id: run_id.to_string(),
        executor: "fargate".to_string(),
        workers: 3,
        started_at: started_at.to_string(),
        partial: false,
        load: None,
    };
    let mut r = Results::new(meta, &Aggregate::new(&["home".to_string()]));
    r.passed = true;
    r
}

fn info(branch: &str, commit: &str) -> RunInfo {
    RunInfo {
        branch: branch.to_string(),
        commit: Some(commit.to_string()),
    }
}

#[test]
fn s3_history_records_lists_and_reads_back_like_a_directory() {
    let rt = runtime();
    let (_moto, aws) = moto_with_bucket(&rt);
    let store = history::s3_history(&aws, BUCKET).expect("store");
    assert!(store.scenarios().expect("lists").is_empty());
    assert!(store
        .list("checkout-api", "main")
        .expect("lists")
        .is_empty());

    let first = store
        .record(&run("2026-11-26T18:00:00Z", "a"), &info("main", "111"))
        .expect("recorded");
    store
        .record(&run("2026-11-26T19:00:00Z", "b"), &info("main", "222"))
        .expect("recorded");
    store
        .record(
            &run("2026-11-26T20:00:00Z", "pr"),
            &info("feature/x", "333"),
        )
        .expect("recorded");
    assert_eq!(first.key, "checkout-api/main/20261126T180000Z-a.json");

    // The stack's layout: under history/, one "directory" per scenario and (encoded) branch.
    let objects = rt
        .block_on(aws.s3().list_objects_v2().bucket(BUCKET).send())
        .expect("list objects");
    let mut keys: Vec<&str> = objects.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "history/checkout-api/feature%2Fx/20261126T200000Z-pr.json",
            "history/checkout-api/main/20261126T180000Z-a.json",
            "history/checkout-api/main/20261126T190000Z-b.json",
        ]
    );

    assert_eq!(store.scenarios().expect("lists"), ["checkout-api"]);
    assert_eq!(
        store.branches("checkout-api").expect("lists"),
        ["feature/x", "main"]
    );
    let main = store.list("checkout-api", "main").expect("lists");
    let ids: Vec<&str> = main.iter().map(|e| e.run_id.as_str()).collect();
    assert_eq!(ids, ["b", "a"], "newest first");
    let loaded = store.load(&main[0]).expect("loads");
    assert_eq!(loaded.run_id, "b");
    assert_eq!(loaded.branch.as_deref(), Some("main"));
    assert_eq!(loaded.commit.as_deref(), Some("222"));
    assert_eq!(loaded.executor, "fargate");
    assert_eq!(
        store.describe(),
        format!("history s3://{BUCKET}/history/"),
        "messages name the bucket and prefix"
    );

    // An entry whose object is gone is an infrastructure error naming it, not a panic.
    rt.block_on(
        aws.s3()
            .delete_object()
            .bucket(BUCKET)
            .key(format!("history/{}", main[1].key))
            .send(),
    )
    .expect("delete");
    let err = store.load(&main[1]).expect_err("object is gone");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("20261126T180000Z-a.json"), "{err}");
}

#[test]
fn the_store_can_be_used_from_inside_a_runtime() {
    // The Fargate controller is async; the synchronous store must not panic inside it.
    let rt = runtime();
    let (_moto, aws) = moto_with_bucket(&rt);
    let listed = rt.block_on(async {
        let store = history::s3_history(&aws, BUCKET).expect("store");
        store
            .record(&run("2026-11-26T18:00:00Z", "a"), &info("main", "1"))
            .expect("recorded");
        let listed = store.list("checkout-api", "main").expect("lists");
        drop(store);
        listed
    });
    assert_eq!(listed.len(), 1);
}

const SCENARIO: &str = r#"
name: checkout
target: "{target}"
load: { concurrency: 2, hold_for: 1s }
requests:
  - { name: home, path: /home }
  - { name: checkout, path: /checkout }
thresholds:
  - error_rate < 1%
  - "checkout: p95 < baseline + 10%"
"#;

/// CI variables of the machine running the tests must not leak into these runs: empty is unset.
const CI_VARS: [&str; 8] = [
    "GITHUB_HEAD_REF",
    "GITHUB_BASE_REF",
    "GITHUB_REF_NAME",
    "GITHUB_SHA",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_SHA",
];

fn binary(moto: &Moto, history: &str, checkout: Duration, env: &[(&str, &str)]) -> Ran {
    let mut t = Test::new()
        .scenario(SCENARIO)
        .target(vec![
            Route::ok("/home"),
            Route::ok("/checkout").latency(Latency::Fixed(checkout)),
        ])
        .args(&["run", "--threads", "2", "--history", history]);
    for var in CI_VARS {
        t = t.env(var, "");
    }
    for (k, v) in moto.env() {
        t = t.env(k, &v);
    }
    for (k, v) in env {
        t = t.env(k, v);
    }
    t.run()
}

#[test]
fn local_runs_share_history_in_s3_and_a_pull_request_is_compared_with_main() {
    let rt = runtime();
    let (moto, aws) = moto_with_bucket(&rt);
    let history = format!("s3://{BUCKET}");

    let main = binary(
        &moto,
        &history,
        Duration::ZERO,
        &[
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_SHA", "1111111111111111111111111111111111111111"),
        ],
    );
    main.code(0);
    assert_eq!(main.results()["branch"], "main");

    let pr = binary(
        &moto,
        &history,
        Duration::from_millis(60),
        &[
            ("GITHUB_HEAD_REF", "feature"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_SHA", "2222222222222222222222222222222222222222"),
        ],
    );
    pr.code(1);
    let results = pr.results();
    assert_eq!(results["branch"], "feature");
    assert_eq!(results["baseline"]["branch"], "main");
    assert_eq!(results["baseline"]["run_id"], main.results()["run_id"]);
    assert_eq!(results["thresholds"][1]["passed"], false);
    let summary = pr.read("loadgate-report/summary.md");
    assert!(
        summary.contains("on `main` · commit `111111111111`"),
        "{summary}"
    );
    assert!(summary.contains("🔴 checkout: p95 "), "{summary}");

    // Both runs are in the bucket, where a Fargate run of the same stack finds them too.
    let store = history::s3_history(&aws, BUCKET).expect("store");
    assert_eq!(
        store.branches("checkout").expect("lists"),
        ["feature", "main"]
    );
    let listed = Test::new()
        .args(&["history", "checkout", "--history", &history])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", crate::moto::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .run();
    listed.code(0);
    assert!(
        listed.stdout.contains("checkout · main\n"),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains("2222222"), "{}", listed.stdout);
}

#[test]
fn a_missing_bucket_stops_the_run_before_any_load() {
    let moto = Moto::start();
    let ran = binary(&moto, "s3://no-such-bucket", Duration::ZERO, &[]);
    ran.code(3);
    assert!(
        ran.stderr.contains("s3://no-such-bucket/history/"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("NoSuchBucket"), "{}", ran.stderr);
    assert_eq!(ran.target().total(), 0, "no load was sent");
}

#[test]
fn a_malformed_s3_history_url_is_invalid_input() {
    let ran = Test::new()
        .scenario(SCENARIO)
        .args(&["run", "--history", "s3://Not_A_Bucket"])
        .run();
    ran.code(2);
    assert!(
        ran.stderr.contains("expected s3://BUCKET"),
        "{}",
        ran.stderr
    );
}
