//! The YAML config file (`-config PATH`, default [`DEFAULT_PATH`] when it exists): [`FileConfig`],
//! the typed model the daemon's settings are made from, and [`load`], this module's only IO.
//!
//! [`FileConfig`] is read and written by serde; [`values`] holds the validated value types it
//! shares with the flags, `schema.rs` the YAML shapes of a probe, a service and the hooks, and
//! [`render`] the YAML `elastic check-config` prints. Parsing is two passes: serde reads and
//! checks every value and mapping, locating errors by key path and line; then the checks across
//! the file (a service naming a probe, unique service names, one role per prefix) and the CA
//! files https probes name run on the result, and an error is located by reading the text once
//! more down its key path.
//!
//! Pure except [`load`], which reads the file, hands [`parse_with`] the means to read the files
//! the config names (an https probe's `ca_file`), reads the TCP MD5 password file it names, and
//! looks up the `user:` accounts and the control socket's group (once, here, never per command).
//! Every file is read through [`crate::files`]: never blocking, regular files only, bounded
//! ([`files::CONFIG_LIMIT`]). The keys are documented in the README ("Configuration file").

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use ipnet::IpNet;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use serde::{Deserialize, Deserializer, Serialize};

use crate::bgp::md5::{self, Md5Key};
use crate::command::{Powers, RunAs};
use crate::files;
use crate::model::RouteAttrs;

mod probe;
mod render;
pub mod roles;
pub(crate) mod schema;
pub mod values;
mod vrrp;

pub use probe::{Check, ProbeConfig, ProcessTarget, TlsOptions, Trust};
pub use render::render;
pub(crate) use render::{duration, valid};
pub use values::{HttpUrl, ListenTarget, LogLevel, Role};
pub use vrrp::VrrpConfig;

use schema::{
    Checked, Misplaced, RawHooks, RawHttp, RawOutcome, RawProbe, RawProcess, RawService, Step,
};
use values::{
    Address, ApiListen, Argv, Dcid, DrainTime, GroupName, HoldTime, Keepalive, Listen, Name,
    NeighborPattern, NeighborSlots, PasswordFile, PollInterval, RouterId, SocketPath, TcpTarget,
    Ttl,
};

/// Read when `-config` is not given and the file exists.
pub const DEFAULT_PATH: &str = "/etc/elastic/elastic.yaml";

/// Probe defaults (anycast-healthchecker and Linode's keepalived guide use rise 2 / fall 2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 2;
/// `fast_interval` defaults to the interval divided by this (ExaBGP: 5 s, 1 s while changing).
pub const FAST_INTERVAL_DIVISOR: u32 = 4;
/// The MED a demoted route carries unless configured (ExaBGP's `--down-metric`).
pub const DEFAULT_DEMOTE_MED: u32 = 1000;
pub const DEFAULT_MAINTENANCE_POLL: Duration = Duration::from_secs(1);
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// The service gating every address when the file lists no `services`.
pub const DEFAULT_SERVICE: &str = "default";
pub const SHELL: &str = "/bin/sh";
/// How long a planned stop announces GRACEFUL_SHUTDOWN (RFC 8326) before withdrawing: enough for
/// the route servers to pick the other host's path and for the routers behind them to install it
/// (well under a second in the lab; seconds on a loaded route server), short enough that a
/// restart stays quick. systemd's TimeoutStopSec must exceed it.
pub const DEFAULT_DRAIN_TIME: Duration = Duration::from_secs(5);

