//! What the benchmark reads: a process's memory and CPU time from /proc, FRR's per-neighbor
//! prefix counters, the router's kernel routes as they change (`ip monitor route`), and the
//! daemon's reconnect delays from its log.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Lab;

/// Clock ticks per second in /proc/PID/stat: USER_HZ, 100 on every Linux ABI.
const USER_HZ: f64 = 100.0;

/// Memory and CPU of one process at one moment.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    pub rss_kb: u64,
    pub hwm_kb: u64,
    /// utime + stime since the process started.
    pub cpu_seconds: f64,
}

pub fn proc_sample(pid: i32) -> Result<ProcSample, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| format!("no {key} in /proc/{pid}/status"))
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    // There, field 0 is the state (stat field 3), so utime (14) and stime (15) are 11 and 12.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| format!("bad /proc/{pid}/stat: {stat}"))
    };
    Ok(ProcSample {
        rss_kb: kb("VmRSS:")?,
        hwm_kb: kb("VmHWM:")?,
        cpu_seconds: (ticks(11)? + ticks(12)?) as f64 / USER_HZ,
    })
}

/// `vtysh` against the FRR route server in `slot`.
pub fn vtysh(lab: &Lab, slot: u8, command: &str) -> Result<String, String> {
    lab.route_server(slot).vtysh(command)
}

/// Prefixes the route server in `slot` received from `neighbor` in `afi` ("ipv4" / "ipv6"), from
/// `show bgp <afi> unicast summary json` (`pfxRcd`); `None` when the neighbor is not listed.
pub fn prefixes_received(
    lab: &Lab,
    slot: u8,
    afi: &str,
    neighbor: IpAddr,
) -> Result<Option<u64>, String> {
    let out = vtysh(lab, slot, &format!("show bgp {afi} unicast summary json"))?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("summary json: {e}: {out}"))?;
    Ok(v.pointer("/peers")
        .and_then(Value::as_object)
        .and_then(|peers| peers.get(&neighbor.to_string()))
        .and_then(|p| p.get("pfxRcd"))
        .and_then(Value::as_u64))
}

/// `ip monitor route` in a namespace: every line with the moment it arrived. Killed (by PID) on drop.
pub struct RouteMonitor {
    child: Child,
    lines: Receiver<(Instant, String)>,
    seen: Vec<(Instant, String)>,
}

impl RouteMonitor {
    pub fn start(netns: &str) -> Result<Self, String> {
        let mut child = Command::new("ip")
            .args(["-n", netns, "monitor", "route"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("ip monitor: {e}"))?;
        let stdout = child.stdout.take().ok_or("ip monitor: no stdout")?;
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            lines: rx,
            seen: Vec::new(),
        })
    }

    /// Forgets everything seen so far.
    pub fn clear(&mut self) {
        while self.lines.try_recv().is_ok() {}
        self.seen.clear();
    }

    /// The arrival time of the first line so far that matches.
    pub fn first(&mut self, matches: impl Fn(&str) -> bool) -> Option<Instant> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.iter().find(|(_, l)| matches(l)).map(|(t, _)| *t)
    }
}

impl Drop for RouteMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Median, min and max of a few samples.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let mid = s.len() / 2;
        let median = if s.len() % 2 == 1 {
            s[mid]
        } else {
            (s[mid - 1] + s[mid]) / 2.0
        };
        Some(Self {
            median,
            min: s[0],
            max: s[s.len() - 1],
            n: s.len(),
        })
    }
}

/// Seconds, readable at any scale: "0.031 s", "7.04 s".
pub fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.2} s")
    }
}

pub fn since(t0: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(t0).as_secs_f64()
}

/// The `retry_in_secs` of every "session down" line the daemon logged for `peer`.
pub fn retry_delays(log: &str, peer: IpAddr) -> Vec<u64> {
    let peer_field = format!("peer={peer} ");
    log.lines()
        .filter(|line| line.contains("session down") && line.contains(&peer_field))
        .filter_map(|line| {
            let (_, rest) = line.split_once("retry_in_secs=")?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

pub const SWEEP_PAUSE: Duration = Duration::from_millis(5);
