//! The demo (README's first command, run by `integration/demo.sh`): two hosts share the VIP
//! 203.0.113.10; host A runs `elastic -primary`, host B `elastic -secondary`, both announcing to
//! FRR route servers that stand in for the data center's (2001:db8:14:34::1..4). A client sends a
//! request every 10 ms. A answers; A's daemon is stopped (SIGTERM) and B answers; A comes back and
//! answers again, because 65000:1 wins, now with a `process` probe on its service (the responder,
//! by its pidfile); A's service is killed (SIGKILL) and B answers within tens of milliseconds, then
//! the service restarts and A answers again; last, host A freezes (its processes stopped, what it
//! sends dropped, its link up) and route server 1, which runs BFD with the hosts at 300 ms × 3,
//! drops A within a second. Prints a timeline and the client's gaps, removes everything.
//!
//! Root only. SIGINT / SIGTERM stop it between steps; the lab's `Drop` removes namespaces and
//! processes in every case.
#![allow(
    clippy::disallowed_methods,
    reason = "the lab measures real time; the one-clock rule is the daemon's"
)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use elastic_lab::program::{INTERRUPTED, Interrupt, run_program};
use elastic_lab::{self as lab, LABNET_PORT, Lab, LabSpec, ProbeReport, RsKind, VIP4};

const VIP4_PREFIX: &str = "203.0.113.10/32";
const VIP6_ADDRESS: &str = "2001:db8:100::1/64";
/// Generous bounds: the machine may be shared and busy; the demo reports, it does not judge.
const ROUTE_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);
/// The hosts' BFD with route server 1 (whose choice the router forwards along); the lab starts its
/// bfdd at the same 300 ms.
const BFD_CONFIG: &str = "bfd: {min_tx: 300ms, min_rx: 300ms, multiplier: 3}\n";

fn main() -> ExitCode {
    run_program("demo", |interrupt| {
        let timeline = Timeline::new();
        let summary = run(interrupt, &timeline)?;
        // The lab is gone by now (dropped inside `run`).
        timeline.note("lab torn down: namespaces, route servers and daemons removed");
        println!();
        println!("{summary}");
        Ok(())
    })
}

/// Events with their time since the demo started, printed as they happen.
struct Timeline {
    start: Instant,
}

impl Timeline {
    fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn note(&self, event: impl AsRef<str>) {
        println!("t+{:5.2}s  {}", self.now(), event.as_ref());
    }
}

