//! systemd integration (sd_notify(3)): READY once sessions start, a one-line STATUS, WATCHDOG
//! pings from the event loop, STOPPING on the way out. Without `$NOTIFY_SOCKET` (not started by
//! systemd) every call does nothing, so the daemon runs the same in a terminal.
//!
//! Hand-written rather than the `sd-notify` crate: its send blocks while the receiver's queue is
//! full, and these calls come from the event loop, which must never block. Here the datagram is
//! sent non-blocking; a notification that does not fit is dropped (systemd's own timeouts report
//! a daemon that truly stopped talking).

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::debug;

/// Start-up is done: configuration loaded, addresses bound, sessions started.
pub fn ready(status: &str) {
    send(&format!("READY=1\nSTATUS={status}\n"));
}

/// A one-line summary for `systemctl status`.
pub fn status(line: &str) {
    send(&format!("STATUS={line}\n"));
}

/// The event loop is alive.
pub fn watchdog() {
    send("WATCHDOG=1\n");
}

pub fn stopping() {
    send("STOPPING=1\nSTATUS=stopping\n");
}

/// How often to ping when the unit sets `WatchdogSec=`: half the timeout, as sd_watchdog_enabled(3)
/// recommends. `None` when no watchdog is asked for, or it is meant for another process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec) / 2)
}

fn send(message: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(error) = send_to(&path, message) {
        debug!(%error, "sd_notify failed");
    }
}

fn send_to(path: &OsStr, message: &str) -> std::io::Result<()> {
    // "@name" is a socket in the abstract namespace; anything else a path.
    let address = match path.as_bytes().strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(path)?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    socket.send_to_addr(message.as_bytes(), &address)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_receiver_never_blocks_the_sender() {
        let dir = std::env::temp_dir().join(format!("el-sdnotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        // Nobody reads: after the queue fills up, sends fail at once instead of blocking.
        let mut refused = 0;
        for _ in 0..10_000 {
            if send_to(path.as_os_str(), "WATCHDOG=1\n").is_err() {
                refused += 1;
            }
        }
        assert!(refused > 0, "the queue never filled");
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1\n");
        std::fs::remove_dir_all(&dir).ok();
    }
}
