//! The BGP announcers the benchmark starts on the lab's two hosts, each configured to withdraw
//! (or not) when the local service stops answering on 127.0.0.1:7778:
//!
//! - `elastic -config FILE -dcid 14 -primary|-secondary -neighborpattern …` with a `tcp`,
//!   `process`, `listen` or `exec` probe;
//! - ExaBGP (Debian's `exabgp`) with its `healthcheck` as an API process, `--withdraw-on-down`;
//! - gobgpd configured as lelastic configures its embedded GoBGP: no health check at all.

use std::path::PathBuf;
use std::time::Duration;

use crate::service::HEALTH_PORT;
use elastic_lab::contender::{gobgpd_config, vip6_prefix};
use elastic_lab::program::Interrupt;
use elastic_lab::{DCID, Lab, NEIGHBOR_PATTERN, ProcId, VIP4, daemon_binary, rs_address};

/// Which community a host announces with, as `-primary` / `-secondary` choose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Primary,
    Secondary,
}

impl Role {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Role::Primary => "-primary",
            Role::Secondary => "-secondary",
        }
    }
    pub(crate) fn community(self) -> &'static str {
        match self {
            Role::Primary => "65000:1",
            Role::Secondary => "65000:2",
        }
    }
    /// The lab host (1-based) that plays this role.
    pub(crate) fn host(self) -> usize {
        match self {
            Role::Primary => 1,
            Role::Secondary => 2,
        }
    }
}

/// elastic's probe settings in the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElasticProbes {
    /// Only the target: interval 1 s, fast_interval 250 ms, timeout 1 s, rise 2, fall 2.
    Defaults,
    /// interval 100 ms, fall 2 (rise 2; fast_interval and timeout keep their defaults).
    Fast,
    /// `process: {pidfile}` on the service's pidfile; interval 2 s (2 s while changing), fall 3:
    /// the pidfd, not the interval, decides how fast the route goes.
    Process,
    /// `listen: 127.0.0.1:7778` (the service's TCP listener), timed as `Process`.
    Listen,
    /// `exec` of the same bash script ExaBGP and keepalived run; interval 1 s, fall 2.
    Exec,
    /// The same script every 100 ms, fall 2.
    ExecFast,
    /// `exec: /bin/true` every 100 ms: elastic's own cost per exec check (idle only).
    True,
}

/// The pidfile the benchmark writes for host `label`'s service.
pub(crate) fn pidfile(lab: &Lab, label: &str) -> PathBuf {
    lab.dir.join(format!("service-{label}.pid"))
}

/// elastic's YAML: one probe on the local service; every address on `lo` is gated by it (no
/// `services` key: the default service).
pub(crate) fn elastic_config(lab: &Lab, label: &str, probes: ElasticProbes) -> String {
    let check = lab.dir.join("check-service.sh");
    let event_timing = "    interval: 2s\n    fast_interval: 2s\n    fall: 3\n";
    let (target, tuning) = match probes {
        ElasticProbes::Defaults => (format!("tcp: \"127.0.0.1:{HEALTH_PORT}\""), ""),
        ElasticProbes::Fast => (
            format!("tcp: \"127.0.0.1:{HEALTH_PORT}\""),
            "    interval: 100ms\n    fall: 2\n",
        ),
        ElasticProbes::Process => (
            format!(
                "process: {{pidfile: \"{}\"}}",
                pidfile(lab, label).display()
            ),
            event_timing,
        ),
        ElasticProbes::Listen => (format!("listen: \"127.0.0.1:{HEALTH_PORT}\""), event_timing),
        ElasticProbes::Exec => (
            format!("exec: [\"{}\"]", check.display()),
            "    interval: 1s\n    fall: 2\n",
        ),
        ElasticProbes::ExecFast => (
            format!("exec: [\"{}\"]", check.display()),
            "    interval: 100ms\n    fall: 2\n",
        ),
        ElasticProbes::True => (
            "exec: [/bin/true]".to_string(),
            "    interval: 100ms\n    fast_interval: 100ms\n",
        ),
    };
    format!(
        "# Written by the failover benchmark: one probe gates every address on lo.\n\
         probes:\n  service:\n    {target}\n{tuning}"
    )
}

pub(crate) fn start_elastic(
    lab: &mut Lab,
    role: Role,
    probes: ElasticProbes,
) -> Result<ProcId, String> {
    let host = lab.host(role.host());
    let label = host.label.clone();
    let conf = lab.dir.join(format!("elastic-{label}-{probes:?}.yaml"));
    std::fs::write(&conf, elastic_config(lab, &label, probes))
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    let host = lab.host(role.host());
    let mut cmd = host.ns.command(&daemon_binary());
    cmd.arg("-config").arg(&conf);
    cmd.args([
        "-dcid",
        &DCID.to_string(),
        role.flag(),
        "-neighborpattern",
        NEIGHBOR_PATTERN,
    ]);
    lab.spawn(&format!("elastic-{label}-{probes:?}"), cmd)
}

