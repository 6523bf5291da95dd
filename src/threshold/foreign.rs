//! Threshold syntaxes of other tools, recognised so that the error says what to write instead.
//!
//! Taurus's pass/fail criteria (`avg-rt>300ms for 10s, stop as failed`) state when a run FAILS;
//! a loadgate threshold states what must HOLD. Silently accepting one would invert the gate, so
//! they are refused with the inverted expression where it is obvious.

use super::Op;

/// k6 keys thresholds by metric (`http_req_duration: p(95)<500`), which reads as a label here;
/// a run would then find no such request and fail with "no data", so say what to write instead.
pub(super) fn k6_metric(label: &str, body: &str) -> Option<String> {
    let prefix = match label {
        "http_req_duration" => "",
        "http_req_waiting" => "ttfb_",
        "http_req_connecting" => "connect_",
        "http_req_failed" | "http_reqs" => {
            return Some(format!(
                "`{label}` is a k6 metric, not a request name: loadgate writes `error_rate < 1%` \
                 for http_req_failed, and `requests` or `rps` for http_reqs"
            ))
        }
        _ => return None,
    };
    Some(format!(
        "`{label}` is a k6 metric, not a request name: write `{prefix}{}`",
        body.trim()
    ))
}

/// Taurus metrics, with the loadgate metric where there is one.
const TAURUS_NAMES: &[(&str, Option<&str>)] = &[
    ("avg-rt", Some("avg")),
    ("avg-lt", Some("ttfb_avg")),
    ("avg-ct", Some("connect_avg")),
    ("fail", Some("error_rate")),
    ("stdev-rt", None),
    ("succ", None),
    ("hits", None),
    ("bytes", None),
    ("concurr", None),
];

const TAURUS_WHY: &str =
    "this looks like a Taurus failure criterion, which states when a run fails; \
     a loadgate threshold states the condition that must hold for the run to pass (as in k6)";

pub(super) fn taurus_metric(name: &str) -> bool {
    taurus_translate(name).is_some()
}

/// `Some(Some(loadgate name))`, `Some(None)` for a Taurus metric with no direct equivalent.
fn taurus_translate(name: &str) -> Option<Option<&'static str>> {
    if let Some(&(_, ours)) = TAURUS_NAMES.iter().find(|(theirs, _)| *theirs == name) {
        return Some(ours);
    }
    let code = name.strip_prefix("rc")?;
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(None)
}

/// The message for a Taurus metric name, given the text after it.
pub(super) fn taurus_criterion(name: &str, after: &str) -> Option<String> {
    let ours = taurus_translate(name)?;
    let suggestion = ours.and_then(|ours| {
        let after = after.trim_start();
        let (op, len) = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
            .into_iter()
            .find(|(t, _)| after.starts_with(t))
            .map(|(t, op)| (op, t.len()))?;
        let value = after[len..]
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == ',')
            .next()
            .filter(|v| !v.is_empty())?;
        Some(format!("{ours} {} {value}", op.negated()))
    });
    Some(match suggestion {
        Some(s) => format!("{TAURUS_WHY}: write `{s}`"),
        None => format!("{TAURUS_WHY}; `{name}` is not a loadgate metric"),
    })
}

/// The message for a Taurus `for 10s` / `, stop as failed` tail after a valid condition.
pub(super) fn taurus_trailer(rest: &str, name: &str, op: Op, value: &str) -> Option<String> {
    let lower = rest.to_ascii_lowercase();
    let taurus = lower.starts_with(',')
        || lower.starts_with("for ")
        || lower.contains("stop as")
        || lower.contains("continue as");
    taurus.then(|| {
        format!(
            "{TAURUS_WHY}, and it has no `for`, `stop as` or `continue as` parts: write `{name} {} {}`",
            op.negated(),
            value.trim()
        )
    })
}
