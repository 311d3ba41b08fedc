//! The benchmark (`integration/bench.sh`; not a test): elastic, gobgpd configured as lelastic
//! configures it, and the real lelastic, side by side in one network-namespace lab with four FRR
//! route servers (2001:db8:14:34::1..4). Each runs on its own host namespace as `-primary`.
//!
//! a. start → 203.0.113.10/32 installed: in route server 1's kernel table (zebra; seen with
//!    `ip monitor route`, no polling) and in all four route servers' BGP tables (vtysh, polled);
//! b. idle for 60 s with four sessions up: VmRSS, VmHWM, CPU seconds (utime + stime);
//! c. 10,000 prefixes until every route server counts them all (`pfxRcd`).
//!
//! Figures are printed, never judged by an exit code. Root only. SIGINT / SIGTERM stop it between
//! steps; the lab's `Drop` removes namespaces and processes.
//!
//! Environment: `LELASTIC_BIN` (the lelastic binary; without it that column is "n/a"),
//! `BENCH_IDLE_SECS` (60), `BENCH_RUNS` (start-up runs per contender, 3; elastic gets 5).
#![allow(
    clippy::disallowed_methods,
    reason = "the lab measures real time; the one-clock rule is the daemon's"
)]

mod mrt;

use std::net::{IpAddr, Ipv6Addr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use elastic_lab::contender::{self, Binaries, Contender};
use elastic_lab::measure::{
    self, ProcSample, RouteMonitor, SWEEP_PAUSE, Spread, proc_sample, seconds, since,
};
use elastic_lab::program::{Interrupt, run_program};
use elastic_lab::{self as lab, Lab, LabSpec, RsKind, VIP4};

const VIP4_PREFIX: &str = "203.0.113.10/32";
const BULK: usize = 10_000;
const SLOTS: [u8; 4] = [1, 2, 3, 4];
/// Bounds for every wait: generous, the machine is shared.
const START_TIMEOUT: Duration = Duration::from_secs(40);
const GONE_TIMEOUT: Duration = Duration::from_secs(30);
const BULK_TIMEOUT: Duration = Duration::from_secs(120);
/// gobgp's MRT inject may lose the tail of its stream: stop waiting once counts stay put this long.
const BULK_STALL: Duration = Duration::from_secs(8);
/// "Holding 10,000" is sampled this long after the last prefix arrived, once the burst's freed
/// memory could be returned; the peak during the burst is reported apart (VmHWM).
const BULK_SETTLE: Duration = Duration::from_secs(3);
/// Paths repeated at the end of the MRT file, so the inject's lost tail holds no new prefix.
const MRT_PADDING: usize = 2_000;

fn main() -> ExitCode {
    run_program("bench", run)
}

/// Phase a, one contender.
#[derive(Default)]
struct StartResult {
    /// Seconds until the route was in route server 1's kernel table.
    fib: Vec<f64>,
    /// Seconds until all four route servers had it.
    all_four: Vec<f64>,
}

/// Phase b, one contender.
struct IdleResult {
    end: ProcSample,
    cpu_seconds: f64,
    seconds: f64,
}

/// Phase c, one contender and one way of handing the prefixes over.
struct BulkResult {
    how: Handover,
    /// Seconds until all four route servers counted every prefix; `None` if some never arrived.
    all_four: Option<f64>,
    /// Seconds until the last prefix that did arrive arrived (the last change in the counters).
    last_change: f64,
    /// Fewest prefixes any route server got (of BULK).
    arrived: u64,
    cpu_seconds: f64,
    rss_after_kb: u64,
    hwm_kb: u64,
    note: String,
}

struct Clock(Instant);

impl Clock {
    fn log(&self, msg: impl AsRef<str>) {
        println!(
            "[{:6.1} s] {}",
            self.0.elapsed().as_secs_f64(),
            msg.as_ref()
        );
    }
}

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(interrupt: &Interrupt) -> Result<(), String> {
    let clock = Clock(Instant::now());
    let bins = Binaries {
        elastic: lab::daemon_binary(),
        lelastic: std::env::var("LELASTIC_BIN")
            .ok()
            .filter(|p| std::path::Path::new(p).is_file()),
    };
    lab::check_prerequisites(&RsKind::Frr)?;
    contender::check_programs(&bins)?;
    let mut contenders = vec![Contender::Elastic, Contender::Gobgpd];
    if bins.lelastic.is_some() {
        contenders.push(Contender::Lelastic);
    } else {
        println!("lelastic: no binary (set LELASTIC_BIN); its column stays empty");
    }
    let idle_secs = env_number("BENCH_IDLE_SECS", 60);
    let runs = env_number("BENCH_RUNS", 3).max(1) as usize;

    clock.log("building the lab: four FRR route servers, three hosts");
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(3));
    // Declared after the lab, so it is dropped (killed) before the namespaces go.
    let mut monitor = RouteMonitor::start(&lab.router.name)?;
    clock.log(format!(
        "lab {} up; elastic on host a, gobgpd on b, lelastic on c",
        lab.tag
    ));

    // a. Start-up.
    let mut start_results: Vec<(Contender, StartResult)> = Vec::new();
    for &who in &contenders {
        let n = if who == Contender::Elastic {
            runs.max(5)
        } else {
            runs
        };
        let mut result = StartResult::default();
        for i in 1..=n {
            interrupt.check()?;
            let (fib, all_four) = measure_start(&mut lab, &mut monitor, interrupt, &bins, who, i)?;
            clock.log(format!(
                "a. {who} start {i}/{n}: in RS 1's kernel table after {}, in all four RS after {}",
                fib.map_or("—".into(), seconds),
                seconds(all_four)
            ));
            if let Some(f) = fib {
                result.fib.push(f);
            }
            result.all_four.push(all_four);
        }
        start_results.push((who, result));
    }

    // b. Idle, all side by side.
    let mut procs = Vec::new();
    for &who in &contenders {
        procs.push((
            who,
            contender::start(&mut lab, interrupt, &bins, who, "idle")?,
        ));
    }
    for &(who, _) in &procs {
        wait_route_everywhere(&lab, interrupt, who)?;
    }
    clock.log(format!(
        "b. all contenders have four sessions and their routes; idling {idle_secs} s"
    ));
    let idle_start = Instant::now();
    let mut before = Vec::new();
    for &(_, id) in &procs {
        before.push(proc_sample(lab.pid(id).as_raw())?);
    }
    interrupt.sleep(Duration::from_secs(idle_secs))?;
    let idle_elapsed = idle_start.elapsed().as_secs_f64();
    let mut idle_results = Vec::new();
    for (&(who, id), b) in procs.iter().zip(&before) {
        if let Some(status) = lab.exit_status(id) {
            return Err(format!(
                "{who} exited while idle ({status}): {}",
                lab.log(id)
            ));
        }
        let end = proc_sample(lab.pid(id).as_raw())?;
        clock.log(format!(
            "b. {who}: VmRSS {} kB, VmHWM {} kB, {:.2} CPU s in {idle_elapsed:.0} s",
            end.rss_kb,
            end.hwm_kb,
            end.cpu_seconds - b.cpu_seconds
        ));
        idle_results.push((
            who,
            IdleResult {
                end,
                cpu_seconds: end.cpu_seconds - b.cpu_seconds,
                seconds: idle_elapsed,
            },
        ));
    }

    // c. 10,000 prefixes, one contender at a time (the others stopped, so the route servers
    // only work for the one measured).
    let bulk_prefixes: Vec<Ipv6Addr> = (0..BULK as u32)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0x1000, i as u16, 0, 0, 0, 1))
        .collect();
    for &(who, id) in &procs {
        contender::stop(&mut lab, id);
        wait_gone(&lab, interrupt, who)?;
    }
    let mut bulk_results = Vec::new();
    for &who in &contenders {
        let ways: &[Handover] = match who {
            Contender::Elastic => &[Handover::LoAtRunTime, Handover::LoBeforeStart],
            Contender::Gobgpd => &[Handover::MrtInject],
            Contender::Lelastic => &[Handover::LoBeforeStart],
        };
        for &how in ways {
            interrupt.check()?;
            let result = measure_bulk(&mut lab, interrupt, &bins, who, how, &bulk_prefixes)?;
            clock.log(format!(
                "c. {who}: {} of {BULK} at all four RS after {} ({})",
                result.arrived,
                result.all_four.map_or("—".into(), seconds),
                result.note
            ));
            bulk_results.push((who, result));
        }
    }

    drop(monitor);
    drop(lab);
    clock.log("lab removed");
    println!();
    print_table(&start_results, &idle_results, &bulk_results, idle_secs);
    Ok(())
}

