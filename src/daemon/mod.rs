//! The one event loop: binds and watches addresses, runs the probes and the maintenance-file
//! poll, computes the desired route set from the services' health, runs one session per route
//! server, runs hooks on service state changes, answers the control socket, reloads the config
//! on SIGHUP, and stops in order.
//!
//! A config with `vrrp:` runs VRRP mode's loop instead (`vrrp.rs`: one VRRP instance per entry,
//! no BGP sessions; its decisions in `vrrp_plan.rs`).
//!
//! Tasks and channels (the loop is the only task that decides anything):
//!
//! ```text
//!  OperatorEvent (mpsc) ◄── main.rs: SIGTERM, SIGINT, SIGHUP ──┐
//!  ProbeReport (mpsc)   ◄── probe tasks (probes.rs) ───────────┤
//!  () (mpsc)            ◄── netlink address watch ─────────────┼──► daemon loop (one task)
//!  api::elastic::ControlRequest     ◄── control socket (api::serve_control)┤
//!  timers: drain, withdraw, Cease, announce delay, maintenance poll, watchdog ─┘
//!
//!  daemon loop ─► watch<routes> ─────────────────► peer task ×N (bgp::peer)
//!              ─► watch<Option<Notification>> ──► each peer task: its Cease
//!              ─► watch<addresses, probes, mode, info, sessions> ─┐
//!  peer task ×N ─► watch<SessionStatus> ──────────────────────────┴─► StatusSource ─► api, metrics
//!              ─► HookEvent (mpsc) ─► hooks task
//! ```
//!
//! The decisions are pure and tested without IO: the stop sequence in `shutdown.rs`, what a
//! reload changes in `reload.rs`, which sessions are kept, restarted or stopped in
//! `peers::plan_sessions`, probe and service state in `gate.rs`. The rest carries them out:
//! `addresses.rs` binds and unbinds, `probes.rs` starts and stops probe tasks, `publish.rs` fills
//! the watch channels and feeds the hook, `peers.rs` runs the sessions.
//!
//! A planned stop (SIGTERM, SIGINT) is a graceful shutdown (RFC 8326): every announced route is
//! re-announced demoted with GRACEFUL_SHUTDOWN 65535:0 for `drain_time` while the host keeps
//! serving, then everything is withdrawn, then each session gets a Cease / Administrative
//! Shutdown with a shutdown message (RFC 9003), then what elastic bound is unbound. A second
//! signal skips the drain; a third skips the waits.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::addrs::{self, AddrChange, Netlink};
use crate::api::{self, ApiError};
use crate::bgp::wire::Notification;
use crate::cli::Invocation;
use crate::clock::{self, now, sleep_until};
use crate::config::HealthConfig;
use crate::control::ControlError;
use crate::hooks::Hooks;
use crate::memory;
use crate::metrics::MetricsError;
use crate::model::DesiredRoutes;
use crate::probe::ProbeReport;
use crate::settings::{BgpSettings, ByMode, Settings};
use crate::status::{BgpInfo, DaemonInfo, Reloads};
use crate::systemd;

mod addresses;
mod gate;
mod listeners;
mod peers;
mod probes;
mod publish;
mod reload;
mod shutdown;
mod supervise;
mod vrrp;
mod vrrp_plan;

use crate::model::CONNECT_RETRY;
use addresses::{Ownership, bind_addresses, bind_listed, eligible, reclaim, unbind_addresses};
use gate::{Drain, Gate};
use listeners::Listeners;
use peers::{Peers, wanted_sessions};
use probes::ProbeTasks;
use publish::{Published, summary};
use reload::ReloadPlan;
use shutdown::{Cut, DrainEnd, Facts, Shutdown, Step};
pub use supervise::forward_panics;

/// Address changes come in bursts (an `ip addr add` of an IPv6 address is several messages).
const ADDRESS_SETTLE: Duration = Duration::from_millis(20);

