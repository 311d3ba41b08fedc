//! The network-namespace lab shared by the end-to-end tests (`integration/main.rs`), the demo and
//! the two benchmarks: one crate, compiled once, each program using the part it needs.
//!
//! - this file: [`Lab`], its namespaces, hosts and processes; [`Netns`] one namespace;
//! - [`daemon_binary`], [`run_cmd`], [`check_prerequisites`]: the programs the lab runs;
//! - [`rs`]: the route servers (FRR, BIRD 2, GoBGP), their configs and their CLIs' output;
//! - [`fakepeer`]: a route server written with raw bytes, for hostile input;
//! - [`ProbeReport`]: what the client's `labnet probe` saw, as labnet prints it;
//! - [`program`]: the `main` of the demo and the benchmarks (signals stop them between steps);
//! - [`contender`], [`measure`]: the benchmarks' announcers and figures;
//! - [`freeze`]: a host frozen (processes stopped, what it sends dropped, links up).
//!
//! One `Lab` is a router namespace (forwarding, the four route servers on its loopback at
//! 2001:db8:14:34::1..4), one namespace per host (where `elastic` runs, the VIPs on `lo`) and
//! optionally a client namespace (198.51.100.2) whose traffic to the VIP the router forwards along
//! the route its route server installed. Everything it creates — namespaces, processes, FRR
//! pathspaces — is removed in `Drop`, also when a test panics. Root only.
//!
//! ```text
//!  client 198.51.100.2 ──cl── router ──h1── host 1  2001:db8:ff:1::2  (lo: 203.0.113.10, 2001:db8:100::1)
//!                              │ lo: 2001:db8:14:34::1..4 (route servers)
//!                              └──h2── host 2  2001:db8:ff:2::2
//! ```
#![allow(
    clippy::disallowed_methods,
    reason = "the lab measures real time; the one-clock rule is the daemon's"
)]

mod commands;
pub mod contender;
pub mod fakepeer;
pub mod flood;
pub mod freeze;
pub mod measure;
mod netns;
mod probe_report;
pub mod program;
pub mod rs;

use std::fs::{self, File};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

pub use commands::{check_prerequisites, daemon_binary, labnet_binary, run_cmd};
pub use freeze::Frozen;
pub use netns::{Netns, namespace_pids};
pub use probe_report::{LOST, ProbeReport};
pub use rs::{Community, Origin, RouteServer, RouteView, RsKind, SessionView};

/// The data-center id every lab uses; route servers are `2001:db8:14:34::1..4`.
pub const DCID: u32 = 14;
/// lelastic's `-neighborpattern`, pointed at documentation space.
pub const NEIGHBOR_PATTERN: &str = "2001:db8:%d:34::%d";
/// The shared IPv4 address (VIP) every host puts on `lo`.
pub const VIP4: &str = "203.0.113.10";
/// The shared IPv6 address every host puts on `lo` (announced as its /64, or /56 with -send56).
pub const VIP6: &str = "2001:db8:100::1";
/// A second documentation address, for tests where each host has an address of its own
/// (active/active): on no host's `lo` unless the test puts it there.
pub const VIP4_B: &str = "203.0.113.11";
/// The UDP port `labnet serve` answers on.
pub const LABNET_PORT: u16 = 7777;
/// Where hosts' session addresses come from: host N is 2001:db8:ff:N::2, its router side ::1.
pub(crate) const HOST_RANGE: &str = "2001:db8:ff::/48";

/// Route-server address `slot` (1..=4).
pub fn rs_address(slot: u8) -> IpAddr {
    format!("2001:db8:{DCID}:34::{slot}")
        .parse()
        .expect("valid address")
}

/// What a test asks for.
#[derive(Clone, Debug)]
pub struct LabSpec {
    /// The route-server software on the four addresses.
    rs: RsKind,
    /// How many host namespaces (1 or 2).
    hosts: usize,
    /// Whether to build the client namespace.
    client: bool,
    /// Whether hosts get the VIPs on `lo` from the lab (lelastic needs that; elastic can bind them
    /// itself with `-address`).
    vips_on_lo: bool,
    /// TCP MD5 password the route servers require (their templates' `{{MD5_PASSWORD}}`); without
    /// one, that line is left out.
    pub md5_password: Option<String>,
    /// BFD on the first route server (FRR: bfdd beside zebra; BIRD: `protocol bfd`), at
    /// `bfd_interval_ms` × 3. One BFD daemon per namespace owns the BFD ports, so the other slots
    /// run without.
    pub bfd: bool,
    /// The route server's BFD intervals (TX and RX): 1 s, as FRR's CI under load; the failover
    /// benchmark asks for the intervals it measures.
    pub bfd_interval_ms: u32,
}

