//! Scripts on a fake clock: `t0` is any instant; time only moves when a test says so.

use super::*;
use crate::bfd::wire::encode;

const LOCAL: u32 = 0x0a0b_0c0d;
const REMOTE: u32 = 77;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> SessionConfig {
    SessionConfig {
        desired_min_tx: ms(300),
        required_min_rx: ms(300),
        detect_mult: 3,
        min_ttl: 254,
    }
}

/// What the route server sends: its state, our discriminator once it knows it, 300 ms × 3.
fn remote(state: State) -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::NONE,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: REMOTE,
        your_discriminator: if state == State::Down { 0 } else { LOCAL },
        desired_min_tx: 300_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
    }
}

fn feed(session: &mut Session, now: Instant, packet: ControlPacket) -> Vec<Action> {
    let bytes = encode(&packet);
    session.handle(
        now,
        0.0,
        Input::Datagram {
            bytes: &bytes,
            ttl: 255,
        },
    )
}

fn sent(actions: &[Action]) -> Vec<ControlPacket> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn changes(actions: &[Action]) -> Vec<(State, State, Diagnostic)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChanged {
                from,
                to,
                diagnostic,
            } => Some((*from, *to, *diagnostic)),
            _ => None,
        })
        .collect()
}

fn path_down(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::PathDown(_)))
}

/// A session brought Up by the three-way handshake, its Poll sequence answered.
fn up_session(t0: Instant) -> Session {
    let mut session = Session::new(config(), LOCAL, t0);
    feed(&mut session, t0, remote(State::Down));
    feed(&mut session, t0, remote(State::Up));
    assert_eq!(session.state(), State::Up);
    feed(
        &mut session,
        t0,
        ControlPacket {
            final_: true,
            ..remote(State::Up)
        },
    );
    session
}

#[test]
fn a_new_session_is_down_and_sends_at_once_at_the_slow_rate() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    assert_eq!(session.poll_timeout(), Some(t0));
    let actions = session.handle_timeout(t0, 0.0);
    let packets = sent(&actions);
    assert_eq!(packets.len(), 1);
    let first = packets[0];
    assert_eq!(first.state, State::Down);
    assert_eq!(first.your_discriminator, 0);
    assert_eq!(first.my_discriminator, LOCAL);
    assert_eq!(first.desired_min_tx, 1_000_000, "slow TX while not Up");
    assert_eq!(first.required_min_rx, 300_000);
    assert!(!first.poll && !first.final_ && !first.demand && !first.control_plane_independent);
    // Next one a jittered second later: 75 % of it with random 0.
    assert_eq!(session.poll_timeout(), Some(t0 + ms(750)));
    assert!(!session.status().answered);
}

#[test]
fn down_hearing_down_goes_init_and_tells_the_peer_at_once() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    let actions = feed(&mut session, t0, remote(State::Down));
    assert_eq!(
        changes(&actions),
        [(State::Down, State::Init, Diagnostic::NONE)]
    );
    let reply = sent(&actions);
    assert_eq!(reply.len(), 1);
    assert_eq!(reply[0].state, State::Init);
    assert_eq!(reply[0].your_discriminator, REMOTE);
}

#[test]
fn down_hearing_init_goes_up() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    let actions = feed(&mut session, t0, remote(State::Init));
    assert_eq!(
        changes(&actions),
        [(State::Down, State::Up, Diagnostic::NONE)]
    );
}

#[test]
fn down_hearing_up_stays_down() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    let actions = feed(&mut session, t0, remote(State::Up));
    assert!(changes(&actions).is_empty());
    assert_eq!(session.state(), State::Down);
}

#[test]
fn init_hearing_init_or_up_goes_up_and_down_keeps_it_in_init() {
    for (heard, expected) in [
        (State::Init, State::Up),
        (State::Up, State::Up),
        (State::Down, State::Init),
    ] {
        let t0 = Instant::now();
        let mut session = Session::new(config(), LOCAL, t0);
        feed(&mut session, t0, remote(State::Down));
        assert_eq!(session.state(), State::Init);
        feed(&mut session, t0, remote(heard));
        assert_eq!(session.state(), expected, "Init hearing {heard:?}");
    }
}

