//! Route servers in the router namespace (FRR, BIRD 2, GoBGP), one process per route-server
//! address, and their views parsed into plain data: routes for a prefix and session states.
//!
//! Configs are rendered from the templates in `configs/` (the same files self-hosters start from).

use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::Value;

use super::{HOST_RANGE, Lab, ProcId, rs_address, run_cmd};

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

const FRR_BGPD_CONF: &str = include_str!("../../../configs/frr/bgpd.conf");
const FRR_ZEBRA_CONF: &str = include_str!("../../../configs/frr/zebra.conf");
const BIRD_CONF: &str = include_str!("../../../configs/bird/bird.conf");
const GOBGPD_CONF: &str = include_str!("../../../configs/gobgp/gobgpd.toml");

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

/// One BGP session as a route server sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionView {
    pub neighbor: IpAddr,
    pub established: bool,
    /// The route server's own word for the state.
    pub state: String,
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
        let hostname = format!("rs{slot}");
        let router_id = format!("10.255.0.{slot}");
        let listen = rs_address(slot).to_string();
        let dir = lab.dir.clone();
        let write = |name: &str, text: String| -> Result<PathBuf, String> {
            let path = dir.join(name);
            fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(path)
        };
        match kind {
            RsKind::Frr => {
                let pathspace = format!("el-{}-rs{slot}", lab.tag);
                let vty_dir = PathBuf::from("/var/run/frr").join(&pathspace);
                fs::create_dir_all(&vty_dir).map_err(|e| format!("{}: {e}", vty_dir.display()))?;
                if let Ok(Some(frr)) = nix::unistd::User::from_name("frr") {
                    nix::unistd::chown(&vty_dir, Some(frr.uid), Some(frr.gid))
                        .map_err(|e| format!("chown {}: {e}", vty_dir.display()))?;
                }
                let log_file = dir.join(format!("bgpd-{slot}.frrlog"));
                let conf = render(
                    FRR_BGPD_CONF,
                    &with_password(
                        vec![
                            ("HOSTNAME", hostname.clone()),
                            ("LOG_FILE", log_file.to_string_lossy().into_owned()),
                            ("ROUTER_ID", router_id),
                            ("HOST_RANGE", HOST_RANGE.to_string()),
                        ],
                        &lab.spec.md5_password,
                    ),
                )?;
                let conf_path = write(&format!("bgpd-{slot}.conf"), conf)?;
                let mut zebra = None;
                if slot == 1 {
                    // Keep a zebra that is already running (a restart of bgpd only).
                    zebra = lab
                        .route_servers
                        .iter()
                        .find(|rs| rs.slot == 1)
                        .and_then(|rs| rs.zebra);
                    if zebra.is_none() {
                        let zlog = dir.join("zebra-1.frrlog");
                        let zconf = render(
                            FRR_ZEBRA_CONF,
                            &[
                                ("HOSTNAME", hostname),
                                ("LOG_FILE", zlog.to_string_lossy().into_owned()),
                            ],
                        )?;
                        let zconf_path = write("zebra-1.conf", zconf)?;
                        let mut cmd = lab.router.command(FRR_ZEBRA);
                        cmd.args(["-N", &pathspace, "-f"])
                            .arg(&zconf_path)
                            .args(["-P", "0"]);
                        let id = lab.spawn("zebra-1", cmd)?;
                        zebra = Some(id);
                        // bgpd connects to zebra's socket; give zebra the head start it needs.
                        let api = vty_dir.join("zserv.api");
                        super::wait_until(
                            "zebra's zserv.api socket",
                            std::time::Duration::from_secs(10),
                            std::time::Duration::from_millis(50),
                            || api.exists().then_some(()),
                        )?;
                    }
                }
                let mut cmd = lab.router.command(FRR_BGPD);
                cmd.args(["-N", &pathspace, "-f"]).arg(&conf_path);
                cmd.args(["-P", "0", "-l", &listen, "-p", "179"]);
                if slot != 1 {
                    cmd.arg("-Z");
                }
                let proc = lab.spawn(&format!("bgpd-{slot}"), cmd)?;
                Ok(Self {
                    kind,
                    slot,
                    proc,
                    zebra,
                    log_file: Some(log_file),
                    frr_pathspace: Some(pathspace),
                    bird_socket: None,
                    gobgp_port: None,
                })
            }
            RsKind::Bird => {
                let log_file = dir.join(format!("bird-{slot}.birdlog"));
                let conf = render(
                    BIRD_CONF,
                    &with_password(
                        vec![
                            ("ROUTER_ID", router_id),
                            ("LOG_FILE", log_file.to_string_lossy().into_owned()),
                            ("LISTEN_ADDRESS", listen),
                            ("HOST_RANGE", HOST_RANGE.to_string()),
                            (
                                "KERNEL_DISABLED",
                                if slot == 1 { "no" } else { "yes" }.to_string(),
                            ),
                        ],
                        &lab.spec.md5_password,
                    ),
                )?;
                let conf_path = write(&format!("bird-{slot}.conf"), conf)?;
                let socket = dir.join(format!("bird-{slot}.ctl"));
                let mut cmd = lab.router.command("bird");
                cmd.arg("-f")
                    .arg("-c")
                    .arg(&conf_path)
                    .arg("-s")
                    .arg(&socket);
                cmd.arg("-P").arg(dir.join(format!("bird-{slot}.pid")));
                let proc = lab.spawn(&format!("bird-{slot}"), cmd)?;
                Ok(Self {
                    kind,
                    slot,
                    proc,
                    zebra: None,
                    log_file: Some(log_file),
                    frr_pathspace: None,
                    bird_socket: Some(socket),
                    gobgp_port: None,
                })
            }
            RsKind::Gobgp => {
                let conf = render(
                    GOBGPD_CONF,
                    &[
                        ("ROUTER_ID", router_id),
                        ("LISTEN_ADDRESS", listen),
                        ("HOST_RANGE", HOST_RANGE.to_string()),
                    ],
                )?;
                let conf_path = write(&format!("gobgpd-{slot}.toml"), conf)?;
                let port = 50060 + u16::from(slot);
                let mut cmd = lab.router.command("gobgpd");
                cmd.arg("-f")
                    .arg(&conf_path)
                    .args(["-t", "toml", "-p", "-l", "debug"]);
                cmd.arg(format!("--api-hosts=127.0.0.1:{port}"))
                    .arg("--pprof-disable");
                let name = format!("gobgpd-{slot}");
                let proc = lab.spawn(&name, cmd)?;
                Ok(Self {
                    kind,
                    slot,
                    proc,
                    zebra: None,
                    log_file: Some(dir.join(format!("{name}.log"))),
                    frr_pathspace: None,
                    bird_socket: None,
                    gobgp_port: Some(port),
                })
            }
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
                parse_frr_routes(prefix, &out)
            }
            RsKind::Bird => {
                match self.birdc(&format!("show route {prefix} all")) {
                    Ok(out) => Ok(parse_bird_routes(&out)),
                    // birdc exits 1 when the table has no such network.
                    Err(e) if e.contains("Network not found") => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            }
            RsKind::Gobgp => {
                let afi = if v6 { "ipv6" } else { "ipv4" };
                let out = self.gobgp(lab, &["global", "rib", "-a", afi, prefix, "-j"])?;
                parse_gobgp_routes(prefix, &out)
            }
            RsKind::None => Ok(Vec::new()),
        }
    }

    /// The sessions the route server knows, with their state.
    pub fn sessions(&self, lab: &Lab) -> Result<Vec<SessionView>, String> {
        match self.kind {
            RsKind::Frr => parse_frr_sessions(&self.vtysh("show bgp neighbors json")?),
            RsKind::Bird => Ok(parse_bird_sessions(&self.birdc("show protocols all")?)),
            RsKind::Gobgp => parse_gobgp_sessions(&self.gobgp(lab, &["neighbor", "-j"])?),
            RsKind::None => Ok(Vec::new()),
        }
    }

    /// Whether the route server logged a Cease NOTIFICATION received from `neighbor`.
    pub fn logged_cease_from(&self, lab: &Lab, neighbor: IpAddr) -> Result<bool, String> {
        let log = self.log_file.as_ref().ok_or("no log file")?;
        let text = fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let who = neighbor.to_string();
        Ok(match self.kind {
            // "%NOTIFICATION: received from neighbor 2001:db8:ff:1::2 6/2 (Cease/Administrative Shutdown) 0 bytes"
            RsKind::Frr => text.lines().any(|l| {
                l.contains("NOTIFICATION")
                    && l.contains("received from neighbor")
                    && l.contains(&who)
                    && l.contains("Cease")
            }),
            // "host1: Received: Administrative shutdown": BIRD names the protocol, not the address,
            // so map the protocol back through `show protocols all`.
            RsKind::Bird => {
                let names = bird_protocols_of(
                    &self.birdc("show protocols all").unwrap_or_default(),
                    neighbor,
                );
                text.lines().any(|l| {
                    l.contains("Received:")
                        && names.iter().any(|n| l.contains(&format!("{n}:")))
                        && BIRD_CEASE_TEXTS.iter().any(|t| l.contains(t))
                })
            }
            // "Peer Down ... Reason=notification-received code 6(cease) subcode 2(administrative shutdown)"
            RsKind::Gobgp => {
                let _ = lab;
                text.lines()
                    .any(|l| l.contains(&who) && l.contains("notification-received code 6"))
            }
            RsKind::None => false,
        })
    }
}

