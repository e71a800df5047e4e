//! The delivery worker: sends the outbox's deliveries through their channels, at least once.
//!
//! It runs on its own thread with its own connection to the log (inside `shipdeck serve`, or
//! alone as `shipdeck notify run`), so it never holds up the receiver: it takes the write lock
//! only for short claims and result batches. It claims due deliveries with a lease, sends up
//! to `notify.concurrency` at once, and records results in batches: sent, or retrying after an
//! exponential backoff with jitter, or failed with the last error once the channel's
//! `max_attempts` are used. A delivery whose worker died is due again when its lease ends and
//! is sent again, with the same idempotency key.

pub mod channels;
mod log;
pub mod template;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::notify::{Delivery, backoff};
use crate::store::{Attempt, Store, StoreError};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Results are written at least this often while deliveries complete.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// ... or as soon as this many are waiting.
const FLUSH_AT: usize = 256;
/// How often the worker looks for planned starts to remind of.
const REMIND_EVERY: Duration = Duration::from_secs(5);

/// What the worker needs.
#[derive(Clone)]
pub struct WorkerOptions {
    pub db: PathBuf,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    /// Set to stop: the worker stops claiming, finishes what is in flight and returns.
    pub stop: Arc<AtomicBool>,
}

/// Why the worker stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the delivery worker: {0}")]
    Start(String),
}

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub sent: usize,
    pub failed_attempts: usize,
}

/// The HTTP client webhooks are sent with (https through rustls).
pub fn http_client() -> Result<reqwest::Client, String> {
    crate::runtime::install_tls();
    reqwest::Client::builder().pool_max_idle_per_host(64).build().map_err(|e| e.to_string())
}

/// One structured log line per delivery attempt (`shipdeck serve` shows them on stderr).
fn log_delivery(d: &crate::domain::notify::Delivery, attempt: &Attempt) {
    match attempt {
        Attempt::Sent => tracing::info!(delivery = d.id, channel = %d.channel, attempt = d.attempts, "delivery sent"),
        Attempt::Failed { error, retry_at, .. } => tracing::warn!(
            delivery = d.id,
            channel = %d.channel,
            attempt = d.attempts,
            error = %error,
            retry_at = ?retry_at,
            "delivery failed"
        ),
    }
}

/// Starts the worker on its own thread.
pub fn spawn(opts: WorkerOptions) -> std::io::Result<std::thread::JoinHandle<Result<WorkerStats, WorkerError>>> {
    std::thread::Builder::new().name("shipdeck-notify".into()).spawn(move || {
        let result = run(&opts);
        if let Err(e) = &result {
            eprintln!("shipdeck delivery worker stopped: {e}");
        }
        result
    })
}

/// Runs the worker on this thread until `opts.stop` is set.
///
/// The thread lowers its own scheduling priority (the highest niceness) first: sending is
/// background work, so on a busy machine the receiver's ingest gets the processor and the
/// worker takes what is left. Its writes to the log run on a thread at normal priority (see
/// `log`), so the write lock is never held by a thread the scheduler keeps waiting.
pub fn run(opts: &WorkerOptions) -> Result<WorkerStats, WorkerError> {
    let mut store = Store::open_existing(&opts.db)?;
    store.set_zone(opts.config.timezone);
    store.relax_durability_for_outbox()?;
    let outbox = log::OutboxLog::start(store).map_err(|e| WorkerError::Start(e.to_string()))?;
    lower_priority();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WorkerError::Start(e.to_string()))?;
    let client = http_client().map_err(WorkerError::Start)?;
    rt.block_on(work(opts, &outbox, client))
}

/// A random number in [0, 1) for the jitter.
fn jitter() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() >> 75; // 53 random bits
    #[allow(clippy::cast_precision_loss)]
    let x = bits as f64 / (1u128 << 53) as f64;
    x
}

