//! The YAML config file (`-config PATH`, default [`DEFAULT_PATH`] when it exists): schema,
//! defaults and validation.
//!
//! Every check that concerns one value runs while that value is deserialized, so yaml_serde's
//! error carries the key's path and line; [`ConfigError`] prints `file:line:column: key: problem`.
//! References between keys (a service naming a probe) are checked the same way: the probe names
//! are collected in a first pass and consulted while the services are read.
//!
//! Pure except [`load`], which reads the file, hands [`parse_with`] the means to read the files
//! the config names (an https probe's `ca_file`, so it is read and its errors located while the
//! key is), and reads the TCP MD5 password file it names. The keys are documented in the README
//! ("Configuration file").

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use ipnet::IpNet;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::announce::COMMUNITY_SECONDARY;
use crate::bgp::md5::{self, KeySource, Md5Key};
use crate::cli::{LogLevel, Role};

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

/// What the file says. Flag keys are `None` when absent (flags and built-in defaults apply).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileConfig {
    pub dcid: Option<u32>,
    pub role: Option<Role>,
    pub send56: Option<bool>,
    pub allifs: Option<bool>,
    pub multihop_ttl: Option<u8>,
    pub neighbor_pattern: Option<String>,
    /// The `i` values the pattern is formatted with (default 1..=4).
    pub neighbor_slots: Option<Vec<u8>>,
    pub log_level: Option<LogLevel>,
    pub log_json: Option<bool>,
    pub addresses: Option<Vec<IpNet>>,
    pub med: Option<u32>,
    pub router_id: Option<Ipv4Addr>,
    /// `Some(None)` is `api: off`.
    pub api: Option<Option<SocketAddr>>,
    pub api_allow_remote: Option<bool>,
    pub metrics: Option<SocketAddr>,
    /// `md5_password_file`: where the TCP MD5 password for every route server is.
    pub md5_password_file: Option<KeySource>,
    /// The password from `md5_password_file`, read and checked by [`load`]; [`parse`] does no IO
    /// and leaves it `None`.
    pub md5_key: Option<Md5Key>,
    pub health: HealthConfig,
    pub drain_time: Option<Duration>,
    pub control_socket: Option<PathBuf>,
    pub control_socket_group: Option<String>,
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
pub struct ProbeConfig {
    pub name: String,
    pub check: Check,
    pub interval: Duration,
    /// Used while the probe's state is changing (rising or falling, or waiting at start).
    pub fast_interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Exit status 0 passes. `shell` in the file becomes `["/bin/sh", "-c", script]`.
    Exec {
        argv: Vec<String>,
        user: Option<String>,
    },
    /// A TCP connect that completes passes.
    Tcp { address: SocketAddr },
    /// A GET whose status matches (and whose body contains `body`, when set) passes.
    Http {
        url: HttpUrl,
        status: u16,
        body: Option<String>,
        /// Set exactly for `https://` URLs.
        tls: Option<TlsOptions>,
    },
}

/// An `http://` or `https://` URL, split for the hand-written client in `probe.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub text: String,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
}

/// How an https probe checks the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    pub trust: Trust,
    /// The name the certificate must carry and the SNI sent (none for an IP address): the URL's
    /// host unless `server_name` is set. Checked at load to be a DNS name or an IP address.
    pub server_name: String,
}

/// Which certificates an https probe accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Chains to Mozilla's roots (compiled in from webpki-roots).
    Default,
    /// Chains to one of these (`ca_file`, read at load), instead of the default roots.
    CaFile {
        path: PathBuf,
        certs: Vec<CertificateDer<'static>>,
    },
    /// `tls_verify: false`: any certificate for any name (the server must still sign the
    /// handshake with the key of the certificate it sends).
    Unverified,
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
    pub maintenance: Outcome,
    pub announce_delay: Duration,
    pub preempt: bool,
}

