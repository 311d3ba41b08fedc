use super::*;
use crate::bgp::md5::KeySource;
use values::{Dcid, PasswordFile, RouterId, Ttl};

const FILE: &str = "/etc/elastic/elastic.yaml";

fn ok(text: &str) -> FileConfig {
    parse(text, Path::new(FILE)).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> ConfigError {
    match parse(text, Path::new(FILE)) {
        Err(e) => e,
        Ok(c) => panic!("{text:?}: expected an error, got {c:?}"),
    }
}

#[test]
fn an_empty_file_or_only_comments_changes_nothing() {
    assert_eq!(ok(""), FileConfig::default());
    assert_eq!(ok("# nothing yet\n"), FileConfig::default());
    let health = HealthConfig::default();
    assert_eq!(health, FileConfig::default().health());
    assert_eq!(health.services, vec![ServiceConfig::default_service()]);
    assert!(health.probes.is_empty() && health.hook.is_none());
}

#[test]
fn every_flag_has_a_key() {
    let c = ok(
        "dcid: 14\nrole: secondary\nsend56: true\nallifs: true\nmultihop_ttl: 5\n\
         neighbor_pattern: \"2001:db8:%d:34::%d\"\nlog_level: debug\nlog_json: true\n\
         addresses: [203.0.113.10/32, \"2001:db8:100::1/64\", 203.0.113.10]\nmed: 50\n\
         router_id: 192.0.2.1\n",
    );
    assert_eq!(c.dcid.map(Dcid::get), Some(14));
    assert_eq!(c.role, Some(Role::Secondary));
    assert_eq!(c.send56, Some(true));
    assert_eq!(c.allifs, Some(true));
    assert_eq!(c.multihop_ttl.map(Ttl::get), Some(5));
    assert_eq!(
        c.neighbor_pattern.map(|p| p.to_string()).as_deref(),
        Some("2001:db8:%d:34::%d")
    );
    assert_eq!(c.log_level, Some(LogLevel::Debug));
    assert_eq!(c.log_json, Some(true));
    // As written; duplicates are dropped when the settings are made.
    let addresses: Vec<String> = c
        .addresses
        .iter()
        .flatten()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        addresses,
        ["203.0.113.10/32", "2001:db8:100::1/64", "203.0.113.10/32"]
    );
    assert_eq!(c.med, Some(50));
    assert_eq!(
        c.router_id.map(RouterId::get),
        Some("192.0.2.1".parse().unwrap())
    );
}

#[test]
fn probes_get_documented_defaults() {
    let c = ok(
        "probes:\n  web:\n    http: {url: \"http://127.0.0.1:8080/healthz\"}\n  \
         db:\n    exec: [/usr/local/bin/check-db, --quick]\n    interval: 2s\n    \
         timeout: 500ms\n    rise: 3\n    fall: 1\n    fast_interval: 100ms\n  \
         port:\n    tcp: \"[2001:db8::1]:443\"\n  sh:\n    shell: \"pidof nginx\"\n    user: nobody\n",
    );
    let names: Vec<&str> = c.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["db", "port", "sh", "web"]);
    let web = &c.probes[3];
    assert_eq!(web.interval, Duration::from_secs(1));
    assert_eq!(web.fast_interval, Duration::from_millis(250));
    assert_eq!(web.timeout, Duration::from_secs(1));
    assert_eq!((web.rise, web.fall), (2, 2));
    assert_eq!(
        web.check,
        Check::Http {
            url: HttpUrl {
                text: "http://127.0.0.1:8080/healthz".into(),
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/healthz".into()
            },
            status: 200,
            body: None,
            tls: None
        }
    );
    let db = &c.probes[0];
    assert_eq!(
        (db.interval, db.timeout, db.fast_interval, db.rise, db.fall),
        (
            Duration::from_secs(2),
            Duration::from_millis(500),
            Duration::from_millis(100),
            3,
            1
        )
    );
    assert_eq!(
        db.check,
        Check::Exec {
            argv: vec!["/usr/local/bin/check-db".into(), "--quick".into()],
            user: None
        }
    );
    assert_eq!(
        c.probes[1].check,
        Check::Tcp {
            address: "[2001:db8::1]:443".parse().unwrap()
        }
    );
    assert_eq!(
        c.probes[2].check,
        Check::Exec {
            argv: vec!["/bin/sh".into(), "-c".into(), "pidof nginx".into()],
            user: Some("nobody".into())
        }
    );
    // No services (or `services: []`): one default service, every probe, every address.
    assert_eq!(c.health().services, vec![ServiceConfig::default_service()]);
    let empty = ok("services: []\n");
    assert_eq!(
        empty.health().services,
        vec![ServiceConfig::default_service()]
    );
}

#[test]
fn services_outcomes_and_hooks() {
    let c = ok(
        "probes:\n  web: {tcp: \"127.0.0.1:80\"}\n  db: {tcp: \"127.0.0.1:5432\"}\n\
         services:\n  - name: www\n    addresses: [203.0.113.10/32]\n    probes: [web]\n    \
         on_down: demote\n    maintenance: {demote: {communities: [\"65000:2\", \"65000:666\"], med: 5000}}\n    \
         announce_delay: 3s\n    preempt: false\n  - name: all\n\
         maintenance_file: /etc/elastic/maintenance\nmaintenance_poll: 250ms\n\
         hooks:\n  on_change: /etc/elastic/notify.sh\n  timeout: 5s\n",
    );
    let www = &c.services[0];
    assert_eq!(www.name, "www");
    assert_eq!(www.probes, Some(vec!["web".to_string()]));
    assert_eq!(www.on_down, Outcome::Demote(default_demote()));
    assert_eq!(
        default_demote(),
        RouteAttrs {
            communities: vec![(65000 << 16) | 2],
            med: Some(1000)
        }
    );
    assert_eq!(
        www.maintenance,
        Outcome::Demote(RouteAttrs {
            communities: vec![(65000 << 16) | 2, (65000 << 16) | 666],
            med: Some(5000)
        })
    );
    assert_eq!(www.announce_delay, Duration::from_secs(3));
    let zero = ok("services:\n  - name: now\n    announce_delay: 0s\n");
    assert_eq!(zero.services[0].announce_delay, Duration::ZERO);
    assert!(!www.preempt);
    let all = &c.services[1];
    assert_eq!(
        (
            all.addresses.clone(),
            all.probes.clone(),
            &all.on_down,
            all.preempt
        ),
        (None, None, &Outcome::Withdraw, true)
    );
    assert_eq!(
        c.maintenance_file,
        Some(PathBuf::from("/etc/elastic/maintenance"))
    );
    assert_eq!(c.health().maintenance_poll, Duration::from_millis(250));
    assert_eq!(
        c.hooks,
        Some(HookConfig {
            argv: vec!["/etc/elastic/notify.sh".into()],
            timeout: Duration::from_secs(5),
            user: None
        })
    );
}

