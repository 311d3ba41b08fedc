//! Validated setting values: each type's [`FromStr`] (or `TryFrom<i64>`) is the one rule for its
//! key, shared by the flags (clap's `value_parser`) and the config file (serde), and its
//! [`Display`](fmt::Display) writes what `FromStr` reads back (`elastic check-config` relies on it).
//!
//! Error texts say what is wrong, not which key or value: the caller adds those (serde prefixes
//! the key path and `invalid value …`, the flag parser `invalid value … for flag -name`).
//! Pure: no IO.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;
use rustls::pki_types::ServerName;
use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::bgp::md5::KeySource;
pub use crate::model::{Community, Role};

mod duration;

pub use duration::{
    AnnounceDelay, DrainTime, Dur, DurationKey, HoldTime, HookTimeout, Keepalive, PollInterval,
    PreemptDelay, ProbeTime,
};

/// lelastic's level names (logrus), plus `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// Parses a level name the way logrus does (case-insensitive; `warning`, `fatal` and `panic`
    /// included, the last two mapped to `Error`, the most severe level we log at).
    pub fn parse(name: &str) -> Option<LogLevel> {
        match name.to_ascii_lowercase().as_str() {
            "trace" => Some(LogLevel::Trace),
            "debug" => Some(LogLevel::Debug),
            "info" => Some(LogLevel::Info),
            "warn" | "warning" => Some(LogLevel::Warn),
            "error" | "fatal" | "panic" => Some(LogLevel::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        LogLevel::parse(text)
            .ok_or_else(|| "expected trace, debug, info, warn or error".to_string())
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implements serde for a type read from a YAML string through its `FromStr` and written through
/// its `Display`. The string is parsed inside yaml_serde's `deserialize_str`, so an error carries
/// the value's own key path and line.
macro_rules! serde_via_str {
    ($($ty:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(StrVisitor(<$ty as FromStr>::from_str))
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}

/// The same for an integer type: read as an integer, checked by `TryFrom<i64>`, written as one.
macro_rules! serde_via_int {
    ($($ty:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_i64(IntVisitor(<$ty as TryFrom<i64>>::try_from))
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                let n: i64 = text.parse().map_err(|err: std::num::ParseIntError| err.to_string())?;
                <$ty>::try_from(n)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

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

/// `Display` as the wrapped value's (what the type's `FromStr` reads back).
macro_rules! display_inner {
    ($($ty:ty),* $(,)?) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

/// The same for a path.
macro_rules! display_path {
    ($($ty:ty),* $(,)?) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.display().fmt(f)
            }
        }
    )*};
}

serde_via_str!(LogLevel);

/// The datacenter id (`-dcid`, `dcid:`): lelastic's rule, greater than 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dcid(u32);

impl Dcid {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Dcid {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match n {
            ..=1 => Err("dcid must be greater than 1".to_string()),
            n => u32::try_from(n)
                .map(Dcid)
                .map_err(|_| "too large".to_string()),
        }
    }
}

/// The eBGP multihop TTL (`-multihopttl`, `multihop_ttl:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl(u8);

impl Ttl {
    /// lelastic's eBGP multihop TTL.
    pub const DEFAULT: Ttl = Ttl(16);

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Ttl {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match u8::try_from(n) {
            Ok(ttl) if ttl >= 1 => Ok(Ttl(ttl)),
            _ => Err("must be between 1 and 255".to_string()),
        }
    }
}

/// How many results in a row change a probe's state (`rise`, `fall`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(u32);

impl Count {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Count {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match n {
            1..=1000 => Ok(Count(n as u32)),
            _ => Err("expected 1 to 1000".to_string()),
        }
    }
}

/// The status an http probe expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStatus(u16);

impl HttpStatus {
    pub const OK: HttpStatus = HttpStatus(200);

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for HttpStatus {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match n {
            100..=599 => Ok(HttpStatus(n as u16)),
            _ => Err("expected an HTTP status, 100 to 599".to_string()),
        }
    }
}

serde_via_int!(Dcid, Ttl, Count, HttpStatus);

/// The route servers' addresses as lelastic's `fmt.Sprintf(pattern, dcid, i)`: exactly two `%d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborPattern(String);

impl NeighborPattern {
    /// lelastic's pattern.
    pub const DEFAULT: &str = "2600:3c0f:%d:34::%d";

    pub fn lelastic() -> NeighborPattern {
        NeighborPattern(Self::DEFAULT.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pattern formatted with (dcid, i) for each slot i, in order; every result must be an
    /// IP address.
    pub fn format(&self, dcid: u32, slots: &[u8]) -> Result<Vec<IpAddr>, String> {
        let parts: Vec<&str> = self.0.split("%d").collect();
        let [before, between, after] = parts[..] else {
            unreachable!("FromStr checked that there are two %d");
        };
        let pattern = &self.0;
        slots
            .iter()
            .map(|i| {
                let text = format!("{before}{dcid}{between}{i}{after}");
                let addr = IpAddr::from_str(&text).map_err(|_| {
                    format!(
                        "neighborpattern {pattern:?} gives {text:?}, which is not an IP address"
                    )
                })?;
                match crate::addrs::never_a_neighbor(addr) {
                    Some(why) => Err(format!(
                        "neighborpattern {pattern:?} gives {text:?}, which is {why}, not a route server"
                    )),
                    None => Ok(addr),
                }
            })
            .collect()
    }
}

impl FromStr for NeighborPattern {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.matches("%d").count() {
            2 => Ok(NeighborPattern(text.to_string())),
            _ => Err("expected exactly two %d (datacenter id, then 1..4)".to_string()),
        }
    }
}

/// `neighbor_slots`: the `i` values (1 to 255) the neighbor pattern is formatted with, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborSlots(Vec<u8>);

impl NeighborSlots {
    /// lelastic's: 1..=4.
    pub const DEFAULT: [u8; 4] = [1, 2, 3, 4];

    pub fn get(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<Vec<i64>> for NeighborSlots {
    type Error = String;
    fn try_from(list: Vec<i64>) -> Result<Self, String> {
        let mut slots = Vec::new();
        for slot in list {
            let slot = u8::try_from(slot)
                .ok()
                .filter(|s| *s >= 1)
                .ok_or_else(|| format!("invalid slot {slot}: expected 1 to 255"))?;
            if slots.contains(&slot) {
                return Err(format!("slot {slot} is listed twice"));
            }
            slots.push(slot);
        }
        if slots.is_empty() {
            return Err("at least one slot is needed".to_string());
        }
        Ok(NeighborSlots(slots))
    }
}

impl<'de> Deserialize<'de> for NeighborSlots {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SlotsVisitor;
        impl<'de> Visitor<'de> for SlotsVisitor {
            type Value = NeighborSlots;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of route-server slots, e.g. [1, 2, 3, 4]")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<NeighborSlots, A::Error> {
                let mut slots = Vec::new();
                while let Some(slot) = seq.next_element::<i64>()? {
                    // Checked one by one, so the error points at the bad element.
                    NeighborSlots::try_from(vec![slot]).map_err(de::Error::custom)?;
                    if slots.contains(&slot) {
                        return Err(de::Error::custom(format!("slot {slot} is listed twice")));
                    }
                    slots.push(slot);
                }
                NeighborSlots::try_from(slots).map_err(de::Error::custom)
            }
        }
        d.deserialize_seq(SlotsVisitor)
    }
}

impl Serialize for NeighborSlots {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// The BGP identifier (`-routerid`, `router_id:`): RFC 6286 wants it non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterId(Ipv4Addr);

impl RouterId {
    pub fn get(self) -> Ipv4Addr {
        self.0
    }
}

impl FromStr for RouterId {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let id =
            Ipv4Addr::from_str(text).map_err(|_| "not an IPv4 address (A.B.C.D)".to_string())?;
        if id.is_unspecified() {
            return Err("router id must not be 0.0.0.0".to_string());
        }
        Ok(RouterId(id))
    }
}

/// An address elastic binds to `lo` and discovery then announces (`-address`, `addresses:`).
/// IPv4 must be /32 (lelastic skips any other length); IPv6 may be /64 or /56 (announced as is) or
/// /128 (announced widened to /64, or /56 with -send56). The host part is kept: it is the address
/// bound. A bare address means /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address(IpNet);

impl Address {
    pub fn get(self) -> IpNet {
        self.0
    }
}

impl FromStr for Address {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let net = match IpNet::from_str(text) {
            Ok(net) => net,
            Err(_) => match IpAddr::from_str(text) {
                Ok(addr) => IpNet::from(addr),
                Err(_) => return Err("not an address or CIDR".to_string()),
            },
        };
        match net {
            IpNet::V4(v4) if v4.prefix_len() != 32 => {
                return Err("IPv4 addresses must be /32".to_string());
            }
            IpNet::V6(v6) if !matches!(v6.prefix_len(), 56 | 64 | 128) => {
                return Err("IPv6 addresses must be /64, /56 or /128".to_string());
            }
            _ => {}
        }
        if let Some(why) = crate::addrs::never_announced(net.addr()) {
            return Err(format!("{why} addresses are never announced"));
        }
        Ok(Address(net))
    }
}

/// A TCP listening address (`-metrics`, `metrics:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(SocketAddr);

impl Listen {
    pub fn get(self) -> SocketAddr {
        self.0
    }
}

impl FromStr for Listen {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        SocketAddr::from_str(text)
            .map(Listen)
            .map_err(|_| "not an ADDR:PORT ([ADDR]:PORT for IPv6)".to_string())
    }
}

/// The gRPC API's address, or `off` (`-api`, `api:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiListen(Option<SocketAddr>);

impl ApiListen {
    pub fn new(addr: Option<SocketAddr>) -> ApiListen {
        ApiListen(addr)
    }

    pub fn get(self) -> Option<SocketAddr> {
        self.0
    }
}

impl FromStr for ApiListen {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "off" {
            return Ok(ApiListen(None));
        }
        Listen::from_str(text).map(|l| ApiListen(Some(l.0)))
    }
}

impl fmt::Display for ApiListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("off"),
        }
    }
}

