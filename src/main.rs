//! The `elastic` process: flags, config file, logging, the runtime, exit codes. The work is in
//! `daemon::run`.

use std::process::ExitCode;

use elastic::cli::{self, Command, Invocation};
use elastic::client;
use elastic::daemon::{self, OperatorEvent};
use elastic::settings::{self, Settings};
use elastic::{accept, config, logging};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, warn};

/// Exit codes: 0 after an orderly stop, `-h` or a valid `check-config`; 1 for a fatal runtime
/// error or an invalid config file (and anything `check-config` rejects); 2 for bad usage.
fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    // `elastic status …` asks a running daemon; its exit codes are documented in client::status.
    if args.peek().is_some_and(|first| first == "status") {
        return client::status::main(args.skip(1));
    }
    // `elastic drain`, `undrain`, `maintenance on|off` talk to the daemon's control socket.
    if let Some(word) = args
        .peek()
        .and_then(|first| client::control::WORDS.iter().find(|w| first == **w))
    {
        return client::control::main(word, args.skip(1));
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
            settings::render(&settings)
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
    let outcome = runtime.block_on(async {
        // Handlers first: a signal during start-up must not kill us with addresses half bound.
        let events = match operator_events() {
            Ok(events) => events,
            Err(error) => {
                error!(%error, "cannot install signal handlers");
                return false;
            }
        };
        match daemon::run(settings, Some(invocation), events).await {
            Ok(()) => true,
            Err(fatal) => {
                error!(error = %fatal, "fatal");
                false
            }
        }
    });
    if outcome {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The signals, as the daemon's input: SIGTERM and SIGINT stop it (each one more cuts the current
/// wait short), SIGHUP reloads; a panic anywhere stops it too, and then it exits with status 1.
fn operator_events() -> std::io::Result<mpsc::Receiver<OperatorEvent>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let (events, receiver) = mpsc::channel(8);
    daemon::forward_panics(events.clone());
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                Some(()) = terminate.recv() => OperatorEvent::Stop("SIGTERM"),
                Some(()) = interrupt.recv() => OperatorEvent::Stop("SIGINT"),
                Some(()) = hangup.recv() => OperatorEvent::Reload,
                else => return,
            };
            if events.send(event).await.is_err() {
                return;
            }
        }
    });
    Ok(receiver)
}

fn check_only_requested() -> bool {
    std::env::args().nth(1).as_deref() == Some(cli::CHECK_CONFIG)
}

/// The config file (if any) merged under the flags; the error and its exit code.
fn effective_settings(invocation: &Invocation) -> Result<Settings, (String, u8)> {
    settings::effective(invocation, config::DefaultFile::IfPresent).map_err(|error| {
        let code = match error {
            settings::EffectiveError::File(_) => 1,
            settings::EffectiveError::Usage(_) => 2,
        };
        (error.to_string(), code)
    })
}
