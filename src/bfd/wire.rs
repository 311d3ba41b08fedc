//! BFD Control packet codec (RFC 5880 §4.1) and the checks of §6.8.6 that need only the packet.
//!
//! Hand-written: no crate on crates.io offers a usable BFD codec and state machine today. `bfd`
//! is an empty name reservation (0.0.0); `packet-dissector-bfd` and `frameassembly` only
//! dissect or build packets for captures; none is sans-IO with an injected clock. The mandatory
//! section is 24 fixed bytes, so the codec is small.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       My Discriminator                        |
//! |                      Your Discriminator                       |
//! |                    Desired Min TX Interval                    |
//! |                   Required Min RX Interval                    |
//! |                 Required Min Echo RX Interval                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Auth Len    |    Authentication Data...     |  (only with the A bit)
//! ```
//! Intervals are in microseconds.

use std::fmt;

/// The only version RFC 5880 defines.
pub const VERSION: u8 = 1;
/// Length of the mandatory section; a packet we send is exactly this long (no authentication).
pub const PACKET_LEN: usize = 24;
/// The mandatory section plus the smallest authentication section (type and length).
const MIN_LEN_WITH_AUTH: usize = PACKET_LEN + 2;

const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CONTROL_PLANE_INDEPENDENT: u8 = 0x08;
const FLAG_AUTHENTICATION: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

/// bfd.SessionState and the packet's State field (RFC 5880 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    fn from_bits(bits: u8) -> State {
        match bits & 0x03 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    /// Lower-case names, as `elastic status` and the metrics show them.
    pub fn name(self) -> &'static str {
        match self {
            State::AdminDown => "admin-down",
            State::Down => "down",
            State::Init => "init",
            State::Up => "up",
        }
    }
}

/// The Diagnostic field: why the sender last left Up (RFC 5880 §4.1). Five bits; values the RFC
/// does not name are carried as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Diagnostic(pub u8);

impl Diagnostic {
    pub const NONE: Diagnostic = Diagnostic(0);
    pub const CONTROL_DETECTION_TIME_EXPIRED: Diagnostic = Diagnostic(1);
    pub const ECHO_FUNCTION_FAILED: Diagnostic = Diagnostic(2);
    pub const NEIGHBOR_SIGNALED_SESSION_DOWN: Diagnostic = Diagnostic(3);
    pub const FORWARDING_PLANE_RESET: Diagnostic = Diagnostic(4);
    pub const PATH_DOWN: Diagnostic = Diagnostic(5);
    pub const CONCATENATED_PATH_DOWN: Diagnostic = Diagnostic(6);
    pub const ADMINISTRATIVELY_DOWN: Diagnostic = Diagnostic(7);
    pub const REVERSE_CONCATENATED_PATH_DOWN: Diagnostic = Diagnostic(8);

    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "no diagnostic",
            1 => "control detection time expired",
            2 => "echo function failed",
            3 => "neighbor signaled session down",
            4 => "forwarding plane reset",
            5 => "path down",
            6 => "concatenated path down",
            7 => "administratively down",
            8 => "reverse concatenated path down",
            _ => "unassigned",
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// A BFD Control packet's mandatory section. The version is always [`VERSION`]; the A and M bits
/// are never set on a packet that decodes (we run no authentication and no multipoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPacket {
    pub diagnostic: Diagnostic,
    pub state: State,
    pub poll: bool,
    pub final_: bool,
    pub control_plane_independent: bool,
    pub demand: bool,
    pub detect_mult: u8,
    pub my_discriminator: u32,
    pub your_discriminator: u32,
    /// Microseconds.
    pub desired_min_tx: u32,
    /// Microseconds; 0: the sender wants no periodic packets.
    pub required_min_rx: u32,
    /// Microseconds; 0: the sender does not take echo packets.
    pub required_min_echo_rx: u32,
}

/// Why a received packet is discarded (RFC 5880 §6.8.6, the checks that need only the packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    #[error("shorter than the 24-byte mandatory section ({0} bytes)")]
    Truncated(usize),
    #[error("version {0}, not 1")]
    BadVersion(u8),
    #[error("length field {length} outside 24..={datagram} (the datagram's size)")]
    BadLength { length: u8, datagram: usize },
    #[error("detect multiplier 0")]
    ZeroMultiplier,
    #[error("multipoint (M) bit set")]
    Multipoint,
    #[error("my discriminator 0")]
    ZeroMyDiscriminator,
    #[error("your discriminator 0 in state {0:?}")]
    ZeroYourDiscriminator(State),
    #[error("authentication (A bit) present, none configured")]
    Authentication,
}

