//! `elastic status`: asks a running daemon's API (elastic.v1 GetStatus) and prints a summary,
//! or the status as JSON with `--json`.
//!
//! Exit codes, for scripts: 0 when every address that should be announced is announced on at
//! least one Established session; 1 when one is not; 2 for bad usage; 3 when the API cannot be
//! reached or answers with an error.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction};
use serde_json::{Value, json};

use crate::model::DEFAULT_API;
use crate::proto::elastic::v1 as pb;
use crate::proto::elastic::v1::elastic_client::ElasticClient;

pub const EXIT_ALL_ANNOUNCED: u8 = 0;
pub const EXIT_NOT_ANNOUNCED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub api: String,
    pub json: bool,
}

fn command() -> clap::Command {
    clap::Command::new("elastic status")
        .no_binary_name(true)
        .disable_version_flag(true)
        .about("Shows the running daemon's sessions, addresses and probes.")
        .arg(
            Arg::new("api")
                .long("api")
                .value_name("ADDR:PORT")
                .help(format!("The daemon's API address [default: {DEFAULT_API}]")),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("Print the status as JSON"),
        )
        .after_help(
            "Exit status: 0 when every address that should be announced is announced on at least\n\
             one Established session, 1 when not, 2 for bad usage, 3 when the API cannot be reached.",
        )
}

/// Parses the arguments after `status`. `Err` carries the text to print and the exit code (0
/// for `--help`). Go-style single-dash long flags (`-api`, `-json`) work as in the daemon.
pub fn parse<I, T>(args: I) -> Result<Options, (String, u8)>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = super::go_style(args);
    match command().try_get_matches_from(args) {
        Ok(matches) => Ok(Options {
            api: matches
                .get_one::<String>("api")
                .cloned()
                .unwrap_or_else(|| DEFAULT_API.to_string()),
            json: matches.get_flag("json"),
        }),
        Err(error) => {
            let code = if error.use_stderr() { EXIT_USAGE } else { 0 };
            Err((error.render().to_string(), code))
        }
    }
}

/// Runs `elastic status ARGS…`.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let options = match parse(args) {
        Ok(options) => options,
        Err((text, code)) => {
            if code == 0 {
                print!("{text}");
            } else {
                eprint!("elastic status: {text}");
            }
            return ExitCode::from(code);
        }
    };
    let outcome = match super::on_runtime("elastic status", EXIT_UNREACHABLE, fetch(&options.api)) {
        Ok(outcome) => outcome,
        Err(code) => return code,
    };
    let status = match outcome {
        Ok(status) => status,
        Err(error) => {
            eprintln!("elastic status: {error}");
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&status)).unwrap_or_default()
        );
    } else {
        print!("{}", render(&status));
    }
    ExitCode::from(exit_code(&status))
}

/// 0 when every address that should be announced is; in VRRP mode, when every instance runs.
pub fn exit_code(status: &pb::Status) -> u8 {
    let ok = match status.vrrp.is_empty() {
        true => status.all_announced,
        false => status.vrrp.iter().all(|v| v.error.is_empty()),
    };
    if ok {
        EXIT_ALL_ANNOUNCED
    } else {
        EXIT_NOT_ANNOUNCED
    }
}

/// GetStatus from the API at `api` (`ADDR:PORT`).
pub async fn fetch(api: &str) -> Result<pb::Status, String> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{api}"))
        .map_err(|e| format!("bad API address {api:?}: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot reach the API at {api}: {}", source_chain(&e)))?;
    let response = ElasticClient::new(channel)
        .get_status(pb::GetStatusRequest {})
        .await
        .map_err(|s| format!("the API at {api} answered {:?}: {}", s.code(), s.message()))?;
    response
        .into_inner()
        .status
        .ok_or_else(|| format!("the API at {api} sent no status"))
}

fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

fn session_state_name(state: i32) -> &'static str {
    match pb::SessionState::try_from(state) {
        Ok(pb::SessionState::Idle) => "Idle",
        Ok(pb::SessionState::Connect) => "Connect",
        Ok(pb::SessionState::Active) => "Active",
        Ok(pb::SessionState::OpenSent) => "OpenSent",
        Ok(pb::SessionState::OpenConfirm) => "OpenConfirm",
        Ok(pb::SessionState::Established) => "Established",
        _ => "Unknown",
    }
}

