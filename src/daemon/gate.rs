//! The health gate: probes' and services' state, maintenance and draining, turned into the
//! desired route set the sessions announce. Pure: no clock (`now` is passed in), no tasks, no
//! channels, no files. The decisions are in `health` and `announce`; this feeds them, and says
//! which probe tasks to start or stop ([`ProbeChange`], carried out by [`super::probes`]) and
//! what to publish ([`Refresh`], carried out by [`super::publish`]).
//!
//! Who owns a probe's health: its task. The task runs `ProbeHealth::observe` on each result
//! because its next interval depends on it (the fast interval while the verdict is changing);
//! every report carries the whole `ProbeHealth`, and the gate keeps that copy only to combine
//! the verdicts of a service's probes and to show the counters.

use std::path::PathBuf;
use std::time::Instant;

use ipnet::IpNet;

use crate::announce;
use crate::announce::{AddressStatus, Treatment};
use crate::config::{HealthConfig, HookConfig, ProbeConfig, ServiceConfig};
use crate::health::{self, ProbeHealth, ServiceHealth, ServiceState};
use crate::hooks::HookEvent;
use crate::model::DesiredRoutes;
use crate::probe::ProbeReport;
use crate::settings::BgpSettings;
use crate::status::{Mode, ProbeStatus};

/// A probe: its config and what it last reported.
pub(super) struct ProbeSlot {
    /// Unique for the daemon's life: reports of a probe replaced by a reload are recognised.
    pub(super) id: usize,
    pub(super) config: ProbeConfig,
    pub(super) health: ProbeHealth,
    pub(super) status: ProbeStatus,
}

pub(super) struct ServiceSlot {
    pub(super) config: ServiceConfig,
    pub(super) health: ServiceHealth,
    /// Indices of its probes in [`Gate::probes`].
    pub(super) probes: Vec<usize>,
}

