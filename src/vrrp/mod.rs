//! VRRP mode (RFC 9568, VRRPv3): the advert codec (`wire`), the state machine of one virtual
//! router (`instance`), the raw IPv4 and IPv6 sockets adverts travel on (`socket`) and the tokio
//! driver of one instance (`driver`: adverts, addresses, and gratuitous ARP (`garp`) or unsolicited
//! neighbour advertisements (`neighbor`)), and with `use_vmac` the macvlan carrying the virtual MAC
//! (`vmac`). The daemon runs one driver per instance
//! (`daemon/vrrp.rs`).

pub mod driver;
pub mod garp;
pub mod instance;
pub mod neighbor;
pub mod socket;
pub mod vmac;
pub mod wire;
