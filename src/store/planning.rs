//! Planning a deployment: one transaction that writes the release, deployment, phases and targets.

use super::{Store, StoreError};
use crate::domain::plan::{self, PlannedPhase};
use crate::domain::{DeploymentKey, DeploymentModel, DeploymentStatus, PhaseStatus, ReleaseRef};
use chrono::{DateTime, Utc};
use rusqlite::{TransactionBehavior, params};

/// Everything needed to plan a deployment.
#[derive(Debug, Clone)]
pub struct PlanRequest<'a> {
    pub release: ReleaseRef,
    pub environment: String,
    pub model_name: String,
    pub model: &'a DeploymentModel,
    pub targets: Vec<String>,
    pub change_ref: Option<String>,
    pub requested_by: String,
    pub planned_start: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

impl Store {
    /// Plans a deployment and returns its key and phases.
    pub fn plan(&mut self, req: &PlanRequest<'_>) -> Result<(DeploymentKey, Vec<PlannedPhase>), StoreError> {
        let phases = plan::plan(req.model, &req.targets)?;
        if req.environment.trim().is_empty() {
            return Err(plan::PlanError::EmptyEnvironment.into());
        }
        let now = req.now.timestamp_millis();
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        tx.execute(
            "INSERT INTO releases (name, version, change_ref, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name, version) DO UPDATE SET change_ref = coalesce(excluded.change_ref, change_ref)",
            params![req.release.name, req.release.version, req.change_ref, now],
        )
        .map_err(sql)?;
        let release_id: i64 = tx
            .query_row(
                "SELECT id FROM releases WHERE name = ?1 AND version = ?2",
                params![req.release.name, req.release.version],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let steps = serde_json::to_string(&req.model.steps).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "INSERT INTO deployments (release_id, environment, model, technique, steps, change_ref, requested_by,
                                      status, planned_ms, created_ms, target_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                release_id,
                req.environment,
                req.model_name,
                req.model.technique.as_str(),
                steps,
                req.change_ref,
                req.requested_by,
                DeploymentStatus::Planned.as_str(),
                req.planned_start.timestamp_millis(),
                now,
                req.targets.len(),
            ],
        )
        .map_err(sql)?;
        let deployment_id = tx.last_insert_rowid();
        {
            let mut phase_stmt = tx
                .prepare("INSERT INTO phases (deployment_id, idx, name, status, target_count, failure_budget, gate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .map_err(sql)?;
            let mut target_stmt =
                tx.prepare("INSERT INTO targets (deployment_id, phase_id, name) VALUES (?1, ?2, ?3)").map_err(sql)?;
            for (idx, phase) in phases.iter().enumerate() {
                let gate = phase.gate.as_ref().and_then(|g| serde_json::to_string(g).ok());
                phase_stmt
                    .execute(params![
                        deployment_id,
                        idx,
                        phase.name,
                        PhaseStatus::Pending.as_str(),
                        phase.targets.len(),
                        phase.failure_budget,
                        gate
                    ])
                    .map_err(sql)?;
                let phase_id = tx.last_insert_rowid();
                for t in &phase.targets {
                    target_stmt.execute(params![deployment_id, phase_id, t]).map_err(sql)?;
                }
            }
        }
        // A gate on the first phase is pending from now on.
        super::ingest::update_deployment(&tx, deployment_id, 0, now).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok((DeploymentKey(deployment_id), phases))
    }
}
