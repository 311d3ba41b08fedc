//! The VRRPv3 advertisement codec (RFC 9568 §5, wire-compatible with RFC 5798) for IPv4 and
//! IPv6. Pure: no IO, no clock. The IP header is the driver's: it passes the source and
//! destination addresses (the checksum covers a pseudo-header made of them) and checks the TTL.
//!
//! Hand-written rather than taken from crates.io: `vrrp_packet` 0.1 is VRRPv2 (RFC 3768, IPv4,
//! whole seconds, no pseudo-header) on top of pnet's macros; `failover_vr` is a whole VRRPv2
//! daemon, not a codec; the VRRP parts of `frameassembly` and `netget-tool` sit inside a packet
//! DSL and a protocol-stubbing tool. None decodes VRRPv3 over IPv6, and the codec is ~150 lines.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 IPvX Address(es) (4 or 16 octets each)        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// IP protocol number of VRRP (also the IPv6 Next Header).
pub const PROTOCOL: u8 = 112;
/// Adverts are sent with TTL / Hop Limit 255, and one received with any other value is dropped
/// (RFC 9568 §7.1): it proves the sender is on the link.
pub const TTL: u8 = 255;
/// The IPv4 multicast group (RFC 9568 §5.1.1.2).
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group (RFC 9568 §5.1.2.2).
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The only version spoken.
pub const VERSION: u8 = 3;
/// The only message type (RFC 9568 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// A master that stops sends this priority so a backup takes over without waiting (§6.4.3).
pub const PRIORITY_STOP: u8 = 0;
/// Reserved for the router that owns the addresses; elastic adds them, so it never is one.
pub const PRIORITY_OWNER: u8 = 255;

const HEADER_LEN: usize = 8;

/// The advertisement interval as carried on the wire: 12 bits of centiseconds, 10 ms to
/// 40.95 s. Zero is refused: a backup would compute a master-down interval of no time at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdvertInterval(u16);

impl AdvertInterval {
    pub const MAX_CENTISECONDS: u16 = 0x0fff;
    /// RFC 9568 §5.2.7's default, 1 s.
    pub const DEFAULT: AdvertInterval = AdvertInterval(100);

    /// `None` outside 1..=4095.
    pub const fn from_centiseconds(centiseconds: u16) -> Option<AdvertInterval> {
        if centiseconds == 0 || centiseconds > Self::MAX_CENTISECONDS {
            None
        } else {
            Some(AdvertInterval(centiseconds))
        }
    }

    /// `None` unless a whole number of centiseconds in range.
    pub fn from_duration(interval: Duration) -> Option<AdvertInterval> {
        const CENTISECOND_NANOS: u128 = 10_000_000;
        let nanos = interval.as_nanos();
        if !nanos.is_multiple_of(CENTISECOND_NANOS) {
            return None;
        }
        u16::try_from(nanos / CENTISECOND_NANOS)
            .ok()
            .and_then(Self::from_centiseconds)
    }

    pub const fn centiseconds(self) -> u16 {
        self.0
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }
}

impl fmt::Display for AdvertInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.as_duration()).fmt(f)
    }
}

/// The virtual addresses of one advert: one family per virtual router.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addresses {
    V4(Vec<Ipv4Addr>),
    V6(Vec<Ipv6Addr>),
}

impl Addresses {
    pub fn len(&self) -> usize {
        match self {
            Addresses::V4(a) => a.len(),
            Addresses::V6(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_ipv6(&self) -> bool {
        matches!(self, Addresses::V6(_))
    }

    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (v4, v6) = match self {
            Addresses::V4(a) => (a.as_slice(), &[][..]),
            Addresses::V6(a) => (&[][..], a.as_slice()),
        };
        v4.iter()
            .map(|a| IpAddr::V4(*a))
            .chain(v6.iter().map(|a| IpAddr::V6(*a)))
    }
}

/// One VRRPv3 advertisement. The checksum is not a field: encode computes it, decode checks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Advert {
    /// Virtual Router Identifier, 1..=255.
    pub vrid: u8,
    /// 1..=254 to take part in the election, 0 when the master stops ([`PRIORITY_STOP`]).
    pub priority: u8,
    pub max_advert_interval: AdvertInterval,
    /// At least one, at most 255, all of the family of the IP header.
    pub addresses: Addresses,
}

/// Why received bytes are not a valid advert. The driver counts each kind and drops the packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} octets is shorter than the 8-octet VRRP header")]
    TooShort(usize),
    #[error("version {0}, not 3")]
    Version(u8),
    #[error("message type {0}, not 1 (advertisement)")]
    Type(u8),
    #[error("virtual router id 0 (valid: 1-255)")]
    VridZero,
    #[error("advertisement interval 0")]
    IntervalZero,
    #[error("{count} {family} addresses need {expected} octets, the advert has {length}")]
    AddressCount {
        count: u8,
        family: &'static str,
        expected: usize,
        length: usize,
    },
    #[error("checksum {found:#06x}, expected {expected:#06x}")]
    Checksum { found: u16, expected: u16 },
    #[error("source {from} and destination {to} are of different address families")]
    MixedFamilies { from: IpAddr, to: IpAddr },
}

/// Why an advert cannot be encoded: a caller's mistake, never a peer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("an advert carries 1 to 255 addresses, not {0}")]
    AddressCount(usize),
    #[error("the advert's addresses and the IP header {from} → {to} differ in family")]
    MixedFamilies { from: IpAddr, to: IpAddr },
}

