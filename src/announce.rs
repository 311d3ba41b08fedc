//! The desired route set: which prefixes to announce, with which attributes, and why.
//!
//! Pure: computed from the settings, the services' health and the addresses; every BGP session
//! diffs it against what it sent, so it only changes when a service's state does.

use std::sync::Arc;

use ipnet::IpNet;

use crate::config::{Outcome, ServiceConfig};
use crate::health::{ServiceHealth, ServiceState};
use crate::model::{
    COMMUNITY_PRIMARY, COMMUNITY_SECONDARY, DesiredRoutes, GRACEFUL_SHUTDOWN, Role, RouteAttrs,
};

/// Why each address is (or is not) announced, as computed with the desired route set. There is one
/// per address (100,000 with as many prefixes), and a plan has only a few distinct verdicts, so
/// every address with the same one shares it: 32 bytes an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressStatus {
    pub prefix: IpNet,
    pub verdict: Arc<AddressVerdict>,
}

/// What a plan decided for an address, shared by every address it decided the same for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressVerdict {
    /// The role it is announced with while its services are up: the gating services' `role`,
    /// else the host's.
    pub role: Role,
    pub announced: bool,
    pub communities: Vec<u32>,
    pub med: Option<u32>,
    pub reason: String,
}

/// The verdict's fields read as the status's own (`status.reason`): the sharing is a memory
/// layout, not something a reader of the status needs to know about.
impl std::ops::Deref for AddressStatus {
    type Target = AddressVerdict;

    fn deref(&self) -> &AddressVerdict {
        &self.verdict
    }
}

/// Hands out one shared copy of each distinct attribute set (a plan has only a few).
#[derive(Debug, Default)]
struct SharedAttrs(Vec<Arc<RouteAttrs>>);

impl SharedAttrs {
    fn get(&mut self, attrs: RouteAttrs) -> Arc<RouteAttrs> {
        if let Some(shared) = self.0.iter().find(|shared| ***shared == attrs) {
            return shared.clone();
        }
        let shared = Arc::new(attrs);
        self.0.push(shared.clone());
        shared
    }
}

/// Hands out one shared copy of each distinct verdict of a plan's addresses.
#[derive(Debug, Default)]
struct SharedVerdicts(Vec<Arc<AddressVerdict>>);

impl SharedVerdicts {
    fn get(&mut self, verdict: AddressVerdict) -> Arc<AddressVerdict> {
        if let Some(shared) = self.0.iter().find(|shared| ***shared == verdict) {
            return shared.clone();
        }
        let shared = Arc::new(verdict);
        self.0.push(shared.clone());
        shared
    }
}

/// The communities that carry a host's role to the route servers.
pub fn role_communities(role: Role) -> Vec<u32> {
    match role {
        Role::Primary => vec![COMMUNITY_PRIMARY],
        Role::Secondary => vec![COMMUNITY_SECONDARY],
    }
}

/// Every eligible prefix announced with the role's community (and the MED, when configured): the
/// plan with every service up, for tests.
#[cfg(test)]
pub fn desired_routes(prefixes: &[IpNet], role: Role, med: Option<u32>) -> DesiredRoutes {
    let attrs = Arc::new(RouteAttrs {
        communities: role_communities(role),
        med,
    });
    prefixes.iter().map(|p| (*p, attrs.clone())).collect()
}

/// Added to the MED (0 when none is configured) of a route held as secondary by `preempt: false`.
/// The community alone would tie with the healthy secondary's route (both 65000:2), and route
/// servers that spread traffic over equal paths (multipath) would send traffic back; a higher MED
/// makes the held route strictly worse than the peer's, yet better than a demoted one (1000).
pub const HELD_SECONDARY_MED_PENALTY: u32 = 100;

/// How one service wants its addresses announced right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Treatment {
    /// With the host's role community (and the configured MED).
    Normal,
    /// Up, but held as secondary by `preempt: false`.
    Secondary,
    /// Down or in maintenance with `demote`.
    Demoted(RouteAttrs),
    /// Waiting for its probes, or down / in maintenance with `withdraw`.
    Withdrawn,
}

