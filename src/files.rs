//! Reading the small files the daemon is configured with (the config file, an https probe's CA
//! file, the TCP MD5 password file) so that no path can stall or swell the process: the file is
//! opened without blocking (a FIFO with no writer would block `open` forever), must be a regular
//! file (`/dev/zero` never ends), and is read only up to a limit.
//!
//! A leaf module: it names no other module of the crate, so `bgp` may use it.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest config file read (a 10,000-address config is about 200 KB).
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// The largest CA file read (Debian's whole bundle is about 220 KB).
pub const CA_FILE_LIMIT: u64 = 1 << 20;

/// Opens `path` for reading without blocking on a FIFO or a device, and returns it with its
/// metadata (read from the opened file, so a swap after the check cannot slip through).
/// Refuses anything but a regular file (symbolic links are followed).
pub fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind(&metadata)),
        ));
    }
    Ok((file, metadata))
}

/// What a non-regular file is, for the error.
fn kind(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// The whole of a regular file of at most `limit` bytes ([`open_regular`]).
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let (file, metadata) = open_regular(path)?;
    let too_large = |size: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{size}, over the limit of {}", shown(limit)),
        )
    };
    if metadata.len() > limit {
        return Err(too_large(format!("{} bytes", metadata.len())));
    }
    // The size may change between fstat and read: never read past the limit anyway.
    let mut contents = Vec::with_capacity(metadata.len() as usize);
    file.take(limit + 1).read_to_end(&mut contents)?;
    if contents.len() as u64 > limit {
        return Err(too_large("it grew while read".to_string()));
    }
    Ok(contents)
}

/// `1 MiB` for a whole number of MiB, else bytes.
fn shown(limit: u64) -> String {
    match limit % (1 << 20) {
        0 => format!("{} MiB", limit >> 20),
        _ => format!("{limit} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("elastic-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_at_once() {
        let dir = scratch("kinds");
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // The FIFO has no writer: a blocking open would hang this test.
        for (path, kind) in [
            (Path::new("/dev/zero"), "a character device"),
            (fifo.as_path(), "a FIFO"),
            (dir.as_path(), "a directory"),
        ] {
            let error = read_limited(path, CONFIG_LIMIT).unwrap_err();
            assert_eq!(error.to_string(), format!("not a regular file ({kind})"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_over_the_limit_is_refused_and_one_at_it_is_read() {
        let dir = scratch("limit");
        let path = dir.join("big");
        std::fs::write(&path, vec![b'#'; 1025]).unwrap();
        let error = read_limited(&path, 1024).unwrap_err();
        assert_eq!(
            error.to_string(),
            "1025 bytes, over the limit of 1024 bytes"
        );
        assert_eq!(read_limited(&path, 1025).unwrap().len(), 1025);
        std::fs::write(&path, vec![b'#'; (CONFIG_LIMIT + 1) as usize]).unwrap();
        let error = read_limited(&path, CONFIG_LIMIT).unwrap_err();
        assert!(error.to_string().ends_with("over the limit of 1 MiB"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
