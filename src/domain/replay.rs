//! Replay: a deployment as it was at a moment, rebuilt from what its log holds.
//!
//! The log keeps derived state (target, phase and deployment status) current as events and
//! decisions arrive; replay folds the same events and decisions again, in the order the log
//! took them, through the same rules: a target's step marks and last event
//! ([`lifecycle::fold_event`]), a phase's counts against its budget ([`PhaseCounts`]), the
//! deployment's status from its phases ([`DeploymentStatus::from_phases`]), the gate that holds
//! it ([`gate::hold`]), the decisions that halt or re-open it, and the `post` checklist
//! ([`checklist::after_last_phase`]). At the last happening the result equals the stored state.
//!
//! The order is the log's: events by arrival (`seq`), each decision after the events it was
//! taken after (it records the deployment's newest event then), checklist ticks by time. A
//! moment's time is when the log learnt of it (receive or decision time), never earlier than
//! the moment before it. The log's events are read once; the state is folded forward from the
//! nearest checkpoint, so stepping backward or forward costs at most one checkpoint interval.
//!
//! Not replayed: a target marked lost by the receiver's sweep (`recovery.lost_after`) leaves no
//! event, so replay shows it running until its next event or decision.

use super::checklist::{self, ItemState};
use super::gate::{self, Decision, GateState, Recorded, hold};
use super::lifecycle::{self, Stamp};
use super::records::{DeploymentDetail, PhaseView, StoredEvent, TargetView};
use super::{DeploymentStatus, PhaseCounts, PhaseStatus, TargetProgress, TargetStatus};
use crate::clock::{from_ms, to_ms};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// A recorded decision, as replay applies it and shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedDecision {
    pub phase: String,
    pub decision: Decision,
    pub person: String,
    pub role: Option<String>,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
    /// The deployment's newest event (`seq`) when it was recorded; `None` for decisions
    /// recorded before the log kept it, which are placed by time.
    #[serde(skip)]
    pub events_before: Option<i64>,
}

/// What the log holds about one deployment, read once for its replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayLog {
    /// The deployment as stored, with every target: its plan (phases, targets, gates,
    /// checklist with tick times) is taken from here, its state is rebuilt.
    pub stored: DeploymentDetail,
    /// Every event of the deployment, in arrival order.
    pub events: Vec<StoredEvent>,
    /// Every recorded (not refused) decision, in recording order.
    pub decisions: Vec<LoggedDecision>,
}

/// A gate as it stood at the replayed moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateAt {
    pub phase: String,
    pub state: GateState,
    /// People who approved it so far, in order.
    pub approvals: Vec<String>,
    /// Approvals it needs.
    pub required: u32,
}

/// The deployment at the replayed moment: `status --json` plus `at`, its gates, the decisions
/// taken by then and the tail of its events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayView {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub detail: DeploymentDetail,
    pub gates: Vec<GateAt>,
    pub decisions: Vec<LoggedDecision>,
    pub tail: Vec<StoredEvent>,
}

/// One happening replay steps over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// The event at this index of [`ReplayLog::events`].
    Event(usize),
    /// The decision at this index of [`ReplayLog::decisions`].
    Decision(usize),
    /// A checklist item (index into the stored checklist) was ticked.
    Tick(usize),
}

#[derive(Debug, Clone, Copy)]
struct Moment {
    what: Happening,
    /// When the log learnt of it, never before the moment before it (ms).
    ms: i64,
}

#[derive(Debug, Clone)]
struct TargetSlot {
    progress: TargetProgress,
    newest: Option<Stamp>,
    /// The newest event (index into the events) and the newest failed one since a retry.
    last: Option<usize>,
    error: Option<usize>,
    seen_ms: i64,
    status: TargetStatus,
}

#[derive(Debug, Clone)]
struct PhaseSlot {
    counts: PhaseCounts,
    status: PhaseStatus,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
}

/// The folded state after the first `applied` moments.
#[derive(Debug, Clone)]
struct State {
    applied: usize,
    /// Events folded (a prefix of the arrival order).
    events: usize,
    targets: Vec<TargetSlot>,
    phases: Vec<PhaseSlot>,
    /// Decisions per phase so far, oldest first.
    decided: Vec<Vec<Recorded>>,
    decisions: usize,
    halted: Option<DeploymentStatus>,
    status: DeploymentStatus,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    last_seq: i64,
}

