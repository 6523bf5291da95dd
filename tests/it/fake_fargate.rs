//! The tests' Fargate: moto records the tasks the controller starts; this plays the part of
//! Fargate by starting `loadgate worker` locally for each, with the task's override environment
//! and a task metadata endpoint that gives its task ARN (so worker id = task id, as on AWS). A
//! task that moto shows STOPPED (StopTask) gets SIGTERM, as Fargate sends.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::moto::Moto;
use loadgate::cloud::outputs::StackOutputs;
use loadgate::cloud::stack::StackSpec;

pub const STACK: &str = "loadgate";
/// Names for tests that make their own cluster or bucket (tests/it/fargate_worker.rs). The stack
/// [`deploy`] makes is the real template's, whose cluster and bucket CloudFormation names: they
/// are in [`deploy`]'s answer and in [`outputs`].
pub const CLUSTER: &str = "lg";
pub const BUCKET: &str = "lg-runs";

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// What [`deploy`] made (each test reads what it needs).
#[allow(dead_code)]
pub struct Deployed {
    pub cluster: String,
    pub bucket: String,
    pub outputs: StackOutputs,
}

/// Deploys templates/stack.yaml itself into moto, as `loadgate stack deploy` does (the stack's
/// tags are the ones the deploy writes: nothing is forged afterwards).
pub fn deploy(moto: &Moto) -> Deployed {
    runtime().block_on(async {
        let aws = moto.aws().await;
        let (outputs, _) = loadgate::cloud::stack::deploy(&aws, &StackSpec::new(STACK))
            .await
            .expect("deploy templates/stack.yaml into moto");
        enable_dns_hostnames(moto, &aws).await;
        Deployed {
            cluster: outputs.cluster_name.clone(),
            bucket: outputs.bucket.clone(),
            outputs,
        }
    })
}

/// [`deploy`] into another region of the same moto (moto keeps each region apart by the
/// request's credential scope), as `loadgate run --regions` finds it.
#[allow(dead_code)]
pub fn deploy_in(moto: &Moto, region: &str) -> Deployed {
    runtime().block_on(async {
        let aws = aws_in(&moto.endpoint, None, region).await;
        let (outputs, _) = loadgate::cloud::stack::deploy(&aws, &StackSpec::new(STACK))
            .await
            .expect("deploy templates/stack.yaml into moto");
        let vpc = stack_vpc(&aws).await;
        query_in(
            moto,
            region,
            "ec2",
            &format!(
                "Action=ModifyVpcAttribute&Version=2016-11-15&VpcId={vpc}&EnableDnsHostnames.Value=true"
            ),
        );
        Deployed {
            cluster: outputs.cluster_name.clone(),
            bucket: outputs.bucket.clone(),
            outputs,
        }
    })
}

async fn stack_vpc(aws: &loadgate::cloud::aws::Aws) -> String {
    let resources = aws
        .cloudformation()
        .describe_stack_resources()
        .stack_name(STACK)
        .send()
        .await
        .expect("stack resources");
    resources
        .stack_resources()
        .iter()
        .find(|r| r.logical_resource_id() == Some("Vpc"))
        .and_then(|r| r.physical_resource_id())
        .expect("the VPC")
        .to_string()
}

/// moto's CloudFormation ignores the VPC's EnableDnsHostnames, and its RunTask needs it for
/// awsvpc: set it on the stack's VPC (after a deploy by the binary, say).
pub async fn enable_dns_hostnames(moto: &Moto, aws: &loadgate::cloud::aws::Aws) {
    let resources = aws
        .cloudformation()
        .describe_stack_resources()
        .stack_name(STACK)
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
    ec2_query(
        moto,
        &format!(
            "Action=ModifyVpcAttribute&Version=2016-11-15&VpcId={vpc}&EnableDnsHostnames.Value=true"
        ),
    );
}

/// The deployed stack's outputs (after [`deploy`]).
pub fn outputs(moto: &Moto) -> StackOutputs {
    runtime().block_on(async {
        loadgate::cloud::outputs::describe(&moto.aws().await, STACK)
            .await
            .expect("the stack's outputs")
    })
}

