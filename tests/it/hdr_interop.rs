//! results.json's histograms are HdrHistogram's standard V2 + DEFLATE encoding, as the README
//! promises: another implementation, PyPI's `hdrhistogram` (the `hdrh` module, in the tools' venv:
//! `scripts/tools.sh python hdrhistogram`), decodes every one of them and finds the same counts
//! and percentiles as the summary figures.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use loadgate::target::{Latency, Route};
use serde_json::Value;

use crate::harness::Test;

/// Decodes every base64 string under `histograms` and prints, per path, its count, min, max and
/// some percentiles in microseconds.
const DECODE: &str = r#"
import json, sys
from hdrh.histogram import HdrHistogram

results = json.load(open(sys.argv[1]))
out = {}

def walk(path, node):
    if isinstance(node, str):
        h = HdrHistogram.decode(node)
        out[path] = {
            "count": h.get_total_count(),
            "min": h.get_min_value(),
            "max": h.get_max_value(),
            "p50": h.get_value_at_percentile(50.0),
            "p99": h.get_value_at_percentile(99.0),
        }
    elif isinstance(node, dict):
        for k, v in node.items():
            walk(path + "/" + k, v)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(path + "/" + str(i), v)

walk("", results["histograms"])
print(json.dumps(out))
"#;

fn python() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/python");
    assert!(
        path.exists(),
        "{} not found: run the tests with scripts/test.sh, or `scripts/tools.sh python hdrhistogram`",
        path.display()
    );
    path
}

/// Within one HDR bucket at 3 significant digits (the two libraries may report either end).
fn same_bucket(ours_ms: f64, theirs_us: f64) -> bool {
    let theirs_ms = theirs_us / 1000.0;
    (ours_ms - theirs_ms).abs() <= ours_ms.max(theirs_ms) * 0.002 + 0.001
}

#[test]
fn another_hdr_histogram_implementation_decodes_results_json() {
    let ran = Test::new()
        .scenario(
            "name: hdr\ntarget: \"{target}\"\nload: { concurrency: 4, hold_for: 1s }\nrequests:\n  - { name: slow, path: /slow }\n  - { name: fast, path: /fast }\n",
        )
        .target(vec![
            Route::ok("/slow").latency(Latency::Uniform(
                Duration::from_millis(5),
                Duration::from_millis(25),
            )),
            Route::ok("/fast"),
        ])
        .args(&["run"])
        .run();
    ran.code(0);
    let results = ran.results();
    let out = Command::new(python())
        .args(["-c", DECODE])
        .arg(ran.path("loadgate-report/results.json"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "hdrh could not decode results.json (is `hdrhistogram` installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded: Value = serde_json::from_slice(&out.stdout).expect("JSON from python");
    let decoded = decoded.as_object().expect("an object");
    let histograms = decoded.len();
    assert!(histograms >= 6, "{histograms} histograms: {decoded:?}");
    let check = |path: &str, figures: &Value| {
        let h = &decoded
            .get(path)
            .unwrap_or_else(|| panic!("no {path} in {decoded:?}"));
        assert_eq!(h["count"].as_u64(), figures["requests"].as_u64(), "{path}");
        assert!(h["count"].as_u64() > Some(0), "{path}");
        let ms = &figures["response_time_ms"];
        for (theirs, ours) in [
            ("p50", "p50"),
            ("p99", "p99"),
            ("max", "max"),
            ("min", "min"),
        ] {
            let (t, o) = (h[theirs].as_f64().unwrap(), ms[ours].as_f64().unwrap());
            assert!(same_bucket(o, t), "{path} {ours}: ours {o} ms, hdrh {t} us");
        }
    };
    check("/total/response_time", &results["total"]);
    for label in ["slow", "fast"] {
        check(
            &format!("/labels/{label}/response_time"),
            &results["labels"][label],
        );
    }
}
