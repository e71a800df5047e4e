//! Reusable pieces of the dashboard's screens: the phase pipeline, the host heatmap, the event
//! tail and gauges.
//!
//! They write straight into the frame's buffer and touch only the cells they show, so a
//! 10,000-target deployment costs no more to draw than the part of it on screen.

pub mod canary;
pub mod gauge;
pub mod heatmap;
pub mod pipeline;
pub mod shapes;
pub mod tail;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;

/// Writes `text` at `(x, y)`, clipped to `area`'s right edge; returns the column after it.
pub fn put(buf: &mut Buffer, area: Rect, x: u16, y: u16, text: &str, style: Style) -> u16 {
    if y < area.top() || y >= area.bottom() || x >= area.right() || x < area.left() {
        return x;
    }
    let max = usize::from(area.right() - x);
    // Agent and log text is shown, not obeyed: the same escapes as every CLI output.
    buf.set_stringn(x, y, crate::domain::text::sanitize(text), max, style).0
}

/// Shortens `text` to at most `width` columns, marking the cut with `…` at the start.
#[must_use]
pub fn clip_left(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let keep: String = text.chars().skip(count - (width - 1)).collect();
    format!("…{keep}")
}

/// Shortens `text` to at most `width` columns, marking the cut with `…` at the end.
#[must_use]
pub fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `name@version` in at most `width` columns: when it does not fit, the name is cut and the
/// version kept, so two deployments of one service never look the same.
#[must_use]
pub fn clip_release(name: &str, version: &str, width: usize) -> String {
    let whole = format!("{name}@{version}");
    let version_w = version.chars().count() + 1;
    if whole.chars().count() <= width || width < version_w + 2 {
        return clip(&whole, width);
    }
    format!("{}@{version}", clip(name, width - version_w))
}

/// Greedy word wrap to `width` columns (a word longer than the width is split): for text that
/// must be read whole, where cutting it would lose its point.
#[must_use]
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        while !word.is_empty() {
            let line = lines.last_mut().expect("one line at least");
            let used = line.chars().count();
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= width {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.drain(..));
            } else if used > 0 {
                lines.push(String::new());
            } else {
                let rest = word.split_off(width);
                line.extend(word.drain(..));
                lines.push(String::new());
                word = rest;
            }
        }
    }
    lines.retain(|l| !l.is_empty());
    lines
}

/// A bordered box with a title, drawn over whatever is there; returns its inner area.
pub fn boxed(area: Rect, buf: &mut Buffer, title: Line<'_>, border: Style, clear: bool) -> Rect {
    use ratatui::widgets::{Block, Clear, Widget};
    if clear {
        Clear.render(area, buf);
    }
    let block = Block::bordered().border_style(border).title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_the_width_and_marks_the_cut() {
        assert_eq!(clip("payments-api", 8), "payment…");
        assert_eq!(clip("api", 8), "api");
        assert_eq!(clip_left("/var/lib/shipdeck/log.db", 10), "…ck/log.db");
        assert_eq!(clip_left("abc", 0), "");
    }

    /// Regression: at 80x24 the RELEASE column cut `payments-api@2.5.0` to `payments-api@…`,
    /// so two deployments of one service looked the same.
    #[test]
    fn a_cut_release_keeps_its_version() {
        assert_eq!(clip_release("payments-api", "2.5.0", 30), "payments-api@2.5.0");
        assert_eq!(clip_release("payments-api", "2.5.0", 14), "payment…@2.5.0");
        assert_eq!(clip_release("payments-api", "2.5.0", 6), "payme…");
    }

    #[test]
    fn text_wraps_at_words_and_splits_only_a_word_too_long() {
        assert_eq!(wrap("the model review and its suggestions", 14), ["the model", "review and its", "suggestions"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn put_never_writes_outside_its_area() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 2));
        let area = Rect::new(2, 0, 4, 1);
        assert_eq!(put(&mut buf, area, 2, 0, "abcdefgh", Style::new()), 6);
        assert_eq!(put(&mut buf, area, 2, 1, "zz", Style::new()), 2);
        assert_eq!(buf, Buffer::with_lines(["  abcd    ", "          "]));
    }

    #[test]
    fn put_shows_control_characters_and_bidi_overrides_as_escapes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 24, 1));
        let area = buf.area;
        put(&mut buf, area, 0, 0, "a\u{1b}[2J\u{202e}b\r", Style::new());
        assert_eq!(buf, Buffer::with_lines(["a\\e[2J\\u{202e}b\\r       "]));
    }
}
