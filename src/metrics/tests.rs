use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::bgp::session::SessionStatus;
use crate::clock;
use crate::model::Role;
use crate::status::{DaemonInfo, ProbeStatus};

fn session(peer: &str, state: State, routes: &crate::model::DesiredRoutes) -> SessionStatus {
    SessionStatus {
        state,
        local_address: Some("2001:db8:ff:1::2".parse().unwrap()),
        remote_as: Some(65000),
        negotiated_hold_time: Some(9),
        negotiated_keepalive: Some(3),
        established_since: (state == State::Established).then(clock::now),
        sent: MessageCounts {
            open: 1,
            update: 4,
            notification: 0,
            keepalive: 7,
            route_refresh: 0,
        },
        received: MessageCounts {
            open: 1,
            update: 2,
            notification: 1,
            keepalive: 6,
            route_refresh: 0,
        },
        prefixes_received: 2,
        adj_out: Arc::new(if state == State::Established {
            routes.clone()
        } else {
            Default::default()
        }),
        flaps: 1,
        state_changes: 9,
        ..SessionStatus::new(peer.parse().unwrap())
    }
}

fn snapshot() -> Snapshot {
    // No service: every address is announced with the role's community, as with flags alone.
    let plan = crate::announce::plan(
        &[
            "203.0.113.10/32".parse().unwrap(),
            "2001:db8:100::/64".parse().unwrap(),
        ],
        Role::Primary,
        None,
        &[],
        false,
    );
    let routes = plan.routes;
    Snapshot {
        mode: Default::default(),
        info: Arc::new(DaemonInfo::example(
            Role::Primary,
            Ipv4Addr::new(192, 0, 2, 1),
            "a",
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        )),
        taken_at: (clock::now(), clock::system_now()),
        sessions: vec![
            session("2001:db8:14:34::1", State::Established, &routes),
            session("2001:db8:14:34::2", State::Active, &routes),
        ],
        routes: Arc::new(routes),
        routes_first_seen: Arc::default(),
        addresses: Arc::new(plan.addresses),
        probes: Arc::new(vec![ProbeStatus {
            name: "web".to_string(),
            healthy: true,
            state: "up".to_string(),
            last_ok: Some(true),
            last_latency: Some(Duration::from_millis(250)),
            successes: 10,
            failures: 2,
            transitions: 3,
            ..ProbeStatus::default()
        }]),
        vrrp: Vec::new(),
        bfd_unclaimed: Default::default(),
    }
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn a_scrape_renders_sessions_addresses_and_probes() {
    let text = String::from_utf8(render(&snapshot())).unwrap();
    let get = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));
    assert_eq!(get("elastic_bgp_sessions_up"), 1.0);
    assert_eq!(
        get("elastic_bgp_session_up{peer=\"2001:db8:14:34::1\"}"),
        1.0
    );
    assert_eq!(
        get("elastic_bgp_session_up{peer=\"2001:db8:14:34::2\"}"),
        0.0
    );
    assert_eq!(
        get("elastic_bgp_session_state{peer=\"2001:db8:14:34::2\",state=\"active\"}"),
        1.0
    );
    assert_eq!(
        get("elastic_bgp_session_state{peer=\"2001:db8:14:34::2\",state=\"established\"}"),
        0.0
    );
    assert_eq!(
        get("elastic_bgp_prefixes_announced{peer=\"2001:db8:14:34::1\"}"),
        2.0
    );
    assert_eq!(
        get("elastic_bgp_prefixes_announced{peer=\"2001:db8:14:34::2\"}"),
        0.0
    );
    assert_eq!(
        get("elastic_bgp_messages_sent_total{peer=\"2001:db8:14:34::1\",type=\"update\"}"),
        4.0
    );
    assert_eq!(
        get(
            "elastic_bgp_messages_received_total{peer=\"2001:db8:14:34::1\",type=\"notification\"}"
        ),
        1.0
    );
    assert_eq!(
        get("elastic_bgp_session_state_transitions_total{peer=\"2001:db8:14:34::1\"}"),
        9.0
    );
    assert_eq!(
        get("elastic_address_announced_sessions{prefix=\"203.0.113.10/32\"}"),
        1.0
    );
    assert_eq!(
        get("elastic_address_wanted{prefix=\"2001:db8:100::/64\"}"),
        1.0
    );
    assert_eq!(get("elastic_addresses_missing"), 0.0);
    assert_eq!(get("elastic_probe_up{probe=\"web\"}"), 1.0);
    assert_eq!(get("elastic_probe_duration_seconds{probe=\"web\"}"), 0.25);
    assert_eq!(
        get("elastic_probe_runs_total{probe=\"web\",result=\"failure\"}"),
        2.0
    );
    assert_eq!(get("elastic_probe_transitions_total{probe=\"web\"}"), 3.0);
    assert_eq!(get("elastic_start_time_seconds"), 1_800_000_000.0);
    assert!(
        text.contains("# TYPE elastic_bgp_messages_sent_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE elastic_bgp_sessions_up gauge"),
        "{text}"
    );
    assert!(
        text.contains("elastic_info{role=\"primary\",router_id=\"192.0.2.1\",version=\"0.1.0\"} 1"),
        "{text}"
    );
}

