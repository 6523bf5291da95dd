//! `loadgate validate` prices a Fargate scenario and refuses one above its budget.

use crate::harness::Test;

const SCENARIO: &str = r#"
name: shop
target: "{target}"
load: { concurrency: 20, hold_for: 10m }
workers: 10
requests: [{ path: / }]
thresholds: [p95 < 1s]
fargate: { cpu: 2048, memory: 4096, max_cost_usd: BUDGET }
"#;

fn validate(budget: &str, region: &[&str]) -> crate::harness::Ran {
    Test::new()
        .scenario(&SCENARIO.replace("BUDGET", budget))
        .env("AWS_REGION", "")
        .env("AWS_DEFAULT_REGION", "")
        .args(&["validate"])
        .args(region)
        .run()
}

#[test]
fn validate_prints_the_estimate_at_the_region_rates() {
    let ran = validate("5", &["--region", "eu-central-1"]);
    ran.code(0);
    // 10 tasks × 645 s × (2 × 0.04656 + 4 × 0.00511 + 0.005) $/h = $0.2124.
    assert!(
        ran.stdout.contains(
            "cost        about $0.2124 on Fargate: 10 tasks × 2 vCPU, 4 GB, 645 s billed each, \
             on-demand x86_64 at eu-central-1 rates of"
        ),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("within fargate.max_cost_usd $5.00"),
        "{}",
        ran.stdout
    );
}

#[test]
fn validate_refuses_an_estimate_above_max_cost_usd() {
    let ran = validate("0.1", &[]);
    ran.code(2);
    assert!(
        ran.stdout.contains("ABOVE fargate.max_cost_usd $0.1000"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("no region given (--region, AWS_REGION), us-east-1 rates used"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr
            .contains("loadgate.yaml: the run's estimated Fargate cost $0.1"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("help: use fewer workers"),
        "{}",
        ran.stderr
    );
}
