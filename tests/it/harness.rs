//! A small builder that keeps tests short: a scenario in a temp dir, a target, one command.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use loadgate::target::{Route, Target};
use serde_json::Value;

pub struct Test {
    dir: tempfile::TempDir,
    scenario: Option<String>,
    routes: Vec<Route>,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
    pub target: Option<Target>,
    // Keeps the directory alive while the test reads it.
    _dir: tempfile::TempDir,
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("temp dir"),
            scenario: None,
            routes: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The directory the command runs in (the scenario's and the reports' directory).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The scenario file `loadgate.yaml`; `{target}` is replaced by the target's URL.
    pub fn scenario(mut self, yaml: &str) -> Test {
        self.scenario = Some(yaml.to_string());
        self
    }

    /// Starts a target with these routes before the command runs.
    pub fn target(mut self, routes: Vec<Route>) -> Test {
        self.routes = routes;
        self
    }

    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn file(self, name: &str, contents: &str) -> Test {
        std::fs::write(self.dir.path().join(name), contents).expect("write file");
        self
    }

    fn prepare(&self) -> (Option<Target>, Command) {
        let target = if self.routes.is_empty() {
            None
        } else {
            Some(Target::start(self.routes.clone()).expect("target starts"))
        };
        if let Some(yaml) = &self.scenario {
            let url = target.as_ref().map_or_else(
                // Nothing listens on port 9 of loopback (discard): connections are refused.
                || "http://127.0.0.1:9".to_string(),
                |t| t.url(),
            );
            std::fs::write(
                self.dir.path().join("loadgate.yaml"),
                yaml.replace("{target}", &url),
            )
            .expect("write scenario");
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgate"));
        cmd.current_dir(self.dir.path())
            .args(&self.args)
            .env("CI", "true")
            .env_remove("LOADGATE_OUT")
            .env_remove("LOADGATE_THREADS")
            // Tests that run inside a CI must not publish to it; tests/it/ci.rs sets these itself.
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        (target, cmd)
    }

    pub fn run(self) -> Ran {
        let (target, mut cmd) = self.prepare();
        let out = cmd.output().expect("loadgate runs");
        self.finish(target, out)
    }

    /// Starts the command and hands the child to `during` (to signal it), then waits.
    pub fn run_with(self, during: impl FnOnce(&mut Child)) -> Ran {
        let (target, mut cmd) = self.prepare();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("loadgate starts");
        during(&mut child);
        let out = child.wait_with_output().expect("loadgate ends");
        self.finish(target, out)
    }

    /// [`Test::run_with`], with the target too, so that `during` can wait for the load to reach it.
    pub fn run_with_target(self, during: impl FnOnce(&mut Child, &Target)) -> Ran {
        let (target, mut cmd) = self.prepare();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("loadgate starts");
        during(
            &mut child,
            target.as_ref().expect("the test starts a target"),
        );
        let out = child.wait_with_output().expect("loadgate ends");
        self.finish(target, out)
    }

    fn finish(self, target: Option<Target>, out: Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir: self.dir.path().to_path_buf(),
            target,
            _dir: self.dir,
        }
    }
}

impl Ran {
    pub fn results(&self) -> Value {
        self.json("loadgate-report/results.json")
    }

    pub fn json(&self, rel: &str) -> Value {
        let text = std::fs::read_to_string(self.dir.join(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}\nstderr:\n{}", self.stderr));
        serde_json::from_str(&text).expect("valid JSON")
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn target(&self) -> &Target {
        self.target.as_ref().expect("the test started a target")
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn code(&self, expected: i32) -> &Ran {
        assert_eq!(
            self.code, expected,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}
