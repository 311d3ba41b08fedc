//! A fake route server for hostile-input and full-table tests: it listens on one route-server
//! address in the router namespace, completes the OPEN exchange with bytes written here, then
//! sends whatever a test asks for (garbage, a million prefixes) and records what comes back.
//!
//! Written by hand on purpose: it must produce malformed messages a codec would refuse to build.
//! Only the few messages needed are encoded (RFC 4271 §4, RFC 4760, RFC 6793).

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Lab, rs_address};

const MARKER: [u8; 16] = [0xff; 16];
pub const OPEN: u8 = 1;
pub const UPDATE: u8 = 2;
pub const NOTIFICATION: u8 = 3;
pub(crate) const KEEPALIVE: u8 = 4;
const RS_ASN: u32 = 65000;

/// A listening fake route server.
pub struct FakePeer {
    listener: TcpListener,
    pub address: SocketAddr,
}

impl FakePeer {
    /// Listens on route-server address `slot` (which must have no real route server) inside the
    /// lab's router namespace.
    pub fn bind(lab: &Lab, slot: u8) -> Result<Self, String> {
        let address = SocketAddr::new(rs_address(slot), 179);
        let listener = crate::flood::in_netns(&lab.router.name, move || {
            TcpListener::bind(address).map_err(|e| format!("bind {address}: {e}"))
        })??;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(Self { listener, address })
    }

    /// Waits (bounded) for the daemon to connect.
    pub fn accept(&self, timeout: Duration) -> Result<FakeSession, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, from)) => return FakeSession::new(stream, from.ip()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "no connection to {} within {timeout:?}",
                            self.address
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("accept on {}: {e}", self.address)),
            }
        }
    }
}

/// A BGP message as received: type and body (after the 19-byte header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMessage {
    pub kind: u8,
    pub body: Vec<u8>,
}

/// How the daemon reacted to what we sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// A NOTIFICATION with (code, subcode).
    Notification(u8, u8),
    /// The connection closed without a NOTIFICATION.
    Closed,
    /// Still connected after the wait, and it sent a KEEPALIVE meanwhile.
    StillUp,
    /// Nothing at all within the wait (not even a KEEPALIVE).
    Silent,
}

/// One accepted connection from the daemon.
pub struct FakeSession {
    reader: TcpStream,
    writer: Arc<Mutex<TcpStream>>,
    pub peer: IpAddr,
    buf: Vec<u8>,
    keepalive_stop: Arc<AtomicBool>,
    keepalive_thread: Option<JoinHandle<()>>,
}

impl FakeSession {
    fn new(stream: TcpStream, peer: IpAddr) -> Result<Self, String> {
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        // Bounded writes: a daemon that stops reading must not hang the test.
        stream
            .set_write_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        Ok(Self {
            reader: stream,
            writer: Arc::new(Mutex::new(writer)),
            peer,
            buf: Vec::new(),
            keepalive_stop: Arc::new(AtomicBool::new(false)),
            keepalive_thread: None,
        })
    }

    /// The OPEN exchange: reads the daemon's OPEN, sends ours and a KEEPALIVE, waits for the
    /// daemon's KEEPALIVE. Returns the daemon's OPEN body. Then keeps the session alive with a
    /// KEEPALIVE every 3 s until garbage is sent or the session is dropped.
    pub fn establish(&mut self, router_id: [u8; 4], timeout: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + timeout;
        let open = self
            .read_message(deadline)?
            .ok_or("connection closed before OPEN")?;
        if open.kind != OPEN {
            return Err(format!("expected OPEN, got {open:?}"));
        }
        self.send(&open_message(RS_ASN, 90, router_id))
            .map_err(|e| format!("send OPEN: {e}"))?;
        self.send(&keepalive())
            .map_err(|e| format!("send KEEPALIVE: {e}"))?;
        loop {
            let m = self
                .read_message(deadline)?
                .ok_or("connection closed before KEEPALIVE")?;
            match m.kind {
                KEEPALIVE => break,
                NOTIFICATION => {
                    return Err(format!(
                        "daemon refused our OPEN: {:?}",
                        &m.body[..m.body.len().min(2)]
                    ));
                }
                _ => {}
            }
        }
        self.start_keepalives();
        Ok(open.body)
    }

