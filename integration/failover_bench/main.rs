//! The failover benchmark (`integration/failover-bench.sh`; not a test): how long the client goes
//! unanswered when the primary's SERVICE dies while its host stays up.
//!
//! A client (198.51.100.2) sends a request every 10 ms through the lab's router to the VIP
//! 203.0.113.10; host a (primary) answers, host b (secondary) stands by. Each host runs the service
//! (UDP answers on the VIP, TCP health target on 127.0.0.1:7778, one process) and an announcer that
//! checks it. One second into a probe, a's service gets SIGKILL; `labnet probe` reports the longest
//! gap between answers and the lost requests. Then a's service comes back, traffic returns to a,
//! and the next run starts. Three runs each, one announcer at a time, on the same hosts:
//!
//! 1. elastic, default probe settings (`tcp` probe: interval 1 s, fast 250 ms, fall 2, rise 2);
//! 2. elastic, 100 ms probes, fall 2;
//! 3. elastic, `process` probe on the service's pidfile (interval 2 s, fall 3: the pidfd decides);
//! 4. elastic, `listen` probe on the service's TCP listener (the same timings);
//! 5. elastic, `exec` of the bash check script ExaBGP and keepalived run, every 1 s, fall 2;
//! 6. the same every 100 ms;
//! 7. ExaBGP 4.2 + its healthcheck (--interval 1 --fall 2 --rise 2 --withdraw-on-down);
//! 8. gobgpd configured as lelastic (no health check: never fails over);
//! 9. keepalived VRRP on a bridge shared by both hosts and the router (track_script interval 1,
//!    fall 2, rise 2; advert_int 1; priorities 150/100), the VIP moving by gratuitous ARP, and
//!    the same at advert_int 0.1 (`keepalived-fast`, VRRPv3);
//! 10. elastic in VRRP mode on the same segment (priorities 150/100, `on_down: withdraw`: priority
//!     0), `exec` of keepalived's check script every 1 s, fall 2, advert 1 s (`elastic-vrrp`);
//! 11. the same at advert 100 ms (`elastic-vrrp-fast`);
//! 12. elastic VRRP with a `process` probe on the service's pidfile, advert 1 s
//!     (`elastic-vrrp-process`), and
//! 13. at advert 100 ms (`elastic-vrrp-process-fast`): after the priority-0 advert the backup
//!     waits its skew time, (256 − 100) / 256 × advert: 609 ms at 1 s, 61 ms at 100 ms.
//!
//! After each setup's runs, with a serving and everything healthy, the CPU time of the primary
//! host's whole announcer process tree (every process in its namespace but the service: utime +
//! stime + cutime + cstime from `/proc/PID/stat`, so reaped check commands count) is taken over
//! `FAILOVER_IDLE` seconds and reported per minute, and its idle RSS (VmRSS, least of 10 samples;
//! keepalived's whole tree, it forks a VRRP child). Last, elastic alone with `exec: /bin/true`
//! every 100 ms gives elastic's own cost per exec check (the command's is next to nothing).
//!
//! The planned-stop scenario follows (`planned.rs`, VRRP only: SIGTERM to the master's daemon),
//! then the host-freeze scenario on the same lab (`freeze.rs`): a's whole host freezes instead.
//!
//! The route servers are FRR's by default; `FAILOVER_RS=bird` runs the same lab with four BIRD 2
//! route servers instead (the first exports its best route to the router's kernel, as zebra does
//! for FRR). Everything the service-death scenario reads works with both: the route servers' paths
//! (`birdc show route`) and the router's FIB. The host-freeze scenario reads FRR's bfdd, the hold
//! time FRR negotiated and bgpd's log, so it is refused with BIRD.
//!
//! Figures are printed, never judged by an exit code. Root only. SIGINT / SIGTERM stop it between
//! steps; `Drop` guards kill what runs in the namespaces and remove them.
//!
//! Environment: `FAILOVER_RUNS` (3); `FAILOVER_ONLY` (a comma-separated subset of elastic-defaults,
//! elastic-fast, elastic-process, elastic-listen, elastic-exec, elastic-exec-fast, exabgp, gobgpd,
//! keepalived, keepalived-fast, exec-cost, elastic-vrrp, elastic-vrrp-fast, elastic-vrrp-process,
//! elastic-vrrp-process-fast and, for the host
//! freeze, elastic-hold3, elastic-bfd300, elastic-bfd100 (the planned stop runs elastic-vrrp,
//! elastic-vrrp-fast and keepalived); all by default); `FAILOVER_IDLE` (60 seconds; 0 skips the
//! CPU figures); `FAILOVER_SCENARIOS` (service-death, host-freeze, planned-stop; all by default); `FAILOVER_RS` (frr or bird; frr by default).
#![allow(
    clippy::disallowed_methods,
    reason = "the lab measures real time; the one-clock rule is the daemon's"
)]

mod announcers;
mod client;
mod freeze;
mod planned;
mod service;
mod vrrp;

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use announcers::{ElasticProbes, Role};
use elastic_lab::contender;
use elastic_lab::measure::Spread;
use elastic_lab::program::{INTERRUPTED, Interrupt, run_program};
use elastic_lab::{self as lab, Lab, LabSpec, ProbeReport, ProcId, RsKind, VIP4};
use vrrp::VrrpSegment;

