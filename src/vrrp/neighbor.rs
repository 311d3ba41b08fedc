//! Unsolicited neighbour advertisements (RFC 4861 §4.4, §7.2.6): how a new IPv6 master tells the
//! hosts on the link that the virtual addresses are now at its MAC, as gratuitous ARP does for
//! IPv4. Sent on a raw ICMPv6 socket, which needs no AF_PACKET: the kernel adds the IPv6 header
//! and fills the ICMPv6 checksum (it always does for IPPROTO_ICMPV6 raw sockets).

use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// ff02::1, all nodes on the link: where an unsolicited advertisement goes (§7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Neighbor Discovery packets are sent and accepted with hop limit 255 only (§7.1.2).
const HOP_LIMIT: u32 = 255;
const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// The Override flag: the receivers replace the link-layer address they have cached.
const FLAG_OVERRIDE: u8 = 0x20;
const OPTION_TARGET_LINK_LAYER_ADDRESS: u8 = 2;

/// The unsolicited advertisement of `target` at `mac`: Override set, Solicited and Router clear,
/// with the Target Link-Layer Address option; the checksum is left zero for the kernel.
pub fn advertisement(mac: [u8; 6], target: Ipv6Addr) -> [u8; 32] {
    let mut na = [0u8; 32];
    na[0] = TYPE_NEIGHBOR_ADVERTISEMENT;
    // 1: code 0; 2..4: checksum, the kernel's.
    na[4] = FLAG_OVERRIDE;
    // 5..8: the rest of the flags word, reserved.
    na[8..24].copy_from_slice(&target.octets());
    na[24] = OPTION_TARGET_LINK_LAYER_ADDRESS;
    na[25] = 1; // the option's length in units of 8 octets
    na[26..32].copy_from_slice(&mac);
    na
}

/// A socket that sends neighbour advertisements to all nodes on one interface, from its
/// link-local address, with hop limit 255.
pub struct NaSender {
    socket: Socket,
    all_nodes: SockAddr,
}

impl NaSender {
    pub fn open(interface: &str, ifindex: u32, link_local: Ipv6Addr) -> io::Result<NaSender> {
        let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        socket.bind_device(Some(interface.as_bytes()))?;
        socket.bind(&SockAddr::from(SocketAddrV6::new(
            link_local, 0, 0, ifindex,
        )))?;
        socket.set_multicast_if_v6(ifindex)?;
        socket.set_multicast_hops_v6(HOP_LIMIT)?;
        socket.set_multicast_loop_v6(false)?;
        // Nothing is read from it, yet a raw ICMPv6 socket gets a copy of the ICMPv6 sent to its
        // address: the kernel's smallest buffer keeps what waits there small.
        socket.set_recv_buffer_size(0)?;
        Ok(NaSender {
            socket,
            all_nodes: SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, ifindex)),
        })
    }

    /// Sends one advertisement (the kernel adds the IPv6 header and the checksum).
    pub fn send(&self, advertisement: &[u8]) -> io::Result<()> {
        self.socket
            .send_to(advertisement, &self.all_nodes)
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsolicited_advertisement_overrides_the_target_at_the_mac() {
        let mac = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x02];
        let target: Ipv6Addr = "2001:db8::10".parse().unwrap();
        assert_eq!(
            advertisement(mac, target),
            [
                136, 0, 0, 0, // type 136, code 0, checksum (the kernel's)
                0x20, 0, 0, 0, // R 0, S 0, O 1, reserved
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, // target address
                0, 0, 0, 0, 0, 0, 0, 0x10, //
                2, 1, // Target Link-Layer Address option, 1 × 8 octets
                0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, // the MAC
            ]
        );
    }
}
