//! The action's run step (taken from action.yml as the runner would) with a fake `loadgate` on
//! PATH: the flags its inputs become, `exec` (so a cancelled job's signal reaches loadgate), and
//! `fail-on-threshold: false`.

use std::path::Path;
use std::process::{Command, Output};

/// The `run:` script of the step with this id in action.yml.
fn step_script(id: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"))
        .expect("action.yml");
    let action: serde_json::Value = serde_saphyr::from_str(&text).expect("action.yml is YAML");
    action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .and_then(|s| s["run"].as_str())
        .expect("the step has a run script")
        .to_string()
}

/// Runs the `run` step as GitHub does (`bash --noprofile --norc -eo pipefail`), with a fake
/// loadgate that records its pid and arguments and exits with `code`. The flag says whether the
/// fake ran in the shell's own process (`exec`).
fn run_step(inputs: &[(&str, &str)], code: i32) -> (Output, bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = dir.path().join("loadgate");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$$\" > \"{0}/pid\"\nprintf '%s\\n' \"$@\" > \"{0}/args\"\nexit {code}\n",
            dir.path().display()
        ),
    )
    .expect("write fake");
    Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .expect("chmod");
    let script = dir.path().join("step.sh");
    std::fs::write(&script, step_script("run")).expect("write step");
    let defaults = [
        ("INPUT_SCENARIO", "loadgate.yaml"),
        ("INPUT_EXECUTOR", "local"),
        ("INPUT_WORKERS", ""),
        ("INPUT_AWS_REGION", ""),
        ("INPUT_STACK_NAME", ""),
        ("INPUT_COMMENT", "true"),
        ("INPUT_FAIL_ON_THRESHOLD", "true"),
        ("INPUT_ARGS", ""),
    ];
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .env("PATH", path);
    for (k, v) in defaults.iter().chain(inputs) {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bash");
    let shell_pid = child.id();
    let out = child.wait_with_output().expect("step ends");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let pid: u32 = read("pid").trim().parse().unwrap_or(0);
    (out, pid == shell_pid, read("args"))
}

#[test]
fn inputs_become_flags_and_loadgate_replaces_the_shell() {
    let (out, exec, args) = run_step(
        &[
            ("INPUT_SCENARIO", "load/api.yaml"),
            ("INPUT_WORKERS", "4"),
            ("INPUT_COMMENT", "false"),
            ("INPUT_ARGS", "--threads 2  --out reports"),
        ],
        1,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed threshold fails the step"
    );
    assert!(exec, "exec: loadgate is the step's first process");
    assert_eq!(
        args,
        "run\nload/api.yaml\n--executor\nlocal\n--workers\n4\n--no-comment\n--threads\n2\n--out\nreports\n"
    );
}

#[test]
fn fail_on_threshold_false_passes_a_failed_threshold_but_not_an_error() {
    let inputs = [("INPUT_FAIL_ON_THRESHOLD", "false")];
    let (out, _, args) = run_step(&inputs, 1);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("::notice title=loadgate::a threshold failed; the step passes"));
    assert_eq!(args, "run\nloadgate.yaml\n--executor\nlocal\n");
    let (out, _, _) = run_step(&inputs, 3);
    assert_eq!(
        out.status.code(),
        Some(3),
        "infrastructure errors still fail"
    );
    let (out, _, _) = run_step(&inputs, 0);
    assert_eq!(out.status.code(), Some(0));
}
