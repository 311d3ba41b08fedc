//! The addresses: binding `-address` prefixes to lo and unbinding what elastic bound, and which
//! addresses on the interfaces are announced (the rules are in [`crate::addrs`]).

use std::collections::HashSet;

use ipnet::IpNet;
use tracing::{error, info, warn};

use super::DaemonError;
use crate::addrs::{self, AddrChange, InterfaceAddr, Netlink};
use crate::settings::Settings;

/// The prefixes to announce; logs the address rules' warnings that were not logged last time
/// (`logged`), so a rescan of lo does not repeat them.
pub(super) fn eligible(
    settings: &Settings,
    interface_addrs: &[addrs::InterfaceAddr],
    logged: &mut Vec<String>,
) -> Vec<IpNet> {
    let (prefixes, warnings) =
        addrs::eligible_prefixes(interface_addrs, settings.allifs, settings.send56);
    let already: HashSet<&String> = logged.iter().collect();
    for warning in warnings.iter().filter(|w| !already.contains(w)) {
        warn!("{warning}");
    }
    *logged = warnings;
    prefixes
}

/// Re-lists addresses; the caller recomputes the desired set.
pub(super) async fn rescan(
    netlink: &Netlink,
    settings: &Settings,
    prefixes: &mut Vec<IpNet>,
    warned: &mut Vec<String>,
) {
    let interface_addrs = match netlink.addresses().await {
        Ok(list) => list,
        Err(error) => {
            error!(%error, "cannot list addresses; keeping the current announcements");
            return;
        }
    };
    let found = eligible(settings, &interface_addrs, warned);
    // Both lists are sorted (the address rules sort them): a lookup is a binary search, so a
    // rescan of 100,000 addresses stays O(n log n).
    for prefix in found.iter().filter(|p| prefixes.binary_search(p).is_err()) {
        info!(%prefix, "address appeared");
    }
    for prefix in prefixes.iter().filter(|p| found.binary_search(p).is_err()) {
        info!(%prefix, "address gone: withdrawing");
    }
    if found.is_empty() && !prefixes.is_empty() {
        warn!("no eligible address left: nothing is announced");
    }
    *prefixes = found;
}

/// Binds the `-address` prefixes to lo; returns what we actually added (only that is undone).
pub(super) async fn bind_addresses(
    netlink: &Netlink,
    wanted: &[IpNet],
) -> Result<Vec<AddrChange>, DaemonError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let existing = netlink.addresses().await.map_err(DaemonError::Netlink)?;
    let lo = netlink
        .loopback_index()
        .await
        .map_err(DaemonError::Netlink)?;
    let mut added = Vec::new();
    for change in addrs::plan_bind(&existing, lo, wanted) {
        let AddrChange::Add { net, .. } = change else {
            continue;
        };
        // Record only what this call really added: an address someone else put there in the
        // meantime must survive our stop.
        match netlink.apply_checked(&change).await {
            Ok(true) => {
                info!(address = %net, "bound to lo");
                added.push(change);
            }
            Ok(false) => info!(address = %net, "already on lo"),
            Err(error) => {
                unbind_addresses(netlink, &added).await;
                return Err(DaemonError::Bind { net, error });
            }
        }
    }
    Ok(added)
}

pub(super) async fn unbind_addresses(netlink: &Netlink, added: &[AddrChange]) {
    if added.is_empty() {
        return;
    }
    let existing = match netlink.addresses().await {
        Ok(list) => list,
        Err(error) => {
            error!(%error, "cannot list addresses; leaving bound addresses in place");
            return;
        }
    };
    for change in addrs::plan_unbind(&existing, added) {
        match netlink.apply(&change).await {
            Ok(()) => info!(change = ?change, "unbound from lo"),
            Err(error) => error!(%error, change = ?change, "cannot unbind"),
        }
    }
}

/// `listed` without the addresses `unbind` is about to remove: what the interfaces hold after.
pub(super) fn without(listed: &[InterfaceAddr], unbind: &[AddrChange]) -> Vec<InterfaceAddr> {
    listed
        .iter()
        .filter(|found| {
            !unbind.iter().any(|change| {
                matches!(change, AddrChange::Add { ifindex, net }
                    if found.ifindex == *ifindex
                        && found.addr == net.addr()
                        && found.prefix_len == net.prefix_len())
            })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(ifindex: u32, text: &str) -> InterfaceAddr {
        let net: IpNet = text.parse().unwrap();
        InterfaceAddr {
            ifname: if ifindex == 1 { "lo" } else { "eth0" }.into(),
            ifindex,
            addr: net.addr(),
            prefix_len: net.prefix_len(),
        }
    }

    #[test]
    fn without_drops_exactly_what_is_about_to_be_unbound() {
        let listed = [
            on(1, "192.0.2.10/32"),
            on(1, "192.0.2.11/32"),
            on(1, "2001:db8::1/64"),
            // Same address on another interface, and another length on lo: not ours to drop.
            on(2, "192.0.2.10/32"),
            on(1, "2001:db8::1/128"),
        ];
        let unbind = [
            AddrChange::Add {
                ifindex: 1,
                net: "192.0.2.10/32".parse().unwrap(),
            },
            AddrChange::Add {
                ifindex: 1,
                net: "2001:db8::1/64".parse().unwrap(),
            },
        ];
        assert_eq!(
            without(&listed, &unbind),
            [
                on(1, "192.0.2.11/32"),
                on(2, "192.0.2.10/32"),
                on(1, "2001:db8::1/128"),
            ]
        );
    }
}
