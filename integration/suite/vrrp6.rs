//! The real `elastic` daemon with an IPv6 VRRP instance against keepalived (`vrrp_version 3`)
//! both ways round, on one L2 segment with a client:
//!
//! ```text
//!  client ns: bridge vbr (link-local only) ─┬─ va ── host a eth0 (link-local only)
//!                                           └─ vb ── host b eth0 (link-local only)
//! ```
//!
//! Adverts go from each host's link-local address to ff02::12; the virtual address is
//! 2001:db8::10/64. Before either router runs, the client holds a stale neighbour entry for it at
//! a MAC nobody has: only an unsolicited neighbour advertisement with the Override flag (the
//! client sends nothing that would solicit one) moves it to the master's MAC. Tests assert who
//! holds the address, whose MAC the client has and in which order, never how fast.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use elastic_lab::daemon_binary;

const VIP: &str = "2001:db8::10";
/// The MAC the client's entry starts at: no host has it.
const NOBODY: &str = "02:00:00:00:00:99";

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then waits (bounded) for the exit; whether it exited by itself with status 0.
fn terminate(child: &mut Child) -> bool {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Each of `needles` appears in `log`, each after the one before.
fn assert_in_order(log: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match log[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("{needle} after byte {from} (order {needles:?}) in\n{log}"),
        }
    }
}

/// The segment: the client's namespace (holding the bridge) and hosts `a` and `b`.
struct Segment {
    client: String,
    hosts: [String; 2],
    dir: PathBuf,
    children: Vec<Child>,
}

impl Segment {
    fn new(tag: char) -> Segment {
        let pid = std::process::id() % 100_000;
        let name = |role: &str| format!("el-{pid}{tag}-{role}");
        let segment = Segment {
            client: name("6c"),
            hosts: [name("6a"), name("6b")],
            dir: std::env::temp_dir().join(name("vrrp6")),
            children: Vec::new(),
        };
        std::fs::create_dir_all(&segment.dir).unwrap();
        let client = segment.client.as_str();
        for ns in [client, &segment.hosts[0], &segment.hosts[1]] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            // Link-local addresses usable at once (no DAD wait), here and on the moved veths.
            for setting in [
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ] {
                segment.sysctl(ns, setting);
            }
        }
        ip(&["-n", client, "link", "add", "vbr", "type", "bridge"]);
        ip(&["-n", client, "link", "set", "vbr", "up"]);
        for (ns, link) in [(&segment.hosts[0], "va"), (&segment.hosts[1], "vb")] {
            ip(&[
                "-n", client, "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns",
                ns,
            ]);
            ip(&["-n", client, "link", "set", link, "master", "vbr", "up"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
        }
        // The client reaches the virtual address on the bridge; its entry starts stale at NOBODY.
        ip(&[
            "-n",
            client,
            "-6",
            "route",
            "add",
            "2001:db8::/64",
            "dev",
            "vbr",
        ]);
        for host in 0..2 {
            wait_for(
                "a usable link-local address",
                Duration::from_secs(10),
                || {
                    let out = ip(&[
                        "-n",
                        &segment.hosts[host],
                        "-6",
                        "-o",
                        "addr",
                        "show",
                        "dev",
                        "eth0",
                    ]);
                    out.contains("fe80::") && !out.contains("tentative")
                },
            );
        }
        ip(&[
            "-n", client, "-6", "neigh", "replace", VIP, "lladdr", NOBODY, "dev", "vbr", "nud",
            "stale",
        ]);
        segment
    }

    fn sysctl(&self, ns: &str, setting: &str) {
        let status = Command::new("ip")
            .args(["netns", "exec", ns, "sysctl", "-qw", setting])
            .status()
            .expect("sysctl");
        assert!(status.success(), "sysctl {setting} in {ns}");
    }

    fn spawn(&mut self, host: usize, log: &str, program: &str, args: &[&str]) -> usize {
        let out = File::create(self.dir.join(log)).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.hosts[host], program])
            .args(args)
            .env("STATE_DIRECTORY", self.dir.join(format!("state-{host}")))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        self.children.push(child);
        self.children.len() - 1
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

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
        let log = format!("elastic-{host}.log");
        let args = ["-config", &config, "-loglevel", "debug"];
        let index = self.spawn(host, &log, &daemon_binary(), &args);
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(Some(status)) = self.children[index].try_wait() {
            panic!("elastic exited at start with {status}\n{}", self.log(&log));
        }
        index
    }

    fn keepalived(&mut self, host: usize, priority: u8) -> usize {
        let conf = self.dir.join(format!("keepalived-{host}.conf"));
        std::fs::write(
            &conf,
            format!(
                "global_defs {{\n  vrrp_version 3\n  router_id ka{host}\n}}\n\
                 vrrp_instance v6 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
                 priority {priority}\n  advert_int 0.1\n  virtual_ipaddress {{\n    {VIP}/64\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let dir = self.dir.clone();
        let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
        self.spawn(
            host,
            &format!("keepalived-{host}.log"),
            "keepalived",
            &[
                "-n",
                "-l",
                "-P",
                "-f",
                &path(&format!("keepalived-{host}.conf")),
                "-p",
                &path(&format!("keepalived-{host}.pid")),
                "-r",
                &path(&format!("keepalived-{host}-vrrp.pid")),
            ],
        )
    }

    /// Host `host`'s line for the virtual address (`ip -6 -o addr`), if it holds it.
    fn vip_line(&self, host: usize) -> Option<String> {
        let out = ip(&[
            "-n",
            &self.hosts[host],
            "-6",
            "-o",
            "addr",
            "show",
            "dev",
            "eth0",
        ]);
        out.lines()
            .find(|line| line.contains(&format!(" {VIP}/64 ")))
            .map(str::to_string)
    }

    fn mac(&self, host: usize) -> String {
        let out = ip(&["-n", &self.hosts[host], "-o", "link", "show", "dev", "eth0"]);
        let after = out
            .split("link/ether ")
            .nth(1)
            .expect("an Ethernet address");
        after.split_whitespace().next().unwrap().to_string()
    }

    /// The MAC the client has for the virtual address.
    fn client_entry(&self) -> String {
        ip(&["-n", &self.client, "-6", "neigh", "show", VIP, "dev", "vbr"])
    }

    /// Waits until host `host` alone holds the virtual address and the client has it at `host`'s
    /// MAC.
    fn wait_master(&self, host: usize) {
        let name = ["a", "b"][host];
        wait_for(
            &format!("host {name} alone holding {VIP}"),
            Duration::from_secs(15),
            || self.vip_line(host).is_some() && self.vip_line(1 - host).is_none(),
        );
        let mac = self.mac(host);
        wait_for(
            &format!("the client's entry for {VIP} at {name}'s MAC {mac}"),
            Duration::from_secs(15),
            || self.client_entry().contains(&format!("lladdr {mac}")),
        );
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.client, &self.hosts[0], &self.hosts[1]] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// elastic (150) is master of an IPv6 instance, keepalived (100) its backup: elastic holds the
/// address (added `nodad`), the client learns elastic's MAC from its unsolicited NA; SIGTERM →
/// keepalived takes over, elastic removes the address, the client follows keepalived's NA.
#[test]
fn vrrp6_daemon_master_against_keepalived_backup() {
    let mut segment = Segment::new('p');
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
    let mut segment = Segment::new('q');
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
    let mut segment = Segment::new('r');
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
