//! What a run measures: exact counts, latency where it was injected, errors by kind, abort,
//! secrets kept out of every output.

use std::time::Duration;

use loadgate::target::{Latency, Route};

use crate::harness::Test;

fn three_routes() -> Vec<Route> {
    vec![
        Route::ok("/a"),
        Route::ok("/b").latency(Latency::Uniform(Duration::ZERO, Duration::from_millis(3))),
        Route::ok("/c").status(201),
    ]
}

const REQUESTS: &str = r#"
requests:
  - { name: a, path: /a }
  - { name: b, path: /b }
  - { name: c, method: POST, path: /c, body: "{}", expect: { status: [201] } }
"#;

fn assert_counts_match(ran: &crate::harness::Ran) {
    let results = ran.results();
    let target = ran.target();
    for (label, path) in [("a", "/a"), ("b", "/b"), ("c", "/c")] {
        assert_eq!(
            results["labels"][label]["requests"].as_u64().unwrap(),
            target.count(path),
            "label {label}"
        );
    }
    assert_eq!(
        results["total"]["requests"].as_u64().unwrap(),
        target.total()
    );
    assert!(target.total() > 0);
    assert_eq!(results["total"]["errors"], 0);
}

#[test]
fn closed_model_counts_equal_the_servers_per_label() {
    let ran = Test::new()
        .scenario(&format!(
            "name: closed\ntarget: \"{{target}}\"\nload: {{ concurrency: 6, ramp_up: 500ms, hold_for: 1500ms }}\n{REQUESTS}"
        ))
        .target(three_routes())
        .args(&["run", "--threads", "2"])
        .run();
    ran.code(0);
    assert_counts_match(&ran);
}

#[test]
fn open_model_counts_equal_the_servers_per_label() {
    let ran = Test::new()
        .scenario(&format!(
            "name: open\ntarget: \"{{target}}\"\nload: {{ rate: 150/s, ramp_up: 500ms, hold_for: 1500ms }}\n{REQUESTS}"
        ))
        .target(three_routes())
        .args(&["run", "--threads", "2"])
        .run();
    ran.code(0);
    assert_counts_match(&ran);
    assert_eq!(ran.results()["total"]["dropped"], 0);
}

#[test]
fn injected_latency_shows_in_its_labels_percentiles() {
    let ran = Test::new()
        .scenario(
            "name: latency\ntarget: \"{target}\"\nload: { concurrency: 4, hold_for: 1s }\nrequests:\n  - { name: slow, path: /slow }\n  - { name: fast, path: /fast }\n",
        )
        .target(vec![
            Route::ok("/slow").latency(Latency::Fixed(Duration::from_millis(40))),
            Route::ok("/fast"),
        ])
        .args(&["run"])
        .run();
    ran.code(0);
    let labels = &ran.results()["labels"];
    let slow = labels["slow"]["response_time_ms"]["p50"].as_f64().unwrap();
    let fast = labels["fast"]["response_time_ms"]["p50"].as_f64().unwrap();
    assert!(slow >= 40.0, "slow p50 {slow}");
    assert!(fast < slow, "fast p50 {fast} vs slow {slow}");
}

#[test]
fn unexpected_statuses_are_status_errors_with_samples() {
    let ran = Test::new()
        .scenario(
            "name: errors\ntarget: \"{target}\"\nload: { concurrency: 2, hold_for: 500ms }\nrequests:\n  - { name: broken, path: /broken }\nthresholds: [ \"error_rate < 50%\" ]\n",
        )
        .target(vec![Route::ok("/broken").error_rate(1.0)])
        .args(&["run"])
        .run();
    ran.code(1);
    let results = ran.results();
    let served = ran.target().count("/broken");
    assert_eq!(results["total"]["errors"].as_u64().unwrap(), served);
    assert_eq!(
        results["total"]["error_kinds"]["status"].as_u64().unwrap(),
        served
    );
    assert_eq!(results["total"]["status"]["500"].as_u64().unwrap(), served);
    // A response with an unexpected status is still a latency sample.
    assert!(
        results["total"]["response_time_ms"]["max"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let failures = results["failures"].as_array().unwrap();
    assert!(!failures.is_empty() && failures.len() <= 3);
    assert!(failures[0]["body"]
        .as_str()
        .unwrap()
        .contains("injected failure"));
    assert!(ran
        .read("loadgate-report/summary.md")
        .contains("injected failure"));
}

#[test]
fn timeouts_are_counted_as_timeouts() {
    let ran = Test::new()
        .scenario(
            "name: timeouts\ntarget: \"{target}\"\ndefaults: { timeout: 50ms }\nload: { concurrency: 2, hold_for: 500ms }\nrequests:\n  - { name: stuck, path: /stuck }\n",
        )
        .target(vec![
            Route::ok("/stuck").latency(Latency::Fixed(Duration::from_secs(5)))
        ])
        .args(&["run"])
        .run();
    ran.code(1);
    let results = ran.results();
    let timeouts = results["total"]["error_kinds"]["timeout"].as_u64().unwrap();
    assert!(timeouts > 0);
    assert_eq!(results["total"]["errors"].as_u64().unwrap(), timeouts);
}

#[test]
fn an_abort_threshold_stops_the_run_early() {
    let ran = Test::new()
        .scenario(
            "name: abort\ntarget: \"{target}\"\nload: { concurrency: 2, hold_for: 60s }\nrequests:\n  - { name: broken, path: /broken }\nthresholds:\n  - { expr: \"error_rate < 10%\", abort: true, after: 0s }\n",
        )
        .target(vec![Route::ok("/broken").error_rate(1.0)])
        .args(&["run"])
        .run();
    ran.code(1);
    let results = ran.results();
    assert_eq!(results["partial"], true);
    assert!(results["stopped"]
        .as_str()
        .unwrap()
        .contains("error_rate < 10%"));
    assert!(results["duration_s"].as_f64().unwrap() < 30.0);
}

/// A target that answers every request with a 500 whose body is the request's head, secrets
/// and all: the failure samples then hold the secret unless it is masked.
fn echoing_target() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                head.len()
            );
        }
    });
    url
}

#[test]
fn secrets_stay_out_of_every_output() {
    let secret = "tok-8f2d1c9e7a";
    let ran = Test::new()
        .scenario(&format!(
            "name: secrets\ntarget: \"{}\"\ndefaults: {{ headers: {{ Authorization: \"Bearer ${{API_TOKEN}}\" }} }}\nload: {{ concurrency: 2, hold_for: 500ms }}\nrequests:\n  - {{ name: broken, path: \"/broken?t=${{API_TOKEN}}\" }}\n",
            echoing_target()
        ))
        .env("API_TOKEN", secret)
        .args(&["run"])
        .run();
    ran.code(1);
    // The samples are there (the echoed request line and header), with the secret masked.
    let failures = ran.results()["failures"].to_string();
    assert!(failures.contains("authorization: Bearer ***"), "{failures}");
    for file in ["summary.md", "junit.xml", "results.json", "report.html"] {
        let text = ran.read(&format!("loadgate-report/{file}"));
        assert!(!text.contains(secret), "{file}");
    }
    assert!(!ran.stdout.contains(secret));
    assert!(!ran.stderr.contains(secret));
}
