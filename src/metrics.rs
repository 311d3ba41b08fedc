//! Metrics in the Prometheus text format, on an optional listen address (off by default).
//!
//! Every scrape renders one [`StatusSource::snapshot`]: the daemon's counters are the source of
//! truth (monotonic for the process's life), so nothing is double-booked and the BGP sessions
//! never wait for a scrape. The values go through the official `prometheus` crate's types and
//! text encoder.
//!
//! The HTTP side is hand-written on purpose: it answers `GET /metrics` and nothing else, one
//! request per connection, with a bounded request size and time. hyper's HTTP/1 server would add
//! code for keep-alive, chunking and upgrades that a scrape endpoint does not need.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::accept::{self, Limits};
use crate::bgp::session::{MessageCounts, State};
use crate::status::{Snapshot, StatusSource};
use crate::vrrp::instance::State as Vrrp;

/// A scrape request is one line and a few headers.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Scrapers are few; more connections than this at once wait, unaccepted.
const LIMITS: Limits = Limits {
    max_connections: 8,
    first_byte: REQUEST_TIMEOUT,
    idle: REQUEST_TIMEOUT,
};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("failed to listen metrics port {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// An accepted scrape connection.
type Connection = accept::Guarded<TcpStream>;

/// The metrics socket, bound early so that a taken port fails start-up.
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Bound {
    /// Where a test's listener on port 0 ended up.
    #[cfg(test)]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Binds `listen` (call on the runtime).
pub fn bind(listen: SocketAddr) -> Result<Bound, MetricsError> {
    let error = |source| MetricsError::Listen {
        addr: listen,
        source,
    };
    let listener = std::net::TcpListener::bind(listen).map_err(error)?;
    listener.set_nonblocking(true).map_err(error)?;
    let addr = listener.local_addr().map_err(error)?;
    let listener = TcpListener::from_std(listener).map_err(error)?;
    Ok(Bound { listener, addr })
}

/// Serves `GET /metrics` on `bound` until the task is aborted or the runtime ends.
pub fn serve(bound: Bound, source: StatusSource) -> JoinHandle<()> {
    info!(listen = %bound.addr, "metrics listening");
    let limits = accept::within_open_file_limit(LIMITS);
    let mut incoming = Box::pin(accept::incoming(bound.listener, limits, "metrics"));
    tokio::spawn(async move {
        while let Some(Ok(stream)) = incoming.next().await {
            let source = source.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &source)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => debug!(%error, "metrics: request failed"),
                    Err(_) => debug!("metrics: request timed out"),
                }
            });
        }
    })
}

async fn answer(mut stream: Connection, source: &StatusSource) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() >= MAX_REQUEST_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"",
            )
            .await;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|b| *b == b' ');
    let (method, target) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let path = target.split(|b| *b == b'?').next().unwrap_or_default();
    match (method, path) {
        (b"GET", b"/metrics") => {
            let body = render(&source.snapshot());
            respond(&mut stream, "200 OK", prometheus::TEXT_FORMAT, &body).await
        }
        (b"GET", _) => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                b"try /metrics\n",
            )
            .await
        }
        _ => respond(&mut stream, "405 Method Not Allowed", "text/plain", b"").await,
    }
}

async fn respond(
    stream: &mut Connection,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Idle => "idle",
        State::Connect => "connect",
        State::Active => "active",
        State::OpenSent => "opensent",
        State::OpenConfirm => "openconfirm",
        State::Established => "established",
    }
}

const STATES: [State; 6] = [
    State::Idle,
    State::Connect,
    State::Active,
    State::OpenSent,
    State::OpenConfirm,
    State::Established,
];

fn message_kinds(counts: &MessageCounts) -> [(&'static str, u64); 5] {
    [
        ("open", counts.open),
        ("update", counts.update),
        ("notification", counts.notification),
        ("keepalive", counts.keepalive),
        ("route_refresh", counts.route_refresh),
    ]
}

const BFD_STATES: [&str; 5] = ["up", "init", "down", "admin-down", "not answered"];

/// Registers `collector` with `registry` and hands it back to be filled.
fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> prometheus::Result<C> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    registered(registry, IntGauge::new(name, help)?)
}

fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    registered(registry, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

/// BFD per route-server session (when `bfd` is configured) and the packets dropped, by reason;
/// those from unknown sources belong to no session (`peer=""`).
fn bfd_metrics(snapshot: &Snapshot, registry: &Registry) -> prometheus::Result<()> {
    let state = gauge_vec(
        registry,
        "elastic_bfd_session_state",
        "1 for the BFD session's current state (up, init, down, admin-down, not answered), 0 for \
         the others.",
        &["peer", "state"],
    )?;
    let failures = counter_vec(
        registry,
        "elastic_bfd_path_failures_total",
        "Times BFD saw the path fail while Up (each took the BGP session down).",
        &["peer"],
    )?;
    let dropped = counter_vec(
        registry,
        "elastic_bfd_packets_dropped_total",
        "BFD packets discarded, by reason (bad_version, bad_length, low_ttl, unknown_source, ...).",
        &["peer", "reason"],
    )?;
    for s in &snapshot.sessions {
        let Some(bfd) = &s.bfd else { continue };
        let peer = s.peer.to_string();
        let shown = bfd.state;
        for name in BFD_STATES {
            state
                .with_label_values(&[peer.as_str(), name])
                .set(i64::from(shown == name));
        }
        failures
            .with_label_values(&[peer.as_str()])
            .inc_by(bfd.path_failures);
        for (reason, n) in &bfd.dropped {
            dropped
                .with_label_values(&[peer.as_str(), reason])
                .inc_by(*n);
        }
    }
    for (reason, n) in snapshot.bfd_unclaimed.iter() {
        dropped.with_label_values(&["", reason]).inc_by(*n);
    }
    Ok(())
}

/// Builds every metric of one snapshot in a fresh registry.
fn registry(snapshot: &Snapshot) -> prometheus::Result<Registry> {
    let registry = Registry::new();
    let i64_of = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);

    let info = &snapshot.info;
    // VRRP mode has no host role and no router id: role "vrrp", router_id empty.
    let (role, router_id) = match &info.bgp {
        Some(bgp) => (bgp.role.as_str(), bgp.router_id.to_string()),
        None => ("vrrp", String::new()),
    };
    gauge_vec(
        &registry,
        "elastic_info",
        "Constant 1, labelled with the version, role (vrrp in VRRP mode) and router id.",
        &["version", "role", "router_id"],
    )?
    .with_label_values(&[info.version, role, &router_id])
    .set(1);
    let started = info
        .started_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    gauge(
        &registry,
        "elastic_start_time_seconds",
        "When the daemon started, in Unix seconds.",
    )?
    .set(i64_of(started));

    let reloads = &info.reloads;
    gauge(
        &registry,
        "elastic_config_last_reload_successful",
        "0 when the last SIGHUP reload was refused (the running configuration is not the \
         file's), else 1.",
    )?
    .set(i64::from(!reloads.last_failed()));
    let reload_results = counter_vec(
        &registry,
        "elastic_config_reloads_total",
        "SIGHUP reloads since start, by result (success, failure).",
        &["result"],
    )?;
    reload_results
        .with_label_values(&["success"])
        .inc_by(reloads.succeeded);
    reload_results
        .with_label_values(&["failure"])
        .inc_by(reloads.failed);

    let sessions_up = gauge(
        &registry,
        "elastic_bgp_sessions_up",
        "Route-server sessions in state Established.",
    )?;
    let session_up = gauge_vec(
        &registry,
        "elastic_bgp_session_up",
        "1 while the session with this route server is Established.",
        &["peer"],
    )?;
    let session_state = gauge_vec(
        &registry,
        "elastic_bgp_session_state",
        "1 for the session's current RFC 4271 state, 0 for the others.",
        &["peer", "state"],
    )?;
    let transitions = counter_vec(
        &registry,
        "elastic_bgp_session_state_transitions_total",
        "Session state changes since start.",
        &["peer"],
    )?;
    let flaps = counter_vec(
        &registry,
        "elastic_bgp_session_flaps_total",
        "Times the session left Established.",
        &["peer"],
    )?;
    let announced = gauge_vec(
        &registry,
        "elastic_bgp_prefixes_announced",
        "Prefixes the route server has from us now (adj-RIB-out).",
        &["peer"],
    )?;
    let received = gauge_vec(
        &registry,
        "elastic_bgp_prefixes_received",
        "Prefixes the route server announced to us this session (counted, never used).",
        &["peer"],
    )?;
    let sent = counter_vec(
        &registry,
        "elastic_bgp_messages_sent_total",
        "BGP messages sent, by type.",
        &["peer", "type"],
    )?;
    let rcvd = counter_vec(
        &registry,
        "elastic_bgp_messages_received_total",
        "BGP messages received, by type.",
        &["peer", "type"],
    )?;
    let mut up = 0;
    for s in &snapshot.sessions {
        let peer = s.peer.to_string();
        let established = s.state == State::Established;
        up += i64::from(established);
        session_up
            .with_label_values(&[peer.as_str()])
            .set(i64::from(established));
        for state in STATES {
            session_state
                .with_label_values(&[peer.as_str(), state_name(state)])
                .set(i64::from(s.state == state));
        }
        transitions
            .with_label_values(&[peer.as_str()])
            .inc_by(s.state_changes);
        flaps
            .with_label_values(&[peer.as_str()])
            .inc_by(u64::from(s.flaps));
        announced
            .with_label_values(&[peer.as_str()])
            .set(i64_of(s.adj_out.len() as u64));
        received
            .with_label_values(&[peer.as_str()])
            .set(i64_of(s.prefixes_received));
        for (kind, n) in message_kinds(&s.sent) {
            sent.with_label_values(&[peer.as_str(), kind]).inc_by(n);
        }
        for (kind, n) in message_kinds(&s.received) {
            rcvd.with_label_values(&[peer.as_str(), kind]).inc_by(n);
        }
    }
    sessions_up.set(up);
    bfd_metrics(snapshot, &registry)?;

    let wanted = gauge_vec(
        &registry,
        "elastic_address_wanted",
        "1 when the address should be announced (health, maintenance and role decide).",
        &["prefix"],
    )?;
    let carried = gauge_vec(
        &registry,
        "elastic_address_announced_sessions",
        "Established sessions that carry the address.",
        &["prefix"],
    )?;
    let address_role = gauge_vec(
        &registry,
        "elastic_address_role",
        "1, labelled with the role the address is announced with while its services are up.",
        &["prefix", "role"],
    )?;
    for a in snapshot.addresses.iter() {
        let prefix = a.prefix.to_string();
        wanted
            .with_label_values(&[prefix.as_str()])
            .set(i64::from(a.announced));
        address_role
            .with_label_values(&[prefix.as_str(), a.role.as_str()])
            .set(1);
        carried
            .with_label_values(&[prefix.as_str()])
            .set(i64_of(snapshot.announced_to(&a.prefix).len() as u64));
    }
    gauge(
        &registry,
        "elastic_addresses_missing",
        "Addresses that should be announced but are on no Established session.",
    )?
    .set(i64_of(snapshot.missing_announcements().len() as u64));

    let probe_up = gauge_vec(
        &registry,
        "elastic_probe_up",
        "1 while the probe counts as healthy.",
        &["probe"],
    )?;
    let probe_duration = prometheus::GaugeVec::new(
        Opts::new(
            "elastic_probe_duration_seconds",
            "How long the probe's last run took.",
        ),
        &["probe"],
    )?;
    registry.register(Box::new(probe_duration.clone()))?;
    let probe_runs = counter_vec(
        &registry,
        "elastic_probe_runs_total",
        "Probe runs by result.",
        &["probe", "result"],
    )?;
    let probe_transitions = counter_vec(
        &registry,
        "elastic_probe_transitions_total",
        "Times the probe's health flipped.",
        &["probe"],
    )?;
    for p in snapshot.probes.iter() {
        let name = p.name.as_str();
        probe_up
            .with_label_values(&[name])
            .set(i64::from(p.healthy));
        if let Some(latency) = p.last_latency {
            probe_duration
                .with_label_values(&[name])
                .set(latency.as_secs_f64());
        }
        probe_runs
            .with_label_values(&[name, "success"])
            .inc_by(p.successes);
        probe_runs
            .with_label_values(&[name, "failure"])
            .inc_by(p.failures);
        probe_transitions
            .with_label_values(&[name])
            .inc_by(p.transitions);
    }
    vrrp(&registry, snapshot)?;
    Ok(registry)
}

