//! What the commands elastic starts (exec and shell probes, hooks) may do: run as the `user:` the
//! config names (looked up once, at load, never per command), and never with the daemon's own
//! powers: no ambient capabilities and none of the variables systemd meant for the daemon alone.
//!
//! A leaf module: it names no other module of the crate.

use std::path::PathBuf;

use tokio::process::Command;

/// `user:` on a probe or the hooks: the name as written and, once [`RunAs::resolve`]d at load,
/// the account to switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    /// `None` until resolved (a config parsed without IO): such a command is not started.
    pub account: Option<Account>,
}

/// An account a command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// False when the daemon already runs as this uid and gid: nothing to switch.
    pub switch: bool,
}

impl From<String> for RunAs {
    fn from(name: String) -> Self {
        RunAs {
            name,
            account: None,
        }
    }
}

impl From<&str> for RunAs {
    fn from(name: &str) -> Self {
        RunAs::from(name.to_string())
    }
}

/// Who the daemon runs as, read once per load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Powers {
    pub euid: u32,
    pub egid: u32,
}

impl Powers {
    /// The calling process's.
    pub fn current() -> Powers {
        Powers {
            euid: nix::unistd::geteuid().as_raw(),
            egid: nix::unistd::getegid().as_raw(),
        }
    }
}

impl RunAs {
    /// Looks the account up (NSS: files, LDAP, sssd, so never on the event loop).
    pub fn resolve(&mut self, powers: &Powers) -> Result<(), String> {
        let account = match nix::unistd::User::from_name(&self.name) {
            Ok(Some(account)) => account,
            Ok(None) => return Err(format!("no user {:?} on this system", self.name)),
            Err(error) => return Err(format!("cannot look up user {:?}: {error}", self.name)),
        };
        let (uid, gid) = (account.uid.as_raw(), account.gid.as_raw());
        let switch = (uid, gid) != (powers.euid, powers.egid);
        self.account = Some(Account {
            uid,
            gid,
            home: account.dir,
            switch,
        });
        Ok(())
    }
}

/// The variables systemd passes to the daemon alone: its credentials (the MD5 secret), the
/// notification socket, the watchdog, socket activation (`LISTEN_FDS`, `LISTEN_PID`, …).
const DAEMON_ONLY: [&str; 4] = [
    "CREDENTIALS_DIRECTORY",
    "NOTIFY_SOCKET",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
];

/// Whether a variable of the daemon's environment is kept from its commands.
pub fn daemon_only(name: &str) -> bool {
    DAEMON_ONLY.contains(&name) || name.starts_with("LISTEN_")
}

/// Sets `command` up to run as `user` (when given) and without the daemon's powers: the
/// daemon-only variables removed, and in the child, before exec, the ambient capability set
/// cleared, so a non-root command starts with no capabilities at all (with `prctl`, which the
/// shipped unit's system call filter allows; `capset` it does not). Err when `user` was never
/// resolved.
pub fn confine(command: &mut Command, user: Option<&RunAs>) -> Result<(), String> {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(daemon_only) {
            command.env_remove(name);
        }
    }
    if let Some(user) = user {
        let Some(account) = &user.account else {
            return Err(format!("user {:?} was not looked up at load", user.name));
        };
        if account.switch {
            // std drops root's supplementary groups when it switches uid.
            command.uid(account.uid).gid(account.gid);
        }
        command.env("USER", &user.name).env("HOME", &account.home);
    }
    clear_ambient_caps_before_exec(command);
    Ok(())
}

#[allow(unsafe_code)]
fn clear_ambient_caps_before_exec(command: &mut Command) {
    let clear = || {
        // SAFETY: prctl with integer arguments only; async-signal-safe (one system call).
        let result = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        match result {
            0 => Ok(()),
            _ => match std::io::Error::last_os_error() {
                // Kernels before 4.3 have no ambient set, so nothing to clear.
                error if error.raw_os_error() == Some(libc::EINVAL) => Ok(()),
                error => Err(error),
            },
        }
    };
    // SAFETY: the closure runs in the forked child before exec, makes one system call, and
    // allocates nothing (the error path builds an io::Error from an errno only).
    unsafe {
        command.pre_exec(clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_looked_up_once_and_switched_to_unless_it_is_the_daemon_itself() {
        let mut user = RunAs::from("root");
        // The daemon's own account needs no switch.
        user.resolve(&Powers { euid: 0, egid: 0 }).unwrap();
        let account = user.account.clone().unwrap();
        assert_eq!((account.uid, account.gid, account.switch), (0, 0, false));
        user.resolve(&Powers {
            euid: 4242,
            egid: 4242,
        })
        .unwrap();
        assert!(user.account.as_ref().unwrap().switch);
        let error = RunAs::from("no-such-user-elastic")
            .resolve(&Powers { euid: 0, egid: 0 })
            .unwrap_err();
        assert_eq!(error, "no user \"no-such-user-elastic\" on this system");
    }

    #[test]
    fn daemon_only_variables() {
        for name in [
            "CREDENTIALS_DIRECTORY",
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
            "LISTEN_FDS",
            "LISTEN_FDNAMES",
        ] {
            assert!(daemon_only(name), "{name}");
        }
        for name in ["PATH", "ELASTIC_PROBE", "LANG", "HOME"] {
            assert!(!daemon_only(name), "{name}");
        }
    }
}