#[test]
fn a_service_gates_prefixes_that_hold_its_addresses() {
    let mut service = ServiceConfig::default_service();
    let p4: IpNet = "203.0.113.10/32".parse().unwrap();
    let p6: IpNet = "2001:db8:100::/64".parse().unwrap();
    assert!(service.gates(&p4) && service.gates(&p6));
    service.addresses = Some(vec!["2001:db8:100::1/128".parse().unwrap()]);
    assert!(service.gates(&p6) && !service.gates(&p4));
    service.addresses = Some(vec!["2001:db8:100::/56".parse().unwrap()]);
    assert!(service.gates(&p6));
    service.addresses = Some(vec!["203.0.113.11/32".parse().unwrap()]);
    assert!(!service.gates(&p4));
}

/// Every error names the file, the line and column, the key, and what was expected.
#[test]
fn errors_name_file_line_key_and_expectation() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "dcid: 1\n",
            1,
            "dcid: invalid value 1: dcid must be greater than 1",
        ),
        (
            "dcid: 14\nfoo: 1\n",
            2,
            "unknown field `foo`, expected one of `dcid`",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\n    intervall: 1s\n",
            4,
            "probes.web: unknown field `intervall`, expected one of",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\n    interval: 1x\n",
            4,
            "probes.web.interval: invalid value \"1x\": expected a duration such as 1s, 500ms",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\n    timeout: 0s\n",
            4,
            "probes.web.timeout: invalid value \"0s\": must be longer than 0",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\n    timeout: 500000000000y\n",
            4,
            "probes.web.timeout: invalid value \"500000000000y\": must be at most 24h",
        ),
        (
            "drain_time: 2h\n",
            1,
            "drain_time: invalid value \"2h\": must be at most 1h",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\n    exec: [a]\n",
            3,
            "probes.web: a probe needs exactly one of exec, shell, tcp, http, process or listen",
        ),
        (
            "probes:\n  web:\n    interval: 1s\n",
            3,
            "probes.web: a probe needs exactly one of exec, shell, tcp, http, process or listen",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\n    interval: 1s\n    fast_interval: 2s\n",
            3,
            "probes.web: fast_interval (2s) must not be longer than interval (1s)",
        ),
        (
            "probes:\n  web:\n    tcp: localhost:80\n",
            3,
            "probes.web.tcp: invalid value \"localhost:80\": expected IP:PORT",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\n    user: nobody\n",
            3,
            "probes.web: user applies to exec and shell probes, not tcp",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\n    rise: 0\n",
            4,
            "probes.web.rise: invalid value 0: expected 1 to 1000",
        ),
        (
            "probes:\n  web:\n    http: {url: \"ftp://example.org/\"}\n",
            3,
            "probes.web.http.url: invalid value \"ftp://example.org/\": expected a URL starting with http:// or https://",
        ),
        (
            "probes:\n  web:\n    http:\n      url: http://127.0.0.1/\n      tls_verify: false\n",
            4,
            "probes.web.http: ca_file, tls_verify and server_name apply to https:// URLs only",
        ),
        (
            "probes:\n  web:\n    http:\n      url: https://127.0.0.1/\n      tls_verfy: false\n",
            5,
            "probes.web.http: unknown field `tls_verfy`, expected one of",
        ),
        (
            "probes:\n  web:\n    http:\n      url: https://127.0.0.1/\n      tls_verify: nope\n",
            5,
            "probes.web.http.tls_verify: invalid type: string \"nope\", expected a boolean",
        ),
        (
            "probes:\n  web:\n    http:\n      url: https://127.0.0.1/\n      server_name: \"web internal\"\n",
            5,
            "probes.web.http.server_name: invalid value \"web internal\": \"web internal\" is neither a DNS name nor an IP address",
        ),
        (
            "probes:\n  web:\n    http:\n      url: https://127.0.0.1/\n      ca_file: certs/ca.pem\n",
            5,
            "probes.web.http.ca_file: invalid value \"certs/ca.pem\": give an absolute path",
        ),
        (
            // `parse` reads no files; `load` and `parse_with` do (tests below).
            "probes:\n  web:\n    http:\n      url: https://127.0.0.1/\n      ca_file: /etc/elastic/ca.pem\n",
            5,
            "probes.web.http.ca_file: invalid value \"/etc/elastic/ca.pem\": cannot read: files named in the config are read only by config::load",
        ),
        (
            "probes:\n  web:\n    http: {url: \"http://127.0.0.1/\", status: 42}\n",
            3,
            "probes.web.http.status: invalid value 42: expected an HTTP status",
        ),
        (
            "probes:\n  web:\n    exec: [bin/check]\n",
            3,
            "probes.web.exec: invalid value \"bin/check\": give an absolute path",
        ),
        (
            "probes:\n  \"bad name\":\n    tcp: 127.0.0.1:80\n",
            2,
            "probes: invalid value \"bad name\": names use letters, digits",
        ),
        (
            "probes:\n  web:\n    tcp: 127.0.0.1:80\nservices:\n  - name: a\n    probes: [web, db]\n",
            6,
            "services[0].probes[1]: invalid value \"db\": no such probe; defined: web",
        ),
        (
            "services:\n  - name: a\n    probes: [web]\n",
            3,
            "services[0].probes[0]: invalid value \"web\": no probes are defined",
        ),
        (
            "services:\n  - name: a\n    on_down: demot\n",
            3,
            "services[0].on_down: invalid value \"demot\": expected withdraw or demote",
        ),
        (
            "services:\n  - name: a\n    on_down: {demote: {communities: [\"65000:x\"]}}\n",
            3,
            "services[0].on_down.demote.communities[0]: invalid value \"65000:x\": expected ASN:VALUE",
        ),
        (
            "services:\n  - name: a\n    on_down: {demote: {metric: 5}}\n",
            3,
            "services[0].on_down.demote: unknown field `metric`, expected one of `communities`, `med`, `priority`",
        ),
        (
            "services:\n  - name: a\n  - name: a\n",
            3,
            "services[1].name: invalid value \"a\": another service has this name",
        ),
        (
            "services:\n  - addresses: []\n",
            2,
            "services[0]: missing field `name`",
        ),
        (
            "role: master\n",
            1,
            "role: unknown variant `master`, expected `primary` or `secondary`",
        ),
        (
            "log_level: loud\n",
            1,
            "log_level: invalid value \"loud\": expected trace, debug",
        ),
        (
            "multihop_ttl: 300\n",
            1,
            "multihop_ttl: invalid value 300: must be between 1 and 255",
        ),
        (
            "med: -1\n",
            1,
            "med: invalid type: integer `-1`, expected u32",
        ),
        (
            "router_id: 0.0.0.0\n",
            1,
            "router_id: invalid value \"0.0.0.0\": router id must not be 0.0.0.0",
        ),
        ("dcid: [\n", 2, "did not find expected node content"),
        (
            "- a\n",
            1,
            "invalid type: sequence, expected a mapping of config keys",
        ),
        (
            "addresses: [192.0.2.1/24]\n",
            1,
            "addresses[0]: invalid value \"192.0.2.1/24\": IPv4 addresses must be /32",
        ),
        (
            "hooks: {on_change: []}\n",
            1,
            "hooks.on_change: the command is empty",
        ),
        (
            "hooks: {timeout: 1s}\n",
            1,
            "hooks: missing field `on_change`",
        ),
        (
            "maintenance_poll: soon\n",
            1,
            "maintenance_poll: invalid value \"soon\": expected a duration",
        ),
        (
            "dcid: 14\nmd5_password_file: bgp.secret\n",
            2,
            "md5_password_file: invalid value \"bgp.secret\": expected an absolute path",
        ),
        (
            "md5_password_file: \"credential:\"\n",
            1,
            "md5_password_file: invalid value \"credential:\": expected credential:NAME",
        ),
    ];
    for (text, line, expected) in cases {
        let e = err(text);
        let shown = e.to_string();
        assert_eq!(e.line, Some(*line), "{text:?} → {shown}");
        assert!(
            shown.starts_with(&format!("{FILE}:{line}:")),
            "{text:?} → {shown}"
        );
        assert!(
            e.message.starts_with(expected),
            "{text:?}\n  got:      {}\n  expected: {expected}",
            e.message
        );
        assert!(!shown.contains('\n'), "one line: {shown:?}");
    }
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let e = load(Path::new("/nonexistent/elastic.yaml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/elastic.yaml: cannot read:"),
        "{e}"
    );
}

