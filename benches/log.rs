//! The one generator of benchmark logs: past deployments as history, then a live deployment of
//! many hosts, written through the real planning and ingest code.
//!
//! History: deployments of 1,000 hosts `old-00000`... on the phased model, each host reporting
//! its lifecycle (download, install, verify started and succeeded) and then progress notes, ten
//! events per host, committed 10,000 at a time, with random UUIDv4 ids as agents send them.
//! Live: one deployment of `targets` hosts `web-00000`..., planned last (so it has the highest
//! key), either untouched or [`Live::UnderWay`].

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use shipdeck::config::Config;
use shipdeck::demo::rng::Rng;
use shipdeck::domain::{AgentEvent, DeploymentKey, EventStatus, ReleaseRef};
use shipdeck::store::{PlanRequest, Store, Submission};
use std::path::Path;
use std::time::Instant;

const STEPS: [&str; 3] = ["download", "install", "verify"];
/// Hosts of each past deployment.
const HISTORY_HOSTS: usize = 1_000;
/// Events per commit while generating.
const COMMIT: usize = 10_000;

/// What the live deployment has done when the log is handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// Planned, nothing reported yet (agents of the benchmark report it).
    Planned,
    /// A rollout under way: 70% of hosts done, 0.5% failed, 19.5% mid-install, the rest pending.
    UnderWay,
}

/// A log to generate.
pub struct Spec {
    /// Events in the whole log; the history fills what the live deployment does not take.
    pub events: usize,
    /// Hosts of the live deployment.
    pub targets: usize,
    pub live: Live,
}

/// Writes the log at `db` (a new file) as of `now` and returns the live deployment's key.
pub fn build(config: &Config, db: &Path, spec: &Spec, now: DateTime<Utc>) -> anyhow::Result<DeploymentKey> {
    let t = Instant::now();
    let mut store = Store::open(db).with_context(|| format!("cannot create the bench log {}", db.display()))?;
    store.relax_durability_for_bulk_load()?;
    let live_events = match spec.live {
        Live::Planned => 0,
        Live::UnderWay => under_way(spec.targets).iter().map(|(_, events)| events.len()).sum(),
    };
    let history = spec.events.saturating_sub(live_events);
    let mut filled = 0;
    while filled < history {
        let hosts = hosts(HISTORY_HOSTS, "old");
        let key = plan(&mut store, config, "bench-svc@1.0.0", hosts, now)?;
        let n = (history - filled).min(COMMIT);
        let mut rng = Rng::seeded(filled as u64);
        let batch = (0..n)
            .map(|i| {
                (i + 1, agent_event(key, &format!("old-{:05}", i % HISTORY_HOSTS), i / HISTORY_HOSTS, now, &mut rng))
            })
            .collect();
        ingest(&mut store, batch, now)?;
        filled += n;
    }
    let live = plan(&mut store, config, "payments-api@2.4.1", hosts(spec.targets, "web"), now)?;
    if spec.live == Live::UnderWay {
        let events: Vec<AgentEvent> = under_way(spec.targets)
            .into_iter()
            .enumerate()
            .flat_map(|(i, (host, steps))| {
                let at = now - TimeDelta::hours(1) + TimeDelta::seconds(i64::try_from(i).unwrap_or(0) / 10);
                steps.into_iter().map(move |(step, status)| fixed_event(live, &host, step, status, at))
            })
            .collect();
        for chunk in events.chunks(COMMIT) {
            ingest(&mut store, chunk.iter().cloned().enumerate().collect(), now)?;
        }
    }
    println!("log: {} events ({history} of history) in {:.1} s", history + live_events, t.elapsed().as_secs_f64());
    Ok(live)
}

fn hosts(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:05}")).collect()
}

fn plan(
    store: &mut Store,
    config: &Config,
    release: &str,
    targets: Vec<String>,
    now: DateTime<Utc>,
) -> anyhow::Result<DeploymentKey> {
    let req = PlanRequest {
        release: release.parse::<ReleaseRef>()?,
        environment: "production".into(),
        model_name: "phased".into(),
        model: config.model("phased")?,
        targets,
        change_ref: Some("CHG-1".into()),
        requested_by: "bench".into(),
        planned_start: now,
        now,
    };
    Ok(store.plan(&req)?.0)
}

fn ingest(store: &mut Store, events: Vec<(usize, AgentEvent)>, now: DateTime<Utc>) -> anyhow::Result<()> {
    for out in store.ingest(&[Submission { events, received_ms: now.timestamp_millis() }])? {
        anyhow::ensure!(out.rejected.is_empty(), "bench events rejected: {:?}", out.rejected.first());
    }
    Ok(())
}

/// The live hosts mid-install in a [`Live::UnderWay`] log (where new progress can land).
pub fn running_hosts(targets: usize) -> Vec<String> {
    under_way(targets).into_iter().filter(|(_, steps)| steps.len() == 3).map(|(host, _)| host).collect()
}

/// Each live host with the (step, status) events it reported, for [`Live::UnderWay`].
fn under_way(targets: usize) -> Vec<(String, Vec<(&'static str, EventStatus)>)> {
    use EventStatus::{Failed, Started, Succeeded};
    let share = |per_mille: usize| targets * per_mille / 1_000;
    let (done, failed, running) = (share(700), share(5), share(195));
    hosts(targets, "web")
        .into_iter()
        .enumerate()
        .map(|(i, host)| {
            let steps = if i < done {
                STEPS.iter().flat_map(|s| [(*s, Started), (*s, Succeeded)]).collect()
            } else if i < done + failed {
                vec![("download", Started), ("download", Succeeded), ("install", Started), ("install", Failed)]
            } else if i < done + failed + running {
                vec![("download", Started), ("download", Succeeded), ("install", Started)]
            } else {
                Vec::new()
            };
            (host, steps)
        })
        .collect()
}

/// An event with an id derived from what it says (the same host never repeats a step status).
pub fn fixed_event(key: DeploymentKey, host: &str, step: &str, status: EventStatus, at: DateTime<Utc>) -> AgentEvent {
    AgentEvent {
        id: format!("{host}-{step}-{}", status.as_str()),
        deployment: key.to_string(),
        target: Some(host.to_owned()),
        phase: None,
        step: step.to_owned(),
        status,
        at,
        message: (status == EventStatus::Failed).then(|| format!("{step} failed: exit code 1")),
        data: None,
    }
}

/// The n-th event of a host: its lifecycle steps started and succeeded, then progress notes.
pub fn agent_event(key: DeploymentKey, target: &str, n: usize, at: DateTime<Utc>, rng: &mut Rng) -> AgentEvent {
    let (step, status) = match n {
        0..=5 => (STEPS[n / 2], if n % 2 == 0 { EventStatus::Started } else { EventStatus::Succeeded }),
        _ => ("verify", EventStatus::Info),
    };
    AgentEvent {
        id: rng.uuid_v4(),
        deployment: key.to_string(),
        target: Some(target.to_owned()),
        phase: None,
        step: step.into(),
        status,
        at,
        message: Some(format!("{step} {status} on {target}")),
        data: None,
    }
}

/// Appends an event as one NDJSON line, as an agent would write it.
pub fn push_ndjson_line(body: &mut String, e: &AgentEvent) {
    use std::fmt::Write;
    let _ = writeln!(
        body,
        r#"{{"id":"{}","deployment":"{}","target":"{}","step":"{}","status":"{}","at":"{}","message":"{}"}}"#,
        e.id,
        e.deployment,
        e.target.as_deref().unwrap_or_default(),
        e.step,
        e.status,
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        e.message.as_deref().unwrap_or_default()
    );
}
