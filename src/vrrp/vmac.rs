//! `use_vmac`: the instance's RFC 9568 §7.3 virtual MAC (00:00:5e:00:01:VRID for IPv4,
//! 00:00:5e:00:02:VRID for IPv6) on a macvlan of its interface, as FRR's vrrpd expects and
//! keepalived's `use_vmac` makes. The pure half names the macvlan, makes the MAC and decides
//! what to do with a link already bearing the name; [`Vmac`] is the thin netlink edge.
//!
//! How it fits together (the driver does the rest as without a vmac):
//! - The macvlan is in bridge mode: a multicast frame from outside whose source MAC is a
//!   bridge-mode macvlan's own (the other routers' adverts and ARPs carry the same virtual MAC)
//!   still reaches the parent. So adverts are received on the parent, as without a vmac, and
//!   sent from the macvlan, whose source MAC is then the virtual MAC (§7.3): each advert keeps
//!   the switches' forwarding tables pointing at the master.
//! - The virtual addresses go on the macvlan, so ARP and neighbour solicitations for them are
//!   answered with the virtual MAC; gratuitous ARPs and unsolicited NAs go out of it.
//! - IPv4: `arp_ignore=1` on the parent (else it answers ARP for the virtual addresses with its
//!   own MAC: Linux answers for any local address by default) and on the macvlan (else it
//!   answers for the parent's address with the virtual MAC); `arp_announce=2` on the parent
//!   (else the master's own ARP requests, for the clients it answers from a virtual address,
//!   give that address as their sender, and the clients' entries for it move to the parent's
//!   MAC); `rp_filter=0` on the macvlan, as keepalived sets. Set through netlink, never
//!   /proc/sys (read-only under the unit's ProtectKernelTunables). The parent's previous
//!   values are restored when the last elastic IPv4 macvlan on it goes. They are noted in each
//!   such macvlan's alias ([`render_parent_before`]), so the run after a SIGKILL, which takes
//!   the macvlan over, still knows them; after a reboot neither the macvlan nor the change is
//!   there.
//! - No IPv6 address is generated on the macvlan (addrgenmode none): one made from the virtual
//!   MAC is the same on every router of the VRID (a duplicate), and any address at all makes a
//!   backup send from the virtual MAC. An IPv6 instance puts its advert source (the parent's
//!   link-local) on it instead, without DAD, as keepalived does.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io;
use std::net::Ipv6Addr;

use ipnet::{IpNet, Ipv6Net};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::addrs::{Ipv4Conf, LinkFacts, Netlink};

/// Linux's longest interface name (IFNAMSIZ less the terminating NUL).
pub const MAX_NAME: usize = 15;

/// The IANA prefix of the VRRP virtual MACs; the fifth octet is 1 (IPv4) or 2 (IPv6).
const PREFIX: [u8; 4] = [0x00, 0x00, 0x5e, 0x00];

/// The instance's virtual MAC (RFC 9568 §7.3).
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    let family = if ipv6 { 0x02 } else { 0x01 };
    [PREFIX[0], PREFIX[1], PREFIX[2], PREFIX[3], family, vrid]
}

/// Whether `mac` is an IPv4 VRRP virtual MAC.
fn is_ipv4_virtual_mac(mac: &[u8]) -> bool {
    mac.len() == 6 && mac[..4] == PREFIX && mac[4] == 0x01
}

/// The macvlan's name: FRR's convention `vrrp4-<parent index>-<vrid>` (`vrrp6-` for IPv6). The
/// family and the parent's index are in it, so an IPv4 and an IPv6 instance of one VRID (two
/// virtual MACs) or one VRID on two interfaces never share a name, and the name needs no state
/// to be found again after a crash (keepalived's `vrrp.<vrid>` clashes in both cases). The
/// parent's name would not fit in 15 characters; its index does up to 99999, beyond which the
/// index and VRID are written in hex (`vr4.<index>.<vrid>`, at most 15).
pub fn macvlan_name(parent: u32, vrid: u8, ipv6: bool) -> String {
    let family = if ipv6 { 6 } else { 4 };
    let name = format!("vrrp{family}-{parent}-{vrid}");
    if name.len() <= MAX_NAME {
        name
    } else {
        format!("vr{family}.{parent:x}.{vrid:x}")
    }
}