#[test]
fn no_established_session_means_missing_addresses() {
    let mut snapshot = snapshot();
    snapshot.sessions.remove(0);
    let text = String::from_utf8(render(&snapshot)).unwrap();
    assert_eq!(value(&text, "elastic_addresses_missing"), Some(2.0));
    assert_eq!(value(&text, "elastic_bgp_sessions_up"), Some(0.0));
}

#[tokio::test]
async fn only_get_metrics_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_tx, routes) = tokio::sync::watch::channel(snapshot().routes.clone());
    let (_a, addresses) = tokio::sync::watch::channel(Arc::new(Vec::new()));
    let (_p, probes) = tokio::sync::watch::channel(Arc::new(Vec::new()));
    let source = StatusSource::fixed(
        snapshot().info.as_ref().clone(),
        Vec::new(),
        routes,
        addresses,
        probes,
    );
    let bound = bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = bound.local_addr();
    let task = serve(bound, source);
    let ask = |request: &'static str| async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let ok = ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.contains("elastic_bgp_sessions_up 0"), "{ok}");
    assert!(
        ask("GET / HTTP/1.1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 404")
    );
    assert!(
        ask("POST /metrics HTTP/1.1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 405")
    );
    let huge: &'static str =
        Box::leak(format!("GET /metrics HTTP/1.1\r\nX: {}", "a".repeat(10_000)).into_boxed_str());
    assert!(ask(huge).await.starts_with("HTTP/1.1 431"));
    // The port is taken now: binding it again is the start-up error.
    let error = bind(addr).err().expect("taken").to_string();
    assert!(
        error.starts_with("failed to listen metrics port"),
        "{error}"
    );
    task.abort();
}

#[test]
fn each_address_shows_its_own_role() {
    let status = |prefix: &str, role| crate::announce::AddressStatus {
        prefix: prefix.parse().unwrap(),
        verdict: Arc::new(crate::announce::AddressVerdict {
            role,
            announced: true,
            communities: Vec::new(),
            med: None,
            reason: "up".to_string(),
        }),
    };
    let snapshot = Snapshot {
        addresses: Arc::new(vec![
            status("203.0.113.10/32", Role::Primary),
            status("203.0.113.11/32", Role::Secondary),
        ]),
        ..snapshot()
    };
    let text = String::from_utf8(render(&snapshot)).unwrap();
    let get = |series: &str| value(&text, series);
    assert_eq!(
        get("elastic_address_role{prefix=\"203.0.113.10/32\",role=\"primary\"}"),
        Some(1.0)
    );
    assert_eq!(
        get("elastic_address_role{prefix=\"203.0.113.11/32\",role=\"secondary\"}"),
        Some(1.0)
    );
    assert_eq!(
        get("elastic_address_role{prefix=\"203.0.113.11/32\",role=\"primary\"}"),
        None
    );
}

