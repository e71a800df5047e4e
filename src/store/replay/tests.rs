//! Replay against the log: at the last happening it equals the stored state on every
//! deployment of the demo's seeded history and of the dashboard's fixture, and on hand-built
//! logs it shows the moments in between.

use crate::config::Config;
use crate::domain::gate::{Decision, GateState};
use crate::domain::replay::{Happening, Replay};
use crate::domain::{DeploymentKey, DeploymentStatus, PhaseStatus, TargetStatus};
use crate::store::testing::{self, Plan, t0};
use crate::store::{DecisionRequest, ListFilter, Store};
use chrono::{DateTime, TimeDelta, Utc};

/// Replays `key` to its last happening and holds the result equal to what the log stored.
fn assert_replays_to_stored(store: &Store, key: DeploymentKey) {
    let log = store.replay_log(key).expect("reads");
    let stored = log.stored.clone();
    let mut replay = Replay::new(log);
    replay.seek(replay.len());
    let got = replay.detail();
    assert_eq!(got.summary, stored.summary, "{key}: summary");
    for (a, b) in got.phases.iter().zip(&stored.phases) {
        assert_eq!(a, b, "{key}: phase {}", b.name);
    }
    for (a, b) in got.target_list.iter().zip(&stored.target_list) {
        assert_eq!(a, b, "{key}: target {}", b.name);
    }
    assert_eq!(got, stored, "{key}");
    // Folding forward from the start and stepping back to the end from a checkpoint agree.
    replay.seek(0);
    replay.seek(replay.len());
    assert_eq!(replay.detail(), stored, "{key} after stepping back");
}

/// Seeks to `pos` and holds the targets handed over since the last seek (the dashboard's
/// partial hand-over) to what a full view shows.
fn seek_and_check_changes(replay: &mut Replay, shown: &mut Vec<crate::domain::records::TargetView>, pos: usize) {
    replay.seek(pos);
    match replay.take_changed() {
        None => *shown = replay.detail().target_list,
        Some(indices) => {
            for (i, t) in indices.iter().zip(replay.targets(&indices)) {
                shown[*i] = t;
            }
        }
    }
    assert_eq!(*shown, replay.detail().target_list, "targets handed over at {pos}");
}

fn every_key(store: &Store) -> Vec<DeploymentKey> {
    store.list(&ListFilter::default()).expect("lists").into_iter().map(|s| s.key).collect()
}

#[test]
fn replay_at_the_last_happening_equals_the_stored_state_on_every_seeded_demo_deployment() {
    let (_dir, mut store) = testing::open();
    let config = Config::built_in();
    let mut rng = crate::demo::rng::Rng::seeded(7);
    let seeded = crate::demo::history::seed(&mut store, &config, &mut rng, t0(), 60).expect("seeds");
    assert!(seeded.failed > 0 && seeded.rolled_back > 0, "the history has failures and rollbacks to replay");
    let keys = every_key(&store);
    assert!(keys.len() >= 50, "{} deployments", keys.len());
    let mut statuses = std::collections::HashSet::new();
    for key in keys {
        assert_replays_to_stored(&store, key);
        statuses.insert(store.summary(key).expect("summary").status);
    }
    for s in [DeploymentStatus::Succeeded, DeploymentStatus::RolledBack, DeploymentStatus::Aborted] {
        assert!(statuses.contains(&s), "the history holds a {s} deployment: {statuses:?}");
    }
}

#[test]
fn replay_at_the_last_happening_equals_the_stored_state_on_every_fixture_deployment() {
    let fixture = crate::tui::tests::fixture::build();
    let store = Store::open(&fixture.path).expect("opens");
    let keys = every_key(&store);
    assert!(keys.len() >= 7);
    for key in keys {
        assert_replays_to_stored(&store, key);
    }
}

fn line(key: DeploymentKey, host: &str, step: &str, status: &str, at: DateTime<Utc>) -> String {
    format!(
        r#"{{"id":"{host}-{step}-{status}-{}","deployment":"{key}","target":"{host}","step":"{step}","status":"{status}","at":"{}","message":"{step} {status} on {host}"}}"#,
        at.timestamp_millis(),
        at.to_rfc3339()
    )
}

fn decide(store: &mut Store, key: DeploymentKey, phase: &str, decision: Decision, person: &str, now: DateTime<Utc>) {
    store
        .decide(&DecisionRequest {
            key,
            phase,
            decision,
            person,
            os_user: "ci",
            comment: Some("seen"),
            reason: None,
            now,
            automatic: None,
        })
        .expect("recorded");
}

fn minutes(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(n)
}