impl ServiceConfig {
    pub fn default_service() -> Self {
        ServiceConfig {
            name: DEFAULT_SERVICE.to_string(),
            addresses: None,
            probes: None,
            on_down: Outcome::Withdraw,
            maintenance: Outcome::Withdraw,
            announce_delay: Duration::ZERO,
            preempt: true,
        }
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
    Demote(DemoteAttrs),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoteAttrs {
    pub communities: Vec<u32>,
    pub med: Option<u32>,
}

impl Default for DemoteAttrs {
    fn default() -> Self {
        DemoteAttrs {
            communities: vec![COMMUNITY_SECONDARY],
            med: Some(DEFAULT_DEMOTE_MED),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    /// The command; the state, the service and the addresses are appended as arguments.
    pub argv: Vec<String>,
    pub timeout: Duration,
    pub user: Option<String>,
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
        write!(f, ": {}", self.message)
    }
}

/// How [`parse_with`] reads a file the config names (an https probe's `ca_file`): [`load`]
/// reads the disk, tests pass a fake.
pub type ReadFile = Rc<dyn Fn(&Path) -> io::Result<Vec<u8>>>;

/// Reads and parses the file at `path` and the CA files it names, then reads the TCP MD5
/// password file it names (a refused password file makes the whole configuration invalid, at
/// start and on reload).
pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read: {error}"),
    })?;
    let mut config = parse_with(&text, path, Rc::new(|file: &Path| std::fs::read(file)))?;
    if let Some(source) = &config.md5_password_file {
        let password = md5::read_configured_key(source).map_err(|error| {
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
    Ok(config)
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
    let located = |error: serde_yaml::Error| {
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
    };
    // First pass: syntax, an empty file, and the probe names services may refer to.
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(located)?;
    if value.is_null() {
        return Ok(FileConfig::default());
    }
    let probe_names = value
        .get("probes")
        .and_then(serde_yaml::Value::as_mapping)
        .map(|probes| {
            probes
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let raw: RawFile =
        with_context(probe_names, read_file, || serde_yaml::from_str(text)).map_err(located)?;
    Ok(raw.into())
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
    choice: &crate::cli::ConfigChoice,
    default_file: DefaultFile,
) -> Result<Option<(PathBuf, FileConfig)>, ConfigError> {
    use crate::cli::ConfigChoice;
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

/// Why the effective settings could not be made: the file itself, or the flags merged with it.
#[derive(Debug, thiserror::Error)]
pub enum EffectiveError {
    #[error(transparent)]
    File(#[from] ConfigError),
    #[error(transparent)]
    Usage(#[from] crate::cli::UsageError),
}

/// The file `invocation` names (if any), read and merged under its flags: what start-up and every
/// SIGHUP use, so flags keep winning over the file on reload.
pub fn effective(
    invocation: &crate::cli::Invocation,
    default_file: DefaultFile,
) -> Result<crate::cli::Settings, EffectiveError> {
    let file = load_choice(&invocation.config, default_file)?;
    let file_ref = file.as_ref().map(|(path, config)| (path.as_path(), config));
    Ok(crate::cli::resolve(&invocation.flags, file_ref)?)
}

/// The effective configuration as YAML that [`parse`] accepts: every key with the value in force
/// (flags merged, defaults filled in). `elastic check-config` prints it.
pub fn render(settings: &crate::cli::Settings) -> String {
    use serde_yaml::{Mapping, Value};
    fn map(entries: Vec<(&str, Value)>) -> Value {
        let mut m = Mapping::new();
        for (k, v) in entries {
            if !v.is_null() {
                m.insert(Value::from(k), v);
            }
        }
        Value::Mapping(m)
    }
    let text = |t: &dyn fmt::Display| Value::from(t.to_string());
    let dur = |d: Duration| Value::from(humantime::format_duration(d).to_string());
    let list = |items: Vec<Value>| Value::Sequence(items);
    let opt = |v: Option<Value>| v.unwrap_or(Value::Null);
    let community = |c: &u32| Value::from(format!("{}:{}", c >> 16, c & 0xffff));
    let outcome = |o: &Outcome| match o {
        Outcome::Withdraw => Value::from("withdraw"),
        Outcome::Demote(attrs) => map(vec![(
            "demote",
            map(vec![
                (
                    "communities",
                    list(attrs.communities.iter().map(community).collect()),
                ),
                ("med", opt(attrs.med.map(Value::from))),
            ]),
        )]),
    };
    let h = &settings.health;
    let probes: Mapping = h
        .probes
        .iter()
        .map(|p| {
            let mut entries = match &p.check {
                Check::Exec { argv, user } => vec![
                    (
                        "exec",
                        list(argv.iter().map(|a| Value::from(a.as_str())).collect()),
                    ),
                    ("user", opt(user.as_deref().map(Value::from))),
                ],
                Check::Tcp { address } => vec![("tcp", text(address))],
                Check::Http {
                    url,
                    status,
                    body,
                    tls,
                } => {
                    let mut keys = vec![
                        ("url", Value::from(url.text.clone())),
                        ("status", Value::from(*status)),
                        ("body", opt(body.as_deref().map(Value::from))),
                    ];
                    if let Some(tls) = tls {
                        keys.extend([
                            (
                                "ca_file",
                                match &tls.trust {
                                    Trust::CaFile { path, .. } => {
                                        Value::from(path.display().to_string())
                                    }
                                    _ => Value::Null,
                                },
                            ),
                            (
                                "tls_verify",
                                Value::from(!matches!(tls.trust, Trust::Unverified)),
                            ),
                            ("server_name", Value::from(tls.server_name.clone())),
                        ]);
                    }
                    vec![("http", map(keys))]
                }
            };
            entries.extend([
                ("interval", dur(p.interval)),
                ("fast_interval", dur(p.fast_interval)),
                ("timeout", dur(p.timeout)),
                ("rise", Value::from(p.rise)),
                ("fall", Value::from(p.fall)),
            ]);
            (Value::from(p.name.clone()), map(entries))
        })
        .collect();
    let services = h
        .services
        .iter()
        .map(|s| {
            map(vec![
                ("name", Value::from(s.name.clone())),
                (
                    "addresses",
                    opt(s
                        .addresses
                        .as_ref()
                        .map(|l| list(l.iter().map(|a| text(a)).collect()))),
                ),
                (
                    "probes",
                    opt(s
                        .probes
                        .as_ref()
                        .map(|l| list(l.iter().map(|p| Value::from(p.clone())).collect()))),
                ),
                ("on_down", outcome(&s.on_down)),
                ("maintenance", outcome(&s.maintenance)),
                ("announce_delay", dur(s.announce_delay)),
                ("preempt", Value::from(s.preempt)),
            ])
        })
        .collect();
    let role = match settings.role {
        Role::Primary => "primary",
        Role::Secondary => "secondary",
    };
    let level = match settings.log_level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let root = map(vec![
        ("dcid", Value::from(settings.dcid)),
        ("role", Value::from(role)),
        ("send56", Value::from(settings.send56)),
        ("allifs", Value::from(settings.allifs)),
        ("multihop_ttl", Value::from(settings.multihop_ttl)),
        (
            "neighbor_pattern",
            Value::from(settings.neighbor_pattern.clone()),
        ),
        (
            "neighbor_slots",
            list(
                settings
                    .neighbor_slots
                    .iter()
                    .map(|s| Value::from(*s))
                    .collect(),
            ),
        ),
        ("log_level", Value::from(level)),
        ("log_json", Value::from(settings.log_json)),
        (
            "addresses",
            list(settings.addresses.iter().map(|a| text(a)).collect()),
        ),
        ("med", opt(settings.med.map(Value::from))),
        ("router_id", opt(settings.router_id.map(|r| text(&r)))),
        (
            "api",
            Value::from(settings.api.map_or("off".to_string(), |a| a.to_string())),
        ),
        ("api_allow_remote", Value::from(settings.api_allow_remote)),
        ("metrics", opt(settings.metrics.map(|m| text(&m)))),
        (
            "drain_time",
            if settings.drain_time.is_zero() {
                Value::from("0s")
            } else {
                dur(settings.drain_time)
            },
        ),
        (
            "control_socket",
            opt(settings
                .control_socket
                .as_ref()
                .map(|p| Value::from(p.display().to_string()))),
        ),
        (
            "control_socket_group",
            opt(settings.control_socket_group.as_deref().map(Value::from)),
        ),
        (
            "md5_password_file",
            opt(settings.md5.as_ref().map(|m| text(&m.source))),
        ),
        ("probes", Value::Mapping(probes)),
        ("services", list(services)),
        (
            "maintenance_file",
            opt(h
                .maintenance_file
                .as_ref()
                .map(|p| Value::from(p.display().to_string()))),
        ),
        ("maintenance_poll", dur(h.maintenance_poll)),
        (
            "hooks",
            opt(h.hook.as_ref().map(|hook| {
                map(vec![
                    (
                        "on_change",
                        list(hook.argv.iter().map(|a| Value::from(a.as_str())).collect()),
                    ),
                    ("timeout", dur(hook.timeout)),
                    ("user", opt(hook.user.as_deref().map(Value::from))),
                ])
            })),
        ),
    ]);
    serde_yaml::to_string(&root).unwrap_or_else(|error| format!("# cannot render: {error}\n"))
}

// ---- deserialization -----------------------------------------------------------------------

thread_local! {
    /// What value-level checks need to know about the rest of the file (set for one parse).
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
}

#[derive(Default)]
struct Context {
    probe_names: Vec<String>,
    service_names: Vec<String>,
    read_file: Option<ReadFile>,
}

fn with_context<T>(probe_names: Vec<String>, read_file: ReadFile, f: impl FnOnce() -> T) -> T {
    CONTEXT.with(|c| {
        *c.borrow_mut() = Context {
            probe_names,
            service_names: Vec::new(),
            read_file: Some(read_file),
        }
    });
    let result = f();
    CONTEXT.with(|c| *c.borrow_mut() = Context::default());
    result
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of config keys (dcid, role, probes, …)"
)]
struct RawFile {
    dcid: Option<Dcid>,
    role: Option<RawRole>,
    send56: Option<bool>,
    allifs: Option<bool>,
    multihop_ttl: Option<Ttl>,
    neighbor_pattern: Option<Pattern>,
    neighbor_slots: Option<Slots>,
    log_level: Option<Level>,
    log_json: Option<bool>,
    addresses: Option<Vec<Address>>,
    med: Option<u32>,
    router_id: Option<RouterId>,
    api: Option<ApiListen>,
    api_allow_remote: Option<bool>,
    metrics: Option<Listen>,
    md5_password_file: Option<PasswordFile>,
    #[serde(default)]
    probes: BTreeMap<Name, RawProbe>,
    services: Option<Vec<RawService>>,
    maintenance_file: Option<PathBuf>,
    maintenance_poll: Option<Dur>,
    hooks: Option<RawHooks>,
    drain_time: Option<DrainTime>,
    control_socket: Option<SocketPath>,
    control_socket_group: Option<GroupName>,
}

impl From<RawFile> for FileConfig {
    fn from(raw: RawFile) -> Self {
        let probes = raw
            .probes
            .into_iter()
            .map(|(name, probe)| probe.into_config(name.0))
            .collect();
        let services = match raw.services {
            Some(list) if !list.is_empty() => list.into_iter().map(RawService::into).collect(),
            _ => vec![ServiceConfig::default_service()],
        };
        FileConfig {
            dcid: raw.dcid.map(|d| d.0),
            role: raw.role.map(|r| match r {
                RawRole::Primary => Role::Primary,
                RawRole::Secondary => Role::Secondary,
            }),
            send56: raw.send56,
            allifs: raw.allifs,
            multihop_ttl: raw.multihop_ttl.map(|t| t.0),
            neighbor_pattern: raw.neighbor_pattern.map(|p| p.0),
            neighbor_slots: raw.neighbor_slots.map(|s| s.0),
            log_level: raw.log_level.map(|l| l.0),
            log_json: raw.log_json,
            addresses: raw
                .addresses
                .map(|list| dedup(list.into_iter().map(|a| a.0))),
            med: raw.med,
            router_id: raw.router_id.map(|r| r.0),
            api: raw.api.map(|a| a.0),
            api_allow_remote: raw.api_allow_remote,
            metrics: raw.metrics.map(|m| m.0),
            drain_time: raw.drain_time.map(|d| d.0),
            control_socket: raw.control_socket.map(|p| p.0),
            control_socket_group: raw.control_socket_group.map(|g| g.0),
            md5_password_file: raw.md5_password_file.map(|p| p.0),
            md5_key: None,
            health: HealthConfig {
                probes,
                services,
                maintenance_file: raw.maintenance_file,
                maintenance_poll: raw
                    .maintenance_poll
                    .map_or(DEFAULT_MAINTENANCE_POLL, |d| d.0),
                hook: raw.hooks.map(|h| HookConfig {
                    argv: h.on_change.0,
                    timeout: h.timeout.map_or(DEFAULT_HOOK_TIMEOUT, |d| d.0),
                    user: h.user,
                }),
            },
        }
    }
}

fn dedup<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawRole {
    Primary,
    Secondary,
}

struct RawProbe {
    check: Check,
    interval: Duration,
    fast_interval: Duration,
    timeout: Duration,
    rise: u32,
    fall: u32,
}

impl RawProbe {
    fn into_config(self, name: String) -> ProbeConfig {
        ProbeConfig {
            name,
            check: self.check,
            interval: self.interval,
            fast_interval: self.fast_interval,
            timeout: self.timeout,
            rise: self.rise,
            fall: self.fall,
        }
    }
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a probe (exec, shell, tcp or http, with timings)"
)]
struct ProbeFields {
    exec: Option<Argv>,
    shell: Option<String>,
    tcp: Option<TcpTarget>,
    http: Option<RawHttp>,
    user: Option<String>,
    interval: Option<Dur>,
    fast_interval: Option<Dur>,
    timeout: Option<Dur>,
    rise: Option<Count>,
    fall: Option<Count>,
}

impl<'de> Deserialize<'de> for RawProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MapVisitor(RawProbe::check, std::marker::PhantomData))
    }
}

impl RawProbe {
    fn check(f: ProbeFields) -> Result<Self, String> {
        let kinds = [
            f.exec.is_some(),
            f.shell.is_some(),
            f.tcp.is_some(),
            f.http.is_some(),
        ];
        let check = match (f.exec, f.shell, f.tcp, f.http) {
            _ if kinds.iter().filter(|k| **k).count() != 1 => {
                return Err("a probe needs exactly one of exec, shell, tcp or http".to_string());
            }
            (Some(argv), ..) => Check::Exec {
                argv: argv.0,
                user: f.user,
            },
            (_, Some(script), ..) => Check::Exec {
                argv: vec![SHELL.to_string(), "-c".to_string(), script],
                user: f.user,
            },
            (_, _, Some(tcp), _) => {
                no_user(&f.user, "tcp")?;
                Check::Tcp { address: tcp.0 }
            }
            (_, _, _, Some(http)) => {
                no_user(&f.user, "http")?;
                http.0
            }
            _ => unreachable!("exactly one kind is set"),
        };
        let interval = f.interval.map_or(DEFAULT_INTERVAL, |d| d.0);
        let fast_interval = f
            .fast_interval
            .map_or(interval / FAST_INTERVAL_DIVISOR, |d| d.0);
        if fast_interval > interval {
            return Err(format!(
                "fast_interval ({}) must not be longer than interval ({})",
                humantime::format_duration(fast_interval),
                humantime::format_duration(interval)
            ));
        }
        Ok(RawProbe {
            check,
            interval,
            fast_interval,
            timeout: f.timeout.map_or(interval, |d| d.0),
            rise: f.rise.map_or(DEFAULT_RISE, |c| c.0),
            fall: f.fall.map_or(DEFAULT_FALL, |c| c.0),
        })
    }
}

fn no_user(user: &Option<String>, kind: &str) -> Result<(), String> {
    match user {
        Some(_) => Err(format!("user applies to exec and shell probes, not {kind}")),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFields {
    url: Url,
    status: Option<Status>,
    body: Option<String>,
    ca_file: Option<CaFile>,
    tls_verify: Option<bool>,
    server_name: Option<TlsName>,
}

/// The `http` mapping, checked as a whole (the TLS keys against the URL's scheme).
struct RawHttp(Check);

impl<'de> Deserialize<'de> for RawHttp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MapVisitor(RawHttp::check, std::marker::PhantomData))
    }
}

impl RawHttp {
    fn check(f: HttpFields) -> Result<Self, String> {
        let Url((url, https)) = f.url;
        let tls = if https {
            let trust = match (f.tls_verify, f.ca_file) {
                (Some(false), Some(_)) => {
                    return Err(
                        "ca_file has no effect with tls_verify: false; keep one of them"
                            .to_string(),
                    );
                }
                (Some(false), None) => Trust::Unverified,
                (_, Some(CaFile((path, certs)))) => Trust::CaFile { path, certs },
                (_, None) => Trust::Default,
            };
            let server_name = match f.server_name {
                Some(name) => name.0,
                None => {
                    check_server_name(&url.host).map_err(|why| format!("url: {why}"))?;
                    url.host.clone()
                }
            };
            Some(TlsOptions { trust, server_name })
        } else {
            let tls_keys = [
                f.ca_file.is_some(),
                f.tls_verify.is_some(),
                f.server_name.is_some(),
            ];
            if tls_keys.contains(&true) {
                return Err(
                    "ca_file, tls_verify and server_name apply to https:// URLs only".to_string(),
                );
            }
            None
        };
        Ok(RawHttp(Check::Http {
            url,
            status: f.status.map_or(200, |s| s.0),
            body: f.body,
            tls,
        }))
    }
}

/// A name rustls can check a certificate against: a DNS name or an IP address.
fn check_server_name(name: &str) -> Result<(), String> {
    match ServerName::try_from(name) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("{name:?} is neither a DNS name nor an IP address")),
    }
}

