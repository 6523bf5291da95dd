//! The threshold parser: `[LABEL ":"] METRIC OP VALUE`, whitespace optional between tokens.
//!
//! Offsets in errors are byte offsets into the expression as given (untrimmed), so
//! [`super::render_error`] can put the caret under the offending character.

use super::bounds::measurable;
use super::foreign::{k6_metric, taurus_criterion, taurus_metric, taurus_trailer};
use super::relative::{self, Margin};
use super::{Metric, Op, ParseError, Series, Stat, Threshold, Unit};

const METRICS_HELP: &str =
    "expected a response-time metric (p50, p90, p95, p99, p99.9, p(N), avg, \
     min, max, median; prefix ttfb_ or connect_ for time to first byte or connect time) or one of \
     error_rate, errors, requests, rps, dropped";

const OPS_HELP: &str = "expected one of <, <=, >, >=";

/// Names offered as "did you mean" suggestions.
const KNOWN_METRICS: &[&str] = &[
    "p50",
    "p90",
    "p95",
    "p99",
    "p99.9",
    "avg",
    "min",
    "max",
    "median",
    "ttfb_p50",
    "ttfb_p90",
    "ttfb_p95",
    "ttfb_p99",
    "ttfb_avg",
    "ttfb_min",
    "ttfb_max",
    "ttfb_median",
    "connect_p50",
    "connect_p95",
    "connect_p99",
    "connect_avg",
    "connect_max",
    "error_rate",
    "errors",
    "requests",
    "rps",
    "dropped",
];

/// Parses one threshold expression.
///
/// The label is everything before the **last** `:` that is followed (after optional whitespace)
/// by a metric name, trimmed. So `GET /a:b: p95 < 300ms` has the label `GET /a:b`, and
/// `GET /a:p95 < 300ms` the label `GET /a`. When no `:` is followed by a metric name and the
/// expression does not start with one, the last `:` before the operator still ends the label, so
/// that a misspelt metric after a label is reported as such (`checkout: pp95 < 3` -> did you mean
/// `p95`?).
pub fn parse(expr: &str) -> Result<Threshold, ParseError> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(error(
            0,
            "empty threshold: expected `[LABEL:] METRIC OP VALUE`, e.g. `p95 < 300ms`",
        ));
    }
    let (label, body) = split_label(expr)?;
    if let Some(message) = label.as_deref().and_then(|l| k6_metric(l, &expr[body..])) {
        let at = expr.len() - expr.trim_start().len();
        return Err(error(at, message));
    }
    let mut c = Cursor {
        src: expr,
        pos: body,
    };
    c.skip_ws();
    let name_at = c.pos;
    let name = metric_token(&mut c)?;
    let metric = metric(expr, name_at, name)?;
    let (taken, region) = super::region::tag(c.rest(), c.pos)?;
    c.pos += taken;
    c.skip_ws();
    let op = op(&mut c, name)?;
    c.skip_ws();
    let value_at = c.pos;
    let (limit, unit, relative) = if relative::starts_relative(c.rest()) {
        let margin = relative_limit(&mut c, metric, name, op)?;
        (0.0, metric.unit(), Some(margin))
    } else {
        let (limit, unit) = value(&mut c, metric, name, op)?;
        (limit, unit, None)
    };
    c.skip_ws();
    if !c.at_end() {
        return Err(trailing(&c, name, op, &expr[value_at..c.pos]));
    }
    Ok(Threshold {
        expr: trimmed.to_string(),
        label,
        region,
        metric,
        op,
        limit,
        unit,
        relative,
    })
}

fn error(offset: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        offset,
        message: message.into(),
    }
}

struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn skip_ws(&mut self) {
        self.take_while(char::is_whitespace);
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !f(c))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.src[start..self.pos]
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Scans a metric name: letters, digits, `_`, `.`, `-` (so Taurus's `avg-rt` is one token), and a
/// parenthesised part for k6's `p(95)`.
fn metric_token<'a>(c: &mut Cursor<'a>) -> Result<&'a str, ParseError> {
    let start = c.pos;
    c.take_while(is_name_char);
    if c.peek() == Some('(') {
        match c.rest().find(')') {
            Some(close) => c.pos += close + 1,
            None => {
                return Err(error(
                    c.pos,
                    "unclosed `(`: a percentile is written `p(95)`",
                ))
            }
        }
    }
    Ok(&c.src[start..c.pos])
}

/// A name that is not a metric: unknown, or a percentile out of range (which still counts as a
/// metric name when looking for the label's `:`).
enum NameError {
    Unknown,
    Invalid(String),
}

