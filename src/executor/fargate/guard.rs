//! Nothing the controller starts outlives it: every task ARN goes into the guard the moment RunTask
//! returns it, and the guard stops them all, explicitly at the end of the run and, should an early
//! return or a panic skip that, when it is dropped.

use crate::cloud::run::tasks;

pub struct TaskGuard {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    arns: Vec<String>,
    stopped: bool,
}

impl TaskGuard {
    pub fn new(ecs: aws_sdk_ecs::Client, cluster: String) -> TaskGuard {
        TaskGuard {
            ecs,
            cluster,
            arns: Vec::new(),
            stopped: false,
        }
    }

    pub fn add(&mut self, arns: &[String]) {
        self.arns.extend(arns.iter().cloned());
        self.stopped = false;
    }

    pub fn arns(&self) -> &[String] {
        &self.arns
    }

    /// StopTask on every task (harmless on a task that already ended). Returns what failed.
    pub async fn stop_all(&mut self, reason: &str) -> Vec<String> {
        if self.arns.is_empty() {
            return Vec::new();
        }
        let left = tasks::stop(&self.ecs, &self.cluster, &self.arns, reason).await;
        self.stopped = left.is_empty();
        left
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.stopped || self.arns.is_empty() {
            return;
        }
        // Drop may run inside the controller's runtime, which cannot be blocked on: a thread
        // with a runtime of its own makes the calls.
        let (ecs, cluster, arns) = (self.ecs.clone(), self.cluster.clone(), self.arns.clone());
        let worker = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            for l in rt.block_on(tasks::stop(
                &ecs,
                &cluster,
                &arns,
                "loadgate controller ended",
            )) {
                eprintln!("warning: {l}");
            }
        });
        let _ = worker.join();
    }
}
