use std::path::Path;

use super::*;
use crate::cli::{Command, parse as parse_args};
use crate::config::{ConfigError, FileConfig, parse};
use crate::settings::{self, Settings};

const FILE: &str = "/etc/elastic/elastic.yaml";

/// The issue's example.
const EXAMPLE: &str = "\
services:
  - name: web
vrrp:
  - interface: eth0
    vrid: 51
    priority: 150
    advert_interval: 100ms
    addresses: [\"198.51.100.10/24\"]
    services: [web]
    preempt: true
    unicast_peers: []
    use_vmac: false
";

fn ok(text: &str) -> FileConfig {
    parse(text, Path::new(FILE)).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> ConfigError {
    match parse(text, Path::new(FILE)) {
        Err(e) => e,
        Ok(c) => panic!("{text:?}: expected an error, got {:?}", c.vrrp),
    }
}

fn settings_of(args: &[&str], text: &str) -> Result<Settings, String> {
    let file = ok(text);
    let flags = match parse_args(args.iter().copied()) {
        Ok(Command::Run(invocation) | Command::CheckConfig(invocation)) => invocation.flags,
        other => panic!("{args:?}: {other:?}"),
    };
    settings::resolve(&flags, Some((Path::new(FILE), &file))).map_err(|e| e.to_string())
}

#[test]
fn the_issues_example_reads_as_written() {
    let c = ok(EXAMPLE);
    assert_eq!(
        c.vrrp,
        [VrrpConfig {
            interface: "eth0".into(),
            vrid: 51,
            priority: 150,
            advert_interval: AdvertInterval::from_centiseconds(10).unwrap(),
            addresses: vec!["198.51.100.10/24".parse().unwrap()],
            link_local: None,
            services: Some(vec!["web".into()]),
            preempt: true,
            preempt_delay: Duration::ZERO,
            unicast_peers: vec![],
            use_vmac: false,
        }]
    );
}

#[test]
fn one_mapping_is_a_list_of_one_and_defaults_fill_the_rest() {
    let one = ok("vrrp:\n  interface: eth0\n  vrid: 7\n  addresses: [198.51.100.10]\n");
    let list = ok("vrrp:\n  - interface: eth0\n    vrid: 7\n    addresses: [198.51.100.10]\n");
    assert_eq!(one, list);
    let c = &one.vrrp[0];
    assert_eq!(c.priority, DEFAULT_PRIORITY);
    assert_eq!(c.advert_interval, AdvertInterval::DEFAULT);
    assert_eq!(c.addresses, ["198.51.100.10/32".parse::<IpNet>().unwrap()]);
    assert!(c.preempt && !c.use_vmac);
    assert_eq!(c.services, None);
    assert!(ok("vrrp: []\n").vrrp.is_empty());
    assert!(ok("dcid: 14\n").vrrp.is_empty());
}

#[test]
fn ipv6_instances_take_a_link_local_address_and_peers() {
    let c = ok(
        "vrrp:\n  interface: eth0\n  vrid: 9\n  addresses: [\"2001:db8::10/64\"]\n  \
                link_local: \"fe80::1\"\n  unicast_peers: [\"fe80::2\", \"fe80::2\"]\n  \
                preempt_delay: 30s\n",
    );
    let c = &c.vrrp[0];
    assert!(c.is_ipv6());
    assert_eq!(c.link_local, Some("fe80::1".parse().unwrap()));
    assert_eq!(c.unicast_peers, ["fe80::2".parse::<IpAddr>().unwrap()]);
    assert_eq!(c.preempt_delay, Duration::from_secs(30));
}

#[test]
fn every_rule_is_refused_with_its_reason_at_its_line() {
    let base = "vrrp:\n  - interface: eth0\n    vrid: 51\n    addresses: [198.51.100.10/24]\n";
    let cases: &[(String, usize, &str)] = &[
        (
            format!("{base}    priority: 255\n"),
            5,
            "vrrp[0].priority: invalid value 255: 255 is the priority of the router that owns the addresses",
        ),
        (
            format!("{base}    priority: 0\n"),
            5,
            "vrrp[0].priority: invalid value 0: 0 is what a stopping master sends",
        ),
        (
            format!("{base}    advert_interval: 15ms\n"),
            5,
            "vrrp[0].advert_interval: invalid value \"15ms\": must be a multiple of 10ms",
        ),
        (
            format!("{base}    advert_interval: 5ms\n"),
            5,
            "vrrp[0].advert_interval: invalid value \"5ms\": must be from 10ms to 40.95s",
        ),
        (
            format!("{base}    advert_interval: 41s\n"),
            5,
            "vrrp[0].advert_interval: invalid value \"41s\": must be from 10ms to 40.95s",
        ),
        (
            "vrrp:\n  - interface: eth0\n    vrid: 0\n    addresses: [198.51.100.10]\n".into(),
            3,
            "vrrp[0].vrid: invalid value 0: a vrid is 1 to 255",
        ),
        (
            "vrrp:\n  - interface: eth0\n    vrid: 256\n    addresses: [198.51.100.10]\n".into(),
            3,
            "vrrp[0].vrid: invalid value 256: a vrid is 1 to 255",
        ),
        (
            "vrrp:\n  - interface: eth0\n    vrid: 5\n    addresses: [198.51.100.10, \"2001:db8::1\"]\n"
                .into(),
            2,
            "vrrp[0]: addresses: 198.51.100.10/32 and 2001:db8::1/128 are of different families: one address family per instance",
        ),
        (
            format!("{base}    authentication:\n      auth_type: PASS\n      auth_pass: secret\n"),
            6,
            "vrrp[0].authentication: VRRPv3 (RFC 9568), the only version elastic speaks, has no authentication",
        ),
        (
            format!("dcid: 14\n{base}"),
            1,
            "dcid: dcid is not used with vrrp: (VRRP mode runs no BGP sessions)",
        ),
        (
            format!("{base}role: primary\n"),
            5,
            "role: role is not used with vrrp:",
        ),
        (
            format!("services: [{{name: web}}]\n{base}    services: [web, db]\n"),
            6,
            "vrrp[0].services[1]: invalid value \"db\": no such service; defined: web",
        ),
        (
            format!("{base}  - interface: eth0\n    vrid: 51\n    addresses: [198.51.100.11]\n"),
            6,
            "vrrp[1].vrid: invalid value 51: another IPv4 instance on eth0 has this vrid",
        ),
        (
            format!("{base}  - interface: eth1\n    vrid: 52\n    addresses: [198.51.100.10/32]\n"),
            7,
            "vrrp[1].addresses: 198.51.100.10 is in another instance too",
        ),
        (
            format!("{base}    link_local: \"fe80::1\"\n"),
            2,
            "vrrp[0]: link_local applies to IPv6 instances only",
        ),
        (
            "vrrp:\n  interface: eth0\n  vrid: 5\n  addresses: [\"2001:db8::1\"]\n  link_local: \"2001:db8::2\"\n"
                .into(),
            5,
            "vrrp.link_local: invalid value \"2001:db8::2\": expected an IPv6 link-local address",
        ),
        (
            "vrrp:\n  interface: eth0\n  vrid: 5\n  addresses: [\"fe80::10\"]\n".into(),
            4,
            "vrrp.addresses[0]: invalid value \"fe80::10\": a link-local address (set link_local:",
        ),
        (
            format!("{base}    unicast_peers: [\"2001:db8::2\"]\n"),
            2,
            "vrrp[0]: unicast_peers: 2001:db8::2 is not IPv4 like the addresses",
        ),
        (
            format!("{base}    preempt: false\n    preempt_delay: 10s\n"),
            2,
            "vrrp[0]: preempt_delay has no effect with preempt: false",
        ),
        (
            "vrrp:\n  interface: a-very-long-interface\n  vrid: 5\n  addresses: [198.51.100.1]\n"
                .into(),
            2,
            "vrrp.interface: invalid value \"a-very-long-interface\": expected an interface name",
        ),
        (
            "vrrp:\n  interface: eth0\n  vrid: 5\n  addresses: []\n".into(),
            2,
            "vrrp: addresses: an instance needs at least one address",
        ),
        (
            format!("{base}    state: MASTER\n"),
            5,
            "vrrp[0]: unknown field `state`",
        ),
    ];
    for (text, line, expected) in cases {
        let e = err(text);
        let shown = e.to_string();
        assert!(
            e.message.starts_with(expected),
            "{text:?}\n  got:      {}\n  expected: {expected}",
            e.message
        );
        assert_eq!(e.line, Some(*line), "{text:?} → {shown}");
        assert!(!shown.contains('\n'), "one line: {shown:?}");
    }
}

#[test]
fn vrrp_mode_needs_no_dcid_or_role_and_runs_no_bgp_session() {
    let s = settings_of(&[], EXAMPLE).unwrap();
    assert!(s.bgp().is_none(), "no BGP settings at all");
    assert_eq!(s.vrrp().len(), 1);
}

#[test]
fn every_bgp_only_key_is_refused_beside_vrrp_at_its_line() {
    let base = "vrrp:\n  - interface: eth0\n    vrid: 51\n    addresses: [198.51.100.10/24]\n";
    for (line, key) in [
        ("dcid: 14", "dcid"),
        ("role: secondary", "role"),
        ("send56: false", "send56"),
        ("allifs: true", "allifs"),
        ("multihop_ttl: 16", "multihop_ttl"),
        ("hold_time: 9s", "hold_time"),
        ("keepalive: 3s", "keepalive"),
        (
            "neighbor_pattern: \"2001:db8:%d:34::%d\"",
            "neighbor_pattern",
        ),
        ("neighbor_slots: [1, 2]", "neighbor_slots"),
        ("addresses: [203.0.113.10/32]", "addresses"),
        ("med: 50", "med"),
        ("router_id: 192.0.2.1", "router_id"),
        ("drain_time: 5s", "drain_time"),
        ("md5_password_file: /etc/elastic/md5", "md5_password_file"),
        ("bfd: {}", "bfd"),
    ] {
        let e = err(&format!("{base}{line}\n"));
        let expected =
            format!("{key}: {key} is not used with vrrp: (VRRP mode runs no BGP sessions");
        assert!(e.message.starts_with(&expected), "{line}: {}", e.message);
        assert!(e.message.ends_with("; remove it"), "{line}: {}", e.message);
        assert_eq!(e.line, Some(5), "{line}: {e}");
    }
    // Without vrrp: every one of them is accepted.
    assert!(
        ok("dcid: 14\nrole: primary\nsend56: true\nmed: 5\nbfd: {}\n")
            .vrrp
            .is_empty()
    );
}

#[test]
fn a_services_bgp_only_keys_are_refused_beside_vrrp() {
    let base = "vrrp:\n  - interface: eth0\n    vrid: 51\n    addresses: [198.51.100.10/24]\n";
    for (service, key, why) in [
        (
            "role: secondary",
            "role",
            "a service's role is the BGP community",
        ),
        (
            "addresses: [198.51.100.10]",
            "addresses",
            "an instance names its services",
        ),
        (
            "preempt: false",
            "preempt",
            "use the instance's preempt: false",
        ),
        (
            "maintenance: demote",
            "maintenance",
            "maintenance always hands over",
        ),
    ] {
        let text = format!("services:\n  - name: web\n    {service}\n{base}");
        let e = err(&text);
        let expected = format!("services[0].{key}: {key} is not used with vrrp: ({why}");
        assert!(e.message.starts_with(&expected), "{service}: {}", e.message);
        assert_eq!(e.line, Some(3), "{service}: {e}");
    }
    // What VRRP mode reads stays: announce_delay (a recovered service waits it out), on_down,
    // the default preempt and maintenance.
    let kept = format!(
        "services:\n  - name: web\n    announce_delay: 5s\n    preempt: true\n    \
         maintenance: withdraw\n    on_down: {{demote: {{priority: 20}}}}\n{base}"
    );
    assert_eq!(ok(&kept).services[0].announce_delay, Duration::from_secs(5));
}

#[test]
fn the_shipped_vrrp_examples_load() {
    for name in ["elastic-vrrp-primary.yaml", "elastic-vrrp-backup.yaml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = settings_of(&[], &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.vrrp().len(), 2, "{name}");
        let rendered = settings::render(&s);
        assert_eq!(ok(&rendered).vrrp, s.vrrp(), "{name}: {rendered}");
    }
}

#[test]
fn bgp_flags_are_refused_beside_vrrp() {
    for (args, flag) in [
        (&["-dcid", "14"][..], "-dcid"),
        (&["-primary"][..], "-primary"),
        (&["-secondary"][..], "-secondary"),
        (&["-primary=false"][..], "-primary"),
        (&["-send56"][..], "-send56"),
        (&["-allifs"][..], "-allifs"),
        (&["-multihopttl", "2"][..], "-multihopttl"),
        (&["-holdtime", "30s"][..], "-holdtime"),
        (&["-keepalive", "10s"][..], "-keepalive"),
        (
            &["-neighborpattern", "2001:db8:%d:34::%d"][..],
            "-neighborpattern",
        ),
        (&["-address", "203.0.113.10/32"][..], "-address"),
        (&["-med", "50"][..], "-med"),
        (&["-routerid", "192.0.2.1"][..], "-routerid"),
    ] {
        let e = settings_of(args, EXAMPLE).unwrap_err();
        assert!(
            e.starts_with(&format!("{flag} is not used with vrrp: in {FILE}")),
            "{args:?}: {e}"
        );
    }
}

#[test]
fn check_config_renders_vrrp_without_bgp_identity_and_it_reads_back() {
    let text = format!(
        "{EXAMPLE}  - interface: eth1\n    vrid: 52\n    priority: 254\n    advert_interval: 40950ms\n    \
         addresses: [\"2001:db8::10/64\"]\n    link_local: \"fe80::1\"\n    preempt: false\n    \
         unicast_peers: [\"fe80::2\"]\n    use_vmac: true\n"
    );
    let s = settings_of(&[], &text).unwrap();
    let rendered = settings::render(&s);
    assert!(!rendered.contains("dcid:"), "{rendered}");
    assert!(!rendered.contains("role:"), "{rendered}");
    for bgp_key in ["hold_time:", "neighbor_pattern:", "drain_time:", "send56:"] {
        assert!(
            !rendered.contains(bgp_key),
            "{bgp_key} in VRRP mode: {rendered}"
        );
    }
    assert!(rendered.contains("advert_interval: 100ms"), "{rendered}");
    assert!(!rendered.contains("authentication"), "{rendered}");
    let again = ok(&rendered);
    assert_eq!(again.vrrp, s.vrrp(), "{rendered}");
    assert_eq!(again.vrrp[1].advert_interval.centiseconds(), 4095);
    // BGP mode renders no vrrp key at all.
    let bgp = settings_of(&["-dcid", "14", "-primary"], "").unwrap();
    assert!(!settings::render(&bgp).contains("vrrp"));
}

#[test]
fn an_instance_config_is_made_from_the_key_and_the_primary_address() {
    let c = &ok(EXAMPLE).vrrp[0];
    let primary: IpAddr = "198.51.100.2".parse().unwrap();
    let instance = c.instance_config(primary);
    assert_eq!(instance.vrid, 51);
    assert_eq!(instance.priority, 150);
    assert_eq!(
        instance.advert_interval,
        AdvertInterval::from_centiseconds(10).unwrap()
    );
    assert_eq!(
        instance.addresses,
        Addresses::V4(vec!["198.51.100.10".parse().unwrap()])
    );
    assert_eq!(instance.primary_address, primary);
    assert_eq!(
        (instance.announce_repeat, instance.announce_again_after),
        (ANNOUNCE_REPEAT, Some(ANNOUNCE_AGAIN_AFTER))
    );
    // What the file allows, the state machine takes.
    assert!(crate::vrrp::instance::Instance::new(instance).is_ok());
    let v6 = ok(
        "vrrp:\n  interface: eth0\n  vrid: 9\n  priority: 254\n  addresses: [\"2001:db8::10/64\"]\n",
    );
    let instance = v6.vrrp[0].instance_config("fe80::1".parse().unwrap());
    assert_eq!(
        instance.addresses,
        Addresses::V6(vec!["2001:db8::10".parse().unwrap()])
    );
    assert!(crate::vrrp::instance::Instance::new(instance).is_ok());
}

#[test]
fn a_service_demotes_an_instance_by_a_priority_in_vrrp_mode_only() {
    let vrrp = "vrrp:\n  - interface: eth0\n    vrid: 51\n    addresses: [198.51.100.10/24]\n";
    let text =
        format!("services:\n  - name: web\n    on_down: {{demote: {{priority: 30}}}}\n{vrrp}");
    let c = ok(&text);
    assert_eq!(c.services[0].demote_priority, Some(30));
    assert!(matches!(
        c.services[0].on_down,
        crate::config::Outcome::Demote(_)
    ));
    // check-config writes it back, and that reads the same.
    let s = settings_of(&[], &text).unwrap();
    let rendered = settings::render(&s);
    assert!(rendered.contains("priority: 30"), "{rendered}");
    assert_eq!(ok(&rendered).services[0].demote_priority, Some(30));

    for (text, message) in [
        (
            format!("services:\n  - name: web\n    on_down: demote\n{vrrp}"),
            "services[0].on_down: in VRRP mode a demotion lowers the priority",
        ),
        (
            "services:\n  - name: web\n    on_down: {demote: {priority: 30}}\n".to_string(),
            "services[0].on_down: demote.priority applies to VRRP mode (vrrp:) only",
        ),
        (
            format!("services:\n  - name: web\n    on_down: {{demote: {{priority: 0}}}}\n{vrrp}"),
            "demote.priority: 0 lowers nothing",
        ),
    ] {
        let e = err(&text).to_string();
        assert!(e.contains(message), "{text}: {e}");
    }
}
