//! Gate decisions: the policy check and its record in one `BEGIN IMMEDIATE` transaction.
//!
//! Taking the write lock before reading the decisions so far means two people approving at the
//! same moment from separate processes are checked one after the other: the second sees the
//! first, so counts are exact and a gate is never approved twice. The same transaction appends
//! the audit record, applies the decision's effect (halt, re-open, or nothing) and stores the
//! notifications it causes. Ingest and planning call [`awaiting`] to derive `awaiting_approval`
//! and to open gates whose phase before has just succeeded.

pub(super) mod audit;
pub(super) mod views;

pub use audit::{AuditProblem, AuditVerified};

use super::{Store, StoreError};
use crate::clock::to_ms;
use crate::domain::conformance::Flag;
use crate::domain::gate::{self, Allowed, Decider, Decision, GateFacts, GateState, Previous, Recorded, Refusal};
use crate::domain::model::Automatic;
use crate::domain::team::{IdentityMode, Member, TimeRules};
use crate::domain::{DeploymentKey, DeploymentStatus, GatePolicy, PhaseCounts, PhaseStatus, RecoveryPolicy};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

/// A decision someone wants recorded.
#[derive(Debug, Clone, Copy)]
pub struct DecisionRequest<'a> {
    pub key: DeploymentKey,
    pub phase: &'a str,
    pub decision: Decision,
    /// The person deciding; their roles come from the team stored in the log.
    pub person: &'a str,
    /// The OS account that made the decision (the audit shows who acted under whose name).
    pub os_user: &'a str,
    pub comment: Option<&'a str>,
    /// The written reason of a rejection or of a freeze override.
    pub reason: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// shipdeck itself decides (`person` is then [`Automatic::actor`]): allowed only on a gate
    /// the planner made automatic of this kind, never as a person; a refusal is not recorded
    /// (the automation looks again soon), and a person may still decide the gate.
    pub automatic: Option<Automatic>,
}

/// A gate that shipdeck approves itself and that holds its deployment now.
#[derive(Debug, Clone, PartialEq)]
pub struct AutomaticGate {
    pub key: DeploymentKey,
    pub phase: String,
    pub automatic: Automatic,
    /// The phase before it, and how it ended: failed targets, of how many, and its budget.
    pub previous: String,
    pub previous_failed: usize,
    pub previous_targets: usize,
    pub previous_budget: usize,
    /// [`Automatic::Analysis`]: the canary analysis now (the phase before is the canary).
    pub analysis: Option<crate::domain::analysis::Analysis>,
}

/// The role an automatic decision is recorded in.
pub const AUTOMATIC_ROLE: &str = "automatic";

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionOutcome {
    /// The audit record's number.
    pub audit_id: i64,
    pub decision: Decision,
    pub allowed: Allowed,
    /// The deployment's status after the decision.
    pub deployment_status: DeploymentStatus,
    /// What the audit flags about who acted ("acted as X from account Y", "planned and
    /// approved from one account"), in declared identity mode.
    pub flags: Vec<String>,
}

/// Why a decision was not recorded or a gate cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The policy refused it: the decision was not recorded.
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("\"{phase}\" is not a phase of {key} (phases: {known})")]
    UnknownPhase { key: DeploymentKey, phase: String, known: String },
    #[error("phase \"{phase}\" of {key} has no gate, so there is nothing to approve or reject (gated phases: {gated})")]
    NoGate { key: DeploymentKey, phase: String, gated: String },
    /// The person is not in the team stored in the log (or the log holds no team).
    #[error("{0}")]
    NotInTeam(String),
    /// A stored policy does not parse: nothing can be decided (fail closed).
    #[error("{what} does not parse ({detail}): the log is damaged, so nothing was decided on it")]
    Corrupt { what: String, detail: String },
}

