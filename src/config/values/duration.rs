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
    /// The longest accepted, so that no deadline computed from it can overflow the clock
    /// (`Instant + Duration` panics on overflow).
    const MAX: Duration;
    /// The parse error: what to write instead.
    const EXPECTED: &'static str;
}

/// A duration key's value: humantime text ("1s", "500ms", "1m 30s") within `K`'s bounds.
pub struct Dur<K>(Duration, PhantomData<K>);

macro_rules! duration_keys {
    ($($(#[$doc:meta])* $alias:ident = $key:ident { zero: $zero:expr, max_hours: $hours:expr, expected: $expected:expr })*) => {$(
        #[doc(hidden)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $key {}
        impl DurationKey for $key {
            const ZERO_OK: bool = $zero;
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
        zero: false, max_hours: 24, expected: "expected a duration such as 1s, 500ms or 1m30s"
    }
    /// A service's `announce_delay`.
    AnnounceDelay = AnnounceDelayKey {
        zero: true, max_hours: 24, expected: "expected a duration such as 0s, 1s, 500ms or 1m30s"
    }
    /// `maintenance_poll`.
    PollInterval = PollIntervalKey {
        zero: false, max_hours: 1, expected: "expected a duration such as 1s, 500ms or 1m30s"
    }
    /// `hooks.timeout`.
    HookTimeout = HookTimeoutKey {
        zero: false, max_hours: 1, expected: "expected a duration such as 10s, 500ms or 1m30s"
    }
    /// `drain_time`: 0 skips the drain; systemd's TimeoutStopSec must exceed it.
    DrainTime = DrainTimeKey {
        zero: true, max_hours: 1,
        expected: "expected a duration such as 5s or 500ms, or 0 to skip the drain"
    }
}

impl<K> Dur<K> {
    pub fn get(&self) -> Duration {
        self.0
    }
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
