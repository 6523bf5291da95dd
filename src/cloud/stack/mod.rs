//! The stack bootstrapper: makes the stack of templates/stack.yaml exist, current and usable, from
//! whatever state CloudFormation has it in, with a single DescribeStacks call when nothing changed.
//!
//! "Current" is known from DescribeStacks alone: the stack's tags record the template's sha256 and
//! the loadgate version that deployed it, and its `Parameters` (which DescribeStacks returns too)
//! are compared with the `--param`s given, so no parameter fingerprint is needed. Parameters not given keep the stack's values (UsePreviousValue), so a `loadgate run`
//! never undoes a `stack deploy --param SubnetIds=...`.
//!
//! Decisions the issue left open:
//! - an update is due but another run's tasks are running: `loadgate run` (`ensure`) proceeds on
//!   the current stack with a warning, since waiting could take as long as that run's load test
//!   and the current stack serves it; `stack deploy` waits for the tasks (up to the wait timeout).
//! - UPDATE_ROLLBACK_COMPLETE: `ensure` uses the stack with a warning naming the failed update and
//!   does not retry it (it would fail again in every CI job); `stack deploy` retries it.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Stack, Tag};

use crate::cloud::aws::{self, Aws};
use crate::cloud::outputs::StackOutputs;
use crate::{Error, Result};

pub mod policy;
pub mod policy_regions;
pub mod template;

mod wait;
use wait::{first_failure_since, wait_until_settled, Settled};

mod destroy;
pub use destroy::{destroy, Destroyed};

mod status;

pub mod zones;

mod compare;
pub(crate) use compare::{changed_parameters, is_newer};
use compare::{given, update_parameters};
pub use status::{status, StackReport};

/// How long a deploy, update or delete may take by default (`--wait-timeout`).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);

/// The loadgate version written to [`template::TAG_VERSION`].
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What to deploy: the stack name, `--param` overrides and how long to wait for CloudFormation.
#[derive(Clone, Debug)]
pub struct StackSpec {
    pub name: String,
    pub params: Vec<(String, String)>,
    pub wait: Duration,
}

impl StackSpec {
    /// The default stack of `name`, with no overrides and the default wait.
    pub fn new(name: impl Into<String>) -> StackSpec {
        StackSpec {
            name: name.into(),
            params: Vec::new(),
            wait: DEFAULT_WAIT,
        }
    }
}

/// What [`deploy`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    /// Current already (or CloudFormation found nothing to update).
    Unchanged,
    /// Left as it is, for the reason given (a newer version deployed it, tasks are running...).
    Kept(String),
}

/// Makes sure the stack exists and is current, then returns its outputs. The warm path is exactly
/// one DescribeStacks call. Streams events to stderr while waiting.
pub async fn ensure(aws: &Aws, spec: &StackSpec) -> Result<StackOutputs> {
    let clients = Clients::new(aws);
    Bootstrap::new(&clients, spec, Mode::Run)?
        .with_zone_lookup(aws)
        .run()
        .await
        .map(|(outputs, _)| outputs)
}

/// `loadgate stack deploy`: [`ensure`], except that it waits for running tasks instead of
/// proceeding without the update, and retries an update that rolled back.
pub async fn deploy(aws: &Aws, spec: &StackSpec) -> Result<(StackOutputs, Action)> {
    let clients = Clients::new(aws);
    Bootstrap::new(&clients, spec, Mode::Deploy)?
        .with_zone_lookup(aws)
        .run()
        .await
}

/// The clients the bootstrapper uses, and how often it polls (a field so that the mocked unit
/// tests do not sleep).
#[derive(Clone, Debug)]
pub(crate) struct Clients {
    pub cfn: aws_sdk_cloudformation::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub poll: Duration,
}

impl Clients {
    pub fn new(aws: &Aws) -> Clients {
        Clients {
            cfn: aws.cloudformation(),
            ecs: aws.ecs(),
            poll: poll_interval(aws),
        }
    }
}