/// A phase as gate rules need it.
#[derive(Debug, Clone)]
pub(super) struct PhaseRow {
    pub id: i64,
    pub name: String,
    pub status: PhaseStatus,
    pub gate: Option<GatePolicy>,
    /// The stored gate JSON did not parse: the phase is gated by a policy nobody can read,
    /// so nothing may be decided on it (never "no gate").
    pub gate_corrupt: Option<String>,
    pub finished_ms: Option<i64>,
    pub opened_ms: Option<i64>,
}

/// A deployment as gate rules need it.
#[derive(Debug, Clone)]
pub(super) struct DeploymentRow {
    pub id: i64,
    pub environment: String,
    pub requested_by: String,
    pub status: DeploymentStatus,
    pub release: String,
    pub planned_start: DateTime<Utc>,
    /// The OS account the deployment was planned from, when recorded.
    pub planned_os_user: Option<String>,
    /// The recovery policy JSON copied from the model (`None`: planned before it existed).
    pub recovery: Option<String>,
}

/// A person's approval of the gate a canary analysis decides, over the analysis's halt, is
/// checked as if the canary stood (its targets succeeded): when `pos` is that gate and the
/// analysis halted the canary, `dep` and `phases` are set so, and the halt's time is returned.
/// The one rule for the decision and for its dry run (the inbox, the dialogs).
pub(super) fn stand_halted_canary(
    conn: &Connection,
    dep: &mut DeploymentRow,
    phases: &mut [PhaseRow],
    pos: usize,
) -> rusqlite::Result<Option<i64>> {
    let Some((apos, _)) = super::analysis::analysed_gate(phases).filter(|(p, _)| *p == pos) else {
        return Ok(None);
    };
    let halted = super::analysis::halted_at(conn, phases[apos - 1].id)?;
    if halted.is_some() && dep.status == DeploymentStatus::Failed {
        phases[apos - 1].status = PhaseStatus::Succeeded;
        dep.status = DeploymentStatus::AwaitingApproval;
    }
    Ok(halted)
}

pub(super) fn load_deployment(conn: &Connection, id: i64) -> rusqlite::Result<Option<DeploymentRow>> {
    conn.prepare_cached(
        "SELECT d.id, d.environment, d.requested_by, d.status, r.name || '@' || r.version, d.planned_ms, d.planned_os_user, d.recovery
         FROM deployments d JOIN releases r ON r.id = d.release_id WHERE d.id = ?1",
    )?
    .query_row([id], |r| {
        Ok(DeploymentRow {
            id: r.get(0)?,
            environment: r.get(1)?,
            requested_by: r.get(2)?,
            status: r.get::<_, String>(3)?.parse().unwrap_or(DeploymentStatus::Planned),
            release: r.get(4)?,
            planned_start: crate::clock::from_ms(r.get(5)?),
            planned_os_user: r.get(6)?,
            recovery: r.get(7)?,
        })
    })
    .optional()
}

pub(super) fn load_phases(conn: &Connection, deployment: i64) -> rusqlite::Result<Vec<PhaseRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, status, gate, finished_ms, gate_opened_ms FROM phases WHERE deployment_id = ?1 ORDER BY idx",
    )?;
    let rows = stmt.query_map([deployment], |r| {
        let stored: Option<String> = r.get(3)?;
        let parsed = stored.as_deref().map(serde_json::from_str::<GatePolicy>).transpose();
        let (gate, gate_corrupt) = match parsed {
            Ok(gate) => (gate, None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(PhaseRow {
            id: r.get(0)?,
            name: r.get(1)?,
            status: r.get::<_, String>(2)?.parse().unwrap_or(PhaseStatus::Pending),
            gate,
            gate_corrupt,
            finished_ms: r.get(4)?,
            opened_ms: r.get(5)?,
        })
    })?;
    rows.collect()
}

pub(super) fn load_decisions(conn: &Connection, phase: i64) -> rusqlite::Result<Vec<Recorded>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person, decision, decided_ms FROM gate_decisions WHERE phase_id = ?1 AND outcome IS NULL AND subject IS NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([phase], |r| {
        Ok(Recorded {
            person: r.get(0)?,
            decision: r.get::<_, String>(1)?.parse().unwrap_or(Decision::Approve),
            at: crate::clock::from_ms(r.get(2)?),
        })
    })?;
    rows.collect()
}

