//! A network namespace the lab created, and running commands inside it.

use std::collections::BTreeSet;
use std::process::Command;

use crate::run_cmd;

/// The PIDs of every process in namespace `ns` (`ip netns pids`).
pub fn namespace_pids(ns: &str) -> Result<BTreeSet<i32>, String> {
    let out = run_cmd("ip", &["netns", "pids", ns])?;
    Ok(out
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .collect())
}

/// A network namespace we created; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub(crate) fn create(name: String) -> Result<Self, String> {
        run_cmd("ip", &["netns", "add", &name])?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `ip -n NAME ARGS…`.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run_cmd("ip", &all)
    }

    /// Runs `PROGRAM ARGS…` inside the namespace and returns its stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["netns", "exec", &self.name, program];
        all.extend_from_slice(args);
        run_cmd("ip", &all)
    }

    pub(crate) fn sysctl(&self, settings: &[&str]) -> Result<(), String> {
        let mut args = vec!["-q", "-w"];
        args.extend_from_slice(settings);
        self.exec("sysctl", &args).map(drop)
    }

    /// A command that would run `program` inside the namespace (`ip netns exec` execs it, so the
    /// child's PID is the program's).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run_cmd("ip", &["netns", "del", &self.name]) {
            eprintln!("lab: could not delete namespace {}: {e}", self.name);
        }
    }
}
