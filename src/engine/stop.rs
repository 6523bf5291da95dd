//! The stop signal: Ctrl-C, an abort threshold or the Fargate controller end a run through it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Cloneable stop signal shared by all engine threads (and later by the Fargate worker).
///
/// `Notify` is not tied to a runtime, so one `Stop` can be awaited from every engine thread's
/// current_thread runtime and triggered from a plain thread (a signal handler's).
#[derive(Clone, Debug, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    triggered: AtomicBool,
    notify: Notify,
}

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        self.inner.triggered.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// Resolves when triggered (at once if it already was); usable from any runtime.
    pub async fn wait(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Registering before the check closes the race with a trigger in between:
            // notify_waiters only wakes futures that are already enabled.
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_resolves_after_a_trigger_from_another_thread() {
        let stop = Stop::new();
        let other = stop.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let waiter = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            other.trigger();
        });
        rt.block_on(stop.wait());
        assert!(stop.is_triggered());
        waiter.join().unwrap();
        // Once triggered, wait returns at once.
        rt.block_on(stop.wait());
    }

    #[test]
    fn a_new_stop_is_not_triggered() {
        assert!(!Stop::new().is_triggered());
    }
}
