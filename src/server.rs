//! The agent API: deployment agents and pipelines post events here; scripts read state.
//!
//! Thin by design: parse, validate, hand to the log's single writer, answer. The writer
//! commits many requests in one transaction (group commit) and answers each request only after
//! its lines are committed, so an acknowledged event is never lost.
//!
//! No client can hold the others up: connections are capped, a connection that sends nothing
//! is closed after `idle_timeout`, a body must arrive within `body_timeout` (else 408), and the
//! memory held by bodies being read is bounded in bytes, so slow bodies wait for nobody's slot.
//! On shutdown held long-polls are answered with the current state, bodies still arriving are
//! refused (nothing of them stored), and the process is gone within [`SHUTDOWN_GRACE`].

mod auth;
mod body;
mod decisions;
mod gates;
pub mod metrics;
mod routes;
pub mod tls;
mod tokens;
mod whoami;
mod writer;

pub use writer::{WriteError, WriteHealth, Writer};

use crate::clock::SharedClock;
use crate::config::ReceiverConfig;
use crate::store::{Store, StoreError};
use chrono::TimeDelta;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of request bodies held in memory at once, over all requests.
const BODY_BUDGET_BYTES: usize = 64 * MAX_BODY_BYTES;
/// Connections over the cap being answered 503 at once.
const REFUSING: usize = 64;
/// How long shutdown waits for requests in flight before the receiver exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

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
    /// The config: its windows and freezes for conformance flags on what agents report (with
    /// the log's emergency freezes), its zone and limits for the calendar.
    pub config: Arc<crate::config::Config>,
    /// The key every audit record the server appends is signed with (`serve --signing-key`).
    pub signing_key: Option<Arc<crate::domain::signing::SigningKey>>,
}

/// The limits that keep one client from starving the others (the `[receiver]` settings).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub clock_skew: TimeDelta,
    /// Who may read `GET /metrics`.
    pub metrics: crate::config::MetricsAccess,
}

impl Default for Limits {
    fn default() -> Self {
        Self::from(&ReceiverConfig::default())
    }
}

impl From<&ReceiverConfig> for Limits {
    fn from(c: &ReceiverConfig) -> Self {
        let std = |d: TimeDelta| d.to_std().unwrap_or(Duration::ZERO);
        Self {
            body_timeout: std(c.body_timeout),
            idle_timeout: std(c.idle_timeout),
            max_connections: c.max_connections,
            clock_skew: c.clock_skew,
            metrics: c.metrics,
        }
    }
}

/// Shared by all requests.
#[derive(Clone)]
pub(crate) struct AppState {
    writer: Writer,
    /// A read connection for status queries (the writer has its own).
    reader: Arc<Mutex<Store>>,
    /// The SHA-256 of the configured token: compared in constant time, length not revealed.
    token: Option<[u8; 32]>,
    clock: SharedClock,
    /// Bytes of bodies being read; a request waits for room, never for another's slot.
    body_budget: Arc<Semaphore>,
    limits: Limits,
    /// Becomes `true` when the receiver shuts down.
    stopping: watch::Receiver<bool>,
    /// Wakes gate long-polls when another process commits.
    gates: gates::Watcher,
    /// For the calendar: the zone, the environments' limits.
    config: Arc<crate::config::Config>,
    /// The connection decisions and token changes are written on (one at a time, as the log's
    /// write lock has them anyway).
    decider: Arc<Mutex<Store>>,
}

/// How often the writer looks for targets silent past their deployment's `lost_after`.
const LOST_SWEEP: Duration = Duration::from_secs(15);
/// How often the writer takes the decisions shipdeck makes itself (rolling batches).
const AUTOMATE_EVERY: Duration = Duration::from_millis(500);
/// Automation ticks per lost-target sweep.
#[allow(clippy::cast_possible_truncation)]
const LOST_SWEEP_TICKS: u32 = (LOST_SWEEP.as_millis() / AUTOMATE_EVERY.as_millis()) as u32;

