//! A small, realistic deployment log built through the real planning and ingest APIs.
//!
//! Seven deployments: an old success in staging, a canary that failed this morning, a phased
//! rollout under way (with a failure, running hosts and one silent host), a planned rolling
//! deployment, and three phased ones at a gate: one approved once of twice, one still baking
//! before an evening change window, one whose first phase awaits a deployment manager. Gates
//! are decided through the real `Store::decide`. The clock is fixed, so ages, silence and the
//! header clock never change.

use crate::clock::FixedClock;
use crate::config::Config;
use crate::domain::gate::Decision;
use crate::domain::{AgentEvent, DeploymentKey, EventStatus};
use crate::store::testing::Plan;
use crate::store::{Store, Submission};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;

/// The fixed "now" of every snapshot: Thursday 2026-11-26, 11:30 in Berlin.
pub fn now() -> DateTime<Utc> {
    at("2026-11-26T10:30:00Z")
}

pub fn clock() -> crate::clock::SharedClock {
    Arc::new(FixedClock(now()))
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("valid time").with_timezone(&Utc)
}

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub path: PathBuf,
    /// The phased rollout under way.
    pub running: DeploymentKey,
    /// Staging, wave-1 approved by priya, one more approval needed: lee may approve it.
    pub half_approved: DeploymentKey,
    /// Production, wave-1 baking until 11:35, window opens at 18:00.
    pub baking: DeploymentKey,
    /// Production, its pilot gate needs a deployment or change manager (not lee).
    pub not_lee: DeploymentKey,
    /// The canary that failed.
    pub failed: DeploymentKey,
}

/// The operator of the screen tests: a service owner and SRE.
pub const OPERATOR: &str = "lee";

fn plan(store: &mut Store, release: &str, env: &str, model: &str, hosts: &[String], planned: &str) -> DeploymentKey {
    plan_by(store, release, env, model, hosts, planned, "dana")
}

pub fn plan_by(
    store: &mut Store,
    release: &str,
    env: &str,
    model: &str,
    hosts: &[String],
    planned: &str,
    requester: &str,
) -> DeploymentKey {
    let plan =
        Plan::new(model, 0).release(release).env(env).targets(hosts.to_vec()).requester(requester).at(at(planned));
    if env == "production" { plan.change("CHG-1042") } else { plan }.plan(store)
}

/// Records a decision as `person` at `when`, as the dashboard and the CLI do.
pub fn decide(store: &mut Store, key: DeploymentKey, phase: &str, person: &str, decision: Decision, when: &str) {
    let config = Config::built_in();
    let ask = crate::decide::Ask {
        key,
        phase: phase.to_owned(),
        decision,
        comment: None,
        reason: (decision == Decision::Reject).then(|| "not now".to_owned()),
    };
    let who = crate::decide::Operator::named(&config, person, person);
    crate::decide::Desk::new(&config, who).decide(store, &ask, at(when)).expect("decided");
}

/// Every host of `hosts` runs the three phased steps from `from`, all received at `received`.
pub fn phase_ok(store: &mut Store, key: DeploymentKey, hosts: &[String], from: &str, received: &str) {
    let mut evs = Vec::new();
    for h in hosts {
        let ok = Some(EventStatus::Succeeded);
        evs.extend(events(&Run { key, host: h, steps: &["download", "install", "verify"], from, last: ok, error: "" }));
    }
    ingest(store, evs, received);
}

/// One target's steps, each `started` then `succeeded` (or `failed` with a message at the end).
pub struct Run<'a> {
    pub key: DeploymentKey,
    pub host: &'a str,
    pub steps: &'a [&'a str],
    /// Agent time of the first event, RFC 3339.
    pub from: &'a str,
    /// The last step's outcome: `Some(Succeeded | Failed)`, or `None` when it only started.
    pub last: Option<EventStatus>,
    pub error: &'a str,
}

pub fn events(run: &Run<'_>) -> Vec<AgentEvent> {
    let mut t = at(run.from);
    let mut out = Vec::new();
    for (i, step) in run.steps.iter().enumerate() {
        let last = i + 1 == run.steps.len();
        let mut push = |status: EventStatus, message: String| {
            out.push(AgentEvent {
                id: format!("{}-{step}-{}", run.host, status.as_str()),
                deployment: run.key.to_string(),
                target: Some(run.host.to_owned()),
                phase: None,
                step: (*step).to_owned(),
                status,
                at: t,
                message: Some(message).filter(|m| !m.is_empty()),
                data: None,
            });
            t += chrono::TimeDelta::seconds(20);
        };
        push(EventStatus::Started, String::new());
        let done = match *step {
            "download" => "fetched release bundle (48 MB) in 18s".to_owned(),
            "install" => "installed, service restarted".to_owned(),
            "verify" => "health check passed (p99 212 ms)".to_owned(),
            other => format!("{other} done"),
        };
        match (last, run.last) {
            (false, _) | (true, Some(EventStatus::Succeeded)) => push(EventStatus::Succeeded, done),
            (true, Some(EventStatus::Failed)) => push(EventStatus::Failed, run.error.to_owned()),
            _ => {}
        }
    }
    out
}

