//! Thin tokio driver for BFD: one listening socket per BFD port (4784 multihop, 3784 single hop)
//! shared by every session, and one task per session that owns its sending socket, sleeps until
//! the pure [`Session`]'s deadline and carries out its actions. All decisions live in the session.
//!
//! Received datagrams are handed to the session whose peer sent them (a session per BGP session,
//! between the same addresses); from any other source they are dropped and counted. The received
//! TTL / hop limit comes with each datagram (IP_RECVTTL / IPV6_RECVHOPLIMIT) for the RFC 5881 and
//! RFC 5883 checks. We send with TTL / hop limit 255 from one source port in 49152-65535 per
//! session (RFC 5881 §4), so the peer can check either rule.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::session::{Action, Input, Session};
use super::wire::{self, State};
use super::{BfdConfig, port, session_config};
use crate::clock::{self, sleep_until};
use crate::model::BfdView;

/// RFC 5881 §4: the source port of every session is in this range.
const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// RFC 5881 §5 / RFC 5883 §5: we always send with the highest TTL / hop limit.
const SEND_TTL: u32 = 255;
/// Datagrams waiting for one session; a peer flooding more is dropped, not queued.
const INBOX: usize = 64;
/// A control packet with the largest authentication section is 24 + 28 bytes; more is not BFD.
const MAX_DATAGRAM: usize = 128;

/// One received datagram for a session.
#[derive(Debug)]
struct Datagram {
    bytes: Vec<u8>,
    ttl: u8,
}

/// Where the listeners send what a peer sent, and the drop counters.
struct Routes {
    /// (destination port, peer address) → (the session's discriminator, its inbox).
    inboxes: HashMap<(u16, IpAddr), (u32, mpsc::Sender<Datagram>)>,
    /// The ports listened on (a failed bind is not retried until a session asks again).
    listening: HashSet<u16>,
}

/// Every BFD session of the daemon and the listeners they share. Cheap to clone.
#[derive(Clone)]
pub struct Bfd {
    routes: Arc<Mutex<Routes>>,
    next_discriminator: Arc<AtomicU32>,
    /// Datagrams no session took: from an unknown source, or while its inbox was full.
    unclaimed: watch::Sender<BTreeMap<&'static str, u64>>,
}

impl Default for Bfd {
    fn default() -> Self {
        Bfd::new()
    }
}

impl Bfd {
    pub fn new() -> Bfd {
        Bfd {
            routes: Arc::new(Mutex::new(Routes {
                inboxes: HashMap::new(),
                listening: HashSet::new(),
            })),
            // Any nonzero start; a restarted daemon must not reuse the last run's values
            // while the peer still remembers them (§6.3 asks for unique discriminators).
            next_discriminator: Arc::new(AtomicU32::new(fastrand::u32(1..u32::MAX / 2))),
            unclaimed: watch::channel(BTreeMap::new()).0,
        }
    }

    /// Drops the listeners took (unknown source, session busy), for the metrics.
    pub fn unclaimed(&self) -> watch::Receiver<BTreeMap<&'static str, u64>> {
        self.unclaimed.subscribe()
    }

    /// Starts a BFD session with `peer`. It runs until every receiver of the returned status is
    /// dropped (the BGP session it belongs to ended), then says AdminDown and stops.
    pub fn spawn_session(&self, peer: IpAddr, config: BfdConfig) -> watch::Receiver<BfdView> {
        let port = port(&config);
        let discriminator = self
            .next_discriminator
            .fetch_add(1, Ordering::Relaxed)
            .max(1);
        let session = Session::new(session_config(&config), discriminator, clock::now());
        let (status_tx, status_rx) = watch::channel(session.status().view());
        let (inbox_tx, inbox) = mpsc::channel(INBOX);
        // The discriminator is unique per session, so it also tells this registration from an
        // earlier one for the same key.
        let id = discriminator;
        {
            let mut routes = lock(&self.routes);
            routes.inboxes.insert((port, peer), (id, inbox_tx));
            if !routes.listening.contains(&port) {
                match listen(port) {
                    Ok(socket) => {
                        info!(port, "BFD listening");
                        routes.listening.insert(port);
                        tokio::spawn(receive(
                            socket,
                            port,
                            self.routes.clone(),
                            self.unclaimed.clone(),
                        ));
                    }
                    // Another BFD daemon owns the port: our sessions stay Down ("not
                    // answered") and BGP runs on without them.
                    Err(error) => warn!(port, %error, "cannot listen for BFD"),
                }
            }
        }
        let registration = Registration {
            routes: self.routes.clone(),
            key: (port, peer),
            id,
        };
        let driver = Driver {
            session,
            peer: SocketAddr::new(peer, port),
            status: status_tx,
        };
        tokio::spawn(driver.run(inbox, registration));
        status_rx
    }
}