/// What never changes while replaying: the plan, the log, the order.
#[derive(Debug)]
struct Plan {
    log: ReplayLog,
    /// Per event: its planned target and lifecycle step, if any.
    located: Vec<(Option<usize>, Option<usize>)>,
    /// Per decision: its phase.
    decision_phase: Vec<Option<usize>>,
    /// Targets of each phase.
    phase_targets: Vec<Vec<usize>>,
    target_phase: Vec<usize>,
    moments: Vec<Moment>,
    created_ms: i64,
}

/// A deployment being replayed: a cursor over its happenings and the state there.
#[derive(Debug)]
pub struct Replay {
    plan: Plan,
    state: State,
    /// `checkpoints[i]` is the state after `i * interval` moments (kept as they are passed).
    checkpoints: Vec<State>,
    interval: usize,
    /// The moment shown: at or after the last applied moment's time.
    at_ms: i64,
    /// Targets whose state may have changed since [`Replay::take_changed`] (`None`: any).
    changed: Option<std::collections::BTreeSet<usize>>,
}

impl Replay {
    /// Orders the log's happenings and stands before the first of them (as planned).
    #[must_use]
    pub fn new(log: ReplayLog) -> Self {
        let plan = Plan::new(log);
        let interval = (plan.moments.len() / 16).clamp(256, 4_096);
        let mut state = plan.initial();
        state.derive(&plan, plan.created_ms);
        let at_ms = plan.created_ms;
        Self { checkpoints: vec![state.clone()], plan, state, interval, at_ms, changed: None }
    }

    /// A replay to look at one moment (`status --at`): it keeps no checkpoints to step back
    /// from, so folding to the moment allocates one state, not one per stretch of the log.
    #[must_use]
    pub fn for_one_moment(log: ReplayLog) -> Self {
        let mut replay = Self::new(log);
        replay.interval = usize::MAX;
        replay
    }

    /// How many happenings there are to step over.
    #[must_use]
    pub fn len(&self) -> usize {
        self.plan.moments.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.plan.moments.is_empty()
    }

    /// Happenings applied so far (0: as planned).
    #[must_use]
    pub fn position(&self) -> usize {
        self.state.applied
    }

    /// The moment shown.
    #[must_use]
    pub fn at(&self) -> DateTime<Utc> {
        from_ms(self.at_ms)
    }

    /// When the deployment was planned: the earliest moment there is to replay.
    #[must_use]
    pub fn start(&self) -> DateTime<Utc> {
        from_ms(self.plan.created_ms)
    }

    /// When the log learnt of its last happening (the plan when there is none).
    #[must_use]
    pub fn end(&self) -> DateTime<Utc> {
        from_ms(self.plan.moments.last().map_or(self.plan.created_ms, |m| m.ms))
    }

    /// The happening applied last, if any.
    #[must_use]
    pub fn last_happening(&self) -> Option<Happening> {
        self.state.applied.checked_sub(1).map(|i| self.plan.moments[i].what)
    }

    /// How many happenings the log knew of at `t`.
    #[must_use]
    pub fn position_at(&self, t: DateTime<Utc>) -> usize {
        let ms = to_ms(t);
        self.plan.moments.partition_point(|m| m.ms <= ms)
    }

    /// Stands after the first `pos` happenings, at the time of the last of them.
    pub fn seek(&mut self, pos: usize) {
        let pos = pos.min(self.len());
        self.fold_to(pos);
        self.at_ms = pos.checked_sub(1).map_or(self.plan.created_ms, |i| self.plan.moments[i].ms);
    }

    /// Stands at `t`: after every happening the log knew of then (not before the plan).
    pub fn seek_time(&mut self, t: DateTime<Utc>) {
        let pos = self.position_at(t);
        self.fold_to(pos);
        self.at_ms = to_ms(t).max(self.plan.created_ms);
    }

    fn fold_to(&mut self, pos: usize) {
        self.note_changes(pos);
        if pos < self.state.applied {
            let from = (pos / self.interval).min(self.checkpoints.len() - 1);
            self.state = self.checkpoints[from].clone();
        }
        while self.state.applied < pos {
            self.state.apply(&self.plan);
            if self.state.applied % self.interval == 0 && self.checkpoints.len() == self.state.applied / self.interval {
                self.checkpoints.push(self.state.clone());
            }
        }
    }

