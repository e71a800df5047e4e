//! Scheduling: the one path `plan --start`, `reschedule`, `schedule next`, the calendar view,
//! the demo and the benchmark take to estimate a run, find its conflicts and the next free slot.
//!
//! A run lasts what its model's history predicts (the same estimate the Approvals inbox shows:
//! each phase's fitted wall time for its hosts, plus each gate's bake), or `schedule.phase_estimate`
//! per phase for a model that never ran. Its calendar is the log's: the windows and freezes
//! stored with the team, the emergency freezes declared at run time, the deployments that hold a
//! slot, and the environment's `max_concurrent` from the config.

use super::Operator;
use crate::config::Config;
use crate::domain::calendar::{self, Booking, Calendar, Conflict, Run, Skipped};
use crate::domain::team::TimeRules;
use crate::domain::{DeploymentModel, plan};
use crate::store::{Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};

/// How long a run of `model` over `targets` should take.
pub fn run_length(
    store: &Store,
    config: &Config,
    model_name: &str,
    model: &DeploymentModel,
    targets: &crate::domain::inventory::Inventory,
) -> Result<TimeDelta, StoreError> {
    let phases = plan::plan(model, targets)?;
    let estimate = store.estimate(model_name)?;
    Ok(length_of(&phases, estimate.as_ref(), config.schedule.phase_estimate))
}

/// The length of planned phases under an estimate (or `fallback` per phase without one).
#[must_use]
pub fn length_of(
    phases: &[plan::PlannedPhase],
    estimate: Option<&crate::store::Estimate>,
    fallback: TimeDelta,
) -> TimeDelta {
    let total: TimeDelta = phases
        .iter()
        .filter(|p| !p.targets.is_empty())
        .map(|p| {
            let run = estimate.map_or(fallback, |e| e.phase(p.targets.len()));
            run + p.gate.as_ref().map_or(TimeDelta::zero(), |g| g.bake)
        })
        .sum();
    // The calendar looks back this far for runs still going: no estimate is longer.
    total.min(TimeDelta::milliseconds(crate::store::LOOKBACK_MS))
}

/// A run to check or place: what is deployed where, over which targets, for how long.
#[derive(Debug, Clone)]
pub struct Proposal<'a> {
    /// The deployment itself when it is rescheduled.
    pub key: Option<crate::domain::DeploymentKey>,
    pub service: &'a str,
    pub environment: &'a str,
    pub targets: &'a [String],
    pub length: TimeDelta,
}

/// The calendar of one environment as the log holds it.
pub struct Loaded {
    pub rules: TimeRules,
    pub bookings: Vec<Booking>,
    pub max_concurrent: Option<u32>,
}

impl Loaded {
    /// The calendar to check runs against.
    #[must_use]
    pub fn calendar(&self) -> Calendar<'_> {
        Calendar {
            windows: &self.rules.windows,
            freezes: &self.rules.freezes,
            bookings: &self.bookings,
            max_concurrent: self.max_concurrent,
        }
    }
}

