//! The addresses: binding `-address` prefixes to lo and unbinding what elastic bound, and which
//! addresses on the interfaces are announced (the rules are in [`crate::addrs`]).

use std::collections::HashSet;
use std::path::PathBuf;

use ipnet::IpNet;
use tracing::{error, info, warn};

use super::DaemonError;
use crate::addrs::{self, AddrChange, InterfaceAddr, Netlink};
use crate::settings::BgpSettings;

/// The prefixes to announce; logs the address rules' warnings that were not logged last time
/// (`logged`), so a rescan of lo does not repeat them.
pub(super) fn eligible(
    bgp: &BgpSettings,
    interface_addrs: &[addrs::InterfaceAddr],
    logged: &mut Vec<String>,
) -> Vec<IpNet> {
    let (prefixes, warnings) = addrs::eligible_prefixes(interface_addrs, bgp.allifs, bgp.send56);
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
    bgp: &BgpSettings,
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
    let found = eligible(bgp, &interface_addrs, warned);
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

/// Where the addresses elastic bound are recorded when the kernel cannot mark them: systemd's
/// `StateDirectory=` (it survives stops and restarts, unlike `/run`), else this.
const STATE_DIRECTORY: &str = "/var/lib/elastic";
const BOUND_FILE: &str = "bound-addresses";

/// How this run recognises the addresses it (or an earlier run) bound: by the kernel's address
/// mark, or, on a kernel older than 5.18, by a state file.
pub(super) struct Ownership {
    /// The state file, when the kernel does not keep marks.
    state_file: Option<PathBuf>,
}

impl Ownership {
    pub(super) fn detect() -> Ownership {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        if addrs::kernel_keeps_address_marks(release.trim()) {
            return Ownership { state_file: None };
        }
        let directory = std::env::var_os("STATE_DIRECTORY")
            // systemd passes a colon-separated list when the unit names several.
            .and_then(|dirs| {
                dirs.to_str()
                    .and_then(|d| d.split(':').next())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(STATE_DIRECTORY));
        let state_file = directory.join(BOUND_FILE);
        info!(
            kernel = release.trim(),
            file = %state_file.display(),
            "the kernel cannot mark addresses (Linux 5.18+ can): recording bound addresses in a file"
        );
        Ownership {
            state_file: Some(state_file),
        }
    }

    /// What the state file says an earlier run bound (nothing with marks, or without a file).
    fn recorded(&self) -> Vec<IpNet> {
        let Some(path) = &self.state_file else {
            return Vec::new();
        };
        match std::fs::read_to_string(path) {
            Ok(text) => addrs::parse_bound(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                warn!(%error, file = %path.display(), "cannot read the bound addresses; none reclaimed");
                Vec::new()
            }
        }
    }

    /// Records `bound` in the state file (written aside and renamed: a crash never leaves half a
    /// list). Nothing to do where the kernel keeps marks.
    pub(super) fn record(&self, bound: &[AddrChange]) {
        let Some(path) = &self.state_file else {
            return;
        };
        let written = if bound.is_empty() {
            std::fs::remove_file(path).or_else(|error| {
                if error.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(error)
                }
            })
        } else {
            let aside = path.with_extension("new");
            std::fs::create_dir_all(path.parent().unwrap_or(path))
                .and_then(|()| std::fs::write(&aside, addrs::render_bound(bound)))
                .and_then(|()| std::fs::rename(&aside, path))
        };
        if let Err(error) = written {
            error!(
                %error,
                file = %path.display(),
                "cannot record the bound addresses: after a crash they would stay on lo"
            );
        }
    }
}

/// Start-up: finds the addresses an earlier run bound and never unbound (it crashed or was
/// killed), removes those no longer `wanted` before anything is announced, and returns the others
/// as bound by this run (so they are unbound on stop). `existing` is the address table and `lo`
/// lo's index, as listed once at start-up.
pub(super) async fn reclaim(
    netlink: &Netlink,
    (existing, lo): (&[InterfaceAddr], u32),
    ownership: &Ownership,
    wanted: &[IpNet],
) -> Vec<AddrChange> {
    let plan = addrs::plan_reclaim(existing, &ownership.recorded(), lo, wanted);
    for change in &plan.remove {
        let AddrChange::Remove { net, .. } = change else {
            continue;
        };
        match netlink.apply(change).await {
            Ok(()) => info!(
                address = %net,
                "unbound from lo: an earlier run bound it and it is no longer in the configuration"
            ),
            Err(error) => {
                error!(%error, address = %net, "cannot unbind an address an earlier run bound")
            }
        }
    }
    for change in &plan.adopt {
        if let AddrChange::Add { net, .. } = change {
            info!(address = %net, "already on lo, bound by an earlier run: elastic's again");
        }
    }
    plan.adopt
}

/// Lists the address table and lo's index, then binds as [`bind_listed`] does (for a reload,
/// which has no fresh listing at hand).
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
    bind_listed(netlink, (&existing, lo), wanted).await
}

/// Binds the `-address` prefixes to lo, planned against `existing` (lo's index `lo`); returns
/// what we actually added (only that is undone).
pub(super) async fn bind_listed(
    netlink: &Netlink,
    (existing, lo): (&[InterfaceAddr], u32),
    wanted: &[IpNet],
) -> Result<Vec<AddrChange>, DaemonError> {
    let mut added = Vec::new();
    for change in addrs::plan_bind(existing, lo, wanted) {
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
            marked: false,
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

    #[test]
    fn the_state_file_keeps_what_was_bound_until_all_is_unbound() {
        let directory = std::env::temp_dir().join(format!("elastic-state-{}", std::process::id()));
        let ownership = Ownership {
            state_file: Some(directory.join("state").join(BOUND_FILE)),
        };
        assert_eq!(ownership.recorded(), Vec::<IpNet>::new());
        let bound = [
            AddrChange::Add {
                ifindex: 1,
                net: "192.0.2.10/32".parse().unwrap(),
            },
            AddrChange::Add {
                ifindex: 1,
                net: "2001:db8::1/64".parse().unwrap(),
            },
        ];
        ownership.record(&bound);
        assert_eq!(
            ownership.recorded(),
            ["192.0.2.10/32", "2001:db8::1/64"]
                .map(|n| n.parse::<IpNet>().unwrap())
                .to_vec()
        );
        ownership.record(&bound[..1]);
        assert_eq!(ownership.recorded().len(), 1);
        ownership.record(&[]);
        assert!(!directory.join("state").join(BOUND_FILE).exists());
        assert_eq!(ownership.recorded(), Vec::<IpNet>::new());
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
