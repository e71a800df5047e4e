//! Key bindings: every action of the dashboard, its default keys, and rebinding from config.
//!
//! `[dashboard.keys]` maps an action name to a key (`filter = "f"`); a rebound action loses its
//! default keys. The `?` overlay and the footer are generated from the [`Keymap`], so they
//! always show the keys in force. `Ctrl-C` quits whatever the bindings say.
//!
//! It sits below both the config and the dashboard: `config check` and the dashboard validate
//! `[dashboard.keys]` with this one [`Keymap::from_config`], so neither accepts what the other
//! refuses.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;
use std::fmt;

/// Where an action acts: in every view, or in one. Two actions may share a key only when their
/// scopes do not overlap, so a key means one thing wherever it is pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    Live,
    Approvals,
    Schedule,
    Notifications,
    History,
    Metrics,
}

impl Scope {
    /// Whether a key pressed in one scope could mean an action of the other.
    #[must_use]
    pub fn overlaps(self, other: Self) -> bool {
        self == Self::Global || other == Self::Global || self == other
    }
}

/// Something the user can ask the dashboard to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    Left,
    Right,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Follow,
    Open,
    Back,
    NextView,
    PrevView,
    ViewLive,
    ViewApprovals,
    ViewSchedule,
    ViewNotifications,
    ViewHistory,
    ViewMetrics,
    Filter,
    Pause,
    Help,
    Quit,
    Approve,
    Reject,
    Retry,
    Abort,
    Rollback,
    Period,
    DrillDown,
    WriteReview,
    Checklist,
    MetricsPeriod,
    MetricsScope,
    Compare,
    ZoomIn,
    ZoomOut,
    Today,
    ModelReview,
    RecordAction,
    Replay,
    ReplayPlay,
    ReplayBack,
    ReplayForward,
    GroupHosts,
    Sort,
}

impl Action {
    pub const ALL: [Self; 46] = [
        Self::Up,
        Self::Down,
        Self::Left,
        Self::Right,
        Self::Top,
        Self::Bottom,
        Self::PageUp,
        Self::PageDown,
        Self::Follow,
        Self::Open,
        Self::Back,
        Self::NextView,
        Self::PrevView,
        Self::ViewLive,
        Self::ViewApprovals,
        Self::ViewSchedule,
        Self::ViewNotifications,
        Self::ViewHistory,
        Self::ViewMetrics,
        Self::Filter,
        Self::Pause,
        Self::Help,
        Self::Quit,
        Self::Approve,
        Self::Reject,
        Self::Retry,
        Self::Abort,
        Self::Rollback,
        Self::Period,
        Self::DrillDown,
        Self::WriteReview,
        Self::Checklist,
        Self::MetricsPeriod,
        Self::MetricsScope,
        Self::Compare,
        Self::ZoomIn,
        Self::ZoomOut,
        Self::Today,
        Self::ModelReview,
        Self::RecordAction,
        Self::Replay,
        Self::ReplayPlay,
        Self::ReplayBack,
        Self::ReplayForward,
        Self::GroupHosts,
        Self::Sort,
    ];

