//! Appending agent events and keeping derived state in step, in one transaction.
//!
//! The receiver's writer hands over several requests at once (group commit); each line is
//! matched against the deployment's plan, deduplicated by `(deployment, id)`, appended, and
//! folded into its target's progress. Target, phase and deployment status are written before
//! the same commit, so a reader never sees an event without its consequences.

use super::conformance::{Authority, Tallies};
use super::dedupe::DedupeIndex;
use super::{Store, StoreError, id_hash};
use crate::domain::conformance::{FlagKind, Tally};
use crate::domain::event::check_at;
use crate::domain::lifecycle;
use crate::domain::notify::failure::{Cause, Failure};
use crate::domain::schedule::TimeRules;
use crate::domain::{
    AgentEvent, DeploymentKey, DeploymentStatus, EventStatus, PhaseCounts, TargetProgress, TargetStatus,
};
use chrono::{DateTime, TimeDelta};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One request's worth of parsed lines: `(line number, event)`.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub events: Vec<(usize, AgentEvent)>,
    /// Receive time, milliseconds since the epoch.
    pub received_ms: i64,
}

/// A line that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub line: usize,
    pub error: String,
}

/// The answer to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejection>,
}

impl IngestOutcome {
    /// Adds lines rejected before reaching the log (parse errors), keeping lines in order.
    pub fn with_rejections(mut self, early: impl IntoIterator<Item = (usize, String)>) -> Self {
        self.rejected.extend(early.into_iter().map(|(line, error)| Rejection { line, error }));
        self.rejected.sort_by_key(|r| r.line);
        self
    }

    /// Adds another outcome's counts (for imports done in several transactions).
    pub fn absorb(&mut self, other: Self) {
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.rejected.extend(other.rejected);
    }
}

/// What never changes about a planned deployment: its phases, targets and lifecycle steps.
#[derive(Debug)]
pub(super) struct PlanFacts {
    key: DeploymentKey,
    /// When the deployment was planned (ms since the epoch).
    created_ms: i64,
    steps: Vec<String>,
    /// `(phase id, name)` in order.
    phases: Vec<(i64, String)>,
    /// Target name to `(target id, index into phases)`.
    targets: HashMap<String, (i64, usize)>,
}

