//! The VRRP setting, for keepalived and for elastic in VRRP mode (one at a time): VRRP needs the two hosts and the client's router on one L2 segment, which
//! the lab (routed /64 links per host) does not have. This adds one, inside the lab's router:
//!
//! ```text
//!  client ──cl── router ── vbr (bridge, 192.0.2.1/24) ─┬─ va ── host va  eth0 192.0.2.2  priority 150
//!                 203.0.113.10/32 dev vbr (on-link)    └─ vb ── host vb  eth0 192.0.2.3  priority 100
//!
//! (the priorities: FAILOVER_VRRP_PRIORITIES, see [`priorities`]).
//! ```
//!
//! The VIP lives on the master's eth0; the router finds it by ARP and follows gratuitous ARPs.
//! Namespaces are `el-<lab tag>-va` / `-vb` (the cleanup of failover-bench.sh knows the pattern);
//! `Drop` kills whatever still runs in them and deletes them, the bridge and the route.

use std::path::Path;

use crate::{Contender, announcers};
use elastic_lab::{Lab, ProcId, VIP4, daemon_binary, run_cmd};

const BRIDGE: &str = "vbr";
const ROUTER_ADDRESS: &str = "192.0.2.1";
/// (link name on the bridge, address); the first is the primary.
const HOSTS: [(&str, &str); 2] = [("va", "192.0.2.2"), ("vb", "192.0.2.3")];
/// The VRRP priorities of the primary and the backup, for keepalived and elastic alike, unless
/// FAILOVER_VRRP_PRIORITIES ("254,253") says otherwise.
const DEFAULT_PRIORITIES: [u8; 2] = [150, 100];

/// The priorities of the primary and the backup: FAILOVER_VRRP_PRIORITIES ("P,B", 1-254 each,
/// P > B) or the defaults. The backup's decides its skew after a priority-0 advert:
/// (256 − B) / 256 × advert.
pub(crate) fn priorities() -> Result<[u8; 2], String> {
    let Ok(value) = std::env::var("FAILOVER_VRRP_PRIORITIES") else {
        return Ok(DEFAULT_PRIORITIES);
    };
    let parsed: Vec<u8> = value
        .split(',')
        .map(|p| p.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("FAILOVER_VRRP_PRIORITIES={value:?}: {e}"))?;
    match parsed[..] {
        [primary, backup] if (1..=254).contains(&primary) && (1..primary).contains(&backup) => {
            Ok([primary, backup])
        }
        _ => Err(format!(
            "FAILOVER_VRRP_PRIORITIES={value:?}: give the primary's and the backup's, 1-254, the primary's higher"
        )),
    }
}

fn priority(index: usize) -> u8 {
    priorities().unwrap_or(DEFAULT_PRIORITIES)[index]
}

pub(crate) struct VrrpSegment {
    router: String,
    /// The two host namespaces, primary first.
    pub(crate) hosts: Vec<String>,
    route_added: bool,
}

