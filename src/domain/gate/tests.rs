//! Policy rules one by one and in combination, on a fixed clock.

use super::*;
use crate::domain::schedule::WindowTimes;
use chrono::{NaiveTime, TimeDelta, Weekday};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
}

fn roles(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| (*s).to_owned()).collect()
}

fn policy() -> GatePolicy {
    GatePolicy {
        approvals: 2,
        roles: roles(&["deployment_manager", "service_owner"]),
        allow_self: false,
        bake: TimeDelta::zero(),
        windows: vec![],
        freeze_override_roles: roles(&["change_manager"]),
        require: vec![],
        auto: None,
        feedback: false,
        analysis: Vec::new(),
    }
}

fn weekly(name: &str, days: &[Weekday], start: &str, end: &str) -> ChangeWindow {
    ChangeWindow {
        name: name.into(),
        environments: roles(&["production"]),
        times: WindowTimes::Weekly {
            days: days.to_vec(),
            start: NaiveTime::parse_from_str(start, "%H:%M").expect("time"),
            end: NaiveTime::parse_from_str(end, "%H:%M").expect("time"),
            zone: chrono_tz::Europe::Berlin,
        },
    }
}

fn year_end() -> Freeze {
    Freeze {
        name: "year-end".into(),
        environments: roles(&["production"]),
        from: utc("2026-12-20T23:00:00Z"),
        until: utc("2027-01-04T07:00:00Z"),
        reason: "peak".into(),
        repeat: None,
    }
}

fn approved(person: &str, at: &str) -> Recorded {
    Recorded { person: person.into(), decision: Decision::Approve, at: utc(at) }
}

struct Case {
    policy: GatePolicy,
    previous: Previous,
    decisions: Vec<Recorded>,
    windows: Vec<ChangeWindow>,
    freezes: Vec<Freeze>,
    status: DeploymentStatus,
    planned_start: DateTime<Utc>,
}

impl Case {
    fn new() -> Self {
        Self {
            policy: policy(),
            previous: Previous::SucceededAt(utc("2026-11-26T09:00:00Z")),
            decisions: vec![],
            windows: vec![],
            freezes: vec![],
            status: DeploymentStatus::AwaitingApproval,
            planned_start: utc("2026-01-01T00:00:00Z"),
        }
    }

    fn check(&self, d: Decision, who: &str, r: &[&str], reason: Option<&str>, now: &str) -> Result<Allowed, Refusal> {
        let facts = GateFacts {
            policy: &self.policy,
            deployment_status: self.status,
            environment: "production",
            requester: "dana",
            previous: self.previous,
            planned_start: self.planned_start,
            decisions: &self.decisions,
            windows: &self.windows,
            freezes: &self.freezes,
            ran_past: false,
            unticked: &[],
        };
        check_gate(d, &facts, Decider { name: who, roles: &roles(r) }, reason, utc(now))
    }

    fn approve(&self, who: &str, r: &[&str], now: &str) -> Result<Allowed, Refusal> {
        self.check(Decision::Approve, who, r, None, now)
    }
}

const NOW: &str = "2026-11-26T10:00:00Z";

#[test]
fn distinct_allowed_people_approve_until_enough() {
    let mut c = Case::new();
    let first = c.approve("omar", &["deployment_manager"], NOW).expect("allowed");
    assert_eq!(
        (first.after, first.approvals, first.role.as_deref()),
        (GateState::Pending, 1, Some("deployment_manager"))
    );
    c.decisions.push(approved("omar", NOW));
    let second = c.approve("priya", &["service_owner"], NOW).expect("allowed");
    assert_eq!((second.before, second.after, second.approvals), (GateState::Pending, GateState::Approved, 2));
    c.decisions.push(approved("priya", NOW));
    assert_eq!(state(&c.policy, c.previous, &c.decisions), GateState::Approved);
    assert_eq!(c.approve("lee", &["service_owner"], NOW), Err(Refusal::Decided { state: GateState::Approved }));
}

