//! Engine tests against real servers on 127.0.0.1. No timing assertions: latency only has to show
//! up at least as large as what the server injected.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use crate::plan::{FargatePlan, LoadPlan, Plan, RequestPlan, Secrets, TlsPlan};
use crate::stats::{Aggregate, ErrorKind, Interval};
use crate::target::{Latency, Route, Target};

use super::{run_thread, EngineError, Stop, ThreadReport};

mod close_server;
mod per_user;
mod tls_server;

const MS: Duration = Duration::from_millis(1);

fn closed(users: u32, hold_ms: u64) -> LoadPlan {
    LoadPlan::Closed {
        concurrency: users,
        ramp_up: Duration::ZERO,
        hold_for: Duration::from_millis(hold_ms),
        think_time: Duration::ZERO,
    }
}

fn open(rate: f64, ramp_ms: u64, hold_ms: u64) -> LoadPlan {
    LoadPlan::Open {
        rate,
        ramp_up: Duration::from_millis(ramp_ms),
        hold_for: Duration::from_millis(hold_ms),
        max_in_flight: 10_000,
    }
}

/// A plan of `(name, url)` requests; names double as labels.
pub(super) fn plan(requests: &[(&str, String)], load: LoadPlan) -> Plan {
    let mut labels: Vec<String> = Vec::new();
    let requests = requests
        .iter()
        .map(|(name, url)| {
            let label = match labels.iter().position(|l| l == name) {
                Some(i) => i,
                None => {
                    labels.push(name.to_string());
                    labels.len() - 1
                }
            };
            RequestPlan {
                name: name.to_string(),
                label,
                method: "GET".to_string(),
                url: url.clone(),
                headers: vec![],
                body: None,
                expect_status: vec![],
                dynamic: None,
            }
        })
        .collect();
    Plan {
        name: "engine-test".to_string(),
        source: "test.yaml".to_string(),
        target: "http://127.0.0.1".to_string(),
        labels,
        requests,
        load,
        timeout: Duration::from_secs(5),
        tls: TlsPlan::default(),
        workers: 1,
        thresholds: vec![],
        default_threshold: false,
        fargate: FargatePlan::default(),
        users: Default::default(),
        secrets: Secrets::default(),
    }
}

/// Runs the plan on `threads` engine threads, as the local executor will, and adds up what they
/// sent.
fn run(plan: Plan, threads: usize) -> (Aggregate, Vec<ThreadReport>) {
    run_with_stop(plan, threads, Stop::new())
}

fn run_with_stop(plan: Plan, threads: usize, stop: Stop) -> (Aggregate, Vec<ThreadReport>) {
    let plan = Arc::new(plan);
    let start = Instant::now() + 20 * MS;
    let (tx, rx) = mpsc::channel::<Interval>();
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (plan, tx, stop) = (plan.clone(), tx.clone(), stop.clone());
            let load = plan.load.share(i, threads);
            thread::spawn(move || run_thread(plan, load, start, stop, tx))
        })
        .collect();
    drop(tx);
    let mut agg = Aggregate::new(&plan.labels);
    let mut seconds: Vec<Vec<u32>> = Vec::new();
    for interval in rx {
        agg.add_interval(&interval);
        seconds.push(vec![interval.second]);
    }
    let reports: Vec<ThreadReport> = handles
        .into_iter()
        .map(|h| h.join().expect("engine thread").expect("engine ran"))
        .collect();
    let sent: u64 = reports.iter().map(|r| r.intervals_sent).sum();
    assert_eq!(sent as usize, seconds.len());
    (agg, reports)
}

