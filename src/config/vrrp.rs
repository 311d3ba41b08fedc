//! The `vrrp:` key: the VRRP instances (a list; a single mapping is read as a list of one). A
//! config with `vrrp:` runs no BGP sessions, so the BGP-only keys are refused beside it.
//!
//! Each value type's `FromStr` (or `TryFrom<i64>`) is its rule, and its `Display` writes what
//! that reads back (`elastic check-config`); the checks across one instance's keys run in
//! [`CheckFields`], those across instances and the rest of the file in [`cross_check`].

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::ServiceConfig;
use super::render::{duration, valid};
use super::schema::{CheckFields, Checked, Misplaced, Step};
use super::values::{Name, PreemptDelay};
use crate::vrrp::instance::InstanceConfig;
use crate::vrrp::wire::{Addresses, AdvertInterval};

/// keepalived's default priority.
pub const DEFAULT_PRIORITY: u8 = 100;
/// keepalived's `garp_master_repeat` and `garp_master_delay` defaults.
pub const ANNOUNCE_REPEAT: u8 = 5;
pub const ANNOUNCE_AGAIN_AFTER: Duration = Duration::from_secs(5);

/// One VRRP instance, checked, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpConfig {
    pub interface: String,
    pub vrid: u8,
    /// 1-254.
    pub priority: u8,
    pub advert_interval: AdvertInterval,
    /// One family; each with the prefix length it gets on the interface.
    pub addresses: Vec<IpNet>,
    /// IPv6: a link-local address to put first in every advert, as RFC 9568 §5.2.9 asks.
    /// keepalived 2.2.7 and FRR's vrrpd 8.4.4 send none, so by default neither does elastic.
    pub link_local: Option<Ipv6Addr>,
    /// The services that gate the instance; `None`: all.
    pub services: Option<Vec<String>>,
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// Adverts go to these instead of the multicast group.
    pub unicast_peers: Vec<IpAddr>,
    /// The RFC's virtual MAC on a macvlan (FRR's vrrpd needs it) instead of the interface's MAC.
    pub use_vmac: bool,
}

impl VrrpConfig {
    /// The state machine's configuration, with `primary_address` (the router's own address on
    /// the interface, found by the driver) and keepalived's announcement defaults: 5 gratuitous
    /// ARPs / unsolicited NAs on becoming master, and 5 more 5 s later.
    pub fn instance_config(&self, primary_address: IpAddr) -> InstanceConfig {
        let addresses = if self.is_ipv6() {
            Addresses::V6(
                self.addresses
                    .iter()
                    .filter_map(|a| match a.addr() {
                        IpAddr::V6(v6) => Some(v6),
                        IpAddr::V4(_) => None,
                    })
                    .collect(),
            )
        } else {
            Addresses::V4(
                self.addresses
                    .iter()
                    .filter_map(|a| match a.addr() {
                        IpAddr::V4(v4) => Some(v4),
                        IpAddr::V6(_) => None,
                    })
                    .collect(),
            )
        };
        InstanceConfig {
            vrid: self.vrid,
            priority: self.priority,
            advert_interval: self.advert_interval,
            addresses,
            primary_address,
            link_local: self.link_local,
            unicast_peers: self.unicast_peers.clone(),
            preempt: self.preempt,
            preempt_delay: self.preempt_delay,
            announce_repeat: ANNOUNCE_REPEAT,
            announce_again_after: Some(ANNOUNCE_AGAIN_AFTER),
        }
    }

    pub fn is_ipv6(&self) -> bool {
        self.addresses.first().is_some_and(|a| a.addr().is_ipv6())
    }

    /// The same virtual router as `other`: the same interface, VRID and family (what a file may
    /// hold once, and what a reload keeps running).
    pub fn same_router(&self, other: &VrrpConfig) -> bool {
        self.interface == other.interface
            && self.vrid == other.vrid
            && self.is_ipv6() == other.is_ipv6()
    }

    fn family(&self) -> &'static str {
        if self.is_ipv6() { "IPv6" } else { "IPv4" }
    }
}

