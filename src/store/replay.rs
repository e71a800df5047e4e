//! What replay reads: one deployment's plan, every event and every recorded decision, in the
//! order the log took them (see `domain::replay`). Three reads, each walking an index.

use super::queries::{EVENT_SELECT, event};
use super::{Store, StoreError};
use crate::clock::from_ms;
use crate::domain::DeploymentKey;
use crate::domain::gate::Decision;
use crate::domain::replay::{LoggedDecision, ReplayLog};

impl Store {
    /// The deployment's log for a replay: as stored (with every target), its events in arrival
    /// order and its recorded decisions in recording order.
    pub fn replay_log(&self, key: DeploymentKey) -> Result<ReplayLog, StoreError> {
        let sql = |e| self.sql(e);
        let stored = self.detail(key, true)?;
        let events = self
            .conn
            .prepare_cached(&format!("{EVENT_SELECT} WHERE e.deployment_id = ?1 ORDER BY e.seq"))
            .map_err(sql)?
            .query_map([key.0], event)
            .map_err(sql)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql)?;
        let decisions = self
            .conn
            .prepare_cached(
                "SELECT p.name, g.decision, g.person, g.role, g.comment, g.decided_ms,
                        CASE WHEN json_valid(g.policy_state) THEN json_extract(g.policy_state, '$.events_before') END
                 FROM gate_decisions g JOIN phases p ON p.id = g.phase_id
                 WHERE p.deployment_id = ?1 AND g.outcome IS NULL AND g.subject IS NULL ORDER BY g.id",
            )
            .map_err(sql)?
            .query_map([key.0], |r| {
                Ok(LoggedDecision {
                    phase: r.get(0)?,
                    decision: r.get::<_, String>(1)?.parse().unwrap_or(Decision::Approve),
                    person: r.get(2)?,
                    role: r.get(3)?,
                    comment: r.get(4)?,
                    at: from_ms(r.get(5)?),
                    events_before: r.get(6)?,
                })
            })
            .map_err(sql)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql)?;
        Ok(ReplayLog { stored, events, decisions })
    }
}

#[cfg(test)]
mod tests;
