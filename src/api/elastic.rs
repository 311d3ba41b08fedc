//! `elastic.v1.Elastic`: GetStatus, WatchStatus and SetMaintenance, built from snapshots.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tonic::{Request, Response, Status as GrpcStatus};

use super::{duration, timestamp};
use crate::bgp::session::{MessageCounts, SessionStatus, State};
use crate::model::{Community, Role};
use crate::proto::elastic::v1 as pb;
use crate::proto::elastic::v1::elastic_server;
use crate::status::{Snapshot, StatusSource, VrrpInstance};

/// Changes are rare; a client that does not read gets dropped once this many are queued.
const WATCH_QUEUE: usize = 16;
/// Several channels often change together (a session and its adj-RIB-out): gather them.
const WATCH_SETTLE: Duration = Duration::from_millis(20);

pub fn community(value: u32) -> String {
    Community(value).to_string()
}

fn session_state(state: State) -> pb::SessionState {
    match state {
        State::Idle => pb::SessionState::Idle,
        State::Connect => pb::SessionState::Connect,
        State::Active => pb::SessionState::Active,
        State::OpenSent => pb::SessionState::OpenSent,
        State::OpenConfirm => pb::SessionState::OpenConfirm,
        State::Established => pb::SessionState::Established,
    }
}

fn counts(c: &MessageCounts) -> pb::MessageCounts {
    pb::MessageCounts {
        open: c.open,
        update: c.update,
        notification: c.notification,
        keepalive: c.keepalive,
        route_refresh: c.route_refresh,
    }
}

fn session(s: &SessionStatus, snapshot: &Snapshot) -> pb::Session {
    let (now, _) = snapshot.taken_at;
    pb::Session {
        peer: s.peer.to_string(),
        state: session_state(s.state) as i32,
        local_address: s.local_address.map(|a| a.to_string()).unwrap_or_default(),
        remote_router_id: s
            .remote_router_id
            .map(|a| a.to_string())
            .unwrap_or_default(),
        remote_asn: s.remote_as.unwrap_or(0),
        remote_hostname: s.remote_hostname.clone().unwrap_or_default(),
        negotiated_hold_time: s.negotiated_hold_time.map(u32::from).unwrap_or(0),
        negotiated_keepalive: s.negotiated_keepalive.map(u32::from).unwrap_or(0),
        established_since: s
            .established_since
            .map(|at| timestamp(snapshot.wall_clock(at))),
        uptime: s
            .established_since
            .map(|at| duration(now.saturating_duration_since(at))),
        down_since: s.down_since.map(|at| timestamp(snapshot.wall_clock(at))),
        sent: Some(counts(&s.sent)),
        received: Some(counts(&s.received)),
        prefixes_received: s.prefixes_received,
        prefixes_withdrawn: s.prefixes_withdrawn_by_peer,
        advertised: s.adj_out.keys().map(ToString::to_string).collect(),
        flaps: s.flaps,
        last_error: s.last_error.clone().unwrap_or_default(),
        bfd: s.bfd.as_ref().map(bfd),
    }
}

fn bfd(b: &crate::model::BfdView) -> pb::Bfd {
    pb::Bfd {
        state: b.state.to_string(),
        remote_state: b.remote_state.to_string(),
        diagnostic: b.diagnostic.to_string(),
        local_discriminator: b.local_discriminator,
        remote_discriminator: b.remote_discriminator,
        tx_interval: Some(duration(b.tx_interval)),
        detection_time: Some(duration(b.detection_time)),
        path_failures: b.path_failures,
        dropped: b
            .dropped
            .iter()
            .map(|(reason, n)| (reason.to_string(), *n))
            .collect(),
    }
}

fn pb_role(role: Role) -> pb::Role {
    match role {
        Role::Primary => pb::Role::Primary,
        Role::Secondary => pb::Role::Secondary,
    }
}

fn vrrp(v: &VrrpInstance, snapshot: &Snapshot) -> pb::VrrpInstance {
    let s = &v.status;
    pb::VrrpInstance {
        name: v.name.clone(),
        interface: v.interface.clone(),
        vrid: u32::from(v.vrid),
        state: s.state.name().to_string(),
        configured_priority: u32::from(s.configured_priority),
        priority: u32::from(s.priority),
        master_address: s.master.map(|(a, _)| a.to_string()).unwrap_or_default(),
        master_priority: s.master.map(|(_, p)| u32::from(p)),
        adverts_sent: s.adverts_sent,
        adverts_received: s.adverts_received,
        adverts_discarded: s.discards.by_reason().iter().map(|(_, n)| n).sum(),
        last_transition: s
            .last_transition
            .map(|at| timestamp(snapshot.wall_clock(at))),
        addresses: v.addresses.iter().map(ToString::to_string).collect(),
        holding_addresses: s.holding_addresses,
        error: v.error.clone().unwrap_or_default(),
    }
}

