//! Figure-by-figure comparison of a run with its baseline, totals and per label.
//!
//! Load tests in CI are noisy: shared runners, cold caches, a neighbour's build. A change counts
//! (is marked better or worse) only when it exceeds BOTH floors of [`Noise`]: the relative one
//! (10% by default) and the absolute one of its unit (5 ms of latency, 0.5 percentage points of
//! error rate, 1/s of throughput). The relative floor keeps slow endpoints from flapping on a few
//! milliseconds; the absolute floor keeps fast ones from flapping on large percentages of
//! nothing (1 ms -> 1.3 ms is +30% and still noise).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::results::{Percentiles, RegionFigures, Results, Summary, TimelinePoint};
use crate::threshold::Unit;

/// The floors a change must exceed to count. Configurable with `--noise-pct` and `--noise-ms`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// Relative floor, in percent of the baseline's value.
    pub relative_pct: f64,
    /// Absolute floor of latency figures, in ms.
    pub latency_ms: f64,
    /// Absolute floor of the error rate, in percentage points.
    pub error_rate_pp: f64,
    /// Absolute floor of throughput, in requests per second.
    pub rps: f64,
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            relative_pct: 10.0,
            latency_ms: 5.0,
            error_rate_pp: 0.5,
            rps: 1.0,
        }
    }
}

impl Noise {
    fn absolute(&self, unit: Unit) -> f64 {
        match unit {
            Unit::Ms => self.latency_ms,
            Unit::Percent => self.error_rate_pp,
            Unit::PerSecond => self.rps,
            Unit::Count => 1.0,
        }
    }
}

/// Whether a change is beyond noise, and which way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within noise.
    Same,
    Worse,
    Better,
    /// One side has no value (a label new in this run, a latency of only failed requests).
    Unknown,
}

/// One figure in both runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `rps`, `error_rate`, `p50`, `p90`, `p95`, `p99`, `p99.9`, `max` (threshold metric names).
    pub metric: String,
    pub unit: Unit,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// `new - base`, in `unit`.
    pub delta: Option<f64>,
    /// `delta` in percent of `base`; None when `base` is 0.
    pub delta_pct: Option<f64>,
    pub verdict: Verdict,
}

/// The comparison as results.json stores it, so `loadgate report` can render it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub noise: Noise,
    pub total: Vec<Change>,
    /// Labels of the new run, in its order (a label only the baseline had is not compared).
    pub labels: IndexMap<String, Vec<Change>>,
    /// The baseline's timeline, for the HTML report's overlay.
    #[serde(default)]
    pub timeline: Vec<TimelinePoint>,
    /// A run from several regions: each of its regions, in its order, against the same region of
    /// the baseline (empty for a run from one region). Additive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionChanges>,
}

/// One region of the new run against the same region of the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionChanges {
    pub region: String,
    /// The region's totals, figure by figure (empty when the region was not compared).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub total: Vec<Change>,
    /// Why the region was not compared: the baseline did not load from it, or ran from one region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Where a change was measured: the run's total, a label, or a region's total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    Total,
    Label(&'a str),
    Region(&'a str),
}

impl Scope<'_> {
    /// The figure's name as a threshold writes it: `p95`, `checkout: p95`, `p95{region:eu-west-1}`.
    pub fn name(&self, metric: &str) -> String {
        match self {
            Scope::Total => metric.to_string(),
            Scope::Label(l) => format!("{l}: {metric}"),
            Scope::Region(r) => format!("{metric}{{region:{r}}}"),
        }
    }
}

impl Comparison {
    /// The change of `metric` in total (`label` None) or for a label.
    pub fn get(&self, label: Option<&str>, metric: &str) -> Option<&Change> {
        let changes = match label {
            Some(l) => self.labels.get(l)?,
            None => &self.total,
        };
        changes.iter().find(|c| c.metric == metric)
    }

    /// The change of `metric` in region `region`'s total.
    pub fn region(&self, region: &str, metric: &str) -> Option<&Change> {
        self.regions
            .iter()
            .find(|r| r.region == region)?
            .total
            .iter()
            .find(|c| c.metric == metric)
    }

    /// Every compared figure, totals, then labels, then regions.
    pub fn all(&self) -> impl Iterator<Item = (Scope<'_>, &Change)> {
        self.total
            .iter()
            .map(|c| (Scope::Total, c))
            .chain(
                self.labels
                    .iter()
                    .flat_map(|(l, cs)| cs.iter().map(move |c| (Scope::Label(l), c))),
            )
            .chain(
                self.regions
                    .iter()
                    .flat_map(|r| r.total.iter().map(move |c| (Scope::Region(&r.region), c))),
            )
    }

