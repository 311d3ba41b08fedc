//! NOTIFICATION (RFC 4271 §4.5): the error code names, the Cease subcodes (RFC 4486, 8538) and
//! the RFC 9003 shutdown communication.
//!
//! ```text
//! +------------+---------------+------------------+
//! | Error code | Error subcode | Data (variable)  |
//! +------------+---------------+------------------+
//! ```

use std::fmt;

/// A NOTIFICATION message, sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

/// RFC 9003: the shutdown communication is at most 255 octets of UTF-8.
const MAX_SHUTDOWN_MESSAGE: usize = 255;

const CEASE: u8 = 6;
const CEASE_ADMIN_SHUTDOWN: u8 = 2;
const CEASE_ADMIN_RESET: u8 = 4;

impl Notification {
    fn bare(code: u8, subcode: u8) -> Notification {
        Notification {
            code,
            subcode,
            data: Vec::new(),
        }
    }

    /// Cease / Administrative Shutdown (6/2) with an RFC 9003 shutdown communication: one length
    /// octet, then the message cut at a character boundary to 255 octets. An empty message
    /// sends no data.
    pub fn cease_admin_shutdown(message: &str) -> Notification {
        let text = truncate_at_char_boundary(message, MAX_SHUTDOWN_MESSAGE);
        let mut data = Vec::with_capacity(1 + text.len());
        if !text.is_empty() {
            data.push(text.len() as u8);
            data.extend_from_slice(text.as_bytes());
        }
        Notification {
            code: CEASE,
            subcode: CEASE_ADMIN_SHUTDOWN,
            data,
        }
    }

    /// Cease / Peer De-configured (6/3): what gobgpd sends when it stops.
    pub fn cease_peer_deconfigured() -> Notification {
        Notification::bare(CEASE, 3)
    }

    /// Cease / Other Configuration Change (6/6): a session restarted because its settings
    /// changed (a reload changed the router id or the TTL).
    pub fn cease_other_configuration_change() -> Notification {
        Notification::bare(CEASE, 6)
    }

    /// Hold Timer Expired (4/0).
    pub fn hold_timer_expired() -> Notification {
        Notification::bare(4, 0)
    }

    /// Finite State Machine Error (5/0).
    pub fn fsm_error() -> Notification {
        Notification::bare(5, 0)
    }

    /// OPEN Message Error / Bad Peer AS (2/2). RFC 4271 defines no data; like FRR we send the AS
    /// the peer claimed (2 octets, or 4 when it does not fit), which helps the other side's log.
    pub fn open_bad_peer_as(asn: u32) -> Notification {
        let data = match u16::try_from(asn) {
            Ok(short) => short.to_be_bytes().to_vec(),
            Err(_) => asn.to_be_bytes().to_vec(),
        };
        Notification {
            code: 2,
            subcode: 2,
            data,
        }
    }

    /// OPEN Message Error / Unacceptable Hold Time (2/6).
    pub fn unacceptable_hold_time() -> Notification {
        Notification::bare(2, 6)
    }

    /// RFC 9003 shutdown communication for Cease 6/2 and 6/4, if present and valid UTF-8.
    pub fn shutdown_message(&self) -> Option<String> {
        if self.code != CEASE || !matches!(self.subcode, CEASE_ADMIN_SHUTDOWN | CEASE_ADMIN_RESET) {
            return None;
        }
        let (&length, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(length))?;
        if text.is_empty() {
            return None;
        }
        String::from_utf8(text.to_vec()).ok()
    }

    /// "Cease", "UPDATE Message Error", … or None for an unassigned code.
    pub fn code_name(&self) -> Option<&'static str> {
        Some(match self.code {
            1 => "Message Header Error",
            2 => "OPEN Message Error",
            3 => "UPDATE Message Error",
            4 => "Hold Timer Expired",
            5 => "Finite State Machine Error",
            6 => "Cease",
            7 => "ROUTE-REFRESH Message Error",
            _ => return None,
        })
    }

    /// The subcode's name (RFC 4271, 4486, 5492, 6608, 7313, 8538, 9234), or None when the
    /// subcode is 0 (unspecific) or unassigned.
    pub fn subcode_name(&self) -> Option<&'static str> {
        Some(match (self.code, self.subcode) {
            (1, 1) => "Connection Not Synchronized",
            (1, 2) => "Bad Message Length",
            (1, 3) => "Bad Message Type",
            (2, 1) => "Unsupported Version Number",
            (2, 2) => "Bad Peer AS",
            (2, 3) => "Bad BGP Identifier",
            (2, 4) => "Unsupported Optional Parameter",
            (2, 5) => "Authentication Failure (deprecated)",
            (2, 6) => "Unacceptable Hold Time",
            (2, 7) => "Unsupported Capability",
            (2, 11) => "Role Mismatch",
            (3, 1) => "Malformed Attribute List",
            (3, 2) => "Unrecognized Well-known Attribute",
            (3, 3) => "Missing Well-known Attribute",
            (3, 4) => "Attribute Flags Error",
            (3, 5) => "Attribute Length Error",
            (3, 6) => "Invalid ORIGIN Attribute",
            (3, 7) => "AS Routing Loop (deprecated)",
            (3, 8) => "Invalid NEXT_HOP Attribute",
            (3, 9) => "Optional Attribute Error",
            (3, 10) => "Invalid Network Field",
            (3, 11) => "Malformed AS_PATH",
            (5, 1) => "Receive Unexpected Message in OpenSent State",
            (5, 2) => "Receive Unexpected Message in OpenConfirm State",
            (5, 3) => "Receive Unexpected Message in Established State",
            (6, 1) => "Maximum Number of Prefixes Reached",
            (6, 2) => "Administrative Shutdown",
            (6, 3) => "Peer De-configured",
            (6, 4) => "Administrative Reset",
            (6, 5) => "Connection Rejected",
            (6, 6) => "Other Configuration Change",
            (6, 7) => "Connection Collision Resolution",
            (6, 8) => "Out of Resources",
            (6, 9) => "Hard Reset",
            (6, 10) => "BFD Down",
            (7, 1) => "Invalid Message Length",
            _ => return None,
        })
    }
}

impl fmt::Display for Notification {
    /// e.g. `Cease/Administrative Shutdown (6/2): "msg"`, `Hold Timer Expired (4/0)`,
    /// `Cease/subcode 42 (6/42)`, `error code 99 (99/1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code_name(), self.subcode_name()) {
            (Some(code), Some(subcode)) => write!(f, "{code}/{subcode}")?,
            (Some(code), None) if self.subcode == 0 => f.write_str(code)?,
            (Some(code), None) => write!(f, "{code}/subcode {}", self.subcode)?,
            (None, _) => write!(f, "error code {}", self.code)?,
        }
        write!(f, " ({}/{})", self.code, self.subcode)?;
        if let Some(message) = self.shutdown_message() {
            write!(f, ": {message:?}")?;
        } else if !self.data.is_empty() {
            // Enough of the data to identify the offending field; it can be 4 KB.
            const SHOWN: usize = 32;
            f.write_str(", data ")?;
            for byte in self.data.iter().take(SHOWN) {
                write!(f, "{byte:02x}")?;
            }
            if self.data.len() > SHOWN {
                write!(f, "… ({} octets)", self.data.len())?;
            }
        }
        Ok(())
    }
}

/// The longest prefix of `text` that is at most `max` octets and ends on a character boundary.
pub(crate) fn truncate_at_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
