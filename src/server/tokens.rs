//! `/v1/tokens`: issuing, listing and revoking tokens through the server, by a person whose
//! token has scope `admin` (and who holds an admin role of the log's team: the store checks
//! it, and audits a refusal).
//!
//! - `POST /v1/tokens` `{"person": "omar", "name": "laptop", "scope": "decide", "expires":
//!   "90d" | "never"}` → `{"id", "secret", "person", "scope", "expires_at"}` (the secret once);
//! - `GET /v1/tokens` → the tokens, never their secrets;
//! - `POST /v1/tokens/{id}/revoke` → the revoked token.

use super::AppState;
use super::auth::Caller;
use super::routes::error;
use crate::domain::token::{Scope, TokenInfo};
use crate::store::{Store, TokenError, TokenRequest};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The body of `POST /v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    person: String,
    name: Option<String>,
    #[serde(default = "decide")]
    scope: Scope,
    expires: Option<String>,
}

fn decide() -> Scope {
    Scope::Decide
}

/// The admin behind a request, or the answer refusing it.
async fn admin(state: &AppState, headers: &HeaderMap) -> Result<TokenInfo, Response> {
    match super::auth::caller(state, headers, Scope::Admin).await? {
        Caller::Token(t) => Ok(t),
        _ => Err(error(StatusCode::FORBIDDEN, "managing tokens needs a person's token of scope admin")),
    }
}

fn refused(e: &TokenError) -> Response {
    let status = match e {
        TokenError::NotAllowed { .. } | TokenError::NotAPerson { .. } => StatusCode::FORBIDDEN,
        TokenError::UnknownToken(_) => StatusCode::NOT_FOUND,
        TokenError::UnknownPerson(_) | TokenError::NoTeam => StatusCode::BAD_REQUEST,
        TokenError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

/// Runs `f` on the server's decision connection (it writes and audits).
async fn with_store<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut Store) -> Result<T, TokenError> + Send + 'static,
) -> Result<T, Response> {
    let decider = state.decider.clone();
    let done = tokio::task::spawn_blocking(move || {
        let mut store = decider.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut store)
    })
    .await;
    match done {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(refused(&e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

pub(super) async fn issue(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let by = match admin(&state, &headers).await {
        Ok(t) => t,
        Err(denied) => return denied,
    };
    let body: IssueBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("the body is not a token request ({e})")),
    };
    let now = state.clock.now();
    let expires = match body.expires.as_deref().unwrap_or("90d") {
        "never" => None,
        text => match crate::domain::duration::parse(text) {
            Ok(d) => Some(now + d),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("field \"expires\": \"{text}\": {e}")),
        },
    };
    let issued = with_store(&state, move |store| {
        store.issue_token(&TokenRequest {
            person: &body.person,
            name: body.name.as_deref(),
            scope: body.scope,
            expires,
            by: &by.person,
            os_user: &crate::domain::token::account(&by.id),
            now,
        })
    })
    .await;
    match issued {
        Ok((token, secret)) => {
            let mut json = serde_json::to_value(&token).unwrap_or_default();
            json["secret"] = secret.into();
            axum::Json(json).into_response()
        }
        Err(r) => r,
    }
}

pub(super) async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(denied) = admin(&state, &headers).await {
        return denied;
    }
    match with_store(&state, |store| Ok(store.tokens()?)).await {
        Ok(tokens) => axum::Json(tokens).into_response(),
        Err(r) => r,
    }
}

pub(super) async fn revoke(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let by = match admin(&state, &headers).await {
        Ok(t) => t,
        Err(denied) => return denied,
    };
    let now = state.clock.now();
    let account = crate::domain::token::account(&by.id);
    match with_store(&state, move |store| store.revoke_token(&id, &by.person, &account, now)).await {
        Ok(token) => axum::Json(token).into_response(),
        Err(r) => r,
    }
}
