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

#[test]
fn frr_routes_and_sessions_parse() {
    for (file, prefix) in [
        (
            include_str!("../../testdata/frr-route-v4.json"),
            "203.0.113.10/32",
        ),
        (
            include_str!("../../testdata/frr-route-v6.json"),
            "2001:db8:100::/64",
        ),
    ] {
        let routes = by_source(parse_frr_routes(prefix, file).unwrap());
        assert_eq!(
            routes,
            vec![
                route(prefix, A, 1, 200, None),
                route(prefix, B, 2, 100, Some(7))
            ]
        );
    }
    assert!(
        parse_frr_routes("203.0.113.11/32", "{}")
            .unwrap()
            .is_empty()
    );
    let sessions = parse_frr_sessions(include_str!("../../testdata/frr-neighbors.json")).unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.established), "{sessions:?}");
}

#[test]
fn bird_routes_and_sessions_parse() {
    for (file, prefix) in [
        (
            include_str!("../../testdata/bird-route-v4.txt"),
            "203.0.113.10/32",
        ),
        (
            include_str!("../../testdata/bird-route-v6.txt"),
            "2001:db8:100::/64",
        ),
    ] {
        let routes: Vec<RouteView> = parse_bird_routes(file)
            .into_iter()
            // BIRD names the protocol, not the neighbor; the next hop identifies the host.
            .map(|mut r| {
                r.from = r.next_hop;
                r
            })
            .collect();
        assert_eq!(
            by_source(routes),
            vec![
                route(prefix, A, 1, 200, None),
                route(prefix, B, 2, 100, Some(7))
            ]
        );
    }
    let text = include_str!("../../testdata/bird-neighbors.txt");
    let sessions = parse_bird_sessions(text);
    assert_eq!(
        sessions
            .iter()
            .map(|s| (s.neighbor, s.established))
            .collect::<Vec<_>>(),
        vec![(ip(A), true), (ip(B), true)]
    );
    assert_eq!(bird_protocols_of(text, ip(B)), vec!["host2".to_string()]);
}

#[test]
fn gobgp_routes_and_sessions_parse() {
    for (file, prefix) in [
        (
            include_str!("../../testdata/gobgp-route-v4.json"),
            "203.0.113.10/32",
        ),
        (
            include_str!("../../testdata/gobgp-route-v6.json"),
            "2001:db8:100::/64",
        ),
    ] {
        let routes = by_source(parse_gobgp_routes(prefix, file).unwrap());
        assert_eq!(
            routes,
            vec![
                route(prefix, A, 1, 200, None),
                route(prefix, B, 2, 100, Some(7))
            ]
        );
    }
    assert!(
        parse_gobgp_routes("203.0.113.11/32", "null")
            .unwrap()
            .is_empty()
    );
    let sessions =
        parse_gobgp_sessions(include_str!("../../testdata/gobgp-neighbors.json")).unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.established), "{sessions:?}");
}

#[test]
fn the_md5_password_line_is_filled_in_or_left_out() {
    for template in [FRR_BGPD_CONF, BIRD_CONF] {
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

#[test]
fn cease_lines_are_recognised_in_each_log() {
    let frr = include_str!("../../testdata/frr-cease.log");
    assert!(
        frr.lines()
            .any(|l| l.contains("received from neighbor") && l.contains(A) && l.contains("Cease"))
    );
    assert!(
        !frr.lines()
            .any(|l| l.contains("received from neighbor") && l.contains(B))
    );
    let bird = include_str!("../../testdata/bird-cease.log");
    assert!(
        bird.lines()
            .any(|l| l.contains("host1:") && BIRD_CEASE_TEXTS.iter().any(|t| l.contains(t)))
    );
    let gobgp = include_str!("../../testdata/gobgp-cease.log");
    assert!(
        gobgp
            .lines()
            .any(|l| l.contains(A) && l.contains("notification-received code 6"))
    );
}