#[test]
fn one_person_twice_never_counts_twice() {
    let mut c = Case::new();
    c.decisions.push(approved("omar", "2026-11-26T09:30:00Z"));
    c.decisions.push(approved("omar", "2026-11-26T09:31:00Z"));
    assert_eq!(
        state(&c.policy, c.previous, &c.decisions),
        GateState::Pending,
        "two rows of one person are one approval"
    );
    let err = c.approve("omar", &["deployment_manager"], NOW).expect_err("refused");
    assert_eq!(err, Refusal::AlreadyApproved { person: "omar".into(), at: utc("2026-11-26T09:30:00Z") });
    assert!(err.to_string().contains("one person counts once"), "{err}");
}

#[test]
fn only_the_policy_roles_may_approve_and_an_empty_list_allows_anyone() {
    let mut c = Case::new();
    let err = c.approve("sam", &["release_engineer"], NOW).expect_err("refused");
    assert!(matches!(err, Refusal::Role { .. }));
    assert_eq!(
        err.to_string(),
        "sam holds none of the roles allowed to decide here (deployment_manager, service_owner)"
    );
    c.policy.roles.clear();
    assert!(c.approve("sam", &["release_engineer"], NOW).is_ok());
}

#[test]
fn the_requester_may_not_approve_unless_the_policy_allows_it() {
    let mut c = Case::new();
    let err = c.approve("dana", &["deployment_manager"], NOW).expect_err("refused");
    assert_eq!(err, Refusal::SelfApproval { person: "dana".into() });
    c.policy.allow_self = true;
    assert!(c.approve("dana", &["deployment_manager"], NOW).is_ok());
}

#[test]
fn bake_time_counts_from_the_previous_phase_success() {
    let mut c = Case::new();
    c.policy.bake = TimeDelta::minutes(30);
    let err = c.approve("omar", &["deployment_manager"], "2026-11-26T09:29:59Z").expect_err("baking");
    assert_eq!(
        err,
        Refusal::Bake {
            since: utc("2026-11-26T09:00:00Z"),
            until: utc("2026-11-26T09:30:00Z"),
            possible_from: Some(utc("2026-11-26T09:30:00Z"))
        }
    );
    assert_eq!(err.opens_at(), Some(utc("2026-11-26T09:30:00Z")));
    assert!(err.to_string().contains("approval is possible from 2026-11-26 09:30 UTC"), "{err}");
    assert!(c.approve("omar", &["deployment_manager"], "2026-11-26T09:30:00Z").is_ok());
    // A gate on the first phase has nothing to bake after.
    c.previous = Previous::None;
    assert!(c.approve("omar", &["deployment_manager"], "2026-11-26T09:00:00Z").is_ok());
}

#[test]
fn a_gate_waits_for_the_phase_before_it() {
    let mut c = Case::new();
    c.previous = Previous::NotYet;
    assert_eq!(state(&c.policy, c.previous, &c.decisions), GateState::Waiting);
    assert_eq!(c.approve("omar", &["deployment_manager"], NOW), Err(Refusal::Waiting));
    // Stopping a deployment ahead of its gate is allowed.
    assert!(c.check(Decision::Reject, "omar", &["deployment_manager"], Some("bad build"), NOW).is_ok());
}

#[test]
fn windows_across_midnight_open_on_their_start_day_in_the_zone() {
    let mut c = Case::new();
    c.policy.windows = roles(&["weekend-nights"]);
    c.windows = vec![weekly("weekend-nights", &[Weekday::Sat], "22:00", "04:00")];
    // Saturday 2026-11-28 22:00 Berlin is 21:00 UTC; the window runs to Sunday 04:00 (03:00 UTC).
    let err = c.approve("omar", &["deployment_manager"], "2026-11-28T20:59:00Z").expect_err("closed");
    assert_eq!(err.opens_at(), Some(utc("2026-11-28T21:00:00Z")));
    assert!(err.to_string().contains("\"weekend-nights\" opens at 2026-11-28 21:00 UTC"), "{err}");
    let ok = c.approve("omar", &["deployment_manager"], "2026-11-29T02:30:00Z").expect("Sunday 03:30 Berlin");
    assert_eq!(ok.window.as_deref(), Some("weekend-nights"));
    let err = c.approve("omar", &["deployment_manager"], "2026-11-29T03:00:00Z").expect_err("closed at 04:00");
    assert_eq!(err.opens_at(), Some(utc("2026-12-05T21:00:00Z")));
}

