//! `POST /v1/deployments/{key}/gates/{phase}/decisions`: a decision through the server, as the
//! person whose token is presented.
//!
//! The body is JSON: `{"decision": "approve" | "reject" | "retry" | "abort" | "rollback",
//! "comment": ..., "reason": ...}`. The token's person is the operator, with the roles the log's
//! team gives them; the decision goes through the one decision path ([`crate::decide`]), so the
//! policy, four eyes and the audit trail are the same as on the command line. The OS account
//! recorded is the token's (`token tk_...`). 200 with the record; 409 when the policy refused it
//! (the refusal is in the audit trail); 404 for an unknown deployment or phase.
//!
//! On the server's Unix socket (`serve --socket`) the caller is the OS account the kernel
//! reports for the connection, mapped to the team's person of that `login`; the account is
//! recorded as the OS user. An account that is no person's login gets 403, audited.

use super::AppState;
use super::auth::{Caller, Peer};
use super::routes::error;
use crate::decide::{Ask, DecideError, Operator, Rules};
use crate::domain::DeploymentKey;
use crate::domain::gate::Decision;
use crate::domain::token::Scope;
use crate::store::GateError;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The body of a decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    decision: String,
    comment: Option<String>,
    reason: Option<String>,
}

/// Who a decision is taken for: a token's person, or the OS account on the Unix socket.
enum Decider {
    Token(crate::domain::token::TokenInfo),
    Peer(Peer),
}

pub(super) async fn post_decision(
    State(state): State<AppState>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Path((key, phase)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    // On the Unix socket the kernel says who is calling; a bearer token counts only over TCP.
    let who = match peer {
        Some(Extension(peer)) => Decider::Peer(peer),
        None => match super::auth::caller(&state, &headers, Scope::Decide).await {
            Ok(Caller::Token(t)) => Decider::Token(t),
            Ok(_) => return error(StatusCode::FORBIDDEN, "decisions need a person's token"),
            Err(denied) => return denied,
        },
    };
    let key = match key.parse::<DeploymentKey>() {
        Ok(k) => k,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let body: DecisionBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("the body is not a decision ({e})")),
    };
    let decision = match body.decision.parse::<Decision>() {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("field \"decision\": {e}")),
    };
    let ask = Ask { key, phase, decision, comment: body.comment, reason: body.reason };
    let decider = state.decider.clone();
    let rules = Rules::from_config(&state.config);
    let now = state.clock.now();
    let done = tokio::task::spawn_blocking(move || {
        let mut store = decider.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let team = store.team().map_err(|e| e.to_string())?;
        let (name, os_user) = match who {
            Decider::Token(token) => (token.person.clone(), crate::domain::token::account(&token.id)),
            Decider::Peer(peer) => match team.as_ref().and_then(|t| t.by_login(&peer.login)) {
                Some(member) => (member.name.clone(), peer.login),
                None => {
                    let refusal = format!(
                        "OS account \"{}\" (uid {}) is not the login of a person of the log's team; the refusal is in the audit trail",
                        peer.login, peer.uid
                    );
                    store.refuse_peer(peer.uid, &peer.login, "decision", now).map_err(|e| e.to_string())?;
                    return Ok(Err(refusal));
                }
            },
        };
        let roles = team.as_ref().and_then(|t| t.person(&name)).map(|m| m.roles.clone());
        let operator = Operator { name, roles, os_user, notice: None };
        Ok::<_, String>(Ok(crate::decide::decide(&mut store, &rules, &operator, &ask, now)))
    })
    .await;
    let done = match done {
        Ok(Ok(Err(refusal))) => return error(StatusCode::FORBIDDEN, refusal),
        Ok(Ok(Ok(decided))) => Ok(Ok(decided)),
        Ok(Err(e)) => Ok(Err(e)),
        Err(e) => Err(e),
    };
    if matches!(done, Ok(Ok(Ok(_)))) {
        state.gates.poke();
    }
    match done {
        Ok(Ok(Ok(recorded))) => axum::Json(json!({
            "recorded": recorded.to_string(),
            "audit_id": recorded.outcome.audit_id,
            "decision": recorded.outcome.decision.as_str(),
            "person": recorded.what.person,
            "deployment_status": recorded.outcome.deployment_status.as_str(),
            "flags": recorded.outcome.flags,
        }))
        .into_response(),
        Ok(Ok(Err(e))) if e.is_refusal() => {
            (StatusCode::CONFLICT, axum::Json(json!({ "error": e.to_string(), "refused": true }))).into_response()
        }
        Ok(Ok(Err(DecideError::Ask(e @ (GateError::UnknownPhase { .. } | GateError::NoGate { .. }))))) => {
            error(StatusCode::NOT_FOUND, e.to_string())
        }
        Ok(Ok(Err(DecideError::Ask(e)))) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Ok(Err(e))) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
