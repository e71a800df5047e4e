//! The change calendar in the log: emergency freezes, deployments as calendar bookings, moving
//! a planned start and cancelling a deployment that has not started.
//!
//! Emergency freezes live in their own table and are read by every decision, every conformance
//! check of a batch of events and every view: a freeze declared by one process holds in all the
//! others from its commit on. Who may declare one, move a start or override a conflict comes from
//! the team stored in the log, checked in the write transaction that records it; each change —
//! and each refused attempt — is a record of the audit trail.

use super::gates::audit;
use super::outbox::{Happening, tell};
use super::{Store, StoreError};
use crate::clock::from_ms;
use crate::domain::calendar::Booking;
use crate::domain::schedule::Freeze;
use crate::domain::team::{Member, Team};
use crate::domain::{DeploymentKey, DeploymentStatus};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// How long a deployment planned before its end was recorded is assumed to run.
const ASSUMED_RUN_MS: i64 = 3_600_000;

/// How long before a period a deployment that has not started may be planned and still run
/// into it: no planned run is longer (the estimate of a run is capped to it).
pub const LOOKBACK_MS: i64 = 7 * 86_400_000;

/// Statuses that hold a slot on the calendar (the partial index covers exactly these).
const OPEN: &str = "('planned', 'running', 'awaiting_approval', 'verifying')";

/// The audit record's `decision` for each calendar change.
pub const FREEZE_ADD: &str = "freeze_add";
pub const FREEZE_END: &str = "freeze_end";
pub const RESCHEDULE: &str = "reschedule";
pub const CANCEL: &str = "cancel";
pub const SCHEDULE_OVERRIDE: &str = "schedule_override";

/// The notification kind of a calendar change.
const SCHEDULE_CHANGED: &str = "schedule_changed";

/// Why a calendar change was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rule that refused it (recorded in the audit trail).
    #[error("{0}")]
    Refused(String),
    /// What was asked for does not exist or cannot be (exit 2; nothing recorded).
    #[error("{0}")]
    Input(String),
}

/// An emergency freeze to declare.
#[derive(Debug, Clone)]
pub struct FreezeRequest<'a> {
    pub name: &'a str,
    pub environments: &'a [String],
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub reason: &'a str,
    pub person: &'a str,
    pub os_user: &'a str,
    pub now: DateTime<Utc>,
}

/// Who changes the calendar, and why.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub person: &'a str,
    pub os_user: &'a str,
    pub reason: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Reads the emergency freezes (ended ones end when they were ended).
pub(super) fn emergency_in(conn: &Connection) -> rusqlite::Result<Vec<Freeze>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, environments, from_ms, min(until_ms, coalesce(ended_ms, until_ms)), reason, declared_by
         FROM emergency_freezes ORDER BY from_ms, id",
    )?;
    let rows = stmt.query_map([], |r| {
        let by: String = r.get(5)?;
        let reason: String = r.get(4)?;
        Ok(Freeze {
            name: r.get(0)?,
            environments: serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default(),
            from: from_ms(r.get(2)?),
            until: from_ms(r.get(3)?),
            reason: format!("{reason} (emergency freeze declared by {by})"),
            repeat: None,
        })
    })?;
    rows.collect()
}

/// The person and the role of `roles` they hold under the stored team, or why not.
fn holder<'t>(
    team: Option<&'t Team>,
    person: &str,
    roles: &[String],
    what: &str,
) -> Result<(&'t Member, String), String> {
    let Some(team) = team else { return Err(format!("{what} refused: the log holds no team yet")) };
    let Some(m) = team.person(person) else {
        return Err(format!("{what} refused: \"{person}\" is not a person of the log's team"));
    };
    Team::role_in(m, roles).map(|r| (m, r.to_owned())).ok_or_else(|| {
        format!(
            "{what} refused: {person} holds none of the roles allowed to ({})",
            if roles.is_empty() { "none configured".to_owned() } else { roles.join(", ") }
        )
    })
}

