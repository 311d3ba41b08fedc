//! Runs probes (exec, tcp, http, https, process, listen) on their intervals under their timeouts
//! and reports each result.
//!
//! One task per probe. It owns the probe's pure [`ProbeHealth`] (to pick the fast interval while
//! the state changes) and sends every result with the updated counters to the daemon, which
//! decides what they mean for the services. Commands run in their own process group, so a timeout
//! kills the whole group (a shell's children too); their output is kept, bounded.
//!
//! Event kinds wait for the kernel between intervals: a `process` probe holds pidfds
//! ([`process`]), a `listen` probe a sock_diag destroy subscription ([`listen`]). When one fires
//! the probe checks again at once, and a failure then is down at once
//! ([`ProbeHealth::observe_down_now`]); so is an exec check killed by a signal, and a refused
//! connection with `fast_fail`. Up still takes `rise` passes.
//!
//! The HTTP client is hand-written (HTTP/1.0 GET, one request per connection): a status line and
//! a bounded body are all a probe needs, and hyper/reqwest would more than double the binary.
//! https runs the same exchange over a rustls stream ([`tls`]).

use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use crate::clock;
use crate::config::{Check, HttpUrl, ProbeConfig, TlsOptions, Trust};
use crate::health::ProbeHealth;
use listen::ListenWatch;
use process::ProcessWatch;

mod listen;
mod listen_rules;
pub mod process;
mod process_rules;
mod tls;

/// Output kept per stream of a command (the rest is read and dropped, so the command never
/// blocks on a full pipe).
pub const OUTPUT_LIMIT: usize = 2048;
/// How much of an HTTP response is read (status line, headers and the body searched).
pub const HTTP_READ_LIMIT: usize = 64 * 1024;
/// After a command exits, how long its leftover children may keep the output pipes open.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);
/// How long to wait for a killed command to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(2);

/// One probe result, with the probe's counters after it.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub index: usize,
    pub ok: bool,
    pub detail: String,
    pub latency: Duration,
    pub health: ProbeHealth,
    /// `Some(verdict)` when this result changed the probe's verdict.
    pub changed: Option<bool>,
}

/// What a probe keeps from one check to the next.
#[derive(Default)]
pub struct CheckCache {
    /// An https probe's TLS client, made on its first check.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// A process probe's pidfds.
    process: ProcessWatch,
    /// A listen probe's destroy-group subscription.
    listen: ListenWatch,
}

