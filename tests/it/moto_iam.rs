//! A distributed run whose workers' S3 traffic goes through moto's IAM enforcement, under an IAM
//! user holding exactly the S3 statements of the real template's task role (with the deployed
//! bucket's ARN, as CloudFormation resolves `${Bucket.Arn}`).
//!
//! What moto judges here: the action and the S3 object or bucket ARN of every request, against
//! those statements (an access outside `runs/` is refused below, to show that it does).
//! What moto cannot judge, so the test does not claim it: the `s3:prefix` condition of
//! ListRunFiles the way S3 evaluates it (moto only compares request values it knows); the
//! bucket policy (DenyInsecureTransport: moto is plain http); S3's 403-for-a-missing-key answer
//! without `s3:ListBucket` (moto always answers 404: tests with aws-smithy-mocks cover 403);
//! SSM, which moto authorises against `Resource: "*"` only, so the worker user gets
//! `ssm:GetParameters` on `*` in place of the task role's RunSecrets (its ARN is checked by the
//! policy-coverage test instead); KMS; and the role's trust policy (moto's workers use an access
//! key, not the task role's session). The controller and the fake Fargate call as an admin user.

use std::path::Path;
use std::process::Command;

use loadgate::target::Route;
use serde_json::Value;

use crate::fake_fargate::{self, FakeFargate, Options, FAST};
use crate::harness::Test;
use crate::moto::Moto;

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn between<'a>(text: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("no {tag} in {text}"))
        + open.len();
    let end = text[start..].find("</").expect("closing tag");
    &text[start..start + end]
}

/// An IAM user with `policy` inline and an access key: (key id, secret).
fn user(moto: &Moto, name: &str, policy: &Value) -> (String, String) {
    let iam = |pairs: &[(&str, &str)]| {
        let mut all = vec![("Version", "2010-05-08")];
        all.extend_from_slice(pairs);
        fake_fargate::query(moto, "iam", &form(&all))
    };
    iam(&[("Action", "CreateUser"), ("UserName", name)]);
    iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", name),
        ("PolicyName", name),
        ("PolicyDocument", &policy.to_string()),
    ]);
    let key = iam(&[("Action", "CreateAccessKey"), ("UserName", name)]);
    (
        between(&key, "AccessKeyId").to_string(),
        between(&key, "SecretAccessKey").to_string(),
    )
}

/// The S3 statements of the template's task role, for the deployed bucket.
fn task_role_s3_statements(bucket: &str) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("target/tools/venv/bin/python"))
        .arg(root.join("scripts/iam_check.py"))
        .args(["role-policy"])
        .arg(root.join("templates/stack.yaml"))
        .args([
            "TaskRole",
            "loadgate",
            crate::moto::REGION,
            "123456789012",
            bucket,
        ])
        .output()
        .expect("scripts/iam_check.py (the tools' venv: scripts/test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy: Value = serde_json::from_slice(&out.stdout).expect("policy json");
    let statements: Vec<Value> = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter(|s| {
            let actions = match &s["Action"] {
                Value::Array(a) => a.clone(),
                a => vec![a.clone()],
            };
            actions
                .iter()
                .all(|a| a.as_str().is_some_and(|a| a.starts_with("s3:")))
        })
        .cloned()
        .collect();
    assert!(
        statements.len() >= 2,
        "the task role lost its S3 statements: {policy}"
    );
    statements
}

#[test]
fn workers_run_with_exactly_the_task_role_s_s3_statements_under_moto_iam() {
    let moto = Moto::start();
    moto.keep_tasks_running();
    let deployed = fake_fargate::deploy(&moto);
    let admin = user(
        &moto,
        "admin",
        &serde_json::json!({"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    );
    let mut statements = task_role_s3_statements(&deployed.bucket);
    // SSM: moto authorises it against `*` only (see the module's notes).
    statements.push(
        serde_json::json!({"Sid": "RunSecretsAsMotoSeesThem", "Effect": "Allow",
        "Action": "ssm:GetParameters", "Resource": "*"}),
    );
    let worker = user(
        &moto,
        "worker",
        &serde_json::json!({"Version": "2012-10-17", "Statement": statements}),
    );
    // From here on moto checks every request's signature and IAM policies.
    moto.post("/moto-api/reset-auth", "0");

    // The enforcement is real: the worker's key may not write outside runs/.
    fake_fargate::runtime().block_on(async {
        let as_worker = fake_fargate::aws_as(&moto.endpoint, Some(worker.clone())).await;
        let denied = as_worker
            .s3()
            .put_object()
            .bucket(&deployed.bucket)
            .key("history/forged.json")
            .body(b"{}".to_vec().into())
            .send()
            .await
            .expect_err("outside runs/");
        assert_eq!(
            loadgate::cloud::aws::error_code(&denied),
            Some("AccessDenied"),
            "{denied:?}"
        );
    });

    let fargate = FakeFargate::start_with(
        &moto,
        Options {
            worker_env: vec![
                ("AWS_ACCESS_KEY_ID".to_string(), worker.0.clone()),
                ("AWS_SECRET_ACCESS_KEY".to_string(), worker.1.clone()),
            ],
            credentials: Some(admin.clone()),
        },
    );
    let mut run = Test::new()
        .scenario(
            "name: iam\ntarget: \"{target}\"\ndefaults: { headers: { Authorization: \"Bearer ${API_TOKEN}\" } }\n\
             load: { concurrency: 2, hold_for: 2s }\nrequests:\n  - { name: a, path: /a }\n",
        )
        .target(vec![Route::ok("/a")])
        .env("API_TOKEN", "tok-5e1f09a7c3")
        .env("LOADGATE_FARGATE_TIMING", FAST)
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
    let ran = run
        .env("AWS_ACCESS_KEY_ID", &admin.0)
        .env("AWS_SECRET_ACCESS_KEY", &admin.1)
        .run();
    let codes = fargate.finish();
    ran.code(0);
    let results = ran.results();
    assert_eq!(results["distributed"]["contributed"], 2, "{}", ran.stderr);
    assert_eq!(results["total"]["errors"], 0, "{}", ran.stderr);
    assert!(codes.values().all(|c| *c == Some(0)), "{codes:?}");
}
