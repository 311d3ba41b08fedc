//! Bounded waits the tests share. Generous deadlines: machines are shared and noisy; the tests
//! assert behaviour, never timings.

use std::net::IpAddr;
use std::time::Duration;

use elastic_lab::{Lab, RouteView, VIP4, wait_until};

pub(crate) const SLOTS: [u8; 4] = [1, 2, 3, 4];
const POLL: Duration = Duration::from_millis(200);

pub(crate) fn or_panic<T>(lab: &Lab, r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{e}\n{}", lab.diagnostics()))
}

pub(crate) fn wait_established(lab: &Lab, slot: u8, host: IpAddr, timeout: Duration) {
    let r = wait_until(
        &format!("route server {slot} to have an Established session with {host}"),
        timeout,
        POLL,
        || lab.established(slot, host).then_some(()),
    );
    or_panic(lab, r)
}

/// Waits until the route server in `slot` has a path for `prefix` from `host`, and returns it.
pub(crate) fn wait_route_from(
    lab: &Lab,
    slot: u8,
    prefix: &str,
    host: IpAddr,
    timeout: Duration,
) -> RouteView {
    let r = wait_until(
        &format!("{prefix} from {host} at route server {slot}"),
        timeout,
        POLL,
        || {
            lab.routes(slot, prefix)
                .ok()?
                .into_iter()
                .find(|r| r.from == Some(host) || r.next_hop == Some(host))
        },
    );
    or_panic(lab, r)
}

/// Waits until the route server in `slot` has no path for `prefix` from `host`.
pub(crate) fn wait_no_route_from(
    lab: &Lab,
    slot: u8,
    prefix: &str,
    host: IpAddr,
    timeout: Duration,
) {
    let r = wait_until(
        &format!("{prefix} from {host} to disappear at route server {slot}"),
        timeout,
        POLL,
        || {
            let routes = lab.routes(slot, prefix).ok()?;
            (!routes
                .iter()
                .any(|r| r.from == Some(host) || r.next_hop == Some(host)))
            .then_some(())
        },
    );
    or_panic(lab, r)
}

/// Who answered most of the client's requests during a short probe run.
pub(crate) fn main_answerer(lab: &Lab) -> Option<String> {
    lab.probe(Duration::from_millis(500)).ok()?.main_answerer()
}

/// Waits (up to a minute) until `who` answers most of the client's requests.
pub(crate) fn wait_answerer(lab: &Lab, who: &str) {
    wait_answerer_to(lab, VIP4, who);
}

/// Waits (up to a minute) until `who` answers most of the client's requests to `address`.
pub(crate) fn wait_answerer_to(lab: &Lab, address: &str, who: &str) {
    let r = wait_until(
        &format!("the client's traffic to {address} to be answered by {who}"),
        Duration::from_secs(60),
        Duration::from_millis(100),
        || {
            lab.probe_to(address, Duration::from_millis(500))
                .ok()?
                .main_answerer()
                .filter(|w| w == who)
        },
    );
    or_panic(lab, r);
}

/// The path for `prefix` from `host` at the route server in `slot` once it satisfies `check`
/// (up to a minute).
pub(crate) fn wait_route_where(
    lab: &Lab,
    slot: u8,
    prefix: &str,
    host: IpAddr,
    what: &str,
    check: impl Fn(&RouteView) -> bool,
) -> RouteView {
    let r = wait_until(
        &format!("{prefix} from {host} at route server {slot}: {what}"),
        Duration::from_secs(60),
        Duration::from_millis(100),
        || {
            lab.routes(slot, prefix)
                .ok()?
                .into_iter()
                .find(|r| (r.from == Some(host) || r.next_hop == Some(host)) && check(r))
        },
    );
    or_panic(lab, r)
}

/// Waits (20 s at most) until the daemon's log contains `needle`.
pub(crate) fn wait_log(lab: &Lab, daemon: elastic_lab::ProcId, needle: &str) {
    let r = wait_until(
        &format!("the daemon's log to contain {needle:?}"),
        Duration::from_secs(20),
        POLL,
        || lab.log(daemon).contains(needle).then_some(()),
    );
    or_panic(lab, r);
}

/// The lines of route server `slot`'s log (FRR's bgpd) that name `host`: why it dropped or
/// reset the session, in its own words.
pub(crate) fn route_server_log_about(lab: &Lab, slot: u8, host: IpAddr) -> Vec<String> {
    let log_file = lab.route_server(slot).log_file.clone().expect("bgpd log");
    let host = host.to_string();
    std::fs::read_to_string(&log_file)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&host))
        .map(str::to_string)
        .collect()
}
