//! Pure rules of the `process` probe: reading `/proc/PID/stat` and a pidfile's bytes, and which
//! process counts as the service. No IO, no clock: the shell passes the bytes and the times in.

use std::time::{Duration, SystemTime};

/// At most this many bytes of a pidfile are read: a pid has at most 7 digits (pid_max ≤ 2^22),
/// and a huge file must cost nothing.
pub const PIDFILE_READ_LIMIT: usize = 32;

/// How much later than the pidfile's mtime a process may seem to have started and still be the
/// one that wrote it: the start time is kept in clock ticks (10 ms) since boot, and the boot
/// time in wall-clock terms moves when the wall clock is stepped.
pub const START_TIME_SLACK: Duration = Duration::from_secs(1);

/// What the probe reads from `/proc/PID/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub comm: String,
    /// `R`, `S`, `D`, `Z` (exited, not yet reaped), `X` (dead), …
    pub state: char,
    /// Field 22: when the process started, in clock ticks since boot.
    pub start_ticks: u64,
}

impl ProcStat {
    /// Running, sleeping or stopped: not a zombie nor dead.
    pub fn alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses one `/proc/PID/stat` line. `comm` sits in parentheses and may itself contain spaces
/// and `)`, so the fields after it are found from the last `)`.
pub fn parse_stat(line: &str) -> Result<ProcStat, String> {
    let open = line.find('(').ok_or("no '(' before the process name")?;
    let close = line.rfind(')').ok_or("no ')' after the process name")?;
    if close < open {
        return Err("')' before '('".to_string());
    }
    let pid = line[..open]
        .trim()
        .parse::<i32>()
        .map_err(|_| "the pid is not a number".to_string())?;
    let comm = line[open + 1..close].to_string();
    let mut rest = line[close + 1..].split_ascii_whitespace();
    let state = rest
        .next()
        .and_then(|s| s.chars().next())
        .ok_or("no state field")?;
    // After the state (field 3), field 22 is the 19th further on.
    let start_ticks = rest
        .nth(18)
        .ok_or("no start time field")?
        .parse::<u64>()
        .map_err(|_| "the start time is not a number".to_string())?;
    Ok(ProcStat {
        pid,
        comm,
        state,
        start_ticks,
    })
}

/// The pid a pidfile names: its first line, ASCII digits with optional surrounding blanks, at
/// most [`PIDFILE_READ_LIMIT`] bytes read (`bytes` is what was read, so a full buffer without a
/// line end means a file too long to be a pidfile).
pub fn parse_pidfile(bytes: &[u8]) -> Result<i32, String> {
    let line = match bytes.iter().position(|b| *b == b'\n') {
        Some(end) => &bytes[..end],
        None if bytes.len() >= PIDFILE_READ_LIMIT => {
            return Err(format!(
                "longer than {PIDFILE_READ_LIMIT} bytes on its first line: not a pidfile"
            ));
        }
        None => bytes,
    };
    let text = std::str::from_utf8(line)
        .map_err(|_| "not text".to_string())?
        .trim();
    if text.is_empty() {
        return Err("empty".to_string());
    }
    let shown: String = text.chars().take(16).collect();
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a pid: {shown:?}"));
    }
    match text.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!("not a pid: {shown:?}")),
    }
}

/// When a process started, as wall-clock time: the boot time (wall clock minus the time since
/// boot, both read together) plus its start in clock ticks.
pub fn start_time(start_ticks: u64, ticks_per_second: u64, booted: SystemTime) -> SystemTime {
    let ticks_per_second = ticks_per_second.max(1);
    let whole = start_ticks / ticks_per_second;
    let part = start_ticks % ticks_per_second;
    booted
        + Duration::from_secs(whole)
        + Duration::from_nanos(part * 1_000_000_000 / ticks_per_second)
}

/// A pidfile's pid counts only for a live process that started no later than the file was
/// written (within [`START_TIME_SLACK`]): a pid reused by a process started after the service
/// died (and after it wrote the file) is not the service.
pub fn pidfile_names_it(
    stat: &ProcStat,
    started: SystemTime,
    written: SystemTime,
) -> Result<(), String> {
    if !stat.alive() {
        return Err(format!("pid {} ({}) has exited", stat.pid, stat.comm));
    }
    if started > written + START_TIME_SLACK {
        let later = started.duration_since(written).unwrap_or_default();
        return Err(format!(
            "pid {} ({}) started {} after the pidfile was written: not the process that wrote it",
            stat.pid,
            stat.comm,
            humantime::format_duration(Duration::from_millis(later.as_millis() as u64))
        ));
    }
    Ok(())
}

