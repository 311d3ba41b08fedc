//! NOTIFICATION (RFC 4271 §4.5): every error code and subcode by name (RFC 4271 §6, RFC 4486,
//! RFC 6608, RFC 7313, RFC 8538), the constructors for the ones we send, and the RFC 9003
//! shutdown communication.
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

/// Error codes (RFC 4271 §4.5, RFC 7313 §5).
pub mod code {
    pub const MESSAGE_HEADER_ERROR: u8 = 1;
    pub const OPEN_MESSAGE_ERROR: u8 = 2;
    pub const UPDATE_MESSAGE_ERROR: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM_ERROR: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH_MESSAGE_ERROR: u8 = 7;
}

/// Subcodes, one module per error code. 0 is "unspecific" for every code.
pub mod subcode {
    pub const UNSPECIFIC: u8 = 0;

    /// Message Header Error (RFC 4271 §6.1).
    pub mod header {
        pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
        pub const BAD_MESSAGE_LENGTH: u8 = 2;
        pub const BAD_MESSAGE_TYPE: u8 = 3;
    }

    /// OPEN Message Error (RFC 4271 §6.2, RFC 5492, RFC 9234).
    pub mod open {
        pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
        pub const BAD_PEER_AS: u8 = 2;
        pub const BAD_BGP_IDENTIFIER: u8 = 3;
        pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
        /// Deprecated by RFC 4271.
        pub const AUTHENTICATION_FAILURE: u8 = 5;
        pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
        pub const UNSUPPORTED_CAPABILITY: u8 = 7;
        pub const ROLE_MISMATCH: u8 = 11;
    }

    /// UPDATE Message Error (RFC 4271 §6.3, RFC 7606).
    pub mod update {
        pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
        pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
        pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
        pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
        pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
        pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
        /// Deprecated by RFC 4271.
        pub const AS_ROUTING_LOOP: u8 = 7;
        pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
        pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
        pub const INVALID_NETWORK_FIELD: u8 = 10;
        pub const MALFORMED_AS_PATH: u8 = 11;
    }

    /// Finite State Machine Error (RFC 6608).
    pub mod fsm {
        pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
        pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
        pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
    }

    /// Cease (RFC 4486, RFC 8538, RFC 9384).
    pub mod cease {
        pub const MAXIMUM_PREFIXES_REACHED: u8 = 1;
        pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
        pub const PEER_DECONFIGURED: u8 = 3;
        pub const ADMINISTRATIVE_RESET: u8 = 4;
        pub const CONNECTION_REJECTED: u8 = 5;
        pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
        pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
        pub const OUT_OF_RESOURCES: u8 = 8;
        pub const HARD_RESET: u8 = 9;
        pub const BFD_DOWN: u8 = 10;
    }

    /// ROUTE-REFRESH Message Error (RFC 7313 §5).
    pub mod route_refresh {
        pub const INVALID_MESSAGE_LENGTH: u8 = 1;
    }
}

use code::*;
use subcode::UNSPECIFIC;

impl Notification {
    pub fn new(code: u8, subcode: u8, data: Vec<u8>) -> Notification {
        Notification {
            code,
            subcode,
            data,
        }
    }

    fn bare(code: u8, subcode: u8) -> Notification {
        Notification::new(code, subcode, Vec::new())
    }

    /// Message Header Error (1/`subcode`).
    pub fn header_error(subcode: u8, data: Vec<u8>) -> Notification {
        Notification::new(MESSAGE_HEADER_ERROR, subcode, data)
    }

    /// OPEN Message Error (2/`subcode`).
    pub fn open_error(subcode: u8, data: Vec<u8>) -> Notification {
        Notification::new(OPEN_MESSAGE_ERROR, subcode, data)
    }

    /// UPDATE Message Error (3/`subcode`).
    pub fn update_error(subcode: u8, data: Vec<u8>) -> Notification {
        Notification::new(UPDATE_MESSAGE_ERROR, subcode, data)
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
        Notification::new(CEASE, subcode::cease::ADMINISTRATIVE_SHUTDOWN, data)
    }

