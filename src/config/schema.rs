//! The YAML shapes of the keys whose typed model differs from how they are written (a probe, a
//! service, the hooks), read by `config::parse_with` and written by `config::render`: the same
//! structs both ways, so a key added here is read and rendered.
//!
//! Checks that concern one value live in the value types (`values.rs`); checks across the keys of
//! one mapping run inside that mapping's deserialization ([`Checked`]), so the error names the
//! mapping's path and line. A problem found after parsing is located by [`locate`].

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::values::{
    AbsolutePath, Address, AnnounceDelay, Argv, Community, Count, HookTimeout, HttpStatus, HttpUrl,
    ListenTarget, Name, ProbeTime, ProcessName, Role, TcpTarget, TlsName,
};

/// One probe: exactly one of `exec`, `shell`, `tcp`, `http`, `process` or `listen`, and its
/// timings.
#[derive(Deserialize, Serialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a probe (exec, shell, tcp, http, process or listen, with timings)"
)]
pub(crate) struct RawProbe {
    pub exec: Option<Argv>,
    pub shell: Option<String>,
    pub tcp: Option<TcpTarget>,
    pub http: Option<Checked<RawHttp>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<Checked<RawProcess>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<ListenTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fast_fail: Option<bool>,
    pub user: Option<String>,
    pub interval: Option<ProbeTime>,
    pub fast_interval: Option<ProbeTime>,
    pub timeout: Option<ProbeTime>,
    pub rise: Option<Count>,
    pub fall: Option<Count>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub url: HttpUrl,
    pub status: Option<HttpStatus>,
    pub body: Option<String>,
    pub ca_file: Option<AbsolutePath>,
    pub tls_verify: Option<bool>,
    pub server_name: Option<TlsName>,
}

/// `process: {pidfile: PATH}` or `process: {name: COMM, owner: USER}`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProcess {
    pub pidfile: Option<AbsolutePath>,
    pub name: Option<ProcessName>,
    pub owner: Option<String>,
}

impl CheckFields for RawProcess {
    fn check(&self) -> Result<(), String> {
        match (&self.pidfile, &self.name, &self.owner) {
            (Some(_), Some(_), _) | (None, None, _) => {
                Err("a process probe needs exactly one of pidfile or name".to_string())
            }
            (Some(_), None, Some(_)) => {
                Err("owner applies to name only (a pidfile names one process already)".to_string())
            }
            (_, _, Some(owner)) if owner.is_empty() => {
                Err("owner: a user name or a numeric uid".to_string())
            }
            _ => Ok(()),
        }
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub name: Name,
    pub addresses: Option<Vec<Address>>,
    pub probes: Option<Vec<String>>,
    pub on_down: Option<RawOutcome>,
    pub maintenance: Option<RawOutcome>,
    pub announce_delay: Option<AnnounceDelay>,
    pub preempt: Option<bool>,
    /// Overrides the host's role for the prefixes this service gates (active/active).
    pub role: Option<Role>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHooks {
    pub on_change: Argv,
    pub timeout: Option<HookTimeout>,
    pub user: Option<String>,
}

/// The most communities a demotion may add. A BGP UPDATE holds at most 4096 octets, so about a
/// thousand communities cannot be sent at all; 64 (256 octets) leave room for everything else.
pub(crate) const MAX_DEMOTE_COMMUNITIES: usize = 64;

/// `withdraw`, `demote`, or `{demote: {communities: [...], med: N}}`.
pub(crate) enum RawOutcome {
    Withdraw,
    Demote(RawDemote),
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDemote {
    pub communities: Option<Vec<Community>>,
    pub med: Option<u32>,
    /// VRRP mode: lower the instance's priority by this much (keepalived's `weight`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

/// The checks across the keys of one mapping.
pub(crate) trait CheckFields {
    fn check(&self) -> Result<(), String>;
}

/// A mapping read as `T` and checked as a whole inside the same call, so an error is located at
/// the mapping and names its path. Written as `T`.
pub(crate) struct Checked<T>(pub T);

impl<'de, T: Deserialize<'de> + CheckFields> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CheckedVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + CheckFields> Visitor<'de> for CheckedVisitor<T> {
            type Value = Checked<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Checked<T>, A::Error> {
                let fields = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                fields.check().map_err(de::Error::custom)?;
                Ok(Checked(fields))
            }
        }
        d.deserialize_map(CheckedVisitor(std::marker::PhantomData))
    }
}

impl<T: Serialize> Serialize for Checked<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl CheckFields for RawProbe {
    fn check(&self) -> Result<(), String> {
        let kinds = [
            self.exec.is_some(),
            self.shell.is_some(),
            self.tcp.is_some(),
            self.http.is_some(),
            self.process.is_some(),
            self.listen.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(
                "a probe needs exactly one of exec, shell, tcp, http, process or listen"
                    .to_string(),
            );
        }
        let others = [
            (self.tcp.is_some(), "tcp"),
            (self.http.is_some(), "http"),
            (self.process.is_some(), "process"),
            (self.listen.is_some(), "listen"),
        ];
        if self.user.is_some() {
            for (set, kind) in others {
                if set {
                    return Err(format!("user applies to exec and shell probes, not {kind}"));
                }
            }
        }
        if self.fast_fail.is_some() && !(self.tcp.is_some() || self.http.is_some()) {
            return Err(
                "fast_fail applies to tcp and http probes (a refused connection)".to_string(),
            );
        }
        let interval = self.interval();
        let fast_interval = self.fast_interval();
        if fast_interval > interval {
            return Err(format!(
                "fast_interval ({}) must not be longer than interval ({})",
                humantime::format_duration(fast_interval),
                humantime::format_duration(interval)
            ));
        }
        Ok(())
    }
}

impl RawProbe {
    pub fn interval(&self) -> std::time::Duration {
        self.interval.map_or(super::DEFAULT_INTERVAL, |d| d.get())
    }

