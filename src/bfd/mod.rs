//! BFD (RFC 5880, with RFC 5883 multihop and RFC 5881 single hop): the codec (`wire`), the pure
//! session state machine (`session`) and the UDP driver (`driver`). One BFD session runs beside
//! each BGP session, between the same addresses; its failing takes that BGP session down at once.

use std::time::Duration;

pub mod driver;
pub mod session;
pub mod wire;

/// RFC 5883 §5: multihop control packets go to UDP 4784.
pub const MULTIHOP_PORT: u16 = 4784;
/// RFC 5881 §4: single-hop control packets go to UDP 3784.
pub const SINGLE_HOP_PORT: u16 = 3784;

/// The `bfd:` settings, the same for every route-server session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdConfig {
    /// Desired Min TX Interval once Up (FRR's default 300 ms).
    pub min_tx: Duration,
    /// Required Min RX Interval (FRR's default 300 ms).
    pub min_rx: Duration,
    /// Detect Mult (FRR's default 3).
    pub multiplier: u8,
    /// RFC 5883 multihop on UDP 4784 (default); false: RFC 5881 single hop on UDP 3784.
    pub multihop: bool,
    /// Received TTL / hop limit below this are dropped; always 255 single hop.
    pub min_ttl: u8,
}

impl BfdConfig {
    pub fn session(&self) -> session::SessionConfig {
        session::SessionConfig {
            desired_min_tx: self.min_tx,
            required_min_rx: self.min_rx,
            detect_mult: self.multiplier,
            min_ttl: if self.multihop { self.min_ttl } else { 255 },
        }
    }

    pub fn port(&self) -> u16 {
        if self.multihop {
            MULTIHOP_PORT
        } else {
            SINGLE_HOP_PORT
        }
    }
}
