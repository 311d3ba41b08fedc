//! The daemon's [`Settings`]: the flags merged over the config file over the built-in defaults,
//! validated across keys ([`resolve`]), and [`effective`], which reads the file an invocation
//! names and merges it (start-up and every SIGHUP). [`Settings::to_file`] is the way back, for
//! `elastic check-config`. The settings of one mode ([`BgpSettings`], or the VRRP instances) exist
//! only in that mode ([`Mode`]): VRRP mode has no dcid or role to fill in.
//!
//! Pure except [`effective`], which reads the config file through [`config::load_choice`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::bgp::md5::Md5Password;
use crate::cli::{FlagValues, Invocation, UsageError};
use crate::config::values::{
    ApiListen, BfdInterval, BfdMultiplier, Dcid, HoldTime, Keepalive, Listen, NeighborPattern,
    NeighborSlots, PasswordFile, RouterId, Ttl,
};
use crate::config::{
    self, ConfigError, FileConfig, HealthConfig, LogLevel, Role, VrrpConfig, dedup,
};
use crate::config::{duration, valid};
use crate::model::{BfdConfig, DEFAULT_API, HOLD_TIME_SECS, LOCAL_AS, PEER_AS};

/// Everything the flags and the file decide, validated: the settings both modes share, and in
/// `mode` those of one mode. [`resolve`] makes a `Settings` (`M` = [`Mode`]); [`Settings::by_mode`]
/// turns it into what one daemon runs with, whose `mode` is that mode's own type, so BGP code
/// holds a [`BgpSettings`] (never a VRRP config's missing dcid) and VRRP code its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings<M = Mode> {
    pub mode: M,
    pub log_level: LogLevel,
    pub log_json: bool,
    /// Probes, services, maintenance file and hook (from the config file; none with flags only).
    pub health: HealthConfig,
    /// The config file these settings were merged from, if any.
    pub config_file: Option<PathBuf>,
    /// gRPC API address (elastic.v1 and the GoBGP subset); `None` with `-api off`.
    pub api: Option<SocketAddr>,
    /// Allow `api` on a non-loopback address (the API is unauthenticated).
    pub api_allow_remote: bool,
    /// Prometheus metrics address; off by default.
    pub metrics: Option<SocketAddr>,
    /// Allow `metrics` on a non-loopback address (the metrics are unauthenticated).
    pub metrics_allow_remote: bool,
    /// The unix socket serving SetMaintenance and Drain (`elastic drain`); off by default.
    pub control_socket: Option<PathBuf>,
    /// With it, the socket is mode 0660 and owned by this group; without, 0600.
    pub control_socket_group: Option<String>,
    /// To log once logging is up (e.g. an unknown log level).
    pub warnings: Vec<String>,
}

/// What the daemon runs: BGP sessions to the route servers, or VRRP instances (a file with
/// `vrrp:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Boxed: it is ten times the size of the other.
    Bgp(Box<BgpSettings>),
    /// At least one instance.
    Vrrp(Vec<VrrpConfig>),
}

/// The settings only BGP mode has (every one of their keys and flags is refused beside `vrrp:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpSettings {
    pub dcid: u32,
    pub role: Role,
    pub send56: bool,
    pub allifs: bool,
    pub multihop_ttl: u8,
    /// The BGP hold time we propose, in seconds (0: no keepalives and no hold timer).
    pub hold_time: u16,
    /// Seconds between our KEEPALIVEs (0 with hold time 0); the session never uses more than a
    /// third of the negotiated hold time.
    pub keepalive: u16,
    pub neighbor_pattern: NeighborPattern,
    /// The `i` values the pattern is formatted with (`neighbor_slots`; default 1..=4).
    pub neighbor_slots: Vec<u8>,
    /// The pattern formatted with (dcid, i) for each slot i, in that order.
    pub neighbors: Vec<IpAddr>,
    /// `-address` values in the order given, duplicates dropped: bound to `lo` by elastic.
    pub addresses: Vec<IpNet>,
    pub med: Option<u32>,
    pub router_id: Option<Ipv4Addr>,
    pub local_as: u32,
    pub peer_as: u32,
    /// How long a planned stop announces GRACEFUL_SHUTDOWN before withdrawing (0: no drain).
    pub drain_time: std::time::Duration,
    /// TCP MD5 (RFC 2385) on every session: from the file's `md5_password_file`, never a flag.
    pub md5: Option<Md5Password>,
    /// BFD beside every route-server session (`bfd:`); `None`: off.
    pub bfd: Option<BfdConfig>,
}

