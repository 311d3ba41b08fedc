//! Duration keys: humantime text within per-key bounds.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::StrVisitor;

/// What a duration key accepts.
pub trait DurationKey {
    /// Whether zero is meaningful (a zero interval would spin).
    const ZERO_OK: bool;
    /// The shortest accepted other than zero: a probe every few nanoseconds would keep the one
    /// event-loop thread busy.
    const MIN: Duration;
    /// The longest accepted, so that no deadline computed from it can overflow the clock
    /// (`Instant + Duration` panics on overflow).
    const MAX: Duration;
    /// The parse error: what to write instead.
    const EXPECTED: &'static str;
}

/// A duration key's value: humantime text ("1s", "500ms", "1m 30s") within `K`'s bounds.
pub struct Dur<K>(Duration, PhantomData<K>);

macro_rules! duration_keys {
    ($($(#[$doc:meta])* $alias:ident = $key:ident {
        zero: $zero:expr, min_ms: $min:expr, max_hours: $hours:expr, expected: $expected:expr
    })*) => {$(
        #[doc(hidden)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $key {}
        impl DurationKey for $key {
            const ZERO_OK: bool = $zero;
            const MIN: Duration = Duration::from_millis($min);
            const MAX: Duration = Duration::from_secs($hours * 3600);
            const EXPECTED: &'static str = $expected;
        }
        $(#[$doc])*
        pub type $alias = Dur<$key>;
    )*};
}

duration_keys! {
    /// A probe's `interval`, `fast_interval` and `timeout`.
    ProbeTime = ProbeTimeKey {
        zero: false, min_ms: 10, max_hours: 24,
        expected: "expected a duration such as 1s, 500ms or 1m30s"
    }
    /// A service's `announce_delay`.
    AnnounceDelay = AnnounceDelayKey {
        zero: true, min_ms: 0, max_hours: 24,
        expected: "expected a duration such as 0s, 1s, 500ms or 1m30s"
    }
    /// `maintenance_poll`.
    PollInterval = PollIntervalKey {
        zero: false, min_ms: 10, max_hours: 1,
        expected: "expected a duration such as 1s, 500ms or 1m30s"
    }
    /// `hooks.timeout`.
    HookTimeout = HookTimeoutKey {
        zero: false, min_ms: 10, max_hours: 1,
        expected: "expected a duration such as 10s, 500ms or 1m30s"
    }
    /// A VRRP instance's `preempt_delay`.
    PreemptDelay = PreemptDelayKey {
        zero: true, min_ms: 0, max_hours: 1,
        expected: "expected a duration such as 0s, 30s or 5m"
    }
    /// `drain_time`: 0 skips the drain; systemd's TimeoutStopSec must exceed it.
    DrainTime = DrainTimeKey {
        zero: true, min_ms: 0, max_hours: 1,
        expected: "expected a duration such as 5s or 500ms, or 0 to skip the drain"
    }
}

impl<K> Dur<K> {
    pub fn get(&self) -> Duration {
        self.0
    }
}

impl<K: DurationKey> Dur<K> {
    /// The shortest value the key accepts, zero aside.
    pub const MIN: Duration = K::MIN;
}

impl<K> fmt::Debug for Dur<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dur({:?})", self.0)
    }
}

impl<K> Clone for Dur<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Dur<K> {}

impl<K> PartialEq for Dur<K> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K> Eq for Dur<K> {}

/// Whole hours as hours ("24h", where humantime would write "1day").
fn shown(duration: Duration) -> String {
    match duration.as_secs() {
        secs if secs % 3600 == 0 && duration.subsec_nanos() == 0 => format!("{}h", secs / 3600),
        _ => humantime::format_duration(duration).to_string(),
    }
}

impl<K: DurationKey> TryFrom<Duration> for Dur<K> {
    type Error = String;
    fn try_from(duration: Duration) -> Result<Self, String> {
        if duration.is_zero() && !K::ZERO_OK {
            Err("must be longer than 0".to_string())
        } else if !duration.is_zero() && duration < K::MIN {
            Err(format!("must be at least {}", shown(K::MIN)))
        } else if duration > K::MAX {
            Err(format!("must be at most {}", shown(K::MAX)))
        } else {
            Ok(Dur(duration, PhantomData))
        }
    }
}

