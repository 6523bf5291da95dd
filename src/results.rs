//! `results.json`: the public document of a run. Its summary part is a contract (DESIGN.md):
//! add fields freely, keep names and units. The histograms let `loadgate report` and baseline
//! comparisons recompute anything later, and let partial results of workers merge exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::compare::Comparison;
use crate::cost::RunCost;
use crate::stats::{
    self, Aggregate, Bucket, CodecError, ErrorKind, FailureSample, Failures, Histogram, MetricSet,
};
use crate::threshold::{Op, Unit};

pub const SCHEMA: &str = "loadgate/results/v1";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub schema: String,
    pub scenario: String,
    pub run_id: String,
    pub executor: String,
    pub workers: u32,
    pub passed: bool,
    pub partial: bool,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_s: f64,
    /// The model and its figures, for the report's header (`"closed"` or `"open"`).
    #[serde(default)]
    pub load: Option<serde_json::Value>,
    pub total: Summary,
    pub labels: IndexMap<String, Summary>,
    pub thresholds: Vec<ThresholdResult>,
    pub timeline: Vec<TimelinePoint>,
    /// Up to 3 sample failures per kind and status code.
    #[serde(default)]
    pub failures: Vec<FailureSample>,
    /// Things a reader must know to trust the figures (saturated generator, default threshold...).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// How hard the load generator worked: a saturated generator overstates latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<Generator>,
    /// Why the run ended early, when it did (cancelled, aborted by a threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The commit the run measured (CI's SHA, or the working directory's HEAD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The branch the run is recorded under in history (a PR's source branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The run this one was compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineRef>,
    /// Figure-by-figure changes against the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Fargate runs: the estimated and, once the tasks stopped, the actual cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<RunCost>,
    /// How a distributed run went: workers, phases, start skew, failed workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<Distributed>,
    /// The flow mix: iterations each named flow ran (present when the scenario has `flows`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub flows: IndexMap<String, u64>,
    pub histograms: Histograms,
}

/// A distributed run's own figures (results.json `distributed`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Distributed {
    /// Workers asked for.
    pub workers: u32,
    /// Workers whose result was merged.
    pub contributed: u32,
    /// First to last worker start, as the workers measured it on S3's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<f64>,
    pub phases: Phases,
    /// Workers that failed or were lost, with why and where their logs are.
    #[serde(default)]
    pub failed: Vec<FailedWorker>,
    /// A run from several regions: each region's own figures (empty for one region).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionFigures>,
}

/// One region of a run from several regions (results.json `distributed.regions[]`). `total` and
/// `labels` have the shape of the run's own, merged exactly over that region's workers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionFigures {
    pub region: String,
    /// Workers asked for in this region.
    pub workers: u32,
    /// Its workers whose result was merged.
    pub contributed: u32,
    /// First to last start of this region's workers, on S3's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<f64>,
    /// This region's tasks at its own Fargate rates (the same bound as the run's `cost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub phases: RegionPhases,
    pub total: Summary,
    #[serde(default)]
    pub labels: IndexMap<String, Summary>,
    /// The region's measured duration (its workers merged), which its `rps` is taken over.
    /// Absent in results written before baselines were compared per region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// The region's histograms, encoded as the run's own: what a later run's relative threshold
    /// with `{region:...}` is measured against, exactly. Absent in older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histograms: Option<HistogramSets>,
}

/// The histograms of a total and its labels: the run's own (with its timeline, in
/// [`Histograms`]) and each region's (`distributed.regions[].histograms`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramSets {
    pub total: HistogramSet,
    pub labels: IndexMap<String, HistogramSet>,
}

impl HistogramSets {
    fn of(agg: &Aggregate) -> HistogramSets {
        HistogramSets {
            total: HistogramSet::of(&agg.total),
            labels: agg
                .labels
                .iter()
                .map(|(l, m)| (l.clone(), HistogramSet::of(m)))
                .collect(),
        }
    }

    /// An aggregate of the total and labels whose summaries are given, over `duration_s`.
    fn decode(
        &self,
        duration_s: f64,
        total: &Summary,
        labels: &IndexMap<String, Summary>,
    ) -> Result<Aggregate, CodecError> {
        let mut agg = Aggregate::new(&[]);
        // `from_secs_f64` panics on a value too large for a Duration (a hostile file's 1e300).
        agg.duration = Duration::try_from_secs_f64(duration_s.max(0.0)).unwrap_or_default();
        agg.total = metric_set(total, &self.total)?;
        for (name, summary) in labels {
            let h = self
                .labels
                .get(name)
                .ok_or_else(|| missing(&format!("label {name}")))?;
            agg.labels.push((name.clone(), metric_set(summary, h)?));
        }
        Ok(agg)
    }
}

