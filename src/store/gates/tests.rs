//! Gates in the log: pending on plan and after the phase before, decisions and their effects.

use super::*;
use crate::config::Config;
use crate::domain::event::parse_line;
use crate::domain::gate::GateState;
use crate::store::Submission;
use crate::store::testing;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z").expect("valid").with_timezone(&Utc)
}

fn open() -> (tempfile::TempDir, Store, Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
    let config = Config::built_in();
    store
        .sync_team(&config.team(), &config.subscriptions(), crate::store::SyncBy::Seed { os_user: "test" }, t0())
        .expect("syncs");
    (dir, store, config)
}

fn plan(store: &mut Store, _config: &Config, model: &str, hosts: usize) -> DeploymentKey {
    testing::Plan::new(model, hosts).plan(store)
}

/// `_config` is the caller's: it counts for nothing, the log's team and time rules decide.
fn decide(
    store: &mut Store,
    _config: &Config,
    key: DeploymentKey,
    phase: &str,
    decision: Decision,
    person: &str,
    reason: Option<&str>,
) -> Result<DecisionOutcome, GateError> {
    store.decide(&DecisionRequest {
        key,
        phase,
        decision,
        person,
        os_user: "ci",
        comment: Some("looks good"),
        reason,
        now: t0(),
        automatic: None,
    })
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
    let inbox = store.inbox(Decider { name: "lee", roles: &["sre".into()] }, t0()).expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].needs_me() && inbox[0].blocked.as_ref().and_then(Refusal::opens_at).is_some());
    let sam = store.inbox(Decider { name: "sam", roles: &["release_engineer".into()] }, t0()).expect("inbox");
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
    // Recovery has its own roles (the canary model's: deployment_manager, sre), not the union of
    // the gates' roles: priya, a service owner who may approve the fleet's gate, may not retry.
    let priya =
        decide(&mut store, &config, key, "canary", Decision::Retry, "priya", None).expect_err("not a recovery role");
    assert!(
        matches!(priya, GateError::Refused(Refusal::Role { ref roles, .. }) if *roles == ["deployment_manager", "sre"]),
        "{priya}"
    );
    decide(&mut store, &config, key, "canary", Decision::Retry, "omar", None).expect("recorded");
    assert_eq!(status(&store, key), DeploymentStatus::Planned, "the canary runs again");
    assert_eq!(store.phases(key).expect("phases")[0].status, PhaseStatus::Pending);
    finish(&mut store, key, &["web-01"], "failed");
    decide(&mut store, &config, key, "canary", Decision::Rollback, "dana", None).expect("the requester may");
    assert_eq!(status(&store, key), DeploymentStatus::RolledBack);
    let again = decide(&mut store, &config, key, "canary", Decision::Abort, "omar", None).expect_err("halted");
    assert!(matches!(again, GateError::Refused(Refusal::Halted { .. })));
}

#[test]
fn the_audit_chain_notices_a_changed_or_removed_record() {
    let (_dir, mut store, config) = open();
    for _ in 0..3 {
        let key = plan(&mut store, &config, "phased", 4);
        decide(&mut store, &config, key, "pilot", Decision::Approve, "omar", None).expect("recorded");
    }
    // Record 1 is the team seeded into the new log; then each plan, its `pre` tick and approval.
    assert_eq!(store.audit_verify().expect("reads"), Ok(10));
    let records = store.audit_records(None).expect("records");
    assert_eq!(records[0].decision, crate::store::TEAM_SYNC);
    assert_eq!(records[1].prev_hash, records[0].hash);
    assert_eq!(records[1].decision, crate::store::PLAN);
    assert_eq!((records[2].decision.as_str(), records[2].subject.as_deref()), ("check", Some("artifacts")));
    assert_eq!(records[3].os_user.as_deref(), Some("ci"));
    store.conn.execute("UPDATE gate_decisions SET comment = 'edited' WHERE id = 4", []).expect("edits");
    assert_eq!(store.audit_verify().expect("reads"), Err(AuditProblem::Changed { id: 4 }));
    store.conn.execute("DELETE FROM gate_decisions WHERE id = 4", []).expect("deletes");
    assert_eq!(store.audit_verify().expect("reads"), Err(AuditProblem::Removed { id: 4, prev: 3, next: 5 }));
}

