//! `loadgate stack`: the policies (no AWS call), and deploy, status and destroy against moto.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use loadgate::cloud::aws::Aws;
use loadgate::cloud::stack::{self, StackSpec};

use serde_json::Value;

use crate::harness::Test;
use crate::moto::Moto;

fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    policy["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Sid"] == sid))
        .unwrap_or_else(|| panic!("no statement {sid} in {policy}"))
}

#[test]
fn run_policy_is_json_on_stdout_scoped_to_the_stack() {
    let ran = Test::new()
        .args(&[
            "stack",
            "policy",
            "--run",
            "--stack-name",
            "perf",
            "--region",
            "eu-west-1",
            "--account",
            "123456789012",
        ])
        .run();
    ran.code(0);
    let policy: Value = serde_json::from_str(&ran.stdout).expect("stdout is the policy");
    assert_eq!(
        statement(&policy, "Stack")["Resource"][0],
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/perf/*"
    );
    assert!(ran.stderr.is_empty(), "{}", ran.stderr);
}

#[test]
fn deploy_policy_warns_that_it_is_powerful_and_reads_the_stack_name_from_the_environment() {
    let ran = Test::new()
        .env("LOADGATE_STACK_NAME", "ci")
        .args(&["stack", "policy", "--deploy"])
        .run();
    ran.code(0);
    let policy: Value = serde_json::from_str(&ran.stdout).expect("stdout is the policy");
    assert_eq!(
        statement(&policy, "Stack")["Resource"][0],
        "arn:aws:cloudformation:*:*:stack/ci/*"
    );
    assert!(ran.stderr.contains("creates IAM roles"), "{}", ran.stderr);
}

#[test]
fn policy_needs_exactly_one_of_deploy_and_run() {
    Test::new().args(&["stack", "policy"]).run().code(2);
    Test::new()
        .args(&["stack", "policy", "--deploy", "--run"])
        .run()
        .code(2);
}

#[test]
fn a_bad_stack_name_or_account_is_invalid_input() {
    let ran = Test::new()
        .args(&["stack", "policy", "--run", "--stack-name", "my_stack"])
        .run();
    ran.code(2);
    assert!(
        ran.stderr.contains("invalid stack name `my_stack`"),
        "{}",
        ran.stderr
    );
    let ran = Test::new()
        .args(&["stack", "policy", "--run", "--account", "42"])
        .run();
    ran.code(2);
    assert!(ran.stderr.contains("12 digits"), "{}", ran.stderr);
}

// --- deploy, status and destroy against moto ---------------------------------------------------

/// Counts the HTTP requests an `Aws` sends: the warm path's contract is one.
#[derive(Debug)]
struct Counting {
    inner: SharedHttpClient,
    calls: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    calls: Arc<AtomicUsize>,
}

impl HttpClient for Counting {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            calls: self.calls.clone(),
        })
    }
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.call(request)
    }
}

fn counting(aws: &Aws) -> (Aws, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = aws.config().http_client().expect("an HTTP client");
    let config = aws
        .config()
        .to_builder()
        .http_client(Counting {
            inner,
            calls: calls.clone(),
        })
        .build();
    (Aws::from_config(config), calls)
}

fn loadgate(moto: &Moto, args: &[&str]) -> crate::harness::Ran {
    let mut test = Test::new().args(args);
    for (k, v) in moto.env() {
        test = test.env(k, &v);
    }
    test.run()
}

async fn describe(aws: &Aws) -> aws_sdk_cloudformation::types::Stack {
    let out = aws
        .cloudformation()
        .describe_stacks()
        .stack_name("loadgate")
        .send()
        .await
        .expect("describe");
    out.stacks().first().cloned().expect("the stack")
}

fn parameter<'a>(stack: &'a aws_sdk_cloudformation::types::Stack, key: &str) -> Option<&'a str> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value())
}

#[tokio::test]
async fn deploy_creates_from_nothing_then_costs_one_call() {
    let moto = Moto::start();
    let ran = loadgate(&moto, &["stack", "deploy"]);
    ran.code(0);
    assert!(
        ran.stdout.contains("stack loadgate created"),
        "{}",
        ran.stdout
    );
    // The events of the create streamed to stderr.
    assert!(ran.stderr.contains("CREATE_COMPLETE"), "{}", ran.stderr);

    let aws = moto.aws().await;
    let created = describe(&aws).await;
    let tag = |k: &str| {
        created
            .tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    assert_eq!(
        tag("loadgate:template-sha256").as_deref(),
        Some(loadgate::cloud::stack::template::sha256())
    );
    assert_eq!(
        tag("loadgate:version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );

    let (counted, calls) = counting(&aws);
    let outputs = stack::ensure(&counted, &StackSpec::new("loadgate"))
        .await
        .expect("warm path");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the warm path is one call");
    assert_eq!(outputs.repository_name, "loadgate");
    assert!(outputs.public_subnets);
    assert_eq!(outputs.subnet_ids.len(), 2);
    let after = describe(&aws).await;
    assert_eq!(after.last_updated_time(), created.last_updated_time());
}

#[tokio::test]
async fn a_changed_parameter_updates_the_stack() {
    let moto = Moto::start();
    loadgate(&moto, &["stack", "deploy"]).code(0);
    let ran = loadgate(
        &moto,
        &["stack", "deploy", "--param", "RunsRetentionDays=7"],
    );
    assert!(
        ran.stderr
            .contains("updating stack loadgate (parameters changed: RunsRetentionDays)"),
        "{}",
        ran.stderr
    );
    // moto's CloudFormation has no update handler for AWS::Logs::LogGroup and drops it (and its
    // output) on any update; real AWS keeps it. So the update is checked on the stack itself.
    if ran.code != 0 {
        ran.code(3);
        assert!(
            ran.stderr.contains("no output LogGroupName"),
            "{}",
            ran.stderr
        );
    }
    let updated = describe(&moto.aws().await).await;
    assert_eq!(
        updated.stack_status().map(|s| s.as_str()),
        Some("UPDATE_COMPLETE")
    );
    assert_eq!(parameter(&updated, "RunsRetentionDays"), Some("7"));
    // The parameters not given kept their values.
    assert_eq!(parameter(&updated, "HistoryRetentionDays"), Some("400"));
}

#[tokio::test]
async fn status_shows_state_version_outputs_and_tasks() {
    let moto = Moto::start();
    let ran = loadgate(&moto, &["stack", "status"]);
    ran.code(0);
    assert!(
        ran.stdout.contains("stack loadgate does not exist"),
        "{}",
        ran.stdout
    );

    loadgate(&moto, &["stack", "deploy"]).code(0);
    let ran = loadgate(&moto, &["stack", "status"]);
    ran.code(0);
    for line in [
        "status:    CREATE_COMPLETE",
        concat!("version:   loadgate ", env!("CARGO_PKG_VERSION")),
        "template:  current",
        "tasks:     0 running",
        "BucketName",
        "RepositoryUri",
    ] {
        assert!(ran.stdout.contains(line), "no `{line}` in\n{}", ran.stdout);
    }
}

#[tokio::test]
async fn destroy_empties_the_bucket_and_the_repository_first() {
    let moto = Moto::start();
    loadgate(&moto, &["stack", "deploy"]).code(0);
    let aws = moto.aws().await;
    let outputs = stack::ensure(&aws, &StackSpec::new("loadgate"))
        .await
        .expect("outputs");
    let s3 = aws.s3();
    for key in [
        "runs/a/plan.json",
        "runs/a/results/w1.json",
        "history/s/main/1.json",
    ] {
        s3.put_object()
            .bucket(&outputs.bucket)
            .key(key)
            .body(b"{}".to_vec().into())
            .send()
            .await
            .expect("put object");
    }
    let ecr = aws.ecr();
    // moto derives an image's digest from its layers' digests: one layer per image.
    for tag in ["0.1.0-aaaa", "0.1.1-bbbb"] {
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{tag}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{tag}","size":1}}]}}"#
        );
        ecr.put_image()
            .repository_name(&outputs.repository_name)
            .image_manifest(manifest)
            .image_tag(tag)
            .send()
            .await
            .expect("put image");
    }

    let ran = loadgate(&moto, &["stack", "destroy", "--yes"]);
    assert!(
        ran.stderr.contains("deleted 3 object(s) and 2 image(s)"),
        "{}",
        ran.stderr
    );
    // moto's DeleteStack removes the bucket and the repository before failing on the VPC: both
    // are then gone, or empty.
    match s3.list_objects_v2().bucket(&outputs.bucket).send().await {
        Ok(objects) => assert_eq!(objects.key_count(), Some(0)),
        Err(e) => assert_eq!(
            loadgate::cloud::aws::error_code(&e),
            Some("NoSuchBucket"),
            "{e:?}"
        ),
    }
    let images = ecr
        .list_images()
        .repository_name(&outputs.repository_name)
        .send()
        .await;
    match images {
        Ok(images) => assert!(images.image_ids().is_empty(), "{:?}", images.image_ids()),
        Err(e) => assert_eq!(
            loadgate::cloud::aws::error_code(&e),
            Some("RepositoryNotFoundException"),
            "{e:?}"
        ),
    }
    // moto cannot delete the stack's route table, so DeleteStack fails: reported as such.
    ran.code(3);
    assert!(
        ran.stderr
            .contains("cannot delete stack loadgate: DependencyViolation"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("help: the bucket and the repository are empty now"),
        "{}",
        ran.stderr
    );
}

#[test]
fn destroy_without_a_terminal_needs_yes() {
    let ran = Test::new().args(&["stack", "destroy"]).run();
    ran.code(2);
    assert!(ran.stderr.contains("pass --yes"), "{}", ran.stderr);
}

#[test]
fn a_bad_param_is_invalid_input_before_any_aws_call() {
    let ran = Test::new()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(&["stack", "deploy", "--param", "LogRetentionDay=14"])
        .run();
    ran.code(2);
    assert!(
        ran.stderr.contains("did you mean `LogRetentionDays`"),
        "{}",
        ran.stderr
    );
}
