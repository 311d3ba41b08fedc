//! Route servers in the router namespace (FRR, BIRD 2, GoBGP), one process per route-server
//! address, and their views parsed into plain data: routes for a prefix and session states.
//!
//! Configs are rendered from the templates in `configs/` (the same files self-hosters start from).

mod bird;
mod frr;
mod gobgp;

use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::Value;

use crate::{Lab, ProcId, rs_address, run_cmd};

/// Which software runs the route servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsKind {
    /// zebra + bgpd for slot 1 (installs routes in the router's kernel), `bgpd -Z` for the others.
    Frr,
    /// One bird per address; slot 1 exports to the kernel.
    Bird,
    /// One gobgpd per address; installs nothing.
    Gobgp,
    /// No route server at all (the addresses exist; a fake peer may listen on them).
    None,
}

impl RsKind {
    pub(crate) fn programs(&self) -> Vec<&'static str> {
        match self {
            RsKind::Frr => vec![FRR_BGPD, FRR_ZEBRA, "vtysh"],
            RsKind::Bird => vec!["bird", "birdc"],
            RsKind::Gobgp => vec!["gobgpd", "gobgp"],
            RsKind::None => vec![],
        }
    }
}

/// The Debian package that ships `program`.
pub(crate) fn package_of(program: &str) -> &'static str {
    match program {
        FRR_BGPD | FRR_ZEBRA | "vtysh" => "frr",
        "bird" | "birdc" => "bird2",
        "gobgpd" | "gobgp" => "gobgpd",
        "sysctl" => "procps",
        _ => "iproute2",
    }
}

const FRR_BGPD: &str = "/usr/lib/frr/bgpd";
const FRR_ZEBRA: &str = "/usr/lib/frr/zebra";
const FRR_BFDD: &str = "/usr/lib/frr/bfdd";

/// BGP ORIGIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

/// A standard community `asn:value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Community(pub u16, pub u16);

/// One path for a prefix as a route server sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteView {
    pub prefix: String,
    /// The neighbor the path came from.
    pub from: Option<IpAddr>,
    pub next_hop: Option<IpAddr>,
    pub origin: Option<Origin>,
    pub as_path: Vec<u32>,
    pub communities: Vec<Community>,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
}

impl RouteView {
    /// A path for `prefix` with no attribute known yet.
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            from: None,
            next_hop: None,
            origin: None,
            as_path: Vec::new(),
            communities: Vec::new(),
            local_pref: None,
            med: None,
        }
    }
}

/// One BGP session as a route server sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionView {
    pub neighbor: IpAddr,
    pub established: bool,
    /// The route server's own word for the state.
    pub state: String,
    /// The negotiated hold time in milliseconds, where the route server says (FRR).
    pub hold_time_ms: Option<u64>,
    /// KEEPALIVEs received on the session, where the route server says (FRR).
    pub keepalives_received: Option<u64>,
}

/// A running route server for one address.
pub struct RouteServer {
    pub kind: RsKind,
    pub slot: u8,
    /// The main process (bgpd, bird, gobgpd).
    pub proc: ProcId,
    /// zebra, for FRR slot 1 (kept across restarts of bgpd).
    pub zebra: Option<ProcId>,
    /// Where it logs NOTIFICATIONs.
    pub log_file: Option<PathBuf>,
    /// FRR: `-N` pathspace (`/var/run/frr/<pathspace>`).
    frr_pathspace: Option<String>,
    /// BIRD: control socket.
    bird_socket: Option<PathBuf>,
    /// GoBGP: API port on 127.0.0.1 in the router namespace.
    gobgp_port: Option<u16>,
}

/// One route-server slot's names and addresses, and the lab directory its files go to.
struct Slot {
    slot: u8,
    hostname: String,
    router_id: String,
    listen: String,
    dir: PathBuf,
}

