//! results.json's histograms are HdrHistogram's standard V2 + DEFLATE encoding, as the README
//! promises: another implementation, PyPI's `hdrhistogram` (the `hdrh` module, in the tools' venv:
//! `scripts/tools.sh python hdrhistogram`), decodes every one of them to exactly the buckets and
//! counts that loadgate's own decoder finds, with the summary's request counts and extremes.
//! Percentiles are not compared: the two libraries round a percentile's rank differently, which
//! on a sparse tail is a different sample (p99 74.6 ms against 63.6 ms, seen here), not a
//! different histogram.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use loadgate::target::{Latency, Route};
use serde_json::Value;

use crate::harness::Test;

/// Decodes every base64 string under `histograms` and prints, per path, its count, min, max and
/// every recorded bucket as `[highest equivalent value, count]`, in microseconds.
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
            "buckets": [[i.value_iterated_to, i.count_at_value_iterated_to]
                        for i in h.get_recorded_iterator()],
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
    // Every histogram, not only the summary's: the timeline and scheduling lag ones too.
    let mut strings = Vec::new();
    collect(&results["histograms"], "", &mut strings);
    assert!(strings.len() >= 6, "{} histograms", strings.len());
    assert_eq!(
        decoded.len(),
        strings.len(),
        "hdrh decoded {:?}",
        decoded.keys()
    );
    for (path, text) in &strings {
        let ours = loadgate::stats::decode(text).expect("our own decoder reads it");
        let buckets: Vec<Value> = ours
            .iter_recorded()
            .map(|v| serde_json::json!([v.value_iterated_to(), v.count_at_value()]))
            .collect();
        let theirs = &decoded[path];
        assert_eq!(theirs["count"].as_u64(), Some(ours.len()), "{path}");
        assert_eq!(theirs["buckets"].as_array(), Some(&buckets), "{path}");
    }
    let check = |path: &str, figures: &Value| {
        let h = &decoded
            .get(path)
            .unwrap_or_else(|| panic!("no {path} in {decoded:?}"));
        assert_eq!(h["count"].as_u64(), figures["requests"].as_u64(), "{path}");
        assert!(h["count"].as_u64() > Some(0), "{path}");
        let ms = &figures["response_time_ms"];
        for stat in ["min", "max"] {
            let (t, o) = (h[stat].as_f64().unwrap(), ms[stat].as_f64().unwrap());
            assert!(same_bucket(o, t), "{path} {stat}: ours {o} ms, hdrh {t} us");
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

/// Every base64 histogram under `node`, with its path as the Python script names it.
fn collect(node: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match node {
        Value::String(text) => out.push((path.to_string(), text.clone())),
        Value::Object(map) => {
            for (k, v) in map {
                collect(v, &format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect(v, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}