#[test]
fn windows_follow_the_wall_clock_across_dst_changes() {
    let mut c = Case::new();
    c.policy.windows = roles(&["sunday-early"]);
    c.windows = vec![weekly("sunday-early", &[Weekday::Sun], "01:00", "05:00")];
    // 2027-03-28 Berlin springs forward at 02:00: 01:00 CET = 00:00 UTC, 05:00 CEST = 03:00 UTC.
    assert!(c.approve("omar", &["deployment_manager"], "2027-03-27T23:59:00Z").is_err());
    assert!(c.approve("omar", &["deployment_manager"], "2027-03-28T00:00:00Z").is_ok());
    assert!(c.approve("omar", &["deployment_manager"], "2027-03-28T02:59:00Z").is_ok());
    assert!(c.approve("omar", &["deployment_manager"], "2027-03-28T03:00:00Z").is_err());
    // 2026-10-25 falls back at 03:00: 01:00 CEST = 23:00 UTC the day before, 05:00 CET = 04:00 UTC.
    let err = c.approve("omar", &["deployment_manager"], "2026-10-24T22:00:00Z").expect_err("closed");
    assert_eq!(err.opens_at(), Some(utc("2026-10-24T23:00:00Z")));
    assert!(c.approve("omar", &["deployment_manager"], "2026-10-25T03:59:00Z").is_ok());
    assert!(c.approve("omar", &["deployment_manager"], "2026-10-25T04:00:00Z").is_err());
}

#[test]
fn a_window_for_other_environments_does_not_bind_this_one() {
    let mut c = Case::new();
    c.policy.windows = roles(&["staging-days"]);
    let mut w = weekly("staging-days", &[Weekday::Mon], "09:00", "10:00");
    w.environments = roles(&["staging"]);
    c.windows = vec![w];
    assert!(c.approve("omar", &["deployment_manager"], NOW).is_ok());
}

#[test]
fn a_freeze_blocks_unless_an_override_role_gives_a_reason() {
    let mut c = Case::new();
    c.policy.roles.push("change_manager".into());
    c.freezes = vec![year_end()];
    let during = "2026-12-24T12:00:00Z";
    let err = c.approve("priya", &["service_owner"], during).expect_err("frozen");
    assert!(matches!(&err, Refusal::Freeze { name, .. } if name == "year-end"));
    assert_eq!(err.opens_at(), Some(utc("2027-01-04T07:00:00Z")));
    assert!(err.to_string().contains("only change_manager may override it"), "{err}");
    let err = c.approve("omar", &["deployment_manager", "change_manager"], during).expect_err("no reason");
    assert!(matches!(err, Refusal::FreezeReasonRequired { .. }), "{err:?}");
    let ok = c
        .check(Decision::Approve, "omar", &["deployment_manager", "change_manager"], Some("security fix"), during)
        .expect("overridden");
    assert_eq!(ok.freeze_override.as_deref(), Some("year-end"));
    // Before and after the freeze, and in other environments, it does not apply.
    assert!(c.approve("priya", &["service_owner"], "2026-12-20T22:59:00Z").is_ok());
    assert!(c.approve("priya", &["service_owner"], "2027-01-04T07:00:00Z").is_ok());
    c.freezes[0].environments = roles(&["staging"]);
    assert!(c.approve("priya", &["service_owner"], during).is_ok());
}