    /// Notes the targets that moving the cursor to `pos` may change: those of the happenings
    /// in between (every target of a retried phase).
    fn note_changes(&mut self, pos: usize) {
        let Some(changed) = self.changed.as_mut() else { return };
        let (lo, hi) = (pos.min(self.state.applied), pos.max(self.state.applied));
        if hi - lo > self.plan.log.stored.target_list.len() {
            self.changed = None;
            return;
        }
        for m in &self.plan.moments[lo..hi] {
            match m.what {
                Happening::Event(i) => changed.extend(self.plan.located[i].0),
                Happening::Decision(i) if self.plan.log.decisions[i].decision == Decision::Retry => {
                    if let Some(p) = self.plan.decision_phase[i] {
                        changed.extend(self.plan.phase_targets[p].iter().copied());
                    }
                }
                Happening::Decision(_) | Happening::Tick(_) => {}
            }
        }
    }

    /// The targets whose state may have changed since the last call (`None`: any of them; so
    /// the first call), as indices into the stored target list, in order.
    pub fn take_changed(&mut self) -> Option<Vec<usize>> {
        self.changed.replace(std::collections::BTreeSet::new()).map(|c| c.into_iter().collect())
    }

    /// The targets at these indices at the cursor.
    #[must_use]
    pub fn targets(&self, indices: &[usize]) -> Vec<TargetView> {
        let stored = &self.plan.log.stored.target_list;
        indices
            .iter()
            .filter_map(|&i| Some(self.plan.target_view(stored.get(i)?, self.state.targets.get(i)?)))
            .collect()
    }

    /// The deployment at the cursor: its summary, phases, every target, and its checklist and
    /// conformance flags as far as they had happened.
    #[must_use]
    pub fn detail(&self) -> DeploymentDetail {
        let all: Vec<usize> = (0..self.plan.log.stored.target_list.len()).collect();
        DeploymentDetail { target_list: self.targets(&all), ..self.detail_without_targets() }
    }

    /// [`Replay::detail`] without its targets (see [`Replay::targets`]).
    #[must_use]
    pub fn detail_without_targets(&self) -> DeploymentDetail {
        let (plan, state) = (&self.plan, &self.state);
        let stored = &plan.log.stored;
        let phases: Vec<PhaseView> = stored
            .phases
            .iter()
            .zip(&state.phases)
            .map(|(p, slot)| PhaseView {
                status: slot.status,
                succeeded: slot.counts.succeeded,
                failed: slot.counts.failed,
                running: slot.counts.running,
                pending: slot.counts.pending(),
                budget_left: p.failure_budget.saturating_sub(slot.counts.failed),
                started_at: slot.started_ms.map(from_ms),
                finished_at: slot.finished_ms.map(from_ms),
                ..p.clone()
            })
            .collect();
        let mut summary = stored.summary.clone();
        summary.status = state.status;
        summary.started_at = state.started_ms.map(from_ms);
        summary.finished_at = state.finished_ms.map(from_ms);
        summary.succeeded = phases.iter().map(|p| p.succeeded).sum();
        summary.failed = phases.iter().map(|p| p.failed).sum();
        summary.running = phases.iter().map(|p| p.running).sum();
        summary.current_phase =
            phases.iter().find(|p| p.status != PhaseStatus::Succeeded).or(phases.last()).map(|p| p.name.clone());
        summary.last_event_seq = state.last_seq;
        let at = self.at();
        let checklist = plan.checklist_at(self.at_ms);
        let conformance = stored.conformance.iter().filter(|f| f.first_at <= at).cloned().collect();
        DeploymentDetail {
            summary,
            phases,
            target_list: Vec::new(),
            release_record: stored.release_record.clone(),
            checklist,
            conformance,
            // The switch-over as it stood at the cursor: a switch not yet taken is not shown.
            switch: stored.switch.clone().map(|mut s| {
                s.switched_at = s.switched_at.filter(|t| *t <= at);
                s.switched_back_at = s.switched_back_at.filter(|t| *t <= at);
                s
            }),
            supervised: stored.supervised,
        }
    }

    /// Each gate at the cursor: its state and who approved it so far.
    #[must_use]
    pub fn gates(&self) -> Vec<GateAt> {
        let (plan, state) = (&self.plan, &self.state);
        plan.log
            .stored
            .phases
            .iter()
            .enumerate()
            .filter_map(|(pos, p)| {
                let policy = p.gate.as_ref()?;
                let decided = &state.decided[pos];
                Some(GateAt {
                    phase: p.name.clone(),
                    state: gate::state(policy, state.previous(pos), decided),
                    approvals: gate::approvers(decided).iter().map(|d| d.person.clone()).collect(),
                    required: policy.approvals.max(1),
                })
            })
            .collect()
    }

