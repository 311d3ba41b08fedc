//! systemd integration (sd_notify(3)): READY once sessions start, a one-line STATUS, WATCHDOG
//! pings from the event loop, STOPPING on the way out. Without `$NOTIFY_SOCKET` (not started by
//! systemd) every call does nothing, so the daemon runs the same in a terminal.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::debug;

/// Start-up is done: configuration loaded, addresses bound, sessions started.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A one-line summary for `systemctl status`.
pub fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// The event loop is alive.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// How often to ping when the unit sets `WatchdogSec=`: half the timeout, as sd_watchdog_enabled(3)
/// recommends. `None` when no watchdog is asked for.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}

fn send(states: &[NotifyState]) {
    // A lost notification is not worth failing over: systemd times out and says so itself.
    if let Err(error) = sd_notify::notify(states) {
        debug!(%error, "sd_notify failed");
    }
}
