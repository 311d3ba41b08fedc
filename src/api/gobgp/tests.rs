//! Snapshot → apipb conversions, checked against what the `gobgp` 3.x CLI reads (the comments in
//! `proto/gobgp/v3/`) and against the BGP encoder's bytes.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use prost::Message as _;

use super::path::{PathEncoding, adj_out_paths, global_paths};
use super::peer::{capability, peer};
use super::*;
use crate::announce::desired_routes;
use crate::bgp::session::{MessageCounts, SessionStatus, State};
use crate::bgp::wire::{self, Capability, ExtendedNextHopTuple, UpdateContext};
use crate::cli::Role;
use crate::model::{COMMUNITY_PRIMARY, DesiredRoutes, RouteAttrs};
use crate::proto::apipb::{Path, TableType, peer_state::SessionState, table_lookup_prefix};
use crate::status::{BgpInfo, RoutesFirstSeen, Snapshot};

const V4: &str = "203.0.113.10/32";
const V6: &str = "2001:db8:aaaa:1::/64";
const RS: &str = "2001:db8:10::2";
const LOCAL: &str = "2001:db8:10::1";

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn info() -> Arc<DaemonInfo> {
    Arc::new(DaemonInfo::example(
        Role::Primary,
        Ipv4Addr::new(10, 0, 0, 1),
        "vm",
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ))
}

fn bgp_of(snapshot: &Snapshot) -> &BgpInfo {
    snapshot.info.bgp.as_ref().expect("BGP mode")
}

fn routes() -> DesiredRoutes {
    desired_routes(&[net(V4), net(V6)], Role::Primary, None)
}

/// What GoBGP's OPEN (and so ours) carries, in its order.
fn lelastic_capabilities() -> Vec<Capability> {
    vec![
        Capability::RouteRefresh,
        Capability::Fqdn {
            hostname: "vm".to_string(),
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
    ]
}

fn established_session(now: Instant) -> SessionStatus {
    let mut remote = lelastic_capabilities();
    remote[1] = Capability::Fqdn {
        hostname: "rs".to_string(),
        domain: String::new(),
    };
    remote[4] = Capability::FourOctetAs(65000);
    SessionStatus {
        state: State::Established,
        local_address: Some(LOCAL.parse().unwrap()),
        remote_router_id: Some(Ipv4Addr::new(192, 0, 2, 2)),
        remote_as: Some(65000),
        remote_hostname: Some("rs".to_string()),
        negotiated_hold_time: Some(9),
        negotiated_keepalive: Some(3),
        established_since: Some(now - Duration::from_secs(14)),
        sent: MessageCounts {
            open: 1,
            update: 4,
            notification: 0,
            keepalive: 5,
            route_refresh: 0,
        },
        received: MessageCounts {
            open: 1,
            update: 3,
            notification: 0,
            keepalive: 5,
            route_refresh: 0,
        },
        prefixes_received: 2,
        adj_out: Arc::new(routes()),
        flaps: 0,
        local_capabilities: lelastic_capabilities(),
        remote_capabilities: remote,
        state_changes: 4,
        ..SessionStatus::new(RS.parse().unwrap())
    }
}

fn snapshot(sessions: Vec<SessionStatus>, now: Instant) -> Snapshot {
    Snapshot {
        info: info(),
        mode: Default::default(),
        taken_at: (
            now,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_100),
        ),
        sessions,
        routes: Arc::new(routes()),
        routes_first_seen: Arc::default(),
        addresses: Arc::new(Vec::new()),
        probes: Arc::new(Vec::new()),
        vrrp: Vec::new(),
        bfd_unclaimed: Default::default(),
    }
}

fn type_name(any: &prost_types::Any) -> &str {
    any.type_url
        .strip_prefix("type.googleapis.com/")
        .expect("Go's anypb prefix")
}