/// A `name:` probe's process: alive, this `comm`, and this owner when one is set.
pub fn name_matches(stat: &ProcStat, uid: u32, name: &str, owner: Option<u32>) -> bool {
    stat.alive() && stat.comm == name && owner.is_none_or(|wanted| wanted == uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_line(pid: i32, comm: &str, state: char, start: u64) -> String {
        // Fields 4..=21 as a real line has them, then the start time and a few more.
        format!(
            "{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {start} 1000000 200 18446744073709551615"
        )
    }

    #[test]
    fn a_stat_line_is_read_from_the_last_parenthesis() {
        let stat = parse_stat(&stat_line(42, "nginx", 'S', 12345)).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                pid: 42,
                comm: "nginx".into(),
                state: 'S',
                start_ticks: 12345
            }
        );
        assert!(stat.alive());
        // A name with spaces and parentheses (any process may choose its comm).
        let tricky = parse_stat(&stat_line(7, "a) Z (b", 'R', 99)).unwrap();
        assert_eq!(
            (tricky.comm.as_str(), tricky.state, tricky.start_ticks),
            ("a) Z (b", 'R', 99)
        );
        assert!(!parse_stat(&stat_line(8, "x", 'Z', 1)).unwrap().alive());
        assert!(!parse_stat(&stat_line(8, "x", 'X', 1)).unwrap().alive());
        for bad in [
            "",
            "42 nginx S",
            "42 (nginx) S 1 2 3",
            "x (a) S",
            "42 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 soon",
        ] {
            assert!(parse_stat(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pidfile_contents() {
        assert_eq!(parse_pidfile(b"1234\n"), Ok(1234));
        assert_eq!(parse_pidfile(b"  1234  "), Ok(1234));
        assert_eq!(parse_pidfile(b"1234\nsecond line ignored"), Ok(1234));
        assert_eq!(parse_pidfile(b""), Err("empty".into()));
        assert_eq!(parse_pidfile(b" \n"), Err("empty".into()));
        assert_eq!(
            parse_pidfile(b"nginx\n"),
            Err("not a pid: \"nginx\"".into())
        );
        assert_eq!(parse_pidfile(b"-5\n"), Err("not a pid: \"-5\"".into()));
        assert_eq!(parse_pidfile(b"0\n"), Err("not a pid: \"0\"".into()));
        assert_eq!(
            parse_pidfile(b"99999999999\n"),
            Err("not a pid: \"99999999999\"".into())
        );
        assert_eq!(parse_pidfile(b"\xff\xfe\n"), Err("not text".into()));
        let huge = [b'1'; PIDFILE_READ_LIMIT];
        assert!(
            parse_pidfile(&huge)
                .unwrap_err()
                .starts_with("longer than 32 bytes")
        );
    }

    #[test]
    fn a_pid_counts_only_if_its_process_started_before_the_pidfile_was_written() {
        let booted = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // 100 ticks a second: start 500.25 s after boot.
        let started = start_time(50_025, 100, booted);
        assert_eq!(started, booted + Duration::from_millis(500_250));
        let stat = parse_stat(&stat_line(42, "nginx", 'S', 50_025)).unwrap();
        // Written just after the start: the service.
        assert_eq!(
            pidfile_names_it(&stat, started, started + Duration::from_millis(30)),
            Ok(())
        );
        // Within the slack (boot time in wall-clock terms is not exact).
        assert_eq!(
            pidfile_names_it(&stat, started, started - Duration::from_millis(900)),
            Ok(())
        );
        // Started 10 s after the file was written: a reused pid.
        let error =
            pidfile_names_it(&stat, started, started - Duration::from_secs(10)).unwrap_err();
        assert_eq!(
            error,
            "pid 42 (nginx) started 10s after the pidfile was written: not the process that wrote it"
        );
        let zombie = parse_stat(&stat_line(42, "nginx", 'Z', 50_025)).unwrap();
        assert_eq!(
            pidfile_names_it(&zombie, started, started + Duration::from_secs(1)),
            Err("pid 42 (nginx) has exited".into())
        );
    }

    #[test]
    fn name_and_owner_select_processes() {
        let nginx = parse_stat(&stat_line(42, "nginx", 'S', 1)).unwrap();
        assert!(name_matches(&nginx, 33, "nginx", None));
        assert!(name_matches(&nginx, 33, "nginx", Some(33)));
        assert!(!name_matches(&nginx, 0, "nginx", Some(33)));
        assert!(!name_matches(&nginx, 33, "nginx:", None));
        let zombie = parse_stat(&stat_line(43, "nginx", 'Z', 1)).unwrap();
        assert!(!name_matches(&zombie, 33, "nginx", None));
    }
}
