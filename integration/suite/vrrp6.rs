//! The real `elastic` daemon with an IPv6 VRRP instance against keepalived (`vrrp_version 3`)
//! both ways round, on the IPv6 segment of [`super::vrrp_lab`] (link-local addresses only).
//!
//! Adverts go from each host's link-local address to ff02::12; the virtual address is
//! 2001:db8::10/64. Before either router runs, the client holds a stale neighbour entry for it at
//! a MAC nobody has: only an unsolicited neighbour advertisement with the Override flag (the
//! client sends nothing that would solicit one) moves it to the master's MAC. Tests assert who
//! holds the address, whose MAC the client has and in which order, never how fast.

use std::time::Duration;

use elastic_lab::daemon_binary;

use super::vrrp_lab::{Family, LabFile, NOBODY, Segment, assert_in_order, ip, terminate, wait_for};

const VIP: &str = "2001:db8::10";

/// These tests' segment (IPv6), with elastic's IPv6 instance on it.
struct Daemon6;

impl LabFile for Daemon6 {
    const CODE: &'static str = "d6";
}

type Lab = Segment<Daemon6>;

impl Lab {
    /// elastic with one IPv6 instance on host `host` at `priority`. Returns the child's index.
    fn elastic(&mut self, host: usize, priority: u8) -> usize {
        let config = self.dir.join(format!("elastic-{host}.yaml"));
        std::fs::write(
            &config,
            format!(
                "probes:\n  web: {{ exec: [\"/bin/true\"], interval: 100ms, rise: 1, fall: 1 }}\n\
                 services:\n  - name: web\n    on_down: withdraw\n\
                 vrrp:\n  interface: eth0\n  vrid: 52\n  priority: {priority}\n  advert_interval: 100ms\n  \
                 addresses: [\"{VIP}/64\"]\n"
            ),
        )
        .unwrap();
        let config = config.to_str().unwrap().to_string();
        let args = ["-config", &config, "-loglevel", "debug"];
        self.spawn_elastic(host, &daemon_binary(), &args)
    }

    /// Waits until host `host` alone holds the virtual address and the client has it at `host`'s
    /// MAC.
    fn wait_master(&self, host: usize) {
        let name = ["a", "b"][host];
        wait_for(
            &format!("host {name} alone holding {VIP}"),
            Duration::from_secs(15),
            || self.holds_vip(host) && !self.holds_vip(1 - host),
        );
        let mac = self.mac(host);
        wait_for(
            &format!("the client's entry for {VIP} at {name}'s MAC {mac}"),
            Duration::from_secs(15),
            || self.client_entry().contains(&format!("lladdr {mac}")),
        );
    }
}

/// elastic (150) is master of an IPv6 instance, keepalived (100) its backup: elastic holds the
/// address (added `nodad`), the client learns elastic's MAC from its unsolicited NA; SIGTERM →
/// keepalived takes over, elastic removes the address, the client follows keepalived's NA.
#[test]
fn vrrp6_daemon_master_against_keepalived_backup() {
    let mut segment = Lab::new('p', Family::V6);
    assert!(segment.client_entry().contains(NOBODY));
    let elastic = segment.elastic(0, 150);
    segment.wait_master(0);
    let held = segment.vip_line(0).unwrap();
    assert!(held.contains("nodad"), "added without DAD: {held}");
    segment.keepalived(1, 100);
    wait_for("keepalived as backup", Duration::from_secs(10), || {
        segment
            .log("keepalived-1.log")
            .contains("Entering BACKUP STATE")
    });
    // elastic's adverts keep keepalived a backup.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(segment.vip_line(1).is_none(), "keepalived holds nothing");
    assert!(
        !segment
            .log("keepalived-1.log")
            .contains("Entering MASTER STATE"),
        "{}",
        segment.log("keepalived-1.log")
    );

    assert!(
        terminate(&mut segment.children[elastic]),
        "elastic exits 0 after the handover\n{}",
        segment.log("elastic-0.log")
    );
    segment.wait_master(1);
    assert!(
        segment.vip_line(0).is_none(),
        "the stopped host holds nothing"
    );
    let log = segment.log("elastic-0.log");
    assert_in_order(
        &log,
        &[
            "to=\"master\"",
            "stopping: every master hands over",
            "to=\"initialize\"",
        ],
    );
}

