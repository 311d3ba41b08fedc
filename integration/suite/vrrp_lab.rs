//! The lab the VRRP daemon tests share: one L2 segment with a client and two hosts, each host
//! in its own namespace, for IPv4 or IPv6:
//!
//! ```text
//!  client ns: bridge vbr ─┬─ va ── host a eth0
//!                         └─ vb ── host b eth0
//! ```
//!
//! IPv4: the client is 192.0.2.100/24 with a route to the VIP 198.51.100.10/32 on the bridge,
//! the hosts 192.0.2.2 and .3 (`ip_nonlocal_bind`, so a responder binds before the VIP arrives).
//! IPv6: link-local addresses only (no DAD wait); the VIP is 2001:db8::10/64, and before either
//! router runs the client holds a stale neighbour entry for it at a MAC nobody has
//! ([`NOBODY`]), so only an unsolicited neighbour advertisement moves it.
//!
//! What processes run on the hosts (elastic with which config, keepalived, responders) is each
//! test file's; the segment starts them, keeps their logs and stops them on drop.

use std::fs::File;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use elastic_lab::{ProbeReport, daemon_binary, labnet_binary};

/// The port the responders serve on the VIP.
pub(crate) const PORT: u16 = 7777;

/// The IPv6 client's neighbour entry for the VIP starts at this MAC: no host has it.
pub(crate) const NOBODY: &str = "02:00:00:00:00:99";

/// The address family of a segment, and so its VIP and VRID.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) fn vip(self) -> &'static str {
        match self {
            Family::V4 => "198.51.100.10",
            Family::V6 => "2001:db8::10",
        }
    }

    /// The VIP with the prefix length it gets on the host.
    pub(crate) fn vip_net(self) -> String {
        match self {
            Family::V4 => format!("{}/24", self.vip()),
            Family::V6 => format!("{}/64", self.vip()),
        }
    }

    pub(crate) fn vrid(self) -> u8 {
        match self {
            Family::V4 => 51,
            Family::V6 => 52,
        }
    }

    /// `ip`'s family option.
    fn ip_flag(self) -> &'static str {
        match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }
}

