//! The GoBGP v3 subset (`apipb.GobgpApi`): GetBgp, ListPeer, ListPath, built from a snapshot so
//! that the `gobgp` 3.x CLI prints what it prints against lelastic (gobgpd).
//!
//! The CLI dereferences many sub-messages without nil checks (shared/reference/gobgp-compat.md
//! §1.3), so every message marked "required" there is always present here, even when empty.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures_util::Stream;
use ipnet::IpNet;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::{any, timestamp};
use crate::announce::{DesiredRoutes, RouteAttrs};
use crate::bgp::session::{MessageCounts, SessionStatus, State};
use crate::bgp::wire::{self, Capability, UpdateContext};
use crate::proto::apipb::{
    self, AfiSafi, AfiSafiConfig, AfiSafiState, Destination, EbgpMultihop, GetBgpRequest,
    GetBgpResponse, Global, GracefulRestart, ListPathRequest, ListPathResponse, ListPeerRequest,
    ListPeerResponse, Messages, Path, Peer, PeerConf, PeerState, PeerType, Queues, RouteReflector,
    RouteServer, TableType, Timers, TimersConfig, TimersState, Transport,
    family::{Afi, Safi},
    gobgp_api_server::GobgpApi,
    peer_state::{AdminState, SessionState},
    table_lookup_prefix,
};
use crate::status::{DaemonInfo, Snapshot, StatusSource};

/// ORIGIN INCOMPLETE, the only origin elastic (like lelastic) announces.
const ORIGIN_INCOMPLETE: u32 = 2;
/// What gobgpd answers for lelastic's `StartBgp{listen_port: -1}`: no BGP listener.
const NO_LISTEN_PORT: i32 = -1;
/// lelastic's neighbor description.
const PEER_DESCRIPTION: &str = "route server";

