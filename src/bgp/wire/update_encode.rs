//! UPDATEs we send: announcements, withdrawals and End-of-RIB markers, packed up to 4096 octets.
//!
//! With one prefix and no MED the bytes are exactly lelastic's (GoBGP 3.x): attributes in
//! type-code order, ORIGIN 0x40, AS_PATH 0x40, COMMUNITIES 0xC0, MP_REACH_NLRI 0x80 with a
//! 16-octet global next hop and no link-local (the captures in `src/bgp/testdata/`).
//! [`path_attributes`] lists the same attributes for one prefix, for the GoBGP API.
//!
//! ```text
//! MP_REACH_NLRI value: AFI (2) | SAFI (1) | NH len (1) = 16 | next hop | Reserved (1) = 0 | NLRI
//! MP_UNREACH_NLRI value: AFI (2) | SAFI (1) | withdrawn NLRI
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::attribute::{
    ORIGIN_INCOMPLETE, PathAttribute, attribute_header_len, encoded_prefix_len, flag,
    mp_reach_value, put_attribute, put_prefix, type_code,
};
use super::{Family, HEADER_LEN, MAX_MESSAGE_LEN, TYPE_UPDATE, finish_message, start_message};
use crate::model::RouteAttrs;

/// What every announcement on one session shares.
#[derive(Debug, Clone, Copy)]
pub struct UpdateContext {
    /// Our AS, the only entry of the AS_PATH.
    pub local_as: u32,
    /// Both OPENs carried the 4-octet AS capability: the AS_PATH uses 4-octet ASNs.
    pub four_octet_as: bool,
    /// The next hop for every route: the session's local address. An IPv4-mapped IPv6 address
    /// counts as IPv4.
    pub next_hop: IpAddr,
}

/// The UPDATE's fixed part: header, Withdrawn Routes Length, Total Path Attribute Length.
const UPDATE_OVERHEAD: usize = HEADER_LEN + 2 + 2;

/// Packs prefixes greedily into messages: `message_len(n)` is the size of a message carrying
/// `n` NLRI octets, `build(nlri)` makes it. A prefix that does not fit even alone (the
/// attributes take all the room) is skipped.
fn pack<'a>(
    prefixes: impl Iterator<Item = &'a IpNet>,
    message_len: impl Fn(usize) -> usize,
    build: impl Fn(&[u8]) -> Vec<u8>,
    out: &mut Vec<Vec<u8>>,
) {
    let mut nlri = Vec::new();
    for prefix in prefixes {
        let needed = encoded_prefix_len(prefix);
        if !nlri.is_empty() && message_len(nlri.len() + needed) > MAX_MESSAGE_LEN {
            out.push(build(&nlri));
            nlri.clear();
        }
        if message_len(nlri.len() + needed) > MAX_MESSAGE_LEN {
            continue;
        }
        put_prefix(&mut nlri, prefix);
    }
    if !nlri.is_empty() {
        out.push(build(&nlri));
    }
}