#[test]
fn replay_shows_a_gate_pending_then_approved_then_its_phase_running() {
    let (_dir, mut store) = testing::open();
    let key = Plan::new("phased", 10).plan(&mut store);
    let pilot: Vec<String> =
        store.targets(key).expect("targets").into_iter().filter(|t| t.phase == "pilot").map(|t| t.name).collect();
    decide(&mut store, key, "pilot", Decision::Approve, "omar", minutes(5));
    let lines: Vec<String> = pilot.iter().map(|h| line(key, h, "download", "started", minutes(6))).collect();
    testing::ingest(&mut store, &lines, minutes(6));
    let mut replay = Replay::new(store.replay_log(key).expect("reads"));

    replay.seek_time(minutes(2));
    assert!(matches!(replay.last_happening(), Some(Happening::Tick(_))), "only the pre checklist, ticked at the plan");
    let view = replay.view(10);
    assert_eq!(view.detail.summary.status, DeploymentStatus::AwaitingApproval);
    let gate = &view.gates[0];
    assert_eq!((gate.phase.as_str(), gate.state, gate.approvals.len()), ("pilot", GateState::Pending, 0));
    assert!(view.decisions.is_empty() && view.tail.is_empty());

    replay.seek_time(minutes(5));
    let view = replay.view(10);
    assert_eq!(view.gates[0].state, GateState::Approved);
    assert_eq!(view.gates[0].approvals, ["omar"]);
    assert_eq!(view.decisions.len(), 1);
    assert_eq!(view.detail.summary.status, DeploymentStatus::Planned, "approved, nothing reported yet");
    assert_eq!(view.detail.phases[0].status, PhaseStatus::Pending);

    replay.seek(replay.len());
    let view = replay.view(10);
    assert_eq!(view.at, minutes(6));
    assert_eq!(view.detail.summary.status, DeploymentStatus::Running);
    assert_eq!(view.detail.phases[0].status, PhaseStatus::Running);
    assert_eq!(view.detail.phases[0].started_at, Some(minutes(6)));
    assert_eq!(view.tail.len(), 2);
    assert_eq!(view.detail, store.detail(key, true).expect("detail"));
}

#[test]
fn replay_shows_a_host_failed_then_retried_even_when_everything_happened_in_one_millisecond() {
    // The fixed clock stamps the failure, the retry and the second attempt alike: only the
    // order the log took them in tells them apart.
    let (_dir, mut store) = testing::open();
    let key = Plan::new("canary", 5).plan(&mut store);
    let now = t0();
    testing::ingest(&mut store, &[line(key, "web-01", "install", "failed", now)], now);
    decide(&mut store, key, "canary", Decision::Retry, "omar", now);
    let again = [line(key, "web-01", "install", "succeeded", now), line(key, "web-01", "verify", "started", now)];
    testing::ingest(&mut store, &again, now);
    let mut replay = Replay::new(store.replay_log(key).expect("reads"));
    assert_eq!(replay.len(), 4, "three events and a decision");

    replay.seek(1);
    let failed = replay.detail();
    assert_eq!(failed.summary.status, DeploymentStatus::Failed);
    assert_eq!(failed.phases[0].status, PhaseStatus::Failed);
    let web01 = &failed.target_list[0];
    assert_eq!((web01.name.as_str(), web01.status), ("web-01", TargetStatus::Failed));
    assert_eq!(web01.last_error.as_deref(), Some("install failed on web-01"));

    replay.seek(2);
    assert!(matches!(replay.last_happening(), Some(Happening::Decision(_))));
    let retried = replay.detail();
    assert_eq!(retried.target_list[0].status, TargetStatus::Pending);
    assert_eq!(retried.target_list[0].last_error, None);
    assert_eq!(retried.phases[0].status, PhaseStatus::Pending);
    assert_eq!(retried.summary.status, DeploymentStatus::Planned, "the canary runs again");

    replay.seek(4);
    let running = replay.detail();
    assert_eq!(running.target_list[0].status, TargetStatus::Running);
    assert_eq!(running.summary.status, DeploymentStatus::Running);
    assert_eq!(running, store.detail(key, true).expect("detail"));

    // Back to the failure from the end: the same state as on the way forward.
    replay.seek(1);
    assert_eq!(replay.detail(), failed);

    // Only the targets of the happenings stepped over are handed over again, the retried
    // phase's all of them.
    let mut shown = Vec::new();
    for pos in [0, 1, 2, 4, 3, 1, 2, 0, 4] {
        seek_and_check_changes(&mut replay, &mut shown, pos);
    }
}

#[test]
fn stepping_back_and_forth_over_a_long_log_matches_folding_from_the_start() {
    let (_dir, mut store) = testing::open();
    let hosts: Vec<String> = (1..=40).map(|i| format!("web-{i:02}")).collect();
    let key = Plan::new("big-bang", 40).targets(hosts.clone()).env("staging").plan(&mut store);
    for round in 0..30 {
        let lines: Vec<String> = hosts
            .iter()
            .map(|h| {
                let status = if round % 7 == 3 { "failed" } else { "started" };
                line(key, h, if round % 2 == 0 { "install" } else { "verify" }, status, minutes(round))
            })
            .collect();
        testing::ingest(&mut store, &lines, minutes(round));
    }
    let mut replay = Replay::new(store.replay_log(key).expect("reads"));
    assert!(replay.len() >= 1_200);
    // `status --at` folds once from the plan, without checkpoints: the same state.
    let fresh = |pos: usize| {
        let mut r = Replay::for_one_moment(store.replay_log(key).expect("reads"));
        r.seek(pos);
        r.detail()
    };
    let mut shown = Vec::new();
    for pos in [1_150, 3, 700, 699, 1_199, 256, 255, 0, 1_000, 1_010, 990, 991] {
        seek_and_check_changes(&mut replay, &mut shown, pos);
        assert_eq!(replay.detail(), fresh(pos), "at {pos}");
    }
}