/// Removes a session's inbox when its task ends (unless a newer session took the key).
struct Registration {
    routes: Arc<Mutex<Routes>>,
    key: (u16, IpAddr),
    id: u32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut routes = lock(&self.routes);
        if routes
            .inboxes
            .get(&self.key)
            .is_some_and(|(id, _)| *id == self.id)
        {
            routes.inboxes.remove(&self.key);
        }
    }
}

fn lock(routes: &Mutex<Routes>) -> std::sync::MutexGuard<'_, Routes> {
    // A panic while holding the lock cannot leave the maps half-updated: every change is one
    // insert or remove.
    routes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Driver {
    session: Session,
    peer: SocketAddr,
    status: watch::Sender<BfdView>,
}

impl Driver {
    async fn run(mut self, mut inbox: mpsc::Receiver<Datagram>, _registration: Registration) {
        let socket = match sender(self.peer) {
            Ok(socket) => Some(socket),
            Err(error) => {
                warn!(peer = %self.peer.ip(), %error, "cannot create the BFD socket: this session stays down");
                None
            }
        };
        let mut pending = Vec::new();
        loop {
            self.execute(socket.as_ref(), std::mem::take(&mut pending))
                .await;
            self.publish();
            let deadline = self.session.poll_timeout();
            pending = tokio::select! {
                biased;
                () = self.status.closed() => {
                    // The BGP session ended: tell the peer this is no failure (RFC 5882).
                    let actions = self.session.handle(clock::now(), fastrand::f64(), Input::AdminDown);
                    self.execute(socket.as_ref(), actions).await;
                    break;
                }
                received = inbox.recv() => match received {
                    Some(datagram) => self.session.handle(
                        clock::now(),
                        fastrand::f64(),
                        Input::Datagram { bytes: &datagram.bytes, ttl: datagram.ttl },
                    ),
                    None => break,
                },
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.session.handle_timeout(clock::now(), fastrand::f64())
                }
            };
        }
    }

    fn publish(&self) {
        let status = self.session.status().view();
        self.status.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status;
                true
            }
        });
    }

    async fn execute(&self, socket: Option<&UdpSocket>, actions: Vec<Action>) {
        let peer = self.peer.ip();
        for action in actions {
            match action {
                Action::Send(packet) => {
                    let Some(socket) = socket else { continue };
                    if let Err(error) = socket.send_to(&wire::encode(&packet), self.peer).await {
                        // Unreachable peers are BFD's business: the detection time says so.
                        tracing::debug!(%peer, %error, "BFD send failed");
                    }
                }
                Action::StateChanged {
                    from,
                    to,
                    diagnostic,
                } => {
                    let (from_name, to_name) = (from.name(), to.name());
                    // Up and leaving Up matter to operators; the handshake steps are detail.
                    if from == State::Up || to == State::Up {
                        info!(%peer, from = from_name, to = to_name, %diagnostic, "BFD session state changed");
                    } else {
                        tracing::debug!(%peer, from = from_name, to = to_name, %diagnostic, "BFD session state changed");
                    }
                }
                Action::PathDown(diagnostic) => {
                    warn!(%peer, %diagnostic, "BFD says the path to the route server failed");
                }
                Action::Dropped(reason) => {
                    tracing::debug!(%peer, %reason, "BFD packet dropped");
                }
            }
        }
    }
}

