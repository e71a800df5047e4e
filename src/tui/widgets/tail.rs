//! The event tail: events newest at the bottom, scrolled up by a number of lines.

use super::put;
use crate::domain::EventStatus;
use crate::domain::records::StoredEvent;
use crate::tui::theme::{HostState, Theme};
use chrono_tz::Tz;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use std::collections::VecDeque;

/// A symbol per event status, readable without colour.
#[must_use]
pub fn event_symbol(status: EventStatus) -> char {
    match status {
        EventStatus::Started => '▶',
        EventStatus::Succeeded => '✓',
        EventStatus::Failed => '✗',
        EventStatus::Skipped => '↷',
        EventStatus::Info => 'i',
    }
}

/// The last lines of an event list.
pub struct EventTail<'a> {
    pub events: &'a VecDeque<StoredEvent>,
    /// Lines scrolled up from the newest event.
    pub scroll: usize,
    pub zone: Tz,
    /// Whether to name the target of each event (off inside one target's view).
    pub show_target: bool,
    pub theme: &'a Theme,
}

impl Widget for EventTail<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let rows = usize::from(area.height);
        let end = self.events.len().saturating_sub(self.scroll);
        let start = end.saturating_sub(rows);
        let target_width = self.events.range(start..end).filter_map(|e| e.target.as_ref()).map(String::len).max();
        let target_width = target_width.unwrap_or(0).min(24);
        for (y, e) in (area.top()..area.bottom()).zip(self.events.range(start..end)) {
            let style = match e.status {
                EventStatus::Failed => self.theme.host(HostState::Failed),
                EventStatus::Succeeded => self.theme.host(HostState::Succeeded),
                EventStatus::Started => self.theme.host(HostState::Running),
                EventStatus::Skipped | EventStatus::Info => self.theme.dim,
            };
            let time = e.at.with_timezone(&self.zone).format("%H:%M:%S").to_string();
            let mut x = put(buf, area, area.x, y, &time, self.theme.dim) + 1;
            if self.show_target {
                let name = e.target.as_deref().or(e.phase.as_deref()).unwrap_or("-");
                x = put(buf, area, x, y, &format!("{name:<target_width$}"), self.theme.text) + 1;
            }
            let mut sym = [0u8; 4];
            x = put(buf, area, x, y, event_symbol(e.status).encode_utf8(&mut sym), style) + 1;
            x = put(buf, area, x, y, &e.step, style) + 1;
            if let Some(m) = &e.message {
                let line = m.lines().next().unwrap_or("");
                put(buf, area, x, y, line, self.theme.text);
            }
        }
    }
}
