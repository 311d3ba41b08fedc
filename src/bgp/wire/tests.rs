//! Codec tests. Golden vectors come from the captures in `src/bgp/testdata/` (file and frame
//! noted at each, checked by `golden_vectors_are_in_the_frames_they_cite`) or are built by hand
//! from the RFC layouts (noted as such).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::*;
use crate::model::{COMMUNITY_PRIMARY, COMMUNITY_SECONDARY, RouteAttrs};

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares as hex so a failure shows where the bytes differ.
#[track_caller]
fn assert_bytes(actual: &[u8], expected: &[u8]) {
    assert_eq!(to_hex(actual), to_hex(expected));
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

const AS4: DecodeContext = DecodeContext {
    four_octet_as: true,
};
const AS2: DecodeContext = DecodeContext {
    four_octet_as: false,
};

fn lelastic_ctx() -> UpdateContext {
    UpdateContext {
        local_as: 65001,
        four_octet_as: true,
        next_hop: "2001:db8:ff::2".parse().unwrap(),
    }
}

fn primary() -> RouteAttrs {
    RouteAttrs {
        communities: vec![COMMUNITY_PRIMARY],
        med: None,
    }
}

fn update_summary(message: &[u8], ctx: &DecodeContext) -> UpdateSummary {
    match decode(message, ctx) {
        Ok(Message::Update(summary)) => summary,
        other => panic!("expected an UPDATE, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Golden vectors from the captures
// ---------------------------------------------------------------------------------------------

/// lelastic's OPEN: 01-start-primary.pcap frame 10 (identical in 05 f6, 07 f6/f20, 08 f9/f23).
const LELASTIC_OPEN: &str = "ffffffffffffffffffffffffffffffff00410104fde900090a0000012402220200\
    490402766d0001040001000101040002000141040000fde90506000100010002";

fn lelastic_open() -> Open {
    Open {
        version: 4,
        my_as: 65001,
        hold_time: 9,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        capabilities: vec![
            Capability::RouteRefresh,
            Capability::Fqdn {
                hostname: "vm".into(),
                domain: String::new(),
            },
            Capability::MultiProtocol { afi: 1, safi: 1 },
            Capability::MultiProtocol { afi: 2, safi: 1 },
            Capability::FourOctetAs(65001),
            Capability::ExtendedNextHop(vec![ExtendedNextHopTuple {
                afi: 1,
                safi: 1,
                next_hop_afi: 2,
            }]),
        ],
    }
}

#[test]
fn lelastic_open_decodes_and_encodes_byte_for_byte() {
    let bytes = hex(LELASTIC_OPEN);
    assert_eq!(bytes.len(), 65);
    assert_eq!(decode(&bytes, &AS2), Ok(Message::Open(lelastic_open())));
    assert_bytes(&encode_open(&lelastic_open()), &bytes);

    let open = lelastic_open();
    assert_eq!(open.asn(), 65001);
    assert!(open.four_octet_as());
    assert!(open.multiprotocol(Family::Ipv4Unicast));
    assert!(open.multiprotocol(Family::Ipv6Unicast));
    assert!(open.extended_next_hop_v4_over_v6());
    assert_eq!(open.hostname(), Some("vm"));
}

/// BIRD 2.0.12's OPEN, all capabilities in one parameter: 07-two-rs-frr-bird.pcap frame 18.
const BIRD_OPEN: &str = "ffffffffffffffffffffffffffffffff00430104fde800f0c00002022602240104\
    00010001010400020001020005060001000100024002007841040000fde846004700";

#[test]
fn bird_open_decodes_and_encodes_byte_for_byte() {
    let expected = Open {
        version: 4,
        my_as: 65000,
        hold_time: 240,
        router_id: Ipv4Addr::new(192, 0, 2, 2),
        capabilities: vec![
            Capability::MultiProtocol { afi: 1, safi: 1 },
            Capability::MultiProtocol { afi: 2, safi: 1 },
            Capability::RouteRefresh,
            Capability::ExtendedNextHop(vec![ExtendedNextHopTuple {
                afi: 1,
                safi: 1,
                next_hop_afi: 2,
            }]),
            // Graceful Restart: restart time 120.
            Capability::Unknown {
                code: 64,
                data: vec![0x00, 0x78],
            },
            Capability::FourOctetAs(65000),
            // Enhanced Route Refresh, Long-Lived GR (empty).
            Capability::Unknown {
                code: 70,
                data: vec![],
            },
            Capability::Unknown {
                code: 71,
                data: vec![],
            },
        ],
    };
    let bytes = hex(BIRD_OPEN);
    assert_eq!(decode(&bytes, &AS2), Ok(Message::Open(expected.clone())));
    assert_bytes(&encode_open(&expected), &bytes);
    assert_eq!(expected.hostname(), None);
}

/// FRR 8.4.4's OPEN, one optional parameter per capability: 01-start-primary.pcap frame 8.
/// Decode only: we always put every capability in one parameter.
const FRR_OPEN: &str = "ffffffffffffffffffffffffffffffff007e0104fde800b4c00002016102060104\
    000100010208050600010001000202060104000200010202800002020200020246000206410400\
    00fde802020600020a4508000101010002010102094907056c6c2d72730002044002c07802104\
    70e0001018000000000020180000000";

/// FRR without `capability extended-nexthop`: 08-frr-no-enhe.pcap frame 7.
const FRR_OPEN_NO_ENHE: &str = "ffffffffffffffffffffffffffffffff00740104fde800b4c000020157020601\
    0400010001020601040002000102028000020202000202460002064104 0000fde802020600020a4508\
    000101010002010102094907056c6c2d7273000204400240780210470e000101800000000002018000\
    0000";

#[test]
fn frr_open_with_many_parameters_decodes() {
    let Ok(Message::Open(open)) = decode(&hex(FRR_OPEN), &AS2) else {
        panic!("FRR OPEN did not decode");
    };
    assert_eq!(open.my_as, 65000);
    assert_eq!(open.hold_time, 180);
    assert_eq!(open.router_id, Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(open.asn(), 65000);
    assert!(open.four_octet_as());
    assert!(open.multiprotocol(Family::Ipv4Unicast));
    assert!(open.multiprotocol(Family::Ipv6Unicast));
    assert!(open.extended_next_hop_v4_over_v6());
    assert_eq!(open.hostname(), Some("ll-rs"));
    let codes: Vec<u8> = open
        .capabilities
        .iter()
        .map(|c| match c {
            Capability::MultiProtocol { .. } => 1,
            Capability::RouteRefresh => 2,
            Capability::ExtendedNextHop(_) => 5,
            Capability::FourOctetAs(_) => 65,
            Capability::Fqdn { .. } => 73,
            Capability::Unknown { code, .. } => *code,
        })
        .collect();
    // The order tshark shows: MP, ExtNH, MP, Cisco RR, RR, Enhanced RR, AS4, ExtMsg, Add-Path,
    // FQDN, GR, LLGR.
    assert_eq!(codes, [1, 5, 1, 128, 2, 70, 65, 6, 69, 73, 64, 71]);

    // Re-encoding keeps every capability (now in one parameter).
    assert_eq!(
        decode(&encode_open(&open), &AS2),
        Ok(Message::Open(open.clone()))
    );
}

#[test]
fn frr_open_without_extended_next_hop_says_so() {
    let Ok(Message::Open(open)) = decode(&hex(FRR_OPEN_NO_ENHE), &AS2) else {
        panic!("FRR OPEN did not decode");
    };
    assert!(!open.extended_next_hop_v4_over_v6());
    assert!(open.multiprotocol(Family::Ipv4Unicast));
    assert_eq!(open.hostname(), Some("ll-rs"));
}

/// lelastic's IPv4 /32 UPDATE: 01-start-primary.pcap frame 15 (also 07 f12/f24, 08 f15/f27:
/// the 08 one went to FRR without extended next hop, same bytes).
const LELASTIC_UPDATE_V4: &str = "ffffffffffffffffffffffffffffffff004802000000314001010240020602\
    010000fde9c00804fde80001800e1a0001011020010db800ff000000000000000000020020cb00710a";
/// lelastic's IPv6 /64 UPDATE: 01-start-primary.pcap frame 16.
const LELASTIC_UPDATE_V6: &str = "ffffffffffffffffffffffffffffffff004c02000000354001010240020602\
    010000fde9c00804fde80001800e1e0002011020010db800ff00000000000000000002004020010db801000000";
/// `-secondary -send56`: 05-secondary-send56-sighup.pcap frames 10 and 11.
const LELASTIC_UPDATE_V4_SECONDARY: &str = "ffffffffffffffffffffffffffffffff00480200000031400101\
    0240020602010000fde9c00804fde80002800e1a0001011020010db800ff000000000000000000020020cb00710a";
const LELASTIC_UPDATE_V6_SECONDARY_56: &str = "ffffffffffffffffffffffffffffffff004b0200000034400\
    1010240020602010000fde9c00804fde80002800e1d0002011020010db800ff0000000000000000000200382001\
    0db8010000";

#[test]
fn lelastic_updates_are_reproduced_byte_for_byte() {
    let ctx = lelastic_ctx();
    let v4 = encode_announcements(&[net("203.0.113.10/32")], &primary(), &ctx);
    assert_eq!(v4.len(), 1);
    assert_bytes(&v4[0], &hex(LELASTIC_UPDATE_V4));

    let v6 = encode_announcements(&[net("2001:db8:100::/64")], &primary(), &ctx);
    assert_eq!(v6.len(), 1);
    assert_bytes(&v6[0], &hex(LELASTIC_UPDATE_V6));

    let secondary = RouteAttrs {
        communities: vec![COMMUNITY_SECONDARY],
        med: None,
    };
    let v4 = encode_announcements(&[net("203.0.113.10/32")], &secondary, &ctx);
    assert_bytes(&v4[0], &hex(LELASTIC_UPDATE_V4_SECONDARY));
    let v6 = encode_announcements(&[net("2001:db8:100::/56")], &secondary, &ctx);
    assert_bytes(&v6[0], &hex(LELASTIC_UPDATE_V6_SECONDARY_56));
}

#[test]
fn lelastic_updates_decode_as_one_announcement_each() {
    for vector in [
        LELASTIC_UPDATE_V4,
        LELASTIC_UPDATE_V6,
        LELASTIC_UPDATE_V4_SECONDARY,
        LELASTIC_UPDATE_V6_SECONDARY_56,
    ] {
        let expected = UpdateSummary {
            announced: 1,
            ..UpdateSummary::default()
        };
        assert_eq!(update_summary(&hex(vector), &AS4), expected, "{vector}");
    }
}

/// FRR reflecting both routes back (AS_PATH 65000 65001, MP_REACH first, Extended Length on
/// MP_REACH and AS_PATH): 01-start-primary.pcap frame 25, two UPDATEs in one TCP segment.
const FRR_REFLECTED_PAIR: &str = "ffffffffffffffffffffffffffffffff004e0200000037900e001a000101102\
    0010db80014003400000000000000010020cb00710a400101025002000a02020000fde80000fde9c00804fde80001\
    ffffffffffffffffffffffffffffffff0052020000003b900e001e0002011020010db8001400340000000000000001\
    004020010db801000000400101025002000a02020000fde80000fde9c00804fde80001";

#[test]
fn frr_reflected_updates_frame_and_decode() {
    let stream = hex(FRR_REFLECTED_PAIR);
    let first = frame_len(&stream).unwrap().unwrap();
    assert_eq!(first, 0x4e);
    let second = frame_len(&stream[first..]).unwrap().unwrap();
    assert_eq!(first + second, stream.len());
    for message in [&stream[..first], &stream[first..]] {
        let summary = update_summary(message, &AS4);
        assert_eq!(
            summary,
            UpdateSummary {
                announced: 1,
                ..UpdateSummary::default()
            }
        );
    }
}

/// FRR without extended next hop sends the IPv4 route back in classic NLRI with NEXT_HOP
/// 192.0.2.1: 08-frr-no-enhe.pcap frame 34 (first of two messages).
const FRR_CLASSIC_V4: &str = "ffffffffffffffffffffffffffffffff003c0200000020400101025002000a0202\
    0000fde80000fde9400304c0000201c00804fde8000120cb00710a";

#[test]
fn frr_classic_ipv4_update_decodes() {
    let summary = update_summary(&hex(FRR_CLASSIC_V4), &AS4);
    assert_eq!(
        summary,
        UpdateSummary {
            announced: 1,
            ..UpdateSummary::default()
        }
    );
    // The same bytes read as 2-octet AS paths are malformed (0x0000fde8 → segment overrun).
    assert!(update_summary(&hex(FRR_CLASSIC_V4), &AS2).treat_as_withdraw);
}

/// BIRD's End-of-RIB markers: 07-two-rs-frr-bird.pcap frames 27 (IPv4) and 30 (IPv6).
const BIRD_EOR_V4: &str = "ffffffffffffffffffffffffffffffff00170200000000";
const BIRD_EOR_V6: &str = "ffffffffffffffffffffffffffffffff001d0200000006800f03000201";

#[test]
fn end_of_rib_both_families_both_ways() {
    for (family, vector) in [
        (Family::Ipv4Unicast, BIRD_EOR_V4),
        (Family::Ipv6Unicast, BIRD_EOR_V6),
    ] {
        assert_bytes(&encode_end_of_rib(family), &hex(vector));
        assert_eq!(
            update_summary(&hex(vector), &AS4),
            UpdateSummary {
                end_of_rib: Some(family),
                ..UpdateSummary::default()
            }
        );
    }
}

/// KEEPALIVE: 01-start-primary.pcap frame 12.
const KEEPALIVE: &str = "ffffffffffffffffffffffffffffffff001304";

#[test]
fn keepalive_both_ways() {
    let bytes = hex(KEEPALIVE);
    assert_bytes(&encode_keepalive(), &bytes);
    assert_eq!(decode(&bytes, &AS4), Ok(Message::Keepalive));
}

/// The record `frame` (numbered from 1, as tshark does) of a classic little-endian pcap file.
fn pcap_frame(capture: &[u8], frame: usize) -> &[u8] {
    const FILE_HEADER: usize = 24;
    const RECORD_HEADER: usize = 16;
    assert_eq!(
        capture[..4],
        [0xd4, 0xc3, 0xb2, 0xa1],
        "not a little-endian pcap"
    );
    let mut at = FILE_HEADER;
    for number in 1.. {
        let header = &capture[at..at + RECORD_HEADER];
        let length = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
        let record = &capture[at + RECORD_HEADER..at + RECORD_HEADER + length];
        if number == frame {
            return record;
        }
        at += RECORD_HEADER + length;
    }
    unreachable!()
}

#[test]
fn golden_vectors_are_in_the_frames_they_cite() {
    const START_PRIMARY: &[u8] = include_bytes!("../testdata/01-start-primary.pcap");
    const SECONDARY_SEND56: &[u8] = include_bytes!("../testdata/05-secondary-send56-sighup.pcap");
    const FRR_AND_BIRD: &[u8] = include_bytes!("../testdata/07-two-rs-frr-bird.pcap");
    const FRR_NO_ENHE: &[u8] = include_bytes!("../testdata/08-frr-no-enhe.pcap");
    let cited = [
        (LELASTIC_OPEN, START_PRIMARY, 10),
        (LELASTIC_OPEN, SECONDARY_SEND56, 6),
        (LELASTIC_OPEN, FRR_AND_BIRD, 20),
        (BIRD_OPEN, FRR_AND_BIRD, 18),
        (FRR_OPEN, START_PRIMARY, 8),
        (FRR_OPEN_NO_ENHE, FRR_NO_ENHE, 7),
        (LELASTIC_UPDATE_V4, START_PRIMARY, 15),
        (LELASTIC_UPDATE_V4, FRR_NO_ENHE, 15),
        (LELASTIC_UPDATE_V6, START_PRIMARY, 16),
        (LELASTIC_UPDATE_V4_SECONDARY, SECONDARY_SEND56, 10),
        (LELASTIC_UPDATE_V6_SECONDARY_56, SECONDARY_SEND56, 11),
        (FRR_REFLECTED_PAIR, START_PRIMARY, 25),
        (FRR_CLASSIC_V4, FRR_NO_ENHE, 34),
        (BIRD_EOR_V4, FRR_AND_BIRD, 27),
        (BIRD_EOR_V6, FRR_AND_BIRD, 30),
        (KEEPALIVE, START_PRIMARY, 12),
    ];
    for (vector, capture, frame) in cited {
        let bytes = hex(vector);
        let record = pcap_frame(capture, frame);
        assert!(
            record.windows(bytes.len()).any(|w| w == bytes),
            "frame {frame} does not hold {vector}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-built vectors (RFC 4271 / 4760 / 8950 layouts)
// ---------------------------------------------------------------------------------------------

#[test]
fn med_goes_between_as_path_and_communities() {
    let attrs = RouteAttrs {
        communities: vec![COMMUNITY_PRIMARY],
        med: Some(10),
    };
    let messages = encode_announcements(&[net("203.0.113.10/32")], &attrs, &lelastic_ctx());
    // Hand-built: lelastic's v4 UPDATE plus MED 0x80 04 04 0000000a (+7 octets).
    let expected = hex("ffffffffffffffffffffffffffffffff 004f 02 0000 0038
         40010102 4002060201 0000fde9 8004040000000a c00804fde80001
         800e1a 0001 01 10 20010db800ff0000000000000000000200 20cb00710a");
    assert_eq!(messages.len(), 1);
    assert_bytes(&messages[0], &expected);
    assert_eq!(
        update_summary(&messages[0], &AS4),
        UpdateSummary {
            announced: 1,
            ..UpdateSummary::default()
        }
    );
}

#[test]
fn several_prefixes_share_one_update() {
    let prefixes = [
        net("203.0.113.10/32"),
        net("203.0.113.11/32"),
        net("198.51.100.0/24"),
    ];
    let messages = encode_announcements(&prefixes, &primary(), &lelastic_ctx());
    // Hand-built: MP_REACH grows by the two extra prefixes (5 + 4 octets).
    let expected = hex("ffffffffffffffffffffffffffffffff 0051 02 0000 003a
         40010102 4002060201 0000fde9 c00804fde80001
         800e23 0001 01 10 20010db800ff0000000000000000000200
         20cb00710a 20cb00710b 18c63364");
    assert_eq!(messages.len(), 1);
    assert_bytes(&messages[0], &expected);
    assert_eq!(update_summary(&messages[0], &AS4).announced, 3);
}

#[test]
fn ipv4_next_hop_uses_classic_nlri_and_skips_ipv6_prefixes() {
    let ctx = UpdateContext {
        local_as: 65001,
        four_octet_as: true,
        next_hop: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
    };
    let prefixes = [net("2001:db8:100::/64"), net("203.0.113.10/32")];
    let messages = encode_announcements(&prefixes, &primary(), &ctx);
    let expected = hex("ffffffffffffffffffffffffffffffff 0037 02 0000 001b
         40010102 4002060201 0000fde9 400304c0000207 c00804fde80001
         20cb00710a");
    assert_eq!(messages.len(), 1, "the IPv6 prefix cannot be sent");
    assert_bytes(&messages[0], &expected);
    assert_eq!(update_summary(&messages[0], &AS4).announced, 1);

    // An IPv4-mapped IPv6 next hop counts as IPv4.
    let mapped = UpdateContext {
        next_hop: "::ffff:192.0.2.7".parse().unwrap(),
        ..ctx
    };
    assert_eq!(
        encode_announcements(&prefixes, &primary(), &mapped),
        messages
    );
}

#[test]
fn mixed_families_go_in_separate_updates_ipv4_first() {
    let prefixes = [net("2001:db8:100::/64"), net("203.0.113.10/32")];
    let messages = encode_announcements(&prefixes, &primary(), &lelastic_ctx());
    assert_eq!(messages.len(), 2);
    assert_bytes(&messages[0], &hex(LELASTIC_UPDATE_V4));
    assert_bytes(&messages[1], &hex(LELASTIC_UPDATE_V6));
}

#[test]
fn two_octet_session_sends_as_trans_and_as4_path() {
    let ctx = UpdateContext {
        local_as: 4_200_000_000,
        four_octet_as: false,
        next_hop: "2001:db8:ff::2".parse().unwrap(),
    };
    let messages = encode_announcements(&[net("203.0.113.10/32")], &primary(), &ctx);
    // Hand-built: AS_PATH [23456] 2-octet; AS4_PATH (0xC0 17) last, after MP_REACH.
    let expected = hex("ffffffffffffffffffffffffffffffff 004f 02 0000 0038
         40010102 40020402015ba0 c00804fde80001
         800e1a 0001 01 10 20010db800ff0000000000000000000200 20cb00710a
         c0110602 01fa56ea00");
    assert_bytes(&messages[0], &expected);
    let summary = update_summary(&messages[0], &AS2);
    assert_eq!(summary.announced, 1);
    assert!(!summary.treat_as_withdraw);
    assert_eq!(summary.discarded_attributes, 0);

    // A 2-octet AS on a 2-octet session: no AS4_PATH.
    let small = UpdateContext {
        local_as: 65001,
        ..ctx
    };
    let messages = encode_announcements(&[net("203.0.113.10/32")], &primary(), &small);
    assert_eq!(messages[0].len(), 0x48 - 2);
    assert_eq!(update_summary(&messages[0], &AS2).announced, 1);
}

/// The attribute section of an UPDATE: what follows Total Path Attribute Length.
fn attribute_section(update: &[u8]) -> &[u8] {
    let withdrawn = usize::from(be16(update, HEADER_LEN));
    let at = HEADER_LEN + 2 + withdrawn;
    let length = usize::from(be16(update, at));
    &update[at + 2..at + 2 + length]
}

#[test]
fn path_attributes_are_the_attributes_the_encoder_sends() {
    let with_med = RouteAttrs {
        communities: vec![COMMUNITY_PRIMARY],
        med: Some(10),
    };
    let v4_session = UpdateContext {
        next_hop: "192.0.2.1".parse().unwrap(),
        ..lelastic_ctx()
    };
    let two_octet = UpdateContext {
        local_as: 4_200_000_000,
        four_octet_as: false,
        ..lelastic_ctx()
    };
    for (prefix, attrs, ctx) in [
        ("203.0.113.10/32", primary(), lelastic_ctx()),
        ("2001:db8:100::/64", primary(), lelastic_ctx()),
        ("203.0.113.10/32", with_med.clone(), v4_session),
        ("2001:db8:100::1/56", with_med, two_octet),
    ] {
        let prefix = net(prefix);
        let update = &encode_announcements(&[prefix], &attrs, &ctx)[0];
        let listed = path_attributes(&prefix, &attrs, &ctx);
        let bytes: Vec<u8> = listed.iter().flat_map(PathAttribute::to_bytes).collect();
        assert_bytes(&bytes, attribute_section(update));
        let types: Vec<u8> = listed.iter().map(PathAttribute::type_code).collect();
        assert!(types.is_sorted(), "{types:?}");
    }
    assert_eq!(
        path_attributes(&net("203.0.113.10/32"), &primary(), &lelastic_ctx())[3],
        PathAttribute::MpReachNlri {
            family: Family::Ipv4Unicast,
            next_hop: "2001:db8:ff::2".parse().unwrap(),
            prefixes: vec![net("203.0.113.10/32")],
        }
    );
    // What cannot be sent has no attributes: an IPv6 prefix on an IPv4-only session.
    assert!(path_attributes(&net("2001:db8:100::/64"), &primary(), &v4_session).is_empty());
    assert_eq!(prefix_bytes(&net("203.0.113.10/32")), [32, 203, 0, 113, 10]);
    assert_eq!(
        prefix_bytes(&net("2001:db8:100::1/56")),
        [56, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00]
    );
}

#[test]
fn host_bits_are_cleared_on_the_wire() {
    let messages = encode_announcements(&[net("2001:db8:100::1/64")], &primary(), &lelastic_ctx());
    assert_bytes(&messages[0], &hex(LELASTIC_UPDATE_V6));
}

#[test]
fn withdrawals_both_forms() {
    // Hand-built to the form GoBGP withdraws in: IPv4 in Withdrawn Routes, IPv6 in
    // MP_UNREACH_NLRI.
    let messages = encode_withdrawals(&[net("2001:db8:aaaa:1::/64"), net("203.0.113.10/32")]);
    assert_eq!(messages.len(), 2);
    assert_bytes(
        &messages[0],
        &hex("ffffffffffffffffffffffffffffffff 001c 02 0005 20cb00710a 0000"),
    );
    assert_bytes(
        &messages[1],
        &hex(
            "ffffffffffffffffffffffffffffffff 0026 02 0000 000f 800f0c 0002 01 40 20010db8aaaa0001",
        ),
    );
    for message in &messages {
        assert_eq!(
            update_summary(message, &AS4),
            UpdateSummary {
                withdrawn: 1,
                ..UpdateSummary::default()
            }
        );
    }
    assert!(encode_withdrawals(&[]).is_empty());
}

/// Every prefix of our own encoded UPDATEs, in order: a test-side parser independent of the
/// counting decoder.
fn prefixes_in(message: &[u8]) -> (Vec<IpNet>, Vec<IpNet>) {
    fn walk(mut field: &[u8], v6: bool, out: &mut Vec<IpNet>) {
        while let Some((&bits, rest)) = field.split_first() {
            let octets = usize::from(bits).div_ceil(8);
            let mut address = [0u8; 16];
            address[..octets].copy_from_slice(&rest[..octets]);
            out.push(if v6 {
                IpNet::new(std::net::Ipv6Addr::from(address).into(), bits).unwrap()
            } else {
                let v4: [u8; 4] = address[..4].try_into().unwrap();
                IpNet::new(Ipv4Addr::from(v4).into(), bits).unwrap()
            });
            field = &rest[octets..];
        }
    }
    let body = &message[HEADER_LEN..];
    let (mut announced, mut withdrawn) = (Vec::new(), Vec::new());
    let withdrawn_len = usize::from(be16(body, 0));
    walk(&body[2..2 + withdrawn_len], false, &mut withdrawn);
    let attr_len = usize::from(be16(body, 2 + withdrawn_len));
    let mut attributes = &body[4 + withdrawn_len..4 + withdrawn_len + attr_len];
    walk(&body[4 + withdrawn_len + attr_len..], false, &mut announced);
    while !attributes.is_empty() {
        let extended = attributes[0] & 0x10 != 0;
        let (header, length) = if extended {
            (4, usize::from(be16(attributes, 2)))
        } else {
            (3, usize::from(attributes[2]))
        };
        let value = &attributes[header..header + length];
        match attributes[1] {
            14 => {
                let next_hop_len = usize::from(value[3]);
                walk(
                    &value[5 + next_hop_len..],
                    be16(value, 0) == 2,
                    &mut announced,
                );
            }
            15 => walk(&value[3..], be16(value, 0) == 2, &mut withdrawn),
            _ => {}
        }
        attributes = &attributes[header + length..];
    }
    (announced, withdrawn)
}

fn many_prefixes(count: usize) -> Vec<IpNet> {
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                // 203.0.113.x/32 and 198.51.100.x/32 and beyond: distinct IPv4 /32s.
                let n = (i / 2) as u32;
                IpNet::new(Ipv4Addr::from(0xc633_6400 + n).into(), 32).unwrap()
            } else {
                let n = (i / 2) as u128;
                let base: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0000;
                IpNet::new(std::net::Ipv6Addr::from(base + (n << 64)).into(), 64).unwrap()
            }
        })
        .collect()
}

#[test]
fn packing_past_4096_octets_splits_and_keeps_every_prefix_once() {
    let prefixes = many_prefixes(3000);
    let attrs = RouteAttrs {
        communities: vec![COMMUNITY_PRIMARY, 65535 << 16],
        med: Some(5),
    };
    for ctx in [
        lelastic_ctx(),
        UpdateContext {
            next_hop: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            ..lelastic_ctx()
        },
    ] {
        let messages = encode_announcements(&prefixes, &attrs, &ctx);
        let mut seen = Vec::new();
        let mut total = 0;
        for (i, message) in messages.iter().enumerate() {
            assert!(
                message.len() <= MAX_MESSAGE_LEN,
                "message {i}: {} octets",
                message.len()
            );
            if i + 1 < messages.len()
                && Family::of(&prefixes_in(message).0[0])
                    == Family::of(&prefixes_in(&messages[i + 1]).0[0])
            {
                // Full: the next prefix (at most 17 octets) would not have fitted.
                assert!(
                    message.len() + 17 > MAX_MESSAGE_LEN,
                    "message {i} under-packed"
                );
            }
            let summary = update_summary(message, &AS4);
            assert!(!summary.treat_as_withdraw);
            total += summary.announced;
            seen.extend(prefixes_in(message).0);
        }
        let expected: Vec<IpNet> = if ctx.next_hop.is_ipv4() {
            prefixes
                .iter()
                .filter(|p| p.addr().is_ipv4())
                .copied()
                .collect()
        } else {
            let mut v: Vec<IpNet> = prefixes
                .iter()
                .filter(|p| p.addr().is_ipv4())
                .copied()
                .collect();
            v.extend(prefixes.iter().filter(|p| p.addr().is_ipv6()).copied());
            v
        };
        assert_eq!(total as usize, expected.len());
        assert_eq!(seen, expected, "every prefix once, in order");
        // The big MP_REACH_NLRI needed the Extended Length flag (0x90).
        if ctx.next_hop.is_ipv6() {
            assert!(messages[0].windows(2).any(|w| w == [0x90, 0x0e]));
        }
    }

    let withdrawals = encode_withdrawals(&prefixes);
    let mut seen = Vec::new();
    for message in &withdrawals {
        assert!(message.len() <= MAX_MESSAGE_LEN);
        seen.extend(prefixes_in(message).1);
    }
    let mut expected: Vec<IpNet> = prefixes
        .iter()
        .filter(|p| p.addr().is_ipv4())
        .copied()
        .collect();
    expected.extend(prefixes.iter().filter(|p| p.addr().is_ipv6()).copied());
    assert_eq!(seen, expected);
}

#[test]
fn attributes_too_large_for_any_prefix_send_nothing_instead_of_panicking() {
    let attrs = RouteAttrs {
        communities: (0..1100).collect(),
        med: None,
    };
    assert!(encode_announcements(&[net("203.0.113.10/32")], &attrs, &lelastic_ctx()).is_empty());
}

#[test]
fn a_thousand_packed_prefixes_are_counted() {
    // Hand-built: 1000 IPv4 /24s in the NLRI field (4 octets each) fill 4043 octets.
    let mut nlri = Vec::new();
    for i in 0..1000u32 {
        nlri.push(24);
        nlri.extend_from_slice(&(0x0a00_0000 + (i << 8)).to_be_bytes()[..3]);
    }
    let attrs = hex("40010100 4002060201 0000fde8 400304c0000201");
    let message = update(&[], &attrs, &nlri);
    assert_eq!(message.len(), 4043);
    let summary = update_summary(&message, &AS4);
    assert_eq!(summary.announced, 1000);
    assert!(!summary.treat_as_withdraw);

    // And the encoder's own packed messages: 1000 /24s in one UPDATE with an IPv4 next hop.
    let prefixes: Vec<IpNet> = (0..1000u32)
        .map(|i| IpNet::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)).into(), 24).unwrap())
        .collect();
    let ctx = UpdateContext {
        next_hop: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        ..lelastic_ctx()
    };
    let messages = encode_announcements(&prefixes, &primary(), &ctx);
    assert_eq!(messages.len(), 1);
    assert_eq!(update_summary(&messages[0], &AS4).announced, 1000);
}

#[test]
fn a_million_route_table_is_counted_in_packed_updates() {
    // 1M distinct /24s (10.0.0.0 upwards), as a route server sending a full table would pack them.
    let prefixes: Vec<IpNet> = (0..1_000_000u32)
        .map(|i| IpNet::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)).into(), 24).unwrap())
        .collect();
    let ctx = UpdateContext {
        next_hop: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        ..lelastic_ctx()
    };
    let messages = encode_announcements(&prefixes, &primary(), &ctx);
    let mut stream = Vec::new();
    for message in &messages {
        stream.extend_from_slice(message);
    }
    let mut announced = 0u64;
    let mut rest = stream.as_slice();
    while let Some(length) = frame_len(rest).unwrap() {
        announced += u64::from(update_summary(&rest[..length], &AS4).announced);
        rest = &rest[length..];
    }
    assert!(rest.is_empty());
    assert_eq!(announced, 1_000_000);
    // Fully packed: 50 octets of header and attributes, then 4-octet /24s up to 4096.
    assert_eq!(
        messages.len(),
        1_000_000usize.div_ceil((MAX_MESSAGE_LEN - 50) / 4)
    );
}

// ---------------------------------------------------------------------------------------------
// NOTIFICATION
// ---------------------------------------------------------------------------------------------

#[test]
fn cease_with_an_rfc9003_message_both_ways() {
    let notification = Notification::cease_admin_shutdown("elastic: planned maintenance");
    // Hand-built: code 6, subcode 2, length 28, the UTF-8 text.
    let expected = hex("ffffffffffffffffffffffffffffffff 0032 03 06 02 1c
         656c61737469633a20706c616e6e6564206d61696e74656e616e6365");
    assert_bytes(&encode_notification(&notification), &expected);
    assert_eq!(
        decode(&expected, &AS4),
        Ok(Message::Notification(notification.clone()))
    );
    assert_eq!(
        notification.shutdown_message().as_deref(),
        Some("elastic: planned maintenance")
    );
    assert_eq!(
        notification.to_string(),
        "Cease/Administrative Shutdown (6/2): \"elastic: planned maintenance\""
    );
}

#[test]
fn shutdown_message_is_cut_at_a_character_boundary() {
    let long = "é".repeat(200); // 400 octets
    let notification = Notification::cease_admin_shutdown(&long);
    assert_eq!(notification.data[0], 254);
    assert_eq!(notification.data.len(), 255);
    assert_eq!(notification.shutdown_message(), Some("é".repeat(127)));
    assert!(Notification::cease_admin_shutdown("").data.is_empty());
    assert_eq!(
        Notification::cease_admin_shutdown("").shutdown_message(),
        None
    );
}

#[test]
fn shutdown_message_rejects_bad_length_and_bad_utf8() {
    let mut n = Notification {
        code: 6,
        subcode: 4,
        data: vec![5, b'a', b'b'],
    };
    assert_eq!(n.shutdown_message(), None, "length past the data");
    n.data = vec![2, 0xff, 0xfe];
    assert_eq!(n.shutdown_message(), None, "not UTF-8");
    n.data = vec![2, b'o', b'k'];
    assert_eq!(
        n.shutdown_message().as_deref(),
        Some("ok"),
        "6/4 carries one too"
    );
    n.subcode = 3;
    assert_eq!(n.shutdown_message(), None, "6/3 does not");
}

#[test]
fn notification_constructors_and_names() {
    let cases = [
        (
            Notification::cease_peer_deconfigured(),
            "Cease/Peer De-configured (6/3)",
        ),
        (
            Notification::hold_timer_expired(),
            "Hold Timer Expired (4/0)",
        ),
        (
            Notification::fsm_error(),
            "Finite State Machine Error (5/0)",
        ),
        (
            Notification::open_bad_peer_as(65002),
            "OPEN Message Error/Bad Peer AS (2/2), data fdea",
        ),
        (
            Notification::unacceptable_hold_time(),
            "OPEN Message Error/Unacceptable Hold Time (2/6)",
        ),
        (
            Notification {
                code: 3,
                subcode: 11,
                data: vec![],
            },
            "UPDATE Message Error/Malformed AS_PATH (3/11)",
        ),
        (
            Notification {
                code: 6,
                subcode: 42,
                data: vec![],
            },
            "Cease/subcode 42 (6/42)",
        ),
        (
            Notification {
                code: 99,
                subcode: 1,
                data: vec![],
            },
            "error code 99 (99/1)",
        ),
    ];
    for (notification, text) in cases {
        assert_eq!(notification.to_string(), text);
    }
    // gobgpd's shutdown NOTIFICATION: ffff…ff 0015 03 06 03.
    assert_bytes(
        &encode_notification(&Notification::cease_peer_deconfigured()),
        &hex("ffffffffffffffffffffffffffffffff 0015 03 0603"),
    );
    assert_eq!(Notification::open_bad_peer_as(4_200_000_000).data.len(), 4);
}

#[test]
fn every_rfc_subcode_has_a_name() {
    let named = [
        (1, 1..=3),
        (2, 1..=7),
        (3, 1..=11),
        (5, 1..=3),
        (6, 1..=10),
        (7, 1..=1),
    ];
    for (code, subcodes) in named {
        for subcode in subcodes {
            let n = Notification {
                code,
                subcode,
                data: vec![],
            };
            assert!(n.subcode_name().is_some(), "{code}/{subcode}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Framing and header errors
// ---------------------------------------------------------------------------------------------

fn header(length: u16, message_type: u8) -> Vec<u8> {
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&length.to_be_bytes());
    out.push(message_type);
    out
}

#[track_caller]
fn assert_error(
    result: Result<impl std::fmt::Debug, DecodeError>,
    code: u8,
    subcode: u8,
    data: &[u8],
) {
    match result {
        Err(e) => {
            let n = e.notification();
            assert_eq!(
                (n.code, n.subcode, n.data.as_slice()),
                (code, subcode, data),
                "{e}"
            );
        }
        Ok(v) => panic!("expected {code}/{subcode}, got {v:?}"),
    }
}

#[test]
fn framing_waits_for_whole_messages() {
    assert_eq!(frame_len(&[]), Ok(None));
    assert_eq!(frame_len(&[0xff; 10]), Ok(None));
    assert_eq!(frame_len(&[0xff; 18]), Ok(None));
    let v4 = hex(LELASTIC_UPDATE_V4);
    assert_eq!(frame_len(&v4[..50]), Ok(None));
    assert_eq!(frame_len(&v4[..HEADER_LEN]), Ok(None));
    assert_eq!(frame_len(&v4), Ok(Some(72)));
}

#[test]
fn framing_splits_two_messages_in_one_buffer() {
    let mut stream = hex(LELASTIC_OPEN);
    stream.extend(encode_keepalive());
    stream.extend_from_slice(&hex(LELASTIC_UPDATE_V4)[..30]);
    let first = frame_len(&stream).unwrap().unwrap();
    assert_eq!(first, 65);
    let second = frame_len(&stream[first..]).unwrap().unwrap();
    assert_eq!(
        decode(&stream[first..first + second], &AS4),
        Ok(Message::Keepalive)
    );
    assert_eq!(frame_len(&stream[first + second..]), Ok(None));
}

#[test]
fn framing_rejects_header_errors() {
    assert_error(frame_len(&[0xff, 0xff, 0xfe]), 1, 1, &[]);
    let mut bad_marker = encode_keepalive();
    bad_marker[15] = 0;
    assert_error(frame_len(&bad_marker), 1, 1, &[]);
    assert_error(decode(&bad_marker, &AS4), 1, 1, &[]);
    assert_error(frame_len(&header(18, 4)), 1, 2, &[0x00, 0x12]);
    assert_error(frame_len(&header(4097, 2)), 1, 2, &[0x10, 0x01]);
    assert_error(frame_len(&header(20, 4)), 1, 2, &[0x00, 0x14]);
    assert_error(frame_len(&header(28, 1)), 1, 2, &[0x00, 0x1c]);
    assert_error(frame_len(&header(22, 2)), 1, 2, &[0x00, 0x16]);
    assert_error(frame_len(&header(20, 3)), 1, 2, &[0x00, 0x14]);
    assert_error(frame_len(&header(22, 5)), 1, 2, &[0x00, 0x16]);
    // Unknown type: 1/3 with the type (GoBGP 3.10 crashes on this one).
    assert_error(frame_len(&header(19, 9)), 1, 3, &[9]);
    assert_error(decode(&header(19, 9), &AS4), 1, 3, &[9]);
    assert_error(decode(&header(19, 0), &AS4), 1, 3, &[0]);
}

#[test]
fn decode_rejects_a_slice_that_is_not_one_message() {
    assert_error(decode(&[], &AS4), 1, 2, &[]);
    let mut two = encode_keepalive();
    two.extend(encode_keepalive());
    assert_error(decode(&two, &AS4), 1, 2, &[0, 19]);
}

#[test]
fn route_refresh_decodes() {
    let mut message = header(23, 5);
    message.extend_from_slice(&[0, 2, 0, 1]);
    assert_eq!(
        decode(&message, &AS4),
        Ok(Message::RouteRefresh { afi: 2, safi: 1 })
    );
}

// ---------------------------------------------------------------------------------------------
// OPEN errors
// ---------------------------------------------------------------------------------------------

/// An OPEN built from its body (after the header).
fn open_message(body: &[u8]) -> Vec<u8> {
    let mut out = header((HEADER_LEN + body.len()) as u16, 1);
    out.extend_from_slice(body);
    out
}

#[test]
fn open_errors_get_the_rfc4271_subcodes() {
    let good = hex(LELASTIC_OPEN)[HEADER_LEN..].to_vec();
    let with = |at: usize, bytes: &[u8]| {
        let mut body = good.clone();
        body[at..at + bytes.len()].copy_from_slice(bytes);
        open_message(&body)
    };
    assert_error(decode(&with(0, &[3]), &AS4), 2, 1, &[0, 4]);
    assert_error(decode(&with(3, &[0, 1]), &AS4), 2, 6, &[]);
    assert_error(decode(&with(3, &[0, 2]), &AS4), 2, 6, &[]);
    assert!(
        decode(&with(3, &[0, 0]), &AS4).is_ok(),
        "hold time 0 is allowed"
    );
    assert!(decode(&with(3, &[0, 3]), &AS4).is_ok());
    assert_error(decode(&with(5, &[0, 0, 0, 0]), &AS4), 2, 3, &[]);
    // Optional parameter type 1 (authentication, deprecated).
    assert_error(decode(&with(10, &[1]), &AS4), 2, 4, &[]);
    // Opt Parm Len says 35 but 36 octets follow.
    assert_error(decode(&with(9, &[35]), &AS4), 2, 0, &[]);
    // Parameter length 35 overruns.
    assert_error(decode(&with(11, &[35]), &AS4), 2, 0, &[]);
    // Capability length (FQDN) overruns its parameter.
    assert_error(decode(&with(15, &[40]), &AS4), 2, 0, &[]);
    // A lone octet after the last capability.
    let mut body = good[..10].to_vec();
    body.extend_from_slice(&[2, 3, 2, 0, 7]);
    body[9] = 5;
    assert_error(decode(&open_message(&body), &AS4), 2, 0, &[]);
}

#[test]
fn open_without_capabilities_and_malformed_capability_values() {
    let mut body = hex(LELASTIC_OPEN)[HEADER_LEN..HEADER_LEN + 10].to_vec();
    body[9] = 0;
    let Ok(Message::Open(open)) = decode(&open_message(&body), &AS4) else {
        panic!("bare OPEN did not decode");
    };
    assert!(open.capabilities.is_empty());
    assert_eq!(open.asn(), 65001);
    assert!(!open.four_octet_as());
    assert_eq!(encode_open(&open), open_message(&body));

    // Known codes with wrong lengths stay Unknown instead of resetting the session.
    body[9] = 14;
    body.extend_from_slice(&[2, 12, 1, 3, 0, 1, 0, 65, 2, 0, 1, 73, 1, 9]);
    let Ok(Message::Open(open)) = decode(&open_message(&body), &AS4) else {
        panic!("OPEN did not decode");
    };
    assert_eq!(
        open.capabilities,
        [
            Capability::Unknown {
                code: 1,
                data: vec![0, 1, 0]
            },
            Capability::Unknown {
                code: 65,
                data: vec![0, 1]
            },
            Capability::Unknown {
                code: 73,
                data: vec![9]
            },
        ]
    );
    assert!(!open.four_octet_as());
    assert!(!open.multiprotocol(Family::Ipv4Unicast));
}

#[test]
fn extended_optional_parameters_rfc9072_both_ways() {
    // 80 unknown capabilities of 3 octets each: 240 + 34 octets overflow the 1-octet lengths.
    let mut open = lelastic_open();
    for code in 100..180 {
        open.capabilities.push(Capability::Unknown {
            code,
            data: vec![code],
        });
    }
    let bytes = encode_open(&open);
    assert_eq!(&bytes[28..31], &[255, 255, 0x01]);
    assert_eq!(decode(&bytes, &AS4), Ok(Message::Open(open)));

    // The lelastic OPEN rewritten by hand in the RFC 9072 format decodes to the same value.
    let classic = hex(LELASTIC_OPEN);
    let caps = &classic[31..];
    let mut body = classic[HEADER_LEN..HEADER_LEN + 9].to_vec();
    body.extend_from_slice(&[255, 255, 0, (caps.len() + 3) as u8, 2, 0, caps.len() as u8]);
    body.extend_from_slice(caps);
    assert_eq!(
        decode(&open_message(&body), &AS4),
        Ok(Message::Open(lelastic_open()))
    );
    // Extended length mismatch.
    body[12] += 1;
    assert_error(decode(&open_message(&body), &AS4), 2, 0, &[]);
}

#[test]
fn fqdn_is_truncated_to_fit_its_capability() {
    let mut open = lelastic_open();
    open.capabilities[1] = Capability::Fqdn {
        hostname: "h".repeat(300),
        domain: "example.net".into(),
    };
    let Ok(Message::Open(decoded)) = decode(&encode_open(&open), &AS4) else {
        panic!("did not decode");
    };
    assert_eq!(decoded.hostname().map(str::len), Some(253));
}

// ---------------------------------------------------------------------------------------------
// RFC 7606 table
// ---------------------------------------------------------------------------------------------

/// An UPDATE from its three variable parts.
fn update(withdrawn: &[u8], attributes: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = (withdrawn.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    body.extend_from_slice(attributes);
    body.extend_from_slice(nlri);
    let mut out = header((HEADER_LEN + body.len()) as u16, 2);
    out.extend_from_slice(&body);
    out
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Fine,
    TreatAsWithdraw,
    Discard(u32),
    Reset(u8, u8),
}

fn outcome(message: &[u8], ctx: &DecodeContext) -> Outcome {
    match decode(message, ctx) {
        Ok(Message::Update(s)) if s.treat_as_withdraw => Outcome::TreatAsWithdraw,
        Ok(Message::Update(s)) if s.discarded_attributes > 0 => {
            Outcome::Discard(s.discarded_attributes)
        }
        Ok(Message::Update(_)) => Outcome::Fine,
        Ok(other) => panic!("not an UPDATE: {other:?}"),
        Err(e) => {
            let n = e.notification();
            Outcome::Reset(n.code, n.subcode)
        }
    }
}

const ORIGIN_OK: &str = "40010102";
const AS_PATH_OK: &str = "4002060201 0000fde8";
const NEXT_HOP_OK: &str = "400304 c0000201";
/// 203.0.113.0/24
const NLRI_OK: &str = "18cb0071";
/// MP_REACH_NLRI AFI 2 with 2001:db8:100::/64 and a 16-octet next hop.
const MP_REACH_V6: &str =
    "800e1e 0002 01 10 20010db800ff00000000000000000002 00 40 20010db801000000";
const MP_UNREACH_V6: &str = "800f0c 0002 01 40 20010db801000000";

#[test]
fn rfc7606_outcomes() {
    use Outcome::*;
    let classic = |attrs: &str| update(&[], &hex(attrs), &hex(NLRI_OK));
    let mp = |attrs: &str| update(&[], &hex(attrs), &[]);
    let base = format!("{ORIGIN_OK} {AS_PATH_OK} {NEXT_HOP_OK}");
    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        ("valid classic UPDATE", classic(&base), Fine),
        (
            "valid MP_REACH-only UPDATE without NEXT_HOP",
            mp(&format!("{ORIGIN_OK} {AS_PATH_OK} {MP_REACH_V6}")),
            Fine,
        ),
        (
            "Extended Length flag on ORIGIN is fine (RFC 4271 §4.3: any attribute may set it)",
            classic(&format!("50010001 02 {AS_PATH_OK} {NEXT_HOP_OK}")),
            Fine,
        ),
        (
            "§7.1 ORIGIN value 7",
            classic(&format!("40010107 {AS_PATH_OK} {NEXT_HOP_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§7.1 ORIGIN length 2",
            classic(&format!("4001020200 {AS_PATH_OK} {NEXT_HOP_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§3(c) ORIGIN flags 0xC0",
            classic(&format!("c0010102 {AS_PATH_OK} {NEXT_HOP_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§3(d) ORIGIN missing",
            classic(&format!("{AS_PATH_OK} {NEXT_HOP_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§3(d) AS_PATH missing",
            classic(&format!("{ORIGIN_OK} {NEXT_HOP_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§3(d) NEXT_HOP missing with classic NLRI",
            classic(&format!("{ORIGIN_OK} {AS_PATH_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§3(d) ORIGIN missing with MP_REACH",
            mp(&format!("{AS_PATH_OK} {MP_REACH_V6}")),
            TreatAsWithdraw,
        ),
        (
            "§7.2 AS_PATH segment type 9",
            classic(&format!("{ORIGIN_OK} 4002060901 0000fde8 {NEXT_HOP_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§7.2 AS_PATH segment count 0",
            classic(&format!("{ORIGIN_OK} 4002020200 {NEXT_HOP_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§7.2 AS_PATH segment overruns",
            classic(&format!("{ORIGIN_OK} 4002060202 0000fde8 {NEXT_HOP_OK}")),
            TreatAsWithdraw,
        ),
        (
            "§7.3 NEXT_HOP length 5",
            classic(&format!("{ORIGIN_OK} {AS_PATH_OK} 400305 c000020100")),
            TreatAsWithdraw,
        ),
        (
            "§7.4 MED length 3",
            classic(&format!("{base} 800403 000000")),
            TreatAsWithdraw,
        ),
        (
            "§7.5 LOCAL_PREF length 2",
            classic(&format!("{base} 40050200 64")),
            TreatAsWithdraw,
        ),
        (
            "§7.8 COMMUNITIES length 7",
            classic(&format!("{base} c00807 fde80001 000000")),
            TreatAsWithdraw,
        ),
        (
            "§7.8 COMMUNITIES length 0",
            classic(&format!("{base} c00800")),
            TreatAsWithdraw,
        ),
        (
            "§7.9 ORIGINATOR_ID length 3",
            classic(&format!("{base} 800903 0a0000")),
            TreatAsWithdraw,
        ),
        (
            "§7.10 CLUSTER_LIST length 5",
            classic(&format!("{base} 800a05 0a00000100")),
            TreatAsWithdraw,
        ),
        (
            "§7.14 EXTENDED_COMMUNITIES length 9",
            classic(&format!("{base} c01009 000000000000000000")),
            TreatAsWithdraw,
        ),
        (
            "RFC 8092 LARGE_COMMUNITIES length 11",
            classic(&format!("{base} c0200b 0000fde8000000010000 00")),
            TreatAsWithdraw,
        ),
        (
            "§7.6 ATOMIC_AGGREGATE length 1",
            classic(&format!("{base} 40060100")),
            Discard(1),
        ),
        (
            "§7.7 AGGREGATOR length 6 on a 4-octet session",
            classic(&format!("{base} c00706 fde8 c0000201")),
            Discard(1),
        ),
        (
            "AGGREGATOR length 8 on a 4-octet session",
            classic(&format!("{base} c00708 0000fde8 c0000201")),
            Fine,
        ),
        (
            "RFC 6793 AS4_PATH from a 4-octet speaker",
            classic(&format!("{base} c0110602010000fde8")),
            Discard(1),
        ),
        (
            "RFC 6793 AS4_AGGREGATOR length 4",
            classic(&format!("{base} c01204 0000fde8")),
            Discard(1),
        ),
        (
            "§3(g) COMMUNITIES twice: the repeat is discarded",
            classic(&format!("{base} c00804fde80001 c00804fde80002")),
            Discard(1),
        ),
        (
            "unknown optional transitive attribute",
            classic(&format!("{base} c06303 010203")),
            Fine,
        ),
        (
            "unknown optional non-transitive attribute",
            classic(&format!("{base} 806300")),
            Fine,
        ),
        (
            "RFC 4271 §6.3 unrecognized well-known attribute",
            classic(&format!("{base} 406300")),
            Reset(3, 2),
        ),
        (
            "§4 attribute length overruns the section",
            classic(&format!("{base} c00808 fde80001")),
            TreatAsWithdraw,
        ),
        (
            "§4 fewer than 3 octets left",
            classic(&format!("{base} c008")),
            TreatAsWithdraw,
        ),
        (
            "§4 Extended Length header cut off",
            classic(&format!("{base} d00800")),
            TreatAsWithdraw,
        ),
        (
            "§3(j) MP_REACH overruns the section",
            mp(&format!(
                "{ORIGIN_OK} {AS_PATH_OK} 800e30 0002 01 10 20010db800ff00000000000000000002 00"
            )),
            Reset(3, 9),
        ),
        (
            "§7.11 MP_REACH next hop length 15",
            mp(&format!(
                "{ORIGIN_OK} {AS_PATH_OK} 800e1d 0002 01 0f 20010db800ff000000000000000000 00 40 20010db801000000"
            )),
            Reset(3, 9),
        ),
        (
            "§7.11 MP_REACH IPv4 next hop length 5",
            mp(&format!(
                "{ORIGIN_OK} {AS_PATH_OK} 800e0f 0001 01 05 c000020100 00 20 cb00710a"
            )),
            Reset(3, 9),
        ),
        (
            "§7.11 MP_REACH next hop overruns",
            mp(&format!("{ORIGIN_OK} {AS_PATH_OK} 800e06 0002 01 10 2001")),
            Reset(3, 9),
        ),
        (
            "MP_REACH shorter than its fixed part",
            mp(&format!("{ORIGIN_OK} {AS_PATH_OK} 800e02 0002")),
            Reset(3, 9),
        ),
        (
            "§5.3 MP_REACH IPv4 prefix length 33",
            mp(&format!(
                "{ORIGIN_OK} {AS_PATH_OK} 800e1a 0001 01 10 20010db800ff00000000000000000002 00 21 cb00710a"
            )),
            Reset(3, 9),
        ),
        (
            "§5.3 MP_REACH prefix overruns",
            mp(&format!(
                "{ORIGIN_OK} {AS_PATH_OK} 800e19 0002 01 10 20010db800ff00000000000000000002 00 40 20010d"
            )),
            Reset(3, 9),
        ),
        (
            "§3(g) MP_REACH twice",
            mp(&format!(
                "{ORIGIN_OK} {AS_PATH_OK} {MP_REACH_V6} {MP_REACH_V6}"
            )),
            Reset(3, 1),
        ),
        (
            "§3(g) MP_UNREACH twice",
            mp(&format!("{MP_UNREACH_V6} {MP_UNREACH_V6}")),
            Reset(3, 1),
        ),
        (
            "§5.3 MP_UNREACH prefix length 129",
            mp("800f04 0002 01 81"),
            Reset(3, 9),
        ),
        (
            "MP_UNREACH shorter than AFI/SAFI",
            mp("800f02 0002"),
            Reset(3, 9),
        ),
        (
            "MP_REACH of a family we do not speak is ignored",
            mp(&format!(
                "{ORIGIN_OK} {AS_PATH_OK} 800e0a 0019 41 04 c0000201 00 ff"
            )),
            Fine,
        ),
        (
            "§3(c) MP_REACH with well-known flags",
            mp(&format!(
                "{ORIGIN_OK} {AS_PATH_OK} 400e1e 0002 01 10 20010db800ff00000000000000000002 00 40 20010db801000000"
            )),
            TreatAsWithdraw,
        ),
        (
            "§5.3 classic NLRI prefix length 40",
            update(&[], &hex(&base), &hex("28cb00710a01")),
            Reset(3, 10),
        ),
        (
            "§5.3 classic NLRI prefix overruns",
            update(&[], &hex(&base), &hex("18cb00")),
            Reset(3, 10),
        ),
        (
            "§5.3 Withdrawn Routes prefix length 33",
            update(&hex("21cb00710a00"), &[], &[]),
            Reset(3, 10),
        ),
        (
            "RFC 4271 §6.3 Withdrawn Routes Length overruns",
            header_update(&hex("0040 0000")),
            Reset(3, 1),
        ),
        (
            "RFC 4271 §6.3 Total Path Attribute Length overruns",
            header_update(&hex("0000 0040 40010102")),
            Reset(3, 1),
        ),
        (
            "Withdrawn Routes leave no room for the attribute length",
            header_update(&hex("0002 0000")),
            Reset(3, 1),
        ),
        (
            "withdraw-only UPDATE needs no attributes",
            update(&hex("20cb00710a"), &[], &[]),
            Fine,
        ),
        (
            "malformed attribute without NLRI is still reported",
            mp("40010107"),
            TreatAsWithdraw,
        ),
    ];
    let mut failures = Vec::new();
    for (name, message, expected) in cases {
        let actual = outcome(&message, &AS4);
        if actual != expected {
            failures.push(format!("{name}: expected {expected:?}, got {actual:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// An UPDATE from a raw body, so the inner lengths can lie.
fn header_update(body: &[u8]) -> Vec<u8> {
    let mut out = header((HEADER_LEN + body.len()) as u16, 2);
    out.extend_from_slice(body);
    out
}

#[test]
fn rfc7606_outcomes_depend_on_the_as_size() {
    let two_octet_path = hex(&format!("{ORIGIN_OK} 40020402 01fde8 {NEXT_HOP_OK}"));
    let message = update(&[], &two_octet_path, &hex(NLRI_OK));
    assert_eq!(outcome(&message, &AS2), Outcome::Fine);
    assert_eq!(outcome(&message, &AS4), Outcome::TreatAsWithdraw);

    // AGGREGATOR is 6 octets and AS4_PATH is accepted between 2-octet speakers.
    let base = format!("{ORIGIN_OK} 40020402 01fde8 {NEXT_HOP_OK}");
    let with = |extra: &str| update(&[], &hex(&format!("{base} {extra}")), &hex(NLRI_OK));
    assert_eq!(outcome(&with("c00706 fde8 c0000201"), &AS2), Outcome::Fine);
    assert_eq!(
        outcome(&with("c00708 0000fde8 c0000201"), &AS2),
        Outcome::Discard(1)
    );
    assert_eq!(outcome(&with("c0110602010000fde8"), &AS2), Outcome::Fine);
    assert_eq!(
        outcome(&with("c0110602020000fde8"), &AS2),
        Outcome::Discard(1)
    );
}

#[test]
fn reset_notifications_carry_the_offending_attribute() {
    let attrs = hex(&format!("{ORIGIN_OK} {AS_PATH_OK} 406300"));
    let message = update(&[], &attrs, &[]);
    assert_error(decode(&message, &AS4), 3, 2, &hex("406300"));
    let bad_mp = hex("800f04 0002 01 81");
    assert_error(decode(&update(&[], &bad_mp, &[]), &AS4), 3, 9, &bad_mp);
}

#[test]
fn treat_as_withdraw_still_counts_the_routes() {
    let attrs = hex(&format!("40010107 {AS_PATH_OK} {MP_REACH_V6}"));
    let summary = update_summary(&update(&hex("20cb00710a"), &attrs, &[]), &AS4);
    assert_eq!(
        summary,
        UpdateSummary {
            announced: 1,
            withdrawn: 1,
            end_of_rib: None,
            treat_as_withdraw: true,
            discarded_attributes: 0,
        }
    );
}

#[test]
fn end_of_rib_is_only_an_empty_lone_mp_unreach() {
    // An empty MP_UNREACH next to another attribute is not an End-of-RIB.
    let message = update(&[], &hex(&format!("{ORIGIN_OK} 800f03000201")), &[]);
    assert_eq!(update_summary(&message, &AS4).end_of_rib, None);
    // Nor one of a family we do not speak.
    let message = update(&[], &hex("800f0300024a"), &[]);
    assert_eq!(update_summary(&message, &AS4).end_of_rib, None);
    // A non-empty one withdraws.
    assert_eq!(
        update_summary(&update(&[], &hex(MP_UNREACH_V6), &[]), &AS4).withdrawn,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Robustness: seeded mutations of the golden vectors never panic
// ---------------------------------------------------------------------------------------------

fn golden_vectors() -> Vec<Vec<u8>> {
    let mut vectors: Vec<Vec<u8>> = [
        LELASTIC_OPEN,
        BIRD_OPEN,
        FRR_OPEN,
        FRR_OPEN_NO_ENHE,
        LELASTIC_UPDATE_V4,
        LELASTIC_UPDATE_V6,
        LELASTIC_UPDATE_V6_SECONDARY_56,
        FRR_CLASSIC_V4,
        BIRD_EOR_V4,
        BIRD_EOR_V6,
    ]
    .iter()
    .map(|v| hex(v))
    .collect();
    let pair = hex(FRR_REFLECTED_PAIR);
    vectors.push(pair[..0x4e].to_vec());
    vectors.push(encode_notification(&Notification::cease_admin_shutdown(
        "bye",
    )));
    vectors.extend(encode_withdrawals(&[
        net("203.0.113.10/32"),
        net("2001:db8:100::/64"),
    ]));
    vectors.push(update(&[], &hex(&format!("{ORIGIN_OK} {AS_PATH_OK} {NEXT_HOP_OK} c00708 0000fde8 c0000201 40060100 c0110602010000fde8")), &hex(NLRI_OK)));
    vectors
}

/// Sets the header length to the real length, so mutations reach the body decoders.
fn fix_length(message: &mut [u8]) {
    if message.len() >= 18 {
        let length = message.len().min(u16::MAX as usize) as u16;
        message[16..18].copy_from_slice(&length.to_be_bytes());
    }
}

#[test]
fn seeded_mutations_of_golden_vectors_never_panic() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_b9b0);
    let vectors = golden_vectors();
    let mut decoded_ok = 0;
    for round in 0..6000 {
        let mut message = vectors[round % vectors.len()].clone();
        for _ in 0..rng.usize(1..=4) {
            match rng.u8(0..6) {
                0 => {
                    let i = rng.usize(..message.len());
                    message[i] ^= 1 << rng.u8(0..8);
                }
                1 => {
                    let i = rng.usize(..message.len());
                    message[i] = rng.u8(..);
                }
                2 => {
                    let keep = rng.usize(..=message.len());
                    message.truncate(keep);
                }
                3 => {
                    let i = rng.usize(..=message.len());
                    message.insert(i, rng.u8(..));
                }
                4 if message.len() > HEADER_LEN => {
                    // Hit the interesting length octets after the header.
                    let i = rng.usize(HEADER_LEN..message.len());
                    message[i] = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff][rng.usize(..8)];
                }
                _ => {}
            }
            if message.is_empty() {
                message.push(0xff);
            }
        }
        if rng.bool() {
            fix_length(&mut message);
        }
        for ctx in [AS2, AS4] {
            if decode(&message, &ctx).is_ok() {
                decoded_ok += 1;
            }
            let mut rest = message.as_slice();
            while let Ok(Some(length)) = frame_len(rest) {
                assert!(length >= HEADER_LEN && length <= rest.len());
                let _ = decode(&rest[..length], &ctx).map_err(|e| e.to_string());
                rest = &rest[length..];
            }
        }
    }
    // The mutations must not all be rejected at the header, or the body decoders went untested.
    assert!(
        decoded_ok > 1000,
        "only {decoded_ok} mutated messages decoded"
    );
}
