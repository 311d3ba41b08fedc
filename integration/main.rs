//! End-to-end tests: the daemon under test against real route servers (FRR, BIRD 2, GoBGP) in
//! network namespaces. Root only; missing prerequisites fail the tests, they never skip.
//!
//! The daemon is this crate's `elastic` binary, or `ELASTIC_BIN` (e.g. the real lelastic while
//! developing the lab). Run: `integration/test.sh`, or `cargo test --test integration`.
#![allow(
    clippy::disallowed_methods,
    reason = "the lab measures real time; the one-clock rule is the daemon's"
)]

mod suite;
