//! The real `elastic` daemon with `use_vmac: true` against FRR's vrrpd (and keepalived with
//! `use_vmac`), on the segment of [`super::vrrp_lab`] (a client behind a bridge, host `a`
//! running elastic, host `b` FRR's zebra and vrrpd with the macvlan vrrpd needs, made here as an
//! FRR operator makes it):
//!
//! ```text
//!  client ns: bridge vbr 192.0.2.100/24 ─┬─ va ── host a eth0 192.0.2.2 + elastic's vrrp4-<eth0>-51
//!                                        └─ vb ── host b eth0 192.0.2.3 + vrrpd's vrrp4-<eth0>-51
//! ```
//!
//! With a virtual MAC both masters answer at the same MAC (00:00:5e:00:01:33): the client's
//! neighbour entry never changes; what moves is the bridge's forwarding entry, taught by the
//! master's adverts and gratuitous ARPs sent from the macvlan. Tests assert who holds the VIP,
//! who answers and in which order, never how fast.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use elastic::vrrp::vmac::macvlan_name;
use elastic_lab::daemon_binary;

use super::vrrp::Frr;
use super::vrrp_lab::{Family, LabFile, Segment, assert_in_order, ip, terminate, wait_for};

/// These tests' segment, with what they run on it: responders, and elastic with `use_vmac`
/// and a probe that fails while a file exists.
struct Vmac;

impl LabFile for Vmac {
    const CODE: &'static str = "vm";
}

type Lab = Segment<Vmac>;

impl Lab {
    /// The file whose presence fails host `host`'s probe.
    fn down_file(&self, host: usize) -> PathBuf {
        self.dir.join(format!("down-{host}"))
    }

    /// Host `host`'s config: the segment's VIP and VRID at `priority`, 100 ms adverts, with
    /// `use_vmac`; the probe `web` fails while [`Lab::down_file`] exists (withdraw).
    fn write_config(&self, host: usize, priority: u8, use_vmac: bool) -> PathBuf {
        let config = self.dir.join(format!("elastic-{host}.yaml"));
        std::fs::write(
            &config,
            format!(
                "probes:\n  web: {{ exec: [\"/bin/sh\", \"-c\", \"test ! -e {}\"], interval: 100ms, rise: 1, fall: 1 }}\n\
                 services:\n  - name: web\n    on_down: withdraw\n\
                 vrrp:\n  interface: eth0\n  vrid: {}\n  priority: {priority}\n  advert_interval: 100ms\n  \
                 addresses: [\"{}\"]\n  use_vmac: {use_vmac}\n",
                self.down_file(host).display(),
                self.family.vrid(),
                self.family.vip_net(),
            ),
        )
        .unwrap();
        config
    }

    /// elastic on host `host` at `priority` with `use_vmac: true`; the name of its macvlan.
    /// With `as_the_unit`, as the unit runs it: an unprivileged user holding only CAP_NET_ADMIN
    /// and CAP_NET_RAW (the unit's and the VRRP drop-in's).
    fn elastic_vmac(&mut self, host: usize, priority: u8, as_the_unit: bool) -> (usize, String) {
        let config = self.write_config(host, priority, true);
        let caps = as_the_unit.then_some("+net_admin,+net_raw");
        let child = self.spawn_elastic_with(host, &config, caps);
        let parent = ifindex(&self.hosts[host], "eth0");
        let ipv6 = self.family == Family::V6;
        (child, macvlan_name(parent, self.family.vrid(), ipv6))
    }
}

const VIP: &str = "198.51.100.10";
const VMAC: &str = "00:00:5e:00:01:33";
const VIP6: &str = "2001:db8::10";
/// The IPv6 segment's VRID is 52.
const VMAC6: &str = "00:00:5e:00:02:34";
const LONG: Duration = Duration::from_secs(15);

