//! Which addresses to announce, and binding them to `lo`.
//!
//! The top half is pure: lelastic's address rules ([`eligible_prefixes`]), the default router id,
//! and plans of address changes ([`plan_bind`], [`plan_unbind`]). The bottom half ([`Netlink`],
//! [`watch_addresses`]) is the only code in elastic that talks rtnetlink; it decides nothing.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use futures_util::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_core::{
    DefaultNla, Emitable, NLA_F_NESTED, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressHeaderFlags, AddressMessage, AddressProtocol,
};
use rtnetlink::packet_route::link::{
    AfSpecInet, AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoMacVlan, LinkAttribute,
    LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::sys::protocols::NETLINK_ROUTE;
use rtnetlink::sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket};
use rtnetlink::{AddressMessageBuilder, LinkMacVlan, LinkUnspec, MulticastGroup};
use tokio::sync::mpsc;

/// The loopback interface, where elastic IPs live.
pub const LOOPBACK: &str = "lo";

/// lelastic's router id, the same on every host; ours is only the last resort.
pub const FALLBACK_ROUTER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// One address as the kernel lists it. The interface name is shared by its addresses (a listing
/// can hold 100,000 on lo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddr {
    pub ifname: Arc<str>,
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// Carries elastic's mark ([`ADDRESS_PROTOCOL`]): added by elastic, in this run or an earlier one.
    pub marked: bool,
}

/// The address protocol (IFA_PROTO, Linux 5.18+) elastic marks every address it adds with, so a
/// later run knows them as its own even after a crash or SIGKILL. 0 to 3 are the kernel's own;
/// `ip address show` prints this one as "proto 234".
pub const ADDRESS_PROTOCOL: u8 = 234;

/// lelastic's rules (lelastic-observed.md §9): addresses on `lo` only, unless `allifs`; loopback,
/// link-local, multicast and unspecified addresses skipped silently; IPv4 only as /32 (any other
/// length skipped with a warning); IPv6 /64 and /56 kept as they are, any other length set to /64
/// (/56 with `send56`) with a warning. Each prefix is masked to its network address; duplicates are
/// collapsed and the result is sorted (IPv4 first). Returns the prefixes and the warnings to log.
pub fn eligible_prefixes(
    addrs: &[InterfaceAddr],
    allifs: bool,
    send56: bool,
) -> (Vec<IpNet>, Vec<String>) {
    let mut prefixes = BTreeSet::new();
    let mut warnings = Vec::new();
    for found in addrs {
        if !allifs && *found.ifname != *LOOPBACK {
            continue;
        }
        if !is_global(found.addr) {
            continue;
        }
        let shown = || format!("{}/{} on {}", found.addr, found.prefix_len, found.ifname);
        let prefix_len = match found.addr {
            IpAddr::V4(_) if found.prefix_len == 32 => 32,
            IpAddr::V4(_) => {
                warnings.push(format!(
                    "skipping {}: not accepted prefix length (IPv4 must be /32)",
                    shown()
                ));
                continue;
            }
            IpAddr::V6(_) if matches!(found.prefix_len, 56 | 64) => found.prefix_len,
            IpAddr::V6(_) => {
                let fixed = if send56 { 56 } else { 64 };
                warnings.push(format!("fixing prefix length of {} to /{fixed}", shown()));
                fixed
            }
        };
        // Lengths are 32, 56 or 64 here, all valid for their family.
        if let Ok(net) = IpNet::new(found.addr, prefix_len) {
            prefixes.insert(net.trunc());
        }
    }
    (prefixes.into_iter().collect(), warnings)
}

/// An address that could identify this host or be announced: not loopback, link-local, multicast,
/// unspecified or the IPv4 broadcast address. Private ranges count (the kernel's "scope global").
fn is_global(addr: IpAddr) -> bool {
    never_announced(addr).is_none()
}

/// Why discovery skips this address, if it does: the one rule, also applied to `-address` and
/// `addresses:` so that an address elastic binds is one it announces.
pub fn never_announced(addr: IpAddr) -> Option<&'static str> {
    match addr {
        _ if addr.is_loopback() => Some("loopback"),
        _ if addr.is_unspecified() => Some("unspecified"),
        _ if addr.is_multicast() => Some("multicast"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("link-local"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("broadcast"),
        IpAddr::V6(v6) if v6.is_unicast_link_local() => Some("link-local"),
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses: their /64 (or
        // /56) is ::/64, a prefix no host may announce.
        IpAddr::V6(v6) if v6.segments()[..4] == [0; 4] => {
            Some("IPv4-mapped or -compatible (::/64)")
        }
        _ => None,
    }
}

/// Why `addr` cannot be a BGP neighbor, if it cannot: a session goes to one unicast host.
pub fn never_a_neighbor(addr: IpAddr) -> Option<&'static str> {
    match addr {
        _ if addr.is_loopback() => Some("a loopback address"),
        _ if addr.is_unspecified() => Some("the unspecified address"),
        _ if addr.is_multicast() => Some("a multicast address"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address"),
        // 0.0.0.0/8 is "this network" (RFC 1122): never a destination.
        IpAddr::V4(v4) if v4.octets()[0] == 0 => Some("in 0.0.0.0/8 (\"this network\")"),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => Some("an IPv4-mapped address"),
        _ => None,
    }
}

/// The router id when none is configured, so that each host gets its own (lelastic uses 10.0.0.1
/// everywhere). Only addresses on interfaces other than `lo` are considered, because the elastic
/// IPs on `lo` are shared between hosts by design. In order:
/// 1. the first global IPv4 address (private ranges included);
/// 2. else the low 32 bits of the first global IPv6 address whose low 32 bits are not zero;
/// 3. else 10.0.0.1, lelastic's fixed id.
///
/// "First" means lowest interface index, then lowest address, so the choice is stable across
/// restarts and listing orders. The result is never 0.0.0.0.
pub fn default_router_id(addrs: &[InterfaceAddr]) -> Ipv4Addr {
    let mut candidates: Vec<(u32, IpAddr)> = addrs
        .iter()
        .filter(|found| *found.ifname != *LOOPBACK && is_global(found.addr))
        .map(|found| (found.ifindex, found.addr))
        .collect();
    candidates.sort();
    let first_v4 = candidates.iter().find_map(|(_, addr)| match addr {
        IpAddr::V4(v4) => Some(*v4),
        IpAddr::V6(_) => None,
    });
    let first_v6 = || {
        candidates.iter().find_map(|(_, addr)| match addr {
            IpAddr::V6(v6) => Some(low_32_bits(*v6)).filter(|id| !id.is_unspecified()),
            IpAddr::V4(_) => None,
        })
    };
    first_v4.or_else(first_v6).unwrap_or(FALLBACK_ROUTER_ID)
}

fn low_32_bits(v6: Ipv6Addr) -> Ipv4Addr {
    let octets = v6.octets();
    Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])
}

