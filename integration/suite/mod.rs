//! The test cases, grouped by what they exercise.

mod announce;
mod common;
mod failover;
mod health;
mod hostile;
mod lifecycle;
mod runtime;
mod systemd;
