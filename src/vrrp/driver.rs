//! The tokio driver of one VRRP instance (IPv4 or IPv6): the thin shell around [`Instance`]. It feeds the
//! instance what arrives (adverts on the raw socket, health and stop commands, timer expiries
//! with the time read from [`clock`]) and performs what it returns: adverts on the socket,
//! addresses on the interface through netlink (IPv6 ones `nodad`), gratuitous ARPs or
//! unsolicited neighbour advertisements; with `use_vmac` the addresses, the adverts sent and the
//! announcements are on the instance's macvlan ([`super::vmac`]), made at the start and deleted
//! at the end. It decides nothing itself, and removes only the
//! addresses it added.
//!
//! What the daemon wants arrives on a watch channel ([`Command`]: the latest wins); the
//! instance's status goes out on another after every step, and each state change to a callback
//! (the daemon's hooks).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::garp::{ArpSender, announcement};
use super::instance::{Action, Health, Input, Instance, InstanceConfig, InstanceStatus, State};
use super::neighbor::{self, NaSender};
use super::socket::{AdvertSocketV4, AdvertSocketV6, AsyncAdvertSocketV4, Received};
use super::vmac::Vmac;
use crate::addrs::{self, AddrChange, InterfaceAddr, Netlink};
use crate::clock::{self, sleep_until};

/// What the rest of the daemon asks of a running instance (the latest value counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Take part as this health allows, at this configured priority (a reload may change it).
    Run { health: Health, priority: u8 },
    /// Hand over (priority 0) and stop once the addresses are gone.
    Stop,
    /// Stop at once: remove what was added without waiting for a new master.
    StopNow,
}

/// Where the driver reports: its status after every step, and each state change.
pub struct Reports<'a> {
    pub status: &'a mut (dyn FnMut(&InstanceStatus) + Send),
    pub transition: &'a mut (dyn FnMut(State, State) + Send),
}

/// Why a driver could not run.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    Config(#[from] super::instance::ConfigError),
    #[error("VRRP on {interface}: {error}")]
    Io { interface: String, error: io::Error },
}

impl DriverError {
    /// The interface (or its address, or the macvlan) is missing or went away: a link that
    /// appears may be it coming back.
    pub fn is_missing_link(&self) -> bool {
        matches!(self, DriverError::Io { error, .. } if error.kind() == io::ErrorKind::NotFound)
    }
}

/// Runs the instance `config` describes on `interface` (`virtual_addresses` are its addresses
/// with the prefix length they get there) until [`Command::Stop`] (or the sender's drop) and the
/// handover are done, or [`Command::StopNow`]. An unspecified `primary_address` (0.0.0.0) is the
/// interface's first IPv4 address that is not a virtual one; an IPv6 instance sends from
/// `link_local` or else the interface's first link-local address. Returns the last status.
pub async fn run(
    config: InstanceConfig,
    interface: &str,
    virtual_addresses: &[IpNet],
    commands: &mut watch::Receiver<Command>,
    reports: Reports<'_>,
) -> Result<InstanceStatus, DriverError> {
    let mut links = addrs::watch_links().map_err(|error| DriverError::Io {
        interface: interface.to_string(),
        error,
    })?;
    run_on(
        config,
        interface,
        false,
        virtual_addresses,
        &mut links,
        commands,
        reports,
    )
    .await
}