/// The whole status at the snapshot's moment.
pub fn status(snapshot: &Snapshot) -> pb::Status {
    let info = &snapshot.info;
    let bgp = info.bgp.as_ref();
    let (_, wall) = snapshot.taken_at;
    let addresses = snapshot
        .addresses
        .iter()
        .map(|a| pb::Address {
            prefix: a.prefix.to_string(),
            announced: a.announced,
            communities: a.communities.iter().map(|c| community(*c)).collect(),
            med: a.med,
            reason: a.reason.to_string(),
            role: pb_role(a.role) as i32,
            announced_to: snapshot
                .announced_to(&a.prefix)
                .iter()
                .map(|s| s.peer.to_string())
                .collect(),
        })
        .collect();
    let probes = snapshot
        .probes
        .iter()
        .map(|p| pb::Probe {
            name: p.name.clone(),
            healthy: p.healthy,
            state: p.state.clone(),
            last_ok: p.last_ok,
            last_output: p.last_output.clone(),
            last_latency: p.last_latency.map(duration),
            successes: p.successes,
            failures: p.failures,
            last_change: p.last_change.map(|at| timestamp(snapshot.wall_clock(at))),
            transitions: p.transitions,
        })
        .collect();
    pb::Status {
        version: info.version.to_string(),
        role: bgp.map_or(pb::Role::Unspecified, |b| pb_role(b.role)) as i32,
        started_at: Some(timestamp(info.started_at)),
        uptime: Some(duration(
            wall.duration_since(info.started_at).unwrap_or_default(),
        )),
        router_id: bgp.map_or(String::new(), |b| b.router_id.to_string()),
        local_asn: bgp.map_or(0, |b| b.local_as),
        peer_asn: bgp.map_or(0, |b| b.peer_as),
        hostname: info.hostname.clone(),
        hold_time: bgp.map_or(0, |b| u32::from(b.hold_time)),
        keepalive: bgp.map_or(0, |b| u32::from(b.keepalive)),
        addresses,
        probes,
        sessions: snapshot
            .sessions
            .iter()
            .map(|s| session(s, snapshot))
            .collect(),
        all_announced: snapshot.missing_announcements().is_empty(),
        vrrp: snapshot.vrrp.iter().map(|v| vrrp(v, snapshot)).collect(),
        maintenance: Some(pb::Maintenance {
            file: snapshot.mode.maintenance_file,
            requested: snapshot.mode.maintenance_requested,
            draining: snapshot.mode.draining.is_some(),
            draining_reason: snapshot.mode.draining.clone().unwrap_or_default(),
            control_socket: snapshot.mode.control_socket,
        }),
        reload: Some(pb::Reload {
            succeeded: info.reloads.succeeded,
            failed: info.reloads.failed,
            last_at: info.reloads.last.as_ref().map(|(at, _)| timestamp(*at)),
            last_failed: info.reloads.last_failed(),
            last_error: info
                .reloads
                .last
                .as_ref()
                .and_then(|(_, error)| error.clone())
                .unwrap_or_default(),
        }),
    }
}

/// What changed between two statuses: session states, addresses (wanted, or how many sessions
/// carry them) and probe states. Counters and uptimes are not changes.
pub fn changes(before: &pb::Status, after: &pb::Status) -> Vec<pb::Change> {
    use pb::change::What;
    let mut out = Vec::new();
    for s in &after.sessions {
        let from = before
            .sessions
            .iter()
            .find(|b| b.peer == s.peer)
            .map_or(pb::SessionState::Unspecified as i32, |b| b.state);
        if from != s.state {
            out.push(What::Session(pb::SessionChange {
                peer: s.peer.clone(),
                from,
                to: s.state,
            }));
        }
    }
    for a in &after.addresses {
        let old = before.addresses.iter().find(|b| b.prefix == a.prefix);
        let to_before = old.map_or(0, |b| b.announced_to.len() as u32);
        if old.map(|b| (b.announced, &b.reason)) != Some((a.announced, &a.reason))
            || to_before != a.announced_to.len() as u32
        {
            out.push(What::Address(pb::AddressChange {
                prefix: a.prefix.clone(),
                announced: a.announced,
                reason: a.reason.clone(),
                announced_to_before: to_before,
                announced_to_after: a.announced_to.len() as u32,
            }));
        }
    }
    for b in &before.addresses {
        if !after.addresses.iter().any(|a| a.prefix == b.prefix) {
            out.push(What::Address(pb::AddressChange {
                prefix: b.prefix.clone(),
                announced: false,
                reason: "address gone".to_string(),
                announced_to_before: b.announced_to.len() as u32,
                announced_to_after: 0,
            }));
        }
    }
    for p in &after.probes {
        let from = before
            .probes
            .iter()
            .find(|b| b.name == p.name)
            .map(|b| b.state.clone())
            .unwrap_or_default();
        if from != p.state {
            out.push(What::Probe(pb::ProbeChange {
                name: p.name.clone(),
                from,
                to: p.state.clone(),
            }));
        }
    }
    for v in &after.vrrp {
        let from = before
            .vrrp
            .iter()
            .find(|b| b.name == v.name)
            .map(|b| b.state.clone())
            .unwrap_or_default();
        if from != v.state {
            out.push(What::Vrrp(pb::VrrpChange {
                name: v.name.clone(),
                from,
                to: v.state.clone(),
            }));
        }
    }
    out.into_iter()
        .map(|what| pb::Change { what: Some(what) })
        .collect()
}

