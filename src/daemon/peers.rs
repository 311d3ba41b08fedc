//! The route-server sessions: which ones the settings want, and starting, keeping or stopping
//! them on a reload so that a session whose settings did not change stays up.

use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::IpNet;
use tokio::sync::watch;
use tracing::{info, warn};

use super::shutdown::STOP_GRACE;
use crate::bfd::driver::Bfd;
use crate::bgp::peer::{self, PeerHandle, Transport};
use crate::bgp::session::{SessionConfig, State};
use crate::bgp::wire::Notification;
use crate::model::CONNECT_RETRY;
use crate::model::DesiredRoutes;
use crate::settings::BgpSettings;
use crate::status::SessionList;

/// One session per neighbor, in the neighbors' order.
pub(super) fn wanted_sessions(
    bgp: &BgpSettings,
    router_id: Ipv4Addr,
    hostname: &str,
) -> Vec<(SessionConfig, Transport)> {
    let transport = Transport {
        ttl: bgp.multihop_ttl,
        md5_key: bgp.md5.as_ref().map(|m| m.key.clone()),
        bfd: bgp.bfd,
    };
    bgp.neighbors
        .iter()
        .map(|neighbor| {
            let config = SessionConfig {
                peer: *neighbor,
                local_as: bgp.local_as,
                peer_as: bgp.peer_as,
                router_id,
                hostname: hostname.to_string(),
                hold_time: bgp.hold_time,
                keepalive: bgp.keepalive,
                connect_retry: CONNECT_RETRY,
                tcp_md5: transport.md5_key.is_some(),
            };
            (config, transport.clone())
        })
        .collect()
}

/// One session's fate in [`plan_sessions`]; indices point into the running sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SessionChange {
    /// Unchanged settings: the session stays up.
    Keep(usize),
    /// A new neighbor: connect.
    Start(SessionConfig, Transport),
    /// Changed settings: say goodbye with `farewell` (Cease 6/6), then start over.
    Restart {
        running: usize,
        config: SessionConfig,
        transport: Transport,
        farewell: Notification,
    },
    /// A removed neighbor: say goodbye with `farewell` (Cease 6/3).
    Stop {
        running: usize,
        farewell: Notification,
    },
}

/// Keep, start, restart or stop each session so the `running` ones become `wanted` (one per
/// neighbor). The changes for `wanted` come first, in its order, then the stops.
pub(super) fn plan_sessions(
    running: &[(SessionConfig, Transport)],
    wanted: Vec<(SessionConfig, Transport)>,
) -> Vec<SessionChange> {
    let mut claimed = vec![false; running.len()];
    let mut changes = Vec::with_capacity(wanted.len());
    for (config, transport) in wanted {
        let found = running
            .iter()
            .enumerate()
            .position(|(i, (old, _))| !claimed[i] && old.peer == config.peer);
        let Some(index) = found else {
            changes.push(SessionChange::Start(config, transport));
            continue;
        };
        claimed[index] = true;
        let (old_config, old_transport) = &running[index];
        if *old_config == config && *old_transport == transport {
            changes.push(SessionChange::Keep(index));
        } else {
            changes.push(SessionChange::Restart {
                running: index,
                config,
                transport,
                farewell: Notification::cease_other_configuration_change(),
            });
        }
    }
    changes.extend(
        claimed
            .iter()
            .enumerate()
            .filter(|(_, claimed)| !**claimed)
            .map(|(running, _)| SessionChange::Stop {
                running,
                farewell: Notification::cease_peer_deconfigured(),
            }),
    );
    changes
}

/// A running session and what it was started with.
pub(super) struct PeerSlot {
    pub(super) handle: PeerHandle,
    /// Its own stop channel, so one session can be stopped alone.
    pub(super) stop: watch::Sender<Option<Notification>>,
    pub(super) config: SessionConfig,
    pub(super) transport: Transport,
}

pub(super) struct Peers {
    pub(super) slots: Vec<PeerSlot>,
    /// Sessions of removed neighbors still saying goodbye.
    pub(super) leaving: Vec<PeerHandle>,
    pub(super) routes: watch::Receiver<Arc<DesiredRoutes>>,
    /// The BFD sessions beside the BGP ones (when `bfd:` is set).
    pub(super) bfd: Bfd,
}

