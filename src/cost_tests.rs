use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::scenario;

/// A plan of 1 vCPU, 2 GB tasks whose load lasts `hold` seconds.
fn plan(hold: u32, fargate: &str) -> Plan {
    let source = format!(
        "name: shop\ntarget: http://127.0.0.1:1\nload: {{ concurrency: 8, hold_for: {hold}s }}\n\
         workers: 4\nrequests: [{{ path: / }}]\nthresholds: [p95 < 1s]\n{fargate}"
    );
    scenario::parse_str(
        &source,
        "shop.yaml",
        Path::new("."),
        &HashMap::<String, String>::new(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .plan
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn estimate_is_tasks_times_resources_times_billed_time_plus_ipv4() {
    let p = plan(255, "");
    let c = estimate(&p, 4, "us-east-1", CpuArch::X86_64, false);
    // 255 s of load + 45 s overhead = 300 s = 1/12 h per task.
    assert_eq!(c.tasks, 4);
    assert!(close(c.billed_seconds, 1200.0), "{}", c.billed_seconds);
    let per_task_hour = 1.0 * 0.04048 + 2.0 * 0.004445 + 0.005;
    assert!(close(c.usd, 4.0 * per_task_hour / 12.0), "{}", c.usd);
    assert_eq!(c.rates.region, "us-east-1");
    assert!(c.assumptions[0].contains("255s"), "{:?}", c.assumptions);
    assert!(c
        .assumptions
        .iter()
        .any(|a| a.contains("ephemeral storage")));
}

#[test]
fn short_tasks_are_billed_the_one_minute_minimum() {
    let p = plan(5, "");
    let c = actual(&p, "eu-west-1", CpuArch::X86_64, false, &[3.0, 59.2, 61.4]);
    // 60 + 60 + 62 (per second, rounded up).
    assert!(close(c.billed_seconds, 182.0), "{}", c.billed_seconds);
    assert_eq!(c.tasks, 3);
    let clock_oddity = actual(&p, "eu-west-1", CpuArch::X86_64, false, &[-4.0, f64::NAN]);
    assert!(close(clock_oddity.billed_seconds, 120.0));
}

#[test]
fn regions_arm_and_spot_change_the_rates() {
    let (x86, fell_back) = rates("eu-central-1", CpuArch::X86_64, false);
    assert!(!fell_back);
    assert!(close(x86.vcpu_hour_usd, 0.04656));
    let (arm, _) = rates("eu-central-1", CpuArch::Arm64, false);
    assert!(close(arm.vcpu_hour_usd, 0.04656 * 0.8));
    assert!(close(arm.gb_hour_usd, 0.00511 * 0.8));
    let (spot, _) = rates("eu-central-1", CpuArch::X86_64, true);
    assert!(spot.vcpu_hour_usd < x86.vcpu_hour_usd * 0.5);
    // The IPv4 charge is not discounted by Spot or Graviton.
    assert!(close(spot.ipv4_hour_usd, 0.005));
    for region in [
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "eu-west-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-south-1",
        "sa-east-1",
        "ca-central-1",
    ] {
        let (r, fell_back) = rates(region, CpuArch::X86_64, false);
        assert!(!fell_back, "{region} has no rates");
        assert_eq!(r.region, region);
        assert!(r.vcpu_hour_usd > 0.03 && r.gb_hour_usd > 0.003, "{region}");
    }
}

#[test]
fn an_unknown_region_says_it_used_us_east_1_rates() {
    let p = plan(60, "");
    let c = estimate(&p, 1, "mars-north-1", CpuArch::X86_64, false);
    assert_eq!(c.rates.region, "us-east-1");
    assert!(
        c.assumptions
            .iter()
            .any(|a| a.contains("`mars-north-1`") && a.contains("us-east-1 rates used")),
        "{:?}",
        c.assumptions
    );
}

#[test]
fn the_budget_refuses_an_estimate_above_it_with_how_to_fix() {
    let p = plan(3600, "fargate: { max_cost_usd: 0.5 }\n");
    let cheap = estimate(&p, 1, "us-east-1", CpuArch::X86_64, false);
    assert!(cheap.usd < 0.5, "{}", cheap.usd);
    assert!(check_budget(&p, &cheap).is_ok());
    let dear = estimate(&p, 20, "us-east-1", CpuArch::X86_64, false);
    let err = check_budget(&p, &dear).expect_err("over budget");
    assert_eq!(err.exit_code(), crate::error::EXIT_INVALID_INPUT);
    let text = err.to_string();
    assert!(text.starts_with("shop.yaml: "), "{text}");
    assert!(text.contains(&usd(dear.usd)), "{text}");
    assert!(text.contains("fargate.max_cost_usd $0.5000"), "{text}");
    assert!(
        text.contains("20 tasks × 1 vCPU, 2 GB, 3645 s billed each"),
        "{text}"
    );
    assert!(text.contains("help: use fewer workers"), "{text}");
}

#[test]
fn no_budget_allows_any_estimate() {
    let p = plan(3600, "");
    let dear = estimate(&p, 1000, "sa-east-1", CpuArch::X86_64, false);
    assert!(dear.usd > 50.0);
    assert!(check_budget(&p, &dear).is_ok());
}

#[test]
fn dollars_read_as_a_person_budgets_them() {
    assert_eq!(usd(0.01234), "$0.0123");
    assert_eq!(usd(1.234), "$1.23");
    assert_eq!(usd(1234.5), "$1,234.50");
    assert_eq!(usd(1_000_000.0), "$1,000,000.00");
    assert_eq!(usd(f64::NAN), "$?");
}

#[test]
fn the_cost_round_trips_through_json() {
    let p = plan(30, "fargate: { cpu: 512, memory: 1024, spot: true }\n");
    let run = RunCost {
        estimate: estimate(&p, 2, "ap-south-1", CpuArch::Arm64, true),
        actual: Some(actual(
            &p,
            "ap-south-1",
            CpuArch::Arm64,
            true,
            &[80.0, 90.0],
        )),
    };
    let text = serde_json::to_string(&run).expect("serializes");
    assert!(text.contains("\"arch\":\"arm64\""), "{text}");
    let back: RunCost = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, run);
    assert!(close(run.estimate.vcpu, 0.5));
    assert!(close(run.estimate.memory_gb, 1.0));
}

/// The summary's cost line, alone: the rest of the summary has snapshots of its own.
fn cost_lines(run: RunCost) -> String {
    let mut results = crate::report::fixtures::passing();
    results.executor = "fargate".to_string();
    results.cost = Some(run);
    crate::report::markdown(&results)
        .lines()
        .filter(|l| l.contains("Fargate cost"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_summary_shows_the_estimate_before_the_actual_is_known() {
    let p = plan(255, "");
    let line = cost_lines(RunCost {
        estimate: estimate(&p, 4, "eu-west-1", CpuArch::X86_64, false),
        actual: None,
    });
    insta::assert_snapshot!(line, @r"**Fargate cost:** about \$0.0181, estimated · 4 tasks × 1 vCPU, 2 GB, 300 s billed each, on-demand x86\_64 at eu-west-1 rates of 2026-11-26");
}

#[test]
fn the_summary_shows_the_actual_beside_the_estimate_and_a_fallback_region() {
    let p = plan(255, "fargate: { spot: true }\n");
    let line = cost_lines(RunCost {
        estimate: estimate(&p, 2, "xx-moon-1", CpuArch::Arm64, true),
        actual: Some(actual(
            &p,
            "xx-moon-1",
            CpuArch::Arm64,
            true,
            &[290.4, 611.0],
        )),
    });
    insta::assert_snapshot!(line, @r"**Fargate cost:** \$0.0047 (estimated \$0.0031) · 2 tasks × 1 vCPU, 2 GB, 451 s billed each, Spot arm64 at us-east-1 rates of 2026-11-26 (no rates for region \`xx-moon-1\`: us-east-1 rates used)");
}

#[test]
fn a_local_run_has_no_cost_line() {
    let md = crate::report::markdown(&crate::report::fixtures::passing());
    assert!(!md.contains("Fargate cost"), "{md}");
}

#[test]
fn validate_words_say_whether_the_estimate_fits_the_budget() {
    let p = plan(255, "fargate: { max_cost_usd: 0.01 }\n");
    assert!(scenario::wants_cost(&p));
    let words = scenario::cost_words(&p, &estimate(&p, 4, "", CpuArch::X86_64, false));
    insta::assert_snapshot!(words, @r"
    cost        about $0.0181 on Fargate: 4 tasks × 1 vCPU, 2 GB, 300 s billed each, on-demand x86_64 at us-east-1 rates of 2026-11-26; ABOVE fargate.max_cost_usd $0.0100
                no rates: no region given (--region, AWS_REGION), us-east-1 rates used
    ");
    let mut local = plan(10, "");
    local.workers = 1;
    assert!(!scenario::wants_cost(&local));
}
