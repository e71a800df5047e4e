//! A log written by the first schema (migration 0001 only) is upgraded in place to the current
//! one, keeps everything it held and works as any log does.
//!
//! `tests/fixtures/v1.db` was made by applying `0001_init.sql` alone to a new file and copying
//! in the rows of a small log: `DEP-1`, billing@1.4.0 to staging on the big-bang model
//! (requested by dana), three hosts, six events (ids e1..e6): web-1 succeeded, web-2 failed
//! its install ("disk full"), web-3 not started. Migrations are append only: never edit one
//! that shipped, and never regenerate this file.

use crate::support;
use support::Env;

fn upgraded() -> Env {
    let env = Env::new();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1.db");
    std::fs::copy(fixture, &env.db).expect("copies the version-1 log");
    env
}

#[test]
fn a_version_1_log_is_upgraded_and_keeps_its_deployments_and_events() {
    let env = upgraded();
    let status = env.run(&["status", "DEP-1", "--json"]).json();
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["release"], "billing");
    let targets = status["target_list"].as_array().expect("targets");
    let of = |name: &str| targets.iter().find(|t| t["name"] == name).map(|t| t["status"].clone());
    assert_eq!(
        (of("web-1"), of("web-2"), of("web-3")),
        (Some("succeeded".into()), Some("failed".into()), Some("pending".into()))
    );
    let events = env.run(&["events", "DEP-1", "--json"]);
    let ids: Vec<String> = events
        .ok()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("a JSON line")["id"].as_str().expect("id").to_owned()
        })
        .collect();
    // In the order they happened (web-2's events fall between web-1's).
    assert_eq!(ids, ["e1", "e5", "e2", "e6", "e3", "e4"]);
}

#[test]
fn an_upgraded_log_dedupes_old_ids_and_takes_decisions_into_an_intact_audit() {
    let env = upgraded();
    // A resend of an event stored under version 1 is a duplicate; new events are stored.
    let resend = support::event("e6", "DEP-1", "web-2", "install", "failed");
    let new = support::event("n1", "DEP-1", "web-3", "install", "started");
    let out = env.run_with_stdin(&["ingest", "-"], &format!("{resend}\n{new}\n")).json();
    assert_eq!((out["accepted"].as_u64(), out["duplicates"].as_u64()), (Some(1), Some(1)), "{out}");
    // The gate tables came with the upgrade, but no team: decisions wait for one (fail closed).
    let early = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["retry", "DEP-1", "all"]);
    assert_eq!(early.code, 1, "{}", early.stderr);
    assert!(early.stderr.contains("the log holds no team yet"), "{}", early.stderr);
    // Once the team is stored (the first sync of a log seeds it; audited), the requester retries.
    env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["team", "sync"]).ok();
    let retry = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["retry", "DEP-1", "all"]);
    assert!(retry.ok().starts_with("recorded: DEP-1 all retry by dana"), "{}", retry.stdout);
    // Three records: the upgrade's seal of what the log held, the team sync and the retry.
    assert!(env.run(&["audit", "verify"]).ok().contains("3 record(s)"));
    let trail = env.run(&["audit", "list", "--json"]).ok().to_owned();
    let first: serde_json::Value = serde_json::from_str(trail.lines().next().expect("records")).expect("json");
    assert_eq!((first["decision"].as_str(), first["person"].as_str()), (Some("seal"), Some("shipdeck")));
}

#[test]
fn a_plan_stored_before_seals_is_sealed_by_the_upgrade_and_a_later_change_is_named() {
    let env = upgraded();
    assert!(env.run(&["audit", "verify"]).ok().contains("1 record(s)"));
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    conn.execute("UPDATE phases SET failure_budget = failure_budget + 5", []).expect("tampers");
    drop(conn);
    let verify = env.run(&["audit", "verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify
            .stderr
            .contains("audit record 1 sealed: DEP-1: its plan (a phase, a gate policy or the targets) was changed"),
        "{}",
        verify.stderr
    );
}
