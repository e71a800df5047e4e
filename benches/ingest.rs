//! `shipdeck-bench ingest`: drives the real receiver over loopback HTTP with concurrent agents
//! into a log that already holds a million events, and compares the end-to-end rate with
//! SQLite's raw append rate for the same rows, so the number means something on any machine.

use crate::Ctx;
use crate::log::{self, Live, agent_event, push_ndjson_line};
use shipdeck::demo::rng::Rng;
use shipdeck::domain::{AgentEvent, DeploymentKey};
use shipdeck::store::Store;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
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
    /// Then post the same load again with this share of the lines metric samples (`info` events
    /// with `data = {"metric": ..., "value": ...}`) and compare the two rates (0: skip)
    #[arg(long, default_value_t = 10, value_name = "PERCENT")]
    metric_percent: usize,
    /// Keep the log here (default: a temporary folder, removed afterwards)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Also measure the cost of a Prometheus scraper: runs rounds without and with
    /// `GET /metrics` every DURATION (e.g. 1s), alternating, and prints both rates
    #[arg(long, value_name = "DURATION")]
    scrape_metrics: Option<String>,
    /// Rounds of each kind with --scrape-metrics (the medians are compared)
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// What one round of posting did.
pub struct Round {
    pub accepted: usize,
    pub elapsed: Duration,
    /// How long each scrape of `/metrics` took (empty without scraping).
    pub scrapes: Vec<Duration>,
}

impl Round {
    fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64()
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new().prefix("shipdeck-bench").tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.db");
    let _ = std::fs::remove_file(&db);
    println!(
        "shipdeck-bench ingest: {} agents x {} requests x {} events ({} hosts per request, {} targets), log prefilled with {} events",
        a.agents, a.requests, a.batch, a.hosts_per_request, a.targets, a.prefill
    );
    let now = ctx.clock.now();
    let spec = log::Spec { events: a.prefill, targets: a.targets, live: Live::Planned };
    let live = log::build(&ctx.config, &db, &spec, now)?;

    // The receiver and the agents share this process (and its two cores, on the CI machine).
    reset_peak_rss();
    let rt = shipdeck::runtime::build()?;
    let load = Load {
        agents: a.agents,
        requests: a.requests,
        batch: a.batch,
        targets: a.targets,
        hosts_per_request: a.hosts_per_request,
        seed: 1000,
        metric_every: 0,
    };
    let e2e = match &a.scrape_metrics {
        None => {
            let (accepted, elapsed) = rt.block_on(post_all(ctx, &db, live, &load))?;
            let e2e = accepted as f64 / elapsed.as_secs_f64();
            println!("end to end: {accepted} events accepted in {:.2} s = {:.0} events/s", elapsed.as_secs_f64(), e2e);
            e2e
        }
        Some(every) => {
            let every = shipdeck::domain::duration::parse(every)
                .ok()
                .and_then(|d| d.to_std().ok())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| anyhow::anyhow!("--scrape-metrics \"{every}\" is not a duration (e.g. 1s)"))?;
            scrape_cost(&rt, ctx, &db, live, &load, a.rounds, every)?
        }
    };
    let peak = peak_rss_kib();
    println!("peak RSS during the run: {} MiB", peak / 1024);
    if a.metric_percent > 0 {
        // The same load again (new ids), a share of its lines metric samples, on the same
        // (now larger) log: the comparison is conservative for the metric run.
        let every = (100 / a.metric_percent.min(100)).max(1);
        let metric = Load { seed: 2000, metric_every: every, ..load };
        let (m_accepted, m_elapsed) = rt.block_on(post_all(ctx, &db, live, &metric))?;
        let m_rate = m_accepted as f64 / m_elapsed.as_secs_f64();
        let ratio = m_rate / e2e;
        println!(
            "with {}% metric samples: {m_accepted} events accepted in {:.2} s = {m_rate:.0} events/s, {:.1}% of the plain run (goal: within 10%: {})",
            a.metric_percent,
            m_elapsed.as_secs_f64(),
            ratio * 100.0,
            if ratio >= 0.9 { "ok" } else { "MISSED" }
        );
    }

    let total = a.agents * a.requests * a.batch;
    let mut rng = Rng::seeded(7);
    let rows: Vec<AgentEvent> = (0..total)
        .map(|i| agent_event(DeploymentKey(1), &format!("web-{:05}", i % 10_000), i / 10_000, now, &mut rng))
        .collect();
    let raw = Store::open(&db)?.raw_append_rate(&rows)?;
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
    let exe = shipdeck_exe()?;
    let t = Instant::now();
    let out = std::process::Command::new(&exe).arg("--db").arg(&db).args(["status", &live.to_string()]).output()?;
    println!(
        "`shipdeck status {live}` command: {:.1} ms, {} lines",
        t.elapsed().as_secs_f64() * 1e3,
        out.stdout.split(|b| *b == b'\n').count()
    );
    Ok(())
}

