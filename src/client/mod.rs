//! The command-line clients of a running daemon: `elastic status` (the gRPC API) and
//! `elastic drain` / `undrain` / `maintenance` (the control socket). `main` picks them by their
//! first word.

pub mod control;
pub mod status;

use std::ffi::OsString;
use std::process::ExitCode;

/// Rewrites Go-style single-dash long flags (`-api`, `-socket PATH`) to clap's `--` form, so the
/// clients take flags as the daemon does.
fn go_style<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    args.into_iter()
        .map(|a| {
            let a: OsString = a.into();
            match a.to_str() {
                Some(s) if s.starts_with('-') && !s.starts_with("--") && s.len() > 2 => {
                    OsString::from(format!("-{s}"))
                }
                _ => a,
            }
        })
        .collect()
}

/// Runs `work` on a small runtime of its own; `Err` is the exit code after saying why.
fn on_runtime<T>(what: &str, failed: u8, work: impl Future<Output = T>) -> Result<T, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Ok(runtime.block_on(work)),
        Err(error) => {
            eprintln!("{what}: cannot start the runtime: {error}");
            Err(ExitCode::from(failed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::go_style;

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        let out = go_style(["-api", "127.0.0.1:1", "--json", "-x", "-", "word"]);
        let out: Vec<&str> = out.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(out, ["--api", "127.0.0.1:1", "--json", "-x", "-", "word"]);
    }
}
