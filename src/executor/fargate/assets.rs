//! Data feeds on their way to the workers: each CSV file is shipped once per run, gzip, named by
//! its SHA-256 under `runs/<run_id>/assets/` (where later engines' scripts will go too), never
//! inside plan.json or the task overrides. plan.json names each feed's asset; a worker reads and
//! parses it before it says it is ready, so a bad asset fails the worker, not the load.

use std::io::{Read, Write};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cloud::run::store::Store;
use crate::plan::{Plan, Table, MAX_FEED_BYTES};
use crate::protocol::RunLocation;
use crate::{Error, Result};

/// Uploads each feed's file and writes its key into `doc` (the plan as plan.json will hold it).
pub(super) async fn ship(
    store: &Store,
    loc: &RunLocation,
    plan: &Plan,
    doc: &mut Value,
) -> Result<()> {
    let mut shipped: Vec<String> = Vec::new();
    for (i, feed) in plan.users.feeds.iter().enumerate() {
        let bytes = std::fs::read(&feed.path).map_err(|e| {
            Error::infra(
                format!(
                    "cannot read data feed `{}` ({}) to ship it: {e}",
                    feed.name, feed.file
                ),
                "the file was readable when the scenario was checked; keep it in place for the run"
                    .to_string(),
            )
        })?;
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = loc.asset(&format!("{digest}.csv.gz"));
        if !shipped.contains(&key) {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let body = gz
                .write_all(&bytes)
                .and_then(|()| gz.finish())
                .map_err(|e| {
                    Error::infra(
                        format!("cannot compress data feed `{}`: {e}", feed.name),
                        None,
                    )
                })?;
            store.put_typed(&key, body, "application/gzip").await?;
            shipped.push(key.clone());
        }
        if let Some(slot) = doc.pointer_mut(&format!("/users/feeds/{i}")) {
            slot["asset"] = Value::String(key);
        }
    }
    Ok(())
}

/// Worker side: reads every feed's asset into its table. An asset that is missing, too large
/// once decompressed or not valid CSV is an infrastructure error (the controller checked the
/// file itself).
pub(crate) async fn load(store: &Store, plan: &mut Plan) -> Result<()> {
    for feed in &mut plan.users.feeds {
        let Some(key) = feed.asset.clone() else {
            return Err(Error::infra(
                format!("plan.json names no asset for data feed `{}`", feed.name),
                "use the controller's loadgate version as the worker image".to_string(),
            ));
        };
        let object = store.get(&key).await?.ok_or_else(|| {
            Error::infra(
                format!("the run has no asset {key} (data feed `{}`)", feed.name),
                None,
            )
        })?;
        let mut csv = Vec::new();
        flate2::read::GzDecoder::new(object.body.as_slice())
            .take(MAX_FEED_BYTES as u64 + 1)
            .read_to_end(&mut csv)
            .map_err(|e| Error::infra(format!("asset {key} is not gzip: {e}"), None))?;
        let table = Table::parse(csv).map_err(|e| {
            Error::infra(
                format!("asset {key} (data feed `{}`): {e}", feed.name),
                None,
            )
        })?;
        if table.rows() != feed.rows || table.header() != feed.columns.as_slice() {
            return Err(Error::infra(
                format!(
                    "asset {key} does not hold data feed `{}` as the controller read it",
                    feed.name
                ),
                None,
            ));
        }
        feed.table = Some(Arc::new(table));
    }
    Ok(())
}
