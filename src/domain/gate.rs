//! Gates: the approval between phases, and the decisions offered on a failed phase.
//!
//! A gate is *waiting* until the phase before it succeeds (a gate on the first phase is pending
//! from the moment the deployment is planned), then *pending* until enough distinct allowed
//! people approve it (*approved*) or anyone allowed rejects it (*rejected*, which halts the
//! deployment). A phase that failed its budget offers retry, abort or rollback instead.
//!
//! Every decision is checked here, against the policy copied into the phase when it was planned
//! and the log's windows and freezes ([`super::schedule::TimeRules`]), at the instant the store
//! records it. Checks run in a fixed order and a refusal names the one rule that blocked and,
//! for time rules, the earliest instant at which every time rule holds ([`timing`], shared with
//! the Approvals inbox).

use super::schedule::{ChangeWindow, Freeze};
use super::{DeploymentStatus, GatePolicy, PhaseStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub mod hold;
pub mod timing;
pub mod view;

/// What someone decides at a gate or on a failed phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
    Retry,
    Abort,
    Rollback,
}

impl Decision {
    pub const ALL: [Self; 5] = [Self::Approve, Self::Reject, Self::Retry, Self::Abort, Self::Rollback];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Retry => "retry",
            Self::Abort => "abort",
            Self::Rollback => "rollback",
        }
    }

    /// Whether this decision is made on a failed phase rather than at a gate.
    #[must_use]
    pub fn on_failed_phase(self) -> bool {
        matches!(self, Self::Retry | Self::Abort | Self::Rollback)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Decision {
    type Err = super::Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| super::Invalid(format!("unknown decision \"{s}\"")))
    }
}

/// Where a gate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateState {
    /// The phase before it has not succeeded yet.
    Waiting,
    /// Open for decisions.
    Pending,
    Approved,
    Rejected,
}

impl GateState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    /// Whether nothing more will change it.
    #[must_use]
    pub fn is_decided(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected)
    }
}

impl fmt::Display for GateState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The person deciding, as the config knows them.
#[derive(Debug, Clone, Copy)]
pub struct Decider<'a> {
    pub name: &'a str,
    pub roles: &'a [String],
}

/// A decision already recorded on a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub person: String,
    pub decision: Decision,
    pub at: DateTime<Utc>,
}

/// The phase before a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Previous {
    /// The gate is on the first phase: its approval authorises the deployment to start.
    None,
    /// The phase before has not succeeded.
    NotYet,
    /// The phase before succeeded at this instant (bake time counts from here).
    SucceededAt(DateTime<Utc>),
}

/// Everything a gate check looks at besides the person and the time.
#[derive(Debug, Clone, Copy)]
pub struct GateFacts<'a> {
    pub policy: &'a GatePolicy,
    pub deployment_status: DeploymentStatus,
    pub environment: &'a str,
    pub requester: &'a str,
    pub previous: Previous,
    /// When the deployment is planned to start.
    pub planned_start: DateTime<Utc>,
    /// Decisions on this phase so far, oldest first.
    pub decisions: &'a [Recorded],
    pub windows: &'a [ChangeWindow],
    pub freezes: &'a [Freeze],
    /// Agents reported events for this phase (or a later one) before the gate was approved:
    /// only a retroactive decision, with a written reason, is left.
    pub ran_past: bool,
    /// Checklist items the policy's `require` lists name that are not done yet.
    pub unticked: &'a [String],
}

/// A decision that passed the policy, with what it was allowed under (kept in the audit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowed {
    /// The role the person acted in (`None`: allowed as requester or by an open policy).
    pub role: Option<String>,
    /// The freeze overridden, if any (its reason is recorded with the decision).
    pub freeze_override: Option<String>,
    /// The change window the approval fell in, if the policy names windows.
    pub window: Option<String>,
    /// The gate's state before and after this decision.
    pub before: GateState,
    pub after: GateState,
    /// Distinct approvers, this decision included, and how many the policy needs.
    pub approvals: u32,
    pub required: u32,
}

