//! Where environment variables come from: the process in production, a map or a closure in tests.
//! One abstraction for every reader (`${VAR}` in scenarios, CI detection, branch resolution).

use std::collections::HashMap;

pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The environment of this process.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}
