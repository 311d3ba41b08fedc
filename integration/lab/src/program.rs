//! The main loop of the lab programs (the demo and both benchmarks): [`run_program`] runs the
//! program's steps and turns the outcome into an exit code. SIGINT / SIGTERM / SIGHUP only raise
//! a flag ([`Interrupt`]); the program notices it between steps, returns, and its `Drop` guards
//! (the lab) clean up.
//!
//! A helper thread waits for the signals with tokio (already a dependency; no `unsafe` here).
//! Handlers, unlike a blocked signal mask, are reset when a child execs, so the daemons the lab
//! starts still get their own SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};

/// Raised once SIGINT, SIGTERM or SIGHUP arrived.
#[derive(Clone)]
pub struct Interrupt {
    raised: Arc<AtomicBool>,
}

/// What a step returns when the user asked us to stop.
pub const INTERRUPTED: &str = "interrupted";

/// A lab program's `main`: installs the handlers, runs `body`, and turns its outcome into the exit
/// code (0; 130 after a signal; 1 on failure), saying which on stderr. The lab is dropped inside
/// `body`, so it is gone by the time this returns.
pub fn run_program(
    program: &'static str,
    body: impl FnOnce(&Interrupt) -> Result<(), String>,
) -> ExitCode {
    let interrupt = match Interrupt::install(program) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match body(&interrupt) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e == INTERRUPTED => {
            eprintln!("{program}: interrupted; lab removed");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("{program} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

impl Interrupt {
    /// Installs the handlers; returns once they are in place.
    fn install(program: &'static str) -> Result<Self, String> {
        let raised = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&raised);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("signal runtime: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let handlers = (|| {
                        Ok::<_, std::io::Error>((
                            signal(SignalKind::interrupt())?,
                            signal(SignalKind::terminate())?,
                            signal(SignalKind::hangup())?,
                        ))
                    })();
                    let (mut int, mut term, mut hup) = match handlers {
                        Ok(h) => h,
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("signal handlers: {e}")));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    // Keeps collecting, so a second Ctrl-C does not kill us half-way through cleanup.
                    loop {
                        let name = tokio::select! {
                            _ = int.recv() => "SIGINT",
                            _ = term.recv() => "SIGTERM",
                            _ = hup.recv() => "SIGHUP",
                        };
                        if !flag.swap(true, Ordering::SeqCst) {
                            eprintln!("\n{program}: {name} received, cleaning up…");
                        }
                    }
                });
            })
            .map_err(|e| format!("signal thread: {e}"))?;
        ready_rx
            .recv()
            .map_err(|_| "signal thread ended early".to_string())??;
        Ok(Self { raised })
    }

    fn raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// `Err(INTERRUPTED)` once a signal arrived.
    pub fn check(&self) -> Result<(), String> {
        if self.raised() {
            Err(INTERRUPTED.to_string())
        } else {
            Ok(())
        }
    }

    /// Sleeps `duration`, waking early (with `Err`) when a signal arrives.
    pub fn sleep(&self, duration: Duration) -> Result<(), String> {
        let end = Instant::now() + duration;
        loop {
            self.check()?;
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }

    /// Polls `check` every `poll` until it returns `Some`; fails after `timeout` or on a signal.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        poll: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check()?;
            if let Some(v) = check() {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                return Err(format!("timed out after {timeout:?} waiting for {what}"));
            }
            std::thread::sleep(poll);
        }
    }
}
