//! HTTP routes of the agent API (`/v1/...`).

use super::body::BodyError;
use super::{AppState, MAX_BODY_BYTES};
use crate::config::MetricsAccess;
use crate::domain::DeploymentKey;
use crate::domain::event::parse_ndjson;
use crate::domain::token::Scope;
use crate::store::{StoreError, Submission};
use axum::Router;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use subtle::ConstantTimeEq;

const HEALTH: &str = "/v1/health";
const EVENTS: &str = "/v1/events";
const DEPLOYMENT: &str = "/v1/deployments/{key}";
const GATE: &str = "/v1/deployments/{key}/gates/{phase}";
const METRICS: &str = "/metrics";
const CALENDAR: &str = "/v1/calendar.ics";
const DECISIONS: &str = "/v1/deployments/{key}/gates/{phase}/decisions";
const TOKENS: &str = "/v1/tokens";
const TOKEN_REVOKE: &str = "/v1/tokens/{id}/revoke";
const WHOAMI: &str = "/v1/whoami";

pub(super) fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route(HEALTH, get(health))
        .route(EVENTS, post(post_events))
        .route(DEPLOYMENT, get(get_deployment))
        .route(GATE, get(super::gates::get_gate))
        .route(DECISIONS, post(super::decisions::post_decision))
        .route(TOKENS, post(super::tokens::issue).get(super::tokens::list))
        .route(TOKEN_REVOKE, post(super::tokens::revoke))
        .route(CALENDAR, get(calendar_ics))
        .route(WHOAMI, get(super::whoami::whoami));
    if state.limits.metrics != MetricsAccess::Off {
        router = router.route(METRICS, get(metrics));
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), measure))
        .fallback(no_such_endpoint)
        .with_state(state)
}

/// The answer to a path that is not an endpoint (logged like every request error).
async fn no_such_endpoint(method: Method, uri: axum::http::Uri) -> Response {
    let path = crate::domain::text::sanitize(uri.path());
    tracing::warn!(method = %method, path = %path, status = 404, "request error");
    error(StatusCode::NOT_FOUND, "no such endpoint (see the README's agent API)")
}

/// Times every routed request for `shipdeck_http_request_duration_seconds`, and logs the
/// ones answered with an error.
async fn measure(State(state): State<AppState>, request: Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let route = match request.extensions().get::<MatchedPath>().map(MatchedPath::as_str) {
        Some(HEALTH) => HEALTH,
        Some(EVENTS) => EVENTS,
        Some(DEPLOYMENT) => DEPLOYMENT,
        Some(GATE) => GATE,
        Some(METRICS) => METRICS,
        Some(CALENDAR) => CALENDAR,
        Some(DECISIONS) => DECISIONS,
        Some(TOKENS) => TOKENS,
        Some(TOKEN_REVOKE) => TOKEN_REVOKE,
        _ => "other",
    };
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        _ => "other",
    };
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let took = started.elapsed();
    let code = response.status().as_u16();
    state.writer.metrics().request(route, method, code, took);
    if code >= 400 {
        let took_ms = took.as_secs_f64() * 1000.0;
        // The reason is in the JSON body the client got; the log says which request and how.
        tracing::warn!(method, path = %crate::domain::text::sanitize(&path), status = code, took_ms, "request error");
    }
    response
}

/// `GET /metrics`: Prometheus text (OpenMetrics when asked for in `Accept`).
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.limits.metrics == MetricsAccess::Token
        && let Some(denied) = denied(&state, &headers)
    {
        return denied;
    }
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let reader = state.reader.clone();
    let counts = tokio::task::spawn_blocking(move || {
        reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).operational_counts()
    })
    .await;
    let counts = match counts {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let text = state.writer.metrics().render(&counts, state.writer.queued(), openmetrics);
    let kind = if openmetrics { super::metrics::OPENMETRICS } else { super::metrics::PROMETHEUS_TEXT };
    ([(header::CONTENT_TYPE, kind)], text).into_response()
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
pub(super) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The SHA-256 of a token (surrounding whitespace is not part of it).
pub(super) fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.trim().as_bytes()).into()
}

pub(super) fn unauthorized(message: &str) -> Response {
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
    if let Err(denied) = super::auth::caller(&state, request.headers(), Scope::Events).await {
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
            let errors: Vec<&str> = outcome.rejected.iter().map(|r| r.error.as_str()).collect();
            state.writer.metrics().events(outcome.accepted, outcome.duplicates, &errors);
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
    if let Err(denied) = super::auth::caller(&state, &headers, Scope::Events).await {
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
        Ok(Ok(d)) => axum::Json(d.document(state.clock.now())).into_response(),
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
    if let Err(denied) = super::auth::caller(&state, &headers, Scope::Events).await {
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
