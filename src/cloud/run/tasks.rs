//! ECS for distributed runs: the worker task definition, launching (RunTask starts at most 10 per
//! call: calls go in parallel), describing (at most 100 per call), stopping (one per call, in
//! parallel) and listing (pages of 100). Real-AWS limits an emulator does not enforce are kept
//! here, in one place.

use std::time::Duration;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, Compatibility,
    ContainerDefinition, ContainerOverride, CpuArchitecture, KeyValuePair, LaunchType,
    LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, OsFamily, RuntimePlatform, Tag,
    TaskOverride,
};

use crate::cloud::aws;
use crate::protocol::{CONTAINER, RUN_ENV};
use crate::{Error, Result};

/// RunTask starts at most this many tasks per call.
pub const RUN_TASK_MAX: u32 = 10;
/// DescribeTasks takes at most this many tasks per call.
pub const DESCRIBE_MAX: usize = 100;
/// The tag that names a task's run (RunTask's `startedBy` says the same, for ListTasks).
pub const RUN_TAG: &str = "loadgate:run";
/// The prefix of workers' log streams: `<prefix>/<container>/<task_id>`.
pub const LOG_PREFIX: &str = "loadgate";

/// What the worker's task definition holds for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpec {
    pub family: String,
    pub image: String,
    /// CPU units (1024 = 1 vCPU) and memory in MiB, as Fargate sizes them.
    pub cpu: u32,
    pub memory: u32,
    pub arm64: bool,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    pub log_group: String,
    pub region: String,
}

/// The CPU architecture of this binary, which the workers' image must match when it is this binary.
pub fn host_is_arm64() -> bool {
    cfg!(target_arch = "aarch64")
}

/// The task definition ARN for `spec`: the family's latest revision when it already matches,
/// otherwise a new revision (a scenario's sizing never needs a stack update).
pub async fn ensure_task_definition(ecs: &aws_sdk_ecs::Client, spec: &TaskSpec) -> Result<String> {
    if let Ok(out) = ecs
        .describe_task_definition()
        .task_definition(&spec.family)
        .send()
        .await
    {
        if let Some(def) = out.task_definition() {
            if matches(def, spec) {
                if let Some(arn) = def.task_definition_arn() {
                    return Ok(arn.to_string());
                }
            }
        }
    }
    let arch = if spec.arm64 {
        CpuArchitecture::Arm64
    } else {
        CpuArchitecture::X8664
    };
    let logs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &spec.log_group)
        .options("awslogs-region", &spec.region)
        .options("awslogs-stream-prefix", LOG_PREFIX)
        .build()
        .map_err(|e| Error::infra(format!("cannot describe the worker's logs: {e}"), None))?;
    let container = ContainerDefinition::builder()
        .name(CONTAINER)
        .image(&spec.image)
        .essential(true)
        .command("worker")
        // The task's memory as the container's hard limit: the same bound, said twice
        // (emulators size tasks from the containers).
        .memory(spec.memory as i32)
        .log_configuration(logs)
        // Spot gives 2 minutes' notice and StopTask waits this long before SIGKILL: room
        // for the worker to flush its result.
        .stop_timeout(120)
        .build();
    let out = ecs
        .register_task_definition()
        .family(&spec.family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(spec.cpu.to_string())
        .memory(spec.memory.to_string())
        .execution_role_arn(&spec.execution_role_arn)
        .task_role_arn(&spec.task_role_arn)
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(arch)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .container_definitions(container)
        .send()
        .await
        .map_err(|e| aws::error(format!("register task definition {}", spec.family), e))?;
    out.task_definition()
        .and_then(|d| d.task_definition_arn())
        .map(str::to_string)
        .ok_or_else(|| Error::infra("RegisterTaskDefinition returned no ARN", None))
}

fn matches(def: &aws_sdk_ecs::types::TaskDefinition, spec: &TaskSpec) -> bool {
    let container = def
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(CONTAINER));
    let arch = def
        .runtime_platform()
        .and_then(|p| p.cpu_architecture())
        .map(|a| a.as_str().to_string());
    let want_arch = if spec.arm64 { "ARM64" } else { "X86_64" };
    container.and_then(|c| c.image()) == Some(spec.image.as_str())
        && def.cpu() == Some(spec.cpu.to_string().as_str())
        && def.memory() == Some(spec.memory.to_string().as_str())
        && arch.as_deref() == Some(want_arch)
        && def.task_role_arn() == Some(spec.task_role_arn.as_str())
        && def.execution_role_arn() == Some(spec.execution_role_arn.as_str())
        && container
            .and_then(|c| c.log_configuration())
            .and_then(|l| l.options())
            .and_then(|o| o.get("awslogs-group"))
            == Some(&spec.log_group)
}

