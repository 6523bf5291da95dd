//! Distributed runs end to end: the controller binary against moto, with tests/it/fake_fargate.rs
//! playing Fargate (a local `loadgate worker` per task moto records).

use std::time::Duration;

use loadgate::target::Route;

use crate::fake_fargate::{self, FakeFargate};
use crate::harness::{Ran, Test};
use crate::moto::Moto;

const SECRET: &str = "tok-5e1f09a7c3";

fn scenario(load: &str, extra: &str) -> String {
    format!(
        "name: dist\ntarget: \"{{target}}\"\ndefaults: {{ headers: {{ Authorization: \"Bearer ${{API_TOKEN}}\" }} }}\n\
         load: {load}\nrequests:\n  - {{ name: a, path: /a }}\n  - {{ name: b, path: /b }}\n{extra}"
    )
}

fn routes() -> Vec<Route> {
    let auth = format!("Bearer {SECRET}");
    vec![
        Route::ok("/a").require_header("authorization", &auth),
        Route::ok("/b").require_header("authorization", &auth),
    ]
}

fn controller(moto: &Moto, yaml: &str, workers: &str) -> Test {
    crate::fake_fargate::fargate_run(moto.env(), &["--workers", workers])
        .scenario(yaml)
        .target(routes())
        .env("API_TOKEN", SECRET)
}