/// What to do about the link already named as the instance's macvlan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// None there: create it.
    Create,
    /// A macvlan of the parent with the virtual MAC in bridge mode (an earlier run's, killed
    /// before it removed it): use it.
    Reuse { ifindex: u32 },
    /// A macvlan of the parent with the virtual MAC, but not in bridge mode: made for VRRP on
    /// this interface and VRID, so deleted and made again.
    Replace { ifindex: u32 },
}

/// Decides about `existing`, the link bearing the macvlan's name, if any: only a macvlan of
/// `parent` carrying `mac` is taken (never delete an interface elastic may not have made); any
/// other link is refused, with the reason.
pub fn judge(existing: Option<&LinkFacts>, parent: u32, mac: [u8; 6]) -> Result<Existing, String> {
    let Some(link) = existing else {
        return Ok(Existing::Create);
    };
    let name = &link.name;
    if link.kind.as_deref() != Some("macvlan") {
        let kind = link.kind.as_deref().unwrap_or("a physical interface");
        return Err(format!(
            "{name} exists and is not a macvlan ({kind}): elastic leaves it alone; rename or remove it"
        ));
    }
    if link.parent != Some(parent) {
        return Err(format!(
            "{name} exists and is a macvlan of another interface (index {}), not of index {parent}: \
             elastic leaves it alone; remove it",
            link.parent.map_or("none".to_string(), |p| p.to_string())
        ));
    }
    if link.mac.as_deref() != Some(&mac[..]) {
        return Err(format!(
            "{name} exists with MAC {}, not the virtual MAC {}: elastic leaves it alone; remove it",
            link.mac.as_deref().map_or("none".to_string(), format_mac),
            format_mac(&mac)
        ));
    }
    if link.macvlan_bridge {
        Ok(Existing::Reuse {
            ifindex: link.ifindex,
        })
    } else {
        Ok(Existing::Replace {
            ifindex: link.ifindex,
        })
    }
}

/// The IPv4 settings the parent needs (`arp_ignore` 1, `arp_announce` 2) that it lacks, each
/// as (setting, value wanted, value to restore). A stricter value already set is kept.
pub fn parent_settings(parent: &LinkFacts) -> Vec<(Ipv4Conf, u32, u32)> {
    [
        (Ipv4Conf::ArpIgnore, 1, parent.arp_ignore),
        (Ipv4Conf::ArpAnnounce, 2, parent.arp_announce),
    ]
    .into_iter()
    .filter_map(|(conf, wanted, current)| {
        let current = u32::try_from(current.unwrap_or(0)).unwrap_or(0);
        (current < wanted).then_some((conf, wanted, current))
    })
    .collect()
}

/// Whether `link` is an elastic IPv4 macvlan (an IPv4 virtual MAC, named as elastic names them)
/// on `parent`.
fn is_elastic_ipv4_macvlan(link: &LinkFacts, parent: u32) -> bool {
    link.parent == Some(parent)
        && link.kind.as_deref() == Some("macvlan")
        && link.mac.as_deref().is_some_and(is_ipv4_virtual_mac)
        && (link.name.starts_with("vrrp4-") || link.name.starts_with("vr4."))
}

/// Whether another elastic IPv4 macvlan than `except` sits on `parent` and so still needs the
/// parent's [`parent_settings`].
pub fn parent_still_needed(links: &[LinkFacts], parent: u32, except: u32) -> bool {
    links
        .iter()
        .any(|link| link.ifindex != except && is_elastic_ipv4_macvlan(link, parent))
}

