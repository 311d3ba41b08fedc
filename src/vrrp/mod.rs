//! VRRP mode (RFC 9568, VRRPv3): the advert codec (`wire`) and the state machine of one virtual
//! router (`instance`); the raw-socket driver comes next.

pub mod instance;
pub mod wire;