/// [`run`]; with `use_vmac`, on the instance's macvlan ([`Vmac`]): made at the start, holding
/// the virtual addresses and sending adverts and announcements (adverts are still received on
/// `interface`), deleted at the end. `links`: the caller's [`addrs::watch_links`], subscribed
/// before this call so that no removal goes unseen.
pub async fn run_on(
    mut config: InstanceConfig,
    interface: &str,
    use_vmac: bool,
    virtual_addresses: &[IpNet],
    links: &mut mpsc::Receiver<()>,
    commands: &mut watch::Receiver<Command>,
    reports: Reports<'_>,
) -> Result<InstanceStatus, DriverError> {
    let io_error = |error: io::Error| DriverError::Io {
        interface: interface.to_string(),
        error,
    };
    let netlink = Netlink::new().map_err(io_error)?;
    let found = netlink.addresses().await.map_err(io_error)?;
    let missing = |what: &str| io_error(io::Error::new(io::ErrorKind::NotFound, what.to_string()));
    let (ifindex, first) = find_interface(&found, interface, virtual_addresses)
        .ok_or_else(|| missing("no such interface with an address"))?;
    let ipv6 = config.addresses.is_ipv6();
    let primary = match (ipv6, config.primary_address, first) {
        (false, IpAddr::V4(configured), _) if !configured.is_unspecified() => configured.into(),
        (false, _, Some(first)) => first.into(),
        (false, _, None) => return Err(missing("no IPv4 address of its own to send adverts from")),
        (true, _, _) => match config
            .link_local
            .or_else(|| first_link_local(&found, ifindex))
        {
            Some(link_local) => IpAddr::V6(link_local),
            None => return Err(missing("no IPv6 link-local address to send adverts from")),
        },
    };
    config.primary_address = primary;
    let vrid = config.vrid;
    let mut instance = Instance::new(config)?;
    let vmac = match use_vmac {
        false => None,
        true => {
            let link_local = match primary {
                IpAddr::V6(link_local) => Some(link_local),
                IpAddr::V4(_) => None,
            };
            let vmac = Vmac::set_up(&netlink, interface, ifindex, vrid, link_local);
            Some(vmac.await.map_err(io_error)?)
        }
    };
    // The virtual addresses and their announcements live on the macvlan with use_vmac.
    let addresses_ifindex = vmac.as_ref().map_or(ifindex, |vmac| vmac.ifindex);
    // A virtual address elastic added in an earlier run (a crash, a SIGKILL) is not this run's
    // to keep: the instance starts without its addresses, and another host may be master now.
    for net in left_behind(&found, addresses_ifindex, virtual_addresses) {
        info!(interface, %net, "VRRP: removing a virtual address an earlier run left behind");
        let remove = AddrChange::Remove {
            ifindex: addresses_ifindex,
            net,
        };
        if let Err(error) = netlink.apply(&remove).await {
            warn!(interface, %net, %error, "VRRP: cannot remove");
        }
    }
    let opened = open_sockets(&netlink, interface, ifindex, primary, vmac.as_ref()).await;
    let (socket, arp) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            if let Some(vmac) = vmac {
                vmac.tear_down(&netlink).await;
            }
            return Err(io_error(error));
        }
    };
    let mut shell = Shell {
        interface,
        interface_ifindex: ifindex,
        macvlan: vmac.as_ref().map(|vmac| (vmac.ifindex, vmac.name.clone())),
        ifindex: addresses_ifindex,
        virtual_addresses,
        netlink,
        added: Vec::new(),
        arp,
        send_failing: false,
    };

    let Reports { status, transition } = reports;
    let mut stopping = false;
    let mut failed = None;
    let first = *commands.borrow_and_update();
    match first {
        Command::Run { health, priority } => {
            let mut actions = instance.handle(clock::now(), Input::Priority(priority));
            actions.extend(instance.handle(clock::now(), Input::Health(health)));
            actions.extend(instance.handle(clock::now(), Input::Start));
            shell.perform(&socket, actions, transition).await;
        }
        // Stopped before it started: nothing to hand over.
        Command::Stop | Command::StopNow => {
            if let Some(vmac) = vmac {
                vmac.tear_down(&shell.netlink).await;
            }
            return Ok(instance.status().clone());
        }
    }
    status(instance.status());
    let mut commands_open = true;
    let mut links_open = true;
    while !instance.is_finished() && failed.is_none() {
        let deadline = instance.poll_timeout();
        let actions = tokio::select! {
            biased;
            changed = commands.changed(), if commands_open => {
                let command = match changed {
                    Ok(()) => *commands.borrow_and_update(),
                    Err(_) => {
                        commands_open = false;
                        Command::Stop
                    }
                };
                match command {
                    Command::StopNow => break,
                    Command::Stop if stopping => Vec::new(),
                    Command::Stop => {
                        stopping = true;
                        instance.handle(clock::now(), Input::Shutdown)
                    }
                    // Health no longer matters once the handover runs.
                    Command::Run { .. } if stopping => Vec::new(),
                    Command::Run { health, priority } => {
                        let mut actions = instance.handle(clock::now(), Input::Priority(priority));
                        actions.extend(instance.handle(clock::now(), Input::Health(health)));
                        actions
                    }
                }
            }
            () = sleep_until(deadline) => instance.handle_timeout(clock::now()),
            notice = links.recv(), if links_open => match notice {
                Some(()) if shell.interface_is_gone().await => {
                    failed = Some(io::Error::new(
                        io::ErrorKind::NotFound,
                        "the interface was removed (or renamed)",
                    ));
                    instance.handle(clock::now(), Input::InterfaceLost)
                }
                Some(()) => Vec::new(),
                None => {
                    links_open = false;
                    warn!(interface, "VRRP: the link watch failed: a removed interface goes unnoticed");
                    Vec::new()
                }
            },
            received = socket.receive() => match received {
                Ok(Some(packet)) => instance.handle(
                    clock::now(),
                    Input::Packet {
                        source: packet.source,
                        destination: packet.destination,
                        ttl: packet.ttl,
                        bytes: &packet.bytes,
                    },
                ),
                Ok(None) => Vec::new(),
                Err(error) => {
                    failed = Some(error);
                    Vec::new()
                }
            },
        };
        shell.perform(&socket, actions, transition).await;
        status(instance.status());
    }
    // Whatever path led here, nothing this run added stays behind.
    shell.remove_added().await;
    if let Some(vmac) = vmac {
        vmac.tear_down(&shell.netlink).await;
    }
    let mut last = instance.status().clone();
    last.holding_addresses = false;
    status(&last);
    match failed {
        Some(error) => Err(io_error(error)),
        None => Ok(last),
    }
}

