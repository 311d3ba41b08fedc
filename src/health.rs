//! Pure health state: rise/fall per probe, and per service the state that decides what its
//! addresses announce (probes, maintenance, `announce_delay`, `preempt`).
//!
//! Rules (the ones the README's "Configuration file" section states):
//! - A probe starts *waiting*: it has no verdict until `rise` passes in a row (→ up) or `fall`
//!   failures in a row (→ down). A mixed result restarts the count.
//! - Once it has a verdict, `fall` failures in a row turn up into down and `rise` passes turn down
//!   into up; one odd result only starts counting (and switches to the fast interval).
//! - A failure known for certain at once (an event: the watched process exited, the listening
//!   socket closed; an exec check killed by a signal; a refused connection with `fast_fail`) turns
//!   the probe down at once, without counting to `fall`, also while it waits. Events only ever
//!   lower health at once: the way up still takes `rise` passes.
//! - A service is *waiting* while any of its probes is, *down* when any is down, else *up*. Its
//!   addresses are not announced while it waits: nothing is announced before the probes' verdict.
//! - The maintenance file overrides everything: *maintenance*.
//! - A service that recovers after having been up waits `announce_delay` in *delayed* first.
//! - With `preempt: false`, a service that went down after having been up comes back as
//!   secondary ([`ServiceHealth::held_secondary`]) until SIGHUP or a restart.
//!
//! No clock: `now` is passed in and deadlines are returned.

use std::time::{Duration, Instant};

/// A probe's counters. `verdict` is `None` until the first verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeHealth {
    rise: u32,
    fall: u32,
    verdict: Option<bool>,
    /// Results in a row that disagree with the verdict (or, while waiting, agree with each other):
    /// positive for passes, negative for failures.
    streak: i64,
    pub successes: u64,
    pub failures: u64,
}

impl ProbeHealth {
    pub fn new(rise: u32, fall: u32) -> Self {
        ProbeHealth {
            rise: rise.max(1),
            fall: fall.max(1),
            verdict: None,
            streak: 0,
            successes: 0,
            failures: 0,
        }
    }

    /// Records one result; returns the new verdict when it changed.
    pub fn observe(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.successes += 1;
        } else {
            self.failures += 1;
        }
        if self.verdict == Some(ok) {
            self.streak = 0;
            return None;
        }
        self.streak = match (ok, self.streak) {
            (true, n) if n > 0 => n + 1,
            (true, _) => 1,
            (false, n) if n < 0 => n - 1,
            (false, _) => -1,
        };
        let needed = if ok { self.rise } else { self.fall };
        if self.streak.unsigned_abs() >= u64::from(needed) {
            self.verdict = Some(ok);
            self.streak = 0;
            return Some(ok);
        }
        None
    }

    /// Records a failure that is certain at once ([`ProbeHealth`]'s rules): down now, whatever
    /// the count. Returns `Some(false)` when the verdict changed.
    pub fn observe_down_now(&mut self) -> Option<bool> {
        self.failures += 1;
        self.streak = 0;
        let changed = self.verdict != Some(false);
        self.verdict = Some(false);
        changed.then_some(false)
    }

    pub fn verdict(&self) -> Option<bool> {
        self.verdict
    }

    /// Waiting, rising or falling: the probe runs at its fast interval.
    pub fn changing(&self) -> bool {
        self.verdict.is_none() || self.streak != 0
    }

    /// "up", "down", "waiting", "rising 1/2", "falling 1/3", "waiting, rising 1/2".
    pub fn describe(&self) -> String {
        let counting = match self.streak {
            0 => None,
            n if n > 0 => Some(format!("rising {n}/{}", self.rise)),
            n => Some(format!("falling {}/{}", -n, self.fall)),
        };
        match (self.verdict, counting) {
            (None, None) => "waiting".to_string(),
            (None, Some(c)) => format!("waiting, {c}"),
            (Some(_), Some(c)) => c,
            (Some(true), None) => "up".to_string(),
            (Some(false), None) => "down".to_string(),
        }
    }
}

