//! Runs from several regions end to end: one moto serves us-east-1 and eu-west-1 (it keeps the
//! regions apart by each request's credential scope), a stack is deployed in each, and a fake
//! Fargate per region starts the workers of its cluster with that region's `AWS_REGION`.

use std::time::Duration;

use loadgate::target::Route;
use serde_json::Value;

use crate::fake_fargate::{self, task_statuses, FakeFargate, Options};
use crate::harness::Test;
use crate::moto::{Moto, REGION};

pub(crate) const EU: &str = "eu-west-1";
pub(crate) const SECRET: &str = "tok-77c1e0aa";

pub(crate) fn scenario(load: &str, extra: &str) -> String {
    format!(
        "name: regions\ntarget: \"{{target}}\"\ndefaults: {{ headers: {{ Authorization: \"Bearer ${{API_TOKEN}}\" }} }}\n\
         load: {load}\nrequests:\n  - {{ name: a, path: /a }}\n  - {{ name: b, path: /b }}\n{extra}"
    )
}

pub(crate) fn routes() -> Vec<Route> {
    let auth = format!("Bearer {SECRET}");
    vec![
        Route::ok("/a").require_header("authorization", &auth),
        Route::ok("/b").require_header("authorization", &auth),
    ]
}

pub(crate) fn controller(moto: &Moto, yaml: &str, args: &[&str]) -> Test {
    crate::fake_fargate::fargate_run(moto.env(), &[])
        .scenario(yaml)
        .target(routes())
        .env("API_TOKEN", SECRET)
        .args(args)
}

pub(crate) fn setup() -> (Moto, fake_fargate::Deployed, fake_fargate::Deployed) {
    let moto = Moto::start();
    moto.keep_tasks_running();
    let us = fake_fargate::deploy(&moto);
    let eu = fake_fargate::deploy_in(&moto, EU);
    (moto, us, eu)
}

pub(crate) fn fargates(moto: &Moto) -> (FakeFargate, FakeFargate) {
    (
        FakeFargate::start_in(moto, Options::default(), REGION),
        FakeFargate::start_in(moto, Options::default(), EU),
    )
}

/// Requests each result file under `runs/<run_id>/results/` of a region's bucket reports: what
/// that region's workers sent, by their own count.
fn sent_by_workers(moto: &Moto, region: &str, bucket: &str, run_id: &str) -> (usize, u64) {
    fake_fargate::runtime().block_on(async {
        let s3 = fake_fargate::aws_in(&moto.endpoint, None, region)
            .await
            .s3();
        let prefix = format!("runs/{run_id}/results/");
        let list = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .send()
            .await
            .expect("list");
        let mut sum = 0;
        for o in list.contents() {
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(o.key().unwrap_or_default())
                .send()
                .await
                .expect("get");
            let body = got.body.collect().await.expect("body").into_bytes();
            let doc: Value = serde_json::from_slice(&body).expect("a worker result");
            sum += doc["results"]["total"]["requests"]
                .as_u64()
                .expect("requests");
        }
        (list.contents().len(), sum)
    })
}

fn result_docs(moto: &Moto, region: &str, bucket: &str, run_id: &str) -> Vec<Value> {
    fake_fargate::runtime().block_on(async {
        let s3 = fake_fargate::aws_in(&moto.endpoint, None, region)
            .await
            .s3();
        let list = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(format!("runs/{run_id}/results/"))
            .send()
            .await
            .expect("list");
        let mut out = Vec::new();
        for o in list.contents() {
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(o.key().unwrap_or_default())
                .send()
                .await
                .expect("get");
            let body = got.body.collect().await.expect("body").into_bytes();
            out.push(serde_json::from_slice(&body).expect("a worker result"));
        }
        assert!(!out.is_empty(), "{region}: no results");
        out
    })
}

