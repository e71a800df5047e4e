//! Canary analysis in the log: the metric samples a gate's analysis reads, the analysis of a
//! deployment now, and the halt a failed analysis records.
//!
//! Metric samples are `info` events (`data.metric`, `data.value`); a sample belongs to the
//! canary when its event is in the canary phase (the phase before the analysed gate), to the
//! baseline otherwise. The analysis runs from the instant the canary phase succeeded up to now,
//! or up to the decision that ended it (the gate's approval, the halt). The rules themselves
//! are [`crate::domain::analysis`]; this module only reads and records.

use super::gates::{self, PhaseRow};
use super::{Store, StoreError};
use crate::clock::{from_ms, to_ms};
use crate::domain::analysis::{self, Analysis, AnalysisRule, Sample};
use crate::domain::gate::{Decision, GateState};
use crate::domain::model::Automatic;
use crate::domain::{DeploymentKey, DeploymentStatus, GatePolicy, PhaseStatus};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

/// A deployment's canary analysis as the front ends show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisState {
    /// The phase whose gate the analysis decides, and the canary phase before it.
    pub gate_phase: String,
    pub canary_phase: String,
    pub rules: Vec<AnalysisRule>,
    /// `None` until the canary phase succeeded (the analysis starts then).
    pub analysis: Option<Analysis>,
    /// The gate's state, and who approved it (shipdeck (analysis) or people).
    pub gate: GateState,
    pub approved_by: Vec<String>,
    /// When a failed analysis halted the deployment (until a person retries or approves).
    pub halted_at: Option<DateTime<Utc>>,
}

impl AnalysisState {
    /// `analysis: pass · approved by shipdeck (analysis)`, `analysis: waiting for canary`, ...
    #[must_use]
    pub fn headline(&self) -> String {
        let verdict = self
            .analysis
            .as_ref()
            .map_or_else(|| format!("waiting for phase {} to succeed", self.canary_phase), |a| a.verdict.to_string());
        let after = if self.halted_at.is_some() {
            " · deployment halted, waiting for a person (retry, approve, abort, rollback)".to_owned()
        } else if self.gate == GateState::Approved {
            format!(" · {} approved by {}", self.gate_phase, self.approved_by.join(", "))
        } else if self.gate == GateState::Rejected {
            format!(" · {} rejected", self.gate_phase)
        } else {
            String::new()
        };
        format!("canary analysis: {verdict}{after}")
    }
}

/// The analysed gate of a deployment's phases: its position and policy (the first gate with
/// analysis rules, after a phase).
pub(super) fn analysed_gate(phases: &[PhaseRow]) -> Option<(usize, &GatePolicy)> {
    phases
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(i, p)| p.gate.as_ref().filter(|g| !g.analysis.is_empty()).map(|g| (i, g)))
}

/// When a failed analysis halted the phase (`None`: it did not).
pub(super) fn halted_at(conn: &Connection, phase: i64) -> rusqlite::Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT analysis_failed_ms FROM phases WHERE id = ?1")?
        .query_row([phase], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten())
}

/// The metric samples of `deployment` measured in `[from_ms, to_ms)` for the metrics of
/// `rules`; those of `canary_phase` are the canary's.
pub(super) fn samples(
    conn: &Connection,
    deployment: i64,
    canary_phase: i64,
    rules: &[AnalysisRule],
    (from_ms, to_ms): (i64, i64),
) -> rusqlite::Result<Vec<Sample>> {
    let names = analysis::metrics(rules);
    let mut stmt = conn.prepare_cached(
        "SELECT phase_id, at_ms, json_extract(data, '$.metric'), json_extract(data, '$.value') FROM events
         WHERE deployment_id = ?1 AND status = 'info' AND at_ms >= ?2 AND at_ms < ?3 AND data IS NOT NULL",
    )?;
    let mut rows = stmt.query(params![deployment, from_ms, to_ms])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let Ok(metric) = r.get_ref(2)?.as_str() else { continue };
        let Some(metric) = names.iter().position(|n| *n == metric) else { continue };
        let Ok(Some(value)) = r.get::<_, Option<f64>>(3) else { continue };
        out.push(Sample { at_ms: r.get(1)?, canary: r.get::<_, Option<i64>>(0)? == Some(canary_phase), metric, value });
    }
    Ok(out)
}