fn role_name(role: i32) -> &'static str {
    match pb::Role::try_from(role) {
        Ok(pb::Role::Primary) => "primary",
        Ok(pb::Role::Secondary) => "secondary",
        _ => "unknown",
    }
}

/// `1d 02:03:04` or `02:03:04`, like gobgp's Up/Down column.
pub fn format_duration(d: Option<&prost_types::Duration>) -> String {
    let Some(d) = d else {
        return "-".to_string();
    };
    let secs = d.seconds.max(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days}d {clock}")
    } else {
        clock
    }
}

/// The readable summary.
pub fn render(status: &pb::Status) -> String {
    let mut out = String::new();
    if status.vrrp.is_empty() {
        let _ = writeln!(
            out,
            "elastic {} on {}: {}, router id {}, AS {} → route servers AS {}, up {}",
            status.version,
            status.hostname,
            role_name(status.role),
            status.router_id,
            status.local_asn,
            status.peer_asn,
            format_duration(status.uptime.as_ref()),
        );
        let _ = writeln!(
            out,
            "BGP timers: hold time {}s, keepalive {}s (each session uses the smaller hold time)",
            status.hold_time, status.keepalive
        );
    } else {
        let _ = writeln!(
            out,
            "elastic {} on {}: VRRP mode ({} instances, no BGP sessions), up {}",
            status.version,
            status.hostname,
            status.vrrp.len(),
            format_duration(status.uptime.as_ref()),
        );
    }
    let maintenance = status.maintenance.clone().unwrap_or_default();
    let mut modes = Vec::new();
    if maintenance.draining {
        modes.push(format!(
            "draining ({}): routes carry GRACEFUL_SHUTDOWN 65535:0",
            maintenance.draining_reason
        ));
    }
    if maintenance.requested {
        modes.push("maintenance on (elastic maintenance on)".to_string());
    }
    if maintenance.file {
        modes.push("maintenance on (maintenance file)".to_string());
    }
    for mode in modes {
        let _ = writeln!(out, "Mode: {mode}");
    }
    if let Some(reload) = status.reload.as_ref().filter(|r| r.last_failed) {
        let _ = writeln!(
            out,
            "Config: the last reload failed; the running configuration stays: {}",
            reload.last_error
        );
    }
    if !status.vrrp.is_empty() {
        render_vrrp(&mut out, status);
        render_probes(&mut out, status);
        let stopped: Vec<&str> = status
            .vrrp
            .iter()
            .filter(|v| !v.error.is_empty())
            .map(|v| v.name.as_str())
            .collect();
        if stopped.is_empty() {
            let _ = writeln!(out, "\nOK: every VRRP instance runs");
        } else {
            let _ = writeln!(out, "\nNOT OK: not running: {}", stopped.join(", "));
        }
        return out;
    }
    let sessions_total = status.sessions.len();
    let _ = writeln!(out, "\nAddresses:");
    if status.addresses.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for a in &status.addresses {
        let wanted = if a.announced { "announce" } else { "withdraw" };
        let mut attrs = a.communities.join(" ");
        if let Some(med) = a.med {
            let _ = write!(attrs, " med {med}");
        }
        let _ = writeln!(
            out,
            "  {:<24} {:<9} {:<9} {:<16} on {}/{} sessions  ({})",
            a.prefix,
            role_name(a.role),
            wanted,
            attrs,
            a.announced_to.len(),
            sessions_total,
            a.reason
        );
    }
    let _ = writeln!(out, "\nSessions:");
    if status.sessions.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for s in &status.sessions {
        let since = if s.state == pb::SessionState::Established as i32 {
            format!("up {}", format_duration(s.uptime.as_ref()))
        } else {
            String::new()
        };
        let sent = s.sent.unwrap_or_default();
        let received = s.received.unwrap_or_default();
        let _ = write!(
            out,
            "  {:<24} {:<11} {:<14} advertised {}, received {}; updates {}/{} notifications {}/{} (sent/rcvd)",
            s.peer,
            session_state_name(s.state),
            since,
            s.advertised.len(),
            s.prefixes_received.saturating_sub(s.prefixes_withdrawn),
            sent.update,
            received.update,
            sent.notification,
            received.notification,
        );
        if s.state == pb::SessionState::Established as i32 {
            let _ = write!(
                out,
                "; hold {}s keepalive {}s",
                s.negotiated_hold_time, s.negotiated_keepalive
            );
        }
        if !s.last_error.is_empty() && s.state != pb::SessionState::Established as i32 {
            let _ = write!(out, "; last error: {}", s.last_error);
        }
        if let Some(bfd) = &s.bfd {
            let _ = write!(out, "; BFD {}", bfd.state);
            if bfd.state == "down" && !bfd.diagnostic.is_empty() {
                let _ = write!(out, " ({})", bfd.diagnostic);
            }
            let dropped: u64 = bfd.dropped.values().sum();
            if dropped > 0 {
                let _ = write!(out, ", {dropped} packets dropped");
            }
        }
        out.push('\n');
    }
    render_probes(&mut out, status);
    let missing: Vec<&str> = status
        .addresses
        .iter()
        .filter(|a| a.announced && a.announced_to.is_empty())
        .map(|a| a.prefix.as_str())
        .collect();
    if status.all_announced {
        let _ = writeln!(
            out,
            "\nOK: every address that should be announced is announced"
        );
    } else {
        let _ = writeln!(
            out,
            "\nNOT OK: not announced on any Established session: {}",
            missing.join(", ")
        );
    }
    out
}

