//! The earliest instant at which every time rule holds, and the refusals that name it.

use super::*;
use crate::domain::gate::{Decider, Decision, GateFacts, Refusal, check_gate};
use crate::domain::schedule::WindowTimes;
use crate::domain::{DeploymentStatus, GatePolicy};
use chrono::{NaiveTime, Weekday};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
}

fn evenings() -> ChangeWindow {
    // Monday to Thursday 18:00-23:00 Berlin (UTC+1 in November).
    ChangeWindow {
        name: "weekday-evenings".into(),
        environments: vec!["production".into()],
        times: WindowTimes::Weekly {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
            start: NaiveTime::from_hms_opt(18, 0, 0).expect("time"),
            end: NaiveTime::from_hms_opt(23, 0, 0).expect("time"),
            zone: chrono_tz::Europe::Berlin,
        },
    }
}

fn freeze(from: &str, until: &str) -> Freeze {
    Freeze {
        name: "release-freeze".into(),
        environments: vec!["production".into()],
        from: utc(from),
        until: utc(until),
        reason: "peak".into(),
        repeat: None,
    }
}

fn policy(bake_minutes: i64) -> GatePolicy {
    GatePolicy {
        approvals: 1,
        roles: vec![],
        allow_self: true,
        bake: TimeDelta::minutes(bake_minutes),
        windows: vec!["weekday-evenings".into()],
        freeze_override_roles: vec![],
        require: vec![],
        auto: None,
        feedback: false,
        analysis: Vec::new(),
    }
}

fn facts<'a>(
    policy: &'a GatePolicy,
    windows: &'a [ChangeWindow],
    freezes: &'a [Freeze],
    previous: &str,
    planned: &str,
) -> TimeFacts<'a> {
    TimeFacts {
        policy,
        environment: "production",
        previous: Previous::SucceededAt(utc(previous)),
        planned_start: utc(planned),
        windows,
        freezes,
    }
}

const PLANNED: &str = "2026-11-01T00:00:00Z";

#[test]
fn a_bake_that_ends_outside_the_window_waits_for_the_window() {
    // Thursday 2026-11-26: the pilot succeeded at 22:40 Berlin, the bake ends at 22:50, inside
    // the window that closes at 23:00; Friday to Sunday have no window.
    let p = policy(10);
    let w = [evenings()];
    let f = facts(&p, &w, &[], "2026-11-26T21:40:00Z", PLANNED);
    assert_eq!(earliest(&f, utc("2026-11-26T21:41:00Z"), false), Some(utc("2026-11-26T21:50:00Z")));
    let f = facts(&p, &w, &[], "2026-11-26T21:55:00Z", PLANNED);
    // Bake ends 22:05 UTC = 23:05 Berlin, after the window closed: the next is Monday 17:00 UTC.
    assert_eq!(earliest(&f, utc("2026-11-26T21:56:00Z"), false), Some(utc("2026-11-30T17:00:00Z")));
    let rules = time_state(&f, utc("2026-11-26T21:56:00Z"));
    assert_eq!(rules.bake_until, Some(utc("2026-11-26T22:05:00Z")));
    assert!(matches!(rules.window, WindowState::Open { .. }), "open now, but not when the bake ends");
    assert!(!rules.all_hold(utc("2026-11-26T21:56:00Z")));
}

