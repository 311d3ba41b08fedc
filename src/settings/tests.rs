//! Flags merged over the file, and the file `check-config` renders from the result.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use super::*;
use crate::cli::{Command, parse};

fn invocation_of(args: &[&str]) -> Invocation {
    match parse(args.iter().copied()) {
        Ok(Command::Run(invocation) | Command::CheckConfig(invocation)) => invocation,
        other => panic!("{args:?}: {other:?}"),
    }
}

/// BGP mode's settings of `settings`.
fn bgp(settings: &Settings) -> &BgpSettings {
    settings.bgp().expect("BGP mode")
}

fn with_file(args: &[&str], yaml: &str) -> Result<Settings, UsageError> {
    let path = Path::new("/etc/elastic/elastic.yaml");
    let file = crate::config::parse(yaml, path).unwrap_or_else(|e| panic!("{e}"));
    resolve(&invocation_of(args).flags, Some((path, &file)))
}

const FILE: &str = "dcid: 14\nrole: secondary\nsend56: true\nallifs: true\nmultihop_ttl: 5\n\
    neighbor_pattern: \"2001:db8:%d:34::%d\"\nlog_level: debug\nlog_json: true\n\
    addresses: [203.0.113.10/32]\nmed: 50\nrouter_id: 192.0.2.1\n";

#[test]
fn neighbor_slots_choose_which_addresses_the_pattern_gives() {
    let s = with_file(&[], &format!("{FILE}neighbor_slots: [2, 5]\n")).unwrap();
    assert_eq!(
        bgp(&s).neighbors,
        [
            "2001:db8:14:34::2".parse::<IpAddr>().unwrap(),
            "2001:db8:14:34::5".parse().unwrap()
        ]
    );
    assert_eq!(bgp(&with_file(&[], FILE).unwrap()).neighbors.len(), 4);
}

#[test]
fn the_file_supplies_what_the_flags_do_not_give() {
    let s = with_file(&[], FILE).unwrap();
    let b = bgp(&s);
    assert_eq!(
        (b.dcid, b.role, b.send56, b.allifs, b.multihop_ttl),
        (14, Role::Secondary, true, true, 5)
    );
    assert_eq!(
        bgp(&s).neighbors[0],
        "2001:db8:14:34::1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        (s.log_level, s.log_json, bgp(&s).med),
        (LogLevel::Debug, true, Some(50))
    );
    assert_eq!(
        bgp(&s).addresses,
        vec!["203.0.113.10/32".parse::<IpNet>().unwrap()]
    );
    assert_eq!(bgp(&s).router_id, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        s.config_file,
        Some(PathBuf::from("/etc/elastic/elastic.yaml"))
    );
}

#[test]
fn every_flag_given_wins_over_the_file() {
    let s = with_file(
        &[
            "-dcid",
            "15",
            "-primary",
            "-send56=false",
            "-allifs=false",
            "-multihopttl",
            "7",
            "-neighborpattern",
            "2001:db8:%d:35::%d",
            "-loglevel",
            "warn",
            "-logjson=false",
            "-address",
            "203.0.113.20/32",
            "-med",
            "9",
            "-routerid",
            "192.0.2.9",
        ],
        FILE,
    )
    .unwrap();
    let b = bgp(&s);
    assert_eq!(
        (b.dcid, b.role, b.send56, b.allifs, b.multihop_ttl),
        (15, Role::Primary, false, false, 7)
    );
    assert_eq!(
        bgp(&s).neighbors[0],
        "2001:db8:15:35::1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        (s.log_level, s.log_json, bgp(&s).med),
        (LogLevel::Warn, false, Some(9))
    );
    assert_eq!(
        bgp(&s).addresses,
        vec!["203.0.113.20/32".parse::<IpNet>().unwrap()]
    );
    assert_eq!(bgp(&s).router_id, Some(Ipv4Addr::new(192, 0, 2, 9)));
    // -primary=false alone does not pick a role: the file's applies.
    assert_eq!(
        bgp(&with_file(&["-primary=false"], FILE).unwrap()).role,
        Role::Secondary
    );
}