/// One EC2 query-API call to moto (the tests have no EC2 client).
fn ec2_query(moto: &Moto, body: &str) {
    query(moto, "ec2", body);
}

/// One query-API call (EC2, IAM...) to moto while it checks no signature (before any
/// `/moto-api/reset-auth`); moto routes it by the credential scope. The answer's body.
pub fn query(moto: &Moto, service: &str, body: &str) -> String {
    query_in(moto, crate::moto::REGION, service, body)
}

/// [`query`] in `region`.
pub fn query_in(moto: &Moto, region: &str, service: &str, body: &str) -> String {
    use std::io::Read;
    let addr = moto.endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to moto");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write to moto");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read from moto");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{service} {body}: {answer}"
    );
    answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// Protocol intervals short enough for tests (ms).
pub const FAST: &str = r#"{"heartbeat_every":1000,"heartbeat_timeout":5000,"live_every":1000,"start_delay":1500,"ready_timeout":60000}"#;

/// How [`FakeFargate::start_with`] plays Fargate.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// More environment for the workers, after moto's (so it may replace the credentials).
    pub worker_env: Vec<(String, String)>,
    /// The access key Fargate itself calls ECS with (moto's default when `None`): needed once
    /// moto checks IAM.
    pub credentials: Option<(String, String)>,
}

/// A running worker the fake Fargate started.
pub struct Worker {
    pub task_id: String,
    pub child: Child,
    pub terminated: bool,
}

pub struct FakeFargate {
    /// The cluster it watches: the deployed stack's ([`CLUSTER`] without one).
    pub cluster: String,
    region: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub workers: Arc<Mutex<BTreeMap<String, Worker>>>,
    _metadata: JoinHandle<()>,
}

impl FakeFargate {
    pub fn start(moto: &Moto) -> FakeFargate {
        FakeFargate::start_with_env(moto, Vec::new())
    }

    /// [`FakeFargate::start`], with more environment for the workers (after moto's, so it may
    /// replace the credentials).
    pub fn start_with_env(moto: &Moto, extra: Vec<(String, String)>) -> FakeFargate {
        FakeFargate::start_with(
            moto,
            Options {
                worker_env: extra,
                ..Options::default()
            },
        )
    }

    pub fn start_with(moto: &Moto, options: Options) -> FakeFargate {
        FakeFargate::start_in(moto, options, crate::moto::REGION)
    }