/// CloudFormation's own console polls every few seconds; an emulator answers at once.
fn poll_interval(aws: &Aws) -> Duration {
    if aws.emulated() {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(5)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `loadgate run`: get a usable stack, never hold the run up for an optional update.
    Run,
    /// `loadgate stack deploy`: the user asked for the update.
    Deploy,
}

/// The most state transitions one call follows (e.g. rolled back -> deleted -> created): a guard
/// against two processes undoing each other forever.
const MAX_ROUNDS: usize = 8;

pub(crate) struct Bootstrap<'a> {
    clients: &'a Clients,
    name: String,
    /// The `--param`s given: what an update compares and sets.
    params: Vec<(String, String)>,
    /// What a create sets: the given ones plus the repository named after the stack. An update
    /// leaves that default alone, so a stack deployed with its own `RepositoryName` keeps it.
    create_params: Vec<(String, String)>,
    deadline: Instant,
    wait: Duration,
    mode: Mode,
    /// Where a first create asks which zones run Fargate (`None`: the template's default zones).
    zones: Option<&'a Aws>,
}

impl<'a> Bootstrap<'a> {
    pub fn new(clients: &'a Clients, spec: &StackSpec, mode: Mode) -> Result<Bootstrap<'a>> {
        let create_params = template::stack_parameters(&spec.name, &spec.params)?;
        let params = template::parameters(&spec.params)?;
        Ok(Bootstrap {
            clients,
            name: spec.name.clone(),
            params,
            create_params,
            deadline: Instant::now() + spec.wait,
            wait: spec.wait,
            mode,
            zones: None,
        })
    }

    /// A create picks two zones that run Fargate ([`zones`]).
    pub fn with_zone_lookup(mut self, aws: &'a Aws) -> Bootstrap<'a> {
        self.zones = Some(aws);
        self
    }

    pub async fn run(&self) -> Result<(StackOutputs, Action)> {
        let mut action = Action::Unchanged;
        for _ in 0..MAX_ROUNDS {
            let Some(stack) = describe(&self.clients.cfn, &self.name).await? else {
                if self.create().await? {
                    action = Action::Created;
                }
                continue;
            };
            let status = status_of(&stack);
            match status {
                "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" => {
                    return self.use_or_update(&stack, action).await;
                }
                "UPDATE_ROLLBACK_COMPLETE" => {
                    let failed = self.failed_update(&stack).await;
                    if self.mode == Mode::Run {
                        warn(&format!(
                            "stack {} is usable but its last update failed and was rolled back \
                             ({failed}); run `loadgate stack deploy --stack-name {}` to retry it",
                            self.name, self.name
                        ));
                        return self.outputs(&stack, Action::Kept(failed));
                    }
                    return self.use_or_update(&stack, action).await;
                }
                "ROLLBACK_COMPLETE" => {
                    // A first create that failed: CloudFormation allows nothing but deleting it.
                    let reason = self.failure_reason(&stack).await;
                    note(&format!(
                        "stack {} is ROLLBACK_COMPLETE (a failed first create: {reason}); \
                         deleting it to create it again",
                        self.name
                    ));
                    self.delete_and_wait(&stack).await?;
                }
                s if s.ends_with("_IN_PROGRESS") && s != "REVIEW_IN_PROGRESS" => {
                    note(&format!(
                        "stack {} is {s} (another deployment): waiting for it",
                        self.name
                    ));
                    wait_until_settled(self.clients, &self.name, stack_id(&stack), self.deadline)
                        .await?;
                }
                s => return Err(self.stuck(&stack, s).await),
            }
        }
        Err(Error::infra(
            format!(
                "stack {} kept changing state while loadgate was deploying it",
                self.name
            ),
            "another process is deploying or deleting the same stack: let it finish, then run \
             again"
                .to_string(),
        ))
    }

    /// CreateStack and wait. False when another run created it first (AlreadyExists): the next
    /// round then waits for that one.
    async fn create(&self) -> Result<bool> {
        let mut params = self.create_params.clone();
        if let Some(aws) = self.zones {
            params.extend(zones::parameters(aws, &self.create_params).await?);
        }
        note(&format!("creating stack {}", self.name));
        let created = self
            .clients
            .cfn
            .create_stack()
            .stack_name(&self.name)
            .template_body(template::TEMPLATE)
            .capabilities(Capability::CapabilityIam)
            .set_parameters(Some(params.iter().map(given).collect()))
            .set_tags(Some(self.tags()))
            .send()
            .await;
        let id = match created {
            Ok(out) => out.stack_id().unwrap_or(&self.name).to_string(),
            Err(e) if aws::error_code(&e) == Some("AlreadyExistsException") => {
                note(&format!(
                    "stack {} is being created by another run: waiting for it",
                    self.name
                ));
                return Ok(false);
            }
            Err(e) => return Err(aws::error(format_args!("create stack {}", self.name), e)),
        };
        let settled = wait_until_settled(self.clients, &self.name, &id, self.deadline).await?;
        if settled.status != "CREATE_COMPLETE" {
            return Err(self.failed("create", &settled));
        }
        Ok(true)
    }

    async fn use_or_update(&self, stack: &Stack, action: Action) -> Result<(StackOutputs, Action)> {
        let deployed_by = tag(stack, template::TAG_VERSION).unwrap_or("0");
        if is_newer(deployed_by, VERSION) {
            warn(&format!(
                "stack {} was deployed by loadgate {deployed_by}, newer than this {VERSION}: \
                 using it as it is (update loadgate to get rid of this warning)",
                self.name
            ));
            return self.outputs(stack, Action::Kept(format!("deployed by {deployed_by}")));
        }
        let template_current =
            tag(stack, template::TAG_TEMPLATE_SHA256) == Some(template::sha256());
        let changed = changed_parameters(stack, &self.params);
        if template_current && changed.is_empty() {
            return self.outputs(stack, action);
        }
        let why = if template_current {
            format!("parameters changed: {}", changed.join(", "))
        } else {
            format!("template of loadgate {VERSION} differs from {deployed_by}'s")
        };
        if !self.tasks_allow_update(stack, &why).await? {
            return self.outputs(stack, Action::Kept("tasks running".to_string()));
        }
        if self.update(stack, &why).await? {
            let updated = describe(&self.clients.cfn, stack_id(stack))
                .await?
                .ok_or_else(|| self.vanished())?;
            return self.outputs(&updated, Action::Updated);
        }
        self.outputs(stack, action)
    }

    /// UpdateStack and wait; false when CloudFormation had nothing to update.
    async fn update(&self, stack: &Stack, why: &str) -> Result<bool> {
        note(&format!("updating stack {} ({why})", self.name));
        let params = update_parameters(stack, &self.params)?;
        let updated = self
            .clients
            .cfn
            .update_stack()
            .stack_name(stack_id(stack))
            .template_body(template::TEMPLATE)
            .capabilities(Capability::CapabilityIam)
            .set_parameters(Some(params))
            .set_tags(Some(self.tags()))
            .send()
            .await;
        if let Err(e) = updated {
            if aws::error_message(&e).is_some_and(|m| m.contains("No updates are to be performed"))
            {
                note(&format!("stack {} is already current", self.name));
                return Ok(false);
            }
            let denied = aws::error_code(&e)
                .is_some_and(|c| c.contains("AccessDenied") || c == "UnauthorizedOperation");
            // Everyday CI runs hold the narrow run policy, which cannot update the stack: a new
            // loadgate version must not fail every run until someone deploys.
            if denied && self.mode == Mode::Run && self.outputs(stack, Action::Unchanged).is_ok() {
                warn(&format!(
                    "stack {} needs an update ({why}), but these credentials may not update it: \
                     using the current stack; run `loadgate stack deploy --stack-name {}` with \
                     the deploy role (`loadgate stack policy --deploy`)",
                    self.name, self.name
                ));
                return Ok(false);
            }
            return Err(aws::error(format_args!("update stack {}", self.name), e));
        }
        let settled =
            wait_until_settled(self.clients, &self.name, stack_id(stack), self.deadline).await?;
        if settled.status != "UPDATE_COMPLETE" {
            return Err(self.failed("update", &settled));
        }
        Ok(true)
    }

    /// Never update under another run's workers: a replaced role or subnet would break them.
    /// The cluster is the stack's own, so every task in it is a loadgate worker.
    async fn tasks_allow_update(&self, stack: &Stack, why: &str) -> Result<bool> {
        let Some(cluster) = output(stack, "ClusterName") else {
            return Ok(true);
        };
        let usable = self.outputs(stack, Action::Unchanged).is_ok();
        let mut announced = false;
        loop {
            let running = running_tasks(&self.clients.ecs, cluster).await?;
            if running == 0 {
                return Ok(true);
            }
            if self.mode == Mode::Run && usable {
                warn(&format!(
                    "stack {} needs an update ({why}), but {running} task(s) of another run are \
                     running in it: using the current stack; `loadgate stack deploy` updates it \
                     once they are done",
                    self.name
                ));
                return Ok(false);
            }
            if Instant::now() >= self.deadline {
                return Err(Error::infra(
                    format!(
                        "stack {} needs an update ({why}), but {running} task(s) kept running in \
                         it for {}",
                        self.name,
                        humantime::format_duration(self.wait)
                    ),
                    "wait for the other runs to finish (`loadgate runs` lists them), or raise \
                     --wait-timeout"
                        .to_string(),
                ));
            }
            if !announced {
                note(&format!(
                    "stack {} needs an update ({why}): waiting for {running} running task(s) of \
                     another run to finish",
                    self.name
                ));
                announced = true;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.clients.poll.max(Duration::from_millis(1))) => {}
                _ = crate::signals::termination() => {
                    return Err(Error::Cancelled(format!(
                        "interrupted while waiting for the tasks running in stack {}: the stack \
                         was not changed",
                        self.name
                    )));
                }
            }
        }
    }

    async fn delete_and_wait(&self, stack: &Stack) -> Result<()> {
        let id = stack_id(stack);
        self.clients
            .cfn
            .delete_stack()
            .stack_name(id)
            .send()
            .await
            .map_err(|e| aws::error(format_args!("delete stack {}", self.name), e))?;
        let settled = wait_until_settled(self.clients, &self.name, id, self.deadline).await?;
        if settled.status != "DELETE_COMPLETE" {
            return Err(self.failed("delete", &settled));
        }
        Ok(())
    }

    /// CloudFormation copies stack tags to every resource, and S3 and ECS allow only letters,
    /// digits, spaces and `+ - = . _ : / @` in tag values: so no parameter values here (a subnet
    /// list has commas). Parameters are compared with the stack's `Parameters` instead.
    fn tags(&self) -> Vec<Tag> {
        [
            (template::TAG_STACK, self.name.as_str()),
            (template::TAG_TEMPLATE_SHA256, template::sha256()),
            (template::TAG_VERSION, VERSION),
        ]
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
    }

    fn outputs(&self, stack: &Stack, action: Action) -> Result<(StackOutputs, Action)> {
        let pairs = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?, o.output_value()?)));
        Ok((StackOutputs::from_pairs(&self.name, pairs)?, action))
    }

    /// The reason CloudFormation gave for the update that rolled back, for the warning.
    async fn failed_update(&self, stack: &Stack) -> String {
        let reason = self.failure_reason(stack).await;
        let version = tag(stack, template::TAG_VERSION).unwrap_or("unknown");
        format!("the update to loadgate {version}'s template failed: {reason}")
    }

    async fn failure_reason(&self, stack: &Stack) -> String {
        first_failure_since(&self.clients.cfn, stack_id(stack), stack_started(stack))
            .await
            .or_else(|| stack.stack_status_reason().map(str::to_string))
            .unwrap_or_else(|| "no reason given".to_string())
    }

    fn failed(&self, doing: &str, settled: &Settled) -> Error {
        let reason = settled.reason.as_deref().unwrap_or("no reason given");
        let help = match doing {
            "create" => format!(
                "fix the cause above (permissions: `loadgate stack policy --deploy`; parameters: \
                 --param), then run `loadgate stack deploy --stack-name {}` again: it deletes the \
                 rolled-back stack and creates it anew",
                self.name
            ),
            "delete" => format!(
                "delete what blocks the deletion (see the reason), then run `loadgate stack \
                 destroy --stack-name {}` again",
                self.name
            ),
            _ => format!(
                "the stack was rolled back to its previous state; fix the cause above, then run \
                 `loadgate stack deploy --stack-name {}` again",
                self.name
            ),
        };
        Error::infra(
            format!(
                "cannot {doing} stack {}: it ended {}: {reason}",
                self.name, settled.status
            ),
            help,
        )
    }

    /// A state loadgate cannot leave by itself: *_FAILED, REVIEW_IN_PROGRESS.
    async fn stuck(&self, stack: &Stack, status: &str) -> Error {
        let reason = self.failure_reason(stack).await;
        let help = match status {
            "UPDATE_ROLLBACK_FAILED" => format!(
                "continue the rollback (`aws cloudformation continue-update-rollback --stack-name \
                 {}`, skipping the resources that cannot roll back), then run again",
                self.name
            ),
            "REVIEW_IN_PROGRESS" => format!(
                "the stack holds a change set that was never executed: delete the stack (`aws \
                 cloudformation delete-stack --stack-name {}`), then run again",
                self.name
            ),
            _ => format!(
                "remove what blocks it (see the reason), delete the stack (`loadgate stack destroy \
                 --stack-name {}`), then run again",
                self.name
            ),
        };
        Error::infra(format!("stack {} is {status}: {reason}", self.name), help)
    }

    fn vanished(&self) -> Error {
        Error::infra(
            format!(
                "stack {} disappeared while loadgate was updating it",
                self.name
            ),
            "another process deleted it: run again to create it".to_string(),
        )
    }
}