    /// Every change beyond noise, worse first, then totals, labels, regions.
    pub fn significant(&self) -> Vec<(Scope<'_>, &Change)> {
        let all = self.all();
        let mut found: Vec<_> = all
            .filter(|(_, c)| matches!(c.verdict, Verdict::Worse | Verdict::Better))
            .collect();
        found.sort_by_key(|(_, c)| c.verdict != Verdict::Worse);
        found
    }
}

/// Which direction is worse for a figure.
#[derive(Clone, Copy)]
enum Better {
    Lower,
    Higher,
}

/// Compares `new` with `base`, figure by figure.
pub fn compare(base: &Results, new: &Results, noise: &Noise) -> Comparison {
    Comparison {
        noise: *noise,
        total: changes(Some(&base.total), &new.total, noise),
        labels: new
            .labels
            .iter()
            .map(|(name, s)| (name.clone(), changes(base.labels.get(name), s, noise)))
            .collect(),
        timeline: base.timeline.clone(),
        regions: regions(base, new, noise),
    }
}

/// Each region of `new` against the same region of `base`. The regions' summaries are their
/// exact merges, so comparing them needs no histogram (a relative threshold does).
fn regions(base: &Results, new: &Results, noise: &Noise) -> Vec<RegionChanges> {
    let base_regions = region_list(base);
    region_list(new)
        .iter()
        .map(|region| {
            let name = &region.region;
            let found = base_regions.iter().find(|b| &b.region == name);
            let skipped = match found {
                Some(_) => None,
                None if base_regions.is_empty() => Some(format!(
                    "the baseline ran from one region: it has no figures of region {name}"
                )),
                None => Some(format!("the baseline did not load from region {name}")),
            };
            RegionChanges {
                region: name.clone(),
                total: found
                    .map_or_else(Vec::new, |b| changes(Some(&b.total), &region.total, noise)),
                skipped,
            }
        })
        .collect()
}

fn changes(base: Option<&Summary>, new: &Summary, noise: &Noise) -> Vec<Change> {
    let figures = |s: &Summary| -> Vec<(&'static str, Unit, Better, Option<f64>)> {
        let p = &s.response_time_ms;
        let lat = |v: f64| has_latency(p).then_some(v);
        vec![
            ("rps", Unit::PerSecond, Better::Higher, Some(s.rps)),
            (
                "error_rate",
                Unit::Percent,
                Better::Lower,
                (s.requests > 0).then_some(s.error_rate * 100.0),
            ),
            ("p50", Unit::Ms, Better::Lower, lat(p.p50)),
            ("p90", Unit::Ms, Better::Lower, lat(p.p90)),
            ("p95", Unit::Ms, Better::Lower, lat(p.p95)),
            ("p99", Unit::Ms, Better::Lower, lat(p.p99)),
            ("p99.9", Unit::Ms, Better::Lower, lat(p.p99_9)),
            ("max", Unit::Ms, Better::Lower, lat(p.max)),
        ]
    };
    let base_figures = base.map(figures);
    figures(new)
        .into_iter()
        .enumerate()
        .map(|(i, (metric, unit, better, new_value))| {
            let base_value = base_figures.as_ref().and_then(|b| b[i].3);
            change(metric, unit, better, base_value, new_value, noise)
        })
        .collect()
}

fn region_list(r: &Results) -> &[RegionFigures] {
    r.distributed
        .as_ref()
        .map_or(&[][..], |d| d.regions.as_slice())
}

/// The histograms record at least 1 µs, so only an empty one has a zero max.
fn has_latency(p: &Percentiles) -> bool {
    p.max > 0.0
}

fn change(
    metric: &str,
    unit: Unit,
    better: Better,
    base: Option<f64>,
    new: Option<f64>,
    noise: &Noise,
) -> Change {
    let (delta, delta_pct, verdict) = match (base, new) {
        (Some(b), Some(n)) => {
            let delta = n - b;
            let pct = (b != 0.0).then(|| delta / b * 100.0);
            // From zero, any change is infinitely large relatively: the absolute floor decides.
            let beyond_relative = pct.is_none_or(|p| p.abs() > noise.relative_pct);
            let beyond = delta != 0.0 && beyond_relative && delta.abs() > noise.absolute(unit);
            let verdict = match (beyond, better, delta > 0.0) {
                (false, _, _) => Verdict::Same,
                (true, Better::Lower, true) | (true, Better::Higher, false) => Verdict::Worse,
                (true, _, _) => Verdict::Better,
            };
            // Rounded for results.json: binary noise (17.999999999999993%) helps no reader.
            let round = |x: f64, scale: f64| (x * scale).round() / scale;
            (Some(round(delta, 1e3)), pct.map(|p| round(p, 1e2)), verdict)
        }
        _ => (None, None, Verdict::Unknown),
    };
    Change {
        metric: metric.to_string(),
        unit,
        base,
        new,
        delta,
        delta_pct,
        verdict,
    }
}

#[cfg(test)]
mod tests;