#[test]
fn init_hearing_admin_down_goes_down_without_a_path_failure() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    feed(&mut session, t0, remote(State::Down));
    let actions = feed(&mut session, t0, remote(State::AdminDown));
    assert_eq!(
        changes(&actions),
        [(
            State::Init,
            State::Down,
            Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN
        )]
    );
    assert!(!path_down(&actions));
}

#[test]
fn up_hearing_down_goes_down_with_diag_3_and_takes_the_client_down() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    let actions = feed(&mut session, t0 + ms(100), remote(State::Down));
    assert_eq!(
        changes(&actions),
        [(
            State::Up,
            State::Down,
            Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN
        )]
    );
    assert!(path_down(&actions));
    assert_eq!(session.status().path_failures, 1);
    let told = sent(&actions);
    assert_eq!(told[0].state, State::Down);
    assert_eq!(
        told[0].diagnostic,
        Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN
    );
}

#[test]
fn up_hearing_admin_down_goes_down_but_leaves_the_client_up() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    let actions = feed(&mut session, t0 + ms(100), remote(State::AdminDown));
    assert_eq!(session.state(), State::Down);
    assert!(!path_down(&actions), "RFC 5882: AdminDown is not a failure");
    assert_eq!(session.status().path_failures, 0);
    // And it comes back through the normal handshake when the operator enables BFD again.
    feed(&mut session, t0 + ms(200), remote(State::Down));
    feed(&mut session, t0 + ms(200), remote(State::Up));
    assert_eq!(session.state(), State::Up);
}

#[test]
fn down_hearing_admin_down_stays_down() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    let actions = feed(&mut session, t0, remote(State::AdminDown));
    assert!(changes(&actions).is_empty());
}

#[test]
fn detection_time_is_the_remote_multiplier_times_the_slower_of_our_rx_and_its_tx() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    // Remote: 5 × max(our 300 ms, its 1 s) = 5 s.
    feed(
        &mut session,
        t0,
        ControlPacket {
            detect_mult: 5,
            desired_min_tx: 1_000_000,
            ..remote(State::Down)
        },
    );
    assert_eq!(session.detection_time(), Duration::from_secs(5));
    // Remote: 2 × max(our 300 ms, its 100 ms) = 600 ms.
    feed(
        &mut session,
        t0,
        ControlPacket {
            detect_mult: 2,
            desired_min_tx: 100_000,
            ..remote(State::Init)
        },
    );
    assert_eq!(session.detection_time(), ms(600));
    assert_eq!(session.status().detection_time, ms(600));
}

#[test]
fn silence_for_the_detection_time_takes_an_up_session_down_with_diag_1() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    let t1 = t0 + ms(250);
    feed(&mut session, t1, remote(State::Up));
    // 3 × 300 ms after the last packet, not before.
    let deadline = t1 + ms(900);
    let mut now = t1;
    let mut steps = 0;
    while session.state() == State::Up {
        steps += 1;
        assert!(steps < 100, "bounded");
        now = session.poll_timeout().expect("a deadline");
        let actions = session.handle_timeout(now, 0.5);
        if session.state() == State::Down {
            assert_eq!(now, deadline);
            assert_eq!(
                changes(&actions),
                [(
                    State::Up,
                    State::Down,
                    Diagnostic::CONTROL_DETECTION_TIME_EXPIRED
                )]
            );
            assert!(path_down(&actions));
            assert_eq!(sent(&actions)[0].state, State::Down);
        }
    }
    assert!(now <= deadline);
    let status = session.status();
    assert_eq!(status.remote_discriminator, 0, "§6.8.1 reset after silence");
    assert!(status.answered, "down, not 'never answered'");
}

#[test]
fn silence_in_init_goes_down_without_a_path_failure() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    feed(&mut session, t0, remote(State::Down));
    let actions = session.handle_timeout(t0 + ms(900), 0.0);
    assert_eq!(
        changes(&actions),
        [(
            State::Init,
            State::Down,
            Diagnostic::CONTROL_DETECTION_TIME_EXPIRED
        )]
    );
    assert!(!path_down(&actions));
}

