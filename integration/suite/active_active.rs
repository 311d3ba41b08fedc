//! Active/active: two hosts, two addresses, each host primary for its own address (a service
//! with `role: primary`) and backup for its peer's (`role: secondary`), against FRR and BIRD
//! route servers (Linode's policy) with a client whose traffic the router forwards along the best
//! path. Host a owns 203.0.113.10, host b owns 203.0.113.11.
//!
//! Each host's own service is a file the test creates and removes (`<lab dir>/<host>-up`, probed
//! by `test -e`); the peer's service has `probes: []` (always up), so only the test decides what
//! fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{self, Signal};

use elastic_lab::{Community, Lab, LabSpec, RsKind, VIP4, VIP4_B, daemon_binary};

use super::common::{
    SLOTS, or_panic, wait_answerer_to, wait_no_route_from, wait_route_from, wait_route_where,
};

const LONG: Duration = Duration::from_secs(60);
const PRIMARY: Community = Community(65000, 1);
const SECONDARY: Community = Community(65000, 2);

/// Host `index`'s own address and its service's name (a: 203.0.113.10, b: 203.0.113.11).
fn own(index: usize) -> (&'static str, &'static str) {
    match index {
        1 => (VIP4, "site-a"),
        _ => (VIP4_B, "site-b"),
    }
}

fn prefix(address: &str) -> String {
    format!("{address}/32")
}

fn up_file(lab: &Lab, index: usize) -> PathBuf {
    lab.dir.join(format!("{}-up", lab.host(index).label))
}

fn set_up(path: &Path, up: bool) {
    if up {
        fs::write(path, "up\n").expect("write the service file");
    } else {
        let _ = fs::remove_file(path);
    }
}

fn hook_log(lab: &Lab, index: usize) -> PathBuf {
    lab.dir.join(format!("{}-hook.log", lab.host(index).label))
}

/// Host `index`'s config: its own service (primary, probed) and its peer's (secondary, no
/// probe), a 5 s drain on a planned stop, and a hook logging each service's roles.
fn write_config(lab: &Lab, index: usize, preempt: bool) -> PathBuf {
    let (mine, my_name) = own(index);
    let (peers, peer_name) = own(3 - index);
    let text = format!(
        "drain_time: 5s\n\
         probes:\n  {my_name}:\n    exec: [test, -e, \"{up}\"]\n    interval: 200ms\n    \
         fast_interval: 100ms\n    timeout: 1s\n    rise: 2\n    fall: 2\n\
         services:\n  - name: {my_name}\n    addresses: [{mine}/32]\n    probes: [{my_name}]\n    \
         role: primary\n    preempt: {preempt}\n  - name: {peer_name}\n    addresses: [{peers}/32]\n    \
         probes: []\n    role: secondary\n\
         hooks:\n  on_change: [/bin/sh, -c, \"echo $ELASTIC_SERVICE $ELASTIC_STATE $ELASTIC_ROLE \
         $ELASTIC_HOST_ROLE >> {log}\", hook]\n",
        up = up_file(lab, index).display(),
        log = hook_log(lab, index).display(),
    );
    let path = lab.dir.join(format!("{}.yaml", lab.host(index).label));
    fs::write(&path, text).expect("write the config");
    path
}