impl RegionFigures {
    /// A region's figures from its workers' exact merge; workers, skew, cost and phases are the
    /// caller's to fill in.
    pub fn of(region: &str, agg: &Aggregate) -> RegionFigures {
        let d = agg.duration;
        RegionFigures {
            region: region.to_string(),
            workers: 0,
            contributed: 0,
            start_skew_ms: None,
            cost_usd: None,
            phases: RegionPhases::default(),
            total: Summary::of(&agg.total, d),
            labels: agg
                .labels
                .iter()
                .map(|(l, m)| (l.clone(), Summary::of(m, d)))
                .collect(),
            duration_s: Some(round3(d.as_secs_f64())),
            histograms: Some(HistogramSets::of(agg)),
        }
    }

    /// Rebuilds the region's aggregate (total and labels; no timeline), or says why it cannot:
    /// results written before regions kept their histograms have none.
    pub fn to_aggregate(&self) -> Result<Aggregate, CodecError> {
        let (Some(hist), Some(duration_s)) = (&self.histograms, self.duration_s) else {
            return Err(missing("the region"));
        };
        hist.decode(duration_s, &self.total, &self.labels)
    }
}

/// The phases that run per region (the barrier's end, the load and the merge are the run's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionPhases {
    /// Stack, image, quota and task definition checked or created.
    pub stack_check_s: f64,
    /// RunTask calls until every task of the region was started.
    pub launch_s: f64,
    /// From the launch until the region's last worker wrote `ready/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_s: Option<f64>,
}

/// Seconds spent in each phase of a distributed run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    pub stack_check_s: f64,
    pub launch_s: f64,
    pub barrier_s: f64,
    pub load_s: f64,
    pub merge_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedWorker {
    pub worker: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stream: Option<String>,
}

/// Which run a comparison is against: enough for a reader to find it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineRef {
    pub run_id: String,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    pub started_at: String,
    /// Where it was found: a history entry or a file given with `--baseline PATH`.
    #[serde(default)]
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub errors: u64,
    /// Fraction, 0 to 1.
    pub error_rate: f64,
    pub rps: f64,
    pub dropped: u64,
    /// Requests not sent: an earlier request of the same iteration failed to capture a value, or
    /// (open model) the deadline came while the generator was behind its schedule (present when
    /// not zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub response_time_ms: Percentiles,
    pub ttfb_ms: Percentiles,
    pub connect_ms: Percentiles,
    pub status: BTreeMap<String, u64>,
    pub error_kinds: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// Engine threads (local) or workers (Fargate).
    pub parts: u32,
    /// Busiest part's CPU time over its wall time (1.0 = a full core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_max: Option<f64>,
    /// Open model: how late arrivals were sent against their schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sched_lag_ms: Option<Percentiles>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub min: f64,
    pub avg: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    pub max: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    pub label: Option<String>,
    pub metric: String,
    pub op: Op,
    pub limit: f64,
    /// None when the metric has no value (e.g. a label that sent nothing).
    pub actual: Option<f64>,
    pub unit: Unit,
    pub passed: bool,
    #[serde(default)]
    pub abort: bool,
    /// 1-based line of the threshold in the scenario file, 0 when unknown.
    #[serde(default)]
    pub line: usize,
    /// A relative threshold with no baseline to measure against: neither passed nor failed
    /// (`limit` is then 0: there is none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A relative threshold's baseline value (in `unit`); `limit` is derived from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
}