#[test]
fn global_is_what_gobgpd_answers_for_lelastics_start_bgp() {
    let global = global(info().bgp.as_ref().unwrap());
    assert_eq!(global.asn, 65001);
    assert_eq!(global.router_id, "10.0.0.1");
    assert_eq!(global.listen_port, -1);
    assert_eq!(global.listen_addresses, ["0.0.0.0", "::"]);
}

#[test]
fn a_peer_shows_the_configured_and_the_negotiated_timers() {
    let now = Instant::now();
    let mut session = established_session(now);
    // We propose 30 s with keepalives every 10 s; the route server offers 6 s.
    (session.negotiated_hold_time, session.negotiated_keepalive) = (Some(6), Some(2));
    let mut snapshot = snapshot(vec![session], now);
    let bgp = Arc::make_mut(&mut snapshot.info).bgp.as_mut().unwrap();
    (bgp.hold_time, bgp.keepalive) = (30, 10);
    let peer = peer(&snapshot.sessions[0], bgp_of(&snapshot), &snapshot, true);
    let timers = peer.timers.as_ref().expect("timers");
    let config = timers.config.as_ref().expect("timers.config");
    assert_eq!((config.hold_time, config.keepalive_interval), (30, 10));
    let state = timers.state.as_ref().expect("timers.state");
    assert_eq!(
        (state.negotiated_hold_time, state.keepalive_interval),
        (6, 2)
    );
}

#[test]
fn a_peer_has_every_sub_message_the_cli_dereferences() {
    let now = Instant::now();
    let snapshot = snapshot(vec![established_session(now)], now);
    let peer = peer(&snapshot.sessions[0], bgp_of(&snapshot), &snapshot, true);
    let state = peer.state.as_ref().expect("state");
    let timers = peer.timers.as_ref().expect("timers");
    assert!(peer.conf.is_some() && peer.route_reflector.is_some() && peer.route_server.is_some());
    assert!(state.queues.is_some());
    let messages = state.messages.as_ref().expect("messages");
    let (sent, received) = (messages.sent.unwrap(), messages.received.unwrap());
    assert_eq!((sent.update, sent.total), (4, 10));
    assert_eq!((received.update, received.total), (3, 9));
    assert!(timers.config.is_some());
    let timer_state = timers.state.as_ref().expect("timers.state");
    assert_eq!(timer_state.negotiated_hold_time, 9);
    assert_eq!(timer_state.keepalive_interval, 3);
    // Uptime is the wall-clock moment the session came up (14 s before the snapshot).
    assert_eq!(timer_state.uptime.unwrap().seconds, 1_800_000_086);
    assert_eq!(peer.afi_safis.len(), 2);
    assert!(peer.afi_safis.iter().all(|a| a.state.is_some()));
    let advertised: u64 = peer
        .afi_safis
        .iter()
        .map(|a| a.state.unwrap().advertised)
        .sum();
    assert_eq!(advertised, 2);
    let received: u64 = peer
        .afi_safis
        .iter()
        .map(|a| a.state.unwrap().received)
        .sum();
    assert_eq!(received, 2);
    assert_eq!(state.neighbor_address, RS);
    assert_eq!(peer.conf.as_ref().unwrap().neighbor_address, RS);
    assert_eq!(state.session_state, SessionState::Established as i32);
    assert_eq!(state.router_id, "192.0.2.2");
    assert_eq!(state.peer_asn, 65000);
    // gobgpd fills advertised only when asked.
    let listed = super::peer::peer(&snapshot.sessions[0], bgp_of(&snapshot), &snapshot, false);
    assert!(
        listed
            .afi_safis
            .iter()
            .all(|a| a.state.unwrap().advertised == 0)
    );
}

#[test]
fn a_peer_that_never_came_up_shows_never() {
    let now = Instant::now();
    let mut session = established_session(now);
    session.state = State::Active;
    session.established_since = None;
    let snapshot = snapshot(vec![session], now);
    let peer = peer(&snapshot.sessions[0], bgp_of(&snapshot), &snapshot, false);
    let timers = peer.timers.unwrap().state.unwrap();
    assert!(timers.uptime.is_none() && timers.downtime.is_none());
    assert_eq!(
        peer.state.unwrap().session_state,
        SessionState::Active as i32
    );
}

