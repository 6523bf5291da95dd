//! `validate`'s words for the requests: in order, per flow and setup, with which fields are
//! templated, what each request captures and checks, and the data feeds.

use std::fmt::Write;

use crate::plan::{
    CaptureSource, CheckPlan, Expr, FeedMode, FeedPer, Plan, RequestPlan, Segment, Template,
};

pub(super) fn requests(out: &mut String, plan: &Plan) {
    let u = &plan.users;
    for f in &u.feeds {
        let mode = match f.mode {
            FeedMode::Sequential => "sequential".to_string(),
            FeedMode::Random => "random".to_string(),
            FeedMode::Unique => {
                format!("unique, on exhausted: {:?}", f.on_exhausted).to_lowercase()
            }
        };
        let per = match f.per {
            FeedPer::Iteration => "a row per iteration",
            FeedPer::User => "a row per user",
        };
        let _ = writeln!(
            out,
            "data        {}: {} ({} rows; columns {}; {mode}; {per})",
            f.name,
            f.file,
            f.rows,
            f.columns.join(", ")
        );
    }
    if let Some(seed) = u.seed {
        let _ = writeln!(out, "seed        {seed}");
    }
    if u.flows.is_empty() && u.setup.is_empty() {
        let _ = writeln!(
            out,
            "requests    {} in order, per iteration:",
            plan.requests.len()
        );
        for r in &plan.requests {
            request(out, plan, r);
        }
        return;
    }
    if !u.setup.is_empty() {
        let _ = writeln!(
            out,
            "setup       {} request(s), once per user:",
            u.setup.len()
        );
        for &i in &u.setup {
            request(out, plan, &plan.requests[i]);
        }
    }
    let total: u64 = u
        .flows
        .iter()
        .map(|f| u64::from(f.weight))
        .sum::<u64>()
        .max(1);
    for f in &u.flows {
        let _ = writeln!(
            out,
            "flow        {} (weight {}, {:.0}% of iterations), in order:",
            f.name,
            f.weight,
            100.0 * f64::from(f.weight) / total as f64
        );
        for &i in &f.requests {
            request(out, plan, &plan.requests[i]);
        }
    }
    if u.flows.is_empty() {
        let rest: Vec<&RequestPlan> = plan
            .requests
            .iter()
            .enumerate()
            .filter(|(i, _)| !u.setup.contains(i))
            .map(|(_, r)| r)
            .collect();
        let _ = writeln!(out, "requests    {} in order, per iteration:", rest.len());
        for r in rest {
            request(out, plan, r);
        }
    }
}

fn request(out: &mut String, plan: &Plan, request: &RequestPlan) {
    let mask = |text: &str| plan.secrets.mask(text);
    let expects = if request.expect_status.is_empty() {
        "any status below 400".to_string()
    } else {
        let codes: Vec<String> = request.expect_status.iter().map(u16::to_string).collect();
        format!("status {}", codes.join(" or "))
    };
    let d = request.dynamic.as_deref();
    let url = match d.and_then(|d| d.target.as_ref()) {
        Some(t) => {
            let origin = url::Url::parse(&request.url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            format!("{origin}{}", show(t, plan))
        }
        None => request.url.clone(),
    };
    let _ = writeln!(
        out,
        "  {:<7} {}  [{}] expects {expects}",
        request.method,
        mask(&url),
        mask(&request.name)
    );
    let mut names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
    names.extend(
        d.iter()
            .flat_map(|d| d.headers.iter().map(|(n, _)| n.as_str())),
    );
    if !names.is_empty() {
        // Names only: values often carry tokens.
        let _ = writeln!(out, "          headers: {}", names.join(", "));
    }
    if let Some(body) = &request.body {
        let _ = writeln!(out, "          body: {} bytes", body.len());
    }
    let Some(d) = d else {
        return;
    };
    let mut templated = Vec::new();
    if d.target.is_some() {
        templated.push("path".to_string());
    }
    templated.extend(d.headers.iter().map(|(n, _)| format!("header {n}")));
    if d.body.is_some() {
        templated.push("body".to_string());
    }
    if !templated.is_empty() {
        let _ = writeln!(out, "          templated: {}", templated.join(", "));
    }
    for c in &d.captures {
        let from = match &c.source {
            CaptureSource::Json(p) => format!("JSON {p}"),
            CaptureSource::Header(h) => format!("header {h}"),
            CaptureSource::Regex { pattern, group } => format!("regex `{pattern}` group {group}"),
            CaptureSource::Status => "status".to_string(),
        };
        let _ = writeln!(out, "          captures {} from {from}", c.name);
    }
    for c in &d.checks {
        let what = match c {
            CheckPlan::BodyContains(t) => format!("body contains `{}`", mask(t)),
            CheckPlan::Json { pointer, value } => {
                format!("JSON {pointer} = {}", mask(&value.to_string()))
            }
            CheckPlan::Header { name, pattern } => format!("header {name} matches `{pattern}`"),
        };
        let _ = writeln!(out, "          checks {what}");
    }
    if let Some(n) = d.follow_redirects {
        let _ = writeln!(out, "          follows up to {n} redirect(s)");
    }
}

/// A template as a person would write it (values as `{{ ... }}`).
fn show(t: &Template, plan: &Plan) -> String {
    let mut s = String::new();
    for seg in &t.0 {
        match seg {
            Segment::Text(x) => s.push_str(x),
            Segment::Value(e) => {
                let inner = match e {
                    Expr::Column { feed, column } => {
                        let f = &plan.users.feeds[*feed];
                        format!(
                            "{}.{}",
                            f.name,
                            f.columns.get(*column).map_or("?", String::as_str)
                        )
                    }
                    Expr::Capture(slot) => {
                        plan.users.captures.get(*slot).cloned().unwrap_or_default()
                    }
                    Expr::User => "user".to_string(),
                    Expr::Iteration => "iteration".to_string(),
                    Expr::Uuid => "uuid()".to_string(),
                    Expr::NowMs => "now_ms()".to_string(),
                    Expr::RandomInt(a, b) => format!("random_int({a}, {b})"),
                    Expr::RandomChoice(items) => format!("random_choice({items:?})"),
                };
                let _ = write!(s, "{{{{ {inner} }}}}");
            }
        }
    }
    s
}