/// BIRD's texts for Cease subcodes (proto/bgp/bgp.c), as logged after "Received:".
const BIRD_CEASE_TEXTS: &[&str] = &[
    "Cease",
    "Maximum number of prefixes reached",
    "Administrative shutdown",
    "Peer de-configured",
    "Administrative reset",
    "Connection rejected",
    "Other configuration change",
    "Connection collision resolution",
    "Out of Resources",
    "Hard reset",
];

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

/// `vtysh -c 'show bgp ipv4 unicast P json'`: `{"prefix": P, "paths": [...]}`, or `{}` when absent.
fn parse_frr_routes(prefix: &str, text: &str) -> Result<Vec<RouteView>, String> {
    if text.trim().is_empty() || text.contains("Network not in table") {
        return Ok(Vec::new());
    }
    let v = json(text)?;
    let Some(paths) = v.get("paths").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    if v.get("prefix").and_then(Value::as_str) != Some(prefix) {
        return Ok(Vec::new());
    }
    Ok(paths
        .iter()
        .map(|p| RouteView {
            prefix: prefix.to_string(),
            from: p
                .pointer("/peer/peerId")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            next_hop: p
                .get("nexthops")
                .and_then(Value::as_array)
                .and_then(|n| n.first())
                .and_then(|n| n.get("ip"))
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            origin: p
                .get("origin")
                .and_then(Value::as_str)
                .and_then(parse_origin),
            as_path: p
                .pointer("/aspath/string")
                .and_then(Value::as_str)
                .map(|s| {
                    s.split_whitespace()
                        .filter_map(|a| a.parse().ok())
                        .collect()
                })
                .unwrap_or_default(),
            communities: p
                .pointer("/community/list")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .filter_map(parse_community)
                        .collect()
                })
                .unwrap_or_default(),
            local_pref: p.get("locPrf").and_then(Value::as_u64).map(|n| n as u32),
            med: p.get("metric").and_then(Value::as_u64).map(|n| n as u32),
        })
        .collect())
}

