//! `GET /v1/deployments/{key}/gates/{phase}?wait=SECONDS`: a gate's state, long-polled.
//!
//! Decisions are committed by other processes (the CLI, dashboards), so the receiver learns of
//! them from the file: one watcher thread per receiver polls `PRAGMA data_version` every 20 ms
//! while anyone long-polls and wakes the waiting requests, which re-read their gate and answer
//! as soon as it differs from what they first saw (or when `wait` runs out).

use super::AppState;
use crate::domain::DeploymentKey;
use crate::domain::gate::view::GateView;
use crate::store::{GateError, Store, StoreError};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often the watcher looks for another process's commit.
const POLL: Duration = Duration::from_millis(20);
/// The longest `wait` honoured.
const MAX_WAIT_SECS: f64 = 300.0;

/// Wakes long-polls when the log changes; started by the first long-poll.
#[derive(Clone)]
pub(crate) struct Watcher {
    db: PathBuf,
    changes: Arc<Mutex<Option<watch::Receiver<u64>>>>,
    /// Bumps the feed at once when this server itself committed a decision: its long-polls need
    /// not wait for the next look at the file.
    poke: Arc<Mutex<Option<Arc<watch::Sender<u64>>>>>,
    /// Why the watcher thread stopped, if it failed: held long-polls answer with it (fail
    /// closed), and the next long-poll starts a new watcher.
    failed: Arc<Mutex<Option<String>>>,
}

impl Watcher {
    pub(crate) fn new(db: PathBuf) -> Self {
        Self {
            db,
            changes: Arc::new(Mutex::new(None)),
            poke: Arc::new(Mutex::new(None)),
            failed: Arc::new(Mutex::new(None)),
        }
    }

    /// Wakes the long-polls now: this server just committed something they may wait for.
    pub(crate) fn poke(&self) {
        if let Some(tx) = self.poke.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref() {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Why the watcher stopped, forgetting it (and the dead feed) so the next long-poll starts
    /// a new one.
    fn take_failure(&self) -> String {
        *self.changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| "it stopped".into())
    }

    /// The change feed, starting the watcher thread first if needed. Blocks (it may open the
    /// log): call it from `spawn_blocking`.
    fn subscribe(&self) -> Result<watch::Receiver<u64>, super::ServerError> {
        let mut slot = self.changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(rx) = slot.as_ref() {
            return Ok(rx.clone());
        }
        let store = Store::open_existing(&self.db)?;
        let (tx, rx) = watch::channel(0u64);
        let tx = Arc::new(tx);
        *self.poke.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx.clone());
        let failed = self.failed.clone();
        std::thread::Builder::new()
            .name("shipdeck-gate-watch".into())
            .spawn(move || {
                if let Err(e) = watch_log(|| store.data_version(), &tx) {
                    *failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
                }
            })
            .map_err(|source| super::ServerError::Thread { what: "gate watcher", source })?;
        *slot = Some(rx.clone());
        Ok(rx)
    }
}

