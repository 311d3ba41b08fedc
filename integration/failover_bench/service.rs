//! The service whose death the benchmark measures: one process that answers the client's UDP
//! requests on the VIP (labnet's protocol: "NAME SEQ") and accepts TCP connections on
//! 127.0.0.1:7778, the health-check target every contender's probe connects to.
//!
//! One process for both, unlike `labnet serve` plus a separate listener: a SIGKILL then stops the
//! answers and the health checks at the same instant, as when a real server crashes.
//!
//! Run as `failover service --name a` (the benchmark starts its own binary in a host namespace).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use elastic_lab::{LABNET_PORT, VIP4};

/// The TCP port the health checks connect to (on 127.0.0.1 in each host's namespace).
pub(crate) const HEALTH_PORT: u16 = 7778;
/// An orphaned service (the benchmark killed by SIGKILL before it could clean up) goes away by
/// itself after this long; a whole benchmark run takes about five minutes.
const MAX_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The VIP may not be local yet (elastic, keepalived); bind retries for this long.
const BIND_TIMEOUT: Duration = Duration::from_secs(30);

/// The arguments that start the service as host `name`.
pub(crate) fn args(name: &str) -> Vec<String> {
    vec!["service".into(), "--name".into(), name.into()]
}

/// Entry point for `failover service --name NAME`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let name = match args {
        [flag, name] if flag == "--name" => name.clone(),
        _ => {
            eprintln!("usage: failover service --name NAME");
            return ExitCode::from(2);
        }
    };
    match serve(&name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("failover service {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bind_retrying<T>(what: SocketAddr, bind: impl Fn() -> std::io::Result<T>) -> Result<T, String> {
    let deadline = Instant::now() + BIND_TIMEOUT;
    loop {
        match bind() {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => return Err(format!("bind {what}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn serve(name: &str) -> Result<(), String> {
    let started = Instant::now();
    let health: SocketAddr = ([127, 0, 0, 1], HEALTH_PORT).into();
    let vip: SocketAddr = format!("{VIP4}:{LABNET_PORT}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let listener = bind_retrying(health, || TcpListener::bind(health))?;
    let socket = bind_retrying(vip, || UdpSocket::bind(vip))?;
    std::thread::Builder::new()
        .name("health".into())
        .spawn(move || {
            // Accept and close at once: a completed connect is the check.
            for stream in listener.incoming() {
                drop(stream);
            }
        })
        .map_err(|e| format!("health thread: {e}"))?;
    // Wakes up now and then so the lifetime bound holds even without traffic.
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    while started.elapsed() < MAX_LIFETIME {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let reply = format!("{name} {}", String::from_utf8_lossy(&buf[..n]));
        let _ = socket.send_to(reply.as_bytes(), from);
    }
    Ok(())
}