/// Loads what runs in `[from, until)` may conflict with.
pub fn load(
    store: &Store,
    config: &Config,
    p: &Proposal<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Loaded, StoreError> {
    Ok(Loaded {
        rules: super::time_rules(config, store)?,
        bookings: store.bookings(from, until, p.targets)?,
        max_concurrent: config.environments.iter().find(|e| e.name == p.environment).and_then(|e| e.max_concurrent),
    })
}

/// Every conflict of the proposal starting at `start`.
pub fn conflicts(
    store: &Store,
    config: &Config,
    p: &Proposal<'_>,
    start: DateTime<Utc>,
) -> Result<Vec<Conflict>, StoreError> {
    let end = start + p.length;
    let loaded = load(store, config, p, start, end)?;
    let run = Run { key: p.key, service: p.service, environment: p.environment, start, end };
    Ok(calendar::conflicts(&loaded.calendar(), &run))
}

/// The earliest conflict-free start at or after `after`, and the starts skipped on the way.
pub fn next(
    store: &Store,
    config: &Config,
    p: &Proposal<'_>,
    after: DateTime<Utc>,
) -> Result<(Option<DateTime<Utc>>, Vec<Skipped>), StoreError> {
    let horizon = config.schedule.horizon;
    let loaded = load(store, config, p, after, after + horizon + p.length)?;
    let run = Run { key: p.key, service: p.service, environment: p.environment, start: after, end: after + p.length };
    Ok(calendar::next_slot(&loaded.calendar(), &run, p.length, after, horizon))
}

/// Whether `who` may plan over conflicts: the role of the log's team's `override_roles` they
/// hold, or the sentence that refuses it.
pub fn override_role(store: &Store, who: &Operator) -> Result<String, String> {
    let team = store.team().map_err(|e| e.to_string())?;
    let Some(team) = team else { return Err("the log holds no team yet, so nobody may override".into()) };
    let roles = &team.policy.schedule.override_roles;
    let Some(m) = team.person(&who.name) else {
        return Err(format!("\"{}\" is not a person of the log's team", who.name));
    };
    crate::domain::team::Team::role_in(m, roles).map(str::to_owned).ok_or_else(|| {
        format!(
            "{} holds none of the roles allowed to override schedule conflicts ({})",
            who.name,
            if roles.is_empty() { "none configured".to_owned() } else { roles.join(", ") }
        )
    })
}

/// Everything on the log's calendar in `[from, until)` (see [`calendar::entries`]).
pub fn entries(
    store: &Store,
    config: &Config,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<Vec<calendar::Entry>, StoreError> {
    let rules = super::time_rules(config, store)?;
    let emergency: Vec<String> = store.emergency_freezes()?.into_iter().map(|f| f.name).collect();
    let bookings = store.calendar(from, until)?;
    let max = |env: &str| config.environments.iter().find(|e| e.name == env).and_then(|e| e.max_concurrent);
    Ok(calendar::entries(&rules.windows, &rules.freezes, &emergency, &bookings, &max, (from, until), now))
}

/// The next `n` happenings from `now` (within 60 days): windows opening, freezes starting,
/// scheduled deployments starting.
pub fn upcoming(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    n: usize,
) -> Result<Vec<(DateTime<Utc>, calendar::Happening)>, StoreError> {
    let horizon = TimeDelta::days(60);
    let rules = super::time_rules(config, store)?;
    let bookings = store.bookings(now, now + horizon, &[])?;
    Ok(calendar::upcoming(&rules.windows, &rules.freezes, &bookings, now, horizon, n))
}

/// The conflicts as JSON, for the audit trail.
#[must_use]
pub fn as_json(conflicts: &[Conflict]) -> serde_json::Value {
    serde_json::to_value(conflicts).unwrap_or_default()
}

/// Parses a time given on the command line: RFC 3339, or `YYYY-MM-DDTHH:MM` (also with a space)
/// in `zone`. A local time in a DST gap is refused, naming it; in an overlap, the earlier.
pub fn parse_time(flag: &str, text: &str, zone: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    use chrono::TimeZone;
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .ok_or_else(|| format!("{flag} \"{text}\" is not a time (RFC 3339, or YYYY-MM-DDTHH:MM in {zone})"))?;
    zone.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc)).ok_or_else(|| {
        format!("{flag} \"{text}\" does not exist in {zone} (the clocks skip it when summer time starts)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_the_zone_and_a_dst_gap_is_named() {
        let z = chrono_tz::Europe::Berlin;
        assert_eq!(
            parse_time("--start", "2026-11-27T18:00", z).map(|t| t.to_rfc3339()),
            Ok("2026-11-27T17:00:00+00:00".into())
        );
        assert_eq!(
            parse_time("--start", "2026-11-27T18:00:00Z", z).map(|t| t.to_rfc3339()),
            Ok("2026-11-27T18:00:00+00:00".into())
        );
        let gap = parse_time("--start", "2027-03-28T02:30", z).expect_err("gap");
        assert!(gap.contains("\"2027-03-28T02:30\" does not exist"), "{gap}");
        let bad = parse_time("--until", "tomorrow", z).expect_err("bad");
        assert!(bad.starts_with("--until \"tomorrow\" is not a time"), "{bad}");
    }
}
