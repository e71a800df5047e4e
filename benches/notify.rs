//! `shipdeck-bench notify`: the delivery worker against a webhook sink on loopback.
//!
//! Three figures, each beside a floor measured in the same run and its goal: a burst of 10,000
//! deliveries sent through the real outbox and worker (floor: the same POSTs straight from an
//! HTTP client, no log); the receiver's ingest rate while the worker delivers a burst, against
//! the same ingest alone; and the time from a happening (its transaction) to the first attempt
//! of its deliveries reaching the sink, under a steady stream of happenings.

use crate::Ctx;
use crate::ingest::{Load, post_all};
use crate::log::{self, Live};
use shipdeck::config::notify::{SmtpSecurity, WebhookFormat};
use shipdeck::config::{ChannelConfig, ChannelKind, Config, Person, Stakeholder};
use shipdeck::domain::ReleaseRef;
use shipdeck::notify::WorkerOptions;
use shipdeck::store::{PlanRequest, Store, SyncBy};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Deliveries in the burst (people told per deployment x deployments planned)
    #[arg(long, default_value_t = 10_000)]
    burst: usize,
    /// People each happening tells over the webhook
    #[arg(long, default_value_t = 100)]
    people: usize,
    /// Events already in the log
    #[arg(long, default_value_t = 100_000)]
    prefill: usize,
    /// Happenings per second in the latency phase, and for how many seconds
    #[arg(long, default_value_t = 5)]
    rate: usize,
    #[arg(long, default_value_t = 10)]
    seconds: usize,
    /// Rounds of ingest alone and ingest with the worker delivering, alternating (medians)
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Keep the log here (default: a temporary folder)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

const CHANNEL: &str = "bench-hook";

/// What the sink saw: distinct idempotency keys, and for each first attempt the time from its
/// notification's creation.
#[derive(Default)]
struct Seen {
    keys: HashSet<String>,
    first_after_ms: Vec<i64>,
    /// When each delivery first reached the sink.
    first_at: Vec<Instant>,
    requests: usize,
}

async fn sink(seen: Arc<Mutex<Seen>>) -> anyhow::Result<SocketAddr> {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                #[allow(clippy::disallowed_methods)] // the sink measures with the wall clock, as the worker stamps
                let now_ms = chrono::Utc::now().timestamp_millis();
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let created = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["created_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()))
                    .map(|t| t.timestamp_millis());
                let mut s = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                s.requests += 1;
                if s.keys.insert(key) {
                    s.first_at.push(Instant::now());
                    if let Some(c) = created {
                        s.first_after_ms.push(now_ms - c);
                    }
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// Runs a sink on a thread of its own, at the lowest priority: it stands for the webhook's
/// receiver, which runs on another machine, so it must not take the processor from the
/// receiver of events it is compared with.
fn start_sink(seen: Arc<Mutex<Seen>>) -> anyhow::Result<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        shipdeck::notify::lower_priority();
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(anyhow::Error::from(e)));
                return;
            }
        };
        rt.block_on(async move {
            let _ = tx.send(sink(seen).await);
            std::future::pending::<()>().await;
        });
    });
    rx.recv()?
}

/// The built-in config with `people` watchers told of every plan over the sink's webhook.
fn config(base: &Config, people: usize, addr: SocketAddr) -> Config {
    let mut c = base.clone();
    for i in 0..people {
        c.people.push(Person {
            name: format!("watcher-{i:04}"),
            roles: vec!["watcher".into()],
            login: None,
            email: None,
            zone: None,
        });
    }
    c.stakeholders.push(Stakeholder {
        name: "bench watchers".into(),
        people: Vec::new(),
        roles: vec!["watcher".into()],
        environments: Vec::new(),
        services: Vec::new(),
        notify_on: vec!["deployment_planned".into()],
        channels: vec![CHANNEL.into()],
        quiet_hours: None,
        digest: None,
    });
    c.channels.insert(
        CHANNEL.into(),
        ChannelConfig {
            kind: ChannelKind::Webhook,
            url: Some(format!("http://{addr}/hook")),
            format: WebhookFormat::Json,
            secret_env: None,
            signature_header: "X-Shipdeck-Signature-256".into(),
            server: None,
            port: None,
            security: SmtpSecurity::default(),
            from: None,
            username_env: None,
            password_env: None,
            command: Vec::new(),
            timeout: chrono::TimeDelta::seconds(10),
            max_attempts: 6,
            backoff: chrono::TimeDelta::seconds(1),
            backoff_max: chrono::TimeDelta::seconds(10),
            subject: None,
            text: None,
        },
    );
    c
}

/// Plans `n` one-host deployments; each tells every watcher.
fn plan(store: &mut Store, config: &Config, n: usize, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    for i in 0..n {
        let req = PlanRequest {
            release: ReleaseRef { name: "notify-svc".into(), version: format!("1.0.{i}") },
            environment: "staging".into(),
            model_name: "big-bang".into(),
            model: config.model("big-bang")?,
            targets: vec![format!("nt-{i:05}")].into(),
            change_ref: None,
            requested_by: "sam".into(),
            release_record: Default::default(),
            planned_start: now,
            planned_end: None,
            now,
        };
        store.plan(&req)?;
    }
    Ok(())
}