#[test]
fn the_first_blocking_rule_is_named_when_several_block() {
    let mut c = Case::new();
    c.policy.bake = TimeDelta::hours(1);
    c.policy.windows = roles(&["weekday-evenings"]);
    c.windows = vec![weekly("weekday-evenings", &[Weekday::Thu], "18:00", "23:00")];
    c.freezes = vec![year_end()];
    // Role before self-approval before time rules.
    assert!(matches!(c.approve("dana", &["release_engineer"], NOW), Err(Refusal::Role { .. })));
    assert!(matches!(c.approve("dana", &["deployment_manager"], NOW), Err(Refusal::SelfApproval { .. })));
    // Bake (until 10:00) before the window (opens 17:00 UTC on Thursday 2026-11-26).
    assert!(matches!(c.approve("omar", &["deployment_manager"], "2026-11-26T09:59:00Z"), Err(Refusal::Bake { .. })));
    let err = c.approve("omar", &["deployment_manager"], NOW).expect_err("window");
    assert_eq!(err.opens_at(), Some(utc("2026-11-26T17:00:00Z")));
    assert!(c.approve("omar", &["deployment_manager"], "2026-11-26T17:00:00Z").is_ok());
    // The freeze before everything else in time: Thursday 2026-12-24 evening is frozen.
    assert!(matches!(c.approve("omar", &["deployment_manager"], "2026-12-24T18:00:00Z"), Err(Refusal::Freeze { .. })));
    // Overridden, the window still applies: the override lifts the freeze only.
    let err = c
        .check(
            Decision::Approve,
            "omar",
            &["deployment_manager", "change_manager"],
            Some("fix"),
            "2026-12-24T12:00:00Z",
        )
        .expect_err("window");
    assert_eq!(err.opens_at(), Some(utc("2026-12-24T17:00:00Z")), "{err:?}");
}

#[test]
fn the_first_rejection_rejects_and_needs_a_reason() {
    let mut c = Case::new();
    c.decisions.push(approved("omar", NOW));
    let err = c.check(Decision::Reject, "priya", &["service_owner"], Some("  "), NOW).expect_err("no reason");
    assert_eq!(err, Refusal::ReasonRequired { decision: Decision::Reject });
    assert!(matches!(
        c.check(Decision::Reject, "sam", &["release_engineer"], Some("no"), NOW),
        Err(Refusal::Role { .. })
    ));
    let ok = c.check(Decision::Reject, "dana", &[], Some("wrong build"), NOW).expect("the requester may withdraw");
    assert_eq!(ok.after, GateState::Rejected);
    c.decisions.push(Recorded { person: "priya".into(), decision: Decision::Reject, at: utc(NOW) });
    c.decisions.push(approved("lee", NOW));
    assert_eq!(state(&c.policy, c.previous, &c.decisions), GateState::Rejected, "approvals after it do not count");
    assert_eq!(c.approve("lee", &["service_owner"], NOW), Err(Refusal::Decided { state: GateState::Rejected }));
}

#[test]
fn nothing_is_decided_on_a_halted_deployment() {
    let mut c = Case::new();
    for status in [DeploymentStatus::Aborted, DeploymentStatus::RolledBack, DeploymentStatus::Succeeded] {
        c.status = status;
        assert_eq!(c.approve("omar", &["deployment_manager"], NOW), Err(Refusal::Halted { status }));
    }
}

fn recover(
    d: Decision,
    phase: PhaseStatus,
    who: &str,
    r: &[&str],
    reason: Option<&str>,
    now: &str,
) -> Result<Allowed, Refusal> {
    let freezes = vec![year_end()];
    let gate_roles = roles(&["deployment_manager", "service_owner"]);
    let facts = RecoveryFacts {
        phase_status: phase,
        deployment_status: DeploymentStatus::Failed,
        environment: "production",
        requester: "dana",
        roles: &gate_roles,
        freeze_override_roles: &roles(&["change_manager"]),
        freezes: &freezes,
    };
    check_recovery(d, &facts, Decider { name: who, roles: &roles(r) }, reason, utc(now))
}

