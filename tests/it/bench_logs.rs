//! The benchmarks' log generator (`benches/log.rs`), built here at a small size in the default
//! `cargo test`: `shipdeck-bench` itself is only built with `--features bench`, so a generator
//! that the receiver's rules outgrew would otherwise break only when someone measures.

#[allow(dead_code)] // each benchmark uses a part; these tests build every kind of log
#[path = "../../benches/log.rs"]
mod log;

use chrono::{DateTime, TimeDelta, Utc};
use shipdeck::config::Config;
use shipdeck::domain::{DeploymentStatus, TargetStatus};
use shipdeck::store::Store;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}

#[test]
fn the_dashboard_bench_log_of_a_rollout_under_way_builds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bench.db");
    let spec = log::Spec { events: 3_000, targets: 200, live: log::Live::UnderWay };
    let key = log::build(&Config::built_in(), &db, &spec, now()).expect("the dashboard's log builds");
    let store = Store::open_existing(&db).expect("opens");
    let summary = store.summary(key).expect("the live deployment");
    assert_eq!(summary.targets, 200);
    assert_eq!((summary.succeeded, summary.failed), (140, 1), "70% done, 0.5% failed");
    let running = store.targets(key).expect("targets").iter().filter(|t| t.status == TargetStatus::Running).count();
    assert_eq!(running, log::running_hosts(200).len());
}

#[test]
fn the_ingest_bench_log_of_a_planned_deployment_builds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bench.db");
    let spec = log::Spec { events: 2_500, targets: 100, live: log::Live::Planned };
    let key = log::build(&Config::built_in(), &db, &spec, now()).expect("the ingest, latency and notify log builds");
    let store = Store::open_existing(&db).expect("opens");
    let summary = store.summary(key).expect("the live deployment");
    assert_eq!((summary.targets, summary.succeeded, summary.running), (100, 0, 0), "nothing reported yet");
}

#[test]
fn the_history_and_kpi_bench_log_of_years_builds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("years.db");
    let built = log::build_years(&Config::built_in(), &db, &log::Years { deployments: 60, large: 200 }, now())
        .expect("the years log builds");
    let store = Store::open_existing(&db).expect("opens");
    assert_eq!(store.summary(built.large).expect("the large one").status, DeploymentStatus::RolledBack);
    assert!(built.events > 60 * 10, "{} events", built.events);
}

#[test]
fn the_replay_bench_log_of_a_told_rollout_builds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("replay.db");
    let start = now() - TimeDelta::days(1);
    let (key, last) = log::build_rollout(&Config::built_in(), &db, 300, start).expect("the rollout log builds");
    let store = Store::open_existing(&db).expect("opens");
    let summary = store.summary(key).expect("the rollout");
    assert_eq!((summary.succeeded + summary.failed, summary.targets), (300, 300));
    assert!(last > start);
}