pub(crate) fn secrets_left(moto: &Moto, region: &str) -> usize {
    fake_fargate::runtime().block_on(async {
        let ssm = fake_fargate::aws_in(&moto.endpoint, None, region)
            .await
            .ssm();
        ssm.get_parameters_by_path()
            .path("/loadgate/loadgate/runs")
            .recursive(true)
            .send()
            .await
            .expect("ssm")
            .parameters()
            .len()
    })
}

pub(crate) fn region<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["distributed"]["regions"]
        .as_array()
        .expect("distributed.regions")
        .iter()
        .find(|r| r["region"] == name)
        .unwrap_or_else(|| panic!("no region {name} in {}", results["distributed"]))
}

#[test]
fn two_regions_merge_exactly_and_break_the_figures_down_per_region() {
    let (moto, us, eu) = setup();
    let (f_us, f_eu) = fargates(&moto);
    // The scenario's map says eu-west-1 first: the home region is still AWS_REGION (us-east-1).
    let ran = controller(
        &moto,
        &scenario(
            "{ concurrency: 6, hold_for: 2s }",
            "fargate: { regions: { eu-west-1: 1, us-east-1: 2 } }\nthresholds:\n  - \"p95{region:eu-west-1} < 10s\"\n  - \"a: requests{region:us-east-1} > 0\"\n  - error_rate < 1%\n",
        ),
        &[],
    )
    .run();
    let codes_us = f_us.finish();
    let codes_eu = f_eu.finish();
    ran.code(0);
    let results = ran.results();
    // Merged counts equal what the target served, per label and in total.
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
    assert!(ran.target().total() > 0);
    assert_eq!(results["total"]["errors"], 0, "{}", ran.stderr);
    assert_eq!(results["workers"], 3);
    assert_eq!(results["distributed"]["contributed"], 3, "{}", ran.stderr);
    let run_id = results["run_id"].as_str().expect("run id");
    // Per region: the workers each region was given, and exactly what they sent.
    let mut sum = 0;
    for (name, workers, bucket) in [(REGION, 2, &us.bucket), (EU, 1, &eu.bucket)] {
        let r = region(&results, name);
        assert_eq!(r["workers"], workers, "{name}");
        assert_eq!(r["contributed"], workers, "{name}");
        let (files, sent) = sent_by_workers(&moto, name, bucket, run_id);
        assert_eq!(files, workers as usize, "{name}: result files");
        assert_eq!(r["total"]["requests"].as_u64(), Some(sent), "{name}");
        assert!(sent > 0, "{name} sent nothing");
        sum += sent;
        assert!(r["start_skew_ms"].as_f64().is_some(), "{name}: no skew");
        assert!(r["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{name}");
        assert!(r["total"]["response_time_ms"]["p95"].as_f64().is_some());
        eprintln!("{name} phases: {}", r["phases"]);
        assert_eq!(secrets_left(&moto, name), 0, "{name}: secrets left in SSM");
    }
    assert_eq!(Some(sum), results["total"]["requests"].as_u64());
    // A threshold with a region filter is measured on that region's workers only.
    let thresholds = results["thresholds"].as_array().expect("thresholds");
    let us_a = &thresholds[1];
    assert_eq!(us_a["expr"], "a: requests{region:us-east-1} > 0");
    assert_eq!(
        us_a["actual"].as_f64(),
        region(&results, REGION)["labels"]["a"]["requests"].as_f64(),
        "{us_a}"
    );
    assert!(us_a["actual"].as_f64() < results["labels"]["a"]["requests"].as_f64());
    assert_eq!(
        thresholds[0]["actual"].as_f64(),
        region(&results, EU)["total"]["response_time_ms"]["p95"].as_f64()
    );
    // Each is its own JUnit case.
    let junit = ran.read("loadgate-report/junit.xml");
    assert!(junit.contains("p95{region:eu-west-1} &lt; 10s"), "{junit}");
    assert!(
        junit.contains("a: requests{region:us-east-1} &gt; 0"),
        "{junit}"
    );
    // The home region comes first.
    assert_eq!(results["distributed"]["regions"][0]["region"], REGION);
    let skew = results["distributed"]["start_skew_ms"].as_f64();
    assert!(skew.is_some_and(|s| s >= 0.0), "{}", results["distributed"]);
    eprintln!(
        "two-region run: phases {} start skew {} ms",
        results["distributed"]["phases"], results["distributed"]["start_skew_ms"]
    );
    // The per-region table is in every report.
    let summary = ran.read("loadgate-report/summary.md");
    assert!(summary.contains("| Region |"), "{summary}");
    assert!(summary.contains(EU), "{summary}");
    let html = ran.read("loadgate-report/report.html");
    assert!(html.contains("Regions") && html.contains(EU));
    assert_eq!(codes_us.len(), 2);
    assert_eq!(codes_eu.len(), 1);
    assert!(codes_us
        .values()
        .chain(codes_eu.values())
        .all(|c| *c == Some(0)));
}

#[test]
fn cancel_stops_the_tasks_in_both_regions() {
    let (moto, us, eu) = setup();
    let (f_us, f_eu) = fargates(&moto);
    let ran = controller(
        &moto,
        &scenario("{ concurrency: 2, hold_for: 60s }", ""),
        &["--regions", "us-east-1=1,eu-west-1=1"],
    )
    .run_with(|child| {
        fake_fargate::wait_for_load(&moto, REGION, &us.bucket, 1);
        fake_fargate::wait_for_load(&moto, EU, &eu.bucket, 1);
        // SAFETY: a plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    });
    f_us.finish();
    f_eu.finish();
    ran.code(130);
    assert_eq!(ran.results()["partial"], true);
    for (name, cluster) in [(REGION, &us.cluster), (EU, &eu.cluster)] {
        let statuses = task_statuses(&moto, name, cluster);
        assert_eq!(statuses.len(), 1, "{name}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| s == "STOPPED"),
            "{name}: {statuses:?}"
        );
        assert_eq!(secrets_left(&moto, name), 0, "{name}: secrets left in SSM");
    }
}

#[test]
fn a_region_that_cannot_be_used_is_named_before_any_task_starts() {
    let (moto, us, _eu) = setup();
    // Nothing is deployed in ap-south-1 and moto's ECS there has no cluster: the stack check
    // creates the stack, but an unknown region (zz-nowhere-9) fails outright.
    let ran = controller(
        &moto,
        &scenario("{ concurrency: 2, hold_for: 2s }", ""),
        &["--regions", "us-east-1=1,zz-nowhere-9=1"],
    )
    .run();
    ran.code(3);
    eprintln!("{}", ran.stderr);
    assert!(ran.stderr.contains("zz-nowhere-9"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("no task was started in any region"),
        "{}",
        ran.stderr
    );
    assert!(task_statuses(&moto, REGION, &us.cluster).is_empty());
}

#[test]
fn regions_with_workers_or_bad_specs_are_invalid_input() {
    for (yaml_extra, args, says) in [
        (
            "workers: 2\nfargate: { regions: { us-east-1: 1 } }\n",
            vec![],
            "`workers` and `fargate.regions`",
        ),
        (
            "fargate: { regions: { us-east: 1 } }\n",
            vec![],
            "not an AWS region name",
        ),
        ("", vec!["--regions", "us-east-1=0"], "from 1 to"),
        (
            "thresholds:\n  - { expr: \"p95{region:us-east-1} < 1s\", abort: true }\n",
            vec!["--regions", "us-east-1=1"],
            "`abort: true` with a `{region:...}` tag",
        ),
        (
            "thresholds:\n  - \"p95{region:europe} < 1s\"\n",
            vec!["--regions", "us-east-1=1"],
            "not an AWS region name",
        ),
        (
            "",
            vec!["--regions", "us-east-1=1", "--workers", "2"],
            "give the workers per region only",
        ),
    ] {
        let ran = Test::new()
            .scenario(&scenario("{ concurrency: 2, hold_for: 1s }", yaml_extra))
            .env("API_TOKEN", SECRET)
            // A dead endpoint: any AWS call would be exit 3, not 2.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_REGION", REGION)
            .args(&["run", "--executor", "fargate", "--image", "x"])
            .args(&args)
            .run();
        assert_eq!(ran.code, 2, "{yaml_extra} {args:?}: {}", ran.stderr);
        assert!(ran.stderr.contains(says), "{says}: {}", ran.stderr);
    }
}

#[test]
fn the_flag_beats_the_variable_which_beats_the_scenario() {
    // A dead AWS endpoint: the controller names the regions it tried to prepare (exit 3), which
    // shows which of the three the run took.
    let run = |env: Option<&str>, flag: Option<&str>| {
        let mut t = Test::new()
            .scenario(&scenario(
                "{ concurrency: 2, hold_for: 1s }",
                "fargate: { regions: { ap-south-1: 1 } }\n",
            ))
            .env("API_TOKEN", SECRET)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(&[
                "run",
                "--executor",
                "fargate",
                "--image",
                "x",
                "--baseline",
                "none",
            ]);
        if let Some(v) = env {
            t = t.env("LOADGATE_REGIONS", v);
        }
        if let Some(v) = flag {
            t = t.args(&["--regions", v]);
        }
        let ran = t.run();
        assert_eq!(ran.code, 3, "{}", ran.stderr);
        let line = ran
            .stderr
            .lines()
            .find(|l| l.contains("the run cannot use region(s)"))
            .unwrap_or_else(|| panic!("{}", ran.stderr))
            .to_string();
        line
    };
    let line = run(Some("eu-west-1=2"), Some("ca-central-1=1"));
    assert!(
        line.contains("ca-central-1") && !line.contains("eu-west-1"),
        "{line}"
    );
    let line = run(Some("eu-west-1=2"), None);
    assert!(
        line.contains("eu-west-1") && !line.contains("ap-south-1"),
        "{line}"
    );
    let line = run(None, None);
    assert!(line.contains("ap-south-1"), "{line}");
}

/// `stack policy --run --region us-east-1 --region eu-west-1` allows exactly what a run from
/// both regions calls (and `runs`/`stop` in the home region), by the same check as
/// tests/it/policy_coverage.rs.
#[test]
fn the_run_policy_for_two_regions_covers_a_run_from_both() {
    use crate::policy_coverage::{calls, extra, venv_python};
    let python = venv_python();
    let dir = tempfile::tempdir().expect("temp dir");
    let record = dir.path().join("run.calls");
    let (moto, _us, _eu) = setup();
    let (f_us, f_eu) = fargates(&moto);
    let ran = controller(
        &moto,
        &scenario("{ concurrency: 2, hold_for: 1s }", ""),
        &["--regions", "us-east-1=1,eu-west-1=1"],
    )
    .env(loadgate::cloud::record::ENV, &record.display().to_string())
    .run();
    f_us.finish();
    f_eu.finish();
    ran.code(0);
    let run_id = ran.results()["run_id"]
        .as_str()
        .expect("run id")
        .to_string();
    for args in [vec!["runs"], vec!["stop", run_id.as_str()]] {
        let mut t = Test::new()
            .args(&args)
            .env(loadgate::cloud::record::ENV, &record.display().to_string());
        for (k, v) in moto.env() {
            t = t.env(k, &v);
        }
        t.run().code(0);
    }
    let policy = Test::new()
        .args(&[
            "stack",
            "policy",
            "--run",
            "--region",
            REGION,
            "--region",
            EU,
            "--account",
            "123456789012",
        ])
        .run();
    policy.code(0);
    let policy: Value = serde_json::from_str(&policy.stdout).expect("a policy");
    let push = "a version's first run pushes the worker image through the ECR registry API; \
                moto serves no registry API";
    let spec = serde_json::json!({
        "callers": {
            "run": {
                "policy": policy,
                "calls": calls(&record),
                "extra": extra(&[
                    ("iam:PassRole", "RegisterTaskDefinition and RunTask pass the worker roles to ECS"),
                    ("ecs:TagResource", "RunTask and RegisterTaskDefinition with tags (ecs:CreateAction)"),
                    ("ecr:GetAuthorizationToken", push),
                    ("ecr:BatchCheckLayerAvailability", push),
                    ("ecr:BatchGetImage", push),
                    ("ecr:InitiateLayerUpload", push),
                    ("ecr:UploadLayerPart", push),
                    ("ecr:CompleteLayerUpload", push),
                    ("ecr:PutImage", push),
                    ("ecr:DescribeImages", "a run without --image checks that its image is pushed"),
                ]),
            }
        }
    });
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec).expect("json")).expect("spec");
    let checked = std::process::Command::new(&python)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/iam_check.py"))
        .arg(&spec_path)
        .arg(dir.path().join("report.json"))
        .output()
        .expect("run scripts/iam_check.py");
    assert!(
        checked.status.success(),
        "the two-region run policy and the recorded calls disagree:\n{}{}\ncalls: {}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr),
        spec["callers"]["run"]["calls"]
    );
    // The merged policy names both regions' clusters.
    let text = policy.to_string();
    assert!(text.contains(":ecs:us-east-1:") && text.contains(":ecs:eu-west-1:"));
}

/// The run's id from the run index in the home region's bucket, once it is written.
fn indexed_run(moto: &Moto, bucket: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let keys = fake_fargate::runtime().block_on(async {
            let s3 = moto.aws().await.s3();
            s3.list_objects_v2()
                .bucket(bucket)
                .prefix("runs/index/")
                .send()
                .await
                .expect("list")
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect::<Vec<_>>()
        });
        if let Some(k) = keys.first() {
            return k
                .trim_start_matches("runs/index/")
                .trim_end_matches(".json")
                .to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no run index");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn runs_and_stop_in_the_home_region_reach_every_region_of_a_run() {
    let (moto, us, eu) = setup();
    let (f_us, f_eu) = fargates(&moto);
    let cli = |args: &[&str]| {
        let mut t = Test::new().args(args);
        for (k, v) in moto.env() {
            t = t.env(k, &v);
        }
        t.run()
    };
    let mut listed = String::new();
    let ran = controller(
        &moto,
        &scenario("{ concurrency: 3, hold_for: 60s }", ""),
        &["--regions", "eu-west-1=2,us-east-1=1"],
    )
    .run_with(|_child| {
        fake_fargate::wait_for_load(&moto, REGION, &us.bucket, 1);
        fake_fargate::wait_for_load(&moto, EU, &eu.bucket, 2);
        let run_id = indexed_run(&moto, &us.bucket);
        let runs = cli(&["runs"]);
        runs.code(0);
        listed = runs.stdout.clone();
        cli(&["stop", &run_id]).code(0);
    });
    let eu_ids: Vec<String> = f_eu.workers.lock().expect("lock").keys().cloned().collect();
    f_us.finish();
    f_eu.finish();
    assert!(listed.contains("from 2 regions"), "{listed}");
    assert!(listed.contains(EU), "{listed}");
    for id in &eu_ids {
        assert!(listed.contains(id.as_str()), "{id} not listed:\n{listed}");
    }
    for (name, cluster, n) in [(REGION, &us.cluster, 1), (EU, &eu.cluster, 2)] {
        let statuses = task_statuses(&moto, name, cluster);
        assert_eq!(statuses.len(), n, "{name}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| s == "STOPPED"),
            "{name}: {statuses:?}"
        );
    }
    // The workers of both regions stopped on abort.json or SIGTERM, not at the end of the load.
    let results = ran.results();
    let run_id = results["run_id"].as_str().expect("run id");
    for (name, bucket) in [(REGION, &us.bucket), (EU, &eu.bucket)] {
        for doc in result_docs(&moto, name, bucket, run_id) {
            assert!(doc["stopped"].is_string(), "{name}: {doc}");
        }
    }
    // Once the controller is done, the index says so: `runs` no longer lists it.
    let runs = cli(&["runs"]);
    assert!(!runs.stdout.contains("from 2 regions"), "{}", runs.stdout);
}