/// What the operator asks of the running daemon (main.rs maps the signals to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorEvent {
    /// SIGTERM or SIGINT, by name (logged, and sent in the Cease): stop in order; each further
    /// one cuts the current wait short.
    Stop(&'static str),
    /// SIGHUP: reload the config file, rescan the addresses, re-read the maintenance file and
    /// re-arm preemption.
    Reload,
    /// A thread or task panicked ([`forward_panics`]): stop in order, then exit with an error.
    Panicked,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("netlink: {0}")]
    Netlink(std::io::Error),
    #[error("cannot bind {net} to lo: {error}")]
    Bind { net: IpNet, error: std::io::Error },
    #[error(
        "unable to detect IPs: no eligible address on {where_} (add one to lo, or pass -address CIDR)"
    )]
    NoAddresses { where_: &'static str },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("a task panicked (see above); stopped in order so that a clean daemon can start")]
    Panicked,
}

/// Why a reload in BGP mode refuses a config with `vrrp:`.
const VRRP_NEEDS_RESTART: &str =
    "the new configuration has vrrp: switching to VRRP mode needs a restart";

/// Runs until `events` asks it to stop (and the stop sequence is over). `invocation` is what a
/// reload re-reads (the flags keep winning over the file); without it a reload only rescans
/// addresses and the maintenance file. The caller installs the signal handlers first, so a
/// signal during start-up cannot kill the daemon with addresses half bound.
pub async fn run(
    settings: Settings,
    invocation: Option<Invocation>,
    events: mpsc::Receiver<OperatorEvent>,
) -> Result<(), DaemonError> {
    match settings.by_mode() {
        ByMode::Vrrp(settings) => vrrp::run(*settings, invocation, events).await,
        ByMode::Bgp(settings) => run_bgp(*settings, invocation, events).await,
    }
}

async fn run_bgp(
    mut settings: Settings<BgpSettings>,
    invocation: Option<Invocation>,
    mut events: mpsc::Receiver<OperatorEvent>,
) -> Result<(), DaemonError> {
    let listeners = Listeners::bind(&settings)?;
    // Main logged them; a reload logs its own.
    settings.warnings.clear();
    let started_at = clock::system_now();
    let netlink = Netlink::new().map_err(DaemonError::Netlink)?;
    // Subscribe before the first listing, so no change can slip between the two.
    let address_changes = addrs::watch_addresses().map_err(DaemonError::Netlink)?;
    // What an earlier run left bound goes first: removed ones must never be announced.
    let ownership = Ownership::detect();
    let bgp = &settings.mode;
    // One listing serves both: reclaiming removes only addresses no longer wanted, which binding
    // never looks at, and adopts ones already there, which binding skips anyway.
    let existing = netlink.addresses().await.map_err(DaemonError::Netlink)?;
    let lo = netlink
        .loopback_index()
        .await
        .map_err(DaemonError::Netlink)?;
    let mut bound = reclaim(&netlink, (&existing, lo), &ownership, &bgp.addresses).await;
    bound.extend(bind_listed(&netlink, (&existing, lo), &bgp.addresses).await?);
    ownership.record(&bound);

    let interface_addrs = netlink.addresses().await.map_err(DaemonError::Netlink)?;
    let mut address_warnings = Vec::new();
    let prefixes = eligible(bgp, &interface_addrs, &mut address_warnings);
    if prefixes.is_empty() {
        unbind_addresses(&netlink, &bound).await;
        ownership.record(&[]);
        let where_ = if bgp.allifs { "any interface" } else { "lo" };
        return Err(DaemonError::NoAddresses { where_ });
    }
    let default_router_id = addrs::default_router_id(&interface_addrs);
    let router_id = bgp.router_id.unwrap_or(default_router_id);
    let hostname = hostname();
    info!(
        version = env!("CARGO_PKG_VERSION"),
        dcid = bgp.dcid,
        role = ?bgp.role,
        %router_id,
        hostname,
        neighbors = %join(&bgp.neighbors),
        prefixes = %join(&prefixes),
        "elastic starting"
    );
    log_services(&settings.health);

    let Gating {
        gate,
        probe_tasks,
        hooks,
        reports,
    } = Gating::start(&settings.health);
    let plan = gate.plan(&prefixes, bgp);
    let info = daemon_info(
        Some((bgp, router_id)),
        started_at,
        &hostname,
        &Reloads::default(),
    );
    let mode = gate.mode(settings.control_socket.is_some());
    let (out, mut source) = Published::new(
        info,
        plan.routes,
        plan.addresses,
        gate.probe_statuses(),
        mode,
    );
    let mut peers = Peers {
        slots: Vec::new(),
        leaving: Vec::new(),
        routes: source.routes.clone(),
        bfd: crate::bfd::driver::Bfd::new(),
    };
    peers
        .reconcile(wanted_sessions(bgp, router_id, &hostname))
        .await;
    out.sessions.send_replace(peers.list());

    // What the API and the metrics read: snapshots of the channels above, never the loop itself.
    source.bfd_unclaimed = peers.bfd.unclaimed();
    // The sessions have not run yet (one thread; no await since spawning them).
    let (_serving, control_rx) = listeners.serve(source);

    let mut daemon = Daemon {
        settings,
        invocation,
        netlink,
        bound,
        ownership,
        prefixes,
        address_warnings,
        default_router_id,
        hostname,
        gate,
        peers,
        probe_tasks,
        hooks,
        out,
        started_at,
        reloads: Reloads::default(),
        shutdown: Shutdown::new(),
        events_open: true,
        panicked: false,
    };

    systemd::ready(&summary(
        &daemon.out.routes.borrow(),
        daemon.peers.slots.len(),
        None,
    ));
    let inputs = Inputs {
        events: &mut events,
        reports,
        address_changes,
        control: control_rx,
    };
    daemon.serve(inputs).await;
    daemon.stop(&mut events).await;
    if daemon.panicked {
        return Err(DaemonError::Panicked);
    }
    Ok(())
}