#[test]
fn capabilities_use_apipb_type_urls_and_carry_the_values() {
    let anys: Vec<prost_types::Any> = lelastic_capabilities().iter().map(capability).collect();
    let names: Vec<&str> = anys.iter().map(type_name).collect();
    assert_eq!(
        names,
        [
            "apipb.RouteRefreshCapability",
            "apipb.FqdnCapability",
            "apipb.MultiProtocolCapability",
            "apipb.MultiProtocolCapability",
            "apipb.FourOctetASNCapability",
            "apipb.ExtendedNexthopCapability",
        ]
    );
    let fqdn = apipb::FqdnCapability::decode(anys[1].value.as_slice()).unwrap();
    assert_eq!(fqdn.host_name, "vm");
    let mp = apipb::MultiProtocolCapability::decode(anys[3].value.as_slice()).unwrap();
    assert_eq!(mp.family, Some(apipb::Family::from(Family::Ipv6Unicast)));
    let asn = apipb::FourOctetAsnCapability::decode(anys[4].value.as_slice()).unwrap();
    assert_eq!(asn.asn, 65001);
    let ext = apipb::ExtendedNexthopCapability::decode(anys[5].value.as_slice()).unwrap();
    assert_eq!(ext.tuples.len(), 1);
    assert_eq!(
        ext.tuples[0].nlri_family,
        Some(apipb::Family::from(Family::Ipv4Unicast))
    );
    assert_eq!(ext.tuples[0].nexthop_family.unwrap().afi, 2);
}

#[test]
fn raw_capabilities_from_frr_get_their_gobgp_names() {
    // FRR 8.4's graceful restart (R and N flags, time 0) and add-path receive for both families.
    let gr = capability(&Capability::Unknown {
        code: 64,
        data: vec![0xc0, 0x00],
    });
    assert_eq!(type_name(&gr), "apipb.GracefulRestartCapability");
    let gr = apipb::GracefulRestartCapability::decode(gr.value.as_slice()).unwrap();
    assert_eq!((gr.flags, gr.time), (0x0c, 0));
    let add_path = capability(&Capability::Unknown {
        code: 69,
        data: vec![0, 1, 1, 1, 0, 2, 1, 1],
    });
    let add_path = apipb::AddPathCapability::decode(add_path.value.as_slice()).unwrap();
    assert_eq!(add_path.tuples.len(), 2);
    assert_eq!(
        add_path.tuples[1].family,
        Some(apipb::Family::from(Family::Ipv6Unicast))
    );
    assert_eq!(add_path.tuples[1].mode, 1);
    let llgr = capability(&Capability::Unknown {
        code: 71,
        data: vec![0, 1, 1, 0x80, 0, 0, 5],
    });
    let llgr = apipb::LongLivedGracefulRestartCapability::decode(llgr.value.as_slice()).unwrap();
    assert_eq!((llgr.tuples[0].flags, llgr.tuples[0].time), (0x80, 5));
    // Extended message (6) has no message of its own in v3; a malformed GR falls back too.
    for (code, data) in [(6u8, vec![]), (64, vec![0xc0])] {
        let any = capability(&Capability::Unknown {
            code,
            data: data.clone(),
        });
        assert_eq!(type_name(&any), "apipb.UnknownCapability");
        let unknown = apipb::UnknownCapability::decode(any.value.as_slice()).unwrap();
        assert_eq!((unknown.code, unknown.value), (u32::from(code), data));
    }
}

fn decode_all(path: &Path) -> Vec<String> {
    path.pattrs
        .iter()
        .map(|a| type_name(a).to_string())
        .collect()
}