/// The YAML shape of one instance, read and rendered.
#[derive(Deserialize, Serialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a VRRP instance (interface, vrid, addresses, …)"
)]
pub(crate) struct RawVrrp {
    pub interface: InterfaceName,
    pub vrid: Vrid,
    pub priority: Option<Priority>,
    pub advert_interval: Option<Interval>,
    pub addresses: Vec<VirtualAddress>,
    pub link_local: Option<LinkLocal>,
    pub services: Option<Vec<Name>>,
    pub preempt: Option<bool>,
    pub preempt_delay: Option<PreemptDelay>,
    pub unicast_peers: Option<Vec<PeerAddress>>,
    pub use_vmac: Option<bool>,
    /// Refused when present, with the reason ([`NoAuthentication`]).
    #[serde(default, rename = "authentication", skip_serializing)]
    pub _authentication: Option<NoAuthentication>,
}

impl CheckFields for RawVrrp {
    fn check(&self) -> Result<(), String> {
        let Some(first) = self.addresses.first() else {
            return Err("addresses: an instance needs at least one address".to_string());
        };
        let ipv6 = first.0.addr().is_ipv6();
        let family = |v6: bool| if v6 { "IPv6" } else { "IPv4" };
        if let Some(other) = self.addresses.iter().find(|a| a.0.addr().is_ipv6() != ipv6) {
            return Err(format!(
                "addresses: {} and {} are of different families: one address family per instance (make two instances)",
                first.0, other.0
            ));
        }
        if let Some(peer) = self
            .unicast_peers
            .iter()
            .flatten()
            .find(|p| p.0.is_ipv6() != ipv6)
        {
            return Err(format!(
                "unicast_peers: {} is not {} like the addresses",
                peer.0,
                family(ipv6)
            ));
        }
        if self.link_local.is_some() && !ipv6 {
            return Err("link_local applies to IPv6 instances only".to_string());
        }
        // The link-local address goes first in every IPv6 advert, and an advert carries 255.
        let limit = if ipv6 { 254 } else { 255 };
        if self.addresses.len() > limit {
            return Err(format!(
                "addresses: {} addresses, an instance carries at most {limit}",
                self.addresses.len()
            ));
        }
        if self.preempt == Some(false) && self.preempt_delay.is_some() {
            return Err(
                "preempt_delay has no effect with preempt: false; keep one of them".to_string(),
            );
        }
        Ok(())
    }
}