/// An UPDATE from its three variable parts.
fn update_message(withdrawn: &[u8], attributes: &[&[u8]], nlri: &[u8]) -> Vec<u8> {
    let attributes_len: usize = attributes.iter().map(|a| a.len()).sum();
    let mut out = start_message(
        TYPE_UPDATE,
        4 + withdrawn.len() + attributes_len + nlri.len(),
    );
    out.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    out.extend_from_slice(withdrawn);
    out.extend_from_slice(&(attributes_len as u16).to_be_bytes());
    for part in attributes {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(nlri);
    finish_message(out)
}

/// How a route of one family travels on a session: in the classic NLRI field with NEXT_HOP, or
/// in MP_REACH_NLRI with an IPv6 next hop. `None`: it cannot be sent at all (an IPv6 prefix on a
/// session with only an IPv4 address).
#[derive(Debug, Clone, Copy)]
enum Carrier {
    Classic(Ipv4Addr),
    MpReach(Ipv6Addr),
}

fn carrier(family: Family, ctx: &UpdateContext) -> Option<Carrier> {
    match (family, ctx.next_hop.to_canonical()) {
        (Family::Ipv4Unicast, IpAddr::V4(next_hop)) => Some(Carrier::Classic(next_hop)),
        (_, IpAddr::V6(next_hop)) => Some(Carrier::MpReach(next_hop)),
        (Family::Ipv6Unicast, IpAddr::V4(_)) => None,
    }
}

/// ORIGIN, AS_PATH, [NEXT_HOP], [MED], [COMMUNITIES]: the attributes with type codes below
/// MP_REACH_NLRI.
fn leading_attributes(
    attrs: &RouteAttrs,
    ctx: &UpdateContext,
    next_hop: Option<Ipv4Addr>,
) -> Vec<PathAttribute> {
    let mut out = vec![
        PathAttribute::Origin(ORIGIN_INCOMPLETE),
        PathAttribute::AsPath {
            asn: ctx.local_as,
            four_octet: ctx.four_octet_as,
        },
    ];
    out.extend(next_hop.map(PathAttribute::NextHop));
    out.extend(attrs.med.map(PathAttribute::MultiExitDisc));
    if !attrs.communities.is_empty() {
        out.push(PathAttribute::Communities(attrs.communities.clone()));
    }
    out
}

/// AS4_PATH (RFC 6793 §4.2.2): only towards a 2-octet speaker when our AS needs 4 octets, so
/// the real AS survives the AS_TRANS in AS_PATH. Type 17 sorts after MP_REACH_NLRI.
fn trailing_attribute(ctx: &UpdateContext) -> Option<PathAttribute> {
    (!ctx.four_octet_as && u16::try_from(ctx.local_as).is_err())
        .then_some(PathAttribute::As4Path(ctx.local_as))
}

fn encode_all(attributes: impl IntoIterator<Item = PathAttribute>) -> Vec<u8> {
    let mut out = Vec::new();
    for attribute in attributes {
        attribute.encode(&mut out);
    }
    out
}

/// The path attributes an UPDATE announcing only `prefix` carries on a session with `ctx`, in
/// the order sent; empty when the prefix cannot be sent there (see [`encode_announcements`]).
pub fn path_attributes(
    prefix: &IpNet,
    attrs: &RouteAttrs,
    ctx: &UpdateContext,
) -> Vec<PathAttribute> {
    let family = Family::of(prefix);
    let Some(carrier) = carrier(family, ctx) else {
        return Vec::new();
    };
    let mut out = match carrier {
        Carrier::Classic(next_hop) => leading_attributes(attrs, ctx, Some(next_hop)),
        Carrier::MpReach(next_hop) => {
            let mut out = leading_attributes(attrs, ctx, None);
            out.push(PathAttribute::MpReachNlri {
                family,
                next_hop,
                prefixes: vec![*prefix],
            });
            out
        }
    };
    out.extend(trailing_attribute(ctx));
    out
}

/// Announces `prefixes` (any mix of families; one family per UPDATE, IPv4 first) that all share
/// `attrs`, packing as many prefixes per UPDATE as fit in 4096 octets, in input order.
///
/// - IPv4 prefix, IPv4 next hop: classic NLRI with a NEXT_HOP attribute.
/// - IPv4 prefix, IPv6 next hop: MP_REACH_NLRI AFI 1/SAFI 1 with a 16-octet next hop (RFC 8950),
///   as lelastic does (it sends this even when the peer did not advertise Extended Next Hop).
/// - IPv6 prefix, IPv6 next hop: MP_REACH_NLRI AFI 2/SAFI 1 with the 16-octet global next hop.
/// - IPv6 prefix, IPv4 next hop: cannot be expressed without an IPv6 address on the session,
///   so these prefixes are **skipped** (no message).
///
/// Prefixes are also skipped when the attributes alone leave no room (thousands of
/// communities). Host bits of a prefix are cleared on the wire.
pub fn encode_announcements(
    prefixes: &[IpNet],
    attrs: &RouteAttrs,
    ctx: &UpdateContext,
) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let trailing = encode_all(trailing_attribute(ctx));
    for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
        let mut of_family = prefixes
            .iter()
            .filter(|p| Family::of(p) == family)
            .peekable();
        if of_family.peek().is_none() {
            continue;
        }
        match carrier(family, ctx) {
            Some(Carrier::Classic(next_hop)) => {
                let leading = encode_all(leading_attributes(attrs, ctx, Some(next_hop)));
                let fixed = UPDATE_OVERHEAD + leading.len() + trailing.len();
                pack(
                    of_family,
                    |nlri_len| fixed + nlri_len,
                    |nlri| update_message(&[], &[&leading, &trailing], nlri),
                    &mut messages,
                );
            }
            Some(Carrier::MpReach(next_hop)) => {
                let leading = encode_all(leading_attributes(attrs, ctx, None));
                let fixed = UPDATE_OVERHEAD + leading.len() + trailing.len();
                let value_len = |nlri_len: usize| 5 + 16 + nlri_len;
                pack(
                    of_family,
                    |nlri_len| {
                        let value = value_len(nlri_len);
                        fixed + attribute_header_len(value) + value
                    },
                    |nlri| {
                        let mp = mp_reach(family, &next_hop, nlri);
                        update_message(&[], &[&leading, &mp, &trailing], &[])
                    },
                    &mut messages,
                );
            }
            None => {}
        }
    }
    messages
}

