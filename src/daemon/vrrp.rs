//! VRRP mode's event loop: a config with `vrrp:` runs no BGP sessions and one driver
//! ([`crate::vrrp::driver`]) per instance. Probes, services, the maintenance file, the control
//! socket (maintenance, drain), hooks, the API and the metrics are those of BGP mode; what they
//! ask of each instance is decided in `vrrp_plan.rs`, and carried out here.
//!
//! ```text
//!  probes, maintenance file, control socket ─► gate ─► vrrp_plan::instance_health
//!                                                        │ watch<Command> per instance
//!                                                        ▼
//!                                      instance task ×N (driver; retried after an error)
//!                                        │ status ─► watch<VrrpInstance> ─► api, metrics
//!                                        └ state changes (mpsc) ─► this loop ─► log, hook
//! ```
//!
//! A planned stop (SIGTERM, SIGINT) hands every instance over: priority 0, the addresses kept
//! until the new master's advert arrives or a master-down interval passes, then removed. A
//! second signal removes them at once.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::gate::{Drain, Gate};
use super::listeners::Listeners;
use super::probes::ProbeTasks;
use super::publish::Published;
use super::vrrp_plan::{
    InstanceChange, hook_event, instance_health, instance_name, plan_instances,
};
use super::{
    DaemonError, Gating, OperatorEvent, daemon_info, log_services, on_probe_report, poll_interval,
    reload, reread_maintenance_file, supervise, tick,
};
use crate::api;
use crate::cli::Invocation;
use crate::clock::{self, now, sleep_until};
use crate::config::VrrpConfig;
use crate::hooks::Hooks;
use crate::probe::ProbeReport;
use crate::settings::{ByMode, Settings};
use crate::status::{Reloads, VrrpInstance, VrrpList};
use crate::systemd;
use crate::vrrp::driver::{self, Command, Reports};
use crate::vrrp::instance::{Health, InstanceStatus, State};

/// How long an instance that could not run (no such interface, no address yet) waits before
/// trying again.
const RETRY: Duration = Duration::from_secs(5);
/// After a link change, how long a failed instance waits before trying again: time for a
/// recreated interface to get its address.
const LINK_SETTLE: Duration = Duration::from_millis(200);

/// An instance's state change, from its task: (slot id, from, to).
type Transition = (u64, State, State);

/// Runs VRRP mode until `events` asks it to stop and every instance has handed over.
pub(super) async fn run(
    mut settings: Settings<Vec<VrrpConfig>>,
    invocation: Option<Invocation>,
    mut events: mpsc::Receiver<OperatorEvent>,
) -> Result<(), DaemonError> {
    let listeners = Listeners::bind(&settings)?;
    settings.warnings.clear();
    let started_at = clock::system_now();
    let hostname = super::hostname();
    info!(
        version = env!("CARGO_PKG_VERSION"),
        instances = %settings.mode.iter().map(instance_name).collect::<Vec<_>>().join(","),
        "elastic starting in VRRP mode (no BGP sessions)"
    );
    log_services(&settings.health);

    let Gating {
        gate,
        probe_tasks,
        hooks,
        reports,
    } = Gating::start(&settings.health);
    let info = daemon_info(None, started_at, &hostname, &Reloads::default());
    let mode = gate.mode(settings.control_socket.is_some());
    // No routes, no sessions, no BFD: only the instances and the probes change.
    let (out, mut source) = Published::new(
        info,
        Default::default(),
        Vec::new(),
        gate.probe_statuses(),
        mode,
    );
    let (vrrp_tx, vrrp_rx) = watch::channel(VrrpList::default());
    source.vrrp = vrrp_rx;
    let (_serving, control_rx) = listeners.serve(source);

    let (transitions_tx, transitions) = mpsc::unbounded_channel();
    let mut daemon = VrrpDaemon {
        settings,
        invocation,
        gate,
        probe_tasks,
        hooks,
        out,
        vrrp: vrrp_tx,
        slots: Vec::new(),
        leaving: Vec::new(),
        next_id: 0,
        transitions_tx,
        reloads: Reloads::default(),
        events_open: true,
        panicked: false,
    };
    for config in daemon.settings.mode.clone() {
        let slot = daemon.spawn(config, None);
        daemon.slots.push(slot);
    }
    daemon.publish_list();
    daemon.refresh();
    systemd::ready(&daemon.summary());

    let mut inputs = Inputs {
        events: &mut events,
        reports,
        control: control_rx,
        transitions,
    };
    let signal = daemon.serve(&mut inputs).await;
    daemon.stop(signal, &mut inputs).await;
    if daemon.panicked {
        return Err(DaemonError::Panicked);
    }
    Ok(())
}

