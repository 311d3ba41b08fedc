//! labnet: the lab's traffic tool, run inside namespaces with `ip netns exec`.
//!
//! - `labnet serve --bind 203.0.113.10:7777 --name a`: a UDP responder on the VIP that answers
//!   every request with its name, so the client can tell which host got the traffic.
//! - `labnet probe --target 203.0.113.10:7777 [--interval-ms 10] [--duration-ms 5000]`: sends a
//!   numbered request every interval for a bounded time and prints one JSON object: per second
//!   which hosts answered how often, the longest gap between two answers, the lost count.
//!
//! Hand-written argument parsing: four flags do not justify a dependency for an example.
#![allow(
    clippy::disallowed_methods,
    reason = "the lab measures real time; the one-clock rule is the daemon's"
)]

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use elastic_lab::{LOST, ProbeReport};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("probe") => probe(&args[1..]),
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("labnet: {e}");
            ExitCode::from(2)
        }
    }
}

fn usage() -> String {
    "usage: labnet serve --bind ADDR:PORT --name NAME\n       \
     labnet probe --target ADDR:PORT [--interval-ms 10] [--duration-ms 5000] [--wait-ms 300]"
        .to_string()
}

/// `--key value` pairs.
fn flags(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let key = k
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected {k:?}\n{}", usage()))?;
        let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
        out.insert(key.to_string(), value.clone());
    }
    Ok(out)
}

fn required<'a>(f: &'a BTreeMap<String, String>, key: &str) -> Result<&'a str, String> {
    f.get(key)
        .map(String::as_str)
        .ok_or_else(|| format!("--{key} is required\n{}", usage()))
}

fn number(f: &BTreeMap<String, String>, key: &str, default: u64) -> Result<u64, String> {
    f.get(key).map_or(Ok(default), |v| {
        v.parse().map_err(|e| format!("--{key} {v}: {e}"))
    })
}

fn serve(args: &[String]) -> Result<(), String> {
    let f = flags(args)?;
    let bind: SocketAddr = required(&f, "bind")?
        .parse()
        .map_err(|e| format!("--bind: {e}"))?;
    let name = required(&f, "name")?.to_string();
    // The VIP may appear on lo only after the daemon started (elastic binds -address itself):
    // retry for a bounded time.
    let deadline = Instant::now() + Duration::from_secs(30);
    let socket = loop {
        match UdpSocket::bind(bind) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("bind {bind}: {e}")),
        }
    };
    let mut buf = [0u8; 512];
    // Runs until killed; each request is answered with "NAME SEQ".
    loop {
        let (n, from) = socket
            .recv_from(&mut buf)
            .map_err(|e| format!("recv: {e}"))?;
        let seq = String::from_utf8_lossy(&buf[..n]);
        let reply = format!("{name} {seq}");
        let _ = socket.send_to(reply.as_bytes(), from);
    }
}

fn probe(args: &[String]) -> Result<(), String> {
    let f = flags(args)?;
    let target: SocketAddr = required(&f, "target")?
        .parse()
        .map_err(|e| format!("--target: {e}"))?;
    let interval = Duration::from_millis(number(&f, "interval-ms", 10)?.max(1));
    let duration = Duration::from_millis(number(&f, "duration-ms", 5000)?);
    // How long to keep listening for late answers after the last request.
    let wait = Duration::from_millis(number(&f, "wait-ms", 300)?);
    let any = if target.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let socket = UdpSocket::bind(any).map_err(|e| format!("bind: {e}"))?;

    let start = Instant::now();
    let mut sent_at: Vec<Instant> = Vec::new();
    // seq → (answerer, arrival)
    let mut answers: BTreeMap<u64, (String, Instant)> = BTreeMap::new();
    let mut buf = [0u8; 512];
    let end = start + duration;
    let mut next_send = start;
    loop {
        let now = Instant::now();
        if now >= end + wait {
            break;
        }
        if now >= next_send && now < end {
            let seq = sent_at.len() as u64;
            // A send error (no route yet) counts as a lost request.
            let _ = socket.send_to(seq.to_string().as_bytes(), target);
            sent_at.push(now);
            next_send += interval;
            continue;
        }
        let until = if now < end {
            next_send.min(end + wait)
        } else {
            end + wait
        };
        let timeout = until
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        socket
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if let Some((name, seq)) = text.split_once(' ')
                && let Ok(seq) = seq.parse::<u64>()
                && (seq as usize) < sent_at.len()
            {
                answers
                    .entry(seq)
                    .or_insert((name.to_string(), Instant::now()));
            }
        }
    }

    // Per second of the run (by send time): who answered how many requests.
    let mut per_second: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
    for (seq, t) in sent_at.iter().enumerate() {
        let second = t.duration_since(start).as_secs();
        let who = answers
            .get(&(seq as u64))
            .map_or(LOST.to_string(), |a| a.0.clone());
        *per_second
            .entry(second)
            .or_default()
            .entry(who)
            .or_default() += 1;
    }
    // The longest gap: the longest time without a fresh answer, measured between the send times of
    // consecutive answered requests (and from the start / to the end of the run).
    let mut longest_gap = Duration::ZERO;
    let mut last = start;
    for (seq, t) in sent_at.iter().enumerate() {
        if answers.contains_key(&(seq as u64)) {
            longest_gap = longest_gap.max(t.duration_since(last));
            last = *t;
        }
    }
    longest_gap = longest_gap.max(end.min(Instant::now()).saturating_duration_since(last));
    let last_answerer = answers.values().max_by_key(|a| a.1).map(|a| a.0.clone());
    let report = ProbeReport {
        target: target.to_string(),
        interval_ms: interval.as_millis() as u64,
        sent: sent_at.len() as u64,
        answered: answers.len() as u64,
        lost: (sent_at.len() - answers.len()) as u64,
        longest_gap_ms: longest_gap.as_millis() as u64,
        last_answerer,
        per_second,
    };
    println!("{report}");
    Ok(())
}
