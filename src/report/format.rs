//! Number formatting for people: reports, PR comments, check runs.
//!
//! Figures carry three significant digits, the precision of the HDR histograms they come from,
//! so a report never claims more precision than was measured. Trailing zeros are dropped
//! ("12 ms", not "12.0 ms"): the tables stay compact in a PR comment.

use crate::threshold::{Op, Unit};

/// A latency in milliseconds: "0.123 ms", "12.3 ms", "123 ms", then seconds: "1.23 s", "1,234 s".
pub fn ms(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    let text = sig3(value);
    // Decide on the rounded figure, so that 999.6 ms becomes "1 s" and not "1000 ms".
    if text.parse::<f64>().is_ok_and(|v| v.abs() < 1000.0) {
        return format!("{} ms", group(&text));
    }
    let secs = value / 1000.0;
    if secs.abs() < 1000.0 {
        format!("{} s", sig3(secs))
    } else {
        format!("{} s", group(&format!("{secs:.0}")))
    }
}

/// A count with thousands separators: "123,456".
pub fn count(n: u64) -> String {
    group(&n.to_string())
}

/// A count that arrived as a float (threshold limits): "1,000", or "2.5" when it is not whole.
pub fn count_f64(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        group(&format!("{value:.0}"))
    } else {
        group(&trim_zeros(&format!("{value:.3}")))
    }
}

/// A fraction (0 to 1) as a percentage: 0.0123 -> "1.23%".
pub fn percent(fraction: f64) -> String {
    percent_value(fraction * 100.0)
}

/// A value already in percent: 1.23 -> "1.23%".
pub fn percent_value(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    format!("{}%", sig3(value))
}

/// A rate: "411.2/s", "12,345.6/s". One decimal: rates are limits users write by hand.
pub fn per_second(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    if value != 0.0 && value.abs() < 0.1 {
        return format!("{}/s", sig3(value));
    }
    format!("{}/s", group(&trim_zeros(&format!("{value:.1}"))))
}

/// Bytes in SI units (1000 base, as network throughput is counted): "999 B", "1.23 kB", "45.6 MB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while unit + 1 < UNITS.len() && sig3(value).parse::<f64>().is_ok_and(|v| v >= 1000.0) {
        value /= 1000.0;
        unit += 1;
    }
    format!("{} {}", group(&sig3(value)), UNITS[unit])
}

/// A run's length in seconds: "12.3 s", "5m 02s", "1h 00m 05s".
pub fn duration_s(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "n/a".to_string();
    }
    if secs < 60.0 {
        return format!("{} s", trim_zeros(&format!("{secs:.1}")));
    }
    let whole = secs.round() as u64;
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

/// A configured duration in milliseconds, as a user writes it: "500ms", "30s", "5m", "1m30s".
pub fn duration_ms_compact(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    if ms % 1000 != 0 {
        return if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{}s", trim_zeros(&format!("{:.3}", ms as f64 / 1000.0)))
        };
    }
    let secs = ms / 1000;
    let parts = [(secs / 3600, "h"), (secs / 60 % 60, "m"), (secs % 60, "s")];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect()
}

/// A threshold figure in its unit: ms latency, percent, rate or count.
pub fn in_unit(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms => ms(value),
        Unit::Percent => percent_value(value),
        Unit::PerSecond => per_second(value),
        Unit::Count => count_f64(value),
    }
}

/// A threshold's limit with its operator: "< 300 ms".
pub fn limit(op: Op, value: f64, unit: Unit) -> String {
    format!("{} {}", op_str(op), in_unit(value, unit))
}

pub fn op_str(op: Op) -> &'static str {
    match op {
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

/// Three significant digits, trailing zeros dropped; whole numbers past 999 keep every digit.
fn sig3(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return "0".to_string();
    }
    let text = format!("{:.*}", decimals(value), value);
    // Rounding can add a digit (9.996 -> "10.00"): format again at the new magnitude.
    let text = match text.parse::<f64>() {
        Ok(rounded) if decimals(rounded) < decimals(value) => {
            format!("{:.*}", decimals(rounded), rounded)
        }
        _ => text,
    };
    trim_zeros(&text)
}

/// Decimals that leave three significant digits.
fn decimals(value: f64) -> usize {
    let magnitude = value.abs().log10().floor() as i32;
    (2 - magnitude).clamp(0, 12) as usize
}

fn trim_zeros(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text.to_string()
    }
}

/// Thousands separators on the integer part of a plain decimal number.
fn group(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(text.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_keeps_three_significant_digits() {
        assert_eq!(ms(0.0), "0 ms");
        assert_eq!(ms(0.001), "0.001 ms");
        assert_eq!(ms(0.1234), "0.123 ms");
        assert_eq!(ms(1.0), "1 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(12.0), "12 ms");
        assert_eq!(ms(412.3), "412 ms");
        assert_eq!(ms(9.996), "10 ms");
        assert_eq!(ms(999.6), "1 s");
        assert_eq!(ms(1234.0), "1.23 s");
        assert_eq!(ms(61_000.0), "61 s");
        assert_eq!(ms(1_234_567.0), "1,235 s");
        assert_eq!(ms(f64::NAN), "n/a");
    }

    #[test]
    fn counts_and_rates_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(123_456_789), "123,456,789");
        assert_eq!(count_f64(150.0), "150");
        assert_eq!(count_f64(2.5), "2.5");
        assert_eq!(per_second(411.23), "411.2/s");
        assert_eq!(per_second(12_345.0), "12,345/s");
        assert_eq!(per_second(0.0), "0/s");
        assert_eq!(per_second(0.0123), "0.0123/s");
    }

    #[test]
    fn percentages_from_fractions_and_values() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.0001), "0.01%");
        assert_eq!(percent(0.012345), "1.23%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent_value(0.5), "0.5%");
        assert_eq!(percent_value(12.34), "12.3%");
    }

    #[test]
    fn bytes_use_si_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1234), "1.23 kB");
        assert_eq!(bytes(999_999), "1 MB");
        assert_eq!(bytes(45_600_000), "45.6 MB");
        assert_eq!(bytes(u64::MAX), "18,447 PB");
    }

    #[test]
    fn durations_read_like_a_clock_or_a_scenario() {
        assert_eq!(duration_s(12.34), "12.3 s");
        assert_eq!(duration_s(300.2), "5m 00s");
        assert_eq!(duration_s(3605.0), "1h 00m 05s");
        assert_eq!(duration_s(-1.0), "n/a");
        assert_eq!(duration_ms_compact(0), "0s");
        assert_eq!(duration_ms_compact(500), "500ms");
        assert_eq!(duration_ms_compact(1500), "1.5s");
        assert_eq!(duration_ms_compact(30_000), "30s");
        assert_eq!(duration_ms_compact(90_000), "1m30s");
        assert_eq!(duration_ms_compact(3_600_000), "1h");
    }

    #[test]
    fn limits_carry_operator_and_unit() {
        assert_eq!(limit(Op::Lt, 300.0, Unit::Ms), "< 300 ms");
        assert_eq!(limit(Op::Lt, 1000.0, Unit::Ms), "< 1 s");
        assert_eq!(limit(Op::Le, 1.0, Unit::Percent), "<= 1%");
        assert_eq!(limit(Op::Gt, 150.0, Unit::PerSecond), "> 150/s");
        assert_eq!(limit(Op::Ge, 10.0, Unit::Count), ">= 10");
    }
}
