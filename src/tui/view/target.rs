//! One target opened from the heatmap: where it stands, its last error in full, its events.

use crate::domain::records::TargetView;
use crate::tui::app::{App, TargetPane};
use crate::tui::strings;
use crate::tui::widgets::boxed;
use crate::tui::widgets::heatmap::host_state;
use crate::tui::widgets::put;
use crate::tui::widgets::tail::EventTail;
use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};
use std::collections::VecDeque;

/// The target pane, drawn over the heatmap and the tail.
pub struct TargetOverlay<'a> {
    pub app: &'a App,
    pub pane: &'a TargetPane,
    pub target: Option<&'a TargetView>,
    pub silent_before: DateTime<Utc>,
}

impl Widget for TargetOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let state = self.target.map(|x| host_state(x, self.silent_before));
        let mut title = vec![Span::styled(format!(" {} ", self.pane.name), t.title)];
        if let (Some(target), Some(state)) = (self.target, state) {
            title.push(Span::styled(format!("{} {} ", state.symbol(), state.label()), t.host(state)));
            title.push(Span::styled(format!("· {} ", target.phase), t.dim));
        }
        let inner = boxed(area, buf, Line::from(title), t.title, true);
        if inner.height == 0 {
            return;
        }
        let zone = app.session.config.timezone;
        let mut y = inner.y;
        if let Some(target) = self.target {
            let when = |at: Option<DateTime<Utc>>| {
                at.map_or_else(|| "-".to_owned(), |a| a.with_timezone(&zone).format("%H:%M:%S").to_string())
            };
            let step = match (&target.last_step, target.last_status) {
                (Some(s), Some(st)) => format!("{s} {st}"),
                _ => "-".to_owned(),
            };
            let seen = target.seen_at.map(|s| strings::age(app.now - s)).unwrap_or_else(|| "never".into());
            let facts = format!("last step {step} at {} · heard from {seen} ago", when(target.last_at));
            put(buf, inner, inner.x, y, &facts, t.text);
            y += 1;
            if y < inner.bottom() {
                put(buf, inner, inner.x, y, &format!("{}:", strings::TARGET_LAST_ERROR), t.title);
                y += 1;
            }
            let error = target.last_error.as_deref();
            let text = crate::domain::text::sanitize_lines(error.unwrap_or(strings::TARGET_NO_ERROR));
            let style = if error.is_some() { t.warning } else { t.dim };
            let room = inner.bottom().saturating_sub(y);
            // The whole error, wrapped, up to half of the pane; the events get the rest.
            let lines = u16::try_from(text.len() / usize::from(inner.width.max(1)) + text.lines().count().max(1))
                .unwrap_or(u16::MAX)
                .min(room / 2)
                .max(1.min(room));
            let area = Rect::new(inner.x, y, inner.width, lines);
            Paragraph::new(text.as_ref()).style(style).wrap(Wrap { trim: false }).render(area, buf);
            y += lines;
        }
        if y >= inner.bottom() {
            return;
        }
        put(buf, inner, inner.x, y, &format!("{}:", strings::TARGET_EVENTS), t.title);
        y += 1;
        let area = Rect::new(inner.x, y, inner.width, inner.bottom().saturating_sub(y));
        match &self.pane.events {
            None => {
                put(buf, area, area.x, area.y, strings::LOADING, t.dim);
            }
            Some(events) if events.is_empty() => {
                put(buf, area, area.x, area.y, strings::NO_EVENTS, t.dim);
            }
            Some(events) => {
                let tail: VecDeque<_> = events.iter().skip(events.len().saturating_sub(200)).cloned().collect();
                EventTail {
                    events: &tail,
                    scroll: self.pane.scroll,
                    zone,
                    now: self.app.now,
                    show_target: false,
                    theme: t,
                }
                .render(area, buf);
            }
        }
    }
}
