//! Golden vectors are keepalived's and FRR vrrpd's adverts captured in a namespace pair
//! (`../testdata/README.md`), stored as whole IP packets so the pseudo-header and TTL come from
//! the capture itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::*;

const KEEPALIVED_V4: &[u8] = include_bytes!("../testdata/ipv4-vrid51-prio150.bin");
const KEEPALIVED_V4_STOP: &[u8] = include_bytes!("../testdata/ipv4-vrid51-prio0.bin");
const KEEPALIVED_V6: &[u8] = include_bytes!("../testdata/ipv6-vrid52-prio200.bin");
const KEEPALIVED_V6_STOP: &[u8] = include_bytes!("../testdata/ipv6-vrid52-prio0.bin");
const FRR_V4: &[u8] = include_bytes!("../testdata/frr-ipv4-vrid51-prio150.bin");
const FRR_V4_STOP: &[u8] = include_bytes!("../testdata/frr-ipv4-vrid51-prio0.bin");
const FRR_V6: &[u8] = include_bytes!("../testdata/frr-ipv6-vrid51-prio150.bin");
const FRR_V6_STOP: &[u8] = include_bytes!("../testdata/frr-ipv6-vrid51-prio0.bin");

const ALL: [&[u8]; 8] = [
    KEEPALIVED_V4,
    KEEPALIVED_V4_STOP,
    KEEPALIVED_V6,
    KEEPALIVED_V6_STOP,
    FRR_V4,
    FRR_V4_STOP,
    FRR_V6,
    FRR_V6_STOP,
];

/// An IP packet split as the driver sees it: source, destination, TTL / hop limit, protocol
/// and the VRRP payload.
struct Captured<'a> {
    source: IpAddr,
    destination: IpAddr,
    ttl: u8,
    protocol: u8,
    payload: &'a [u8],
}

fn split_ip(packet: &[u8]) -> Captured<'_> {
    match packet[0] >> 4 {
        4 => {
            let header_len = usize::from(packet[0] & 0x0f) * 4;
            let at =
                |i: usize| Ipv4Addr::new(packet[i], packet[i + 1], packet[i + 2], packet[i + 3]);
            Captured {
                source: at(12).into(),
                destination: at(16).into(),
                ttl: packet[8],
                protocol: packet[9],
                payload: &packet[header_len..],
            }
        }
        6 => {
            let at = |i: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&packet[i..i + 16]);
                Ipv6Addr::from(octets)
            };
            Captured {
                source: at(8).into(),
                destination: at(24).into(),
                ttl: packet[7],
                protocol: packet[6],
                payload: &packet[40..],
            }
        }
        v => panic!("IP version {v} in a capture"),
    }
}

fn v4_advert(priority: u8) -> Advert {
    Advert {
        vrid: 51,
        priority,
        max_advert_interval: AdvertInterval::from_centiseconds(100).unwrap(),
        addresses: Addresses::V4(vec![
            Ipv4Addr::new(198, 51, 100, 10),
            Ipv4Addr::new(198, 51, 100, 11),
        ]),
    }
}

fn v6_advert(priority: u8) -> Advert {
    Advert {
        vrid: 52,
        priority,
        max_advert_interval: AdvertInterval::from_centiseconds(10).unwrap(),
        addresses: Addresses::V6(vec!["2001:db8::10".parse().unwrap()]),
    }
}

fn keepalived_source_v4() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}

fn keepalived_source_v6() -> IpAddr {
    // From the documentation MAC 00:00:5e:00:53:01 the capture gives the interface.
    "fe80::200:5eff:fe00:5301".parse().unwrap()
}

