//! Pure BFD session state machine (RFC 5880 §6.8), asynchronous mode, for one peer.
//!
//! No IO, no clock, no randomness of its own: the driver ([`super::driver`]) hands in `now` and a
//! random fraction in `[0, 1)` for the transmit jitter, carries out the returned [`Action`]s and
//! sleeps until [`Session::poll_timeout`], then calls [`Session::handle_timeout`].
//!
//! What we run: asynchronous mode, C=0, no echo, no Demand mode of our own (the remote's D bit
//! is honoured: we stop periodic packets while it is active, §6.6), no authentication. While not
//! Up we transmit at most once a second (§6.8.3); the change to the configured interval on Up
//! is announced with a Poll sequence, as every timer change must be.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::wire::{self, ControlPacket, DecodeError, Diagnostic, State};
use crate::model::BfdView;

/// §6.8.3: while not Up, bfd.DesiredMinTxInterval is at least one second.
pub const SLOW_TX: Duration = Duration::from_secs(1);
/// §6.8.1: bfd.RemoteMinRxInterval starts at 1 µs (so the first packets go out at our own rate).
const INITIAL_REMOTE_MIN_RX: Duration = Duration::from_micros(1);

/// A session's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// bfd.DesiredMinTxInterval once Up.
    pub desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval.
    pub required_min_rx: Duration,
    /// bfd.DetectMult.
    pub detect_mult: u8,
    /// Received TTL / hop limit below this are dropped (RFC 5881: 255 single hop; RFC 5883
    /// leaves multihop to configuration).
    pub min_ttl: u8,
}

/// Inputs from the driver.
#[derive(Debug)]
pub enum Input<'a> {
    /// A datagram from the peer's address to our BFD port, with its received TTL / hop limit.
    Datagram { bytes: &'a [u8], ttl: u8 },
    /// We are stopping: tell the peer we are AdminDown (RFC 5882 §3.2: it must not count that
    /// as a failure), and discard what it sends from now on.
    AdminDown,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Encode and send this packet to the peer.
    Send(ControlPacket),
    /// The state changed; for logs and status.
    StateChanged {
        from: State,
        to: State,
        diagnostic: Diagnostic,
    },
    /// The forwarding path failed while Up: the client (the BGP session) must go down now.
    /// Not raised when the remote went AdminDown (RFC 5882 §3.2).
    PathDown(Diagnostic),
    /// A received datagram was discarded; for the drop counters.
    Dropped(DropReason),
}

/// Why a datagram from the peer's address was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    #[error("{0}")]
    Malformed(DecodeError),
    #[error("TTL / hop limit {ttl} below the minimum {min}")]
    LowTtl { ttl: u8, min: u8 },
    #[error("your discriminator {0} is not ours")]
    UnknownDiscriminator(u32),
}

impl DropReason {
    /// A short label for the drop counter (metrics).
    pub fn reason(self) -> &'static str {
        match self {
            DropReason::Malformed(error) => error.reason(),
            DropReason::LowTtl { .. } => "low_ttl",
            DropReason::UnknownDiscriminator(_) => "unknown_discriminator",
        }
    }
}

/// A snapshot for `elastic status` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    pub state: State,
    pub remote_state: State,
    /// Why we last left Up (bfd.LocalDiag).
    pub diagnostic: Diagnostic,
    /// No valid packet ever came from the peer: it probably runs no BFD.
    pub answered: bool,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    /// Our transmit interval before jitter.
    pub tx_interval: Duration,
    /// How long without a packet before the session goes down (zero until the peer is heard).
    pub detection_time: Duration,
    /// How many times the path failed while Up ([`Action::PathDown`]); a client that saw fewer
    /// must go down.
    pub path_failures: u64,
    /// Datagrams from the peer's address discarded, by [`DropReason::reason`].
    pub dropped: BTreeMap<&'static str, u64>,
}

impl SessionStatus {
    /// The state as `elastic status` shows it: "not answered" for a peer never heard from.
    pub fn shown_state(&self) -> &'static str {
        match (self.state, self.answered) {
            (State::Down, false) => "not answered",
            (state, _) => state.name(),
        }
    }

    /// The plain view status, the API and the BGP driver use.
    pub fn view(self) -> BfdView {
        BfdView {
            state: self.shown_state(),
            remote_state: self.remote_state.name(),
            diagnostic: self.diagnostic.name(),
            local_discriminator: self.local_discriminator,
            remote_discriminator: self.remote_discriminator,
            tx_interval: self.tx_interval,
            detection_time: self.detection_time,
            path_failures: self.path_failures,
            dropped: self.dropped,
        }
    }
}

/// One BFD session (RFC 5880 §6.8.1's state variables, timers as deadlines).
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    remote_state: State,
    local_discriminator: u32,
    remote_discriminator: u32,
    diagnostic: Diagnostic,
    remote_min_rx: Duration,
    remote_desired_min_tx: Duration,
    remote_detect_mult: u8,
    remote_demand: bool,
    /// A Poll sequence is running: our packets carry P until one with F comes back.
    polling: bool,
    answered: bool,
    path_failures: u64,
    dropped: BTreeMap<&'static str, u64>,
    next_tx: Option<Instant>,
    detection_deadline: Option<Instant>,
}

