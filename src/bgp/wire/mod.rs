//! The BGP-4 codec and framing: bytes in, typed messages out, and the exact bytes we send.
//! Pure: no IO, no clock.
//!
//! Hand-written rather than built on a crate (rustbgpd-wire was the candidate) because:
//! - we must reproduce lelastic/GoBGP's bytes exactly *and* pack many prefixes per UPDATE, which
//!   is ~150 lines here;
//! - received UPDATEs are only counted and discarded, so the decoder walks the bytes once without
//!   allocating per prefix (memory stays flat with a 1M-route table) and takes RFC 7606 decisions
//!   as it goes; a typed decoder would build every route only to drop it;
//! - a one-maintainer 0.x crate with a breaking release every few weeks would churn this API.
//!
//! Layout: `open`, `notification` (error codes by name), `attribute` (path attribute type codes
//! and flags, what we send), `update_decode` (RFC 7606 count-and-discard) and `update_encode`
//! (announcements, withdrawals, End-of-RIB); framing and dispatch live here.
//!
//! Message header (RFC 4271 §4.1):
//! ```text
//! +--------------------------------+--------+------+
//! | Marker (16 x 0xff)             | Length | Type |
//! +--------------------------------+--------+------+
//!   16                               2        1      = 19 octets
//! ```

mod attribute;
mod notification;
mod open;
mod update_decode;
mod update_encode;

#[cfg(test)]
mod tests;

use std::fmt;

use ipnet::IpNet;

pub use attribute::{PathAttribute, prefix_bytes};
pub use notification::{Notification, code, subcode};
pub use open::{Capability, ExtendedNextHopTuple, Open, encode_open};
pub use update_decode::UpdateSummary;
pub use update_encode::{
    UpdateContext, encode_announcements, encode_end_of_rib, encode_withdrawals, path_attributes,
};

/// Length of the fixed message header (marker, length, type).
pub const HEADER_LEN: usize = 19;
/// Largest message allowed without the Extended Message capability (RFC 8654), which we never
/// advertise.
pub const MAX_MESSAGE_LEN: usize = 4096;

const MARKER: [u8; 16] = [0xff; 16];

/// RFC 6793: stands in for a 4-octet AS in the 2-octet "My AS" of an OPEN and in the AS_PATH
/// sent to a speaker without the 4-octet AS capability.
pub const AS_TRANS: u16 = 23456;

/// Message type codes (RFC 4271 §4.1, RFC 2918).
pub(crate) const TYPE_OPEN: u8 = 1;
pub(crate) const TYPE_UPDATE: u8 = 2;
pub(crate) const TYPE_NOTIFICATION: u8 = 3;
pub(crate) const TYPE_KEEPALIVE: u8 = 4;
pub(crate) const TYPE_ROUTE_REFRESH: u8 = 5;

/// AFI / SAFI numbers (IANA).
pub const AFI_IPV4: u16 = 1;
pub const AFI_IPV6: u16 = 2;
pub const SAFI_UNICAST: u8 = 1;

/// The address families elastic speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl Family {
    /// The family a prefix belongs to.
    pub fn of(prefix: &IpNet) -> Family {
        match prefix {
            IpNet::V4(_) => Family::Ipv4Unicast,
            IpNet::V6(_) => Family::Ipv6Unicast,
        }
    }

    pub fn afi(self) -> u16 {
        match self {
            Family::Ipv4Unicast => AFI_IPV4,
            Family::Ipv6Unicast => AFI_IPV6,
        }
    }

    pub fn safi(self) -> u8 {
        SAFI_UNICAST
    }

    /// The family for an AFI/SAFI pair, if it is one we speak.
    pub fn from_afi_safi(afi: u16, safi: u8) -> Option<Family> {
        match (afi, safi) {
            (AFI_IPV4, SAFI_UNICAST) => Some(Family::Ipv4Unicast),
            (AFI_IPV6, SAFI_UNICAST) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }

    /// Longest valid prefix length in bits.
    pub(crate) fn max_prefix_len(self) -> u8 {
        match self {
            Family::Ipv4Unicast => 32,
            Family::Ipv6Unicast => 128,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        })
    }
}

/// One decoded message. UPDATEs are summarised (counted), never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(UpdateSummary),
    Notification(Notification),
    Keepalive,
    /// RFC 2918 (the RFC 7313 subtype octet is ignored).
    RouteRefresh {
        afi: u16,
        safi: u8,
    },
}

/// What both OPENs negotiated that changes how UPDATEs decode.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeContext {
    /// Both sides advertised the 4-octet AS capability: AS_PATH and AGGREGATOR carry 4-octet ASNs.
    pub four_octet_as: bool,
}

/// Why a received message was rejected, and the NOTIFICATION that answers it.
///
/// Only returned when the session must be reset; RFC 7606 treat-as-withdraw and
/// attribute-discard are reported in [`UpdateSummary`] instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} [{notification}]")]
pub struct DecodeError {
    reason: String,
    notification: Notification,
}

impl DecodeError {
    pub(crate) fn new(notification: Notification, reason: impl Into<String>) -> Self {
        DecodeError {
            reason: reason.into(),
            notification,
        }
    }

    /// The NOTIFICATION to send before closing the session (RFC 4271 §6, RFC 7606).
    pub fn notification(&self) -> Notification {
        self.notification.clone()
    }

