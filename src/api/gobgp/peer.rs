//! ListPeer: the sessions as gobgpd shows its neighbors, with both OPENs' capabilities.

use std::net::IpAddr;

use tonic::Status;

use super::FAMILIES;
use crate::api::any;
use crate::api::timestamp;
use crate::bgp::session::{MessageCounts, SessionStatus, State};
use crate::bgp::wire::{Capability, Family};
use crate::proto::apipb::{
    self, AfiSafi, AfiSafiConfig, AfiSafiState, EbgpMultihop, GracefulRestart, ListPeerRequest,
    Messages, Peer, PeerConf, PeerState, PeerType, Queues, RouteReflector, RouteServer, Timers,
    TimersConfig, TimersState, Transport,
    peer_state::{AdminState, SessionState},
};
use crate::status::{BgpInfo, Snapshot};

/// lelastic's neighbor description.
const PEER_DESCRIPTION: &str = "route server";

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
pub fn peer(
    session: &SessionStatus,
    info: &BgpInfo,
    snapshot: &Snapshot,
    enable_advertised: bool,
) -> Peer {
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
    let afi_safis = FAMILIES
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
                    family: Some(family.into()),
                    enabled: true,
                }),
                state: Some(AfiSafiState {
                    family: Some(family.into()),
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
                keepalive_interval: u64::from(info.keepalive),
            }),
            state: Some(TimersState {
                connect_retry: info.connect_retry.as_secs(),
                hold_time: u64::from(info.hold_time),
                keepalive_interval: match established {
                    true => session.negotiated_keepalive.map_or(0, u64::from),
                    false => 0,
                },
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
            remote_port: u32::from(crate::model::BGP_PORT),
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

/// The answers to ListPeer: every peer, or the one whose address equals `address`.
pub fn list_peer(snapshot: &Snapshot, request: &ListPeerRequest) -> Result<Vec<Peer>, Status> {
    let info = super::bgp_info(snapshot)?;
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
        .map(|s| peer(s, info, snapshot, request.enable_advertised))
        .collect())
}
