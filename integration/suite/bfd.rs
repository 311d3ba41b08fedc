//! BFD against real route servers (FRR's bfdd, BIRD's `protocol bfd`) on the first route-server
//! address; the other three run no BFD, which is the "provider without BFD" case. Intervals are
//! 1 s × 3 (FRR's CI finds 300 ms too tight on loaded machines). Tests assert causes and order,
//! never timings.

use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use elastic_lab::{Lab, LabSpec, RsKind, VIP4, daemon_binary, rs_address, wait_until};
use nix::sys::signal::Signal;

use super::common::{
    SLOTS, or_panic, route_server_log_about, wait_established, wait_no_route_from, wait_route_from,
};

const LONG: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);
/// elastic's side of the lab's BFD: 1 s × 3, like the route servers'.
const METRICS_PORT: u16 = 9109;
const BFD_1S: &str = "bfd: {min_tx: 1s, min_rx: 1s, multiplier: 3}\n";

fn write_config(lab: &Lab, name: &str, text: &str) -> PathBuf {
    let path = lab.dir.join(name);
    fs::write(&path, text).expect("write the config");
    path
}

fn start(lab: &mut Lab, index: usize, role: &str, config: &str) -> elastic_lab::ProcId {
    let path = write_config(lab, &format!("bfd-{index}.yaml"), config);
    lab.start_daemon(index, &[role, "-config", path.to_str().unwrap()])
}

/// `elastic status --json` on host `index`.
fn status_json(lab: &Lab, index: usize) -> Option<serde_json::Value> {
    let out = lab
        .host(index)
        .ns
        .exec(&daemon_binary(), &["status", "--json"])
        .ok()?;
    serde_json::from_str(&out).ok()
}

/// Host `index`'s BFD session with route server `slot`, as `elastic status --json` shows it.
fn bfd_of(lab: &Lab, index: usize, slot: u8) -> Option<serde_json::Value> {
    let peer = rs_address(slot).to_string();
    let status = status_json(lab, index)?;
    status["sessions"]
        .as_array()?
        .iter()
        .find(|s| s["peer"] == peer.as_str())
        .map(|s| s["bfd"].clone())
}

fn wait_bfd_state(lab: &Lab, index: usize, slot: u8, state: &str) -> serde_json::Value {
    let r = wait_until(
        &format!("host {index}'s BFD with route server {slot} to be {state:?}"),
        LONG,
        POLL,
        || bfd_of(lab, index, slot).filter(|b| b["state"] == state),
    );
    or_panic(lab, r)
}

/// FRR bfdd's own view: the state of its session with `host` (`show bfd peers json`).
fn frr_bfd_state(lab: &Lab, host: IpAddr) -> Option<String> {
    let pathspace = format!("el-{}-rs1", lab.tag);
    let out = elastic_lab::run_cmd(
        "vtysh",
        &["-N", &pathspace, "-d", "bfdd", "-c", "show bfd peers json"],
    )
    .ok()?;
    let peers: serde_json::Value = serde_json::from_str(&out).ok()?;
    peers
        .as_array()?
        .iter()
        .find(|p| p["peer"].as_str().and_then(|a| a.parse().ok()) == Some(host))
        .and_then(|p| p["status"].as_str().map(str::to_string))
}

#[test]
fn frr_bfdd_brings_bfd_up_and_route_servers_without_bfd_stay_established() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).with_bfd());
    start(&mut lab, 1, "-primary", BFD_1S);
    let host = lab.host(1).session_address();
    for slot in SLOTS {
        wait_established(&lab, slot, host, LONG);
    }
    let up = wait_bfd_state(&lab, 1, 1, "up");
    assert_eq!(up["remote_state"], "up", "{up}");
    let r = wait_until("bfdd to report the session up", LONG, POLL, || {
        frr_bfd_state(&lab, host).filter(|s| s == "up")
    });
    or_panic(&lab, r);
    // Route servers 2-4 run no BFD: BGP stays Established and status says so plainly.
    for slot in [2, 3, 4] {
        let bfd = wait_bfd_state(&lab, 1, slot, "not answered");
        assert_eq!(bfd["path_failures"], 0, "{bfd}");
        assert!(lab.established(slot, host), "route server {slot}");
    }
    let (_, text) = (
        (),
        or_panic(&lab, lab.host(1).ns.exec(&daemon_binary(), &["status"])),
    );
    assert!(text.contains("BFD up"), "{text}");
    assert!(text.contains("BFD not answered"), "{text}");
}