/// Both hosts up, each address best (local-preference 200) from its own host and held at 100
/// by the peer at every route server, and each address's traffic answered by its own host.
fn active_active(kind: RsKind, preempt: bool) -> (Lab, [elastic_lab::ProcId; 2]) {
    let mut lab = Lab::new(LabSpec::new(kind).hosts(2).with_client());
    for index in [1, 2] {
        // The lab puts 203.0.113.10 on both hosts' lo; the second address the test adds.
        let added = lab
            .host(index)
            .ns
            .ip(&["addr", "add", &prefix(VIP4_B), "dev", "lo"]);
        or_panic(&lab, added);
        set_up(&up_file(&lab, index), true);
    }
    let config_a = write_config(&lab, 1, preempt);
    let config_b = write_config(&lab, 2, preempt);
    // The host roles stay required (lelastic's flags); the services override them per address.
    let a = lab.start_daemon(1, &["-primary", "-config", &config_a.to_string_lossy()]);
    let b = lab.start_daemon(2, &["-secondary", "-config", &config_b.to_string_lossy()]);
    for index in [1, 2] {
        lab.start_responder_on(index, VIP4);
        lab.start_responder_on(index, VIP4_B);
    }
    let hosts = [lab.host(1).session_address(), lab.host(2).session_address()];
    for slot in SLOTS {
        for (owner, address) in [(0, VIP4), (1, VIP4_B)] {
            let best = wait_route_from(&lab, slot, &prefix(address), hosts[owner], LONG);
            let backup = wait_route_from(&lab, slot, &prefix(address), hosts[1 - owner], LONG);
            assert_eq!(
                (best.communities.as_slice(), best.local_pref),
                (&[PRIMARY][..], Some(200)),
                "{address}'s own host: {best:?}"
            );
            assert_eq!(
                (backup.communities.as_slice(), backup.local_pref),
                (&[SECONDARY][..], Some(100)),
                "{address}'s backup: {backup:?}"
            );
        }
    }
    wait_answerer_to(&lab, VIP4, "a");
    wait_answerer_to(&lab, VIP4_B, "b");
    (lab, [a, b])
}