#[test]
fn durations_and_communities_parse() {
    let duration = |text: &str| text.parse::<values::ProbeTime>().map(|d| d.get());
    assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(duration("1m 30s"), Ok(Duration::from_secs(90)));
    assert!(duration("5").is_err());
    let community = |text: &str| text.parse::<values::Community>().map(|c| c.0);
    assert_eq!(community("65000:1"), Ok(4_259_840_001));
    assert!(community("65536:1").is_err());
    assert!(community("1").is_err());
}

#[test]
fn a_byte_order_mark_at_the_start_is_accepted() {
    let config = ok("\u{feff}dcid: 14\nrole: primary\n");
    assert_eq!(config.dcid.map(|d| d.get()), Some(14));
    // Anywhere else it is still an error, located.
    let e = err("dcid: 14\n\u{feff}role: primary\n");
    assert!(!e.to_string().contains("more than one document"), "{e}");
}

#[test]
fn an_error_about_a_huge_value_is_shown_shortened() {
    let huge = "x".repeat(5_000_000);
    let e = err(&format!("neighbor_pattern: \"{huge}\"\n")).to_string();
    assert!(e.len() < 1200, "{} bytes", e.len());
    assert!(
        e.starts_with(&format!(
            "{FILE}:1:19: neighbor_pattern: invalid value \"xxx"
        )),
        "{e}"
    );
    assert!(e.contains("bytes not shown"), "{e}");
    assert!(
        e.ends_with("expected exactly two %d (datacenter id, then 1..4)"),
        "{e}"
    );
    // Multi-byte characters are never split.
    let wide = "é".repeat(3000);
    let e = err(&format!("neighbor_pattern: \"{wide}\"\n")).to_string();
    assert!(e.len() < 1200 && e.contains("ééé"), "{e}");
}

#[test]
fn more_demote_communities_than_an_update_can_carry_are_refused() {
    let with = |count: u32| {
        let list: Vec<String> = (0..count).map(|n| format!("\"65000:{n}\"")).collect();
        format!(
            "services:\n  - name: a\n    on_down: {{demote: {{communities: [{}]}}}}\n",
            list.join(", ")
        )
    };
    let allowed = ok(&with(64));
    let Outcome::Demote(attrs) = &allowed.health().services[0].on_down else {
        panic!("a demotion");
    };
    assert_eq!(attrs.communities.len(), 64);
    for count in [65, 2000] {
        let message = err(&with(count)).to_string();
        assert!(
            message.contains(&format!("{count} communities, at most 64")),
            "{message}"
        );
    }
}

#[test]
fn urls_are_split_for_the_client() {
    let parse_url = |text: &str| {
        text.parse::<HttpUrl>().map(|url| {
            let https = url.is_https();
            (url, https)
        })
    };
    let (url, https) = parse_url("http://[2001:db8::1]:8080/health?full=1").unwrap();
    assert_eq!(
        (url.host.as_str(), url.port, url.path.as_str(), https),
        ("2001:db8::1", 8080, "/health?full=1", false)
    );
    let (url, https) = parse_url("http://web.internal").unwrap();
    assert_eq!(
        (url.host.as_str(), url.port, url.path.as_str(), https),
        ("web.internal", 80, "/", false)
    );
    let (url, https) = parse_url("https://web.internal/healthz").unwrap();
    assert_eq!(
        (url.host.as_str(), url.port, url.path.as_str(), https),
        ("web.internal", 443, "/healthz", true)
    );
    let (url, https) = parse_url("https://[::1]:8443").unwrap();
    assert_eq!(
        (url.host.as_str(), url.port, url.path.as_str(), https),
        ("::1", 8443, "/", true)
    );
    assert!(parse_url("http://a b/").is_err());
    assert!(parse_url("http://user@host/").is_err());
    assert!(parse_url("ftp://host/").is_err());
}

/// configs/elastic-*.yaml, by name. A new example must be added here (checked below).
const EXAMPLES: [(&str, &str); 6] = [
    (
        "elastic-minimal.yaml",
        include_str!("../../configs/elastic-minimal.yaml"),
    ),
    (
        "elastic-primary.yaml",
        include_str!("../../configs/elastic-primary.yaml"),
    ),
    (
        "elastic-secondary.yaml",
        include_str!("../../configs/elastic-secondary.yaml"),
    ),
    (
        "elastic-keepalived-style.yaml",
        include_str!("../../configs/elastic-keepalived-style.yaml"),
    ),
    (
        "elastic-active-a.yaml",
        include_str!("../../configs/elastic-active-a.yaml"),
    ),
    (
        "elastic-active-b.yaml",
        include_str!("../../configs/elastic-active-b.yaml"),
    ),
];

/// The examples write optional keys as `#key: value` (no space after `#`); this removes that `#`.
fn with_optional_keys(text: &str) -> String {
    text.lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            match line.trim_start().strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                    format!("{}{rest}\n", &line[..indent])
                }
                _ => format!("{line}\n"),
            }
        })
        .collect()
}

