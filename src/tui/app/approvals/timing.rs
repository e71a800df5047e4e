//! What stands between a gate and its approval in time, and whether the next phase would end
//! inside its change window and outside freezes: bake time left, when a window opens and
//! closes, the freeze in force, and the ETA's end. Pure functions of the policy, the config's
//! windows and freezes, and "now".

use crate::domain::gate::active_freeze;
use crate::domain::gate::view::ActionKind;
use crate::domain::schedule::{ChangeWindow, Freeze};
use crate::tui::data::Pending;
use chrono::{DateTime, TimeDelta, Utc};

/// The change-window rule as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowState {
    /// The gate names no window covering this environment.
    NotRequired,
    /// Open now, until `closes`.
    Open { name: String, closes: DateTime<Utc> },
    /// Closed: `name` opens next at `opens` and closes at `closes`.
    Closed { name: String, opens: DateTime<Utc>, closes: DateTime<Utc> },
    /// Closed, and none of the windows opens again.
    Never,
}

/// Why the next phase's ETA is a risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtaWarning {
    /// It would still run when the window closes.
    PastWindow { name: String, closes: DateTime<Utc> },
    /// It would run into a freeze of the environment.
    IntoFreeze { name: String, from: DateTime<Utc> },
}

/// The time rules of one inbox entry at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Bake time still to wait, until this instant.
    pub bake_until: Option<DateTime<Utc>>,
    pub window: WindowState,
    /// The freeze in force now, and until when.
    pub freeze: Option<(String, DateTime<Utc>)>,
    /// When the next phase could start if decided as soon as the rules allow.
    pub start: DateTime<Utc>,
    /// When it would end, given the ETA.
    pub end: Option<DateTime<Utc>>,
    pub warning: Option<EtaWarning>,
}

/// The window rule of a gate naming `names` in `environment` at `now`.
#[must_use]
pub fn window_state(names: &[String], windows: &[ChangeWindow], environment: &str, now: DateTime<Utc>) -> WindowState {
    let named: Vec<&ChangeWindow> =
        windows.iter().filter(|w| names.contains(&w.name) && w.applies_to(environment)).collect();
    if named.is_empty() {
        return WindowState::NotRequired;
    }
    if let Some((w, (_, closes))) = named.iter().find_map(|w| w.open_at(now).map(|o| (w, o))) {
        return WindowState::Open { name: w.name.clone(), closes };
    }
    named
        .iter()
        .filter_map(|w| w.next_open(now).map(|(opens, closes)| (w, opens, closes)))
        .min_by_key(|(_, opens, _)| *opens)
        .map_or(WindowState::Never, |(w, opens, closes)| WindowState::Closed { name: w.name.clone(), opens, closes })
}

/// The time rules of an inbox entry, and the risk of its ETA.
#[must_use]
pub fn timing(p: &Pending, windows: &[ChangeWindow], freezes: &[Freeze], now: DateTime<Utc>) -> Timing {
    let env = p.item.environment.as_str();
    let gate = p.item.gate.as_ref().filter(|_| p.item.kind == ActionKind::Gate);
    let bake_until = gate
        .and_then(|g| Some(g.previous.as_ref()?.finished_at? + g.policy.bake))
        .filter(|until| *until > now && gate.is_some_and(|g| g.policy.bake > TimeDelta::zero()));
    let window = gate.map_or(WindowState::NotRequired, |g| window_state(&g.policy.windows, windows, env, now));
    let freeze = active_freeze(freezes, env, now).map(|f| (f.name.clone(), f.until));
    let mut start = now.max(bake_until.unwrap_or(now));
    let mut closes = None;
    match &window {
        WindowState::Open { name, closes: c } => closes = Some((name.clone(), *c)),
        WindowState::Closed { name, opens, closes: c } => {
            start = start.max(*opens);
            closes = Some((name.clone(), *c));
        }
        WindowState::NotRequired | WindowState::Never => {}
    }
    let end = p.eta.map(|eta| start + eta);
    let warning = end.and_then(|end| {
        if let Some((name, c)) = closes.filter(|(_, c)| end > *c) {
            return Some(EtaWarning::PastWindow { name, closes: c });
        }
        freezes
            .iter()
            .filter(|f| f.applies_to(env) && f.from > start && f.from < end)
            .min_by_key(|f| f.from)
            .map(|f| EtaWarning::IntoFreeze { name: f.name.clone(), from: f.from })
    });
    Timing { bake_until, window, freeze, start, end, warning }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_weekday_evening_window_opens_at_six_in_berlin_and_not_for_staging() {
        let c = Config::built_in();
        let w = names(&["weekday-evenings", "weekend-nights"]);
        // Thursday 2026-11-26 11:30 Berlin.
        let now = utc("2026-11-26T10:30:00Z");
        assert_eq!(
            window_state(&w, &c.windows, "production", now),
            WindowState::Closed {
                name: "weekday-evenings".into(),
                opens: utc("2026-11-26T17:00:00Z"),
                closes: utc("2026-11-26T22:00:00Z")
            }
        );
        assert_eq!(window_state(&w, &c.windows, "staging", now), WindowState::NotRequired);
        assert_eq!(
            window_state(&w, &c.windows, "production", utc("2026-11-26T21:30:00Z")),
            WindowState::Open { name: "weekday-evenings".into(), closes: utc("2026-11-26T22:00:00Z") }
        );
    }
}
