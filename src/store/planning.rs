//! Planning a deployment: one transaction that writes the release, deployment, phases and targets.

use super::gates::audit;
use super::{Store, StoreError};
use crate::domain::plan::{self, PlannedPhase};
use crate::domain::release::ReleaseRecord;
use crate::domain::team::Team;
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
    /// The targets, with their labels (a plain list converts with `.into()`).
    pub targets: crate::domain::inventory::Inventory,
    pub change_ref: Option<String>,
    pub requested_by: String,
    /// Components, notes and evidence (`plan --release-file`); empty when none were given.
    pub release_record: ReleaseRecord,
    pub planned_start: DateTime<Utc>,
    /// When the run is expected to end (`None`: an hour after the start).
    pub planned_end: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Who plans a deployment: a person of the log's team, from an OS account.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    pub name: &'a str,
    pub os_user: &'a str,
}

/// Why a plan is not made.
enum PlanBlock {
    /// The ask names someone unknown (exit 2).
    Usage(String),
    /// The planner is nobody the team knows: refused, and nothing recorded in that name.
    Nobody(String),
    /// The team's rules refuse it: refused and recorded.
    Refused(String),
}

/// Whether `planner` may plan for `req.requested_by` under the stored team: `Ok(role)` (the
/// role that allows planning for someone else, `None` when they plan for themselves).
fn may_plan(team: Option<&Team>, req: &PlanRequest<'_>, planner: Planner<'_>) -> Result<Option<String>, PlanBlock> {
    let Some(team) = team else {
        return Err(PlanBlock::Usage("the log holds no team yet: run `shipdeck team sync` first".into()));
    };
    let Some(me) = team.person(planner.name) else {
        return Err(PlanBlock::Nobody(format!(
            "plan refused: \"{}\" is not a person of the log's team, so nothing is planned in that name",
            planner.name
        )));
    };
    if team.person(&req.requested_by).is_none() {
        let people = team.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ");
        return Err(PlanBlock::Usage(format!(
            "--requested-by \"{}\" is not a person of the log's team (people: {people})",
            req.requested_by
        )));
    }
    if me.name == req.requested_by {
        return Ok(None);
    }
    match Team::role_in(me, &team.policy.plan_for_others) {
        Some(role) => Ok(Some(role.to_owned())),
        None => Err(PlanBlock::Refused(format!(
            "{} may not plan on behalf of {}: that needs one of the roles {} (the refusal is in the audit trail)",
            me.name,
            req.requested_by,
            if team.policy.plan_for_others.is_empty() {
                "(none configured)".to_owned()
            } else {
                team.policy.plan_for_others.join(", ")
            }
        ))),
    }
}

impl Store {
    /// Plans a deployment and returns its key and phases (no identity checks: the demo's
    /// history, benchmarks and tests).
    pub fn plan(&mut self, req: &PlanRequest<'_>) -> Result<(DeploymentKey, Vec<PlannedPhase>), StoreError> {
        self.plan_checked(req, None)
    }

    /// Plans a deployment as `planner`: the requester must be a person of the log's team, and
    /// planning for someone else needs a role the team allows it (recorded in the audit trail,
    /// as is a refusal).
    pub fn plan_by(
        &mut self,
        req: &PlanRequest<'_>,
        planner: Planner<'_>,
    ) -> Result<(DeploymentKey, Vec<PlannedPhase>), StoreError> {
        self.plan_checked(req, Some(planner))
    }

