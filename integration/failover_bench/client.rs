//! The client's side: `labnet probe` in the client namespace, sending to 203.0.113.10:7777 every
//! 10 ms, and its JSON report.

use std::time::Duration;

use elastic_lab::program::Interrupt;
use elastic_lab::{LABNET_PORT, Lab, ProbeReport, ProcId, VIP4, labnet_binary};

/// A 300 ms probe, run to completion (about 0.6 s with labnet's wait for late answers).
pub(crate) fn short_probe(lab: &Lab) -> Result<ProbeReport, String> {
    lab.probe(Duration::from_millis(300))
}

/// Starts a probe of `duration` in the background.
pub(crate) fn spawn_probe(lab: &mut Lab, name: &str, duration: Duration) -> Result<ProcId, String> {
    let client = lab.client.as_ref().ok_or("lab has no client")?;
    let mut cmd = client.command(&labnet_binary());
    cmd.args([
        "probe",
        "--target",
        &format!("{VIP4}:{LABNET_PORT}"),
        "--duration-ms",
        &duration.as_millis().to_string(),
    ]);
    lab.spawn(&format!("probe-{name}"), cmd)
}

/// Waits (bounded) for a background probe and parses its report.
pub(crate) fn wait_report(
    lab: &mut Lab,
    interrupt: &Interrupt,
    probe: ProcId,
    duration: Duration,
) -> Result<ProbeReport, String> {
    let status = interrupt.wait_for(
        "the client's probe",
        duration + Duration::from_secs(5),
        Duration::from_millis(20),
        || lab.exit_status(probe),
    )?;
    let log = lab.log(probe);
    if !status.success() {
        return Err(format!("labnet probe failed ({status}): {log}"));
    }
    ProbeReport::parse(&log)
}

/// Whether host b (the standby) gave the last answer: the client moved to it by the end of the
/// window.
pub(crate) fn failed_over(report: &ProbeReport) -> bool {
    report.last_answerer.as_deref() == Some("b")
}
