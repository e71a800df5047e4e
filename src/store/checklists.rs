//! Checklists in the log: items copied at plan time, ticks as audited decisions, automatic
//! ticks from agents' events, and what the `post` list means for the deployment's status.

use super::gates::{audit, load_deployment, load_phases};
use super::{Store, StoreError};
use crate::clock::{from_ms, to_ms};
use crate::domain::checklist::{self, Checklists, Item, ItemState, List, TickRefusal};
use crate::domain::{DeploymentKey, DeploymentStatus};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

/// Who ticks what.
#[derive(Debug, Clone, Copy)]
pub struct TickRequest<'a> {
    pub key: DeploymentKey,
    pub item: &'a str,
    /// The person, and their roles as the log's team knows them.
    pub person: &'a str,
    pub roles: &'a [String],
    pub os_user: &'a str,
    /// A note or a link.
    pub evidence: Option<&'a str>,
    /// The check was made and did not pass (a failed `post` item fails the deployment).
    pub failed: bool,
    pub now: DateTime<Utc>,
}

/// A recorded tick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickOutcome {
    pub audit_id: i64,
    pub item: Item,
    pub role: String,
    /// The deployment's status after the tick.
    pub deployment_status: DeploymentStatus,
}

/// Why a tick was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("refused: {0}")]
    Refused(TickRefusal),
    #[error("\"{item}\" is not a checklist item of {key} (items: {known})")]
    UnknownItem { key: DeploymentKey, item: String, known: String },
}

/// Copies a model's checklists into a deployment being planned.
pub(super) fn insert_items(conn: &Connection, deployment: i64, lists: &Checklists) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO checklist_items (deployment_id, list, idx, item, text, roles, auto_step, auto_percent,
                                      evidence_required)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (idx, (list, item)) in lists.items().enumerate() {
        stmt.execute(params![
            deployment,
            list.as_str(),
            idx,
            item.id,
            item.text,
            serde_json::to_string(&item.roles).unwrap_or_else(|_| "[]".into()),
            item.auto,
            item.percent,
            item.evidence
        ])?;
    }
    Ok(())
}

/// A deployment's items in list order.
pub(super) fn load_items(conn: &Connection, deployment: i64) -> rusqlite::Result<Vec<Item>> {
    let mut stmt = conn.prepare_cached(
        "SELECT list, item, text, roles, auto_step, auto_percent, evidence_required, state, ticked_by, ticked_ms, evidence
         FROM checklist_items WHERE deployment_id = ?1 ORDER BY idx",
    )?;
    let rows = stmt.query_map([deployment], |r| {
        Ok(Item {
            list: r.get::<_, String>(0)?.parse().unwrap_or(List::Post),
            id: r.get(1)?,
            text: r.get(2)?,
            roles: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
            auto: r.get(4)?,
            percent: r.get(5)?,
            evidence_required: r.get(6)?,
            state: r.get::<_, String>(7)?.parse().unwrap_or(ItemState::Open),
            ticked_by: r.get(8)?,
            ticked_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
            evidence: r.get(10)?,
        })
    })?;
    rows.collect()
}

/// The status of a deployment whose phases all succeeded, after its `post` checklist.
pub(super) fn after_last_phase(conn: &Connection, deployment: i64) -> rusqlite::Result<DeploymentStatus> {
    Ok(checklist::after_last_phase(&load_items(conn, deployment)?))
}

/// The items of the lists a gate requires that are not done, as `item (list)`.
pub(super) fn unticked(conn: &Connection, deployment: i64, require: &[String]) -> rusqlite::Result<Vec<String>> {
    if require.is_empty() {
        return Ok(Vec::new());
    }
    let items = load_items(conn, deployment)?;
    Ok(checklist::unticked(&items, require).into_iter().map(|i| format!("{} ({})", i.id, i.list)).collect())
}

/// Marks an item and appends its audit record; returns the record's number.
#[allow(clippy::too_many_arguments)]
fn record(
    conn: &Connection,
    deployment: i64,
    item: &Item,
    state: ItemState,
    (person, role, os_user): (&str, Option<&str>, &str),
    evidence: Option<&str>,
    policy_state: &serde_json::Value,
    now_ms: i64,
) -> rusqlite::Result<i64> {
    let phases = load_phases(conn, deployment)?;
    // The audit record hangs on the phase the list is about: the first for pre and
    // environment, the last for post.
    let phase = if item.list == List::Post { phases.last() } else { phases.first() };
    let phase_id = phase.map_or(0, |p| p.id);
    let audit_id = audit::append(
        conn,
        &audit::NewRecord {
            deployment_id: deployment,
            phase_id,
            decision: "check",
            subject: Some(&item.id),
            person,
            role,
            os_user,
            comment: evidence,
            reason: (state == ItemState::Failed).then_some("the check failed"),
            policy_state: &policy_state.to_string(),
            decided_ms: now_ms,
            outcome: None,
        },
    )?;
    conn.prepare_cached(
        "UPDATE checklist_items SET state = ?3, ticked_by = ?4, ticked_ms = ?5, evidence = ?6, audit_id = ?7
         WHERE deployment_id = ?1 AND item = ?2",
    )?
    .execute(params![deployment, item.id, state.as_str(), person, now_ms, evidence, audit_id])?;
    Ok(audit_id)
}

