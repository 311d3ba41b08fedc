//! The status API in the lab: the real `gobgp` CLI (Debian's gobgpd package) against elastic
//! prints what it prints against gobgpd configured like lelastic, `elastic status` and its exit
//! code, and a metrics scrape checked against the known state.

use std::net::IpAddr;
use std::process::Output;
use std::time::Duration;

use nix::sys::signal::Signal;

use elastic_lab::flood::metric;
use elastic_lab::{Lab, LabSpec, RsKind, daemon_binary, rs_address, wait_until};

use super::common::{SLOTS, or_panic, wait_established, wait_no_route_from, wait_route_from};

const V4: &str = "203.0.113.10/32";
const V6: &str = "2001:db8:100::/64";
/// lelastic's router id (every lelastic host uses it); elastic gets it with -routerid.
const LELASTIC_ROUTER_ID: &str = "10.0.0.1";
const METRICS: &str = "127.0.0.1:9180";

/// gobgpd as lelastic configures it through its API (StartBgp with listen port -1, one peer per
/// route server with multihop 16, timers 5/9/3, both families, import reject / export accept),
/// for the dcid 14 pattern of the lab.
fn lelastic_like_gobgpd_config() -> String {
    let mut conf = format!(
        "[global.config]\n  as = 65001\n  router-id = \"{LELASTIC_ROUTER_ID}\"\n  port = -1\n"
    );
    for slot in SLOTS {
        conf.push_str(&format!(
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    \
             peer-as = 65000\n    description = \"route server\"\n  \
             [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 16\n  \
             [neighbors.timers.config]\n    connect-retry = 5\n    hold-time = 9\n    \
             keepalive-interval = 3\n  \
             [neighbors.apply-policy.config]\n    default-import-policy = \"reject-route\"\n    \
             default-export-policy = \"accept-route\"\n  \
             [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n  \
             [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv6-unicast\"\n",
            rs_address(slot)
        ));
    }
    conf
}

