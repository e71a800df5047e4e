//! The worker's writes to the log, on a thread of their own at normal priority.
//!
//! Sending runs at the lowest scheduling priority so that, on a busy machine, ingest gets the
//! processor first. A write transaction must not run there: a thread at the lowest priority
//! that is preempted while it holds the log's write lock keeps the receiver's writer waiting
//! until the scheduler comes back to it (a priority inversion). So claims, results and
//! reminders go to this thread, which takes the lock, commits and answers at once.

use crate::domain::notify::Delivery;
use crate::store::{Attempt, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::mpsc;
use tokio::sync::oneshot;

enum Job {
    Claim {
        owner: String,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
        reply: oneshot::Sender<Result<Vec<Delivery>, StoreError>>,
    },
    Record {
        owner: String,
        results: Vec<(i64, Attempt)>,
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Remind {
        now: DateTime<Utc>,
        lead: TimeDelta,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
}

/// The handle the worker writes through; the thread ends when it is dropped.
pub struct OutboxLog {
    jobs: mpsc::Sender<Job>,
}

/// The log thread stopped (it cannot answer): reported as a store error of the log's path.
fn gone() -> StoreError {
    StoreError::Unusable { path: std::path::PathBuf::new(), reason: "the delivery worker's log thread stopped".into() }
}

impl OutboxLog {
    /// Starts the thread with `store`.
    pub fn start(mut store: Store) -> std::io::Result<Self> {
        let (jobs, incoming) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("shipdeck-notify-log".into()).spawn(move || {
            for job in incoming {
                // A worker that stopped waiting for an answer drops its receiver: nothing to do.
                match job {
                    Job::Claim { owner, now, lease_until, limit, reply } => {
                        let _ = reply.send(store.claim_deliveries(&owner, now, lease_until, limit));
                    }
                    Job::Record { owner, results, now, reply } => {
                        let _ = reply.send(store.record_attempts(&owner, &results, now));
                    }
                    Job::Remind { now, lead, reply } => {
                        let _ = reply.send(store.remind_starts(now, lead));
                    }
                }
            }
        })?;
        Ok(Self { jobs })
    }

    async fn ask<T>(&self, job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(job(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    pub async fn claim(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.ask(|reply| Job::Claim { owner: owner.to_owned(), now, lease_until, limit, reply }).await
    }

    pub async fn record(&self, owner: &str, results: &[(i64, Attempt)], now: DateTime<Utc>) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        self.ask(|reply| Job::Record { owner: owner.to_owned(), results: results.to_vec(), now, reply }).await
    }

    pub async fn remind(&self, now: DateTime<Utc>, lead: TimeDelta) -> Result<usize, StoreError> {
        self.ask(|reply| Job::Remind { now, lead, reply }).await
    }
}
