//! The host-freeze scenario: the primary HOST freezes (kernel panic, hypervisor pause): every
//! process in its namespace gets SIGSTOP and everything it sends is dropped, while its link stays
//! up, so the route servers (or keepalived's backup) see no link event and only their timers can
//! tell. The client's longest gap until b answers is measured as in the service-death scenario,
//! on the same lab, after it. Then the host is thawed (SIGCONT, drop removed), a serves again, and
//! the next run starts. The setups:
//!
//! 1. elastic with defaults: the route servers drop a after the negotiated hold time, 9 s;
//! 2. elastic with `hold_time: 3s`;
//! 3. elastic with `bfd: {min_tx: 300ms, min_rx: 300ms, multiplier: 3}`, and
//! 4. with 100 ms × 3: each in a lab of its own whose first route server runs FRR's bfdd at the
//!    same intervals (one bfdd per namespace: the lab runs it for route server 1 only, the one the
//!    router forwards by; 2-4 keep the hold timer);
//! 5. ExaBGP with `hold-time 9` (as lelastic; ExaBGP's default of 180 s would take 3 minutes);
//! 6. gobgpd as lelastic (hold 9 s, keepalive 3 s);
//! 7. keepalived VRRP, advert_int 1: the backup (priority 100) takes over after 3 × 1 s + 0.61 s;
//! 8. elastic in VRRP mode on the same segment, advert 1 s (3 × 1 s + 0.61 s), and
//! 9. at 100 ms (3 × 100 ms + 61 ms), and keepalived at 100 ms (VRRPv3) beside it.
//!
//! Each run also reads route server 1's log for why it dropped a: BFD Down (6/10) or the hold
//! timer (4/0), so a BFD row that fell back to the hold timer shows as such.

use std::time::{Duration, Instant};

use crate::announcers::{self, Role};
use crate::service::HEALTH_PORT;
use crate::vrrp;
use crate::{Clock, Contender, LEAD, Setup, client};
use elastic_lab::freeze::freeze;
use elastic_lab::measure::Spread;
use elastic_lab::program::{INTERRUPTED, Interrupt};
use elastic_lab::{
    DCID, Lab, LabSpec, NEIGHBOR_PATTERN, ProbeReport, ProcId, RsKind, daemon_binary, run_cmd,
};

/// The scenarios `FAILOVER_SCENARIOS` selects (comma-separated; both by default).
pub(crate) const SERVICE_DEATH: &str = "service-death";
pub(crate) const HOST_FREEZE: &str = "host-freeze";
pub(crate) const PLANNED_STOP: &str = "planned-stop";

/// The link every host (lab and VRRP segment) reaches the rest of the lab through.
const HOST_LINK: &str = "eth0";

/// Which of the three scenarios run: (service death, host freeze, planned stop).
pub(crate) fn scenarios() -> Result<(bool, bool, bool), String> {
    let value = std::env::var("FAILOVER_SCENARIOS").unwrap_or_default();
    if value.trim().is_empty() {
        return Ok((true, true, true));
    }
    let names: Vec<&str> = value.split(',').map(str::trim).collect();
    if let Some(bad) = names
        .iter()
        .find(|n| ![SERVICE_DEATH, HOST_FREEZE, PLANNED_STOP].contains(n))
    {
        return Err(format!(
            "FAILOVER_SCENARIOS: unknown scenario {bad:?} (known: {SERVICE_DEATH}, {HOST_FREEZE}, \
             {PLANNED_STOP})"
        ));
    }
    Ok((
        names.contains(&SERVICE_DEATH),
        names.contains(&HOST_FREEZE),
        names.contains(&PLANNED_STOP),
    ))
}

/// Who announces the VIP in a setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Announcer {
    /// elastic with its default `tcp` probe on the service and these top-level YAML lines added.
    Elastic {
        yaml: &'static str,
    },
    /// ExaBGP and its healthcheck, as in the service-death scenario, with `hold-time 9`.
    Exabgp,
    Gobgpd,
    Keepalived,
    /// A VRRP daemon on the segment as that service-death setup runs it: elastic in VRRP mode,
    /// or keepalived at 100 ms adverts.
    Segment(Contender),
}

