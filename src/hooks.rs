//! `hooks.on_change`: a command run on every service state change, off the event loop.
//!
//! Changes are queued and run one at a time in the order they happened (keepalived's notify
//! scripts give no ordering guarantee; ours do), each under the hook's timeout, which kills the
//! command's whole process group. A full queue drops the event with a warning rather than block.

use ipnet::IpNet;
use tokio::sync::mpsc;
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
        vec![
            ("ELASTIC_STATE", self.state.to_string()),
            ("ELASTIC_PREVIOUS_STATE", self.previous.to_string()),
            ("ELASTIC_SERVICE", self.service.clone()),
            ("ELASTIC_ADDRESSES", join(&self.addresses)),
            ("ELASTIC_ANNOUNCE", self.announce.to_string()),
            ("ELASTIC_ROLE", self.role.to_string()),
            ("ELASTIC_HOST_ROLE", self.host_role.to_string()),
        ]
    }
}

fn join(addresses: &[IpNet]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The daemon's end of the hook queue. The task that runs the hooks ends once this is dropped
/// and the queued hooks have run.
pub struct Hooks {
    queue: mpsc::Sender<HookEvent>,
}

impl Hooks {
    pub fn spawn(config: HookConfig) -> Hooks {
        let (queue, mut events) = mpsc::channel::<HookEvent>(QUEUE);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
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
        Hooks { queue }
    }

    /// Queues the event; never waits.
    pub fn notify(&self, event: HookEvent) {
        if let Err(error) = self.queue.try_send(event) {
            warn!(%error, "hook queue full: state change not passed to the hook");
        }
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
}