/// A probe's TCP target: `IP:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTarget(SocketAddr);

impl TcpTarget {
    pub fn get(self) -> SocketAddr {
        self.0
    }
}

impl FromStr for TcpTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        text.parse::<SocketAddr>()
            .map(TcpTarget)
            .map_err(|_| "expected IP:PORT, e.g. 127.0.0.1:80 or [::1]:80".to_string())
    }
}

/// A `listen` probe's socket: `IP:PORT`, `[IPv6]:PORT` or `*:PORT` (any address), with `/udp`
/// for a bound UDP socket (`/tcp`, the default, for a listening TCP socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenTarget {
    /// `None` for `*`.
    pub ip: Option<IpAddr>,
    pub port: u16,
    pub udp: bool,
}

impl FromStr for ListenTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "expected IP:PORT, [IPv6]:PORT or *:PORT, optionally with /udp or /tcp, \
                     e.g. 127.0.0.1:8080, [::]:443 or *:53/udp";
        let (socket, udp) = match text.rsplit_once('/') {
            Some((socket, "udp")) => (socket, true),
            Some((socket, "tcp")) => (socket, false),
            Some(_) => return Err(usage.to_string()),
            None => (text, false),
        };
        let (ip, port) = match socket.strip_prefix("*:") {
            Some(port) => (None, port),
            None => {
                let address: SocketAddr = socket.parse().map_err(|_| usage.to_string())?;
                return match address.port() {
                    0 => Err("port 0 is not a port a service listens on".to_string()),
                    port => Ok(ListenTarget {
                        ip: Some(address.ip()),
                        port,
                        udp,
                    }),
                };
            }
        };
        match port.parse::<u16>() {
            Ok(0) => Err("port 0 is not a port a service listens on".to_string()),
            Ok(port) => Ok(ListenTarget { ip, port, udp }),
            Err(_) => Err(usage.to_string()),
        }
    }
}

