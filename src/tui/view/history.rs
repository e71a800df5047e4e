//! The History screen: finished deployments, newest first, under a filter bar; the drill-down
//! of one of them when it is open.
//!
//! Columns are dropped by priority when the terminal is narrow (the key, result and release
//! always stay), never squeezed into each other.

use crate::domain::DeploymentStatus;
use crate::domain::history::{HistoryRow, ReviewState};
use crate::tui::app::App;
use crate::tui::strings;
use crate::tui::theme::{HostState, Theme, deployment_symbol};
use crate::tui::widgets::boxed;
use crate::tui::widgets::{clip, clip_release, put, wrap};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// A column (titled by [`strings::HISTORY_HEADER`] at its index): its width and priority
/// (lower stays longer; the release takes the rest).
struct Column {
    width: u16,
    priority: u8,
}

/// The columns that fit `width`, in display order, with the release's width.
fn columns(width: u16) -> (Vec<(usize, u16)>, u16) {
    const RELEASE_MIN: u16 = 14;
    const RELEASE_WIDE: u16 = 34;
    let all = [
        Column { width: 9, priority: 0 },
        Column { width: 13, priority: 0 },
        Column { width: RELEASE_MIN, priority: 0 },
        Column { width: 11, priority: 1 },
        Column { width: 9, priority: 4 },
        Column { width: 12, priority: 2 },
        Column { width: 9, priority: 3 },
        Column { width: 10, priority: 1 },
        Column { width: 10, priority: 1 },
        Column { width: 10, priority: 5 },
    ];
    let mut kept: Vec<usize> = (0..all.len()).collect();
    let total = |kept: &[usize]| kept.iter().map(|&i| all[i].width + 1).sum::<u16>();
    while total(&kept) > width {
        let Some(pos) = kept
            .iter()
            .enumerate()
            .filter(|(_, i)| all[**i].priority > 0)
            .max_by_key(|(_, i)| all[**i].priority)
            .map(|(p, _)| p)
        else {
            break;
        };
        kept.remove(pos);
    }
    // Spare columns widen the release first (up to a long name); what is still left widens
    // every column alike, so a wide terminal shows a wide table, not a margin of blanks.
    let spare = width.saturating_sub(total(&kept));
    let first = spare.min(RELEASE_WIDE - RELEASE_MIN);
    let n = u16::try_from(kept.len()).unwrap_or(1).max(1);
    let (each, mut extra) = ((spare - first) / n, (spare - first) % n);
    let mut release = 0;
    let cols = kept
        .into_iter()
        .map(|i| {
            let one = u16::from(extra > 0);
            extra = extra.saturating_sub(1);
            let w = all[i].width + each + one + if i == 2 { first } else { 0 };
            if i == 2 {
                release = w;
            }
            (i, w)
        })
        .collect();
    (cols, release)
}

/// The History screen (or the drill-down, when one is open).
pub struct HistoryScreen<'a> {
    pub app: &'a App,
}

impl Widget for HistoryScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        if let Some(c) = &app.history.compare {
            compare(c, area, buf, t);
            return;
        }
        if app.history.drill.is_some() {
            super::drill::DrillScreen { app }.render(area, buf);
            return;
        }
        let h = &app.history;
        let count = if h.loaded { format!("· {} {} ", h.total, "finished") } else { String::new() };
        let title = Line::from(vec![
            Span::styled(format!(" {} ", strings::HISTORY), t.title),
            Span::styled(count, t.dim),
            Span::styled(format!("· {} ", h.period_label()), t.text),
        ]);
        let inner = boxed(area, buf, title, t.border, false);
        if inner.height < 2 {
            return;
        }
        filter_bar(app, Rect::new(inner.x, inner.y, inner.width, 1), buf);
        let (cols, _) = columns(inner.width.saturating_sub(1));
        let header_y = inner.y + 1;
        let mut x = inner.x + 1;
        for &(i, w) in &cols {
            let title = strings::HISTORY_HEADER[i];
            // Numbers are right-aligned, and so are their titles.
            let pad = if i == 6 || i == 7 { w.saturating_sub(u16::try_from(title.len()).unwrap_or(0)) } else { 0 };
            put(buf, inner, x + pad, header_y, title, t.dim);
            x += w + 1;
        }
        let list = Rect::new(inner.x, inner.y + 2, inner.width, inner.height.saturating_sub(2));
        if h.loaded && h.total == 0 {
            let msg = if h.filter.chips().is_empty() && h.preset + 1 == crate::domain::history::Period::PRESETS.len() {
                strings::HISTORY_EMPTY
            } else {
                strings::HISTORY_NO_MATCH
            };
            put(buf, list, list.x + 1, list.y, msg, t.dim);
            return;
        }
        if !h.loaded {
            put(buf, list, list.x + 1, list.y, strings::LOADING, t.dim);
            return;
        }
        for row in 0..usize::from(list.height) {
            let index = h.scroll + row;
            if index >= h.total {
                break;
            }
            let y = list.y + u16::try_from(row).unwrap_or(0);
            let line = Rect::new(list.x, y, list.width, 1);
            let Some(r) = index.checked_sub(h.offset).and_then(|i| h.rows.get(i)) else {
                put(buf, line, line.x + 1, y, strings::LOADING, t.dim);
                continue;
            };
            if index == h.selected {
                buf.set_style(line, t.selected);
            }
            draw_row(app, r, &cols, line, buf);
        }
    }
}

