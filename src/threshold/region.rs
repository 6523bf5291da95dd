//! The k6 tag filter `{region:NAME}` after a metric (`p95{region:eu-west-1} < 400ms`, combinable
//! with a label: `checkout: p95{region:eu-west-1} < 400ms`), and evaluating such thresholds
//! against each region's own merged aggregate. The prefix form `region X: ...` is not used:
//! labels are free text, so that already parses as a label.

use super::eval::{result, Baseline};
use super::ParseError;
use crate::plan::ThresholdPlan;
use crate::results::ThresholdResult;
use crate::stats::Aggregate;

/// Parses `{region:NAME}` at the start of `rest` (at byte `at` of the expression): how many bytes
/// it took and the region, or `(0, None)` when there is no `{`.
pub(super) fn tag(rest: &str, at: usize) -> Result<(usize, Option<String>), ParseError> {
    if !rest.starts_with('{') {
        return Ok((0, None));
    }
    let Some(close) = rest.find('}') else {
        return Err(ParseError {
            offset: at,
            message: "unclosed `{`: a region filter is written `p95{region:eu-west-1}`".into(),
        });
    };
    let inner = &rest[1..close];
    let Some((key, value)) = inner.split_once(':') else {
        return Err(ParseError {
            offset: at + 1,
            message: format!(
                "`{{{inner}}}`: expected `{{region:NAME}}`, e.g. `{{region:eu-west-1}}`"
            ),
        });
    };
    if key.trim() != "region" {
        return Err(ParseError {
            offset: at + 1,
            message: format!(
                "unknown tag `{}`: loadgate filters by `region` only, e.g. `p95{{region:eu-west-1}}`",
                key.trim()
            ),
        });
    }
    let region = value.trim();
    if !crate::regions::valid_name(region) {
        return Err(ParseError {
            offset: at + 1 + key.len() + 1,
            message: format!("`{region}` is not an AWS region name (expected e.g. eu-west-1)"),
        });
    }
    Ok((close + 1, Some(region.to_string())))
}

/// The regions of a baseline run, for relative thresholds with `{region:...}`: each measured
/// against the same region of the baseline, exactly (that region's merged histograms).
#[derive(Debug, Default)]
pub enum RegionBaselines {
    /// The baseline ran from one region: it has no figures per region.
    #[default]
    OneRegion,
    /// Each region of the baseline, in its order: its exact merge, or why it cannot be used
    /// (results from before regions kept their histograms, a histogram that does not decode).
    Regions(Vec<(String, Result<Aggregate, String>)>),
}

