//! The target state machine: how a target's status follows from its lifecycle events.
//!
//! A target is *running* once any step started, *succeeded* when the last lifecycle step
//! succeeded (or was skipped), and *failed* when a step failed and no later attempt of that step
//! succeeded. Events may arrive out of order, so each step keeps the newest terminal outcome by
//! `(at, arrival)`, and the status is computed from those marks, never from arrival order.

use super::EventStatus;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a target stands in its deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Silent for longer than its deployment's `recovery.lost_after`: counted as failed, so its
    /// phase can finish and the manager decides (a retry starts it over; a late event from it
    /// still counts).
    Lost,
}

impl TargetStatus {
    pub const ALL: [Self; 5] = [Self::Pending, Self::Running, Self::Succeeded, Self::Failed, Self::Lost];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Lost => "lost",
        }
    }

    #[must_use]
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Lost)
    }
}

impl fmt::Display for TargetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for TargetStatus {
    type Err = super::Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| super::Invalid(format!("unknown target status \"{s}\"")))
    }
}

/// Orders events of one target: by the agent's `at`, then by arrival (`seq`).
pub type Stamp = (i64, i64);

/// What is known about one lifecycle step of one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepMark {
    /// Newest `started` seen, if any.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "s")]
    pub started: Option<Stamp>,
    /// Newest terminal outcome (succeeded, failed, skipped) and when.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "t")]
    pub outcome: Option<(EventStatus, Stamp)>,
}

/// The per-step marks of one target; stored with the target so status never needs a fold over
/// its whole event history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TargetProgress {
    steps: Vec<StepMark>,
}

impl TargetProgress {
    /// Records a lifecycle event of step number `step` (index into the model's steps).
    /// `info` events carry no state and are ignored here.
    pub fn apply(&mut self, step: usize, status: EventStatus, stamp: Stamp) {
        if self.steps.len() <= step {
            self.steps.resize(step + 1, StepMark::default());
        }
        let mark = &mut self.steps[step];
        match status {
            EventStatus::Info => {}
            EventStatus::Started => {
                if mark.started.is_none_or(|s| stamp > s) {
                    mark.started = Some(stamp);
                }
            }
            terminal => {
                if mark.outcome.is_none_or(|(_, s)| stamp > s) {
                    mark.outcome = Some((terminal, stamp));
                }
            }
        }
    }

    /// The earliest step that failed and stands failed: its index and the agent's time (ms).
    #[must_use]
    pub fn failure(&self) -> Option<(usize, i64)> {
        self.steps
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match m.outcome {
                Some((EventStatus::Failed, (at, _))) => Some((i, at)),
                _ => None,
            })
            .min_by_key(|&(i, at)| (at, i))
    }

    /// How long each step took that started and then succeeded: `(step index, ms)`.
    pub fn step_durations(&self) -> impl Iterator<Item = (usize, i64)> + '_ {
        self.steps.iter().enumerate().filter_map(|(i, m)| match (m.started, m.outcome) {
            (Some((start, _)), Some((EventStatus::Succeeded, (end, _)))) if end >= start => Some((i, end - start)),
            _ => None,
        })
    }

    /// The status of a target whose model has `step_count` lifecycle steps.
    #[must_use]
    pub fn status(&self, step_count: usize) -> TargetStatus {
        let outcome = |m: &StepMark| m.outcome.map(|(st, _)| st);
        if self.steps.iter().any(|m| outcome(m) == Some(EventStatus::Failed)) {
            return TargetStatus::Failed;
        }
        let last_done = step_count
            .checked_sub(1)
            .and_then(|last| self.steps.get(last))
            .and_then(outcome)
            .is_some_and(|st| matches!(st, EventStatus::Succeeded | EventStatus::Skipped));
        if last_done {
            TargetStatus::Succeeded
        } else if self.steps.iter().any(|m| m.started.is_some() || m.outcome.is_some()) {
            TargetStatus::Running
        } else {
            TargetStatus::Pending
        }
    }
}

/// What one event changed in its target's record besides its step marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Folded {
    /// It is the target's newest event (by `at`, then arrival): its step, status and message
    /// are the target's last.
    pub newest: bool,
    /// It failed: its text ([`error_text`]) is the target's last error.
    pub error: bool,
}