/// The `shipdeck` binary built beside this one (`cargo build --release --features bench`
/// builds both).
fn shipdeck_exe() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let exe = me.with_file_name(format!("shipdeck{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        exe.is_file(),
        "no shipdeck binary at {} to time `status` with: build both with `cargo build --release --features bench`",
        exe.display()
    );
    Ok(exe)
}

/// What the agents post: `agents` concurrent agents send `requests` requests of `batch` events
/// each, about `targets` hosts, `hosts_per_request` hosts per request; `seed` picks the ids.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub agents: usize,
    pub requests: usize,
    pub batch: usize,
    pub targets: usize,
    pub hosts_per_request: usize,
    pub seed: u64,
    /// Every n-th line is a metric sample instead (0: none).
    pub metric_every: usize,
}

/// Rounds without and with a scraper, alternating (so a log that grows, or a neighbour on the
/// machine, weighs on both alike); prints both rates and the cost. Returns the rate without.
fn scrape_cost(
    rt: &tokio::runtime::Runtime,
    ctx: &Ctx,
    db: &Path,
    live: DeploymentKey,
    load: &Load,
    rounds: usize,
    every: Duration,
) -> anyhow::Result<f64> {
    let (mut plain, mut scraped, mut scrapes) = (Vec::new(), Vec::new(), Vec::new());
    let mut scraped_time = Duration::ZERO;
    for round in 0..rounds.max(1) {
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for with in order {
            // New ids every round: nothing is a duplicate.
            let seed = load.seed + (round as u64 * 2 + u64::from(with)) * 100_000;
            let r = rt.block_on(post_scraped(ctx, db, live, &Load { seed, ..*load }, with.then_some(every)))?;
            println!(
                "round {} {:<28} {:>9.0} events/s ({} events in {:.2} s{})",
                round + 1,
                if with { "with /metrics scraped:" } else { "without scraping:" },
                r.rate(),
                r.accepted,
                r.elapsed.as_secs_f64(),
                if with { format!(", {} scrapes", r.scrapes.len()) } else { String::new() }
            );
            if with {
                scraped.push(r.rate());
                scraped_time += r.elapsed;
                scrapes.extend(r.scrapes);
            } else {
                plain.push(r.rate());
            }
        }
    }
    let (without, with) = (median(plain), median(scraped));
    let cost = (1.0 - with / without) * 100.0;
    let mean_ms = scrapes.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / scrapes.len().max(1) as f64;
    println!("end to end without scraping:                 {without:>9.0} events/s (median of {rounds} rounds)");
    println!(
        "end to end with /metrics every {:<4}         {with:>9.0} events/s (median of {rounds} rounds; {} scrapes, {mean_ms:.2} ms each)",
        format!("{}s:", every.as_secs_f64()),
        scrapes.len()
    );
    let serving = scrapes.iter().sum::<Duration>().as_secs_f64() / scraped_time.as_secs_f64().max(1e-9) * 100.0;
    println!("time a scrape was being answered: {serving:.2}% of the scraped rounds' wall time");
    println!(
        "cost of scraping: {cost:.2}% of throughput (same run)   goal < 2%: {}",
        if cost < 2.0 { "ok" } else { "MISSED" }
    );
    Ok(without)
}

