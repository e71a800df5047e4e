//! The outbox: routing to channels, the preview, leases, retries.

use super::*;
use crate::config::Config;
use crate::domain::gate::Decision;
use crate::store::testing::{self, t0};
use crate::store::{DecisionRequest, SyncBy};

/// A log whose stakeholders hear everything over `hook` too.
fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
    let config = Config::built_in();
    let mut subs = config.subscriptions();
    for s in &mut subs {
        s.channels = vec!["hook".into()];
    }
    store.sync_team(&config.team(), &subs, SyncBy::Seed { os_user: "test" }, t0()).expect("team");
    (dir, store)
}

fn approve<'a>(key: DeploymentKey, person: &'a str) -> DecisionRequest<'a> {
    DecisionRequest {
        key,
        phase: "pilot",
        decision: Decision::Approve,
        person,
        os_user: "ci",
        comment: Some("go"),
        reason: None,
        now: t0(),
        automatic: None,
    }
}

#[test]
fn the_preview_equals_what_the_decision_then_stores_and_writes_nothing() {
    let (_dir, mut store) = open();
    let key = testing::Plan::new("phased", 10).plan(&mut store);
    let before = newest_notification(&store.conn).expect("newest");
    let deliveries_before = store.deliveries(false, 1000).expect("list").len();
    let (outcome, preview) = store.preview_decision(&approve(key, "omar")).expect("previews");
    assert_eq!(newest_notification(&store.conn).expect("newest"), before, "the preview wrote nothing");
    assert_eq!(store.deliveries(false, 1000).expect("list").len(), deliveries_before);
    assert!(store.audit_records(None).expect("audit").iter().all(|r| r.decision != "approve"), "no audit record");
    assert!(!preview.is_empty());
    // dana requested it: she is told of the decision in-app (gate_decided is not her rule).
    assert!(preview.iter().any(|t| t.person == "dana" && t.kind == "gate_decided" && t.channels == ["in_app"]));
    assert!(preview.iter().all(|t| t.person != "omar"), "the decider is not told of their own decision");

    let done = store.decide(&approve(key, "omar")).expect("recorded");
    assert_eq!(done.allowed, outcome.allowed, "the preview checked the same");
    let told = told_after(&store.conn, before).expect("told");
    assert_eq!(told, preview, "the preview is exactly who was told, over which channels");
}

#[test]
fn subscribers_get_their_rule_s_channels_and_the_requester_in_app_whatever_the_rules() {
    let (_dir, mut store) = open();
    let key = testing::Plan::new("phased", 10).requester("sam").plan(&mut store);
    let pending: Vec<Delivery> = store.deliveries(false, 100).expect("list");
    // Deployment managers subscribe to gate_pending: over in_app and the hook.
    assert!(
        pending
            .iter()
            .any(|d| d.outgoing.recipient == "dana" && d.channel == "hook" && d.outgoing.kind == "gate_pending")
    );
    assert!(pending.iter().all(|d| d.state == DeliveryState::Queued && d.attempts == 0));
    store
        .decide(&DecisionRequest { decision: Decision::Reject, reason: Some("not today"), ..approve(key, "omar") })
        .expect("rejects");
    let sam = store.notifications("sam", false, 10).expect("sam's");
    assert!(sam.iter().any(|n| n.kind == "deployment_aborted"), "the requester hears it ended: {sam:?}");
    let finished = store.deliveries(false, 100).expect("list");
    assert!(
        finished
            .iter()
            .any(|d| d.outgoing.kind == "deployment_aborted" && d.outgoing.recipient == "dana" && d.channel == "hook"),
        "deployment managers subscribe to deployment_finished"
    );
}

#[test]
fn a_lease_keeps_a_delivery_from_a_second_worker_until_it_lapses_and_the_key_stays() {
    let (_dir, mut store) = open();
    testing::Plan::new("phased", 10).plan(&mut store);
    let lease = chrono::TimeDelta::seconds(30);
    let first = store.claim_deliveries("w1", t0(), t0() + lease, 1000).expect("claims");
    assert!(!first.is_empty());
    assert!(first.iter().all(|d| d.state == DeliveryState::Sending && d.attempts == 1));
    let second = store.claim_deliveries("w2", t0(), t0() + lease, 1000).expect("claims");
    assert!(second.is_empty(), "all are held by w1");
    // w1 dies; after its lease they are due again, with the same keys.
    let later = t0() + lease + chrono::TimeDelta::seconds(1);
    let again = store.claim_deliveries("w2", later, later + lease, 1000).expect("claims");
    let keys = |v: &[Delivery]| v.iter().map(|d| (d.id, d.idempotency_key.clone())).collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&first));
    assert!(again.iter().all(|d| d.attempts == 2));
    // w1's late failure no longer counts; w2's success does.
    let id = first[0].id;
    let failed = Attempt::Failed { error: "HTTP 500".into(), retry_at: Some(later), max_attempts: 5 };
    store.record_attempts("w1", &[(id, failed)], later).expect("records");
    store.record_attempts("w2", &[(id, Attempt::Sent)], later).expect("records");
    let d = store.deliveries(false, 1000).expect("list").into_iter().find(|d| d.id == id).expect("row");
    assert_eq!((d.state, d.sent_at), (DeliveryState::Sent, Some(later)));
}

