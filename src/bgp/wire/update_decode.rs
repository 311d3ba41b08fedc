//! Received UPDATEs (RFC 4271 §4.3): validated with RFC 7606 revised error handling, counted and
//! discarded. One pass over the bytes, no allocation on the success path.
//!
//! ```text
//! +-----------------+-----------------+----------------------+----------------+-------------+
//! | Withdrawn len 2 | Withdrawn Routes| Total Path Attr len 2| Path Attributes| NLRI        |
//! +-----------------+-----------------+----------------------+----------------+-------------+
//! Attribute: flags (1) | type (1) | length (1, or 2 with the Extended Length flag 0x10) | value
//! Prefix:    length in bits (1) | ceil(bits / 8) octets
//! ```
//!
//! RFC 7606 outcomes: a [`DecodeError`] (session reset) only for framing, NLRI syntax (§5.3),
//! MP_REACH/MP_UNREACH that cannot be parsed or appear twice (§3(g), §7.11), and attribute
//! section errors that hide where the NLRI or MP attributes are; otherwise treat-as-withdraw or
//! attribute-discard, reported in [`UpdateSummary`].

use super::attribute::flag;
use super::attribute::segment::{AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SEQUENCE, AS_SET};
use super::attribute::type_code::*;
use super::notification::{Notification, subcode::update};
use super::{DecodeContext, DecodeError, Family, be16};

/// What one received UPDATE carried. Routes are counted, never stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateSummary {
    /// Prefixes in the NLRI field and in MP_REACH_NLRI (counted even when `treat_as_withdraw`).
    pub announced: u32,
    /// Prefixes in the Withdrawn Routes field and in MP_UNREACH_NLRI.
    pub withdrawn: u32,
    /// The UPDATE is an End-of-RIB marker (RFC 4724 §2) for this family.
    pub end_of_rib: Option<Family>,
    /// RFC 7606 treat-as-withdraw: a path attribute was malformed or a mandatory one missing, so
    /// the `announced` prefixes must be handled as withdrawn.
    pub treat_as_withdraw: bool,
    /// RFC 7606 attribute-discard: attributes dropped (malformed ATOMIC_AGGREGATE, AGGREGATOR,
    /// AS4_PATH, AS4_AGGREGATOR; repeated attributes after the first).
    pub discarded_attributes: u32,
}

/// What RFC 7606 says to do with one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Fine,
    TreatAsWithdraw,
    Discard,
}

/// The Optional and Transitive bits each attribute we recognise must carry (RFC 7606 §3(c)).
fn expected_flags(type_code: u8) -> Option<u8> {
    match type_code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => Some(flag::TRANSITIVE),
        MULTI_EXIT_DISC | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => {
            Some(flag::OPTIONAL)
        }
        AGGREGATOR | COMMUNITIES | EXTENDED_COMMUNITIES | AS4_PATH | AS4_AGGREGATOR
        | LARGE_COMMUNITIES => Some(flag::OPTIONAL | flag::TRANSITIVE),
        _ => None,
    }
}

/// How a malformed attribute of this type is handled: attribute-discard for the ones RFC 7606
/// §7.6/§7.7 and RFC 6793 §6 say so, treat-as-withdraw for the rest.
fn malformed(type_code: u8) -> Verdict {
    match type_code {
        ATOMIC_AGGREGATE | AGGREGATOR | AS4_PATH | AS4_AGGREGATOR => Verdict::Discard,
        _ => Verdict::TreatAsWithdraw,
    }
}

fn update_error(subcode: u8, data: &[u8], reason: impl Into<String>) -> DecodeError {
    DecodeError::new(Notification::update_error(subcode, data.to_vec()), reason)
}

/// Counts prefixes in an NLRI-encoded field; Err(reason) on a length above `max_bits` or an
/// overrun (RFC 7606 §5.3: the field is then unusable).
fn count_prefixes(mut field: &[u8], max_bits: u8) -> Result<u32, String> {
    let mut count = 0u32;
    while let Some((&bits, rest)) = field.split_first() {
        if bits > max_bits {
            return Err(format!("prefix length {bits} exceeds {max_bits}"));
        }
        let octets = usize::from(bits).div_ceil(8);
        if rest.len() < octets {
            return Err(format!(
                "prefix of length {bits} needs {octets} octets, {} left",
                rest.len()
            ));
        }
        field = &rest[octets..];
        count += 1;
    }
    Ok(count)
}

