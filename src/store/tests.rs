use super::*;
use crate::domain::event::parse_line;
use crate::domain::{DeploymentStatus, PhaseStatus, TargetStatus};
use chrono::{DateTime, Utc};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z").expect("valid").with_timezone(&Utc)
}

fn planned(store: &mut Store, model: &str, hosts: usize) -> DeploymentKey {
    testing::Plan::new(model, hosts).change("CHG-1").plan(store)
}

fn submit(store: &mut Store, lines: &[String]) -> IngestOutcome {
    testing::ingest(store, lines, t0())
}

fn ev(key: DeploymentKey, id: &str, target: &str, step: &str, status: &str, minute: u32) -> String {
    format!(
        r#"{{"id":"{id}","deployment":"{key}","target":"{target}","step":"{step}","status":"{status}","at":"2026-11-26T10:{minute:02}:00Z","message":"{step} {status}"}}"#
    )
}

use crate::domain::DeploymentKey;
use crate::domain::conformance::FlagKind;

use super::testing::{self, open};

#[test]
fn events_drive_target_phase_and_deployment_status() {
    let (_dir, mut store) = open();
    let key = planned(&mut store, "phased", 10);
    let mut lines = Vec::new();
    for (n, host) in ["web-01", "web-02"].iter().enumerate() {
        for (i, step) in ["download", "install", "verify"].iter().enumerate() {
            lines.push(ev(
                key,
                &format!("{host}-{step}"),
                host,
                step,
                "succeeded",
                u32::try_from(n * 3 + i).expect("small"),
            ));
        }
    }
    let out = submit(&mut store, &lines);
    assert_eq!((out.accepted, out.duplicates, out.rejected.len()), (6, 0, 0));
    let d = store.detail(key, true).expect("detail");
    assert_eq!(d.phases[0].status, PhaseStatus::Succeeded);
    assert_eq!(d.phases[0].succeeded, 2);
    assert_eq!(d.phases[1].status, PhaseStatus::Pending);
    // Nobody approved the pilot's gate: the agents ran past it. The status follows what they
    // did, and the log flags every one of those events.
    assert_eq!(d.summary.status, DeploymentStatus::Running);
    let flags = store.conformance(Some(key)).expect("flags");
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!((flags[0].kind, flags[0].phase.as_deref(), flags[0].count), (FlagKind::AheadOfGate, Some("pilot"), 6));
    assert_eq!(flags[0].sample_targets, ["web-01", "web-02"]);
    assert_eq!(d.summary.current_phase.as_deref(), Some("wave-1"));
    assert_eq!(d.target_list[0].status, TargetStatus::Succeeded);
    assert_eq!(d.target_list[0].last_step.as_deref(), Some("verify"));
}

#[test]
fn a_resent_id_is_a_duplicate_and_changes_nothing() {
    let (_dir, mut store) = open();
    let key = planned(&mut store, "phased", 10);
    let first = submit(&mut store, &[ev(key, "a", "web-01", "install", "failed", 1)]);
    assert_eq!(first.accepted, 1);
    let again = submit(
        &mut store,
        &[ev(key, "a", "web-01", "install", "succeeded", 2), ev(key, "a", "web-01", "install", "succeeded", 2)],
    );
    assert_eq!((again.accepted, again.duplicates), (0, 2));
    assert_eq!(store.events(key, 100).expect("events").len(), 1);
    assert_eq!(store.detail(key, true).expect("detail").target_list[0].status, TargetStatus::Failed);
    // The same id in another deployment is a different event.
    let other = planned(&mut store, "phased", 10);
    assert_eq!(submit(&mut store, &[ev(other, "a", "web-01", "install", "started", 1)]).accepted, 1);
}

#[test]
fn a_phase_fails_when_failures_exceed_its_budget() {
    let (_dir, mut store) = open();
    let key = planned(&mut store, "phased", 10);
    let out = submit(&mut store, &[ev(key, "x", "web-02", "install", "failed", 1)]);
    assert_eq!(out.accepted, 1);
    let d = store.detail(key, false).expect("detail");
    assert_eq!((d.phases[0].status, d.phases[0].budget_left), (PhaseStatus::Failed, 0));
    assert_eq!(d.summary.status, DeploymentStatus::Failed);
    assert!(d.summary.finished_at.is_some());
}

