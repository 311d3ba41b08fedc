//! BFD (RFC 5880, with RFC 5883 multihop and RFC 5881 single hop): the codec (`wire`), the pure
//! session state machine (`session`) and the UDP driver (`driver`). One BFD session runs beside
//! each BGP session; its going down takes that BGP session down at once.

pub mod session;
pub mod wire;