impl PlanFacts {
    fn load(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<Option<Self>> {
        let Some((steps, created_ms)) = tx
            .query_row("SELECT steps, created_ms FROM deployments WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()?
        else {
            return Ok(None);
        };
        let steps: Vec<String> = serde_json::from_str(&steps).unwrap_or_default();
        let mut stmt = tx.prepare_cached("SELECT id, name FROM phases WHERE deployment_id = ?1 ORDER BY idx")?;
        let phases =
            stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<(i64, String)>>>()?;
        let index: HashMap<i64, usize> = phases.iter().enumerate().map(|(i, (pid, _))| (*pid, i)).collect();
        let mut stmt = tx.prepare_cached("SELECT id, name, phase_id FROM targets WHERE deployment_id = ?1")?;
        let targets = stmt
            .query_map([id], |r| Ok((r.get::<_, String>(1)?, (r.get::<_, i64>(0)?, r.get::<_, i64>(2)?))))?
            .map(|row| row.map(|(name, (tid, pid))| (name, (tid, index.get(&pid).copied().unwrap_or(0)))))
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        Ok(Some(Self { key: DeploymentKey(id), created_ms, steps, phases, targets }))
    }
}

/// A target's derived state while a batch is folded into it.
struct TargetState {
    deployment: i64,
    phase_id: i64,
    before: TargetStatus,
    progress: TargetProgress,
    step_count: usize,
    last: Option<(i64, i64)>,
    last_step: Option<String>,
    last_status: Option<String>,
    last_message: Option<String>,
    last_error: Option<String>,
    head_seq: Option<i64>,
    seen_ms: i64,
    /// Changed by the batch in progress.
    touched: bool,
}

/// Targets' derived state kept by a writer between its commits, so a busy target is not read
/// back and decoded for every batch. It is valid only while no other connection has committed:
/// `PRAGMA data_version`, read under the write lock, says whether one has.
#[derive(Default)]
pub(super) struct TargetCache {
    version: Option<i64>,
    states: HashMap<i64, TargetState>,
}

/// Targets kept at most; past that the cache starts again.
const MAX_CACHED_TARGETS: usize = 100_000;

impl TargetCache {
    /// Forgets everything (after a failed commit, or a write that changed targets directly).
    pub(super) fn clear(&mut self) {
        self.version = None;
        self.states.clear();
    }
}

/// Why a line does not fit the log; becomes a [`Rejection`].
type LineError = String;

impl Store {
    /// Stores the events of several requests in one transaction; one outcome per request.
    ///
    /// Lines that do not fit the log are rejected one by one; the others are stored. An error
    /// means nothing of any request was stored (the caller answers 503 and agents resend).
    pub fn ingest(&mut self, submissions: &[Submission]) -> Result<Vec<IngestOutcome>, StoreError> {
        let Self { conn, path, plans, dedupe, targets, clock_skew, budget_warning, zone: _ } = self;
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let settings = Settings { clock_skew: *clock_skew, budget_warning: *budget_warning };
        let result = fold_all(&tx, plans, dedupe, targets, &settings, submissions)
            .and_then(|outcomes| tx.commit().map(|()| outcomes));
        if result.is_err() {
            // The in-memory indexes may hold state of the rolled-back rows.
            dedupe.reset();
            targets.clear();
        }
        result.map_err(sql)
    }
}

/// What the writer was configured with.
struct Settings {
    clock_skew: TimeDelta,
    /// The share of a phase's failure budget whose use is told.
    budget_warning: f64,
}

fn fold_all(
    tx: &Transaction<'_>,
    plans: &mut HashMap<i64, Arc<PlanFacts>>,
    dedupe: &mut DedupeIndex,
    cache: &mut TargetCache,
    settings: &Settings,
    submissions: &[Submission],
) -> rusqlite::Result<Vec<IngestOutcome>> {
    let clock_skew = settings.clock_skew;
    dedupe.sync(tx)?;
    let version: i64 = tx.pragma_query_value(None, "data_version", |r| r.get(0))?;
    if cache.version != Some(version) || cache.states.len() > MAX_CACHED_TARGETS {
        cache.states.clear();
    }
    cache.version = Some(version);
    // Conformance flags check agents against the log's rules, as decisions do (never the
    // receiver's config); emergency freezes declared by any process hold from their commit on.
    let rules = &super::team::time_rules_for_writer(tx)?;
    let mut batch = Batch {
        tx,
        plans,
        dedupe,
        targets: &mut cache.states,
        clock_skew,
        touched: Vec::new(),
        newest_seq: BTreeMap::new(),
        rules,
        authority: HashMap::new(),
        tallies: Tallies::new(),
        kinds: Vec::new(),
        step_done: BTreeSet::new(),
        budget_warning: settings.budget_warning,
    };
    let mut outcomes = Vec::with_capacity(submissions.len());
    for sub in submissions {
        let mut out = IngestOutcome::default();
        for (line, event) in &sub.events {
            match batch.append(event, sub.received_ms)? {
                Ok(true) => out.accepted += 1,
                Ok(false) => out.duplicates += 1,
                Err(error) => out.rejected.push(Rejection { line: *line, error }),
            }
        }
        outcomes.push(out);
    }
    batch.write_derived(submissions.iter().map(|s| s.received_ms).max().unwrap_or(0))?;
    Ok(outcomes)
}

struct Batch<'a, 't> {
    tx: &'a Transaction<'t>,
    plans: &'a mut HashMap<i64, Arc<PlanFacts>>,
    dedupe: &'a mut DedupeIndex,
    targets: &'a mut HashMap<i64, TargetState>,
    clock_skew: TimeDelta,
    /// Targets this batch changed, in first-touch order.
    touched: Vec<i64>,
    /// Touched deployments and their newest event seq.
    newest_seq: BTreeMap<i64, i64>,
    rules: &'a TimeRules,
    /// What each deployment written to has authorised, read once per batch.
    authority: HashMap<i64, Authority>,
    /// Conformance flags raised by this batch.
    tallies: Tallies,
    /// Scratch space for one event's flags.
    kinds: Vec<FlagKind>,
    /// Deployments with a lifecycle step that succeeded in this batch (automatic ticks).
    step_done: BTreeSet<i64>,
    /// The share of a phase's failure budget whose use is told.
    budget_warning: f64,
}

impl Batch<'_, '_> {
    fn plan(&mut self, key: &str) -> rusqlite::Result<Result<Arc<PlanFacts>, LineError>> {
        let unknown = || format!("field \"deployment\": unknown deployment \"{key}\"");
        let Ok(DeploymentKey(id)) = key.parse::<DeploymentKey>() else { return Ok(Err(unknown())) };
        if let Some(facts) = self.plans.get(&id) {
            return Ok(Ok(facts.clone()));
        }
        Ok(match PlanFacts::load(self.tx, id)? {
            Some(facts) => {
                let facts = Arc::new(facts);
                self.plans.insert(id, facts.clone());
                Ok(facts)
            }
            None => Err(unknown()),
        })
    }

    /// Appends one event: `Ok(true)` stored, `Ok(false)` duplicate, `Err` rejected.
    fn append(&mut self, ev: &AgentEvent, received_ms: i64) -> rusqlite::Result<Result<bool, LineError>> {
        let facts = match self.plan(&ev.deployment)? {
            Ok(f) => f,
            Err(e) => return Ok(Err(e)),
        };
        let deployment = facts.key.0;
        let ms = |t: i64| DateTime::from_timestamp_millis(t).unwrap_or_default();
        if let Err(e) = check_at(ev.at, ms(received_ms), &facts.key.to_string(), ms(facts.created_ms), self.clock_skew)
        {
            return Ok(Err(e.0));
        }
        let (target_id, phase_idx, planned) = match locate(&facts, ev) {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        let step_idx = facts.steps.iter().position(|s| *s == ev.step);
        if target_id.is_some() && step_idx.is_none() && ev.status != EventStatus::Info {
            return Ok(Err(format!(
                "field \"step\": \"{}\" is not a lifecycle step of {} (steps: {}; use status \"info\" for other steps)",
                ev.step,
                facts.key,
                facts.steps.join(", ")
            )));
        }
        let hash = id_hash(&ev.id);
        if self.dedupe.is_duplicate(self.tx, deployment, hash, &ev.id)? {
            return Ok(Ok(false));
        }
        let at_ms = ev.at.timestamp_millis();
        let phase_id = phase_idx.map(|i| facts.phases[i].0);
        let mut target = match (target_id, phase_id) {
            (Some(tid), Some(pid)) => Some(match self.targets.entry(tid) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(load_target(self.tx, tid, deployment, pid, facts.steps.len())?)
                }
            }),
            _ => None,
        };
        let prev_seq = target.as_ref().and_then(|t| t.head_seq);
        self.tx
            .prepare_cached(
                "INSERT INTO events (deployment_id, phase_id, target_id, prev_seq, event_id, id_hash, step, status, at_ms,
                                     received_ms, message, data, target_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                deployment,
                phase_id,
                target_id,
                prev_seq,
                ev.id,
                hash,
                ev.step,
                ev.status.as_str(),
                at_ms,
                received_ms,
                ev.message,
                ev.data,
                ev.target.as_ref().filter(|_| !planned)
            ])?;
        let seq = self.tx.last_insert_rowid();
        self.dedupe.record(deployment, hash, seq);
        self.newest_seq.insert(deployment, seq);
        if let Some(state) = target.as_mut() {
            if !state.touched {
                state.touched = true;
                self.touched.push(target_id.unwrap_or_default());
            }
            state.head_seq = Some(seq);
            state.fold(ev, step_idx, (at_ms, seq), received_ms);
        }
        if step_idx.is_some() && matches!(ev.status, EventStatus::Succeeded | EventStatus::Skipped) {
            self.step_done.insert(deployment);
        }
        // A metric sample observes a target (the baseline's before their phase, the canary's
        // after a halt, for the analysis): not work that needed authority.
        if !ev.is_metric_sample() {
            self.conformance(deployment, ev, at_ms, phase_idx, planned)?;
        }
        Ok(Ok(true))
    }

