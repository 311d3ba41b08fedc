//! The host-freeze scenario: the primary HOST freezes (kernel panic, hypervisor pause): every
//! process in its namespace gets SIGSTOP and everything it sends is dropped, while its link stays
//! up, so the route servers (or keepalived's backup) see no link event and only their timers can
//! tell. The client's longest gap until b answers is measured as in the service-death scenario,
//! on the same lab, after it. Then the host is thawed (SIGCONT, drop removed), a serves again, and
//! the next run starts. The setups:
//!
//! 1. elastic with defaults: the route servers drop a after the negotiated hold time, 9 s;
//! 2. elastic with `hold_time: 3s`;
//! 3. ExaBGP with `hold-time 9` (as lelastic; ExaBGP's default of 180 s would take 3 minutes);
//! 4. gobgpd as lelastic (hold 9 s, keepalive 3 s);
//! 5. keepalived VRRP, advert_int 1: the backup (priority 100) takes over after 3 × 1 s + 0.61 s.
//!
//! A setup is a row of [`SETUPS`]: elastic's rows differ only in the YAML lines they add, so the
//! BFD rows (`bfd: {min_tx: 300ms, min_rx: 300ms, multiplier: 3}`, and 100 ms) are one entry each
//! once the lab's route servers run the BFD side.

use std::time::{Duration, Instant};

use crate::announcers::{self, Role};
use crate::service::HEALTH_PORT;
use crate::vrrp::{self, VrrpSegment};
use crate::{Clock, Contender, LEAD, Setup, client};
use elastic_lab::freeze::freeze;
use elastic_lab::measure::Spread;
use elastic_lab::program::{INTERRUPTED, Interrupt};
use elastic_lab::{DCID, Lab, NEIGHBOR_PATTERN, ProbeReport, ProcId, daemon_binary};

/// The scenarios `FAILOVER_SCENARIOS` selects (comma-separated; both by default).
pub(crate) const SERVICE_DEATH: &str = "service-death";
pub(crate) const HOST_FREEZE: &str = "host-freeze";

/// The link every host (lab and VRRP segment) reaches the rest of the lab through.
const HOST_LINK: &str = "eth0";

/// Which of the two scenarios run: (service death, host freeze).
pub(crate) fn scenarios() -> Result<(bool, bool), String> {
    let value = std::env::var("FAILOVER_SCENARIOS").unwrap_or_default();
    if value.trim().is_empty() {
        return Ok((true, true));
    }
    let names: Vec<&str> = value.split(',').map(str::trim).collect();
    if let Some(bad) = names
        .iter()
        .find(|n| ![SERVICE_DEATH, HOST_FREEZE].contains(n))
    {
        return Err(format!(
            "FAILOVER_SCENARIOS: unknown scenario {bad:?} (known: {SERVICE_DEATH}, {HOST_FREEZE})"
        ));
    }
    Ok((names.contains(&SERVICE_DEATH), names.contains(&HOST_FREEZE)))
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
}

