//! Publishing what the gate computed: the watch channels the sessions, the API and the metrics
//! read, systemd's status line, the log and the hook.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::info;

use super::gate::Refresh;
use crate::announce::AddressStatus;
use crate::hooks::Hooks;
use crate::model::DesiredRoutes;
use crate::status::{
    self, DaemonInfo, Mode, ProbeStatus, RoutesFirstSeen, SessionList, StatusSource, VrrpList,
};
use crate::systemd;

/// The channels the event loop publishes into.
pub(super) struct Published {
    pub(super) routes: watch::Sender<Arc<DesiredRoutes>>,
    /// Sent just before `routes` changes.
    pub(super) routes_first_seen: watch::Sender<Arc<RoutesFirstSeen>>,
    pub(super) addresses: watch::Sender<Arc<Vec<AddressStatus>>>,
    pub(super) probes: watch::Sender<Arc<Vec<ProbeStatus>>>,
    pub(super) mode: watch::Sender<Mode>,
    pub(super) info: watch::Sender<Arc<DaemonInfo>>,
    pub(super) sessions: watch::Sender<SessionList>,
}

impl Published {
    /// The channels, starting at these values, and what the API and the metrics read from them
    /// (no VRRP instances and no BFD: a mode that has them sets those two itself).
    pub(super) fn new(
        info: DaemonInfo,
        routes: DesiredRoutes,
        addresses: Vec<AddressStatus>,
        probes: Vec<ProbeStatus>,
        mode: Mode,
    ) -> (Published, StatusSource) {
        let (routes, routes_rx) = watch::channel(Arc::new(routes));
        let (routes_first_seen, first_seen_rx) = watch::channel(Arc::default());
        let (addresses, addresses_rx) = watch::channel(Arc::new(addresses));
        let (probes, probes_rx) = watch::channel(Arc::new(probes));
        let (mode, mode_rx) = watch::channel(mode);
        let (info, info_rx) = watch::channel(Arc::new(info));
        let (sessions, sessions_rx) = watch::channel(SessionList::default());
        let source = StatusSource {
            info: info_rx,
            sessions: sessions_rx,
            routes: routes_rx,
            routes_first_seen: first_seen_rx,
            addresses: addresses_rx,
            probes: probes_rx,
            mode: mode_rx,
            vrrp: watch::channel(VrrpList::default()).1,
            bfd_unclaimed: watch::channel(Default::default()).1,
        };
        let published = Published {
            routes,
            routes_first_seen,
            addresses,
            probes,
            mode,
            info,
            sessions,
        };
        (published, source)
    }

    /// Publishes `refresh`, logs the services' transitions and runs the hook on them. The
    /// desired set is handed to the sessions only when it differs, so a probe that passes again
    /// sends nothing.
    pub(super) fn publish(&self, refresh: Refresh, route_servers: usize, hooks: Option<&Hooks>) {
        let Refresh {
            at,
            routes,
            addresses,
            probes,
            mode,
            transitions,
        } = refresh;
        let draining = mode.draining.as_deref();
        self.routes.send_if_modified(|current| {
            if **current == routes {
                return false;
            }
            self.routes_first_seen.send_modify(|seen| {
                *seen = Arc::new(status::routes_first_seen(seen, current, &routes, at));
            });
            *current = Arc::new(routes);
            systemd::status(&summary(current, route_servers, draining));
            true
        });
        self.addresses.send_if_modified(|current| {
            if **current == addresses {
                return false;
            }
            *current = Arc::new(addresses);
            true
        });
        if let Some(probes) = probes {
            self.probes.send_replace(Arc::new(probes));
        }
        self.mode.send_if_modified(|current| {
            if *current == mode {
                return false;
            }
            *current = mode;
            true
        });
        for transition in transitions {
            let event = transition.event;
            info!(
                service = event.service,
                from = event.previous,
                to = event.state,
                announce = event.announce,
                reason = transition.reason,
                "service state changed"
            );
            if let Some(hooks) = hooks {
                hooks.notify(event);
            }
        }
    }
}

/// The one-line STATUS for `systemctl status`.
pub(super) fn summary(
    routes: &DesiredRoutes,
    route_servers: usize,
    draining: Option<&str>,
) -> String {
    let line = format!(
        "announcing {} prefixes to {route_servers} route servers",
        routes.len()
    );
    match draining {
        Some(why) => format!("draining ({why}): {line} with GRACEFUL_SHUTDOWN"),
        None => line,
    }
}