fn host_addr(lab: &Lab, who: Contender) -> IpAddr {
    lab.host(who.host()).session_address()
}

fn has_vip_from(lab: &Lab, slot: u8, from: IpAddr) -> bool {
    lab.routes(slot, VIP4_PREFIX)
        .map(|routes| {
            routes
                .iter()
                .any(|r| r.from == Some(from) || r.next_hop == Some(from))
        })
        .unwrap_or(false)
}

/// One start-up run: starts `who`, times the route's arrival, stops it and waits until it is gone.
fn measure_start(
    lab: &mut Lab,
    monitor: &mut RouteMonitor,
    interrupt: &Interrupt,
    bins: &Binaries,
    who: Contender,
    run: usize,
) -> Result<(Option<f64>, f64), String> {
    let from = host_addr(lab, who);
    let fib_line = |line: &str| {
        line.starts_with(&format!("{VIP4} ")) && line.contains(&format!("via inet6 {from} "))
    };
    monitor.clear();
    let t0 = Instant::now();
    let id = contender::start(lab, interrupt, bins, who, &format!("start{run}"))?;
    let mut seen: [Option<f64>; 4] = [None; 4];
    let deadline = t0 + START_TIMEOUT;
    // Sweep the route servers that do not have it yet; vtysh takes ~20 ms a call.
    while seen.iter().any(Option::is_none) {
        interrupt.check()?;
        if Instant::now() > deadline {
            let diag = format!(
                "{}{}\n{who}'s log:\n{}",
                lab.diagnostics(),
                contender::describe(lab, who),
                lab.log(id)
            );
            contender::stop(lab, id);
            return Err(format!(
                "{who}: {VIP4_PREFIX} not at all route servers after {START_TIMEOUT:?}\n{diag}"
            ));
        }
        for (i, slot) in SLOTS.iter().enumerate() {
            if seen[i].is_none() && has_vip_from(lab, *slot, from) {
                seen[i] = Some(since(t0, Instant::now()));
            }
        }
        std::thread::sleep(SWEEP_PAUSE);
    }
    let all_four = seen.iter().flatten().copied().fold(0.0, f64::max);
    // zebra installs right after bgpd-1 picked the route; allow it a moment if it is not there yet.
    let fib = interrupt
        .wait_for(
            "the route in route server 1's kernel table",
            Duration::from_secs(5),
            Duration::from_millis(10),
            || monitor.first(fib_line),
        )
        .ok()
        .map(|t| since(t0, t));
    interrupt.check()?;
    contender::stop(lab, id);
    wait_gone(lab, interrupt, who)?;
    Ok((fib, all_four))
}