/// One change to the kernel's addresses: the plan's unit and what [`Netlink::apply`] performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrChange {
    Add { ifindex: u32, net: IpNet },
    Remove { ifindex: u32, net: IpNet },
}

/// An address on one interface, as the plans compare them: hashed, so planning against 100,000
/// listed addresses stays linear.
type AddrKey = (u32, IpAddr, u8);

fn present(existing: &[InterfaceAddr]) -> HashSet<AddrKey> {
    existing
        .iter()
        .map(|found| (found.ifindex, found.addr, found.prefix_len))
        .collect()
}

fn key(ifindex: u32, net: &IpNet) -> AddrKey {
    (ifindex, net.addr(), net.prefix_len())
}

/// Which of `wanted` must be added to `lo`: those not already there with that exact address and
/// length, in the order given, each once. (The kernel refuses a second IPv6 address that differs
/// only in length; [`Netlink::apply_checked`] reports that as "nothing changed".)
pub fn plan_bind(existing: &[InterfaceAddr], lo_ifindex: u32, wanted: &[IpNet]) -> Vec<AddrChange> {
    let mut skip = present(existing);
    let mut plan = Vec::new();
    for net in wanted {
        // Inserting also skips a second copy of the same wanted prefix.
        if skip.insert(key(lo_ifindex, net)) {
            plan.push(AddrChange::Add {
                ifindex: lo_ifindex,
                net: *net,
            });
        }
    }
    plan
}

/// What to remove on stop: only the additions elastic itself made (`added`; other entries are
/// ignored), and only those still present, so an address someone else added is never touched.
pub fn plan_unbind(existing: &[InterfaceAddr], added: &[AddrChange]) -> Vec<AddrChange> {
    // Removing from the set also skips a second copy of the same addition.
    let mut still_there = present(existing);
    let mut plan = Vec::new();
    for change in added {
        if let AddrChange::Add { ifindex, net } = change
            && still_there.remove(&key(*ifindex, net))
        {
            plan.push(AddrChange::Remove {
                ifindex: *ifindex,
                net: *net,
            });
        }
    }
    plan
}

/// Whether a kernel of this release (`/proc/sys/kernel/osrelease`, e.g. "6.1.0-18-amd64") keeps
/// address marks: IFA_PROTO came in Linux 5.18. An older kernel silently drops the mark, so the
/// daemon then records what it bound in a state file instead.
pub fn kernel_keeps_address_marks(release: &str) -> bool {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (5, 18),
        _ => false,
    }
}

/// What to do at start with the addresses an earlier run bound and never unbound (it crashed or
/// was killed): those still in the configuration are adopted (unbound again on stop), the others
/// removed before anything is announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reclaim {
    /// Owned and still wanted: what this run has bound, as if it had added them.
    pub adopt: Vec<AddrChange>,
    /// Owned and no longer wanted: remove them.
    pub remove: Vec<AddrChange>,
}

/// Addresses on `lo` that an earlier run bound: those carrying elastic's mark and those `recorded`
/// in the state file (a kernel without marks), split by whether `wanted` still holds them.
pub fn plan_reclaim(
    existing: &[InterfaceAddr],
    recorded: &[IpNet],
    lo_ifindex: u32,
    wanted: &[IpNet],
) -> Reclaim {
    let recorded: HashSet<AddrKey> = recorded.iter().map(|net| key(lo_ifindex, net)).collect();
    let wanted: HashSet<AddrKey> = wanted.iter().map(|net| key(lo_ifindex, net)).collect();
    let mut seen = HashSet::new();
    let mut reclaim = Reclaim::default();
    for found in existing.iter().filter(|found| found.ifindex == lo_ifindex) {
        let found_key = (found.ifindex, found.addr, found.prefix_len);
        if !(found.marked || recorded.contains(&found_key)) || !seen.insert(found_key) {
            continue;
        }
        // The kernel lists only valid lengths for the family.
        let Ok(net) = IpNet::new(found.addr, found.prefix_len) else {
            continue;
        };
        if wanted.contains(&found_key) {
            reclaim.adopt.push(AddrChange::Add {
                ifindex: lo_ifindex,
                net,
            });
        } else {
            reclaim.remove.push(AddrChange::Remove {
                ifindex: lo_ifindex,
                net,
            });
        }
    }
    reclaim
}

/// The state file's text: the addresses elastic bound to `lo`, one per line.
pub fn render_bound(bound: &[AddrChange]) -> String {
    bound
        .iter()
        .filter_map(|change| match change {
            AddrChange::Add { net, .. } => Some(format!("{net}\n")),
            AddrChange::Remove { .. } => None,
        })
        .collect()
}

