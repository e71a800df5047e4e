//! What the model review reads: the finished deployments of a period with their phases, the
//! hosts that failed and the conformance flags for work outside the windows; and the
//! improvement actions a model review records.
//!
//! The deployments and their gate waits come from the KPI read ([`Store::kpi_deployments`]), so
//! a model's waits are the ones `shipdeck kpi` shows; the rest are range reads by deployment id
//! (phases, conformance flags) and, for the phases that lost hosts only, their failed targets
//! through the phase index, joined in memory.

use super::{Store, StoreError};
use crate::clock::{from_ms, to_ms};
use crate::domain::GatePolicy;
use crate::domain::errors;
use crate::domain::model_review::{self, HostFailure, ModelRun, Review, RunPhase, Suggestion};
use crate::domain::review::Action;
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::params;
use std::collections::HashMap;

use super::ActionRow;
use super::KpiScope;

impl Store {
    /// The model review of the deployments of `model` (all when `None`) that finished in
    /// `[from, until)`: the one computation `shipdeck models review` and the Metrics view share.
    pub fn model_review(
        &self,
        model: Option<&str>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        production: &[String],
    ) -> Result<Review, StoreError> {
        Ok(model_review::review(&self.model_runs(model, from, until, production)?))
    }

    /// The finished deployments of `model` in `[from, until)`, oldest first, as the review sees
    /// them.
    pub fn model_runs(
        &self,
        model: Option<&str>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        production: &[String],
    ) -> Result<Vec<ModelRun>, StoreError> {
        let sql = |e| self.sql(e);
        let scope = KpiScope { model: model.map(str::to_owned), ..KpiScope::default() };
        let deployments = self.kpi_deployments(&scope, Some(from), until, production)?;
        let (Some(lo), Some(hi)) = (deployments.iter().map(|d| d.id).min(), deployments.iter().map(|d| d.id).max())
        else {
            return Ok(Vec::new());
        };
        let index: HashMap<i64, usize> = deployments.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
        let mut runs: Vec<ModelRun> = deployments
            .into_iter()
            .map(|deployment| ModelRun { deployment, phases: Vec::new(), failures: Vec::new(), outside_window: false })
            .collect();
        // Phases in order; where each phase id sits; the phases that lost hosts.
        let mut phase_at: HashMap<i64, (usize, usize)> = HashMap::new();
        let mut failing: Vec<i64> = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id, deployment_id, name, target_count, status, started_ms, finished_ms, gate, failed FROM phases
                     WHERE deployment_id BETWEEN ?1 AND ?2 ORDER BY deployment_id, idx",
                )
                .map_err(sql)?;
            let mut q = stmt.query(params![lo, hi]).map_err(sql)?;
            let mut policies: HashMap<String, Option<TimeDelta>> = HashMap::new();
            while let Some(r) = q.next().map_err(sql)? {
                let Some(&i) = index.get(&r.get::<_, i64>(1).map_err(sql)?) else { continue };
                let gate: Option<String> = r.get(7).map_err(sql)?;
                let gate_bake = gate.and_then(|g| {
                    *policies
                        .entry(g)
                        .or_insert_with_key(|g| serde_json::from_str::<GatePolicy>(g).ok().map(|p| p.bake))
                });
                let id: i64 = r.get(0).map_err(sql)?;
                if r.get::<_, i64>(8).map_err(sql)? > 0 {
                    failing.push(id);
                }
                phase_at.insert(id, (i, runs[i].phases.len()));
                runs[i].phases.push(RunPhase {
                    name: r.get(2).map_err(sql)?,
                    targets: r.get::<_, i64>(3).map_err(sql)?.try_into().unwrap_or(0),
                    failed: r.get::<_, String>(4).map_err(sql)? == "failed",
                    started: r.get::<_, Option<i64>>(5).map_err(sql)?.map(from_ms),
                    finished: r.get::<_, Option<i64>>(6).map_err(sql)?.map(from_ms),
                    gate_bake,
                });
            }
        }
        {
            // Only the phases that lost hosts, through the targets' phase index: most phases lost
            // none, and scanning every target of a period is what would cost.
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT coalesce(last_step, '?'), coalesce(last_error, last_message, ''), last_at_ms
                     FROM targets WHERE phase_id = ?1 AND status IN ('failed', 'lost')",
                )
                .map_err(sql)?;
            let mut shapes: HashMap<String, String> = HashMap::new();
            for id in failing {
                let Some(&(i, phase)) = phase_at.get(&id) else { continue };
                let mut q = stmt.query(params![id]).map_err(sql)?;
                while let Some(r) = q.next().map_err(sql)? {
                    let message: String = r.get(1).map_err(sql)?;
                    let group = shapes.entry(message).or_insert_with_key(|m| errors::shape(m)).clone();
                    runs[i].failures.push(HostFailure {
                        phase,
                        step: r.get(0).map_err(sql)?,
                        group,
                        at: r.get::<_, Option<i64>>(2).map_err(sql)?.map(from_ms),
                    });
                }
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT DISTINCT deployment_id FROM conformance_flags
                     WHERE deployment_id BETWEEN ?1 AND ?2 AND kind = 'outside_window'",
                )
                .map_err(sql)?;
            let mut q = stmt.query(params![lo, hi]).map_err(sql)?;
            while let Some(r) = q.next().map_err(sql)? {
                if let Some(&i) = index.get(&r.get::<_, i64>(0).map_err(sql)?) {
                    runs[i].outside_window = true;
                }
            }
        }
        Ok(runs)
    }

    /// Records `suggestion` as an improvement action of its model, owned by `action.owner` and
    /// due `action.due`, recorded by `by`; returns the action's number within the model.
    pub fn record_model_action(
        &mut self,
        suggestion: &Suggestion,
        action: &Action,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let sql = |e| StoreError::Sql { path: self.path.clone(), source: e };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql)?;
        let n: usize = tx
            .query_row("SELECT coalesce(max(n), 0) + 1 FROM actions WHERE model = ?1", params![suggestion.model], |r| {
                r.get(0)
            })
            .map_err(sql)?;
        let evidence = serde_json::json!({
            "rule": suggestion.rule,
            "subject": suggestion.subject,
            "why": suggestion.why,
            "numbers": suggestion.numbers,
        });
        tx.execute(
            "INSERT INTO actions (model, n, text, owner, due, created_ms, created_by, suggestion)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                suggestion.model,
                n,
                action.text,
                action.owner,
                action.due.format("%Y-%m-%d").to_string(),
                to_ms(now),
                by,
                evidence.to_string()
            ],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(n)
    }

    /// Marks action `n` of `model` done (or open again).
    pub fn set_model_action_done(
        &mut self,
        model: &str,
        n: usize,
        done: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self.mark_action("model", &model, n, done, by, now)? == 0 {
            return Err(StoreError::UnknownModelAction { model: model.to_owned(), n });
        }
        Ok(())
    }

    /// The improvement actions of `model` (of every model when `None`), open ones first.
    pub fn model_actions(&self, model: Option<&str>) -> Result<Vec<ActionRow>, StoreError> {
        match model {
            Some(m) => self.actions_where("a.model = ?1", [m]),
            None => self.actions_where("a.model IS NOT NULL", []),
        }
    }
}

#[cfg(test)]
mod tests;