#[test]
fn every_packet_restarts_detection() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    for i in 1..=10 {
        feed(&mut session, t0 + ms(800 * i), remote(State::Up));
        session.handle_timeout(t0 + ms(800 * i), 0.0);
    }
    assert_eq!(session.state(), State::Up, "800 ms gaps are inside 900 ms");
}

#[test]
fn going_up_starts_a_poll_sequence_that_the_final_ends() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    feed(&mut session, t0, remote(State::Down));
    let actions = feed(&mut session, t0, remote(State::Up));
    let told = sent(&actions);
    assert_eq!(told[0].state, State::Up);
    assert!(told[0].poll, "the new 300 ms TX is announced with P");
    assert_eq!(told[0].desired_min_tx, 300_000);
    // Periodic packets keep P until F comes back.
    let now = session.poll_timeout().unwrap();
    let periodic = sent(&session.handle_timeout(now, 0.0));
    assert!(periodic.iter().all(|p| p.poll));
    feed(
        &mut session,
        now,
        ControlPacket {
            final_: true,
            ..remote(State::Up)
        },
    );
    let now = session.poll_timeout().unwrap();
    let after = sent(&session.handle_timeout(now, 0.0));
    assert!(!after.is_empty() && after.iter().all(|p| !p.poll));
}

#[test]
fn no_poll_when_the_configured_tx_is_already_the_slow_one() {
    let t0 = Instant::now();
    let slow = SessionConfig {
        desired_min_tx: SLOW_TX,
        ..config()
    };
    let mut session = Session::new(slow, LOCAL, t0);
    feed(&mut session, t0, remote(State::Down));
    let actions = feed(&mut session, t0, remote(State::Up));
    assert!(sent(&actions).iter().all(|p| !p.poll));
}

#[test]
fn a_poll_from_the_peer_is_answered_at_once_with_final_and_never_with_poll() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    feed(&mut session, t0, remote(State::Down));
    // This Up both takes us Up (our Poll starts) and carries the peer's Poll.
    let actions = feed(
        &mut session,
        t0 + ms(10),
        ControlPacket {
            poll: true,
            ..remote(State::Up)
        },
    );
    let told = sent(&actions);
    assert_eq!(told.len(), 1);
    assert!(told[0].final_ && !told[0].poll);
    // A Poll while nothing else changes is answered too.
    let actions = feed(
        &mut session,
        t0 + ms(20),
        ControlPacket {
            poll: true,
            ..remote(State::Up)
        },
    );
    let told = sent(&actions);
    assert_eq!(told.len(), 1);
    assert!(told[0].final_);
}

#[test]
fn tx_is_slow_while_not_up_then_the_configured_interval_or_the_peers_minimum() {
    let t0 = Instant::now();
    let session = Session::new(config(), LOCAL, t0);
    assert_eq!(session.status().tx_interval, SLOW_TX);
    let mut session = up_session(t0);
    assert_eq!(session.status().tx_interval, ms(300));
    // The peer can take only one every 2 s: we slow down.
    let slow_peer = |state| ControlPacket {
        required_min_rx: 2_000_000,
        ..remote(state)
    };
    feed(&mut session, t0, slow_peer(State::Up));
    assert_eq!(session.status().tx_interval, Duration::from_secs(2));
    // Down again: the one-second floor, or the peer's slower minimum.
    feed(&mut session, t0, slow_peer(State::Down));
    assert_eq!(session.status().tx_interval, Duration::from_secs(2));
    feed(&mut session, t0, remote(State::Down));
    assert_eq!(session.status().tx_interval, SLOW_TX);
}

