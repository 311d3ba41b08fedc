//! OPEN (RFC 4271 §4.2) with capabilities (RFC 5492) and extended optional parameters (RFC 9072).
//!
//! ```text
//! +---------+-------+-----------+------------+-------------+---------------------+
//! | Version | My AS | Hold Time | BGP Ident. | Opt Parm Len| Optional Parameters |
//! +---------+-------+-----------+------------+-------------+---------------------+
//!   1         2       2           4            1             variable
//! Optional parameter: type (1) | length (1) | value;   type 2 = Capabilities
//! Capability:         code (1) | length (1) | value
//! RFC 9072: Opt Parm Len = 255 and a first type of 255 → a 2-octet length follows, and every
//! parameter length is 2 octets.
//! ```

use std::net::Ipv4Addr;

use super::notification::{Notification, subcode, truncate_at_char_boundary};
use super::{
    DecodeError, Family, HEADER_LEN, MAX_MESSAGE_LEN, TYPE_OPEN, be16, finish_message,
    start_message,
};

const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072: the marker type that announces extended optional parameters.
const PARAM_EXTENDED: u8 = 255;

const CAP_MULTIPROTOCOL: u8 = 1;
const CAP_ROUTE_REFRESH: u8 = 2;
const CAP_EXTENDED_NEXT_HOP: u8 = 5;
const CAP_FOUR_OCTET_AS: u8 = 65;
const CAP_FQDN: u8 = 73;

/// An OPEN message, sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    /// The 2-octet "My AS" field: AS_TRANS (23456) when the real AS needs 4 octets.
    pub my_as: u16,
    pub hold_time: u16,
    pub router_id: Ipv4Addr,
    /// In the order sent or received.
    pub capabilities: Vec<Capability>,
}

/// One capability (RFC 5492). Malformed values of known codes decode as `Unknown`, so a peer's
/// odd capability never resets the session: it simply does not count as advertised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Code 1 (RFC 4760).
    MultiProtocol { afi: u16, safi: u8 },
    /// Code 2 (RFC 2918).
    RouteRefresh,
    /// Code 65 (RFC 6793).
    FourOctetAs(u32),
    /// Code 5 (RFC 8950).
    ExtendedNextHop(Vec<ExtendedNextHopTuple>),
    /// Code 73 (draft-walton-bgp-hostname-capability), as GoBGP, FRR and BIRD send it.
    Fqdn { hostname: String, domain: String },
    /// Anything else, kept as raw bytes.
    Unknown { code: u8, data: Vec<u8> },
}

/// One entry of the Extended Next Hop capability: NLRI of (afi, safi) may carry a next hop of
/// `next_hop_afi`. The SAFI is 2 octets in this capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedNextHopTuple {
    pub afi: u16,
    pub safi: u16,
    pub next_hop_afi: u16,
}

impl Open {
    /// The speaker's AS: the 4-octet AS capability when present, else `my_as`.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    /// Advertises the 4-octet AS capability (65).
    pub fn four_octet_as(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
    }

    /// Advertises the multiprotocol capability for `family`. (An OPEN without any MP capability
    /// implies IPv4 unicast, RFC 4760 §8; that is for the session to decide.)
    pub fn multiprotocol(&self, family: Family) -> bool {
        self.capabilities.iter().any(|c| {
            matches!(c, Capability::MultiProtocol { afi, safi }
                if *afi == family.afi() && *safi == family.safi())
        })
    }

    /// Advertises that IPv4 unicast NLRI may carry an IPv6 next hop (RFC 8950).
    pub fn extended_next_hop_v4_over_v6(&self) -> bool {
        self.capabilities.iter().any(|c| match c {
            Capability::ExtendedNextHop(tuples) => tuples.iter().any(|t| {
                t.afi == super::AFI_IPV4
                    && t.safi == u16::from(super::SAFI_UNICAST)
                    && t.next_hop_afi == super::AFI_IPV6
            }),
            _ => false,
        })
    }

    /// The hostname from the FQDN capability.
    pub fn hostname(&self) -> Option<&str> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Fqdn { hostname, .. } => Some(hostname.as_str()),
            _ => None,
        })
    }
}

fn open_error(subcode: u8, data: Vec<u8>, reason: impl Into<String>) -> DecodeError {
    DecodeError::new(Notification::open_error(subcode, data), reason)
}

/// OPEN Message Error with no subcode: the optional parameters do not parse.
fn malformed(reason: impl Into<String>) -> DecodeError {
    open_error(subcode::UNSPECIFIC, Vec::new(), reason)
}

