//! What stands between an inbox entry and its decision in time, and whether the next phase
//! would end inside its change window and outside freezes. The rules themselves (bake, windows,
//! freezes, the planned start, and the earliest instant they all hold) are
//! [`crate::domain::gate::timing`]: the same code the gate check refuses with, so the inbox
//! shows exactly what the check will say. This adds only the ETA's risks.

use crate::domain::gate::timing::time_state;
pub use crate::domain::gate::timing::{WindowState, window_state};
use crate::domain::gate::view::ActionKind;
use crate::domain::schedule::{ChangeWindow, Freeze};
use crate::tui::model::Pending;
use chrono::{DateTime, Utc};

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
    /// The planned start, while still ahead.
    pub planned_start: Option<DateTime<Utc>>,
    /// When the next phase could start if decided as soon as every time rule holds (`None`:
    /// no instant in the windows' horizon).
    pub start: Option<DateTime<Utc>>,
    /// When it would end, given the ETA.
    pub end: Option<DateTime<Utc>>,
    pub warning: Option<EtaWarning>,
}

/// The time rules of an inbox entry, and the risk of its ETA.
#[must_use]
pub fn timing(p: &Pending, windows: &[ChangeWindow], freezes: &[Freeze], now: DateTime<Utc>) -> Timing {
    let env = p.item.environment.as_str();
    let gate = p.item.gate.as_ref().filter(|_| p.item.kind == ActionKind::Gate);
    let (bake_until, window, freeze, planned_start, start) = match gate {
        Some(g) => {
            let rules = time_state(&g.time_facts(windows, freezes), now);
            (rules.bake_until, rules.window, rules.freeze, rules.planned_start, rules.earliest)
        }
        None => {
            // A failed phase: only a freeze holds a retry back (abort and rollback never wait).
            let mut start = now;
            while let Some(f) = crate::domain::gate::active_freeze(freezes, env, start) {
                start = f.until;
            }
            let freeze = crate::domain::gate::active_freeze(freezes, env, now).map(|f| (f.name.clone(), f.until));
            (None, WindowState::NotRequired, freeze, None, Some(start))
        }
    };
    // The window the next phase would start in, and when that occurrence closes.
    let closes = match (gate, start) {
        (Some(g), Some(s)) => match window_state(&g.policy.windows, windows, env, s) {
            WindowState::Open { name, closes } => Some((name, closes)),
            _ => None,
        },
        _ => None,
    };
    let end = start.zip(p.eta).map(|(s, eta)| s + eta);
    let warning = start.zip(end).and_then(|(start, end)| {
        if let Some((name, c)) = closes.filter(|(_, c)| end > *c) {
            return Some(EtaWarning::PastWindow { name, closes: c });
        }
        freezes
            .iter()
            .filter(|f| f.applies_to(env) && f.from > start && f.from < end)
            .min_by_key(|f| f.from)
            .map(|f| EtaWarning::IntoFreeze { name: f.name.clone(), from: f.from })
    });
    Timing { bake_until, window, freeze, planned_start, start, end, warning }
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
