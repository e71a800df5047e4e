//! What the log holds, as the rest of the program sees it: deployments, phases, targets and
//! stored events. These are the shapes of `status --json`, the agent API's deployment answer and
//! the dashboard's state.

use super::{DeploymentKey, DeploymentStatus, EventStatus, PhaseStatus, TargetStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One deployment, without its targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentSummary {
    #[serde(serialize_with = "key_text")]
    pub key: DeploymentKey,
    pub release: String,
    pub version: String,
    pub change_ref: Option<String>,
    pub environment: String,
    pub model: String,
    pub technique: String,
    pub requested_by: String,
    pub status: DeploymentStatus,
    pub planned_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub steps: Vec<String>,
    pub targets: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub running: usize,
    /// The first phase that is not finished (or the last phase when all are).
    pub current_phase: Option<String>,
    /// Sequence number of the newest event of this deployment (0: none yet).
    pub last_event_seq: i64,
}

pub(crate) fn key_text<S: serde::Serializer>(k: &DeploymentKey, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(k)
}

/// One phase and its counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseView {
    pub index: usize,
    pub name: String,
    pub status: PhaseStatus,
    pub targets: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub running: usize,
    pub pending: usize,
    pub failure_budget: usize,
    /// Failures still tolerated before the phase fails (0 when over budget).
    pub budget_left: usize,
    pub gate: Option<super::GatePolicy>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One target and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetView {
    pub name: String,
    pub phase: String,
    pub status: TargetStatus,
    pub last_step: Option<String>,
    pub last_status: Option<EventStatus>,
    pub last_message: Option<String>,
    pub last_error: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
    /// When the receiver last heard about this target (for silence).
    pub seen_at: Option<DateTime<Utc>>,
    /// Its labels from the inventory (site, rack, ...).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: super::inventory::Labels,
}

/// A deployment with its phases and, when asked for, its targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentDetail {
    #[serde(flatten)]
    pub summary: DeploymentSummary,
    pub phases: Vec<PhaseView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_list: Vec<TargetView>,
    /// Components, notes, change and test evidence, as planned (`None`: planned without).
    pub release_record: Option<super::release::ReleaseRecord>,
    /// The checklist items copied from the model, with who ticked them.
    pub checklist: Vec<super::checklist::Item>,
    /// What agents did that was not authorised.
    pub conformance: Vec<super::conformance::Flag>,
    /// The switch-over of a parallel (blue/green) deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch: Option<super::parallel::Switchover>,
    /// A supervised run of a new or changed model: every phase needs a person's approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervised: Option<Supervision>,
}

/// "supervised (k of n)": the k-th of the first n runs of a new or changed model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Supervision {
    pub run: u32,
    pub of: u32,
}

impl std::fmt::Display for Supervision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "supervised ({} of {})", self.run, self.of)
    }
}

impl DeploymentDetail {
    /// The JSON of `status --json` and `GET /v1/deployments/{key}` at `now`: the detail with a
    /// parallel deployment's `switch` record saying where it stands (`live`, `state`,
    /// `old_kept_until`, `old_released`).
    #[must_use]
    pub fn document(&self, now: DateTime<Utc>) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(s) = &self.switch {
            v["switch"] = s.document(now);
        }
        v
    }
}

/// What verifies a deployment: its release record, checklist and conformance flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verification {
    pub release_record: Option<super::release::ReleaseRecord>,
    pub checklist: Vec<super::checklist::Item>,
    pub conformance: Vec<super::conformance::Flag>,
}

/// An event as stored in the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    #[serde(serialize_with = "key_text")]
    pub deployment: DeploymentKey,
    pub phase: Option<String>,
    pub target: Option<String>,
    pub step: String,
    pub status: EventStatus,
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub message: Option<String>,
    #[serde(serialize_with = "raw_json")]
    pub data: Option<String>,
}

impl StoredEvent {
    /// The order events are shown in, everywhere: by when they happened (`at`), arrival as the
    /// tie-break. Agents report late and out of order; arrival order misleads.
    #[must_use]
    pub fn time_order(&self) -> (DateTime<Utc>, i64) {
        (self.at, self.seq)
    }
}

/// `data` exactly as the agent wrote it: re-parsing into numbers would round big ones.
fn raw_json<S: serde::Serializer>(d: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match d.as_deref().and_then(|t| serde_json::value::RawValue::from_string(t.to_owned()).ok()) {
        Some(raw) => raw.serialize(s),
        None => s.serialize_none(),
    }
}
