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

/// No top-level `workers`: the regions give them. 25 users over 10 workers: 5 get 3, 5 get 2.
const REGIONS_SCENARIO: &str = r#"
name: shop
target: "{target}"
load: { concurrency: 25, hold_for: 10m }
requests: [{ path: / }]
thresholds: [p95 < 1s]
fargate: { cpu: 2048, memory: 4096, max_cost_usd: BUDGET REGIONS}
"#;

fn validate_regions(
    budget: &str,
    scenario_regions: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> crate::harness::Ran {
    let mut test = Test::new()
        .scenario(
            &REGIONS_SCENARIO
                .replace("BUDGET", budget)
                .replace("REGIONS", scenario_regions),
        )
        .env("AWS_REGION", "")
        .env("AWS_DEFAULT_REGION", "")
        .args(&["validate"])
        .args(args);
    for (k, v) in env {
        test = test.env(k, v);
    }
    test.run()
}

/// Each task of a 10 min load is billed 645 s (600 + 45, rounded up). Per task-hour, 2 vCPU,
/// 4 GB and one IPv4 address: us-east-1 2 × 0.04048 + 4 × 0.004445 + 0.005 = 0.10374 $/h;
/// eu-central-1 2 × 0.04656 + 4 × 0.00511 + 0.005 = 0.11856 $/h.
/// us-east-1, 6 tasks: 3870 s = 1.075 h -> $0.1115; eu-central-1, 4 tasks: 2580 s -> $0.0850.
#[test]
fn validate_prices_each_region_at_its_own_rates_and_the_sum() {
    let ran = validate_regions("5", "", &[], &["--regions", "us-east-1=6,eu-central-1=4"]);
    ran.code(0);
    let out = &ran.stdout;
    assert!(
        out.contains("regions     2 regions, 10 workers in all"),
        "{out}"
    );
    // In the order given (no home region): us-east-1's workers take the first shares.
    assert!(
        out.contains(
            "  us-east-1     6 workers: 5 x 3 users, 1 x 2 users; about $0.1115 at us-east-1 rates\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "  eu-central-1  4 workers: 4 x 2 users; about $0.0850 at eu-central-1 rates\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "cost        about $0.1965 on Fargate in all: 10 tasks × 2 vCPU, 4 GB, 645 s billed \
             each, on-demand x86_64 at us-east-1, eu-central-1 rates of"
        ),
        "{out}"
    );
    assert!(out.contains("within fargate.max_cost_usd $5.00"), "{out}");
    // The regions' workers replace the scenario's, as in `run`.
    assert!(out.contains("\nworkers     10\n"), "{out}");
    // A region the rates table does not know is priced at the fallback's rates, and says so.
    let ran = validate_regions("5", "", &[], &["--regions", "us-east-1=6,me-central-1=4"]);
    ran.code(0);
    assert!(
        ran.stdout.contains(
            "  me-central-1  4 workers: 4 x 2 users; about $0.0743 at us-east-1 rates (the table \
             has none for me-central-1)"
        ),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("on-demand x86_64 at us-east-1 rates of"),
        "{}",
        ran.stdout
    );

    // The home region (--region) comes first and takes the first shares, as in a run.
    let ran = validate_regions(
        "5",
        "",
        &[],
        &[
            "--regions",
            "us-east-1=6,eu-central-1=4",
            "--region",
            "eu-central-1",
        ],
    );
    ran.code(0);
    let first = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("  us-east-1") || l.starts_with("  eu-central-1"))
        .unwrap_or_default();
    assert!(
        first.contains("eu-central-1  4 workers: 4 x 3 users"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("us-east-1     6 workers: 1 x 3 users, 5 x 2 users"),
        "{}",
        ran.stdout
    );
}

#[test]
fn validate_checks_max_cost_usd_against_the_sum_of_the_regions() {
    // Each region alone ($0.1115, $0.0850) is within $0.15; both ($0.1965) are not.
    let ran = validate_regions(
        "0.15",
        "",
        &[],
        &["--regions", "us-east-1=6,eu-central-1=4"],
    );
    ran.code(2);
    assert!(
        ran.stdout.contains("about $0.1115 at us-east-1 rates")
            && ran.stdout.contains("about $0.0850 at eu-central-1 rates"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("$0.1965 on Fargate in all")
            && ran.stdout.contains("ABOVE fargate.max_cost_usd $0.1500"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr
            .contains("loadgate.yaml: the run's estimated Fargate cost $0.1965 is above"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("at us-east-1, eu-central-1 rates"),
        "{}",
        ran.stderr
    );
}

#[test]
fn validate_takes_the_regions_from_the_flag_then_the_variable_then_the_scenario() {
    let scenario_regions = ", regions: { ap-south-1: 2 } ";
    let names = |ran: &crate::harness::Ran| -> Vec<String> {
        ran.stdout
            .lines()
            .filter(|l| l.starts_with("  ") && l.contains(" rates"))
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
            .collect()
    };
    let from_scenario = validate_regions("5", scenario_regions, &[], &[]);
    from_scenario.code(0);
    assert_eq!(
        names(&from_scenario),
        ["ap-south-1"],
        "{}",
        from_scenario.stdout
    );
    let env = [("LOADGATE_REGIONS", "eu-west-1=1,us-west-2=1")];
    let from_env = validate_regions("5", scenario_regions, &env, &[]);
    from_env.code(0);
    assert_eq!(
        names(&from_env),
        ["eu-west-1", "us-west-2"],
        "{}",
        from_env.stdout
    );
    let from_flag = validate_regions("5", scenario_regions, &env, &["--regions", "us-east-2=3"]);
    from_flag.code(0);
    assert_eq!(names(&from_flag), ["us-east-2"], "{}", from_flag.stdout);
    assert!(
        from_flag.stdout.contains("1 region, 3 workers in all"),
        "{}",
        from_flag.stdout
    );
}

#[test]
fn validate_refuses_a_malformed_regions_spec() {
    for (env, args, says) in [
        (vec![], vec!["--regions", "us-east-1=0"], "from 1 to"),
        (
            vec![("LOADGATE_REGIONS", "useast=2")],
            vec![],
            "not an AWS region name",
        ),
        (
            vec![],
            vec!["--regions", "us-east-1=1,us-east-1=2"],
            "given twice",
        ),
    ] {
        let ran = validate_regions("5", "", &env, &args);
        assert_eq!(ran.code, 2, "{args:?} {env:?}: {}", ran.stderr);
        assert!(ran.stderr.contains(says), "{says}: {}", ran.stderr);
        assert!(ran.stdout.is_empty(), "nothing validated: {}", ran.stdout);
    }
}
