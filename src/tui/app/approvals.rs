//! State of the Approvals and Notifications views and of the confirm dialog.
//!
//! The inbox comes from the data thread already checked against the policy for the operator;
//! here it is ordered (what the operator can act on now first, oldest first within), navigated,
//! and turned into decisions. A decision key opens a [`Dialog`]; only its confirm (Enter) sends
//! a [`Cmd::Decide`], and the answer — recorded, or the rule that refused it — comes back as
//! `Msg::Decided`.

pub mod timing;

use crate::domain::DeploymentKey;
use crate::domain::gate::view::{ActionItem, ActionKind, Notification};
use crate::domain::gate::{Decision, Refusal};
use crate::domain::history::HistoryRow;
use crate::keymap::Action;
use crate::store::ActionRow;
use crate::tui::model::Cmd;
use crate::tui::model::{DecisionCmd, GateData, Pending};
use crate::tui::strings::gates as text;

/// The operator's inbox and notifications.
#[derive(Debug, Default)]
pub struct Approvals {
    /// Entries in display order.
    pub items: Vec<Pending>,
    /// The selected row: an entry (`0..items.len()`), then a review owed, then an overdue
    /// action, so the cursor reaches every row of both panels.
    pub selected: usize,
    /// The operator moved the cursor: until then it stays on the first row as entries arrive.
    pub moved: bool,
    /// Failure reviews the operator owes, newest first (shown below the gates).
    pub owed: Vec<HistoryRow>,
    /// Improvement actions past their due date, the earliest due first.
    pub overdue: Vec<ActionRow>,
    pub notifications: Vec<Notification>,
    pub unread: usize,
    /// The deliveries of those notifications, by notification.
    pub deliveries: Vec<crate::domain::notify::Delivery>,
    /// Deliveries that failed for good (anyone's): the header counts them.
    pub failed_deliveries: usize,
    pub note_selected: usize,
    /// Whether the selected notification is open in full.
    pub note_open: bool,
    /// Whether data about gates arrived at all (an empty inbox then means "nothing for you").
    pub loaded: bool,
    /// The log's windows and freezes in force as of the last read (see [`GateData::rules`]).
    pub rules: crate::domain::schedule::TimeRules,
}

/// The confirm dialog of one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialog {
    pub decision: Decision,
    /// The entry decided on, as it was when the dialog opened.
    pub pending: Pending,
    /// The comment, or the reason when one is required.
    pub text: String,
    pub reason_required: bool,
    /// Sent, waiting for the answer.
    pub sending: bool,
    /// What the last confirm ran into: a missing reason, or the rule that refused it.
    pub error: Option<String>,
    /// Who the decision would notify, over which channels (`None` while it is worked out;
    /// `Err` when the check would refuse it as it stands).
    pub preview: Option<Result<Vec<crate::domain::notify::Told>, String>>,
}

/// A row of the "Reviews and actions" panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FollowUp<'a> {
    Owed(&'a HistoryRow),
    Overdue(&'a ActionRow),
}

impl FollowUp<'_> {
    /// The deployment it is about (`None`: a model's action).
    #[must_use]
    pub fn deployment(&self) -> Option<DeploymentKey> {
        match self {
            Self::Owed(r) => Some(r.key),
            Self::Overdue(a) => a.deployment,
        }
    }
}

/// What the cursor is on, to find it again after a new read re-sorts the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mark {
    Entry(DeploymentKey, String),
    Owed(DeploymentKey),
    Overdue(Option<DeploymentKey>, Option<String>, usize),
}

/// How urgent an entry is for the operator: 0 they can act now, 1 only time stands in the
/// way, 2 someone else must act.
fn group(item: &ActionItem) -> u8 {
    match &item.blocked {
        None | Some(Refusal::FreezeReasonRequired { .. }) => 0,
        Some(_) if item.needs_me() => 1,
        Some(_) => 2,
    }
}

impl Approvals {
    /// Takes a new read of the gates; keeps the selected row selected when it is still there
    /// (by what it is, not where it was), and on the first row until the operator moves.
    pub(super) fn apply(&mut self, data: GateData) {
        let was = self.mark();
        let mut items = data.inbox;
        items.sort_by_key(|p| (group(&p.item), p.item.since, p.item.deployment));
        self.items = items;
        self.owed = data.owed;
        self.overdue = data.overdue;
        let found = was.filter(|_| self.moved).and_then(|m| self.find(&m));
        let fallback = if self.moved { self.selected } else { 0 };
        self.selected = found.unwrap_or(fallback).min(self.rows().saturating_sub(1));
        let was_note = self.notifications.get(self.note_selected).map(|n| n.id);
        self.notifications = data.notifications;
        // Newest first by when they happened (ids follow arrival, which may differ).
        self.notifications.sort_by_key(|n| std::cmp::Reverse((n.created_at, n.id)));
        self.note_selected = was_note
            .and_then(|id| self.notifications.iter().position(|n| n.id == id))
            .unwrap_or(self.note_selected)
            .min(self.notifications.len().saturating_sub(1));
        self.unread = data.unread;
        self.deliveries = data.deliveries;
        self.failed_deliveries = data.failed_deliveries;
        self.rules = data.rules;
        self.loaded = true;
    }

