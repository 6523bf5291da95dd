//! junit.xml: one test case per threshold, so CI systems show a failed threshold as a failed test.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::escape::xml_safe;
use super::format;
use crate::results::{Results, ThresholdResult};

pub(crate) fn render(r: &Results) -> String {
    let scenario = xml_safe(&r.scenario);
    let time = Duration::try_from_secs_f64(r.duration_s).unwrap_or(Duration::ZERO);

    let mut suite = TestSuite::new(format!("loadgate: {scenario}"));
    suite.set_time(time);
    suite.add_properties([
        Property::new("run_id", xml_safe(&r.run_id)),
        Property::new("executor", xml_safe(&r.executor)),
        Property::new("workers", r.workers.to_string()),
        Property::new("started_at", xml_safe(&r.started_at)),
        Property::new("partial", r.partial.to_string()),
    ]);
    if r.thresholds.is_empty() {
        suite.add_test_case(run_case(r, &scenario));
    } else {
        suite.add_test_cases(r.thresholds.iter().map(|t| threshold_case(t, &scenario)));
    }
    if let Some(out) = system_out(r) {
        suite.set_system_out(xml_safe(&out));
    }

    let mut report = Report::new("loadgate");
    report.set_time(time);
    report.add_test_suite(suite);
    // Serialising into memory fails only on a bug in quick-junit; a CI job still gets a
    // readable file saying so instead of a panic.
    report
        .to_string()
        .unwrap_or_else(|e| fallback(&scenario, &e.to_string()))
}

fn classname(scenario: &str, label: Option<&str>) -> String {
    match label {
        Some(label) => format!("loadgate.{scenario}.{}", xml_safe(label)),
        None => format!("loadgate.{scenario}"),
    }
}

fn threshold_case(t: &ThresholdResult, scenario: &str) -> TestCase {
    let status = if t.skipped {
        let mut status = TestCaseStatus::skipped();
        let reason = t.reason.as_deref().unwrap_or("no baseline run");
        status.set_message(xml_safe(&format!("skipped: {reason}")));
        status
    } else if t.passed {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(xml_safe(&failure_message(t)));
        status.set_type("threshold");
        let mut description = format!("{} does not hold", t.expr);
        if t.line > 0 {
            description.push_str(&format!(" (scenario line {})", t.line));
        }
        if t.abort {
            description.push_str("; an abort threshold: the run was stopped when it broke");
        }
        status.set_description(xml_safe(&description));
        status
    };
    let mut case = TestCase::new(xml_safe(&t.expr), status);
    case.set_classname(classname(scenario, t.label.as_deref()));
    case
}

/// "p95 = 412 ms, limit < 300 ms".
pub(crate) fn failure_message(t: &ThresholdResult) -> String {
    let limit = format::limit(t.op, t.limit, t.unit);
    match t.actual {
        Some(actual) => {
            let mut message = format!(
                "{} = {}, limit {limit}",
                t.metric,
                format::in_unit(actual, t.unit)
            );
            if let Some(base) = t.baseline {
                message.push_str(&format!(" (baseline {})", format::in_unit(base, t.unit)));
            }
            message
        }
        None => format!("{} has no data, limit {limit}", t.metric),
    }
}

/// Without thresholds the run itself is the one test: it passed or it did not.
fn run_case(r: &Results, scenario: &str) -> TestCase {
    let status = if r.passed {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message("the run did not pass");
        status
    };
    let mut case = TestCase::new("run completed", status);
    case.set_classname(classname(scenario, None));
    case
}

fn system_out(r: &Results) -> Option<String> {
    let mut lines = Vec::new();
    if r.partial || r.stopped.is_some() {
        let reason = r.stopped.as_deref().unwrap_or("the run did not finish");
        lines.push(format!("Partial results: stopped early: {reason}."));
    }
    lines.extend(r.warnings.iter().map(|w| format!("Warning: {w}")));
    lines.extend(per_user_lines(r));
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Failed checks and captures, skipped requests and the flow mix (issue 13's figures).
fn per_user_lines(r: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    for kind in ["check", "capture"] {
        if let Some(n) = r.total.error_kinds.get(kind) {
            lines.push(format!("Failed {kind}s: {n}."));
        }
    }
    if r.total.skipped > 0 {
        lines.push(format!(
            "Skipped requests (after a failed capture): {}.",
            r.total.skipped
        ));
    }
    if !r.flows.is_empty() {
        let mix: Vec<String> = r.flows.iter().map(|(f, n)| format!("{f} {n}")).collect();
        lines.push(format!("Flow mix (iterations): {}.", mix.join(", ")));
    }
    lines
}

fn fallback(scenario: &str, error: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"loadgate\" tests=\"1\" \
         failures=\"0\" errors=\"1\">\n<testsuite name=\"loadgate: {s}\" tests=\"1\" failures=\"0\" \
         errors=\"1\">\n<testcase name=\"report\"><error message=\"{e}\"/></testcase>\n</testsuite>\n\
         </testsuites>\n",
        s = escape(scenario),
        e = escape(error),
    )
}
