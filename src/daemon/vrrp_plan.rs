//! VRRP mode's decisions, pure (no IO, no clock): what the services' health and the operator ask
//! of each instance, which instances a reload keeps, restarts, starts or stops, and what the hook
//! gets on a state change. `vrrp.rs` carries them out.

use crate::config::{Outcome, ServiceConfig, VrrpConfig};
use crate::health::ServiceState;
use crate::hooks::HookEvent;
use crate::vrrp::instance::{Health, State};

/// How logs, status and hooks name an instance: `interface/vrid` (IPv6: `interface/vrid/ipv6`,
/// since an IPv4 and an IPv6 instance may share both).
pub(super) fn instance_name(instance: &VrrpConfig) -> String {
    let family = if instance.is_ipv6() { "/ipv6" } else { "" };
    format!("{}/{}{family}", instance.interface, instance.vrid)
}

/// What the instance must do now. `stand_down` (draining, maintenance, stopping) hands over
/// like a withdrawal. Each gating service (the instance's `services`, default all) that is up
/// leaves it be; one that has no verdict yet or is in maintenance withdraws it; one that is down
/// (or sitting out `announce_delay`) withdraws it, or, with `on_down: {demote: {priority: N}}`,
/// lowers its priority by N: several demotions add up, as keepalived's weights do.
pub(super) fn instance_health(
    instance: &VrrpConfig,
    services: &[(&ServiceConfig, ServiceState)],
    stand_down: bool,
) -> Health {
    if stand_down {
        return Health::Withdraw;
    }
    let gates = |service: &ServiceConfig| {
        instance
            .services
            .as_ref()
            .is_none_or(|names| names.contains(&service.name))
    };
    let mut lower: u8 = 0;
    for (service, state) in services.iter().filter(|(s, _)| gates(s)) {
        match state {
            ServiceState::Up => {}
            ServiceState::Waiting | ServiceState::Maintenance => return Health::Withdraw,
            ServiceState::Down | ServiceState::Delayed => {
                match (&service.on_down, service.demote_priority) {
                    (Outcome::Demote(_), Some(by)) => lower = lower.saturating_add(by),
                    _ => return Health::Withdraw,
                }
            }
        }
    }
    if lower == 0 {
        Health::Up
    } else {
        Health::Demote(lower)
    }
}

/// What a reload does to one instance (indices into the running and the new list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InstanceChange {
    /// Unchanged, or only its `services` or `priority` changed: health and the state machine
    /// follow those without a restart.
    Keep {
        old: usize,
        new: usize,
    },
    /// Changed: the old one hands over and ends, then the new one starts.
    Restart {
        old: usize,
        new: usize,
    },
    Start {
        new: usize,
    },
    Stop {
        old: usize,
    },
}

/// Instances are the same one when they are the same router ([`VrrpConfig::same_router`]).
pub(super) fn plan_instances(running: &[VrrpConfig], wanted: &[VrrpConfig]) -> Vec<InstanceChange> {
    let driver_part = |c: &VrrpConfig| VrrpConfig {
        services: None,
        priority: 1,
        ..c.clone()
    };
    let mut changes = Vec::new();
    for (new, config) in wanted.iter().enumerate() {
        match running.iter().position(|r| r.same_router(config)) {
            Some(old) if driver_part(&running[old]) == driver_part(config) => {
                changes.push(InstanceChange::Keep { old, new });
            }
            Some(old) => changes.push(InstanceChange::Restart { old, new }),
            None => changes.push(InstanceChange::Start { new }),
        }
    }
    for (old, config) in running.iter().enumerate() {
        if !wanted.iter().any(|w| w.same_router(config)) {
            changes.push(InstanceChange::Stop { old });
        }
    }
    changes
}

