use proptest::prelude::*;

use super::*;

fn lat(series: Series, stat: Stat) -> Metric {
    Metric::Latency { series, stat }
}

const RT: Series = Series::ResponseTime;

fn pct(p: f64) -> Metric {
    lat(RT, Stat::Percentile(p))
}

/// (expression, label, metric, op, limit, unit).
type Valid = (&'static str, Option<&'static str>, Metric, Op, f64, Unit);

#[test]
fn valid_expressions_parse_to_their_meaning() {
    #[rustfmt::skip]
    let table: Vec<Valid> = vec![
        ("p95 < 300ms", None, pct(95.0), Op::Lt, 300.0, Unit::Ms),
        ("p(95)<500", None, pct(95.0), Op::Lt, 500.0, Unit::Ms),
        ("  p99<=1s  ", None, pct(99.0), Op::Le, 1000.0, Unit::Ms),
        ("p99.9 < 2s", None, pct(99.9), Op::Lt, 2000.0, Unit::Ms),
        ("p99.99 < 2s", None, pct(99.99), Op::Lt, 2000.0, Unit::Ms),
        ("p( 99.99 ) < 2s", None, pct(99.99), Op::Lt, 2000.0, Unit::Ms),
        ("p100 < 5s", None, pct(100.0), Op::Lt, 5000.0, Unit::Ms),
        ("p50 > 250us", None, pct(50.0), Op::Gt, 0.25, Unit::Ms),
        ("p50 > 250µs", None, pct(50.0), Op::Gt, 0.25, Unit::Ms),
        ("median >= 0.3s", None, pct(50.0), Op::Ge, 300.0, Unit::Ms),
        ("avg < 2m", None, lat(RT, Stat::Avg), Op::Lt, 120_000.0, Unit::Ms),
        ("min>1", None, lat(RT, Stat::Min), Op::Gt, 1.0, Unit::Ms),
        ("max < 10 s", None, lat(RT, Stat::Max), Op::Lt, 10_000.0, Unit::Ms),
        ("max < 1e3", None, lat(RT, Stat::Max), Op::Lt, 1000.0, Unit::Ms),
        ("max < .5s", None, lat(RT, Stat::Max), Op::Lt, 500.0, Unit::Ms),
        ("ttfb_p95 < 100ms", None, lat(Series::Ttfb, Stat::Percentile(95.0)), Op::Lt, 100.0, Unit::Ms),
        ("ttfb_p(99.5) < 1s", None, lat(Series::Ttfb, Stat::Percentile(99.5)), Op::Lt, 1000.0, Unit::Ms),
        ("ttfb_median < 1s", None, lat(Series::Ttfb, Stat::Percentile(50.0)), Op::Lt, 1000.0, Unit::Ms),
        ("ttfb_avg < 80", None, lat(Series::Ttfb, Stat::Avg), Op::Lt, 80.0, Unit::Ms),
        ("connect_max < 50ms", None, lat(Series::Connect, Stat::Max), Op::Lt, 50.0, Unit::Ms),
        ("connect_p95 < 5ms", None, lat(Series::Connect, Stat::Percentile(95.0)), Op::Lt, 5.0, Unit::Ms),
        ("error_rate < 1%", None, Metric::ErrorRate, Op::Lt, 1.0, Unit::Percent),
        ("error_rate<0.01", None, Metric::ErrorRate, Op::Lt, 1.0, Unit::Percent),
        ("error_rate <= 0.07", None, Metric::ErrorRate, Op::Le, 7.0, Unit::Percent),
        ("error_rate <= 0", None, Metric::ErrorRate, Op::Le, 0.0, Unit::Percent),
        ("error_rate < 0.5 %", None, Metric::ErrorRate, Op::Lt, 0.5, Unit::Percent),
        ("rps > 150", None, Metric::Rps, Op::Gt, 150.0, Unit::PerSecond),
        ("rps >= 99.5/s", None, Metric::Rps, Op::Ge, 99.5, Unit::PerSecond),
        ("errors < 10", None, Metric::Errors, Op::Lt, 10.0, Unit::Count),
        ("requests >= 1000", None, Metric::Requests, Op::Ge, 1000.0, Unit::Count),
        ("dropped <= 0", None, Metric::Dropped, Op::Le, 0.0, Unit::Count),
        ("create-order: p95 < 500ms", Some("create-order"), pct(95.0), Op::Lt, 500.0, Unit::Ms),
        ("  list items :p95<500", Some("list items"), pct(95.0), Op::Lt, 500.0, Unit::Ms),
        ("GET /a/b.json: error_rate < 2%", Some("GET /a/b.json"), Metric::ErrorRate, Op::Lt, 2.0, Unit::Percent),
        // The last `:` followed by a metric name ends the label.
        ("GET /a:b: p95 < 3s", Some("GET /a:b"), pct(95.0), Op::Lt, 3000.0, Unit::Ms),
        ("GET /a:p95 < 3s", Some("GET /a"), pct(95.0), Op::Lt, 3000.0, Unit::Ms),
        ("p95: p95 < 3s", Some("p95"), pct(95.0), Op::Lt, 3000.0, Unit::Ms),
        ("http://x:8080/a: rps > 3", Some("http://x:8080/a"), Metric::Rps, Op::Gt, 3.0, Unit::PerSecond),
    ];
    for (expr, label, metric, op, limit, unit) in table {
        let t = parse(expr).unwrap_or_else(|e| panic!("{expr}: {}", render_error(expr, &e)));
        assert_eq!(t.expr, expr.trim(), "{expr}");
        assert_eq!(t.label.as_deref(), label, "{expr}");
        assert_eq!(t.metric, metric, "{expr}");
        assert_eq!(t.op, op, "{expr}");
        assert_eq!(t.limit, limit, "{expr}");
        assert_eq!(t.unit, unit, "{expr}");
    }
}

