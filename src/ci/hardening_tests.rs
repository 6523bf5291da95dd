//! Issue 14 item 16: a skipped relative threshold is no failure, and a run without data has
//! empty latency outputs rather than `0`.

use std::path::Path;

use super::check_run;
use super::github::{outputs, threshold_annotations};
use crate::report::fixtures;

#[test]
fn a_skipped_threshold_is_not_annotated_as_a_failure() {
    let mut results = fixtures::passing();
    // As the evaluator leaves a relative threshold when there is no baseline run.
    let skipped = fixtures::evaluated(&["p95 < baseline + 10%"], &fixtures::aggregate(false));
    assert!(skipped[0].skipped, "{skipped:?}");
    results.thresholds.extend(skipped);
    assert!(results.passed);
    assert_eq!(
        threshold_annotations(&results, Some("loadgate.yaml")),
        Vec::<String>::new()
    );
    assert!(check_run::annotations(&results, "loadgate.yaml").is_empty());
    // A real failure still is annotated.
    let failing = fixtures::failing();
    assert!(!threshold_annotations(&failing, None).is_empty());
}

#[test]
fn a_run_without_data_has_empty_latency_outputs() {
    let results = fixtures::minimal();
    let out = outputs(&results, Path::new("r"), Path::new("r/results.json"));
    let get = |name: &str| out.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(get("p95-ms"), Some(""));
    assert_eq!(get("p99-ms"), Some(""));
    assert_eq!(get("error-rate"), Some(""));
    assert_eq!(get("requests"), Some("0"));
    let passing = fixtures::passing();
    let out = outputs(&passing, Path::new("r"), Path::new("r/results.json"));
    let p95 = out.iter().find(|(n, _)| n == "p95-ms").unwrap();
    assert!(p95.1.parse::<f64>().unwrap() > 0.0, "{p95:?}");
}
