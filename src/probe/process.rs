//! The `process` probe's IO: find the process (a pidfile's pid, or every process with a name),
//! hold a pidfd for each, and wake the probe the moment the last one exits.
//!
//! Only `/proc/PID/stat`, `/proc/PID/comm` and the owner of `/proc/PID` are read, never `exe`
//! (ptrace rules). A pidfd names one process for as long as it is held, so once the probe holds
//! it a reused pid cannot be mistaken for the service; before that, the pidfile rule in
//! [`process_rules`] guards the pid read from the file.

use std::fs::File;
use std::future::poll_fn;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid as RustixPid, PidfdFlags};
use tokio::io::unix::AsyncFd;

use super::process_rules::{self, PIDFILE_READ_LIMIT, ProcStat};
use crate::clock;
use crate::config::ProcessTarget;

/// At most this many processes are watched for one `name:` probe (one pidfd each): enough for a
/// master and its workers.
const MAX_WATCHED: usize = 64;

/// The pidfds a `process` probe holds between checks.
#[derive(Default)]
pub struct ProcessWatch {
    watched: Vec<Watched>,
    /// Why pidfds cannot be had (a kernel before 5.3, a seccomp filter): the probe then polls.
    unavailable: Option<String>,
}

struct Watched {
    pid: i32,
    start_ticks: u64,
    /// `None` where pidfds are unavailable: the process is then checked in `/proc` each time.
    fd: Option<AsyncFd<OwnedFd>>,
}

impl Watched {
    /// Whether the process has exited: its pidfd polls readable then (checked without waiting);
    /// without one, its `/proc/PID/stat` is gone, a zombie's, or another process's.
    fn exited(&self) -> bool {
        let Some(fd) = &self.fd else {
            return !read_stat(self.pid)
                .is_ok_and(|now| now.alive() && now.start_ticks == self.start_ticks);
        };
        let mut fds = [PollFd::new(fd.get_ref(), PollFlags::IN)];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        !matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(0))
    }
}