/// Where and how the run's tasks start.
#[derive(Clone, Debug)]
pub struct Launch {
    pub cluster: String,
    pub task_definition: String,
    pub subnets: Vec<String>,
    pub security_group: String,
    pub public_ip: bool,
    pub run_id: String,
    /// The one override every task gets: [`RUN_ENV`].
    pub run_url: String,
    pub spot: bool,
    /// Rounds of retrying capacity failures (and of RunTask throttling).
    pub rounds: u32,
    /// First backoff between rounds; doubled each round.
    pub backoff: Duration,
}

/// Tasks started, and what could not be started after every retry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Launched {
    pub arns: Vec<String>,
    /// `reason: detail` of tasks that never started.
    pub failures: Vec<String>,
    /// How many RunTask calls were made.
    pub calls: u32,
    /// Tasks that fell back from FARGATE_SPOT to FARGATE.
    pub on_demand_fallback: u32,
    /// Tasks that found no capacity in the last round (0 when every task started).
    pub no_capacity: u32,
}

/// Capacity shortages are worth retrying; anything else (a bad subnet, a missing role) is not.
fn capacity_failure(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("capacity") || r.starts_with("resource:") || r.contains("throttl")
}

fn throttled<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    aws::error_code(err).is_some_and(|c| c.contains("Throttl") || c == "TooManyRequestsException")
}

/// Starts `count` tasks. Capacity failures (and throttled calls) are retried for `launch.rounds`
/// rounds; with Spot, tasks Spot has no capacity for are retried on FARGATE (a capacity-provider
/// strategy does not fall back by itself). Never fails as a whole: tasks that started must reach
/// the caller's guard, so what could not start is reported in `failures`.
pub async fn launch(ecs: &aws_sdk_ecs::Client, launch: &Launch, count: u32) -> Launched {
    let mut out = Launched::default();
    let mut missing = count;
    let mut spot = launch.spot;
    let mut wait = launch.backoff;
    // What ECS last said of the capacity, quoted when the rounds run out: it says what to do.
    let mut capacity_reasons: Vec<String> = Vec::new();
    for round in 0..=launch.rounds {
        if missing == 0 {
            break;
        }
        if round > 0 {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        let batches = (0..missing.div_ceil(RUN_TASK_MAX))
            .map(|i| (missing - i * RUN_TASK_MAX).min(RUN_TASK_MAX));
        let calls = batches.map(|asked| {
            let (ecs, launch) = (ecs.clone(), launch.clone());
            async move { (asked, run_batch(&ecs, &launch, asked, spot).await) }
        });
        let answers = join_all(calls).await;
        out.calls += answers.len() as u32;
        let mut retry = 0;
        let mut spot_short = false;
        for (asked, answer) in answers {
            match answer {
                Ok((arns, failures)) => {
                    if launch.spot && !spot {
                        out.on_demand_fallback += arns.len() as u32;
                    }
                    let mut hard = 0;
                    for (reason, detail) in failures {
                        if capacity_failure(&reason) {
                            spot_short |= spot;
                            let said = if detail.is_empty() {
                                reason
                            } else {
                                format!("{reason}: {detail}")
                            };
                            if !capacity_reasons.contains(&said) {
                                capacity_reasons.push(said);
                            }
                        } else {
                            hard += 1;
                            out.failures.push(format!("{reason}: {detail}"));
                        }
                    }
                    retry += asked.saturating_sub(arns.len() as u32 + hard);
                    out.arns.extend(arns);
                }
                Err((_, true)) => retry += asked,
                Err((e, false)) => out.failures.push(e.to_string()),
            }
        }
        if spot_short {
            spot = false;
        }
        missing = retry;
    }
    if missing > 0 {
        out.no_capacity = missing;
        let said = if capacity_reasons.is_empty() {
            String::new()
        } else {
            format!("; ECS said: \"{}\"", capacity_reasons.join("\"; \""))
        };
        out.failures.push(format!(
            "{missing} task(s) found no Fargate capacity after {} RunTask rounds{said}",
            launch.rounds + 1
        ));
    }
    out
}

/// Runs futures concurrently on the current runtime and returns their outputs (in completion
/// order). A future that panicked is left out: its caller's count shows the gap.
pub(crate) async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    let mut out = Vec::with_capacity(set.len());
    while let Some(done) = set.join_next().await {
        if let Ok(v) = done {
            out.push(v);
        }
    }
    out
}

