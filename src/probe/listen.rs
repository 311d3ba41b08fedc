//! The `listen` probe's IO: a sock_diag dump (NETLINK_SOCK_DIAG, inet_diag_req_v2) of the
//! listening TCP or bound UDP sockets, and a subscription to the kernel's socket-destroy groups,
//! filtered in the kernel to the probe's port ([`listen_rules::destroy_filter`]), that wakes the
//! probe the moment the listener closes. Where the groups are not available (they need
//! CAP_NET_ADMIN), the probe polls at its interval and says so in its result.
//!
//! Messages are built and read with netlink-packet-sock-diag (the rust-netlink family that
//! rtnetlink, used for addresses, belongs to), on netlink-sys's socket.

use std::io;
use std::net::IpAddr;

use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use rtnetlink::packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::sys::Socket;
use rtnetlink::sys::protocols::NETLINK_SOCK_DIAG;
use tokio::io::unix::AsyncFd;

use super::listen_rules::{self, BoundSocket};
use crate::config::ListenTarget;

/// The sock_diag multicast groups reporting destroyed sockets (linux/sock_diag.h).
const SKNLGRP_INET_TCP_DESTROY: u32 = 1;
const SKNLGRP_INET_UDP_DESTROY: u32 = 2;
const SKNLGRP_INET6_TCP_DESTROY: u32 = 3;
const SKNLGRP_INET6_UDP_DESTROY: u32 = 4;

/// Large enough for one dump datagram (the kernel fills up to about 32 KiB).
const RECEIVE_BUFFER: usize = 64 * 1024;

/// What a `listen` probe keeps between checks: the destroy-group subscription, or why there
/// is none.
#[derive(Default)]
pub struct ListenWatch {
    events: Option<Result<AsyncFd<Socket>, String>>,
}

impl ListenWatch {
    /// Resolves when the kernel reported a socket on the probe's port destroyed (the messages
    /// are read and dropped: the probe confirms with a dump); never without a subscription.
    pub async fn destroyed(&mut self) {
        let Some(Ok(events)) = &self.events else {
            return std::future::pending().await;
        };
        let broken = loop {
            let mut ready = match events.readable().await {
                Ok(ready) => ready,
                Err(error) => break error,
            };
            let mut buffer = vec![0u8; 4096];
            let mut got = false;
            let failed = loop {
                match ready.try_io(|fd| fd.get_ref().recv(&mut &mut buffer[..], 0)) {
                    Ok(Ok(_)) => got = true,
                    // ENOBUFS: messages were lost; something was destroyed, so check.
                    Ok(Err(error)) if error.raw_os_error() == Some(libc::ENOBUFS) => got = true,
                    Ok(Err(error)) => break Some(error),
                    // Drained: tokio cleared the readiness.
                    Err(_would_block) => break None,
                }
            };
            if let Some(error) = failed {
                break error;
            }
            if got {
                return;
            }
        };
        // A socket that keeps failing would wake the probe without end: poll from now on.
        self.events = Some(Err(format!("reading the destroy events: {broken}")));
    }

    /// Subscribes once; a failure is kept and reported with every result.
    fn subscribe(&mut self, target: &ListenTarget) {
        if self.events.is_none() {
            self.events = Some(subscribe(target).map_err(|error| error.to_string()));
        }
    }

    fn mode(&self) -> String {
        match &self.events {
            Some(Ok(_)) => "watched by socket-destroy events".to_string(),
            Some(Err(why)) => format!("polled (socket-destroy events unavailable: {why})"),
            None => "polled".to_string(),
        }
    }
}

fn subscribe(target: &ListenTarget) -> io::Result<AsyncFd<Socket>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    let program: Vec<socket2::SockFilter> = listen_rules::destroy_filter(target)
        .into_iter()
        .map(|(code, jt, jf, k)| socket2::SockFilter::new(code, jt, jf, k))
        .collect();
    socket2::SockRef::from(&socket).attach_filter(&program)?;
    let groups = if target.udp {
        [SKNLGRP_INET_UDP_DESTROY, SKNLGRP_INET6_UDP_DESTROY]
    } else {
        [SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET6_TCP_DESTROY]
    };
    for group in groups {
        socket.add_membership(group)?;
    }
    socket.set_non_blocking(true)?;
    // The safe (deprecated) form: the socket owns its descriptor for the AsyncFd's whole life,
    // which is what the unsafe `register_with_interest` asks the caller to promise.
    #[allow(
        deprecated,
        reason = "netlink_sys::Socket owns its fd; no unsafe in this crate"
    )]
    AsyncFd::with_interest(socket, tokio::io::Interest::READABLE)
}

/// One check: (up, what was found and how the probe watches).
pub fn check(target: &ListenTarget, watch: &mut ListenWatch) -> (bool, String) {
    // Subscribe before the dump, so a listener closing between the two is not missed.
    watch.subscribe(target);
    let kind = if target.udp { "udp" } else { "tcp" };
    match bound_sockets(target.udp) {
        Err(error) => (
            false,
            format!("{target}: sock_diag dump failed: {error}; {}", watch.mode()),
        ),
        Ok(sockets) => match sockets.iter().find(|s| listen_rules::serves(target, s)) {
            Some(found) => (
                true,
                format!(
                    "{target}: {kind} socket on {}; {}",
                    std::net::SocketAddr::new(found.address, found.port),
                    watch.mode()
                ),
            ),
            None => (
                false,
                format!(
                    "{target}: no {} {kind} socket there; {}",
                    if target.udp { "bound" } else { "listening" },
                    watch.mode()
                ),
            ),
        },
    }
}