/// A `ca_file`: an absolute path to PEM certificates, read through the context's reader. Each
/// must be usable as a trust anchor, so a bad file fails at load, not at the first probe.
fn read_ca_file(text: &str) -> Result<(PathBuf, Vec<CertificateDer<'static>>), String> {
    let path = PathBuf::from(text);
    if !path.is_absolute() {
        return Err("give an absolute path".to_string());
    }
    let read_file = CONTEXT
        .with(|c| c.borrow().read_file.clone())
        .ok_or("files cannot be read here")?;
    let pem = read_file(&path).map_err(|error| format!("cannot read: {error}"))?;
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
    Ok((path, certs))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: ServiceName,
    addresses: Option<Vec<Address>>,
    probes: Option<Vec<ProbeRef>>,
    on_down: Option<OutcomeDe>,
    maintenance: Option<OutcomeDe>,
    announce_delay: Option<Delay>,
    preempt: Option<bool>,
}

impl From<RawService> for ServiceConfig {
    fn from(raw: RawService) -> Self {
        ServiceConfig {
            name: raw.name.0,
            addresses: raw.addresses.map(|l| dedup(l.into_iter().map(|a| a.0))),
            probes: raw.probes.map(|l| dedup(l.into_iter().map(|p| p.0))),
            on_down: raw.on_down.map_or(Outcome::Withdraw, |o| o.0),
            maintenance: raw.maintenance.map_or(Outcome::Withdraw, |o| o.0),
            announce_delay: raw.announce_delay.map_or(Duration::ZERO, |d| d.0),
            preempt: raw.preempt.unwrap_or(true),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHooks {
    on_change: Argv,
    timeout: Option<Dur>,
    user: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemote {
    communities: Option<Vec<Community>>,
    med: Option<u32>,
}

/// Parses a string inside yaml_serde's `deserialize_str`, so an error carries the value's own
/// path and line (an error returned after `deserialize` has finished gets the parent's).
struct StrVisitor<F>(F);

impl<'de, T, F: FnOnce(&str) -> Result<T, String>> Visitor<'de> for StrVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        (self.0)(text).map_err(|why| E::custom(format!("invalid value {text:?}: {why}")))
    }
}

fn parse_str<'de, D, T>(d: D, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    d.deserialize_str(StrVisitor(parse))
}

/// The same for integers.
struct IntVisitor<F>(F);

impl<'de, T, F: FnOnce(i64) -> Result<T, String>> Visitor<'de> for IntVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
        (self.0)(n).map_err(|why| E::custom(format!("invalid value {n}: {why}")))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        match i64::try_from(n) {
            Ok(n) => self.visit_i64(n),
            Err(_) => Err(E::custom(format!("invalid value {n}: too large"))),
        }
    }
}

