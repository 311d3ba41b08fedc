//! The Linux TCP_MD5SIG socket option (RFC 2385): one of the few files allowed `unsafe` (Cargo.toml
//! lists them).
//!
//! Why hand-written: neither socket2 (feature "all"), nix (`sys::socket::sockopt`) nor rustix
//! offers TCP_MD5SIG, and libc has the constant but not `struct tcp_md5sig`. The option value is
//! encoded here as plain bytes, like a wire format, so the layout is pure code under test; only
//! the `setsockopt(2)` call itself is unsafe.
//!
//! `struct tcp_md5sig` (linux/tcp.h), 216 bytes:
//!
//! ```text
//!   0  struct __kernel_sockaddr_storage tcpm_addr   128 bytes: the peer (sockaddr_in / _in6)
//! 128  __u8  tcpm_flags                             0: no prefix, no ifindex (TCP_MD5SIG_EXT only)
//! 129  __u8  tcpm_prefixlen                         0
//! 130  __u16 tcpm_keylen                            host byte order; 0 would delete the key
//! 132  int   tcpm_ifindex                           0
//! 136  __u8  tcpm_key[TCP_MD5SIG_MAXKEYLEN]         80 bytes, the key then zeros
//! ```
#![allow(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::md5::{MAX_KEY_LEN, Md5Key};

/// `sizeof(struct tcp_md5sig)`.
pub const TCP_MD5SIG_LEN: usize = 216;
const SOCKADDR_STORAGE_LEN: usize = 128;
/// After the address, `tcpm_flags` and `tcpm_prefixlen` (one byte each).
const KEYLEN_OFFSET: usize = SOCKADDR_STORAGE_LEN + 2;
const KEY_OFFSET: usize = 136;
/// Offsets of the address inside `sockaddr_in` and `sockaddr_in6`.
const SIN_ADDR_OFFSET: usize = 4;
const SIN6_ADDR_OFFSET: usize = 8;

