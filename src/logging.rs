//! Log output: tracing events as text lines or, with `-logjson`, JSON lines, both on stderr.
//!
//! Text lines start with an RFC 3339 UTC timestamp and the level (`2026-01-02T03:04:05.123456Z
//! INFO elastic::daemon: message key=value`); colours only when stderr is a terminal and
//! `NO_COLOR` is unset, so journald and files get plain text.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::time::SystemTime;

use crate::cli::LogLevel;

/// Installs the global subscriber. Later calls change nothing (the first one wins).
pub fn init(level: LogLevel, json: bool) {
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // Err only means a subscriber is already installed (e.g. a second call in tests): keep it.
    let _ = tracing::subscriber::set_global_default(subscriber(level, json, ansi, std::io::stderr));
}

/// The subscriber [`init`] installs, writing to `writer` (tests capture it).
fn subscriber<W>(
    level: LogLevel,
    json: bool,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_max_level(level_filter(level))
        // RFC 3339 in UTC with microseconds, from the standard library's clock.
        .with_timer(SystemTime)
        .with_writer(writer);
    if json {
        Box::new(builder.json().flatten_event(true).finish())
    } else {
        Box::new(builder.with_ansi(ansi).finish())
    }
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects everything written, for inspection after the events.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    /// Logs one event at each level and returns the lines written.
    fn lines(level: LogLevel, json: bool, ansi: bool) -> Vec<String> {
        let captured = Captured::default();
        let subscriber = subscriber(level, json, ansi, captured.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!("at trace");
            tracing::debug!("at debug");
            tracing::info!(
                peer = "2001:db8:14:34::1",
                prefix = "203.0.113.10/32",
                "announced"
            );
            tracing::warn!("at warn");
            tracing::error!("at error");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    /// `2026-01-02T03:04:05.123456Z`: RFC 3339, UTC, microseconds.
    fn is_rfc3339_utc(stamp: &str) -> bool {
        let bytes = stamp.as_bytes();
        let digits =
            |range: std::ops::Range<usize>| range.into_iter().all(|i| bytes[i].is_ascii_digit());
        bytes.len() == 27
            && digits(0..4)
            && bytes[4] == b'-'
            && digits(5..7)
            && bytes[7] == b'-'
            && digits(8..10)
            && bytes[10] == b'T'
            && digits(11..13)
            && bytes[13] == b':'
            && digits(14..16)
            && bytes[16] == b':'
            && digits(17..19)
            && bytes[19] == b'.'
            && digits(20..26)
            && bytes[26] == b'Z'
    }

    #[test]
    fn text_lines_carry_a_utc_timestamp_the_level_and_the_fields() {
        let lines = lines(LogLevel::Info, false, false);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let (stamp, rest) = lines[0].split_once(' ').unwrap();
        assert!(is_rfc3339_utc(stamp), "{stamp}");
        assert!(rest.trim_start().starts_with("INFO "), "{rest}");
        assert!(rest.contains("announced"), "{rest}");
        assert!(rest.contains("peer=\"2001:db8:14:34::1\""), "{rest}");
        assert!(rest.contains("prefix=\"203.0.113.10/32\""), "{rest}");
        assert!(
            lines[1].contains(" WARN ") && lines[2].contains("ERROR "),
            "{lines:#?}"
        );
        assert!(
            lines.iter().all(|line| !line.contains('\x1b')),
            "colours: {lines:#?}"
        );
    }

    #[test]
    fn colours_only_when_asked() {
        assert!(lines(LogLevel::Info, false, true)[0].contains('\x1b'));
    }

    #[test]
    fn the_level_filters_what_is_written() {
        assert_eq!(lines(LogLevel::Trace, false, false).len(), 5);
        assert_eq!(lines(LogLevel::Debug, false, false).len(), 4);
        assert_eq!(lines(LogLevel::Warn, false, false).len(), 2);
        let errors = lines(LogLevel::Error, false, false);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("at error"));
    }

    #[test]
    fn json_lines_are_objects_with_timestamp_level_message_and_fields() {
        let lines = lines(LogLevel::Info, true, true);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let event: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert!(
            is_rfc3339_utc(event["timestamp"].as_str().unwrap()),
            "{event}"
        );
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["message"], "announced");
        assert_eq!(event["peer"], "2001:db8:14:34::1");
        assert_eq!(event["prefix"], "203.0.113.10/32");
        assert!(!lines[0].contains('\x1b'));
        for line in &lines {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }
}
