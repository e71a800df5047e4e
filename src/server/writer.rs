//! The log's single writer: a thread that owns the write connection and commits requests in
//! groups.
//!
//! One transaction per request would cap ingest at the disk's sync rate; one writer draining a
//! bounded queue commits whatever has gathered while the previous commit ran, so the cost of
//! a commit is shared by every waiting request. It also remembers how its last commits went,
//! so `/v1/health` can say when writes fail.

use super::metrics::Metrics;
use crate::clock::SharedClock;
use crate::store::{IngestOutcome, Store, StoreError, Submission};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Requests waiting for the writer; senders wait when it is full (back-pressure to agents).
const QUEUE_DEPTH: usize = 256;
/// Events committed together at most.
const MAX_GROUP_EVENTS: usize = 20_000;

type Reply = oneshot::Sender<Result<IngestOutcome, WriteError>>;

/// Why a submission was not stored (nothing of it was).
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("the log writer has stopped")]
    Stopped,
    /// The group's transaction failed; every submission in it shares the one error.
    #[error(transparent)]
    Store(Arc<StoreError>),
}

enum Job {
    Submit(Submission, Reply),
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
    /// Mark the targets silent past their deployment's `lost_after` as lost.
    SweepLost,
    /// Take the decisions shipdeck makes itself (`decide::automatic`).
    Automate,
}

/// How the writer's commits have gone: what `/v1/health` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteHealth {
    /// When a commit last succeeded.
    pub last_commit: Option<DateTime<Utc>>,
    /// The error of the last commit, when it failed; cleared by the next success.
    pub last_error: Option<(DateTime<Utc>, String)>,
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    health: Arc<Mutex<WriteHealth>>,
    metrics: Arc<Metrics>,
}

impl Writer {
    /// Starts the writer thread on `store`; `clock` stamps the health record. `Err` when the
    /// system refuses a thread.
    pub fn start(store: Store, clock: SharedClock) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let health = Arc::new(Mutex::new(WriteHealth::default()));
        let shared = health.clone();
        let metrics = Arc::new(Metrics::new());
        let counted = metrics.clone();
        std::thread::Builder::new()
            .name("shipdeck-writer".into())
            .spawn(move || run(store, rx, &shared, &clock, &counted))?;
        Ok(Self { queue, health, metrics })
    }

    /// Stores one submission; resolves after its commit. `Err` means nothing was stored.
    pub async fn submit(&self, submission: Submission) -> Result<IngestOutcome, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job::Submit(submission, reply)).await.map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Asks the writer to mark silent targets lost after its current group (skipped when the
    /// queue is full: the next sweep comes soon).
    pub fn sweep_lost(&self) {
        let _ = self.queue.try_send(Job::SweepLost);
    }

    /// The receiver's metrics (the writer records its commits there).
    #[must_use]
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Requests waiting for the writer now.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Asks the writer to take the automatic decisions due (rolling batches) after its current
    /// group (skipped when the queue is full: the next tick comes soon).
    pub fn automate(&self) {
        let _ = self.queue.try_send(Job::Automate);
    }

    /// How the last commits went.
    #[must_use]
    pub fn health(&self) -> WriteHealth {
        self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Waits until every submission queued so far is committed (or the writer has stopped).
    ///
    /// Unlike waiting for the thread to end, this does not depend on every other handle being
    /// dropped: a client that never goes away cannot hold the receiver's shutdown.
    pub async fn close(self) {
        let (done, finished) = oneshot::channel();
        if self.queue.send(Job::Flush(done)).await.is_ok() {
            let _ = finished.await;
        }
    }
}

fn run(
    mut store: Store,
    mut rx: mpsc::Receiver<Job>,
    health: &Mutex<WriteHealth>,
    clock: &SharedClock,
    metrics: &Metrics,
) {
    let mut group: Vec<(Submission, Reply)> = Vec::new();
    let mut flushes = Vec::new();
    let mut sweep = false;
    let mut automate = false;
    while let Some(first) = rx.blocking_recv() {
        let mut events = 0;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Submit(s, reply) => {
                    events += s.events.len();
                    group.push((s, reply));
                }
                // Everything before the flush is in this group; answer it after the commit.
                Job::Flush(done) => {
                    flushes.push(done);
                    break;
                }
                Job::SweepLost => sweep = true,
                Job::Automate => automate = true,
            }
            if events < MAX_GROUP_EVENTS {
                next = rx.try_recv().ok();
            }
        }
        if !group.is_empty() {
            commit(&mut store, &mut group, health, clock, metrics);
        }
        if std::mem::take(&mut sweep) {
            match store.mark_lost(clock.now()) {
                Ok(0) => {}
                Ok(n) => tracing::info!(targets = n, "silent targets marked lost (recovery.lost_after)"),
                Err(e) => tracing::error!(error = %e, "cannot mark silent targets lost"),
            }
        }
        if std::mem::take(&mut automate) {
            // Recorded decisions are in the audit trail (the demo's screen must stay clean).
            if let Err(e) = crate::decide::automatic(&mut store, clock.now()) {
                eprintln!("shipdeck receiver: automatic decisions failed: {e}");
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Commits one group and answers its requests (after counting the commit, so a scrape that
/// follows an answer sees it).
fn commit(
    store: &mut Store,
    group: &mut Vec<(Submission, Reply)>,
    health: &Mutex<WriteHealth>,
    clock: &SharedClock,
    metrics: &Metrics,
) {
    let (subs, replies): (Vec<Submission>, Vec<Reply>) = group.drain(..).unzip();
    let events = subs.iter().map(|s| s.events.len()).sum();
    let started = std::time::Instant::now();
    let result = store.ingest(&subs);
    let took = started.elapsed();
    metrics.commit(events, took, result.is_ok());
    let took_ms = took.as_secs_f64() * 1000.0;
    {
        let mut h = health.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &result {
            Ok(_) => {
                h.last_commit = Some(clock.now());
                h.last_error = None;
            }
            Err(e) => h.last_error = Some((clock.now(), e.to_string())),
        }
    }
    match result {
        Ok(outcomes) => {
            let accepted: usize = outcomes.iter().map(|o| o.accepted).sum();
            let duplicates: usize = outcomes.iter().map(|o| o.duplicates).sum();
            tracing::info!(requests = outcomes.len(), accepted, duplicates, took_ms, "commit");
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(requests = replies.len(), error = %e, took_ms, "commit failed; nothing of it stored");
            let e = WriteError::Store(Arc::new(e));
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