#[test]
fn closed_model_counts_equal_the_servers_per_label() {
    let target = Target::start(vec![Route::ok("/a"), Route::ok("/b").body(1000)]).unwrap();
    let url = target.url();
    let p = plan(
        &[("a", format!("{url}/a")), ("b", format!("{url}/b"))],
        closed(6, 400),
    );
    let (agg, reports) = run(p, 2);
    let a = agg.label("a").unwrap();
    let b = agg.label("b").unwrap();
    assert!(a.requests > 0);
    assert_eq!(a.requests, target.count("/a"));
    assert_eq!(b.requests, target.count("/b"));
    assert_eq!(agg.total.errors, 0);
    // One keep-alive connection per user.
    assert_eq!(agg.total.connect.len(), 6);
    assert!(b.bytes_received >= b.requests * 1000);
    assert!(a.bytes_sent > 0);
    assert!(reports.iter().all(|r| !r.stopped && r.intervals_sent >= 1));
    // Every request that got a response is a latency and a ttfb sample.
    assert_eq!(agg.total.response_time.len(), agg.total.requests);
    assert_eq!(agg.total.ttfb.len(), agg.total.requests);
}

#[test]
fn open_model_counts_equal_the_servers_and_follow_the_rate() {
    let target = Target::start(vec![Route::ok("/a"), Route::ok("/b")]).unwrap();
    let url = target.url();
    // Two threads at 100/s each: 25 arrivals in the 0.5 s ramp, 100 in the 1 s hold.
    let p = plan(
        &[("a", format!("{url}/a")), ("b", format!("{url}/b"))],
        open(200.0, 500, 1000),
    );
    let (agg, _) = run(p, 2);
    let a = agg.label("a").unwrap();
    let b = agg.label("b").unwrap();
    assert_eq!(a.requests, target.count("/a"));
    assert_eq!(b.requests, target.count("/b"));
    assert_eq!(a.dropped, 0);
    let arrivals = a.requests as i64;
    assert!((arrivals - 250).abs() <= 2, "{arrivals} arrivals");
    assert_eq!(agg.total.errors, 0);
    assert_eq!(agg.sched_lag.len(), a.requests);
}

#[test]
fn injected_latency_shows_in_the_percentiles() {
    let slow = Latency::Fixed(20 * MS);
    let target = Target::start(vec![Route::ok("/slow").latency(slow)]).unwrap();
    let url = format!("{}/slow", target.url());
    for load in [closed(4, 300), open(50.0, 0, 400)] {
        let (agg, _) = run(plan(&[("slow", url.clone())], load), 1);
        let rt = &agg.total.response_time;
        assert!(!rt.is_empty());
        assert!(rt.value_at_quantile(0.5) >= 20_000, "{load:?}");
        assert!(rt.min() >= 19_980, "{load:?}: min {}", rt.min());
        assert!(agg.total.ttfb.value_at_quantile(0.5) >= 20_000, "{load:?}");
    }
}

#[test]
fn a_stalled_target_shows_in_the_open_models_p99() {
    let target = Arc::new(Target::start(vec![Route::ok("/x")]).unwrap());
    let url = format!("{}/x", target.url());
    let staller = {
        let target = target.clone();
        thread::spawn(move || {
            thread::sleep(400 * MS);
            target.pause();
            thread::sleep(300 * MS);
            target.resume();
        })
    };
    let (agg, _) = run(plan(&[("x", url)], open(200.0, 0, 1200)), 1);
    staller.join().unwrap();
    // Arrivals scheduled during the stall waited for it: ~60 of ~240 requests took up to 300 ms.
    let p99 = agg.total.response_time.value_at_quantile(0.99);
    assert!(p99 >= 250_000, "p99 {p99} µs");
    assert_eq!(agg.total.requests, target.count("/x"));
}

#[test]
fn refused_connections_are_connect_errors() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = plan(
        &[("x", format!("http://127.0.0.1:{port}/"))],
        closed(1, 200),
    );
    let (agg, _) = run(p, 1);
    let x = agg.label("x").unwrap();
    assert!(x.requests > 0);
    assert_eq!(x.error_kind(ErrorKind::Connect), x.requests);
    assert!(x.response_time.is_empty());
    let sample = &agg.failure_samples()[0];
    assert_eq!(sample.kind, ErrorKind::Connect);
    assert!(sample.message.starts_with("connect:"), "{}", sample.message);
}