impl Announcer {
    /// The service-death setup whose waits and teardown this one shares.
    fn contender(self) -> Contender {
        match self {
            Announcer::Elastic { .. } => Contender::ElasticDefaults,
            Announcer::Exabgp => Contender::Exabgp,
            Announcer::Gobgpd => Contender::Gobgpd,
            Announcer::Keepalived => Contender::Keepalived,
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
}

/// The setups, in the order they run (keepalived last: it needs the router's BGP route gone).
const SETUPS: [FreezeSetup; 5] = [
    FreezeSetup {
        key: "elastic-defaults",
        name: "elastic, defaults",
        detection: "route servers' hold timer: 9 s (keepalive 3 s)",
        announcer: Announcer::Elastic { yaml: "" },
        window: Duration::from_secs(13),
        target_median: None,
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
    },
    FreezeSetup {
        key: "exabgp",
        name: "ExaBGP healthcheck",
        detection: "route servers' hold timer: hold-time 9 (default 180)",
        announcer: Announcer::Exabgp,
        window: Duration::from_secs(13),
        target_median: None,
    },
    FreezeSetup {
        key: "gobgpd",
        name: "gobgpd as lelastic",
        detection: "route servers' hold timer: 9 s (keepalive 3 s)",
        announcer: Announcer::Gobgpd,
        window: Duration::from_secs(13),
        target_median: None,
    },
    FreezeSetup {
        key: "keepalived",
        name: "keepalived VRRP",
        detection: "backup's master-down timer: 3 × advert_int 1 s + 0.61 s skew",
        announcer: Announcer::Keepalived,
        window: Duration::from_secs(8),
        target_median: None,
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

/// What one setup measured: the client's report for each run.
pub(crate) struct FreezeResult {
    setup: FreezeSetup,
    reports: Vec<ProbeReport>,
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
        let reports = measure(lab, interrupt, clock, setup, runs)?;
        results.push(FreezeResult {
            setup: *setup,
            reports,
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
) -> Result<Vec<ProbeReport>, String> {
    let check = announcers::write_check_script(lab)?;
    let segment = match setup.announcer {
        Announcer::Keepalived => Some(VrrpSegment::build(lab)?),
        _ => None,
    };
    let hosts = match &segment {
        Some(s) => [s.hosts[0].clone(), s.hosts[1].clone()],
        None => [lab.host(1).ns.name.clone(), lab.host(2).ns.name.clone()],
    };
    let services = [
        crate::start_service(lab, &hosts[0], "a")?,
        crate::start_service(lab, &hosts[1], "b")?,
    ];
    let mut state = Setup {
        hosts,
        services,
        daemons: Vec::new(),
        segment,
    };
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
) -> Result<Vec<ProbeReport>, String> {
    let who = setup.announcer.contender();
    for (i, role) in [Role::Primary, Role::Secondary].into_iter().enumerate() {
        let id = match setup.announcer {
            Announcer::Elastic { yaml } => start_elastic(lab, role, setup.key, yaml)?,
            Announcer::Exabgp => start_exabgp(lab, role, check)?,
            Announcer::Gobgpd => announcers::start_gobgpd(lab, interrupt, role)?,
            Announcer::Keepalived => {
                let segment = state.segment.as_ref().ok_or("no VRRP segment")?;
                vrrp::start_keepalived(lab, segment, i, check)?
            }
        };
        state.daemons.push(id);
    }
    crate::wait_standby_ready(lab, interrupt, who, state)?;
    if setup.announcer != Announcer::Keepalived {
        clock.log(format!(
            "host freeze, {}: a serves, b stands by; negotiated hold at route server 1: {}",
            setup.name,
            negotiated_hold(lab)
        ));
    }
    let mut reports = Vec::new();
    for run in 1..=runs {
        wait_primary_back(lab, interrupt, who, state)?;
        let duration = LEAD + setup.window;
        let probe = client::spawn_probe(lab, &format!("freeze-{}-{run}", setup.key), duration)?;
        interrupt.sleep(LEAD)?;
        let frozen = freeze(&state.hosts[0], HOST_LINK)?;
        let stopped = frozen.stopped;
        // On an error or an interrupt the guard thaws the host as it drops.
        let report = client::wait_report(lab, interrupt, probe, duration)?;
        frozen.thaw()?;
        clock.log(format!(
            "host freeze, {} run {run}/{runs}: {} — longest gap {} ms, lost {} of {} ({}; \
             {stopped} processes stopped)",
            setup.name,
            if failed_over(&report) {
                "failed over to b"
            } else {
                "NO failover"
            },
            report.longest_gap_ms,
            report.lost,
            report.sent,
            report.breakdown()
        ));
        reports.push(report);
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
    wait_primary_back(lab, interrupt, who, state)?;
    Ok(reports)
}

/// After a thaw: a answers the client again and, for BGP, its sessions to all four route servers
/// are back, so the next freeze starts from the same state as the first.
fn wait_primary_back(
    lab: &Lab,
    interrupt: &Interrupt,
    who: Contender,
    state: &Setup,
) -> Result<(), String> {
    crate::wait_served_by_a(lab, interrupt, who, state)?;
    if who == Contender::Keepalived {
        return Ok(());
    }
    let a = lab.host(Role::Primary.host()).session_address();
    interrupt
        .wait_for(
            "a's sessions at all four route servers",
            crate::READY_TIMEOUT,
            Duration::from_millis(100),
            || (1..=4u8).all(|slot| lab.established(slot, a)).then_some(()),
        )
        .map_err(|e| crate::with_logs(lab, who, state, e))
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

fn failed_over(report: &ProbeReport) -> bool {
    report.last_answerer.as_deref() == Some("b")
}

/// The host-freeze table, after the service-death one.
pub(crate) fn print_table(results: &[FreezeResult], runs: usize) {
    if results.is_empty() {
        return;
    }
    let header = [
        "",
        "what notices the frozen host",
        "gap median",
        "gap max",
        "lost median",
        "lost max",
        "target",
    ];
    let mut rows: Vec<[String; 7]> = Vec::new();
    for r in results {
        let gaps: Vec<f64> = r.reports.iter().map(|x| x.longest_gap_ms as f64).collect();
        let lost: Vec<f64> = r.reports.iter().map(|x| x.lost as f64).collect();
        let all_failed_over = r.reports.iter().all(failed_over);
        let (gap_median, gap_max) = match Spread::of(&gaps) {
            _ if !r.reports.iter().any(failed_over) => (
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
}

fn print_rows(header: &[&str; 7], rows: &[[String; 7]]) {
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