/// Checks AS_PATH / AS4_PATH segments (RFC 4271 §4.3, RFC 7606 §7.2): known type (AS_SET,
/// AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET), non-zero count, no overrun.
fn as_path_is_valid(mut value: &[u8], asn_len: usize) -> bool {
    while let [segment_type, count, rest @ ..] = value {
        let octets = usize::from(*count) * asn_len;
        let known = matches!(
            *segment_type,
            AS_SET | AS_SEQUENCE | AS_CONFED_SEQUENCE | AS_CONFED_SET
        );
        if !known || *count == 0 || rest.len() < octets {
            return false;
        }
        value = &rest[octets..];
    }
    value.is_empty()
}

/// Decodes an UPDATE body (after the header; at least 4 octets, checked by the framing).
pub(super) fn decode_update(
    body: &[u8],
    ctx: &DecodeContext,
) -> Result<UpdateSummary, DecodeError> {
    let mut summary = UpdateSummary::default();

    let withdrawn_len = usize::from(be16(body, 0));
    let Some(withdrawn) = body.get(2..2 + withdrawn_len) else {
        return Err(update_error(
            update::MALFORMED_ATTRIBUTE_LIST,
            &[],
            format!("Withdrawn Routes Length {withdrawn_len} overruns the UPDATE"),
        ));
    };
    let after_withdrawn = &body[2 + withdrawn_len..];
    let Some(attr_len_octets) = after_withdrawn.get(..2) else {
        return Err(update_error(
            update::MALFORMED_ATTRIBUTE_LIST,
            &[],
            format!(
                "Withdrawn Routes Length {withdrawn_len} leaves no room for the attribute length"
            ),
        ));
    };
    let attr_len = usize::from(be16(attr_len_octets, 0));
    let Some(attributes) = after_withdrawn.get(2..2 + attr_len) else {
        return Err(update_error(
            update::MALFORMED_ATTRIBUTE_LIST,
            &[],
            format!("Total Path Attribute Length {attr_len} overruns the UPDATE"),
        ));
    };
    let nlri = &after_withdrawn[2 + attr_len..];

    summary.withdrawn = count_prefixes(withdrawn, 32).map_err(|why| {
        update_error(
            update::INVALID_NETWORK_FIELD,
            &[],
            format!("Withdrawn Routes: {why}"),
        )
    })?;
    let nlri_count = count_prefixes(nlri, 32)
        .map_err(|why| update_error(update::INVALID_NETWORK_FIELD, &[], format!("NLRI: {why}")))?;
    summary.announced = nlri_count;

    if body.len() == 4 {
        // Withdrawn Routes Length 0, Total Path Attribute Length 0: the IPv4 End-of-RIB.
        summary.end_of_rib = Some(Family::Ipv4Unicast);
        return Ok(summary);
    }

    let walk = walk_attributes(attributes, ctx, &mut summary)?;

    // RFC 7606 §3(d): missing well-known mandatory attributes → treat-as-withdraw. They are
    // needed only when the UPDATE announces something; NEXT_HOP only for the NLRI field
    // (RFC 4760 makes it optional for MP_REACH-only UPDATEs).
    if walk.complete && (nlri_count > 0 || walk.has(MP_REACH_NLRI)) {
        let missing_next_hop = nlri_count > 0 && !walk.has(NEXT_HOP);
        if !walk.has(ORIGIN) || !walk.has(AS_PATH) || missing_next_hop {
            summary.treat_as_withdraw = true;
        }
    }

    // RFC 4724 §2: an UPDATE with only an empty MP_UNREACH_NLRI is that family's End-of-RIB.
    if withdrawn.is_empty() && nlri.is_empty() && walk.attribute_count == 1 {
        summary.end_of_rib = walk.empty_unreach;
    }
    Ok(summary)
}

