//! The confirm dialog of a decision: what it is about and what confirming does, the comment
//! (or the required reason) being typed, and the answer — "recording...", or the rule that
//! refused it. Nothing is written until Enter.

use super::approvals::context_lines;
use crate::domain::text::sanitize;
use crate::tui::app::{App, Dialog};
use crate::tui::layout::centered;
use crate::tui::strings::gates as text;
use crate::tui::widgets::boxed;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

pub struct DialogOverlay<'a> {
    pub app: &'a App,
    pub dialog: &'a Dialog,
}

impl Widget for DialogOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (app, d, t) = (self.app, self.dialog, &self.app.theme);
        let item = &d.pending.item;
        let w = area.width.saturating_sub(4).min(96);
        let mut lines = vec![Line::from(Span::styled(text::effect(d.decision, item), t.text)), Line::default()];
        // The context, less the line that says what the operator may do (they are doing it).
        let mut context = context_lines(app, &d.pending);
        context.pop();
        lines.extend(context);
        let roles = app.session.config.person(&app.session.operator).map(|p| p.roles.join(", ")).unwrap_or_default();
        lines.push(Line::from(Span::styled(
            format!("as {} ({roles}) · OS account {}", app.session.operator, app.session.os_user),
            t.dim,
        )));
        // Who the decision will notify, from the same rules that will notify them.
        match &d.preview {
            None => lines.push(Line::from(Span::styled(text::PREVIEW_LOADING, t.dim))),
            Some(Err(e)) => {
                lines.push(Line::from(Span::styled(text::PREVIEW_REFUSED, t.dim)));
                lines.push(Line::from(Span::styled(format!("  {}", sanitize(e)), t.dim)));
            }
            Some(Ok(told)) if told.is_empty() => lines.push(Line::from(Span::styled(text::NOBODY_TOLD, t.dim))),
            Some(Ok(told)) => {
                lines.push(Line::from(Span::styled(text::WILL_NOTIFY, t.text)));
                lines.extend(
                    told.iter().map(|x| Line::from(Span::styled(sanitize(&text::told(x)).into_owned(), t.text))),
                );
            }
        }
        // The input, the answer and the keys stay at the bottom whatever the context's length.
        let prompt = if d.reason_required { text::REASON } else { text::COMMENT };
        let cursor = if d.sending { "" } else { "▏" };
        let mut bottom = vec![
            Line::from(Span::styled(prompt, if d.reason_required { t.warning } else { t.dim })),
            Line::from(vec![Span::styled("> ", t.key), Span::styled(format!("{}{cursor}", d.text), t.text)]),
        ];
        if d.sending {
            bottom.push(Line::from(Span::styled(text::SENDING, t.dim)));
        } else if let Some(e) = &d.error {
            bottom.push(Line::from(Span::styled(e.clone(), t.warning)));
        }
        bottom.push(Line::from(Span::styled(text::CONFIRM_HINT, t.key)));
        // As tall as its text, at most the screen.
        let want = rows(&lines, w.saturating_sub(2)) + rows(&bottom, w.saturating_sub(2)) + 3;
        let h = want.min(area.height.saturating_sub(2));
        let title = Line::from(Span::styled(text::dialog_title(d.decision, item.deployment, &item.phase), t.title));
        let inner = boxed(centered(area, w, h), buf, title, t.title, true);
        let bottom_h = rows(&bottom, inner.width).min(inner.height);
        let top = Rect::new(inner.x, inner.y, inner.width, inner.height - bottom_h);
        let low = Rect::new(inner.x, inner.y + top.height, inner.width, bottom_h);
        Paragraph::new(lines).wrap(Wrap { trim: false }).render(top, buf);
        Paragraph::new(bottom).wrap(Wrap { trim: false }).render(low, buf);
    }
}

/// Rows `lines` take when wrapped at `width`.
fn rows(lines: &[Line<'_>], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(w)).sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}
