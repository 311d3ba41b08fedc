//! The soak benchmark (`integration/soak-bench.sh`; not a test): a long maintenance that goes
//! wrong, in a network-namespace lab with four FRR route servers.
//!
//! 1. Route server 1 is restarted 15 times, about 6 s apart: printed, each time, how long until the
//!    route is back there, and the retry delays the daemon logged (5..9 s each when a restart is
//!    not treated as a misbehaving peer); RSS and open descriptors before and after.
//! 2. 100 SIGHUPs in 10 s: whether the daemon, its sessions and its routes are untouched, and RSS
//!    and descriptors after.
//! 3. Stress: a reload that adds 10,000 addresses to the configuration (SIGHUP until the reload is
//!    recorded, and until all 10,000 prefixes are at a route server), then a reload of that same
//!    10,000-address configuration, unchanged.
//!
//! Root only. Figures are printed, never judged by an exit code.
#![allow(
    clippy::disallowed_methods,
    reason = "the lab measures real time; the one-clock rule is the daemon's"
)]

use std::fmt::Write as _;
use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use elastic_lab::flood::metric;
use elastic_lab::measure::{prefixes_received, proc_sample, retry_delays};
use elastic_lab::program::{Interrupt, run_program};
use elastic_lab::{
    DCID, Lab, LabSpec, NEIGHBOR_PATTERN, ProcId, RsKind, daemon_binary, rs_address, wait_until,
};

const PREFIX: &str = "203.0.113.10/32";
const METRICS: &str = "127.0.0.1:9180";
const RESTARTS: usize = 15;
const RESTART_EVERY: Duration = Duration::from_secs(6);
const ROUTE_BACK_WITHIN: Duration = Duration::from_secs(30);
const HANGUPS: usize = 100;
const BULK: usize = 10_000;

fn main() -> ExitCode {
    run_program("soak-bench", |interrupt| {
        let binary = daemon_binary();
        eprintln!("soak-bench: {binary}");
        let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
        let config = lab.dir.join("elastic.yaml");
        write_config(&config, &[])?;
        let netns = lab.host(1).ns.name.clone();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &netns, &binary, "-config"])
            .arg(&config)
            .args(["-primary", "-dcid", &DCID.to_string()])
            .args(["-neighborpattern", NEIGHBOR_PATTERN]);
        let daemon = lab.spawn("daemon-a", cmd)?;
        let host = lab.host(1).session_address();
        for slot in 1..=4 {
            wait_until(
                &format!("{PREFIX} at route server {slot}"),
                Duration::from_secs(60),
                Duration::from_millis(200),
                || announced(&lab, slot, host).then_some(()),
            )?;
        }

        restarts(&mut lab, daemon, host, interrupt)?;
        interrupt.check()?;
        hangups(&mut lab, daemon, host, interrupt)?;
        interrupt.check()?;
        bulk_reload(&mut lab, daemon, host, &config, interrupt)?;
        Ok(())
    })
}

/// The daemon's configuration: metrics on, and `addresses` when there are any.
fn write_config(path: &Path, addresses: &[String]) -> Result<(), String> {
    let mut text = format!("metrics: \"{METRICS}\"\n");
    if !addresses.is_empty() {
        text.push_str("addresses:\n");
        for address in addresses {
            let _ = writeln!(text, "  - \"{address}\"");
        }
    }
    // Written aside and renamed, as an operator's tool would: a reload never sees half a file.
    let aside = path.with_extension("new");
    fs::write(&aside, text).map_err(|e| format!("{}: {e}", aside.display()))?;
    fs::rename(&aside, path).map_err(|e| format!("{}: {e}", path.display()))
}

fn restarts(
    lab: &mut Lab,
    daemon: ProcId,
    host: IpAddr,
    interrupt: &Interrupt,
) -> Result<(), String> {
    let (rss_before, fds_before) = (rss_kb(lab, daemon)?, descriptors(lab, daemon));
    println!(
        "\nRoute server 1 restarted {RESTARTS} times, {} s apart (route back within {} s or counted as not back):",
        RESTART_EVERY.as_secs(),
        ROUTE_BACK_WITHIN.as_secs()
    );
    let mut backs = Vec::new();
    for restart in 1..=RESTARTS {
        interrupt.check()?;
        let t0 = Instant::now();
        lab.stop_route_server(1)?;
        lab.start_route_server(1)?;
        let back = wait_until(
            "the route back",
            ROUTE_BACK_WITHIN,
            Duration::from_millis(100),
            || announced(lab, 1, host).then_some(()),
        )
        .ok()
        .map(|()| t0.elapsed());
        match back {
            Some(d) => println!(
                "  restart {restart:2}: route back after {:.2} s",
                d.as_secs_f64()
            ),
            None => println!(
                "  restart {restart:2}: route NOT back within {} s",
                ROUTE_BACK_WITHIN.as_secs()
            ),
        }
        backs.push(back);
        interrupt.sleep(RESTART_EVERY.saturating_sub(t0.elapsed()))?;
    }
    let times: Vec<f64> = backs.iter().flatten().map(Duration::as_secs_f64).collect();
    let delays = retry_delays(&lab.log(daemon), rs_address(1));
    println!(
        "  route back: {} of {RESTARTS}, {:.2}–{:.2} s; retry delays logged (s): {delays:?}",
        times.len(),
        times.iter().copied().fold(f64::INFINITY, f64::min),
        times.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "  RSS {:.1} → {:.1} MB; open descriptors {fds_before} → {}",
        mb(rss_before),
        mb(rss_kb(lab, daemon)?),
        descriptors(lab, daemon)
    );
    Ok(())
}

