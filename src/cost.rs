//! What a Fargate run costs: estimated before launch (for `loadgate validate` and the
//! `fargate.max_cost_usd` gate) and computed after it from each task's billed seconds.
//!
//! Fargate bills each task for its vCPU and memory per second, with a one-minute minimum, from
//! the moment the image pull starts until the task stops. A public IPv4 address (the stack's
//! public subnets give every task one) is billed on top. The first 20 GB of ephemeral storage
//! are free and loadgate never asks for more, so storage costs nothing.
//!
//! Prices are a built-in table (below), not a Pricing API call: a run must not need
//! `pricing:GetProducts` permission, and the estimate must work offline in `validate`.

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::{Error, Result};

/// When [`RATES`] were read from the source page; shown with every figure.
pub const RATES_DATE: &str = "2026-11-26";

/// The region whose rates stand in for one the table does not know.
pub const FALLBACK_REGION: &str = "us-east-1";

/// Time billed per task beyond the load itself: image pull, container start, waiting for the
/// start barrier, flushing the result. An allowance, not a measurement (none against real AWS
/// yet): a small static worker image pulls and starts in well under this, and the barrier
/// waits for the slowest of N tasks, so 45 s leaves room for large runs. Replace it with the
/// phase times the Fargate controller measures once real runs give them.
pub const OVERHEAD_SECONDS: f64 = 45.0;

/// Fargate's minimum billed time per task.
pub const MINIMUM_BILLED_SECONDS: f64 = 60.0;

/// Public IPv4 address, per address-hour, every region (AWS VPC pricing, since 2024-02-01).
pub const IPV4_HOUR_USD: f64 = 0.005;

/// Graviton (ARM64) tasks cost 20 % less than x86_64 in every region of the table.
const ARM_FACTOR: f64 = 0.8;

/// Spot rates change over time and AWS advertises "up to 70 % off"; on the table's date the
/// published Spot rates were 65-70 % below on-demand. An estimate that gates spending should
/// err high, so Spot is priced at 35 % of on-demand.
const SPOT_FACTOR: f64 = 0.35;

/// Linux x86_64 on-demand rates: (region, USD per vCPU-hour, USD per GB-hour).
///
/// Source: <https://aws.amazon.com/fargate/pricing/>, "Linux/X86" per region, compiled on
/// [`RATES_DATE`]. The us-east-1 figures (and its ARM figures, exactly 20 % less) were checked
/// against copies of that page dated 2026; the other regions' should be re-read from the page
/// when the table is next updated. ARM64 and Spot rates derive from these (see the factors).
const RATES: &[(&str, f64, f64)] = &[
    ("us-east-1", 0.04048, 0.004445),
    ("us-east-2", 0.04048, 0.004445),
    ("us-west-1", 0.04656, 0.00511),
    ("us-west-2", 0.04048, 0.004445),
    ("ca-central-1", 0.04456, 0.004865),
    ("sa-east-1", 0.0696, 0.0076),
    ("eu-west-1", 0.04048, 0.004445),
    ("eu-west-2", 0.04656, 0.00511),
    ("eu-west-3", 0.04696, 0.00515),
    ("eu-central-1", 0.04656, 0.00511),
    ("eu-north-1", 0.04445, 0.004865),
    ("ap-south-1", 0.04256, 0.00467),
    ("ap-southeast-1", 0.05056, 0.00553),
    ("ap-southeast-2", 0.04856, 0.00532),
    ("ap-northeast-1", 0.05056, 0.00553),
    ("ap-northeast-2", 0.04656, 0.00511),
];

/// The CPU architecture of the worker tasks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuArch {
    #[default]
    X86_64,
    Arm64,
}

impl CpuArch {
    pub fn as_str(self) -> &'static str {
        match self {
            CpuArch::X86_64 => "x86_64",
            CpuArch::Arm64 => "arm64",
        }
    }
}

/// The rates a figure was computed with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// The region whose rates these are: the run's, or [`FALLBACK_REGION`] when the table does
    /// not know the run's region. For the sum over several regions, every region's rates'
    /// name, joined by `, ` (the figures below are then the first one's; each region's share is
    /// in `assumptions`).
    pub region: String,
    pub arch: CpuArch,
    pub spot: bool,
    pub vcpu_hour_usd: f64,
    pub gb_hour_usd: f64,
    pub ipv4_hour_usd: f64,
    /// When the table was read ([`RATES_DATE`]).
    pub date: String,
}

