//! The `?` overlay: every action and its keys, generated from the keymap in force.
//!
//! Entries flow into as many columns as the height requires, so the whole keymap is visible
//! from 80x24 up.

use crate::tui::app::App;
use crate::tui::layout::centered;
use crate::tui::strings;
use crate::tui::widgets::boxed;
use crate::tui::widgets::{clip, put};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct HelpOverlay<'a> {
    pub app: &'a App,
}

impl Widget for HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = &self.app.theme;
        let read_only = self.app.read_only;
        // (keys, action name for [dashboard.keys], what it does)
        let mut entries: Vec<(String, &str, &str)> = self
            .app
            .keymap
            .help_where(|a| !(read_only && a.writes()))
            .into_iter()
            .map(|(keys, a)| (keys, a.name(), a.describe()))
            .collect();
        entries.insert(0, ("Ctrl-C".to_owned(), "quit (always)", "cannot be rebound"));
        let mut notes = vec![strings::HELP_NAMES, strings::HELP_CLOSE];
        if self.app.read_only {
            notes.insert(0, "read-only: actions that write to the log are hidden");
        }
        let notes_h = notes.len() + 1;
        let room = usize::from(area.height.saturating_sub(2)).saturating_sub(notes_h).max(1);
        let columns = entries.len().div_ceil(room).max(1);
        let per_column = entries.len().div_ceil(columns);
        let key_w = entries.iter().map(|(k, ..)| k.chars().count()).max().unwrap_or(0).min(16);
        // Each column as wide as its own longest name, so a long name in one column does not
        // push the last one off an 80-column screen.
        let name_ws: Vec<usize> =
            entries.chunks(per_column.max(1)).map(|c| c.iter().map(|(_, n, _)| n.len()).max().unwrap_or(0)).collect();
        // Descriptions share what width the keys and names leave, clipped to it; they go only
        // when too little is left to say anything (the names are what [dashboard.keys] takes,
        // and they say enough on their own).
        let fixed: usize = name_ws.iter().map(|n| key_w + n + 6).sum();
        let spare = usize::from(area.width).saturating_sub(fixed + 3) / name_ws.len().max(1);
        let desc_w = entries.iter().map(|(.., d)| d.chars().count()).max().unwrap_or(0).min(spare);
        let with_desc = desc_w >= 12;
        let col_ws: Vec<usize> =
            name_ws.iter().map(|n| if with_desc { key_w + n + desc_w + 6 } else { key_w + n + 4 }).collect();
        let col_x: Vec<usize> = col_ws.iter().scan(0, |x, w| Some(std::mem::replace(x, *x + w))).collect();
        let notes_w = notes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let w = u16::try_from(col_ws.iter().sum::<usize>().max(notes_w + 1) + 3).unwrap_or(u16::MAX);
        let h = u16::try_from(per_column + notes_h + 2).unwrap_or(u16::MAX);
        let title = Line::from(Span::styled(format!(" {} ", strings::HELP_TITLE), t.title));
        let inner = boxed(centered(area, w, h), buf, title, t.title, true);
        for (i, (keys, name, what)) in entries.iter().enumerate() {
            let (col, row) = (i / per_column, i % per_column);
            let y = inner.y.saturating_add(u16::try_from(row).unwrap_or(u16::MAX));
            let x = inner.x.saturating_add(u16::try_from(1 + col_x[col]).unwrap_or(u16::MAX));
            if y >= inner.bottom().saturating_sub(u16::try_from(notes_h).unwrap_or(0)) {
                continue;
            }
            let name_w = name_ws[col];
            let x = put(buf, inner, x, y, &format!("{keys:>key_w$}"), t.key);
            let x = put(buf, inner, x.saturating_add(2), y, &format!("{name:<name_w$}"), t.dim);
            if with_desc {
                put(buf, inner, x.saturating_add(2), y, &clip(what, desc_w), t.text);
            }
        }
        let bottom = inner.bottom();
        for (i, note) in notes.iter().rev().enumerate() {
            let y = bottom.saturating_sub(1 + u16::try_from(i).unwrap_or(0));
            if y >= inner.y {
                put(buf, inner, inner.x + 1, y, note, if note.starts_with("read-only") { t.warning } else { t.dim });
            }
        }
    }
}
