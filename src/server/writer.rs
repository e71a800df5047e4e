//! The log's single writer: a thread that owns the write connection and commits requests in
//! groups.
//!
//! One transaction per request would cap ingest at the disk's sync rate; one writer draining a
//! bounded queue commits whatever has gathered while the previous commit ran, so the cost of
//! a commit is shared by every waiting request.

use crate::store::{IngestOutcome, Store, StoreError, Submission};
use std::sync::Arc;
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

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<(Submission, Reply)>,
    done: Arc<tokio::sync::Mutex<Option<oneshot::Receiver<()>>>>,
}

impl Writer {
    /// Starts the writer thread on `store`; `Err` when the system refuses a thread.
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::Builder::new().name("shipdeck-writer".into()).spawn(move || {
            run(store, rx);
            let _ = done_tx.send(());
        })?;
        Ok(Self { queue, done: Arc::new(tokio::sync::Mutex::new(Some(done_rx))) })
    }

    /// Stores one submission; resolves after its commit. `Err` means nothing was stored.
    pub async fn submit(&self, submission: Submission) -> Result<IngestOutcome, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((submission, reply)).await.map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Waits until every queued submission is committed and the writer has stopped.
    /// Call after all other handles are dropped or idle.
    pub async fn close(self) {
        let done = self.done.lock().await.take();
        drop(self.queue);
        if let Some(done) = done {
            // Other clones may still hold the queue open; the thread ends when the last does.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), done).await;
        }
    }
}

fn run(mut store: Store, mut rx: mpsc::Receiver<(Submission, Reply)>) {
    let mut group: Vec<(Submission, Reply)> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut events = first.0.events.len();
        group.push(first);
        while events < MAX_GROUP_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    events += job.0.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let (subs, replies): (Vec<Submission>, Vec<Reply>) = group.drain(..).unzip();
        match store.ingest(&subs) {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                let e = WriteError::Store(Arc::new(e));
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
