//! Load from a hostile local user: many idle TCP connections opened from inside a namespace, and
//! the open-file limit they need. Used by the fail-safe tests and the flood benchmark.

use std::fs::File;
use std::net::SocketAddr;

use nix::sched::{CloneFlags, setns};

/// Runs `work` on a thread that has entered network namespace `netns` (setns affects only the
/// calling thread); sockets it makes stay in that namespace after the thread is gone.
pub fn in_netns<T: Send + 'static>(
    netns: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let path = format!("/run/netns/{netns}");
    std::thread::spawn(move || -> Result<T, String> {
        let ns = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {path}: {e}"))?;
        Ok(work())
    })
    .join()
    .map_err(|_| "the thread in the namespace panicked".to_string())?
}

/// Opens `count` TCP connections to `to` from inside `netns` without waiting for them to be
/// accepted (the kernel completes or retries each handshake), and returns them, open and silent.
pub fn idle_connections(
    netns: &str,
    to: SocketAddr,
    count: usize,
) -> Result<Vec<socket2::Socket>, String> {
    in_netns(netns, move || {
        (0..count)
            .map(|_| {
                let socket = socket2::Socket::new(
                    socket2::Domain::for_address(to),
                    socket2::Type::STREAM,
                    Some(socket2::Protocol::TCP),
                )
                .map_err(|e| format!("socket (is the open-file limit high enough?): {e}"))?;
                socket.set_nonblocking(true).map_err(|e| e.to_string())?;
                // In progress is the normal answer of a non-blocking connect.
                let _ = socket.connect(&to.into());
                Ok(socket)
            })
            .collect()
    })?
}

/// Raises this process's open-file limit (soft and hard) to at least `at_least` (root may).
pub fn raise_open_file_limit(at_least: u64) -> Result<(), String> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
    if soft >= at_least {
        return Ok(());
    }
    let new = at_least.max(hard);
    setrlimit(Resource::RLIMIT_NOFILE, new, new)
        .map_err(|e| format!("raise the open-file limit to {new}: {e}"))
}

/// The value of one sample (`name{labels}`) in a Prometheus text scrape.
pub fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(name_and_labels)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::metric;

    #[test]
    fn a_sample_is_found_by_its_name_and_labels() {
        let text = "# HELP x\nelastic_a{p=\"1\"} 3\nelastic_a{p=\"2\"} 4.5\nelastic_b 1\n";
        assert_eq!(metric(text, "elastic_a{p=\"2\"}"), Some(4.5));
        assert_eq!(metric(text, "elastic_b"), Some(1.0));
        assert_eq!(metric(text, "elastic_a"), None);
    }
}
