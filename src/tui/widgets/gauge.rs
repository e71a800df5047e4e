//! Text gauges: a bar of block characters split into coloured parts, readable in monochrome.

use super::put;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// One part of a bar: how many of the total, the symbol and style of its cells.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub count: usize,
    pub symbol: char,
    pub style: Style,
}

/// Draws a bar over the first row of `at`: parts in order, then `empty` for the remainder.
///
/// A non-zero part always gets at least one cell, so a single failure out of 10,000 shows.
pub fn bar(buf: &mut Buffer, at: Rect, total: usize, parts: &[Part], empty: Part) {
    let (area, x, y) = (at, at.x, at.y);
    let width_cells = usize::from(at.width);
    let mut used = 0;
    let mut col = x;
    for part in parts {
        if part.count == 0 || total == 0 {
            continue;
        }
        let cells = (part.count * width_cells / total).max(1).min(width_cells - used.min(width_cells));
        for _ in 0..cells {
            put_char(buf, area, col, y, part.symbol, part.style);
            col = col.saturating_add(1);
        }
        used += cells;
    }
    for _ in used..width_cells {
        put_char(buf, area, col, y, empty.symbol, empty.style);
        col = col.saturating_add(1);
    }
}

fn put_char(buf: &mut Buffer, area: Rect, x: u16, y: u16, c: char, style: Style) {
    let mut tmp = [0u8; 4];
    put(buf, area, x, y, c.encode_utf8(&mut tmp), style);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_proportional_and_small_parts_still_show() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 1));
        let area = buf.area;
        let done = Part { count: 5_000, symbol: '█', style: Style::new() };
        let failed = Part { count: 1, symbol: '▓', style: Style::new() };
        let empty = Part { count: 0, symbol: '░', style: Style::new() };
        bar(&mut buf, area, 10_000, &[done, failed], empty);
        assert_eq!(buf, Buffer::with_lines(["█████▓░░░░"]));
        bar(&mut buf, area, 0, &[done], empty);
        assert_eq!(buf, Buffer::with_lines(["░░░░░░░░░░"]));
    }
}
