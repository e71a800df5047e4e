//! The dashboard's state and its one transition function, `update(msg) -> Vec<Cmd>`.
//!
//! No terminal and no IO here: key presses, data from the log, ticks and resizes come in as
//! [`Msg`]s; what the outside world must do (load a deployment, quit) goes out as [`Cmd`]s. The
//! run loop and the tests drive it the same way.

pub mod approvals;
pub mod checklist;
pub mod history;
mod live;
pub mod metrics;
pub mod replay;
pub mod schedule;

pub use super::model::{display_rank, first_selection};
pub use approvals::{Approvals, Dialog};
pub use checklist::ChecklistPanel;
pub use history::{Drill, History};
pub use live::{Detail, Focus, Live, SortBy, TargetPane};
pub use metrics::MetricsView;
pub use replay::ReplayMode;

use super::layout::{self, Geometry};
pub use super::model::Cmd;
use super::model::{Decided, Loaded, Refresh};
use super::strings;
use super::theme::Theme;
use crate::config::Config;
use crate::decide::review::Edited;
use crate::domain::DeploymentKey;
use crate::keymap::{Action, CTRL_C, Key, Keymap, Scope};
use crate::store::live::StatusCounts;
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Data(Box<Refresh>),
    DataError(String),
    /// The clock moved (redraws ages, the header clock and silence).
    Tick(DateTime<Utc>),
    Resize(u16, u16),
    /// The answer to a [`Cmd::Decide`]: what was recorded, or the rule that refused it.
    Decided(Decided),
    /// Who a decision would notify ([`Cmd::Preview`]).
    Previewed(crate::tui::model::DecisionCmd, Result<Vec<crate::domain::notify::Told>, String>),
    /// The editor closed on a review ([`Cmd::EditReview`]), or could not be run.
    ReviewEdited(DeploymentKey, Result<Edited, String>),
}

impl From<Loaded> for Msg {
    fn from(loaded: Loaded) -> Self {
        match loaded {
            Loaded::Refresh(r) => Self::Data(r),
            Loaded::Failed(e) => Self::DataError(e),
            Loaded::Decided(d) => Self::Decided(d),
            Loaded::Previewed(ask, told) => Self::Previewed(ask, told),
        }
    }
}

/// The dashboard's views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Live,
    Approvals,
    Schedule,
    Notifications,
    History,
    Metrics,
}

impl Tab {
    pub const ALL: [Self; 6] =
        [Self::Live, Self::Approvals, Self::Schedule, Self::Notifications, Self::History, Self::Metrics];

    /// The keymap scope of the view: which view-only keys act while it is in front.
    #[must_use]
    pub fn scope(self) -> Scope {
        match self {
            Self::Live => Scope::Live,
            Self::Approvals => Scope::Approvals,
            Self::Schedule => Scope::Schedule,
            Self::Notifications => Scope::Notifications,
            Self::History => Scope::History,
            Self::Metrics => Scope::Metrics,
        }
    }

    #[must_use]
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    fn step(self, forward: bool) -> Self {
        let n = Self::ALL.len();
        Self::ALL[if forward { (self.index() + 1) % n } else { (self.index() + n - 1) % n }]
    }
}

/// Facts about the session shown in the header and used by views.
#[derive(Debug, Clone)]
pub struct Session {
    pub db: String,
    pub receiver: Option<String>,
    pub config: Config,
    /// Who decisions are made as, and the OS account recorded beside them.
    pub operator: String,
    pub os_user: String,
    /// Said up front when the operator is nobody the log's team knows (nothing is recorded in
    /// their name): the header marks the name, the footer says why until the first key.
    pub notice: Option<String>,
}

/// The whole state of the dashboard.
#[derive(Debug)]
pub struct App {
    pub session: Session,
    pub keymap: Keymap,
    pub theme: Theme,
    pub read_only: bool,
    pub tab: Tab,
    pub paused: bool,
    pub help: bool,
    pub quit: bool,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub counts: StatusCounts,
    /// The last error of the data source, shown in the footer until data flows again.
    pub error: Option<String>,
    pub live: Live,
    pub approvals: Approvals,
    pub history: History,
    pub metrics: MetricsView,
    /// The Schedule view: the change calendar.
    pub calendar: schedule::Calendar,
    /// The open Checklist panel of a deployment.
    pub checklist: Option<ChecklistPanel>,
    /// The open confirm dialog.
    pub dialog: Option<Dialog>,
    /// The view a drill-down was opened from (Live, Approvals): `Esc` goes back there.
    pub drill_from: Option<Tab>,
    /// Replay mode of the Live view: the selected deployment at a time cursor.
    pub replay: Option<ReplayMode>,
    /// The last decision's result or refusal, shown in the footer until the next key:
    /// (`true` when it was recorded, text).
    pub status: Option<(bool, String)>,
}