    /// The decisions taken by the cursor, oldest first.
    #[must_use]
    pub fn decisions(&self) -> Vec<LoggedDecision> {
        let taken = self.plan.moments[..self.state.applied]
            .iter()
            .filter_map(|m| match m.what {
                Happening::Decision(i) => Some(i),
                _ => None,
            })
            .map(|i| self.plan.log.decisions[i].clone());
        taken.collect()
    }

    /// The newest `limit` events the log had received by the cursor, in the order they
    /// happened (`at`, arrival breaking ties), as the live tail shows them.
    #[must_use]
    pub fn tail(&self, limit: usize) -> Vec<StoredEvent> {
        let events = &self.plan.log.events[..self.state.events];
        let mut tail = events[events.len().saturating_sub(limit)..].to_vec();
        tail.sort_by_key(StoredEvent::time_order);
        tail
    }

    /// Everything at the cursor, with the newest `tail` events.
    #[must_use]
    pub fn view(&self, tail: usize) -> ReplayView {
        ReplayView {
            at: self.at(),
            detail: self.detail(),
            gates: self.gates(),
            decisions: self.decisions(),
            tail: self.tail(tail),
        }
    }

    /// The time of the happening after the cursor's, if any.
    #[must_use]
    pub fn next_time(&self) -> Option<DateTime<Utc>> {
        self.plan.moments.get(self.state.applied).map(|m| from_ms(m.ms))
    }
}

impl Plan {
    fn new(log: ReplayLog) -> Self {
        let stored = &log.stored;
        let phase_index: HashMap<&str, usize> =
            stored.phases.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
        let target_index: HashMap<&str, usize> =
            stored.target_list.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
        let target_phase: Vec<usize> =
            stored.target_list.iter().map(|t| phase_index.get(t.phase.as_str()).copied().unwrap_or(0)).collect();
        let mut phase_targets = vec![Vec::new(); stored.phases.len()];
        for (t, &p) in target_phase.iter().enumerate() {
            if let Some(list) = phase_targets.get_mut(p) {
                list.push(t);
            }
        }
        let steps = &stored.summary.steps;
        let located = log
            .events
            .iter()
            .map(|e| {
                let target = e.target.as_deref().and_then(|t| target_index.get(t).copied());
                (target, target.and_then(|_| steps.iter().position(|s| *s == e.step)))
            })
            .collect();
        let decision_phase = log.decisions.iter().map(|d| phase_index.get(d.phase.as_str()).copied()).collect();
        let created_ms = to_ms(stored.summary.created_at);
        let moments = order(&log, created_ms);
        Self { located, decision_phase, phase_targets, target_phase, moments, created_ms, log }
    }

    fn initial(&self) -> State {
        let stored = &self.log.stored;
        let target = TargetSlot {
            progress: TargetProgress::default(),
            newest: None,
            last: None,
            error: None,
            seen_ms: 0,
            status: TargetStatus::Pending,
        };
        State {
            applied: 0,
            events: 0,
            targets: vec![target; stored.target_list.len()],
            phases: stored
                .phases
                .iter()
                .map(|p| PhaseSlot {
                    counts: PhaseCounts { total: p.targets, ..PhaseCounts::default() },
                    status: PhaseStatus::Pending,
                    started_ms: None,
                    finished_ms: None,
                })
                .collect(),
            decided: vec![Vec::new(); stored.phases.len()],
            decisions: 0,
            halted: None,
            status: DeploymentStatus::Planned,
            started_ms: None,
            finished_ms: None,
            last_seq: 0,
        }
    }

    fn target_view(&self, stored: &TargetView, slot: &TargetSlot) -> TargetView {
        let last = slot.last.map(|i| &self.log.events[i]);
        TargetView {
            status: slot.status,
            last_step: last.map(|e| e.step.clone()),
            last_status: last.map(|e| e.status),
            last_message: last.and_then(|e| e.message.clone()),
            last_error: slot.error.map(|i| {
                let e = &self.log.events[i];
                lifecycle::error_text(&e.step, e.message.as_deref())
            }),
            last_at: slot.newest.map(|(at, _)| from_ms(at)),
            // Never heard from its agent (only events reported on its behalf): no time.
            seen_at: slot.newest.filter(|_| slot.seen_ms > 0).map(|_| from_ms(slot.seen_ms)),
            ..stored.clone()
        }
    }

