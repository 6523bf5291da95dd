//! Histograms and counters, merge, serialisation: the one place that knows HDR.
//!
//! An engine thread records into a [`Recorder`] for one second at a time and hands it over as an
//! [`Interval`]; the collector adds intervals into an [`Aggregate`]. Aggregates of threads and of
//! workers merge exactly: histograms add, so a merged percentile is the percentile of all samples.

mod aggregate;
mod codec;
mod metrics;

pub use aggregate::{rate as aggregate_rate, Aggregate, Bucket, Interval, Recorder};
pub use codec::{decode, encode, CodecError};
pub use metrics::{ErrorKind, FailureSample, Failures, MetricSet, MAX_SAMPLES_PER_KIND};

/// Significant digits of the per-label and total histograms.
pub const SIGFIGS: u8 = 3;
/// Significant digits of the 1-second timeline histograms: enough for a chart, 8x smaller.
pub const TIMELINE_SIGFIGS: u8 = 2;

/// Latency histogram in microseconds; grows as larger values arrive, so a short run stays small.
pub type Histogram = hdrhistogram::Histogram<u64>;

pub fn new_histogram(sigfigs: u8) -> Histogram {
    Histogram::new(sigfigs).expect("sigfigs is a valid constant")
}

/// Records `us` (at least 1), growing the histogram as needed. `saturating_record` would clamp
/// to the current upper bound instead of growing, and a fresh histogram's bound is tiny.
#[inline]
pub fn record(h: &mut Histogram, us: u64, count: u64) {
    let us = us.max(1);
    if h.record_n(us, count).is_err() {
        // Only a value beyond what any histogram can track gets here: keep it at the top.
        h.saturating_record_n(us, count);
    }
}

/// Value at percentile `p` (0..=100) in milliseconds; 0 for an empty histogram.
pub fn percentile_ms(h: &Histogram, p: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    us_to_ms(h.value_at_quantile(p / 100.0))
}

pub fn mean_ms(h: &Histogram) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.mean() / 1000.0
    }
}

pub fn min_ms(h: &Histogram) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        us_to_ms(h.min())
    }
}

pub fn max_ms(h: &Histogram) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        us_to_ms(h.max())
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[cfg(test)]
mod merge_tests;
