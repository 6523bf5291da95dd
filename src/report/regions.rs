//! The per-region table of a run from several regions (results.json `distributed.regions`), in
//! summary.md and report.html: workers, requests, rate, errors, p50/p95/p99, start skew, cost.
//! With a baseline from several regions, each figure carries its change against the same region
//! of the baseline (results.json `comparison.regions`).

use std::fmt::Write;

use super::escape::{html as escape, md_text};
use super::{comparison, format};
use crate::compare::Comparison;
use crate::results::{RegionFigures, Results};

/// One row's cells, formatted once for both reports.
fn cells(r: &RegionFigures, c: Option<&Comparison>) -> [String; 9] {
    let p = &r.total.response_time_ms;
    let change = |metric: &str| comparison::region_suffix(c, &r.region, metric);
    let workers = if r.contributed == r.workers {
        r.workers.to_string()
    } else {
        format!("{} of {}", r.contributed, r.workers)
    };
    [
        r.region.clone(),
        workers,
        format::count(r.total.requests),
        format::per_second(r.total.rps) + &change("rps"),
        format::percent(r.total.error_rate) + &change("error_rate"),
        format::ms(p.p50) + &change("p50"),
        format::ms(p.p95) + &change("p95"),
        format::ms(p.p99) + &change("p99"),
        r.start_skew_ms
            .map_or_else(|| "–".to_string(), |s| format!("{s:.0} ms")),
    ]
}

fn cost(r: &RegionFigures) -> String {
    r.cost_usd.map_or_else(|| "–".to_string(), crate::cost::usd)
}

fn regions(r: &Results) -> Option<&[RegionFigures]> {
    r.distributed
        .as_ref()
        .map(|d| d.regions.as_slice())
        .filter(|list| !list.is_empty())
}

/// The Markdown table, or `None` for a run from one region.
pub(crate) fn markdown(r: &Results) -> Option<String> {
    let list = regions(r)?;
    let mut out = String::from(
        "| Region | Workers | Requests | Rate | Errors | p50 | p95 | p99 | Start skew | Cost |\n\
         |:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for region in list {
        let c = cells(region, r.comparison.as_ref());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md_text(&c[0]),
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            c[6],
            c[7],
            c[8],
            md_text(&cost(region))
        );
    }
    if let Some(line) = r.comparison.as_ref().and_then(comparison::regions_skipped) {
        out.push('\n');
        out.push_str(&line);
    }
    Some(out.trim_end().to_string())
}

/// The HTML section (empty for a run from one region).
pub(crate) fn html(out: &mut String, r: &Results) {
    let Some(list) = regions(r) else { return };
    out.push_str(
        "<h2>Regions</h2>\n<table><tr><th>Region</th><th>Workers</th><th>Requests</th>\
         <th>Rate</th><th>Errors</th><th>p50</th><th>p95</th><th>p99</th><th>Start skew</th>\
         <th>Cost</th></tr>\n",
    );
    for region in list {
        let c = cells(region, r.comparison.as_ref());
        let _ = write!(out, "<tr><td class=\"l\">{}</td>", escape(&c[0]));
        for cell in &c[1..] {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        let _ = writeln!(out, "<td>{}</td></tr>", escape(&cost(region)));
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use crate::results::{Distributed, RegionPhases};

    fn with_regions() -> Results {
        let mut r = fixtures::passing();
        let region = |name: &str, workers, contributed, requests| {
            let mut total = r.total.clone();
            total.requests = requests;
            RegionFigures {
                region: name.to_string(),
                workers,
                contributed,
                start_skew_ms: Some(12.0),
                cost_usd: Some(0.0123),
                phases: RegionPhases::default(),
                total,
                labels: Default::default(),
                duration_s: None,
                histograms: None,
            }
        };
        let regions = vec![
            region("us-east-1", 6, 6, 6000),
            region("eu-west-1", 4, 3, 3000),
        ];
        r.distributed = Some(Distributed {
            workers: 10,
            contributed: 9,
            regions,
            ..Distributed::default()
        });
        r
    }

    #[test]
    fn each_region_is_a_row_of_both_reports_and_a_lost_worker_shows() {
        let r = with_regions();
        let md = markdown(&r).expect("a table");
        assert_eq!(md.lines().count(), 4, "{md}");
        assert!(md.contains("| us-east-1 | 6 | 6,000 |"), "{md}");
        assert!(md.contains("| eu-west-1 | 3 of 4 | 3,000 |"), "{md}");
        assert!(md.contains("12 ms") && md.contains("0.0123"), "{md}");
        let summary = crate::report::markdown(&r);
        assert!(summary.contains("### By region"), "{summary}");
        let html = crate::report::html(&r);
        assert!(html.contains("<h2>Regions</h2>") && html.contains("3 of 4"));
    }

    #[test]
    fn against_a_baseline_from_several_regions_each_region_carries_its_change() {
        let new = with_regions();
        let mut base = with_regions();
        // The baseline loaded from us-east-1 only, 25% faster at p95 there.
        if let Some(d) = base.distributed.as_mut() {
            d.regions.truncate(1);
            d.regions[0].total.response_time_ms.p95 /= 1.25;
        }
        let mut r = new.clone();
        r.comparison = Some(crate::compare::compare(
            &base,
            &new,
            &crate::compare::Noise::default(),
        ));
        r.baseline = Some(crate::results::BaselineRef {
            run_id: base.run_id.clone(),
            branch: Some("main".into()),
            commit: None,
            started_at: base.started_at.clone(),
            source: "base.json".into(),
        });
        let md = markdown(&r).expect("a table");
        let us = md
            .lines()
            .find(|l| l.starts_with("| us-east-1 |"))
            .expect("a row");
        assert!(us.contains("(+25% 🔴)"), "{md}");
        let eu = md
            .lines()
            .find(|l| l.starts_with("| eu-west-1 |"))
            .expect("a row");
        assert!(!eu.contains("🔴") && !eu.contains("(+"), "{md}");
        assert!(
            md.contains(
                "Not compared per region: eu-west-1 (the baseline did not load from region eu-west-1)."
            ),
            "{md}"
        );
        // The full table and the headline name the figure as a threshold would.
        let table = crate::report::comparison_markdown(&r);
        assert!(
            table.contains("| p95{region:us-east-1} |") && table.contains("🔴 +25% |"),
            "{table}"
        );
        assert!(!table.contains("p95{region:eu-west-1}"), "{table}");
        assert!(
            table.contains("Not compared per region: eu-west-1"),
            "{table}"
        );
        let summary = crate::report::markdown(&r);
        assert!(summary.contains("🔴 p95{region:us-east-1}"), "{summary}");
        let html = crate::report::html(&r);
        assert!(html.contains("(+25% 🔴)"), "the HTML table too");
    }

    #[test]
    fn one_region_has_no_table() {
        let r = fixtures::passing();
        assert!(markdown(&r).is_none());
        assert!(!crate::report::markdown(&r).contains("By region"));
        let mut out = String::new();
        html(&mut out, &r);
        assert!(out.is_empty());
    }
}
