//! ListPath: the global table (the desired routes, originated here) and each session's
//! adj-RIB-out, with the path attributes `bgp::wire` sends for them mapped to GoBGP's messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use tonic::Status;

use crate::api::any;
use crate::api::timestamp;
use crate::bgp::session::SessionStatus;
use crate::bgp::wire::{self, Capability, Family, PathAttribute, UpdateContext};
use crate::proto::apipb::{
    self, Destination, ListPathRequest, Path, TableType, table_lookup_prefix,
};
use crate::status::Snapshot;

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

/// One attribute as the Any the CLI prints. AS4_PATH has none: the CLI shows the real AS from
/// AS_PATH, which carries it (see [`PathAttribute::AsPath`]).
fn attribute_any(attribute: &PathAttribute) -> Option<prost_types::Any> {
    use apipb::*;
    Some(match attribute {
        PathAttribute::Origin(origin) => any(
            "apipb.OriginAttribute",
            &OriginAttribute {
                origin: u32::from(*origin),
            },
        ),
        PathAttribute::AsPath { asn, .. } => any(
            "apipb.AsPathAttribute",
            &AsPathAttribute {
                segments: vec![AsSegment {
                    r#type: as_segment::Type::AsSequence as i32,
                    numbers: vec![*asn],
                }],
            },
        ),
        PathAttribute::NextHop(next_hop) => any(
            "apipb.NextHopAttribute",
            &NextHopAttribute {
                next_hop: next_hop.to_string(),
            },
        ),
        PathAttribute::MultiExitDisc(med) => any(
            "apipb.MultiExitDiscAttribute",
            &MultiExitDiscAttribute { med: *med },
        ),
        PathAttribute::Communities(communities) => any(
            "apipb.CommunitiesAttribute",
            &CommunitiesAttribute {
                communities: communities.clone(),
            },
        ),
        PathAttribute::MpReachNlri {
            family,
            next_hop,
            prefixes,
        } => any(
            "apipb.MpReachNLRIAttribute",
            &MpReachNlriAttribute {
                family: Some((*family).into()),
                next_hops: vec![next_hop.to_string()],
                nlris: prefixes.iter().map(ip_prefix_any).collect(),
            },
        ),
        PathAttribute::As4Path(_) => return None,
    })
}

/// One path for `prefix` carrying `attributes`, as Anys and/or wire bytes per `encoding`.
fn path(prefix: &IpNet, attributes: &[PathAttribute], encoding: PathEncoding) -> Path {
    let binary = encoding.only_binary;
    Path {
        nlri: (!binary).then(|| ip_prefix_any(prefix)),
        pattrs: if binary {
            Vec::new()
        } else {
            attributes.iter().filter_map(attribute_any).collect()
        },
        family: Some(Family::of(prefix).into()),
        nlri_binary: if encoding.nlri_binary || binary {
            wire::prefix_bytes(prefix)
        } else {
            Vec::new()
        },
        pattrs_binary: if encoding.attribute_binary || binary {
            attributes.iter().map(PathAttribute::to_bytes).collect()
        } else {
            Vec::new()
        },
        local_identifier: 1,
        ..Path::default()
    }
}

/// The unspecified address gobgpd shows as the next hop of a locally originated path.
fn unspecified(family: Family) -> IpAddr {
    match family {
        Family::Ipv4Unicast => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::Ipv6Unicast => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// The global table: every desired route of `family`, originated here (next hop unspecified,
/// no AS_PATH entry yet), best, aged from when it entered the desired set.
pub fn global_paths(
    snapshot: &Snapshot,
    local_as: u32,
    family: Family,
    encoding: PathEncoding,
) -> Vec<Destination> {
    let ctx = UpdateContext {
        local_as,
        four_octet_as: true,
        next_hop: unspecified(family),
    };
    snapshot
        .routes
        .iter()
        .filter(|(prefix, _)| Family::of(prefix) == family)
        .map(|(prefix, attrs)| {
            let mut attributes = wire::path_attributes(prefix, attrs, &ctx);
            attributes.retain(|a| !matches!(a, PathAttribute::AsPath { .. }));
            let mut path = path(prefix, &attributes, encoding);
            path.best = true;
            path.age = Some(timestamp(snapshot.route_first_seen(prefix)));
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
            let attributes = wire::path_attributes(prefix, attrs, &ctx);
            Destination {
                prefix: prefix.to_string(),
                paths: vec![path(prefix, &attributes, encoding)],
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

/// The answers to ListPath, from one snapshot; errors are gRPC statuses for the client.
pub fn list_path(
    snapshot: &Snapshot,
    request: &ListPathRequest,
) -> Result<Vec<Destination>, Status> {
    let family = request
        .family
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("family is required"))?;
    let family = super::family_from_api(family).ok_or_else(|| {
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
    let local_as = super::bgp_info(snapshot)?.local_as;
    let table = TableType::try_from(request.table_type).map_err(|_| {
        Status::invalid_argument(format!("invalid table type {}", request.table_type))
    })?;
    let mut destinations = match table {
        TableType::Global => global_paths(snapshot, local_as, family, encoding),
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
