//! TCP MD5 signatures (RFC 2385) for the BGP sessions: where the password comes from and the
//! checks it must pass. The password is only ever read from a file (`md5_password_file`), never
//! from the config file itself or the command line, where `ps` and shell history would show it.
//!
//! [`KeySource::parse`], [`check_mode`] and [`key_from_contents`] are pure; [`read_key`] opens the
//! file. The socket option itself is in [`super::tcp_md5sig`].

use std::fmt;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// TCP_MD5SIG_MAXKEYLEN in `linux/tcp.h`: the kernel refuses longer keys.
pub const MAX_KEY_LEN: usize = 80;
/// `md5_password_file: credential:NAME` reads `$CREDENTIALS_DIRECTORY/NAME` (systemd's
/// `LoadCredential=NAME:PATH`).
pub const CREDENTIAL_PREFIX: &str = "credential:";

/// Where the password is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An absolute path.
    File(PathBuf),
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/NAME`.
    Credential(String),
}

impl KeySource {
    /// `credential:NAME` or an absolute path (a relative one would depend on the working
    /// directory, which systemd sets to `/`).
    pub fn parse(text: &str) -> Result<KeySource, String> {
        if let Some(name) = text.strip_prefix(CREDENTIAL_PREFIX) {
            // systemd's rule for credential names: a valid file name.
            let valid = !name.is_empty()
                && name.len() <= 255
                && name != "."
                && name != ".."
                && !name.contains(['/', '\0']);
            return if valid {
                Ok(KeySource::Credential(name.to_string()))
            } else {
                Err("expected credential:NAME with NAME a file name (LoadCredential=NAME:PATH in the unit)".to_string())
            };
        }
        if text.starts_with('/') {
            Ok(KeySource::File(PathBuf::from(text)))
        } else {
            Err(
                "expected an absolute path (the file holding the password) or credential:NAME"
                    .to_string(),
            )
        }
    }

    /// The file to open; a credential needs `$CREDENTIALS_DIRECTORY` (`credentials_dir`).
    pub fn path(&self, credentials_dir: Option<&Path>) -> Result<PathBuf, KeyError> {
        match self {
            KeySource::File(path) => Ok(path.clone()),
            KeySource::Credential(name) => match credentials_dir {
                Some(dir) => Ok(dir.join(name)),
                None => Err(KeyError::NoCredentialsDirectory { name: name.clone() }),
            },
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(path) => write!(f, "{}", path.display()),
            KeySource::Credential(name) => write!(f, "{CREDENTIAL_PREFIX}{name}"),
        }
    }
}

/// The password: 1 to [`MAX_KEY_LEN`] bytes. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Md5Key(Box<[u8]>);

impl Md5Key {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Md5Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Md5Key(<redacted>)")
    }
}

/// The configured source and the password read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Md5Password {
    pub source: KeySource,
    pub key: Md5Key,
}

/// Why a password file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "credential:{name}: CREDENTIALS_DIRECTORY is not set (add LoadCredential={name}:/etc/elastic/… to the unit, or give a path)"
    )]
    NoCredentialsDirectory { name: String },
    #[error("{path}: cannot read: {error}")]
    Unreadable { path: PathBuf, error: String },
    #[error("{path}: not a regular file")]
    NotAFile { path: PathBuf },
    #[error(
        "{path}: group or others have access (mode {mode:04o}); the password must be private: chmod 600 it"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error(
        "{path}: owned by uid {owner}, who could change the password; it must belong to root or to the daemon's user (uid {daemon}): chown it"
    )]
    ForeignOwner {
        path: PathBuf,
        owner: u32,
        daemon: u32,
    },
    #[error("{path}: empty; it must hold the password (one trailing newline is ignored)")]
    Empty { path: PathBuf },
    #[error(
        "{path}: the password is {len} bytes; TCP MD5 keys are at most {MAX_KEY_LEN} (one trailing newline is ignored)"
    )]
    TooLong { path: PathBuf, len: usize },
}

/// Refuses a file that group or others may read, write or execute (mode & 0o077).
pub fn check_mode(path: &Path, mode: u32) -> Result<(), KeyError> {
    if mode & 0o077 == 0 {
        Ok(())
    } else {
        Err(KeyError::TooOpen {
            path: path.to_path_buf(),
            mode: mode & 0o7777,
        })
    }
}

/// Refuses a file owned by anyone but root or `daemon` (the daemon's effective uid): its owner
/// can change the password whatever the mode says (as sshd's StrictModes).
pub fn check_owner(path: &Path, owner: u32, daemon: u32) -> Result<(), KeyError> {
    if owner == 0 || owner == daemon {
        Ok(())
    } else {
        Err(KeyError::ForeignOwner {
            path: path.to_path_buf(),
            owner,
            daemon,
        })
    }
}

/// The password is the file's bytes minus one trailing newline (`\n` or `\r\n`, as editors and
/// `echo` leave them); it must be 1 to [`MAX_KEY_LEN`] bytes. No other trimming: spaces may be
/// part of a password.
pub fn key_from_contents(path: &Path, contents: &[u8]) -> Result<Md5Key, KeyError> {
    let key = contents
        .strip_suffix(b"\r\n")
        .or_else(|| contents.strip_suffix(b"\n"))
        .unwrap_or(contents);
    match key.len() {
        0 => Err(KeyError::Empty {
            path: path.to_path_buf(),
        }),
        len if len > MAX_KEY_LEN => Err(KeyError::TooLong {
            path: path.to_path_buf(),
            len,
        }),
        _ => Ok(Md5Key(key.into())),
    }
}

/// Opens the source's file and checks it: a regular file, private (see [`check_mode`]), holding
/// a password of the right length. The mode is read from the opened file, so a file swapped
/// between the check and the read cannot slip through.
pub fn read_key(source: &KeySource, credentials_dir: Option<&Path>) -> Result<Md5Key, KeyError> {
    let path = source.path(credentials_dir)?;
    let unreadable = |error: std::io::Error| KeyError::Unreadable {
        path: path.clone(),
        error: error.to_string(),
    };
    // Never blocks on a FIFO; anything but a regular file is refused.
    let (file, metadata) = match crate::files::open_regular(&path) {
        Ok(opened) => opened,
        Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(KeyError::NotAFile { path });
        }
        Err(error) => return Err(unreadable(error)),
    };
    check_mode(&path, metadata.permissions().mode())?;
    check_owner(&path, metadata.uid(), nix::unistd::geteuid().as_raw())?;
    // Two bytes more than the longest key: room for "\r\n", and enough to tell "too long".
    let mut contents = Vec::with_capacity(MAX_KEY_LEN + 3);
    file.take((MAX_KEY_LEN + 3) as u64)
        .read_to_end(&mut contents)
        .map_err(unreadable)?;
    if contents.len() > MAX_KEY_LEN + 2 {
        // The exact length is not needed to refuse it; say how much we looked at.
        let len = metadata.len() as usize;
        return Err(KeyError::TooLong { path, len });
    }
    key_from_contents(&path, &contents)
}

/// [`read_key`] with `$CREDENTIALS_DIRECTORY` from the environment.
pub fn read_configured_key(source: &KeySource) -> Result<Md5Password, KeyError> {
    let credentials_dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    let key = read_key(source, credentials_dir.as_deref())?;
    Ok(Md5Password {
        source: source.clone(),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::fs;
    use std::sync::atomic::{AtomicU32, Ordering};

    const PATH: &str = "/etc/elastic/bgp.secret";

    fn key(contents: &[u8]) -> Result<Vec<u8>, KeyError> {
        key_from_contents(Path::new(PATH), contents).map(|k| k.as_bytes().to_vec())
    }

    /// A private directory for one test's files, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "elastic-md5-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str, contents: &[u8], mode: u32) -> PathBuf {
            let path = self.0.join(name);
            fs::write(&path, contents).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn one_trailing_newline_is_stripped_and_nothing_else() {
        assert_eq!(key(b"s3cret\n").unwrap(), b"s3cret");
        assert_eq!(key(b"s3cret\r\n").unwrap(), b"s3cret");
        assert_eq!(key(b"s3cret").unwrap(), b"s3cret");
        assert_eq!(key(b"s3cret\n\n").unwrap(), b"s3cret\n");
        assert_eq!(key(b" two words \n").unwrap(), b" two words ");
    }

    #[test]
    fn an_empty_password_is_refused() {
        for contents in [&b""[..], b"\n", b"\r\n"] {
            let error = key(contents).unwrap_err();
            assert_eq!(error, KeyError::Empty { path: PATH.into() });
            assert!(error.to_string().starts_with(PATH), "{error}");
        }
    }

    #[test]
    fn eighty_bytes_pass_and_eighty_one_are_refused() {
        let longest = vec![b'k'; MAX_KEY_LEN];
        assert_eq!(key(&longest).unwrap(), longest);
        let mut with_newline = longest.clone();
        with_newline.push(b'\n');
        assert_eq!(key(&with_newline).unwrap(), longest);
        let error = key(&[b'k'; MAX_KEY_LEN + 1]).unwrap_err();
        assert_eq!(
            error,
            KeyError::TooLong {
                path: PATH.into(),
                len: 81
            }
        );
        assert!(error.to_string().contains("at most 80"), "{error}");
    }

    #[test]
    fn a_file_group_or_others_can_access_is_refused() {
        for mode in [0o600, 0o400, 0o700, 0o100600] {
            assert_eq!(check_mode(Path::new(PATH), mode), Ok(()), "{mode:o}");
        }
        for mode in [0o640, 0o604, 0o644, 0o660, 0o610, 0o602, 0o100644] {
            let error = check_mode(Path::new(PATH), mode).unwrap_err();
            assert!(
                matches!(error, KeyError::TooOpen { .. }),
                "{mode:o}: {error:?}"
            );
            assert!(error.to_string().contains("chmod 600"), "{error}");
        }
        let shown = check_mode(Path::new(PATH), 0o100644)
            .unwrap_err()
            .to_string();
        assert!(shown.contains("mode 0644"), "{shown}");
    }

    #[test]
    fn sources_are_absolute_paths_or_credentials() {
        assert_eq!(
            KeySource::parse(PATH),
            Ok(KeySource::File(PathBuf::from(PATH)))
        );
        assert_eq!(
            KeySource::parse("credential:bgp-md5"),
            Ok(KeySource::Credential("bgp-md5".to_string()))
        );
        for bad in [
            "bgp.secret",
            "./bgp.secret",
            "",
            "credential:",
            "credential:a/b",
        ] {
            assert!(KeySource::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            KeySource::parse("credential:bgp").unwrap().to_string(),
            "credential:bgp"
        );
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let password = Md5Password {
            source: KeySource::File(PATH.into()),
            key: key_from_contents(Path::new(PATH), b"hunter2\n").unwrap(),
        };
        let shown = format!("{password:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains(PATH), "{shown}");
    }

    #[test]
    fn only_root_or_the_daemons_user_may_own_the_password_file() {
        let path = Path::new(PATH);
        assert_eq!(check_owner(path, 0, 0), Ok(()));
        assert_eq!(check_owner(path, 0, 998), Ok(()));
        assert_eq!(check_owner(path, 998, 998), Ok(()));
        let error = check_owner(path, 1000, 998).unwrap_err();
        assert_eq!(
            error,
            KeyError::ForeignOwner {
                path: path.to_path_buf(),
                owner: 1000,
                daemon: 998
            }
        );
        assert!(error.to_string().contains("chown"), "{error}");
        assert!(check_owner(path, 1000, 0).is_err(), "root's daemon too");
    }

    #[test]
    fn a_private_file_is_read_and_an_open_one_is_refused() {
        let scratch = Scratch::new();
        let private = scratch.file("private", b"s3cret\n", 0o600);
        let source = KeySource::File(private.clone());
        assert_eq!(read_key(&source, None).unwrap().as_bytes(), b"s3cret");

        let open = scratch.file("open", b"s3cret\n", 0o644);
        let error = read_key(&KeySource::File(open.clone()), None).unwrap_err();
        assert_eq!(
            error,
            KeyError::TooOpen {
                path: open,
                mode: 0o644
            }
        );

        let empty = scratch.file("empty", b"\n", 0o600);
        assert!(matches!(
            read_key(&KeySource::File(empty), None),
            Err(KeyError::Empty { .. })
        ));

        let long = scratch.file("long", &[b'x'; 4096], 0o600);
        assert_eq!(
            read_key(&KeySource::File(long.clone()), None),
            Err(KeyError::TooLong {
                path: long,
                len: 4096
            })
        );

        let missing = scratch.0.join("missing");
        let error = read_key(&KeySource::File(missing), None).unwrap_err();
        assert!(matches!(error, KeyError::Unreadable { .. }), "{error:?}");

        let error = read_key(&KeySource::File(scratch.0.clone()), None).unwrap_err();
        assert!(matches!(error, KeyError::NotAFile { .. }), "{error:?}");
    }

    #[test]
    fn a_credential_is_read_from_the_credentials_directory() {
        let scratch = Scratch::new();
        // systemd creates credentials mode 0400, owned by the service's user.
        scratch.file("bgp", b"from-systemd", 0o400);
        let source = KeySource::Credential("bgp".to_string());
        assert_eq!(
            read_key(&source, Some(&scratch.0)).unwrap().as_bytes(),
            b"from-systemd"
        );
        let error = read_key(&source, None).unwrap_err();
        assert_eq!(
            error,
            KeyError::NoCredentialsDirectory {
                name: "bgp".to_string()
            }
        );
        assert!(error.to_string().contains("LoadCredential=bgp:"), "{error}");
    }
}