impl Announcer {
    /// The service-death setup whose waits and teardown this one shares.
    fn contender(self) -> Contender {
        match self {
            Announcer::Elastic { .. } => Contender::ElasticDefaults,
            Announcer::Exabgp => Contender::Exabgp,
            Announcer::Gobgpd => Contender::Gobgpd,
            Announcer::Keepalived => Contender::Keepalived,
            Announcer::Segment(who) => who,
        }
    }
}

/// One row of the host-freeze table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FreezeSetup {
    /// The name `FAILOVER_ONLY` selects it by (shared with the service-death setup it matches).
    key: &'static str,
    name: &'static str,
    /// What tells the others that the host is gone.
    detection: &'static str,
    announcer: Announcer,
    /// How long the client keeps sending after the freeze: the slowest expected failover with a
    /// margin, so a missing one is seen as such.
    window: Duration,
    /// The target for the median gap.
    target_median: Option<Duration>,
    /// The route servers' BFD interval (TX and RX, × 3) this setup needs; its own lab then.
    rs_bfd_ms: Option<u32>,
}

/// The setups, in the order they run (keepalived last: it needs the router's BGP route gone).
const SETUPS: [FreezeSetup; 10] = [
    FreezeSetup {
        key: "elastic-defaults",
        name: "elastic, defaults",
        detection: "route servers' hold timer: 9 s (keepalive 3 s)",
        announcer: Announcer::Elastic { yaml: "" },
        window: Duration::from_secs(13),
        target_median: None,
        rs_bfd_ms: None,
    },
    FreezeSetup {
        key: "elastic-hold3",
        name: "elastic, hold_time: 3s",
        detection: "route servers' hold timer: 3 s (keepalive 1 s)",
        announcer: Announcer::Elastic {
            yaml: "hold_time: 3s\n",
        },
        window: Duration::from_secs(7),
        target_median: Some(Duration::from_millis(3500)),
        rs_bfd_ms: None,
    },
    FreezeSetup {
        key: "elastic-bfd300",
        name: "elastic, BFD 300 ms × 3",
        detection: "route server 1's bfdd: 3 × 300 ms",
        announcer: Announcer::Elastic {
            yaml: "bfd: {min_tx: 300ms, min_rx: 300ms, multiplier: 3}\n",
        },
        window: Duration::from_secs(4),
        target_median: Some(Duration::from_millis(1000)),
        rs_bfd_ms: Some(300),
    },
    FreezeSetup {
        key: "elastic-bfd100",
        name: "elastic, BFD 100 ms × 3",
        detection: "route server 1's bfdd: 3 × 100 ms",
        announcer: Announcer::Elastic {
            yaml: "bfd: {min_tx: 100ms, min_rx: 100ms, multiplier: 3}\n",
        },
        window: Duration::from_secs(4),
        target_median: Some(Duration::from_millis(500)),
        rs_bfd_ms: Some(100),
    },
    FreezeSetup {
        key: "exabgp",
        name: "ExaBGP healthcheck",
        detection: "route servers' hold timer: hold-time 9 (default 180)",
        announcer: Announcer::Exabgp,
        window: Duration::from_secs(13),
        target_median: None,
        rs_bfd_ms: None,
    },
    FreezeSetup {
        key: "gobgpd",
        name: "gobgpd as lelastic",
        detection: "route servers' hold timer: 9 s (keepalive 3 s)",
        announcer: Announcer::Gobgpd,
        window: Duration::from_secs(13),
        target_median: None,
        rs_bfd_ms: None,
    },
    FreezeSetup {
        key: "keepalived",
        name: "keepalived VRRP",
        detection: "backup's master-down timer: 3 × advert_int 1 s + 0.61 s skew",
        announcer: Announcer::Keepalived,
        window: Duration::from_secs(8),
        target_median: None,
        rs_bfd_ms: None,
    },
    // Target: 3 × advert + skew (609 ms; 61 ms) + 50 ms.
    FreezeSetup {
        key: "elastic-vrrp",
        name: "elastic VRRP, advert 1 s",
        detection: "backup's master-down timer: 3 × 1 s + 0.61 s skew",
        announcer: Announcer::Segment(Contender::ElasticVrrp),
        window: Duration::from_secs(8),
        target_median: Some(Duration::from_millis(3000 + 609 + 50)),
        rs_bfd_ms: None,
    },
    FreezeSetup {
        key: "elastic-vrrp-fast",
        name: "elastic VRRP, advert 100 ms",
        detection: "backup's master-down timer: 3 × 100 ms + 61 ms skew",
        announcer: Announcer::Segment(Contender::ElasticVrrpFast),
        window: Duration::from_secs(3),
        target_median: Some(Duration::from_millis(300 + 61 + 50)),
        rs_bfd_ms: None,
    },
    FreezeSetup {
        key: "keepalived-fast",
        name: "keepalived, advert 100 ms",
        detection: "backup's master-down timer: 3 × 100 ms + 61 ms skew",
        announcer: Announcer::Segment(Contender::KeepalivedFast),
        window: Duration::from_secs(3),
        target_median: None,
        rs_bfd_ms: None,
    },
];