/// VRRP mode's examples (no dcid, no role): a dual-master pair.
const VRRP_EXAMPLES: [(&str, &str); 2] = [
    (
        "elastic-vrrp-primary.yaml",
        include_str!("../../configs/elastic-vrrp-primary.yaml"),
    ),
    (
        "elastic-vrrp-backup.yaml",
        include_str!("../../configs/elastic-vrrp-backup.yaml"),
    ),
];

#[test]
fn the_vrrp_examples_are_a_dual_master_pair() {
    let [primary, backup] = VRRP_EXAMPLES.map(|(name, text)| {
        parse(&with_optional_keys(text), Path::new(name)).unwrap_or_else(|e| panic!("{e}"));
        parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{e}"))
    });
    assert_eq!(primary.dcid, None);
    assert_eq!(primary.probes, backup.probes);
    assert_eq!(primary.vrrp.len(), 2);
    for (p, b) in primary.vrrp.iter().zip(&backup.vrrp) {
        assert_eq!((p.vrid, &p.addresses), (b.vrid, &b.addresses));
        assert_ne!(p.priority, b.priority);
    }
    // Swapped: each is master of one address.
    assert_eq!(primary.vrrp[0].priority, backup.vrrp[1].priority);
    assert_eq!(primary.vrrp[1].priority, backup.vrrp[0].priority);
    assert!(primary.vrrp[0].priority > backup.vrrp[0].priority);
}

#[test]
fn the_example_configs_are_valid_also_with_their_optional_keys() {
    for (name, text) in EXAMPLES {
        let config = parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.dcid.map(Dcid::get), Some(14), "{name}");
        let full = with_optional_keys(text);
        parse(&full, Path::new(name)).unwrap_or_else(|e| panic!("{name} with optional keys: {e}"));
    }
    let files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/configs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    for file in &files {
        assert!(
            EXAMPLES
                .iter()
                .chain(&VRRP_EXAMPLES)
                .any(|(name, _)| name == file),
            "configs/{file} is not checked: add it to EXAMPLES"
        );
    }
    assert_eq!(
        files.len(),
        EXAMPLES.len() + VRRP_EXAMPLES.len(),
        "{files:?}"
    );
}

#[test]
fn the_primary_and_secondary_examples_are_a_pair() {
    let primary = parse(EXAMPLES[1].1, Path::new(EXAMPLES[1].0)).unwrap();
    let secondary = parse(EXAMPLES[2].1, Path::new(EXAMPLES[2].0)).unwrap();
    assert_eq!(primary.role, Some(Role::Primary));
    assert_eq!(secondary.role, Some(Role::Secondary));
    assert_eq!(primary.addresses, secondary.addresses);
    assert_eq!(primary.probes, secondary.probes);
    assert!(primary.addresses.as_ref().is_some_and(|a| !a.is_empty()));
    let www = |c: &FileConfig| c.services[0].clone();
    assert_eq!(www(&primary).on_down, Outcome::Demote(default_demote()));
    assert_eq!(www(&secondary).on_down, Outcome::Withdraw);
    assert!(primary.maintenance_file.is_some() && primary.hooks.is_some());
    // TCP MD5 is optional (Linode's route servers do not use it) and named the same way in both.
    for (name, text) in &EXAMPLES[1..3] {
        assert_eq!(
            parse(text, Path::new(name)).unwrap().md5_password_file,
            None
        );
        let full = parse(&with_optional_keys(text), Path::new(name)).unwrap();
        assert_eq!(
            full.md5_password_file,
            Some(PasswordFile::new(KeySource::File(
                "/etc/elastic/bgp.secret".into()
            ))),
            "{name}"
        );
    }
}

/// A self-signed certificate for 127.0.0.1, PEM (made fresh: test-only).
fn test_cert_pem() -> String {
    rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .unwrap()
        .cert
        .pem()
}

/// `parse_with` over a fake file system holding `files`.
fn parse_files(text: &str, files: &[(&str, &str)]) -> Result<FileConfig, ConfigError> {
    let files: BTreeMap<PathBuf, Vec<u8>> = files
        .iter()
        .map(|(path, text)| (PathBuf::from(path), text.as_bytes().to_vec()))
        .collect();
    let read_file: ReadFile = Rc::new(move |path: &Path| {
        files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    });
    parse_with(text, Path::new(FILE), read_file)
}

fn https_check(c: &FileConfig) -> (&HttpUrl, &TlsOptions) {
    match &c.probes[0].check {
        Check::Http {
            url,
            tls: Some(tls),
            ..
        } => (url, tls),
        other => panic!("not an https check: {other:?}"),
    }
}

#[test]
fn https_probes_verify_against_the_default_roots_and_the_url_host() {
    let c = ok("probes:\n  web:\n    http: {url: \"https://web.internal/healthz\", body: ok}\n");
    let (url, tls) = https_check(&c);
    assert_eq!((url.host.as_str(), url.port), ("web.internal", 443));
    assert_eq!(
        *tls,
        TlsOptions {
            trust: Trust::Default,
            server_name: "web.internal".into()
        }
    );
    // An IP address host is the name the certificate must carry (an IP SAN).
    let c = ok("probes:\n  web:\n    http: {url: \"https://[::1]:8443/\"}\n");
    assert_eq!(https_check(&c).1.server_name, "::1");
    // server_name overrides it; tls_verify: false accepts any certificate.
    let c = ok(
        "probes:\n  web:\n    http:\n      url: https://127.0.0.1:8443/\n      \
         server_name: web.internal\n      tls_verify: false\n",
    );
    assert_eq!(
        *https_check(&c).1,
        TlsOptions {
            trust: Trust::Unverified,
            server_name: "web.internal".into()
        }
    );
    let c = ok("probes:\n  web:\n    http: {url: \"https://127.0.0.1/\", tls_verify: true}\n");
    assert_eq!(https_check(&c).1.trust, Trust::Default);
}

#[test]
fn a_ca_file_is_read_at_load_and_replaces_the_default_roots() {
    let pem = test_cert_pem();
    let text = "probes:\n  web:\n    http:\n      url: https://127.0.0.1:8443/\n      \
                ca_file: /etc/elastic/ca.pem\n";
    let c = parse_files(text, &[("/etc/elastic/ca.pem", &pem)]).unwrap();
    let expected = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    assert_eq!(
        https_check(&c).1.trust,
        Trust::CaFile {
            path: "/etc/elastic/ca.pem".into(),
            certs: vec![expected]
        }
    );
    // Two certificates in one file are both kept.
    let two = format!("{pem}{}", test_cert_pem());
    let c = parse_files(text, &[("/etc/elastic/ca.pem", &two)]).unwrap();
    assert!(matches!(&https_check(&c).1.trust, Trust::CaFile { certs, .. } if certs.len() == 2));

    let broken_der = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
    let cases: &[(&str, &str)] = &[
        ("", "cannot read: entity not found"),
        (
            "/etc/elastic/ca.pem",
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
        ),
        ("/etc/elastic/ca.pem", "certificate 1: "),
    ];
    for ((path, expected), content) in cases.iter().zip(["", "just text\n", broken_der]) {
        let files: Vec<(&str, &str)> = if path.is_empty() {
            Vec::new()
        } else {
            vec![(*path, content)]
        };
        let e = parse_files(text, &files).unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        let prefix =
            format!("probes.web.http.ca_file: invalid value \"/etc/elastic/ca.pem\": {expected}");
        assert!(e.message.starts_with(&prefix), "{e}\n  expected: {prefix}");
    }
    let e = parse_files(
        "probes:\n  web:\n    http:\n      url: https://127.0.0.1:8443/\n      \
         ca_file: /etc/elastic/ca.pem\n      tls_verify: false\n",
        &[("/etc/elastic/ca.pem", &pem)],
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "probes.web.http: ca_file has no effect with tls_verify: false; keep one of them"
    );
}