/// `vtysh -c 'show bgp neighbors json'`: `{ "<address>": {"bgpState": "Established", ...}, ... }`.
fn parse_frr_sessions(text: &str) -> Result<Vec<SessionView>, String> {
    let v = json(text)?;
    let obj = v.as_object().ok_or("neighbors JSON is not an object")?;
    Ok(obj
        .iter()
        .filter_map(|(addr, n)| {
            let neighbor = addr.parse().ok()?;
            let state = n
                .get("bgpState")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            Some(SessionView {
                neighbor,
                established: state == "Established",
                state,
            })
        })
        .collect())
}

/// `birdc show route P all`:
/// ```text
/// Table master4:
/// 203.0.113.10/32      unicast [host1 12:00:00.000] * (100) [AS65001?]
///         via 2001:db8:ff:1::2 on h1
///         BGP.origin: Incomplete
///         BGP.as_path: 65001
///         BGP.next_hop: 2001:db8:ff:1::2
///         BGP.local_pref: 200
///         BGP.community: (65000,1)
///                      unicast [host2 ...]          (a second path for the same prefix)
/// ```
fn parse_bird_routes(text: &str) -> Vec<RouteView> {
    let mut routes: Vec<RouteView> = Vec::new();
    let mut prefix = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || line.starts_with("Table ") || line.starts_with("BIRD ") {
            continue;
        }
        if trimmed.contains(" [")
            && (trimmed.contains("unicast") || trimmed.contains("unreachable"))
        {
            // A new path; the prefix is on its line or inherited from the one above.
            if !line.starts_with(char::is_whitespace) {
                prefix = trimmed.split_whitespace().next().unwrap_or("").to_string();
            }
            routes.push(RouteView {
                prefix: prefix.clone(),
                from: None,
                next_hop: None,
                origin: None,
                as_path: Vec::new(),
                communities: Vec::new(),
                local_pref: None,
                med: None,
            });
            continue;
        }
        let Some(route) = routes.last_mut() else {
            continue;
        };
        if let Some((key, value)) = trimmed.split_once(": ") {
            let value = value.trim();
            match key {
                "BGP.origin" => route.origin = parse_origin(value),
                "BGP.as_path" => {
                    route.as_path = value
                        .split_whitespace()
                        .filter_map(|a| a.parse().ok())
                        .collect()
                }
                // "2001:db8:ff:1::2" or "2001:db8:ff:1::2 fe80::1" (global + link-local)
                "BGP.next_hop" => {
                    route.next_hop = value.split_whitespace().next().and_then(|s| s.parse().ok())
                }
                "BGP.local_pref" => route.local_pref = value.parse().ok(),
                "BGP.med" => route.med = value.parse().ok(),
                "BGP.community" => {
                    route.communities = value.split(") (").filter_map(parse_community).collect();
                }
                _ => {}
            }
        }
    }
    routes
}