/// The advert sockets (receiving on `interface`, sending from the macvlan with `vmac`) and how
/// a new master announces itself, at which MAC.
async fn open_sockets(
    netlink: &Netlink,
    interface: &str,
    ifindex: u32,
    primary: IpAddr,
    vmac: Option<&Vmac>,
) -> io::Result<(Adverts, Option<(Announcer, [u8; 6])>)> {
    let (send_from, send_ifindex) = vmac.map_or((interface, ifindex), |v| (&v.name, v.ifindex));
    let socket = match primary {
        IpAddr::V4(primary) => AdvertSocketV4::open_sending_from(interface, primary, send_from)
            .and_then(AdvertSocketV4::into_async)
            .map(Adverts::V4),
        IpAddr::V6(link_local) => AdvertSocketV6::open_sending_from(
            interface,
            ifindex,
            (send_from, send_ifindex),
            link_local,
        )
        .map(Adverts::V6),
    }?;
    let mac = match vmac {
        Some(vmac) => Some(vmac.mac.to_vec()),
        None => netlink.link_address(ifindex).await?,
    };
    let arp = match (mac.as_deref().map(<[u8; 6]>::try_from), primary) {
        (Some(Ok(mac)), IpAddr::V4(_)) => {
            Some((Announcer::Arp(ArpSender::open(send_ifindex)?), mac))
        }
        (Some(Ok(mac)), IpAddr::V6(link_local)) => Some((
            Announcer::Na(NaSender::open(send_from, send_ifindex, link_local)?),
            mac,
        )),
        _ => {
            warn!(
                interface,
                "VRRP: the interface has no Ethernet address: no gratuitous ARP or neighbour advertisement"
            );
            None
        }
    };
    Ok((socket, arp))
}

/// The index of `interface` and its first IPv4 address that is not one of `virtual_addresses`
/// (what a restarted driver may find still there); `None` if no address names the interface.
pub fn find_interface(
    found: &[InterfaceAddr],
    interface: &str,
    virtual_addresses: &[IpNet],
) -> Option<(u32, Option<Ipv4Addr>)> {
    let mine: Vec<&InterfaceAddr> = found.iter().filter(|a| &*a.ifname == interface).collect();
    let ifindex = mine.first()?.ifindex;
    let primary = mine.iter().find_map(|a| match a.addr {
        IpAddr::V4(v4) if !virtual_addresses.iter().any(|v| v.addr() == a.addr) => Some(v4),
        _ => None,
    });
    Some((ifindex, primary))
}