fn wait_route_everywhere(lab: &Lab, interrupt: &Interrupt, who: Contender) -> Result<(), String> {
    let from = host_addr(lab, who);
    interrupt
        .wait_for(
            &format!("{who}'s {VIP4_PREFIX} at all four route servers"),
            START_TIMEOUT,
            Duration::from_millis(100),
            || {
                SLOTS
                    .iter()
                    .all(|s| has_vip_from(lab, *s, from))
                    .then_some(())
            },
        )
        .map_err(|e| format!("{e}\n{}", lab.diagnostics()))
}

/// Waits until no route server has anything from `who`'s host and the router's kernel route is gone.
fn wait_gone(lab: &Lab, interrupt: &Interrupt, who: Contender) -> Result<(), String> {
    let from = host_addr(lab, who);
    interrupt.wait_for(
        &format!("{who}'s routes to disappear"),
        GONE_TIMEOUT,
        Duration::from_millis(50),
        || {
            let at_rs = SLOTS.iter().any(|s| {
                measure::prefixes_received(lab, *s, "ipv6", from)
                    .map(|n| n.unwrap_or(0) > 0)
                    .unwrap_or(true)
                    || has_vip_from(lab, *s, from)
            });
            let in_fib = lab
                .router
                .ip(&["-4", "route", "show", VIP4_PREFIX])
                .map(|out| out.contains(&from.to_string()))
                .unwrap_or(true);
            (!at_rs && !in_fib).then_some(())
        },
    )
}

