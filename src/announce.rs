//! The desired route set: which prefixes to announce, with which attributes.
//!
//! Pure: computed from settings and addresses; every BGP session diffs it against what it sent.

use std::collections::BTreeMap;

use ipnet::IpNet;

use crate::cli::Role;

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

/// The communities that carry a host's role to the route servers.
pub fn role_communities(role: Role) -> Vec<u32> {
    match role {
        Role::Primary => vec![COMMUNITY_PRIMARY],
        Role::Secondary => vec![COMMUNITY_SECONDARY],
    }
}

/// Every eligible prefix announced with the role's community (and the MED, when configured).
pub fn desired_routes(prefixes: &[IpNet], role: Role, med: Option<u32>) -> DesiredRoutes {
    let attrs = RouteAttrs {
        communities: role_communities(role),
        med,
    };
    prefixes.iter().map(|p| (*p, attrs.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_and_secondary_get_their_community() {
        let prefixes: Vec<IpNet> = vec![
            "203.0.113.10/32".parse().unwrap(),
            "2001:db8:100::/64".parse().unwrap(),
        ];
        let primary = desired_routes(&prefixes, Role::Primary, None);
        assert_eq!(primary.len(), 2);
        assert!(
            primary
                .values()
                .all(|a| a.communities == [COMMUNITY_PRIMARY] && a.med.is_none())
        );
        let secondary = desired_routes(&prefixes, Role::Secondary, Some(10));
        assert!(
            secondary
                .values()
                .all(|a| a.communities == [COMMUNITY_SECONDARY] && a.med == Some(10))
        );
        assert_eq!(COMMUNITY_PRIMARY, 4_259_840_001);
    }
}