impl VrrpSegment {
    /// Builds the bridge in the lab's router and the two hosts. The router must not have a route
    /// for the VIP already (no BGP announcer running).
    pub(crate) fn build(lab: &Lab) -> Result<Self, String> {
        let router = lab.router.name.clone();
        let ip = |args: &[&str]| {
            let mut all = vec!["-n", router.as_str()];
            all.extend_from_slice(args);
            run_cmd("ip", &all)
        };
        ip(&["link", "add", BRIDGE, "type", "bridge"])?;
        let mut segment = Self {
            router: router.clone(),
            hosts: Vec::new(),
            route_added: false,
        };
        ip(&[
            "addr",
            "add",
            &format!("{ROUTER_ADDRESS}/24"),
            "dev",
            BRIDGE,
        ])?;
        ip(&["link", "set", BRIDGE, "up"])?;
        for (link, address) in HOSTS {
            let ns = format!("el-{}-{link}", lab.tag);
            run_cmd("ip", &["netns", "add", &ns])?;
            segment.hosts.push(ns.clone());
            let in_ns = |args: &[&str]| {
                let mut all = vec!["-n", ns.as_str()];
                all.extend_from_slice(args);
                run_cmd("ip", &all)
            };
            in_ns(&["link", "set", "lo", "up"])?;
            // The service binds the VIP on both hosts, but only the master has it.
            run_cmd(
                "ip",
                &[
                    "netns",
                    "exec",
                    &ns,
                    "sysctl",
                    "-q",
                    "-w",
                    "net.ipv4.ip_nonlocal_bind=1",
                    "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0",
                ],
            )?;
            ip(&[
                "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            ip(&["link", "set", link, "master", BRIDGE])?;
            ip(&["link", "set", link, "up"])?;
            in_ns(&["addr", "add", &format!("{address}/24"), "dev", "eth0"])?;
            in_ns(&["link", "set", "eth0", "up"])?;
            in_ns(&["route", "add", "default", "via", ROUTER_ADDRESS])?;
        }
        ip(&["route", "add", &format!("{VIP4}/32"), "dev", BRIDGE])?;
        segment.route_added = true;
        Ok(segment)
    }
}

/// keepalived's configuration for host `index` (0 = primary): one VRRP instance on eth0, the VIP
/// as a /32, advert_int `advert_ms`, the health check as a track_script (interval 1, fall 2, rise
/// 2). Under a second it needs VRRPv3 (v2 counts adverts in whole seconds).
pub(crate) fn keepalived_config(index: usize, check: &Path, advert_ms: u32) -> String {
    let (link, _) = HOSTS[index];
    let priority = priority(index);
    let state = if index == 0 { "MASTER" } else { "BACKUP" };
    let version = if advert_ms < 1000 {
        "    vrrp_version 3\n"
    } else {
        ""
    };
    let advert = f64::from(advert_ms) / 1000.0;
    format!(
        "# Written by the failover benchmark.\n\
         global_defs {{\n    router_id el-{link}\n    script_user root\n{version}}}\n\n\
         vrrp_script service {{\n    script \"{}\"\n    interval 1\n    timeout 1\n    \
         fall 2\n    rise 2\n}}\n\n\
         vrrp_instance vip {{\n    state {state}\n    interface eth0\n    \
         virtual_router_id 10\n    priority {priority}\n    advert_int {advert}\n    \
         virtual_ipaddress {{\n        {VIP4}/32 dev eth0\n    }}\n    \
         track_script {{\n        service\n    }}\n}}\n",
        check.display()
    )
}

/// The health check elastic runs in VRRP mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VrrpProbe {
    /// `exec` of the bash script keepalived's track_script runs; interval 1 s, fall 2.
    Exec,
    /// `process` on the service's pidfile (the pidfd decides); interval 2 s, fall 3.
    Process,
}

/// elastic's VRRP-mode YAML for host `index` (0 = primary): the probe gating one instance on
/// eth0 (VRID 10, the VIP as a /32, keepalived's priorities) at `advert_ms`; `on_down` is the
/// default `withdraw` (priority 0, as keepalived's FAULT).
pub(crate) fn elastic_config(lab: &Lab, index: usize, probe: VrrpProbe, advert_ms: u32) -> String {
    let priority = priority(index);
    let label = ["a", "b"][index];
    let probe = match probe {
        VrrpProbe::Exec => format!(
            "exec: [\"{}\"]\n    interval: 1s\n    fall: 2",
            lab.dir.join("check-service.sh").display()
        ),
        VrrpProbe::Process => format!(
            "process: {{pidfile: \"{}\"}}\n    interval: 2s\n    fast_interval: 2s\n    fall: 3",
            announcers::pidfile(lab, label).display()
        ),
    };
    let use_vmac = use_vmac();
    format!(
        "# Written by the failover benchmark: elastic in VRRP mode.\n\
         probes:\n  service:\n    {probe}\n\
         vrrp:\n  interface: eth0\n  vrid: 10\n  priority: {priority}\n  \
         advert_interval: {advert_ms}ms\n  addresses: [\"{VIP4}/32\"]\n  use_vmac: {use_vmac}\n"
    )
}

/// FAILOVER_VRRP_VMAC=1: elastic's VRRP instances run with `use_vmac: true` (the RFC's virtual
/// MAC on a macvlan); keepalived's stay as they are.
pub(crate) fn use_vmac() -> bool {
    std::env::var("FAILOVER_VRRP_VMAC").is_ok_and(|v| v == "1")
}

/// Starts `who` (elastic in VRRP mode, or keepalived) on host `index` of the segment; `check`
/// is keepalived's track_script.
pub(crate) fn start(
    lab: &mut Lab,
    segment: &VrrpSegment,
    who: Contender,
    index: usize,
    check: &Path,
) -> Result<ProcId, String> {
    match who.elastic_vrrp() {
        Some((probe, advert_ms)) => start_elastic(lab, segment, index, probe, advert_ms),
        None => start_keepalived(lab, segment, index, check, who.keepalived_advert_ms()),
    }
}

/// Starts elastic in VRRP mode on host `index` of the segment.
pub(crate) fn start_elastic(
    lab: &mut Lab,
    segment: &VrrpSegment,
    index: usize,
    probe: VrrpProbe,
    advert_ms: u32,
) -> Result<ProcId, String> {
    let (link, _) = HOSTS[index];
    let name = format!("elastic-vrrp-{link}-{probe:?}-{advert_ms}ms");
    let conf = lab.dir.join(format!("{name}.yaml"));
    std::fs::write(&conf, elastic_config(lab, index, probe, advert_ms))
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", &segment.hosts[index], &daemon_binary()]);
    cmd.arg("-config").arg(&conf);
    lab.spawn(&name, cmd)
}

/// Starts keepalived (VRRP only, foreground) on host `index` of the segment.
pub(crate) fn start_keepalived(
    lab: &mut Lab,
    segment: &VrrpSegment,
    index: usize,
    check: &Path,
    advert_ms: u32,
) -> Result<ProcId, String> {
    let (link, _) = HOSTS[index];
    let dir = lab.dir.clone();
    let conf = dir.join(format!("keepalived-{link}.conf"));
    std::fs::write(&conf, keepalived_config(index, check, advert_ms))
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", &segment.hosts[index], "keepalived"]);
    cmd.args(["-n", "-P", "-l", "-D", "-f"]).arg(&conf);
    // Own pid files: two keepalived run side by side, and none may touch the system's.
    cmd.arg("-p")
        .arg(dir.join(format!("keepalived-{link}.pid")));
    cmd.arg("-r")
        .arg(dir.join(format!("keepalived-vrrp-{link}.pid")));
    cmd.arg("-c")
        .arg(dir.join(format!("keepalived-checkers-{link}.pid")));
    lab.spawn(&format!("keepalived-{link}"), cmd)
}

impl Drop for VrrpSegment {
    fn drop(&mut self) {
        for ns in &self.hosts {
            // keepalived forks its VRRP child; whatever runs in a namespace this run created is
            // this run's.
            crate::kill_namespace_processes(ns);
            if let Err(e) = run_cmd("ip", &["netns", "del", ns]) {
                eprintln!("failover: could not delete namespace {ns}: {e}");
            }
        }
        if self.route_added {
            let _ = run_cmd(
                "ip",
                &["-n", &self.router, "route", "del", &format!("{VIP4}/32")],
            );
        }
        let _ = run_cmd("ip", &["-n", &self.router, "link", "del", BRIDGE]);
    }
}