#[test]
fn missing_required_values_mention_the_file_key() {
    let e = with_file(&[], "role: primary\n").unwrap_err().message;
    assert!(
        e.starts_with("-dcid is required (or dcid: in /etc/elastic/elastic.yaml)"),
        "{e}"
    );
    let e = with_file(&[], "dcid: 14\n").unwrap_err().message;
    assert!(
        e.starts_with("use either -primary or -secondary (or role: in /etc/elastic/elastic.yaml)"),
        "{e}"
    );
    let e = with_file(&["-dcid", "70000"], FILE).unwrap_err().message;
    assert!(e.contains("which is not an IP address"), "{e}");
}

#[test]
fn the_md5_password_comes_only_from_a_file_that_was_read() {
    // `parse` names the file but does not read it: settings without the password are refused
    // rather than silently running without signatures.
    let e = with_file(
        &[],
        &format!("{FILE}md5_password_file: /etc/elastic/bgp.secret\n"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("was not read"), "{e}");
    assert!(parse(["-dcid", "14", "-primary", "-md5_password_file", "/x"]).is_err());
    assert_eq!(
        bgp(&with_file(&["-dcid", "14", "-primary"], "").unwrap()).md5,
        None
    );

    // With the password read (as `config::load` does), check-config shows where it comes
    // from, never the password itself.
    let path = Path::new("/etc/elastic/elastic.yaml");
    let yaml = format!("{FILE}md5_password_file: credential:bgp\n");
    let mut file = crate::config::parse(&yaml, path).unwrap();
    file.md5_key = Some(crate::bgp::md5::key_from_contents(path, b"hunter2\n").unwrap());
    let settings = resolve(&FlagValues::default(), Some((path, &file))).unwrap();
    let md5 = bgp(&settings).md5.as_ref().expect("md5 settings");
    assert_eq!(md5.key.as_bytes(), b"hunter2");
    let rendered = render(&settings);
    assert!(
        rendered.contains("md5_password_file: credential:bgp"),
        "{rendered}"
    );
    assert!(!rendered.contains("hunter2"), "{rendered}");
}

#[test]
fn the_rendered_configuration_reads_back_the_same() {
    let yaml = format!(
        "{FILE}probes:\n  web: {{http: {{url: \"http://127.0.0.1:8080/h\", body: ok}}, interval: 2s}}\n  \
         db: {{exec: [/bin/true], user: nobody}}\nservices:\n  - name: www\n    addresses: [203.0.113.10/32]\n    \
         probes: [web]\n    on_down: demote\n    announce_delay: 1s\n    preempt: false\n\
         maintenance_file: /etc/elastic/maintenance\nhooks: {{on_change: [/bin/echo, hi]}}\n\
         drain_time: 0\ncontrol_socket: /run/elastic/control.sock\ncontrol_socket_group: adm\n\
         api: \"[::1]:50052\"\nmetrics: 127.0.0.1:9100\nneighbor_slots: [4, 2]\n\
         hold_time: 30\nkeepalive: 4s\n"
    );
    let settings = with_file(&[], &yaml).unwrap();
    let rendered = render(&settings);
    let again = with_file(&[], &rendered).unwrap_or_else(|e| panic!("{e}\n{rendered}"));
    // Every key: a key Settings gains but check-config does not print fails here.
    assert_eq!(again, settings, "{rendered}");
    assert_eq!(again.health, settings.health, "{rendered}");
    assert_eq!(
        (bgp(&again).dcid, bgp(&again).role, bgp(&again).med),
        (bgp(&settings).dcid, bgp(&settings).role, bgp(&settings).med)
    );
    assert!(rendered.contains("fast_interval: 500ms"), "{rendered}");
    assert!(rendered.contains("hold_time: 30s"), "{rendered}");
    assert!(rendered.contains("keepalive: 4s"), "{rendered}");
    assert_eq!((bgp(&again).hold_time, bgp(&again).keepalive), (30, 4));
    assert_eq!(
        (
            bgp(&again).drain_time,
            &again.control_socket,
            &again.control_socket_group
        ),
        (
            std::time::Duration::ZERO,
            &settings.control_socket,
            &settings.control_socket_group
        )
    );
    assert!(settings.control_socket.is_some());
}

#[test]
fn the_rendered_defaults_read_back_the_same() {
    // Every default spelled out (announce_delay: 0s among them) must parse again.
    let yaml = format!("{FILE}probes:\n  web: {{tcp: \"127.0.0.1:80\"}}\n");
    let settings = with_file(&[], &yaml).unwrap();
    let rendered = render(&settings);
    assert!(rendered.contains("announce_delay: 0s"), "{rendered}");
    assert!(rendered.contains("hold_time: 9s"), "{rendered}");
    assert!(rendered.contains("keepalive: 3s"), "{rendered}");
    let again = with_file(&[], &rendered).unwrap_or_else(|e| panic!("{e}\n{rendered}"));
    assert_eq!(again, settings, "{rendered}");
    assert_eq!(again.health, settings.health, "{rendered}");
}

#[test]
fn a_flag_and_its_file_key_refuse_a_value_for_the_same_reason() {
    let cases = [
        ("dcid", "dcid", "1", "dcid must be greater than 1"),
        (
            "multihopttl",
            "multihop_ttl",
            "0",
            "must be between 1 and 255",
        ),
        (
            "neighborpattern",
            "neighbor_pattern",
            "\"x:%d\"",
            "expected exactly two %d",
        ),
        (
            "routerid",
            "router_id",
            "0.0.0.0",
            "router id must not be 0.0.0.0",
        ),
        (
            "address",
            "addresses",
            "[\"224.0.0.1\"]",
            "multicast addresses are never announced",
        ),
        ("metrics", "metrics", "nowhere", "not an ADDR:PORT"),
        ("holdtime", "hold_time", "1s", "must be 0 or at least 3s"),
        ("holdtime", "hold_time", "2", "must be 0 or at least 3s"),
        ("holdtime", "hold_time", "65536s", "must be at most 65535s"),
        ("holdtime", "hold_time", "1500ms", "must be whole seconds"),
        ("holdtime", "hold_time", "1.5s", "must be whole seconds"),
        (
            "holdtime",
            "hold_time",
            "soon",
            "expected 0 or a duration from 3s",
        ),
        ("keepalive", "keepalive", "0s", "must be longer than 0"),
        (
            "keepalive",
            "keepalive",
            "soon",
            "expected a duration from 1s",
        ),
    ];
    for (flag, key, yaml_value, reason) in cases {
        let flag_value = yaml_value.trim_matches(['[', ']', '"']);
        let from_flag = parse(["-dcid", "14", "-primary", &format!("-{flag}={flag_value}")])
            .expect_err(flag)
            .message;
        assert!(
            from_flag.starts_with(&format!(
                "invalid value {flag_value:?} for flag -{flag}: {reason}"
            )),
            "{from_flag}"
        );
        let path = Path::new("/etc/elastic/elastic.yaml");
        let from_file = crate::config::parse(&format!("{key}: {yaml_value}\n"), path)
            .expect_err(key)
            .message;
        assert!(from_file.contains(reason), "{from_file}");
    }
}

#[test]
fn hold_time_and_keepalive_default_to_lelastics_and_follow_each_other() {
    let timers = |args: &[&str], yaml: &str| {
        with_file(args, &format!("{FILE}{yaml}")).map(|s| (bgp(&s).hold_time, bgp(&s).keepalive))
    };
    assert_eq!(timers(&[], "").unwrap(), (9, 3));
    // The keepalive defaults to a third of whatever hold time is set.
    assert_eq!(timers(&[], "hold_time: 3s\n").unwrap(), (3, 1));
    assert_eq!(timers(&[], "hold_time: 4\n").unwrap(), (4, 1));
    assert_eq!(timers(&[], "hold_time: 1m30s\n").unwrap(), (90, 30));
    // Flags win over the file, a bare number is seconds.
    assert_eq!(
        timers(
            &["-holdtime", "6", "-keepalive=1s"],
            "hold_time: 30s\nkeepalive: 10s\n"
        )
        .unwrap(),
        (6, 1)
    );
    // Hold time 0: no keepalives at all, whatever keepalive says; it renders without one.
    let zero = with_file(&[], &format!("{FILE}hold_time: 0\nkeepalive: 5s\n")).unwrap();
    assert_eq!((bgp(&zero).hold_time, bgp(&zero).keepalive), (0, 0));
    let rendered = render(&zero);
    assert!(rendered.contains("hold_time: 0s"), "{rendered}");
    assert!(!rendered.contains("keepalive:"), "{rendered}");
    assert_eq!(with_file(&[], &rendered).unwrap(), zero);
    // A keepalive as long as the hold time would let the peer drop us between two of them.
    for (args, yaml) in [
        (&[][..], "hold_time: 9s\nkeepalive: 9s\n"),
        (&[][..], "keepalive: 10s\n"),
        (&["-holdtime", "3s"][..], "keepalive: 3s\n"),
    ] {
        let message = timers(args, yaml).expect_err(yaml).message;
        assert!(message.starts_with("keepalive "), "{message}");
        assert!(
            message.contains("must be shorter than hold_time"),
            "{message}"
        );
    }
    assert_eq!(
        timers(&[], "keepalive: 10s\n")
            .expect_err("too long")
            .message,
        "keepalive 10s must be shorter than hold_time 9s (a third of it is usual) \
         (run 'elastic -h' for usage)"
    );
}

#[test]
fn two_roles_for_one_prefix_are_refused_at_load_naming_both_services() {
    let pair = "services:\n  - name: site-a\n    addresses: [203.0.113.10/32]\n    role: primary\n  \
                - name: site-b\n    addresses: [203.0.113.11/32]\n    role: secondary\n";
    let settings = with_file(&[], &format!("{FILE}{pair}")).unwrap();
    assert_eq!(settings.health.services[0].role, Some(Role::Primary));
    let rendered = render(&settings);
    assert_eq!(with_file(&[], &rendered).unwrap(), settings, "{rendered}");
    // check-config names each service's role (FILE makes the host secondary).
    assert!(
        rendered.ends_with(
            "# roles per service (the host is secondary):\n#   site-a: primary (its own)\n\
             #   site-b: secondary (its own)\n"
        ),
        "{rendered}"
    );
    let shared = with_file(&[], &format!("{FILE}{pair}  - name: shared\n")).unwrap();
    assert!(
        render(&shared).contains("#   shared: secondary (the host's)\n"),
        "{}",
        render(&shared)
    );
    assert!(!render(&with_file(&[], FILE).unwrap()).contains("# roles"));

    // The file alone is checked when it is read (config::parse, with the file's send56); what
    // only the flags reveal, here: -send56 widens IPv6 to /56, where these two meet.
    let v6 = "services:\n  - name: a\n    addresses: [\"2001:db8:100::1\"]\n    role: primary\n  \
              - name: b\n    addresses: [\"2001:db8:100:1::1\"]\n    role: secondary\n";
    let no_send56 = FILE.replace("send56: true", "send56: false");
    assert!(with_file(&[], &format!("{no_send56}{v6}")).is_ok());
    let error = with_file(&["-send56"], &format!("{no_send56}{v6}")).unwrap_err();
    assert!(
        error.message.starts_with(
            "services a (role: primary) and b (role: secondary) both gate 2001:db8:100::/56"
        ),
        "{}",
        error.message
    );
}

#[test]
fn bfd_is_off_without_the_key_and_takes_frr_defaults_with_it() {
    assert_eq!(bgp(&with_file(&[], FILE).unwrap()).bfd, None);
    let on = with_file(&[], &format!("{FILE}bfd: {{}}\n")).unwrap();
    let bfd = bgp(&on).bfd.expect("bfd: {} turns it on");
    assert_eq!(
        (bfd.min_tx, bfd.min_rx, bfd.multiplier, bfd.multihop),
        (
            std::time::Duration::from_millis(300),
            std::time::Duration::from_millis(300),
            3,
            true
        )
    );
    // FILE's multihop_ttl is 5: packets from up to 5 hops away, like the BGP session's reach.
    assert_eq!(bfd.min_ttl, 251);
    assert_eq!(crate::bfd::session_config(&bfd).min_ttl, 251);
    assert_eq!(crate::bfd::port(&bfd), 4784);
    let single = bgp(&with_file(
        &[],
        &format!("{FILE}bfd: {{multihop: false, min_tx: 1s}}\n"),
    )
    .unwrap())
    .bfd
    .unwrap();
    assert_eq!(
        (
            crate::bfd::port(&single),
            crate::bfd::session_config(&single).min_ttl
        ),
        (3784, 255)
    );
    assert_eq!(single.min_tx, std::time::Duration::from_secs(1));
}

#[test]
fn bad_bfd_values_are_refused_naming_the_key() {
    let path = Path::new("/etc/elastic/elastic.yaml");
    for (yaml, key, reason) in [
        ("bfd: {min_tx: 5ms}", "min_tx", "must be from 10ms to 60s"),
        ("bfd: {min_rx: 2m}", "min_rx", "must be from 10ms to 60s"),
        ("bfd: {min_rx: soon}", "min_rx", "expected a duration"),
        (
            "bfd: {multiplier: 0}",
            "multiplier",
            "must be between 1 and 255",
        ),
        (
            "bfd: {multiplier: 256}",
            "multiplier",
            "must be between 1 and 255",
        ),
        ("bfd: {min_ttl: 0}", "min_ttl", "must be between 1 and 255"),
        ("bfd: {interval: 1s}", "interval", "unknown field"),
    ] {
        let error = crate::config::parse(&format!("{yaml}\n"), path)
            .expect_err(yaml)
            .message;
        assert!(
            error.contains(key) && error.contains(reason),
            "{yaml}: {error}"
        );
    }
    let error = with_file(
        &[],
        &format!("{FILE}bfd: {{multihop: false, min_ttl: 254}}\n"),
    )
    .expect_err("single hop needs 255")
    .message;
    assert!(
        error.starts_with("bfd.min_ttl 254: single-hop BFD"),
        "{error}"
    );
}

#[test]
fn bfd_settings_render_and_read_back() {
    for yaml in [
        "bfd: {min_tx: 1s, min_rx: 500ms, multiplier: 5, min_ttl: 250}\n",
        "bfd: {multihop: false}\n",
    ] {
        let settings = with_file(&[], &format!("{FILE}{yaml}")).unwrap();
        let rendered = render(&settings);
        assert!(rendered.contains("bfd:"), "{rendered}");
        let again = with_file(&[], &rendered).unwrap_or_else(|e| panic!("{e}\n{rendered}"));
        assert_eq!(bgp(&again).bfd, bgp(&settings).bfd, "{rendered}");
    }
}

#[test]
fn each_mode_gets_only_its_own_settings() {
    let bgp_mode = with_file(&[], FILE).unwrap();
    assert!(bgp_mode.vrrp().is_empty());
    let ByMode::Bgp(running) = bgp_mode.clone().by_mode() else {
        panic!("a file without vrrp: is BGP mode");
    };
    assert_eq!(running.mode, *bgp(&bgp_mode));
    // And back, as the daemon's tests hand it over.
    assert_eq!(Settings::from(*running), bgp_mode);

    let vrrp =
        "log_level: debug\nvrrp:\n  interface: eth0\n  vrid: 51\n  addresses: [198.51.100.10/24]\n";
    let vrrp_mode = with_file(&[], vrrp).unwrap();
    assert!(vrrp_mode.bgp().is_none());
    let ByMode::Vrrp(running) = vrrp_mode.by_mode() else {
        panic!("a file with vrrp: is VRRP mode");
    };
    assert_eq!(running.mode.len(), 1);
    assert_eq!(running.log_level, LogLevel::Debug);
}
