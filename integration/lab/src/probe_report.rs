//! What `labnet probe` saw: one JSON object on one line, written by labnet and read back by the
//! tests, the demo and the failover benchmark through this one type.
//!
//! ```text
//! {"target":"203.0.113.10:7777","interval_ms":10,"sent":500,"answered":500,"lost":0,
//!  "longest_gap_ms":23,"last_answerer":"b","per_second":{"0":{"a":100},"1":{"a":6,"b":94},…}}
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};

/// Counted under this name in `per_second` when a request got no answer.
pub const LOST: &str = "lost";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeReport {
    pub target: String,
    pub interval_ms: u64,
    pub sent: u64,
    pub answered: u64,
    pub lost: u64,
    /// The longest time without a fresh answer.
    pub longest_gap_ms: u64,
    /// The host whose answer arrived last.
    pub last_answerer: Option<String>,
    /// Per second of the run (by send time): answering host (or [`LOST`]) → requests.
    pub per_second: BTreeMap<u64, BTreeMap<String, u64>>,
}

impl ProbeReport {
    /// The report in the first line of `output` that starts with `{`.
    pub fn parse(output: &str) -> Result<Self, String> {
        let line = output
            .lines()
            .find(|l| l.starts_with('{'))
            .ok_or_else(|| format!("labnet probe printed no report: {output:?}"))?;
        let v: Value =
            serde_json::from_str(line).map_err(|e| format!("probe report {line:?}: {e}"))?;
        let number = |key: &str| {
            v[key]
                .as_u64()
                .ok_or_else(|| format!("probe report has no {key}: {line}"))
        };
        let mut per_second = BTreeMap::new();
        for (second, counts) in v["per_second"].as_object().into_iter().flatten() {
            let second: u64 = second
                .parse()
                .map_err(|_| format!("probe report: bad second {second:?}"))?;
            let counts = counts
                .as_object()
                .ok_or_else(|| format!("probe report: second {second} is not an object"))?;
            let counts = counts
                .iter()
                .map(|(who, n)| (who.clone(), n.as_u64().unwrap_or(0)))
                .collect();
            per_second.insert(second, counts);
        }
        Ok(Self {
            target: v["target"].as_str().unwrap_or_default().to_string(),
            interval_ms: number("interval_ms")?,
            sent: number("sent")?,
            answered: number("answered")?,
            lost: number("lost")?,
            longest_gap_ms: number("longest_gap_ms")?,
            last_answerer: v["last_answerer"].as_str().map(str::to_string),
            per_second,
        })
    }

    /// The requests `who` answered.
    pub fn answered_by(&self, who: &str) -> u64 {
        self.per_second.values().filter_map(|c| c.get(who)).sum()
    }

    /// Every host that answered, sorted.
    pub fn answerers(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .per_second
            .values()
            .flat_map(|c| c.keys())
            .filter(|who| *who != LOST)
            .cloned()
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// The host that answered most requests.
    pub fn main_answerer(&self) -> Option<String> {
        self.answerers()
            .into_iter()
            .max_by_key(|who| self.answered_by(who))
    }

    /// "a 200" or "a 37, lost 3, b 160": answers per host and lost requests, in the order first
    /// seen.
    pub fn breakdown(&self) -> String {
        let mut order: Vec<&str> = Vec::new();
        for who in self.per_second.values().flat_map(|c| c.keys()) {
            if !order.contains(&who.as_str()) {
                order.push(who);
            }
        }
        order
            .iter()
            .map(|who| format!("{who} {}", self.answered_by(who)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One entry per second: "0s: a×100 | 1s: a×37 lost×3 b×60 | …".
    pub fn seconds(&self) -> String {
        self.per_second
            .iter()
            .map(|(second, counts)| {
                let counts: Vec<String> = counts.iter().map(|(w, n)| format!(" {w}×{n}")).collect();
                format!("{second}s:{}", counts.concat())
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// The one-line JSON labnet prints.
impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = json!({
            "target": self.target,
            "interval_ms": self.interval_ms,
            "sent": self.sent,
            "answered": self.answered,
            "lost": self.lost,
            "longest_gap_ms": self.longest_gap_ms,
            "last_answerer": self.last_answerer,
            "per_second": self.per_second,
        });
        write!(f, "{report}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ProbeReport {
        let mut per_second = BTreeMap::new();
        per_second.insert(0, BTreeMap::from([("a".to_string(), 100)]));
        per_second.insert(
            1,
            BTreeMap::from([
                ("a".to_string(), 37),
                ("b".to_string(), 60),
                (LOST.to_string(), 3),
            ]),
        );
        per_second.insert(2, BTreeMap::from([("b".to_string(), 100)]));
        ProbeReport {
            target: "203.0.113.10:7777".into(),
            interval_ms: 10,
            sent: 300,
            answered: 297,
            lost: 3,
            longest_gap_ms: 40,
            last_answerer: Some("b".into()),
            per_second,
        }
    }

    #[test]
    fn the_printed_report_reads_back_the_same() {
        let report = report();
        let printed = report.to_string();
        assert!(
            printed.starts_with('{') && !printed.contains('\n'),
            "{printed}"
        );
        assert!(
            printed.contains(r#""per_second":{"0":{"a":100},"1":{"#),
            "{printed}"
        );
        let output = format!("some log line\n{printed}\n");
        assert_eq!(ProbeReport::parse(&output), Ok(report));
    }

    #[test]
    fn a_report_is_summed_per_host() {
        let report = report();
        assert_eq!(report.answered_by("a"), 137);
        assert_eq!(report.answered_by("b"), 160);
        assert_eq!(report.answerers(), ["a", "b"]);
        assert_eq!(report.main_answerer().as_deref(), Some("b"));
        assert_eq!(report.breakdown(), "a 137, b 160, lost 3");
        assert_eq!(
            report.seconds(),
            "0s: a×100 | 1s: a×37 b×60 lost×3 | 2s: b×100"
        );
    }

    #[test]
    fn output_without_a_report_is_an_error() {
        assert!(ProbeReport::parse("labnet: bind: address in use\n").is_err());
        assert!(ProbeReport::parse(r#"{"sent": 1}"#).is_err());
    }
}