/// The checks across instances and with the rest of the file: none of `bgp_keys_set` (the
/// BGP-only keys the file sets) and no BGP-only service key beside `vrrp:`, every service named
/// exists, no two instances share an interface, VRID and family, and no address is in two
/// instances.
pub(crate) fn cross_check(
    instances: &[VrrpConfig],
    services: &[ServiceConfig],
    bgp_keys_set: &[&str],
) -> Result<(), Misplaced> {
    let on_down = |i: usize| {
        vec![
            Step::Key("services".into()),
            Step::Index(i),
            Step::Key("on_down".into()),
        ]
    };
    for (i, service) in services.iter().enumerate() {
        let demotes = matches!(service.on_down, super::Outcome::Demote(_));
        match (instances.is_empty(), demotes, service.demote_priority) {
            (true, _, Some(_)) => {
                return Err(Misplaced {
                    path: on_down(i),
                    message: "demote.priority applies to VRRP mode (vrrp:) only; remove it"
                        .to_string(),
                });
            }
            (false, true, None) => {
                return Err(Misplaced {
                    path: on_down(i),
                    message: "in VRRP mode a demotion lowers the priority: write \
                              {demote: {priority: N}} (keepalived's weight), or withdraw"
                        .to_string(),
                });
            }
            _ => {}
        }
    }
    if instances.is_empty() {
        return Ok(());
    }
    if let Some(&key) = bgp_keys_set.first() {
        let hint = match key {
            "addresses" => "; each instance has its own addresses",
            _ => "",
        };
        return Err(Misplaced {
            path: vec![Step::Key(key.to_string())],
            message: format!(
                "{key} is not used with vrrp: (VRRP mode runs no BGP sessions{hint}); remove it"
            ),
        });
    }
    // A service's keys that only shape BGP announcements: an instance follows its services'
    // states alone (maintenance always hands over; the instance has its own `preempt`).
    for (i, service) in services.iter().enumerate() {
        let bgp_only = [
            (
                "role",
                service.role.is_some(),
                "a service's role is the BGP community its addresses carry",
            ),
            (
                "addresses",
                service.addresses.is_some(),
                "an instance names its services in its own services:",
            ),
            (
                "preempt",
                !service.preempt,
                "use the instance's preempt: false",
            ),
            (
                "maintenance",
                matches!(service.maintenance, super::Outcome::Demote(_)),
                "maintenance always hands over (priority 0)",
            ),
        ];
        if let Some((key, _, why)) = bgp_only.iter().find(|k| k.1) {
            return Err(Misplaced {
                path: vec![
                    Step::Key("services".into()),
                    Step::Index(i),
                    Step::Key(key.to_string()),
                ],
                message: format!("{key} is not used with vrrp: ({why}); remove it"),
            });
        }
    }
    let at = |i: usize, key: &str| {
        vec![
            Step::Key("vrrp".into()),
            Step::Index(i),
            Step::Key(key.into()),
        ]
    };
    for (i, instance) in instances.iter().enumerate() {
        for (j, name) in instance.services.iter().flatten().enumerate() {
            if services.is_empty() || services.iter().any(|s| &s.name == name) {
                continue;
            }
            let defined: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
            let mut path = at(i, "services");
            path.push(Step::Index(j));
            return Err(Misplaced {
                path,
                message: format!(
                    "invalid value {name:?}: no such service; defined: {}",
                    defined.join(", ")
                ),
            });
        }
        for earlier in &instances[..i] {
            if earlier.same_router(instance) {
                return Err(Misplaced {
                    path: at(i, "vrid"),
                    message: format!(
                        "invalid value {}: another {} instance on {} has this vrid",
                        instance.vrid,
                        instance.family(),
                        instance.interface
                    ),
                });
            }
            if let Some(address) = instance
                .addresses
                .iter()
                .find(|a| earlier.addresses.iter().any(|e| e.addr() == a.addr()))
            {
                return Err(Misplaced {
                    path: at(i, "addresses"),
                    message: format!("{} is in another instance too", address.addr()),
                });
            }
        }
    }
    Ok(())
}

/// `vrrp:` as a list, or one mapping as a list of one.
pub(super) fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<VrrpConfig>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<Checked<RawVrrp>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a VRRP instance or a list of them")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let one = Checked::<RawVrrp>::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Ok(vec![one])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut all = Vec::new();
            while let Some(one) = seq.next_element()? {
                all.push(one);
            }
            Ok(all)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    let raw = d.deserialize_any(OneOrMany)?;
    Ok(raw.into_iter().map(|r| VrrpConfig::from(r.0)).collect())
}

