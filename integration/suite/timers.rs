//! Tunable BGP timers against a real route server: the hold time elastic proposes is the one the
//! route server runs the session with, elastic's keepalives keep that short session up, and a
//! frozen host is dropped by that short hold timer.

use std::fs;
use std::time::{Duration, Instant};

use elastic_lab::{Lab, LabSpec, RsKind, SessionView, VIP4, wait_until};

use super::common::{
    SLOTS, or_panic, route_server_log_about, wait_established, wait_no_route_from, wait_route_from,
};

const LONG: Duration = Duration::from_secs(60);

/// The route server's view of its session with the lab's first host.
fn session(lab: &Lab, slot: u8) -> Option<SessionView> {
    let host = lab.host(1).session_address();
    lab.sessions(slot)
        .ok()?
        .into_iter()
        .find(|s| s.neighbor == host)
}

#[test]
fn frr_runs_the_session_with_a_3s_hold_time_and_our_keepalives_keep_it_up() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let config = lab.dir.join("timers.yaml");
    fs::write(&config, "hold_time: 3s\n").expect("write the config");
    let daemon = lab.start_daemon(1, &["-primary", "-config", config.to_str().unwrap()]);
    let host = lab.host(1).session_address();
    for slot in SLOTS {
        wait_established(&lab, slot, host, LONG);
        // FRR's own hold time is longer: the smaller one, ours, is the session's.
        let negotiated = wait_until(
            &format!("route server {slot} to report the negotiated hold time"),
            Duration::from_secs(10),
            Duration::from_millis(200),
            || session(&lab, slot)?.hold_time_ms,
        );
        assert_eq!(or_panic(&lab, negotiated), 3000, "route server {slot}");
    }
    let keepalives_before: Vec<u64> = SLOTS
        .iter()
        .map(|&slot| {
            session(&lab, slot)
                .and_then(|s| s.keepalives_received)
                .unwrap_or(0)
        })
        .collect();

    // Four hold times: without a keepalive at least every 3 s, FRR would drop each session.
    let watch_until = Instant::now() + Duration::from_secs(12);
    while Instant::now() < watch_until {
        for slot in SLOTS {
            let view = session(&lab, slot);
            assert!(
                view.as_ref().is_some_and(|s| s.established),
                "route server {slot} lost the 3 s session: {view:?}\n{}",
                lab.diagnostics()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for (index, &slot) in SLOTS.iter().enumerate() {
        let view = session(&lab, slot).expect("the session");
        let received = view.keepalives_received.unwrap_or(0) - keepalives_before[index];
        // A keepalive every second (a third of 3 s): far more than the four a 3 s hold needs.
        assert!(
            received >= 4,
            "route server {slot}: {received} keepalives in 12 s\n{}",
            lab.diagnostics()
        );
        assert_eq!(view.hold_time_ms, Some(3000), "route server {slot}");
    }
    // And the daemon never saw a session go down.
    let log = lab.log(daemon);
    let peer_flapped = log
        .lines()
        .any(|l| l.contains("session state changed") && l.contains("from=Established"));
    assert!(!peer_flapped, "a session left Established:\n{log}");
}

/// The cause and the order, not a time (the benchmark measures it): with `hold_time: 3s`, the
/// route server runs A's session with a 3 s hold time; when host A freezes (its processes stopped,
/// what it sends dropped, its link up) the route server drops A for hold-timer expiry, not for
/// anything A sent, and B's route is the one left.
#[test]
fn a_frozen_primary_with_a_3s_hold_time_is_dropped_by_the_route_servers_hold_timer() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(2));
    let config = lab.dir.join("hold3.yaml");
    fs::write(&config, "hold_time: 3s\n").expect("write the config");
    lab.start_daemon(1, &["-primary", "-config", config.to_str().unwrap()]);
    lab.start_daemon(2, &["-secondary"]);
    let (host_a, host_b) = (lab.host(1).session_address(), lab.host(2).session_address());
    let prefix = format!("{VIP4}/32");
    wait_route_from(&lab, 1, &prefix, host_a, LONG);
    wait_route_from(&lab, 1, &prefix, host_b, LONG);
    let negotiated = wait_until(
        "route server 1 to report A's negotiated hold time",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || session(&lab, 1)?.hold_time_ms,
    );
    assert_eq!(or_panic(&lab, negotiated), 3000);

    let frozen = or_panic(&lab, lab.freeze_host(1));
    wait_no_route_from(&lab, 1, &prefix, host_a, LONG);
    wait_route_from(&lab, 1, &prefix, host_b, Duration::from_secs(5));
    let about_a = route_server_log_about(&lab, 1, host_a);
    assert!(
        about_a.iter().any(|l| l.contains("Hold Timer Expired")),
        "bgpd did not drop A for hold-timer expiry:\n{}",
        about_a.join("\n")
    );
    assert!(
        !about_a
            .iter()
            .any(|l| l.contains("received from neighbor") && l.contains("NOTIFICATION")),
        "A (frozen) sent a NOTIFICATION:\n{}",
        about_a.join("\n")
    );
    or_panic(&lab, frozen.thaw());
}
