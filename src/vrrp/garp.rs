//! Gratuitous ARP (RFC 5227 §3 "ARP Announcement"): how a new master tells the hosts and switches
//! on the link that the virtual IPv4 addresses are now at its MAC. Sent on an AF_PACKET socket
//! (the kernel adds the Ethernet header from the interface and the address given).
//!
//! No crate offers a safe AF_PACKET destination address, so building the `sockaddr_ll` is the one
//! unsafe step, in [`broadcast_on`].
#![allow(
    unsafe_code,
    reason = "socket2 offers no safe constructor for a sockaddr_ll (AF_PACKET) address"
)]

use std::io;
use std::net::Ipv4Addr;

use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type, socklen_t};

const ETH_P_ARP: u16 = 0x0806;
const BROADCAST: [u8; 6] = [0xff; 6];

/// The ARP announcement of `address` at `mac`: a request whose sender and target protocol
/// addresses are both `address` and whose target hardware address is zero (RFC 5227 §2.3).
pub fn announcement(mac: [u8; 6], address: Ipv4Addr) -> [u8; 28] {
    let mut arp = [0u8; 28];
    arp[0..2].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    arp[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    arp[4] = 6;
    arp[5] = 4;
    arp[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    arp[8..14].copy_from_slice(&mac);
    arp[14..18].copy_from_slice(&address.octets());
    // 18..24: target hardware address, zero.
    arp[24..28].copy_from_slice(&address.octets());
    arp
}

/// A socket that sends ARP packets to the broadcast address of interface `ifindex`.
pub struct ArpSender {
    socket: Socket,
    broadcast: SockAddr,
}

impl ArpSender {
    pub fn open(ifindex: u32) -> io::Result<ArpSender> {
        let socket = Socket::new(Domain::PACKET, Type::DGRAM, None)?;
        Ok(ArpSender {
            socket,
            broadcast: broadcast_on(ifindex)?,
        })
    }

    /// Sends one ARP packet (the kernel adds the Ethernet header).
    pub fn send(&self, arp: &[u8]) -> io::Result<()> {
        self.socket.send_to(arp, &self.broadcast).map(drop)
    }
}

/// The AF_PACKET address "Ethernet broadcast, ARP, on interface `ifindex`".
fn broadcast_on(ifindex: u32) -> io::Result<SockAddr> {
    let index = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_ll is one of this platform's sockaddr types, and it fits the storage
    // (view_as checks the size).
    let address = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_protocol = ETH_P_ARP.to_be();
    address.sll_ifindex = index;
    address.sll_halen = 6;
    address.sll_addr[..6].copy_from_slice(&BROADCAST);
    let length = std::mem::size_of::<libc::sockaddr_ll>() as socklen_t;
    // SAFETY: the storage holds an initialised sockaddr_ll, and `length` is its size.
    Ok(unsafe { SockAddr::new(storage, length) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_claims_the_address_for_the_mac() {
        let mac = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x02];
        let arp = announcement(mac, Ipv4Addr::new(198, 51, 100, 10));
        assert_eq!(
            arp,
            [
                0, 1, 8, 0, 6, 4, 0, 1, // Ethernet, IPv4, 6 and 4 octets, request
                0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 198, 51, 100, 10, // sender: us
                0, 0, 0, 0, 0, 0, 198, 51, 100, 10, // target: the same address
            ]
        );
    }
}
