//! The host heatmap: one cell per target, coloured and marked by a symbol for its state.
//!
//! Targets fill the grid row by row in plan order (so phases follow each other). Only the rows
//! on screen are visited; a silent host (an agent that went quiet) is told apart from a failed
//! one by the time its agent was last heard of.

use crate::domain::TargetStatus;
use crate::domain::records::TargetView;
use crate::tui::theme::{HostState, Theme};
use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

/// A target's state in the heatmap: its status, or silent when its agent has gone quiet.
///
/// Silent: running, or pending with events, and last heard of before `silent_before`.
#[must_use]
pub fn host_state(t: &TargetView, silent_before: DateTime<Utc>) -> HostState {
    let quiet = t.seen_at.is_some_and(|seen| seen < silent_before);
    match t.status {
        TargetStatus::Running | TargetStatus::Pending if quiet => HostState::Silent,
        TargetStatus::Pending => HostState::Pending,
        TargetStatus::Running => HostState::Running,
        TargetStatus::Succeeded => HostState::Succeeded,
        TargetStatus::Failed | TargetStatus::Lost => HostState::Failed,
    }
}

/// How many targets are in each state, in [`HostState::ALL`] order.
#[must_use]
pub fn tally(targets: &[TargetView], silent_before: DateTime<Utc>) -> [usize; 5] {
    let mut counts = [0; 5];
    for t in targets {
        let state = host_state(t, silent_before);
        if let Some(i) = HostState::ALL.iter().position(|s| *s == state) {
            counts[i] += 1;
        }
    }
    counts
}

/// The grid of hosts.
pub struct Heatmap<'a> {
    pub targets: &'a [TargetView],
    /// The highlighted target, when the heatmap has focus.
    pub cursor: Option<usize>,
    /// First grid row drawn.
    pub offset_rows: usize,
    pub silent_before: DateTime<Utc>,
    pub theme: &'a Theme,
}

impl Widget for Heatmap<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let cols = usize::from(area.width);
        if cols == 0 || area.height == 0 {
            return;
        }
        let first = self.offset_rows.saturating_mul(cols);
        let mut symbol = [0u8; 4];
        for (row, y) in (area.top()..area.bottom()).enumerate() {
            let start = first + row * cols;
            if start >= self.targets.len() {
                break;
            }
            let end = (start + cols).min(self.targets.len());
            for (i, t) in self.targets[start..end].iter().enumerate() {
                let state = host_state(t, self.silent_before);
                let mut style = self.theme.host(state);
                if self.cursor == Some(start + i) {
                    style = style.patch(self.theme.cursor);
                }
                let x = area.x + u16::try_from(i).unwrap_or(0);
                buf[(x, y)].set_symbol(state.symbol().encode_utf8(&mut symbol)).set_style(style);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn target(status: TargetStatus, seen_secs_ago: Option<i64>, now: DateTime<Utc>) -> TargetView {
        TargetView {
            name: "web-01".into(),
            phase: "pilot".into(),
            status,
            last_step: None,
            last_status: None,
            last_message: None,
            last_error: None,
            last_at: None,
            seen_at: seen_secs_ago.map(|s| now - TimeDelta::seconds(s)),
            labels: Default::default(),
        }
    }

    #[test]
    fn a_quiet_running_host_is_silent_but_a_quiet_failed_one_stays_failed() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        let before = now - TimeDelta::minutes(2);
        assert_eq!(host_state(&target(TargetStatus::Running, Some(30), now), before), HostState::Running);
        assert_eq!(host_state(&target(TargetStatus::Running, Some(300), now), before), HostState::Silent);
        assert_eq!(host_state(&target(TargetStatus::Pending, Some(300), now), before), HostState::Silent);
        assert_eq!(host_state(&target(TargetStatus::Pending, None, now), before), HostState::Pending);
        assert_eq!(host_state(&target(TargetStatus::Failed, Some(300), now), before), HostState::Failed);
        assert_eq!(host_state(&target(TargetStatus::Succeeded, Some(900), now), before), HostState::Succeeded);
    }

    #[test]
    fn cells_fill_rows_from_the_offset_and_stop_at_the_last_target() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        let mut targets: Vec<TargetView> = (0..7).map(|_| target(TargetStatus::Pending, None, now)).collect();
        targets[4].status = TargetStatus::Failed;
        targets[6].status = TargetStatus::Succeeded;
        let theme = Theme::mono();
        let mut buf = Buffer::empty(Rect::new(0, 0, 3, 2));
        Heatmap { targets: &targets, cursor: None, offset_rows: 1, silent_before: now, theme: &theme }
            .render(buf.area, &mut buf);
        assert_eq!(buf.content().iter().map(|c| c.symbol()).collect::<String>(), "·✗·✓  ");
    }
}
