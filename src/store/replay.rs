//! What replay reads: one deployment's plan, every event and every recorded decision, in the
//! order the log took them (see `domain::replay`). Three reads, each walking an index.

use super::{Store, StoreError};
use crate::clock::from_ms;
use crate::domain::DeploymentKey;
use crate::domain::gate::Decision;
use crate::domain::records::StoredEvent;
use crate::domain::replay::{LoggedDecision, ReplayLog};
use std::collections::HashMap;

impl Store {
    /// The deployment's log for a replay: as stored (with every target), its events in arrival
    /// order and its recorded decisions in recording order.
    pub fn replay_log(&self, key: DeploymentKey) -> Result<ReplayLog, StoreError> {
        let sql = |e| self.sql(e);
        let stored = self.detail(key, true)?;
        // Names by id, read once: a join per event would look each one up again.
        let names = |query: &str| -> Result<HashMap<i64, String>, StoreError> {
            self.conn
                .prepare_cached(query)
                .map_err(sql)?
                .query_map([key.0], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql)
        };
        let phases = names("SELECT id, name FROM phases WHERE deployment_id = ?1")?;
        let targets = names("SELECT id, name FROM targets WHERE deployment_id = ?1")?;
        let events = self
            .conn
            .prepare_cached(
                "SELECT seq, event_id, phase_id, target_id, target_name, step, status, at_ms, received_ms, message, data
                 FROM events WHERE deployment_id = ?1 ORDER BY seq",
            )
            .map_err(sql)?
            .query_map([key.0], |r| {
                let target: Option<String> = match r.get::<_, Option<i64>>(3)? {
                    Some(id) => targets.get(&id).cloned(),
                    None => r.get(4)?,
                };
                Ok(StoredEvent {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    deployment: key,
                    phase: r.get::<_, Option<i64>>(2)?.and_then(|id| phases.get(&id).cloned()),
                    target,
                    step: r.get(5)?,
                    status: r.get::<_, String>(6)?.parse().unwrap_or(crate::domain::EventStatus::Info),
                    at: from_ms(r.get(7)?),
                    received_at: from_ms(r.get(8)?),
                    message: r.get(9)?,
                    data: r.get(10)?,
                })
            })
            .map_err(sql)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql)?;
        let decisions = self
            .conn
            .prepare_cached(
                "SELECT p.name, g.decision, g.person, g.role, g.comment, g.decided_ms,
                        CASE WHEN json_valid(g.policy_state) THEN json_extract(g.policy_state, '$.events_before') END
                 FROM gate_decisions g JOIN phases p ON p.id = g.phase_id
                 WHERE p.deployment_id = ?1 AND g.outcome IS NULL AND g.subject IS NULL
                   AND g.decision IN ('approve', 'reject', 'retry', 'abort', 'rollback') ORDER BY g.id",
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