#[test]
fn lines_that_do_not_fit_the_log_are_rejected_and_the_rest_stored() {
    let (_dir, mut store) = open();
    let key = planned(&mut store, "phased", 10);
    let lines = [
        ev(key, "ok-1", "web-01", "install", "started", 1),
        ev(DeploymentKey(99), "b", "web-01", "install", "started", 1),
        ev(key, "c", "db-01", "install", "started", 1),
        format!(
            r#"{{"id":"d","deployment":"{key}","target":"web-01","phase":"wave-2","step":"install","status":"started"}}"#
        ),
        ev(key, "e", "web-01", "reboot", "started", 1),
        format!(r#"{{"id":"f","deployment":"{key}","phase":"nope","step":"smoke","status":"info"}}"#),
        ev(key, "ok-2", "web-01", "reboot", "info", 1),
    ];
    let out = submit(&mut store, &lines);
    // A target that is not in the plan is stored (the log records what agents reported) and
    // flagged.
    assert_eq!(out.accepted, 3);
    let errors: Vec<(usize, &str)> = out.rejected.iter().map(|r| (r.line, r.error.as_str())).collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].1.contains("unknown deployment \"DEP-99\""), "{errors:?}");
    assert!(
        errors[1].1.contains("\"wave-2\" does not match target \"web-01\", which is in phase \"pilot\""),
        "{errors:?}"
    );
    assert!(errors[2].1.contains("\"reboot\" is not a lifecycle step"), "{errors:?}");
    assert!(errors[3].1.contains("\"nope\" is not a phase of"), "{errors:?}");
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 4, 5, 6]);
    let unplanned: Vec<_> = store.events(key, 10).expect("events").into_iter().filter(|e| e.id == "c").collect();
    assert_eq!(unplanned[0].target.as_deref(), Some("db-01"), "the event keeps the target it named");
    let flag = store.conformance(Some(key)).expect("flags").into_iter().find(|f| f.kind == FlagKind::UnplannedTarget);
    assert_eq!(flag.map(|f| (f.count, f.sample_targets)), Some((1, vec!["db-01".to_owned()])));
}

#[test]
fn a_log_from_a_newer_version_is_refused() {
    let (dir, store) = open();
    store.conn.pragma_update(None, "user_version", 99).expect("set");
    drop(store);
    let err = Store::open(&dir.path().join("log.db")).expect_err("too new");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn opening_a_missing_log_for_reading_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Store::open_existing(&dir.path().join("nope.db")).expect_err("missing");
    assert!(err.to_string().starts_with("no deployment log at"), "{err}");
    assert!(!dir.path().join("nope.db").exists());
}

#[test]
fn a_writer_sees_what_another_process_wrote_to_a_target_it_holds_in_memory() {
    let (dir, mut a) = open();
    let key = planned(&mut a, "phased", 10);
    let mut b = Store::open(&dir.path().join("log.db")).expect("a second connection");
    // `a` caches web-01's state; `b` (another process) records a failure of it; `a` goes on.
    submit(&mut a, &[ev(key, "1", "web-01", "download", "succeeded", 1)]);
    submit(&mut b, &[ev(key, "2", "web-01", "install", "failed", 2)]);
    submit(&mut a, &[ev(key, "3", "web-01", "verify", "started", 3)]);
    let d = a.detail(key, true).expect("detail");
    assert_eq!(d.target_list[0].status, TargetStatus::Failed, "the failure written by the other connection counts");
    assert_eq!((d.phases[0].failed, d.phases[0].running), (1, 0), "counts moved exactly once");
    // The other connection's id is known to `a` too: a resend through `a` is a duplicate.
    assert_eq!(submit(&mut a, &[ev(key, "2", "web-01", "install", "failed", 2)]).duplicates, 1);
}

