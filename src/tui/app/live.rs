//! State of the Live rollouts view: the deployment list, the selected deployment's detail
//! (phases, targets, event tail) and the navigation between them.

use crate::domain::DeploymentKey;
use crate::domain::records::{DeploymentSummary, PhaseView, StoredEvent, TargetView};
use crate::keymap::Action;
use crate::tui::layout::Geometry;
use crate::tui::model::Cmd;
use crate::tui::model::list_order;
use crate::tui::model::{DetailUpdate, Refresh, TAIL_CAP};
use crate::tui::widgets::heatmap::{GroupRow, find_in_rows, grouped_rows};
use std::collections::{HashMap, VecDeque};

/// Which pane of the Live view the arrows move in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Focus {
    #[default]
    List,
    Hosts,
}

/// The column the Live list is sorted by; the sort key cycles them in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortBy {
    /// Running first, then waiting, planned and finished ones; newest first within.
    #[default]
    Status,
    /// Newest first.
    Key,
    /// By name, then version, newest first.
    Release,
    Environment,
    /// Most failed hosts first.
    Failed,
}

impl SortBy {
    pub const ALL: [Self; 5] = [Self::Status, Self::Key, Self::Release, Self::Environment, Self::Failed];

    #[must_use]
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    /// Its name as the title and the help say it.
    #[must_use]
    pub fn label(self) -> &'static str {
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        crate::tui::strings::SORT_LABELS[i]
    }

    fn compare(self, a: &DeploymentSummary, b: &DeploymentSummary) -> std::cmp::Ordering {
        let then = list_order(a).cmp(&list_order(b));
        match self {
            Self::Status => then,
            Self::Key => b.key.cmp(&a.key),
            Self::Release => (a.release.as_str(), a.version.as_str())
                .cmp(&(b.release.as_str(), b.version.as_str()))
                .then(b.key.cmp(&a.key)),
            Self::Environment => a.environment.cmp(&b.environment).then(then),
            Self::Failed => b.failed.cmp(&a.failed).then(then),
        }
    }
}

/// The Live view's state.
#[derive(Debug, Default)]
pub struct Live {
    /// The column the list is sorted by.
    pub sort: SortBy,
    /// Every listed deployment, running first.
    pub deployments: Vec<DeploymentSummary>,
    /// Indices into `deployments` that pass the filter.
    pub shown: Vec<usize>,
    pub selected: Option<DeploymentKey>,
    /// First list row on screen.
    pub list_offset: usize,
    pub filter: String,
    pub filtering: bool,
    pub focus: Focus,
    pub detail: Option<Detail>,
    /// The opened target, over the detail.
    pub target: Option<TargetPane>,
    /// The label the heatmap is grouped by (`g` cycles: none, then each label the targets carry).
    pub group_by: Option<String>,
}

/// The selected deployment in detail.
#[derive(Debug, Clone)]
pub struct Detail {
    pub key: DeploymentKey,
    pub phases: Vec<PhaseView>,
    /// Every target, in phase and plan order.
    pub targets: Vec<TargetView>,
    index: HashMap<String, usize>,
    /// The heatmap cursor, an index into `targets`.
    pub cursor: usize,
    /// First heatmap row on screen.
    pub host_offset: usize,
    /// The newest events (at most [`TAIL_CAP`]), oldest first.
    pub tail: VecDeque<StoredEvent>,
    /// Lines scrolled up from the newest event (0: following live).
    pub tail_scroll: usize,
    /// Events that arrived while scrolled up.
    pub unseen: usize,
    /// Too many events arrived while scrolled up to keep the tail contiguous: the tail stays
    /// as the user sees it and is reloaded when they follow again.
    pub stale: bool,
    /// Its release record, checklist and conformance flags.
    pub verification: crate::domain::records::Verification,
    /// A canary's analysis, as of the last read.
    pub analysis: Option<crate::store::AnalysisState>,
    /// Its switch-over (parallel) and whether it is a supervised run.
    pub shape: crate::tui::model::Shape,
}