#[test]
fn failed_phases_offer_retry_abort_and_rollback_to_allowed_people() {
    use PhaseStatus::{Failed, Running};
    for d in [Decision::Retry, Decision::Abort, Decision::Rollback] {
        assert!(d.on_failed_phase());
        assert!(recover(d, Failed, "omar", &["deployment_manager"], None, NOW).is_ok());
        assert!(recover(d, Failed, "dana", &[], None, NOW).is_ok(), "the requester may act on it");
        assert!(matches!(recover(d, Failed, "sam", &["release_engineer"], None, NOW), Err(Refusal::Role { .. })));
        assert_eq!(
            recover(d, Running, "omar", &["deployment_manager"], None, NOW),
            Err(Refusal::NotFailed { status: Running })
        );
    }
    // Retry deploys again: a freeze holds it back; abort and rollback are always possible.
    let frozen = "2026-12-24T12:00:00Z";
    assert!(matches!(
        recover(Decision::Retry, Failed, "omar", &["deployment_manager"], None, frozen),
        Err(Refusal::Freeze { .. })
    ));
    assert!(
        recover(Decision::Retry, Failed, "omar", &["deployment_manager", "change_manager"], Some("hotfix"), frozen)
            .is_ok()
    );
    assert!(recover(Decision::Rollback, Failed, "omar", &["deployment_manager"], None, frozen).is_ok());
}

#[test]
fn a_refusal_names_its_times_in_the_zone_asked_for() {
    let since = DateTime::parse_from_rfc3339("2026-11-26T19:33:00Z").expect("valid").with_timezone(&Utc);
    let until = since + chrono::TimeDelta::minutes(10);
    let r = Refusal::Bake { since, until, possible_from: Some(until) };
    assert_eq!(
        r.to_string(),
        "bake time: the phase before succeeded at 2026-11-26 19:33 UTC, approval is possible from 2026-11-26 19:43 UTC"
    );
    assert_eq!(
        r.describe(chrono_tz::Europe::Berlin),
        "bake time: the phase before succeeded at 2026-11-26 20:33 CET, approval is possible from 2026-11-26 20:43 CET"
    );
}

#[test]
fn a_refusal_by_a_freeze_names_its_reason() {
    let mut c = Case::new();
    c.freezes = vec![year_end()];
    let during = "2026-12-24T12:00:00Z";
    let err = c.approve("priya", &["service_owner"], during).expect_err("frozen");
    assert!(err.to_string().contains("frozen by \"year-end\" until 2027-01-04 07:00 UTC (reason: peak)"), "{err}");
    let err = c.approve("omar", &["deployment_manager", "change_manager"], during).expect_err("no written reason");
    assert!(err.to_string().contains("holds until 2027-01-04 07:00 UTC (reason: peak):"), "{err}");
}

#[test]
fn an_approval_possible_within_the_minute_of_now_is_given_to_the_second() {
    // At 00:52:00 Berlin the bake ends at 00:52:30: "possible from 00:52" would say "now".
    let since = utc("2026-11-26T23:42:00Z");
    let until = since + TimeDelta::seconds(630);
    let r = Refusal::Bake { since, until, possible_from: Some(until) };
    assert_eq!(
        r.describe(chrono_tz::Europe::Berlin),
        "bake time: the phase before succeeded at 2026-11-27 00:42 CET, approval is possible from 2026-11-27 00:52:30 CET"
    );
    assert!(r.to_string().ends_with("possible from 2026-11-26 23:52:30 UTC"), "{r}");
}

#[test]
fn a_refusal_read_back_from_the_audit_is_worded_as_it_was_refused() {
    let r = Refusal::Freeze {
        name: "year-end".into(),
        environment: "production".into(),
        until: utc("2027-01-04T07:00:00Z"),
        reason: "peak".into(),
        override_roles: roles(&["change_manager"]),
        possible_from: Some(utc("2027-01-04T07:00:00Z")),
    };
    let stored = serde_json::to_value(&r).expect("serialises");
    assert_eq!(serde_json::from_value::<Refusal>(stored).expect("reads back"), r);
}