/// A receiver bound to a port and ready to serve.
pub struct Receiver {
    listener: TcpListener,
    router: axum::Router,
    writer: Writer,
    limits: Limits,
    stop: watch::Sender<bool>,
    /// Connections speak TLS with this configuration (`serve --tls-cert`); plain HTTP without.
    tls: Option<tls::Tls>,
    /// The Unix socket served beside the TCP listener (`serve --socket`).
    socket: Option<tokio::net::UnixListener>,
}

impl Receiver {
    /// Opens the log, starts the writer and binds `addr` (port 0 picks a free port), with the
    /// default limits.
    pub async fn bind(addr: &str, opts: ServerOptions) -> Result<Self, ServerError> {
        Self::bind_with(addr, opts, Limits::default()).await
    }

    /// [`Receiver::bind`] with explicit limits.
    pub async fn bind_with(addr: &str, opts: ServerOptions, limits: Limits) -> Result<Self, ServerError> {
        let listener =
            TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr: addr.to_owned(), source })?;
        // Opening (and perhaps migrating) the log blocks: not on a runtime worker.
        let db = opts.db.clone();
        let zone = opts.config.timezone;
        let key = opts.signing_key.clone();
        let (write, read, decide) = tokio::task::spawn_blocking(move || {
            let (mut write, mut read, mut decide) = (Store::open(&db)?, Store::open(&db)?, Store::open(&db)?);
            decide.set_zone(zone);
            // Every connection of the server that may append to the audit trail signs it.
            if let Some(key) = &key {
                for store in [&mut write, &mut read, &mut decide] {
                    store.set_signing_key(key.clone())?;
                }
            }
            Ok::<_, StoreError>((write, read, decide))
        })
        .await??;
        let mut write = write;
        write.set_clock_skew(limits.clock_skew);
        write.set_zone(opts.config.timezone);
        write.set_budget_warning(opts.config.notify.budget_warning);
        let writer = Writer::start(write, opts.clock.clone())
            .map_err(|source| ServerError::Thread { what: "log writer", source })?;
        let (stop, stopping) = watch::channel(false);
        let state = AppState {
            writer: writer.clone(),
            reader: Arc::new(Mutex::new(read)),
            decider: Arc::new(Mutex::new(decide)),
            token: opts.token.as_deref().map(routes::digest),
            clock: opts.clock,
            body_budget: Arc::new(Semaphore::new(BODY_BUDGET_BYTES)),
            limits,
            stopping,
            gates: gates::Watcher::new(opts.db.clone()),
            config: opts.config.clone(),
        };
        Ok(Self { listener, router: routes::router(state), writer, limits, stop, tls: None, socket: None })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves https with `tls` (reloaded on SIGHUP) instead of plain HTTP.
    #[must_use]
    pub fn with_tls(mut self, tls: tls::Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Also serves the same routes on `socket`, where each connection's caller is the OS account
    /// the kernel reports for it (see [`auth::Peer`]).
    #[must_use]
    pub fn with_socket(mut self, socket: tokio::net::UnixListener) -> Self {
        self.socket = Some(socket);
        self
    }

    /// The log writer, for in-process producers (the demo) that want the same path.
    #[must_use]
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// Serves until `shutdown` completes, then answers what is held, commits and returns
    /// within [`SHUTDOWN_GRACE`] (plus the last commit) whatever clients do.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Self { listener, router, writer, limits, stop, tls, socket } = self;
        if let Some(tls) = &tls {
            tls::reload_on_hangup(tls.clone());
        }
        // Silent targets become lost while the receiver runs (see `Store::mark_lost`).
        let sweeper = writer.clone();
        let sweeping = tokio::spawn(async move {
            let mut tick = tokio::time::interval(AUTOMATE_EVERY);
            let mut ticks: u32 = 0;
            loop {
                tick.tick().await;
                // Rolling batches advance within a second of the batch before succeeding.
                sweeper.automate();
                if ticks % LOST_SWEEP_TICKS == 0 {
                    sweeper.sweep_lost();
                }
                ticks = ticks.wrapping_add(1);
            }
        });
        let connections = Arc::new(Semaphore::new(limits.max_connections));
        let refusing = Arc::new(Semaphore::new(REFUSING));
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        // header_read_timeout runs while a connection waits for a request's head: it closes
        // idle keep-alive connections and slow-header clients alike. half_close: a client that
        // shuts down its sending side after the request still gets its answer.
        http.timer(TokioTimer::new()).header_read_timeout(limits.idle_timeout).half_close(true);
        let (mut at_cap, mut accept_failing) = (false, false);
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = accept_unix(socket.as_ref()) => {
                    if let Ok(stream) = accepted {
                        serve_unix(stream, &router, &http, &graceful, &connections);
                    }
                    continue;
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        accept_failing = false;
                        stream
                    }
                    Err(e) => {
                        // Out of file descriptors or similar: say so once, and do not spin.
                        if !accept_failing {
                            tracing::error!(error = %e, "cannot accept connections");
                            accept_failing = true;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                if !at_cap {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection cap of {} reached (receiver.max_connections); \
                         answering new connections 503 until some close",
                        limits.max_connections
                    );
                    at_cap = true;
                }
                refuse(stream, &refusing);
                continue;
            };
            if at_cap {
                tracing::info!("below the connection cap again");
                at_cap = false;
            }
            let service = TowerToHyperService::new(router.clone());
            match &tls {
                None => {
                    let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        let _ = conn.await;
                        drop(permit);
                    });
                }
                Some(tls) => {
                    // The handshake runs on the connection's own task, bounded like a request's
                    // head, so a client that never finishes it holds up nobody.
                    let (acceptor, watcher, http) = (tls.acceptor(), graceful.watcher(), http.clone());
                    let handshake = limits.idle_timeout;
                    tokio::spawn(async move {
                        if let Ok(Ok(stream)) = tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                            let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
                        }
                        drop(permit);
                    });
                }
            }
        }
        drop(listener);
        // Long-polls answer now and bodies still arriving are refused; then wait a little for
        // answers to be written, and go.
        let _ = stop.send(true);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
        sweeping.abort();
        writer.close().await;
        Ok(())
    }
}