impl Peers {
    pub(super) fn spawn(&self, config: SessionConfig, transport: Transport) -> PeerSlot {
        let (stop, stop_rx) = watch::channel(None);
        let bfd = transport
            .bfd
            .map(|bfd| self.bfd.spawn_session(config.peer, bfd));
        let handle = peer::spawn(
            config.clone(),
            transport.clone(),
            self.routes.clone(),
            stop_rx,
            bfd,
        );
        PeerSlot {
            handle,
            stop,
            config,
            transport,
        }
    }

    /// Brings the sessions in line with `wanted` (see [`plan_sessions`]); a restarted session's
    /// goodbye is awaited (bounded) so the new connection does not race it at the route server.
    pub(super) async fn reconcile(&mut self, wanted: Vec<(SessionConfig, Transport)>) {
        // At start every neighbor is new; only later is one "added".
        let reload = !self.slots.is_empty();
        let running: Vec<(SessionConfig, Transport)> = self
            .slots
            .iter()
            .map(|s| (s.config.clone(), s.transport.clone()))
            .collect();
        let changes = plan_sessions(&running, wanted);
        let mut old: Vec<Option<PeerSlot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let mut next = Vec::with_capacity(changes.len());
        for change in changes {
            match change {
                SessionChange::Keep(index) => next.extend(old[index].take()),
                SessionChange::Start(config, transport) => {
                    if reload {
                        info!(peer = %config.peer, "neighbor added: connecting");
                    }
                    next.push(self.spawn(config, transport));
                }
                SessionChange::Restart {
                    running,
                    config,
                    transport,
                    farewell,
                } => {
                    let Some(slot) = old[running].take() else {
                        continue;
                    };
                    info!(peer = %config.peer, "session settings changed: restarting the session (Cease 6/6)");
                    slot.stop.send_replace(Some(farewell));
                    if tokio::time::timeout(STOP_GRACE, slot.handle.task)
                        .await
                        .is_err()
                    {
                        warn!(peer = %config.peer, "the old session did not close in time");
                    }
                    next.push(self.spawn(config, transport));
                }
                SessionChange::Stop { running, farewell } => {
                    let Some(slot) = old[running].take() else {
                        continue;
                    };
                    info!(peer = %slot.config.peer, "neighbor removed: sending Cease (6/3 peer de-configured)");
                    slot.stop.send_replace(Some(farewell));
                    self.leaving.push(slot.handle);
                }
            }
        }
        self.leaving.retain(|handle| !handle.task.is_finished());
        self.slots = next;
    }

    pub(super) fn list(&self) -> SessionList {
        Arc::new(self.slots.iter().map(|s| s.handle.status.clone()).collect())
    }

    /// Resolves when no Established session has anything in its adj-RIB-out.
    pub(super) async fn withdrawn(&self) {
        self.sent_none_of(|_| true).await;
    }

    /// Resolves when no Established session still announces a prefix `gone` picks.
    pub(super) async fn sent_none_of(&self, gone: impl Fn(&IpNet) -> bool) {
        for slot in &self.slots {
            let mut status = slot.handle.status.clone();
            let _ = status
                .wait_for(|s| s.state != State::Established || !s.adj_out.keys().any(&gone))
                .await;
        }
    }

    /// Sends `farewell` to every session; [`Peers::closed`] tells when they ended.
    pub(super) fn cease_all(&self, farewell: &Notification) {
        for slot in &self.slots {
            slot.stop.send_replace(Some(farewell.clone()));
        }
    }