#[test]
fn jitter_is_75_to_100_percent_and_75_to_90_with_multiplier_1() {
    let second = Duration::from_secs(1);
    assert_eq!(jittered(second, 3, 0.0), ms(750));
    assert_eq!(jittered(second, 3, 0.5), ms(875));
    assert!(jittered(second, 3, 0.999_999) <= second);
    assert!(jittered(second, 3, 0.999_999) > ms(999));
    assert_eq!(jittered(second, 1, 0.0), ms(750));
    assert!(jittered(second, 1, 0.999_999) <= ms(900));
    assert!(jittered(second, 1, 0.999_999) > ms(899));
    // Out-of-range fractions are clamped rather than trusted.
    assert_eq!(jittered(second, 3, 7.0), second);
}

#[test]
fn periodic_packets_follow_the_jittered_interval() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    let due = session.poll_timeout().unwrap();
    session.handle_timeout(due, 0.4);
    // Detection (900 ms from t0) is later than the next TX: 300 ms × (0.75 + 0.25 × 0.4).
    assert_eq!(session.poll_timeout(), Some(due + ms(255)));
}

#[test]
fn a_peer_wanting_no_packets_gets_none_but_is_still_watched() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    feed(
        &mut session,
        t0,
        ControlPacket {
            required_min_rx: 0,
            ..remote(State::Up)
        },
    );
    let mut now = t0;
    let mut steps = 0;
    while session.state() == State::Up {
        steps += 1;
        assert!(steps < 10, "bounded");
        now = session.poll_timeout().unwrap();
        let actions = session.handle_timeout(now, 0.0);
        assert!(sent(&actions).iter().all(|p| p.state != State::Up));
    }
    assert_eq!(now, t0 + ms(900), "detection still runs");
    // Once down we send again (slowly), so the session can come back.
    let next = session.poll_timeout().unwrap();
    assert_eq!(
        sent(&session.handle_timeout(next, 0.0))[0].state,
        State::Down
    );
}

#[test]
fn the_remote_demand_bit_stops_periodic_packets_while_both_are_up() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    let actions = feed(
        &mut session,
        t0,
        ControlPacket {
            demand: true,
            ..remote(State::Up)
        },
    );
    assert!(sent(&actions).is_empty());
    // Only the detection deadline is left; it still applies (we are not in Demand mode).
    assert_eq!(session.poll_timeout(), Some(t0 + ms(900)));
    // A Poll from the peer in Demand mode is still answered.
    let actions = feed(
        &mut session,
        t0 + ms(10),
        ControlPacket {
            demand: true,
            poll: true,
            ..remote(State::Up)
        },
    );
    assert!(sent(&actions)[0].final_);
}

fn assert_dropped(session: &mut Session, bytes: &[u8], ttl: u8, reason: &'static str) {
    let mut before = session.status();
    *before.dropped.entry(reason).or_default() += 1;
    let actions = session.handle(Instant::now(), 0.0, Input::Datagram { bytes, ttl });
    match actions.as_slice() {
        [Action::Dropped(why)] => assert_eq!(why.reason(), reason, "{why}"),
        other => panic!("expected one drop ({reason}), got {other:?}"),
    }
    assert_eq!(session.status(), before, "a dropped packet changes nothing");
}

#[test]
fn bad_packets_are_dropped_with_their_reason_and_change_nothing() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    let good = encode(&remote(State::Down));

    let mut wrong_version = good;
    wrong_version[0] = (2 << 5) | (wrong_version[0] & 0x1f);
    assert_dropped(&mut session, &wrong_version, 255, "bad_version");

    let mut short_length = good;
    short_length[3] = 20;
    assert_dropped(&mut session, &short_length, 255, "bad_length");
    assert_dropped(&mut session, &good[..20], 255, "bad_length");

    let mut zero_mult = good;
    zero_mult[2] = 0;
    assert_dropped(&mut session, &zero_mult, 255, "zero_multiplier");

    let mut zero_my = good;
    zero_my[4..8].fill(0);
    assert_dropped(&mut session, &zero_my, 255, "zero_discriminator");

    let up_without_your = ControlPacket {
        your_discriminator: 0,
        ..remote(State::Up)
    };
    assert_dropped(
        &mut session,
        &encode(&up_without_your),
        255,
        "zero_discriminator",
    );

    let someone_else = ControlPacket {
        your_discriminator: LOCAL + 1,
        ..remote(State::Down)
    };
    assert_dropped(
        &mut session,
        &encode(&someone_else),
        255,
        "unknown_discriminator",
    );

    let mut with_auth = good;
    with_auth[1] |= 0x04;
    assert_dropped(&mut session, &with_auth, 255, "bad_length");

    // A Down that would take the session down, but from too far away.
    assert_dropped(&mut session, &good, 253, "low_ttl");
    assert_eq!(session.state(), State::Up);
    let dropped = session.status().dropped;
    assert_eq!(dropped["bad_length"], 3);
    assert_eq!(dropped["zero_discriminator"], 2);
    assert_eq!(dropped.values().sum::<u64>(), 9);
}

