//! The per-user path over https (hyper over rustls): rendered requests, a regex capture used by
//! the next request, and checks, against a real TLS server.

use crate::plan::{CapturePlan, CaptureSource, CheckPlan, DynamicPlan, Expr, Segment, Template};
use crate::stats::ErrorKind;

use super::{closed, plan, run, tls_server};

#[test]
fn https_requests_render_capture_and_check() {
    let server = tls_server::TlsServer::start();
    let base = format!("https://127.0.0.1:{}", server.port);
    let mut p = plan(
        &[
            ("first", format!("{base}/a")),
            ("second", format!("{base}/b")),
            ("failing", format!("{base}/c")),
        ],
        closed(2, 300),
    );
    p.tls.ca_pem = Some(server.ca_pem.clone());
    p.users.captures = vec!["greeting".to_string()];
    p.requests[0].dynamic = Some(Box::new(DynamicPlan {
        target: Some(Template(vec![
            Segment::Text("/a/".to_string()),
            Segment::Value(Expr::User),
        ])),
        captures: vec![CapturePlan {
            name: "greeting".to_string(),
            slot: 0,
            source: CaptureSource::Regex {
                pattern: "(h)i".to_string(),
                group: 1,
            },
        }],
        checks: vec![CheckPlan::BodyContains("hi".to_string())],
        ..DynamicPlan::default()
    }));
    p.requests[1].dynamic = Some(Box::new(DynamicPlan {
        headers: vec![(
            "x-greeting".to_string(),
            Template(vec![Segment::Value(Expr::Capture(0))]),
        )],
        ..DynamicPlan::default()
    }));
    p.requests[2].dynamic = Some(Box::new(DynamicPlan {
        checks: vec![CheckPlan::BodyContains("nope".to_string())],
        ..DynamicPlan::default()
    }));
    let (agg, _) = run(p, 1);
    let first = agg.label("first").unwrap();
    let second = agg.label("second").unwrap();
    let failing = agg.label("failing").unwrap();
    assert!(first.requests > 0);
    assert_eq!(first.errors, 0);
    assert_eq!(second.errors, 0);
    assert!(second.requests > 0);
    assert_eq!(failing.error_kind(ErrorKind::Check), failing.requests);
    assert_eq!(
        agg.total.requests,
        server.count(),
        "every request the engine counted reached the server"
    );
    let sample = agg
        .failure_samples()
        .iter()
        .find(|s| s.kind == ErrorKind::Check)
        .expect("a check sample");
    assert!(sample.message.contains("`nope`"), "{}", sample.message);
}
