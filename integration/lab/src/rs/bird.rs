//! BIRD 2 route servers: one `bird` per address (`strict bind`), each with its own control
//! socket; slot 1 exports to the router's kernel. Queried with `birdc`.

use std::net::IpAddr;

use super::{
    RouteServer, RouteView, RsKind, SessionView, Slot, parse_community, parse_origin, render,
    with_password,
};
use crate::{HOST_RANGE, Lab};

pub(super) const CONF: &str = include_str!("../../../../configs/bird/bird.conf");
const BFD_CONF: &str = include_str!("../../../../configs/bird/bfd.conf");
/// Where `configs/bird/bfd.conf` asks for `bfd on;` in the hosts' template.
const TEMPLATE_LINE: &str = "  passive on;\n";

/// Renders the config for the slot and starts `bird` in the router namespace.
pub(super) fn start(lab: &mut Lab, at: &Slot) -> Result<RouteServer, String> {
    let slot = at.slot;
    let log_file = at.dir.join(format!("bird-{slot}.birdlog"));
    let conf = render(
        CONF,
        &with_password(
            vec![
                ("ROUTER_ID", at.router_id.clone()),
                ("LOG_FILE", log_file.to_string_lossy().into_owned()),
                ("LISTEN_ADDRESS", at.listen.clone()),
                ("HOST_RANGE", HOST_RANGE.to_string()),
                (
                    "KERNEL_DISABLED",
                    if slot == 1 { "no" } else { "yes" }.to_string(),
                ),
            ],
            &lab.spec.md5_password,
        ),
    )?;
    let conf = match lab.spec.bfd && slot == 1 {
        true => {
            let bfd = render(
                BFD_CONF,
                &[
                    ("INTERVAL", format!("{} ms", lab.spec.bfd_interval_ms)),
                    ("MULTIPLIER", "3".to_string()),
                ],
            )?;
            conf.replacen(TEMPLATE_LINE, &format!("{TEMPLATE_LINE}  bfd on;\n"), 1) + &bfd
        }
        false => conf,
    };
    let conf_path = at.write(&format!("bird-{slot}.conf"), conf)?;
    let socket = at.dir.join(format!("bird-{slot}.ctl"));
    let mut cmd = lab.router.command("bird");
    cmd.arg("-f")
        .arg("-c")
        .arg(&conf_path)
        .arg("-s")
        .arg(&socket);
    cmd.arg("-P").arg(at.dir.join(format!("bird-{slot}.pid")));
    let proc = lab.spawn(&format!("bird-{slot}"), cmd)?;
    Ok(RouteServer {
        kind: RsKind::Bird,
        slot,
        proc,
        zebra: None,
        log_file: Some(log_file),
        frr_pathspace: None,
        bird_socket: Some(socket),
        gobgp_port: None,
    })
}

/// BIRD's texts for Cease subcodes (proto/bgp/bgp.c), as logged after "Received:".
const CEASE_TEXTS: &[&str] = &[
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

/// Whether bird logged a Cease received on one of `protocols` (BIRD names the protocol, not the
/// address): "host1: Received: Administrative shutdown".
pub(super) fn logged_cease(log: &str, protocols: &[String]) -> bool {
    log.lines().any(|l| {
        l.contains("Received:")
            && protocols.iter().any(|n| l.contains(&format!("{n}:")))
            && CEASE_TEXTS.iter().any(|t| l.contains(t))
    })
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
pub(super) fn parse_routes(text: &str) -> Vec<RouteView> {
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
            routes.push(RouteView::new(&prefix));
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
fn blocks(text: &str) -> Vec<(String, String, Option<IpAddr>)> {
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

pub(super) fn parse_sessions(text: &str) -> Vec<SessionView> {
    blocks(text)
        .into_iter()
        .filter_map(|(_, state, addr)| {
            Some(SessionView {
                neighbor: addr?,
                established: state == "Established",
                state,
                hold_time_ms: None,
                keepalives_received: None,
            })
        })
        .collect()
}

pub(super) fn protocols_of(text: &str, neighbor: IpAddr) -> Vec<String> {
    blocks(text)
        .into_iter()
        .filter(|b| b.2 == Some(neighbor))
        .map(|b| b.0)
        .collect()
}