/// [`Settings`] as one daemon runs with them: [`Settings::by_mode`]. Boxed, as the two differ
/// in size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByMode {
    Bgp(Box<Settings<BgpSettings>>),
    Vrrp(Box<Settings<Vec<VrrpConfig>>>),
}

impl Settings {
    /// The settings with their mode's own type.
    pub fn by_mode(self) -> ByMode {
        match self.split() {
            (Mode::Bgp(bgp), shared) => ByMode::Bgp(Box::new(shared.with_mode(*bgp))),
            (Mode::Vrrp(instances), shared) => ByMode::Vrrp(Box::new(shared.with_mode(instances))),
        }
    }

    /// BGP mode's settings; `None` in VRRP mode.
    #[cfg(test)]
    pub fn bgp(&self) -> Option<&BgpSettings> {
        match &self.mode {
            Mode::Bgp(bgp) => Some(bgp),
            Mode::Vrrp(_) => None,
        }
    }

    /// The VRRP instances; none in BGP mode.
    #[cfg(test)]
    pub fn vrrp(&self) -> &[VrrpConfig] {
        match &self.mode {
            Mode::Bgp(_) => &[],
            Mode::Vrrp(instances) => instances,
        }
    }
}

impl<M> Settings<M> {
    /// Swaps the mode's settings for `mode`: the old ones, and the settings with the new ones.
    pub fn replace_mode<N>(self, mode: N) -> (M, Settings<N>) {
        let Settings {
            mode: old,
            log_level,
            log_json,
            health,
            config_file,
            api,
            api_allow_remote,
            metrics,
            metrics_allow_remote,
            control_socket,
            control_socket_group,
            warnings,
        } = self;
        let settings = Settings {
            mode,
            log_level,
            log_json,
            health,
            config_file,
            api,
            api_allow_remote,
            metrics,
            metrics_allow_remote,
            control_socket,
            control_socket_group,
            warnings,
        };
        (old, settings)
    }

    /// The mode's settings, and the shared ones alone.
    pub fn split(self) -> (M, Settings<()>) {
        self.replace_mode(())
    }
}

impl Settings<()> {
    /// The shared settings with `mode`'s.
    pub fn with_mode<M>(self, mode: M) -> Settings<M> {
        let ((), settings) = self.replace_mode(mode);
        settings
    }
}

#[cfg(test)]
impl From<Settings<BgpSettings>> for Settings {
    fn from(settings: Settings<BgpSettings>) -> Settings {
        let (bgp, shared) = settings.split();
        shared.with_mode(Mode::Bgp(Box::new(bgp)))
    }
}

/// Merges the flags with the config file (flags win, then the file, then the defaults),
/// validates across keys and builds [`Settings`]. `file` is the file's path and contents.
pub fn resolve(
    flags: &FlagValues,
    file: Option<(&Path, &FileConfig)>,
) -> Result<Settings, UsageError> {
    let empty = FileConfig::default();
    let (path, config) = match file {
        Some((path, config)) => (Some(path), config),
        None => (None, &empty),
    };
    let in_file = |key: &str| match path {
        Some(path) => format!(" (or {key}: in {})", path.display()),
        None => String::new(),
    };
    let vrrp_mode = !config.vrrp.is_empty();
    // Every flag only the BGP daemon reads (all but logging and the listeners).
    let bgp_flags = [
        ("-dcid", flags.dcid.is_some()),
        ("-primary", flags.primary.is_some()),
        ("-secondary", flags.secondary.is_some()),
        ("-send56", flags.send56.is_some()),
        ("-allifs", flags.allifs.is_some()),
        ("-multihopttl", flags.multihop_ttl.is_some()),
        ("-holdtime", flags.hold_time.is_some()),
        ("-keepalive", flags.keepalive.is_some()),
        ("-neighborpattern", flags.neighbor_pattern.is_some()),
        ("-address", flags.addresses.is_some()),
        ("-med", flags.med.is_some()),
        ("-routerid", flags.router_id.is_some()),
    ];
    if let Some((flag, _)) = bgp_flags.iter().find(|f| vrrp_mode && f.1) {
        return Err(UsageError::new(format!(
            "{flag} is not used with vrrp:{} (VRRP mode runs no BGP sessions)",
            path.map_or(String::new(), |p| format!(" in {}", p.display()))
        )));
    }

    let mut warnings = Vec::new();
    let log_level = match (&flags.log_level, config.log_level) {
        (Some(name), _) => LogLevel::parse(name).unwrap_or_else(|| {
            warnings.push(format!(
                "unknown log level {name:?}, falling back to loglevel info"
            ));
            LogLevel::Info
        }),
        (None, Some(level)) => level,
        (None, None) => LogLevel::Info,
    };
    let health = config.health();
    let mode = match vrrp_mode {
        true => Mode::Vrrp(config.vrrp.clone()),
        false => Mode::Bgp(Box::new(resolve_bgp(
            flags,
            config,
            &in_file,
            &health,
            &mut warnings,
        )?)),
    };

    let default_api = DEFAULT_API;
    let api = flags
        .api
        .or(config.api)
        .map_or(Some(default_api), ApiListen::get);
    let api_allow_remote = flags
        .api_allow_remote
        .or(config.api_allow_remote)
        .unwrap_or(false);
    local_unless_allowed(api, api_allow_remote, ("api", "the API is", "it"), &in_file)?;

    let metrics = flags.metrics.or(config.metrics).map(Listen::get);
    let metrics_allow_remote = flags
        .metrics_allow_remote
        .or(config.metrics_allow_remote)
        .unwrap_or(false);
    local_unless_allowed(
        metrics,
        metrics_allow_remote,
        ("metrics", "the metrics are", "them"),
        &in_file,
    )?;

    let control_socket = config.control_socket.as_ref().map(|p| p.get().clone());
    if config.control_socket_group.is_some() && control_socket.is_none() {
        warnings.push(
            "control_socket_group is set but control_socket is not: there is no control socket"
                .to_string(),
        );
    }

    Ok(Settings {
        mode,
        log_level,
        log_json: flags.log_json.or(config.log_json).unwrap_or(false),
        health,
        config_file: path.map(Path::to_path_buf),
        api,
        api_allow_remote,
        metrics,
        metrics_allow_remote,
        control_socket,
        control_socket_group: config
            .control_socket_group
            .as_ref()
            .map(|g| g.get().to_string()),
        warnings,
    })
}

