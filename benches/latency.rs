//! `shipdeck-bench latency`: how long after its commit an event reaches the dashboard's state,
//! while the receiver ingests a steady stream.
//!
//! Agents post paced batches to the real receiver; the dashboard's own data loader follows the
//! log on its own thread, as in `shipdeck`. Each batch's `at` is the moment the agent sent it,
//! which is before the commit, so `seen - at` is an upper bound of commit-to-state latency.

use crate::Ctx;
use crate::log::{self, Live, agent_event, push_ndjson_line};
use shipdeck::demo::rng::Rng;
use shipdeck::store::Store;
use shipdeck::tui::data::{Loader, Request};
use shipdeck::tui::model::Loaded;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events already in the log
    #[arg(long, default_value_t = 1_000_000)]
    prefill: usize,
    /// Events per second the agents post, in total
    #[arg(long, default_value_t = 20_000)]
    rate: usize,
    /// Seconds of steady load
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

const AGENTS: usize = 20;
const BATCH: usize = 100;

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new().prefix("shipdeck-bench").tempdir()?;
    let db = tmp.path().join("bench.db");
    println!("shipdeck-bench latency: {} events/s for {} s into a log of {} events", a.rate, a.seconds, a.prefill);
    let spec = log::Spec { events: a.prefill, targets: 10_000, live: Live::Planned };
    let live = log::build(&ctx.config, &db, &spec, ctx.clock.now())?;

    // The dashboard's loader, following the log on its own thread with the live one selected.
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Loaded>(64);
    let (req_tx, req_rx) = std::sync::mpsc::channel::<Request>();
    let mut loader = Loader::new(Store::open_existing(&db)?, ctx.clock.clone(), ctx.config.timezone);
    loader.initial()?;
    req_tx.send(Request::Select(Some(live)))?;
    let follower = std::thread::spawn(move || loader.run(&req_rx, &out_tx));
    // (arrival time in ms since the epoch, newest seq the dashboard knows of the live deployment)
    let seen = std::thread::spawn(move || {
        let mut seen: Vec<(i64, i64)> = Vec::new();
        while let Some(msg) = out_rx.blocking_recv() {
            if let Loaded::Refresh(refresh) = msg {
                let now = wall_ms();
                if let Some(d) = refresh.changed.iter().find(|d| d.key == live) {
                    seen.push((now, d.last_event_seq));
                }
            }
        }
        seen
    });

    let (posted, elapsed) = shipdeck::runtime::build()?.block_on(load(ctx, &db, live, a))?;
    drop(req_tx);
    follower.join().map_err(|_| anyhow::anyhow!("the loader thread panicked"))?;
    let seen = seen.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    println!(
        "load: {posted} events in {:.1} s = {:.0} events/s",
        elapsed.as_secs_f64(),
        posted as f64 / elapsed.as_secs_f64()
    );

    // Every event of the run: when its agent sent it, and when the dashboard first knew of it.
    let stamps = Store::open_existing(&db)?.event_stamps(live)?;
    let mut latencies: Vec<i64> = Vec::new();
    let mut i = 0;
    for (seq, at) in stamps {
        while i < seen.len() && seen[i].1 < seq {
            i += 1;
        }
        if let Some((arrived, _)) = seen.get(i) {
            latencies.push(arrived - at);
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0);
    println!(
        "send-to-dashboard latency over {} events ({} refreshes): p50 {} ms, p99 {} ms, max {} ms",
        latencies.len(),
        seen.len(),
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or(0)
    );
    Ok(())
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

/// Paced agents: each posts a batch of `BATCH` events at a fixed interval.
async fn load(
    ctx: &Ctx,
    db: &Path,
    live: shipdeck::domain::DeploymentKey,
    a: &Args,
) -> anyhow::Result<(usize, Duration)> {
    let served = crate::measure::Served::start(ctx, db).await?;
    let url = served.events_url();
    let client = shipdeck::client::client(None)?;
    let interval = Duration::from_secs_f64((AGENTS * BATCH) as f64 / a.rate.max(1) as f64);
    let end = Instant::now() + Duration::from_secs(a.seconds);
    let start = Instant::now();
    let clock = ctx.clock.clone();
    let agents: Vec<_> = (0..AGENTS)
        .map(|agent| {
            let (client, url, clock) = (client.clone(), url.clone(), clock.clone());
            tokio::spawn(async move {
                let mut rng = Rng::seeded(agent as u64 + 77);
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let (mut posted, mut n) = (0, 0);
                while Instant::now() < end {
                    tick.tick().await;
                    let at = clock.now();
                    let mut body = String::with_capacity(BATCH * 200);
                    for i in 0..BATCH {
                        let host = format!("web-{:05}", (agent * 500 + i) % 10_000);
                        push_ndjson_line(&mut body, &agent_event(live, &host, 6 + n, at, &mut rng));
                    }
                    n += 1;
                    client.post(&url).body(body).send().await?.bytes().await?;
                    posted += BATCH;
                }
                Ok::<_, anyhow::Error>(posted)
            })
        })
        .collect();
    let mut posted = 0;
    for agent in agents {
        posted += agent.await??;
    }
    let elapsed = start.elapsed();
    // Give the dashboard a moment to see the last commit.
    tokio::time::sleep(Duration::from_millis(300)).await;
    served.stop().await?;
    Ok((posted, elapsed))
}