// ===== sockets =====

/// The shared listening socket for `port`: IPv6 and IPv4 (mapped) on one socket, with the
/// received TTL / hop limit delivered beside each datagram.
fn listen(port: u16) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV6,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_only_v6(false)?;
    socket.set_recv_hoplimit_v6(true)?;
    setsockopt(&socket, sockopt::Ipv4RecvTtl, &true).map_err(io::Error::from)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port).into())?;
    UdpSocket::from_std(socket.into())
}

/// A session's sending socket: TTL / hop limit 255, CS6, a free source port in 49152-65535,
/// and no local address, so the kernel picks the source the BGP connection got too.
fn sender(peer: SocketAddr) -> io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(peer);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let any = match peer {
        SocketAddr::V4(_) => {
            socket.set_ttl_v4(SEND_TTL)?;
            socket.set_tos_v4(crate::model::TRAFFIC_CLASS_CS6)?;
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        }
        SocketAddr::V6(_) => {
            socket.set_unicast_hops_v6(SEND_TTL)?;
            socket.set_tclass_v6(crate::model::TRAFFIC_CLASS_CS6)?;
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        }
    };
    socket.set_nonblocking(true)?;
    // Random ports in the range until one is free (the kernel's ephemeral range differs).
    let mut last_error = None;
    for _ in 0..64 {
        let port = fastrand::u16(SOURCE_PORTS);
        match socket.bind(&SocketAddr::new(any, port).into()) {
            Ok(()) => return UdpSocket::from_std(socket.into()),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free source port")))
}

/// Reads datagrams from a listening socket forever and routes each to its session.
async fn receive(
    socket: UdpSocket,
    port: u16,
    routes: Arc<Mutex<Routes>>,
    unclaimed: watch::Sender<BTreeMap<&'static str, u64>>,
) {
    let mut buffer = [0u8; MAX_DATAGRAM];
    let count = |reason: &'static str| {
        unclaimed.send_modify(|counts| *counts.entry(reason).or_default() += 1);
    };
    loop {
        let received = socket
            .async_io(Interest::READABLE, || receive_one(&socket, &mut buffer))
            .await;
        let (length, source, ttl) = match received {
            Ok(Some(received)) => received,
            // A datagram without a source or TTL cannot be checked.
            Ok(None) => {
                count("no_ttl");
                continue;
            }
            Err(error) => {
                warn!(port, %error, "BFD receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let inbox = lock(&routes)
            .inboxes
            .get(&(port, source))
            .map(|(_, inbox)| inbox.clone());
        let Some(inbox) = inbox else {
            count("unknown_source");
            continue;
        };
        let datagram = Datagram {
            bytes: buffer[..length].to_vec(),
            ttl,
        };
        if inbox.try_send(datagram).is_err() {
            count("session_busy");
        }
    }
}

/// One `recvmsg`: the length, the source (IPv4-mapped addresses as IPv4) and the TTL / hop limit.
fn receive_one(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Option<(usize, IpAddr, u8)>> {
    let mut control = nix::cmsg_space!(libc::c_int, libc::c_int);
    let mut iov = [IoSliceMut::new(buffer)];
    let message = recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?;
    let mut ttl = None;
    if let Ok(messages) = message.cmsgs() {
        for cmsg in messages {
            match cmsg {
                ControlMessageOwned::Ipv6HopLimit(hops) => ttl = u8::try_from(hops).ok(),
                ControlMessageOwned::Ipv4Ttl(hops) => ttl = u8::try_from(hops).ok(),
                _ => {}
            }
        }
    }
    let source = message.address.and_then(|address: SockaddrStorage| {
        if let Some(v6) = address.as_sockaddr_in6() {
            Some(IpAddr::V6(v6.ip()).to_canonical())
        } else {
            address.as_sockaddr_in().map(|v4| IpAddr::V4(v4.ip()))
        }
    });
    Ok(source
        .zip(ttl)
        .map(|(source, ttl)| (message.bytes, source, ttl)))
}
