//! Event-driven probes end to end: FRR route servers, two hosts, a client. The service on each
//! host is its `labnet serve` responder (a UDP socket on the VIP); the primary's is killed with
//! SIGKILL and the traffic must move to the secondary because the kernel told the daemon (a
//! pidfd, a socket-destroy message), not because a poll counted to `fall`.
//!
//! The probes run at a 2 s interval (2 s also while changing) with fall 3: polling would need
//! three failed checks. The order of events in the daemon's log shows which happened: the down
//! verdict is the first failed check after the kill, with no "probe failed" count before it.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use elastic_lab::{LABNET_PORT, Lab, LabSpec, ProcId, RsKind, VIP4};

use super::common::{
    or_panic, wait_answerer, wait_established, wait_log, wait_no_route_from, wait_route_from,
};

const PREFIX: &str = "203.0.113.10/32";
const LONG: Duration = Duration::from_secs(60);

fn pidfile(lab: &Lab, label: &str) -> PathBuf {
    lab.dir.join(format!("{label}-service.pid"))
}

/// The probe `svc` (`check` is its kind's key and value), timed as the module says.
fn write_config(lab: &Lab, label: &str, check: &str) -> PathBuf {
    let path = lab.dir.join(format!("{label}.yaml"));
    let text = format!(
        "probes:\n  svc:\n    {check}\n    interval: 2s\n    fast_interval: 2s\n    timeout: 1s\n    \
         rise: 2\n    fall: 3\n"
    );
    fs::write(&path, text).expect("write the config");
    path
}

/// Starts host `index`'s responder and writes its pid to its pidfile.
fn start_service(lab: &mut Lab, index: usize) -> ProcId {
    let id = lab.start_responder(index);
    let label = lab.host(index).label.clone();
    fs::write(pidfile(lab, &label), format!("{}\n", lab.pid(id))).expect("write the pidfile");
    id
}

/// Two hosts whose probe `svc` is `check(lab, label)`, both announcing, the primary answering.
fn two_hosts(check: &dyn Fn(&Lab, &str) -> String) -> (Lab, ProcId, ProcId) {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(2).with_client());
    let service_a = start_service(&mut lab, 1);
    start_service(&mut lab, 2);
    let config_a = write_config(&lab, "a", &check(&lab, "a"));
    let config_b = write_config(&lab, "b", &check(&lab, "b"));
    let daemon_a = lab.start_daemon(1, &["-primary", "-config", &config_a.to_string_lossy()]);
    lab.start_daemon(2, &["-secondary", "-config", &config_b.to_string_lossy()]);
    let (host_a, host_b) = (lab.host(1).session_address(), lab.host(2).session_address());
    wait_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_route_from(&lab, 1, PREFIX, host_b, LONG);
    wait_answerer(&lab, "a");
    (lab, daemon_a, service_a)
}

/// The daemon's log lines about probe `svc` from the last up verdict on: the verdict that
/// followed must be down, and no failed check may have been counted before it.
fn assert_down_on_the_first_failed_check(lab: &Lab, daemon: ProcId) {
    let log = lab.log(daemon);
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("probe verdict") || l.contains("probe failed"))
        .collect();
    let last_up = lines
        .iter()
        .rposition(|l| l.contains("probe verdict") && l.contains("state=\"up\""))
        .unwrap_or_else(|| panic!("no up verdict in the log\n{log}"));
    let after: Vec<&str> = lines[last_up + 1..].to_vec();
    assert!(
        after
            .first()
            .is_some_and(|l| l.contains("probe verdict") && l.contains("state=\"down\"")),
        "after the kill the first event must be the down verdict, not a fall count: {after:#?}"
    );
}

/// The primary's service is killed; the route and the traffic move to b at once; the service
/// started again (with a new pid) brings the route back after `rise`.
fn kill_and_restart(check: &dyn Fn(&Lab, &str) -> String, mode: &str) -> (Lab, ProcId) {
    let (mut lab, daemon_a, service_a) = two_hosts(check);
    let host_a = lab.host(1).session_address();
    wait_log(&lab, daemon_a, mode);
    lab.kill(service_a);
    wait_no_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_answerer(&lab, "b");
    assert_down_on_the_first_failed_check(&lab, daemon_a);

    start_service(&mut lab, 1);
    wait_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_answerer(&lab, "a");
    let log = lab.log(daemon_a);
    assert!(
        log.matches("probe verdict").count() >= 3,
        "up, down, up again:\n{log}"
    );
    (lab, daemon_a)
}

#[test]
fn a_killed_service_found_by_its_pidfile_withdraws_at_once_and_a_reused_pid_is_not_it() {
    let (mut lab, daemon_a) = kill_and_restart(
        &|lab, label| {
            format!(
                "process: {{pidfile: \"{}\"}}",
                pidfile(lab, label).display()
            )
        },
        "watched by pidfd",
    );
    let host_a = lab.host(1).session_address();
    // The pidfile now names a process that started after the file was written (a pid reused
    // by another program): not the service, so the probe falls and the route goes.
    let stranger = lab
        .spawn("stranger", {
            let mut cmd = std::process::Command::new("/bin/sleep");
            cmd.arg("300");
            cmd
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let path = pidfile(&lab, "a");
    fs::write(&path, format!("{}\n", lab.pid(stranger))).expect("write the pidfile");
    let file = fs::File::options().write(true).open(&path).unwrap();
    let written = std::time::SystemTime::now() - Duration::from_secs(120);
    file.set_modified(written).unwrap();
    wait_log(&lab, daemon_a, "not the process that wrote it");
    wait_no_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_answerer(&lab, "b");
    lab.kill(stranger);
}

#[test]
fn a_killed_service_found_by_its_listening_socket_withdraws_at_once() {
    let (lab, daemon_a) = kill_and_restart(
        &|_, _| format!("listen: \"{VIP4}:{LABNET_PORT}/udp\""),
        "watched by socket-destroy events",
    );
    let log = lab.log(daemon_a);
    assert!(!log.contains("socket-destroy events unavailable"), "{log}");
}

#[test]
fn bad_pidfiles_and_the_probe_says_why() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(1));
    let path = lab.dir.join("bad.pid");
    let config = write_config(
        &lab,
        "a",
        &format!("process: {{pidfile: \"{}\"}}", path.display()),
    );
    let daemon = lab.start_daemon(1, &["-primary", "-config", &config.to_string_lossy()]);
    wait_log(&lab, daemon, "No such file or directory");
    fs::write(&path, "").unwrap();
    wait_log(&lab, daemon, ": empty");
    fs::write(&path, "nginx\n").unwrap();
    wait_log(&lab, daemon, "not a pid");
    fs::write(&path, "9".repeat(1_000_000)).unwrap();
    wait_log(&lab, daemon, "longer than 32 bytes");
    fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    wait_log(&lab, daemon, "not a regular file");
    // Checked with the daemon running and its session up (after SIGTERM it announces nothing).
    let host = lab.host(1).session_address();
    wait_established(&lab, 1, host, LONG);
    assert!(
        or_panic(&lab, lab.routes(1, PREFIX))
            .iter()
            .all(|r| r.from != Some(host)),
        "never announced without its service"
    );
    // The loop never hung on the FIFO: the daemon still answers and stops cleanly.
    lab.signal(daemon, nix::sys::signal::Signal::SIGTERM);
    let status = lab.wait_exit(daemon, Duration::from_secs(15));
    assert!(or_panic(&lab, status).success());
}