#[test]
fn keepalived_adverts_decode_to_what_it_was_configured_with() {
    let cases = [
        (
            KEEPALIVED_V4,
            keepalived_source_v4(),
            IpAddr::V4(GROUP_V4),
            v4_advert(150),
        ),
        (
            KEEPALIVED_V4_STOP,
            keepalived_source_v4(),
            IpAddr::V4(GROUP_V4),
            v4_advert(PRIORITY_STOP),
        ),
        (
            KEEPALIVED_V6,
            keepalived_source_v6(),
            IpAddr::V6(GROUP_V6),
            v6_advert(200),
        ),
        (
            KEEPALIVED_V6_STOP,
            keepalived_source_v6(),
            IpAddr::V6(GROUP_V6),
            v6_advert(PRIORITY_STOP),
        ),
    ];
    for (packet, source, destination, expected) in cases {
        let captured = split_ip(packet);
        assert_eq!(
            (captured.source, captured.destination),
            (source, destination)
        );
        assert_eq!(captured.ttl, TTL, "keepalived sends with TTL 255");
        assert_eq!(captured.protocol, PROTOCOL);
        let advert = decode(captured.payload, source, destination).unwrap();
        assert_eq!(advert, expected);
    }
}

fn frr_advert(family_v6: bool, priority: u8) -> Advert {
    Advert {
        vrid: 51,
        priority,
        max_advert_interval: AdvertInterval::from_centiseconds(10).unwrap(),
        addresses: if family_v6 {
            Addresses::V6(vec!["2001:db8::10".parse().unwrap()])
        } else {
            Addresses::V4(vec![Ipv4Addr::new(198, 51, 100, 10)])
        },
    }
}

#[test]
fn frr_adverts_decode_to_what_vrrpd_was_configured_with() {
    // vrrpd sends IPv6 adverts from its macvlan's link-local address, and, like keepalived,
    // without a link-local address in the list.
    let frr_v6_source: IpAddr = "fe80::200:5eff:fe00:233".parse().unwrap();
    let cases = [
        (FRR_V4, keepalived_source_v4(), frr_advert(false, 150)),
        (
            FRR_V4_STOP,
            keepalived_source_v4(),
            frr_advert(false, PRIORITY_STOP),
        ),
        (FRR_V6, frr_v6_source, frr_advert(true, 150)),
        (FRR_V6_STOP, frr_v6_source, frr_advert(true, PRIORITY_STOP)),
    ];
    for (packet, source, expected) in cases {
        let c = split_ip(packet);
        assert_eq!(c.source, source);
        assert_eq!((c.ttl, c.protocol), (TTL, PROTOCOL));
        assert_eq!(decode(c.payload, c.source, c.destination), Ok(expected));
    }
}

#[test]
fn captured_adverts_reencode_byte_for_byte() {
    for packet in ALL {
        let c = split_ip(packet);
        let advert = decode(c.payload, c.source, c.destination).unwrap();
        let again = encode(&advert, c.source, c.destination).unwrap();
        assert_eq!(hex(&again), hex(c.payload));
    }
}

#[test]
fn checksum_of_a_whole_advert_with_its_checksum_is_zero() {
    // The RFC 1071 property: summing the checksum in makes the result 0 (complemented: 0).
    for packet in ALL {
        let c = split_ip(packet);
        assert_eq!(checksum(c.source, c.destination, c.payload), 0);
    }
}

#[test]
fn the_ipv4_checksum_covers_the_pseudo_header() {
    let c = split_ip(KEEPALIVED_V4);
    let other_source: IpAddr = "192.0.2.9".parse().unwrap();
    assert!(matches!(
        decode(c.payload, other_source, c.destination),
        Err(DecodeError::Checksum { .. })
    ));
    // A unicast advert (keepalived's unicast_peer) is checksummed over the unicast destination.
    let unicast: IpAddr = "192.0.2.2".parse().unwrap();
    let bytes = encode(&v4_advert(150), c.source, unicast).unwrap();
    assert_ne!(bytes, c.payload);
    assert_eq!(decode(&bytes, c.source, unicast), Ok(v4_advert(150)));
}

#[test]
fn the_ipv6_checksum_covers_the_pseudo_header() {
    let c = split_ip(KEEPALIVED_V6);
    let other_source: IpAddr = "fe80::1".parse().unwrap();
    assert!(matches!(
        decode(c.payload, other_source, c.destination),
        Err(DecodeError::Checksum { .. })
    ));
}

#[test]
fn a_flipped_bit_in_an_address_fails_the_checksum() {
    let c = split_ip(KEEPALIVED_V4);
    let mut bytes = c.payload.to_vec();
    bytes[11] ^= 1;
    assert_eq!(
        decode(&bytes, c.source, c.destination),
        Err(DecodeError::Checksum {
            found: 0x4154,
            expected: 0x4153
        })
    );
}