#[test]
fn load_reads_the_ca_file_from_disk() {
    let dir = std::env::temp_dir().join(format!("elastic-config-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let config = dir.join("elastic.yaml");
    let text = format!(
        "dcid: 14\nprobes:\n  web:\n    http:\n      url: https://127.0.0.1:8443/\n      \
         ca_file: {}\n",
        ca.display()
    );
    std::fs::write(&config, &text).unwrap();
    let e = load(&config).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:6:16: probes.web.http.ca_file: invalid value \"{}\": cannot read: ",
            config.display(),
            ca.display()
        )),
        "{shown}"
    );
    std::fs::write(&ca, test_cert_pem()).unwrap();
    let c = load(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&https_check(&c).1.trust, Trust::CaFile { path, certs } if *path == ca && certs.len() == 1)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn https_options_render_and_read_back() {
    let pem = test_cert_pem();
    let text = "dcid: 14\nrole: primary\nprobes:\n  a:\n    http: {url: \"https://127.0.0.1:8443/\", ca_file: /etc/elastic/ca.pem}\n  \
                b:\n    http: {url: \"https://[::1]/\", tls_verify: false, server_name: web.internal}\n  \
                c:\n    http: {url: \"https://web.internal/\", status: 204}\n  \
                d:\n    http: {url: \"http://127.0.0.1/\"}\n";
    let files = [("/etc/elastic/ca.pem", pem.as_str())];
    let file = parse_files(text, &files).unwrap();
    let settings = crate::settings::resolve(
        &crate::cli::FlagValues::default(),
        Some((Path::new(FILE), &file)),
    )
    .unwrap();
    let rendered = crate::settings::render(&settings);
    assert!(
        rendered.contains("ca_file: /etc/elastic/ca.pem"),
        "{rendered}"
    );
    assert!(rendered.contains("tls_verify: false"), "{rendered}");
    assert!(rendered.contains("server_name: web.internal"), "{rendered}");
    let again = parse_files(&rendered, &files).unwrap_or_else(|e| panic!("{e}\n{rendered}"));
    assert_eq!(again.health(), file.health(), "{rendered}");
}

#[test]
fn drain_time_and_the_control_socket() {
    let c = ok(
        "drain_time: 10s\ncontrol_socket: /run/elastic/control.sock\ncontrol_socket_group: adm\n",
    );
    assert_eq!(c.drain_time.map(|d| d.get()), Some(Duration::from_secs(10)));
    assert_eq!(
        c.control_socket.map(|p| p.get().clone()),
        Some("/run/elastic/control.sock".into())
    );
    assert_eq!(
        c.control_socket_group.map(|g| g.to_string()).as_deref(),
        Some("adm")
    );
    // 0 skips the drain (other durations refuse zero).
    let drain_time = |text: &str| ok(text).drain_time.map(|d| d.get());
    assert_eq!(drain_time("drain_time: 0\n"), Some(Duration::ZERO));
    assert_eq!(drain_time("drain_time: 0s\n"), Some(Duration::ZERO));
    assert_eq!(ok("").drain_time, None);
    let e = err("drain_time: soon\n");
    assert_eq!(e.line, Some(1));
    assert!(e.message.contains("drain_time"), "{e}");
    let e = err("control_socket: control.sock\n");
    assert!(e.message.contains("absolute path"), "{e}");
    let e = err("control_socket_group: \"wheel;rm\"\n");
    assert!(e.message.contains("group name"), "{e}");
}

#[test]
fn neighbor_slots_pick_the_route_servers() {
    assert_eq!(
        ok("neighbor_slots: [1, 2, 4]\n")
            .neighbor_slots
            .map(|s| s.get().to_vec()),
        Some(vec![1, 2, 4])
    );
    assert!(
        err("neighbor_slots: [1, 1]\n")
            .message
            .contains("listed twice")
    );
    assert!(
        err("neighbor_slots: [0]\n")
            .message
            .contains("expected 1 to 255")
    );
    assert!(err("neighbor_slots: []\n").message.contains("at least one"));
}

#[test]
fn md5_password_file_names_a_file_or_a_credential_and_parse_reads_neither() {
    let c = ok("md5_password_file: /etc/elastic/bgp.secret\n");
    assert_eq!(
        c.md5_password_file,
        Some(PasswordFile::new(KeySource::File(
            "/etc/elastic/bgp.secret".into()
        )))
    );
    assert_eq!(c.md5_key, None, "parse does no IO");
    let c = ok("md5_password_file: credential:bgp-md5\n");
    assert_eq!(
        c.md5_password_file,
        Some(PasswordFile::new(KeySource::Credential(
            "bgp-md5".to_string()
        )))
    );
}

/// A directory of its own for one test's files, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("elastic-config-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &str, mode: u32) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn load_reads_the_md5_password_and_refuses_a_file_others_can_read() {
    let scratch = Scratch::new("md5");
    let secret = scratch.file("bgp.secret", "s3cret\n", 0o600);
    let yaml = format!("dcid: 14\nmd5_password_file: {}\n", secret.display());
    let config_path = scratch.file("elastic.yaml", &yaml, 0o644);
    let config = load(&config_path).unwrap();
    assert_eq!(
        config.md5_key.as_ref().map(Md5Key::as_bytes),
        Some(&b"s3cret"[..])
    );

    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let e = load(&config_path).unwrap_err();
    assert_eq!((e.line, e.column), (Some(2), Some(1)), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:2:1: md5_password_file: {}: group or others have access (mode 0640)",
            config_path.display(),
            secret.display()
        )),
        "{shown}"
    );

    scratch.file("bgp.secret", "\n", 0o600);
    let shown = load(&config_path).unwrap_err().to_string();
    assert!(shown.contains(": empty;"), "{shown}");
}

