//! The YAML `elastic check-config` prints: [`FileConfig`] written by serde, the keys whose model
//! differs from their YAML shape through the same `schema.rs` structs they are read with. Each
//! such value goes through its type's `FromStr` on the way, so what is printed reads back.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_yaml::Value;

use super::schema::{
    Checked, RawDemote, RawHooks, RawHttp, RawOutcome, RawProbe, RawProcess, RawService,
};
use super::values::{Community, Name};
use super::{
    Check, FileConfig, HookConfig, Outcome, ProbeConfig, ProcessTarget, ServiceConfig, Trust,
};

/// `config` as YAML that `config::parse` accepts, keys without a value left out.
pub fn render(config: &FileConfig) -> String {
    let text = serde_yaml::to_value(config).and_then(|mut value| {
        drop_nulls(&mut value);
        serde_yaml::to_string(&value)
    });
    text.unwrap_or_else(|error| format!("# cannot render: {error}\n"))
}

/// A value of the model as the schema's value type, checked by that type's own parser.
pub(crate) fn valid<T: FromStr<Err = String>>(value: impl Display) -> Result<T, String> {
    let text = value.to_string();
    text.parse().map_err(|why| format!("{text:?}: {why}"))
}

pub(crate) fn duration<T: FromStr<Err = String>>(value: Duration) -> Result<T, String> {
    valid(humantime::format_duration(value))
}

fn some<T>(value: Result<T, String>) -> Result<Option<T>, String> {
    value.map(Some)
}

/// `probes:`, a mapping by name.
pub(super) fn probes<S: Serializer>(probes: &[ProbeConfig], s: S) -> Result<S::Ok, S::Error> {
    let raw = probes
        .iter()
        .map(|p| Ok((valid::<Name>(&p.name)?, Checked(raw_probe(p)?))))
        .collect::<Result<BTreeMap<_, _>, String>>()
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

/// `services:`, every key spelled out.
pub(super) fn services<S: Serializer>(services: &[ServiceConfig], s: S) -> Result<S::Ok, S::Error> {
    let raw = services
        .iter()
        .map(raw_service)
        .collect::<Result<Vec<_>, String>>()
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

pub(super) fn hooks<S: Serializer>(hook: &Option<HookConfig>, s: S) -> Result<S::Ok, S::Error> {
    let raw = hook
        .as_ref()
        .map(|hook| {
            Ok::<_, String>(RawHooks {
                on_change: hook.argv.clone().try_into()?,
                timeout: some(duration(hook.timeout))?,
                user: hook.user.as_ref().map(|user| user.name.clone()),
            })
        })
        .transpose()
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

fn raw_probe(p: &ProbeConfig) -> Result<RawProbe, String> {
    let mut raw = RawProbe {
        interval: some(duration(p.interval))?,
        fast_interval: some(duration(p.fast_interval))?,
        timeout: some(duration(p.timeout))?,
        rise: some(valid(p.rise))?,
        fall: some(valid(p.fall))?,
        fast_fail: p.fast_fail.then_some(true),
        ..RawProbe::default()
    };
    match &p.check {
        Check::Exec { argv, user } => {
            raw.exec = Some(argv.clone().try_into()?);
            raw.user = user.as_ref().map(|user| user.name.clone());
        }
        Check::Tcp { address } => raw.tcp = some(valid(address))?,
        Check::Http {
            url,
            status,
            body,
            tls,
        } => {
            let mut http = RawHttp {
                url: url.clone(),
                status: some(valid(status))?,
                body: body.clone(),
                ca_file: None,
                tls_verify: None,
                server_name: None,
            };
            if let Some(tls) = tls {
                if let Trust::CaFile { path, .. } = &tls.trust {
                    http.ca_file = some(valid(path.display()))?;
                }
                http.tls_verify = Some(!matches!(tls.trust, Trust::Unverified));
                http.server_name = some(valid(&tls.server_name))?;
            }
            raw.http = Some(Checked(http));
        }
        Check::Process(target) => {
            let (pidfile, name, owner) = match target {
                ProcessTarget::Pidfile(path) => (some(valid(path.display()))?, None, None),
                ProcessTarget::Name { name, owner } => (None, some(valid(name))?, owner.clone()),
            };
            raw.process = Some(Checked(RawProcess {
                pidfile,
                name,
                owner,
            }));
        }
        Check::Listen(target) => raw.listen = Some(*target),
    }
    Ok(raw)
}

fn raw_service(s: &ServiceConfig) -> Result<RawService, String> {
    let outcome = |outcome: &Outcome| match outcome {
        Outcome::Withdraw => RawOutcome::Withdraw,
        Outcome::Demote(attrs) => RawOutcome::Demote(RawDemote {
            communities: Some(attrs.communities.iter().map(|&c| Community(c)).collect()),
            med: attrs.med,
            priority: None,
        }),
    };
    Ok(RawService {
        name: valid(&s.name)?,
        addresses: s
            .addresses
            .as_ref()
            .map(|list| list.iter().map(valid).collect::<Result<_, _>>())
            .transpose()?,
        probes: s.probes.clone(),
        on_down: Some(match (outcome(&s.on_down), s.demote_priority) {
            // VRRP mode: the route attributes mean nothing; written only when not the defaults.
            (RawOutcome::Demote(demote), priority @ Some(_)) => {
                let defaults = super::default_demote();
                let communities = demote.communities.filter(|list| {
                    list.iter().map(|c| c.0).collect::<Vec<_>>() != defaults.communities
                });
                let med = demote.med.filter(|med| Some(*med) != defaults.med);
                RawOutcome::Demote(RawDemote {
                    communities,
                    med,
                    priority,
                })
            }
            (other, _) => other,
        }),
        maintenance: Some(outcome(&s.maintenance)),
        announce_delay: some(duration(s.announce_delay))?,
        preempt: Some(s.preempt),
        role: s.role,
    })
}

/// Removes every mapping entry whose value is null (an unset key).
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Sequence(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