/// The option value that signs every segment to and from `peer` with `key`.
pub fn encode(peer: IpAddr, key: &Md5Key) -> [u8; TCP_MD5SIG_LEN] {
    let mut value = [0u8; TCP_MD5SIG_LEN];
    // sa_family is in host byte order; the port stays 0 (the kernel matches the address only).
    match peer {
        IpAddr::V4(v4) => {
            value[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            value[SIN_ADDR_OFFSET..SIN_ADDR_OFFSET + 4].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            value[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            value[SIN6_ADDR_OFFSET..SIN6_ADDR_OFFSET + 16].copy_from_slice(&v6.octets());
        }
    }
    let key = key.as_bytes();
    debug_assert!(key.len() <= MAX_KEY_LEN, "Md5Key guarantees the length");
    let len = key.len().min(MAX_KEY_LEN);
    value[KEYLEN_OFFSET..KEYLEN_OFFSET + 2].copy_from_slice(&(len as u16).to_ne_bytes());
    value[KEY_OFFSET..KEY_OFFSET + len].copy_from_slice(&key[..len]);
    value
}

/// Sets the key for `peer` on `socket`; call it before `connect` so the SYN is signed.
pub fn set(socket: BorrowedFd<'_>, peer: IpAddr, key: &Md5Key) -> io::Result<()> {
    let value = encode(peer, key);
    // SAFETY: `socket` is a valid open descriptor for the duration of the call (BorrowedFd), and
    // the pointer and length describe `value`, a live, initialised 216-byte buffer that the
    // kernel only reads (copied in with copy_from_sockptr; no alignment is required). The call
    // has no other memory effects.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            value.as_ptr().cast(),
            TCP_MD5SIG_LEN as libc::socklen_t,
        )
    };
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    Err(match error.raw_os_error() {
        Some(libc::ENOPROTOOPT) => io::Error::new(
            error.kind(),
            "cannot set the TCP MD5 key: this kernel has no TCP MD5 support (CONFIG_TCP_MD5SIG)",
        ),
        _ => io::Error::new(error.kind(), format!("cannot set the TCP MD5 key: {error}")),
    })
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
    use std::os::fd::AsFd;
    use std::path::Path;

    use super::*;
    use crate::bgp::md5::key_from_contents;

    /// `struct tcp_md5sig` as the C compiler lays it out, to check the offsets the encoder uses.
    #[repr(C)]
    struct TcpMd5Sig {
        addr: libc::sockaddr_storage,
        flags: u8,
        prefixlen: u8,
        keylen: u16,
        ifindex: libc::c_int,
        key: [u8; MAX_KEY_LEN],
    }

    fn key(text: &[u8]) -> Md5Key {
        key_from_contents(Path::new("test"), text).unwrap()
    }

    #[test]
    fn the_encoding_follows_the_c_layout() {
        assert_eq!(size_of::<TcpMd5Sig>(), TCP_MD5SIG_LEN);
        assert_eq!(size_of::<libc::sockaddr_storage>(), SOCKADDR_STORAGE_LEN);
        assert_eq!(offset_of!(TcpMd5Sig, flags), SOCKADDR_STORAGE_LEN);
        assert_eq!(offset_of!(TcpMd5Sig, prefixlen), SOCKADDR_STORAGE_LEN + 1);
        assert_eq!(offset_of!(TcpMd5Sig, keylen), KEYLEN_OFFSET);
        assert_eq!(offset_of!(TcpMd5Sig, ifindex), 132);
        assert_eq!(offset_of!(TcpMd5Sig, key), KEY_OFFSET);
        assert_eq!(offset_of!(libc::sockaddr_in, sin_addr), SIN_ADDR_OFFSET);
        assert_eq!(offset_of!(libc::sockaddr_in6, sin6_addr), SIN6_ADDR_OFFSET);
        assert_eq!(offset_of!(libc::sockaddr_in6, sin6_family), 0);
        assert_eq!(libc::TCP_MD5SIG_MAXKEYLEN, MAX_KEY_LEN);
    }

    #[test]
    fn an_ipv6_peer_and_its_key_land_where_the_kernel_reads_them() {
        let peer: Ipv6Addr = "2001:db8:14:34::1".parse().unwrap();
        let value = encode(IpAddr::V6(peer), &key(b"s3cret"));
        let family = u16::from_ne_bytes([value[0], value[1]]);
        assert_eq!(i32::from(family), libc::AF_INET6);
        assert_eq!(&value[2..8], &[0; 6], "port and flow info stay 0");
        assert_eq!(&value[8..24], &peer.octets());
        assert!(value[24..128].iter().all(|b| *b == 0));
        assert_eq!(&value[128..130], &[0, 0], "flags, prefixlen");
        assert_eq!(u16::from_ne_bytes([value[130], value[131]]), 6);
        assert_eq!(&value[132..136], &[0; 4], "ifindex");
        assert_eq!(&value[136..142], b"s3cret");
        assert!(value[142..].iter().all(|b| *b == 0));
    }

    #[test]
    fn an_ipv4_peer_uses_a_sockaddr_in() {
        let peer = Ipv4Addr::new(192, 0, 2, 1);
        let longest = vec![b'k'; MAX_KEY_LEN];
        let value = encode(IpAddr::V4(peer), &key(&longest));
        assert_eq!(
            i32::from(u16::from_ne_bytes([value[0], value[1]])),
            libc::AF_INET
        );
        assert_eq!(&value[4..8], &[192, 0, 2, 1]);
        assert!(value[8..128].iter().all(|b| *b == 0));
        assert_eq!(
            usize::from(u16::from_ne_bytes([value[130], value[131]])),
            MAX_KEY_LEN
        );
        assert_eq!(&value[136..], &longest[..]);
    }

    /// The kernel accepts the encoded value (it checks the family against the socket's and the
    /// key length): on a loopback socket, no packet is sent.
    #[test]
    fn the_kernel_accepts_the_option() {
        let listener = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
        let peer: IpAddr = "2001:db8:14:34::1".parse().unwrap();
        set(listener.as_fd(), peer, &key(b"s3cret")).unwrap();
    }
}