/// What a service is doing, as hooks and the status API name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// Some probe has no verdict yet (only at start): nothing announced.
    Waiting,
    Up,
    /// Recovered, sitting out `announce_delay`; announced as when down.
    Delayed,
    Down,
    /// The maintenance file exists.
    Maintenance,
}

impl ServiceState {
    pub fn name(self) -> &'static str {
        match self {
            ServiceState::Waiting => "waiting",
            ServiceState::Up => "up",
            ServiceState::Delayed => "delayed",
            ServiceState::Down => "down",
            ServiceState::Maintenance => "maintenance",
        }
    }
}

/// A state change, for logs and hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub from: ServiceState,
    pub to: ServiceState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHealth {
    announce_delay: Duration,
    preempt: bool,
    state: ServiceState,
    /// The probes' combined verdict: `None` while any waits.
    probes: Option<bool>,
    maintenance: bool,
    /// Up at least once since start (a later up is a recovery).
    ever_up: bool,
    delayed_until: Option<Instant>,
    held_secondary: bool,
}

impl ServiceHealth {
    pub fn new(announce_delay: Duration, preempt: bool) -> Self {
        ServiceHealth {
            announce_delay,
            preempt,
            state: ServiceState::Waiting,
            probes: None,
            maintenance: false,
            ever_up: false,
            delayed_until: None,
            held_secondary: false,
        }
    }

    pub fn state(&self) -> ServiceState {
        self.state
    }

    /// The probes' combined verdict (`None` while waiting).
    pub fn probes_verdict(&self) -> Option<bool> {
        self.probes
    }

    /// `preempt: false` after a failure: announce as secondary even when up.
    pub fn held_secondary(&self) -> bool {
        self.held_secondary
    }

    /// When [`ServiceHealth::update`] must be called again without new input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.delayed_until
    }

    /// Feeds the probes' combined verdict (see [`combine`]) and whether the maintenance file
    /// exists; also call it at [`ServiceHealth::poll_timeout`]. Returns the change, if any.
    pub fn update(
        &mut self,
        now: Instant,
        probes: Option<bool>,
        maintenance: bool,
    ) -> Option<Change> {
        if self.probes == Some(false) && probes == Some(true) && self.ever_up {
            // A recovery: sit out the delay before announcing again.
            self.delayed_until =
                Some(now + self.announce_delay).filter(|_| !self.announce_delay.is_zero());
        }
        if probes != Some(true) {
            self.delayed_until = None;
        }
        if self.delayed_until.is_some_and(|until| now >= until) {
            self.delayed_until = None;
        }
        self.probes = probes;
        self.maintenance = maintenance;
        let to = match (maintenance, probes) {
            (true, _) => ServiceState::Maintenance,
            (false, None) => ServiceState::Waiting,
            (false, Some(false)) => ServiceState::Down,
            (false, Some(true)) if self.delayed_until.is_some() => ServiceState::Delayed,
            (false, Some(true)) => ServiceState::Up,
        };
        let from = self.state;
        if to == from {
            return None;
        }
        // preempt: false latches on a failure seen while up (or delayed), not on maintenance.
        if !self.preempt
            && self.ever_up
            && matches!(from, ServiceState::Up | ServiceState::Delayed)
            && to == ServiceState::Down
        {
            self.held_secondary = true;
        }
        if to == ServiceState::Up {
            self.ever_up = true;
        }
        self.state = to;
        Some(Change { from, to })
    }

    /// SIGHUP: a service held as secondary by `preempt: false` may be primary again.
    pub fn rearm_preemption(&mut self) -> bool {
        std::mem::take(&mut self.held_secondary)
    }
}

/// All must pass: down if any is down, waiting if any waits, else up. No probes: up.
pub fn combine(verdicts: impl IntoIterator<Item = Option<bool>>) -> Option<bool> {
    let mut combined = Some(true);
    for verdict in verdicts {
        match verdict {
            Some(false) => return Some(false),
            None => combined = None,
            Some(true) => {}
        }
    }
    combined
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "a test picks any origin for the time it passes in"
)]
mod tests {
    use super::*;