impl CheckCache {
    /// Resolves when the kernel reports that what an event probe watches went away; never for
    /// the polled kinds.
    async fn event(&mut self) {
        tokio::select! {
            () = self.process.exited() => {}
            () = self.listen.destroyed() => {}
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub ok: bool,
    pub detail: String,
    /// A failure certain at once: down without counting to `fall`.
    pub at_once: bool,
}

impl CheckResult {
    fn new(ok: bool, detail: String) -> Self {
        CheckResult {
            ok,
            detail,
            at_once: false,
        }
    }
}

/// Starts the probe's task; it ends when the daemon drops the receiver.
pub fn spawn(
    index: usize,
    config: ProbeConfig,
    reports: mpsc::Sender<ProbeReport>,
) -> JoinHandle<()> {
    if let Check::Http {
        url,
        tls: Some(TlsOptions {
            trust: Trust::Unverified,
            ..
        }),
        ..
    } = &config.check
    {
        tracing::warn!(
            probe = %config.name,
            url = %url.text,
            "tls_verify is false: this probe does not check the server's certificate"
        );
    }
    tokio::spawn(async move {
        let mut health = ProbeHealth::new(config.rise, config.fall);
        let mut cache = CheckCache::default();
        let mut after_event = false;
        loop {
            let started = clock::now();
            let result = run_check(
                &config.name,
                &config.check,
                &mut cache,
                config.timeout,
                config.fast_fail,
            )
            .await;
            let latency = clock::now() - started;
            let CheckResult {
                ok,
                detail,
                at_once,
            } = result;
            // After the kernel said it went away, a failed check is certain.
            let changed = if !ok && (at_once || after_event) {
                health.observe_down_now()
            } else {
                health.observe(ok)
            };
            let report = ProbeReport {
                index,
                ok,
                detail,
                latency,
                health: health.clone(),
                changed,
            };
            if reports.send(report).await.is_err() {
                return;
            }
            let pause = if health.changing() {
                config.fast_interval
            } else {
                config.interval
            };
            after_event = tokio::select! {
                () = tokio::time::sleep(pause) => false,
                () = cache.event() => true,
            };
        }
    })
}

/// Runs one check under its timeout. For https the timeout covers connect, handshake and
/// response. An exec check killed by a signal, and with `fast_fail` a refused tcp or http
/// connection, fail at once.
pub async fn run_check(
    probe: &str,
    check: &Check,
    cache: &mut CheckCache,
    timeout: Duration,
    fast_fail: bool,
) -> CheckResult {
    let refused = |error: &io::Error| fast_fail && error.kind() == io::ErrorKind::ConnectionRefused;
    let (ok, detail) = match check {
        Check::Exec { argv, user } => {
            let env = [("ELASTIC_PROBE", probe.to_string())];
            let run = run_command(argv, user.as_ref(), &env, timeout).await;
            return CheckResult {
                ok: run.success(),
                detail: run.describe(),
                at_once: run.killed_by_signal(),
            };
        }
        Check::Tcp { address } => {
            match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
                Ok(Ok(_)) => (true, format!("connected to {address}")),
                Ok(Err(error)) => {
                    return CheckResult {
                        ok: false,
                        detail: format!("connect to {address}: {error}"),
                        at_once: refused(&error),
                    };
                }
                Err(_) => (
                    false,
                    format!("connect to {address}: timed out after {}", show(timeout)),
                ),
            }
        }
        Check::Process(target) => {
            // A scan of /proc and an `owner:` lookup (NSS: LDAP, sssd) block: off the event
            // loop, bounded by the probe's timeout. The pidfds come back with the result.
            let mut watch = std::mem::take(&mut cache.process);
            let target = target.clone();
            let work = tokio::task::spawn_blocking(move || {
                let result = process::check(&target, &mut watch);
                (result, watch)
            });
            match tokio::time::timeout(timeout, work).await {
                Ok(Ok((result, watch))) => {
                    cache.process = watch;
                    result
                }
                Ok(Err(error)) => (false, format!("process check failed: {error}")),
                Err(_) => (
                    false,
                    format!("process check: timed out after {}", show(timeout)),
                ),
            }
        }
        Check::Listen(target) => listen::check(target, &mut cache.listen),
        Check::Http {
            url,
            status,
            body,
            tls,
        } => match tokio::time::timeout(timeout, http_get(url, tls.as_ref(), cache)).await {
            Err(_) => (
                false,
                format!("GET {}: timed out after {}", url.text, show(timeout)),
            ),
            Ok(Err(error)) => {
                return CheckResult {
                    ok: false,
                    detail: format!("GET {}: {error}", url.text),
                    at_once: refused(&error),
                };
            }
            Ok(Ok((got, _))) if got != *status => (
                false,
                format!("GET {}: status {got}, expected {status}", url.text),
            ),
            Ok(Ok((got, text))) => match body {
                Some(needle) if !text.contains(needle.as_str()) => (
                    false,
                    format!("GET {}: status {got}, body lacks {needle:?}", url.text),
                ),
                _ => (true, format!("GET {}: status {got}", url.text)),
            },
        },
    };
    CheckResult::new(ok, detail)
}

fn show(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

/// Connects (and with `tls`, shakes hands), then [`http_exchange`].
async fn http_get(
    url: &HttpUrl,
    tls: Option<&TlsOptions>,
    cache: &mut CheckCache,
) -> io::Result<(u16, String)> {
    let Some(options) = tls else {
        let stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
        return http_exchange(stream, url, 80).await;
    };
    let config = match &cache.tls {
        Some(config) => config.clone(),
        None => {
            let config = tls::client_config(&options.trust)
                .map_err(|error| io::Error::other(format!("TLS setup: {error}")))?;
            cache.tls = Some(config.clone());
            config
        }
    };
    let name = tls::server_name(&options.server_name)
        .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
    let stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
    let stream = TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|error| {
            let hint = tls::hint(&error.to_string());
            io::Error::new(error.kind(), format!("TLS handshake: {error}{hint}"))
        })?;
    http_exchange(stream, url, 443).await
}

/// Sends the GET over `stream` (plain or TLS) and reads the response: status code and body
/// (lossy UTF-8, at most [`HTTP_READ_LIMIT`] bytes with the head).
async fn http_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    url: &HttpUrl,
    default_port: u16,
) -> io::Result<(u16, String)> {
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    let host = if url.port == default_port {
        host
    } else {
        format!("{host}:{}", url.port)
    };
    // HTTP/1.0: no chunked encoding to undo, and the server closes after the response.
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: elastic/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut response = Vec::with_capacity(4096);
    match (&mut stream)
        .take(HTTP_READ_LIMIT as u64)
        .read_to_end(&mut response)
        .await
    {
        Ok(_) => {}
        // A TLS server that closes without close_notify (many HTTP/1.0 ones): what came is
        // judged as it is; a cut response can only fail the check, never pass a bad one.
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(error) => return Err(error),
    }
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an HTTP response: {:?}", truncate(status_line, 80)),
            )
        })?;
    let body = match text.find("\r\n\r\n") {
        Some(i) => text[i + 4..].to_string(),
        None => String::new(),
    };
    Ok((status, body))
}

