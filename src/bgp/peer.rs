//! Thin tokio driver for one BGP session: owns the socket and the timers' sleep, feeds the pure
//! [`Session`] and carries out its [`Action`]s. All decisions live in the session.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::md5::Md5Key;
use super::session::{Action, Event, Input, Session, SessionConfig, SessionStatus, State};
use super::tcp_md5sig;
use super::wire::{self, Notification};
use crate::clock::{self, sleep_until};
use crate::model::{BGP_PORT, BfdConfig, BfdView, Community, DesiredRoutes, RouteAttrs};

/// Bytes asked of the kernel per read. With the leftover of at most one partial message the read
/// buffer never exceeds this plus 4096 bytes, whatever the peer sends: memory stays flat.
const READ_CHUNK: usize = 16 * 1024;
/// A write that cannot complete in this time means the peer stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection may take to flush its last bytes (the Cease).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Actions a session's queue keeps room for between bursts.
const PENDING_KEPT: usize = 16;

/// Socket settings for the session's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    /// IP TTL / IPv6 hop limit, set before connecting (eBGP multihop; lelastic: 16).
    pub ttl: u8,
    /// TCP MD5 signature key (RFC 2385) for the peer's address, set before connecting.
    pub md5_key: Option<Md5Key>,
    /// A BFD session beside this one (`bfd:`); run by the daemon, part of the transport so a
    /// changed setting restarts the session.
    pub bfd: Option<BfdConfig>,
}

/// The daemon's handle on a running session.
pub struct PeerHandle {
    pub peer: IpAddr,
    pub status: watch::Receiver<SessionStatus>,
    pub task: JoinHandle<()>,
}

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Starts the session task. It follows `routes`, and on the first `Some` in `stop` sends that
/// NOTIFICATION (if a session is up), closes and ends. With `bfd`, the BFD session beside it:
/// each path failure it reports takes this session down ([`Input::BfdDown`]); the task holds the
/// receiver, so the BFD session ends with it.
pub fn spawn(
    config: SessionConfig,
    transport: Transport,
    routes: watch::Receiver<Arc<DesiredRoutes>>,
    stop: watch::Receiver<Option<Notification>>,
    bfd: Option<watch::Receiver<BfdView>>,
) -> PeerHandle {
    let peer = config.peer;
    let session = Session::new(config, fastrand::u64(..));
    let (status_tx, status) = watch::channel(session.status().clone());
    let driver = Driver {
        session,
        transport,
        connection: None,
        connecting: None,
        read_buffer: Vec::with_capacity(READ_CHUNK + wire::MAX_MESSAGE_LEN),
        status: status_tx,
        bfd_failures_seen: bfd.as_ref().map_or(0, |b| b.borrow().path_failures),
        bfd,
    };
    let task = tokio::spawn(driver.run(routes, stop));
    PeerHandle { peer, status, task }
}

struct Driver {
    session: Session,
    transport: Transport,
    connection: Option<TcpStream>,
    connecting: Option<ConnectFuture>,
    read_buffer: Vec<u8>,
    status: watch::Sender<SessionStatus>,
    bfd: Option<watch::Receiver<BfdView>>,
    /// The BFD session's path failures already acted on.
    bfd_failures_seen: u64,
}

impl Driver {
    async fn run(
        mut self,
        mut routes: watch::Receiver<Arc<DesiredRoutes>>,
        mut stop: watch::Receiver<Option<Notification>>,
    ) {
        let initial = routes.borrow_and_update().clone();
        let mut pending: VecDeque<Action> = self.feed(Input::Routes(initial)).into();
        pending.extend(self.feed(Input::Start));
        let mut routes_open = true;
        loop {
            self.execute(&mut pending).await;
            self.publish();
            // One path for every stop, also one that arrived while the actions above ran: the
            // session must still get its Cease.
            let requested = stop.borrow_and_update().clone();
            if let Some(notification) = requested {
                self.stop(notification, &mut pending).await;
                break;
            }
            let deadline = self.session.poll_timeout();
            let actions = tokio::select! {
                biased;
                changed = stop.changed() => {
                    if changed.is_err() {
                        // The daemon dropped its handle: leave as if de-configured.
                        self.stop(Notification::cease_peer_deconfigured(), &mut pending).await;
                        break;
                    }
                    // The request itself is taken at the top of the loop.
                    Vec::new()
                }
                result = poll_connect(&mut self.connecting), if self.connecting.is_some() => {
                    self.connecting = None;
                    self.on_connect_result(result)
                }
                result = read(&mut self.connection, &mut self.read_buffer), if self.connection.is_some() => {
                    self.on_read(result)
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.session.handle_timeout(clock::now())
                }
                changed = bfd_changed(&mut self.bfd), if self.bfd.is_some() => match changed {
                    Ok(()) => self.on_bfd(),
                    Err(_) => {
                        self.bfd = None;
                        Vec::new()
                    }
                },
                changed = routes.changed(), if routes_open => match changed {
                    Ok(()) => {
                        let wanted = routes.borrow_and_update().clone();
                        self.feed(Input::Routes(wanted))
                    }
                    Err(_) => {
                        routes_open = false;
                        Vec::new()
                    }
                },
            };
            pending.extend(actions);
        }
        if let Some(connection) = self.connection.take() {
            close(connection).await;
        }
    }