#[test]
fn metric_names_are_canonical() {
    let table = [
        ("p95 < 1", "p95"),
        ("p(95) < 1", "p95"),
        ("p(97.5) < 1", "p97.5"),
        ("p99.90 < 1", "p99.9"),
        ("median < 1", "p50"),
        ("ttfb_p(99.5) < 1", "ttfb_p99.5"),
        ("ttfb_median < 1", "ttfb_p50"),
        ("connect_avg < 1", "connect_avg"),
        ("min < 1", "min"),
        ("error_rate < 1%", "error_rate"),
        ("rps > 1", "rps"),
        ("errors < 1", "errors"),
        ("requests > 1", "requests"),
        ("dropped < 1", "dropped"),
    ];
    for (expr, name) in table {
        assert_eq!(
            parse(expr).map(|t| t.metric_name()),
            Ok(name.to_string()),
            "{expr}"
        );
    }
}

#[test]
fn ops_and_units_display_as_written() {
    let ops: Vec<String> = [Op::Lt, Op::Le, Op::Gt, Op::Ge]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ops, ["<", "<=", ">", ">="]);
    let units: Vec<String> = [Unit::Ms, Unit::Percent, Unit::PerSecond, Unit::Count]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(units, ["ms", "%", "/s", ""]);
}

/// (expression, offset of the caret, a part of the message).
#[rustfmt::skip]
const INVALID: &[(&str, usize, &str)] = &[
    ("", 0, "empty threshold"),
    ("   ", 0, "empty threshold"),
    ("p95 < 300xs", 9, "unknown unit `xs`: expected one of us, ms, s, m"),
    ("pp95 < 300ms", 0, "did you mean `p95`?"),
    ("P95 < 300ms", 0, "did you mean `p95`?"),
    ("error-rate < 1%", 0, "did you mean `error_rate`?"),
    ("latency < 3", 0, "unknown metric `latency`: expected"),
    ("checkout: pp95 < 3", 10, "unknown metric `pp95`: did you mean `p95`?"),
    ("p0 < 3", 0, "must be above 0 and at most 100"),
    ("p100.1 < 3", 0, "must be above 0 and at most 100"),
    ("p(95 < 3", 1, "unclosed `(`"),
    ("< 300ms", 0, "missing metric, found `<`"),
    ("p95", 3, "missing operator after `p95`"),
    ("p95 300ms", 4, "found `3` where the operator after `p95` belongs"),
    ("p95 == 300ms", 4, "`==` is not a threshold operator"),
    ("p95 = 300ms", 4, "expected one of <, <=, >, >="),
    ("p95 != 300ms", 4, "`!=` is not a threshold operator"),
    ("p95 =< 300ms", 4, "did you mean `<=`?"),
    ("p95 <", 5, "missing value after `<`"),
    ("p95 < ms", 6, "expected a number after `<`, found `ms`"),
    ("p95 < -5", 6, "cannot be negative"),
    ("p95 < NaN", 6, "expected a finite number"),
    ("p95 < inf", 6, "expected a finite number"),
    ("p95 < 1e999", 6, "too large"),
    ("p95 < 5%", 7, "`p95` is a time: it takes us, ms, s or m"),
    ("rps > 3ms", 7, "`rps` takes /s or a bare number"),
    ("error_rate < 5", 14, "a bare `error_rate` limit is a fraction from 0 to 1"),
    ("error_rate < 101%", 16, "more than 100%"),
    ("error_rate < 1ms", 14, "`error_rate` takes %"),
    ("errors < 2.5", 12, "expected a whole number"),
    ("errors < 2s", 10, "is a count"),
    ("p95 < 300ms garbage", 12, "unexpected `garbage` after the value"),
    ("p95 < 300ms and p99 < 1s", 12, "one threshold per condition"),
    ("p95 < 3:00", 7, "unexpected `:00`"),
    (": p95 < 3", 0, "empty label"),
    ("avg-rt>300ms for 10s, stop as failed", 0, "write `avg <= 300ms`"),
    ("fail>50%", 0, "write `error_rate <= 50%`"),
    ("checkout: avg-lt >= 1s", 10, "write `ttfb_avg < 1s`"),
    ("rc500>10", 0, "`rc500` is not a loadgate metric"),
    ("p90>250ms for 10s", 10, "write `p90 <= 250ms`"),
    ("p90 > 250ms, stop as failed", 11, "must hold"),
    (" http_req_duration: p(95)<500", 1, "k6 metric, not a request name: write `p(95)<500`"),
    ("http_req_waiting: p(95)<500", 0, "write `ttfb_p(95)<500`"),
    ("http_req_failed: rate<0.01", 0, "`error_rate < 1%`"),
];