/// How a command ended.
#[derive(Debug)]
pub struct CommandRun {
    pub outcome: CommandOutcome,
    /// stdout then stderr, each cut at [`OUTPUT_LIMIT`] bytes.
    pub output: String,
}

#[derive(Debug)]
pub enum CommandOutcome {
    Exited(ExitStatus),
    /// The timeout passed; the process group was killed.
    TimedOut(Duration),
    /// It could not be started (missing program, unknown user, …).
    NotStarted(String),
}

impl CommandRun {
    pub fn success(&self) -> bool {
        matches!(&self.outcome, CommandOutcome::Exited(status) if status.success())
    }

    /// The command itself died of a signal (a crash, or killed by someone else), not of our
    /// timeout: a failure certain at once.
    pub fn killed_by_signal(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        matches!(&self.outcome, CommandOutcome::Exited(status) if status.signal().is_some())
    }

    /// One line: how it ended, then the start of its output.
    pub fn describe(&self) -> String {
        let ended = match &self.outcome {
            CommandOutcome::Exited(status) => match status.code() {
                Some(code) => format!("exit status {code}"),
                None => format!("{status}"),
            },
            CommandOutcome::TimedOut(after) => {
                format!("timed out after {}; process group killed", show(*after))
            }
            CommandOutcome::NotStarted(why) => format!("not started: {why}"),
        };
        let output = self.output.trim();
        if output.is_empty() {
            ended
        } else {
            format!("{ended}: {}", truncate(&output.replace('\n', " | "), 200))
        }
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Runs `argv` (never through a shell) in its own process group with stdin closed, as `user`
/// when given, with `env` added and none of the daemon's powers ([`crate::command::confine`]). Past `timeout` the whole group gets SIGKILL; so do leftovers
/// after the command itself exited, so a check cannot leave processes behind.
pub async fn run_command(
    argv: &[String],
    user: Option<&crate::command::RunAs>,
    env: &[(&str, String)],
    timeout: Duration,
) -> CommandRun {
    let not_started = |why: String| CommandRun {
        outcome: CommandOutcome::NotStarted(why),
        output: String::new(),
    };
    let Some((program, args)) = argv.split_first() else {
        return not_started("empty command".to_string());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // As `user` (resolved at load), without the daemon's capabilities and systemd variables.
    if let Err(why) = crate::command::confine(&mut command, user) {
        return not_started(why);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => return not_started(format!("{program}: {error}")),
    };
    // Kills the group on every way out, including the task being aborted at daemon stop.
    let group = GroupKill(child.id().map(|id| Pid::from_raw(id as i32)));
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut status: Option<ExitStatus> = None;
    let mut deadline = tokio::time::Instant::from_std(clock::now() + timeout);
    let mut timed_out = false;
    loop {
        if status.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        tokio::select! {
            done = read_some(&mut stdout, &mut out) => if done { stdout = None },
            done = read_some(&mut stderr, &mut err) => if done { stderr = None },
            exited = child.wait(), if status.is_none() => {
                match exited {
                    Ok(exit) => status = Some(exit),
                    Err(_) => { timed_out = true; break; }
                }
                deadline = deadline.min((clock::now() + OUTPUT_GRACE).into());
            }
            () = tokio::time::sleep_until(deadline) => {
                timed_out = status.is_none();
                break;
            }
        }
    }
    drop(group);
    if status.is_none() {
        let _ = tokio::time::timeout(REAP_TIMEOUT, child.wait()).await;
    }
    let mut output = String::from_utf8_lossy(&out).into_owned();
    if !err.is_empty() {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&String::from_utf8_lossy(&err));
    }
    let outcome = match status {
        Some(exit) if !timed_out => CommandOutcome::Exited(exit),
        _ => CommandOutcome::TimedOut(timeout),
    };
    CommandRun { outcome, output }
}

/// SIGKILL to a process group when dropped.
struct GroupKill(Option<Pid>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            // ESRCH (nothing left in the group) is the normal case.
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

/// Reads one chunk into `kept` (up to [`OUTPUT_LIMIT`]; the rest is dropped). Returns true at
/// EOF or on an error; never resolves when the stream is already closed.
async fn read_some<R: AsyncRead + Unpin>(stream: &mut Option<R>, kept: &mut Vec<u8>) -> bool {
    let Some(reader) = stream.as_mut() else {
        return std::future::pending().await;
    };
    let mut chunk = [0u8; 4096];
    match reader.read(&mut chunk).await {
        Ok(0) | Err(_) => true,
        Ok(n) => {
            let room = OUTPUT_LIMIT.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..n.min(room)]);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::TlsAcceptor;

    /// [`run_check`] without `fast_fail`: (passed, what happened).
    async fn check_once(
        probe: &str,
        check: &Check,
        cache: &mut CheckCache,
        timeout: Duration,
    ) -> (bool, String) {
        let result = run_check(probe, check, cache, timeout, false).await;
        (result.ok, result.detail)
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn exit_status_decides_and_output_is_kept() {
        rt().block_on(async {
            let run = run_command(
                &argv(&["/bin/sh", "-c", "echo fine"]),
                None,
                &[],
                Duration::from_secs(5),
            )
            .await;
            assert!(run.success());
            assert_eq!(run.describe(), "exit status 0: fine");
            let run = run_command(
                &argv(&["/bin/sh", "-c", "echo bad >&2; exit 3"]),
                None,
                &[],
                Duration::from_secs(5),
            )
            .await;
            assert!(!run.success());
            assert_eq!(run.describe(), "exit status 3: bad");
            let run = run_command(
                &argv(&["/nonexistent/check"]),
                None,
                &[],
                Duration::from_secs(5),
            )
            .await;
            assert!(!run.success());
            assert!(
                run.describe()
                    .starts_with("not started: /nonexistent/check:"),
                "{}",
                run.describe()
            );
        });
    }

    #[test]
    fn an_exec_check_killed_by_a_signal_fails_at_once() {
        rt().block_on(async {
            let t = Duration::from_secs(5);
            let cache = &mut CheckCache::default();
            let crashed = Check::Exec {
                argv: argv(&["/bin/sh", "-c", "kill -SEGV $$"]),
                user: None,
            };
            let result = run_check("crash", &crashed, cache, t, false).await;
            assert!(!result.ok && result.at_once, "{result:?}");
            let failed = Check::Exec {
                argv: argv(&["/bin/sh", "-c", "exit 1"]),
                user: None,
            };
            let result = run_check("fail", &failed, cache, t, false).await;
            assert!(
                !result.ok && !result.at_once,
                "an exit status counts to fall: {result:?}"
            );
            // Our own timeout kills the group: an ordinary failure, not a crash.
            let slow = Check::Exec {
                argv: argv(&["/bin/sleep", "5"]),
                user: None,
            };
            let result = run_check("slow", &slow, cache, Duration::from_millis(100), false).await;
            assert!(!result.ok && !result.at_once, "{result:?}");
        });
    }

    #[test]
    fn a_refused_connection_fails_at_once_only_with_fast_fail() {
        rt().block_on(async {
            let t = Duration::from_secs(5);
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = closed.local_addr().unwrap();
            drop(closed);
            let cache = &mut CheckCache::default();
            let tcp = Check::Tcp { address };
            let result = run_check("port", &tcp, cache, t, false).await;
            assert!(!result.ok && !result.at_once, "{result:?}");
            let result = run_check("port", &tcp, cache, t, true).await;
            assert!(!result.ok && result.at_once, "{result:?}");
            let http = Check::Http {
                url: HttpUrl {
                    text: format!("http://{address}/"),
                    host: "127.0.0.1".into(),
                    port: address.port(),
                    path: "/".into(),
                },
                status: 200,
                body: None,
                tls: None,
            };
            let result = run_check("web", &http, cache, t, true).await;
            assert!(!result.ok && result.at_once, "{result:?}");
        });
    }

    #[test]
    fn a_process_exit_turns_the_probe_down_at_once_without_waiting_for_the_interval() {
        rt().block_on(async {
            let dir =
                std::env::temp_dir().join(format!("elastic-loop-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut service = std::process::Command::new("/bin/sleep")
                .arg("60")
                .spawn()
                .unwrap();
            let pidfile = dir.join("service.pid");
            std::fs::write(&pidfile, format!("{}\n", service.id())).unwrap();
            let config = ProbeConfig {
                name: "service".into(),
                check: Check::Process(crate::config::ProcessTarget::Pidfile(pidfile)),
                interval: Duration::from_secs(60),
                fast_interval: Duration::from_secs(60),
                timeout: Duration::from_secs(1),
                rise: 1,
                fall: 3,
                fast_fail: false,
            };
            let (sender, mut reports) = mpsc::channel(4);
            let task = spawn(0, config, sender);
            let first = reports.recv().await.unwrap();
            assert_eq!(first.changed, Some(true), "{first:?}");
            service.kill().unwrap();
            let second = tokio::time::timeout(Duration::from_secs(10), reports.recv())
                .await
                .expect("the exit wakes the probe long before its 60 s interval")
                .unwrap();
            assert_eq!(
                second.changed,
                Some(false),
                "down at once, not 1/3: {second:?}"
            );
            assert_eq!(second.health.describe(), "down");
            task.abort();
            service.wait().unwrap();
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn output_is_bounded() {
        rt().block_on(async {
            // 1 MB of output: read and dropped past the limit, never blocking the command.
            let run = run_command(
                &argv(&["/bin/sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"]),
                None,
                &[],
                Duration::from_secs(20),
            )
            .await;
            assert!(run.success(), "{}", run.describe());
            assert_eq!(run.output.len(), OUTPUT_LIMIT);
        });
    }

    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        rt().block_on(async {
            let dir =
                std::env::temp_dir().join(format!("elastic-probe-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let pidfile = dir.join("grandchild.pid");
            // The shell starts a grandchild that would outlive it, then hangs.
            let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
            let run = run_command(
                &argv(&["/bin/sh", "-c", &script]),
                None,
                &[],
                Duration::from_millis(300),
            )
            .await;
            assert!(
                matches!(run.outcome, CommandOutcome::TimedOut(_)),
                "{run:?}"
            );
            assert!(
                run.describe()
                    .starts_with("timed out after 300ms; process group killed")
            );
            let pid: i32 = std::fs::read_to_string(&pidfile)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            // The grandchild is gone (or a zombie until init reaps it): bounded wait.
            let gone = (0..50).any(|_| {
                let state =
                    std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let alive = state.split_whitespace().nth(2).is_some_and(|s| s != "Z");
                if alive {
                    std::thread::sleep(Duration::from_millis(20));
                }
                !alive
            });
            assert!(gone, "grandchild {pid} survived the timeout");
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn tcp_and_http_checks_against_a_local_server() {
        rt().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                for reply in [
                    "HTTP/1.0 200 OK\r\n\r\nall good",
                    "HTTP/1.1 503 Unavailable\r\n\r\nbusy",
                    "HTTP/1.0 200 OK\r\n\r\nmeh",
                    "garbage",
                ] {
                    let (mut socket, _) = listener.accept().await.unwrap();
                    let mut request = vec![0u8; 1024];
                    let n = socket.read(&mut request).await.unwrap();
                    let request = String::from_utf8_lossy(&request[..n]).to_string();
                    assert!(
                        request.starts_with("GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:"),
                        "{request}"
                    );
                    socket.write_all(reply.as_bytes()).await.unwrap();
                }
            });
            let url = HttpUrl {
                text: format!("http://{address}/healthz"),
                host: "127.0.0.1".into(),
                port: address.port(),
                path: "/healthz".into(),
            };
            let check = Check::Http {
                url,
                status: 200,
                body: Some("good".into()),
                tls: None,
            };
            let t = Duration::from_secs(5);
            let cache = &mut CheckCache::default();
            assert!(check_once("web", &check, cache, t).await.0);
            let (ok, detail) = check_once("web", &check, cache, t).await;
            assert!(
                !ok && detail.ends_with("status 503, expected 200"),
                "{detail}"
            );
            let (ok, detail) = check_once("web", &check, cache, t).await;
            assert!(!ok && detail.ends_with("body lacks \"good\""), "{detail}");
            let (ok, detail) = check_once("web", &check, cache, t).await;
            assert!(!ok && detail.contains("not an HTTP response"), "{detail}");
            server.await.unwrap();

            let (ok, _) = check_once("port", &Check::Tcp { address }, cache, t).await;
            assert!(!ok, "the listener is closed now");
            let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (ok, detail) = check_once(
                "port",
                &Check::Tcp {
                    address: open.local_addr().unwrap(),
                },
                cache,
                t,
            )
            .await;
            assert!(ok, "{detail}");
        });
    }

    /// How the test TLS server answers one connection.
    enum Answer {
        /// This response, then close_notify.
        Reply(&'static str),
        /// This response, then a bare TCP close (no close_notify, as many HTTP/1.0 servers do).
        ReplyAndDrop(&'static str),
        /// The client refuses the certificate, so the handshake fails.
        HandshakeFails,
    }

    /// A TLS server side with a self-signed certificate made now (test-only, for the name
    /// 127.0.0.1; marked CA:TRUE when `ca`, as `openssl req -x509` does), and that certificate.
    fn test_acceptor(ca: bool) -> (TlsAcceptor, CertificateDer<'static>) {
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let signing_key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&signing_key).unwrap().der().clone();
        let key = PrivateKeyDer::Pkcs8(signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
        (TlsAcceptor::from(Arc::new(config)), cert)
    }

    /// A TLS server on 127.0.0.1 ([`test_acceptor`]). It answers one connection per entry of
    /// `answers`, checking each request, then ends.
    async fn tls_server(
        ca: bool,
        answers: Vec<Answer>,
    ) -> (SocketAddr, CertificateDer<'static>, JoinHandle<()>) {
        let (acceptor, cert) = test_acceptor(ca);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for answer in answers {
                let (socket, _) = listener.accept().await.unwrap();
                let handshake = acceptor.accept(socket).await;
                let (mut stream, reply, close_notify) = match (handshake, answer) {
                    (Err(_), Answer::HandshakeFails) => continue,
                    (Ok(_), Answer::HandshakeFails) => panic!("the handshake should have failed"),
                    (Err(error), _) => panic!("handshake: {error}"),
                    (Ok(stream), Answer::Reply(text)) => (stream, text, true),
                    (Ok(stream), Answer::ReplyAndDrop(text)) => (stream, text, false),
                };
                let mut request = vec![0u8; 1024];
                let n = stream.read(&mut request).await.unwrap();
                let request = String::from_utf8_lossy(&request[..n]).to_string();
                assert!(
                    request.starts_with(&format!(
                        "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n",
                        address.port()
                    )),
                    "{request}"
                );
                stream.write_all(reply.as_bytes()).await.unwrap();
                if close_notify {
                    stream.shutdown().await.unwrap();
                } else {
                    stream.flush().await.unwrap();
                }
            }
        });
        (address, cert, server)
    }

    fn https_check(address: SocketAddr, trust: Trust, server_name: &str) -> Check {
        Check::Http {
            url: HttpUrl {
                text: format!("https://{address}/healthz"),
                host: "127.0.0.1".into(),
                port: address.port(),
                path: "/healthz".into(),
            },
            status: 200,
            body: Some("good".into()),
            tls: Some(TlsOptions {
                trust,
                server_name: server_name.into(),
            }),
        }
    }

    #[test]
    fn https_checks_against_a_local_tls_server() {
        rt().block_on(async {
            let (address, cert, server) = tls_server(false, vec![
                Answer::Reply("HTTP/1.0 200 OK\r\n\r\nall good"),
                Answer::ReplyAndDrop("HTTP/1.1 200 OK\r\n\r\nstill good"),
                Answer::HandshakeFails,
                Answer::HandshakeFails,
                Answer::Reply("HTTP/1.0 200 OK\r\n\r\ngood without checking"),
                Answer::Reply("HTTP/1.1 503 Unavailable\r\n\r\ngood but busy"),
                Answer::ReplyAndDrop("HTTP/1.0 200 OK\r\n\r\nmeh"),
            ])
            .await;
            let t = Duration::from_secs(5);
            let trusted = https_check(
                address,
                Trust::CaFile {
                    path: "/test/ca.pem".into(),
                    certs: vec![cert.clone()],
                },
                "127.0.0.1",
            );
            let cache = &mut CheckCache::default();
            let (ok, detail) = check_once("web", &trusted, cache, t).await;
            assert!(ok, "{detail}");
            assert_eq!(detail, format!("GET https://{address}/healthz: status 200"));
            // The same cache (one client per probe), a server that skips close_notify.
            let (ok, detail) = check_once("web", &trusted, cache, t).await;
            assert!(ok, "{detail}");

            // The default roots do not know the self-signed issuer.
            let default_roots = https_check(address, Trust::Default, "127.0.0.1");
            let (ok, detail) =
                check_once("web", &default_roots, &mut CheckCache::default(), t).await;
            assert!(
                !ok && detail.contains("TLS handshake: invalid peer certificate: UnknownIssuer")
                    && detail.ends_with("(set ca_file to the issuer's certificate, or tls_verify: false)"),
                "{detail}"
            );
            // A trusted certificate for another name.
            let other_name = https_check(
                address,
                Trust::CaFile {
                    path: "/test/ca.pem".into(),
                    certs: vec![cert.clone()],
                },
                "web.internal",
            );
            let (ok, detail) = check_once("web", &other_name, &mut CheckCache::default(), t).await;
            assert!(
                !ok && detail.contains(
                    "TLS handshake: invalid peer certificate: certificate not valid for name \"web.internal\""
                ),
                "{detail}"
            );
            // tls_verify: false accepts it.
            let unverified = https_check(address, Trust::Unverified, "127.0.0.1");
            let (ok, detail) = check_once("web", &unverified, &mut CheckCache::default(), t).await;
            assert!(ok, "{detail}");

            let (ok, detail) = check_once("web", &trusted, cache, t).await;
            assert!(
                !ok && detail.ends_with("status 503, expected 200"),
                "{detail}"
            );
            let (ok, detail) = check_once("web", &trusted, cache, t).await;
            assert!(!ok && detail.ends_with("body lacks \"good\""), "{detail}");
            server.await.unwrap();
        });
    }

    #[test]
    fn a_self_signed_ca_certificate_cannot_be_its_own_ca_file() {
        rt().block_on(async {
            let (address, cert, server) = tls_server(
                true,
                vec![
                    Answer::HandshakeFails,
                    Answer::Reply("HTTP/1.0 200 OK\r\n\r\ngood"),
                ],
            )
            .await;
            let check = https_check(
                address,
                Trust::CaFile {
                    path: "/test/ca.pem".into(),
                    certs: vec![cert],
                },
                "127.0.0.1",
            );
            let t = Duration::from_secs(5);
            let (ok, detail) = check_once("web", &check, &mut CheckCache::default(), t).await;
            assert!(
                !ok && detail.contains("CaUsedAsEndEntity")
                    && detail.contains("reissue it with basicConstraints CA:FALSE"),
                "{detail}"
            );
            let check = https_check(address, Trust::Unverified, "127.0.0.1");
            let (ok, detail) = check_once("web", &check, &mut CheckCache::default(), t).await;
            assert!(ok, "{detail}");
            server.await.unwrap();
        });
    }

    #[test]
    fn an_https_check_times_out_on_a_server_that_never_answers() {
        rt().block_on(async {
            let t = Duration::from_millis(300);
            // Accepts the connection, never speaks TLS: the handshake hangs.
            let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = silent.local_addr().unwrap();
            let hold = tokio::spawn(async move {
                let (socket, _) = silent.accept().await.unwrap();
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(socket);
            });
            let check = https_check(address, Trust::Unverified, "127.0.0.1");
            let started = clock::now();
            let (ok, detail) = check_once("web", &check, &mut CheckCache::default(), t).await;
            let took = clock::now() - started;
            assert!(!ok, "{detail}");
            assert_eq!(
                detail,
                format!("GET https://{address}/healthz: timed out after 300ms")
            );
            assert!(took >= t && took < Duration::from_secs(2), "{took:?}");
            hold.abort();

            // Completes the handshake, reads the request, never answers it.
            let (acceptor, _) = test_acceptor(false);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let mute = tokio::spawn(async move {
                let (socket, _) = listener.accept().await.unwrap();
                let mut stream = acceptor.accept(socket).await.unwrap();
                let mut request = vec![0u8; 1024];
                let _ = stream.read(&mut request).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
            let check = https_check(address, Trust::Unverified, "127.0.0.1");
            let started = clock::now();
            let (ok, detail) = check_once("web", &check, &mut CheckCache::default(), t).await;
            let took = clock::now() - started;
            assert!(!ok, "{detail}");
            assert!(detail.ends_with("timed out after 300ms"), "{detail}");
            assert!(took >= t && took < Duration::from_secs(2), "{took:?}");
            mute.abort();
        });
    }
}