    /// Cease / Peer De-configured (6/3): what gobgpd sends when it stops.
    pub fn cease_peer_deconfigured() -> Notification {
        Notification::bare(CEASE, subcode::cease::PEER_DECONFIGURED)
    }

    /// Cease / Other Configuration Change (6/6): a session restarted because its settings
    /// changed (a reload changed the router id or the TTL).
    pub fn cease_other_configuration_change() -> Notification {
        Notification::bare(CEASE, subcode::cease::OTHER_CONFIGURATION_CHANGE)
    }

    /// Cease / BFD Down (6/10, RFC 9384): the BFD session beside this one failed.
    pub fn cease_bfd_down() -> Notification {
        Notification::bare(CEASE, subcode::cease::BFD_DOWN)
    }

    /// Hold Timer Expired (4/0).
    pub fn hold_timer_expired() -> Notification {
        Notification::bare(HOLD_TIMER_EXPIRED, UNSPECIFIC)
    }

    /// Finite State Machine Error (5/0).
    pub fn fsm_error() -> Notification {
        Notification::bare(FSM_ERROR, UNSPECIFIC)
    }

    /// OPEN Message Error / Bad Peer AS (2/2). RFC 4271 defines no data; like FRR we send the AS
    /// the peer claimed (2 octets, or 4 when it does not fit), which helps the other side's log.
    pub fn open_bad_peer_as(asn: u32) -> Notification {
        let data = match u16::try_from(asn) {
            Ok(short) => short.to_be_bytes().to_vec(),
            Err(_) => asn.to_be_bytes().to_vec(),
        };
        Notification::open_error(subcode::open::BAD_PEER_AS, data)
    }

    /// OPEN Message Error / Unacceptable Hold Time (2/6).
    pub fn unacceptable_hold_time() -> Notification {
        Notification::open_error(subcode::open::UNACCEPTABLE_HOLD_TIME, Vec::new())
    }

