//! What the commands elastic starts (exec and shell probes, hooks) may do: run as the `user:` the
//! config names (looked up once, at load, and refused there when the daemon cannot switch to it),
//! and never with the daemon's own powers: no ambient capabilities and none of the variables
//! systemd meant for the daemon alone.
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

/// The capabilities that decide what the daemon can do for its commands (bits of `CapEff`).
const CAP_CHOWN: u32 = 0;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

/// Who the daemon runs as and what it may do, read once per load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Powers {
    pub euid: u32,
    pub egid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// The effective capability set, as `/proc/self/status` shows it.
    pub effective: u64,
}

impl Powers {
    /// The calling process's.
    pub fn current() -> Powers {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        Powers {
            euid: nix::unistd::geteuid().as_raw(),
            egid: nix::unistd::getegid().as_raw(),
            groups: nix::unistd::getgroups()
                .map(|groups| groups.into_iter().map(|g| g.as_raw()).collect())
                .unwrap_or_default(),
            effective: effective_caps(&status),
        }
    }

    fn has(&self, cap: u32) -> bool {
        self.effective & (1 << cap) != 0
    }

    /// Whether a file can be given to group `gid`: with CAP_CHOWN, or as one of its members.
    pub fn can_chown_to(&self, gid: u32) -> bool {
        self.has(CAP_CHOWN) || self.egid == gid || self.groups.contains(&gid)
    }
}

/// `CapEff:` of a `/proc/PID/status` text; 0 when absent.
fn effective_caps(status: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}

impl RunAs {
    /// Looks the account up (NSS: files, LDAP, sssd, so never on the event loop) and checks that
    /// a daemon with `powers` can run commands as it.
    pub fn resolve(&mut self, powers: &Powers) -> Result<(), String> {
        let account = match nix::unistd::User::from_name(&self.name) {
            Ok(Some(account)) => account,
            Ok(None) => return Err(format!("no user {:?} on this system", self.name)),
            Err(error) => return Err(format!("cannot look up user {:?}: {error}", self.name)),
        };
        let (uid, gid) = (account.uid.as_raw(), account.gid.as_raw());
        let switch = (uid, gid) != (powers.euid, powers.egid);
        if switch && !(powers.has(CAP_SETUID) && powers.has(CAP_SETGID)) {
            return Err(format!(
                "elastic runs as uid {} without CAP_SETUID and CAP_SETGID, so it cannot run \
                 commands as {:?} (a systemd DynamicUser, as the shipped unit uses, never can): \
                 remove user: (commands then run as elastic's own user), or run elastic as root",
                powers.euid, self.name
            ));
        }
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
    fn the_effective_set_is_read_from_the_status_text() {
        let status = "Name:\telastic\nCapInh:\t0000000000001000\nCapEff:\t00000000000010c1\n";
        let powers = Powers {
            euid: 1000,
            egid: 1000,
            groups: vec![4],
            effective: effective_caps(status),
        };
        assert!(powers.has(CAP_CHOWN) && powers.has(CAP_SETGID) && powers.has(CAP_SETUID));
        assert!(!powers.has(12 + 1));
        assert_eq!(effective_caps("Name:\tx\n"), 0);
    }

    #[test]
    fn a_group_needs_chown_or_membership() {
        let powers = Powers {
            euid: 1000,
            egid: 1000,
            groups: vec![4],
            effective: 1 << 12,
        };
        assert!(powers.can_chown_to(1000) && powers.can_chown_to(4));
        assert!(!powers.can_chown_to(0));
        let root = Powers {
            effective: 1 << CAP_CHOWN,
            ..powers
        };
        assert!(root.can_chown_to(0));
    }

    #[test]
    fn user_needs_setuid_and_setgid_unless_it_is_the_daemon_itself() {
        let without = Powers {
            euid: 4242,
            egid: 4242,
            groups: Vec::new(),
            effective: 1 << 12,
        };
        let mut user = RunAs::from("root");
        let error = user.resolve(&without).unwrap_err();
        assert!(
            error.starts_with("elastic runs as uid 4242 without CAP_SETUID and CAP_SETGID"),
            "{error}"
        );
        assert_eq!(user.account, None);
        // The daemon's own account needs no switch.
        let itself = Powers {
            euid: 0,
            egid: 0,
            ..without.clone()
        };
        user.resolve(&itself).unwrap();
        assert!(!user.account.as_ref().unwrap().switch);
        let able = Powers {
            effective: (1 << CAP_SETUID) | (1 << CAP_SETGID),
            ..without
        };
        user.resolve(&able).unwrap();
        assert!(user.account.as_ref().unwrap().switch);
        let error = RunAs::from("no-such-user-elastic")
            .resolve(&able)
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
