//! Every happening of a deployment's life, the failure-budget warning, quiet hours and digests.

use super::*;
use crate::config::Config;
use crate::domain::gate::Decision;
use crate::domain::gate::view::Subscription;
use crate::domain::notify::timing::Timing;
use crate::store::testing::{self, at, t0};
use crate::store::{DecisionRequest, SyncBy};
use chrono::TimeDelta;

/// A log where `lee` subscribes to every happening over `hook` with `timing`.
fn open_with(timing: &Timing) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
    let config = Config::built_in();
    let mut subs = config.subscriptions();
    subs.retain(|s| s.person != "lee");
    for kind in crate::config::NOTIFY_KINDS {
        subs.push(Subscription {
            person: "lee".into(),
            kind: kind.into(),
            environments: Vec::new(),
            services: Vec::new(),
            channels: vec!["hook".into()],
            timing: timing.clone(),
        });
    }
    store.sync_team(&config.team(), &subs, SyncBy::Seed { os_user: "test" }, t0()).expect("team");
    (dir, store)
}

fn line(key: DeploymentKey, id: &str, host: usize, step: &str, status: &str) -> String {
    format!(
        r#"{{"id":"{id}","deployment":"{key}","target":"web-{host:02}","step":"{step}","status":"{status}","at":"2026-11-26T10:00:00Z"}}"#
    )
}

fn kinds(store: &Store, person: &str) -> Vec<String> {
    let mut v: Vec<String> =
        store.notifications(person, false, 1000).expect("notifications").into_iter().map(|n| n.kind).collect();
    v.reverse(); // oldest first
    v
}

fn count(v: &[String], kind: &str) -> usize {
    v.iter().filter(|k| *k == kind).count()
}

#[test]
fn every_happening_of_a_failing_deployment_is_told_and_the_budget_warning_once_at_its_share() {
    let (_dir, mut store) = open_with(&Timing::default());
    // 50 hosts, big-bang with a 10% failure budget: 5 failures tolerated, 4 are 80% of it.
    let key = testing::Plan::new("big-bang", 50).env("staging").requester("sam").plan(&mut store);
    assert_eq!(count(&kinds(&store, "lee"), "deployment_planned"), 1);
    testing::ingest(&mut store, &[line(key, "s1", 1, "install", "started")], t0());
    assert_eq!(count(&kinds(&store, "lee"), "deployment_started"), 1);
    let fail = |n: usize| line(key, &format!("f{n}"), n, "install", "failed");
    testing::ingest(&mut store, &(1..=3).map(fail).collect::<Vec<_>>(), t0());
    assert_eq!(count(&kinds(&store, "lee"), "budget_nearly_used"), 0, "3 of 5 is under 80%");
    testing::ingest(&mut store, &[fail(4)], t0());
    let sam = kinds(&store, "sam");
    assert_eq!(count(&sam, "budget_nearly_used"), 1, "the requester is told at 4 of 5: {sam:?}");
    assert_eq!(count(&kinds(&store, "lee"), "budget_nearly_used"), 1, "and the subscriber");
    let warned = store.notifications("sam", false, 100).expect("sam's");
    let warning = warned.iter().find(|n| n.kind == "budget_nearly_used").expect("warning");
    assert!(warning.subject.contains("failure budget nearly used (4 of 5 failed)"), "{}", warning.subject);
    let hook = store.deliveries(false, 1000).expect("deliveries");
    assert!(hook.iter().any(|d| d.outgoing.kind == "budget_nearly_used" && d.channel == "hook"));
    testing::ingest(&mut store, &[fail(5)], t0());
    assert_eq!(count(&kinds(&store, "sam"), "budget_nearly_used"), 1, "once per phase");
    assert_eq!(count(&kinds(&store, "sam"), "phase_failed"), 0, "5 of 5 is still within the budget");
    // The sixth failure exceeds it: the phase and the deployment failed.
    testing::ingest(&mut store, &[fail(6)], t0());
    for person in ["sam", "lee"] {
        let k = kinds(&store, person);
        assert_eq!((count(&k, "phase_failed"), count(&k, "deployment_failed")), (1, 1), "{person}: {k:?}");
    }
    let rollback = DecisionRequest {
        key,
        phase: "all",
        decision: Decision::Rollback,
        person: "omar",
        os_user: "omar",
        comment: None,
        reason: Some("too many failures"),
        now: t0() + TimeDelta::minutes(5),
        automatic: None,
    };
    store.decide(&rollback).expect("rolls back");
    assert_eq!(count(&kinds(&store, "sam"), "deployment_rolled_back"), 1, "the requester is always told");
    assert_eq!(count(&kinds(&store, "lee"), "deployment_rolled_back"), 1);
}

