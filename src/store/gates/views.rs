//! Reading gates (for `gate wait`, the long-poll and the Approvals inbox), storing and reading
//! notifications, and the copy of the team that addresses them.

use super::super::{Store, StoreError};
use super::{DecisionRequest, DeploymentRow, GateError, PhaseRow, find_phase, load_deployment, load_phases, no_gate};
use crate::clock::from_ms;
use crate::domain::gate::view::{ActionItem, ActionKind, Approval, GateView, Notification, Rejection};
use crate::domain::gate::{self, Allowed, Decider, Decision, GateFacts, GateState};
use crate::domain::schedule::{ChangeWindow, Freeze};
use crate::domain::{DeploymentKey, DeploymentStatus, GatePolicy, PhaseStatus};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use crate::store::outbox::{Happening, tell};

/// A gate opened: tell the people allowed to approve it, and those subscribed to gate_pending.
pub(super) fn notify_pending(
    conn: &Connection,
    dep: &DeploymentRow,
    phase: &PhaseRow,
    policy: &GatePolicy,
    phases: &[PhaseRow],
    pos: usize,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached("SELECT name, roles FROM team ORDER BY name")?;
    let team = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let told: Vec<String> = team
        .into_iter()
        .filter(|(name, roles)| {
            let roles: Vec<String> = serde_json::from_str(roles).unwrap_or_default();
            (policy.roles.is_empty() || roles.iter().any(|r| policy.roles.contains(r)))
                && (policy.allow_self || *name != dep.requested_by)
        })
        .map(|(name, _)| name)
        .collect();
    let after = pos.checked_sub(1).map_or_else(
        || "its approval authorises the deployment to start".to_owned(),
        |i| format!("phase {} succeeded", phases[i].name),
    );
    let subject = format!("DEP-{} {}: approval needed ({} of {})", dep.id, phase.name, dep.release, dep.environment);
    let roles = if policy.roles.is_empty() { "anyone".to_owned() } else { policy.roles.join(" or ") };
    let body = format!(
        "{} needs {} approval(s) from {roles}; {after}. Requested by {}.",
        phase.name, policy.approvals, dep.requested_by
    );
    tell(
        conn,
        &Happening {
            dep,
            phase_id: phase.id,
            kind: "gate_pending",
            also: None,
            told,
            except: None,
            subject,
            body,
            now_ms,
        },
    )
}

