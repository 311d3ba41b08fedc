//! Health probes, services and the maintenance file, end to end: FRR route servers, two hosts
//! and a client whose traffic the router forwards along the best path.
//!
//! The "service" on each host is a file the test creates and removes (`<lab dir>/<host>-up`),
//! probed by an exec probe (`test -e FILE`, no shell): the test decides when a service dies and
//! comes back, and the client's traffic shows where the router sends it.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use elastic_lab::{Community, Lab, LabSpec, RsKind, daemon_binary, wait_until};

use super::common::{main_answerer, or_panic, wait_answerer, wait_no_route_from, wait_route_from};

const PREFIX: &str = "203.0.113.10/32";
const LONG: Duration = Duration::from_secs(60);

fn up_file(lab: &Lab, label: &str) -> PathBuf {
    lab.dir.join(format!("{label}-up"))
}

fn set_up(path: &Path, up: bool) {
    if up {
        fs::write(path, "up\n").expect("write the service file");
    } else {
        let _ = fs::remove_file(path);
    }
}

/// A config file for host `label`: one exec probe on its service file, fast timings, and
/// `service_extra` appended to the one service (indented lines).
fn write_config(lab: &Lab, label: &str, service_extra: &str, top_extra: &str) -> PathBuf {
    let path = lab.dir.join(format!("{label}.yaml"));
    let text = format!(
        "probes:\n  svc:\n    exec: [test, -e, \"{}\"]\n    interval: 200ms\n    fast_interval: 100ms\n    \
         timeout: 1s\n    rise: 2\n    fall: 2\nservices:\n  - name: web\n    probes: [svc]\n{service_extra}\
         hooks:\n  on_change: [/bin/sh, -c, \"echo $ELASTIC_STATE $ELASTIC_ANNOUNCE $1 $2 $3 >> {}\", hook]\n{top_extra}",
        up_file(lab, label).display(),
        lab.dir.join(format!("{label}-hook.log")).display(),
    );
    fs::write(&path, text).expect("write the config");
    path
}

fn hook_log(lab: &Lab, label: &str) -> String {
    fs::read_to_string(lab.dir.join(format!("{label}-hook.log"))).unwrap_or_default()
}

/// Two hosts with their services up, both announcing, the primary answering. `a_top` gives
/// extra top-level keys for a's config.
fn two_healthy_hosts(service_extra: &str, a_top: &dyn Fn(&Lab) -> String) -> Lab {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).hosts(2).with_client());
    for label in ["a", "b"] {
        set_up(&up_file(&lab, label), true);
    }
    let config_a = write_config(&lab, "a", service_extra, &a_top(&lab));
    let config_b = write_config(&lab, "b", service_extra, "");
    lab.start_daemon(1, &["-primary", "-config", &config_a.to_string_lossy()]);
    lab.start_daemon(2, &["-secondary", "-config", &config_b.to_string_lossy()]);
    lab.start_responder(1);
    lab.start_responder(2);
    let (host_a, host_b) = (lab.host(1).session_address(), lab.host(2).session_address());
    wait_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_route_from(&lab, 1, PREFIX, host_b, LONG);
    wait_answerer(&lab, "a");
    lab
}

#[test]
fn primary_service_dies_traffic_moves_to_b_and_comes_back_when_it_recovers() {
    let lab = two_healthy_hosts("", &|_| String::new());
    let host_a = lab.host(1).session_address();
    set_up(&up_file(&lab, "a"), false);
    wait_no_route_from(&lab, 1, PREFIX, host_a, LONG);
    // The address stays on lo: only the route goes.
    let on_lo = lab.host(1).ns.ip(&["-o", "addr", "show", "dev", "lo"]);
    assert!(or_panic(&lab, on_lo).contains("203.0.113.10/32"));
    wait_answerer(&lab, "b");

    set_up(&up_file(&lab, "a"), true);
    let back = wait_route_from(&lab, 1, PREFIX, host_a, LONG);
    assert_eq!(back.communities, vec![Community(65000, 1)], "{back:?}");
    wait_answerer(&lab, "a");
    let hooks = hook_log(&lab, "a");
    let states: Vec<&str> = hooks
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(
        states,
        ["up", "down", "up"],
        "hook log of a:\n{hooks}\n{}",
        lab.diagnostics()
    );
    assert!(
        hooks
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("down withdrawn down web 203.0.113.10/32")),
        "{hooks}"
    );
}

#[test]
fn with_preempt_false_a_recovered_primary_comes_back_as_secondary() {
    let lab = two_healthy_hosts("    preempt: false\n", &|_| String::new());
    let host_a = lab.host(1).session_address();
    set_up(&up_file(&lab, "a"), false);
    wait_no_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_answerer(&lab, "b");
    set_up(&up_file(&lab, "a"), true);
    let back = wait_route_from(&lab, 1, PREFIX, host_a, LONG);
    assert_eq!(back.communities, vec![Community(65000, 2)], "{back:?}");
    assert_eq!(back.local_pref, Some(100), "{back:?}");
    // Worse than b's healthy secondary route (no MED), so the two do not tie.
    assert_eq!(back.med, Some(100), "{back:?}");
    // Traffic stays with b.
    assert_eq!(
        main_answerer(&lab).as_deref(),
        Some("b"),
        "{}",
        lab.diagnostics()
    );
    assert!(
        hook_log(&lab, "a").ends_with("up secondary up web 203.0.113.10/32,2001:db8:100::/64\n")
    );
}