    /// The name used in `[dashboard.keys]`.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.info().0
    }

    /// What the action does, for the help overlay.
    #[must_use]
    pub fn describe(self) -> &'static str {
        self.info().1
    }

    /// Whether the action writes to the log (hidden in read-only mode).
    #[must_use]
    pub fn writes(self) -> bool {
        matches!(
            self,
            Self::Approve
                | Self::Reject
                | Self::Retry
                | Self::Abort
                | Self::Rollback
                | Self::WriteReview
                | Self::RecordAction
        )
    }

    /// The view the action acts in ([`Scope::Global`] for most).
    #[must_use]
    pub fn scope(self) -> Scope {
        match self {
            Self::Checklist
            | Self::GroupHosts
            | Self::Sort
            | Self::Replay
            | Self::ReplayPlay
            | Self::ReplayBack
            | Self::ReplayForward => Scope::Live,
            Self::Period | Self::Compare => Scope::History,
            Self::MetricsPeriod | Self::MetricsScope | Self::ModelReview | Self::RecordAction => Scope::Metrics,
            Self::ZoomIn | Self::ZoomOut | Self::Today => Scope::Schedule,
            _ => Scope::Global,
        }
    }

    /// The views the action does something in (`[Scope::Global]`: every view), for the help
    /// overlay, which lists the view's own keys first.
    #[must_use]
    pub fn views(self) -> &'static [Scope] {
        match self {
            Self::Left | Self::Right => &[Scope::Live, Scope::Schedule],
            Self::PageUp | Self::PageDown => &[Scope::Live, Scope::History],
            Self::Follow => &[Scope::Live],
            Self::Filter | Self::DrillDown => &[Scope::Live, Scope::History],
            Self::Approve | Self::Reject | Self::Retry | Self::Abort | Self::Rollback => {
                &[Scope::Live, Scope::Approvals]
            }
            Self::WriteReview => &[Scope::History],
            _ => match self.scope() {
                Scope::Global => &[Scope::Global],
                Scope::Live => &[Scope::Live],
                Scope::Approvals => &[Scope::Approvals],
                Scope::Schedule => &[Scope::Schedule],
                Scope::Notifications => &[Scope::Notifications],
                Scope::History => &[Scope::History],
                Scope::Metrics => &[Scope::Metrics],
            },
        }
    }

    /// The default keys.
    #[must_use]
    pub fn defaults(self) -> &'static [&'static str] {
        self.info().2
    }

    fn info(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            Self::Up => ("up", "move up", &["up", "k"]),
            Self::Down => ("down", "move down", &["down", "j"]),
            Self::Left => ("left", "move left (hosts)", &["left", "h"]),
            Self::Right => ("right", "move right (hosts)", &["right", "l"]),
            Self::Top => ("top", "first row / host", &["home"]),
            Self::Bottom => ("bottom", "last row / host", &["G"]),
            Self::PageUp => ("page_up", "scroll events up", &["pgup"]),
            Self::PageDown => ("page_down", "scroll events down", &["pgdn"]),
            Self::Follow => ("follow", "follow new events again", &["end"]),
            Self::Open => ("open", "open / show / mark read", &["enter"]),
            Self::Back => ("back", "back / close", &["esc"]),
            Self::NextView => ("next_view", "next view", &["tab"]),
            Self::PrevView => ("prev_view", "previous view", &["backtab"]),
            Self::ViewLive => ("view_live", "Live rollouts", &["1"]),
            Self::ViewApprovals => ("view_approvals", "Approvals", &["2"]),
            Self::ViewSchedule => ("view_schedule", "Schedule", &["3"]),
            Self::ViewNotifications => ("view_notifications", "Notifications", &["4"]),
            Self::ViewHistory => ("view_history", "History", &["5"]),
            Self::ViewMetrics => ("view_metrics", "Metrics", &["6"]),
            Self::Filter => ("filter", "filter: key, release, env, status", &["/"]),
            Self::Pause => ("pause", "pause / resume live updates", &["space"]),
            Self::Help => ("help", "this help", &["?"]),
            Self::Quit => ("quit", "quit", &["q"]),
            Self::Approve => ("approve", "approve the gate", &["a"]),
            Self::Reject => ("reject", "reject the gate (reason)", &["r"]),
            Self::Retry => ("retry", "retry the failed phase", &["R"]),
            Self::Abort => ("abort", "abort the deployment", &["x"]),
            Self::Rollback => ("rollback", "roll back the deployment", &["b"]),
            Self::Period => ("period", "History: next time range", &["t"]),
            Self::DrillDown => ("drill_down", "the deployment's drill-down and report", &["d"]),
            Self::WriteReview => ("write_review", "write the failure review (in $EDITOR)", &["w"]),
            Self::Checklist => ("checklist", "the deployment's checklist (space ticks an item)", &["c"]),
            Self::MetricsPeriod => ("metrics_period", "Metrics: next period (7d, 30d, 90d, 1y)", &["t"]),
            Self::MetricsScope => ("metrics_scope", "Metrics: next scope (all, each environment)", &["s"]),
            Self::Compare => ("compare", "History: compare with the previous run (same service, env)", &["c"]),
            Self::ZoomIn => ("zoom_in", "Schedule: shorter period (month, week, day)", &["+", "="]),
            Self::ZoomOut => ("zoom_out", "Schedule: longer period (day, week, month)", &["-"]),
            Self::Today => ("today", "Schedule: back to now", &["t"]),
            Self::ModelReview => {
                ("model_review", "Metrics: the model review and its suggestions (again: top failing)", &["m"])
            }
            Self::RecordAction => {
                ("record_action", "Metrics: record the selected suggestion as an improvement action", &["i"])
            }
            Self::Replay => {
                ("replay", "Live: replay the selected deployment (←/→ step an event; again or Esc: live)", &["T"])
            }
            Self::ReplayPlay => ("replay_play", "Live replay: play at 1x, 10x, 60x, pause", &["p"]),
            Self::ReplayBack => ("replay_back", "Live replay: a minute back", &["["]),
            Self::ReplayForward => ("replay_forward", "Live replay: a minute forward", &["]"]),
            Self::GroupHosts => ("group_hosts", "Live: group the heatmap by the next label (none, each label)", &["g"]),
            Self::Sort => {
                ("sort", "Live: sort the list by the next column (status, key, release, env, failed)", &["s"])
            }
        }
    }
}