/// Rehashes every record after an edit, as someone able to write the file could.
fn rewrite_whole_chain(store: &mut Store) {
    let conn = &store.conn;
    conn.execute("UPDATE gate_decisions SET comment = 'rewritten' WHERE id = 2", []).expect("edits");
    let sql = format!("{} ORDER BY g.id", audit::RECORD_SELECT);
    let rows: Vec<_> = conn
        .prepare(&sql)
        .expect("prepares")
        .query_map([], audit::raw)
        .expect("reads")
        .map(|r| r.expect("row"))
        .collect();
    let mut prev = audit::GENESIS.to_owned();
    for mut row in rows {
        row.11 = prev.clone();
        let h = audit::hash(&audit::canonical(&row));
        conn.execute("UPDATE gate_decisions SET prev_hash = ?2, hash = ?3 WHERE id = ?1", params![row.0, row.11, h])
            .expect("rehashes");
        prev = h;
    }
    conn.execute("UPDATE audit_head SET hash = ?1", [prev]).expect("moves the head");
}

#[test]
fn a_head_kept_elsewhere_detects_a_rewrite_of_the_whole_chain() {
    let (_dir, mut store, config) = open();
    let key = plan(&mut store, &config, "phased", 4);
    decide(&mut store, &config, key, "pilot", Decision::Approve, "omar", None).expect("recorded");
    let (count, head) = store.audit_head().expect("head");
    assert_eq!(count, 4, "the team, the plan, the `pre` tick, the approval");
    assert_eq!(store.audit_find(&head).expect("reads"), Some(4));
    rewrite_whole_chain(&mut store);
    assert_eq!(store.audit_verify().expect("reads"), Ok(4), "the rewritten chain is consistent in itself");
    assert_eq!(store.audit_find(&head).expect("reads"), None, "but the kept head is gone from it");
}

#[test]
fn a_refused_decision_is_in_the_audit_trail_and_counts_for_nothing() {
    let (_dir, mut store, config) = open();
    let key = plan(&mut store, &config, "phased", 4);
    let refused = decide(&mut store, &config, key, "pilot", Decision::Approve, "priya", None).expect_err("no role");
    assert!(matches!(refused, GateError::Refused(Refusal::Role { .. })));
    let records = store.audit_records(Some(key)).expect("records");
    let last = records.last().expect("the refusal is recorded");
    assert_eq!(
        (last.decision.as_str(), last.person.as_str(), last.outcome.as_deref()),
        ("approve", "priya", Some("refused"))
    );
    assert_eq!(last.policy_state["refused"]["rule"]["rule"], "role");
    assert!(store.gate(key, "pilot").expect("gate").approvals.is_empty());
    assert_eq!(store.audit_verify().expect("reads"), Ok(4));
}

#[test]
fn another_config_granting_a_role_counts_for_nothing_the_log_s_team_decides() {
    let (_dir, mut store, config) = open();
    let key = plan(&mut store, &config, "phased", 4);
    // priya's own config makes her a deployment manager; the log's team says service_owner.
    let mut own = config.clone();
    if let Some(p) = own.people.iter_mut().find(|p| p.name == "priya") {
        p.roles = vec!["deployment_manager".into()];
    }
    let refused = decide(&mut store, &own, key, "pilot", Decision::Approve, "priya", None).expect_err("log's team");
    assert!(matches!(refused, GateError::Refused(Refusal::Role { .. })), "{refused}");
    // And she cannot store that config as the team: she holds no admin role of the stored one.
    let by = crate::store::SyncBy::Person { name: "priya", os_user: "priya" };
    let err = store.sync_team(&own.team(), &own.subscriptions(), by, t0()).expect_err("not an admin");
    assert!(matches!(err, crate::store::TeamError::NotAllowed { .. }), "{err}");
    assert_eq!(store.team().expect("reads").expect("team").person("priya").expect("priya").roles, ["service_owner"]);
    let last = store.audit_records(None).expect("records").pop().expect("records");
    assert_eq!((last.decision.as_str(), last.outcome.as_deref()), (crate::store::TEAM_SYNC, Some("refused")));
}

