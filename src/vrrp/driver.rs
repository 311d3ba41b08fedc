//! The tokio driver of one IPv4 VRRP instance: the thin shell around [`Instance`]. It feeds the
//! instance what arrives (adverts on the raw socket, health and stop commands, timer expiries
//! with the time read from [`clock`]) and performs what it returns: adverts on the socket,
//! addresses on the interface through netlink. It decides nothing itself, and removes only the
//! addresses it added.
//!
//! Not yet: IPv6 (and its unsolicited neighbour advertisements), and the daemon's wiring
//! (health, status, hooks).

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::garp::{ArpSender, announcement};
use super::instance::{Action, Health, Input, Instance, InstanceConfig, InstanceStatus};
use super::socket::{AdvertSocketV4, AsyncAdvertSocketV4};
use crate::addrs::{AddrChange, Netlink};
use crate::clock;

/// What the rest of the daemon asks of a running instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Health(Health),
    /// Hand over (priority 0) and stop once the addresses are gone.
    Stop,
}

/// Why a driver could not run.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    Config(#[from] super::instance::ConfigError),
    #[error("VRRP on {interface}: {error}")]
    Io { interface: String, error: io::Error },
    #[error("VRRP on {0}: only IPv4 instances run yet")]
    Ipv6(String),
}

/// Runs the instance `config` describes on `interface` (with prefix length `prefix_len` for the
/// virtual addresses) until [`Command::Stop`] (or the sender's drop) and the handover are done.
/// Returns the last status.
pub async fn run(
    config: InstanceConfig,
    interface: &str,
    virtual_addresses: &[IpNet],
    mut commands: mpsc::Receiver<Command>,
) -> Result<InstanceStatus, DriverError> {
    let io_error = |error: io::Error| DriverError::Io {
        interface: interface.to_string(),
        error,
    };
    let IpAddr::V4(primary) = config.primary_address else {
        return Err(DriverError::Ipv6(interface.to_string()));
    };
    let mut instance = Instance::new(config)?;
    let netlink = Netlink::new().map_err(io_error)?;
    let ifindex = netlink
        .addresses()
        .await
        .map_err(io_error)?
        .into_iter()
        .find(|a| &*a.ifname == interface)
        .map(|a| a.ifindex)
        .ok_or_else(|| {
            io_error(io::Error::new(
                io::ErrorKind::NotFound,
                "no such interface with an address",
            ))
        })?;
    let socket = AdvertSocketV4::open(interface, primary)
        .and_then(AdvertSocketV4::into_async)
        .map_err(io_error)?;
    let mac = netlink.link_address(ifindex).await.map_err(io_error)?;
    let arp = match mac.as_deref().map(<[u8; 6]>::try_from) {
        Some(Ok(mac)) => Some((ArpSender::open(ifindex).map_err(io_error)?, mac)),
        _ => {
            warn!(
                interface,
                "VRRP: the interface has no Ethernet address: no gratuitous ARP"
            );
            None
        }
    };
    let mut shell = Shell {
        interface,
        ifindex,
        virtual_addresses,
        netlink,
        added: Vec::new(),
        arp,
    };

    let actions = instance.handle(clock::now(), Input::Start);
    shell.perform(&socket, actions).await;
    let mut stopping = false;
    let mut failed = None;
    while !instance.is_finished() && failed.is_none() {
        let deadline = instance.poll_timeout();
        let actions = tokio::select! {
            biased;
            command = commands.recv(), if !stopping => {
                let input = match command {
                    Some(Command::Health(health)) => Input::Health(health),
                    Some(Command::Stop) | None => {
                        stopping = true;
                        Input::Shutdown
                    }
                };
                instance.handle(clock::now(), input)
            }
            () = sleep_until(deadline) => instance.handle_timeout(clock::now()),
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
        shell.perform(&socket, actions).await;
    }
    // Whatever path led here, nothing this run added stays behind.
    shell.remove_added().await;
    match failed {
        Some(error) => Err(io_error(error)),
        None => Ok(instance.status().clone()),
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The effects: sockets and netlink.
struct Shell<'a> {
    interface: &'a str,
    ifindex: u32,
    virtual_addresses: &'a [IpNet],
    netlink: Netlink,
    /// The additions the kernel made for us (not those already present): what we remove.
    added: Vec<AddrChange>,
    /// Where gratuitous ARPs go, and the MAC they announce.
    arp: Option<(ArpSender, [u8; 6])>,
}

impl Shell<'_> {
    async fn perform(&mut self, socket: &AsyncAdvertSocketV4, actions: Vec<Action>) {
        let interface = self.interface;
        for action in actions {
            match action {
                Action::Send {
                    to: IpAddr::V4(to),
                    bytes,
                } => {
                    if let Err(error) = socket.send(to, &bytes) {
                        warn!(interface, %to, %error, "VRRP: cannot send an advert");
                    }
                }
                Action::Send { to, .. } => warn!(interface, %to, "VRRP: not an IPv4 destination"),
                Action::AddAddresses => {
                    for net in self.virtual_addresses {
                        let change = AddrChange::Add {
                            ifindex: self.ifindex,
                            net: *net,
                        };
                        match self.netlink.apply_checked(&change).await {
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
                            let IpAddr::V4(address) = net.addr() else {
                                continue;
                            };
                            if let Err(error) = sender.send(&announcement(*mac, address)) {
                                warn!(interface, %address, %error, "VRRP: cannot send gratuitous ARP");
                            }
                        }
                    }
                }
                Action::StateChanged { from, to } => {
                    info!(interface, ?from, ?to, "VRRP state changed");
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
}
