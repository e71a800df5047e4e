//! Pure types and rules of deployment management: no IO, no SQL, no terminal.
//!
//! The store persists these types, the receiver validates into them, the dashboard renders them.
//! Most unit tests of shipdeck live here, next to the rules they pin down.

pub mod analysis;
pub mod calendar;
pub mod checklist;
pub mod compare;
pub mod conformance;
pub mod duration;
pub mod errors;
pub mod event;
pub mod gate;
pub mod history;
pub mod inventory;
pub mod kpi;
pub mod lifecycle;
pub mod model;
pub mod model_review;
pub mod notify;
pub mod parallel;
pub mod phase;
pub mod plan;
pub mod records;
pub mod rehearsal;
pub mod release;
pub mod replay;
pub mod report;
pub mod review;
pub mod schedule;
pub mod status;
pub mod team;
pub mod text;
pub mod time;

pub use event::{AgentEvent, EventStatus};
pub use lifecycle::{TargetProgress, TargetStatus};
pub use model::{Budget, DeploymentModel, GatePolicy, PhaseSpec, RecoveryPolicy, Share, Technique};
pub use phase::{PhaseCounts, PhaseStatus};
pub use status::DeploymentStatus;

use std::fmt;
use std::str::FromStr;

/// A deployment's public key, `DEP-<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeploymentKey(pub i64);

impl fmt::Display for DeploymentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DEP-{}", self.0)
    }
}

/// A value that does not parse, in one sentence that names it (as users and agents see it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A string that is not a deployment key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a deployment key (expected DEP-<number>, e.g. DEP-12)")]
pub struct BadKey(pub String);

impl FromStr for DeploymentKey {
    type Err = BadKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.get(..4).filter(|p| p.eq_ignore_ascii_case("DEP-")).map(|_| &s[4..]).unwrap_or(s);
        match digits.parse::<i64>() {
            Ok(n) if n > 0 && !digits.starts_with('+') => Ok(Self(n)),
            _ => Err(BadKey(s.to_owned())),
        }
    }
}

/// What is being deployed: `name@version`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseRef {
    pub name: String,
    pub version: String,
}

/// A string that is not `name@version`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("release \"{0}\" is not NAME@VERSION (e.g. payments-api@2.4.1)")]
pub struct BadRelease(pub String);

impl FromStr for ReleaseRef {
    type Err = BadRelease;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('@') {
            Some((name, version))
                if !name.trim().is_empty() && !version.trim().is_empty() && !version.contains('@') =>
            {
                Ok(Self { name: name.trim().to_owned(), version: version.trim().to_owned() })
            }
            _ => Err(BadRelease(s.to_owned())),
        }
    }
}

impl fmt::Display for ReleaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_with_or_without_prefix() {
        assert_eq!("DEP-12".parse(), Ok(DeploymentKey(12)));
        assert_eq!("dep-7".parse(), Ok(DeploymentKey(7)));
        assert_eq!("7".parse(), Ok(DeploymentKey(7)));
        assert_eq!(DeploymentKey(3).to_string(), "DEP-3");
        for bad in ["DEP-", "DEP-0", "DEP--1", "DEP-x", "", "DEP-+4"] {
            assert!(bad.parse::<DeploymentKey>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn releases_need_a_name_and_a_version() {
        let r: ReleaseRef = "payments-api@2.4.1".parse().expect("valid");
        assert_eq!((r.name.as_str(), r.version.as_str()), ("payments-api", "2.4.1"));
        for bad in ["payments-api", "@1", "x@", "a@b@c"] {
            let err = bad.parse::<ReleaseRef>().expect_err(bad);
            assert!(err.to_string().contains(bad));
        }
    }
}
