//! The `elastic` process: flags, logging, the runtime, exit codes. The work is in `daemon::run`.

use std::process::ExitCode;

use elastic::cli::{self, Command};
use elastic::{daemon, logging};
use tracing::{error, warn};

/// Exit codes: 0 after an orderly stop or `-h`; 1 for a fatal runtime error; 2 for bad usage.
fn main() -> ExitCode {
    let settings = match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Run(settings)) => settings,
        Ok(Command::Help(usage)) => {
            print!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(usage_error) => {
            // The message already ends with a hint to `-h`.
            eprintln!("elastic: {usage_error}");
            return ExitCode::from(2);
        }
    };
    logging::init(settings.log_level, settings.log_json);
    for warning in &settings.warnings {
        warn!("{warning}");
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
    match runtime.block_on(daemon::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fatal) => {
            error!(error = %fatal, "fatal");
            ExitCode::from(1)
        }
    }
}
