//! Plain-data snapshots of the daemon, shared by the daemon (writer) and the API (reader).
//!
//! The daemon owns one [`StatusSource`]; readers call [`StatusSource::snapshot`] and never block
//! the event loop (watch channels hand out the latest value).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use tokio::sync::watch;

use crate::announce::AddressStatus;
use crate::bgp::session::{SessionStatus, State};
use crate::clock;
use crate::model::DesiredRoutes;
use crate::model::Role;
use crate::vrrp::instance::InstanceStatus;

/// Who the daemon is; replaced when a reload changes the role, the router id or the TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonInfo {
    pub version: &'static str,
    pub started_at: SystemTime,
    pub hostname: String,
    pub reloads: Reloads,
    /// What the BGP sessions run with; `None` in VRRP mode, which has none.
    pub bgp: Option<BgpInfo>,
}

/// The BGP side of [`DaemonInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpInfo {
    pub role: Role,
    pub router_id: Ipv4Addr,
    pub local_as: u32,
    pub peer_as: u32,
    /// Session settings shown by `gobgp neighbor ADDR` (lelastic: 9 s, 5 s, 16).
    pub hold_time: u16,
    pub keepalive: u16,
    pub connect_retry: Duration,
    pub multihop_ttl: u8,
}

/// How the SIGHUP reloads went since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reloads {
    pub succeeded: u64,
    pub failed: u64,
    /// The last one: when, and why it failed (`None`: it was applied).
    pub last: Option<(SystemTime, Option<String>)>,
}

impl Reloads {
    pub fn record(&mut self, at: SystemTime, outcome: Result<(), String>) {
        match &outcome {
            Ok(()) => self.succeeded += 1,
            Err(_) => self.failed += 1,
        }
        self.last = Some((at, outcome.err()));
    }

    /// Whether the last reload was refused (so the running configuration is not the file's).
    pub fn last_failed(&self) -> bool {
        matches!(self.last, Some((_, Some(_))))
    }
}

/// Health of one probe, as the health module publishes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeStatus {
    pub name: String,
    pub healthy: bool,
    /// Human-readable state ("up", "down", "rising 1/2", "falling 1/2", "waiting").
    pub state: String,
    pub last_ok: Option<bool>,
    pub last_output: String,
    pub last_latency: Option<Duration>,
    pub successes: u64,
    pub failures: u64,
    pub last_change: Option<Instant>,
    /// How many times `healthy` flipped since start (metrics).
    pub transitions: u64,
}

/// Maintenance and draining: what the operator asked for, beyond the health of the services.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mode {
    /// The maintenance file exists.
    pub maintenance_file: bool,
    /// SetMaintenance(drain: true) through the control socket.
    pub maintenance_requested: bool,
    /// Why every route carries GRACEFUL_SHUTDOWN (65535:0) now: `elastic drain`, or a planned
    /// stop; `None` when not draining.
    pub draining: Option<String>,
    /// Whether the control socket (SetMaintenance, Drain) is enabled.
    pub control_socket: bool,
}

/// When each desired route last entered the set (the `Age` column of `gobgp global rib`). Routes
/// present since start have no entry: they count from [`DaemonInfo::started_at`].
pub type RoutesFirstSeen = BTreeMap<IpNet, Instant>;

/// The first-seen times after the desired set changed from `previous` to `next` at `now`: routes
/// new to the set are stamped `now`, routes that stay keep their time, routes that left are
/// forgotten (so one that comes back counts from its return).
pub fn routes_first_seen(
    seen: &RoutesFirstSeen,
    previous: &DesiredRoutes,
    next: &DesiredRoutes,
    now: Instant,
) -> RoutesFirstSeen {
    next.keys()
        .filter_map(|prefix| {
            if previous.contains_key(prefix) {
                seen.get(prefix).map(|at| (*prefix, *at))
            } else {
                Some((*prefix, now))
            }
        })
        .collect()
}