    fn plan_checked(
        &mut self,
        req: &PlanRequest<'_>,
        planner: Option<Planner<'_>>,
    ) -> Result<(DeploymentKey, Vec<PlannedPhase>), StoreError> {
        let mut phases = plan::plan(req.model, &req.targets)?;
        let sets = match req.model.technique {
            crate::domain::Technique::Parallel => Some(plan::parallel_sets(req.model, &req.targets)?),
            _ => None,
        };
        if req.environment.trim().is_empty() {
            return Err(plan::PlanError::EmptyEnvironment.into());
        }
        let now = req.now.timestamp_millis();
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let on_behalf = match planner {
            None => None,
            Some(p) => match may_plan(Store::team_in(&tx, &path)?.as_ref(), req, p) {
                Ok(role) => role.map(|r| (p, r)),
                Err(PlanBlock::Usage(usage)) => return Err(StoreError::PlanPerson(usage)),
                Err(PlanBlock::Nobody(refused)) => return Err(StoreError::PlanRefused(refused)),
                Err(PlanBlock::Refused(refused)) => {
                    let state = serde_json::json!({ "refused": refused, "requested_by": req.requested_by,
                        "release": req.release.to_string(), "environment": req.environment });
                    audit::append(&tx, &plan_record(p, None, 0, &state.to_string(), now, Some(audit::REFUSED)))
                        .map_err(sql)?;
                    tx.commit().map_err(sql)?;
                    return Err(StoreError::PlanRefused(format!("plan refused: {refused}")));
                }
            },
        };
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
        let mut release_record = req.release_record.clone();
        release_record.change_ref = req.change_ref.clone().or(release_record.change_ref);
        let record = serde_json::to_string(&release_record).ok();
        let windows = serde_json::to_string(&req.model.windows).ok();
        tx.execute(
            "INSERT INTO deployments (release_id, environment, model, technique, steps, change_ref, requested_by,
                                      status, planned_ms, created_ms, target_count, release_record, windows)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
                // The targets the deployment deploys to (a parallel deployment's old set is not one).
                phases.iter().map(|p| p.targets.len()).sum::<usize>(),
                record,
                windows,
            ],
        )
        .map_err(sql)?;
        let deployment_id = tx.last_insert_rowid();
        // The first runs of a new or changed model are supervised: every phase needs a person.
        let hash = req.model.definition_hash();
        let supervised =
            super::parallel::supervision(&tx, &req.model_name, &hash, req.model.supervised_runs).map_err(sql)?;
        if supervised.is_some() {
            plan::supervise(&mut phases, &req.model.recovery.roles);
        }
        tx.execute(
            "UPDATE deployments SET model_hash = ?2, supervised_run = ?3, supervised_of = ?4 WHERE id = ?1",
            params![deployment_id, hash, supervised.map(|s| s.0), supervised.map(|s| s.1)],
        )
        .map_err(sql)?;
        if let Some(sets) = &sets {
            super::parallel::insert(&tx, deployment_id, sets, req.model.keep_old()).map_err(sql)?;
        }
        {
            let mut phase_stmt = tx
                .prepare("INSERT INTO phases (deployment_id, idx, name, status, target_count, failure_budget, gate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .map_err(sql)?;
            let mut target_stmt = tx
                .prepare("INSERT INTO targets (deployment_id, phase_id, name, labels) VALUES (?1, ?2, ?3, ?4)")
                .map_err(sql)?;
            let labels: std::collections::HashMap<&str, String> = req
                .targets
                .targets
                .iter()
                .filter(|t| !t.labels.is_empty())
                .filter_map(|t| Some((t.name.as_str(), serde_json::to_string(&t.labels).ok()?)))
                .collect();
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
                    target_stmt.execute(params![deployment_id, phase_id, t, labels.get(t.as_str())]).map_err(sql)?;
                }
            }
        }
        let recovery = serde_json::to_string(&req.model.recovery).unwrap_or_default();
        tx.execute(
            "UPDATE deployments SET recovery = ?2, planned_by = ?3, planned_os_user = ?4, planned_end_ms = ?5 WHERE id = ?1",
            params![
                deployment_id,
                recovery,
                planner.map(|p| p.name),
                planner.map(|p| p.os_user),
                req.planned_end.map(|e| e.timestamp_millis())
            ],
        )
        .map_err(sql)?;
        // The plan is a record of the audit trail, sealing the phases, policies and targets
        // every later decision counts.
        let comment = format!("planned on behalf of {}", req.requested_by);
        let state = match &on_behalf {
            Some(_) => serde_json::json!({ "on_behalf_of": req.requested_by }),
            None => serde_json::json!({}),
        }
        .to_string();
        let record = match &on_behalf {
            Some((p, role)) => audit::NewRecord {
                comment: Some(&comment),
                ..plan_record(*p, Some(role), deployment_id, &state, now, None)
            },
            None => {
                let p = planner.unwrap_or(Planner { name: &req.requested_by, os_user: "" });
                audit::NewRecord { decision: PLAN, ..plan_record(p, None, deployment_id, &state, now, None) }
            }
        };
        audit::append(&tx, &record).map_err(sql)?;
        super::checklists::insert_items(&tx, deployment_id, &req.model.checklists).map_err(sql)?;
        // A gate on the first phase is pending from now on.
        super::ingest::update_deployment(&tx, deployment_id, 0, now).map_err(sql)?;
        planned_happening(&tx, deployment_id, now, self.zone).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok((DeploymentKey(deployment_id), phases))
    }
}

/// The audit record of planning on behalf of someone else (or of its refusal).
/// Tells those subscribed to `deployment_planned`.
fn planned_happening(
    tx: &rusqlite::Connection,
    deployment: i64,
    now_ms: i64,
    zone: chrono_tz::Tz,
) -> rusqlite::Result<()> {
    let Some(dep) = super::gates::load_deployment(tx, deployment)? else { return Ok(()) };
    let phases = super::gates::load_phases(tx, deployment)?;
    let Some(first) = phases.first() else { return Ok(()) };
    let text = (
        format!("DEP-{deployment} planned: {} to {}", dep.release, dep.environment),
        format!(
            "Requested by {}; {} phase(s): {}; planned start {}.",
            dep.requested_by,
            phases.len(),
            phases.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
            crate::domain::time::until(dep.planned_start, zone)
        ),
    );
    super::gates::views::notify_happening(tx, &dep, first.id, "deployment_planned", false, text, now_ms)
}

fn plan_record<'a>(
    p: Planner<'a>,
    role: Option<&'a String>,
    deployment_id: i64,
    state: &'a str,
    now_ms: i64,
    outcome: Option<&'a str>,
) -> audit::NewRecord<'a> {
    audit::NewRecord {
        subject: None,
        deployment_id,
        phase_id: 0,
        decision: PLAN_FOR,
        person: p.name,
        role: role.map(String::as_str),
        os_user: p.os_user,
        comment: None,
        reason: None,
        policy_state: state,
        decided_ms: now_ms,
        outcome,
    }
}

/// The audit record's `decision` for planning.
pub const PLAN: &str = crate::domain::gate::view::PLAN_RECORD;

/// The audit record's `decision` for planning on behalf of someone else.
pub const PLAN_FOR: &str = "plan_for";
