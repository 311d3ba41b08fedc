//! The planned-stop scenario (VRRP only): SIGTERM to the master's daemon while the client sends,
//! as `systemctl stop` or a package upgrade does. Both daemons then send an advert with priority
//! 0 so the backup takes over after its skew time instead of the master-down interval; keepalived
//! removes the VIP at once, elastic keeps it (and keeps answering) until the new master's advert
//! arrives. The client's longest gap and lost requests are measured as in the service-death
//! scenario, on the VRRP segment (`vrrp.rs`); then a's daemon starts again, preempts, a serves,
//! and the next run starts. The setups (the `FAILOVER_ONLY` keys of the service-death rows):
//!
//! 1. elastic in VRRP mode, advert 1 s (`elastic-vrrp`);
//! 2. the same at 100 ms (`elastic-vrrp-fast`);
//! 3. keepalived, advert_int 1 (`keepalived`), and
//! 4. advert_int 0.1 (`keepalived-fast`, VRRPv3).
//!
//! Target: no request lost.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::vrrp;
use crate::{Clock, Contender, LEAD, Setup, client};
use elastic_lab::measure::Spread;
use elastic_lab::program::{INTERRUPTED, Interrupt};
use elastic_lab::{Lab, ProbeReport};

/// The setups, in the order they run.
const SETUPS: [Contender; 4] = [
    Contender::ElasticVrrp,
    Contender::ElasticVrrpFast,
    Contender::Keepalived,
    Contender::KeepalivedFast,
];

/// How long the client keeps sending after the SIGTERM: a missed handover (the master-down
/// interval at 1 s adverts, 3.6 s) still shows inside it.
const WINDOW: Duration = Duration::from_secs(5);
/// How long the stopped daemon may take to exit (elastic waits for the new master's advert).
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The setups `FAILOVER_ONLY` (comma-separated keys; all when empty) selects.
pub(crate) fn selected(only: &str) -> Vec<Contender> {
    SETUPS
        .into_iter()
        .filter(|c| only.is_empty() || only.split(',').any(|k| k.trim() == c.key()))
        .collect()
}

/// The keys, for the error that names none of them.
pub(crate) fn keys() -> Vec<&'static str> {
    SETUPS.iter().map(|c| c.key()).collect()
}

/// One planned stop as the client saw it, and how long the stopped daemon took to exit.
struct StopRun {
    report: ProbeReport,
    exit_ms: u128,
}

/// What one setup measured.
pub(crate) struct StopResult {
    who: Contender,
    runs: Vec<StopRun>,
}

/// Runs every selected setup `runs` times on `lab`.
pub(crate) fn measure_all(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    setups: &[Contender],
    runs: usize,
) -> Result<Vec<StopResult>, String> {
    let mut results = Vec::new();
    for &who in setups {
        interrupt.check()?;
        let measured = measure(lab, interrupt, clock, who, runs)?;
        results.push(StopResult {
            who,
            runs: measured,
        });
    }
    Ok(results)
}

fn measure(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    who: Contender,
    runs: usize,
) -> Result<Vec<StopRun>, String> {
    let (mut state, check) = Setup::build(lab, true)?;
    let started = Instant::now();
    let result = start_and_stop(lab, interrupt, clock, who, runs, &mut state, &check);
    if result.as_ref().is_err_and(|e| e == INTERRUPTED) {
        return result;
    }
    crate::teardown(lab, interrupt, who, state)?;
    clock.log(format!(
        "planned stop, {}: done in {:.0} s",
        who.name(),
        started.elapsed().as_secs_f64()
    ));
    result
}

