//! `shipdeck bench`: measurements the issues ask for, run on this machine's real code paths.
//!
//! `bench ingest` drives the real receiver over loopback HTTP with concurrent agents into a log
//! that already holds a million events, and compares the end-to-end rate with SQLite's raw
//! append rate for the same rows, so the number means something on any machine.

use super::Context;
use crate::demo::rng::Rng;
use crate::domain::{AgentEvent, DeploymentKey, EventStatus, ReleaseRef};
use crate::server::{Receiver, ServerOptions};
use crate::store::{PlanRequest, Store, Submission};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Agents posting NDJSON to the receiver on loopback, against SQLite's raw append rate
    Ingest(IngestArgs),
    /// Commit-to-dashboard latency while the receiver ingests a steady stream
    Latency(super::bench_latency::Args),
    /// How soon `gate wait` and the gate long-poll notice a decision (p50/p99)
    Gates(super::bench_gates::Args),
    /// The dashboard: frame cost, refresh cost, start to first frame, memory
    Dashboard {
        /// Reuse (or keep) the 1,000,000-event log here
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Events already in the log before measuring
    #[arg(long, default_value_t = 1_000_000)]
    prefill: usize,
    /// Concurrent agents
    #[arg(long, default_value_t = 50)]
    agents: usize,
    /// Events per request
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Requests each agent sends
    #[arg(long, default_value_t = 100)]
    requests: usize,
    /// Targets of the live deployment
    #[arg(long, default_value_t = 10_000)]
    targets: usize,
    /// Hosts whose events share one request (an agent batches the progress of a few hosts;
    /// use the batch size for the worst case of one event per host per request)
    #[arg(long, default_value_t = 10)]
    hosts_per_request: usize,
    /// Keep the log here (default: a temporary folder, removed afterwards)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Ingest(a) => ingest(ctx, a),
        Command::Latency(a) => super::bench_latency::run(ctx, a),
        Command::Gates(a) => super::bench_gates::run(ctx, a),
        Command::Dashboard { db } => crate::tui::bench::bench(db.clone()).map(|()| 0),
    }
}

const STEPS: [&str; 3] = ["download", "install", "verify"];

fn ingest(ctx: &Context, a: &IngestArgs) -> anyhow::Result<i32> {
    let tmp = tempfile::Builder::new().prefix("shipdeck-bench").tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.db");
    let _ = std::fs::remove_file(&db);
    println!(
        "shipdeck bench ingest: {} agents x {} requests x {} events ({} hosts per request, {} targets), log prefilled with {} events",
        a.agents, a.requests, a.batch, a.hosts_per_request, a.targets, a.prefill
    );
    let live = prefill(ctx, &db, a.prefill, a.targets)?;

    // The receiver and the agents share this process (and its two cores, on the CI machine).
    reset_peak_rss();
    let rt = crate::runtime::build()?;
    let (accepted, elapsed) = rt.block_on(post_all(ctx, &db, live, a))?;
    let peak = peak_rss_kib();
    let e2e = accepted as f64 / elapsed.as_secs_f64();
    println!("end to end: {accepted} events accepted in {:.2} s = {:.0} events/s", elapsed.as_secs_f64(), e2e);
    println!("peak RSS during the run: {} MiB", peak / 1024);

    let total = a.agents * a.requests * a.batch;
    let raw = raw_append(&db, total, ctx.clock.now())?;
    println!("raw append (one prepared statement, 10,000-row transactions, no index): {raw:.0} rows/s");
    println!("ratio end to end / raw: {:.3}", e2e / raw);

    // `status` on the live deployment: in process, and as a user runs it.
    let store = Store::open_existing(&db)?;
    let t = Instant::now();
    let detail = store.detail(live, true)?;
    let json = serde_json::to_string(&detail)?;
    let query = t.elapsed();
    println!(
        "status query: {} targets, {} phases, {} KiB of JSON in {:.1} ms (log of {} events)",
        detail.target_list.len(),
        detail.phases.len(),
        json.len() / 1024,
        query.as_secs_f64() * 1e3,
        store.last_seq()?
    );
    if let Ok(exe) = std::env::current_exe() {
        let t = Instant::now();
        let out = std::process::Command::new(exe).arg("--db").arg(&db).args(["status", &live.to_string()]).output()?;
        println!(
            "`shipdeck status {live}` command: {:.1} ms, {} lines",
            t.elapsed().as_secs_f64() * 1e3,
            out.stdout.split(|b| *b == b'\n').count()
        );
    }
    Ok(0)
}

