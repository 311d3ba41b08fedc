//! `hooks.on_change`: a command run on every service state change, off the event loop.
//!
//! Changes are queued and run one at a time in the order they happened (keepalived's notify
//! scripts give no ordering guarantee; ours do), each under the hook's timeout, which kills the
//! command's whole process group. A full queue never blocks: the oldest waiting change gives way
//! (with a warning), so the latest state always reaches the hook.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use ipnet::IpNet;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::config::HookConfig;
use crate::probe::run_command;

/// Changes waiting for the hook; more than this means the hook is far too slow.
const QUEUE: usize = 64;

/// One service state change, as the hook gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    pub service: String,
    /// waiting, up, delayed, down or maintenance.
    pub state: &'static str,
    pub previous: &'static str,
    /// How the addresses are announced now: primary, secondary, demoted or withdrawn.
    pub announce: &'static str,
    /// The service's role (its `role`, else the host's): primary or secondary.
    pub role: &'static str,
    /// The host's configured role: primary or secondary.
    pub host_role: &'static str,
    pub addresses: Vec<IpNet>,
    /// VRRP mode, a change of an instance's state: the instance (`interface/vrid`) and its
    /// state (master, backup or fault).
    pub vrrp: Option<(String, &'static str)>,
}

impl HookEvent {
    /// Arguments appended to the configured command: STATE SERVICE ADDRESSES (comma-separated).
    pub fn args(&self) -> [String; 3] {
        [
            self.state.to_string(),
            self.service.clone(),
            join(&self.addresses),
        ]
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("ELASTIC_STATE", self.state.to_string()),
            ("ELASTIC_PREVIOUS_STATE", self.previous.to_string()),
            ("ELASTIC_SERVICE", self.service.clone()),
            ("ELASTIC_ADDRESSES", join(&self.addresses)),
            ("ELASTIC_ANNOUNCE", self.announce.to_string()),
            ("ELASTIC_ROLE", self.role.to_string()),
            ("ELASTIC_HOST_ROLE", self.host_role.to_string()),
        ];
        if let Some((instance, state)) = &self.vrrp {
            env.push(("ELASTIC_VRRP_INSTANCE", instance.clone()));
            env.push(("ELASTIC_VRRP_STATE", state.to_string()));
        }
        env
    }
}

fn join(addresses: &[IpNet]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The changes waiting for the hook, oldest first, at most [`QUEUE`].
#[derive(Debug, Default)]
struct Pending {
    events: VecDeque<HookEvent>,
    /// The daemon dropped its end: run what is queued, then end.
    closed: bool,
}

impl Pending {
    /// Queues `event`; when full, the oldest waiting change gives way and is returned.
    fn push(&mut self, event: HookEvent) -> Option<HookEvent> {
        let dropped = if self.events.len() >= QUEUE {
            self.events.pop_front()
        } else {
            None
        };
        self.events.push_back(event);
        dropped
    }
}

/// The queue, shared by the daemon's end and the task that runs the hooks.
#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Nothing panics while holding the lock; if anything did, the queue itself is still whole.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next change to run, waiting for one; `None` once closed and empty.
    async fn next(&self) -> Option<HookEvent> {
        loop {
            {
                let mut pending = self.pending();
                if let Some(event) = pending.events.pop_front() {
                    return Some(event);
                }
                if pending.closed {
                    return None;
                }
            }
            // A wake-up sent since the check above is kept as a permit: none is lost.
            self.wake.notified().await;
        }
    }
}

/// The daemon's end of the hook queue. The task that runs the hooks ends once this is dropped
/// and the queued hooks have run.
pub struct Hooks {
    shared: Arc<Shared>,
}

