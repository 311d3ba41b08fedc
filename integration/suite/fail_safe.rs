//! Fail-safe under operator mistakes and hostile local users: a reload while the default config
//! file is briefly gone keeps the health gating, and a flood of idle connections to the API
//! neither starves the probes of file descriptors nor withdraws a healthy host. FRR route server.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use elastic_lab::flood::{self, metric};
use elastic_lab::{
    DCID, Lab, LabSpec, NEIGHBOR_PATTERN, ProcId, RsKind, daemon_binary, wait_until,
};

use super::common::{or_panic, wait_log, wait_no_route_from, wait_route_from};

const PREFIX: &str = "203.0.113.10/32";
const LONG: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);
const METRICS: &str = "127.0.0.1:9180";
const DEFAULT_DIR: &str = "/etc/elastic";

/// A config whose one probe is up while `up_file` exists; every address waits for it. The role
/// comes from the flags, as in the shipped unit's `ELASTIC_ARGS`.
fn probe_config(up_file: &Path) -> String {
    format!(
        "metrics: \"{METRICS}\"\nprobes:\n  svc:\n    exec: [test, -e, \"{}\"]\n    \
         interval: 200ms\n    rise: 1\n    fall: 1\n",
        up_file.display()
    )
}

/// `PROGRAM ARGS…` inside host 1's namespace: exit code and stdout.
fn in_host(lab: &Lab, program: &str, args: &[&str]) -> (i32, String) {
    let out = lab
        .host(1)
        .ns
        .command(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn status_json(lab: &Lab) -> Option<serde_json::Value> {
    let (code, out) = in_host(lab, &daemon_binary(), &["status", "--json"]);
    // 0: all announced, 1: something missing; both are answers. 3: no answer.
    (code == 0 || code == 1).then(|| serde_json::from_str(&out).expect("status --json"))
}

fn scrape(lab: &Lab) -> Option<String> {
    let url = format!("http://{METRICS}/metrics");
    let (code, out) = in_host(lab, "curl", &["-sS", "--max-time", "5", &url]);
    (code == 0).then_some(out)
}

/// The lab's daemon flags for a primary, logging at debug level (the role from the flags, as the
/// shipped unit's `ELASTIC_ARGS` gives it).
fn primary_flags() -> [String; 7] {
    [
        "-primary",
        "-dcid",
        &DCID.to_string(),
        "-neighborpattern",
        NEIGHBOR_PATTERN,
        "-loglevel",
        "debug",
    ]
    .map(str::to_string)
}

/// `/etc/elastic` must exist to be a mount point; created (empty) when the machine has none, and
/// removed again afterwards. Its contents on the machine are never touched: the daemon sees a
/// private tmpfs over it.
struct DefaultDir {
    created: bool,
}

impl DefaultDir {
    fn ensure() -> Self {
        let created = !Path::new(DEFAULT_DIR).exists();
        if created {
            fs::create_dir(DEFAULT_DIR).expect("create /etc/elastic as a mount point");
        }
        Self { created }
    }
}

impl Drop for DefaultDir {
    fn drop(&mut self) {
        if self.created {
            // Only if still empty: never remove what someone else put there meanwhile.
            let _ = fs::remove_dir(DEFAULT_DIR);
        }
    }
}

/// Starts the daemon on host 1 with no `-config`, so it reads the default file, which is
/// `config` copied into a private tmpfs mounted over /etc/elastic in a mount namespace of its
/// own. The file is then reachable only through `/proc/PID/root`.
fn start_with_default_file(lab: &mut Lab, config: &Path) -> (ProcId, PathBuf) {
    let script = "mount -t tmpfs -o mode=0755 el-test-etc /etc/elastic \
                  && cp \"$0\" /etc/elastic/elastic.yaml && exec ip netns exec \"$@\"";
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(config)
        .arg(&lab.host(1).ns.name)
        .arg(daemon_binary())
        .args(primary_flags());
    let daemon = lab.spawn("daemon-a", cmd).unwrap_or_else(|e| panic!("{e}"));
    // unshare, sh and `ip netns exec` each exec the next: the PID is the daemon's.
    let file = PathBuf::from(format!(
        "/proc/{}/root/etc/elastic/elastic.yaml",
        lab.pid(daemon)
    ));
    let r = wait_until("the daemon's private config file", LONG, POLL, || {
        file.exists().then_some(())
    });
    or_panic(lab, r);
    (daemon, file)
}

#[test]
fn a_reload_while_the_default_file_is_gone_keeps_the_running_configuration() {
    let _dir = DefaultDir::ensure();
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    let up_file = lab.dir.join("svc-up");
    fs::write(&up_file, "up\n").unwrap();
    let config = lab.dir.join("elastic.yaml");
    fs::write(&config, probe_config(&up_file)).unwrap();
    let (daemon, file) = start_with_default_file(&mut lab, &config);
    wait_route_from(&lab, 1, PREFIX, host, LONG);

    // The service fails: withdrawn.
    fs::remove_file(&up_file).unwrap();
    wait_no_route_from(&lab, 1, PREFIX, host, LONG);

    // The file goes away (an editor's rename, a package upgrade) and a reload comes in.
    let moved = file.with_extension("yaml.moved");
    fs::rename(&file, &moved).expect("move the daemon's config file away");
    lab.signal(daemon, Signal::SIGHUP);
    wait_log(&lab, daemon, "the configuration is invalid");

    // Still withdrawn, with the same probe: flags only would announce it ungated.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let routes = or_panic(&lab, lab.routes(1, PREFIX));
        assert!(
            !routes
                .iter()
                .any(|r| r.from == Some(host) || r.next_hop == Some(host)),
            "the failing service's address was announced after the reload:\n{}",
            lab.diagnostics()
        );
        std::thread::sleep(POLL);
    }
    let status = or_panic(
        &lab,
        wait_until("elastic status", LONG, POLL, || status_json(&lab)),
    );
    let address = status["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["prefix"] == PREFIX)
        .unwrap_or_else(|| panic!("{PREFIX} in {status}"));
    assert_eq!(address["announced"], false, "{status}");
    let probes: Vec<&str> = status["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(probes, ["svc"], "{status}");
    let reload = &status["reload"];
    assert_eq!(reload["last_failed"], true, "{status}");
    assert_eq!(reload["failed"], 1, "{status}");
    assert!(
        reload["last_error"]
            .as_str()
            .unwrap()
            .contains("/etc/elastic/elastic.yaml"),
        "{status}"
    );
    let (_, text) = in_host(&lab, &daemon_binary(), &["status"]);
    assert!(text.contains("the last reload failed"), "{text}");
    let metrics = or_panic(&lab, wait_until("a scrape", LONG, POLL, || scrape(&lab)));
    assert_eq!(
        metric(&metrics, "elastic_config_last_reload_successful"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "elastic_config_reloads_total{result=\"failure\"}"),
        Some(1.0),
        "{metrics}"
    );

    // The file is back: the next reload succeeds; the service is back: announced again.
    fs::rename(&moved, &file).unwrap();
    lab.signal(daemon, Signal::SIGHUP);
    let r = wait_until("a successful reload in the status", LONG, POLL, || {
        status_json(&lab).filter(|s| s["reload"]["last_failed"] == false)
    });
    let status = or_panic(&lab, r);
    assert_eq!(status["reload"]["succeeded"], 1, "{status}");
    fs::write(&up_file, "up\n").unwrap();
    wait_route_from(&lab, 1, PREFIX, host, LONG);
}

#[test]
fn a_flood_of_idle_api_connections_fails_no_probe_and_withdraws_nothing() {
    const FLOOD: usize = 1100;
    flood::raise_open_file_limit(FLOOD as u64 + 1024).unwrap_or_else(|e| panic!("{e}"));
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    let up_file = lab.dir.join("svc-up");
    fs::write(&up_file, "up\n").unwrap();
    let config = lab.dir.join("elastic.yaml");
    fs::write(&config, probe_config(&up_file)).unwrap();
    // The daemon gets 1024 descriptors, soft and hard (as systemd's default soft limit).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 1024 && exec \"$@\"", "sh"])
        .args(["ip", "netns", "exec", &lab.host(1).ns.name])
        .arg(daemon_binary())
        .arg("-config")
        .arg(&config)
        .args(primary_flags());
    let daemon = lab.spawn("daemon-a", cmd).unwrap_or_else(|e| panic!("{e}"));
    wait_route_from(&lab, 1, PREFIX, host, LONG);
    let before = or_panic(&lab, wait_until("a scrape", LONG, POLL, || scrape(&lab)));
    let failures_of = |text: &str| {
        metric(
            text,
            "elastic_probe_runs_total{probe=\"svc\",result=\"failure\"}",
        )
        .unwrap_or(0.0)
    };
    let failed_before = failures_of(&before);

    let api: SocketAddr = "127.0.0.1:50051".parse().unwrap();
    let flood = or_panic(
        &lab,
        flood::idle_connections(&lab.host(1).ns.name, api, FLOOD),
    );
    // Long enough for the probe to run 50 times and for silent connections to time out and
    // be replaced from the backlog.
    let flood_ends = Instant::now() + Duration::from_secs(10);
    let mut most_descriptors = 0;
    let mut scrapes = 0;
    while Instant::now() < flood_ends {
        let fds = fs::read_dir(format!("/proc/{}/fd", lab.pid(daemon)))
            .map(|d| d.count())
            .unwrap_or(0);
        most_descriptors = most_descriptors.max(fds);
        let routes = or_panic(&lab, lab.routes(1, PREFIX));
        assert!(
            routes
                .iter()
                .any(|r| r.from == Some(host) || r.next_hop == Some(host)),
            "the healthy host's route was withdrawn during the flood:\n{}",
            lab.diagnostics()
        );
        let metrics = scrape(&lab).unwrap_or_else(|| {
            panic!(
                "metrics did not answer during the flood\n{}",
                lab.diagnostics()
            )
        });
        scrapes += 1;
        assert_eq!(
            metric(
                &metrics,
                &format!("elastic_address_wanted{{prefix=\"{PREFIX}\"}}")
            ),
            Some(1.0),
            "{metrics}"
        );
        assert_eq!(
            failures_of(&metrics),
            failed_before,
            "a probe failed:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(flood);
    println!(
        "flood of {FLOOD} idle API connections for 10 s: at most {most_descriptors} descriptors \
         open in the daemon, {scrapes} scrapes answered"
    );
    let log = lab.log(daemon);
    assert!(
        !log.contains("Too many open files"),
        "the daemon ran out of descriptors:\n{log}"
    );
    assert!(
        most_descriptors < 200,
        "the daemon held {most_descriptors} descriptors: the listener caps did not hold"
    );

    // Once the flood is gone, the API answers again.
    let r = wait_until("elastic status after the flood", LONG, POLL, || {
        status_json(&lab)
    });
    let status = or_panic(&lab, r);
    let announced = status["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["prefix"] == PREFIX && a["announced"] == true);
    assert!(announced, "{status}");
}
