//! Conformance flags: what agents did that nobody authorised.
//!
//! The log stores everything agents report (it is the record of what happened), but a
//! deployment that works ahead of a gate, after a halt, outside its windows, inside a freeze,
//! before its planned start or on hosts that are not in its plan is flagged. A flag is kept per
//! deployment, kind and phase, with the first and last time it happened, how often, and a few
//! of the targets involved; it is maintained in the transaction that stores the events.

use super::DeploymentKey;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// What was not authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// Events for a phase whose gate (or an earlier gate) was not approved.
    AheadOfGate,
    /// Events after the deployment was aborted or rolled back.
    AfterHalt,
    /// Activity while none of the deployment's change windows was open.
    OutsideWindow,
    /// Activity while a freeze of the environment was in force.
    InFreeze,
    /// Events dated before the planned start.
    BeforePlannedStart,
    /// Events for a target that is not in the plan.
    UnplannedTarget,
}

impl FlagKind {
    pub const ALL: [Self; 6] = [
        Self::AheadOfGate,
        Self::AfterHalt,
        Self::OutsideWindow,
        Self::InFreeze,
        Self::BeforePlannedStart,
        Self::UnplannedTarget,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AheadOfGate => "ahead_of_gate",
            Self::AfterHalt => "after_halt",
            Self::OutsideWindow => "outside_window",
            Self::InFreeze => "in_freeze",
            Self::BeforePlannedStart => "before_planned_start",
            Self::UnplannedTarget => "unplanned_target",
        }
    }

    /// What the flag means, for people.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::AheadOfGate => "ran without approval (events before the gate was approved)",
            Self::AfterHalt => "events after the deployment was halted",
            Self::OutsideWindow => "activity outside the change windows",
            Self::InFreeze => "activity during a freeze",
            Self::BeforePlannedStart => "events before the planned start",
            Self::UnplannedTarget => "events for targets not in the plan",
        }
    }
}

impl fmt::Display for FlagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for FlagKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown conformance flag \"{s}\""))
    }
}

/// How many sample targets a flag keeps.
pub const SAMPLES: usize = 5;

/// One conformance flag of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    #[serde(serialize_with = "key_text")]
    pub deployment: DeploymentKey,
    pub kind: FlagKind,
    /// The phase the events were for (`None`: phase-less events).
    pub phase: Option<String>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub count: u64,
    /// Up to [`SAMPLES`] targets involved, first seen first.
    pub sample_targets: Vec<String>,
}

fn key_text<S: serde::Serializer>(k: &DeploymentKey, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(k)
}

impl Flag {
    /// One line for people: kind, phase, count and span.
    #[must_use]
    pub fn headline(&self) -> String {
        let phase = self.phase.as_deref().map_or(String::new(), |p| format!(" in {p}"));
        format!("{}{phase}: {} event(s)", self.kind.describe(), self.count)
    }
}

/// A flag's running totals while a batch of events is folded (merged into the stored flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub first_ms: i64,
    pub last_ms: i64,
    pub count: u64,
    pub samples: Vec<String>,
}

impl Tally {
    /// An empty tally (no event yet).
    #[must_use]
    pub fn empty() -> Self {
        Self { first_ms: i64::MAX, last_ms: i64::MIN, count: 0, samples: Vec::new() }
    }

    /// Counts one event at `at_ms` for `target`.
    pub fn add(&mut self, at_ms: i64, target: Option<&str>) {
        self.first_ms = self.first_ms.min(at_ms);
        self.last_ms = self.last_ms.max(at_ms);
        self.count += 1;
        if let Some(t) = target {
            add_sample(&mut self.samples, t);
        }
    }

    /// Merges what was stored before into this batch's tally.
    pub fn merge(&mut self, stored: &Self) {
        self.first_ms = self.first_ms.min(stored.first_ms);
        self.last_ms = self.last_ms.max(stored.last_ms);
        self.count += stored.count;
        let mine = std::mem::take(&mut self.samples);
        self.samples.clone_from(&stored.samples);
        for t in &mine {
            add_sample(&mut self.samples, t);
        }
    }
}

fn add_sample(samples: &mut Vec<String>, target: &str) {
    if samples.len() < SAMPLES && !samples.iter().any(|s| s == target) {
        samples.push(target.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_keeps_the_span_the_count_and_a_few_distinct_samples() {
        let mut t = Tally::empty();
        for (i, host) in ["a", "b", "a", "c", "d", "e", "f"].iter().enumerate() {
            t.add(100 - i64::try_from(i).unwrap_or(0), Some(host));
        }
        assert_eq!((t.first_ms, t.last_ms, t.count), (94, 100, 7));
        assert_eq!(t.samples, ["a", "b", "c", "d", "e"]);
        let stored = Tally { first_ms: 10, last_ms: 20, count: 3, samples: vec!["z".into()] };
        t.merge(&stored);
        assert_eq!((t.first_ms, t.last_ms, t.count), (10, 100, 10));
        assert_eq!(t.samples, ["z", "a", "b", "c", "d"]);
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for k in FlagKind::ALL {
            assert_eq!(k.as_str().parse(), Ok(k));
        }
        assert!("ahead".parse::<FlagKind>().expect_err("unknown").contains("\"ahead\""));
    }
}