    fn start_keepalives(&mut self) {
        let writer = Arc::clone(&self.writer);
        let stop = Arc::clone(&self.keepalive_stop);
        self.keepalive_thread = Some(std::thread::spawn(move || {
            // Bounded: ends when asked, when a write fails, or after an hour at most.
            for _ in 0..1200 {
                for _ in 0..30 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                let Ok(mut w) = writer.lock() else { return };
                if w.write_all(&keepalive()).is_err() {
                    return;
                }
            }
        }));
    }

    fn stop_keepalives(&mut self) {
        self.keepalive_stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.keepalive_thread.take() {
            let _ = t.join();
        }
    }

    /// Sends bytes as they are (one write, so they are never interleaved with a KEEPALIVE).
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let mut w = self
            .writer
            .lock()
            .map_err(|_| io::Error::other("writer lock poisoned"))?;
        w.write_all(bytes)
    }

    /// Sends garbage: keepalives stop first, so the garbage is the last thing the daemon sees.
    pub fn send_garbage(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stop_keepalives();
        self.send(bytes).map_err(|e| format!("send garbage: {e}"))
    }

    /// Reads one message, or `None` at EOF; `Err` on timeout or a malformed header from the daemon.
    pub(crate) fn read_message(&mut self, deadline: Instant) -> Result<Option<RawMessage>, String> {
        loop {
            if self.buf.len() >= 19 {
                if self.buf[..16] != MARKER {
                    return Err(format!(
                        "daemon sent a bad marker: {:02x?}",
                        &self.buf[..19]
                    ));
                }
                let len = usize::from(u16::from_be_bytes([self.buf[16], self.buf[17]]));
                if !(19..=65535).contains(&len) {
                    return Err(format!("daemon sent a bad length {len}"));
                }
                if self.buf.len() >= len {
                    let msg: Vec<u8> = self.buf.drain(..len).collect();
                    return Ok(Some(RawMessage {
                        kind: msg[18],
                        body: msg[19..].to_vec(),
                    }));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err("timed out reading from the daemon".into());
            }
            self.reader
                .set_read_timeout(Some(deadline - now))
                .map_err(|e| e.to_string())?;
            let mut chunk = [0u8; 65536];
            match self.reader.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err("timed out reading from the daemon".into());
                }
                // A reset after the daemon's NOTIFICATION is a close.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Reads for up to `wait` and reports the first NOTIFICATION or close; otherwise whether a
    /// KEEPALIVE came.
    pub fn reaction(&mut self, wait: Duration) -> Reaction {
        let deadline = Instant::now() + wait;
        let mut saw_keepalive = false;
        loop {
            match self.read_message(deadline) {
                Ok(Some(m)) if m.kind == NOTIFICATION && m.body.len() >= 2 => {
                    return Reaction::Notification(m.body[0], m.body[1]);
                }
                Ok(Some(m)) => saw_keepalive |= m.kind == KEEPALIVE,
                Ok(None) => return Reaction::Closed,
                Err(_) => {
                    return if saw_keepalive {
                        Reaction::StillUp
                    } else {
                        Reaction::Silent
                    };
                }
            }
        }
    }

    /// Streams `count` distinct IPv6 /52s from 2001:db8::/32 (documentation space holds 2^20 of
    /// them: enough for a million-route table without leaving the documentation ranges), packed
    /// `per_update` to an MP_REACH UPDATE, then the IPv6 End-of-RIB. Returns the number of UPDATEs.
    pub fn stream_ipv6_prefixes(&mut self, count: u32, per_update: u32) -> Result<u32, String> {
        assert!(count <= 1 << 20, "2001:db8::/32 holds 2^20 /52s");
        // 19 header + 4 + attributes (~50) + 8 bytes per /52 must stay within 4096.
        let per_update = per_update.clamp(1, 500);
        let mut sent = 0;
        let mut messages = 0;
        // Batch many messages per write: fewer syscalls, same bytes on the wire.
        let mut batch = Vec::with_capacity(256 * 1024);
        while sent < count {
            let n = per_update.min(count - sent);
            let nlri: Vec<[u8; 7]> = (sent..sent + n)
                .map(|i| {
                    // 2001:0db8 then the 20-bit index in the next 20 bits, /52.
                    let bits = (0x2001_0db8_u64 << 32) | (u64::from(i) << 12);
                    let b = bits.to_be_bytes();
                    [b[0], b[1], b[2], b[3], b[4], b[5], b[6]]
                })
                .collect();
            batch.extend_from_slice(&ipv6_update(&nlri));
            sent += n;
            messages += 1;
            if batch.len() > 200 * 1024 {
                self.send(&batch)
                    .map_err(|e| format!("stream: {e} after {sent} prefixes"))?;
                batch.clear();
            }
        }
        batch.extend_from_slice(&end_of_rib_ipv6());
        self.send(&batch).map_err(|e| format!("stream: {e}"))?;
        Ok(messages)
    }
}

impl Drop for FakeSession {
    fn drop(&mut self) {
        self.stop_keepalives();
    }
}

/// A complete message: marker, length, type, body.
pub fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(19 + body.len());
    m.extend_from_slice(&MARKER);
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

pub fn keepalive() -> Vec<u8> {
    message(KEEPALIVE, &[])
}

/// OPEN with one capabilities parameter: MP IPv4/IPv6 unicast, route refresh, 4-octet AS,
/// extended next hop IPv4 → IPv6.
pub(crate) fn open_message(asn: u32, hold: u16, router_id: [u8; 4]) -> Vec<u8> {
    let mut caps = Vec::new();
    caps.extend_from_slice(&[1, 4, 0, 1, 0, 1]); // MP IPv4 unicast
    caps.extend_from_slice(&[1, 4, 0, 2, 0, 1]); // MP IPv6 unicast
    caps.extend_from_slice(&[2, 0]); // route refresh
    caps.extend_from_slice(&[65, 4]);
    caps.extend_from_slice(&asn.to_be_bytes()); // 4-octet AS
    caps.extend_from_slice(&[5, 6, 0, 1, 0, 1, 0, 2]); // extended next hop
    let mut body = vec![4];
    let two_byte_as = if asn > 65535 { 23456u16 } else { asn as u16 };
    body.extend_from_slice(&two_byte_as.to_be_bytes());
    body.extend_from_slice(&hold.to_be_bytes());
    body.extend_from_slice(&router_id);
    body.push((caps.len() + 2) as u8);
    body.push(2);
    body.push(caps.len() as u8);
    body.extend_from_slice(&caps);
    message(OPEN, &body)
}

/// An UPDATE announcing IPv6 /52s (their 7 significant bytes) in MP_REACH_NLRI, next hop
/// 2001:db8:14:34::1, ORIGIN IGP, AS_PATH [65000].
fn ipv6_update(prefixes: &[[u8; 7]]) -> Vec<u8> {
    let mut mp_reach = vec![0, 2, 1, 16];
    mp_reach.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0x14, 0, 0x34, 0, 0, 0, 0, 0, 0, 0, 1,
    ]);
    mp_reach.push(0); // reserved
    for p in prefixes {
        mp_reach.push(52);
        mp_reach.extend_from_slice(p);
    }
    let mut attrs = vec![0x40, 1, 1, 0];
    attrs.extend_from_slice(&[0x40, 2, 6, 2, 1]);
    attrs.extend_from_slice(&RS_ASN.to_be_bytes());
    // Optional, non-transitive, Extended Length: the NLRI list exceeds 255 bytes.
    attrs.extend_from_slice(&[0x90, 14]);
    attrs.extend_from_slice(&(mp_reach.len() as u16).to_be_bytes());
    attrs.extend_from_slice(&mp_reach);
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(&attrs);
    message(UPDATE, &body)
}