fn mp_reach(family: Family, next_hop: &Ipv6Addr, nlri: &[u8]) -> Vec<u8> {
    let value = mp_reach_value(family, next_hop, nlri);
    let mut attribute = Vec::with_capacity(4 + value.len());
    put_attribute(
        &mut attribute,
        flag::OPTIONAL,
        type_code::MP_REACH_NLRI,
        &value,
    );
    attribute
}

fn mp_unreach(family: Family, nlri: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(3 + nlri.len());
    value.extend_from_slice(&family.afi().to_be_bytes());
    value.push(family.safi());
    value.extend_from_slice(nlri);
    let mut attribute = Vec::with_capacity(4 + value.len());
    put_attribute(
        &mut attribute,
        flag::OPTIONAL,
        type_code::MP_UNREACH_NLRI,
        &value,
    );
    attribute
}

/// Withdraws `prefixes`, packed: IPv4 in the classic Withdrawn Routes field (as GoBGP does, even
/// for routes announced in MP_REACH_NLRI), IPv6 in MP_UNREACH_NLRI (0x80 0x0f). IPv4 first.
pub fn encode_withdrawals(prefixes: &[IpNet]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    pack(
        prefixes.iter().filter(|p| matches!(p, IpNet::V4(_))),
        |nlri_len| UPDATE_OVERHEAD + nlri_len,
        |nlri| update_message(nlri, &[], &[]),
        &mut messages,
    );
    pack(
        prefixes.iter().filter(|p| matches!(p, IpNet::V6(_))),
        |nlri_len| {
            let value = 3 + nlri_len;
            UPDATE_OVERHEAD + attribute_header_len(value) + value
        },
        |nlri| update_message(&[], &[&mp_unreach(Family::Ipv6Unicast, nlri)], &[]),
        &mut messages,
    );
    messages
}

/// End-of-RIB (RFC 4724 §2). IPv4: the empty UPDATE `00 17 02 0000 0000`; IPv6: an UPDATE with
/// only an empty MP_UNREACH_NLRI for AFI 2/SAFI 1.
pub fn encode_end_of_rib(family: Family) -> Vec<u8> {
    match family {
        Family::Ipv4Unicast => update_message(&[], &[], &[]),
        Family::Ipv6Unicast => update_message(&[], &[&mp_unreach(family, &[])], &[]),
    }
}
