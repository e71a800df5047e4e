//! Reading the log: deployment lists, one deployment in detail, events.
//!
//! Every query here reads derived state or walks an index in order, so answers stay fast however
//! many events the log holds.

use super::{Store, StoreError};
use crate::clock::from_ms;
use crate::domain::records::{DeploymentDetail, DeploymentSummary, PhaseView, StoredEvent, TargetView, Verification};
use crate::domain::{DeploymentKey, DeploymentStatus, GatePolicy};
use rusqlite::{OptionalExtension, Row, params};

/// Which deployments to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only these statuses (empty: all).
    pub statuses: Vec<DeploymentStatus>,
    /// At most this many, newest first (0: no limit).
    pub limit: usize,
}

const SUMMARY_SELECT: &str = "
    SELECT d.id, r.name, r.version, d.change_ref, d.environment, d.model, d.technique, d.requested_by, d.status,
           d.planned_ms, d.created_ms, d.started_ms, d.finished_ms, d.steps, d.target_count,
           (SELECT coalesce(sum(p.succeeded), 0) FROM phases p WHERE p.deployment_id = d.id),
           (SELECT coalesce(sum(p.failed), 0) FROM phases p WHERE p.deployment_id = d.id),
           (SELECT coalesce(sum(p.running), 0) FROM phases p WHERE p.deployment_id = d.id),
           coalesce((SELECT p.name FROM phases p WHERE p.deployment_id = d.id AND p.status NOT IN ('succeeded') ORDER BY p.idx LIMIT 1),
                    (SELECT p.name FROM phases p WHERE p.deployment_id = d.id ORDER BY p.idx DESC LIMIT 1)),
           d.last_event_seq
    FROM deployments d JOIN releases r ON r.id = d.release_id";

fn summary(r: &Row<'_>) -> rusqlite::Result<DeploymentSummary> {
    Ok(DeploymentSummary {
        key: DeploymentKey(r.get(0)?),
        release: r.get(1)?,
        version: r.get(2)?,
        change_ref: r.get(3)?,
        environment: r.get(4)?,
        model: r.get(5)?,
        technique: r.get(6)?,
        requested_by: r.get(7)?,
        status: r.get::<_, String>(8)?.parse().unwrap_or(DeploymentStatus::Planned),
        planned_at: from_ms(r.get(9)?),
        created_at: from_ms(r.get(10)?),
        started_at: r.get::<_, Option<i64>>(11)?.map(from_ms),
        finished_at: r.get::<_, Option<i64>>(12)?.map(from_ms),
        steps: serde_json::from_str(&r.get::<_, String>(13)?).unwrap_or_default(),
        targets: r.get(14)?,
        succeeded: r.get(15)?,
        failed: r.get(16)?,
        running: r.get(17)?,
        current_phase: r.get(18)?,
        last_event_seq: r.get(19)?,
    })
}

/// Maps a row of `name, phase, status, last_step, last_status, last_message, last_error,
/// last_at_ms, seen_ms, labels` to a target.
pub(super) fn target(r: &Row<'_>) -> rusqlite::Result<TargetView> {
    Ok(TargetView {
        name: r.get(0)?,
        phase: r.get(1)?,
        status: r.get::<_, String>(2)?.parse().unwrap_or(crate::domain::TargetStatus::Pending),
        last_step: r.get(3)?,
        last_status: r.get::<_, Option<String>>(4)?.and_then(|s| s.parse().ok()),
        last_message: r.get(5)?,
        last_error: r.get(6)?,
        last_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
        // 0: never heard from its agent (only events reported on its behalf).
        seen_at: r.get::<_, Option<i64>>(8)?.filter(|ms| *ms > 0).map(from_ms),
        labels: r.get::<_, Option<String>>(9)?.and_then(|l| serde_json::from_str(&l).ok()).unwrap_or_default(),
    })
}

pub(super) const EVENT_SELECT: &str = "
    SELECT e.seq, e.event_id, e.deployment_id, p.name, coalesce(t.name, e.target_name), e.step, e.status, e.at_ms, e.received_ms, e.message, e.data
    FROM events e LEFT JOIN phases p ON p.id = e.phase_id LEFT JOIN targets t ON t.id = e.target_id";

pub(super) fn event(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        id: r.get(1)?,
        deployment: DeploymentKey(r.get(2)?),
        phase: r.get(3)?,
        target: r.get(4)?,
        step: r.get(5)?,
        status: r.get::<_, String>(6)?.parse().unwrap_or(crate::domain::EventStatus::Info),
        at: from_ms(r.get(7)?),
        received_at: from_ms(r.get(8)?),
        message: r.get(9)?,
        data: r.get(10)?,
    })
}