#[test]
fn a_problem_found_after_parsing_is_located_at_its_value() {
    use schema::{Misplaced, Step};
    let text = "services:\n  - name: a\n    probes: [x,\n      y]\n";
    let at = |path: Vec<Step>| Misplaced {
        path,
        message: "not here".to_string(),
    };
    let key = |k: &str| Step::Key(k.to_string());
    let problem = at(vec![
        key("services"),
        Step::Index(0),
        key("probes"),
        Step::Index(1),
    ]);
    let e = schema::locate(text, &problem).expect("the path is in the text");
    assert_eq!(
        e.location().map(|l| (l.line(), l.column())),
        Some((4, 7)),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("services[0].probes[1]: not here"),
        "{e}"
    );
    assert!(schema::locate(text, &at(vec![key("hooks")])).is_none());
    assert!(schema::locate(text, &at(vec![key("services"), Step::Index(1)])).is_none());
}

#[test]
fn a_service_role_overrides_the_hosts_and_refuses_other_words() {
    let c = ok(
        "role: secondary\nservices:\n  - name: site-a\n    addresses: [203.0.113.10/32]\n    \
         role: primary\n  - name: site-b\n    addresses: [203.0.113.11/32]\n    role: secondary\n  \
         - name: shared\n",
    );
    let roles: Vec<_> = c.services.iter().map(|s| s.role).collect();
    assert_eq!(roles, [Some(Role::Primary), Some(Role::Secondary), None]);
    assert_eq!(c.services[2].role_or(Role::Secondary), Role::Secondary);
    assert_eq!(c.services[0].role_or(Role::Secondary), Role::Primary);
    // Rendered (check-config) and read back: the roles stay, an unset one stays unset.
    let rendered = render(&c);
    assert!(rendered.contains("role: primary"), "{rendered}");
    assert_eq!(ok(&rendered), c, "{rendered}");

    let e = err("services:\n  - name: site-a\n    role: tertiary\n");
    assert_eq!((e.line, e.column), (Some(3), Some(11)), "{e}");
    assert!(
        e.message
            .starts_with("services[0].role: unknown variant `tertiary`"),
        "{e}"
    );
    assert!(
        e.message.contains("primary") && e.message.contains("secondary"),
        "{e}"
    );
}

#[test]
fn an_empty_probe_list_means_no_probe_and_a_missing_one_every_probe() {
    let c = ok(
        "probes:\n  web: {tcp: \"127.0.0.1:80\"}\nservices:\n  - name: none\n    \
         probes: []\n  - name: all\n",
    );
    let health = c.health();
    assert_eq!(health.services[0].probes, Some(Vec::new()));
    assert!(health.services[0].probe_names(&health.probes).is_empty());
    assert_eq!(health.services[1].probes, None);
    assert_eq!(health.services[1].probe_names(&health.probes), ["web"]);
    // No probe: the service's verdict is up at once, as with flags alone.
    assert_eq!(crate::health::combine(std::iter::empty()), Some(true));
    let rendered = render(&c);
    assert!(rendered.contains("probes: []"), "{rendered}");
    assert_eq!(ok(&rendered), c, "{rendered}");
}

#[test]
fn the_active_active_examples_are_mirror_images() {
    let [a, b] = [&EXAMPLES[4], &EXAMPLES[5]].map(|(name, text)| {
        parse(&with_optional_keys(text), Path::new(name)).unwrap_or_else(|e| panic!("{e}"))
    });
    assert_eq!(a.addresses, b.addresses);
    assert_eq!(
        (a.role, b.role),
        (Some(Role::Primary), Some(Role::Secondary))
    );
    let roles = |c: &FileConfig| {
        let mut roles: Vec<(Option<Vec<IpNet>>, Option<Role>)> = c
            .services
            .iter()
            .map(|s| (s.addresses.clone(), s.role))
            .collect();
        roles.sort_by_key(|(addresses, _)| addresses.clone());
        roles
    };
    let flipped: Vec<_> = roles(&b)
        .into_iter()
        .map(|(addresses, role)| {
            let other = match role {
                Some(Role::Primary) => Role::Secondary,
                _ => Role::Primary,
            };
            (addresses, Some(other))
        })
        .collect();
    assert_eq!(roles(&a), flipped);
    // Each host backs its peer up with no probe of its own: `probes: []`.
    for c in [&a, &b] {
        let backup = c.services.iter().find(|s| s.role == Some(Role::Secondary));
        assert_eq!(backup.and_then(|s| s.probes.clone()), Some(Vec::new()));
    }
}

#[test]
fn two_roles_for_one_prefix_are_refused_where_the_second_role_is_written() {
    let pair = "services:\n  - name: site-a\n    addresses: [203.0.113.10/32]\n    role: primary\n  \
                - name: site-b\n    addresses: [203.0.113.11/32]\n    role: secondary\n";
    ok(pair);
    let e = err(&format!("{pair}  - name: all\n    role: primary\n"));
    assert_eq!((e.line, e.column), (Some(9), Some(11)), "{e}");
    assert!(
        e.message.starts_with(
            "services[2].role: services site-b (role: secondary) and all (role: primary) both \
             gate 203.0.113.11/32"
        ),
        "{e}"
    );
    // The file's send56 widens IPv6 to the /56 both addresses are in.
    let v6 = "services:\n  - name: a\n    addresses: [\"2001:db8:100::1\"]\n    role: primary\n  \
              - name: b\n    addresses: [\"2001:db8:100:1::1\"]\n    role: secondary\n";
    ok(v6);
    let e = err(&format!("send56: true\n{v6}"));
    assert!(e.message.contains("both gate 2001:db8:100::/56"), "{e}");
}

