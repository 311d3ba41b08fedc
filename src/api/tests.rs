//! The services over a real socket, with the generated clients.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::announce::desired_routes;
use crate::bgp::session::{SessionStatus, State};
use crate::cli::Role;
use crate::proto::apipb::{self, gobgp_api_client::GobgpApiClient};
use crate::proto::elastic::v1 as pb;
use crate::proto::elastic::v1::elastic_client::ElasticClient;
use crate::status::{DaemonInfo, StatusSource};

fn session(state: State) -> SessionStatus {
    SessionStatus {
        state,
        ..SessionStatus::new("2001:db8:14:34::1".parse().unwrap())
    }
}

struct Fixture {
    session_tx: watch::Sender<SessionStatus>,
    _routes_tx: watch::Sender<Arc<crate::model::DesiredRoutes>>,
    _addresses_tx: watch::Sender<Arc<Vec<crate::announce::AddressStatus>>>,
    _probes_tx: watch::Sender<Arc<Vec<crate::status::ProbeStatus>>>,
    url: String,
    task: tokio::task::JoinHandle<()>,
}

fn start() -> Fixture {
    // No service: the address is announced with the role's community, as with flags alone.
    let plan = crate::announce::plan(
        &["203.0.113.10/32".parse().unwrap()],
        Role::Secondary,
        None,
        &[],
        false,
    );
    let (session_tx, session_rx) = watch::channel(session(State::Active));
    let (routes_tx, routes_rx) = watch::channel(Arc::new(plan.routes));
    let (addresses_tx, addresses_rx) = watch::channel(Arc::new(plan.addresses));
    let (probes_tx, probes_rx) = watch::channel(Arc::new(Vec::new()));
    let source = StatusSource::fixed(
        DaemonInfo::example(
            Role::Secondary,
            Ipv4Addr::new(192, 0, 2, 1),
            "b",
            SystemTime::now(),
        ),
        vec![session_rx],
        routes_rx,
        addresses_rx,
        probes_rx,
    );
    let bound = super::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", bound.local_addr());
    let task = super::serve(bound, source);
    Fixture {
        session_tx,
        _routes_tx: routes_tx,
        _addresses_tx: addresses_tx,
        _probes_tx: probes_tx,
        url,
        task,
    }
}

#[tokio::test]
async fn status_watch_and_maintenance_over_grpc() {
    let fixture = start();
    let mut client = ElasticClient::connect(fixture.url.clone()).await.unwrap();
    let status = client
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(status.role, pb::Role::Secondary as i32);
    assert_eq!(status.addresses.len(), 1);
    assert_eq!(status.addresses[0].communities, ["65000:2"]);
    assert_eq!(status.addresses[0].role, pb::Role::Secondary as i32);
    assert!(!status.all_announced, "no Established session carries it");
    assert_eq!(crate::client::status::exit_code(&status), 1);

    let mut watch = client
        .watch_status(pb::WatchStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert!(first.changes.is_empty());
    // The session comes up and carries the route.
    let mut up = session(State::Established);
    up.established_since = Some(Instant::now());
    up.adj_out = Arc::new(desired_routes(
        &["203.0.113.10/32".parse().unwrap()],
        Role::Secondary,
        None,
    ));
    fixture.session_tx.send(up).unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("a change within 5 s")
        .unwrap()
        .unwrap();
    let status = next.status.unwrap();
    assert!(status.all_announced);
    assert_eq!(crate::client::status::exit_code(&status), 0);
    let kinds: Vec<_> = next
        .changes
        .iter()
        .map(|c| c.what.clone().unwrap())
        .collect();
    assert!(kinds.iter().any(|c| matches!(c, pb::change::What::Session(s)
        if s.from == pb::SessionState::Active as i32 && s.to == pb::SessionState::Established as i32)));
    assert!(
        kinds
            .iter()
            .any(|c| matches!(c, pb::change::What::Address(a)
        if a.announced_to_before == 0 && a.announced_to_after == 1))
    );

    let refused = client
        .set_maintenance(pb::SetMaintenanceRequest { drain: true })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().starts_with("SetMaintenance: not enabled"),
        "{}",
        refused.message()
    );
    let refused = client
        .drain(pb::DrainRequest { drain: true })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    fixture.task.abort();
}

