//! The state machine of one VRRPv3 virtual router (RFC 9568 §6). Pure: no IO, no clock. The
//! driver feeds [`Input`]s with the current time, performs the returned [`Action`]s in order,
//! sleeps until [`Instance::poll_timeout`] and then calls [`Instance::handle_timeout`], the shape
//! of the BGP session. It decodes and checks received adverts itself, so every drop is counted in
//! one place ([`Discards`]).
//!
//! States are the RFC's Initialize, Backup and Master (RFC 9568 renamed Master to Active; we keep
//! Master, the word keepalived, FRR and the hooks' `ELASTIC_VRRP_STATE` use), plus keepalived's
//! Fault: health took the instance out of the election, so it sends nothing and holds nothing.
//!
//! Beyond the RFC, for elastic's users:
//! - **Planned handover.** A master that stops or is withdrawn sends priority 0 (§6.4.3) but keeps
//!   its addresses, and repeats the priority-0 advert every interval, until another router's
//!   advert says a new master is there (and [`HANDOVER_GRACE`] more) or a master-down interval
//!   has passed; only then does it remove them. The RFC removes them at once, which drops requests until the backup has taken
//!   over (at least Skew_Time).
//! - **Health.** [`Health::Demote`] lowers the advertised priority (keepalived's `weight`, never
//!   below 1); [`Health::Withdraw`] gives mastership up at once (the handover above) and keeps
//!   the instance out of the election until it is up again.
//! - **Preempt delay** (keepalived's `preempt_delay`): for that long after the instance enters
//!   the election, a lower-priority master is accepted as if preemption were off.
//! - **Announcements.** A new master sends `announce_repeat` gratuitous ARPs / unsolicited NAs,
//!   and the same again `announce_again_after` later (keepalived's `garp_master_repeat` and
//!   `garp_master_delay`), for switches and hosts that missed the first burst.
//!
//! Accept_Mode is always on: the addresses are service addresses this host answers on.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::wire::{
    self, Addresses, Advert, AdvertInterval, DecodeError, GROUP_V4, GROUP_V6, PRIORITY_OWNER,
    PRIORITY_STOP,
};

/// How long a master handing over keeps its addresses after the new master's first advert: the
/// new master's gratuitous ARPs follow that advert, and requests sent before the clients heard
/// them still reach this host and get answered.
pub const HANDOVER_GRACE: Duration = Duration::from_millis(50);

/// What one virtual router is, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Virtual Router Identifier, 1..=255.
    pub vrid: u8,
    /// 1..=254: elastic adds the addresses, so it is never their owner (255).
    pub priority: u8,
    pub advert_interval: AdvertInterval,
    /// The virtual addresses elastic adds on becoming master (one family).
    pub addresses: Addresses,
    /// This router's own address on the interface: the source of its adverts, and the tie-break
    /// between equal priorities (the higher address wins, §6.4.3).
    pub primary_address: IpAddr,
    /// IPv6: put first in every advert, as RFC 9568 §5.2.9 asks. keepalived 2.2.7 and FRR's
    /// vrrpd 8.4.4 both send none (`testdata/`), so `None` is what interoperates.
    pub link_local: Option<Ipv6Addr>,
    /// Send adverts to these instead of the multicast group, and accept adverts only from them.
    pub unicast_peers: Vec<IpAddr>,
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// Gratuitous ARPs / unsolicited NAs sent per burst.
    pub announce_repeat: u8,
    /// A second burst this long after becoming master; `None`: only the first.
    pub announce_again_after: Option<Duration>,
}

/// Why a configuration cannot make an instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("vrid 0: a virtual router id is 1-255")]
    Vrid,
    #[error(
        "priority {0}: 1-254 (255 is the address owner's, and elastic adds the addresses, so it never owns them)"
    )]
    Priority(u8),
    #[error("{0} addresses: an advert carries 1 to 255")]
    AddressCount(usize),
    #[error("{0} is not of the addresses' family")]
    Family(IpAddr),
}

