//! The daemon's [`Settings`]: the flags merged over the config file over the built-in defaults,
//! validated across keys ([`resolve`]), and [`effective`], which reads the file an invocation
//! names and merges it (start-up and every SIGHUP). [`Settings::to_file`] is the way back, for
//! `elastic check-config`.
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

/// Everything the flags and the file decide, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// 0 in VRRP mode, which has no datacenter (no route servers).
    pub dcid: u32,
    /// Primary, and unused, in VRRP mode.
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
    pub log_level: LogLevel,
    pub log_json: bool,
    /// `-address` values in the order given, duplicates dropped: bound to `lo` by elastic.
    pub addresses: Vec<IpNet>,
    pub med: Option<u32>,
    pub router_id: Option<Ipv4Addr>,
    pub local_as: u32,
    pub peer_as: u32,
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
    /// How long a planned stop announces GRACEFUL_SHUTDOWN before withdrawing (0: no drain).
    pub drain_time: std::time::Duration,
    /// The unix socket serving SetMaintenance and Drain (`elastic drain`); off by default.
    pub control_socket: Option<PathBuf>,
    /// With it, the socket is mode 0660 and owned by this group; without, 0600.
    pub control_socket_group: Option<String>,
    /// TCP MD5 (RFC 2385) on every session: from the file's `md5_password_file`, never a flag.
    pub md5: Option<Md5Password>,
    /// BFD beside every route-server session (`bfd:`); `None`: off.
    pub bfd: Option<BfdConfig>,
    /// To log once logging is up (e.g. an unknown log level).
    pub warnings: Vec<String>,
    /// The VRRP instances; with any, VRRP mode: no BGP sessions (`neighbors` is empty).
    pub vrrp: Vec<VrrpConfig>,
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
    let dcid = match flags.dcid.or(config.dcid).map(Dcid::get) {
        Some(dcid) => dcid,
        None if vrrp_mode => 0,
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
        (false, false, None) if vrrp_mode => Role::Primary,
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
    let neighbors = match vrrp_mode {
        true => Vec::new(),
        false => neighbor_pattern
            .format(dcid, &neighbor_slots)
            .map_err(UsageError::new)?,
    };

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
    let addresses = flags
        .addresses
        .as_ref()
        .or(config.addresses.as_ref())
        .map_or(Vec::new(), |list| dedup(list.iter().map(|a| a.get())));
    let health = config.health();
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

    let default_api = DEFAULT_API;
    let api = flags
        .api
        .or(config.api)
        .map_or(Some(default_api), ApiListen::get);
    let api_allow_remote = flags
        .api_allow_remote
        .or(config.api_allow_remote)
        .unwrap_or(false);
    if let Some(addr) = api
        && !crate::api::is_local(&addr)
        && !api_allow_remote
    {
        return Err(UsageError::new(format!(
            "-api {addr} is not a loopback address: the API is unauthenticated, so add \
             -api-allow-remote{} to serve it there",
            in_file("api_allow_remote: true")
        )));
    }

    let metrics = flags.metrics.or(config.metrics).map(Listen::get);
    let metrics_allow_remote = flags
        .metrics_allow_remote
        .or(config.metrics_allow_remote)
        .unwrap_or(false);
    if let Some(addr) = metrics
        && !crate::api::is_local(&addr)
        && !metrics_allow_remote
    {
        return Err(UsageError::new(format!(
            "-metrics {addr} is not a loopback address: the metrics are unauthenticated, so add \
             -metrics-allow-remote{} to serve them there",
            in_file("metrics_allow_remote: true")
        )));
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
                "keepalive {keepalive}s must be shorter than hold_time {hold_time}s                  (a third of it is usual)"
            )));
        }
        Some(keepalive) => keepalive,
    };

    let control_socket = config.control_socket.as_ref().map(|p| p.get().clone());
    if config.control_socket_group.is_some() && control_socket.is_none() {
        warnings.push(
            "control_socket_group is set but control_socket is not: there is no control socket"
                .to_string(),
        );
    }
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

    Ok(Settings {
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
        log_level,
        log_json: flags.log_json.or(config.log_json).unwrap_or(false),
        addresses,
        med: flags.med.or(config.med),
        router_id: flags.router_id.or(config.router_id).map(RouterId::get),
        local_as: LOCAL_AS,
        peer_as: PEER_AS,
        health,
        config_file: path.map(Path::to_path_buf),
        api,
        api_allow_remote,
        metrics,
        metrics_allow_remote,
        drain_time: config
            .drain_time
            .map_or(config::DEFAULT_DRAIN_TIME, |d| d.get()),
        control_socket,
        control_socket_group: config
            .control_socket_group
            .as_ref()
            .map(|g| g.get().to_string()),
        md5,
        bfd,
        warnings,
        vrrp: config.vrrp.clone(),
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
    /// printed reads back.
    pub fn to_file(&self) -> Result<FileConfig, String> {
        let health = &self.health;
        let mut file = FileConfig {
            // 0 in VRRP mode, which is not a dcid: left out below with the other BGP keys.
            dcid: self.vrrp.is_empty().then(|| valid(self.dcid)).transpose()?,
            role: Some(self.role),
            send56: Some(self.send56),
            allifs: Some(self.allifs),
            multihop_ttl: Some(valid(self.multihop_ttl)?),
            hold_time: Some(HoldTime::try_from(self.hold_time)?),
            keepalive: match self.keepalive {
                0 => None,
                secs => Some(Keepalive::try_from(secs)?),
            },
            neighbor_pattern: Some(self.neighbor_pattern.clone()),
            neighbor_slots: Some(
                self.neighbor_slots
                    .iter()
                    .map(|&s| i64::from(s))
                    .collect::<Vec<_>>()
                    .try_into()?,
            ),
            log_level: Some(self.log_level),
            log_json: Some(self.log_json),
            addresses: Some(self.addresses.iter().map(valid).collect::<Result<_, _>>()?),
            med: self.med,
            router_id: self.router_id.map(valid).transpose()?,
            api: Some(ApiListen::new(self.api)),
            api_allow_remote: Some(self.api_allow_remote),
            metrics: self.metrics.map(valid).transpose()?,
            metrics_allow_remote: Some(self.metrics_allow_remote),
            drain_time: Some(duration(self.drain_time)?),
            control_socket: self
                .control_socket
                .as_ref()
                .map(|p| valid(p.display()))
                .transpose()?,
            control_socket_group: self.control_socket_group.as_ref().map(valid).transpose()?,
            md5_password_file: self
                .md5
                .as_ref()
                .map(|m| PasswordFile::new(m.source.clone())),
            probes: health.probes.clone(),
            services: health.services.clone(),
            maintenance_file: health.maintenance_file.clone(),
            maintenance_poll: Some(duration(health.maintenance_poll)?),
            hooks: health.hook.clone(),
            vrrp: self.vrrp.clone(),
            md5_key: None,
            bfd: match &self.bfd {
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
        };
        if !self.vrrp.is_empty() {
            // VRRP mode: the BGP keys are left out (dcid and role would be refused).
            file = FileConfig {
                vrrp: file.vrrp,
                log_level: file.log_level,
                log_json: file.log_json,
                api: file.api,
                api_allow_remote: file.api_allow_remote,
                metrics: file.metrics,
                metrics_allow_remote: file.metrics_allow_remote,
                control_socket: file.control_socket,
                control_socket_group: file.control_socket_group,
                probes: file.probes,
                services: file.services,
                maintenance_file: file.maintenance_file,
                maintenance_poll: file.maintenance_poll,
                hooks: file.hooks,
                ..FileConfig::default()
            };
        }
        Ok(file)
    }
}

/// The effective configuration as YAML that the config file accepts: every key with the value
/// in force (flags merged, defaults filled in). `elastic check-config` prints it.
pub fn render(settings: &Settings) -> String {
    match settings.to_file() {
        Ok(file) => config::render(&file) + &service_roles(settings),
        Err(error) => format!("# cannot render: {error}\n"),
    }
}

/// With a per-service `role` in the file (active/active), which role each service announces its
/// addresses with, as comments; nothing otherwise.
fn service_roles(settings: &Settings) -> String {
    let services = &settings.health.services;
    if services.iter().all(|s| s.role.is_none()) {
        return String::new();
    }
    let mut out = String::from("# roles per service (the host is ");
    out += settings.role.as_str();
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
            service.role_or(settings.role)
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
