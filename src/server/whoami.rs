//! `GET /v1/whoami`: who the server takes the caller for, so a client can check a token
//! (`shipdeck login`) before keeping it.
//!
//! With a token the log issued: its person, scope and id; a bad token is 401 (audited, as for
//! any endpoint). On the Unix socket: the OS account the kernel reports and the team's person
//! of that login (`null` when none). With no token at all: 401, there is nobody to name.

use super::AppState;
use super::auth::{Caller, Peer};
use super::routes::unauthorized;
use crate::domain::token::Scope;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub(super) async fn whoami(
    State(state): State<AppState>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
) -> Response {
    if let Some(Extension(peer)) = peer {
        let reader = state.reader.clone();
        let login = peer.login.clone();
        let person = tokio::task::spawn_blocking(move || {
            let store = reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            store.team().ok()??.by_login(&login).map(|m| m.name.clone())
        })
        .await
        .ok()
        .flatten();
        let scope = person.as_ref().map(|_| Scope::Decide.as_str());
        return axum::Json(json!({ "person": person, "scope": scope, "uid": peer.uid, "login": peer.login }))
            .into_response();
    }
    match super::auth::caller(&state, &headers, Scope::Events).await {
        Ok(Caller::Token(t)) => {
            axum::Json(json!({ "person": t.person, "scope": t.scope.as_str(), "token": t.id })).into_response()
        }
        Ok(Caller::Agent) => {
            axum::Json(json!({ "person": null, "scope": "events", "token": "receiver" })).into_response()
        }
        Ok(Caller::Anyone) => unauthorized("no token was sent: send Authorization: Bearer <token>"),
        Err(denied) => denied,
    }
}