/// The setups `FAILOVER_ONLY` (comma-separated keys; all when empty) selects.
pub(crate) fn selected(only: &str) -> Vec<FreezeSetup> {
    SETUPS
        .into_iter()
        .filter(|s| only.is_empty() || only.split(',').any(|k| k.trim() == s.key))
        .collect()
}

/// The keys, for the error that names none of them.
pub(crate) fn keys() -> Vec<&'static str> {
    SETUPS.iter().map(|s| s.key).collect()
}

/// One frozen host as the client and route server 1 saw it.
struct FreezeRun {
    report: ProbeReport,
    /// Why route server 1 dropped a (BGP setups).
    cause: Option<&'static str>,
}

/// What one setup measured.
pub(crate) struct FreezeResult {
    setup: FreezeSetup,
    runs: Vec<FreezeRun>,
}

/// Runs every selected setup `runs` times on `lab` (two hosts, a client, FRR route servers).
pub(crate) fn measure_all(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    setups: &[FreezeSetup],
    runs: usize,
) -> Result<Vec<FreezeResult>, String> {
    let mut results = Vec::new();
    for setup in setups {
        interrupt.check()?;
        let measured = match setup.rs_bfd_ms {
            None => measure(lab, interrupt, clock, setup, runs)?,
            Some(ms) => {
                clock.log(format!(
                    "host freeze, {}: a lab of its own, route server 1 with bfdd at {ms} ms × 3",
                    setup.name
                ));
                let mut bfd_lab = Lab::new(
                    LabSpec::new(RsKind::Frr)
                        .hosts(2)
                        .with_client()
                        .with_bfd()
                        .bfd_interval_ms(ms),
                );
                let sweeper =
                    crate::Sweeper(bfd_lab.hosts.iter().map(|h| h.ns.name.clone()).collect());
                let measured = measure(&mut bfd_lab, interrupt, clock, setup, runs);
                drop(sweeper);
                measured?
            }
        };
        results.push(FreezeResult {
            setup: *setup,
            runs: measured,
        });
    }
    Ok(results)
}

fn measure(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    setup: &FreezeSetup,
    runs: usize,
) -> Result<Vec<FreezeRun>, String> {
    let (mut state, check) = Setup::build(lab, setup.announcer.contender().is_vrrp())?;
    let started = Instant::now();
    let result = start_and_freeze(lab, interrupt, clock, setup, runs, &mut state, &check);
    if result.as_ref().is_err_and(|e| e == INTERRUPTED) {
        // The guards remove everything; no graceful stop.
        return result;
    }
    crate::teardown(lab, interrupt, setup.announcer.contender(), state)?;
    clock.log(format!(
        "host freeze, {}: done in {:.0} s",
        setup.name,
        started.elapsed().as_secs_f64()
    ));
    result
}

