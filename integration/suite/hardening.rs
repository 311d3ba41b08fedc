//! Safe to leave running: hostile files (a device, a FIFO, a huge file, deep nesting) are refused
//! at once by `check-config` and by a reload that keeps the routes; and under the shipped unit's
//! conditions without systemd (a non-root daemon holding only ambient CAP_NET_ADMIN, through
//! `setpriv`), probes and hooks run with no capabilities and without systemd's variables, while
//! `user:` and `control_socket_group` are refused at load with the reason; a `chown` refused all
//! the same leaves the daemon running with a private socket. FRR route server.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use elastic_lab::{DCID, Lab, LabSpec, NEIGHBOR_PATTERN, RsKind, daemon_binary, wait_until};

use super::common::{wait_log, wait_route_from};

const PREFIX: &str = "203.0.113.10/32";
const LONG: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);
/// What the shipped unit's DynamicUser is like: not root, no supplementary groups.
const NOBODY: &str = "65534";

/// A config whose one probe always passes, so every address is announced.
const HEALTHY: &str = "probes:\n  ok:\n    exec: [/bin/true]\n    interval: 200ms\n    rise: 1\n";

/// A hostile file: what it is, how to make it at a path, and what the refusal must say.
type Hostile = (&'static str, fn(&Path), &'static str);

/// The hostile files, each with what the refusal must say: made at `path` (replacing what is
/// there), so a reload of a daemon running from `path` meets them.
fn hostile_files() -> Vec<Hostile> {
    vec![
        (
            "/dev/zero",
            |path| std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
            "not a regular file (a character device)",
        ),
        (
            "a FIFO with no writer",
            |path| {
                nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap()
            },
            "not a regular file (a FIFO)",
        ),
        (
            "a 2 MB file",
            |path| fs::write(path, "# padding\n".repeat(200_000)).unwrap(),
            "over the limit of 1 MiB",
        ),
        (
            "100,000 nested [",
            |path| {
                let text = format!("x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
                fs::write(path, text).unwrap()
            },
            "nested deeper than 64 levels",
        ),
    ]
}

fn replace_with(path: &Path, make: fn(&Path)) {
    let _ = fs::remove_file(path);
    make(path);
}

/// `elastic check-config -config PATH` under a 10 s cap: exit code, stderr and how long it took.
fn check_config(path: &Path) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = Command::new("timeout")
        .args(["10", &daemon_binary(), "check-config", "-config"])
        .arg(path)
        .output()
        .expect("run check-config");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn hostile_config_files_are_refused_at_once_and_a_reload_keeps_the_routes() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    let config = lab.dir.join("elastic.yaml");
    for (what, make, why) in hostile_files() {
        replace_with(&config, make);
        let (code, stderr, took) = check_config(&config);
        assert_eq!(code, 1, "check-config on {what}: {stderr}");
        assert!(stderr.contains(why), "check-config on {what}: {stderr}");
        assert!(took < Duration::from_secs(2), "{what} took {took:?}");
    }

    replace_with(&config, |path| fs::write(path, HEALTHY).unwrap());
    let path = config.to_string_lossy().into_owned();
    let daemon = lab.start_daemon(1, &["-primary", "-config", &path]);
    wait_route_from(&lab, 1, PREFIX, host, LONG);
    for (what, make, why) in hostile_files() {
        replace_with(&config, make);
        let asked = Instant::now();
        lab.signal(daemon, Signal::SIGHUP);
        wait_log(&lab, daemon, why);
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "the reload with {what} took {:?}",
            asked.elapsed()
        );
        assert!(lab.exit_status(daemon).is_none(), "died on {what}");
        // The running configuration stays: still announced.
        wait_route_from(&lab, 1, PREFIX, host, Duration::from_secs(5));
    }
    let log = lab.log(daemon);
    assert_eq!(
        log.matches("the configuration is invalid").count(),
        hostile_files().len(),
        "{log}"
    );
}

/// `setpriv` as [`NOBODY`] with only CAP_NET_ADMIN, inherited and ambient, as systemd starts the
/// shipped unit's DynamicUser, inside host 1's namespace.
fn as_unit_user(lab: &Lab, program: &str) -> Command {
    let mut cmd = lab.host(1).ns.command("setpriv");
    cmd.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
        "--inh-caps=-all,+net_admin",
        "--ambient-caps=-all,+net_admin",
        program,
    ]);
    cmd
}

