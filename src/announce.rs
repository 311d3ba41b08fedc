//! The desired route set: which prefixes to announce, with which attributes.
//!
//! Pure: computed from settings and addresses; every BGP session diffs it against what it sent.

use std::collections::BTreeMap;

use ipnet::IpNet;

/// Standard community 65000:1: the route servers prefer it (local-preference 200).
pub const COMMUNITY_PRIMARY: u32 = (65000 << 16) | 1;
/// Standard community 65000:2: the route servers use it as backup (local-preference 100).
pub const COMMUNITY_SECONDARY: u32 = (65000 << 16) | 2;

/// The attributes that vary per announced prefix. ORIGIN (INCOMPLETE) and AS_PATH (the local AS)
/// are the same for every route and are added by the encoder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteAttrs {
    /// Standard communities (RFC 1997), each as `(asn << 16) | value`, in the order sent.
    pub communities: Vec<u32>,
    /// MULTI_EXIT_DISC, when configured.
    pub med: Option<u32>,
}

/// Prefix → attributes. A prefix absent from the map is not announced.
pub type DesiredRoutes = BTreeMap<IpNet, RouteAttrs>;