    /// The selected entry (`None` when the cursor is on a review or an action).
    #[must_use]
    pub fn current(&self) -> Option<&Pending> {
        self.items.get(self.selected)
    }

    /// Rows the cursor moves through: entries, reviews owed, overdue actions.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.items.len() + self.follow_ups()
    }

    /// The `i`th row of the "Reviews and actions" panel.
    #[must_use]
    pub fn follow_up(&self, i: usize) -> Option<FollowUp<'_>> {
        match i.checked_sub(self.owed.len()) {
            None => self.owed.get(i).map(FollowUp::Owed),
            Some(j) => self.overdue.get(j).map(FollowUp::Overdue),
        }
    }

    /// The selected review or action, with its row in the panel.
    #[must_use]
    pub fn selected_follow_up(&self) -> Option<(usize, FollowUp<'_>)> {
        let i = self.selected.checked_sub(self.items.len())?;
        self.follow_up(i).map(|f| (i, f))
    }

    fn mark(&self) -> Option<Mark> {
        if let Some(p) = self.current() {
            return Some(Mark::Entry(p.item.deployment, p.item.phase.clone()));
        }
        Some(match self.selected_follow_up()?.1 {
            FollowUp::Owed(r) => Mark::Owed(r.key),
            FollowUp::Overdue(a) => Mark::Overdue(a.deployment, a.model.clone(), a.n),
        })
    }

    fn find(&self, mark: &Mark) -> Option<usize> {
        let (n, owed) = (self.items.len(), self.owed.len());
        match mark {
            Mark::Entry(k, ph) => self.items.iter().position(|p| p.item.deployment == *k && p.item.phase == *ph),
            Mark::Owed(k) => self.owed.iter().position(|r| r.key == *k).map(|i| n + i),
            Mark::Overdue(k, m, i) => {
                self.overdue.iter().position(|a| a.deployment == *k && a.model == *m && a.n == *i).map(|j| n + owed + j)
            }
        }
    }

    /// The entry of a deployment (its next pending gate or its failed phase).
    #[must_use]
    pub fn for_deployment(&self, key: DeploymentKey) -> Option<&Pending> {
        self.items.iter().find(|p| p.item.deployment == key)
    }

    /// How many entries the operator can act on now: the "Needs you" of the list's title and
    /// the count beside the Approvals tab, so the two cannot disagree.
    #[must_use]
    pub fn needs_you(&self) -> usize {
        self.counts()[0]
    }

    /// What needs the operator besides decisions: reviews they owe and actions overdue.
    #[must_use]
    pub fn follow_ups(&self) -> usize {
        self.owed.len() + self.overdue.len()
    }

    /// Entries the operator can act on now, once time allows, and that need someone else.
    pub fn counts(&self) -> [usize; 3] {
        let mut counts = [0; 3];
        for p in &self.items {
            counts[usize::from(group(&p.item))] += 1;
        }
        counts
    }

    pub(super) fn navigate(&mut self, action: Action) {
        let to = step(self.selected, self.rows(), action);
        self.moved |= to != self.selected;
        self.selected = to;
    }

    pub(super) fn navigate_notes(&mut self, action: Action) {
        if action == Action::Back {
            self.note_open = false;
            return;
        }
        self.note_selected = step(self.note_selected, self.notifications.len(), action);
    }

    /// Enter on a notification: opens its whole text (Enter or Esc closes it), and marks it
    /// read when it was not (`mark`: not in read-only mode).
    pub(super) fn open_note(&mut self, mark: bool, now: chrono::DateTime<chrono::Utc>) -> Vec<Cmd> {
        if self.notifications.is_empty() {
            return Vec::new();
        }
        self.note_open = !self.note_open;
        if self.note_open && mark { self.mark_selected_read(now) } else { Vec::new() }
    }

    /// Whether a notification asked for a decision that has been taken since: a gate that
    /// opened and is no longer pending (approved, rejected, or its deployment halted).
    #[must_use]
    pub fn settled(&self, n: &Notification) -> bool {
        self.loaded
            && n.kind == "gate_pending"
            && !self.items.iter().any(|p| {
                p.item.kind == ActionKind::Gate
                    && Some(p.item.deployment) == n.deployment
                    && Some(p.item.phase.as_str()) == n.phase.as_deref()
            })
    }

    /// Marks the selected notification read, here at once and in the log through the command.
    pub(super) fn mark_selected_read(&mut self, now: chrono::DateTime<chrono::Utc>) -> Vec<Cmd> {
        let Some(n) = self.notifications.get_mut(self.note_selected).filter(|n| n.read_at.is_none()) else {
            return Vec::new();
        };
        n.read_at = Some(now);
        self.unread = self.unread.saturating_sub(1);
        vec![Cmd::MarkRead(vec![n.id])]
    }
}