/// The virtual addresses on interface `ifindex` that carry elastic's mark: added by an earlier
/// run (addresses without the mark are someone else's and never touched).
pub fn left_behind(
    found: &[InterfaceAddr],
    ifindex: u32,
    virtual_addresses: &[IpNet],
) -> Vec<IpNet> {
    virtual_addresses
        .iter()
        .filter(|net| {
            found
                .iter()
                .any(|a| a.ifindex == ifindex && a.marked && a.addr == net.addr())
        })
        .copied()
        .collect()
}

/// The first link-local IPv6 address on interface `ifindex`.
pub fn first_link_local(found: &[InterfaceAddr], ifindex: u32) -> Option<Ipv6Addr> {
    found.iter().find_map(|a| match a.addr {
        IpAddr::V6(v6) if a.ifindex == ifindex && v6.is_unicast_link_local() => Some(v6),
        _ => None,
    })
}

/// The advert sockets of the instance's family.
enum Adverts {
    V4(AsyncAdvertSocketV4),
    V6(AdvertSocketV6),
}

impl Adverts {
    fn send(&self, to: IpAddr, advert: &[u8]) -> io::Result<()> {
        match (self, to) {
            (Adverts::V4(socket), IpAddr::V4(to)) => socket.send(to, advert),
            (Adverts::V6(socket), IpAddr::V6(to)) => socket.send(to, advert),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not of the instance's address family",
            )),
        }
    }

    async fn receive(&self) -> io::Result<Option<Received>> {
        match self {
            Adverts::V4(socket) => socket.receive().await,
            Adverts::V6(socket) => socket.receive().await,
        }
    }
}

/// How a new master announces its addresses: gratuitous ARP (IPv4) or unsolicited neighbour
/// advertisements (IPv6).
enum Announcer {
    Arp(ArpSender),
    Na(NaSender),
}

impl Announcer {
    fn announce(&self, mac: [u8; 6], address: IpAddr) -> io::Result<()> {
        match (self, address) {
            (Announcer::Arp(sender), IpAddr::V4(address)) => {
                sender.send(&announcement(mac, address))
            }
            (Announcer::Na(sender), IpAddr::V6(address)) => {
                sender.send(&neighbor::advertisement(mac, address))
            }
            _ => Ok(()),
        }
    }
}

/// The effects: sockets and netlink.
struct Shell<'a> {
    interface: &'a str,
    /// The interface's index.
    interface_ifindex: u32,
    /// With use_vmac, the macvlan's index and name: a link that must stay too.
    macvlan: Option<(u32, String)>,
    /// Where the virtual addresses go: the interface, or the macvlan.
    ifindex: u32,
    virtual_addresses: &'a [IpNet],
    netlink: Netlink,
    /// The additions the kernel made for us (not those already present): what we remove.
    added: Vec<AddrChange>,
    /// How the addresses are announced, and the MAC they are announced at.
    arp: Option<(Announcer, [u8; 6])>,
    /// The last advert could not be sent.
    send_failing: bool,
}

