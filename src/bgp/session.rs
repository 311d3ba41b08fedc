//! Pure per-peer BGP session state machine (RFC 4271 §8) for an announce-only speaker.
//!
//! No IO, no clock, no global state: the driver ([`super::peer`]) feeds [`Input`]s with the current
//! time, executes the returned [`Action`]s, and sleeps until [`Session::poll_timeout`], then calls
//! [`Session::handle_timeout`]. Randomness (connect jitter) comes from a seeded generator, so a
//! test with a fixed seed replays exactly.
//!
//! The session owns the "wanted vs sent" diff: it is handed the whole desired route set and sends
//! only the difference to what the peer already has (withdrawals first). After a reconnect "sent"
//! is empty, so the whole set goes out again, followed by End-of-RIB.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::backoff::{Backoff, Ending};
use super::wire::{
    self, AS_TRANS, Capability, DecodeContext, DecodeError, ExtendedNextHopTuple, Family, Message,
    Notification, Open, UpdateContext,
};
use crate::model::{DesiredRoutes, RouteAttrs};

/// RFC 4271 §8.2.2: the hold timer while waiting for the peer's OPEN ("a large value", 4 minutes).
const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);
/// Random extra delay added to every retry, in whole seconds like GoBGP (5 s → 5..9 s).
const RETRY_JITTER_SECS: u64 = 4;

/// What a session needs to know about itself and its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub peer: IpAddr,
    pub local_as: u32,
    pub peer_as: u32,
    pub router_id: Ipv4Addr,
    /// Sent in the FQDN capability, as GoBGP does (domain empty).
    pub hostname: String,
    /// Proposed hold time in seconds (lelastic: 9; 0: no keepalives and no hold timer).
    pub hold_time: u16,
    /// Seconds between our KEEPALIVEs (lelastic: 3); never more than a third of the negotiated
    /// hold time is used ([`keepalive_interval`]).
    pub keepalive: u16,
    /// Base delay before reconnecting after a failure (lelastic: 5 s, plus 0..4 s of jitter).
    pub connect_retry: Duration,
    /// The driver signs segments with TCP MD5; only changes what a connect timeout is blamed on.
    pub tcp_md5: bool,
}

/// The seconds between our KEEPALIVEs once the hold time is `negotiated_hold`: the configured
/// interval, but at most a third of the negotiated hold time (a route server offering a shorter
/// hold than ours must not drop us) and at least 1 s; 0 (none) with a hold time of 0 (RFC 4271).
pub fn keepalive_interval(configured: u16, negotiated_hold: u16) -> u16 {
    match negotiated_hold {
        0 => 0,
        hold => configured.min(hold / 3).max(1),
    }
}

/// RFC 4271 states. `Active` here means "waiting for the connect-retry timer": we never listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// Inputs from the driver.
#[derive(Debug)]
pub enum Input<'a> {
    /// ManualStart: connect at once (no initial random delay, unlike GoBGP).
    Start,
    /// ManualStop: say goodbye with this NOTIFICATION (when a session is up) and stay down.
    Stop(Notification),
    /// Tcp_CR_Acked: the connection is up; `local` is our end's address (the next hop we announce).
    Connected { local: IpAddr },
    /// TcpConnectionFails while connecting.
    ConnectFailed(String),
    /// The peer closed the connection or a read/write failed.
    Closed(String),
    /// One whole message, framed by the driver with [`wire::frame_len`].
    Message(&'a [u8]),
    /// The byte stream could not be framed (bad marker or length).
    FramingError(DecodeError),
    /// The new desired route set.
    Routes(Arc<DesiredRoutes>),
    /// The BFD session beside this one saw the path fail (not the peer's AdminDown): go down at
    /// once with Cease/BFD Down (RFC 9384) and retry at the base delay, as after a stable session.
    BfdDown,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer; report `Connected` or `ConnectFailed`.
    Connect,
    /// Write these bytes (one or more whole messages).
    Send(Vec<u8>),
    /// Flush what was sent, then close the connection (or abandon the attempt in progress).
    Disconnect,
    /// Something worth logging happened.
    Event(Event),
}

/// Observable happenings, for logs and status. The driver logs them; tests assert on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    StateChanged {
        from: State,
        to: State,
    },
    Announced {
        prefix: IpNet,
        attrs: Arc<RouteAttrs>,
    },
    Withdrawn {
        prefix: IpNet,
    },
    /// We sent a NOTIFICATION (the session goes down).
    NotificationSent(Notification),
    /// The peer sent a NOTIFICATION (the session goes down).
    NotificationReceived(Notification),
    /// The connection failed or was lost; the next attempt comes after `retry_in`.
    Down {
        reason: String,
        retry_in: Duration,
    },
    /// The peer did not advertise extended next hop (RFC 8950) for IPv4 over IPv6. We send the
    /// IPv4 routes with an IPv6 next hop anyway, as lelastic does; route servers accept them.
    PeerLacksExtendedNextHop,
    /// A prefix that cannot be sent on this session (IPv6 route over an IPv4-only session).
    Unsendable {
        prefix: IpNet,
        why: &'static str,
    },
    /// The peer finished sending its table for a family.
    EndOfRibReceived {
        family: Family,
        prefixes: u64,
    },
    /// An UPDATE from the peer was malformed in a way RFC 7606 repairs without a reset.
    UpdateRepaired {
        treat_as_withdraw: bool,
        discarded_attributes: u32,
    },
}

/// Message counters, one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub open: u64,
    pub update: u64,
    pub notification: u64,
    pub keepalive: u64,
    pub route_refresh: u64,
}

/// A plain-data view of the session, for status and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    pub peer: IpAddr,
    pub state: State,
    pub local_address: Option<IpAddr>,
    pub remote_router_id: Option<Ipv4Addr>,
    pub remote_as: Option<u32>,
    pub remote_hostname: Option<String>,
    pub negotiated_hold_time: Option<u16>,
    /// Seconds between our KEEPALIVEs on this connection (0 with a negotiated hold time of 0).
    pub negotiated_keepalive: Option<u16>,
    /// When the session last reached Established (while it is), or last went down.
    pub established_since: Option<Instant>,
    pub down_since: Option<Instant>,
    pub sent: MessageCounts,
    pub received: MessageCounts,
    /// Prefixes the peer announced to us (counted, never used) and withdrew, this session.
    pub prefixes_received: u64,
    pub prefixes_withdrawn_by_peer: u64,
    /// What the peer has from us on this connection (adj-RIB-out). Once every desired route has
    /// been sent this *is* the desired set (the same allocation, shared by every session); a
    /// copy exists only while some desired routes cannot be sent on this session.
    pub adj_out: Arc<DesiredRoutes>,
    pub flaps: u32,
    pub last_error: Option<String>,
    /// Capabilities of our OPEN and of the peer's last OPEN (`gobgp neighbor ADDR` lists them).
    pub local_capabilities: Vec<Capability>,
    pub remote_capabilities: Vec<Capability>,
    /// State changes since start (metrics).
    pub state_changes: u64,
    /// The BFD session beside this one, when `bfd` is configured (filled in by the driver).
    pub bfd: Option<crate::model::BfdView>,
}

impl SessionStatus {
    /// A session with `peer` that has not run yet: Idle, nothing sent or received.
    pub fn new(peer: IpAddr) -> SessionStatus {
        SessionStatus {
            peer,
            state: State::Idle,
            local_address: None,
            remote_router_id: None,
            remote_as: None,
            remote_hostname: None,
            negotiated_hold_time: None,
            negotiated_keepalive: None,
            established_since: None,
            down_since: None,
            sent: MessageCounts::default(),
            received: MessageCounts::default(),
            prefixes_received: 0,
            prefixes_withdrawn_by_peer: 0,
            adj_out: Arc::default(),
            flaps: 0,
            last_error: None,
            local_capabilities: Vec::new(),
            remote_capabilities: Vec::new(),
            state_changes: 0,
            bfd: None,
        }
    }
}