fn step(at: usize, len: usize, action: Action) -> usize {
    let last = len.saturating_sub(1);
    match action {
        Action::Up => at.saturating_sub(1),
        Action::Down => (at + 1).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => at,
    }
}

/// The decision a key asks for.
#[must_use]
pub fn decision_of(action: Action) -> Option<Decision> {
    match action {
        Action::Approve => Some(Decision::Approve),
        Action::Reject => Some(Decision::Reject),
        Action::Retry => Some(Decision::Retry),
        Action::Abort => Some(Decision::Abort),
        Action::Rollback => Some(Decision::Rollback),
        _ => None,
    }
}

/// The key action of a decision.
#[must_use]
pub fn action_of(decision: Decision) -> Action {
    match decision {
        Decision::Approve => Action::Approve,
        Decision::Reject => Action::Reject,
        Decision::Retry => Action::Retry,
        Decision::Abort => Action::Abort,
        Decision::Rollback => Action::Rollback,
    }
}

/// Why a decision key opens no dialog, in the footer's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CannotDecide(pub String);

/// What a decision key does on an entry: open the confirm dialog, or say at once why not.
///
/// The inbox was checked for the first decision it offers (approve, or retry); a refusal other
/// than a missing freeze-override reason is shown right away. A refusal by role holds for every
/// decision, except that a requester may always reject their own deployment. Anything else is
/// left to the check made when the decision is recorded.
pub fn open(pending: &Pending, decision: Decision, operator: &str, tz: chrono_tz::Tz) -> Result<Dialog, CannotDecide> {
    let item = &pending.item;
    if !item.offers.contains(&decision) {
        return Err(CannotDecide(text::not_offered(decision, item)));
    }
    let first = item.offers.first().copied();
    let mut reason_required = decision == Decision::Reject;
    match &item.blocked {
        Some(Refusal::FreezeReasonRequired { .. } | Refusal::RetroactiveReasonRequired) if Some(decision) == first => {
            reason_required = true;
        }
        Some(r @ Refusal::Role { .. }) if !(decision == Decision::Reject && item.requested_by == operator) => {
            return Err(CannotDecide(text::cannot(decision, r, tz)));
        }
        Some(r) if Some(decision) == first => return Err(CannotDecide(text::cannot(decision, r, tz))),
        _ => {}
    }
    Ok(Dialog {
        decision,
        pending: pending.clone(),
        text: String::new(),
        reason_required,
        sending: false,
        error: None,
        preview: None,
    })
}

/// The stand-in reason the preview of a decision that needs one is checked with.
pub const PREVIEW_REASON: &str = "(reason to be written)";

impl Dialog {
    /// The preview to ask for as the dialog opens: the same decision, with a stand-in reason
    /// when one is required (its words change nobody who is told).
    #[must_use]
    pub fn preview_cmd(&self) -> Cmd {
        let item = &self.pending.item;
        Cmd::Preview(DecisionCmd {
            key: item.deployment,
            phase: item.phase.clone(),
            decision: self.decision,
            comment: None,
            reason: self.reason_required.then(|| PREVIEW_REASON.to_owned()),
        })
    }

    /// Whether `ask` is this dialog's decision.
    #[must_use]
    pub fn asks(&self, ask: &DecisionCmd) -> bool {
        let item = &self.pending.item;
        ask.key == item.deployment && ask.phase == item.phase && ask.decision == self.decision
    }

    /// Enter: the command to send, or nothing when a required reason is missing.
    pub fn confirm(&mut self) -> Vec<Cmd> {
        if self.sending {
            return Vec::new();
        }
        let written = Some(self.text.trim().to_owned()).filter(|t| !t.is_empty());
        if self.reason_required && written.is_none() {
            self.error = Some(text::reason_required(self.decision).to_owned());
            return Vec::new();
        }
        self.sending = true;
        self.error = None;
        let (comment, reason) = if self.reason_required { (None, written) } else { (written, None) };
        let item = &self.pending.item;
        vec![Cmd::Decide(DecisionCmd {
            key: item.deployment,
            phase: item.phase.clone(),
            decision: self.decision,
            comment,
            reason,
        })]
    }
}
