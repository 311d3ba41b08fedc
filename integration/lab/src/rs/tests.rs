//! The parsers against real output, captured in the lab (FRR 8.4.4, BIRD 2.0.12, GoBGP 3.10 on
//! Debian 12; host a = 2001:db8:ff:1::2 `-primary`, host b = 2001:db8:ff:2::2 `-secondary -med 7`).

use super::*;

const A: &str = "2001:db8:ff:1::2";
const B: &str = "2001:db8:ff:2::2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn route(prefix: &str, from: &str, community: u16, local_pref: u32, med: Option<u32>) -> RouteView {
    RouteView {
        prefix: prefix.to_string(),
        from: Some(ip(from)),
        next_hop: Some(ip(from)),
        origin: Some(Origin::Incomplete),
        as_path: vec![65001],
        communities: vec![Community(65000, community)],
        local_pref: Some(local_pref),
        med,
    }
}

fn by_source(mut routes: Vec<RouteView>) -> Vec<RouteView> {
    routes.sort_by_key(|r| r.next_hop);
    routes
}

/// What `RouteServer` calls for one kind of route server, and the lab output captured from it.
struct Case {
    kind: RsKind,
    /// `show … route` for 203.0.113.10/32 and 2001:db8:100::/64, both hosts announcing.
    routes_v4: &'static str,
    routes_v6: &'static str,
    routes: fn(prefix: &str, text: &str) -> Result<Vec<RouteView>, String>,
    /// What the CLI prints for a prefix it does not have.
    no_route: &'static str,
    /// The sessions with both hosts, established.
    neighbors: &'static str,
    sessions: fn(text: &str) -> Result<Vec<SessionView>, String>,
    /// The route server's log after host a stopped with a Cease.
    cease_log: &'static str,
    logged_cease: fn(log: &str, neighbors: &str, neighbor: IpAddr) -> bool,
}

fn cases() -> [Case; 3] {
    [
        Case {
            kind: RsKind::Frr,
            routes_v4: include_str!("../../testdata/frr-route-v4.json"),
            routes_v6: include_str!("../../testdata/frr-route-v6.json"),
            routes: frr::parse_routes,
            no_route: "{}",
            neighbors: include_str!("../../testdata/frr-neighbors.json"),
            sessions: frr::parse_sessions,
            cease_log: include_str!("../../testdata/frr-cease.log"),
            logged_cease: |log, _, neighbor| frr::logged_cease(log, &neighbor.to_string()),
        },
        Case {
            kind: RsKind::Bird,
            routes_v4: include_str!("../../testdata/bird-route-v4.txt"),
            routes_v6: include_str!("../../testdata/bird-route-v6.txt"),
            // BIRD names the protocol, not the neighbor; the next hop identifies the host.
            routes: |_, text| {
                Ok(bird::parse_routes(text)
                    .into_iter()
                    .map(|r| RouteView {
                        from: r.next_hop,
                        ..r
                    })
                    .collect())
            },
            no_route: "",
            neighbors: include_str!("../../testdata/bird-neighbors.txt"),
            sessions: |text| Ok(bird::parse_sessions(text)),
            cease_log: include_str!("../../testdata/bird-cease.log"),
            logged_cease: |log, neighbors, neighbor| {
                bird::logged_cease(log, &bird::protocols_of(neighbors, neighbor))
            },
        },
        Case {
            kind: RsKind::Gobgp,
            routes_v4: include_str!("../../testdata/gobgp-route-v4.json"),
            routes_v6: include_str!("../../testdata/gobgp-route-v6.json"),
            routes: gobgp::parse_routes,
            no_route: "null",
            neighbors: include_str!("../../testdata/gobgp-neighbors.json"),
            sessions: gobgp::parse_sessions,
            cease_log: include_str!("../../testdata/gobgp-cease.log"),
            logged_cease: |log, _, neighbor| gobgp::logged_cease(log, &neighbor.to_string()),
        },
    ]
}

#[test]
fn each_route_servers_output_parses_into_the_same_views() {
    for case in cases() {
        let kind = case.kind;
        for (text, prefix) in [
            (case.routes_v4, "203.0.113.10/32"),
            (case.routes_v6, "2001:db8:100::/64"),
        ] {
            let routes = by_source((case.routes)(prefix, text).unwrap());
            assert_eq!(
                routes,
                vec![
                    route(prefix, A, 1, 200, None),
                    route(prefix, B, 2, 100, Some(7))
                ],
                "{kind:?}"
            );
        }
        assert_eq!(
            (case.routes)("203.0.113.11/32", case.no_route),
            Ok(vec![]),
            "{kind:?}"
        );
        let sessions = (case.sessions)(case.neighbors).unwrap();
        let mut seen: Vec<(IpAddr, bool)> = sessions
            .iter()
            .map(|s| (s.neighbor, s.established))
            .collect();
        seen.sort();
        assert_eq!(seen, [(ip(A), true), (ip(B), true)], "{kind:?}");
    }
}

#[test]
fn each_route_servers_log_shows_the_cease_from_the_host_that_sent_it() {
    for case in cases() {
        let kind = case.kind;
        assert!(
            (case.logged_cease)(case.cease_log, case.neighbors, ip(A)),
            "{kind:?}"
        );
        assert!(
            !(case.logged_cease)(case.cease_log, case.neighbors, ip(B)),
            "{kind:?}"
        );
    }
}

#[test]
fn the_md5_password_line_is_filled_in_or_left_out() {
    for template in [frr::BGPD_CONF, bird::CONF] {
        let vars = |password: Option<&str>| {
            let mut vars: Vec<(&str, String)> = [
                "HOSTNAME",
                "LOG_FILE",
                "ROUTER_ID",
                "HOST_RANGE",
                "LISTEN_ADDRESS",
                "KERNEL_DISABLED",
            ]
            .iter()
            .map(|k| (*k, "x".to_string()))
            .collect();
            if let Some(p) = password {
                vars.push((MD5_PASSWORD, p.to_string()));
            }
            vars
        };
        let with = render(template, &vars(Some("pw-1"))).unwrap();
        assert!(with.lines().any(|l| !l.trim_start().starts_with(['!', '#'])
            && l.contains("password")
            && l.contains("pw-1")));
        let without = render(template, &vars(None)).unwrap();
        assert!(
            !without
                .lines()
                .any(|l| !l.trim_start().starts_with(['!', '#']) && l.contains("password")),
            "{without}"
        );
        // Only the lines naming the password go.
        assert_eq!(
            without.lines().collect::<Vec<_>>(),
            with.lines()
                .filter(|l| !l.contains("pw-1"))
                .collect::<Vec<_>>()
        );
    }
}