#[tokio::test]
async fn the_control_socket_hands_commands_to_the_daemon_and_relays_the_answer() {
    use crate::api::elastic::{self, ControlCommand};
    use crate::client::control::{self as client, Options};
    use crate::control;
    let fixture = start();
    let dir = std::env::temp_dir().join(format!("elastic-api-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("control.sock");
    let listener = control::bind(&path, None).unwrap();
    let source = StatusSource::fixed(
        DaemonInfo::example(
            Role::Primary,
            Ipv4Addr::new(192, 0, 2, 1),
            "a",
            SystemTime::now(),
        ),
        Vec::new(),
        fixture._routes_tx.subscribe(),
        fixture._addresses_tx.subscribe(),
        fixture._probes_tx.subscribe(),
    );
    let (tx, mut rx) = elastic::channel();
    let server = super::serve_control(listener, source, tx);
    // The daemon's side: records the commands; refuses a drain as a stopping daemon would.
    let daemon = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(request) = rx.recv().await {
            let answer = match request.command {
                ControlCommand::SetMaintenance(on) => Ok(on),
                ControlCommand::Drain(_) => Err("the daemon is stopping".to_string()),
            };
            seen.push(request.command);
            let _ = request.reply.send(answer);
            if seen.len() == 3 {
                return seen;
            }
        }
        seen
    });
    let ask = |command| {
        let path = path.clone();
        async move {
            client::send(&Options {
                command,
                socket: path,
            })
            .await
        }
    };
    let on = ask(ControlCommand::SetMaintenance(true)).await.unwrap();
    assert!(on.starts_with("maintenance on"), "{on}");
    let off = ask(ControlCommand::SetMaintenance(false)).await.unwrap();
    assert!(off.starts_with("maintenance off"), "{off}");
    let refused = ask(ControlCommand::Drain(true)).await.unwrap_err();
    assert!(refused.contains("the daemon is stopping"), "{refused}");
    assert_eq!(
        daemon.await.unwrap(),
        [
            ControlCommand::SetMaintenance(true),
            ControlCommand::SetMaintenance(false),
            ControlCommand::Drain(true)
        ]
    );
    // No socket: a clear error, not a hang.
    let missing = client::send(&Options {
        command: ControlCommand::Drain(true),
        socket: dir.join("absent.sock"),
    })
    .await
    .unwrap_err();
    assert!(missing.contains("no such socket"), "{missing}");
    server.abort();
    fixture.task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn gobgp_calls_and_hostile_requests_get_grpc_codes() {
    let fixture = start();
    let mut client = GobgpApiClient::connect(fixture.url.clone()).await.unwrap();
    let global = client
        .get_bgp(apipb::GetBgpRequest {})
        .await
        .unwrap()
        .into_inner()
        .global
        .unwrap();
    assert_eq!(global.router_id, "192.0.2.1");
    let mut peers = client
        .list_peer(apipb::ListPeerRequest::default())
        .await
        .unwrap()
        .into_inner();
    let peer = peers.message().await.unwrap().unwrap().peer.unwrap();
    assert_eq!(peer.conf.unwrap().neighbor_address, "2001:db8:14:34::1");
    assert!(peers.message().await.unwrap().is_none());

    // 100,000 lookup prefixes: far over the request limit.
    let huge = apipb::ListPathRequest {
        family: Some(apipb::Family { afi: 1, safi: 1 }),
        prefixes: (0..100_000)
            .map(|_| apipb::TableLookupPrefix {
                prefix: "203.0.113.0/24".to_string(),
                r#type: 0,
            })
            .collect(),
        ..apipb::ListPathRequest::default()
    };
    let error = client.list_path(huge).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::OutOfRange, "{error}");

    // A method this server does not declare.
    let mut raw = tonic::client::Grpc::new(
        tonic::transport::Channel::from_shared(fixture.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    raw.ready().await.unwrap();
    let error = raw
        .unary::<apipb::GetBgpRequest, apipb::GetBgpResponse, _>(
            tonic::Request::new(apipb::GetBgpRequest {}),
            "/apipb.GobgpApi/StartBgp".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unimplemented);

    // A body that does not decode as the request: field 1 is a varint where ListPeerRequest
    // has a string. The call fails like grpc-go's (INTERNAL, "failed to decode"), nothing else.
    raw.ready().await.unwrap();
    let error = raw
        .unary::<apipb::Family, apipb::ListPeerResponse, _>(
            tonic::Request::new(apipb::Family { afi: 5, safi: 0 }),
            "/apipb.GobgpApi/ListPeer".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Internal, "{error}");
    assert!(error.message().contains("decod"), "{error}");
    // And the server still answers.
    assert!(client.get_bgp(apipb::GetBgpRequest {}).await.is_ok());
    fixture.task.abort();
}

#[tokio::test]
async fn a_taken_port_is_lelastics_fatal_error() {
    let fixture = start();
    let addr: std::net::SocketAddr = fixture.url.trim_start_matches("http://").parse().unwrap();
    let error = super::bind(addr).err().expect("port taken").to_string();
    assert!(
        error.starts_with(&format!("failed to listen grpc port {addr}")),
        "{error}"
    );
    fixture.task.abort();
}

#[tokio::test]
async fn a_vrrp_state_change_reaches_status_and_the_watch() {
    use crate::status::{VrrpInstance, VrrpList};
    use crate::vrrp::instance::{InstanceStatus, State as Vrrp};
    use crate::vrrp::wire::AdvertInterval;
    let mut status = InstanceStatus::initial(150, AdvertInterval::DEFAULT);
    status.state = Vrrp::Backup;
    let (instance_tx, instance_rx) = watch::channel(VrrpInstance {
        name: "eth0/51".to_string(),
        interface: "eth0".to_string(),
        vrid: 51,
        addresses: vec!["198.51.100.10/24".parse().unwrap()],
        status,
        error: None,
    });
    let (_list_tx, list_rx) = watch::channel(VrrpList::new(vec![instance_rx]));
    let (_session_tx, session_rx) = watch::channel(session(State::Active));
    let mut source = StatusSource::fixed(
        DaemonInfo {
            version: "0.1.0",
            started_at: SystemTime::now(),
            hostname: "a".to_string(),
            reloads: Default::default(),
            bgp: None,
        },
        vec![session_rx],
        watch::channel(Arc::default()).1,
        watch::channel(Arc::default()).1,
        watch::channel(Arc::default()).1,
    );
    source.vrrp = list_rx;
    let bound = super::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", bound.local_addr());
    let _task = super::serve(bound, source);
    let mut client = ElasticClient::connect(url).await.unwrap();
    let mut watch = client
        .watch_status(pb::WatchStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    let first = first.status.unwrap();
    assert_eq!(first.vrrp[0].state, "backup");
    assert_eq!(first.role, pb::Role::Unspecified as i32, "no host role");
    assert_eq!((first.router_id.as_str(), first.local_asn), ("", 0));
    // Counters alone are no change; a new state is.
    instance_tx.send_modify(|v| v.status.adverts_received += 1);
    instance_tx.send_modify(|v| {
        v.status.state = Vrrp::Master;
        v.status.master = Some(("192.0.2.2".parse().unwrap(), 150));
    });
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("a change within 5 s")
        .unwrap()
        .unwrap();
    let vrrp = &next.status.unwrap().vrrp[0];
    assert_eq!(
        (
            vrrp.state.as_str(),
            vrrp.master_address.as_str(),
            vrrp.master_priority
        ),
        ("master", "192.0.2.2", Some(150))
    );
    assert!(next.changes.iter().any(|c| matches!(&c.what,
        Some(pb::change::What::Vrrp(v)) if v.name == "eth0/51" && v.from == "backup" && v.to == "master")));
}