/// The phase before the one at `pos`, as the gate on it sees it.
/// The state of the gate of the phase at `pos`.
pub(super) fn gate_state(policy: &GatePolicy, phases: &[PhaseRow], pos: usize, decisions: &[Recorded]) -> GateState {
    gate::state(policy, previous_of(phases, pos), decisions)
}

pub(super) fn previous_of(phases: &[PhaseRow], pos: usize) -> Previous {
    gate::hold::previous(pos.checked_sub(1).map(|i| (phases[i].status, phases[i].finished_ms)))
}

fn find_phase(key: DeploymentKey, phases: &[PhaseRow], name: &str) -> Result<usize, GateError> {
    phases.iter().position(|p| p.name == name).ok_or_else(|| GateError::UnknownPhase {
        key,
        phase: name.to_owned(),
        known: phases.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
    })
}

fn no_gate(key: DeploymentKey, phases: &[PhaseRow], name: &str) -> GateError {
    let gated: Vec<&str> = phases.iter().filter(|p| p.gate.is_some()).map(|p| p.name.as_str()).collect();
    GateError::NoGate {
        key,
        phase: name.to_owned(),
        gated: if gated.is_empty() { "none".into() } else { gated.join(", ") },
    }
}

/// Every role named by a list of the deployment's gates (freeze overrides, for a retry during a freeze).
fn union<'a>(lists: impl Iterator<Item = &'a Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in lists.flatten() {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

impl Store {
    /// Checks a decision against the policy and records it, in one write transaction.
    ///
    /// The person's roles come from the team stored in the log, read in the same transaction.
    /// `Err(GateError::Refused)` names the rule that blocked; the attempt is then recorded in
    /// the audit trail as refused (what was tried, by whom, the rule) and counts for nothing.
    pub fn decide(&mut self, req: &DecisionRequest<'_>) -> Result<DecisionOutcome, GateError> {
        self.decide_or_preview(req, false).map(|(outcome, _)| outcome)
    }

    /// What [`Store::decide`] would record and who it would tell, over which channels, without
    /// writing anything: the same transaction runs to its end and is rolled back, so the preview
    /// and the notifications that follow the real decision come from the same code.
    pub fn preview_decision(
        &mut self,
        req: &DecisionRequest<'_>,
    ) -> Result<(DecisionOutcome, Vec<crate::domain::notify::Told>), GateError> {
        self.decide_or_preview(req, true)
    }

    fn decide_or_preview(
        &mut self,
        req: &DecisionRequest<'_>,
        dry_run: bool,
    ) -> Result<(DecisionOutcome, Vec<crate::domain::notify::Told>), GateError> {
        // A retry rewrites targets' state behind this connection's own ingest cache.
        self.targets.clear();
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let team = match super::Store::team_in(&tx, &path)? {
            Some(team) => team,
            None => {
                return Err(GateError::NotInTeam(format!(
                    "the deployment log {} holds no team yet, so nobody may decide: run `shipdeck team sync` (or plan a deployment) first",
                    path.display()
                )));
            }
        };
        let automaton;
        let member = match req.automatic {
            Some(auto) => {
                automaton =
                    Member { name: auto.actor().to_owned(), roles: vec![AUTOMATIC_ROLE.to_owned()], login: None };
                Some(&automaton)
            }
            None => team.person(req.person),
        };
        let Some(member) = member else {
            return Err(GateError::NotInTeam(format!(
                "{} of {} {} by {} refused: \"{}\" is not a person of the log's team (people: {})",
                req.decision,
                req.key,
                req.phase,
                req.person,
                req.person,
                team.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        };
        let Some(stored) = &team.time_rules else {
            return Err(GateError::NotInTeam(format!(
                "the team in {} was stored without its change windows and freezes, so nothing is decided until it is stored again: run `shipdeck team sync`",
                path.display()
            )));
        };
        // Emergency freezes declared at run time hold at once, beside the stored ones.
        let rules = TimeRules::in_force(Some(stored.clone()), super::schedule::emergency_in(&tx).map_err(sql)?);
        let before = super::outbox::newest_notification(&tx).map_err(sql)?;
        let outcome = decide_in(&tx, req, member, team.policy.identity, &rules).map_err(sql)?;
        if dry_run {
            // Dropping the transaction rolls it back: nothing of the preview is kept.
            let told = super::outbox::told_after(&tx, before).map_err(sql)?;
            return outcome.map(|o| (o, told));
        }
        match outcome {
            Ok(_) => tx.commit().map_err(sql)?,
            Err(GateError::Refused(_)) if req.automatic.is_none() => tx.commit().map_err(sql)?,
            Err(_) => {}
        }
        outcome.map(|o| (o, Vec::new()))
    }

    /// The automatic gates holding deployments now, whose phase before succeeded within its
    /// budget and that agents did not run past: what the automation decides next (an analysed
    /// gate with its analysis at `now`).
    pub fn automatic_gates(&self, now: DateTime<Utc>) -> Result<Vec<AutomaticGate>, StoreError> {
        let sql = |e| self.sql(e);
        let ids: Vec<i64> = self
            .conn
            .prepare_cached("SELECT id FROM deployments WHERE status = 'awaiting_approval' ORDER BY id")
            .map_err(sql)?
            .query_map([], |r| r.get(0))
            .map_err(sql)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql)?;
        let mut out = Vec::new();
        for id in ids {
            let phases = load_phases(&self.conn, id).map_err(sql)?;
            let Some((pos, phase, policy)) = open_gate(&self.conn, &phases).map_err(sql)? else { continue };
            let Some(automatic) = policy.auto else { continue };
            if pos == 0 || ran_past(&phases, pos) || !matches!(previous_of(&phases, pos), Previous::SucceededAt(_)) {
                continue;
            }
            let before = &phases[pos - 1];
            let (failed, targets, budget): (usize, usize, usize) = self
                .conn
                .prepare_cached("SELECT failed, target_count, failure_budget FROM phases WHERE id = ?1")
                .map_err(sql)?
                .query_row([before.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(sql)?;
            let analysis = if automatic == Automatic::Analysis {
                super::analysis::analyse_gate(&self.conn, id, &phases, pos, &policy, to_ms(now)).map_err(sql)?
            } else {
                None
            };
            out.push(AutomaticGate {
                key: DeploymentKey(id),
                phase: phase.name.clone(),
                automatic,
                previous: before.name.clone(),
                previous_failed: failed,
                previous_targets: targets,
                previous_budget: budget,
                analysis,
            });
        }
        Ok(out)
    }
}

/// The rule of four eyes by OS account (os-login mode) and, in declared mode, the flags the
/// audit shows when names and accounts do not line up.
fn account_rules(
    conn: &Connection,
    req: &DecisionRequest<'_>,
    dep: &DeploymentRow,
    phase: &PhaseRow,
    member: &Member,
    identity: IdentityMode,
) -> rusqlite::Result<Result<Vec<String>, Refusal>> {
    let planned_here = dep.planned_os_user.as_deref() == Some(req.os_user);
    let approvals_here: Option<String> = if req.decision == Decision::Approve {
        conn.prepare_cached(
            "SELECT person FROM gate_decisions WHERE phase_id = ?1 AND outcome IS NULL AND decision = 'approve'
             AND os_user = ?2 ORDER BY id LIMIT 1",
        )?
        .query_row(params![phase.id, req.os_user], |r| r.get(0))
        .optional()?
    } else {
        None
    };
    let allow_self = phase.gate.as_ref().is_some_and(|g| g.allow_self);
    if identity == IdentityMode::OsLogin && req.decision == Decision::Approve && !allow_self {
        if planned_here {
            return Ok(Err(Refusal::SameAccount { account: req.os_user.to_owned() }));
        }
        if let Some(person) = approvals_here {
            return Ok(Err(Refusal::AccountAlreadyApproved { account: req.os_user.to_owned(), person }));
        }
        return Ok(Ok(Vec::new()));
    }
    let mut flags: Vec<String> = crate::domain::team::acted_as(member, req.os_user).into_iter().collect();
    if req.decision == Decision::Approve && planned_here {
        flags.push(format!("planned and approved from one account ({})", req.os_user));
    }
    if let Some(person) = approvals_here.filter(|p| p != req.person) {
        flags.push(format!("approved by {person} and {} from one account ({})", req.person, req.os_user));
    }
    Ok(Ok(flags))
}

fn decide_in(
    conn: &Connection,
    req: &DecisionRequest<'_>,
    member: &Member,
    identity: IdentityMode,
    rules: &TimeRules,
) -> rusqlite::Result<Result<DecisionOutcome, GateError>> {
    let Some(mut dep) = load_deployment(conn, req.key.0)? else {
        return Ok(Err(StoreError::UnknownDeployment(req.key.to_string()).into()));
    };
    let mut phases = load_phases(conn, dep.id)?;
    let pos = match find_phase(req.key, &phases, req.phase) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    // A person approving a gate over its canary analysis: an override, flagged in the audit.
    // Over a halt, the gate is decided as if the canary stood (its targets succeeded).
    let mut over_analysis = None;
    if req.automatic.is_none() && req.decision == Decision::Approve {
        if let Some((apos, policy)) = super::analysis::analysed_gate(&phases).filter(|(p, _)| *p == pos) {
            let policy = policy.clone();
            let analysis = super::analysis::analyse_gate(conn, dep.id, &phases, apos, &policy, to_ms(req.now))?;
            let verdict = analysis.as_ref().map(|a| a.verdict);
            let halted = stand_halted_canary(conn, &mut dep, &mut phases, pos)?;
            if verdict != Some(crate::domain::analysis::Verdict::Pass) {
                let text = analysis.map_or_else(
                    || format!("the canary analysis has not started ({} has not succeeded)", phases[apos - 1].name),
                    |a| a.summary(),
                );
                over_analysis = Some((halted.map(|_| phases[apos - 1].id), format!("override of {text}")));
            }
        }
    }
    // Fail closed: a stored policy nobody can read decides nothing (never "no gate").
    if let Some(bad) = phases.iter().find(|p| p.gate_corrupt.is_some()) {
        return Ok(Err(GateError::Corrupt {
            what: format!("the stored gate policy of {} phase {}", req.key, bad.name),
            detail: bad.gate_corrupt.clone().unwrap_or_default(),
        }));
    }
    let recovery = match recovery_policy(&dep) {
        Ok(r) => r,
        Err(detail) => {
            return Ok(Err(GateError::Corrupt { what: format!("the stored recovery policy of {}", req.key), detail }));
        }
    };
    let phase = &phases[pos];
    let decisions = load_decisions(conn, phase.id)?;
    let decider = Decider { name: req.person, roles: &member.roles };
    // The switch phase of a parallel deployment: approving its gate moves traffic to the new
    // set, and rolling it back moves traffic back to the old set.
    let switchover = super::parallel::load(conn, dep.id)?.filter(|s| s.phase == phase.name);
    let checked = if let (Decision::Rollback, Some(switch)) = (req.decision, &switchover) {
        let facts = gate::RecoveryFacts {
            phase_status: phase.status,
            deployment_status: dep.status,
            environment: &dep.environment,
            requester: &dep.requested_by,
            roles: &recovery.roles,
            freeze_override_roles: &[],
            freezes: &rules.freezes,
        };
        crate::domain::parallel::check_switch_back(switch, &facts, decider, req.now)
    } else if req.decision.on_failed_phase() {
        let overrides = union(phases.iter().filter_map(|p| p.gate.as_ref()).map(|g| &g.freeze_override_roles));
        let facts = gate::RecoveryFacts {
            phase_status: phase.status,
            deployment_status: dep.status,
            environment: &dep.environment,
            requester: &dep.requested_by,
            roles: &recovery.roles,
            freeze_override_roles: &overrides,
            freezes: &rules.freezes,
        };
        gate::check_recovery(req.decision, &facts, decider, req.reason, req.now)
    } else {
        let Some(policy) = &phase.gate else { return Ok(Err(no_gate(req.key, &phases, req.phase))) };
        // shipdeck decides only the gates the planner made automatic of its kind, in the role
        // the automation holds, under every other rule of the gate (halts, freezes, ...).
        let automatic_policy;
        let policy = match req.automatic {
            None => policy,
            Some(auto) if policy.auto == Some(auto) && req.decision == Decision::Approve => {
                automatic_policy = GatePolicy { roles: vec![AUTOMATIC_ROLE.to_owned()], ..policy.clone() };
                &automatic_policy
            }
            Some(_) => {
                return Ok(Err(GateError::Refused(Refusal::Role {
                    person: req.person.to_owned(),
                    roles: policy.roles.clone(),
                })));
            }
        };
        let unticked = super::checklists::unticked(conn, dep.id, &policy.require)?;
        let facts = GateFacts {
            policy,
            deployment_status: dep.status,
            environment: &dep.environment,
            requester: &dep.requested_by,
            previous: previous_of(&phases, pos),
            planned_start: dep.planned_start,
            decisions: &decisions,
            windows: &rules.windows,
            freezes: &rules.freezes,
            ran_past: ran_past(&phases, pos),
            unticked: &unticked,
        };
        gate::check_gate(req.decision, &facts, decider, req.reason, req.now)
            .and_then(|allowed| gate::check_feedback(policy, req.decision, req.comment).map(|()| allowed))
    };
    let checked = match checked {
        Ok(allowed) if req.automatic.is_some() => Ok((allowed, Vec::new())),
        Ok(allowed) => account_rules(conn, req, &dep, phase, member, identity)?.map(|mut flags| {
            flags.extend(over_analysis.as_ref().map(|o| o.1.clone()));
            (allowed, flags)
        }),
        Err(refusal) => Err(refusal),
    };
    let now_ms = to_ms(req.now);
    // Where the decision falls among the deployment's events (the write lock orders them), so
    // replay applies it exactly between the events it came between.
    let events_before: i64 = conn
        .prepare_cached("SELECT last_event_seq FROM deployments WHERE id = ?1")?
        .query_row([dep.id], |r| r.get(0))?;
    let record = |allowed: Option<&Allowed>, refusal: Option<&Refusal>, flags: &[String]| {
        let policy_state = serde_json::json!({
            "check": allowed,
            "refused": refusal.map(|r| serde_json::json!({ "rule": r, "text": r.to_string() })),
            "identity": identity.as_str(),
            "flags": flags,
            "deployment_status": dep.status,
            "phase_status": phase.status,
            "approvals_before": gate::approvers(&decisions).iter().map(|d| &d.person).collect::<Vec<_>>(),
            "policy": phase.gate,
            "recovery": req.decision.on_failed_phase().then_some(&recovery),
            "events_before": events_before,
        });
        audit::append(
            conn,
            &audit::NewRecord {
                deployment_id: dep.id,
                phase_id: phase.id,
                decision: req.decision.as_str(),
                subject: None,
                person: req.person,
                role: allowed.and_then(|a| a.role.as_deref()),
                os_user: req.os_user,
                comment: req.comment.map(str::trim).filter(|c| !c.is_empty()),
                reason: req.reason.map(str::trim).filter(|c| !c.is_empty()),
                policy_state: &policy_state.to_string(),
                decided_ms: now_ms,
                outcome: refusal.map(|_| audit::REFUSED),
            },
        )
    };
    let (allowed, flags) = match checked {
        Ok(ok) => ok,
        Err(refusal) => {
            record(None, Some(&refusal), &[])?;
            return Ok(Err(GateError::Refused(refusal)));
        }
    };
    let audit_id = record(Some(&allowed), None, &flags)?;
    if let Some((Some(canary), _)) = &over_analysis {
        super::analysis::lift_halt(conn, *canary)?;
    }
    match req.decision {
        Decision::Approve if switchover.is_some() && allowed.after == gate::GateState::Approved => {
            super::parallel::switched(conn, dep.id, phase.id, now_ms)?;
        }
        Decision::Approve => {}
        Decision::Reject | Decision::Abort => halt(conn, dep.id, DeploymentStatus::Aborted, now_ms)?,
        Decision::Rollback => {
            if switchover.is_some() {
                super::parallel::switched_back(conn, dep.id, now_ms)?;
            }
            halt(conn, dep.id, DeploymentStatus::RolledBack, now_ms)?;
        }
        Decision::Retry => reopen(conn, phase.id, now_ms)?,
    }
    super::ingest::update_deployment(conn, dep.id, 0, now_ms)?;
    let status = load_deployment(conn, dep.id)?.map_or(dep.status, |d| d.status);
    views::notify_decision(conn, &dep, &phase.name, req, &allowed, now_ms)?;
    if status.is_halted() && !dep.status.is_halted() {
        views::notify_finished(conn, &dep, status, None, now_ms)?;
    }
    Ok(Ok(DecisionOutcome { audit_id, decision: req.decision, allowed, deployment_status: status, flags }))
}

/// The deployment's recovery policy: as copied from its model, or the default for deployments
/// planned before it was stored. `Err` names why the stored one does not parse.
pub(super) fn recovery_policy(dep: &DeploymentRow) -> Result<RecoveryPolicy, String> {
    match &dep.recovery {
        None => Ok(RecoveryPolicy::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| e.to_string()),
    }
}

/// A decision stops the deployment for good: events never undo it.
fn halt(conn: &Connection, deployment: i64, status: DeploymentStatus, now_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE deployments SET status = ?2, finished_ms = coalesce(finished_ms, ?3) WHERE id = ?1")?
        .execute(params![deployment, status.as_str(), now_ms])?;
    Ok(())
}

/// Retry: the phase's failed targets start over, so the phase runs again within its budget.
/// (`lifecycle::retry_restarts` says which; replay applies the same.)
fn reopen(conn: &Connection, phase: i64, now_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE targets SET status = 'pending', progress = '[]', last_error = NULL WHERE phase_id = ?1 AND status IN ('failed', 'lost')",
    )?
    .execute([phase])?;
    let (total, succeeded, running, budget): (usize, usize, usize, usize) = conn
        .prepare_cached("SELECT target_count, succeeded, running, failure_budget FROM phases WHERE id = ?1")?
        .query_row([phase], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    let status = PhaseCounts { total, succeeded, failed: 0, running }.status(budget);
    let finished = (status == PhaseStatus::Succeeded).then_some(now_ms);
    // A retry after a failed canary analysis runs the analysis again from now.
    conn.prepare_cached(
        "UPDATE phases SET failed = 0, status = ?2, finished_ms = ?3, analysis_failed_ms = NULL WHERE id = ?1",
    )?
    .execute(params![phase, status.as_str(), finished])?;
    Ok(())
}

/// Whether agents ran past the gate of the phase at `pos`: that phase or a later one has
/// activity.
pub(super) fn ran_past(phases: &[PhaseRow], pos: usize) -> bool {
    gate::hold::ran_past(&statuses(phases), pos)
}

fn statuses(phases: &[PhaseRow]) -> Vec<PhaseStatus> {
    phases.iter().map(|p| p.status).collect()
}

/// The deployment's status given the status its phases imply: `awaiting_approval` while the
/// next phase's gate is pending. Opens that gate (and notifies who may approve it) the first
/// time it is found pending. A gate that agents ran past leaves the status to what the agents
/// did (they are running); it is flagged and stays in the inbox until decided after the fact.
pub(super) fn awaiting(
    conn: &Connection,
    deployment: i64,
    derived: DeploymentStatus,
    now_ms: i64,
) -> rusqlite::Result<DeploymentStatus> {
    if !gate::hold::may_hold(derived) {
        return Ok(derived);
    }
    let phases = load_phases(conn, deployment)?;
    if let Some(first) = phases.iter().position(|p| p.status != PhaseStatus::Succeeded) {
        let ahead = phases[first..].iter().any(|p| p.status != PhaseStatus::Pending);
        if phases[first].gate_corrupt.is_some() && !ahead {
            // A gate nobody can read holds the deployment (fail closed), and opens for no one.
            return Ok(DeploymentStatus::AwaitingApproval);
        }
    }
    let Some((pos, next, policy)) = open_gate(conn, &phases)? else { return Ok(derived) };
    if ran_past(&phases, pos) {
        return Ok(derived);
    }
    if next.opened_ms.is_none() {
        conn.prepare_cached("UPDATE phases SET gate_opened_ms = ?2 WHERE id = ?1")?
            .execute(params![next.id, now_ms])?;
        if let Some(dep) = load_deployment(conn, deployment)? {
            views::notify_pending(conn, &dep, next, &policy, &phases, pos, now_ms)?;
        }
    }
    Ok(DeploymentStatus::AwaitingApproval)
}

/// The gate that holds the deployment: the first gate not approved that agents ran past, else
/// the next phase's gate when it is pending.
pub(super) fn open_gate<'p>(
    conn: &Connection,
    phases: &'p [PhaseRow],
) -> rusqlite::Result<Option<(usize, &'p PhaseRow, GatePolicy)>> {
    let held = gate::hold::holding::<rusqlite::Error>(&statuses(phases), |pos| {
        let Some(policy) = &phases[pos].gate else { return Ok(None) };
        let decisions = load_decisions(conn, phases[pos].id)?;
        Ok(Some(gate::state(policy, previous_of(phases, pos), &decisions)))
    })?;
    Ok(held.and_then(|pos| phases[pos].gate.clone().map(|policy| (pos, &phases[pos], policy))))
}

/// The deployment ended: tell the requester and the stakeholders (see `views::notify_finished`).
pub(super) fn notify_finished(
    conn: &Connection,
    dep: &DeploymentRow,
    status: DeploymentStatus,
    why_failed: Option<String>,
    now_ms: i64,
) -> rusqlite::Result<()> {
    views::notify_finished(conn, dep, status, why_failed, now_ms)
}

/// A conformance flag was raised for the first time: tell the requester and those subscribed
/// to `conformance_flag`, and record it in the audit trail.
pub(super) fn flag_raised(conn: &Connection, flag: &Flag, now_ms: i64) -> rusqlite::Result<()> {
    let Some(dep) = load_deployment(conn, flag.deployment.0)? else { return Ok(()) };
    let phases = load_phases(conn, dep.id)?;
    let phase = flag.phase.as_ref().and_then(|n| phases.iter().find(|p| &p.name == n)).or(phases.first());
    let Some(phase) = phase else { return Ok(()) };
    let headline = flag.headline();
    let policy_state = serde_json::to_string(flag).unwrap_or_default();
    audit::append(
        conn,
        &audit::NewRecord {
            deployment_id: dep.id,
            phase_id: phase.id,
            decision: "flag",
            subject: Some(flag.kind.as_str()),
            person: "agents",
            role: None,
            os_user: "",
            comment: Some(&headline),
            reason: None,
            policy_state: &policy_state,
            decided_ms: now_ms,
            outcome: None,
        },
    )?;
    views::notify_flag(conn, &dep, phase.id, flag, now_ms)
}

#[cfg(test)]
mod tests;