/// The families elastic announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl Family {
    fn of(prefix: &IpNet) -> Family {
        match prefix {
            IpNet::V4(_) => Family::Ipv4Unicast,
            IpNet::V6(_) => Family::Ipv6Unicast,
        }
    }

    fn to_api(self) -> apipb::Family {
        let afi = match self {
            Family::Ipv4Unicast => Afi::Ip,
            Family::Ipv6Unicast => Afi::Ip6,
        };
        apipb::Family {
            afi: afi as i32,
            safi: Safi::Unicast as i32,
        }
    }

    fn from_api(family: &apipb::Family) -> Option<Family> {
        match (Afi::try_from(family.afi), Safi::try_from(family.safi)) {
            (Ok(Afi::Ip), Ok(Safi::Unicast)) => Some(Family::Ipv4Unicast),
            (Ok(Afi::Ip6), Ok(Safi::Unicast)) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }

    /// The unspecified address gobgpd shows as the next hop of a locally originated path.
    fn unspecified(self) -> IpAddr {
        match self {
            Family::Ipv4Unicast => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Ipv6Unicast => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// When each desired route first appeared (the `Age` column of `gobgp global rib`). Routes
/// present at start count from the daemon's start, like lelastic's paths added right after it.
#[derive(Debug, Clone, Default)]
pub struct RouteAges {
    since: Arc<Mutex<BTreeMap<IpNet, SystemTime>>>,
}

impl RouteAges {
    /// Follows the desired route set on the current runtime.
    pub fn follow(started_at: SystemTime, mut routes: watch::Receiver<Arc<DesiredRoutes>>) -> Self {
        let ages = RouteAges::default();
        ages.update(&routes.borrow_and_update(), started_at);
        let tracked = ages.clone();
        tokio::spawn(async move {
            while routes.changed().await.is_ok() {
                let current = routes.borrow_and_update().clone();
                tracked.update(&current, crate::clock::system_now());
            }
        });
        ages
    }

    /// Records `now` for new routes and forgets the ones that are gone.
    pub fn update(&self, routes: &DesiredRoutes, now: SystemTime) {
        let mut since = self
            .since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        since.retain(|prefix, _| routes.contains_key(prefix));
        for prefix in routes.keys() {
            since.entry(*prefix).or_insert(now);
        }
    }

    pub fn get(&self, prefix: &IpNet) -> Option<SystemTime> {
        let since = self
            .since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        since.get(prefix).copied()
    }
}

// ----- GetBgp -----

pub fn global(info: &DaemonInfo) -> Global {
    Global {
        asn: info.local_as,
        router_id: info.router_id.to_string(),
        listen_port: NO_LISTEN_PORT,
        // gobgpd reports its defaults even though it does not listen; the CLI prints them.
        listen_addresses: vec!["0.0.0.0".to_string(), "::".to_string()],
    }
}

// ----- ListPeer -----

fn session_state(state: State) -> SessionState {
    match state {
        State::Idle => SessionState::Idle,
        State::Connect => SessionState::Connect,
        State::Active => SessionState::Active,
        State::OpenSent => SessionState::Opensent,
        State::OpenConfirm => SessionState::Openconfirm,
        State::Established => SessionState::Established,
    }
}

fn message_counts(counts: &MessageCounts) -> apipb::Message {
    apipb::Message {
        notification: counts.notification,
        update: counts.update,
        open: counts.open,
        keepalive: counts.keepalive,
        refresh: counts.route_refresh,
        discarded: 0,
        total: counts.notification
            + counts.update
            + counts.open
            + counts.keepalive
            + counts.route_refresh,
    }
}

/// One peer as gobgpd shows it. `enable_advertised` fills the per-family advertised counts
/// (gobgpd does that only when asked, for `gobgp neighbor ADDR`).
pub fn peer(session: &SessionStatus, snapshot: &Snapshot, enable_advertised: bool) -> Peer {
    let info = &snapshot.info;
    let neighbor = session.peer.to_string();
    let established = session.state == State::Established;
    let negotiated_hold = session.negotiated_hold_time.map(u64::from).unwrap_or(0);
    // gobgpd keeps `uptime` once a session was up; the CLI shows `never` while it is unset and
    // otherwise the time since `downtime` for a session that is not Established.
    let uptime = session
        .established_since
        .or(session.down_since)
        .map(|at| timestamp(snapshot.wall_clock(at)));
    let downtime = session
        .down_since
        .map(|at| timestamp(snapshot.wall_clock(at)));
    // Received routes are counted as a total, not per family: all of it goes to IPv4, so the
    // CLI's sums (the only place it shows them) are right.
    let received = session
        .prefixes_received
        .saturating_sub(session.prefixes_withdrawn_by_peer);
    let afi_safis = [Family::Ipv4Unicast, Family::Ipv6Unicast]
        .into_iter()
        .map(|family| {
            let advertised = if enable_advertised {
                session
                    .adj_out
                    .keys()
                    .filter(|p| Family::of(p) == family)
                    .count() as u64
            } else {
                0
            };
            AfiSafi {
                config: Some(AfiSafiConfig {
                    family: Some(family.to_api()),
                    enabled: true,
                }),
                state: Some(AfiSafiState {
                    family: Some(family.to_api()),
                    enabled: true,
                    received: if family == Family::Ipv4Unicast {
                        received
                    } else {
                        0
                    },
                    // Received routes are never used.
                    accepted: 0,
                    advertised,
                }),
            }
        })
        .collect();
    Peer {
        conf: Some(PeerConf {
            description: PEER_DESCRIPTION.to_string(),
            local_asn: info.local_as,
            neighbor_address: neighbor.clone(),
            peer_asn: info.peer_as,
            r#type: PeerType::External as i32,
            ..PeerConf::default()
        }),
        ebgp_multihop: Some(EbgpMultihop {
            enabled: true,
            multihop_ttl: u32::from(info.multihop_ttl),
        }),
        route_reflector: Some(RouteReflector::default()),
        state: Some(PeerState {
            description: PEER_DESCRIPTION.to_string(),
            local_asn: info.local_as,
            messages: Some(Messages {
                received: Some(message_counts(&session.received)),
                sent: Some(message_counts(&session.sent)),
            }),
            neighbor_address: neighbor.clone(),
            peer_asn: session.remote_as.unwrap_or(info.peer_as),
            r#type: PeerType::External as i32,
            queues: Some(Queues::default()),
            session_state: session_state(session.state) as i32,
            admin_state: AdminState::Up as i32,
            out_q: 0,
            flops: session.flaps,
            remote_cap: session.remote_capabilities.iter().map(capability).collect(),
            local_cap: session.local_capabilities.iter().map(capability).collect(),
            router_id: session
                .remote_router_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        }),
        timers: Some(Timers {
            config: Some(TimersConfig {
                connect_retry: info.connect_retry.as_secs(),
                hold_time: u64::from(info.hold_time),
                keepalive_interval: u64::from(info.hold_time / 3),
            }),
            state: Some(TimersState {
                connect_retry: info.connect_retry.as_secs(),
                hold_time: u64::from(info.hold_time),
                keepalive_interval: if established { negotiated_hold / 3 } else { 0 },
                negotiated_hold_time: negotiated_hold,
                uptime,
                downtime,
            }),
        }),
        transport: Some(Transport {
            local_address: session
                .local_address
                .map(|a| a.to_string())
                .unwrap_or_default(),
            passive_mode: false,
            remote_address: neighbor,
            remote_port: u32::from(crate::bgp::peer::BGP_PORT),
        }),
        route_server: Some(RouteServer::default()),
        graceful_restart: Some(GracefulRestart::default()),
        afi_safis,
    }
}

/// A capability as the Any the CLI resolves. Capabilities without a message of their own (or
/// that do not parse) go out as `UnknownCapability`, which the CLI lists by code.
pub fn capability(cap: &Capability) -> prost_types::Any {
    use apipb::*;
    let family = |afi: u16, safi: u16| apipb::Family {
        afi: i32::from(afi),
        safi: i32::from(safi),
    };
    match cap {
        Capability::MultiProtocol { afi, safi } => any(
            "apipb.MultiProtocolCapability",
            &MultiProtocolCapability {
                family: Some(family(*afi, u16::from(*safi))),
            },
        ),
        Capability::RouteRefresh => any("apipb.RouteRefreshCapability", &RouteRefreshCapability {}),
        Capability::FourOctetAs(asn) => any(
            "apipb.FourOctetASNCapability",
            &FourOctetAsnCapability { asn: *asn },
        ),
        Capability::ExtendedNextHop(tuples) => any(
            "apipb.ExtendedNexthopCapability",
            &ExtendedNexthopCapability {
                tuples: tuples
                    .iter()
                    .map(|t| ExtendedNexthopCapabilityTuple {
                        nlri_family: Some(family(t.afi, t.safi)),
                        nexthop_family: Some(family(t.next_hop_afi, 0)),
                    })
                    .collect(),
            },
        ),
        Capability::Fqdn { hostname, domain } => any(
            "apipb.FqdnCapability",
            &FqdnCapability {
                host_name: hostname.clone(),
                domain_name: domain.clone(),
            },
        ),
        Capability::Unknown { code, data } => {
            known_raw_capability(*code, data).unwrap_or_else(|| {
                any(
                    "apipb.UnknownCapability",
                    &UnknownCapability {
                        code: u32::from(*code),
                        value: data.clone(),
                    },
                )
            })
        }
    }
}

/// Capabilities the codec keeps as raw bytes but the CLI knows by name (what route servers such
/// as FRR offer): graceful restart (RFC 4724), add-path (RFC 7911), enhanced route refresh
/// (RFC 7313), long-lived graceful restart, Cisco route refresh. `None` when they do not parse.
fn known_raw_capability(code: u8, data: &[u8]) -> Option<prost_types::Any> {
    use apipb::*;
    let family = |afi: &[u8], safi: u8| apipb::Family {
        afi: i32::from(u16::from_be_bytes([afi[0], afi[1]])),
        safi: i32::from(safi),
    };
    match code {
        64 => {
            let (head, rest) = data.split_first_chunk::<2>()?;
            if !rest.len().is_multiple_of(4) {
                return None;
            }
            let word = u16::from_be_bytes(*head);
            Some(any(
                "apipb.GracefulRestartCapability",
                &GracefulRestartCapability {
                    flags: u32::from(word >> 12),
                    time: u32::from(word & 0x0fff),
                    tuples: rest
                        .chunks_exact(4)
                        .map(|t| GracefulRestartCapabilityTuple {
                            family: Some(family(&t[..2], t[2])),
                            flags: u32::from(t[3]),
                        })
                        .collect(),
                },
            ))
        }
        69 => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            Some(any(
                "apipb.AddPathCapability",
                &AddPathCapability {
                    tuples: data
                        .chunks_exact(4)
                        .map(|t| AddPathCapabilityTuple {
                            family: Some(family(&t[..2], t[2])),
                            mode: i32::from(t[3]),
                        })
                        .collect(),
                },
            ))
        }
        70 if data.is_empty() => Some(any(
            "apipb.EnhancedRouteRefreshCapability",
            &EnhancedRouteRefreshCapability {},
        )),
        71 => {
            if !data.len().is_multiple_of(7) {
                return None;
            }
            Some(any(
                "apipb.LongLivedGracefulRestartCapability",
                &LongLivedGracefulRestartCapability {
                    tuples: data
                        .chunks_exact(7)
                        .map(|t| LongLivedGracefulRestartCapabilityTuple {
                            family: Some(family(&t[..2], t[2])),
                            flags: u32::from(t[3]),
                            time: u32::from_be_bytes([0, t[4], t[5], t[6]]),
                        })
                        .collect(),
                },
            ))
        }
        128 if data.is_empty() => Some(any(
            "apipb.RouteRefreshCiscoCapability",
            &RouteRefreshCiscoCapability {},
        )),
        _ => None,
    }
}

// ----- ListPath -----

/// Which parts of a path to fill (ListPathRequest fields 7-9).
#[derive(Debug, Clone, Copy, Default)]
pub struct PathEncoding {
    pub nlri_binary: bool,
    pub attribute_binary: bool,
    pub only_binary: bool,
}

fn ip_prefix_any(prefix: &IpNet) -> prost_types::Any {
    any(
        "apipb.IPAddressPrefix",
        &apipb::IpAddressPrefix {
            prefix_len: u32::from(prefix.prefix_len()),
            prefix: prefix.network().to_string(),
        },
    )
}

/// The NLRI as on the wire: length in bits, then the octets that hold the network part.
pub fn nlri_bytes(prefix: &IpNet) -> Vec<u8> {
    let octets = usize::from(prefix.prefix_len()).div_ceil(8);
    let mut out = vec![prefix.prefix_len()];
    match prefix.network() {
        IpAddr::V4(network) => out.extend_from_slice(&network.octets()[..octets]),
        IpAddr::V6(network) => out.extend_from_slice(&network.octets()[..octets]),
    }
    out
}

/// ORIGIN, [AS_PATH], [NEXT_HOP], [MED], COMMUNITIES, [MP_REACH_NLRI] as Anys, in type order.
/// `as_path` is empty for the global table (a locally originated path), `[local AS]` for adj-out.
fn attribute_anys(
    prefix: &IpNet,
    attrs: &RouteAttrs,
    as_path: &[u32],
    next_hop: IpAddr,
) -> Vec<prost_types::Any> {
    use apipb::*;
    let mut out = vec![any(
        "apipb.OriginAttribute",
        &OriginAttribute {
            origin: ORIGIN_INCOMPLETE,
        },
    )];
    if !as_path.is_empty() {
        out.push(any(
            "apipb.AsPathAttribute",
            &AsPathAttribute {
                segments: vec![AsSegment {
                    r#type: as_segment::Type::AsSequence as i32,
                    numbers: as_path.to_vec(),
                }],
            },
        ));
    }
    // An IPv4 route with an IPv4 next hop uses NEXT_HOP; anything else MP_REACH_NLRI (RFC 8950
    // for IPv4 over an IPv6 session), exactly as the encoder sends it.
    let classic = prefix.addr().is_ipv4() && next_hop.to_canonical().is_ipv4();
    if classic {
        out.push(any(
            "apipb.NextHopAttribute",
            &NextHopAttribute {
                next_hop: next_hop.to_canonical().to_string(),
            },
        ));
    }
    if let Some(med) = attrs.med {
        out.push(any(
            "apipb.MultiExitDiscAttribute",
            &MultiExitDiscAttribute { med },
        ));
    }
    if !attrs.communities.is_empty() {
        out.push(any(
            "apipb.CommunitiesAttribute",
            &CommunitiesAttribute {
                communities: attrs.communities.clone(),
            },
        ));
    }
    if !classic {
        out.push(any(
            "apipb.MpReachNLRIAttribute",
            &MpReachNlriAttribute {
                family: Some(crate::api::gobgp::Family::of(prefix).to_api()),
                next_hops: vec![next_hop.to_string()],
                nlris: vec![ip_prefix_any(prefix)],
            },
        ));
    }
    out
}

/// Splits the path attributes of one UPDATE (as the encoder made it) into whole attributes
/// (flags, type, length, value). `None` if the bytes are not a well-formed UPDATE.
pub fn split_attributes(update: &[u8]) -> Option<Vec<Vec<u8>>> {
    let body = update.get(wire::HEADER_LEN..)?;
    let withdrawn_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let rest = body.get(2 + withdrawn_len..)?;
    let attrs_len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let mut attrs = rest.get(2..2 + attrs_len)?;
    let mut out = Vec::new();
    while !attrs.is_empty() {
        let flags = *attrs.first()?;
        let (header, len) = if flags & 0x10 != 0 {
            (
                4,
                usize::from(u16::from_be_bytes([*attrs.get(2)?, *attrs.get(3)?])),
            )
        } else {
            (3, usize::from(*attrs.get(2)?))
        };
        let whole = attrs.get(..header + len)?;
        out.push(whole.to_vec());
        attrs = &attrs[header + len..];
    }
    Some(out)
}

/// The attributes the encoder puts on the wire for `prefix` on a session, one `Vec` each.
pub fn wire_attributes(prefix: &IpNet, attrs: &RouteAttrs, ctx: &UpdateContext) -> Vec<Vec<u8>> {
    wire::encode_announcements(std::slice::from_ref(prefix), attrs, ctx)
        .first()
        .and_then(|update| split_attributes(update))
        .unwrap_or_default()
}

fn path(
    prefix: &IpNet,
    anys: Vec<prost_types::Any>,
    binary: impl FnOnce() -> Vec<Vec<u8>>,
    encoding: PathEncoding,
) -> Path {
    let family = Family::of(prefix);
    Path {
        nlri: (!encoding.only_binary).then(|| ip_prefix_any(prefix)),
        pattrs: if encoding.only_binary {
            Vec::new()
        } else {
            anys
        },
        family: Some(family.to_api()),
        nlri_binary: if encoding.nlri_binary || encoding.only_binary {
            nlri_bytes(prefix)
        } else {
            Vec::new()
        },
        pattrs_binary: if encoding.attribute_binary || encoding.only_binary {
            binary()
        } else {
            Vec::new()
        },
        local_identifier: 1,
        ..Path::default()
    }
}

/// The global table: every desired route of `family`, originated here (next hop unspecified,
/// empty AS_PATH), best.
pub fn global_paths(
    routes: &DesiredRoutes,
    family: Family,
    ages: &RouteAges,
    local_as: u32,
    encoding: PathEncoding,
) -> Vec<Destination> {
    routes
        .iter()
        .filter(|(prefix, _)| Family::of(prefix) == family)
        .map(|(prefix, attrs)| {
            let next_hop = family.unspecified();
            let anys = attribute_anys(prefix, attrs, &[], next_hop);
            let binary = || {
                // What a locally originated path holds before export: no AS_PATH entry yet.
                let ctx = UpdateContext {
                    local_as,
                    four_octet_as: true,
                    next_hop,
                };
                wire_attributes(prefix, attrs, &ctx)
                    .into_iter()
                    .filter(|a| a.get(1) != Some(&2))
                    .collect()
            };
            let mut path = path(prefix, anys, binary, encoding);
            path.best = true;
            path.age = ages.get(prefix).map(timestamp);
            Destination {
                prefix: prefix.to_string(),
                paths: vec![path],
            }
        })
        .collect()
}

/// Whether the session's OPENs agreed on 4-octet AS numbers (both advertise the capability;
/// ours always does).
fn four_octet_as(session: &SessionStatus) -> bool {
    session
        .remote_capabilities
        .iter()
        .any(|c| matches!(c, Capability::FourOctetAs(_)))
}

/// The adj-RIB-out of one session: what the peer has from us, with the attributes as sent.
pub fn adj_out_paths(
    session: &SessionStatus,
    family: Family,
    local_as: u32,
    encoding: PathEncoding,
) -> Vec<Destination> {
    let Some(local) = session.local_address else {
        return Vec::new();
    };
    let ctx = UpdateContext {
        local_as,
        four_octet_as: four_octet_as(session),
        next_hop: local,
    };
    session
        .adj_out
        .iter()
        .filter(|(prefix, _)| Family::of(prefix) == family)
        .map(|(prefix, attrs)| {
            let anys = attribute_anys(prefix, attrs, &[local_as], local);
            let path = path(
                prefix,
                anys,
                || wire_attributes(prefix, attrs, &ctx),
                encoding,
            );
            Destination {
                prefix: prefix.to_string(),
                paths: vec![path],
            }
        })
        .collect()
}

/// A `prefixes` filter entry of ListPathRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A CIDR: that route exactly. A bare address: the routes that contain it.
    Exact(IpNet, bool),
    Longer(IpNet),
    Shorter(IpNet),
}

impl Lookup {
    pub fn parse(entry: &apipb::TableLookupPrefix) -> Result<Lookup, String> {
        let (net, bare) = match entry.prefix.parse::<IpNet>() {
            Ok(net) => (net, false),
            Err(_) => match entry.prefix.parse::<IpAddr>() {
                Ok(addr) => (IpNet::from(addr), true),
                Err(_) => return Err(format!("invalid prefix {:?}", entry.prefix)),
            },
        };
        match table_lookup_prefix::Type::try_from(entry.r#type) {
            Ok(table_lookup_prefix::Type::Exact) => Ok(Lookup::Exact(net.trunc(), bare)),
            Ok(table_lookup_prefix::Type::Longer) => Ok(Lookup::Longer(net.trunc())),
            Ok(table_lookup_prefix::Type::Shorter) => Ok(Lookup::Shorter(net.trunc())),
            Err(_) => Err(format!("invalid lookup type {}", entry.r#type)),
        }
    }

    pub fn matches(&self, route: &IpNet) -> bool {
        match *self {
            Lookup::Exact(net, false) => *route == net,
            Lookup::Exact(net, true) => route.contains(&net.addr()),
            Lookup::Longer(net) => net.contains(route),
            Lookup::Shorter(net) => route.contains(&net),
        }
    }
}

// ----- the service -----

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn stream_of<T: Send + 'static>(items: Vec<T>) -> ResponseStream<T> {
    Box::pin(futures_util::stream::iter(items.into_iter().map(Ok)))
}

pub struct Service {
    source: StatusSource,
    ages: RouteAges,
}

impl Service {
    /// Starts following the route set for the `Age` column; call on the runtime.
    pub fn new(source: StatusSource) -> Self {
        let ages = RouteAges::follow(source.info.borrow().started_at, source.routes.clone());
        Service { source, ages }
    }
}

/// The answers to ListPath, from one snapshot; errors are gRPC statuses for the client.
pub fn list_path(
    snapshot: &Snapshot,
    ages: &RouteAges,
    request: &ListPathRequest,
) -> Result<Vec<Destination>, Status> {
    let family = request
        .family
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("family is required"))?;
    let family = Family::from_api(family).ok_or_else(|| {
        Status::invalid_argument(format!(
            "family afi {} safi {}: elastic serves ipv4-unicast and ipv6-unicast only",
            family.afi, family.safi
        ))
    })?;
    let lookups = request
        .prefixes
        .iter()
        .map(Lookup::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Status::invalid_argument)?;
    let encoding = PathEncoding {
        nlri_binary: request.enable_nlri_binary,
        attribute_binary: request.enable_attribute_binary,
        only_binary: request.enable_only_binary,
    };
    let local_as = snapshot.info.local_as;
    let table = TableType::try_from(request.table_type).map_err(|_| {
        Status::invalid_argument(format!("invalid table type {}", request.table_type))
    })?;
    let mut destinations = match table {
        TableType::Global => global_paths(&snapshot.routes, family, ages, local_as, encoding),
        TableType::AdjOut => {
            let session = find_session(snapshot, &request.name)?;
            adj_out_paths(session, family, local_as, encoding)
        }
        TableType::AdjIn => {
            return Err(Status::unimplemented(
                "elastic keeps no adj-in table: routes from the route servers are counted and discarded",
            ));
        }
        TableType::Local | TableType::Vrf => {
            return Err(Status::unimplemented(
                "elastic has only the global and adj-out tables",
            ));
        }
    };
    if !lookups.is_empty() {
        destinations.retain(|d| {
            d.prefix
                .parse::<IpNet>()
                .is_ok_and(|p| lookups.iter().any(|l| l.matches(&p)))
        });
    }
    Ok(destinations)
}

fn find_session<'a>(snapshot: &'a Snapshot, name: &str) -> Result<&'a SessionStatus, Status> {
    if name.is_empty() {
        return Err(Status::invalid_argument(
            "name (the neighbor address) is required for adj-out",
        ));
    }
    let addr: IpAddr = name
        .parse()
        .map_err(|_| Status::invalid_argument(format!("invalid neighbor address {name:?}")))?;
    snapshot
        .sessions
        .iter()
        .find(|s| s.peer == addr)
        .ok_or_else(|| Status::not_found(format!("neighbor {name} not found")))
}