/// `vrrp:`, always as a list, every key spelled out.
pub(super) fn render<S: Serializer>(instances: &[VrrpConfig], s: S) -> Result<S::Ok, S::Error> {
    let raw = instances
        .iter()
        .map(raw_vrrp)
        .collect::<Result<Vec<_>, String>>()
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

fn raw_vrrp(c: &VrrpConfig) -> Result<RawVrrp, String> {
    Ok(RawVrrp {
        interface: valid(&c.interface)?,
        vrid: valid(c.vrid)?,
        priority: Some(valid(c.priority)?),
        advert_interval: Some(valid(c.advert_interval)?),
        addresses: c.addresses.iter().map(valid).collect::<Result<_, _>>()?,
        link_local: c.link_local.map(valid).transpose()?,
        services: c
            .services
            .as_ref()
            .map(|list| list.iter().map(valid).collect::<Result<_, _>>())
            .transpose()?,
        preempt: Some(c.preempt),
        preempt_delay: c.preempt.then(|| duration(c.preempt_delay)).transpose()?,
        unicast_peers: Some(
            c.unicast_peers
                .iter()
                .map(valid)
                .collect::<Result<_, _>>()?,
        ),
        use_vmac: Some(c.use_vmac),
        _authentication: None,
    })
}

impl From<RawVrrp> for VrrpConfig {
    fn from(raw: RawVrrp) -> Self {
        VrrpConfig {
            interface: raw.interface.0,
            vrid: raw.vrid.0,
            priority: raw.priority.map_or(DEFAULT_PRIORITY, |p| p.0),
            advert_interval: raw.advert_interval.map_or(AdvertInterval::DEFAULT, |i| i.0),
            addresses: super::dedup(raw.addresses.into_iter().map(|a| a.0)),
            link_local: raw.link_local.map(|l| l.0),
            services: raw
                .services
                .map(|l| super::dedup(l.into_iter().map(Name::into_string))),
            preempt: raw.preempt.unwrap_or(true),
            preempt_delay: raw.preempt_delay.map_or(Duration::ZERO, |d| d.get()),
            unicast_peers: super::dedup(raw.unicast_peers.into_iter().flatten().map(|p| p.0)),
            use_vmac: raw.use_vmac.unwrap_or(false),
        }
    }
}

// ---- the value types ----

/// Reads a string value through `FromStr`, writes it through `Display`. The value is parsed
/// inside yaml_serde's `deserialize_str`, so an error carries the value's key path and line.
macro_rules! via_str {
    ($($ty:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(ValueVisitor(PhantomData::<$ty>))
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}

/// Reads an integer through `TryFrom<i64>`, writes it as one.
macro_rules! via_int {
    ($($ty:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_i64(ValueVisitor(PhantomData::<$ty>))
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                let n: i64 = text.parse().map_err(|e: std::num::ParseIntError| e.to_string())?;
                <$ty>::try_from(n)
            }
        }
    )*};
}

/// Parses a string with `FromStr` or an integer with `FromStr` of its digits (every integer type
/// here has one), naming the value in the error.
struct ValueVisitor<T>(PhantomData<T>);

impl<'de, T: FromStr<Err = String>> Visitor<'de> for ValueVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        text.parse()
            .map_err(|why| E::custom(format!("invalid value {text:?}: {why}")))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
        n.to_string()
            .parse()
            .map_err(|why| E::custom(format!("invalid value {n}: {why}")))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        n.to_string()
            .parse()
            .map_err(|why| E::custom(format!("invalid value {n}: {why}")))
    }
}

/// A network interface name as the kernel accepts it (IFNAMSIZ: at most 15 bytes).
pub(crate) struct InterfaceName(String);

impl FromStr for InterfaceName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= 15
            && text != "."
            && text != ".."
            && !text.contains(['/', ':'])
            && !text.chars().any(char::is_whitespace);
        if ok {
            Ok(InterfaceName(text.to_string()))
        } else {
            Err(
                "expected an interface name (1 to 15 characters, no '/', ':' or spaces)"
                    .to_string(),
            )
        }
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The Virtual Router Identifier.
pub(crate) struct Vrid(u8);

impl TryFrom<i64> for Vrid {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match u8::try_from(n) {
            Ok(vrid) if vrid >= 1 => Ok(Vrid(vrid)),
            _ => Err("a vrid is 1 to 255".to_string()),
        }
    }
}

/// The priority elastic takes part in the election with.
pub(crate) struct Priority(u8);

impl TryFrom<i64> for Priority {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match n {
            1..=254 => Ok(Priority(n as u8)),
            255 => Err(
                "255 is the priority of the router that owns the addresses; elastic adds and removes them, so it never owns them: use 1 to 254"
                    .to_string(),
            ),
            0 => Err("0 is what a stopping master sends; use 1 to 254".to_string()),
            _ => Err("expected 1 to 254".to_string()),
        }
    }
}