fn start_and_freeze(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    setup: &FreezeSetup,
    runs: usize,
    state: &mut Setup,
    check: &std::path::Path,
) -> Result<Vec<FreezeRun>, String> {
    let who = setup.announcer.contender();
    for (i, role) in [Role::Primary, Role::Secondary].into_iter().enumerate() {
        let id = match setup.announcer {
            Announcer::Elastic { yaml } => start_elastic(lab, role, setup.key, yaml)?,
            Announcer::Exabgp => start_exabgp(lab, role, check)?,
            Announcer::Gobgpd => announcers::start_gobgpd(lab, interrupt, role)?,
            Announcer::Keepalived | Announcer::Segment(_) => {
                let segment = state.segment.as_ref().ok_or("no VRRP segment")?;
                vrrp::start(lab, segment, setup.announcer.contender(), i, check)?
            }
        };
        state.daemons.push(id);
    }
    crate::wait_standby_ready(lab, interrupt, who, state)?;
    if !who.is_vrrp() {
        clock.log(format!(
            "host freeze, {}: a serves, b stands by; negotiated hold at route server 1: {}",
            setup.name,
            negotiated_hold(lab)
        ));
    }
    let mut measured = Vec::new();
    for run in 1..=runs {
        wait_primary_back(lab, interrupt, setup, state)?;
        if run == 1 && setup.rs_bfd_ms.is_some() {
            clock.log(format!(
                "host freeze, {}: route server 1's bfdd about a: {}",
                setup.name,
                bfdd_peer(lab).map_or("nothing".into(), |p| format!(
                    "{}, TX {} ms / RX {} ms × {}, a's TX {} ms × {}",
                    p["status"],
                    p["transmit-interval"],
                    p["receive-interval"],
                    p["detect-multiplier"],
                    p["remote-transmit-interval"],
                    p["remote-detect-multiplier"]
                ))
            ));
        }
        let log_before = rs1_log(lab).len();
        let duration = LEAD + setup.window;
        let probe = client::spawn_probe(lab, &format!("freeze-{}-{run}", setup.key), duration)?;
        interrupt.sleep(LEAD)?;
        let frozen = freeze(&state.hosts[0], HOST_LINK)?;
        let stopped = frozen.stopped;
        // On an error or an interrupt the guard thaws the host as it drops.
        let report = client::wait_report(lab, interrupt, probe, duration)?;
        frozen.thaw()?;
        let cause = (!who.is_vrrp()).then(|| drop_cause(lab, log_before));
        clock.log(format!(
            "host freeze, {} run {run}/{runs}: {} — longest gap {} ms, lost {} of {} ({}; \
             {stopped} processes stopped; route server 1: {})",
            setup.name,
            if client::failed_over(&report) {
                "failed over to b"
            } else {
                "NO failover"
            },
            report.longest_gap_ms,
            report.lost,
            report.sent,
            report.breakdown(),
            cause.unwrap_or("—")
        ));
        measured.push(FreezeRun { report, cause });
        for &id in &state.daemons {
            if let Some(status) = lab.exit_status(id) {
                return Err(format!(
                    "{} exited during the run ({status}):\n{}",
                    setup.name,
                    lab.log(id)
                ));
            }
        }
    }
    // The last thaw: a back in charge before the teardown, as the service-death runs leave it.
    wait_primary_back(lab, interrupt, setup, state)?;
    Ok(measured)
}

/// After a thaw: a answers the client again and, for BGP, its sessions to all four route servers
/// (and BFD, where the setup runs it) are back, so the next freeze starts as the first did.
fn wait_primary_back(
    lab: &Lab,
    interrupt: &Interrupt,
    setup: &FreezeSetup,
    state: &Setup,
) -> Result<(), String> {
    let who = setup.announcer.contender();
    crate::wait_served_by_a(lab, interrupt, who, state)?;
    if who.is_vrrp() {
        return Ok(());
    }
    let a = lab.host(Role::Primary.host()).session_address();
    let bfd = setup.rs_bfd_ms.is_some();
    interrupt
        .wait_for(
            "a's sessions at all four route servers (and BFD at route server 1)",
            crate::READY_TIMEOUT,
            Duration::from_millis(100),
            || {
                let sessions = (1..=4u8).all(|slot| lab.established(slot, a));
                let bfd_up = !bfd || bfdd_peer(lab).is_some_and(|p| p["status"] == "up");
                (sessions && bfd_up).then_some(())
            },
        )
        .map_err(|e| crate::with_logs(lab, who, state, e))
}

