//! Stopping the daemon and restarting a route server.

use std::time::Duration;

use nix::sys::signal::Signal;

use elastic_lab::{Lab, LabSpec, RsKind};

use super::common::{SLOTS, or_panic, wait_established, wait_no_route_from, wait_route_from};

/// SIGTERM (or SIGINT): a Cease to every route server, the routes disappear, exit status 0.
fn stop_signal_withdraws_with_a_cease(kind: RsKind, stop: Signal) {
    let mut lab = Lab::new(LabSpec::new(kind));
    let daemon = lab.start_daemon(1, &["-primary"]);
    let host = lab.host(1).session_address();
    for slot in SLOTS {
        wait_route_from(&lab, slot, "203.0.113.10/32", host, Duration::from_secs(60));
        wait_route_from(
            &lab,
            slot,
            "2001:db8:100::/64",
            host,
            Duration::from_secs(30),
        );
    }

    lab.signal(daemon, stop);
    let r = lab.wait_exit(daemon, Duration::from_secs(15));
    let status = or_panic(&lab, r);
    assert!(
        status.success(),
        "daemon exit status after {stop}: {status}\n{}",
        lab.diagnostics()
    );
    for slot in SLOTS {
        wait_no_route_from(&lab, slot, "203.0.113.10/32", host, Duration::from_secs(30));
        wait_no_route_from(
            &lab,
            slot,
            "2001:db8:100::/64",
            host,
            Duration::from_secs(30),
        );
        let logged = super::common::or_panic(
            &lab,
            elastic_lab::wait_until(
                &format!("route server {slot} to log a Cease from {host}"),
                Duration::from_secs(10),
                Duration::from_millis(200),
                || lab.logged_cease_from(slot, host).ok().filter(|&b| b),
            ),
        );
        assert!(logged);
    }
}

#[test]
fn frr_sigterm_withdraws_with_a_cease() {
    stop_signal_withdraws_with_a_cease(RsKind::Frr, Signal::SIGTERM);
}

#[test]
fn frr_sigint_withdraws_with_a_cease() {
    stop_signal_withdraws_with_a_cease(RsKind::Frr, Signal::SIGINT);
}

#[test]
fn bird_sigterm_withdraws_with_a_cease() {
    stop_signal_withdraws_with_a_cease(RsKind::Bird, Signal::SIGTERM);
}

#[test]
fn gobgp_sigterm_withdraws_with_a_cease() {
    stop_signal_withdraws_with_a_cease(RsKind::Gobgp, Signal::SIGTERM);
}

/// The route server on ::1 goes away and comes back: the session and the routes come back; the
/// other route servers keep theirs throughout.
fn restarted_route_server_gets_session_and_routes_back(kind: RsKind) {
    let mut lab = Lab::new(LabSpec::new(kind));
    let daemon = lab.start_daemon(1, &["-primary"]);
    let host = lab.host(1).session_address();
    for slot in SLOTS {
        wait_route_from(&lab, slot, "203.0.113.10/32", host, Duration::from_secs(60));
    }

    let r = lab.stop_route_server(1);
    or_panic(&lab, r);
    // Long enough for the daemon to notice and fail at least one reconnect.
    std::thread::sleep(Duration::from_secs(2));
    let r = lab.start_route_server(1);
    or_panic(&lab, r);

    wait_established(&lab, 1, host, Duration::from_secs(90));
    wait_route_from(&lab, 1, "203.0.113.10/32", host, Duration::from_secs(30));
    wait_route_from(&lab, 1, "2001:db8:100::/64", host, Duration::from_secs(30));
    for slot in [2, 3, 4] {
        assert!(
            lab.established(slot, host),
            "session {slot} must stay up\n{}",
            lab.diagnostics()
        );
        wait_route_from(&lab, slot, "203.0.113.10/32", host, Duration::from_secs(5));
    }
    assert!(
        lab.exit_status(daemon).is_none(),
        "daemon died\n{}",
        lab.diagnostics()
    );
}

#[test]
fn frr_restarted_route_server_gets_session_and_routes_back() {
    restarted_route_server_gets_session_and_routes_back(RsKind::Frr);
}

#[test]
fn bird_restarted_route_server_gets_session_and_routes_back() {
    restarted_route_server_gets_session_and_routes_back(RsKind::Bird);
}

#[test]
fn gobgp_restarted_route_server_gets_session_and_routes_back() {
    restarted_route_server_gets_session_and_routes_back(RsKind::Gobgp);
}
