//! The dashboard's state and its one transition function, `update(msg) -> Vec<Cmd>`.
//!
//! No terminal and no IO here: key presses, data from the log, ticks and resizes come in as
//! [`Msg`]s; what the outside world must do (load a deployment, quit) goes out as [`Cmd`]s. The
//! run loop and the tests drive it the same way.

mod live;

pub use live::{Detail, Focus, Live, TargetPane, display_rank, first_selection};

use super::data::Refresh;
use super::keymap::{Action, CTRL_C, Key, Keymap};
use super::theme::Theme;
use super::view;
use crate::config::Config;
use crate::domain::DeploymentKey;
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
}

/// Something the run loop must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Quit,
    /// Load this deployment in detail (phases, targets, tail).
    Select(Option<DeploymentKey>),
    /// Load the events of one target.
    LoadTarget(DeploymentKey, String),
    /// Stop or resume following the log.
    Pause(bool),
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
                let geometry = self.geometry();
                self.live.apply(*refresh, &geometry)
            }
            Msg::DataError(e) => {
                self.error = Some(e);
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                let geometry = self.geometry();
                self.live.keep_in_view(&geometry);
                Vec::new()
            }
        }
    }

    /// Sizes of the live view's panes at the current terminal size.
    #[must_use]
    pub fn geometry(&self) -> view::live::Geometry {
        let screen = view::screen_layout(Rect::new(0, 0, self.size.0, self.size.1));
        view::live::Geometry::of(screen.body, self.live.shown.len())
    }

    fn key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        if Key::from_event(&key) == CTRL_C {
            self.quit = true;
            return vec![Cmd::Quit];
        }
        if self.live.filtering && self.tab == Tab::Live {
            if let Some(cmds) = self.filter_key(key) {
                return cmds;
            }
        }
        let action = self.keymap.action(&key);
        if self.help {
            if matches!(action, Some(Action::Help | Action::Back | Action::Quit)) {
                self.help = false;
            }
            return Vec::new();
        }
        let Some(action) = action else { return Vec::new() };
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
                self.tab = self.tab.step(action == Action::NextView);
                Vec::new()
            }
            Action::ViewLive => self.go(Tab::Live),
            Action::ViewApprovals => self.go(Tab::Approvals),
            Action::ViewSchedule => self.go(Tab::Schedule),
            Action::ViewNotifications => self.go(Tab::Notifications),
            Action::ViewHistory => self.go(Tab::History),
            Action::ViewMetrics => self.go(Tab::Metrics),
            other if self.tab == Tab::Live => {
                let geometry = self.geometry();
                self.live.action(other, &geometry)
            }
            _ => Vec::new(),
        }
    }

    fn go(&mut self, tab: Tab) -> Vec<Cmd> {
        self.tab = tab;
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