const VIP4_PREFIX: &str = "203.0.113.10/32";
/// The client sends this long before the service dies.
const LEAD: Duration = Duration::from_secs(1);
/// Bounds for the waits; generous, the machine is shared.
const READY_TIMEOUT: Duration = Duration::from_secs(45);
const GONE_TIMEOUT: Duration = Duration::from_secs(30);
/// gobgpd's "no failover" is counted over this window after the service died.
const NO_FAILOVER_WINDOW: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("service") {
        return service::main(&args[1..]);
    }
    run_program("failover", run)
}

/// The setups, in the order they run (the VRRP ones last: they need the router's BGP route gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Contender {
    ElasticDefaults,
    ElasticFast,
    ElasticProcess,
    ElasticListen,
    ElasticExec,
    ElasticExecFast,
    Exabgp,
    Gobgpd,
    Keepalived,
    KeepalivedFast,
    ElasticVrrp,
    ElasticVrrpFast,
    ElasticVrrpProcess,
    ElasticVrrpProcessFast,
}

const CONTENDERS: [Contender; 14] = [
    Contender::ElasticDefaults,
    Contender::ElasticFast,
    Contender::ElasticProcess,
    Contender::ElasticListen,
    Contender::ElasticExec,
    Contender::ElasticExecFast,
    Contender::Exabgp,
    Contender::Gobgpd,
    Contender::Keepalived,
    Contender::KeepalivedFast,
    Contender::ElasticVrrp,
    Contender::ElasticVrrpFast,
    Contender::ElasticVrrpProcess,
    Contender::ElasticVrrpProcessFast,
];

impl Contender {
    /// The name `FAILOVER_ONLY` selects it by.
    fn key(self) -> &'static str {
        match self {
            Contender::ElasticDefaults => "elastic-defaults",
            Contender::ElasticFast => "elastic-fast",
            Contender::ElasticProcess => "elastic-process",
            Contender::ElasticListen => "elastic-listen",
            Contender::ElasticExec => "elastic-exec",
            Contender::ElasticExecFast => "elastic-exec-fast",
            Contender::Exabgp => "exabgp",
            Contender::Gobgpd => "gobgpd",
            Contender::Keepalived => "keepalived",
            Contender::KeepalivedFast => "keepalived-fast",
            Contender::ElasticVrrp => "elastic-vrrp",
            Contender::ElasticVrrpFast => "elastic-vrrp-fast",
            Contender::ElasticVrrpProcess => "elastic-vrrp-process",
            Contender::ElasticVrrpProcessFast => "elastic-vrrp-process-fast",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Contender::ElasticDefaults => "elastic, default probe",
            Contender::ElasticFast => "elastic, 100 ms probe",
            Contender::ElasticProcess => "elastic, process probe",
            Contender::ElasticListen => "elastic, listen probe",
            Contender::ElasticExec => "elastic, 1 s exec probe",
            Contender::ElasticExecFast => "elastic, 100 ms exec probe",
            Contender::Exabgp => "ExaBGP healthcheck",
            Contender::Gobgpd => "gobgpd as lelastic",
            Contender::Keepalived => "keepalived VRRP",
            Contender::KeepalivedFast => "keepalived, advert 100 ms",
            Contender::ElasticVrrp => "elastic VRRP, advert 1 s",
            Contender::ElasticVrrpFast => "elastic VRRP, advert 100 ms",
            Contender::ElasticVrrpProcess => "elastic VRRP, process probe",
            Contender::ElasticVrrpProcessFast => "elastic VRRP, process, 100 ms",
        }
    }

    fn settings(self) -> &'static str {
        match self {
            Contender::ElasticDefaults => "tcp; interval 1 s (250 ms while changing), fall 2",
            Contender::ElasticFast => "tcp; interval 100 ms (25 ms while changing), fall 2",
            Contender::ElasticProcess => "process (pidfile, pidfd); interval 2 s, fall 3",
            Contender::ElasticListen => "listen 127.0.0.1:7778 (sock_diag); interval 2 s, fall 3",
            Contender::ElasticExec => "exec bash script; interval 1 s, fall 2",
            Contender::ElasticExecFast => "exec bash script; interval 100 ms, fall 2",
            Contender::Exabgp => "--interval 1 --fast-interval 1 --fall 2 --rise 2",
            Contender::Gobgpd => "no health check",
            Contender::Keepalived => "track_script interval 1, fall 2; advert_int 1",
            Contender::KeepalivedFast => "track_script interval 1, fall 2; advert_int 0.1 (v3)",
            Contender::ElasticVrrp => "exec bash script; interval 1 s, fall 2; advert 1 s",
            Contender::ElasticVrrpFast => "exec bash script; interval 1 s, fall 2; advert 100 ms",
            Contender::ElasticVrrpProcess => "process (pidfile, pidfd); advert 1 s",
            Contender::ElasticVrrpProcessFast => "process (pidfile, pidfd); advert 100 ms",
        }
    }

    /// How long the client keeps sending after the service died: enough for the slowest expected
    /// failover with a margin, so a missing one is seen as such.
    fn window(self) -> Duration {
        match self {
            Contender::ElasticDefaults => Duration::from_secs(4),
            Contender::ElasticFast => Duration::from_secs(2),
            Contender::ElasticProcess | Contender::ElasticListen => Duration::from_secs(2),
            Contender::ElasticExec => Duration::from_secs(4),
            Contender::ElasticExecFast => Duration::from_secs(2),
            Contender::Exabgp => Duration::from_secs(6),
            Contender::Gobgpd => NO_FAILOVER_WINDOW,
            Contender::Keepalived => Duration::from_secs(8),
            Contender::KeepalivedFast => Duration::from_secs(5),
            Contender::ElasticVrrp | Contender::ElasticVrrpFast => Duration::from_secs(5),
            Contender::ElasticVrrpProcess | Contender::ElasticVrrpProcessFast => {
                Duration::from_secs(3)
            }
        }
    }

    /// fall × interval, for the target rule "gap ≤ fall × interval + 150 ms".
    fn detection(self) -> Option<Duration> {
        match self {
            Contender::ElasticFast | Contender::ElasticExecFast => {
                Some(Duration::from_millis(2 * 100))
            }
            // Not a poll: the kernel tells (target: gap ≤ 50 ms median).
            Contender::ElasticProcess | Contender::ElasticListen => None,
            Contender::ElasticVrrpProcess | Contender::ElasticVrrpProcessFast => None,
            Contender::Gobgpd => None,
            _ => Some(Duration::from_millis(2 * 1000)),
        }
    }

    /// Whether it runs on the VRRP segment (keepalived or elastic in VRRP mode).
    fn is_vrrp(self) -> bool {
        matches!(
            self,
            Contender::Keepalived
                | Contender::KeepalivedFast
                | Contender::ElasticVrrp
                | Contender::ElasticVrrpFast
                | Contender::ElasticVrrpProcess
                | Contender::ElasticVrrpProcessFast
        )
    }

    /// keepalived's advert interval (ms).
    fn keepalived_advert_ms(self) -> u32 {
        if self == Contender::KeepalivedFast {
            100
        } else {
            1000
        }
    }

    /// elastic in VRRP mode: its probe and advert interval (ms).
    fn elastic_vrrp(self) -> Option<(vrrp::VrrpProbe, u32)> {
        match self {
            Contender::ElasticVrrp => Some((vrrp::VrrpProbe::Exec, 1000)),
            Contender::ElasticVrrpFast => Some((vrrp::VrrpProbe::Exec, 100)),
            Contender::ElasticVrrpProcess => Some((vrrp::VrrpProbe::Process, 1000)),
            Contender::ElasticVrrpProcessFast => Some((vrrp::VrrpProbe::Process, 100)),
            _ => None,
        }
    }
}

