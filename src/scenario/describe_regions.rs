//! `loadgate validate` for a run from several regions: each region's workers, their share of the
//! load and its cost at the region's own rates, then the sum that `fargate.max_cost_usd` is
//! checked against (as the Fargate controller checks it).

use std::fmt::Write;

use super::describe::{budget_words, share_groups};
use crate::cost::{self, CostEstimate};
use crate::plan::Plan;

/// `regions` (home first, as a run orders them), `each` their estimates in the same order, and
/// `total` their sum ([`cost::estimate_regions`]).
pub fn regions_words(
    plan: &Plan,
    regions: &[(String, u32)],
    each: &[CostEstimate],
    total: &CostEstimate,
) -> String {
    let workers: usize = regions.iter().map(|(_, n)| *n as usize).sum();
    let noun = if regions.len() == 1 {
        "region"
    } else {
        "regions"
    };
    let mut out = format!(
        "regions     {} {noun}, {workers} workers in all; the load is divided among all of them\n",
        regions.len()
    );
    let width = regions.iter().map(|(r, _)| r.len()).max().unwrap_or(0);
    let mut first = 0;
    for ((name, n), c) in regions.iter().zip(each) {
        let n = *n as usize;
        let noun = if n == 1 { "worker" } else { "workers" };
        let _ = write!(
            out,
            "  {name:<width$}  {n} {noun}: {}; about {} at {} rates",
            share_groups(&plan.load, first..first + n, workers),
            cost::usd(c.usd),
            c.rates.region
        );
        if &c.rates.region != name {
            let _ = write!(out, " (the table has none for {name})");
        }
        out.push('\n');
        first += n;
    }
    let _ = writeln!(
        out,
        "cost        about {} on Fargate in all: {}{}",
        cost::usd(total.usd),
        cost::breakdown(total),
        budget_words(plan, total.usd)
    );
    out
}