impl Store {
    /// Deployments, newest first.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<DeploymentSummary>, StoreError> {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let mut sql = SUMMARY_SELECT.to_owned();
        if !statuses.is_empty() {
            sql.push_str(" WHERE d.status IN (SELECT value FROM json_each(?1))");
        } else {
            sql.push_str(" WHERE ?1 IS NOT NULL");
        }
        sql.push_str(" ORDER BY d.id DESC");
        if filter.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", filter.limit));
        }
        let wanted = serde_json::to_string(&statuses).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([wanted], summary).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// One deployment, without targets.
    pub fn summary(&self, key: DeploymentKey) -> Result<DeploymentSummary, StoreError> {
        let sql = format!("{SUMMARY_SELECT} WHERE d.id = ?1");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        stmt.query_row([key.0], summary)
            .optional()
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| StoreError::UnknownDeployment(key.to_string()))
    }

    /// One deployment with its phases in order and, if `with_targets`, every target.
    pub fn detail(&self, key: DeploymentKey, with_targets: bool) -> Result<DeploymentDetail, StoreError> {
        let summary = self.summary(key)?;
        let phases = self.phases(key)?;
        let target_list = if with_targets { self.targets(key)? } else { Vec::new() };
        let Verification { release_record, checklist, conformance } = self.verification(key)?;
        let switch = self.switchover(key)?;
        let supervised = self.supervised(key)?.map(|(run, of)| crate::domain::records::Supervision { run, of });
        Ok(DeploymentDetail {
            summary,
            phases,
            target_list,
            release_record,
            checklist,
            conformance,
            switch,
            supervised,
        })
    }

    /// A deployment's release record, checklist and conformance flags.
    pub fn verification(&self, key: DeploymentKey) -> Result<Verification, StoreError> {
        let release_record = self
            .conn
            .prepare_cached("SELECT release_record FROM deployments WHERE id = ?1")
            .and_then(|mut s| s.query_row([key.0], |r| r.get::<_, Option<String>>(0)))
            .map_err(|e| self.sql(e))?
            .and_then(|json| serde_json::from_str(&json).ok());
        Ok(Verification { release_record, checklist: self.checklist(key)?, conformance: self.conformance(Some(key))? })
    }

    /// The phases of a deployment, in order.
    pub fn phases(&self, key: DeploymentKey) -> Result<Vec<PhaseView>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, name, status, target_count, succeeded, failed, running, failure_budget, gate, started_ms, finished_ms
                 FROM phases WHERE deployment_id = ?1 ORDER BY idx",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([key.0], |r| {
                let targets: usize = r.get(3)?;
                let (succeeded, failed, running): (usize, usize, usize) = (r.get(4)?, r.get(5)?, r.get(6)?);
                let failure_budget: usize = r.get(7)?;
                Ok(PhaseView {
                    index: r.get(0)?,
                    name: r.get(1)?,
                    status: r.get::<_, String>(2)?.parse().unwrap_or(crate::domain::PhaseStatus::Pending),
                    targets,
                    succeeded,
                    failed,
                    running,
                    pending: targets.saturating_sub(succeeded + failed + running),
                    failure_budget,
                    budget_left: failure_budget.saturating_sub(failed),
                    gate: r.get::<_, Option<String>>(8)?.and_then(|g| serde_json::from_str::<GatePolicy>(&g).ok()),
                    started_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
                    finished_at: r.get::<_, Option<i64>>(10)?.map(from_ms),
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// Every target of a deployment, in phase and plan order.
    pub fn targets(&self, key: DeploymentKey) -> Result<Vec<TargetView>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t.name, p.name, t.status, t.last_step, t.last_status, t.last_message, t.last_error, t.last_at_ms, t.seen_ms, t.labels
                 FROM targets t JOIN phases p ON p.id = t.phase_id WHERE t.deployment_id = ?1 ORDER BY p.idx, t.id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([key.0], target).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// The newest `limit` events of a deployment, oldest first.
    pub fn events(&self, key: DeploymentKey, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.summary(key)?;
        let sql = format!(
            // The newest arrivals, shown by when they happened (`at`, then arrival).
            "SELECT * FROM ({EVENT_SELECT} WHERE e.deployment_id = ?1 ORDER BY e.seq DESC LIMIT ?2) ORDER BY 8, 1"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt.query_map(params![key.0, limit], event).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// The newest `limit` events of one target, oldest first.
    pub fn target_events(
        &self,
        key: DeploymentKey,
        target: &str,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // Walk the target's chain of events from its newest (events.prev_seq).
        let sql = format!(
            "WITH RECURSIVE chain(seq, n) AS (
                 SELECT head_seq, 1 FROM targets WHERE deployment_id = ?1 AND name = ?2 AND head_seq IS NOT NULL
                 UNION ALL
                 SELECT e.prev_seq, chain.n + 1 FROM chain JOIN events e ON e.seq = chain.seq
                 WHERE e.prev_seq IS NOT NULL AND chain.n < ?3)
             {EVENT_SELECT} WHERE e.seq IN (SELECT seq FROM chain) ORDER BY e.seq"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt.query_map(params![key.0, target, limit], event).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// Events stored after `seq`, oldest first, at most `limit` (for following the log).
    pub fn events_after(&self, seq: i64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!("{EVENT_SELECT} WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt.query_map(params![seq, limit], event).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// The newest event sequence number in the log (0 when empty).
    pub fn last_seq(&self) -> Result<i64, StoreError> {
        self.conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0)).map_err(|e| self.sql(e))
    }
}
