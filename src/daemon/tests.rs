//! Helpers for the daemon's unit tests.

use crate::cli::{self, Command};
use crate::settings::{BgpSettings, ByMode, Settings};

/// The settings `elastic -dcid 14 -primary <flags>` runs with (no config file); `-secondary`
/// replaces `-primary`.
pub(super) fn settings(flags: &[&str]) -> Settings<BgpSettings> {
    let mut args = vec!["-dcid", "14"];
    // One role flag, as lelastic wants.
    if !flags.contains(&"-secondary") {
        args.push("-primary");
    }
    args.extend_from_slice(flags);
    match cli::parse(args) {
        Ok(Command::Run(invocation)) => match crate::settings::resolve(&invocation.flags, None) {
            Ok(settings) => match settings.by_mode() {
                ByMode::Bgp(settings) => *settings,
                ByMode::Vrrp(_) => panic!("{flags:?}: VRRP mode"),
            },
            Err(error) => panic!("{flags:?}: {error}"),
        },
        Ok(other) => panic!("{flags:?}: not a run: {other:?}"),
        Err(error) => panic!("{flags:?}: {error}"),
    }
}

/// The health section of a config file (probes, services, maintenance file, hook) as the
/// daemon gets it.
pub(super) fn health(yaml: &str) -> crate::config::HealthConfig {
    let path = std::path::Path::new("/etc/elastic/test.yaml");
    let file = match crate::config::parse(yaml, path) {
        Ok(file) => file,
        Err(error) => panic!("{yaml}: {error}"),
    };
    let Ok(Command::Run(invocation)) = cli::parse(["-dcid", "14", "-primary"]) else {
        panic!("flags");
    };
    match crate::settings::resolve(&invocation.flags, Some((path, &file))) {
        Ok(settings) => settings.health,
        Err(error) => panic!("{yaml}: {error}"),
    }
}

