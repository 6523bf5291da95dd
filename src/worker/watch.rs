//! What a worker watches in the bucket: start.json before the load; abort.json, the heartbeat and
//! the deadline during it (and its live snapshots go out from here). Every comparison of times is
//! on S3's clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::log;
use crate::cloud::run::store::Store;
use crate::protocol::{Abort, PlanDoc, RunLocation, StartDoc};
use crate::Result;

/// How often a waiting worker looks for start.json: often enough that the start delay covers it.
const START_POLL: Duration = Duration::from_millis(500);

/// Why the run is over for this worker, if it is: abort.json, a stale heartbeat, the deadline.
async fn ended(store: &Store, loc: &RunLocation, doc: &PlanDoc) -> Result<Option<String>> {
    if let Some(abort) = store.get_json::<Abort>(&loc.abort()).await? {
        return Ok(Some(format!("aborted by the controller: {}", abort.reason)));
    }
    let now = store.clock().now_ms();
    if now >= doc.deadline_ms {
        return Ok(Some("the run's hard deadline passed".to_string()));
    }
    let beat = match store.modified(&loc.heartbeat()).await? {
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
        if let Some(start) = store.get_json::<StartDoc>(&loc.start()).await? {
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
