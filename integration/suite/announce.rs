//! Sessions and announcements: what the route servers see from a running daemon.

use std::net::IpAddr;
use std::time::Duration;

use elastic_lab::{Community, Lab, LabSpec, Origin, RsKind, VIP4, wait_until};

const SLOTS: [u8; 4] = [1, 2, 3, 4];

/// Every route server gets an Established session from the host and both routes with lelastic's
/// attributes.
fn announces_to_every_route_server(kind: RsKind, role: &str, send56: bool) {
    let mut lab = Lab::new(LabSpec::new(kind));
    let mut args = vec![role];
    if send56 {
        args.push("-send56");
    }
    lab.start_daemon(1, &args);
    let host: IpAddr = lab.host(1).session_address();
    let community = if role == "-primary" {
        Community(65000, 1)
    } else {
        Community(65000, 2)
    };
    let v6 = if send56 {
        "2001:db8:100::/56"
    } else {
        "2001:db8:100::/64"
    };
    let v4 = format!("{VIP4}/32");
    for slot in SLOTS {
        wait_until(
            &format!("session with route server {slot}"),
            Duration::from_secs(60),
            Duration::from_millis(200),
            || lab.established(slot, host).then_some(()),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", lab.diagnostics()));
        for prefix in [v4.as_str(), v6] {
            let routes = wait_until(
                &format!("{prefix} at route server {slot}"),
                Duration::from_secs(30),
                Duration::from_millis(200),
                || lab.routes(slot, prefix).ok().filter(|r| !r.is_empty()),
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", lab.diagnostics()));
            assert_eq!(
                routes.len(),
                1,
                "one path for {prefix} at {slot}: {routes:?}"
            );
            let r = &routes[0];
            assert_eq!(r.communities, vec![community], "{prefix} at {slot}: {r:?}");
            assert_eq!(
                r.origin,
                Some(Origin::Incomplete),
                "{prefix} at {slot}: {r:?}"
            );
            assert_eq!(r.as_path, vec![65001], "{prefix} at {slot}: {r:?}");
            assert_eq!(r.next_hop, Some(host), "{prefix} at {slot}: {r:?}");
        }
        let other = if send56 {
            "2001:db8:100::/64"
        } else {
            "2001:db8:100::/56"
        };
        assert!(
            lab.routes(slot, other).unwrap().is_empty(),
            "{other} must not be announced"
        );
    }
}

#[test]
fn frr_sees_primary_routes_with_lelastic_attributes() {
    announces_to_every_route_server(RsKind::Frr, "-primary", false);
}

#[test]
fn frr_sees_secondary_routes_and_a_56_with_send56() {
    announces_to_every_route_server(RsKind::Frr, "-secondary", true);
}

#[test]
fn bird_sees_primary_routes_with_lelastic_attributes() {
    announces_to_every_route_server(RsKind::Bird, "-primary", false);
}

#[test]
fn bird_sees_secondary_routes_and_a_56_with_send56() {
    announces_to_every_route_server(RsKind::Bird, "-secondary", true);
}

#[test]
fn gobgp_sees_primary_routes_with_lelastic_attributes() {
    announces_to_every_route_server(RsKind::Gobgp, "-primary", false);
}

#[test]
fn gobgp_sees_secondary_routes_and_a_56_with_send56() {
    announces_to_every_route_server(RsKind::Gobgp, "-secondary", true);
}

/// `-address` binds the addresses to `lo` itself (the lab puts none there) and announces them.
#[test]
fn frr_sees_addresses_the_daemon_bound_itself() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).without_vips());
    let lo_before = lab.host(1).ns.ip(&["addr", "show", "dev", "lo"]).unwrap();
    assert!(
        !lo_before.contains(VIP4),
        "the lab must not have put the VIP on lo: {lo_before}"
    );
    lab.start_daemon(
        1,
        &[
            "-primary",
            "-address",
            "203.0.113.10/32",
            "-address",
            "2001:db8:100::1/64",
        ],
    );
    let host = lab.host(1).session_address();
    for slot in SLOTS {
        for prefix in ["203.0.113.10/32", "2001:db8:100::/64"] {
            let r =
                super::common::wait_route_from(&lab, slot, prefix, host, Duration::from_secs(60));
            assert_eq!(r.communities, vec![Community(65000, 1)], "{r:?}");
        }
    }
    let lo = lab.host(1).ns.ip(&["addr", "show", "dev", "lo"]).unwrap();
    assert!(
        lo.contains("203.0.113.10/32") && lo.contains("2001:db8:100::1/64"),
        "lo: {lo}"
    );
}