fn metric_from_name(name: &str) -> Result<Metric, NameError> {
    match name {
        "error_rate" => return Ok(Metric::ErrorRate),
        "errors" => return Ok(Metric::Errors),
        "requests" => return Ok(Metric::Requests),
        "rps" => return Ok(Metric::Rps),
        "dropped" => return Ok(Metric::Dropped),
        _ => {}
    }
    let (series, stat) = if let Some(s) = name.strip_prefix("ttfb_") {
        (Series::Ttfb, s)
    } else if let Some(s) = name.strip_prefix("connect_") {
        (Series::Connect, s)
    } else {
        (Series::ResponseTime, name)
    };
    let stat = match stat {
        "avg" => Stat::Avg,
        "min" => Stat::Min,
        "max" => Stat::Max,
        "median" => Stat::Percentile(50.0),
        _ => Stat::Percentile(percentile(stat)?),
    };
    Ok(Metric::Latency { series, stat })
}

/// `p95`, `p99.9`, `p(99.99)` -> the percentile, in (0, 100].
fn percentile(stat: &str) -> Result<f64, NameError> {
    let digits = stat.strip_prefix('p').ok_or(NameError::Unknown)?;
    let digits = match digits.strip_prefix('(') {
        Some(inner) => inner.strip_suffix(')').ok_or(NameError::Unknown)?.trim(),
        None => digits,
    };
    if !is_plain_number(digits) {
        return Err(NameError::Unknown);
    }
    match digits.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(NameError::Invalid(format!(
            "percentile `{stat}` is out of range: it must be above 0 and at most 100"
        ))),
    }
}

/// Digits with an optional fraction: `95`, `99.9`. No sign, no exponent.
fn is_plain_number(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn metric(expr: &str, at: usize, name: &str) -> Result<Metric, ParseError> {
    if name.is_empty() {
        let found = expr[at..]
            .chars()
            .next()
            .map_or_else(|| "nothing".to_string(), |ch| format!("`{ch}`"));
        return Err(error(
            at,
            format!("missing metric, found {found}: {METRICS_HELP}"),
        ));
    }
    match metric_from_name(name) {
        Ok(m) => Ok(m),
        Err(NameError::Invalid(message)) => Err(error(at, message)),
        Err(NameError::Unknown) => {
            if let Some(message) = taurus_criterion(name, &expr[at + name.len()..]) {
                return Err(error(at, message));
            }
            let hint = suggestion(name).map_or(String::new(), |s| format!(" did you mean `{s}`?"));
            Err(error(
                at,
                format!("unknown metric `{name}`:{hint} {METRICS_HELP}"),
            ))
        }
    }
}

fn suggestion(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    KNOWN_METRICS
        .iter()
        .map(|m| (strsim::damerau_levenshtein(&lower, m), *m))
        .filter(|&(d, m)| d <= 2 && d < m.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, m)| m)
}

/// Finds the label (see [`parse`]) and where the metric starts.
fn split_label(expr: &str) -> Result<(Option<String>, usize), ParseError> {
    let starts_with_metric = |text: &str| {
        let text = text.trim_start();
        let mut c = Cursor { src: text, pos: 0 };
        match metric_token(&mut c) {
            Ok(name) if !name.is_empty() => {
                !matches!(metric_from_name(name), Err(NameError::Unknown)) || taurus_metric(name)
            }
            _ => false,
        }
    };
    let colons = || {
        expr.char_indices()
            .filter(|&(_, ch)| ch == ':')
            .map(|(i, _)| i)
    };
    let colon = colons()
        .rfind(|&i| starts_with_metric(&expr[i + 1..]))
        .or_else(|| {
            if starts_with_metric(expr) {
                return None;
            }
            let op_at = expr.find(['<', '>', '=', '!']).unwrap_or(expr.len());
            colons().rfind(|&i| i < op_at)
        });
    let Some(colon) = colon else {
        return Ok((None, 0));
    };
    let label = expr[..colon].trim();
    if label.is_empty() {
        return Err(error(
            colon,
            "empty label before `:`: write `NAME: METRIC OP VALUE`, or leave out the `:` for a \
             threshold on all requests",
        ));
    }
    Ok((Some(label.to_string()), colon + 1))
}

