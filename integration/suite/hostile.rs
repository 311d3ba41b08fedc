//! Hostile and heavy input from a route server: a fake peer (integration/lab/fakepeer.rs) sends
//! garbage or a million prefixes; the daemon must answer per RFC 4271 / RFC 7606, stay alive,
//! reconnect, and keep its memory flat.

use std::time::Duration;

use elastic_lab::fakepeer::{FakePeer, FakeSession, Garbage, Reaction, garbage_cases};
use elastic_lab::{Lab, LabSpec, RsKind, wait_until};

use super::common::or_panic;

/// Generous: after a session reset the daemon backs off (5-9 s, growing) before it reconnects.
const RECONNECT: Duration = Duration::from_secs(120);

fn connect(peer: &FakePeer, slot: u8) -> Result<FakeSession, String> {
    let mut s = peer.accept(RECONNECT)?;
    s.establish([10, 255, 0, slot], Duration::from_secs(30))?;
    Ok(s)
}

/// Runs `cases` one after the other against the daemon's session to `slot`; after every reset it
/// waits for the daemon to come back. Returns one line per case: what happened.
fn run_cases(peer: FakePeer, slot: u8, cases: Vec<Garbage>) -> Result<Vec<String>, String> {
    let mut report = Vec::new();
    let mut session = connect(&peer, slot)?;
    for case in cases {
        if case.expect.is_some() {
            session.send_garbage(&case.bytes)?;
        } else {
            // The session must survive this one: keep our KEEPALIVEs going.
            session
                .send(&case.bytes)
                .map_err(|e| format!("send {}: {e}", case.name))?;
        }
        let reaction = session.reaction(Duration::from_secs(6));
        let ok = match (case.expect, &reaction) {
            (Some((code, sub)), Reaction::Notification(c, s)) => (code, sub) == (*c, *s),
            (None, Reaction::StillUp) => true,
            _ => false,
        };
        report.push(format!(
            "slot {slot}: {}: expected {}, got {reaction:?}{}",
            case.name,
            case.expect
                .map_or("the session to stay up".to_string(), |(c, s)| format!(
                    "NOTIFICATION {c}/{s}"
                )),
            if ok { "" } else { "  <-- WRONG" }
        ));
        if reaction != Reaction::StillUp {
            // The daemon must come back after a reset.
            session = connect(&peer, slot).map_err(|e| {
                format!(
                    "{}\nno reconnect after {}: {e}",
                    report.join("\n"),
                    case.name
                )
            })?;
            report.push(format!("slot {slot}: reconnected after {}", case.name));
        }
    }
    Ok(report)
}

#[test]
fn garbage_from_a_route_server_gets_the_right_notification_and_a_reconnect() {
    let mut lab = Lab::new(LabSpec::new(RsKind::None));
    let daemon = lab.start_daemon(1, &["-primary"]);
    let cases = garbage_cases();
    let by_name = |n: &str| {
        cases
            .iter()
            .find(|c| c.name.starts_with(n))
            .cloned()
            .expect("case")
    };
    // Spread over three route-server addresses so they run side by side; the fourth session gets
    // no garbage and must stay up throughout.
    let plan: Vec<(u8, Vec<Garbage>)> = vec![
        (1, vec![by_name("bad marker"), by_name("truncated UPDATE")]),
        (
            2,
            vec![by_name("bad length"), by_name("malformed MP_REACH")],
        ),
        (
            3,
            vec![by_name("ORIGIN value 7"), by_name("unknown message type")],
        ),
    ];
    let quiet = or_panic(&lab, FakePeer::bind(&lab, 4));
    let mut workers = Vec::new();
    for (slot, cases) in plan {
        let peer = or_panic(&lab, FakePeer::bind(&lab, slot));
        workers.push(std::thread::spawn(move || run_cases(peer, slot, cases)));
    }
    let mut quiet_session = or_panic(&lab, connect(&quiet, 4));

    let mut report = Vec::new();
    let mut failed = false;
    for w in workers {
        match w.join().expect("worker thread") {
            Ok(lines) => report.extend(lines),
            Err(e) => {
                failed = true;
                report.push(e);
            }
        }
    }
    let quiet_reaction = quiet_session.reaction(Duration::from_secs(5));
    report.push(format!("slot 4 (no garbage): {quiet_reaction:?}"));
    let alive = lab.exit_status(daemon).is_none();
    report.push(format!("daemon alive: {alive}"));
    let report = report.join("\n");
    eprintln!("{report}");
    assert!(
        !failed && !report.contains("WRONG"),
        "{report}\n{}",
        lab.diagnostics()
    );
    assert_eq!(
        quiet_reaction,
        Reaction::StillUp,
        "{report}\n{}",
        lab.diagnostics()
    );
    assert!(alive, "{report}\n{}", lab.diagnostics());
}

/// One million IPv6 /52s (from 2001:db8::/32) from a route server: the daemon counts them (its End-of-RIB log line)
/// and its RSS grows by less than 4 MB.
///
/// Why 4 MB: keeping the routes in any form costs at least 4 bytes per prefix (4 MB for a million,
/// ~30-60 MB as a map), while count-and-discard needs one message buffer (4 KB, or a 64 KB read
/// buffer). 4 MB leaves room for allocator noise and still fails a daemon that stores the table.
#[test]
fn a_million_prefixes_are_counted_and_memory_stays_flat() {
    const PREFIXES: u32 = 1_000_000;
    const RSS_GROWTH_BOUND_KB: u64 = 4 * 1024;
    let mut lab = Lab::new(LabSpec::new(RsKind::None));
    let peer = or_panic(&lab, FakePeer::bind(&lab, 1));
    let daemon = lab.start_daemon(1, &["-primary"]);
    let mut session = or_panic(&lab, connect(&peer, 1));
    // Let the daemon send its own routes and settle.
    std::thread::sleep(Duration::from_secs(2));
    let before = or_panic(&lab, lab.rss_kb(daemon));

    let updates = or_panic(&lab, session.stream_ipv6_prefixes(PREFIXES, 500));
    let counted = wait_until(
        "the daemon to log the End-of-RIB with 1000000 prefixes",
        Duration::from_secs(120),
        Duration::from_millis(200),
        || {
            lab.log(daemon)
                .lines()
                .find(|l| l.contains("End-of-RIB") && l.contains(&PREFIXES.to_string()))
                .map(str::to_string)
        },
    );
    let counted = or_panic(&lab, counted);
    let after = or_panic(&lab, lab.rss_kb(daemon));
    eprintln!(
        "{PREFIXES} prefixes in {updates} UPDATEs: RSS {before} kB -> {after} kB; daemon said: {counted}"
    );
    assert_eq!(
        session.reaction(Duration::from_secs(5)),
        Reaction::StillUp,
        "{}",
        lab.diagnostics()
    );
    assert!(
        lab.exit_status(daemon).is_none(),
        "daemon died\n{}",
        lab.diagnostics()
    );
    assert!(
        after.saturating_sub(before) < RSS_GROWTH_BOUND_KB,
        "RSS grew from {before} kB to {after} kB (bound {RSS_GROWTH_BOUND_KB} kB)\n{}",
        lab.diagnostics()
    );
}