/// The output of `ip -n <ns> <args>`.
fn ip_output(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns)
        .args(args)
        .output()
        .expect("ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The index of `dev` in namespace `ns`.
fn ifindex(ns: &str, dev: &str) -> u32 {
    let line = ip_output(ns, &["-o", "link", "show", "dev", dev]);
    line.split(':')
        .next()
        .and_then(|index| index.trim().parse().ok())
        .unwrap_or_else(|| panic!("no index for {dev} in {ns}: {line}"))
}

/// The names of the links in `ns` that carry MAC `mac`.
fn links_with_mac(ns: &str, mac: &str) -> Vec<String> {
    ip_output(ns, &["-o", "link"])
        .lines()
        .filter(|line| line.contains(&format!("link/ether {mac} ")))
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect()
}

/// Whether `dev` in `ns` holds the VIP.
fn vip_on(ns: &str, dev: &str) -> bool {
    ip_output(ns, &["-o", "addr", "show", "dev", dev]).contains(&format!(" {VIP}/24 "))
}

/// `sysctl -n` of `key` in `ns`.
fn sysctl_value(ns: &str, key: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-n", key])
        .output()
        .expect("sysctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The MAC in the client's neighbour entry for the VIP (empty if none).
fn client_neighbour(segment: &Lab) -> String {
    let text = ip_output(&segment.client, &["neigh", "show", VIP]);
    let mut words = text.split_whitespace();
    words.find(|w| *w == "lladdr");
    words.next().unwrap_or_default().to_string()
}

/// Waits until the client's requests are all answered by host `name`.
fn wait_answered_by(segment: &Lab, name: &str) {
    wait_for(&format!("the client answered by {name}"), LONG, || {
        let report = segment.probe(Duration::from_millis(300));
        report.lost == 0 && report.last_answerer.as_deref() == Some(name)
    });
}

/// FRR's zebra and vrrpd on host `host`, VRID 51 at `priority`, 100 ms adverts, with the
/// macvlan vrrpd sends from (bridge mode, the virtual MAC, the VIP on it; vrrpd holds it
/// protodown while backup) and the ARP settings its operator sets, as elastic sets its own.
fn frr(segment: &Lab, host: usize, priority: u8) -> Frr {
    assert_eq!(segment.family, Family::V4);
    frr_with(segment, host, priority, None)
}

/// [`frr`]; with `ipv6`, an IPv6 router (of the IPv6 segment's VRID) holding that address instead, on the IPv6
/// virtual MAC's macvlan (addrgenmode random: the link-local vrrpd sends from, FRR's setup).
fn frr_with(segment: &Lab, host: usize, priority: u8, ipv6: Option<&str>) -> Frr {
    let ns = segment.hosts[host].clone();
    let vrid = segment.family.vrid();
    let macvlan = macvlan_name(ifindex(&ns, "eth0"), vrid, ipv6.is_some());
    let (mac, genmode, address) = match ipv6 {
        None => (VMAC, "none", format!("{VIP}/24")),
        Some(vip) => (VMAC6, "random", format!("{vip}/64")),
    };
    let link = |args: &[&str]| {
        let mut all = vec!["-n", ns.as_str(), "link"];
        all.extend_from_slice(args);
        ip(&all);
    };
    link(&[
        "add", &macvlan, "link", "eth0", "type", "macvlan", "mode", "bridge",
    ]);
    link(&["set", &macvlan, "address", mac]);
    link(&["set", &macvlan, "addrgenmode", genmode]);
    ip(&["-n", &ns, "addr", "add", &address, "dev", &macvlan, "nodad"]);
    link(&["set", &macvlan, "up"]);
    for setting in [
        "net.ipv4.conf.eth0.arp_ignore=1".to_string(),
        "net.ipv4.conf.eth0.arp_announce=2".to_string(),
        format!("net.ipv4.conf.{macvlan}.arp_ignore=1"),
    ] {
        segment.sysctl(&ns, &setting);
    }
    let address = match ipv6 {
        None => format!("ip {VIP}"),
        Some(vip) => format!("ipv6 {vip}"),
    };
    Frr::start(
        &ns,
        &segment.dir,
        &format!("frr-{host}"),
        &format!(
            "interface eth0\n vrrp {vrid} version 3\n vrrp {vrid} priority {priority}\n \
             vrrp {vrid} advertisement-interval 100\n vrrp {vrid} {address}\n"
        ),
    )
}

/// Waits until vrrpd reports `status` for the IPv4 router of VRID 51 (vtysh may not answer
/// at first, while vrrpd starts).
fn wait_frr(frr: &Frr, status: &str) {
    wait_frr_family(frr, "v4", status);
}

/// [`wait_frr`] for `family` ("v4" or "v6").
fn wait_frr_family(frr: &Frr, family: &str, status: &str) {
    wait_for(&format!("vrrpd {family} {status}"), LONG, || {
        let out = Command::new("ip")
            .args(["netns", "exec", &frr.ns, "vtysh", "-N", &frr.pathspace])
            .args(["-c", "show vrrp json"])
            .output()
            .expect("vtysh");
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .is_ok_and(|json| json[0][family]["status"] == status)
    });
}

/// elastic (150, use_vmac) is master and vrrpd (100) its backup; elastic's probe fails → vrrpd
/// takes the VIP; it recovers → elastic preempts back; SIGTERM → vrrpd takes over and the
/// client, sending every 10 ms, loses nothing. The client's entry for the VIP is the virtual MAC
/// throughout, and elastic's macvlan is gone after the stop (the interface's ARP settings
/// restored). elastic runs with the unit's capabilities only.
#[test]
fn vrrp_frr_backs_up_elastic_with_use_vmac() {
    let mut segment = Lab::new('a', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let (host_a, host_b) = (segment.hosts[0].clone(), segment.hosts[1].clone());
    let arp_ignore_before = sysctl_value(&host_a, "net.ipv4.conf.eth0.arp_ignore");
    // As the unit runs it: the macvlan and the ARP settings need no more than its capabilities.
    let (elastic, macvlan) = segment.elastic_vmac(0, 150, true);
    let frr = frr(&segment, 1, 100);
    wait_for("elastic's VIP on its macvlan", LONG, || {
        vip_on(&host_a, &macvlan)
    });
    wait_frr(&frr, "Backup");
    wait_answered_by(&segment, "a");
    assert_eq!(client_neighbour(&segment), VMAC);
    assert_eq!(links_with_mac(&host_a, VMAC), vec![macvlan.clone()]);
    assert_eq!(sysctl_value(&host_a, "net.ipv4.conf.eth0.arp_ignore"), "1");
    assert_eq!(
        sysctl_value(&host_a, "net.ipv4.conf.eth0.arp_announce"),
        "2"
    );
    assert!(frr.v4().1 > 0, "vrrpd heard elastic's adverts");

    // The service fails: elastic hands over, vrrpd becomes master.
    std::fs::write(segment.down_file(0), "").unwrap();
    wait_frr(&frr, "Master");
    wait_answered_by(&segment, "b");
    wait_for("elastic's VIP gone", LONG, || !vip_on(&host_a, &macvlan));
    assert_eq!(
        links_with_mac(&host_a, VMAC),
        vec![macvlan.clone()],
        "kept while it runs"
    );
    assert_eq!(client_neighbour(&segment), VMAC);

    // It recovers: elastic preempts back at its higher priority.
    std::fs::remove_file(segment.down_file(0)).unwrap();
    wait_frr(&frr, "Backup");
    wait_answered_by(&segment, "a");
    assert!(vip_on(&host_a, &macvlan));
    assert_eq!(client_neighbour(&segment), VMAC);

    // SIGTERM while the client sends every 10 ms: vrrpd takes over, nothing lost.
    segment.planned_stop_loses_nothing(0, elastic);
    assert_eq!(frr.v4().0, "Master");
    assert_eq!(client_neighbour(&segment), VMAC);
    assert!(
        links_with_mac(&host_a, VMAC).is_empty(),
        "the macvlan is gone after the stop: {}",
        ip_output(&host_a, &["-o", "link"])
    );
    assert_eq!(
        sysctl_value(&host_a, "net.ipv4.conf.eth0.arp_ignore"),
        arp_ignore_before
    );
    assert_eq!(
        links_with_mac(&host_b, VMAC).len(),
        1,
        "vrrpd's own untouched"
    );
    let log = segment.log("elastic-0.log");
    assert_in_order(
        &log,
        &[
            "VRRP: virtual MAC up",
            "to=\"master\"",
            "to=\"fault\"",
            "to=\"backup\"",
            "to=\"master\"",
            "stopping: every master hands over",
            "to=\"initialize\"",
            "VRRP: virtual MAC removed",
        ],
    );
}

/// vrrpd (200) is master and elastic (100, use_vmac) its backup, holding nothing on its
/// macvlan; vrrpd stops → elastic takes the VIP and the client follows. elastic killed with
/// SIGKILL leaves its macvlan (and the interface's ARP settings); the next run reuses it (never
/// a second one), removes it at its stop and restores the settings from before the first run.
#[test]
fn vrrp_elastic_with_use_vmac_backs_up_frr_and_survives_sigkill() {
    let mut segment = Lab::new('b', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let host_a = segment.hosts[0].clone();
    let arp = |key: &str| sysctl_value(&host_a, &format!("net.ipv4.conf.eth0.{key}"));
    let arp_before = [arp("arp_ignore"), arp("arp_announce")];
    let mut frr = frr(&segment, 1, 200);
    wait_frr(&frr, "Master");
    let (elastic, macvlan) = segment.elastic_vmac(0, 100, false);
    wait_for("elastic as backup", LONG, || {
        segment.log("elastic-0.log").contains("to=\"backup\"")
    });
    wait_answered_by(&segment, "b");
    assert_eq!(links_with_mac(&host_a, VMAC), vec![macvlan.clone()]);
    assert!(!vip_on(&host_a, &macvlan), "a backup holds nothing");
    assert_eq!(client_neighbour(&segment), VMAC);

    // vrrpd stops (priority 0) and its host takes its macvlan away: elastic takes over.
    frr.stop_vrrpd();
    let frr_macvlan = macvlan_name(ifindex(&segment.hosts[1], "eth0"), 51, false);
    ip(&["-n", &segment.hosts[1], "link", "del", &frr_macvlan]);
    wait_for("elastic's VIP on its macvlan", LONG, || {
        vip_on(&host_a, &macvlan)
    });
    wait_answered_by(&segment, "a");
    assert_eq!(client_neighbour(&segment), VMAC);

    // SIGKILL: the macvlan and its VIP stay behind, and so do the interface's ARP settings,
    // with their old values noted in the macvlan's alias.
    segment.children[elastic].kill().unwrap();
    segment.children[elastic].wait().unwrap();
    assert_eq!(links_with_mac(&host_a, VMAC), vec![macvlan.clone()]);
    assert!(vip_on(&host_a, &macvlan));
    assert_eq!([arp("arp_ignore"), arp("arp_announce")], ["1", "2"]);
    let link = ip_output(&host_a, &["-o", "link", "show", "dev", &macvlan]);
    assert!(
        link.contains("alias elastic vrrp: the parent had"),
        "{link}"
    );
    std::fs::rename(
        segment.dir.join("elastic-0.log"),
        segment.dir.join("elastic-0-killed.log"),
    )
    .unwrap();

    // The next run takes the same macvlan over: still one, and master again.
    let (again, same) = segment.elastic_vmac(0, 100, false);
    assert_eq!(same, macvlan);
    wait_for("elastic master again", LONG, || {
        segment.log("elastic-0.log").contains("to=\"master\"")
    });
    wait_answered_by(&segment, "a");
    assert_eq!(links_with_mac(&host_a, VMAC), vec![macvlan.clone()]);
    let log = segment.log("elastic-0.log");
    assert_in_order(
        &log,
        &[
            "reusing the macvlan an earlier run left",
            "VRRP: virtual MAC up",
            "to=\"master\"",
        ],
    );

    assert!(terminate(&mut segment.children[again]));
    assert!(
        links_with_mac(&host_a, VMAC).is_empty(),
        "{}",
        ip_output(&host_a, &["-o", "link"])
    );
    // The run after the SIGKILL gave the interface back what it had before the first run.
    assert_eq!([arp("arp_ignore"), arp("arp_announce")], arp_before);
}

/// A link already bearing the macvlan's name that is not a macvlan of the interface (here a
/// veth) is refused with a clear error and left alone, and elastic holds nothing.
#[test]
fn vrrp_use_vmac_refuses_a_foreign_link_of_the_same_name() {
    let mut segment = Lab::new('c', Family::V4);
    let host_a = segment.hosts[0].clone();
    let name = macvlan_name(ifindex(&host_a, "eth0"), 51, false);
    ip(&[
        "-n", &host_a, "link", "add", &name, "type", "veth", "peer", "name", "decoy",
    ]);
    let (elastic, macvlan) = segment.elastic_vmac(0, 150, false);
    assert_eq!(macvlan, name);
    wait_for("the refusal", LONG, || {
        segment
            .log("elastic-0.log")
            .contains("exists and is not a macvlan (veth)")
    });
    assert!(terminate(&mut segment.children[elastic]));
    let links = ip_output(&host_a, &["-o", "link"]);
    assert!(links.contains(&format!(": {name}@decoy")), "{links}");
    assert!(!vip_on(&host_a, &name) && !vip_on(&host_a, "eth0"));
}

/// IPv6: elastic (150, use_vmac) is master on `vrrp6-<eth0>-52` and vrrpd (100) its backup;
/// both agree; the client's stale entry moves to the IPv6 virtual MAC (elastic's unsolicited
/// NA) and the address answers; SIGTERM hands over to
/// vrrpd with no lost request, and elastic's macvlan is gone.
#[test]
fn vrrp6_frr_backs_up_elastic_with_use_vmac() {
    let mut segment = Lab::new('i', Family::V6);
    let (host_a, client) = (segment.hosts[0].clone(), segment.client.clone());
    for host in 0..2 {
        let ns = segment.hosts[host].clone();
        segment.sysctl(&ns, "net.ipv6.ip_nonlocal_bind=1");
        segment.responder(host);
    }
    let (elastic, macvlan) = segment.elastic_vmac(0, 150, false);
    let frr = frr_with(&segment, 1, 100, Some(VIP6));
    let vip6_on = |dev: &str| {
        ip_output(&host_a, &["-o", "addr", "show", "dev", dev]).contains(&format!(" {VIP6}/64 "))
    };
    wait_for("elastic's address on its macvlan", LONG, || {
        vip6_on(&macvlan)
    });
    wait_frr_family(&frr, "v6", "Backup");
    wait_for("the client answered by a", LONG, || {
        let report = segment.probe(Duration::from_millis(300));
        report.lost == 0 && report.last_answerer.as_deref() == Some("a")
    });
    let neighbour = ip_output(&client, &["-6", "neigh", "show", VIP6]);
    assert!(
        neighbour.contains(&format!("lladdr {VMAC6} ")),
        "{neighbour}"
    );
    assert_eq!(links_with_mac(&host_a, VMAC6), vec![macvlan.clone()]);

    segment.planned_stop_loses_nothing(0, elastic);
    wait_frr_family(&frr, "v6", "Master");
    assert!(links_with_mac(&host_a, VMAC6).is_empty());
    let neighbour = ip_output(&client, &["-6", "neigh", "show", VIP6]);
    assert!(
        neighbour.contains(&format!("lladdr {VMAC6} ")),
        "{neighbour}"
    );
}

/// A reload that turns `use_vmac` off hands over and restarts the instance without its macvlan
/// (deleted, the interface's ARP settings restored, the VIP on the interface); one that turns
/// it on again makes it anew. Nothing stays after the stop.
#[test]
fn vrrp_reload_makes_and_deletes_the_macvlan() {
    let mut segment = Lab::new('o', Family::V4);
    let host_a = segment.hosts[0].clone();
    let arp_ignore_before = sysctl_value(&host_a, "net.ipv4.conf.eth0.arp_ignore");
    let (elastic, macvlan) = segment.elastic_vmac(0, 150, false);
    wait_for("the VIP on the macvlan", LONG, || vip_on(&host_a, &macvlan));
    let hangup = |segment: &Lab| {
        let pid = nix::unistd::Pid::from_raw(segment.children[elastic].id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    };

    segment.write_config(0, 150, false);
    hangup(&segment);
    wait_for("the VIP on eth0", LONG, || vip_on(&host_a, "eth0"));
    assert!(links_with_mac(&host_a, VMAC).is_empty());
    assert_eq!(
        sysctl_value(&host_a, "net.ipv4.conf.eth0.arp_ignore"),
        arp_ignore_before
    );

    segment.write_config(0, 150, true);
    hangup(&segment);
    wait_for("the VIP on the macvlan again", LONG, || {
        vip_on(&host_a, &macvlan)
    });
    assert!(!vip_on(&host_a, "eth0"));
    assert_eq!(links_with_mac(&host_a, VMAC), vec![macvlan.clone()]);

    assert!(terminate(&mut segment.children[elastic]));
    assert!(links_with_mac(&host_a, VMAC).is_empty());
    assert!(!vip_on(&host_a, "eth0"));
    let log = segment.log("elastic-0.log");
    assert_in_order(
        &log,
        &[
            "VRRP: virtual MAC up",
            "handing over, then starting again",
            "VRRP: virtual MAC removed",
            "handing over, then starting again",
            "VRRP: virtual MAC up",
            "VRRP: virtual MAC removed",
        ],
    );
}

/// keepalived (`use_vmac`, its `vrrp.51` macvlan) at 100 is elastic's (150, use_vmac) backup:
/// the two agree on the master although both send from 00:00:5e:00:01:33, and elastic's SIGTERM
/// hands over with no lost request, the client's entry staying at the virtual MAC.
#[test]
fn vrrp_keepalived_with_use_vmac_backs_up_elastic_with_use_vmac() {
    let mut segment = Lab::new('n', Family::V4);
    segment.responder(0);
    segment.responder(1);
    let host_a = segment.hosts[0].clone();
    let (elastic, macvlan) = segment.elastic_vmac(0, 150, false);
    wait_for("elastic's VIP on its macvlan", LONG, || {
        vip_on(&host_a, &macvlan)
    });
    // keepalived sets arp_ignore and arp_filter on eth0 but not arp_announce: without it, its
    // host's ARP requests (for the client it answers from the VIP) carry the VIP as sender and
    // move the client's entry to eth0's MAC. elastic sets it itself.
    segment.sysctl(&segment.hosts[1], "net.ipv4.conf.eth0.arp_announce=2");
    segment.keepalived_with(1, 100, "  use_vmac\n");
    wait_for("keepalived as backup", LONG, || {
        segment
            .log("keepalived-1.log")
            .contains("Entering BACKUP STATE")
    });
    // elastic's adverts, from the virtual MAC keepalived's macvlan has too, keep it a backup.
    wait_answered_by(&segment, "a");
    std::thread::sleep(Duration::from_millis(1000));
    let keepalived_log = segment.log("keepalived-1.log");
    assert!(
        !keepalived_log.contains("Entering MASTER STATE"),
        "{keepalived_log}"
    );
    assert_eq!(client_neighbour(&segment), VMAC);

    segment.planned_stop_loses_nothing(0, elastic);
    assert!(
        segment
            .log("keepalived-1.log")
            .contains("Entering MASTER STATE")
    );
    assert_eq!(client_neighbour(&segment), VMAC);
    assert!(links_with_mac(&host_a, VMAC).is_empty());
}

/// Two use_vmac instances on one interface (VRIDs 51 and 52, as the dual-master pair): each has
/// its macvlan; a reload removing one deletes its macvlan and leaves the interface's ARP settings
/// to the other; the stop deletes the other and restores them, to the values from before.
#[test]
fn vrrp_two_vmac_instances_on_one_interface_restore_its_arp_settings_once() {
    let mut segment = Lab::new('t', Family::V4);
    let host_a = segment.hosts[0].clone();
    let before = ["arp_ignore", "arp_announce"]
        .map(|key| sysctl_value(&host_a, &format!("net.ipv4.conf.eth0.{key}")));
    let instance = |vrid: u8, last: u8| {
        format!(
            "  - interface: eth0\n    vrid: {vrid}\n    priority: 150\n    advert_interval: 100ms\n    \
             addresses: [\"198.51.100.{last}/24\"]\n    use_vmac: true\n"
        )
    };
    let config = segment.dir.join("elastic-0.yaml");
    std::fs::write(
        &config,
        format!("vrrp:\n{}{}", instance(51, 10), instance(52, 11)),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap().to_string();
    let elastic = segment.spawn(
        0,
        "elastic-0.log",
        &daemon_binary(),
        &["-config", &config_arg, "-loglevel", "debug"],
    );
    let parent = ifindex(&host_a, "eth0");
    let (first, second) = (
        macvlan_name(parent, 51, false),
        macvlan_name(parent, 52, false),
    );
    wait_for("both masters on their macvlans", LONG, || {
        vip_on(&host_a, &first)
            && ip_output(&host_a, &["-o", "addr", "show", "dev", &second])
                .contains(" 198.51.100.11/24 ")
    });
    assert_eq!(
        links_with_mac(&host_a, "00:00:5e:00:01:34"),
        vec![second.clone()]
    );
    let arp = |key: &str| sysctl_value(&host_a, &format!("net.ipv4.conf.eth0.{key}"));
    assert_eq!([arp("arp_ignore"), arp("arp_announce")], ["1", "2"]);

    std::fs::write(&config, format!("vrrp:\n{}", instance(51, 10))).unwrap();
    let pid = nix::unistd::Pid::from_raw(segment.children[elastic].id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    wait_for("the removed instance's macvlan gone", LONG, || {
        links_with_mac(&host_a, "00:00:5e:00:01:34").is_empty()
    });
    assert_eq!(
        [arp("arp_ignore"), arp("arp_announce")],
        ["1", "2"],
        "still needed by the other"
    );
    assert!(vip_on(&host_a, &first));

    assert!(terminate(&mut segment.children[elastic]));
    assert!(links_with_mac(&host_a, VMAC).is_empty());
    assert_eq!([arp("arp_ignore"), arp("arp_announce")], before);
}

/// The macvlan deleted under a running master counts as its interface deleted: Fault at once,
/// then, when the instance starts again, a new macvlan and mastership back on it.
#[test]
fn vrrp_use_vmac_makes_its_macvlan_again_after_it_is_deleted() {
    let mut segment = Lab::new('e', Family::V4);
    let host_a = segment.hosts[0].clone();
    let (elastic, macvlan) = segment.elastic_vmac(0, 150, false);
    wait_for("the VIP on the macvlan", LONG, || vip_on(&host_a, &macvlan));
    ip(&["-n", &host_a, "link", "del", &macvlan]);
    wait_for("the VIP on a new macvlan", LONG, || {
        vip_on(&host_a, &macvlan)
    });
    assert_eq!(links_with_mac(&host_a, VMAC), vec![macvlan.clone()]);
    let log = segment.log("elastic-0.log");
    assert!(log.contains("the interface was removed"), "{log}");
    assert_in_order(
        &log,
        &[
            "VRRP: virtual MAC up",
            "to=\"master\"",
            "to=\"fault\"",
            "VRRP: virtual MAC up",
            "to=\"master\"",
        ],
    );
    assert!(terminate(&mut segment.children[elastic]));
    assert!(links_with_mac(&host_a, VMAC).is_empty());
}

/// IPv6 the other way round: vrrpd (200) is master and elastic (100, use_vmac) its backup,
/// holding nothing; vrrpd stops → elastic takes the address on its macvlan and the client,
/// whose entry is the IPv6 virtual MAC throughout, is answered by it.
#[test]
fn vrrp6_elastic_with_use_vmac_backs_up_frr() {
    let mut segment = Lab::new('j', Family::V6);
    let (host_a, client) = (segment.hosts[0].clone(), segment.client.clone());
    for host in 0..2 {
        let ns = segment.hosts[host].clone();
        segment.sysctl(&ns, "net.ipv6.ip_nonlocal_bind=1");
        segment.responder(host);
    }
    let mut frr = frr_with(&segment, 1, 200, Some(VIP6));
    wait_frr_family(&frr, "v6", "Master");
    let (elastic, macvlan) = segment.elastic_vmac(0, 100, false);
    wait_for("elastic as backup", LONG, || {
        segment.log("elastic-0.log").contains("to=\"backup\"")
    });
    let vip6_on = |dev: &str| {
        ip_output(&host_a, &["-o", "addr", "show", "dev", dev]).contains(&format!(" {VIP6}/64 "))
    };
    assert!(!vip6_on(&macvlan), "a backup holds nothing");
    assert_eq!(links_with_mac(&host_a, VMAC6), vec![macvlan.clone()]);

    frr.stop_vrrpd();
    let frr_macvlan = macvlan_name(ifindex(&segment.hosts[1], "eth0"), 52, true);
    ip(&["-n", &segment.hosts[1], "link", "del", &frr_macvlan]);
    wait_for("elastic's address on its macvlan", LONG, || {
        vip6_on(&macvlan)
    });
    wait_for("the client answered by a", LONG, || {
        let report = segment.probe(Duration::from_millis(300));
        report.lost == 0 && report.last_answerer.as_deref() == Some("a")
    });
    let neighbour = ip_output(&client, &["-6", "neigh", "show", VIP6]);
    assert!(
        neighbour.contains(&format!("lladdr {VMAC6} ")),
        "{neighbour}"
    );
    assert!(terminate(&mut segment.children[elastic]));
    assert!(links_with_mac(&host_a, VMAC6).is_empty());
}
