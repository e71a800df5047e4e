use super::*;
use crate::domain::schedule::{Repeat, WindowTimes, YearDay};
use chrono::{NaiveTime, Weekday};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("valid").with_timezone(&Utc)
}

fn t(s: &str) -> NaiveTime {
    s.parse().expect("time")
}

/// Mon-Thu 18:00-23:00 Berlin, production only.
fn evenings() -> ChangeWindow {
    ChangeWindow {
        name: "evenings".into(),
        environments: vec!["production".into()],
        times: WindowTimes::Weekly {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
            start: t("18:00:00"),
            end: t("23:00:00"),
            zone: chrono_tz::Europe::Berlin,
        },
    }
}

fn freeze(name: &str, from: &str, until: &str) -> Freeze {
    Freeze {
        name: name.into(),
        environments: vec!["production".into()],
        from: utc(from),
        until: utc(until),
        reason: "r".into(),
        repeat: None,
    }
}

fn booking(n: i64, service: &str, env: &str, start: &str, end: &str) -> Booking {
    Booking {
        key: DeploymentKey(n),
        release: format!("{service}@1.{n}"),
        service: service.into(),
        environment: env.into(),
        status: DeploymentStatus::Planned,
        start: utc(start),
        end: utc(end),
        shared_targets: Vec::new(),
    }
}

fn run<'a>(service: &'a str, start: &str, end: &str) -> Run<'a> {
    Run { key: None, service, environment: "production", start: utc(start), end: utc(end) }
}

fn kinds(c: &[Conflict]) -> Vec<&'static str> {
    c.iter().map(Conflict::kind).collect()
}

fn cal<'a>(
    windows: &'a [ChangeWindow],
    freezes: &'a [Freeze],
    bookings: &'a [Booking],
    max: Option<u32>,
) -> Calendar<'a> {
    Calendar { windows, freezes, bookings, max_concurrent: max }
}

// 2026-11-26 is a Thursday; Berlin is UTC+1.

#[test]
fn a_run_inside_a_window_with_nothing_around_has_no_conflict() {
    let w = [evenings()];
    assert!(
        conflicts(&cal(&w, &[], &[], Some(1)), &run("pay", "2026-11-26T17:30:00Z", "2026-11-26T19:00:00Z")).is_empty()
    );
}

#[test]
fn a_start_outside_every_window_names_them_and_the_next_opening() {
    let w = [evenings()];
    let c = conflicts(&cal(&w, &[], &[], None), &run("pay", "2026-11-27T17:30:00Z", "2026-11-27T18:00:00Z"));
    assert_eq!(
        c,
        vec![Conflict::StartOutsideWindows {
            windows: vec!["evenings".into()],
            next_opens: Some(utc("2026-11-30T17:00:00Z")),
        }],
        "Friday is not an evening of the window; Monday is"
    );
    // Staging has no window: any time is fine there.
    let staging = Run { environment: "staging", ..run("pay", "2026-11-27T17:30:00Z", "2026-11-27T18:00:00Z") };
    assert!(conflicts(&cal(&w, &[], &[], None), &staging).is_empty());
}

#[test]
fn an_eta_end_past_the_window_is_a_conflict_of_its_own() {
    let w = [evenings()];
    let c = conflicts(&cal(&w, &[], &[], None), &run("pay", "2026-11-26T21:30:00Z", "2026-11-26T22:30:00Z"));
    assert_eq!(
        c,
        vec![Conflict::EndOutsideWindow {
            window: "evenings".into(),
            closes: utc("2026-11-26T22:00:00Z"),
            end: utc("2026-11-26T22:30:00Z")
        }]
    );
}

#[test]
fn a_run_overlapping_a_freeze_even_partly_conflicts() {
    let f = [freeze("year-end", "2026-12-21T00:00:00Z", "2027-01-04T07:00:00Z")];
    let c = conflicts(&cal(&[], &f, &[], None), &run("pay", "2026-12-20T23:00:00Z", "2026-12-21T00:30:00Z"));
    assert_eq!(kinds(&c), ["freeze"]);
    assert!(
        conflicts(&cal(&[], &f, &[], None), &run("pay", "2026-12-20T22:00:00Z", "2026-12-21T00:00:00Z")).is_empty(),
        "ending as the freeze starts is fine (half-open)"
    );
}

#[test]
fn the_same_service_in_the_same_environment_must_not_overlap() {
    let b = [
        booking(1, "pay", "production", "2026-11-26T17:00:00Z", "2026-11-26T18:00:00Z"),
        booking(2, "pay", "staging", "2026-11-26T17:00:00Z", "2026-11-26T18:00:00Z"),
        booking(3, "web", "production", "2026-11-26T17:00:00Z", "2026-11-26T18:00:00Z"),
    ];
    let c = conflicts(&cal(&[], &[], &b, None), &run("pay", "2026-11-26T17:30:00Z", "2026-11-26T19:00:00Z"));
    assert_eq!(c.len(), 1);
    assert!(matches!(&c[0], Conflict::SameService { key, .. } if *key == DeploymentKey(1)));
    // Rescheduling DEP-1 never conflicts with itself, and a finished one holds no slot.
    let me = Run { key: Some(DeploymentKey(1)), ..run("pay", "2026-11-26T17:30:00Z", "2026-11-26T19:00:00Z") };
    assert!(conflicts(&cal(&[], &[], &b, None), &me).is_empty());
    let mut done = b.clone();
    done[0].status = DeploymentStatus::Succeeded;
    assert!(
        conflicts(&cal(&[], &[], &done, None), &run("pay", "2026-11-26T17:30:00Z", "2026-11-26T19:00:00Z")).is_empty()
    );
}

