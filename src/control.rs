//! The control socket: a unix socket serving elastic.v1 with the calls that change the daemon's
//! state (SetMaintenance, Drain), and the `elastic drain` / `elastic undrain` /
//! `elastic maintenance on|off` client.
//!
//! Off unless `control_socket` is set in the config. The socket is created with mode 0600 (0660
//! and the group's ownership with `control_socket_group`): who may connect is the file system's
//! decision, as for the maintenance file. The TCP API stays read-only.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction};
use nix::sys::stat::Mode;
use tokio::net::{UnixListener, UnixStream};

use crate::api::elastic::ControlCommand;
use crate::proto::elastic::v1 as pb;
use crate::proto::elastic::v1::elastic_client::ElasticClient;

/// Where `elastic drain` looks when `--socket` is not given (the path the README suggests).
pub const DEFAULT_SOCKET: &str = "/run/elastic/control.sock";

const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {error}")]
    Io { path: PathBuf, error: io::Error },
    #[error("control socket {path}: another process is serving it (is elastic already running?)")]
    InUse { path: PathBuf },
    #[error("control_socket_group {group}: no such group")]
    NoGroup { group: String },
}

/// Creates the socket at `path` with mode 0600, or 0660 owned by `group`. A stale socket left by
/// a crash is replaced; a live one (someone accepts connections on it) is an error. Call on the
/// runtime, during start-up (it sets the process umask for the moment of the bind).
pub fn bind(path: &Path, group: Option<&str>) -> Result<UnixListener, ControlError> {
    let io_error = |error| ControlError::Io {
        path: path.to_path_buf(),
        error,
    };
    let gid = match group {
        None => None,
        Some(name) => match nix::unistd::Group::from_name(name) {
            Ok(Some(group)) => Some(group.gid.as_raw()),
            Ok(None) => {
                return Err(ControlError::NoGroup {
                    group: name.to_string(),
                });
            }
            Err(errno) => return Err(io_error(io::Error::from(errno))),
        },
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io_error(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a socket; refusing to replace it",
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ControlError::InUse {
                path: path.to_path_buf(),
            });
        }
        std::fs::remove_file(path).map_err(io_error)?;
    }
    // The mode is right from the first moment: no window in which others could connect.
    let previous = nix::sys::stat::umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(previous);
    let listener = bound.map_err(io_error)?;
    let mode = if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(io_error)?;
        0o660
    } else {
        0o600
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_error)?;
    Ok(listener)
}

/// Removes the socket file on stop (only if it is still a socket).
pub fn remove(path: &Path) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

// ===== the client: elastic drain | undrain | maintenance on|off =====

pub const EXIT_OK: u8 = 0;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_FAILED: u8 = 3;

/// The words that select the client, for `main`.
pub const WORDS: [&str; 3] = ["drain", "undrain", "maintenance"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub command: ControlCommand,
    pub socket: PathBuf,
}

fn socket_arg() -> Arg {
    Arg::new("socket")
        .long("socket")
        .value_name("PATH")
        .default_value(DEFAULT_SOCKET)
        .help("The daemon's control socket (control_socket in its config)")
}

fn command(word: &str) -> clap::Command {
    let name = match word {
        "drain" => "elastic drain",
        "undrain" => "elastic undrain",
        _ => "elastic maintenance",
    };
    let base = clap::Command::new(name)
        .no_binary_name(true)
        .disable_version_flag(true)
        .arg(socket_arg())
        .after_help(
            "Talks to the daemon's control socket (set control_socket in its config).\n\
             Exit status: 0 done, 2 bad usage, 3 the daemon cannot be reached or refused.",
        );
    match word {
        "drain" => base
            .about(
                "Graceful shutdown without stopping (RFC 8326): every route is announced demoted \
                 with GRACEFUL_SHUTDOWN 65535:0 until `elastic undrain`.",
            )
            .arg(
                Arg::new("undo")
                    .long("undo")
                    .action(ArgAction::SetTrue)
                    .help("Undo a drain (the same as `elastic undrain`)"),
            ),
        "undrain" => base.about("Undoes `elastic drain`."),
        _ => base
            .about("Maintenance on or off, like the maintenance file (each service's `maintenance` treatment).")
            .arg(
                Arg::new("state")
                    .required(true)
                    .value_parser(["on", "off"])
                    .help("on: drain like the maintenance file; off: undo"),
            ),
    }
}

/// Parses the arguments after `word`. `Err` carries the text and the exit code (0 for `--help`).
pub fn parse<I, T>(word: &str, args: I) -> Result<Options, (String, u8)>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    // Go-style single-dash long flags work as in the daemon (`-socket PATH`, `-undo`).
    let args: Vec<OsString> = args
        .into_iter()
        .map(|a| {
            let a: OsString = a.into();
            match a.to_str() {
                Some(s) if s.starts_with('-') && !s.starts_with("--") && s.len() > 2 => {
                    OsString::from(format!("-{s}"))
                }
                _ => a,
            }
        })
        .collect();
    let matches = command(word).try_get_matches_from(args).map_err(|error| {
        let code = if error.use_stderr() { EXIT_USAGE } else { 0 };
        (error.render().to_string(), code)
    })?;
    let command = match word {
        "drain" => ControlCommand::Drain(!matches.get_flag("undo")),
        "undrain" => ControlCommand::Drain(false),
        _ => ControlCommand::SetMaintenance(
            matches.get_one::<String>("state").map(String::as_str) == Some("on"),
        ),
    };
    let socket = PathBuf::from(
        matches
            .get_one::<String>("socket")
            .map_or(DEFAULT_SOCKET, String::as_str),
    );
    Ok(Options { command, socket })
}

