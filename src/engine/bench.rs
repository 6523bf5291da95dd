//! A measurement harness, not a test: ignored by default, run by hand against a fast server.
//!
//! ```text
//! LOADGATE_BENCH_URL=http://127.0.0.1:8080/ LOADGATE_BENCH_CONNS=50 LOADGATE_BENCH_SECS=10 \
//!   taskset -c 1 cargo test --release --lib engine::bench -- --ignored --nocapture
//! ```
//! `LOADGATE_BENCH_RATE=10000` switches to the open model at that rate. It prints requests/s, the
//! engine thread's CPU per request, latency and scheduling-lag percentiles and the peak RSS.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::plan::LoadPlan;
use crate::stats::Aggregate;

use super::tests::plan;
use super::{run_thread, Stop};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
#[ignore = "measurement harness: needs LOADGATE_BENCH_URL and a quiet machine"]
fn bench() {
    // Run without its server, the harness fails: a silent pass would read as a measurement.
    let url = std::env::var("LOADGATE_BENCH_URL")
        .expect("set LOADGATE_BENCH_URL to the server to measure against (see this file's header)");
    let conns: u32 = env("LOADGATE_BENCH_CONNS", 50);
    let secs: u64 = env("LOADGATE_BENCH_SECS", 10);
    let rate: f64 = env("LOADGATE_BENCH_RATE", 0.0);
    let hold_for = Duration::from_secs(secs);
    let load = if rate > 0.0 {
        LoadPlan::Open {
            rate,
            ramp_up: Duration::ZERO,
            hold_for,
            max_in_flight: conns,
        }
    } else {
        LoadPlan::Closed {
            concurrency: conns,
            ramp_up: Duration::ZERO,
            hold_for,
            think_time: Duration::ZERO,
        }
    };
    let p = Arc::new(plan(&[("bench", url)], load));
    let (tx, rx) = mpsc::channel();
    let rss_before = peak_rss_kb();
    let started = Instant::now();
    let report = run_thread(p.clone(), load, started, Stop::new(), tx).expect("engine ran");
    let mut agg = Aggregate::new(&p.labels);
    for interval in rx.try_iter() {
        agg.add_interval(&interval);
    }
    let wall = started.elapsed().as_secs_f64();
    let n = agg.total.requests.max(1);
    let rt = &agg.total.response_time;
    let lag = &agg.sched_lag;
    println!(
        "requests {} errors {} dropped {} rps {:.0} cpu/request {:.2} µs cpu {:.2} s wall {:.2} s",
        agg.total.requests,
        agg.total.errors,
        agg.total.dropped,
        agg.total.requests as f64 / wall,
        report.cpu_time.as_secs_f64() * 1e6 / n as f64,
        report.cpu_time.as_secs_f64(),
        wall,
    );
    println!(
        "response p50 {} µs p99 {} µs max {} µs; lag p50 {} µs p99 {} µs max {} µs",
        rt.value_at_quantile(0.5),
        rt.value_at_quantile(0.99),
        rt.max(),
        lag.value_at_quantile(0.5),
        lag.value_at_quantile(0.99),
        lag.max(),
    );
    println!(
        "peak RSS {} KB (before the run {} KB)",
        peak_rss_kb(),
        rss_before
    );
}