/// What the loop listens to while serving.
struct Inputs<'a> {
    events: &'a mut mpsc::Receiver<OperatorEvent>,
    reports: mpsc::Receiver<ProbeReport>,
    address_changes: mpsc::Receiver<()>,
    control: mpsc::Receiver<api::elastic::ControlRequest>,
}

/// Everything the event loop's handlers change.
struct Daemon {
    settings: Settings<BgpSettings>,
    invocation: Option<Invocation>,
    netlink: Netlink,
    /// The addresses elastic bound to lo (only these are unbound).
    bound: Vec<AddrChange>,
    /// How `bound` outlives a crash: the kernel's address marks, or a state file.
    ownership: Ownership,
    prefixes: Vec<IpNet>,
    /// What the address rules last warned about (logged again only when it changes).
    address_warnings: Vec<String>,
    /// The router id derived from the interfaces at start, used while none is configured.
    default_router_id: Ipv4Addr,
    hostname: String,
    gate: Gate,
    peers: Peers,
    probe_tasks: ProbeTasks,
    /// The hook's queue and task, while one is configured.
    hooks: Option<Hooks>,
    out: Published,
    started_at: SystemTime,
    reloads: Reloads,
    shutdown: Shutdown,
    /// Whether the operator's event stream can still deliver.
    events_open: bool,
    /// A task panicked: the stop ends in an error exit.
    panicked: bool,
}

