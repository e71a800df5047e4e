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
    /// Now, so events of another day carry their date.
    pub now: chrono::DateTime<chrono::Utc>,
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
            let local = e.at.with_timezone(&self.zone);
            let today = local.date_naive() == self.now.with_timezone(&self.zone).date_naive();
            let time = local.format(if today { "%H:%M:%S" } else { "%Y-%m-%d %H:%M:%S" }).to_string();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DeploymentKey;
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
    }

    #[test]
    fn events_of_another_day_carry_their_date() {
        let event = |seq: i64, when: &str| StoredEvent {
            seq,
            id: format!("e{seq}"),
            deployment: DeploymentKey(1),
            phase: None,
            target: Some("web-01".into()),
            step: "install".into(),
            status: EventStatus::Succeeded,
            at: at(when),
            received_at: at(when),
            message: None,
            data: None,
        };
        let events: VecDeque<_> = [event(1, "2026-11-20T09:15:00Z"), event(2, "2026-11-26T09:15:00Z")].into();
        let theme = Theme::mono();
        let area = Rect::new(0, 0, 60, 2);
        let mut buf = Buffer::empty(area);
        let tail = EventTail {
            events: &events,
            scroll: 0,
            zone: chrono_tz::UTC,
            now: at("2026-11-26T12:00:00Z"),
            show_target: true,
            theme: &theme,
        };
        tail.render(area, &mut buf);
        let line = |y: u16| (0..60).map(|x| buf[(x, y)].symbol().to_owned()).collect::<String>();
        assert!(line(0).starts_with("2026-11-20 09:15:00 web-01"), "{}", line(0));
        assert!(line(1).starts_with("09:15:00 web-01"), "{}", line(1));
    }
}
