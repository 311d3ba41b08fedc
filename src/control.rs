//! The control socket: a unix socket serving elastic.v1 with the calls that change the daemon's
//! state (SetMaintenance, Drain). Its client, `elastic drain` / `undrain` / `maintenance`, is
//! [`crate::client::control`].
//!
//! Off unless `control_socket` is set in the config. The socket is created with mode 0600 (0660
//! and the group's ownership with `control_socket_group`): who may connect is the file system's
//! decision, as for the maintenance file. The TCP API stays read-only.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;
use tokio::net::UnixListener;

/// Where `elastic drain` looks when `--socket` is not given (the path the README suggests).
pub const DEFAULT_SOCKET: &str = "/run/elastic/control.sock";

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
    let mode = match gid.map(|gid| give_to_group(path, gid)) {
        None => 0o600,
        Some(Ok(())) => 0o660,
        // Refused at load when elastic lacks both CAP_CHOWN and the group. What is left (a system
        // call filter answering EPERM, a file system saying no) must not stop the daemon.
        Some(Err(error)) => {
            tracing::error!(
                group = group.unwrap_or_default(),
                %error,
                "control_socket_group: cannot give the control socket to the group (elastic needs \
                 CAP_CHOWN or the group, and chown allowed by its system call filter); the socket \
                 stays private (0600)"
            );
            0o600
        }
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_error)?;
    Ok(listener)
}

/// Gives the socket file to group `gid`, unless it is the group's already (created in a
/// set-group-ID directory), which needs no `chown`.
fn give_to_group(path: &Path, gid: u32) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata(path)?.gid() == gid {
        return Ok(());
    }
    std::os::unix::fs::chown(path, None, Some(gid))
}

/// Removes the socket file on stop (only if it is still a socket).
pub fn remove(path: &Path) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

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