#[test]
fn a_response_slower_than_the_timeout_is_a_timeout_error() {
    let target = Target::start(vec![Route::ok("/slow").latency(Latency::Fixed(400 * MS))]).unwrap();
    let mut p = plan(
        &[("slow", format!("{}/slow", target.url()))],
        closed(2, 250),
    );
    p.timeout = 100 * MS;
    let (agg, _) = run(p, 1);
    let slow = agg.label("slow").unwrap();
    assert!(slow.requests > 0);
    assert_eq!(slow.error_kind(ErrorKind::Timeout), slow.requests);
    assert_eq!(slow.requests, target.count("/slow"));
    // Each timeout dropped its connection: a new one per request.
    assert_eq!(slow.connect.len(), slow.requests);
}

#[test]
fn unexpected_status_is_a_status_error_with_a_masked_sample() {
    let target = Target::start(vec![
        Route::ok("/down").status(503).body(500),
        Route::ok("/gone").status(404),
    ])
    .unwrap();
    let url = target.url();
    let mut p = plan(
        &[
            ("down", format!("{url}/down")),
            ("gone", format!("{url}/gone")),
        ],
        closed(1, 200),
    );
    p.requests[1].expect_status = vec![404];
    // The target's filler text contains "target": masked like a secret would be.
    p.secrets.add("target");
    let (agg, _) = run(p, 1);
    let down = agg.label("down").unwrap();
    let gone = agg.label("gone").unwrap();
    assert!(down.requests > 0);
    assert_eq!(down.error_kind(ErrorKind::Status), down.requests);
    assert_eq!(down.response_time.len(), down.requests);
    assert_eq!(gone.errors, 0);
    let samples = agg.failure_samples();
    assert!(!samples.is_empty() && samples.len() <= 3);
    let s = &samples[0];
    assert_eq!((s.kind, s.status), (ErrorKind::Status, Some(503)));
    assert_eq!(s.message, "HTTP/1.1 503 Service Unavailable");
    let body = s.body.as_deref().unwrap();
    assert!(body.starts_with("loadgate ***. "), "{body}");
    assert!(body.len() <= 200);
}

#[test]
fn https_is_trusted_through_ca_pem_and_rejected_without_it() {
    let server = tls_server::TlsServer::start();
    let url = format!("https://127.0.0.1:{}/secure", server.port);

    let mut trusted = plan(&[("secure", url.clone())], closed(2, 200));
    trusted.tls.ca_pem = Some(server.ca_pem.clone());
    let (agg, _) = run(trusted, 1);
    let ok = agg.label("secure").unwrap();
    assert!(ok.requests > 0);
    assert_eq!(ok.errors, 0);
    assert_eq!(ok.requests, server.count());
    assert_eq!(ok.connect.len(), 2);

    let untrusted = plan(&[("secure", url.clone())], closed(1, 100));
    let (agg, _) = run(untrusted, 1);
    let bad = agg.label("secure").unwrap();
    assert!(bad.requests > 0);
    assert_eq!(bad.error_kind(ErrorKind::Tls), bad.requests);
    assert_eq!(agg.failure_samples()[0].kind, ErrorKind::Tls);

    let mut insecure = plan(&[("secure", url)], closed(1, 100));
    insecure.tls.insecure = true;
    let (agg, _) = run(insecure, 1);
    assert_eq!(agg.total.errors, 0);
    assert!(agg.total.requests > 0);
}

#[test]
fn stop_ends_the_run_at_once_and_keeps_what_was_measured() {
    let target = Target::start(vec![Route::ok("/x").latency(Latency::Fixed(5 * MS))]).unwrap();
    let p = plan(&[("x", format!("{}/x", target.url()))], closed(4, 600_000));
    let stop = Stop::new();
    let trigger = {
        let stop = stop.clone();
        thread::spawn(move || {
            thread::sleep(300 * MS);
            stop.trigger();
        })
    };
    let (agg, reports) = run_with_stop(p, 2, stop);
    trigger.join().unwrap();
    assert!(reports.iter().all(|r| r.stopped));
    assert!(agg.total.requests > 0);
    // Requests in flight at the stop were abandoned: the server saw them, we did not count them.
    assert!(agg.total.requests <= target.count("/x"));
}

