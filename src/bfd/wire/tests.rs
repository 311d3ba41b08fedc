use super::*;

/// Bytes written out by hand from the RFC 5880 §4.1 layout.
///
/// Our first packet: version 1, diag 0, state Down, no flags, multiplier 3, length 24, my
/// discriminator 0x0102_0304, your discriminator 0, desired min TX 1 s (slow start), required min
/// RX 300 ms, no echo.
const DOWN_SLOW_START: [u8; 24] = [
    0x20, // version 1 << 5 | diag 0
    0x40, // state Down (1) << 6, no flags
    0x03, // detect mult
    0x18, // length 24
    0x01, 0x02, 0x03, 0x04, // my discriminator
    0x00, 0x00, 0x00, 0x00, // your discriminator
    0x00, 0x0f, 0x42, 0x40, // 1,000,000 µs
    0x00, 0x04, 0x93, 0xe0, // 300,000 µs
    0x00, 0x00, 0x00, 0x00, // no echo
];

/// Up with the Poll bit after a detection-time expiry earlier (diag 1): 0x21 = version 1 | diag 1,
/// 0xe0 = Up (3 << 6) | P (0x20).
const UP_POLL_DIAG1: [u8; 24] = [
    0x21, 0xe0, 0x05, 0x18, //
    0xde, 0xad, 0xbe, 0xef, //
    0x00, 0x00, 0x00, 0x2a, //
    0x00, 0x04, 0x93, 0xe0, // 300 ms
    0x00, 0x01, 0x86, 0xa0, // 100 ms
    0x00, 0x00, 0xc3, 0x50, // 50 ms echo
];

/// Captured from FRR bfdd 8.4.4 in the integration lab (`tcpdump -x 'udp port 4784'` in the host
/// namespace, profile 1000 ms × 3, multihop): its session with one of our hosts coming up, and
/// going down when our session said AdminDown at the end of the test.
const FRR_INIT: &str = "20800318d780c1ef05458bca000f4240000f42400000c350";
const FRR_UP_POLL: &str = "20e00318d780c1ef05458bca000f4240000f42400000c350";
const FRR_UP: &str = "20c00318d780c1ef05458bca000f4240000f42400000c350";
const FRR_DOWN_NEIGHBOR_SIGNALED: &str = "23400318d780c1ef05458bca000f4240000f42400000c350";

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn down_slow_start() -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::NONE,
        state: State::Down,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 0x0102_0304,
        your_discriminator: 0,
        desired_min_tx: 1_000_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
    }
}

fn up_poll_diag1() -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::CONTROL_DETECTION_TIME_EXPIRED,
        state: State::Up,
        poll: true,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 5,
        my_discriminator: 0xdead_beef,
        your_discriminator: 42,
        desired_min_tx: 300_000,
        required_min_rx: 100_000,
        required_min_echo_rx: 50_000,
    }
}

#[test]
fn golden_vectors_encode_and_decode_both_ways() {
    for (bytes, packet) in [
        (DOWN_SLOW_START, down_slow_start()),
        (UP_POLL_DIAG1, up_poll_diag1()),
    ] {
        assert_eq!(encode(&packet), bytes, "encode {packet:?}");
        assert_eq!(decode(&bytes), Ok(packet), "decode {bytes:02x?}");
    }
}

#[test]
fn frr_bfdd_packets_decode_and_encode_back_to_the_same_bytes() {
    let frr = |state, poll, diagnostic| ControlPacket {
        diagnostic,
        state,
        poll,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 0xd780_c1ef,
        your_discriminator: 0x0545_8bca,
        desired_min_tx: 1_000_000,
        required_min_rx: 1_000_000,
        // FRR offers to take echo packets every 50 ms; we never send any.
        required_min_echo_rx: 50_000,
    };
    for (hex, packet) in [
        (FRR_INIT, frr(State::Init, false, Diagnostic::NONE)),
        (FRR_UP_POLL, frr(State::Up, true, Diagnostic::NONE)),
        (FRR_UP, frr(State::Up, false, Diagnostic::NONE)),
        (
            FRR_DOWN_NEIGHBOR_SIGNALED,
            frr(
                State::Down,
                false,
                Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN,
            ),
        ),
    ] {
        let bytes = from_hex(hex);
        assert_eq!(decode(&bytes), Ok(packet), "{hex}");
        assert_eq!(encode(&packet).to_vec(), bytes, "{hex}");
    }
}

#[test]
fn every_flag_and_state_survives_a_round_trip() {
    for state in [State::AdminDown, State::Down, State::Init, State::Up] {
        for bits in 0u8..16 {
            let packet = ControlPacket {
                state,
                poll: bits & 1 != 0,
                final_: bits & 2 != 0,
                control_plane_independent: bits & 4 != 0,
                demand: bits & 8 != 0,
                your_discriminator: 7,
                diagnostic: Diagnostic(31),
                ..down_slow_start()
            };
            assert_eq!(decode(&encode(&packet)), Ok(packet));
        }
    }
}