fn parse_int<'de, D, T>(d: D, check: impl FnOnce(i64) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    d.deserialize_i64(IntVisitor(check))
}

/// Reads a mapping as `F` and checks it as a whole inside the same call, so the error is located
/// at the mapping and names its path.
struct MapVisitor<F, C>(C, std::marker::PhantomData<F>);

impl<'de, F, T, C> Visitor<'de> for MapVisitor<F, C>
where
    F: Deserialize<'de>,
    C: FnOnce(F) -> Result<T, String>,
{
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let fields = F::deserialize(de::value::MapAccessDeserializer::new(map))?;
        (self.0)(fields).map_err(de::Error::custom)
    }
}

macro_rules! parsed_newtype {
    ($name:ident, $inner:ty, $parse:expr) => {
        struct $name($inner);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                parse_str(d, $parse).map($name)
            }
        }
    };
}

macro_rules! int_newtype {
    ($name:ident, $inner:ty, $check:expr) => {
        struct $name($inner);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                parse_int(d, $check).map($name)
            }
        }
    };
}

int_newtype!(Dcid, u32, |n: i64| match n {
    ..=1 => Err("dcid must be greater than 1".to_string()),
    n => u32::try_from(n).map_err(|_| "too large".to_string()),
});
int_newtype!(Ttl, u8, |n: i64| u8::try_from(n)
    .ok()
    .filter(|t| *t >= 1)
    .ok_or_else(|| "expected 1 to 255".to_string()));