/// One failover as the client saw it.
struct RunResult {
    report: ProbeReport,
}

impl RunResult {
    /// Whether host b answered by the end of the window.
    fn failed_over(&self) -> bool {
        client::failed_over(&self.report)
    }
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

/// SIGKILL to every process in namespace `ns`. Only for namespaces this run created: whatever runs
/// there was started by us (daemons' children, check scripts).
pub(crate) fn kill_namespace_processes(ns: &str) {
    let Ok(pids) = lab::namespace_pids(ns) else {
        return;
    };
    for pid in pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Kills what still runs in the lab's host namespaces before the lab deletes them (ExaBGP's
/// healthcheck outlives a killed ExaBGP; the lab only knows the processes it spawned).
struct Sweeper(Vec<String>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        for ns in &self.0 {
            kill_namespace_processes(ns);
        }
    }
}

fn check_programs() -> Result<(), String> {
    let mut missing = Vec::new();
    for (program, package) in [
        ("gobgpd", "gobgpd"),
        ("gobgp", "gobgpd"),
        ("/usr/sbin/exabgp", "exabgp"),
        ("keepalived", "keepalived"),
        ("bash", "bash"),
    ] {
        if lab::run_cmd("sh", &["-c", &format!("command -v {program}")]).is_err() {
            missing.push(format!("{program} ({package})"));
        }
    }
    if lab::run_cmd("/usr/bin/python3", &["-m", "exabgp", "--version"]).is_err() {
        missing.push("/usr/bin/python3 -m exabgp (exabgp)".into());
    }
    let labnet = lab::labnet_binary();
    if !std::path::Path::new(&labnet).is_file() {
        missing.push(labnet);
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing: {} (integration/failover-bench.sh installs them)",
            missing.join(", ")
        ))
    }
}

/// The route servers `FAILOVER_RS` asks for (frr by default) and their name for the log.
fn route_servers() -> Result<(RsKind, &'static str), String> {
    let value = std::env::var("FAILOVER_RS").unwrap_or_default();
    match value.trim() {
        "" | "frr" => Ok((RsKind::Frr, "FRR")),
        "bird" => Ok((RsKind::Bird, "BIRD 2")),
        other => Err(format!(
            "FAILOVER_RS: unknown route server {other:?} (known: frr, bird)"
        )),
    }
}