/// Why a decision is refused: exactly one rule, with when it opens for time rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Refusal {
    #[error("the deployment is {status}: nothing more can be decided on it")]
    Halted { status: DeploymentStatus },
    #[error("the gate is waiting: the phase before it has not succeeded yet")]
    Waiting,
    #[error("the gate is already {state}")]
    Decided { state: GateState },
    #[error("the phase is {status}, not failed: retry, abort and rollback are offered on failed phases")]
    NotFailed { status: PhaseStatus },
    #[error("{person} holds none of the roles allowed to decide here ({})", roles.join(", "))]
    Role { person: String, roles: Vec<String> },
    #[error("{person} requested this deployment and may not approve it (the gate does not allow self-approval)")]
    SelfApproval { person: String },
    #[error("{person} already approved this gate at {}; one person counts once", when(*at))]
    AlreadyApproved { person: String, at: DateTime<Utc> },
    #[error(
        "environment {environment} is frozen by \"{name}\" until {}{}{}{}",
        deadline(*until),
        reason_text(reason),
        override_hint(override_roles),
        possible_text(*possible_from, Some(*until))
    )]
    Freeze {
        name: String,
        environment: String,
        until: DateTime<Utc>,
        /// Why it was declared: every refusal it causes says so.
        #[serde(default)]
        reason: String,
        override_roles: Vec<String>,
        /// When every time rule holds (`None`: not in the horizon of the windows).
        possible_from: Option<DateTime<Utc>>,
    },
    #[error(
        "freeze \"{name}\" holds until {}{}: overriding it as {role} needs a written reason (--reason)",
        deadline(*until),
        reason_text(reason)
    )]
    FreezeReasonRequired {
        name: String,
        role: String,
        until: DateTime<Utc>,
        /// Why the freeze was declared.
        #[serde(default)]
        reason: String,
    },
    #[error("bake time: the phase before succeeded at {}{}", when(*since), bake_text(*until, *possible_from))]
    Bake { since: DateTime<Utc>, until: DateTime<Utc>, possible_from: Option<DateTime<Utc>> },
    #[error(
        "outside the change windows ({}): {}{}",
        windows.join(", "),
        opens_text(opens.as_ref()),
        possible_text(*possible_from, opens.as_ref().map(|o| o.1))
    )]
    Window { windows: Vec<String>, opens: Option<(String, DateTime<Utc>)>, possible_from: Option<DateTime<Utc>> },
    #[error("the deployment is planned to start at {}{}", deadline(*at), possible_text(*possible_from, Some(*at)))]
    NotStarted { at: DateTime<Utc>, possible_from: Option<DateTime<Utc>> },
    #[error("a {decision} needs a written reason (--reason)")]
    ReasonRequired { decision: Decision },
    #[error("agents ran past this gate without approval: a retroactive approval needs a written reason (--reason)")]
    RetroactiveReasonRequired,
    #[error(
        "this gate approves on the pilot's feedback: say what the pilot's users reported in the comment (--comment)"
    )]
    Feedback,
    #[error("the gate requires its checklists to be done; not ticked: {}", items.join(", "))]
    Checklist { items: Vec<String> },
    #[error(
        "OS account {account} planned this deployment and may not approve it (identity is \"os-login\"; the gate does not allow self-approval)"
    )]
    SameAccount { account: String },
    #[error(
        "OS account {account} already approved this gate (as {person}); in \"os-login\" identity one account counts once"
    )]
    AccountAlreadyApproved { account: String, person: String },
    #[error(
        "traffic has not been switched to the new set yet, so there is nothing to switch back (reject the switch gate, or abort, to stop the deployment)"
    )]
    NotSwitched,
    #[error("traffic was already switched back to the old set at {}", when(*at))]
    AlreadySwitchedBack { at: DateTime<Utc> },
    #[error(
        "the old set was released at {} ({keep_old} after the switch-over): it no longer runs the old release, so switching back is not possible; deploy the old release again instead",
        when(*at)
    )]
    OldSetReleased { at: DateTime<Utc>, keep_old: String },
}

impl Refusal {
    /// The refusal as one sentence with its times in `tz` (`Display` writes them in UTC), as
    /// [`crate::domain::time`] writes every time people read.
    #[must_use]
    pub fn describe(&self, tz: chrono_tz::Tz) -> String {
        use crate::domain::time;
        let mut text = self.to_string();
        for t in self.instants() {
            text = text.replace(&deadline(t), &time::until(t, tz)).replace(&when(t), &time::at(t, tz));
        }
        text
    }

    /// Every instant the sentence names.
    fn instants(&self) -> Vec<DateTime<Utc>> {
        let mut all = match self {
            Self::AlreadyApproved { at, .. } | Self::OldSetReleased { at, .. } | Self::AlreadySwitchedBack { at } => {
                vec![*at]
            }
            Self::FreezeReasonRequired { until, .. } => vec![*until],
            Self::Freeze { until, possible_from, .. } => vec![*until].into_iter().chain(*possible_from).collect(),
            Self::Bake { since, until, possible_from } => {
                vec![*since, *until].into_iter().chain(*possible_from).collect()
            }
            Self::Window { opens, possible_from, .. } => opens.iter().map(|o| o.1).chain(*possible_from).collect(),
            Self::NotStarted { at, possible_from } => vec![*at].into_iter().chain(*possible_from).collect(),
            _ => Vec::new(),
        };
        all.sort();
        all.dedup();
        all
    }