/// What one attempt's outcome means for the delivery.
fn outcome(config: &Config, d: &Delivery, result: Result<(), String>, now: chrono::DateTime<chrono::Utc>) -> Attempt {
    let Err(error) = result else { return Attempt::Sent };
    let Some(c) = config.channels.get(&d.channel) else {
        return Attempt::Failed { error, retry_at: None, max_attempts: d.attempts };
    };
    let retry_at = (d.attempts < c.max_attempts).then(|| now + backoff(d.attempts, c.backoff, c.backoff_max, jitter()));
    Attempt::Failed { error, retry_at, max_attempts: c.max_attempts }
}

async fn work(
    opts: &WorkerOptions,
    store: &log::OutboxLog,
    client: reqwest::Client,
) -> Result<WorkerStats, WorkerError> {
    let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let config = &opts.config;
    let limit = config.notify.concurrency;
    let poll = config.notify.poll.to_std().unwrap_or(Duration::from_millis(100));
    let lease = config.notify.lease;
    let mut stats = WorkerStats::default();
    let mut in_flight = FuturesUnordered::new();
    let mut done: Vec<(i64, Attempt)> = Vec::new();
    let mut last_claim: Option<Instant> = None;
    let mut last_flush = Instant::now();
    let mut last_remind: Option<Instant> = None;
    loop {
        let stopping = opts.stop.load(Ordering::Relaxed);
        if stopping && in_flight.is_empty() {
            store.record(&owner, &done, opts.clock.now()).await?;
            return Ok(stats);
        }
        // The time-driven happening: a planned start approaching (the worker is what runs
        // while time passes; the reminder is stored like any other happening, then sent).
        if !stopping && last_remind.is_none_or(|t| t.elapsed() >= REMIND_EVERY) {
            last_remind = Some(Instant::now());
            if let Err(e) = store.remind(opts.clock.now(), config.notify.remind_before).await {
                eprintln!("shipdeck delivery worker: {e}; reminders wait for the next round");
            }
        }
        // Claim when half the slots are free, or at least every poll interval.
        let room = limit.saturating_sub(in_flight.len());
        if !stopping && room > 0 && (room * 2 >= limit || last_claim.is_none_or(|t| t.elapsed() >= poll)) {
            let now = opts.clock.now();
            let claimed = match store.claim(&owner, now, now + lease, room).await {
                Ok(c) => c,
                Err(e) => {
                    // The log may be busy or briefly failing (a full disk): try again, never exit.
                    tracing::warn!(error = %e, "delivery worker cannot claim deliveries; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Vec::new()
                }
            };
            last_claim = Some(Instant::now());
            for d in claimed {
                let client = &client;
                in_flight.push(async move {
                    let result = channels::send(config, client, &d.channel, &d).await;
                    (d, result)
                });
            }
        }
        tokio::select! {
            Some((d, result)) = in_flight.next(), if !in_flight.is_empty() => {
                let attempt = outcome(config, &d, result, opts.clock.now());
                log_delivery(&d, &attempt);
                if attempt == Attempt::Sent { stats.sent += 1 } else { stats.failed_attempts += 1 }
                done.push((d.id, attempt));
            }
            () = tokio::time::sleep(poll) => {}
        }
        if !done.is_empty() && (done.len() >= FLUSH_AT || in_flight.is_empty() || last_flush.elapsed() >= FLUSH_EVERY) {
            match store.record(&owner, &done, opts.clock.now()).await {
                Ok(()) => done.clear(),
                // Kept: written with the next batch. Until then their leases hold them.
                Err(e) => tracing::warn!(
                    error = %e,
                    kept = done.len(),
                    "delivery worker cannot record results; keeping them for the next write"
                ),
            }
            last_flush = Instant::now();
        }
    }
}

/// Makes the calling thread the last to get the processor (niceness 19 on Linux). Where the
/// system does not allow it, the thread keeps its priority.
pub fn lower_priority() {
    let _ = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
}