/// keepalived (200) is master, elastic (100) its backup holding nothing; keepalived stops
/// (priority 0) → elastic takes the address and the client learns its MAC; elastic's SIGTERM
/// leaves nothing behind.
#[test]
fn vrrp6_daemon_backup_against_keepalived_master() {
    let mut segment = Lab::new('q', Family::V6);
    let keepalived = segment.keepalived(1, 200);
    segment.wait_master(1);
    let elastic = segment.elastic(0, 100);
    wait_for("elastic as backup", Duration::from_secs(10), || {
        segment.log("elastic-0.log").contains("to=\"backup\"")
    });
    std::thread::sleep(Duration::from_millis(1000));
    assert!(segment.vip_line(0).is_none(), "a backup holds nothing");
    assert!(
        !segment.log("elastic-0.log").contains("to=\"master\""),
        "{}",
        segment.log("elastic-0.log")
    );

    assert!(terminate(&mut segment.children[keepalived]));
    segment.wait_master(0);
    assert!(terminate(&mut segment.children[elastic]));
    assert!(
        segment.vip_line(0).is_none(),
        "elastic removed what it added"
    );
}

/// Two elastic daemons with IPv6 instances: the primary (150) holds the address and the client
/// has its MAC; its SIGTERM hands over to the backup (100), whose NA moves the client's entry.
#[test]
fn vrrp6_daemon_against_elastic() {
    let mut segment = Lab::new('r', Family::V6);
    let primary = segment.elastic(0, 150);
    segment.elastic(1, 100);
    segment.wait_master(0);
    wait_for(
        "the backup elastic as backup",
        Duration::from_secs(10),
        || segment.log("elastic-1.log").contains("to=\"backup\""),
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert!(segment.vip_line(1).is_none(), "the backup holds nothing");
    assert!(
        !segment.log("elastic-1.log").contains("to=\"master\""),
        "{}",
        segment.log("elastic-1.log")
    );

    assert!(terminate(&mut segment.children[primary]));
    segment.wait_master(1);
    assert_in_order(
        &segment.log("elastic-1.log"),
        &["to=\"backup\"", "to=\"master\""],
    );
}

/// Item 9 of the issue: the virtual address is already held by another host on the link (host b,
/// not a VRRP router, configured it by hand). Host a runs DAD on its link (`accept_dad=1`), so
/// an address added the usual way would end `dadfailed` and never answer; elastic adds it
/// `nodad`, as keepalived does, so it is usable at once; it stays up, and its SIGTERM removes
/// only its own copy.
#[test]
fn vrrp6_daemon_takes_an_address_another_host_holds_without_dad_and_cleans_up() {
    let mut segment = Lab::new('s', Family::V6);
    let (host_a, host_b) = (segment.hosts[0].clone(), segment.hosts[1].clone());
    segment.sysctl(&host_a, "net.ipv6.conf.eth0.accept_dad=1");
    ip(&[
        "-n",
        &host_b,
        "-6",
        "addr",
        "add",
        "2001:db8::10/64",
        "dev",
        "eth0",
    ]);
    let elastic = segment.elastic(0, 150);
    wait_for(
        "elastic holding the address",
        Duration::from_secs(10),
        || segment.holds_vip(0),
    );
    // DAD would have had a second to find host b's copy.
    std::thread::sleep(Duration::from_millis(1500));
    let held = segment.vip_line(0).expect("still held");
    assert!(
        !held.contains("dadfailed") && !held.contains("tentative"),
        "usable: {held}"
    );
    assert!(held.contains("nodad"), "{held}");
    assert!(
        segment.children[elastic].try_wait().unwrap().is_none(),
        "still running"
    );
    let status = segment.status(0);
    assert_eq!(status["state"], "master", "{status}");

    assert!(terminate(&mut segment.children[elastic]));
    assert!(!segment.holds_vip(0), "elastic removed its copy");
    assert!(segment.holds_vip(1), "host b's own address untouched");
}