    /// Whether a time rule blocked (bake, window, freeze, planned start): waiting is enough.
    #[must_use]
    pub fn is_time_rule(&self) -> bool {
        matches!(self, Self::Freeze { .. } | Self::Bake { .. } | Self::Window { .. } | Self::NotStarted { .. })
    }

    /// For time rules, the earliest instant at which every time rule holds (not only the one
    /// that blocked); `None` for other rules, or when no instant in the horizon satisfies all.
    #[must_use]
    pub fn opens_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Freeze { possible_from, .. }
            | Self::Bake { possible_from, .. }
            | Self::Window { possible_from, .. }
            | Self::NotStarted { possible_from, .. } => *possible_from,
            _ => None,
        }
    }
}

/// A moment past (a success, an approval), in UTC; [`Refusal::describe`] rewrites it.
fn when(t: DateTime<Utc>) -> String {
    crate::domain::time::at(t, chrono_tz::UTC)
}

/// A time from which approval is possible or until which a rule holds, in UTC (to the second
/// when it is not on a whole minute); [`Refusal::describe`] rewrites it.
fn deadline(t: DateTime<Utc>) -> String {
    crate::domain::time::until(t, chrono_tz::UTC)
}

/// ` (reason: ...)`, for a freeze that gives one.
fn reason_text(reason: &str) -> String {
    let reason = reason.trim();
    if reason.is_empty() { String::new() } else { format!(" (reason: {reason})") }
}

fn override_hint(roles: &[String]) -> String {
    if roles.is_empty() {
        " (no role may override it)".into()
    } else {
        format!(" (only {} may override it, with --reason)", roles.join(" or "))
    }
}

/// `, approval is possible from T`: said whenever it differs from the instant the rule names
/// (`shown`), so the time given is always the one at which every time rule holds.
fn possible_text(possible: Option<DateTime<Utc>>, shown: Option<DateTime<Utc>>) -> String {
    match possible {
        Some(t) if Some(t) == shown => String::new(),
        Some(t) => format!("; with every time rule, approval is possible from {}", deadline(t)),
        None => "; no time in the coming weeks meets every time rule".into(),
    }
}

fn bake_text(until: DateTime<Utc>, possible: Option<DateTime<Utc>>) -> String {
    match possible {
        Some(t) if t == until => format!(", approval is possible from {}", deadline(t)),
        _ => format!(", it bakes until {}{}", deadline(until), possible_text(possible, None)),
    }
}

fn opens_text(opens: Option<&(String, DateTime<Utc>)>) -> String {
    opens.map_or_else(
        || "none of them opens again".into(),
        |(name, at)| format!("\"{name}\" opens at {}", deadline(*at)),
    )
}

/// A gate that approves on feedback (after a pilot) needs the approval's comment to carry it.
pub fn check_feedback(policy: &GatePolicy, decision: Decision, comment: Option<&str>) -> Result<(), Refusal> {
    if policy.feedback && decision == Decision::Approve && comment.is_none_or(|c| c.trim().is_empty()) {
        return Err(Refusal::Feedback);
    }
    Ok(())
}

/// Distinct approvers so far, each with their first approval.
#[must_use]
pub fn approvers(decisions: &[Recorded]) -> Vec<&Recorded> {
    let mut seen: Vec<&Recorded> = Vec::new();
    for d in decisions.iter().filter(|d| d.decision == Decision::Approve) {
        if !seen.iter().any(|s| s.person == d.person) {
            seen.push(d);
        }
    }
    seen
}

fn approval_count(decisions: &[Recorded]) -> u32 {
    u32::try_from(approvers(decisions).len()).unwrap_or(u32::MAX)
}

/// The gate's state from its decisions and the phase before it.
#[must_use]
pub fn state(policy: &GatePolicy, previous: Previous, decisions: &[Recorded]) -> GateState {
    if decisions.iter().any(|d| d.decision == Decision::Reject) {
        GateState::Rejected
    } else if approval_count(decisions) >= policy.approvals.max(1) {
        GateState::Approved
    } else if previous == Previous::NotYet {
        GateState::Waiting
    } else {
        GateState::Pending
    }
}

