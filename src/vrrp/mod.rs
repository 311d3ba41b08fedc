//! VRRP mode (RFC 9568, VRRPv3): the advert codec (`wire`), the state machine of one virtual
//! router (`instance`) and the raw IPv4 sockets adverts travel on (`socket`); the driver that
//! wires them to addresses and gratuitous ARP comes next.

pub mod instance;
pub mod socket;
pub mod wire;
