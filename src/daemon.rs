//! The one event loop: binds and watches addresses, computes the desired route set, runs one
//! session per route server, and stops in order (Cease to every peer, then unbind what we bound).

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::addrs::{self, AddrChange, Netlink};
use crate::announce::{self, DesiredRoutes};
use crate::bgp::peer::{self, PeerHandle, Transport};
use crate::bgp::session::SessionConfig;
use crate::bgp::wire::Notification;
use crate::cli::Settings;
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
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> Result<(), DaemonError> {
    // Handlers first: a signal during start-up must not kill us with addresses half bound.
    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
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

    let desired = announce::desired_routes(&prefixes, settings.role, settings.med);
    let (routes_tx, routes_rx) = watch::channel(Arc::new(desired));
    let (stop_tx, stop_rx) = watch::channel(None);
    let transport = Transport {
        ttl: settings.multihop_ttl,
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
            };
            peer::spawn(config, transport, routes_rx.clone(), stop_rx.clone())
        })
        .collect();

    systemd::ready(&summary(&routes_tx.borrow(), peers.len()));
    let mut watchdog = systemd::watchdog_interval().map(tokio::time::interval);
    let mut watching = true;
    let signal_name = loop {
        tokio::select! {
            _ = terminate.recv() => break "SIGTERM",
            _ = tick(&mut watchdog) => systemd::watchdog(),
            _ = interrupt.recv() => break "SIGINT",
            _ = hangup.recv() => {
                info!("SIGHUP: rescanning addresses");
                rescan(&netlink, &settings, &routes_tx).await;
            }
            notice = address_changes.recv(), if watching => match notice {
                Some(()) => {
                    tokio::time::sleep(ADDRESS_SETTLE).await;
                    while address_changes.try_recv().is_ok() {}
                    rescan(&netlink, &settings, &routes_tx).await;
                }
                None => {
                    error!("address watch ended: changes on lo are no longer noticed (SIGHUP rescans)");
                    watching = false;
                }
            },
        }
    };

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

/// Re-lists addresses and hands the sessions the new desired set when it changed.
async fn rescan(
    netlink: &Netlink,
    settings: &Settings,
    routes_tx: &watch::Sender<Arc<DesiredRoutes>>,
) {
    let interface_addrs = match netlink.addresses().await {
        Ok(list) => list,
        Err(error) => {
            error!(%error, "cannot list addresses; keeping the current announcements");
            return;
        }
    };
    let prefixes = eligible(settings, &interface_addrs);
    let desired = announce::desired_routes(&prefixes, settings.role, settings.med);
    routes_tx.send_if_modified(|current| {
        if **current == desired {
            return false;
        }
        for prefix in desired.keys().filter(|p| !current.contains_key(*p)) {
            info!(%prefix, "address appeared: announcing");
        }
        for prefix in current.keys().filter(|p| !desired.contains_key(*p)) {
            info!(%prefix, "address gone: withdrawing");
        }
        if desired.is_empty() {
            warn!("no eligible address left: nothing is announced");
        }
        systemd::status(&summary(&desired, settings.neighbors.len()));
        *current = Arc::new(desired);
        true
    });
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
