//! The stop sequence as a pure machine: signals, timeouts and "the sessions are done" go in,
//! [`Step`]s come out; the daemon's loop carries them out. No clock is read here: `now` is
//! passed in, as in the session FSM.
//!
//! A planned stop is a graceful shutdown (RFC 8326): the first signal re-announces every route
//! with GRACEFUL_SHUTDOWN for `drain_time` while the host keeps serving; then everything is
//! withdrawn and the sessions get [`WITHDRAW_GRACE`] to send it; then the Cease, with
//! [`STOP_GRACE`] to close. Each further signal cuts the current wait short: the second skips the
//! drain, the third the withdrawal wait, the fourth the Cease wait. No drain when `drain_time` is
//! 0, after `elastic drain` (the route servers moved the traffic already) or when nothing is
//! announced.

use std::time::{Duration, Instant};

/// How long the sessions get to send their withdrawals on stop, before the Cease.
pub(super) const WITHDRAW_GRACE: Duration = Duration::from_secs(2);
/// How long the sessions get to send their Cease on stop (and a restarted one on reload).
pub(super) const STOP_GRACE: Duration = Duration::from_secs(3);

/// Where the stop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Announcing GRACEFUL_SHUTDOWN, still serving, until `until`.
    Draining {
        signal: &'static str,
        until: Instant,
    },
    /// Everything withdrawn; the sessions send it until `until`.
    Withdrawing {
        signal: &'static str,
        until: Instant,
    },
    /// Cease sent; the sessions close until `until`.
    Closing {
        until: Instant,
    },
    Done,
}

/// The daemon as it is when an input arrives.
#[derive(Debug, Clone, Copy)]
pub(super) struct Facts {
    pub(super) drain_time: Duration,
    /// `elastic drain` is in force.
    pub(super) drained_already: bool,
    /// The desired route set is not empty.
    pub(super) announcing: bool,
}