/// Route server 1's bfdd about a (`show bfd peers json`): status, intervals, multipliers.
fn bfdd_peer(lab: &Lab) -> Option<serde_json::Value> {
    let a = lab.host(Role::Primary.host()).session_address();
    let pathspace = format!("el-{}-rs1", lab.tag);
    let out = run_cmd(
        "vtysh",
        &["-N", &pathspace, "-d", "bfdd", "-c", "show bfd peers json"],
    )
    .ok()?;
    let peers: serde_json::Value = serde_json::from_str(&out).ok()?;
    peers
        .as_array()?
        .iter()
        .find(|p| p["peer"].as_str().and_then(|s| s.parse().ok()) == Some(a))
        .cloned()
}

/// Route server 1's bgpd log (FRR logs every NOTIFICATION it sends there).
fn rs1_log(lab: &Lab) -> String {
    lab.route_server(1)
        .log_file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .unwrap_or_default()
}

/// Why route server 1 dropped a, from what its log gained after byte `from`:
/// "%NOTIFICATION: sent to neighbor … 6/10 (Cease/BFD Down)" or "… 4/0 (Hold Timer Expired)".
fn drop_cause(lab: &Lab, from: usize) -> &'static str {
    let a = lab.host(Role::Primary.host()).session_address().to_string();
    let log = rs1_log(lab);
    let about_a: Vec<&str> = log
        .get(from..)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&a))
        .collect();
    if about_a.iter().any(|l| l.contains("BFD Down")) {
        "BFD Down"
    } else if about_a.iter().any(|l| l.contains("Hold Timer Expired")) {
        "hold timer"
    } else {
        "not seen"
    }
}

/// The hold time route server 1 negotiated with a, as FRR reports it.
fn negotiated_hold(lab: &Lab) -> String {
    let a = lab.host(Role::Primary.host()).session_address();
    lab.sessions(1)
        .ok()
        .and_then(|s| s.into_iter().find(|s| s.neighbor == a))
        .and_then(|s| s.hold_time_ms)
        .map_or("unknown".into(), |ms| format!("{} s", ms / 1000))
}

/// elastic's YAML for a freeze setup: the service-death scenario's default `tcp` probe (it plays
/// no part in a freeze) and the setup's own lines.
fn elastic_config(yaml: &str) -> String {
    format!(
        "# Written by the failover benchmark (host freeze).\n\
         probes:\n  service:\n    tcp: \"127.0.0.1:{HEALTH_PORT}\"\n{yaml}"
    )
}

fn start_elastic(lab: &mut Lab, role: Role, key: &str, yaml: &str) -> Result<ProcId, String> {
    let host = lab.host(role.host());
    let label = host.label.clone();
    let conf = lab.dir.join(format!("elastic-{label}-freeze-{key}.yaml"));
    std::fs::write(&conf, elastic_config(yaml)).map_err(|e| format!("{}: {e}", conf.display()))?;
    let mut cmd = lab.host(role.host()).ns.command(&daemon_binary());
    cmd.arg("-config").arg(&conf);
    cmd.args([
        "-dcid",
        &DCID.to_string(),
        role.flag(),
        "-neighborpattern",
        NEIGHBOR_PATTERN,
    ]);
    lab.spawn(&format!("elastic-{label}-freeze-{key}"), cmd)
}

/// ExaBGP's hold time here: lelastic's 9 s. Its default, 180 s, would make a freeze last 3 minutes.
const EXABGP_HOLD_TIME: &str = "    hold-time 9;\n";

/// ExaBGP as in the service-death scenario, with [`EXABGP_HOLD_TIME`] in every neighbor.
fn start_exabgp(lab: &mut Lab, role: Role, check: &std::path::Path) -> Result<ProcId, String> {
    let label = lab.host(role.host()).label.clone();
    let base = announcers::exabgp_config(lab, role, check);
    let anchor = "    local-as 65001;\n";
    if base.matches(anchor).count() != 4 {
        return Err(format!(
            "ExaBGP's config has no {anchor:?} per neighbor:\n{base}"
        ));
    }
    let conf_text = base.replace(anchor, &format!("{anchor}{EXABGP_HOLD_TIME}"));
    let conf = lab.dir.join(format!("exabgp-{label}-freeze.conf"));
    std::fs::write(&conf, conf_text).map_err(|e| format!("{}: {e}", conf.display()))?;
    let mut cmd = lab.host(role.host()).ns.command("/usr/sbin/exabgp");
    cmd.arg(&conf);
    cmd.envs([
        ("exabgp_daemon_daemonize", "false"),
        ("exabgp_daemon_user", "root"),
        ("exabgp_cli_enable", "false"),
        ("exabgp_api_cli", "false"),
        ("exabgp_log_destination", "stdout"),
    ]);
    lab.spawn(&format!("exabgp-{label}-freeze"), cmd)
}

