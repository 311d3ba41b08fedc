//! VRRP against keepalived (`vrrp_version 3`) and FRR's vrrpd on one link: elastic's codec, state
//! machine and raw sockets (`elastic::vrrp`, driven here by a small loop; `vrrp_daemon.rs` runs the
//! daemon itself), with the other implementation in the other namespace. The loop only records
//! the instance's AddAddresses/Announce actions; the last test runs `elastic::vrrp::driver`, which
//! puts the address on the interface and announces it by gratuitous ARP.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use elastic::vrrp::instance::{Action, Health, Input, Instance, InstanceConfig, State};
use elastic::vrrp::socket::AdvertSocketV4;
use elastic::vrrp::wire::{Addresses, AdvertInterval};

use super::vrrp_lab::{ip, run, terminate, wait_for};

/// keepalived's or vrrpd's address on the link.
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const ELASTIC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

/// Two namespaces joined by a veth pair: `va` (the peer's: keepalived or vrrpd, 192.0.2.1) and `vb` (elastic's,
/// 192.0.2.2). Deleted on drop, also when a test panics (keepalived is stopped first).
struct Link {
    peer_ns: String,
    elastic_ns: String,
    dir: PathBuf,
}

impl Link {
    fn new(tag: char) -> Link {
        // The lab's form, `el-<pid><letter>-<role>`, with roles no lab uses.
        let pid = std::process::id() % 100_000;
        let link = Link {
            peer_ns: format!("el-{pid}{tag}-vrka"),
            elastic_ns: format!("el-{pid}{tag}-vrel"),
            dir: std::env::temp_dir().join(format!("el-{pid}{tag}-vrrp")),
        };
        std::fs::create_dir_all(&link.dir).unwrap();
        for ns in [&link.peer_ns, &link.elastic_ns] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&[
            "-n",
            &link.peer_ns,
            "link",
            "add",
            "va",
            "type",
            "veth",
            "peer",
            "name",
            "vb",
            "netns",
            &link.elastic_ns,
        ]);
        for (ns, dev, address) in [
            (&link.peer_ns, "va", "192.0.2.1/24"),
            (&link.elastic_ns, "vb", "192.0.2.2/24"),
        ] {
            ip(&["-n", ns, "addr", "add", address, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        link
    }

    /// keepalived in its namespace with one VRRPv3 instance at `priority`, logging to a file.
    fn keepalived(&self, priority: u8, name: &str) -> Keepalived {
        let conf = self.dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "global_defs {{\n  vrrp_version 3\n  router_id {name}\n}}\n\
                 vrrp_instance v4 {{\n  state BACKUP\n  interface va\n  virtual_router_id 51\n  \
                 priority {priority}\n  advert_int 0.1\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let log = self.dir.join(format!("{name}.log"));
        let output = File::create(&log).unwrap();
        let errors = output.try_clone().unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.peer_ns, "keepalived"])
            .args(["-n", "-l", "-P", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(self.dir.join(format!("{name}.pid")))
            .arg("-r")
            .arg(self.dir.join(format!("{name}-vrrp.pid")))
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .unwrap_or_else(|e| panic!("keepalived (is it installed?): {e}"));
        Keepalived {
            child: Some(child),
            log,
        }
    }

    /// FRR's zebra and vrrpd in the peer's namespace, VRID 51 at `priority`, 100 ms,
    /// with the macvlan vrrpd sends from (the RFC's virtual MAC) holding the address.
    fn frr(&self, priority: u8) -> Frr {
        let ns = &self.peer_ns;
        for args in [
            &[
                "link", "add", "vrrp4-va", "link", "va", "type", "macvlan", "mode", "bridge",
            ][..],
            &["link", "set", "vrrp4-va", "address", "00:00:5e:00:01:33"],
            &["addr", "add", "198.51.100.10/24", "dev", "vrrp4-va"],
            &["link", "set", "vrrp4-va", "up"],
        ] {
            let mut all = vec!["-n", ns.as_str()];
            all.extend_from_slice(args);
            ip(&all);
        }
        Frr::start(
            ns,
            &self.dir,
            "frr",
            &format!(
                "interface va\n vrrp 51 version 3\n vrrp 51 priority {priority}\n \
                 vrrp 51 advertisement-interval 100\n vrrp 51 ip {VIP}\n"
            ),
        )
    }

    /// Opens elastic's sockets inside its namespace (they keep it once open).
    fn elastic_socket(&self) -> AdvertSocketV4 {
        self.in_elastic_ns(|| AdvertSocketV4::open("vb", ELASTIC).expect("raw sockets"))
    }

    /// Runs `body` on a thread inside elastic's namespace.
    fn in_elastic_ns<T: Send + 'static>(&self, body: impl FnOnce() -> T + Send + 'static) -> T {
        let path = Path::new("/run/netns").join(&self.elastic_ns);
        std::thread::spawn(move || {
            let ns = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            body()
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in [&self.peer_ns, &self.elastic_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Keepalived {
    child: Option<Child>,
    log: PathBuf,
}

impl Keepalived {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM (a master says goodbye with priority 0), then waits for it to exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) struct Frr {
    pub(crate) ns: String,
    pub(crate) pathspace: String,
    pub(crate) run_dir: PathBuf,
    pub(crate) vrrpd: Option<Child>,
    pub(crate) zebra: Option<Child>,
}

impl Frr {
    /// FRR's zebra and vrrpd in namespace `ns`, vrrpd configured with `vrrpd_conf`, their
    /// configs and logs in `dir`/`conf_dir` (both made readable to the frr user), their run
    /// directory under FRR's own, named after the namespace.
    pub(crate) fn start(ns: &str, dir: &Path, conf_dir: &str, vrrpd_conf: &str) -> Frr {
        let pathspace = format!("{ns}-frr");
        let run_dir = Path::new("/var/run/frr").join(&pathspace);
        std::fs::create_dir_all(&run_dir).unwrap();
        run("chown", &["frr:frr", run_dir.to_str().unwrap()]);
        let conf_dir = dir.join(conf_dir);
        std::fs::create_dir_all(&conf_dir).unwrap();
        run(
            "chmod",
            &["755", dir.to_str().unwrap(), conf_dir.to_str().unwrap()],
        );
        let vrrpd_path = conf_dir.join("vrrpd.conf");
        std::fs::write(&vrrpd_path, vrrpd_conf).unwrap();
        let zebra_conf = conf_dir.join("zebra.conf");
        std::fs::write(&zebra_conf, "").unwrap();
        let daemon = |name: &str, conf: &Path| {
            let log = File::create(conf_dir.join(format!("{name}.log"))).unwrap();
            Command::new("ip")
                .args(["netns", "exec", ns, &format!("/usr/lib/frr/{name}")])
                .args(["-N", &pathspace, "-P", "0", "-f"])
                .arg(conf)
                .arg("-i")
                .arg(run_dir.join(format!("{name}.pid")))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("{name} (is FRR installed?): {e}"))
        };
        let zebra = daemon("zebra", &zebra_conf);
        let api = run_dir.join("zserv.api");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !api.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let vrrpd = daemon("vrrpd", &vrrpd_path);
        Frr {
            ns: ns.to_string(),
            pathspace,
            run_dir,
            vrrpd: Some(vrrpd),
            zebra: Some(zebra),
        }
    }

    /// `show vrrp 51 json`: the IPv4 router's status ("Master", "Backup", …) and adverts received.
    pub(crate) fn v4(&self) -> (String, u64) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "vtysh", "-N", &self.pathspace])
            .args(["-c", "show vrrp 51 json"])
            .output()
            .expect("vtysh");
        let text = String::from_utf8_lossy(&out.stdout);
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("show vrrp 51 json: {e}: {text}"));
        let v4 = &json[0]["v4"];
        (
            v4["status"].as_str().unwrap_or_default().to_string(),
            v4["stats"]["adverRx"].as_u64().unwrap_or_default(),
        )
    }

    /// SIGTERM to vrrpd (a master says goodbye with priority 0), then waits for it to exit.
    pub(crate) fn stop_vrrpd(&mut self) {
        if let Some(mut child) = self.vrrpd.take() {
            terminate(&mut child);
        }
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.stop_vrrpd();
        if let Some(mut zebra) = self.zebra.take() {
            terminate(&mut zebra);
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

fn config(priority: u8) -> InstanceConfig {
    InstanceConfig {
        vrid: 51,
        priority,
        advert_interval: AdvertInterval::from_centiseconds(10).unwrap(),
        addresses: Addresses::V4(vec![VIP]),
        primary_address: IpAddr::V4(ELASTIC),
        link_local: None,
        unicast_peers: vec![],
        preempt: true,
        preempt_delay: Duration::ZERO,
        announce_repeat: 1,
        announce_again_after: None,
    }
}

/// Drives `instance` on real time until `done` holds or `limit` passes; sends what it says to
/// send, and returns every other action in order.
fn drive(
    instance: &mut Instance,
    socket: &AdvertSocketV4,
    limit: Duration,
    done: impl Fn(&Instance) -> bool,
) -> Vec<Action> {
    let mut seen = Vec::new();
    let perform = |actions: Vec<Action>, seen: &mut Vec<Action>| {
        for action in actions {
            match action {
                Action::Send {
                    to: IpAddr::V4(to),
                    bytes,
                } => socket.send(to, &bytes).expect("send"),
                other => seen.push(other),
            }
        }
    };
    let end = Instant::now() + limit;
    while Instant::now() < end && !done(instance) {
        let actions = instance.handle_timeout(Instant::now());
        perform(actions, &mut seen);
        let wake = instance.poll_timeout().map_or(end, |t| t.min(end));
        let wait = wake.saturating_duration_since(Instant::now());
        if let Some(packet) = socket.receive(wait).expect("receive") {
            let actions = instance.handle(
                Instant::now(),
                Input::Packet {
                    source: packet.source,
                    destination: packet.destination,
                    ttl: packet.ttl,
                    bytes: &packet.bytes,
                },
            );
            perform(actions, &mut seen);
        }
    }
    seen
}

fn transitions(actions: &[Action]) -> Vec<(State, State)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChanged { from, to } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

/// keepalived at 200 is master, elastic at 100 its backup; keepalived's SIGTERM (priority 0)
/// makes elastic master at once.
#[test]
fn vrrp_elastic_backs_up_keepalived_and_takes_over_when_it_stops() {
    let link = Link::new('v');
    let mut keepalived = link.keepalived(200, "ka-master");
    let (instance, socket) = link.in_elastic_ns(|| {
        let socket = AdvertSocketV4::open("vb", ELASTIC).expect("raw sockets");
        let mut instance = Instance::new(config(100)).unwrap();
        instance.handle(Instant::now(), Input::Start);
        let heard = |i: &Instance| {
            i.state() == State::Backup && i.status().master == Some((IpAddr::V4(PEER), 200))
        };
        drive(&mut instance, &socket, Duration::from_secs(20), heard);
        (instance, socket)
    });
    let mut instance = instance;
    assert_eq!(
        instance.status().master,
        Some((IpAddr::V4(PEER), 200)),
        "elastic never heard keepalived as master: {:?}\nkeepalived:\n{}",
        instance.status(),
        keepalived.log()
    );
    assert_eq!(instance.state(), State::Backup);
    assert_eq!(
        instance.status().discards,
        Default::default(),
        "keepalived's adverts all pass"
    );

    keepalived.stop();
    let after = drive(&mut instance, &socket, Duration::from_secs(10), |i| {
        i.state() == State::Master
    });
    assert_eq!(
        transitions(&after),
        [(State::Backup, State::Master)],
        "{after:?}\nkeepalived:\n{}",
        keepalived.log()
    );
    assert_eq!(after[1], Action::AddAddresses);
}

/// elastic at 200 is master; keepalived at 50 stays backup, so it accepts elastic's adverts
/// (version, checksum over the pseudo-header, TTL, address count).
#[test]
fn vrrp_keepalived_backs_up_elastic() {
    let link = Link::new('w');
    let keepalived = link.keepalived(50, "ka-backup");
    let instance = link.in_elastic_ns(|| {
        let socket = AdvertSocketV4::open("vb", ELASTIC).expect("raw sockets");
        let mut instance = Instance::new(config(200)).unwrap();
        instance.handle(Instant::now(), Input::Start);
        // Master, then 3 s of adverts: keepalived's master-down interval is about 0.3 s.
        drive(&mut instance, &socket, Duration::from_secs(10), |i| {
            i.state() == State::Master
        });
        drive(&mut instance, &socket, Duration::from_secs(3), |_| false);
        let heard_while_master = instance.status().adverts_received;
        // A planned handover: priority 0, then keepalived's advert ends it.
        let stop = instance.handle(Instant::now(), Input::Health(Health::Withdraw));
        for action in &stop {
            if let Action::Send {
                to: IpAddr::V4(to),
                bytes,
            } = action
            {
                socket.send(*to, bytes).expect("send");
            }
        }
        let handed_over = drive(&mut instance, &socket, Duration::from_secs(5), |i| {
            !i.status().holding_addresses
        });
        (instance, handed_over, heard_while_master)
    });
    let (instance, handed_over, heard_while_master) = instance;
    let log = keepalived.log();
    assert_eq!(
        heard_while_master, 0,
        "keepalived advertised while elastic was master (it did not accept elastic's adverts)\n{log}"
    );
    assert_eq!(instance.state(), State::Fault);
    assert_eq!(
        handed_over,
        [Action::RemoveAddresses],
        "keepalived's advert should end the handover\n{log}"
    );
    assert_eq!(
        instance.status().master.map(|m| m.0),
        Some(IpAddr::V4(PEER)),
        "{log}"
    );
    // keepalived was backup while elastic was master and became master only after priority 0.
    let backup = log.find("Entering BACKUP STATE");
    let master = log.find("Entering MASTER STATE");
    assert!(
        backup.is_some() && master.is_some() && backup < master,
        "keepalived's states, in order:\n{log}"
    );
    assert_eq!(log.matches("Entering MASTER STATE").count(), 1, "{log}");
    assert!(
        !log.contains("invalid") && !log.contains("checksum"),
        "keepalived refused something:\n{log}"
    );
}

/// FRR's vrrpd at 200 is master, elastic at 100 its backup; vrrpd's SIGTERM (priority 0) makes
/// elastic master.
#[test]
fn vrrp_elastic_backs_up_frr_and_takes_over_when_it_stops() {
    let link = Link::new('x');
    let mut frr = link.frr(200);
    let socket = link.elastic_socket();
    let mut instance = Instance::new(config(100)).unwrap();
    instance.handle(Instant::now(), Input::Start);
    drive(&mut instance, &socket, Duration::from_secs(20), |i| {
        i.state() == State::Backup && i.status().master == Some((IpAddr::V4(PEER), 200))
    });
    assert_eq!(
        instance.status().master,
        Some((IpAddr::V4(PEER), 200)),
        "elastic never heard vrrpd as master: {:?}",
        instance.status()
    );
    assert_eq!(instance.state(), State::Backup);
    assert_eq!(
        instance.status().discards,
        Default::default(),
        "vrrpd's adverts all pass"
    );
    frr.stop_vrrpd();
    let after = drive(&mut instance, &socket, Duration::from_secs(10), |i| {
        i.state() == State::Master
    });
    assert_eq!(
        transitions(&after),
        [(State::Backup, State::Master)],
        "{after:?}"
    );
}

/// elastic at 200 is master; vrrpd at 50 is its backup and counts elastic's adverts as received.
#[test]
fn vrrp_frr_backs_up_elastic() {
    let link = Link::new('y');
    let frr = link.frr(50);
    let socket = link.elastic_socket();
    let mut instance = Instance::new(config(200)).unwrap();
    instance.handle(Instant::now(), Input::Start);
    drive(&mut instance, &socket, Duration::from_secs(10), |i| {
        i.state() == State::Master
    });
    drive(&mut instance, &socket, Duration::from_secs(3), |_| false);
    let (status, received) = frr.v4();
    assert_eq!(status, "Backup");
    assert!(received > 0, "vrrpd received none of elastic's adverts");
    assert_eq!(
        instance.status().adverts_received,
        0,
        "vrrpd advertised while backup"
    );
    assert_eq!(instance.state(), State::Master);
}

/// Whether `address` is on elastic's `vb`.
fn on_elastic(link: &Link, address: &str) -> bool {
    let out = Command::new("ip")
        .args(["-n", &link.elastic_ns, "-o", "addr", "show", "dev", "vb"])
        .output()
        .expect("ip addr");
    String::from_utf8_lossy(&out.stdout).contains(&format!(" {address} "))
}

/// The MAC of elastic's `vb`.
fn elastic_mac(link: &Link) -> String {
    let out = Command::new("ip")
        .args(["-n", &link.elastic_ns, "-o", "link", "show", "vb"])
        .output()
        .expect("ip link");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mac = text
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1);
    mac.unwrap_or_else(|| panic!("no MAC in {text}"))
        .to_string()
}

/// The link-layer address the peer's namespace has for `address` (from the neighbour table).
fn peer_neighbour(link: &Link, address: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", &link.peer_ns, "neigh", "show", address, "dev", "va"])
        .output()
        .expect("ip neigh");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The driver (`elastic::vrrp::driver`) puts the address on the interface when it becomes
/// master, announces it with gratuitous ARP (the peer, accepting them, learns elastic's MAC for
/// it), and removes it when keepalived preempts it, and on stop.
#[test]
fn vrrp_driver_adds_the_address_as_master_and_removes_it_as_backup() {
    let link = Link::new('z');
    // Learn from gratuitous ARP even without an entry to update (the default only updates).
    ip(&[
        "netns",
        "exec",
        &link.peer_ns,
        "sysctl",
        "-qw",
        "net.ipv4.conf.va.arp_accept=1",
    ]);
    let mut keepalived = link.keepalived(200, "ka-first");
    let (commands, mut receiver) =
        tokio::sync::watch::channel(elastic::vrrp::driver::Command::Run {
            health: Health::Up,
            priority: 100,
        });
    let elastic_ns = link.elastic_ns.clone();
    let driver = std::thread::spawn(move || {
        let path = Path::new("/run/netns").join(&elastic_ns);
        let ns = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let addresses = ["198.51.100.10/24".parse().unwrap()];
        // The driver finds its own address on the interface (192.0.2.2).
        let config = InstanceConfig {
            primary_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ..config(100)
        };
        let reports = elastic::vrrp::driver::Reports {
            status: &mut |_| {},
            transition: &mut |_, _| {},
        };
        runtime.block_on(elastic::vrrp::driver::run(
            config,
            "vb",
            &addresses,
            &mut receiver,
            reports,
        ))
    });
    let vip = "198.51.100.10/24";
    // keepalived is master: elastic (which may have been master for a moment before keepalived
    // spoke) holds nothing. Then keepalived stops: elastic takes over.
    wait_for("keepalived as master", Duration::from_secs(10), || {
        keepalived.log().contains("Entering MASTER STATE")
    });
    wait_for(
        "a backup elastic holding nothing",
        Duration::from_secs(10),
        || !on_elastic(&link, vip),
    );
    keepalived.stop();
    wait_for(
        "address on elastic after keepalived's stop",
        Duration::from_secs(10),
        || on_elastic(&link, vip),
    );
    let mac = elastic_mac(&link);
    wait_for(
        "the peer to learn elastic's MAC for the address",
        Duration::from_secs(10),
        || peer_neighbour(&link, "198.51.100.10").contains(&mac),
    );
    // keepalived back at 250 preempts: elastic removes the address.
    let _preempting = link.keepalived(250, "ka-second");
    wait_for(
        "address gone after keepalived preempted",
        Duration::from_secs(10),
        || !on_elastic(&link, vip),
    );
    commands
        .send(elastic::vrrp::driver::Command::Stop)
        .expect("driver running");
    let status = driver.join().expect("driver thread").expect("driver");
    assert_eq!(status.state, State::Initialize);
    assert!(!status.holding_addresses);
    assert_eq!(status.discards, Default::default());
    assert!(!on_elastic(&link, vip));
}