/// One target opened with Enter.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPane {
    pub name: String,
    /// `None` until loaded.
    pub events: Option<Vec<StoredEvent>>,
    /// Lines scrolled up from the newest event.
    pub scroll: usize,
}

impl Detail {
    fn new(key: DeploymentKey) -> Self {
        Self {
            key,
            phases: Vec::new(),
            targets: Vec::new(),
            index: HashMap::new(),
            cursor: 0,
            host_offset: 0,
            tail: VecDeque::new(),
            tail_scroll: 0,
            unseen: 0,
            stale: false,
            verification: crate::domain::records::Verification::default(),
            analysis: None,
            shape: crate::tui::model::Shape::default(),
        }
    }

    /// The target with this name.
    #[must_use]
    pub fn target_named(&self, name: &str) -> Option<&TargetView> {
        self.index.get(name).and_then(|&i| self.targets.get(i))
    }

    /// The target under the heatmap cursor.
    #[must_use]
    pub fn cursor_target(&self) -> Option<&TargetView> {
        self.targets.get(self.cursor)
    }
}

impl Live {
    /// The selected deployment's summary.
    #[must_use]
    pub fn summary(&self) -> Option<&DeploymentSummary> {
        let key = self.selected?;
        self.deployments.iter().find(|d| d.key == key)
    }

    /// Position of the selection among the shown rows.
    #[must_use]
    pub fn selected_row(&self) -> Option<usize> {
        let key = self.selected?;
        self.shown.iter().position(|&i| self.deployments[i].key == key)
    }

    pub(super) fn apply(&mut self, r: Refresh, g: &Geometry) -> Vec<Cmd> {
        let mut reorder = false;
        if let Some(list) = r.list {
            self.deployments = list;
            reorder = true;
        }
        for s in r.changed {
            match self.deployments.iter_mut().find(|d| d.key == s.key) {
                Some(d) => *d = s,
                None => self.deployments.push(s),
            }
            reorder = true;
        }
        let detail_key = r.detail.as_ref().map(|d| d.key);
        let mut cmds = Vec::new();
        if reorder {
            // The selection is a key, so it stays on its deployment wherever the sort moves it.
            let sort = self.sort;
            self.deployments.sort_by(|a, b| sort.compare(a, b));
            cmds = self.refilter(detail_key);
        }
        if let Some(d) = r.detail.filter(|d| Some(d.key) == self.selected) {
            self.apply_detail(d);
        }
        if let (Some(t), Some(pane)) = (r.target, self.target.as_mut()) {
            if Some(t.key) == self.selected && t.name == pane.name {
                let mut events = t.events;
                events.sort_by_key(StoredEvent::time_order);
                pane.events = Some(events);
            }
        }
        self.keep_in_view(g);
        cmds
    }

    /// Shows a replayed state as the detail: its phases, the targets it hands over (all of them,
    /// or those that changed) and the whole tail.
    pub(super) fn show_replayed(&mut self, d: DetailUpdate) {
        self.target = None;
        let detail = match &mut self.detail {
            Some(det) if det.key == d.key => det,
            slot => slot.insert(Detail::new(d.key)),
        };
        detail.phases = d.phases;
        detail.verification = d.verification;
        if d.all_targets {
            detail.index = d.targets.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
            detail.targets = d.targets;
            detail.cursor = detail.cursor.min(detail.targets.len().saturating_sub(1));
        } else {
            for t in d.targets {
                if let Some(&i) = detail.index.get(&t.name) {
                    detail.targets[i] = t;
                }
            }
        }
        detail.tail = d.events.into();
        detail.tail_scroll = 0;
        detail.unseen = 0;
        detail.stale = false;
    }

