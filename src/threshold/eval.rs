//! Checking thresholds against a merged aggregate.

use std::time::Duration;

use crate::plan::ThresholdPlan;
use crate::results::ThresholdResult;
use crate::stats::Aggregate;

pub fn evaluate(_thresholds: &[ThresholdPlan], _agg: &Aggregate) -> Vec<ThresholdResult> {
    Vec::new()
}

pub fn breached_aborts(
    _thresholds: &[ThresholdPlan],
    _agg: &Aggregate,
    _elapsed: Duration,
) -> Option<ThresholdResult> {
    None
}