/// `ip -batch` lines adding the bulk addresses to `lo`, each as its /64.
fn address_batch(prefixes: &[Ipv6Addr]) -> String {
    prefixes
        .iter()
        .map(|p| format!("address add {p}/64 dev lo nodad\n"))
        .collect()
}

fn ip_batch(lab: &Lab, who: Contender, name: &str, text: &str) -> Result<f64, String> {
    let path = lab.dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    let ns = &lab.host(who.host()).ns;
    let t0 = Instant::now();
    ns.ip(&["-batch", path.to_str().ok_or("non-UTF-8 path")?])?;
    Ok(t0.elapsed().as_secs_f64())
}

/// How the 10,000 prefixes reach the daemon in phase c.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handover {
    /// The daemon runs with its sessions up; the prefixes go onto `lo` in one `ip -batch` (elastic).
    LoAtRunTime,
    /// The daemon runs with its sessions up; `gobgp mrt inject global` hands them over (gobgpd).
    MrtInject,
    /// The prefixes are on `lo` before the daemon starts; timed from its start (lelastic reads lo
    /// once; elastic too, for comparison).
    LoBeforeStart,
}

/// Phase c for one contender: from the moment the prefixes are handed over (or the daemon starts)
/// until all four route servers count them.
fn measure_bulk(
    lab: &mut Lab,
    interrupt: &Interrupt,
    bins: &Binaries,
    who: Contender,
    how: Handover,
    prefixes: &[Ipv6Addr],
) -> Result<BulkResult, String> {
    let from = host_addr(lab, who);
    // What the host announces besides the bulk: VIP6's /64.
    let target = prefixes.len() as u64 + 1;
    let on_lo = |lab: &Lab| -> Result<f64, String> {
        let n = lab
            .host(who.host())
            .ns
            .ip(&[
                "-6",
                "address",
                "show",
                "dev",
                "lo",
                "to",
                "2001:db8:1000::/48",
            ])?
            .lines()
            .filter(|l| l.trim_start().starts_with("inet6 "))
            .count();
        if n >= prefixes.len() {
            return Ok(0.0);
        }
        ip_batch(lab, who, "bulk-add.batch", &address_batch(prefixes))
    };
    let t0;
    let id;
    let mut cpu_before = 0.0;
    let mut handover_done: Option<Instant> = None;
    let note;
    match how {
        Handover::LoAtRunTime => {
            id = contender::start(lab, interrupt, bins, who, "bulk-runtime")?;
            wait_route_everywhere(lab, interrupt, who)?;
            cpu_before = proc_sample(lab.pid(id).as_raw())?.cpu_seconds;
            t0 = Instant::now();
            let took = on_lo(lab)?;
            handover_done = Some(Instant::now());
            note = format!(
                "{} added to lo with one ip -batch, which itself took {}",
                prefixes.len(),
                seconds(took)
            );
        }
        Handover::MrtInject => {
            id = contender::start(lab, interrupt, bins, who, "bulk-inject")?;
            wait_route_everywhere(lab, interrupt, who)?;
            let file = lab.dir.join("bulk.mrt");
            std::fs::write(&file, mrt::table_dump(prefixes, MRT_PADDING, 0xFDE8_0001))
                .map_err(|e| format!("{}: {e}", file.display()))?;
            cpu_before = proc_sample(lab.pid(id).as_raw())?.cpu_seconds;
            t0 = Instant::now();
            contender::gobgp_inject(lab, &file)?;
            handover_done = Some(Instant::now());
            note = format!(
                "gobgp mrt inject ran {} (the file repeats {MRT_PADDING} paths at its end: the \
                 inject drops the tail of its stream)",
                seconds(since(t0, handover_done.unwrap_or(t0)))
            );
        }
        Handover::LoBeforeStart => {
            on_lo(lab)?;
            t0 = Instant::now();
            id = contender::start(lab, interrupt, bins, who, "bulk-start")?;
            note = "on lo before start; timed from process start".to_string();
        }
    }

    // Poll the four counters until all reach the target, or nothing moved for BULK_STALL.
    let mut done: [Option<f64>; 4] = [None; 4];
    let mut counts = [0u64; 4];
    let mut last_change = t0;
    let deadline = t0 + BULK_TIMEOUT;
    while done.iter().any(Option::is_none) {
        interrupt.check()?;
        let now = Instant::now();
        if now > deadline {
            break;
        }
        let stalled = now.duration_since(last_change) > BULK_STALL
            && handover_done.is_none_or(|h| now.duration_since(h) > BULK_STALL)
            && counts.iter().any(|c| *c > 0);
        if stalled {
            break;
        }
        for (i, slot) in SLOTS.iter().enumerate() {
            if done[i].is_some() {
                continue;
            }
            let n = measure::prefixes_received(lab, *slot, "ipv6", from)?.unwrap_or(0);
            if n != counts[i] {
                counts[i] = n;
                last_change = Instant::now();
            }
            if n >= target {
                done[i] = Some(since(t0, Instant::now()));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let all_four = if done.iter().all(Option::is_some) {
        Some(done.iter().flatten().copied().fold(0.0, f64::max))
    } else {
        None
    };
    let settled = Instant::now() + BULK_SETTLE;
    while Instant::now() < settled {
        interrupt.check()?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let sample = proc_sample(lab.pid(id).as_raw())?;
    let arrived = counts.iter().copied().min().unwrap_or(0).saturating_sub(1);
    contender::stop(lab, id);
    wait_gone(lab, interrupt, who)?;
    // The addresses stay on lo: deleting 10,000 takes the kernel far longer than adding them, and
    // the namespace goes with the lab.
    Ok(BulkResult {
        how,
        all_four,
        last_change: since(t0, last_change),
        arrived: arrived.min(prefixes.len() as u64),
        cpu_seconds: sample.cpu_seconds - cpu_before,
        rss_after_kb: sample.rss_kb,
        hwm_kb: sample.hwm_kb,
        note,
    })
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// "12× faster" / "3.1× less" for lower-is-better figures (elastic's value first).
fn compare(elastic: f64, other: f64, better: &str, worse: &str) -> String {
    if elastic <= 0.0 || other <= 0.0 {
        return "—".into();
    }
    if other >= elastic {
        format!("{:.1}× {better}", other / elastic)
    } else {
        format!("{:.1}× {worse}", elastic / other)
    }
}

struct Row {
    label: String,
    cells: Vec<String>,
    vs_gobgpd: String,
    vs_lelastic: String,
    target: String,
}

const COLUMNS: [Contender; 3] = [Contender::Elastic, Contender::Gobgpd, Contender::Lelastic];

/// A row of lower-is-better figures, with elastic compared to the other two.
fn figure_row(
    label: &str,
    value: impl Fn(Contender) -> Option<f64>,
    show: impl Fn(f64) -> String,
    (better, worse): (&str, &str),
    target: String,
) -> Row {
    let e = value(Contender::Elastic);
    let vs = |other: Contender| match (e, value(other)) {
        (Some(e), Some(o)) => compare(e, o, better, worse),
        _ => "—".into(),
    };
    Row {
        label: label.to_string(),
        cells: COLUMNS
            .iter()
            .map(|c| value(*c).map_or("n/a".into(), &show))
            .collect(),
        vs_gobgpd: vs(Contender::Gobgpd),
        vs_lelastic: vs(Contender::Lelastic),
        target,
    }
}

/// A row of details, no comparison.
fn text_row(label: &str, value: impl Fn(Contender) -> Option<String>) -> Row {
    Row {
        label: label.to_string(),
        cells: COLUMNS
            .iter()
            .map(|c| value(*c).unwrap_or_else(|| "n/a".into()))
            .collect(),
        vs_gobgpd: String::new(),
        vs_lelastic: String::new(),
        target: String::new(),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn print_table(
    start: &[(Contender, StartResult)],
    idle: &[(Contender, IdleResult)],
    bulk: &[(Contender, BulkResult)],
    idle_secs: u64,
) {
    let start_of = |who: Contender| start.iter().find(|(w, _)| *w == who).map(|(_, r)| r);
    let idle_of = |who: Contender| idle.iter().find(|(w, _)| *w == who).map(|(_, r)| r);
    // The first (run-time) result of each contender; lelastic has only the one from its start.
    let bulk_of = |who: Contender| bulk.iter().find(|(w, _)| *w == who).map(|(_, r)| r);
    let runtime_of = |who: Contender| {
        bulk.iter()
            .find(|(w, r)| *w == who && r.how != Handover::LoBeforeStart)
            .map(|(_, r)| r)
    };
    let from_start_of = |who: Contender| {
        bulk.iter()
            .find(|(w, r)| *w == who && r.how == Handover::LoBeforeStart)
            .map(|(_, r)| r)
    };
    let arrived = |r: &BulkResult| match r.all_four {
        Some(_) => r.arrived.to_string(),
        None => format!("{} (last at {})", r.arrived, seconds(r.last_change)),
    };
    const TIME: (&str, &str) = ("faster", "slower");
    const AMOUNT: (&str, &str) = ("less", "more");
    let megabytes = |kb: f64| mb(kb as u64);
    let cpu = |s: f64| format!("{s:.2} s");

    let fib = |c: Contender| {
        start_of(c)
            .and_then(|r| Spread::of(&r.fib))
            .map(|s| s.median)
    };
    let all4 = |c: Contender| {
        start_of(c)
            .and_then(|r| Spread::of(&r.all_four))
            .map(|s| s.median)
    };
    let rss = |c: Contender| idle_of(c).map(|r| r.end.rss_kb as f64);
    let runtime_time = |c: Contender| runtime_of(c).map(|r| r.all_four.unwrap_or(r.last_change));
    let bulk_target = match (
        runtime_of(Contender::Elastic).and_then(|r| r.all_four),
        runtime_time(Contender::Gobgpd),
    ) {
        (Some(e), Some(g)) => format!("≥ 2× faster than gobgpd: {}", verdict(g >= 2.0 * e)),
        _ => String::new(),
    };

    let table = vec![
        figure_row(
            "a. start → route in RS 1's kernel (median)",
            fib,
            seconds,
            TIME,
            String::new(),
        ),
        figure_row(
            "a. start → route at all 4 RS (median)",
            all4,
            seconds,
            TIME,
            all4(Contender::Elastic)
                .map(|s| format!("~0.1 s (design): {}", verdict(s <= 0.1)))
                .unwrap_or_default(),
        ),
        text_row("     all 4 RS: min–max (runs)", |c| {
            start_of(c)
                .and_then(|r| Spread::of(&r.all_four))
                .map(|s| format!("{}–{} ({})", seconds(s.min), seconds(s.max), s.n))
        }),
        figure_row(
            &format!("b. idle {idle_secs} s, 4 sessions: VmRSS"),
            rss,
            megabytes,
            AMOUNT,
            rss(Contender::Elastic)
                .map(|kb| format!("≤ 10 MB: {}", verdict(kb <= 10.0 * 1024.0)))
                .unwrap_or_default(),
        ),
        figure_row(
            "b. VmHWM (peak RSS)",
            |c| idle_of(c).map(|r| r.end.hwm_kb as f64),
            megabytes,
            AMOUNT,
            String::new(),
        ),
        figure_row(
            &format!("b. CPU seconds in {idle_secs} s idle"),
            |c| idle_of(c).map(|r| r.cpu_seconds),
            cpu,
            AMOUNT,
            String::new(),
        ),
        figure_row(
            "c. 10,000 handed over at run time → at 4 RS",
            runtime_time,
            seconds,
            TIME,
            bulk_target,
        ),
        text_row("     prefixes that arrived", |c| runtime_of(c).map(arrived)),
        figure_row(
            "c. 10,000 on lo before start → at 4 RS",
            |c| from_start_of(c).map(|r| r.all_four.unwrap_or(r.last_change)),
            seconds,
            TIME,
            String::new(),
        ),
        text_row("     prefixes that arrived", |c| {
            from_start_of(c).map(arrived)
        }),
        figure_row(
            "c. CPU seconds for the 10,000",
            |c| bulk_of(c).map(|r| r.cpu_seconds),
            cpu,
            AMOUNT,
            String::new(),
        ),
        figure_row(
            "c. VmRSS holding 10,000",
            |c| bulk_of(c).map(|r| r.rss_after_kb as f64),
            megabytes,
            AMOUNT,
            String::new(),
        ),
        figure_row(
            "c. VmHWM (peak) taking them in",
            |c| bulk_of(c).map(|r| r.hwm_kb as f64),
            megabytes,
            AMOUNT,
            String::new(),
        ),
    ];

    let label_w = table
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0);
    let cell_w = table
        .iter()
        .flat_map(|r| r.cells.iter().map(|c| c.chars().count()))
        .max()
        .unwrap_or(0)
        .max(10);
    let vs_w = table
        .iter()
        .map(|r| {
            r.vs_gobgpd
                .chars()
                .count()
                .max(r.vs_lelastic.chars().count())
        })
        .max()
        .unwrap_or(0)
        .max(17);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    println!(
        "{}  {}  {}  {}  {}  {}  target",
        pad("", label_w),
        pad("elastic", cell_w),
        pad("gobgpd", cell_w),
        pad("lelastic", cell_w),
        pad("elastic vs gobgpd", vs_w),
        pad("elastic vs lelastic", vs_w),
    );
    for r in &table {
        println!(
            "{}  {}  {}  {}  {}  {}  {}",
            pad(&r.label, label_w),
            pad(&r.cells[0], cell_w),
            pad(&r.cells[1], cell_w),
            pad(&r.cells[2], cell_w),
            pad(&r.vs_gobgpd, vs_w),
            pad(&r.vs_lelastic, vs_w),
            r.target
        );
    }
    println!();
    println!("Notes:");
    println!(
        "- One lab: four FRR bgpd route servers (2001:db8:14:34::1..4, zebra on 1), one host per daemon."
    );
    println!(
        "- gobgpd runs with lelastic's settings (AS 65001, router id 10.0.0.1, port -1, peer AS 65000, multihop"
    );
    println!(
        "  TTL 16, timers 5/9/3, IPv4+IPv6 unicast, import reject); its paths come from `gobgp global rib add`."
    );
    println!(
        "- gobgpd and lelastic (GoBGP inside) wait 5–9 s before their first connect; elastic connects at once."
    );
    println!(
        "- The 10,000 prefixes are IPv6 /64s (2001:db8:1000:0::/64 … 2001:db8:1000:270f::/64): the IPv4"
    );
    println!("  documentation ranges hold only 768 /32s. Counted at each RS with pfxRcd (vtysh).");
    println!(
        "- At run time: elastic sees them appear on lo (one `ip -batch`; the time includes the kernel's"
    );
    println!(
        "  work); gobgpd gets them from `gobgp mrt inject global` (one AddPathStream). lelastic cannot:"
    );
    println!(
        "  it reads lo once, so for it (and for elastic, to compare) they are on lo before the start."
    );
    println!(
        "- CPU / VmRSS for the 10,000: the run-time handover for elastic and gobgpd (CPU from the"
    );
    println!("  handover on), lelastic's run from its start.");
    println!(
        "- CPU seconds are utime+stime from /proc/PID/stat; memory is VmRSS/VmHWM from /proc/PID/status;"
    );
    println!("  \"holding 10,000\" is sampled 3 s after the last prefix arrived.");
    if let Some(r) = idle.first() {
        println!(
            "- Idle measured over {:.1} s. Timings on a shared machine are noisy: read ratios, not digits.",
            r.1.seconds
        );
    }
    for (who, r) in bulk {
        println!("- c. {who}: {}", r.note);
    }
}
