//! The `?` overlay: the keys of the view in front first, then those of every view, generated
//! from the keymap in force.
//!
//! Descriptions wrap instead of being cut; entries flow into as many columns as the height
//! requires (the fewest that fit), so every key is visible whole from 80x24 up.

use crate::tui::app::App;
use crate::tui::layout::centered;
use crate::tui::strings;
use crate::tui::widgets::boxed;
use crate::tui::widgets::{put, wrap};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct HelpOverlay<'a> {
    pub app: &'a App,
}

/// One row of the overlay's content.
enum Item<'a> {
    Heading(String),
    /// Keys, the action's name for `[dashboard.keys]`, what it does.
    Entry(String, &'a str, &'a str),
}

/// The overlay's content laid out in columns, each as wide as its own content.
struct Layout<'a> {
    columns: Vec<Column<'a>>,
}

struct Column<'a> {
    rows: Vec<Row<'a>>,
    key_w: usize,
    name_w: usize,
    width: usize,
}

enum Row<'a> {
    Heading(&'a str),
    Entry {
        keys: &'a str,
        name: &'a str,
        desc: String,
    },
    /// A description's next line.
    More(String),
}

/// Lays `items` out in at most `n` columns of at most `room` rows, descriptions wrapped to
/// `desc_w` (left out when it is 0); `None` when they do not fit.
fn lay_out<'a>(items: &'a [Item<'a>], n: usize, room: usize, desc_w: usize) -> Option<Layout<'a>> {
    let mut columns: Vec<Vec<Row<'a>>> = vec![Vec::new()];
    for item in items {
        let rows: Vec<Row<'a>> = match item {
            Item::Heading(h) => vec![Row::Heading(h)],
            Item::Entry(keys, name, what) => {
                let lines = if desc_w == 0 { Vec::new() } else { wrap(what, desc_w) };
                let mut lines = lines.into_iter();
                let first = Row::Entry { keys, name, desc: lines.next().unwrap_or_default() };
                std::iter::once(first).chain(lines.map(Row::More)).collect()
            }
        };
        if columns.last().is_some_and(|c| !c.is_empty() && c.len() + rows.len() > room) {
            columns.push(Vec::new());
        }
        let count = columns.len();
        let column = columns.last_mut().expect("one column at least");
        if column.len() + rows.len() > room || count > n {
            return None;
        }
        column.extend(rows);
    }
    let columns = columns
        .into_iter()
        .map(|rows| {
            let (mut key_w, mut name_w, mut desc, mut heading) = (0, 0, 0, 0);
            for row in &rows {
                match row {
                    Row::Heading(h) => heading = heading.max(h.chars().count()),
                    Row::Entry { keys, name, desc: d } => {
                        key_w = key_w.max(keys.chars().count());
                        name_w = name_w.max(name.len());
                        desc = desc.max(d.chars().count());
                    }
                    Row::More(d) => desc = desc.max(d.chars().count()),
                }
            }
            let entry = key_w + 1 + name_w + 2 + if desc > 0 { desc + 1 } else { 0 };
            Column { rows, key_w, name_w, width: entry.max(heading + 2) }
        })
        .collect();
    Some(Layout { columns })
}

impl Layout<'_> {
    fn width(&self) -> usize {
        self.columns.iter().map(|c| c.width).sum()
    }
}