/// The next connection on the Unix socket; never, without one.
async fn accept_unix(socket: Option<&tokio::net::UnixListener>) -> std::io::Result<tokio::net::UnixStream> {
    match socket {
        Some(socket) => socket.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

/// Serves one Unix socket connection as the OS account the kernel reports for its peer. A
/// connection whose peer cannot be told, or past the connection cap, is closed unanswered.
fn serve_unix(
    stream: tokio::net::UnixStream,
    router: &axum::Router,
    http: &hyper::server::conn::http1::Builder,
    graceful: &GracefulShutdown,
    connections: &Arc<Semaphore>,
) {
    let Ok(permit) = connections.clone().try_acquire_owned() else { return };
    let Ok(cred) = stream.peer_cred() else { return };
    let uid = cred.uid();
    let peer = auth::Peer { uid, login: crate::decide::account_of(uid) };
    let service = TowerToHyperService::new(router.clone().layer(axum::Extension(peer)));
    let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
    tokio::spawn(async move {
        let _ = conn.await;
        drop(permit);
    });
}

/// Answers a connection over the cap with 503 and closes it. The request is drained for a
/// moment first, so the client reads the answer instead of a reset; at most [`REFUSING`] such
/// connections are kept, the rest are closed at once.
fn refuse(stream: TcpStream, refusing: &Arc<Semaphore>) {
    const BODY: &str = r#"{"error":"too many connections: the receiver is at its connection cap, retry shortly"}"#;
    let Ok(permit) = refusing.clone().try_acquire_owned() else { return };
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let reply = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        let mut stream = stream;
        let answer = async {
            stream.write_all(reply.as_bytes()).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
        drop(permit);
    });
}

/// Raises this process's soft limit on open files to the hard limit, so the connection cap,
/// not the descriptor table, is what bounds the receiver. Returns the soft limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}
