//! Merge exactness: recording samples in parts and merging gives the histogram of all samples,
//! also after the parts went through results.json (as Fargate workers' partials do).

use proptest::prelude::*;

use super::{Aggregate, Histogram, Interval, Recorder};
use crate::results::{Results, RunMeta};

fn labels() -> Vec<String> {
    vec!["a".into(), "b".into(), "c".into()]
}

fn aggregate_of(samples: &[(usize, u64, u32)]) -> Aggregate {
    // One recorder per second, as an engine thread hands them over.
    let mut seconds: Vec<Recorder> = (0..5).map(|_| Recorder::new(3)).collect();
    for &(label, us, second) in samples {
        seconds[second as usize].label(label).record_response(
            200,
            us % 17 != 0,
            us,
            us / 2 + 1,
            100,
            us % 1000,
        );
    }
    let mut agg = Aggregate::new(&labels());
    for (second, recorder) in seconds.into_iter().enumerate() {
        agg.add_interval(&Interval {
            second: second as u32,
            recorder,
        });
    }
    agg
}

fn through_json(agg: &Aggregate) -> Aggregate {
    let meta = RunMeta {
        scenario: "s".into(),
        run_id: "r".into(),
        executor: "local".into(),
        workers: 1,
        started_at: "2026-11-26T00:00:00Z".into(),
        partial: false,
        load: None,
    };
    let json = serde_json::to_string(&Results::new(meta, agg)).unwrap();
    let back: Results = serde_json::from_str(&json).unwrap();
    back.to_aggregate().unwrap()
}

/// Every recorded value with its count: equal lists mean equal histograms.
fn counts(h: &Histogram) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn assert_same(a: &Aggregate, b: &Aggregate) {
    let pairs = std::iter::once((&a.total, &b.total)).chain(
        a.labels
            .iter()
            .zip(&b.labels)
            .map(|((_, x), (_, y))| (x, y)),
    );
    for (x, y) in pairs {
        assert_eq!(x.requests, y.requests);
        assert_eq!(x.errors, y.errors);
        assert_eq!(x.bytes_received, y.bytes_received);
        assert_eq!(counts(&x.response_time), counts(&y.response_time));
        assert_eq!(counts(&x.ttfb), counts(&y.ttfb));
        for q in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(
                x.response_time.value_at_quantile(q),
                y.response_time.value_at_quantile(q)
            );
        }
    }
    assert_eq!(a.timeline.len(), b.timeline.len());
    for (x, y) in a.timeline.iter().zip(&b.timeline) {
        assert_eq!(x.requests, y.requests);
        assert_eq!(counts(&x.response_time), counts(&y.response_time));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn merged_parts_equal_the_whole(
        samples in prop::collection::vec((0usize..3, 1u64..60_000_000, 0u32..5), 1..400),
        parts in 1usize..6,
    ) {
        let whole = aggregate_of(&samples);
        let mut merged = Aggregate::new(&labels());
        let mut via_json = Aggregate::new(&labels());
        for part in 0..parts {
            let mine: Vec<_> = samples.iter().copied().enumerate()
                .filter(|(i, _)| i % parts == part)
                .map(|(_, s)| s)
                .collect();
            let agg = aggregate_of(&mine);
            merged.merge(&agg);
            via_json.merge(&through_json(&agg));
        }
        assert_same(&whole, &merged);
        assert_same(&whole, &via_json);
    }
}
