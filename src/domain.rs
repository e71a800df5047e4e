//! Pure types and rules of deployment management: no IO, no SQL, no terminal.
//!
//! The store persists these types, the receiver validates into them, the dashboard renders them.
//! Most unit tests of shipdeck live here, next to the rules they pin down.

pub mod analysis;
pub mod audit;
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
pub mod seal;
pub mod signing;
pub mod status;
pub mod team;
pub mod text;
pub mod time;
pub mod token;

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

/// A string that is not a deployment key: one sentence naming it, with the key it looks like
/// when there is one (`dep-7`, `7`, `DEP-07` look like `DEP-7`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a deployment key (expected DEP-<number>, e.g. {example})", example = key_like(.0))]
pub struct BadKey(pub String);

/// The key `s` looks like, for the message (`DEP-12` when nothing does).
fn key_like(s: &str) -> String {
    let digits = s.get(..4).filter(|p| p.eq_ignore_ascii_case("DEP-")).map_or(s, |_| &s[4..]);
    match digits.parse::<i64>() {
        Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => format!("DEP-{n}"),
        _ => "DEP-12".to_owned(),
    }
}

/// The one spelling of a key, the agent API's contract: `DEP-` and a number without sign or
/// leading zero. Everything that takes a key (events, the CLI, the API's paths) parses it here,
/// so `dep-1` or `1` are refused everywhere instead of being stored under `DEP-1` in one place
/// and refused in another.
impl FromStr for DeploymentKey {
    type Err = BadKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadKey(s.to_owned());
        let digits = s.strip_prefix("DEP-").ok_or_else(bad)?;
        if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        digits.parse::<i64>().map(Self).map_err(|_| bad())
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
    fn keys_parse_only_as_dep_and_a_number() {
        assert_eq!("DEP-12".parse(), Ok(DeploymentKey(12)));
        assert_eq!(DeploymentKey(3).to_string(), "DEP-3");
        for bad in [
            "DEP-",
            "DEP-0",
            "DEP--1",
            "DEP-x",
            "",
            "DEP-+4",
            "dep-7",
            "7",
            "DEP-07",
            "DEP- 7",
            "DEP-7 ",
            "DEP-99999999999999999999",
        ] {
            assert!(bad.parse::<DeploymentKey>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn a_lenient_key_is_refused_naming_it_and_the_key_it_looks_like() {
        let err = |s: &str| s.parse::<DeploymentKey>().expect_err(s).to_string();
        assert_eq!(err("dep-1"), "\"dep-1\" is not a deployment key (expected DEP-<number>, e.g. DEP-1)");
        assert_eq!(err("1"), "\"1\" is not a deployment key (expected DEP-<number>, e.g. DEP-1)");
        assert_eq!(err("DEP-007"), "\"DEP-007\" is not a deployment key (expected DEP-<number>, e.g. DEP-7)");
        assert_eq!(err("web-1"), "\"web-1\" is not a deployment key (expected DEP-<number>, e.g. DEP-12)");
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