struct Record<'a> {
    deployment_id: i64,
    decision: &'a str,
    person: &'a str,
    role: Option<&'a str>,
    os_user: &'a str,
    reason: Option<&'a str>,
    state: serde_json::Value,
    now_ms: i64,
    refused: bool,
}

/// A refusal of someone in the log's team is audited, committed on its own; one asked in a name
/// nobody declared writes nothing. Either way the caller returns the refusal.
fn refuse(
    tx: rusqlite::Transaction<'_>,
    team: Option<&Team>,
    rec: &Record<'_>,
    refused: String,
) -> rusqlite::Result<ScheduleError> {
    if team.is_some_and(|t| t.person(rec.person).is_some()) {
        append(&tx, rec)?;
        tx.commit()?;
    }
    Ok(ScheduleError::Refused(refused))
}

fn append(conn: &Connection, r: &Record<'_>) -> rusqlite::Result<i64> {
    let state = r.state.to_string();
    audit::append(
        conn,
        &audit::NewRecord {
            deployment_id: r.deployment_id,
            phase_id: 0,
            decision: r.decision,
            subject: None,
            person: r.person,
            role: r.role,
            os_user: r.os_user,
            comment: None,
            reason: r.reason,
            policy_state: &state,
            decided_ms: r.now_ms,
            outcome: r.refused.then_some(audit::REFUSED),
        },
    )
}

impl Store {
    /// The emergency freezes declared in the log, oldest first.
    pub fn emergency_freezes(&self) -> Result<Vec<Freeze>, StoreError> {
        emergency_in(&self.conn).map_err(|e| self.sql(e))
    }

