//! The reconnect backoff rule: which endings of a session make the next attempt wait longer.
//!
//! Pure: the session passes in how its connection ended (and for how long it was Established);
//! the rule keeps the streak and answers the delay before jitter. A route server that restarts
//! (it closes the session with a Cease, or just closes the TCP connection) is not misbehaving, so
//! it is retried at the base delay however often it does so, as lelastic and GoBGP do; only
//! failures to establish and sessions ended by a protocol error make the wait grow.

use std::time::Duration;

/// Longest wait between connection attempts once failures repeat.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// A session that stayed Established this long before an error starts a new streak: the error
/// counts as the first failure, not as one more of an old series.
pub const STABLE_SESSION: Duration = Duration::from_secs(30);

/// How a connection, or an attempt at one, ended: all the backoff needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It never reached Established: connect refused or timed out, OPEN rejected, a
    /// NOTIFICATION sent or received in OpenSent or OpenConfirm.
    BeforeEstablished,
    /// It was Established, then an error NOTIFICATION (not a Cease) was sent or received.
    Error { established_for: Duration },
    /// It was Established, then the peer closed it with a Cease or a plain TCP close: a restart
    /// or a maintenance, retried at the base delay.
    PeerClosed,
    /// BFD saw the path fail and elastic closed the session (Cease / BFD Down): it says nothing
    /// about the peer's stability, so it is retried at the base delay too.
    PathFailed,
}

/// The streak of endings that count; it drives the doubling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    streak: u32,
}

impl Backoff {
    /// Records `ending` and returns the wait before the next attempt, before jitter: `base`
    /// doubled per counted ending in a row after the first, capped at [`MAX_RETRY_DELAY`].
    pub fn after(&mut self, ending: Ending, base: Duration) -> Duration {
        self.streak = match ending {
            Ending::PeerClosed | Ending::PathFailed => 0,
            Ending::Error { established_for } if established_for >= STABLE_SESSION => 1,
            Ending::Error { .. } | Ending::BeforeEstablished => self.streak.saturating_add(1),
        };
        let doublings = self.streak.saturating_sub(1).min(16);
        base.saturating_mul(1 << doublings).min(MAX_RETRY_DELAY)
    }

    /// Counted endings in a row (0 after a clean close by the peer).
    pub fn streak(&self) -> u32 {
        self.streak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(5);

    fn delays(endings: &[Ending]) -> Vec<u64> {
        let mut backoff = Backoff::default();
        endings
            .iter()
            .map(|&ending| backoff.after(ending, BASE).as_secs())
            .collect()
    }

    fn short_error() -> Ending {
        Ending::Error {
            established_for: Duration::from_secs(2),
        }
    }

    #[test]
    fn failures_before_established_double_up_to_a_minute() {
        assert_eq!(
            delays(&[Ending::BeforeEstablished; 7]),
            [5, 10, 20, 40, 60, 60, 60]
        );
    }

    #[test]
    fn a_route_server_restarting_over_and_over_is_retried_at_the_base_delay() {
        // 15 restarts a few seconds apart: each session is short, each ends with a Cease or a
        // close by the peer.
        assert_eq!(delays(&[Ending::PeerClosed; 15]), [5; 15]);
    }

    #[test]
    fn a_clean_close_by_the_peer_ends_a_streak_of_failures() {
        use Ending::{BeforeEstablished as Failed, PeerClosed};
        assert_eq!(
            delays(&[Failed, Failed, Failed, PeerClosed, Failed, Failed]),
            [5, 10, 20, 5, 5, 10]
        );
    }

    #[test]
    fn short_sessions_ended_by_an_error_count() {
        assert_eq!(delays(&[short_error(); 5]), [5, 10, 20, 40, 60]);
        assert_eq!(
            delays(&[Ending::BeforeEstablished, short_error(), short_error()]),
            [5, 10, 20]
        );
    }

    #[test]
    fn an_error_after_a_stable_session_starts_a_new_streak() {
        let stable_error = Ending::Error {
            established_for: STABLE_SESSION,
        };
        assert_eq!(
            delays(&[short_error(), short_error(), stable_error, short_error()]),
            [5, 10, 5, 10]
        );
    }

    #[test]
    fn the_streak_is_reported_and_cannot_overflow() {
        let mut backoff = Backoff {
            streak: u32::MAX - 1,
        };
        assert_eq!(
            backoff.after(Ending::BeforeEstablished, BASE),
            MAX_RETRY_DELAY
        );
        assert_eq!(
            backoff.after(Ending::BeforeEstablished, BASE),
            MAX_RETRY_DELAY
        );
        assert_eq!(backoff.streak(), u32::MAX);
        backoff.after(Ending::PeerClosed, BASE);
        assert_eq!(backoff.streak(), 0);
    }
}