impl Treatment {
    /// How bad it is for the prefix: when several services gate one prefix, the worst wins.
    fn rank(&self) -> u8 {
        match self {
            Treatment::Normal => 0,
            Treatment::Secondary => 1,
            Treatment::Demoted(_) => 2,
            Treatment::Withdrawn => 3,
        }
    }

    /// The word hooks and logs use: primary, secondary, demoted or withdrawn.
    pub fn name(&self, role: Role) -> &'static str {
        match (self, role) {
            (Treatment::Normal, Role::Primary) => "primary",
            (Treatment::Normal, Role::Secondary) | (Treatment::Secondary, _) => "secondary",
            (Treatment::Demoted(_), _) => "demoted",
            (Treatment::Withdrawn, _) => "withdrawn",
        }
    }
}

/// The treatment a service's state calls for, with a reason for people.
pub fn treatment(service: &ServiceConfig, health: &ServiceHealth) -> (Treatment, String) {
    let name = &service.name;
    let outcome = |outcome: &Outcome| match outcome {
        Outcome::Withdraw => Treatment::Withdrawn,
        Outcome::Demote(attrs) => Treatment::Demoted(RouteAttrs {
            communities: attrs.communities.clone(),
            med: attrs.med,
        }),
    };
    match health.state() {
        ServiceState::Waiting => (
            Treatment::Withdrawn,
            format!("service {name} is waiting for its probes' first verdict"),
        ),
        ServiceState::Up if health.held_secondary() => (
            Treatment::Secondary,
            format!("service {name} is up; held as secondary after a failure (preempt: false)"),
        ),
        ServiceState::Up => (Treatment::Normal, format!("service {name} is up")),
        ServiceState::Down => (outcome(&service.on_down), format!("service {name} is down")),
        ServiceState::Delayed => (
            outcome(&service.on_down),
            format!("service {name} recovered; announce_delay running"),
        ),
        ServiceState::Maintenance => {
            let mut chosen = outcome(&service.maintenance);
            // Draining a host whose probes fail must not announce more than failing would.
            match health.probes_verdict() {
                None => chosen = Treatment::Withdrawn,
                Some(false) if outcome(&service.on_down).rank() > chosen.rank() => {
                    chosen = outcome(&service.on_down);
                }
                _ => {}
            }
            (chosen, format!("service {name} is in maintenance"))
        }
    }
}

/// The role a prefix is announced with: the `role` of the services that gate it, else the host's.
/// Two different ones are refused at load; should a prefix still get both (a /56 on `lo` holding
/// two services' /64s), it is secondary: a host never claims a prefix another may be primary for.
pub fn prefix_role(host: Role, gating_roles: impl IntoIterator<Item = Option<Role>>) -> Role {
    let mut chosen = None;
    for role in gating_roles.into_iter().flatten() {
        chosen = match chosen {
            Some(other) if other != role => return Role::Secondary,
            _ => Some(role),
        };
    }
    chosen.unwrap_or(host)
}

/// The desired set and, per prefix, whether and why it is announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub routes: DesiredRoutes,
    pub addresses: Vec<AddressStatus>,
}

/// The attributes of a prefix that is drained before a planned stop (or by `elastic drain`):
/// what it would carry demoted, plus GRACEFUL_SHUTDOWN. The demotion is the first gating
/// service's `maintenance` demote, else its `on_down` demote, else the default (65000:2, MED
/// 1000); a route that is already demoted keeps its attributes. A route server that ignores
/// 65535:0 still prefers the peer's healthy route because of the demotion.
pub fn drained_attrs(current: &Treatment, gating: &[&ServiceConfig]) -> Option<RouteAttrs> {
    let mut attrs = match current {
        Treatment::Withdrawn => return None,
        Treatment::Demoted(attrs) => attrs.clone(),
        Treatment::Normal | Treatment::Secondary => {
            let configured = gating
                .iter()
                .find_map(|s| match (&s.maintenance, &s.on_down) {
                    (Outcome::Demote(attrs), _) | (_, Outcome::Demote(attrs)) => {
                        Some(attrs.clone())
                    }
                    _ => None,
                });
            configured.unwrap_or_else(crate::config::default_demote)
        }
    };
    if !attrs.communities.contains(&GRACEFUL_SHUTDOWN) {
        attrs.communities.push(GRACEFUL_SHUTDOWN);
    }
    Some(attrs)
}

