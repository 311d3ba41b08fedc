//! The three announcers the benchmark compares, each started on its own lab host with the same
//! role (primary), data center (14) and neighbor pattern (2001:db8:%d:34::%d):
//!
//! - `elastic` (this crate, release build): `elastic -dcid 14 -primary -neighborpattern …`;
//! - `gobgpd` configured as lelastic configures its embedded GoBGP (`gobgpd_config`), with the
//!   host's addresses added as `gobgp global rib add … origin incomplete community 65000:1`;
//! - the real `lelastic` (Linode's binary, GoBGP inside): `lelastic -dcid 14 -primary …`.

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::program::Interrupt;
use crate::{DCID, Lab, NEIGHBOR_PATTERN, ProcId, VIP4, VIP6, rs_address, run_cmd};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    Elastic,
    Gobgpd,
    Lelastic,
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Contender::Elastic => "elastic",
            Contender::Gobgpd => "gobgpd",
            Contender::Lelastic => "lelastic",
        })
    }
}

/// Where each contender's binary is, and which lab host it runs on.
pub struct Binaries {
    pub elastic: String,
    pub lelastic: Option<String>,
}

impl Contender {
    /// The lab host (1-based) this contender runs on: one host each, so they can idle side by side.
    pub fn host(self) -> usize {
        match self {
            Contender::Elastic => 1,
            Contender::Gobgpd => 2,
            Contender::Lelastic => 3,
        }
    }
}

/// GoBGP's configuration as lelastic builds it through GoBGP's API at start-up:
/// AS 65001, router id 10.0.0.1, no listener (port -1), four route servers with peer AS 65000,
/// eBGP multihop TTL 16, connect-retry 5 / hold 9 / keepalive 3, IPv4 and IPv6 unicast, and the
/// per-neighbor policy lelastic's AddPeer sets: import rejected, export accepted. (A *global* import
/// reject would be wrong: GoBGP applies the global import policy to locally added paths too.)
pub fn gobgpd_config() -> String {
    let mut conf =
        String::from("[global.config]\n  as = 65001\n  router-id = \"10.0.0.1\"\n  port = -1\n");
    for slot in 1..=4 {
        conf.push_str(&format!(
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    \
             peer-as = 65000\n    description = \"route server\"\n  \
             [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 16\n  \
             [neighbors.timers.config]\n    connect-retry = 5\n    hold-time = 9\n    \
             keepalive-interval = 3\n  \
             [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
             afi-safi-name = \"ipv4-unicast\"\n  \
             [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
             afi-safi-name = \"ipv6-unicast\"\n  \
             [neighbors.apply-policy.config]\n    default-import-policy = \"reject-route\"\n    \
             default-export-policy = \"accept-route\"\n",
            rs_address(slot)
        ));
    }
    conf
}

/// Starts `who` on its host; for gobgpd, also adds the host's two paths once its API answers.
/// Returns the daemon's process.
pub fn start(
    lab: &mut Lab,
    interrupt: &Interrupt,
    bins: &Binaries,
    who: Contender,
    run: &str,
) -> Result<ProcId, String> {
    let host = lab.host(who.host());
    let dcid = DCID.to_string();
    let common = [
        "-dcid",
        dcid.as_str(),
        "-primary",
        "-neighborpattern",
        NEIGHBOR_PATTERN,
    ];
    let name = format!("{who}-{run}");
    match who {
        Contender::Elastic => {
            let mut cmd = host.ns.command(&bins.elastic);
            cmd.args(common);
            lab.spawn(&name, cmd)
        }
        Contender::Lelastic => {
            let bin = bins.lelastic.as_deref().ok_or("no lelastic binary")?;
            let mut cmd = host.ns.command(bin);
            cmd.args(common);
            lab.spawn(&name, cmd)
        }
        Contender::Gobgpd => {
            let conf = lab.dir.join("gobgpd-host.toml");
            std::fs::write(&conf, gobgpd_config())
                .map_err(|e| format!("{}: {e}", conf.display()))?;
            let mut cmd = host.ns.command("gobgpd");
            cmd.arg("-f").arg(&conf);
            cmd.args([
                "-t",
                "toml",
                "--api-hosts",
                "127.0.0.1:50051",
                "--pprof-disable",
            ]);
            let id = lab.spawn(&name, cmd)?;
            let host = lab.host(who.host());
            for (afi, prefix) in [("ipv4", format!("{VIP4}/32")), ("ipv6", vip6_prefix())] {
                let args = [
                    "global",
                    "rib",
                    "-a",
                    afi,
                    "add",
                    &prefix,
                    "origin",
                    "incomplete",
                    "community",
                    "65000:1",
                ];
                // The API needs a moment to come up; retry for a bounded time.
                interrupt.wait_for(
                    "gobgpd's API to take a path",
                    Duration::from_secs(15),
                    Duration::from_millis(10),
                    || host.ns.exec("gobgp", &args).ok(),
                )?;
            }
            Ok(id)
        }
    }
}

/// The /64 every contender announces for VIP6 (lelastic widens the /128 on lo to it).
pub fn vip6_prefix() -> String {
    let addr: std::net::Ipv6Addr = VIP6.parse().expect("valid VIP6");
    let s = addr.segments();
    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
}

/// SIGTERM, then SIGKILL after a bounded wait.
pub fn stop(lab: &mut Lab, id: ProcId) {
    lab.signal(id, Signal::SIGTERM);
    if lab.wait_exit(id, Duration::from_secs(10)).is_err() {
        lab.kill(id);
    }
}

/// `gobgp mrt inject global FILE` on gobgpd's host.
pub fn gobgp_inject(lab: &Lab, file: &std::path::Path) -> Result<String, String> {
    let host = lab.host(Contender::Gobgpd.host());
    let path = file.to_str().ok_or("non-UTF-8 path")?;
    host.ns.exec("gobgp", &["mrt", "inject", "global", path])
}

/// The lab module's `check_prerequisites` for the pieces the benchmark adds.
pub fn check_programs(bins: &Binaries) -> Result<(), String> {
    let mut missing = Vec::new();
    for p in ["gobgpd", "gobgp", "ip"] {
        if run_cmd("sh", &["-c", &format!("command -v {p}")]).is_err() {
            missing.push(p.to_string());
        }
    }
    if !std::path::Path::new(&bins.elastic).is_file() {
        missing.push(bins.elastic.clone());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing: {} (integration/bench.sh installs them)",
            missing.join(", ")
        ))
    }
}

/// What gobgpd (or lelastic's embedded GoBGP, which serves the same API) holds, for diagnostics.
pub fn describe(lab: &Lab, who: Contender) -> String {
    if who == Contender::Elastic {
        return String::new();
    }
    let ns = &lab.host(who.host()).ns;
    let mut out = String::new();
    for args in [
        &["neighbor"][..],
        &["global", "rib", "-a", "ipv4"][..],
        &["global", "rib", "-a", "ipv6"][..],
    ] {
        let r = ns.exec("gobgp", args);
        out.push_str(&format!(
            "gobgp {}: {}\n",
            args.join(" "),
            r.unwrap_or_else(|e| e)
        ));
    }
    out
}