impl LabSpec {
    pub fn new(rs: RsKind) -> Self {
        Self {
            rs,
            hosts: 1,
            client: false,
            vips_on_lo: true,
            md5_password: None,
            bfd: false,
            bfd_interval_ms: 1000,
        }
    }
    pub fn with_bfd(mut self) -> Self {
        self.bfd = true;
        self
    }
    pub fn bfd_interval_ms(mut self, ms: u32) -> Self {
        self.bfd_interval_ms = ms;
        self
    }
    pub fn hosts(mut self, n: usize) -> Self {
        self.hosts = n;
        self
    }
    pub fn with_client(mut self) -> Self {
        self.client = true;
        self
    }
    pub fn without_vips(mut self) -> Self {
        self.vips_on_lo = false;
        self
    }
    pub fn md5_password(mut self, password: &str) -> Self {
        self.md5_password = Some(password.to_string());
        self
    }
}

/// A handle on a process the lab started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcId(usize);

/// A process the lab started, killed by PID on drop.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl Proc {
    fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    fn kill(&mut self) {
        if self.poll_exit().is_none() {
            // Child::kill sends SIGKILL to this child's PID only.
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }
}

/// One host namespace.
pub struct Host {
    /// 1-based index; the host's address is 2001:db8:ff:N::2.
    pub index: usize,
    /// Short name ("a", "b") used in logs and by `labnet serve`.
    pub label: String,
    pub ns: Netns,
}

impl Host {
    /// The host's BGP session (and next-hop) address.
    pub fn session_address(&self) -> IpAddr {
        format!("2001:db8:ff:{}::2", self.index)
            .parse()
            .expect("valid address")
    }
    /// The router's address on the host's link.
    pub(crate) fn router_address(&self) -> IpAddr {
        format!("2001:db8:ff:{}::1", self.index)
            .parse()
            .expect("valid address")
    }
}

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// The lab. Field order matters for drop: processes die (in `Drop::drop`) before namespaces go.
pub struct Lab {
    pub tag: String,
    pub dir: PathBuf,
    pub spec: LabSpec,
    procs: Vec<Proc>,
    pub route_servers: Vec<RouteServer>,
    pub hosts: Vec<Host>,
    pub client: Option<Netns>,
    pub router: Netns,
}

impl Lab {
    /// Builds the lab, or panics with what is missing or what failed (tests never skip).
    pub fn new(spec: LabSpec) -> Self {
        check_prerequisites(&spec.rs).unwrap_or_else(|e| panic!("lab prerequisites: {e}"));
        match Self::build(spec) {
            Ok(lab) => lab,
            Err(e) => panic!("lab setup failed: {e}"),
        }
    }

