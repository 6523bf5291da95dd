//! Per-second intervals from the engine threads, and the aggregate they add up to.

use std::time::Duration;

use super::{
    new_histogram, record, FailureSample, Failures, Histogram, MetricSet, SIGFIGS, TIMELINE_SIGFIGS,
};

/// What one engine thread recorded in one second. Labels are indexed as in the plan.
#[derive(Clone, Debug)]
pub struct Recorder {
    pub labels: Vec<MetricSet>,
    pub failures: Failures,
    /// Virtual users (closed model) or requests in flight (open model) when the interval closed.
    pub active: u64,
    /// Open model: actual minus scheduled start of each arrival, microseconds. A generator that
    /// cannot keep up shows here first (its latencies are then overstated).
    pub sched_lag: Histogram,
    /// Iterations started per flow (the plan's flow order); empty without named flows.
    pub flows: Vec<u64>,
}

impl Recorder {
    pub fn new(labels: usize) -> Self {
        Recorder {
            labels: (0..labels).map(|_| MetricSet::new()).collect(),
            failures: Failures::default(),
            active: 0,
            sched_lag: new_histogram(SIGFIGS),
            flows: Vec::new(),
        }
    }

    /// Counts an iteration of flow `index`.
    pub fn flow(&mut self, index: usize) {
        if self.flows.len() <= index {
            self.flows.resize(index + 1, 0);
        }
        self.flows[index] += 1;
    }

    #[inline]
    pub fn label(&mut self, index: usize) -> &mut MetricSet {
        &mut self.labels[index]
    }
}

/// A closed second of one engine thread: `second` counts from the run's start.
#[derive(Clone, Debug)]
pub struct Interval {
    pub second: u32,
    pub recorder: Recorder,
}

/// One second of the timeline, summed over threads and workers.
#[derive(Clone, Debug)]
pub struct Bucket {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub active: u64,
    /// Response times of the second, at [`TIMELINE_SIGFIGS`].
    pub response_time: Histogram,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            requests: 0,
            errors: 0,
            dropped: 0,
            active: 0,
            response_time: new_histogram(TIMELINE_SIGFIGS),
        }
    }
}

impl Bucket {
    pub fn add(&mut self, other: &Bucket) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.dropped += other.dropped;
        self.active += other.active;
        let _ = self.response_time.add(&other.response_time);
    }
}

/// A partial result (one thread, one worker) or the merged result of a run: the same shape.
#[derive(Clone, Debug)]
pub struct Aggregate {
    /// In the plan's label order.
    pub labels: Vec<(String, MetricSet)>,
    pub total: MetricSet,
    /// `timeline[t]` is the second `t` after the start.
    pub timeline: Vec<Bucket>,
    pub failures: Failures,
    /// Measured length of the run.
    pub duration: Duration,
    /// Open-model scheduling lag of the generator (see [`Recorder::sched_lag`]).
    pub sched_lag: Histogram,
    /// Iterations per named flow (the flow mix); empty without named flows.
    pub flows: Vec<(String, u64)>,
}

impl Aggregate {
    pub fn new(labels: &[String]) -> Self {
        Aggregate {
            labels: labels
                .iter()
                .map(|l| (l.clone(), MetricSet::new()))
                .collect(),
            total: MetricSet::new(),
            timeline: Vec::new(),
            failures: Failures::default(),
            duration: Duration::ZERO,
            sched_lag: new_histogram(SIGFIGS),
            flows: Vec::new(),
        }
    }

    /// Names the flows whose iterations intervals count by index.
    pub fn with_flows(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.flows = names.into_iter().map(|n| (n, 0)).collect();
        self
    }

    fn flow_mut(&mut self, name: &str) -> &mut u64 {
        match self.flows.iter().position(|(n, _)| n == name) {
            Some(i) => &mut self.flows[i].1,
            None => {
                self.flows.push((name.to_string(), 0));
                &mut self.flows.last_mut().expect("just pushed").1
            }
        }
    }

    pub fn label(&self, name: &str) -> Option<&MetricSet> {
        self.labels.iter().find(|(l, _)| l == name).map(|(_, m)| m)
    }

    fn label_mut(&mut self, name: &str) -> &mut MetricSet {
        match self.labels.iter().position(|(l, _)| l == name) {
            Some(i) => &mut self.labels[i].1,
            None => {
                self.labels.push((name.to_string(), MetricSet::new()));
                &mut self.labels.last_mut().expect("just pushed").1
            }
        }
    }

    pub fn bucket_mut(&mut self, second: usize) -> &mut Bucket {
        if self.timeline.len() <= second {
            self.timeline.resize_with(second + 1, Bucket::default);
        }
        &mut self.timeline[second]
    }

