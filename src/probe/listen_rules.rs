//! Pure rules of the `listen` probe: which socket seen in a sock_diag dump serves the probe's
//! address, and the socket filter that keeps the kernel's socket-destroy messages to the ones
//! about the probe's port.

use std::net::IpAddr;

use crate::config::ListenTarget;

/// A listening TCP socket or a bound UDP socket, as a sock_diag dump reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundSocket {
    pub address: IpAddr,
    pub port: u16,
    /// An IPv6 socket with IPV6_V6ONLY: `[::]` then does not take IPv4 connections.
    pub v6only: bool,
}

/// Does `socket` serve `target`? Same port, and: `*` takes any address; a wildcard listener
/// (0.0.0.0, or `[::]`, which also takes IPv4 unless v6only) serves every address of its
/// families; otherwise the address must be the same.
pub fn serves(target: &ListenTarget, socket: &BoundSocket) -> bool {
    if socket.port != target.port {
        return false;
    }
    // An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address.
    let Some(wanted) = target.ip.map(|ip| ip.to_canonical()) else {
        return true;
    };
    let bound = socket.address.to_canonical();
    if bound == wanted {
        return true;
    }
    match bound {
        IpAddr::V4(v4) => v4.is_unspecified() && wanted.is_ipv4(),
        IpAddr::V6(v6) => v6.is_unspecified() && (wanted.is_ipv6() || !socket.v6only),
    }
}

/// A classic BPF instruction: (code, jump if true, jump if false, constant).
pub type Insn = (u16, u8, u8, u32);

const LD_H_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS: a big-endian halfword at k
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
/// In a destroy message: the 16-byte netlink header, then inet_diag_msg, whose socket id starts
/// at its byte 4 with the source port, then the destination port (both big-endian).
const SOURCE_PORT_AT: u32 = 16 + 4;
const DESTINATION_PORT_AT: u32 = 16 + 6;

/// The filter for the socket-destroy groups: only sockets on the probe's port get through, so
/// the daemon wakes for nothing else in the namespace. For TCP also only sockets without a peer
/// (destination port 0: a listener), so the service's closing connections, which share its
/// port, do not wake it either.
pub fn destroy_filter(target: &ListenTarget) -> Vec<Insn> {
    let port = u32::from(target.port);
    if target.udp {
        vec![
            (LD_H_ABS, 0, 0, SOURCE_PORT_AT),
            (JEQ_K, 0, 1, port),
            (RET_K, 0, 0, u32::MAX),
            (RET_K, 0, 0, 0),
        ]
    } else {
        vec![
            (LD_H_ABS, 0, 0, SOURCE_PORT_AT),
            (JEQ_K, 0, 3, port),
            (LD_H_ABS, 0, 0, DESTINATION_PORT_AT),
            (JEQ_K, 0, 1, 0),
            (RET_K, 0, 0, u32::MAX),
            (RET_K, 0, 0, 0),
        ]
    }
}

/// Runs a filter from [`destroy_filter`] over a message, as the kernel would (only the
/// instructions it uses): whether the message gets through.
#[cfg(test)]
fn run_filter(program: &[Insn], message: &[u8]) -> bool {
    let mut accumulator = 0u32;
    let mut pc = 0;
    while let Some(&(code, jt, jf, k)) = program.get(pc) {
        match code {
            LD_H_ABS => {
                let at = k as usize;
                let Some(bytes) = message.get(at..at + 2) else {
                    return false;
                };
                accumulator = u32::from(u16::from_be_bytes([bytes[0], bytes[1]]));
                pc += 1;
            }
            JEQ_K => pc += 1 + usize::from(if accumulator == k { jt } else { jf }),
            RET_K => return k != 0,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> ListenTarget {
        text.parse().unwrap()
    }

    fn socket(address: &str, port: u16, v6only: bool) -> BoundSocket {
        BoundSocket {
            address: address.parse().unwrap(),
            port,
            v6only,
        }
    }

    #[test]
    fn which_listener_serves_which_address() {
        let cases = [
            // (probe, socket address, port, v6only, serves)
            ("127.0.0.1:8080", "127.0.0.1", 8080, false, true),
            ("127.0.0.1:8080", "127.0.0.1", 8081, false, false),
            ("127.0.0.1:8080", "10.0.0.1", 8080, false, false),
            ("127.0.0.1:8080", "0.0.0.0", 8080, false, true),
            ("127.0.0.1:8080", "::", 8080, false, true),
            ("127.0.0.1:8080", "::", 8080, true, false),
            ("127.0.0.1:8080", "::ffff:127.0.0.1", 8080, false, true),
            ("0.0.0.0:80", "127.0.0.1", 80, false, false),
            ("0.0.0.0:80", "0.0.0.0", 80, false, true),
            ("[::]:443", "::", 443, true, true),
            ("[::]:443", "0.0.0.0", 443, false, false),
            ("[2001:db8::1]:443", "::", 443, true, true),
            ("[2001:db8::1]:443", "2001:db8::2", 443, false, false),
            ("[2001:db8::1]:443", "0.0.0.0", 443, false, false),
            ("*:53/udp", "192.0.2.1", 53, false, true),
            ("*:53/udp", "::1", 53, true, true),
            ("*:53/udp", "::1", 54, true, false),
        ];
        for (probe, address, port, v6only, expected) in cases {
            assert_eq!(
                serves(&target(probe), &socket(address, port, v6only)),
                expected,
                "{probe} vs {address}:{port} v6only {v6only}"
            );
        }
    }

    /// A destroy message's first bytes: netlink header, then family, state, timer, retrans,
    /// source port, destination port.
    fn destroy_message(state: u8, source_port: u16, destination_port: u16) -> Vec<u8> {
        let mut message = vec![0u8; 16];
        message.extend_from_slice(&[2, state, 0, 0]);
        message.extend_from_slice(&source_port.to_be_bytes());
        message.extend_from_slice(&destination_port.to_be_bytes());
        message.extend_from_slice(&[0u8; 40]);
        message
    }

    #[test]
    fn the_kernel_filter_passes_only_the_probes_listener() {
        const CLOSE: u8 = 7;
        let tcp = destroy_filter(&target("127.0.0.1:8080"));
        // A closing listener is reported in state CLOSE: it gets through.
        assert!(run_filter(&tcp, &destroy_message(CLOSE, 8080, 0)));
        // A connection to the service (same local port, a peer) or another port: not.
        assert!(!run_filter(&tcp, &destroy_message(CLOSE, 8080, 51234)));
        assert!(!run_filter(&tcp, &destroy_message(CLOSE, 8081, 0)));
        assert!(!run_filter(&tcp, &[0u8; 10]), "too short");
        let udp = destroy_filter(&target("*:53/udp"));
        assert!(run_filter(&udp, &destroy_message(CLOSE, 53, 0)));
        assert!(run_filter(&udp, &destroy_message(1, 53, 4000)));
        assert!(!run_filter(&udp, &destroy_message(CLOSE, 5353, 0)));
    }
}