fn run(interrupt: &Interrupt, timeline: &Timeline) -> Result<String, String> {
    lab::check_prerequisites(&RsKind::Frr)?;
    let labnet = lab::labnet_binary();
    if !std::path::Path::new(&labnet).is_file() {
        return Err(format!(
            "missing {labnet}: build it with `cargo build --release --examples`"
        ));
    }
    timeline.note("building the lab: FRR route servers, hosts A and B, a client");
    let mut lab = Lab::new(
        LabSpec::new(RsKind::Frr)
            .hosts(2)
            .with_client()
            .without_vips()
            .with_bfd()
            .bfd_interval_ms(300),
    );
    let bfd_config = lab.dir.join("demo-bfd.yaml");
    std::fs::write(&bfd_config, BFD_CONFIG)
        .map_err(|e| format!("{}: {e}", bfd_config.display()))?;
    let bfd_config = bfd_config.to_string_lossy().into_owned();
    timeline.note(format!(
        "lab up: route servers 2001:db8:14:34::1..4 (namespace {}), A {}, B {}, client 198.51.100.2",
        lab.router.name,
        lab.host(1).session_address(),
        lab.host(2).session_address(),
    ));
    interrupt.check()?;

    let daemon_args = |role: &'static str| {
        [
            role,
            "-address",
            VIP4_PREFIX,
            "-address",
            VIP6_ADDRESS,
            "-config",
            bfd_config.as_str(),
        ]
    };
    let started_a = timeline.now();
    let a = lab.start_daemon(1, &daemon_args("-primary"));
    timeline.note(format!(
        "A: elastic -dcid 14 -primary -neighborpattern '2001:db8:%d:34::%d' -address {VIP4_PREFIX} -address {VIP6_ADDRESS}"
    ));
    let b = lab.start_daemon(2, &daemon_args("-secondary"));
    timeline.note("B: the same with -secondary");
    let mut service_a = start_service(&mut lab)?;
    lab.start_responder(2);

    let host_a = lab.host(1).session_address();
    let host_b = lab.host(2).session_address();
    for slot in 1..=4 {
        wait_path(interrupt, &lab, slot, Some(host_a))?;
        wait_path(interrupt, &lab, slot, Some(host_b))?;
    }
    timeline.note(format!(
        "all four route servers have {VIP4_PREFIX} from A and B ({:.2} s after A started)",
        timeline.now() - started_a
    ));
    timeline.note(format!("route server 1 says: {}", describe_paths(&lab)?));
    wait_fib_via(interrupt, &lab, &host_a.to_string())?;
    timeline.note(format!(
        "router forwards {VIP4} to A ({host_a}), the kernel route zebra installed"
    ));

    // Phase 1: A answers.
    let steady = probe_for(
        interrupt,
        &mut lab,
        "steady",
        Duration::from_secs(2),
        |_| Ok(()),
    )?;
    timeline.note(format!(
        "client → {VIP4}:{LABNET_PORT} every 10 ms for 2 s: {} (longest gap {} ms, lost {})",
        steady.breakdown(),
        steady.longest_gap_ms,
        steady.lost
    ));

    // Phase 2: A's daemon stops; B takes over.
    let failover = probe_for(
        interrupt,
        &mut lab,
        "failover",
        Duration::from_secs(5),
        |lab| {
            interrupt.sleep(Duration::from_secs(1))?;
            lab.signal(a, Signal::SIGTERM);
            timeline.note("SIGTERM to A's daemon");
            let status = lab
                .wait_exit(a, Duration::from_secs(10))
                .map_err(|e| with_diagnostics(lab, e))?;
            let cease = lab.logged_cease_from(1, host_a).unwrap_or(false);
            timeline.note(format!(
                "A's daemon exited ({status}){}",
                if cease {
                    "; route server 1 logged its Cease NOTIFICATION"
                } else {
                    ""
                }
            ));
            wait_no_path(interrupt, lab, 1, host_a)?;
            timeline.note(format!(
                "route server 1: A's path for {VIP4_PREFIX} withdrawn"
            ));
            wait_fib_via(interrupt, lab, &host_b.to_string())?;
            timeline.note(format!("router forwards {VIP4} to B ({host_b})"));
            Ok(())
        },
    )?;
    timeline.note(format!(
        "client during the failover: {} (longest gap {} ms, lost {} of {})",
        failover.breakdown(),
        failover.longest_gap_ms,
        failover.lost,
        failover.sent
    ));
    timeline.note(format!("  per second: {}", failover.seconds()));

    // Phase 3: A comes back and wins again (65000:1 → local-preference 200), this time with a
    // `process` probe on its service.
    let probe_config = lab.dir.join("a-process-probe.yaml");
    std::fs::write(
        &probe_config,
        format!(
            "{BFD_CONFIG}probes:\n  service:\n    process: {{pidfile: \"{}\"}}\n    interval: 2s\n    fall: 3\n",
            service_pidfile(&lab).display()
        ),
    )
    .map_err(|e| format!("{}: {e}", probe_config.display()))?;
    let probe_config = probe_config.to_string_lossy().into_owned();
    let mut a_again = None;
    let comeback = probe_for(
        interrupt,
        &mut lab,
        "comeback",
        Duration::from_secs(4),
        |lab| {
            interrupt.sleep(Duration::from_secs(1))?;
            let restarted = timeline.now();
            // The same flags; the later -config (BFD as before, plus the probe) wins.
            let mut args = daemon_args("-primary").to_vec();
            args.extend(["-config", probe_config.as_str()]);
            a_again = Some(lab.start_daemon(1, &args));
            timeline.note(
                "A's daemon started again (-primary), with a process probe on its service's \
                 pidfile (interval 2 s, fall 3)",
            );
            wait_path(interrupt, lab, 1, Some(host_a))?;
            timeline.note(format!(
                "route server 1 has A's path again ({:.2} s after the restart)",
                timeline.now() - restarted
            ));
            wait_fib_via(interrupt, lab, &host_a.to_string())?;
            timeline.note(format!("router forwards {VIP4} to A again"));
            Ok(())
        },
    )?;
    timeline.note(format!(
        "client while A returns: {} (longest gap {} ms, lost {} of {})",
        comeback.breakdown(),
        comeback.longest_gap_ms,
        comeback.lost,
        comeback.sent
    ));
    timeline.note(format!("  per second: {}", comeback.seconds()));

    // Phase 4: A's service dies (SIGKILL); its daemon runs on and withdraws at once (pidfd).
    let killed = probe_for(
        interrupt,
        &mut lab,
        "service-killed",
        Duration::from_secs(3),
        |lab| {
            interrupt.sleep(Duration::from_secs(1))?;
            lab.kill(service_a);
            timeline.note("SIGKILL to A's service (its daemon keeps running)");
            wait_no_path(interrupt, lab, 1, host_a)?;
            timeline.note(format!(
                "route server 1: A's path for {VIP4_PREFIX} withdrawn (the probe's pidfd, not a poll)"
            ));
            wait_fib_via(interrupt, lab, &host_b.to_string())?;
            timeline.note(format!("router forwards {VIP4} to B ({host_b})"));
            Ok(())
        },
    )?;
    timeline.note(format!(
        "client while A's service is down: {} (longest gap {} ms, lost {} of {})",
        killed.breakdown(),
        killed.longest_gap_ms,
        killed.lost,
        killed.sent
    ));

    // Phase 5: the service restarts (a new pid in its pidfile); after `rise`, A answers again.
    let restored = probe_for(
        interrupt,
        &mut lab,
        "service-back",
        Duration::from_secs(6),
        |lab| {
            interrupt.sleep(Duration::from_secs(1))?;
            service_a = start_service(lab)?;
            timeline.note("A's service started again");
            wait_path(interrupt, lab, 1, Some(host_a))?;
            timeline.note("route server 1 has A's path again (the probe rose: 2 passes)");
            wait_fib_via(interrupt, lab, &host_a.to_string())?;
            timeline.note(format!("router forwards {VIP4} to A again"));
            Ok(())
        },
    )?;
    timeline.note(format!(
        "client while A's service returns: {} (longest gap {} ms, lost {} of {})",
        restored.breakdown(),
        restored.longest_gap_ms,
        restored.lost,
        restored.sent
    ));

    // Phase 6: host A freezes. Nothing tells the route servers; BFD notices.
    if a_again.is_none() {
        return Err("A is not running".into());
    }
    wait_bfd_up(interrupt, &lab)?;
    timeline.note("A's BFD with route server 1 is up (300 ms × 3)");
    // The guard thaws A when dropped, also if a step fails or the demo is interrupted.
    let mut freeze = None;
    let frozen = probe_for(
        interrupt,
        &mut lab,
        "freeze",
        Duration::from_secs(4),
        |lab| {
            interrupt.sleep(Duration::from_secs(1))?;
            freeze = Some(lab.freeze_host(1)?);
            let frozen_at = timeline.now();
            timeline.note("host A frozen: its processes stopped, what it sends dropped, link up");
            wait_no_path(interrupt, lab, 1, host_a)?;
            timeline.note(format!(
                "route server 1 dropped A's path ({:.2} s after the freeze; BFD, not the 9 s hold time)",
                timeline.now() - frozen_at
            ));
            wait_fib_via(interrupt, lab, &host_b.to_string())?;
            timeline.note(format!("router forwards {VIP4} to B ({host_b})"));
            Ok(())
        },
    )?;
    timeline.note(format!(
        "client during the freeze: {} (longest gap {} ms, lost {} of {})",
        frozen.breakdown(),
        frozen.longest_gap_ms,
        frozen.lost,
        frozen.sent
    ));
    timeline.note(format!("  per second: {}", frozen.seconds()));
    // Thaw A so it can stop in order.
    freeze.ok_or("host A was not frozen")?.thaw()?;

    // Orderly stop (each daemon sends Cease), then the lab goes.
    for id in [a_again, Some(b)].into_iter().flatten() {
        lab.signal(id, Signal::SIGTERM);
        let _ = lab.wait_exit(id, Duration::from_secs(10));
    }
    timeline.note("both daemons stopped (SIGTERM); tearing the lab down");
    drop(lab);

    let mut summary = String::from("Summary (the client sent a request every 10 ms):\n");
    summary.push_str(&format!(
        "  A serving:        answered {} of {}, longest gap {:>4} ms, lost {}\n",
        steady.answered_by("a"),
        steady.sent,
        steady.longest_gap_ms,
        steady.lost
    ));
    summary.push_str(&format!(
        "  failover A → B:   longest gap {:>4} ms, lost {} of {} requests ({})\n",
        failover.longest_gap_ms,
        failover.lost,
        failover.sent,
        failover.breakdown()
    ));
    summary.push_str(&format!(
        "  A back (B → A):   longest gap {:>4} ms, lost {} of {} requests ({})\n",
        comeback.longest_gap_ms,
        comeback.lost,
        comeback.sent,
        comeback.breakdown()
    ));
    summary.push_str(&format!(
        "  A's service dies: longest gap {:>4} ms, lost {} of {} requests ({})\n",
        killed.longest_gap_ms,
        killed.lost,
        killed.sent,
        killed.breakdown()
    ));
    summary.push_str(&format!(
        "  A's service back: longest gap {:>4} ms, lost {} of {} requests ({})\n",
        restored.longest_gap_ms,
        restored.lost,
        restored.sent,
        restored.breakdown()
    ));
    summary.push_str(&format!(
        "  A frozen (BFD):   longest gap {:>4} ms, lost {} of {} requests ({})",
        frozen.longest_gap_ms,
        frozen.lost,
        frozen.sent,
        frozen.breakdown()
    ));
    Ok(summary)
}