/// The state file's addresses; lines that are not an address with its length are skipped.
pub fn parse_bound(text: &str) -> Vec<IpNet> {
    text.lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// A request connection to the kernel's routing netlink. The connection task lives as long as this.
pub struct Netlink {
    handle: rtnetlink::Handle,
    connection: tokio::task::JoinHandle<()>,
}

impl Netlink {
    /// Opens the socket and spawns its connection task on the current tokio runtime.
    pub fn new() -> io::Result<Netlink> {
        let runtime = current_runtime()?;
        let (connection, handle, _unsolicited) = rtnetlink::new_connection()?;
        let connection = runtime.spawn(connection);
        Ok(Netlink { handle, connection })
    }

    /// Every address on every interface, with interface names.
    pub async fn addresses(&self) -> io::Result<Vec<InterfaceAddr>> {
        let mut names = BTreeMap::new();
        let mut links = self.handle.link().get().execute();
        while let Some(link) = links.try_next().await.map_err(to_io)? {
            for attribute in &link.attributes {
                if let LinkAttribute::IfName(name) = attribute {
                    names.insert(link.header.index, Arc::<str>::from(name.as_str()));
                }
            }
        }
        let mut found = Vec::new();
        let request = RouteNetlinkMessage::GetAddress(AddressMessage::default());
        dump(request, |reply| {
            let RouteNetlinkMessage::NewAddress(message) = reply else {
                return;
            };
            let Some(addr) = local_address(&message) else {
                return;
            };
            let ifindex = message.header.index;
            found.push(InterfaceAddr {
                // A link created between the two dumps has no name yet; the index still identifies it.
                ifname: names
                    .get(&ifindex)
                    .cloned()
                    .unwrap_or_else(|| format!("if{ifindex}").into()),
                ifindex,
                addr,
                prefix_len: message.header.prefix_len,
                marked: message.attributes.iter().any(|attribute| {
                    matches!(attribute, AddressAttribute::Protocol(protocol)
                        if u8::from(*protocol) == ADDRESS_PROTOCOL)
                }),
            });
        })
        .await?;
        Ok(found)
    }

    /// The index of `lo`.
    pub async fn loopback_index(&self) -> io::Result<u32> {
        let mut links = self.handle.link().get().match_name(LOOPBACK).execute();
        match links.try_next().await.map_err(to_io)? {
            Some(link) => Ok(link.header.index),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no loopback interface \"lo\"",
            )),
        }
    }

    /// The hardware (MAC) address of interface `ifindex`, if it has one (what a gratuitous ARP
    /// announces). No such link is an error (ENODEV): the interface was just resolved.
    pub async fn link_address(&self, ifindex: u32) -> io::Result<Option<Vec<u8>>> {
        Ok(self.link(ifindex).await?.and_then(|link| link.mac))
    }

    /// The name of link `ifindex`; `None` if there is no such link (any more).
    pub async fn link_name(&self, ifindex: u32) -> io::Result<Option<String>> {
        match self.link(ifindex).await {
            Ok(link) => Ok(link.map(|link| link.name)),
            Err(error) if error.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Link `ifindex`, with the facts [`LinkFacts`] holds; the kernel answers ENODEV (an error)
    /// when there is no such link.
    async fn link(&self, ifindex: u32) -> io::Result<Option<LinkFacts>> {
        let mut links = self.handle.link().get().match_index(ifindex).execute();
        Ok(links.try_next().await.map_err(to_io)?.map(link_facts))
    }

    /// Performs one change. Adding an address that exists or removing one that is gone is not an error.
    pub async fn apply(&self, change: &AddrChange) -> io::Result<()> {
        self.apply_checked(change).await.map(|_changed| ())
    }

    /// Like [`Netlink::apply`], and tells whether the kernel changed: `false` when the address was
    /// already there (add) or already gone (remove, also with its interface). A daemon that records its additions for
    /// [`plan_unbind`] should record only those that returned `true`.
    pub async fn apply_checked(&self, change: &AddrChange) -> io::Result<bool> {
        let outcome = match change {
            AddrChange::Add { ifindex, net } => self.add_marked(*ifindex, net, false).await,
            AddrChange::Remove { ifindex, net } => match self
                .handle
                .address()
                .del(address_message(*ifindex, net))
                .execute()
                .await
                .map_err(to_io)
            {
                Ok(()) => Ok(true),
                Err(err) if err.kind() == io::ErrorKind::AddrNotAvailable => Ok(false),
                // The interface is gone, and its addresses with it.
                Err(err) if err.raw_os_error() == Some(libc::ENODEV) => Ok(false),
                Err(err) => Err(err),
            },
        };
        outcome.map_err(|err| io::Error::new(err.kind(), format!("{change:?}: {err}")))
    }

    /// Adds `net` on `ifindex` with elastic's mark and without duplicate address detection (IPv6
    /// `nodad`: a VRRP master's address is usable at once); `false` when it was already there.
    pub async fn add_without_dad(&self, ifindex: u32, net: IpNet) -> io::Result<bool> {
        self.add_marked(ifindex, &net, true)
            .await
            .map_err(|err| io::Error::new(err.kind(), format!("adding {net} without DAD: {err}")))
    }

    /// Adds `net` on `ifindex` with elastic's mark ([`ADDRESS_PROTOCOL`]), without duplicate
    /// address detection if `nodad`; `false` when it was already there.
    async fn add_marked(&self, ifindex: u32, net: &IpNet, nodad: bool) -> io::Result<bool> {
        let mut request = self
            .handle
            .address()
            .add(ifindex, net.addr(), net.prefix_len());
        let message = request.message_mut();
        if nodad {
            message.header.flags |= AddressHeaderFlags::Nodad;
        }
        message
            .attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(
                ADDRESS_PROTOCOL,
            )));
        match request.execute().await.map_err(to_io) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// One network interface (link) as the kernel lists it: what tells a macvlan elastic made for a
/// VRRP instance from anything else ([`crate::vrrp::vmac`] decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    pub ifindex: u32,
    pub name: String,
    /// The link's kind ("macvlan", "veth", …); `None` for a physical interface.
    pub kind: Option<String>,
    /// The lower interface a macvlan (or VLAN) sits on.
    pub parent: Option<u32>,
    pub mac: Option<Vec<u8>>,
    /// A macvlan in bridge mode.
    pub macvlan_bridge: bool,
    /// Its `net.ipv4.conf.<name>.arp_ignore` and `arp_announce`, when the kernel reports them.
    pub arp_ignore: Option<i32>,
    pub arp_announce: Option<i32>,
    /// Its alias (`ip link set … alias`): where elastic notes on a macvlan what to restore.
    pub alias: Option<String>,
}