#[test]
fn invalid_expressions_point_at_the_offending_character() {
    for &(expr, offset, message) in INVALID {
        match parse(expr) {
            Ok(t) => panic!("{expr:?} parsed as {t:?}"),
            Err(e) => {
                assert_eq!(e.offset, offset, "{expr:?}: {}", e.message);
                assert!(
                    e.message.contains(message),
                    "{expr:?}: {:?} does not contain {message:?}",
                    e.message
                );
            }
        }
    }
}

#[test]
fn rendered_errors() {
    let rendered: Vec<String> = INVALID
        .iter()
        .filter_map(|(expr, _, _)| parse(expr).err().map(|e| render_error(expr, &e)))
        .collect();
    insta::assert_snapshot!(rendered.join("\n\n"));
}

#[test]
fn render_puts_the_caret_under_the_character() {
    let err = ParseError {
        offset: 9,
        message: "unknown unit `xs`: expected one of us, ms, s, m".to_string(),
    };
    assert_eq!(
        render_error("p95 < 300xs", &err),
        "p95 < 300xs\n         ^ unknown unit `xs`: expected one of us, ms, s, m"
    );
    // Columns count characters, not bytes; an offset past the end sits just after the text.
    let expr = "µs: p95";
    let err = ParseError {
        offset: expr.len() + 5,
        message: "m".to_string(),
    };
    assert_eq!(render_error(expr, &err), "µs: p95\n       ^ m");
}