fn setup() -> Moto {
    let moto = Moto::start();
    moto.keep_tasks_running();
    fake_fargate::deploy(&moto);
    moto
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

/// Every object of the bucket, as text.
fn bucket_objects(moto: &Moto) -> Vec<(String, String)> {
    let bucket = fake_fargate::outputs(moto).bucket;
    fake_fargate::runtime().block_on(async {
        let s3 = moto.aws().await.s3();
        let list = s3
            .list_objects_v2()
            .bucket(&bucket)
            .send()
            .await
            .expect("list");
        let mut out = Vec::new();
        for o in list.contents() {
            let key = o.key().unwrap_or_default().to_string();
            let got = s3
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .expect("get");
            let body = got.body.collect().await.expect("body").into_bytes();
            out.push((key, String::from_utf8_lossy(&body).into_owned()));
        }
        out
    })
}

fn task_statuses(moto: &Moto) -> Vec<String> {
    let cluster = fake_fargate::outputs(moto).cluster_name;
    fake_fargate::task_statuses(moto, crate::moto::REGION, &cluster)
}

#[test]
fn three_workers_report_exactly_what_the_target_served() {
    let moto = setup();
    let fargate = FakeFargate::start(&moto);
    let ran = controller(
        &moto,
        &scenario("{ concurrency: 6, hold_for: 2s }", ""),
        "3",
    )
    .run();
    let codes = fargate.finish();
    ran.code(0);
    assert_counts_match(&ran);
    let results = ran.results();
    assert_eq!(results["executor"], "fargate");
    assert_eq!(results["workers"], 3);
    assert_eq!(results["distributed"]["contributed"], 3, "{}", ran.stderr);
    assert!(ran.target().total() > 0);
    // The secret reached the target (401s would be errors) ...
    assert_eq!(results["total"]["errors"], 0, "{}", ran.stderr);
    // ... and was never written to S3 in plaintext, and its SSM parameters are gone.
    let objects = bucket_objects(&moto);
    assert!(objects.iter().any(|(k, _)| k.ends_with("plan.json")));
    // The merged reports are kept beside the run's protocol files.
    let run_id = results["run_id"].as_str().expect("run id");
    for file in ["summary.md", "junit.xml", "results.json", "report.html"] {
        let key = format!("runs/{run_id}/report/{file}");
        assert!(objects.iter().any(|(k, _)| *k == key), "no {key}");
    }
    for (key, text) in &objects {
        assert!(!text.contains(SECRET), "{key} holds the secret");
    }
    let left = fake_fargate::runtime().block_on(async {
        let ssm = moto.aws().await.ssm();
        ssm.get_parameters_by_path()
            .path("/loadgate/loadgate/runs")
            .recursive(true)
            .send()
            .await
            .expect("ssm")
            .parameters()
            .len()
    });
    assert_eq!(left, 0, "the run's secrets were left in SSM");
    assert_eq!(codes.len(), 3);
    assert!(codes.values().all(|c| *c == Some(0)), "{codes:?}");
    // The start skew and the exact merge: tests/it/fargate_claims.rs.
}

#[test]
fn fifty_tasks_launch_in_five_parallel_run_task_calls() {
    use loadgate::cloud::run::tasks;
    let moto = setup();
    let (out, took) = fake_fargate::runtime().block_on(async {
        let aws = moto.aws().await;
        let ecs = aws.ecs();
        let outputs = loadgate::cloud::outputs::describe(&aws, fake_fargate::STACK)
            .await
            .expect("outputs");
        let spec = tasks::TaskSpec {
            family: "loadgate-worker".into(),
            image: "x".into(),
            cpu: 1024,
            memory: 2048,
            arm64: false,
            execution_role_arn: outputs.execution_role_arn.clone(),
            task_role_arn: outputs.task_role_arn.clone(),
            log_group: outputs.log_group.clone(),
            region: "us-east-1".into(),
        };
        let def = tasks::ensure_task_definition(&ecs, &spec)
            .await
            .expect("task definition");
        // A second run with the same sizing reuses the revision.
        let again = tasks::ensure_task_definition(&ecs, &spec)
            .await
            .expect("again");
        assert_eq!(def, again);
        let launch = tasks::Launch {
            cluster: outputs.cluster_name.clone(),
            task_definition: def,
            subnets: outputs.subnet_ids.clone(),
            security_group: outputs.security_group_id.clone(),
            public_ip: true,
            run_id: "r50".into(),
            run_url: "s3://lg-runs/runs/r50".into(),
            spot: false,
            rounds: 2,
            backoff: Duration::from_millis(10),
        };
        let started = std::time::Instant::now();
        let out = tasks::launch(&ecs, &launch, 50).await;
        let took = started.elapsed();
        let listed = tasks::list(&ecs, &outputs.cluster_name, Some("r50"))
            .await
            .expect("list");
        assert_eq!(listed.len(), 50);
        (out, took)
    });
    eprintln!(
        "50 tasks launched against moto in {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    assert_eq!(out.arns.len(), 50, "{:?}", out.failures);
    assert_eq!(out.calls, 5);
}

#[test]
fn runs_lists_a_run_and_stop_ends_it() {
    use loadgate::cloud::run::tasks;
    let moto = setup();
    fake_fargate::runtime().block_on(async {
        let aws = moto.aws().await;
        let outputs = loadgate::cloud::outputs::describe(&aws, fake_fargate::STACK)
            .await
            .expect("outputs");
        let spec = tasks::TaskSpec {
            family: "loadgate-worker".into(),
            image: "x".into(),
            cpu: 1024,
            memory: 2048,
            arm64: false,
            execution_role_arn: outputs.execution_role_arn.clone(),
            task_role_arn: outputs.task_role_arn.clone(),
            log_group: outputs.log_group.clone(),
            region: "us-east-1".into(),
        };
        let def = tasks::ensure_task_definition(&aws.ecs(), &spec)
            .await
            .expect("definition");
        let launch = tasks::Launch {
            cluster: outputs.cluster_name.clone(),
            task_definition: def,
            subnets: outputs.subnet_ids.clone(),
            security_group: outputs.security_group_id.clone(),
            public_ip: true,
            run_id: "r9".into(),
            run_url: "s3://lg-runs/runs/r9".into(),
            spot: false,
            rounds: 0,
            backoff: Duration::from_millis(10),
        };
        assert_eq!(tasks::launch(&aws.ecs(), &launch, 3).await.arns.len(), 3);
    });
    let with_moto = |args: &[&str]| {
        let mut t = Test::new().args(args);
        for (k, v) in moto.env() {
            t = t.env(k, &v);
        }
        t.run()
    };
    let listed = with_moto(&["runs"]);
    listed.code(0);
    assert!(listed.stdout.contains("r9  3 task(s)"), "{}", listed.stdout);
    let stopped = with_moto(&["stop", "r9"]);
    stopped.code(0);
    assert!(
        stopped.stdout.contains("3 task(s) stopped"),
        "{}",
        stopped.stdout
    );
    let statuses = task_statuses(&moto);
    assert_eq!(statuses.len(), 3);
    assert!(statuses.iter().all(|s| s == "STOPPED"), "{statuses:?}");
    assert!(bucket_objects(&moto)
        .iter()
        .any(|(k, _)| k == "runs/r9/abort.json"));
    with_moto(&["stop", "a/b"]).code(2);
}

#[test]
fn a_secret_ssm_cannot_hold_is_refused_before_any_aws_call_naming_only_its_variable() {
    let big = "s".repeat(8_193);
    let ran = Test::new()
        .scenario(
            "name: big\ntarget: \"{target}\"\ndefaults: { headers: { X-Cert: \"${BIG_CERT}\" } }\n\
             load: { concurrency: 1, hold_for: 1s }\nrequests:\n  - { name: a, path: /a }\n",
        )
        .target(vec![Route::ok("/a")])
        .env("BIG_CERT", &big)
        // Nothing listens there: any AWS call would be an exit 3, not 2.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .args(&[
            "run",
            "--executor",
            "fargate",
            "--workers",
            "2",
            "--image",
            "x",
            "--baseline",
            "none",
        ])
        .run();
    ran.code(2);
    assert!(ran.stderr.contains("BIG_CERT"), "{}", ran.stderr);
    assert!(ran.stderr.contains("8192"), "{}", ran.stderr);
    assert!(!ran.stderr.contains(&big[..64]), "the value leaked");
    assert!(!ran.stdout.contains(&big[..64]), "the value leaked");
}

#[test]
fn a_secret_over_4_kb_goes_to_the_advanced_tier_and_the_summary_says_it_is_billed() {
    let moto = setup();
    let fargate = FakeFargate::start(&moto);
    let big = "k".repeat(5_000);
    let test = crate::fake_fargate::fargate_run(moto.env(), &["--workers", "2"])
        .scenario(
            "name: adv\ntarget: \"{target}\"\ndefaults: { headers: { X-Cert: \"${BIG_CERT}\" } }\n\
             load: { concurrency: 2, hold_for: 1s }\nrequests:\n  - { name: a, path: /a }\n",
        )
        .target(vec![Route::ok("/a").require_header("x-cert", &big)])
        .env("BIG_CERT", &big);
    let ran = test.run();
    fargate.finish();
    ran.code(0);
    let results = ran.results();
    // The workers read it back whole (a truncated value would fail the header check).
    assert_eq!(results["total"]["errors"], 0, "{}", ran.stderr);
    let warnings = results["warnings"].to_string();
    assert!(
        warnings.contains("BIG_CERT") && warnings.contains("Advanced-tier"),
        "{warnings}"
    );
    assert!(ran.stdout.contains("Advanced-tier"), "{}", ran.stdout);
    assert!(!ran.stdout.contains(&big[..64]), "the value leaked");
}
