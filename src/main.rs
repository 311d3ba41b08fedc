//! The `elastic` process: flags, config file, logging, the runtime, exit codes. The work is in
//! `daemon::run`.

use std::process::ExitCode;

use elastic::cli::{self, Command, Invocation, Settings};
use elastic::{accept, config, control, daemon, logging, status_cmd};
use tracing::{error, warn};

/// Exit codes: 0 after an orderly stop, `-h` or a valid `check-config`; 1 for a fatal runtime
/// error or an invalid config file (and anything `check-config` rejects); 2 for bad usage.
fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    // `elastic status …` asks a running daemon; its exit codes are documented in status_cmd.
    if args.peek().is_some_and(|first| first == "status") {
        return status_cmd::main(args.skip(1));
    }
    // `elastic drain`, `undrain`, `maintenance on|off` talk to the daemon's control socket.
    if let Some(word) = args
        .peek()
        .and_then(|first| control::WORDS.iter().find(|w| first == **w))
    {
        return control::main(word, args.skip(1));
    }
    let (invocation, check_only) = match cli::parse(args) {
        Ok(Command::Run(invocation)) => (invocation, false),
        Ok(Command::CheckConfig(invocation)) => (invocation, true),
        Ok(Command::Help(usage)) => {
            print!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(usage_error) => {
            // The message already ends with a hint to `-h`.
            eprintln!("elastic: {usage_error}");
            return ExitCode::from(if check_only_requested() { 1 } else { 2 });
        }
    };
    let settings = match effective_settings(&invocation) {
        Ok(settings) => settings,
        Err((message, code)) => {
            eprintln!("elastic: {message}");
            return ExitCode::from(if check_only { 1 } else { code });
        }
    };
    if check_only {
        for warning in &settings.warnings {
            eprintln!("elastic: warning: {warning}");
        }
        let source = match &settings.config_file {
            Some(path) => format!("flags and {}", path.display()),
            None => "flags only (no config file)".to_string(),
        };
        print!(
            "# effective configuration ({source})\n{}",
            config::render(&settings)
        );
        return ExitCode::SUCCESS;
    }
    logging::init(settings.log_level, settings.log_json);
    for warning in &settings.warnings {
        warn!("{warning}");
    }
    match accept::raise_open_file_limit() {
        Ok(limit) if limit < 2 * accept::RESERVED_DESCRIPTORS => warn!(
            limit,
            "the open-file limit is low: the API and metrics take fewer connections, and busy \
             probes may fail to start (raise LimitNOFILE=)"
        ),
        Ok(_) => {}
        Err(error) => warn!(%error, "cannot read the open-file limit"),
    }
    // One thread: a handful of sessions and a netlink socket need no more, and it keeps RSS small.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            error!(%error, "cannot start the runtime");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(daemon::run(settings, Some(invocation))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fatal) => {
            error!(error = %fatal, "fatal");
            ExitCode::from(1)
        }
    }
}

fn check_only_requested() -> bool {
    std::env::args().nth(1).as_deref() == Some(cli::CHECK_CONFIG)
}

/// The config file (if any) merged under the flags; the error and its exit code.
fn effective_settings(invocation: &Invocation) -> Result<Settings, (String, u8)> {
    config::effective(invocation, config::DefaultFile::IfPresent).map_err(|error| {
        let code = match error {
            config::EffectiveError::File(_) => 1,
            config::EffectiveError::Usage(_) => 2,
        };
        (error.to_string(), code)
    })
}