#[test]
fn bird_brings_bfd_up_when_the_hosts_accept_its_system_ttl() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Bird).with_bfd());
    // BIRD sends multihop BFD with the system's TTL (64), below the default minimum of 240.
    start(
        &mut lab,
        1,
        "-primary",
        "bfd: {min_tx: 1s, min_rx: 1s, multiplier: 3, min_ttl: 60}\n",
    );
    let host = lab.host(1).session_address();
    wait_established(&lab, 1, host, LONG);
    let up = wait_bfd_state(&lab, 1, 1, "up");
    assert_eq!(up["remote_state"], "up", "{up}");
}

#[test]
fn a_frozen_primary_loses_its_route_to_bfd_not_to_the_hold_timer() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(2).with_bfd());
    start(&mut lab, 1, "-primary", BFD_1S);
    start(&mut lab, 2, "-secondary", BFD_1S);
    let (host_a, host_b) = (lab.host(1).session_address(), lab.host(2).session_address());
    let prefix = format!("{VIP4}/32");
    wait_route_from(&lab, 1, &prefix, host_a, LONG);
    wait_route_from(&lab, 1, &prefix, host_b, LONG);
    wait_bfd_state(&lab, 1, 1, "up");
    wait_bfd_state(&lab, 2, 1, "up");

    // Freeze A: its elastic stops, and nothing it sends leaves the host (the kernel would still
    // ACK BGP's TCP). The links stay up, so the route server sees no link event.
    let frozen = or_panic(&lab, lab.freeze_host(1));
    // A's default hold time is 9 s; BFD at 1 s × 3 must come first.
    wait_no_route_from(&lab, 1, &prefix, host_a, LONG);
    wait_route_from(&lab, 1, &prefix, host_b, Duration::from_secs(5));
    let about_a = route_server_log_about(&lab, 1, host_a);
    assert!(
        // "%NOTIFICATION: sent to neighbor … 6/10 (Cease/BFD Down)"
        about_a.iter().any(|l| l.contains("6/10 (Cease/BFD Down)")),
        "bgpd did not take A down for BFD:\n{}",
        about_a.join("\n")
    );
    assert!(
        !about_a.iter().any(|l| l.contains("Hold Timer Expired")),
        "A's hold timer expired before BFD acted:\n{}",
        about_a.join("\n")
    );
    or_panic(&lab, frozen.thaw());
}

/// Sends `datagram` from `source` (an address of the router namespace) to host 1's BFD port,
/// with hop limit `hops`.
fn send_from_router(lab: &Lab, source: IpAddr, hops: u8, datagram: &[u8]) {
    let host = lab.host(1).session_address();
    let hex: String = datagram.iter().map(|b| format!("{b:02x}")).collect();
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
         s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, {hops})\n\
         s.bind(('{source}', 0))\n\
         s.sendto(bytes.fromhex('{hex}'), ('{host}', 4784))\n"
    );
    or_panic(lab, lab.router.exec("/usr/bin/python3", &["-c", &script]));
}

