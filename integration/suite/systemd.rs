//! The systemd unit: it verifies, it is hardened (exposure 2.0 or better), and the daemon speaks
//! the notify protocol (READY, STATUS, WATCHDOG, STOPPING) when systemd gives it a socket.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use elastic_lab::{Lab, LabSpec, RsKind, daemon_binary, run_cmd};

use super::common::or_panic;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/elastic.service");
const EXPOSURE_TARGET: f64 = 2.0;

/// The unit as shipped, with ExecStart pointing at the binary under test (systemd-analyze verify
/// insists that the program exists).
fn unit_for_test(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(UNIT).expect("systemd/elastic.service");
    let text = text.replace("/usr/sbin/elastic", &daemon_binary());
    let path = dir.join("elastic.service");
    std::fs::write(&path, text).expect("write the unit copy");
    path
}

fn analyze(args: &[&str]) -> Result<String, String> {
    run_cmd("systemd-analyze", args).map_err(|e| {
        format!("systemd-analyze {args:?} failed (is systemd installed? CI installs it): {e}")
    })
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    let dir = tempdir("unit");
    let unit = unit_for_test(&dir);
    let unit = unit.to_str().unwrap();
    analyze(&["verify", unit]).unwrap_or_else(|e| panic!("{e}"));
    let report = analyze(&["security", "--offline=yes", unit]).unwrap_or_else(|e| panic!("{e}"));
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for elastic.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(
        exposure <= EXPOSURE_TARGET,
        "exposure {exposure} is worse than {EXPOSURE_TARGET}:\n{report}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_daemon_notifies_ready_watchdog_and_stopping() {
    let mut lab = Lab::new(LabSpec::new(RsKind::None));
    let socket_path = lab.dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let daemon = lab.start_daemon_with_env(
        1,
        &["-primary"],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            // 400 ms: the daemon must ping every 200 ms.
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut seen = String::new();
    let got = |seen: &str, what: &str| seen.lines().any(|l| l == what);
    collect_until(&socket, &mut seen, Duration::from_secs(10), |s| {
        got(s, "READY=1") && got(s, "WATCHDOG=1")
    });
    assert!(
        got(&seen, "READY=1"),
        "no READY=1 in {seen:?}\n{}",
        lab.diagnostics()
    );
    assert!(got(&seen, "WATCHDOG=1"), "no WATCHDOG=1 in {seen:?}");
    assert!(
        seen.lines()
            .any(|l| l.starts_with("STATUS=announcing 2 prefixes to 4 route servers")),
        "no summary STATUS in {seen:?}"
    );
    lab.signal(daemon, Signal::SIGTERM);
    collect_until(&socket, &mut seen, Duration::from_secs(10), |s| {
        got(s, "STOPPING=1")
    });
    assert!(got(&seen, "STOPPING=1"), "no STOPPING=1 in {seen:?}");
    // The daemon drains (default drain_time 5 s) and keeps pinging the watchdog meanwhile; keep
    // reading, as systemd does: a full datagram queue would block its notifications.
    let done = std::sync::atomic::AtomicBool::new(false);
    let r = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut rest = String::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                collect_until(&socket, &mut rest, Duration::from_millis(200), |_| false);
            }
        });
        let r = lab.wait_exit(daemon, Duration::from_secs(20));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    });
    let status = or_panic(&lab, r);
    assert!(status.success(), "exit {status}\n{}", lab.diagnostics());
}

/// Appends every datagram received to `seen` until `done(seen)` or the deadline.
fn collect_until(
    socket: &UnixDatagram,
    seen: &mut String,
    deadline: Duration,
    done: impl Fn(&str) -> bool,
) {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !done(seen) && start.elapsed() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            seen.push('\n');
        }
    }
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("el-{}-{what}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
