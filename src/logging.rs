//! Structured logs of the long-running commands (`serve`): request errors, commits and
//! deliveries, as `tracing` events on stderr, in text for people or JSON for a log pipeline.
//!
//! Nothing else installs a subscriber: the dashboard and the demo own the terminal, so the
//! receiver they run in-process logs nowhere.

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event for people: time, level, message, fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `message` and the event's fields.
    Json,
}

/// Sends this process's `tracing` events at INFO and above to stderr in `format`.
pub fn init(format: LogFormat) {
    use std::io::IsTerminal;
    let builder =
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::INFO).with_target(false);
    // A second call (tests running commands in-process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
