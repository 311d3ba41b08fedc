//! TCP MD5 (RFC 2385) against FRR and BIRD route servers that require a password: the same
//! password brings the sessions up and the route into the router's kernel; a wrong one leaves
//! them down (the kernels drop the segments silently) and the daemon says why; a password file
//! others can read stops the daemon at start.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use elastic_lab::{Lab, LabSpec, NEIGHBOR_PATTERN, RsKind, VIP4, daemon_binary, wait_until};

use super::common::{SLOTS, or_panic, wait_established, wait_route_from};

const PASSWORD: &str = "el-lab-md5-Pa55";
const PREFIX: &str = "203.0.113.10/32";
const LONG: Duration = Duration::from_secs(60);
const TIMEOUT_LINE: &str =
    "connect timed out (TCP MD5 is configured: check the password on both sides)";

/// Writes the password file (mode `mode`) and a config naming it; returns the config's path.
fn md5_config(lab: &Lab, password: &str, mode: u32) -> PathBuf {
    let secret = lab.dir.join("bgp.secret");
    fs::write(&secret, format!("{password}\n")).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(mode)).unwrap();
    let config = lab.dir.join("elastic.yaml");
    fs::write(
        &config,
        format!("role: primary\nmd5_password_file: {}\n", secret.display()),
    )
    .unwrap();
    config
}

/// The same password on both sides: every session comes up and slot 1 installs the route.
fn same_password_reaches_established(kind: RsKind) {
    let mut lab = Lab::new(LabSpec::new(kind).md5_password(PASSWORD));
    let config = md5_config(&lab, PASSWORD, 0o600);
    lab.start_daemon(1, &["-config", &config.to_string_lossy()]);
    let host = lab.host(1).session_address();
    for slot in SLOTS {
        wait_established(&lab, slot, host, LONG);
    }
    let route = wait_route_from(&lab, 1, PREFIX, host, LONG);
    assert_eq!(route.next_hop, Some(host), "{route:?}");
    // The route server of slot 1 exports its best path into the router's kernel.
    let installed = wait_until(
        &format!("{PREFIX} via {host} in the router's kernel"),
        LONG,
        Duration::from_millis(200),
        || {
            let table = lab.router.ip(&["route", "show", VIP4]).ok()?;
            table.contains(&host.to_string()).then_some(table)
        },
    );
    or_panic(&lab, installed);
}

/// A different password: no session, nothing announced, and a log line that names MD5.
fn wrong_password_stays_down_with_a_clear_log(kind: RsKind) {
    let mut lab = Lab::new(LabSpec::new(kind).md5_password(PASSWORD));
    let config = md5_config(&lab, "not-the-password", 0o600);
    let daemon = lab.start_daemon(1, &["-config", &config.to_string_lossy()]);
    let host = lab.host(1).session_address();
    // Every route server's attempt times out at least once (5 s each, all four in parallel).
    let logged = wait_until(
        "the daemon to blame the connect timeouts on the MD5 password",
        LONG,
        Duration::from_millis(200),
        || {
            let log = lab.log(daemon);
            let timeouts = log
                .lines()
                .filter(|l| l.contains("session down") && l.contains(TIMEOUT_LINE))
                .count();
            (timeouts >= SLOTS.len()).then_some(())
        },
    );
    or_panic(&lab, logged);
    for slot in SLOTS {
        assert!(
            !lab.established(slot, host),
            "slot {slot} is up with the wrong password\n{}",
            lab.diagnostics()
        );
    }
    let routes = or_panic(&lab, lab.routes(1, PREFIX));
    assert!(routes.is_empty(), "{routes:?}");
    assert!(lab.exit_status(daemon).is_none(), "{}", lab.log(daemon));
}

#[test]
fn frr_with_the_same_md5_password_establishes_and_installs_the_route() {
    same_password_reaches_established(RsKind::Frr);
}

#[test]
fn bird_with_the_same_md5_password_establishes_and_installs_the_route() {
    same_password_reaches_established(RsKind::Bird);
}

#[test]
fn frr_with_a_wrong_md5_password_stays_down_and_the_log_says_why() {
    wrong_password_stays_down_with_a_clear_log(RsKind::Frr);
}

#[test]
fn bird_with_a_wrong_md5_password_stays_down_and_the_log_says_why() {
    wrong_password_stays_down_with_a_clear_log(RsKind::Bird);
}