/// One key with its modifiers (Shift is part of the character for letters and symbols).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    /// The key of a terminal event, normalised so `G` matches whether Shift is reported or not.
    #[must_use]
    pub fn from_event(ev: &KeyEvent) -> Self {
        let mut mods = ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        let code = match ev.code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => KeyCode::Char(c.to_ascii_lowercase()),
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::ALT);
                KeyCode::BackTab
            }
            other => other,
        };
        Self { code, mods }
    }

    /// Parses `"f"`, `"G"`, `"ctrl-f"`, `"alt-x"`, `"enter"`, `"pgup"`, `"f5"`, ...
    pub fn parse(text: &str) -> Result<Self, crate::domain::Invalid> {
        let bad = || {
            crate::domain::Invalid(format!(
                "\"{text}\" is not a key (use a character like \"f\", a name like enter, esc, tab, backtab, space, \
                 up, pgdn, home, end, f1, optionally with ctrl- or alt-)"
            ))
        };
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.chars().count() > 1 && (lower.starts_with("ctrl-") || lower.starts_with("alt-")) {
                let (m, n) =
                    if lower.starts_with("ctrl-") { (KeyModifiers::CONTROL, 5) } else { (KeyModifiers::ALT, 4) };
                mods |= m;
                rest = &rest[n..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => {
                KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) { c.to_ascii_lowercase() } else { c })
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(bad()),
                },
                _ => return Err(bad()),
            },
        };
        Ok(Self { code, mods })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("S-Tab"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::Insert => f.write_str("Ins"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Always quits, so it can never be rebound.
pub const CTRL_C: Key = Key { code: KeyCode::Char('c'), mods: KeyModifiers::CONTROL };

/// A `[dashboard.keys]` entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("unknown action \"{0}\" (actions: {actions})", actions = action_names())]
    UnknownAction(String),
    #[error("{message}")]
    BadKey { action: String, message: String },
    #[error("key \"{key}\" is bound to both {first} and {second}; rebind one of them")]
    Conflict { key: String, first: &'static str, second: &'static str },
}

impl KeymapError {
    /// The config key the error is about (`dashboard.keys.filter`): for a clash, the one of the
    /// two actions that `keys` rebinds.
    #[must_use]
    pub fn config_path(&self, keys: &BTreeMap<String, String>) -> String {
        match self {
            Self::UnknownAction(action) | Self::BadKey { action, .. } => format!("dashboard.keys.{action}"),
            Self::Conflict { first, second, .. } => {
                let rebound = if keys.contains_key(*second) || !keys.contains_key(*first) { second } else { first };
                format!("dashboard.keys.{rebound}")
            }
        }
    }
}

fn action_names() -> String {
    Action::ALL.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
}

/// The keys in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    /// `(key, action)` in action order, so help lists keys as configured.
    bindings: Vec<(Key, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Self::from_config(&BTreeMap::new()).unwrap_or_else(|e| panic!("the default keymap is invalid: {e}"))
    }
}

impl Keymap {
    /// The defaults with `[dashboard.keys]` applied; a rebound action keeps only its new key.
    pub fn from_config(keys: &BTreeMap<String, String>) -> Result<Self, KeymapError> {
        for name in keys.keys() {
            if !Action::ALL.iter().any(|a| a.name() == name) {
                return Err(KeymapError::UnknownAction(name.clone()));
            }
        }
        let mut bindings: Vec<(Key, Action)> = Vec::new();
        for action in Action::ALL {
            let texts: Vec<&str> = match keys.get(action.name()) {
                Some(text) => vec![text.as_str()],
                None => action.defaults().to_vec(),
            };
            for text in texts {
                let key = Key::parse(text)
                    .map_err(|e| KeymapError::BadKey { action: action.name().to_owned(), message: e.0 })?;
                if key == CTRL_C {
                    return Err(KeymapError::Conflict {
                        key: key.to_string(),
                        first: "quit (always)",
                        second: action.name(),
                    });
                }
                if let Some((_, other)) = bindings.iter().find(|(k, a)| *k == key && a.scope().overlaps(action.scope()))
                {
                    return Err(KeymapError::Conflict {
                        key: key.to_string(),
                        first: other.name(),
                        second: action.name(),
                    });
                }
                bindings.push((key, action));
            }
        }
        Ok(Self { bindings })
    }