/// The file: every key as read and checked, `None` (or the default) where the file does not set
/// it, so the flags and the built-in defaults apply. serde reads it ([`parse`]) and writes it
/// ([`render`]): a key added here is read, rendered and read back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of config keys (dcid, role, probes, …)"
)]
pub struct FileConfig {
    pub dcid: Option<Dcid>,
    pub role: Option<Role>,
    pub send56: Option<bool>,
    pub allifs: Option<bool>,
    pub multihop_ttl: Option<Ttl>,
    /// The BGP hold time we propose (default 9 s, lelastic's).
    pub hold_time: Option<HoldTime>,
    /// How often we send KEEPALIVEs (default: a third of the hold time).
    pub keepalive: Option<Keepalive>,
    pub neighbor_pattern: Option<NeighborPattern>,
    /// The `i` values the pattern is formatted with (default 1..=4).
    pub neighbor_slots: Option<NeighborSlots>,
    pub log_level: Option<LogLevel>,
    pub log_json: Option<bool>,
    /// In the order given; duplicates are dropped when the settings are made.
    pub addresses: Option<Vec<Address>>,
    pub med: Option<u32>,
    pub router_id: Option<RouterId>,
    pub api: Option<ApiListen>,
    pub api_allow_remote: Option<bool>,
    pub metrics: Option<Listen>,
    pub metrics_allow_remote: Option<bool>,
    pub drain_time: Option<DrainTime>,
    pub control_socket: Option<SocketPath>,
    pub control_socket_group: Option<GroupName>,
    /// Where the TCP MD5 password for every route server is.
    pub md5_password_file: Option<PasswordFile>,
    /// Sorted by name.
    #[serde(
        default,
        deserialize_with = "read_probes",
        serialize_with = "render::probes"
    )]
    pub probes: Vec<ProbeConfig>,
    /// Empty without `services` in the file (or with `services: []`): then one service named
    /// [`DEFAULT_SERVICE`] gates every address with every probe ([`FileConfig::health`]).
    #[serde(
        default,
        deserialize_with = "read_services",
        serialize_with = "render::services"
    )]
    pub services: Vec<ServiceConfig>,
    pub maintenance_file: Option<PathBuf>,
    pub maintenance_poll: Option<PollInterval>,
    #[serde(
        default,
        deserialize_with = "read_hooks",
        serialize_with = "render::hooks"
    )]
    pub hooks: Option<HookConfig>,
    /// VRRP instances: with any, elastic runs VRRP instead of BGP (the BGP-only keys refused).
    #[serde(
        default,
        deserialize_with = "vrrp::read",
        serialize_with = "vrrp::render",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub vrrp: Vec<VrrpConfig>,
    /// The password from `md5_password_file`, read and checked by [`load`]; [`parse`] does no IO
    /// and leaves it `None`.
    #[serde(skip)]
    pub md5_key: Option<Md5Key>,
    /// BFD beside every route-server session: present (even `bfd: {}`) = on.
    pub bfd: Option<BfdFile>,
}

/// `bfd:`; keys left out take FRR's defaults (300 ms, 300 ms, 3), multihop (RFC 5883).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of bfd keys (min_tx, min_rx, multiplier, multihop, min_ttl)"
)]
pub struct BfdFile {
    pub min_tx: Option<values::BfdInterval>,
    pub min_rx: Option<values::BfdInterval>,
    pub multiplier: Option<values::BfdMultiplier>,
    /// true (default): RFC 5883 on UDP 4784; false: RFC 5881 single hop on UDP 3784, TTL 255.
    pub multihop: Option<bool>,
    /// Received TTL / hop limit below this are dropped (multihop only; default
    /// 256 - multihop_ttl, the reach the BGP session has).
    pub min_ttl: Option<Ttl>,
}

impl FileConfig {
    /// Probes, services, maintenance and hooks, with their defaults.
    pub fn health(&self) -> HealthConfig {
        HealthConfig {
            probes: self.probes.clone(),
            services: match self.services.is_empty() {
                true => vec![ServiceConfig::default_service()],
                false => self.services.clone(),
            },
            maintenance_file: self.maintenance_file.clone(),
            maintenance_poll: self
                .maintenance_poll
                .map_or(DEFAULT_MAINTENANCE_POLL, |d| d.get()),
            hook: self.hooks.clone(),
        }
    }
}