fn op(c: &mut Cursor<'_>, name: &str) -> Result<Op, ParseError> {
    let at = c.pos;
    let rest = c.rest();
    for (text, op) in [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)] {
        if rest.starts_with(text) {
            c.pos += text.len();
            return Ok(op);
        }
    }
    let wrong = [
        ("=<", "`=<` is not an operator: did you mean `<=`?"),
        ("=>", "`=>` is not an operator: did you mean `>=`?"),
        ("≤", "`≤` is not an operator: write `<=`"),
        ("≥", "`≥` is not an operator: write `>=`"),
        (
            "==",
            "`==` is not a threshold operator (a threshold is a bound, not a value): ",
        ),
        (
            "!=",
            "`!=` is not a threshold operator (a threshold is a bound, not a value): ",
        ),
        (
            "=",
            "`=` is not a threshold operator (a threshold is a bound, not a value): ",
        ),
    ];
    for (text, message) in wrong {
        if rest.starts_with(text) {
            let message = if message.ends_with(": ") {
                format!("{message}{OPS_HELP}")
            } else {
                message.to_string()
            };
            return Err(error(at, message));
        }
    }
    match c.peek() {
        None => Err(error(
            at,
            format!("missing operator after `{name}`: {OPS_HELP}"),
        )),
        Some(ch) => Err(error(
            at,
            format!("found `{ch}` where the operator after `{name}` belongs: {OPS_HELP}"),
        )),
    }
}

/// The limit, converted to the metric's unit.
fn value(
    c: &mut Cursor<'_>,
    metric: Metric,
    name: &str,
    op: Op,
) -> Result<(f64, Unit), ParseError> {
    let at = c.pos;
    let example = example_value(metric);
    let Some(first) = c.peek() else {
        return Err(error(
            at,
            format!("missing value after `{op}`: expected a number, e.g. `{name} {op} {example}`"),
        ));
    };
    if first == '-' {
        return Err(error(at, "the limit cannot be negative"));
    }
    let number = number_token(c);
    if number.is_empty() {
        let word = c.take_while(|ch| ch.is_alphanumeric() || ch == '_');
        let lower = word.to_ascii_lowercase();
        let message = if matches!(lower.as_str(), "nan" | "inf" | "infinity") {
            format!("`{word}` is not a usable limit: expected a finite number, e.g. `{example}`")
        } else {
            let found = if word.is_empty() {
                first.to_string()
            } else {
                word.to_string()
            };
            format!("expected a number after `{op}`, found `{found}`, e.g. `{name} {op} {example}`")
        };
        return Err(error(at, message));
    }
    let n: f64 = match number.parse() {
        Ok(n) if f64::is_finite(n) => n,
        _ => return Err(error(at, format!("`{number}` is too large to be a limit"))),
    };
    c.skip_ws();
    let unit_at = c.pos;
    let unit = unit_token(c);
    let (limit, unit) =
        convert(metric, name, n, number, unit).map_err(|message| error(unit_at, message))?;
    measurable(limit, n, unit, number).map_err(|message| error(at, message))?;
    Ok((limit, unit))
}

/// `baseline`, then optionally `+` or `-` and an amount: `N%` of the baseline's value, or N in
/// the metric's unit (`20ms`, `10/s`, a count; for `error_rate` a fraction or `Npp`, percentage
/// points). `%` is always relative, also for `error_rate`, so one sign means one thing.
fn relative_limit(
    c: &mut Cursor<'_>,
    metric: Metric,
    name: &str,
    op: Op,
) -> Result<Margin, ParseError> {
    c.pos += relative::KEYWORD.len();
    c.skip_ws();
    let sign = match c.peek() {
        Some('+') => 1.0,
        Some('-') => -1.0,
        _ => return Ok(Margin::Absolute(0.0)),
    };
    let sign_char = if sign > 0.0 { '+' } else { '-' };
    c.pos += 1;
    c.skip_ws();
    let at = c.pos;
    let number = number_token(c);
    if number.is_empty() {
        return Err(error(
            at,
            format!(
                "expected an amount after `baseline {sign_char}`, e.g. `{name} {op} baseline {sign_char} 10%` \
                 or `{name} {op} baseline {sign_char} {}`",
                example_value(metric)
            ),
        ));
    }
    let n: f64 = match number.parse() {
        Ok(n) if f64::is_finite(n) => n,
        _ => return Err(error(at, format!("`{number}` is too large to be a margin"))),
    };
    c.skip_ws();
    let unit_at = c.pos;
    if c.peek() == Some('%') {
        c.pos += 1;
        if sign < 0.0 && n > 100.0 {
            return Err(error(
                at,
                format!("`baseline - {number}%` is below zero: a margin below the baseline is at most 100%"),
            ));
        }
        return Ok(Margin::Percent(sign * n));
    }
    let unit = unit_token(c);
    if metric == Metric::ErrorRate && unit == "pp" {
        return Ok(Margin::Absolute(sign * n));
    }
    let (amount, unit) =
        convert(metric, name, n, number, unit).map_err(|message| error(unit_at, message))?;
    measurable(amount, n, unit, number).map_err(|message| error(at, message))?;
    Ok(Margin::Absolute(sign * amount))
}