    /// The checklist as it stood at `ms`: items ticked later are open.
    fn checklist_at(&self, ms: i64) -> Vec<checklist::Item> {
        let mut items = self.log.stored.checklist.clone();
        for item in &mut items {
            if item.ticked_at.is_none_or(|t| to_ms(t) > ms) {
                item.state = ItemState::Open;
                item.ticked_at = None;
                item.ticked_by = None;
                item.evidence = None;
            }
        }
        items
    }
}

/// The log's happenings in the order it took them: events by arrival, each decision after the
/// events it followed, ticks by time; each at the time the log learnt of it.
fn order(log: &ReplayLog, created_ms: i64) -> Vec<Moment> {
    let events = &log.events;
    // When the log had received each prefix of events (arrival times may step back a little
    // between writers; a prefix is known from its latest arrival).
    let mut known = Vec::with_capacity(events.len());
    let mut newest = created_ms;
    for e in events {
        newest = newest.max(to_ms(e.received_at));
        known.push(newest);
    }
    let mut placed: Vec<(usize, usize)> = Vec::with_capacity(log.decisions.len());
    let mut floor = 0;
    for (i, d) in log.decisions.iter().enumerate() {
        let after = match d.events_before {
            Some(seq) => events.partition_point(|e| e.seq <= seq),
            None => known.partition_point(|&k| k <= to_ms(d.at)),
        };
        floor = floor.max(after);
        placed.push((floor, i));
    }
    let mut moments = Vec::with_capacity(events.len() + placed.len());
    let mut next = placed.iter().peekable();
    let mut ms = created_ms;
    for (ei, e) in events.iter().enumerate() {
        while let Some(&&(after, di)) = next.peek() {
            if after > ei {
                break;
            }
            ms = ms.max(to_ms(log.decisions[di].at));
            moments.push(Moment { what: Happening::Decision(di), ms });
            next.next();
        }
        ms = ms.max(to_ms(e.received_at));
        moments.push(Moment { what: Happening::Event(ei), ms });
    }
    for &(_, di) in next {
        ms = ms.max(to_ms(log.decisions[di].at));
        moments.push(Moment { what: Happening::Decision(di), ms });
    }
    let mut ticks: Vec<(i64, usize)> =
        log.stored.checklist.iter().enumerate().filter_map(|(i, item)| item.ticked_at.map(|t| (to_ms(t), i))).collect();
    ticks.sort_unstable();
    for (at, i) in ticks.into_iter().rev() {
        let pos = moments.partition_point(|m| m.ms <= at);
        let ms = at.max(pos.checked_sub(1).map_or(created_ms, |p| moments[p].ms));
        moments.insert(pos, Moment { what: Happening::Tick(i), ms });
    }
    moments
}

impl State {
    /// Applies the next moment.
    fn apply(&mut self, plan: &Plan) {
        let Moment { what, ms } = plan.moments[self.applied];
        self.applied += 1;
        match what {
            Happening::Event(i) => {
                self.events = i + 1;
                if !self.event(plan, i, ms) {
                    // No phase changed status: nothing the deployment's status follows from.
                    return;
                }
            }
            Happening::Decision(i) => {
                self.decisions += 1;
                self.decision(plan, i, ms);
            }
            Happening::Tick(_) => {}
        }
        self.derive(plan, ms);
    }

    /// Folds an event; `true` when its phase changed status.
    fn event(&mut self, plan: &Plan, i: usize, ms: i64) -> bool {
        let e = &plan.log.events[i];
        self.last_seq = self.last_seq.max(e.seq);
        let (Some(t), step) = plan.located[i] else { return false };
        let slot = &mut self.targets[t];
        let folded = lifecycle::fold_event(
            &mut slot.progress,
            &mut slot.newest,
            &mut slot.seen_ms,
            (step, e.status),
            (to_ms(e.at), e.seq),
            (!super::event::reported_on_behalf(e.data.as_deref())).then(|| to_ms(e.received_at)),
        );
        if folded.newest {
            slot.last = Some(i);
        }
        if folded.error {
            slot.error = Some(i);
        }
        let after = slot.progress.status(plan.log.stored.summary.steps.len());
        let before = std::mem::replace(&mut slot.status, after);
        let p = plan.target_phase[t];
        self.phases[p].counts.shift(before, after);
        let was = self.phases[p].status;
        self.phase_touched(plan, p, ms);
        self.phases[p].status != was
    }