impl fmt::Display for ListenTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            None => write!(f, "*:{}", self.port)?,
            Some(ip) => SocketAddr::new(ip, self.port).fmt(f)?,
        }
        if self.udp {
            f.write_str("/udp")?;
        }
        Ok(())
    }
}

/// A `process` probe's process name, as the kernel keeps it in `comm`: 1 to 15 bytes (the
/// kernel cuts longer names), no `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessName(String);

impl ProcessName {
    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for ProcessName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.chars().any(|c| c == '/' || c.is_control()) {
            return Err(
                "a process name (comm) is 1 to 15 bytes without '/' or control characters"
                    .to_string(),
            );
        }
        if text.len() > 15 {
            return Err(format!(
                "the kernel keeps at most 15 bytes of a process name: write {:?}",
                &text[..text.floor_char_boundary(15)]
            ));
        }
        Ok(ProcessName(text.to_string()))
    }
}

/// The control socket's path: absolute, and short enough for `sun_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketPath(PathBuf);

impl SocketPath {
    pub fn get(&self) -> &PathBuf {
        &self.0
    }
}

impl FromStr for SocketPath {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let path = PathBuf::from(text);
        // sun_path holds 108 bytes with the terminating NUL.
        if !path.is_absolute() {
            Err("expected an absolute path, e.g. /run/elastic/control.sock".to_string())
        } else if text.len() > 107 {
            Err("the path is too long for a unix socket (107 bytes at most)".to_string())
        } else {
            Ok(SocketPath(path))
        }
    }
}