    /// Feeds results ('+' pass, '-' fail, '!' failure at once) and returns the verdict and
    /// description after each.
    fn run(rise: u32, fall: u32, results: &str) -> Vec<String> {
        let mut probe = ProbeHealth::new(rise, fall);
        results
            .chars()
            .map(|c| {
                let changed = match c {
                    '!' => probe.observe_down_now(),
                    c => probe.observe(c == '+'),
                };
                let mark = match changed {
                    Some(true) => "→up ",
                    Some(false) => "→down ",
                    None => "",
                };
                format!("{mark}{}", probe.describe())
            })
            .collect()
    }

    #[test]
    fn rise_and_fall_table() {
        let cases: &[(u32, u32, &str, &[&str])] = &[
            // At start: rise passes give the first verdict.
            (2, 2, "++", &["waiting, rising 1/2", "→up up"]),
            // ... or fall failures.
            (
                2,
                3,
                "---",
                &["waiting, falling 1/3", "waiting, falling 2/3", "→down down"],
            ),
            // A mixed start restarts the count.
            (
                2,
                2,
                "+-+",
                &[
                    "waiting, rising 1/2",
                    "waiting, falling 1/2",
                    "waiting, rising 1/2",
                ],
            ),
            // rise 1: the first pass decides.
            (1, 2, "+", &["→up up"]),
            // One blip while up changes nothing but starts counting.
            (1, 2, "+-+", &["→up up", "falling 1/2", "up"]),
            (1, 2, "+--", &["→up up", "falling 1/2", "→down down"]),
            // Recovery needs rise passes in a row.
            (
                3,
                1,
                "+++-++-+++",
                &[
                    "waiting, rising 1/3",
                    "waiting, rising 2/3",
                    "→up up",
                    "→down down",
                    "rising 1/3",
                    "rising 2/3",
                    "down",
                    "rising 1/3",
                    "rising 2/3",
                    "→up up",
                ],
            ),
        ];
        for (rise, fall, results, expected) in cases {
            assert_eq!(
                run(*rise, *fall, results),
                *expected,
                "rise {rise} fall {fall} {results}"
            );
        }
    }

    #[test]
    fn a_failure_known_at_once_lowers_health_at_once_and_rise_still_applies() {
        let cases: &[(u32, u32, &str, &[&str])] = &[
            // Up, then the event: down at once, no fall count.
            (
                2,
                3,
                "++!",
                &["waiting, rising 1/2", "→up up", "→down down"],
            ),
            // It also ends a fall count under way.
            (1, 3, "+-!", &["→up up", "falling 1/3", "→down down"]),
            // While waiting, the event is a verdict too.
            (2, 3, "+!", &["waiting, rising 1/2", "→down down"]),
            // Already down: no change to report; a rise count under way starts over.
            (
                2,
                3,
                "!+!++",
                &["→down down", "rising 1/2", "down", "rising 1/2", "→up up"],
            ),
        ];
        for (rise, fall, results, expected) in cases {
            assert_eq!(
                run(*rise, *fall, results),
                *expected,
                "rise {rise} fall {fall} {results}"
            );
        }
        let mut probe = ProbeHealth::new(1, 3);
        probe.observe(true);
        probe.observe_down_now();
        assert_eq!((probe.successes, probe.failures), (1, 1));
        assert!(!probe.changing(), "a verdict reached at once is settled");
    }

    #[test]
    fn the_fast_interval_applies_while_waiting_or_changing() {
        let mut probe = ProbeHealth::new(2, 2);
        assert!(probe.changing());
        probe.observe(true);
        probe.observe(true);
        assert!(!probe.changing());
        probe.observe(false);
        assert!(probe.changing());
        probe.observe(true);
        assert!(!probe.changing());
        assert_eq!((probe.successes, probe.failures), (3, 1));
    }