    /// Flags what the event did that was not authorised; stored or not, the event stays.
    fn conformance(
        &mut self,
        deployment: i64,
        ev: &AgentEvent,
        at_ms: i64,
        phase_idx: Option<usize>,
        planned: bool,
    ) -> rusqlite::Result<()> {
        let auth = match self.authority.entry(deployment) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => match Authority::load(self.tx, deployment)? {
                Some(a) => e.insert(a),
                None => return Ok(()),
            },
        };
        self.kinds.clear();
        auth.check(self.rules, at_ms, phase_idx, planned, &mut self.kinds);
        for kind in &self.kinds {
            self.tallies
                .entry((deployment, *kind, phase_idx))
                .or_insert_with(Tally::empty)
                .add(at_ms, ev.target.as_deref());
        }
        Ok(())
    }

    /// Writes target, phase and deployment state for everything this batch touched.
    fn write_derived(&mut self, now_ms: i64) -> rusqlite::Result<()> {
        let mut phase_shifts: BTreeMap<i64, Vec<(TargetStatus, TargetStatus)>> = BTreeMap::new();
        let mut update = self.tx.prepare_cached(
            "UPDATE targets SET status = ?2, progress = ?3, last_step = ?4, last_status = ?5, last_message = ?6,
                    last_error = ?7, last_at_ms = ?8, last_seq = ?9, seen_ms = ?10, head_seq = ?11 WHERE id = ?1",
        )?;
        for id in &self.touched {
            let Some(t) = self.targets.get_mut(id) else { continue };
            t.touched = false;
            let after = t.progress.status(t.step_count);
            let progress = serde_json::to_string(&t.progress).unwrap_or_else(|_| "[]".into());
            update.execute(params![
                id,
                after.as_str(),
                progress,
                t.last_step,
                t.last_status,
                t.last_message,
                t.last_error,
                t.last.map(|l| l.0),
                t.last.map(|l| l.1),
                t.seen_ms,
                t.head_seq
            ])?;
            phase_shifts.entry(t.phase_id).or_default().push((t.before, after));
            t.before = after;
            self.newest_seq.entry(t.deployment).or_default();
        }
        for (phase_id, shifts) in phase_shifts {
            update_phase(self.tx, phase_id, &shifts, self.budget_warning, now_ms)?;
        }
        for &deployment in &self.step_done {
            if let Some(facts) = self.plans.get(&deployment) {
                super::checklists::auto_tick(self.tx, deployment, &facts.steps, now_ms)?;
            }
        }
        self.step_done.clear();
        for (&deployment, &seq) in &self.newest_seq {
            update_deployment(self.tx, deployment, seq, now_ms)?;
        }
        if !self.tallies.is_empty() {
            let plans = &*self.plans;
            let names = |dep: i64, idx: usize| plans.get(&dep).and_then(|f| f.phases.get(idx)).map(|p| p.1.clone());
            super::conformance::write(self.tx, &self.tallies, &names, now_ms)?;
            self.tallies.clear();
        }
        Ok(())
    }
}

