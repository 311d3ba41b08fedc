//! A minimal MRT TABLE_DUMP_V2 file (RFC 6396) of locally originated IPv6 routes, for
//! `gobgp mrt inject global FILE`, the fastest way we found to hand gobgpd many paths (one gRPC
//! AddPathStream instead of one `gobgp global rib add` process per prefix).
//!
//! Hand-written: two record types with fixed fields; no MRT crate is worth a dependency for that.
//! Every entry carries what `gobgp global rib add -a ipv6 P origin incomplete community 65000:1`
//! would: ORIGIN incomplete, an empty AS_PATH (gobgpd prepends 65001 on export), COMMUNITIES, and
//! MP_REACH with next hop `::` (gobgpd replaces it with the session's local address). The peer
//! index table names one peer with AS 0, which gobgp's inject turns into a local path.

use std::net::Ipv6Addr;

const MRT_TABLE_DUMP_V2: u16 = 13;
const PEER_INDEX_TABLE: u16 = 1;
const RIB_IPV6_UNICAST: u16 = 4;

/// The file for `prefixes` (each /64), all with `community` (e.g. 65000:1 → 0xFDE8_0001), followed
/// by the first `padding` prefixes again: `gobgp mrt inject` exits without closing its stream, so
/// the last few hundred records may never reach gobgpd; repeats there cost nothing new.
pub(crate) fn table_dump(prefixes: &[Ipv6Addr], padding: usize, community: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + (prefixes.len() + padding) * 70);
    record(&mut out, PEER_INDEX_TABLE, &peer_index_table());
    let repeats = prefixes.iter().take(padding);
    for (sequence, prefix) in prefixes.iter().chain(repeats).enumerate() {
        record(
            &mut out,
            RIB_IPV6_UNICAST,
            &rib_entry(sequence as u32, prefix, 64, community),
        );
    }
    out
}

/// Common header: timestamp, type, subtype, length.
fn record(out: &mut Vec<u8>, subtype: u16, body: &[u8]) {
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&MRT_TABLE_DUMP_V2.to_be_bytes());
    out.extend_from_slice(&subtype.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// Collector id 0.0.0.0, no view name, one peer: type 0x02 (AS4, IPv4 address), id 0, 0.0.0.0, AS 0.
fn peer_index_table() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&[0, 0, 0, 0]); // collector BGP id
    b.extend_from_slice(&0u16.to_be_bytes()); // view name length
    b.extend_from_slice(&1u16.to_be_bytes()); // peer count
    b.push(0x02); // peer type: 4-octet AS, IPv4 address
    b.extend_from_slice(&[0, 0, 0, 0]); // peer BGP id
    b.extend_from_slice(&[0, 0, 0, 0]); // peer address
    b.extend_from_slice(&0u32.to_be_bytes()); // peer AS 0: a local path
    b
}

fn rib_entry(sequence: u32, prefix: &Ipv6Addr, len: u8, community: u32) -> Vec<u8> {
    let prefix_bytes = &prefix.octets()[..usize::from(len).div_ceil(8)];
    let mut attrs = Vec::new();
    attrs.extend_from_slice(&[0x40, 1, 1, 2]); // ORIGIN incomplete
    attrs.extend_from_slice(&[0x40, 2, 0]); // AS_PATH, empty
    attrs.extend_from_slice(&[0xC0, 8, 4]); // COMMUNITIES
    attrs.extend_from_slice(&community.to_be_bytes());
    // MP_REACH_NLRI in full (gobgp decodes it as in an UPDATE): AFI 2, SAFI 1, next hop ::, NLRI.
    let mut mp = vec![0, 2, 1, 16];
    mp.extend_from_slice(&[0u8; 16]);
    mp.push(0); // reserved
    mp.push(len);
    mp.extend_from_slice(prefix_bytes);
    attrs.extend_from_slice(&[0x80, 14, mp.len() as u8]);
    attrs.extend_from_slice(&mp);

    let mut b = Vec::new();
    b.extend_from_slice(&sequence.to_be_bytes());
    b.push(len);
    b.extend_from_slice(prefix_bytes);
    b.extend_from_slice(&1u16.to_be_bytes()); // entry count
    b.extend_from_slice(&0u16.to_be_bytes()); // peer index
    b.extend_from_slice(&0u32.to_be_bytes()); // originated time
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(&attrs);
    b
}
