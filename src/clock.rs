//! The shell's one clock. Pure code (codec, sessions, health, announce, the daemon's plans) never
//! reads time: it is handed `now`. Everything else reads it here, and `clippy.toml` forbids the
//! other ways, so a `tokio::time::pause` test moves every deadline of the daemon at once.
#![allow(
    clippy::disallowed_methods,
    reason = "the one place that reads the clocks"
)]

use std::time::{Instant, SystemTime};

/// The monotonic clock, read through tokio so paused-time tests see the same time as tokio's
/// timers. Outside a runtime (or without paused time) it is the system's monotonic clock.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Wall-clock time, for what is shown to people (start time, first-seen times of routes).
pub fn system_now() -> SystemTime {
    SystemTime::now()
}

/// Sleeps until `deadline` on tokio's clock; with none, forever (a `select!` arm that never
/// fires while a state machine has no timer armed).
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
