//! Path attributes (RFC 4271 §4.3, §5): the type codes and flags the decoder and the encoder
//! share, and [`PathAttribute`], one attribute as we send it.
//!
//! ```text
//! +-------+------+-------------------------------------+-------+
//! | Flags | Type | Length (1, or 2 with Extended Length) | Value |
//! +-------+------+-------------------------------------+-------+
//! Flags: Optional 0x80 | Transitive 0x40 | Partial 0x20 | Extended Length 0x10
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::{AS_TRANS, Family};

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod type_code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flag {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// ORIGIN values (RFC 4271 §5.1.1); elastic, like lelastic, always sends INCOMPLETE.
pub const ORIGIN_INCOMPLETE: u8 = 2;

/// AS_PATH segment types (RFC 4271 §4.3, RFC 5065).
pub mod segment {
    pub const AS_SET: u8 = 1;
    pub const AS_SEQUENCE: u8 = 2;
    pub const AS_CONFED_SEQUENCE: u8 = 3;
    pub const AS_CONFED_SET: u8 = 4;
}

/// One path attribute we send, in a form both the encoder and the API read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathAttribute {
    /// ORIGIN; always [`ORIGIN_INCOMPLETE`] from us.
    Origin(u8),
    /// AS_PATH of one AS_SEQUENCE holding our AS. Without the 4-octet AS capability the ASN is
    /// sent in 2 octets, as AS_TRANS when it does not fit (and [`PathAttribute::As4Path`] follows).
    AsPath {
        asn: u32,
        four_octet: bool,
    },
    /// NEXT_HOP, for IPv4 prefixes in the classic NLRI field.
    NextHop(Ipv4Addr),
    MultiExitDisc(u32),
    Communities(Vec<u32>),
    /// MP_REACH_NLRI (RFC 4760) with a 16-octet global next hop (RFC 8950 for IPv4 prefixes).
    MpReachNlri {
        family: Family,
        next_hop: Ipv6Addr,
        prefixes: Vec<IpNet>,
    },
    /// AS4_PATH (RFC 6793 §4.2.2) holding our 4-octet AS.
    As4Path(u32),
}

impl PathAttribute {
    pub fn type_code(&self) -> u8 {
        match self {
            PathAttribute::Origin(_) => type_code::ORIGIN,
            PathAttribute::AsPath { .. } => type_code::AS_PATH,
            PathAttribute::NextHop(_) => type_code::NEXT_HOP,
            PathAttribute::MultiExitDisc(_) => type_code::MULTI_EXIT_DISC,
            PathAttribute::Communities(_) => type_code::COMMUNITIES,
            PathAttribute::MpReachNlri { .. } => type_code::MP_REACH_NLRI,
            PathAttribute::As4Path(_) => type_code::AS4_PATH,
        }
    }

    /// The Optional and Transitive bits (Extended Length is added by the length).
    pub fn flags(&self) -> u8 {
        match self {
            PathAttribute::Origin(_) | PathAttribute::AsPath { .. } | PathAttribute::NextHop(_) => {
                flag::TRANSITIVE
            }
            PathAttribute::MultiExitDisc(_) | PathAttribute::MpReachNlri { .. } => flag::OPTIONAL,
            PathAttribute::Communities(_) | PathAttribute::As4Path(_) => {
                flag::OPTIONAL | flag::TRANSITIVE
            }
        }
    }

    /// Appends the whole attribute (flags, type, length, value) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut value = Vec::new();
        match self {
            PathAttribute::Origin(origin) => value.push(*origin),
            PathAttribute::AsPath { asn, four_octet } => {
                value.extend_from_slice(&[segment::AS_SEQUENCE, 1]);
                if *four_octet {
                    value.extend_from_slice(&asn.to_be_bytes());
                } else {
                    let short = u16::try_from(*asn).unwrap_or(AS_TRANS);
                    value.extend_from_slice(&short.to_be_bytes());
                }
            }
            PathAttribute::NextHop(next_hop) => value.extend_from_slice(&next_hop.octets()),
            PathAttribute::MultiExitDisc(med) => value.extend_from_slice(&med.to_be_bytes()),
            PathAttribute::Communities(communities) => {
                value.extend(communities.iter().flat_map(|c| c.to_be_bytes()));
            }
            PathAttribute::MpReachNlri {
                family,
                next_hop,
                prefixes,
            } => {
                let mut nlri = Vec::new();
                for prefix in prefixes {
                    put_prefix(&mut nlri, prefix);
                }
                value = mp_reach_value(*family, next_hop, &nlri);
            }
            PathAttribute::As4Path(asn) => {
                value.extend_from_slice(&[segment::AS_SEQUENCE, 1]);
                value.extend_from_slice(&asn.to_be_bytes());
            }
        }
        put_attribute(out, self.flags(), self.type_code(), &value);
    }

    /// The whole attribute as it goes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Flags, type, length (1 octet, or 2 with Extended Length when the value exceeds 255), value.
pub(super) fn put_attribute(out: &mut Vec<u8>, flags: u8, type_code: u8, value: &[u8]) {
    if value.len() > 255 {
        out.extend_from_slice(&[flags | flag::EXTENDED_LENGTH, type_code]);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags, type_code, value.len() as u8]);
    }
    out.extend_from_slice(value);
}

/// How long the header of an attribute with a value of `value_len` octets is.
pub(super) fn attribute_header_len(value_len: usize) -> usize {
    if value_len > 255 { 4 } else { 3 }
}

/// ```text
/// AFI (2) | SAFI (1) | NH len (1) = 16 | next hop | Reserved (1) = 0 | NLRI
/// ```
pub(super) fn mp_reach_value(family: Family, next_hop: &Ipv6Addr, nlri: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(5 + 16 + nlri.len());
    value.extend_from_slice(&family.afi().to_be_bytes());
    value.extend_from_slice(&[family.safi(), 16]);
    value.extend_from_slice(&next_hop.octets());
    value.push(0); // Reserved (was the SNPA count, RFC 4760 §3)
    value.extend_from_slice(nlri);
    value
}

/// Length in bits, then only the octets that hold the network part (host bits cleared).
pub(super) fn put_prefix(out: &mut Vec<u8>, prefix: &IpNet) {
    let octets = encoded_prefix_len(prefix) - 1;
    out.push(prefix.prefix_len());
    match prefix.network() {
        std::net::IpAddr::V4(network) => out.extend_from_slice(&network.octets()[..octets]),
        std::net::IpAddr::V6(network) => out.extend_from_slice(&network.octets()[..octets]),
    }
}

/// A prefix as NLRI: what [`put_prefix`] writes.
pub fn prefix_bytes(prefix: &IpNet) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_prefix_len(prefix));
    put_prefix(&mut out, prefix);
    out
}

pub(super) fn encoded_prefix_len(prefix: &IpNet) -> usize {
    1 + usize::from(prefix.prefix_len()).div_ceil(8)
}