/// DescribeStacks of one stack; `None` when it does not exist (CloudFormation answers that as a
/// ValidationError, "Stack with id X does not exist").
pub(crate) async fn describe(
    cfn: &aws_sdk_cloudformation::Client,
    name_or_id: &str,
) -> Result<Option<Stack>> {
    match cfn.describe_stacks().stack_name(name_or_id).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(e) if aws::error_message(&e).is_some_and(|m| m.contains("does not exist")) => Ok(None),
        Err(e) => Err(aws::error(format_args!("describe stack {name_or_id}"), e)),
    }
}

/// Tasks of the cluster whose desired status is RUNNING (first page: any is enough to know).
pub(crate) async fn running_tasks(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Result<usize> {
    let out = ecs
        .list_tasks()
        .cluster(cluster)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
        .send()
        .await
        .map_err(|e| aws::error(format_args!("list the tasks of cluster {cluster}"), e))?;
    Ok(out.task_arns().len())
}

pub(crate) fn status_of(stack: &Stack) -> &str {
    stack.stack_status().map_or("UNKNOWN", |s| s.as_str())
}

pub(crate) fn stack_id(stack: &Stack) -> &str {
    stack.stack_id().or(stack.stack_name()).unwrap_or_default()
}

/// When the stack's current operation began: its events from then on are the ones to show.
pub(crate) fn stack_started(stack: &Stack) -> Option<aws_smithy_types::DateTime> {
    stack
        .deletion_time()
        .or(stack.last_updated_time())
        .or(stack.creation_time())
        .copied()
}

pub(crate) fn tag<'s>(stack: &'s Stack, key: &str) -> Option<&'s str> {
    stack
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

pub(crate) fn output<'s>(stack: &'s Stack, key: &str) -> Option<&'s str> {
    stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
}

pub(crate) fn note(message: &str) {
    eprintln!("loadgate: {message}");
}

pub(crate) fn warn(message: &str) {
    eprintln!("warning: {message}");
}

#[cfg(test)]
mod tests;