/// Runs `program args`, panicking with its stderr if it fails; its stdout.
pub(crate) fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ip args`, panicking with its stderr if it fails; its stdout.
pub(crate) fn ip(args: &[&str]) -> String {
    run("ip", args)
}

/// Polls `done` every 50 ms, panicking after `limit`.
pub(crate) fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then waits (bounded) for the exit; whether it exited by itself with status 0.
pub(crate) fn terminate(child: &mut Child) -> bool {
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

/// `labnet probe` from namespace `client` to `target` (`VIP:PORT`) every 10 ms for `duration`.
pub(crate) fn probe(client: &str, target: &str, duration: Duration) -> ProbeReport {
    let out = Command::new("ip")
        .args(["netns", "exec", client, &labnet_binary()])
        .args(["probe", "--target", target, "--interval-ms", "10"])
        .args(["--duration-ms", &duration.as_millis().to_string()])
        .output()
        .expect("labnet probe");
    ProbeReport::parse(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Who answered, in order of first answer, second by second (lost requests aside).
pub(crate) fn answerers_in_order(report: &ProbeReport) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for counts in report.per_second.values() {
        for who in counts.keys() {
            if who != elastic_lab::LOST && !order.contains(who) {
                order.push(who.clone());
            }
        }
    }
    order
}

/// Each of `needles` appears in `log`, each after the one before.
pub(crate) fn assert_in_order(log: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match log[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("{needle} after byte {from} (order {needles:?}) in\n{log}"),
        }
    }
}

/// The segment: the client's namespace (holding the bridge) and hosts `a` and `b`. `K` names
/// the test file using it, whose own methods (its elastic config, what it waits for) go in an
/// `impl Segment<K>` of its own.
pub(crate) struct Segment<K> {
    kind: PhantomData<K>,
    pub(crate) family: Family,
    pub(crate) client: String,
    pub(crate) hosts: [String; 2],
    pub(crate) dir: PathBuf,
    pub(crate) children: Vec<Child>,
}

/// The test file a segment serves: its code keeps that file's namespaces apart from the other
/// files', so a test's tag need only be unique within its file.
pub(crate) trait LabFile {
    /// Two characters, unique among the files.
    const CODE: &'static str;
}

impl<K: LabFile> Segment<K> {
    /// A new segment; `tag` tells this test's namespaces from the others' of its file.
    pub(crate) fn new(tag: char, family: Family) -> Segment<K> {
        let pid = std::process::id() % 100_000;
        let code = K::CODE;
        let name = |role: &str| format!("el-{pid}{tag}-{code}{role}");
        let segment = Segment {
            kind: PhantomData,
            family,
            client: name("c"),
            hosts: [name("a"), name("b")],
            dir: std::env::temp_dir().join(name("vrrp")),
            children: Vec::new(),
        };
        std::fs::create_dir_all(&segment.dir).unwrap();
        let client = segment.client.as_str();
        for ns in [client, &segment.hosts[0], &segment.hosts[1]] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            if family == Family::V6 {
                // Link-local addresses usable at once (no DAD wait), here and on the moved veths.
                segment.sysctl(ns, "net.ipv6.conf.all.accept_dad=0");
                segment.sysctl(ns, "net.ipv6.conf.default.accept_dad=0");
            }
        }
        ip(&["-n", client, "link", "add", "vbr", "type", "bridge"]);
        if family == Family::V4 {
            ip(&["-n", client, "addr", "add", "192.0.2.100/24", "dev", "vbr"]);
        }
        ip(&["-n", client, "link", "set", "vbr", "up"]);
        for (host, link) in [(0, "va"), (1, "vb")] {
            let ns = &segment.hosts[host];
            ip(&[
                "-n", client, "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns",
                ns,
            ]);
            ip(&["-n", client, "link", "set", link, "master", "vbr", "up"]);
            if family == Family::V4 {
                let address = format!("192.0.2.{}/24", 2 + host);
                ip(&["-n", ns, "addr", "add", &address, "dev", "eth0"]);
                segment.sysctl(ns, "net.ipv4.ip_nonlocal_bind=1");
            }
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
        }
        match family {
            Family::V4 => {
                let route = format!("{}/32", family.vip());
                ip(&["-n", client, "route", "add", &route, "dev", "vbr"]);
            }
            Family::V6 => {
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
                    segment.wait_link_local(host);
                }
                ip(&[
                    "-n",
                    client,
                    "-6",
                    "neigh",
                    "replace",
                    family.vip(),
                    "lladdr",
                    NOBODY,
                    "dev",
                    "vbr",
                    "nud",
                    "stale",
                ]);
            }
        }
        segment
    }
}

impl<K> Segment<K> {
    /// Waits until host `host`'s eth0 has a usable (not tentative) link-local address.
    pub(crate) fn wait_link_local(&self, host: usize) {
        wait_for(
            "a usable link-local address",
            Duration::from_secs(10),
            || {
                let ns = &self.hosts[host];
                let out = ip(&["-n", ns, "-6", "-o", "addr", "show", "dev", "eth0"]);
                out.contains("fe80::") && !out.contains("tentative")
            },
        );
    }

    pub(crate) fn sysctl(&self, ns: &str, setting: &str) {
        let status = Command::new("ip")
            .args(["netns", "exec", ns, "sysctl", "-qw", setting])
            .status()
            .expect("sysctl");
        assert!(status.success(), "sysctl {setting} in {ns}");
    }

    /// Starts `program` in host `host`'s namespace, its output to `log` in the segment's
    /// directory. Returns the child's index.
    pub(crate) fn spawn(&mut self, host: usize, log: &str, program: &str, args: &[&str]) -> usize {
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

    /// [`Segment::spawn`] for elastic on host `host` (`program` is the daemon or a wrapper such
    /// as setpriv), logging to `elastic-<host>.log`; panics if it exits at start.
    pub(crate) fn spawn_elastic(&mut self, host: usize, program: &str, args: &[&str]) -> usize {
        let log = format!("elastic-{host}.log");
        let index = self.spawn(host, &log, program, args);
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(Some(status)) = self.children[index].try_wait() {
            panic!("elastic exited at start with {status}\n{}", self.log(&log));
        }
        index
    }

    /// [`Segment::spawn_elastic`] with `-config config -loglevel debug`; with `capabilities`
    /// (setpriv's form, `+net_admin,+net_raw`), as an unprivileged user holding only those,
    /// inherited and ambient, as systemd starts the unit.
    pub(crate) fn spawn_elastic_with(
        &mut self,
        host: usize,
        config: &std::path::Path,
        capabilities: Option<&str>,
    ) -> usize {
        let config = config.to_str().unwrap().to_string();
        let daemon = daemon_binary();
        let mut args = vec!["-config", &config, "-loglevel", "debug"];
        let (inherited, ambient);
        let program = match capabilities {
            None => daemon.as_str(),
            Some(caps) => {
                inherited = format!("--inh-caps=-all,{caps}");
                ambient = format!("--ambient-caps=-all,{caps}");
                let setpriv = [
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    &inherited,
                    &ambient,
                    &daemon,
                ];
                args.splice(0..0, setpriv);
                "setpriv"
            }
        };
        self.spawn_elastic(host, program, &args)
    }

    /// `labnet serve` on host `host`'s VIP, answering with `a` or `b` (`ip_nonlocal_bind`, or
    /// IPv6's freebind, lets it bind before the VIP arrives).
    pub(crate) fn responder(&mut self, host: usize) {
        let name = ["a", "b"][host];
        let bind = self.target();
        self.spawn(
            host,
            &format!("serve-{name}.log"),
            &labnet_binary(),
            &["serve", "--bind", &bind, "--name", name],
        );
    }

    /// `VIP:PORT`, bracketed for IPv6.
    pub(crate) fn target(&self) -> String {
        match self.family {
            Family::V4 => format!("{}:{PORT}", self.family.vip()),
            Family::V6 => format!("[{}]:{PORT}", self.family.vip()),
        }
    }

    /// `labnet probe` from the client to the VIP every 10 ms for `duration`.
    pub(crate) fn probe(&self, duration: Duration) -> ProbeReport {
        probe(&self.client, &self.target(), duration)
    }

    /// SIGTERM to child `child`, elastic on host `master`, 700 ms into 3 s of the client's
    /// requests: it must exit 0 after its handover, no request may be lost, and the client must
    /// be answered by the stopped host, then by the other. The probe's report.
    pub(crate) fn planned_stop_loses_nothing(
        &mut self,
        master: usize,
        child: usize,
    ) -> ProbeReport {
        let (client, target) = (self.client.clone(), self.target());
        let probing =
            std::thread::spawn(move || probe(&client, &target, Duration::from_millis(3000)));
        std::thread::sleep(Duration::from_millis(700));
        assert!(
            terminate(&mut self.children[child]),
            "elastic exits 0 after the handover\n{}",
            self.log(&format!("elastic-{master}.log"))
        );
        let report = probing.join().expect("probe thread");
        let (old, new) = (["a", "b"][master], ["a", "b"][1 - master]);
        assert_eq!(report.lost, 0, "a planned stop loses nothing: {report:?}");
        assert_eq!(answerers_in_order(&report), [old, new], "{report:?}");
        report
    }

    pub(crate) fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// keepalived (`vrrp_version 3`, 100 ms adverts) on host `host` at `priority`, with the
    /// segment's VIP and VRID. Returns the child's index.
    pub(crate) fn keepalived(&mut self, host: usize, priority: u8) -> usize {
        self.keepalived_with(host, priority, "")
    }

    /// [`Segment::keepalived`] with `extra` lines in its `vrrp_instance` (e.g. unicast peers).
    pub(crate) fn keepalived_with(&mut self, host: usize, priority: u8, extra: &str) -> usize {
        let conf = self.dir.join(format!("keepalived-{host}.conf"));
        std::fs::write(
            &conf,
            format!(
                "global_defs {{\n  vrrp_version 3\n  router_id ka{host}\n}}\n\
                 vrrp_instance vip {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {}\n  \
                 priority {priority}\n  advert_int 0.1\n  virtual_ipaddress {{\n    {}\n  }}\n{extra}}}\n",
                self.family.vrid(),
                self.family.vip_net(),
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

    /// Host `host`'s line for the VIP (`ip -o addr` on eth0), if it holds it.
    pub(crate) fn vip_line(&self, host: usize) -> Option<String> {
        let flag = self.family.ip_flag();
        let out = ip(&[
            "-n",
            &self.hosts[host],
            flag,
            "-o",
            "addr",
            "show",
            "dev",
            "eth0",
        ]);
        let needle = format!(" {} ", self.family.vip_net());
        out.lines()
            .find(|line| line.contains(&needle))
            .map(str::to_string)
    }

    pub(crate) fn holds_vip(&self, host: usize) -> bool {
        self.vip_line(host).is_some()
    }

    /// Host `host`'s eth0 MAC.
    pub(crate) fn mac(&self, host: usize) -> String {
        let out = ip(&["-n", &self.hosts[host], "-o", "link", "show", "dev", "eth0"]);
        let after = out
            .split("link/ether ")
            .nth(1)
            .expect("an Ethernet address");
        after.split_whitespace().next().unwrap().to_string()
    }

    /// The client's neighbour entry for the VIP (`ip neigh show`).
    pub(crate) fn client_entry(&self) -> String {
        let flag = self.family.ip_flag();
        let vip = self.family.vip();
        ip(&["-n", &self.client, flag, "neigh", "show", vip, "dev", "vbr"])
    }

    /// `elastic status --json` on host `host`: its first VRRP instance.
    pub(crate) fn status(&self, host: usize) -> serde_json::Value {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.hosts[host], &daemon_binary()])
            .args(["status", "--json"])
            .output()
            .expect("elastic status");
        let text = String::from_utf8_lossy(&out.stdout);
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("status --json: {e}: {text}"));
        json["vrrp"][0].clone()
    }
}

impl<K> Drop for Segment<K> {
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