#[test]
fn the_budget_warning_share_comes_from_the_writer_s_setting() {
    let (_dir, mut store) = open_with(&Timing::default());
    store.set_budget_warning(0.5);
    let key = testing::Plan::new("big-bang", 50).env("staging").requester("sam").plan(&mut store);
    let fail = |n: usize| line(key, &format!("f{n}"), n, "install", "failed");
    testing::ingest(&mut store, &[fail(1), fail(2)], t0());
    assert_eq!(count(&kinds(&store, "sam"), "budget_nearly_used"), 0, "2 of 5 is under 50%");
    testing::ingest(&mut store, &[fail(3)], t0());
    assert_eq!(count(&kinds(&store, "sam"), "budget_nearly_used"), 1, "3 of 5 is 60%");
}

/// Quiet 22:00-07:00 in Berlin (UTC+1 in November).
fn quiet_night() -> Timing {
    Timing { quiet_hours: Some("22:00-07:00".into()), zone: Some("Europe/Berlin".into()), digest_ms: None }
}

#[test]
fn quiet_hours_hold_non_urgent_deliveries_until_the_morning_and_let_failures_through() {
    let (_dir, mut store) = open_with(&quiet_night());
    let night = at("2026-11-26T22:30:00Z"); // 23:30 in Berlin
    let morning = at("2026-11-27T06:00:00Z"); // 07:00 in Berlin
    let key = testing::Plan::new("big-bang", 10).env("staging").requester("sam").at(night).plan(&mut store);
    let planned: Vec<Delivery> = store.deliveries(false, 100).expect("list");
    let planned = planned.iter().find(|d| d.outgoing.kind == "deployment_planned").expect("planned");
    assert_eq!(planned.due_at, morning, "due at the end of lee's quiet night");
    assert!(planned.state_text(chrono_tz::Europe::Berlin).starts_with("queued until 2026-11-27 07:00"));
    let lease = TimeDelta::minutes(1);
    assert!(store.claim_deliveries("w", night, night + lease, 100).expect("claims").is_empty(), "held back");
    // A failure at night is urgent: it goes out at once.
    let late = night + TimeDelta::minutes(10);
    let failed: Vec<String> = (1..=2)
        .map(|n| line(key, &format!("f{n}"), n, "install", "failed").replace("10:00:00Z", "22:40:00Z"))
        .collect();
    testing::ingest(&mut store, &failed, late);
    let now = store.claim_deliveries("w", late, late + lease, 100).expect("claims");
    let now_kinds: Vec<&str> = now.iter().map(|d| d.outgoing.kind.as_str()).collect();
    assert!(now_kinds.contains(&"phase_failed") && now_kinds.contains(&"deployment_failed"), "{now_kinds:?}");
    assert!(!now_kinds.contains(&"deployment_planned") && !now_kinds.contains(&"deployment_started"));
    let sent: Vec<(i64, Attempt)> = now.iter().map(|d| (d.id, Attempt::Sent)).collect();
    store.record_attempts("w", &sent, late).expect("records");
    let before = morning - TimeDelta::seconds(1);
    assert!(store.claim_deliveries("w", before, before + lease, 100).expect("claims").is_empty());
    let at_seven = store.claim_deliveries("w", morning, morning + lease, 100).expect("claims");
    let kinds: Vec<&str> = at_seven.iter().map(|d| d.outgoing.kind.as_str()).collect();
    assert!(kinds.contains(&"deployment_planned") && kinds.contains(&"deployment_started"), "{kinds:?}");
}