/// Refuses listener `-flag` on an address that is not a loopback one unless `allow_remote`: what
/// it serves is unauthenticated. `served` says what (with its verb) and `them` how to refer to it.
fn local_unless_allowed(
    listen: Option<SocketAddr>,
    allow_remote: bool,
    (flag, served, them): (&str, &str, &str),
    in_file: &dyn Fn(&str) -> String,
) -> Result<(), UsageError> {
    match listen {
        Some(addr) if !crate::api::is_local(&addr) && !allow_remote => {
            Err(UsageError::new(format!(
                "-{flag} {addr} is not a loopback address: {served} unauthenticated, so add \
                 -{flag}-allow-remote{} to serve {them} there",
                in_file(&format!("{flag}_allow_remote: true"))
            )))
        }
        _ => Ok(()),
    }
}

/// BGP mode's settings from the flags and the file; `in_file` names a key's place in the file
/// for an error, and `warnings` gets the services' addresses that no configured address covers.
fn resolve_bgp(
    flags: &FlagValues,
    config: &FileConfig,
    in_file: &dyn Fn(&str) -> String,
    health: &HealthConfig,
    warnings: &mut Vec<String>,
) -> Result<BgpSettings, UsageError> {
    let dcid = match flags.dcid.or(config.dcid).map(Dcid::get) {
        Some(dcid) => dcid,
        None => {
            return Err(UsageError::new(format!(
                "-dcid is required{} (dcid must be greater than 1)",
                in_file("dcid")
            )));
        }
    };
    let role = match (
        flags.primary == Some(true),
        flags.secondary == Some(true),
        config.role,
    ) {
        (true, false, _) => Role::Primary,
        (false, true, _) => Role::Secondary,
        (true, true, _) => {
            return Err(UsageError::new(
                "-primary and -secondary cannot be used together: choose one",
            ));
        }
        (false, false, Some(role)) => role,
        (false, false, None) => {
            return Err(UsageError::new(format!(
                "use either -primary or -secondary{}",
                in_file("role")
            )));
        }
    };
    let neighbor_pattern = flags
        .neighbor_pattern
        .clone()
        .or_else(|| config.neighbor_pattern.clone())
        .unwrap_or_else(NeighborPattern::lelastic);
    let neighbor_slots = config
        .neighbor_slots
        .as_ref()
        .map_or(NeighborSlots::DEFAULT.to_vec(), |s| s.get().to_vec());
    let neighbors = neighbor_pattern
        .format(dcid, &neighbor_slots)
        .map_err(UsageError::new)?;

    let addresses = flags
        .addresses
        .as_ref()
        .or(config.addresses.as_ref())
        .map_or(Vec::new(), |list| dedup(list.iter().map(|a| a.get())));
    let send56 = flags.send56.or(config.send56).unwrap_or(false);
    config::roles::check(&health.services, send56)
        .map_err(|conflict| UsageError::new(conflict.message))?;
    for service in &health.services {
        for spec in service.addresses.iter().flatten() {
            let covered = addresses
                .iter()
                .any(|a| a.contains(&spec.addr()) || spec.contains(&a.addr()));
            if !addresses.is_empty() && !covered {
                warnings.push(format!(
                    "service {}: address {spec} is not among the configured addresses (it may still be found on lo)",
                    service.name
                ));
            }
        }
    }

    let hold_time = flags
        .hold_time
        .or(config.hold_time)
        .map_or(HOLD_TIME_SECS, HoldTime::get);
    let keepalive = match flags.keepalive.or(config.keepalive).map(Keepalive::get) {
        // With hold time 0 no keepalives go out: a keepalive setting has nothing to tune.
        _ if hold_time == 0 => 0,
        None => hold_time / 3,
        // Longer than the hold time, the peer would drop us between two keepalives.
        Some(keepalive) if keepalive >= hold_time => {
            return Err(UsageError::new(format!(
                "keepalive {keepalive}s must be shorter than hold_time {hold_time}s \
                 (a third of it is usual)"
            )));
        }
        Some(keepalive) => keepalive,
    };

    let md5 = match (&config.md5_password_file, &config.md5_key) {
        (None, _) => None,
        (Some(source), Some(key)) => Some(Md5Password {
            source: source.source().clone(),
            key: key.clone(),
        }),
        // `config::parse` alone does not read the password; only `config::load` does.
        (Some(source), None) => {
            return Err(UsageError::new(format!(
                "md5_password_file {source}: the password was not read"
            )));
        }
    };

    let multihop_ttl = flags
        .multihop_ttl
        .or(config.multihop_ttl)
        .unwrap_or(Ttl::DEFAULT)
        .get();
    let bfd = config
        .bfd
        .map(|bfd| bfd_config(&bfd, multihop_ttl))
        .transpose()?;

    Ok(BgpSettings {
        dcid,
        role,
        send56,
        allifs: flags.allifs.or(config.allifs).unwrap_or(false),
        multihop_ttl,
        hold_time,
        keepalive,
        neighbor_pattern,
        neighbor_slots,
        neighbors,
        addresses,
        med: flags.med.or(config.med),
        router_id: flags.router_id.or(config.router_id).map(RouterId::get),
        local_as: LOCAL_AS,
        peer_as: PEER_AS,
        drain_time: config
            .drain_time
            .map_or(config::DEFAULT_DRAIN_TIME, |d| d.get()),
        md5,
        bfd,
    })
}

