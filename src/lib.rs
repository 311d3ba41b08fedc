//! `elastic`: keeps a shared IP address reachable by announcing it over BGP.
//!
//! Layout (one concern per module; pure modules never read the clock or do IO):
//! - [`cli`]: lelastic-compatible flags → [`cli::Settings`].
//! - [`addrs`]: pure address rules + the only rtnetlink code.
//! - [`announce`]: pure: (settings, addresses) → the desired route set.
//! - [`bgp::wire`]: pure codec and framing.
//! - [`bgp::session`]: pure per-peer FSM, timers as deadlines, wanted-vs-sent diff.
//! - [`bgp::peer`]: thin tokio driver for one session.
//! - [`daemon`]: the event loop wiring the above; orderly stop.
//! - [`status`]: plain-data snapshots.

pub mod addrs;
pub mod announce;
pub mod bgp;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod health;
pub mod hooks;
pub mod logging;
pub mod probe;
pub mod status;
pub mod systemd;