/// A Fargate cost: an estimate before the run, or the actual figure after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// The whole run, in US dollars.
    pub usd: f64,
    pub tasks: u32,
    /// Per task.
    pub vcpu: f64,
    /// Per task, in GB (GiB, as Fargate bills them).
    pub memory_gb: f64,
    /// Summed over the tasks, each at least the one-minute minimum.
    pub billed_seconds: f64,
    pub rates: Rates,
    /// What the figure takes for granted, in words, for the reader.
    pub assumptions: Vec<String>,
}

/// results.json's `cost`: what was expected and, once the tasks stopped, what was billed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCost {
    pub estimate: CostEstimate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<CostEstimate>,
}

/// The rates of `region` (or of [`FALLBACK_REGION`], and whether it fell back).
pub fn rates(region: &str, arch: CpuArch, spot: bool) -> (Rates, bool) {
    let region = region.trim();
    let (found, vcpu, gb) = match RATES
        .iter()
        .find(|(r, _, _)| r.eq_ignore_ascii_case(region))
    {
        Some(&(r, vcpu, gb)) => (r, vcpu, gb),
        // RATES is a non-empty const whose first row is the fallback region.
        None => (FALLBACK_REGION, RATES[0].1, RATES[0].2),
    };
    let factor = match arch {
        CpuArch::X86_64 => 1.0,
        CpuArch::Arm64 => ARM_FACTOR,
    } * if spot { SPOT_FACTOR } else { 1.0 };
    let rates = Rates {
        region: found.to_string(),
        arch,
        spot,
        vcpu_hour_usd: vcpu * factor,
        gb_hour_usd: gb * factor,
        ipv4_hour_usd: IPV4_HOUR_USD,
        date: RATES_DATE.to_string(),
    };
    (rates, found != region)
}

/// The expected cost of running `plan` on `workers` tasks: each task billed for the load's
/// duration plus [`OVERHEAD_SECONDS`], at least a minute.
pub fn estimate(
    plan: &Plan,
    workers: u32,
    region: &str,
    arch: CpuArch,
    spot: bool,
) -> CostEstimate {
    let per_task = (plan.load.duration().as_secs_f64() + OVERHEAD_SECONDS).ceil();
    let seconds = vec![per_task; workers as usize];
    let mut cost = actual(plan, region, arch, spot, &seconds);
    cost.assumptions.insert(
        0,
        format!(
            "each task billed for the load ({}s) plus {}s of image pull, start barrier and \
             result upload",
            plan.load.duration().as_secs(),
            OVERHEAD_SECONDS
        ),
    );
    cost
}

/// The cost of tasks that ran for `task_seconds` each (billed from image pull to stop).
pub fn actual(
    plan: &Plan,
    region: &str,
    arch: CpuArch,
    spot: bool,
    task_seconds: &[f64],
) -> CostEstimate {
    let (rates, fell_back) = rates(region, arch, spot);
    let vcpu = f64::from(plan.fargate.cpu) / 1024.0;
    let memory_gb = f64::from(plan.fargate.memory) / 1024.0;
    // Per second, one-minute minimum; a negative or NaN time (a clock oddity) bills the minimum.
    let billed_seconds: f64 = task_seconds
        .iter()
        .map(|s| s.ceil().max(MINIMUM_BILLED_SECONDS))
        .sum();
    let hours = billed_seconds / 3600.0;
    let usd = hours * (vcpu * rates.vcpu_hour_usd + memory_gb * rates.gb_hour_usd)
        + hours * rates.ipv4_hour_usd;
    let mut assumptions = Vec::new();
    if fell_back && region.trim().is_empty() {
        assumptions.push(format!(
            "no rates: no region given (--region, AWS_REGION), {FALLBACK_REGION} \
             rates used"
        ));
    } else if fell_back {
        assumptions.push(format!(
            "no rates for region `{}`: {FALLBACK_REGION} rates used",
            region.trim()
        ));
    }
    assumptions.push("one public IPv4 address per task (the stack's public subnets)".to_string());
    if spot {
        assumptions.push(format!(
            "Spot priced at {:.0} % of on-demand: Spot rates vary, this errs high",
            SPOT_FACTOR * 100.0
        ));
    }
    assumptions.push(
        "ephemeral storage: the free 20 GB only; data transfer and logs not included".to_string(),
    );
    CostEstimate {
        usd,
        tasks: task_seconds.len() as u32,
        vcpu,
        memory_gb,
        billed_seconds,
        rates,
        assumptions,
    }
}