/// Probes, services, maintenance and hooks: what gates the announcements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Sorted by name.
    pub probes: Vec<ProbeConfig>,
    /// Never empty: without `services` in the file, one service named [`DEFAULT_SERVICE`] gates
    /// every address with every probe.
    pub services: Vec<ServiceConfig>,
    pub maintenance_file: Option<PathBuf>,
    pub maintenance_poll: Duration,
    pub hook: Option<HookConfig>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            probes: Vec::new(),
            services: vec![ServiceConfig::default_service()],
            maintenance_file: None,
            maintenance_poll: DEFAULT_MAINTENANCE_POLL,
            hook: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    pub name: String,
    /// `None`: every announced address. A prefix is gated when it contains one of these
    /// addresses or is contained in one of these prefixes.
    pub addresses: Option<Vec<IpNet>>,
    /// `None`: every probe.
    pub probes: Option<Vec<String>>,
    pub on_down: Outcome,
    /// VRRP mode: `on_down: {demote: {priority: N}}` lowers the instance's priority by N while
    /// the service is down (`None`: no priority given).
    pub demote_priority: Option<u8>,
    pub maintenance: Outcome,
    pub announce_delay: Duration,
    pub preempt: bool,
    /// `None`: the host's role. Set, it overrides the host's role for the prefixes this service
    /// gates (`roles::check` refuses two services that would give one prefix different roles).
    pub role: Option<Role>,
}

impl ServiceConfig {
    pub fn default_service() -> Self {
        ServiceConfig {
            name: DEFAULT_SERVICE.to_string(),
            addresses: None,
            probes: None,
            on_down: Outcome::Withdraw,
            demote_priority: None,
            maintenance: Outcome::Withdraw,
            announce_delay: Duration::ZERO,
            preempt: true,
            role: None,
        }
    }

    /// The role its addresses are announced with while it is up: its own, else the host's.
    pub fn role_or(&self, host: Role) -> Role {
        self.role.unwrap_or(host)
    }

    /// The names of the probes this service needs, in order.
    pub fn probe_names<'a>(&'a self, all: &'a [ProbeConfig]) -> Vec<&'a str> {
        match &self.probes {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => all.iter().map(|p| p.name.as_str()).collect(),
        }
    }

    /// Whether this service gates the announced `prefix`.
    pub fn gates(&self, prefix: &IpNet) -> bool {
        match &self.addresses {
            None => true,
            Some(list) => list
                .iter()
                .any(|spec| prefix.contains(&spec.addr()) || spec.contains(&prefix.network())),
        }
    }
}

/// What happens to a service's addresses when it is down (or in maintenance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Withdraw,
    /// Keep announcing with these attributes (so the peer's route wins while it is healthy).
    Demote(RouteAttrs),
}

/// What `on_down: demote` announces unless it names its own attributes: the secondary
/// community and MED 1000.
pub fn default_demote() -> RouteAttrs {
    RouteAttrs {
        communities: vec![values::Community::SECONDARY.0],
        med: Some(DEFAULT_DEMOTE_MED),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    /// The command; the state, the service and the addresses are appended as arguments.
    pub argv: Vec<String>,
    pub timeout: Duration,
    pub user: Option<RunAs>,
}

/// A config file problem, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The key path (`probes.web.interval`) and what was wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", shortened(&self.message))
    }
}

/// Longest error message printed whole. A longer one quotes a huge value (a 50 MB string): its
/// start (the key and the value's beginning) and its end (what was expected) are kept.
const MAX_MESSAGE: usize = 1024;

/// `message`, or its first and last bytes around a note of how much was cut.
pub(crate) fn shortened(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_MESSAGE {
        return message.into();
    }
    let head = message.floor_char_boundary(MAX_MESSAGE * 2 / 3);
    let tail = message.ceil_char_boundary(message.len() - MAX_MESSAGE / 4);
    format!(
        "{}… ({} bytes not shown) …{}",
        &message[..head],
        tail - head,
        &message[tail..]
    )
    .into()
}

/// How [`parse_with`] reads a file the config names (an https probe's `ca_file`): [`load`]
/// reads the disk, tests pass a fake.
pub type ReadFile = Rc<dyn Fn(&Path) -> io::Result<Vec<u8>>>;