/// The host-freeze table, after the service-death one.
pub(crate) fn print_table(results: &[FreezeResult], runs: usize) {
    if results.is_empty() {
        return;
    }
    let header = [
        "",
        "what notices the frozen host",
        "route server 1 saw",
        "gap median",
        "gap max",
        "lost median",
        "lost max",
        "target",
    ];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for r in results {
        let gaps: Vec<f64> = r
            .runs
            .iter()
            .map(|x| x.report.longest_gap_ms as f64)
            .collect();
        let lost: Vec<f64> = r.runs.iter().map(|x| x.report.lost as f64).collect();
        let all_failed_over = r.runs.iter().all(|x| client::failed_over(&x.report));
        let (gap_median, gap_max) = match Spread::of(&gaps) {
            _ if !r.runs.iter().any(|x| client::failed_over(&x.report)) => (
                "no failover".to_string(),
                format!("(window {} s)", r.setup.window.as_secs()),
            ),
            Some(s) => (crate::ms(s.median), crate::ms(s.max)),
            None => ("—".into(), "—".into()),
        };
        let (lost_median, lost_max) = match Spread::of(&lost) {
            Some(s) => (format!("{:.0}", s.median), format!("{:.0}", s.max)),
            None => ("—".into(), "—".into()),
        };
        let target = match (r.setup.target_median, Spread::of(&gaps)) {
            (Some(t), Some(s)) => {
                let limit = t.as_millis() as f64;
                format!(
                    "≤ {} median: {}",
                    crate::ms(limit),
                    crate::verdict(all_failed_over && s.median <= limit)
                )
            }
            _ => "—".into(),
        };
        rows.push([
            r.setup.name.to_string(),
            r.setup.detection.to_string(),
            causes(&r.runs),
            gap_median,
            gap_max,
            lost_median,
            lost_max,
            target,
        ]);
    }
    println!();
    println!(
        "Failover when the primary HOST freezes ({runs} runs each; client request every 10 ms):"
    );
    if vrrp::use_vmac() {
        println!("(elastic VRRP with use_vmac: true)");
    }
    print_rows(&header, &rows);
    println!();
    println!("Notes:");
    println!(
        "- {} s into the probe every process in a's namespace gets SIGSTOP and a `pfifo limit 0` qdisc",
        LEAD.as_secs()
    );
    println!(
        "  on its link drops all it sends; the link stays up, so nothing but a timer notices. Then"
    );
    println!("  SIGCONT, the qdisc goes, and a takes the traffic back before the next run.");
    println!(
        "- The gap runs from a's last answer before the freeze to b's first: detection, the route"
    );
    println!(
        "  servers' best-path change and zebra's FIB update (keepalived: the backup's gratuitous ARP)."
    );
    println!(
        "- route server 1 saw: why it dropped a per run (its log: 6/10 BFD Down or 4/0 hold timer);"
    );
    println!(
        "  the router forwards along route server 1's choice. BFD rows: bfdd on route server 1"
    );
    println!("  only (one per namespace), at the row's intervals; 2-4 keep the hold timer.");
}

/// "hold timer ×3", or each run's cause when they differ.
fn causes(runs: &[FreezeRun]) -> String {
    let seen: Vec<&str> = runs.iter().filter_map(|r| r.cause).collect();
    match seen.first() {
        None => "—".into(),
        Some(first) if seen.iter().all(|c| c == first) => format!("{first} ×{}", seen.len()),
        Some(_) => seen.join(", "),
    }
}

fn print_rows(header: &[&str; 8], rows: &[[String; 8]]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count()))))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(header.to_vec()));
    for r in rows {
        println!("{}", line(r.iter().map(String::as_str).collect()));
    }
}