/// A per-interface IPv4 setting (`net.ipv4.conf.<interface>.*`), set through netlink so that no
/// write to /proc/sys is needed (the unit's ProtectKernelTunables makes it read-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Conf {
    RpFilter,
    ArpAnnounce,
    ArpIgnore,
}

impl Ipv4Conf {
    /// The kernel's IPV4_DEVCONF_* number.
    fn id(self) -> u16 {
        match self {
            Ipv4Conf::RpFilter => 8,
            Ipv4Conf::ArpAnnounce => 18,
            Ipv4Conf::ArpIgnore => 19,
        }
    }
}

impl Netlink {
    /// Every link, with the facts [`LinkFacts`] holds.
    pub async fn links(&self) -> io::Result<Vec<LinkFacts>> {
        let mut links = self.handle.link().get().execute();
        let mut found = Vec::new();
        while let Some(link) = links.try_next().await.map_err(to_io)? {
            found.push(link_facts(link));
        }
        Ok(found)
    }

    /// Creates macvlan `name` on `parent` in bridge mode with address `mac`, down (so nothing is
    /// sent from it before it is set up); its index.
    pub async fn add_macvlan(&self, name: &str, parent: u32, mac: [u8; 6]) -> io::Result<u32> {
        let message = LinkMacVlan::new(name, parent, MacVlanMode::Bridge)
            .address(mac.to_vec())
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|error| io::Error::new(to_io(error).kind(), format!("creating {name}")))?;
        self.links()
            .await?
            .into_iter()
            .find(|link| link.name == name)
            .map(|link| link.ifindex)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name} vanished")))
    }

    /// Sets link `ifindex` up.
    pub async fn set_link_up(&self, ifindex: u32) -> io::Result<()> {
        let message = LinkUnspec::new_with_index(ifindex).up().build();
        self.set_link(message).await
    }

    /// No IPv6 address generated from the link's MAC (addrgenmode none): every router of a VRID
    /// has the same virtual MAC, so the link-local addresses made from it would collide.
    pub async fn set_no_ipv6_address_generation(&self, ifindex: u32) -> io::Result<()> {
        let message = LinkUnspec::new_with_index(ifindex)
            .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
            )]))
            .build();
        self.set_link(message).await
    }

    /// Sets the alias of link `ifindex` (at most 255 bytes, the kernel's limit).
    pub async fn set_alias(&self, ifindex: u32, alias: &str) -> io::Result<()> {
        let message = LinkUnspec::new_with_index(ifindex)
            .append_extra_attribute(LinkAttribute::IfAlias(alias.to_string()))
            .build();
        self.set_link(message).await
    }

    /// Sets per-interface IPv4 settings of link `ifindex`.
    pub async fn set_ipv4_conf(
        &self,
        ifindex: u32,
        settings: &[(Ipv4Conf, u32)],
    ) -> io::Result<()> {
        // IFLA_INET_CONF nests one attribute per setting (type: the setting's number); the
        // crate's own request form leaves out zero values, which restoring a setting needs.
        let nested: Vec<DefaultNla> = settings
            .iter()
            .map(|(conf, value)| DefaultNla::new(conf.id(), value.to_ne_bytes().to_vec()))
            .collect();
        let mut value = vec![0; nested.as_slice().buffer_len()];
        nested.as_slice().emit(&mut value);
        let conf = DefaultNla::new(IFLA_INET_CONF | NLA_F_NESTED, value);
        let message = LinkUnspec::new_with_index(ifindex)
            .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet(vec![
                AfSpecInet::Other(conf),
            ])]))
            .build();
        self.set_link(message).await
    }

    /// Changes a link as `message` says.
    async fn set_link(&self, message: LinkMessage) -> io::Result<()> {
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(to_io)
    }

    /// Deletes link `ifindex`; one already gone is not an error.
    pub async fn delete_link(&self, ifindex: u32) -> io::Result<()> {
        match self
            .handle
            .link()
            .del(ifindex)
            .execute()
            .await
            .map_err(to_io)
        {
            Err(error) if error.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            other => other,
        }
    }
}

/// IFLA_INET_CONF inside IFLA_AF_SPEC's AF_INET.
const IFLA_INET_CONF: u16 = 1;

