//! Supervision: a panic anywhere becomes an orderly stop and a non-zero exit.
//!
//! tokio catches the panic of a spawned task and nobody awaits those handles, so a panicked
//! session would keep its last status (say Established) and a panicked probe its last verdict
//! (failing open if that was up). Instead, the panic hook tells the daemon, which then stops as
//! on SIGTERM (drain, withdraw, Cease, unbind) and exits with status 1, so systemd's
//! `Restart=on-failure` starts a clean daemon.

use tokio::sync::mpsc;

use super::OperatorEvent;

/// What the stop names as its cause (logs, and the Cease's shutdown message).
pub const PANIC: &str = "panic";

/// Installs the panic hook: the usual report first (the previous hook), then
/// [`OperatorEvent::Panicked`] to the daemon. Applies to every thread of the process.
pub fn forward_panics(events: mpsc::Sender<OperatorEvent>) {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        // Full or closed: a stop is under way already, or the daemon is gone.
        let _ = events.try_send(OperatorEvent::Panicked);
    }));
}