fn start_and_stop(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    who: Contender,
    runs: usize,
    state: &mut Setup,
    check: &std::path::Path,
) -> Result<Vec<StopRun>, String> {
    for index in 0..2 {
        let id = vrrp::start(lab, segment(state)?, who, index, check)?;
        state.daemons.push(id);
    }
    crate::wait_standby_ready(lab, interrupt, who, state)?;
    let mut measured = Vec::new();
    for run in 1..=runs {
        crate::wait_served_by_a(lab, interrupt, who, state)?;
        // b's check has passed rise × interval since it (re)started.
        interrupt.sleep(Duration::from_secs(2))?;
        let duration = LEAD + WINDOW;
        let probe = client::spawn_probe(lab, &format!("stop-{}-{run}", who.key()), duration)?;
        interrupt.sleep(LEAD)?;
        let master = state.daemons[0];
        let sent = Instant::now();
        lab.signal(master, Signal::SIGTERM);
        let exited = lab.wait_exit(master, EXIT_TIMEOUT);
        let exit_ms = sent.elapsed().as_millis();
        let report = client::wait_report(lab, interrupt, probe, duration)?;
        let status = match exited {
            Ok(status) => status.to_string(),
            Err(e) => {
                lab.kill(master);
                format!("did not exit: {e}")
            }
        };
        clock.log(format!(
            "planned stop, {} run {run}/{runs}: {} — longest gap {} ms, lost {} of {} ({}; \
             a's daemon exited after {exit_ms} ms, {status})",
            who.name(),
            if client::failed_over(&report) {
                "handed over to b"
            } else {
                "NO handover"
            },
            report.longest_gap_ms,
            report.lost,
            report.sent,
            report.breakdown(),
        ));
        measured.push(StopRun { report, exit_ms });
        if let Some(status) = lab.exit_status(state.daemons[1]) {
            return Err(format!(
                "{}: b's daemon exited during the run ({status}):\n{}",
                who.name(),
                lab.log(state.daemons[1])
            ));
        }
        state.daemons[0] = vrrp::start(lab, segment(state)?, who, 0, check)?;
    }
    crate::wait_served_by_a(lab, interrupt, who, state)?;
    Ok(measured)
}

/// The planned-stop table, after the service-death one.
pub(crate) fn print_table(results: &[StopResult], runs: usize) {
    if results.is_empty() {
        return;
    }
    println!();
    println!(
        "Planned stop: SIGTERM to the master's daemon ({runs} runs each; client request every 10 ms):"
    );
    if vrrp::use_vmac() {
        println!("(elastic VRRP with use_vmac: true)");
    }
    println!(
        "  {:<28} {:>11} {:>8} {:>12} {:>9} {:>10}  target (0 lost)",
        "", "gap median", "gap max", "lost median", "lost max", "exit max"
    );
    for r in results {
        let gaps: Vec<f64> = r
            .runs
            .iter()
            .map(|x| x.report.longest_gap_ms as f64)
            .collect();
        let lost: Vec<f64> = r.runs.iter().map(|x| x.report.lost as f64).collect();
        let exit_max = r.runs.iter().map(|x| x.exit_ms).max().unwrap_or(0);
        let all_handed_over = r.runs.iter().all(|x| client::failed_over(&x.report));
        let (Some(g), Some(l)) = (Spread::of(&gaps), Spread::of(&lost)) else {
            continue;
        };
        let target = if r.who.elastic_vrrp().is_some() {
            crate::verdict(all_handed_over && l.max == 0.0)
        } else {
            "(not its target)"
        };
        println!(
            "  {:<28} {:>11} {:>8} {:>12.0} {:>9.0} {:>7} ms  {target}{}",
            r.who.name(),
            crate::ms(g.median),
            crate::ms(g.max),
            l.median,
            l.max,
            exit_max,
            if all_handed_over {
                ""
            } else {
                " (b did not answer at the end of a run)"
            }
        );
    }
    println!("Notes:");
    println!(
        "- exit: from the SIGTERM to the daemon's exit (elastic waits for the new master's advert)."
    );
    println!("- gap: the longest time between two answered requests; lost: never answered.");
}

fn segment(state: &Setup) -> Result<&crate::vrrp::VrrpSegment, String> {
    state
        .segment
        .as_ref()
        .ok_or_else(|| "no VRRP segment".to_string())
}
