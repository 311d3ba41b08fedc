//! A probe as the daemon runs it: what it checks and how often, converted from the file's
//! [`RawProbe`]. Split from `mod.rs` to keep each file to one subject.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    pub name: String,
    pub check: Check,
    pub interval: Duration,
    /// Used while the probe's state is changing (rising or falling, or waiting at start).
    pub fast_interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    /// tcp and http: a refused connection counts as `fall` failures in one go.
    pub fast_fail: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Exit status 0 passes. `shell` in the file becomes `["/bin/sh", "-c", script]`.
    Exec {
        argv: Vec<String>,
        user: Option<RunAs>,
    },
    /// A TCP connect that completes passes.
    Tcp { address: SocketAddr },
    /// A GET whose status matches (and whose body contains `body`, when set) passes.
    Http {
        url: HttpUrl,
        status: u16,
        body: Option<String>,
        /// Set exactly for `https://` URLs.
        tls: Option<TlsOptions>,
    },
    /// Up while the process lives; its exit turns the probe down at once.
    Process(ProcessTarget),
    /// Up while a socket listens there; its closing turns the probe down at once.
    Listen(ListenTarget),
}

/// Which process a `process` probe watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessTarget {
    /// The pid in this file, if that process started no later than the file was written.
    Pidfile(PathBuf),
    /// Every process with this `comm` (of `owner` only, when set: a user name or a uid).
    Name { name: String, owner: Option<String> },
}

/// How an https probe checks the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    pub trust: Trust,
    /// The name the certificate must carry and the SNI sent (none for an IP address): the URL's
    /// host unless `server_name` is set. Checked at load to be a DNS name or an IP address.
    pub server_name: String,
}

/// Which certificates an https probe accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Chains to Mozilla's roots (compiled in from webpki-roots).
    Default,
    /// Chains to one of these (`ca_file`, read at load), instead of the default roots.
    CaFile {
        path: PathBuf,
        certs: Vec<CertificateDer<'static>>,
    },
    /// `tls_verify: false`: any certificate for any name (the server must still sign the
    /// handshake with the key of the certificate it sends).
    Unverified,
}

impl ProbeConfig {
    /// `raw` passed [`schema::CheckFields`]: exactly one kind of check is set. A `ca_file`'s
    /// certificates are read after parsing ([`parse_with`]).
    pub(super) fn from_raw(name: String, raw: RawProbe) -> Self {
        let interval = raw.interval();
        let fast_interval = raw.fast_interval();
        let timeout = raw.timeout.map_or(interval, |d| d.get());
        let rise = raw.rise.map_or(DEFAULT_RISE, |c| c.get());
        let fall = raw.fall.map_or(DEFAULT_FALL, |c| c.get());
        let fast_fail = raw.fast_fail.unwrap_or(false);
        let check = match (raw.process, raw.listen) {
            (Some(process), _) => Check::Process(match process.0 {
                RawProcess {
                    pidfile: Some(path),
                    ..
                } => ProcessTarget::Pidfile(path.into_path()),
                RawProcess {
                    name: Some(name),
                    owner,
                    ..
                } => ProcessTarget::Name {
                    name: name.into_string(),
                    owner,
                },
                _ => unreachable!("checked: a process probe has pidfile or name"),
            }),
            (None, Some(listen)) => Check::Listen(listen),
            (None, None) => Self::polled_check(raw.exec, raw.shell, raw.tcp, raw.http, raw.user),
        };
        ProbeConfig {
            name,
            check,
            interval,
            fast_interval,
            timeout,
            rise,
            fall,
            fast_fail,
        }
    }

    fn polled_check(
        exec: Option<Argv>,
        shell: Option<String>,
        tcp: Option<TcpTarget>,
        http: Option<Checked<RawHttp>>,
        user: Option<String>,
    ) -> Check {
        match (exec, shell, tcp, http) {
            (Some(argv), ..) => Check::Exec {
                argv: argv.into_vec(),
                user: user.map(RunAs::from),
            },
            (_, Some(script), ..) => Check::Exec {
                argv: vec![SHELL.to_string(), "-c".to_string(), script],
                user: user.map(RunAs::from),
            },
            (_, _, Some(tcp), _) => Check::Tcp { address: tcp.get() },
            (_, _, _, Some(http)) => {
                let http = http.0;
                let tls = http.url.is_https().then(|| TlsOptions {
                    trust: match (http.tls_verify, http.ca_file) {
                        (Some(false), _) => Trust::Unverified,
                        (_, Some(path)) => Trust::CaFile {
                            path: path.into_path(),
                            certs: Vec::new(),
                        },
                        (_, None) => Trust::Default,
                    },
                    server_name: http
                        .server_name
                        .map_or_else(|| http.url.host.clone(), |n| n.into_string()),
                });
                Check::Http {
                    url: http.url,
                    status: http.status.map_or(200, |s| s.get()),
                    body: http.body,
                    tls,
                }
            }
            (None, None, None, None) => unreachable!("checked: a probe has one kind of check"),
        }
    }
}