#[test]
fn a_delivery_retries_then_fails_with_the_last_error_and_can_be_queued_again() {
    let (_dir, mut store) = open();
    testing::Plan::new("phased", 10).plan(&mut store);
    let lease = chrono::TimeDelta::seconds(30);
    let d = store.claim_deliveries("w", t0(), t0() + lease, 1).expect("claims").remove(0);
    let retry_at = t0() + chrono::TimeDelta::seconds(5);
    let failed = Attempt::Failed { error: "HTTP 500: no".into(), retry_at: Some(retry_at), max_attempts: 2 };
    store.record_attempts("w", &[(d.id, failed)], t0()).expect("records");
    let row = |s: &Store| s.deliveries(false, 1000).expect("list").into_iter().find(|r| r.id == d.id).expect("row");
    assert_eq!((row(&store).state, row(&store).due_at), (DeliveryState::Retrying, retry_at));
    let others = store.claim_deliveries("w", t0(), t0() + lease, 1000).expect("claims");
    assert!(!others.is_empty() && others.iter().all(|c| c.id != d.id), "not yet due");
    let again = store.claim_deliveries("w", retry_at, retry_at + lease, 1000).expect("claims");
    assert!(again.iter().any(|c| c.id == d.id && c.attempts == 2));
    let last = Attempt::Failed { error: "timed out".into(), retry_at: None, max_attempts: 2 };
    store.record_attempts("w", &[(d.id, last)], retry_at).expect("records");
    let failed = row(&store);
    assert_eq!((failed.state, failed.last_error.as_deref()), (DeliveryState::Failed, Some("timed out")));
    assert_eq!(store.failed_deliveries().expect("count"), 1);
    assert!(matches!(store.retry_delivery(d.id + 100_000, t0()), Err(RetryError::Unknown(_))));
    let sent_one = &others[0];
    store.record_attempts("w", &[(sent_one.id, Attempt::Sent)], retry_at).expect("records");
    assert!(matches!(store.retry_delivery(sent_one.id, t0()), Err(RetryError::NotFailed { .. })));
    let queued = store.retry_delivery(d.id, retry_at).expect("queued");
    assert_eq!((queued.state, queued.attempts, queued.idempotency_key), (DeliveryState::Queued, 0, d.idempotency_key));
    assert_eq!(store.failed_deliveries().expect("count"), 0);
}

#[test]
fn a_planned_start_that_approaches_is_reminded_once_to_the_requester() {
    let (_dir, mut store) = open();
    let start = t0() + chrono::TimeDelta::hours(2);
    let key = testing::Plan::new("rolling", 4).requester("sam").at(t0()).plan(&mut store);
    // Plan::at sets both now and the planned start; move the start later, as `plan --start` does.
    store
        .conn
        .execute("UPDATE deployments SET planned_ms = ?2 WHERE id = ?1", params![key.0, start.timestamp_millis()])
        .expect("moves");
    let lead = chrono::TimeDelta::minutes(30);
    assert_eq!(store.remind_starts(t0(), lead).expect("looks"), 0, "two hours ahead: not yet");
    let soon = start - chrono::TimeDelta::minutes(20);
    assert_eq!(store.remind_starts(soon, lead).expect("reminds"), 1);
    assert_eq!(store.remind_starts(soon + chrono::TimeDelta::minutes(1), lead).expect("looks"), 0, "once");
    let sam = store.notifications("sam", false, 10).expect("sam's");
    assert!(sam.iter().any(|n| n.kind == "start_approaching" && n.subject.contains("starts in 20 min")), "{sam:?}");
}

#[test]
fn a_start_reminder_names_the_start_in_the_configured_zone() {
    let (_dir, mut store) = open();
    store.set_zone(chrono_tz::Europe::Berlin);
    let key = testing::Plan::new("rolling", 4).requester("sam").at(t0()).plan(&mut store);
    let start = t0() + chrono::TimeDelta::hours(2);
    store
        .conn
        .execute("UPDATE deployments SET planned_ms = ?2 WHERE id = ?1", params![key.0, start.timestamp_millis()])
        .expect("moves");
    store.remind_starts(start - chrono::TimeDelta::minutes(20), chrono::TimeDelta::minutes(30)).expect("reminds");
    let sam = store.notifications("sam", false, 10).expect("sam's");
    let body = |kind: &str| sam.iter().find(|n| n.kind == kind).map(|n| n.body.clone()).unwrap_or_default();
    assert!(body("start_approaching").starts_with("Planned start 2026-11-26 13:00 CET."), "{sam:?}");
}