#[test]
fn final_and_demand_bits_sit_where_the_rfc_puts_them() {
    let packet = ControlPacket {
        state: State::Init,
        final_: true,
        demand: true,
        your_discriminator: 1,
        ..down_slow_start()
    };
    // Init (2) << 6 | F (0x10) | D (0x02).
    assert_eq!(encode(&packet)[1], 0x80 | 0x10 | 0x02);
}

#[test]
fn wrong_version_is_refused() {
    let mut bytes = DOWN_SLOW_START;
    bytes[0] = (2 << 5) | 1;
    assert_eq!(decode(&bytes), Err(DecodeError::BadVersion(2)));
    bytes[0] = 0;
    assert_eq!(decode(&bytes), Err(DecodeError::BadVersion(0)));
    // Also on a short datagram: it is not BFD at all.
    assert_eq!(decode(&[0x40, 0x40]), Err(DecodeError::BadVersion(2)));
}

#[test]
fn length_below_24_or_beyond_the_datagram_is_refused() {
    let mut bytes = DOWN_SLOW_START;
    bytes[3] = 23;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::BadLength {
            length: 23,
            datagram: 24
        })
    );
    bytes[3] = 25;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::BadLength {
            length: 25,
            datagram: 24
        })
    );
    assert_eq!(
        decode(&DOWN_SLOW_START[..23]),
        Err(DecodeError::Truncated(23))
    );
    assert_eq!(decode(&[]), Err(DecodeError::Truncated(0)));
}

#[test]
fn trailing_bytes_after_the_length_are_ignored() {
    let mut datagram = DOWN_SLOW_START.to_vec();
    datagram.extend_from_slice(&[0xff; 8]);
    assert_eq!(decode(&datagram), Ok(down_slow_start()));
}

#[test]
fn multiplier_zero_is_refused() {
    let mut bytes = DOWN_SLOW_START;
    bytes[2] = 0;
    assert_eq!(decode(&bytes), Err(DecodeError::ZeroMultiplier));
}

#[test]
fn multipoint_bit_is_refused() {
    let mut bytes = DOWN_SLOW_START;
    bytes[1] |= 0x01;
    assert_eq!(decode(&bytes), Err(DecodeError::Multipoint));
}

#[test]
fn my_discriminator_zero_is_refused() {
    let mut bytes = DOWN_SLOW_START;
    bytes[4..8].fill(0);
    assert_eq!(decode(&bytes), Err(DecodeError::ZeroMyDiscriminator));
}

#[test]
fn your_discriminator_zero_is_allowed_only_in_down_and_admin_down() {
    for (state_bits, state) in [
        (0x00, State::AdminDown),
        (0x40, State::Down),
        (0x80, State::Init),
        (0xc0, State::Up),
    ] {
        let mut bytes = DOWN_SLOW_START;
        bytes[1] = state_bits;
        let result = decode(&bytes);
        match state {
            State::AdminDown | State::Down => assert_eq!(result.map(|p| p.state), Ok(state)),
            State::Init | State::Up => {
                assert_eq!(result, Err(DecodeError::ZeroYourDiscriminator(state)))
            }
        }
    }
}

#[test]
fn authentication_bit_is_refused_and_needs_room_for_its_section() {
    // A bit with a keyed SHA1 section (type 4, length 28): well formed, but we run no
    // authentication, so §6.8.6 discards it.
    let mut datagram = DOWN_SLOW_START.to_vec();
    datagram[1] |= 0x04;
    datagram[3] = 24 + 28;
    datagram.extend_from_slice(&[4, 28]);
    datagram.extend_from_slice(&[0; 26]);
    assert_eq!(decode(&datagram), Err(DecodeError::Authentication));
    // A bit but a length with no room for the section.
    let mut bytes = DOWN_SLOW_START;
    bytes[1] |= 0x04;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::BadLength {
            length: 24,
            datagram: 24
        })
    );
}

#[test]
fn unknown_diagnostics_are_carried_and_named_unassigned() {
    let mut bytes = DOWN_SLOW_START;
    bytes[0] = 0x20 | 17;
    let packet = decode(&bytes).unwrap();
    assert_eq!(packet.diagnostic, Diagnostic(17));
    assert_eq!(packet.diagnostic.to_string(), "17 (unassigned)");
    assert_eq!(
        Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN.to_string(),
        "3 (neighbor signaled session down)"
    );
}

#[test]
fn seeded_mutations_of_the_golden_vectors_never_panic_and_reencode_equal() {
    let mut rng = fastrand::Rng::with_seed(5880);
    for _ in 0..20_000 {
        let mut bytes = match rng.u8(0..3) {
            0 => DOWN_SLOW_START.to_vec(),
            1 => UP_POLL_DIAG1.to_vec(),
            _ => from_hex(FRR_UP_POLL),
        };
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(..);
        }
        bytes.truncate(rng.usize(0..=bytes.len() + 4).min(bytes.len()));
        if let Ok(packet) = decode(&bytes) {
            assert_eq!(decode(&encode(&packet)), Ok(packet));
        }
    }
}
