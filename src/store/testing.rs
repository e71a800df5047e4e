//! The one fixture of unit tests that need a log: plan a deployment, ingest agents' NDJSON lines
//! and take decisions through the real code, with defaults a test overrides only where it
//! matters (e.g. `Plan::new("phased", 10).env("staging")`).

use super::{IngestOutcome, PlanRequest, Store, Submission};
use crate::config::Config;
use crate::domain::event::parse_line;
use crate::domain::{DeploymentKey, ReleaseRef};
use chrono::{DateTime, Utc};

/// The tests' usual "now": Thursday 2026-11-26, 10:00 UTC.
pub fn t0() -> DateTime<Utc> {
    at("2026-11-26T10:00:00Z")
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("valid time").with_timezone(&Utc)
}

/// A new log in a temporary folder (kept while the returned guard lives), holding the built-in
/// team, windows and freezes as a new log planned into would.
pub fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("log.db")).expect("opens");
    let config = Config::built_in();
    store
        .sync_team(&config.team(), &config.subscriptions(), super::SyncBy::Seed { os_user: "test" }, t0())
        .expect("stores the team");
    (dir, store)
}

/// A deployment to plan under the built-in config.
#[derive(Debug, Clone)]
pub struct Plan {
    pub release: String,
    pub env: String,
    pub model: String,
    pub targets: Vec<String>,
    pub change: Option<String>,
    pub requester: String,
    pub at: DateTime<Utc>,
    /// Whether the model's first runs are supervised, as configured; off unless a test is
    /// about supervision, so each test sees the model's own shape.
    pub supervised: bool,
    /// Targets with labels, instead of `targets`.
    pub inventory: Option<crate::domain::inventory::Inventory>,
}

impl Plan {
    /// payments-api@2.4.1 to production by dana at [`t0`], on `hosts` hosts `web-01`...
    pub fn new(model: &str, hosts: usize) -> Self {
        Self {
            release: "payments-api@2.4.1".into(),
            env: "production".into(),
            model: model.into(),
            targets: (1..=hosts).map(|i| format!("web-{i:02}")).collect(),
            change: None,
            requester: "dana".into(),
            at: t0(),
            supervised: false,
            inventory: None,
        }
    }

    /// Plans these labelled targets instead of `targets`.
    pub fn inventory(mut self, inventory: crate::domain::inventory::Inventory) -> Self {
        self.inventory = Some(inventory);
        self
    }

    /// Plans it with the model's `supervised_runs` in force.
    pub fn supervised(mut self) -> Self {
        self.supervised = true;
        self
    }

    pub fn release(mut self, release: &str) -> Self {
        release.clone_into(&mut self.release);
        self
    }

    pub fn env(mut self, env: &str) -> Self {
        env.clone_into(&mut self.env);
        self
    }

    pub fn targets(mut self, targets: Vec<String>) -> Self {
        self.targets = targets;
        self
    }

    pub fn change(mut self, change: &str) -> Self {
        self.change = Some(change.to_owned());
        self
    }

    pub fn requester(mut self, requester: &str) -> Self {
        requester.clone_into(&mut self.requester);
        self
    }

    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }

    /// Plans it; returns the key.
    pub fn plan(&self, store: &mut Store) -> DeploymentKey {
        let config = Config::built_in();
        let mut model = config.model(&self.model).expect("model").clone();
        if !self.supervised {
            model.supervised_runs = 0;
        }
        let req = PlanRequest {
            release: self.release.parse::<ReleaseRef>().expect("valid release"),
            environment: self.env.clone(),
            model_name: self.model.clone(),
            model: &model,
            targets: self.inventory.clone().unwrap_or_else(|| self.targets.clone().into()),
            change_ref: self.change.clone(),
            requested_by: self.requester.clone(),
            release_record: crate::domain::release::ReleaseRecord::default(),
            planned_start: self.at,
            planned_end: None,
            now: self.at,
        };
        let key = store.plan(&req).expect("plans").0;
        {
            // The shipped pilot gate requires the `pre` checklist: its release engineer ticks it.
            let sam = vec!["release_engineer".to_owned()];
            for item in &config.model(&self.model).expect("model").checklists.pre {
                let tick = super::TickRequest {
                    key,
                    item: &item.id,
                    person: "sam",
                    roles: &sam,
                    os_user: "sam",
                    evidence: Some("checksums match"),
                    failed: false,
                    now: self.at,
                };
                store.tick(&tick).expect("ticks");
            }
        }
        key
    }
}

/// Stores NDJSON lines as one request received at `received`, as the receiver would.
pub fn ingest(store: &mut Store, lines: &[String], received: DateTime<Utc>) -> IngestOutcome {
    let events = lines.iter().enumerate().map(|(i, l)| (i + 1, parse_line(l, received).expect(l))).collect();
    store.ingest(&[Submission { events, received_ms: received.timestamp_millis() }]).expect("ingests").remove(0)
}

/// Takes the log's write lock from another connection, as a busy writer in another process
/// would, and holds it for `time` on a thread; returns once the lock is taken.
pub fn hold_write_lock(path: &std::path::Path, time: std::time::Duration) -> std::thread::JoinHandle<()> {
    let (locked, taken) = std::sync::mpsc::channel();
    let path = path.to_owned();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).expect("opens");
        conn.execute_batch("BEGIN IMMEDIATE").expect("takes the write lock");
        locked.send(()).expect("the test waits");
        std::thread::sleep(time);
        conn.execute_batch("COMMIT").expect("releases it");
    });
    taken.recv().expect("the lock was taken");
    holder
}
