//! FRR route servers: zebra + bgpd for slot 1 (zebra installs the best path into the router's
//! kernel), `bgpd -Z` for the others, each with its own `-N` pathspace; queried with `vtysh`.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use super::{
    FRR_BFDD, FRR_BGPD, FRR_ZEBRA, RouteServer, RouteView, RsKind, SessionView, Slot, json,
    parse_community, parse_origin, render, with_password,
};
use crate::{HOST_RANGE, Lab};

pub(super) const BGPD_CONF: &str = include_str!("../../../../configs/frr/bgpd.conf");
const ZEBRA_CONF: &str = include_str!("../../../../configs/frr/zebra.conf");
const BFDD_CONF: &str = include_str!("../../../../configs/frr/bfdd.conf");
/// What `configs/frr/bfdd.conf` asks bgpd to add to the HOSTS peer-group.
const BGPD_BFD_LINE: &str = " neighbor HOSTS bfd profile elastic-hosts\n";
const PEER_GROUP_LINE: &str = " neighbor HOSTS capability extended-nexthop\n";

/// Renders bgpd's config (and zebra's, for slot 1) and starts them in the router namespace.
pub(super) fn start(lab: &mut Lab, at: &Slot) -> Result<RouteServer, String> {
    let slot = at.slot;
    let pathspace = format!("el-{}-rs{slot}", lab.tag);
    let vty_dir = PathBuf::from("/var/run/frr").join(&pathspace);
    fs::create_dir_all(&vty_dir).map_err(|e| format!("{}: {e}", vty_dir.display()))?;
    if let Ok(Some(frr)) = nix::unistd::User::from_name("frr") {
        nix::unistd::chown(&vty_dir, Some(frr.uid), Some(frr.gid))
            .map_err(|e| format!("chown {}: {e}", vty_dir.display()))?;
    }
    let log_file = at.dir.join(format!("bgpd-{slot}.frrlog"));
    let conf = render(
        BGPD_CONF,
        &with_password(
            vec![
                ("HOSTNAME", at.hostname.clone()),
                ("LOG_FILE", log_file.to_string_lossy().into_owned()),
                ("ROUTER_ID", at.router_id.clone()),
                ("HOST_RANGE", HOST_RANGE.to_string()),
            ],
            &lab.spec.md5_password,
        ),
    )?;
    let bfd = lab.spec.bfd && slot == 1;
    let conf = match bfd {
        true => conf.replacen(
            PEER_GROUP_LINE,
            &format!("{PEER_GROUP_LINE}{BGPD_BFD_LINE}"),
            1,
        ),
        false => conf,
    };
    let conf_path = at.write(&format!("bgpd-{slot}.conf"), conf)?;
    let mut zebra = None;
    if slot == 1 {
        // Keep a zebra that is already running (a restart of bgpd only).
        zebra = lab
            .route_servers
            .iter()
            .find(|rs| rs.slot == 1)
            .and_then(|rs| rs.zebra);
        if zebra.is_none() {
            let zlog = at.dir.join("zebra-1.frrlog");
            let zconf = render(
                ZEBRA_CONF,
                &[
                    ("HOSTNAME", at.hostname.clone()),
                    ("LOG_FILE", zlog.to_string_lossy().into_owned()),
                ],
            )?;
            let zconf_path = at.write("zebra-1.conf", zconf)?;
            let mut cmd = lab.router.command(FRR_ZEBRA);
            cmd.args(["-N", &pathspace, "-f"])
                .arg(&zconf_path)
                .args(["-P", "0"]);
            let id = lab.spawn("zebra-1", cmd)?;
            zebra = Some(id);
            // bgpd connects to zebra's socket; give zebra the head start it needs.
            let api = vty_dir.join("zserv.api");
            crate::wait_until(
                "zebra's zserv.api socket",
                std::time::Duration::from_secs(10),
                std::time::Duration::from_millis(50),
                || api.exists().then_some(()),
            )?;
            if bfd {
                start_bfdd(lab, at, &pathspace)?;
            }
        }
    }
    let mut cmd = lab.router.command(FRR_BGPD);
    cmd.args(["-N", &pathspace, "-f"]).arg(&conf_path);
    cmd.args(["-P", "0", "-l", &at.listen, "-p", "179"]);
    if slot != 1 {
        cmd.arg("-Z");
    }
    let proc = lab.spawn(&format!("bgpd-{slot}"), cmd)?;
    Ok(RouteServer {
        kind: RsKind::Frr,
        slot,
        proc,
        zebra,
        log_file: Some(log_file),
        frr_pathspace: Some(pathspace),
        bird_socket: None,
        gobgp_port: None,
    })
}

/// bfdd for slot 1, in zebra's pathspace (it lives as long as zebra), at the lab's interval × 3.
fn start_bfdd(lab: &mut Lab, at: &Slot, pathspace: &str) -> Result<(), String> {
    let log = at.dir.join("bfdd-1.frrlog");
    let conf = render(
        BFDD_CONF,
        &[
            ("HOSTNAME", at.hostname.clone()),
            ("LOG_FILE", log.to_string_lossy().into_owned()),
            ("INTERVAL_MS", lab.spec.bfd_interval_ms.to_string()),
            ("MULTIPLIER", "3".to_string()),
        ],
    )?;
    let conf_path = at.write("bfdd-1.conf", conf)?;
    let mut cmd = lab.router.command(FRR_BFDD);
    cmd.args(["-N", pathspace, "-f"])
        .arg(&conf_path)
        .args(["-P", "0"]);
    lab.spawn("bfdd-1", cmd)?;
    Ok(())
}

/// Whether bgpd logged a Cease received from `neighbor`:
/// "%NOTIFICATION: received from neighbor 2001:db8:ff:1::2 6/2 (Cease/Administrative Shutdown) 0 bytes".
pub(super) fn logged_cease(log: &str, neighbor: &str) -> bool {
    log.lines().any(|l| {
        l.contains("NOTIFICATION")
            && l.contains("received from neighbor")
            && l.contains(neighbor)
            && l.contains("Cease")
    })
}

/// `vtysh -c 'show bgp ipv4 unicast P json'`: `{"prefix": P, "paths": [...]}`, or `{}` when absent.
pub(super) fn parse_routes(prefix: &str, text: &str) -> Result<Vec<RouteView>, String> {
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
pub(super) fn parse_sessions(text: &str) -> Result<Vec<SessionView>, String> {
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
                hold_time_ms: n.get("bgpTimerHoldTimeMsecs").and_then(Value::as_u64),
                keepalives_received: n
                    .pointer("/messageStats/keepalivesRecv")
                    .and_then(Value::as_u64),
            })
        })
        .collect())
}