/// The answers to ListPeer: every peer, or the one whose address equals `address`.
pub fn list_peer(snapshot: &Snapshot, request: &ListPeerRequest) -> Result<Vec<Peer>, Status> {
    let wanted = if request.address.is_empty() {
        None
    } else {
        Some(request.address.parse::<IpAddr>().map_err(|_| {
            Status::invalid_argument(format!("invalid neighbor address {:?}", request.address))
        })?)
    };
    Ok(snapshot
        .sessions
        .iter()
        .filter(|s| wanted.is_none_or(|w| w == s.peer))
        .map(|s| peer(s, snapshot, request.enable_advertised))
        .collect())
}

#[tonic::async_trait]
impl GobgpApi for Service {
    async fn get_bgp(
        &self,
        _request: Request<GetBgpRequest>,
    ) -> Result<Response<GetBgpResponse>, Status> {
        Ok(Response::new(GetBgpResponse {
            global: Some(global(&self.source.info.borrow())),
        }))
    }

    type ListPeerStream = ResponseStream<ListPeerResponse>;

    async fn list_peer(
        &self,
        request: Request<ListPeerRequest>,
    ) -> Result<Response<Self::ListPeerStream>, Status> {
        let snapshot = self.source.snapshot();
        let peers = list_peer(&snapshot, request.get_ref())?;
        let items = peers
            .into_iter()
            .map(|peer| ListPeerResponse { peer: Some(peer) })
            .collect();
        Ok(Response::new(stream_of(items)))
    }

    type ListPathStream = ResponseStream<ListPathResponse>;

    async fn list_path(
        &self,
        request: Request<ListPathRequest>,
    ) -> Result<Response<Self::ListPathStream>, Status> {
        let snapshot = self.source.snapshot();
        let destinations = list_path(&snapshot, &self.ages, request.get_ref())?;
        let items = destinations
            .into_iter()
            .map(|d| ListPathResponse {
                destination: Some(d),
            })
            .collect();
        Ok(Response::new(stream_of(items)))
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "a test picks any origin for the time it passes in"
)]
#[path = "gobgp_tests.rs"]
mod tests;
