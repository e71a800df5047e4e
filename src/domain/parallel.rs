//! Blue/green (`parallel`) deployments: the switch-over record and the rule for switching back.
//!
//! A parallel deployment installs the new release on a set of targets beside the old set, which
//! keeps serving. The gate of its `switch` phase is the switch-over: once approved, traffic goes
//! to the new set, and the old set is kept ready for `keep_old`. Until then a person may switch
//! back (a rollback of the `switch` phase); after it the old set is released. This record is
//! what agents and pipelines read (`switch` in the deployment and gate documents) to act on it.

use super::gate::{Allowed, Decider, GateState, RecoveryFacts, Refusal, allowed_role};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// Which set takes the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Old,
    New,
}

impl Side {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Old => "old",
            Self::New => "new",
        }
    }
}

/// Where a switch-over stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchState {
    /// The old set takes the traffic; the switch gate is not approved yet.
    Before,
    /// Traffic is on the new set; the old set is kept until `old_kept_until`.
    Switched,
    /// Traffic went back to the old set.
    SwitchedBack,
    /// Traffic is on the new set and the old set was released: switching back is over.
    Released,
}

impl SwitchState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Before => "before",
            Self::Switched => "switched",
            Self::SwitchedBack => "switched_back",
            Self::Released => "released",
        }
    }
}

/// The switch-over of one parallel deployment, as stored in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Switchover {
    /// The phase whose gate is the switch-over (`switch`).
    pub phase: String,
    /// The selector of the new set (`slot=green`) and the phase that deploys it (`green`).
    pub new_set: String,
    pub new_phase: String,
    pub new_targets: usize,
    /// The old set's targets: they keep the old release (and the traffic until the switch).
    pub old_targets: Vec<String>,
    /// How long the old set is kept after the switch-over (`2h`).
    #[serde(serialize_with = "duration_text")]
    pub keep_old: TimeDelta,
    /// When traffic moved to the new set (the switch gate was approved).
    pub switched_at: Option<DateTime<Utc>>,
    /// When traffic moved back to the old set.
    pub switched_back_at: Option<DateTime<Utc>>,
}

fn duration_text<S: serde::Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::duration::format(*d))
}

impl Switchover {
    /// Until when the old set is kept (switched over and not back), then released.
    #[must_use]
    pub fn old_kept_until(&self) -> Option<DateTime<Utc>> {
        match (self.switched_at, self.switched_back_at) {
            (Some(at), None) => Some(at + self.keep_old),
            _ => None,
        }
    }

    /// Where it stands at `now`.
    #[must_use]
    pub fn state(&self, now: DateTime<Utc>) -> SwitchState {
        if self.switched_back_at.is_some() {
            SwitchState::SwitchedBack
        } else if self.old_kept_until().is_some_and(|until| now >= until) {
            SwitchState::Released
        } else if self.switched_at.is_some() {
            SwitchState::Switched
        } else {
            SwitchState::Before
        }
    }

    /// The set that takes the traffic.
    #[must_use]
    pub fn live(&self) -> Side {
        if self.switched_at.is_some() && self.switched_back_at.is_none() { Side::New } else { Side::Old }
    }

    /// The `switch` record agents and pipelines read at `now`: the stored facts with `live`,
    /// `state`, `old_kept_until` and `old_released`.
    #[must_use]
    pub fn document(&self, now: DateTime<Utc>) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        let state = self.state(now);
        v["live"] = self.live().as_str().into();
        v["state"] = state.as_str().into();
        v["old_kept_until"] = serde_json::to_value(self.old_kept_until()).unwrap_or_default();
        v["old_released"] = (state == SwitchState::Released).into();
        v
    }
}