#[test]
fn hostile_bfd_packets_are_counted_and_never_flap_the_session() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).with_bfd());
    start(
        &mut lab,
        1,
        "-primary",
        &format!("{BFD_1S}metrics: \"127.0.0.1:{METRICS_PORT}\"\n"),
    );
    let host = lab.host(1).session_address();
    wait_established(&lab, 1, host, LONG);
    let up = wait_bfd_state(&lab, 1, 1, "up");
    let ours = up["local_discriminator"].as_u64().unwrap() as u32;

    // From route server 1's own address (spoofed from the router): wrong version, multiplier 0,
    // someone else's discriminator, and a well-formed Down sent from too far away.
    let rs1 = rs_address(1);
    let mut down = [
        0x20, 0x40, 3, 24, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 0, 0x0f, 0x42, 0x40, 0, 0,
        0, 0,
    ];
    let mut wrong_version = down;
    wrong_version[0] = 0x40;
    let mut zero_mult = down;
    zero_mult[2] = 0;
    let mut not_ours = down;
    not_ours[8..12].copy_from_slice(&ours.wrapping_add(1).to_be_bytes());
    for datagram in [wrong_version, zero_mult, not_ours] {
        send_from_router(&lab, rs1, 255, &datagram);
    }
    send_from_router(&lab, rs1, 10, &down);
    // From an address that is no route server at all.
    down[4..8].copy_from_slice(&7u32.to_be_bytes());
    send_from_router(&lab, "2001:db8:ff:1::1".parse().unwrap(), 255, &down);

    let r = wait_until("the hostile packets to be counted", LONG, POLL, || {
        let bfd = bfd_of(&lab, 1, 1)?;
        let dropped = &bfd["dropped"];
        let counted = [
            "bad_version",
            "zero_multiplier",
            "unknown_discriminator",
            "low_ttl",
        ]
        .iter()
        .all(|reason| dropped[reason].as_u64().unwrap_or(0) >= 1);
        counted.then_some(bfd)
    });
    let bfd = or_panic(&lab, r);
    assert_eq!(bfd["state"], "up", "{bfd}");
    assert_eq!(bfd["path_failures"], 0, "{bfd}");
    // Several detection times later the session is still up and was never taken down.
    std::thread::sleep(Duration::from_secs(4));
    let bfd = bfd_of(&lab, 1, 1).expect("status");
    assert_eq!(
        (bfd["state"].as_str(), bfd["path_failures"].as_u64()),
        (Some("up"), Some(0))
    );
    assert!(lab.established(1, host));
    // The packet from an address that is no route server belongs to no session: the metrics
    // count it.
    let scrape = format!(
        "import urllib.request; \
         print(urllib.request.urlopen('http://127.0.0.1:{METRICS_PORT}/metrics').read().decode())"
    );
    let metrics = or_panic(
        &lab,
        lab.host(1).ns.exec("/usr/bin/python3", &["-c", &scrape]),
    );
    let unknown = "elastic_bfd_packets_dropped_total{peer=\"\",reason=\"unknown_source\"} ";
    assert!(metrics.lines().any(|l| l.starts_with(unknown)), "{metrics}");
}

/// The PID of route server 1's bfdd (its pathspace names it).
fn bfdd_pid(lab: &Lab) -> Option<i32> {
    let pathspace = format!("el-{}-rs1", lab.tag);
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
        let words: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_bfdd = words.first()?.ends_with(b"bfdd");
        (is_bfdd && words.contains(&pathspace.as_bytes())).then_some(pid)
    })
}