/// VRRP mode: one line per instance, and why one does not run.
fn render_vrrp(out: &mut String, status: &pb::Status) {
    let _ = writeln!(out, "\nVRRP instances:");
    for v in &status.vrrp {
        let master = match v.master_priority {
            Some(priority) => format!("{} (priority {priority})", v.master_address),
            None => "unknown".to_string(),
        };
        // The daemon's now is its start plus its uptime.
        let now = status.started_at.as_ref().map_or(0, |t| t.seconds)
            + status.uptime.as_ref().map_or(0, |d| d.seconds);
        let changed = match &v.last_transition {
            Some(t) => {
                let age = prost_types::Duration {
                    seconds: (now - t.seconds).max(0),
                    nanos: 0,
                };
                format!("last change {} ago", format_duration(Some(&age)))
            }
            None => "never changed".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:<16} {:<10} priority {}/{} (effective/configured)  master {}  adverts {} sent / {} received / {} dropped  {} ({})  {}",
            v.name,
            v.state,
            v.priority,
            v.configured_priority,
            master,
            v.adverts_sent,
            v.adverts_received,
            v.adverts_discarded,
            v.addresses.join(","),
            if v.holding_addresses {
                "held"
            } else {
                "not held"
            },
            changed,
        );
        if !v.error.is_empty() {
            let _ = writeln!(out, "    not running: {}", v.error);
        }
    }
}

fn render_probes(out: &mut String, status: &pb::Status) {
    let _ = writeln!(out, "\nProbes:");
    if status.probes.is_empty() {
        let _ = writeln!(out, "  (none configured)");
    }
    for p in &status.probes {
        let latency = p
            .last_latency
            .map(|d| format!("{} ms", d.seconds * 1000 + i64::from(d.nanos) / 1_000_000))
            .unwrap_or_else(|| "-".to_string());
        let _ = writeln!(
            out,
            "  {:<16} {:<12} last {} ({}), {} ok / {} failed  {}",
            p.name,
            p.state,
            match p.last_ok {
                Some(true) => "ok",
                Some(false) => "failed",
                None => "never run",
            },
            latency,
            p.successes,
            p.failures,
            p.last_output.trim(),
        );
    }
}

fn timestamp_json(t: Option<&prost_types::Timestamp>) -> Value {
    match t {
        Some(t) => json!(t.seconds),
        None => Value::Null,
    }
}

fn duration_json(d: Option<&prost_types::Duration>) -> Value {
    match d {
        Some(d) => json!(d.seconds as f64 + f64::from(d.nanos) / 1e9),
        None => Value::Null,
    }
}

fn counts_json(c: Option<&pb::MessageCounts>) -> Value {
    let c = c.copied().unwrap_or_default();
    json!({
        "open": c.open, "update": c.update, "notification": c.notification,
        "keepalive": c.keepalive, "route_refresh": c.route_refresh,
    })
}

