//! What a reload changes, decided without IO (the files are read off the loop by
//! [`read_settings`]): the new settings are compared with the running
//! ones and the addresses elastic bound, and the result is a [`ReloadPlan`] the loop carries out
//! (sessions: [`super::peers::plan_sessions`]; probes: [`super::gate::Gate::reconfigure`]).

use ipnet::IpNet;

use std::time::Duration;

use crate::addrs::AddrChange;
use crate::cli::Invocation;
use crate::config::DefaultFile;
use crate::settings::{self, BgpSettings, Settings};

/// How long a reload may take to read its files and look up its accounts before it is refused
/// (the running configuration stays); well inside the route servers' hold time and the watchdog.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The settings `invocation` gives now, read on a blocking thread so that a slow disk or a slow
/// NSS lookup (`user:`, `control_socket_group`) never stalls the event loop, and given up after
/// [`READ_TIMEOUT`]. `from_file`: the running settings came from a file, whose absence is then
/// an invalid reload, never "flags only".
pub(super) async fn read_settings(
    invocation: Invocation,
    from_file: bool,
) -> Result<Settings, String> {
    let default_file = match from_file {
        true => DefaultFile::Required,
        false => DefaultFile::IfPresent,
    };
    let read = tokio::task::spawn_blocking(move || settings::effective(&invocation, default_file));
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(result)) => result.map_err(|error| error.to_string()),
        Ok(Err(error)) => Err(format!("reading the configuration failed: {error}")),
        Err(_) => Err(format!(
            "reading the configuration took longer than {}s",
            READ_TIMEOUT.as_secs()
        )),
    }
}

/// A reload, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReloadPlan {
    /// What to run with: the new settings, restart-only keys kept at their running values.
    pub(super) settings: Settings<BgpSettings>,
    /// The new configuration's own warnings (logged once, by the reload).
    pub(super) warnings: Vec<String>,
    /// Restart-only keys the new configuration changes: logged, and the running value kept.
    pub(super) restart_only: Vec<&'static str>,
    /// Anything to apply at all.
    pub(super) changed: bool,
    /// Addresses new in the configuration: bind them to lo.
    pub(super) bind: Vec<IpNet>,
    /// Addresses removed from the configuration that elastic bound: withdraw them, wait for the
    /// withdrawal to go out, then unbind them.
    pub(super) unbind: Vec<AddrChange>,
    /// What elastic bound and keeps.
    pub(super) keep_bound: Vec<AddrChange>,
    /// Addresses removed from the configuration that elastic did not bind: left on lo.
    pub(super) left_on_lo: Vec<IpNet>,
    /// Role or MED changed: every route is re-announced.
    pub(super) reannounce: bool,
    /// Probes, services, maintenance file or hook changed.
    pub(super) health_changed: bool,
}

/// The keys that only take effect at start.
const RESTART_ONLY: [&str; 8] = [
    "api",
    "api_allow_remote",
    "metrics",
    "metrics_allow_remote",
    "log_level",
    "log_json",
    "control_socket",
    "control_socket_group",
];

/// Compares `new` with the `running` settings and what elastic `bound` to lo.
pub(super) fn plan(
    running: &Settings<BgpSettings>,
    mut new: Settings<BgpSettings>,
    bound: &[AddrChange],
) -> ReloadPlan {
    let warnings = std::mem::take(&mut new.warnings);
    let restart_only = keep_restart_only(running, &mut new);
    let changed = new != *running;
    let mut plan = ReloadPlan {
        settings: new,
        warnings,
        restart_only,
        changed,
        bind: Vec::new(),
        unbind: Vec::new(),
        keep_bound: bound.to_vec(),
        left_on_lo: Vec::new(),
        reannounce: false,
        health_changed: false,
    };
    if !changed {
        return plan;
    }
    let running_health = &running.health;
    let (running, new) = (&running.mode, &plan.settings.mode);
    plan.bind = new
        .addresses
        .iter()
        .filter(|a| !running.addresses.contains(a))
        .copied()
        .collect();
    let removed: Vec<IpNet> = running
        .addresses
        .iter()
        .filter(|a| !new.addresses.contains(a))
        .copied()
        .collect();
    (plan.unbind, plan.keep_bound) = bound
        .iter()
        .cloned()
        .partition(|c| matches!(c, AddrChange::Add { net, .. } if removed.contains(net)));
    plan.left_on_lo = removed
        .into_iter()
        .filter(|net| {
            !plan
                .unbind
                .iter()
                .any(|c| matches!(c, AddrChange::Add { net: n, .. } if n == net))
        })
        .collect();
    plan.reannounce = running.role != new.role || running.med != new.med;
    plan.health_changed = running_health != &plan.settings.health;
    plan
}

