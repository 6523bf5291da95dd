//! Waiting for CloudFormation: polls the stack until no operation is in progress, printing each new
//! stack event to stderr as it appears, so that a CI log shows what a 5-minute create is doing.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudformation::types::StackEvent;
use aws_smithy_types::DateTime;

use super::{stack_started, status_of, Clients};
use crate::cloud::aws;
use crate::{Error, Result};

/// Where an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settled {
    /// The stack's status, `DELETE_COMPLETE` when it no longer exists.
    pub status: String,
    /// The first failure of the operation (the cause, not the cancellations it led to).
    pub reason: Option<String>,
}

/// Polls stack `id` until its status is not `*_IN_PROGRESS`, streaming events, until `deadline`.
/// Ctrl-C stops the wait (not CloudFormation) and says what state the stack is left in.
pub(crate) async fn wait_until_settled(
    clients: &Clients,
    name: &str,
    id: &str,
    deadline: Instant,
) -> Result<Settled> {
    let mut watch = Watch {
        clients,
        name,
        id,
        started: Instant::now(),
        seen: HashSet::new(),
        since: None,
        first_failure: None,
        last_status: String::from("unknown"),
    };
    let cfn = clients.cfn.clone();
    let outcome = {
        let polling = watch.poll_until_settled(deadline);
        tokio::select! {
            outcome = polling => Some(outcome),
            _ = crate::signals::termination() => None,
        }
    };
    match outcome {
        Some(outcome) => outcome,
        None => {
            let status = match super::describe(&cfn, id).await {
                Ok(Some(stack)) => status_of(&stack).to_string(),
                Ok(None) => "DELETE_COMPLETE".to_string(),
                Err(_) => watch.last_status.clone(),
            };
            Err(Error::Cancelled(format!(
                "interrupted while waiting for stack {name}: it is {status}, and CloudFormation \
                 carries on without loadgate (`loadgate stack status --stack-name {name}` shows \
                 where it got to)"
            )))
        }
    }
}

struct Watch<'a> {
    clients: &'a Clients,
    name: &'a str,
    id: &'a str,
    started: Instant,
    seen: HashSet<String>,
    since: Option<DateTime>,
    first_failure: Option<String>,
    last_status: String,
}

impl Watch<'_> {
    async fn poll_until_settled(&mut self, deadline: Instant) -> Result<Settled> {
        loop {
            match self
                .clients
                .cfn
                .describe_stacks()
                .stack_name(self.id)
                .send()
                .await
            {
                Ok(out) => {
                    let Some(stack) = out.stacks().first() else {
                        return Ok(self.settled("DELETE_COMPLETE", None));
                    };
                    if self.since.is_none() {
                        self.since = stack_started(stack);
                    }
                    self.stream_events().await;
                    let status = status_of(stack).to_string();
                    if !status.ends_with("_IN_PROGRESS") {
                        return Ok(self.settled(&status, stack.stack_status_reason()));
                    }
                    self.last_status = status;
                }
                Err(e) if aws::error_message(&e).is_some_and(|m| m.contains("does not exist")) => {
                    return Ok(self.settled("DELETE_COMPLETE", None));
                }
                // The SDK retried already; a poll more or less does not matter while waiting.
                Err(e) if aws::error_code(&e).is_some_and(|c| c.contains("Throttl")) => {}
                Err(e) => return Err(aws::error(format_args!("describe stack {}", self.name), e)),
            }
            if Instant::now() >= deadline {
                return Err(Error::infra(
                    format!(
                        "stack {} is still {} after {}",
                        self.name,
                        self.last_status,
                        humantime::format_duration(round(self.started.elapsed()))
                    ),
                    "CloudFormation carries on: `loadgate stack status` shows where it got to; \
                     raise --wait-timeout to wait longer"
                        .to_string(),
                ));
            }
            tokio::time::sleep(self.clients.poll).await;
        }
    }

    fn settled(&self, status: &str, stack_reason: Option<&str>) -> Settled {
        Settled {
            status: status.to_string(),
            reason: self
                .first_failure
                .clone()
                .or_else(|| stack_reason.map(str::to_string)),
        }
    }

    /// Prints the events not shown yet, oldest first. Events are for people: a failure to read
    /// them never fails the wait.
    async fn stream_events(&mut self) {
        let Ok(events) = events_since(&self.clients.cfn, self.id, self.since, &self.seen).await
        else {
            return;
        };
        for event in events.iter().rev() {
            if let Some(id) = event.event_id() {
                self.seen.insert(id.to_string());
            }
            if self.first_failure.is_none() {
                self.first_failure = failure(event);
            }
            eprintln!("{}", format_event(event, self.started.elapsed()));
        }
    }
}

/// The stack's events newer than `since` and not in `seen`, newest first (CloudFormation's order).
async fn events_since(
    cfn: &aws_sdk_cloudformation::Client,
    id: &str,
    since: Option<DateTime>,
    seen: &HashSet<String>,
) -> Result<Vec<StackEvent>, ()> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    // A page holds 100 events; a stack of this template makes fewer than 100 per operation.
    for _ in 0..5 {
        let out = cfn
            .describe_stack_events()
            .stack_name(id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|_| ())?;
        for event in out.stack_events() {
            let old = match (event.timestamp(), since) {
                (Some(t), Some(since)) => *t < since,
                _ => false,
            };
            if old || event.event_id().is_some_and(|id| seen.contains(id)) {
                return Ok(events);
            }
            events.push(event.clone());
        }
        match out.next_token() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    Ok(events)
}

/// The first failure of the operation that began at `since`: for ROLLBACK_COMPLETE and
/// UPDATE_ROLLBACK_COMPLETE found on arrival, when no wait saw the events go by.
pub(crate) async fn first_failure_since(
    cfn: &aws_sdk_cloudformation::Client,
    id: &str,
    since: Option<DateTime>,
) -> Option<String> {
    let events = events_since(cfn, id, since, &HashSet::new()).await.ok()?;
    events.iter().rev().find_map(failure)
}

/// A failed resource's reason, except the cancellations that follow the first failure.
fn failure(event: &StackEvent) -> Option<String> {
    let status = event.resource_status()?.as_str();
    let reason = event.resource_status_reason()?;
    let is_failure = status.ends_with("_FAILED")
        || (status.ends_with("ROLLBACK_IN_PROGRESS") && !reason.is_empty());
    if !is_failure || reason.contains("cancelled") || reason.is_empty() {
        return None;
    }
    let resource = event.logical_resource_id().unwrap_or("stack");
    Some(format!("{resource}: {reason}"))
}

/// `  +1m 12s  22:03:04  Bucket (AWS::S3::Bucket)  CREATE_FAILED  reason`
pub(crate) fn format_event(event: &StackEvent, elapsed: Duration) -> String {
    let time = event
        .timestamp()
        .and_then(|t| SystemTime::try_from(*t).ok())
        .map(|t| {
            let text = humantime::format_rfc3339_seconds(t).to_string();
            text.get(11..19).unwrap_or(&text).to_string()
        })
        .unwrap_or_default();
    let resource = event.logical_resource_id().unwrap_or("?");
    let kind = event.resource_type().unwrap_or("?");
    let status = event.resource_status().map_or("?", |s| s.as_str());
    let mut line = format!(
        "  +{:<8} {time}  {resource} ({kind})  {status}",
        humantime::format_duration(round(elapsed)).to_string()
    );
    if let Some(reason) = event.resource_status_reason().filter(|r| !r.is_empty()) {
        line.push_str("  ");
        line.push_str(reason);
    }
    line
}

fn round(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
