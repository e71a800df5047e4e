//! What the benchmarks (`shipdeck-bench`, built with `--features bench`) need from the log that
//! the product does not: SQLite's raw append rate as a baseline, and every event's stamps.
//!
//! Here because all SQL lives in `store`; compiled only with the `bench` feature.

use super::{Store, StoreError};
use crate::domain::{AgentEvent, DeploymentKey};
use std::time::Instant;

/// Rows per transaction of the raw baseline.
const RAW_CHUNK: usize = 10_000;

impl Store {
    /// SQLite's own append rate for these rows on this machine, in rows per second: one prepared
    /// statement, 10,000-row transactions, a scratch table with no index. The ceiling for ingest.
    /// The scratch table is dropped afterwards.
    pub fn raw_append_rate(&mut self, events: &[AgentEvent]) -> Result<f64, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        self.conn
            .execute_batch(
                "DROP TABLE IF EXISTS bench_raw;
                 CREATE TABLE bench_raw (deployment_id INTEGER, phase_id INTEGER, target_id INTEGER, event_id TEXT,
                                         step TEXT, status TEXT, at_ms INTEGER, received_ms INTEGER, message TEXT,
                                         data TEXT);",
            )
            .map_err(sql)?;
        let start = Instant::now();
        for chunk in events.chunks(RAW_CHUNK) {
            let tx = self.conn.transaction().map_err(sql)?;
            {
                let mut stmt = tx
                    .prepare_cached("INSERT INTO bench_raw VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
                    .map_err(sql)?;
                for (i, e) in chunk.iter().enumerate() {
                    stmt.execute(rusqlite::params![
                        1,
                        1,
                        i,
                        e.id,
                        e.step,
                        e.status.as_str(),
                        e.at.timestamp_millis(),
                        e.at.timestamp_millis(),
                        e.message,
                        e.data
                    ])
                    .map_err(sql)?;
                }
            }
            tx.commit().map_err(sql)?;
        }
        let rate = events.len() as f64 / start.elapsed().as_secs_f64().max(1e-9);
        self.conn.execute_batch("DROP TABLE bench_raw;").map_err(sql)?;
        Ok(rate)
    }

    /// Every event of a deployment as (sequence number, agent's `at` in ms), in log order.
    pub fn event_stamps(&self, key: DeploymentKey) -> Result<Vec<(i64, i64)>, StoreError> {
        let sql = |source| StoreError::Sql { path: self.path.clone(), source };
        let mut stmt =
            self.conn.prepare("SELECT seq, at_ms FROM events WHERE deployment_id = ?1 ORDER BY seq").map_err(sql)?;
        let rows = stmt.query_map([key.0], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }
}

impl Store {
    /// The floor of a History page: the same deployments' own columns, read one by one by key
    /// (no filter, no order, no counts). Returns the rows read.
    pub fn deployments_by_key(&self, keys: &[DeploymentKey]) -> Result<usize, StoreError> {
        let sql = |source| StoreError::Sql { path: self.path.clone(), source };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.id, r.name, r.version, d.environment, d.model, d.requested_by, d.status, d.started_ms,
                        d.finished_ms, d.planned_ms, d.target_count
                 FROM deployments d JOIN releases r ON r.id = d.release_id WHERE d.id = ?1",
            )
            .map_err(sql)?;
        let mut read = 0;
        for key in keys {
            let mut rows = stmt.query([key.0]).map_err(sql)?;
            while let Some(r) = rows.next().map_err(sql)? {
                let text: [String; 6] = [
                    r.get(1).map_err(sql)?,
                    r.get(2).map_err(sql)?,
                    r.get(3).map_err(sql)?,
                    r.get(4).map_err(sql)?,
                    r.get(5).map_err(sql)?,
                    r.get(6).map_err(sql)?,
                ];
                read += usize::from(!text[0].is_empty());
            }
        }
        Ok(read)
    }

    /// The floor of a drill-down: every target, phase and decision row of one deployment, read
    /// by its key, columns as stored. Returns the rows read.
    pub fn deployment_rows(&self, key: DeploymentKey) -> Result<usize, StoreError> {
        let sql = |source| StoreError::Sql { path: self.path.clone(), source };
        let mut read = 0;
        for query in [
            "SELECT name, status, progress, coalesce(last_error, last_message, '') FROM targets WHERE deployment_id = ?1",
            "SELECT name, status, coalesce(gate, ''), '' FROM phases WHERE deployment_id = ?1",
            "SELECT decision, person, coalesce(comment, ''), coalesce(reason, '') FROM gate_decisions WHERE deployment_id = ?1",
        ] {
            let mut stmt = self.conn.prepare_cached(query).map_err(sql)?;
            let mut rows = stmt.query([key.0]).map_err(sql)?;
            while let Some(r) = rows.next().map_err(sql)? {
                let cells: [String; 4] =
                    [r.get(0).map_err(sql)?, r.get(1).map_err(sql)?, r.get(2).map_err(sql)?, r.get(3).map_err(sql)?];
                read += usize::from(!cells[0].is_empty());
            }
        }
        Ok(read)
    }
}