// rise / fall: how many results in a row change a probe's state.
int_newtype!(Count, u32, |n: i64| match n {
    1..=1000 => Ok(n as u32),
    _ => Err("expected 1 to 1000".to_string()),
});
int_newtype!(Status, u16, |n: i64| match n {
    100..=599 => Ok(n as u16),
    _ => Err("expected an HTTP status, 100 to 599".to_string()),
});

parsed_newtype!(Dur, Duration, parse_duration);
parsed_newtype!(DrainTime, Duration, |t: &str| match t.trim() {
    "0" => Ok(Duration::ZERO),
    _ => humantime::parse_duration(t)
        .map_err(|_| "expected a duration such as 5s or 500ms, or 0 to skip the drain".to_string()),
});
parsed_newtype!(SocketPath, PathBuf, |t: &str| {
    let path = PathBuf::from(t);
    // sun_path holds 108 bytes with the terminating NUL.
    if !path.is_absolute() {
        Err("expected an absolute path, e.g. /run/elastic/control.sock".to_string())
    } else if t.len() > 107 {
        Err("the path is too long for a unix socket (107 bytes at most)".to_string())
    } else {
        Ok(path)
    }
});
parsed_newtype!(GroupName, String, |t: &str| {
    let ok = !t.is_empty()
        && t.len() <= 32
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(t.to_string())
    } else {
        Err("expected a group name (letters, digits, '-', '_' and '.')".to_string())
    }
});
parsed_newtype!(Delay, Duration, parse_delay);
parsed_newtype!(Address, IpNet, crate::cli::parse_address);
parsed_newtype!(RouterId, Ipv4Addr, crate::cli::parse_router_id);
parsed_newtype!(Listen, SocketAddr, crate::cli::parse_listen);
parsed_newtype!(
    ApiListen,
    Option<SocketAddr>,
    crate::cli::parse_listen_or_off
);
parsed_newtype!(TcpTarget, SocketAddr, |t: &str| t
    .parse::<SocketAddr>()
    .map_err(|_| {
        "expected IP:PORT, e.g. 127.0.0.1:80 or [::1]:80".to_string()
    }));
