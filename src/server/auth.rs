//! Who is calling the server: an agent with the receiver's shared token, or a person (or an
//! agent) with a token the log issued ([`crate::domain::token`]).
//!
//! Reads and events keep today's rule: open when no receiver token is configured and none is
//! presented, else the receiver's token. A presented token that is neither the receiver's nor
//! a live one of the log is refused with 401 (the refusal audited), whatever the endpoint; a
//! token whose scope does not reach the endpoint gets 403. Decisions are never anonymous.

use super::AppState;
use super::routes::{bearer, digest, error, unauthorized};
use crate::domain::token::{Scope, TokenInfo};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use subtle::ConstantTimeEq;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// Nobody in particular: no token was configured or presented.
    Anyone,
    /// The receiver's shared agent token.
    Agent,
    /// A token the log issued.
    Token(TokenInfo),
}

/// The OS account on the other end of a Unix socket connection: the user id the kernel
/// reports for the connecting process, and its name in the user database. Set once per
/// connection as a request extension; nothing the client sends changes it.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub uid: u32,
    pub login: String,
}

impl Caller {
    /// The scope the caller holds: an open receiver lets anyone read, as it always has.
    fn scope(&self) -> Scope {
        match self {
            Self::Anyone => Scope::Read,
            Self::Agent => Scope::Events,
            Self::Token(t) => t.scope,
        }
    }
}

/// The caller of a request that needs `needed`, or the answer refusing it.
pub(crate) async fn caller(state: &AppState, headers: &HeaderMap, needed: Scope) -> Result<Caller, Response> {
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer).map(str::to_owned);
    let caller = match (given, state.token.as_ref()) {
        (None, None) if needed <= Scope::Read => Caller::Anyone,
        (None, None) => {
            return Err(unauthorized(&format!(
                "this needs a person's token of scope {needed}: send Authorization: Bearer <token>"
            )));
        }
        (None, Some(_)) => return Err(unauthorized("missing bearer token: send Authorization: Bearer <token>")),
        (Some(token), expected) if expected.is_some_and(|e| bool::from(digest(&token).ct_eq(e))) => Caller::Agent,
        (Some(token), _) => {
            // On the server's read connection: no file is opened per request.
            let reader = state.reader.clone();
            let now = state.clock.now();
            let checked = tokio::task::spawn_blocking(move || {
                reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).authenticate(&token, now)
            })
            .await;
            match checked {
                Ok(Ok(Ok(info))) => Caller::Token(info),
                Ok(Ok(Err(refusal))) => return Err(unauthorized(&refusal.to_string())),
                Ok(Err(e)) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
                Err(e) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
            }
        }
    };
    if !caller.scope().allows(needed) {
        let who = match &caller {
            Caller::Token(t) => format!("token {} of {} has scope {}", t.id, t.person, t.scope),
            _ => "the receiver's agent token has scope events".to_owned(),
        };
        return Err(error(StatusCode::FORBIDDEN, format!("{who}; this needs scope {needed}")));
    }
    Ok(caller)
}
