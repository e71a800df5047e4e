//! The "failure budget nearly used" happening (`budget_nearly_used`): when a phase's failed
//! targets reach `notify.budget_warning` of its failure budget (80% by default), the requester
//! and subscribers are told, once per phase, in the transaction of the change that crossed it
//! (an agent's failure, or targets found lost).

use super::Store;
use crate::domain::PhaseCounts;
use rusqlite::{Connection, OptionalExtension, params};

/// The default share, as `[notify] budget_warning` defaults to.
pub(super) const DEFAULT_SHARE: f64 = 0.8;

impl Store {
    /// Sets the share of a phase's failure budget whose use is told (`notify.budget_warning`).
    pub fn set_budget_warning(&mut self, share: f64) {
        self.budget_warning = share;
    }
}

/// Tells that the phase's budget is nearly used, if its new counts reached `share` of it and
/// it was not told before.
pub(super) fn check(
    conn: &Connection,
    phase: i64,
    counts: &PhaseCounts,
    budget: usize,
    share: f64,
    now_ms: i64,
) -> rusqlite::Result<()> {
    if !counts.budget_nearly_used(budget, share) {
        return Ok(());
    }
    // Once per phase: the first crossing marks it.
    let marked = conn
        .prepare_cached(
            "UPDATE phases SET budget_warned_ms = ?2 WHERE id = ?1 AND budget_warned_ms IS NULL
             RETURNING deployment_id, name",
        )?
        .query_row(params![phase, now_ms], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .optional()?;
    let Some((deployment, name)) = marked else { return Ok(()) };
    let Some(dep) = super::gates::load_deployment(conn, deployment)? else { return Ok(()) };
    let text = (
        format!("DEP-{deployment} {name}: failure budget nearly used ({} of {budget} failed)", counts.failed),
        format!(
            "Phase {name} of {} in {} has {} failed target(s) of a budget of {budget}; {} more fail(s) the phase.",
            dep.release,
            dep.environment,
            counts.failed,
            budget + 1 - counts.failed
        ),
    );
    super::gates::views::notify_happening(conn, &dep, phase, "budget_nearly_used", true, text, now_ms)
}
