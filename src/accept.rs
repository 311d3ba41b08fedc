//! Accepting connections within limits: one mechanism for every listener the daemon has (the
//! gRPC API, the control socket, the metrics endpoint).
//!
//! A listener is reachable by every local user (the API on 127.0.0.1 is unauthenticated), and
//! each connection it holds is an open file. Without limits, about a thousand idle connections
//! exhaust the descriptors, after which probes cannot start ("Too many open files"), services
//! go down and a healthy host withdraws its routes. So each listener:
//! - holds at most `max_connections` at once; past that it stops accepting (the kernel's backlog
//!   holds the rest, and their clients wait or time out);
//! - closes a connection that sends nothing within `first_byte` of being accepted, and one that
//!   then sends nothing for `idle` (the gRPC server's keepalive pings are answered by live
//!   clients, so a long WatchStatus stream stays);
//! - backs off after an accept error instead of retrying in a tight loop (EMFILE leaves the
//!   listener readable).
//!
//! Together the caps are far below the open-file limit, which [`raise_open_file_limit`] lifts to
//! its hard maximum at start, as Go's runtime does for lelastic: the rest stays for probes, hooks
//! and BGP sessions.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tracing::warn;

/// What one listener may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    /// A new connection must send its first byte within this.
    pub first_byte: Duration,
    /// A connection that sends nothing for this long is closed.
    pub idle: Duration,
}

/// How long the listener waits after a failed accept (EMFILE, ENFILE, ENOBUFS): long enough
/// not to spin, short enough that the API is back soon after descriptors are freed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Descriptors kept for everything that is not a listener's connection: probes (an exec probe
/// holds three pipes while it runs), hooks, BGP sessions, netlink, the log.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// A listening socket of any kind the daemon serves on.
pub trait Listener: Send + 'static {
    type Stream: Send + 'static;
    fn accept_one(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept_one(&self) -> io::Result<Self::Stream> {
        let (stream, _) = self.accept().await?;
        // gRPC answers are small; do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        // A remote client (`api_allow_remote`) that vanishes is noticed by the kernel too.
        let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(60));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        Ok(stream)
    }
}

impl Listener for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept_one(&self) -> io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

/// The connections `listener` accepts within `limits`, as a stream that never ends and never
/// yields an error (failed accepts are logged and retried after a pause). `what` names the
/// listener in log lines.
pub fn incoming<L: Listener>(
    listener: L,
    limits: Limits,
    what: &'static str,
) -> impl Stream<Item = io::Result<Guarded<L::Stream>>> + Send + 'static {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    futures_util::stream::unfold(
        (listener, slots, false),
        move |(listener, slots, mut failing)| async move {
            loop {
                // A slot first: when all are taken, stop accepting until one frees.
                let permit = slots.clone().acquire_owned().await.ok()?;
                match listener.accept_one().await {
                    Ok(stream) => {
                        let guarded = Guarded::new(stream, permit, limits);
                        return Some((Ok(guarded), (listener, slots, false)));
                    }
                    Err(error) => {
                        // Once per run of failures: EMFILE would otherwise log ten lines a second.
                        if !failing {
                            warn!(%error, listener = what, "accept failed; retrying every 100 ms");
                        }
                        failing = true;
                        drop(permit);
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                }
            }
        },
    )
}

/// An accepted connection that holds its listener slot until dropped and fails its reads once
/// the peer has been silent too long.
pub struct Guarded<S> {
    inner: S,
    _slot: OwnedSemaphorePermit,
    silence: Pin<Box<Sleep>>,
    idle: Duration,
}

