//! The Notifications screen: the operator's notifications, newest first, unread ones marked,
//! those whose gate was decided since marked settled; Enter opens the selected one in full
//! (and marks it read).

use super::approvals::when;
use crate::domain::notify::DeliveryState;
use crate::domain::text::sanitize_lines;
use crate::tui::app::App;
use crate::tui::strings::gates as text;
use crate::tui::widgets::boxed;
use crate::tui::widgets::{clip, put};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

/// The Notifications screen.
pub struct NotificationsScreen<'a> {
    pub app: &'a App,
}

impl Widget for NotificationsScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (app, t) = (self.app, &self.app.theme);
        let a = &app.approvals;
        let title = Line::from(vec![
            Span::styled(format!(" {} {} ", text::NOTIFICATIONS, app.session.operator), t.title),
            Span::styled(format!("· {} {} ", a.unread, text::UNREAD), if a.unread > 0 { t.warning } else { t.dim }),
        ]);
        // An opened notification takes the lower part of the screen, the list the rest.
        let open = a.notifications.get(a.note_selected).filter(|_| a.note_open);
        let (list_area, note_area) = match open {
            Some(_) => {
                let list_h = (area.height / 3).max(3).min(area.height);
                (Rect { height: list_h, ..area }, Rect { y: area.y + list_h, height: area.height - list_h, ..area })
            }
            None => (area, Rect::default()),
        };
        let inner = boxed(list_area, buf, title, t.title, false);
        if inner.height == 0 {
            return;
        }
        if let Some(n) = open {
            let head = Line::from(Span::styled(format!(" {} ", text::NOTE_CLOSE), t.dim));
            let body = boxed(note_area, buf, head, t.border, false);
            let mut lines = vec![Line::from(Span::styled(sanitize_lines(&n.subject).into_owned(), t.title))];
            if a.settled(n) {
                lines.push(Line::from(Span::styled(text::SETTLED, t.dim)));
            }
            lines.extend(sanitize_lines(&n.body).lines().map(|l| Line::from(Span::styled(l.to_owned(), t.text))));
            // Where it went: in-app, and each channel with its state.
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(text::DELIVERIES, t.dim)));
            let in_app = if n.read_at.is_some() { text::IN_APP_READ } else { text::IN_APP_UNREAD };
            lines.push(Line::from(Span::styled(format!("  {in_app}"), t.dim)));
            for d in a.deliveries.iter().filter(|d| d.notification == n.id) {
                let state = sanitize_lines(&d.state_text(app.session.config.timezone)).into_owned();
                let style = match d.state {
                    DeliveryState::Failed | DeliveryState::Retrying => t.warning,
                    _ => t.text,
                };
                lines.push(Line::from(Span::styled(format!("  {}: {state}", d.channel), style)));
            }
            Paragraph::new(lines).wrap(Wrap { trim: false }).render(body, buf);
        }
        if a.notifications.is_empty() {
            let msg = if a.loaded { text::NO_NOTIFICATIONS } else { text::LOADING };
            put(buf, inner, inner.x + 1, inner.y, msg, t.dim);
            return;
        }
        let rows = usize::from(inner.height);
        let offset = (a.note_selected + 1).saturating_sub(rows);
        for (i, n) in a.notifications.iter().enumerate().skip(offset).take(rows) {
            let y = inner.y + u16::try_from(i - offset).unwrap_or(0);
            let line = Rect::new(inner.x, y, inner.width, 1);
            if i == a.note_selected {
                buf.set_style(line, t.selected);
            }
            let unread = n.read_at.is_none();
            let (mark, style) = if unread { ("●", t.warning) } else { (" ", t.dim) };
            let mut x = put(buf, line, inner.x, y, mark, style) + 1;
            x = put(buf, line, x, y, &format!("{:>5}", when(app, n.created_at)), t.dim) + 2;
            if a.settled(n) {
                x = put(buf, line, x, y, text::SETTLED, t.dim) + 2;
            }
            for d in a.deliveries.iter().filter(|d| d.notification == n.id) {
                let style = match d.state {
                    DeliveryState::Failed | DeliveryState::Retrying => t.warning,
                    _ => t.dim,
                };
                x = put(buf, line, x, y, &text::delivery_mark(d), style) + 2;
            }
            let body = if n.body.is_empty() { String::new() } else { format!("  {}", n.body) };
            let room = usize::from(line.right().saturating_sub(x));
            let msg = clip(&format!("{}{body}", n.subject), room);
            put(buf, line, x, y, &msg, if unread { t.text } else { t.dim });
        }
    }
}