    fn apply_detail(&mut self, d: DetailUpdate) {
        let detail = match &mut self.detail {
            Some(det) if det.key == d.key => det,
            slot => {
                self.target = None;
                self.focus = Focus::List;
                slot.insert(Detail::new(d.key))
            }
        };
        detail.phases = d.phases;
        detail.verification = d.verification;
        detail.analysis = d.analysis;
        detail.shape = d.shape;
        if d.all_targets {
            detail.index = d.targets.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
            detail.targets = d.targets;
            detail.cursor = detail.cursor.min(detail.targets.len().saturating_sub(1));
        } else {
            for t in d.targets {
                match detail.index.get(&t.name) {
                    Some(&i) => detail.targets[i] = t,
                    None => {
                        detail.index.insert(t.name.clone(), detail.targets.len());
                        detail.targets.push(t);
                    }
                }
            }
        }
        if !d.all_targets && (detail.stale || (d.reset_tail && detail.tail_scroll > 0)) {
            detail.stale = true;
            detail.unseen += d.new_events;
            return;
        }
        if d.reset_tail {
            detail.tail.clear();
            detail.tail_scroll = 0;
            detail.unseen = 0;
        }
        // The tail is in time order, so the newest arrival is not necessarily last.
        let newest = detail.tail.iter().map(|e| e.seq).max().unwrap_or(0);
        let fresh: Vec<StoredEvent> = d.events.into_iter().filter(|e| e.seq > newest).collect();
        if detail.tail_scroll > 0 {
            detail.tail_scroll += fresh.len();
            detail.unseen += fresh.len();
        }
        if let Some(pane) = self.target.as_mut() {
            if let Some(events) = pane.events.as_mut() {
                events.extend(fresh.iter().filter(|e| e.target.as_deref() == Some(pane.name.as_str())).cloned());
                events.sort_by_key(StoredEvent::time_order);
                let excess = events.len().saturating_sub(crate::tui::model::TARGET_EVENTS);
                events.drain(..excess);
            }
        }
        detail.tail.extend(fresh);
        detail.tail.make_contiguous().sort_by_key(StoredEvent::time_order);
        while detail.tail.len() > TAIL_CAP {
            detail.tail.pop_front();
        }
        detail.tail_scroll = detail.tail_scroll.min(detail.tail.len());
    }

    /// Recomputes the shown rows; keeps the selection, or selects the first row if it vanished.
    fn refilter(&mut self, arriving: Option<DeploymentKey>) -> Vec<Cmd> {
        let needle = self.filter.to_lowercase();
        self.shown = (0..self.deployments.len()).filter(|&i| matches(&self.deployments[i], &needle)).collect();
        if self.selected_row().is_some() {
            return Vec::new();
        }
        let first = self.shown.first().map(|&i| self.deployments[i].key);
        self.select(first, arriving)
    }

    fn select(&mut self, key: Option<DeploymentKey>, arriving: Option<DeploymentKey>) -> Vec<Cmd> {
        if key == self.selected {
            return Vec::new();
        }
        self.selected = key;
        self.target = None;
        self.focus = Focus::List;
        if self.detail.as_ref().map(|d| d.key) != key {
            self.detail = None;
        }
        if key.is_some() && key == arriving { Vec::new() } else { vec![Cmd::Select(key)] }
    }

    pub(super) fn set_filter(&mut self, text: String, g: &Geometry) -> Vec<Cmd> {
        self.filter = text;
        let cmds = self.refilter(None);
        self.keep_in_view(g);
        cmds
    }

