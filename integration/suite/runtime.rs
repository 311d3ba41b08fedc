//! Addresses added to or removed from `lo` while the daemon runs.

use std::time::Duration;

use elastic_lab::{Lab, LabSpec, RsKind};

use super::common::{SLOTS, or_panic, wait_no_route_from, wait_route_from};

fn address_added_at_run_time_is_announced_and_withdrawn(kind: RsKind) {
    let mut lab = Lab::new(LabSpec::new(kind));
    lab.start_daemon(1, &["-primary"]);
    let host = lab.host(1).session_address();
    for slot in SLOTS {
        wait_route_from(&lab, slot, "203.0.113.10/32", host, Duration::from_secs(60));
    }
    let added = "203.0.113.11/32";
    assert!(
        lab.routes(1, added).unwrap().is_empty(),
        "{added} must not be there before it is on lo"
    );

    or_panic(
        &lab,
        lab.host(1).ns.ip(&["addr", "add", added, "dev", "lo"]),
    );
    for slot in SLOTS {
        let r = wait_route_from(&lab, slot, added, host, Duration::from_secs(30));
        assert_eq!(r.as_path, vec![65001], "{r:?}");
    }

    or_panic(
        &lab,
        lab.host(1).ns.ip(&["addr", "del", added, "dev", "lo"]),
    );
    for slot in SLOTS {
        wait_no_route_from(&lab, slot, added, host, Duration::from_secs(30));
        // The VIP that stayed on lo stays announced.
        wait_route_from(&lab, slot, "203.0.113.10/32", host, Duration::from_secs(5));
    }
}

#[test]
fn frr_address_added_at_run_time_is_announced_and_withdrawn() {
    address_added_at_run_time_is_announced_and_withdrawn(RsKind::Frr);
}

#[test]
fn bird_address_added_at_run_time_is_announced_and_withdrawn() {
    address_added_at_run_time_is_announced_and_withdrawn(RsKind::Bird);
}

#[test]
fn gobgp_address_added_at_run_time_is_announced_and_withdrawn() {
    address_added_at_run_time_is_announced_and_withdrawn(RsKind::Gobgp);
}