#[test]
fn absurd_durations_are_not_a_panic() {
    let target = Target::start(vec![Route::ok("/x")]).unwrap();
    let load = LoadPlan::Closed {
        concurrency: 2,
        ramp_up: Duration::ZERO,
        hold_for: 100 * MS,
        think_time: Duration::MAX,
    };
    let mut p = plan(&[("x", format!("{}/x", target.url()))], load);
    p.timeout = Duration::MAX;
    let (agg, _) = run(p, 1);
    // Each user sent one request, then its think time reached past the deadline.
    assert_eq!(agg.total.requests, 2);
    assert_eq!(target.count("/x"), 2);
}

#[test]
fn a_share_without_users_sends_nothing() {
    let p = plan(&[("x", "http://127.0.0.1:9/".to_string())], closed(0, 100));
    let (tx, rx) = mpsc::channel();
    let report = run_thread(Arc::new(p.clone()), p.load, Instant::now(), Stop::new(), tx).unwrap();
    assert_eq!(report, ThreadReport::default());
    assert!(rx.try_recv().is_err());
}

#[test]
fn an_invalid_request_is_an_error_not_a_panic() {
    let mut p = plan(&[("x", "http://127.0.0.1:9/".to_string())], closed(1, 100));
    p.requests[0].method = "BAD METHOD".to_string();
    let (tx, _rx) = mpsc::channel();
    let err = run_thread(Arc::new(p.clone()), p.load, Instant::now(), Stop::new(), tx);
    assert!(matches!(err, Err(EngineError::InvalidRequest { .. })));
}

#[test]
fn counters_move_together_with_the_server_under_uniform_latency() {
    let lat = Latency::Uniform(MS, 4 * MS);
    let target = Target::start(vec![Route::ok("/u").latency(lat).error_rate(0.2)]).unwrap();
    let p = plan(&[("u", format!("{}/u", target.url()))], closed(8, 400));
    let (agg, _) = run(p, 2);
    let u = agg.label("u").unwrap();
    assert_eq!(u.requests, target.count("/u"));
    let statuses: u64 = u.status.iter().map(|(_, n)| n).sum();
    assert_eq!(statuses, u.requests);
    assert_eq!(u.errors, u.error_kind(ErrorKind::Status));
    let timeline: u64 = agg.timeline.iter().map(|b| b.requests).sum();
    assert_eq!(timeline, u.requests);
}

#[test]
fn a_connection_the_server_closes_politely_is_replaced_without_errors() {
    let server = close_server::CloseServer::start(3);
    for load in [closed(3, 300), open(300.0, 0, 300)] {
        let before = server.count();
        let p = plan(&[("x", format!("http://{}/x", server.addr))], load);
        let (agg, _) = run(p, 1);
        let x = agg.label("x").unwrap();
        assert!(x.requests >= 3, "{load:?}");
        assert_eq!(x.errors, 0, "{load:?}: {:?}", agg.failure_samples());
        assert_eq!(x.requests, server.count() - before, "{load:?}");
        // Three requests per connection at most.
        assert!(x.connect.len() * 3 >= x.requests, "{load:?}");
    }
}

#[test]
fn a_connection_the_server_closes_silently_is_replaced_without_errors() {
    let server = close_server::CloseServer::start_silent(2);
    for load in [closed(3, 300), open(300.0, 0, 300)] {
        let before = server.count();
        let p = plan(&[("x", format!("http://{}/x", server.addr))], load);
        let (agg, _) = run(p, 1);
        let x = agg.label("x").unwrap();
        assert!(x.requests >= 2, "{load:?}");
        // The request the closed connection never answered went again on a new one.
        assert_eq!(x.errors, 0, "{load:?}: {:?}", agg.failure_samples());
        assert_eq!(x.requests, server.count() - before, "{load:?}");
    }
}

/// Keeps a counter alive across a test and its server thread.
#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    fn hit(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