impl Widget for HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let read_only = app.read_only;
        let scope = app.tab.scope();
        let [own, every] = app.keymap.help_for(scope, |a| !(read_only && a.writes()));
        let view = strings::TAB_TITLES[app.tab.index()];
        let mut items = Vec::new();
        if !own.is_empty() {
            items.push(Item::Heading(format!("{} {view}", strings::HELP_THIS_VIEW)));
            items.extend(own.iter().map(|(k, a)| Item::Entry(k.clone(), a.name(), a.describe())));
        }
        items.push(Item::Heading(strings::HELP_EVERYWHERE.to_owned()));
        items.push(Item::Entry("Ctrl-C".to_owned(), "quit (always)", "cannot be rebound"));
        items.extend(every.iter().map(|(k, a)| Item::Entry(k.clone(), a.name(), a.describe())));
        let names = format!("{} · {}", strings::HELP_NAMES, strings::HELP_OTHERS);
        let mut notes = if names.chars().count() + 4 <= usize::from(area.width) {
            vec![names.as_str(), strings::HELP_CLOSE]
        } else {
            vec![strings::HELP_NAMES, strings::HELP_OTHERS, strings::HELP_CLOSE]
        };
        if read_only {
            notes.insert(0, strings::HELP_READ_ONLY);
        }
        let notes_h = notes.len() + 1;
        let room = usize::from(area.height.saturating_sub(2)).saturating_sub(notes_h).max(1);
        let width = usize::from(area.width).saturating_sub(3);
        let longest = items
            .iter()
            .filter_map(|i| if let Item::Entry(_, _, d) = i { Some(d.chars().count()) } else { None })
            .max()
            .unwrap_or(0);
        // The fewest columns that hold everything with descriptions whole (wrapped as little as
        // the width allows); else names and keys alone; else as much as fits.
        let widths = [longest, 60, 48, 40, 32, 24, 16];
        let layout = (1..=3)
            .find_map(|n| {
                widths
                    .iter()
                    .filter(|d| **d <= longest)
                    .find_map(|d| lay_out(&items, n, room, *d).filter(|l| l.width() <= width))
            })
            .or_else(|| (1..=4).find_map(|n| lay_out(&items, n, room, 0).filter(|l| l.width() <= width)))
            .or_else(|| lay_out(&items, usize::MAX, room, 0))
            .unwrap_or(Layout { columns: Vec::new() });
        let notes_w = notes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let rows = layout.columns.iter().map(|c| c.rows.len()).max().unwrap_or(0);
        let w = u16::try_from(layout.width().max(notes_w + 1) + 3).unwrap_or(u16::MAX);
        let h = u16::try_from(rows + notes_h + 2).unwrap_or(u16::MAX);
        let title = Line::from(Span::styled(format!(" {} ", strings::HELP_TITLE), t.title));
        let inner = boxed(centered(area, w, h), buf, title, t.title, true);
        let last_row = inner.bottom().saturating_sub(u16::try_from(notes_h).unwrap_or(0));
        let mut x = inner.x.saturating_add(1);
        for column in &layout.columns {
            for (r, row) in column.rows.iter().enumerate() {
                let y = inner.y.saturating_add(u16::try_from(r).unwrap_or(u16::MAX));
                if y >= last_row {
                    break;
                }
                draw_row(buf, inner, (x, y), row, column, (t.key, t.dim, t.text, t.title));
            }
            x = x.saturating_add(u16::try_from(column.width).unwrap_or(u16::MAX));
        }
        let bottom = inner.bottom();
        for (i, note) in notes.iter().rev().enumerate() {
            let y = bottom.saturating_sub(1 + u16::try_from(i).unwrap_or(0));
            if y >= inner.y {
                let style = if *note == strings::HELP_READ_ONLY { t.warning } else { t.dim };
                put(buf, inner, inner.x + 1, y, note, style);
            }
        }
    }
}

/// One row of a column: a heading, an entry, or a description's next line.
fn draw_row(
    buf: &mut Buffer,
    inner: Rect,
    (x, y): (u16, u16),
    row: &Row<'_>,
    c: &Column<'_>,
    (key, name, text, heading): (Style, Style, Style, Style),
) {
    let (key_w, name_w) = (c.key_w, c.name_w);
    let desc_x = x.saturating_add(u16::try_from(key_w + name_w + 3).unwrap_or(u16::MAX));
    match row {
        Row::Heading(h) => {
            put(buf, inner, x, y, h, heading);
        }
        Row::Entry { keys, name: n, desc } => {
            let after = put(buf, inner, x, y, &format!("{keys:>key_w$}"), key);
            put(buf, inner, after.saturating_add(1), y, &format!("{n:<name_w$}"), name);
            put(buf, inner, desc_x, y, desc, text);
        }
        Row::More(desc) => {
            put(buf, inner, desc_x, y, desc, text);
        }
    }
}
