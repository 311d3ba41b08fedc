//! The real `elastic` daemon in VRRP mode (started with a config file), against keepalived
//! (`vrrp_version 3`) both ways round and against another elastic, on the IPv4 segment of
//! [`super::vrrp_lab`] (client 192.0.2.100, hosts 192.0.2.2 and .3, VIP 198.51.100.10).
//!
//! Each host runs `labnet serve` on the VIP (198.51.100.10:7777, `ip_nonlocal_bind` so it binds
//! before the VIP arrives) answering with its name; the client's `labnet probe` says who answered.
//! Tests assert who holds the VIP, who answers and in which order, never how fast.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use elastic::vrrp::wire::{Addresses, Advert, AdvertInterval, GROUP_V4, PROTOCOL, encode};
use elastic_lab::daemon_binary;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::vrrp_lab::{
    Family, LabFile, Segment, answerers_in_order, assert_in_order, ip, probe, terminate, wait_for,
};

const VIP: &str = "198.51.100.10";

/// These tests' segment (IPv4), with what they run on it: responders, elastic with a probe that
/// fails while a file exists, and a hook that logs the VRRP states.
struct Daemon4;

impl LabFile for Daemon4 {
    const CODE: &'static str = "d4";
}

type Lab = Segment<Daemon4>;

impl Lab {
    /// elastic in VRRP mode on host `host` at `priority`; its probe passes while `down-<host>`
    /// does not exist. Returns the child's index.
    fn elastic(&mut self, host: usize, priority: u8) -> usize {
        self.elastic_with(host, priority, None)
    }

    /// [`Lab::elastic`]; with `capabilities` (setpriv's form, `+net_admin,+net_raw`), as an
    /// unprivileged user holding only those, inherited and ambient, as systemd starts the unit.
    fn elastic_with(&mut self, host: usize, priority: u8, capabilities: Option<&str>) -> usize {
        let config = self.write_config(host, priority, "withdraw");
        self.spawn_elastic_with(host, &config, capabilities)
    }

    /// Host `host`'s config: the probe `web` fails while `down-<host>` exists, and the service
    /// does `on_down` then; the hook logs every VRRP state change.
    fn write_config(&self, host: usize, priority: u8, on_down: &str) -> PathBuf {
        self.write_config_with(host, priority, on_down, "")
    }

    /// [`Lab::write_config`] with `extra` keys in the instance (indented as its keys).
    fn write_config_with(&self, host: usize, priority: u8, on_down: &str, extra: &str) -> PathBuf {
        let down = self.down_file(host);
        let hook_log = self.hook_log(host);
        let config = self.dir.join(format!("elastic-{host}.yaml"));
        std::fs::write(
            &config,
            format!(
                "probes:\n  web: {{ exec: [\"/bin/sh\", \"-c\", \"test ! -e {}\"], interval: 100ms, rise: 1, fall: 1 }}\n\
                 services:\n  - name: web\n    on_down: {on_down}\n\
                 maintenance_file: {}\nmaintenance_poll: 100ms\n\
                 hooks:\n  on_change: [\"/bin/sh\", \"-c\", \"[ -z \\\"$ELASTIC_VRRP_STATE\\\" ] || echo \\\"$ELASTIC_VRRP_INSTANCE $ELASTIC_VRRP_STATE $ELASTIC_STATE\\\" >> {}\"]\n\
                 vrrp:\n  interface: eth0\n  vrid: 51\n  priority: {priority}\n  advert_interval: 100ms\n  \
                 addresses: [\"{VIP}/24\"]\n{extra}",
                down.display(),
                self.maintenance_file(host).display(),
                hook_log.display(),
            ),
        )
        .unwrap();
        config
    }

    fn maintenance_file(&self, host: usize) -> PathBuf {
        self.dir.join(format!("maintenance-{host}"))
    }

    fn hook_log(&self, host: usize) -> PathBuf {
        self.dir.join(format!("hook-{host}.log"))
    }

    fn down_file(&self, host: usize) -> PathBuf {
        self.dir.join(format!("down-{host}"))
    }