/// Reads and parses the file at `path` and the CA files it names, then reads the TCP MD5
/// password file it names (a refused password file makes the whole configuration invalid, at
/// start and on reload), and checks that this process can do what the file asks of it: run
/// commands as their `user:`, give the control socket to its group. Does IO that may take a
/// while (NSS lookups): never call it on the event loop.
pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let unreadable = |message: String| ConfigError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        message,
    };
    let bytes = files::read_limited(path, files::CONFIG_LIMIT)
        .map_err(|error| unreadable(format!("cannot read: {error}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| unreadable("cannot read: not UTF-8 text".to_string()))?;
    let read_ca = |file: &Path| files::read_limited(file, files::CA_FILE_LIMIT);
    let mut config = parse_with(&text, path, Rc::new(read_ca))?;
    if let Some(source) = &config.md5_password_file {
        let password = md5::read_configured_key(source.source()).map_err(|error| {
            // Point at the key (a top-level key starts its line).
            let line = text
                .lines()
                .position(|l| l.starts_with("md5_password_file:"))
                .map(|i| i + 1);
            ConfigError {
                file: path.to_path_buf(),
                line,
                column: line.map(|_| 1),
                message: format!("md5_password_file: {error}"),
            }
        })?;
        config.md5_key = Some(password.key);
    }
    check_powers(&mut config, &Powers::current())
        .map_err(|problem| misplaced(&text, path, problem))?;
    let process_probe = config
        .probes
        .iter()
        .find(|p| matches!(p.check, Check::Process(_)));
    if let Some(probe) = process_probe {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        if let Some(message) = hidepid_problem(&mountinfo) {
            let key = |k: &str| Step::Key(k.to_string());
            return Err(misplaced(
                &text,
                path,
                Misplaced {
                    path: vec![key("probes"), key(&probe.name), key("process")],
                    message,
                },
            ));
        }
    }
    Ok(config)
}

/// Resolves every `user:` (refused when this process cannot switch to it), and checks that the
/// control socket can be given to `control_socket_group`: refused here, with the reason, rather
/// than failing later.
fn check_powers(config: &mut FileConfig, powers: &Powers) -> Result<(), Misplaced> {
    let at = |keys: &[&str], message: String| Misplaced {
        path: keys.iter().map(|key| Step::Key(key.to_string())).collect(),
        message,
    };
    for ProbeConfig { name, check, .. } in &mut config.probes {
        if let Check::Exec {
            user: Some(user), ..
        } = check
        {
            user.resolve(powers).map_err(|why| {
                at(
                    &["probes", name, "user"],
                    format!("invalid value {:?}: {why}", user.name),
                )
            })?;
        }
    }
    if let Some(user) = config.hooks.as_mut().and_then(|hooks| hooks.user.as_mut()) {
        user.resolve(powers).map_err(|why| {
            at(
                &["hooks", "user"],
                format!("invalid value {:?}: {why}", user.name),
            )
        })?;
    }
    if let Some(group) = &config.control_socket_group {
        let name = group.get();
        // An unknown group is reported when the socket is made.
        if let Ok(Some(found)) = nix::unistd::Group::from_name(name)
            && !powers.can_chown_to(found.gid.as_raw())
        {
            return Err(at(
                &["control_socket_group"],
                format!(
                    "invalid value {name:?}: elastic runs as uid {} without CAP_CHOWN and is \
                     not in group {name:?}, so it cannot give the control socket to it: add \
                     the group to elastic's supplementary groups (SupplementaryGroups= under \
                     systemd), or remove control_socket_group",
                    powers.euid
                ),
            ));
        }
    }
    Ok(())
}

/// Parses the text of the file at `path` (the path only labels errors). Reads nothing: a
/// `ca_file` in it is an error (use [`load`] or [`parse_with`]).
pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    let no_files: ReadFile = Rc::new(|_: &Path| {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "files named in the config are read only by config::load",
        ))
    });
    parse_with(text, path, no_files)
}