    /// Resolves when every session (and every leaving one) has ended: a session's status
    /// channel closes when its task ends, however it ends.
    pub(super) async fn closed(&self) {
        let handles = self.slots.iter().map(|s| &s.handle).chain(&self.leaving);
        for handle in handles {
            let mut status = handle.status.clone();
            while status.changed().await.is_ok() {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::daemon::tests::settings;

    const ROUTER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    fn sessions(flags: &[&str]) -> Vec<(SessionConfig, Transport)> {
        wanted_sessions(&settings(flags).mode, ROUTER_ID, "host")
    }

    fn peer(change: &SessionChange, running: &[(SessionConfig, Transport)]) -> IpAddr {
        match change {
            SessionChange::Keep(index) | SessionChange::Stop { running: index, .. } => {
                running[*index].0.peer
            }
            SessionChange::Start(config, _) | SessionChange::Restart { config, .. } => config.peer,
        }
    }

    #[test]
    fn unchanged_settings_keep_every_session_up() {
        let running = sessions(&[]);
        assert_eq!(running.len(), 4, "lelastic's four route servers");
        let changes = plan_sessions(&running, running.clone());
        assert_eq!(changes, (0..4).map(SessionChange::Keep).collect::<Vec<_>>());
    }

    #[test]
    fn changed_session_settings_restart_each_session_with_cease_6_6() {
        let running = sessions(&[]);
        let wanted = sessions(&["-multihopttl", "2"]);
        let changes = plan_sessions(&running, wanted.clone());
        assert_eq!(changes.len(), 4);
        for (index, change) in changes.iter().enumerate() {
            let SessionChange::Restart {
                running: was,
                transport,
                farewell,
                ..
            } = change
            else {
                panic!("{change:?}");
            };
            assert_eq!(*was, index);
            assert_eq!(transport.ttl, 2);
            assert_eq!((farewell.code, farewell.subcode), (6, 6));
        }
    }

    #[test]
    fn changed_timers_restart_each_session_with_the_new_ones() {
        let running = sessions(&[]);
        for flags in [&["-holdtime", "3s"][..], &["-keepalive", "1s"][..]] {
            let wanted = sessions(flags);
            let changes = plan_sessions(&running, wanted.clone());
            assert_eq!(changes.len(), 4, "{flags:?}");
            for (change, (want, _)) in changes.iter().zip(&wanted) {
                let SessionChange::Restart {
                    config, farewell, ..
                } = change
                else {
                    panic!("{flags:?}: {change:?}");
                };
                assert_eq!(config, want);
                assert_eq!((farewell.code, farewell.subcode), (6, 6));
            }
        }
        let wanted = sessions(&["-holdtime", "3s"]);
        assert_eq!((wanted[0].0.hold_time, wanted[0].0.keepalive), (3, 1));
        // The same timers spelled differently change nothing.
        let same = sessions(&["-holdtime", "9", "-keepalive", "3s"]);
        let changes = plan_sessions(&running, same);
        assert_eq!(changes, (0..4).map(SessionChange::Keep).collect::<Vec<_>>());
    }

    #[test]
    fn turning_bfd_on_off_or_changing_it_restarts_each_session() {
        let off = sessions(&[]);
        let with = |min_tx_ms: u64| {
            let mut wanted = off.clone();
            for (_, transport) in &mut wanted {
                transport.bfd = Some(crate::model::BfdConfig {
                    min_tx: std::time::Duration::from_millis(min_tx_ms),
                    min_rx: std::time::Duration::from_millis(300),
                    multiplier: 3,
                    multihop: true,
                    min_ttl: 240,
                });
            }
            wanted
        };
        let restarts = |changes: &[SessionChange]| {
            changes.len() == 4
                && changes
                    .iter()
                    .all(|c| matches!(c, SessionChange::Restart { .. }))
        };
        assert!(restarts(&plan_sessions(&off, with(300))), "on");
        assert!(restarts(&plan_sessions(&with(300), with(1000))), "changed");
        assert!(restarts(&plan_sessions(&with(300), off.clone())), "off");
        let same = plan_sessions(&with(300), with(300));
        assert_eq!(same, (0..4).map(SessionChange::Keep).collect::<Vec<_>>());
    }

    #[test]
    fn a_new_neighbor_starts_and_a_removed_one_stops_with_cease_6_3() {
        let running = sessions(&[]);
        // Route servers 2, 3 and 4 stay; 1 goes and a fifth comes.
        let mut wanted = running[1..].to_vec();
        let mut fifth = running[0].clone();
        fifth.0.peer = "2001:db8::5".parse().unwrap();
        wanted.push(fifth.clone());
        let changes = plan_sessions(&running, wanted);
        assert_eq!(
            changes[..3],
            [
                SessionChange::Keep(1),
                SessionChange::Keep(2),
                SessionChange::Keep(3)
            ]
        );
        assert_eq!(changes[3], SessionChange::Start(fifth.0, fifth.1));
        let SessionChange::Stop {
            running: 0,
            farewell,
        } = &changes[4]
        else {
            panic!("{:?}", changes[4]);
        };
        assert_eq!((farewell.code, farewell.subcode), (6, 3));
        assert_eq!(changes.len(), 5);
        assert_eq!(peer(&changes[4], &running), running[0].0.peer);
    }

    #[test]
    fn at_start_every_neighbor_is_started_in_order() {
        let wanted = sessions(&[]);
        let changes = plan_sessions(&[], wanted.clone());
        let started: Vec<IpAddr> = changes.iter().map(|c| peer(c, &[])).collect();
        let expected: Vec<IpAddr> = wanted.iter().map(|(c, _)| c.peer).collect();
        assert_eq!(started, expected);
        assert!(
            changes
                .iter()
                .all(|c| matches!(c, SessionChange::Start(..)))
        );
    }
}