/// What the control socket's service asks of the event loop (SetMaintenance, Drain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlCommand {
    /// Maintenance on or off, like the maintenance file.
    SetMaintenance(bool),
    /// Graceful shutdown (RFC 8326) without stopping, or its undoing.
    Drain(bool),
}

/// One command and where to send the answer: the new state, or why it was refused.
#[derive(Debug)]
pub struct ControlRequest {
    pub command: ControlCommand,
    pub reply: oneshot::Sender<Result<bool, String>>,
}

/// The queue from the control socket's service to the event loop (a handful of operators).
pub fn channel() -> (mpsc::Sender<ControlRequest>, mpsc::Receiver<ControlRequest>) {
    mpsc::channel(8)
}

pub struct Service {
    source: StatusSource,
    /// The daemon's control channel: only the control socket's instance has one.
    control: Option<mpsc::Sender<ControlRequest>>,
    /// One permit per WatchStatus stream, held by its task.
    watchers: Arc<Semaphore>,
}

impl Service {
    /// The read-only service of the TCP API, with at most `max_watchers` WatchStatus streams.
    pub fn new(source: StatusSource, max_watchers: usize) -> Self {
        Service {
            source,
            control: None,
            watchers: Arc::new(Semaphore::new(max_watchers)),
        }
    }

    /// The control socket's service: SetMaintenance and Drain reach the daemon through `control`.
    pub fn with_control(
        source: StatusSource,
        control: mpsc::Sender<ControlRequest>,
        max_watchers: usize,
    ) -> Self {
        Service {
            control: Some(control),
            ..Service::new(source, max_watchers)
        }
    }