fn filter_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let (h, t) = (&app.history, &app.theme);
    let x = area.x + 1;
    if h.editing {
        let x = put(buf, area, x, area.y, &format!("/{}", h.line), t.text);
        put(buf, area, x, area.y, "▏", t.cursor);
        if let Some(e) = &h.line_error {
            put(buf, area, x + 2, area.y, &clip(e, usize::from(area.right().saturating_sub(x + 2))), t.warning);
        }
        return;
    }
    let chips = h.filter.chips();
    if chips.is_empty() {
        let hint = format!(
            "{} filter · {} time range",
            app.keymap.label(crate::keymap::Action::Filter),
            app.keymap.label(crate::keymap::Action::Period)
        );
        put(buf, area, x, area.y, &hint, t.dim);
    } else {
        let mut x = x;
        for chip in chips {
            x = put(buf, area, x, area.y, &format!(" {chip} "), t.key) + 1;
        }
    }
}

/// The result as a symbol and a word, coloured: colour is never the only carrier.
fn result_cell(status: DeploymentStatus, t: &Theme) -> (String, Style) {
    let word = match status {
        DeploymentStatus::RolledBack => "rolled back",
        other => other.as_str(),
    };
    (format!("{} {word}", deployment_symbol(status)), t.deployment(status))
}

fn review_cell(state: ReviewState, t: &Theme) -> (String, Style) {
    match state {
        ReviewState::NotNeeded => ("-".into(), t.dim),
        ReviewState::Owed => ("owed".into(), t.warning),
        ReviewState::Draft => ("draft".into(), t.text),
        ReviewState::Complete => ("✓ complete".into(), t.host(HostState::Succeeded)),
    }
}

/// `1d10h5m12s` when it fits the column, else its two largest units (`1d10h`): never cut.
fn duration_cell(secs: i64, width: usize) -> String {
    let d = chrono::TimeDelta::seconds(secs);
    let exact = crate::domain::duration::format(d);
    if exact.chars().count() <= width { exact } else { crate::domain::duration::format_coarse(d) }
}

fn draw_row(app: &App, r: &HistoryRow, cols: &[(usize, u16)], line: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let tz = app.session.config.timezone;
    let mut x = line.x + 1;
    for &(i, w) in cols {
        let (text, style) = match i {
            0 => (r.key.to_string(), t.text),
            1 => result_cell(r.result, t),
            2 => (clip_release(&r.release, &r.version, usize::from(w)), t.text),
            3 => (r.environment.clone(), t.text),
            4 => (r.model.clone(), t.dim),
            5 => (
                r.started_at.map_or("-".into(), |s| {
                    let local = s.with_timezone(&tz);
                    let now = app.now.with_timezone(&tz);
                    if local.format("%Y").to_string() == now.format("%Y").to_string() {
                        local.format("%m-%d %H:%M").to_string()
                    } else {
                        local.format("%Y-%m-%d").to_string()
                    }
                }),
                t.dim,
            ),
            6 => (duration_cell(r.duration_s, usize::from(w)), t.text),
            7 => (
                format!("{}/{}", r.hosts_failed, r.hosts_total),
                if r.hosts_failed > 0 { t.host(HostState::Failed) } else { t.dim },
            ),
            8 => review_cell(r.review, t),
            _ => (r.requested_by.clone(), t.dim),
        };
        let text = clip(&text, usize::from(w));
        if i == 6 || i == 7 {
            let pad = usize::from(w).saturating_sub(text.chars().count());
            put(buf, line, x + u16::try_from(pad).unwrap_or(0), line.y, &text, style);
        } else {
            put(buf, line, x, line.y, &text, style);
        }
        x += w + 1;
    }
}

/// A run against its previous run (`c`): the lines of `shipdeck compare`, scrolled.
fn compare(c: &crate::tui::app::history::CompareView, area: Rect, buf: &mut Buffer, t: &Theme) {
    let title =
        Line::from(Span::styled(format!(" Compare {} with its previous run · Esc back · ↑↓ scroll ", c.key), t.title));
    let inner = boxed(area, buf, title, t.border, true);
    let lines = match &c.data {
        None => vec!["reading the log…".to_owned()],
        Some(Err(why)) => vec![why.clone()],
        Some(Ok(cmp)) => crate::domain::compare::lines(cmp),
    };
    // Each line whole, wrapped under itself: a comparison cut at the edge says nothing.
    let width = usize::from(inner.width.saturating_sub(4)).max(1);
    let rows = lines.iter().skip(c.scroll).flat_map(|line| {
        let style = if line.starts_with("first divergence") { t.warning } else { t.text };
        let mut parts = wrap(line, width).into_iter();
        let first = parts.next().unwrap_or_default();
        std::iter::once((first, style)).chain(parts.map(move |p| (format!("  {p}"), style)))
    });
    for (y, (line, style)) in (inner.y..inner.bottom()).zip(rows) {
        put(buf, inner, inner.x + 1, y, &line, style);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_by_priority_and_never_overflow() {
        for width in 40..=250 {
            let (cols, _) = columns(width);
            let used: u16 = cols.iter().map(|(_, w)| w + 1).sum();
            let kept: Vec<usize> = cols.iter().map(|(i, _)| *i).collect();
            assert!(kept.starts_with(&[0, 1, 2]), "key, result and release always stay at {width}: {kept:?}");
            if width >= 48 {
                assert!(used <= width, "{used} columns used of {width}");
            }
        }
        let wide: Vec<usize> = columns(200).0.iter().map(|(i, _)| *i).collect();
        assert_eq!(wide.len(), 10, "everything fits at 200 columns");
        let narrow: Vec<usize> = columns(60).0.iter().map(|(i, _)| *i).collect();
        assert!(!narrow.contains(&9) && !narrow.contains(&4), "requester and model go first: {narrow:?}");
    }
}
