//! Arbitrary bytes on protocol 112 must never panic the VRRP codec: decode them as an advert
//! from a link-local neighbour to the group, in both families, and check that whatever decodes
//! encodes back to bytes that decode to the same advert.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use elastic::vrrp::wire::{GROUP_V4, GROUP_V6, decode, encode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let pairs = [
        (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), IpAddr::V4(GROUP_V4)),
        (
            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(GROUP_V6),
        ),
    ];
    for (source, destination) in pairs {
        match decode(data, source, destination) {
            Ok(advert) => {
                let bytes = encode(&advert, source, destination).expect("a decoded advert encodes");
                assert_eq!(decode(&bytes, source, destination), Ok(advert), "re-encoding changed it");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