struct AttributeWalk {
    /// Bit per type code: seen at least once.
    seen: [u64; 4],
    attribute_count: u32,
    /// The attribute section parsed to its end (no overrun or truncation).
    complete: bool,
    /// A known family's MP_UNREACH_NLRI with no prefixes.
    empty_unreach: Option<Family>,
}

impl AttributeWalk {
    fn has(&self, type_code: u8) -> bool {
        self.seen[usize::from(type_code / 64)] & (1 << (type_code % 64)) != 0
    }

    fn mark(&mut self, type_code: u8) {
        self.seen[usize::from(type_code / 64)] |= 1 << (type_code % 64);
    }
}

fn walk_attributes(
    attributes: &[u8],
    ctx: &DecodeContext,
    summary: &mut UpdateSummary,
) -> Result<AttributeWalk, DecodeError> {
    let asn_len = if ctx.four_octet_as { 4 } else { 2 };
    let mut walk = AttributeWalk {
        seen: [0; 4],
        attribute_count: 0,
        complete: true,
        empty_unreach: None,
    };
    let mut rest = attributes;
    while !rest.is_empty() {
        // RFC 7606 §4: fewer octets than an attribute header, or an attribute length past the
        // end of the section → treat-as-withdraw, and Total Path Attribute Length still finds
        // the NLRI. If it is an MP attribute that overruns, its NLRI cannot be parsed → reset
        // (§3(j)).
        let flags = rest[0];
        let header_len = if flags & flag::EXTENDED_LENGTH != 0 {
            4
        } else {
            3
        };
        if rest.len() < header_len {
            summary.treat_as_withdraw = true;
            walk.complete = false;
            break;
        }
        let type_code = rest[1];
        let length = if header_len == 4 {
            usize::from(be16(rest, 2))
        } else {
            usize::from(rest[2])
        };
        let Some(value) = rest.get(header_len..header_len + length) else {
            if matches!(type_code, MP_REACH_NLRI | MP_UNREACH_NLRI) {
                return Err(update_error(
                    update::OPTIONAL_ATTRIBUTE_ERROR,
                    rest,
                    format!("attribute {type_code} length {length} overruns the path attributes"),
                ));
            }
            summary.treat_as_withdraw = true;
            walk.complete = false;
            break;
        };
        let whole = &rest[..header_len + length];
        rest = &rest[header_len + length..];
        walk.attribute_count += 1;

        // RFC 7606 §3(g): MP attributes twice → reset; any other repeat → discard the repeat.
        if walk.has(type_code) {
            if matches!(type_code, MP_REACH_NLRI | MP_UNREACH_NLRI) {
                return Err(update_error(
                    update::MALFORMED_ATTRIBUTE_LIST,
                    &[],
                    format!("attribute {type_code} appears more than once"),
                ));
            }
            summary.discarded_attributes += 1;
            continue;
        }
        walk.mark(type_code);

        let Some(expected) = expected_flags(type_code) else {
            // RFC 4271 §6.3: an unrecognised well-known attribute is a session error; unknown
            // optional attributes are accepted (and, being discarded routes, not forwarded).
            if flags & flag::OPTIONAL == 0 {
                return Err(update_error(
                    update::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                    whole,
                    format!("unrecognized well-known attribute {type_code}"),
                ));
            }
            continue;
        };
        let flags_ok = flags & (flag::OPTIONAL | flag::TRANSITIVE) == expected;

        let verdict = match type_code {
            MP_REACH_NLRI => {
                summary.announced += decode_mp_reach(value, whole)?;
                Verdict::Fine
            }
            MP_UNREACH_NLRI => {
                let (family, count) = decode_mp_unreach(value, whole)?;
                summary.withdrawn += count;
                if value.len() == 3 {
                    walk.empty_unreach = family;
                }
                Verdict::Fine
            }
            _ => {
                let valid = match type_code {
                    ORIGIN => matches!(value, [0..=2]),
                    AS_PATH => as_path_is_valid(value, asn_len),
                    NEXT_HOP | MULTI_EXIT_DISC | LOCAL_PREF | ORIGINATOR_ID => value.len() == 4,
                    ATOMIC_AGGREGATE => value.is_empty(),
                    AGGREGATOR => value.len() == asn_len + 4,
                    COMMUNITIES | CLUSTER_LIST => {
                        !value.is_empty() && value.len().is_multiple_of(4)
                    }
                    EXTENDED_COMMUNITIES => !value.is_empty() && value.len().is_multiple_of(8),
                    LARGE_COMMUNITIES => !value.is_empty() && value.len().is_multiple_of(12),
                    // RFC 6793 §4.1: a NEW speaker ignores AS4_* from another NEW speaker.
                    AS4_PATH => !ctx.four_octet_as && as_path_is_valid(value, 4),
                    AS4_AGGREGATOR => !ctx.four_octet_as && value.len() == 8,
                    _ => true,
                };
                if valid {
                    Verdict::Fine
                } else {
                    malformed(type_code)
                }
            }
        };
        // RFC 7606 §3(c): wrong Optional/Transitive bits make the attribute malformed.
        let verdict = if flags_ok {
            verdict
        } else {
            match malformed(type_code) {
                Verdict::Discard => Verdict::Discard,
                _ => Verdict::TreatAsWithdraw,
            }
        };
        match verdict {
            Verdict::Fine => {}
            Verdict::TreatAsWithdraw => summary.treat_as_withdraw = true,
            Verdict::Discard => summary.discarded_attributes += 1,
        }
    }
    Ok(walk)
}