/// [`parse`], with `read_file` reading the files the text names.
pub fn parse_with(text: &str, path: &Path, read_file: ReadFile) -> Result<FileConfig, ConfigError> {
    let located = |error| located(path, error);
    // Editors on Windows may start the file with a UTF-8 byte order mark; YAML allows it, and
    // the parser would take it for a second document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some((line, column)) = too_deep(text) {
        return Err(ConfigError {
            file: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: format!(
                "[ and {{ nested deeper than {MAX_FLOW_NESTING} levels: refused unread \
                 (elastic's keys need 3)"
            ),
        });
    }
    // The syntax first: read straight into RawFile, `dcid: [` would be reported as a type error
    // at the bracket rather than as the syntax error it is. An empty file sets nothing.
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(located)?;
    if value.is_null() {
        return Ok(FileConfig::default());
    }
    // First pass: every value and every mapping.
    let mut config: FileConfig = serde_yaml::from_str(text).map_err(located)?;
    // Second pass: what one value cannot tell alone, located by its key path.
    cross_check(&config).map_err(|problem| misplaced(text, path, problem))?;
    read_ca_files(&mut config.probes, &read_file)
        .map_err(|problem| misplaced(text, path, problem))?;
    Ok(config)
}

/// How deep `[` and `{` may nest. The YAML parser's time grows with the square of the flow depth
/// (20,000 levels: 2.7 s), so a deeper text is refused by [`too_deep`] before it is parsed.
pub const MAX_FLOW_NESTING: usize = 64;

/// Where `[` or `{` first nests deeper than [`MAX_FLOW_NESTING`] (line, column; 1-based), in one
/// pass that skips comments and quoted strings. Errs towards counting: a bracket in a plain
/// scalar after a space counts, which only matters for text no config has.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let (mut line, mut column) = (1, 0);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut previous = '\n';
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            (line, column, comment, previous) = (line + 1, 0, false, c);
            continue;
        }
        column += 1;
        // Where a node may start: after a space, a line start or, inside flow, `[{,`.
        let node_start =
            previous.is_whitespace() || (depth > 0 && matches!(previous, '[' | '{' | ','));
        match quote {
            _ if comment => {}
            Some('"') if c == '\\' => {
                chars.next();
                column += 1;
            }
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None => match c {
                '#' if previous.is_whitespace() => comment = true,
                '"' | '\'' if node_start => quote = Some(c),
                '[' | '{' if depth > 0 || node_start => {
                    depth += 1;
                    if depth > MAX_FLOW_NESTING {
                        return Some((line, column));
                    }
                }
                ']' | '}' if depth > 0 => depth -= 1,
                _ => {}
            },
        }
        previous = c;
    }
    None
}

/// A yaml_serde error as a [`ConfigError`]: `file:line:column: key.path: problem`.
fn located(path: &Path, error: serde_yaml::Error) -> ConfigError {
    let location = error.location();
    let mut message = error.to_string();
    // yaml_serde appends " at line L column C"; we put the location in front instead.
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    ConfigError {
        file: path.to_path_buf(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        message,
    }
}

/// Why a `process` probe cannot work under this `/proc` (the text of `/proc/self/mountinfo`):
/// mounted with `hidepid` (systemd's `ProtectProc=invisible`, `ptraceable` or `noaccess`), other
/// users' processes are hidden or unreadable, so the probe would report a running service as
/// gone.
pub fn hidepid_problem(mountinfo: &str) -> Option<String> {
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        // Field 5 is the mount point; after the "-": fstype, source, super options.
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.get(4) != Some(&"/proc") || fields.get(dash + 1) != Some(&"proc") {
            continue;
        }
        let options = fields.get(dash + 3).copied().unwrap_or("");
        let hidden = options.split(',').find_map(|o| o.strip_prefix("hidepid="));
        if let Some(mode @ ("invisible" | "ptraceable" | "noaccess" | "1" | "2" | "4")) = hidden {
            return Some(format!(
                "/proc is mounted with hidepid={mode} (systemd's ProtectProc=invisible, \
                 ptraceable or noaccess): other users' processes are hidden or unreadable, so \
                 this probe would see the \
                 service as gone; run elastic with ProtectProc=default (a drop-in for \
                 elastic.service), or use a listen, tcp or http probe"
            ));
        }
    }
    None
}