/// Per protocol block of `birdc show protocols all`: name, `BGP state`, `Neighbor address`.
fn bird_blocks(text: &str) -> Vec<(String, String, Option<IpAddr>)> {
    let mut blocks: Vec<(String, String, Option<IpAddr>)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("BIRD ") || line.starts_with("Name ") {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            let name = line.split_whitespace().next().unwrap_or("").to_string();
            blocks.push((name, String::new(), None));
            continue;
        }
        let Some(block) = blocks.last_mut() else {
            continue;
        };
        let t = line.trim();
        if let Some(state) = t.strip_prefix("BGP state:") {
            block.1 = state.trim().to_string();
        } else if let Some(addr) = t.strip_prefix("Neighbor address:") {
            block.2 = addr.split_whitespace().next().and_then(|s| s.parse().ok());
        }
    }
    blocks
}

fn parse_bird_sessions(text: &str) -> Vec<SessionView> {
    bird_blocks(text)
        .into_iter()
        .filter_map(|(_, state, addr)| {
            Some(SessionView {
                neighbor: addr?,
                established: state == "Established",
                state,
            })
        })
        .collect()
}

fn bird_protocols_of(text: &str, neighbor: IpAddr) -> Vec<String> {
    bird_blocks(text)
        .into_iter()
        .filter(|b| b.2 == Some(neighbor))
        .map(|b| b.0)
        .collect()
}

/// `gobgp global rib -a ipv4 P -j`: `{ "P": [ {"attrs": [...], "neighbor-ip": ..., ...} ] }`.
fn parse_gobgp_routes(prefix: &str, text: &str) -> Result<Vec<RouteView>, String> {
    if text.trim().is_empty() || text.trim() == "null" {
        return Ok(Vec::new());
    }
    let v = json(text)?;
    let Some(paths) = v.get(prefix).and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    Ok(paths
        .iter()
        .map(|p| {
            let mut r = RouteView {
                prefix: prefix.to_string(),
                from: p
                    .get("neighbor-ip")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok()),
                next_hop: None,
                origin: None,
                as_path: Vec::new(),
                communities: Vec::new(),
                local_pref: None,
                med: None,
            };
            for a in p
                .get("attrs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match a.get("type").and_then(Value::as_u64) {
                    Some(1) => {
                        r.origin = a
                            .get("value")
                            .and_then(Value::as_u64)
                            .and_then(|o| parse_origin(&o.to_string()))
                    }
                    Some(2) => {
                        r.as_path = a
                            .get("as_paths")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .flat_map(|seg| {
                                seg.get("asns")
                                    .and_then(Value::as_array)
                                    .cloned()
                                    .unwrap_or_default()
                            })
                            .filter_map(|n| n.as_u64().map(|n| n as u32))
                            .collect()
                    }
                    Some(3) | Some(14) => {
                        r.next_hop = a
                            .get("nexthop")
                            .and_then(Value::as_str)
                            .and_then(|s| s.parse().ok())
                    }
                    Some(4) => r.med = a.get("metric").and_then(Value::as_u64).map(|n| n as u32),
                    Some(5) => {
                        r.local_pref = a.get("value").and_then(Value::as_u64).map(|n| n as u32)
                    }
                    Some(8) => {
                        r.communities = a
                            .get("communities")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_u64)
                            .map(|c| Community((c >> 16) as u16, (c & 0xffff) as u16))
                            .collect()
                    }
                    _ => {}
                }
            }
            r
        })
        .collect())
}

/// `gobgp neighbor -j`: `[ {"conf": {"neighbor_address": ...}, "state": {"session_state": 6}} ]`.
fn parse_gobgp_sessions(text: &str) -> Result<Vec<SessionView>, String> {
    if text.trim().is_empty() || text.trim() == "null" {
        return Ok(Vec::new());
    }
    let v = json(text)?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let neighbor = n
                .pointer("/state/neighbor_address")
                .or_else(|| n.pointer("/conf/neighbor_address"))
                .and_then(Value::as_str)?
                .parse()
                .ok()?;
            let state = match n.pointer("/state/session_state") {
                Some(Value::Number(x)) => x.to_string(),
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            // SessionState ESTABLISHED = 6 (apipb), or its name.
            let established = state == "6" || state.eq_ignore_ascii_case("established");
            Some(SessionView {
                neighbor,
                established,
                state,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests;
