//! lelastic-compatible command line → [`Invocation`]: the flags given ([`FlagValues`]) and which
//! config file to read; [`crate::settings::resolve`] merges them over the file.
//!
//! lelastic uses Go's `flag` package, so existing units say `-dcid 14 -primary`. Go accepts
//! `-name value`, `-name=value`, `--name value` and `--name=value`, lets the last occurrence win and
//! takes `-flag=false` for booleans. `canonicalize` rewrites that grammar into clap's (`--name=value`,
//! bare `--name` for a true boolean) before clap types and validates the values and renders the usage.
//! Unlike Go, a stray word is an error: Go silently stops parsing there and ignores every flag after it.
//! Each value is checked by its type in [`crate::config::values`], the same rule the config file
//! applies to its key.
//!
//! Pure: no IO.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches};

use crate::config::values::{
    Address, ApiListen, Dcid, HoldTime, Keepalive, Listen, NeighborPattern, RouterId, Ttl,
};

pub use crate::config::{ConfigChoice, LogLevel, Role};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the daemon.
    Run(Invocation),
    /// `elastic check-config [flags]`: validate, print the effective configuration, exit.
    CheckConfig(Invocation),
    /// `-h`, `-help` or `--help`: print this usage text and exit 0.
    Help(String),
}

/// The flags as given, before the config file is merged in ([`crate::settings::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub flags: FlagValues,
    pub config: ConfigChoice,
}

/// Each flag's value when it was given on the command line, `None` when it was not (so the
/// config file's key, then the built-in default, applies).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlagValues {
    pub dcid: Option<Dcid>,
    pub primary: Option<bool>,
    pub secondary: Option<bool>,
    pub send56: Option<bool>,
    pub allifs: Option<bool>,
    pub multihop_ttl: Option<Ttl>,
    pub hold_time: Option<HoldTime>,
    pub keepalive: Option<Keepalive>,
    pub neighbor_pattern: Option<NeighborPattern>,
    pub log_level: Option<String>,
    pub log_json: Option<bool>,
    /// In the order given; duplicates are dropped when the settings are made.
    pub addresses: Option<Vec<Address>>,
    pub med: Option<u32>,
    pub router_id: Option<RouterId>,
    /// `-api off` is `Some` of an `ApiListen` holding no address.
    pub api: Option<ApiListen>,
    pub api_allow_remote: Option<bool>,
    pub metrics: Option<Listen>,
    pub metrics_allow_remote: Option<bool>,
}

/// A bad command line: print the message and exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
}

/// Appended to every usage error so the one line tells the user where to look.
const HINT: &str = "(run 'elastic -h' for usage)";