    /// What was wrong, in words, for the log.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Message Header Error / Bad Message Length: the data is the erroneous length field.
fn bad_length(length: u16, reason: impl Into<String>) -> DecodeError {
    let data = length.to_be_bytes().to_vec();
    DecodeError::new(
        Notification::header_error(subcode::header::BAD_MESSAGE_LENGTH, data),
        reason,
    )
}

/// Message Header Error / Connection Not Synchronized: the marker is not all ones.
fn not_synchronized() -> DecodeError {
    DecodeError::new(
        Notification::header_error(subcode::header::CONNECTION_NOT_SYNCHRONIZED, Vec::new()),
        "message header marker is not all ones",
    )
}

/// Message Header Error / Bad Message Type: the data is the type octet.
fn bad_type(message_type: u8) -> DecodeError {
    DecodeError::new(
        Notification::header_error(subcode::header::BAD_MESSAGE_TYPE, vec![message_type]),
        format!("unknown message type {message_type}"),
    )
}

/// Smallest valid length of each message type (RFC 4271 §4, RFC 2918 §3).
fn min_len(message_type: u8) -> Option<usize> {
    match message_type {
        TYPE_OPEN => Some(29),
        TYPE_UPDATE => Some(23),
        TYPE_NOTIFICATION => Some(21),
        TYPE_KEEPALIVE => Some(19),
        TYPE_ROUTE_REFRESH => Some(23),
        _ => None,
    }
}

/// Checks the 19-octet header at the start of `buf` (which must hold at least that much) and
/// returns (length, type).
fn check_header(buf: &[u8]) -> Result<(usize, u8), DecodeError> {
    if buf[..16] != MARKER {
        return Err(not_synchronized());
    }
    let length_field = u16::from_be_bytes([buf[16], buf[17]]);
    let length = usize::from(length_field);
    let message_type = buf[18];
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&length) {
        return Err(bad_length(
            length_field,
            format!("message length {length} is outside 19..=4096"),
        ));
    }
    let Some(min) = min_len(message_type) else {
        return Err(bad_type(message_type));
    };
    if length < min || (message_type == TYPE_KEEPALIVE && length != HEADER_LEN) {
        return Err(bad_length(
            length_field,
            format!("message length {length} is invalid for message type {message_type}"),
        ));
    }
    Ok((length, message_type))
}

/// Finds the first message in a receive buffer.
///
/// `Ok(None)`: `buf` holds less than one whole message. `Ok(Some(n))`: the first message is
/// `buf[..n]`. `Err`: a header error (1/x): bad marker, length < 19 or > 4096, a length too
/// small for the type, or an unknown type. The stream cannot be resynchronised after that.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    // Fail early on a bad marker, even before 19 octets have arrived.
    let marker_part = &buf[..buf.len().min(MARKER.len())];
    if marker_part.iter().any(|&b| b != 0xff) {
        return Err(not_synchronized());
    }
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let (length, _) = check_header(buf)?;
    Ok((buf.len() >= length).then_some(length))
}

/// Decodes one whole message (header included).
///
/// Received UPDATEs are only counted, never stored: the work is one pass over the bytes and
/// memory does not grow with the number of prefixes.
pub fn decode(message: &[u8], ctx: &DecodeContext) -> Result<Message, DecodeError> {
    if message.len() < HEADER_LEN {
        return Err(DecodeError::new(
            Notification::header_error(subcode::header::BAD_MESSAGE_LENGTH, Vec::new()),
            format!("{} octets is shorter than a message header", message.len()),
        ));
    }
    let (length, message_type) = check_header(message)?;
    if length != message.len() {
        return Err(bad_length(
            length as u16,
            format!(
                "length field says {length} octets but the message has {}",
                message.len()
            ),
        ));
    }
    let body = &message[HEADER_LEN..];
    match message_type {
        TYPE_OPEN => open::decode_open(body).map(Message::Open),
        TYPE_UPDATE => update_decode::decode_update(body, ctx).map(Message::Update),
        TYPE_NOTIFICATION => Ok(Message::Notification(Notification::new(
            body[0],
            body[1],
            body[2..].to_vec(),
        ))),
        TYPE_KEEPALIVE => Ok(Message::Keepalive),
        TYPE_ROUTE_REFRESH => Ok(Message::RouteRefresh {
            afi: u16::from_be_bytes([body[0], body[1]]),
            safi: body[3],
        }),
        // check_header rejected every other type.
        other => Err(bad_type(other)),
    }
}

/// A KEEPALIVE: just the header.
pub fn encode_keepalive() -> Vec<u8> {
    let out = start_message(TYPE_KEEPALIVE, 0);
    finish_message(out)
}

/// A NOTIFICATION; data longer than fits in 4096 octets is cut.
pub fn encode_notification(n: &Notification) -> Vec<u8> {
    let data = &n.data[..n.data.len().min(MAX_MESSAGE_LEN - HEADER_LEN - 2)];
    let mut out = start_message(TYPE_NOTIFICATION, 2 + data.len());
    out.push(n.code);
    out.push(n.subcode);
    out.extend_from_slice(data);
    finish_message(out)
}

/// Starts a message: marker, a length placeholder, the type; `body_hint` sizes the buffer.
pub(crate) fn start_message(message_type: u8, body_hint: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body_hint);
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0, message_type]);
    out
}

/// Fills in the length field. Callers keep messages within [`MAX_MESSAGE_LEN`].
pub(crate) fn finish_message(mut out: Vec<u8>) -> Vec<u8> {
    debug_assert!(
        out.len() <= MAX_MESSAGE_LEN,
        "message of {} octets",
        out.len()
    );
    let length = u16::try_from(out.len()).unwrap_or(u16::MAX);
    out[16..18].copy_from_slice(&length.to_be_bytes());
    out
}

/// Big-endian u16 at `at`; callers have checked the bounds.
pub(crate) fn be16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}