#[test]
fn vrrp_instances_have_their_series() {
    use crate::status::VrrpInstance;
    use crate::vrrp::instance::{InstanceStatus, State};
    use crate::vrrp::wire::AdvertInterval;
    let mut status = InstanceStatus::initial(150, AdvertInterval::DEFAULT);
    status.state = State::Master;
    status.priority = 120;
    status.master = Some(("192.0.2.2".parse().unwrap(), 120));
    status.adverts_sent = 9;
    status.adverts_received = 4;
    status.discards.vrid = 2;
    status.holding_addresses = true;
    let with_vrrp = Snapshot {
        vrrp: vec![VrrpInstance {
            name: "eth0/51".to_string(),
            interface: "eth0".to_string(),
            vrid: 51,
            addresses: vec!["198.51.100.10/24".parse().unwrap()],
            status,
            error: None,
        }],
        ..snapshot()
    };
    let mut info = (*with_vrrp.info).clone();
    info.bgp = None;
    let with_vrrp = Snapshot {
        info: std::sync::Arc::new(info),
        ..with_vrrp
    };
    let text = String::from_utf8(render(&with_vrrp)).unwrap();
    let get = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));
    assert_eq!(
        get("elastic_info{role=\"vrrp\",router_id=\"\",version=\"0.1.0\"}"),
        1.0
    );
    assert_eq!(
        get("elastic_vrrp_state{instance=\"eth0/51\",state=\"master\"}"),
        1.0
    );
    assert_eq!(
        get("elastic_vrrp_state{instance=\"eth0/51\",state=\"backup\"}"),
        0.0
    );
    assert_eq!(get("elastic_vrrp_priority{instance=\"eth0/51\"}"), 120.0);
    assert_eq!(
        get("elastic_vrrp_priority_configured{instance=\"eth0/51\"}"),
        150.0
    );
    assert_eq!(
        get("elastic_vrrp_master_priority{instance=\"eth0/51\",master=\"192.0.2.2\"}"),
        120.0
    );
    assert_eq!(
        get("elastic_vrrp_adverts_sent_total{instance=\"eth0/51\"}"),
        9.0
    );
    assert_eq!(
        get("elastic_vrrp_adverts_received_total{instance=\"eth0/51\"}"),
        4.0
    );
    assert_eq!(
        get("elastic_vrrp_adverts_discarded_total{instance=\"eth0/51\",reason=\"vrid\"}"),
        2.0
    );
    assert_eq!(
        get("elastic_vrrp_holding_addresses{instance=\"eth0/51\"}"),
        1.0
    );
    // BGP mode has none.
    let bgp = String::from_utf8(render(&snapshot())).unwrap();
    assert!(!bgp.contains("elastic_vrrp_"), "{bgp}");
}

#[test]
fn bfd_state_and_drops_are_exported_per_peer_and_for_unknown_sources() {
    let mut snapshot = snapshot();
    let t0 = clock::now();
    let config = crate::bfd::session::SessionConfig {
        desired_min_tx: Duration::from_millis(300),
        required_min_rx: Duration::from_millis(300),
        detect_mult: 3,
        min_ttl: 254,
    };
    let mut bfd = crate::bfd::session::Session::new(config, 9, t0);
    // A packet from too far away: dropped, and the peer still counts as never heard.
    bfd.handle(
        t0,
        0.0,
        crate::bfd::session::Input::Datagram {
            bytes: &[0x20; 24],
            ttl: 3,
        },
    );
    snapshot.sessions[0].bfd = Some(bfd.status().view());
    snapshot.bfd_unclaimed.insert("unknown_source", 4);
    let text = String::from_utf8(render(&snapshot)).unwrap();
    let get = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));
    let peer = "2001:db8:14:34::1";
    assert_eq!(
        get(&format!(
            "elastic_bfd_session_state{{peer=\"{peer}\",state=\"not answered\"}}"
        )),
        1.0
    );
    assert_eq!(
        get(&format!(
            "elastic_bfd_session_state{{peer=\"{peer}\",state=\"up\"}}"
        )),
        0.0
    );
    assert_eq!(
        get(&format!(
            "elastic_bfd_packets_dropped_total{{peer=\"{peer}\",reason=\"low_ttl\"}}"
        )),
        1.0
    );
    assert_eq!(
        get("elastic_bfd_packets_dropped_total{peer=\"\",reason=\"unknown_source\"}"),
        4.0
    );
    // A session without BFD configured exports no BFD series.
    assert!(!text.contains("peer=\"2001:db8:14:34::2\",state=\"not answered\""));
}