impl Session {
    /// A session in Down whose first packet is due at once. `local_discriminator` must be
    /// nonzero and unique among our sessions.
    pub fn new(config: SessionConfig, local_discriminator: u32, now: Instant) -> Session {
        Session {
            config,
            state: State::Down,
            remote_state: State::Down,
            local_discriminator,
            remote_discriminator: 0,
            diagnostic: Diagnostic::NONE,
            remote_min_rx: INITIAL_REMOTE_MIN_RX,
            remote_desired_min_tx: Duration::ZERO,
            remote_detect_mult: 0,
            remote_demand: false,
            polling: false,
            answered: false,
            path_failures: 0,
            dropped: BTreeMap::new(),
            next_tx: Some(now),
            detection_deadline: None,
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The earliest deadline (next transmission or detection time), if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_tx, self.detection_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the timers due at `now`. `random` in `[0, 1)` jitters the next transmission.
    pub fn handle_timeout(&mut self, now: Instant, random: f64) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.detection_deadline.is_some_and(|d| d <= now) {
            self.detection_expired(now, random, &mut actions);
        }
        if self.next_tx.is_some_and(|t| t <= now) {
            if self.periodic_allowed() {
                actions.push(Action::Send(self.packet(false)));
            }
            self.next_tx = None;
            self.schedule_tx(now, random);
        }
        actions
    }

    /// Handles one input at `now`; `random` in `[0, 1)` jitters a rescheduled transmission.
    pub fn handle(&mut self, now: Instant, random: f64, input: Input<'_>) -> Vec<Action> {
        let mut actions = Vec::new();
        match input {
            Input::Datagram { bytes, ttl } => self.receive(now, random, bytes, ttl, &mut actions),
            Input::AdminDown => {
                if self.state != State::AdminDown {
                    self.set_state(
                        State::AdminDown,
                        Diagnostic::ADMINISTRATIVELY_DOWN,
                        false,
                        &mut actions,
                    );
                    self.detection_deadline = None;
                    actions.push(Action::Send(self.packet(false)));
                }
            }
        }
        actions
    }

    pub fn status(&self) -> SessionStatus {
        SessionStatus {
            state: self.state,
            remote_state: self.remote_state,
            diagnostic: self.diagnostic,
            answered: self.answered,
            local_discriminator: self.local_discriminator,
            remote_discriminator: self.remote_discriminator,
            tx_interval: self.tx_interval(),
            detection_time: if self.answered {
                self.detection_time()
            } else {
                Duration::ZERO
            },
            path_failures: self.path_failures,
            dropped: self.dropped.clone(),
        }
    }

    /// RFC 5880 §6.8.6, after the packet-only checks of [`wire::decode`].
    fn receive(
        &mut self,
        now: Instant,
        random: f64,
        bytes: &[u8],
        ttl: u8,
        actions: &mut Vec<Action>,
    ) {
        // RFC 5881 §5 / RFC 5883 §5: the TTL rule comes before anything else is looked at.
        if ttl < self.config.min_ttl {
            let min = self.config.min_ttl;
            self.discard(DropReason::LowTtl { ttl, min }, actions);
            return;
        }
        let packet = match wire::decode(bytes) {
            Ok(packet) => packet,
            Err(error) => {
                self.discard(DropReason::Malformed(error), actions);
                return;
            }
        };
        // "If the Your Discriminator field is nonzero, it MUST be used to select the session";
        // the driver already selected this one by source address.
        if packet.your_discriminator != 0 && packet.your_discriminator != self.local_discriminator {
            let unknown = DropReason::UnknownDiscriminator(packet.your_discriminator);
            self.discard(unknown, actions);
            return;
        }
        self.answered = true;
        self.remote_discriminator = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_demand = packet.demand;
        self.remote_min_rx = micros(packet.required_min_rx);
        self.remote_desired_min_tx = micros(packet.desired_min_tx);
        self.remote_detect_mult = packet.detect_mult;
        if packet.final_ {
            self.polling = false;
        }
        if self.state == State::AdminDown {
            return;
        }
        let before = self.state;
        match (self.state, packet.state) {
            (State::Down, State::AdminDown) => {}
            (_, State::AdminDown) => self.set_state(
                State::Down,
                Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN,
                true,
                actions,
            ),
            (State::Down, State::Down) => {
                self.set_state(State::Init, Diagnostic::NONE, false, actions)
            }
            (State::Down, State::Init) | (State::Init, State::Init | State::Up) => {
                self.set_state(State::Up, Diagnostic::NONE, false, actions)
            }
            (State::Up, State::Down) => self.set_state(
                State::Down,
                Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN,
                false,
                actions,
            ),
            _ => {}
        }
        // Demand mode is never active on our side, so every valid packet restarts detection.
        self.detection_deadline = Some(now + self.detection_time());
        if packet.poll || self.state != before {
            // §6.8.7: the Final answers "as soon as practicable", not on the periodic timer; a
            // state change goes out at once too, so the peer need not wait a slow second.
            actions.push(Action::Send(self.packet(packet.poll)));
        }
        self.schedule_tx(now, random);
    }

    fn discard(&mut self, reason: DropReason, actions: &mut Vec<Action>) {
        *self.dropped.entry(reason.reason()).or_default() += 1;
        actions.push(Action::Dropped(reason));
    }

    fn detection_expired(&mut self, now: Instant, random: f64, actions: &mut Vec<Action>) {
        self.detection_deadline = None;
        // §6.8.1: bfd.RemoteDiscr is reset when nothing came for a Detection Time. What the
        // silent peer asked of us is forgotten too, so a peer that had asked for no packets
        // (Required Min RX 0) gets our slow ones again and the session can come back.
        self.remote_discriminator = 0;
        self.remote_state = State::Down;
        self.remote_demand = false;
        self.remote_min_rx = INITIAL_REMOTE_MIN_RX;
        if matches!(self.state, State::Init | State::Up) {
            let diagnostic = Diagnostic::CONTROL_DETECTION_TIME_EXPIRED;
            self.set_state(State::Down, diagnostic, false, actions);
            actions.push(Action::Send(self.packet(false)));
        }
        self.schedule_tx(now, random);
    }

    /// The one exit for state changes. `remote_admin_down`: the peer went AdminDown, which is
    /// not a path failure.
    fn set_state(
        &mut self,
        to: State,
        diagnostic: Diagnostic,
        remote_admin_down: bool,
        actions: &mut Vec<Action>,
    ) {
        let from = self.state;
        self.state = to;
        self.diagnostic = diagnostic;
        actions.push(Action::StateChanged {
            from,
            to,
            diagnostic,
        });
        if from == State::Up && to == State::Down && !remote_admin_down {
            self.path_failures += 1;
            actions.push(Action::PathDown(diagnostic));
        }
        // §6.8.3: leaving the one-second floor on Up changes bfd.DesiredMinTxInterval, which
        // needs a Poll sequence; outside Up no Poll runs.
        self.polling = to == State::Up && self.config.desired_min_tx < SLOW_TX;
    }

    /// bfd.DesiredMinTxInterval now: the configured value, but at least a second while not Up.
    fn desired_min_tx(&self) -> Duration {
        if self.state == State::Up {
            self.config.desired_min_tx
        } else {
            self.config.desired_min_tx.max(SLOW_TX)
        }
    }

    /// §6.8.7: the greater of what we want and what the peer can take.
    fn tx_interval(&self) -> Duration {
        self.desired_min_tx().max(self.remote_min_rx)
    }

    /// §6.8.4: the remote's multiplier times the agreed interval of the remote's transmissions.
    pub fn detection_time(&self) -> Duration {
        let agreed = self.config.required_min_rx.max(self.remote_desired_min_tx);
        agreed * u32::from(self.remote_detect_mult)
    }

    /// §6.8.7: no periodic packets when the peer wants none (Required Min RX 0) or runs Demand
    /// mode while both are Up — except during a Poll sequence.
    fn periodic_allowed(&self) -> bool {
        if self.polling {
            return true;
        }
        let remote_demand_active =
            self.remote_demand && self.state == State::Up && self.remote_state == State::Up;
        !self.remote_min_rx.is_zero() && !remote_demand_active
    }

    /// Keeps the next transmission no later than one jittered interval from `now` (a shorter
    /// interval from the peer takes effect at once), and none when periodic ones are not allowed.
    fn schedule_tx(&mut self, now: Instant, random: f64) {
        if !self.periodic_allowed() {
            self.next_tx = None;
            return;
        }
        let next = now + jittered(self.tx_interval(), self.config.detect_mult, random);
        if self.next_tx.is_none_or(|current| current > next) {
            self.next_tx = Some(next);
        }
    }

    fn packet(&self, final_: bool) -> ControlPacket {
        ControlPacket {
            diagnostic: self.diagnostic,
            state: self.state,
            // Never both P and F in one packet (§6.8.7).
            poll: self.polling && !final_,
            final_,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.config.detect_mult,
            my_discriminator: self.local_discriminator,
            your_discriminator: self.remote_discriminator,
            desired_min_tx: as_micros(self.desired_min_tx()),
            required_min_rx: as_micros(self.config.required_min_rx),
            required_min_echo_rx: 0,
        }
    }
}

/// §6.8.7: each interval is reduced by 0-25 % at random (75-100 % of it), or by 10-25 % (75-90 %)
/// when the multiplier is 1, so one late packet cannot expire the peer's detection time.
pub fn jittered(interval: Duration, detect_mult: u8, random: f64) -> Duration {
    let random = random.clamp(0.0, 1.0);
    let span = if detect_mult == 1 { 0.15 } else { 0.25 };
    interval.mul_f64(0.75 + span * random)
}

fn micros(value: u32) -> Duration {
    Duration::from_micros(u64::from(value))
}

fn as_micros(value: Duration) -> u32 {
    u32::try_from(value.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "a test picks any origin for the time it passes in"
)]
mod tests;