impl<S> Guarded<S> {
    fn new(inner: S, slot: OwnedSemaphorePermit, limits: Limits) -> Self {
        Self {
            inner,
            _slot: slot,
            silence: Box::pin(tokio::time::sleep(limits.first_byte)),
            idle: limits.idle,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                let this = &mut *self;
                reset_after(this.silence.as_mut(), this.idle);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match self.silence.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing in time",
                ))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

/// Moves `timer` to `after` from now.
fn reset_after(timer: Pin<&mut Sleep>, after: Duration) {
    timer.reset(tokio::time::Instant::from_std(crate::clock::now()) + after);
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S: tonic::transport::server::Connected> tonic::transport::server::Connected for Guarded<S> {
    type ConnectInfo = S::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Raises the soft limit on open files to the hard limit (systemd's default soft limit is 1024;
/// the shipped unit sets both). Returns the soft limit in force afterwards, or why it could not
/// be read.
pub fn raise_open_file_limit() -> io::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    if soft >= hard {
        // Nothing to raise; not calling setrlimit also keeps a syscall filter without
        // @resources content.
        return Ok(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => Ok(hard),
        Err(error) => {
            warn!(%error, soft, hard, "cannot raise the open-file limit; keeping the soft limit");
            Ok(soft)
        }
    }
}

/// The listeners that share what the open-file limit leaves: API, control socket, metrics.
const LISTENERS: u64 = 3;

/// `wanted`, with fewer connections when the current open-file limit is low (see [`scaled`]).
pub fn within_open_file_limit(wanted: Limits) -> Limits {
    use nix::sys::resource::{Resource, getrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) => scaled(wanted, soft),
        Err(_) => wanted,
    }
}

/// How many connections a listener may hold, given the open-file limit: `wanted` while the
/// limit leaves [`RESERVED_DESCRIPTORS`] free with every listener full, fewer when it is low
/// (never below one).
fn scaled(wanted: Limits, open_file_limit: u64) -> Limits {
    let spare = open_file_limit.saturating_sub(RESERVED_DESCRIPTORS);
    let fair = usize::try_from(spare / LISTENERS).unwrap_or(usize::MAX);
    Limits {
        max_connections: wanted.max_connections.min(fair).max(1),
        ..wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: Limits = Limits {
        max_connections: 32,
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(120),
    };

    #[test]
    fn a_usual_open_file_limit_keeps_the_default_caps() {
        assert_eq!(scaled(API, 1024), API);
        assert_eq!(scaled(API, 524_288), API);
    }

    #[test]
    fn a_low_open_file_limit_shrinks_the_caps_but_keeps_the_reserve() {
        let small = scaled(API, RESERVED_DESCRIPTORS + 30);
        assert_eq!(small.max_connections, 10);
        assert_eq!(small.first_byte, API.first_byte);
        assert_eq!(scaled(API, 64).max_connections, 1);
    }

    /// A client that connects and sends nothing loses its connection after `first_byte`, and
    /// its slot goes to the next client.
    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_closed_and_frees_its_slot() {
        use futures_util::StreamExt;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            max_connections: 1,
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(60),
        };
        let mut incoming = Box::pin(incoming(listener, limits, "test"));
        let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut first = incoming.next().await.unwrap().unwrap();
        // The only slot is taken: the next client waits in the backlog.
        let mut talker = tokio::net::TcpStream::connect(addr).await.unwrap();
        talker.write_all(b"hello").await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_secs(1), incoming.next()).await;
        assert!(
            waiting.is_err(),
            "a second connection was accepted past the cap"
        );
        // The silent one times out (paused time jumps ahead while nothing else is ready).
        let mut byte = [0u8; 1];
        let error = first.read(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        drop(first);
        let mut second = tokio::time::timeout(Duration::from_secs(1), incoming.next())
            .await
            .expect("the freed slot accepts the waiting client")
            .unwrap()
            .unwrap();
        let mut hello = [0u8; 5];
        second.read_exact(&mut hello).await.unwrap();
        assert_eq!(&hello, b"hello");
    }

    /// Every byte moves the idle deadline: a client that keeps talking is never closed.
    #[tokio::test(start_paused = true)]
    async fn a_talking_client_stays_past_the_idle_time() {
        use futures_util::StreamExt;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            max_connections: 4,
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(10),
        };
        let mut incoming = Box::pin(incoming(listener, limits, "test"));
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut server = incoming.next().await.unwrap().unwrap();
        let mut byte = [0u8; 1];
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(4)).await;
            client.write_all(b"x").await.unwrap();
            server.read_exact(&mut byte).await.unwrap();
        }
        // 20 s in, past both the first-byte and the idle time; now silence closes it.
        let error = server.read(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }
}
