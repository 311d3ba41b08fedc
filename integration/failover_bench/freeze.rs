//! The host-freeze scenario: the primary *host* stops dead (its processes stopped, nothing it
//! sends leaves it, the links stay up), as in a kernel panic or a frozen VM. Only BFD or the
//! route server's hold timer can notice. Route server 1 (the one whose choice the router
//! forwards along) runs FRR's bfdd; the setups differ only in elastic's config:
//!
//! 1. BFD 300 ms × 3 (bfdd's profile set to the same);
//! 2. BFD 100 ms × 3;
//! 3. `hold_time: 3s`, no BFD;
//! 4. defaults (hold 9 s), no BFD;
//! 5. gobgpd as lelastic (hold 9 s, no BFD);
//! 6. ExaBGP with its healthcheck (its default hold time, no BFD);
//! 7. keepalived VRRP (advert_int 1) on the service scenario's VRRP segment.
//!
//! Freezing stops every process in host a's namespace (SIGSTOP) and, for the BGP setups,
//! blackholes the route servers' prefix there (the kernel would still ACK the BGP connection);
//! thawing undoes both.

use std::time::{Duration, Instant};

use elastic_lab::measure::Spread;
use elastic_lab::program::Interrupt;
use elastic_lab::{self as lab, DCID, Lab, LabSpec, NEIGHBOR_PATTERN, ProcId, RsKind};
use nix::sys::signal::Signal;

use crate::announcers::{self, Role};
use crate::vrrp::{self, VrrpSegment};
use crate::{Clock, RunResult, client, kill_namespace_processes, start_service};

/// The route-server prefix a frozen host can no longer reach.
const RS_PREFIX: &str = "2001:db8:14:34::/64";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freeze {
    Bfd300,
    Bfd100,
    Hold3,
    Defaults,
    Gobgpd,
    Exabgp,
    Keepalived,
}

pub(crate) const FREEZES: [Freeze; 7] = [
    Freeze::Bfd300,
    Freeze::Bfd100,
    Freeze::Hold3,
    Freeze::Defaults,
    Freeze::Gobgpd,
    Freeze::Exabgp,
    Freeze::Keepalived,
];

impl Freeze {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Freeze::Bfd300 => "freeze-bfd300",
            Freeze::Bfd100 => "freeze-bfd100",
            Freeze::Hold3 => "freeze-hold3",
            Freeze::Defaults => "freeze-defaults",
            Freeze::Gobgpd => "freeze-gobgpd",
            Freeze::Exabgp => "freeze-exabgp",
            Freeze::Keepalived => "freeze-keepalived",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Freeze::Bfd300 => "elastic, BFD 300 ms × 3",
            Freeze::Bfd100 => "elastic, BFD 100 ms × 3",
            Freeze::Hold3 => "elastic, hold_time 3s",
            Freeze::Defaults => "elastic, defaults",
            Freeze::Gobgpd => "gobgpd as lelastic",
            Freeze::Exabgp => "ExaBGP healthcheck",
            Freeze::Keepalived => "keepalived VRRP",
        }
    }

    fn config(self) -> &'static str {
        match self {
            Freeze::Bfd300 => "bfd: {min_tx: 300ms, min_rx: 300ms, multiplier: 3}\n",
            Freeze::Bfd100 => "bfd: {min_tx: 100ms, min_rx: 100ms, multiplier: 3}\n",
            Freeze::Hold3 => "hold_time: 3s\n",
            Freeze::Defaults | Freeze::Gobgpd | Freeze::Exabgp | Freeze::Keepalived => "",
        }
    }

    /// bfdd's interval for this setup (the route server must run as fast as the host).
    fn rs_interval_ms(self) -> Option<u32> {
        match self {
            Freeze::Bfd300 => Some(300),
            Freeze::Bfd100 => Some(100),
            Freeze::Hold3
            | Freeze::Defaults
            | Freeze::Gobgpd
            | Freeze::Exabgp
            | Freeze::Keepalived => None,
        }
    }

    /// How long the client keeps sending after the freeze.
    fn window(self) -> Duration {
        match self {
            Freeze::Bfd300 | Freeze::Bfd100 => Duration::from_secs(3),
            Freeze::Hold3 => Duration::from_secs(6),
            Freeze::Defaults | Freeze::Gobgpd | Freeze::Exabgp => Duration::from_secs(12),
            Freeze::Keepalived => Duration::from_secs(8),
        }
    }

    /// The target for the median gap.
    fn target(self) -> Option<Duration> {
        match self {
            Freeze::Bfd300 => Some(Duration::from_millis(1000)),
            Freeze::Bfd100 => Some(Duration::from_millis(500)),
            Freeze::Hold3 => Some(Duration::from_millis(3500)),
            Freeze::Defaults | Freeze::Gobgpd | Freeze::Exabgp | Freeze::Keepalived => None,
        }
    }
}

