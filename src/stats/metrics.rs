//! Counters and histograms of one label (or of the total).

use serde::{Deserialize, Serialize};

use super::{new_histogram, record, Histogram, SIGFIGS};

/// Why a request failed. Transport errors (connect, timeout, tls, io) have no latency sample;
/// `status`, `check` (a condition on the body or headers) and `capture` (a value to capture was
/// not there) got a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Connect,
    Timeout,
    Tls,
    Io,
    Status,
    Check,
    Capture,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::Io,
        ErrorKind::Status,
        ErrorKind::Check,
        ErrorKind::Capture,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Io => "io",
            ErrorKind::Status => "status",
            ErrorKind::Check => "check",
            ErrorKind::Capture => "capture",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Everything recorded for one label, or for the total. Times are microseconds.
#[derive(Clone, Debug)]
pub struct MetricSet {
    /// Send to last body byte (from the scheduled send in the open model).
    pub response_time: Histogram,
    pub ttfb: Histogram,
    /// New connections only.
    pub connect: Histogram,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Requests not sent because an earlier request of the user's iteration failed to capture.
    pub skipped: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Status code counts; a handful of codes, so a linear scan beats a map.
    pub status: Vec<(u16, u64)>,
    pub error_kinds: [u64; ErrorKind::ALL.len()],
}

impl Default for MetricSet {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricSet {
    pub fn new() -> Self {
        MetricSet {
            response_time: new_histogram(SIGFIGS),
            ttfb: new_histogram(SIGFIGS),
            connect: new_histogram(SIGFIGS),
            requests: 0,
            errors: 0,
            dropped: 0,
            skipped: 0,
            bytes_sent: 0,
            bytes_received: 0,
            status: Vec::new(),
            error_kinds: [0; ErrorKind::ALL.len()],
        }
    }

    /// A request that got a response. `ok` is false for an unexpected status, which is an error of
    /// kind `status` but still a latency sample.
    #[inline]
    pub fn record_response(
        &mut self,
        status: u16,
        ok: bool,
        response_time_us: u64,
        ttfb_us: u64,
        bytes_sent: u64,
        bytes_received: u64,
    ) {
        self.requests += 1;
        self.bytes_sent += bytes_sent;
        self.bytes_received += bytes_received;
        record(&mut self.response_time, response_time_us, 1);
        record(&mut self.ttfb, ttfb_us, 1);
        self.count_status(status, 1);
        if !ok {
            self.errors += 1;
            self.error_kinds[ErrorKind::Status.index()] += 1;
        }
    }

    /// A request that got a response and failed as `failed` says (None: succeeded). A latency
    /// sample either way.
    #[inline]
    pub fn record_response_as(
        &mut self,
        status: u16,
        failed: Option<ErrorKind>,
        response_time_us: u64,
        ttfb_us: u64,
        bytes_sent: u64,
        bytes_received: u64,
    ) {
        self.record_response(
            status,
            true,
            response_time_us,
            ttfb_us,
            bytes_sent,
            bytes_received,
        );
        if let Some(kind) = failed {
            self.errors += 1;
            self.error_kinds[kind.index()] += 1;
        }
    }

    /// A request that failed before a response: counted in errors, not in latency.
    #[inline]
    pub fn record_transport_error(
        &mut self,
        kind: ErrorKind,
        bytes_sent: u64,
        bytes_received: u64,
    ) {
        self.requests += 1;
        self.errors += 1;
        self.bytes_sent += bytes_sent;
        self.bytes_received += bytes_received;
        self.error_kinds[kind.index()] += 1;
    }

    #[inline]
    pub fn record_connect(&mut self, connect_us: u64) {
        record(&mut self.connect, connect_us, 1);
    }

    /// An open-model arrival not sent because `max_in_flight` requests were already out.
    #[inline]
    pub fn record_dropped(&mut self) {
        self.dropped += 1;
    }

    pub fn count_status(&mut self, status: u16, n: u64) {
        match self.status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, c)) => *c += n,
            None => self.status.push((status, n)),
        }
    }

    pub fn error_kind(&self, kind: ErrorKind) -> u64 {
        self.error_kinds[kind.index()]
    }

    pub fn set_error_kind(&mut self, kind: ErrorKind, n: u64) {
        self.error_kinds[kind.index()] = n;
    }

    /// Errors over requests, 0 to 1 (0 when nothing was sent).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    pub fn is_empty(&self) -> bool {
        self.requests == 0 && self.dropped == 0 && self.skipped == 0 && self.connect.is_empty()
    }

    /// Adds another set: counters sum, histograms add (exact).
    pub fn add(&mut self, other: &MetricSet) {
        // add() only fails when a value cannot fit, and these histograms auto-resize.
        let _ = self.response_time.add(&other.response_time);
        let _ = self.ttfb.add(&other.ttfb);
        let _ = self.connect.add(&other.connect);
        self.requests += other.requests;
        self.errors += other.errors;
        self.dropped += other.dropped;
        self.skipped += other.skipped;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        for &(s, n) in &other.status {
            self.count_status(s, n);
        }
        for (a, b) in self.error_kinds.iter_mut().zip(other.error_kinds) {
            *a += b;
        }
    }
}

/// Up to this many sample failures are kept per kind (and per status code).
pub const MAX_SAMPLES_PER_KIND: usize = 3;

/// A failed request, kept so that a reader can see why requests failed. Secrets are masked by the
/// engine before a sample is made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureSample {
    pub label: String,
    pub kind: ErrorKind,
    /// The status code, for `status` errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The status line, or the transport error's message.
    pub message: String,
    /// The first 200 bytes of the body, for `status`, `check` and `capture` errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// At most [`MAX_SAMPLES_PER_KIND`] samples per (kind, status).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Failures {
    samples: Vec<FailureSample>,
}

impl Failures {
    /// Whether a sample of this kind would be kept: ask before building one (it allocates).
    #[inline]
    pub fn wants(&self, kind: ErrorKind, status: Option<u16>) -> bool {
        self.samples
            .iter()
            .filter(|s| s.kind == kind && s.status == status)
            .count()
            < MAX_SAMPLES_PER_KIND
    }

    pub fn push(&mut self, sample: FailureSample) {
        if self.wants(sample.kind, sample.status) {
            self.samples.push(sample);
        }
    }

    pub fn extend(&mut self, other: &Failures) {
        for s in &other.samples {
            self.push(s.clone());
        }
    }

    pub fn samples(&self) -> &[FailureSample] {
        &self.samples
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}
