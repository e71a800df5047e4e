//! Progress bars for long work (building a benchmark log, seeding the demo, `ingest` of a large
//! file, exports), on stderr and only when stderr is a terminal: in a pipeline or a log file
//! they print nothing at all, so output stays exactly what the command promises.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A bar of `len` steps labelled `what`; hidden unless stderr is a terminal.
#[must_use]
pub fn bar(len: u64, what: &str) -> ProgressBar {
    styled(len, what, "{msg:<24} [{wide_bar}] {human_pos}/{human_len} ({per_sec}, {eta} left)")
}

/// A bar of `len` bytes labelled `what` (a file being read); hidden unless stderr is a terminal.
#[must_use]
pub fn bytes(len: u64, what: &str) -> ProgressBar {
    styled(len, what, "{msg:<24} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)")
}

/// A spinner with a count, for work of unknown length (stdin); hidden unless stderr is a
/// terminal.
#[must_use]
pub fn counter(what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {human_pos} ({per_sec})") {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

fn styled(len: u64, what: &str, template: &str) -> ProgressBar {
    // indicatif hides a bar whose target is not a terminal too; deciding here makes the
    // promise explicit and costs nothing per step.
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}