/// The analysis of the gate at `pos` at `now`, or up to the decision that ended it: `None`
/// until the canary phase succeeded.
pub(super) fn analyse_gate(
    conn: &Connection,
    deployment: i64,
    phases: &[PhaseRow],
    pos: usize,
    policy: &GatePolicy,
    now_ms: i64,
) -> rusqlite::Result<Option<Analysis>> {
    let canary = &phases[pos - 1];
    let halted = halted_at(conn, canary.id)?;
    let Some(started) = canary.finished_ms.filter(|_| canary.status == PhaseStatus::Succeeded || halted.is_some())
    else {
        return Ok(None);
    };
    let decisions = gates::load_decisions(conn, phases[pos].id)?;
    let approved = (gates::gate_state(policy, phases, pos, &decisions) == GateState::Approved)
        .then(|| decisions.iter().filter(|d| d.decision == Decision::Approve).map(|d| to_ms(d.at)).max())
        .flatten();
    let end = halted.or(approved).map_or(now_ms, |t| t.min(now_ms));
    let samples = samples(conn, deployment, canary.id, &policy.analysis, (started, end))?;
    Ok(Some(analysis::analyse(&policy.analysis, from_ms(started), from_ms(end), &samples)))
}

impl Store {
    /// The canary analysis of `key` at `now` (`None`: its model has no analysis).
    pub fn analysis(&self, key: DeploymentKey, now: DateTime<Utc>) -> Result<Option<AnalysisState>, StoreError> {
        let sql = |e| self.sql(e);
        let phases = gates::load_phases(&self.conn, key.0).map_err(sql)?;
        let Some((pos, policy)) = analysed_gate(&phases) else { return Ok(None) };
        let analysis = analyse_gate(&self.conn, key.0, &phases, pos, policy, to_ms(now)).map_err(sql)?;
        let decisions = gates::load_decisions(&self.conn, phases[pos].id).map_err(sql)?;
        let gate = gates::gate_state(policy, &phases, pos, &decisions);
        let approved_by = crate::domain::gate::approvers(&decisions).iter().map(|d| d.person.clone()).collect();
        let halted_at = halted_at(&self.conn, phases[pos - 1].id).map_err(sql)?.map(from_ms);
        Ok(Some(AnalysisState {
            gate_phase: phases[pos].name.clone(),
            canary_phase: phases[pos - 1].name.clone(),
            rules: policy.analysis.clone(),
            analysis,
            gate,
            approved_by,
            halted_at,
        }))
    }

    /// Halts `key` on its failed canary analysis: the canary phase fails (and with it the
    /// deployment, so people are told and may retry, approve anyway, abort or roll back), and
    /// the audit trail records it as `shipdeck (analysis)` with the numbers. `None`: nothing to
    /// halt any more (a person decided the gate meanwhile, or it was halted already).
    pub fn halt_on_analysis(
        &mut self,
        key: DeploymentKey,
        analysis: &Analysis,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let Some(dep) = gates::load_deployment(&tx, key.0).map_err(sql)? else {
            return Err(StoreError::UnknownDeployment(key.to_string()));
        };
        let phases = gates::load_phases(&tx, key.0).map_err(sql)?;
        let Some((pos, policy)) = analysed_gate(&phases) else { return Ok(None) };
        let canary = &phases[pos - 1];
        let decisions = gates::load_decisions(&tx, phases[pos].id).map_err(sql)?;
        let open = dep.status == DeploymentStatus::AwaitingApproval
            && canary.status == PhaseStatus::Succeeded
            && policy.auto == Some(Automatic::Analysis)
            && !gates::gate_state(policy, &phases, pos, &decisions).is_decided();
        if !open || halted_at(&tx, canary.id).map_err(sql)?.is_some() {
            return Ok(None);
        }
        let now_ms = to_ms(now);
        tx.prepare_cached("UPDATE phases SET status = 'failed', analysis_failed_ms = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![canary.id, now_ms]))
            .map_err(sql)?;
        let summary = analysis.summary();
        let policy_state = serde_json::json!({ "analysis": analysis, "gate": phases[pos].name }).to_string();
        let id = gates::audit::append(
            &tx,
            &gates::audit::NewRecord {
                deployment_id: key.0,
                phase_id: canary.id,
                decision: "halt",
                subject: Some("analysis"),
                person: Automatic::Analysis.actor(),
                role: Some(super::AUTOMATIC_ROLE),
                os_user: "shipdeck",
                comment: Some(&summary),
                reason: None,
                policy_state: &policy_state,
                decided_ms: now_ms,
                outcome: None,
            },
        )
        .map_err(sql)?;
        super::ingest::update_deployment(&tx, key.0, 0, now_ms).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Some(id))
    }
}

/// A person approves the gate of a deployment its failed analysis halted: the canary phase
/// stands as it succeeded again (its targets did), so the gate can be decided. Only when every
/// target of the canary succeeded within its budget.
pub(super) fn lift_halt(conn: &Connection, canary: i64) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE phases SET analysis_failed_ms = NULL, status = 'succeeded'
             WHERE id = ?1 AND analysis_failed_ms IS NOT NULL AND succeeded + failed = target_count
               AND failed <= failure_budget",
        )?
        .execute([canary])?;
    Ok(changed > 0)
}
