//! What a worker watches in the bucket: start.json before the load; abort.json, the heartbeat and
//! the deadline during it (and its live snapshots go out from here). Every comparison of times is
//! on S3's clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::log;
use crate::cloud::run::store::Store;
use crate::protocol::{
    Abort, PlanDoc, RunLocation, StartDoc, STOPPED_AT_DEADLINE, STOPPED_BY_ABORT,
};
use crate::Result;

/// How often a waiting worker looks for start.json: often enough that the start delay covers it.
const START_POLL: Duration = Duration::from_millis(500);

/// Why the run is over for this worker, if it is: abort.json, a stale heartbeat, the deadline.
async fn ended(store: &Store, loc: &RunLocation, doc: &PlanDoc) -> Result<Option<String>> {
    if let Some(abort) = store.get_json_if_written::<Abort>(&loc.abort()).await? {
        return Ok(Some(format!("{STOPPED_BY_ABORT}: {}", abort.reason)));
    }
    let now = store.clock().now_ms();
    if now >= doc.deadline_ms {
        return Ok(Some(STOPPED_AT_DEADLINE.to_string()));
    }
    let beat = match store.modified_if_written(&loc.heartbeat()).await? {
        Some(t) => Some(t),
        None => store.modified(&loc.plan()).await?,
    };
    if let Some(beat) = beat {
        let age = now.saturating_sub(beat);
        if age > doc.timing.heartbeat_timeout.as_millis() as i64 {
            return Ok(Some(format!(
                "the controller's heartbeat is {:.0}s old: the controller is gone",
                age as f64 / 1000.0
            )));
        }
    }
    Ok(None)
}

/// Waits for start.json; `None` when the run ended first (or on SIGTERM).
pub async fn wait_for_start(
    store: &Store,
    loc: &RunLocation,
    doc: &PlanDoc,
) -> Result<Option<StartDoc>> {
    let mut last_check = tokio::time::Instant::now();
    let term = crate::executor::termination();
    tokio::pin!(term);
    loop {
        if let Some(start) = store.get_json_if_written::<StartDoc>(&loc.start()).await? {
            // What S3 answered while start.json was missing: recorded in the task's log, so a
            // real run shows which of the two documented answers AWS gave (403 or 404).
            let answers = store.missing_answers();
            if !answers.is_empty() {
                log(&format!(
                    "s3 answered a protocol file not written yet with HTTP {answers:?}"
                ));
            }
            return Ok(Some(start));
        }
        if last_check.elapsed() >= doc.timing.live_every {
            last_check = tokio::time::Instant::now();
            if let Some(why) = ended(store, loc, doc).await? {
                log(&format!("stopping before the start: {why}"));
                return Ok(None);
            }
        }
        tokio::select! {
            _ = &mut term => {
                log("SIGTERM before the start: nothing to flush");
                return Ok(None);
            }
            _ = tokio::time::sleep(START_POLL) => {}
        }
    }
}

/// During the load: writes each live snapshot and sets `stop` when the run is over.
pub async fn watch_run(
    store: Store,
    loc: RunLocation,
    doc: PlanDoc,
    id: String,
    stop: Arc<Mutex<Option<String>>>,
    mut live: tokio::sync::watch::Receiver<Option<Vec<u8>>>,
) {
    let key = loc.live(&id);
    let mut tick = tokio::time::interval(doc.timing.live_every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // A failed check is retried on the next tick; the deadline still bounds the run.
                if let Ok(Some(why)) = ended(&store, &loc, &doc).await {
                    log(&format!("stopping: {why}"));
                    if let Ok(mut s) = stop.lock() {
                        s.get_or_insert(why);
                    }
                }
            }
            changed = live.changed() => {
                if changed.is_err() {
                    return;
                }
                let body = live.borrow_and_update().clone();
                if let Some(body) = body {
                    let _ = store.put(&key, body).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::operation::head_object::HeadObjectOutput;
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::protocol::{Timing, VERSION};

    const DENIED: &str = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";

    fn doc() -> PlanDoc {
        PlanDoc {
            version: VERSION,
            run_id: "r".into(),
            plan: serde_json::Value::Null,
            secrets: Vec::new(),
            workers: 1,
            deadline_ms: i64::MAX,
            timing: Timing {
                live_every: Duration::from_millis(1),
                ..Timing::default()
            },
        }
    }

    /// S3 without `s3:ListBucket` for the key's check (the task role's condition on `s3:prefix`
    /// may not apply): 403 while start.json, abort.json and the heartbeat do not exist yet.
    #[tokio::test]
    async fn a_worker_waits_through_access_denied_until_start_json_appears() {
        let start = mock!(Client::get_object)
            .match_requests(|r| r.key() == Some("runs/r/start.json"))
            .sequence()
            .http_response(|| {
                HttpResponse::new(403.try_into().expect("status"), SdkBody::from(DENIED))
            })
            .times(3)
            .output(|| {
                let doc = StartDoc {
                    version: VERSION,
                    start_at_ms: 42,
                    shares: BTreeMap::new(),
                    users: BTreeMap::new(),
                };
                let body = serde_json::to_vec(&doc).expect("json");
                GetObjectOutput::builder()
                    .body(ByteStream::from(body))
                    .build()
            })
            .build();
        let abort = mock!(Client::get_object)
            .match_requests(|r| r.key() == Some("runs/r/abort.json"))
            .then_http_response(|| {
                HttpResponse::new(403.try_into().expect("status"), SdkBody::from(DENIED))
            });
        let heartbeat = mock!(Client::head_object)
            .match_requests(|r| r.key() == Some("runs/r/heartbeat"))
            .then_http_response(|| {
                HttpResponse::new(403.try_into().expect("status"), SdkBody::empty())
            });
        let plan = mock!(Client::head_object)
            .match_requests(|r| r.key() == Some("runs/r/plan.json"))
            .then_output(|| {
                HeadObjectOutput::builder()
                    .last_modified(aws_smithy_types::DateTime::from_millis(
                        crate::cloud::run::store::local_ms(),
                    ))
                    .build()
            });
        let s3 = mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            [&start, &abort, &heartbeat, &plan]
        );
        let store = Store::from_client(s3, "b");
        let loc = RunLocation::new("b", "r");
        let got = wait_for_start(&store, &loc, &doc())
            .await
            .expect("403 is `not yet`, not a failure")
            .expect("started");
        assert_eq!(got.start_at_ms, 42);
        assert_eq!(start.num_calls(), 4);
        assert!(
            abort.num_calls() >= 1,
            "the run's end was checked meanwhile"
        );
        assert_eq!(store.missing_answers(), [403]);
    }
}
