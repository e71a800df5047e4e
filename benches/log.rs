//! The one generator of benchmark logs: past deployments as history, then a live deployment of
//! many hosts, written through the real planning and ingest code.
//!
//! History: deployments of 1,000 hosts `old-00000`... on the phased model, each host reporting
//! its lifecycle (download, install, verify started and succeeded) and then progress notes, ten
//! events per host, committed 10,000 at a time, with random UUIDv4 ids as agents send them.
//! Live: one deployment of `targets` hosts `web-00000`..., planned last (so it has the highest
//! key), either untouched or [`Live::UnderWay`].
//!
//! [`build_years`] writes the other shape of log, the one History reads: many small finished
//! deployments over years (services, environments, models, requesters and results vary; failed
//! hosts report the demo's realistic errors), then one failed deployment of many hosts.

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use shipdeck::config::Config;
use shipdeck::demo::failures::Cause;
use shipdeck::demo::pipeline::{ColleagueDecision, decide_as_colleague};
use shipdeck::demo::rng::Rng;
use shipdeck::domain::gate::Decision;
use shipdeck::domain::{AgentEvent, DeploymentKey, EventStatus, ReleaseRef};
use shipdeck::store::{PlanRequest, Store, Submission, SyncBy};
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
    let progress = shipdeck::progress::bar(history as u64, "building the log");
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
        progress.inc(n as u64);
    }
    progress.finish_and_clear();
    // A rollout under way started an hour ago, so it was planned then: an event is never from
    // before its deployment was planned (the receiver rejects those), nor from after `now`.
    let planned = if spec.live == Live::UnderWay { now - TimeDelta::hours(1) } else { now };
    let live = plan(&mut store, config, "payments-api@2.4.1", hosts(spec.targets, "web"), planned)?;
    if spec.live == Live::UnderWay {
        let hour_ms = TimeDelta::hours(1).num_milliseconds();
        let hosts = i64::try_from(spec.targets.max(1)).unwrap_or(i64::MAX);
        let events: Vec<AgentEvent> = under_way(spec.targets)
            .into_iter()
            .enumerate()
            .flat_map(|(i, (host, steps))| {
                // Hosts started one after another over the hour.
                let at = planned + TimeDelta::milliseconds(hour_ms * i64::try_from(i).unwrap_or(0) / hosts);
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
        targets: targets.into(),
        change_ref: Some("CHG-1".into()),
        requested_by: "bench".into(),
        release_record: Default::default(),
        planned_start: now,
        planned_end: None,
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

/// A log of finished deployments over years, for History.
/// The years log's "now": fixed, so a reused log is read as it was written (the history and KPI
/// benchmarks share that log).
pub fn years_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}

/// The years log at `path`: reused when it exists, else built; says which, and how long the
/// build took.
pub fn reuse_or_build_years(config: &Config, path: &Path, spec: &Years) -> anyhow::Result<()> {
    if path.exists() {
        println!("log: {} (reused)", path.display());
        return Ok(());
    }
    let t = std::time::Instant::now();
    let built = build_years(config, path, spec, years_now())
        .with_context(|| format!("cannot build the bench log {}", path.display()))?;
    println!(
        "log: {} deployments ({} failed), {} events, built in {:.1} s",
        spec.deployments + 1,
        built.failed,
        built.events,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

pub struct Years {
    /// Small finished deployments before the large one.
    pub deployments: usize,
    /// Hosts of the large failed deployment, planned last.
    pub large: usize,
}

/// What [`build_years`] wrote.
pub struct YearsLog {
    pub events: usize,
    pub failed: usize,
    /// The large failed deployment.
    pub large: DeploymentKey,
}

/// Services (release names) of the generated history.
const YEARS_SERVICES: usize = 24;
const REQUESTERS: [&str; 5] = ["dana", "omar", "sam", "priya", "lee"];

/// Writes the log at `db` (a new file): `spec.deployments` finished deployments, one every 10
/// minutes up to an hour before `now`, then a failed deployment of `spec.large` hosts. A
/// deployment's events arrive in two submissions (its start, then the rest at its end), so
/// start, finish and duration are real; about 8% fail (a few hosts past the budget, with the
/// demo's error texts), a third of those are rolled back or aborted through the real decision
/// path.
pub fn build_years(config: &Config, db: &Path, spec: &Years, now: DateTime<Utc>) -> anyhow::Result<YearsLog> {
    let mut store = Store::open(db).with_context(|| format!("cannot create the bench log {}", db.display()))?;
    store.relax_durability_for_bulk_load()?;
    // Decisions are taken by the team of the log, as it was years ago.
    let first = now - TimeDelta::hours(1) - TimeDelta::minutes(10 * i64::try_from(spec.deployments).unwrap_or(0));
    store.sync_team(&config.team(), &[], SyncBy::Seed { os_user: "bench" }, first - TimeDelta::days(1))?;
    let mut rng = Rng::seeded(2026);
    let mut out = YearsLog { events: 0, failed: 0, large: DeploymentKey(0) };
    let mut pending: Vec<Submission> = Vec::new();
    let mut pending_events = 0;
    let mut decisions = Vec::new();
    let progress = shipdeck::progress::bar(spec.deployments as u64, "building the log");
    for i in 0..spec.deployments {
        progress.inc(1);
        let start = first + TimeDelta::minutes(10 * i64::try_from(i).unwrap_or(0));
        let service = format!("svc-{:02}", rng.range(0, YEARS_SERVICES as u64));
        let environment = *rng.pick(&[
            "production",
            "production",
            "production",
            "production",
            "production",
            "dr-site",
            "staging",
            "staging",
            "staging",
            "staging",
        ]);
        let rolling = environment != "staging" && rng.chance(0.3);
        let (model, hosts) = if rolling { ("rolling", rng.range(21, 26)) } else { ("big-bang", rng.range(11, 32)) };
        let hosts = usize::try_from(hosts).unwrap_or(10);
        let release = format!("{service}@1.{}.{}", i / 1_000, i % 1_000);
        let req = PlanRequest {
            release: release.parse::<ReleaseRef>()?,
            environment: environment.into(),
            model_name: model.into(),
            model: config.model_for(model, environment)?,
            targets: (0..hosts).map(|h| format!("{service}-{}-{h:02}", &environment[..3])).collect(),
            change_ref: (environment != "staging").then(|| format!("CHG-{}", 10_000 + i)),
            requested_by: rng.pick(&REQUESTERS).to_string(),
            release_record: Default::default(),
            planned_start: start,
            planned_end: None,
            now: start - TimeDelta::hours(2),
        };
        let (key, phases) = store.plan(&req)?;
        // A failure goes past the budget of the last phase that has hosts beyond its budget (a
        // rolling model's last batch may be as small as its budget, and could not fail).
        let failing_phase = phases.iter().rev().find(|p| p.targets.len() > p.failure_budget);
        let failing = match failing_phase {
            Some(p) if rng.chance(0.08) => {
                (p.failure_budget + usize::try_from(rng.range(1, 4)).unwrap_or(1)).min(p.targets.len())
            }
            _ => 0,
        };
        let cause = Cause::pick(&mut rng);
        let end = start + TimeDelta::seconds(i64::try_from(rng.range(120, 1_800)).unwrap_or(600));
        let last_hosts = failing_phase.map(|p| p.targets.clone()).unwrap_or_default();
        let failed_hosts = &last_hosts[last_hosts.len() - failing..];
        let (begun, rest) = lifecycle(
            key,
            &service,
            &req.targets.names(),
            failed_hosts,
            cause,
            &model_steps(config, model)?,
            start,
            end,
            &mut rng,
        );
        pending_events += begun.len() + rest.len();
        pending.push(Submission {
            events: begun.into_iter().enumerate().collect(),
            received_ms: start.timestamp_millis(),
        });
        pending
            .push(Submission { events: rest.into_iter().enumerate().collect(), received_ms: end.timestamp_millis() });
        if failing > 0 {
            out.failed += 1;
            if rng.chance(0.35) {
                let decision = if rng.chance(0.7) { Decision::Rollback } else { Decision::Abort };
                let phase = failing_phase.map(|p| p.name.clone()).unwrap_or_default();
                decisions.push((key, phase, decision, end + TimeDelta::minutes(8)));
            }
        }
        if pending_events >= COMMIT {
            out.events += pending_events;
            flush(&mut store, &mut pending, &mut decisions, config)?;
            pending_events = 0;
        }
    }
    progress.finish_and_clear();
    out.events += pending_events;
    flush(&mut store, &mut pending, &mut decisions, config)?;

    // The large one: a phased deployment whose last wave failed on 6% of its hosts (its budget
    // is 5%), for four reasons, then was rolled back. (Not rolling: batches of ten would make
    // it a thousand phases of ten hosts, whose last could fail on ten at most.)
    let start = now - TimeDelta::minutes(50);
    let end = now - TimeDelta::minutes(20);
    let req = PlanRequest {
        release: "payments-api@9.0.0".parse::<ReleaseRef>()?,
        environment: "production".into(),
        model_name: "phased".into(),
        model: config.model_for("phased", "production")?,
        targets: hosts(spec.large, "pay").into(),
        change_ref: Some("CHG-99999".into()),
        requested_by: "sam".into(),
        release_record: Default::default(),
        planned_start: start,
        planned_end: None,
        now: start - TimeDelta::hours(2),
    };
    let (key, phases) = store.plan(&req)?;
    let steps = model_steps(config, "phased")?;
    let last = phases.last().map(|p| p.targets.clone()).unwrap_or_default();
    let failing = (spec.large * 6 / 100).min(last.len());
    for (i, chunk) in last[last.len() - failing..].chunks(failing.div_ceil(4).max(1)).enumerate() {
        let cause = [Cause::DiskFull, Cause::DatabaseRefused, Cause::HealthTimeout, Cause::PermissionDenied][i % 4];
        let (begun, rest) = lifecycle(key, "payments-api", chunk, chunk, cause, &steps, start, end, &mut rng);
        out.events += begun.len() + rest.len();
        pending.push(Submission {
            events: begun.into_iter().enumerate().collect(),
            received_ms: start.timestamp_millis(),
        });
        pending
            .push(Submission { events: rest.into_iter().enumerate().collect(), received_ms: end.timestamp_millis() });
    }
    let fine: Vec<String> =
        req.targets.names().into_iter().filter(|h| !last[last.len() - failing..].contains(h)).collect();
    for chunk in fine.chunks(COMMIT / 8) {
        let (begun, rest) = lifecycle(key, "payments-api", chunk, &[], Cause::DiskFull, &steps, start, end, &mut rng);
        out.events += begun.len() + rest.len();
        pending.push(Submission {
            events: begun.into_iter().enumerate().collect(),
            received_ms: start.timestamp_millis(),
        });
        pending
            .push(Submission { events: rest.into_iter().enumerate().collect(), received_ms: end.timestamp_millis() });
        flush(&mut store, &mut pending, &mut decisions, config)?;
    }
    let phase = phases.last().map(|p| p.name.clone()).unwrap_or_default();
    decisions.push((key, phase, Decision::Rollback, end + TimeDelta::minutes(5)));
    flush(&mut store, &mut pending, &mut decisions, config)?;
    out.failed += 1;
    out.large = key;
    Ok(out)
}

fn model_steps(config: &Config, model: &str) -> anyhow::Result<Vec<String>> {
    Ok(config.model(model)?.steps.clone())
}

/// Ingests what is pending in one transaction, then takes the decisions it waited for.
fn flush(
    store: &mut Store,
    pending: &mut Vec<Submission>,
    decisions: &mut Vec<(DeploymentKey, String, Decision, DateTime<Utc>)>,
    config: &Config,
) -> anyhow::Result<()> {
    for out in store.ingest(pending)? {
        anyhow::ensure!(out.rejected.is_empty(), "bench events rejected: {:?}", out.rejected.first());
    }
    pending.clear();
    for (key, phase, decision, now) in decisions.drain(..) {
        let d = ColleagueDecision { key, phase: &phase, decision, not_by: "", comment: "failure budget exceeded", now };
        anyhow::ensure!(decide_as_colleague(store, config, &d), "nobody could {decision} {key}");
    }
    Ok(())
}

/// The events of `hosts` going through `steps`: every host's first step starts at `start`
/// (returned first), the rest arrive by `end`; `failing` hosts fail the step where `cause`
/// shows, with its error text.
#[allow(clippy::too_many_arguments)]
fn lifecycle(
    key: DeploymentKey,
    service: &str,
    hosts: &[String],
    failing: &[String],
    cause: Cause,
    steps: &[String],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    rng: &mut Rng,
) -> (Vec<AgentEvent>, Vec<AgentEvent>) {
    let (mut begun, mut rest) = (Vec::with_capacity(hosts.len()), Vec::with_capacity(hosts.len() * steps.len() * 2));
    let span = (end - start).num_milliseconds().max(1);
    let marks = 2 * i64::try_from(steps.len()).unwrap_or(1);
    let at = |k: usize| start + TimeDelta::milliseconds(span * i64::try_from(k).unwrap_or(0) / marks);
    let fails_at = cause.step(steps);
    for host in hosts {
        let fails = failing.contains(host);
        for (si, step) in steps.iter().enumerate() {
            let mut ev = |status: EventStatus, k: usize, message: Option<String>| AgentEvent {
                id: rng.uuid_v4(),
                deployment: key.to_string(),
                target: Some(host.clone()),
                phase: None,
                step: step.clone(),
                status,
                at: at(k),
                message,
                data: None,
            };
            let started = ev(EventStatus::Started, 2 * si, None);
            if si == 0 {
                begun.push(started)
            } else {
                rest.push(started)
            }
            if fails && si == fails_at {
                let message = cause.message(service, host, key.0.unsigned_abs(), rng);
                rest.push(AgentEvent {
                    id: rng.uuid_v4(),
                    status: EventStatus::Failed,
                    at: at(2 * si + 1),
                    message: Some(message),
                    ..fixed_event(key, host, step, EventStatus::Failed, start)
                });
                break;
            }
            rest.push(ev(EventStatus::Succeeded, 2 * si + 1, None));
        }
    }
    (begun, rest)
}

/// A phased rollout of `targets` hosts `web-00000`... told over time, the shape replay steps
/// through: planned at `start` by sam, its checklists ticked and each gate approved by
/// colleagues through the real decision path (when bake, windows and freezes allow), then each
/// phase's hosts reporting a hundred at a time, a batch every 20 s: download started and
/// succeeded, install succeeded, verify started and succeeded (five events a host; one host in
/// a hundred of the last phase fails verify, within its budget). Returns the key and the time
/// the last batch was received.
pub fn build_rollout(
    config: &Config,
    db: &Path,
    targets: usize,
    start: DateTime<Utc>,
) -> anyhow::Result<(DeploymentKey, DateTime<Utc>)> {
    use shipdeck::demo::pipeline::{approve_as_colleagues, tick_as_colleagues};
    use shipdeck::domain::checklist::List;
    let t0 = Instant::now();
    let mut store = Store::open(db).with_context(|| format!("cannot create the bench log {}", db.display()))?;
    store.relax_durability_for_bulk_load()?;
    // The team decides from the log: store it, as the demo does.
    store.sync_team(&config.team(), &config.subscriptions(), SyncBy::Seed { os_user: "bench" }, start)?;
    let req = PlanRequest {
        release: "payments-api@2.4.1".parse::<ReleaseRef>()?,
        environment: "production".into(),
        model_name: "phased".into(),
        model: config.model("phased")?,
        targets: hosts(targets, "web").into(),
        change_ref: Some("CHG-1".into()),
        requested_by: "sam".into(),
        release_record: Default::default(),
        planned_start: start,
        planned_end: None,
        now: start,
    };
    let (key, phases) = store.plan(&req)?;
    tick_as_colleagues(&mut store, config, key, &[List::Pre, List::Environment], start);
    let mut t = start;
    let mut last = start;
    let mut events = 0;
    let last_phase = phases.len().saturating_sub(1);
    for (pi, phase) in phases.iter().enumerate() {
        if phase.gate.is_some() {
            let approved = approve_as_colleagues(&mut store, config, key, &phase.name, "sam", t)
                .with_context(|| format!("nobody may approve {key} {}", phase.name))?;
            t = approved.max(t);
        }
        for chunk in phase.targets.chunks(100) {
            t += TimeDelta::seconds(20);
            let mut batch = Vec::with_capacity(chunk.len() * 5);
            for (i, host) in chunk.iter().enumerate() {
                let fails = pi == last_phase && i == 50;
                let at = |s: i64| t - TimeDelta::seconds(20 - s);
                let verify = if fails { EventStatus::Failed } else { EventStatus::Succeeded };
                for (s, (step, status)) in [
                    ("download", EventStatus::Started),
                    ("download", EventStatus::Succeeded),
                    ("install", EventStatus::Succeeded),
                    ("verify", EventStatus::Started),
                    ("verify", verify),
                ]
                .into_iter()
                .enumerate()
                {
                    let s = i64::try_from(s).unwrap_or(0) * 3;
                    batch.push((batch.len() + 1, fixed_event(key, host, step, status, at(s))));
                }
            }
            events += batch.len();
            ingest(&mut store, batch, t)?;
            last = t;
        }
        // The next gate's bake and window.
        t += TimeDelta::minutes(20);
    }
    println!("log: {key} of {targets} hosts, {events} events, built in {:.1} s", t0.elapsed().as_secs_f64());
    Ok((key, last))
}