/// Where A's service (its `labnet serve` responder) writes its pid, as a daemon would.
fn service_pidfile(lab: &Lab) -> std::path::PathBuf {
    lab.dir.join("a-service.pid")
}

/// Starts A's responder and writes its pid to [`service_pidfile`] (`ip netns exec` execs the
/// responder, so the pid is the service's).
fn start_service(lab: &mut Lab) -> Result<lab::ProcId, String> {
    let id = lab.start_responder(1);
    let pidfile = service_pidfile(lab);
    std::fs::write(&pidfile, format!("{}\n", lab.pid(id)))
        .map_err(|e| format!("{}: {e}", pidfile.display()))?;
    Ok(id)
}

/// Runs `labnet probe` in the client for `duration` while `during` acts on the lab; returns the
/// client's report.
fn probe_for(
    interrupt: &Interrupt,
    lab: &mut Lab,
    name: &str,
    duration: Duration,
    during: impl FnOnce(&mut Lab) -> Result<(), String>,
) -> Result<ProbeReport, String> {
    let client = lab.client.as_ref().ok_or("lab has no client")?;
    let mut cmd = client.command(&lab::labnet_binary());
    cmd.args([
        "probe",
        "--target",
        &format!("{VIP4}:{LABNET_PORT}"),
        "--duration-ms",
        &duration.as_millis().to_string(),
    ]);
    let probe = lab.spawn(&format!("probe-{name}"), cmd)?;
    during(lab)?;
    let bound = duration + Duration::from_secs(5);
    let exited =
        interrupt.wait_for("the client's probe", bound, POLL, || lab.exit_status(probe))?;
    if !exited.success() {
        return Err(format!(
            "labnet probe failed ({exited}): {}",
            lab.log(probe)
        ));
    }
    ProbeReport::parse(&lab.log(probe))
}