/// Every eligible prefix, gated by the services that cover it: all of them must be up for the
/// normal announcement (with the prefix's [`prefix_role`]; `host_role` where no gating service
/// sets one); otherwise the worst treatment among them applies (withdrawn, then demoted, then
/// secondary). A prefix no service covers is announced normally. With `draining` every announced
/// prefix carries its [`drained_attrs`] instead (RFC 8326 graceful shutdown), whatever its role.
pub fn plan(
    prefixes: &[IpNet],
    host_role: Role,
    med: Option<u32>,
    services: &[(&ServiceConfig, &ServiceHealth)],
    draining: bool,
) -> Plan {
    let treatments: Vec<(&ServiceConfig, Treatment, String)> = services
        .iter()
        .map(|(config, health)| {
            let (t, reason) = treatment(config, health);
            (*config, t, reason)
        })
        .collect();
    // Collected first, then built in one go: a BTreeMap built from a sorted run packs its nodes
    // full, where inserting one by one leaves them about half empty (10,000 routes: ~0.8 → ~0.4 MB).
    let mut routes = Vec::with_capacity(prefixes.len());
    let mut shared = SharedAttrs::default();
    let mut verdicts = SharedVerdicts::default();
    let mut addresses = Vec::with_capacity(prefixes.len());
    // The services gating the prefix at hand: which cover it is worked out once per prefix
    // (a service's address list is walked for each), into one reused list.
    let mut gating: Vec<&ServiceConfig> = Vec::new();
    let mut gating_treatments: Vec<(&Treatment, &str)> = Vec::new();
    for prefix in prefixes {
        gating.clear();
        gating_treatments.clear();
        for (config, t, reason) in treatments.iter().filter(|(c, _, _)| c.gates(prefix)) {
            gating.push(*config);
            gating_treatments.push((t, reason));
        }
        let worst =
            gating_treatments
                .iter()
                .fold(
                    None::<(&Treatment, &str)>,
                    |worst, &(t, reason)| match worst {
                        Some((w, _)) if w.rank() >= t.rank() => worst,
                        _ => Some((t, reason)),
                    },
                );
        let role = prefix_role(host_role, gating.iter().map(|config| config.role));
        let (treatment, reason) = match worst {
            Some((t, reason)) => (t.clone(), reason),
            None => (Treatment::Normal, "not gated by any service"),
        };
        let attrs = match &treatment {
            _ if draining => drained_attrs(&treatment, &gating),
            Treatment::Normal => Some(RouteAttrs {
                communities: role_communities(role),
                med,
            }),
            Treatment::Secondary => Some(RouteAttrs {
                communities: role_communities(Role::Secondary),
                med: Some(med.unwrap_or(0).saturating_add(HELD_SECONDARY_MED_PENALTY)),
            }),
            Treatment::Demoted(attrs) => Some(attrs.clone()),
            Treatment::Withdrawn => None,
        };
        let verdict = AddressVerdict {
            role,
            announced: attrs.is_some(),
            communities: attrs
                .as_ref()
                .map_or_else(Vec::new, |a| a.communities.clone()),
            med: attrs.as_ref().and_then(|a| a.med),
            reason: match (draining, attrs.is_some()) {
                (true, true) => format!(
                    "draining (graceful shutdown, 65535:0), else {}: {reason}",
                    treatment.name(role)
                ),
                _ => format!("{}: {reason}", treatment.name(role)),
            },
        };
        addresses.push(AddressStatus {
            prefix: *prefix,
            verdict: verdicts.get(verdict),
        });
        if let Some(attrs) = attrs {
            routes.push((*prefix, shared.get(attrs)));
        }
    }
    Plan {
        routes: DesiredRoutes::from_iter(routes),
        addresses,
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "a test picks any origin for the time it passes in"
)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::config::default_demote;

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

    fn prefixes() -> Vec<IpNet> {
        vec![
            "203.0.113.10/32".parse().unwrap(),
            "2001:db8:100::/64".parse().unwrap(),
        ]
    }

    /// A service health driven into `state` (probes, maintenance) through its public API.
    fn health(probes: Option<bool>, maintenance: bool, held_secondary: bool) -> ServiceHealth {
        let t0 = Instant::now();
        let mut h = ServiceHealth::new(Duration::ZERO, !held_secondary);
        if held_secondary {
            h.update(t0, Some(true), false);
            h.update(t0, Some(false), false);
        }
        h.update(t0, probes, maintenance);
        h
    }

    fn service(on_down: Outcome, maintenance: Outcome) -> ServiceConfig {
        ServiceConfig {
            on_down,
            maintenance,
            ..ServiceConfig::default_service()
        }
    }

    const DEMOTED: u32 = COMMUNITY_SECONDARY;

    #[test]
    fn plan_table_role_times_health() {
        let demote = || Outcome::Demote(default_demote());
        // (role, on_down, maintenance outcome, probes, maintenance file, held, expected attrs)
        type Case = (
            Role,
            Outcome,
            Outcome,
            Option<bool>,
            bool,
            bool,
            Option<(u32, Option<u32>)>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                Role::Primary,
                Outcome::Withdraw,
                Outcome::Withdraw,
                None,
                false,
                false,
                None,
                "withdrawn: service default is waiting",
            ),
            (
                Role::Primary,
                demote(),
                demote(),
                None,
                false,
                false,
                None,
                "withdrawn: service default is waiting",
            ),
            (
                Role::Primary,
                Outcome::Withdraw,
                Outcome::Withdraw,
                Some(true),
                false,
                false,
                Some((COMMUNITY_PRIMARY, Some(7))),
                "primary: service default is up",
            ),
            (
                Role::Secondary,
                Outcome::Withdraw,
                Outcome::Withdraw,
                Some(true),
                false,
                false,
                Some((COMMUNITY_SECONDARY, Some(7))),
                "secondary: service default is up",
            ),
            (
                Role::Primary,
                Outcome::Withdraw,
                Outcome::Withdraw,
                Some(false),
                false,
                false,
                None,
                "withdrawn: service default is down",
            ),
            (
                Role::Primary,
                demote(),
                Outcome::Withdraw,
                Some(false),
                false,
                false,
                Some((DEMOTED, Some(1000))),
                "demoted: service default is down",
            ),
            (
                Role::Primary,
                Outcome::Withdraw,
                Outcome::Withdraw,
                Some(true),
                true,
                false,
                None,
                "withdrawn: service default is in maintenance",
            ),
            (
                Role::Primary,
                Outcome::Withdraw,
                demote(),
                Some(true),
                true,
                false,
                Some((DEMOTED, Some(1000))),
                "demoted: service default is in maintenance",
            ),
            // Maintenance with demote while the probes fail and on_down withdraws: withdrawn.
            (
                Role::Primary,
                Outcome::Withdraw,
                demote(),
                Some(false),
                true,
                false,
                None,
                "withdrawn: service default is in maintenance",
            ),
            // ... and while the probes still wait: withdrawn.
            (
                Role::Primary,
                Outcome::Withdraw,
                demote(),
                None,
                true,
                false,
                None,
                "withdrawn: service default is in maintenance",
            ),
            // preempt: false after a failure: up, but secondary.
            (
                Role::Primary,
                Outcome::Withdraw,
                Outcome::Withdraw,
                Some(true),
                false,
                true,
                Some((COMMUNITY_SECONDARY, Some(107))),
                "secondary: service default is up; held as secondary",
            ),
        ];
        for (i, (role, on_down, maint, probes, file, held, expected, reason)) in
            cases.into_iter().enumerate()
        {
            let config = service(on_down, maint);
            let health = health(probes, file, held);
            let plan = plan(&prefixes(), role, Some(7), &[(&config, &health)], false);
            let got = plan
                .routes
                .get(&prefixes()[0])
                .map(|a| (a.communities[0], a.med));
            assert_eq!(got, expected, "case {i}");
            assert_eq!(
                plan.routes.len(),
                if expected.is_some() { 2 } else { 0 },
                "case {i}"
            );
            let status = &plan.addresses[0];
            assert_eq!(status.announced, expected.is_some(), "case {i}");
            assert!(
                status.reason.starts_with(reason),
                "case {i}: {:?}",
                status.reason
            );
        }
    }

    #[test]
    fn each_service_gates_only_its_addresses_and_the_worst_wins() {
        let [p4, p6] = [prefixes()[0], prefixes()[1]];
        let v4_only = ServiceConfig {
            name: "v4".into(),
            addresses: Some(vec![p4]),
            ..ServiceConfig::default_service()
        };
        let everything = ServiceConfig {
            name: "all".into(),
            on_down: Outcome::Demote(default_demote()),
            ..ServiceConfig::default_service()
        };
        let up = health(Some(true), false, false);
        let down = health(Some(false), false, false);
        // v4 down (withdraw): only the IPv4 prefix goes.
        let plan_a = plan(
            &prefixes(),
            Role::Primary,
            None,
            &[(&v4_only, &down), (&everything, &up)],
            false,
        );
        assert_eq!(plan_a.routes.keys().copied().collect::<Vec<_>>(), vec![p6]);
        assert!(plan_a.addresses[0].reason.contains("service v4 is down"));
        // "all" down (demote) and v4 down (withdraw): IPv4 withdrawn (worse), IPv6 demoted.
        let plan_b = plan(
            &prefixes(),
            Role::Primary,
            None,
            &[(&v4_only, &down), (&everything, &down)],
            false,
        );
        assert_eq!(plan_b.routes.len(), 1);
        assert_eq!(plan_b.routes[&p6].med, Some(1000));
        // A prefix no service covers is announced as before.
        let plan_c = plan(
            &prefixes(),
            Role::Primary,
            None,
            &[(&v4_only, &down)],
            false,
        );
        assert_eq!(plan_c.routes[&p6].communities, vec![COMMUNITY_PRIMARY]);
        assert_eq!(
            *plan_c.addresses[1].reason,
            *"primary: not gated by any service"
        );
    }

    #[test]
    fn the_plan_changes_only_when_a_state_does() {
        let config = ServiceConfig::default_service();
        let t0 = Instant::now();
        let mut h = ServiceHealth::new(Duration::ZERO, true);
        h.update(t0, Some(true), false);
        let before = plan(&prefixes(), Role::Primary, None, &[(&config, &h)], false);
        // Same verdict again (a probe passing once more): identical plan, so no UPDATE.
        assert_eq!(h.update(t0, Some(true), false), None);
        assert_eq!(
            plan(&prefixes(), Role::Primary, None, &[(&config, &h)], false),
            before
        );
        // No services at all (flags only): everything announced as before.
        assert_eq!(
            plan(&prefixes(), Role::Primary, None, &[], false).routes,
            desired_routes(&prefixes(), Role::Primary, None)
        );
    }

    #[test]
    fn draining_adds_graceful_shutdown_to_the_demoted_attributes() {
        let up = health(Some(true), false, false);
        let withdraw = service(Outcome::Withdraw, Outcome::Withdraw);
        // No demote configured: the default demotion (65000:2, MED 1000) plus 65535:0.
        let drained = plan(
            &prefixes(),
            Role::Primary,
            Some(7),
            &[(&withdraw, &up)],
            true,
        );
        assert_eq!(drained.routes.len(), 2);
        for attrs in drained.routes.values() {
            assert_eq!(attrs.communities, [COMMUNITY_SECONDARY, GRACEFUL_SHUTDOWN]);
            assert_eq!(attrs.med, Some(1000));
        }
        assert!(
            drained.addresses[0]
                .reason
                .starts_with("draining (graceful shutdown, 65535:0), else primary"),
            "{:?}",
            drained.addresses[0].reason
        );
        assert_eq!(GRACEFUL_SHUTDOWN >> 16, 65535);
        assert_eq!(GRACEFUL_SHUTDOWN & 0xffff, 0);

        // The service's maintenance demotion is preferred over its on_down one.
        let custom = |communities: Vec<u32>, med| {
            Outcome::Demote(RouteAttrs {
                communities,
                med: Some(med),
            })
        };
        let both = service(
            custom(vec![(65000 << 16) | 9], 50),
            custom(vec![DEMOTED], 300),
        );
        let drained = plan(&prefixes(), Role::Secondary, None, &[(&both, &up)], true);
        let attrs = &drained.routes[&prefixes()[0]];
        assert_eq!(attrs.communities, [DEMOTED, GRACEFUL_SHUTDOWN]);
        assert_eq!(attrs.med, Some(300));
        let on_down_only = service(custom(vec![(65000 << 16) | 9], 50), Outcome::Withdraw);
        let drained = plan(
            &prefixes(),
            Role::Primary,
            None,
            &[(&on_down_only, &up)],
            true,
        );
        assert_eq!(drained.routes[&prefixes()[0]].med, Some(50));
    }

    #[test]
    fn draining_never_announces_what_is_withdrawn_and_keeps_a_demotion() {
        let down = health(Some(false), false, false);
        let waiting = health(None, false, false);
        let withdraw = service(Outcome::Withdraw, Outcome::Withdraw);
        assert!(
            plan(
                &prefixes(),
                Role::Primary,
                None,
                &[(&withdraw, &down)],
                true
            )
            .routes
            .is_empty()
        );
        assert!(
            plan(
                &prefixes(),
                Role::Primary,
                None,
                &[(&withdraw, &waiting)],
                true
            )
            .routes
            .is_empty()
        );
        let demote = service(
            Outcome::Demote(RouteAttrs {
                communities: vec![DEMOTED],
                med: Some(2000),
            }),
            Outcome::Withdraw,
        );
        let drained = plan(&prefixes(), Role::Primary, None, &[(&demote, &down)], true);
        let attrs = &drained.routes[&prefixes()[0]];
        assert_eq!(attrs.communities, [DEMOTED, GRACEFUL_SHUTDOWN]);
        assert_eq!(attrs.med, Some(2000));
        // Not draining: exactly the demotion, no 65535:0.
        let normal = plan(&prefixes(), Role::Primary, None, &[(&demote, &down)], false);
        assert_eq!(normal.routes[&prefixes()[0]].communities, [DEMOTED]);
        // Flags only (no services): drained with the default demotion.
        let flags_only = plan(&prefixes(), Role::Primary, None, &[], true);
        assert_eq!(
            flags_only.routes[&prefixes()[1]].communities,
            [COMMUNITY_SECONDARY, GRACEFUL_SHUTDOWN]
        );
    }

    #[test]
    fn drained_attrs_does_not_repeat_the_community() {
        let already = Treatment::Demoted(RouteAttrs {
            communities: vec![GRACEFUL_SHUTDOWN],
            med: None,
        });
        assert_eq!(
            drained_attrs(&already, &[]).unwrap().communities,
            [GRACEFUL_SHUTDOWN]
        );
        assert_eq!(drained_attrs(&Treatment::Withdrawn, &[]), None);
    }

    #[test]
    fn prefixes_with_equal_attributes_share_one_copy_of_them() {
        let many: Vec<IpNet> = (0..100u8)
            .map(|i| IpNet::from(std::net::IpAddr::from([203, 0, 113, i])))
            .collect();
        for draining in [false, true] {
            let routes = plan(&many, Role::Primary, Some(5), &[], draining).routes;
            assert_eq!(routes.len(), 100);
            let first = routes.values().next().unwrap();
            assert!(routes.values().all(|attrs| Arc::ptr_eq(attrs, first)));
        }
    }

    #[test]
    fn addresses_with_equal_reasons_share_one_copy_of_them() {
        let many: Vec<IpNet> = (0..100u8)
            .map(|i| IpNet::from(std::net::IpAddr::from([203, 0, 113, i])))
            .collect();
        let t0 = Instant::now();
        let mut down = ServiceHealth::new(Duration::ZERO, true);
        down.update(t0, Some(false), false);
        // The first half is gated by a service that is down, the rest by none.
        let half = ServiceConfig {
            addresses: Some(many[..50].to_vec()),
            ..service(Outcome::Withdraw, Outcome::Withdraw)
        };
        let addresses = plan(&many, Role::Primary, None, &[(&half, &down)], false).addresses;
        let (gated, free) = addresses.split_at(50);
        for group in [gated, free] {
            let first = &group[0];
            assert!(
                group
                    .iter()
                    .all(|a| Arc::ptr_eq(&a.verdict, &first.verdict))
            );
        }
        assert_eq!(*gated[0].reason, *"withdrawn: service default is down");
        assert!(!gated[0].announced && gated[0].communities.is_empty());
        assert_eq!(*free[0].reason, *"primary: not gated by any service");
        assert_eq!(*free[0].communities, [COMMUNITY_PRIMARY]);
    }

    /// The pair's two addresses and one no service gates.
    fn pair_prefixes() -> [IpNet; 3] {
        [
            "203.0.113.10/32".parse().unwrap(),
            "203.0.113.11/32".parse().unwrap(),
            "2001:db8:100::/64".parse().unwrap(),
        ]
    }

    /// Host A's services: primary for its own address, secondary for its peer's.
    fn site(name: &str, prefix: IpNet, role: Role, on_down: Outcome) -> ServiceConfig {
        ServiceConfig {
            name: name.into(),
            addresses: Some(vec![prefix]),
            role: Some(role),
            on_down,
            ..ServiceConfig::default_service()
        }
    }

    /// (communities, med) per prefix, `None` when withdrawn.
    fn announced(plan: &Plan, prefix: &IpNet) -> Option<(Vec<u32>, Option<u32>)> {
        plan.routes
            .get(prefix)
            .map(|a| (a.communities.clone(), a.med))
    }

    #[test]
    fn each_service_announces_its_addresses_with_its_own_role() {
        let [a, b, free] = pair_prefixes();
        let site_a = site("site-a", a, Role::Primary, Outcome::Withdraw);
        let site_b = site("site-b", b, Role::Secondary, Outcome::Withdraw);
        let up = health(Some(true), false, false);
        for host in [Role::Primary, Role::Secondary] {
            let both = plan(
                &pair_prefixes(),
                host,
                None,
                &[(&site_a, &up), (&site_b, &up)],
                false,
            );
            assert_eq!(announced(&both, &a), Some((vec![COMMUNITY_PRIMARY], None)));
            assert_eq!(
                announced(&both, &b),
                Some((vec![COMMUNITY_SECONDARY], None))
            );
            // The prefix no service gates keeps the host's role.
            assert_eq!(both.routes[&free].communities, role_communities(host));
            let roles: Vec<Role> = both.addresses.iter().map(|s| s.role).collect();
            assert_eq!(roles, [Role::Primary, Role::Secondary, host]);
            assert_eq!(*both.addresses[0].reason, *"primary: service site-a is up");
            assert_eq!(
                *both.addresses[1].reason,
                *"secondary: service site-b is up"
            );
        }
    }

    #[test]
    fn a_failed_service_withdraws_or_demotes_only_its_own_addresses_whatever_its_role() {
        let [a, b, _] = pair_prefixes();
        let up = health(Some(true), false, false);
        let down = health(Some(false), false, false);
        let demote = Outcome::Demote(default_demote());
        let site_b = site("site-b", b, Role::Secondary, Outcome::Withdraw);
        // withdraw: the primary's address goes; the peer's address keeps its secondary route.
        let site_a = site("site-a", a, Role::Primary, Outcome::Withdraw);
        let p = plan(
            &pair_prefixes(),
            Role::Primary,
            None,
            &[(&site_a, &down), (&site_b, &up)],
            false,
        );
        assert_eq!(announced(&p, &a), None);
        assert_eq!(announced(&p, &b), Some((vec![COMMUNITY_SECONDARY], None)));
        assert_eq!(p.addresses[0].role, Role::Primary);
        assert_eq!(*p.addresses[0].reason, *"withdrawn: service site-a is down");
        // demote: still announced, worse than the peer's secondary route.
        let site_a = site("site-a", a, Role::Primary, demote.clone());
        let p = plan(
            &pair_prefixes(),
            Role::Primary,
            Some(5),
            &[(&site_a, &down), (&site_b, &up)],
            false,
        );
        assert_eq!(
            announced(&p, &a),
            Some((vec![COMMUNITY_SECONDARY], Some(1000)))
        );
        assert_eq!(
            announced(&p, &b),
            Some((vec![COMMUNITY_SECONDARY], Some(5)))
        );
        // The secondary-role service failing demotes its address and leaves the primary one.
        let site_b = site("site-b", b, Role::Secondary, demote);
        let p = plan(
            &pair_prefixes(),
            Role::Secondary,
            None,
            &[(&site_a, &up), (&site_b, &down)],
            false,
        );
        assert_eq!(announced(&p, &a), Some((vec![COMMUNITY_PRIMARY], None)));
        assert_eq!(
            announced(&p, &b),
            Some((vec![COMMUNITY_SECONDARY], Some(1000)))
        );
        assert_eq!(*p.addresses[1].reason, *"demoted: service site-b is down");
    }

    #[test]
    fn preempt_false_holds_a_primary_service_at_secondary_after_its_failure() {
        let [a, b, _] = pair_prefixes();
        let site_a = ServiceConfig {
            preempt: false,
            ..site("site-a", a, Role::Primary, Outcome::Withdraw)
        };
        let site_b = site("site-b", b, Role::Secondary, Outcome::Withdraw);
        let held = health(Some(true), false, true);
        let up = health(Some(true), false, false);
        // On a secondary host too: the service's role, not the host's, is what is held.
        let p = plan(
            &pair_prefixes(),
            Role::Secondary,
            None,
            &[(&site_a, &held), (&site_b, &up)],
            false,
        );
        assert_eq!(
            announced(&p, &a),
            Some((vec![COMMUNITY_SECONDARY], Some(HELD_SECONDARY_MED_PENALTY)))
        );
        assert_eq!(announced(&p, &b), Some((vec![COMMUNITY_SECONDARY], None)));
        assert_eq!(p.addresses[0].role, Role::Primary);
        assert!(
            p.addresses[0]
                .reason
                .starts_with("secondary: service site-a is up; held as secondary"),
            "{:?}",
            p.addresses[0].reason
        );
        // Re-armed (SIGHUP): primary again.
        let p = plan(
            &pair_prefixes(),
            Role::Secondary,
            None,
            &[(&site_a, &up), (&site_b, &up)],
            false,
        );
        assert_eq!(announced(&p, &a), Some((vec![COMMUNITY_PRIMARY], None)));
    }

    #[test]
    fn maintenance_and_draining_demote_every_route_whatever_its_role() {
        let [a, b, free] = pair_prefixes();
        let up = health(Some(true), false, false);
        let site_a = site("site-a", a, Role::Primary, Outcome::Withdraw);
        let site_b = site("site-b", b, Role::Secondary, Outcome::Withdraw);
        let drained = plan(
            &pair_prefixes(),
            Role::Primary,
            None,
            &[(&site_a, &up), (&site_b, &up)],
            true,
        );
        for prefix in [a, b, free] {
            assert_eq!(
                announced(&drained, &prefix),
                Some((vec![COMMUNITY_SECONDARY, GRACEFUL_SHUTDOWN], Some(1000))),
                "{prefix}"
            );
        }
        assert!(
            drained.addresses[1].reason.starts_with(
                "draining (graceful shutdown, 65535:0), else secondary: service site-b"
            ),
            "{:?}",
            drained.addresses[1].reason
        );
        // Maintenance (withdraw) takes both the primary and the secondary address away.
        let in_maintenance = health(Some(true), true, false);
        let p = plan(
            &pair_prefixes(),
            Role::Primary,
            None,
            &[(&site_a, &in_maintenance), (&site_b, &in_maintenance)],
            false,
        );
        assert_eq!(p.routes.keys().copied().collect::<Vec<_>>(), [free]);
    }

    #[test]
    fn a_prefix_takes_its_gating_services_role_and_never_two() {
        let p = Some(Role::Primary);
        let s = Some(Role::Secondary);
        assert_eq!(prefix_role(Role::Secondary, []), Role::Secondary);
        assert_eq!(prefix_role(Role::Secondary, [None, p, None]), Role::Primary);
        assert_eq!(prefix_role(Role::Primary, [s, s]), Role::Secondary);
        assert_eq!(prefix_role(Role::Primary, [p, s]), Role::Secondary);
        // A service without a role joins the one that has one: the site's role applies.
        let [a, _, _] = pair_prefixes();
        let site_a = site("site-a", a, Role::Primary, Outcome::Withdraw);
        let shared = ServiceConfig::default_service();
        let up = health(Some(true), false, false);
        let plan_a = plan(
            &[a],
            Role::Secondary,
            None,
            &[(&shared, &up), (&site_a, &up)],
            false,
        );
        assert_eq!(plan_a.routes[&a].communities, [COMMUNITY_PRIMARY]);
        assert_eq!(
            *plan_a.addresses[0].reason,
            *"primary: service default is up"
        );
    }
}