/// The whole daemon (real netlink, a real BGP session over loopback) under paused time, in a
/// network namespace of its own (root only: the test fails without it, it never skips).
///
/// The scripted route server runs as a blocking task: tokio never auto-advances paused time
/// while one runs, so every second that passes is one the test advances on purpose, and the
/// peer's real-time replies cannot race the daemon's timers.
mod paused {
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, TcpListener};
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::settings;
    use crate::addrs::Netlink;
    use crate::bgp::wire::{
        self, Capability, DecodeContext, Message, Notification, Open, encode_open,
    };
    use crate::clock;
    use crate::daemon::{self, OperatorEvent};
    use crate::model::GRACEFUL_SHUTDOWN;

    const DRAIN: Duration = Duration::from_secs(30);
    /// Real time the scripted peer waits for the daemon's next message before failing the test.
    const PEER_PATIENCE: Duration = Duration::from_secs(20);
    const ADDRESS: &str = "192.0.2.10/32";

    /// What the route server saw, in order.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Keepalive,
        EndOfRib,
        Update {
            announced: u32,
            withdrawn: u32,
            graceful_shutdown: bool,
        },
        Notification(Notification),
        Closed,
    }

    #[test]
    fn a_stop_drains_then_withdraws_then_sends_the_cease_to_a_real_route_server() {
        in_fresh_namespace(|listener| async move {
            let Running {
                mut seen,
                peer,
                events,
                daemon,
            } = start_announced(listener).await;

            let t0 = clock::now();
            events.send(OperatorEvent::Stop("SIGTERM")).await.unwrap();
            assert_eq!(next_update(&mut seen).await, update(1, 0, true));

            // Still serving, drained, one second before the drain time is over.
            tokio::time::advance(DRAIN - Duration::from_secs(1)).await;
            settle().await;
            assert!(seen.try_recv().is_err(), "nothing before the drain time");
            assert!(!daemon.is_finished());

            tokio::time::advance(Duration::from_secs(1)).await;
            assert_eq!(next_update(&mut seen).await, update(0, 1, false));
            expect_cease_and_close(&mut seen, "SIGTERM").await;
            daemon.await.unwrap().expect("an orderly stop");
            // The withdrawal and the Cease were waited for as long as they took, not timed out.
            assert_eq!(clock::now() - t0, DRAIN);
            expect_unbound_and_peer_done(peer).await;
        });
    }

    #[test]
    fn a_panicked_task_becomes_an_orderly_stop_and_an_error_exit() {
        in_fresh_namespace(|listener| async move {
            let Running {
                mut seen,
                peer,
                events,
                daemon,
            } = start_announced(listener).await;

            daemon::forward_panics(events.clone());
            let crashed = tokio::spawn(async { panic!("a task panics (injected by the test)") });
            assert!(crashed.await.is_err_and(|e| e.is_panic()));
            // The same stop as on SIGTERM: drain, withdraw, Cease, unbind.
            assert_eq!(next_update(&mut seen).await, update(1, 0, true));
            tokio::time::advance(DRAIN).await;
            assert_eq!(next_update(&mut seen).await, update(0, 1, false));
            expect_cease_and_close(&mut seen, "panic").await;
            let outcome = daemon.await.unwrap();
            // Back to the default hook before anything else can panic.
            drop(std::panic::take_hook());
            assert!(
                matches!(outcome, Err(daemon::DaemonError::Panicked)),
                "{outcome:?}"
            );
            expect_unbound_and_peer_done(peer).await;
        });
    }

    #[test]
    fn a_second_signal_skips_the_drain_of_a_real_session() {
        in_fresh_namespace(|listener| async move {
            let Running {
                mut seen,
                peer,
                events,
                daemon,
            } = start_announced(listener).await;

            let t0 = clock::now();
            events.send(OperatorEvent::Stop("SIGINT")).await.unwrap();
            assert_eq!(next_update(&mut seen).await, update(1, 0, true));
            events.send(OperatorEvent::Stop("SIGTERM")).await.unwrap();
            assert_eq!(next_update(&mut seen).await, update(0, 1, false));
            // The Cease names the signal that started the stop.
            expect_cease_and_close(&mut seen, "SIGINT").await;
            daemon.await.unwrap().expect("an orderly stop");
            assert_eq!(clock::now() - t0, Duration::ZERO, "no time passed: no wait");
            peer.await.unwrap();
        });
    }

    #[test]
    fn a_reload_that_removes_an_address_withdraws_it_unbinds_it_and_keeps_the_session() {
        let file =
            std::env::temp_dir().join(format!("elastic-daemon-reload-{}.yaml", std::process::id()));
        let config = |addresses: &str| {
            format!(
                "neighbor_pattern: \"192.0.%d.%d\"\nneighbor_slots: [1]\n\
                 addresses: [{addresses}]\ndrain_time: 0s\n"
            )
        };
        std::fs::write(&file, config("192.0.2.10/32, 192.0.2.11/32")).unwrap();
        let path = file.to_str().unwrap().to_string();
        in_fresh_namespace(move |listener| async move {
            let args = ["-dcid", "14", "-primary", "-api", "off", "-config", &path];
            let Ok(crate::cli::Command::Run(invocation)) = crate::cli::parse(args) else {
                panic!("flags");
            };
            let settings =
                crate::settings::effective(&invocation, crate::config::DefaultFile::IfPresent)
                    .expect("the config file");
            assert_eq!(
                settings.bgp().expect("BGP mode").neighbors,
                [IpAddr::V4(Ipv4Addr::new(192, 0, 14, 1))]
            );
            // A neighbor must not be a loopback address: the route server's address goes on an
            // interface of its own (not lo, so it is not announced); the listener takes it too.
            for args in [
                &["link", "add", "rs0", "type", "veth", "peer", "name", "rs1"][..],
                &["address", "add", "192.0.14.1/32", "dev", "rs0"],
                &["link", "set", "rs1", "up"],
                &["link", "set", "rs0", "up"],
            ] {
                let status = std::process::Command::new("ip")
                    .args(args)
                    .status()
                    .unwrap();
                assert!(status.success(), "ip {args:?}: {status}");
            }
            let Running {
                mut seen,
                peer,
                events,
                daemon,
            } = start(listener, settings, Some(invocation));

            let mut announced = 0;
            while announced < 2 {
                let Seen::Update {
                    announced: more,
                    withdrawn: 0,
                    graceful_shutdown: false,
                } = next_update(&mut seen).await
                else {
                    panic!("an announcement expected");
                };
                announced += more;
            }
            tokio::time::advance(Duration::from_millis(50)).await;

            std::fs::write(&path, config("192.0.2.10/32")).unwrap();
            events.send(OperatorEvent::Reload).await.unwrap();
            assert_eq!(next_update(&mut seen).await, update(0, 1, false));
            let mut tries = 0;
            while bound("192.0.2.11/32").await {
                tries += 1;
                assert!(tries < 50, "192.0.2.11 still on lo 10 s after the reload");
                settle().await;
            }
            assert!(bound("192.0.2.10/32").await, "the kept address stays bound");
            // Lets the loop past the settle time of the address change the unbinding caused.
            settle().await;
            tokio::time::advance(Duration::from_millis(50)).await;

            // The same session (the route server takes one connection) carries the stop.
            events.send(OperatorEvent::Stop("SIGTERM")).await.unwrap();
            assert_eq!(next_update(&mut seen).await, update(0, 1, false));
            expect_cease_and_close(&mut seen, "SIGTERM").await;
            daemon.await.unwrap().expect("an orderly stop");
            peer.await.unwrap();
        });
        let _ = std::fs::remove_file(&file);
    }

    /// The daemon under test, with the scripted route server on `listener`.
    struct Running {
        seen: mpsc::UnboundedReceiver<Seen>,
        peer: tokio::task::JoinHandle<()>,
        events: mpsc::Sender<OperatorEvent>,
        daemon: tokio::task::JoinHandle<Result<(), daemon::DaemonError>>,
    }

    /// Starts the route server (blocking, on its own thread) and the daemon with `settings`.
    fn start(
        listener: TcpListener,
        settings: crate::settings::Settings,
        invocation: Option<crate::cli::Invocation>,
    ) -> Running {
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let peer = tokio::task::spawn_blocking(move || route_server(&listener, &seen_tx));
        let (events, events_rx) = mpsc::channel(4);
        let daemon = tokio::spawn(daemon::run(settings, invocation, events_rx));
        Running {
            seen,
            peer,
            events,
            daemon,
        }
    }

    /// [`start`] with [`daemon_settings`], once the route server has the announcement and the
    /// loop is past the settle time of the address change its own bind caused.
    async fn start_announced(listener: TcpListener) -> Running {
        let mut running = start(listener, daemon_settings(), None);
        assert_eq!(next_update(&mut running.seen).await, update(1, 0, false));
        tokio::time::advance(Duration::from_millis(50)).await;
        running
    }

    /// After a stop: [`ADDRESS`] is off lo and the route server saw all it expected.
    async fn expect_unbound_and_peer_done(peer: tokio::task::JoinHandle<()>) {
        assert!(
            !bound(ADDRESS).await,
            "{ADDRESS} still on lo after the stop"
        );
        peer.await.unwrap();
    }

    /// The Cease that names `signal`, then the connection's end.
    async fn expect_cease_and_close(seen: &mut mpsc::UnboundedReceiver<Seen>, signal: &str) {
        assert_eq!(
            next(seen).await,
            Seen::Notification(Notification::cease_admin_shutdown(&format!(
                "elastic stopping ({signal})"
            )))
        );
        assert_eq!(next(seen).await, Seen::Closed);
    }

    fn daemon_settings() -> crate::settings::Settings {
        let mut settings = settings(&["-address", ADDRESS, "-api", "off"]);
        settings.mode.neighbors = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        settings.mode.drain_time = DRAIN;
        settings.into()
    }

    fn update(announced: u32, withdrawn: u32, graceful_shutdown: bool) -> Seen {
        Seen::Update {
            announced,
            withdrawn,
            graceful_shutdown,
        }
    }

    /// Runs `scenario` on a paused current-thread runtime in a thread of its own that
    /// `unshare(CLONE_NEWNET)` moved to a fresh network namespace, with lo up and a listener on
    /// the BGP port (threads started from it share the namespace).
    fn in_fresh_namespace<F, Fut>(scenario: F)
    where
        F: FnOnce(TcpListener) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let outcome = std::thread::spawn(move || {
            if let Err(err) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
                panic!(
                    "this test needs root (CAP_SYS_ADMIN) to create a network namespace with \
                     unshare(CLONE_NEWNET): {err}; run `cargo test` as root (CI does)"
                );
            }
            let status = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status()
                .expect("cannot run `ip` (is iproute2 installed?)");
            assert!(status.success(), "`ip link set lo up` failed: {status}");
            // Every 127/8 address is on lo: route servers at 127.x.y.z all reach this one.
            let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, crate::model::BGP_PORT))
                .expect("the BGP port in a fresh namespace");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .expect("tokio runtime");
            runtime.block_on(scenario(listener));
        })
        .join();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    /// A route server that answers the daemon's OPEN with hold time 0 (no keepalives, no hold
    /// timer: nothing in the session depends on time passing) and reports every message after.
    fn route_server(listener: &TcpListener, seen: &mpsc::UnboundedSender<Seen>) {
        let (mut stream, _) = listener.accept().expect("the daemon connects");
        stream
            .set_read_timeout(Some(PEER_PATIENCE))
            .expect("read timeout");
        let context = DecodeContext {
            four_octet_as: true,
        };
        let open = read_message(&mut stream).expect("the daemon's OPEN");
        assert!(
            matches!(wire::decode(&open, &context), Ok(Message::Open(_))),
            "not an OPEN: {open:02x?}"
        );
        let ours = Open {
            version: 4,
            my_as: 65000,
            hold_time: 0,
            router_id: Ipv4Addr::new(192, 0, 2, 254),
            capabilities: vec![
                Capability::MultiProtocol { afi: 1, safi: 1 },
                Capability::FourOctetAs(65000),
            ],
        };
        stream.write_all(&encode_open(&ours)).expect("send OPEN");
        stream
            .write_all(&wire::encode_keepalive())
            .expect("send KEEPALIVE");
        while let Some(message) = read_message(&mut stream) {
            let graceful_shutdown = carries_graceful_shutdown(&message);
            let what = match wire::decode(&message, &context) {
                Ok(Message::Keepalive) => Seen::Keepalive,
                Ok(Message::Update(summary)) if summary.end_of_rib.is_some() => Seen::EndOfRib,
                Ok(Message::Update(summary)) => Seen::Update {
                    announced: summary.announced,
                    withdrawn: summary.withdrawn,
                    graceful_shutdown,
                },
                Ok(Message::Notification(notification)) => Seen::Notification(notification),
                other => panic!("unexpected from the daemon: {other:?}"),
            };
            if seen.send(what).is_err() {
                return;
            }
        }
        let _ = seen.send(Seen::Closed);
    }

    /// One whole message; `None` when the daemon closed the connection.
    fn read_message(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
        let mut message = vec![0u8; 19];
        match stream.read_exact(&mut message) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(error) => panic!("route server: no message from the daemon: {error}"),
        }
        let length = usize::from(u16::from_be_bytes([message[16], message[17]]));
        message.resize(length, 0);
        stream
            .read_exact(&mut message[19..])
            .expect("the rest of the message");
        Some(message)
    }

    /// Whether an UPDATE's path attributes hold the community 65535:0 (the 16-octet marker and
    /// the length before them cannot spell it).
    fn carries_graceful_shutdown(message: &[u8]) -> bool {
        let community = GRACEFUL_SHUTDOWN.to_be_bytes();
        message.len() > 19 && message[19..].windows(4).any(|w| w == community)
    }

    async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
        seen.recv().await.expect("the route server ended early")
    }

    /// The next UPDATE, past keepalives and End-of-RIB markers.
    async fn next_update(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
        loop {
            match next(seen).await {
                Seen::Keepalive | Seen::EndOfRib => continue,
                other => return other,
            }
        }
    }

    /// Gives the daemon and the route server a moment of real time (paused time stays put: a
    /// blocking task is running).
    async fn settle() {
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(200)))
            .await
            .unwrap();
    }

    async fn bound(address: &str) -> bool {
        let net: ipnet::IpNet = address.parse().unwrap();
        let listed = Netlink::new()
            .expect("netlink")
            .addresses()
            .await
            .expect("list");
        listed
            .iter()
            .any(|found| found.addr == net.addr() && found.prefix_len == net.prefix_len())
    }
}