    /// Adds one thread's second. Labels are matched by index (same plan).
    pub fn add_interval(&mut self, interval: &Interval) {
        let mut bucket = Bucket {
            active: interval.recorder.active,
            ..Bucket::default()
        };
        for (i, set) in interval.recorder.labels.iter().enumerate() {
            if set.is_empty() {
                continue;
            }
            if let Some((_, mine)) = self.labels.get_mut(i) {
                mine.add(set);
            }
            self.total.add(set);
            bucket.requests += set.requests;
            bucket.errors += set.errors;
            bucket.dropped += set.dropped;
            for v in set.response_time.iter_recorded() {
                record(
                    &mut bucket.response_time,
                    v.value_iterated_to(),
                    v.count_at_value(),
                );
            }
        }
        self.bucket_mut(interval.second as usize).add(&bucket);
        self.failures.extend(&interval.recorder.failures);
        let _ = self.sched_lag.add(&interval.recorder.sched_lag);
        for (i, n) in interval.recorder.flows.iter().enumerate() {
            if let Some((_, mine)) = self.flows.get_mut(i) {
                *mine += n;
            }
        }
    }

    /// Merges another partial: labels by name, the timeline second by second. Exact.
    pub fn merge(&mut self, other: &Aggregate) {
        for (name, set) in &other.labels {
            self.label_mut(name).add(set);
        }
        self.total.add(&other.total);
        for (t, b) in other.timeline.iter().enumerate() {
            self.bucket_mut(t).add(b);
        }
        self.failures.extend(&other.failures);
        self.duration = self.duration.max(other.duration);
        let _ = self.sched_lag.add(&other.sched_lag);
        for (name, n) in &other.flows {
            *self.flow_mut(name) += n;
        }
    }

    /// Requests per second over the measured duration.
    pub fn rps(&self) -> f64 {
        rate(self.total.requests, self.duration)
    }

    pub fn failure_samples(&self) -> &[FailureSample] {
        self.failures.samples()
    }
}

/// `count` per second of `duration` (0 for an empty duration).
pub fn rate(count: u64, duration: Duration) -> f64 {
    let secs = duration.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ErrorKind;

    fn interval(second: u32, samples: &[(usize, u64)]) -> Interval {
        let mut r = Recorder::new(2);
        for &(label, us) in samples {
            r.label(label)
                .record_response(200, true, us, us / 2, 10, 100);
        }
        Interval {
            second,
            recorder: r,
        }
    }

    #[test]
    fn intervals_add_into_labels_total_and_timeline() {
        let names = vec!["a".to_string(), "b".to_string()];
        let mut agg = Aggregate::new(&names);
        agg.add_interval(&interval(0, &[(0, 1000), (1, 2000)]));
        agg.add_interval(&interval(2, &[(0, 3000)]));
        assert_eq!(agg.total.requests, 3);
        assert_eq!(agg.label("a").unwrap().requests, 2);
        assert_eq!(agg.label("b").unwrap().requests, 1);
        assert_eq!(agg.timeline.len(), 3);
        assert_eq!(agg.timeline[1].requests, 0);
        assert_eq!(agg.timeline[2].response_time.len(), 1);
        assert_eq!(agg.total.bytes_received, 300);
    }

    #[test]
    fn fresh_histograms_grow_to_the_values_recorded() {
        let mut agg = Aggregate::new(&["a".to_string(), "b".to_string()]);
        agg.add_interval(&interval(0, &[(0, 21_700), (0, 1_500_000)]));
        let min = agg.total.response_time.min();
        assert!((21_600..=21_700).contains(&min), "{min}");
        assert!(agg.total.response_time.max() >= 1_500_000);
        assert!(agg.timeline[0].response_time.max() >= 1_500_000);
        assert!(agg.label("a").unwrap().ttfb.min() >= 10_000);
    }

    #[test]
    fn transport_errors_are_not_latency_samples() {
        let mut m = MetricSet::new();
        m.record_transport_error(ErrorKind::Timeout, 50, 0);
        m.record_response(500, false, 1000, 500, 50, 10);
        assert_eq!(m.requests, 2);
        assert_eq!(m.errors, 2);
        assert_eq!(m.response_time.len(), 1);
        assert_eq!(m.error_kind(ErrorKind::Timeout), 1);
        assert_eq!(m.error_kind(ErrorKind::Status), 1);
    }

    #[test]
    fn merge_matches_labels_by_name() {
        let mut a = Aggregate::new(&["x".to_string()]);
        a.add_interval(&interval(0, &[(0, 10)]));
        let mut b = Aggregate::new(&["y".to_string(), "x".to_string()]);
        b.add_interval(&interval(1, &[(1, 20), (0, 30)]));
        a.merge(&b);
        assert_eq!(a.label("x").unwrap().requests, 2);
        assert_eq!(a.label("y").unwrap().requests, 1);
        assert_eq!(a.total.requests, 3);
        assert_eq!(a.timeline.len(), 2);
    }
}
