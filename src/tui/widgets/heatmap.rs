//! The host heatmap: one cell per target, coloured and marked by a symbol for its state.
//!
//! Targets fill the grid row by row in plan order (so phases follow each other), or, grouped by
//! a label (`g` cycles it), one block of rows per value of the label with the value in front
//! (`r1  ✓✓●··`), so a rack or a site that loses too many hosts at once stands out. Only the
//! rows on screen are visited; a silent host (an agent that went quiet) is told apart from a
//! failed one by the time its agent was last heard of.

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

/// What a target without the grouping label is grouped under.
pub const NO_LABEL: &str = "-";

/// One drawn row of a heatmap grouped by a label: the group's value on its first row, and the
/// targets (indices into the target list) drawn on it, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub label: Option<String>,
    pub members: Vec<usize>,
}

/// The columns the group values take in front of the cells (at most 12, then a space).
#[must_use]
pub fn label_width(targets: &[TargetView], key: &str) -> usize {
    targets.iter().map(|t| t.labels.get(key).map_or(NO_LABEL.len(), |v| v.chars().count())).max().unwrap_or(0).min(12)
        + 1
}

/// The rows of the heatmap grouped by label `key` on an area `width` columns wide: the groups
/// in order of their values (targets without the label last, as `-`), each starting a row.
#[must_use]
pub fn grouped_rows(targets: &[TargetView], key: &str, width: usize) -> Vec<GroupRow> {
    let cells = width.saturating_sub(label_width(targets, key)).max(1);
    let mut groups: std::collections::BTreeMap<(bool, &str), Vec<usize>> = std::collections::BTreeMap::new();
    for (i, t) in targets.iter().enumerate() {
        let value = t.labels.get(key).map(String::as_str);
        groups.entry((value.is_none(), value.unwrap_or(NO_LABEL))).or_default().push(i);
    }
    let mut rows = Vec::new();
    for ((_, value), members) in groups {
        for (n, chunk) in members.chunks(cells).enumerate() {
            rows.push(GroupRow { label: (n == 0).then(|| value.to_owned()), members: chunk.to_vec() });
        }
    }
    rows
}

/// Where target `index` is in grouped rows: (row, position in the row).
#[must_use]
pub fn find_in_rows(rows: &[GroupRow], index: usize) -> Option<(usize, usize)> {
    rows.iter().enumerate().find_map(|(r, row)| row.members.iter().position(|&m| m == index).map(|c| (r, c)))
}

/// The grid of hosts grouped by a label, one block of rows per value (see [`grouped_rows`]).
pub struct GroupedHeatmap<'a> {
    pub targets: &'a [TargetView],
    pub rows: &'a [GroupRow],
    /// Columns of the group values in front of the cells.
    pub label_width: usize,
    pub cursor: Option<usize>,
    pub offset_rows: usize,
    pub silent_before: DateTime<Utc>,
    pub theme: &'a Theme,
}

impl Widget for GroupedHeatmap<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let mut symbol = [0u8; 4];
        let label_w = u16::try_from(self.label_width).unwrap_or(0).min(area.width);
        for (row, y) in self.rows.iter().skip(self.offset_rows).zip(area.top()..area.bottom()) {
            if let Some(label) = &row.label {
                // Label values come from inventories: drawn through the one sanitising `put`.
                let cell = Rect::new(area.x, y, label_w.saturating_sub(1), 1);
                super::put(buf, cell, area.x, y, label, self.theme.dim);
            }
            for (i, &m) in row.members.iter().enumerate() {
                let x = area.x + label_w + u16::try_from(i).unwrap_or(u16::MAX);
                if x >= area.right() {
                    break;
                }
                let Some(t) = self.targets.get(m) else { continue };
                let state = host_state(t, self.silent_before);
                let mut style = self.theme.host(state);
                if self.cursor == Some(m) {
                    style = style.patch(self.theme.cursor);
                }
                buf[(x, y)].set_symbol(state.symbol().encode_utf8(&mut symbol)).set_style(style);
            }
        }
    }
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

    fn on_rack(status: TargetStatus, rack: Option<&str>, now: DateTime<Utc>) -> TargetView {
        let mut t = target(status, None, now);
        if let Some(r) = rack {
            t.labels.insert("rack".into(), r.into());
        }
        t
    }

    #[test]
    fn grouped_by_a_label_each_value_starts_a_row_with_its_name_and_wraps_within() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        let s = TargetStatus::Succeeded;
        let f = TargetStatus::Failed;
        let p = TargetStatus::Pending;
        // Plan order interleaves the racks; r10 has five hosts, one host has no rack.
        let targets = vec![
            on_rack(s, Some("r10"), now),
            on_rack(f, Some("r2"), now),
            on_rack(s, Some("r10"), now),
            on_rack(p, None, now),
            on_rack(f, Some("r2"), now),
            on_rack(s, Some("r10"), now),
            on_rack(p, Some("r10"), now),
            on_rack(p, Some("r10"), now),
        ];
        let rows = grouped_rows(&targets, "rack", 8);
        assert_eq!(label_width(&targets, "rack"), 4);
        let shape: Vec<(Option<&str>, Vec<usize>)> =
            rows.iter().map(|r| (r.label.as_deref(), r.members.clone())).collect();
        assert_eq!(
            shape,
            vec![(Some("r10"), vec![0, 2, 5, 6]), (None, vec![7]), (Some("r2"), vec![1, 4]), (Some("-"), vec![3])],
            "values in order, four cells a row, hosts without the label last"
        );
        assert_eq!(find_in_rows(&rows, 7), Some((1, 0)));
        let theme = Theme::mono();
        let mut buf = Buffer::empty(Rect::new(0, 0, 8, 4));
        GroupedHeatmap {
            targets: &targets,
            rows: &rows,
            label_width: 4,
            cursor: None,
            offset_rows: 0,
            silent_before: now,
            theme: &theme,
        }
        .render(buf.area, &mut buf);
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert_eq!(text, ["r10 ✓✓✓·", "    ·   ", "r2  ✗✗  ", "-   ·   "].concat());
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