fn run(interrupt: &Interrupt) -> Result<(), String> {
    let clock = Clock(Instant::now());
    let (rs_kind, rs_name) = route_servers()?;
    lab::check_prerequisites(&rs_kind)?;
    check_programs()?;
    let runs = std::env::var("FAILOVER_RUNS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(3)
        .clamp(1, 10);

    let only = std::env::var("FAILOVER_ONLY").unwrap_or_default();
    // Refused here, before any lab exists, rather than replaced by the defaults later.
    vrrp::priorities()?;
    let (service_death, host_freeze, planned_stop) = freeze::scenarios()?;
    if host_freeze && rs_kind != RsKind::Frr {
        return Err(
            "FAILOVER_RS=bird: the host-freeze scenario needs FRR route servers (its BFD rows run \
             FRR's bfdd; its drop causes and hold times come from bgpd's log and vtysh); set \
             FAILOVER_SCENARIOS=service-death"
                .into(),
        );
    }
    let selected: Vec<Contender> = CONTENDERS
        .into_iter()
        .filter(|_| service_death)
        .filter(|c| only.is_empty() || only.split(',').any(|k| k.trim() == c.key()))
        .collect();
    let frozen = if host_freeze {
        freeze::selected(&only)
    } else {
        Vec::new()
    };
    let planned = if planned_stop {
        planned::selected(&only)
    } else {
        Vec::new()
    };
    if selected.is_empty() && frozen.is_empty() && planned.is_empty() {
        return Err(format!(
            "FAILOVER_ONLY={only:?} names none of: {} (host freeze: {}; planned stop: {})",
            CONTENDERS.map(Contender::key).join(", "),
            freeze::keys().join(", "),
            planned::keys().join(", ")
        ));
    }

    clock.log(format!(
        "building the lab: four {rs_name} route servers, hosts a and b, a client"
    ));
    let mut lab = Lab::new(LabSpec::new(rs_kind).hosts(2).with_client());
    // Dropped before the lab: kills leftovers in the host namespaces before they are deleted.
    let sweeper = Sweeper(lab.hosts.iter().map(|h| h.ns.name.clone()).collect());
    clock.log(format!(
        "lab {} up; client → {VIP4}:{} every 10 ms, a's service dies {} s into each probe",
        lab.tag,
        lab::LABNET_PORT,
        LEAD.as_secs()
    ));

    let idle = Duration::from_secs(
        std::env::var("FAILOVER_IDLE")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(60)
            .min(600),
    );
    let mut results: Vec<(Contender, Vec<RunResult>, Option<f64>)> = Vec::new();
    let mut rss: Vec<(Contender, u64)> = Vec::new();
    for who in selected {
        interrupt.check()?;
        let (r, cpu, rss_kb) = measure(&mut lab, interrupt, &clock, who, runs, idle)?;
        results.push((who, r, cpu));
        rss.extend(rss_kb.map(|kb| (who, kb)));
    }
    let exec_cost = if service_death
        && (only.is_empty() || only.split(',').any(|k| k.trim() == "exec-cost"))
        && !idle.is_zero()
    {
        Some(exec_check_cost(&mut lab, interrupt, &clock, idle)?)
    } else {
        None
    };
    let planned_results = planned::measure_all(&mut lab, interrupt, &clock, &planned, runs)?;
    let freeze_results = freeze::measure_all(&mut lab, interrupt, &clock, &frozen, runs)?;
    drop(sweeper);
    drop(lab);
    clock.log("lab removed");
    println!();
    if !results.is_empty() {
        print_table(&results, runs, rs_kind);
        print_cpu(&results, exec_cost, idle);
        print_rss(&rss);
    }
    planned::print_table(&planned_results, runs);
    freeze::print_table(&freeze_results, runs);
    Ok(())
}

/// CPU seconds (utime + stime + cutime + cstime) of every process in namespace `ns` but
/// `except`: the whole announcer tree, check commands it reaped included. `/proc` counts in
/// USER_HZ, 100 on Linux.
fn namespace_cpu_seconds(ns: &str, except: &[i32]) -> f64 {
    let Ok(pids) = lab::namespace_pids(ns) else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for pid in pids {
        if except.contains(&pid) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        // After the name: state is field 3; utime..cstime are fields 14..=17.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        for field in fields.iter().skip(11).take(4) {
            ticks += field.parse::<u64>().unwrap_or(0);
        }
    }
    ticks as f64 / 100.0
}

/// CPU seconds per minute of namespace `ns`'s processes but `except`, measured over `idle`.
fn idle_cpu_per_minute(
    interrupt: &Interrupt,
    ns: &str,
    except: &[i32],
    idle: Duration,
) -> Result<f64, String> {
    let before = namespace_cpu_seconds(ns, except);
    interrupt.sleep(idle)?;
    let after = namespace_cpu_seconds(ns, except);
    Ok((after - before).max(0.0) * 60.0 / idle.as_secs_f64())
}