/// `elastic status --json` on host `index`: each address's role.
fn status_roles(lab: &Lab, index: usize) -> Vec<(String, String)> {
    let out = or_panic(
        lab,
        lab.host(index)
            .ns
            .exec(&daemon_binary(), &["status", "--json"]),
    );
    let json: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json: {e}: {out}"));
    json["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter(|a| a["prefix"].as_str().is_some_and(|p| p.starts_with("203.")))
        .map(|a| {
            let field = |key: &str| a[key].as_str().unwrap_or_default().to_string();
            (field("prefix"), field("role"))
        })
        .collect()
}

/// A's service for its address dies: that address moves to b, b's own stays on b; recovery
/// moves it back (or, with `preempt: false`, leaves it on b).
fn own_service_dies_and_recovers(kind: RsKind, preempt: bool) {
    let (lab, _) = active_active(kind, preempt);
    let [host_a, host_b] = [lab.host(1).session_address(), lab.host(2).session_address()];
    let mut roles = status_roles(&lab, 1);
    roles.sort();
    assert_eq!(
        roles,
        [
            ("203.0.113.10/32".to_string(), "primary".to_string()),
            ("203.0.113.11/32".to_string(), "secondary".to_string())
        ]
    );

    set_up(&up_file(&lab, 1), false);
    for slot in SLOTS {
        wait_no_route_from(&lab, slot, &prefix(VIP4), host_a, LONG);
        // b's own address is untouched: still best from b, still backed up by a.
        let own_b = wait_route_from(&lab, slot, &prefix(VIP4_B), host_b, LONG);
        assert_eq!(own_b.local_pref, Some(200), "{own_b:?}");
        wait_route_from(&lab, slot, &prefix(VIP4_B), host_a, LONG);
    }
    wait_answerer_to(&lab, VIP4, "b");
    wait_answerer_to(&lab, VIP4_B, "b");

    set_up(&up_file(&lab, 1), true);
    if preempt {
        for slot in SLOTS {
            wait_route_where(&lab, slot, &prefix(VIP4), host_a, "primary again", |r| {
                r.communities == [PRIMARY] && r.local_pref == Some(200)
            });
        }
        wait_answerer_to(&lab, VIP4, "a");
    } else {
        for slot in SLOTS {
            // Held as secondary, and worse than b's (no MED) so the two do not tie.
            let held = wait_route_where(
                &lab,
                slot,
                &prefix(VIP4),
                host_a,
                "held as secondary",
                |r| r.communities == [SECONDARY],
            );
            assert_eq!(
                (held.local_pref, held.med),
                (Some(100), Some(100)),
                "{held:?}"
            );
        }
        // Traffic stays with b for a while after a's recovery.
        std::thread::sleep(Duration::from_secs(2));
        let report = or_panic(&lab, lab.probe_to(VIP4, Duration::from_millis(500)));
        assert_eq!(
            report.main_answerer().as_deref(),
            Some("b"),
            "{report}\n{}",
            lab.diagnostics()
        );
    }
    wait_answerer_to(&lab, VIP4_B, "b");

    // The hook heard each service's own role, then the host's: a's own service on the primary
    // host, and b's own service (primary) on the secondary host.
    let hooks = |index| fs::read_to_string(hook_log(&lab, index)).unwrap_or_default();
    let (log_a, log_b) = (hooks(1), hooks(2));
    assert_eq!(
        log_a.lines().collect::<Vec<_>>(),
        [
            "site-a up primary primary",
            "site-a down primary primary",
            "site-a up primary primary"
        ],
        "hook log of a:\n{log_a}"
    );
    assert_eq!(
        log_b.lines().collect::<Vec<_>>(),
        ["site-b up primary secondary"],
        "hook log of b:\n{log_b}"
    );
}

/// A planned stop of a (SIGTERM, 5 s drain) moves a's address to b with no request lost, and
/// leaves b's own address on b.
fn planned_stop_loses_no_request(kind: RsKind) {
    let (mut lab, [a, _]) = active_active(kind, true);
    let [host_a, host_b] = [lab.host(1).session_address(), lab.host(2).session_address()];
    let pid = lab.pid(a);
    let (to_a, to_b) = std::thread::scope(|scope| {
        let to_a = scope.spawn(|| lab.probe_to(VIP4, Duration::from_secs(10)));
        let to_b = scope.spawn(|| lab.probe_to(VIP4_B, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_secs(1));
        signal::kill(pid, Signal::SIGTERM).expect("SIGTERM to a's daemon");
        (
            to_a.join().expect("client thread"),
            to_b.join().expect("client thread"),
        )
    });
    let (to_a, to_b) = (or_panic(&lab, to_a), or_panic(&lab, to_b));
    assert_eq!(
        to_a.lost,
        0,
        "requests to a's address lost during a's planned stop: {to_a}\n{}",
        lab.diagnostics()
    );
    assert_eq!(to_a.last_answerer.as_deref(), Some("b"), "{to_a}");
    assert_eq!(to_b.lost, 0, "requests to b's address lost: {to_b}");
    assert_eq!(to_b.answered_by("a"), 0, "{to_b}");
    eprintln!("active/active planned stop ({kind:?}): {to_a}");

    let exited = lab.wait_exit(a, Duration::from_secs(20));
    let status = or_panic(&lab, exited);
    assert!(status.success(), "exit status {status}\n{}", lab.log(a));
    for slot in SLOTS {
        wait_no_route_from(&lab, slot, &prefix(VIP4), host_a, LONG);
        let taken_over = wait_route_from(&lab, slot, &prefix(VIP4), host_b, LONG);
        assert_eq!(taken_over.communities, [SECONDARY], "{taken_over:?}");
        let own_b = wait_route_from(&lab, slot, &prefix(VIP4_B), host_b, LONG);
        assert_eq!(own_b.local_pref, Some(200), "{own_b:?}");
    }
    wait_answerer_to(&lab, VIP4_B, "b");
}

#[test]
fn frr_active_active_own_service_dies_and_recovers() {
    own_service_dies_and_recovers(RsKind::Frr, true);
}

#[test]
fn bird_active_active_own_service_dies_and_recovers() {
    own_service_dies_and_recovers(RsKind::Bird, true);
}

#[test]
fn frr_active_active_without_preemption_stays_on_the_peer() {
    own_service_dies_and_recovers(RsKind::Frr, false);
}

#[test]
fn bird_active_active_without_preemption_stays_on_the_peer() {
    own_service_dies_and_recovers(RsKind::Bird, false);
}

#[test]
fn frr_active_active_planned_stop_loses_no_request() {
    planned_stop_loses_no_request(RsKind::Frr);
}

#[test]
fn bird_active_active_planned_stop_loses_no_request() {
    planned_stop_loses_no_request(RsKind::Bird);
}