/// The target id and phase index an event belongs to, checking that they fit together, and
/// whether its target (if it names one) is in the plan. A target that is not is stored and
/// flagged, with the phase it names, if any.
fn locate(facts: &PlanFacts, ev: &AgentEvent) -> Result<(Option<i64>, Option<usize>, bool), LineError> {
    let phase_named = |name: &str| facts.phases.iter().position(|(_, n)| n == name);
    let named_phase = |p: &str| match phase_named(p) {
        Some(idx) => Ok(idx),
        None => {
            let names: Vec<&str> = facts.phases.iter().map(|(_, n)| n.as_str()).collect();
            Err(format!("field \"phase\": \"{p}\" is not a phase of {} (phases: {})", facts.key, names.join(", ")))
        }
    };
    match (&ev.target, &ev.phase) {
        (Some(target), phase) => {
            let Some(&(tid, idx)) = facts.targets.get(target) else {
                return Ok((None, phase.as_deref().map(named_phase).transpose()?, false));
            };
            if let Some(p) = phase.as_deref().filter(|p| *p != facts.phases[idx].1) {
                return Err(format!(
                    "field \"phase\": \"{p}\" does not match target \"{target}\", which is in phase \"{}\"",
                    facts.phases[idx].1
                ));
            }
            Ok((Some(tid), Some(idx), true))
        }
        (None, Some(p)) => Ok((None, Some(named_phase(p)?), true)),
        (None, None) => Ok((None, None, true)),
    }
}