/// RFC 9568 §6.4 states, plus Fault (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl State {
    /// As hooks (`ELASTIC_VRRP_STATE`), status and metrics name it.
    pub fn name(self) -> &'static str {
        match self {
            State::Initialize => "initialize",
            State::Backup => "backup",
            State::Master => "master",
            State::Fault => "fault",
        }
    }
}

/// What the services' health asks of the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    Up,
    /// Advertise the configured priority lowered by this much (at least 1).
    Demote(u8),
    /// Give mastership up and stay out of the election.
    Withdraw,
}

/// Inputs from the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// Startup (§6.4.1): enter the election (or Fault while withdrawn).
    Start,
    /// Shutdown: a master hands over (see the module doc); the instance ends in Initialize.
    Shutdown,
    Health(Health),
    /// The interface is gone (deleted, or its index now names another link): its addresses went
    /// with it and nothing can be sent there. The instance goes to Fault at once, with no
    /// handover (there is no link to hand over on), and waits there for the driver to end.
    InterfaceLost,
    /// A reload changed the configured priority (1-254; anything else is ignored): applied like
    /// a change of health, so a master tells the backups at once and no restart is needed.
    Priority(u8),
    /// One received protocol-112 packet: the IP header's fields and its payload.
    Packet {
        source: IpAddr,
        destination: IpAddr,
        ttl: u8,
        bytes: &'a [u8],
    },
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these advert bytes to `to` from the primary address, with TTL 255.
    Send {
        to: IpAddr,
        bytes: Vec<u8>,
    },
    /// Add the virtual addresses to the interface (IPv6: `nodad`).
    AddAddresses,
    /// Send `count` gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) for
    /// every virtual address.
    Announce {
        count: u8,
    },
    /// Remove the virtual addresses this instance added.
    RemoveAddresses,
    StateChanged {
        from: State,
        to: State,
    },
}

/// Received packets dropped, by reason (RFC 9568 §7.1's checks, then ours).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discards {
    /// TTL / hop limit not 255: not sent on this link.
    pub ttl: u64,
    pub version: u64,
    /// Not an advertisement.
    pub kind: u64,
    /// Shorter than the header, or the address count does not match the length.
    pub length: u64,
    pub checksum: u64,
    /// Advertisement interval 0.
    pub interval: u64,
    /// Another virtual router's (or another family's, or VRID 0): normal on a shared link.
    pub vrid: u64,
    /// With unicast peers: from an address that is not one of them.
    pub source: u64,
    /// Our own advert looped back.
    pub own: u64,
}

impl Discards {
    /// Each count with the name metrics label it with, in the order of the checks.
    pub fn by_reason(&self) -> [(&'static str, u64); 9] {
        [
            ("ttl", self.ttl),
            ("version", self.version),
            ("type", self.kind),
            ("length", self.length),
            ("checksum", self.checksum),
            ("interval", self.interval),
            ("vrid", self.vrid),
            ("source", self.source),
            ("own", self.own),
        ]
    }
}

/// What status and metrics show about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    pub state: State,
    /// The configured priority (a reload may change it).
    pub configured_priority: u8,
    /// The priority advertised now (0 while withdrawn or stopping).
    pub priority: u8,
    /// The current master's address and priority, as last heard (ourselves while master).
    pub master: Option<(IpAddr, u8)>,
    /// Master_Adver_Interval: the master's advert interval, learnt in Backup.
    pub master_advert_interval: AdvertInterval,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub discards: Discards,
    /// Adverts whose address list differs from ours (§7.1: processed, but worth a log line).
    pub address_mismatches: u64,
    pub last_transition: Option<Instant>,
    /// The virtual addresses are on the interface.
    pub holding_addresses: bool,
}