/// Starts the real receiver on loopback, posts `a` to it and returns the events accepted and
/// the time it took.
pub async fn post_all(ctx: &Ctx, db: &Path, live: DeploymentKey, a: &Load) -> anyhow::Result<(usize, Duration)> {
    let round = post_scraped(ctx, db, live, a, None).await?;
    Ok((round.accepted, round.elapsed))
}

/// [`post_all`], with a Prometheus stand-in scraping `GET /metrics` every `scrape` meanwhile.
pub async fn post_scraped(
    ctx: &Ctx,
    db: &Path,
    live: DeploymentKey,
    a: &Load,
    scrape: Option<Duration>,
) -> anyhow::Result<Round> {
    let served = crate::measure::Served::start(ctx, db).await?;
    let addr = served.addr;
    let url = served.events_url();
    let client = shipdeck::client::builder(None)?.pool_max_idle_per_host(a.agents).build()?;
    // A Prometheus stand-in: GET /metrics every `every`, each scrape timed and checked.
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let scraper = scrape.map(|every| {
        let (client, url) = (client.clone(), format!("http://{addr}/metrics"));
        tokio::spawn(async move {
            let mut took = Vec::new();
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = done_rx.changed() => return Ok::<_, anyhow::Error>(took),
                }
                let t = Instant::now();
                let text = client.get(&url).send().await?.error_for_status()?.text().await?;
                anyhow::ensure!(text.contains("shipdeck_events_total"), "/metrics answered without the event counters");
                took.push(t.elapsed());
            }
        })
    });
    let per_agent = (a.targets / a.agents).max(1);
    let spread = a.hosts_per_request.clamp(1, a.batch);
    let now = ctx.clock.now();
    let start = Instant::now();
    let mut agents = Vec::new();
    for agent in 0..a.agents {
        let (client, url) = (client.clone(), url.clone());
        let (requests, batch, seed, metric_every) = (a.requests, a.batch, a.seed, a.metric_every);
        agents.push(tokio::spawn(async move {
            let mut accepted = 0usize;
            // Request r carries events of `spread` hosts of this agent, in turn; a host's k-th
            // appearance brings its next events (lifecycle steps, then progress notes).
            let mut sent = vec![0usize; per_agent];
            let mut rng = Rng::seeded(agent as u64 + seed);
            for r in 0..requests {
                let mut body = String::with_capacity(batch * 200);
                for i in 0..batch {
                    let h = (r * spread + i % spread) % per_agent;
                    let host = format!("web-{:05}", agent * per_agent + h);
                    if metric_every > 0 && (r * batch + i) % metric_every == 0 {
                        let e = agent_event(live, &host, 6, now, &mut rng);
                        push_metric_line(&mut body, &e, (r * batch + i) % 97);
                        continue;
                    }
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
    let _ = done_tx.send(true);
    let scrapes = match scraper {
        Some(task) => task.await??,
        None => Vec::new(),
    };
    served.stop().await?;
    Ok(Round { accepted, elapsed, scrapes })
}

/// Appends a metric sample (an `info` event with `data`) as one NDJSON line.
fn push_metric_line(body: &mut String, e: &AgentEvent, n: usize) {
    use std::fmt::Write;
    let _ = writeln!(
        body,
        r#"{{"id":"{}","deployment":"{}","target":"{}","step":"canary","status":"info","at":"{}","data":{{"metric":"error_rate","value":{}.{:02}}}}}"#,
        e.id,
        e.deployment,
        e.target.as_deref().unwrap_or_default(),
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        n / 10,
        n % 100
    );
}

/// Resets the kernel's peak-RSS mark, so the peak measures the run, not the set-up.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size in KiB (VmHWM), 0 where unknown.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