/// The health check ExaBGP's healthcheck and keepalived's track_script run: a TCP connect to the
/// local service with bash's /dev/tcp (no extra package), exit status 0 when it is accepted.
pub(crate) fn write_check_script(lab: &Lab) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = lab.dir.join("check-service.sh");
    let text = format!(
        "#!/bin/bash\n# Passes while the service accepts TCP connections.\n\
         exec 3<>/dev/tcp/127.0.0.1/{HEALTH_PORT}\n"
    );
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// ExaBGP's configuration for one host: the healthcheck as an API
/// process (interval 1, fall 2, rise 2, withdraw on down, the VIP already on lo) and the four route
/// servers as neighbors, with the IPv6 next hop for the IPv4 route (RFC 8950).
pub(crate) fn exabgp_config(lab: &Lab, role: Role, check: &std::path::Path) -> String {
    let host = lab.host(role.host());
    let session = host.session_address();
    let mut conf = format!(
        "process healthcheck {{\n    \
         run /usr/bin/python3 -m exabgp healthcheck --interval 1 --fast-interval 1 --rise 2 \
         --fall 2 --timeout 1 --withdraw-on-down --ip {VIP4}/32 --no-ip-setup --next-hop {session} \
         --community {} --no-syslog --cmd {};\n    encoder text;\n}}\n",
        role.community(),
        check.display(),
    );
    // ExaBGP 4.2 puts (ipv4, unicast, ipv6) into the Extended Next Hop capability only when ipv6
    // unicast is a negotiated family too; without it the capability goes out empty and FRR refuses
    // the OPEN ("Extended Next Hop Encoding Capability length error").
    for slot in 1..=4 {
        conf.push_str(&format!(
            "\nneighbor {} {{\n    router-id 192.0.2.{};\n    local-address {session};\n    \
             local-as 65001;\n    peer-as 65000;\n    \
             capability {{ nexthop enable; }}\n    nexthop {{ ipv4 unicast ipv6; }}\n    \
             family {{ ipv4 unicast; ipv6 unicast; }}\n    api {{ processes [ healthcheck ]; }}\n}}\n",
            rs_address(slot),
            10 + role.host(),
        ));
    }
    conf
}

pub(crate) fn start_exabgp(
    lab: &mut Lab,
    role: Role,
    check: &std::path::Path,
) -> Result<ProcId, String> {
    let label = lab.host(role.host()).label.clone();
    let conf = lab.dir.join(format!("exabgp-{label}.conf"));
    std::fs::write(&conf, exabgp_config(lab, role, check))
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    let mut cmd = lab.host(role.host()).ns.command("/usr/sbin/exabgp");
    cmd.arg(&conf);
    cmd.envs([
        ("exabgp_daemon_daemonize", "false"),
        ("exabgp_daemon_user", "root"),
        ("exabgp_cli_enable", "false"),
        ("exabgp_api_cli", "false"),
        ("exabgp_log_destination", "stdout"),
    ]);
    lab.spawn(&format!("exabgp-{label}"), cmd)
}

/// gobgpd as lelastic configures it (the benchmark's `gobgpd_config`), with the host's paths
/// added once the API answers: 203.0.113.10/32 and 2001:db8:100::/64, origin incomplete, the
/// role's community. Nothing ever withdraws them: lelastic has no health check.
pub(crate) fn start_gobgpd(
    lab: &mut Lab,
    interrupt: &Interrupt,
    role: Role,
) -> Result<ProcId, String> {
    let label = lab.host(role.host()).label.clone();
    let conf = lab.dir.join(format!("gobgpd-{label}.toml"));
    std::fs::write(&conf, gobgpd_config()).map_err(|e| format!("{}: {e}", conf.display()))?;
    let mut cmd = lab.host(role.host()).ns.command("gobgpd");
    cmd.arg("-f").arg(&conf);
    cmd.args([
        "-t",
        "toml",
        "--api-hosts",
        "127.0.0.1:50051",
        "--pprof-disable",
    ]);
    let id = lab.spawn(&format!("gobgpd-{label}"), cmd)?;
    let ns = &lab.host(role.host()).ns;
    for (afi, prefix) in [("ipv4", format!("{VIP4}/32")), ("ipv6", vip6_prefix())] {
        let args = [
            "global",
            "rib",
            "-a",
            afi,
            "add",
            &prefix,
            "origin",
            "incomplete",
            "community",
            role.community(),
        ];
        interrupt.wait_for(
            "gobgpd's API to take a path",
            Duration::from_secs(15),
            Duration::from_millis(20),
            || ns.exec("gobgp", &args).ok(),
        )?;
    }
    Ok(id)
}