/// Who ended a connection that is going away, for the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// The peer: a Cease or a plain TCP close.
    ByPeer,
    /// An error NOTIFICATION, sent or received.
    OnError,
}

/// Timers as deadlines; `None` means stopped.
#[derive(Debug, Default, Clone, Copy)]
struct Timers {
    /// ConnectRetryTimer: in Active, when to try again; in Connect, when to give up the attempt.
    connect_retry: Option<Instant>,
    hold: Option<Instant>,
    keepalive: Option<Instant>,
}

/// What both OPENs agreed.
#[derive(Debug, Clone, Copy)]
struct Negotiated {
    hold_time: Duration,
    keepalive: Duration,
    four_octet_as: bool,
    ipv4: bool,
    ipv6: bool,
}

impl Negotiated {
    fn family(&self, family: Family) -> bool {
        match family {
            Family::Ipv4Unicast => self.ipv4,
            Family::Ipv6Unicast => self.ipv6,
        }
    }
}

pub struct Session {
    config: SessionConfig,
    state: State,
    timers: Timers,
    rng: fastrand::Rng,
    /// Counts failures to establish and sessions ended by errors; drives the reconnect delay.
    backoff: Backoff,
    local_address: Option<IpAddr>,
    negotiated: Option<Negotiated>,
    wanted: Arc<DesiredRoutes>,
    status: SessionStatus,
}

// ===== impl Session =====