    /// Plays Fargate in `region` (one per region of a run from several): watches that region's
    /// cluster and gives its workers `AWS_REGION=region`, as Fargate does.
    pub fn start_in(moto: &Moto, options: Options, region: &str) -> FakeFargate {
        let region = region.to_string();
        let own_region = region.clone();
        let Options {
            worker_env: extra,
            credentials,
        } = options;
        let cluster = runtime().block_on(async {
            loadgate::cloud::outputs::describe(
                &aws_in(&moto.endpoint, credentials.clone(), &region).await,
                STACK,
            )
            .await
            .map_or_else(|_| CLUSTER.to_string(), |o| o.cluster_name)
        });
        let metadata = TcpListener::bind("127.0.0.1:0").expect("bind metadata");
        let meta_addr = metadata.local_addr().expect("addr");
        let meta_cluster = cluster.clone();
        let meta = std::thread::spawn(move || serve_metadata(metadata, &meta_cluster));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Arc<Mutex<BTreeMap<String, Worker>>> = Arc::default();
        let env = moto.env();
        let endpoint = moto.endpoint.clone();
        let (flag, seen, watched) = (stop.clone(), workers.clone(), cluster.clone());
        let mut extra = extra;
        if region != crate::moto::REGION {
            extra.push(("AWS_REGION".to_string(), region.clone()));
        }
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            rt.block_on(async move {
                let moto_aws = aws_in(&endpoint, credentials, &region).await;
                let ecs = moto_aws.ecs();
                while !flag.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let Ok(list) = ecs.list_tasks().cluster(&watched).send().await else {
                        continue;
                    };
                    let arns = list.task_arns().to_vec();
                    if arns.is_empty() {
                        continue;
                    }
                    let Ok(described) = ecs
                        .describe_tasks()
                        .cluster(&watched)
                        .set_tasks(Some(arns))
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let mut workers = seen.lock().expect("lock");
                    for task in described.tasks() {
                        let arn = task.task_arn().unwrap_or_default();
                        let id = arn.rsplit('/').next().unwrap_or_default().to_string();
                        let status = task.last_status().unwrap_or_default();
                        if let Some(w) = workers.get_mut(&id) {
                            if status == "STOPPED" && !w.terminated {
                                w.terminated = true;
                                // SAFETY: a plain kill(2) of our own child.
                                unsafe { libc::kill(w.child.id() as i32, libc::SIGTERM) };
                            }
                            continue;
                        }
                        if status == "STOPPED" {
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
                        for (k, v) in &extra {
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
                        let child = cmd.spawn().expect("start a worker");
                        workers.insert(
                            id.clone(),
                            Worker {
                                task_id: id,
                                child,
                                terminated: false,
                            },
                        );
                    }
                }
            });
        });
        FakeFargate {
            cluster,
            region: own_region,
            stop,
            thread: Some(thread),
            workers,
            _metadata: meta,
        }
    }

    /// Kills one worker process (SIGKILL: no result) and marks its task STOPPED in moto, as a
    /// crashed container would be; returns its task id.
    pub fn kill_one(&self, moto: &Moto) -> String {
        let id = {
            let mut workers = self.workers.lock().expect("lock");
            let w = workers.values_mut().next().expect("a worker runs");
            w.terminated = true;
            let _ = w.child.kill();
            w.task_id.clone()
        };
        runtime().block_on(async {
            // The task is in this fake's region, which need not be the tests' default.
            let ecs = aws_in(&moto.endpoint, None, &self.region).await.ecs();
            ecs.stop_task()
                .cluster(&self.cluster)
                .task(&id)
                .reason("Essential container in task exited")
                .send()
                .await
                .expect("stop task");
        });
        id
    }

    /// Sends one worker process SIGTERM that is not the controller's StopTask (a Spot
    /// interruption, a host going away); returns its task id.
    #[allow(dead_code)]
    pub fn term_one(&self) -> String {
        let workers = self.workers.lock().expect("lock");
        let w = workers.values().next().expect("a worker runs");
        // SAFETY: a plain kill(2) of the test's own child.
        unsafe { libc::kill(w.child.id() as i32, libc::SIGTERM) };
        w.task_id.clone()
    }

    /// Stops playing Fargate; returns each worker's exit code (by task id).
    pub fn finish(mut self) -> BTreeMap<String, Option<i32>> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let mut workers = self.workers.lock().expect("lock");
        let mut codes = BTreeMap::new();
        for (id, w) in workers.iter_mut() {
            let deadline = Instant::now() + Duration::from_secs(30);
            let code = loop {
                match w.child.try_wait() {
                    Ok(Some(status)) => break status.code(),
                    _ if Instant::now() > deadline => {
                        let _ = w.child.kill();
                        break None;
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            codes.insert(id.clone(), code);
        }
        codes
    }
}

impl Drop for FakeFargate {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(mut workers) = self.workers.lock() {
            for w in workers.values_mut() {
                let _ = w.child.kill();
                let _ = w.child.wait();
            }
        }
    }
}

pub async fn aws_for(endpoint: &str) -> loadgate::cloud::aws::Aws {
    aws_as(endpoint, None).await
}

/// [`aws_for`] with other credentials (an access key of an IAM user made in moto).
pub async fn aws_as(
    endpoint: &str,
    credentials: Option<(String, String)>,
) -> loadgate::cloud::aws::Aws {
    aws_in(endpoint, credentials, crate::moto::REGION).await
}