/// FRR's defaults (300 ms, 300 ms, 3) for the keys left out. Multihop, packets are accepted
/// from as far as our BGP packets reach (256 - multihop_ttl: 240 at lelastic's 16); single hop
/// (RFC 5881 §5) only with TTL 255, so another `min_ttl` is a contradiction.
fn bfd_config(bfd: &config::BfdFile, multihop_ttl: u8) -> Result<BfdConfig, UsageError> {
    let multihop = bfd.multihop.unwrap_or(true);
    let min_ttl = match (multihop, bfd.min_ttl.map(Ttl::get)) {
        (true, Some(min_ttl)) => min_ttl,
        (true, None) => 255 - (multihop_ttl - 1),
        (false, None | Some(255)) => 255,
        (false, Some(min_ttl)) => {
            return Err(UsageError::new(format!(
                "bfd.min_ttl {min_ttl}: single-hop BFD (bfd.multihop: false) accepts only TTL 255 \
                 (RFC 5881); leave bfd.min_ttl out"
            )));
        }
    };
    let interval = |value: Option<BfdInterval>| {
        value.map_or(std::time::Duration::from_millis(300), BfdInterval::get)
    };
    Ok(BfdConfig {
        min_tx: interval(bfd.min_tx),
        min_rx: interval(bfd.min_rx),
        multiplier: bfd.multiplier.map_or(3, BfdMultiplier::get),
        multihop,
        min_ttl,
    })
}