/// Writes `events` events of past deployments (1,000 hosts, 10 events each, in 10,000-event
/// commits) and plans a live deployment of `targets` hosts `web-00000`...; returns its key.
pub(super) fn prefill(ctx: &Context, db: &Path, events: usize, targets: usize) -> anyhow::Result<DeploymentKey> {
    let model = ctx.config.model("phased").map_err(super::usage)?.clone();
    let now = ctx.clock.now();
    let t = Instant::now();
    let mut store = Store::open(db)?;
    let hosts = |n: usize, prefix: &str| (0..n).map(|i| format!("{prefix}-{i:05}")).collect::<Vec<_>>();
    let plan = |store: &mut Store, targets: Vec<String>| -> anyhow::Result<DeploymentKey> {
        let req = PlanRequest {
            release: ReleaseRef { name: "bench-svc".into(), version: "1.0.0".into() },
            environment: "production".into(),
            model_name: "phased".into(),
            model: &model,
            targets,
            change_ref: None,
            requested_by: "bench".into(),
            planned_start: now,
            now,
        };
        Ok(store.plan(&req)?.0)
    };
    let mut filled = 0;
    while filled < events {
        let key = plan(&mut store, hosts(1_000, "old"))?;
        let n = (events - filled).min(10_000);
        let mut rng = Rng::seeded(filled as u64);
        let batch = (0..n)
            .map(|i| (i + 1, agent_event(key, &format!("old-{:05}", i % 1_000), i / 1_000, now, &mut rng)))
            .collect();
        store.ingest(&[Submission { events: batch, received_ms: now.timestamp_millis() }])?;
        filled += n;
    }
    let live = plan(&mut store, hosts(targets, "web"))?;
    println!("prefill: {events} events in {:.1} s", t.elapsed().as_secs_f64());
    Ok(live)
}

/// The n-th event of a host: its lifecycle steps started and succeeded, then progress notes.
pub(super) fn agent_event(key: DeploymentKey, target: &str, n: usize, at: DateTime<Utc>, rng: &mut Rng) -> AgentEvent {
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
pub(super) fn push_ndjson_line(body: &mut String, e: &AgentEvent) {
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

async fn post_all(ctx: &Context, db: &Path, live: DeploymentKey, a: &IngestArgs) -> anyhow::Result<(usize, Duration)> {
    let receiver =
        Receiver::bind("127.0.0.1:0", ServerOptions { db: db.to_path_buf(), token: None, clock: ctx.clock.clone() })
            .await?;
    let url = format!("http://{}/v1/events", receiver.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(receiver.serve(async {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::builder().pool_max_idle_per_host(a.agents).build()?;
    let per_agent = (a.targets / a.agents).max(1);
    let spread = a.hosts_per_request.clamp(1, a.batch);
    let now = ctx.clock.now();
    let start = Instant::now();
    let mut agents = Vec::new();
    for agent in 0..a.agents {
        let (client, url) = (client.clone(), url.clone());
        let (requests, batch) = (a.requests, a.batch);
        agents.push(tokio::spawn(async move {
            let mut accepted = 0usize;
            // Request r carries events of `spread` hosts of this agent, in turn; a host's k-th
            // appearance brings its next events (lifecycle steps, then progress notes).
            let mut sent = vec![0usize; per_agent];
            let mut rng = Rng::seeded(agent as u64 + 1000);
            for r in 0..requests {
                let mut body = String::with_capacity(batch * 200);
                for i in 0..batch {
                    let h = (r * spread + i % spread) % per_agent;
                    let host = format!("web-{:05}", agent * per_agent + h);
                    push_ndjson_line(&mut body, &agent_event(live, &host, sent[h], now, &mut rng));
                    sent[h] += 1;
                }
                let bytes = client.post(&url).body(body).send().await?.bytes().await?;
                let reply: serde_json::Value = serde_json::from_slice(&bytes)?;
                accepted += usize::try_from(reply["accepted"].as_u64().unwrap_or(0)).unwrap_or(0);
            }
            Ok::<_, anyhow::Error>(accepted)
        }));
    }
    let mut accepted = 0;
    for agent in agents {
        accepted += agent.await??;
    }
    let elapsed = start.elapsed();
    let _ = stop_tx.send(());
    server.await??;
    Ok((accepted, elapsed))
}

/// SQLite's own append rate for the same rows on this machine: the ceiling for ingest.
fn raw_append(db: &Path, rows: usize, now: DateTime<Utc>) -> anyhow::Result<f64> {
    let mut store = Store::open(db)?;
    let conn = store.connection();
    conn.execute_batch(
        "DROP TABLE IF EXISTS bench_raw;
         CREATE TABLE bench_raw (deployment_id INTEGER, phase_id INTEGER, target_id INTEGER, event_id TEXT, step TEXT,
                                 status TEXT, at_ms INTEGER, received_ms INTEGER, message TEXT, data TEXT);",
    )?;
    let mut rng = Rng::seeded(7);
    let events: Vec<AgentEvent> = (0..rows)
        .map(|i| agent_event(DeploymentKey(1), &format!("web-{:05}", i % 10_000), i / 10_000, now, &mut rng))
        .collect();
    let start = Instant::now();
    for chunk in events.chunks(10_000) {
        let tx = conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO bench_raw VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?;
            for (i, e) in chunk.iter().enumerate() {
                stmt.execute(rusqlite::params![
                    1,
                    1,
                    i,
                    e.id,
                    e.step,
                    e.status.as_str(),
                    e.at.timestamp_millis(),
                    e.at.timestamp_millis(),
                    e.message,
                    e.data
                ])?;
            }
        }
        tx.commit()?;
    }
    let rate = rows as f64 / start.elapsed().as_secs_f64();
    conn.execute_batch("DROP TABLE bench_raw;")?;
    Ok(rate)
}

/// Resets the kernel's peak-RSS mark, so the peak measures the run, not the set-up.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size in KiB (VmHWM), 0 where unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
