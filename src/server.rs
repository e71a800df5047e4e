//! The agent API: deployment agents and pipelines post events here; scripts read state.
//!
//! Thin by design: parse, validate, hand to the log's single writer, answer. The writer
//! commits many requests in one transaction (group commit) and answers each request only after
//! its lines are committed, so an acknowledged event is never lost. The queue to the writer is
//! bounded, as is the number of bodies read at once: under overload agents wait, the process
//! does not grow.

mod gates;
mod routes;
mod writer;

pub use writer::{WriteError, Writer};

use crate::clock::SharedClock;
use crate::store::{Store, StoreError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Request bodies read and parsed at the same time; more requests wait their turn.
const MAX_BODIES_IN_FLIGHT: usize = 64;

/// Errors starting the receiver.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot start the receiver's {what} thread: {source}")]
    Thread { what: &'static str, source: std::io::Error },
    #[error("the receiver's start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What the receiver needs.
#[derive(Clone)]
pub struct ServerOptions {
    pub db: PathBuf,
    /// Bearer token agents must present; `None` accepts everyone.
    pub token: Option<String>,
    pub clock: SharedClock,
}

/// Shared by all requests.
#[derive(Clone)]
pub(crate) struct AppState {
    writer: Writer,
    /// A read connection for status queries (the writer has its own).
    reader: Arc<Mutex<Store>>,
    token: Option<Arc<str>>,
    clock: SharedClock,
    bodies: Arc<tokio::sync::Semaphore>,
    /// Wakes gate long-polls when another process commits.
    gates: gates::Watcher,
}

/// A receiver bound to a port and ready to serve.
pub struct Receiver {
    listener: TcpListener,
    router: axum::Router,
    writer: Writer,
}

impl Receiver {
    /// Opens the log, starts the writer and binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: &str, opts: ServerOptions) -> Result<Self, ServerError> {
        let listener =
            TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr: addr.to_owned(), source })?;
        // Opening (and perhaps migrating) the log blocks: not on a runtime worker.
        let db = opts.db.clone();
        let (write, read) =
            tokio::task::spawn_blocking(move || Ok::<_, StoreError>((Store::open(&db)?, Store::open(&db)?))).await??;
        let writer = Writer::start(write).map_err(|source| ServerError::Thread { what: "log writer", source })?;
        let state = AppState {
            writer: writer.clone(),
            reader: Arc::new(Mutex::new(read)),
            token: opts.token.map(Arc::from),
            clock: opts.clock,
            bodies: Arc::new(tokio::sync::Semaphore::new(MAX_BODIES_IN_FLIGHT)),
            gates: gates::Watcher::new(opts.db.clone()),
        };
        Ok(Self { listener, router: routes::router(state), writer })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The log writer, for in-process producers (the demo) that want the same path.
    #[must_use]
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and commits.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await?;
        self.writer.close().await;
        Ok(())
    }
}
