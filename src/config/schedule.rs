//! `[schedule]`: who may declare emergency freezes and plan over a conflict, and how long a
//! phase counts when its model has no history to estimate from.
//!
//! The roles are stored in the log with the team (`team sync`), like every rule about who may do
//! what: a caller's own config counts for nothing.

use crate::domain::duration;
use crate::domain::team::SchedulePolicy;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

/// `[schedule]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Roles that may declare and end emergency freezes (`shipdeck freeze add` / `freeze end`).
    pub freeze_roles: Vec<String>,
    /// Roles that may plan or reschedule over a conflict (`--force --reason`).
    pub override_roles: Vec<String>,
    /// How long a phase counts when its model has no succeeded phase to learn from.
    #[serde(with = "duration::serde_text")]
    pub phase_estimate: TimeDelta,
    /// How far ahead `schedule next` looks for a free slot.
    #[serde(with = "duration::serde_text")]
    pub horizon: TimeDelta,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        let defaults = SchedulePolicy::default();
        Self {
            freeze_roles: defaults.freeze_roles,
            override_roles: defaults.override_roles,
            phase_estimate: TimeDelta::minutes(30),
            horizon: TimeDelta::days(60),
        }
    }
}

impl ScheduleConfig {
    /// Durations must be positive. (A role nobody holds means nobody may: never "anyone".)
    pub(super) fn check(&self) -> Result<(), (String, String)> {
        for (key, value) in [("schedule.phase_estimate", self.phase_estimate), ("schedule.horizon", self.horizon)] {
            if value <= TimeDelta::zero() {
                return Err((key.into(), "must be longer than 0s".into()));
            }
        }
        Ok(())
    }

    /// The roles as the team stores them.
    #[must_use]
    pub fn policy(&self) -> SchedulePolicy {
        SchedulePolicy { freeze_roles: self.freeze_roles.clone(), override_roles: self.override_roles.clone() }
    }
}