/// Digits, an optional fraction and an optional exponent: `300`, `0.5`, `.5`, `1e3`.
fn number_token<'a>(c: &mut Cursor<'a>) -> &'a str {
    let start = c.pos;
    let int = c.take_while(|ch| ch.is_ascii_digit());
    let mut digits = int.len();
    if c.peek() == Some('.') {
        c.pos += 1;
        digits += c.take_while(|ch| ch.is_ascii_digit()).len();
    }
    if digits == 0 {
        c.pos = start;
        return "";
    }
    // An exponent only when digits follow, so a unit starting with `e` could never be eaten.
    let rest = c.rest().as_bytes();
    if matches!(rest.first(), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(rest.get(1), Some(b'+' | b'-')));
        if rest.get(1 + sign).is_some_and(u8::is_ascii_digit) {
            c.pos += 1 + sign;
            c.take_while(|ch| ch.is_ascii_digit());
        }
    }
    &c.src[start..c.pos]
}

/// `%`, `/s` (or any `/word`), or a run of letters (`ms`, `µs`).
fn unit_token<'a>(c: &mut Cursor<'a>) -> &'a str {
    let start = c.pos;
    match c.peek() {
        Some('%') => c.pos += 1,
        Some('/') => {
            c.pos += 1;
            c.take_while(char::is_alphabetic);
        }
        _ => {
            c.take_while(char::is_alphabetic);
        }
    }
    &c.src[start..c.pos]
}

fn example_value(metric: Metric) -> &'static str {
    match metric {
        Metric::Latency { .. } => "300ms",
        Metric::ErrorRate => "1%",
        Metric::Rps => "100/s",
        Metric::Errors | Metric::Requests | Metric::Dropped => "10",
    }
}

const KNOWN_UNITS: &[&str] = &["us", "µs", "μs", "ms", "s", "m", "%", "/s"];

fn convert(
    metric: Metric,
    name: &str,
    n: f64,
    number: &str,
    unit: &str,
) -> Result<(f64, Unit), String> {
    let misfit = |takes: &str| {
        if KNOWN_UNITS.contains(&unit) {
            format!("`{name}` {takes}, not `{unit}`")
        } else {
            format!("unknown unit `{unit}`: `{name}` {takes}")
        }
    };
    match metric {
        Metric::Latency { .. } => {
            let ms = match unit {
                "" | "ms" => n,
                "us" | "µs" | "μs" => n / 1000.0,
                "s" => n * 1000.0,
                "m" => n * 60_000.0,
                _ if KNOWN_UNITS.contains(&unit) => {
                    return Err(misfit("is a time: it takes us, ms, s or m (a bare number is ms)"));
                }
                _ => return Err(format!("unknown unit `{unit}`: expected one of us, ms, s, m")),
            };
            Ok((tidy(ms), Unit::Ms))
        }
        Metric::ErrorRate => match unit {
            "%" if n <= 100.0 => Ok((n, Unit::Percent)),
            "%" => Err(format!("`{number}%` is more than 100%: `error_rate` is at most 100%")),
            "" if n <= 1.0 => Ok((tidy(n * 100.0), Unit::Percent)),
            "" => Err(format!(
                "a bare `error_rate` limit is a fraction from 0 to 1 (`0.01` is 1%): write `{number}%` for a percentage"
            )),
            _ => Err(misfit("takes % (`1%`) or a bare fraction from 0 to 1 (`0.01`)")),
        },
        Metric::Rps => match unit {
            "" | "/s" => Ok((n, Unit::PerSecond)),
            _ => Err(misfit("takes /s or a bare number (requests per second)")),
        },
        Metric::Errors | Metric::Requests | Metric::Dropped => {
            if !unit.is_empty() {
                Err(misfit("is a count: it takes a bare whole number"))
            } else if n.fract() != 0.0 {
                Err(format!("`{name}` is a count: expected a whole number, found `{number}`"))
            } else {
                Ok((n, Unit::Count))
            }
        }
    }
}

/// Removes binary noise of unit conversions (`0.3s` is 300 ms, not 300.00000000000006).
fn tidy(x: f64) -> f64 {
    if x.abs() < 1e6 {
        (x * 1e9).round() / 1e9
    } else {
        x
    }
}

fn trailing(c: &Cursor<'_>, name: &str, op: Op, value: &str) -> ParseError {
    let rest = c.rest();
    if let Some(message) = taurus_trailer(rest, name, op, value) {
        return error(c.pos, message);
    }
    let shown: String = rest.chars().take(24).collect();
    error(
        c.pos,
        format!(
            "unexpected `{shown}` after the value: a threshold is one condition, \
             `[LABEL:] METRIC OP VALUE` (write one threshold per condition)"
        ),
    )
}