/// Runs the selected setups in a lab of their own and prints their table.
pub(crate) fn run(
    interrupt: &Interrupt,
    clock: &Clock,
    selected: &[Freeze],
    runs: usize,
) -> Result<(), String> {
    let mut results = Vec::new();
    for &who in selected {
        interrupt.check()?;
        // A lab of its own per setup: FRR's BFD sessions of the last setup's hosts are gone.
        clock.log(format!(
            "host freeze, {}: building a lab with FRR's bfdd on route server 1",
            who.name()
        ));
        let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(2).with_client().with_bfd());
        let hosts: Vec<String> = lab.hosts.iter().map(|h| h.ns.name.clone()).collect();
        let r = measure(&mut lab, interrupt, clock, who, runs);
        for ns in &hosts {
            kill_namespace_processes(ns);
        }
        drop(lab);
        results.push((who, r?));
    }
    println!();
    print_table(&results, runs);
    Ok(())
}

fn start_announcer(
    lab: &mut Lab,
    interrupt: &Interrupt,
    role: Role,
    who: Freeze,
) -> Result<ProcId, String> {
    match who {
        Freeze::Gobgpd => announcers::start_gobgpd(lab, interrupt, role),
        Freeze::Exabgp => {
            let check = announcers::write_check_script(lab)?;
            announcers::start_exabgp(lab, role, &check)
        }
        _ => start_elastic(lab, role, who),
    }
}

/// Sends `signal` to every process in namespace `ns` (this run's: the announcer, its children,
/// the service).
fn signal_namespace(ns: &str, signal: Signal) {
    let Ok(out) = lab::run_cmd("ip", &["netns", "pids", ns]) else {
        return;
    };
    for pid in out.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
    }
}

/// b's route is at route server 1, ready to take over.
fn b_ready(lab: &Lab) -> bool {
    let b = lab.host(Role::Secondary.host()).session_address();
    lab.routes(1, "203.0.113.10/32").is_ok_and(|routes| {
        routes
            .iter()
            .any(|r| r.from == Some(b) || r.next_hop == Some(b))
    })
}

fn start_elastic(lab: &mut Lab, role: Role, who: Freeze) -> Result<ProcId, String> {
    let host = lab.host(role.host());
    let label = host.label.clone();
    let conf = lab.dir.join(format!("freeze-{label}-{}.yaml", who.key()));
    std::fs::write(&conf, who.config()).map_err(|e| format!("{}: {e}", conf.display()))?;
    let mut cmd = host.ns.command(&lab::daemon_binary());
    cmd.arg("-config").arg(&conf);
    cmd.args([
        "-dcid",
        &DCID.to_string(),
        role.flag(),
        "-neighborpattern",
        NEIGHBOR_PATTERN,
    ]);
    lab.spawn(&format!("elastic-{label}-{}", who.key()), cmd)
}

/// bfdd's profile at `ms` × 3 on route server 1.
fn set_rs_interval(lab: &Lab, ms: u32) -> Result<(), String> {
    let pathspace = format!("el-{}-rs1", lab.tag);
    let interval = ms.to_string();
    lab::run_cmd(
        "vtysh",
        &[
            "-N",
            &pathspace,
            "-d",
            "bfdd",
            "-c",
            "configure terminal",
            "-c",
            "bfd",
            "-c",
            "profile elastic-hosts",
            "-c",
            &format!("receive-interval {interval}"),
            "-c",
            &format!("transmit-interval {interval}"),
        ],
    )
    .map(|_| ())
}

fn served_by_a(lab: &Lab, interrupt: &Interrupt, what: &str) -> Result<(), String> {
    interrupt.wait_for(
        &format!("{what}: the client answered by a alone"),
        READY_TIMEOUT,
        Duration::from_millis(200),
        || {
            let report = client::short_probe(lab).ok()?;
            (report.lost == 0 && report.answerers() == ["a"]).then_some(())
        },
    )
}

/// Both hosts' BFD with route server 1 is Up (elastic status).
fn bfd_up(lab: &Lab) -> bool {
    (1..=2).all(|index| {
        lab.host(index)
            .ns
            .exec(&lab::daemon_binary(), &["status", "--json"])
            .ok()
            .and_then(|out| serde_json::from_str::<serde_json::Value>(&out).ok())
            .is_some_and(|status| status["sessions"][0]["bfd"]["state"] == "up")
    })
}