/// What the loop does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Tell systemd the service is stopping (once).
    NotifyStopping,
    /// Announce every route with GRACEFUL_SHUTDOWN from now on, naming the signal.
    Drain { signal: &'static str },
    /// Keep serving drained until `until`.
    Serve {
        until: Instant,
        drain_time: Duration,
    },
    /// Why the drain is skipped or over (logged).
    EndDrain(DrainEnd),
    /// Withdraw every route; the sessions have until `until` to send it.
    Withdraw { until: Instant },
    /// A wait was cut short (logged).
    Cut(Cut),
    /// Send the Cease (administrative shutdown) naming `signal`; the sessions have until `until`.
    Cease {
        signal: &'static str,
        until: Instant,
    },
    /// Stop waiting: unbind what elastic bound and return.
    Exit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DrainEnd {
    DrainTimeZero,
    DrainedAlready,
    NothingAnnounced,
    SecondSignal,
    TimeOver,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    /// Another signal during the withdrawal wait: the Cease goes at once.
    WithdrawBySignal,
    /// The withdrawal wait ran out.
    WithdrawTimedOut,
    /// Another signal during the Cease wait: exit at once.
    CloseBySignal,
    /// The Cease wait ran out.
    CloseTimedOut,
}

/// The stop sequence; see the module doc.
#[derive(Debug)]
pub(super) struct Shutdown {
    phase: Phase,
}

impl Shutdown {
    pub(super) fn new() -> Shutdown {
        Shutdown {
            phase: Phase::Running,
        }
    }

    /// A stop has begun: SIGHUP is ignored and `elastic drain` refused from now on.
    pub(super) fn stopping(&self) -> bool {
        self.phase != Phase::Running
    }

    /// Still serving (running or draining): the loop handles every input.
    pub(super) fn serving(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Draining { .. })
    }

    pub(super) fn withdrawing(&self) -> bool {
        matches!(self.phase, Phase::Withdrawing { .. })
    }

    pub(super) fn closing(&self) -> bool {
        matches!(self.phase, Phase::Closing { .. })
    }

    pub(super) fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// When [`Shutdown::handle_timeout`] is due.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Draining { until, .. }
            | Phase::Withdrawing { until, .. }
            | Phase::Closing { until } => Some(until),
            Phase::Running | Phase::Done => None,
        }
    }

    /// SIGTERM or SIGINT.
    pub(super) fn on_signal(
        &mut self,
        signal: &'static str,
        now: Instant,
        facts: Facts,
    ) -> Vec<Step> {
        match self.phase {
            Phase::Running => {
                let mut steps = vec![Step::NotifyStopping];
                if facts.drain_time.is_zero() {
                    steps.push(Step::EndDrain(DrainEnd::DrainTimeZero));
                    steps.extend(self.withdraw(signal, now, facts.announcing));
                    return steps;
                }
                steps.push(Step::Drain { signal });
                let skip = if facts.drained_already {
                    Some(DrainEnd::DrainedAlready)
                } else if !facts.announcing {
                    Some(DrainEnd::NothingAnnounced)
                } else {
                    None
                };
                match skip {
                    Some(why) => {
                        steps.push(Step::EndDrain(why));
                        steps.extend(self.withdraw(signal, now, facts.announcing));
                    }
                    None => {
                        let until = now + facts.drain_time;
                        self.phase = Phase::Draining { signal, until };
                        steps.push(Step::Serve {
                            until,
                            drain_time: facts.drain_time,
                        });
                    }
                }
                steps
            }
            // The stop keeps the first signal's name.
            Phase::Draining { signal: first, .. } => {
                let mut steps = vec![Step::EndDrain(DrainEnd::SecondSignal)];
                steps.extend(self.withdraw(first, now, facts.announcing));
                steps
            }
            Phase::Withdrawing { signal, .. } => {
                let mut steps = vec![Step::Cut(Cut::WithdrawBySignal)];
                steps.extend(self.cease(signal, now));
                steps
            }
            Phase::Closing { .. } => {
                self.phase = Phase::Done;
                vec![Step::Cut(Cut::CloseBySignal), Step::Exit]
            }
            Phase::Done => Vec::new(),
        }
    }

    /// The time from [`Shutdown::poll_timeout`] came; `announcing` as in [`Facts`].
    pub(super) fn handle_timeout(&mut self, now: Instant, announcing: bool) -> Vec<Step> {
        match self.phase {
            Phase::Draining { signal, until } if now >= until => {
                let mut steps = vec![Step::EndDrain(DrainEnd::TimeOver)];
                steps.extend(self.withdraw(signal, now, announcing));
                steps
            }
            Phase::Withdrawing { signal, until } if now >= until => {
                let mut steps = vec![Step::Cut(Cut::WithdrawTimedOut)];
                steps.extend(self.cease(signal, now));
                steps
            }
            Phase::Closing { until } if now >= until => {
                self.phase = Phase::Done;
                vec![Step::Cut(Cut::CloseTimedOut), Step::Exit]
            }
            _ => Vec::new(),
        }
    }

    /// Every Established session has sent the withdrawals.
    pub(super) fn on_withdrawn(&mut self, now: Instant) -> Vec<Step> {
        match self.phase {
            Phase::Withdrawing { signal, .. } => self.cease(signal, now),
            _ => Vec::new(),
        }
    }

    /// Every session has closed.
    pub(super) fn on_closed(&mut self) -> Vec<Step> {
        match self.phase {
            Phase::Closing { .. } => {
                self.phase = Phase::Done;
                vec![Step::Exit]
            }
            _ => Vec::new(),
        }
    }

    /// Withdraws what is announced (the Cease must not overtake the withdrawals), else goes
    /// straight to the Cease.
    fn withdraw(&mut self, signal: &'static str, now: Instant, announcing: bool) -> Vec<Step> {
        if !announcing {
            return self.cease(signal, now);
        }
        let until = now + WITHDRAW_GRACE;
        self.phase = Phase::Withdrawing { signal, until };
        vec![Step::Withdraw { until }]
    }

    fn cease(&mut self, signal: &'static str, now: Instant) -> Vec<Step> {
        let until = now + STOP_GRACE;
        self.phase = Phase::Closing { until };
        vec![Step::Cease { signal, until }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAIN: Duration = Duration::from_secs(30);

    fn facts() -> Facts {
        Facts {
            drain_time: DRAIN,
            drained_already: false,
            announcing: true,
        }
    }

    /// A stop that started draining at `t0`.
    fn draining(t0: Instant) -> Shutdown {
        let mut stop = Shutdown::new();
        stop.on_signal("SIGTERM", t0, facts());
        stop
    }

    #[test]
    fn first_signal_drains_for_drain_time_while_serving() {
        let t0 = crate::clock::now();
        let mut stop = Shutdown::new();
        let steps = stop.on_signal("SIGTERM", t0, facts());
        assert_eq!(
            steps,
            [
                Step::NotifyStopping,
                Step::Drain { signal: "SIGTERM" },
                Step::Serve {
                    until: t0 + DRAIN,
                    drain_time: DRAIN
                },
            ]
        );
        assert!(stop.stopping() && stop.serving());
        assert_eq!(stop.poll_timeout(), Some(t0 + DRAIN));
        // Early: nothing happens.
        assert!(
            stop.handle_timeout(t0 + DRAIN - Duration::from_millis(1), true)
                .is_empty()
        );
    }

    #[test]
    fn drain_over_withdraws_then_ceases_once_withdrawn_then_exits_once_closed() {
        let t0 = crate::clock::now();
        let mut stop = draining(t0);
        let over = t0 + DRAIN;
        assert_eq!(
            stop.handle_timeout(over, true),
            [
                Step::EndDrain(DrainEnd::TimeOver),
                Step::Withdraw {
                    until: over + WITHDRAW_GRACE
                },
            ]
        );
        assert!(stop.withdrawing() && !stop.serving());
        let sent = over + Duration::from_millis(40);
        assert_eq!(
            stop.on_withdrawn(sent),
            [Step::Cease {
                signal: "SIGTERM",
                until: sent + STOP_GRACE
            }]
        );
        assert!(stop.closing());
        assert_eq!(stop.on_closed(), [Step::Exit]);
        assert!(stop.done());
        assert_eq!(stop.poll_timeout(), None);
    }

    #[test]
    fn second_signal_skips_the_drain() {
        let t0 = crate::clock::now();
        let mut stop = draining(t0);
        let second = t0 + Duration::from_secs(1);
        assert_eq!(
            stop.on_signal("SIGINT", second, facts()),
            [
                Step::EndDrain(DrainEnd::SecondSignal),
                // The stop keeps the first signal's name.
                Step::Withdraw {
                    until: second + WITHDRAW_GRACE
                },
            ]
        );
        assert_eq!(
            stop.on_withdrawn(second),
            [Step::Cease {
                signal: "SIGTERM",
                until: second + STOP_GRACE
            }]
        );
    }

    #[test]
    fn third_signal_skips_the_withdrawal_wait_and_a_fourth_the_cease_wait() {
        let t0 = crate::clock::now();
        let mut stop = draining(t0);
        stop.on_signal("SIGTERM", t0, facts());
        assert_eq!(
            stop.on_signal("SIGTERM", t0, facts()),
            [
                Step::Cut(Cut::WithdrawBySignal),
                Step::Cease {
                    signal: "SIGTERM",
                    until: t0 + STOP_GRACE
                },
            ]
        );
        assert_eq!(
            stop.on_signal("SIGTERM", t0, facts()),
            [Step::Cut(Cut::CloseBySignal), Step::Exit]
        );
        assert!(stop.on_signal("SIGTERM", t0, facts()).is_empty());
    }

    #[test]
    fn after_an_immediate_stop_the_second_signal_skips_the_withdrawal_wait() {
        let t0 = crate::clock::now();
        let mut stop = Shutdown::new();
        let immediate = Facts {
            drain_time: Duration::ZERO,
            ..facts()
        };
        stop.on_signal("SIGTERM", t0, immediate);
        assert_eq!(
            stop.on_signal("SIGINT", t0, immediate),
            [
                Step::Cut(Cut::WithdrawBySignal),
                Step::Cease {
                    signal: "SIGTERM",
                    until: t0 + STOP_GRACE
                },
            ]
        );
    }

    #[test]
    fn drain_time_zero_stops_at_once_without_graceful_shutdown() {
        let t0 = crate::clock::now();
        let mut stop = Shutdown::new();
        let steps = stop.on_signal(
            "SIGINT",
            t0,
            Facts {
                drain_time: Duration::ZERO,
                ..facts()
            },
        );
        assert_eq!(
            steps,
            [
                Step::NotifyStopping,
                Step::EndDrain(DrainEnd::DrainTimeZero),
                Step::Withdraw {
                    until: t0 + WITHDRAW_GRACE
                },
            ]
        );
    }

    #[test]
    fn after_elastic_drain_a_signal_stops_without_waiting() {
        let t0 = crate::clock::now();
        let mut stop = Shutdown::new();
        let steps = stop.on_signal(
            "SIGTERM",
            t0,
            Facts {
                drained_already: true,
                ..facts()
            },
        );
        // The reason shown becomes the stop, but nobody waits for the drain again.
        assert_eq!(
            steps,
            [
                Step::NotifyStopping,
                Step::Drain { signal: "SIGTERM" },
                Step::EndDrain(DrainEnd::DrainedAlready),
                Step::Withdraw {
                    until: t0 + WITHDRAW_GRACE
                },
            ]
        );
    }

    #[test]
    fn nothing_announced_means_nothing_to_drain_and_nothing_to_withdraw() {
        let t0 = crate::clock::now();
        let mut stop = Shutdown::new();
        let steps = stop.on_signal(
            "SIGTERM",
            t0,
            Facts {
                announcing: false,
                ..facts()
            },
        );
        assert_eq!(
            steps,
            [
                Step::NotifyStopping,
                Step::Drain { signal: "SIGTERM" },
                Step::EndDrain(DrainEnd::NothingAnnounced),
                Step::Cease {
                    signal: "SIGTERM",
                    until: t0 + STOP_GRACE
                },
            ]
        );
    }

    #[test]
    fn routes_gone_during_the_drain_skip_the_withdrawal() {
        let t0 = crate::clock::now();
        let mut stop = draining(t0);
        assert_eq!(
            stop.handle_timeout(t0 + DRAIN, false),
            [
                Step::EndDrain(DrainEnd::TimeOver),
                Step::Cease {
                    signal: "SIGTERM",
                    until: t0 + DRAIN + STOP_GRACE
                },
            ]
        );
    }

    #[test]
    fn slow_sessions_get_two_seconds_to_withdraw_and_three_to_close() {
        let t0 = crate::clock::now();
        let mut stop = Shutdown::new();
        let now_stop = Facts {
            drain_time: Duration::ZERO,
            ..facts()
        };
        stop.on_signal("SIGTERM", t0, now_stop);
        assert_eq!(stop.poll_timeout(), Some(t0 + Duration::from_secs(2)));
        let late = t0 + Duration::from_secs(2);
        assert_eq!(
            stop.handle_timeout(late, true),
            [
                Step::Cut(Cut::WithdrawTimedOut),
                Step::Cease {
                    signal: "SIGTERM",
                    until: late + Duration::from_secs(3)
                },
            ]
        );
        // A late "withdrawn" changes nothing once the Cease went.
        assert!(stop.on_withdrawn(late).is_empty());
        assert_eq!(
            stop.handle_timeout(late + Duration::from_secs(3), true),
            [Step::Cut(Cut::CloseTimedOut), Step::Exit]
        );
    }

    #[test]
    fn running_daemon_is_not_stopping_and_ignores_session_news() {
        let mut stop = Shutdown::new();
        assert!(!stop.stopping() && stop.serving());
        assert!(stop.on_withdrawn(crate::clock::now()).is_empty());
        assert!(stop.on_closed().is_empty());
        assert_eq!(stop.poll_timeout(), None);
    }
}