/// Ticks open `auto` items whose step succeeded on enough targets. Called by ingest for the
/// deployments whose batch held a success of such a step.
pub(super) fn auto_tick(conn: &Connection, deployment: i64, steps: &[String], now_ms: i64) -> rusqlite::Result<()> {
    let items = load_items(conn, deployment)?;
    let open: Vec<&Item> = items.iter().filter(|i| i.state == ItemState::Open && i.auto.is_some()).collect();
    if open.is_empty() {
        return Ok(());
    }
    let total: i64 = conn
        .prepare_cached("SELECT target_count FROM deployments WHERE id = ?1")?
        .query_row([deployment], |r| r.get(0))?;
    for item in open {
        let Some(step) = steps.iter().position(|s| Some(s) == item.auto.as_ref()) else { continue };
        let done: i64 = if step + 1 == steps.len() {
            // The last step's successes are the targets that succeeded: already counted.
            conn.prepare_cached("SELECT coalesce(sum(succeeded), 0) FROM phases WHERE deployment_id = ?1")?
                .query_row([deployment], |r| r.get(0))?
        } else {
            conn.prepare_cached(
                "SELECT count(*) FROM targets WHERE deployment_id = ?1
                 AND json_extract(progress, '$[' || ?2 || '].t[0]') IN ('succeeded', 'skipped')",
            )?
            .query_row(params![deployment, step], |r| r.get(0))?
        };
        #[allow(clippy::cast_precision_loss)]
        let share = if total == 0 { 0.0 } else { done as f64 * 100.0 / total as f64 };
        if total > 0 && share + 1e-9 >= item.percent.unwrap_or(100.0) {
            let state = serde_json::json!({ "auto": item.auto, "targets_done": done, "targets": total });
            let note = format!("{} succeeded on {done} of {total} targets", item.auto.as_deref().unwrap_or("?"));
            record(conn, deployment, item, ItemState::Done, ("agents", None, ""), Some(&note), &state, now_ms)?;
        }
    }
    Ok(())
}

impl Store {
    /// A deployment's checklist items, in list order.
    pub fn checklist(&self, key: DeploymentKey) -> Result<Vec<Item>, StoreError> {
        self.summary(key)?;
        load_items(&self.conn, key.0).map_err(|e| self.sql(e))
    }

    /// Ticks an item: checked and recorded (with its audit record and the status it leads to)
    /// in one write transaction. Nothing is written when it is refused.
    pub fn tick(&mut self, req: &TickRequest<'_>) -> Result<TickOutcome, TickError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let outcome = tick_in(&tx, req).map_err(sql)??;
        tx.commit().map_err(sql)?;
        Ok(outcome)
    }
}

fn tick_in(conn: &Connection, req: &TickRequest<'_>) -> rusqlite::Result<Result<TickOutcome, TickError>> {
    let Some(dep) = load_deployment(conn, req.key.0)? else {
        return Ok(Err(StoreError::UnknownDeployment(req.key.to_string()).into()));
    };
    let items = load_items(conn, dep.id)?;
    let Some(item) = items.iter().find(|i| i.id == req.item) else {
        let known = items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>().join(", ");
        return Ok(Err(TickError::UnknownItem {
            key: req.key,
            item: req.item.to_owned(),
            known: if known.is_empty() { "none".into() } else { known },
        }));
    };
    let evidence = req.evidence.map(str::trim).filter(|e| !e.is_empty());
    let role = match checklist::check_tick(item, dep.status, req.person, req.roles, evidence) {
        Ok(role) => role,
        Err(refusal) => return Ok(Err(TickError::Refused(refusal))),
    };
    let now_ms = to_ms(req.now);
    let state = if req.failed { ItemState::Failed } else { ItemState::Done };
    let policy_state = serde_json::json!({
        "list": item.list,
        "text": item.text,
        "roles": item.roles,
        "evidence_required": item.evidence_required,
        "state": state,
        "deployment_status": dep.status,
    });
    let audit_id =
        record(conn, dep.id, item, state, (req.person, Some(&role), req.os_user), evidence, &policy_state, now_ms)?;
    super::ingest::update_deployment(conn, dep.id, 0, now_ms)?;
    let status = load_deployment(conn, dep.id)?.map_or(dep.status, |d| d.status);
    let item = load_items(conn, dep.id)?.into_iter().find(|i| i.id == req.item).unwrap_or_else(|| item.clone());
    Ok(Ok(TickOutcome { audit_id, item, role, deployment_status: status }))
}
