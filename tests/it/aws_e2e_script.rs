//! scripts/aws-e2e.sh can only run against AWS (.github/workflows/aws-e2e.yml); its dry run is
//! what CI can check: the steps in order, and policies that are the ones loadgate publishes.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn script(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts/aws-e2e.sh"))
        .args(args)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("LOADGATE_E2E_TARGET_URL")
        .env("LOADGATE_BIN", env!("CARGO_BIN_EXE_loadgate"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run scripts/aws-e2e.sh")
}

#[test]
fn the_dry_run_prints_the_steps_in_order_and_the_policies_it_needs() {
    let out = script(
        &["--dry-run"],
        &[
            ("AWS_REGION", "eu-west-1"),
            ("LOADGATE_E2E_TARGET_URL", "https://example.com"),
            ("LOADGATE_E2E_ACCOUNT", "123456789012"),
            ("LOADGATE_E2E_STACK", "e2e-1"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in\n{text}"))
    };
    let order = [
        at("stack deploy --stack-name e2e-1"),
        at("run e2e.yaml --executor fargate --workers 2"),
        at("runs --stack-name e2e-1"),
        at("stop RUN_ID"),
        at("no task of the stack's cluster is running"),
        at("no SSM parameter is left under /loadgate/e2e-1/runs"),
        at("stack destroy --yes"),
        at("the stack is gone"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "steps out of order:\n{text}"
    );

    let policy = |name: &str| -> Value {
        let start = at(&format!("--- policy: {name}"));
        let body = &text[start..];
        let body = &body[body.find('\n').expect("line") + 1..];
        let end = body.find("\n---").expect("end of the policy");
        serde_json::from_str(&body[..end]).unwrap_or_else(|e| panic!("{name}: {e}\n{body}"))
    };
    let actions = |p: &Value| p["Statement"].to_string();
    let deploy = policy("deploy");
    assert!(actions(&deploy).contains("cloudformation:CreateStack"));
    assert!(actions(&deploy).contains("ecs:ListTasks"));
    assert!(deploy
        .to_string()
        .contains("arn:aws:cloudformation:eu-west-1:123456789012:stack/e2e-1/*"));
    let run = policy("run");
    assert!(actions(&run).contains("ecs:RunTask"));
    let checks = policy("checks");
    assert!(checks.to_string().contains("/loadgate/e2e-1"), "{checks}");
}

#[test]
fn without_its_variables_the_script_refuses_to_start() {
    let out = script(&["--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOADGATE_E2E_TARGET_URL"));
}
