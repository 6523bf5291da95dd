//! Stack states moto can hold, tested against it rather than against mocks: a stack that a newer
//! loadgate deployed, a stack with another run's tasks running in it, and a wait that Ctrl-C
//! interrupts. moto finishes a create at once, so tests/it/proxy.rs shows the stack as
//! CREATE_IN_PROGRESS for as long as the test needs: every other call is moto's own (a mocked
//! client could not be handed to the binary, which is what receives the signal).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter, Stack, Tag};
use loadgate::cloud::stack::{self, template, StackSpec};

use crate::harness::{Ran, Test};
use crate::moto::Moto;
use crate::proxy::{Proxy, Reply};

fn loadgate(env: Vec<(&'static str, String)>, args: &[&str]) -> Test {
    let mut test = Test::new().args(args);
    for (k, v) in env {
        test = test.env(k, &v);
    }
    test
}

fn describe(moto: &Moto) -> Stack {
    crate::fake_fargate::runtime().block_on(async {
        let out = moto
            .aws()
            .await
            .cloudformation()
            .describe_stacks()
            .stack_name("loadgate")
            .send()
            .await
            .expect("describe");
        out.stacks().first().cloned().expect("the stack")
    })
}

fn parameter(stack: &Stack, key: &str) -> Option<String> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value())
        .map(str::to_string)
}

fn tag(stack: &Stack, key: &str) -> Option<String> {
    stack
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_string)
}

#[test]
fn a_stack_that_a_newer_loadgate_deployed_is_never_downgraded() {
    let moto = Moto::start();
    // What loadgate 99.0.0 would have left: its own template (another hash), its version tag.
    crate::fake_fargate::runtime().block_on(async {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        moto.aws()
            .await
            .cloudformation()
            .create_stack()
            .stack_name("loadgate")
            .template_body(template::TEMPLATE)
            .capabilities(Capability::CapabilityIam)
            .parameters(
                Parameter::builder()
                    .parameter_key("RepositoryName")
                    .parameter_value("loadgate")
                    .build(),
            )
            .tags(tag(template::TAG_STACK, "loadgate"))
            .tags(tag(template::TAG_TEMPLATE_SHA256, &"9".repeat(64)))
            .tags(tag(template::TAG_VERSION, "99.0.0"))
            .send()
            .await
            .expect("create the newer stack");
    });
    let proxy = Proxy::start(&moto);
    for args in [
        &["stack", "deploy"][..],
        &["stack", "deploy", "--param", "RunsRetentionDays=7"],
    ] {
        let ran = loadgate(proxy.env(), args).run();
        ran.code(0);
        assert!(
            ran.stderr.contains(
                "was deployed by loadgate 99.0.0, newer than this 0.1.0: using it as it is"
            ),
            "{}",
            ran.stderr
        );
    }
    assert!(proxy.calls("UpdateStack").is_empty(), "an update was sent");
    assert!(proxy.calls("CreateStack").is_empty());
    let stack = describe(&moto);
    assert_eq!(stack.last_updated_time(), None, "the stack was changed");
    assert_eq!(
        tag(&stack, template::TAG_VERSION).as_deref(),
        Some("99.0.0")
    );
    assert_eq!(
        parameter(&stack, "RunsRetentionDays").as_deref(),
        Some("30")
    );
}

/// A real stack (deployed by the binary) with one task RUNNING in its cluster.
fn stack_with_a_running_task(moto: &Moto) -> String {
    moto.keep_tasks_running();
    loadgate(moto.env(), &["stack", "deploy"]).run().code(0);
    crate::fake_fargate::runtime().block_on(async {
        use loadgate::cloud::run::tasks;
        let aws = moto.aws().await;
        let resources = aws
            .cloudformation()
            .describe_stack_resources()
            .stack_name("loadgate")
            .send()
            .await
            .expect("stack resources");
        let vpc = resources
            .stack_resources()
            .iter()
            .find(|r| r.logical_resource_id() == Some("Vpc"))
            .and_then(|r| r.physical_resource_id())
            .expect("the VPC")
            .to_string();
        // moto's CloudFormation ignores EnableDnsHostnames, and its RunTask needs it (awsvpc).
        ec2_query(
            moto,
            &format!("Action=ModifyVpcAttribute&Version=2016-11-15&VpcId={vpc}&EnableDnsHostnames.Value=true"),
        );
        let outputs = loadgate::cloud::outputs::describe(&aws, "loadgate")
            .await
            .expect("outputs");
        let spec = tasks::TaskSpec {
            family: loadgate::cloud::task_family("loadgate"),
            image: "x".into(),
            cpu: 1024,
            memory: 2048,
            arm64: false,
            execution_role_arn: outputs.execution_role_arn.clone(),
            task_role_arn: outputs.task_role_arn.clone(),
            log_group: outputs.log_group.clone(),
            region: crate::moto::REGION.into(),
        };
        let def = tasks::ensure_task_definition(&aws.ecs(), &spec)
            .await
            .expect("task definition");
        let launch = tasks::Launch {
            cluster: outputs.cluster_name.clone(),
            task_definition: def,
            subnets: outputs.subnet_ids.clone(),
            security_group: outputs.security_group_id.clone(),
            public_ip: true,
            run_id: "other".into(),
            run_url: format!("s3://{}/runs/other", outputs.bucket),
            spot: false,
            rounds: 0,
            backoff: Duration::from_millis(10),
        };
        let launched = tasks::launch(&aws.ecs(), &launch, 1).await;
        assert_eq!(launched.arns.len(), 1, "{:?}", launched.failures);
        outputs.cluster_name
    })
}

