//! Issue 14's engine regressions: loads that must stop at any rate, statuses outside 100-599,
//! and failure samples that never show part of a secret. Against real servers on 127.0.0.1; no
//! timing assertions (a run that does not stop makes the test hang, which fails it).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use crate::plan::LoadPlan;
use crate::stats::ErrorKind;
use crate::target::{Route, Target};

use super::http1::parse_head;
use super::tests::{plan, run, run_with_stop};
use super::Stop;

/// A server answering every request on every connection with `response`, as is.
fn fixed_server(response: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let response = response.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if stream.write_all(&response).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

/// Item 10: `HTTP/1.1 000 Zero` was a success.
#[test]
fn statuses_outside_100_to_599_are_io_errors() {
    for line in [
        "HTTP/1.1 000 Zero",
        "HTTP/1.1 099 Low",
        "HTTP/1.1 600 High",
        "HTTP/1.1 999 X",
    ] {
        let head = format!("{line}\r\ncontent-length: 0\r\n\r\n");
        assert!(parse_head(head.as_bytes(), false).is_err(), "{line}");
    }
    let ok = parse_head(b"HTTP/1.1 599 Odd\r\ncontent-length: 0\r\n\r\n", false).unwrap();
    assert_eq!(ok.unwrap().status, 599);

    let url = fixed_server(b"HTTP/1.1 000 Zero\r\ncontent-length: 2\r\n\r\nok".to_vec());
    let (agg, _) = run(plan(&[("zero", url)], closed(1, 150)), 1);
    let zero = agg.label("zero").unwrap();
    assert!(zero.requests > 0);
    assert_eq!(zero.error_kind(ErrorKind::Io), zero.requests);
    assert!(zero.status.is_empty(), "{:?}", zero.status);
}

fn closed(users: u32, hold_ms: u64) -> LoadPlan {
    LoadPlan::Closed {
        concurrency: users,
        ramp_up: Duration::ZERO,
        hold_for: Duration::from_millis(hold_ms),
        think_time: Duration::ZERO,
    }
}

/// Item 5: at 1e12/s the pacer looped over every arrival and never reached the deadline. Now the
/// run ends, and every arrival of the schedule is accounted for: sent, dropped (slots full) or
/// skipped (the deadline came first).
#[test]
fn an_impossible_rate_ends_and_every_arrival_is_accounted_for() {
    let target = Target::start(vec![Route::ok("/x")]).unwrap();
    for (rate, hold_ms) in [(1e12, 300u64), (1e9, 200), (100_000.0, 200)] {
        let mut p = plan(
            &[("x", format!("{}/x", target.url()))],
            LoadPlan::Open {
                rate,
                ramp_up: Duration::ZERO,
                hold_for: Duration::from_millis(hold_ms),
                max_in_flight: 64,
            },
        );
        p.timeout = Duration::from_millis(500);
        let before = target.count("/x");
        let (agg, reports) = run(p, 1);
        let x = agg.label("x").unwrap();
        let scheduled = (rate * hold_ms as f64 / 1000.0).ceil() as u64;
        assert_eq!(
            x.requests + x.dropped + x.skipped,
            scheduled,
            "{rate}/s: {} sent, {} dropped, {} skipped",
            x.requests,
            x.dropped,
            x.skipped
        );
        if rate >= 1e9 {
            assert!(x.dropped > 0, "{rate}/s");
        }
        assert_eq!(x.requests, target.count("/x") - before, "{rate}/s");
        assert!(!reports[0].stopped);
    }
}

/// Item 5: a stop ends an open run at any rate at once (the run would otherwise last a minute).
#[test]
fn a_stop_ends_a_saturated_open_run() {
    let target = Target::start(vec![Route::ok("/x")]).unwrap();
    let p = plan(
        &[("x", format!("{}/x", target.url()))],
        LoadPlan::Open {
            rate: 1e9,
            ramp_up: Duration::ZERO,
            hold_for: Duration::from_secs(60),
            max_in_flight: 1000,
        },
    );
    let stop = Stop::new();
    let trigger = {
        let stop = stop.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            stop.trigger();
        })
    };
    let (agg, reports) = run_with_stop(p, 1, stop);
    trigger.join().unwrap();
    assert!(reports[0].stopped);
    assert!(agg.total.requests > 0);
}

/// Item 1: the sample body was cut to 200 bytes before masking, so a secret across the cut
/// leaked its first part.
#[test]
fn a_secret_across_the_sample_cut_shows_none_of_itself() {
    let secret = "Sup3r-S3cret-Value";
    let body = format!("{}{secret} and more", "x".repeat(190));
    let response = format!(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let url = fixed_server(response.into_bytes());
    let mut p = plan(&[("echo", url)], closed(1, 100));
    p.secrets.add(secret);
    let (agg, _) = run(p, 1);
    let samples = agg.failure_samples();
    assert!(!samples.is_empty());
    for s in samples {
        let body = s.body.as_deref().unwrap();
        assert!(body.len() <= 200, "{}", body.len());
        assert!(!body.contains("Sup3r"), "{body}");
        assert!(body.contains("***"), "{body}");
    }
}
