//! Where things go on screen: the frame's areas and the Live screen's parts, at a given size.
//! Used by the state (to keep the selection in view) and by the views (to draw); depends on
//! neither.

use ratatui::layout::Rect;

/// The smallest terminal the screens are drawn in: (columns, rows).
pub const MIN_SIZE: (u16, u16) = (50, 12);

/// The frame's areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenLayout {
    pub header: Rect,
    pub tabs: Rect,
    pub body: Rect,
    pub footer: Rect,
}

/// Splits the terminal: a header line, a tab line, the body and a footer line.
#[must_use]
pub fn screen_layout(area: Rect) -> ScreenLayout {
    let line = |y: u16| Rect::new(area.x, y, area.width, 1.min(area.height));
    let body_h = area.height.saturating_sub(3);
    ScreenLayout {
        header: line(area.y),
        tabs: line(area.y + 1.min(area.height)),
        body: Rect::new(area.x, area.y + 2.min(area.height), area.width, body_h),
        footer: line(area.y + area.height.saturating_sub(1)),
    }
}

/// Rows of History's list in a body of this size: the box's borders, the filter bar and the
/// column titles take four.
#[must_use]
pub fn history_rows(body: Rect) -> usize {
    usize::from(body.height.saturating_sub(4))
}

/// Where the Live screen's parts go at a given body size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Geometry {
    pub list: Rect,
    pub title: Rect,
    pub pipeline: Rect,
    pub hosts: Rect,
    pub events: Rect,
    /// Deployment rows that fit in the list.
    pub list_rows: usize,
    /// Heatmap grid size in cells.
    pub host_cols: usize,
    pub host_rows: usize,
    /// Event lines that fit in the tail.
    pub tail_rows: usize,
}

impl Geometry {
    /// The layout of a body area for a list of `rows` deployments.
    #[must_use]
    pub fn of(body: Rect, rows: usize) -> Self {
        let want = u16::try_from(rows.max(1) + 3).unwrap_or(u16::MAX);
        let list_h = want.clamp(5, (body.height * 2 / 5).max(5)).min(body.height);
        let list = Rect::new(body.x, body.y, body.width, list_h);
        let rest = body.height - list_h;
        let mut y = body.y + list_h;
        let title = Rect::new(body.x, y, body.width, rest.min(1));
        y += title.height;
        let pipeline_h = if rest >= 8 { 2 } else { 0 };
        let pipeline = Rect::new(body.x + 1, y, body.width.saturating_sub(2), pipeline_h);
        y += pipeline_h;
        let boxes_h = body.bottom().saturating_sub(y);
        let hosts_w = (body.width * 45 / 100).max(12).min(body.width);
        let hosts = Rect::new(body.x, y, hosts_w, boxes_h);
        let events = Rect::new(body.x + hosts_w, y, body.width - hosts_w, boxes_h);
        let inner_h = usize::from(boxes_h.saturating_sub(2));
        Self {
            list,
            title,
            pipeline,
            hosts,
            events,
            list_rows: usize::from(list_h.saturating_sub(3)),
            host_cols: usize::from(hosts_w.saturating_sub(2)),
            host_rows: if inner_h >= 2 { inner_h - 1 } else { inner_h },
            tail_rows: inner_h,
        }
    }
}

/// A rectangle of at most `w` x `h` centred in `area`.
#[must_use]
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}
