//! The raw sockets VRRP adverts travel on (IP protocol 112), the driver's only IO for the
//! protocol itself: one socket receives (bound to the interface, member of 224.0.0.18), one sends
//! from the router's primary address with TTL 255, multicast loopback off. Decisions stay in
//! [`super::instance`]: a received packet becomes an [`super::instance::Input::Packet`] as is.
//!
//! IPv6 ([`AdvertSocketV6`]) the same way: to ff02::12 from the interface's link-local address
//! with hop limit 255, the received hop limit and destination read with `recvmsg`.
//!
//! Two sockets because a raw socket bound to an address receives only what is sent to that
//! address, and the sender must be bound to it so the source (and so the checksum's
//! pseudo-header) is the one the instance computed with.

use std::io::{self, IoSliceMut, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;

use super::wire::{GROUP_V4, GROUP_V6, PROTOCOL, TTL};

/// One received packet of protocol 112: the header fields the instance checks, and the
/// advert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub source: IpAddr,
    pub destination: IpAddr,
    pub ttl: u8,
    pub bytes: Vec<u8>,
}

/// The receiving and the sending socket of one IPv4 instance on one interface.
pub struct AdvertSocketV4 {
    receive: Socket,
    send: Socket,
}

impl AdvertSocketV4 {
    /// Sockets on `interface`, whose primary address is `primary`.
    pub fn open(interface: &str, primary: Ipv4Addr) -> io::Result<AdvertSocketV4> {
        AdvertSocketV4::open_sending_from(interface, primary, interface)
    }

    /// Sockets receiving on `interface` (primary address `primary`) and sending from
    /// `send_from` (with `use_vmac`, the macvlan: the adverts' source MAC is then the virtual
    /// one), still from `primary`.
    pub fn open_sending_from(
        interface: &str,
        primary: Ipv4Addr,
        send_from: &str,
    ) -> io::Result<AdvertSocketV4> {
        let raw = || {
            Socket::new(
                Domain::IPV4,
                Type::RAW,
                Some(Protocol::from(i32::from(PROTOCOL))),
            )
        };
        let receive = raw()?;
        receive.bind_device(Some(interface.as_bytes()))?;
        receive.join_multicast_v4(&GROUP_V4, &primary)?;
        let send = raw()?;
        send.bind_device(Some(send_from.as_bytes()))?;
        send.bind(&SockAddr::from(SocketAddrV4::new(primary, 0)))?;
        // The bound device already decides where multicast goes; naming the primary address's
        // interface here would be refused when sending from another one.
        if send_from == interface {
            send.set_multicast_if_v4(&primary)?;
        }
        send.set_multicast_ttl_v4(u32::from(TTL))?;
        send.set_ttl_v4(u32::from(TTL))?;
        send.set_multicast_loop_v4(false)?;
        Ok(AdvertSocketV4 { receive, send })
    }

    /// Sends one advert (the kernel adds the IP header).
    pub fn send(&self, to: Ipv4Addr, advert: &[u8]) -> io::Result<()> {
        self.send
            .send_to(advert, &SockAddr::from(SocketAddr::from((to, 0))))
            .map(drop)
    }

    /// The next packet, waiting at most `wait` (`Ok(None)` when none came, or it was not an
    /// IPv4 packet with a whole header).
    pub fn receive(&self, wait: Duration) -> io::Result<Option<Received>> {
        self.receive
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        match self.read_one() {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            other => other,
        }
    }

    /// One queued packet, blocking (`Ok(None)`: not an IPv4 packet with a whole header).
    fn read_one(&self) -> io::Result<Option<Received>> {
        let mut buffer = [0u8; 2048];
        let length = (&self.receive).read(&mut buffer)?;
        Ok(split_ipv4(&buffer[..length]))
    }

    /// The same sockets for an event loop: the receiving one registered with tokio (as a
    /// datagram socket, which a raw socket is), the sending one left as it is (a raw send never
    /// waits for a peer).
    pub fn into_async(self) -> io::Result<AsyncAdvertSocketV4> {
        self.receive.set_nonblocking(true)?;
        let receive = tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(self.receive))?;
        Ok(AsyncAdvertSocketV4 {
            receive,
            send: self.send,
        })
    }
}

/// [`AdvertSocketV4`] inside a tokio runtime.
pub struct AsyncAdvertSocketV4 {
    receive: tokio::net::UdpSocket,
    send: Socket,
}

impl AsyncAdvertSocketV4 {
    /// Sends one advert (the kernel adds the IP header).
    pub fn send(&self, to: Ipv4Addr, advert: &[u8]) -> io::Result<()> {
        self.send
            .send_to(advert, &SockAddr::from(SocketAddr::from((to, 0))))
            .map(drop)
    }

    /// The next packet (`Ok(None)`: not an IPv4 packet with a whole header).
    pub async fn receive(&self) -> io::Result<Option<Received>> {
        let mut buffer = [0u8; 2048];
        let length = self.receive.recv(&mut buffer).await?;
        Ok(split_ipv4(&buffer[..length]))
    }
}

