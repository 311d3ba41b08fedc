//! The client's side: `labnet probe` in the client namespace, sending to 203.0.113.10:7777 every
//! 10 ms, and its JSON report.

use std::time::Duration;

use serde_json::Value;

use elastic_lab::program::Interrupt;
use elastic_lab::{LABNET_PORT, Lab, ProcId, VIP4, labnet_binary};

/// What one probe saw.
#[derive(Clone, Debug)]
pub(crate) struct ClientReport {
    pub(crate) sent: u64,
    pub(crate) lost: u64,
    pub(crate) longest_gap_ms: u64,
    /// The host whose answer arrived last.
    pub(crate) last_answerer: Option<String>,
    /// Every host that answered, sorted.
    pub(crate) answerers: Vec<String>,
    /// "a 100, lost 120, b 280": answers per host and lost requests, in the order of first seen.
    pub(crate) breakdown: String,
}

impl ClientReport {
    pub(crate) fn parse(v: &Value) -> Result<Self, String> {
        let number = |key: &str| {
            v[key]
                .as_u64()
                .ok_or_else(|| format!("probe report has no {key}: {v}"))
        };
        // per_second: {"0": {"a": 100}, "1": {"a": 37, "lost": 63}, …}, seconds in order.
        let mut per_second: Vec<(u64, &serde_json::Map<String, Value>)> = v["per_second"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(s, counts)| Some((s.parse().ok()?, counts.as_object()?)))
            .collect();
        per_second.sort_by_key(|(s, _)| *s);
        let mut order: Vec<(String, u64)> = Vec::new();
        for (_, counts) in per_second {
            for (who, n) in counts {
                let n = n.as_u64().unwrap_or(0);
                match order.iter_mut().find(|(w, _)| w == who) {
                    Some(entry) => entry.1 += n,
                    None => order.push((who.clone(), n)),
                }
            }
        }
        let mut answerers: Vec<String> = order
            .iter()
            .map(|(w, _)| w.clone())
            .filter(|w| w != "lost")
            .collect();
        answerers.sort();
        Ok(Self {
            sent: number("sent")?,
            lost: number("lost")?,
            longest_gap_ms: number("longest_gap_ms")?,
            last_answerer: v["last_answerer"].as_str().map(str::to_string),
            answerers,
            breakdown: order
                .iter()
                .map(|(w, n)| format!("{w} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// A 300 ms probe, run to completion (about 0.6 s with labnet's wait for late answers).
pub(crate) fn short_probe(lab: &Lab) -> Result<ClientReport, String> {
    ClientReport::parse(&lab.probe(Duration::from_millis(300))?)
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
) -> Result<ClientReport, String> {
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
    let line = log
        .lines()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| format!("labnet probe printed no report: {log:?}"))?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("probe report: {e}"))?;
    ClientReport::parse(&v)
}
