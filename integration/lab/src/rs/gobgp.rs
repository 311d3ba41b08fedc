//! GoBGP route servers: one `gobgpd` per address, its API on 127.0.0.1:5006N inside the router
//! namespace; installs nothing. Queried with the `gobgp` CLI.

use serde_json::Value;

use super::{
    Community, RouteServer, RouteView, RsKind, SessionView, Slot, json, parse_origin, render,
};
use crate::{HOST_RANGE, Lab};

const CONF: &str = include_str!("../../../../configs/gobgp/gobgpd.toml");

/// Renders the config for the slot and starts `gobgpd` in the router namespace.
pub(super) fn start(lab: &mut Lab, at: &Slot) -> Result<RouteServer, String> {
    let slot = at.slot;
    let conf = render(
        CONF,
        &[
            ("ROUTER_ID", at.router_id.clone()),
            ("LISTEN_ADDRESS", at.listen.clone()),
            ("HOST_RANGE", HOST_RANGE.to_string()),
        ],
    )?;
    let conf_path = at.write(&format!("gobgpd-{slot}.toml"), conf)?;
    let port = 50060 + u16::from(slot);
    let mut cmd = lab.router.command("gobgpd");
    cmd.arg("-f")
        .arg(&conf_path)
        .args(["-t", "toml", "-p", "-l", "debug"]);
    cmd.arg(format!("--api-hosts=127.0.0.1:{port}"))
        .arg("--pprof-disable");
    let name = format!("gobgpd-{slot}");
    let proc = lab.spawn(&name, cmd)?;
    Ok(RouteServer {
        kind: RsKind::Gobgp,
        slot,
        proc,
        zebra: None,
        log_file: Some(at.dir.join(format!("{name}.log"))),
        frr_pathspace: None,
        bird_socket: None,
        gobgp_port: Some(port),
    })
}

/// Whether gobgpd logged a Cease received from `neighbor`:
/// "Peer Down ... Reason=notification-received code 6(cease) subcode 2(administrative shutdown)".
pub(super) fn logged_cease(log: &str, neighbor: &str) -> bool {
    log.lines()
        .any(|l| l.contains(neighbor) && l.contains("notification-received code 6"))
}

/// `gobgp global rib -a ipv4 P -j`: `{ "P": [ {"attrs": [...], "neighbor-ip": ..., ...} ] }`.
pub(super) fn parse_routes(prefix: &str, text: &str) -> Result<Vec<RouteView>, String> {
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
            let mut r = RouteView::new(prefix);
            r.from = p
                .get("neighbor-ip")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok());
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
pub(super) fn parse_sessions(text: &str) -> Result<Vec<SessionView>, String> {
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
                hold_time_ms: None,
                keepalives_received: None,
            })
        })
        .collect())
}
