//! The health gate: probes' and services' state, the maintenance flag and the hooks, turned into
//! the desired route set the sessions announce. The decisions are in `health` and `announce`;
//! this feeds them and publishes the results.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ipnet::IpNet;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::{now, summary};
use crate::announce::{self, DesiredRoutes};
use crate::cli::Role;
use crate::config::{HealthConfig, HookConfig, ProbeConfig, ServiceConfig};
use crate::health::{self, ProbeHealth, ServiceHealth};
use crate::hooks::{HookEvent, Hooks};
use crate::probe::{self, ProbeReport};
use crate::settings::Settings;
use crate::status::{AddressStatus, DaemonInfo, Mode, ProbeStatus, SessionList};
use crate::systemd;

/// The channels the event loop publishes into.
pub(super) struct Published {
    pub(super) routes: watch::Sender<Arc<DesiredRoutes>>,
    pub(super) addresses: watch::Sender<Arc<Vec<AddressStatus>>>,
    pub(super) probes: watch::Sender<Arc<Vec<ProbeStatus>>>,
    pub(super) mode: watch::Sender<Mode>,
    pub(super) info: watch::Sender<Arc<DaemonInfo>>,
    pub(super) sessions: watch::Sender<SessionList>,
}

/// A running probe: its config, its task and what it last reported.
pub(super) struct ProbeSlot {
    /// Unique for the daemon's life: reports of a probe replaced by a reload are recognised.
    pub(super) id: usize,
    pub(super) config: ProbeConfig,
    pub(super) task: JoinHandle<()>,
    pub(super) health: ProbeHealth,
    pub(super) status: ProbeStatus,
}

pub(super) struct ServiceSlot {
    pub(super) config: ServiceConfig,
    pub(super) health: ServiceHealth,
    /// Indices of its probes in [`Gate::probes`].
    pub(super) probes: Vec<usize>,
}

/// Probes' and services' health, maintenance, draining and the hook: everything that gates the
/// announcements. The decisions are in `health` and `announce`; this only feeds and publishes.
pub(super) struct Gate {
    pub(super) probes: Vec<ProbeSlot>,
    pub(super) next_probe_id: usize,
    pub(super) services: Vec<ServiceSlot>,
    pub(super) maintenance_file: Option<PathBuf>,
    pub(super) maintenance_file_present: bool,
    /// SetMaintenance(on) through the control socket.
    pub(super) maintenance_requested: bool,
    /// Why every route carries GRACEFUL_SHUTDOWN now (`elastic drain`, or a planned stop).
    pub(super) draining: Option<String>,
    pub(super) control_socket: bool,
    pub(super) hook_config: Option<HookConfig>,
    pub(super) hooks: Option<Hooks>,
    pub(super) probes_changed: bool,
    /// Set by the first [`Gate::reconfigure`].
    pub(super) configured: bool,
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
    /// Starts the probes of `health`; their reports go to `reports`.
    pub(super) fn new(health: &HealthConfig, reports: &mpsc::Sender<ProbeReport>) -> Gate {
        let mut gate = Gate {
            probes: Vec::new(),
            next_probe_id: 0,
            services: Vec::new(),
            maintenance_file: None,
            maintenance_file_present: false,
            maintenance_requested: false,
            draining: None,
            control_socket: false,
            hook_config: None,
            hooks: None,
            probes_changed: true,
            configured: false,
        };
        gate.reconfigure(health, reports);
        gate
    }

    pub(super) fn spawn_probe(
        &mut self,
        config: &ProbeConfig,
        reports: &mpsc::Sender<ProbeReport>,
    ) -> ProbeSlot {
        let id = self.next_probe_id;
        self.next_probe_id += 1;
        ProbeSlot {
            id,
            config: config.clone(),
            task: probe::spawn(id, config.clone(), reports.clone()),
            health: ProbeHealth::new(config.rise, config.fall),
            status: waiting_status(&config.name),
        }
    }