/// One EC2 query-API call to moto (the tests have no EC2 client); moto routes it by the
/// credential scope and does not check the signature.
fn ec2_query(moto: &Moto, body: &str) {
    use std::io::{Read, Write};
    let addr = moto.endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to moto");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write to moto");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read from moto");
    assert!(answer.starts_with("HTTP/1.1 200"), "EC2 {body}: {answer}");
}

#[test]
fn no_update_is_made_while_another_runs_tasks_are_running() {
    let moto = Moto::start();
    let cluster = stack_with_a_running_task(&moto);
    let proxy = Proxy::start(&moto);

    // `loadgate run`'s bootstrap goes on with the current stack instead.
    crate::fake_fargate::runtime().block_on(async {
        let spec = StackSpec {
            name: "loadgate".into(),
            params: vec![("RunsRetentionDays".into(), "7".into())],
            wait: Duration::from_secs(60),
        };
        let outputs = stack::ensure(&proxy.aws().await, &spec)
            .await
            .expect("the current stack");
        assert_eq!(outputs.cluster_name, cluster);
    });
    // `stack deploy` waits for the tasks, here longer than it may.
    let ran = loadgate(
        proxy.env(),
        &[
            "stack",
            "deploy",
            "--param",
            "RunsRetentionDays=7",
            "--wait-timeout",
            "2s",
        ],
    )
    .run();
    ran.code(3);
    assert!(
        ran.stderr.contains("1 task(s) kept running in it"),
        "{}",
        ran.stderr
    );
    assert!(proxy.calls("UpdateStack").is_empty(), "updated under a run");
    let stack = describe(&moto);
    assert_eq!(stack.last_updated_time(), None);
    assert_eq!(
        parameter(&stack, "RunsRetentionDays").as_deref(),
        Some("30")
    );

    // Once the task is gone, the same deploy updates: the tasks were what held it back.
    crate::fake_fargate::runtime().block_on(async {
        let ecs = moto.aws().await.ecs();
        let listed = ecs
            .list_tasks()
            .cluster(&cluster)
            .send()
            .await
            .expect("list");
        for arn in listed.task_arns() {
            ecs.stop_task()
                .cluster(&cluster)
                .task(arn)
                .send()
                .await
                .expect("stop");
        }
    });
    let ran = loadgate(
        proxy.env(),
        &["stack", "deploy", "--param", "RunsRetentionDays=7"],
    )
    .run();
    assert!(
        ran.stderr
            .contains("updating stack loadgate (parameters changed: RunsRetentionDays)"),
        "{}",
        ran.stderr
    );
    // moto processes this template's update twice (two UPDATE_IN_PROGRESS events: the SDK
    // resends it), so the count is not the point: that an update went out at all is.
    assert!(!proxy.calls("UpdateStack").is_empty(), "{}", ran.stderr);
    assert_eq!(
        parameter(&describe(&moto), "RunsRetentionDays").as_deref(),
        Some("7")
    );
}

/// Shows every DescribeStacks answer of a finished create as CREATE_IN_PROGRESS; counts them.
fn held_in_progress(moto: &Moto) -> (Proxy, Arc<AtomicUsize>) {
    let held = Arc::new(AtomicUsize::new(0));
    let count = held.clone();
    let proxy = Proxy::with(moto, move |seen| {
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
    (proxy, held)
}

fn interrupt_during_the_wait(moto: &Moto, signal: libc::c_int) -> (Ran, Proxy) {
    let (proxy, held) = held_in_progress(moto);
    let ran = loadgate(proxy.env(), &["stack", "deploy"]).run_with(|child| {
        // Two polls answered "in progress": the wait, and its Ctrl-C handler, are running.
        let deadline = Instant::now() + Duration::from_secs(60);
        while held.load(Ordering::SeqCst) < 2 {
            assert!(
                Instant::now() < deadline,
                "deploy never waited for the stack"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill(2) of our own child's pid has no memory effects.
        unsafe { libc::kill(child.id() as i32, signal) };
    });
    (ran, proxy)
}

#[test]
fn ctrl_c_while_deploy_waits_stops_waiting_says_the_state_and_exits_130() {
    cancelled_during_the_wait(libc::SIGINT);
}

/// SIGTERM too: GitHub sends it 7.5 s after SIGINT, and some runners send nothing else.
#[test]
fn sigterm_while_deploy_waits_stops_waiting_says_the_state_and_exits_130() {
    cancelled_during_the_wait(libc::SIGTERM);
}

fn cancelled_during_the_wait(signal: libc::c_int) {
    let moto = Moto::start();
    let (ran, proxy) = interrupt_during_the_wait(&moto, signal);
    ran.code(130);
    assert!(
        ran.stderr
            .contains("interrupted while waiting for stack loadgate: it is CREATE_IN_PROGRESS"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("CloudFormation carries on without loadgate"),
        "{}",
        ran.stderr
    );
    // Only the wait stopped: nothing was deleted or cancelled.
    assert_eq!(proxy.calls("CreateStack").len(), 1);
    assert!(proxy.calls("DeleteStack").is_empty());
    assert!(proxy.calls("CancelUpdateStack").is_empty());
    assert!(describe(&moto).stack_status().is_some());
}
