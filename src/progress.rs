//! Live progress on stderr: a bar on a terminal, a plain line every few seconds in CI logs.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::{self, Aggregate};

/// What the progress line shows, taken from the aggregate so far.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub elapsed: Duration,
    /// Requests of the last complete second.
    pub rps: u64,
    pub p95_ms: f64,
    pub requests: u64,
    pub error_rate: f64,
    pub active: u64,
}

impl Snapshot {
    pub fn of(agg: &Aggregate, elapsed: Duration) -> Snapshot {
        let last = (elapsed.as_secs() as usize)
            .checked_sub(1)
            .and_then(|s| agg.timeline.get(s));
        Snapshot {
            elapsed,
            rps: last.map_or(0, |b| b.requests),
            p95_ms: stats::percentile_ms(&agg.total.response_time, 95.0),
            requests: agg.total.requests,
            error_rate: agg.total.error_rate(),
            active: last.map_or(0, |b| b.active),
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} req/s  p95 {:.1} ms  errors {:.2}%  active {}  ({} requests)",
            self.rps,
            self.p95_ms,
            self.error_rate * 100.0,
            self.active,
            self.requests
        )
    }
}

pub enum Progress {
    Bar(ProgressBar),
    /// Plain lines, one every `every`.
    Lines {
        every: Duration,
        next: Duration,
    },
    Quiet,
}

impl Progress {
    /// A bar when stderr is a terminal and not in CI; plain lines otherwise.
    pub fn for_stderr(planned: Duration) -> Progress {
        let in_ci = std::env::var_os("CI").is_some();
        if std::io::stderr().is_terminal() && !in_ci {
            let bar = ProgressBar::with_draw_target(
                Some(planned.as_secs().max(1)),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len}s  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Progress::Bar(bar)
        } else {
            let every = Duration::from_secs(5);
            Progress::Lines { every, next: every }
        }
    }

    pub fn update(&mut self, snap: &Snapshot, planned: Duration) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(snap.elapsed.as_secs().min(planned.as_secs()));
                bar.set_message(snap.line());
            }
            Progress::Lines { every, next } => {
                if snap.elapsed >= *next {
                    *next += *every;
                    let _ = writeln!(
                        std::io::stderr(),
                        "[{:>4}s/{}s] {}",
                        snap.elapsed.as_secs(),
                        planned.as_secs(),
                        snap.line()
                    );
                }
            }
            Progress::Quiet => {}
        }
    }

    pub fn finish(&mut self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