fn hangups(
    lab: &mut Lab,
    daemon: ProcId,
    host: IpAddr,
    interrupt: &Interrupt,
) -> Result<(), String> {
    let downs_before = lab.log(daemon).matches("session down").count();
    let reloads_before = reloads(lab).unwrap_or(0.0);
    let (rss_before, fds_before) = (rss_kb(lab, daemon)?, descriptors(lab, daemon));
    let t0 = Instant::now();
    for _ in 0..HANGUPS {
        lab.signal(daemon, Signal::SIGHUP);
        interrupt.sleep(Duration::from_millis(100))?;
    }
    let sent_in = t0.elapsed();
    interrupt.sleep(Duration::from_secs(2))?;
    let alive = lab.exit_status(daemon).is_none();
    let sessions = (1..=4).filter(|&slot| lab.established(slot, host)).count();
    let routes = (1..=4).filter(|&slot| announced(lab, slot, host)).count();
    let downs = lab.log(daemon).matches("session down").count() - downs_before;
    println!(
        "\n{HANGUPS} SIGHUPs in {:.1} s: daemon {}, {sessions} of 4 sessions Established, route at {routes} of 4 \
         route servers, {downs} sessions lost, {} reloads recorded; \
         RSS {:.1} → {:.1} MB; open descriptors {fds_before} → {}",
        sent_in.as_secs_f64(),
        if alive { "running" } else { "GONE" },
        reloads(lab).map_or("unknown".to_string(), |r| format!("{}", r - reloads_before)),
        mb(rss_before),
        mb(rss_kb(lab, daemon)?),
        descriptors(lab, daemon)
    );
    Ok(())
}

fn bulk_reload(
    lab: &mut Lab,
    daemon: ProcId,
    host: IpAddr,
    config: &Path,
    interrupt: &Interrupt,
) -> Result<(), String> {
    let addresses: Vec<String> = (0..BULK)
        .map(|i| format!("2001:db8:{:x}::1/64", 0x8000 + i))
        .collect();
    write_config(config, &addresses)?;
    let size = fs::metadata(config).map_or(0, |m| m.len());
    println!(
        "\nStress: reload with a {BULK}-address configuration ({} KB):",
        size / 1024
    );
    let (recorded, everywhere) = reload_and_time(lab, daemon, interrupt, Some(host))?;
    println!(
        "  adding the {BULK} addresses: reload recorded after {recorded}; all {BULK} prefixes at route server 1 after {everywhere}"
    );
    let (recorded, _) = reload_and_time(lab, daemon, interrupt, None)?;
    println!(
        "  the same {BULK}-address configuration again (unchanged): reload recorded after {recorded}"
    );
    println!(
        "  RSS {:.1} MB; open descriptors {}; daemon {}",
        mb(rss_kb(lab, daemon)?),
        descriptors(lab, daemon),
        if lab.exit_status(daemon).is_none() {
            "running"
        } else {
            "GONE"
        }
    );
    Ok(())
}

/// Sends SIGHUP; how long until the reload is recorded in the metrics and, with `host`, until
/// route server 1 has all [`BULK`] IPv6 prefixes from it.
fn reload_and_time(
    lab: &mut Lab,
    daemon: ProcId,
    interrupt: &Interrupt,
    host: Option<IpAddr>,
) -> Result<(String, String), String> {
    let before = reloads(lab).ok_or("metrics not answering")?;
    let t0 = Instant::now();
    lab.signal(daemon, Signal::SIGHUP);
    let recorded = interrupt
        .wait_for(
            "the reload to be recorded",
            Duration::from_secs(120),
            Duration::from_millis(20),
            || reloads(lab).filter(|&r| r > before).map(|_| t0.elapsed()),
        )
        .map_or_else(|e| e, |d| format!("{:.3} s", d.as_secs_f64()));
    let everywhere = match host {
        None => String::new(),
        Some(host) => interrupt
            .wait_for(
                "all prefixes at route server 1",
                Duration::from_secs(180),
                Duration::from_millis(200),
                || {
                    prefixes_received(lab, 1, "ipv6", host)
                        .ok()
                        .flatten()
                        .filter(|&n| n >= BULK as u64)
                        .map(|_| t0.elapsed())
                },
            )
            .map_or_else(|e| e, |d| format!("{:.2} s", d.as_secs_f64())),
    };
    interrupt.check()?;
    Ok((recorded, everywhere))
}

fn announced(lab: &Lab, slot: u8, host: IpAddr) -> bool {
    lab.routes(slot, PREFIX).is_ok_and(|routes| {
        routes
            .iter()
            .any(|r| r.from == Some(host) || r.next_hop == Some(host))
    })
}

/// Successful reloads so far, from the metrics.
fn reloads(lab: &Lab) -> Option<f64> {
    let url = format!("http://{METRICS}/metrics");
    let out = lab
        .host(1)
        .ns
        .command("curl")
        .args(["-sS", "--max-time", "5", &url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    metric(&text, "elastic_config_reloads_total{result=\"success\"}")
}

fn rss_kb(lab: &Lab, daemon: ProcId) -> Result<u64, String> {
    proc_sample(lab.pid(daemon).as_raw()).map(|s| s.rss_kb)
}

fn descriptors(lab: &Lab, daemon: ProcId) -> usize {
    fs::read_dir(format!("/proc/{}/fd", lab.pid(daemon))).map_or(0, |d| d.count())
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}