/// Decodes an OPEN body (after the header; at least 10 octets, checked by the framing).
pub(super) fn decode_open(body: &[u8]) -> Result<Open, DecodeError> {
    let version = body[0];
    if version != 4 {
        // RFC 4271 §6.2: the data is the largest version we support, as 2 octets.
        return Err(open_error(
            subcode::open::UNSUPPORTED_VERSION_NUMBER,
            4u16.to_be_bytes().to_vec(),
            format!("unsupported BGP version {version}"),
        ));
    }
    let my_as = be16(body, 1);
    let hold_time = be16(body, 3);
    let router_id = Ipv4Addr::new(body[5], body[6], body[7], body[8]);
    if router_id.is_unspecified() {
        return Err(open_error(
            subcode::open::BAD_BGP_IDENTIFIER,
            Vec::new(),
            "BGP identifier is 0.0.0.0",
        ));
    }
    if hold_time == 1 || hold_time == 2 {
        return Err(DecodeError::new(
            Notification::unacceptable_hold_time(),
            format!("hold time {hold_time} s (must be 0 or at least 3)"),
        ));
    }
    let capabilities = decode_optional_parameters(body[9], &body[10..])?;
    Ok(Open {
        version,
        my_as,
        hold_time,
        router_id,
        capabilities,
    })
}

/// Walks the optional parameters; `rest` is everything after the Opt Parm Len octet.
fn decode_optional_parameters(opt_len: u8, rest: &[u8]) -> Result<Vec<Capability>, DecodeError> {
    let extended = opt_len == 255 && rest.first() == Some(&PARAM_EXTENDED);
    let params = if extended {
        if rest.len() < 3 {
            return Err(malformed("extended optional parameters length is cut off"));
        }
        let length = usize::from(be16(rest, 1));
        let params = &rest[3..];
        if params.len() != length {
            return Err(malformed(format!(
                "extended optional parameters length {length} does not match the {} octets left",
                params.len()
            )));
        }
        params
    } else {
        if rest.len() != usize::from(opt_len) {
            return Err(malformed(format!(
                "optional parameters length {opt_len} does not match the {} octets left",
                rest.len()
            )));
        }
        rest
    };

    let header_len = if extended { 3 } else { 2 };
    let mut capabilities = Vec::new();
    let mut pos = 0;
    while pos < params.len() {
        let Some(header) = params.get(pos..pos + header_len) else {
            return Err(malformed("optional parameter header is cut off"));
        };
        let param_type = header[0];
        let length = if extended {
            usize::from(be16(header, 1))
        } else {
            usize::from(header[1])
        };
        let start = pos + header_len;
        let Some(value) = params.get(start..start + length) else {
            return Err(malformed(format!(
                "optional parameter type {param_type} length {length} overruns the OPEN"
            )));
        };
        pos = start + length;
        if param_type != PARAM_CAPABILITIES {
            return Err(open_error(
                subcode::open::UNSUPPORTED_OPTIONAL_PARAMETER,
                Vec::new(),
                format!("unsupported optional parameter type {param_type}"),
            ));
        }
        decode_capabilities(value, &mut capabilities)?;
    }
    Ok(capabilities)
}

fn decode_capabilities(mut value: &[u8], out: &mut Vec<Capability>) -> Result<(), DecodeError> {
    while let [code, length, rest @ ..] = value {
        let length = usize::from(*length);
        let Some(data) = rest.get(..length) else {
            return Err(malformed(format!(
                "capability {code} length {length} overruns its optional parameter"
            )));
        };
        out.push(decode_capability(*code, data));
        value = &rest[length..];
    }
    if !value.is_empty() {
        return Err(malformed("capability header is cut off"));
    }
    Ok(())
}

fn decode_capability(code: u8, data: &[u8]) -> Capability {
    let known = match (code, data) {
        (CAP_MULTIPROTOCOL, &[a0, a1, _reserved, safi]) => Some(Capability::MultiProtocol {
            afi: u16::from_be_bytes([a0, a1]),
            safi,
        }),
        (CAP_ROUTE_REFRESH, []) => Some(Capability::RouteRefresh),
        (CAP_FOUR_OCTET_AS, &[a, b, c, d]) => {
            Some(Capability::FourOctetAs(u32::from_be_bytes([a, b, c, d])))
        }
        (CAP_EXTENDED_NEXT_HOP, _) if !data.is_empty() && data.len().is_multiple_of(6) => {
            Some(Capability::ExtendedNextHop(
                data.chunks_exact(6)
                    .map(|t| ExtendedNextHopTuple {
                        afi: be16(t, 0),
                        safi: be16(t, 2),
                        next_hop_afi: be16(t, 4),
                    })
                    .collect(),
            ))
        }
        (CAP_FQDN, _) => decode_fqdn(data),
        _ => None,
    };
    known.unwrap_or_else(|| Capability::Unknown {
        code,
        data: data.to_vec(),
    })
}

