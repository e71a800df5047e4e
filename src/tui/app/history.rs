//! The History view's state: a window of finished deployments paged from the log, the filter
//! line, the time range, and the failure drill-down of one deployment.
//!
//! History never holds the whole table: it keeps [`WINDOW`] rows around the selection and asks
//! for another page when the selection leaves them.

use crate::domain::DeploymentKey;
use crate::domain::history::{HistoryFilter, HistoryRow, Period};
use crate::domain::report::Report;
use crate::keymap::Action;
use crate::tui::model::Cmd;
pub use crate::tui::model::HistoryPage;
use chrono::TimeDelta;

/// Rows read per page.
pub const WINDOW: usize = crate::tui::model::HISTORY_WINDOW;
/// The time range History starts with: all of it.
const DEFAULT_PRESET: usize = Period::PRESETS.len() - 1;

/// The History view.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The filter in force (the line as typed is in `line`).
    pub filter: HistoryFilter,
    /// Index into [`Period::PRESETS`].
    pub preset: usize,
    /// The rows `offset..offset + rows.len()` of those matching.
    pub rows: Vec<HistoryRow>,
    pub offset: usize,
    pub total: usize,
    /// The selected row, as an index into all matching rows.
    pub selected: usize,
    /// The first row shown.
    pub scroll: usize,
    /// A page arrived at least once.
    pub loaded: bool,
    /// The page last asked for: answers for anything else are stale.
    pub wanted: Option<(HistoryFilter, usize)>,
    /// The filter of the rows shown.
    pub shown: Option<HistoryFilter>,
    /// The filter line is open for typing.
    pub editing: bool,
    pub line: String,
    /// What is wrong with the filter line, if anything.
    pub line_error: Option<String>,
    /// The open drill-down.
    pub drill: Option<Drill>,
    /// The open comparison: the run, its comparison (or why there is none) once read, and the
    /// lines scrolled down.
    pub compare: Option<CompareView>,
}

/// A run against its previous run, as History shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareView {
    pub key: DeploymentKey,
    pub data: Option<Result<Box<crate::domain::compare::Comparison>, String>>,
    pub scroll: usize,
}

/// The failure drill-down of one deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    pub key: DeploymentKey,
    pub report: Option<Box<Report>>,
    /// Lines scrolled down.
    pub scroll: usize,
    /// A review the editor left invalid: the text as written and what is wrong with it. `w`
    /// opens the editor on it again, so nothing the author wrote is lost.
    pub draft: Option<(String, String)>,
}

impl Default for History {
    fn default() -> Self {
        Self {
            filter: HistoryFilter { period: period_of(DEFAULT_PRESET), ..HistoryFilter::default() },
            preset: DEFAULT_PRESET,
            rows: Vec::new(),
            offset: 0,
            total: 0,
            selected: 0,
            scroll: 0,
            loaded: false,
            wanted: None,
            shown: None,
            editing: false,
            line: String::new(),
            line_error: None,
            drill: None,
            compare: None,
        }
    }
}

fn period_of(preset: usize) -> Period {
    match Period::PRESETS.get(preset).and_then(|(_, days)| *days) {
        Some(days) => Period::Last(TimeDelta::days(days)),
        None => Period::All,
    }
}

/// How many lines the drill-down of `r` has, before wrapping: its sections, headings and gaps.
fn report_lines(r: &Report) -> usize {
    let review = r.review.as_ref().map_or(1, |v| 3 + v.content.actions.len());
    r.timeline.len()
        + 2 * r.error_groups.len().max(1)
        + r.step_durations.len()
        + r.decisions.len().max(1)
        + r.notifications.len().max(1)
        + usize::from(!r.silent_hosts.is_empty()) * 3
        + review
        + 14
}

impl History {
    /// The first page, when History is opened and nothing was asked yet.
    pub fn open(&mut self) -> Vec<Cmd> {
        if self.wanted.is_some() { Vec::new() } else { self.ask(0) }
    }

