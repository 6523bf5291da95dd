//! Durations (`1m30s`) and rates (`1000/s`) as written in a scenario file.
//!
//! Both are strings in YAML so the unit is always visible to the reader; the parse errors are
//! plain messages here and get a position from the caller.

use std::time::Duration;

/// Longest duration accepted anywhere in a scenario: keeps arithmetic on durations far from
/// overflow and catches typos such as `5000h`.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Why a duration or rate is not valid, with an optional hint for the `help:` line.
#[derive(Debug, PartialEq)]
pub(crate) struct ValueError {
    pub message: String,
    pub help: Option<String>,
}

impl ValueError {
    fn new(message: impl Into<String>, help: impl Into<Option<String>>) -> Self {
        ValueError {
            message: message.into(),
            help: help.into(),
        }
    }
}

const DURATION_HELP: &str =
    "write a number with a unit: `250us`, `500ms`, `30s`, `5m`, `1h`, or combined as `1m30s`";

/// Parses `10s`, `500ms`, `250us`, `5m`, `1h`, `1m30s`, `1.5s`. A bare `0` is accepted because
/// zero needs no unit; any other bare number is refused rather than guessed.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, ValueError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ValueError::new(
            "a duration cannot be empty",
            DURATION_HELP.to_string(),
        ));
    }
    if text.starts_with('-') {
        return Err(ValueError::new(
            format!("a duration cannot be negative (`{text}`)"),
            DURATION_HELP.to_string(),
        ));
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if let Ok(number) = text.parse::<f64>() {
        if number.is_finite() {
            return Err(ValueError::new(
                "a duration needs a unit, e.g. `30s`",
                format!("did you mean `{text}s`?"),
            ));
        }
    }
    let mut seconds = 0.0_f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let value: f64 = number.parse().map_err(|_| {
            ValueError::new(
                format!("`{text}` is not a duration"),
                DURATION_HELP.to_string(),
            )
        })?;
        let scale = match unit.trim() {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(ValueError::new(
                    format!("`{text}` is missing a unit after `{number}`"),
                    DURATION_HELP.to_string(),
                ))
            }
            other => {
                return Err(ValueError::new(
                    format!("unknown duration unit `{other}` in `{text}`"),
                    DURATION_HELP.to_string(),
                ))
            }
        };
        seconds += value * scale;
        rest = next;
    }
    if !seconds.is_finite() || seconds > MAX_SECONDS {
        return Err(ValueError::new(
            format!("`{text}` is longer than the 7 days a run may last"),
            None,
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

const RATE_HELP: &str = "write arrivals per second, minute or hour: `1000/s`, `60/m`, `500/h` (a bare number is per second)";

/// Parses an arrival rate into arrivals per second: `1000/s`, `60/m`, `3600/h`, or a bare number
/// (per second).
pub(crate) fn parse_rate(text: &str) -> Result<f64, ValueError> {
    let text = text.trim();
    let (number, per) = match text.split_once('/') {
        Some((n, unit)) => (n.trim(), unit.trim()),
        None => (text, "s"),
    };
    let scale = match per {
        "s" => 1.0,
        "m" => 1.0 / 60.0,
        "h" => 1.0 / 3600.0,
        other => {
            return Err(ValueError::new(
                format!("unknown rate unit `/{other}` in `{text}`"),
                RATE_HELP.to_string(),
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| ValueError::new(format!("`{text}` is not a rate"), RATE_HELP.to_string()))?;
    let per_second = value * scale;
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(ValueError::new(
            format!("a rate must be greater than zero (`{text}`)"),
            RATE_HELP.to_string(),
        ));
    }
    Ok(per_second)
}

/// `90s` -> `1m30s`: how describe() and messages print durations.
pub(crate) fn format_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms == 0 {
        return if d.is_zero() {
            "0s".to_string()
        } else {
            format!("{}us", d.as_micros())
        };
    }
    if total_ms % 1000 != 0 {
        return if total_ms < 1000 {
            format!("{total_ms}ms")
        } else {
            format!("{:.3}s", d.as_secs_f64())
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units() {
        let cases = [
            ("10s", Duration::from_secs(10)),
            ("500ms", Duration::from_millis(500)),
            ("250us", Duration::from_micros(250)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5s", Duration::from_millis(1500)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bare_numbers_need_a_unit() {
        let err = parse_duration("30").unwrap_err();
        assert_eq!(err.message, "a duration needs a unit, e.g. `30s`");
        assert_eq!(err.help.as_deref(), Some("did you mean `30s`?"));
    }

    #[test]
    fn bad_durations_are_refused() {
        for text in [
            "-5s", "NaN", "nan", "5sec", "s", "", "1..2s", "inf", "1e400s", "9999h",
        ] {
            assert!(parse_duration(text).is_err(), "{text} should be refused");
        }
    }

    #[test]
    fn rates_in_any_unit_become_per_second() {
        assert_eq!(parse_rate("1000/s"), Ok(1000.0));
        assert_eq!(parse_rate("60/m"), Ok(1.0));
        assert_eq!(parse_rate("7200/h"), Ok(2.0));
        assert_eq!(parse_rate("250"), Ok(250.0));
        assert_eq!(parse_rate("2.5 / s"), Ok(2.5));
        for text in ["0/s", "-1/s", "5/ms", "abc", "NaN", "/s"] {
            assert!(parse_rate(text).is_err(), "{text} should be refused");
        }
    }

    #[test]
    fn durations_print_compactly() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_micros(250)), "250us");
    }
}