fn link_facts(link: LinkMessage) -> LinkFacts {
    let mut facts = LinkFacts {
        ifindex: link.header.index,
        name: String::new(),
        kind: None,
        parent: None,
        mac: None,
        macvlan_bridge: false,
        arp_ignore: None,
        arp_announce: None,
        alias: None,
    };
    for attribute in link.attributes {
        match attribute {
            LinkAttribute::IfName(name) => facts.name = name,
            LinkAttribute::IfAlias(alias) => facts.alias = Some(alias),
            LinkAttribute::Link(parent) => facts.parent = Some(parent),
            LinkAttribute::Address(mac) => facts.mac = Some(mac),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(kind) => facts.kind = Some(kind.to_string()),
                        LinkInfo::Data(InfoData::MacVlan(data)) => {
                            facts.macvlan_bridge = data
                                .iter()
                                .any(|d| matches!(d, InfoMacVlan::Mode(MacVlanMode::Bridge)));
                        }
                        _ => {}
                    }
                }
            }
            LinkAttribute::AfSpecUnspec(specs) => {
                for spec in specs {
                    if let AfSpecUnspec::Inet(inet) = spec {
                        for item in inet {
                            if let AfSpecInet::DevConf(conf) = item {
                                facts.arp_ignore = Some(conf.arp_ignore);
                                facts.arp_announce = Some(conf.arp_announce);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    facts
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Sends a dump request on a socket of its own and hands each reply to `each` as its datagram
/// arrives. A connection (rtnetlink's) reads a whole dump before its caller sees a message and
/// queues every parsed message in buffers that keep their size: 1.5 MB for 10,000 addresses, and
/// the allocator keeps such a peak long after. This holds one datagram at a time.
async fn dump(
    request: RouteNetlinkMessage,
    each: impl FnMut(RouteNetlinkMessage),
) -> io::Result<()> {
    // The kernel always ends a dump; the bound only keeps the event loop safe if it ever did not.
    tokio::time::timeout(DUMP_TIMEOUT, dump_unbounded(request, each))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "netlink dump not finished in 10 s"))?
}

/// How long an address dump may take (100,000 addresses take well under a second).
const DUMP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn dump_unbounded(
    request: RouteNetlinkMessage,
    mut each: impl FnMut(RouteNetlinkMessage),
) -> io::Result<()> {
    let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
    socket.socket_mut().bind_auto()?;
    let mut message = NetlinkMessage::from(request);
    message.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.header.sequence_number = 1;
    message.finalize();
    let mut bytes = vec![0; message.buffer_len()];
    message.serialize(&mut bytes);
    socket.send_to(&bytes, &SocketAddr::new(0, 0)).await?;
    loop {
        let (datagram, _) = socket.recv_from_full().await?;
        let mut rest = datagram.as_slice();
        while !rest.is_empty() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
            // Messages in a datagram start on 4-byte boundaries.
            let length = (reply.header.length as usize).next_multiple_of(4);
            match reply.payload {
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(error) => return Err(error.into()),
                NetlinkPayload::InnerMessage(inner) => each(inner),
                _ => {}
            }
            if length == 0 || length >= rest.len() {
                break;
            }
            rest = &rest[length..];
        }
    }
}

/// For IPv4 the kernel reports the interface's own address as IFA_LOCAL (IFA_ADDRESS is the peer
/// on point-to-point links); IPv6 reports it as IFA_ADDRESS only.
fn local_address(message: &AddressMessage) -> Option<IpAddr> {
    let attribute = |want_local: bool| {
        message
            .attributes
            .iter()
            .find_map(|attribute| match attribute {
                AddressAttribute::Local(addr) if want_local => Some(*addr),
                AddressAttribute::Address(addr) if !want_local => Some(*addr),
                _ => None,
            })
    };
    attribute(true).or_else(|| attribute(false))
}

fn address_message(ifindex: u32, net: &IpNet) -> AddressMessage {
    match net.addr() {
        IpAddr::V4(v4) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(ifindex)
            .address(v4, net.prefix_len())
            .build(),
        IpAddr::V6(v6) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(ifindex)
            .address(v6, net.prefix_len())
            .build(),
    }
}

fn to_io(err: rtnetlink::Error) -> io::Error {
    match err {
        // The kernel's errno, so callers can match on the kind (EEXIST → AlreadyExists …).
        rtnetlink::Error::NetlinkError(message) => message.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

fn current_runtime() -> io::Result<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .map_err(|_| io::Error::other("netlink needs to be started from within a tokio runtime"))
}

/// Subscribes to RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR. The receiver gets a `()` each time
/// the kernel reports an address change, or lost reports because its buffer overflowed; a burst
/// coalesces into one pending notice, since the daemon re-lists addresses on each. Subscribe
/// before the first listing so no change falls between them. The watch runs until the receiver is
/// dropped; the receiver yields `None` if the kernel socket fails.
pub fn watch_addresses() -> io::Result<mpsc::Receiver<()>> {
    watch(&[MulticastGroup::Ipv4Ifaddr, MulticastGroup::Ipv6Ifaddr])
}

/// Subscribes to RTNLGRP_LINK (links added, removed, renamed, up or down), as
/// [`watch_addresses`] does to addresses: a `()` per report or burst, to look again.
pub fn watch_links() -> io::Result<mpsc::Receiver<()>> {
    watch(&[MulticastGroup::Link])
}

fn watch(groups: &[MulticastGroup]) -> io::Result<mpsc::Receiver<()>> {
    let runtime = current_runtime()?;
    let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
    socket.socket_mut().bind_auto()?;
    for &group in groups {
        socket.socket_mut().add_membership(group as u32)?;
    }
    let (notices, receiver) = mpsc::channel(1);
    runtime.spawn(async move {
        // Only the arrival of a report matters: it is read into one reused buffer and never
        // parsed, so a burst of 100,000 reports allocates nothing.
        let mut report = Vec::with_capacity(REPORT_BUFFER);
        loop {
            report.clear();
            tokio::select! {
                () = notices.closed() => break,
                received = socket.recv(&mut report) => match received {
                    // The kernel dropped reports: the re-listing catches up with them too.
                    Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {}
                    // The socket failed: dropping `notices` tells the receiver.
                    Err(_) => break,
                    Ok(()) => {}
                },
            }
            match notices.try_send(()) {
                // Full: a notice is already pending and covers this report.
                Ok(()) | Err(mpsc::error::TrySendError::Full(())) => {}
                Err(mpsc::error::TrySendError::Closed(())) => break,
            }
        }
    });
    Ok(receiver)
}

/// Room for one address report (a few hundred bytes); the kernel truncates a longer datagram.
const REPORT_BUFFER: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn on(ifname: &str, ifindex: u32, cidr: &str) -> InterfaceAddr {
        let net: IpNet = cidr.parse().unwrap();
        InterfaceAddr {
            ifname: ifname.into(),
            ifindex,
            addr: net.addr(),
            prefix_len: net.prefix_len(),
            marked: false,
        }
    }

    fn lo(cidr: &str) -> InterfaceAddr {
        on("lo", 1, cidr)
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|text| text.parse().unwrap()).collect()
    }

    #[test]
    fn lelastics_rules_decide_each_address_on_lo() {
        // (address on lo, prefixes without -send56, with -send56, warns)
        let table: &[(&str, &[&str], &[&str], bool)] = &[
            (
                "203.0.113.10/32",
                &["203.0.113.10/32"],
                &["203.0.113.10/32"],
                false,
            ),
            ("192.0.2.5/24", &[], &[], true),
            ("127.0.0.1/8", &[], &[], false),
            ("::1/128", &[], &[], false),
            ("fe80::1/64", &[], &[], false),
            ("169.254.1.1/32", &[], &[], false),
            (
                "2001:db8:100::1/128",
                &["2001:db8:100::/64"],
                &["2001:db8:100::/56"],
                true,
            ),
            (
                "2001:db8:100::1/48",
                &["2001:db8:100::/64"],
                &["2001:db8:100::/56"],
                true,
            ),
            (
                "2001:db8:100::1/64",
                &["2001:db8:100::/64"],
                &["2001:db8:100::/64"],
                false,
            ),
            (
                "2001:db8:200::1/56",
                &["2001:db8:200::/56"],
                &["2001:db8:200::/56"],
                false,
            ),
        ];
        for (address, plain, wide, warns) in table {
            for (send56, expected) in [(false, plain), (true, wide)] {
                let (prefixes, warnings) = eligible_prefixes(&[lo(address)], false, send56);
                assert_eq!(prefixes, nets(expected), "{address} send56={send56}");
                assert_eq!(!warnings.is_empty(), *warns, "{address}: {warnings:?}");
            }
        }
    }

    #[test]
    fn warnings_name_the_address_and_what_happened() {
        let (_, warnings) = eligible_prefixes(
            &[lo("192.0.2.5/24"), lo("2001:db8:100::1/128")],
            false,
            false,
        );
        assert_eq!(
            warnings,
            vec![
                "skipping 192.0.2.5/24 on lo: not accepted prefix length (IPv4 must be /32)",
                "fixing prefix length of 2001:db8:100::1/128 on lo to /64",
            ]
        );
    }

    #[test]
    fn only_lo_counts_unless_allifs() {
        let addrs = [
            lo("203.0.113.10/32"),
            on("eth0", 2, "198.51.100.7/32"),
            on("eth0", 2, "2001:db8:ff::1/64"),
            on("eth0", 2, "192.0.2.5/24"),
        ];
        let (prefixes, warnings) = eligible_prefixes(&addrs, false, false);
        assert_eq!(prefixes, nets(&["203.0.113.10/32"]));
        assert!(warnings.is_empty(), "{warnings:?}");
        let (prefixes, warnings) = eligible_prefixes(&addrs, true, false);
        assert_eq!(
            prefixes,
            nets(&["198.51.100.7/32", "203.0.113.10/32", "2001:db8:ff::/64"])
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn duplicates_collapse_and_the_result_is_sorted() {
        let addrs = [
            lo("2001:db8:100::2/128"),
            lo("203.0.113.10/32"),
            lo("2001:db8:100::1/64"),
            on("eth0", 2, "203.0.113.10/32"),
            lo("198.51.100.1/32"),
        ];
        let (prefixes, _) = eligible_prefixes(&addrs, true, false);
        assert_eq!(
            prefixes,
            nets(&["198.51.100.1/32", "203.0.113.10/32", "2001:db8:100::/64"])
        );
    }

    #[test]
    fn router_id_prefers_the_first_global_ipv4_off_lo() {
        let addrs = [
            lo("203.0.113.10/32"),
            on("eth1", 3, "198.51.100.9/24"),
            on("eth0", 2, "2001:db8:1::5/64"),
            on("eth0", 2, "192.0.2.77/24"),
            on("eth0", 2, "192.0.2.20/24"),
            on("eth0", 2, "169.254.0.1/16"),
        ];
        assert_eq!(default_router_id(&addrs), Ipv4Addr::new(192, 0, 2, 20));
        // The listing order does not matter.
        let mut reversed = addrs.to_vec();
        reversed.reverse();
        assert_eq!(default_router_id(&reversed), Ipv4Addr::new(192, 0, 2, 20));
    }

    #[test]
    fn router_id_falls_back_to_the_low_bits_of_a_global_ipv6() {
        let addrs = [
            lo("203.0.113.10/32"),
            lo("2001:db8:100::1/64"),
            on("eth0", 2, "fe80::1/64"),
            on("eth0", 2, "2001:db8:1::/64"),
            on("eth0", 2, "2001:db8:1::c000:205/64"),
        ];
        assert_eq!(default_router_id(&addrs), Ipv4Addr::new(192, 0, 2, 5));
    }

    #[test]
    fn router_id_is_lelastics_when_nothing_fits_and_never_zero() {
        assert_eq!(default_router_id(&[]), FALLBACK_ROUTER_ID);
        let addrs = [
            lo("203.0.113.10/32"),
            lo("127.0.0.1/8"),
            on("eth0", 2, "fe80::1/64"),
            on("eth0", 2, "2001:db8:1::/64"),
            on("eth0", 2, "0.0.0.0/0"),
        ];
        assert_eq!(default_router_id(&addrs), Ipv4Addr::new(10, 0, 0, 1));
    }

    #[test]
    fn bind_plan_adds_only_what_is_missing_and_is_idempotent() {
        let wanted = nets(&["203.0.113.10/32", "2001:db8:100::1/64", "203.0.113.10/32"]);
        let mut existing = vec![lo("127.0.0.1/8"), on("eth0", 2, "2001:db8:100::1/64")];
        let plan = plan_bind(&existing, 1, &wanted);
        assert_eq!(
            plan,
            vec![
                AddrChange::Add {
                    ifindex: 1,
                    net: wanted[0]
                },
                AddrChange::Add {
                    ifindex: 1,
                    net: wanted[1]
                },
            ]
        );
        existing.push(lo("203.0.113.10/32"));
        existing.push(lo("2001:db8:100::1/64"));
        assert_eq!(plan_bind(&existing, 1, &wanted), vec![]);
        // Same address, other length: not what was asked for.
        let other_length = [lo("203.0.113.10/24")];
        assert_eq!(plan_bind(&other_length, 1, &wanted[..1]).len(), 1);
    }

    #[test]
    fn unbind_plan_removes_only_our_additions_still_present() {
        let ours = AddrChange::Add {
            ifindex: 1,
            net: "203.0.113.10/32".parse().unwrap(),
        };
        let gone = AddrChange::Add {
            ifindex: 1,
            net: "203.0.113.11/32".parse().unwrap(),
        };
        let not_an_add = AddrChange::Remove {
            ifindex: 1,
            net: "203.0.113.12/32".parse().unwrap(),
        };
        let existing = [
            lo("203.0.113.10/32"),
            lo("203.0.113.12/32"),
            lo("203.0.113.13/32"),
            lo("2001:db8:100::1/64"),
        ];
        let plan = plan_unbind(&existing, &[ours.clone(), gone, not_an_add, ours]);
        assert_eq!(
            plan,
            vec![AddrChange::Remove {
                ifindex: 1,
                net: "203.0.113.10/32".parse().unwrap()
            }]
        );
        assert_eq!(plan_unbind(&existing, &[]), vec![]);
    }

    /// Runs `ip` inside the test's namespace (the calling thread's) and fails loudly if it cannot.
    fn ip(args: &[&str]) {
        let status = std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run `ip {}` (is iproute2 installed?): {err}",
                    args.join(" ")
                )
            });
        assert!(status.success(), "`ip {}` failed: {status}", args.join(" "));
    }

    /// Waits (bounded) until no notice arrived for `quiet`, so the next notice is a fresh one.
    async fn drain(watch: &mut mpsc::Receiver<()>, quiet: std::time::Duration) {
        for _ in 0..50 {
            if tokio::time::timeout(quiet, watch.recv()).await.is_err() {
                return;
            }
        }
        panic!("address notices kept coming for 50 rounds");
    }

    async fn expect_notice(watch: &mut mpsc::Receiver<()>, after: &str) {
        match tokio::time::timeout(std::time::Duration::from_secs(5), watch.recv()).await {
            Ok(Some(())) => {}
            Ok(None) => panic!("the watch ended instead of reporting {after}"),
            Err(_) => panic!("no address notice within 5 s after {after}"),
        }
    }

    /// Runs `scenario` on the real kernel, as root, in a network namespace of its own: a thread
    /// calls `unshare(CLONE_NEWNET)`, so its sockets and the `ip` commands it starts see a fresh
    /// namespace that holds only `lo` and disappears with the thread. Not root → the test fails,
    /// it never skips.
    fn in_fresh_namespace<F: Future<Output = ()> + 'static>(scenario: fn() -> F) {
        let outcome = std::thread::spawn(move || {
            if let Err(err) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
                panic!(
                    "this test needs root (CAP_SYS_ADMIN) to create a network namespace with \
                     unshare(CLONE_NEWNET): {err}; run `cargo test` as root (CI does)"
                );
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(scenario());
        })
        .join();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    #[test]
    fn netlink_binds_lists_watches_and_unbinds_in_a_fresh_namespace() {
        in_fresh_namespace(netlink_scenario);
    }

    /// The link half of [`Netlink`] on the real kernel, in a namespace of its own: a macvlan
    /// made, listed with its kind, parent, MAC and mode, IPv4 settings set and restored (zero
    /// included), IPv6 address generation off, deleted twice without an error.
    #[test]
    fn netlink_makes_lists_sets_and_deletes_a_macvlan_in_a_fresh_namespace() {
        in_fresh_namespace(link_scenario);
    }

    async fn link_scenario() {
        let netlink = Netlink::new().expect("netlink socket");
        ip(&[
            "link", "add", "base0", "type", "veth", "peer", "name", "peer0",
        ]);
        let links = netlink.links().await.expect("links");
        let base = links.iter().find(|l| l.name == "base0").expect("base0");
        assert_eq!(base.kind.as_deref(), Some("veth"));
        assert_eq!(base.mac.as_ref().map(Vec::len), Some(6));
        assert_eq!(base.arp_ignore, Some(0));
        let mac = [0, 0, 0x5e, 0, 1, 51];
        let index = netlink
            .add_macvlan("vm0", base.ifindex, mac)
            .await
            .expect("macvlan");
        netlink
            .set_no_ipv6_address_generation(index)
            .await
            .expect("addrgenmode");
        let settings = [(Ipv4Conf::ArpIgnore, 1), (Ipv4Conf::ArpAnnounce, 2)];
        netlink
            .set_ipv4_conf(base.ifindex, &settings)
            .await
            .expect("set");
        netlink.set_link_up(index).await.expect("up");
        let links = netlink.links().await.expect("links");
        let made = links.iter().find(|l| l.name == "vm0").expect("vm0");
        assert_eq!(made.ifindex, index);
        assert_eq!(made.kind.as_deref(), Some("macvlan"));
        assert_eq!(made.parent, Some(base.ifindex));
        assert_eq!(made.mac.as_deref(), Some(&mac[..]));
        assert!(made.macvlan_bridge);
        let base_now = links.iter().find(|l| l.name == "base0").expect("base0");
        assert_eq!(
            (base_now.arp_ignore, base_now.arp_announce),
            (Some(1), Some(2))
        );
        let restore = [(Ipv4Conf::ArpIgnore, 0), (Ipv4Conf::ArpAnnounce, 0)];
        netlink
            .set_ipv4_conf(base.ifindex, &restore)
            .await
            .expect("restore");
        netlink.delete_link(index).await.expect("delete");
        netlink.delete_link(index).await.expect("already gone");
        let links = netlink.links().await.expect("links");
        assert!(links.iter().all(|l| l.name != "vm0"), "{links:?}");
        let base_now = links.iter().find(|l| l.name == "base0").expect("base0");
        assert_eq!(
            (base_now.arp_ignore, base_now.arp_announce),
            (Some(0), Some(0))
        );
    }

    async fn netlink_scenario() {
        let quiet = std::time::Duration::from_millis(300);
        let netlink = Netlink::new().expect("netlink socket");
        let lo_index = netlink.loopback_index().await.expect("lo");
        let before = netlink.addresses().await.expect("list");
        assert!(
            before.iter().all(|found| *found.ifname == *LOOPBACK),
            "not a fresh namespace: {before:?}"
        );
        ip(&["link", "set", "lo", "up"]);
        let mut watch = watch_addresses().expect("watch");

        let wanted = nets(&["203.0.113.10/32", "2001:db8:100::1/64"]);
        let existing = netlink.addresses().await.expect("list");
        let plan = plan_bind(&existing, lo_index, &wanted);
        assert_eq!(plan.len(), 2, "{plan:?}");
        let mut added = Vec::new();
        for change in &plan {
            assert!(
                netlink.apply_checked(change).await.expect("add"),
                "{change:?} changed nothing"
            );
            added.push(change.clone());
        }
        let bound = netlink.addresses().await.expect("list");
        for net in &wanted {
            assert!(
                present(&bound).contains(&key(lo_index, net)),
                "{net} missing from {bound:?}"
            );
        }
        let (prefixes, _) = eligible_prefixes(&bound, false, false);
        assert_eq!(prefixes, nets(&["203.0.113.10/32", "2001:db8:100::/64"]));
        assert_eq!(plan_bind(&bound, lo_index, &wanted), vec![]);
        // Every address elastic added carries its mark (where the kernel keeps marks); lo's own
        // do not, so a later run would reclaim exactly these.
        let marks_kept = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .is_ok_and(|release| kernel_keeps_address_marks(release.trim()));
        let marked: Vec<IpNet> = bound
            .iter()
            .filter(|found| found.marked)
            .map(|found| IpNet::new(found.addr, found.prefix_len).unwrap())
            .collect();
        assert_eq!(marked, if marks_kept { wanted.clone() } else { vec![] });
        for change in &plan {
            netlink
                .apply(change)
                .await
                .expect("adding again is not an error");
            assert!(!netlink.apply_checked(change).await.expect("add again"));
        }

        // A change made by someone else is reported.
        drain(&mut watch, quiet).await;
        ip(&["addr", "add", "203.0.113.11/32", "dev", "lo"]);
        expect_notice(&mut watch, "`ip addr add`").await;
        drain(&mut watch, quiet).await;
        ip(&["-6", "addr", "add", "2001:db8:200::1/64", "dev", "lo"]);
        expect_notice(&mut watch, "`ip -6 addr add`").await;

        // Stop: only what we added goes; what `ip` added stays.
        let current = netlink.addresses().await.expect("list");
        let unbind = plan_unbind(&current, &added);
        assert_eq!(unbind.len(), 2, "{unbind:?}");
        drain(&mut watch, quiet).await;
        for change in &unbind {
            assert!(
                netlink.apply_checked(change).await.expect("remove"),
                "{change:?} changed nothing"
            );
            netlink
                .apply(change)
                .await
                .expect("removing again is not an error");
        }
        expect_notice(&mut watch, "removing our addresses").await;
        let after = netlink.addresses().await.expect("list");
        for net in &wanted {
            assert!(
                !present(&after).contains(&key(lo_index, net)),
                "{net} still on lo: {after:?}"
            );
        }
        let (prefixes, _) = eligible_prefixes(&after, false, false);
        assert_eq!(prefixes, nets(&["203.0.113.11/32", "2001:db8:200::/64"]));
        assert_eq!(plan_unbind(&after, &added), vec![]);

        // Dropping the receiver ends the watch (its task closes the subscription).
        drop(watch);
    }

    fn marked(cidr: &str) -> InterfaceAddr {
        InterfaceAddr {
            marked: true,
            ..lo(cidr)
        }
    }

    #[test]
    fn marks_need_linux_5_18() {
        for (release, keeps) in [
            ("6.18.44-fc-v1272", true),
            ("5.18.0", true),
            ("6.1.0-18-amd64", true),
            ("5.17.15-arch1-1", false),
            ("5.10.0-28-amd64", false),
            ("4.19.0", false),
            ("", false),
            ("garbage", false),
        ] {
            assert_eq!(kernel_keeps_address_marks(release), keeps, "{release}");
        }
    }

    #[test]
    fn owned_addresses_left_by_an_earlier_run_are_adopted_or_removed() {
        let existing = [
            // Marked, still in the config: adopted.
            marked("203.0.113.10/32"),
            // Marked, dropped from the config: removed.
            marked("203.0.113.11/32"),
            // Not marked and not recorded: someone else's, never touched.
            lo("203.0.113.12/32"),
            // Recorded in the state file (a kernel without marks), dropped: removed.
            lo("2001:db8:100::1/64"),
            // Marked but on another interface: elastic binds to lo only.
            InterfaceAddr {
                marked: true,
                ..on("eth0", 2, "192.0.2.1/32")
            },
            // Listed twice: handled once.
            marked("203.0.113.10/32"),
        ];
        let recorded = nets(&["2001:db8:100::1/64", "198.51.100.1/32"]);
        let wanted = nets(&["203.0.113.10/32", "203.0.113.12/32", "192.0.2.1/32"]);
        let reclaim = plan_reclaim(&existing, &recorded, 1, &wanted);
        assert_eq!(
            reclaim.adopt,
            [AddrChange::Add {
                ifindex: 1,
                net: "203.0.113.10/32".parse().unwrap()
            }]
        );
        assert_eq!(
            reclaim.remove,
            [
                AddrChange::Remove {
                    ifindex: 1,
                    net: "203.0.113.11/32".parse().unwrap()
                },
                AddrChange::Remove {
                    ifindex: 1,
                    net: "2001:db8:100::1/64".parse().unwrap()
                },
            ]
        );
        assert_eq!(
            plan_reclaim(&[lo("203.0.113.12/32")], &[], 1, &[]),
            Reclaim::default()
        );
    }

    #[test]
    fn the_state_file_lists_what_was_bound() {
        let bound = [
            AddrChange::Add {
                ifindex: 1,
                net: "203.0.113.10/32".parse().unwrap(),
            },
            AddrChange::Add {
                ifindex: 1,
                net: "2001:db8:100::1/64".parse().unwrap(),
            },
        ];
        let text = render_bound(&bound);
        assert_eq!(text, "203.0.113.10/32\n2001:db8:100::1/64\n");
        assert_eq!(
            parse_bound(&text),
            nets(&["203.0.113.10/32", "2001:db8:100::1/64"])
        );
        assert_eq!(
            parse_bound("203.0.113.10/32\n\ngarbage\n 192.0.2.1/32 \n"),
            nets(&["203.0.113.10/32", "192.0.2.1/32"])
        );
    }
}