impl App {
    #[must_use]
    pub fn new(session: Session, keymap: Keymap, theme: Theme, read_only: bool, now: DateTime<Utc>) -> Self {
        Self {
            session,
            keymap,
            theme,
            read_only,
            tab: Tab::Live,
            paused: false,
            help: false,
            quit: false,
            now,
            size: (80, 24),
            counts: StatusCounts::default(),
            error: None,
            live: Live::default(),
            approvals: Approvals::default(),
            history: History::default(),
            metrics: MetricsView::new(),
            calendar: schedule::Calendar::default(),
            checklist: None,
            dialog: None,
            drill_from: None,
            replay: None,
            status: None,
        }
    }

    /// Applies one message; returns what the run loop must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        match msg {
            Msg::Key(key) if key.kind == KeyEventKind::Press => self.key(key),
            Msg::Key(_) => Vec::new(),
            Msg::Data(refresh) => {
                self.error = None;
                if let Some(counts) = refresh.counts {
                    self.counts = counts;
                }
                if let Some(gates) = refresh.gates.clone() {
                    self.approvals.apply(gates);
                }
                let mut refresh = *refresh;
                if let Some(page) = refresh.history.take() {
                    let rows = self.history_rows();
                    self.history.apply(page, rows);
                }
                if let Some((key, data)) = refresh.compare.take() {
                    self.history.apply_compare(key, data);
                }
                if let Some(metrics) = refresh.metrics.take() {
                    self.metrics.apply(metrics);
                }
                if let Some((days, review)) = refresh.model_review.take() {
                    self.metrics.apply_review(days, review);
                }
                if let Some(report) = refresh.report.take() {
                    self.history.apply_report(report);
                }
                if let Some(page) = refresh.calendar.take() {
                    self.calendar.apply(page);
                }
                if let (Some((key, items)), Some(panel)) = (refresh.checklist.take(), self.checklist.as_mut()) {
                    panel.apply(key, items);
                }
                if let Some(mode) = self.replay.as_mut() {
                    // The past stays on screen: live news of the detail waits for the way back.
                    refresh.detail = None;
                    refresh.target = None;
                    if let Some((_, log)) = refresh.replay.take().filter(|(k, _)| *k == mode.key) {
                        mode.loaded(*log, &mut self.live);
                    }
                }
                let geometry = self.geometry();
                self.live.apply(refresh, &geometry)
            }
            Msg::DataError(e) => {
                self.error = Some(e);
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now = now;
                if let Some(mode) = self.replay.as_mut() {
                    mode.tick(now, &mut self.live);
                }
                Vec::new()
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                let geometry = self.geometry();
                self.live.keep_in_view(&geometry);
                let rows = self.history_rows();
                self.history.keep_in_view(rows);
                Vec::new()
            }
            Msg::ReviewEdited(key, edited) => self.review_edited(key, edited),
            Msg::Decided(decided) if self.checklist.as_ref().is_some_and(|p| p.sending) => {
                let (recorded, text) = match decided {
                    Decided::Recorded(t) => (true, t),
                    Decided::NotRecorded(t) => (false, t),
                };
                if let Some(panel) = self.checklist.as_mut() {
                    panel.answered(recorded, &text);
                }
                self.status = Some((recorded, text));
                Vec::new()
            }
            Msg::Decided(decided) if self.metrics.record.as_ref().is_some_and(|d| d.sending) => {
                let (recorded, text) = match decided {
                    Decided::Recorded(t) => (true, t),
                    Decided::NotRecorded(t) => (false, t),
                };
                self.metrics.recorded(recorded, &text);
                self.status = Some((recorded, text));
                Vec::new()
            }
            Msg::Previewed(ask, told) => {
                if let Some(d) = self.dialog.as_mut().filter(|d| d.asks(&ask)) {
                    d.preview = Some(told);
                }
                Vec::new()
            }
            Msg::Decided(decided) => {
                match (&decided, self.dialog.as_mut()) {
                    (Decided::Recorded(_), _) => self.dialog = None,
                    (Decided::NotRecorded(e), Some(d)) => {
                        d.sending = false;
                        d.error = Some(e.clone());
                    }
                    (Decided::NotRecorded(_), None) => {}
                }
                self.status = Some(match decided {
                    Decided::Recorded(t) => (true, t),
                    Decided::NotRecorded(t) => (false, t),
                });
                Vec::new()
            }
        }
    }

    /// Rows of History's list at the current terminal size.
    #[must_use]
    pub fn history_rows(&self) -> usize {
        layout::history_rows(layout::screen_layout(Rect::new(0, 0, self.size.0, self.size.1)).body)
    }

    /// The editor came back from a review: save it, keep a broken one to edit again, or say
    /// why nothing happened.
    fn review_edited(&mut self, key: DeploymentKey, edited: Result<Edited, String>) -> Vec<Cmd> {
        let drill = self.history.drill.as_mut().filter(|d| d.key == key);
        match edited {
            Ok(Edited::Valid(content, text)) => {
                if let Some(d) = drill {
                    d.draft = None;
                }
                return vec![Cmd::SaveReview(key, content, text)];
            }
            Ok(Edited::Invalid(e, text)) => {
                let kept = drill.is_some();
                if let Some(d) = drill {
                    d.draft = Some((text, e.to_string()));
                }
                let hint = if kept { strings::REVIEW_KEPT } else { "" };
                self.status = Some((false, format!("{} {e}{hint}", strings::REVIEW_INVALID)));
            }
            Ok(Edited::Unchanged) => self.status = Some((false, format!("{key}: {}", strings::REVIEW_UNCHANGED))),
            Err(e) => self.status = Some((false, e)),
        }
        Vec::new()
    }

    /// Sizes of the live view's panes at the current terminal size.
    #[must_use]
    pub fn geometry(&self) -> Geometry {
        let screen = layout::screen_layout(Rect::new(0, 0, self.size.0, self.size.1));
        Geometry::of(screen.body, self.live.shown.len())
    }

    fn key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        if Key::from_event(&key) == CTRL_C {
            self.quit = true;
            return vec![Cmd::Quit];
        }
        if self.dialog.is_some() {
            return self.dialog_key(key);
        }
        if self.checklist.is_some() {
            return self.checklist_key(key);
        }
        if self.metrics.record.is_some() && self.tab == Tab::Metrics {
            return self.record_key(key);
        }
        self.status = None;
        if self.history.editing && self.tab == Tab::History {
            if let Some(cmds) = self.history_filter_key(key) {
                return cmds;
            }
        }
        if self.live.filtering && self.tab == Tab::Live {
            if let Some(cmds) = self.filter_key(key) {
                return cmds;
            }
        }
        let action = self.keymap.action(&key, self.tab.scope());
        if self.help {
            if matches!(action, Some(Action::Help | Action::Back | Action::Quit)) {
                self.help = false;
            }
            return Vec::new();
        }
        let Some(action) = action else { return Vec::new() };
        if self.replay.is_some() {
            if let Some(cmds) = self.replay_key(action) {
                return cmds;
            }
        }
        self.act(action)
    }

    /// What an action does in the view in front.
    fn act(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::Quit => {
                self.quit = true;
                vec![Cmd::Quit]
            }
            Action::Help => {
                self.help = true;
                Vec::new()
            }
            Action::Pause => {
                self.paused = !self.paused;
                vec![Cmd::Pause(self.paused)]
            }
            Action::NextView | Action::PrevView => {
                let tab = self.tab.step(action == Action::NextView);
                self.go(tab)
            }
            Action::ViewLive => self.go(Tab::Live),
            Action::ViewApprovals => self.go(Tab::Approvals),
            Action::ViewSchedule => self.go(Tab::Schedule),
            Action::ViewNotifications => self.go(Tab::Notifications),
            Action::ViewHistory => self.go(Tab::History),
            Action::ViewMetrics => self.go(Tab::Metrics),
            Action::WriteReview => self.write_review(),
            Action::GroupHosts if self.tab == Tab::Live => {
                let geometry = self.geometry();
                self.live.cycle_group(&geometry);
                Vec::new()
            }
            Action::Sort if self.tab == Tab::Live => {
                let geometry = self.geometry();
                self.live.cycle_sort(&geometry)
            }
            Action::Replay if self.tab == Tab::Live => {
                let Some(key) = self.live.selected else { return Vec::new() };
                let (mode, cmds) = ReplayMode::open(key);
                self.replay = Some(mode);
                self.live.focus = Focus::List;
                cmds
            }
            Action::Checklist if self.tab == Tab::Live => {
                let Some(key) = self.live.selected else { return Vec::new() };
                let (panel, cmds) = ChecklistPanel::open(key);
                self.checklist = Some(panel);
                cmds
            }
            Action::DrillDown if self.tab == Tab::History => self.history.drill(None),
            Action::DrillDown if self.tab == Tab::Live => {
                let Some(key) = self.live.selected else { return Vec::new() };
                self.drill_into(key)
            }
            Action::RecordAction => {
                if !self.read_only && self.tab == Tab::Metrics {
                    let today = self.now.with_timezone(&self.session.config.timezone).date_naive();
                    self.metrics.start_record(&self.session.operator, today);
                }
                Vec::new()
            }
            a if a.writes() => self.decide(a),
            other if self.tab == Tab::History => self.history_action(other),
            Action::Open if self.tab == Tab::Metrics && !self.metrics.show_review => self.metrics_open(),
            other if self.tab == Tab::Metrics => {
                let envs = self.environments();
                self.metrics.action(other, &envs)
            }
            other if self.tab == Tab::Approvals => self.approvals_action(other),
            other if self.tab == Tab::Schedule => {
                let (cmds, open) = self.calendar.action(other, self.now, self.session.config.timezone);
                match open {
                    Some(key) => {
                        self.tab = Tab::Live;
                        let geometry = self.geometry();
                        self.live.show(key, &geometry)
                    }
                    None => cmds,
                }
            }
            other if self.tab == Tab::Notifications => {
                if other == Action::Open {
                    return self.approvals.open_note(!self.read_only, self.now);
                }
                self.approvals.navigate_notes(other);
                Vec::new()
            }
            other if self.tab == Tab::Live => {
                let geometry = self.geometry();
                self.live.action(other, &geometry)
            }
            _ => Vec::new(),
        }
    }

    /// A key while replaying: steps, play and the way back are replay's; decisions are
    /// refused; moving to another deployment or view first goes back to live. `None` passes the
    /// key on.
    fn replay_key(&mut self, action: Action) -> Option<Vec<Cmd>> {
        let mode = self.replay.as_mut()?;
        if action.writes() || action == Action::Checklist {
            self.status = Some((false, strings::REPLAY_NO_DECISIONS.to_owned()));
            return Some(Vec::new());
        }
        match action {
            Action::Replay | Action::Back => Some(self.leave_replay()),
            Action::Up | Action::Down | Action::Top | Action::Bottom | Action::Open | Action::Filter => {
                self.status = Some((false, strings::REPLAY_LEAVE_FIRST.to_owned()));
                Some(Vec::new())
            }
            Action::NextView
            | Action::PrevView
            | Action::ViewApprovals
            | Action::ViewSchedule
            | Action::ViewNotifications
            | Action::ViewHistory
            | Action::ViewMetrics
            | Action::DrillDown => {
                let mut cmds = self.leave_replay();
                cmds.extend(self.act(action));
                Some(cmds)
            }
            _ => mode.action(action, self.now, &mut self.live).then(Vec::new),
        }
    }

    /// Back to live: the detail is read again from the log.
    fn leave_replay(&mut self) -> Vec<Cmd> {
        let Some(mode) = self.replay.take() else { return Vec::new() };
        vec![Cmd::Select(Some(mode.key))]
    }

    /// The drill-down of `key`, opened from the view in front: `Esc` comes back to it.
    fn drill_into(&mut self, key: DeploymentKey) -> Vec<Cmd> {
        let from = self.tab;
        let mut cmds = self.go(Tab::History);
        self.drill_from = Some(from).filter(|t| *t != Tab::History);
        cmds.extend(self.history.drill(Some(key)));
        cmds
    }

    fn go(&mut self, tab: Tab) -> Vec<Cmd> {
        // Moving between views by hand: Esc in a drill-down then closes it where it is.
        self.drill_from = None;
        self.tab = tab;
        match tab {
            Tab::History => self.history.open(),
            Tab::Schedule => self.calendar.load(self.now, self.session.config.timezone),
            Tab::Metrics => {
                let envs = self.environments();
                self.metrics.load(&envs)
            }
            _ => Vec::new(),
        }
    }

    /// The environments declared in the config: the Metrics view's scopes.
    fn environments(&self) -> Vec<String> {
        self.session.config.environments.iter().map(|e| e.name.clone()).collect()
    }

    /// `Enter` on a top failing entry of Metrics: History, filtered to those deployments.
    fn metrics_open(&mut self) -> Vec<Cmd> {
        let Some((line, preset)) = self.metrics.history_line() else { return Vec::new() };
        self.tab = Tab::History;
        let h = &mut self.history;
        h.drill = None;
        h.editing = false;
        h.set_preset(preset);
        let cmds = h.set_line(line);
        if cmds.is_empty() { h.open() } else { cmds }
    }

    fn history_action(&mut self, action: Action) -> Vec<Cmd> {
        let rows = self.history_rows();
        let h = &mut self.history;
        match action {
            Action::Back if h.compare.is_some() => {
                h.compare = None;
                Vec::new()
            }
            Action::Compare => h.compare(),
            _ if h.compare.is_some() => h.navigate(action, rows),
            Action::Open if h.drill.is_none() => h.drill(None),
            Action::Back if h.drill.is_some() => {
                h.drill = None;
                if let Some(tab) = self.drill_from.take() {
                    self.tab = tab;
                }
                Vec::new()
            }
            Action::Back if !h.line.is_empty() => h.set_line(String::new()),
            Action::Filter if h.drill.is_none() => {
                h.editing = true;
                Vec::new()
            }
            Action::Period => h.next_period(),
            other => h.navigate(other, rows),
        }
    }

    /// Keys while the Checklist panel is open: move, `space` (or `Enter`) ticks the selected item
    /// after a confirm that takes the evidence, `Esc` backs out; nothing else acts.
    fn checklist_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let typed = !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        let action = self.keymap.action(&key, Scope::Live);
        let read_only = self.read_only;
        let Some(panel) = self.checklist.as_mut() else { return Vec::new() };
        if let Some(evidence) = panel.confirm.as_mut() {
            match key.code {
                KeyCode::Esc => {
                    panel.confirm = None;
                    panel.error = None;
                }
                KeyCode::Enter if !panel.sending => return panel.confirm(),
                KeyCode::Backspace if !panel.sending => {
                    evidence.pop();
                }
                KeyCode::Char(c) if typed && !panel.sending => evidence.push(c),
                _ => {}
            }
            return Vec::new();
        }
        match (key.code, action) {
            (KeyCode::Char(' '), _) | (_, Some(Action::Open)) if !read_only => panel.start_tick(),
            (_, Some(Action::Back)) => self.checklist = None,
            (_, Some(Action::Quit)) => {
                self.quit = true;
                return vec![Cmd::Quit];
            }
            (_, Some(a)) => panel.navigate(a),
            _ => {}
        }
        Vec::new()
    }

    /// `w` in the drill-down: the editor on the review (the broken draft first, if one waits).
    fn write_review(&mut self) -> Vec<Cmd> {
        if self.read_only || self.tab != Tab::History {
            return Vec::new();
        }
        let Some(d) = self.history.drill.as_ref() else { return Vec::new() };
        let text = match (&d.draft, &d.report) {
            (Some((text, _)), _) => text.clone(),
            (None, Some(report)) => crate::decide::review::template(report, &self.session.config),
            (None, None) => return Vec::new(),
        };
        vec![Cmd::EditReview(d.key, text)]
    }

    /// Keys while History's filter line is open; `None` passes the key on.
    fn history_filter_key(&mut self, key: KeyEvent) -> Option<Vec<Cmd>> {
        let typed = !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        let h = &mut self.history;
        match key.code {
            KeyCode::Char(c) if typed => {
                let mut line = h.line.clone();
                line.push(c);
                Some(h.set_line(line))
            }
            KeyCode::Backspace => {
                let mut line = h.line.clone();
                line.pop();
                Some(h.set_line(line))
            }
            KeyCode::Enter => {
                h.editing = false;
                Some(Vec::new())
            }
            KeyCode::Esc => {
                h.editing = false;
                Some(h.set_line(String::new()))
            }
            _ => None,
        }
    }

    /// The entry a decision key acts on: the selected one in Approvals, the selected
    /// deployment's in Live.
    #[must_use]
    pub fn decision_target(&self) -> Option<&crate::tui::model::Pending> {
        match self.tab {
            Tab::Approvals => self.approvals.current(),
            Tab::Live => self.live.selected.and_then(|k| self.approvals.for_deployment(k)),
            _ => None,
        }
    }

    /// A decision key: opens the confirm dialog, or says why the operator cannot.
    fn decide(&mut self, action: Action) -> Vec<Cmd> {
        let Some(decision) = approvals::decision_of(action).filter(|_| !self.read_only) else { return Vec::new() };
        let Some(pending) = self.decision_target() else { return Vec::new() };
        match approvals::open(pending, decision, &self.session.operator, self.session.config.timezone) {
            Ok(dialog) => {
                let preview = dialog.preview_cmd();
                self.dialog = Some(dialog);
                vec![preview]
            }
            Err(why) => {
                self.status = Some((false, why.0));
                Vec::new()
            }
        }
    }

    fn approvals_action(&mut self, action: Action) -> Vec<Cmd> {
        if action != Action::Open {
            self.approvals.navigate(action);
            return Vec::new();
        }
        // Enter on a review owed or an overdue action: its deployment's drill-down.
        if let Some((_, f)) = self.approvals.selected_follow_up() {
            let Some(key) = f.deployment() else { return Vec::new() };
            return self.drill_into(key);
        }
        // Enter shows the entry's deployment in Live.
        let Some(key) = self.approvals.current().map(|p| p.item.deployment) else { return Vec::new() };
        self.tab = Tab::Live;
        let geometry = self.geometry();
        self.live.show(key, &geometry)
    }

    /// Keys while the record dialog of Metrics is open: text goes into the field being typed,
    /// Tab (or ↑ ↓) moves between owner and due date, Enter records, Esc cancels.
    fn record_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let Some(d) = self.metrics.record.as_mut() else { return Vec::new() };
        let typed = !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => self.metrics.record = None,
            KeyCode::Enter => return d.confirm(),
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down if !d.sending => d.field = 1 - d.field,
            KeyCode::Backspace if !d.sending => {
                d.text_mut().pop();
            }
            KeyCode::Char(c) if typed && !d.sending => d.text_mut().push(c),
            _ => {}
        }
        Vec::new()
    }

    /// Keys while the confirm dialog is open: text goes into its comment, Enter confirms, Esc
    /// cancels; nothing else acts.
    fn dialog_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let Some(dialog) = self.dialog.as_mut() else { return Vec::new() };
        let typed = !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => self.dialog = None,
            KeyCode::Enter => return dialog.confirm(),
            KeyCode::Backspace if !dialog.sending => {
                dialog.text.pop();
            }
            KeyCode::Char(c) if typed && !dialog.sending => dialog.text.push(c),
            _ => {}
        }
        Vec::new()
    }

    /// Keys while the filter line is open; `None` passes the key on (arrows still navigate).
    fn filter_key(&mut self, key: KeyEvent) -> Option<Vec<Cmd>> {
        let geometry = self.geometry();
        let typed = !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Char(c) if typed => {
                let mut text = self.live.filter.clone();
                text.push(c);
                Some(self.live.set_filter(text, &geometry))
            }
            KeyCode::Backspace => {
                let mut text = self.live.filter.clone();
                text.pop();
                Some(self.live.set_filter(text, &geometry))
            }
            KeyCode::Enter => {
                self.live.filtering = false;
                Some(Vec::new())
            }
            KeyCode::Esc => {
                self.live.filtering = false;
                Some(self.live.set_filter(String::new(), &geometry))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