/// The IPv6 unicast End-of-RIB marker: an UPDATE with only an empty MP_UNREACH_NLRI (RFC 4724 §2).
fn end_of_rib_ipv6() -> Vec<u8> {
    message(UPDATE, &[0, 0, 0, 6, 0x80, 15, 3, 0, 2, 1])
}

/// A garbage case: what is sent and what RFC 4271 / RFC 7606 say the daemon must answer.
#[derive(Clone, Debug)]
pub struct Garbage {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    /// The NOTIFICATION (code, subcode) expected, or `None`: the session must stay up.
    pub expect: Option<(u8, u8)>,
}

/// The hostile inputs of the integration tests.
pub fn garbage_cases() -> Vec<Garbage> {
    let mut bad_marker = keepalive();
    bad_marker[..16].fill(0);

    let mut bad_length = keepalive();
    // Shorter than a header: RFC 4271 §6.1 → 1/2 Bad Message Length.
    bad_length[16..18].copy_from_slice(&16u16.to_be_bytes());

    let unknown_type = message(9, &[]);

    // Withdrawn Routes Length says 200 bytes, the message has 2: RFC 4271 §6.3 / RFC 7606 §3(a)
    // keep "session reset" for an UPDATE that cannot be parsed at all → 3/1 Malformed Attribute List.
    let truncated_update = message(UPDATE, &[0, 200, 0, 0]);

    // MP_REACH_NLRI for IPv6 unicast with a next-hop length of 15: the attribute cannot be parsed,
    // RFC 7606 §7.11 → session reset; RFC 4760 §7 → 3/9 Optional Attribute Error.
    let mut mp = vec![0, 2, 1, 15];
    mp.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    mp.push(0); // reserved
    mp.extend_from_slice(&[64, 0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0]); // 2001:db8:9::/64
    let mut attrs = vec![0x40, 1, 1, 0, 0x40, 2, 6, 2, 1];
    attrs.extend_from_slice(&RS_ASN.to_be_bytes());
    attrs.extend_from_slice(&[0x80, 14, mp.len() as u8]);
    attrs.extend_from_slice(&mp);
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(&attrs);
    let malformed_mp_reach = message(UPDATE, &body);

    // ORIGIN with value 7: RFC 7606 §7.1 → treat-as-withdraw; no NOTIFICATION, the session stays.
    let mut attrs = vec![0x40, 1, 1, 7, 0x40, 2, 6, 2, 1];
    attrs.extend_from_slice(&RS_ASN.to_be_bytes());
    attrs.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(&attrs);
    body.extend_from_slice(&[24, 198, 51, 100]);
    let bad_origin = message(UPDATE, &body);

    vec![
        Garbage {
            name: "bad marker",
            bytes: bad_marker,
            expect: Some((1, 1)),
        },
        Garbage {
            name: "bad length",
            bytes: bad_length,
            expect: Some((1, 2)),
        },
        Garbage {
            name: "unknown message type 9",
            bytes: unknown_type,
            expect: Some((1, 3)),
        },
        Garbage {
            name: "truncated UPDATE",
            bytes: truncated_update,
            expect: Some((3, 1)),
        },
        Garbage {
            name: "malformed MP_REACH_NLRI",
            bytes: malformed_mp_reach,
            expect: Some((3, 9)),
        },
        Garbage {
            name: "ORIGIN value 7 (treat-as-withdraw)",
            bytes: bad_origin,
            expect: None,
        },
    ]
}