/// A unix group name (`control_socket_group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl FromStr for GroupName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(GroupName(text.to_string()))
        } else {
            Err("expected a group name (letters, digits, '-', '_' and '.')".to_string())
        }
    }
}

/// A probe or service name: these end up in logs, hook arguments and metric labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for Name {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(Name(text.to_string()))
        } else {
            Err("names use letters, digits, '-', '_' and '.' (1 to 64 of them)".to_string())
        }
    }
}

/// The name an https probe checks the certificate against: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsName(String);

impl TlsName {
    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for TlsName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match ServerName::try_from(text) {
            Ok(_) => Ok(TlsName(text.to_string())),
            Err(_) => Err(format!("{text:?} is neither a DNS name nor an IP address")),
        }
    }
}

/// An absolute path: `ca_file` (read after parsing, see `config::parse_with`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsolutePath(PathBuf);

impl AbsolutePath {
    pub fn as_path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn into_path(self) -> PathBuf {
        self.0
    }
}

impl FromStr for AbsolutePath {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let path = PathBuf::from(text);
        if path.is_absolute() {
            Ok(AbsolutePath(path))
        } else {
            Err("give an absolute path".to_string())
        }
    }
}

/// `md5_password_file`: an absolute path or `credential:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordFile(KeySource);

impl PasswordFile {
    pub fn new(source: KeySource) -> PasswordFile {
        PasswordFile(source)
    }

    pub fn source(&self) -> &KeySource {
        &self.0
    }

    pub fn into_source(self) -> KeySource {
        self.0
    }
}

impl FromStr for PasswordFile {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        KeySource::parse(text).map(PasswordFile)
    }
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

impl HttpUrl {
    pub fn is_https(&self) -> bool {
        self.text.starts_with("https://")
    }
}