    /// A phase's status after its targets changed (ingest's `update_phase`).
    fn phase_touched(&mut self, plan: &Plan, p: usize, ms: i64) {
        let budget = plan.log.stored.phases[p].failure_budget;
        let slot = &mut self.phases[p];
        slot.status = slot.counts.status(budget);
        if slot.status != PhaseStatus::Pending {
            slot.started_ms = slot.started_ms.or(Some(ms));
        }
        slot.finished_ms = if matches!(slot.status, PhaseStatus::Succeeded | PhaseStatus::Failed) {
            slot.finished_ms.or(Some(ms))
        } else {
            None
        };
    }

    fn decision(&mut self, plan: &Plan, i: usize, ms: i64) {
        let d = &plan.log.decisions[i];
        let Some(p) = plan.decision_phase[i] else { return };
        self.decided[p].push(Recorded { person: d.person.clone(), decision: d.decision, at: d.at });
        match d.decision {
            Decision::Approve => {}
            Decision::Reject | Decision::Abort => self.halt(DeploymentStatus::Aborted, ms),
            Decision::Rollback => self.halt(DeploymentStatus::RolledBack, ms),
            Decision::Retry => self.reopen(plan, p, ms),
        }
    }

    fn halt(&mut self, status: DeploymentStatus, ms: i64) {
        self.halted = Some(status);
        self.status = status;
        self.finished_ms = self.finished_ms.or(Some(ms));
    }

    /// A retry (the store's `gates::reopen`): the phase's failed targets start over.
    fn reopen(&mut self, plan: &Plan, p: usize, ms: i64) {
        for &t in &plan.phase_targets[p] {
            let slot = &mut self.targets[t];
            if lifecycle::retry_restarts(slot.status) {
                slot.progress = TargetProgress::default();
                slot.error = None;
                slot.status = TargetStatus::Pending;
            }
        }
        let budget = plan.log.stored.phases[p].failure_budget;
        let slot = &mut self.phases[p];
        slot.counts.failed = 0;
        slot.status = slot.counts.status(budget);
        slot.finished_ms = (slot.status == PhaseStatus::Succeeded).then_some(ms);
    }

    /// The phase before the gate of the phase at `pos`, as the gate sees it.
    fn previous(&self, pos: usize) -> gate::Previous {
        hold::previous(pos.checked_sub(1).map(|i| (self.phases[i].status, self.phases[i].finished_ms)))
    }

    /// The deployment's status and times (ingest's `update_deployment`).
    fn derive(&mut self, plan: &Plan, ms: i64) {
        let statuses: Vec<PhaseStatus> = self.phases.iter().map(|p| p.status).collect();
        let mut status = match self.halted {
            Some(halted) => halted,
            None => {
                let derived = DeploymentStatus::from_phases(&statuses);
                if hold::may_hold(derived) {
                    let gates = &plan.log.stored.phases;
                    let held = hold::holding::<std::convert::Infallible>(&statuses, |pos| {
                        Ok(gates[pos].gate.as_ref().map(|g| gate::state(g, self.previous(pos), &self.decided[pos])))
                    })
                    .unwrap_or(None);
                    hold::awaiting(derived, &statuses, held)
                } else {
                    derived
                }
            }
        };
        if status == DeploymentStatus::Succeeded {
            status = checklist::after_last_phase(&plan.checklist_at(ms));
        }
        if statuses.iter().any(|p| *p != PhaseStatus::Pending) {
            self.started_ms = self.started_ms.or(Some(ms));
        }
        self.finished_ms = if status.is_final() { self.finished_ms.or(Some(ms)) } else { None };
        self.status = status;
    }
}

/// Why a replay moment is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MomentError {
    #[error("--at \"{given}\" is before {key} was planned ({planned}): there is nothing to replay then")]
    BeforePlan { given: String, key: String, planned: String },
    #[error("--at \"{given}\" is in the future (now is {now}): replay shows what has happened")]
    Future { given: String, now: String },
}

/// Checks that `at` is a moment a deployment planned at `planned` can be replayed at.
pub fn check_moment(
    given: &str,
    at: DateTime<Utc>,
    key: &str,
    planned: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), MomentError> {
    let show = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if at < planned {
        return Err(MomentError::BeforePlan { given: given.to_owned(), key: key.to_owned(), planned: show(planned) });
    }
    if at > now {
        return Err(MomentError::Future { given: given.to_owned(), now: show(now) });
    }
    Ok(())
}