fn seen_keys(seen: &Mutex<Seen>) -> usize {
    seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).keys.len()
}

fn wait_for(seen: &Mutex<Seen>, n: usize, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while seen_keys(seen) < n {
        anyhow::ensure!(start.elapsed() < limit, "the sink saw {} of {n} deliveries within {limit:?}", seen_keys(seen));
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new().prefix("shipdeck-bench").tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("notify.db");
    let _ = std::fs::remove_file(&db);
    let now = ctx.clock.now();
    let live =
        log::build(&ctx.config, &db, &log::Spec { events: a.prefill, targets: 10_000, live: Live::Planned }, now)?;
    let rt = shipdeck::runtime::build()?;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let addr = start_sink(seen.clone())?;
    let config = config(&ctx.config, a.people, addr);
    let mut store = Store::open_existing(&db)?;
    store.sync_team(&config.team(), &config.subscriptions(), SyncBy::Creator { os_user: "bench" }, now)?;
    let plans = a.burst.div_ceil(a.people);
    let burst = plans * a.people;
    println!(
        "shipdeck-bench notify: bursts of {burst} deliveries ({plans} plans x {} people) to a webhook sink on loopback, concurrency {}",
        a.people, config.notify.concurrency
    );

    // 1. The burst through the outbox and the worker, against the same POSTs from a client.
    plan(&mut store, &config, plans, ctx.clock.now())?;
    let (worker, stop) = start_worker(&db, &config, ctx);
    let t = Instant::now();
    wait_for(&seen, burst, Duration::from_secs(600))?;
    let took = t.elapsed();
    let rate = burst as f64 / took.as_secs_f64();
    let floor = rt.block_on(direct_posts(addr, burst, config.notify.concurrency))?;
    let floor_rate = burst as f64 / floor.as_secs_f64();
    println!(
        "burst delivered: {burst} in {:.2} s = {rate:.0}/s   floor (same POSTs from a client, no log) {floor_rate:.0}/s   x{:.2}   goal >= 1000/s: {}",
        took.as_secs_f64(),
        rate / floor_rate,
        verdict(rate >= 1000.0)
    );

    // 2. Ingest alone, and ingest while the worker delivers a burst, in alternating order, in
    // the same run, each from an emptied write-ahead log. The worker is delivering before the
    // ingest starts (its first deliveries reached the sink), and its burst is sized to outlast
    // the ingest (twice the time ingest alone took, at part 1's rate): the sink's clock shows
    // whether it delivered during the whole window (deliveries in each quarter of it, a
    // backlog left at its end).
    stop.store(true, Ordering::Relaxed);
    worker.join().map_err(|_| anyhow::anyhow!("the worker panicked"))??;
    let load = |seed| Load {
        agents: 20,
        requests: 100,
        batch: 100,
        targets: 10_000,
        hosts_per_request: 10,
        seed,
        metric_every: 0,
    };
    store.checkpoint()?;
    let (_, warm) = rt.block_on(post_all(ctx, &db, live, &load(5_000)))?;
    let (mut alone, mut with, mut sent_rates) = (Vec::new(), Vec::new(), Vec::new());
    let mut covered = true;
    let mut rounds_text = Vec::new();
    let mut expected = seen_keys(&seen);
    for round in 0..a.rounds.max(1) {
        let seed = 10_000 + 20_000 * round as u64;
        let wanted = (rate * warm.as_secs_f64() * 2.0).max(burst as f64) as usize;
        let round_plans = wanted.div_ceil(a.people);
        plan(&mut store, &config, round_plans, ctx.clock.now())?;
        expected += round_plans * a.people;
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        let mut detail = String::new();
        for with_worker in order {
            store.checkpoint()?;
            if !with_worker {
                let (n, t) = rt.block_on(post_all(ctx, &db, live, &load(seed)))?;
                alone.push(n as f64 / t.as_secs_f64());
                continue;
            }
            let (worker, stop) = start_worker(&db, &config, ctx);
            let first = seen_keys(&seen);
            wait_for(&seen, first + 64.min(expected - first), Duration::from_secs(600))?;
            let started = Instant::now();
            let (n, t) = rt.block_on(post_all(ctx, &db, live, &load(seed + 10_000)))?;
            let ended = Instant::now();
            let backlog = expected.saturating_sub(seen_keys(&seen));
            stop.store(true, Ordering::Relaxed);
            worker.join().map_err(|_| anyhow::anyhow!("the worker panicked"))??;
            with.push(n as f64 / t.as_secs_f64());
            let window = ended.duration_since(started).as_secs_f64();
            let mut quarters = [0usize; 4];
            for at in &seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).first_at {
                if *at >= started && *at <= ended {
                    let part = (at.duration_since(started).as_secs_f64() / window * 4.0) as usize;
                    quarters[part.min(3)] += 1;
                }
            }
            let during: usize = quarters.iter().sum();
            covered &= quarters.iter().all(|&q| q > 0) && backlog > 0;
            sent_rates.push(during as f64 / window);
            detail = format!(
                "with the worker {:.0} events/s; {during} deliveries sent during its {window:.2} s (per quarter {}), {backlog} still queued at its end",
                n as f64 / t.as_secs_f64(),
                quarters.iter().map(ToString::to_string).collect::<Vec<_>>().join("/")
            );
        }
        let first = if order[0] { "with first" } else { "alone first" };
        let alone_now = alone.last().copied().unwrap_or(0.0);
        rounds_text.push(format!("round {} ({first}): ingest alone {alone_now:.0} events/s, {detail}", round + 1));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (alone, with, sending) = (median(&mut alone), median(&mut with), median(&mut sent_rates));
    for line in &rounds_text {
        println!("  {line}");
    }
    println!(
        "ingest with the worker delivering a burst: {with:.0} events/s (worker sending {sending:.0}/s meanwhile)   floor (ingest alone, same run) {alone:.0} events/s   x{:.2}   goal >= 0.9x: {}   (medians of {} rounds in alternating order; the burst delivered during the whole window: {})",
        with / alone,
        verdict(with / alone >= 0.9 && covered),
        a.rounds.max(1),
        if covered { "yes" } else { "NO" }
    );
    // What the rounds left queued goes out before part 3 measures latency.
    let (worker, stop) = start_worker(&db, &config, ctx);
    wait_for(&seen, expected, Duration::from_secs(600))?;

    // 3. Happening to first attempt, under a steady stream of happenings.
    let before = {
        let mut s = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        s.first_after_ms.clear();
        s.keys.len()
    };
    let every = Duration::from_secs_f64(1.0 / a.rate.max(1) as f64);
    let n = a.rate * a.seconds;
    let start = Instant::now();
    for i in 0..n {
        let due = start + every * u32::try_from(i).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        plan(&mut store, &config, 1, ctx.clock.now())?;
    }
    wait_for(&seen, before + n * a.people, Duration::from_secs(600))?;
    stop.store(true, Ordering::Relaxed);
    worker.join().map_err(|_| anyhow::anyhow!("the worker panicked"))??;
    let mut lat = std::mem::take(&mut seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).first_after_ms);
    lat.sort_unstable();
    let pick = |q: f64| lat.get(((lat.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
    println!(
        "happening -> first attempt ({} deliveries, {} happenings/s x {} people): p50 {} ms  p99 {} ms  max {} ms   floor (the worker's poll) {} ms   goal p99 < 1000 ms: {}",
        lat.len(),
        a.rate,
        a.people,
        pick(0.5),
        pick(0.99),
        lat.last().copied().unwrap_or(0),
        config.notify.poll.num_milliseconds(),
        verdict(pick(0.99) < 1000)
    );
    let requests = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).requests;
    println!(
        "sink: {requests} requests, {} distinct deliveries; failed deliveries in the log: {}",
        seen_keys(&seen),
        store.failed_deliveries()?
    );
    Ok(())
}

type Worker = std::thread::JoinHandle<Result<shipdeck::notify::WorkerStats, shipdeck::notify::WorkerError>>;

fn start_worker(db: &Path, config: &Config, ctx: &Ctx) -> (Worker, Arc<AtomicBool>) {
    let stop = Arc::new(AtomicBool::new(false));
    let opts = WorkerOptions {
        db: db.to_path_buf(),
        config: Arc::new(config.clone()),
        clock: ctx.clock.clone(),
        stop: stop.clone(),
    };
    (shipdeck::notify::spawn(opts).unwrap_or_else(|e| panic!("cannot start the worker: {e}")), stop)
}

/// The floor: the same number of POSTs of a delivery-sized JSON body, straight from a client
/// with the worker's concurrency, into a second sink that only counts.
async fn direct_posts(_sink: SocketAddr, n: usize, concurrency: usize) -> anyhow::Result<Duration> {
    use futures_util::StreamExt;
    let counted: Arc<Mutex<Seen>> = Arc::default();
    let addr = start_sink(counted.clone())?;
    let client = shipdeck::notify::http_client().map_err(anyhow::Error::msg)?;
    let url = format!("http://{addr}/hook");
    let t = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(0..n)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let body = serde_json::json!({ "id": format!("floor-{i}"), "kind": "deployment_planned", "subject": "DEP-1 planned", "text": "x" });
                client.post(&url).header("Idempotency-Key", format!("floor-{i}")).header("Content-Type", "application/json").body(serde_json::to_vec(&body).unwrap_or_default()).send().await
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let took = t.elapsed();
    anyhow::ensure!(results.iter().all(Result::is_ok), "the floor's POSTs failed");
    Ok(took)
}