/// The `Cap…:` lines and the environment a command wrote, as written.
fn capabilities_and_environment(report: &Path) -> String {
    let r = wait_until(&format!("{} written", report.display()), LONG, POLL, || {
        fs::read_to_string(report)
            .ok()
            .filter(|text| text.contains("ELASTIC_"))
    });
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn assert_powerless(what: &str, report: &str) {
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        let line = report
            .lines()
            .find(|line| line.starts_with(&format!("{set}:")))
            .unwrap_or_else(|| panic!("{what}: no {set} in\n{report}"));
        if set != "CapInh" {
            assert!(line.ends_with("0000000000000000"), "{what}: {line}");
        }
    }
    for name in [
        "CREDENTIALS_DIRECTORY=",
        "NOTIFY_SOCKET=",
        "WATCHDOG_PID=",
        "WATCHDOG_USEC=",
        "LISTEN_FDS=",
        "LISTEN_PID=",
    ] {
        assert!(
            !report.lines().any(|line| line.starts_with(name)),
            "{what} sees {name}:\n{report}"
        );
    }
}

#[test]
fn under_the_units_conditions_commands_have_no_powers_and_user_and_group_are_refused() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    // A directory the non-root daemon and its commands can write to.
    let out = lab.dir.join("out");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o1777)).unwrap();
    let probe_report = out.join("probe");
    let hook_report = out.join("hook");
    let report = |file: &PathBuf| {
        format!(
            "\"grep ^Cap /proc/self/status > {0}.tmp; env >> {0}.tmp; mv {0}.tmp {0}\"",
            file.display()
        )
    };
    let yaml = format!(
        "probes:\n  caps:\n    shell: {}\n    interval: 200ms\n    rise: 1\n\
         hooks:\n  on_change: [/bin/sh, -c, {}]\n",
        report(&probe_report),
        report(&hook_report)
    );
    let config = out.join("elastic.yaml");
    fs::write(&config, &yaml).unwrap();

    // What the shipped unit cannot do is refused at load, saying why.
    for (extra, key, why) in [
        (
            "    user: root\n",
            "probes.caps.user",
            "without CAP_SETUID and CAP_SETGID",
        ),
        (
            "  user: root\n",
            "hooks.user",
            "without CAP_SETUID and CAP_SETGID",
        ),
        (
            "control_socket: /tmp/el-hardening.sock\ncontrol_socket_group: root\n",
            "control_socket_group",
            "without CAP_CHOWN and is not in group \"root\"",
        ),
    ] {
        let text = match key {
            "probes.caps.user" => yaml.replace("    rise: 1\n", &format!("    rise: 1\n{extra}")),
            "hooks.user" => format!("{yaml}{extra}"),
            _ => format!("{extra}{yaml}"),
        };
        let refused = out.join("refused.yaml");
        fs::write(&refused, text).unwrap();
        let answer = as_unit_user(&lab, &daemon_binary())
            .args(["check-config", "-config"])
            .arg(&refused)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&answer.stderr);
        assert_eq!(answer.status.code(), Some(1), "{key}: {stderr}");
        let expected = format!("{key}: invalid value \"root\": elastic runs as uid {NOBODY}");
        assert!(
            stderr.contains(&expected) && stderr.contains(why),
            "{key}: {stderr}"
        );
        // Started for real, it stops the same way before binding anything (bounded: a daemon
        // that accepted it would run until killed).
        let started = as_unit_user(&lab, "timeout")
            .args(["10", &daemon_binary(), "-config"])
            .arg(&refused)
            .args(["-primary", "-dcid", &DCID.to_string()])
            .args(["-neighborpattern", NEIGHBOR_PATTERN])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&started.stderr);
        assert_eq!(started.status.code(), Some(1), "start, {key}: {stderr}");
        assert!(
            stderr.contains(&expected) && stderr.contains(why),
            "start, {key}: {stderr}"
        );
    }

    // The daemon itself, with the variables systemd would give it.
    let mut cmd = as_unit_user(&lab, &daemon_binary());
    cmd.args(["-config"])
        .arg(&config)
        .args(["-primary", "-dcid", &DCID.to_string()])
        .args(["-neighborpattern", NEIGHBOR_PATTERN, "-loglevel", "debug"])
        .envs([
            ("CREDENTIALS_DIRECTORY", "/run/credentials/elastic.service"),
            ("NOTIFY_SOCKET", "/run/systemd/notify-none"),
            ("WATCHDOG_PID", "1"),
            ("WATCHDOG_USEC", "10000000"),
            ("LISTEN_FDS", "0"),
            ("LISTEN_PID", "1"),
        ]);
    let daemon = lab
        .spawn("daemon-unit", cmd)
        .unwrap_or_else(|e| panic!("{e}"));
    wait_route_from(&lab, 1, PREFIX, host, LONG);
    let daemon_status = fs::read_to_string(format!("/proc/{}/status", lab.pid(daemon))).unwrap();
    assert!(
        daemon_status.contains("CapAmb:\t0000000000001000"),
        "the daemon should hold ambient CAP_NET_ADMIN:\n{daemon_status}"
    );
    let probe = capabilities_and_environment(&probe_report);
    assert!(probe.contains("ELASTIC_PROBE=caps"), "{probe}");
    assert_powerless("the probe", &probe);
    let hook = capabilities_and_environment(&hook_report);
    assert!(hook.contains("ELASTIC_SERVICE="), "{hook}");
    assert_powerless("the hook", &hook);

    // A reload asking for another user is refused with the reason; the daemon keeps running
    // and announcing.
    let with_user = yaml.replace("    rise: 1\n", "    rise: 1\n    user: root\n");
    fs::write(&config, with_user).unwrap();
    lab.signal(daemon, Signal::SIGHUP);
    wait_log(&lab, daemon, "without CAP_SETUID and CAP_SETGID");
    assert!(lab.exit_status(daemon).is_none(), "{}", lab.log(daemon));
    wait_route_from(&lab, 1, PREFIX, host, Duration::from_secs(5));
}

