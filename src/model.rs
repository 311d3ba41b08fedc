//! The shared vocabulary, at the bottom of the module graph (it imports nothing of the crate): a
//! host's role, BGP communities, the attributes of a route and the route set every session is
//! handed, and the protocol defaults lelastic fixed. The codec, the sessions, the policy
//! (`announce`), the config and the API all speak these words.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The community an announcement carries: primary 65000:1 beats secondary 65000:2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Secondary,
}

impl Role {
    /// The word the config file, logs, metrics and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A standard community (RFC 1997), `ASN:VALUE` with both parts 0-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// 65000:1: the route servers prefer it (local-preference 200).
    pub const PRIMARY: Community = Community((65000 << 16) | 1);
    /// 65000:2: the route servers use it as backup (local-preference 100).
    pub const SECONDARY: Community = Community((65000 << 16) | 2);
    /// Well-known GRACEFUL_SHUTDOWN 65535:0 (RFC 8326): "this path is about to go away; prefer
    /// any other". Route servers that honour it set local-preference 0 on the path.
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xffff_0000);
}

impl FromStr for Community {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || "expected ASN:VALUE with both parts 0-65535, e.g. 65000:2".to_string();
        let (asn, value) = text.split_once(':').ok_or_else(expected)?;
        let asn: u16 = asn.parse().map_err(|_| expected())?;
        let value: u16 = value.parse().map_err(|_| expected())?;
        Ok(Community((u32::from(asn) << 16) | u32::from(value)))
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

/// Standard community 65000:1: the route servers prefer it (local-preference 200).
pub const COMMUNITY_PRIMARY: u32 = Community::PRIMARY.0;
/// Standard community 65000:2: the route servers use it as backup (local-preference 100).
pub const COMMUNITY_SECONDARY: u32 = Community::SECONDARY.0;

/// Well-known community GRACEFUL_SHUTDOWN 65535:0 (RFC 8326).
pub const GRACEFUL_SHUTDOWN: u32 = Community::GRACEFUL_SHUTDOWN.0;

/// The attributes that vary per announced prefix. ORIGIN (INCOMPLETE) and AS_PATH (the local AS)
/// are the same for every route and are added by the encoder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteAttrs {
    /// Standard communities (RFC 1997), each as `(asn << 16) | value`, in the order sent.
    pub communities: Vec<u32>,
    /// MULTI_EXIT_DISC, when configured.
    pub med: Option<u32>,
}

/// Prefix → attributes. A prefix absent from the map is not announced. Prefixes that share
/// attributes share one allocation of them: the set is built once and handed to every session
/// (and kept by each as what it sent), so its size must not multiply by the number of sessions.
pub type DesiredRoutes = BTreeMap<IpNet, Arc<RouteAttrs>>;

/// lelastic's BGP identity and timers: AS 65001 towards the route servers' AS 65000, hold 9 s
/// (so keepalive 3 s), connect retry 5 s, on the BGP port.
pub const LOCAL_AS: u32 = 65001;
pub const PEER_AS: u32 = 65000;
pub const HOLD_TIME_SECS: u16 = 9;
pub const CONNECT_RETRY: Duration = Duration::from_secs(5);
pub const BGP_PORT: u16 = 179;
/// DSCP CS6 (network control, RFC 4594) in the TOS / traffic-class octet, as FRR and BIRD mark
/// their BGP and BFD packets.
pub const TRAFFIC_CLASS_CS6: u32 = 0xc0;

/// Where lelastic (GoBGP) serves its API, and so where the `gobgp` CLI and `elastic status` look
/// by default.
pub const DEFAULT_API: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50051));

/// The `bfd:` settings, the same for every route-server session (plain data: `bfd` runs them,
/// `bgp`'s transport carries them so a change restarts the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdConfig {
    /// Desired Min TX Interval once Up (FRR's default 300 ms).
    pub min_tx: Duration,
    /// Required Min RX Interval (FRR's default 300 ms).
    pub min_rx: Duration,
    /// Detect Mult (FRR's default 3).
    pub multiplier: u8,
    /// RFC 5883 multihop on UDP 4784 (default); false: RFC 5881 single hop on UDP 3784.
    pub multihop: bool,
    /// Received TTL / hop limit below this are dropped; always 255 single hop.
    pub min_ttl: u8,
}

/// The BFD session beside a BGP session as status, the API and the metrics show it; the BFD
/// driver publishes it and the BGP driver watches `path_failures`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BfdView {
    /// "up", "init", "down", "admin-down", or "not answered" (down, never heard from).
    pub state: &'static str,
    pub remote_state: &'static str,
    /// Why we last left Up (RFC 5880 diagnostic name).
    pub diagnostic: &'static str,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    pub tx_interval: Duration,
    pub detection_time: Duration,
    /// Path failures while Up so far; each one takes the BGP session down.
    pub path_failures: u64,
    /// Datagrams from the peer's address discarded, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
}