#[test]
fn a_gate_whose_stored_json_does_not_parse_is_an_error_never_no_gate() {
    let (_dir, mut store, config) = open();
    let key = plan(&mut store, &config, "phased", 10);
    store
        .conn
        .execute("UPDATE phases SET gate = '{\"approvals\": ' WHERE deployment_id = ?1 AND name = 'wave-1'", [key.0])
        .expect("corrupts");
    for phase in ["pilot", "wave-1"] {
        let err = decide(&mut store, &config, key, phase, Decision::Approve, "omar", None).expect_err("fails closed");
        assert!(matches!(err, GateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("wave-1") && err.to_string().contains("does not parse"), "{err}");
    }
    let err = store.gate(key, "wave-1").expect_err("fails closed");
    assert!(err.to_string().contains("does not parse"), "{err}");
}

#[test]
fn os_login_identity_holds_four_eyes_by_account_and_declared_mode_flags_it() {
    let (_dir, mut store, mut config) = open();
    let key = plan(&mut store, &config, "phased", 4);
    store
        .conn
        .execute("UPDATE deployments SET planned_os_user = 'ci' WHERE id = ?1", [key.0])
        .expect("planned from ci");
    // Declared: omar approving from the account that planned is recorded, and flagged.
    let out = decide(&mut store, &config, key, "pilot", Decision::Approve, "omar", None).expect("declared");
    assert!(out.flags.iter().any(|f| f.starts_with("planned and approved from one account")), "{:?}", out.flags);
    assert!(out.flags.iter().any(|f| f == "acted as omar from account ci"), "{:?}", out.flags);
    // os-login: the same is refused.
    config.identity = crate::domain::team::IdentityMode::OsLogin;
    let by = crate::store::SyncBy::Person { name: "omar", os_user: "omar" };
    store.sync_team(&config.team(), &config.subscriptions(), by, t0()).expect("omar is an admin");
    let key = plan(&mut store, &config, "phased", 4);
    store
        .conn
        .execute("UPDATE deployments SET planned_os_user = 'ci' WHERE id = ?1", [key.0])
        .expect("planned from ci");
    let err = decide(&mut store, &config, key, "pilot", Decision::Approve, "omar", None).expect_err("same account");
    assert!(matches!(err, GateError::Refused(Refusal::SameAccount { .. })), "{err}");
}

fn signing_key() -> std::sync::Arc<crate::domain::signing::SigningKey> {
    let der = crate::domain::signing::SigningKey::generate().expect("generates");
    std::sync::Arc::new(crate::domain::signing::SigningKey::from_pkcs8(&der).expect("parses"))
}

#[test]
fn records_appended_with_the_key_verify_with_it_and_fail_with_another() {
    let (_dir, mut store, config) = open();
    // Record 1 (the team seeded into the new log) was appended before the key was set, through
    // a statement cached then: it predates signing, and what follows is signed all the same.
    let key = signing_key();
    store.set_signing_key(key.clone()).expect("sets");
    let dep = plan(&mut store, &config, "phased", 4);
    decide(&mut store, &config, dep, "pilot", Decision::Approve, "omar", None).expect("recorded");
    let public = key.public();
    assert_eq!(
        store.audit_verify_signed(Some(&public)).expect("reads"),
        Ok(AuditVerified { count: 4, unsigned_before: 1 })
    );
    let other = signing_key().public();
    assert_eq!(store.audit_verify_signed(Some(&other)).expect("reads"), Err(AuditProblem::NotSigned { id: 2 }));
    assert_eq!(store.audit_verify().expect("reads"), Ok(4), "the chain alone knows nothing of keys");
}

#[test]
fn a_record_appended_without_the_key_after_signed_ones_fails_naming_it() {
    let (dir, mut store, config) = open();
    let key = signing_key();
    store.set_signing_key(key.clone()).expect("sets");
    let dep = plan(&mut store, &config, "phased", 4);
    // Another connection to the same file, without the key: a correct chain, no signature.
    let mut intruder = Store::open(&dir.path().join("log.db")).expect("opens");
    decide(&mut intruder, &config, dep, "pilot", Decision::Approve, "omar", None).expect("recorded");
    assert_eq!(store.audit_verify().expect("reads"), Ok(4));
    assert_eq!(store.audit_verify_signed(Some(&key.public())).expect("reads"), Err(AuditProblem::NotSigned { id: 4 }));
}

#[test]
fn a_rewritten_chain_keeps_no_valid_signature() {
    let (_dir, mut store, config) = open();
    let key = signing_key();
    store.set_signing_key(key.clone()).expect("sets");
    let dep = plan(&mut store, &config, "phased", 4);
    decide(&mut store, &config, dep, "pilot", Decision::Approve, "omar", None).expect("recorded");
    rewrite_whole_chain(&mut store);
    assert_eq!(store.audit_verify().expect("reads"), Ok(4));
    assert_eq!(store.audit_verify_signed(Some(&key.public())).expect("reads"), Err(AuditProblem::NotSigned { id: 2 }));
    // Stripping every signature leaves nothing signed: refused too, not "all predate signing".
    store.conn.execute("UPDATE gate_decisions SET signature = NULL", []).expect("strips");
    assert_eq!(
        store.audit_verify_signed(Some(&key.public())).expect("reads"),
        Err(AuditProblem::NoneSigned { count: 4 })
    );
}