/// Every listening TCP (or bound UDP) socket of both families in this network namespace.
fn bound_sockets(udp: bool) -> io::Result<Vec<BoundSocket>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.set_non_blocking(true)?;
    let mut found = Vec::new();
    for (sequence, family) in [(1, AF_INET), (2, AF_INET6)] {
        let request = InetRequest {
            family,
            protocol: if udp { IPPROTO_UDP } else { IPPROTO_TCP },
            extensions: ExtensionFlags::empty(),
            states: if udp {
                StateFlags::all()
            } else {
                StateFlags::LISTEN
            },
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        };
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = sequence;
        let mut packet = NetlinkMessage::new(header, SockDiagMessage::InetRequest(request).into());
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        socket.send(&bytes, 0)?;
        read_dump(&socket, sequence, &mut found)?;
    }
    Ok(found)
}

/// Reads one dump's datagrams until its end. The kernel queues the next datagram before the
/// previous read returns, so a non-blocking read that finds nothing means a broken dump, never
/// one still coming: the event loop cannot wait here.
fn read_dump(socket: &Socket, sequence: u32, found: &mut Vec<BoundSocket>) -> io::Result<()> {
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    loop {
        let size = socket.recv(&mut &mut buffer[..], 0)?;
        let mut offset = 0;
        while offset < size {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(&buffer[offset..size])
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
            let length = message.header.length as usize;
            if message.header.sequence_number == sequence {
                match message.payload {
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(error) => {
                        return Err(io::Error::other(format!("{error:?}")));
                    }
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                        let id = &response.header.socket_id;
                        found.push(BoundSocket {
                            address: id.source_address,
                            port: id.source_port,
                            v6only: matches!(id.source_address, IpAddr::V6(_))
                                && response
                                    .nlas
                                    .iter()
                                    .any(|n| matches!(n, Nla::SkV6Only(true))),
                        });
                    }
                    _ => {}
                }
            }
            if length == 0 {
                break;
            }
            offset += (length + 3) & !3;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_listener_is_found_and_its_closing_wakes_the_probe() {
        rt().block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let target: ListenTarget = format!("127.0.0.1:{port}").parse().unwrap();
            let mut watch = ListenWatch::default();
            let (up, detail) = check(&target, &mut watch);
            assert!(up, "{detail}");
            assert!(
                detail.starts_with(&format!(
                    "127.0.0.1:{port}: tcp socket on 127.0.0.1:{port}; "
                )),
                "{detail}"
            );
            let events = matches!(watch.events, Some(Ok(_)));
            // A connection to it, closed: same local port, not the listener. Filtered out.
            drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
            let accepted = listener.accept().unwrap();
            drop(accepted);
            if events {
                let woke =
                    tokio::time::timeout(Duration::from_millis(300), watch.destroyed()).await;
                assert!(woke.is_err(), "a closed connection must not wake the probe");
            }
            drop(listener);
            if events {
                tokio::time::timeout(Duration::from_secs(5), watch.destroyed())
                    .await
                    .expect("the destroy event wakes the probe");
            } else {
                assert!(
                    detail.contains("polled (socket-destroy events unavailable"),
                    "{detail}"
                );
            }
            let (up, detail) = check(&target, &mut watch);
            assert!(!up, "{detail}");
            assert!(
                detail.starts_with(&format!(
                    "127.0.0.1:{port}: no listening tcp socket there; "
                )),
                "{detail}"
            );
        });
    }

    #[test]
    fn wildcard_and_udp_sockets() {
        rt().block_on(async {
            let any = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
            let port = any.local_addr().unwrap().port();
            let target: ListenTarget = format!("127.0.0.1:{port}").parse().unwrap();
            assert!(
                check(&target, &mut ListenWatch::default()).0,
                "0.0.0.0 serves 127.0.0.1"
            );
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let udp_port = udp.local_addr().unwrap().port();
            let target: ListenTarget = format!("*:{udp_port}/udp").parse().unwrap();
            let (up, detail) = check(&target, &mut ListenWatch::default());
            assert!(up, "{detail}");
            // [::] without IPV6_V6ONLY takes IPv4 too; with it, not.
            let dual =
                socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
            dual.set_only_v6(false).unwrap();
            dual.bind(&"[::]:0".parse::<std::net::SocketAddr>().unwrap().into())
                .unwrap();
            dual.listen(8).unwrap();
            let dual_port = dual.local_addr().unwrap().as_socket().unwrap().port();
            let only =
                socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
            only.set_only_v6(true).unwrap();
            only.bind(&"[::]:0".parse::<std::net::SocketAddr>().unwrap().into())
                .unwrap();
            only.listen(8).unwrap();
            let only_port = only.local_addr().unwrap().as_socket().unwrap().port();
            let v4 = |port: u16| format!("127.0.0.1:{port}").parse::<ListenTarget>().unwrap();
            let (up, detail) = check(&v4(dual_port), &mut ListenWatch::default());
            assert!(up, "dual-stack [::] serves IPv4: {detail}");
            let (up, detail) = check(&v4(only_port), &mut ListenWatch::default());
            assert!(!up, "a v6only [::] does not: {detail}");
            let v6: ListenTarget = format!("[::1]:{only_port}").parse().unwrap();
            assert!(check(&v6, &mut ListenWatch::default()).0);
            let tcp_there: ListenTarget = format!("*:{udp_port}").parse().unwrap();
            assert!(
                !check(&tcp_there, &mut ListenWatch::default()).0,
                "no TCP listener there"
            );
        });
    }
}