/// `hostname length (1) | hostname | domain length (1) | domain`, both UTF-8, nothing after.
fn decode_fqdn(data: &[u8]) -> Option<Capability> {
    let (&host_len, rest) = data.split_first()?;
    let hostname = rest.get(..usize::from(host_len))?;
    let (&domain_len, rest) = rest[usize::from(host_len)..].split_first()?;
    let domain = rest.get(..usize::from(domain_len))?;
    if rest.len() != usize::from(domain_len) {
        return None;
    }
    Some(Capability::Fqdn {
        hostname: String::from_utf8(hostname.to_vec()).ok()?,
        domain: String::from_utf8(domain.to_vec()).ok()?,
    })
}

/// Encodes an OPEN with every capability in ONE optional parameter (type 2), in the order of
/// `open.capabilities`, as GoBGP does. If the capabilities exceed 253 octets the RFC 9072
/// extended format is used; values longer than 255 octets are cut, and capabilities that
/// would push the message past 4096 octets are left out.
pub fn encode_open(open: &Open) -> Vec<u8> {
    // Fixed part + opt len + RFC 9072 (255, 2-octet length) + parameter header (type, 2-octet length).
    const ROOM: usize = MAX_MESSAGE_LEN - HEADER_LEN - 10 - 3 - 3;
    let mut caps = Vec::new();
    for capability in &open.capabilities {
        let start = caps.len();
        encode_capability(capability, &mut caps);
        if caps.len() > ROOM {
            caps.truncate(start);
            break;
        }
    }

    let mut out = start_message(TYPE_OPEN, 16 + caps.len());
    out.push(open.version);
    out.extend_from_slice(&open.my_as.to_be_bytes());
    out.extend_from_slice(&open.hold_time.to_be_bytes());
    out.extend_from_slice(&open.router_id.octets());
    if caps.is_empty() {
        out.push(0);
    } else if caps.len() + 2 <= 255 {
        out.push((caps.len() + 2) as u8);
        out.push(PARAM_CAPABILITIES);
        out.push(caps.len() as u8);
    } else {
        out.push(255);
        out.push(PARAM_EXTENDED);
        out.extend_from_slice(&((caps.len() + 3) as u16).to_be_bytes());
        out.push(PARAM_CAPABILITIES);
        out.extend_from_slice(&(caps.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&caps);
    finish_message(out)
}

fn encode_capability(capability: &Capability, out: &mut Vec<u8>) {
    let mut put = |code: u8, value: &[u8]| {
        let value = &value[..value.len().min(255)];
        out.push(code);
        out.push(value.len() as u8);
        out.extend_from_slice(value);
    };
    match capability {
        Capability::MultiProtocol { afi, safi } => {
            let [a0, a1] = afi.to_be_bytes();
            put(CAP_MULTIPROTOCOL, &[a0, a1, 0, *safi]);
        }
        Capability::RouteRefresh => put(CAP_ROUTE_REFRESH, &[]),
        Capability::FourOctetAs(asn) => put(CAP_FOUR_OCTET_AS, &asn.to_be_bytes()),
        Capability::ExtendedNextHop(tuples) => {
            let mut value = Vec::with_capacity(tuples.len() * 6);
            // At most 42 tuples fit in 255 octets; cut whole tuples.
            for t in tuples.iter().take(255 / 6) {
                value.extend_from_slice(&t.afi.to_be_bytes());
                value.extend_from_slice(&t.safi.to_be_bytes());
                value.extend_from_slice(&t.next_hop_afi.to_be_bytes());
            }
            put(CAP_EXTENDED_NEXT_HOP, &value);
        }
        Capability::Fqdn { hostname, domain } => {
            // Two length octets + both names must fit in the 255-octet capability value.
            let hostname = truncate_at_char_boundary(hostname, 253);
            let domain = truncate_at_char_boundary(domain, 253 - hostname.len());
            let mut value = Vec::with_capacity(2 + hostname.len() + domain.len());
            value.push(hostname.len() as u8);
            value.extend_from_slice(hostname.as_bytes());
            value.push(domain.len() as u8);
            value.extend_from_slice(domain.as_bytes());
            put(CAP_FQDN, &value);
        }
        Capability::Unknown { code, data } => put(*code, data),
    }
}