    /// The label of the time range in force.
    #[must_use]
    pub fn period_label(&self) -> &'static str {
        if matches!(self.filter.period, Period::Between(..)) {
            return "dates";
        }
        Period::PRESETS.get(self.preset).map_or("all", |(label, _)| label)
    }

    /// Asks for the page that holds row `around`.
    fn ask(&mut self, around: usize) -> Vec<Cmd> {
        let offset = around.saturating_sub(WINDOW / 2);
        self.wanted = Some((self.filter.clone(), offset));
        vec![Cmd::LoadHistory(self.filter.clone(), offset)]
    }

    /// A page arrived: kept when it is the one last asked for.
    pub fn apply(&mut self, page: HistoryPage, rows_shown: usize) {
        if self.wanted.as_ref().is_some_and(|(f, o)| *f != page.filter || *o != page.offset) {
            return;
        }
        // The log changed under the same filter: the selection stays on its deployment, by key,
        // though newer rows moved it down.
        let was = self.current().map(|r| r.key).filter(|_| self.shown.as_ref() == Some(&page.filter));
        self.loaded = true;
        self.total = page.total;
        self.offset = page.offset;
        self.rows = page.rows;
        self.shown = Some(page.filter);
        if let Some(i) = was.and_then(|k| self.rows.iter().position(|r| r.key == k)) {
            self.selected = self.offset + i;
        }
        self.selected = self.selected.min(self.total.saturating_sub(1));
        self.keep_in_view(rows_shown);
    }

    /// The row selected, when it is in the window.
    #[must_use]
    pub fn current(&self) -> Option<&HistoryRow> {
        self.selected.checked_sub(self.offset).and_then(|i| self.rows.get(i))
    }

    /// Keeps the selection on screen, filling the screen when it can.
    pub fn keep_in_view(&mut self, rows_shown: usize) {
        let rows = rows_shown.max(1);
        if self.selected < self.scroll {
            self.scroll = self.selected;
        } else if self.selected >= self.scroll + rows {
            self.scroll = self.selected + 1 - rows;
        }
        self.scroll = self.scroll.min(self.total.saturating_sub(rows));
    }

    /// Moves the selection; asks for another page when it leaves the window.
    pub fn navigate(&mut self, action: Action, rows_shown: usize) -> Vec<Cmd> {
        if let Some(c) = self.compare.as_mut() {
            let last =
                c.data.as_ref().and_then(|d| d.as_ref().ok()).map_or(0, |d| crate::domain::compare::lines(d).len());
            c.scroll = match action {
                Action::Up => c.scroll.saturating_sub(1),
                Action::Down => c.scroll + 1,
                Action::PageUp => c.scroll.saturating_sub(rows_shown.max(1)),
                Action::PageDown => c.scroll + rows_shown.max(1),
                Action::Top => 0,
                _ => c.scroll,
            }
            .min(last.saturating_sub(1));
            return Vec::new();
        }
        if let Some(d) = self.drill.as_mut() {
            // Never past the last line (the report's lines, without their wrapping).
            let last = d.report.as_deref().map_or(0, report_lines).saturating_sub(1);
            d.scroll = match action {
                Action::Up => d.scroll.saturating_sub(1),
                Action::Down => d.scroll + 1,
                Action::PageUp => d.scroll.saturating_sub(rows_shown.max(1)),
                Action::PageDown => d.scroll + rows_shown.max(1),
                Action::Top => 0,
                Action::Bottom => last,
                _ => d.scroll,
            }
            .min(last);
            return Vec::new();
        }
        let last = self.total.saturating_sub(1);
        let page = rows_shown.max(1);
        self.selected = match action {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => (self.selected + 1).min(last),
            Action::PageUp => self.selected.saturating_sub(page),
            Action::PageDown => (self.selected + page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => return Vec::new(),
        };
        self.keep_in_view(rows_shown);
        // Rows on screen must be in the window: ask when the screen runs past it.
        let in_window = |i: usize| i >= self.offset && i < self.offset + self.rows.len();
        let bottom = (self.scroll + page).min(self.total).saturating_sub(1);
        if self.total > 0 && !(in_window(self.scroll) && in_window(bottom)) {
            return self.ask(self.selected);
        }
        Vec::new()
    }

    /// Sets the time range to one of [`Period::PRESETS`] (the filter line is read again by
    /// whoever sets it next).
    pub fn set_preset(&mut self, preset: usize) {
        self.preset = preset.min(Period::PRESETS.len() - 1);
        self.filter.period = period_of(self.preset);
    }

    /// The next time range.
    pub fn next_period(&mut self) -> Vec<Cmd> {
        self.preset = (self.preset + 1) % Period::PRESETS.len();
        self.filter.period = period_of(self.preset);
        self.refilter()
    }

    fn refilter(&mut self) -> Vec<Cmd> {
        self.selected = 0;
        self.scroll = 0;
        self.ask(0)
    }

    /// The filter line changed: applied when it reads, else its error is shown.
    pub fn set_line(&mut self, line: String) -> Vec<Cmd> {
        self.line = line;
        match HistoryFilter::parse_line(&self.line, period_of(self.preset)) {
            Ok(filter) => {
                self.line_error = None;
                if filter == self.filter {
                    return Vec::new();
                }
                self.filter = filter;
                self.refilter()
            }
            Err(e) => {
                self.line_error = Some(e);
                Vec::new()
            }
        }
    }

    /// Opens the drill-down of the selected deployment (or of `key`).
    pub fn drill(&mut self, key: Option<DeploymentKey>) -> Vec<Cmd> {
        let Some(key) = key.or_else(|| self.current().map(|r| r.key)) else { return Vec::new() };
        if self.drill.as_ref().is_none_or(|d| d.key != key) {
            self.drill = Some(Drill { key, report: None, scroll: 0, draft: None });
        }
        vec![Cmd::LoadReport(key)]
    }

    /// `c`: the selected run (or the drill-down's) against its previous run.
    pub fn compare(&mut self) -> Vec<Cmd> {
        let key = self.drill.as_ref().map(|d| d.key).or_else(|| self.current().map(|r| r.key));
        let Some(key) = key else { return Vec::new() };
        self.compare = Some(CompareView { key, data: None, scroll: 0 });
        vec![Cmd::LoadCompare(key)]
    }

    /// A comparison arrived: shown when it is the open one's.
    pub fn apply_compare(&mut self, key: DeploymentKey, data: Result<Box<crate::domain::compare::Comparison>, String>) {
        if let Some(c) = self.compare.as_mut().filter(|c| c.key == key) {
            c.data = Some(data);
        }
    }

    /// A report arrived: shown when it is the drill-down's.
    pub fn apply_report(&mut self, report: Box<Report>) {
        if let Some(d) = self.drill.as_mut().filter(|d| d.key == report.deployment.key) {
            d.report = Some(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DeploymentStatus;
    use crate::domain::history::ReviewState;

    fn row(key: i64) -> HistoryRow {
        let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("valid");
        HistoryRow {
            key: DeploymentKey(key),
            release: format!("svc-{key}"),
            version: "1.0.0".into(),
            environment: "production".into(),
            model: "phased".into(),
            requested_by: "dana".into(),
            result: DeploymentStatus::Succeeded,
            started_at: Some(at),
            finished_at: at,
            duration_s: 60,
            hosts_failed: 0,
            hosts_total: 4,
            review: ReviewState::NotNeeded,
        }
    }

    fn page(h: &History, keys: &[i64]) -> HistoryPage {
        HistoryPage {
            filter: h.filter.clone(),
            offset: 0,
            rows: keys.iter().map(|k| row(*k)).collect(),
            total: keys.len(),
        }
    }

    /// Regression: a deployment finishing while History was open moved every row down one and
    /// the cursor, an index, onto the next deployment.
    #[test]
    fn history_keeps_the_selection_on_its_deployment_when_newer_rows_arrive() {
        let mut h = History::default();
        h.open();
        h.apply(page(&h, &[3, 2, 1]), 10);
        h.navigate(Action::Down, 10);
        assert_eq!(h.current().map(|r| r.key), Some(DeploymentKey(2)));
        h.apply(page(&h, &[5, 4, 3, 2, 1]), 10);
        assert_eq!(h.current().map(|r| r.key), Some(DeploymentKey(2)), "still on DEP-2, now the fourth row");
        // A new filter starts from its first row.
        let cmds = h.set_line("env=staging".into());
        assert!(!cmds.is_empty());
        h.apply(page(&h, &[4, 2]), 10);
        assert_eq!(h.selected, 0);
    }
}
