//! VRRP mode (RFC 9568, VRRPv3): the advert codec (`wire`); the per-instance state machine and
//! the raw-socket driver come next.

pub mod wire;
