//! The one event loop: binds and watches addresses, runs the probes and the maintenance-file
//! poll, computes the desired route set from the services' health, runs one session per route
//! server, runs hooks on service state changes, answers the control socket, reloads the config
//! on SIGHUP, and stops in order.
//!
//! A planned stop (SIGTERM, SIGINT) is a graceful shutdown (RFC 8326): every announced route is
//! re-announced demoted with GRACEFUL_SHUTDOWN 65535:0 for `drain_time` while the host keeps
//! serving, then everything is withdrawn, then each session gets a Cease / Administrative
//! Shutdown with a shutdown message (RFC 9003), then what elastic bound is unbound. A second
//! signal skips the drain; a third skips the waits.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::addrs::{self, AddrChange, Netlink};
use crate::announce::{self, DesiredRoutes};
use crate::api::{self, ApiError};
use crate::bgp::peer::{self, PeerHandle, Transport};
use crate::bgp::session::{SessionConfig, State};
use crate::bgp::wire::Notification;
use crate::cli::{Invocation, Role, Settings};
use crate::config::{self, HealthConfig, HookConfig, ProbeConfig, ServiceConfig};
use crate::control::{self, ControlError};
use crate::health::{self, ProbeHealth, ServiceHealth};
use crate::hooks::{HookEvent, Hooks};
use crate::metrics::{self, MetricsError};
use crate::probe::{self, ProbeReport};
use crate::status::{AddressStatus, DaemonInfo, Mode, ProbeStatus, SessionList, StatusSource};
use crate::systemd;