#[test]
fn shared_targets_conflict_across_services_and_environments() {
    let mut b = [booking(4, "db", "staging", "2026-11-26T17:00:00Z", "2026-11-26T18:00:00Z")];
    assert!(
        conflicts(&cal(&[], &[], &b, None), &run("pay", "2026-11-26T17:30:00Z", "2026-11-26T19:00:00Z")).is_empty()
    );
    b[0].shared_targets = vec!["h1".into(), "h2".into()];
    let c = conflicts(&cal(&[], &[], &b, None), &run("pay", "2026-11-26T17:30:00Z", "2026-11-26T19:00:00Z"));
    assert_eq!(
        c,
        vec![Conflict::SharedTargets {
            key: DeploymentKey(4),
            release: "db@1.4".into(),
            count: 2,
            targets: vec!["h1".into(), "h2".into()]
        }]
    );
}

#[test]
fn max_concurrent_counts_deployments_running_at_the_same_instant() {
    // Two others in production, one after the other: never more than one at a time.
    let b = [
        booking(5, "a", "production", "2026-11-26T17:00:00Z", "2026-11-26T18:00:00Z"),
        booking(6, "b", "production", "2026-11-26T18:00:00Z", "2026-11-26T19:00:00Z"),
    ];
    let r = run("pay", "2026-11-26T17:30:00Z", "2026-11-26T18:30:00Z");
    assert!(conflicts(&cal(&[], &[], &b, Some(2)), &r).is_empty());
    let c = conflicts(&cal(&[], &[], &b, Some(1)), &r);
    assert_eq!(kinds(&c), ["max_concurrent"]);
    assert!(
        matches!(&c[0], Conflict::MaxConcurrent { at, with, .. } if *at == utc("2026-11-26T17:30:00Z") && with == &["DEP-5"])
    );
    let mut both = b.clone();
    both[1].start = utc("2026-11-26T17:15:00Z");
    assert_eq!(kinds(&conflicts(&cal(&[], &[], &both, Some(2)), &r)), ["max_concurrent"]);
}

#[test]
fn every_kind_together_is_reported_once_each_in_order() {
    let w = [evenings()];
    let f = [freeze("cab", "2026-11-26T21:00:00Z", "2026-11-26T21:30:00Z")];
    let mut b = vec![
        booking(7, "pay", "production", "2026-11-26T20:00:00Z", "2026-11-26T23:00:00Z"),
        booking(8, "db", "production", "2026-11-26T20:00:00Z", "2026-11-26T23:00:00Z"),
    ];
    b[1].shared_targets = vec!["h9".into()];
    sort(&mut b);
    let c = conflicts(&cal(&w, &f, &b, Some(2)), &run("pay", "2026-11-26T20:30:00Z", "2026-11-26T22:30:00Z"));
    assert_eq!(kinds(&c), ["end_outside_window", "freeze", "same_service", "shared_targets", "max_concurrent"]);
    let text: Vec<String> = c.iter().map(|c| c.describe(chrono_tz::Europe::Berlin)).collect();
    assert!(text[0].contains("closes at 2026-11-26 23:00 CET"), "{text:?}");
    assert!(text[1].contains("freeze \"cab\""), "{text:?}");
}

#[test]
fn next_slot_finds_the_first_opening_after_a_freeze_and_a_busy_evening() {
    let w = [evenings()];
    // Thursday evening is taken by another payments deployment until 20:00 Berlin, and a
    // freeze holds 20:00-21:00; a 90-minute run fits from 21:00 Berlin (20:00 UTC).
    let f = [freeze("cab", "2026-11-26T19:00:00Z", "2026-11-26T20:00:00Z")];
    let b = [booking(9, "pay", "production", "2026-11-26T17:00:00Z", "2026-11-26T19:00:00Z")];
    let r = run("pay", "2026-11-26T12:00:00Z", "2026-11-26T12:00:00Z");
    let (slot, skipped) =
        next_slot(&cal(&w, &f, &b, None), &r, TimeDelta::minutes(90), utc("2026-11-26T12:00:00Z"), TimeDelta::days(30));
    assert_eq!(slot, Some(utc("2026-11-26T20:00:00Z")));
    let tried: Vec<_> = skipped.iter().map(|s| (s.start, kinds(&s.conflicts))).collect();
    assert_eq!(
        tried,
        vec![
            (utc("2026-11-26T12:00:00Z"), vec!["start_outside_windows"]),
            (utc("2026-11-26T17:00:00Z"), vec!["same_service"]),
            (utc("2026-11-26T19:00:00Z"), vec!["freeze"]),
        ]
    );
    // A run longer than the window never fits: no slot in the horizon.
    let (none, _) =
        next_slot(&cal(&w, &f, &b, None), &r, TimeDelta::hours(6), utc("2026-11-26T12:00:00Z"), TimeDelta::days(14));
    assert_eq!(none, None);
}