impl Settings {
    /// The settings as a config file with every key set (the defaults filled in): what
    /// `elastic check-config` prints. Each value passes its key's own check again, so what is
    /// printed reads back. VRRP mode has no BGP keys to print (they would be refused).
    pub fn to_file(&self) -> Result<FileConfig, String> {
        let health = &self.health;
        let shared = FileConfig {
            log_level: Some(self.log_level),
            log_json: Some(self.log_json),
            api: Some(ApiListen::new(self.api)),
            api_allow_remote: Some(self.api_allow_remote),
            metrics: self.metrics.map(valid).transpose()?,
            metrics_allow_remote: Some(self.metrics_allow_remote),
            control_socket: self
                .control_socket
                .as_ref()
                .map(|p| valid(p.display()))
                .transpose()?,
            control_socket_group: self.control_socket_group.as_ref().map(valid).transpose()?,
            probes: health.probes.clone(),
            services: health.services.clone(),
            maintenance_file: health.maintenance_file.clone(),
            maintenance_poll: Some(duration(health.maintenance_poll)?),
            hooks: health.hook.clone(),
            ..FileConfig::default()
        };
        match &self.mode {
            Mode::Vrrp(instances) => Ok(FileConfig {
                vrrp: instances.clone(),
                ..shared
            }),
            Mode::Bgp(bgp) => bgp_file(bgp, shared),
        }
    }
}

/// `shared` with BGP mode's keys.
fn bgp_file(bgp: &BgpSettings, shared: FileConfig) -> Result<FileConfig, String> {
    Ok(FileConfig {
        dcid: Some(valid(bgp.dcid)?),
        role: Some(bgp.role),
        send56: Some(bgp.send56),
        allifs: Some(bgp.allifs),
        multihop_ttl: Some(valid(bgp.multihop_ttl)?),
        hold_time: Some(HoldTime::try_from(bgp.hold_time)?),
        keepalive: match bgp.keepalive {
            0 => None,
            secs => Some(Keepalive::try_from(secs)?),
        },
        neighbor_pattern: Some(bgp.neighbor_pattern.clone()),
        neighbor_slots: Some(
            bgp.neighbor_slots
                .iter()
                .map(|&s| i64::from(s))
                .collect::<Vec<_>>()
                .try_into()?,
        ),
        addresses: Some(bgp.addresses.iter().map(valid).collect::<Result<_, _>>()?),
        med: bgp.med,
        router_id: bgp.router_id.map(valid).transpose()?,
        drain_time: Some(duration(bgp.drain_time)?),
        md5_password_file: bgp
            .md5
            .as_ref()
            .map(|m| PasswordFile::new(m.source.clone())),
        bfd: match &bgp.bfd {
            None => None,
            Some(bfd) => Some(config::BfdFile {
                min_tx: Some(BfdInterval::try_from(bfd.min_tx)?),
                min_rx: Some(BfdInterval::try_from(bfd.min_rx)?),
                multiplier: Some(BfdMultiplier::try_from(i64::from(bfd.multiplier))?),
                multihop: Some(bfd.multihop),
                min_ttl: match bfd.multihop {
                    true => Some(valid(bfd.min_ttl)?),
                    false => None,
                },
            }),
        },
        ..shared
    })
}

/// The effective configuration as YAML that the config file accepts: every key with the value
/// in force (flags merged, defaults filled in). `elastic check-config` prints it.
pub fn render(settings: &Settings) -> String {
    let roles = match &settings.mode {
        Mode::Bgp(bgp) => service_roles(&settings.health.services, bgp.role),
        // VRRP mode refuses a service's role.
        Mode::Vrrp(_) => String::new(),
    };
    match settings.to_file() {
        Ok(file) => config::render(&file) + &roles,
        Err(error) => format!("# cannot render: {error}\n"),
    }
}

/// With a per-service `role` in the file (active/active), which role each service announces its
/// addresses with, as comments; nothing otherwise.
fn service_roles(services: &[config::ServiceConfig], host_role: Role) -> String {
    if services.iter().all(|s| s.role.is_none()) {
        return String::new();
    }
    let mut out = String::from("# roles per service (the host is ");
    out += host_role.as_str();
    out += "):\n";
    for service in services {
        let whose = if service.role.is_some() {
            "its own"
        } else {
            "the host's"
        };
        out += &format!(
            "#   {}: {} ({whose})\n",
            service.name,
            service.role_or(host_role)
        );
    }
    out
}

/// Why the effective settings could not be made: the file itself, or the flags merged with it.
#[derive(Debug, thiserror::Error)]
pub enum EffectiveError {
    #[error(transparent)]
    File(#[from] ConfigError),
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// The file `invocation` names (if any), read and merged under its flags: what start-up and every
/// SIGHUP use, so flags keep winning over the file on reload.
pub fn effective(
    invocation: &Invocation,
    default_file: config::DefaultFile,
) -> Result<Settings, EffectiveError> {
    let file = config::load_choice(&invocation.config, default_file)?;
    let file_ref = file.as_ref().map(|(path, config)| (path.as_path(), config));
    Ok(resolve(&invocation.flags, file_ref)?)
}

#[cfg(test)]
mod tests;