    /// RFC 9003 shutdown communication for Cease 6/2 and 6/4, if present and valid UTF-8.
    pub fn shutdown_message(&self) -> Option<String> {
        use subcode::cease::{ADMINISTRATIVE_RESET, ADMINISTRATIVE_SHUTDOWN};
        if self.code != CEASE
            || !matches!(self.subcode, ADMINISTRATIVE_SHUTDOWN | ADMINISTRATIVE_RESET)
        {
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
            MESSAGE_HEADER_ERROR => "Message Header Error",
            OPEN_MESSAGE_ERROR => "OPEN Message Error",
            UPDATE_MESSAGE_ERROR => "UPDATE Message Error",
            HOLD_TIMER_EXPIRED => "Hold Timer Expired",
            FSM_ERROR => "Finite State Machine Error",
            CEASE => "Cease",
            ROUTE_REFRESH_MESSAGE_ERROR => "ROUTE-REFRESH Message Error",
            _ => return None,
        })
    }

    /// The subcode's name (RFC 4271, 4486, 5492, 6608, 7313, 8538, 9234), or None when the
    /// subcode is 0 (unspecific) or unassigned.
    pub fn subcode_name(&self) -> Option<&'static str> {
        use subcode::*;
        Some(match (self.code, self.subcode) {
            (MESSAGE_HEADER_ERROR, header::CONNECTION_NOT_SYNCHRONIZED) => {
                "Connection Not Synchronized"
            }
            (MESSAGE_HEADER_ERROR, header::BAD_MESSAGE_LENGTH) => "Bad Message Length",
            (MESSAGE_HEADER_ERROR, header::BAD_MESSAGE_TYPE) => "Bad Message Type",
            (OPEN_MESSAGE_ERROR, open::UNSUPPORTED_VERSION_NUMBER) => "Unsupported Version Number",
            (OPEN_MESSAGE_ERROR, open::BAD_PEER_AS) => "Bad Peer AS",
            (OPEN_MESSAGE_ERROR, open::BAD_BGP_IDENTIFIER) => "Bad BGP Identifier",
            (OPEN_MESSAGE_ERROR, open::UNSUPPORTED_OPTIONAL_PARAMETER) => {
                "Unsupported Optional Parameter"
            }
            (OPEN_MESSAGE_ERROR, open::AUTHENTICATION_FAILURE) => {
                "Authentication Failure (deprecated)"
            }
            (OPEN_MESSAGE_ERROR, open::UNACCEPTABLE_HOLD_TIME) => "Unacceptable Hold Time",
            (OPEN_MESSAGE_ERROR, open::UNSUPPORTED_CAPABILITY) => "Unsupported Capability",
            (OPEN_MESSAGE_ERROR, open::ROLE_MISMATCH) => "Role Mismatch",
            (UPDATE_MESSAGE_ERROR, update::MALFORMED_ATTRIBUTE_LIST) => "Malformed Attribute List",
            (UPDATE_MESSAGE_ERROR, update::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE) => {
                "Unrecognized Well-known Attribute"
            }
            (UPDATE_MESSAGE_ERROR, update::MISSING_WELL_KNOWN_ATTRIBUTE) => {
                "Missing Well-known Attribute"
            }
            (UPDATE_MESSAGE_ERROR, update::ATTRIBUTE_FLAGS_ERROR) => "Attribute Flags Error",
            (UPDATE_MESSAGE_ERROR, update::ATTRIBUTE_LENGTH_ERROR) => "Attribute Length Error",
            (UPDATE_MESSAGE_ERROR, update::INVALID_ORIGIN_ATTRIBUTE) => "Invalid ORIGIN Attribute",
            (UPDATE_MESSAGE_ERROR, update::AS_ROUTING_LOOP) => "AS Routing Loop (deprecated)",
            (UPDATE_MESSAGE_ERROR, update::INVALID_NEXT_HOP_ATTRIBUTE) => {
                "Invalid NEXT_HOP Attribute"
            }
            (UPDATE_MESSAGE_ERROR, update::OPTIONAL_ATTRIBUTE_ERROR) => "Optional Attribute Error",
            (UPDATE_MESSAGE_ERROR, update::INVALID_NETWORK_FIELD) => "Invalid Network Field",
            (UPDATE_MESSAGE_ERROR, update::MALFORMED_AS_PATH) => "Malformed AS_PATH",
            (FSM_ERROR, fsm::UNEXPECTED_IN_OPEN_SENT) => {
                "Receive Unexpected Message in OpenSent State"
            }
            (FSM_ERROR, fsm::UNEXPECTED_IN_OPEN_CONFIRM) => {
                "Receive Unexpected Message in OpenConfirm State"
            }
            (FSM_ERROR, fsm::UNEXPECTED_IN_ESTABLISHED) => {
                "Receive Unexpected Message in Established State"
            }
            (CEASE, cease::MAXIMUM_PREFIXES_REACHED) => "Maximum Number of Prefixes Reached",
            (CEASE, cease::ADMINISTRATIVE_SHUTDOWN) => "Administrative Shutdown",
            (CEASE, cease::PEER_DECONFIGURED) => "Peer De-configured",
            (CEASE, cease::ADMINISTRATIVE_RESET) => "Administrative Reset",
            (CEASE, cease::CONNECTION_REJECTED) => "Connection Rejected",
            (CEASE, cease::OTHER_CONFIGURATION_CHANGE) => "Other Configuration Change",
            (CEASE, cease::CONNECTION_COLLISION_RESOLUTION) => "Connection Collision Resolution",
            (CEASE, cease::OUT_OF_RESOURCES) => "Out of Resources",
            (CEASE, cease::HARD_RESET) => "Hard Reset",
            (CEASE, cease::BFD_DOWN) => "BFD Down",
            (ROUTE_REFRESH_MESSAGE_ERROR, route_refresh::INVALID_MESSAGE_LENGTH) => {
                "Invalid Message Length"
            }
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
            (Some(code), None) if self.subcode == UNSPECIFIC => f.write_str(code)?,
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