#[test]
fn a_silent_route_server_bfd_takes_bgp_down_with_cease_bfd_down_and_bgp_comes_back_without_it() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).with_bfd());
    let daemon = start(&mut lab, 1, "-primary", BFD_1S);
    let host = lab.host(1).session_address();
    wait_established(&lab, 1, host, LONG);
    wait_bfd_state(&lab, 1, 1, "up");
    // Freeze the route server's bfdd only: BGP and the path are fine, BFD goes silent.
    let bfdd = bfdd_pid(&lab).expect("bfdd running");
    let signal = |sig| nix::sys::signal::kill(nix::unistd::Pid::from_raw(bfdd), sig);
    signal(Signal::SIGSTOP).expect("SIGSTOP bfdd");
    let r = wait_until(
        "elastic to take the session down for BFD",
        LONG,
        POLL,
        || {
            let log = lab.log(daemon);
            log.lines()
                .any(|l| l.contains("sent NOTIFICATION") && l.contains("Cease/BFD Down (6/10)"))
                .then_some(())
        },
    );
    if let Err(e) = r {
        let _ = signal(Signal::SIGCONT);
        panic!("{e}\n{}", lab.log(daemon));
    }
    // BGP does not wait for BFD: it reconnects (at the base delay) while BFD stays down.
    wait_established(&lab, 1, host, LONG);
    let bfd = bfd_of(&lab, 1, 1).expect("status");
    assert_ne!(bfd["state"], "up", "{bfd}");
    assert_eq!(bfd["path_failures"], 1, "{bfd}");
    let _ = signal(Signal::SIGCONT);
    // And once the route server's BFD answers again, so does ours.
    wait_bfd_state(&lab, 1, 1, "up");
}

#[test]
fn the_route_server_turning_bfd_off_with_admin_down_leaves_bgp_up() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).with_bfd());
    let daemon = start(&mut lab, 1, "-primary", BFD_1S);
    let host = lab.host(1).session_address();
    wait_established(&lab, 1, host, LONG);
    wait_bfd_state(&lab, 1, 1, "up");
    // The operator shuts the BFD session down on the route server: bfdd says AdminDown.
    let pathspace = format!("el-{}-rs1", lab.tag);
    let peer = format!("peer {host} multihop local-address {}", rs_address(1));
    or_panic(
        &lab,
        elastic_lab::run_cmd(
            "vtysh",
            &[
                "-N",
                &pathspace,
                "-d",
                "bfdd",
                "-c",
                "configure terminal",
                "-c",
                "bfd",
                "-c",
                &peer,
                "-c",
                "shutdown",
            ],
        ),
    );
    let r = wait_until("our BFD to hear AdminDown", LONG, POLL, || {
        bfd_of(&lab, 1, 1).filter(|b| b["remote_state"] == "admin-down")
    });
    let bfd = or_panic(&lab, r);
    assert_eq!(bfd["path_failures"], 0, "{bfd}");
    // Longer than a detection time: BGP stays up, no NOTIFICATION went out.
    std::thread::sleep(Duration::from_secs(4));
    assert!(lab.established(1, host), "{}", lab.diagnostics());
    let log = lab.log(daemon);
    assert!(
        !log.lines().any(|l| l.contains("sent NOTIFICATION")),
        "{log}"
    );
}

#[test]
fn a_reload_that_turns_bfd_off_restarts_the_sessions_and_bgp_runs_without_it() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).with_bfd());
    let path = write_config(&lab, "bfd-reload.yaml", BFD_1S);
    let daemon = lab.start_daemon(1, &["-primary", "-config", path.to_str().unwrap()]);
    let host = lab.host(1).session_address();
    wait_established(&lab, 1, host, LONG);
    wait_bfd_state(&lab, 1, 1, "up");
    fs::write(&path, "# bfd removed\n").expect("rewrite the config");
    lab.signal(daemon, Signal::SIGHUP);
    // Changed session settings: Cease 6/6 to each route server, then a new session without BFD.
    let r = wait_until("route server 1 to log our Cease 6/6", LONG, POLL, || {
        lab.logged_cease_from(1, host).ok()?.then_some(())
    });
    or_panic(&lab, r);
    let r = wait_until("status to show no BFD", LONG, POLL, || {
        bfd_of(&lab, 1, 1).filter(serde_json::Value::is_null)
    });
    or_panic(&lab, r);
    // And the new session runs without BFD.
    let r = wait_until("the new session to be Established", LONG, POLL, || {
        let status = status_json(&lab, 1)?;
        (status["sessions"][0]["state"] == "Established").then_some(())
    });
    or_panic(&lab, r);
}
