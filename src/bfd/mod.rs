//! BFD (RFC 5880, with RFC 5883 multihop and RFC 5881 single hop): the codec (`wire`), the pure
//! session state machine (`session`) and the UDP driver (`driver`). One BFD session runs beside
//! each BGP session, between the same addresses; its failing takes that BGP session down at once.

pub mod driver;
pub mod session;
pub mod wire;

/// RFC 5883 §5: multihop control packets go to UDP 4784.
pub const MULTIHOP_PORT: u16 = 4784;
/// RFC 5881 §4: single-hop control packets go to UDP 3784.
pub const SINGLE_HOP_PORT: u16 = 3784;

pub use crate::model::BfdConfig;

/// The session's own settings from the `bfd:` ones (single hop always wants TTL 255).
pub fn session_config(config: &BfdConfig) -> session::SessionConfig {
    session::SessionConfig {
        desired_min_tx: config.min_tx,
        required_min_rx: config.min_rx,
        detect_mult: config.multiplier,
        min_ttl: if config.multihop { config.min_ttl } else { 255 },
    }
}

/// The UDP port the peer listens on.
pub fn port(config: &BfdConfig) -> u16 {
    if config.multihop {
        MULTIHOP_PORT
    } else {
        SINGLE_HOP_PORT
    }
}
