//! What a threshold's limit may be: values a run can measure, in each unit.

use super::Unit;

/// Limits a run can measure, per unit: `p95 < 1e308ms` or `requests < 1e300` can never decide
/// anything (and print as 400 digits), and `1e-320ms` is below the histograms' microsecond.
pub(super) fn measurable(limit: f64, written: f64, unit: Unit, number: &str) -> Result<(), String> {
    let (smallest, largest, what) = match unit {
        Unit::Ms => (
            0.001,
            86_400_000.0,
            "a time from 1us to 24h (the histograms count microseconds, and no request is measured for longer than a day)",
        ),
        Unit::Percent => (1e-9, 100.0, "a percentage from 0.000000001% to 100%"),
        Unit::PerSecond => (1e-6, 1e9, "a rate up to 1,000,000,000/s"),
        Unit::Count => (1.0, 1e15, "a count up to 1,000,000,000,000,000"),
    };
    // `written`: a limit written above zero that rounds to zero in its unit is too small too.
    if limit > largest || (written > 0.0 && limit < smallest) {
        return Err(format!(
            "`{number}` is beyond what a run can measure: expected {what}, or 0"
        ));
    }
    Ok(())
}
