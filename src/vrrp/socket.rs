//! The raw IPv4 sockets VRRP adverts travel on (IP protocol 112), the driver's only IO for the
//! protocol itself: one socket receives (bound to the interface, member of 224.0.0.18), one sends
//! from the router's primary address with TTL 255, multicast loopback off. Decisions stay in
//! [`super::instance`]: a received packet becomes an [`super::instance::Input::Packet`] as is.
//!
//! Two sockets because a raw socket bound to an address receives only what is sent to that
//! address, and the sender must be bound to it so the source (and so the checksum's
//! pseudo-header) is the one the instance computed with.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::wire::{GROUP_V4, PROTOCOL, TTL};

/// One received IPv4 packet of protocol 112: the header fields the instance checks, and the
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
        send.bind_device(Some(interface.as_bytes()))?;
        send.bind(&SockAddr::from(SocketAddrV4::new(primary, 0)))?;
        send.set_multicast_if_v4(&primary)?;
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
