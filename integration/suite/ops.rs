//! Operating the daemon: a planned stop drains with GRACEFUL_SHUTDOWN (RFC 8326) before it
//! withdraws, SIGHUP reloads the config file as a difference, and `elastic drain` / `undrain` /
//! `maintenance on|off` work through the control socket. FRR route servers (Linode's policy plus
//! 65535:0 → local-preference 0), two hosts and a client whose traffic the router forwards along
//! the best path. Zero lost requests is asserted (behaviour); timings are only printed.

use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{self, Signal};

use elastic_lab::{Community, Lab, LabSpec, ProbeReport, RsKind, daemon_binary, wait_until};

use super::common::{
    SLOTS, or_panic, wait_answerer, wait_established, wait_log, wait_no_route_from,
    wait_route_from, wait_route_where,
};

const PREFIX: &str = "203.0.113.10/32";
const LONG: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);
const GSHUT: Community = Community(65535, 0);

fn write_config(lab: &Lab, name: &str, text: &str) -> PathBuf {
    let path = lab.dir.join(name);
    fs::write(&path, text).expect("write the config");
    path
}

/// How often the daemon logged that its session with `peer` reached Established.
fn established_count(log: &str, peer: IpAddr) -> usize {
    let peer = format!("peer={peer}");
    log.lines()
        .filter(|l| {
            l.contains("session state changed") && l.contains(&peer) && l.contains("to=Established")
        })
        .count()
}