    /// Declares an emergency freeze as `req.person`, who must hold one of the team's
    /// `freeze_roles`; audited (a refusal too) and told to the people subscribed to
    /// `schedule_changed` and to those holding a freeze role.
    pub fn declare_freeze(&mut self, req: &FreezeRequest<'_>) -> Result<i64, ScheduleError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let team = Store::team_in(&tx, &path)?;
        let now_ms = req.now.timestamp_millis();
        let state = serde_json::json!({ "name": req.name, "environments": req.environments,
            "from": req.from, "until": req.until });
        let roles = team.as_ref().map(|t| t.policy.schedule.freeze_roles.clone()).unwrap_or_default();
        let what = format!("freeze add \"{}\" by {}", req.name, req.person);
        let role = match holder(team.as_ref(), req.person, &roles, &what) {
            Ok((_, role)) => role,
            Err(refused) => {
                let rec = Record {
                    deployment_id: 0,
                    decision: FREEZE_ADD,
                    person: req.person,
                    role: None,
                    os_user: req.os_user,
                    reason: Some(req.reason),
                    state,
                    now_ms,
                    refused: true,
                };
                return Err(refuse(tx, team.as_ref(), &rec, refused).map_err(sql)?);
            }
        };
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM emergency_freezes WHERE name = ?1", [req.name], |r| r.get(0))
            .optional()
            .map_err(sql)?;
        if exists.is_some() {
            return Err(ScheduleError::Input(format!(
                "an emergency freeze named \"{}\" already exists (choose another --name)",
                req.name
            )));
        }
        let envs = serde_json::to_string(req.environments).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "INSERT INTO emergency_freezes (name, environments, from_ms, until_ms, reason, declared_by, declared_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                req.name,
                envs,
                req.from.timestamp_millis(),
                req.until.timestamp_millis(),
                req.reason,
                req.person,
                now_ms
            ],
        )
        .map_err(sql)?;
        let rec = Record {
            deployment_id: 0,
            decision: FREEZE_ADD,
            person: req.person,
            role: Some(&role),
            os_user: req.os_user,
            reason: Some(req.reason),
            state,
            now_ms,
            refused: false,
        };
        let id = append(&tx, &rec).map_err(sql)?;
        let envs_text =
            if req.environments.is_empty() { "every environment".to_owned() } else { req.environments.join(", ") };
        let subject = format!("Emergency freeze \"{}\" on {envs_text}", req.name);
        let body = format!(
            "{} declared an emergency freeze of {envs_text} from {} until {}: {}",
            req.person,
            crate::domain::time::until(req.from, self.zone),
            crate::domain::time::until(req.until, self.zone),
            req.reason
        );
        notify_calendar(&tx, team.as_ref(), req.environments, &roles, &subject, &body, now_ms).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(id)
    }

    /// Ends an emergency freeze now, as `by.person` (a freeze role); audited.
    pub fn end_freeze(&mut self, name: &str, by: Change<'_>) -> Result<i64, ScheduleError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let team = Store::team_in(&tx, &path)?;
        let now_ms = by.now.timestamp_millis();
        let row: Option<(i64, String, i64, Option<i64>)> = tx
            .query_row(
                "SELECT id, environments, until_ms, ended_ms FROM emergency_freezes WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(sql)?;
        let Some((id, envs, until_ms, ended)) = row else {
            let known = emergency_in(&tx).map_err(sql)?.into_iter().map(|f| f.name).collect::<Vec<_>>();
            return Err(ScheduleError::Input(format!(
                "no emergency freeze named \"{name}\" (declared: {})",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
        };
        if ended.is_some() || until_ms <= now_ms {
            return Err(ScheduleError::Input(format!("emergency freeze \"{name}\" is already over")));
        }
        let roles = team.as_ref().map(|t| t.policy.schedule.freeze_roles.clone()).unwrap_or_default();
        let state = serde_json::json!({ "name": name });
        let what = format!("freeze end \"{name}\" by {}", by.person);
        let role = match holder(team.as_ref(), by.person, &roles, &what) {
            Ok((_, role)) => role,
            Err(refused) => {
                let rec = Record {
                    deployment_id: 0,
                    decision: FREEZE_END,
                    person: by.person,
                    role: None,
                    os_user: by.os_user,
                    reason: by.reason,
                    state,
                    now_ms,
                    refused: true,
                };
                return Err(refuse(tx, team.as_ref(), &rec, refused).map_err(sql)?);
            }
        };
        tx.execute(
            "UPDATE emergency_freezes SET ended_ms = ?2, ended_by = ?3 WHERE id = ?1",
            params![id, now_ms, by.person],
        )
        .map_err(sql)?;
        let rec = Record {
            deployment_id: 0,
            decision: FREEZE_END,
            person: by.person,
            role: Some(&role),
            os_user: by.os_user,
            reason: by.reason,
            state,
            now_ms,
            refused: false,
        };
        let audit_id = append(&tx, &rec).map_err(sql)?;
        let envs: Vec<String> = serde_json::from_str(&envs).unwrap_or_default();
        let subject = format!("Emergency freeze \"{name}\" ended");
        let body = format!("{} ended the emergency freeze \"{name}\".", by.person);
        notify_calendar(&tx, team.as_ref(), &envs, &roles, &subject, &body, now_ms).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(audit_id)
    }

    /// Deployments that hold a slot and overlap `[from, until)`, sorted by start, each with the
    /// targets it shares with `targets`.
    pub fn bookings(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        targets: &[String],
    ) -> Result<Vec<Booking>, StoreError> {
        // No snapshot of its own: callers compose it into theirs (the dashboard's loader).
        self.bookings_in(from, until, targets, true)
    }

    /// Every deployment planned to overlap `[from, until)` (finished ones too: the calendar
    /// shows the past), sorted by start.
    pub fn calendar(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<Booking>, StoreError> {
        self.bookings_in(from, until, &[], false)
    }

    fn bookings_in(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        targets: &[String],
        open_only: bool,
    ) -> Result<Vec<Booking>, StoreError> {
        let sql = |e| self.sql(e);
        let cols = "d.id, r.name, r.version, d.environment, d.status, d.planned_ms,
                    coalesce(d.planned_end_ms, d.planned_ms + 3600000), d.started_ms, d.finished_ms";
        let (lo_ms, until_ms) = (from.timestamp_millis(), until.timestamp_millis());
        // Open deployments: those planned to start within the lookback (a planned run never lasts
        // longer) through the partial index, and those that started and have not finished
        // (however long ago) through theirs. Named, because the planner would otherwise walk
        // every open deployment through the status index.
        let open_sql = format!(
            "SELECT {cols} FROM deployments d INDEXED BY deployments_open_by_planned JOIN releases r ON r.id = d.release_id
             WHERE d.status IN {OPEN} AND d.planned_ms >= ?1 AND d.planned_ms < ?2
             UNION
             SELECT {cols} FROM deployments d INDEXED BY deployments_under_way JOIN releases r ON r.id = d.release_id
             WHERE d.started_ms IS NOT NULL AND d.finished_ms IS NULL AND d.status IN {OPEN} AND d.planned_ms < ?2"
        );
        let mut rows = Vec::new();
        let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Booking> {
            let status: DeploymentStatus = r.get::<_, String>(4)?.parse().unwrap_or(DeploymentStatus::Planned);
            let (planned, planned_end): (i64, i64) = (r.get(5)?, r.get(6)?);
            let (started, finished): (Option<i64>, Option<i64>) = (r.get(7)?, r.get(8)?);
            // A deployment that started shows from when it did; one that finished until then,
            // an open one until its planned end (at least a quarter of an hour).
            let start = started.unwrap_or(planned);
            let end = finished.unwrap_or(planned_end.max(start + ASSUMED_RUN_MS / 4));
            let name: String = r.get(1)?;
            let version: String = r.get(2)?;
            Ok(Booking {
                key: DeploymentKey(r.get(0)?),
                release: format!("{name}@{version}"),
                service: name,
                environment: r.get(3)?,
                status,
                start: from_ms(start),
                end: from_ms(end.max(start + 1)),
                shared_targets: Vec::new(),
            })
        };
        {
            let mut stmt = self.conn.prepare_cached(&open_sql).map_err(sql)?;
            for b in stmt.query_map([lo_ms - LOOKBACK_MS, until_ms], map).map_err(sql)? {
                rows.push(b.map_err(sql)?);
            }
        }
        if !open_only {
            let past_sql = format!(
                "SELECT {cols} FROM deployments d INDEXED BY deployments_by_planned JOIN releases r ON r.id = d.release_id
                 WHERE d.planned_ms >= ?1 AND d.planned_ms < ?2 AND d.status NOT IN ('planned', 'running', 'awaiting_approval', 'verifying')"
            );
            let mut stmt = self.conn.prepare_cached(&past_sql).map_err(sql)?;
            for b in stmt.query_map([lo_ms - 2 * 86_400_000, until_ms], map).map_err(sql)? {
                rows.push(b.map_err(sql)?);
            }
        }
        rows.retain(|b| b.start.timestamp_millis() < until_ms && b.end.timestamp_millis() > lo_ms);
        if !targets.is_empty() {
            let names = serde_json::to_string(targets).unwrap_or_else(|_| "[]".into());
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT name FROM targets WHERE deployment_id = ?1 AND name IN (SELECT value FROM json_each(?2)) ORDER BY name",
                )
                .map_err(sql)?;
            for b in &mut rows {
                b.shared_targets = stmt
                    .query_map(params![b.key.0, names], |r| r.get(0))
                    .map_err(sql)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(sql)?;
            }
        }
        crate::domain::calendar::sort(&mut rows);
        Ok(rows)
    }

    /// The target names of a deployment.
    pub fn target_names(&self, key: DeploymentKey) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM targets WHERE deployment_id = ?1 ORDER BY id")
            .map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([key.0], |r| r.get(0)).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// Moves the planned start (and expected end) of a deployment that has not started, as its
    /// requester or someone allowed to plan for others; `over` is the conflicts overridden (with
    /// the role allowing it), if any. Audited; the requester is told.
    pub fn reschedule(
        &mut self,
        key: DeploymentKey,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        by: Change<'_>,
        over: Option<(&str, &serde_json::Value)>,
    ) -> Result<i64, ScheduleError> {
        self.change_deployment(key, by, RESCHEDULE, |tx, id, _| {
            tx.execute(
                "UPDATE deployments SET planned_ms = ?2, planned_end_ms = ?3 WHERE id = ?1",
                params![id, start.timestamp_millis(), end.timestamp_millis()],
            )?;
            Ok(serde_json::json!({ "start": start, "end": end, "overridden": over.map(|o| o.1), "override_role": over.map(|o| o.0) }))
        })
    }

    /// Cancels a deployment that has not started: it ends `aborted`, with the reason. Audited;
    /// the requester is told.
    pub fn cancel(&mut self, key: DeploymentKey, by: Change<'_>) -> Result<i64, ScheduleError> {
        self.change_deployment(key, by, CANCEL, |tx, id, now_ms| {
            tx.execute(
                "UPDATE deployments SET status = 'aborted', finished_ms = coalesce(finished_ms, ?2) WHERE id = ?1",
                params![id, now_ms],
            )?;
            Ok(serde_json::json!({ "status": "aborted" }))
        })
    }

    /// Records that `person` planned over conflicts as `role`, with a reason (`plan --force`).
    pub fn record_override(
        &mut self,
        key: DeploymentKey,
        by: Change<'_>,
        role: &str,
        conflicts: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let rec = Record {
            deployment_id: key.0,
            decision: SCHEDULE_OVERRIDE,
            person: by.person,
            role: Some(role),
            os_user: by.os_user,
            reason: by.reason,
            state: serde_json::json!({ "overridden": conflicts }),
            now_ms: by.now.timestamp_millis(),
            refused: false,
        };
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let id = append(&tx, &rec).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(id)
    }

    fn change_deployment(
        &mut self,
        key: DeploymentKey,
        by: Change<'_>,
        decision: &str,
        apply: impl FnOnce(&Connection, i64, i64) -> rusqlite::Result<serde_json::Value>,
    ) -> Result<i64, ScheduleError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let Some(dep) = super::gates::load_deployment(&tx, key.0).map_err(sql)? else {
            return Err(StoreError::UnknownDeployment(key.to_string()).into());
        };
        let started: bool = tx
            .query_row(
                "SELECT started_ms IS NOT NULL OR last_event_seq > 0
                     OR EXISTS (SELECT 1 FROM gate_decisions g WHERE g.deployment_id = d.id AND g.outcome IS NULL
                                AND g.decision IN ('approve', 'reject', 'retry', 'abort', 'rollback'))
                 FROM deployments d WHERE d.id = ?1",
                [key.0],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if dep.status.is_final() || started {
            return Err(ScheduleError::Input(format!(
                "{key} is {}{}: only a deployment that has not started can be {}",
                dep.status,
                if started && !dep.status.is_final() { " and has started (events or gate decisions)" } else { "" },
                if decision == CANCEL { "cancelled (abort it instead)" } else { "rescheduled" }
            )));
        }
        let team = Store::team_in(&tx, &path)?;
        let now_ms = by.now.timestamp_millis();
        let what = format!("{decision} of {key} by {}", by.person);
        let allowed: Result<Option<String>, String> = match team.as_ref().and_then(|t| t.person(by.person)) {
            None => Err(format!("{what} refused: \"{}\" is not a person of the log's team", by.person)),
            Some(_) if by.person == dep.requested_by => Ok(None),
            Some(m) => team
                .as_ref()
                .and_then(|t| Team::role_in(m, &t.policy.plan_for_others))
                .map(|r| Some(r.to_owned()))
                .ok_or_else(|| {
                    format!(
                        "{what} refused: only the requester ({}) or someone allowed to plan for others ({}) may",
                        dep.requested_by,
                        team.as_ref().map(|t| t.policy.plan_for_others.join(", ")).unwrap_or_default()
                    )
                }),
        };
        let role = match allowed {
            Ok(role) => role,
            Err(refused) => {
                let rec = Record {
                    deployment_id: dep.id,
                    decision,
                    person: by.person,
                    role: None,
                    os_user: by.os_user,
                    reason: by.reason,
                    state: serde_json::json!({ "refused": refused }),
                    now_ms,
                    refused: true,
                };
                return Err(refuse(tx, team.as_ref(), &rec, refused).map_err(sql)?);
            }
        };
        let mut state = apply(&tx, dep.id, now_ms).map_err(sql)?;
        state["planned_start_before"] = serde_json::json!(dep.planned_start);
        let rec = Record {
            deployment_id: dep.id,
            decision,
            person: by.person,
            role: role.as_deref(),
            os_user: by.os_user,
            reason: by.reason,
            state: state.clone(),
            now_ms,
            refused: false,
        };
        let id = append(&tx, &rec).map_err(sql)?;
        let subject = match decision {
            CANCEL => format!("{key} cancelled: {} in {}", dep.release, dep.environment),
            _ => format!("{key} rescheduled: {} in {}", dep.release, dep.environment),
        };
        let body = format!(
            "{} {}{}{}",
            by.person,
            if decision == CANCEL { "cancelled it" } else { "moved its planned start" },
            state.get("start").and_then(|s| s.as_str()).map_or(String::new(), |s| format!(" to {s}")),
            by.reason.map_or(String::new(), |r| format!(": {r}"))
        );
        let first_phase: i64 = tx
            .query_row("SELECT id FROM phases WHERE deployment_id = ?1 ORDER BY idx LIMIT 1", [dep.id], |r| r.get(0))
            .map_err(sql)?;
        let happening = Happening {
            dep: &dep,
            phase_id: first_phase,
            kind: SCHEDULE_CHANGED,
            also: None,
            told: vec![dep.requested_by.clone()],
            except: None,
            subject,
            body,
            now_ms,
        };
        tell(&tx, &happening).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(id)
    }
}

/// Tells the holders of a freeze role and the people subscribed to `schedule_changed` in these
/// environments about a freeze: in-app, and over the channels of their stakeholder rules.
fn notify_calendar(
    conn: &Connection,
    team: Option<&Team>,
    environments: &[String],
    roles: &[String],
    subject: &str,
    body: &str,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let mut recipients: Vec<(String, Vec<String>)> = team
        .map(|t| {
            t.members
                .iter()
                .filter(|m| Team::role_in(m, roles).is_some())
                .map(|m| (m.name.clone(), Vec::new()))
                .collect()
        })
        .unwrap_or_default();
    let mut stmt = conn
        .prepare_cached("SELECT person, channels, environments FROM subscriptions WHERE kind = ?1 ORDER BY person")?;
    let rows = stmt
        .query_map([SCHEDULE_CHANGED], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (person, channels, envs) in rows {
        let envs: Vec<String> = serde_json::from_str(&envs).unwrap_or_default();
        let matches = envs.is_empty() || environments.is_empty() || environments.iter().any(|e| envs.contains(e));
        if !matches {
            continue;
        }
        let channels: Vec<String> = serde_json::from_str(&channels).unwrap_or_default();
        match recipients.iter_mut().find(|(p, _)| *p == person) {
            Some((_, have)) => have.extend(channels.into_iter().filter(|c| !have.contains(c)).collect::<Vec<_>>()),
            None => recipients.push((person, channels)),
        }
    }
    let mut note = conn.prepare_cached(
        "INSERT INTO notifications (deployment_id, phase_id, kind, recipient, subject, body, created_ms)
         VALUES (NULL, NULL, ?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut delivery = conn.prepare_cached(
        "INSERT INTO deliveries (notification_id, channel, due_ms, created_ms, idempotency_key)
         VALUES (?1, ?2, ?3, ?3, ?4)",
    )?;
    for (person, channels) in &recipients {
        note.execute(params![SCHEDULE_CHANGED, person, subject, body, now_ms])?;
        let id = conn.last_insert_rowid();
        for c in channels {
            delivery.execute(params![id, c, now_ms, uuid::Uuid::new_v4().to_string()])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