/// The first of the person's roles that the list allows (`Some(None)`: the list is open).
pub(crate) fn allowed_role(decider: Decider<'_>, roles: &[String]) -> Option<Option<String>> {
    if roles.is_empty() {
        return Some(decider.roles.first().cloned());
    }
    decider.roles.iter().find(|r| roles.contains(r)).map(|r| Some(r.clone()))
}

/// A freeze in force: the freeze, and when this occurrence of it ends.
#[derive(Debug, Clone, Copy)]
pub struct ActiveFreeze<'f> {
    pub freeze: &'f Freeze,
    pub until: DateTime<Utc>,
}

impl std::ops::Deref for ActiveFreeze<'_> {
    type Target = Freeze;

    fn deref(&self) -> &Freeze {
        self.freeze
    }
}

/// The freeze of this environment in force at `now`, if any (the one that lasts longest), with
/// the end of its occurrence (a recurring freeze ends with its occurrence).
#[must_use]
pub fn active_freeze<'f>(freezes: &'f [Freeze], environment: &str, now: DateTime<Utc>) -> Option<ActiveFreeze<'f>> {
    freezes
        .iter()
        .filter(|f| f.applies_to(environment))
        .filter_map(|f| f.occurrence_at(now).map(|(_, until)| ActiveFreeze { freeze: f, until }))
        .max_by_key(|a| a.until)
}

/// Checks the freeze rule: `Ok(Some(name))` when overridden by an allowed role with a reason.
fn check_freeze(
    freezes: &[Freeze],
    override_roles: &[String],
    environment: &str,
    decider: Decider<'_>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<String>, Refusal> {
    let Some(freeze) = active_freeze(freezes, environment, now) else { return Ok(None) };
    let role = decider.roles.iter().find(|r| override_roles.contains(r));
    match (role, reason.map(str::trim).filter(|r| !r.is_empty())) {
        (Some(_), Some(_)) => Ok(Some(freeze.name.clone())),
        (Some(role), None) => Err(Refusal::FreezeReasonRequired {
            name: freeze.name.clone(),
            role: role.clone(),
            until: freeze.until,
            reason: freeze.reason.clone(),
        }),
        (None, _) => Err(Refusal::Freeze {
            name: freeze.name.clone(),
            environment: environment.to_owned(),
            until: freeze.until,
            reason: freeze.reason.clone(),
            override_roles: override_roles.to_vec(),
            possible_from: Some(freezes_end(freezes, environment, now)),
        }),
    }
}

/// When the freezes of an environment in force at `now` end, one running into the next.
fn freezes_end(freezes: &[Freeze], environment: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut t = now;
    while let Some(f) = active_freeze(freezes, environment, t) {
        t = f.until;
    }
    t
}

/// Checks the window rule: the open window's name (`None`: no named window covers this
/// environment, so the rule does not apply), or when the first of them opens next.
fn check_window(
    time: &timing::TimeFacts<'_>,
    now: DateTime<Utc>,
    possible_from: impl FnOnce() -> Option<DateTime<Utc>>,
) -> Result<Option<String>, Refusal> {
    use timing::WindowState;
    match timing::window_state(&time.policy.windows, time.windows, time.environment, now) {
        WindowState::NotRequired => Ok(None),
        WindowState::Open { name, .. } => Ok(Some(name)),
        state => {
            let windows = time
                .windows
                .iter()
                .filter(|w| time.policy.windows.contains(&w.name) && w.applies_to(time.environment))
                .map(|w| w.name.clone())
                .collect();
            let opens = match state {
                WindowState::Closed { name, opens, .. } => Some((name, opens)),
                _ => None,
            };
            Err(Refusal::Window { windows, opens, possible_from: possible_from() })
        }
    }
}

