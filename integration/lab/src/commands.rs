//! The programs the lab runs: where the daemon and labnet are, running a command to completion,
//! and checking that everything needed is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::rs::{self, RsKind};

/// The daemon under test: `ELASTIC_BIN` if set (e.g. the real lelastic while developing the lab),
/// else the workspace's `elastic` binary, which Cargo builds for the test and bench targets (and
/// the scripts build for the demo) in the same profile directory as the program running the lab.
pub fn daemon_binary() -> String {
    if let Ok(path) = std::env::var("ELASTIC_BIN") {
        return path;
    }
    profile_dir().join("elastic").to_string_lossy().into_owned()
}

/// `LABNET_BIN` if set, else `target/<profile>/examples/labnet`, which `cargo test` builds next
/// to the test binaries.
pub fn labnet_binary() -> String {
    if let Ok(path) = std::env::var("LABNET_BIN") {
        return path;
    }
    let path = profile_dir().join("examples").join("labnet");
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it, `cargo test --test integration` alone does not \
         (run `cargo build --examples` first)",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// `target/<profile>` of the running program: tests and benches run from
/// `target/<profile>/deps/NAME-HASH`, examples (the demo) from `target/<profile>/examples/NAME`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    dir
}

/// Runs a command to completion; `Err` carries its stderr.
pub fn run_cmd(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

fn find_in_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Root, `ip`, the route-server software and the daemon binary, or an error naming what is missing.
pub fn check_prerequisites(kind: &RsKind) -> Result<(), String> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (the lab creates network namespaces)".to_string());
    }
    let mut programs = vec!["ip", "sysctl"];
    programs.extend(kind.programs());
    for p in programs {
        if !find_in_path(p) {
            missing.push(format!("{p} (apt-get install {})", rs::package_of(p)));
        }
    }
    let bin = daemon_binary();
    if !find_in_path(&bin) {
        missing.push(format!("daemon binary {bin}"));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing: {} — run integration/test.sh as root",
            missing.join(", ")
        ))
    }
}