/// [`aws_as`] in `region`.
pub async fn aws_in(
    endpoint: &str,
    credentials: Option<(String, String)>,
    region: &str,
) -> loadgate::cloud::aws::Aws {
    use aws_config::{BehaviorVersion, Region};
    use aws_credential_types::Credentials;
    let (id, secret) =
        credentials.unwrap_or_else(|| ("testing".to_string(), "testing".to_string()));
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(id, secret, None, None, "moto"));
    loadgate::cloud::aws::Aws::load_from(loader)
        .await
        .expect("aws config")
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
        let id = path
            .trim_start_matches("/v4/")
            .trim_end_matches("/task")
            .to_string();
        let body =
            format!(r#"{{"TaskARN":"arn:aws:ecs:us-east-1:123456789012:task/{cluster}/{id}"}}"#);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

/// Waits until `n` workers of a region have written a live snapshot that counts requests: the
/// load observably runs there (a worker merely up says nothing about that).
pub fn wait_for_load(moto: &Moto, region: &str, bucket: &str, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let loaded = runtime().block_on(async {
            let s3 = aws_in(&moto.endpoint, None, region).await.s3();
            let list = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix("runs/")
                .send()
                .await
                .expect("list");
            let mut loaded = 0;
            for o in list.contents() {
                let key = o.key().unwrap_or_default();
                if !key.contains("/live/") {
                    continue;
                }
                let got = s3.get_object().bucket(bucket).key(key).send().await;
                let Ok(got) = got else { continue };
                let body = got.body.collect().await.expect("body").into_bytes();
                let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if doc["results"]["total"]["requests"].as_u64() > Some(0) {
                    loaded += 1;
                }
            }
            loaded
        });
        if loaded >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{region}: the load never ran on {n} workers"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `loadgate run --executor fargate` as the tests start it: the stand-in's image (`x`), no
/// baseline, the protocol's intervals shortened ([`FAST`]; a later `LOADGATE_FARGATE_TIMING`
/// replaces it), `env` for AWS (moto's, or a proxy's in front of it), then `args`.
pub fn fargate_run(env: Vec<(&'static str, String)>, args: &[&str]) -> crate::harness::Test {
    let mut test = crate::harness::Test::new()
        .env("LOADGATE_FARGATE_TIMING", FAST)
        .args(&[
            "run",
            "--executor",
            "fargate",
            "--image",
            "x",
            "--baseline",
            "none",
        ])
        .args(args);
    for (k, v) in env {
        test = test.env(k, &v);
    }
    test
}

/// A task of the deployed stack's cluster as moto shows it.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct TaskSeen {
    pub id: String,
    pub status: String,
    /// The run that started it (RunTask's `startedBy`).
    pub started_by: String,
}

/// Every task of the deployed stack's cluster in the tests' region, running or stopped: what a
/// test asserts "nothing left running" with.
#[allow(dead_code)]
pub fn tasks(moto: &Moto) -> Vec<TaskSeen> {
    tasks_in(moto, crate::moto::REGION, &outputs(moto).cluster_name)
}

/// The lastStatus of every task of `cluster` in `region`.
#[allow(dead_code)]
pub fn task_statuses(moto: &Moto, region: &str, cluster: &str) -> Vec<String> {
    tasks_in(moto, region, cluster)
        .into_iter()
        .map(|t| t.status)
        .collect()
}

/// Every task of `cluster` in `region`, running or stopped (ListTasks shows one desired status
/// at a time), through moto directly.
pub fn tasks_in(moto: &Moto, region: &str, cluster: &str) -> Vec<TaskSeen> {
    use aws_sdk_ecs::types::DesiredStatus;
    runtime().block_on(async {
        let ecs = aws_in(&moto.endpoint, None, region).await.ecs();
        let mut arns = Vec::new();
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let listed = ecs
                .list_tasks()
                .cluster(cluster)
                .desired_status(status)
                .send()
                .await
                .expect("list tasks");
            arns.extend(listed.task_arns().iter().cloned());
        }
        arns.sort();
        arns.dedup();
        if arns.is_empty() {
            return Vec::new();
        }
        let described = ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .expect("describe tasks");
        described
            .tasks()
            .iter()
            .map(|t| TaskSeen {
                id: t
                    .task_arn()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                status: t.last_status().unwrap_or_default().to_string(),
                started_by: t.started_by().unwrap_or_default().to_string(),
            })
            .collect()
    })
}
