//! `elastic`: keeps a shared IP address reachable by announcing it over BGP, or, where a network
//! has no BGP, by VRRP.
//!
//! Layout (one concern per module; pure modules never read the clock or do IO):
//! - [`cli`]: lelastic-compatible flags; [`settings`]: flags merged over the config file →
//!   [`settings::Settings`].
//! - [`addrs`]: pure address rules + the only rtnetlink code.
//! - [`announce`]: pure: (settings, addresses) → the desired route set.
//! - [`bgp::wire`]: pure codec and framing.
//! - [`bgp::session`]: pure per-peer FSM, timers as deadlines, wanted-vs-sent diff.
//! - [`bgp::peer`]: thin tokio driver for one session.
//! - [`bfd`]: BFD beside each BGP session: pure codec and state machine, thin UDP driver.
//! - [`vrrp`]: VRRP mode: pure advert codec and instance state machine; raw sockets, gratuitous
//!   ARP / unsolicited NA and the instance driver.
//! - [`daemon`]: the event loop wiring the above (its health gate and session set in submodules);
//!   reload, graceful shutdown, orderly stop.
//! - [`config`]: the YAML file (typed model, serde schema, the value types the flags share, the
//!   `check-config` rendering); [`probe`], [`health`], [`hooks`]: health
//!   probes, their rise/fall state, and the commands run on service state changes; [`command`]:
//!   as whom those commands run, and without the daemon's powers.
//! - [`files`]: reading configured files without blocking, bounded in size.
//! - [`status`]: plain-data snapshots; [`systemd`]: sd_notify; [`memory`]: freed heap back to the
//!   kernel after a burst.
//! - [`clock`]: the shell's one clock; `clippy.toml` forbids every other way to read time.
//! - [`control`]: the control socket (SetMaintenance, Drain); [`accept`]: the limits every
//!   listener accepts connections within.
//! - [`api`]: gRPC (elastic.v1 and the GoBGP v3 subset) over snapshots, from the [`proto`] types;
//!   [`metrics`] exports snapshots in the Prometheus text format.
//! - [`client`]: `elastic status` (the API) and `elastic drain` / `maintenance` (the control
//!   socket).

pub mod accept;
pub(crate) mod addrs;
pub(crate) mod announce;
pub(crate) mod api;
pub mod bfd;
pub mod bgp;
pub mod cli;
pub mod client;
pub(crate) mod clock;
pub(crate) mod command;
pub mod config;
pub(crate) mod control;
pub mod daemon;
pub(crate) mod files;
pub(crate) mod health;
pub(crate) mod hooks;
pub mod logging;
pub(crate) mod memory;
pub(crate) mod metrics;
pub(crate) mod model;
pub(crate) mod probe;
pub mod proto;
pub mod settings;
pub(crate) mod status;
pub(crate) mod systemd;
pub mod vrrp;