impl InstanceStatus {
    /// Before the start: Initialize, nothing sent or received.
    pub fn initial(priority: u8, advert_interval: AdvertInterval) -> InstanceStatus {
        InstanceStatus {
            state: State::Initialize,
            configured_priority: priority,
            priority,
            master: None,
            master_advert_interval: advert_interval,
            adverts_sent: 0,
            adverts_received: 0,
            discards: Discards::default(),
            address_mismatches: 0,
            last_transition: None,
            holding_addresses: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Timers {
    /// Backup: Master_Down_Timer.
    master_down: Option<Instant>,
    /// Master: Adver_Timer; while handing over, the next priority-0 advert.
    advert: Option<Instant>,
    /// Master: the second burst of announcements.
    announce_again: Option<Instant>,
    /// Handing over: remove the addresses at this time at the latest.
    handover: Option<Instant>,
}

impl Timers {
    fn next(&self) -> Option<Instant> {
        [
            self.master_down,
            self.advert,
            self.announce_again,
            self.handover,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// One virtual router.
#[derive(Debug, Clone)]
pub struct Instance {
    config: InstanceConfig,
    /// The address list every advert carries (the link-local first for IPv6).
    advertised: Addresses,
    group: IpAddr,
    health: Health,
    stopping: bool,
    timers: Timers,
    /// Until then a lower-priority master is accepted (preempt delay).
    preempt_after: Option<Instant>,
    status: InstanceStatus,
}

/// Skew_Time (§6.1): ((256 − priority) × Master_Adver_Interval) / 256, so a higher priority
/// waits less after the master goes away.
pub fn skew_time(priority: u8, master_advert_interval: AdvertInterval) -> Duration {
    master_advert_interval.as_duration() * (256 - u32::from(priority)) / 256
}

/// Master_Down_Interval (§6.1): 3 × Master_Adver_Interval + Skew_Time.
pub fn master_down_interval(priority: u8, master_advert_interval: AdvertInterval) -> Duration {
    master_advert_interval.as_duration() * 3 + skew_time(priority, master_advert_interval)
}

impl Instance {
    pub fn new(config: InstanceConfig) -> Result<Instance, ConfigError> {
        if config.vrid == 0 {
            return Err(ConfigError::Vrid);
        }
        if config.priority == PRIORITY_STOP || config.priority == PRIORITY_OWNER {
            return Err(ConfigError::Priority(config.priority));
        }
        let advertised = match (&config.addresses, config.link_local) {
            (Addresses::V6(addresses), Some(link_local)) => Addresses::V6(
                std::iter::once(link_local)
                    .chain(addresses.iter().copied().filter(|a| *a != link_local))
                    .collect(),
            ),
            (Addresses::V4(_), Some(link_local)) => {
                return Err(ConfigError::Family(IpAddr::V6(link_local)));
            }
            (addresses, None) => addresses.clone(),
        };
        if config.addresses.is_empty() || advertised.len() > 255 {
            return Err(ConfigError::AddressCount(advertised.len()));
        }
        let ipv6 = config.addresses.is_ipv6();
        if let Some(other) = std::iter::once(&config.primary_address)
            .chain(&config.unicast_peers)
            .find(|a| a.is_ipv6() != ipv6)
        {
            return Err(ConfigError::Family(*other));
        }
        let group = if ipv6 {
            IpAddr::V6(GROUP_V6)
        } else {
            IpAddr::V4(GROUP_V4)
        };
        let status = InstanceStatus::initial(config.priority, config.advert_interval);
        Ok(Instance {
            config,
            advertised,
            group,
            health: Health::Up,
            stopping: false,
            timers: Timers::default(),
            preempt_after: None,
            status,
        })
    }

    pub fn state(&self) -> State {
        self.status.state
    }

    pub fn status(&self) -> &InstanceStatus {
        &self.status
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// Stopped, and nothing left on the interface: the driver may exit.
    pub fn is_finished(&self) -> bool {
        self.stopping && self.state() == State::Initialize && !self.status.holding_addresses
    }

    /// The earliest deadline the driver must wake up for.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The priority advertised now.
    fn priority(&self) -> u8 {
        match self.health {
            Health::Up => self.config.priority,
            Health::Demote(by) => self.config.priority.saturating_sub(by).max(1),
            Health::Withdraw => PRIORITY_STOP,
        }
    }

    /// Handles every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let due = |deadline: Option<Instant>| deadline.is_some_and(|t| t <= now);
        if due(self.timers.handover) {
            self.finish_handover(&mut out);
        }
        if due(self.timers.master_down) {
            // Master_Down_Timer fires (§6.4.2).
            self.timers.master_down = None;
            if self.state() == State::Backup {
                self.become_master(now, &mut out);
            }
        }
        if due(self.timers.advert) {
            // Adver_Timer fires (§6.4.3), or the next priority-0 advert of a handover.
            let priority = if self.state() == State::Master {
                self.priority()
            } else {
                PRIORITY_STOP
            };
            self.send_advert(priority, &mut out);
            self.timers.advert = Some(now + self.config.advert_interval.as_duration());
        }
        if due(self.timers.announce_again) {
            self.timers.announce_again = None;
            out.push(Action::Announce {
                count: self.config.announce_repeat,
            });
        }
        out
    }

    /// Handles one input at time `now`.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.start(now, &mut out),
            Input::Shutdown => self.shutdown(now, &mut out),
            Input::Health(health) => self.set_health(now, health, &mut out),
            Input::Priority(priority) => self.set_priority(now, priority, &mut out),
            Input::InterfaceLost => self.interface_lost(now, &mut out),
            Input::Packet {
                source,
                destination,
                ttl,
                bytes,
            } => self.receive(now, source, destination, ttl, bytes, &mut out),
        }
        out
    }

    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state() != State::Initialize || self.stopping {
            return;
        }
        if self.health == Health::Withdraw {
            self.transition(now, State::Fault, out);
        } else {
            self.enter_election(now, out);
        }
    }

    /// Startup (§6.4.1) without the owner's branch: Backup with the Master_Down_Timer armed.
    fn enter_election(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.status.master_advert_interval = self.config.advert_interval;
        self.status.master = None;
        self.timers.master_down = Some(now + self.master_down_interval());
        self.preempt_after = Some(now + self.config.preempt_delay);
        self.transition(now, State::Backup, out);
    }

    fn shutdown(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.stopping = true;
        match self.state() {
            State::Master => self.hand_over(now, State::Initialize, out),
            State::Backup | State::Fault => {
                self.timers.master_down = None;
                self.transition(now, State::Initialize, out);
            }
            State::Initialize => {}
        }
    }

    fn interface_lost(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.timers = Timers::default();
        self.status.master = None;
        self.remove_addresses(out);
        self.transition(now, State::Fault, out);
    }

    fn set_health(&mut self, now: Instant, health: Health, out: &mut Vec<Action>) {
        let before = self.priority();
        self.health = health;
        self.status.priority = self.priority();
        if self.stopping {
            return;
        }
        match (self.state(), health) {
            (State::Master, Health::Withdraw) => self.hand_over(now, State::Fault, out),
            (State::Backup, Health::Withdraw) => {
                self.timers.master_down = None;
                self.transition(now, State::Fault, out);
            }
            (State::Fault, Health::Up | Health::Demote(_)) => {
                // Back in service before the handover finished: the new master is (about to
                // be) there, so the addresses go now.
                self.finish_handover(out);
                self.enter_election(now, out);
            }
            (State::Master, _) if self.priority() != before => self.advertise_now(now, out),
            _ => {}
        }
    }

    fn set_priority(&mut self, now: Instant, priority: u8, out: &mut Vec<Action>) {
        if priority == PRIORITY_STOP || priority == PRIORITY_OWNER {
            return;
        }
        let before = self.priority();
        self.config.priority = priority;
        self.status.configured_priority = priority;
        self.status.priority = self.priority();
        if !self.stopping && self.state() == State::Master && self.priority() != before {
            self.advertise_now(now, out);
        }
    }

    /// A master's priority changed: tell the backups at once. One with preemption and a higher
    /// priority than the new one then lets its Master_Down_Timer run out and takes over.
    fn advertise_now(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.status.master = Some((self.config.primary_address, self.priority()));
        self.send_advert(self.priority(), out);
        self.timers.advert = Some(now + self.config.advert_interval.as_duration());
    }

    fn receive(
        &mut self,
        now: Instant,
        source: IpAddr,
        destination: IpAddr,
        ttl: u8,
        bytes: &[u8],
        out: &mut Vec<Action>,
    ) {
        let discards = &mut self.status.discards;
        if ttl != wire::TTL {
            discards.ttl += 1;
            return;
        }
        let advert = match wire::decode(bytes, source, destination) {
            Ok(advert) => advert,
            Err(e) => {
                *match e {
                    DecodeError::Version(_) => &mut discards.version,
                    DecodeError::Type(_) => &mut discards.kind,
                    DecodeError::VridZero => &mut discards.vrid,
                    DecodeError::IntervalZero => &mut discards.interval,
                    DecodeError::Checksum { .. } => &mut discards.checksum,
                    DecodeError::TooShort(_)
                    | DecodeError::AddressCount { .. }
                    | DecodeError::MixedFamilies { .. } => &mut discards.length,
                } += 1;
                return;
            }
        };
        if advert.vrid != self.config.vrid
            || advert.addresses.is_ipv6() != self.config.addresses.is_ipv6()
        {
            discards.vrid += 1;
            return;
        }
        if source == self.config.primary_address {
            discards.own += 1;
            return;
        }
        if !self.config.unicast_peers.is_empty() && !self.config.unicast_peers.contains(&source) {
            discards.source += 1;
            return;
        }
        self.status.adverts_received += 1;
        if !self.same_addresses(&advert.addresses) {
            self.status.address_mismatches += 1;
        }
        if advert.priority != PRIORITY_STOP {
            self.status.master = Some((source, advert.priority));
            if self.state() != State::Master {
                // Another router is master now: a handover in progress ends after the grace.
                self.new_master_heard(now);
            }
        }
        match self.state() {
            State::Backup => self.backup_receives(now, &advert),
            State::Master => self.master_receives(now, source, &advert, out),
            State::Initialize | State::Fault => {}
        }
    }

    /// §6.4.2, receiving an ADVERTISEMENT in Backup.
    fn backup_receives(&mut self, now: Instant, advert: &Advert) {
        if advert.priority == PRIORITY_STOP {
            self.status.master = None;
            self.timers.master_down = Some(now + self.skew_time());
            return;
        }
        let delaying_preemption = self.preempt_after.is_some_and(|t| now < t);
        if !self.config.preempt || advert.priority >= self.priority() || delaying_preemption {
            self.status.master_advert_interval = advert.max_advert_interval;
            self.timers.master_down = Some(now + self.master_down_interval());
        }
        // Otherwise the advert is discarded: the lower-priority master is preempted when the
        // Master_Down_Timer fires.
    }

    /// §6.4.3, receiving an ADVERTISEMENT in Master.
    fn master_receives(
        &mut self,
        now: Instant,
        source: IpAddr,
        advert: &Advert,
        out: &mut Vec<Action>,
    ) {
        if advert.priority == PRIORITY_STOP {
            // Another master is stopping (two masters after a partition heals): answer at once
            // so its backups hear who is master.
            self.advertise_now(now, out);
            return;
        }
        let ours = self.priority();
        let loses = advert.priority > ours
            || (advert.priority == ours && source > self.config.primary_address);
        if !loses {
            // Discarded: we stay master, and our next advert makes the other one a backup.
            self.status.master = Some((self.config.primary_address, ours));
            return;
        }
        self.timers.advert = None;
        self.timers.announce_again = None;
        self.status.master_advert_interval = advert.max_advert_interval;
        self.timers.master_down = Some(now + self.master_down_interval());
        self.transition(now, State::Backup, out);
        self.remove_addresses(out);
    }

    /// Master_Down_Timer fired in Backup (§6.4.2).
    fn become_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.transition(now, State::Master, out);
        if !self.status.holding_addresses {
            self.status.holding_addresses = true;
            out.push(Action::AddAddresses);
        }
        self.advertise_now(now, out);
        out.push(Action::Announce {
            count: self.config.announce_repeat,
        });
        self.timers.announce_again = self.config.announce_again_after.map(|d| now + d);
    }

    /// Leaves Master for `to` with priority 0, keeping the addresses until a new master speaks
    /// or a Master_Down_Interval passes.
    fn hand_over(&mut self, now: Instant, to: State, out: &mut Vec<Action>) {
        self.transition(now, to, out);
        self.status.master = None;
        self.send_advert(PRIORITY_STOP, out);
        self.timers.advert = Some(now + self.config.advert_interval.as_duration());
        self.timers.announce_again = None;
        self.timers.handover =
            Some(now + master_down_interval(self.config.priority, self.config.advert_interval));
    }

    /// While handing over: the new master spoke, so the priority-0 adverts stop and the
    /// addresses go [`HANDOVER_GRACE`] later (or sooner, if the handover was ending anyway).
    fn new_master_heard(&mut self, now: Instant) {
        if let Some(end) = self.timers.handover {
            self.timers.advert = None;
            self.timers.handover = Some(end.min(now + HANDOVER_GRACE));
        }
    }

    /// Ends a handover in progress (if any): the addresses go, the priority-0 adverts stop.
    fn finish_handover(&mut self, out: &mut Vec<Action>) {
        if self.timers.handover.take().is_some() {
            self.timers.advert = None;
            self.remove_addresses(out);
        }
    }

    fn remove_addresses(&mut self, out: &mut Vec<Action>) {
        if self.status.holding_addresses {
            self.status.holding_addresses = false;
            out.push(Action::RemoveAddresses);
        }
    }

    fn send_advert(&mut self, priority: u8, out: &mut Vec<Action>) {
        let advert = Advert {
            vrid: self.config.vrid,
            priority,
            max_advert_interval: self.config.advert_interval,
            addresses: self.advertised.clone(),
        };
        let destinations = if self.config.unicast_peers.is_empty() {
            std::slice::from_ref(&self.group)
        } else {
            self.config.unicast_peers.as_slice()
        };
        for &to in destinations {
            // `new` checked the count and the families, so this cannot fail.
            if let Ok(bytes) = wire::encode(&advert, self.config.primary_address, to) {
                self.status.adverts_sent += 1;
                out.push(Action::Send { to, bytes });
            }
        }
    }

    fn transition(&mut self, now: Instant, to: State, out: &mut Vec<Action>) {
        let from = self.status.state;
        if from != to {
            self.status.state = to;
            self.status.last_transition = Some(now);
            out.push(Action::StateChanged { from, to });
        }
    }

    fn skew_time(&self) -> Duration {
        skew_time(self.priority(), self.status.master_advert_interval)
    }

    fn master_down_interval(&self) -> Duration {
        master_down_interval(self.priority(), self.status.master_advert_interval)
    }

    /// The advert's addresses are ours, in any order, link-local ones aside (keepalived sends
    /// none, FRR's vrrpd one).
    fn same_addresses(&self, theirs: &Addresses) -> bool {
        let set = |addresses: &Addresses| -> BTreeSet<IpAddr> {
            addresses
                .iter()
                .filter(|a| !matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local()))
                .collect()
        };
        set(theirs) == set(&self.config.addresses)
    }
}

#[cfg(test)]
mod tests;
