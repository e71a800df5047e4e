//! What the log says about gates, decisions and notifications: the shapes of `gate wait`, the
//! long-poll endpoint, `audit list --json` and the dashboard's Approvals and Notifications views.

use super::{Decision, GateState, Refusal};
use crate::domain::records::PhaseView;
use crate::domain::{DeploymentKey, DeploymentStatus, GatePolicy};
use chrono::{DateTime, Utc};
use serde::Serialize;

fn key_text<S: serde::Serializer>(k: &DeploymentKey, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(k)
}

/// A person's approval as counted by a gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub person: String,
    pub role: Option<String>,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
}

/// A rejection and its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub person: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// One gate as pipelines and the dashboard see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateView {
    #[serde(serialize_with = "key_text")]
    pub deployment: DeploymentKey,
    pub phase: String,
    pub phase_index: usize,
    pub state: GateState,
    pub deployment_status: DeploymentStatus,
    pub environment: String,
    /// When the deployment is planned to start (a time rule of its gates).
    pub planned_start: DateTime<Utc>,
    /// Distinct approvals needed, and those given so far (first approval of each person).
    pub required: u32,
    pub approvals: Vec<Approval>,
    pub rejection: Option<Rejection>,
    pub policy: GatePolicy,
    /// When it became pending (`None` while waiting).
    pub opened_at: Option<DateTime<Utc>>,
    /// The phase before the gate (`None` on the first phase).
    pub previous: Option<PhaseView>,
    /// The switch-over, when this is the switch gate of a parallel deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch: Option<crate::domain::parallel::Switchover>,
}

/// How `gate wait` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitOutcome {
    Approved,
    Rejected,
    /// The deployment was aborted or rolled back (or finished) before the gate was decided.
    Halted,
    /// A switch gate: traffic was switched back to the old set after the switch-over.
    SwitchedBack,
    /// A switch gate waited on for a switch back: the old set was released, so none can come.
    Released,
}

impl GateView {
    /// Whether a waiting pipeline can stop waiting, and how it ends.
    #[must_use]
    pub fn outcome(&self) -> Option<WaitOutcome> {
        if self.switch.as_ref().is_some_and(|s| s.switched_back_at.is_some()) {
            return Some(WaitOutcome::SwitchedBack);
        }
        match self.state {
            GateState::Approved => Some(WaitOutcome::Approved),
            GateState::Rejected => Some(WaitOutcome::Rejected),
            _ if self.deployment_status.is_halted() || self.deployment_status == DeploymentStatus::Succeeded => {
                Some(WaitOutcome::Halted)
            }
            _ => None,
        }
    }

    /// How a wait for a switch back (`gate wait KEY switch --back`) ends at `now`: switched
    /// back, or never (the old set was released, the switch gate rejected, the deployment
    /// halted before the switch-over); `None` while a switch back may still come. `None` too
    /// for a gate that is not a switch gate.
    #[must_use]
    pub fn back_outcome(&self, now: DateTime<Utc>) -> Option<WaitOutcome> {
        use crate::domain::parallel::SwitchState;
        let switch = self.switch.as_ref()?;
        match switch.state(now) {
            SwitchState::SwitchedBack => Some(WaitOutcome::SwitchedBack),
            SwitchState::Released => Some(WaitOutcome::Released),
            SwitchState::Switched => None,
            SwitchState::Before => match self.outcome() {
                Some(WaitOutcome::Approved) | None => None,
                other => other,
            },
        }
    }

    /// The JSON answer of `gate show --json` and the long-poll endpoint at `now`: the gate with
    /// its `outcome` for waiters (`approved`, `rejected`, `halted`, `switched_back`, or `null`
    /// while undecided) and, for a switch gate, the `switch` record with where it stands.
    #[must_use]
    pub fn document(&self, now: DateTime<Utc>) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["outcome"] = serde_json::to_value(self.outcome()).unwrap_or_default();
        if let Some(s) = &self.switch {
            v["switch"] = s.document(now);
        }
        v
    }

    /// The facts of this gate's time rules under the log's windows and freezes.
    #[must_use]
    pub fn time_facts<'a>(
        &'a self,
        windows: &'a [crate::domain::schedule::ChangeWindow],
        freezes: &'a [crate::domain::schedule::Freeze],
    ) -> super::timing::TimeFacts<'a> {
        let previous = match &self.previous {
            None => super::Previous::None,
            // As the store reads it: a succeeded phase without an end time baked long ago.
            Some(p) if p.status == crate::domain::PhaseStatus::Succeeded => {
                super::Previous::SucceededAt(p.finished_at.unwrap_or(DateTime::UNIX_EPOCH))
            }
            Some(_) => super::Previous::NotYet,
        };
        super::timing::TimeFacts {
            policy: &self.policy,
            environment: &self.environment,
            previous,
            planned_start: self.planned_start,
            windows,
            freezes,
        }
    }

    /// Approvals still missing.
    #[must_use]
    pub fn missing(&self) -> u32 {
        self.required.saturating_sub(u32::try_from(self.approvals.len()).unwrap_or(u32::MAX))
    }
}

/// What an Approvals inbox entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A pending gate: approve or reject.
    Gate,
    /// A phase over its failure budget: retry, abort or rollback.
    FailedPhase,
    /// A blue/green deployment switched over while its old set is kept: switch back (a
    /// rollback of its `switch` phase).
    Switched,
}