impl DecodeError {
    /// A short label for the drop counter (metrics).
    pub fn reason(self) -> &'static str {
        match self {
            DecodeError::Truncated(_) | DecodeError::BadLength { .. } => "bad_length",
            DecodeError::BadVersion(_) => "bad_version",
            DecodeError::ZeroMultiplier => "zero_multiplier",
            DecodeError::Multipoint => "multipoint",
            DecodeError::ZeroMyDiscriminator | DecodeError::ZeroYourDiscriminator(_) => {
                "zero_discriminator"
            }
            DecodeError::Authentication => "authentication",
        }
    }
}

/// Encodes the packet as sent (24 bytes, no authentication section).
pub fn encode(packet: &ControlPacket) -> [u8; PACKET_LEN] {
    let mut flags = (packet.state as u8) << 6;
    for (set, bit) in [
        (packet.poll, FLAG_POLL),
        (packet.final_, FLAG_FINAL),
        (
            packet.control_plane_independent,
            FLAG_CONTROL_PLANE_INDEPENDENT,
        ),
        (packet.demand, FLAG_DEMAND),
    ] {
        if set {
            flags |= bit;
        }
    }
    let mut bytes = [0u8; PACKET_LEN];
    bytes[0] = (VERSION << 5) | (packet.diagnostic.0 & 0x1f);
    bytes[1] = flags;
    bytes[2] = packet.detect_mult;
    bytes[3] = PACKET_LEN as u8;
    bytes[4..8].copy_from_slice(&packet.my_discriminator.to_be_bytes());
    bytes[8..12].copy_from_slice(&packet.your_discriminator.to_be_bytes());
    bytes[12..16].copy_from_slice(&packet.desired_min_tx.to_be_bytes());
    bytes[16..20].copy_from_slice(&packet.required_min_rx.to_be_bytes());
    bytes[20..24].copy_from_slice(&packet.required_min_echo_rx.to_be_bytes());
    bytes
}

/// Decodes one UDP payload and applies the packet-only checks of RFC 5880 §6.8.6, in its order.
/// Bytes after `Length` are ignored (the RFC discards only a Length larger than the payload).
pub fn decode(datagram: &[u8]) -> Result<ControlPacket, DecodeError> {
    if datagram.len() < PACKET_LEN {
        // The version is checked first when there is a first byte, so a stray packet of some
        // other protocol is counted as such.
        if let Some(first) = datagram.first()
            && first >> 5 != VERSION
        {
            return Err(DecodeError::BadVersion(first >> 5));
        }
        return Err(DecodeError::Truncated(datagram.len()));
    }
    let version = datagram[0] >> 5;
    if version != VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let flags = datagram[1];
    let authentication = flags & FLAG_AUTHENTICATION != 0;
    let length = datagram[3];
    let min_len = if authentication {
        MIN_LEN_WITH_AUTH
    } else {
        PACKET_LEN
    };
    if usize::from(length) < min_len || usize::from(length) > datagram.len() {
        return Err(DecodeError::BadLength {
            length,
            datagram: datagram.len(),
        });
    }
    let detect_mult = datagram[2];
    if detect_mult == 0 {
        return Err(DecodeError::ZeroMultiplier);
    }
    if flags & FLAG_MULTIPOINT != 0 {
        return Err(DecodeError::Multipoint);
    }
    let word = |at: usize| {
        u32::from_be_bytes([
            datagram[at],
            datagram[at + 1],
            datagram[at + 2],
            datagram[at + 3],
        ])
    };
    let my_discriminator = word(4);
    if my_discriminator == 0 {
        return Err(DecodeError::ZeroMyDiscriminator);
    }
    let state = State::from_bits(flags >> 6);
    let your_discriminator = word(8);
    if your_discriminator == 0 && !matches!(state, State::Down | State::AdminDown) {
        return Err(DecodeError::ZeroYourDiscriminator(state));
    }
    // §6.8.6: "If the A bit is set and no authentication is in use ... MUST be discarded."
    if authentication {
        return Err(DecodeError::Authentication);
    }
    Ok(ControlPacket {
        diagnostic: Diagnostic(datagram[0] & 0x1f),
        state,
        poll: flags & FLAG_POLL != 0,
        final_: flags & FLAG_FINAL != 0,
        control_plane_independent: flags & FLAG_CONTROL_PLANE_INDEPENDENT != 0,
        demand: flags & FLAG_DEMAND != 0,
        detect_mult,
        my_discriminator,
        your_discriminator,
        desired_min_tx: word(12),
        required_min_rx: word(16),
        required_min_echo_rx: word(20),
    })
}

#[cfg(test)]
mod tests;
