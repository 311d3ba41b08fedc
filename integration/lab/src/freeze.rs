//! A frozen host as its neighbours see it (kernel panic, hypervisor pause, a wedged NIC): every
//! process in its namespace stopped (SIGSTOP, by PID) and everything it sends dropped, while its
//! links stay up, so a route server sees no link event and only its timers (hold, BFD) can tell.
//!
//! The drop is a `pfifo` qdisc with room for no packet on the host's link: netem and nftables are
//! kernel modules a container may lack, a plain FIFO is always there. [`Frozen`] undoes both
//! (SIGCONT, qdisc removed) when thawed or dropped, so an error or an interrupt never leaves a
//! host frozen.

use std::collections::BTreeSet;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{namespace_pids, run_cmd};

/// A process forking while we stop the others is caught by listing again; a host whose processes
/// keep appearing after this many listings is not frozen, and says so.
const MAX_LISTINGS: usize = 10;

/// A host namespace kept frozen until [`Frozen::thaw`] or drop.
#[must_use = "dropping it thaws the host at once"]
pub struct Frozen {
    ns: String,
    link: String,
    /// How many processes were stopped.
    pub stopped: usize,
    thawed: bool,
}

/// Freezes namespace `ns`: first drops everything leaving through `link` (its only link to the
/// rest of the lab), then stops every process in it. Only for namespaces this run created:
/// whatever runs there is this run's.
pub fn freeze(ns: &str, link: &str) -> Result<Frozen, String> {
    run_cmd(
        "ip",
        &[
            "netns", "exec", ns, "tc", "qdisc", "replace", "dev", link, "root", "pfifo", "limit",
            "0",
        ],
    )
    .map_err(|e| format!("{ns}: drop on {link}: {e}"))?;
    let mut frozen = Frozen {
        ns: ns.to_string(),
        link: link.to_string(),
        stopped: 0,
        thawed: false,
    };
    let mut stopped = BTreeSet::new();
    for _ in 0..MAX_LISTINGS {
        let fresh: Vec<i32> = namespace_pids(ns)?
            .into_iter()
            .filter(|pid| !stopped.contains(pid))
            .collect();
        if fresh.is_empty() {
            frozen.stopped = stopped.len();
            return Ok(frozen);
        }
        for pid in fresh {
            // A process that exited in between is not an error: it is not running either.
            let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
            stopped.insert(pid);
        }
    }
    Err(format!(
        "{ns}: new processes kept appearing after {MAX_LISTINGS} rounds of SIGSTOP"
    ))
}

impl Frozen {
    /// Lets the host send again and continues every process in it.
    pub fn thaw(mut self) -> Result<(), String> {
        self.thawed = true;
        self.undo()
    }

    fn undo(&self) -> Result<(), String> {
        let dropped = run_cmd(
            "ip",
            &[
                "netns", "exec", &self.ns, "tc", "qdisc", "del", "dev", &self.link, "root",
            ],
        )
        .map(drop)
        .map_err(|e| format!("{}: remove the drop on {}: {e}", self.ns, self.link));
        // SIGCONT to whatever is in the namespace now: the stopped ones are all there.
        for pid in namespace_pids(&self.ns)? {
            let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
        }
        dropped
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if !self.thawed
            && let Err(e) = self.undo()
        {
            eprintln!("lab: could not thaw {}: {e}", self.ns);
        }
    }
}