    pub fn fast_interval(&self) -> std::time::Duration {
        // Never under the shortest a probe may wait (a 10 ms interval checks every 10 ms).
        let derived = (self.interval() / super::FAST_INTERVAL_DIVISOR).max(ProbeTime::MIN);
        self.fast_interval.map_or(derived, |d| d.get())
    }
}

impl CheckFields for RawHttp {
    fn check(&self) -> Result<(), String> {
        if self.url.is_https() {
            if self.tls_verify == Some(false) && self.ca_file.is_some() {
                return Err(
                    "ca_file has no effect with tls_verify: false; keep one of them".to_string(),
                );
            }
            if self.server_name.is_none() {
                self.url
                    .host
                    .parse::<TlsName>()
                    .map_err(|why| format!("url: {why}"))?;
            }
        } else if self.ca_file.is_some() || self.tls_verify.is_some() || self.server_name.is_some()
        {
            return Err(
                "ca_file, tls_verify and server_name apply to https:// URLs only".to_string(),
            );
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for RawOutcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OutcomeVisitor;
        impl<'de> Visitor<'de> for OutcomeVisitor {
            type Value = RawOutcome;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "withdraw, demote, or {demote: {communities: [...], med: N, priority: N}}",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawOutcome, E> {
                match v {
                    "withdraw" => Ok(RawOutcome::Withdraw),
                    "demote" => Ok(RawOutcome::Demote(RawDemote::default())),
                    other => Err(E::custom(format!(
                        "invalid value {other:?}: expected withdraw or demote"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawOutcome, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("expected {demote: {...}}"));
                };
                if key != "demote" {
                    return Err(de::Error::custom(format!(
                        "unknown key `{key}`, expected `demote`"
                    )));
                }
                let demote: RawDemote = map.next_value()?;
                if let Some(list) = &demote.communities
                    && list.len() > MAX_DEMOTE_COMMUNITIES
                {
                    return Err(de::Error::custom(format!(
                        "demote.communities: {} communities, at most {MAX_DEMOTE_COMMUNITIES} \
                         (an UPDATE carrying more may not fit in 4096 octets)",
                        list.len()
                    )));
                }
                if demote.priority == Some(0) {
                    return Err(de::Error::custom(
                        "demote.priority: 0 lowers nothing; 1-253, how much lower the VRRP \
                         priority goes (keepalived's weight)",
                    ));
                }
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "unexpected key `{extra}` after `demote`"
                    )));
                }
                Ok(RawOutcome::Demote(demote))
            }
        }
        d.deserialize_any(OutcomeVisitor)
    }
}

impl Serialize for RawOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawOutcome::Withdraw => s.serialize_str("withdraw"),
            RawOutcome::Demote(demote) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("demote", demote)?;
                map.end()
            }
        }
    }
}

/// One step of a key path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// A problem found after parsing, with the path of the value it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Misplaced {
    pub path: Vec<Step>,
    pub message: String,
}

/// Reads `text` once more and fails at `path` with `message`, so the error carries that value's
/// key path and line as a deserialization error would. `None` if the path is not in the text.
pub(crate) fn locate(text: &str, problem: &Misplaced) -> Option<serde_yaml::Error> {
    let seed = Locate {
        path: &problem.path,
        message: &problem.message,
    };
    seed.deserialize(serde_yaml::Deserializer::from_str(text))
        .err()
}

struct Locate<'a> {
    path: &'a [Step],
    message: &'a str,
}

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Locate<'_> {
    fn here<E: de::Error>(&self) -> Result<(), E> {
        match self.path {
            [] => Err(E::custom(self.message)),
            _ => Ok(()),
        }
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A mapping where a list may stand (`vrrp:` with one instance) is item 0 of that list.
        if let Some((Step::Index(0), rest)) = self.path.split_first() {
            let inner = Locate {
                path: rest,
                message: self.message,
            };
            return inner.visit_map(map);
        }
        let (wanted, rest) = match self.path.split_first() {
            Some((Step::Key(key), rest)) => (Some(key.as_str()), rest),
            _ => (None, self.path),
        };
        self.here()?;
        while let Some(key) = map.next_key::<String>()? {
            if Some(key.as_str()) == wanted {
                map.next_value_seed(Locate {
                    path: rest,
                    message: self.message,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (wanted, rest) = match self.path.split_first() {
            Some((Step::Index(index), rest)) => (Some(*index), rest),
            _ => (None, self.path),
        };
        self.here()?;
        let mut index = 0;
        loop {
            let found = if Some(index) == wanted {
                seq.next_element_seed(Locate {
                    path: rest,
                    message: self.message,
                })?
            } else {
                seq.next_element::<IgnoredAny>()?.map(|_| ())
            };
            if found.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.here()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.here()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.here()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.here()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.here()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }
}
