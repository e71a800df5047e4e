//! The time rules of a gate, in one place: bake time, change windows, freezes and the planned
//! start. The gate check ([`super::check_gate`]) refuses with them, and the Approvals inbox and
//! `gate show` show them, so what a screen says is exactly what the check will say.
//!
//! [`earliest`] answers the question people actually ask: *when* can this be approved? It is the
//! first instant at which every time rule holds at once, not the end of the first rule that
//! blocks (a bake that ends at 06:28 is no use when the window opens the next evening).

use super::{Previous, active_freeze};
use crate::domain::GatePolicy;
use crate::domain::schedule::{ChangeWindow, Freeze};
use chrono::{DateTime, TimeDelta, Utc};

/// What the time rules of a gate look at.
#[derive(Debug, Clone, Copy)]
pub struct TimeFacts<'a> {
    pub policy: &'a GatePolicy,
    pub environment: &'a str,
    pub previous: Previous,
    /// When the deployment is planned to start: nothing is approved before it.
    pub planned_start: DateTime<Utc>,
    pub windows: &'a [ChangeWindow],
    pub freezes: &'a [Freeze],
}

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

/// Where every time rule of a gate stands at one instant (the rules themselves are a
/// [`crate::domain::schedule::TimeRules`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeState {
    /// Bake time still to wait, until this instant.
    pub bake_until: Option<DateTime<Utc>>,
    pub window: WindowState,
    /// The freeze in force now, and until when.
    pub freeze: Option<(String, DateTime<Utc>)>,
    /// The planned start, while it is still ahead.
    pub planned_start: Option<DateTime<Utc>>,
    /// The first instant from now at which every rule holds (`now` when they all hold now);
    /// `None` when no instant in the windows' horizon does.
    pub earliest: Option<DateTime<Utc>>,
}

impl TimeState {
    /// Whether every time rule holds now.
    #[must_use]
    pub fn all_hold(&self, now: DateTime<Utc>) -> bool {
        self.earliest == Some(now)
    }
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

/// When the bake after the phase before ends, if the policy bakes and that phase succeeded.
#[must_use]
pub fn bake_end(facts: &TimeFacts<'_>) -> Option<DateTime<Utc>> {
    match facts.previous {
        Previous::SucceededAt(since) if facts.policy.bake > TimeDelta::zero() => Some(since + facts.policy.bake),
        _ => None,
    }
}

/// How many times the rules may push the instant later before giving up (each step moves it to
/// the end of a rule, so a handful suffices for any real calendar).
const MAX_STEPS: usize = 64;

/// The first instant at or after `from` when every time rule holds; a freeze is left out when
/// the person overrides it. `None`: none in the horizon the windows are computed for.
#[must_use]
pub fn earliest(facts: &TimeFacts<'_>, from: DateTime<Utc>, freeze_overridden: bool) -> Option<DateTime<Utc>> {
    let mut t = from.max(facts.planned_start);
    if let Some(end) = bake_end(facts) {
        t = t.max(end);
    }
    for _ in 0..MAX_STEPS {
        if !freeze_overridden && let Some(f) = active_freeze(facts.freezes, facts.environment, t) {
            t = f.until;
            continue;
        }
        match window_state(&facts.policy.windows, facts.windows, facts.environment, t) {
            WindowState::NotRequired | WindowState::Open { .. } => return Some(t),
            WindowState::Closed { opens, .. } => t = opens,
            WindowState::Never => return None,
        }
    }
    None
}

/// Every time rule of a gate at `now`, and when they all hold.
#[must_use]
pub fn time_state(facts: &TimeFacts<'_>, now: DateTime<Utc>) -> TimeState {
    TimeState {
        bake_until: bake_end(facts).filter(|until| *until > now),
        window: window_state(&facts.policy.windows, facts.windows, facts.environment, now),
        freeze: active_freeze(facts.freezes, facts.environment, now).map(|f| (f.name.clone(), f.until)),
        planned_start: Some(facts.planned_start).filter(|s| *s > now),
        earliest: earliest(facts, now, false),
    }
}

#[cfg(test)]
mod tests;
