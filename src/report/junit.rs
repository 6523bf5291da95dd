//! junit.xml: one test case per threshold, so CI systems show a failed threshold as a failed test.
//!
//! Written by hand, to the intersection of what strict readers accept: Jenkins xunit-plugin's
//! `junit-10.xsd` (no `disabled` on `<testsuite>`), the common `junit-4.xsd` (`<skipped>` is
//! text only, no `message`; the suite's children in the order properties, test cases, output)
//! and GitLab, which keys test cases by name (so names are unique within the suite).

use std::fmt::Write;

use super::escape::xml_safe;
use super::format;
use crate::results::{Results, ThresholdResult};

/// One test case, before rendering.
struct Case {
    name: String,
    classname: String,
    outcome: Outcome,
}

enum Outcome {
    Passed,
    Skipped(String),
    Failed { message: String, detail: String },
}

pub(crate) fn render(r: &Results) -> String {
    let scenario = xml_safe(&r.scenario);
    // A duration Jenkins' SUREFIRE_TIME pattern accepts: digits, a point, three decimals.
    let time = format!(
        "{:.3}",
        if r.duration_s.is_finite() {
            r.duration_s.max(0.0)
        } else {
            0.0
        }
    );
    let mut cases = if r.thresholds.is_empty() {
        vec![run_case(r, &scenario)]
    } else {
        r.thresholds
            .iter()
            .map(|t| threshold_case(t, &scenario))
            .collect()
    };
    unique_names(&mut cases, &r.thresholds);
    let failures = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Failed { .. }))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
        .count();
    let tests = cases.len();

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "<testsuites name=\"loadgate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time}\">"
    );
    let _ = writeln!(
        out,
        "    <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\" timestamp=\"{}\">",
        attr(&format!("loadgate: {scenario}")),
        attr(&r.started_at)
    );
    out.push_str("        <properties>\n");
    for (name, value) in [
        ("run_id", xml_safe(&r.run_id)),
        ("executor", xml_safe(&r.executor)),
        ("workers", r.workers.to_string()),
        ("started_at", xml_safe(&r.started_at)),
        ("partial", r.partial.to_string()),
    ] {
        let _ = writeln!(
            out,
            "            <property name=\"{name}\" value=\"{}\"/>",
            attr(&value)
        );
    }
    out.push_str("        </properties>\n");
    for case in &cases {
        // Each threshold judged the whole run: its time is the run's.
        let _ = write!(
            out,
            "        <testcase name=\"{}\" classname=\"{}\" time=\"{time}\"",
            attr(&case.name),
            attr(&case.classname)
        );
        match &case.outcome {
            Outcome::Passed => out.push_str("/>\n"),
            Outcome::Skipped(reason) => {
                let _ = writeln!(
                    out,
                    ">\n            <skipped>{}</skipped>\n        </testcase>",
                    text(reason)
                );
            }
            Outcome::Failed { message, detail } => {
                let _ = writeln!(
                    out,
                    ">\n            <failure message=\"{}\" type=\"threshold\">{}</failure>\n        </testcase>",
                    attr(message),
                    text(detail)
                );
            }
        }
    }
    if let Some(system_out) = system_out(r) {
        let _ = writeln!(
            out,
            "        <system-out>{}</system-out>",
            text(&system_out)
        );
    }
    out.push_str("    </testsuite>\n</testsuites>\n");
    out
}

fn classname(scenario: &str, label: Option<&str>) -> String {
    match label {
        Some(label) => format!("loadgate.{scenario}.{}", xml_safe(label)),
        None => format!("loadgate.{scenario}"),
    }
}

fn threshold_case(t: &ThresholdResult, scenario: &str) -> Case {
    let outcome = if t.skipped {
        let reason = t.reason.as_deref().unwrap_or("no baseline run");
        Outcome::Skipped(xml_safe(&format!("skipped: {reason}")))
    } else if t.passed {
        Outcome::Passed
    } else {
        let mut detail = format!("{} does not hold", t.expr);
        if t.line > 0 {
            detail.push_str(&format!(" (scenario line {})", t.line));
        }
        if t.abort {
            detail.push_str("; an abort threshold: the run was stopped when it broke");
        }
        Outcome::Failed {
            message: xml_safe(&failure_message(t)),
            detail: xml_safe(&detail),
        }
    };
    Case {
        name: xml_safe(&t.expr),
        classname: classname(scenario, t.label.as_deref()),
        outcome,
    }
}

/// Test names unique within the suite: GitLab keys cases by name and class, and would show two
/// thresholds written alike (`p99 < 2s` and its `abort` twin) as one. An abort threshold says so;
/// any remaining twin gets its position.
fn unique_names(cases: &mut [Case], thresholds: &[ThresholdResult]) {
    let key = |c: &Case| (c.classname.clone(), c.name.clone());
    let mut seen: Vec<(String, String)> = Vec::new();
    for i in 0..cases.len() {
        let duplicate = |cases: &[Case], i: usize| {
            cases
                .iter()
                .enumerate()
                .any(|(j, c)| j != i && key(c) == key(&cases[i]))
        };
        if duplicate(cases, i) && thresholds.get(i).is_some_and(|t| t.abort) {
            cases[i].name.push_str(" (abort)");
        }
        let mut n = 2;
        let base = cases[i].name.clone();
        while seen.contains(&key(&cases[i])) {
            cases[i].name = format!("{base} #{n}");
            n += 1;
        }
        seen.push(key(&cases[i]));
    }
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
fn run_case(r: &Results, scenario: &str) -> Case {
    let outcome = if r.passed {
        Outcome::Passed
    } else {
        Outcome::Failed {
            message: "the run did not pass".to_string(),
            detail: String::new(),
        }
    };
    Case {
        name: "run completed".to_string(),
        classname: classname(scenario, None),
        outcome,
    }
}

fn system_out(r: &Results) -> Option<String> {
    let mut lines = Vec::new();
    if r.partial || r.stopped.is_some() {
        let reason = r.stopped.as_deref().unwrap_or("the run did not finish");
        lines.push(format!("Partial results: stopped early: {reason}."));
    }
    lines.extend(r.warnings.iter().map(|w| format!("Warning: {w}")));
    lines.extend(per_user_lines(r));
    (!lines.is_empty()).then(|| xml_safe(&lines.join("\n")))
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
            "Skipped requests (after a failed capture, or past the deadline): {}.",
            r.total.skipped
        ));
    }
    if !r.flows.is_empty() {
        let mix: Vec<String> = r.flows.iter().map(|(f, n)| format!("{f} {n}")).collect();
        lines.push(format!("Flow mix (iterations): {}.", mix.join(", ")));
    }
    lines
}

/// Character data: `&`, `<` and `>` escaped (the text is already [`xml_safe`]).
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An attribute value in double quotes; line breaks and tabs as references, so a parser keeps
/// them instead of normalising them to spaces.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in xml_safe(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}