pub fn ingest(store: &mut Store, events: Vec<AgentEvent>, received: &str) {
    let sub =
        Submission { events: events.into_iter().enumerate().collect(), received_ms: at(received).timestamp_millis() };
    let out = store.ingest(&[sub]).expect("ingests").remove(0);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
}

pub fn hosts(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}-{i:03}")).collect()
}

/// Builds the log in a new temporary folder.
pub fn build() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shipdeck.db");
    let mut store = Store::open(&path).expect("opens");
    let config = Config::built_in();
    store
        .sync_team(
            &config.team(),
            &config.subscriptions(),
            crate::store::SyncBy::Seed { os_user: "test" },
            chrono::DateTime::UNIX_EPOCH,
        )
        .expect("team");
    let ok = Some(EventStatus::Succeeded);
    let steps3: &[&str] = &["download", "install", "verify"];

    let inventory =
        plan(&mut store, "inventory-api@1.9.0", "staging", "big-bang", &hosts("inv", 6), "2026-11-25T09:00:00Z");
    let mut evs = Vec::new();
    for h in hosts("inv", 6) {
        let run = Run {
            key: inventory,
            host: &h,
            steps: &["install", "verify"],
            from: "2026-11-25T09:01:00Z",
            last: ok,
            error: "",
        };
        evs.extend(events(&run));
    }
    ingest(&mut store, evs, "2026-11-25T09:05:00Z");

    let search = plan(&mut store, "search@3.1.0", "production", "canary", &hosts("search", 12), "2026-11-26T08:00:00Z");
    let error = "migration 0042 failed: column \"rank\" of relation \"documents\" already exists (SQLSTATE 42701); \
                 the schema was changed by hand on 2026-11-20, see INC-311";
    let run = Run {
        key: search,
        host: "search-001",
        steps: &["install", "verify"],
        from: "2026-11-26T08:10:00Z",
        last: Some(EventStatus::Failed),
        error,
    };
    ingest(&mut store, events(&run), "2026-11-26T08:15:00Z");

    let payments =
        plan(&mut store, "payments-api@2.4.1", "production", "phased", &hosts("web", 100), "2026-11-26T10:00:00Z");
    decide(&mut store, payments, "pilot", "omar", Decision::Approve, "2026-11-26T10:00:00Z");
    for (i, h) in hosts("web", 2).iter().enumerate() {
        let from = format!("2026-11-26T10:0{i}:00Z");
        ingest(
            &mut store,
            events(&Run { key: payments, host: h, steps: steps3, from: &from, last: ok, error: "" }),
            "2026-11-26T10:05:00Z",
        );
    }
    let wave = hosts("web", 22);
    let mut evs = Vec::new();
    for (i, h) in wave[2..14].iter().enumerate() {
        let from = format!("2026-11-26T10:{:02}:00Z", 10 + i / 2);
        evs.extend(events(&Run { key: payments, host: h, steps: steps3, from: &from, last: ok, error: "" }));
    }
    ingest(&mut store, evs, "2026-11-26T10:20:00Z");
    let disk = "install failed: exit code 28: No space left on device (/var/lib/payments is 98% full)";
    let failed = Run {
        key: payments,
        host: &wave[14],
        steps: &["download", "install"],
        from: "2026-11-26T10:21:00Z",
        last: Some(EventStatus::Failed),
        error: disk,
    };
    ingest(&mut store, events(&failed), "2026-11-26T10:22:00Z");
    let silent = Run {
        key: payments,
        host: &wave[19],
        steps: &["download"],
        from: "2026-11-26T10:04:00Z",
        last: None,
        error: "",
    };
    ingest(&mut store, events(&silent), "2026-11-26T10:05:00Z");
    let mut evs = Vec::new();
    for h in &wave[15..19] {
        evs.extend(events(&Run {
            key: payments,
            host: h,
            steps: &["download", "install"],
            from: "2026-11-26T10:27:00Z",
            last: None,
            error: "",
        }));
    }
    ingest(&mut store, evs, "2026-11-26T10:29:00Z");

    plan(&mut store, "checkout@5.0.0", "production", "rolling", &hosts("co", 30), "2026-11-26T18:00:00Z");

    let orders = hosts("ord", 40);
    let half_approved =
        plan_by(&mut store, "orders-api@1.4.0", "staging", "phased", &orders, "2026-11-26T09:30:00Z", "sam");
    decide(&mut store, half_approved, "pilot", "omar", Decision::Approve, "2026-11-26T09:31:00Z");
    phase_ok(&mut store, half_approved, &orders[..2], "2026-11-26T09:40:00Z", "2026-11-26T09:50:00Z");
    decide(&mut store, half_approved, "wave-1", "priya", Decision::Approve, "2026-11-26T10:15:00Z");

    let billing = hosts("bil", 40);
    let baking = plan(&mut store, "billing@8.2.0", "production", "phased", &billing, "2026-11-26T10:00:00Z");
    decide(&mut store, baking, "pilot", "omar", Decision::Approve, "2026-11-26T10:05:00Z");
    phase_ok(&mut store, baking, &billing[..2], "2026-11-26T10:10:00Z", "2026-11-26T10:25:00Z");

    let not_lee = plan(&mut store, "ledger@3.0.0", "production", "phased", &hosts("led", 12), "2026-11-26T09:00:00Z");
    Fixture { _dir: dir, path, running: payments, half_approved, baking, not_lee, failed: search }
}
