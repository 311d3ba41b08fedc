//! VRRP mode (RFC 9568, VRRPv3): the advert codec (`wire`), the state machine of one virtual
//! router (`instance`), the raw IPv4 sockets adverts travel on (`socket`) and the tokio driver of
//! one IPv4 instance (`driver`: adverts, addresses and gratuitous ARP (`garp`)). The daemon runs one
//! driver per instance (`daemon/vrrp.rs`); IPv6 comes next.

pub mod driver;
pub mod garp;
pub mod instance;
pub mod socket;
pub mod wire;