    /// Takes on `health`: a probe with the same name and the same settings keeps its task and
    /// state; a new or changed one starts over; a removed one stops. A service keeps its state
    /// when its name, announce_delay and preempt are unchanged.
    pub(super) fn reconfigure(
        &mut self,
        health: &HealthConfig,
        reports: &mpsc::Sender<ProbeReport>,
    ) {
        // At start every probe is new; only later is one "added".
        let reload = std::mem::replace(&mut self.configured, true);
        let mut old = std::mem::take(&mut self.probes);
        let mut probes = Vec::with_capacity(health.probes.len());
        for config in &health.probes {
            if let Some(index) = old.iter().position(|p| p.config == *config) {
                probes.push(old.remove(index));
                continue;
            }
            if old.iter().any(|p| p.config.name == config.name) {
                info!(probe = config.name, "probe changed: starting over");
            } else if reload {
                info!(probe = config.name, "probe added");
            }
            probes.push(self.spawn_probe(config, reports));
        }
        for gone in old {
            gone.task.abort();
            if !health.probes.iter().any(|p| p.name == gone.config.name) {
                info!(probe = gone.config.name, "probe removed");
            }
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
        self.read_maintenance_file();
        if self.hook_config != health.hook {
            self.hook_config = health.hook.clone();
            self.hooks = health.hook.clone().map(Hooks::spawn);
        }
        self.probes_changed = true;
    }

    pub(super) fn stop_probes(&mut self) {
        for probe in &self.probes {
            probe.task.abort();
        }
    }

    /// Re-reads whether the maintenance file exists; whether that changed.
    pub(super) fn read_maintenance_file(&mut self) -> bool {
        let present = self.maintenance_file.as_deref().is_some_and(Path::exists);
        std::mem::replace(&mut self.maintenance_file_present, present) != present
    }

    pub(super) fn maintenance(&self) -> bool {
        self.maintenance_file_present || self.maintenance_requested
    }

    pub(super) fn mode(&self, control_socket: bool) -> Mode {
        Mode {
            maintenance_file: self.maintenance_file_present,
            maintenance_requested: self.maintenance_requested,
            draining: self.draining.clone(),
            control_socket,
        }
    }

    pub(super) fn probe_statuses(&self) -> Vec<ProbeStatus> {
        self.probes.iter().map(|p| p.status.clone()).collect()
    }

    pub(super) fn on_report(&mut self, report: ProbeReport) {
        // A report of a probe that a reload replaced is stale.
        let Some(slot) = self.probes.iter_mut().find(|p| p.id == report.index) else {
            return;
        };
        let name = &slot.config.name;
        if let Some(verdict) = report.changed {
            let level_up = if verdict { "up" } else { "down" };
            info!(
                probe = name,
                state = level_up,
                detail = report.detail,
                "probe verdict"
            );
        } else if !report.ok {
            debug!(probe = name, detail = report.detail, "probe failed");
        }
        let status = &mut slot.status;
        status.healthy = report.health.verdict() == Some(true);
        status.state = report.health.describe();
        status.last_ok = Some(report.ok);
        status.last_output = report.detail;
        status.last_latency = Some(report.latency);
        status.successes = report.health.successes;
        status.failures = report.health.failures;
        if report.changed.is_some() {
            status.last_change = Some(now());
            status.transitions += 1;
        }
        slot.health = report.health;
        self.probes_changed = true;
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

    pub(super) fn plan(&self, prefixes: &[IpNet], settings: &Settings) -> announce::Plan {
        let services: Vec<_> = self
            .services
            .iter()
            .map(|s| (&s.config, &s.health))
            .collect();
        announce::plan(
            prefixes,
            settings.role,
            settings.med,
            &services,
            self.draining.is_some(),
        )
    }

    /// Recomputes everything after an input changed, publishes, logs and runs hooks. The desired
    /// set is handed to the sessions only when it differs, so a probe that passes again sends
    /// nothing.
    pub(super) fn refresh(
        &mut self,
        prefixes: &[IpNet],
        settings: &Settings,
        route_servers: usize,
        out: &Published,
    ) {
        let changes = self.update_services(now());
        let plan = self.plan(prefixes, settings);
        let draining = self.draining.as_deref();
        out.routes.send_if_modified(|current| {
            if **current == plan.routes {
                return false;
            }
            *current = Arc::new(plan.routes.clone());
            systemd::status(&summary(current, route_servers, draining));
            true
        });
        out.addresses.send_if_modified(|current| {
            if **current == plan.addresses {
                return false;
            }
            *current = Arc::new(plan.addresses.clone());
            true
        });
        if std::mem::take(&mut self.probes_changed) {
            out.probes.send_replace(Arc::new(self.probe_statuses()));
        }
        let mode = self.mode(self.control_socket || settings.control_socket.is_some());
        out.mode.send_if_modified(|current| {
            if *current == mode {
                return false;
            }
            *current = mode;
            true
        });
        for (index, change) in changes {
            let service = &self.services[index];
            let config = &service.config;
            let (treatment, reason) = announce::treatment(config, &service.health);
            let announce_as = treatment.name(settings.role);
            info!(
                service = config.name,
                from = change.from.name(),
                to = change.to.name(),
                announce = announce_as,
                reason,
                "service state changed"
            );
            if let Some(hooks) = &self.hooks {
                hooks.notify(HookEvent {
                    service: config.name.clone(),
                    state: change.to.name(),
                    previous: change.from.name(),
                    announce: announce_as,
                    role: match settings.role {
                        Role::Primary => "primary",
                        Role::Secondary => "secondary",
                    },
                    addresses: prefixes
                        .iter()
                        .filter(|p| config.gates(p))
                        .copied()
                        .collect(),
                });
            }
        }
    }
}
