//! `loadgate stack policy`: printed without any AWS call.

use serde_json::Value;

use crate::harness::Test;

fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    policy["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Sid"] == sid))
        .unwrap_or_else(|| panic!("no statement {sid} in {policy}"))
}

#[test]
fn run_policy_is_json_on_stdout_scoped_to_the_stack() {
    let ran = Test::new()
        .args(&[
            "stack",
            "policy",
            "--run",
            "--stack-name",
            "perf",
            "--region",
            "eu-west-1",
            "--account",
            "123456789012",
        ])
        .run();
    ran.code(0);
    let policy: Value = serde_json::from_str(&ran.stdout).expect("stdout is the policy");
    assert_eq!(
        statement(&policy, "Stack")["Resource"][0],
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/perf/*"
    );
    assert!(ran.stderr.is_empty(), "{}", ran.stderr);
}

#[test]
fn deploy_policy_warns_that_it_is_powerful_and_reads_the_stack_name_from_the_environment() {
    let ran = Test::new()
        .env("LOADGATE_STACK_NAME", "ci")
        .args(&["stack", "policy", "--deploy"])
        .run();
    ran.code(0);
    let policy: Value = serde_json::from_str(&ran.stdout).expect("stdout is the policy");
    assert_eq!(
        statement(&policy, "Stack")["Resource"][0],
        "arn:aws:cloudformation:*:*:stack/ci/*"
    );
    assert!(ran.stderr.contains("creates IAM roles"), "{}", ran.stderr);
}

#[test]
fn policy_needs_exactly_one_of_deploy_and_run() {
    Test::new().args(&["stack", "policy"]).run().code(2);
    Test::new()
        .args(&["stack", "policy", "--deploy", "--run"])
        .run()
        .code(2);
}

#[test]
fn a_bad_stack_name_or_account_is_invalid_input() {
    let ran = Test::new()
        .args(&["stack", "policy", "--run", "--stack-name", "my_stack"])
        .run();
    ran.code(2);
    assert!(
        ran.stderr.contains("invalid stack name `my_stack`"),
        "{}",
        ran.stderr
    );
    let ran = Test::new()
        .args(&["stack", "policy", "--run", "--account", "42"])
        .run();
    ran.code(2);
    assert!(ran.stderr.contains("12 digits"), "{}", ran.stderr);
}