/// Sets the restart-only keys of `new` to their running values (they are shared by both
/// modes); returns the ones that differed.
pub(super) fn keep_restart_only<M>(
    running: &Settings<M>,
    new: &mut Settings<M>,
) -> Vec<&'static str> {
    let differs = [
        running.api != new.api,
        running.api_allow_remote != new.api_allow_remote,
        running.metrics != new.metrics,
        running.metrics_allow_remote != new.metrics_allow_remote,
        running.log_level != new.log_level,
        running.log_json != new.log_json,
        running.control_socket != new.control_socket,
        running.control_socket_group != new.control_socket_group,
    ];
    new.api = running.api;
    new.api_allow_remote = running.api_allow_remote;
    new.metrics = running.metrics;
    new.metrics_allow_remote = running.metrics_allow_remote;
    new.log_level = running.log_level;
    new.log_json = running.log_json;
    new.control_socket = running.control_socket.clone();
    new.control_socket_group = running.control_socket_group.clone();
    RESTART_ONLY
        .into_iter()
        .zip(differs)
        .filter_map(|(key, differs)| differs.then_some(key))
        .collect()
}

#[cfg(test)]
mod tests {
    use ipnet::IpNet;

    use super::*;
    use crate::daemon::tests::settings;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    fn added(text: &str) -> AddrChange {
        AddrChange::Add {
            ifindex: 1,
            net: net(text),
        }
    }

    #[test]
    fn an_unchanged_file_changes_nothing() {
        let running = settings(&["-address", "192.0.2.1/32"]);
        let bound = [added("192.0.2.1/32")];
        let plan = plan(&running, running.clone(), &bound);
        assert!(!plan.changed);
        assert!(plan.bind.is_empty() && plan.unbind.is_empty() && plan.left_on_lo.is_empty());
        assert_eq!(plan.keep_bound, bound);
        assert!(plan.restart_only.is_empty());
    }

    #[test]
    fn restart_only_keys_keep_their_running_values_and_are_named() {
        let running = settings(&[]);
        let new = settings(&["-api", "[::1]:6000", "-loglevel", "debug", "-logjson"]);
        let plan = plan(&running, new, &[]);
        assert_eq!(plan.restart_only, ["api", "log_level", "log_json"]);
        assert_eq!(plan.settings.api, running.api);
        assert_eq!(plan.settings.log_level, running.log_level);
        // Nothing else differs, so nothing is applied.
        assert!(!plan.changed);
    }

    #[test]
    fn the_new_files_warnings_are_handed_back_not_taken_for_a_change() {
        let running = settings(&[]);
        let mut new = running.clone();
        new.warnings.push("unknown log level \"loud\"".to_string());
        let plan = plan(&running, new, &[]);
        assert!(!plan.changed);
        assert_eq!(plan.warnings, ["unknown log level \"loud\""]);
    }

    #[test]
    fn a_new_address_is_bound_and_a_removed_one_is_unbound_only_if_elastic_bound_it() {
        let running = settings(&["-address", "192.0.2.1/32", "-address", "192.0.2.2/32"]);
        // 192.0.2.2 was on lo before elastic started: elastic did not bind it.
        let bound = [added("192.0.2.1/32")];
        let new = settings(&["-address", "192.0.2.3/32"]);
        let plan = plan(&running, new, &bound);
        assert!(plan.changed);
        assert_eq!(plan.bind, [net("192.0.2.3/32")]);
        assert_eq!(plan.unbind, [added("192.0.2.1/32")]);
        assert!(plan.keep_bound.is_empty());
        assert_eq!(plan.left_on_lo, [net("192.0.2.2/32")]);
    }

    #[test]
    fn a_kept_address_stays_bound() {
        let running = settings(&["-address", "192.0.2.1/32", "-address", "2001:db8::1/64"]);
        let bound = [added("192.0.2.1/32"), added("2001:db8::1/64")];
        let new = settings(&["-address", "2001:db8::1/64"]);
        let plan = plan(&running, new, &bound);
        assert_eq!(plan.unbind, [added("192.0.2.1/32")]);
        assert_eq!(plan.keep_bound, [added("2001:db8::1/64")]);
        assert!(plan.bind.is_empty());
    }

    #[test]
    fn a_role_or_med_change_re_announces_and_leaves_health_alone() {
        let running = settings(&[]);
        let plan_role = plan(&running, settings(&["-secondary"]), &[]);
        assert!(plan_role.changed && plan_role.reannounce && !plan_role.health_changed);
        let plan_med = plan(&running, settings(&["-med", "50"]), &[]);
        assert!(plan_med.reannounce);
        let plan_ttl = plan(&running, settings(&["-multihopttl", "2"]), &[]);
        assert!(plan_ttl.changed && !plan_ttl.reannounce);
    }
}
