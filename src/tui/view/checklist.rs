//! The Checklist panel, drawn over the screen: a deployment's items with their state, who
//! ticked them and the evidence; the confirm of a tick takes the evidence.

use crate::domain::checklist::ItemState;
use crate::tui::app::{App, ChecklistPanel};
use crate::tui::layout::centered;
use crate::tui::strings;
use crate::tui::theme::HostState;
use crate::tui::widgets::{boxed, clip, put};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// The panel over `area`.
pub struct ChecklistOverlay<'a> {
    pub app: &'a App,
    pub panel: &'a ChecklistPanel,
}

impl Widget for ChecklistOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (app, p, t) = (self.app, self.panel, &self.app.theme);
        let rows = p.items.as_ref().map_or(1, Vec::len);
        let height = u16::try_from(rows + 6).unwrap_or(u16::MAX);
        let rect = centered(area, area.width.saturating_sub(4).max(40), height);
        let title = Line::from(vec![
            Span::styled(format!(" {} {} ", strings::CHECKLIST, p.key), t.title),
            Span::styled(format!("· {} ", strings::CHECKLIST_KEYS), t.dim),
        ]);
        let inner = boxed(rect, buf, title, t.title, true);
        if inner.height == 0 {
            return;
        }
        let Some(items) = p.items.as_ref() else {
            put(buf, inner, inner.x + 1, inner.y, strings::LOADING, t.dim);
            return;
        };
        if items.is_empty() {
            put(buf, inner, inner.x + 1, inner.y, strings::NO_CHECKLIST, t.dim);
            return;
        }
        let tz = app.session.config.timezone;
        for (i, item) in items.iter().enumerate() {
            let y = inner.y + u16::try_from(i).unwrap_or(u16::MAX);
            if y >= inner.bottom() {
                break;
            }
            let line = Rect::new(inner.x, y, inner.width, 1);
            if i == p.selected {
                buf.set_style(line, t.selected);
            }
            let (mark, style) = match item.state {
                ItemState::Open => ("[ ]", t.text),
                ItemState::Done => ("[x]", t.host(HostState::Succeeded)),
                ItemState::Failed => ("[!]", t.host(HostState::Failed)),
            };
            let who = match (&item.ticked_by, item.ticked_at) {
                (Some(by), Some(at)) => {
                    format!("{} by {by} {}", item.state, at.with_timezone(&tz).format("%d %b %H:%M"))
                }
                _ if item.auto.is_some() => format!("auto: {}", item.auto.as_deref().unwrap_or_default()),
                _ => format!("by {}", item.roles.join(" or ")),
            };
            let mut x = put(buf, line, inner.x + 1, y, mark, style) + 1;
            x = put(buf, line, x, y, &format!("{:<12}", item.list.to_string()), t.dim) + 1;
            x = put(buf, line, x, y, &format!("{:<16}", item.id), t.text) + 1;
            let room = usize::from(line.right().saturating_sub(x));
            let text = format!("{}  · {who}", item.text);
            put(buf, line, x, y, &clip(&text, room), t.text);
        }
        let mut y = inner.y + u16::try_from(items.len()).unwrap_or(u16::MAX) + 1;
        if let (Some(evidence), Some(item)) = (&p.confirm, p.current()) {
            let need = if item.evidence_required { strings::EVIDENCE_REQUIRED } else { strings::EVIDENCE_OPTIONAL };
            let x = put(buf, inner, inner.x + 1, y, &format!("{} \"{}\"? {need}: ", strings::TICK, item.id), t.warning);
            let x = put(buf, inner, x, y, evidence, t.text);
            put(buf, inner, x, y, "▏", t.cursor);
            y += 1;
            let hint = if p.sending { strings::SENDING } else { strings::TICK_HINT };
            put(buf, inner, inner.x + 1, y, hint, t.dim);
            y += 1;
        }
        if let Some(e) = &p.error {
            put(buf, inner, inner.x + 1, y, &clip(e, usize::from(inner.width.saturating_sub(2))), t.warning);
        }
    }
}