/// ```text
/// AFI (2) | SAFI (1) | Next Hop Length (1) | Next Hop | Reserved (1) | NLRI
/// ```
/// Returns the number of prefixes for a family we speak (0 for others, which we never
/// negotiated and so do not parse).
fn decode_mp_reach(value: &[u8], whole: &[u8]) -> Result<u32, DecodeError> {
    let reset = |why: String| {
        update_error(
            update::OPTIONAL_ATTRIBUTE_ERROR,
            whole,
            format!("MP_REACH_NLRI: {why}"),
        )
    };
    let [a0, a1, safi, next_hop_len, rest @ ..] = value else {
        return Err(reset(format!("{} octets is too short", value.len())));
    };
    let next_hop_len = usize::from(*next_hop_len);
    // Next hop, then the reserved octet.
    let Some(nlri) = rest.get(next_hop_len + 1..) else {
        return Err(reset(format!("next hop length {next_hop_len} overruns")));
    };
    let afi = u16::from_be_bytes([*a0, *a1]);
    let Some(family) = Family::from_afi_safi(afi, *safi) else {
        return Ok(0);
    };
    // RFC 7606 §7.11: a next hop length that does not fit the AFI → session reset (we have no
    // AFI/SAFI disable). IPv4 may use a 16/32-octet IPv6 next hop (RFC 8950).
    let next_hop_ok = match family {
        Family::Ipv4Unicast => matches!(next_hop_len, 4 | 16 | 32),
        Family::Ipv6Unicast => matches!(next_hop_len, 16 | 32),
    };
    if !next_hop_ok {
        return Err(reset(format!(
            "next hop length {next_hop_len} is invalid for {family}"
        )));
    }
    count_prefixes(nlri, family.max_prefix_len()).map_err(reset)
}

/// ```text
/// AFI (2) | SAFI (1) | Withdrawn Routes
/// ```
fn decode_mp_unreach(value: &[u8], whole: &[u8]) -> Result<(Option<Family>, u32), DecodeError> {
    let reset = |why: String| {
        update_error(
            update::OPTIONAL_ATTRIBUTE_ERROR,
            whole,
            format!("MP_UNREACH_NLRI: {why}"),
        )
    };
    let [a0, a1, safi, withdrawn @ ..] = value else {
        return Err(reset(format!("{} octets is too short", value.len())));
    };
    let Some(family) = Family::from_afi_safi(u16::from_be_bytes([*a0, *a1]), *safi) else {
        return Ok((None, 0));
    };
    let count = count_prefixes(withdrawn, family.max_prefix_len()).map_err(reset)?;
    Ok((Some(family), count))
}
