//! Two hosts, client traffic: the router forwards to the primary while it announces, to the
//! secondary once the primary's daemon stops (FRR route server with zebra, Linode's policy).

use std::time::Duration;

use nix::sys::signal::Signal;

use elastic_lab::{Lab, LabSpec, RsKind, wait_until};

use super::common::{SLOTS, main_answerer, or_panic, wait_no_route_from, wait_route_from};

#[test]
fn frr_traffic_moves_to_secondary_when_primary_stops() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(2).with_client());
    let a = lab.start_daemon(1, &["-primary"]);
    lab.start_daemon(2, &["-secondary"]);
    lab.start_responder(1);
    lab.start_responder(2);
    let (host_a, host_b) = (lab.host(1).session_address(), lab.host(2).session_address());
    for slot in SLOTS {
        let ra = wait_route_from(
            &lab,
            slot,
            "203.0.113.10/32",
            host_a,
            Duration::from_secs(60),
        );
        let rb = wait_route_from(
            &lab,
            slot,
            "203.0.113.10/32",
            host_b,
            Duration::from_secs(60),
        );
        assert_eq!(ra.local_pref, Some(200), "policy: primary gets 200: {ra:?}");
        assert_eq!(
            rb.local_pref,
            Some(100),
            "policy: secondary gets 100: {rb:?}"
        );
    }
    let first = wait_until(
        "the client's traffic to be answered",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || main_answerer(&lab),
    );
    assert_eq!(
        or_panic(&lab, first),
        "a",
        "the primary answers first\n{}",
        lab.diagnostics()
    );

    lab.signal(a, Signal::SIGTERM);
    let r = lab.wait_exit(a, Duration::from_secs(15));
    or_panic(&lab, r);
    wait_no_route_from(&lab, 1, "203.0.113.10/32", host_a, Duration::from_secs(30));
    let moved = wait_until(
        "the client's traffic to be answered by b",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || main_answerer(&lab).filter(|w| w == "b"),
    );
    or_panic(&lab, moved);
}
