//! The signals that cancel: SIGINT (Ctrl-C, and what a cancelled GitHub job sends first) and
//! SIGTERM (what it sends 7.5 s later, what StopTask and Spot send, and all some runners send).
//! One future for both, so no wait (load, stack, tasks) honours one and ignores the other.

#[cfg(unix)]
pub async fn termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
pub async fn termination() {
    let _ = tokio::signal::ctrl_c().await;
}
