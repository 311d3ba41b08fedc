//! The YAML `elastic check-config` prints: the typed model written back through the schema's
//! own serde shapes ([`RawFile`]), so every key is spelled where it is read. Each value goes
//! through its type's `FromStr` on the way, so what is printed is known to read back.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use serde_yaml::Value;

use super::schema::{
    Checked, RawDemote, RawFile, RawHooks, RawHttp, RawOutcome, RawProbe, RawService,
};
use super::values::{Community, Name};
use super::{Check, FileConfig, Outcome, ProbeConfig, ServiceConfig, Trust};

/// `config` as YAML that `config::parse` accepts, keys without a value left out.
pub fn render(config: &FileConfig) -> String {
    let text = raw_file(config).and_then(|raw| {
        let mut value = serde_yaml::to_value(&raw).map_err(|e| e.to_string())?;
        drop_nulls(&mut value);
        serde_yaml::to_string(&value).map_err(|e| e.to_string())
    });
    text.unwrap_or_else(|error| format!("# cannot render: {error}\n"))
}

/// A value of the model as the schema's value type, checked by that type's own parser.
fn valid<T: FromStr<Err = String>>(value: impl Display) -> Result<T, String> {
    let text = value.to_string();
    text.parse().map_err(|why| format!("{text:?}: {why}"))
}

fn duration<T: FromStr<Err = String>>(value: Duration) -> Result<T, String> {
    valid(humantime::format_duration(value))
}

fn some<T>(value: Result<T, String>) -> Result<Option<T>, String> {
    value.map(Some)
}

fn each<T: FromStr<Err = String>, V: Display>(
    items: impl IntoIterator<Item = V>,
) -> Result<Vec<T>, String> {
    items.into_iter().map(valid).collect()
}

fn raw_file(c: &FileConfig) -> Result<RawFile, String> {
    let h = &c.health;
    Ok(RawFile {
        dcid: c.dcid.map(valid).transpose()?,
        role: c.role,
        send56: c.send56,
        allifs: c.allifs,
        multihop_ttl: c.multihop_ttl.map(valid).transpose()?,
        neighbor_pattern: c.neighbor_pattern.clone(),
        neighbor_slots: c
            .neighbor_slots
            .as_ref()
            .map(|slots| {
                slots
                    .iter()
                    .map(|&s| i64::from(s))
                    .collect::<Vec<_>>()
                    .try_into()
            })
            .transpose()?,
        log_level: c.log_level,
        log_json: c.log_json,
        addresses: c.addresses.as_ref().map(each).transpose()?,
        med: c.med,
        router_id: c.router_id.map(valid).transpose()?,
        api: c
            .api
            .map(|api| valid(api.map_or("off".to_string(), |a| a.to_string())))
            .transpose()?,
        api_allow_remote: c.api_allow_remote,
        metrics: c.metrics.map(valid).transpose()?,
        drain_time: c.drain_time.map(duration).transpose()?,
        control_socket: c
            .control_socket
            .as_ref()
            .map(|p| valid(p.display()))
            .transpose()?,
        control_socket_group: c.control_socket_group.as_ref().map(valid).transpose()?,
        md5_password_file: c.md5_password_file.as_ref().map(valid).transpose()?,
        probes: h
            .probes
            .iter()
            .map(|p| Ok((valid::<Name>(&p.name)?, Checked(raw_probe(p)?))))
            .collect::<Result<_, String>>()?,
        services: some(h.services.iter().map(raw_service).collect())?,
        maintenance_file: h.maintenance_file.clone(),
        maintenance_poll: some(duration(h.maintenance_poll))?,
        hooks: h
            .hook
            .as_ref()
            .map(|hook| {
                Ok::<_, String>(RawHooks {
                    on_change: hook.argv.clone().try_into()?,
                    timeout: some(duration(hook.timeout))?,
                    user: hook.user.clone(),
                })
            })
            .transpose()?,
    })
}

fn raw_probe(p: &ProbeConfig) -> Result<RawProbe, String> {
    let mut raw = RawProbe {
        interval: some(duration(p.interval))?,
        fast_interval: some(duration(p.fast_interval))?,
        timeout: some(duration(p.timeout))?,
        rise: some(valid(p.rise))?,
        fall: some(valid(p.fall))?,
        ..RawProbe::default()
    };
    match &p.check {
        Check::Exec { argv, user } => {
            raw.exec = Some(argv.clone().try_into()?);
            raw.user = user.clone();
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
    }
    Ok(raw)
}

fn raw_service(s: &ServiceConfig) -> Result<RawService, String> {
    let outcome = |outcome: &Outcome| -> Result<RawOutcome, String> {
        Ok(match outcome {
            Outcome::Withdraw => RawOutcome::Withdraw,
            Outcome::Demote(attrs) => RawOutcome::Demote(RawDemote {
                communities: Some(attrs.communities.iter().map(|&c| Community(c)).collect()),
                med: attrs.med,
            }),
        })
    };
    Ok(RawService {
        name: valid(&s.name)?,
        addresses: s.addresses.as_ref().map(each).transpose()?,
        probes: s.probes.clone(),
        on_down: Some(outcome(&s.on_down)?),
        maintenance: Some(outcome(&s.maintenance)?),
        announce_delay: some(duration(s.announce_delay))?,
        preempt: Some(s.preempt),
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
