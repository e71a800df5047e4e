//! Gates in the log: pending on plan and after the phase before, decisions and their effects.

use super::*;
use crate::config::Config;
use crate::domain::event::parse_line;
use crate::store::Submission;
use crate::store::testing;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z").expect("valid").with_timezone(&Utc)
}

fn open() -> (tempfile::TempDir, Store, Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
    let config = Config::built_in();
    store.sync_team(&config.members(), &config.subscriptions()).expect("syncs");
    (dir, store, config)
}

fn plan(store: &mut Store, _config: &Config, model: &str, hosts: usize) -> DeploymentKey {
    testing::Plan::new(model, hosts).plan(store)
}

fn decide(
    store: &mut Store,
    _config: &Config,
    key: DeploymentKey,
    phase: &str,
    decision: Decision,
    person: &str,
    reason: Option<&str>,
) -> Result<DecisionOutcome, GateError> {
    testing::decide(store, key, phase, decision, person, reason, t0())
}

fn finish(store: &mut Store, key: DeploymentKey, hosts: &[&str], status: &str) {
    let nonce = store.last_seq().expect("seq");
    let events = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let line = format!(
                r#"{{"id":"{h}-{status}-{nonce}","deployment":"{key}","target":"{h}","step":"verify","status":"{status}","message":"verify {status} on {h}"}}"#
            );
            (i + 1, parse_line(&line, t0()).expect("valid"))
        })
        .collect();
    store.ingest(&[Submission { events, received_ms: t0().timestamp_millis() }]).expect("ingests");
}

fn status(store: &Store, key: DeploymentKey) -> DeploymentStatus {
    store.summary(key).expect("summary").status
}

#[test]
fn a_first_phase_gate_is_pending_at_plan_and_notifies_who_may_approve() {
    let (_dir, mut store, config) = open();
    let key = plan(&mut store, &config, "phased", 10);
    assert_eq!(status(&store, key), DeploymentStatus::AwaitingApproval);
    let gate = store.gate(key, "pilot").expect("gate");
    assert_eq!((gate.state, gate.required, gate.opened_at), (GateState::Pending, 1, Some(t0())));
    // pilot: deployment_manager or change_manager; dana requested it, so only omar.
    assert_eq!(store.notifications("omar", true, 10).expect("list").len(), 1);
    assert!(store.notifications("dana", true, 10).expect("list").iter().all(|n| n.kind == "gate_pending"));
    assert!(store.notifications("sam", true, 10).expect("list").is_empty());
    assert!(store.summary(key).expect("summary").started_at.is_none(), "awaiting approval is not a start");

    let refused = decide(&mut store, &config, key, "pilot", Decision::Approve, "dana", None).expect_err("self");
    assert!(matches!(refused, GateError::Refused(Refusal::SelfApproval { .. })), "{refused}");
    let ok = decide(&mut store, &config, key, "pilot", Decision::Approve, "omar", None).expect("recorded");
    assert_eq!((ok.allowed.after, ok.deployment_status), (GateState::Approved, DeploymentStatus::Planned));
    let told = store.notifications("dana", true, 10).expect("list");
    assert!(told.iter().any(|n| n.kind == "gate_decided" && n.subject.contains("approved")), "{told:?}");
    assert_eq!(store.mark_read("dana", &[], t0()).expect("marks"), told.len());
    assert_eq!(store.unread_count("dana").expect("count"), 0);
}