#[test]
fn both_unhealthy_with_demote_keeps_serving_from_demoted_routes() {
    let lab = two_healthy_hosts("    on_down: demote\n", &|_| String::new());
    let (host_a, host_b) = (lab.host(1).session_address(), lab.host(2).session_address());
    set_up(&up_file(&lab, "a"), false);
    set_up(&up_file(&lab, "b"), false);
    for (host, label) in [(host_a, "a"), (host_b, "b")] {
        let r = wait_until(
            &format!("{label}'s route to be demoted (65000:2, MED 1000)"),
            LONG,
            Duration::from_millis(200),
            || {
                lab.routes(1, PREFIX).ok()?.into_iter().find(|r| {
                    r.from == Some(host)
                        && r.med == Some(1000)
                        && r.communities == [Community(65000, 2)]
                })
            },
        );
        or_panic(&lab, r);
    }
    // Still reachable: the configured outcome of "demote" is to keep serving.
    assert!(main_answerer(&lab).is_some(), "{}", lab.diagnostics());
    // b recovers: its undemoted route wins over a's demoted one.
    set_up(&up_file(&lab, "b"), true);
    wait_answerer(&lab, "b");
}

#[test]
fn maintenance_file_drains_the_host_without_losing_a_request() {
    let lab = two_healthy_hosts("", &|lab| {
        format!(
            "maintenance_file: \"{}\"\nmaintenance_poll: 100ms\n",
            lab.dir.join("a-maintenance").display()
        )
    });
    let maintenance = lab.dir.join("a-maintenance");
    let host_a = lab.host(1).session_address();

    // Drain while the client sends every 10 ms.
    let report = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(1000));
            fs::write(&maintenance, "draining\n").expect("create the maintenance file");
        });
        lab.probe(Duration::from_millis(4000))
    });
    let report = or_panic(&lab, report);
    wait_no_route_from(&lab, 1, PREFIX, host_a, LONG);
    assert_eq!(
        report.lost,
        0,
        "requests lost while draining: {report}\n{}",
        lab.diagnostics()
    );
    wait_answerer(&lab, "b");
    eprintln!("drain: {report}");

    // Removing the file undoes it.
    fs::remove_file(&maintenance).expect("remove the maintenance file");
    wait_route_from(&lab, 1, PREFIX, host_a, LONG);
    wait_answerer(&lab, "a");
    let hooks = hook_log(&lab, "a");
    assert!(
        hooks.contains("maintenance withdrawn maintenance web"),
        "{hooks}"
    );
}

#[test]
fn a_hanging_probe_is_killed_at_its_timeout_and_nothing_is_announced() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr));
    let config = lab.dir.join("hang.yaml");
    // A marker argument lets the test find the probe's processes.
    fs::write(
        &config,
        "probes:\n  hang:\n    shell: \"sleep 777 & sleep 778\"\n    interval: 200ms\n    timeout: 300ms\n    fall: 1\n",
    )
    .unwrap();
    let daemon = lab.start_daemon(1, &["-primary", "-config", &config.to_string_lossy()]);
    let host = lab.host(1).session_address();
    super::common::wait_established(&lab, 1, host, LONG);
    let r = wait_until(
        "three probe timeouts in the daemon's log",
        LONG,
        Duration::from_millis(200),
        || {
            (lab.log(daemon)
                .matches("timed out after 300ms; process group killed")
                .count()
                >= 3)
                .then_some(())
        },
    );
    or_panic(&lab, r);
    // Killed, group and all: at most the current run's two sleeps exist.
    let sleeping = count_processes(&["sleep 777", "sleep 778"]);
    assert!(
        sleeping <= 2,
        "{sleeping} probe processes alive: timed-out runs were not killed"
    );
    let routes = or_panic(&lab, lab.routes(1, PREFIX));
    assert!(
        routes.is_empty(),
        "announced although its probe never passed: {routes:?}"
    );
}

/// Processes whose command line is one of `commands` (arguments joined by spaces).
fn count_processes(commands: &[&str]) -> usize {
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .map(|raw| {
            String::from_utf8_lossy(&raw)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .filter(|cmdline| commands.contains(&cmdline.as_str()))
        .count()
}

#[test]
fn invalid_yaml_exits_non_zero_with_a_located_error_and_binds_nothing() {
    let mut lab = Lab::new(LabSpec::new(RsKind::Frr).without_vips());
    let config = lab.dir.join("bad.yaml");
    fs::write(
        &config,
        "dcid: 14\nprobes:\n  web:\n    tcp: 127.0.0.1:80\n    intervall: 1s\n",
    )
    .unwrap();
    let host = lab.host(1);
    let mut cmd = host.ns.command(&daemon_binary());
    cmd.args([
        "-neighborpattern",
        elastic_lab::NEIGHBOR_PATTERN,
        "-primary",
        "-address",
        "203.0.113.20/32",
        "-config",
        &config.to_string_lossy(),
    ]);
    let spawned = lab.spawn("daemon-bad-config", cmd);
    let id = or_panic(&lab, spawned);
    let status = lab.wait_exit(id, Duration::from_secs(15));
    let status = or_panic(&lab, status);
    assert_eq!(status.code(), Some(1), "{}", lab.log(id));
    let log = lab.log(id);
    assert!(
        log.contains(&format!(
            "{}:5:5: probes.web: unknown field `intervall`",
            config.display()
        )),
        "{log}"
    );
    let on_lo = or_panic(
        &lab,
        lab.host(1).ns.ip(&["-o", "addr", "show", "dev", "lo"]),
    );
    assert!(
        !on_lo.contains("203.0.113.20"),
        "bound although the config is invalid: {on_lo}"
    );
    let sessions = or_panic(&lab, lab.sessions(1));
    assert!(sessions.iter().all(|s| !s.established), "{sessions:?}");
}