/// The estimate of every region of a run from several regions at its own rates, in the order
/// given, and their sum (what `max_cost_usd` checks). `loadgate validate` and the Fargate
/// controller share it, so what validate shows is what a run refuses.
pub fn estimate_regions(
    plan: &Plan,
    regions: &[(String, u32)],
    arch: CpuArch,
) -> (CostEstimate, Vec<CostEstimate>) {
    let each: Vec<CostEstimate> = regions
        .iter()
        .map(|(r, n)| estimate(plan, *n, r, arch, plan.fargate.spot))
        .collect();
    (sum_costs(&each, regions), each)
}

/// One figure for several regions: sums, the first region's rates as the shown rates (named
/// after every region, so a breakdown does not claim one region's rates for all), and an
/// assumption that lists each region's share. `each` and `regions` are in the same order and
/// not empty.
pub fn sum_costs(each: &[CostEstimate], regions: &[(String, u32)]) -> CostEstimate {
    let mut total = each[0].clone();
    total.usd = each.iter().map(|c| c.usd).sum();
    total.tasks = each.iter().map(|c| c.tasks).sum();
    total.billed_seconds = each.iter().map(|c| c.billed_seconds).sum();
    if each.len() > 1 {
        let mut names: Vec<&str> = Vec::new();
        for c in each {
            // Regions the table does not know share the fallback's rates: named once.
            if !names.contains(&c.rates.region.as_str()) {
                names.push(&c.rates.region);
            }
        }
        total.rates.region = names.join(", ");
    }
    let parts: Vec<String> = regions
        .iter()
        .zip(each)
        .map(|((r, n), c)| format!("{r} {} ({n} tasks)", usd(c.usd)))
        .collect();
    total.assumptions.insert(
        0,
        format!(
            "{} regions, each at its own rates: {}",
            regions.len(),
            parts.join(", ")
        ),
    );
    total
}

/// Refuses a run whose estimate exceeds the scenario's `fargate.max_cost_usd` (exit 2). The
/// Fargate controller calls this before it launches anything.
pub fn check_budget(plan: &Plan, estimate: &CostEstimate) -> Result<()> {
    let Some(max) = plan.fargate.max_cost_usd else {
        return Ok(());
    };
    if estimate.usd <= max {
        return Ok(());
    }
    Err(Error::input(format!(
        "{}: the run's estimated Fargate cost {} is above fargate.max_cost_usd {}\n  \
         estimate: {}\n  \
         help: use fewer workers, a smaller fargate.cpu/memory, a shorter load, or \
         fargate.spot: true; or raise fargate.max_cost_usd if this cost is intended",
        plan.source,
        usd(estimate.usd),
        usd(max),
        breakdown(estimate)
    )))
}

/// `$0.0123`, `$1.23`, `$1,234.50`: cents for sums a person budgets, four decimals for the
/// small figures of short runs (so they do not all read `$0.00`).
pub fn usd(value: f64) -> String {
    if !value.is_finite() {
        return "$?".to_string();
    }
    if value.abs() < 1.0 {
        return format!("${value:.4}");
    }
    let cents = (value * 100.0).round() as i64;
    let (whole, frac) = (cents / 100, (cents % 100).abs());
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if whole < 0 { "-" } else { "" };
    format!("{sign}${grouped}.{frac:02}")
}

/// `4 tasks × 1 vCPU, 2 GB, 105 s billed each, on-demand x86_64 at us-east-1 rates of 2026-11-26`.
pub fn breakdown(c: &CostEstimate) -> String {
    let each = if c.tasks == 0 {
        0.0
    } else {
        c.billed_seconds / f64::from(c.tasks)
    };
    let noun = if c.tasks == 1 { "task" } else { "tasks" };
    format!(
        "{} {noun} × {} vCPU, {} GB, {} s billed each, {} {} at {} rates of {}",
        c.tasks,
        trim(c.vcpu),
        trim(c.memory_gb),
        each.round(),
        if c.rates.spot { "Spot" } else { "on-demand" },
        c.rates.arch.as_str(),
        c.rates.region,
        c.rates.date
    )
}

fn trim(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;