/// What an elastic IPv4 macvlan's alias starts with: the parent's settings from before elastic
/// changed them follow.
const ALIAS_PREFIX: &str = "elastic vrrp: the parent had";

fn conf_name(conf: Ipv4Conf) -> &'static str {
    match conf {
        Ipv4Conf::ArpIgnore => "arp_ignore",
        Ipv4Conf::ArpAnnounce => "arp_announce",
        Ipv4Conf::RpFilter => "rp_filter",
    }
}

/// The macvlan's alias noting the parent's settings `before` elastic changed them (none: it
/// changed nothing), e.g. `elastic vrrp: the parent had arp_ignore=0 arp_announce=0`.
pub fn render_parent_before(before: &[(Ipv4Conf, u32)]) -> String {
    let mut alias = ALIAS_PREFIX.to_string();
    for &(conf, value) in before {
        alias.push_str(&format!(" {}={value}", conf_name(conf)));
    }
    alias
}

/// [`render_parent_before`]'s settings back; `None` if `alias` is not one elastic wrote.
pub fn parse_parent_before(alias: &str) -> Option<Vec<(Ipv4Conf, u32)>> {
    let rest = alias.strip_prefix(ALIAS_PREFIX)?;
    rest.split_whitespace()
        .map(|word| {
            let (name, value) = word.split_once('=')?;
            let conf = [
                Ipv4Conf::ArpIgnore,
                Ipv4Conf::ArpAnnounce,
                Ipv4Conf::RpFilter,
            ]
            .into_iter()
            .find(|&c| conf_name(c) == name)?;
            Some((conf, value.parse().ok()?))
        })
        .collect()
}