struct Inputs<'a> {
    events: &'a mut mpsc::Receiver<OperatorEvent>,
    reports: mpsc::Receiver<ProbeReport>,
    control: mpsc::Receiver<api::elastic::ControlRequest>,
    transitions: mpsc::UnboundedReceiver<Transition>,
}

/// One instance's task and the daemon's ends of its channels.
struct Slot {
    /// Unique for the daemon's life: state changes of a replaced instance are told apart.
    id: u64,
    config: VrrpConfig,
    commands: watch::Sender<Command>,
    status: watch::Receiver<VrrpInstance>,
    /// `None` once a restart handed it to its successor (which waits for it).
    task: Option<JoinHandle<()>>,
}

struct VrrpDaemon {
    settings: Settings<Vec<VrrpConfig>>,
    invocation: Option<Invocation>,
    gate: Gate,
    probe_tasks: ProbeTasks,
    hooks: Option<Hooks>,
    out: Published,
    vrrp: watch::Sender<VrrpList>,
    slots: Vec<Slot>,
    /// Instances a reload removed or replaced, handing over.
    leaving: Vec<Slot>,
    next_id: u64,
    transitions_tx: mpsc::UnboundedSender<Transition>,
    reloads: Reloads,
    events_open: bool,
    panicked: bool,
}

impl VrrpDaemon {
    /// Starts the task of one instance, after `after` (the instance it replaces) has ended.
    fn spawn(&mut self, config: VrrpConfig, after: Option<JoinHandle<()>>) -> Slot {
        let id = self.next_id;
        self.next_id += 1;
        let health = self.health_of(&config);
        let (commands, mut commands_rx) = watch::channel(Command::Run {
            health,
            priority: config.priority,
        });
        let (status_tx, status) = watch::channel(VrrpInstance {
            name: instance_name(&config),
            interface: config.interface.clone(),
            vrid: config.vrid,
            addresses: config.addresses.clone(),
            status: InstanceStatus::initial(config.priority, config.advert_interval),
            error: None,
        });
        let transitions = self.transitions_tx.clone();
        let task_config = config.clone();
        let task = tokio::spawn(async move {
            if let Some(previous) = after {
                let _ = previous.await;
            }
            run_instance(task_config, id, &mut commands_rx, &status_tx, transitions).await;
        });
        Slot {
            id,
            config,
            commands,
            status,
            task: Some(task),
        }
    }

    fn health_of(&self, config: &VrrpConfig) -> Health {
        let stand_down = self.gate.maintenance() || self.gate.draining().is_some();
        instance_health(config, &self.gate.service_states(), stand_down)
    }