/// VmRSS (kB) of every process in namespace `ns` but `except`, the least of ten samples 100 ms
/// apart: the daemon's whole tree (keepalived forks a VRRP child) without a check command that
/// happens to run.
fn namespace_rss_kb(interrupt: &Interrupt, ns: &str, except: &[i32]) -> Result<u64, String> {
    let mut least = u64::MAX;
    for _ in 0..10 {
        let kb: u64 = lab::namespace_pids(ns)?
            .into_iter()
            .filter(|pid| !except.contains(pid))
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .filter_map(|status| {
                let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .sum();
        least = least.min(kb);
        interrupt.sleep(Duration::from_millis(100))?;
    }
    Ok(least)
}

/// elastic alone on host a with `exec: /bin/true` every 100 ms: (CPU seconds per minute of
/// elastic and its commands, checks in that minute). Their ratio is elastic's cost per exec check
/// plus /bin/true's fork and exec, the floor any check command pays.
fn exec_check_cost(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    idle: Duration,
) -> Result<(f64, f64), String> {
    let id = announcers::start_elastic(lab, Role::Primary, ElasticProbes::True)?;
    let ns = lab.host(1).ns.name.clone();
    interrupt.sleep(Duration::from_secs(3))?;
    let checks = |lab: &Lab| -> Option<f64> {
        let out = lab
            .host(1)
            .ns
            .exec(&lab::daemon_binary(), &["status", "--json"])
            .ok()?;
        let json: serde_json::Value = serde_json::from_str(&out).ok()?;
        let probes = json.get("probes")?.as_array()?;
        probes.first()?.get("successes")?.as_f64()
    };
    let checks_before = checks(lab);
    let cpu = idle_cpu_per_minute(interrupt, &ns, &[], idle)?;
    let checks_after = checks(lab);
    contender::stop(lab, id);
    kill_namespace_processes(&ns);
    let per_minute = match (checks_before, checks_after) {
        (Some(b), Some(a)) => (a - b) * 60.0 / idle.as_secs_f64(),
        _ => {
            return Err(format!(
                "elastic status --json gave no probe counts\n{}",
                lab.log(id)
            ));
        }
    };
    clock.log(format!(
        "exec /bin/true every 100 ms: {cpu:.2} CPU s/min over {per_minute:.0} checks/min"
    ));
    Ok((cpu, per_minute))
}

/// Starts the service on a host namespace, named `label` in the client's report, and writes its
/// pid to its pidfile (`ip netns exec` execs the service, so the pid is the service's).
fn start_service(lab: &mut Lab, ns: &str, label: &str) -> Result<ProcId, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(exe)
        .args(service::args(label));
    let id = lab.spawn(&format!("service-{label}"), cmd)?;
    let pidfile = announcers::pidfile(lab, label);
    std::fs::write(&pidfile, format!("{}\n", lab.pid(id)))
        .map_err(|e| format!("{}: {e}", pidfile.display()))?;
    Ok(id)
}

/// Everything one contender needs while it is measured.
struct Setup {
    /// Host namespaces, primary first.
    hosts: [String; 2],
    services: [ProcId; 2],
    daemons: Vec<ProcId>,
    segment: Option<VrrpSegment>,
}

impl Setup {
    /// The hosts (the lab's first two, or with `vrrp` a VRRP segment's) with a service on
    /// each, and the health-check script the announcers run.
    fn build(lab: &mut Lab, vrrp: bool) -> Result<(Setup, std::path::PathBuf), String> {
        let check = announcers::write_check_script(lab)?;
        let segment = match vrrp {
            true => Some(VrrpSegment::build(lab)?),
            false => None,
        };
        let hosts = match &segment {
            Some(s) => [s.hosts[0].clone(), s.hosts[1].clone()],
            None => [lab.host(1).ns.name.clone(), lab.host(2).ns.name.clone()],
        };
        let services = [
            start_service(lab, &hosts[0], "a")?,
            start_service(lab, &hosts[1], "b")?,
        ];
        let setup = Setup {
            hosts,
            services,
            daemons: Vec::new(),
            segment,
        };
        Ok((setup, check))
    }
}

/// One setup's runs, its idle CPU seconds per minute and its idle RSS (kB), when measured.
type Measured = (Vec<RunResult>, Option<f64>, Option<u64>);

fn measure(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    who: Contender,
    runs: usize,
    idle: Duration,
) -> Result<Measured, String> {
    let (mut setup, check) = Setup::build(lab, who.is_vrrp())?;
    let started = Instant::now();
    let result = start_and_fail(lab, interrupt, clock, who, runs, &mut setup, &check);
    if result.as_ref().is_err_and(|e| e == INTERRUPTED) {
        // The guards remove everything; no graceful stop.
        return result.map(|r| (r, None, None));
    }
    let rss_kb = match &result {
        Ok(_) if who != Contender::Gobgpd => {
            wait_served_by_a(lab, interrupt, who, &setup)?;
            let service = lab.pid(setup.services[0]).as_raw();
            let kb = namespace_rss_kb(interrupt, &setup.hosts[0], &[service])?;
            clock.log(format!("{}: idle RSS {kb} kB", who.name()));
            Some(kb)
        }
        _ => None,
    };
    let cpu = match &result {
        Ok(_) if !idle.is_zero() => {
            wait_served_by_a(lab, interrupt, who, &setup)?;
            let service = lab.pid(setup.services[0]).as_raw();
            let cpu = idle_cpu_per_minute(interrupt, &setup.hosts[0], &[service], idle)?;
            clock.log(format!("{}: idle, {cpu:.3} CPU s/min", who.name()));
            Some(cpu)
        }
        _ => None,
    };
    teardown(lab, interrupt, who, setup)?;
    clock.log(format!(
        "{}: done in {:.0} s",
        who.name(),
        started.elapsed().as_secs_f64()
    ));
    result.map(|r| (r, cpu, rss_kb))
}

fn start_and_fail(
    lab: &mut Lab,
    interrupt: &Interrupt,
    clock: &Clock,
    who: Contender,
    runs: usize,
    setup: &mut Setup,
    check: &std::path::Path,
) -> Result<Vec<RunResult>, String> {
    for (i, role) in [Role::Primary, Role::Secondary].into_iter().enumerate() {
        let id = match who {
            Contender::ElasticDefaults => {
                announcers::start_elastic(lab, role, ElasticProbes::Defaults)?
            }
            Contender::ElasticFast => announcers::start_elastic(lab, role, ElasticProbes::Fast)?,
            Contender::ElasticProcess => {
                announcers::start_elastic(lab, role, ElasticProbes::Process)?
            }
            Contender::ElasticListen => {
                announcers::start_elastic(lab, role, ElasticProbes::Listen)?
            }
            Contender::ElasticExec => announcers::start_elastic(lab, role, ElasticProbes::Exec)?,
            Contender::ElasticExecFast => {
                announcers::start_elastic(lab, role, ElasticProbes::ExecFast)?
            }
            Contender::Exabgp => announcers::start_exabgp(lab, role, check)?,
            Contender::Gobgpd => announcers::start_gobgpd(lab, interrupt, role)?,
            Contender::Keepalived
            | Contender::KeepalivedFast
            | Contender::ElasticVrrp
            | Contender::ElasticVrrpFast
            | Contender::ElasticVrrpProcess
            | Contender::ElasticVrrpProcessFast => {
                let segment = setup.segment.as_ref().ok_or("no VRRP segment")?;
                vrrp::start(lab, segment, who, i, check)?
            }
        };
        setup.daemons.push(id);
    }
    let t0 = Instant::now();
    wait_standby_ready(lab, interrupt, who, setup)?;
    clock.log(format!(
        "{}: a serves the client, b stands by ({:.1} s after start)",
        who.name(),
        t0.elapsed().as_secs_f64()
    ));
    let mut results = Vec::new();
    for run in 1..=runs {
        wait_served_by_a(lab, interrupt, who, setup)?;
        let duration = LEAD + who.window();
        let probe = client::spawn_probe(lab, &format!("{who:?}-{run}"), duration)?;
        interrupt.sleep(LEAD)?;
        // The service dies; the host, its addresses and the announcer stay.
        lab.kill(setup.services[0]);
        let report = client::wait_report(lab, interrupt, probe, duration)?;
        clock.log(format!(
            "{} run {run}/{runs}: {} — longest gap {} ms, lost {} of {} ({})",
            who.name(),
            if client::failed_over(&report) {
                "failed over to b"
            } else {
                "NO failover"
            },
            report.longest_gap_ms,
            report.lost,
            report.sent,
            report.breakdown()
        ));
        results.push(RunResult { report });
        for &id in &setup.daemons {
            if let Some(status) = lab.exit_status(id) {
                return Err(format!(
                    "{} exited during the run ({status}):\n{}",
                    who.name(),
                    lab.log(id)
                ));
            }
        }
        setup.services[0] = start_service(lab, &setup.hosts[0], "a")?;
    }
    Ok(results)
}

/// After the start: a answers the client and b is ready to take over (its route is at the route
/// servers; keepalived's backup has had time for its own checks).
fn wait_standby_ready(
    lab: &Lab,
    interrupt: &Interrupt,
    who: Contender,
    setup: &Setup,
) -> Result<(), String> {
    wait_served_by_a(lab, interrupt, who, setup)?;
    match who {
        _ if who.is_vrrp() => {
            // The backup's check needs rise × interval to pass before it may take over.
            interrupt.sleep(Duration::from_secs(3))
        }
        _ => {
            let b = lab.host(Role::Secondary.host()).session_address();
            interrupt
                .wait_for(
                    &format!(
                        "{}: b's {VIP4_PREFIX} at all four route servers",
                        who.name()
                    ),
                    READY_TIMEOUT,
                    Duration::from_millis(100),
                    || {
                        (1..=4u8)
                            .all(|slot| {
                                lab.routes(slot, VIP4_PREFIX).is_ok_and(|routes| {
                                    routes
                                        .iter()
                                        .any(|r| r.from == Some(b) || r.next_hop == Some(b))
                                })
                            })
                            .then_some(())
                    },
                )
                .map_err(|e| with_logs(lab, who, setup, e))
        }
    }
}

/// Waits until a short client probe is answered entirely by a, then lets things settle.
fn wait_served_by_a(
    lab: &Lab,
    interrupt: &Interrupt,
    who: Contender,
    setup: &Setup,
) -> Result<(), String> {
    interrupt
        .wait_for(
            &format!("{}: the client answered by a alone", who.name()),
            READY_TIMEOUT,
            Duration::from_millis(100),
            || {
                let report = client::short_probe(lab).ok()?;
                (report.lost == 0 && report.answerers() == ["a"]).then_some(())
            },
        )
        .map_err(|e| with_logs(lab, who, setup, e))?;
    // Past the rise: the probes are back at their normal interval.
    interrupt.sleep(Duration::from_millis(500))
}

fn with_logs(lab: &Lab, who: Contender, setup: &Setup, error: String) -> String {
    if error == INTERRUPTED {
        return error;
    }
    let mut out = format!("{error}\n{}", lab.diagnostics());
    for &id in setup.daemons.iter().chain(&setup.services) {
        out.push_str(&format!(
            "--- {} process log ---\n{}\n",
            who.name(),
            tail(&lab.log(id), 15)
        ));
    }
    out
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    // Lines cut short: ExaBGP logs every neighbor on each line.
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| l.chars().take(240).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Stops the announcers (SIGTERM: they withdraw or close their sessions), the services and
/// whatever they left behind, and waits until the route servers and the router hold nothing.
fn teardown(
    lab: &mut Lab,
    interrupt: &Interrupt,
    who: Contender,
    setup: Setup,
) -> Result<(), String> {
    for &id in &setup.daemons {
        contender::stop(lab, id);
    }
    for &id in &setup.services {
        lab.kill(id);
    }
    for ns in &setup.hosts {
        kill_namespace_processes(ns);
    }
    drop(setup.segment);
    interrupt
        .wait_for(
            &format!("{}'s routes to disappear", who.name()),
            GONE_TIMEOUT,
            Duration::from_millis(100),
            || {
                let at_rs = (1..=4u8).any(|slot| {
                    lab.routes(slot, VIP4_PREFIX)
                        .map(|r| !r.is_empty())
                        .unwrap_or(true)
                });
                let in_fib = lab
                    .router
                    .ip(&["-4", "route", "show", VIP4_PREFIX])
                    .map(|out| !out.trim().is_empty())
                    .unwrap_or(true);
                (!at_rs && !in_fib).then_some(())
            },
        )
        .map_err(|e| format!("{e}\n{}", lab.diagnostics()))
}

fn ms(v: f64) -> String {
    format!("{v:.0} ms")
}

/// Idle CPU per setup, and elastic's own cost per exec check.
fn print_cpu(
    results: &[(Contender, Vec<RunResult>, Option<f64>)],
    exec_cost: Option<(f64, f64)>,
    idle: Duration,
) {
    if idle.is_zero() {
        return;
    }
    println!();
    println!(
        "CPU seconds per minute at idle, primary host, whole process tree but the service \
         (measured over {} s):",
        idle.as_secs()
    );
    for (who, _, cpu) in results {
        let shown = cpu.map_or("—".to_string(), |c| format!("{c:.3}"));
        println!("  {:<28} {shown:>8}   ({})", who.name(), who.settings());
    }
    if let Some((cpu, checks)) = exec_cost {
        let per_check_ms = if checks > 0.0 {
            cpu / checks * 1000.0
        } else {
            f64::NAN
        };
        println!(
            "  elastic, exec /bin/true every 100 ms: {cpu:.2} CPU s/min over {checks:.0} checks \
             = {per_check_ms:.2} ms per check (elastic's fork, wait and reap plus /bin/true's exec)"
        );
    }
}

/// Idle VmRSS per setup (the primary host's processes but the service).
fn print_rss(rss: &[(Contender, u64)]) {
    if rss.is_empty() {
        return;
    }
    println!();
    println!("Idle RSS, primary host, every process but the service (VmRSS, least of 10 samples):");
    for (who, kb) in rss {
        let target = if who.elastic_vrrp().is_some() {
            format!("   target ≤ 8 MB: {}", verdict(*kb <= 8 * 1024))
        } else {
            String::new()
        };
        println!(
            "  {:<28} {:>6.1} MB{target}",
            who.name(),
            *kb as f64 / 1024.0
        );
    }
}

fn print_table(results: &[(Contender, Vec<RunResult>, Option<f64>)], runs: usize, rs_kind: RsKind) {
    let header = [
        "",
        "health check",
        "gap median",
        "gap max",
        "lost median",
        "lost max",
        "target (gap ≤ fall × interval + 150 ms)",
    ];
    let mut rows: Vec<[String; 7]> = Vec::new();
    for (who, r, _) in results {
        let gaps: Vec<f64> = r.iter().map(|x| x.report.longest_gap_ms as f64).collect();
        let lost: Vec<f64> = r.iter().map(|x| x.report.lost as f64).collect();
        let all_failed_over = r.iter().all(RunResult::failed_over);
        let none_failed_over = !r.iter().any(RunResult::failed_over);
        let (gap_median, gap_max) = match Spread::of(&gaps) {
            _ if none_failed_over => (
                "no failover".to_string(),
                format!("(window {} s)", who.window().as_secs()),
            ),
            Some(s) => (ms(s.median), ms(s.max)),
            None => ("—".into(), "—".into()),
        };
        let (lost_median, lost_max) = match Spread::of(&lost) {
            Some(s) => (format!("{:.0}", s.median), format!("{:.0}", s.max)),
            None => ("—".into(), "—".into()),
        };
        let event_driven = matches!(
            who,
            Contender::ElasticProcess
                | Contender::ElasticListen
                | Contender::ElasticVrrpProcess
                | Contender::ElasticVrrpProcessFast
        );
        // VRRP mode's own target: probe detection + 50 ms.
        let slack = if who.elastic_vrrp().is_some() {
            50.0
        } else {
            150.0
        };
        let target = match (who.detection(), Spread::of(&gaps)) {
            (None, Some(s)) if event_driven => format!(
                "≤ 50 ms median: {}",
                verdict(all_failed_over && s.median <= 50.0)
            ),
            (Some(d), Some(s)) => {
                let rule = d.as_millis() as f64 + slack;
                let met = all_failed_over && s.max <= rule;
                let elastic = matches!(
                    who,
                    Contender::ElasticDefaults
                        | Contender::ElasticFast
                        | Contender::ElasticExec
                        | Contender::ElasticExecFast
                ) || who.elastic_vrrp().is_some();
                let mut t = if elastic {
                    format!("≤ {}: {}", ms(rule), verdict(met))
                } else {
                    // Not elastic's target; the same rule, for comparison.
                    format!("(same rule, ≤ {}: {})", ms(rule), verdict(met))
                };
                if *who == Contender::ElasticFast {
                    t.push_str(&format!(
                        "; ≤ 400 ms: {}",
                        verdict(all_failed_over && s.max <= 400.0)
                    ));
                }
                t
            }
            _ => "—".into(),
        };
        rows.push([
            who.name().to_string(),
            who.settings().to_string(),
            gap_median,
            gap_max,
            lost_median,
            lost_max,
            target,
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let line = |cells: &[&str]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| pad(c, *w))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!(
        "Failover when the primary's service dies ({runs} runs each; client request every 10 ms):"
    );
    println!("{}", line(&header));
    for r in &rows {
        println!(
            "{}",
            line(&r.iter().map(String::as_str).collect::<Vec<_>>())
        );
    }
    println!();
    println!("Notes:");
    println!(
        "- gap: the longest time between two answered requests (send times), from labnet probe;"
    );
    println!(
        "  lost: requests never answered. Verdicts use the worst run (max); a run counts as a failover"
    );
    println!("  only when b answered by the end of the window.");
    println!(
        "- The service (one process: UDP answers on the VIP, TCP health target on 127.0.0.1:7778) gets"
    );
    println!(
        "  SIGKILL {} s into the probe; host, addresses and announcer stay up. Every health check is a",
        LEAD.as_secs()
    );
    println!(
        "  TCP connect to it: elastic's own `tcp` probe; ExaBGP, keepalived and elastic's exec probes"
    );
    println!(
        "  run a bash /dev/tcp script; elastic's process probe holds a pidfd on the service (pidfile),"
    );
    println!("  its listen probe watches the service's TCP listener through sock_diag.");
    let (rs_name, installer) = match rs_kind {
        RsKind::Bird => ("BIRD 2", "its kernel protocol"),
        _ => ("FRR", "zebra"),
    };
    println!(
        "- BGP contenders: four {rs_name} route servers (2001:db8:14:34::1..4), a with 65000:1 \
         (local-pref 200),"
    );
    println!(
        "  b with 65000:2 (100); the router forwards along route server 1's choice ({installer})."
    );
    println!(
        "- keepalived: both hosts and the router on one bridge; the VIP moves by gratuitous ARP."
    );
    println!(
        "- elastic VRRP (the same bridge): target gap ≤ fall × interval + 50 ms (process: ≤ 50 ms);"
    );
    let [primary, backup] = vrrp::priorities().unwrap_or([0, 0]);
    println!(
        "  after the priority-0 advert the backup waits its skew, (256 − {backup}) / 256 × advert"
    );
    println!(
        "  (VRRP priorities here: primary {primary}, backup {backup}; FAILOVER_VRRP_PRIORITIES)."
    );
    if vrrp::use_vmac() {
        println!("  elastic VRRP with use_vmac: true (FAILOVER_VRRP_VMAC=1).");
    }
    for (who, r, _) in results {
        if *who == Contender::Gobgpd {
            let lost: Vec<String> = r
                .iter()
                .map(|x| format!("{} of {}", x.report.lost, x.report.sent))
                .collect();
            println!(
                "- gobgpd as lelastic keeps announcing a dead service: lost {} requests per run \
                 ({} s window after the kill + {} s before).",
                lost.join(", "),
                NO_FAILOVER_WINDOW.as_secs(),
                LEAD.as_secs()
            );
        }
    }
    println!("- Timings on a shared machine are noisy: read the spread, not the last digit.");
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}