fn wait_path(
    interrupt: &Interrupt,
    lab: &Lab,
    slot: u8,
    from: Option<std::net::IpAddr>,
) -> Result<(), String> {
    interrupt
        .wait_for(
            &format!("{VIP4_PREFIX} from {from:?} at route server {slot}"),
            ROUTE_TIMEOUT,
            POLL,
            || {
                let routes = lab.routes(slot, VIP4_PREFIX).ok()?;
                routes
                    .iter()
                    .any(|r| from.is_none() || r.from == from || r.next_hop == from)
                    .then_some(())
            },
        )
        .map_err(|e| with_diagnostics(lab, e))
}

fn wait_no_path(
    interrupt: &Interrupt,
    lab: &Lab,
    slot: u8,
    from: std::net::IpAddr,
) -> Result<(), String> {
    interrupt
        .wait_for(
            &format!("{VIP4_PREFIX} from {from} to disappear at route server {slot}"),
            ROUTE_TIMEOUT,
            POLL,
            || {
                let routes = lab.routes(slot, VIP4_PREFIX).ok()?;
                (!routes
                    .iter()
                    .any(|r| r.from == Some(from) || r.next_hop == Some(from)))
                .then_some(())
            },
        )
        .map_err(|e| with_diagnostics(lab, e))
}

