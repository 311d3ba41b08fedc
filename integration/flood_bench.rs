//! The API flood benchmark (`integration/flood-bench.sh`; not a test): what a hostile local user
//! gets by flooding the gRPC API, in a network-namespace lab with four FRR route servers.
//!
//! The daemon runs under `ulimit -n 1024` (systemd's default soft limit) with one exec probe (200
//! ms, fall 1) gating its address. 100 WatchStatus streams are opened, then 5000 idle TCP
//! connections, held for `FLOOD_SECS` (20). Reported, per daemon binary: the probe's failed runs,
//! whether the address stayed wanted and at the route server, the most descriptors the daemon
//! held, the WatchStatus streams that got their first message, scrapes answered during the flood,
//! and how long after the flood `elastic status` answered again.
//!
//! `ELASTIC_BASELINE_BIN`: a second daemon binary (an older build) run the same way, side by side.
//! Root only. Figures are printed, never judged by an exit code.
#![allow(
    clippy::disallowed_methods,
    reason = "the lab measures real time; the one-clock rule is the daemon's"
)]

use std::fs;
use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use elastic::proto::elastic::v1::WatchStatusRequest;
use elastic::proto::elastic::v1::elastic_client::ElasticClient;
use elastic_lab::flood::{self, metric};
use elastic_lab::program::{Interrupt, run_program};
use elastic_lab::{DCID, Lab, LabSpec, NEIGHBOR_PATTERN, ProcId, RsKind, daemon_binary};

const PREFIX: &str = "203.0.113.10/32";
const METRICS: &str = "127.0.0.1:9180";
const API: &str = "127.0.0.1:50051";
const IDLE_CONNECTIONS: usize = 5000;
const WATCHERS: usize = 100;