impl FromStr for HttpUrl {
    type Err = String;
    /// `http://HOST[:PORT]/PATH` or `https://…`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (rest, default_port) = if let Some(rest) = text.strip_prefix("http://") {
            (rest, 80)
        } else if let Some(rest) = text.strip_prefix("https://") {
            (rest, 443)
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
        Ok(HttpUrl {
            text: text.to_string(),
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

display_inner!(
    ProcessName,
    NeighborPattern,
    RouterId,
    Address,
    Listen,
    TcpTarget,
    GroupName,
    Name,
    TlsName,
    PasswordFile,
);
display_path!(SocketPath, AbsolutePath);

serde_via_str!(
    ListenTarget,
    ProcessName,
    NeighborPattern,
    Community,
    RouterId,
    Address,
    Listen,
    ApiListen,
    TcpTarget,
    SocketPath,
    GroupName,
    Name,
    TlsName,
    AbsolutePath,
    PasswordFile,
    HttpUrl,
);

/// A command: one program path (a string) or an argv list. Never run through a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(Vec<String>);

impl Argv {
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl TryFrom<Vec<String>> for Argv {
    type Error = String;
    fn try_from(argv: Vec<String>) -> Result<Self, String> {
        match argv.first().map(String::as_str) {
            None => Err("the command is empty: give [program, args…]".to_string()),
            Some("") => Err("the program name is empty".to_string()),
            Some(program) if !program.starts_with('/') && program.contains('/') => Err(format!(
                "invalid value {program:?}: give an absolute path, or a bare name looked up in PATH"
            )),
            Some(_) => Ok(Argv(argv)),
        }
    }
}

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ArgvVisitor;
        impl<'de> Visitor<'de> for ArgvVisitor {
            type Value = Argv;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a program path or a list [program, args…]")
            }
            fn visit_str<E: de::Error>(self, program: &str) -> Result<Argv, E> {
                Argv::try_from(vec![program.to_string()]).map_err(E::custom)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Argv, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                Argv::try_from(argv).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(ArgvVisitor)
    }
}

impl Serialize for Argv {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for arg in &self.0 {
            seq.serialize_element(arg)?;
        }
        seq.end()
    }
}

/// `bfd.min_tx` / `bfd.min_rx`: a BFD interval, 10 ms (FRR's floor) to 60 s, in whole
/// microseconds (the packet's unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdInterval(std::time::Duration);

impl BfdInterval {
    pub const MIN: std::time::Duration = std::time::Duration::from_millis(10);
    pub const MAX: std::time::Duration = std::time::Duration::from_secs(60);

    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl TryFrom<std::time::Duration> for BfdInterval {
    type Error = String;
    fn try_from(value: std::time::Duration) -> Result<Self, String> {
        if value < Self::MIN || value > Self::MAX {
            Err("must be from 10ms to 60s".to_string())
        } else if !value.subsec_nanos().is_multiple_of(1000) {
            Err("must be whole microseconds".to_string())
        } else {
            Ok(BfdInterval(value))
        }
    }
}

impl FromStr for BfdInterval {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let value = humantime::parse_duration(text.trim())
            .map_err(|_| "expected a duration such as 300ms or 1s".to_string())?;
        BfdInterval::try_from(value)
    }
}

impl fmt::Display for BfdInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

/// `bfd.multiplier`: the BFD Detect Mult, 1 to 255 (0 is refused on the wire, RFC 5880 §6.8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdMultiplier(u8);

impl BfdMultiplier {
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for BfdMultiplier {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match u8::try_from(n) {
            Ok(mult) if mult >= 1 => Ok(BfdMultiplier(mult)),
            _ => Err("must be between 1 and 255".to_string()),
        }
    }
}

serde_via_str!(BfdInterval);
serde_via_int!(BfdMultiplier);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value's `Display` reads back through its `FromStr` (check-config relies on it).
    fn round_trips<T: FromStr<Err = String> + fmt::Display + PartialEq + fmt::Debug>(text: &str) {
        let value: T = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let shown = value.to_string();
        assert_eq!(shown.parse::<T>(), Ok(value), "{text} → {shown}");
    }

    #[test]
    fn every_value_reads_back_what_it_displays() {
        round_trips::<Dcid>("14");
        round_trips::<Ttl>("255");
        round_trips::<NeighborPattern>("2001:db8:%d:34::%d");
        round_trips::<Community>("65535:0");
        round_trips::<RouterId>("192.0.2.1");
        round_trips::<Address>("2001:db8::1/128");
        round_trips::<Address>("203.0.113.10");
        round_trips::<ApiListen>("off");
        round_trips::<ApiListen>("[::1]:50051");
        round_trips::<ProbeTime>("1m 30s");
        round_trips::<ProbeTime>("250ms");
        round_trips::<DrainTime>("0");
        round_trips::<AnnounceDelay>("0s");
        round_trips::<LogLevel>("warning");
        round_trips::<HttpUrl>("https://[::1]:8443/x?y=1");
        round_trips::<PasswordFile>("credential:bgp");
        round_trips::<SocketPath>("/run/elastic/control.sock");
        assert_eq!(Role::Secondary.as_str(), "secondary");
        assert_eq!(
            DrainTime::from_str("0").map(|d| d.to_string()),
            Ok("0s".into())
        );
    }

    #[test]
    fn durations_are_bounded_so_no_deadline_can_overflow() {
        assert_eq!(
            ProbeTime::from_str("25h"),
            Err("must be at most 24h".to_string())
        );
        assert_eq!(
            DrainTime::from_str("2h"),
            Err("must be at most 1h".to_string())
        );
        assert!(ProbeTime::from_str("24h").is_ok());
        // humantime reads this; only the bound refuses it.
        assert!(ProbeTime::from_str("500000000000y").is_err());
        assert_eq!(
            ProbeTime::from_str("0s"),
            Err("must be longer than 0".to_string())
        );
        assert!(AnnounceDelay::from_str("0s").is_ok());
        assert!(
            ProbeTime::from_str("0").is_err(),
            "a bare 0 only where 0 is allowed"
        );
        assert_eq!(
            DrainTime::from_str("soon"),
            Err("expected a duration such as 5s or 500ms, or 0 to skip the drain".to_string())
        );
    }

    #[test]
    fn the_rules_shared_by_flags_and_file() {
        assert_eq!(Dcid::from_str("2").map(Dcid::get), Ok(2));
        assert_eq!(
            Dcid::from_str("1"),
            Err("dcid must be greater than 1".to_string())
        );
        assert_eq!(Dcid::from_str("4294967296"), Err("too large".to_string()));
        assert_eq!(
            Ttl::from_str("0"),
            Err("must be between 1 and 255".to_string())
        );
        assert!(NeighborPattern::from_str("2001:db8:%d::").is_err());
        assert_eq!(
            NeighborPattern::lelastic().format(14, &[1, 4]),
            Ok(vec![
                "2600:3c0f:14:34::1".parse().unwrap(),
                "2600:3c0f:14:34::4".parse().unwrap()
            ])
        );
        assert_eq!(
            Address::from_str("fe80::1/64"),
            Err("link-local addresses are never announced".to_string())
        );
        assert_eq!(
            Address::from_str("255.255.255.255"),
            Err("broadcast addresses are never announced".to_string())
        );
        assert_eq!(
            RouterId::from_str("0.0.0.0"),
            Err("router id must not be 0.0.0.0".to_string())
        );
    }
}