/// lelastic's timers: hold 9 s (keepalive 3 s), connect retry 5 s.
const HOLD_TIME_SECS: u16 = 9;
const CONNECT_RETRY: Duration = Duration::from_secs(5);
/// Address changes come in bursts (an `ip addr add` of an IPv6 address is several messages).
const ADDRESS_SETTLE: Duration = Duration::from_millis(20);
/// How long the sessions get to send their withdrawals on stop, before the Cease.
const WITHDRAW_GRACE: Duration = Duration::from_secs(2);
/// How long the sessions get to send their Cease on stop (and a restarted one on reload).
const STOP_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("netlink: {0}")]
    Netlink(std::io::Error),
    #[error("cannot bind {net} to lo: {error}")]
    Bind { net: IpNet, error: std::io::Error },
    #[error(
        "unable to detect IPs: no eligible address on {where_} (add one to lo, or pass -address CIDR)"
    )]
    NoAddresses { where_: &'static str },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// Runs until SIGTERM or SIGINT. `invocation` is what SIGHUP re-reads (the flags keep winning
/// over the file); without it SIGHUP only rescans addresses and the maintenance file.
pub async fn run(
    mut settings: Settings,
    invocation: Option<Invocation>,
) -> Result<(), DaemonError> {
    // Handlers first: a signal during start-up must not kill us with addresses half bound.
    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    // Listeners next: a taken port fails start-up before anything is bound or announced.
    let api_listener = settings.api.map(api::bind).transpose()?;
    let metrics_listener = settings.metrics.map(metrics::bind).transpose()?;
    let control_listener = match &settings.control_socket {
        Some(path) => Some(control::bind(
            path,
            settings.control_socket_group.as_deref(),
        )?),
        None => None,
    };
    // Removes the socket file on every way out.
    let _socket_file = settings.control_socket.clone().map(SocketFile);
    // Main logged them; a reload logs its own.
    settings.warnings.clear();
    let started_at = SystemTime::now();
    let netlink = Netlink::new().map_err(DaemonError::Netlink)?;
    // Subscribe before the first listing, so no change can slip between the two.
    let mut address_changes = addrs::watch_addresses().map_err(DaemonError::Netlink)?;
    let bound = bind_addresses(&netlink, &settings.addresses).await?;

    let interface_addrs = netlink.addresses().await.map_err(DaemonError::Netlink)?;
    let prefixes = eligible(&settings, &interface_addrs);
    if prefixes.is_empty() {
        unbind_addresses(&netlink, &bound).await;
        let where_ = if settings.allifs {
            "any interface"
        } else {
            "lo"
        };
        return Err(DaemonError::NoAddresses { where_ });
    }
    let default_router_id = addrs::default_router_id(&interface_addrs);
    let router_id = settings.router_id.unwrap_or(default_router_id);
    let hostname = hostname();
    info!(
        version = env!("CARGO_PKG_VERSION"),
        dcid = settings.dcid,
        role = ?settings.role,
        %router_id,
        hostname,
        neighbors = %join(&settings.neighbors),
        prefixes = %join(&prefixes),
        "elastic starting"
    );
    log_services(&settings.health);

    let (reports_tx, mut reports) = mpsc::channel::<ProbeReport>(64);
    let mut gate = Gate::new(&settings.health, &reports_tx);
    gate.update_services(now());
    let plan = gate.plan(&prefixes, &settings);
    let (routes_tx, routes_rx) = watch::channel(Arc::new(plan.routes));
    let (addresses_tx, addresses_rx) = watch::channel(Arc::new(plan.addresses));
    let (probes_tx, probes_rx) = watch::channel(Arc::new(gate.probe_statuses()));
    let (mode_tx, mode_rx) = watch::channel(gate.mode(settings.control_socket.is_some()));
    let (info_tx, info_rx) = watch::channel(Arc::new(daemon_info(
        &settings, started_at, router_id, &hostname,
    )));
    let (sessions_tx, sessions_rx) = watch::channel(SessionList::default());
    let mut peers = Peers {
        slots: Vec::new(),
        leaving: Vec::new(),
        routes: routes_rx.clone(),
    };
    peers
        .reconcile(wanted_sessions(&settings, router_id, &hostname))
        .await;
    sessions_tx.send_replace(peers.list());

    // What the API and the metrics read: snapshots of the channels above, never the loop itself.
    let source = StatusSource {
        info: info_rx,
        sessions: sessions_rx,
        routes: routes_rx,
        addresses: addresses_rx,
        probes: probes_rx,
        mode: mode_rx,
    };
    // The sessions have not run yet (one thread; no await since spawning them).
    let _api = api_listener.map(|bound| api::serve(bound, source.clone()));
    let _metrics = metrics_listener.map(|bound| metrics::serve(bound, source.clone()));
    let (control_tx, mut control_rx) = control::channel();
    let _control = control_listener.map(|listener| {
        info!(socket = ?settings.control_socket, "control socket listening (SetMaintenance, Drain)");
        api::serve_control(listener, source, control_tx)
    });

    let mut daemon = Daemon {
        settings,
        invocation,
        netlink,
        bound,
        prefixes,
        default_router_id,
        hostname,
        gate,
        peers,
        reports: reports_tx,
        out: Published {
            routes: routes_tx,
            addresses: addresses_tx,
            probes: probes_tx,
            mode: mode_tx,
            info: info_tx,
            sessions: sessions_tx,
        },
        started_at,
    };

    systemd::ready(&summary(
        &daemon.out.routes.borrow(),
        daemon.peers.slots.len(),
        None,
    ));
    let mut watchdog = systemd::watchdog_interval().map(tokio::time::interval);
    let mut maintenance_poll = poll_interval(daemon.settings.health.maintenance_poll);
    let mut watching = true;
    // While draining before a stop: the signal's name and when the drain ends.
    let mut stopping: Option<(&'static str, Instant)> = None;
    let signal_name = loop {
        let deadline = daemon.gate.poll_timeout();
        let drain_ends = stopping.map(|(_, until)| until);
        tokio::select! {
            _ = terminate.recv() => if let Some(name) = daemon.on_stop_signal("SIGTERM", &mut stopping) {
                break name;
            },
            _ = interrupt.recv() => if let Some(name) = daemon.on_stop_signal("SIGINT", &mut stopping) {
                break name;
            },
            () = sleep_until(drain_ends), if drain_ends.is_some() => {
                if let Some((name, _)) = stopping {
                    info!("drain time over");
                    break name;
                }
            }
            _ = tick(&mut watchdog) => systemd::watchdog(),
            _ = hangup.recv() => {
                if stopping.is_some() {
                    info!("SIGHUP while stopping: ignored");
                    continue;
                }
                let poll = daemon.settings.health.maintenance_poll;
                daemon.on_hangup().await;
                if daemon.settings.health.maintenance_poll != poll {
                    maintenance_poll = poll_interval(daemon.settings.health.maintenance_poll);
                }
            }
            notice = address_changes.recv(), if watching => match notice {
                Some(()) => {
                    tokio::time::sleep(ADDRESS_SETTLE).await;
                    while address_changes.try_recv().is_ok() {}
                    daemon.rescan().await;
                    daemon.refresh();
                }
                None => {
                    error!("address watch ended: changes on lo are no longer noticed (SIGHUP rescans)");
                    watching = false;
                }
            },
            Some(report) = reports.recv() => {
                daemon.gate.on_report(report);
                daemon.refresh();
            }
            Some(request) = control_rx.recv() => {
                let answer = daemon.on_control(request.command, stopping.is_some());
                let _ = request.reply.send(answer);
            }
            _ = maintenance_poll.tick(), if daemon.gate.maintenance_file.is_some() => {
                if daemon.gate.read_maintenance_file() {
                    daemon.refresh();
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => daemon.refresh(),
        }
    };
    daemon.gate.stop_probes();
    if stopping.is_none() {
        systemd::stopping();
    }

    // Withdraw everything, and wait until every Established session has sent the withdrawals:
    // the Cease must not overtake them.
    if !daemon.out.routes.borrow().is_empty() {
        info!("withdrawing every route");
        daemon
            .out
            .routes
            .send_replace(Arc::new(DesiredRoutes::new()));
        tokio::select! {
            () = daemon.peers.withdrawn() => {}
            () = tokio::time::sleep(WITHDRAW_GRACE) => warn!("some sessions did not send their withdrawals in time"),
            _ = terminate.recv() => warn!("another signal: sending the Cease at once"),
            _ = interrupt.recv() => warn!("another signal: sending the Cease at once"),
        }
    }
    info!(
        signal = signal_name,
        "stopping: sending Cease (administrative shutdown) to every route server"
    );
    let farewell = Notification::cease_admin_shutdown(&format!("elastic stopping ({signal_name})"));
    let all_stopped = daemon.peers.stop_all(farewell);
    tokio::select! {
        () = all_stopped => {}
        () = tokio::time::sleep(STOP_GRACE) => warn!("some sessions did not close in time"),
        _ = terminate.recv() => warn!("another signal: exiting at once"),
        _ = interrupt.recv() => warn!("another signal: exiting at once"),
    }
    unbind_addresses(&daemon.netlink, &daemon.bound).await;
    info!("stopped");
    Ok(())
}

/// Everything the event loop's handlers change.
struct Daemon {
    settings: Settings,
    invocation: Option<Invocation>,
    netlink: Netlink,
    /// The addresses elastic bound to lo (only these are unbound).
    bound: Vec<AddrChange>,
    prefixes: Vec<IpNet>,
    /// The router id derived from the interfaces at start, used while none is configured.
    default_router_id: Ipv4Addr,
    hostname: String,
    gate: Gate,
    peers: Peers,
    reports: mpsc::Sender<ProbeReport>,
    out: Published,
    started_at: SystemTime,
}

impl Daemon {
    /// Recomputes the desired set and publishes it (see [`Gate::refresh`]).
    fn refresh(&mut self) {
        self.gate.refresh(
            &self.prefixes,
            &self.settings,
            self.peers.slots.len(),
            &self.out,
        );
    }

    async fn rescan(&mut self) {
        rescan(&self.netlink, &self.settings, &mut self.prefixes).await;
    }

    /// The first signal starts the drain (or the stop, when there is nothing to drain); a second
    /// one skips the drain. `Some(name)` means: stop now.
    fn on_stop_signal(
        &mut self,
        name: &'static str,
        stopping: &mut Option<(&'static str, Instant)>,
    ) -> Option<&'static str> {
        if let Some((first, _)) = stopping {
            warn!(
                signal = name,
                "second signal: skipping the rest of the drain"
            );
            return Some(first);
        }
        systemd::stopping();
        let drain_time = self.settings.drain_time;
        if drain_time.is_zero() {
            info!(signal = name, "stopping (drain_time 0: no drain)");
            return Some(name);
        }
        // After `elastic drain` the route servers moved the traffic already.
        let drained_before = self.gate.draining.is_some();
        self.gate.draining = Some(format!("stopping ({name})"));
        self.refresh();
        if drained_before {
            info!(
                signal = name,
                "stopping: drained already (elastic drain); no further wait"
            );
            return Some(name);
        }
        if self.out.routes.borrow().is_empty() {
            info!(
                signal = name,
                "stopping: nothing announced, nothing to drain"
            );
            return Some(name);
        }
        info!(
            signal = name,
            drain_time = %humantime::format_duration(drain_time),
            "stopping: announcing every route with GRACEFUL_SHUTDOWN 65535:0 and demoted \
             attributes, still serving; withdrawing when the drain time is over (a second \
             signal skips the wait)"
        );
        *stopping = Some((name, now() + drain_time));
        None
    }

    /// A request from the control socket: the new state, or why it was refused.
    fn on_control(&mut self, command: control::Command, stopping: bool) -> Result<bool, String> {
        match command {
            control::Command::SetMaintenance(on) => {
                info!(on, "maintenance requested through the control socket");
                self.gate.maintenance_requested = on;
                self.refresh();
                Ok(on)
            }
            control::Command::Drain(_) if stopping => {
                Err("the daemon is stopping; it is draining already".to_string())
            }
            control::Command::Drain(on) => {
                if on {
                    info!(
                        "elastic drain: announcing every route with GRACEFUL_SHUTDOWN 65535:0 and demoted attributes"
                    );
                    self.gate.draining = Some("elastic drain".to_string());
                } else {
                    info!("elastic undrain: announcing as health decides");
                    self.gate.draining = None;
                }
                self.refresh();
                Ok(on)
            }
        }
    }

    /// SIGHUP: reload the config file (as a difference), then rescan the addresses, re-read the
    /// maintenance file and re-arm preemption.
    async fn on_hangup(&mut self) {
        match self.invocation.as_ref().map(config::effective) {
            None => info!(
                "SIGHUP: rescanning addresses, re-reading the maintenance file, re-arming preemption"
            ),
            Some(Err(error)) => error!(
                %error,
                "SIGHUP: the configuration is invalid; nothing changed, the running configuration stays"
            ),
            Some(Ok(new)) => self.apply(new).await,
        }
        self.rescan().await;
        self.gate.read_maintenance_file();
        self.gate.rearm_preemption();
        self.refresh();
    }

    /// Applies a valid new configuration as a difference to the running one.
    async fn apply(&mut self, mut new: Settings) {
        for warning in std::mem::take(&mut new.warnings) {
            warn!("{warning}");
        }
        keep_restart_only(&self.settings, &mut new);
        if new == self.settings {
            info!(
                "SIGHUP: configuration unchanged; rescanning addresses, re-reading the maintenance file, re-arming preemption"
            );
            return;
        }
        info!(file = ?new.config_file, "SIGHUP: applying the changed configuration");
        let old = std::mem::replace(&mut self.settings, new);
        let new = &self.settings;
        if old.role != new.role || old.med != new.med {
            info!(role = ?new.role, med = ?new.med, "role or MED changed: re-announcing");
        }

        // Addresses: bind the new ones, unbind removed ones that elastic bound.
        let added: Vec<IpNet> = new
            .addresses
            .iter()
            .filter(|a| !old.addresses.contains(a))
            .copied()
            .collect();
        match bind_addresses(&self.netlink, &added).await {
            Ok(more) => self.bound.extend(more),
            Err(error) => error!(%error, "reload: cannot bind a new address; it is not announced"),
        }
        let removed: Vec<IpNet> = old
            .addresses
            .iter()
            .filter(|a| !new.addresses.contains(a))
            .copied()
            .collect();
        let (unbind, keep): (Vec<AddrChange>, Vec<AddrChange>) = std::mem::take(&mut self.bound)
            .into_iter()
            .partition(|c| matches!(c, AddrChange::Add { net, .. } if removed.contains(net)));
        for net in removed.iter().filter(|net| {
            !unbind
                .iter()
                .any(|c| matches!(c, AddrChange::Add { net: n, .. } if n == *net))
        }) {
            info!(address = %net, "removed from the config, but elastic did not bind it: left on lo");
        }
        self.bound = keep;
        unbind_addresses(&self.netlink, &unbind).await;

        // Sessions: unchanged ones stay up, new neighbors connect, removed ones get a Cease.
        let router_id = new.router_id.unwrap_or(self.default_router_id);
        self.peers
            .reconcile(wanted_sessions(new, router_id, &self.hostname))
            .await;
        self.out.sessions.send_replace(self.peers.list());
        self.out.info.send_if_modified(|info| {
            let fresh = daemon_info(new, self.started_at, router_id, &self.hostname);
            if **info == fresh {
                return false;
            }
            *info = Arc::new(fresh);
            true
        });

        // Probes and services: unchanged probes keep their state (and their task).
        if old.health != new.health {
            self.gate.reconfigure(&new.health, &self.reports);
            log_services(&new.health);
        }
        self.gate.control_socket = new.control_socket.is_some();
    }
}

/// Settings that only take effect at start: a changed value is logged and the running one kept.
fn keep_restart_only(running: &Settings, new: &mut Settings) {
    let changed = |key: &str, differs: bool| {
        if differs {
            warn!(
                key,
                "changed in the configuration: needs a restart to take effect; keeping the running value"
            );
        }
    };
    changed("api", running.api != new.api);
    changed(
        "api_allow_remote",
        running.api_allow_remote != new.api_allow_remote,
    );
    changed("metrics", running.metrics != new.metrics);
    changed("log_level", running.log_level != new.log_level);
    changed("log_json", running.log_json != new.log_json);
    changed(
        "control_socket",
        running.control_socket != new.control_socket,
    );
    changed(
        "control_socket_group",
        running.control_socket_group != new.control_socket_group,
    );
    new.api = running.api;
    new.api_allow_remote = running.api_allow_remote;
    new.metrics = running.metrics;
    new.log_level = running.log_level;
    new.log_json = running.log_json;
    new.control_socket = running.control_socket.clone();
    new.control_socket_group = running.control_socket_group.clone();
}

fn log_services(health: &HealthConfig) {
    for service in &health.services {
        let probes = service.probe_names(&health.probes).join(",");
        info!(
            service = service.name,
            probes,
            addresses = %service.addresses.as_deref().map_or("all".to_string(), join),
            "service: its addresses wait for its probes' first verdict"
        );
    }
}

fn daemon_info(
    settings: &Settings,
    started_at: SystemTime,
    router_id: Ipv4Addr,
    hostname: &str,
) -> DaemonInfo {
    DaemonInfo {
        version: env!("CARGO_PKG_VERSION"),
        started_at,
        role: settings.role,
        router_id,
        local_as: settings.local_as,
        peer_as: settings.peer_as,
        hostname: hostname.to_string(),
        hold_time: HOLD_TIME_SECS,
        connect_retry: CONNECT_RETRY,
        multihop_ttl: settings.multihop_ttl,
    }
}

/// One session per neighbor, in the neighbors' order.
fn wanted_sessions(
    settings: &Settings,
    router_id: Ipv4Addr,
    hostname: &str,
) -> Vec<(SessionConfig, Transport)> {
    let transport = Transport {
        ttl: settings.multihop_ttl,
        md5_key: settings.md5.as_ref().map(|m| m.key.clone()),
    };
    settings
        .neighbors
        .iter()
        .map(|neighbor| {
            let config = SessionConfig {
                peer: *neighbor,
                local_as: settings.local_as,
                peer_as: settings.peer_as,
                router_id,
                hostname: hostname.to_string(),
                hold_time: HOLD_TIME_SECS,
                connect_retry: CONNECT_RETRY,
                tcp_md5: transport.md5_key.is_some(),
            };
            (config, transport.clone())
        })
        .collect()
}

/// A running session and what it was started with.
struct PeerSlot {
    handle: PeerHandle,
    /// Its own stop channel, so one session can be stopped alone.
    stop: watch::Sender<Option<Notification>>,
    config: SessionConfig,
    transport: Transport,
}

struct Peers {
    slots: Vec<PeerSlot>,
    /// Sessions of removed neighbors still saying goodbye.
    leaving: Vec<JoinHandle<()>>,
    routes: watch::Receiver<Arc<DesiredRoutes>>,
}

impl Peers {
    fn spawn(&self, config: SessionConfig, transport: Transport) -> PeerSlot {
        let (stop, stop_rx) = watch::channel(None);
        let handle = peer::spawn(
            config.clone(),
            transport.clone(),
            self.routes.clone(),
            stop_rx,
        );
        PeerSlot {
            handle,
            stop,
            config,
            transport,
        }
    }

    /// Brings the sessions in line with `wanted`: an unchanged session stays up, a new neighbor
    /// connects, a removed one gets a Cease (6/3 Peer De-configured), and a session whose
    /// settings changed is restarted (6/6 Other Configuration Change).
    async fn reconcile(&mut self, wanted: Vec<(SessionConfig, Transport)>) {
        // At start every neighbor is new; only later is one "added".
        let reload = !self.slots.is_empty();
        let mut old = std::mem::take(&mut self.slots);
        let mut next = Vec::with_capacity(wanted.len());
        for (config, transport) in wanted {
            let Some(index) = old.iter().position(|s| s.config.peer == config.peer) else {
                if reload {
                    info!(peer = %config.peer, "neighbor added: connecting");
                }
                next.push(self.spawn(config, transport));
                continue;
            };
            let slot = old.remove(index);
            if slot.config == config && slot.transport == transport {
                next.push(slot);
                continue;
            }
            info!(peer = %config.peer, "session settings changed: restarting the session (Cease 6/6)");
            slot.stop
                .send_replace(Some(Notification::cease_other_configuration_change()));
            // The new connection must not race the old one's goodbye at the route server.
            if tokio::time::timeout(STOP_GRACE, slot.handle.task)
                .await
                .is_err()
            {
                warn!(peer = %config.peer, "the old session did not close in time");
            }
            next.push(self.spawn(config, transport));
        }
        for slot in old {
            info!(peer = %slot.config.peer, "neighbor removed: sending Cease (6/3 peer de-configured)");
            slot.stop
                .send_replace(Some(Notification::cease_peer_deconfigured()));
            self.leaving.push(slot.handle.task);
        }
        self.leaving.retain(|task| !task.is_finished());
        self.slots = next;
    }

    fn list(&self) -> SessionList {
        Arc::new(self.slots.iter().map(|s| s.handle.status.clone()).collect())
    }

    /// Resolves when no Established session has anything in its adj-RIB-out.
    async fn withdrawn(&self) {
        for slot in &self.slots {
            let mut status = slot.handle.status.clone();
            let _ = status
                .wait_for(|s| s.state != State::Established || s.adj_out.is_empty())
                .await;
        }
    }

    /// Sends `farewell` to every session; resolves when all of them (and the leaving ones) ended.
    async fn stop_all(&mut self, farewell: Notification) {
        for slot in &self.slots {
            slot.stop.send_replace(Some(farewell.clone()));
        }
        for slot in std::mem::take(&mut self.slots) {
            let _ = slot.handle.task.await;
        }
        for task in std::mem::take(&mut self.leaving) {
            let _ = task.await;
        }
    }
}

fn eligible(settings: &Settings, interface_addrs: &[addrs::InterfaceAddr]) -> Vec<IpNet> {
    let (prefixes, warnings) =
        addrs::eligible_prefixes(interface_addrs, settings.allifs, settings.send56);
    for warning in warnings {
        warn!("{warning}");
    }
    prefixes
}

/// Re-lists addresses; the caller recomputes the desired set.
async fn rescan(netlink: &Netlink, settings: &Settings, prefixes: &mut Vec<IpNet>) {
    let interface_addrs = match netlink.addresses().await {
        Ok(list) => list,
        Err(error) => {
            error!(%error, "cannot list addresses; keeping the current announcements");
            return;
        }
    };
    let found = eligible(settings, &interface_addrs);
    for prefix in found.iter().filter(|p| !prefixes.contains(p)) {
        info!(%prefix, "address appeared");
    }
    for prefix in prefixes.iter().filter(|p| !found.contains(p)) {
        info!(%prefix, "address gone: withdrawing");
    }
    if found.is_empty() && !prefixes.is_empty() {
        warn!("no eligible address left: nothing is announced");
    }
    *prefixes = found;
}

/// The monotonic clock, read through tokio so paused-time tests see the same time.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn poll_interval(period: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

/// The channels the event loop publishes into.
struct Published {
    routes: watch::Sender<Arc<DesiredRoutes>>,
    addresses: watch::Sender<Arc<Vec<AddressStatus>>>,
    probes: watch::Sender<Arc<Vec<ProbeStatus>>>,
    mode: watch::Sender<Mode>,
    info: watch::Sender<Arc<DaemonInfo>>,
    sessions: watch::Sender<SessionList>,
}

/// A running probe: its config, its task and what it last reported.
struct ProbeSlot {
    /// Unique for the daemon's life: reports of a probe replaced by a reload are recognised.
    id: usize,
    config: ProbeConfig,
    task: JoinHandle<()>,
    health: ProbeHealth,
    status: ProbeStatus,
}

struct ServiceSlot {
    config: ServiceConfig,
    health: ServiceHealth,
    /// Indices of its probes in [`Gate::probes`].
    probes: Vec<usize>,
}

/// Probes' and services' health, maintenance, draining and the hook: everything that gates the
/// announcements. The decisions are in `health` and `announce`; this only feeds and publishes.
struct Gate {
    probes: Vec<ProbeSlot>,
    next_probe_id: usize,
    services: Vec<ServiceSlot>,
    maintenance_file: Option<PathBuf>,
    maintenance_file_present: bool,
    /// SetMaintenance(on) through the control socket.
    maintenance_requested: bool,
    /// Why every route carries GRACEFUL_SHUTDOWN now (`elastic drain`, or a planned stop).
    draining: Option<String>,
    control_socket: bool,
    hook_config: Option<HookConfig>,
    hooks: Option<Hooks>,
    probes_changed: bool,
    /// Set by the first [`Gate::reconfigure`].
    configured: bool,
}

fn waiting_status(name: &str) -> ProbeStatus {
    ProbeStatus {
        name: name.to_string(),
        healthy: false,
        state: "waiting".to_string(),
        last_ok: None,
        last_output: String::new(),
        last_latency: None,
        successes: 0,
        failures: 0,
        transitions: 0,
        last_change: None,
    }
}

impl Gate {
    /// Starts the probes of `health`; their reports go to `reports`.
    fn new(health: &HealthConfig, reports: &mpsc::Sender<ProbeReport>) -> Gate {
        let mut gate = Gate {
            probes: Vec::new(),
            next_probe_id: 0,
            services: Vec::new(),
            maintenance_file: None,
            maintenance_file_present: false,
            maintenance_requested: false,
            draining: None,
            control_socket: false,
            hook_config: None,
            hooks: None,
            probes_changed: true,
            configured: false,
        };
        gate.reconfigure(health, reports);
        gate
    }

    fn spawn_probe(
        &mut self,
        config: &ProbeConfig,
        reports: &mpsc::Sender<ProbeReport>,
    ) -> ProbeSlot {
        let id = self.next_probe_id;
        self.next_probe_id += 1;
        ProbeSlot {
            id,
            config: config.clone(),
            task: probe::spawn(id, config.clone(), reports.clone()),
            health: ProbeHealth::new(config.rise, config.fall),
            status: waiting_status(&config.name),
        }
    }

    /// Takes on `health`: a probe with the same name and the same settings keeps its task and
    /// state; a new or changed one starts over; a removed one stops. A service keeps its state
    /// when its name, announce_delay and preempt are unchanged.
    fn reconfigure(&mut self, health: &HealthConfig, reports: &mpsc::Sender<ProbeReport>) {
        // At start every probe is new; only later is one "added".
        let reload = std::mem::replace(&mut self.configured, true);
        let mut old = std::mem::take(&mut self.probes);
        let mut probes = Vec::with_capacity(health.probes.len());
        for config in &health.probes {
            if let Some(index) = old.iter().position(|p| p.config == *config) {
                probes.push(old.remove(index));
                continue;
            }
            if old.iter().any(|p| p.config.name == config.name) {
                info!(probe = config.name, "probe changed: starting over");
            } else if reload {
                info!(probe = config.name, "probe added");
            }
            probes.push(self.spawn_probe(config, reports));
        }
        for gone in old {
            gone.task.abort();
            if !health.probes.iter().any(|p| p.name == gone.config.name) {
                info!(probe = gone.config.name, "probe removed");
            }
        }
        self.probes = probes;

        let mut old = std::mem::take(&mut self.services);
        self.services = health
            .services
            .iter()
            .map(|config| {
                let kept = old
                    .iter()
                    .position(|s| {
                        s.config.name == config.name
                            && s.config.announce_delay == config.announce_delay
                            && s.config.preempt == config.preempt
                    })
                    .map(|index| old.remove(index).health);
                ServiceSlot {
                    config: config.clone(),
                    health: kept.unwrap_or_else(|| {
                        ServiceHealth::new(config.announce_delay, config.preempt)
                    }),
                    probes: config
                        .probe_names(&health.probes)
                        .iter()
                        .filter_map(|name| self.probes.iter().position(|p| p.config.name == *name))
                        .collect(),
                }
            })
            .collect();

        self.maintenance_file = health.maintenance_file.clone();
        self.read_maintenance_file();
        if self.hook_config != health.hook {
            self.hook_config = health.hook.clone();
            self.hooks = health.hook.clone().map(Hooks::spawn);
        }
        self.probes_changed = true;
    }

    fn stop_probes(&mut self) {
        for probe in &self.probes {
            probe.task.abort();
        }
    }

    /// Re-reads whether the maintenance file exists; whether that changed.
    fn read_maintenance_file(&mut self) -> bool {
        let present = self.maintenance_file.as_deref().is_some_and(Path::exists);
        std::mem::replace(&mut self.maintenance_file_present, present) != present
    }

    fn maintenance(&self) -> bool {
        self.maintenance_file_present || self.maintenance_requested
    }

    fn mode(&self, control_socket: bool) -> Mode {
        Mode {
            maintenance_file: self.maintenance_file_present,
            maintenance_requested: self.maintenance_requested,
            draining: self.draining.clone(),
            control_socket,
        }
    }

    fn probe_statuses(&self) -> Vec<ProbeStatus> {
        self.probes.iter().map(|p| p.status.clone()).collect()
    }

    fn on_report(&mut self, report: ProbeReport) {
        // A report of a probe that a reload replaced is stale.
        let Some(slot) = self.probes.iter_mut().find(|p| p.id == report.index) else {
            return;
        };
        let name = &slot.config.name;
        if let Some(verdict) = report.changed {
            let level_up = if verdict { "up" } else { "down" };
            info!(
                probe = name,
                state = level_up,
                detail = report.detail,
                "probe verdict"
            );
        } else if !report.ok {
            debug!(probe = name, detail = report.detail, "probe failed");
        }
        let status = &mut slot.status;
        status.healthy = report.health.verdict() == Some(true);
        status.state = report.health.describe();
        status.last_ok = Some(report.ok);
        status.last_output = report.detail;
        status.last_latency = Some(report.latency);
        status.successes = report.health.successes;
        status.failures = report.health.failures;
        if report.changed.is_some() {
            status.last_change = Some(now());
            status.transitions += 1;
        }
        slot.health = report.health;
        self.probes_changed = true;
    }

    fn rearm_preemption(&mut self) {
        for service in &mut self.services {
            service.health.rearm_preemption();
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.services
            .iter()
            .filter_map(|s| s.health.poll_timeout())
            .min()
    }

    /// Feeds every service its probes' verdict and the maintenance flag; returns the changes.
    fn update_services(&mut self, now: Instant) -> Vec<(usize, health::Change)> {
        let maintenance = self.maintenance();
        let mut changes = Vec::new();
        for (index, service) in self.services.iter_mut().enumerate() {
            let verdict = health::combine(
                service
                    .probes
                    .iter()
                    .map(|&p| self.probes[p].health.verdict()),
            );
            if let Some(change) = service.health.update(now, verdict, maintenance) {
                changes.push((index, change));
            }
        }
        changes
    }

    fn plan(&self, prefixes: &[IpNet], settings: &Settings) -> announce::Plan {
        let services: Vec<_> = self
            .services
            .iter()
            .map(|s| (&s.config, &s.health))
            .collect();
        announce::plan(
            prefixes,
            settings.role,
            settings.med,
            &services,
            self.draining.is_some(),
        )
    }

    /// Recomputes everything after an input changed, publishes, logs and runs hooks. The desired
    /// set is handed to the sessions only when it differs, so a probe that passes again sends
    /// nothing.
    fn refresh(
        &mut self,
        prefixes: &[IpNet],
        settings: &Settings,
        route_servers: usize,
        out: &Published,
    ) {
        let changes = self.update_services(now());
        let plan = self.plan(prefixes, settings);
        let draining = self.draining.as_deref();
        out.routes.send_if_modified(|current| {
            if **current == plan.routes {
                return false;
            }
            *current = Arc::new(plan.routes.clone());
            systemd::status(&summary(current, route_servers, draining));
            true
        });
        out.addresses.send_if_modified(|current| {
            if **current == plan.addresses {
                return false;
            }
            *current = Arc::new(plan.addresses.clone());
            true
        });
        if std::mem::take(&mut self.probes_changed) {
            out.probes.send_replace(Arc::new(self.probe_statuses()));
        }
        let mode = self.mode(self.control_socket || settings.control_socket.is_some());
        out.mode.send_if_modified(|current| {
            if *current == mode {
                return false;
            }
            *current = mode;
            true
        });
        for (index, change) in changes {
            let service = &self.services[index];
            let config = &service.config;
            let (treatment, reason) = announce::treatment(config, &service.health);
            let announce_as = treatment.name(settings.role);
            info!(
                service = config.name,
                from = change.from.name(),
                to = change.to.name(),
                announce = announce_as,
                reason,
                "service state changed"
            );
            if let Some(hooks) = &self.hooks {
                hooks.notify(HookEvent {
                    service: config.name.clone(),
                    state: change.to.name(),
                    previous: change.from.name(),
                    announce: announce_as,
                    role: match settings.role {
                        Role::Primary => "primary",
                        Role::Secondary => "secondary",
                    },
                    addresses: prefixes
                        .iter()
                        .filter(|p| config.gates(p))
                        .copied()
                        .collect(),
                });
            }
        }
    }
}

/// Removes the control socket's file when the daemon ends, however it ends.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        control::remove(&self.0);
    }
}

/// Binds the `-address` prefixes to lo; returns what we actually added (only that is undone).
async fn bind_addresses(
    netlink: &Netlink,
    wanted: &[IpNet],
) -> Result<Vec<AddrChange>, DaemonError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let existing = netlink.addresses().await.map_err(DaemonError::Netlink)?;
    let lo = netlink
        .loopback_index()
        .await
        .map_err(DaemonError::Netlink)?;
    let mut added = Vec::new();
    for change in addrs::plan_bind(&existing, lo, wanted) {
        let AddrChange::Add { net, .. } = change else {
            continue;
        };
        // Record only what this call really added: an address someone else put there in the
        // meantime must survive our stop.
        match netlink.apply_checked(&change).await {
            Ok(true) => {
                info!(address = %net, "bound to lo");
                added.push(change);
            }
            Ok(false) => info!(address = %net, "already on lo"),
            Err(error) => {
                unbind_addresses(netlink, &added).await;
                return Err(DaemonError::Bind { net, error });
            }
        }
    }
    Ok(added)
}

async fn unbind_addresses(netlink: &Netlink, added: &[AddrChange]) {
    if added.is_empty() {
        return;
    }
    let existing = match netlink.addresses().await {
        Ok(list) => list,
        Err(error) => {
            error!(%error, "cannot list addresses; leaving bound addresses in place");
            return;
        }
    };
    for change in addrs::plan_unbind(&existing, added) {
        match netlink.apply(&change).await {
            Ok(()) => info!(change = ?change, "unbound from lo"),
            Err(error) => error!(%error, change = ?change, "cannot unbind"),
        }
    }
}

/// The one-line STATUS for `systemctl status`.
fn summary(routes: &DesiredRoutes, route_servers: usize, draining: Option<&str>) -> String {
    let line = format!(
        "announcing {} prefixes to {route_servers} route servers",
        routes.len()
    );
    match draining {
        Some(why) => format!("draining ({why}): {line} with GRACEFUL_SHUTDOWN"),
        None => line,
    }
}

/// Ticks of the watchdog interval; never, when systemd asked for no watchdog.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The kernel's host name, sent in the FQDN capability like GoBGP's `os.Hostname()`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
