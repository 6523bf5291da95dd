//! What the controller and the workers of a distributed run say to each other through S3
//! (DESIGN.md, "Distributed run on Fargate"): the keys under `runs/<run_id>/` and the documents
//! stored there. Both sides use these types and key functions, so neither spells a key by hand.
//! Every document carries [`VERSION`]; a worker refuses a plan of another version rather than
//! guessing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::{duration_ms, LoadPlan, UserShare};
use crate::results::Results;

/// Version of the documents below; bumped on any incompatible change.
pub const VERSION: u32 = 1;

/// The environment variable that tells a worker where its run lives: `s3://<bucket>/runs/<run_id>`.
pub const RUN_ENV: &str = "LOADGATE_RUN";

/// The name of the worker's container in the task definition (and in the log stream's name).
pub const CONTAINER: &str = "worker";

/// How a worker's result (`stopped`) words the stops that were not its own doing: the controller
/// tells them from a worker that ended its share early by itself (a fault) by these words.
pub const STOPPED_BY_ABORT: &str = "aborted by the controller";
pub const STOPPED_AT_DEADLINE: &str = "the run's hard deadline passed";

/// A run's place in the bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLocation {
    pub bucket: String,
    pub run_id: String,
}

impl RunLocation {
    pub fn new(bucket: &str, run_id: &str) -> RunLocation {
        RunLocation {
            bucket: bucket.to_string(),
            run_id: run_id.to_string(),
        }
    }

    /// Parses `s3://<bucket>/runs/<run_id>` (a trailing slash allowed).
    pub fn parse(url: &str) -> Option<RunLocation> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, path) = rest.split_once('/')?;
        let run_id = path.trim_end_matches('/').strip_prefix("runs/")?;
        let valid = |s: &str| !s.is_empty() && !s.contains('/');
        (valid(bucket) && valid(run_id)).then(|| RunLocation::new(bucket, run_id))
    }

    pub fn url(&self) -> String {
        format!(
            "s3://{}/{}",
            self.bucket,
            self.prefix().trim_end_matches('/')
        )
    }

    /// `runs/<run_id>/`: everything of the run is under it.
    pub fn prefix(&self) -> String {
        format!("runs/{}/", self.run_id)
    }

    /// Where the merged reports of the run are kept (`summary.md`, `junit.xml`...).
    pub fn report(&self, file: &str) -> String {
        format!("runs/{}/report/{file}", self.run_id)
    }

    pub fn plan(&self) -> String {
        format!("{}plan.json", self.prefix())
    }

    pub fn start(&self) -> String {
        format!("{}start.json", self.prefix())
    }

    pub fn heartbeat(&self) -> String {
        format!("{}heartbeat", self.prefix())
    }

    pub fn abort(&self) -> String {
        format!("{}abort.json", self.prefix())
    }

    /// A file the run ships once to every worker (data feeds; later, engines' scripts), named by
    /// its content: `runs/<run_id>/assets/<sha256>.<ext>`.
    pub fn asset(&self, name: &str) -> String {
        format!("{}assets/{name}", self.prefix())
    }

    pub fn ready_prefix(&self) -> String {
        format!("{}ready/", self.prefix())
    }

    pub fn ready(&self, worker: &str) -> String {
        format!("{}{worker}", self.ready_prefix())
    }

    pub fn live_prefix(&self) -> String {
        format!("{}live/", self.prefix())
    }

    pub fn live(&self, worker: &str) -> String {
        format!("{}{worker}.json", self.live_prefix())
    }

    pub fn results_prefix(&self) -> String {
        format!("{}results/", self.prefix())
    }

    pub fn result(&self, worker: &str) -> String {
        format!("{}{worker}.json", self.results_prefix())
    }
}

/// The worker id in a key under `ready/`, `live/` or `results/`.
pub fn worker_of(key: &str, prefix: &str) -> Option<String> {
    let id = key.strip_prefix(prefix)?;
    let id = id.strip_suffix(".json").unwrap_or(id);
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

/// The intervals of the protocol. Defaults are what production uses; tests shorten them through
/// the plan document so a lost heartbeat is seen in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// The controller rewrites the heartbeat this often.
    #[serde(with = "duration_ms")]
    pub heartbeat_every: Duration,
    /// A worker whose heartbeat is older than this stops by itself.
    #[serde(with = "duration_ms")]
    pub heartbeat_timeout: Duration,
    /// Workers write `live/<id>.json` this often (and look for `abort.json` as often).
    #[serde(with = "duration_ms")]
    pub live_every: Duration,
    /// `start_at` is this far ahead of the moment start.json is written.
    #[serde(with = "duration_ms")]
    pub start_delay: Duration,
    /// How long the controller waits for every worker to be ready.
    #[serde(with = "duration_ms")]
    pub ready_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_every: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(60),
            live_every: Duration::from_secs(5),
            start_delay: Duration::from_secs(3),
            // Image pulls and ENI attachment take a minute on a cold start; a few minutes is
            // still far shorter than a stuck run.
            ready_timeout: Duration::from_secs(300),
        }
    }
}