    /// Serves until a stop; the signal that stopped it.
    async fn serve(&mut self, inputs: &mut Inputs<'_>) -> &'static str {
        let mut watchdog = systemd::watchdog_interval().map(tokio::time::interval);
        let mut maintenance_poll = poll_interval(self.settings.health.maintenance_poll);
        loop {
            let deadline = self.gate.poll_timeout();
            tokio::select! {
                event = inputs.events.recv(), if self.events_open => match event {
                    Some(OperatorEvent::Stop(signal)) => return signal,
                    Some(OperatorEvent::Panicked) => {
                        error!("a task panicked: handing over in order; exiting with an error after");
                        self.panicked = true;
                        return supervise::PANIC;
                    }
                    Some(OperatorEvent::Reload) => {
                        let poll = self.settings.health.maintenance_poll;
                        self.on_hangup().await;
                        if self.settings.health.maintenance_poll != poll {
                            maintenance_poll = poll_interval(self.settings.health.maintenance_poll);
                        }
                    }
                    None => self.events_open = false,
                },
                _ = tick(&mut watchdog) => systemd::watchdog(),
                Some(report) = inputs.reports.recv() => {
                    on_probe_report(&mut self.gate, report);
                    self.refresh();
                }
                Some(request) = inputs.control.recv() => {
                    let answer = self.on_control(request.command);
                    let _ = request.reply.send(answer);
                }
                Some((id, from, to)) = inputs.transitions.recv() => self.on_transition(id, from, to),
                _ = maintenance_poll.tick(), if self.gate.maintenance_file.is_some() => {
                    if reread_maintenance_file(&mut self.gate) {
                        self.refresh();
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => self.refresh(),
            }
        }
    }

    /// The planned stop: every instance hands over (priority 0), then ends; another signal
    /// makes them remove their addresses at once.
    async fn stop(&mut self, signal: &'static str, inputs: &mut Inputs<'_>) {
        systemd::stopping();
        info!(
            signal,
            "stopping: every master hands over (priority 0) and keeps its addresses until the new \
             master speaks or the master-down interval passes (a second signal skips the wait)"
        );
        self.probe_tasks.stop_all();
        self.gate.drain(Some(Drain::Stopping(signal)));
        self.publish_health();
        for slot in self.slots.iter().chain(&self.leaving) {
            slot.commands.send_replace(Command::Stop);
        }
        let mut tasks: Vec<JoinHandle<()>> = self
            .slots
            .iter_mut()
            .chain(&mut self.leaving)
            .filter_map(|s| s.task.take())
            .collect();
        let all_done = async {
            for task in &mut tasks {
                let _ = task.await;
            }
        };
        tokio::pin!(all_done);
        // A handover lasts up to a master-down interval (over 2 min at a 40 s advert interval).
        let mut watchdog = systemd::watchdog_interval().map(tokio::time::interval);
        loop {
            tokio::select! {
                () = &mut all_done => break,
                _ = tick(&mut watchdog) => systemd::watchdog(),
                event = inputs.events.recv(), if self.events_open => match event {
                    Some(OperatorEvent::Stop(_) | OperatorEvent::Panicked) => {
                        warn!("another signal: removing the addresses now");
                        for slot in self.slots.iter().chain(&self.leaving) {
                            slot.commands.send_replace(Command::StopNow);
                        }
                    }
                    Some(OperatorEvent::Reload) => info!("SIGHUP while stopping: ignored"),
                    None => self.events_open = false,
                },
                Some((id, from, to)) = inputs.transitions.recv() => self.on_transition(id, from, to),
            }
        }
        while let Ok((id, from, to)) = inputs.transitions.try_recv() {
            self.on_transition(id, from, to);
        }
        info!("stopped");
    }

    /// Recomputes the services and what each instance must do, and publishes them.
    /// Publishes the services' state (status, metrics, hooks); no routes in this mode.
    fn publish_health(&mut self) {
        let refresh = self
            .gate
            .refresh(now(), None, self.settings.control_socket.is_some());
        self.out.publish(refresh, 0, self.hooks.as_ref());
    }

    /// [`Self::publish_health`], then tells each instance the health and priority it runs at.
    fn refresh(&mut self) {
        self.publish_health();
        for index in 0..self.slots.len() {
            let health = self.health_of(&self.slots[index].config);
            let slot = &self.slots[index];
            let priority = slot.config.priority;
            let wanted = Command::Run { health, priority };
            let changed = slot.commands.send_if_modified(|command| match command {
                Command::Run { .. } if *command != wanted => {
                    *command = wanted;
                    true
                }
                _ => false,
            });
            if changed {
                info!(
                    instance = instance_name(&slot.config),
                    ?health,
                    priority,
                    "VRRP: health or configured priority changed"
                );
            }
        }
    }

    fn on_transition(&mut self, id: u64, from: State, to: State) {
        let Some(slot) = self.slots.iter().chain(&self.leaving).find(|s| s.id == id) else {
            return;
        };
        let name = instance_name(&slot.config);
        info!(
            instance = name,
            from = from.name(),
            to = to.name(),
            "VRRP state changed"
        );
        // Hooks get master, backup or fault; Initialize is only the way in and out.
        if to != State::Initialize
            && let Some(hooks) = &self.hooks
        {
            hooks.notify(hook_event(&slot.config, from, to));
        }
        systemd::status(&self.summary());
    }

    /// The one-line STATUS for `systemctl status`.
    fn summary(&self) -> String {
        let states: Vec<String> = self
            .slots
            .iter()
            .map(|s| {
                let status = s.status.borrow();
                format!("{} {}", status.name, status.status.state.name())
            })
            .collect();
        format!("VRRP: {}", states.join(", "))
    }

    fn publish_list(&self) {
        let list: Vec<_> = self.slots.iter().map(|s| s.status.clone()).collect();
        self.vrrp.send_replace(Arc::new(list));
    }

    fn on_control(&mut self, command: api::elastic::ControlCommand) -> Result<bool, String> {
        match command {
            api::elastic::ControlCommand::SetMaintenance(on) => {
                info!(on, "maintenance requested through the control socket");
                self.gate.request_maintenance(on);
                self.refresh();
                Ok(on)
            }
            api::elastic::ControlCommand::Drain(on) => {
                if on {
                    info!("elastic drain: every master hands over (priority 0)");
                    self.gate.drain(Some(Drain::Operator));
                } else {
                    info!("elastic undrain: the instances take part again");
                    self.gate.drain(None);
                }
                self.refresh();
                Ok(on)
            }
        }
    }

    /// SIGHUP: reload the config file; unchanged instances keep running, changed ones hand over
    /// and restart, removed ones hand over and end, new ones start.
    async fn on_hangup(&mut self) {
        let Some(invocation) = self.invocation.clone() else {
            info!("SIGHUP: re-reading the maintenance file");
            reread_maintenance_file(&mut self.gate);
            self.refresh();
            return;
        };
        let from_file = self.settings.config_file.is_some();
        let outcome = match reload::read_settings(invocation, from_file).await {
            Err(error) => Err(error),
            Ok(new) => match new.by_mode() {
                ByMode::Bgp(_) => Err(
                    "the new configuration has no vrrp: switching to BGP mode needs a restart"
                        .to_string(),
                ),
                ByMode::Vrrp(new) => Ok(*new),
            },
        };
        match outcome {
            Err(error) => {
                error!(%error, "SIGHUP: the configuration is refused; the running one stays");
                self.record_reload(Err(error));
            }
            Ok(new) => {
                self.apply(new);
                self.record_reload(Ok(()));
            }
        }
        reread_maintenance_file(&mut self.gate);
        self.refresh();
    }

    fn apply(&mut self, mut new: Settings<Vec<VrrpConfig>>) {
        let old = &self.settings;
        for warning in std::mem::take(&mut new.warnings) {
            warn!("{warning}");
        }
        for key in reload::keep_restart_only(old, &mut new) {
            warn!(
                key,
                "changed in the configuration: needs a restart to take effect; keeping the running value"
            );
        }
        if new == *old {
            info!("SIGHUP: configuration unchanged");
            return;
        }
        info!(file = ?new.config_file, "SIGHUP: applying the changed configuration");
        if new.health != old.health {
            let hook = self.gate.hook.clone();
            self.probe_tasks.apply(self.gate.reconfigure(&new.health));
            if self.gate.hook != hook {
                self.hooks = self.gate.hook.clone().map(Hooks::spawn);
            }
            log_services(&new.health);
        }
        let changes = plan_instances(&old.mode, &new.mode);
        let mut old_slots: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let mut slots: Vec<Option<Slot>> = (0..new.mode.len()).map(|_| None).collect();
        self.settings = new;
        for change in changes {
            match change {
                InstanceChange::Keep { old, new } => {
                    let mut slot = old_slots[old].take().expect("each old instance once");
                    slot.config = self.settings.mode[new].clone();
                    slots[new] = Some(slot);
                }
                InstanceChange::Restart { old, new } => {
                    let mut previous = old_slots[old].take().expect("each old instance once");
                    info!(
                        instance = instance_name(&previous.config),
                        "VRRP instance changed: handing over, then starting again"
                    );
                    previous.commands.send_replace(Command::Stop);
                    let slot = self.spawn(self.settings.mode[new].clone(), previous.task.take());
                    self.leaving.push(previous);
                    slots[new] = Some(slot);
                }
                InstanceChange::Start { new } => {
                    let config = self.settings.mode[new].clone();
                    info!(instance = instance_name(&config), "VRRP instance added");
                    slots[new] = Some(self.spawn(config, None));
                }
                InstanceChange::Stop { old } => {
                    let previous = old_slots[old].take().expect("each old instance once");
                    info!(
                        instance = instance_name(&previous.config),
                        "VRRP instance removed: handing over, then ending"
                    );
                    previous.commands.send_replace(Command::Stop);
                    self.leaving.push(previous);
                }
            }
        }
        self.slots = slots.into_iter().flatten().collect();
        // Those whose driver ended (it held the only receiver) are forgotten.
        self.leaving.retain(|s| !s.commands.is_closed());
        self.publish_list();
    }

    fn record_reload(&mut self, outcome: Result<(), String>) {
        super::record_reload(&mut self.reloads, &self.out, outcome);
    }
}

/// One instance's task: runs the driver, and after an error (no such interface yet, a socket
/// that failed) runs it again [`RETRY`] later, until told to stop.
async fn run_instance(
    config: VrrpConfig,
    id: u64,
    commands: &mut watch::Receiver<Command>,
    status: &watch::Sender<VrrpInstance>,
    transitions: mpsc::UnboundedSender<Transition>,
) {
    let name = instance_name(&config);
    // One link watch for the instance's whole life: the driver reads it while it runs (its
    // interface removed), this loop while it waits (the interface back).
    let mut links = crate::addrs::watch_links().unwrap_or_else(|error| {
        warn!(instance = name, %error, "cannot watch links: a missing interface is looked for every 5 s only");
        // A closed channel: the driver and the wait below see no link changes.
        mpsc::channel(1).1
    });
    loop {
        let instance_config = config.instance_config(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let mut on_status = |fresh: &InstanceStatus| {
            status.send_if_modified(|current| {
                if current.status == *fresh && current.error.is_none() {
                    return false;
                }
                current.status.clone_from(fresh);
                current.error = None;
                true
            });
        };
        let mut on_transition = |from: State, to: State| {
            let _ = transitions.send((id, from, to));
        };
        let reports = Reports {
            status: &mut on_status,
            transition: &mut on_transition,
        };
        let result = driver::run_on(
            instance_config,
            &config.interface,
            config.use_vmac,
            &config.addresses,
            &mut links,
            commands,
            reports,
        )
        .await;
        let (error, missing_link) = match result {
            Ok(_) => return,
            Err(error) => (error.to_string(), error.is_missing_link()),
        };
        let when = match missing_link {
            true => "in 5 s, or when a link appears",
            false => "in 5 s",
        };
        error!(instance = name, %error, "VRRP instance cannot run; trying again {when}");
        status.send_modify(|current| current.error = Some(error));
        // Link changes from before now (the failed run's own, a macvlan made and deleted) are
        // not the interface coming back.
        while links.try_recv().is_ok() {}
        // A link added or renamed may be the missing interface (re)created: try again then,
        // without waiting out RETRY; the short pause lets it get its address first. Any other
        // failure waits RETRY, whatever the links do.
        let link_changed = async {
            match missing_link && links.recv().await.is_some() {
                true => tokio::time::sleep(LINK_SETTLE).await,
                false => std::future::pending().await,
            }
        };
        let stop_asked = async {
            loop {
                if commands.changed().await.is_err()
                    || !matches!(*commands.borrow(), Command::Run { .. })
                {
                    return;
                }
            }
        };
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            () = link_changed => {}
            () = stop_asked => return,
        }
    }
}