#[test]
fn global_paths_are_local_best_with_unspecified_next_hops() {
    let now = Instant::now();
    let mut snapshot = snapshot(Vec::new(), now);
    // The IPv6 route entered the set 30 s before the snapshot; the IPv4 one was there at start.
    snapshot.routes_first_seen = Arc::new(RoutesFirstSeen::from([(
        net(V6),
        now - Duration::from_secs(30),
    )]));
    let v4 = global_paths(
        &snapshot,
        65001,
        Family::Ipv4Unicast,
        PathEncoding::default(),
    );
    assert_eq!(v4.len(), 1);
    assert_eq!(v4[0].prefix, V4);
    let path = &v4[0].paths[0];
    assert!(path.best);
    assert_eq!(path.age.unwrap().seconds, 1_800_000_000);
    assert_eq!(path.family, Some(apipb::Family::from(Family::Ipv4Unicast)));
    assert_eq!(
        decode_all(path),
        [
            "apipb.OriginAttribute",
            "apipb.NextHopAttribute",
            "apipb.CommunitiesAttribute"
        ]
    );
    let next_hop = apipb::NextHopAttribute::decode(path.pattrs[1].value.as_slice()).unwrap();
    assert_eq!(next_hop.next_hop, "0.0.0.0");
    let nlri =
        apipb::IpAddressPrefix::decode(path.nlri.as_ref().unwrap().value.as_slice()).unwrap();
    assert_eq!(
        (nlri.prefix_len, nlri.prefix.as_str()),
        (32, "203.0.113.10")
    );

    let v6 = global_paths(
        &snapshot,
        65001,
        Family::Ipv6Unicast,
        PathEncoding::default(),
    );
    let path = &v6[0].paths[0];
    assert_eq!(path.age.unwrap().seconds, 1_800_000_070);
    assert_eq!(
        decode_all(path),
        [
            "apipb.OriginAttribute",
            "apipb.CommunitiesAttribute",
            "apipb.MpReachNLRIAttribute"
        ]
    );
    let mp = apipb::MpReachNlriAttribute::decode(path.pattrs[2].value.as_slice()).unwrap();
    assert_eq!(mp.next_hops, ["::"]);
    let communities = apipb::CommunitiesAttribute::decode(path.pattrs[1].value.as_slice()).unwrap();
    assert_eq!(communities.communities, [COMMUNITY_PRIMARY]);
}

/// lelastic's attributes for 203.0.113.10/32 (as in `01-start-primary.pcap` frame 15, here with
/// this session's next hop).
const LELASTIC_V4_ATTRS: [&[u8]; 4] = [
    &[0x40, 0x01, 0x01, 0x02],
    &[0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9],
    &[0xc0, 0x08, 0x04, 0xfd, 0xe8, 0x00, 0x01],
    &[
        0x80, 0x0e, 0x1a, 0x00, 0x01, 0x01, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0x01, 0x00, 0x20, 0xcb, 0x00, 0x71, 0x0a,
    ],
];

#[test]
fn adj_out_binary_attributes_are_the_encoders_bytes() {
    let now = Instant::now();
    let session = established_session(now);
    let encoding = PathEncoding {
        nlri_binary: true,
        attribute_binary: true,
        only_binary: false,
    };
    let v4 = adj_out_paths(&session, Family::Ipv4Unicast, 65001, encoding);
    let path = &v4[0].paths[0];
    assert_eq!(path.pattrs_binary, LELASTIC_V4_ATTRS);
    assert_eq!(path.nlri_binary, [0x20, 0xcb, 0x00, 0x71, 0x0a]);
    assert!(!path.best && path.age.is_none());
    assert_eq!(path.local_identifier, 1);
    // The same bytes as the UPDATE the session sends, split attribute by attribute.
    let ctx = UpdateContext {
        local_as: 65001,
        four_octet_as: true,
        next_hop: LOCAL.parse().unwrap(),
    };
    let update = &wire::encode_announcements(&[net(V4)], &routes()[&net(V4)], &ctx)[0];
    let attrs_len = usize::from(u16::from_be_bytes([update[21], update[22]]));
    assert_eq!(path.pattrs_binary.concat(), update[23..23 + attrs_len]);

    let v6 = adj_out_paths(&session, Family::Ipv6Unicast, 65001, encoding);
    let path = &v6[0].paths[0];
    assert_eq!(
        path.nlri_binary,
        [0x40, 0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, 0x00, 0x01]
    );
    let mp = path.pattrs_binary.last().unwrap();
    assert_eq!(&mp[..7], &[0x80, 0x0e, 0x1e, 0x00, 0x02, 0x01, 0x10]);
}