impl Shell<'_> {
    async fn perform(
        &mut self,
        socket: &Adverts,
        actions: Vec<Action>,
        transition: &mut (dyn FnMut(State, State) + Send),
    ) {
        let interface = self.interface;
        for action in actions {
            match action {
                Action::Send { to, bytes } => {
                    // Logged when sending starts failing and when it works again, not per advert
                    // (a link that is down would log ten lines a second at 100 ms).
                    match socket.send(to, &bytes) {
                        Err(error) if !self.send_failing => {
                            self.send_failing = true;
                            warn!(interface, %to, %error, "VRRP: cannot send adverts (logged once until it works again)");
                        }
                        Ok(()) if self.send_failing => {
                            self.send_failing = false;
                            info!(interface, %to, "VRRP: adverts are sent again");
                        }
                        _ => {}
                    }
                }
                Action::AddAddresses => {
                    for net in self.virtual_addresses {
                        let change = AddrChange::Add {
                            ifindex: self.ifindex,
                            net: *net,
                        };
                        let added = if net.addr().is_ipv6() {
                            self.netlink.add_without_dad(self.ifindex, *net).await
                        } else {
                            self.netlink.apply_checked(&change).await
                        };
                        match added {
                            Ok(true) => self.added.push(change),
                            Ok(false) => {}
                            Err(error) => warn!(interface, %net, %error, "VRRP: cannot add"),
                        }
                    }
                }
                Action::RemoveAddresses => self.remove_added().await,
                Action::Announce { count } => {
                    let Some((sender, mac)) = &self.arp else {
                        continue;
                    };
                    for _ in 0..count {
                        for net in self.virtual_addresses {
                            let address = net.addr();
                            if let Err(error) = sender.announce(*mac, address) {
                                warn!(interface, %address, %error, "VRRP: cannot announce the address");
                            }
                        }
                    }
                }
                Action::StateChanged { from, to } => {
                    info!(interface, ?from, ?to, "VRRP state changed");
                    transition(from, to);
                }
            }
        }
    }

    async fn remove_added(&mut self) {
        for change in std::mem::take(&mut self.added) {
            let AddrChange::Add { ifindex, net } = change else {
                continue;
            };
            let remove = AddrChange::Remove { ifindex, net };
            if let Err(error) = self.netlink.apply(&remove).await {
                warn!(interface = self.interface, %net, %error, "VRRP: cannot remove");
            }
        }
    }

    /// Whether the instance's interface index no longer names its interface (removed, or
    /// renamed), or with use_vmac its macvlan's no longer names the macvlan. An error reading
    /// one is not taken as gone.
    async fn interface_is_gone(&self) -> bool {
        let macvlan = self
            .macvlan
            .as_ref()
            .map(|(index, name)| (*index, name.as_str()));
        for (ifindex, expected) in
            std::iter::once((self.interface_ifindex, self.interface)).chain(macvlan)
        {
            match self.netlink.link_name(ifindex).await {
                Ok(name) if name.as_deref() != Some(expected) => return true,
                _ => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn an_ipv6_instance_sends_from_the_interfaces_first_link_local_address() {
        let found = [
            at("eth1", 3, "fe80::3"),
            at("eth0", 2, "2001:db8::2"),
            at("eth0", 2, "fe80::2"),
            at("eth0", 2, "fe80::22"),
        ];
        assert_eq!(
            first_link_local(&found, 2),
            Some("fe80::2".parse().unwrap())
        );
        assert_eq!(first_link_local(&found[1..2], 2), None);
    }

    fn at(ifname: &str, ifindex: u32, addr: &str) -> InterfaceAddr {
        InterfaceAddr {
            ifname: Arc::from(ifname),
            ifindex,
            addr: addr.parse().unwrap(),
            prefix_len: 24,
            marked: false,
        }
    }

    #[test]
    fn only_marked_virtual_addresses_on_the_interface_are_left_behind() {
        let marked = |ifname: &str, ifindex: u32, addr: &str| InterfaceAddr {
            marked: true,
            ..at(ifname, ifindex, addr)
        };
        let virtual_addresses: Vec<IpNet> = ["198.51.100.10/24", "198.51.100.11/24"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let found = [
            marked("eth0", 2, "198.51.100.10"),
            // Not marked: someone else's.
            at("eth0", 2, "198.51.100.11"),
            // Marked, but not a virtual address of this instance, or on another interface.
            marked("eth0", 2, "192.0.2.2"),
            marked("eth1", 3, "198.51.100.11"),
        ];
        assert_eq!(
            left_behind(&found, 2, &virtual_addresses),
            [virtual_addresses[0]]
        );
    }

    #[test]
    fn the_primary_address_is_the_interfaces_first_ipv4_that_is_not_virtual() {
        let found = [
            at("lo", 1, "127.0.0.1"),
            at("eth0", 2, "fe80::1"),
            at("eth0", 2, "198.51.100.10"),
            at("eth0", 2, "192.0.2.2"),
            at("eth0", 2, "192.0.2.3"),
        ];
        let virtual_addresses = ["198.51.100.10/24".parse().unwrap()];
        assert_eq!(
            find_interface(&found, "eth0", &virtual_addresses),
            Some((2, Some(Ipv4Addr::new(192, 0, 2, 2))))
        );
        assert_eq!(find_interface(&found, "eth1", &virtual_addresses), None);
        let only_virtual = [at("eth0", 2, "198.51.100.10")];
        assert_eq!(
            find_interface(&only_virtual, "eth0", &virtual_addresses),
            Some((2, None))
        );
    }
}