impl Slot {
    /// Writes `text` to `name` in the lab directory.
    fn write(&self, name: &str, text: String) -> Result<PathBuf, String> {
        let path = self.dir.join(name);
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

/// The TCP MD5 password placeholder: its line is dropped when the lab has no password.
const MD5_PASSWORD: &str = "MD5_PASSWORD";

fn render(template: &str, vars: &[(&str, String)]) -> Result<String, String> {
    let optional = format!("{{{{{MD5_PASSWORD}}}}}");
    let mut out = if vars.iter().any(|(key, _)| *key == MD5_PASSWORD) {
        template.to_string()
    } else {
        template
            .lines()
            .filter(|line| !line.contains(&optional))
            .map(|line| format!("{line}\n"))
            .collect()
    };
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    match out.find("{{") {
        Some(i) => Err(format!(
            "unfilled placeholder in template: {}",
            &out[i..(i + 30).min(out.len())]
        )),
        None => Ok(out),
    }
}

/// Adds the TCP MD5 password, when the lab has one, to a template's values.
fn with_password(
    mut vars: Vec<(&'static str, String)>,
    password: &Option<String>,
) -> Vec<(&'static str, String)> {
    if let Some(password) = password {
        vars.push((MD5_PASSWORD, password.clone()));
    }
    vars
}

impl RouteServer {
    /// Renders the config for `slot` and starts the route server in the lab's router namespace.
    pub fn start(lab: &mut Lab, kind: RsKind, slot: u8) -> Result<Self, String> {
        let at = Slot {
            slot,
            hostname: format!("rs{slot}"),
            router_id: format!("10.255.0.{slot}"),
            listen: rs_address(slot).to_string(),
            dir: lab.dir.clone(),
        };
        match kind {
            RsKind::Frr => frr::start(lab, &at),
            RsKind::Bird => bird::start(lab, &at),
            RsKind::Gobgp => gobgp::start(lab, &at),
            RsKind::None => Err("RsKind::None has no route server to start".into()),
        }
    }

    /// Removes what lives outside the lab directory (FRR pathspace). Processes are the lab's.
    pub fn cleanup(&self) {
        if let Some(ps) = &self.frr_pathspace {
            let _ = fs::remove_dir_all(PathBuf::from("/var/run/frr").join(ps));
        }
    }

    pub fn vtysh(&self, command: &str) -> Result<String, String> {
        let ps = self.frr_pathspace.as_deref().expect("FRR route server");
        run_cmd("vtysh", &["-N", ps, "-d", "bgpd", "-c", command])
    }

    fn birdc(&self, command: &str) -> Result<String, String> {
        let sock = self.bird_socket.as_ref().expect("BIRD route server");
        let mut args = vec!["-s", sock.to_str().expect("utf-8 path")];
        args.extend(command.split(' '));
        run_cmd("birdc", &args)
    }

    fn gobgp(&self, lab: &Lab, args: &[&str]) -> Result<String, String> {
        let port = self.gobgp_port.expect("GoBGP route server").to_string();
        let mut all = vec!["-u", "127.0.0.1", "-p", &port];
        all.extend_from_slice(args);
        lab.router.exec("gobgp", &all)
    }

    /// Paths for exactly `prefix` (e.g. "203.0.113.10/32"); empty when the route server has none.
    pub fn routes(&self, lab: &Lab, prefix: &str) -> Result<Vec<RouteView>, String> {
        let v6 = prefix.contains(':');
        match self.kind {
            RsKind::Frr => {
                let afi = if v6 { "ipv6" } else { "ipv4" };
                let out = self.vtysh(&format!("show bgp {afi} unicast {prefix} json"))?;
                frr::parse_routes(prefix, &out)
            }
            RsKind::Bird => {
                match self.birdc(&format!("show route {prefix} all")) {
                    Ok(out) => Ok(bird::parse_routes(&out)),
                    // birdc exits 1 when the table has no such network.
                    Err(e) if e.contains("Network not found") => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            }
            RsKind::Gobgp => {
                let afi = if v6 { "ipv6" } else { "ipv4" };
                let out = self.gobgp(lab, &["global", "rib", "-a", afi, prefix, "-j"])?;
                gobgp::parse_routes(prefix, &out)
            }
            RsKind::None => Ok(Vec::new()),
        }
    }

    /// The sessions the route server knows, with their state.
    pub fn sessions(&self, lab: &Lab) -> Result<Vec<SessionView>, String> {
        match self.kind {
            RsKind::Frr => frr::parse_sessions(&self.vtysh("show bgp neighbors json")?),
            RsKind::Bird => Ok(bird::parse_sessions(&self.birdc("show protocols all")?)),
            RsKind::Gobgp => gobgp::parse_sessions(&self.gobgp(lab, &["neighbor", "-j"])?),
            RsKind::None => Ok(Vec::new()),
        }
    }

    /// Whether the route server logged a Cease NOTIFICATION received from `neighbor`.
    pub fn logged_cease_from(&self, neighbor: IpAddr) -> Result<bool, String> {
        let log = self.log_file.as_ref().ok_or("no log file")?;
        let text = fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let who = neighbor.to_string();
        Ok(match self.kind {
            RsKind::Frr => frr::logged_cease(&text, &who),
            RsKind::Bird => {
                let protocols = bird::protocols_of(
                    &self.birdc("show protocols all").unwrap_or_default(),
                    neighbor,
                );
                bird::logged_cease(&text, &protocols)
            }
            RsKind::Gobgp => gobgp::logged_cease(&text, &who),
            RsKind::None => false,
        })
    }
}

fn parse_origin(s: &str) -> Option<Origin> {
    match s.to_ascii_lowercase().as_str() {
        "igp" | "i" | "0" => Some(Origin::Igp),
        "egp" | "e" | "1" => Some(Origin::Egp),
        "incomplete" | "?" | "2" => Some(Origin::Incomplete),
        _ => None,
    }
}

fn parse_community(s: &str) -> Option<Community> {
    // FRR names the well-known RFC 8326 community instead of printing 65535:0.
    if matches!(s.trim(), "graceful-shutdown" | "gracefulShutdown") {
        return Some(Community(65535, 0));
    }
    let (a, b) = s
        .trim()
        .trim_matches(|c| c == '(' || c == ')')
        .split_once([':', ','])?;
    Some(Community(a.trim().parse().ok()?, b.trim().parse().ok()?))
}

fn json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "bad JSON ({e}): {}",
            text.chars().take(300).collect::<String>()
        )
    })
}

#[cfg(test)]
mod tests;
