//! The baseline comparison in Markdown: the line naming the baseline run, the changes beyond
//! noise, the suffix after each figure ("212 ms (+18% 🔴)"), and the full table that
//! `loadgate compare` prints.

use super::escape::{md_code, md_text};
use super::format;
use crate::compare::{Change, Comparison, Scope, Verdict};
use crate::results::Results;
use crate::threshold::Unit;

pub const WORSE: &str = "🔴";
/// The figures the headline line reports, most telling first (the tables show every one).
const HEADLINE: [&str; 5] = ["p95", "p99", "error_rate", "rps", "p50"];
/// Changes named in the headline line; a PR comment's first lines must stay readable.
const MAX_HIGHLIGHTS: usize = 6;
pub const BETTER: &str = "🟢";

/// The name of what the run is compared with: the baseline's branch, else "baseline".
pub fn against(r: &Results) -> String {
    r.baseline
        .as_ref()
        .and_then(|b| b.branch.as_deref())
        .map_or_else(|| "baseline".to_string(), md_text)
}

/// "**Baseline:** run `id` on `main` · commit `abc1234` · started 2026-11-26T18:00:00Z".
pub fn baseline_line(r: &Results) -> Option<String> {
    let b = r.baseline.as_ref()?;
    let mut line = format!("**Baseline:** run {}", md_code(&b.run_id));
    if let Some(branch) = &b.branch {
        line.push_str(&format!(" on {}", md_code(branch)));
    }
    if let Some(commit) = &b.commit {
        let short: String = commit.chars().take(12).collect();
        line.push_str(&format!(" · commit {}", md_code(&short)));
    }
    line.push_str(&format!(" · started {}", md_text(&b.started_at)));
    if let Some(c) = &r.comparison {
        line.push_str(&format!(
            ". {WORSE} worse / {BETTER} better: a change beyond both {} and {} (less is noise)",
            format::percent_value(c.noise.relative_pct),
            format::ms(c.noise.latency_ms),
        ));
    }
    Some(line)
}

/// "🔴 p95 212 ms (+18% vs main) · 🔴 create-order: p99 …", or None when nothing moved.
pub fn highlights(r: &Results) -> Option<String> {
    let c = r.comparison.as_ref()?;
    let against = against(r);
    let rank = |metric: &str| HEADLINE.iter().position(|m| *m == metric);
    let mut significant: Vec<_> = c
        .significant()
        .into_iter()
        .filter(|(_, ch)| rank(&ch.metric).is_some())
        .collect();
    // Worse first, then by how much a reader cares about the figure (stable: totals first).
    significant.sort_by_key(|(_, ch)| (ch.verdict != Verdict::Worse, rank(&ch.metric)));
    let more = significant.len().saturating_sub(MAX_HIGHLIGHTS);
    let mut shown: Vec<String> = significant
        .into_iter()
        .take(MAX_HIGHLIGHTS)
        .map(|(scope, ch)| {
            let marker = if ch.verdict == Verdict::Worse {
                WORSE
            } else {
                BETTER
            };
            let name = md_name(scope, &ch.metric);
            let new = ch
                .new
                .map_or_else(String::new, |v| format::in_unit(v, ch.unit));
            format!("{marker} {name} {new} ({} vs {against})", delta(ch))
        })
        .collect();
    if shown.is_empty() {
        return Some(format!(
            "No change of throughput, errors or p50/p95/p99 beyond noise against {against}."
        ));
    }
    if more > 0 {
        shown.push(format!("{more} more below"));
    }
    Some(format!("**vs {against}:** {}", shown.join(" · ")))
}

/// A figure's name as [`Scope::name`] writes it, the label or region made safe for Markdown
/// (the metric is one of ours: `error_rate` stays as a threshold writes it).
fn md_name(scope: Scope<'_>, metric: &str) -> String {
    match scope {
        Scope::Total => metric.to_string(),
        Scope::Label(l) => format!("{}: {metric}", md_text(l)),
        Scope::Region(r) => Scope::Region(&md_text(r)).name(metric),
    }
}

/// " (+18% 🔴)" after a figure; empty without a comparison of it.
pub fn suffix(c: Option<&Comparison>, label: Option<&str>, metric: &str) -> String {
    change_suffix(c.and_then(|c| c.get(label, metric)))
}

/// [`suffix`] of a figure of region `region` (the By region table).
pub fn region_suffix(c: Option<&Comparison>, region: &str, metric: &str) -> String {
    change_suffix(c.and_then(|c| c.region(region, metric)))
}

fn change_suffix(ch: Option<&Change>) -> String {
    let Some(ch) = ch else {
        return String::new();
    };
    // No figure to add for an unknown or an exactly equal one: "(±0%)" on every cell is clutter.
    if ch.verdict == Verdict::Unknown || ch.delta == Some(0.0) {
        return String::new();
    }
    match marker(ch) {
        Some(m) => format!(" ({} {m})", delta(ch)),
        None => format!(" ({})", delta(ch)),
    }
}