impl Daemon {
    /// The loop while serving: until a stop leaves the drain (or skips it).
    async fn serve(&mut self, mut inputs: Inputs<'_>) {
        let mut watchdog = systemd::watchdog_interval().map(tokio::time::interval);
        let mut maintenance_poll = poll_interval(self.settings.health.maintenance_poll);
        let mut watching = true;
        // Once start-up, address changes or a reload settle, the freed heap goes back to the kernel.
        let mut trim_at = Some(now() + memory::TRIM_AFTER);
        while self.shutdown.serving() {
            let deadline = self.gate.poll_timeout();
            let drain_ends = self.shutdown.poll_timeout();
            tokio::select! {
                event = inputs.events.recv(), if self.events_open => match event {
                    Some(OperatorEvent::Stop(signal)) => {
                        let steps = self.shutdown.on_signal(signal, now(), self.facts());
                        self.execute(steps, Some(signal));
                    }
                    Some(OperatorEvent::Panicked) => {
                        error!("a task panicked: stopping in order; exiting with an error after");
                        self.panicked = true;
                        let steps = self.shutdown.on_signal(supervise::PANIC, now(), self.facts());
                        self.execute(steps, Some(supervise::PANIC));
                    }
                    Some(OperatorEvent::Reload) => {
                        if self.shutdown.stopping() {
                            info!("SIGHUP while stopping: ignored");
                            continue;
                        }
                        let poll = self.settings.health.maintenance_poll;
                        // The outcome is logged where it is decided.
                        let _ = self.on_hangup().await;
                        if self.settings.health.maintenance_poll != poll {
                            maintenance_poll = poll_interval(self.settings.health.maintenance_poll);
                        }
                        trim_at = Some(now() + memory::TRIM_AFTER);
                    }
                    None => self.events_open = false,
                },
                () = sleep_until(drain_ends), if drain_ends.is_some() => {
                    let steps = self.shutdown.handle_timeout(now(), self.announcing());
                    self.execute(steps, None);
                }
                _ = tick(&mut watchdog) => systemd::watchdog(),
                notice = inputs.address_changes.recv(), if watching => match notice {
                    Some(()) => {
                        tokio::time::sleep(ADDRESS_SETTLE).await;
                        while inputs.address_changes.try_recv().is_ok() {}
                        self.rescan().await;
                        self.refresh();
                        trim_at = Some(now() + memory::TRIM_AFTER);
                    }
                    None => {
                        error!("address watch ended: changes on lo are no longer noticed (SIGHUP rescans)");
                        watching = false;
                    }
                },
                Some(report) = inputs.reports.recv() => {
                    on_probe_report(&mut self.gate, report);
                    self.refresh();
                }
                Some(request) = inputs.control.recv() => {
                    let answer = self.on_control(request.command);
                    let _ = request.reply.send(answer);
                }
                _ = maintenance_poll.tick(), if self.gate.maintenance_file.is_some() => {
                    if reread_maintenance_file(&mut self.gate) {
                        self.refresh();
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => self.refresh(),
                () = sleep_until(trim_at), if trim_at.is_some() => {
                    trim_at = None;
                    memory::release_free_heap();
                }
            }
        }
        self.probe_tasks.stop_all();
    }

    /// The rest of the stop sequence, once serving is over: the withdrawal and the Cease, each
    /// waited for (bounded), then the addresses elastic bound are unbound.
    async fn stop(&mut self, events: &mut mpsc::Receiver<OperatorEvent>) {
        while !self.shutdown.done() {
            let deadline = self.shutdown.poll_timeout();
            let withdrawing = self.shutdown.withdrawing();
            let closing = self.shutdown.closing();
            let (steps, signal) = tokio::select! {
                event = events.recv(), if self.events_open => match event {
                    Some(OperatorEvent::Stop(signal)) => {
                        (self.shutdown.on_signal(signal, now(), self.facts()), Some(signal))
                    }
                    // While stopping, a panic counts as one more signal: it cuts the wait short.
                    Some(OperatorEvent::Panicked) => {
                        self.panicked = true;
                        let signal = supervise::PANIC;
                        (self.shutdown.on_signal(signal, now(), self.facts()), Some(signal))
                    }
                    Some(OperatorEvent::Reload) => {
                        info!("SIGHUP while stopping: ignored");
                        continue;
                    }
                    None => {
                        self.events_open = false;
                        continue;
                    }
                },
                () = self.peers.withdrawn(), if withdrawing => (self.shutdown.on_withdrawn(now()), None),
                () = self.peers.closed(), if closing => (self.shutdown.on_closed(), None),
                () = sleep_until(deadline) => (self.shutdown.handle_timeout(now(), self.announcing()), None),
            };
            self.execute(steps, signal);
        }
        unbind_addresses(&self.netlink, &self.bound).await;
        self.ownership.record(&[]);
        info!("stopped");
    }

    /// What the stop sequence needs to know of the daemon.
    fn facts(&self) -> Facts {
        Facts {
            drain_time: self.settings.mode.drain_time,
            drained_already: self.gate.draining().is_some(),
            announcing: self.announcing(),
        }
    }

    fn announcing(&self) -> bool {
        !self.out.routes.borrow().is_empty()
    }

    /// Carries out the stop sequence's steps; `signal` is the one that caused them, if any.
    fn execute(&mut self, steps: Vec<Step>, signal: Option<&'static str>) {
        let signal = signal.unwrap_or_default();
        for step in steps {
            match step {
                Step::NotifyStopping => systemd::stopping(),
                Step::Drain { signal } => {
                    self.gate.drain(Some(Drain::Stopping(signal)));
                    self.refresh();
                }
                Step::Serve { drain_time, .. } => info!(
                    signal,
                    drain_time = %humantime::format_duration(drain_time),
                    "stopping: announcing every route with GRACEFUL_SHUTDOWN 65535:0 and demoted \
                     attributes, still serving; withdrawing when the drain time is over (a second \
                     signal skips the wait)"
                ),
                Step::EndDrain(DrainEnd::DrainTimeZero) => {
                    info!(signal, "stopping (drain_time 0: no drain)");
                }
                Step::EndDrain(DrainEnd::DrainedAlready) => info!(
                    signal,
                    "stopping: drained already (elastic drain); no further wait"
                ),
                Step::EndDrain(DrainEnd::NothingAnnounced) => {
                    info!(signal, "stopping: nothing announced, nothing to drain")
                }
                Step::EndDrain(DrainEnd::SecondSignal) => {
                    warn!(signal, "second signal: skipping the rest of the drain")
                }
                Step::EndDrain(DrainEnd::TimeOver) => info!("drain time over"),
                // Withdraw everything, and wait until every Established session has sent the
                // withdrawals: the Cease must not overtake them.
                Step::Withdraw { .. } => {
                    info!("withdrawing every route");
                    self.out.routes.send_replace(Arc::new(DesiredRoutes::new()));
                }
                Step::Cut(Cut::WithdrawBySignal) => {
                    warn!("another signal: sending the Cease at once");
                }
                Step::Cut(Cut::WithdrawTimedOut) => {
                    warn!("some sessions did not send their withdrawals in time");
                }
                Step::Cut(Cut::CloseBySignal) => warn!("another signal: exiting at once"),
                Step::Cut(Cut::CloseTimedOut) => warn!("some sessions did not close in time"),
                Step::Cease { signal, .. } => {
                    info!(
                        signal,
                        "stopping: sending Cease (administrative shutdown) to every route server"
                    );
                    let farewell =
                        Notification::cease_admin_shutdown(&format!("elastic stopping ({signal})"));
                    self.peers.cease_all(&farewell);
                }
                Step::Exit => {}
            }
        }
    }

    /// Recomputes the desired set and publishes it (see [`Gate::refresh`]).
    fn refresh(&mut self) {
        let announcing = Some((self.prefixes.as_slice(), &self.settings.mode));
        let control_socket = self.settings.control_socket.is_some();
        let refresh = self.gate.refresh(now(), announcing, control_socket);
        self.out
            .publish(refresh, self.peers.slots.len(), self.hooks.as_ref());
    }

    async fn rescan(&mut self) {
        addresses::rescan(
            &self.netlink,
            &self.settings.mode,
            &mut self.prefixes,
            &mut self.address_warnings,
        )
        .await;
    }

    /// A request from the control socket: the new state, or why it was refused.
    fn on_control(&mut self, command: api::elastic::ControlCommand) -> Result<bool, String> {
        match command {
            api::elastic::ControlCommand::SetMaintenance(on) => {
                info!(on, "maintenance requested through the control socket");
                self.gate.request_maintenance(on);
                self.refresh();
                Ok(on)
            }
            api::elastic::ControlCommand::Drain(_) if self.shutdown.stopping() => {
                Err("the daemon is stopping; it is draining already".to_string())
            }
            api::elastic::ControlCommand::Drain(on) => {
                if on {
                    info!(
                        "elastic drain: announcing every route with GRACEFUL_SHUTDOWN 65535:0 and demoted attributes"
                    );
                    self.gate.drain(Some(Drain::Operator));
                } else {
                    info!("elastic undrain: announcing as health decides");
                    self.gate.drain(None);
                }
                self.refresh();
                Ok(on)
            }
        }
    }

    /// SIGHUP: reload the config file (as a difference), then rescan the addresses, re-read the
    /// maintenance file and re-arm preemption. `Ok(changed)`, or why the configuration was
    /// refused (the running one stays).
    async fn on_hangup(&mut self) -> Result<bool, String> {
        let from_file = self.settings.config_file.is_some();
        let read = match self.invocation.clone() {
            Some(invocation) => Some(reload::read_settings(invocation, from_file).await),
            None => None,
        };
        let outcome = match read {
            None => {
                info!(
                    "SIGHUP: rescanning addresses, re-reading the maintenance file, re-arming preemption"
                );
                Ok(false)
            }
            Some(Err(error)) => {
                error!(
                    %error,
                    "SIGHUP: the configuration is invalid; nothing changed, the running configuration stays"
                );
                Err(error.to_string())
            }
            Some(Ok(new)) => match new.by_mode() {
                ByMode::Vrrp(_) => {
                    error!("SIGHUP: {VRRP_NEEDS_RESTART}; the running configuration stays");
                    Err(VRRP_NEEDS_RESTART.to_string())
                }
                ByMode::Bgp(new) => Ok(self.apply(*new).await),
            },
        };
        if self.invocation.is_some() {
            self.record_reload(outcome.as_ref().map(|_| ()).map_err(String::clone));
        }
        self.rescan().await;
        reread_maintenance_file(&mut self.gate);
        self.gate.rearm_preemption();
        self.refresh();
        outcome
    }

    /// Publishes how the last reload went (`elastic status`, metrics).
    fn record_reload(&mut self, outcome: Result<(), String>) {
        record_reload(&mut self.reloads, &self.out, outcome);
    }

    /// Applies a valid new configuration as a difference to the running one; whether anything
    /// changed.
    async fn apply(&mut self, new: Settings<BgpSettings>) -> bool {
        let ReloadPlan {
            settings,
            warnings,
            restart_only,
            changed,
            bind,
            unbind,
            keep_bound,
            left_on_lo,
            reannounce,
            health_changed,
        } = reload::plan(&self.settings, new, &self.bound);
        for warning in warnings {
            warn!("{warning}");
        }
        for key in restart_only {
            warn!(
                key,
                "changed in the configuration: needs a restart to take effect; keeping the running value"
            );
        }
        if !changed {
            info!(
                "SIGHUP: configuration unchanged; rescanning addresses, re-reading the maintenance file, re-arming preemption"
            );
            return false;
        }
        info!(file = ?settings.config_file, "SIGHUP: applying the changed configuration");
        self.settings = settings;
        let (new, health) = (&self.settings.mode, &self.settings.health);
        if reannounce {
            info!(role = ?new.role, med = ?new.med, "role or MED changed: re-announcing");
        }

        // Addresses: bind the new ones now; removed ones that elastic bound are unbound last,
        // once their withdrawal went out.
        self.bound = keep_bound;
        match bind_addresses(&self.netlink, &bind).await {
            Ok(more) => self.bound.extend(more),
            Err(error) => error!(%error, "reload: cannot bind a new address; it is not announced"),
        }
        // Until they are unbound, the removed ones are still ours.
        self.ownership
            .record(&[self.bound.as_slice(), &unbind].concat());
        for net in left_on_lo {
            info!(address = %net, "removed from the config, but elastic did not bind it: left on lo");
        }

        // Sessions: unchanged ones stay up, new neighbors connect, removed ones get a Cease.
        let router_id = new.router_id.unwrap_or(self.default_router_id);
        self.peers
            .reconcile(wanted_sessions(new, router_id, &self.hostname))
            .await;
        self.out.sessions.send_replace(self.peers.list());
        self.out.info.send_if_modified(|info| {
            let fresh = daemon_info(
                Some((new, router_id)),
                self.started_at,
                &self.hostname,
                &self.reloads,
            );
            if **info == fresh {
                return false;
            }
            *info = Arc::new(fresh);
            true
        });

        // Probes and services: unchanged probes keep their state (and their task).
        if health_changed {
            let hook = self.gate.hook.clone();
            self.probe_tasks.apply(self.gate.reconfigure(health));
            if self.gate.hook != hook {
                self.hooks = self.gate.hook.clone().map(Hooks::spawn);
            }
            reread_maintenance_file(&mut self.gate);
            log_services(health);
        }

        self.withdraw_then_unbind(&unbind).await;
        self.ownership.record(&self.bound);
        true
    }

    /// Removed addresses: announce the set without them, give the sessions
    /// [`shutdown::WITHDRAW_GRACE`] to send the withdrawal, then unbind them, so no route server
    /// keeps sending traffic to an address the host no longer answers on.
    async fn withdraw_then_unbind(&mut self, unbind: &[AddrChange]) {
        if unbind.is_empty() {
            return;
        }
        let before = self.prefixes.clone();
        match self.netlink.addresses().await {
            Ok(listed) => {
                let remaining = addresses::without(&listed, unbind);
                self.prefixes =
                    eligible(&self.settings.mode, &remaining, &mut self.address_warnings);
            }
            Err(error) => {
                error!(%error, "cannot list addresses; unbinding without withdrawing first")
            }
        }
        let gone: Vec<IpNet> = before
            .into_iter()
            .filter(|p| !self.prefixes.contains(p))
            .collect();
        if !gone.is_empty() {
            for prefix in &gone {
                info!(%prefix, "removed from the config: withdrawing before unbinding");
            }
            self.refresh();
            let sent = self.peers.sent_none_of(|p| gone.contains(p));
            if tokio::time::timeout(shutdown::WITHDRAW_GRACE, sent)
                .await
                .is_err()
            {
                warn!("some sessions did not send the withdrawal in time; unbinding anyway");
            }
        }
        unbind_addresses(&self.netlink, unbind).await;
    }
}

fn log_services(health: &HealthConfig) {
    for service in &health.services {
        let probes = service.probe_names(&health.probes).join(",");
        info!(
            service = service.name,
            probes,
            addresses = %service.addresses.as_deref().map_or("all".to_string(), join),
            "service: its addresses wait for its probes' first verdict"
        );
    }
}

/// What status shows of the daemon; `bgp`: BGP mode's settings and the router id in use
/// (`None` in VRRP mode, which shows no BGP side).
fn daemon_info(
    bgp: Option<(&BgpSettings, Ipv4Addr)>,
    started_at: SystemTime,
    hostname: &str,
    reloads: &Reloads,
) -> DaemonInfo {
    DaemonInfo {
        version: env!("CARGO_PKG_VERSION"),
        started_at,
        hostname: hostname.to_string(),
        reloads: reloads.clone(),
        bgp: bgp.map(|(bgp, router_id)| BgpInfo {
            role: bgp.role,
            router_id,
            local_as: bgp.local_as,
            peer_as: bgp.peer_as,
            hold_time: bgp.hold_time,
            keepalive: bgp.keepalive,
            connect_retry: CONNECT_RETRY,
            multihop_ttl: bgp.multihop_ttl,
        }),
    }
}

fn poll_interval(period: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

/// What gates the announcements (or the VRRP priorities), started: the gate, the probes'
/// tasks, the hook runner, and where the probes report.
struct Gating {
    gate: Gate,
    probe_tasks: ProbeTasks,
    hooks: Option<Hooks>,
    reports: mpsc::Receiver<ProbeReport>,
}

impl Gating {
    /// Starts the probes and the hook runner of `config`, reads the maintenance file, and
    /// sets every service's state at this moment.
    fn start(config: &HealthConfig) -> Gating {
        let (reports_tx, reports) = mpsc::channel::<ProbeReport>(64);
        let mut gate = Gate::default();
        let mut probe_tasks = ProbeTasks::new(reports_tx);
        probe_tasks.apply(gate.reconfigure(config));
        let hooks = gate.hook.clone().map(Hooks::spawn);
        reread_maintenance_file(&mut gate);
        gate.update_services(now());
        Gating {
            gate,
            probe_tasks,
            hooks,
            reports,
        }
    }
}

/// Counts a reload and publishes how it went (`elastic status`, metrics), in either mode.
fn record_reload(reloads: &mut Reloads, out: &Published, outcome: Result<(), String>) {
    reloads.record(clock::system_now(), outcome);
    let reloads = reloads.clone();
    out.info
        .send_modify(|info| Arc::make_mut(info).reloads = reloads);
}

/// Takes a probe's report into the gate and logs a new verdict (a failed check that did not
/// change it, at debug).
fn on_probe_report(gate: &mut Gate, report: ProbeReport) {
    let (changed, ok, detail) = (report.changed, report.ok, report.detail.clone());
    let Some(name) = gate.on_report(report, now()) else {
        return;
    };
    if let Some(verdict) = changed {
        let state = if verdict { "up" } else { "down" };
        info!(probe = name, state, detail, "probe verdict");
    } else if !ok {
        debug!(probe = name, detail, "probe failed");
    }
}

/// Re-reads whether the gate's maintenance file exists (a stat: the file is never read);
/// whether that changed.
fn reread_maintenance_file(gate: &mut Gate) -> bool {
    let present = gate
        .maintenance_file
        .as_deref()
        .is_some_and(std::path::Path::exists);
    gate.set_maintenance_file_present(present)
}

/// Ticks of the watchdog interval; never, when systemd asked for no watchdog.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The kernel's host name, sent in the FQDN capability like GoBGP's `os.Hostname()`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests;