#[test]
fn deep_flow_nesting_is_refused_before_parsing() {
    // 20,000 levels took the parser 2.7 s (quadratic); refused unread, located at the level.
    let deep = format!(
        "dcid: 14\nx: {}{}\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let e = err(&deep);
    assert_eq!(
        (e.line, e.column),
        (Some(2), Some(3 + MAX_FLOW_NESTING + 1))
    );
    assert_eq!(
        e.message,
        "[ and { nested deeper than 64 levels: refused unread (elastic's keys need 3)"
    );
    let mappings = format!("dcid: 14\nx: {}\n", "{a: ".repeat(100));
    assert!(err(&mappings).message.starts_with("[ and { nested deeper"));
    // Brackets in comments, quoted strings and inside words do not count.
    let many = "[".repeat(100);
    let text = format!(
        "# {many}\ndcid: 14 # {many}\nneighbor_pattern: \"2001:db8:%d:34::%d\"\nprobes:\n  \
         p:\n    shell: \"echo '{many}'\"\n  q:\n    shell: echo a{many}\n"
    );
    assert_eq!(ok(&text).probes.len(), 2);
    // At the limit, the parser decides (here: an unknown key).
    let at_limit = format!("x: {}{}\n", "[".repeat(64), "]".repeat(64));
    assert!(err(&at_limit).message.contains("unknown field `x`"));
}

#[test]
fn load_refuses_devices_fifos_and_huge_files() {
    let scratch = Scratch::new("kinds");
    let fifo = scratch.0.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let huge = scratch.file("huge.yaml", &"#\n".repeat(600_000), 0o644);
    for (path, why) in [
        (
            Path::new("/dev/zero"),
            "not a regular file (a character device)",
        ),
        (fifo.as_path(), "not a regular file (a FIFO)"),
        (scratch.0.as_path(), "not a regular file (a directory)"),
        (huge.as_path(), "1200000 bytes, over the limit of 1 MiB"),
    ] {
        let e = load(path).unwrap_err();
        assert_eq!(
            e.message,
            format!("cannot read: {why}"),
            "{}",
            path.display()
        );
    }
    // A CA file is read the same way.
    let yaml = format!(
        "probes:\n  web:\n    http:\n      url: https://127.0.0.1/\n      ca_file: {}\n",
        fifo.display()
    );
    let config = scratch.file("ca.yaml", &yaml, 0o644);
    let e = load(&config).unwrap_err();
    assert!(
        e.message
            .ends_with("cannot read: not a regular file (a FIFO)"),
        "{e}"
    );
    // And the MD5 password file.
    let yaml = format!("md5_password_file: {}\n", fifo.display());
    let config = scratch.file("md5.yaml", &yaml, 0o644);
    let e = load(&config).unwrap_err();
    assert!(e.message.contains("not a regular file"), "{e}");
}

#[test]
fn user_and_control_socket_group_are_checked_against_what_elastic_may_do() {
    let text = "control_socket: /run/elastic/control.sock\ncontrol_socket_group: root\n\
                probes:\n  db:\n    exec: [/bin/true]\n    user: root\n\
                hooks:\n  on_change: [/bin/true]\n  user: root\n";
    // Non-root, holding only CAP_NET_ADMIN: what the shipped unit's DynamicUser holds.
    let unit = Powers {
        euid: 61000,
        egid: 61000,
        groups: Vec::new(),
        effective: 1 << 12,
    };
    let refused = |text: &str| {
        let mut config = ok(text);
        let problem = check_powers(&mut config, &unit).unwrap_err();
        misplaced(text, Path::new(FILE), problem)
    };
    let e = refused(text);
    assert_eq!((e.line, e.column), (Some(6), Some(11)));
    assert!(
        e.message.starts_with(
            "probes.db.user: invalid value \"root\": elastic runs as uid 61000 without \
             CAP_SETUID and CAP_SETGID, so it cannot run commands as \"root\""
        ),
        "{e}"
    );
    let no_probe_user = text.replace("    user: root\n", "");
    let e = refused(&no_probe_user);
    assert!(
        e.message
            .starts_with("hooks.user: invalid value \"root\": elastic runs as uid 61000"),
        "{e}"
    );
    let only_group = no_probe_user.replace("  user: root\n", "");
    let e = refused(&only_group);
    assert_eq!(e.line, Some(2));
    assert!(
        e.message.starts_with(
            "control_socket_group: invalid value \"root\": elastic runs as uid 61000 without \
             CAP_CHOWN and is not in group \"root\""
        ),
        "{e}"
    );
    // In the group: allowed. As root: the users resolve, once, here.
    let member = Powers {
        groups: vec![0],
        ..unit.clone()
    };
    check_powers(&mut ok(&only_group), &member).unwrap();
    let root = Powers {
        euid: 0,
        egid: 0,
        groups: Vec::new(),
        effective: u64::MAX >> 23,
    };
    let mut config = ok(text);
    check_powers(&mut config, &root).unwrap();
    let Check::Exec {
        user: Some(user), ..
    } = &config.probes[0].check
    else {
        panic!("{config:?}")
    };
    assert_eq!(user.account.as_ref().map(|a| a.uid), Some(0));
}

#[test]
fn users_are_looked_up_once_at_load() {
    let text = "probes:\n  db:\n    exec: [/bin/true]\n    user: root\n\
                hooks:\n  on_change: [/bin/true]\n  user: root\n";
    // Root, whatever its capabilities: root's own account needs no switch.
    let daemon = Powers {
        euid: 0,
        egid: 0,
        groups: Vec::new(),
        effective: 0,
    };
    let mut config = ok(text);
    check_powers(&mut config, &daemon).unwrap();
    let Check::Exec {
        user: Some(user), ..
    } = &config.probes[0].check
    else {
        panic!("{config:?}")
    };
    assert_eq!(user.account.as_ref().map(|a| a.uid), Some(0));
    let hook_user = config.hooks.as_ref().and_then(|h| h.user.as_ref());
    assert_eq!(
        hook_user.and_then(|u| u.account.as_ref()).map(|a| a.gid),
        Some(0)
    );
    // An unknown user is a config error at its key, not a probe that never starts.
    let unknown = text.replacen("user: root", "user: no-such-user-elastic", 1);
    let mut config = ok(&unknown);
    let problem = check_powers(&mut config, &daemon).unwrap_err();
    let e = misplaced(&unknown, Path::new(FILE), problem);
    assert_eq!((e.line, e.column), (Some(4), Some(11)));
    assert_eq!(
        e.message,
        "probes.db.user: invalid value \"no-such-user-elastic\": no user \"no-such-user-elastic\" \
         on this system"
    );
}

/// Every duration key of the file: a YAML text with `{}` where the value goes, the key path the
/// error names, the shortest and the longest accepted.
const DURATION_KEYS: [(&str, &str, &str, &str); 9] = [
    (
        "probes:\n  p:\n    exec: [/bin/true]\n    interval: {}\n",
        "probes.p.interval",
        "10ms",
        "24h",
    ),
    (
        "probes:\n  p:\n    exec: [/bin/true]\n    interval: 24h\n    fast_interval: {}\n",
        "probes.p.fast_interval",
        "10ms",
        "24h",
    ),
    (
        "probes:\n  p:\n    exec: [/bin/true]\n    timeout: {}\n",
        "probes.p.timeout",
        "10ms",
        "24h",
    ),
    (
        "services:\n  - name: web\n    announce_delay: {}\n",
        "services[0].announce_delay",
        "0s",
        "24h",
    ),
    ("maintenance_poll: {}\n", "maintenance_poll", "10ms", "1h"),
    (
        "hooks:\n  on_change: [/bin/true]\n  timeout: {}\n",
        "hooks.timeout",
        "10ms",
        "1h",
    ),
    ("drain_time: {}\n", "drain_time", "0s", "1h"),
    ("hold_time: {}\n", "hold_time", "0s", "65535s"),
    ("keepalive: {}\n", "keepalive", "1s", "65535s"),
];

#[test]
fn every_duration_key_is_bounded_so_no_deadline_can_overflow() {
    for (template, key, shortest, longest) in DURATION_KEYS {
        let with = |value: &str| template.replace("{}", value);
        ok(&with(shortest));
        ok(&with(longest));
        // Near humantime's own limit (5.8e11 years): past the clock's (`Instant + Duration`
        // panics at about 3e11 years), and once accepted by check-config.
        for huge in ["500000000000y", "100y", "1y"] {
            let e = err(&with(huge));
            assert_eq!(
                e.message,
                format!("{key}: invalid value {huge:?}: must be at most {longest}"),
                "{key} = {huge}"
            );
            assert!(e.line.is_some(), "{key}: {e}");
        }
    }
    // Under the shortest: a probe every few nanoseconds would spin the event loop.
    for (template, key, shortest, _) in &DURATION_KEYS[..3] {
        let e = err(&template.replace("{}", "3ns"));
        assert_eq!(
            e.message,
            format!("{key}: invalid value \"3ns\": must be at least {shortest}")
        );
    }
    for (template, key, ..) in [DURATION_KEYS[4], DURATION_KEYS[5]] {
        let e = err(&template.replace("{}", "1ms"));
        assert_eq!(
            e.message,
            format!("{key}: invalid value \"1ms\": must be at least 10ms")
        );
    }
    // The fast interval derived from the shortest interval is not shorter than it.
    let c = ok("probes:\n  p:\n    exec: [/bin/true]\n    interval: 10ms\n");
    assert_eq!(c.probes[0].fast_interval, Duration::from_millis(10));
}

#[test]
fn process_and_listen_probes_and_fast_fail() {
    let c = ok("probes:\n  \
         nginx: {process: {pidfile: /run/nginx.pid}, interval: 2s, fall: 3}\n  \
         workers: {process: {name: nginx, owner: www-data}}\n  \
         port: {listen: \"127.0.0.1:8080\"}\n  \
         v6: {listen: \"[::]:443\"}\n  \
         dns: {listen: \"*:53/udp\"}\n  \
         web: {tcp: 127.0.0.1:80, fast_fail: true}\n");
    let check = |name: &str| {
        let probe = c.probes.iter().find(|p| p.name == name).unwrap();
        (probe.check.clone(), probe.fast_fail)
    };
    assert_eq!(
        check("nginx"),
        (
            Check::Process(ProcessTarget::Pidfile("/run/nginx.pid".into())),
            false
        )
    );
    assert_eq!(
        check("workers").0,
        Check::Process(ProcessTarget::Name {
            name: "nginx".into(),
            owner: Some("www-data".into())
        })
    );
    let listen = |text: &str| Check::Listen(text.parse().unwrap());
    assert_eq!(check("port").0, listen("127.0.0.1:8080"));
    assert_eq!(check("v6").0, listen("[::]:443"));
    assert_eq!(check("dns").0, listen("*:53/udp"));
    assert_eq!(
        "*:53/udp".parse::<ListenTarget>().unwrap(),
        ListenTarget {
            ip: None,
            port: 53,
            udp: true
        }
    );
    assert!(check("web").1);
    // What check-config prints reads back the same.
    let again = ok(&render(&c));
    assert_eq!(again.probes, c.probes);

    let cases = [
        (
            "probes:\n  p:\n    process: {pidfile: run/x.pid}\n",
            "probes.p.process.pidfile: invalid value \"run/x.pid\": give an absolute path",
        ),
        (
            "probes:\n  p:\n    process: {}\n",
            "probes.p.process: a process probe needs exactly one of pidfile or name",
        ),
        (
            "probes:\n  p:\n    process: {pidfile: /run/x.pid, name: x}\n",
            "probes.p.process: a process probe needs exactly one of pidfile or name",
        ),
        (
            "probes:\n  p:\n    process: {pidfile: /run/x.pid, owner: root}\n",
            "probes.p.process: owner applies to name only",
        ),
        (
            "probes:\n  p:\n    process: {name: php-fpm-worker-pool}\n",
            "probes.p.process.name: invalid value \"php-fpm-worker-pool\": the kernel keeps at most 15 bytes of a process name: write \"php-fpm-worker-\"",
        ),
        (
            "probes:\n  p:\n    process: {name: usr/bin/x}\n",
            "probes.p.process.name: invalid value \"usr/bin/x\": a process name",
        ),
        (
            "probes:\n  p:\n    process: {name: x, user: root}\n",
            "probes.p.process: unknown field `user`",
        ),
        (
            "probes:\n  p:\n    listen: \"localhost:80\"\n",
            "probes.p.listen: invalid value \"localhost:80\": expected IP:PORT, [IPv6]:PORT or *:PORT",
        ),
        (
            "probes:\n  p:\n    listen: \"*:http\"\n",
            "probes.p.listen: invalid value \"*:http\": expected IP:PORT",
        ),
        (
            "probes:\n  p:\n    listen: \"*:70000\"\n",
            "probes.p.listen: invalid value \"*:70000\": expected IP:PORT",
        ),
        (
            "probes:\n  p:\n    listen: \"*:0\"\n",
            "probes.p.listen: invalid value \"*:0\": port 0 is not a port",
        ),
        (
            "probes:\n  p:\n    listen: \"*:53/sctp\"\n",
            "probes.p.listen: invalid value \"*:53/sctp\": expected IP:PORT",
        ),
        (
            "probes:\n  p:\n    listen: \"127.0.0.1:80\"\n    fast_fail: true\n",
            "probes.p: fast_fail applies to tcp and http probes",
        ),
        (
            "probes:\n  p:\n    listen: \"127.0.0.1:80\"\n    user: root\n",
            "probes.p: user applies to exec and shell probes, not listen",
        ),
    ];
    for (text, expected) in cases {
        let e = err(text);
        assert!(
            e.message.starts_with(expected),
            "{text:?}\n  got:      {}\n  expected: {expected}",
            e.message
        );
    }
}

#[test]
fn a_process_probe_is_refused_under_hidepid() {
    let plain = "22 26 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n";
    assert_eq!(hidepid_problem(plain), None);
    let sandboxed =
        "22 26 0:21 / /proc rw,nosuid shared:12 - proc proc rw,hidepid=invisible,subset=pid\n";
    let problem = hidepid_problem(sandboxed).unwrap();
    assert!(
        problem.starts_with("/proc is mounted with hidepid=invisible")
            && problem.contains("ProtectProc=default"),
        "{problem}"
    );
    let unreadable = "22 26 0:21 / /proc rw shared:12 - proc proc rw,hidepid=noaccess\n";
    assert!(hidepid_problem(unreadable).is_some());
    let visible = "22 26 0:21 / /proc rw shared:12 - proc proc rw,hidepid=off\n";
    assert_eq!(hidepid_problem(visible), None);
    // Another proc mount elsewhere does not matter.
    let elsewhere = "30 26 0:40 / /run/x/proc rw - proc proc rw,hidepid=2\n";
    assert_eq!(hidepid_problem(elsewhere), None);
}