fn measure(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    who: Freeze,
    runs: usize,
) -> Result<Vec<RunResult>, String> {
    if let Some(ms) = who.rs_interval_ms() {
        set_rs_interval(lab, ms)?;
    }
    // keepalived's hosts are on the VRRP segment; the BGP setups' are the lab's hosts.
    let segment = match who {
        Freeze::Keepalived => Some(VrrpSegment::build(lab)?),
        _ => None,
    };
    let (a_ns, b_ns) = match &segment {
        Some(s) => (s.hosts[0].clone(), s.hosts[1].clone()),
        None => (lab.host(1).ns.name.clone(), lab.host(2).ns.name.clone()),
    };
    start_service(lab, &a_ns, "a")?;
    start_service(lab, &b_ns, "b")?;
    match &segment {
        Some(segment) => {
            let check = announcers::write_check_script(lab)?;
            vrrp::start_keepalived(lab, segment, 0, &check)?;
            vrrp::start_keepalived(lab, segment, 1, &check)?;
        }
        None => {
            start_announcer(lab, interrupt, Role::Primary, who)?;
            start_announcer(lab, interrupt, Role::Secondary, who)?;
        }
    }
    // The route a's packets to the route servers take, restored after each freeze.
    let rs_route = lab
        .host(1)
        .ns
        .exec("ip", &["-6", "route", "show", RS_PREFIX])?;
    let rs_route: Vec<String> = rs_route.split_whitespace().map(str::to_string).collect();
    let mut results = Vec::new();
    for run in 1..=runs {
        served_by_a(lab, interrupt, who.name())?;
        if who.rs_interval_ms().is_some() {
            interrupt.wait_for(
                &format!("{}: BFD up on both hosts", who.name()),
                READY_TIMEOUT,
                Duration::from_millis(200),
                || bfd_up(lab).then_some(()),
            )?;
        }
        if segment.is_some() {
            // The backup's track_script needs rise × interval to pass before it may take over.
            interrupt.sleep(Duration::from_secs(3))?;
        } else {
            interrupt.wait_for(
                &format!("{}: b's route at route server 1", who.name()),
                READY_TIMEOUT,
                Duration::from_millis(200),
                || b_ready(lab).then_some(()),
            )?;
            interrupt.sleep(Duration::from_millis(500))?;
        }
        let duration = Duration::from_secs(1) + who.window();
        let probe = client::spawn_probe(lab, &format!("{}-{run}", who.key()), duration)?;
        interrupt.sleep(Duration::from_secs(1))?;
        let frozen_at = Instant::now();
        signal_namespace(&a_ns, Signal::SIGSTOP);
        if segment.is_none() {
            lab.host(1)
                .ns
                .exec("ip", &["-6", "route", "replace", "blackhole", RS_PREFIX])?;
        }
        let report = client::wait_report(lab, interrupt, probe, duration)?;
        clock.log(format!(
            "{} run {run}/{runs}: {} — longest gap {} ms, lost {} of {} (freeze {:.1} s ago)",
            who.name(),
            if report.last_answerer.as_deref() == Some("b") {
                "failed over to b"
            } else {
                "NO failover"
            },
            report.longest_gap_ms,
            report.lost,
            report.sent,
            frozen_at.elapsed().as_secs_f64()
        ));
        results.push(RunResult { report });
        // Thaw: a's route back, its processes running again; its sessions come back by
        // themselves (a's elastic reads the route servers' NOTIFICATIONs and reconnects).
        let mut restore: Vec<&str> = vec!["-6", "route", "replace"];
        restore.extend(rs_route.iter().map(String::as_str));
        lab.host(1).ns.exec("ip", &restore)?;
        signal_namespace(&a_ns, Signal::SIGCONT);
    }
    Ok(results)
}

fn print_table(results: &[(Freeze, Vec<RunResult>)], runs: usize) {
    println!(
        "Failover when the primary HOST freezes ({runs} runs each; processes stopped, its packets \
         blackholed, links up):"
    );
    println!(
        "{:<28} {:>11} {:>9} {:>12}  target (median gap)",
        "", "gap median", "gap max", "lost median"
    );
    for (who, r) in results {
        let gaps: Vec<f64> = r.iter().map(|x| x.report.longest_gap_ms as f64).collect();
        let lost: Vec<f64> = r.iter().map(|x| x.report.lost as f64).collect();
        let all_failed_over = r.iter().all(RunResult::failed_over);
        let (median, max) = match Spread::of(&gaps) {
            Some(s) if all_failed_over => {
                (format!("{:.0} ms", s.median), format!("{:.0} ms", s.max))
            }
            _ => ("no failover".to_string(), "—".to_string()),
        };
        let lost = Spread::of(&lost).map_or("—".to_string(), |s| format!("{:.0}", s.median));
        let target = match (who.target(), Spread::of(&gaps)) {
            (Some(t), Some(s)) => format!(
                "≤ {} ms: {}",
                t.as_millis(),
                if all_failed_over && s.median <= t.as_millis() as f64 {
                    "met"
                } else {
                    "missed"
                }
            ),
            _ => "—".to_string(),
        };
        println!(
            "{:<28} {median:>11} {max:>9} {lost:>12}  {target}",
            who.name()
        );
    }
    println!(
        "- Route server 1 (FRR, whose choice the router forwards along) runs bfdd at the BFD setups' \
         interval; without BFD only its hold timer (the smaller of ours and its own) notices."
    );
    println!(
        "- The whole of host a's namespace is stopped (SIGSTOP); for the BGP setups its packets to \
         the route servers are blackholed too. \"no failover\": b never answered within the window."
    );
}