#[test]
fn the_next_gate_opens_when_the_phase_before_succeeds() {
    let (_dir, mut store, config) = open();
    let key = plan(&mut store, &config, "canary", 5);
    assert_eq!(status(&store, key), DeploymentStatus::Planned, "no gate on the canary phase");
    assert_eq!(store.gate(key, "fleet").expect("gate").state, GateState::Waiting);
    finish(&mut store, key, &["web-01"], "succeeded");
    let gate = store.gate(key, "fleet").expect("gate");
    assert_eq!((gate.state, gate.previous.as_ref().map(|p| p.name.as_str())), (GateState::Pending, Some("canary")));
    assert_eq!(status(&store, key), DeploymentStatus::AwaitingApproval);
    // canary's gate bakes 30 minutes after the canary succeeded.
    let refused = decide(&mut store, &config, key, "fleet", Decision::Approve, "lee", None).expect_err("baking");
    assert!(matches!(refused, GateError::Refused(Refusal::Bake { .. })), "{refused}");
    let inbox = store.inbox(Decider { name: "lee", roles: &["sre".into()] }, &[], &[], t0()).expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].needs_me() && inbox[0].blocked.as_ref().and_then(Refusal::opens_at).is_some());
    let sam = store.inbox(Decider { name: "sam", roles: &["release_engineer".into()] }, &[], &[], t0()).expect("inbox");
    assert!(!sam[0].needs_me(), "sam has no allowed role");
}

#[test]
fn a_rejection_halts_the_deployment_and_events_never_undo_it() {
    let (_dir, mut store, config) = open();
    let key = plan(&mut store, &config, "phased", 10);
    let refused = decide(&mut store, &config, key, "pilot", Decision::Reject, "omar", None).expect_err("reason");
    assert!(matches!(refused, GateError::Refused(Refusal::ReasonRequired { .. })));
    decide(&mut store, &config, key, "pilot", Decision::Reject, "omar", Some("wrong build")).expect("recorded");
    assert_eq!(status(&store, key), DeploymentStatus::Aborted);
    finish(&mut store, key, &["web-01", "web-02"], "succeeded");
    assert_eq!(status(&store, key), DeploymentStatus::Aborted);
    let gate = store.gate(key, "pilot").expect("gate");
    assert_eq!(gate.state, GateState::Rejected);
    assert_eq!(gate.rejection.map(|r| r.reason), Some("wrong build".into()));
}

#[test]
fn failed_phases_are_retried_aborted_or_rolled_back() {
    let (_dir, mut store, config) = open();
    let key = plan(&mut store, &config, "canary", 5);
    finish(&mut store, key, &["web-01"], "failed");
    assert_eq!(status(&store, key), DeploymentStatus::Failed);
    let refused = decide(&mut store, &config, key, "fleet", Decision::Retry, "omar", None).expect_err("not failed");
    assert!(matches!(refused, GateError::Refused(Refusal::NotFailed { .. })));
    decide(&mut store, &config, key, "canary", Decision::Retry, "lee", None).expect("recorded");
    assert_eq!(status(&store, key), DeploymentStatus::Planned, "the canary runs again");
    assert_eq!(store.phases(key).expect("phases")[0].status, PhaseStatus::Pending);
    finish(&mut store, key, &["web-01"], "failed");
    decide(&mut store, &config, key, "canary", Decision::Rollback, "lee", None).expect("recorded");
    assert_eq!(status(&store, key), DeploymentStatus::RolledBack);
    let again = decide(&mut store, &config, key, "canary", Decision::Abort, "lee", None).expect_err("halted");
    assert!(matches!(again, GateError::Refused(Refusal::Halted { .. })));
}

#[test]
fn the_audit_chain_notices_a_changed_or_removed_record() {
    let (_dir, mut store, config) = open();
    for _ in 0..3 {
        let key = plan(&mut store, &config, "phased", 4);
        decide(&mut store, &config, key, "pilot", Decision::Approve, "omar", None).expect("recorded");
    }
    assert_eq!(store.audit_verify().expect("reads"), Ok(3));
    let records = store.audit_records(None).expect("records");
    assert_eq!(records[1].prev_hash, records[0].hash);
    assert_eq!(records[0].os_user.as_deref(), Some("ci"));
    store.conn.execute("UPDATE gate_decisions SET comment = 'edited' WHERE id = 2", []).expect("edits");
    assert_eq!(store.audit_verify().expect("reads"), Err(AuditProblem::Changed { id: 2 }));
    store.conn.execute("DELETE FROM gate_decisions WHERE id = 2", []).expect("deletes");
    assert_eq!(store.audit_verify().expect("reads"), Err(AuditProblem::Removed { id: 2, prev: 1, next: 3 }));
}
