//! HTTP routes of the agent API (`/v1/...`).

use super::{AppState, MAX_BODY_BYTES};
use crate::domain::DeploymentKey;
use crate::domain::event::parse_ndjson;
use crate::store::{StoreError, Submission};
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/events", post(post_events))
        .route("/v1/deployments/{key}", get(get_deployment))
        .route("/v1/deployments/{key}/gates/{phase}", get(super::gates::get_gate))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint (see the README's agent API)") })
        .with_state(state)
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// Checks `Authorization: Bearer <token>` when a token is configured; `Some` is the refusal.
pub(super) fn denied(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let expected = state.token.as_ref()?;
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if constant_time_eq(token.trim().as_bytes(), expected.as_bytes()) => None,
        Some(_) => Some(unauthorized("wrong bearer token")),
        None => Some(unauthorized("missing bearer token: send Authorization: Bearer <token>")),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    r
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn health() -> Response {
    axum::Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })).into_response()
}

/// `POST /v1/events`: NDJSON, one event a line. Answers after the accepted lines are committed.
async fn post_events(State(state): State<AppState>, request: Request) -> Response {
    if let Some(denied) = denied(&state, request.headers()) {
        return denied;
    }
    // Bound how many bodies are held in memory at once; the rest wait here.
    let Ok(_permit) = state.bodies.acquire().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the receiver is shutting down");
    };
    let bytes = match axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) if is_too_large(&e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body is over the limit of {MAX_BODY_BYTES} bytes; send smaller batches"),
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}")),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body is not valid UTF-8 (bad byte at offset {})", e.valid_up_to()),
            );
        }
    };
    if text.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "empty body: send one JSON event per line");
    }
    let now = state.clock.now();
    let (events, early) = parse_ndjson(text, now);
    let submission = Submission { events, received_ms: now.timestamp_millis() };
    let outcome = if submission.events.is_empty() {
        Ok(crate::store::IngestOutcome::default())
    } else {
        state.writer.submit(submission).await
    };
    match outcome {
        Ok(outcome) => {
            let outcome = outcome.with_rejections(early);
            let status = if outcome.accepted + outcome.duplicates == 0 {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (status, axum::Json(outcome)).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("nothing was stored, resend: {e}")),
    }
}

fn is_too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// `GET /v1/deployments/{key}`: the same JSON as `shipdeck status --json`.
async fn get_deployment(State(state): State<AppState>, headers: HeaderMap, Path(key): Path<String>) -> Response {
    if let Some(denied) = denied(&state, &headers) {
        return denied;
    }
    let key = match key.parse::<DeploymentKey>() {
        Ok(k) => k,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let reader = state.reader.clone();
    let detail = tokio::task::spawn_blocking(move || {
        let store = reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        store.detail(key, true)
    })
    .await;
    match detail {
        Ok(Ok(d)) => axum::Json(d).into_response(),
        Ok(Err(StoreError::UnknownDeployment(k))) => {
            error(StatusCode::NOT_FOUND, format!("unknown deployment \"{k}\""))
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
