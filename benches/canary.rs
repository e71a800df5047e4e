//! `shipdeck-bench canary`: canary analysis with 10,000 metric samples a minute streaming in.
//!
//! Two parts. **Cost**: a canary deployment of 100 hosts (10 of them the canary) gets
//! `--per-minute` samples a minute (default 10,000; two metrics, canary and baseline) for
//! `--minutes` minutes, stored through the real ingest; then the analysis the receiver runs each
//! tick (`Store::analysis`, which reads the samples and computes the verdict) is timed over one
//! minute and over all of them, each the median of `--runs` beside a same-run floor (a plain scan
//! of the same sample rows) and the goal (the verdict within 1 s). **Flip**: the real receiver
//! (`--flip-rounds` times, each a new deployment, 1 s intervals) takes the same rate over HTTP in
//! real time; after a few seconds the canary's error rate jumps; the time from the end of the
//! interval holding the first bad sample (the earliest the verdict can change) to the halt being
//! visible in the log, and from the bad sample's acknowledgement, are printed against 1 s.

use crate::Ctx;
use crate::measure::{median, ms};
use chrono::{DateTime, TimeDelta, Utc};
use shipdeck::domain::event::parse_line;
use shipdeck::domain::{DeploymentKey, DeploymentModel, DeploymentStatus};
use shipdeck::store::{PlanRequest, Store, Submission};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Metric samples a minute
    #[arg(long, default_value_t = 10_000)]
    per_minute: usize,
    /// Minutes of samples for the cost part
    #[arg(long, default_value_t = 10)]
    minutes: usize,
    /// Runs of each cost measurement (the median is printed)
    #[arg(long, default_value_t = 9)]
    runs: usize,
    /// Rounds of the flip through the real receiver (0: skip)
    #[arg(long, default_value_t = 3)]
    flip_rounds: usize,
}

const HOSTS: usize = 100;
const CANARY_HOSTS: usize = 10;

/// The measured canary model (not supervised: its analysis decides from the first run).
fn model(interval: &str) -> anyhow::Result<DeploymentModel> {
    let text = format!(
        "technique = \"canary\"\nsteps = [\"install\"]\nsupervised_runs = 0\n\n[[phases]]\nname = \"canary\"\ntargets = {CANARY_HOSTS}\n\n\
         [[phases]]\nname = \"fleet\"\ngate = {{ approvals = 1, roles = [\"deployment_manager\"] }}\n\n\
         [[analysis]]\nmetric = \"error_rate\"\ncompare = \"difference\"\nmax = 0.5\nfor = \"10m\"\ninterval = \"{interval}\"\n\n\
         [[analysis]]\nmetric = \"latency_ms\"\ncompare = \"p95_ratio\"\nmax = 1.5\nfor = \"10m\"\ninterval = \"{interval}\"\n"
    );
    Ok(toml::from_str(&text)?)
}

fn host(i: usize) -> String {
    format!("h-{i:03}")
}

