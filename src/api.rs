//! The gRPC API: our `elastic.v1` status service and the GoBGP v3 subset (`apipb.GobgpApi`) that
//! the `gobgp` CLI of lelastic users calls. One h2c listener serves both.
//!
//! Every answer is built from a [`StatusSource::snapshot`] (watch channels hand out the latest
//! values without waiting), so a slow or hostile client can never stall a BGP session.
//! Conversions live in [`gobgp`] and [`elastic`]; they are pure functions of a snapshot.

pub mod elastic;
pub mod gobgp;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::accept::{self, Limits};
use crate::status::StatusSource;

/// Requests are tiny (the largest real one is a ListPath with a few prefixes).
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// A handful of local clients; more concurrent streams per connection is abuse.
const MAX_STREAMS_PER_CONNECTION: u32 = 16;
/// No request takes long: everything comes from a snapshot.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The `gobgp` CLI and `elastic status` open one connection per command; a few monitoring
/// watchers stay. More at once is abuse: the rest wait in the kernel's backlog.
const API_LIMITS: Limits = Limits {
    max_connections: 32,
    first_byte: Duration::from_secs(5),
    idle: Duration::from_secs(120),
};
/// The control socket is for the operator's `elastic drain` / `maintenance`.
const CONTROL_LIMITS: Limits = Limits {
    max_connections: 8,
    ..API_LIMITS
};
/// Pings keep a quiet WatchStatus stream's connection from counting as idle and find clients
/// that are gone; the interval is well inside [`API_LIMITS`]'s idle time.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// WatchStatus streams at once on one listener (each is a task that renders the whole status on
/// every change).
const MAX_WATCHERS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// lelastic's wording, so log searches keep working.
    #[error("failed to listen grpc port {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The API's listening socket, bound early so that a taken port fails start-up before anything
/// else happens.
pub struct Bound {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

impl Bound {
    /// Where a test's listener on port 0 ended up.
    #[cfg(test)]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Binds `listen` (call on the runtime).
pub fn bind(listen: SocketAddr) -> Result<Bound, ApiError> {
    let error = |source| ApiError::Listen {
        addr: listen,
        source,
    };
    let listener = std::net::TcpListener::bind(listen).map_err(error)?;
    listener.set_nonblocking(true).map_err(error)?;
    let addr = listener.local_addr().map_err(error)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(error)?;
    Ok(Bound { listener, addr })
}

/// Serves both services on `bound` until the task is aborted or the runtime ends.
pub fn serve(bound: Bound, source: StatusSource) -> JoinHandle<()> {
    let limits = accept::within_open_file_limit(API_LIMITS);
    let incoming = accept::incoming(bound.listener, limits, "gRPC API");
    let elastic = crate::proto::elastic::v1::elastic_server::ElasticServer::new(
        elastic::Service::new(source.clone(), MAX_WATCHERS),
    )
    .max_decoding_message_size(MAX_REQUEST_BYTES);
    let gobgp =
        crate::proto::apipb::gobgp_api_server::GobgpApiServer::new(gobgp::Service::new(source))
            .max_decoding_message_size(MAX_REQUEST_BYTES);
    let router = server_builder().add_service(elastic).add_service(gobgp);
    info!(
        listen = %bound.addr,
        max_connections = limits.max_connections,
        "gRPC API listening"
    );
    tokio::spawn(async move {
        if let Err(error) = router.serve_with_incoming(incoming).await {
            error!(%error, "gRPC API stopped");
        }
    })
}

/// Serves elastic.v1 with SetMaintenance and Drain enabled on the control socket's `listener`.
pub fn serve_control(
    listener: tokio::net::UnixListener,
    source: StatusSource,
    control: tokio::sync::mpsc::Sender<elastic::ControlRequest>,
) -> JoinHandle<()> {
    let limits = accept::within_open_file_limit(CONTROL_LIMITS);
    let incoming = accept::incoming(listener, limits, "control socket");
    let elastic = crate::proto::elastic::v1::elastic_server::ElasticServer::new(
        elastic::Service::with_control(source, control, MAX_WATCHERS),
    )
    .max_decoding_message_size(MAX_REQUEST_BYTES);
    let router = server_builder().add_service(elastic);
    tokio::spawn(async move {
        if let Err(error) = router.serve_with_incoming(incoming).await {
            error!(%error, "control socket stopped");
        }
    })
}

/// The h2 settings both listeners share.
fn server_builder() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .timeout(REQUEST_TIMEOUT)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
}

/// Whether serving on `addr` keeps the API on this host (the default); anything else needs the
/// operator's explicit consent, as the API is unauthenticated.
pub fn is_local(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// `type.googleapis.com/<package>.<Message>`, as Go's `anypb.New` writes it.
pub(crate) fn any<M: prost::Message>(full_name: &str, message: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{full_name}"),
        value: message.encode_to_vec(),
    }
}

pub(crate) fn timestamp(time: std::time::SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(time)
}

pub(crate) fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos() as i32,
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "a test picks any origin for the time it passes in"
)]
mod tests;