#[test]
fn single_hop_wants_ttl_255() {
    let t0 = Instant::now();
    let single_hop = SessionConfig {
        min_ttl: 255,
        ..config()
    };
    let mut session = Session::new(single_hop, LOCAL, t0);
    let bytes = encode(&remote(State::Down));
    assert_dropped(&mut session, &bytes, 254, "low_ttl");
    session.handle(
        t0,
        0.0,
        Input::Datagram {
            bytes: &bytes,
            ttl: 255,
        },
    );
    assert_eq!(session.state(), State::Init);
}

#[test]
fn admin_down_tells_the_peer_and_ignores_it_afterwards() {
    let t0 = Instant::now();
    let mut session = up_session(t0);
    let actions = session.handle(t0, 0.0, Input::AdminDown);
    assert_eq!(
        changes(&actions),
        [(
            State::Up,
            State::AdminDown,
            Diagnostic::ADMINISTRATIVELY_DOWN
        )]
    );
    assert!(!path_down(&actions), "our own stop is no path failure");
    let told = sent(&actions);
    assert_eq!(told[0].state, State::AdminDown);
    assert_eq!(told[0].diagnostic, Diagnostic::ADMINISTRATIVELY_DOWN);
    let actions = feed(&mut session, t0, remote(State::Down));
    assert!(actions.is_empty());
    assert_eq!(session.state(), State::AdminDown);
}

#[test]
fn a_peer_that_never_answers_is_reported_as_such() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0);
    let mut now = t0;
    for _ in 0..10 {
        now = session.poll_timeout().unwrap();
        session.handle_timeout(now, 0.3);
    }
    assert!(now > t0 + Duration::from_secs(7));
    let status = session.status();
    assert!(!status.answered);
    assert_eq!(status.state, State::Down);
    assert_eq!(status.detection_time, Duration::ZERO);
}

#[test]
fn frr_bfdds_captured_handshake_brings_us_up_and_its_poll_gets_our_final() {
    // The same bytes as the codec's FRR vectors: bfdd 8.4.4, 1000 ms × 3, our discriminator
    // 0x05458bca.
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    let t0 = Instant::now();
    let mut session = Session::new(config(), 0x0545_8bca, t0);
    session.handle_timeout(t0, 0.0);
    let init = hex("20800318d780c1ef05458bca000f4240000f42400000c350");
    let actions = session.handle(
        t0,
        0.0,
        Input::Datagram {
            bytes: &init,
            ttl: 255,
        },
    );
    assert_eq!(
        changes(&actions),
        [(State::Down, State::Up, Diagnostic::NONE)]
    );
    let up_poll = hex("20e00318d780c1ef05458bca000f4240000f42400000c350");
    let actions = session.handle(
        t0,
        0.0,
        Input::Datagram {
            bytes: &up_poll,
            ttl: 255,
        },
    );
    let told = sent(&actions);
    assert_eq!(told.len(), 1);
    assert!(told[0].final_ && !told[0].poll, "{told:?}");
    assert_eq!(told[0].your_discriminator, 0xd780_c1ef);
    // FRR's 1 s × 3 with our 300 ms: its packets are expected every second, so 3 s.
    assert_eq!(session.detection_time(), Duration::from_secs(3));
    // And it asks for at most one packet a second from us.
    assert_eq!(session.status().tx_interval, Duration::from_secs(1));
}
