//! The one event loop: binds and watches addresses, runs the probes and the maintenance-file
//! poll, computes the desired route set from the services' health, runs one session per route
//! server, runs hooks on service state changes, and stops in order (Cease to every peer, then
//! unbind what we bound).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::addrs::{self, AddrChange, Netlink};
use crate::announce::{self, DesiredRoutes};
use crate::api::{self, ApiError};
use crate::bgp::peer::{self, PeerHandle, Transport};
use crate::bgp::session::SessionConfig;
use crate::bgp::wire::Notification;
use crate::cli::{Role, Settings};
use crate::health::{self, ProbeHealth, ServiceHealth};
use crate::hooks::{HookEvent, Hooks};
use crate::metrics::{self, MetricsError};
use crate::probe::{self, ProbeReport};
use crate::status::{AddressStatus, DaemonInfo, ProbeStatus, StatusSource};
use crate::systemd;

/// lelastic's timers: hold 9 s (keepalive 3 s), connect retry 5 s.
const HOLD_TIME_SECS: u16 = 9;
const CONNECT_RETRY: Duration = Duration::from_secs(5);
/// Address changes come in bursts (an `ip addr add` of an IPv6 address is several messages).
const ADDRESS_SETTLE: Duration = Duration::from_millis(20);
/// How long the sessions get to send their Cease on stop.
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
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> Result<(), DaemonError> {
    // Handlers first: a signal during start-up must not kill us with addresses half bound.
    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    // Listeners next: a taken port fails start-up before anything is bound or announced.
    let api_listener = settings.api.map(api::bind).transpose()?;
    let metrics_listener = settings.metrics.map(metrics::bind).transpose()?;
    let started_at = SystemTime::now();
    let netlink = Netlink::new().map_err(DaemonError::Netlink)?;
    // Subscribe before the first listing, so no change can slip between the two.
    let mut address_changes = addrs::watch_addresses().map_err(DaemonError::Netlink)?;
    let bound = bind_addresses(&netlink, &settings.addresses).await?;

    let interface_addrs = netlink.addresses().await.map_err(DaemonError::Netlink)?;
    let mut prefixes = eligible(&settings, &interface_addrs);
    if prefixes.is_empty() {
        unbind_addresses(&netlink, &bound).await;
        let where_ = if settings.allifs {
            "any interface"
        } else {
            "lo"
        };
        return Err(DaemonError::NoAddresses { where_ });
    }
    let router_id = settings
        .router_id
        .unwrap_or_else(|| addrs::default_router_id(&interface_addrs));
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
    for service in &settings.health.services {
        let probes = service.probe_names(&settings.health.probes).join(",");
        info!(
            service = service.name,
            probes,
            addresses = %service.addresses.as_deref().map_or("all".to_string(), join),
            "service: its addresses wait for its probes' first verdict"
        );
    }

    let mut gate = Gate::new(&settings);
    gate.maintenance = gate.maintenance_file_exists();
    gate.update_services(now());
    let plan = gate.plan(&prefixes, &settings);
    let (routes_tx, routes_rx) = watch::channel(Arc::new(plan.routes));
    let (addresses_tx, addresses_rx) = watch::channel(Arc::new(plan.addresses));
    let (probes_tx, probes_rx) = watch::channel(Arc::new(gate.probe_status.clone()));
    let (stop_tx, stop_rx) = watch::channel(None);
    let transport = Transport {
        ttl: settings.multihop_ttl,
        md5_key: settings.md5.as_ref().map(|m| m.key.clone()),
    };
    let peers: Vec<PeerHandle> = settings
        .neighbors
        .iter()
        .map(|neighbor| {
            let config = SessionConfig {
                peer: *neighbor,
                local_as: settings.local_as,
                peer_as: settings.peer_as,
                router_id,
                hostname: hostname.clone(),
                hold_time: HOLD_TIME_SECS,
                connect_retry: CONNECT_RETRY,
                tcp_md5: transport.md5_key.is_some(),
            };
            peer::spawn(
                config,
                transport.clone(),
                routes_rx.clone(),
                stop_rx.clone(),
            )
        })
        .collect();
    let (reports_tx, mut reports) = mpsc::channel::<ProbeReport>(64);
    let probe_tasks: Vec<_> = settings
        .health
        .probes
        .iter()
        .enumerate()
        .map(|(index, config)| probe::spawn(index, config.clone(), reports_tx.clone()))
        .collect();
    drop(reports_tx);
    let mut maintenance_poll = tokio::time::interval(settings.health.maintenance_poll);
    maintenance_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let published = Published {
        routes: &routes_tx,
        addresses: &addresses_tx,
        probes: &probes_tx,
    };

    // What the API and the metrics read: snapshots of the channels above, never the loop itself.
    let source = StatusSource {
        info: Arc::new(DaemonInfo {
            version: env!("CARGO_PKG_VERSION"),
            started_at,
            role: settings.role,
            router_id,
            local_as: settings.local_as,
            peer_as: settings.peer_as,
            hostname: hostname.clone(),
            hold_time: HOLD_TIME_SECS,
            connect_retry: CONNECT_RETRY,
            multihop_ttl: settings.multihop_ttl,
        }),
        sessions: peers.iter().map(|p| p.status.clone()).collect(),
        routes: routes_rx.clone(),
        addresses: addresses_rx,
        probes: probes_rx,
    };
    // The sessions have not run yet (one thread; no await since spawning them).
    let _api = api_listener.map(|bound| api::serve(bound, source.clone()));
    let _metrics = metrics_listener.map(|bound| metrics::serve(bound, source));

    systemd::ready(&summary(&routes_tx.borrow(), peers.len()));
    let mut watchdog = systemd::watchdog_interval().map(tokio::time::interval);
    let mut watching = true;
    let signal_name = loop {
        let deadline = gate.poll_timeout();
        tokio::select! {
            _ = terminate.recv() => break "SIGTERM",
            _ = tick(&mut watchdog) => systemd::watchdog(),
            _ = interrupt.recv() => break "SIGINT",
            _ = hangup.recv() => {
                info!("SIGHUP: rescanning addresses, re-reading the maintenance file, re-arming preemption");
                rescan(&netlink, &settings, &mut prefixes).await;
                gate.maintenance = gate.maintenance_file_exists();
                gate.rearm_preemption();
                gate.refresh(&prefixes, &settings, &published);
            }
            notice = address_changes.recv(), if watching => match notice {
                Some(()) => {
                    tokio::time::sleep(ADDRESS_SETTLE).await;
                    while address_changes.try_recv().is_ok() {}
                    rescan(&netlink, &settings, &mut prefixes).await;
                    gate.refresh(&prefixes, &settings, &published);
                }
                None => {
                    error!("address watch ended: changes on lo are no longer noticed (SIGHUP rescans)");
                    watching = false;
                }
            },
            Some(report) = reports.recv() => {
                gate.on_report(&settings, report);
                gate.refresh(&prefixes, &settings, &published);
            }
            _ = maintenance_poll.tick(), if gate.maintenance_file.is_some() => {
                let exists = gate.maintenance_file_exists();
                if exists != gate.maintenance {
                    gate.maintenance = exists;
                    gate.refresh(&prefixes, &settings, &published);
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                gate.refresh(&prefixes, &settings, &published);
            }
        }
    };
    for task in probe_tasks {
        task.abort();
    }

    systemd::stopping();
    info!(
        signal = signal_name,
        "stopping: sending Cease to every route server"
    );
    let farewell = Notification::cease_admin_shutdown(&format!("elastic stopping ({signal_name})"));
    let _ = stop_tx.send(Some(farewell));
    let all_stopped = wait_for_peers(peers);
    tokio::select! {
        () = all_stopped => {}
        () = tokio::time::sleep(STOP_GRACE) => warn!("some sessions did not close in time"),
        _ = terminate.recv() => warn!("second signal: exiting at once"),
        _ = interrupt.recv() => warn!("second signal: exiting at once"),
    }
    unbind_addresses(&netlink, &bound).await;
    info!("stopped");
    Ok(())
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

/// The channels the event loop publishes into.
struct Published<'a> {
    routes: &'a watch::Sender<Arc<DesiredRoutes>>,
    addresses: &'a watch::Sender<Arc<Vec<AddressStatus>>>,
    probes: &'a watch::Sender<Arc<Vec<ProbeStatus>>>,
}

/// Probes' and services' health, the maintenance flag and the hook: everything that gates the
/// announcements. The decisions are in `health` and `announce`; this only feeds and publishes.
struct Gate {
    probe_health: Vec<ProbeHealth>,
    probe_status: Vec<ProbeStatus>,
    services: Vec<ServiceHealth>,
    /// Per service, the indices of its probes.
    service_probes: Vec<Vec<usize>>,
    maintenance_file: Option<std::path::PathBuf>,
    maintenance: bool,
    hooks: Option<Hooks>,
    probes_changed: bool,
}

impl Gate {
    fn new(settings: &Settings) -> Gate {
        let health = &settings.health;
        let service_probes = health
            .services
            .iter()
            .map(|service| {
                service
                    .probe_names(&health.probes)
                    .iter()
                    .filter_map(|name| health.probes.iter().position(|p| p.name == *name))
                    .collect()
            })
            .collect();
        Gate {
            probe_health: health
                .probes
                .iter()
                .map(|p| ProbeHealth::new(p.rise, p.fall))
                .collect(),
            probe_status: health
                .probes
                .iter()
                .map(|p| ProbeStatus {
                    name: p.name.clone(),
                    healthy: false,
                    state: "waiting".to_string(),
                    last_ok: None,
                    last_output: String::new(),
                    last_latency: None,
                    successes: 0,
                    failures: 0,
                    transitions: 0,
                    last_change: None,
                })
                .collect(),
            services: health
                .services
                .iter()
                .map(|s| ServiceHealth::new(s.announce_delay, s.preempt))
                .collect(),
            service_probes,
            maintenance_file: health.maintenance_file.clone(),
            maintenance: false,
            hooks: health.hook.clone().map(Hooks::spawn),
            probes_changed: true,
        }
    }

    fn maintenance_file_exists(&self) -> bool {
        self.maintenance_file.as_deref().is_some_and(Path::exists)
    }

    fn on_report(&mut self, settings: &Settings, report: ProbeReport) {
        let Some(config) = settings.health.probes.get(report.index) else {
            return;
        };
        if let Some(verdict) = report.changed {
            let level_up = if verdict { "up" } else { "down" };
            info!(
                probe = config.name,
                state = level_up,
                detail = report.detail,
                "probe verdict"
            );
        } else if !report.ok {
            debug!(probe = config.name, detail = report.detail, "probe failed");
        }
        let status = &mut self.probe_status[report.index];
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
        self.probe_health[report.index] = report.health;
        self.probes_changed = true;
    }

    fn rearm_preemption(&mut self) {
        for service in &mut self.services {
            service.rearm_preemption();
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.services
            .iter()
            .filter_map(ServiceHealth::poll_timeout)
            .min()
    }

    /// Feeds every service its probes' verdict and the maintenance flag; returns the changes.
    fn update_services(&mut self, now: Instant) -> Vec<(usize, health::Change)> {
        let mut changes = Vec::new();
        for (index, service) in self.services.iter_mut().enumerate() {
            let verdict = health::combine(
                self.service_probes[index]
                    .iter()
                    .map(|&p| self.probe_health[p].verdict()),
            );
            if let Some(change) = service.update(now, verdict, self.maintenance) {
                changes.push((index, change));
            }
        }
        changes
    }

    fn plan(&self, prefixes: &[IpNet], settings: &Settings) -> announce::Plan {
        let services: Vec<_> = settings
            .health
            .services
            .iter()
            .zip(&self.services)
            .collect();
        announce::plan(prefixes, settings.role, settings.med, &services)
    }

    /// Recomputes everything after an input changed, publishes, logs and runs hooks. The desired
    /// set is handed to the sessions only when it differs, so a probe that passes again sends
    /// nothing.
    fn refresh(&mut self, prefixes: &[IpNet], settings: &Settings, out: &Published<'_>) {
        let changes = self.update_services(now());
        let plan = self.plan(prefixes, settings);
        out.routes.send_if_modified(|current| {
            if **current == plan.routes {
                return false;
            }
            *current = Arc::new(plan.routes.clone());
            systemd::status(&summary(current, settings.neighbors.len()));
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
            out.probes.send_replace(Arc::new(self.probe_status.clone()));
        }
        for (index, change) in changes {
            let config = &settings.health.services[index];
            let (treatment, reason) = announce::treatment(config, &self.services[index]);
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
fn summary(routes: &DesiredRoutes, route_servers: usize) -> String {
    format!(
        "announcing {} prefixes to {route_servers} route servers",
        routes.len()
    )
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

async fn wait_for_peers(peers: Vec<PeerHandle>) {
    for peer in peers {
        let _ = peer.task.await;
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