parsed_newtype!(Url, (HttpUrl, bool), parse_url);
parsed_newtype!(PasswordFile, KeySource, KeySource::parse);
parsed_newtype!(
    CaFile,
    (PathBuf, Vec<CertificateDer<'static>>),
    read_ca_file
);
parsed_newtype!(TlsName, String, |t: &str| check_server_name(t)
    .map(|()| t.to_string()));
parsed_newtype!(Community, u32, parse_community);
parsed_newtype!(Level, LogLevel, |t: &str| LogLevel::parse(t).ok_or_else(
    || { "expected trace, debug, info, warn or error".to_string() }
));
parsed_newtype!(Name, String, parse_name);
parsed_newtype!(Pattern, String, |t: &str| match t.matches("%d").count() {
    2 => Ok(t.to_string()),
    _ => Err("expected exactly two %d (datacenter id, then 1..4)".to_string()),
});

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Name {}
impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Name {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

parsed_newtype!(ServiceName, String, |t: &str| {
    let name = parse_name(t)?;
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.service_names.contains(&name) {
            return Err("another service has this name".to_string());
        }
        c.service_names.push(name.clone());
        Ok(name)
    })
});
parsed_newtype!(ProbeRef, String, |t: &str| {
    CONTEXT.with(|c| {
        let c = c.borrow();
        if c.probe_names.iter().any(|known| known == t) {
            Ok(t.to_string())
        } else if c.probe_names.is_empty() {
            Err("no probes are defined (add them under `probes:`)".to_string())
        } else {
            Err(format!(
                "no such probe; defined: {}",
                c.probe_names.join(", ")
            ))
        }
    })
});