/// One RunTask call. `Err((error, retryable))`.
async fn run_batch(
    ecs: &aws_sdk_ecs::Client,
    launch: &Launch,
    count: u32,
    spot: bool,
) -> std::result::Result<(Vec<String>, Vec<(String, String)>), (Error, bool)> {
    let build_err = |e: aws_smithy_types::error::operation::BuildError| {
        (
            Error::infra(format!("cannot build RunTask: {e}"), None),
            false,
        )
    };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(launch.subnets.clone()))
        .security_groups(&launch.security_group)
        .assign_public_ip(if launch.public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(build_err)?;
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(CONTAINER)
                .environment(
                    KeyValuePair::builder()
                        .name(RUN_ENV)
                        .value(&launch.run_url)
                        .build(),
                )
                .build(),
        )
        .build();
    let mut req = ecs
        .run_task()
        .cluster(&launch.cluster)
        .task_definition(&launch.task_definition)
        .count(count as i32)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .overrides(overrides)
        .started_by(&launch.run_id)
        .tags(Tag::builder().key(RUN_TAG).value(&launch.run_id).build());
    req = if spot {
        let item = CapacityProviderStrategyItem::builder()
            .capacity_provider("FARGATE_SPOT")
            .weight(1)
            .build()
            .map_err(build_err)?;
        req.capacity_provider_strategy(item)
    } else {
        req.launch_type(LaunchType::Fargate)
    };
    match req.send().await {
        Ok(out) => {
            let arns = out
                .tasks()
                .iter()
                .filter_map(|t| t.task_arn().map(str::to_string))
                .collect();
            let failures = out
                .failures()
                .iter()
                .map(|f| {
                    (
                        f.reason().unwrap_or("unknown").to_string(),
                        f.detail().unwrap_or("").to_string(),
                    )
                })
                .collect();
            Ok((arns, failures))
        }
        Err(e) => {
            let again = throttled(&e);
            Err((aws::error("start Fargate tasks (RunTask)", e), again))
        }
    }
}

/// A task as DescribeTasks shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskState {
    pub arn: String,
    pub id: String,
    pub last_status: String,
    pub stopped_reason: Option<String>,
    pub exit_code: Option<i32>,
    pub started_by: Option<String>,
}

impl TaskState {
    pub fn stopped(&self) -> bool {
        self.last_status == "STOPPED" || self.last_status == "DEPROVISIONING"
    }
}

/// The task id: the last segment of its ARN.
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The CloudWatch log stream of a worker task.
pub fn log_stream(task_id: &str) -> String {
    format!("{LOG_PREFIX}/{CONTAINER}/{task_id}")
}

/// DescribeTasks for `arns`, 100 per call, calls in parallel.
pub async fn describe(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<TaskState>> {
    let calls = arns.chunks(DESCRIBE_MAX).map(|chunk| {
        ecs.describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
    });
    let calls = calls.collect::<Vec<_>>();
    let mut states = Vec::with_capacity(arns.len());
    for answer in join_all(calls).await {
        let out = answer.map_err(|e| aws::error("describe the run's tasks", e))?;
        for t in out.tasks() {
            let Some(arn) = t.task_arn() else { continue };
            let container = t.containers().iter().find(|c| c.name() == Some(CONTAINER));
            states.push(TaskState {
                arn: arn.to_string(),
                id: task_id(arn).to_string(),
                last_status: t.last_status().unwrap_or("UNKNOWN").to_string(),
                stopped_reason: t.stopped_reason().map(str::to_string),
                exit_code: container.and_then(|c| c.exit_code()),
                started_by: t.started_by().map(str::to_string),
            });
        }
    }
    Ok(states)
}

/// StopTask for each of `arns` (one per call, calls in parallel). Returns the tasks that could
/// not be stopped, with why.
pub async fn stop(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    reason: &str,
) -> Vec<String> {
    // StopTask's reason is at most 255 characters.
    let reason: String = reason.chars().take(255).collect();
    let calls = arns.iter().map(|arn| {
        let req = ecs.stop_task().cluster(cluster).task(arn).reason(&reason);
        let arn = arn.clone();
        async move { (arn, req.send().await) }
    });
    join_all(calls)
        .await
        .into_iter()
        .filter_map(|(arn, r)| {
            r.err()
                .map(|e| format!("{}: {}", task_id(&arn), aws::error("stop task", e)))
        })
        .collect()
}

/// Every running (or pending) task of the cluster, optionally only those `started_by` one run;
/// ListTasks pages by 100.
pub async fn list(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    started_by: Option<&str>,
) -> Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ecs
            .list_tasks()
            .cluster(cluster)
            .set_started_by(started_by.map(str::to_string))
            .max_results(100)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws::error(format!("list the tasks of cluster {cluster}"), e))?;
        arns.extend(out.task_arns().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(arns),
        }
    }
}

#[cfg(test)]
#[path = "tasks_tests.rs"]
mod tests;