fn load_target(
    tx: &Transaction<'_>,
    id: i64,
    deployment: i64,
    phase_id: i64,
    step_count: usize,
) -> rusqlite::Result<TargetState> {
    tx.prepare_cached(
        "SELECT status, progress, last_at_ms, last_seq, last_step, last_status, last_message, last_error, seen_ms, head_seq
         FROM targets WHERE id = ?1",
    )?
    .query_row([id], |r| {
        let last = match (r.get::<_, Option<i64>>(2)?, r.get::<_, Option<i64>>(3)?) {
            (Some(at), Some(seq)) => Some((at, seq)),
            _ => None,
        };
        Ok(TargetState {
            deployment,
            phase_id,
            before: r.get::<_, String>(0)?.parse().unwrap_or(TargetStatus::Pending),
            progress: serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default(),
            step_count,
            last,
            last_step: r.get(4)?,
            last_status: r.get(5)?,
            last_message: r.get(6)?,
            last_error: r.get(7)?,
            seen_ms: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
            head_seq: r.get(9)?,
            touched: false,
        })
    })
}

impl TargetState {
    fn fold(&mut self, ev: &AgentEvent, step_idx: Option<usize>, stamp: (i64, i64), received_ms: i64) {
        let folded = lifecycle::fold_event(
            &mut self.progress,
            &mut self.last,
            &mut self.seen_ms,
            (step_idx, ev.status),
            stamp,
            (!crate::domain::event::reported_on_behalf(ev.data.as_deref())).then_some(received_ms),
        );
        if folded.newest {
            self.last_step = Some(ev.step.clone());
            self.last_status = Some(ev.status.as_str().to_owned());
            self.last_message.clone_from(&ev.message);
        }
        if folded.error {
            self.last_error = Some(lifecycle::error_text(&ev.step, ev.message.as_deref()));
        }
    }
}

fn update_phase(
    tx: &Transaction<'_>,
    id: i64,
    shifts: &[(TargetStatus, TargetStatus)],
    budget_warning: f64,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let (mut counts, budget, started) = tx
        .prepare_cached(
            "SELECT target_count, succeeded, failed, running, failure_budget, started_ms FROM phases WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                PhaseCounts { total: r.get(0)?, succeeded: r.get(1)?, failed: r.get(2)?, running: r.get(3)? },
                r.get::<_, usize>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })?;
    for (from, to) in shifts {
        counts.shift(*from, *to);
    }
    let status = counts.status(budget);
    let finished =
        matches!(status, crate::domain::PhaseStatus::Succeeded | crate::domain::PhaseStatus::Failed).then_some(now_ms);
    let started = started.or((status != crate::domain::PhaseStatus::Pending).then_some(now_ms));
    // A phase its canary analysis failed stays failed until a person decides.
    tx.prepare_cached(
        "UPDATE phases SET succeeded = ?2, failed = ?3, running = ?4,
                status = CASE WHEN analysis_failed_ms IS NULL THEN ?5 ELSE 'failed' END, started_ms = ?6,
                finished_ms = CASE WHEN ?7 IS NULL THEN NULL ELSE coalesce(finished_ms, ?7) END WHERE id = ?1",
    )?
    .execute(params![id, counts.succeeded, counts.failed, counts.running, status.as_str(), started, finished])?;
    super::budget::check(tx, id, &counts, budget, budget_warning, now_ms)
}

