//! The route-server sessions: which ones the settings want, and starting, keeping or stopping
//! them on a reload so that a session whose settings did not change stays up.

use std::net::Ipv4Addr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{CONNECT_RETRY, HOLD_TIME_SECS, STOP_GRACE};
use crate::announce::DesiredRoutes;
use crate::bgp::peer::{self, PeerHandle, Transport};
use crate::bgp::session::{SessionConfig, State};
use crate::bgp::wire::Notification;
use crate::settings::Settings;
use crate::status::SessionList;

/// One session per neighbor, in the neighbors' order.
pub(super) fn wanted_sessions(
    settings: &Settings,
    router_id: Ipv4Addr,
    hostname: &str,
) -> Vec<(SessionConfig, Transport)> {
    let transport = Transport {
        ttl: settings.multihop_ttl,
        md5_key: settings.md5.as_ref().map(|m| m.key.clone()),
    };
    settings
        .neighbors
        .iter()
        .map(|neighbor| {
            let config = SessionConfig {
                peer: *neighbor,
                local_as: settings.local_as,
                peer_as: settings.peer_as,
                router_id,
                hostname: hostname.to_string(),
                hold_time: HOLD_TIME_SECS,
                connect_retry: CONNECT_RETRY,
                tcp_md5: transport.md5_key.is_some(),
            };
            (config, transport.clone())
        })
        .collect()
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
    pub(super) leaving: Vec<JoinHandle<()>>,
    pub(super) routes: watch::Receiver<Arc<DesiredRoutes>>,
}

impl Peers {
    pub(super) fn spawn(&self, config: SessionConfig, transport: Transport) -> PeerSlot {
        let (stop, stop_rx) = watch::channel(None);
        let handle = peer::spawn(
            config.clone(),
            transport.clone(),
            self.routes.clone(),
            stop_rx,
        );
        PeerSlot {
            handle,
            stop,
            config,
            transport,
        }
    }

    /// Brings the sessions in line with `wanted`: an unchanged session stays up, a new neighbor
    /// connects, a removed one gets a Cease (6/3 Peer De-configured), and a session whose
    /// settings changed is restarted (6/6 Other Configuration Change).
    pub(super) async fn reconcile(&mut self, wanted: Vec<(SessionConfig, Transport)>) {
        // At start every neighbor is new; only later is one "added".
        let reload = !self.slots.is_empty();
        let mut old = std::mem::take(&mut self.slots);
        let mut next = Vec::with_capacity(wanted.len());
        for (config, transport) in wanted {
            let Some(index) = old.iter().position(|s| s.config.peer == config.peer) else {
                if reload {
                    info!(peer = %config.peer, "neighbor added: connecting");
                }
                next.push(self.spawn(config, transport));
                continue;
            };
            let slot = old.remove(index);
            if slot.config == config && slot.transport == transport {
                next.push(slot);
                continue;
            }
            info!(peer = %config.peer, "session settings changed: restarting the session (Cease 6/6)");
            slot.stop
                .send_replace(Some(Notification::cease_other_configuration_change()));
            // The new connection must not race the old one's goodbye at the route server.
            if tokio::time::timeout(STOP_GRACE, slot.handle.task)
                .await
                .is_err()
            {
                warn!(peer = %config.peer, "the old session did not close in time");
            }
            next.push(self.spawn(config, transport));
        }
        for slot in old {
            info!(peer = %slot.config.peer, "neighbor removed: sending Cease (6/3 peer de-configured)");
            slot.stop
                .send_replace(Some(Notification::cease_peer_deconfigured()));
            self.leaving.push(slot.handle.task);
        }
        self.leaving.retain(|task| !task.is_finished());
        self.slots = next;
    }

    pub(super) fn list(&self) -> SessionList {
        Arc::new(self.slots.iter().map(|s| s.handle.status.clone()).collect())
    }

    /// Resolves when no Established session has anything in its adj-RIB-out.
    pub(super) async fn withdrawn(&self) {
        for slot in &self.slots {
            let mut status = slot.handle.status.clone();
            let _ = status
                .wait_for(|s| s.state != State::Established || s.adj_out.is_empty())
                .await;
        }
    }

    /// Sends `farewell` to every session; resolves when all of them (and the leaving ones) ended.
    pub(super) async fn stop_all(&mut self, farewell: Notification) {
        for slot in &self.slots {
            slot.stop.send_replace(Some(farewell.clone()));
        }
        for slot in std::mem::take(&mut self.slots) {
            let _ = slot.handle.task.await;
        }
        for task in std::mem::take(&mut self.leaving) {
            let _ = task.await;
        }
    }
}
