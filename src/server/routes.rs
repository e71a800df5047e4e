//! HTTP routes of the agent API (`/v1/...`).

use super::body::BodyError;
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
use subtle::ConstantTimeEq;

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/events", post(post_events))
        .route("/v1/deployments/{key}", get(get_deployment))
        .route("/v1/deployments/{key}/gates/{phase}", get(super::gates::get_gate))
        .route("/v1/calendar.ics", get(calendar_ics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint (see the README's agent API)") })
        .with_state(state)
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// Checks `Authorization: Bearer <token>` when a token is configured; `Some` is the refusal.
///
/// The scheme is case-insensitive (RFC 9110); tokens are compared as SHA-256 digests in
/// constant time, so neither the content nor the length of the token leaks through timing.
pub(super) fn denied(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let expected = state.token.as_ref()?;
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
    match given {
        Some(token) if bool::from(digest(token).ct_eq(expected)) => None,
        Some(_) => Some(unauthorized("wrong bearer token")),
        None => Some(unauthorized("missing bearer token: send Authorization: Bearer <token>")),
    }
}

/// The token of an `Authorization` value with the Bearer scheme, in any case, trimmed.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The SHA-256 of a token (surrounding whitespace is not part of it).
pub(super) fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.trim().as_bytes()).into()
}

fn unauthorized(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    r
}

/// `GET /v1/health`: whether the receiver can store events. While the last commit failed the
/// answer is 503 with `"status": "failing"` and the error, so a monitor sees a full disk or a
/// broken log before agents pile up resends.
async fn health(State(state): State<AppState>) -> Response {
    let h = state.writer.health();
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let failing = h.last_error.is_some();
    let body = json!({
        "status": if failing { "failing" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "last_commit": h.last_commit.map(stamp),
        "last_error": h.last_error.map(|(at, error)| json!({ "at": stamp(at), "error": error })),
    });
    let status = if failing { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, axum::Json(body)).into_response()
}

/// `POST /v1/events`: NDJSON, one event a line. Answers after the accepted lines are committed.
async fn post_events(State(state): State<AppState>, request: Request) -> Response {
    if let Some(denied) = denied(&state, request.headers()) {
        return denied;
    }
    let mut stopping = state.stopping.clone();
    let body = super::body::read(
        request.into_body(),
        state.limits.body_timeout,
        MAX_BODY_BYTES,
        &state.body_budget,
        &mut stopping,
    )
    .await;
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let status = match e {
                BodyError::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
                BodyError::Read(_) => StatusCode::BAD_REQUEST,
            };
            // The rest of the body is not read: the connection cannot carry another request.
            let mut r = error(status, e.to_string());
            r.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            return r;
        }
    };
    let text = match std::str::from_utf8(&body.bytes) {
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

/// `GET /v1/calendar.ics`: the change calendar as iCalendar, the same as
/// `shipdeck schedule export --ics` (a week back, 90 days ahead).
async fn calendar_ics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(denied) = denied(&state, &headers) {
        return denied;
    }
    let reader = state.reader.clone();
    let config = state.config.clone();
    let now = state.clock.now();
    let text = tokio::task::spawn_blocking(move || {
        let store = reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let span = (now - chrono::TimeDelta::days(7), now + chrono::TimeDelta::days(90));
        crate::decide::schedule::entries(&store, &config, span, now)
            .map(|entries| crate::domain::calendar::ics::export(&entries, config.timezone, now))
    })
    .await;
    match text {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