/// Re-derives a deployment's status; gates (`gates::awaiting`) may make it `awaiting_approval`.
pub(super) fn update_deployment(
    tx: &rusqlite::Connection,
    id: i64,
    newest_seq: i64,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let (current, was_started): (DeploymentStatus, bool) = tx
        .prepare_cached("SELECT status, started_ms IS NOT NULL FROM deployments WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get::<_, String>(0)?.parse().unwrap_or(DeploymentStatus::Planned), r.get(1)?)))?;
    let phases = tx
        .prepare_cached("SELECT status FROM phases WHERE deployment_id = ?1 ORDER BY idx")?
        .query_map([id], |r| r.get::<_, String>(0))?
        .map(|s| s.map(|s| s.parse().unwrap_or(crate::domain::PhaseStatus::Pending)))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Events never undo a decision that halted the deployment.
    let mut status = if current.is_halted() {
        current
    } else {
        super::gates::awaiting(tx, id, DeploymentStatus::from_phases(&phases), now_ms)?
    };
    // After the last phase, the deployment is verified by its `post` checklist.
    if status == DeploymentStatus::Succeeded {
        status = super::checklists::after_last_phase(tx, id)?;
    }
    let starts = !was_started && phases.iter().any(|p| *p != crate::domain::PhaseStatus::Pending);
    let ends = current != status && matches!(status, DeploymentStatus::Succeeded | DeploymentStatus::Failed);
    if starts || ends {
        if let Some(dep) = super::gates::load_deployment(tx, id)? {
            happenings(tx, &dep, starts, ends.then_some(status), now_ms)?;
        }
    }
    // Awaiting the first phase's approval is not a start.
    let started = phases.iter().any(|p| *p != crate::domain::PhaseStatus::Pending).then_some(now_ms);
    let finished = status.is_final().then_some(now_ms);
    tx.prepare_cached(
        "UPDATE deployments SET status = ?2, started_ms = coalesce(started_ms, ?3),
                finished_ms = CASE WHEN ?4 IS NULL THEN NULL ELSE coalesce(finished_ms, ?4) END,
                last_event_seq = max(last_event_seq, ?5) WHERE id = ?1",
    )?
    .execute(params![id, status.as_str(), started, finished, newest_seq])?;
    Ok(())
}

/// The failed phase of a deployment and why it failed (its hosts past the budget, or its canary
/// analysis), for the notifications; `None` when no phase failed.
fn failure<'a>(
    tx: &rusqlite::Connection,
    dep: &'a super::gates::DeploymentRow,
    phases: &'a [super::gates::PhaseRow],
    now_ms: i64,
) -> rusqlite::Result<Option<(i64, Failure<'a>)>> {
    let Some(failed) = phases.iter().find(|p| p.status == crate::domain::PhaseStatus::Failed) else {
        return Ok(None);
    };
    let (hosts, last_error): (i64, Option<String>) = tx
        .prepare_cached(
            "SELECT count(*), max(last_error) FROM targets WHERE phase_id = ?1 AND status IN ('failed', 'lost')",
        )?
        .query_row([failed.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let cause = if super::analysis::halted_at(tx, failed.id)?.is_some() {
        // The analysis as it stood when it halted the phase: the rules that failed, with their numbers.
        let analysis = match super::analysis::analysed_gate(phases) {
            Some((pos, policy)) if phases[pos - 1].id == failed.id => {
                super::analysis::analyse_gate(tx, dep.id, phases, pos, policy, now_ms)?
            }
            _ => None,
        };
        let failing_rules = analysis
            .iter()
            .flat_map(|a| &a.rules)
            .filter(|r| r.verdict == crate::domain::analysis::Verdict::Fail)
            .map(crate::domain::analysis::RuleResult::describe)
            .collect();
        Cause::Analysis { failing_rules, hosts }
    } else {
        Cause::Budget { hosts, last_error }
    };
    let failure = Failure {
        key: crate::domain::DeploymentKey(dep.id),
        phase: &failed.name,
        release: &dep.release,
        environment: &dep.environment,
        cause,
    };
    Ok(Some((failed.id, failure)))
}

/// The happenings a change of a deployment's derived status causes: it started, a phase failed
/// (and with it the deployment), it succeeded.
fn happenings(
    tx: &rusqlite::Connection,
    dep: &super::gates::DeploymentRow,
    started: bool,
    ended: Option<DeploymentStatus>,
    now_ms: i64,
) -> rusqlite::Result<()> {
    use super::gates::views;
    let phases = super::gates::load_phases(tx, dep.id)?;
    if started {
        if let Some(first) = phases.iter().find(|p| p.status != crate::domain::PhaseStatus::Pending) {
            let text = (
                format!("DEP-{} started: {} in {}", dep.id, dep.release, dep.environment),
                format!("Phase {} is running. Requested by {}.", first.name, dep.requested_by),
            );
            views::notify_happening(tx, dep, first.id, "deployment_started", false, text, now_ms)?;
        }
    }
    let failure = if ended == Some(DeploymentStatus::Failed) { failure(tx, dep, &phases, now_ms)? } else { None };
    if let Some((phase_id, failure)) = &failure {
        views::notify_happening(tx, dep, *phase_id, "phase_failed", true, failure.phase_failed(), now_ms)?;
    }
    if let Some(status) = ended {
        let why = failure.as_ref().map(|(_, f)| f.deployment_failed());
        super::gates::notify_finished(tx, dep, status, why, now_ms)?;
    }
    Ok(())
}