/// Where a worker finds one secret: the placeholder in the plan and the SSM parameter holding it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretRef {
    pub placeholder: String,
    pub parameter: String,
}

/// `plan.json`: the resolved scenario (secrets replaced by placeholders), sizes and deadline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanDoc {
    pub version: u32,
    pub run_id: String,
    /// The `Plan`, as JSON, with each secret value replaced by its placeholder.
    pub plan: serde_json::Value,
    pub secrets: Vec<SecretRef>,
    pub workers: u32,
    /// Hard deadline on S3's clock (Unix ms): no worker runs past it, whatever happens.
    pub deadline_ms: i64,
    pub timing: Timing,
}

/// `start.json`: when to start and each ready worker's share.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StartDoc {
    pub version: u32,
    /// On S3's clock (Unix ms).
    pub start_at_ms: i64,
    pub shares: BTreeMap<String, LoadPlan>,
    /// Per worker: where its user numbers start and the rows of each `unique` data feed it may
    /// use, split by the shares above (absent when the plan has neither feeds nor users to number).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, UserShare>,
}

/// `heartbeat`: its LastModified is what counts; the body is for people reading the bucket.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Heartbeat {
    pub version: u32,
    pub at_ms: i64,
}

/// `ready/<worker_id>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ready {
    pub version: u32,
    pub worker_id: String,
    /// The loadgate version of the worker: it must be the controller's.
    pub loadgate: String,
}

/// `abort.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Abort {
    pub version: u32,
    pub reason: String,
}

/// `live/<id>.json` and `results/<id>.json`: a worker's partial result, the same shape as a local
/// run's results.json (histograms included, so the controller merges exactly).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerResult {
    pub version: u32,
    pub worker_id: String,
    /// Why the worker failed, when it did; its figures (if any) are still merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the worker stopped before the end of its share (abort, heartbeat lost, SIGTERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// When its load started, on S3's clock as the worker estimated it (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<i64>,
    /// Busy fraction of each engine thread.
    #[serde(default)]
    pub cpu: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Box<Results>>,
}

/// Where the index of runs from several regions lives in the home region's bucket: under `runs/`,
/// so the bucket's lifecycle rule expires it with the runs' files.
pub const INDEX_PREFIX: &str = "runs/index/";

/// `runs/index/<run_id>.json`.
pub fn index_key(run_id: &str) -> String {
    format!("{INDEX_PREFIX}{run_id}.json")
}

/// The run index entry of a run from several regions, in the home region's bucket: what
/// `loadgate runs` and `loadgate stop` need to reach the run in every region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunIndex {
    pub version: u32,
    pub run_id: String,
    pub home: String,
    pub regions: Vec<IndexedRegion>,
    /// Written again with `true` when the controller is done.
    #[serde(default)]
    pub ended: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexedRegion {
    pub region: String,
    pub bucket: String,
    pub cluster: String,
    pub workers: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_locations_round_trip_and_reject_the_malformed() {
        let loc = RunLocation::parse("s3://bkt/runs/20261126T1-ab12/").expect("parses");
        assert_eq!(loc, RunLocation::new("bkt", "20261126T1-ab12"));
        assert_eq!(loc.url(), "s3://bkt/runs/20261126T1-ab12");
        assert_eq!(RunLocation::parse(&loc.url()), Some(loc.clone()));
        for bad in [
            "bkt/runs/x",
            "s3://bkt/x",
            "s3://bkt/runs/",
            "s3:///runs/x",
            "s3://b/runs/a/b",
        ] {
            assert_eq!(RunLocation::parse(bad), None, "{bad}");
        }
        assert_eq!(loc.result("w1"), "runs/20261126T1-ab12/results/w1.json");
        assert_eq!(
            worker_of(&loc.result("w1"), &loc.results_prefix()).as_deref(),
            Some("w1")
        );
        assert_eq!(
            worker_of(&loc.ready("t9"), &loc.ready_prefix()).as_deref(),
            Some("t9")
        );
        assert_eq!(worker_of("runs/x/other", &loc.ready_prefix()), None);
    }

    #[test]
    fn timing_travels_in_milliseconds() {
        let t = Timing::default();
        let json = serde_json::to_value(t).expect("serialises");
        assert_eq!(json["heartbeat_timeout"], 60_000);
        let back: Timing = serde_json::from_value(json).expect("parses");
        assert_eq!(back, t);
    }
}