    fn build(spec: LabSpec) -> Result<Self, String> {
        // Unique per process and per test (tests in one binary run in parallel); short, so
        // namespace and pathspace names stay readable.
        let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            char::from(b'a' + (n % 26) as u8)
        );
        let tag = if n >= 26 {
            format!("{tag}{}", n / 26)
        } else {
            tag
        };
        let dir = std::env::temp_dir().join(format!("el-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        // Route-server daemons drop privileges (FRR runs as `frr`) and must write their logs here.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).map_err(|e| e.to_string())?;

        let router = Netns::create(format!("el-{tag}-r"))?;
        // From here on, a failure drops `lab` and with it everything built so far.
        let mut lab = Self {
            tag: tag.clone(),
            dir,
            spec: spec.clone(),
            procs: Vec::new(),
            route_servers: Vec::new(),
            hosts: Vec::new(),
            client: None,
            router,
        };
        lab.setup_router()?;
        for index in 1..=spec.hosts {
            lab.add_host(index)?;
        }
        if spec.client {
            lab.add_client()?;
        }
        for slot in 1..=4u8 {
            if spec.rs != RsKind::None {
                let rs = RouteServer::start(&mut lab, spec.rs, slot)?;
                lab.route_servers.push(rs);
            }
        }
        for i in 0..lab.route_servers.len() {
            let slot = lab.route_servers[i].slot;
            wait_until(
                &format!("route server {slot} to answer queries"),
                Duration::from_secs(20),
                Duration::from_millis(100),
                || lab.sessions(slot).ok(),
            )
            .map_err(|e| format!("{e}\n{}", lab.diagnostics()))?;
        }
        Ok(lab)
    }

    fn setup_router(&mut self) -> Result<(), String> {
        let r = &self.router;
        r.sysctl(&[
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        ])?;
        for slot in 1..=4 {
            r.ip(&[
                "addr",
                "add",
                &format!("{}/128", rs_address(slot)),
                "dev",
                "lo",
                "nodad",
            ])?;
        }
        Ok(())
    }

    fn add_host(&mut self, index: usize) -> Result<(), String> {
        let label = ((b'a' + (index - 1) as u8) as char).to_string();
        let ns = Netns::create(format!("el-{}-{label}", self.tag))?;
        // FRR's zebra sends router advertisements once extended next hop is on; a host that
        // listened would pick a SLAAC address as its session source.
        ns.sysctl(&[
            "net.ipv6.conf.all.accept_ra=0",
            "net.ipv6.conf.default.accept_ra=0",
            "net.ipv6.conf.all.autoconf=0",
            "net.ipv6.conf.default.autoconf=0",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        ])?;
        let host = Host { index, label, ns };
        let link = format!("h{index}");
        // Created inside the router namespace, the peer end directly in the host's: names only
        // have to be unique per namespace.
        self.router.ip(&[
            "link",
            "add",
            &link,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &host.ns.name,
        ])?;
        self.router.ip(&[
            "addr",
            "add",
            &format!("{}/64", host.router_address()),
            "dev",
            &link,
            "nodad",
        ])?;
        self.router.ip(&["link", "set", &link, "up"])?;
        let h = &host.ns;
        h.ip(&[
            "addr",
            "add",
            &format!("{}/64", host.session_address()),
            "dev",
            "eth0",
            "nodad",
        ])?;
        h.ip(&["link", "set", "eth0", "up"])?;
        let via = host.router_address().to_string();
        h.ip(&[
            "-6",
            "route",
            "add",
            &format!("2001:db8:{DCID}:34::/64"),
            "via",
            &via,
            "dev",
            "eth0",
        ])?;
        h.ip(&[
            "route",
            "add",
            "198.51.100.0/24",
            "via",
            "inet6",
            &via,
            "dev",
            "eth0",
        ])?;
        if self.spec.vips_on_lo {
            h.ip(&["addr", "add", &format!("{VIP4}/32"), "dev", "lo"])?;
            // A /128, as an operator would add it: the daemon widens it to /64 (or /56).
            h.ip(&["addr", "add", &format!("{VIP6}/128"), "dev", "lo", "nodad"])?;
        }
        self.hosts.push(host);
        Ok(())
    }

    fn add_client(&mut self) -> Result<(), String> {
        let ns = Netns::create(format!("el-{}-c", self.tag))?;
        self.router.ip(&[
            "link", "add", "cl", "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
        ])?;
        self.router
            .ip(&["addr", "add", "198.51.100.1/24", "dev", "cl"])?;
        self.router.ip(&["link", "set", "cl", "up"])?;
        ns.ip(&["addr", "add", "198.51.100.2/24", "dev", "eth0"])?;
        ns.ip(&["link", "set", "eth0", "up"])?;
        ns.ip(&["route", "add", "203.0.113.0/24", "via", "198.51.100.1"])?;
        self.client = Some(ns);
        Ok(())
    }

    /// Host `index` (1-based).
    pub fn host(&self, index: usize) -> &Host {
        &self.hosts[index - 1]
    }

    /// Freezes host `index` (1-based): its processes stopped, everything it sends dropped, its
    /// link up. Thawed by [`Frozen::thaw`] or when the guard drops.
    pub fn freeze_host(&self, index: usize) -> Result<Frozen, String> {
        freeze::freeze(&self.host(index).ns.name, "eth0")
    }

    /// The route server at `slot` (1..=4).
    pub fn route_server(&self, slot: u8) -> &RouteServer {
        self.route_servers
            .iter()
            .find(|rs| rs.slot == slot)
            .unwrap_or_else(|| panic!("no route server in slot {slot}"))
    }

    /// Starts a process in namespace `ns` with its output going to `<lab dir>/<name>.log`.
    pub fn spawn(&mut self, name: &str, mut cmd: Command) -> Result<ProcId, String> {
        let log = self.dir.join(format!("{name}.log"));
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().map_err(|e| format!("spawn {name}: {e}"))?;
        self.procs.push(Proc {
            name: name.to_string(),
            child,
            log,
            exited: None,
        });
        Ok(ProcId(self.procs.len() - 1))
    }

    /// Starts the daemon under test on host `index`: `-dcid 14 -neighborpattern … ARGS…`, logging
    /// at debug level to `<lab dir>/daemon-<label>.log`.
    pub fn start_daemon(&mut self, index: usize, args: &[&str]) -> ProcId {
        self.start_daemon_with_env(index, args, &[])
    }

    /// [`Lab::start_daemon`] with extra environment variables (e.g. `NOTIFY_SOCKET`).
    pub fn start_daemon_with_env(
        &mut self,
        index: usize,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ProcId {
        let bin = daemon_binary();
        let host = self.host(index);
        let mut cmd = host.ns.command(&bin);
        // Per host: on a kernel without address marks the daemon records its addresses there.
        cmd.env(
            "STATE_DIRECTORY",
            self.dir.join(format!("state-{}", host.label)),
        );
        cmd.envs(env.iter().copied());
        // Never the machine's /etc/elastic/elastic.yaml: a test that wants a file passes its own
        // `-config`, which comes later and wins. (Not for ELASTIC_BIN=lelastic: it has no -config.)
        if std::env::var_os("ELASTIC_BIN").is_none() {
            cmd.args(["-config", ""]);
        }
        cmd.args([
            "-dcid",
            &DCID.to_string(),
            "-neighborpattern",
            NEIGHBOR_PATTERN,
        ]);
        cmd.args(args);
        cmd.args(["-loglevel", "debug"]);
        let name = format!("daemon-{}", host.label);
        let id = self.spawn(&name, cmd).unwrap_or_else(|e| panic!("{e}"));
        // A daemon that dies at once (bad flags, missing binary) should fail here, not in a wait.
        std::thread::sleep(Duration::from_millis(200));
        if let Some(status) = self.exit_status(id) {
            panic!(
                "{name} ({bin}) exited at start with {status}\n{}",
                self.log(id)
            );
        }
        id
    }

    /// Starts `labnet serve` on host `index`, answering on VIP4:LABNET_PORT with the host's label.
    pub fn start_responder(&mut self, index: usize) -> ProcId {
        let host = self.host(index);
        let mut cmd = host.ns.command(&labnet_binary());
        cmd.args([
            "serve",
            "--bind",
            &format!("{VIP4}:{LABNET_PORT}"),
            "--name",
            &host.label,
        ]);
        let name = format!("labnet-serve-{}", host.label);
        self.spawn(&name, cmd).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs `labnet probe` in the client namespace for `duration` and returns its report.
    pub fn probe(&self, duration: Duration) -> Result<ProbeReport, String> {
        let client = self.client.as_ref().ok_or("lab has no client")?;
        let out = client.exec(
            &labnet_binary(),
            &[
                "probe",
                "--target",
                &format!("{VIP4}:{LABNET_PORT}"),
                "--duration-ms",
                &duration.as_millis().to_string(),
            ],
        )?;
        ProbeReport::parse(&out)
    }

    pub fn pid(&self, id: ProcId) -> Pid {
        Pid::from_raw(self.procs[id.0].child.id() as i32)
    }

    /// Sends `sig` to the process (by PID) unless it has already exited.
    pub fn signal(&mut self, id: ProcId, sig: Signal) {
        if self.procs[id.0].poll_exit().is_none() {
            signal::kill(self.pid(id), sig).unwrap_or_else(|e| panic!("kill {sig}: {e}"));
        }
    }

    /// The exit status, if the process has exited.
    pub fn exit_status(&mut self, id: ProcId) -> Option<ExitStatus> {
        self.procs[id.0].poll_exit()
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, id: ProcId, timeout: Duration) -> Result<ExitStatus, String> {
        let name = self.procs[id.0].name.clone();
        wait_until(
            &format!("{name} to exit"),
            timeout,
            Duration::from_millis(20),
            || self.procs[id.0].poll_exit(),
        )
    }

    /// Kills the process (SIGKILL by PID) and reaps it.
    pub fn kill(&mut self, id: ProcId) {
        self.procs[id.0].kill();
    }

    /// What the process wrote to stdout/stderr so far.
    pub fn log(&self, id: ProcId) -> String {
        fs::read_to_string(&self.procs[id.0].log).unwrap_or_default()
    }

    /// Resident set size of the process in kB (`VmRSS`).
    pub fn rss_kb(&self, id: ProcId) -> Result<u64, String> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid(id)))
            .map_err(|e| format!("read status: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS".to_string())
    }

    /// Routes for `prefix` at the route server in `slot` (empty: absent).
    pub fn routes(&self, slot: u8, prefix: &str) -> Result<Vec<RouteView>, String> {
        self.route_server(slot).routes(self, prefix)
    }

    /// The sessions the route server in `slot` knows.
    pub fn sessions(&self, slot: u8) -> Result<Vec<SessionView>, String> {
        self.route_server(slot).sessions(self)
    }

    /// Whether the route server in `slot` has an Established session with `neighbor`.
    pub fn established(&self, slot: u8, neighbor: IpAddr) -> bool {
        self.sessions(slot)
            .map(|s| s.iter().any(|s| s.neighbor == neighbor && s.established))
            .unwrap_or(false)
    }

    /// Whether the route server in `slot` logged a Cease NOTIFICATION received from `neighbor`.
    pub fn logged_cease_from(&self, slot: u8, neighbor: IpAddr) -> Result<bool, String> {
        self.route_server(slot).logged_cease_from(neighbor)
    }

    /// Stops the route server in `slot` (SIGTERM, then SIGKILL after 5 s).
    pub fn stop_route_server(&mut self, slot: u8) -> Result<(), String> {
        let proc = self.route_server(slot).proc;
        self.signal(proc, Signal::SIGTERM);
        if self.wait_exit(proc, Duration::from_secs(5)).is_err() {
            self.kill(proc);
        }
        Ok(())
    }

    /// Starts the route server in `slot` again, with the same configuration.
    pub fn start_route_server(&mut self, slot: u8) -> Result<(), String> {
        let kind = self.route_server(slot).kind;
        let fresh = RouteServer::start(self, kind, slot)?;
        let i = self
            .route_servers
            .iter()
            .position(|rs| rs.slot == slot)
            .expect("slot present");
        self.route_servers[i] = fresh;
        wait_until(
            &format!("route server {slot} to answer queries again"),
            Duration::from_secs(20),
            Duration::from_millis(100),
            || self.sessions(slot).ok(),
        )
        .map(drop)
    }

    /// Everything a failing test wants to see: process states, log tails, route-server views.
    pub fn diagnostics(&self) -> String {
        let mut out = format!(
            "--- lab {} (files in {}) ---\n",
            self.tag,
            self.dir.display()
        );
        for p in &self.procs {
            let state = match p.exited {
                Some(s) => format!("exited: {s}"),
                None => "running".to_string(),
            };
            out.push_str(&format!(
                "process {} pid {} {state}\n",
                p.name,
                p.child.id()
            ));
            if p.name.starts_with("daemon") || p.exited.is_some() {
                let log = fs::read_to_string(&p.log).unwrap_or_default();
                out.push_str(&tail(&log, 40));
            }
        }
        for rs in &self.route_servers {
            out.push_str(&format!(
                "route server {} ({:?}): {:?}\n",
                rs.slot,
                rs.kind,
                rs.sessions(self)
            ));
            if let Some(log) = &rs.log_file {
                let text = fs::read_to_string(log).unwrap_or_default();
                out.push_str(&tail(&text, 15));
            }
        }
        out
    }
}

/// Traffic to an address other than [`VIP4`] (active/active tests).
impl Lab {
    /// [`Lab::start_responder`] on `address` (already on the host's `lo`), port LABNET_PORT.
    pub fn start_responder_on(&mut self, index: usize, address: &str) -> ProcId {
        let host = self.host(index);
        let mut cmd = host.ns.command(&labnet_binary());
        cmd.args([
            "serve",
            "--bind",
            &format!("{address}:{LABNET_PORT}"),
            "--name",
            &host.label,
        ]);
        let name = format!("labnet-serve-{}-{address}", host.label);
        self.spawn(&name, cmd).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Lab::probe`] to `address`:LABNET_PORT.
    pub fn probe_to(&self, address: &str, duration: Duration) -> Result<ProbeReport, String> {
        let client = self.client.as_ref().ok_or("lab has no client")?;
        let out = client.exec(
            &labnet_binary(),
            &[
                "probe",
                "--target",
                &format!("{address}:{LABNET_PORT}"),
                "--duration-ms",
                &duration.as_millis().to_string(),
            ],
        )?;
        ProbeReport::parse(&out)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Daemons first (so they do not reconnect to half-dead route servers), then the rest.
        for p in self.procs.iter_mut().rev() {
            p.kill();
        }
        for rs in &self.route_servers {
            rs.cleanup();
        }
        if std::thread::panicking() {
            eprintln!("lab {}: files kept in {}", self.tag, self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
        // Namespaces are dropped after this, with the fields.
    }
}

/// Polls `check` every `poll` until it returns `Some`, or fails after `timeout`. Never unbounded.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(poll);
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].iter().map(|l| format!("    {l}\n")).collect()
}