/// The advert interval: whole centiseconds, 10 ms to 40.95 s (12 bits on the wire).
pub(crate) struct Interval(AdvertInterval);

impl FromStr for Interval {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let duration = humantime::parse_duration(text.trim())
            .map_err(|_| "expected a duration such as 1s or 100ms".to_string())?;
        if duration < Duration::from_millis(10) || duration > Duration::from_millis(40_950) {
            return Err("must be from 10ms to 40.95s".to_string());
        }
        AdvertInterval::from_duration(duration)
            .map(Interval)
            .ok_or_else(|| "must be a multiple of 10ms (adverts carry centiseconds)".to_string())
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A virtual address with the prefix length it gets on the interface; a bare address is /32 or
/// /128.
pub(crate) struct VirtualAddress(IpNet);

impl FromStr for VirtualAddress {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let net = match IpNet::from_str(text) {
            Ok(net) => net,
            Err(_) => IpAddr::from_str(text)
                .map(IpNet::from)
                .map_err(|_| "not an address or CIDR".to_string())?,
        };
        let why = match net.addr() {
            a if a.is_unspecified() => Some("the unspecified address"),
            a if a.is_loopback() => Some("a loopback address"),
            a if a.is_multicast() => Some("a multicast address"),
            IpAddr::V4(a) if a.is_broadcast() => Some("the broadcast address"),
            IpAddr::V6(a) if a.is_unicast_link_local() => {
                Some("a link-local address (set link_local: for the advert's link-local address)")
            }
            _ => None,
        };
        match why {
            Some(why) => Err(format!("{why} cannot be a virtual address")),
            None => Ok(VirtualAddress(net)),
        }
    }
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An IPv6 link-local address (fe80::/10).
pub(crate) struct LinkLocal(Ipv6Addr);

impl FromStr for LinkLocal {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match Ipv6Addr::from_str(text) {
            Ok(a) if a.is_unicast_link_local() => Ok(LinkLocal(a)),
            _ => Err("expected an IPv6 link-local address (fe80::/10)".to_string()),
        }
    }
}

impl fmt::Display for LinkLocal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A unicast peer: another router's own address on the link.
pub(crate) struct PeerAddress(IpAddr);

impl FromStr for PeerAddress {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match IpAddr::from_str(text) {
            Ok(a) if a.is_unspecified() || a.is_multicast() || a.is_loopback() => {
                Err("expected a unicast address of another router on the link".to_string())
            }
            Ok(a) => Ok(PeerAddress(a)),
            Err(_) => Err("not an address".to_string()),
        }
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

via_str!(
    InterfaceName,
    Interval,
    VirtualAddress,
    LinkLocal,
    PeerAddress
);
via_int!(Vrid, Priority);

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `authentication:` (keepalived's `authentication { auth_type PASS|AH }`) is refused whatever
/// its value: VRRPv3 has no authentication field, so there is nothing to carry it in.
pub(crate) struct NoAuthentication;

const NO_AUTHENTICATION: &str = "VRRPv3 (RFC 9568), the only version elastic speaks, has no \
    authentication: keepalived's auth_type PASS or AH cannot be carried; remove this key (anyone \
    on the link can claim the address whatever the password, so protect the link)";

impl<'de> Deserialize<'de> for NoAuthentication {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Refuse;
        impl<'de> Visitor<'de> for Refuse {
            type Value = NoAuthentication;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("nothing")
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<NoAuthentication, A::Error> {
                Err(de::Error::custom(NO_AUTHENTICATION))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<NoAuthentication, A::Error> {
                Err(de::Error::custom(NO_AUTHENTICATION))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<NoAuthentication, E> {
                Err(E::custom(NO_AUTHENTICATION))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<NoAuthentication, E> {
                Err(E::custom(NO_AUTHENTICATION))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<NoAuthentication, E> {
                Err(E::custom(NO_AUTHENTICATION))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<NoAuthentication, E> {
                Err(E::custom(NO_AUTHENTICATION))
            }
        }
        d.deserialize_any(Refuse)
    }
}

#[cfg(test)]
mod tests;