impl ProcessWatch {
    /// Resolves when a watched process has exited (at once when one already has); never when
    /// none is watched.
    pub async fn exited(&self) {
        poll_fn(|cx| {
            for watched in &self.watched {
                let Some(fd) = &watched.fd else {
                    continue;
                };
                match fd.poll_read_ready(cx) {
                    Poll::Pending => {}
                    // Readiness the kernel does not confirm is cleared, so it cannot spin the loop.
                    Poll::Ready(Ok(mut guard)) if !watched.exited() => guard.clear_ready(),
                    Poll::Ready(_) => return Poll::Ready(()),
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Drops the pidfds of the processes that have exited (a pidfd polls readable then).
    fn forget_exited(&mut self) {
        self.watched.retain(|watched| !watched.exited());
    }

    /// How the probe learns of an exit, for its result in `elastic status`.
    fn mode(&self) -> String {
        match &self.unavailable {
            None => "watched by pidfd".to_string(),
            Some(why) => format!("polled (pidfd unavailable: {why})"),
        }
    }
}

/// One check: (up, what was found and how it is watched). Holds pidfds in `watch` for what it
/// found.
pub fn check(target: &ProcessTarget, watch: &mut ProcessWatch) -> (bool, String) {
    let (up, found) = find(target, watch);
    (up, format!("{found}; {}", watch.mode()))
}

fn find(target: &ProcessTarget, watch: &mut ProcessWatch) -> (bool, String) {
    watch.forget_exited();
    match target {
        ProcessTarget::Pidfile(path) => match pidfile_process(path, watch) {
            Ok(stat) => (
                true,
                format!("pid {} ({}) from {}", stat.pid, stat.comm, path.display()),
            ),
            Err(why) => {
                watch.watched.clear();
                (false, format!("{}: {why}", path.display()))
            }
        },
        ProcessTarget::Name { name, owner } => {
            // While one matching process is held, the name is up: no need to scan /proc.
            if watch.watched.is_empty()
                && let Err(why) = scan_by_name(name, owner.as_deref(), watch)
            {
                return (false, format!("process {name:?}: {why}"));
            }
            match watch.watched.len() {
                0 => (
                    false,
                    format!("no live process named {name:?}{}", by(owner)),
                ),
                1 => (
                    true,
                    format!("process {name:?}{} pid {}", by(owner), watch.watched[0].pid),
                ),
                n => (true, format!("{n} processes named {name:?}{}", by(owner))),
            }
        }
    }
}

fn by(owner: &Option<String>) -> String {
    owner
        .as_ref()
        .map_or_else(String::new, |owner| format!(" of {owner}"))
}

/// The pidfile's process, watched: the pid it names, if that process lives and started no
/// later than the file was written.
fn pidfile_process(path: &Path, watch: &mut ProcessWatch) -> Result<ProcStat, String> {
    let (bytes, written) = read_pidfile(path).map_err(|error| error.to_string())?;
    let pid = process_rules::parse_pidfile(&bytes)?;
    let stat = read_stat(pid).map_err(|_| format!("pid {pid}: no such process"))?;
    let started = process_rules::start_time(
        stat.start_ticks,
        rustix::param::clock_ticks_per_second(),
        boot_time(),
    );
    process_rules::pidfile_names_it(&stat, started, written)?;
    let held = watch
        .watched
        .iter()
        .any(|w| w.pid == pid && w.start_ticks == stat.start_ticks);
    if !held {
        watch.watched.clear();
        let watched = open_pidfd(&stat, &mut watch.unavailable)?;
        watch.watched.push(watched);
    }
    Ok(stat)
}

/// At most [`PIDFILE_READ_LIMIT`] bytes of a regular file, and its mtime. Opened non-blocking,
/// so a FIFO put in its place cannot hang the event loop; anything but a regular file is refused.
fn read_pidfile(path: &Path) -> io::Result<(Vec<u8>, SystemTime)> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::with_capacity(PIDFILE_READ_LIMIT);
    file.take(PIDFILE_READ_LIMIT as u64)
        .read_to_end(&mut bytes)?;
    Ok((bytes, meta.modified()?))
}

fn read_stat(pid: i32) -> io::Result<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    process_rules::parse_stat(&text).map_err(|why| io::Error::new(io::ErrorKind::InvalidData, why))
}

/// A pidfd for the process `stat` describes, checked after opening to still be that process
/// (same start time, alive): the pid could have been reused between reading and opening. Where
/// the kernel has no pidfds (or a filter forbids them), the process is watched by polling and
/// `unavailable` says why.
fn open_pidfd(stat: &ProcStat, unavailable: &mut Option<String>) -> Result<Watched, String> {
    let gone = || format!("pid {} ({}) has exited", stat.pid, stat.comm);
    let pid = RustixPid::from_raw(stat.pid).ok_or_else(gone)?;
    let opened = match rustix::process::pidfd_open(pid, PidfdFlags::NONBLOCK) {
        Ok(fd) => Some(fd),
        Err(error)
            if matches!(
                error,
                rustix::io::Errno::NOSYS | rustix::io::Errno::PERM | rustix::io::Errno::ACCESS
            ) =>
        {
            *unavailable = Some(format!("pidfd_open: {error}"));
            None
        }
        Err(error) => return Err(format!("pidfd_open({}): {error}", stat.pid)),
    };
    match read_stat(stat.pid) {
        Ok(now) if now.start_ticks == stat.start_ticks && now.alive() => {}
        _ => return Err(gone()),
    }
    let fd = match opened {
        None => None,
        // The safe (deprecated) form: an OwnedFd keeps its descriptor for the AsyncFd's whole
        // life, which is what the unsafe `register_with_interest` asks the caller to promise.
        #[allow(deprecated, reason = "an OwnedFd owns its fd; no unsafe in this crate")]
        Some(fd) => Some(
            AsyncFd::with_interest(fd, tokio::io::Interest::READABLE)
                .map_err(|error| format!("pid {}: {error}", stat.pid))?,
        ),
    };
    Ok(Watched {
        pid: stat.pid,
        start_ticks: stat.start_ticks,
        fd,
    })
}

/// Every live process named `name` (of `owner`), watched. Reads `comm` first (short), then
/// `stat` for the matches only.
fn scan_by_name(name: &str, owner: Option<&str>, watch: &mut ProcessWatch) -> Result<(), String> {
    let owner_uid = owner.map(resolve_owner).transpose()?;
    let entries = std::fs::read_dir("/proc").map_err(|error| format!("/proc: {error}"))?;
    for entry in entries.flatten() {
        if watch.watched.len() >= MAX_WATCHED {
            break;
        }
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(comm) = std::fs::read(format!("/proc/{pid}/comm")) else {
            continue;
        };
        if comm.strip_suffix(b"\n").unwrap_or(&comm) != name.as_bytes() {
            continue;
        }
        let (Ok(stat), Ok(meta)) = (read_stat(pid), entry.metadata()) else {
            continue;
        };
        if process_rules::name_matches(&stat, meta.uid(), name, owner_uid)
            && let Ok(watched) = open_pidfd(&stat, &mut watch.unavailable)
        {
            watch.watched.push(watched);
        }
    }
    Ok(())
}

/// `owner:` as a uid: a number, or a user name looked up now (a user added after the daemon
/// started is found).
fn resolve_owner(owner: &str) -> Result<u32, String> {
    if let Ok(uid) = owner.parse::<u32>() {
        return Ok(uid);
    }
    match nix::unistd::User::from_name(owner) {
        Ok(Some(user)) => Ok(user.uid.as_raw()),
        Ok(None) => Err(format!("no user {owner:?}")),
        Err(error) => Err(format!("cannot look up user {owner:?}: {error}")),
    }
}

/// When the system booted, in wall-clock terms: now minus the time since boot (CLOCK_BOOTTIME,
/// the clock `/proc/PID/stat` start times count in). Not the loop's timer clock: a pidfile's
/// mtime is wall-clock time.
fn boot_time() -> SystemTime {
    let since_boot = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let since_boot = Duration::new(
        since_boot.tv_sec.max(0) as u64,
        since_boot.tv_nsec.clamp(0, 999_999_999) as u32,
    );
    clock::system_now() - since_boot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "elastic-process-probe-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_watched_process_wakes_the_probe_when_it_exits() {
        rt().block_on(async {
            let dir = temp_dir("exit");
            let mut child = std::process::Command::new("/bin/sleep")
                .arg("30")
                .spawn()
                .unwrap();
            let pidfile = dir.join("sleep.pid");
            std::fs::write(&pidfile, format!("{}\n", child.id())).unwrap();
            let target = ProcessTarget::Pidfile(pidfile.clone());
            let mut watch = ProcessWatch::default();
            let (up, detail) = check(&target, &mut watch);
            assert!(up, "{detail}");
            assert_eq!(
                detail,
                format!(
                    "pid {} (sleep) from {}; watched by pidfd",
                    child.id(),
                    pidfile.display()
                )
            );
            // Nothing has exited: the wait does not end.
            let early = tokio::time::timeout(Duration::from_millis(100), watch.exited()).await;
            assert!(early.is_err());
            child.kill().unwrap();
            tokio::time::timeout(Duration::from_secs(5), watch.exited())
                .await
                .expect("the pidfd wakes the probe");
            // Not yet reaped (a zombie) counts as gone; so does reaped.
            let (up, detail) = check(&target, &mut watch);
            assert!(!up && detail.contains("has exited;"), "{detail}");
            child.wait().unwrap();
            let (up, detail) = check(&target, &mut watch);
            assert!(!up && detail.contains("no such process;"), "{detail}");
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn a_pidfile_written_before_its_process_started_is_not_trusted() {
        rt().block_on(async {
            let dir = temp_dir("reuse");
            let mut child = std::process::Command::new("/bin/sleep")
                .arg("30")
                .spawn()
                .unwrap();
            let pidfile = dir.join("reused.pid");
            std::fs::write(&pidfile, format!("{}\n", child.id())).unwrap();
            // As if the service wrote the file a minute ago and this pid was reused since.
            let file = File::options().write(true).open(&pidfile).unwrap();
            file.set_modified(clock::system_now() - Duration::from_secs(60))
                .unwrap();
            let (up, detail) = check(
                &ProcessTarget::Pidfile(pidfile.clone()),
                &mut ProcessWatch::default(),
            );
            assert!(
                !up && detail
                    .contains("after the pidfile was written: not the process that wrote it"),
                "{detail}"
            );
            child.kill().unwrap();
            child.wait().unwrap();
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn bad_pidfiles_are_down_with_the_reason_and_never_block() {
        rt().block_on(async {
            let dir = temp_dir("bad");
            let check_file = |name: &str| {
                check(
                    &ProcessTarget::Pidfile(dir.join(name)),
                    &mut ProcessWatch::default(),
                )
            };
            let (up, detail) = check_file("missing.pid");
            assert!(
                !up && detail.contains("No such file or directory (os error 2);"),
                "{detail}"
            );
            std::fs::write(dir.join("empty.pid"), "").unwrap();
            assert!(check_file("empty.pid").1.contains(": empty;"));
            std::fs::write(dir.join("word.pid"), "nginx\n").unwrap();
            assert!(check_file("word.pid").1.contains(": not a pid: \"nginx\";"));
            std::fs::write(dir.join("huge.pid"), "7".repeat(10_000_000)).unwrap();
            let (up, detail) = check_file("huge.pid");
            assert!(!up && detail.contains("longer than 32 bytes"), "{detail}");
            // A FIFO with no writer: a blocking open would hang forever.
            nix::unistd::mkfifo(&dir.join("fifo.pid"), nix::sys::stat::Mode::S_IRWXU).unwrap();
            let (up, detail) = check_file("fifo.pid");
            assert!(!up && detail.contains("not a regular file;"), "{detail}");
            std::fs::create_dir(dir.join("dir.pid")).unwrap();
            assert!(check_file("dir.pid").1.contains("not a regular file;"));
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn a_name_probe_is_up_while_any_matching_process_lives() {
        rt().block_on(async {
            // A copy of sleep under a unique comm, so no other process on the host matches.
            let dir = temp_dir("name");
            let program = dir.join("elps-sleeper");
            std::fs::copy("/bin/sleep", &program).unwrap();
            let target = ProcessTarget::Name {
                name: "elps-sleeper".into(),
                owner: None,
            };
            let mut watch = ProcessWatch::default();
            assert_eq!(
                check(&target, &mut watch),
                (
                    false,
                    "no live process named \"elps-sleeper\"; watched by pidfd".to_string()
                )
            );
            let mut first = std::process::Command::new(&program)
                .arg("30")
                .spawn()
                .unwrap();
            let mut second = std::process::Command::new(&program)
                .arg("30")
                .spawn()
                .unwrap();
            // The kernel sets comm just after the exec that spawn waits for: bounded wait.
            let named = |pid: u32| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm == "elps-sleeper\n")
            };
            for _ in 0..100 {
                if named(first.id()) && named(second.id()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let (up, detail) = check(&target, &mut watch);
            assert!(
                up && detail == "2 processes named \"elps-sleeper\"; watched by pidfd",
                "{detail}"
            );
            first.kill().unwrap();
            first.wait().unwrap();
            tokio::time::timeout(Duration::from_secs(5), watch.exited())
                .await
                .unwrap();
            let (up, detail) = check(&target, &mut watch);
            assert!(up, "the second still lives: {detail}");
            let someone_else = ProcessTarget::Name {
                name: "elps-sleeper".into(),
                owner: Some("4242".into()),
            };
            let (up, _) = check(&someone_else, &mut ProcessWatch::default());
            assert!(!up, "owned by root, not uid 4242");
            second.kill().unwrap();
            second.wait().unwrap();
            tokio::time::timeout(Duration::from_secs(5), watch.exited())
                .await
                .unwrap();
            let (up, _) = check(&target, &mut watch);
            assert!(!up);
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn without_a_pidfd_an_exit_is_seen_in_proc() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let stat = read_stat(child.id() as i32).unwrap();
        let polled = Watched {
            pid: stat.pid,
            start_ticks: stat.start_ticks,
            fd: None,
        };
        assert!(!polled.exited());
        let reused = Watched {
            start_ticks: stat.start_ticks + 1,
            ..polled
        };
        assert!(
            reused.exited(),
            "same pid, another start time: another process"
        );
        let polled = Watched {
            start_ticks: stat.start_ticks,
            ..reused
        };
        child.kill().unwrap();
        // A zombie until reaped, then gone: exited both ways.
        let dead = (0..100).any(|_| {
            let exited = polled.exited();
            if !exited {
                std::thread::sleep(Duration::from_millis(10));
            }
            exited
        });
        assert!(dead);
        child.wait().unwrap();
        assert!(polled.exited());
        let mut watch = ProcessWatch {
            watched: Vec::new(),
            unavailable: Some("pidfd_open: Function not implemented".into()),
        };
        let (up, detail) = check(
            &ProcessTarget::Pidfile("/nonexistent/x.pid".into()),
            &mut watch,
        );
        assert!(
            !up && detail
                .ends_with("; polled (pidfd unavailable: pidfd_open: Function not implemented)"),
            "{detail}"
        );
    }
}