/// A decision was made: tell the requester and those subscribed to gate_decided (never the
/// person who decided).
pub(super) fn notify_decision(
    conn: &Connection,
    dep: &DeploymentRow,
    phase: &str,
    req: &DecisionRequest<'_>,
    allowed: &Allowed,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let what = match req.decision {
        Decision::Approve if allowed.after == GateState::Approved => "approved (gate open)".to_owned(),
        Decision::Approve => format!("approved ({} of {})", allowed.approvals, allowed.required),
        Decision::Reject => "rejected: deployment halted".to_owned(),
        Decision::Retry => "retried".to_owned(),
        Decision::Abort => "aborted".to_owned(),
        Decision::Rollback => "rolled back".to_owned(),
    };
    let subject = format!("DEP-{} {phase}: {what} by {}", dep.id, req.person);
    let body = [req.reason.map(|r| format!("Reason: {r}")), req.comment.map(|c| format!("Comment: {c}"))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let phase_id: i64 = conn
        .prepare_cached("SELECT id FROM phases WHERE deployment_id = ?1 AND name = ?2")?
        .query_row(params![dep.id, phase], |r| r.get(0))?;
    tell(
        conn,
        &Happening {
            dep,
            phase_id,
            kind: "gate_decided",
            also: None,
            told: vec![dep.requested_by.clone()],
            except: Some(req.person),
            subject,
            body,
            now_ms,
        },
    )
}

/// A conformance flag was raised: tell the requester and those subscribed to conformance_flag.
pub(super) fn notify_flag(
    conn: &Connection,
    dep: &DeploymentRow,
    phase_id: i64,
    flag: &crate::domain::conformance::Flag,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let subject = format!("DEP-{} conformance: {}", dep.id, flag.headline());
    let samples = if flag.sample_targets.is_empty() {
        String::new()
    } else {
        format!(" Targets: {}.", flag.sample_targets.join(", "))
    };
    let body = format!(
        "{} of {} in {}: agents reported what was not authorised ({}).{samples}",
        flag.deployment, dep.release, dep.environment, flag.kind
    );
    tell(
        conn,
        &Happening {
            dep,
            phase_id,
            kind: "conformance_flag",
            also: None,
            told: vec![dep.requested_by.clone()],
            except: None,
            subject,
            body,
            now_ms,
        },
    )
}

/// The deployment ended (`succeeded` after its `post` checklist, `failed`, `aborted`,
/// `rolled_back`): the requester is always told, and those subscribed to that ending or to
/// deployment_finished. `why_failed` words why a failed deployment failed (see
/// [`crate::domain::notify::failure`]).
pub(in crate::store) fn notify_finished(
    conn: &Connection,
    dep: &DeploymentRow,
    status: DeploymentStatus,
    why_failed: Option<String>,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let Some(last) = load_phases(conn, dep.id)?.last().map(|p| p.id) else { return Ok(()) };
    let (kind, subject, body) = match status {
        DeploymentStatus::Succeeded => (
            "deployment_succeeded",
            format!("DEP-{} succeeded: {} in {}", dep.id, dep.release, dep.environment),
            "Every phase succeeded and the deployment verification checklist is done.".to_owned(),
        ),
        DeploymentStatus::Failed => (
            "deployment_failed",
            format!("DEP-{} failed: {} in {}", dep.id, dep.release, dep.environment),
            why_failed.unwrap_or_else(|| crate::domain::notify::failure::UNKNOWN.to_owned()),
        ),
        DeploymentStatus::Aborted => (
            "deployment_aborted",
            format!("DEP-{} aborted: {} in {}", dep.id, dep.release, dep.environment),
            "The deployment was stopped by a decision.".to_owned(),
        ),
        DeploymentStatus::RolledBack => (
            "deployment_rolled_back",
            format!("DEP-{} rolled back: {} in {}", dep.id, dep.release, dep.environment),
            "The deployment was rolled back by a decision.".to_owned(),
        ),
        _ => return Ok(()),
    };
    tell(
        conn,
        &Happening {
            dep,
            phase_id: last,
            kind,
            also: Some("deployment_finished"),
            told: vec![dep.requested_by.clone()],
            except: None,
            subject,
            body,
            now_ms,
        },
    )
}

/// Another happening of a deployment: `kind` tells the requester (when `requester`) and those
/// subscribed to it.
pub(in crate::store) fn notify_happening(
    conn: &Connection,
    dep: &DeploymentRow,
    phase_id: i64,
    kind: &str,
    requester: bool,
    (subject, body): (String, String),
    now_ms: i64,
) -> rusqlite::Result<()> {
    let told = if requester { vec![dep.requested_by.clone()] } else { Vec::new() };
    tell(conn, &Happening { dep, phase_id, kind, also: None, told, except: None, subject, body, now_ms })
}

impl Store {
    /// One gate as it stands now.
    pub fn gate(&self, key: DeploymentKey, phase: &str) -> Result<GateView, GateError> {
        self.read_snapshot(|s| Ok(s.gate_in(key, phase)))?
    }

    fn gate_in(&self, key: DeploymentKey, phase: &str) -> Result<GateView, GateError> {
        let sql = |e| GateError::Store(self.sql(e));
        let dep = load_deployment(&self.conn, key.0)
            .map_err(sql)?
            .ok_or_else(|| StoreError::UnknownDeployment(key.to_string()))?;
        let phases = load_phases(&self.conn, dep.id).map_err(sql)?;
        let pos = find_phase(key, &phases, phase)?;
        let row = &phases[pos];
        if let Some(detail) = &row.gate_corrupt {
            let what = format!("the stored gate policy of {key} phase {phase}");
            return Err(GateError::Corrupt { what, detail: detail.clone() });
        }
        let Some(policy) = row.gate.clone() else { return Err(no_gate(key, &phases, phase)) };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT person, decision, role, comment, reason, decided_ms FROM gate_decisions WHERE phase_id = ?1 AND outcome IS NULL AND subject IS NULL ORDER BY id",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([row.id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(sql)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql)?;
        let mut approvals: Vec<Approval> = Vec::new();
        let mut rejection = None;
        let mut recorded = Vec::new();
        for (person, decision, role, comment, reason, ms) in rows {
            let decision: Decision = decision.parse().unwrap_or(Decision::Approve);
            recorded.push(gate::Recorded { person: person.clone(), decision, at: from_ms(ms) });
            match decision {
                Decision::Approve if !approvals.iter().any(|a| a.person == person) => {
                    approvals.push(Approval { person, role, at: from_ms(ms), comment });
                }
                Decision::Reject if rejection.is_none() => {
                    rejection = Some(Rejection { person, at: from_ms(ms), reason: reason.unwrap_or_default() });
                }
                _ => {}
            }
        }
        let views = self.phases(key)?;
        let state = gate::state(&policy, super::previous_of(&phases, pos), &recorded);
        Ok(GateView {
            deployment: key,
            phase: row.name.clone(),
            phase_index: pos,
            state,
            deployment_status: dep.status,
            environment: dep.environment.clone(),
            planned_start: dep.planned_start,
            required: policy.approvals.max(1),
            approvals,
            rejection,
            policy,
            opened_at: row.opened_ms.map(from_ms),
            previous: pos.checked_sub(1).and_then(|i| views.get(i).cloned()),
            switch: super::super::parallel::load(&self.conn, dep.id).map_err(sql)?.filter(|s| s.phase == row.name),
        })
    }

    /// Pending gates and failed phases, oldest first, each with the context to decide and why
    /// `person` cannot act on it now, if they cannot.
    pub fn inbox(&self, person: Decider<'_>, now: DateTime<Utc>) -> Result<Vec<ActionItem>, StoreError> {
        self.read_snapshot(|s| s.inbox_in(person, now))
    }

    fn inbox_in(&self, person: Decider<'_>, now: DateTime<Utc>) -> Result<Vec<ActionItem>, StoreError> {
        // What a decision would meet: the log's time rules, emergency freezes included.
        let rules = Store::time_rules_in(&self.conn, &self.path)?;
        let (windows, freezes) = (&rules.windows[..], &rules.freezes[..]);
        let open = [DeploymentStatus::Planned, DeploymentStatus::AwaitingApproval, DeploymentStatus::Failed];
        let filter = super::super::ListFilter { statuses: open.to_vec(), limit: 0 };
        let mut deployments = self.list(&filter)?;
        // Gates agents ran past stay until decided, whatever the agents made of the status.
        for key in self.ran_past_gates()? {
            let d = self.summary(key)?;
            if !d.status.is_halted() && !deployments.iter().any(|o| o.key == key) {
                deployments.push(d);
            }
        }
        let mut items = Vec::new();
        for d in deployments {
            let sql = |e| self.sql(e);
            let phases = load_phases(&self.conn, d.key.0).map_err(sql)?;
            let views = self.phases(d.key)?;
            let item = |kind, phase: &PhaseRow, offers: Vec<Decision>, since, gate, result: Option<usize>| ActionItem {
                kind,
                deployment: d.key,
                release: d.release.clone(),
                version: d.version.clone(),
                environment: d.environment.clone(),
                requested_by: d.requested_by.clone(),
                phase: phase.name.clone(),
                offers,
                since,
                gate,
                result: result.and_then(|i| views.get(i).cloned()),
                top_errors: Vec::new(),
                blocked: None,
                ran_past: false,
                switch: None,
            };
            if let Some(pos) = phases.iter().position(|p| p.status == PhaseStatus::Failed) {
                let phase = &phases[pos];
                let offers = vec![Decision::Retry, Decision::Abort, Decision::Rollback];
                let since = from_ms(phase.finished_ms.unwrap_or(0));
                let mut it = item(ActionKind::FailedPhase, phase, offers, since, None, Some(pos));
                it.top_errors = self.top_errors(phase.id)?;
                it.blocked = self.dry_run(d.key, &phase.name, Decision::Retry, person, windows, freezes, now);
                items.push(it);
                // A canary halted by its analysis: the gate the analysis decides stays open to a
                // person who overrides it (approve over the failed analysis, audited as such).
                let halted = crate::store::analysis::halted_at(&self.conn, phase.id).map_err(sql)?.is_some();
                if let Some(next) = phases.get(pos + 1).filter(|n| {
                    halted
                        && n.status == PhaseStatus::Pending
                        && n.gate.as_ref().is_some_and(|g| !g.analysis.is_empty())
                }) {
                    if let Ok(view) = self.gate_in(d.key, &next.name) {
                        let mut it =
                            item(ActionKind::Gate, next, vec![Decision::Approve], since, Some(view), Some(pos));
                        it.top_errors = self.top_errors(phase.id)?;
                        it.blocked = self.dry_run(d.key, &next.name, Decision::Approve, person, windows, freezes, now);
                        items.push(it);
                    }
                }
            } else if let Some((pos, phase, _)) = super::open_gate(&self.conn, &phases).map_err(sql)? {
                let view = match self.gate_in(d.key, &phase.name) {
                    Ok(v) => v,
                    Err(GateError::Store(e)) => return Err(e),
                    Err(_) => continue,
                };
                let since = view.opened_at.unwrap_or(d.created_at);
                let offers = vec![Decision::Approve, Decision::Reject];
                let prev = pos.checked_sub(1);
                let mut it = item(ActionKind::Gate, phase, offers, since, Some(view), prev);
                if let Some(i) = prev {
                    it.top_errors = self.top_errors(phases[i].id)?;
                }
                it.blocked = self.dry_run(d.key, &phase.name, Decision::Approve, person, windows, freezes, now);
                it.ran_past = super::ran_past(&phases, pos);
                items.push(it);
            }
        }
        // Blue/green deployments switched over while their old set is kept: a switch back.
        let now_ms = crate::clock::to_ms(now);
        for id in super::super::parallel::kept(&self.conn, now_ms).map_err(|e| self.sql(e))? {
            let key = DeploymentKey(id);
            let Some(switch) = super::super::parallel::load(&self.conn, id).map_err(|e| self.sql(e))? else {
                continue;
            };
            let d = self.summary(key)?;
            if d.status.is_halted() {
                continue;
            }
            items.push(ActionItem {
                kind: ActionKind::Switched,
                deployment: key,
                release: d.release.clone(),
                version: d.version.clone(),
                environment: d.environment.clone(),
                requested_by: d.requested_by.clone(),
                phase: switch.phase.clone(),
                offers: vec![Decision::Rollback],
                since: switch.switched_at.unwrap_or(d.created_at),
                gate: None,
                result: None,
                top_errors: Vec::new(),
                blocked: self.dry_run(key, &switch.phase, Decision::Rollback, person, windows, freezes, now),
                ran_past: false,
                switch: Some(switch),
            });
        }
        items.sort_by_key(|i| (i.since, i.deployment));
        Ok(items)
    }

    /// Deployments flagged for events ahead of a gate.
    fn ran_past_gates(&self) -> Result<Vec<DeploymentKey>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT deployment_id FROM conformance_flags WHERE kind = 'ahead_of_gate'")
            .map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([], |r| Ok(DeploymentKey(r.get(0)?))).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// The refusal a decision by `person` would meet now, without recording anything (for
    /// automated deciders, whose attempts are not decisions worth an audit record).
    pub fn would_refuse(
        &self,
        key: DeploymentKey,
        phase: &str,
        decision: Decision,
        person: Decider<'_>,
        now: DateTime<Utc>,
    ) -> Option<gate::Refusal> {
        // The rules the decision itself would be checked against: the log's, with emergency
        // freezes.
        let rules = Store::time_rules_in(&self.conn, &self.path).ok()?;
        self.dry_run(key, phase, decision, person, &rules.windows, &rules.freezes, now)
    }

    /// The refusal a decision would meet now, without recording anything.
    #[allow(clippy::too_many_arguments)]
    fn dry_run(
        &self,
        key: DeploymentKey,
        phase: &str,
        decision: Decision,
        person: Decider<'_>,
        windows: &[ChangeWindow],
        freezes: &[Freeze],
        now: DateTime<Utc>,
    ) -> Option<gate::Refusal> {
        let mut dep = load_deployment(&self.conn, key.0).ok()??;
        let mut phases = load_phases(&self.conn, dep.id).ok()?;
        let pos = phases.iter().position(|p| p.name == phase)?;
        if decision == Decision::Approve {
            super::stand_halted_canary(&self.conn, &mut dep, &mut phases, pos).ok()?;
        }
        let decisions = super::load_decisions(&self.conn, phases[pos].id).ok()?;
        let switchover = super::super::parallel::load(&self.conn, dep.id).ok()?.filter(|s| s.phase == phase);
        let result = if let (Decision::Rollback, Some(switch)) = (decision, &switchover) {
            let roles = super::recovery_policy(&dep).ok()?.roles;
            let facts = gate::RecoveryFacts {
                phase_status: phases[pos].status,
                deployment_status: dep.status,
                environment: &dep.environment,
                requester: &dep.requested_by,
                roles: &roles,
                freeze_override_roles: &[],
                freezes,
            };
            crate::domain::parallel::check_switch_back(switch, &facts, person, now)
        } else if decision.on_failed_phase() {
            let roles = super::recovery_policy(&dep).ok()?.roles;
            let overrides =
                super::union(phases.iter().filter_map(|p| p.gate.as_ref()).map(|g| &g.freeze_override_roles));
            let facts = gate::RecoveryFacts {
                phase_status: phases[pos].status,
                deployment_status: dep.status,
                environment: &dep.environment,
                requester: &dep.requested_by,
                roles: &roles,
                freeze_override_roles: &overrides,
                freezes,
            };
            gate::check_recovery(decision, &facts, person, None, now)
        } else {
            let policy = phases[pos].gate.as_ref()?;
            let unticked = super::super::checklists::unticked(&self.conn, dep.id, &policy.require).ok()?;
            let facts = GateFacts {
                policy,
                deployment_status: dep.status,
                environment: &dep.environment,
                requester: &dep.requested_by,
                previous: super::previous_of(&phases, pos),
                planned_start: dep.planned_start,
                decisions: &decisions,
                windows,
                freezes,
                ran_past: super::ran_past(&phases, pos),
                unticked: &unticked,
            };
            gate::check_gate(decision, &facts, person, None, now)
        };
        result.err()
    }

    /// The most frequent error messages of a phase's failed targets (at most 3).
    fn top_errors(&self, phase_id: i64) -> Result<Vec<(String, usize)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT last_error, count(*) FROM targets WHERE phase_id = ?1 AND status = 'failed' AND last_error IS NOT NULL
                 GROUP BY last_error ORDER BY count(*) DESC, last_error LIMIT 3",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([phase_id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// A person's notifications, newest first (`unread_only`: only those not read yet).
    pub fn notifications(
        &self,
        recipient: &str,
        unread_only: bool,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                &format!("{NOTIFICATION_SELECT} WHERE n.recipient = ?1 AND (?2 = 0 OR n.read_ms IS NULL) ORDER BY n.id DESC LIMIT ?3"),
            )
            .map_err(|e| self.sql(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![recipient, unread_only, limit], notification).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// How many notifications a person has not read.
    pub fn unread_count(&self, recipient: &str) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM notifications WHERE recipient = ?1 AND read_ms IS NULL",
                [recipient],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    /// Marks a person's notifications read: these ids, or all when `ids` is empty.
    pub fn mark_read(&mut self, recipient: &str, ids: &[i64], now: DateTime<Utc>) -> Result<usize, StoreError> {
        let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        self.conn
            .execute(
                "UPDATE notifications SET read_ms = ?3 WHERE recipient = ?1 AND read_ms IS NULL
                 AND (?2 = '[]' OR id IN (SELECT value FROM json_each(?2)))",
                params![recipient, ids, now.timestamp_millis()],
            )
            .map_err(|e| self.sql(e))
    }
}

/// The columns [`notification`] maps, over `notifications n` and its phase.
pub(in crate::store) const NOTIFICATION_SELECT: &str = "SELECT n.id, n.recipient, n.kind, n.deployment_id, p.name, n.subject, n.body, n.created_ms, n.read_ms, n.delivered_ms
     FROM notifications n LEFT JOIN phases p ON p.id = n.phase_id";

/// A row of [`NOTIFICATION_SELECT`].
pub(in crate::store) fn notification(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    Ok(Notification {
        id: r.get(0)?,
        recipient: r.get(1)?,
        kind: r.get(2)?,
        deployment: r.get::<_, Option<i64>>(3)?.map(DeploymentKey),
        phase: r.get(4)?,
        subject: r.get(5)?,
        body: r.get(6)?,
        created_at: from_ms(r.get(7)?),
        read_at: r.get::<_, Option<i64>>(8)?.map(from_ms),
        delivered_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
    })
}