/// `elastic ARGS…` from the test's own namespace (the control socket is a file): exit code,
/// stdout and stderr.
fn elastic(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(daemon_binary())
        .args(args)
        .output()
        .expect("run elastic");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `elastic ARGS…` one second into a client run of `duration`; the client's report.
fn during_traffic(lab: &Lab, duration: Duration, args: &[&str]) -> ProbeReport {
    let (report, (code, out, err)) = std::thread::scope(|scope| {
        let client = scope.spawn(|| lab.probe(duration));
        std::thread::sleep(Duration::from_secs(1));
        let answer = elastic(args);
        (client.join().expect("client thread"), answer)
    });
    assert_eq!(
        code,
        0,
        "elastic {}: {out}{err}\n{}",
        args.join(" "),
        lab.diagnostics()
    );
    or_panic(lab, report)
}

/// `elastic status --json` against host 1's API.
fn status_json(lab: &Lab) -> serde_json::Value {
    let out = or_panic(
        lab,
        lab.host(1).ns.exec(&daemon_binary(), &["status", "--json"]),
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json: {e}: {out}"))
}

/// Two hosts announcing, the primary answering; `a_config` is a's config file text.
fn two_hosts(a_config: &str) -> (Lab, elastic_lab::ProcId, PathBuf) {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(2).with_client());
    let config = write_config(&lab, "a.yaml", a_config);
    let a = lab.start_daemon(1, &["-primary", "-config", &config.to_string_lossy()]);
    lab.start_daemon(2, &["-secondary"]);
    lab.start_responder(1);
    lab.start_responder(2);
    let (host_a, host_b) = (lab.host(1).session_address(), lab.host(2).session_address());
    for slot in SLOTS {
        wait_route_from(&lab, slot, PREFIX, host_a, LONG);
        wait_route_from(&lab, slot, PREFIX, host_b, LONG);
    }
    wait_answerer(&lab, "a");
    (lab, a, config)
}

#[test]
fn a_planned_stop_of_the_primary_drains_with_graceful_shutdown_and_loses_no_request() {
    let (mut lab, a, _) = two_hosts("drain_time: 5s\n");
    let host_a = lab.host(1).session_address();
    let pid = lab.pid(a);

    // The client sends every 10 ms for 10 s; SIGTERM to a after 1 s.
    let (report, drained) = std::thread::scope(|scope| {
        let client = scope.spawn(|| lab.probe(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_secs(1));
        signal::kill(pid, Signal::SIGTERM).expect("SIGTERM to a's daemon");
        // During the drain the route server holds a's path with 65535:0, at local-pref 0.
        let drained = wait_until(
            "a's path with GRACEFUL_SHUTDOWN during the drain",
            Duration::from_secs(4),
            Duration::from_millis(50),
            || {
                lab.routes(1, PREFIX)
                    .ok()?
                    .into_iter()
                    .find(|r| r.from == Some(host_a) && r.communities.contains(&GSHUT))
            },
        );
        (client.join().expect("client thread"), drained)
    });
    let drained = or_panic(&lab, drained);
    let report = or_panic(&lab, report);
    assert_eq!(
        drained.communities,
        [Community(65000, 2), GSHUT],
        "demoted and GRACEFUL_SHUTDOWN: {drained:?}"
    );
    assert_eq!(drained.local_pref, Some(0), "RFC 8326 policy: {drained:?}");
    assert_eq!(drained.med, Some(1000), "{drained:?}");
    assert_eq!(
        report.lost,
        0,
        "requests lost during the planned stop: {report}\n{}",
        lab.diagnostics()
    );
    eprintln!("planned stop: {report}");

    let exited = lab.wait_exit(a, Duration::from_secs(20));
    let status = or_panic(&lab, exited);
    assert!(status.success(), "exit status {status}\n{}", lab.log(a));
    for slot in SLOTS {
        wait_no_route_from(&lab, slot, PREFIX, host_a, Duration::from_secs(10));
        let logged = wait_until(
            &format!("route server {slot} to log a Cease from a"),
            Duration::from_secs(10),
            POLL,
            || lab.logged_cease_from(slot, host_a).ok().filter(|&b| b),
        );
        or_panic(&lab, logged);
    }
    let log = lab.log(a);
    let order: Vec<usize> = [
        "GRACEFUL_SHUTDOWN 65535:0",
        "drain time over",
        "withdrawing every route",
        "sending Cease (administrative shutdown)",
        "stopped",
    ]
    .iter()
    .map(|needle| {
        log.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in a's log:\n{log}"))
    })
    .collect();
    assert!(order.is_sorted(), "steps out of order: {order:?}\n{log}");
    // RFC 9003: the Cease carries the shutdown message.
    let rs_log = fs::read_to_string(lab.route_server(1).log_file.as_ref().unwrap()).unwrap();
    assert!(
        rs_log.contains("elastic stopping (SIGTERM)"),
        "route server 1 did not log the shutdown message\n{}",
        lab.diagnostics()
    );
    wait_answerer(&lab, "b");
}

#[test]
fn a_second_signal_skips_the_drain() {
    let (mut lab, a, _) = two_hosts("drain_time: 60s\n");
    let host_a = lab.host(1).session_address();
    lab.signal(a, Signal::SIGTERM);
    wait_route_where(&lab, 1, PREFIX, host_a, "with 65535:0", |r| {
        r.communities.contains(&GSHUT)
    });
    lab.signal(a, Signal::SIGINT);
    // Far sooner than the 60 s drain.
    let exited = lab.wait_exit(a, Duration::from_secs(15));
    let status = or_panic(&lab, exited);
    assert!(status.success(), "{status}\n{}", lab.log(a));
    assert!(
        lab.log(a)
            .contains("second signal: skipping the rest of the drain")
    );
    wait_no_route_from(&lab, 1, PREFIX, host_a, Duration::from_secs(10));
}

#[test]
fn sighup_applies_a_changed_file_as_a_difference_and_ignores_an_invalid_one() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    let rs = |slot: u8| elastic_lab::rs_address(slot);
    let config = write_config(
        &lab,
        "reload.yaml",
        "role: primary\nmed: 10\nneighbor_slots: [1, 2, 3]\n",
    );
    // No role flag: the file's role applies, so a reload can change it.
    let daemon = lab.start_daemon(1, &["-config", &config.to_string_lossy()]);
    for slot in [1, 2, 3] {
        wait_route_where(&lab, slot, PREFIX, host, "65000:1, MED 10", |r| {
            r.communities == [Community(65000, 1)] && r.med == Some(10)
        });
    }
    assert!(!lab.established(4, host), "slot 4 is not configured");
    let sighup = |lab: &mut Lab| lab.signal(daemon, Signal::SIGHUP);

    // Role and MED change: re-announced on the same sessions.
    fs::write(
        &config,
        "role: secondary\nmed: 20\nneighbor_slots: [1, 2, 3]\n",
    )
    .unwrap();
    sighup(&mut lab);
    for slot in [1, 2, 3] {
        let route = wait_route_where(&lab, slot, PREFIX, host, "65000:2, MED 20", |r| {
            r.communities == [Community(65000, 2)] && r.med == Some(20)
        });
        assert_eq!(route.local_pref, Some(100), "{route:?}");
    }
    let log = lab.log(daemon);
    for slot in [1, 2, 3] {
        assert_eq!(
            established_count(&log, rs(slot)),
            1,
            "session {slot} flapped on reload\n{log}"
        );
    }

    // An invalid file: reported with file:line:column, nothing changes.
    fs::write(
        &config,
        "role: primary\nmed: 30\nneighbor_slots: [1, 2, 3]\nbogus: 1\n",
    )
    .unwrap();
    sighup(&mut lab);
    wait_log(
        &lab,
        daemon,
        &format!("{}:4:1: unknown field `bogus`", config.display()),
    );
    wait_log(&lab, daemon, "nothing changed");
    std::thread::sleep(Duration::from_millis(500));
    assert!(lab.exit_status(daemon).is_none(), "{}", lab.log(daemon));
    let still = or_panic(&lab, lab.routes(1, PREFIX));
    assert!(
        still.iter().any(|r| r.from == Some(host)
            && r.med == Some(20)
            && r.communities == [Community(65000, 2)]),
        "the old settings must stay: {still:?}"
    );

    // Neighbor slots: 3 removed (Cease 6/3), 4 added; 1 and 2 stay up.
    fs::write(
        &config,
        "role: secondary\nmed: 20\nneighbor_slots: [1, 2, 4]\n",
    )
    .unwrap();
    sighup(&mut lab);
    wait_established(&lab, 4, host, LONG);
    wait_route_from(&lab, 4, PREFIX, host, LONG);
    wait_no_route_from(&lab, 3, PREFIX, host, LONG);
    let rs3_log = lab.route_server(3).log_file.clone().unwrap();
    let r = wait_until(
        "route server 3 to log a Cease 6/3 from the host",
        Duration::from_secs(20),
        POLL,
        || {
            let text = fs::read_to_string(&rs3_log).ok()?;
            text.lines()
                .any(|l| {
                    l.contains("NOTIFICATION") && l.contains(&host.to_string()) && l.contains("6/3")
                })
                .then_some(())
        },
    );
    or_panic(&lab, r);
    let log = lab.log(daemon);
    assert!(log.contains("neighbor removed"), "{log}");
    for slot in [1, 2] {
        assert_eq!(
            established_count(&log, rs(slot)),
            1,
            "session {slot} flapped when the slots changed\n{log}"
        );
        assert!(lab.established(slot, host));
    }
    assert!(lab.exit_status(daemon).is_none());
}

#[test]
fn drain_undrain_and_maintenance_through_the_control_socket_lose_no_request() {
    let socket_path = |lab: &Lab| lab.dir.join("a-control.sock");
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(2).with_client());
    let socket = socket_path(&lab);
    let config = write_config(
        &lab,
        "a.yaml",
        &format!("control_socket: \"{}\"\n", socket.display()),
    );
    lab.start_daemon(1, &["-primary", "-config", &config.to_string_lossy()]);
    lab.start_daemon(2, &["-secondary"]);
    lab.start_responder(1);
    lab.start_responder(2);
    let (host_a, host_b) = (lab.host(1).session_address(), lab.host(2).session_address());
    wait_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_route_from(&lab, 1, PREFIX, host_b, LONG);
    wait_answerer(&lab, "a");
    let mode = fs::metadata(&socket)
        .expect("the control socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "control socket mode {mode:o}");
    let sock = socket.to_string_lossy().to_string();

    // Drain: a's path gets 65535:0 (local-pref 0), traffic moves to b.
    let report = during_traffic(&lab, Duration::from_secs(4), &["drain", "--socket", &sock]);
    assert_eq!(
        report.lost,
        0,
        "drain lost requests: {report}\n{}",
        lab.diagnostics()
    );
    eprintln!("drain: {report}");
    let drained = wait_route_where(&lab, 1, PREFIX, host_a, "with 65535:0", |r| {
        r.communities.contains(&GSHUT)
    });
    assert_eq!(drained.local_pref, Some(0), "{drained:?}");
    wait_answerer(&lab, "b");
    let status = status_json(&lab);
    assert_eq!(status["maintenance"]["draining"], true, "{status}");
    assert_eq!(status["maintenance"]["draining_reason"], "elastic drain");

    // Undrain: back to a.
    let report = during_traffic(
        &lab,
        Duration::from_secs(4),
        &["undrain", "--socket", &sock],
    );
    assert_eq!(
        report.lost,
        0,
        "undrain lost requests: {report}\n{}",
        lab.diagnostics()
    );
    eprintln!("undrain: {report}");
    wait_route_where(&lab, 1, PREFIX, host_a, "65000:1 again", |r| {
        r.communities == [Community(65000, 1)]
    });
    wait_answerer(&lab, "a");

    // SetMaintenance: the service's maintenance treatment (withdraw by default).
    let report = during_traffic(
        &lab,
        Duration::from_secs(4),
        &["maintenance", "on", "--socket", &sock],
    );
    assert_eq!(
        report.lost,
        0,
        "maintenance lost requests: {report}\n{}",
        lab.diagnostics()
    );
    wait_no_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_answerer(&lab, "b");
    let status = status_json(&lab);
    assert_eq!(status["maintenance"]["requested"], true, "{status}");
    let (code, _, err) = elastic(&["maintenance", "off", "--socket", &sock]);
    assert_eq!(code, 0, "{err}");
    wait_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_answerer(&lab, "a");

    // b has no control socket: the client says so and fails.
    let (code, _, err) = elastic(&[
        "drain",
        "--socket",
        &lab.dir.join("b-control.sock").to_string_lossy(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("control_socket"), "{err}");
}

#[test]
fn a_reload_keeps_unchanged_probes_so_a_healthy_address_is_never_withdrawn() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    let up_file = lab.dir.join("svc-up");
    fs::write(&up_file, "up\n").unwrap();
    let probe = |interval: &str| {
        format!(
            "role: primary\nprobes:\n  svc:\n    exec: [test, -e, \"{}\"]\n    interval: {interval}\n    \
             rise: 2\n    fall: 2\n",
            up_file.display()
        )
    };
    let config = write_config(&lab, "probes.yaml", &format!("{}med: 10\n", probe("200ms")));
    let daemon = lab.start_daemon(1, &["-config", &config.to_string_lossy()]);
    wait_route_where(&lab, 1, PREFIX, host, "MED 10", |r| r.med == Some(10));
    let before = lab.log(daemon).len();

    // Same probe, new MED: re-announced, never withdrawn, the service never changes state.
    fs::write(&config, format!("{}med: 20\n", probe("200ms"))).unwrap();
    lab.signal(daemon, Signal::SIGHUP);
    wait_route_where(&lab, 1, PREFIX, host, "MED 20", |r| r.med == Some(20));
    std::thread::sleep(Duration::from_secs(1));
    let after = lab.log(daemon)[before..].to_string();
    assert!(
        !after.contains("withdrawn") && !after.contains("service state changed"),
        "a reload with an unchanged probe disturbed the service:\n{after}"
    );

    // A changed probe starts over: its service waits for the first verdict again (withdrawn),
    // then comes back.
    let before = lab.log(daemon).len();
    fs::write(&config, format!("{}med: 20\n", probe("300ms"))).unwrap();
    lab.signal(daemon, Signal::SIGHUP);
    wait_log(&lab, daemon, "probe changed: starting over");
    wait_route_where(
        &lab,
        1,
        PREFIX,
        host,
        "back after the probe's first verdict",
        |r| r.med == Some(20),
    );
    let r = wait_until("the service to go waiting and up again", LONG, POLL, || {
        let after = lab.log(daemon)[before..].to_string();
        (after.contains("to=\"waiting\"") || after.contains("to=waiting"))
            .then_some(())
            .filter(|()| after.contains("to=\"up\"") || after.contains("to=up"))
    });
    or_panic(&lab, r);
}
