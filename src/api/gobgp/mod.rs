//! The GoBGP v3 subset (`apipb.GobgpApi`): GetBgp, ListPeer, ListPath, built from a snapshot so
//! that the `gobgp` 3.x CLI prints what it prints against lelastic (gobgpd).
//!
//! The CLI dereferences many sub-messages without nil checks, so every sub-message the proto
//! marks "always fill" is present here, even when empty (the `api` integration tests run the
//! real CLI against it). `peer` answers ListPeer, `path` ListPath; neither keeps state.

mod path;
mod peer;

use std::pin::Pin;

use futures_util::Stream;
use tonic::{Request, Response, Status};

use path::list_path;
use peer::list_peer;

use crate::bgp::wire::Family;
use crate::proto::apipb::{
    self, GetBgpRequest, GetBgpResponse, Global, ListPathRequest, ListPathResponse,
    ListPeerRequest, ListPeerResponse,
    family::{Afi, Safi},
    gobgp_api_server::GobgpApi,
};
use crate::status::{BgpInfo, DaemonInfo, Snapshot, StatusSource};

/// What gobgpd answers for lelastic's `StartBgp{listen_port: -1}`: no BGP listener.
const NO_LISTEN_PORT: i32 = -1;

/// The families elastic announces, in the order gobgpd lists them.
const FAMILIES: [Family; 2] = [Family::Ipv4Unicast, Family::Ipv6Unicast];

impl From<Family> for apipb::Family {
    fn from(family: Family) -> apipb::Family {
        let afi = match family {
            Family::Ipv4Unicast => Afi::Ip,
            Family::Ipv6Unicast => Afi::Ip6,
        };
        apipb::Family {
            afi: afi as i32,
            safi: Safi::Unicast as i32,
        }
    }
}

/// The family a request names, if it is one elastic serves.
fn family_from_api(family: &apipb::Family) -> Option<Family> {
    let afi = u16::try_from(family.afi).ok()?;
    let safi = u8::try_from(family.safi).ok()?;
    Family::from_afi_safi(afi, safi)
}

// ----- GetBgp -----

/// The BGP side of the daemon; in VRRP mode, the error every GoBGP call answers with.
fn bgp_of(info: &DaemonInfo) -> Result<&BgpInfo, Status> {
    info.bgp.as_ref().ok_or_else(|| {
        Status::failed_precondition(
            "elastic runs in VRRP mode: no BGP sessions or paths (see `elastic status`)",
        )
    })
}

fn bgp_info(snapshot: &Snapshot) -> Result<&BgpInfo, Status> {
    bgp_of(&snapshot.info)
}

pub fn global(info: &BgpInfo) -> Global {
    Global {
        asn: info.local_as,
        router_id: info.router_id.to_string(),
        listen_port: NO_LISTEN_PORT,
        // gobgpd reports its defaults even though it does not listen; the CLI prints them.
        listen_addresses: vec!["0.0.0.0".to_string(), "::".to_string()],
    }
}

// ----- the service -----

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn stream_of<T: Send + 'static>(items: Vec<T>) -> ResponseStream<T> {
    Box::pin(futures_util::stream::iter(items.into_iter().map(Ok)))
}

pub struct Service {
    source: StatusSource,
}

impl Service {
    pub fn new(source: StatusSource) -> Self {
        Service { source }
    }
}

#[tonic::async_trait]
impl GobgpApi for Service {
    async fn get_bgp(
        &self,
        _request: Request<GetBgpRequest>,
    ) -> Result<Response<GetBgpResponse>, Status> {
        let info = self.source.info.borrow().clone();
        Ok(Response::new(GetBgpResponse {
            global: Some(global(bgp_of(&info)?)),
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
        let destinations = list_path(&snapshot, request.get_ref())?;
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
mod tests;