/// The receiver's writer and reader (`Store::open`) and every CLI command and dashboard
/// (`Store::open_existing`) commit with `synchronous=FULL`, as the README promises.
#[test]
fn every_connection_commits_with_synchronous_full() {
    let (dir, created) = open();
    assert_eq!(created.synchronous().expect("reads"), "FULL");
    let existing = Store::open_existing(&dir.path().join("log.db")).expect("opens");
    assert_eq!(existing.synchronous().expect("reads"), "FULL");
    let mut bulk = Store::open(&dir.path().join("log.db")).expect("opens");
    bulk.relax_durability_for_bulk_load().expect("relaxes");
    assert_eq!(bulk.synchronous().expect("reads"), "OFF", "only the demo's history load relaxes it");
}

#[cfg(unix)]
fn make_read_only(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
}

#[test]
#[cfg(unix)]
fn a_read_only_file_opens_read_only_and_nothing_can_be_written() {
    let (dir, mut store) = open();
    let key = planned(&mut store, "phased", 3);
    drop(store);
    let path = dir.path().join("log.db");
    make_read_only(&path);
    let mut ro = Store::open_read_only(&path).expect("a read-only file opens read-only");
    assert!(ro.is_read_only());
    assert_eq!(ro.detail(key, true).expect("reads").target_list.len(), 3);
    let events = vec![(1, parse_line(&ev(key, "x", "web-01", "download", "started", 1), t0()).expect("valid"))];
    let err = ro
        .ingest(&[Submission { events, received_ms: t0().timestamp_millis() + 60_000 }])
        .expect_err("the connection cannot write");
    assert!(err.to_string().contains("readonly"), "{err}");
}

#[test]
fn a_read_only_open_reports_a_log_that_needs_a_migration_and_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("creates");
        conn.execute_batch(include_str!("migrations/0001_init.sql")).expect("first migration");
        conn.pragma_update(None, "user_version", 1).expect("version");
    }
    let err = Store::open_read_only(&path).expect_err("needs a migration");
    assert!(matches!(err, StoreError::NeedsMigration { found: 1, .. }), "{err}");
    assert!(err.to_string().contains("without --read-only"), "{err}");
    let conn = rusqlite::Connection::open(&path).expect("reopens");
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("reads");
    assert_eq!(version, 1, "not migrated");
    drop(conn);
    Store::open_existing(&path).expect("a read-write open migrates it");
}

#[test]
fn a_lost_host_is_not_heard_from_by_its_synthetic_event() {
    // web-01's agent starts its install at 10:00 and falls silent; at 10:04 the pipeline gives
    // up on it and reports the step failed on its behalf.
    let (_dir, mut store) = open();
    let key = planned(&mut store, "big-bang", 2);
    testing::ingest(&mut store, &[ev(key, "a1", "web-01", "install", "started", 0)], t0());
    let lost = format!(
        r#"{{"id":"lost-1","deployment":"{key}","target":"web-01","step":"install","status":"failed","at":"2026-11-26T10:04:00Z","message":"agent lost: no report for 240s; marked failed by the pipeline","data":{{"reported_by":"pipeline"}}}}"#
    );
    let later = t0() + chrono::TimeDelta::minutes(4);
    testing::ingest(&mut store, &[lost], later);
    let web01 = |targets: Vec<crate::domain::records::TargetView>| {
        targets.into_iter().find(|t| t.name == "web-01").expect("web-01")
    };
    let t = web01(store.detail(key, true).expect("detail").target_list);
    assert_eq!(t.status, TargetStatus::Failed);
    assert_eq!(t.last_at, Some(later), "the pipeline's report is its last step");
    assert_eq!(t.seen_at, Some(t0()), "heard from its agent at 10:00, not at the pipeline's 10:04");
    // A replay folds the same way.
    let mut replay = crate::domain::replay::Replay::new(store.replay_log(key).expect("reads"));
    replay.seek(replay.len());
    assert_eq!(web01(replay.detail().target_list).seen_at, Some(t0()));
    // An agent's own event is still hearing from it.
    testing::ingest(&mut store, &[ev(key, "a2", "web-01", "install", "started", 5)], later);
    assert_eq!(web01(store.detail(key, true).expect("detail").target_list).seen_at, Some(later));
}
