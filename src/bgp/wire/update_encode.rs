//! UPDATEs we send: announcements, withdrawals and End-of-RIB markers, packed up to 4096 octets.
//!
//! With one prefix and no MED the bytes are exactly lelastic's (GoBGP 3.x): attributes in
//! type-code order, ORIGIN 0x40, AS_PATH 0x40, COMMUNITIES 0xC0, MP_REACH_NLRI 0x80 with a
//! 16-octet global next hop and no link-local (the captures in `src/bgp/testdata/`).
//!
//! ```text
//! MP_REACH_NLRI value: AFI (2) | SAFI (1) | NH len (1) = 16 | next hop | Reserved (1) = 0 | NLRI
//! MP_UNREACH_NLRI value: AFI (2) | SAFI (1) | withdrawn NLRI
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::{Family, HEADER_LEN, MAX_MESSAGE_LEN, TYPE_UPDATE, finish_message, start_message};
use crate::announce::RouteAttrs;

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

const ORIGIN: u8 = 1;
const AS_PATH: u8 = 2;
const NEXT_HOP: u8 = 3;
const MULTI_EXIT_DISC: u8 = 4;
const COMMUNITIES: u8 = 8;
const MP_REACH_NLRI: u8 = 14;
const MP_UNREACH_NLRI: u8 = 15;
const AS4_PATH: u8 = 17;

const WELL_KNOWN: u8 = 0x40;
const OPTIONAL: u8 = 0x80;
const OPTIONAL_TRANSITIVE: u8 = 0xC0;
const EXTENDED_LENGTH: u8 = 0x10;

const ORIGIN_INCOMPLETE: u8 = 2;
const AS_SEQUENCE: u8 = 2;
/// RFC 6793: stands in for a 4-octet AS towards a speaker without the capability.
const AS_TRANS: u16 = 23456;

/// The UPDATE's fixed part: header, Withdrawn Routes Length, Total Path Attribute Length.
const UPDATE_OVERHEAD: usize = HEADER_LEN + 2 + 2;

/// Flags, type, length (1 octet, or 2 with Extended Length when the value exceeds 255), value.
fn put_attribute(out: &mut Vec<u8>, flags: u8, type_code: u8, value: &[u8]) {
    if value.len() > 255 {
        out.extend_from_slice(&[flags | EXTENDED_LENGTH, type_code]);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags, type_code, value.len() as u8]);
    }
    out.extend_from_slice(value);
}

fn attribute_header_len(value_len: usize) -> usize {
    if value_len > 255 { 4 } else { 3 }
}

/// Length in bits, then only the octets that hold the network part (host bits cleared).
fn put_prefix(out: &mut Vec<u8>, prefix: &IpNet) {
    let octets = encoded_prefix_len(prefix) - 1;
    out.push(prefix.prefix_len());
    match prefix.network() {
        IpAddr::V4(network) => out.extend_from_slice(&network.octets()[..octets]),
        IpAddr::V6(network) => out.extend_from_slice(&network.octets()[..octets]),
    }
}

fn encoded_prefix_len(prefix: &IpNet) -> usize {
    1 + usize::from(prefix.prefix_len()).div_ceil(8)
}

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

/// ORIGIN, AS_PATH, [NEXT_HOP], [MED], [COMMUNITIES]: the attributes with type codes below
/// MP_REACH_NLRI.
fn leading_attributes(
    attrs: &RouteAttrs,
    ctx: &UpdateContext,
    next_hop: Option<Ipv4Addr>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 4 * attrs.communities.len());
    put_attribute(&mut out, WELL_KNOWN, ORIGIN, &[ORIGIN_INCOMPLETE]);
    if ctx.four_octet_as {
        let mut path = vec![AS_SEQUENCE, 1];
        path.extend_from_slice(&ctx.local_as.to_be_bytes());
        put_attribute(&mut out, WELL_KNOWN, AS_PATH, &path);
    } else {
        let short = u16::try_from(ctx.local_as).unwrap_or(AS_TRANS);
        let mut path = vec![AS_SEQUENCE, 1];
        path.extend_from_slice(&short.to_be_bytes());
        put_attribute(&mut out, WELL_KNOWN, AS_PATH, &path);
    }
    if let Some(next_hop) = next_hop {
        put_attribute(&mut out, WELL_KNOWN, NEXT_HOP, &next_hop.octets());
    }
    if let Some(med) = attrs.med {
        put_attribute(&mut out, OPTIONAL, MULTI_EXIT_DISC, &med.to_be_bytes());
    }
    if !attrs.communities.is_empty() {
        let value: Vec<u8> = attrs
            .communities
            .iter()
            .flat_map(|c| c.to_be_bytes())
            .collect();
        put_attribute(&mut out, OPTIONAL_TRANSITIVE, COMMUNITIES, &value);
    }
    out
}

/// AS4_PATH (RFC 6793 §4.2.2): only towards a 2-octet speaker when our AS needs 4 octets, so
/// the real AS survives the AS_TRANS in AS_PATH. Type 17 sorts after MP_REACH_NLRI.
fn trailing_attributes(ctx: &UpdateContext) -> Vec<u8> {
    let mut out = Vec::new();
    if !ctx.four_octet_as && u16::try_from(ctx.local_as).is_err() {
        let mut path = vec![AS_SEQUENCE, 1];
        path.extend_from_slice(&ctx.local_as.to_be_bytes());
        put_attribute(&mut out, OPTIONAL_TRANSITIVE, AS4_PATH, &path);
    }
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
    let trailing = trailing_attributes(ctx);
    for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
        let mut of_family = prefixes
            .iter()
            .filter(|p| Family::of(p) == family)
            .peekable();
        if of_family.peek().is_none() {
            continue;
        }
        match (family, ctx.next_hop.to_canonical()) {
            (Family::Ipv4Unicast, IpAddr::V4(next_hop)) => {
                let leading = leading_attributes(attrs, ctx, Some(next_hop));
                let fixed = UPDATE_OVERHEAD + leading.len() + trailing.len();
                pack(
                    of_family,
                    |nlri_len| fixed + nlri_len,
                    |nlri| update_message(&[], &[&leading, &trailing], nlri),
                    &mut messages,
                );
            }
            (_, IpAddr::V6(next_hop)) => {
                let leading = leading_attributes(attrs, ctx, None);
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
            (Family::Ipv6Unicast, IpAddr::V4(_)) => {}
        }
    }
    messages
}

fn mp_reach(family: Family, next_hop: &Ipv6Addr, nlri: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(5 + 16 + nlri.len());
    value.extend_from_slice(&family.afi().to_be_bytes());
    value.extend_from_slice(&[family.safi(), 16]);
    value.extend_from_slice(&next_hop.octets());
    value.push(0); // Reserved (was the SNPA count, RFC 4760 §3)
    value.extend_from_slice(nlri);
    let mut attribute = Vec::with_capacity(4 + value.len());
    put_attribute(&mut attribute, OPTIONAL, MP_REACH_NLRI, &value);
    attribute
}

fn mp_unreach(family: Family, nlri: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(3 + nlri.len());
    value.extend_from_slice(&family.afi().to_be_bytes());
    value.push(family.safi());
    value.extend_from_slice(nlri);
    let mut attribute = Vec::with_capacity(4 + value.len());
    put_attribute(&mut attribute, OPTIONAL, MP_UNREACH_NLRI, &value);
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
