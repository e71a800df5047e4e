//! Queries for following the log live: what changed since a sequence number, and header counts.
//!
//! The dashboard polls `PRAGMA data_version` and, when another process committed, asks only for
//! what is newer than the last event it saw. These queries walk the events' rowid range or the
//! `(deployment_id, seq)` index, so their cost follows the number of new events, not the size of
//! the log.

use super::queries::{EVENT_SELECT, event, target};
use super::{Store, StoreError};
use crate::domain::DeploymentKey;
use crate::domain::records::{StoredEvent, TargetView};
use rusqlite::params;

/// Deployments by status, for the dashboard's header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub running: usize,
    pub awaiting_approval: usize,
    /// Failed or rolled back since the instant asked for (e.g. midnight in the display zone).
    pub failed_since: usize,
}

/// New events of one deployment since a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touched {
    pub deployment: DeploymentKey,
    pub count: usize,
    pub newest_seq: i64,
}

impl Store {
    /// Runs `read` in one read transaction, so every query in it sees the same snapshot (no event
    /// without the target state it produced).
    pub fn read_snapshot<T>(&self, read: impl FnOnce(&Self) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql(e))?;
        let out = read(self)?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(out)
    }

    /// Which deployments have events after `seq`, how many and up to which seq.
    pub fn touched_since(&self, seq: i64) -> Result<Vec<Touched>, StoreError> {
        // NOT INDEXED: walk the rowid range of the new events; with the covering
        // (deployment_id, seq) index SQLite would scan the whole log to group.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT deployment_id, count(*), max(seq) FROM events NOT INDEXED WHERE seq > ?1 GROUP BY deployment_id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([seq], |r| {
                Ok(Touched { deployment: DeploymentKey(r.get(0)?), count: r.get(1)?, newest_seq: r.get(2)? })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// The newest `limit` events of one deployment after `seq`, oldest first.
    pub fn deployment_events_after(
        &self,
        key: DeploymentKey,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT * FROM ({EVENT_SELECT} WHERE e.deployment_id = ?1 AND e.seq > ?2 ORDER BY e.seq DESC LIMIT ?3) ORDER BY 1"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt.query_map(params![key.0, seq, limit], event).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// The targets of a deployment that have events after `seq`, in plan order.
    pub fn targets_changed_since(&self, key: DeploymentKey, seq: i64) -> Result<Vec<TargetView>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t.name, p.name, t.status, t.last_step, t.last_status, t.last_message, t.last_error, t.last_at_ms, t.seen_ms, t.labels
                 FROM targets t JOIN phases p ON p.id = t.phase_id
                 WHERE t.id IN (SELECT target_id FROM events WHERE deployment_id = ?1 AND seq > ?2 AND target_id IS NOT NULL)
                 ORDER BY t.id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt.query_map(params![key.0, seq], target).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// The highest deployment number in the log (0: none), to notice newly planned deployments.
    pub fn newest_deployment(&self) -> Result<i64, StoreError> {
        self.conn.query_row("SELECT coalesce(max(id), 0) FROM deployments", [], |r| r.get(0)).map_err(|e| self.sql(e))
    }

    /// Running and awaiting-approval deployments, and those that failed since `since`.
    pub fn status_counts(&self, since: chrono::DateTime<chrono::Utc>) -> Result<StatusCounts, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM deployments WHERE status = 'running'),
                        (SELECT count(*) FROM deployments WHERE status = 'awaiting_approval'),
                        (SELECT count(*) FROM deployments WHERE status IN ('failed', 'rolled_back') AND finished_ms >= ?1)",
            )
            .map_err(|e| self.sql(e))?;
        stmt.query_row([since.timestamp_millis()], |r| {
            Ok(StatusCounts { running: r.get(0)?, awaiting_approval: r.get(1)?, failed_since: r.get(2)? })
        })
        .map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TargetStatus;
    use crate::domain::event::parse_line;
    use crate::store::Submission;
    use crate::store::testing::Plan;
    use chrono::{DateTime, Utc};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z").expect("valid").with_timezone(&Utc)
    }

    fn plan(store: &mut Store, hosts: usize) -> DeploymentKey {
        Plan::new("phased", hosts).plan(store)
    }

    fn send(store: &mut Store, key: DeploymentKey, lines: &[(&str, &str, &str)]) {
        let events = lines
            .iter()
            .enumerate()
            .map(|(i, (id, host, status))| {
                let l = format!(
                    r#"{{"id":"{id}","deployment":"{key}","target":"{host}","step":"install","status":"{status}"}}"#
                );
                (i + 1, parse_line(&l, t0()).expect("valid"))
            })
            .collect();
        store.ingest(&[Submission { events, received_ms: t0().timestamp_millis() }]).expect("ingests");
    }

    #[test]
    fn only_what_changed_after_a_seq_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
        let a = plan(&mut store, 10);
        let b = plan(&mut store, 10);
        send(&mut store, a, &[("1", "web-01", "started"), ("2", "web-02", "started")]);
        let seen = store.last_seq().expect("seq");
        send(&mut store, a, &[("3", "web-02", "failed")]);
        send(&mut store, b, &[("1", "web-05", "started"), ("2", "web-06", "started")]);
        let touched = store.read_snapshot(|s| s.touched_since(seen)).expect("touched");
        assert_eq!(touched.iter().map(|t| (t.deployment, t.count)).collect::<Vec<_>>(), vec![(a, 1), (b, 2)]);
        let changed = store.targets_changed_since(a, seen).expect("targets");
        assert_eq!(changed.len(), 1);
        assert_eq!((changed[0].name.as_str(), changed[0].status), ("web-02", TargetStatus::Failed));
        let events = store.deployment_events_after(b, seen, 1).expect("events");
        assert_eq!(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), vec!["2"]);
        assert_eq!(store.newest_deployment().expect("newest"), b.0);
        let counts = store.status_counts(t0()).expect("counts");
        assert_eq!((counts.running, counts.awaiting_approval), (1, 0));
        assert_eq!(counts.failed_since, 1, "a pilot failure over budget fails the deployment");
    }
}