/// A probe task to start or stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ProbeChange {
    Start {
        id: usize,
        config: Box<ProbeConfig>,
        why: StartReason,
    },
    /// `removed`: the probe is gone from the configuration (else it is replaced).
    Stop {
        id: usize,
        name: String,
        removed: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartReason {
    /// At start-up.
    Initial,
    /// A reload added it.
    Added,
    /// A reload changed its settings: it starts over.
    Changed,
}

/// What a recomputation yields, for the loop to publish.
pub(super) struct Refresh {
    /// When it was computed: the first-seen time of routes new to the set.
    pub(super) at: Instant,
    pub(super) routes: DesiredRoutes,
    pub(super) addresses: Vec<AddressStatus>,
    /// The probes' statuses, when they changed since the last refresh.
    pub(super) probes: Option<Vec<ProbeStatus>>,
    pub(super) mode: Mode,
    pub(super) transitions: Vec<Transition>,
}

/// A service changed state: logged, and handed to the hook.
pub(super) struct Transition {
    /// How it is announced now, and why.
    pub(super) reason: String,
    pub(super) event: HookEvent,
}

/// Why every route carries GRACEFUL_SHUTDOWN (RFC 8326) now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drain {
    /// `elastic drain` through the control socket, until `elastic undrain`.
    Operator,
    /// A planned stop, by this signal.
    Stopping(&'static str),
}

impl Drain {
    /// As the status and `systemctl status` show it.
    fn reason(self) -> String {
        match self {
            Drain::Operator => "elastic drain".to_string(),
            Drain::Stopping(signal) => format!("stopping ({signal})"),
        }
    }
}

/// Probes' and services' health, maintenance and draining: everything that gates the
/// announcements.
#[derive(Default)]
pub(super) struct Gate {
    pub(super) probes: Vec<ProbeSlot>,
    next_probe_id: usize,
    services: Vec<ServiceSlot>,
    pub(super) maintenance_file: Option<PathBuf>,
    maintenance_file_present: bool,
    /// SetMaintenance(on) through the control socket.
    maintenance_requested: bool,
    draining: Option<Drain>,
    pub(super) hook: Option<HookConfig>,
    probes_changed: bool,
    /// Set by the first [`Gate::reconfigure`].
    configured: bool,
}

pub(super) fn waiting_status(name: &str) -> ProbeStatus {
    ProbeStatus {
        name: name.to_string(),
        healthy: false,
        state: "waiting".to_string(),
        last_ok: None,
        last_output: String::new(),
        last_latency: None,
        successes: 0,
        failures: 0,
        transitions: 0,
        last_change: None,
    }
}

impl Gate {
    /// Takes on `health`: a probe with the same name and the same settings keeps its task and
    /// state; a new or changed one starts over; a removed one stops. A service keeps its state
    /// when its name, announce_delay and preempt are unchanged. The maintenance file is not
    /// read here: the loop tells [`Gate::set_maintenance_file_present`].
    pub(super) fn reconfigure(&mut self, health: &HealthConfig) -> Vec<ProbeChange> {
        // At start every probe is new; only later is one "added".
        let reload = std::mem::replace(&mut self.configured, true);
        let mut changes = Vec::new();
        let mut old = std::mem::take(&mut self.probes);
        let mut probes = Vec::with_capacity(health.probes.len());
        for config in &health.probes {
            if let Some(index) = old.iter().position(|p| p.config == *config) {
                probes.push(old.remove(index));
                continue;
            }
            let why = if old.iter().any(|p| p.config.name == config.name) {
                StartReason::Changed
            } else if reload {
                StartReason::Added
            } else {
                StartReason::Initial
            };
            let id = self.next_probe_id;
            self.next_probe_id += 1;
            changes.push(ProbeChange::Start {
                id,
                config: Box::new(config.clone()),
                why,
            });
            probes.push(ProbeSlot {
                id,
                config: config.clone(),
                health: ProbeHealth::new(config.rise, config.fall),
                status: waiting_status(&config.name),
            });
        }
        for gone in old {
            changes.push(ProbeChange::Stop {
                id: gone.id,
                removed: !health.probes.iter().any(|p| p.name == gone.config.name),
                name: gone.config.name,
            });
        }
        self.probes = probes;

        let mut old = std::mem::take(&mut self.services);
        self.services = health
            .services
            .iter()
            .map(|config| {
                let kept = old
                    .iter()
                    .position(|s| {
                        s.config.name == config.name
                            && s.config.announce_delay == config.announce_delay
                            && s.config.preempt == config.preempt
                    })
                    .map(|index| old.remove(index).health);
                ServiceSlot {
                    config: config.clone(),
                    health: kept.unwrap_or_else(|| {
                        ServiceHealth::new(config.announce_delay, config.preempt)
                    }),
                    probes: config
                        .probe_names(&health.probes)
                        .iter()
                        .filter_map(|name| self.probes.iter().position(|p| p.config.name == *name))
                        .collect(),
                }
            })
            .collect();

        self.maintenance_file = health.maintenance_file.clone();
        if self.maintenance_file.is_none() {
            self.maintenance_file_present = false;
        }
        self.hook = health.hook.clone();
        self.probes_changed = true;
        changes
    }

    /// Whether the maintenance file exists now; returns whether that changed.
    pub(super) fn set_maintenance_file_present(&mut self, present: bool) -> bool {
        let present = present && self.maintenance_file.is_some();
        std::mem::replace(&mut self.maintenance_file_present, present) != present
    }

    /// SetMaintenance through the control socket.
    pub(super) fn request_maintenance(&mut self, on: bool) {
        self.maintenance_requested = on;
    }

    /// Starts (or, with `None`, ends) announcing every route with GRACEFUL_SHUTDOWN.
    pub(super) fn drain(&mut self, why: Option<Drain>) {
        self.draining = why;
    }

    pub(super) fn draining(&self) -> Option<Drain> {
        self.draining
    }

    pub(super) fn maintenance(&self) -> bool {
        self.maintenance_file_present || self.maintenance_requested
    }

    pub(super) fn mode(&self, control_socket: bool) -> Mode {
        Mode {
            maintenance_file: self.maintenance_file_present,
            maintenance_requested: self.maintenance_requested,
            draining: self.draining.map(Drain::reason),
            control_socket,
        }
    }

    pub(super) fn probe_statuses(&self) -> Vec<ProbeStatus> {
        self.probes.iter().map(|p| p.status.clone()).collect()
    }

    /// Takes a probe's report, received at `now`; the probe's name, or `None` for a report of
    /// a probe a reload replaced (stale, ignored).
    pub(super) fn on_report(&mut self, report: ProbeReport, now: Instant) -> Option<&str> {
        let slot = self.probes.iter_mut().find(|p| p.id == report.index)?;
        let status = &mut slot.status;
        status.healthy = report.health.verdict() == Some(true);
        status.state = report.health.describe();
        status.last_ok = Some(report.ok);
        status.last_output = report.detail;
        status.last_latency = Some(report.latency);
        status.successes = report.health.successes;
        status.failures = report.health.failures;
        if report.changed.is_some() {
            status.last_change = Some(now);
            status.transitions += 1;
        }
        slot.health = report.health;
        self.probes_changed = true;
        Some(&slot.config.name)
    }

    pub(super) fn rearm_preemption(&mut self) {
        for service in &mut self.services {
            service.health.rearm_preemption();
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.services
            .iter()
            .filter_map(|s| s.health.poll_timeout())
            .min()
    }

    /// Feeds every service its probes' verdict and the maintenance flag; returns the changes.
    pub(super) fn update_services(&mut self, now: Instant) -> Vec<(usize, health::Change)> {
        let maintenance = self.maintenance();
        let mut changes = Vec::new();
        for (index, service) in self.services.iter_mut().enumerate() {
            let verdict = health::combine(
                service
                    .probes
                    .iter()
                    .map(|&p| self.probes[p].health.verdict()),
            );
            if let Some(change) = service.health.update(now, verdict, maintenance) {
                changes.push((index, change));
            }
        }
        changes
    }

    /// Every service with its state now (VRRP mode turns them into each instance's health).
    pub(super) fn service_states(&self) -> Vec<(&ServiceConfig, ServiceState)> {
        self.services
            .iter()
            .map(|s| (&s.config, s.health.state()))
            .collect()
    }

    pub(super) fn plan(&self, prefixes: &[IpNet], bgp: &BgpSettings) -> announce::Plan {
        let services: Vec<_> = self
            .services
            .iter()
            .map(|s| (&s.config, &s.health))
            .collect();
        announce::plan(
            prefixes,
            bgp.role,
            bgp.med,
            &services,
            self.draining.is_some(),
        )
    }

    /// Recomputes everything after an input changed: the desired set, the statuses and the
    /// services' transitions (with the event the hook gets). `announcing`: BGP mode's prefixes
    /// and settings; `None` in VRRP mode, which announces nothing (its instances follow the
    /// services' states), so the hook hears role `vrrp` and whether a service is up, demoted
    /// or withdrawn.
    pub(super) fn refresh(
        &mut self,
        now: Instant,
        announcing: Option<(&[IpNet], &BgpSettings)>,
        control_socket: bool,
    ) -> Refresh {
        let changes = self.update_services(now);
        let plan = match announcing {
            Some((prefixes, bgp)) => self.plan(prefixes, bgp),
            None => announce::Plan {
                routes: DesiredRoutes::new(),
                addresses: Vec::new(),
            },
        };
        let probes = std::mem::take(&mut self.probes_changed).then(|| self.probe_statuses());
        let mode = self.mode(control_socket);
        let transitions = changes
            .into_iter()
            .map(|(index, change)| {
                let service = &self.services[index];
                let config = &service.config;
                let (treatment, reason) = announce::treatment(config, &service.health);
                let (announce, role, host_role, addresses) = match announcing {
                    Some((prefixes, bgp)) => {
                        let role = config.role_or(bgp.role);
                        let gated = prefixes.iter().filter(|p| config.gates(p)).copied();
                        let announce = treatment.name(role);
                        (announce, role.as_str(), bgp.role.as_str(), gated.collect())
                    }
                    None => {
                        let announce = match treatment {
                            Treatment::Normal | Treatment::Secondary => "up",
                            Treatment::Demoted(_) => "demoted",
                            Treatment::Withdrawn => "withdrawn",
                        };
                        (announce, "vrrp", "vrrp", Vec::new())
                    }
                };
                Transition {
                    reason,
                    event: HookEvent {
                        service: config.name.clone(),
                        state: change.to.name(),
                        previous: change.from.name(),
                        announce,
                        role,
                        host_role,
                        addresses,
                        vrrp: None,
                    },
                }
            })
            .collect();
        Refresh {
            at: now,
            routes: plan.routes,
            addresses: plan.addresses,
            probes,
            mode,
            transitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::daemon::tests::health;

    const TWO_PROBES: &str = "
probes:
  web: { tcp: 127.0.0.1:80, interval: 1s }
  backend: { tcp: 127.0.0.1:81, interval: 2s }
";

    fn started(changes: &[ProbeChange]) -> Vec<(usize, &str, StartReason)> {
        changes
            .iter()
            .filter_map(|c| match c {
                ProbeChange::Start { id, config, why } => Some((*id, config.name.as_str(), *why)),
                ProbeChange::Stop { .. } => None,
            })
            .collect()
    }

    fn report(id: usize, ok: bool, health: &mut ProbeHealth) -> ProbeReport {
        let changed = health.observe(ok);
        ProbeReport {
            index: id,
            ok,
            detail: format!("check {}", if ok { "passed" } else { "failed" }),
            latency: Duration::from_millis(3),
            health: health.clone(),
            changed,
        }
    }

    #[test]
    fn at_start_every_probe_starts_and_a_reload_restarts_only_changed_ones() {
        let mut gate = Gate::default();
        let changes = gate.reconfigure(&health(TWO_PROBES));
        assert_eq!(
            started(&changes),
            // The file's probes come in name order.
            [
                (0, "backend", StartReason::Initial),
                (1, "web", StartReason::Initial)
            ]
        );
        assert_eq!(changes.len(), 2, "nothing to stop at start");

        let changes = gate.reconfigure(&health(
            "
probes:
  web: { tcp: 127.0.0.1:80, interval: 1s }
  backend: { tcp: 127.0.0.1:81, interval: 5s }
  db: { tcp: 127.0.0.1:5432 }
",
        ));
        assert_eq!(
            started(&changes),
            [
                (2, "backend", StartReason::Changed),
                (3, "db", StartReason::Added)
            ]
        );
        assert!(changes.contains(&ProbeChange::Stop {
            id: 0,
            name: "backend".to_string(),
            removed: false
        }));
        assert_eq!(changes.len(), 3, "web keeps its task: {changes:?}");

        let changes = gate.reconfigure(&health(
            "
probes:
  web: { tcp: 127.0.0.1:80, interval: 1s }
",
        ));
        assert_eq!(
            changes,
            [
                ProbeChange::Stop {
                    id: 2,
                    name: "backend".to_string(),
                    removed: true
                },
                ProbeChange::Stop {
                    id: 3,
                    name: "db".to_string(),
                    removed: true
                },
            ]
        );
    }

    #[test]
    fn a_report_of_a_probe_a_reload_replaced_is_ignored() {
        let mut gate = Gate::default();
        gate.reconfigure(&health(TWO_PROBES));
        gate.reconfigure(&health(
            "
probes:
  web: { tcp: 127.0.0.1:80, interval: 1s }
  backend: { tcp: 127.0.0.1:81, interval: 5s }
",
        ));
        let t0 = crate::clock::now();
        // backend was probe 0; the reload replaced it with probe 2.
        let mut old = ProbeHealth::new(1, 1);
        assert_eq!(gate.on_report(report(0, true, &mut old), t0), None);
        assert_eq!(gate.probe_statuses()[0].state, "waiting");

        let mut new = ProbeHealth::new(1, 1);
        assert_eq!(
            gate.on_report(report(2, true, &mut new), t0),
            Some("backend")
        );
        let status = &gate.probe_statuses()[0];
        assert!(status.healthy);
        assert_eq!(status.last_output, "check passed");
        assert_eq!((status.transitions, status.last_change), (1, Some(t0)));
    }

    #[test]
    fn the_maintenance_file_counts_only_while_one_is_configured() {
        let mut gate = Gate::default();
        gate.reconfigure(&health(TWO_PROBES));
        assert!(!gate.set_maintenance_file_present(true));
        assert!(!gate.maintenance());

        gate.reconfigure(&health(&format!(
            "{TWO_PROBES}maintenance_file: /run/elastic-test/maintenance\n"
        )));
        assert!(gate.set_maintenance_file_present(true));
        assert!(gate.maintenance() && gate.mode(false).maintenance_file);
        assert!(!gate.set_maintenance_file_present(true), "no change");

        gate.reconfigure(&health(TWO_PROBES));
        assert!(!gate.maintenance(), "the file is no longer configured");
    }

    #[test]
    fn the_status_names_why_the_routes_are_drained() {
        let mut gate = Gate::default();
        assert_eq!(gate.mode(true).draining, None);
        gate.drain(Some(Drain::Operator));
        assert_eq!(gate.mode(true).draining.as_deref(), Some("elastic drain"));
        gate.drain(Some(Drain::Stopping("SIGTERM")));
        assert_eq!(
            gate.mode(true).draining.as_deref(),
            Some("stopping (SIGTERM)")
        );
        gate.drain(None);
        assert_eq!(gate.draining(), None);
    }

    #[test]
    fn a_service_goes_up_when_its_probe_passes_and_the_hook_hears_of_it() {
        let mut gate = Gate::default();
        gate.reconfigure(&health(
            "
probes:
  web: { tcp: 127.0.0.1:80 }
services:
  - name: www
    probes: [web]
",
        ));
        let settings = crate::daemon::tests::settings(&[]);
        let prefixes: Vec<IpNet> = vec!["192.0.2.10/32".parse().unwrap()];
        let t0 = crate::clock::now();
        let first = gate.refresh(t0, Some((&prefixes, &settings.mode)), false);
        assert!(
            first.routes.is_empty(),
            "waits for the probe's first verdict"
        );
        assert!(first.probes.is_some());

        let mut health = ProbeHealth::new(1, 1);
        gate.on_report(report(0, true, &mut health), t0);
        let refresh = gate.refresh(t0, Some((&prefixes, &settings.mode)), false);
        assert_eq!(refresh.routes.len(), 1);
        let [transition] = refresh.transitions.as_slice() else {
            panic!("one transition expected");
        };
        assert_eq!(
            (
                transition.event.service.as_str(),
                transition.event.state,
                transition.event.role
            ),
            ("www", "up", "primary")
        );
        assert_eq!(transition.event.addresses, prefixes);
        // Nothing changed since: nothing to publish for the probes, no transition.
        let again = gate.refresh(t0, Some((&prefixes, &settings.mode)), false);
        assert!(again.probes.is_none() && again.transitions.is_empty());
    }

    #[test]
    fn in_vrrp_mode_nothing_is_announced_and_the_hook_hears_no_bgp_role() {
        let mut gate = Gate::default();
        gate.reconfigure(&health(
            "
services:
  - name: www
    probes: []
",
        ));
        let refresh = gate.refresh(crate::clock::now(), None, true);
        assert!(refresh.routes.is_empty() && refresh.addresses.is_empty());
        assert!(refresh.mode.control_socket);
        let [transition] = refresh.transitions.as_slice() else {
            panic!("one transition expected");
        };
        let event = &transition.event;
        assert_eq!(
            (event.state, event.announce, event.role, event.host_role),
            ("up", "up", "vrrp", "vrrp")
        );
        assert!(event.addresses.is_empty() && event.vrrp.is_none());
    }

    #[test]
    fn the_hook_hears_the_services_role_and_the_hosts() {
        let mut gate = Gate::default();
        gate.reconfigure(&health(
            "
services:
  - name: site-b
    addresses: [192.0.2.11/32]
    probes: []
    role: secondary
",
        ));
        let settings = crate::daemon::tests::settings(&[]);
        let prefixes: Vec<IpNet> = vec![
            "192.0.2.10/32".parse().unwrap(),
            "192.0.2.11/32".parse().unwrap(),
        ];
        // No probe: up at once, announced with the service's role.
        let refresh = gate.refresh(
            crate::clock::now(),
            Some((&prefixes, &settings.mode)),
            false,
        );
        let [transition] = refresh.transitions.as_slice() else {
            panic!("one transition expected");
        };
        let event = &transition.event;
        assert_eq!(
            (event.state, event.announce, event.role, event.host_role),
            ("up", "secondary", "secondary", "primary")
        );
        assert_eq!(event.addresses, prefixes[1..]);
        let roles: Vec<_> = refresh.addresses.iter().map(|a| a.role).collect();
        assert_eq!(
            roles,
            [crate::model::Role::Primary, crate::model::Role::Secondary]
        );

        // A reload that changes only the role keeps the service's state and applies the role.
        gate.reconfigure(&health(
            "
services:
  - name: site-b
    addresses: [192.0.2.11/32]
    probes: []
    role: primary
",
        ));
        let reloaded = gate.refresh(
            crate::clock::now(),
            Some((&prefixes, &settings.mode)),
            false,
        );
        assert!(reloaded.transitions.is_empty(), "still up: no transition");
        assert_eq!(reloaded.addresses[1].role, crate::model::Role::Primary);
        assert_eq!(
            reloaded.routes[&prefixes[1]].communities,
            [crate::model::COMMUNITY_PRIMARY]
        );
    }
}
