//! `elastic drain`, `elastic undrain`, `elastic maintenance on|off`: ask the daemon's control
//! socket ([`crate::control`]) to drain or to go into maintenance.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction};
use tokio::net::UnixStream;

use crate::api::elastic::ControlCommand;
use crate::control::DEFAULT_SOCKET;
use crate::proto::elastic::v1 as pb;
use crate::proto::elastic::v1::elastic_client::ElasticClient;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

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
    let args = super::go_style(args);
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
    let outcome = match super::on_runtime(&format!("elastic {word}"), EXIT_FAILED, send(&options)) {
        Ok(outcome) => outcome,
        Err(code) => return code,
    };
    match outcome {
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
}