/// Humantime durations ("1s", "500ms", "1m 30s"); zero is refused (a zero interval would spin).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be longer than 0".to_string()),
        Ok(d) => Ok(d),
        Err(_) => Err("expected a duration such as 1s, 500ms or 1m30s".to_string()),
    }
}

/// A wait that may be zero (`announce_delay: 0s` is the default, and what check-config prints).
fn parse_delay(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|_| "expected a duration such as 0s, 1s, 500ms or 1m30s".to_string())
}

/// Probe and service names end up in logs, hook arguments and metric labels.
fn parse_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(text.to_string())
    } else {
        Err("names use letters, digits, '-', '_' and '.' (1 to 64 of them)".to_string())
    }
}

/// `ASN:VALUE`, each 0..=65535 (RFC 1997 standard community).
pub fn parse_community(text: &str) -> Result<u32, String> {
    let expected = || "expected ASN:VALUE with both parts 0-65535, e.g. 65000:2".to_string();
    let (asn, value) = text.split_once(':').ok_or_else(expected)?;
    let asn: u16 = asn.parse().map_err(|_| expected())?;
    let value: u16 = value.parse().map_err(|_| expected())?;
    Ok((u32::from(asn) << 16) | u32::from(value))
}

/// `http://HOST[:PORT]/PATH` or `https://…`: the parts, and whether it is https.
fn parse_url(text: &str) -> Result<(HttpUrl, bool), String> {
    let (rest, https, default_port) = if let Some(rest) = text.strip_prefix("http://") {
        (rest, false, 80)
    } else if let Some(rest) = text.strip_prefix("https://") {
        (rest, true, 443)
    } else {
        return Err("expected a URL starting with http:// or https://".to_string());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err("expected http[s]://HOST[:PORT]/PATH".to_string());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("bad port {port:?} in the URL"))?;
            (host, port)
        }
        _ => (authority, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let valid_host = host.parse::<IpAddr>().is_ok()
        || (!host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')));
    if !valid_host {
        return Err(format!("bad host {host:?} in the URL"));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the path must not contain spaces or control characters".to_string());
    }
    let url = HttpUrl {
        text: text.to_string(),
        host: host.to_string(),
        port,
        path: path.to_string(),
    };
    Ok((url, https))
}

/// `neighbor_slots`: the `i` values (1 to 255) the neighbor pattern is formatted with, each once.
struct Slots(Vec<u8>);
impl<'de> Deserialize<'de> for Slots {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SlotsVisitor;
        impl<'de> Visitor<'de> for SlotsVisitor {
            type Value = Slots;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of route-server slots, e.g. [1, 2, 3, 4]")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Slots, A::Error> {
                let mut slots = Vec::new();
                while let Some(slot) = seq.next_element::<i64>()? {
                    let slot = u8::try_from(slot).ok().filter(|s| *s >= 1).ok_or_else(|| {
                        de::Error::custom(format!("invalid slot {slot}: expected 1 to 255"))
                    })?;
                    if slots.contains(&slot) {
                        return Err(de::Error::custom(format!("slot {slot} is listed twice")));
                    }
                    slots.push(slot);
                }
                if slots.is_empty() {
                    return Err(de::Error::custom("at least one slot is needed"));
                }
                Ok(Slots(slots))
            }
        }
        d.deserialize_seq(SlotsVisitor)
    }
}

