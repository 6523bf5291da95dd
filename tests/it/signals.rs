//! Cancelling a local run: SIGINT as well as SIGTERM, and 130 winning over 3. Each test signals
//! once the run is observably sending load (the target counted a request, or the run's progress
//! line counted requests), never after a fixed sleep.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use loadgate::target::{Route, Target};

use crate::harness::Test;

const LONG: &str = r#"
name: long
target: "{target}"
load: { concurrency: 2, hold_for: 60s }
requests:
  - name: home
    path: /
thresholds:
  - error_rate < 1%
"#;

/// Waits (at most a minute) until the target has served a request.
pub fn wait_for_requests(target: &Target) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while target.total() == 0 {
        assert!(
            Instant::now() < deadline,
            "the run never reached the target"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_stops_a_local_run_writes_a_partial_report_and_exits_130() {
    let ran = Test::new()
        .scenario(LONG)
        .target(vec![Route::ok("/")])
        .args(&["run"])
        .run_with_target(|child, target| {
            wait_for_requests(target);
            // SAFETY: kill(2) of our own child's pid has no memory effects.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        });
    ran.code(130);
    let results = ran.results();
    assert_eq!(results["partial"], true);
    let stopped = results["stopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("cancelled"), "{stopped}");
    let counted = results["total"]["requests"].as_u64().unwrap_or(0);
    let served = ran.target().total();
    assert!(counted > 0);
    // Requests in flight at the stop are served but not counted: at most one per user.
    assert!(
        counted <= served && served - counted <= 2,
        "{counted} of {served}"
    );
    assert!(ran.read("loadgate-report/summary.md").contains("partial"));
}

#[test]
fn a_cancelled_run_exits_130_even_when_the_target_was_unreachable() {
    // No target: every request is refused, which alone would be exit 3.
    let ran = Test::new().scenario(LONG).args(&["run"]).run_with(|child| {
        // The plain progress line (CI=true) says how many requests failed so far.
        let stderr = child.stderr.as_mut().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let sent = loop {
            let line = lines
                .next()
                .expect("the run printed no progress")
                .expect("stderr");
            if line.contains("errors 100.00%") && !line.contains("(0 requests)") {
                break line;
            }
        };
        assert!(sent.contains("requests)"), "{sent}");
        // SAFETY: kill(2) of our own child's pid has no memory effects.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    });
    ran.code(130);
    let results = ran.results();
    assert_eq!(results["partial"], true);
    assert!(results["total"]["error_kinds"]["connect"].as_u64() > Some(0));
    // Both applied: the run was cancelled, and the target was unreachable throughout.
    let warnings = results["warnings"].to_string();
    assert!(
        warnings.contains("the target was unreachable for the whole run"),
        "{warnings}"
    );
}