    /// Selects a deployment (clearing a filter that hides it), as when coming from another view.
    pub(crate) fn show(&mut self, key: DeploymentKey, g: &Geometry) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        if !self.filter.is_empty() && !self.shown.iter().any(|&i| self.deployments[i].key == key) {
            self.filtering = false;
            cmds = self.set_filter(String::new(), g);
        }
        if self.deployments.iter().any(|d| d.key == key) {
            cmds = self.select(Some(key), None);
        }
        self.keep_in_view(g);
        cmds
    }

    /// The sort key: the next column; the selection stays on its deployment.
    pub(super) fn cycle_sort(&mut self, g: &Geometry) -> Vec<Cmd> {
        self.sort = self.sort.next();
        let sort = self.sort;
        self.deployments.sort_by(|a, b| sort.compare(a, b));
        let cmds = self.refilter(None);
        self.keep_in_view(g);
        cmds
    }

    /// The heatmap's rows when it is grouped by a label (`None`: plain rows of `host_cols`).
    #[must_use]
    pub fn group_rows(&self, g: &Geometry) -> Option<Vec<GroupRow>> {
        let key = self.group_by.as_deref()?;
        let d = self.detail.as_ref()?;
        Some(grouped_rows(&d.targets, key, g.host_cols.max(1)))
    }

    /// `g`: groups the heatmap by the next label the selected deployment's targets carry, in
    /// name order, then back to no grouping. The cursor stays on its target.
    pub(super) fn cycle_group(&mut self, g: &Geometry) {
        let keys: std::collections::BTreeSet<&str> = self
            .detail
            .iter()
            .flat_map(|d| d.targets.iter().flat_map(|t| t.labels.keys().map(String::as_str)))
            .collect();
        let next = match &self.group_by {
            None => keys.iter().next(),
            Some(current) => keys.iter().find(|k| **k > current.as_str()),
        };
        self.group_by = next.map(|k| (*k).to_owned());
        if let Some(d) = self.detail.as_mut() {
            d.host_offset = 0;
        }
        self.keep_in_view(g);
    }

    /// Moves the list and heatmap windows so the selection and the cursor are on screen.
    pub(super) fn keep_in_view(&mut self, g: &Geometry) {
        let row = self.selected_row().unwrap_or(0);
        self.list_offset = window(self.list_offset, row, g.list_rows, self.shown.len());
        let grouped = self.group_rows(g);
        if let Some(d) = self.detail.as_mut() {
            let cols = g.host_cols.max(1);
            let (cursor_row, rows) = match &grouped {
                Some(rows) => (find_in_rows(rows, d.cursor).map_or(0, |(r, _)| r), rows.len()),
                None => (d.cursor / cols, d.targets.len().div_ceil(cols)),
            };
            d.host_offset = window(d.host_offset, cursor_row, g.host_rows, rows);
            d.tail_scroll = d.tail_scroll.min(d.tail.len().saturating_sub(g.tail_rows));
            if d.tail_scroll == 0 {
                d.unseen = 0;
            }
        }
    }

    pub(super) fn action(&mut self, action: Action, g: &Geometry) -> Vec<Cmd> {
        let cmds = self.navigate(action, g);
        self.keep_in_view(g);
        cmds
    }

    fn navigate(&mut self, action: Action, g: &Geometry) -> Vec<Cmd> {
        if let Some(pane) = self.target.as_mut() {
            let len = pane.events.as_ref().map_or(0, Vec::len);
            match action {
                Action::Back | Action::Open => self.target = None,
                Action::Up => pane.scroll = (pane.scroll + 1).min(len),
                Action::Down => pane.scroll = pane.scroll.saturating_sub(1),
                Action::PageUp => pane.scroll = (pane.scroll + g.tail_rows.max(1)).min(len),
                Action::PageDown => pane.scroll = pane.scroll.saturating_sub(g.tail_rows.max(1)),
                Action::Follow | Action::Bottom => pane.scroll = 0,
                Action::Top => pane.scroll = len,
                _ => {}
            }
            return Vec::new();
        }
        let page = g.tail_rows.max(1);
        match (action, self.focus) {
            (Action::Filter, _) => {
                self.filtering = true;
                self.focus = Focus::List;
            }
            (Action::PageUp, _) => self.scroll_tail(|s| s + page),
            (Action::PageDown, _) => self.scroll_tail(|s| s.saturating_sub(page)),
            (Action::Follow, _) => {
                self.scroll_tail(|_| 0);
                if let Some(d) = self.detail.as_mut().filter(|d| d.stale) {
                    d.stale = false;
                    return vec![Cmd::Select(Some(d.key))];
                }
            }
            (Action::Back, Focus::Hosts) => self.focus = Focus::List,
            (Action::Back, Focus::List) if !self.filter.is_empty() => return self.set_filter(String::new(), g),
            (Action::Open, Focus::List) if self.detail.as_ref().is_some_and(|d| !d.targets.is_empty()) => {
                self.focus = Focus::Hosts;
            }
            (Action::Open, Focus::Hosts) => return self.open_target(),
            (Action::Up | Action::Down | Action::Top | Action::Bottom, Focus::List) => {
                let last = self.shown.len().saturating_sub(1);
                let row = self.selected_row().unwrap_or(0);
                let row = match action {
                    Action::Up => row.saturating_sub(1),
                    Action::Down => (row + 1).min(last),
                    Action::Top => 0,
                    _ => last,
                };
                let key = self.shown.get(row).map(|&i| self.deployments[i].key);
                return self.select(key, None);
            }
            (_, Focus::Hosts) if self.group_by.is_some() => {
                let rows = self.group_rows(g).unwrap_or_default();
                if let Some(d) = self.detail.as_mut() {
                    d.cursor = move_in_rows(&rows, d.cursor, action);
                }
            }
            (_, Focus::Hosts) => {
                if let Some(d) = self.detail.as_mut() {
                    let cols = g.host_cols.max(1);
                    let last = d.targets.len().saturating_sub(1);
                    d.cursor = match action {
                        Action::Up => d.cursor.checked_sub(cols).unwrap_or(d.cursor),
                        Action::Down if d.cursor + cols <= last => d.cursor + cols,
                        Action::Left => d.cursor.saturating_sub(1),
                        Action::Right => (d.cursor + 1).min(last),
                        Action::Top => 0,
                        Action::Bottom => last,
                        _ => d.cursor,
                    };
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn scroll_tail(&mut self, to: impl FnOnce(usize) -> usize) {
        if let Some(d) = self.detail.as_mut() {
            d.tail_scroll = to(d.tail_scroll).min(d.tail.len());
            if d.tail_scroll == 0 {
                d.unseen = 0;
            }
        }
    }

    fn open_target(&mut self) -> Vec<Cmd> {
        let Some(d) = self.detail.as_ref() else { return Vec::new() };
        let Some(t) = d.targets.get(d.cursor) else { return Vec::new() };
        self.target = Some(TargetPane { name: t.name.clone(), events: None, scroll: 0 });
        vec![Cmd::LoadTarget(d.key, t.name.clone())]
    }
}

/// The cursor after `action` in a heatmap grouped into `rows`: left and right through the
/// drawn order, up and down to the same position of the row above or below (or its end).
fn move_in_rows(rows: &[GroupRow], cursor: usize, action: Action) -> usize {
    let order: Vec<usize> = rows.iter().flat_map(|r| r.members.iter().copied()).collect();
    let Some((row, col)) = find_in_rows(rows, cursor) else { return order.first().copied().unwrap_or(cursor) };
    let at = |r: usize| rows.get(r).and_then(|row| row.members.get(col.min(row.members.len().saturating_sub(1))));
    let pos = order.iter().position(|&m| m == cursor).unwrap_or(0);
    let moved = match action {
        Action::Left => pos.checked_sub(1).and_then(|p| order.get(p)),
        Action::Right => order.get(pos + 1),
        Action::Up => row.checked_sub(1).and_then(at),
        Action::Down => at(row + 1),
        Action::Top => order.first(),
        Action::Bottom => order.last(),
        _ => None,
    };
    moved.copied().unwrap_or(cursor)
}

/// Whether a deployment passes a (lowercase) filter: key, release, version, environment or
/// status (History's filter finds deployments by key too).
fn matches(d: &DeploymentSummary, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let status = d.status.as_str();
    let key = d.key.to_string();
    [key.as_str(), d.release.as_str(), d.version.as_str(), d.environment.as_str(), status]
        .iter()
        .any(|h| h.to_lowercase().contains(needle))
        || format!("{}@{}", d.release, d.version).to_lowercase().contains(needle)
        || status.replace('_', " ").contains(needle)
}

/// The first visible row of a window of `height` rows over `len` that shows `row`.
fn window(offset: usize, row: usize, height: usize, len: usize) -> usize {
    let height = height.max(1);
    let offset = if row < offset {
        row
    } else if row >= offset + height {
        row + 1 - height
    } else {
        offset
    };
    offset.min(len.saturating_sub(height))
}