/// A command: one program path (a string) or an argv list. Never run through a shell.
struct Argv(Vec<String>);
impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ArgvVisitor;
        impl<'de> Visitor<'de> for ArgvVisitor {
            type Value = Argv;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a program path or a list [program, args…]")
            }
            fn visit_str<E: de::Error>(self, program: &str) -> Result<Argv, E> {
                check_argv(vec![program.to_string()]).map_err(E::custom)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Argv, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                check_argv(argv).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(ArgvVisitor)
    }
}

fn check_argv(argv: Vec<String>) -> Result<Argv, String> {
    match argv.first().map(String::as_str) {
        None => Err("the command is empty: give [program, args…]".to_string()),
        Some("") => Err("the program name is empty".to_string()),
        Some(program) if !program.starts_with('/') && program.contains('/') => Err(format!(
            "invalid value {program:?}: give an absolute path, or a bare name looked up in PATH"
        )),
        Some(_) => Ok(Argv(argv)),
    }
}

/// `withdraw`, `demote`, or `{demote: {communities: [...], med: N}}`.
struct OutcomeDe(Outcome);
impl<'de> Deserialize<'de> for OutcomeDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OutcomeVisitor;
        impl<'de> Visitor<'de> for OutcomeVisitor {
            type Value = OutcomeDe;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("withdraw, demote, or {demote: {communities: [...], med: N}}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OutcomeDe, E> {
                match v {
                    "withdraw" => Ok(OutcomeDe(Outcome::Withdraw)),
                    "demote" => Ok(OutcomeDe(Outcome::Demote(DemoteAttrs::default()))),
                    other => Err(E::custom(format!(
                        "invalid value {other:?}: expected withdraw or demote"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OutcomeDe, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("expected {demote: {...}}"));
                };
                if key != "demote" {
                    return Err(de::Error::custom(format!(
                        "unknown key `{key}`, expected `demote`"
                    )));
                }
                let raw: RawDemote = map.next_value()?;
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "unexpected key `{extra}` after `demote`"
                    )));
                }
                let defaults = DemoteAttrs::default();
                Ok(OutcomeDe(Outcome::Demote(DemoteAttrs {
                    communities: raw.communities.map_or(defaults.communities, |list| {
                        dedup(list.into_iter().map(|c| c.0))
                    }),
                    med: raw.med.or(defaults.med),
                })))
            }
        }
        d.deserialize_any(OutcomeVisitor)
    }
}

#[cfg(test)]
mod tests;