    #[test]
    fn combine_requires_all() {
        assert_eq!(combine([]), Some(true));
        assert_eq!(combine([Some(true), Some(true)]), Some(true));
        assert_eq!(combine([Some(true), None]), None);
        assert_eq!(combine([None, Some(false)]), Some(false));
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// One step of a service script: (seconds since t0, probes, maintenance) → expected state.
    type Step = (u64, Option<bool>, bool, ServiceState);

    fn script(delay: u64, preempt: bool, steps: &[Step]) -> ServiceHealth {
        script_at(Instant::now(), delay, preempt, steps)
    }

    fn script_at(t0: Instant, delay: u64, preempt: bool, steps: &[Step]) -> ServiceHealth {
        let mut service = ServiceHealth::new(secs(delay), preempt);
        for (i, (at, probes, maintenance, expected)) in steps.iter().enumerate() {
            service.update(t0 + secs(*at), *probes, *maintenance);
            assert_eq!(service.state(), *expected, "step {i}: {steps:?}");
        }
        service
    }

    use ServiceState::*;

    #[test]
    fn service_states_table() {
        // Waiting until the verdict, then up, down, up.
        script(
            0,
            true,
            &[
                (0, None, false, Waiting),
                (1, Some(true), false, Up),
                (2, Some(false), false, Down),
                (3, Some(true), false, Up),
            ],
        );
        // Maintenance overrides probes and is undone by removing the file.
        script(
            0,
            true,
            &[
                (0, None, true, Maintenance),
                (1, Some(true), true, Maintenance),
                (2, Some(true), false, Up),
                (3, Some(false), true, Maintenance),
                (4, Some(false), false, Down),
            ],
        );
    }

    #[test]
    fn announce_delay_applies_to_recoveries_only() {
        let t0 = Instant::now();
        // The first up at start is not delayed.
        let s = script(5, true, &[(0, Some(true), false, Up)]);
        assert_eq!(s.poll_timeout(), None);
        // A recovery is, until the deadline; a failure during the delay cancels it.
        let mut s = script_at(
            t0,
            5,
            true,
            &[
                (0, Some(true), false, Up),
                (1, Some(false), false, Down),
                (2, Some(true), false, Delayed),
            ],
        );
        assert_eq!(s.poll_timeout(), Some(t0 + secs(7)));
        assert_eq!(s.update(t0 + secs(6), Some(true), false), None);
        assert_eq!(
            s.update(t0 + secs(7), Some(true), false),
            Some(Change {
                from: Delayed,
                to: Up
            })
        );
        assert_eq!(s.poll_timeout(), None);
        script(
            5,
            true,
            &[
                (0, Some(true), false, Up),
                (1, Some(false), false, Down),
                (2, Some(true), false, Delayed),
                (3, Some(false), false, Down),
                (9, Some(false), false, Down),
            ],
        );
        // Down at start, then up: not a recovery (never announced as up before).
        script(
            5,
            true,
            &[(0, Some(false), false, Down), (1, Some(true), false, Up)],
        );
    }

    #[test]
    fn preempt_false_holds_a_recovered_service_as_secondary_until_rearmed() {
        let mut s = script(
            0,
            false,
            &[
                (0, Some(true), false, Up),
                (1, Some(false), false, Down),
                (2, Some(true), false, Up),
            ],
        );
        assert!(s.held_secondary());
        assert!(s.rearm_preemption());
        assert!(!s.held_secondary());
        // Maintenance is deliberate: it does not latch.
        let s = script(
            0,
            false,
            &[
                (0, Some(true), false, Up),
                (1, Some(true), true, Maintenance),
                (2, Some(true), false, Up),
            ],
        );
        assert!(!s.held_secondary());
        // With preempt (the default) nothing is held.
        let s = script(
            0,
            true,
            &[
                (0, Some(true), false, Up),
                (1, Some(false), false, Down),
                (2, Some(true), false, Up),
            ],
        );
        assert!(!s.held_secondary());
    }

    #[test]
    fn update_reports_each_change_once() {
        let t0 = Instant::now();
        let mut s = ServiceHealth::new(Duration::ZERO, true);
        assert_eq!(s.update(t0, None, false), None);
        assert_eq!(
            s.update(t0, Some(true), false),
            Some(Change {
                from: Waiting,
                to: Up
            })
        );
        assert_eq!(s.update(t0, Some(true), false), None);
    }
}