/// A problem found after parsing, located at the value its key path names in `text`.
fn misplaced(text: &str, path: &Path, problem: Misplaced) -> ConfigError {
    match schema::locate(text, &problem) {
        Some(error) => located(path, error),
        None => ConfigError {
            file: path.to_path_buf(),
            line: None,
            column: None,
            message: problem.message,
        },
    }
}

/// The checks across the file: every service's probes exist, service names are unique, no prefix
/// gets two roles, and the VRRP instances' rules ([`vrrp::cross_check`]).
fn cross_check(config: &FileConfig) -> Result<(), Misplaced> {
    // What only the BGP daemon reads: beside `vrrp:` each would be silently ignored.
    let bgp_keys = [
        ("dcid", config.dcid.is_some()),
        ("role", config.role.is_some()),
        ("send56", config.send56.is_some()),
        ("allifs", config.allifs.is_some()),
        ("multihop_ttl", config.multihop_ttl.is_some()),
        ("hold_time", config.hold_time.is_some()),
        ("keepalive", config.keepalive.is_some()),
        ("neighbor_pattern", config.neighbor_pattern.is_some()),
        ("neighbor_slots", config.neighbor_slots.is_some()),
        ("addresses", config.addresses.is_some()),
        ("med", config.med.is_some()),
        ("router_id", config.router_id.is_some()),
        ("drain_time", config.drain_time.is_some()),
        ("md5_password_file", config.md5_password_file.is_some()),
        ("bfd", config.bfd.is_some()),
    ];
    let bgp_keys: Vec<&str> = bgp_keys.iter().filter(|k| k.1).map(|k| k.0).collect();
    vrrp::cross_check(&config.vrrp, &config.services, &bgp_keys)?;
    let key = |k: &str| Step::Key(k.to_string());
    let probe_names: Vec<&str> = config.probes.iter().map(|p| p.name.as_str()).collect();
    let mut service_names: Vec<&str> = Vec::new();
    for (i, service) in config.services.iter().enumerate() {
        let name = service.name.as_str();
        if service_names.contains(&name) {
            return Err(Misplaced {
                path: vec![key("services"), Step::Index(i), key("name")],
                message: format!("invalid value {name:?}: another service has this name"),
            });
        }
        service_names.push(name);
        for (j, probe) in service.probes.iter().flatten().enumerate() {
            let why = if probe_names.contains(&probe.as_str()) {
                continue;
            } else if probe_names.is_empty() {
                "no probes are defined (add them under `probes:`)".to_string()
            } else {
                format!("no such probe; defined: {}", probe_names.join(", "))
            };
            return Err(Misplaced {
                path: vec![
                    key("services"),
                    Step::Index(i),
                    key("probes"),
                    Step::Index(j),
                ],
                message: format!("invalid value {probe:?}: {why}"),
            });
        }
    }
    // With the file's send56; `settings::resolve` checks again once the flags are merged.
    roles::check(&config.services, config.send56.unwrap_or(false)).map_err(|conflict| Misplaced {
        path: vec![key("services"), Step::Index(conflict.service), key("role")],
        message: conflict.message,
    })
}

/// Reads and checks the `ca_file` of every https probe into its trust.
fn read_ca_files(probes: &mut [ProbeConfig], read_file: &ReadFile) -> Result<(), Misplaced> {
    for probe in probes {
        let Check::Http {
            tls:
                Some(TlsOptions {
                    trust: Trust::CaFile { path, certs },
                    ..
                }),
            ..
        } = &mut probe.check
        else {
            continue;
        };
        *certs = read_ca_file(path, read_file).map_err(|why| Misplaced {
            path: ["probes", probe.name.as_str(), "http", "ca_file"]
                .map(|key| Step::Key(key.to_string()))
                .to_vec(),
            message: format!("invalid value {:?}: {why}", path.display().to_string()),
        })?;
    }
    Ok(())
}

