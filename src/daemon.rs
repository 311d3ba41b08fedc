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
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::addrs::{self, AddrChange, Netlink};
use crate::announce::DesiredRoutes;
use crate::api::{self, ApiError};
use crate::bgp::wire::Notification;
use crate::cli::{Invocation, Settings};
use crate::config::{self, HealthConfig};
use crate::control::{self, ControlError};
use crate::metrics::{self, MetricsError};
use crate::probe::ProbeReport;
use crate::status::{DaemonInfo, Reloads, SessionList, StatusSource};
use crate::systemd;

mod gate;
mod peers;

use gate::{Gate, Published};
use peers::{Peers, wanted_sessions};

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
    let mut address_warnings = Vec::new();
    let prefixes = eligible(&settings, &interface_addrs, &mut address_warnings);
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
        &settings,
        started_at,
        router_id,
        &hostname,
        &Reloads::default(),
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
        address_warnings,
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
        reloads: Reloads::default(),
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
    /// What the address rules last warned about (logged again only when it changes).
    address_warnings: Vec<String>,
    /// The router id derived from the interfaces at start, used while none is configured.
    default_router_id: Ipv4Addr,
    hostname: String,
    gate: Gate,
    peers: Peers,
    reports: mpsc::Sender<ProbeReport>,
    out: Published,
    started_at: SystemTime,
    reloads: Reloads,
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
        rescan(
            &self.netlink,
            &self.settings,
            &mut self.prefixes,
            &mut self.address_warnings,
        )
        .await;
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
        // Once running from a file, its absence is an invalid reload, never "flags only".
        let default_file = if self.settings.config_file.is_some() {
            config::DefaultFile::Required
        } else {
            config::DefaultFile::IfPresent
        };
        match self
            .invocation
            .as_ref()
            .map(|invocation| config::effective(invocation, default_file))
        {
            None => info!(
                "SIGHUP: rescanning addresses, re-reading the maintenance file, re-arming preemption"
            ),
            Some(Err(error)) => {
                error!(
                    %error,
                    "SIGHUP: the configuration is invalid; nothing changed, the running configuration stays"
                );
                self.record_reload(Err(error.to_string()));
            }
            Some(Ok(new)) => {
                self.apply(new).await;
                self.record_reload(Ok(()));
            }
        }
        self.rescan().await;
        self.gate.read_maintenance_file();
        self.gate.rearm_preemption();
        self.refresh();
    }

    /// Publishes how the last reload went (`elastic status`, metrics).
    fn record_reload(&mut self, outcome: Result<(), String>) {
        self.reloads.record(SystemTime::now(), outcome);
        let reloads = self.reloads.clone();
        self.out
            .info
            .send_modify(|info| Arc::make_mut(info).reloads = reloads);
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
            let fresh = daemon_info(
                new,
                self.started_at,
                router_id,
                &self.hostname,
                &self.reloads,
            );
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
    reloads: &Reloads,
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
        reloads: reloads.clone(),
    }
}

/// The prefixes to announce; logs the address rules' warnings that were not logged last time
/// (`logged`), so a rescan of lo does not repeat them.
fn eligible(
    settings: &Settings,
    interface_addrs: &[addrs::InterfaceAddr],
    logged: &mut Vec<String>,
) -> Vec<IpNet> {
    let (prefixes, warnings) =
        addrs::eligible_prefixes(interface_addrs, settings.allifs, settings.send56);
    for warning in warnings.iter().filter(|w| !logged.contains(w)) {
        warn!("{warning}");
    }
    *logged = warnings;
    prefixes
}

/// Re-lists addresses; the caller recomputes the desired set.
async fn rescan(
    netlink: &Netlink,
    settings: &Settings,
    prefixes: &mut Vec<IpNet>,
    warned: &mut Vec<String>,
) {
    let interface_addrs = match netlink.addresses().await {
        Ok(list) => list,
        Err(error) => {
            error!(%error, "cannot list addresses; keeping the current announcements");
            return;
        }
    };
    let found = eligible(settings, &interface_addrs, warned);
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