/// `gobgp ARGS…` in host 1's namespace (API on its 127.0.0.1:50051).
fn gobgp(lab: &Lab, args: &[&str]) -> String {
    let out = run_in_host(lab, "gobgp", args);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run_in_host(lab: &Lab, program: &str, args: &[&str]) -> Output {
    lab.host(1)
        .ns
        .command(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// The CLI commands lelastic users run, with what each printed.
fn cli_outputs(lab: &Lab) -> Vec<(String, String)> {
    let rs1 = rs_address(1).to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["global"],
        vec!["neighbor"],
        vec!["neighbor", &rs1],
        vec!["global", "rib"],
        vec!["global", "rib", "-a", "ipv6"],
        vec!["neighbor", &rs1, "adj-out"],
        vec!["neighbor", &rs1, "adj-out", "-a", "ipv4"],
    ];
    commands
        .into_iter()
        .map(|args| (format!("gobgp {}", args.join(" ")), gobgp(lab, &args)))
        .collect()
}

fn is_clock(token: &str) -> bool {
    let parts: Vec<&str> = token.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_days(token: &str) -> bool {
    token.len() > 1
        && token.ends_with('d')
        && token[..token.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Makes two outputs comparable "up to times and counters": clock times (and a day count before
/// them) become `<time>`; in the neighbor table the Up/Down, #Received and Accepted columns are
/// dropped; in `neighbor ADDR` the message counters and the received/accepted route counts
/// become `<n>` (FRR echoes a host's routes back a moment after the session comes up). Whitespace runs collapse, as
/// column widths follow the longest value.
fn normalize(command: &str, output: &str) -> Vec<String> {
    let mut in_messages = false;
    output
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("Message statistics") {
                in_messages = true;
            } else if line.trim_start().starts_with("Route statistics") {
                in_messages = false;
            }
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if command == "gobgp neighbor" {
                // Peer AS Up/Down State |#Received Accepted
                let state = tokens
                    .iter()
                    .position(|t| t.starts_with('|'))
                    .and_then(|bar| bar.checked_sub(1))
                    .map(|i| tokens[i]);
                return format!(
                    "{} {} {}",
                    tokens.first().unwrap_or(&""),
                    tokens.get(1).unwrap_or(&""),
                    state.unwrap_or("")
                );
            }
            let mut out: Vec<String> = Vec::new();
            for token in tokens {
                let bare = token.trim_end_matches(',');
                if is_clock(bare) {
                    if out.last().is_some_and(|t| is_days(t)) {
                        out.pop();
                    }
                    out.push("<time>".to_string());
                } else if (in_messages || line.contains("Received:") || line.contains("Accepted:"))
                    && bare.bytes().all(|b| b.is_ascii_digit())
                {
                    out.push("<n>".to_string());
                } else {
                    out.push(token.to_string());
                }
            }
            out.join(" ")
        })
        .collect()
}

fn wait_all_routes(lab: &Lab, host: IpAddr) {
    for slot in SLOTS {
        wait_route_from(lab, slot, V4, host, Duration::from_secs(60));
        wait_route_from(lab, slot, V6, host, Duration::from_secs(30));
    }
}

/// The six commands print the same against elastic as against gobgpd holding the same routes.
#[test]
fn frr_gobgp_cli_prints_what_it_prints_against_gobgpd() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();

    let conf = lab.dir.join("gobgpd-host.toml");
    std::fs::write(&conf, lelastic_like_gobgpd_config()).unwrap();
    let mut cmd = lab.host(1).ns.command("gobgpd");
    cmd.args([
        "-f",
        &conf.to_string_lossy(),
        "-t",
        "toml",
        "--api-hosts",
        "127.0.0.1:50051",
    ]);
    let gobgpd = lab
        .spawn("gobgpd-host", cmd)
        .unwrap_or_else(|e| panic!("{e}"));
    // The config is applied after the API is up: wait for it before adding paths.
    let r = wait_until(
        "gobgpd to run BGP as AS 65001",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || gobgp(&lab, &["global"]).contains("65001").then_some(()),
    );
    or_panic(&lab, r);
    // lelastic's AddPath calls, through the CLI: origin incomplete, community 65000:1, no next
    // hop (the session address goes out).
    for (family, prefix) in [("ipv4", V4), ("ipv6", V6)] {
        let r = wait_until(
            &format!("{prefix} in gobgpd's global rib"),
            Duration::from_secs(10),
            Duration::from_millis(300),
            || {
                run_in_host(
                    &lab,
                    "gobgp",
                    &[
                        "global",
                        "rib",
                        "-a",
                        family,
                        "add",
                        prefix,
                        "origin",
                        "incomplete",
                        "community",
                        "65000:1",
                    ],
                );
                gobgp(&lab, &["global", "rib", "-a", family])
                    .contains(prefix)
                    .then_some(())
            },
        );
        or_panic(&lab, r);
    }
    wait_all_routes(&lab, host);
    let reference = cli_outputs(&lab);
    lab.signal(gobgpd, Signal::SIGTERM);
    let r = lab.wait_exit(gobgpd, Duration::from_secs(10));
    or_panic(&lab, r);
    for slot in SLOTS {
        wait_no_route_from(&lab, slot, V4, host, Duration::from_secs(30));
    }

    lab.start_daemon(1, &["-primary", "-routerid", LELASTIC_ROUTER_ID]);
    wait_all_routes(&lab, host);
    let ours = cli_outputs(&lab);

    let mut report = String::new();
    for ((command, theirs), (_, mine)) in reference.iter().zip(&ours) {
        eprintln!("$ {command}   # gobgpd\n{theirs}$ {command}   # elastic\n{mine}");
        let (a, b) = (normalize(command, theirs), normalize(command, mine));
        if a != b {
            report.push_str(&format!(
                "\n$ {command}\n--- gobgpd\n{theirs}--- elastic\n{mine}--- normalized\n{a:#?}\n{b:#?}\n"
            ));
        }
        assert!(!mine.trim().is_empty(), "{command} printed nothing");
    }
    assert!(report.is_empty(), "outputs differ:{report}");

    // Calls elastic does not serve answer UNIMPLEMENTED, and the CLI says so.
    let summary = gobgp(&lab, &["global", "rib", "summary"]);
    assert!(summary.contains("Unimplemented"), "{summary}");
}

fn status(lab: &Lab, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["status"];
    all.extend_from_slice(args);
    let out = run_in_host(lab, &daemon_binary(), &all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `elastic status`: the summary, `--json`, and an exit code that follows the announcements.
#[test]
fn frr_elastic_status_reports_sessions_addresses_and_exit_code() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    lab.start_daemon(1, &["-primary"]);
    for slot in SLOTS {
        wait_established(&lab, slot, host, Duration::from_secs(60));
    }
    wait_all_routes(&lab, host);
    let r = wait_until(
        "elastic status to exit 0",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            let (code, out, _) = status(&lab, &[]);
            (code == 0).then_some(out)
        },
    );
    let text = or_panic(&lab, r);
    eprintln!("{text}");
    for slot in SLOTS {
        let rs = rs_address(slot).to_string();
        assert!(
            text.lines()
                .any(|l| l.contains(&rs) && l.contains("Established")),
            "{rs} Established in:\n{text}"
        );
    }
    assert!(text.contains("primary"), "{text}");
    assert!(text.contains(V4) && text.contains(V6), "{text}");
    assert!(text.contains("on 4/4 sessions"), "{text}");
    assert!(text.contains("\nOK: "), "{text}");

    let (code, json, err) = status(&lab, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let value: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(value["all_announced"], true, "{value}");
    assert_eq!(value["role"], "primary");
    let addresses = value["addresses"].as_array().unwrap();
    let prefixes: Vec<&str> = addresses
        .iter()
        .map(|a| a["prefix"].as_str().unwrap())
        .collect();
    assert_eq!(prefixes, [V4, V6], "{value}");
    for a in addresses {
        assert_eq!(a["communities"], serde_json::json!(["65000:1"]), "{a}");
        assert_eq!(a["announced_to"].as_array().unwrap().len(), 4, "{a}");
    }
    let sessions = value["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 4);
    for s in sessions {
        assert_eq!(s["state"], "Established", "{s}");
        assert_eq!(s["local_address"], host.to_string(), "{s}");
        assert_eq!(s["advertised"], serde_json::json!([V4, V6]), "{s}");
        assert!(s["sent"]["update"].as_u64().unwrap() >= 1, "{s}");
    }

    // Every route server gone: nothing is announced anywhere, exit 1.
    for slot in SLOTS {
        let r = lab.stop_route_server(slot);
        or_panic(&lab, r);
    }
    let r = wait_until(
        "elastic status to exit 1",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let (code, out, _) = status(&lab, &[]);
            (code == 1).then_some(out)
        },
    );
    let text = or_panic(&lab, r);
    assert!(text.contains("NOT OK") && text.contains(V4), "{text}");

    // One route server back: announced again on one session, exit 0.
    let r = lab.start_route_server(1);
    or_panic(&lab, r);
    let r = wait_until(
        "elastic status to exit 0 again",
        Duration::from_secs(60),
        Duration::from_millis(300),
        || {
            let (code, out, _) = status(&lab, &[]);
            (code == 0).then_some(out)
        },
    );
    let text = or_panic(&lab, r);
    assert!(text.contains("on 1/4 sessions"), "{text}");

    // Nothing listening: exit 3 and a message naming the address.
    let (code, _, err) = status(&lab, &["--api", "127.0.0.1:1"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

fn scrape(lab: &Lab) -> String {
    let out = run_in_host(
        lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "5",
            &format!("http://{METRICS}/metrics"),
        ],
    );
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scrape reflects the sessions, the announcements and the message counters.
#[test]
fn frr_metrics_scrape_matches_the_known_state() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    lab.start_daemon(1, &["-primary", "-metrics", METRICS]);
    for slot in SLOTS {
        wait_established(&lab, slot, host, Duration::from_secs(60));
    }
    wait_all_routes(&lab, host);
    let r = wait_until(
        "4 sessions up in the metrics",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            let text = scrape(&lab);
            (metric(&text, "elastic_bgp_sessions_up") == Some(4.0)).then_some(text)
        },
    );
    let text = or_panic(&lab, r);
    for slot in SLOTS {
        let peer = format!("peer=\"{}\"", rs_address(slot));
        let get = |name: &str| {
            metric(&text, &format!("{name}{{{peer}}}"))
                .unwrap_or_else(|| panic!("{name}{{{peer}}} missing:\n{text}"))
        };
        assert_eq!(get("elastic_bgp_session_up"), 1.0);
        assert_eq!(get("elastic_bgp_prefixes_announced"), 2.0);
        assert_eq!(get("elastic_bgp_session_flaps_total"), 0.0);
        // Idle → Connect → OpenSent → OpenConfirm → Established.
        assert!(get("elastic_bgp_session_state_transitions_total") >= 4.0);
        let typed = |name: &str, kind: &str| {
            metric(&text, &format!("{name}{{{peer},type=\"{kind}\"}}"))
                .unwrap_or_else(|| panic!("{name} {kind} missing:\n{text}"))
        };
        // The announcements (one UPDATE per family) and the End-of-RIB markers.
        assert!(typed("elastic_bgp_messages_sent_total", "update") >= 4.0);
        assert_eq!(typed("elastic_bgp_messages_sent_total", "open"), 1.0);
        assert_eq!(typed("elastic_bgp_messages_received_total", "open"), 1.0);
        assert_eq!(
            typed("elastic_bgp_messages_sent_total", "notification"),
            0.0
        );
        assert_eq!(
            typed("elastic_bgp_messages_received_total", "notification"),
            0.0
        );
        assert_eq!(
            metric(
                &text,
                &format!("elastic_bgp_session_state{{{peer},state=\"established\"}}")
            ),
            Some(1.0)
        );
    }
    for prefix in [V4, V6] {
        assert_eq!(
            metric(
                &text,
                &format!("elastic_address_announced_sessions{{prefix=\"{prefix}\"}}")
            ),
            Some(4.0),
            "{text}"
        );
        assert_eq!(
            metric(
                &text,
                &format!("elastic_address_wanted{{prefix=\"{prefix}\"}}")
            ),
            Some(1.0)
        );
    }
    assert_eq!(metric(&text, "elastic_addresses_missing"), Some(0.0));
    assert!(text.contains("elastic_info{"), "{text}");

    // Route server 1 stops (FRR sends a Cease): one session down, one flap, one NOTIFICATION in.
    let r = lab.stop_route_server(1);
    or_panic(&lab, r);
    let peer1 = format!("peer=\"{}\"", rs_address(1));
    let r = wait_until(
        "3 sessions up in the metrics",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let text = scrape(&lab);
            (metric(&text, "elastic_bgp_sessions_up") == Some(3.0)).then_some(text)
        },
    );
    let text = or_panic(&lab, r);
    assert_eq!(
        metric(&text, &format!("elastic_bgp_session_up{{{peer1}}}")),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &text,
            &format!("elastic_bgp_session_flaps_total{{{peer1}}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, &format!("elastic_bgp_prefixes_announced{{{peer1}}}")),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &text,
            &format!("elastic_address_announced_sessions{{prefix=\"{V4}\"}}")
        ),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &text,
            &format!("elastic_bgp_messages_received_total{{{peer1},type=\"notification\"}}")
        ),
        Some(1.0),
        "{text}"
    );

    // Anything but GET /metrics is refused.
    let out = run_in_host(
        &lab,
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{METRICS}/"),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
}

/// A taken API port fails start-up with lelastic's message, before anything is announced.
#[test]
fn frr_taken_api_port_is_fatal() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let mut holder = lab.host(1).ns.command("python3");
    holder.args([
        "-c",
        "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',50051)); s.listen(); time.sleep(60)",
    ]);
    lab.spawn("port-holder", holder)
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(500));
    let out = run_in_host(
        &lab,
        &daemon_binary(),
        &[
            "-dcid",
            "14",
            "-neighborpattern",
            elastic_lab::NEIGHBOR_PATTERN,
            "-primary",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("failed to listen grpc port 127.0.0.1:50051"),
        "{err}"
    );
}

#[test]
fn normalizing_masks_times_and_counters_only() {
    let a = "Peer              AS  Up/Down State       |#Received  Accepted\n\
             2001:db8:14:34::1 65000 00:00:14 Establ      |        0         0\n";
    let b = "Peer              AS  Up/Down State       |#Received  Accepted\n\
             2001:db8:14:34::1 65000 1d 00:10:04 Establ   |        2         0\n";
    assert_eq!(
        normalize("gobgp neighbor", a),
        normalize("gobgp neighbor", b)
    );
    let c = b.replace("Establ", "Active");
    assert_ne!(
        normalize("gobgp neighbor", a),
        normalize("gobgp neighbor", &c)
    );
    let rib = "*> 203.0.113.10/32      0.0.0.0                                   00:00:06   [{Origin: ?} {Communities: 65000:1}]";
    assert_eq!(
        normalize("gobgp global rib", rib),
        ["*> 203.0.113.10/32 0.0.0.0 <time> [{Origin: ?} {Communities: 65000:1}]"]
    );
    let detail = "  Message statistics:\n    Opens:          1   1\n  Route statistics:\n    Advertised:     2\n";
    assert_eq!(
        normalize("gobgp neighbor X", detail),
        [
            "Message statistics:",
            "Opens: <n> <n>",
            "Route statistics:",
            "Advertised: 2"
        ]
    );
}