/// The advert's bytes, checksum included, for an IP header from `source` to `destination`.
pub fn encode(
    advert: &Advert,
    source: IpAddr,
    destination: IpAddr,
) -> Result<Vec<u8>, EncodeError> {
    let count = advert.addresses.len();
    let Some(count_octet) = u8::try_from(count).ok().filter(|c| *c != 0) else {
        return Err(EncodeError::AddressCount(count));
    };
    let families_match = match &advert.addresses {
        Addresses::V4(_) => source.is_ipv4() && destination.is_ipv4(),
        Addresses::V6(_) => source.is_ipv6() && destination.is_ipv6(),
    };
    if !families_match {
        return Err(EncodeError::MixedFamilies {
            from: source,
            to: destination,
        });
    }
    let mut out = Vec::with_capacity(HEADER_LEN + count * 16);
    out.push((VERSION << 4) | TYPE_ADVERTISEMENT);
    out.push(advert.vrid);
    out.push(advert.priority);
    out.push(count_octet);
    out.extend_from_slice(&advert.max_advert_interval.centiseconds().to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    match &advert.addresses {
        Addresses::V4(addresses) => addresses
            .iter()
            .for_each(|a| out.extend_from_slice(&a.octets())),
        Addresses::V6(addresses) => addresses
            .iter()
            .for_each(|a| out.extend_from_slice(&a.octets())),
    }
    let sum = checksum(source, destination, &out);
    out[6..8].copy_from_slice(&sum.to_be_bytes());
    Ok(out)
}

/// Decodes and validates one advert (the IP payload) that came from `source` to `destination`.
/// The VRID is not compared with ours here: that, and the TTL, are the instance's checks.
pub fn decode(bytes: &[u8], source: IpAddr, destination: IpAddr) -> Result<Advert, DecodeError> {
    if source.is_ipv4() != destination.is_ipv4() {
        return Err(DecodeError::MixedFamilies {
            from: source,
            to: destination,
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::TooShort(bytes.len()));
    }
    let version = bytes[0] >> 4;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let kind = bytes[0] & 0x0f;
    if kind != TYPE_ADVERTISEMENT {
        return Err(DecodeError::Type(kind));
    }
    let vrid = bytes[1];
    if vrid == 0 {
        return Err(DecodeError::VridZero);
    }
    let priority = bytes[2];
    let count = bytes[3];
    // The 4 reserved bits are ignored on receipt (RFC 9568 §5.2.6).
    let centiseconds = u16::from_be_bytes([bytes[4], bytes[5]]) & AdvertInterval::MAX_CENTISECONDS;
    let found = u16::from_be_bytes([bytes[6], bytes[7]]);
    let (family, width) = if source.is_ipv4() {
        ("IPv4", 4)
    } else {
        ("IPv6", 16)
    };
    let expected = HEADER_LEN + usize::from(count) * width;
    // Count 0 is refused too (the minimum is 1, §5.2.5); extra octets would be a VRRPv2-style
    // authentication trailer or garbage, neither of which VRRPv3 has.
    if count == 0 || bytes.len() != expected {
        return Err(DecodeError::AddressCount {
            count,
            family,
            expected,
            length: bytes.len(),
        });
    }
    let mut zeroed = bytes.to_vec();
    zeroed[6..8].copy_from_slice(&[0, 0]);
    let expected_sum = checksum(source, destination, &zeroed);
    if found != expected_sum {
        return Err(DecodeError::Checksum {
            found,
            expected: expected_sum,
        });
    }
    let max_advert_interval =
        AdvertInterval::from_centiseconds(centiseconds).ok_or(DecodeError::IntervalZero)?;
    let body = &bytes[HEADER_LEN..];
    let addresses = if source.is_ipv4() {
        Addresses::V4(
            body.chunks_exact(4)
                .map(|c| Ipv4Addr::from([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    } else {
        Addresses::V6(
            body.chunks_exact(16)
                .map(|c| {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(c);
                    Ipv6Addr::from(octets)
                })
                .collect(),
        )
    };
    Ok(Advert {
        vrid,
        priority,
        max_advert_interval,
        addresses,
    })
}

/// The Internet checksum (RFC 1071) of `message` behind the pseudo-header RFC 9568 §5.2.8 names:
/// for IPv4 the one of RFC 768 (source, destination, zero, protocol, length), for IPv6 the one of
/// RFC 8200 §8.1 (source, destination, 32-bit length, zeros, next header). The message's own
/// checksum field must be zero.
pub fn checksum(source: IpAddr, destination: IpAddr, message: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |octets: &[u8]| {
        for pair in octets.chunks(2) {
            let high = u64::from(pair[0]) << 8;
            sum += high | pair.get(1).map_or(0, |low| u64::from(*low));
        }
    };
    // The length always fits: an advert is at most 8 + 255 × 16 octets.
    let length = message.len() as u32;
    match (source, destination) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&s.octets());
            add(&d.octets());
            add(&[0, PROTOCOL]);
            add(&(length as u16).to_be_bytes());
        }
        _ => {
            add(&v6_octets(source));
            add(&v6_octets(destination));
            add(&length.to_be_bytes());
            add(&[0, 0, 0, PROTOCOL]);
        }
    }
    add(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn v6_octets(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

#[cfg(test)]
mod tests;