    /// The action a key press means in `scope` (the view in front), if any.
    #[must_use]
    pub fn action(&self, ev: &KeyEvent, scope: Scope) -> Option<Action> {
        let key = Key::from_event(ev);
        self.bindings.iter().find(|(k, a)| *k == key && a.scope().overlaps(scope)).map(|(_, a)| *a)
    }

    /// The keys of an action, as shown to the user (`↑/k`).
    #[must_use]
    pub fn label(&self, action: Action) -> String {
        let keys: Vec<String> =
            self.bindings.iter().filter(|(_, a)| *a == action).map(|(k, _)| k.to_string()).collect();
        keys.join("/")
    }

    /// `(keys, description)` for every action, in a stable order.
    #[must_use]
    pub fn help(&self) -> Vec<(String, &'static str)> {
        self.help_where(|_| true).into_iter().map(|(keys, action)| (keys, action.describe())).collect()
    }

    /// What `?` shows in `scope`: the keys of that view first, then those of every view; the
    /// keys of other views are theirs to show. `keep` drops actions (read-only mode: the ones
    /// that write).
    #[must_use]
    pub fn help_for(&self, scope: Scope, keep: impl Fn(Action) -> bool) -> [Vec<(String, Action)>; 2] {
        let entries = self.help_where(keep);
        let (view, global): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .filter(|(_, a)| a.views().iter().any(|v| *v == scope || *v == Scope::Global))
            .partition(|(_, a)| !a.views().contains(&Scope::Global));
        [view, global]
    }

