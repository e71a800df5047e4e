//! Deployment status: derived from its phases, unless a decision halted it.

use super::PhaseStatus;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a deployment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Planned,
    Running,
    AwaitingApproval,
    /// Every phase succeeded; the `post` checklist is not done yet.
    Verifying,
    Succeeded,
    Failed,
    Aborted,
    RolledBack,
}

impl DeploymentStatus {
    pub const ALL: [Self; 8] = [
        Self::Planned,
        Self::Running,
        Self::AwaitingApproval,
        Self::Verifying,
        Self::Succeeded,
        Self::Failed,
        Self::Aborted,
        Self::RolledBack,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Running => "running",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Verifying => "verifying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::RolledBack => "rolled_back",
        }
    }

    /// Whether the deployment is over (nothing more will happen to it).
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Aborted | Self::RolledBack)
    }

    /// Whether a decision (abort, rollback) set this status; events never undo those.
    #[must_use]
    pub fn is_halted(self) -> bool {
        matches!(self, Self::Aborted | Self::RolledBack)
    }

    /// The status that follows from the phases' statuses, in order.
    #[must_use]
    pub fn from_phases(phases: &[PhaseStatus]) -> Self {
        if phases.contains(&PhaseStatus::Failed) {
            Self::Failed
        } else if !phases.is_empty() && phases.iter().all(|p| *p == PhaseStatus::Succeeded) {
            Self::Succeeded
        } else if phases.iter().any(|p| *p != PhaseStatus::Pending) {
            Self::Running
        } else {
            Self::Planned
        }
    }
}

impl fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for DeploymentStatus {
    type Err = super::Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
            super::Invalid(format!("unknown deployment status \"{s}\" (one of {})", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PhaseStatus::{Failed, Pending, Running, Succeeded};

    #[test]
    fn status_follows_the_phases() {
        assert_eq!(DeploymentStatus::from_phases(&[Pending, Pending]), DeploymentStatus::Planned);
        assert_eq!(DeploymentStatus::from_phases(&[Running, Pending]), DeploymentStatus::Running);
        // Between phases (first done, next not started) the rollout is still under way.
        assert_eq!(DeploymentStatus::from_phases(&[Succeeded, Pending]), DeploymentStatus::Running);
        assert_eq!(DeploymentStatus::from_phases(&[Succeeded, Succeeded]), DeploymentStatus::Succeeded);
        assert_eq!(DeploymentStatus::from_phases(&[Succeeded, Failed]), DeploymentStatus::Failed);
        for s in DeploymentStatus::ALL {
            assert_eq!(s.as_str().parse(), Ok(s));
        }
    }
}