/// What the hook gets when an instance changes state: `ELASTIC_STATE` and `ELASTIC_VRRP_STATE`
/// are the new state (master, backup or fault; initialize on the way out), the service argument
/// is the instance's name, and the addresses are its virtual addresses.
pub(super) fn hook_event(instance: &VrrpConfig, from: State, to: State) -> HookEvent {
    HookEvent {
        service: instance_name(instance),
        state: to.name(),
        previous: from.name(),
        announce: to.name(),
        role: "vrrp",
        host_role: "vrrp",
        addresses: instance.addresses.clone(),
        vrrp: Some((instance_name(instance), to.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_demote;

    fn instance(yaml: &str) -> VrrpConfig {
        let text = format!("vrrp:\n{yaml}");
        let path = std::path::Path::new("/etc/elastic/test.yaml");
        let file = crate::config::parse(&text, path).unwrap_or_else(|e| panic!("{e}"));
        file.vrrp.into_iter().next().unwrap()
    }

    fn eth0_51() -> VrrpConfig {
        instance("  interface: eth0\n  vrid: 51\n  priority: 150\n  addresses: [198.51.100.10/24]")
    }

    fn service(name: &str, demote_by: Option<u8>) -> ServiceConfig {
        ServiceConfig {
            name: name.into(),
            on_down: match demote_by {
                Some(_) => Outcome::Demote(default_demote()),
                None => Outcome::Withdraw,
            },
            demote_priority: demote_by,
            ..ServiceConfig::default_service()
        }
    }

    #[test]
    fn health_follows_every_gating_service() {
        let (web, db) = (service("web", None), service("db", Some(30)));
        let all = eth0_51();
        let health = |states: [ServiceState; 2], stand_down: bool| {
            instance_health(&all, &[(&web, states[0]), (&db, states[1])], stand_down)
        };
        use ServiceState::*;
        assert_eq!(health([Up, Up], false), Health::Up);
        assert_eq!(
            health([Up, Up], true),
            Health::Withdraw,
            "drain, maintenance, stop"
        );
        assert_eq!(
            health([Down, Up], false),
            Health::Withdraw,
            "on_down: withdraw"
        );
        assert_eq!(health([Up, Down], false), Health::Demote(30));
        assert_eq!(health([Up, Delayed], false), Health::Demote(30));
        assert_eq!(health([Waiting, Up], false), Health::Withdraw);
        assert_eq!(health([Up, Maintenance], false), Health::Withdraw);
        assert_eq!(health([Down, Down], false), Health::Withdraw);
        // Only the services the instance names gate it.
        let db_only = VrrpConfig {
            services: Some(vec!["db".into()]),
            ..eth0_51()
        };
        assert_eq!(
            instance_health(&db_only, &[(&web, Down), (&db, Up)], false),
            Health::Up
        );
    }

    #[test]
    fn demotions_add_up_and_saturate() {
        let (a, b) = (service("a", Some(30)), service("b", Some(240)));
        use ServiceState::*;
        assert_eq!(
            instance_health(&eth0_51(), &[(&a, Down), (&b, Up)], false),
            Health::Demote(30)
        );
        assert_eq!(
            instance_health(&eth0_51(), &[(&a, Down), (&b, Down)], false),
            Health::Demote(255)
        );
        // No services at all: nothing gates it.
        assert_eq!(instance_health(&eth0_51(), &[], false), Health::Up);
    }

    #[test]
    fn a_reload_keeps_restarts_starts_and_stops_by_interface_vrid_and_family() {
        let a = eth0_51();
        let b = instance("  interface: eth0\n  vrid: 52\n  addresses: [198.51.100.11/24]");
        let c = instance("  interface: eth1\n  vrid: 51\n  addresses: [\"2001:db8::10/64\"]");
        let a_services = VrrpConfig {
            services: Some(vec!["web".into()]),
            ..a.clone()
        };
        let b_interval = VrrpConfig {
            advert_interval: crate::vrrp::wire::AdvertInterval::from_centiseconds(50).unwrap(),
            ..b.clone()
        };
        let a_priority = VrrpConfig {
            priority: 200,
            ..a_services.clone()
        };
        let changes = plan_instances(&[a.clone(), b.clone()], &[c, b_interval, a_priority]);
        assert_eq!(
            changes,
            [
                InstanceChange::Start { new: 0 },
                InstanceChange::Restart { old: 1, new: 1 },
                InstanceChange::Keep { old: 0, new: 2 },
            ]
        );
        assert_eq!(
            plan_instances(&[a.clone(), b], &[a]),
            [
                InstanceChange::Keep { old: 0, new: 0 },
                InstanceChange::Stop { old: 1 }
            ]
        );
    }

    #[test]
    fn the_hook_gets_the_vrrp_state_and_the_instance() {
        let event = hook_event(&eth0_51(), State::Backup, State::Master);
        assert_eq!(
            event.args(),
            ["master", "eth0/51", "198.51.100.10/24"].map(String::from)
        );
        let env = event.env();
        assert!(env.contains(&("ELASTIC_VRRP_STATE", "master".into())));
        assert!(env.contains(&("ELASTIC_VRRP_INSTANCE", "eth0/51".into())));
        assert!(env.contains(&("ELASTIC_STATE", "master".into())));
        assert!(env.contains(&("ELASTIC_PREVIOUS_STATE", "backup".into())));
        let v6 = instance("  interface: eth0\n  vrid: 51\n  addresses: [\"2001:db8::1/64\"]");
        assert_eq!(instance_name(&v6), "eth0/51/ipv6");
    }
}