/// Folds one event of a target into its record: its step marks (`step`: the index of a
/// lifecycle step, `None` for other steps), the stamp of its newest event and when its agent
/// was last heard from (`received_ms`: `None` for an event someone else reported on the
/// target's behalf, see [`super::event::reported_on_behalf`]). The log (ingest) and replay both
/// fold through here.
pub fn fold_event(
    progress: &mut TargetProgress,
    newest: &mut Option<Stamp>,
    seen_ms: &mut i64,
    (step, status): (Option<usize>, EventStatus),
    stamp: Stamp,
    received_ms: Option<i64>,
) -> Folded {
    if let Some(i) = step {
        progress.apply(i, status, stamp);
    }
    let is_newest = newest.is_none_or(|l| stamp > l);
    if is_newest {
        *newest = Some(stamp);
    }
    if let Some(ms) = received_ms {
        *seen_ms = (*seen_ms).max(ms);
    }
    Folded { newest: is_newest, error: status == EventStatus::Failed }
}

/// The last error a failed event leaves on its target: its message, else "STEP failed".
#[must_use]
pub fn error_text(step: &str, message: Option<&str>) -> String {
    message.map_or_else(|| format!("{step} failed"), str::to_owned)
}

/// Whether a retry of its phase starts this target over (its marks and last error cleared).
#[must_use]
pub fn retry_restarts(status: TargetStatus) -> bool {
    matches!(status, TargetStatus::Failed | TargetStatus::Lost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventStatus::{Failed, Info, Skipped, Started, Succeeded};

    /// Applies `(step, status, at)` events in the given arrival order.
    fn run(events: &[(usize, EventStatus, i64)]) -> TargetStatus {
        let mut p = TargetProgress::default();
        for (seq, &(step, status, at)) in events.iter().enumerate() {
            p.apply(step, status, (at, i64::try_from(seq).expect("small")));
        }
        p.status(3)
    }

    #[test]
    fn a_target_moves_from_pending_through_running_to_succeeded() {
        assert_eq!(run(&[]), TargetStatus::Pending);
        assert_eq!(run(&[(0, Info, 1)]), TargetStatus::Pending);
        assert_eq!(run(&[(0, Started, 1)]), TargetStatus::Running);
        assert_eq!(run(&[(0, Succeeded, 1), (1, Succeeded, 2)]), TargetStatus::Running);
        assert_eq!(run(&[(0, Succeeded, 1), (1, Succeeded, 2), (2, Succeeded, 3)]), TargetStatus::Succeeded);
        assert_eq!(run(&[(0, Succeeded, 1), (1, Skipped, 2), (2, Skipped, 3)]), TargetStatus::Succeeded);
    }

    #[test]
    fn a_failed_step_fails_the_target_until_a_later_retry_succeeds() {
        assert_eq!(run(&[(1, Failed, 5)]), TargetStatus::Failed);
        // A retry that only started does not clear the failure.
        assert_eq!(run(&[(1, Failed, 5), (1, Started, 6)]), TargetStatus::Failed);
        assert_eq!(run(&[(1, Failed, 5), (1, Succeeded, 7)]), TargetStatus::Running);
        assert_eq!(run(&[(1, Failed, 5), (1, Succeeded, 7), (2, Succeeded, 8)]), TargetStatus::Succeeded);
    }

    #[test]
    fn out_of_order_arrival_is_ordered_by_time() {
        // The success of the retry arrives before the failure it replaced.
        assert_eq!(run(&[(1, Succeeded, 7), (1, Failed, 5)]), TargetStatus::Running);
        // The failure happened after the success: it stands.
        assert_eq!(run(&[(1, Failed, 9), (1, Succeeded, 7)]), TargetStatus::Failed);
        // Same instant: arrival order decides, the later arrival wins.
        assert_eq!(run(&[(1, Failed, 5), (1, Succeeded, 5)]), TargetStatus::Running);
        assert_eq!(run(&[(2, Succeeded, 9), (0, Started, 1)]), TargetStatus::Succeeded);
    }

    #[test]
    fn progress_round_trips_through_its_stored_form() {
        let mut p = TargetProgress::default();
        p.apply(0, Started, (1, 1));
        p.apply(2, Failed, (3, 2));
        let text = serde_json::to_string(&p).expect("serializable");
        let back: TargetProgress = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, p);
        assert_eq!(back.status(3), TargetStatus::Failed);
    }

    #[test]
    fn failure_and_step_durations_come_from_the_marks() {
        let mut p = TargetProgress::default();
        p.apply(0, Started, (100, 1));
        p.apply(0, Succeeded, (160, 2));
        p.apply(1, Started, (170, 3));
        p.apply(1, Failed, (200, 4));
        assert_eq!(p.failure(), Some((1, 200)));
        assert_eq!(p.step_durations().collect::<Vec<_>>(), [(0, 60)]);
        p.apply(1, Succeeded, (260, 5));
        assert_eq!(p.failure(), None, "a retry that succeeded clears the failure");
        assert_eq!(p.step_durations().collect::<Vec<_>>(), [(0, 60), (1, 90)]);
    }
}