/// Checks an approval or a rejection at a gate.
pub fn check_gate(
    decision: Decision,
    facts: &GateFacts<'_>,
    decider: Decider<'_>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Allowed, Refusal> {
    let policy = facts.policy;
    // Agents may have finished a deployment whose gate nobody approved: it is still decided.
    let status = facts.deployment_status;
    let over = status.is_final() && (status.is_halted() || !facts.ran_past);
    if over {
        return Err(Refusal::Halted { status: facts.deployment_status });
    }
    let before = state(policy, facts.previous, facts.decisions);
    if before.is_decided() {
        return Err(Refusal::Decided { state: before });
    }
    let required = policy.approvals.max(1);
    let count = approval_count(facts.decisions);
    if decision == Decision::Reject {
        if reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(Refusal::ReasonRequired { decision });
        }
        // Anyone allowed to approve may stop it, and so may the person who asked for it.
        let role = match allowed_role(decider, &policy.roles) {
            Some(role) => role,
            None if decider.name == facts.requester => None,
            None => return Err(Refusal::Role { person: decider.name.into(), roles: policy.roles.clone() }),
        };
        let after = GateState::Rejected;
        return Ok(Allowed { role, freeze_override: None, window: None, before, after, approvals: count, required });
    }
    if facts.ran_past && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(Refusal::RetroactiveReasonRequired);
    }
    // A gate agents ran past is decided after the fact, even while the phase before it runs.
    if before == GateState::Waiting && !facts.ran_past {
        return Err(Refusal::Waiting);
    }
    let Some(role) = allowed_role(decider, &policy.roles) else {
        return Err(Refusal::Role { person: decider.name.into(), roles: policy.roles.clone() });
    };
    if decider.name == facts.requester && !policy.allow_self {
        return Err(Refusal::SelfApproval { person: decider.name.into() });
    }
    if let Some(mine) = approvers(facts.decisions).into_iter().find(|d| d.person == decider.name) {
        return Err(Refusal::AlreadyApproved { person: decider.name.into(), at: mine.at });
    }
    if !facts.unticked.is_empty() {
        return Err(Refusal::Checklist { items: facts.unticked.to_vec() });
    }
    let time = timing::TimeFacts {
        policy,
        environment: facts.environment,
        previous: facts.previous,
        planned_start: facts.planned_start,
        windows: facts.windows,
        freezes: facts.freezes,
    };
    let freeze_override =
        check_freeze(facts.freezes, &policy.freeze_override_roles, facts.environment, decider, reason, now).map_err(
            |refusal| match refusal {
                Refusal::Freeze { name, environment, until, reason, override_roles, .. } => Refusal::Freeze {
                    name,
                    environment,
                    until,
                    reason,
                    override_roles,
                    possible_from: timing::earliest(&time, now, false),
                },
                other => other,
            },
        )?;
    // Every time refusal gives the instant when all time rules hold, not when its own ends.
    let possible_from = || timing::earliest(&time, now, freeze_override.is_some());
    if now < facts.planned_start {
        return Err(Refusal::NotStarted { at: facts.planned_start, possible_from: possible_from() });
    }
    if let (Previous::SucceededAt(since), Some(until)) = (facts.previous, timing::bake_end(&time))
        && now < until
    {
        return Err(Refusal::Bake { since, until, possible_from: possible_from() });
    }
    let window = check_window(&time, now, possible_from)?;
    let approvals = count + 1;
    let after = if approvals >= required { GateState::Approved } else { GateState::Pending };
    Ok(Allowed { role, freeze_override, window, before, after, approvals, required })
}

/// Everything a decision on a failed phase looks at besides the person and the time.
#[derive(Debug, Clone, Copy)]
pub struct RecoveryFacts<'a> {
    pub phase_status: PhaseStatus,
    pub deployment_status: DeploymentStatus,
    pub environment: &'a str,
    pub requester: &'a str,
    /// Roles that may act on the deployment's failed phases: every role its gates name
    /// (empty: anyone configured).
    pub roles: &'a [String],
    /// Roles that may retry during a freeze, with a reason.
    pub freeze_override_roles: &'a [String],
    pub freezes: &'a [Freeze],
}

/// Checks retry, abort or rollback on a failed phase.
///
/// Abort and rollback stop change, so no time rule holds them back; retry deploys again, so a
/// freeze of the environment blocks it unless overridden with a reason.
pub fn check_recovery(
    decision: Decision,
    facts: &RecoveryFacts<'_>,
    decider: Decider<'_>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Allowed, Refusal> {
    if facts.deployment_status.is_halted() {
        return Err(Refusal::Halted { status: facts.deployment_status });
    }
    if facts.phase_status != PhaseStatus::Failed {
        return Err(Refusal::NotFailed { status: facts.phase_status });
    }
    let role = match allowed_role(decider, facts.roles) {
        Some(role) => role,
        None if decider.name == facts.requester => None,
        None => return Err(Refusal::Role { person: decider.name.into(), roles: facts.roles.to_vec() }),
    };
    let freeze_override = if decision == Decision::Retry {
        check_freeze(facts.freezes, facts.freeze_override_roles, facts.environment, decider, reason, now)?
    } else {
        None
    };
    // A failed phase has no gate state of its own; the audit records the phase's status.
    let (before, after) = (GateState::Pending, GateState::Approved);
    Ok(Allowed { role, freeze_override, window: None, before, after, approvals: 0, required: 0 })
}

#[cfg(test)]
mod tests;
