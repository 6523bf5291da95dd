//! Relative thresholds: `p95 < baseline + 10%`, `rps > baseline - 5%`, `error_rate <= baseline`,
//! `p99 < baseline + 20ms`. The limit is the baseline run's value of the same metric, moved by
//! a margin: a percentage of that value, or an amount in the metric's own unit.

use serde::{Deserialize, Serialize};

/// How far from the baseline's value the limit lies. Signed: `baseline - 5%` is `Percent(-5.0)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Margin {
    /// A percentage of the baseline's value: `baseline + 10%`.
    Percent(f64),
    /// An amount in the metric's unit (ms, percentage points of error rate, /s, count):
    /// `baseline + 20ms`, and plain `baseline` is `Absolute(0.0)`.
    Absolute(f64),
}

impl Margin {
    /// The limit this margin sets when the baseline's value is `baseline`.
    pub fn limit(self, baseline: f64) -> f64 {
        match self {
            Margin::Percent(p) => baseline * (1.0 + p / 100.0),
            Margin::Absolute(a) => baseline + a,
        }
    }
}

/// The keyword that starts a relative limit.
pub(super) const KEYWORD: &str = "baseline";

/// True when `rest` (after the operator) starts with the keyword as a whole word.
pub(super) fn starts_relative(rest: &str) -> bool {
    rest.strip_prefix(KEYWORD)
        .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_move_the_baseline() {
        assert!((Margin::Percent(10.0).limit(200.0) - 220.0).abs() < 1e-9);
        assert_eq!(Margin::Percent(-5.0).limit(100.0), 95.0);
        assert_eq!(Margin::Absolute(20.0).limit(180.0), 200.0);
        assert_eq!(Margin::Absolute(0.0).limit(1.5), 1.5);
    }

    #[test]
    fn the_keyword_is_a_whole_word() {
        assert!(starts_relative("baseline"));
        assert!(starts_relative("baseline + 10%"));
        assert!(starts_relative("baseline+10%"));
        assert!(!starts_relative("baselines"));
        assert!(!starts_relative("300ms"));
    }
}