impl Hooks {
    pub fn spawn(config: HookConfig) -> Hooks {
        let shared = Arc::new(Shared::default());
        let queue = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Some(event) = queue.next().await {
                let mut argv = config.argv.clone();
                argv.extend(event.args());
                let run =
                    run_command(&argv, config.user.as_ref(), &event.env(), config.timeout).await;
                if run.success() {
                    info!(service = event.service, state = event.state, result = %run.describe(), "hook ran");
                } else {
                    warn!(service = event.service, state = event.state, result = %run.describe(), "hook failed");
                }
            }
        });
        Hooks { shared }
    }

    /// Queues the event; never waits.
    pub fn notify(&self, event: HookEvent) {
        let dropped = self.shared.pending().push(event);
        if let Some(old) = dropped {
            warn!(
                service = old.service,
                state = old.state,
                "hook queue full: the oldest waiting change is dropped, later ones still run"
            );
        }
        self.shared.wake.notify_one();
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.shared.pending().closed = true;
        self.shared.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn event() -> HookEvent {
        HookEvent {
            service: "web".into(),
            state: "down",
            previous: "up",
            announce: "withdrawn",
            role: "secondary",
            host_role: "primary",
            addresses: vec![
                "203.0.113.10/32".parse().unwrap(),
                "2001:db8:100::/64".parse().unwrap(),
            ],
            vrrp: None,
        }
    }

    #[test]
    fn the_hook_gets_state_service_and_addresses_as_arguments_and_environment() {
        assert_eq!(
            event().args(),
            ["down", "web", "203.0.113.10/32,2001:db8:100::/64"].map(String::from)
        );
        let env = event().env();
        assert!(env.contains(&("ELASTIC_STATE", "down".into())));
        assert!(env.contains(&("ELASTIC_PREVIOUS_STATE", "up".into())));
        assert!(env.contains(&("ELASTIC_ANNOUNCE", "withdrawn".into())));
        assert!(env.contains(&("ELASTIC_ROLE", "secondary".into())));
        assert!(env.contains(&("ELASTIC_HOST_ROLE", "primary".into())));
    }

    #[test]
    fn hooks_run_in_order_with_arguments_and_environment() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("elastic-hook-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        rt.block_on(async {
            let script = format!("echo \"$1 $2 $3 $ELASTIC_ANNOUNCE\" >> {}", log.display());
            let hooks = Hooks::spawn(HookConfig {
                argv: vec!["/bin/sh".into(), "-c".into(), script, "hook".into()],
                timeout: Duration::from_secs(5),
                user: None,
            });
            hooks.notify(event());
            hooks.notify(HookEvent {
                state: "up",
                previous: "down",
                announce: "primary",
                ..event()
            });
            drop(hooks);
            // Both hooks have run once the second line is there (bounded wait).
            for _ in 0..100 {
                let lines = std::fs::read_to_string(&log).map_or(0, |t| t.lines().count());
                if lines >= 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let written = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            written,
            "down web 203.0.113.10/32,2001:db8:100::/64 withdrawn\nup web 203.0.113.10/32,2001:db8:100::/64 primary\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn change(n: usize) -> HookEvent {
        HookEvent {
            service: format!("s{n}"),
            ..event()
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_change_and_keeps_the_newest() {
        let mut pending = Pending::default();
        for n in 0..QUEUE {
            assert_eq!(pending.push(change(n)), None);
        }
        assert_eq!(pending.push(change(QUEUE)), Some(change(0)));
        assert_eq!(pending.push(change(QUEUE + 1)), Some(change(1)));
        assert_eq!(pending.events.len(), QUEUE);
        assert_eq!(pending.events.front(), Some(&change(2)));
        assert_eq!(pending.events.back(), Some(&change(QUEUE + 1)));
    }

    #[test]
    fn the_latest_change_reaches_a_hook_that_falls_behind() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("elastic-hook-flood-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        const CHANGES: usize = 100;
        let lines = rt.block_on(async {
            let script = format!("echo \"$2\" >> {}", log.display());
            let hooks = Hooks::spawn(HookConfig {
                argv: vec!["/bin/sh".into(), "-c".into(), script, "hook".into()],
                timeout: Duration::from_secs(5),
                user: None,
            });
            // All at once, before the hook task runs even once: far more than the queue holds.
            for n in 0..CHANGES {
                hooks.notify(change(n));
            }
            drop(hooks);
            // Bounded wait until the last line is there.
            let mut lines = Vec::new();
            for _ in 0..300 {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                lines = text.lines().map(String::from).collect::<Vec<_>>();
                if lines.len() >= QUEUE {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            lines
        });
        let _ = std::fs::remove_dir_all(&dir);
        let expected: Vec<String> = (CHANGES - QUEUE..CHANGES)
            .map(|n| format!("s{n}"))
            .collect();
        assert_eq!(lines, expected, "the newest {QUEUE} changes, in order");
    }
}