#[test]
fn durations_past_the_clocks_range_are_refused_alike_by_check_config_and_at_start() {
    let lab = Lab::new(LabSpec::new(RsKind::Frr));
    let config = lab.dir.join("huge.yaml");
    let huge = "500000000000y";
    for (text, key, longest) in [
        (
            "probes:\n  p:\n    exec: [/bin/true]\n    timeout: {}\n",
            "probes.p.timeout",
            "24h",
        ),
        (
            "probes:\n  p:\n    exec: [/bin/true]\n    interval: {}\n",
            "probes.p.interval",
            "24h",
        ),
        (
            "probes:\n  p:\n    exec: [/bin/true]\n    fast_interval: {}\n",
            "probes.p.fast_interval",
            "24h",
        ),
        (
            "services:\n  - name: web\n    announce_delay: {}\n",
            "services[0].announce_delay",
            "24h",
        ),
        (
            "hooks:\n  on_change: [/bin/true]\n  timeout: {}\n",
            "hooks.timeout",
            "1h",
        ),
        ("drain_time: {}\n", "drain_time", "1h"),
        ("maintenance_poll: {}\n", "maintenance_poll", "1h"),
        ("hold_time: {}\n", "hold_time", "65535s"),
        ("keepalive: {}\n", "keepalive", "65535s"),
    ] {
        fs::write(&config, text.replace("{}", huge)).unwrap();
        let expected = format!("{key}: invalid value \"{huge}\": must be at most {longest}");
        let (code, stderr, _) = check_config(&config);
        assert_eq!(code, 1, "check-config, {key}: {stderr}");
        assert!(stderr.contains(&expected), "check-config, {key}: {stderr}");
        // Started for real (bounded: a daemon that accepted it would run until killed).
        let started = lab
            .host(1)
            .ns
            .command("timeout")
            .args(["10", &daemon_binary(), "-config"])
            .arg(&config)
            .args(["-primary", "-dcid", &DCID.to_string()])
            .args(["-neighborpattern", NEIGHBOR_PATTERN])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&started.stderr);
        assert_eq!(started.status.code(), Some(1), "start, {key}: {stderr}");
        assert!(stderr.contains(&expected), "start, {key}: {stderr}");
    }
}

#[test]
fn a_control_socket_group_that_chown_refuses_leaves_the_daemon_running_with_a_private_socket() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    let socket = lab.dir.join("control.sock");
    let config = lab.dir.join("elastic.yaml");
    // `adm` is not mapped into the daemon's user namespace, so chown fails (EINVAL) although the
    // daemon holds CAP_CHOWN there and passes the load check: as under a filter answering EPERM.
    let yaml = format!(
        "control_socket: {}\ncontrol_socket_group: adm\n{HEALTHY}",
        socket.display()
    );
    fs::write(&config, yaml).unwrap();
    let mut cmd = lab.host(1).ns.command("unshare");
    cmd.args(["--user", "--map-root-user", &daemon_binary(), "-config"])
        .arg(&config)
        .args(["-primary", "-dcid", &DCID.to_string()])
        .args(["-neighborpattern", NEIGHBOR_PATTERN, "-loglevel", "debug"]);
    let daemon = lab
        .spawn("daemon-userns", cmd)
        .unwrap_or_else(|e| panic!("{e}"));
    wait_log(&lab, daemon, "the socket stays private (0600)");
    wait_route_from(&lab, 1, PREFIX, host, LONG);
    assert!(lab.exit_status(daemon).is_none(), "{}", lab.log(daemon));
    let mode = fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
