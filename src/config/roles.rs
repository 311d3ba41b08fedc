//! Per-service roles (active/active): a service's `role` overrides the host's for the prefixes it
//! gates, so two services that give one prefix different roles are refused at load ([`check`]).
//!
//! Pure: the services and `send56` in, the first conflict out.

use ipnet::{IpNet, Ipv6Net};

use super::ServiceConfig;

/// The prefix an address spec can end up announced as, as wide as the address rules make it:
/// IPv4 stays as written (only /32s are announced), IPv6 narrower than /64 (/56 with `send56`)
/// is widened to that. A spec already wider stays as written.
fn announced_span(spec: &IpNet, send56: bool) -> IpNet {
    match spec {
        IpNet::V4(net) => IpNet::V4(net.trunc()),
        IpNet::V6(net) => {
            let widest = if send56 { 56 } else { 64 };
            let len = net.prefix_len().min(widest);
            IpNet::V6(Ipv6Net::new(net.addr(), len).map_or(*net, |n| n.trunc()))
        }
    }
}

/// The narrower of two overlapping spans (the prefix both would gate), or `None` when they do
/// not overlap.
fn overlap(a: &IpNet, b: &IpNet) -> Option<IpNet> {
    let (wide, narrow) = if a.prefix_len() <= b.prefix_len() {
        (a, b)
    } else {
        (b, a)
    };
    wide.contains(&narrow.network()).then_some(*narrow)
}

/// Where two services both gate a prefix: that prefix, or `None` for "every prefix" (both
/// without `addresses`).
fn shared_prefix(a: &ServiceConfig, b: &ServiceConfig, send56: bool) -> Option<Option<IpNet>> {
    let spans = |s: &ServiceConfig| {
        s.addresses.as_ref().map(|list| {
            list.iter()
                .map(|spec| announced_span(spec, send56))
                .collect::<Vec<_>>()
        })
    };
    match (spans(a), spans(b)) {
        (None, None) => Some(None),
        (None, Some(list)) | (Some(list), None) => list.first().map(|p| Some(*p)),
        (Some(left), Some(right)) => left
            .iter()
            .find_map(|l| right.iter().find_map(|r| overlap(l, r)))
            .map(Some),
    }
}

/// Two services that would give one prefix different roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleConflict {
    /// The index of the later of the two services (where the file's error points).
    pub service: usize,
    /// Names both services, their roles and the prefix.
    pub message: String,
}

/// Refuses two services with different `role`s that gate one prefix: a service without
/// `addresses` gates every prefix, and IPv6 addresses count as the /64 (/56 with `send56`) they
/// are announced in. A service without `role` takes the role of the services it shares a prefix
/// with (the host's when none has one), so it never conflicts.
pub fn check(services: &[ServiceConfig], send56: bool) -> Result<(), RoleConflict> {
    for (i, a) in services.iter().enumerate() {
        for (j, b) in services.iter().enumerate().skip(i + 1) {
            let (Some(role_a), Some(role_b)) = (a.role, b.role) else {
                continue;
            };
            if role_a == role_b {
                continue;
            }
            let Some(prefix) = shared_prefix(a, b, send56) else {
                continue;
            };
            let prefix = prefix.map_or("every address".to_string(), |p| p.to_string());
            return Err(RoleConflict {
                service: j,
                message: format!(
                    "services {} (role: {role_a}) and {} (role: {role_b}) both gate {prefix}: a \
                     prefix is announced with one role; give both services the same role or \
                     addresses in different prefixes",
                    a.name, b.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn service(name: &str, addresses: Option<&[&str]>, role: Option<Role>) -> ServiceConfig {
        ServiceConfig {
            name: name.to_string(),
            addresses: addresses.map(|list| list.iter().map(|a| a.parse().unwrap()).collect()),
            role,
            ..ServiceConfig::default_service()
        }
    }

    const P: Option<Role> = Some(Role::Primary);
    const S: Option<Role> = Some(Role::Secondary);

    #[test]
    fn active_active_pairs_pass_and_shared_prefixes_with_two_roles_fail() {
        let a = service("site-a", Some(&["203.0.113.10/32"]), P);
        let b = service("site-b", Some(&["203.0.113.11/32"]), S);
        assert_eq!(check(&[a.clone(), b.clone()], false), Ok(()));
        // Same prefix, same role: fine; a service without a role never conflicts.
        let a2 = service("site-a2", Some(&["203.0.113.10/32"]), P);
        let free = service("all", None, None);
        assert_eq!(check(&[a.clone(), a2, b.clone(), free], false), Ok(()));

        let clash = service("clash", Some(&["203.0.113.0/24"]), S);
        let error = check(&[a.clone(), clash], false).unwrap_err().message;
        assert!(
            error.starts_with(
                "services site-a (role: primary) and clash (role: secondary) both gate \
                 203.0.113.10/32:"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_service_without_addresses_gates_every_prefix() {
        let a = service("site-a", Some(&["203.0.113.10/32"]), P);
        let all_secondary = service("all", None, S);
        let error = check(&[a, all_secondary.clone()], false)
            .unwrap_err()
            .message;
        assert!(
            error.contains(
                "site-a (role: primary) and all (role: secondary) both gate 203.0.113.10/32"
            ),
            "{error}"
        );
        let all_primary = service("everything", None, P);
        let error = check(&[all_primary, all_secondary], false)
            .unwrap_err()
            .message;
        assert!(error.contains("both gate every address"), "{error}");
    }

    #[test]
    fn ipv6_addresses_count_as_the_prefix_they_are_announced_in() {
        let a = service("v6-a", Some(&["2001:db8:100::1/128"]), P);
        let same_64 = service("v6-b", Some(&["2001:db8:100::2/128"]), S);
        let error = check(&[a.clone(), same_64], false).unwrap_err().message;
        assert!(error.contains("both gate 2001:db8:100::/64"), "{error}");

        // Another /64 of the same /56: distinct prefixes, unless send56 widens both to the /56.
        let same_56 = service("v6-c", Some(&["2001:db8:100:1::1/128"]), S);
        assert_eq!(check(&[a.clone(), same_56.clone()], false), Ok(()));
        let error = check(&[a.clone(), same_56], true).unwrap_err().message;
        assert!(
            error.contains(
                "v6-a (role: primary) and v6-c (role: secondary) both gate 2001:db8:100::/56"
            ),
            "{error}"
        );

        // A wider spec stays as written and holds the narrower one.
        let wide = service("v6-wide", Some(&["2001:db8:100::/48"]), S);
        let error = check(&[a.clone(), wide], false).unwrap_err().message;
        assert!(error.contains("both gate 2001:db8:100::/64"), "{error}");
        // Other families never overlap.
        let v4 = service("v4", Some(&["0.0.0.0/0"]), S);
        assert_eq!(check(&[a, v4], true), Ok(()));
    }
}