impl Store {
    /// The floor of the KPIs over `[from_ms, until_ms)`: the same rows they read (finished
    /// deployments with their release, the phases and the approvals and retries of their id
    /// range), scanned plainly with nothing computed. Returns how many rows were read.
    pub fn kpi_floor(&self, from_ms: i64, until_ms: i64) -> Result<usize, StoreError> {
        let sql = |source| StoreError::Sql { path: self.path.clone(), source };
        let mut rows = 0;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT d.id, r.name, d.environment, d.model, d.status, d.created_ms, d.started_ms, d.finished_ms
                     FROM deployments d JOIN releases r ON r.id = d.release_id
                     WHERE d.finished_ms IS NOT NULL AND d.finished_ms >= ?1 AND d.finished_ms < ?2",
                )
                .map_err(sql)?;
            let mut q = stmt.query(rusqlite::params![from_ms, until_ms]).map_err(sql)?;
            while let Some(r) = q.next().map_err(sql)? {
                let id: i64 = r.get(0).map_err(sql)?;
                (lo, hi) = (lo.min(id), hi.max(id));
                rows += 1;
            }
        }
        for query in [
            "SELECT id, deployment_id, name, gate, gate_opened_ms, finished_ms, failed, status FROM phases
             WHERE deployment_id BETWEEN ?1 AND ?2",
            "SELECT deployment_id, phase_id, decision, person, role, decided_ms FROM gate_decisions
             WHERE deployment_id BETWEEN ?1 AND ?2 AND decision IN ('approve', 'retry')",
        ] {
            let mut stmt = self.conn.prepare_cached(query).map_err(sql)?;
            let mut q = stmt.query(rusqlite::params![lo, hi]).map_err(sql)?;
            while q.next().map_err(sql)?.is_some() {
                rows += 1;
            }
        }
        Ok(rows)
    }

    /// The floor of the model review over finished deployments in `[from_ms, until_ms)`: the
    /// KPI floor's rows, then the failed hosts and the conformance flags of those deployments,
    /// read and dropped.
    pub fn model_review_floor(&self, from_ms: i64, until_ms: i64) -> Result<usize, StoreError> {
        let sql = |source| StoreError::Sql { path: self.path.clone(), source };
        let mut rows = self.kpi_floor(from_ms, until_ms)?;
        let (lo, hi): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT min(id), max(id) FROM deployments WHERE finished_ms IS NOT NULL AND finished_ms >= ?1 AND finished_ms < ?2",
                rusqlite::params![from_ms, until_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql)?;
        let (Some(lo), Some(hi)) = (lo, hi) else { return Ok(rows) };
        for query in [
            "SELECT phase_id, last_step, last_error, last_at_ms FROM targets
             WHERE deployment_id BETWEEN ?1 AND ?2 AND status IN ('failed', 'lost')",
            "SELECT DISTINCT deployment_id FROM conformance_flags
             WHERE deployment_id BETWEEN ?1 AND ?2 AND kind = 'outside_window'",
        ] {
            let mut stmt = self.conn.prepare_cached(query).map_err(sql)?;
            let mut q = stmt.query(rusqlite::params![lo, hi]).map_err(sql)?;
            while q.next().map_err(sql)?.is_some() {
                rows += 1;
            }
        }
        Ok(rows)
    }
}

impl Store {
    /// The floor of a replay: every event, target and phase row of one deployment, read by its
    /// key in the order replay reads them, columns as stored, nothing folded. Returns the rows.
    pub fn replay_floor(&self, key: DeploymentKey) -> Result<usize, StoreError> {
        let sql = |source| StoreError::Sql { path: self.path.clone(), source };
        let mut read = 0;
        for query in [
            "SELECT event_id, step, status, coalesce(message, '') FROM events WHERE deployment_id = ?1 ORDER BY seq",
            "SELECT name, CAST(phase_id AS TEXT), status, coalesce(labels, '') FROM targets WHERE deployment_id = ?1",
            "SELECT name, status, coalesce(gate, ''), '' FROM phases WHERE deployment_id = ?1",
        ] {
            let mut stmt = self.conn.prepare_cached(query).map_err(sql)?;
            let mut rows = stmt.query([key.0]).map_err(sql)?;
            while let Some(r) = rows.next().map_err(sql)? {
                let cells: (String, String, String, String) =
                    (r.get(0).map_err(sql)?, r.get(1).map_err(sql)?, r.get(2).map_err(sql)?, r.get(3).map_err(sql)?);
                read += usize::from(!cells.0.is_empty());
            }
        }
        Ok(read)
    }

    /// Moves the write-ahead log into the database file and empties it, so a measurement does
    /// not pay for the checkpoint of what came before it.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|source| StoreError::Sql { path: self.path.clone(), source })
    }
}