fn marker(ch: &Change) -> Option<&'static str> {
    match ch.verdict {
        Verdict::Worse => Some(WORSE),
        Verdict::Better => Some(BETTER),
        Verdict::Same | Verdict::Unknown => None,
    }
}

/// "+18%", "-4.2%", "±0%"; from a zero baseline the amount: "+3 ms", or error rate in
/// percentage points ("+0.5 pp").
pub fn delta(ch: &Change) -> String {
    match (ch.delta, ch.delta_pct) {
        (Some(0.0), _) => "±0%".to_string(),
        (_, Some(p)) => signed(percent_change(p.abs()), p),
        (Some(d), None) => {
            let amount = match ch.unit {
                Unit::Percent => format!(
                    "{} pp",
                    format::count_f64((d.abs() * 100.0).round() / 100.0)
                ),
                unit => format::in_unit(d.abs(), unit),
            };
            signed(amount, d)
        }
        (None, _) => "–".to_string(),
    }
}

/// A change needs fewer digits than a figure: "+64%", "+6%" (not "+5.97%"), "+0.4%", "+0.06%".
fn percent_change(p: f64) -> String {
    let text = if p >= 9.5 {
        format!("{p:.0}")
    } else if p >= 0.95 {
        format!("{p:.1}")
    } else {
        format!("{p:.2}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}%")
}

fn signed(text: String, value: f64) -> String {
    if value < 0.0 {
        format!("-{text}")
    } else {
        format!("+{text}")
    }
}

/// Every compared figure, totals, then labels, then regions (`p95{region:eu-west-1}`, the name
/// a threshold on it would use): `loadgate compare` prints this, and the summary folds it under
/// the tables. A region not compared is named below the table, with why.
pub fn table(r: &Results) -> Option<String> {
    let c = r.comparison.as_ref()?;
    let against = against(r);
    let mut out = format!("| Figure | {against} | This run | Change |\n|:--|--:|--:|--:|\n");
    for (scope, ch) in c.all() {
        let name = match scope {
            Scope::Total => format!("**{}**", ch.metric),
            scope => md_name(scope, &ch.metric),
        };
        let value =
            |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format::in_unit(v, ch.unit));
        let mut change = delta(ch);
        if let Some(m) = marker(ch) {
            change = format!("{m} {change}");
        }
        out.push_str(&format!(
            "| {name} | {} | {} | {change} |\n",
            value(ch.base),
            value(ch.new)
        ));
    }
    if let Some(line) = regions_skipped(c) {
        out.push('\n');
        out.push_str(&line);
        out.push('\n');
    }
    Some(out)
}

/// "Not compared per region: ap-south-1 (the baseline did not load from region ap-south-1)."
pub fn regions_skipped(c: &Comparison) -> Option<String> {
    let skipped: Vec<String> = c
        .regions
        .iter()
        .filter_map(|r| {
            let why = r.skipped.as_deref()?;
            Some(format!("{} ({})", md_text(&r.region), md_text(why)))
        })
        .collect();
    (!skipped.is_empty()).then(|| format!("Not compared per region: {}.", skipped.join("; ")))
}

/// The comparison on its own, for `loadgate compare`.
pub fn markdown(r: &Results) -> String {
    let mut out = format!("## loadgate compare: {}\n\n", md_text(&r.scenario));
    out.push_str(&format!(
        "**This run:** run {} · started {}\n\n",
        md_code(&r.run_id),
        md_text(&r.started_at)
    ));
    if r.comparison.is_none() {
        out.push_str("_No baseline to compare with._\n");
    }
    for part in [baseline_line(r), highlights(r), table(r)]
        .into_iter()
        .flatten()
    {
        out.push_str(&part);
        out.push_str(if part.ends_with('\n') { "" } else { "\n\n" });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(unit: Unit, delta: f64, pct: Option<f64>) -> Change {
        Change {
            metric: "p95".to_string(),
            unit,
            base: Some(1.0),
            new: Some(1.0 + delta),
            delta: Some(delta),
            delta_pct: pct,
            verdict: Verdict::Same,
        }
    }

    #[test]
    fn changes_read_short_and_signed() {
        assert_eq!(delta(&ch(Unit::Ms, 71.6, Some(17.99))), "+18%");
        assert_eq!(delta(&ch(Unit::Ms, 3.0, Some(5.97))), "+6%");
        assert_eq!(delta(&ch(Unit::Ms, -1.0, Some(-4.26))), "-4.3%");
        assert_eq!(delta(&ch(Unit::Ms, 0.1, Some(0.06))), "+0.06%");
        assert_eq!(delta(&ch(Unit::Ms, 0.0, Some(0.0))), "±0%");
        assert_eq!(delta(&ch(Unit::Ms, 3.0, None)), "+3 ms");
        assert_eq!(delta(&ch(Unit::Percent, 2.0, None)), "+2 pp");
        assert_eq!(delta(&ch(Unit::PerSecond, -12.0, None)), "-12/s");
    }
}