impl RegionBaselines {
    /// Region `name` of the baseline, or why a threshold on it is skipped (naming the region).
    pub fn get(&self, name: &str) -> Result<&Aggregate, String> {
        match self {
            RegionBaselines::OneRegion => Err(format!(
                "the baseline ran from one region: it has no figures of region {name}"
            )),
            RegionBaselines::Regions(list) => match list.iter().find(|(r, _)| r == name) {
                Some((_, Ok(agg))) => Ok(agg),
                Some((_, Err(why))) => Err(format!("region {name} of the baseline: {why}")),
                None => Err(format!(
                    "the baseline did not load from region {name} (it ran from {})",
                    list.iter()
                        .map(|(r, _)| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        }
    }
}

/// Every threshold's result, in order: one without a region against the merged `agg`, one with a
/// region against that region's aggregate. A region the run did not load from fails the
/// threshold, saying so. A relative threshold with a region takes its limit from the same region
/// of the baseline; it is skipped, naming the region, when the baseline has no such region (or
/// none at all).
pub fn evaluate_with_regions(
    thresholds: &[ThresholdPlan],
    agg: &Aggregate,
    regions: &[(String, Aggregate)],
    baseline: Baseline<'_>,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| match &t.threshold.region {
            None => result(t, agg, baseline),
            Some(name) => match regions.iter().find(|(r, _)| r == name) {
                Some((_, region_agg)) => in_region(t, name, region_agg, baseline),
                None => {
                    let mut r = result(t, &Aggregate::new(&[]), Baseline::Missing(""));
                    r.actual = None;
                    r.passed = false;
                    r.skipped = false;
                    r.reason = Some(format!("the run did not load from region {name}"));
                    r
                }
            },
        })
        .collect()
}

/// A threshold on region `name` of this run, against the same region of the baseline.
fn in_region(
    t: &ThresholdPlan,
    name: &str,
    region_agg: &Aggregate,
    baseline: Baseline<'_>,
) -> ThresholdResult {
    let base = match baseline {
        Baseline::Regional(_, regions) => regions.get(name),
        Baseline::Run(_) => Err(format!(
            "the baseline has no figures per region, so none of region {name}"
        )),
        Baseline::Missing(why) => Err(why.to_string()),
    };
    match base {
        Ok(base) => {
            let mut r = result(t, region_agg, Baseline::Run(base));
            // "the baseline run has no `p95`" must say where it looked.
            if let Some(why) = r.reason.as_mut().filter(|_| r.skipped) {
                why.push_str(&format!(" in region {name}"));
            }
            r
        }
        Err(why) => result(t, region_agg, Baseline::Missing(&why)),
    }
}

#[cfg(test)]
mod tests {
    use crate::threshold::parse;

    #[test]
    fn a_region_filter_parses_alone_with_a_label_and_in_k6_s_percentile_form() {
        let t = parse("p95{region:eu-west-1} < 400ms").expect("parses");
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        assert_eq!(t.label, None);
        assert_eq!(t.limit, 400.0);
        let t = parse("checkout: p95{region:eu-west-1} < 400ms").expect("parses");
        assert_eq!(t.label.as_deref(), Some("checkout"));
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        let t = parse("p(95){ region: us-east-1 }<500").expect("parses");
        assert_eq!(t.region.as_deref(), Some("us-east-1"));
        let t = parse("error_rate{region:ap-south-1} < 1%").expect("parses");
        assert_eq!(t.region.as_deref(), Some("ap-south-1"));
        // The prefix form is a label, as before.
        let t = parse("region eu-west-1: p95 < 400ms").expect("parses");
        assert_eq!(t.label.as_deref(), Some("region eu-west-1"));
        assert_eq!(t.region, None);
    }

    #[test]
    fn a_bad_filter_says_what_is_expected_where() {
        for (expr, says, at) in [
            ("p95{region:eu-west-1 < 4", "unclosed", 3),
            ("p95{zone:a} < 4", "unknown tag `zone`", 4),
            ("p95{region:europe} < 4", "not an AWS region", 11),
            ("p95{eu-west-1} < 4", "expected `{region:NAME}`", 4),
        ] {
            let err = parse(expr).expect_err(expr);
            assert!(err.message.contains(says), "{expr}: {}", err.message);
            assert_eq!(err.offset, at, "{expr}");
        }
    }

    #[test]
    fn a_region_threshold_is_measured_on_its_region_and_fails_for_a_region_not_run() {
        use crate::plan::ThresholdPlan;
        use crate::stats::Aggregate;
        let plan = |expr: &str| ThresholdPlan {
            threshold: parse(expr).expect("parses"),
            abort: false,
            after: std::time::Duration::ZERO,
            line: 1,
            column: 1,
        };
        let labels: Vec<String> = Vec::new();
        let mut total = Aggregate::new(&labels);
        total.total.requests = 10;
        let mut eu = Aggregate::new(&labels);
        eu.total.requests = 4;
        let regions = vec![("eu-west-1".to_string(), eu)];
        let out = super::evaluate_with_regions(
            &[
                plan("requests > 5"),
                plan("requests{region:eu-west-1} > 5"),
                plan("requests{region:ap-south-1} > 0"),
            ],
            &total,
            &regions,
            super::Baseline::Missing("none"),
        );
        assert_eq!(out[0].actual, Some(10.0));
        assert!(out[0].passed);
        assert_eq!(out[1].actual, Some(4.0));
        assert!(out[1].failed());
        assert_eq!(out[2].actual, None);
        assert!(out[2].failed());
        assert!(out[2]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("ap-south-1"));
    }
}
