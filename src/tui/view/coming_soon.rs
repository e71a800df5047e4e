//! The placeholder of a view that is not built yet, saying what it will show.

use crate::tui::layout::centered;
use crate::tui::strings;
use crate::tui::theme::Theme;
use crate::tui::widgets::boxed;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

pub struct ComingSoon<'a> {
    /// The tab's index (see [`strings::TAB_TITLES`]).
    pub tab: usize,
    pub theme: &'a Theme,
}

impl Widget for ComingSoon<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (title, text) = strings::coming_soon(self.tab);
        let boxed_area = centered(area, 70, 8);
        let inner = boxed(
            boxed_area,
            buf,
            Line::from(Span::styled(format!(" {title} "), self.theme.title)),
            self.theme.border,
            false,
        );
        Paragraph::new(text).style(self.theme.text).wrap(Wrap { trim: true }).render(inner, buf);
    }
}