    /// Sends the NOTIFICATION (when a session is up) and closes.
    async fn stop(&mut self, notification: Notification, pending: &mut VecDeque<Action>) {
        pending.extend(self.feed(Input::Stop(notification)));
        self.execute(pending).await;
        self.publish();
    }

    fn feed(&mut self, input: Input<'_>) -> Vec<Action> {
        self.session.handle(clock::now(), input)
    }

    fn publish(&self) {
        let status = self.session.status();
        // The session knows nothing of BFD: its status is shown beside the BGP session's.
        let bfd = self.bfd.as_ref().map(|b| b.borrow());
        self.status.send_if_modified(|current| {
            // The session's own status never carries BFD: compare without it.
            let shown = current.bfd.take();
            let unchanged = shown.as_ref() == bfd.as_deref() && current == status;
            current.bfd = shown;
            if unchanged {
                false
            } else {
                *current = SessionStatus {
                    bfd: bfd.as_deref().cloned(),
                    ..status.clone()
                };
                true
            }
        });
    }

    /// The BFD session changed: a new path failure takes the BGP session down.
    fn on_bfd(&mut self) -> Vec<Action> {
        let failures = self
            .bfd
            .as_mut()
            .map_or(0, |b| b.borrow_and_update().path_failures);
        if failures > self.bfd_failures_seen {
            self.bfd_failures_seen = failures;
            return self.feed(Input::BfdDown);
        }
        Vec::new()
    }

    /// Carries out actions in order; failures become inputs whose actions join the queue.
    async fn execute(&mut self, pending: &mut VecDeque<Action>) {
        while let Some(action) = pending.pop_front() {
            match action {
                Action::Connect => {
                    self.connection = None;
                    let peer = SocketAddr::new(self.session.config().peer, BGP_PORT);
                    match connect(peer, &self.transport) {
                        Ok(future) => self.connecting = Some(future),
                        Err(error) => {
                            let reason = format!("cannot create socket: {error}");
                            pending.extend(self.feed(Input::ConnectFailed(reason)));
                        }
                    }
                }
                Action::Send(bytes) => {
                    let Some(connection) = self.connection.as_mut() else {
                        continue;
                    };
                    let written =
                        tokio::time::timeout(WRITE_TIMEOUT, connection.write_all(&bytes)).await;
                    let failure = match written {
                        Ok(Ok(())) => None,
                        Ok(Err(error)) => Some(format!("write failed: {error}")),
                        Err(_) => Some("write timed out: the peer stopped reading".to_string()),
                    };
                    if let Some(reason) = failure {
                        pending.extend(self.feed(Input::Closed(reason)));
                    }
                }
                Action::Disconnect => {
                    self.connecting = None;
                    if let Some(connection) = self.connection.take() {
                        close(connection).await;
                    }
                    self.read_buffer.clear();
                }
                Action::Event(event) => log_event(self.session.config().peer, &event),
            }
        }
        // A burst (10,000 routes) queues thousands of actions; keep room for the usual few only.
        pending.shrink_to(PENDING_KEPT);
    }

    fn on_connect_result(&mut self, result: io::Result<TcpStream>) -> Vec<Action> {
        let local = result.and_then(|stream| {
            // Keepalives and small UPDATEs must not wait for Nagle.
            stream.set_nodelay(true)?;
            let local = stream.local_addr()?.ip();
            self.connection = Some(stream);
            Ok(local)
        });
        match local {
            Ok(local) => self.feed(Input::Connected { local }),
            Err(error) => {
                self.connection = None;
                self.feed(Input::ConnectFailed(error.to_string()))
            }
        }
    }