/// The session receivers, in neighbor order; replaced when a reload adds or removes neighbors.
pub type SessionList = Arc<Vec<watch::Receiver<SessionStatus>>>;

/// One VRRP instance, as status and metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    /// `interface/vrid`, as logs and hooks name it.
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub addresses: Vec<IpNet>,
    /// The state machine's own status (its `priority` is the effective one).
    pub status: InstanceStatus,
    /// Why the instance is not running (it retries), while that lasts.
    pub error: Option<String>,
}

/// The VRRP instances, each published by its own task (empty in BGP mode).
pub type VrrpList = Arc<Vec<watch::Receiver<VrrpInstance>>>;

/// The receivers a reader needs; cheap to clone.
#[derive(Clone)]
pub struct StatusSource {
    pub info: watch::Receiver<Arc<DaemonInfo>>,
    pub sessions: watch::Receiver<SessionList>,
    pub routes: watch::Receiver<Arc<DesiredRoutes>>,
    pub routes_first_seen: watch::Receiver<Arc<RoutesFirstSeen>>,
    pub addresses: watch::Receiver<Arc<Vec<AddressStatus>>>,
    pub probes: watch::Receiver<Arc<Vec<ProbeStatus>>>,
    pub mode: watch::Receiver<Mode>,
    pub vrrp: watch::Receiver<VrrpList>,
    /// BFD packets no session took (unknown source), by reason.
    pub bfd_unclaimed: watch::Receiver<BTreeMap<&'static str, u64>>,
}

/// Everything at one moment. `taken_at` pairs the monotonic and wall clocks so readers can turn
/// the sessions' `Instant`s into wall-clock times.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub info: Arc<DaemonInfo>,
    pub mode: Mode,
    pub taken_at: (Instant, SystemTime),
    pub sessions: Vec<SessionStatus>,
    pub routes: Arc<DesiredRoutes>,
    pub routes_first_seen: Arc<RoutesFirstSeen>,
    /// Every address with whether and why it is announced, as the daemon's plan decided.
    pub addresses: Arc<Vec<AddressStatus>>,
    pub probes: Arc<Vec<ProbeStatus>>,
    /// VRRP mode's instances (empty in BGP mode).
    pub vrrp: Vec<VrrpInstance>,
    pub bfd_unclaimed: BTreeMap<&'static str, u64>,
}

impl StatusSource {
    /// A source whose layout never changes, for tests: fixed info, sessions and mode.
    #[cfg(test)]
    pub fn fixed(
        info: DaemonInfo,
        sessions: Vec<watch::Receiver<SessionStatus>>,
        routes: watch::Receiver<Arc<DesiredRoutes>>,
        addresses: watch::Receiver<Arc<Vec<AddressStatus>>>,
        probes: watch::Receiver<Arc<Vec<ProbeStatus>>>,
    ) -> StatusSource {
        StatusSource {
            info: watch::channel(Arc::new(info)).1,
            sessions: watch::channel(Arc::new(sessions)).1,
            routes,
            routes_first_seen: watch::channel(Arc::default()).1,
            addresses,
            probes,
            mode: watch::channel(Mode::default()).1,
            vrrp: watch::channel(VrrpList::default()).1,
            bfd_unclaimed: watch::channel(BTreeMap::new()).1,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let sessions = self.sessions.borrow().clone();
        let vrrp = self.vrrp.borrow().clone();
        Snapshot {
            info: self.info.borrow().clone(),
            mode: self.mode.borrow().clone(),
            taken_at: (clock::now(), clock::system_now()),
            sessions: sessions.iter().map(|s| s.borrow().clone()).collect(),
            // The daemon publishes first-seen times before the routes, so reading the routes
            // first never pairs a new route with the times from before it arrived.
            routes: self.routes.borrow().clone(),
            routes_first_seen: self.routes_first_seen.borrow().clone(),
            addresses: self.addresses.borrow().clone(),
            probes: self.probes.borrow().clone(),
            vrrp: vrrp.iter().map(|v| v.borrow().clone()).collect(),
            bfd_unclaimed: self.bfd_unclaimed.borrow().clone(),
        }
    }
}

impl Snapshot {
    /// Established sessions whose adj-RIB-out carries `prefix`.
    pub fn announced_to(&self, prefix: &IpNet) -> Vec<&SessionStatus> {
        self.sessions
            .iter()
            .filter(|s| s.state == State::Established && s.adj_out.contains_key(prefix))
            .collect()
    }