/// Checks a switch back (a rollback of the `switch` phase): only after the switch-over, only
/// while the old set is kept, once; by the model's recovery roles or the requester, like any
/// rollback, and, like any rollback, not held back by a window or a freeze (it restores the
/// release that ran before).
pub fn check_switch_back(
    switch: &Switchover,
    facts: &RecoveryFacts<'_>,
    decider: Decider<'_>,
    now: DateTime<Utc>,
) -> Result<Allowed, Refusal> {
    if let Some(at) = switch.switched_back_at {
        return Err(Refusal::AlreadySwitchedBack { at });
    }
    if facts.deployment_status.is_halted() {
        return Err(Refusal::Halted { status: facts.deployment_status });
    }
    if switch.switched_at.is_none() {
        return Err(Refusal::NotSwitched);
    }
    if let Some(until) = switch.old_kept_until().filter(|until| now >= *until) {
        return Err(Refusal::OldSetReleased { at: until, keep_old: super::duration::format(switch.keep_old) });
    }
    let role = match allowed_role(decider, facts.roles) {
        Some(role) => role,
        None if decider.name == facts.requester => None,
        None => return Err(Refusal::Role { person: decider.name.into(), roles: facts.roles.to_vec() }),
    };
    Ok(Allowed {
        role,
        freeze_override: None,
        window: None,
        before: GateState::Approved,
        after: GateState::Approved,
        approvals: 0,
        required: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DeploymentStatus, PhaseStatus};

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::minutes(min)
    }

    fn switch(at: Option<i64>, back: Option<i64>) -> Switchover {
        Switchover {
            phase: "switch".into(),
            new_set: "slot=green".into(),
            new_phase: "green".into(),
            new_targets: 4,
            old_targets: vec!["b1".into(), "b2".into()],
            keep_old: TimeDelta::hours(2),
            switched_at: at.map(t),
            switched_back_at: back.map(t),
        }
    }

    fn back(s: &Switchover, who: &str, roles: &[&str], status: DeploymentStatus, now: i64) -> Result<Allowed, Refusal> {
        let roles_held: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        let allowed = vec!["deployment_manager".to_owned()];
        let facts = RecoveryFacts {
            phase_status: PhaseStatus::Succeeded,
            deployment_status: status,
            environment: "production",
            requester: "sam",
            roles: &allowed,
            freeze_override_roles: &[],
            freezes: &[],
        };
        check_switch_back(s, &facts, Decider { name: who, roles: &roles_held }, t(now))
    }

    #[test]
    fn the_old_set_is_kept_for_keep_old_after_the_switch_then_released() {
        let before = switch(None, None);
        assert_eq!(
            (before.state(t(0)), before.live(), before.old_kept_until()),
            (SwitchState::Before, Side::Old, None)
        );
        let on = switch(Some(10), None);
        assert_eq!(on.old_kept_until(), Some(t(130)));
        assert_eq!((on.state(t(129)), on.live()), (SwitchState::Switched, Side::New));
        assert_eq!(on.state(t(130)), SwitchState::Released);
        let doc = on.document(t(130));
        assert_eq!(
            (doc["live"].as_str(), doc["state"].as_str(), doc["old_released"].as_bool()),
            (Some("new"), Some("released"), Some(true))
        );
        let gone = switch(Some(10), Some(20));
        assert_eq!(
            (gone.state(t(500)), gone.live(), gone.old_kept_until()),
            (SwitchState::SwitchedBack, Side::Old, None)
        );
    }

    #[test]
    fn switching_back_needs_a_switch_a_kept_old_set_and_a_recovery_role() {
        let dm = ["deployment_manager"];
        let ok = back(&switch(Some(10), None), "omar", &dm, DeploymentStatus::Succeeded, 60).expect("allowed");
        assert_eq!(ok.role.as_deref(), Some("deployment_manager"));
        assert!(
            back(&switch(Some(10), None), "sam", &[], DeploymentStatus::Succeeded, 60).is_ok(),
            "the requester may"
        );
        assert_eq!(
            back(&switch(None, None), "omar", &dm, DeploymentStatus::AwaitingApproval, 60),
            Err(Refusal::NotSwitched)
        );
        assert_eq!(
            back(&switch(Some(10), None), "omar", &dm, DeploymentStatus::Succeeded, 130),
            Err(Refusal::OldSetReleased { at: t(130), keep_old: "2h".into() })
        );
        assert_eq!(
            back(&switch(Some(10), Some(20)), "omar", &dm, DeploymentStatus::RolledBack, 30),
            Err(Refusal::AlreadySwitchedBack { at: t(20) })
        );
        assert!(matches!(
            back(&switch(Some(10), None), "lee", &["sre"], DeploymentStatus::Succeeded, 60),
            Err(Refusal::Role { .. })
        ));
        assert_eq!(
            back(&switch(Some(10), None), "omar", &dm, DeploymentStatus::Aborted, 60),
            Err(Refusal::Halted { status: DeploymentStatus::Aborted })
        );
    }

    #[test]
    fn a_freeze_does_not_hold_a_switch_back() {
        let freeze = crate::domain::schedule::Freeze {
            name: "year-end".into(),
            environments: vec!["production".into()],
            from: t(0),
            until: t(1000),
            reason: "peak".into(),
            repeat: None,
        };
        let roles = vec!["deployment_manager".to_owned()];
        let facts = RecoveryFacts {
            phase_status: PhaseStatus::Succeeded,
            deployment_status: DeploymentStatus::Succeeded,
            environment: "production",
            requester: "sam",
            roles: &roles,
            freeze_override_roles: &[],
            freezes: std::slice::from_ref(&freeze),
        };
        let decider = Decider { name: "omar", roles: &roles };
        assert!(
            check_switch_back(&switch(Some(10), None), &facts, decider, t(60)).is_ok(),
            "restoring the old release"
        );
    }
}