    /// Hands `command` to the daemon's event loop and waits for its answer.
    async fn ask(&self, rpc: &str, command: ControlCommand) -> Result<bool, GrpcStatus> {
        let Some(control) = &self.control else {
            let why = if self.source.mode.borrow().control_socket {
                "this API is read-only; use the control socket (elastic drain / elastic maintenance)"
            } else {
                "not enabled: set control_socket in the config and use elastic drain / elastic \
                 maintenance; this API is read-only"
            };
            return Err(GrpcStatus::failed_precondition(format!("{rpc}: {why}")));
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || GrpcStatus::unavailable("the daemon is stopping");
        control
            .send(ControlRequest { command, reply })
            .await
            .map_err(|_| gone())?;
        answer
            .await
            .map_err(|_| gone())?
            .map_err(GrpcStatus::unavailable)
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchStatusResponse, GrpcStatus>> + Send>>;

/// Waits until any channel of `source` or any of `sessions` changed (or all senders are gone:
/// `false`).
async fn any_changed(
    source: &mut StatusSource,
    sessions: &mut [tokio::sync::watch::Receiver<SessionStatus>],
    vrrp: &mut [tokio::sync::watch::Receiver<VrrpInstance>],
) -> bool {
    let mut waits: Vec<Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>>> = Vec::new();
    for session in sessions {
        waits.push(Box::pin(async move { session.changed().await.is_ok() }));
    }
    for instance in vrrp {
        waits.push(Box::pin(async move { instance.changed().await.is_ok() }));
    }
    let (info, list, routes, addresses, probes, mode, vrrp_list) = (
        &mut source.info,
        &mut source.sessions,
        &mut source.routes,
        &mut source.addresses,
        &mut source.probes,
        &mut source.mode,
        &mut source.vrrp,
    );
    waits.push(Box::pin(async move { info.changed().await.is_ok() }));
    waits.push(Box::pin(async move { list.changed().await.is_ok() }));
    waits.push(Box::pin(async move { routes.changed().await.is_ok() }));
    waits.push(Box::pin(async move { addresses.changed().await.is_ok() }));
    waits.push(Box::pin(async move { probes.changed().await.is_ok() }));
    waits.push(Box::pin(async move { mode.changed().await.is_ok() }));
    waits.push(Box::pin(async move { vrrp_list.changed().await.is_ok() }));
    // A closed channel answers at once; keep waiting on the live ones.
    let mut live = waits;
    while !live.is_empty() {
        let (changed, _, rest) = futures_util::future::select_all(live).await;
        if changed {
            return true;
        }
        live = rest;
    }
    false
}

/// The session and VRRP instance receivers of the moment (their lists may change).
type Watched = (
    Vec<tokio::sync::watch::Receiver<SessionStatus>>,
    Vec<tokio::sync::watch::Receiver<VrrpInstance>>,
);

/// Marks everything seen; returns the current session and VRRP instance receivers.
fn mark_seen(source: &mut StatusSource) -> Watched {
    let mut sessions = source.sessions.borrow_and_update().as_ref().clone();
    for session in &mut sessions {
        session.mark_unchanged();
    }
    let mut vrrp = source.vrrp.borrow_and_update().as_ref().clone();
    for instance in &mut vrrp {
        instance.mark_unchanged();
    }
    source.info.mark_unchanged();
    source.mode.mark_unchanged();
    source.routes.mark_unchanged();
    source.addresses.mark_unchanged();
    source.probes.mark_unchanged();
    (sessions, vrrp)
}

#[tonic::async_trait]
impl elastic_server::Elastic for Service {
    async fn get_status(
        &self,
        _request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::GetStatusResponse>, GrpcStatus> {
        Ok(Response::new(pb::GetStatusResponse {
            status: Some(status(&self.source.snapshot())),
        }))
    }

    type WatchStatusStream = WatchStream;

    async fn watch_status(
        &self,
        _request: Request<pb::WatchStatusRequest>,
    ) -> Result<Response<Self::WatchStatusStream>, GrpcStatus> {
        let Ok(watcher) = self.watchers.clone().try_acquire_owned() else {
            return Err(GrpcStatus::resource_exhausted(
                "too many WatchStatus streams at once; try again later",
            ));
        };
        let mut source = self.source.clone();
        let (mut sessions, mut vrrp) = mark_seen(&mut source);
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        let mut last = status(&source.snapshot());
        let first = pb::WatchStatusResponse {
            status: Some(last.clone()),
            changes: Vec::new(),
        };
        let _ = tx.try_send(Ok(first));
        tokio::spawn(async move {
            let _watcher = watcher;
            loop {
                tokio::select! {
                    () = tx.closed() => return,
                    changed = any_changed(&mut source, &mut sessions, &mut vrrp) => if !changed { return },
                }
                tokio::time::sleep(WATCH_SETTLE).await;
                (sessions, vrrp) = mark_seen(&mut source);
                let now = status(&source.snapshot());
                let changes = changes(&last, &now);
                if changes.is_empty() {
                    continue;
                }
                last = now.clone();
                let message = pb::WatchStatusResponse {
                    status: Some(now),
                    changes,
                };
                // A client that stops reading is dropped rather than buffered without bound.
                if tx.try_send(Ok(message)).is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream(rx))))
    }

    async fn set_maintenance(
        &self,
        request: Request<pb::SetMaintenanceRequest>,
    ) -> Result<Response<pb::SetMaintenanceResponse>, GrpcStatus> {
        let drain = request.into_inner().drain;
        let draining = self
            .ask("SetMaintenance", ControlCommand::SetMaintenance(drain))
            .await?;
        Ok(Response::new(pb::SetMaintenanceResponse { draining }))
    }

    async fn drain(
        &self,
        request: Request<pb::DrainRequest>,
    ) -> Result<Response<pb::DrainResponse>, GrpcStatus> {
        let drain = request.into_inner().drain;
        let draining = self.ask("Drain", ControlCommand::Drain(drain)).await?;
        Ok(Response::new(pb::DrainResponse { draining }))
    }
}

/// An mpsc receiver as a stream (tokio-stream's wrapper, without the dependency).
struct ReceiverStream<T>(mpsc::Receiver<T>);

impl<T> Stream for ReceiverStream<T> {
    type Item = T;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_print_as_asn_colon_value() {
        assert_eq!(community(4_259_840_001), "65000:1");
        assert_eq!(community((65000 << 16) | 2), "65000:2");
    }
}