impl Session {
    /// `seed` feeds the connect jitter (the driver passes a random one; tests a fixed one).
    pub fn new(config: SessionConfig, seed: u64) -> Session {
        let status = SessionStatus::new(config.peer);
        Session {
            config,
            state: State::Idle,
            timers: Timers::default(),
            rng: fastrand::Rng::with_seed(seed),
            backoff: Backoff::default(),
            local_address: None,
            negotiated: None,
            wanted: Arc::new(DesiredRoutes::new()),
            status,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn status(&self) -> &SessionStatus {
        &self.status
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The earliest deadline the driver must wake up for.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timers.connect_retry,
            self.timers.hold,
            self.timers.keepalive,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.timers.hold.is_some_and(|t| t <= now) {
            self.timers.hold = None;
            // HoldTimer_Expires
            self.fail_with_notification(now, Notification::hold_timer_expired(), &mut out);
        }
        if self.timers.keepalive.is_some_and(|t| t <= now) {
            // KeepaliveTimer_Expires
            self.send(&mut out, wire::encode_keepalive(), |c| &mut c.keepalive);
            self.timers.keepalive = self.negotiated.map(|n| now + n.keepalive);
        }
        if self.timers.connect_retry.is_some_and(|t| t <= now) {
            self.timers.connect_retry = None;
            // ConnectRetryTimer_Expires
            match self.state {
                State::Active => self.start_connect(now, &mut out),
                State::Connect => {
                    out.push(Action::Disconnect);
                    // The kernel drops segments with a missing or wrong signature silently, so a
                    // password mismatch looks exactly like a peer that never answers.
                    let reason = if self.config.tcp_md5 {
                        "connect timed out (TCP MD5 is configured: check the password on both sides)"
                    } else {
                        "connect timed out"
                    };
                    self.lost(now, reason.to_string(), Ending::BeforeEstablished, &mut out);
                }
                _ => {}
            }
        }
        out
    }

    /// Handles one input at time `now`.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => {
                if self.state == State::Idle {
                    self.start_connect(now, &mut out);
                }
            }
            Input::Stop(notification) => self.stop(now, notification, &mut out),
            Input::Connected { local } => self.on_connected(now, local, &mut out),
            Input::ConnectFailed(reason) => {
                if self.state == State::Connect {
                    self.lost(now, reason, Ending::BeforeEstablished, &mut out);
                }
            }
            Input::Closed(reason) => {
                if self.is_connected() {
                    out.push(Action::Disconnect);
                    let ending = self.ending(now, Closing::ByPeer);
                    self.lost(now, reason, ending, &mut out);
                }
            }
            Input::FramingError(error) => {
                if self.is_connected() {
                    self.fail_with_notification(now, error.notification(), &mut out);
                    self.status.last_error = Some(error.to_string());
                }
            }
            Input::Message(bytes) => self.on_message(now, bytes, &mut out),
            Input::Routes(routes) => {
                self.wanted = routes;
                self.sync_routes(&mut out);
            }
            Input::BfdDown => {
                if self.is_connected() {
                    self.close_with_notification(
                        now,
                        Notification::cease_bfd_down(),
                        Ending::PathFailed,
                        &mut out,
                    );
                }
            }
        }
        out
    }

    // ----- connection life cycle -----

    fn is_connected(&self) -> bool {
        matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        )
    }

    fn start_connect(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.set_state(now, State::Connect, out);
        // RFC 4271: the ConnectRetryTimer also bounds the attempt itself.
        self.timers.connect_retry = Some(now + self.config.connect_retry);
        out.push(Action::Connect);
    }

    fn on_connected(&mut self, now: Instant, local: IpAddr, out: &mut Vec<Action>) {
        if self.state != State::Connect {
            return;
        }
        self.timers.connect_retry = None;
        self.local_address = Some(local);
        self.status.local_address = Some(local);
        let open = self.our_open();
        self.send(out, wire::encode_open(&open), |c| &mut c.open);
        self.status.local_capabilities = open.capabilities;
        self.timers.hold = Some(now + OPEN_HOLD_TIME);
        self.set_state(now, State::OpenSent, out);
    }

    /// Our OPEN: byte-identical to lelastic's (GoBGP's capability order) apart from the router id.
    fn our_open(&self) -> Open {
        let my_as = u16::try_from(self.config.local_as).unwrap_or(AS_TRANS);
        Open {
            version: 4,
            my_as,
            hold_time: self.config.hold_time,
            router_id: self.config.router_id,
            capabilities: vec![
                Capability::RouteRefresh,
                Capability::Fqdn {
                    hostname: self.config.hostname.clone(),
                    domain: String::new(),
                },
                Capability::MultiProtocol {
                    afi: Family::Ipv4Unicast.afi(),
                    safi: Family::Ipv4Unicast.safi(),
                },
                Capability::MultiProtocol {
                    afi: Family::Ipv6Unicast.afi(),
                    safi: Family::Ipv6Unicast.safi(),
                },
                Capability::FourOctetAs(self.config.local_as),
                Capability::ExtendedNextHop(vec![ExtendedNextHopTuple {
                    afi: 1,
                    safi: 1,
                    next_hop_afi: 2,
                }]),
            ],
        }
    }

    fn stop(&mut self, now: Instant, notification: Notification, out: &mut Vec<Action>) {
        if self.is_connected() {
            self.send(out, wire::encode_notification(&notification), |c| {
                &mut c.notification
            });
            out.push(Action::Event(Event::NotificationSent(notification)));
        }
        if self.state != State::Idle && self.state != State::Active {
            out.push(Action::Disconnect);
        }
        self.reset_connection(now);
        self.timers = Timers::default();
        self.set_state(now, State::Idle, out);
    }

    /// Sends `notification`, closes, and schedules a reconnect.
    fn fail_with_notification(
        &mut self,
        now: Instant,
        notification: Notification,
        out: &mut Vec<Action>,
    ) {
        let ending = self.ending(now, Closing::OnError);
        self.close_with_notification(now, notification, ending, out);
    }

    /// Sends `notification`, closes the connection and arms the retry as `ending` counts.
    fn close_with_notification(
        &mut self,
        now: Instant,
        notification: Notification,
        ending: Ending,
        out: &mut Vec<Action>,
    ) {
        self.send(out, wire::encode_notification(&notification), |c| {
            &mut c.notification
        });
        let reason = format!("sent {notification}");
        out.push(Action::Event(Event::NotificationSent(notification)));
        out.push(Action::Disconnect);
        self.lost(now, reason, ending, out);
    }

    /// How the connection ending now counts for the backoff.
    fn ending(&self, now: Instant, closing: Closing) -> Ending {
        match (self.state, self.status.established_since) {
            (State::Established, Some(since)) => match closing {
                Closing::ByPeer => Ending::PeerClosed,
                Closing::OnError => Ending::Error {
                    established_for: now.saturating_duration_since(since),
                },
            },
            _ => Ending::BeforeEstablished,
        }
    }

    /// The connection (or attempt) is gone: forget it and arm the retry, backing off if `ending`
    /// counts.
    fn lost(&mut self, now: Instant, reason: String, ending: Ending, out: &mut Vec<Action>) {
        let retry_in = self.retry_delay(ending);
        self.reset_connection(now);
        self.timers = Timers {
            connect_retry: Some(now + retry_in),
            ..Timers::default()
        };
        self.status.last_error = Some(reason.clone());
        out.push(Action::Event(Event::Down { reason, retry_in }));
        self.set_state(now, State::Active, out);
    }

    /// The backoff's delay plus whole-second jitter: a first retry, and every retry after a
    /// route server closed an Established session, comes after 5..9 s exactly like lelastic's.
    fn retry_delay(&mut self, ending: Ending) -> Duration {
        let base = self.backoff.after(ending, self.config.connect_retry);
        base + Duration::from_secs(self.rng.u64(0..=RETRY_JITTER_SECS))
    }

    fn reset_connection(&mut self, now: Instant) {
        if self.state == State::Established {
            self.status.flaps += 1;
        }
        if self.is_connected() {
            self.status.down_since = Some(now);
        }
        self.local_address = None;
        self.negotiated = None;
        self.status.adj_out = Arc::default();
        self.status.negotiated_hold_time = None;
        self.status.negotiated_keepalive = None;
    }

    fn set_state(&mut self, now: Instant, to: State, out: &mut Vec<Action>) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.status.state = to;
        self.status.state_changes += 1;
        if to == State::Established {
            self.status.established_since = Some(now);
        } else if from == State::Established {
            self.status.established_since = None;
        }
        out.push(Action::Event(Event::StateChanged { from, to }));
    }

    // ----- messages from the peer -----

    fn on_message(&mut self, now: Instant, bytes: &[u8], out: &mut Vec<Action>) {
        if !self.is_connected() {
            return;
        }
        let context = DecodeContext {
            four_octet_as: self.negotiated.is_some_and(|n| n.four_octet_as),
        };
        let message = match wire::decode(bytes, &context) {
            Ok(message) => message,
            Err(error) => {
                let notification = error.notification();
                self.fail_with_notification(now, notification, out);
                self.status.last_error = Some(format!("malformed message from peer: {error}"));
                return;
            }
        };
        match message {
            Message::Open(open) => {
                self.status.received.open += 1;
                self.on_open(now, open, out);
            }
            Message::Keepalive => {
                self.status.received.keepalive += 1;
                self.restart_hold_timer(now);
                if self.state == State::OpenConfirm {
                    // KeepAliveMsg in OpenConfirm
                    self.set_state(now, State::Established, out);
                    self.sync_routes(out);
                    for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
                        if self.negotiated.is_some_and(|n| n.family(family)) {
                            self.send(out, wire::encode_end_of_rib(family), |c| &mut c.update);
                        }
                    }
                }
            }
            Message::Update(summary) => {
                self.status.received.update += 1;
                if self.state != State::Established {
                    self.fail_with_notification(now, Notification::fsm_error(), out);
                    return;
                }
                self.restart_hold_timer(now);
                self.status.prefixes_received += u64::from(summary.announced);
                self.status.prefixes_withdrawn_by_peer += u64::from(summary.withdrawn);
                if summary.treat_as_withdraw || summary.discarded_attributes > 0 {
                    out.push(Action::Event(Event::UpdateRepaired {
                        treat_as_withdraw: summary.treat_as_withdraw,
                        discarded_attributes: summary.discarded_attributes,
                    }));
                }
                if let Some(family) = summary.end_of_rib {
                    out.push(Action::Event(Event::EndOfRibReceived {
                        family,
                        prefixes: self.status.prefixes_received,
                    }));
                }
            }
            Message::Notification(notification) => {
                self.status.received.notification += 1;
                let reason = format!("received {notification}");
                // A Cease is the peer closing on purpose (a restart, a maintenance), not an error.
                let closing = if notification.code == wire::code::CEASE {
                    Closing::ByPeer
                } else {
                    Closing::OnError
                };
                let ending = self.ending(now, closing);
                out.push(Action::Event(Event::NotificationReceived(notification)));
                out.push(Action::Disconnect);
                self.lost(now, reason, ending, out);
            }
            Message::RouteRefresh { afi, safi } => {
                self.status.received.route_refresh += 1;
                if self.state == State::Established {
                    self.restart_hold_timer(now);
                    // RFC 2918: the peer asks for one family again; forget we sent it and resend.
                    if let Some(family) = Family::from_afi_safi(afi, safi) {
                        Arc::make_mut(&mut self.status.adj_out)
                            .retain(|prefix, _| Family::of(prefix) != family);
                        self.sync_routes(out);
                    }
                }
            }
        }
    }

    fn on_open(&mut self, now: Instant, open: Open, out: &mut Vec<Action>) {
        if self.state != State::OpenSent {
            // An OPEN in OpenConfirm or Established is an FSM error (RFC 4271 §8.2.2).
            self.fail_with_notification(now, Notification::fsm_error(), out);
            return;
        }
        if open.asn() != self.config.peer_as {
            self.fail_with_notification(now, Notification::open_bad_peer_as(open.asn()), out);
            return;
        }
        // RFC 4271 §4.2: the smaller hold time wins; 0 means no keepalives at all.
        let hold_secs = open.hold_time.min(self.config.hold_time);
        let hold_time = Duration::from_secs(u64::from(hold_secs));
        let keepalive_secs = keepalive_interval(self.config.keepalive, hold_secs);
        let keepalive = Duration::from_secs(u64::from(keepalive_secs));
        // RFC 4760: only families both sides advertise are exchanged; a peer that advertises
        // no multiprotocol capability at all speaks IPv4 unicast only. We advertise both.
        let advertises_any_family = open
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::MultiProtocol { .. }));
        self.negotiated = Some(Negotiated {
            hold_time,
            keepalive,
            four_octet_as: open.four_octet_as(),
            ipv4: open.multiprotocol(Family::Ipv4Unicast) || !advertises_any_family,
            ipv6: open.multiprotocol(Family::Ipv6Unicast),
        });
        self.status.remote_router_id = Some(open.router_id);
        self.status.remote_capabilities = open.capabilities.clone();
        self.status.remote_as = Some(open.asn());
        self.status.remote_hostname = open.hostname().map(str::to_owned);
        self.status.negotiated_hold_time = Some(hold_secs);
        self.status.negotiated_keepalive = Some(keepalive_secs);
        self.status.prefixes_received = 0;
        self.status.prefixes_withdrawn_by_peer = 0;
        if self.local_address.is_some_and(|a| a.is_ipv6()) && !open.extended_next_hop_v4_over_v6() {
            out.push(Action::Event(Event::PeerLacksExtendedNextHop));
        }
        self.send(out, wire::encode_keepalive(), |c| &mut c.keepalive);
        self.restart_hold_timer(now);
        self.timers.keepalive = (hold_secs > 0).then(|| now + keepalive);
        self.set_state(now, State::OpenConfirm, out);
    }

    fn restart_hold_timer(&mut self, now: Instant) {
        self.timers.hold = match self.negotiated {
            Some(n) if n.hold_time.is_zero() => None,
            Some(n) => Some(now + n.hold_time),
            None => Some(now + OPEN_HOLD_TIME),
        };
    }

    // ----- routes we announce -----

    /// Sends the difference between the desired set and what the peer has: withdrawals first
    /// (so a failing host stops attracting traffic before anything else), then announcements
    /// grouped by attributes so prefixes that share them share an UPDATE.
    fn sync_routes(&mut self, out: &mut Vec<Action>) {
        if self.state != State::Established {
            return;
        }
        let (Some(local), Some(negotiated)) = (self.local_address, self.negotiated) else {
            return;
        };
        let sent = &self.status.adj_out;
        let withdraw: Vec<IpNet> = sent
            .keys()
            .filter(|prefix| !self.wanted.contains_key(prefix))
            .copied()
            .collect();
        let mut announce: BTreeMap<&Arc<RouteAttrs>, Vec<IpNet>> = BTreeMap::new();
        let mut all_sendable = true;
        for (prefix, attrs) in self.wanted.iter() {
            if sent.get(prefix) == Some(attrs) {
                continue;
            }
            let why = if !negotiated.family(Family::of(prefix)) {
                "the peer did not advertise this address family"
            } else if prefix.addr().is_ipv6() && local.is_ipv4() {
                "IPv6 route needs an IPv6 next hop but the session runs over IPv4"
            } else {
                announce.entry(attrs).or_default().push(*prefix);
                continue;
            };
            all_sendable = false;
            out.push(Action::Event(Event::Unsendable {
                prefix: *prefix,
                why,
            }));
        }

        if withdraw.is_empty() && announce.is_empty() {
            if all_sendable {
                // In sync already; share the desired set if this is a copy of it.
                self.status.adj_out = Arc::clone(&self.wanted);
            }
            return;
        }
        let mut messages = Vec::new();
        if !withdraw.is_empty() {
            messages.extend(wire::encode_withdrawals(&withdraw));
            for prefix in &withdraw {
                out.push(Action::Event(Event::Withdrawn { prefix: *prefix }));
            }
        }
        let context = UpdateContext {
            local_as: self.config.local_as,
            four_octet_as: negotiated.four_octet_as,
            next_hop: local,
        };
        for (attrs, prefixes) in &announce {
            messages.extend(wire::encode_announcements(prefixes, attrs, &context));
            for prefix in prefixes {
                out.push(Action::Event(Event::Announced {
                    prefix: *prefix,
                    attrs: Arc::clone(attrs),
                }));
            }
        }

        let adj_out = if all_sendable {
            // The peer now has exactly the desired set: share it rather than keep a copy.
            Arc::clone(&self.wanted)
        } else {
            let mut adj_out = (**sent).clone();
            for prefix in &withdraw {
                adj_out.remove(prefix);
            }
            for (attrs, prefixes) in &announce {
                for prefix in prefixes {
                    adj_out.insert(*prefix, Arc::clone(attrs));
                }
            }
            Arc::new(adj_out)
        };
        self.status.adj_out = adj_out;
        self.status.sent.update += messages.len() as u64;
        out.push(Action::Send(messages.concat()));
    }

    /// Queues `bytes` for sending and counts the message in the given counter.
    fn send(
        &mut self,
        out: &mut Vec<Action>,
        bytes: Vec<u8>,
        counter: impl FnOnce(&mut MessageCounts) -> &mut u64,
    ) {
        *counter(&mut self.status.sent) += 1;
        out.push(Action::Send(bytes));
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "a test picks any origin for the time it passes in"
)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::model::{COMMUNITY_PRIMARY, COMMUNITY_SECONDARY};

    const LOCAL: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xff, 1, 0, 0, 0, 2));

    fn config() -> SessionConfig {
        SessionConfig {
            peer: "2001:db8:14:34::1".parse().unwrap(),
            local_as: 65001,
            peer_as: 65000,
            router_id: Ipv4Addr::new(192, 0, 2, 1),
            hostname: "host-a".to_string(),
            hold_time: 9,
            keepalive: 3,
            connect_retry: Duration::from_secs(5),
            tcp_md5: false,
        }
    }

    fn peer_open_with(asn: u32, hold_time: u16, extended_next_hop: bool) -> Vec<u8> {
        let mut capabilities = vec![
            Capability::MultiProtocol { afi: 1, safi: 1 },
            Capability::MultiProtocol { afi: 2, safi: 1 },
            Capability::FourOctetAs(asn),
        ];
        if extended_next_hop {
            capabilities.push(Capability::ExtendedNextHop(vec![ExtendedNextHopTuple {
                afi: 1,
                safi: 1,
                next_hop_afi: 2,
            }]));
        }
        wire::encode_open(&Open {
            version: 4,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            router_id: Ipv4Addr::new(10, 0, 0, 2),
            capabilities,
        })
    }

    fn peer_open(hold_time: u16) -> Vec<u8> {
        peer_open_with(65000, hold_time, true)
    }

    fn routes(entries: &[(&str, u32)]) -> Arc<DesiredRoutes> {
        Arc::new(
            entries
                .iter()
                .map(|(prefix, community)| {
                    let attrs = Arc::new(RouteAttrs {
                        communities: vec![*community],
                        med: None,
                    });
                    (prefix.parse().unwrap(), attrs)
                })
                .collect(),
        )
    }

    /// Every whole message in the Send actions, decoded.
    fn sent_messages(actions: &[Action]) -> Vec<Message> {
        let context = DecodeContext {
            four_octet_as: true,
        };
        let mut messages = Vec::new();
        for action in actions {
            if let Action::Send(bytes) = action {
                let mut rest = &bytes[..];
                while let Some(length) = wire::frame_len(rest).unwrap() {
                    messages.push(wire::decode(&rest[..length], &context).unwrap());
                    rest = &rest[length..];
                }
                assert!(rest.is_empty(), "a Send action holds whole messages only");
            }
        }
        messages
    }

    fn events(actions: &[Action]) -> Vec<&Event> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Event(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    fn retry_delay_of(actions: &[Action]) -> Duration {
        events(actions)
            .into_iter()
            .find_map(|e| match e {
                Event::Down { retry_in, .. } => Some(*retry_in),
                _ => None,
            })
            .expect("a Down event")
    }

    /// A fresh session whose TCP connection just came up (OPEN sent).
    fn connected(t0: Instant) -> Session {
        connected_with(t0, config())
    }

    fn connected_with(t0: Instant, config: SessionConfig) -> Session {
        let mut session = Session::new(config, 1);
        session.handle(t0, Input::Start);
        session.handle(t0, Input::Connected { local: LOCAL });
        session
    }

    /// Prefixes announced by the UPDATEs among the actions.
    fn announced_count(actions: &[Action]) -> u32 {
        sent_messages(actions)
            .iter()
            .map(|m| match m {
                Message::Update(u) => u.announced,
                _ => 0,
            })
            .sum()
    }

    /// Drives a fresh session to Established at `t0`; returns it and the Established step's actions.
    fn established(t0: Instant, wanted: Arc<DesiredRoutes>) -> (Session, Vec<Action>) {
        let mut session = connected(t0);
        session.handle(t0, Input::Routes(wanted));
        session.handle(t0, Input::Message(&peer_open(9)));
        let actions = session.handle(t0, Input::Message(&wire::encode_keepalive()));
        assert_eq!(session.state(), State::Established);
        (session, actions)
    }

    #[test]
    fn start_connects_at_once() {
        let t0 = Instant::now();
        let mut session = Session::new(config(), 1);
        let actions = session.handle(t0, Input::Start);
        assert!(actions.contains(&Action::Connect));
        assert_eq!(session.state(), State::Connect);
        // The attempt itself is bounded by the connect-retry time.
        assert_eq!(session.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn connected_sends_lelastic_open_with_our_router_id() {
        let t0 = Instant::now();
        let mut session = Session::new(config(), 1);
        session.handle(t0, Input::Start);
        let actions = session.handle(t0, Input::Connected { local: LOCAL });
        let messages = sent_messages(&actions);
        let [Message::Open(open)] = messages.as_slice() else {
            panic!("expected one OPEN, got {messages:?}");
        };
        assert_eq!((open.my_as, open.hold_time), (65001, 9));
        assert_eq!(open.router_id, Ipv4Addr::new(192, 0, 2, 1));
        let codes: Vec<&str> = open
            .capabilities
            .iter()
            .map(|c| match c {
                Capability::RouteRefresh => "rr",
                Capability::Fqdn { .. } => "fqdn",
                Capability::MultiProtocol { afi: 1, .. } => "mp4",
                Capability::MultiProtocol { afi: 2, .. } => "mp6",
                Capability::FourOctetAs(65001) => "as4",
                Capability::ExtendedNextHop(_) => "enhe",
                _ => "other",
            })
            .collect();
        assert_eq!(codes, ["rr", "fqdn", "mp4", "mp6", "as4", "enhe"]);
        assert_eq!(open.hostname(), Some("host-a"));
        assert_eq!(session.state(), State::OpenSent);
        assert_eq!(session.poll_timeout(), Some(t0 + OPEN_HOLD_TIME));
    }

    #[test]
    fn open_exchange_reaches_established_and_announces_then_end_of_rib() {
        let t0 = Instant::now();
        let wanted = routes(&[
            ("203.0.113.10/32", COMMUNITY_PRIMARY),
            ("2001:db8:100::/64", COMMUNITY_PRIMARY),
        ]);
        let mut session = connected(t0);
        session.handle(t0, Input::Routes(wanted));
        let actions = session.handle(t0, Input::Message(&peer_open(9)));
        assert_eq!(sent_messages(&actions), [Message::Keepalive]);
        assert_eq!(session.state(), State::OpenConfirm);
        // Nothing is announced before Established.
        let actions = session.handle(t0, Input::Message(&wire::encode_keepalive()));
        let messages = sent_messages(&actions);
        assert_eq!(announced_count(&actions), 2);
        let end_of_ribs: Vec<Family> = messages
            .iter()
            .filter_map(|m| match m {
                Message::Update(u) => u.end_of_rib,
                _ => None,
            })
            .collect();
        assert_eq!(end_of_ribs, [Family::Ipv4Unicast, Family::Ipv6Unicast]);
        // The End-of-RIB markers come last.
        assert!(matches!(messages.last(), Some(Message::Update(u)) if u.end_of_rib.is_some()));
        assert_eq!(session.status().adj_out.len(), 2);
        let announced_events = events(&actions)
            .into_iter()
            .filter(|e| matches!(e, Event::Announced { .. }))
            .count();
        assert_eq!(announced_events, 2);
    }

    #[test]
    fn prefixes_sharing_attributes_share_an_update() {
        let t0 = Instant::now();
        let wanted = routes(&[
            ("203.0.113.10/32", COMMUNITY_PRIMARY),
            ("203.0.113.11/32", COMMUNITY_PRIMARY),
            ("203.0.113.12/32", COMMUNITY_PRIMARY),
        ]);
        let (_, actions) = established(t0, wanted);
        let updates: Vec<u32> = sent_messages(&actions)
            .iter()
            .filter_map(|m| match m {
                Message::Update(u) if u.announced > 0 => Some(u.announced),
                _ => None,
            })
            .collect();
        assert_eq!(updates, [3]);
    }

    #[test]
    fn hold_time_is_the_smaller_one_and_keepalives_go_every_third() {
        let t0 = Instant::now();
        let mut session = connected(t0);
        session.handle(t0, Input::Message(&peer_open(6)));
        assert_eq!(session.status().negotiated_hold_time, Some(6));
        assert_eq!(session.poll_timeout(), Some(t0 + Duration::from_secs(2)));
        let actions = session.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(sent_messages(&actions), [Message::Keepalive]);
        assert_eq!(session.poll_timeout(), Some(t0 + Duration::from_secs(4)));
    }

    #[test]
    fn the_open_carries_the_configured_hold_time() {
        let t0 = Instant::now();
        let config = SessionConfig {
            hold_time: 3,
            keepalive: 1,
            ..config()
        };
        let mut session = Session::new(config, 1);
        session.handle(t0, Input::Start);
        let actions = session.handle(t0, Input::Connected { local: LOCAL });
        let [Message::Open(open)] = &sent_messages(&actions)[..] else {
            panic!("expected one OPEN: {actions:?}");
        };
        assert_eq!(open.hold_time, 3);
    }

    #[test]
    fn a_peer_hold_time_of_1_or_2_is_refused_with_2_6() {
        for hold in [1, 2] {
            let t0 = Instant::now();
            let mut session = connected(t0);
            let actions = session.handle(t0, Input::Message(&peer_open(hold)));
            assert_eq!(
                sent_messages(&actions),
                [Message::Notification(Notification::unacceptable_hold_time())],
                "hold {hold}"
            );
            assert_ne!(session.state(), State::Established);
        }
    }

    #[test]
    fn a_configured_keepalive_shorter_than_a_third_is_used() {
        let t0 = Instant::now();
        let mut session = connected_with(
            t0,
            SessionConfig {
                hold_time: 30,
                keepalive: 4,
                ..config()
            },
        );
        // The peer offers 90 s: the smaller hold (ours, 30 s) wins; keepalives every 4 s.
        session.handle(t0, Input::Message(&peer_open(90)));
        assert_eq!(session.status().negotiated_hold_time, Some(30));
        assert_eq!(session.status().negotiated_keepalive, Some(4));
        assert_eq!(session.poll_timeout(), Some(t0 + Duration::from_secs(4)));
        let actions = session.handle_timeout(t0 + Duration::from_secs(4));
        assert_eq!(sent_messages(&actions), [Message::Keepalive]);
    }

    #[test]
    fn a_shorter_hold_from_the_peer_shortens_our_keepalive() {
        let t0 = Instant::now();
        let mut session = connected_with(
            t0,
            SessionConfig {
                hold_time: 90,
                keepalive: 30,
                ..config()
            },
        );
        session.handle(t0, Input::Message(&peer_open(3)));
        assert_eq!(session.status().negotiated_hold_time, Some(3));
        assert_eq!(session.status().negotiated_keepalive, Some(1));
        assert_eq!(session.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn keepalive_interval_is_the_configured_one_within_a_third_of_the_hold_and_at_least_1s() {
        assert_eq!(keepalive_interval(3, 9), 3);
        assert_eq!(keepalive_interval(1, 9), 1);
        assert_eq!(keepalive_interval(30, 9), 3);
        assert_eq!(keepalive_interval(3, 3), 1);
        assert_eq!(keepalive_interval(3, 4), 1);
        assert_eq!(keepalive_interval(20, 65535), 20);
        assert_eq!(keepalive_interval(3, 0), 0);
    }

    #[test]
    fn our_hold_time_zero_means_no_keepalives_and_no_hold_timer() {
        let t0 = Instant::now();
        let mut session = connected_with(
            t0,
            SessionConfig {
                hold_time: 0,
                keepalive: 0,
                ..config()
            },
        );
        session.handle(t0, Input::Message(&peer_open(9)));
        session.handle(t0, Input::Message(&wire::encode_keepalive()));
        assert_eq!(session.state(), State::Established);
        assert_eq!(session.status().negotiated_hold_time, Some(0));
        assert_eq!(session.status().negotiated_keepalive, Some(0));
        assert_eq!(session.poll_timeout(), None);
    }

    #[test]
    fn hold_time_zero_means_no_keepalives_and_no_hold_timer() {
        let t0 = Instant::now();
        let mut session = connected(t0);
        session.handle(t0, Input::Message(&peer_open(0)));
        session.handle(t0, Input::Message(&wire::encode_keepalive()));
        assert_eq!(session.state(), State::Established);
        assert_eq!(session.poll_timeout(), None);
    }

    #[test]
    fn hold_timer_expiry_sends_notification_and_retries_after_five_to_nine_seconds() {
        let t0 = Instant::now();
        let (mut session, _) = established(t0, routes(&[]));
        // Our keepalives do not keep the session alive: only the peer's messages do.
        let mut now = t0;
        for _ in 0..2 {
            now = session.poll_timeout().unwrap();
            session.handle_timeout(now);
        }
        let expiry = t0 + Duration::from_secs(9);
        assert_eq!(session.poll_timeout(), Some(expiry));
        let actions = session.handle_timeout(expiry);
        let messages = sent_messages(&actions);
        assert_eq!(
            messages,
            [Message::Notification(Notification::hold_timer_expired())]
        );
        assert!(actions.contains(&Action::Disconnect));
        assert_eq!(session.state(), State::Active);
        let delay = retry_delay_of(&actions);
        assert!((5..=9).contains(&delay.as_secs()), "{delay:?}");
        assert!(now < expiry);
    }

    #[test]
    fn peer_messages_restart_the_hold_timer() {
        let t0 = Instant::now();
        let (mut session, _) = established(t0, routes(&[]));
        let t1 = t0 + Duration::from_secs(8);
        session.handle(t1, Input::Message(&wire::encode_keepalive()));
        let actions = session.handle_timeout(t0 + Duration::from_secs(9));
        assert!(!actions.contains(&Action::Disconnect));
        assert_eq!(session.state(), State::Established);
    }

    #[test]
    fn repeated_connect_failures_back_off_up_to_a_minute() {
        let mut now = Instant::now();
        let mut session = Session::new(config(), 3);
        session.handle(now, Input::Start);
        let mut delays = Vec::new();
        for _ in 0..6 {
            let actions = session.handle(now, Input::ConnectFailed("refused".into()));
            delays.push(retry_delay_of(&actions).as_secs());
            assert_eq!(session.state(), State::Active);
            now = session.poll_timeout().unwrap();
            let actions = session.handle_timeout(now);
            assert!(actions.contains(&Action::Connect));
        }
        let bases = [5, 10, 20, 40, 60, 60];
        for (delay, base) in delays.iter().zip(bases) {
            assert!((base..=base + 4).contains(delay), "{delays:?}");
        }
    }

    #[test]
    fn a_connect_that_hangs_is_abandoned_and_retried() {
        let t0 = Instant::now();
        let mut session = Session::new(config(), 3);
        session.handle(t0, Input::Start);
        let actions = session.handle_timeout(t0 + Duration::from_secs(5));
        assert!(actions.contains(&Action::Disconnect));
        assert_eq!(session.state(), State::Active);
    }

    #[test]
    fn a_connect_timeout_with_tcp_md5_points_at_the_password() {
        let down_reason = |tcp_md5: bool| {
            let t0 = Instant::now();
            let mut session = Session::new(
                SessionConfig {
                    tcp_md5,
                    ..config()
                },
                3,
            );
            session.handle(t0, Input::Start);
            let actions = session.handle_timeout(t0 + Duration::from_secs(5));
            let reason = actions.iter().find_map(|a| match a {
                Action::Event(Event::Down { reason, .. }) => Some(reason.clone()),
                _ => None,
            });
            assert_eq!(session.status().last_error, reason);
            reason.expect("a Down event")
        };
        assert_eq!(down_reason(false), "connect timed out");
        assert_eq!(
            down_reason(true),
            "connect timed out (TCP MD5 is configured: check the password on both sides)"
        );
    }

    #[test]
    fn a_stable_session_that_drops_retries_at_the_base_delay() {
        let t0 = Instant::now();
        let (mut session, _) = established(t0, routes(&[]));
        // Keep the session alive for a minute with peer keepalives.
        let mut now = t0;
        for _ in 0..20 {
            now += Duration::from_secs(3);
            session.handle(now, Input::Message(&wire::encode_keepalive()));
        }
        let actions = session.handle(now, Input::Closed("reset".into()));
        assert!((5..=9).contains(&retry_delay_of(&actions).as_secs()));
        assert_eq!(session.status().flaps, 1);
    }

    /// From Active: waits out the retry, connects and reaches Established again; returns when.
    fn reestablish(session: &mut Session) -> Instant {
        let now = session.poll_timeout().expect("a retry is armed");
        assert!(session.handle_timeout(now).contains(&Action::Connect));
        session.handle(now, Input::Connected { local: LOCAL });
        session.handle(now, Input::Message(&peer_open(9)));
        session.handle(now, Input::Message(&wire::encode_keepalive()));
        assert_eq!(session.state(), State::Established);
        now
    }

    #[test]
    fn a_route_server_restarting_every_few_seconds_is_retried_at_the_base_delay() {
        let cease = wire::encode_notification(&Notification::cease_peer_deconfigured());
        let (mut session, _) = established(Instant::now(), routes(&[]));
        let mut now = Instant::now();
        for restart in 0..15 {
            now += Duration::from_secs(2);
            // Alternately a Cease (FRR, GoBGP) and a plain close (a killed route server).
            let actions = if restart % 2 == 0 {
                session.handle(now, Input::Message(&cease))
            } else {
                session.handle(now, Input::Closed("connection reset by peer".into()))
            };
            let delay = retry_delay_of(&actions).as_secs();
            assert!((5..=9).contains(&delay), "restart {restart}: {delay} s");
            now = reestablish(&mut session);
        }
    }

    #[test]
    fn short_sessions_ended_by_error_notifications_back_off() {
        let fsm_error = wire::encode_notification(&Notification::fsm_error());
        let (mut session, _) = established(Instant::now(), routes(&[]));
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for round in 0..4 {
            // Alternately an error received and one we send (the hold timer expired).
            let actions = if round % 2 == 0 {
                session.handle(now + Duration::from_secs(2), Input::Message(&fsm_error))
            } else {
                session.handle_timeout(now + Duration::from_secs(9))
            };
            delays.push(retry_delay_of(&actions).as_secs());
            now = reestablish(&mut session);
        }
        for (delay, base) in delays.iter().zip([5, 10, 20, 40]) {
            assert!((base..=base + 4).contains(delay), "{delays:?}");
        }
    }

    #[test]
    fn a_cease_before_established_counts_as_a_failure() {
        let cease = wire::encode_notification(&Notification::cease_peer_deconfigured());
        let mut session = connected(Instant::now());
        let mut delays = Vec::new();
        for _ in 0..3 {
            let actions = session.handle(Instant::now(), Input::Message(&cease));
            delays.push(retry_delay_of(&actions).as_secs());
            let now = session.poll_timeout().unwrap();
            session.handle_timeout(now);
            session.handle(now, Input::Connected { local: LOCAL });
            assert_eq!(session.state(), State::OpenSent);
        }
        for (delay, base) in delays.iter().zip([5, 10, 20]) {
            assert!((base..=base + 4).contains(delay), "{delays:?}");
        }
    }

    #[test]
    fn wrong_peer_as_is_refused_with_bad_peer_as() {
        let t0 = Instant::now();
        let mut session = connected(t0);
        let actions = session.handle(t0, Input::Message(&peer_open_with(64999, 9, true)));
        assert_eq!(
            sent_messages(&actions),
            [Message::Notification(Notification::open_bad_peer_as(64999))]
        );
        assert_eq!(session.state(), State::Active);
    }

    #[test]
    fn missing_extended_next_hop_is_reported_but_routes_still_go_out() {
        let t0 = Instant::now();
        let mut session = Session::new(config(), 1);
        session.handle(
            t0,
            Input::Routes(routes(&[("203.0.113.10/32", COMMUNITY_PRIMARY)])),
        );
        session.handle(t0, Input::Start);
        session.handle(t0, Input::Connected { local: LOCAL });
        let actions = session.handle(t0, Input::Message(&peer_open_with(65000, 9, false)));
        assert!(events(&actions).contains(&&Event::PeerLacksExtendedNextHop));
        session.handle(t0, Input::Message(&wire::encode_keepalive()));
        assert_eq!(session.status().adj_out.len(), 1);
    }

    #[test]
    fn families_the_peer_does_not_speak_are_not_sent() {
        let t0 = Instant::now();
        let mut session = connected(t0);
        let wanted = routes(&[
            ("203.0.113.10/32", COMMUNITY_PRIMARY),
            ("2001:db8:100::/64", COMMUNITY_PRIMARY),
        ]);
        session.handle(t0, Input::Routes(wanted));
        // An OPEN with no multiprotocol capability: IPv4 unicast only (RFC 4760).
        let open = wire::encode_open(&Open {
            version: 4,
            my_as: 65000,
            hold_time: 9,
            router_id: Ipv4Addr::new(10, 0, 0, 2),
            capabilities: vec![Capability::FourOctetAs(65000)],
        });
        session.handle(t0, Input::Message(&open));
        let actions = session.handle(t0, Input::Message(&wire::encode_keepalive()));
        let messages = sent_messages(&actions);
        let families: Vec<Option<Family>> = messages
            .iter()
            .map(|m| match m {
                Message::Update(u) => u.end_of_rib,
                _ => None,
            })
            .collect();
        assert_eq!(families, [None, Some(Family::Ipv4Unicast)], "{messages:?}");
        assert_eq!(session.status().adj_out.len(), 1);
        assert!(
            events(&actions)
                .iter()
                .any(|e| matches!(e, Event::Unsendable { prefix, .. } if prefix.addr().is_ipv6()))
        );
    }

    #[test]
    fn a_session_in_sync_holds_the_desired_set_itself_not_a_copy() {
        let t0 = Instant::now();
        let both = routes(&[
            ("203.0.113.10/32", COMMUNITY_PRIMARY),
            ("2001:db8:100::/64", COMMUNITY_PRIMARY),
        ]);
        let (mut session, _) = established(t0, both.clone());
        assert!(Arc::ptr_eq(&session.status().adj_out, &both));
        let fewer = routes(&[("203.0.113.10/32", COMMUNITY_PRIMARY)]);
        let actions = session.handle(t0, Input::Routes(fewer.clone()));
        assert_eq!(sent_messages(&actions).len(), 1);
        assert!(Arc::ptr_eq(&session.status().adj_out, &fewer));
        // An equal set in a new allocation sends nothing and drops the old one.
        let equal = routes(&[("203.0.113.10/32", COMMUNITY_PRIMARY)]);
        let actions = session.handle(t0, Input::Routes(equal.clone()));
        assert!(sent_messages(&actions).is_empty());
        assert!(Arc::ptr_eq(&session.status().adj_out, &equal));
        assert_eq!(Arc::strong_count(&fewer), 1);
    }

    #[test]
    fn route_changes_send_withdrawals_first_and_only_the_difference() {
        let t0 = Instant::now();
        let (mut session, _) = established(
            t0,
            routes(&[
                ("203.0.113.10/32", COMMUNITY_PRIMARY),
                ("203.0.113.11/32", COMMUNITY_PRIMARY),
            ]),
        );
        // Same set again: nothing on the wire.
        let unchanged = routes(&[
            ("203.0.113.10/32", COMMUNITY_PRIMARY),
            ("203.0.113.11/32", COMMUNITY_PRIMARY),
        ]);
        assert!(sent_messages(&session.handle(t0, Input::Routes(unchanged))).is_empty());
        // .11 goes away, .10 is demoted, .12 is new.
        let next = routes(&[
            ("203.0.113.10/32", COMMUNITY_SECONDARY),
            ("203.0.113.12/32", COMMUNITY_PRIMARY),
        ]);
        let actions = session.handle(t0, Input::Routes(next));
        let messages = sent_messages(&actions);
        let summaries: Vec<(u32, u32)> = messages
            .iter()
            .map(|m| match m {
                Message::Update(u) => (u.withdrawn, u.announced),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            summaries[0],
            (1, 0),
            "the withdrawal goes first: {summaries:?}"
        );
        assert_eq!(summaries[1..].iter().map(|s| s.1).sum::<u32>(), 2);
        let withdrawn: Vec<&Event> = events(&actions)
            .into_iter()
            .filter(|e| matches!(e, Event::Withdrawn { .. }))
            .collect();
        assert_eq!(
            withdrawn,
            [&Event::Withdrawn {
                prefix: "203.0.113.11/32".parse().unwrap()
            }]
        );
        assert_eq!(session.status().adj_out.len(), 2);
    }

    #[test]
    fn routes_wait_for_established_and_go_out_again_after_a_reconnect() {
        let t0 = Instant::now();
        let wanted = routes(&[("203.0.113.10/32", COMMUNITY_PRIMARY)]);
        let (mut session, _) = established(t0, wanted.clone());
        session.handle(t0, Input::Closed("reset".into()));
        assert_eq!(session.status().adj_out.len(), 0);
        let t1 = session.poll_timeout().unwrap();
        session.handle_timeout(t1);
        session.handle(t1, Input::Connected { local: LOCAL });
        session.handle(t1, Input::Message(&peer_open(9)));
        let actions = session.handle(t1, Input::Message(&wire::encode_keepalive()));
        let announced = announced_count(&actions);
        assert_eq!(announced, 1);
    }

    #[test]
    fn garbage_from_the_peer_gets_a_notification_and_a_reconnect() {
        let t0 = Instant::now();
        let (mut session, _) = established(t0, routes(&[]));
        // A KEEPALIVE with a bad length field inside a correctly framed buffer: type 4 with 20 bytes.
        let mut bad = wire::encode_keepalive();
        bad.push(0);
        bad[17] = 20;
        let actions = session.handle(t0, Input::Message(&bad));
        let messages = sent_messages(&actions);
        assert!(
            matches!(messages.as_slice(), [Message::Notification(n)] if n.code == 1),
            "{messages:?}"
        );
        assert!(actions.contains(&Action::Disconnect));
        assert_eq!(session.state(), State::Active);
        assert!(session.status().last_error.is_some());
    }

    #[test]
    fn update_before_established_is_an_fsm_error() {
        let t0 = Instant::now();
        let mut session = connected(t0);
        session.handle(t0, Input::Message(&peer_open(9)));
        let actions = session.handle(
            t0,
            Input::Message(&wire::encode_end_of_rib(Family::Ipv4Unicast)),
        );
        assert_eq!(
            sent_messages(&actions),
            [Message::Notification(Notification::fsm_error())]
        );
    }

    #[test]
    fn a_notification_from_the_peer_closes_without_answering() {
        let t0 = Instant::now();
        let (mut session, _) = established(t0, routes(&[]));
        let cease = wire::encode_notification(&Notification::cease_peer_deconfigured());
        let actions = session.handle(t0, Input::Message(&cease));
        assert!(sent_messages(&actions).is_empty());
        assert!(events(&actions).contains(&&Event::NotificationReceived(
            Notification::cease_peer_deconfigured()
        )));
        assert_eq!(session.state(), State::Active);
    }

    /// Whether a sent UPDATE carries exactly these standard communities (attribute 8, optional
    /// transitive, RFC 1997), in this order.
    fn sends_communities(actions: &[Action], communities: &[u32]) -> bool {
        let mut attribute = vec![0xc0, 8, (communities.len() * 4) as u8];
        for community in communities {
            attribute.extend_from_slice(&community.to_be_bytes());
        }
        actions.iter().any(|a| match a {
            Action::Send(bytes) => bytes.windows(attribute.len()).any(|w| w == attribute),
            _ => false,
        })
    }

    #[test]
    fn a_graceful_shutdown_replaces_the_routes_in_place_and_undrain_restores_them() {
        use crate::model::GRACEFUL_SHUTDOWN;
        let t0 = Instant::now();
        let normal = routes(&[
            ("203.0.113.10/32", COMMUNITY_PRIMARY),
            ("2001:db8:100::/64", COMMUNITY_PRIMARY),
        ]);
        let (mut session, actions) = established(t0, normal.clone());
        assert!(sends_communities(&actions, &[COMMUNITY_PRIMARY]));
        // Drain: the same prefixes, demoted, with 65535:0 (what announce::plan gives).
        let drained: Arc<DesiredRoutes> = Arc::new(
            normal
                .keys()
                .map(|prefix| {
                    let attrs = Arc::new(RouteAttrs {
                        communities: vec![COMMUNITY_SECONDARY, GRACEFUL_SHUTDOWN],
                        med: Some(1000),
                    });
                    (*prefix, attrs)
                })
                .collect(),
        );
        let actions = session.handle(t0, Input::Routes(drained.clone()));
        assert!(sends_communities(
            &actions,
            &[COMMUNITY_SECONDARY, GRACEFUL_SHUTDOWN]
        ));
        // MULTI_EXIT_DISC 1000 (optional, type 4, length 4).
        let med = [0x80, 4, 4, 0, 0, 0x03, 0xe8];
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::Send(b) if b.windows(med.len()).any(|w| w == med)))
        );
        // An implicit replacement: the path stays usable until the peer picks another one.
        let summaries: Vec<(u32, u32)> = sent_messages(&actions)
            .iter()
            .filter_map(|m| match m {
                Message::Update(u) => Some((u.announced, u.withdrawn)),
                _ => None,
            })
            .collect();
        assert_eq!(
            summaries,
            [(1, 0), (1, 0)],
            "one UPDATE per family, no withdrawal"
        );
        assert_eq!(session.status().adj_out, drained);
        // Undrain: back to the role's community, again without a withdrawal.
        let actions = session.handle(t0, Input::Routes(normal.clone()));
        assert!(sends_communities(&actions, &[COMMUNITY_PRIMARY]));
        assert_eq!(announced_count(&actions), 2);
        assert_eq!(session.status().adj_out, normal);
        // The stop that follows a drain: withdraw everything, then the Cease.
        let actions = session.handle(t0, Input::Routes(routes(&[])));
        let withdrawn: u32 = sent_messages(&actions)
            .iter()
            .map(|m| match m {
                Message::Update(u) => u.withdrawn,
                _ => 0,
            })
            .sum();
        assert_eq!(withdrawn, 2);
        assert!(session.status().adj_out.is_empty());
        let cease = Notification::cease_admin_shutdown("elastic stopping (SIGTERM)");
        let actions = session.handle(t0, Input::Stop(cease.clone()));
        assert_eq!(sent_messages(&actions), [Message::Notification(cease)]);
    }

    #[test]
    fn stop_sends_the_cease_and_stays_down() {
        let t0 = Instant::now();
        let (mut session, _) = established(t0, routes(&[("203.0.113.10/32", COMMUNITY_PRIMARY)]));
        let cease = Notification::cease_admin_shutdown("elastic stopping");
        let actions = session.handle(t0, Input::Stop(cease.clone()));
        assert_eq!(sent_messages(&actions), [Message::Notification(cease)]);
        assert_eq!(
            actions.last(),
            Some(&Action::Event(Event::StateChanged {
                from: State::Established,
                to: State::Idle
            }))
        );
        assert!(actions.contains(&Action::Disconnect));
        assert_eq!(session.poll_timeout(), None);
        // Route changes after the stop send nothing.
        let actions = session.handle(t0, Input::Routes(routes(&[])));
        assert!(sent_messages(&actions).is_empty());
    }

    #[test]
    fn route_refresh_resends_the_requested_family_only() {
        let t0 = Instant::now();
        let wanted = routes(&[
            ("203.0.113.10/32", COMMUNITY_PRIMARY),
            ("2001:db8:100::/64", COMMUNITY_PRIMARY),
        ]);
        let (mut session, _) = established(t0, wanted);
        // ROUTE-REFRESH (RFC 2918) for IPv4 unicast: AFI 1, reserved, SAFI 1.
        let mut refresh = vec![0xff; 16];
        refresh.extend_from_slice(&[0, 23, 5, 0, 1, 0, 1]);
        let actions = session.handle(t0, Input::Message(&refresh));
        let announced: Vec<IpNet> = events(&actions)
            .into_iter()
            .filter_map(|e| match e {
                Event::Announced { prefix, .. } => Some(*prefix),
                _ => None,
            })
            .collect();
        assert_eq!(announced, ["203.0.113.10/32".parse::<IpNet>().unwrap()]);
        assert_eq!(sent_messages(&actions).len(), 1);
        assert_eq!(session.status().adj_out.len(), 2);
    }

    #[test]
    fn received_routes_are_counted_not_kept() {
        let t0 = Instant::now();
        let (mut session, _) = established(t0, routes(&[]));
        let attrs = RouteAttrs {
            communities: vec![],
            med: None,
        };
        let prefixes: Vec<IpNet> = (0..500u32)
            .map(|i| IpNet::new(IpAddr::V4(Ipv4Addr::from(0xc633_0000 + (i << 8))), 24).unwrap())
            .collect();
        let context = UpdateContext {
            local_as: 65000,
            four_octet_as: true,
            next_hop: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
        };
        for update in wire::encode_announcements(&prefixes, &attrs, &context) {
            session.handle(t0, Input::Message(&update));
        }
        let actions = session.handle(
            t0,
            Input::Message(&wire::encode_end_of_rib(Family::Ipv4Unicast)),
        );
        assert_eq!(session.status().prefixes_received, 500);
        assert!(events(&actions).contains(&&Event::EndOfRibReceived {
            family: Family::Ipv4Unicast,
            prefixes: 500
        }));
        assert_eq!(session.state(), State::Established);
    }

    #[test]
    fn bfd_down_sends_cease_bfd_down_and_retries_at_the_base_delay() {
        let t0 = Instant::now();
        let mut session = Session::new(config(), 1);
        // Two failed attempts first: a plain loss now would back off to 20 s.
        session.handle(t0, Input::Start);
        session.handle(t0, Input::ConnectFailed("refused".into()));
        let t1 = t0 + Duration::from_secs(10);
        session.handle_timeout(t1);
        session.handle(t1, Input::ConnectFailed("refused".into()));
        let t2 = t1 + Duration::from_secs(20);
        session.handle_timeout(t2);
        session.handle(t2, Input::Connected { local: LOCAL });
        session.handle(t2, Input::Message(&peer_open(9)));
        session.handle(t2, Input::Message(&wire::encode_keepalive()));
        assert_eq!(session.state(), State::Established);

        let actions = session.handle(t2 + Duration::from_secs(1), Input::BfdDown);
        let messages = sent_messages(&actions);
        assert_eq!(
            messages,
            [Message::Notification(Notification::cease_bfd_down())]
        );
        assert_eq!(
            Notification::cease_bfd_down().to_string(),
            "Cease/BFD Down (6/10)"
        );
        assert!(actions.contains(&Action::Disconnect));
        let retry = retry_delay_of(&actions);
        assert!(
            (Duration::from_secs(5)..=Duration::from_secs(9)).contains(&retry),
            "base delay, got {retry:?}"
        );
        assert_eq!(session.state(), State::Active);
        // While down there is nothing to take down.
        assert!(
            session
                .handle(t2 + Duration::from_secs(2), Input::BfdDown)
                .is_empty()
        );
    }
}