/// Bumps the channel whenever another connection commits; stops with the receiver, or with the
/// error that stopped it from reading the log (the channel then closes, and held long-polls
/// answer with the error instead of waiting for a change that would never be seen).
fn watch_log(mut version: impl FnMut() -> Result<i64, StoreError>, tx: &watch::Sender<u64>) -> Result<(), StoreError> {
    let mut seen = version()?;
    // The watcher's own receiver lives in `Watcher`: when the receiver is dropped, it closes.
    while !tx.is_closed() {
        std::thread::sleep(POLL);
        let now = version()?;
        if now != seen {
            seen = now;
            tx.send_modify(|n| *n += 1);
        }
    }
    Ok(())
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct WaitQuery {
    wait: Option<f64>,
}

async fn read(state: &AppState, key: DeploymentKey, phase: &str) -> Result<GateView, Response> {
    let reader = state.reader.clone();
    let phase = phase.to_owned();
    let view = tokio::task::spawn_blocking(move || {
        let store = reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        store.gate(key, &phase)
    })
    .await
    .map_err(|e| super::routes::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    view.map_err(|e| match e {
        GateError::Store(StoreError::UnknownDeployment(k)) => {
            super::routes::error(StatusCode::NOT_FOUND, format!("unknown deployment \"{k}\""))
        }
        e @ (GateError::UnknownPhase { .. } | GateError::NoGate { .. }) => {
            super::routes::error(StatusCode::NOT_FOUND, e.to_string())
        }
        e => super::routes::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })
}

/// `GET /v1/deployments/{key}/gates/{phase}?wait=SECONDS`.
pub(super) async fn get_gate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((key, phase)): Path<(String, String)>,
    Query(q): Query<WaitQuery>,
) -> Response {
    if let Err(denied) = super::auth::caller(&state, &headers, crate::domain::token::Scope::Events).await {
        return denied;
    }
    let key = match key.parse::<DeploymentKey>() {
        Ok(k) => k,
        Err(e) => return super::routes::error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let wait = q.wait.unwrap_or(0.0);
    if !wait.is_finite() || wait < 0.0 {
        return super::routes::error(StatusCode::BAD_REQUEST, format!("wait={wait} is not a number of seconds >= 0"));
    }
    let wait = Duration::from_secs_f64(wait.min(MAX_WAIT_SECS));
    // Subscribe before the first read, so a commit after it is never missed.
    let mut changes = if wait.is_zero() {
        None
    } else {
        let watcher = state.gates.clone();
        match tokio::task::spawn_blocking(move || watcher.subscribe()).await {
            Ok(Ok(rx)) => Some(rx),
            Ok(Err(e)) => return super::routes::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            Err(e) => return super::routes::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    };
    if let Some(c) = changes.as_mut() {
        c.borrow_and_update();
    }
    let first = match read(&state, key, &phase).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(mut changes) = changes.filter(|_| first.outcome().is_none()) else {
        return axum::Json(first.document(state.clock.now())).into_response();
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut stopping = state.stopping.clone();
    // On shutdown a held long-poll is answered with the state as it is, not left hanging.
    loop {
        let changed = tokio::select! {
            biased;
            _ = stopping.wait_for(|s| *s) => break,
            c = tokio::time::timeout_at(deadline, changes.changed()) => c,
        };
        match changed {
            Ok(Ok(())) => {}
            // The watcher failed: say so, never answer as if nothing had changed.
            Ok(Err(_)) => {
                let why = state.gates.take_failure();
                return super::routes::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the receiver's gate watcher failed ({why}); ask again"),
                );
            }
            Err(_) => break,
        }
        match read(&state, key, &phase).await {
            Ok(v) if v != first => return axum::Json(v.document(state.clock.now())).into_response(),
            Ok(_) => {}
            Err(r) => return r,
        }
    }
    match read(&state, key, &phase).await {
        Ok(v) => axum::Json(v.document(state.clock.now())).into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watcher_that_cannot_read_the_log_stops_with_the_error_and_closes_the_feed() {
        let (tx, mut rx) = watch::channel(0u64);
        let mut calls = 0;
        let poll = || {
            calls += 1;
            match calls {
                1 => Ok(1),
                2 => Ok(2),
                _ => Err(StoreError::Missing(PathBuf::from("gone.db"))),
            }
        };
        let err = watch_log(poll, &tx).expect_err("stops on the error");
        assert!(err.to_string().contains("gone.db"), "{err}");
        assert_eq!(*rx.borrow_and_update(), 1, "the change before the failure was announced");
        drop(tx);
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        assert!(rt.block_on(rx.changed()).is_err(), "waiters see the feed close, not a quiet timeout");
    }

    #[test]
    fn a_failed_watcher_is_named_once_and_then_started_anew() {
        let w = Watcher::new(PathBuf::from("log.db"));
        *w.failed.lock().expect("lock") = Some("disk I/O error".into());
        *w.changes.lock().expect("lock") = Some(watch::channel(0u64).1);
        assert_eq!(w.take_failure(), "disk I/O error");
        assert!(w.changes.lock().expect("lock").is_none(), "the next long-poll starts a new watcher");
    }
}