fn plan(
    store: &mut Store,
    model: &DeploymentModel,
    version: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<DeploymentKey> {
    let req = PlanRequest {
        release: format!("bench-canary@1.0.{version}").parse()?,
        environment: "bench".into(),
        model_name: "canary".into(),
        model,
        targets: (0..HOSTS).map(host).collect::<Vec<_>>().into(),
        change_ref: None,
        requested_by: "bench".into(),
        release_record: Default::default(),
        planned_start: now,
        planned_end: None,
        now,
    };
    Ok(store.plan(&req)?.0)
}

/// The canary hosts' install succeeded: NDJSON lines.
fn canary_done(key: DeploymentKey) -> String {
    (0..CANARY_HOSTS)
        .map(|i| format!("{{\"id\":\"i-{i}\",\"deployment\":\"{key}\",\"target\":\"{}\",\"step\":\"install\",\"status\":\"succeeded\"}}\n", host(i)))
        .collect()
}

/// Sample number `n` (hosts and metrics taken in turn), at `at` when given; the canary's error
/// rate is high when `bad`.
fn sample(key: DeploymentKey, n: usize, at: Option<DateTime<Utc>>, bad: bool) -> String {
    // Hosts in a stride coprime with their count: the canary's reports are spread evenly.
    let h = (n / 2 * 37) % HOSTS;
    let canary = h < CANARY_HOSTS;
    let jitter = (n % 13) as f64 / 13.0;
    let (metric, value) = if n % 2 == 0 {
        ("error_rate", if canary && bad { 3.0 } else { 0.2 + 0.1 * jitter })
    } else {
        ("latency_ms", 100.0 + 10.0 * jitter)
    };
    let at =
        at.map_or(String::new(), |t| format!(",\"at\":\"{}\"", t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    format!(
        "{{\"id\":\"s-{n}\",\"deployment\":\"{key}\",\"target\":\"{}\",\"step\":\"metrics\",\"status\":\"info\"{at},\"data\":{{\"metric\":\"{metric}\",\"value\":{value:.4}}}}}",
        host(h)
    )
}

pub fn run(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    cost(a)?;
    if a.flip_rounds > 0 {
        flip(ctx, a)?;
    }
    Ok(())
}

fn line(what: &str, took: Duration, floor: Duration) {
    let verdict = if took < Duration::from_secs(1) { "ok" } else { "MISSED" };
    println!(
        "{what:<58} {:>10}   floor {:>10}   x{:<5.1} goal < 1 s: {verdict}",
        ms(took),
        ms(floor),
        took.as_secs_f64() / floor.as_secs_f64().max(1e-6)
    );
}

fn cost(a: &Args) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new().prefix("shipdeck-bench-canary").tempdir()?;
    let mut store = Store::open(&tmp.path().join("canary.db"))?;
    store.relax_durability_for_bulk_load()?;
    let t0 = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")?.with_timezone(&Utc);
    let key = plan(&mut store, &model("1m")?, 0, t0 - TimeDelta::hours(1))?;
    let ingest = |store: &mut Store, lines: &[String], received: DateTime<Utc>| -> anyhow::Result<()> {
        let events = lines
            .iter()
            .enumerate()
            .map(|(i, l)| Ok((i + 1, parse_line(l, received)?)))
            .collect::<anyhow::Result<_>>()?;
        let out = store.ingest(&[Submission { events, received_ms: received.timestamp_millis() }])?.remove(0);
        anyhow::ensure!(out.rejected.is_empty(), "rejected: {:?}", out.rejected.first());
        Ok(())
    };
    ingest(&mut store, &canary_done(key).lines().map(str::to_owned).collect::<Vec<_>>(), t0)?;
    let step = 60_000.0 / a.per_minute as f64;
    let total = a.per_minute * a.minutes;
    let started = Instant::now();
    for chunk in (0..total).collect::<Vec<_>>().chunks(a.per_minute) {
        let lines: Vec<String> = chunk
            .iter()
            .map(|&n| sample(key, n, Some(t0 + TimeDelta::milliseconds((n as f64 * step) as i64)), false))
            .collect();
        let received = t0 + TimeDelta::milliseconds(((chunk[chunk.len() - 1] + 1) as f64 * step) as i64);
        ingest(&mut store, &lines, received)?;
    }
    println!(
        "shipdeck-bench canary: {} samples a minute for {} minutes over {HOSTS} hosts ({CANARY_HOSTS} canary), two metrics; stored in {:.1} s",
        a.per_minute,
        a.minutes,
        started.elapsed().as_secs_f64()
    );
    let timed = |until: DateTime<Utc>| -> anyhow::Result<(Duration, Duration, String)> {
        let mut verdict = String::new();
        let mut times = Vec::new();
        for _ in 0..a.runs.max(1) {
            let t = Instant::now();
            let state = store.analysis(key, until)?.ok_or_else(|| anyhow::anyhow!("no analysis"))?;
            times.push(t.elapsed());
            verdict = state.analysis.map_or_else(String::new, |x| {
                format!(
                    "{} ({} samples)",
                    x.verdict,
                    x.rules.iter().map(|r| r.canary_samples + r.baseline_samples).sum::<usize>()
                )
            });
        }
        let mut floors = Vec::new();
        for _ in 0..a.runs.max(1) {
            let t = Instant::now();
            std::hint::black_box(store.scan_info_rows(key, t0.timestamp_millis(), until.timestamp_millis())?);
            floors.push(t.elapsed());
        }
        Ok((median(times), median(floors), verdict))
    };
    let (took, floor, verdict) = timed(t0 + TimeDelta::minutes(1))?;
    line("analysis over 1 minute (the tick's work, verdict included)", took, floor);
    println!("  verdict: {verdict}");
    let (took, floor, verdict) = timed(t0 + TimeDelta::minutes(i64::try_from(a.minutes)?))?;
    line(&format!("analysis over all {} minutes", a.minutes), took, floor);
    println!("  verdict: {verdict}");
    Ok(())
}

fn flip(ctx: &Ctx, a: &Args) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new().prefix("shipdeck-bench-canary-flip").tempdir()?;
    let db = tmp.path().join("flip.db");
    let mut store = Store::open(&db)?;
    let model = model("1s")?;
    let rt = shipdeck::runtime::build()?;
    let mut from_end = Vec::new();
    let mut from_ack = Vec::new();
    for round in 0..a.flip_rounds {
        let key = plan(&mut store, &model, round + 1, ctx.clock.now())?;
        let (end, ack) = rt.block_on(flip_round(ctx, &db, key, a.per_minute))?;
        from_end.push(end);
        from_ack.push(ack);
    }
    let show = |what: &str, xs: &mut Vec<Duration>| {
        xs.sort();
        let verdict = if xs.iter().all(|d| *d < Duration::from_secs(1)) { "ok" } else { "MISSED" };
        let all: Vec<String> = xs.iter().map(|d| ms(*d)).collect();
        println!(
            "{what:<58} median {:>10}   max {:>10}   goal < 1 s: {verdict}   ({})",
            ms(median(xs.clone())),
            ms(*xs.last().unwrap_or(&Duration::ZERO)),
            all.join(", ")
        );
    };
    println!(
        "flip through the real receiver: {} samples a minute over HTTP, 1 s intervals, {} rounds; the receiver looks every 0.5 s",
        a.per_minute, a.flip_rounds
    );
    show("end of the first bad interval -> halt visible in the log", &mut from_end);
    show("first bad sample acknowledged -> halt visible in the log", &mut from_ack);
    Ok(())
}

/// One round: streams good samples for 4 s, then bad ones until the halt shows; returns the
/// time from the end of the first bad interval, and from the bad sample's ack, to the halt.
async fn flip_round(
    ctx: &Ctx,
    db: &std::path::Path,
    key: DeploymentKey,
    per_minute: usize,
) -> anyhow::Result<(Duration, Duration)> {
    let served = crate::measure::Served::start(ctx, db).await?;
    let url = served.events_url();
    let client = reqwest::Client::new();
    let post = |body: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client.post(&url).body(body).send().await?;
            anyhow::ensure!(r.status().is_success(), "the receiver answered {}", r.status());
            Ok::<_, anyhow::Error>(())
        }
    };
    post(canary_done(key)).await?;
    // A reader in another connection, as a dashboard or `status` sees the log.
    let reader = Store::open_existing(db)?;
    let started = loop {
        if let Some(a) = reader.analysis(key, ctx.clock.now())?.and_then(|s| s.analysis) {
            break a.started;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // Batches every 100 ms at the given rate.
    let per_batch = (per_minute / 600).max(1);
    let mut n = 0;
    let mut bad_acked: Option<(Instant, DateTime<Utc>)> = None;
    let began = Instant::now();
    loop {
        let bad = began.elapsed() >= Duration::from_secs(4);
        let body: String = (0..per_batch)
            .map(|_| {
                n += 1;
                sample(key, n, None, bad) + "\n"
            })
            .collect();
        let sent = ctx.clock.now();
        post(body).await?;
        if bad && bad_acked.is_none() {
            bad_acked = Some((Instant::now(), sent));
        }
        if let Some((acked, sent_at)) = bad_acked {
            // Poll the log for the halt until the next batch is due.
            let due = Instant::now() + Duration::from_millis(100);
            while Instant::now() < due {
                if reader.summary(key)?.status == DeploymentStatus::Failed {
                    let seen = Instant::now();
                    let seen_at = ctx.clock.now();
                    let iv = 1000;
                    let start_ms = started.timestamp_millis();
                    let end_ms = start_ms + ((sent_at.timestamp_millis() - start_ms) / iv + 1) * iv;
                    let from_end = (seen_at.timestamp_millis() - end_ms).max(0);
                    served.stop().await?;
                    return Ok((Duration::from_millis(u64::try_from(from_end)?), seen - acked));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            anyhow::ensure!(acked.elapsed() < Duration::from_secs(30), "no halt 30 s after the bad samples");
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
