//! Phase status: derived from the counts of its targets and its failure budget.

use super::TargetStatus;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a phase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl PhaseStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Running, Self::Succeeded, Self::Failed];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for PhaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for PhaseStatus {
    type Err = super::Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| super::Invalid(format!("unknown phase status \"{s}\"")))
    }
}

/// How many of a phase's targets are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseCounts {
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub running: usize,
}

impl PhaseCounts {
    #[must_use]
    pub fn pending(&self) -> usize {
        self.total.saturating_sub(self.succeeded + self.failed + self.running)
    }

    /// Moves one target from `from` to `to`.
    pub fn shift(&mut self, from: TargetStatus, to: TargetStatus) {
        if from == to {
            return;
        }
        if let Some(slot) = self.slot(from) {
            *slot = slot.saturating_sub(1);
        }
        if let Some(slot) = self.slot(to) {
            *slot += 1;
        }
    }

    fn slot(&mut self, status: TargetStatus) -> Option<&mut usize> {
        match status {
            TargetStatus::Pending => None,
            TargetStatus::Running => Some(&mut self.running),
            TargetStatus::Succeeded => Some(&mut self.succeeded),
            TargetStatus::Failed | TargetStatus::Lost => Some(&mut self.failed),
        }
    }

    /// Whether the failed targets reached `share` (0.8: 80%) of a failure budget of `budget`
    /// without exceeding it: the phase still runs, and one or two more failures fail it. A
    /// budget of 0 has nothing to nearly use (the first failure fails the phase).
    #[must_use]
    pub fn budget_nearly_used(&self, budget: usize, share: f64) -> bool {
        #[allow(clippy::cast_precision_loss)]
        let reached = self.failed as f64 >= share * budget as f64;
        budget > 0 && self.failed > 0 && self.failed <= budget && reached
    }

    /// The phase's status given how many failures it tolerates.
    #[must_use]
    pub fn status(&self, budget: usize) -> PhaseStatus {
        if self.failed > budget {
            PhaseStatus::Failed
        } else if self.total > 0 && self.succeeded + self.failed == self.total {
            PhaseStatus::Succeeded
        } else if self.running + self.succeeded + self.failed > 0 {
            PhaseStatus::Running
        } else {
            PhaseStatus::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: usize, succeeded: usize, failed: usize, running: usize) -> PhaseCounts {
        PhaseCounts { total, succeeded, failed, running }
    }

    #[test]
    fn the_budget_is_nearly_used_from_its_share_until_it_is_exceeded() {
        assert!(!counts(100, 0, 7, 10).budget_nearly_used(10, 0.8), "7 of 10 is under 80%");
        assert!(counts(100, 0, 8, 10).budget_nearly_used(10, 0.8), "8 of 10 is 80%");
        assert!(counts(100, 0, 10, 10).budget_nearly_used(10, 0.8), "all of it, not yet exceeded");
        assert!(!counts(100, 0, 11, 10).budget_nearly_used(10, 0.8), "exceeded: the phase failed instead");
        assert!(counts(10, 0, 1, 1).budget_nearly_used(1, 0.8), "a budget of one: its one failure");
        assert!(!counts(10, 0, 0, 1).budget_nearly_used(0, 0.8), "no budget, no warning");
        assert!(counts(100, 0, 5, 10).budget_nearly_used(10, 0.5));
    }

    #[test]
    fn a_phase_succeeds_when_all_targets_finished_within_budget() {
        assert_eq!(counts(10, 0, 0, 0).status(1), PhaseStatus::Pending);
        assert_eq!(counts(10, 3, 0, 2).status(1), PhaseStatus::Running);
        assert_eq!(counts(10, 9, 1, 0).status(1), PhaseStatus::Succeeded);
        assert_eq!(counts(10, 10, 0, 0).status(0), PhaseStatus::Succeeded);
    }

    #[test]
    fn a_phase_fails_as_soon_as_failures_exceed_the_budget() {
        assert_eq!(counts(10, 1, 2, 3).status(1), PhaseStatus::Failed);
        assert_eq!(counts(10, 1, 1, 3).status(1), PhaseStatus::Running);
        assert_eq!(counts(2, 0, 1, 0).status(0), PhaseStatus::Failed);
    }

    #[test]
    fn shifting_keeps_counts_consistent() {
        let mut c = counts(3, 0, 0, 0);
        c.shift(TargetStatus::Pending, TargetStatus::Running);
        c.shift(TargetStatus::Running, TargetStatus::Failed);
        c.shift(TargetStatus::Failed, TargetStatus::Running);
        c.shift(TargetStatus::Running, TargetStatus::Succeeded);
        assert_eq!(c, counts(3, 1, 0, 0));
        assert_eq!(c.pending(), 2);
    }
}