#[test]
fn a_digest_collects_a_period_s_deliveries_into_one_that_survives_a_restart() {
    let (dir, mut store) = open_with(&Timing { digest_ms: Some(15 * 60_000), ..Timing::default() });
    let n = 5;
    for i in 0..n {
        let when = t0() + TimeDelta::minutes(i);
        testing::Plan::new("big-bang", 2).env("staging").release(&format!("svc-{i}@1.0")).at(when).plan(&mut store);
    }
    let rows: Vec<Delivery> = store.deliveries(false, 100).expect("list");
    assert_eq!(rows.len(), 1, "one delivery for lee over hook: {rows:?}");
    let digest = &rows[0];
    assert_eq!((digest.items.len(), digest.outgoing.kind.as_str()), (n as usize, "digest"));
    assert_eq!(digest.due_at, t0() + TimeDelta::minutes(15), "due at the end of the period");
    assert!(digest.outgoing.subject.starts_with("5 notifications: DEP-1"), "{}", digest.outgoing.subject);
    // Each notification lists the digest as its delivery over hook (the preview and the view).
    let told = told_after(&store.conn, 0).expect("told");
    assert!(told.iter().filter(|t| t.person == "lee").all(|t| t.channels == ["in_app", "hook"]), "{told:?}");
    let of_last = store.deliveries_of(&[newest_notification(&store.conn).expect("newest")]).expect("of");
    assert_eq!(of_last.len(), 1);

    // A restart: a new connection (and worker) finds the digest with every item.
    drop(store);
    let mut store = Store::open_existing(&dir.path().join("log.db")).expect("reopens");
    let lease = TimeDelta::minutes(1);
    let early = t0() + TimeDelta::minutes(14);
    assert!(store.claim_deliveries("w", early, early + lease, 10).expect("claims").is_empty(), "still collecting");
    let due = t0() + TimeDelta::minutes(15);
    let claimed = store.claim_deliveries("w", due, due + lease, 10).expect("claims");
    assert_eq!(claimed.len(), 1);
    let subjects: Vec<&str> = claimed[0].items.iter().map(|i| i.subject.as_str()).collect();
    assert_eq!(subjects.len(), n as usize);
    for i in 0..n {
        assert!(subjects.iter().any(|s| s.contains(&format!("svc-{i}@1.0"))), "{subjects:?}");
    }
    // Its text lists them all (the default digest template).
    let channel: crate::config::ChannelConfig =
        toml::from_str("type = \"command\"\ncommand = [\"true\"]").expect("a channel");
    let text = crate::notify::channels::render(&channel, &claimed[0]).expect("renders").text;
    assert_eq!(text.lines().filter(|l| l.starts_with("- ")).count(), n as usize, "{text}");
    // Once claimed the digest is closed: the next happening opens a new one.
    testing::Plan::new("big-bang", 2).env("staging").release("svc-late@1.0").at(due).plan(&mut store);
    store.record_attempts("w", &[(claimed[0].id, Attempt::Sent)], due).expect("records");
    let rows = store.deliveries(false, 100).expect("list");
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].items.len(), rows[0].state), (1, DeliveryState::Queued), "the new one");
    assert_eq!((rows[1].items.len(), rows[1].state), (n as usize, DeliveryState::Sent));
    let delivered: i64 = store
        .conn
        .query_row("SELECT count(*) FROM notifications WHERE recipient = 'lee' AND delivered_ms IS NOT NULL", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(delivered, n, "every item of the sent digest counts as delivered");
}