fn main() -> ExitCode {
    run_program("flood-bench", |interrupt| {
        flood::raise_open_file_limit((IDLE_CONNECTIONS + WATCHERS + 1024) as u64)?;
        let seconds = std::env::var("FLOOD_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20);
        let mut rows = vec![(
            "elastic".to_string(),
            run(&daemon_binary(), seconds, interrupt)?,
        )];
        if let Ok(baseline) = std::env::var("ELASTIC_BASELINE_BIN") {
            rows.push(("baseline".to_string(), run(&baseline, seconds, interrupt)?));
        }
        print_table(&rows, seconds);
        Ok(())
    })
}

#[derive(Debug, Default)]
struct Outcome {
    probe_failures: f64,
    wanted_throughout: bool,
    at_route_server_throughout: bool,
    most_descriptors: usize,
    watchers_streaming: usize,
    watchers_refused: usize,
    scrapes_answered: usize,
    scrapes_tried: usize,
    status_after: Option<Duration>,
    descriptor_errors_logged: bool,
}

fn run(binary: &str, seconds: u64, interrupt: &Interrupt) -> Result<Outcome, String> {
    eprintln!("flood-bench: {binary}");
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let host = lab.host(1).session_address();
    let netns = lab.host(1).ns.name.clone();
    let up_file = lab.dir.join("svc-up");
    fs::write(&up_file, "up\n").map_err(|e| e.to_string())?;
    let config = lab.dir.join("elastic.yaml");
    fs::write(
        &config,
        format!(
            "metrics: \"{METRICS}\"\nprobes:\n  svc:\n    exec: [test, -e, \"{}\"]\n    \
             interval: 200ms\n    rise: 1\n    fall: 1\n",
            up_file.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 1024 && exec \"$@\"", "sh"])
        .args(["ip", "netns", "exec", &netns, binary, "-config"])
        .arg(&config)
        .args(["-primary", "-dcid", &DCID.to_string()])
        .args(["-neighborpattern", NEIGHBOR_PATTERN]);
    let daemon = lab.spawn("daemon-a", cmd)?;
    elastic_lab::wait_until(
        "the route at route server 1",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || announced(&lab, host).then_some(()),
    )?;
    interrupt.check()?;
    let failures_before = scrape(&lab).map_or(0.0, |m| probe_failures(&m));

    let api: SocketAddr = API.parse().expect("an address");
    let (watchers_streaming, watchers_refused, watchers) =
        watch_streams(&netns, api, seconds + 10)?;
    let idle = flood::idle_connections(&netns, api, IDLE_CONNECTIONS)?;
    let mut outcome = Outcome {
        wanted_throughout: true,
        at_route_server_throughout: true,
        watchers_streaming,
        watchers_refused,
        ..Outcome::default()
    };
    let ends = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < ends {
        interrupt.check()?;
        outcome.most_descriptors = outcome.most_descriptors.max(descriptors(&lab, daemon));
        outcome.at_route_server_throughout &= announced(&lab, host);
        outcome.scrapes_tried += 1;
        if let Some(metrics) = scrape(&lab) {
            outcome.scrapes_answered += 1;
            outcome.probe_failures = probe_failures(&metrics) - failures_before;
            outcome.wanted_throughout &= metric(
                &metrics,
                &format!("elastic_address_wanted{{prefix=\"{PREFIX}\"}}"),
            ) == Some(1.0);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(idle);
    let gone = Instant::now();
    while gone.elapsed() < Duration::from_secs(60) {
        let status = lab
            .host(1)
            .ns
            .command(binary)
            .args(["status", "--json"])
            .output();
        if status.is_ok_and(|out| out.status.code().is_some_and(|c| c <= 1)) {
            outcome.status_after = Some(gone.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = watchers.join();
    let log = lab.log(daemon);
    outcome.descriptor_errors_logged = log.contains("Too many open files");
    Ok(outcome)
}

/// Opens `WATCHERS` WatchStatus streams, each on its own connection, from inside `netns`, and
/// keeps them for `hold_secs` on a thread of their own: how many got their first message, how
/// many were refused, and the thread.
fn watch_streams(
    netns: &str,
    api: SocketAddr,
    hold_secs: u64,
) -> Result<(usize, usize, std::thread::JoinHandle<()>), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let netns = netns.to_string();
    let thread = std::thread::spawn(move || {
        let work = move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let mut streams = Vec::new();
                let (mut streaming, mut refused) = (0, 0);
                for _ in 0..WATCHERS {
                    let attempt = async {
                        let mut client =
                            ElasticClient::connect(format!("http://{api}")).await.ok()?;
                        Some(client.watch_status(WatchStatusRequest {}).await)
                    };
                    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
                        Ok(Some(Ok(response))) => {
                            let mut stream = response.into_inner();
                            if matches!(stream.message().await, Ok(Some(_))) {
                                streaming += 1;
                            }
                            streams.push(stream);
                        }
                        Ok(Some(Err(status)))
                            if status.code() == tonic::Code::ResourceExhausted =>
                        {
                            refused += 1
                        }
                        _ => {}
                    }
                }
                let _ = tx.send((streaming, refused));
                // Keep reading, so the streams stay live clients while the flood runs.
                let hold = tokio::time::sleep(Duration::from_secs(hold_secs));
                tokio::pin!(hold);
                let read_all = futures_util::future::join_all(
                    streams
                        .iter_mut()
                        .map(|s| async move { while let Ok(Some(_)) = s.message().await {} }),
                );
                tokio::select! {
                    () = &mut hold => {}
                    _ = read_all => {}
                }
            });
        };
        if let Err(e) = flood::in_netns(&netns, work) {
            eprintln!("flood-bench: watchers: {e}");
        }
    });
    let (streaming, refused) = rx
        .recv_timeout(Duration::from_secs(WATCHERS as u64 * 2 + 30))
        .map_err(|_| "the WatchStatus streams never finished opening".to_string())?;
    Ok((streaming, refused, thread))
}

fn announced(lab: &Lab, host: std::net::IpAddr) -> bool {
    lab.routes(1, PREFIX).is_ok_and(|routes| {
        routes
            .iter()
            .any(|r| r.from == Some(host) || r.next_hop == Some(host))
    })
}

fn scrape(lab: &Lab) -> Option<String> {
    let url = format!("http://{METRICS}/metrics");
    let out = lab
        .host(1)
        .ns
        .command("curl")
        .args(["-sS", "--max-time", "5", &url])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn probe_failures(metrics: &str) -> f64 {
    metric(
        metrics,
        "elastic_probe_runs_total{probe=\"svc\",result=\"failure\"}",
    )
    .unwrap_or(0.0)
}

fn descriptors(lab: &Lab, daemon: ProcId) -> usize {
    fs::read_dir(format!("/proc/{}/fd", lab.pid(daemon))).map_or(0, |d| d.count())
}

fn print_table(rows: &[(String, Outcome)], seconds: u64) {
    println!(
        "\nAPI flood: {WATCHERS} WatchStatus streams, then {IDLE_CONNECTIONS} idle TCP connections for {seconds} s; \
         daemon under ulimit -n 1024, one exec probe every 200 ms (fall 1)\n"
    );
    let header = [
        "",
        "probe failures",
        "address wanted",
        "at the RS",
        "most fds",
        "watchers streaming / refused",
        "scrapes answered",
        "status after flood",
        "EMFILE logged",
    ];
    println!("{}", header.join(" | "));
    for (name, o) in rows {
        let cells = [
            name.clone(),
            // Both come from the metrics: unknown when no scrape was answered.
            if o.scrapes_answered == 0 {
                "unknown".to_string()
            } else {
                format!("{}", o.probe_failures)
            },
            if o.scrapes_answered == 0 {
                "unknown".to_string()
            } else {
                yes_no(o.wanted_throughout, "throughout", "lost")
            },
            yes_no(o.at_route_server_throughout, "throughout", "withdrawn"),
            o.most_descriptors.to_string(),
            format!("{} / {}", o.watchers_streaming, o.watchers_refused),
            format!("{} of {}", o.scrapes_answered, o.scrapes_tried),
            o.status_after.map_or("no answer in 60 s".to_string(), |d| {
                format!("{:.2} s", d.as_secs_f64())
            }),
            yes_no(o.descriptor_errors_logged, "yes", "no"),
        ];
        println!("{}", cells.join(" | "));
    }
}

fn yes_no(value: bool, yes: &str, no: &str) -> String {
    if value { yes } else { no }.to_string()
}
