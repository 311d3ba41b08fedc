//! Helpers for the daemon's unit tests.

use crate::cli::{self, Command, Settings};

/// The settings `elastic -dcid 14 -primary <flags>` runs with (no config file); `-secondary`
/// replaces `-primary`.
pub(super) fn settings(flags: &[&str]) -> Settings {
    let mut args = vec!["-dcid", "14"];
    // One role flag, as lelastic wants.
    if !flags.contains(&"-secondary") {
        args.push("-primary");
    }
    args.extend_from_slice(flags);
    match cli::parse(args) {
        Ok(Command::Run(invocation)) => match cli::resolve(&invocation.flags, None) {
            Ok(settings) => settings,
            Err(error) => panic!("{flags:?}: {error}"),
        },
        Ok(other) => panic!("{flags:?}: not a run: {other:?}"),
        Err(error) => panic!("{flags:?}: {error}"),
    }
}