    /// Waits until host `host` holds the VIP and the other does not, and the client's requests
    /// are answered by it.
    fn wait_master(&self, host: usize) {
        let name = ["a", "b"][host];
        wait_for(
            &format!("host {name} alone holding the VIP"),
            Duration::from_secs(15),
            || self.holds_vip(host) && !self.holds_vip(1 - host),
        );
        wait_for(
            &format!("the client answered by {name}"),
            Duration::from_secs(15),
            || {
                let report = self.probe(Duration::from_millis(300));
                report.lost == 0 && report.last_answerer.as_deref() == Some(name)
            },
        );
    }
}

/// SIGTERM to the master at `host` while the client sends every 10 ms: the other host takes
/// over and not one request is lost (priority 0, the VIP kept until the new master speaks).
fn planned_stop_loses_nothing(segment: &mut Lab, master: usize, child: usize) {
    segment.planned_stop_loses_nothing(master, child);
    assert!(!segment.holds_vip(master), "the stopped host holds nothing");
    let log = segment.log(&format!("elastic-{master}.log"));
    assert!(log.contains("stopping: every master hands over"), "{log}");
}

/// elastic (150) is master, keepalived (100) its backup: its probe fails → keepalived takes the
/// VIP; it recovers → elastic preempts back (and the client follows); SIGTERM → keepalived takes
/// it over without a lost request.
#[test]
fn vrrp_daemon_master_against_keepalived_backup() {
    let mut segment = Lab::new('k', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let elastic = segment.elastic(0, 150);
    segment.keepalived(1, 100);
    segment.wait_master(0);
    wait_for("keepalived as backup", Duration::from_secs(10), || {
        segment
            .log("keepalived-1.log")
            .contains("Entering BACKUP STATE")
    });

    // The service fails: elastic hands over (priority 0), keepalived becomes master.
    std::fs::write(segment.down_file(0), "").unwrap();
    segment.wait_master(1);
    assert!(
        segment
            .log("keepalived-1.log")
            .contains("Entering MASTER STATE")
    );

    // It recovers: elastic, at the higher priority, preempts back and the client's ARP follows.
    std::fs::remove_file(segment.down_file(0)).unwrap();
    segment.wait_master(0);

    planned_stop_loses_nothing(&mut segment, 0, elastic);
    let log = segment.log("elastic-0.log");
    assert_in_order(
        &log,
        &[
            "to=\"master\"",
            "to=\"fault\"",
            "to=\"backup\"",
            "to=\"master\"",
            "stopping: every master hands over",
            "to=\"initialize\"",
        ],
    );
}

/// keepalived (200) is master, elastic (100) its backup holding nothing; keepalived stops →
/// elastic takes the VIP; keepalived comes back → elastic gives it up again.
#[test]
fn vrrp_daemon_backup_against_keepalived_master() {
    let mut segment = Lab::new('j', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let keepalived = segment.keepalived(1, 200);
    segment.wait_master(1);
    let elastic = segment.elastic(0, 100);
    wait_for("elastic as backup", Duration::from_secs(10), || {
        segment.log("elastic-0.log").contains("to=\"backup\"")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(!segment.holds_vip(0), "a backup holds nothing");

    assert!(terminate(&mut segment.children[keepalived]));
    segment.wait_master(0);

    segment.keepalived(1, 200);
    segment.wait_master(1);
    assert!(terminate(&mut segment.children[elastic]));
    assert!(!segment.holds_vip(0));
}

/// Two elastic daemons: the primary (150) holds the VIP; its SIGTERM hands over to the backup
/// (100) without a lost request.
#[test]
fn vrrp_daemon_against_elastic() {
    let mut segment = Lab::new('e', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let primary = segment.elastic(0, 150);
    segment.elastic(1, 100);
    segment.wait_master(0);
    wait_for("the backup elastic", Duration::from_secs(10), || {
        segment.log("elastic-1.log").contains("to=\"backup\"")
    });
    // elastic status shows each side's instance.
    let master = segment.status(0);
    assert_eq!(master["name"], "eth0/51", "{master}");
    assert_eq!(master["state"], "master", "{master}");
    assert_eq!(master["priority"], 150, "{master}");
    assert_eq!(master["holding_addresses"], true, "{master}");
    // The gobgp CLI, as lelastic's users run it, is told there is no BGP here.
    let gobgp = Command::new("ip")
        .args(["netns", "exec", &segment.hosts[0], "gobgp", "neighbor"])
        .output()
        .expect("gobgp");
    let said = String::from_utf8_lossy(&gobgp.stderr).into_owned()
        + &String::from_utf8_lossy(&gobgp.stdout);
    assert!(
        !gobgp.status.success() && said.contains("VRRP mode"),
        "gobgp neighbor in VRRP mode: {said}"
    );
    wait_for(
        "the backup hearing the master",
        Duration::from_secs(5),
        || {
            let backup = segment.status(1);
            backup["state"] == "backup"
                && backup["master_address"] == "192.0.2.2"
                && backup["master_priority"] == 150
                && backup["adverts_received"].as_u64() > Some(0)
        },
    );
    planned_stop_loses_nothing(&mut segment, 0, primary);
    let log = segment.log("elastic-1.log");
    assert!(log.contains("to=\"master\""), "{log}");
    // The hooks got the VRRP states, in order (the backup's hook: fault while its probe waited,
    // then backup, then master after the handover).
    wait_for("the hooks to run", Duration::from_secs(5), || {
        std::fs::read_to_string(segment.hook_log(1)).is_ok_and(|l| l.contains("master"))
    });
    let hooks: Vec<String> = std::fs::read_to_string(segment.hook_log(1))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        hooks
            .iter()
            .skip_while(|l| l.ends_with("fault fault"))
            .collect::<Vec<_>>(),
        ["eth0/51 backup backup", "eth0/51 master master"],
        "{hooks:?}"
    );
    let primary_hooks = std::fs::read_to_string(segment.hook_log(0)).unwrap();
    assert!(
        primary_hooks.contains("eth0/51 master master"),
        "{primary_hooks}"
    );
}

/// The unit's drop-in: with the BGP unit's only capability (CAP_NET_ADMIN) VRRP mode cannot open
/// its raw sockets and adds nothing; with CAP_NET_RAW added (what `systemd/elastic-vrrp.conf`
/// grants) the unprivileged daemon becomes master and holds the VIP. The drop-in verifies, adds
/// AF_PACKET, and keeps the unit's exposure at 2.0 or better.
#[test]
fn vrrp_daemon_needs_cap_net_raw_which_the_drop_in_grants() {
    let mut segment = Lab::new('u', Family::V4);
    segment.elastic_with(0, 150, Some("+net_admin"));
    wait_for("the refusal in the log", Duration::from_secs(10), || {
        segment
            .log("elastic-0.log")
            .contains("VRRP instance cannot run")
    });
    std::thread::sleep(Duration::from_millis(600));
    assert!(!segment.holds_vip(0), "nothing added without CAP_NET_RAW");
    let status = segment.status(0);
    assert!(
        status["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}"
    );
    let text = Command::new("ip")
        .args([
            "netns",
            "exec",
            &segment.hosts[0],
            &daemon_binary(),
            "status",
        ])
        .output()
        .expect("elastic status");
    assert_eq!(text.status.code(), Some(1), "an instance not running");
    assert!(String::from_utf8_lossy(&text.stdout).contains("NOT OK: not running: eth0/51"));

    segment.elastic_with(1, 150, Some("+net_admin,+net_raw"));
    wait_for(
        "the VIP on the unprivileged master",
        Duration::from_secs(10),
        || segment.holds_vip(1),
    );
    let log = segment.log("elastic-1.log");
    assert!(!log.contains("cannot send gratuitous ARP"), "{log}");

    let root = segment.dir.join("root");
    let drop_ins = root.join("etc/systemd/system/elastic.service.d");
    std::fs::create_dir_all(&drop_ins).unwrap();
    let manifest = env!("CARGO_MANIFEST_DIR");
    let unit = std::fs::read_to_string(format!("{manifest}/systemd/elastic.service"))
        .unwrap()
        .replace("/usr/sbin/elastic", &daemon_binary());
    std::fs::write(root.join("etc/systemd/system/elastic.service"), unit).unwrap();
    std::fs::copy(
        format!("{manifest}/systemd/elastic-vrrp.conf"),
        drop_ins.join("vrrp.conf"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(format!("--root={}", root.display()))
        .arg("elastic.service")
        .output()
        .expect("systemd-analyze");
    let report = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split("exposure level for elastic.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure in {report}"));
    assert!(exposure <= 2.0, "{exposure}: {report}");
    assert!(
        report
            .lines()
            .any(|l| l.contains("✗ RestrictAddressFamilies=~AF_PACKET")),
        "AF_PACKET allowed: {report}"
    );
}

/// `on_down: {demote: {priority: 60}}`: elastic (150) demoted to 90 loses to keepalived (100)
/// but keeps taking part, and takes the VIP back at 150 once the probe passes. A SIGHUP that
/// lowers its priority to 50 applies without a restart: keepalived takes over.
#[test]
fn vrrp_daemon_demotes_by_priority_and_reloads_a_priority_without_restart() {
    let mut segment = Lab::new('d', Family::V4);
    segment.responder(0);
    segment.responder(1);
    segment.write_config(0, 150, "{demote: {priority: 60}}");
    let config = segment.dir.join("elastic-0.yaml");
    let config = config.to_str().unwrap().to_string();
    let elastic = segment.spawn(
        0,
        "elastic-0.log",
        &daemon_binary(),
        &["-config", &config, "-loglevel", "debug"],
    );
    segment.keepalived(1, 100);
    segment.wait_master(0);

    std::fs::write(segment.down_file(0), "").unwrap();
    segment.wait_master(1);
    let demoted = segment.status(0);
    assert_eq!(demoted["state"], "backup", "demoted, not out: {demoted}");
    assert_eq!(demoted["priority"], 90, "{demoted}");
    assert_eq!(demoted["configured_priority"], 150, "{demoted}");

    std::fs::remove_file(segment.down_file(0)).unwrap();
    segment.wait_master(0);

    segment.write_config(0, 50, "{demote: {priority: 60}}");
    let pid = nix::unistd::Pid::from_raw(segment.children[elastic].id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    segment.wait_master(1);
    let reloaded = segment.status(0);
    assert_eq!(reloaded["state"], "backup", "{reloaded}");
    assert_eq!(reloaded["configured_priority"], 50, "{reloaded}");
    let log = segment.log("elastic-0.log");
    assert!(log.contains("configured priority changed"), "{log}");
    assert!(
        !log.contains("handing over, then starting again"),
        "no restart: {log}"
    );
    assert!(terminate(&mut segment.children[elastic]));
}

/// A master killed with SIGKILL leaves its VIP behind (marked as elastic's); keepalived takes
/// over, so the VIP is on both hosts; the next elastic start removes the leftover and runs as
/// backup, holding nothing.
#[test]
fn vrrp_daemon_removes_what_a_killed_run_left_behind() {
    let mut segment = Lab::new('x', Family::V4);
    let elastic = segment.elastic(0, 150);
    wait_for("elastic holding the VIP", Duration::from_secs(10), || {
        segment.holds_vip(0)
    });
    segment.children[elastic].kill().unwrap();
    segment.children[elastic].wait().unwrap();
    assert!(segment.holds_vip(0), "SIGKILL leaves the VIP behind");
    segment.keepalived(1, 200);
    wait_for(
        "keepalived holding the VIP too",
        Duration::from_secs(10),
        || segment.holds_vip(1),
    );
    let again = segment.elastic(0, 100);
    wait_for("elastic as backup", Duration::from_secs(10), || {
        segment.log("elastic-0.log").contains("to=\"backup\"")
    });
    wait_for("the leftover gone", Duration::from_secs(5), || {
        !segment.holds_vip(0)
    });
    assert!(
        segment
            .log("elastic-0.log")
            .contains("removing a virtual address an earlier run left behind")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!segment.holds_vip(0) && segment.holds_vip(1));
    assert!(terminate(&mut segment.children[again]));
}

/// A frozen master (SIGSTOP, and its link down so nothing it would send gets out) is replaced
/// by the backup after the master-down interval; thawed, it preempts back at its higher priority
/// and the backup gives the VIP up.
#[test]
fn vrrp_daemon_replaces_a_frozen_master() {
    let mut segment = Lab::new('f', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let primary = segment.elastic(0, 150);
    segment.elastic(1, 100);
    segment.wait_master(0);
    let pid = nix::unistd::Pid::from_raw(segment.children[primary].id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    ip(&["-n", &segment.client, "link", "set", "va", "down"]);
    wait_for(
        "the backup holding the VIP",
        Duration::from_secs(10),
        || segment.holds_vip(1),
    );
    wait_for("the client answered by b", Duration::from_secs(10), || {
        let report = segment.probe(Duration::from_millis(300));
        report.lost == 0 && report.last_answerer.as_deref() == Some("b")
    });
    ip(&["-n", &segment.client, "link", "set", "va", "up"]);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    segment.wait_master(0);
    assert_in_order(
        &segment.log("elastic-1.log"),
        &["to=\"backup\"", "to=\"master\"", "to=\"backup\""],
    );
}

/// The master's own link goes down: the backup takes over, the master logs its failing sends
/// once (not per advert) and keeps running; the link back up, it preempts back.
#[test]
fn vrrp_daemon_survives_its_link_going_down() {
    let mut segment = Lab::new('l', Family::V4);
    segment.responder(0);
    segment.responder(1);
    segment.elastic(0, 150);
    segment.elastic(1, 100);
    segment.wait_master(0);
    let host_a = segment.hosts[0].clone();
    ip(&["-n", &host_a, "link", "set", "eth0", "down"]);
    wait_for(
        "the backup holding the VIP",
        Duration::from_secs(10),
        || segment.holds_vip(1),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let log = segment.log("elastic-0.log");
    assert_eq!(
        log.matches("cannot send adverts").count(),
        1,
        "the failing sends logged once: {log}"
    );
    ip(&["-n", &host_a, "link", "set", "eth0", "up"]);
    segment.wait_master(0);
    assert_in_order(
        &segment.log("elastic-0.log"),
        &["cannot send adverts", "adverts are sent again"],
    );
}

/// The maintenance file hands over like a stop (priority 0, the VIP kept until the backup
/// speaks): a client sending every 10 ms loses nothing; its removal preempts back.
#[test]
fn vrrp_daemon_maintenance_hands_over_without_loss() {
    let mut segment = Lab::new('m', Family::V4);
    segment.responder(0);
    segment.responder(1);
    segment.elastic(0, 150);
    segment.elastic(1, 100);
    segment.wait_master(0);
    let client = segment.client.clone();
    let target = segment.target();
    let probing = std::thread::spawn(move || probe(&client, &target, Duration::from_millis(2500)));
    std::thread::sleep(Duration::from_millis(700));
    std::fs::write(segment.maintenance_file(0), "").unwrap();
    let report = probing.join().expect("probe thread");
    assert_eq!(report.lost, 0, "maintenance loses nothing: {report:?}");
    assert_eq!(answerers_in_order(&report), ["a", "b"], "{report:?}");
    assert!(!segment.holds_vip(0));
    let status = segment.status(0);
    assert_eq!(status["state"], "fault", "{status}");
    assert_eq!(status["priority"], 0, "{status}");
    std::fs::remove_file(segment.maintenance_file(0)).unwrap();
    segment.wait_master(0);
}

/// The master's interface is deleted (the veth pair goes): the backup takes over, the master
/// goes to Fault (its hook says so) and says why; the interface recreated under the same name
/// (a new index), the instance starts again on it and preempts back.
#[test]
fn vrrp_daemon_follows_its_interface_removed_and_recreated() {
    let mut segment = Lab::new('r', Family::V4);
    segment.responder(0);
    segment.responder(1);
    segment.elastic(0, 150);
    segment.elastic(1, 100);
    segment.wait_master(0);
    let (client, host_a) = (segment.client.clone(), segment.hosts[0].clone());
    ip(&["-n", &host_a, "link", "del", "eth0"]);
    wait_for(
        "the backup holding the VIP",
        Duration::from_secs(10),
        || segment.holds_vip(1),
    );
    // The error says "removed", then, once a retry found no interface, "no such interface".
    wait_for("host a in fault", Duration::from_secs(5), || {
        let status = segment.status(0);
        status["state"] == "fault" && status["error"].as_str().is_some_and(|e| !e.is_empty())
    });
    wait_for("the fault hook", Duration::from_secs(5), || {
        std::fs::read_to_string(segment.hook_log(0)).is_ok_and(|l| l.contains("eth0/51 fault"))
    });

    ip(&[
        "-n", &client, "link", "add", "va", "type", "veth", "peer", "name", "eth0", "netns",
        &host_a,
    ]);
    ip(&["-n", &client, "link", "set", "va", "master", "vbr", "up"]);
    ip(&["-n", &host_a, "addr", "add", "192.0.2.2/24", "dev", "eth0"]);
    ip(&["-n", &host_a, "link", "set", "eth0", "up"]);
    segment.wait_master(0);
    assert_in_order(
        &segment.log("elastic-0.log"),
        &[
            "to=\"master\"",
            "to=\"fault\"",
            "to=\"backup\"",
            "to=\"master\"",
        ],
    );
    let log = segment.log("elastic-0.log");
    assert!(log.contains("the interface was removed"), "{log}");
    assert!(
        !log.contains("cannot remove"),
        "gone with the interface: {log}"
    );
    assert_in_order(
        &segment.log("elastic-1.log"),
        &["to=\"backup\"", "to=\"master\"", "to=\"backup\""],
    );
}

/// The client's address on the segment: the third party of the hostile-advert tests.
const THIRD_PARTY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

/// A well-formed advert for VRID 51 from [`THIRD_PARTY`] to `to`, at `priority` (10 ms adverts).
fn third_party_advert(priority: u8, to: Ipv4Addr) -> Vec<u8> {
    let advert = Advert {
        vrid: 51,
        priority,
        max_advert_interval: AdvertInterval::from_centiseconds(1).unwrap(),
        addresses: Addresses::V4(vec![VIP.parse().unwrap()]),
    };
    encode(&advert, IpAddr::V4(THIRD_PARTY), IpAddr::V4(to)).unwrap()
}

/// Sends each (bytes, TTL) of `packets` from the client's namespace to `to` as protocol 112,
/// `rounds` times, 200 ms apart.
fn send_from_client(segment: &Lab, packets: &[(Vec<u8>, u32)], to: Ipv4Addr, rounds: u32) {
    let path = std::path::Path::new("/run/netns").join(&segment.client);
    let packets = packets.to_vec();
    std::thread::spawn(move || {
        let ns = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(PROTOCOL))),
        )
        .expect("a raw socket");
        socket.bind_device(Some(b"vbr")).unwrap();
        socket.set_multicast_if_v4(&THIRD_PARTY).unwrap();
        let destination = SockAddr::from(SocketAddr::from((to, 0)));
        for _ in 0..rounds {
            for (bytes, ttl) in &packets {
                socket.set_multicast_ttl_v4(*ttl).unwrap();
                socket.set_ttl_v4(*ttl).unwrap();
                socket.send_to(bytes, &destination).expect("send");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .join()
    .expect("the third party's sender");
}

/// Hostile adverts from a third party on the segment (the client), sprayed at the group while
/// the client sends requests every 10 ms: a priority-254 advert with a bad checksum, one with
/// TTL 64, a version-2 one, a priority-0 one with a bad checksum (which would make the backup
/// take over), cut ones, and random bytes. Both daemons stay up, the master keeps the VIP, the
/// backup stays a backup, nothing is lost, and each daemon counts what it dropped.
#[test]
fn vrrp_daemon_ignores_hostile_adverts_and_counts_them() {
    let mut segment = Lab::new('h', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let primary = segment.elastic(0, 150);
    let backup = segment.elastic(1, 100);
    segment.wait_master(0);
    wait_for("the backup elastic", Duration::from_secs(10), || {
        segment.log("elastic-1.log").contains("to=\"backup\"")
    });

    let advert = |priority: u8| third_party_advert(priority, GROUP_V4);
    let bad_checksum = |mut bytes: Vec<u8>| {
        bytes[6] ^= 0xff;
        bytes
    };
    let mut version_2 = advert(254);
    version_2[0] = 0x21;
    // (bytes, TTL): each would matter if it were believed.
    let mut hostile: Vec<(Vec<u8>, u32)> = vec![
        (bad_checksum(advert(254)), 255),
        (advert(254), 64),
        (version_2, 255),
        (bad_checksum(advert(0)), 255),
        (advert(254)[..7].to_vec(), 255),
        (Vec::new(), 255),
    ];
    for i in 0..200u32 {
        let length = (i % 60) as usize;
        hostile.push(((0..length).map(|_| fastrand::u8(..)).collect(), 255));
    }

    let client = segment.client.clone();
    let target = segment.target();
    let probing = std::thread::spawn(move || probe(&client, &target, Duration::from_millis(2500)));
    // Ten rounds over 2 s, so each kind arrives in every state of the run.
    send_from_client(&segment, &hostile, GROUP_V4, 10);
    let report = probing.join().expect("probe thread");

    assert_eq!(report.lost, 0, "nothing lost: {report:?}");
    assert_eq!(
        report.last_answerer.as_deref(),
        Some("a"),
        "the master kept the VIP"
    );
    assert!(segment.holds_vip(0) && !segment.holds_vip(1));
    for (host, child) in [(0, primary), (1, backup)] {
        assert!(
            segment.children[child].try_wait().unwrap().is_none(),
            "daemon {host} still running"
        );
        let status = segment.status(host);
        assert!(
            status["adverts_discarded"].as_u64() >= Some(40),
            "dropped and counted: {status}"
        );
    }
    assert_eq!(segment.status(0)["state"], "master");
    assert_eq!(segment.status(1)["state"], "backup");
    let log = segment.log("elastic-0.log");
    let since_master = &log[log.find("to=\"master\"").expect("became master")..];
    assert!(!since_master.contains("to=\"backup\""), "{log}");
    assert!(!segment.log("elastic-1.log").contains("to=\"master\""));
}

/// Unicast mode, for networks without multicast (keepalived's `unicast_peer`): elastic (150)
/// with `unicast_peers: [192.0.2.3]` and keepalived (100) in unicast mode, which joins no group:
/// keepalived stays a backup because elastic's adverts reach it by unicast. A well-formed
/// priority-254 advert from a host that is not a peer, sent to elastic and to the group, is
/// dropped and counted. elastic's SIGTERM hands over to keepalived by unicast without a loss.
#[test]
fn vrrp_daemon_unicast_peers_against_keepalived() {
    let mut segment = Lab::new('n', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let config =
        segment.write_config_with(0, 150, "withdraw", "  unicast_peers: [\"192.0.2.3\"]\n");
    let config = config.to_str().unwrap().to_string();
    let elastic = segment.spawn_elastic(
        0,
        &daemon_binary(),
        &["-config", &config, "-loglevel", "debug"],
    );
    segment.keepalived_with(
        1,
        100,
        "  unicast_src_ip 192.0.2.3\n  unicast_peer {\n    192.0.2.2\n  }\n",
    );
    segment.wait_master(0);
    wait_for("keepalived as backup", Duration::from_secs(10), || {
        segment
            .log("keepalived-1.log")
            .contains("Entering BACKUP STATE")
    });

    let elastic_address = Ipv4Addr::new(192, 0, 2, 2);
    let intruder = [
        (third_party_advert(254, elastic_address), 255),
        (third_party_advert(254, GROUP_V4), 255),
    ];
    send_from_client(&segment, &intruder, elastic_address, 3);
    send_from_client(&segment, &intruder[1..], GROUP_V4, 3);
    std::thread::sleep(Duration::from_millis(500));
    let status = segment.status(0);
    assert_eq!(status["state"], "master", "{status}");
    assert!(
        status["adverts_discarded"].as_u64() >= Some(6),
        "the intruder's adverts dropped and counted: {status}"
    );
    let keepalived = segment.log("keepalived-1.log");
    assert!(
        !keepalived.contains("Entering MASTER STATE"),
        "keepalived heard elastic all along: {keepalived}"
    );

    planned_stop_loses_nothing(&mut segment, 0, elastic);
    assert!(
        segment
            .log("keepalived-1.log")
            .contains("Entering MASTER STATE")
    );
}