    /// Addresses that should be announced but are on no Established session. Empty means
    /// healthy, also when there is nothing to announce at all.
    pub fn missing_announcements(&self) -> Vec<IpNet> {
        self.addresses
            .iter()
            .filter(|a| a.announced && self.announced_to(&a.prefix).is_empty())
            .map(|a| a.prefix)
            .collect()
    }

    /// When `prefix` entered the desired set, as wall-clock time.
    pub fn route_first_seen(&self, prefix: &IpNet) -> SystemTime {
        match self.routes_first_seen.get(prefix) {
            Some(at) => self.wall_clock(*at),
            None => self.info.started_at,
        }
    }

    /// Wall-clock time of a monotonic instant taken by the daemon.
    pub fn wall_clock(&self, instant: Instant) -> SystemTime {
        let (now, wall) = self.taken_at;
        match now.checked_duration_since(instant) {
            Some(ago) => wall - ago,
            None => wall + instant.duration_since(now),
        }
    }
}

/// What the API and metrics tests start from: a BGP-mode daemon with lelastic's AS numbers and
/// session settings.
#[cfg(test)]
impl DaemonInfo {
    pub(crate) fn example(
        role: Role,
        router_id: Ipv4Addr,
        hostname: &str,
        started_at: SystemTime,
    ) -> DaemonInfo {
        DaemonInfo {
            version: "0.1.0",
            started_at,
            hostname: hostname.to_string(),
            reloads: Reloads::default(),
            bgp: Some(BgpInfo {
                role,
                router_id,
                local_as: 65001,
                peer_as: 65000,
                hold_time: 9,
                keepalive: 3,
                connect_retry: Duration::from_secs(5),
                multihop_ttl: 16,
            }),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "a test picks any origin for the times it passes in"
)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::announce::desired_routes;

    #[test]
    fn first_seen_keeps_the_first_sighting_and_forgets_routes_that_left() {
        let v4: IpNet = "203.0.113.10/32".parse().unwrap();
        let v6: IpNet = "2001:db8:aaaa:1::/64".parse().unwrap();
        let both = desired_routes(&[v4, v6], Role::Primary, None);
        let only_v4 = desired_routes(&[v4], Role::Primary, None);
        let t0 = Instant::now();
        let (t1, t2) = (t0 + Duration::from_secs(50), t0 + Duration::from_secs(80));

        // Present since start: no entry, so they count from the daemon's start.
        let seen = routes_first_seen(&RoutesFirstSeen::new(), &both, &only_v4, t1);
        assert!(seen.is_empty());
        let seen = routes_first_seen(&seen, &only_v4, &both, t1);
        assert_eq!(seen, RoutesFirstSeen::from([(v6, t1)]));
        // A route that stays keeps its time, even when its attributes change.
        let drained = desired_routes(&[v4, v6], Role::Secondary, Some(5));
        let seen = routes_first_seen(&seen, &both, &drained, t2);
        assert_eq!(seen, RoutesFirstSeen::from([(v6, t1)]));
        // Gone and back: counts from its return.
        let seen = routes_first_seen(&seen, &drained, &only_v4, t2);
        let seen = routes_first_seen(&seen, &only_v4, &both, t2);
        assert_eq!(seen, RoutesFirstSeen::from([(v6, t2)]));
    }
}