impl<K: DurationKey> FromStr for Dur<K> {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = match text.trim() {
            // A bare 0 needs no unit (`drain_time: 0` skips the drain).
            "0" if K::ZERO_OK => Ok(Duration::ZERO),
            _ => humantime::parse_duration(text),
        };
        match parsed {
            Ok(duration) => Dur::try_from(duration),
            Err(_) => Err(K::EXPECTED.to_string()),
        }
    }
}

impl<K> fmt::Display for Dur<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

impl<'de, K: DurationKey> Deserialize<'de> for Dur<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(Self::from_str))
    }
}

impl<K> Serialize for Dur<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whole seconds from a timer key's text: a duration ("3s", "1m30s") or a bare number of seconds
/// ("3", as GoBGP's and FRR's configs write BGP timers).
fn whole_seconds(text: &str, expected: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| expected.to_string());
    }
    let duration = humantime::parse_duration(text).map_err(|_| expected.to_string())?;
    match duration.subsec_nanos() {
        0 => Ok(duration.as_secs()),
        _ => Err("must be whole seconds (BGP timers have no fractions)".to_string()),
    }
}

/// Reads a timer key from a string ("3s") or a YAML integer (seconds).
struct TimerVisitor<F>(F);

impl<'de, T, F: FnOnce(&str) -> Result<T, String>> serde::de::Visitor<'de> for TimerVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration in whole seconds such as 3s")
    }
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        (self.0)(text).map_err(|why| E::custom(format!("invalid value {text:?}: {why}")))
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<T, E> {
        (self.0)(&n.to_string()).map_err(|why| E::custom(format!("invalid value {n}: {why}")))
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<T, E> {
        (self.0)(&n.to_string()).map_err(|why| E::custom(format!("invalid value {n}: {why}")))
    }
}

/// Whole seconds that fit a BGP timer field (16 bits); `expected` is the message for a bad form.
fn u16_seconds(text: &str, expected: &str) -> Result<u16, String> {
    let secs = whole_seconds(text, expected)?;
    u16::try_from(secs).map_err(|_| "must be at most 65535s".to_string())
}

/// `hold_time` / `-holdtime`: the BGP hold time we propose, 0 (no keepalives, no hold timer) or
/// 3 s to 65535 s in whole seconds (RFC 4271 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTime(u16);

const HOLD_TIME_EXPECTED: &str = "expected 0 or a duration from 3s to 65535s, such as 9s";

impl TryFrom<u16> for HoldTime {
    type Error = String;
    fn try_from(secs: u16) -> Result<Self, String> {
        match secs {
            1 | 2 => Err("must be 0 or at least 3s (RFC 4271)".to_string()),
            _ => Ok(HoldTime(secs)),
        }
    }
}

impl FromStr for HoldTime {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        HoldTime::try_from(u16_seconds(text, HOLD_TIME_EXPECTED)?)
    }
}

/// `keepalive` / `-keepalive`: how often we send KEEPALIVEs, 1 s to 65535 s in whole seconds;
/// never more than a third of the negotiated hold time is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive(u16);

const KEEPALIVE_EXPECTED: &str = "expected a duration from 1s to 65535s, such as 3s";

impl TryFrom<u16> for Keepalive {
    type Error = String;
    fn try_from(secs: u16) -> Result<Self, String> {
        match secs {
            0 => Err("must be longer than 0".to_string()),
            _ => Ok(Keepalive(secs)),
        }
    }
}

impl FromStr for Keepalive {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Keepalive::try_from(u16_seconds(text, KEEPALIVE_EXPECTED)?)
    }
}

/// A BGP timer's seconds, its `3s` form and its serde (the form in a string, or a bare number).
macro_rules! bgp_timer {
    ($($ty:ident),*) => {$(
        impl $ty {
            pub fn get(self) -> u16 {
                self.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}s", self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(TimerVisitor(<$ty>::from_str))
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}

bgp_timer!(HoldTime, Keepalive);