/// One thing a deployment manager may act on, with the context to decide.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionItem {
    pub kind: ActionKind,
    #[serde(serialize_with = "key_text")]
    pub deployment: DeploymentKey,
    pub release: String,
    pub version: String,
    pub environment: String,
    pub requested_by: String,
    pub phase: String,
    /// Decisions offered.
    pub offers: Vec<Decision>,
    /// Since when it waits (gate opened, or phase failed); the inbox is oldest first.
    pub since: DateTime<Utc>,
    /// The gate, for `Gate` items.
    pub gate: Option<GateView>,
    /// The phase whose result matters: the one before the gate, or the failed one.
    pub result: Option<PhaseView>,
    /// The most frequent error messages of that phase's failed targets, with their counts.
    pub top_errors: Vec<(String, usize)>,
    /// Why the person asked about cannot take the first offered decision now (`None`: they can).
    pub blocked: Option<Refusal>,
    /// Agents ran past this gate without approval: it waits for a retroactive decision.
    pub ran_past: bool,
    /// The switch-over, for `Switched` items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch: Option<crate::domain::parallel::Switchover>,
}

impl ActionItem {
    /// Whether it waits on the person asked about: they may act now, or only time stands in
    /// the way (bake, window, freeze); not when their role or the rules exclude them.
    #[must_use]
    pub fn needs_me(&self) -> bool {
        match &self.blocked {
            None => true,
            Some(r) => {
                r.is_time_rule()
                    || matches!(r, Refusal::FreezeReasonRequired { .. } | Refusal::RetroactiveReasonRequired)
            }
        }
    }
}

/// The `decision` of the record every plan appends (it seals the plan's facts; timelines show
/// the plan once, from the deployment itself).
pub const PLAN_RECORD: &str = "plan";

/// One audit record: a decision as it was made, hash-chained to the one before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(serialize_with = "key_text")]
    pub deployment: DeploymentKey,
    /// Empty for records about no phase (team syncs).
    pub phase: String,
    /// `approve`, `reject`, `retry`, `abort`, `rollback`, `team_sync`, `check` (a checklist
    /// tick) or `flag` (a conformance flag raised by agents' events).
    pub decision: String,
    /// The checklist item or the flag a `check` or `flag` record is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `None`: recorded; `refused`: tried and refused by the rule in `policy_state`.
    pub outcome: Option<String>,
    pub person: String,
    pub role: Option<String>,
    pub os_user: Option<String>,
    pub comment: Option<String>,
    pub reason: Option<String>,
    /// The policy check at the time (JSON).
    pub policy_state: serde_json::Value,
    pub decided_at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// Whether the decision was tried and refused (kept in the trail, never counted).
    #[must_use]
    pub fn refused(&self) -> bool {
        self.outcome.as_deref() == Some("refused")
    }

    /// The decision as people read it: `approve`, or `approve (refused)`.
    #[must_use]
    pub fn label(&self) -> String {
        if self.refused() { format!("{} (refused)", self.decision) } else { self.decision.clone() }
    }

    /// The rule that refused it, when it was refused, with its times in `zone`.
    ///
    /// The trail keeps the refusal as it was checked (its rule and instants, and a sentence in
    /// UTC); the sentence is worded again from the rule, so the audit reads in the one zone
    /// everything else does. A rule this version cannot read keeps its stored sentence.
    #[must_use]
    pub fn refusal(&self, zone: chrono_tz::Tz) -> Option<String> {
        if !self.refused() {
            return None;
        }
        let r = &self.policy_state["refused"];
        serde_json::from_value::<crate::domain::gate::Refusal>(r["rule"].clone())
            .map(|rule| rule.describe(zone))
            .ok()
            .or_else(|| r["text"].as_str().or_else(|| r.as_str()).map(str::to_owned))
    }

    /// What the audit flags about who acted ("acted as X from account Y", ...).
    #[must_use]
    pub fn flags(&self) -> Vec<&str> {
        self.policy_state["flags"]
            .as_array()
            .map(|f| f.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The refusal (its times in `zone`), reason or comment, and the flags: one note for a
    /// table cell or a line.
    #[must_use]
    pub fn note(&self, zone: chrono_tz::Tz) -> String {
        let flags = self.flags();
        [
            self.refusal(zone).map(|x| format!("refused: {x}")),
            self.reason.as_deref().map(|x| format!("reason: {x}")),
            self.comment.as_deref().map(|x| format!("comment: {x}")),
            (!flags.is_empty()).then(|| format!("flagged: {}", flags.join(", "))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
    }
}

/// A stored notification for one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub id: i64,
    pub recipient: String,
    /// gate_pending, gate_decided, ...
    pub kind: String,
    #[serde(serialize_with = "opt_key_text")]
    pub deployment: Option<DeploymentKey>,
    pub phase: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

fn opt_key_text<S: serde::Serializer>(k: &Option<DeploymentKey>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.collect_str(k),
        None => s.serialize_none(),
    }
}

pub use crate::domain::team::Member;

/// A stakeholder rule expanded to one person: they hear about `kind` in these environments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Subscription {
    pub person: String,
    pub kind: String,
    /// Empty means all.
    pub environments: Vec<String>,
    /// Services (release names); empty means all.
    pub services: Vec<String>,
    /// Channels besides in-app that carry it.
    pub channels: Vec<String>,
    /// The rule's quiet hours (in the person's zone) and digest period.
    pub timing: crate::domain::notify::timing::Timing,
}