/// Waits until the router's kernel (zebra, fed by route server 1) forwards the VIP via `via`.
fn wait_fib_via(interrupt: &Interrupt, lab: &Lab, via: &str) -> Result<(), String> {
    interrupt
        .wait_for(
            &format!("the router to forward {VIP4} via {via}"),
            ROUTE_TIMEOUT,
            POLL,
            || {
                let out = lab.router.ip(&["-4", "route", "show", VIP4_PREFIX]).ok()?;
                out.contains(&format!("via inet6 {via} ")).then_some(())
            },
        )
        .map_err(|e| with_diagnostics(lab, e))
}

/// "A 65000:1 local-pref 200 (best), B 65000:2 local-pref 100".
fn describe_paths(lab: &Lab) -> Result<String, String> {
    let routes = lab.routes(1, VIP4_PREFIX)?;
    let label = |addr: Option<std::net::IpAddr>| {
        let a = lab.host(1).session_address();
        let b = lab.host(2).session_address();
        match addr {
            Some(x) if x == a => "A".to_string(),
            Some(x) if x == b => "B".to_string(),
            other => format!("{other:?}"),
        }
    };
    Ok(routes
        .iter()
        .map(|r| {
            let communities: Vec<String> = r
                .communities
                .iter()
                .map(|c| format!("{}:{}", c.0, c.1))
                .collect();
            format!(
                "{VIP4_PREFIX} from {} community {} local-pref {}",
                label(r.from.or(r.next_hop)),
                communities.join(" "),
                r.local_pref.map_or("-".to_string(), |p| p.to_string()),
            )
        })
        .collect::<Vec<_>>()
        .join("; "))
}

/// Waits until host A's `elastic status` shows BFD up with route server 1.
fn wait_bfd_up(interrupt: &Interrupt, lab: &Lab) -> Result<(), String> {
    interrupt
        .wait_for(
            "A's BFD with route server 1 to be up",
            ROUTE_TIMEOUT,
            POLL,
            || {
                let out = lab
                    .host(1)
                    .ns
                    .exec(&lab::daemon_binary(), &["status", "--json"])
                    .ok()?;
                let status: serde_json::Value = serde_json::from_str(&out).ok()?;
                (status["sessions"][0]["bfd"]["state"] == "up").then_some(())
            },
        )
        .map_err(|e| with_diagnostics(lab, e))
}

fn with_diagnostics(lab: &Lab, error: String) -> String {
    if error == INTERRUPTED {
        error
    } else {
        format!("{error}\n{}", lab.diagnostics())
    }
}