/// Runs `elastic WORD ARGS…`.
pub fn main<I, T>(word: &str, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let options = match parse(word, args) {
        Ok(options) => options,
        Err((text, 0)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err((text, code)) => {
            eprint!("elastic {word}: {text}");
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("elastic {word}: cannot start the runtime: {error}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(send(&options)) {
        Ok(message) => {
            println!("{message}");
            ExitCode::from(EXIT_OK)
        }
        Err(error) => {
            eprintln!("elastic {word}: {error}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Sends the command; the answer as a line for people.
pub async fn send(options: &Options) -> Result<String, String> {
    let mut client = connect(&options.socket).await?;
    let failed = |status: tonic::Status| format!("the daemon refused: {}", status.message());
    match options.command {
        ControlCommand::Drain(drain) => {
            let answer = client
                .drain(pb::DrainRequest { drain })
                .await
                .map_err(failed)?
                .into_inner();
            Ok(if answer.draining {
                "draining: every route carries GRACEFUL_SHUTDOWN (65535:0) and its demoted \
                 attributes; `elastic undrain` undoes it"
                    .to_string()
            } else {
                "not draining: routes are announced as health decides".to_string()
            })
        }
        ControlCommand::SetMaintenance(on) => {
            let answer = client
                .set_maintenance(pb::SetMaintenanceRequest { drain: on })
                .await
                .map_err(failed)?
                .into_inner();
            Ok(if answer.draining {
                "maintenance on: each service's maintenance treatment applies".to_string()
            } else {
                "maintenance off (a maintenance file, if present, still applies)".to_string()
            })
        }
    }
}

/// A client on the unix socket at `path`.
pub async fn connect(path: &Path) -> Result<ElasticClient<tonic::transport::Channel>, String> {
    if !path.exists() {
        return Err(format!(
            "{}: no such socket (is the daemon running, with control_socket set in its config?)",
            path.display()
        ));
    }
    let target = path.to_path_buf();
    // The URI is required by the API but unused: the connector below dials the socket.
    let channel = tonic::transport::Endpoint::from_static("http://control.sock")
        .timeout(REQUEST_TIMEOUT)
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let target = target.clone();
            async move {
                let stream = UnixStream::connect(&target).await?;
                Ok::<_, io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|error| {
            let detail = std::error::Error::source(&error)
                .map(ToString::to_string)
                .unwrap_or_else(|| error.to_string());
            format!("cannot connect to {}: {detail}", path.display())
        })?;
    Ok(ElasticClient::new(channel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_parse_into_commands() {
        let parsed = |word: &str, args: &[&str]| parse(word, args.iter().copied()).unwrap();
        assert_eq!(parsed("drain", &[]).command, ControlCommand::Drain(true));
        assert_eq!(
            parsed("drain", &["--undo"]).command,
            ControlCommand::Drain(false)
        );
        assert_eq!(
            parsed("drain", &["-undo"]).command,
            ControlCommand::Drain(false)
        );
        assert_eq!(parsed("undrain", &[]).command, ControlCommand::Drain(false));
        assert_eq!(
            parsed("maintenance", &["on"]).command,
            ControlCommand::SetMaintenance(true)
        );
        assert_eq!(
            parsed("maintenance", &["off", "-socket", "/tmp/x.sock"]),
            Options {
                command: ControlCommand::SetMaintenance(false),
                socket: PathBuf::from("/tmp/x.sock"),
            }
        );
        assert_eq!(parsed("drain", &[]).socket, PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(parse("maintenance", ["maybe"]).unwrap_err().1, EXIT_USAGE);
        assert_eq!(
            parse("maintenance", Vec::<String>::new()).unwrap_err().1,
            EXIT_USAGE
        );
        assert_eq!(parse("drain", ["--help"]).unwrap_err().1, 0);
    }

    #[tokio::test]
    async fn the_socket_is_private_and_a_live_one_is_not_replaced() {
        let dir = std::env::temp_dir().join(format!("elastic-control-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("control.sock");
        let listener = bind(&path, None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Someone listens: a second daemon must not steal the socket.
        assert!(matches!(bind(&path, None), Err(ControlError::InUse { .. })));
        drop(listener);
        // Stale (nobody listens): replaced.
        let _again = bind(&path, None).unwrap();
        assert!(matches!(
            bind(&dir.join("x.sock"), Some("no-such-group-elastic")),
            Err(ControlError::NoGroup { .. })
        ));
        // A regular file is never removed.
        let file = dir.join("file");
        std::fs::write(&file, "keep").unwrap();
        assert!(bind(&file, None).is_err());
        assert!(file.exists());
        remove(&path);
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