impl UsageError {
    pub(crate) fn new(problem: impl std::fmt::Display) -> UsageError {
        UsageError {
            message: format!("{} {HINT}", crate::config::shortened(&problem.to_string())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlagKind {
    /// Takes a value: `-name value` or `-name=value`.
    Value,
    /// A boolean: `-name`, or `-name=true|false` (Go's spellings).
    Bool,
    Help,
}

/// What the parser does with `-name`: clap's definitions in [`command`] are the one list of
/// flags, a switch (`SetTrue`) is a boolean, any other action takes a value.
fn flag_kind(name: &str) -> Option<FlagKind> {
    if matches!(name, "h" | "help") {
        return Some(FlagKind::Help);
    }
    let command = command();
    let arg = command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(name))?;
    Some(match arg.get_action() {
        ArgAction::SetTrue => FlagKind::Bool,
        _ => FlagKind::Value,
    })
}

/// The word that selects `elastic check-config`.
pub const CHECK_CONFIG: &str = "check-config";

/// Parses the arguments (without argv\[0\]). Pure: the config file is read by the caller and
/// merged with [`crate::settings::resolve`].
pub fn parse<I, T>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args = args
        .into_iter()
        .map(|arg| {
            let arg: OsString = arg.into();
            arg.into_string().map_err(|bad| {
                UsageError::new(format!(
                    "argument {:?} is not valid UTF-8",
                    bad.to_string_lossy()
                ))
            })
        })
        .collect::<Result<Vec<String>, UsageError>>()?;
    let check_only = args.first().map(String::as_str) == Some(CHECK_CONFIG);
    if check_only {
        args.remove(0);
    }
    let (canonical, bools) = match canonicalize(&args)? {
        Canonical::Help => return Ok(Command::Help(usage())),
        Canonical::Args(canonical, bools) => (canonical, bools),
    };
    let matches = command()
        .try_get_matches_from(canonical)
        .map_err(clap_error)?;
    let invocation = invocation(&matches, &bools);
    Ok(if check_only {
        Command::CheckConfig(invocation)
    } else {
        Command::Run(invocation)
    })
}

fn invocation(matches: &ArgMatches, bools: &BTreeMap<String, bool>) -> Invocation {
    let flags = FlagValues {
        dcid: matches.get_one::<Dcid>("dcid").copied(),
        primary: bools.get("primary").copied(),
        secondary: bools.get("secondary").copied(),
        send56: bools.get("send56").copied(),
        allifs: bools.get("allifs").copied(),
        multihop_ttl: matches.get_one::<Ttl>("multihopttl").copied(),
        hold_time: matches.get_one::<HoldTime>("holdtime").copied(),
        keepalive: matches.get_one::<Keepalive>("keepalive").copied(),
        neighbor_pattern: matches
            .get_one::<NeighborPattern>("neighborpattern")
            .cloned(),
        log_level: matches.get_one::<String>("loglevel").cloned(),
        log_json: bools.get("logjson").copied(),
        addresses: matches
            .get_many::<Address>("address")
            .map(|list| list.copied().collect()),
        med: matches.get_one::<u32>("med").copied(),
        router_id: matches.get_one::<RouterId>("routerid").copied(),
        api: matches.get_one::<ApiListen>("api").copied(),
        api_allow_remote: bools.get("api-allow-remote").copied(),
        metrics: matches.get_one::<Listen>("metrics").copied(),
        metrics_allow_remote: bools.get("metrics-allow-remote").copied(),
    };
    let config = match matches.get_one::<String>("config") {
        None => ConfigChoice::Default,
        Some(path) if path.is_empty() => ConfigChoice::Nothing,
        Some(path) => ConfigChoice::Path(PathBuf::from(path)),
    };
    Invocation { flags, config }
}

/// The usage text printed for `-h`.
pub fn usage() -> String {
    command().render_help().to_string()
}

enum Canonical {
    Help,
    /// clap-style `--name=value` arguments, and each boolean flag given with its last value
    /// (booleans are resolved here, so an explicit `-logjson=false` can override the file).
    Args(Vec<String>, BTreeMap<String, bool>),
}

/// Rewrites Go `flag` syntax into clap's, rejecting unknown flags and stray words.
fn canonicalize(args: &[String]) -> Result<Canonical, UsageError> {
    let mut out = Vec::new();
    // Booleans are resolved here (last occurrence wins, as in Go) and handed to clap as bare flags.
    let mut bools: BTreeMap<String, bool> = BTreeMap::new();
    let mut rest = args.iter();
    while let Some(token) = rest.next() {
        if token == "--" {
            // Go ends flag parsing here; anything after it is a stray word.
            if let Some(stray) = rest.next() {
                return Err(stray_word(stray));
            }
            break;
        }
        let body = match token.strip_prefix("--").or_else(|| token.strip_prefix('-')) {
            Some(body) if !body.is_empty() => body,
            _ => return Err(stray_word(token)),
        };
        if body.starts_with('-') || body.starts_with('=') {
            return Err(UsageError::new(format!("bad flag syntax: {token}")));
        }
        let (name, inline_value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(kind) = flag_kind(name) else {
            return Err(UsageError::new(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        match kind {
            FlagKind::Help => return Ok(Canonical::Help),
            FlagKind::Bool => {
                let value = match inline_value {
                    None => true,
                    Some(text) => parse_go_bool(text).ok_or_else(|| {
                        UsageError::new(format!(
                            "invalid boolean value {text:?} for -{name}: use true or false"
                        ))
                    })?,
                };
                bools.insert(name.to_string(), value);
            }
            FlagKind::Value => {
                // Like Go, the next word is the value even when it starts with '-' (`-dcid -5`).
                let value = match inline_value {
                    Some(value) => value,
                    None => rest.next().ok_or_else(|| {
                        UsageError::new(format!("flag needs an argument: -{name}"))
                    })?,
                };
                out.push(format!("--{name}={value}"));
            }
        }
    }
    Ok(Canonical::Args(out, bools))
}

fn stray_word(word: &str) -> UsageError {
    UsageError::new(format!(
        "unexpected argument {word:?}: elastic takes flags only"
    ))
}

/// Go's `strconv.ParseBool` spellings.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn command() -> clap::Command {
    let value = |name: &'static str, value_name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_name(value_name)
            .action(ArgAction::Set)
            .help(help)
    };
    let switch = |name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .action(ArgAction::SetTrue)
            .help(help)
    };
    clap::Command::new("elastic")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        // Go's flag package lets the last occurrence win.
        .args_override_self(true)
        .about("Announces this host's elastic IP addresses to the route servers over BGP (lelastic-compatible).")
        .override_usage(
            "elastic -dcid N (-primary | -secondary) [flags]\n       elastic check-config [-config PATH] [flags]\n       \
             elastic status [--json] [--api ADDR:PORT]\n       \
             elastic drain [--undo] | undrain | maintenance on|off  [--socket PATH]",
        )
        .arg(value("dcid", "N", "Datacenter id, greater than 1 (required)").value_parser(Dcid::from_str))
        .arg(switch("primary", "Announce as primary (community 65000:1)"))
        .arg(switch("secondary", "Announce as secondary (community 65000:2)"))
        .arg(switch("send56", "Widen IPv6 addresses that are not /64 or /56 to /56 instead of /64"))
        .arg(switch("allifs", "Look for addresses on every interface, not only lo"))
        .arg(value("multihopttl", "TTL", "eBGP multihop TTL, 1-255 [default: 16]").value_parser(Ttl::from_str))
        .arg(value(
            "holdtime",
            "DURATION",
            "BGP hold time we propose: 0 or 3s-65535s, whole seconds; a bare number is seconds [default: 9s]",
        ).value_parser(HoldTime::from_str))
        .arg(value(
            "keepalive",
            "DURATION",
            "Interval between KEEPALIVEs, at most a third of the negotiated hold time is used [default: hold time / 3]",
        ).value_parser(Keepalive::from_str))
        .arg(value(
            "neighborpattern",
            "PATTERN",
            "Route-server address pattern, formatted with (dcid, 1..4) [default: 2600:3c0f:%d:34::%d]",
        ).value_parser(NeighborPattern::from_str))
        .arg(value("loglevel", "LEVEL", "trace, debug, info, warn or error (unknown: info) [default: info]"))
        .arg(switch("logjson", "Log JSON lines instead of text"))
        .arg(
            value(
                "address",
                "CIDR",
                "Address to bind to lo and announce (repeatable): IPv4 /32; IPv6 /64, /56 or /128; \
                 a bare address means /32 or /128",
            )
            .action(ArgAction::Append)
            .value_parser(Address::from_str),
        )
        .arg(value("med", "N", "MULTI_EXIT_DISC to send (none by default)").value_parser(clap::value_parser!(u32)))
        .arg(value("routerid", "A.B.C.D", "BGP router id (default: derived from this host's addresses)").value_parser(RouterId::from_str))
        .arg(value(
            "config",
            "PATH",
            "YAML config file; flags win over it [default: /etc/elastic/elastic.yaml when it exists; '' for none]",
        ))
        .arg(
            value("api", "ADDR:PORT", "gRPC API for `elastic status` and the gobgp CLI, or 'off' [default: 127.0.0.1:50051]")
                .value_parser(ApiListen::from_str),
        )
        .arg(switch("api-allow-remote", "Allow -api on a non-loopback address (the API is unauthenticated)"))
        .arg(value("metrics", "ADDR:PORT", "Serve Prometheus metrics at http://ADDR:PORT/metrics (off by default)").value_parser(Listen::from_str))
        .arg(switch("metrics-allow-remote", "Allow -metrics on a non-loopback address (the metrics are unauthenticated)"))
        .after_help(
            "Flags take one dash or two, with the value after a space or '=': -dcid 14, --dcid=14.\n\
             Booleans also take =true or =false. -h, -help or --help prints this text.\n\
             check-config validates the flags and the config file and prints the effective configuration.",
        )
}

/// Turns a clap error (only value errors can reach here) into one line naming the flag Go-style.
fn clap_error(err: clap::Error) -> UsageError {
    let text = |kind| match err.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        _ => None,
    };
    match (
        err.kind(),
        text(ContextKind::InvalidArg),
        text(ContextKind::InvalidValue),
    ) {
        (ErrorKind::ValueValidation | ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            // clap names the argument "--dcid <N>"; users typed -dcid.
            let flag = arg
                .split_whitespace()
                .next()
                .unwrap_or(&arg)
                .trim_start_matches('-');
            let reason = std::error::Error::source(&err)
                .map(|source| source.to_string())
                .unwrap_or_else(|| "invalid value".to_string());
            UsageError::new(format!(
                "invalid value {value:?} for flag -{flag}: {reason}"
            ))
        }
        _ => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            UsageError::new(first.trim_start_matches("error: "))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use ipnet::IpNet;

    use super::*;
    use crate::config::HealthConfig;
    use crate::settings::{BgpSettings, ByMode, Settings, resolve};

    /// Reads one field of the settings, so one table can cover every flag.
    type Reader<T> = fn(&Settings<BgpSettings>) -> T;

    /// Parses and resolves without a config file.
    fn parse_settings(args: &[&str]) -> Result<Settings, UsageError> {
        match parse(args.iter().copied())? {
            Command::Run(invocation) => resolve(&invocation.flags, None),
            other => panic!("{args:?}: got {other:?}"),
        }
    }

    /// Parses and resolves without a config file: BGP mode's settings.
    fn run(args: &[&str]) -> Settings<BgpSettings> {
        match parse_settings(args).map(Settings::by_mode) {
            Ok(ByMode::Bgp(settings)) => *settings,
            Ok(ByMode::Vrrp(_)) => panic!("{args:?}: VRRP mode"),
            Err(err) => panic!("{args:?}: {err}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match parse_settings(args) {
            Err(err) => {
                assert!(err.message.ends_with(HINT), "no hint in {:?}", err.message);
                assert!(
                    !err.message.contains('\n'),
                    "not one line: {:?}",
                    err.message
                );
                err.message
            }
            Ok(other) => panic!("{args:?}: expected an error, got {other:?}"),
        }
    }

    fn with(extra: &[&str]) -> Settings<BgpSettings> {
        let mut args = vec!["-dcid", "14", "-primary"];
        args.extend_from_slice(extra);
        run(&args)
    }

    #[test]
    fn minimal_invocation_gets_lelastics_defaults() {
        let settings = run(&["-dcid", "14", "-primary"]);
        let expected = Settings {
            mode: BgpSettings {
                dcid: 14,
                role: Role::Primary,
                send56: false,
                allifs: false,
                multihop_ttl: 16,
                hold_time: 9,
                keepalive: 3,
                neighbor_pattern: NeighborPattern::lelastic(),
                neighbor_slots: vec![1, 2, 3, 4],
                neighbors: (1..=4)
                    .map(|i| format!("2600:3c0f:14:34::{i}").parse().unwrap())
                    .collect(),
                addresses: vec![],
                med: None,
                router_id: None,
                local_as: 65001,
                peer_as: 65000,
                drain_time: std::time::Duration::from_secs(5),
                md5: None,
                bfd: None,
            },
            log_level: LogLevel::Info,
            log_json: false,
            health: HealthConfig::default(),
            config_file: None,
            api: Some("127.0.0.1:50051".parse().unwrap()),
            api_allow_remote: false,
            metrics: None,
            metrics_allow_remote: false,
            control_socket: None,
            control_socket_group: None,
            warnings: vec![],
        };
        assert_eq!(settings, expected);
    }

    #[test]
    fn api_stays_on_loopback_unless_remote_is_allowed() {
        assert_eq!(with(&["-api", "off"]).api, None);
        assert_eq!(
            with(&["-api", "[::1]:6000"]).api,
            Some("[::1]:6000".parse().unwrap())
        );
        let refused = error(&["-dcid", "14", "-primary", "-api", "192.0.2.1:50051"]);
        assert!(refused.contains("-api-allow-remote"), "{refused}");
        assert_eq!(
            with(&["-api", "192.0.2.1:50051", "-api-allow-remote"]).api,
            Some("192.0.2.1:50051".parse().unwrap())
        );
        assert!(error(&["-dcid", "14", "-primary", "-api", "nowhere"]).contains("-api"));
        assert_eq!(
            with(&["-metrics", "127.0.0.1:9100"]).metrics,
            Some("127.0.0.1:9100".parse().unwrap())
        );
        // The metrics are unauthenticated too: a remote scraper needs its own allow flag.
        let refused = error(&["-dcid", "14", "-primary", "-metrics", "0.0.0.0:9180"]);
        assert!(refused.contains("-metrics-allow-remote"), "{refused}");
        let refused = error(&[
            "-dcid",
            "14",
            "-primary",
            "-metrics",
            "[::]:9180",
            "-api-allow-remote",
        ]);
        assert!(refused.contains("-metrics-allow-remote"), "{refused}");
        assert_eq!(
            with(&["-metrics", "0.0.0.0:9180", "-metrics-allow-remote"]).metrics,
            Some("0.0.0.0:9180".parse().unwrap())
        );
    }

    #[test]
    fn value_flags_work_in_all_four_spellings() {
        for args in [
            ["-dcid", "14", "-secondary"].as_slice(),
            &["-dcid=14", "-secondary"],
            &["--dcid", "14", "-secondary"],
            &["--dcid=14", "--secondary"],
        ] {
            let settings = run(args);
            assert_eq!(settings.mode.dcid, 14, "{args:?}");
            assert_eq!(settings.mode.role, Role::Secondary, "{args:?}");
        }
    }

    #[test]
    fn every_value_flag_is_read_in_go_and_gnu_style() {
        let cases: &[(&str, &str, Reader<String>)] = &[
            ("multihopttl", "5", |s| s.mode.multihop_ttl.to_string()),
            ("holdtime", "3s", |s| s.mode.hold_time.to_string()),
            ("keepalive", "2", |s| s.mode.keepalive.to_string()),
            ("neighborpattern", "2001:db8:%d:34::%d", |s| {
                s.mode.neighbor_pattern.to_string()
            }),
            ("loglevel", "debug", |s| format!("{:?}", s.log_level)),
            ("address", "203.0.113.10/32", |s| {
                format!("{:?}", s.mode.addresses)
            }),
            ("med", "50", |s| format!("{:?}", s.mode.med)),
            ("routerid", "192.0.2.1", |s| {
                format!("{:?}", s.mode.router_id)
            }),
        ];
        for (name, value, read) in cases {
            let expected = read(&with(&[&format!("-{name}"), value]));
            for spelling in [
                vec![format!("-{name}={value}")],
                vec![format!("--{name}"), value.to_string()],
                vec![format!("--{name}={value}")],
            ] {
                let refs: Vec<&str> = spelling.iter().map(String::as_str).collect();
                assert_eq!(read(&with(&refs)), expected, "{spelling:?}");
            }
            assert_ne!(read(&with(&[])), expected, "-{name} changed nothing");
        }
        let settings = with(&[
            "-multihopttl",
            "5",
            "-neighborpattern",
            "2001:db8:%d:34::%d",
            "-loglevel",
            "debug",
            "-address",
            "203.0.113.10/32",
            "-med",
            "50",
            "-routerid",
            "192.0.2.1",
        ]);
        assert_eq!(settings.mode.multihop_ttl, 5);
        assert_eq!(settings.log_level, LogLevel::Debug);
        assert_eq!(settings.mode.med, Some(50));
        assert_eq!(settings.mode.router_id, Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(
            settings.mode.addresses,
            vec!["203.0.113.10/32".parse::<IpNet>().unwrap()]
        );
        assert_eq!(
            settings.mode.neighbors,
            [
                "2001:db8:14:34::1",
                "2001:db8:14:34::2",
                "2001:db8:14:34::3",
                "2001:db8:14:34::4"
            ]
            .map(|a| a.parse::<IpAddr>().unwrap())
        );
    }

    #[test]
    fn every_bool_flag_is_read_in_go_and_gnu_style() {
        let cases: &[(&str, Reader<bool>)] = &[
            ("send56", |s| s.mode.send56),
            ("allifs", |s| s.mode.allifs),
            ("logjson", |s| s.log_json),
        ];
        for (name, read) in cases {
            assert!(!read(&with(&[])), "-{name} defaults to false");
            for spelling in [
                format!("-{name}"),
                format!("--{name}"),
                format!("-{name}=true"),
                format!("--{name}=1"),
                format!("-{name}=T"),
            ] {
                assert!(read(&with(&[&spelling])), "{spelling}");
            }
            for spelling in [
                format!("-{name}=false"),
                format!("--{name}=0"),
                format!("-{name}=F"),
            ] {
                assert!(!read(&with(&[&spelling])), "{spelling}");
            }
        }
    }

    #[test]
    fn role_flags_take_go_booleans_and_the_last_occurrence_wins() {
        assert_eq!(run(&["-dcid=14", "--primary"]).mode.role, Role::Primary);
        assert_eq!(run(&["-dcid=14", "-primary=true"]).mode.role, Role::Primary);
        assert_eq!(
            run(&["-dcid=14", "-primary=false", "-secondary"]).mode.role,
            Role::Secondary
        );
        assert_eq!(
            run(&["-dcid=14", "-primary", "-primary=false", "-secondary"])
                .mode
                .role,
            Role::Secondary
        );
        assert_eq!(run(&["-dcid=14", "-dcid=15", "-primary"]).mode.dcid, 15);
    }

    #[test]
    fn help_in_every_spelling_prints_usage() {
        for spelling in ["-h", "-help", "--help", "--h"] {
            match parse([spelling]) {
                Ok(Command::Help(text)) => assert_eq!(text, usage()),
                other => panic!("{spelling}: {other:?}"),
            }
        }
        match parse(["-dcid", "14", "-help"]) {
            Ok(Command::Help(_)) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_names_every_flag() {
        let text = usage();
        let names = [
            "dcid",
            "primary",
            "secondary",
            "send56",
            "allifs",
            "multihopttl",
            "holdtime",
            "keepalive",
            "neighborpattern",
            "loglevel",
            "logjson",
            "address",
            "med",
            "routerid",
            "config",
            "api",
            "api-allow-remote",
            "metrics",
            "metrics-allow-remote",
        ];
        for name in names {
            assert!(
                text.contains(&format!("--{name}")),
                "usage lacks {name}:\n{text}"
            );
            assert!(flag_kind(name).is_some(), "{name}");
        }
        assert_eq!(flag_kind("logjson"), Some(FlagKind::Bool));
        assert_eq!(flag_kind("address"), Some(FlagKind::Value));
        assert_eq!(flag_kind("help"), Some(FlagKind::Help));
        assert_eq!(flag_kind("nonsense"), None);
        assert!(text.contains("-dcid 14"), "{text}");
    }

    #[test]
    fn dcid_must_be_given_and_greater_than_one() {
        assert!(error(&["-primary"]).starts_with("-dcid is required"));
        assert!(error(&[]).starts_with("-dcid is required"));
        for bad in ["1", "0", "-5"] {
            assert_eq!(
                error(&["-dcid", bad, "-primary"]),
                format!(
                    "invalid value \"{bad}\" for flag -dcid: dcid must be greater than 1 {HINT}"
                ),
            );
        }
        assert!(
            error(&["-dcid", "5000000000", "-primary"])
                .starts_with("invalid value \"5000000000\" for flag -dcid: too large")
        );
        assert_eq!(run(&["-dcid", "2", "-primary"]).mode.dcid, 2);
    }

    #[test]
    fn role_is_required_and_exclusive() {
        assert!(error(&["-dcid", "14"]).starts_with("use either -primary or -secondary"));
        assert!(
            error(&["-dcid", "14", "-primary", "-secondary"])
                .starts_with("-primary and -secondary cannot be used together")
        );
        assert!(error(&["-dcid", "14", "-primary=false"]).starts_with("use either"));
    }

    #[test]
    fn unknown_flags_are_rejected_with_gos_wording() {
        assert!(
            error(&["-dcid", "14", "-primary", "-foo"])
                .starts_with("flag provided but not defined: -foo")
        );
        assert!(error(&["--foo=1"]).starts_with("flag provided but not defined: -foo"));
        assert!(error(&["-Primary"]).starts_with("flag provided but not defined: -Primary"));
        assert!(error(&["---dcid", "14"]).starts_with("bad flag syntax: ---dcid"));
        assert!(error(&["-=14"]).starts_with("bad flag syntax: -=14"));
    }

    #[test]
    fn bad_values_name_the_flag_and_the_value() {
        assert_eq!(
            error(&["-dcid", "abc", "-primary"]),
            format!("invalid value \"abc\" for flag -dcid: invalid digit found in string {HINT}")
        );
        assert!(error(&["-dcid=", "-primary"]).starts_with("invalid value \"\" for flag -dcid:"));
        assert!(
            error(&["-dcid", "14", "-primary", "-med", "x"])
                .starts_with("invalid value \"x\" for flag -med:")
        );
        assert!(
            error(&["-dcid", "14", "-primary", "-med", "-1"])
                .starts_with("invalid value \"-1\" for flag -med:")
        );
        assert!(
            error(&["-dcid", "14", "-primary=maybe"])
                .starts_with("invalid boolean value \"maybe\" for -primary")
        );
    }

    #[test]
    fn a_value_flag_at_the_end_needs_its_value() {
        assert!(error(&["-primary", "-dcid"]).starts_with("flag needs an argument: -dcid"));
        assert!(
            error(&["-dcid", "14", "-primary", "--address"])
                .starts_with("flag needs an argument: -address")
        );
    }

    #[test]
    fn stray_words_are_rejected_not_silently_ignored() {
        // Go would stop at "extra" and drop -neighborpattern without a word.
        assert!(
            error(&["-dcid", "14", "-primary", "extra", "-neighborpattern", "x"])
                .starts_with("unexpected argument \"extra\"")
        );
        assert!(error(&["-dcid", "14", "-primary", "-"]).starts_with("unexpected argument \"-\""));
        assert!(
            error(&["-dcid", "14", "-primary", "--", "-secondary"])
                .starts_with("unexpected argument \"-secondary\"")
        );
        assert_eq!(run(&["-dcid", "14", "-primary", "--"]).mode.dcid, 14);
    }

    #[test]
    fn multihop_ttl_must_be_1_to_255() {
        assert_eq!(with(&["-multihopttl", "1"]).mode.multihop_ttl, 1);
        assert_eq!(with(&["-multihopttl", "255"]).mode.multihop_ttl, 255);
        for bad in ["0", "256", "-1"] {
            assert!(
                error(&["-dcid=14", "-primary", "-multihopttl", bad]).starts_with(&format!(
                    "invalid value \"{bad}\" for flag -multihopttl: must be between 1 and 255"
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn neighbor_pattern_needs_two_placeholders_and_must_give_addresses() {
        assert!(
            error(&["-dcid=14", "-primary", "-neighborpattern", "bogus"])
                .starts_with("invalid value \"bogus\" for flag -neighborpattern: expected exactly two %d (datacenter id, then 1..4)")
        );
        assert!(
            error(&[
                "-dcid=14",
                "-primary",
                "-neighborpattern",
                "2001:db8:%d:%d::%d"
            ])
            .contains("exactly two %d")
        );
        assert!(error(&["-dcid=14", "-primary", "-neighborpattern", "2001:db8:%d:zz::%d"])
            .starts_with("neighborpattern \"2001:db8:%d:zz::%d\" gives \"2001:db8:14:zz::1\", which is not an IP address"));
        // dcid is formatted in decimal, so a big one overflows an IPv6 group.
        assert!(error(&["-dcid=70000", "-primary"]).contains("not an IP address"));
        let v4 = with(&["-neighborpattern", "192.0.%d.%d"]);
        assert_eq!(
            v4.mode.neighbors[3],
            "192.0.14.4".parse::<IpAddr>().unwrap()
        );
        // A huge value is not echoed whole.
        let huge = format!("{}%d%d", "1".repeat(100_000));
        let message = error(&["-dcid=2", "-primary", "-neighborpattern", &huge]);
        assert!(
            message.len() < 1200 && message.contains("bytes not shown"),
            "{}",
            message.len()
        );
        assert!(
            message.ends_with("(run 'elastic -h' for usage)"),
            "{message}"
        );
        // Every neighbor must be one unicast host.
        for (pattern, why) in [
            ("127.0.%d.%d", "a loopback address"),
            ("127.%d.%d.1", "a loopback address"),
            ("ff02::%d:%d", "a multicast address"),
            ("224.%d.0.%d", "a multicast address"),
            ("0.0.0.%d%d", "in 0.0.0.0/8"),
            ("::ffff:10.%d.0.%d", "an IPv4-mapped address"),
        ] {
            let message = error(&["-dcid=2", "-primary", "-neighborpattern", pattern]);
            assert!(
                message.contains(why) && message.contains("not a route server"),
                "{pattern}: {message}"
            );
        }
    }

    #[test]
    fn log_levels_follow_logrus_and_unknown_ones_warn() {
        for (name, level) in [
            ("trace", LogLevel::Trace),
            ("debug", LogLevel::Debug),
            ("info", LogLevel::Info),
            ("warn", LogLevel::Warn),
            ("warning", LogLevel::Warn),
            ("error", LogLevel::Error),
            ("DEBUG", LogLevel::Debug),
        ] {
            let settings = with(&["-loglevel", name]);
            assert_eq!(settings.log_level, level, "{name}");
            assert!(settings.warnings.is_empty());
        }
        let settings = with(&["-loglevel", "bogus"]);
        assert_eq!(settings.log_level, LogLevel::Info);
        assert_eq!(
            settings.warnings,
            vec!["unknown log level \"bogus\", falling back to loglevel info".to_string()]
        );
    }

    #[test]
    fn addresses_accept_the_documented_lengths_only() {
        let settings = with(&[
            "-address",
            "203.0.113.10/32",
            "-address",
            "2001:db8:100::1/64",
            "--address=2001:db8:200::/56",
            "-address",
            "2001:db8:300::1/128",
            "-address",
            "203.0.113.11",
            "-address",
            "2001:db8:400::1",
            "-address",
            "203.0.113.10/32",
        ]);
        let expected: Vec<IpNet> = [
            "203.0.113.10/32",
            "2001:db8:100::1/64",
            "2001:db8:200::/56",
            "2001:db8:300::1/128",
            "203.0.113.11/32",
            "2001:db8:400::1/128",
        ]
        .iter()
        .map(|text| text.parse().unwrap())
        .collect();
        assert_eq!(settings.mode.addresses, expected);

        let bad = |value: &str| error(&["-dcid=14", "-primary", "-address", value]);
        assert!(bad("192.0.2.5/24").contains("IPv4 addresses must be /32"));
        assert!(bad("2001:db8::1/48").contains("IPv6 addresses must be /64, /56 or /128"));
        assert!(bad("127.0.0.2/32").contains("loopback addresses are never announced"));
        assert!(bad("::1").contains("loopback"));
        assert!(bad("fe80::1/64").contains("link-local"));
        assert!(bad("169.254.0.1").contains("link-local"));
        assert!(bad("0.0.0.0").contains("unspecified"));
        assert!(bad("ff02::1/128").contains("multicast"));
        // Their /64 would be ::/64.
        assert!(bad("::2").contains("IPv4-mapped or -compatible (::/64)"));
        assert!(bad("::ffff:1.2.3.4").contains("IPv4-mapped or -compatible (::/64)"));
        assert!(bad("::ffff:1.2.3.4/128").contains("never announced"));
        assert!(bad("255.255.255.255").contains("broadcast"));
        assert!(
            bad("example")
                .starts_with("invalid value \"example\" for flag -address: not an address")
        );
    }

    #[test]
    fn router_id_must_be_a_nonzero_ipv4_address() {
        assert!(
            error(&["-dcid=14", "-primary", "-routerid", "0.0.0.0"])
                .contains("must not be 0.0.0.0")
        );
        assert!(
            error(&["-dcid=14", "-primary", "-routerid", "2001:db8::1"])
                .contains("not an IPv4 address")
        );
    }

    #[test]
    fn non_utf8_arguments_are_usage_errors() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'-', 0xff]);
        assert!(
            parse([bad])
                .unwrap_err()
                .message
                .contains("not valid UTF-8")
        );
    }

    fn invocation_of(args: &[&str]) -> (Invocation, bool) {
        match parse(args.iter().copied()) {
            Ok(Command::Run(invocation)) => (invocation, false),
            Ok(Command::CheckConfig(invocation)) => (invocation, true),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn config_flag_and_check_config_word() {
        let (inv, check) = invocation_of(&["-dcid", "14", "-primary"]);
        assert_eq!((inv.config, check), (ConfigChoice::Default, false));
        let (inv, check) = invocation_of(&["check-config", "-config", "/tmp/e.yaml"]);
        assert_eq!(
            (inv.config, check),
            (ConfigChoice::Path("/tmp/e.yaml".into()), true)
        );
        assert_eq!(invocation_of(&["-config="]).0.config, ConfigChoice::Nothing);
        // Flags not given are None, so the file can supply them.
        assert_eq!(
            invocation_of(&["check-config"]).0.flags,
            FlagValues::default()
        );
        // check-config is a word only in first position.
        assert!(parse(["-dcid", "14", "check-config"]).is_err());
    }
}