#[test]
fn adj_out_anys_match_the_bytes() {
    let session = established_session(Instant::now());
    let v4 = adj_out_paths(
        &session,
        Family::Ipv4Unicast,
        65001,
        PathEncoding::default(),
    );
    let path = &v4[0].paths[0];
    assert!(path.pattrs_binary.is_empty() && path.nlri_binary.is_empty());
    assert_eq!(
        decode_all(path),
        [
            "apipb.OriginAttribute",
            "apipb.AsPathAttribute",
            "apipb.CommunitiesAttribute",
            "apipb.MpReachNLRIAttribute"
        ]
    );
    let origin = apipb::OriginAttribute::decode(path.pattrs[0].value.as_slice()).unwrap();
    assert_eq!(origin.origin, 2);
    let as_path = apipb::AsPathAttribute::decode(path.pattrs[1].value.as_slice()).unwrap();
    assert_eq!(as_path.segments[0].numbers, [65001]);
    assert_eq!(
        as_path.segments[0].r#type,
        apipb::as_segment::Type::AsSequence as i32
    );
    let mp = apipb::MpReachNlriAttribute::decode(path.pattrs[3].value.as_slice()).unwrap();
    assert_eq!(mp.family, Some(apipb::Family::from(Family::Ipv4Unicast)));
    assert_eq!(mp.next_hops, [LOCAL]);
    let only = adj_out_paths(
        &session,
        Family::Ipv4Unicast,
        65001,
        PathEncoding {
            only_binary: true,
            ..PathEncoding::default()
        },
    );
    let path = &only[0].paths[0];
    assert!(path.pattrs.is_empty() && path.nlri.is_none());
    assert_eq!(path.pattrs_binary, LELASTIC_V4_ATTRS);
}

#[test]
fn med_and_a_session_over_ipv4_use_their_attributes() {
    let mut session = established_session(Instant::now());
    session.local_address = Some("192.0.2.1".parse().unwrap());
    let mut adj = DesiredRoutes::new();
    adj.insert(
        net(V4),
        Arc::new(RouteAttrs {
            communities: vec![COMMUNITY_PRIMARY],
            med: Some(10),
        }),
    );
    session.adj_out = Arc::new(adj);
    let encoding = PathEncoding {
        attribute_binary: true,
        ..PathEncoding::default()
    };
    let v4 = adj_out_paths(&session, Family::Ipv4Unicast, 65001, encoding);
    let path = &v4[0].paths[0];
    assert_eq!(
        decode_all(path),
        [
            "apipb.OriginAttribute",
            "apipb.AsPathAttribute",
            "apipb.NextHopAttribute",
            "apipb.MultiExitDiscAttribute",
            "apipb.CommunitiesAttribute"
        ]
    );
    let types: Vec<u8> = path.pattrs_binary.iter().map(|a| a[1]).collect();
    assert_eq!(types, [1, 2, 3, 4, 8]);
}