/// The receiving and the sending socket of one IPv6 instance on one interface. A raw IPv6 socket
/// gets no IP header, so the source, the destination (IPV6_PKTINFO: the checksum's
/// pseudo-header) and the hop limit (IPV6_HOPLIMIT) come as control messages.
///
/// The advert's checksum is the codec's, over the pseudo-header (RFC 9568 §5.2.8), and no
/// IPV6_CHECKSUM is set: keepalived sets it (the kernel then computes the same sum and drops bad
/// ones unseen), FRR's vrrpd computes it in userspace; the bytes on the wire are the same, and without it
/// a bad checksum reaches the instance, which counts it.
pub struct AdvertSocketV6 {
    receive: tokio::net::UdpSocket,
    send: Socket,
    ifindex: u32,
}

impl AdvertSocketV6 {
    /// Sockets receiving on `interface` (index `ifindex`) and sending from `send_from` (name and
    /// index: with `use_vmac`, the macvlan, which must hold `link_local` too).
    pub fn open_sending_from(
        interface: &str,
        ifindex: u32,
        send_from: (&str, u32),
        link_local: Ipv6Addr,
    ) -> io::Result<AdvertSocketV6> {
        let (send_interface, send_ifindex) = send_from;
        let raw = || {
            Socket::new(
                Domain::IPV6,
                Type::RAW,
                Some(Protocol::from(i32::from(PROTOCOL))),
            )
        };
        let receive = raw()?;
        receive.bind_device(Some(interface.as_bytes()))?;
        receive.join_multicast_v6(&GROUP_V6, ifindex)?;
        setsockopt(&receive, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
        setsockopt(&receive, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
        receive.set_nonblocking(true)?;
        let receive = tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(receive))?;
        let send = raw()?;
        send.bind_device(Some(send_interface.as_bytes()))?;
        send.bind(&SockAddr::from(SocketAddrV6::new(
            link_local,
            0,
            0,
            send_ifindex,
        )))?;
        send.set_multicast_if_v6(send_ifindex)?;
        send.set_multicast_hops_v6(u32::from(TTL))?;
        send.set_unicast_hops_v6(u32::from(TTL))?;
        send.set_multicast_loop_v6(false)?;
        Ok(AdvertSocketV6 {
            receive,
            send,
            ifindex: send_ifindex,
        })
    }

    /// Sends one advert (the kernel adds the IPv6 header; the scope is the interface's).
    pub fn send(&self, to: Ipv6Addr, advert: &[u8]) -> io::Result<()> {
        let scope = if to.is_multicast() || to.is_unicast_link_local() {
            self.ifindex
        } else {
            0
        };
        self.send
            .send_to(advert, &SockAddr::from(SocketAddrV6::new(to, 0, 0, scope)))
            .map(drop)
    }

    /// The next packet (`Ok(None)`: it came without its source, destination or hop limit).
    pub async fn receive(&self) -> io::Result<Option<Received>> {
        let mut buffer = [0u8; 2048];
        self.receive
            .async_io(Interest::READABLE, || {
                receive_v6(&self.receive, &mut buffer)
            })
            .await
    }
}

/// One `recvmsg` on a raw IPv6 socket: the payload with the source, destination and hop limit.
fn receive_v6(socket: &tokio::net::UdpSocket, buffer: &mut [u8]) -> io::Result<Option<Received>> {
    let mut control = nix::cmsg_space!(libc::c_int, libc::in6_pktinfo);
    let mut iov = [IoSliceMut::new(buffer)];
    let message = recvmsg::<SockaddrIn6>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?;
    let mut hop_limit = None;
    let mut destination = None;
    for cmsg in message.cmsgs().map_err(io::Error::from)? {
        match cmsg {
            ControlMessageOwned::Ipv6HopLimit(hops) => hop_limit = u8::try_from(hops).ok(),
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                destination = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            _ => {}
        }
    }
    let source = message.address.map(|address| address.ip());
    let length = message.bytes;
    let (Some(source), Some(destination), Some(ttl)) = (source, destination, hop_limit) else {
        return Ok(None);
    };
    Ok(Some(Received {
        source: source.into(),
        destination: destination.into(),
        ttl,
        bytes: buffer[..length].to_vec(),
    }))
}

/// The IPv4 header's source, destination and TTL, and the payload; `None` if not IPv4 or cut.
pub fn split_ipv4(packet: &[u8]) -> Option<Received> {
    let first = *packet.first()?;
    let header = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header < 20 || packet.len() < header {
        return None;
    }
    let at = |i: usize| Ipv4Addr::new(packet[i], packet[i + 1], packet[i + 2], packet[i + 3]);
    Some(Received {
        source: at(12).into(),
        destination: at(16).into(),
        ttl: packet[8],
        bytes: packet[header..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_ipv4_takes_the_header_fields_and_the_advert() {
        let packet = include_bytes!("testdata/ipv4-vrid51-prio150.bin");
        let received = split_ipv4(packet).unwrap();
        assert_eq!(received.source, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(received.destination, IpAddr::V4(GROUP_V4));
        assert_eq!(received.ttl, TTL);
        assert_eq!(received.bytes, packet[20..]);
    }

    #[test]
    fn split_ipv4_refuses_what_is_not_a_whole_ipv4_header() {
        let packet = include_bytes!("testdata/ipv4-vrid51-prio150.bin");
        assert_eq!(split_ipv4(&packet[..19]), None);
        assert_eq!(split_ipv4(&[]), None);
        let ipv6 = include_bytes!("testdata/ipv6-vrid52-prio200.bin");
        assert_eq!(split_ipv4(ipv6), None);
        let mut short_ihl = packet.to_vec();
        short_ihl[0] = 0x44;
        assert_eq!(split_ipv4(&short_ihl), None);
    }
}
