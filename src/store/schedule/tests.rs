use super::*;
use crate::domain::conformance::FlagKind;
use crate::store::testing::{Plan, at, ingest, open, t0};

fn freeze_by(store: &mut Store, who: &str, env: &str, until: &str) -> Result<i64, ScheduleError> {
    let envs = vec![env.to_owned()];
    store.declare_freeze(&FreezeRequest {
        name: "outage",
        environments: &envs,
        from: t0(),
        until: at(until),
        reason: "payments outage",
        person: who,
        os_user: who,
        now: t0(),
    })
}

#[test]
fn an_emergency_freeze_flags_agents_of_a_writer_that_was_told_no_freeze() {
    let (_dir, mut store) = open();
    let key = Plan::new("big-bang", 2).env("staging").plan(&mut store);
    freeze_by(&mut store, "dana", "staging", "2026-11-26T12:00:00Z").expect("declared");
    let line = format!(
        r#"{{"id":"x","deployment":"{key}","target":"web-01","step":"install","status":"started","at":"2026-11-26T10:05:00Z"}}"#
    );
    assert_eq!(ingest(&mut store, &[line], at("2026-11-26T10:05:00Z")).accepted, 1);
    let kinds: Vec<FlagKind> = store.conformance(Some(key)).expect("flags").into_iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FlagKind::InFreeze), "{kinds:?}");
    // Everyone holding a freeze role heard about it.
    let told = store.notifications("omar", false, 10).expect("notifications");
    assert!(told.iter().any(|n| n.kind == "schedule_changed" && n.subject.contains("outage")), "{told:?}");
}

#[test]
fn only_a_freeze_role_declares_or_ends_a_freeze_and_refusals_are_audited() {
    let (_dir, mut store) = open();
    let err = freeze_by(&mut store, "sam", "production", "2026-11-27T00:00:00Z").expect_err("sam may not");
    assert!(matches!(err, ScheduleError::Refused(ref t) if t.contains("holds none of the roles")), "{err}");
    let err = freeze_by(&mut store, "mallory", "production", "2026-11-27T00:00:00Z").expect_err("nobody");
    assert!(err.to_string().contains("\"mallory\" is not a person of the log's team"), "{err}");
    freeze_by(&mut store, "omar", "production", "2026-11-27T00:00:00Z").expect("omar may");
    assert!(matches!(
        freeze_by(&mut store, "omar", "production", "2026-11-28T00:00:00Z"),
        Err(ScheduleError::Input(_))
    ));
    let by = Change { person: "sam", os_user: "sam", reason: None, now: at("2026-11-26T11:00:00Z") };
    assert!(matches!(store.end_freeze("outage", by), Err(ScheduleError::Refused(_))));
    let by = Change { person: "dana", ..by };
    store.end_freeze("outage", by).expect("ended");
    let f = store.emergency_freezes().expect("reads").remove(0);
    assert_eq!(f.until, at("2026-11-26T11:00:00Z"), "it ended when ended");
    let records = store.audit_records(None).expect("audit");
    let decisions: Vec<(&str, Option<&str>)> = records
        .iter()
        .map(|r| (r.decision.as_str(), r.outcome.as_deref()))
        .filter(|r| r.0.starts_with("freeze"))
        .collect();
    assert_eq!(
        decisions,
        vec![
            ("freeze_add", Some("refused")),
            ("freeze_add", None),
            ("freeze_end", Some("refused")),
            ("freeze_end", None)
        ]
    );
    assert!(store.audit_verify().expect("reads").is_ok());
}

#[test]
fn bookings_hold_open_deployments_with_their_shared_targets_and_the_calendar_shows_finished_ones() {
    let (_dir, mut store) = open();
    let a = Plan::new("big-bang", 3).at(at("2026-11-26T10:00:00Z")).plan(&mut store);
    let b = Plan::new("big-bang", 1)
        .release("web@1")
        .targets(vec!["db-1".into()])
        .at(at("2026-11-26T10:00:00Z"))
        .plan(&mut store);
    let found = store
        .bookings(at("2026-11-26T10:10:00Z"), at("2026-11-26T10:20:00Z"), &["web-02".into(), "zzz".into()])
        .expect("reads");
    let shared: Vec<(DeploymentKey, Vec<String>)> = found.iter().map(|b| (b.key, b.shared_targets.clone())).collect();
    assert_eq!(shared, vec![(a, vec!["web-02".to_owned()]), (b, vec![])]);
    let by = Change { person: "dana", os_user: "dana", reason: Some("not needed"), now: t0() };
    store.cancel(b, by).expect("cancelled");
    let told = store.notifications("dana", false, 10).expect("notifications");
    assert!(told.iter().any(|n| n.kind == "schedule_changed" && n.body.contains("not needed")), "{told:?}");
    let open_now = store.bookings(at("2026-11-26T10:10:00Z"), at("2026-11-26T10:20:00Z"), &[]).expect("reads");
    assert_eq!(open_now.iter().map(|b| b.key).collect::<Vec<_>>(), vec![a], "a cancelled one holds no slot");
    let all = store.calendar(at("2026-11-26T09:00:00Z"), at("2026-11-26T12:00:00Z")).expect("reads");
    assert_eq!(all.len(), 2, "the calendar still shows it");
}

#[test]
fn an_emergency_freeze_notification_names_its_times_in_the_configured_zone() {
    let (_dir, mut store) = open();
    store.set_zone(chrono_tz::Europe::Berlin);
    freeze_by(&mut store, "dana", "staging", "2026-11-26T12:00:30Z").expect("declared");
    let told = store.notifications("omar", false, 10).expect("notifications");
    let body = &told.iter().find(|n| n.subject.contains("outage")).expect("told").body;
    assert_eq!(
        body,
        "dana declared an emergency freeze of staging from 2026-11-26 11:00 CET until 2026-11-26 13:00:30 CET: payments outage"
    );
}

#[test]
fn the_inbox_shows_an_emergency_freeze_that_a_decision_would_be_refused_by() {
    let (_dir, mut store) = open();
    // The pilot's gate is pending from the start.
    let key = Plan::new("phased", 10).env("staging").plan(&mut store);
    freeze_by(&mut store, "dana", "staging", "2026-11-26T12:00:00Z").expect("declared");
    let roles = vec!["deployment_manager".to_owned()];
    let inbox = store.inbox(crate::domain::gate::Decider { name: "omar", roles: &roles }, t0()).expect("inbox");
    let item = inbox.iter().find(|i| i.deployment == key).expect("its gate waits");
    assert!(
        matches!(&item.blocked, Some(crate::domain::gate::Refusal::Freeze { name, .. }) if name == "outage"),
        "{:?}",
        item.blocked
    );
}

#[test]
fn an_automated_decider_is_told_of_an_emergency_freeze_before_it_tries() {
    let (_dir, mut store) = open();
    let key = Plan::new("phased", 10).env("staging").plan(&mut store);
    let roles = vec!["deployment_manager".to_owned()];
    let omar = crate::domain::gate::Decider { name: "omar", roles: &roles };
    let approve = crate::domain::gate::Decision::Approve;
    assert_eq!(store.would_refuse(key, "pilot", approve, omar, t0()), None, "omar may approve the pilot");
    freeze_by(&mut store, "dana", "staging", "2026-11-26T12:00:00Z").expect("declared");
    let refusal = store.would_refuse(key, "pilot", approve, omar, t0());
    assert!(
        matches!(&refusal, Some(crate::domain::gate::Refusal::Freeze { name, .. }) if name == "outage"),
        "{refusal:?}"
    );
}
