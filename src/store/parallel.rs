//! Blue/green switch-overs and supervised runs: their rows in the log.
//!
//! A `parallel` deployment has one `switchovers` row, written when it is planned and updated in
//! the decision's transaction when its switch gate is approved (traffic to the new set) or it
//! is switched back. Supervision is decided at plan time from the runs of the same model
//! definition already in the log.

use super::{Store, StoreError};
use crate::clock::from_ms;
use crate::domain::DeploymentKey;
use crate::domain::parallel::Switchover;
use crate::domain::plan::ParallelSets;
use chrono::TimeDelta;
use rusqlite::{Connection, OptionalExtension, params};

/// Records the two sets of a parallel deployment.
pub(super) fn insert(
    conn: &Connection,
    deployment: i64,
    sets: &ParallelSets,
    keep_old: TimeDelta,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO switchovers (deployment_id, phase, new_set, new_phase, old_targets, keep_old_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            deployment,
            crate::domain::plan::SWITCH_PHASE,
            sets.selector,
            sets.new_phase,
            serde_json::to_string(&sets.old).unwrap_or_else(|_| "[]".into()),
            keep_old.num_milliseconds()
        ],
    )?;
    Ok(())
}

/// The switch-over of a deployment, if it is a parallel one.
pub(super) fn load(conn: &Connection, deployment: i64) -> rusqlite::Result<Option<Switchover>> {
    conn.prepare_cached(
        "SELECT s.phase, s.new_set, s.new_phase, s.old_targets, s.keep_old_ms, s.switched_ms, s.switched_back_ms,
                coalesce((SELECT p.target_count FROM phases p WHERE p.deployment_id = s.deployment_id AND p.name = s.new_phase), 0)
         FROM switchovers s WHERE s.deployment_id = ?1",
    )?
    .query_row([deployment], |r| {
        let old: String = r.get(3)?;
        Ok(Switchover {
            phase: r.get(0)?,
            new_set: r.get(1)?,
            new_phase: r.get(2)?,
            old_targets: serde_json::from_str(&old).unwrap_or_default(),
            keep_old: TimeDelta::milliseconds(r.get(4)?),
            switched_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
            switched_back_at: r.get::<_, Option<i64>>(6)?.map(from_ms),
            new_targets: r.get(7)?,
        })
    })
    .optional()
}

/// The switch gate was approved: traffic goes to the new set, and the `switch` phase (which has
/// no targets of its own) has succeeded.
pub(super) fn switched(conn: &Connection, deployment: i64, phase: i64, now_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE switchovers SET switched_ms = coalesce(switched_ms, ?2) WHERE deployment_id = ?1")?
        .execute(params![deployment, now_ms])?;
    conn.prepare_cached(
        "UPDATE phases SET status = 'succeeded', started_ms = coalesce(started_ms, ?2), finished_ms = coalesce(finished_ms, ?2) WHERE id = ?1",
    )?
    .execute(params![phase, now_ms])?;
    Ok(())
}

/// Deployments switched over whose old set is still kept at `now_ms` (they may switch back).
pub(super) fn kept(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT deployment_id FROM switchovers
         WHERE switched_ms IS NOT NULL AND switched_back_ms IS NULL AND switched_ms + keep_old_ms > ?1
         ORDER BY switched_ms",
    )?
    .query_map([now_ms], |r| r.get(0))?
    .collect()
}

/// Traffic went back to the old set.
pub(super) fn switched_back(conn: &Connection, deployment: i64, now_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE switchovers SET switched_back_ms = ?2 WHERE deployment_id = ?1 AND switched_back_ms IS NULL",
    )?
    .execute(params![deployment, now_ms])?;
    Ok(())
}

/// Which supervised run a new deployment of `model` (with this definition hash) would be:
/// `Some((k, n))` while fewer than `n` runs of the same definition have started in the log.
pub(super) fn supervision(conn: &Connection, model: &str, hash: &str, n: u32) -> rusqlite::Result<Option<(u32, u32)>> {
    if n == 0 {
        return Ok(None);
    }
    let runs: u32 = conn
        .prepare_cached(
            "SELECT count(*) FROM deployments WHERE model = ?1 AND model_hash = ?2 AND started_ms IS NOT NULL",
        )?
        .query_row(params![model, hash], |r| r.get(0))?;
    Ok((runs < n).then_some((runs + 1, n)))
}

impl Store {
    /// The switch-over of a parallel deployment (`None` for other techniques).
    pub fn switchover(&self, key: DeploymentKey) -> Result<Option<Switchover>, StoreError> {
        load(&self.conn, key.0).map_err(|e| self.sql(e))
    }

    /// Whether a deployment is a supervised run: `Some((k, n))`, "supervised (k of n)".
    pub fn supervised(&self, key: DeploymentKey) -> Result<Option<(u32, u32)>, StoreError> {
        self.conn
            .prepare_cached("SELECT supervised_run, supervised_of FROM deployments WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([key.0], |r| Ok((r.get::<_, Option<u32>>(0)?, r.get::<_, Option<u32>>(1)?))).optional()
            })
            .map(|row| match row {
                Some((Some(k), Some(n))) => Some((k, n)),
                _ => None,
            })
            .map_err(|e| self.sql(e))
    }
}