#[test]
fn from_str_is_parse() {
    let t: Threshold = "p95 < 1s".parse().expect("valid");
    assert_eq!(t.limit, 1000.0);
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(expr in "\\PC{0,40}") {
        if let Err(e) = parse(&expr) {
            prop_assert!(e.offset <= expr.len());
            let _ = render_error(&expr, &e);
        }
    }

    #[test]
    fn threshold_like_text_never_panics(
        expr in "[ a-z_:/()0-9.%µ<>=!-]{0,30}"
    ) {
        if let Err(e) = parse(&expr) {
            prop_assert!(e.offset <= expr.len());
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn written_limits_read_back(limit in 0u32..1_000_000, label in "[a-z][a-z /-]{0,10}") {
        let t = parse(&format!("{label}: p(99.9) <= {limit}ms"));
        prop_assert!(t.is_ok());
        let t = t.unwrap();
        prop_assert_eq!(t.limit, f64::from(limit));
        prop_assert_eq!(t.label, Some(label.trim().to_string()));
    }
}

#[test]
fn relative_limits_parse_to_their_margin() {
    #[rustfmt::skip]
    let table: Vec<(&str, Metric, Op, Margin)> = vec![
        ("p95 < baseline + 10%", pct(95.0), Op::Lt, Margin::Percent(10.0)),
        ("rps > baseline - 5%", Metric::Rps, Op::Gt, Margin::Percent(-5.0)),
        ("error_rate <= baseline", Metric::ErrorRate, Op::Le, Margin::Absolute(0.0)),
        ("p99 < baseline + 20ms", pct(99.0), Op::Lt, Margin::Absolute(20.0)),
        ("p99<baseline+0.5s", pct(99.0), Op::Lt, Margin::Absolute(500.0)),
        ("p99 < baseline + 20", pct(99.0), Op::Lt, Margin::Absolute(20.0)),
        ("rps >= baseline - 10/s", Metric::Rps, Op::Ge, Margin::Absolute(-10.0)),
        ("error_rate < baseline + 0.01", Metric::ErrorRate, Op::Lt, Margin::Absolute(1.0)),
        ("error_rate < baseline + 0.5pp", Metric::ErrorRate, Op::Lt, Margin::Absolute(0.5)),
        ("error_rate < baseline + 50%", Metric::ErrorRate, Op::Lt, Margin::Percent(50.0)),
        ("errors <= baseline + 3", Metric::Errors, Op::Le, Margin::Absolute(3.0)),
    ];
    for (expr, metric, op, margin) in table {
        let t = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(
            (t.metric, t.op, t.relative),
            (metric, op, Some(margin)),
            "{expr}"
        );
        assert_eq!(t.unit, metric.unit(), "{expr}");
    }
    let labelled = parse("checkout: p95 < baseline + 10%").expect("parses");
    assert_eq!(labelled.label.as_deref(), Some("checkout"));
    assert_eq!(parse("p95 < 300ms").expect("parses").relative, None);
}

#[test]
fn bad_relative_limits_point_at_the_problem() {
    let table = [
        (
            "p95 < baseline +",
            16,
            "expected an amount after `baseline +`",
        ),
        ("p95 < baseline + 10xs", 19, "unknown unit `xs`"),
        ("rps > baseline - 150%", 17, "below zero"),
        ("p95 < baseline * 2", 15, "unexpected `* 2`"),
        ("errors < baseline + 1.5", 23, "whole number"),
        ("p95 < baseline + 5pp", 18, "expected one of us, ms, s, m"),
    ];
    for (expr, offset, message) in table {
        let err = parse(expr).expect_err(expr);
        assert!(err.message.contains(message), "{expr}: {}", err.message);
        assert_eq!(err.offset, offset, "{expr}: {}", err.message);
    }
}

/// Issue 14 item 13: limits no run can measure were accepted (and printed as 400 digits).
#[test]
fn limits_beyond_what_a_run_can_measure_are_refused() {
    for expr in [
        "p95 < 1e308ms",
        "requests < 1e300",
        "p95 < 1e-320ms",
        "p99 < 0.5us",
        "rps > 1e12",
        "p95 < 1441m",
        "p95 < baseline + 1e300ms",
    ] {
        let err = parse(expr).expect_err(expr);
        assert!(
            err.message.contains("beyond what a run can measure"),
            "{expr}: {}",
            err.message
        );
    }
    for expr in [
        "p95 < 1440m",
        "p95 < 1us",
        "requests > 0",
        "errors < 1e15",
        "rps > 0.5",
    ] {
        parse(expr).expect(expr);
    }
}