/// `md5_password_file: credential:NAME` reads `$CREDENTIALS_DIRECTORY/NAME`, where systemd's
/// `LoadCredential=NAME:PATH` puts the file (mode 0400); the environment is set here by hand.
#[test]
fn frr_md5_password_from_a_systemd_credential() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).md5_password(PASSWORD));
    let credentials = lab.dir.join("credentials");
    fs::create_dir_all(&credentials).unwrap();
    fs::set_permissions(&credentials, fs::Permissions::from_mode(0o500)).unwrap();
    let secret = credentials.join("bgp-md5");
    fs::write(&secret, PASSWORD).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o400)).unwrap();
    let config = lab.dir.join("elastic.yaml");
    fs::write(
        &config,
        "role: primary\nmd5_password_file: credential:bgp-md5\n",
    )
    .unwrap();
    let credentials_dir = credentials.to_string_lossy().into_owned();
    lab.start_daemon_with_env(
        1,
        &["-config", &config.to_string_lossy()],
        &[("CREDENTIALS_DIRECTORY", &credentials_dir)],
    );
    let host = lab.host(1).session_address();
    for slot in SLOTS {
        wait_established(&lab, slot, host, LONG);
    }
    wait_route_from(&lab, 1, PREFIX, host, LONG);
}

/// A password file group or others can read is refused before anything is bound or sent.
#[test]
fn a_password_file_others_can_read_stops_the_daemon_at_start() {
    let mut lab = Lab::new(
        LabSpec::new(RsKind::Frr)
            .md5_password(PASSWORD)
            .without_vips(),
    );
    let config = md5_config(&lab, PASSWORD, 0o644);
    let mut cmd = lab.host(1).ns.command(&daemon_binary());
    cmd.args([
        "-dcid",
        "14",
        "-neighborpattern",
        NEIGHBOR_PATTERN,
        "-address",
        "203.0.113.20/32",
        "-config",
        &config.to_string_lossy(),
    ]);
    let spawned = lab.spawn("daemon-open-secret", cmd);
    let id = or_panic(&lab, spawned);
    let status = lab.wait_exit(id, Duration::from_secs(15));
    let status = or_panic(&lab, status);
    assert_eq!(status.code(), Some(1), "{}", lab.log(id));
    let log = lab.log(id);
    let secret = lab.dir.join("bgp.secret");
    assert!(
        log.contains(&format!(
            "{}:2:1: md5_password_file: {}: group or others have access (mode 0644)",
            config.display(),
            secret.display()
        )),
        "{log}"
    );
    let on_lo = or_panic(
        &lab,
        lab.host(1).ns.ip(&["-o", "addr", "show", "dev", "lo"]),
    );
    assert!(!on_lo.contains("203.0.113.20"), "bound: {on_lo}");
}

/// `check-config` applies the same checks (no network: nothing is started).
#[test]
fn check_config_refuses_empty_long_and_open_password_files() {
    let dir = std::env::temp_dir().join(format!("el-md5-check-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, Vec<u8>, u32, &str); 4] = [
        ("ok", b"s3cret\n".to_vec(), 0o600, ""),
        ("empty", b"\n".to_vec(), 0o600, ": empty;"),
        ("long", vec![b'k'; 81], 0o600, "at most 80"),
        ("open", b"s3cret\n".to_vec(), 0o640, "(mode 0640)"),
    ];
    for (name, contents, mode, expected) in cases {
        let secret = dir.join(format!("{name}.secret"));
        fs::write(&secret, &contents).unwrap();
        fs::set_permissions(&secret, fs::Permissions::from_mode(mode)).unwrap();
        let config = dir.join(format!("{name}.yaml"));
        fs::write(
            &config,
            format!(
                "dcid: 14\nrole: primary\nneighbor_pattern: \"{NEIGHBOR_PATTERN}\"\n\
                 md5_password_file: {}\n",
                secret.display()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(daemon_binary())
            .args(["check-config", "-config", &config.to_string_lossy()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if expected.is_empty() {
            assert!(out.status.success(), "{name}: {stderr}");
            assert!(
                stdout.contains(&format!("md5_password_file: {}", secret.display())),
                "{name}: {stdout}"
            );
            assert!(
                !stdout.contains("s3cret"),
                "{name}: the password shows: {stdout}"
            );
        } else {
            assert_eq!(out.status.code(), Some(1), "{name}: {stdout}{stderr}");
            assert!(stderr.contains(expected), "{name}: {stderr}");
        }
    }
    let _ = fs::remove_dir_all(&dir);
}