impl ThresholdResult {
    /// Failed, as the verdict counts it: not passed and not skipped.
    pub fn failed(&self) -> bool {
        !self.passed && !self.skipped
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    pub t: u32,
    pub requests: u64,
    pub errors: u64,
    #[serde(default)]
    pub dropped: u64,
    #[serde(default)]
    pub active: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// No response completed in this second (a stall, or only transport errors): the
    /// percentiles above are 0 because there is nothing to measure, not because it was fast.
    /// Additive: written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Histograms {
    #[serde(flatten)]
    pub sets: HistogramSets,
    /// Response times of each timeline second (2 significant digits).
    #[serde(default)]
    pub timeline: Vec<String>,
    /// Open-model scheduling lag of the generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sched_lag: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramSet {
    pub response_time: String,
    pub ttfb: String,
    pub connect: String,
}

/// What a run is, apart from its measurements.
#[derive(Clone, Debug)]
pub struct RunMeta {
    pub scenario: String,
    pub run_id: String,
    pub executor: String,
    pub workers: u32,
    pub started_at: String,
    pub partial: bool,
    pub load: Option<serde_json::Value>,
}

impl Summary {
    pub fn of(set: &MetricSet, duration: Duration) -> Summary {
        let mut status: BTreeMap<String, u64> = BTreeMap::new();
        for &(code, n) in &set.status {
            *status.entry(code.to_string()).or_default() += n;
        }
        let error_kinds = ErrorKind::ALL
            .iter()
            .filter(|k| set.error_kind(**k) > 0)
            .map(|k| (k.as_str().to_string(), set.error_kind(*k)))
            .collect();
        Summary {
            requests: set.requests,
            errors: set.errors,
            error_rate: set.error_rate(),
            rps: stats::aggregate_rate(set.requests, duration),
            dropped: set.dropped,
            skipped: set.skipped,
            bytes_sent: set.bytes_sent,
            bytes_received: set.bytes_received,
            response_time_ms: Percentiles::of(&set.response_time),
            ttfb_ms: Percentiles::of(&set.ttfb),
            connect_ms: Percentiles::of(&set.connect),
            status,
            error_kinds,
        }
    }
}

impl Percentiles {
    pub fn of(h: &Histogram) -> Percentiles {
        Percentiles {
            min: stats::min_ms(h),
            avg: round3(stats::mean_ms(h)),
            p50: stats::percentile_ms(h, 50.0),
            p90: stats::percentile_ms(h, 90.0),
            p95: stats::percentile_ms(h, 95.0),
            p99: stats::percentile_ms(h, 99.0),
            p99_9: stats::percentile_ms(h, 99.9),
            max: stats::max_ms(h),
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl TimelinePoint {
    fn of(t: usize, b: &Bucket) -> TimelinePoint {
        TimelinePoint {
            t: t as u32,
            requests: b.requests,
            errors: b.errors,
            dropped: b.dropped,
            active: b.active,
            p50_ms: stats::percentile_ms(&b.response_time, 50.0),
            p95_ms: stats::percentile_ms(&b.response_time, 95.0),
            p99_ms: stats::percentile_ms(&b.response_time, 99.0),
            empty: b.response_time.is_empty(),
        }
    }
}

impl HistogramSet {
    fn of(set: &MetricSet) -> HistogramSet {
        HistogramSet {
            response_time: stats::encode(&set.response_time),
            ttfb: stats::encode(&set.ttfb),
            connect: stats::encode(&set.connect),
        }
    }
}

impl Results {
    /// The results of a run before thresholds are checked (`passed` is set by the verdict).
    pub fn new(meta: RunMeta, agg: &Aggregate) -> Results {
        let d = agg.duration;
        Results {
            schema: SCHEMA.to_string(),
            scenario: meta.scenario,
            run_id: meta.run_id,
            executor: meta.executor,
            workers: meta.workers,
            passed: false,
            partial: meta.partial,
            started_at: meta.started_at,
            duration_s: round3(d.as_secs_f64()),
            load: meta.load,
            total: Summary::of(&agg.total, d),
            labels: agg
                .labels
                .iter()
                .map(|(l, m)| (l.clone(), Summary::of(m, d)))
                .collect(),
            thresholds: Vec::new(),
            timeline: agg
                .timeline
                .iter()
                .enumerate()
                .map(|(t, b)| TimelinePoint::of(t, b))
                .collect(),
            failures: agg.failure_samples().to_vec(),
            warnings: Vec::new(),
            generator: None,
            stopped: None,
            commit: None,
            branch: None,
            baseline: None,
            comparison: None,
            cost: None,
            distributed: None,
            flows: agg.flows.iter().cloned().collect(),
            histograms: Histograms {
                sets: HistogramSets::of(agg),
                timeline: agg
                    .timeline
                    .iter()
                    .map(|b| stats::encode(&b.response_time))
                    .collect(),
                sched_lag: (!agg.sched_lag.is_empty()).then(|| stats::encode(&agg.sched_lag)),
            },
        }
    }

    /// Rebuilds the aggregate (histograms and counters) from saved results, to recompute figures
    /// or to merge partial results of workers.
    pub fn to_aggregate(&self) -> Result<Aggregate, CodecError> {
        let mut agg = self
            .histograms
            .sets
            .decode(self.duration_s, &self.total, &self.labels)?;
        for (t, point) in self.timeline.iter().enumerate() {
            let response_time = match self.histograms.timeline.get(t) {
                Some(h) => stats::decode(h)?,
                None => stats::new_histogram(stats::TIMELINE_SIGFIGS),
            };
            *agg.bucket_mut(t) = Bucket {
                requests: point.requests,
                errors: point.errors,
                dropped: point.dropped,
                active: point.active,
                response_time,
            };
        }
        if let Some(lag) = &self.histograms.sched_lag {
            agg.sched_lag = stats::decode(lag)?;
        }
        let mut failures = Failures::default();
        for f in &self.failures {
            failures.push(f.clone());
        }
        agg.failures = failures;
        agg.flows = self.flows.iter().map(|(k, v)| (k.clone(), *v)).collect();
        Ok(agg)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn missing(what: &str) -> CodecError {
    stats::CodecError::missing(what)
}

fn metric_set(s: &Summary, h: &HistogramSet) -> Result<MetricSet, CodecError> {
    let mut m = MetricSet::new();
    m.response_time = stats::decode(&h.response_time)?;
    m.ttfb = stats::decode(&h.ttfb)?;
    m.connect = stats::decode(&h.connect)?;
    m.requests = s.requests;
    m.errors = s.errors;
    m.dropped = s.dropped;
    m.skipped = s.skipped;
    m.bytes_sent = s.bytes_sent;
    m.bytes_received = s.bytes_received;
    for (code, n) in &s.status {
        if let Ok(code) = code.parse() {
            m.count_status(code, *n);
        }
    }
    for (kind, n) in &s.error_kinds {
        if let Some(k) = ErrorKind::parse(kind) {
            m.set_error_kind(k, *n);
        }
    }
    Ok(m)
}