/// The status as JSON: times as Unix seconds, durations as seconds, enums as names.
fn bfd_json(b: &pb::Bfd) -> Value {
    json!({
        "state": b.state,
        "remote_state": b.remote_state,
        "diagnostic": b.diagnostic,
        "local_discriminator": b.local_discriminator,
        "remote_discriminator": b.remote_discriminator,
        "tx_interval_seconds": duration_json(b.tx_interval.as_ref()),
        "detection_time_seconds": duration_json(b.detection_time.as_ref()),
        "path_failures": b.path_failures,
        "dropped": b.dropped,
    })
}

pub fn to_json(status: &pb::Status) -> Value {
    // VRRP mode has no role, router id, AS or BGP timers: null, not a default.
    let bgp = status.vrrp.is_empty();
    let in_bgp = |value: Value| if bgp { value } else { Value::Null };
    json!({
        "version": status.version,
        "mode": if bgp { "bgp" } else { "vrrp" },
        "role": in_bgp(json!(role_name(status.role))),
        "hostname": status.hostname,
        "router_id": in_bgp(json!(status.router_id)),
        "local_asn": in_bgp(json!(status.local_asn)),
        "peer_asn": in_bgp(json!(status.peer_asn)),
        "hold_time": in_bgp(json!(status.hold_time)),
        "keepalive": in_bgp(json!(status.keepalive)),
        "started_at": timestamp_json(status.started_at.as_ref()),
        "uptime_seconds": duration_json(status.uptime.as_ref()),
        "all_announced": status.all_announced,
        "maintenance": status.maintenance.as_ref().map(|m| json!({
            "file": m.file,
            "requested": m.requested,
            "draining": m.draining,
            "draining_reason": m.draining_reason,
            "control_socket": m.control_socket,
        })),
        "reload": status.reload.as_ref().map(|r| json!({
            "succeeded": r.succeeded,
            "failed": r.failed,
            "last_at": timestamp_json(r.last_at.as_ref()),
            "last_failed": r.last_failed,
            "last_error": r.last_error,
        })),
        "addresses": status.addresses.iter().map(|a| json!({
            "prefix": a.prefix,
            "role": role_name(a.role),
            "announced": a.announced,
            "communities": a.communities,
            "med": a.med,
            "reason": a.reason,
            "announced_to": a.announced_to,
        })).collect::<Vec<_>>(),
        "sessions": status.sessions.iter().map(|s| json!({
            "peer": s.peer,
            "state": session_state_name(s.state),
            "local_address": s.local_address,
            "remote_router_id": s.remote_router_id,
            "remote_asn": s.remote_asn,
            "remote_hostname": s.remote_hostname,
            "negotiated_hold_time": s.negotiated_hold_time,
            "negotiated_keepalive": s.negotiated_keepalive,
            "established_since": timestamp_json(s.established_since.as_ref()),
            "uptime_seconds": duration_json(s.uptime.as_ref()),
            "down_since": timestamp_json(s.down_since.as_ref()),
            "sent": counts_json(s.sent.as_ref()),
            "received": counts_json(s.received.as_ref()),
            "prefixes_received": s.prefixes_received,
            "prefixes_withdrawn": s.prefixes_withdrawn,
            "advertised": s.advertised,
            "flaps": s.flaps,
            "last_error": s.last_error,
            "bfd": s.bfd.as_ref().map(bfd_json),
        })).collect::<Vec<_>>(),
        "vrrp": status.vrrp.iter().map(|v| json!({
            "name": v.name,
            "interface": v.interface,
            "vrid": v.vrid,
            "state": v.state,
            "configured_priority": v.configured_priority,
            "priority": v.priority,
            "master_address": (!v.master_address.is_empty()).then_some(&v.master_address),
            "master_priority": v.master_priority,
            "adverts_sent": v.adverts_sent,
            "adverts_received": v.adverts_received,
            "adverts_discarded": v.adverts_discarded,
            "last_transition": timestamp_json(v.last_transition.as_ref()),
            "addresses": v.addresses,
            "holding_addresses": v.holding_addresses,
            "error": (!v.error.is_empty()).then_some(&v.error),
        })).collect::<Vec<_>>(),
        "probes": status.probes.iter().map(|p| json!({
            "name": p.name,
            "healthy": p.healthy,
            "state": p.state,
            "last_ok": p.last_ok,
            "last_output": p.last_output,
            "last_latency_seconds": duration_json(p.last_latency.as_ref()),
            "successes": p.successes,
            "failures": p.failures,
            "last_change": timestamp_json(p.last_change.as_ref()),
            "transitions": p.transitions,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_take_one_dash_or_two_and_default_to_lelastics_port() {
        assert_eq!(
            parse(Vec::<String>::new()).unwrap(),
            Options {
                api: "127.0.0.1:50051".to_string(),
                json: false
            }
        );
        let options = parse(["-api", "[::1]:6000", "-json"]).unwrap();
        assert_eq!(options.api, "[::1]:6000");
        assert!(options.json);
        assert_eq!(parse(["--api=127.0.0.1:1"]).unwrap().api, "127.0.0.1:1");
        let (_, code) = parse(["--bogus"]).unwrap_err();
        assert_eq!(code, EXIT_USAGE);
        let (help, code) = parse(["-h"]).unwrap_err();
        assert_eq!(code, 0);
        assert!(help.contains("Exit status"), "{help}");
    }

    #[test]
    fn vrrp_mode_shows_each_instance_and_no_sessions() {
        let status = pb::Status {
            version: "0.1.0".to_string(),
            started_at: Some(prost_types::Timestamp {
                seconds: 1000,
                nanos: 0,
            }),
            uptime: Some(prost_types::Duration {
                seconds: 100,
                nanos: 0,
            }),
            all_announced: true,
            vrrp: vec![pb::VrrpInstance {
                name: "eth0/51".to_string(),
                state: "backup".to_string(),
                configured_priority: 150,
                priority: 120,
                master_address: "192.0.2.3".to_string(),
                master_priority: Some(130),
                adverts_sent: 7,
                adverts_received: 42,
                last_transition: Some(prost_types::Timestamp {
                    seconds: 1090,
                    nanos: 0,
                }),
                addresses: vec!["198.51.100.10/24".to_string()],
                error: "no such interface".to_string(),
                ..pb::VrrpInstance::default()
            }],
            ..pb::Status::default()
        };
        let text = render(&status);
        assert!(text.contains("VRRP mode (1 instances"), "{text}");
        assert!(
            !text.contains("Addresses:") && !text.contains("BGP timers"),
            "{text}"
        );
        for part in [
            "eth0/51",
            "backup",
            "priority 120/150",
            "master 192.0.2.3 (priority 130)",
            "7 sent / 42 received",
            "last change 00:00:10 ago",
            "not running: no such interface",
            "NOT OK: not running: eth0/51",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert_eq!(exit_code(&status), EXIT_NOT_ANNOUNCED);
        let mut running = status.clone();
        running.vrrp[0].error.clear();
        assert!(render(&running).contains("OK: every VRRP instance runs"));
        assert_eq!(exit_code(&running), EXIT_ALL_ANNOUNCED);
        let json = to_json(&status);
        assert_eq!(json["vrrp"][0]["priority"], 120);
        assert_eq!(json["vrrp"][0]["configured_priority"], 150);
        assert_eq!(json["vrrp"][0]["master_priority"], 130);
        assert_eq!(json["vrrp"][0]["state"], "backup");
        // No BGP in VRRP mode: no role, router id or timers that look real.
        assert_eq!(json["mode"], "vrrp");
        for key in ["role", "router_id", "local_asn", "peer_asn", "hold_time"] {
            assert!(json[key].is_null(), "{key}: {json}");
        }
    }

    #[test]
    fn the_summary_names_what_is_missing() {
        let status = pb::Status {
            version: "0.1.0".to_string(),
            role: pb::Role::Primary as i32,
            addresses: vec![
                pb::Address {
                    prefix: "203.0.113.10/32".to_string(),
                    announced: true,
                    communities: vec!["65000:1".to_string()],
                    announced_to: vec!["2001:db8:14:34::1".to_string()],
                    role: pb::Role::Secondary as i32,
                    ..pb::Address::default()
                },
                pb::Address {
                    prefix: "2001:db8:100::/64".to_string(),
                    announced: true,
                    ..pb::Address::default()
                },
            ],
            sessions: vec![pb::Session {
                peer: "2001:db8:14:34::1".to_string(),
                state: pb::SessionState::Active as i32,
                last_error: "connection refused".to_string(),
                ..pb::Session::default()
            }],
            all_announced: false,
            ..pb::Status::default()
        };
        let text = render(&status);
        assert!(text.contains("on 1/1 sessions"), "{text}");
        // The address's own role (active/active), beside the host's.
        assert!(
            text.contains("203.0.113.10/32          secondary announce  65000:1"),
            "{text}"
        );
        assert!(text.contains("Active"), "{text}");
        assert!(text.contains("last error: connection refused"), "{text}");
        assert!(
            text.contains("NOT OK: not announced on any Established session: 2001:db8:100::/64"),
            "{text}"
        );
        assert_eq!(exit_code(&status), EXIT_NOT_ANNOUNCED);
        let json = to_json(&status);
        assert_eq!(json["sessions"][0]["state"], "Active");
        assert_eq!(json["addresses"][1]["announced_to"], serde_json::json!([]));
        assert_eq!(json["all_announced"], false);
        assert_eq!(json["addresses"][0]["role"], "secondary");
        assert_eq!(json["role"], "primary");
    }

    #[test]
    fn the_summary_shows_the_configured_and_the_negotiated_timers() {
        let status = pb::Status {
            hold_time: 9,
            keepalive: 3,
            sessions: vec![
                pb::Session {
                    peer: "2001:db8:14:34::1".to_string(),
                    state: pb::SessionState::Established as i32,
                    negotiated_hold_time: 3,
                    negotiated_keepalive: 1,
                    ..pb::Session::default()
                },
                pb::Session {
                    peer: "2001:db8:14:34::2".to_string(),
                    state: pb::SessionState::Active as i32,
                    ..pb::Session::default()
                },
            ],
            ..pb::Status::default()
        };
        let text = render(&status);
        assert!(
            text.contains("BGP timers: hold time 9s, keepalive 3s"),
            "{text}"
        );
        let established = text.lines().find(|l| l.contains("::1 ")).unwrap();
        assert!(established.ends_with("; hold 3s keepalive 1s"), "{text}");
        let active = text.lines().find(|l| l.contains("::2 ")).unwrap();
        assert!(!active.contains("hold"), "{text}");
        let json = to_json(&status);
        assert_eq!(
            (json["hold_time"].as_u64(), json["keepalive"].as_u64()),
            (Some(9), Some(3))
        );
        assert_eq!(json["sessions"][0]["negotiated_hold_time"], 3);
        assert_eq!(json["sessions"][0]["negotiated_keepalive"], 1);
    }

    #[test]
    fn durations_print_like_gobgps_up_down_column() {
        let d = |seconds| prost_types::Duration { seconds, nanos: 0 };
        assert_eq!(format_duration(Some(&d(62))), "00:01:02");
        assert_eq!(format_duration(Some(&d(90_061))), "1d 01:01:01");
        assert_eq!(format_duration(None), "-");
    }

    #[test]
    fn bfd_shows_beside_its_session_in_text_and_json() {
        let session = |peer: &str, bfd: Option<pb::Bfd>| pb::Session {
            peer: peer.to_string(),
            state: pb::SessionState::Established as i32,
            bfd,
            ..pb::Session::default()
        };
        let status = pb::Status {
            sessions: vec![
                session(
                    "2001:db8:14:34::1",
                    Some(pb::Bfd {
                        state: "down".to_string(),
                        diagnostic: "control detection time expired".to_string(),
                        dropped: [("low_ttl".to_string(), 2)].into(),
                        ..pb::Bfd::default()
                    }),
                ),
                session(
                    "2001:db8:14:34::2",
                    Some(pb::Bfd {
                        state: "not answered".to_string(),
                        ..pb::Bfd::default()
                    }),
                ),
                session("2001:db8:14:34::3", None),
            ],
            ..pb::Status::default()
        };
        let text = render(&status);
        let line = |peer: &str| {
            text.lines()
                .find(|l| l.contains(peer))
                .unwrap_or_else(|| panic!("{peer} in {text}"))
                .to_string()
        };
        assert!(
            line("2001:db8:14:34::1")
                .ends_with("; BFD down (control detection time expired), 2 packets dropped"),
            "{text}"
        );
        assert!(
            line("2001:db8:14:34::2").ends_with("; BFD not answered"),
            "{text}"
        );
        assert!(!line("2001:db8:14:34::3").contains("BFD"), "{text}");
        let json = to_json(&status);
        assert_eq!(json["sessions"][0]["bfd"]["dropped"]["low_ttl"], 2);
        assert_eq!(json["sessions"][1]["bfd"]["state"], "not answered");
        assert!(json["sessions"][2]["bfd"].is_null());
    }
}