    /// `(keys, action)` for the actions that `keep` lets through (read-only mode drops the ones
    /// that write): what `?` shows, with the action's name for `[dashboard.keys]`.
    #[must_use]
    pub fn help_where(&self, keep: impl Fn(Action) -> bool) -> Vec<(String, Action)> {
        Action::ALL.iter().filter(|a| keep(**a)).map(|a| (self.label(*a), *a)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    impl Keymap {
        fn action_g(&self, ev: &KeyEvent) -> Option<Action> {
            self.action(ev, Scope::Global)
        }
    }

    #[test]
    fn a_key_may_mean_different_actions_in_views_that_do_not_overlap() {
        let k = Keymap::default();
        let t = press(KeyCode::Char('t'), KeyModifiers::NONE);
        assert_eq!(k.action(&t, Scope::History), Some(Action::Period));
        assert_eq!(k.action(&t, Scope::Live), None, "a History key does nothing on Live");
        let c = press(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(k.action(&c, Scope::Live), Some(Action::Checklist));
        assert_eq!(k.action(&c, Scope::History), Some(Action::Compare), "c is Compare in History");
        assert_eq!(k.action(&c, Scope::Metrics), None);
        // Two view actions on one key are fine; a view action on a global key is not.
        let s = press(KeyCode::Char('s'), KeyModifiers::NONE);
        let both = BTreeMap::from([("period".to_owned(), "s".to_owned())]);
        let k = Keymap::from_config(&both).expect("period (History) and metrics_scope (Metrics) may share s");
        assert_eq!(k.action(&s, Scope::History), Some(Action::Period));
        assert_eq!(k.action(&s, Scope::Metrics), Some(Action::MetricsScope));
        let clash = BTreeMap::from([("period".to_owned(), "c".to_owned())]);
        let err = Keymap::from_config(&clash).expect_err("c is compare in History").to_string();
        assert!(err.contains("compare") && err.contains("period"), "{err}");
        let clash = BTreeMap::from([("period".to_owned(), "q".to_owned())]);
        let err = Keymap::from_config(&clash).expect_err("q quits everywhere").to_string();
        assert!(err.contains("key \"q\" is bound to both quit and period"), "{err}");
    }

    #[test]
    fn defaults_cover_arrows_vim_keys_and_views() {
        let k = Keymap::default();
        assert_eq!(k.action_g(&press(KeyCode::Char('j'), KeyModifiers::NONE)), Some(Action::Down));
        assert_eq!(k.action_g(&press(KeyCode::Up, KeyModifiers::NONE)), Some(Action::Up));
        assert_eq!(k.action_g(&press(KeyCode::Char('3'), KeyModifiers::NONE)), Some(Action::ViewSchedule));
        assert_eq!(k.action_g(&press(KeyCode::BackTab, KeyModifiers::SHIFT)), Some(Action::PrevView));
        assert_eq!(k.action_g(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)), Some(Action::Bottom));
        assert_eq!(k.action_g(&press(KeyCode::Char(' '), KeyModifiers::NONE)), Some(Action::Pause));
        assert_eq!(k.action_g(&press(KeyCode::Char('z'), KeyModifiers::NONE)), None);
        assert_eq!(k.action_g(&press(KeyCode::Char('R'), KeyModifiers::SHIFT)), Some(Action::Retry));
        assert_eq!(k.action_g(&press(KeyCode::Char('r'), KeyModifiers::NONE)), Some(Action::Reject));
        assert_eq!(k.label(Action::Up), "↑/k");
    }

    #[test]
    fn a_rebound_action_keeps_only_its_new_key() {
        let keys = BTreeMap::from([("filter".to_owned(), "f".to_owned()), ("quit".to_owned(), "ctrl-q".to_owned())]);
        let k = Keymap::from_config(&keys).expect("valid");
        assert_eq!(k.action_g(&press(KeyCode::Char('f'), KeyModifiers::NONE)), Some(Action::Filter));
        assert_eq!(k.action_g(&press(KeyCode::Char('/'), KeyModifiers::NONE)), None);
        assert_eq!(k.action_g(&press(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        assert_eq!(k.action_g(&press(KeyCode::Char('Q'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert!(k.help().contains(&("f".to_owned(), Action::Filter.describe())));
    }

    #[test]
    fn replay_keys_act_on_live_only() {
        let k = Keymap::default();
        let key = |c: char| press(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(k.action(&press(KeyCode::Char('T'), KeyModifiers::SHIFT), Scope::Live), Some(Action::Replay));
        assert_eq!(k.action(&key('p'), Scope::Live), Some(Action::ReplayPlay));
        assert_eq!(k.action(&key('['), Scope::Live), Some(Action::ReplayBack));
        assert_eq!(k.action(&key(']'), Scope::Live), Some(Action::ReplayForward));
        for scope in [Scope::History, Scope::Metrics, Scope::Schedule] {
            assert_eq!(k.action(&key('p'), scope), None, "{scope:?}");
            assert_eq!(k.action(&press(KeyCode::Char('T'), KeyModifiers::SHIFT), scope), None, "{scope:?}");
        }
    }

    #[test]
    fn every_action_is_in_the_help_of_a_view_and_a_views_own_keys_come_first() {
        let k = Keymap::default();
        let views =
            [Scope::Live, Scope::Approvals, Scope::Schedule, Scope::Notifications, Scope::History, Scope::Metrics];
        for a in Action::ALL {
            assert!(views.iter().any(|v| k.help_for(*v, |_| true).iter().flatten().any(|(_, b)| *b == a)), "{a:?}");
        }
        let [own, all] = k.help_for(Scope::Approvals, |_| true);
        assert_eq!(
            own.iter().map(|(_, a)| *a).collect::<Vec<_>>(),
            [Action::Approve, Action::Reject, Action::Retry, Action::Abort, Action::Rollback]
        );
        assert!(all.iter().any(|(_, a)| *a == Action::Help) && !all.iter().any(|(_, a)| *a == Action::Compare));
    }

    #[test]
    fn bad_rebindings_name_the_action_and_the_key() {
        let err = |a: &str, k: &str| {
            Keymap::from_config(&BTreeMap::from([(a.to_owned(), k.to_owned())])).expect_err("invalid").to_string()
        };
        assert!(err("approve_all", "a").contains("unknown action \"approve_all\""));
        assert!(err("filter", "ctrl-").contains("\"ctrl-\" is not a key"));
        assert!(err("quit", "j").contains("key \"j\" is bound to both down and quit"));
        assert!(err("help", "ctrl-c").contains("quit (always)"));
    }
}