#[test]
fn a_freeze_over_the_next_window_pushes_past_it_and_the_planned_start_counts() {
    let p = policy(0);
    let w = [evenings()];
    // Frozen from Monday 2026-11-30 to Wednesday 2026-12-02 12:00 UTC: Wednesday evening.
    let fr = [freeze("2026-11-30T00:00:00Z", "2026-12-02T12:00:00Z")];
    let f = facts(&p, &w, &fr, "2026-11-27T08:00:00Z", PLANNED);
    assert_eq!(earliest(&f, utc("2026-11-27T10:00:00Z"), false), Some(utc("2026-12-02T17:00:00Z")));
    // An override lifts the freeze only: the window still counts.
    assert_eq!(earliest(&f, utc("2026-11-27T10:00:00Z"), true), Some(utc("2026-11-30T17:00:00Z")));
    // A planned start on Tuesday 21:00 UTC (22:00 Berlin) inside the freeze: Wednesday evening.
    let f = facts(&p, &w, &[], "2026-11-27T08:00:00Z", "2026-12-01T21:00:00Z");
    assert_eq!(earliest(&f, utc("2026-11-27T10:00:00Z"), false), Some(utc("2026-12-01T21:00:00Z")));
    let rules = time_state(&f, utc("2026-11-27T10:00:00Z"));
    assert_eq!(rules.planned_start, Some(utc("2026-12-01T21:00:00Z")));
}

#[test]
fn no_window_ever_means_no_time() {
    let mut p = policy(0);
    p.windows = vec!["once".into()];
    let once = ChangeWindow {
        name: "once".into(),
        environments: vec![],
        times: WindowTimes::Once { from: utc("2026-11-01T00:00:00Z"), until: utc("2026-11-02T00:00:00Z") },
    };
    let w = [once];
    let f = facts(&p, &w, &[], "2026-11-20T00:00:00Z", PLANNED);
    assert_eq!(earliest(&f, utc("2026-11-26T10:00:00Z"), false), None);
    assert_eq!(time_state(&f, utc("2026-11-26T10:00:00Z")).window, WindowState::Never);
}

/// Regression: "approval is possible from 06:28" was followed at 06:29 by a window opening the
/// next day. Every time refusal now names the instant when all time rules hold.
#[test]
fn the_refusal_names_when_every_time_rule_holds_not_when_its_own_ends() {
    let p = policy(10);
    let w = [evenings()];
    let since = utc("2026-11-26T21:55:00Z");
    let check = |now: &str| {
        let facts = GateFacts {
            policy: &p,
            deployment_status: DeploymentStatus::AwaitingApproval,
            environment: "production",
            requester: "dana",
            previous: Previous::SucceededAt(since),
            planned_start: utc(PLANNED),
            decisions: &[],
            windows: &w,
            freezes: &[],
            ran_past: false,
            unticked: &[],
        };
        check_gate(Decision::Approve, &facts, Decider { name: "omar", roles: &[] }, None, utc(now))
    };
    let baking = check("2026-11-26T22:00:00Z").expect_err("baking");
    assert!(matches!(baking, Refusal::Bake { .. }), "{baking:?}");
    assert_eq!(baking.opens_at(), Some(utc("2026-11-30T17:00:00Z")));
    assert!(baking.to_string().contains("approval is possible from 2026-11-30 17:00 UTC"), "{baking}");
    let closed = check("2026-11-26T22:06:00Z").expect_err("window closed");
    assert_eq!(closed.opens_at(), baking.opens_at(), "the same instant a minute later");
    assert!(check("2026-11-30T17:00:00Z").is_ok());
}

#[test]
fn an_approval_before_the_planned_start_is_refused_until_it() {
    let mut p = policy(0);
    p.windows.clear();
    let facts = GateFacts {
        policy: &p,
        deployment_status: DeploymentStatus::AwaitingApproval,
        environment: "production",
        requester: "dana",
        previous: Previous::None,
        planned_start: utc("2026-11-27T18:00:00Z"),
        decisions: &[],
        windows: &[],
        freezes: &[],
        ran_past: false,
        unticked: &[],
    };
    let omar = Decider { name: "omar", roles: &[] };
    let err = check_gate(Decision::Approve, &facts, omar, None, utc("2026-11-27T10:00:00Z")).expect_err("early");
    assert_eq!(err.to_string(), "the deployment is planned to start at 2026-11-27 18:00 UTC");
    assert_eq!(err.opens_at(), Some(utc("2026-11-27T18:00:00Z")));
    assert!(check_gate(Decision::Approve, &facts, omar, None, utc("2026-11-27T18:00:00Z")).is_ok());
}