    /// Frames every whole message in the buffer and hands each to the session.
    fn on_read(&mut self, result: io::Result<usize>) -> Vec<Action> {
        match result {
            Ok(0) => return self.feed(Input::Closed("connection closed by peer".to_string())),
            Err(error) => return self.feed(Input::Closed(format!("read failed: {error}"))),
            Ok(_) => {}
        }
        let mut actions = Vec::new();
        let mut consumed = 0;
        let buffer = std::mem::take(&mut self.read_buffer);
        while self.connection.is_some() {
            match wire::frame_len(&buffer[consumed..]) {
                Ok(Some(length)) => {
                    let message = &buffer[consumed..consumed + length];
                    consumed += length;
                    let produced = self.feed(Input::Message(message));
                    let closing = produced.contains(&Action::Disconnect);
                    actions.extend(produced);
                    if closing {
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    actions.extend(self.feed(Input::FramingError(error)));
                    break;
                }
            }
        }
        self.read_buffer = buffer;
        self.read_buffer.drain(..consumed);
        actions
    }
}

// ===== helper functions =====

/// Creates the socket with the TTL / hop limit and the TCP MD5 key set BEFORE connecting (so the
/// SYN already carries them: multihop eBGP needs the TTL, and a peer expecting signatures drops
/// an unsigned SYN), then starts the connect.
fn connect(peer: SocketAddr, transport: &Transport) -> io::Result<ConnectFuture> {
    let domain = socket2::Domain::for_address(peer);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    match peer {
        SocketAddr::V4(_) => {
            socket.set_ttl_v4(u32::from(transport.ttl))?;
            socket.set_tos_v4(crate::model::TRAFFIC_CLASS_CS6)?;
        }
        SocketAddr::V6(_) => {
            socket.set_unicast_hops_v6(u32::from(transport.ttl))?;
            socket.set_tclass_v6(crate::model::TRAFFIC_CLASS_CS6)?;
        }
    }
    if let Some(key) = &transport.md5_key {
        tcp_md5sig::set(socket.as_fd(), peer.ip(), key)?;
    }
    socket.set_nonblocking(true)?;
    let socket = TcpSocket::from_std_stream(std::net::TcpStream::from(socket));
    Ok(Box::pin(socket.connect(peer)))
}

/// Reads what the kernel has into `buffer` (at most READ_CHUNK bytes more).
async fn read(connection: &mut Option<TcpStream>, buffer: &mut Vec<u8>) -> io::Result<usize> {
    let Some(connection) = connection.as_mut() else {
        return std::future::pending().await;
    };
    buffer.reserve(READ_CHUNK);
    // `read_buf` is cancel safe: if another branch wins, no bytes are lost.
    let mut limited = (&mut *connection).take(READ_CHUNK as u64);
    limited.read_buf(buffer).await
}

async fn bfd_changed(
    bfd: &mut Option<watch::Receiver<BfdView>>,
) -> Result<(), watch::error::RecvError> {
    match bfd.as_mut() {
        Some(bfd) => bfd.changed().await,
        None => std::future::pending().await,
    }
}

async fn poll_connect(connecting: &mut Option<ConnectFuture>) -> io::Result<TcpStream> {
    match connecting.as_mut() {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// Flushes and half-closes (FIN after our last bytes, e.g. a Cease), bounded in time.
async fn close(mut connection: TcpStream) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.shutdown()).await;
}

fn format_attrs(attrs: &RouteAttrs) -> String {
    let communities: Vec<String> = attrs
        .communities
        .iter()
        .map(|c| Community(*c).to_string())
        .collect();
    match attrs.med {
        Some(med) => format!("communities=[{}] med={med}", communities.join(" ")),
        None => format!("communities=[{}]", communities.join(" ")),
    }
}

fn log_event(peer: IpAddr, event: &Event) {
    match event {
        Event::StateChanged { from, to } => {
            let (from, to) = (state_name(*from), state_name(*to));
            info!(%peer, %from, %to, "session state changed");
        }
        Event::Announced { prefix, attrs } => {
            info!(%peer, %prefix, attrs = %format_attrs(attrs), "announced");
        }
        Event::Withdrawn { prefix } => info!(%peer, %prefix, "withdrawn"),
        Event::NotificationSent(n) => warn!(%peer, notification = %n, "sent NOTIFICATION"),
        Event::NotificationReceived(n) => {
            warn!(%peer, notification = %n, "received NOTIFICATION")
        }
        Event::Down { reason, retry_in } => {
            let retry_in_secs = retry_in.as_secs();
            warn!(%peer, %reason, retry_in_secs, "session down")
        }
        Event::PeerLacksExtendedNextHop => warn!(
            %peer,
            "peer did not advertise extended next hop for IPv4 over IPv6 (RFC 8950); \
             sending IPv4 routes with an IPv6 next hop anyway, as lelastic does"
        ),
        Event::Unsendable { prefix, why } => warn!(%peer, %prefix, why, "not announced"),
        Event::EndOfRibReceived { family, prefixes } => {
            info!(%peer, ?family, prefixes, "received End-of-RIB (routes are counted, not used)")
        }
        Event::UpdateRepaired {
            treat_as_withdraw,
            discarded_attributes,
        } => warn!(
            %peer,
            treat_as_withdraw,
            discarded_attributes,
            "malformed UPDATE from peer handled per RFC 7606"
        ),
    }
}

/// State names as operators know them from RFC 4271 (and `gobgp neighbor`).
pub fn state_name(state: State) -> &'static str {
    match state {
        State::Idle => "Idle",
        State::Connect => "Connect",
        State::Active => "Active",
        State::OpenSent => "OpenSent",
        State::OpenConfirm => "OpenConfirm",
        State::Established => "Established",
    }
}