/// The keepalived IPv4 advert with `edit` applied and the checksum made right again, so the
/// check under test is the one that fails.
fn edited_v4(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let c = split_ip(KEEPALIVED_V4);
    let mut bytes = c.payload.to_vec();
    edit(&mut bytes);
    fix_checksum(&mut bytes, c.source, c.destination);
    bytes
}

fn fix_checksum(bytes: &mut [u8], source: IpAddr, destination: IpAddr) {
    if bytes.len() >= 8 {
        bytes[6..8].copy_from_slice(&[0, 0]);
        let sum = checksum(source, destination, bytes);
        bytes[6..8].copy_from_slice(&sum.to_be_bytes());
    }
}

fn decode_v4(bytes: &[u8]) -> Result<Advert, DecodeError> {
    decode(bytes, keepalived_source_v4(), IpAddr::V4(GROUP_V4))
}

#[test]
fn every_validation_rule_names_what_is_wrong() {
    let cases: [(Vec<u8>, DecodeError); 8] = [
        (KEEPALIVED_V4[20..27].to_vec(), DecodeError::TooShort(7)),
        (edited_v4(|b| b[0] = 0x21), DecodeError::Version(2)),
        (edited_v4(|b| b[0] = 0x32), DecodeError::Type(2)),
        (edited_v4(|b| b[1] = 0), DecodeError::VridZero),
        (
            edited_v4(|b| b[3] = 3),
            DecodeError::AddressCount {
                count: 3,
                family: "IPv4",
                expected: 20,
                length: 16,
            },
        ),
        (
            edited_v4(|b| b.truncate(12)),
            DecodeError::AddressCount {
                count: 2,
                family: "IPv4",
                expected: 16,
                length: 12,
            },
        ),
        (
            // A VRRPv2-style authentication trailer has no place in VRRPv3.
            edited_v4(|b| b.extend_from_slice(&[0; 8])),
            DecodeError::AddressCount {
                count: 2,
                family: "IPv4",
                expected: 16,
                length: 24,
            },
        ),
        (
            edited_v4(|b| b[4..6].copy_from_slice(&[0xf0, 0])),
            DecodeError::IntervalZero,
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(decode_v4(&bytes), Err(expected.clone()), "{expected}");
    }
    let no_addresses = edited_v4(|b| {
        b[3] = 0;
        b.truncate(8);
    });
    assert!(matches!(
        decode_v4(&no_addresses),
        Err(DecodeError::AddressCount { count: 0, .. })
    ));
}

#[test]
fn an_ipv4_advert_is_too_short_for_ipv6_addresses() {
    let c = split_ip(KEEPALIVED_V4);
    let source = keepalived_source_v6();
    let mut bytes = c.payload.to_vec();
    fix_checksum(&mut bytes, source, IpAddr::V6(GROUP_V6));
    assert_eq!(
        decode(&bytes, source, IpAddr::V6(GROUP_V6)),
        Err(DecodeError::AddressCount {
            count: 2,
            family: "IPv6",
            expected: 40,
            length: 16
        })
    );
    assert!(matches!(
        decode(c.payload, c.source, IpAddr::V6(GROUP_V6)),
        Err(DecodeError::MixedFamilies { .. })
    ));
}

#[test]
fn reserved_bits_are_ignored_on_receipt_and_zero_when_sent() {
    let bytes = edited_v4(|b| b[4] |= 0xf0);
    let advert = decode_v4(&bytes).unwrap();
    assert_eq!(advert, v4_advert(150));
    let again = encode(&advert, keepalived_source_v4(), IpAddr::V4(GROUP_V4)).unwrap();
    assert_eq!(again[4] & 0xf0, 0);
}

#[test]
fn the_interval_is_twelve_bits_of_centiseconds() {
    let longest = edited_v4(|b| b[4..6].copy_from_slice(&[0x0f, 0xff]));
    assert_eq!(
        decode_v4(&longest)
            .unwrap()
            .max_advert_interval
            .as_duration(),
        Duration::from_millis(40_950)
    );
}

#[test]
fn encode_refuses_what_no_advert_can_carry() {
    let source = keepalived_source_v4();
    let group = IpAddr::V4(GROUP_V4);
    let mut empty = v4_advert(100);
    empty.addresses = Addresses::V4(vec![]);
    assert_eq!(
        encode(&empty, source, group),
        Err(EncodeError::AddressCount(0))
    );
    let mut many = v4_advert(100);
    many.addresses = Addresses::V4(vec![Ipv4Addr::new(198, 51, 100, 1); 256]);
    assert_eq!(
        encode(&many, source, group),
        Err(EncodeError::AddressCount(256))
    );
    assert!(matches!(
        encode(&v6_advert(100), source, group),
        Err(EncodeError::MixedFamilies { .. })
    ));
    assert!(matches!(
        encode(&v4_advert(100), source, IpAddr::V6(GROUP_V6)),
        Err(EncodeError::MixedFamilies { .. })
    ));
    let mut full = v4_advert(100);
    full.addresses = Addresses::V4(vec![Ipv4Addr::new(198, 51, 100, 1); 255]);
    let bytes = encode(&full, source, group).unwrap();
    assert_eq!(bytes.len(), 8 + 255 * 4);
    assert_eq!(decode(&bytes, source, group), Ok(full));
}

#[test]
fn advert_interval_takes_whole_centiseconds_from_10ms_to_40_95s() {
    let ms = Duration::from_millis;
    assert_eq!(
        AdvertInterval::from_duration(ms(10)).map(AdvertInterval::centiseconds),
        Some(1)
    );
    assert_eq!(
        AdvertInterval::from_duration(ms(100)).map(AdvertInterval::centiseconds),
        Some(10)
    );
    assert_eq!(
        AdvertInterval::from_duration(ms(1000)),
        Some(AdvertInterval::DEFAULT)
    );
    assert_eq!(
        AdvertInterval::from_duration(ms(40_950)).map(AdvertInterval::centiseconds),
        Some(4095)
    );
    for refused in [
        ms(0),
        ms(5),
        ms(15),
        ms(40_960),
        Duration::from_nanos(10_000_001),
    ] {
        assert_eq!(AdvertInterval::from_duration(refused), None, "{refused:?}");
    }
    assert_eq!(AdvertInterval::from_centiseconds(0), None);
    assert_eq!(AdvertInterval::from_centiseconds(4096), None);
    assert_eq!(AdvertInterval::DEFAULT.to_string(), "1s");
    assert_eq!(
        AdvertInterval::from_centiseconds(10).unwrap().to_string(),
        "100ms"
    );
}

#[test]
fn seeded_mutations_of_golden_vectors_never_panic() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_0112);
    let vectors: Vec<Captured<'_>> = ALL.into_iter().map(split_ip).collect();
    let mut decoded_ok = 0;
    for round in 0..20_000 {
        let c = &vectors[round % vectors.len()];
        let mut bytes = c.payload.to_vec();
        for _ in 0..rng.usize(1..=3) {
            match rng.u8(0..4) {
                0 if !bytes.is_empty() => {
                    let i = rng.usize(..bytes.len());
                    bytes[i] ^= 1 << rng.u8(0..8);
                }
                1 if !bytes.is_empty() => {
                    let i = rng.usize(..bytes.len());
                    bytes[i] = rng.u8(..);
                }
                2 => bytes.truncate(rng.usize(..=bytes.len())),
                _ => bytes.insert(rng.usize(..=bytes.len()), rng.u8(..)),
            }
        }
        // Mostly with a right checksum, so the checks behind it are reached.
        if rng.u8(0..4) != 0 {
            fix_checksum(&mut bytes, c.source, c.destination);
        }
        if let Ok(advert) = decode(&bytes, c.source, c.destination) {
            decoded_ok += 1;
            let again = encode(&advert, c.source, c.destination).unwrap();
            assert_eq!(decode(&again, c.source, c.destination), Ok(advert));
        }
    }
    assert!(
        decoded_ok > 1000,
        "mutations too destructive: {decoded_ok} decoded"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