/// PEM certificates, each usable as a trust anchor, so a bad file fails at load, not at the first
/// probe.
fn read_ca_file(path: &Path, read_file: &ReadFile) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_file(path).map_err(|error| format!("cannot read: {error}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("not PEM certificates: {error}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".to_string());
    }
    let mut roots = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        roots
            .add(cert.clone())
            .map_err(|error| format!("certificate {}: {error}", i + 1))?;
    }
    Ok(certs)
}

/// Which config file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChoice {
    /// No `-config`: [`DEFAULT_PATH`] when it exists, else none.
    Default,
    /// `-config PATH`: this file, which must exist.
    Path(PathBuf),
    /// `-config ''`: flags only, even if the default file exists.
    Nothing,
}

/// Whether [`DEFAULT_PATH`] may be absent when no `-config` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultFile {
    /// At start: no file means flags only.
    IfPresent,
    /// On reload of a daemon that runs from the default file: a missing or unreadable file is an
    /// invalid configuration, not "flags only" (which would drop every probe, so every address
    /// would be announced ungated, and the file's addresses and MD5 key with it).
    Required,
}

/// Reads the file `choice` names: `Ok(None)` when there is none to read.
pub fn load_choice(
    choice: &ConfigChoice,
    default_file: DefaultFile,
) -> Result<Option<(PathBuf, FileConfig)>, ConfigError> {
    let path = match choice {
        ConfigChoice::Nothing => return Ok(None),
        ConfigChoice::Path(path) => path.clone(),
        ConfigChoice::Default
            if default_file == DefaultFile::Required || Path::new(DEFAULT_PATH).exists() =>
        {
            PathBuf::from(DEFAULT_PATH)
        }
        ConfigChoice::Default => return Ok(None),
    };
    load(&path).map(|config| Some((path, config)))
}

// ---- reading the keys whose model differs from their YAML shape (`schema.rs`) ----

fn read_probes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ProbeConfig>, D::Error> {
    let raw = BTreeMap::<Name, Checked<RawProbe>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(name, probe)| ProbeConfig::from_raw(name.into_string(), probe.0))
        .collect())
}

fn read_services<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ServiceConfig>, D::Error> {
    let raw = Option::<Vec<RawService>>::deserialize(d)?;
    Ok(raw.into_iter().flatten().map(ServiceConfig::from).collect())
}

fn read_hooks<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HookConfig>, D::Error> {
    let raw = Option::<RawHooks>::deserialize(d)?;
    Ok(raw.map(|h| HookConfig {
        argv: h.on_change.into_vec(),
        timeout: h.timeout.map_or(DEFAULT_HOOK_TIMEOUT, |d| d.get()),
        user: h.user.map(RunAs::from),
    }))
}

impl From<RawService> for ServiceConfig {
    fn from(raw: RawService) -> Self {
        let outcome = |raw: Option<RawOutcome>| match raw {
            None | Some(RawOutcome::Withdraw) => Outcome::Withdraw,
            Some(RawOutcome::Demote(demote)) => {
                let defaults = default_demote();
                Outcome::Demote(RouteAttrs {
                    communities: demote.communities.map_or(defaults.communities, |list| {
                        dedup(list.into_iter().map(|c| c.0))
                    }),
                    med: demote.med.or(defaults.med),
                })
            }
        };
        let demote_priority = match &raw.on_down {
            Some(RawOutcome::Demote(demote)) => demote.priority,
            _ => None,
        };
        ServiceConfig {
            name: raw.name.into_string(),
            addresses: raw.addresses.map(|l| dedup(l.into_iter().map(|a| a.get()))),
            probes: raw.probes.map(|l| dedup(l.into_iter())),
            on_down: outcome(raw.on_down),
            demote_priority,
            maintenance: outcome(raw.maintenance),
            announce_delay: raw.announce_delay.map_or(Duration::ZERO, |d| d.get()),
            preempt: raw.preempt.unwrap_or(true),
            role: raw.role,
        }
    }
}

/// The items in order, each once.
pub fn dedup<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests;