/// VRRP mode's instances (none in BGP mode).
fn vrrp(registry: &Registry, snapshot: &Snapshot) -> prometheus::Result<()> {
    if snapshot.vrrp.is_empty() {
        return Ok(());
    }
    let state = gauge_vec(
        registry,
        "elastic_vrrp_state",
        "1 for the instance's current state (initialize, backup, master, fault), 0 for the others.",
        &["instance", "state"],
    )?;
    let priority = gauge_vec(
        registry,
        "elastic_vrrp_priority",
        "The priority the instance advertises now (0 while withdrawn or handing over).",
        &["instance"],
    )?;
    let configured = gauge_vec(
        registry,
        "elastic_vrrp_priority_configured",
        "The instance's configured priority.",
        &["instance"],
    )?;
    let master = gauge_vec(
        registry,
        "elastic_vrrp_master_priority",
        "The current master's priority, labelled with its address (ourselves while master).",
        &["instance", "master"],
    )?;
    let holding = gauge_vec(
        registry,
        "elastic_vrrp_holding_addresses",
        "1 while the virtual addresses are on the interface.",
        &["instance"],
    )?;
    let last = gauge_vec(
        registry,
        "elastic_vrrp_last_transition_seconds",
        "When the instance last changed state, in Unix seconds.",
        &["instance"],
    )?;
    let sent = counter_vec(
        registry,
        "elastic_vrrp_adverts_sent_total",
        "Advertisements sent.",
        &["instance"],
    )?;
    let received = counter_vec(
        registry,
        "elastic_vrrp_adverts_received_total",
        "Advertisements received and processed.",
        &["instance"],
    )?;
    let discarded = counter_vec(
        registry,
        "elastic_vrrp_adverts_discarded_total",
        "Received packets dropped, by reason.",
        &["instance", "reason"],
    )?;
    for v in &snapshot.vrrp {
        let name = v.name.as_str();
        let s = &v.status;
        for candidate in [Vrrp::Initialize, Vrrp::Backup, Vrrp::Master, Vrrp::Fault] {
            state
                .with_label_values(&[name, candidate.name()])
                .set(i64::from(s.state == candidate));
        }
        priority
            .with_label_values(&[name])
            .set(i64::from(s.priority));
        configured
            .with_label_values(&[name])
            .set(i64::from(s.configured_priority));
        if let Some((address, master_priority)) = s.master {
            master
                .with_label_values(&[name, &address.to_string()])
                .set(i64::from(master_priority));
        }
        holding
            .with_label_values(&[name])
            .set(i64::from(s.holding_addresses));
        if let Some(at) = s.last_transition {
            let unix = snapshot
                .wall_clock(at)
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            last.with_label_values(&[name])
                .set(i64::try_from(unix).unwrap_or(i64::MAX));
        }
        sent.with_label_values(&[name]).inc_by(s.adverts_sent);
        received
            .with_label_values(&[name])
            .inc_by(s.adverts_received);
        for (reason, count) in s.discards.by_reason() {
            discarded.with_label_values(&[name, reason]).inc_by(count);
        }
    }
    Ok(())
}

/// The text exposition of one snapshot.
pub fn render(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = Vec::new();
    match registry(snapshot) {
        Ok(registry) => {
            if let Err(error) = TextEncoder::new().encode(&registry.gather(), &mut out) {
                warn!(%error, "metrics: cannot encode");
            }
        }
        Err(error) => warn!(%error, "metrics: cannot build"),
    }
    out
}

#[cfg(test)]
mod tests;