#[test]
fn list_path_checks_its_request() {
    let now = Instant::now();
    let snapshot = snapshot(vec![established_session(now)], now);
    let family = |afi: i32| Some(apipb::Family { afi, safi: 1 });
    let request = |table: TableType, name: &str, afi: i32| ListPathRequest {
        table_type: table as i32,
        name: name.to_string(),
        family: family(afi),
        ..ListPathRequest::default()
    };
    let code = |r: ListPathRequest| list_path(&snapshot, &r).unwrap_err().code();
    assert_eq!(
        list_path(&snapshot, &request(TableType::Global, "", 1))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        list_path(&snapshot, &request(TableType::AdjOut, RS, 2))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        code(request(TableType::AdjOut, "", 1)),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(request(TableType::AdjOut, "bogus", 1)),
        tonic::Code::InvalidArgument
    );
    assert_eq!(
        code(request(TableType::AdjOut, "2001:db8::9", 1)),
        tonic::Code::NotFound
    );
    assert_eq!(
        code(request(TableType::AdjIn, RS, 1)),
        tonic::Code::Unimplemented
    );
    assert_eq!(
        code(request(TableType::Global, "", 25)),
        tonic::Code::InvalidArgument
    );
    let mut no_family = request(TableType::Global, "", 1);
    no_family.family = None;
    assert_eq!(code(no_family), tonic::Code::InvalidArgument);
    let mut bad_table = request(TableType::Global, "", 1);
    bad_table.table_type = 99;
    assert_eq!(code(bad_table), tonic::Code::InvalidArgument);

    let lookup = |prefix: &str, r#type: table_lookup_prefix::Type| {
        let mut r = request(TableType::Global, "", 1);
        r.prefixes = vec![apipb::TableLookupPrefix {
            prefix: prefix.to_string(),
            r#type: r#type as i32,
        }];
        r
    };
    use table_lookup_prefix::Type;
    let found = |r| list_path(&snapshot, &r).unwrap().len();
    assert_eq!(found(lookup(V4, Type::Exact)), 1);
    assert_eq!(found(lookup("203.0.113.10", Type::Exact)), 1);
    assert_eq!(found(lookup("203.0.113.0/24", Type::Exact)), 0);
    assert_eq!(found(lookup("203.0.113.0/24", Type::Longer)), 1);
    assert_eq!(found(lookup("203.0.113.10/32", Type::Shorter)), 1);
    assert_eq!(
        code(lookup("not a prefix", Type::Exact)),
        tonic::Code::InvalidArgument
    );
}

#[test]
fn list_peer_matches_the_address_exactly_or_lists_all() {
    let now = Instant::now();
    let mut other = established_session(now);
    other.peer = "2001:db8:20::2".parse().unwrap();
    let snapshot = snapshot(vec![established_session(now), other], now);
    let all = list_peer(&snapshot, &ListPeerRequest::default()).unwrap();
    assert_eq!(all.len(), 2);
    let one = list_peer(
        &snapshot,
        &ListPeerRequest {
            address: "2001:db8:20::2".to_string(),
            enable_advertised: true,
        },
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    let none = list_peer(
        &snapshot,
        &ListPeerRequest {
            address: "2001:db8:30::2".to_string(),
            enable_advertised: false,
        },
    )
    .unwrap();
    assert!(
        none.is_empty(),
        "the CLI prints `not found neighbor` for an empty stream"
    );
    let bad = list_peer(
        &snapshot,
        &ListPeerRequest {
            address: "eth0".to_string(),
            enable_advertised: false,
        },
    );
    assert_eq!(bad.unwrap_err().code(), tonic::Code::InvalidArgument);
}

#[test]
fn in_vrrp_mode_every_gobgp_call_says_there_is_no_bgp() {
    let now = Instant::now();
    let mut snapshot = snapshot(Vec::new(), now);
    Arc::make_mut(&mut snapshot.info).bgp = None;
    let peers = list_peer(&snapshot, &ListPeerRequest::default()).unwrap_err();
    assert_eq!(peers.code(), tonic::Code::FailedPrecondition);
    assert!(peers.message().contains("VRRP mode"), "{}", peers.message());
    let paths = list_path(
        &snapshot,
        &ListPathRequest {
            table_type: TableType::Global as i32,
            family: Some(apipb::Family { afi: 1, safi: 1 }),
            ..ListPathRequest::default()
        },
    )
    .unwrap_err();
    assert_eq!(paths.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        super::bgp_of(&snapshot.info).unwrap_err().code(),
        tonic::Code::FailedPrecondition
    );
}