/// The parent's settings from before elastic, as noted on an elastic IPv4 macvlan still on
/// `parent` (left by a killed run); `None` if there is none with a note.
pub fn noted_parent_before(links: &[LinkFacts], parent: u32) -> Option<Vec<(Ipv4Conf, u32)>> {
    links
        .iter()
        .filter(|link| is_elastic_ipv4_macvlan(link, parent))
        .find_map(|link| parse_parent_before(link.alias.as_deref()?))
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The parents' settings from before elastic changed them, by parent index, while an elastic
/// IPv4 macvlan is on it. Shared by this process's instances, so that two on one interface (the
/// dual-master pair) restore them once, to the values from before the first; the lock also
/// keeps one instance's set-up or tear-down from running into another's.
type ParentsBefore = BTreeMap<u32, Vec<(Ipv4Conf, u32)>>;
static PARENTS_BEFORE: Mutex<ParentsBefore> = Mutex::const_new(BTreeMap::new());

/// The macvlan of a running instance.
#[derive(Debug)]
pub struct Vmac {
    pub name: String,
    pub ifindex: u32,
    pub mac: [u8; 6],
    parent: u32,
    ipv6: bool,
}

impl Vmac {
    /// Makes (or takes over, see [`judge`]) the macvlan of instance `vrid` on `parent` (named
    /// `parent_name`), sets it up as the module says, and brings it up. `link_local` (IPv6): the
    /// advert source, put on the macvlan.
    pub async fn set_up(
        netlink: &Netlink,
        parent_name: &str,
        parent: u32,
        vrid: u8,
        link_local: Option<Ipv6Addr>,
    ) -> io::Result<Vmac> {
        let ipv6 = link_local.is_some();
        let mut parents_before = PARENTS_BEFORE.lock().await;
        let links = netlink.links().await?;
        let base = links.iter().find(|l| l.ifindex == parent).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("{parent_name} is gone"))
        })?;
        if base.mac.as_ref().is_none_or(|mac| mac.len() != 6) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "use_vmac needs an Ethernet interface, and {parent_name} has no Ethernet MAC"
                ),
            ));
        }
        let name = macvlan_name(parent, vrid, ipv6);
        let mac = virtual_mac(vrid, ipv6);
        let existing = links.iter().find(|l| l.name == name);
        let refused = |reason: String| io::Error::new(io::ErrorKind::AlreadyExists, reason);
        let ifindex = match judge(existing, parent, mac).map_err(refused)? {
            Existing::Create => netlink.add_macvlan(&name, parent, mac).await?,
            Existing::Reuse { ifindex } => {
                info!(
                    interface = parent_name,
                    macvlan = name,
                    "VRRP: reusing the macvlan an earlier run left"
                );
                ifindex
            }
            Existing::Replace { ifindex } => {
                info!(
                    interface = parent_name,
                    macvlan = name,
                    "VRRP: replacing a macvlan not in bridge mode"
                );
                netlink.delete_link(ifindex).await?;
                netlink.add_macvlan(&name, parent, mac).await?
            }
        };
        let vmac = Vmac {
            name,
            ifindex,
            mac,
            parent,
            ipv6,
        };
        // The first IPv4 macvlan on the parent records what it changes there; the others find
        // the parent set. After a SIGKILL the parent is already set: what it had before is
        // the note a macvlan of the killed run carries.
        let parent_needs = match parents_before.entry(parent) {
            Entry::Vacant(entry) if !ipv6 => {
                let needs = parent_settings(base);
                let before = noted_parent_before(&links, parent).unwrap_or_else(|| {
                    needs
                        .iter()
                        .map(|&(conf, _, before)| (conf, before))
                        .collect()
                });
                entry.insert(before);
                needs
            }
            _ => Vec::new(),
        };
        let note = parents_before.get(&parent).map(|b| render_parent_before(b));
        if let Err(error) = vmac
            .configure(netlink, &parent_needs, link_local, note)
            .await
        {
            vmac.tear_down_locked(netlink, &mut parents_before).await;
            return Err(error);
        }
        info!(
            interface = parent_name,
            macvlan = vmac.name,
            mac = format_mac(&mac),
            "VRRP: virtual MAC up"
        );
        Ok(vmac)
    }

    async fn configure(
        &self,
        netlink: &Netlink,
        parent_needs: &[(Ipv4Conf, u32, u32)],
        link_local: Option<Ipv6Addr>,
        note: Option<String>,
    ) -> io::Result<()> {
        netlink.set_no_ipv6_address_generation(self.ifindex).await?;
        match link_local {
            Some(link_local) => {
                let net = IpNet::V6(Ipv6Net::new(link_local, 64).expect("64 is a valid length"));
                netlink.add_without_dad(self.ifindex, net).await?;
            }
            None => {
                let quiet = [(Ipv4Conf::ArpIgnore, 1), (Ipv4Conf::RpFilter, 0)];
                netlink.set_ipv4_conf(self.ifindex, &quiet).await?;
                // Noted before the parent changes: a SIGKILL in between still finds it.
                if let Some(note) = note {
                    netlink.set_alias(self.ifindex, &note).await?;
                }
                for &(conf, wanted, _) in parent_needs {
                    netlink
                        .set_ipv4_conf(self.parent, &[(conf, wanted)])
                        .await?;
                }
            }
        }
        netlink.set_link_up(self.ifindex).await
    }

    /// Deletes the macvlan (its addresses go with it) and gives the parent its settings back
    /// once no other elastic IPv4 macvlan needs them.
    pub async fn tear_down(self, netlink: &Netlink) {
        let mut parents_before = PARENTS_BEFORE.lock().await;
        self.tear_down_locked(netlink, &mut parents_before).await;
    }

    async fn tear_down_locked(self, netlink: &Netlink, parents_before: &mut ParentsBefore) {
        match netlink.delete_link(self.ifindex).await {
            Ok(()) => info!(macvlan = self.name, "VRRP: virtual MAC removed"),
            Err(error) => warn!(macvlan = self.name, %error, "VRRP: cannot remove the macvlan"),
        }
        if self.ipv6 {
            return;
        }
        let still_needed = match netlink.links().await {
            Ok(links) => parent_still_needed(&links, self.parent, self.ifindex),
            Err(_) => true,
        };
        if still_needed {
            return;
        }
        let Some(before) = parents_before.remove(&self.parent) else {
            return;
        };
        if !before.is_empty()
            && let Err(error) = netlink.set_ipv4_conf(self.parent, &before).await
        {
            warn!(%error, "VRRP: cannot restore the interface's arp_ignore and arp_announce");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virtual_mac_is_the_rfcs_per_family_and_vrid() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 255]);
        assert_eq!(format_mac(&virtual_mac(1, false)), "00:00:5e:00:01:01");
    }

    #[test]
    fn names_fit_and_never_clash_between_families_or_parents() {
        assert_eq!(macvlan_name(2, 51, false), "vrrp4-2-51");
        assert_eq!(macvlan_name(2, 51, true), "vrrp6-2-51");
        assert_ne!(macvlan_name(2, 51, false), macvlan_name(3, 51, false));
        assert_eq!(macvlan_name(99_999, 255, true), "vrrp6-99999-255");
        assert_eq!(macvlan_name(100_000, 255, false), "vr4.186a0.ff");
        let longest = macvlan_name(u32::MAX, 255, true);
        assert_eq!(longest, "vr6.ffffffff.ff");
        for (parent, vrid) in [(1, 1), (99_999, 255), (100_000, 1), (u32::MAX, 255)] {
            for ipv6 in [false, true] {
                assert!(macvlan_name(parent, vrid, ipv6).len() <= MAX_NAME);
            }
        }
        // Hex forms of different parents or VRIDs stay apart.
        assert_ne!(
            macvlan_name(100_001, 1, false),
            macvlan_name(100_000, 17, false)
        );
    }

    fn macvlan(name: &str, parent: u32, mac: [u8; 6], bridge: bool) -> LinkFacts {
        LinkFacts {
            ifindex: 9,
            name: name.to_string(),
            kind: Some("macvlan".to_string()),
            parent: Some(parent),
            mac: Some(mac.to_vec()),
            macvlan_bridge: bridge,
            arp_ignore: Some(1),
            arp_announce: Some(0),
            alias: None,
        }
    }

    #[test]
    fn the_parents_settings_noted_in_the_alias_read_back() {
        let before = [(Ipv4Conf::ArpIgnore, 0), (Ipv4Conf::ArpAnnounce, 1)];
        let alias = render_parent_before(&before);
        assert_eq!(
            alias,
            "elastic vrrp: the parent had arp_ignore=0 arp_announce=1"
        );
        assert_eq!(parse_parent_before(&alias), Some(before.to_vec()));
        assert_eq!(
            parse_parent_before(&render_parent_before(&[])),
            Some(vec![])
        );
        for foreign in [
            "uplink to rack 4",
            "elastic vrrp: the parent had arp_ignore=x",
            "elastic vrrp: the parent had mtu=1500",
        ] {
            assert_eq!(parse_parent_before(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn a_killed_runs_note_is_found_on_its_macvlan_of_the_parent_only() {
        let noted = |name: &str, parent: u32, alias: &str| LinkFacts {
            alias: Some(alias.to_string()),
            ..macvlan(name, parent, virtual_mac(51, false), true)
        };
        let note = "elastic vrrp: the parent had arp_ignore=0 arp_announce=0";
        let links = [
            macvlan("vrrp4-2-50", 2, virtual_mac(50, false), true),
            noted("vrrp4-3-51", 3, "elastic vrrp: the parent had arp_ignore=2"),
            noted("other", 2, note),
            noted("vrrp4-2-51", 2, note),
        ];
        assert_eq!(
            noted_parent_before(&links, 2),
            Some(vec![(Ipv4Conf::ArpIgnore, 0), (Ipv4Conf::ArpAnnounce, 0)])
        );
        assert_eq!(noted_parent_before(&links[..3], 2), None);
    }

    #[test]
    fn the_parent_gets_arp_ignore_and_arp_announce_unless_stricter_already() {
        let mut parent = macvlan("eth0", 0, [2, 0, 0, 0, 0, 1], false);
        parent.arp_ignore = Some(0);
        assert_eq!(
            parent_settings(&parent),
            [(Ipv4Conf::ArpIgnore, 1, 0), (Ipv4Conf::ArpAnnounce, 2, 0)]
        );
        parent.arp_ignore = Some(2);
        parent.arp_announce = Some(1);
        assert_eq!(parent_settings(&parent), [(Ipv4Conf::ArpAnnounce, 2, 1)]);
        parent.arp_announce = Some(2);
        assert_eq!(parent_settings(&parent), []);
        // Not reported (no IPv4 on the link): taken as the kernel's default, 0.
        parent.arp_ignore = None;
        assert_eq!(parent_settings(&parent), [(Ipv4Conf::ArpIgnore, 1, 0)]);
    }

    #[test]
    fn only_a_macvlan_of_the_parent_with_the_virtual_mac_is_taken_over() {
        let mac = virtual_mac(51, false);
        assert_eq!(judge(None, 2, mac), Ok(Existing::Create));
        let ours = macvlan("vrrp4-2-51", 2, mac, true);
        assert_eq!(
            judge(Some(&ours), 2, mac),
            Ok(Existing::Reuse { ifindex: 9 })
        );
        let private = macvlan("vrrp4-2-51", 2, mac, false);
        assert_eq!(
            judge(Some(&private), 2, mac),
            Ok(Existing::Replace { ifindex: 9 })
        );
        let other_parent = macvlan("vrrp4-2-51", 3, mac, true);
        let error = judge(Some(&other_parent), 2, mac).unwrap_err();
        assert!(error.contains("another interface (index 3)"), "{error}");
        let other_mac = macvlan("vrrp4-2-51", 2, [2, 0, 0, 0, 0, 1], true);
        let error = judge(Some(&other_mac), 2, mac).unwrap_err();
        assert!(
            error.contains("02:00:00:00:00:01, not the virtual MAC 00:00:5e:00:01:33"),
            "{error}"
        );
        let veth = LinkFacts {
            kind: Some("veth".to_string()),
            ..ours.clone()
        };
        let error = judge(Some(&veth), 2, mac).unwrap_err();
        assert!(error.contains("not a macvlan (veth)"), "{error}");
        let physical = LinkFacts { kind: None, ..ours };
        let error = judge(Some(&physical), 2, mac).unwrap_err();
        assert!(error.contains("a physical interface"), "{error}");
    }

    #[test]
    fn the_parents_arp_ignore_stays_while_another_ipv4_macvlan_of_elastic_is_on_it() {
        let mine = macvlan("vrrp4-2-51", 2, virtual_mac(51, false), true);
        let other = LinkFacts {
            ifindex: 10,
            ..macvlan("vrrp4-2-52", 2, virtual_mac(52, false), true)
        };
        let v6 = LinkFacts {
            ifindex: 11,
            ..macvlan("vrrp6-2-52", 2, virtual_mac(52, true), true)
        };
        let elsewhere = LinkFacts {
            ifindex: 12,
            ..macvlan("vrrp4-3-52", 3, virtual_mac(52, false), true)
        };
        let foreign = LinkFacts {
            ifindex: 13,
            ..macvlan("mine", 2, virtual_mac(53, false), true)
        };
        assert!(!parent_still_needed(std::slice::from_ref(&mine), 2, 9));
        assert!(!parent_still_needed(
            &[mine.clone(), v6, elsewhere, foreign],
            2,
            9
        ));
        assert!(parent_still_needed(&[mine, other], 2, 9));
    }
}