#[test]
fn next_slot_skips_a_whole_weekend_and_a_recurring_freeze() {
    let w = [evenings()];
    // Every Monday 00:00-23:59 Berlin is frozen: from Friday, the answer is Tuesday 18:00.
    let mon = Freeze {
        repeat: Some(Repeat::Weekly {
            days: vec![Weekday::Mon],
            start: t("00:00:00"),
            end: t("23:59:00"),
            zone: chrono_tz::Europe::Berlin,
        }),
        from: crate::domain::schedule::forever_from(),
        until: crate::domain::schedule::forever_until(),
        ..freeze("mondays", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    };
    let r = run("pay", "2026-11-27T09:00:00Z", "2026-11-27T09:00:00Z");
    let (slot, _) = next_slot(
        &cal(&w, &[mon], &[], None),
        &r,
        TimeDelta::hours(1),
        utc("2026-11-27T09:00:00Z"),
        TimeDelta::days(30),
    );
    assert_eq!(slot, Some(utc("2026-12-01T17:00:00Z")));
}

#[test]
fn yearly_freezes_recur_and_run_across_the_new_year_in_their_zone() {
    let f = Freeze {
        repeat: Some(Repeat::Yearly {
            from: YearDay::parse("12-24").expect("day"),
            until: YearDay::parse("01-02T08:00").expect("day"),
            zone: chrono_tz::America::New_York,
        }),
        from: crate::domain::schedule::forever_from(),
        until: crate::domain::schedule::forever_until(),
        ..freeze("holidays", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    };
    // Midnight in New York is 05:00 UTC in winter.
    assert!(!f.active_at(utc("2027-12-24T04:59:00Z")));
    assert!(f.active_at(utc("2027-12-24T05:00:00Z")));
    assert!(f.active_at(utc("2028-01-02T12:59:00Z")));
    assert!(!f.active_at(utc("2028-01-02T13:00:00Z")));
    assert_eq!(
        f.occurrence_at(utc("2026-12-31T00:00:00Z")),
        Some((utc("2026-12-24T05:00:00Z"), utc("2027-01-02T13:00:00Z")))
    );
    assert!(YearDay::parse("02-30").is_none() && YearDay::parse("13-01").is_none() && YearDay::parse("xmas").is_none());
}

#[test]
fn a_weekly_freeze_across_midnight_and_a_dst_gap_opens_at_the_first_valid_minute() {
    let f = Freeze {
        repeat: Some(Repeat::Weekly {
            days: vec![Weekday::Sun],
            start: t("02:30:00"),
            end: t("04:00:00"),
            zone: chrono_tz::Europe::Berlin,
        }),
        from: crate::domain::schedule::forever_from(),
        until: crate::domain::schedule::forever_until(),
        ..freeze("sunday-maintenance", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    };
    // 2027-03-28: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist, so it starts at 03:00
    // CEST (01:00 UTC) and ends at 04:00 CEST (02:00 UTC).
    assert_eq!(
        f.occurrence_at(utc("2027-03-28T01:30:00Z")),
        Some((utc("2027-03-28T01:00:00Z"), utc("2027-03-28T02:00:00Z")))
    );
    // A week before, in winter: 02:30 CET is 01:30 UTC.
    assert_eq!(f.occurrence_at(utc("2027-03-21T01:45:00Z")).map(|o| o.0), Some(utc("2027-03-21T01:30:00Z")));
}

#[test]
fn scheduled_is_shown_until_the_start_while_nothing_ran() {
    let start = utc("2026-11-27T18:00:00Z");
    let before = utc("2026-11-27T17:00:00Z");
    assert_eq!(shown_status(DeploymentStatus::AwaitingApproval, start, false, before), "scheduled");
    assert_eq!(shown_status(DeploymentStatus::Planned, start, false, start), "planned");
    assert_eq!(shown_status(DeploymentStatus::Running, start, true, before), "running", "agents ran early");
}

#[test]
fn upcoming_lists_openings_freezes_and_starts_in_order() {
    let w = [evenings()];
    let f = [freeze("cab", "2026-11-26T19:00:00Z", "2026-11-26T20:00:00Z")];
    let b = [booking(9, "pay", "production", "2026-11-26T18:00:00Z", "2026-11-26T19:00:00Z")];
    let next = upcoming(&w, &f, &b, utc("2026-11-26T12:00:00Z"), TimeDelta::days(7), 3);
    let what: Vec<String> = next.iter().map(|(_, h)| h.describe()).collect();
    assert_eq!(
        what,
        ["window evenings opens (production)", "DEP-9 pay@1.9 starts (production)", "freeze cab starts (production)"]
    );
}
