//! The test cases, grouped by what they exercise.

mod active_active;
mod announce;
mod api;
mod bfd;
mod common;
mod event_probes;
mod fail_safe;
mod failover;
mod hardening;
mod hardening2;
mod health;
mod hostile;
mod lifecycle;
mod md5;
mod ops;
mod runtime;
mod systemd;
mod timers;
mod vrrp;
mod vrrp6;
mod vrrp_daemon;
mod vrrp_frr;
mod vrrp_lab;
