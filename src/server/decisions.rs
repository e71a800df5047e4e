//! `POST /v1/deployments/{key}/gates/{phase}/decisions`: a decision through the server, as the
//! person whose token is presented.
//!
//! The body is JSON: `{"decision": "approve" | "reject" | "retry" | "abort" | "rollback",
//! "comment": ..., "reason": ...}`. The token's person is the operator, with the roles the log's
//! team gives them; the decision goes through the one decision path ([`crate::decide`]), so the
//! policy, four eyes and the audit trail are the same as on the command line. The OS account
//! recorded is the token's (`token tk_...`). 200 with the record; 409 when the policy refused it
//! (the refusal is in the audit trail); 404 for an unknown deployment or phase.

use super::AppState;
use super::auth::Caller;
use super::routes::error;
use crate::decide::{Ask, DecideError, Operator, Rules};
use crate::domain::DeploymentKey;
use crate::domain::gate::Decision;
use crate::domain::token::Scope;
use crate::store::GateError;
use axum::extract::{Path, State};
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

pub(super) async fn post_decision(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((key, phase)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let token = match super::auth::caller(&state, &headers, Scope::Decide).await {
        Ok(Caller::Token(t)) => t,
        Ok(_) => return error(StatusCode::FORBIDDEN, "decisions need a person's token"),
        Err(denied) => return denied,
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
    let (db, key) = (state.db.clone(), state.signing_key.clone());
    let rules = Rules::from_config(&state.config);
    let now = state.clock.now();
    let done = tokio::task::spawn_blocking(move || {
        let mut store = super::open_log(&db, key.as_ref()).map_err(|e| e.to_string())?;
        let team = store.team().map_err(|e| e.to_string())?;
        let roles = team.as_ref().and_then(|t| t.person(&token.person)).map(|m| m.roles.clone());
        let operator = Operator {
            name: token.person.clone(),
            roles,
            os_user: crate::domain::token::account(&token.id),
            notice: None,
        };
        Ok::<_, String>(crate::decide::decide(&mut store, &rules, &operator, &ask, now))
    })
    .await;
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
