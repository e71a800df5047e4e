//! Per-person API tokens in the log ([`crate::domain::token`]): issued and revoked by a person
//! holding an admin role of the stored team, each an audit record that seals the table; a
//! refused use is an audit record too.

use super::gates::audit;
use super::{Store, StoreError};
use crate::clock::{from_ms, to_ms};
use crate::domain::team::Team;
use crate::domain::token::{Scope, TokenInfo, TokenRefusal, check, hash};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// The audit record's `decision` for issuing a token.
pub const TOKEN_ISSUE: &str = "token_issue";
/// The audit record's `decision` for revoking one.
pub const TOKEN_REVOKE: &str = "token_revoke";
/// The audit record's `decision` for a refused use of a token.
pub const TOKEN_USE: &str = "token_use";
/// The audit record's `decision` for a refused caller on the server's Unix socket.
pub const PEER_USE: &str = "peer_use";

/// A token to issue, by `by` (from OS account `os_user`).
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    /// The person it identifies (with scope `events`, the agent's name).
    pub person: &'a str,
    pub name: Option<&'a str>,
    pub scope: Scope,
    pub expires: Option<DateTime<Utc>>,
    pub by: &'a str,
    pub os_user: &'a str,
    pub now: DateTime<Utc>,
}

/// Why a token was not issued or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what} refused: {person} holds none of the roles allowed to manage tokens ({}); the refusal is in the audit trail", roles.join(", "))]
    NotAllowed { what: String, person: String, roles: Vec<String> },
    #[error("{what} refused: \"{person}\" is not a person of the log's team")]
    NotAPerson { what: String, person: String },
    #[error("the log holds no team yet: plan a deployment or run `shipdeck team sync` first")]
    NoTeam,
    #[error("\"{0}\" is not a person of the log's team: a token of scope read, decide or admin identifies a person")]
    UnknownPerson(String),
    #[error("no token with id \"{0}\" (see `shipdeck token list`)")]
    UnknownToken(String),
}

const SELECT: &str = "SELECT id, person, name, scope, issued_by, issued_ms, expires_ms, revoked_ms FROM api_tokens";

fn info(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: r.get(0)?,
        person: r.get(1)?,
        name: r.get(2)?,
        scope: r.get::<_, String>(3)?.parse().unwrap_or(Scope::Read),
        issued_by: r.get(4)?,
        issued_at: from_ms(r.get(5)?),
        expires_at: r.get::<_, Option<i64>>(6)?.map(from_ms),
        revoked_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
    })
}

/// A new random secret and id (from the system's random source, through v4 UUIDs).
fn fresh() -> (String, String) {
    let secret = format!("shipdeck_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    (format!("tk_{id}"), secret)
}

/// The admin role `person` holds in `team`, or the refusal.
fn admin<'t>(team: Option<&'t Team>, person: &str, what: &str) -> Result<&'t str, TokenError> {
    let team = team.ok_or(TokenError::NoTeam)?;
    let roles = &team.policy.admin_roles;
    let Some(member) = team.person(person) else {
        return Err(TokenError::NotAPerson { what: what.to_owned(), person: person.to_owned() });
    };
    Team::role_in(member, roles).ok_or_else(|| TokenError::NotAllowed {
        what: what.to_owned(),
        person: person.to_owned(),
        roles: roles.clone(),
    })
}

/// Appends a token record (a refusal when `role` is `None` and `refused`).
fn record(
    conn: &Connection,
    decision: &str,
    subject: &str,
    who: (&str, Option<&str>, &str),
    state: &serde_json::Value,
    now: DateTime<Utc>,
    refused: bool,
) -> rusqlite::Result<i64> {
    let (person, role, os_user) = who;
    audit::append(
        conn,
        &audit::NewRecord {
            deployment_id: 0,
            phase_id: 0,
            decision,
            subject: Some(subject),
            person,
            role,
            os_user,
            comment: None,
            reason: None,
            policy_state: &state.to_string(),
            decided_ms: to_ms(now),
            outcome: refused.then_some(audit::REFUSED),
        },
    )
}

impl Store {
    /// Issues a token as `req.by`, who must hold an admin role of the stored team; returns it
    /// with its secret, which the log does not keep. Audited, a refusal too.
    pub fn issue_token(&mut self, req: &TokenRequest<'_>) -> Result<(TokenInfo, String), TokenError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let team = Store::team_in(&tx, &path)?;
        let what = format!("token issue for {} by {}", req.person, req.by);
        let state = serde_json::json!({ "person": req.person, "name": req.name, "scope": req.scope,
            "expires": req.expires.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) });
        let role = match admin(team.as_ref(), req.by, &what) {
            Ok(role) => role.to_owned(),
            Err(e @ TokenError::NotAllowed { .. }) => {
                record(&tx, TOKEN_ISSUE, req.person, (req.by, None, req.os_user), &state, req.now, true)
                    .map_err(sql)?;
                tx.commit().map_err(sql)?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if req.scope != Scope::Events && team.as_ref().is_none_or(|t| t.person(req.person).is_none()) {
            return Err(TokenError::UnknownPerson(req.person.to_owned()));
        }
        let (id, secret) = fresh();
        tx.execute(
            "INSERT INTO api_tokens (id, hash, person, name, scope, issued_by, issued_ms, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                hash(&secret),
                req.person,
                req.name,
                req.scope.as_str(),
                req.by,
                to_ms(req.now),
                req.expires.map(to_ms)
            ],
        )
        .map_err(sql)?;
        record(&tx, TOKEN_ISSUE, &id, (req.by, Some(&role), req.os_user), &state, req.now, false).map_err(sql)?;
        let issued = tx.query_row(&format!("{SELECT} WHERE id = ?1"), [&id], info).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok((issued, secret))
    }

    /// Every token the log knows, newest first (never their secrets).
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("{SELECT} ORDER BY issued_ms DESC, id")).map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([], info).map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))
    }

    /// Revokes token `id` as `by` (an admin role of the stored team); audited, a refusal too.
    pub fn revoke_token(
        &mut self,
        id: &str,
        by: &str,
        os_user: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo, TokenError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let team = Store::team_in(&tx, &path)?;
        let Some(found) = tx.query_row(&format!("{SELECT} WHERE id = ?1"), [id], info).optional().map_err(sql)? else {
            return Err(TokenError::UnknownToken(id.to_owned()));
        };
        let what = format!("token revoke {id} by {by}");
        let state = serde_json::json!({ "person": found.person, "scope": found.scope });
        let role = match admin(team.as_ref(), by, &what) {
            Ok(role) => role.to_owned(),
            Err(e @ TokenError::NotAllowed { .. }) => {
                record(&tx, TOKEN_REVOKE, id, (by, None, os_user), &state, now, true).map_err(sql)?;
                tx.commit().map_err(sql)?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        tx.execute("UPDATE api_tokens SET revoked_ms = coalesce(revoked_ms, ?2), revoked_by = coalesce(revoked_by, ?3) WHERE id = ?1", params![id, to_ms(now), by])
            .map_err(sql)?;
        record(&tx, TOKEN_REVOKE, id, (by, Some(&role), os_user), &state, now, false).map_err(sql)?;
        let revoked = tx.query_row(&format!("{SELECT} WHERE id = ?1"), [id], info).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(revoked)
    }

    /// The token the log issued with this secret, live or not (nothing is audited).
    pub fn token_for(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.conn
            .prepare_cached(&format!("{SELECT} WHERE hash = ?1"))
            .and_then(|mut s| s.query_row([hash(secret)], info).optional())
            .map_err(|e| self.sql(e))
    }

    /// The token whose secret is `secret`, when it identifies its person at `now`. A refused
    /// use (unknown, expired or revoked) is an audit record, and the refusal is returned.
    pub fn authenticate(
        &mut self,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<TokenInfo, TokenRefusal>, StoreError> {
        let found = self.token_for(secret)?;
        let (refusal, subject, person) = match found {
            None => (TokenRefusal::Unknown, "unknown".to_owned(), "unknown".to_owned()),
            Some(t) => match check(&t, now) {
                Ok(()) => return Ok(Ok(t)),
                Err(r) => (r, t.id, t.person),
            },
        };
        let state = serde_json::json!({ "refused": refusal.to_string() });
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        record(&tx, TOKEN_USE, &subject, (&person, None, ""), &state, now, true).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Err(refusal))
    }

    /// Records that OS account `login` (user id `uid`) on the server's Unix socket was refused
    /// `what` because the log's team has no person of that login.
    pub fn refuse_peer(&mut self, uid: u32, login: &str, what: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let state = serde_json::json!({ "refused": what, "uid": uid });
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        record(&tx, PEER_USE, &format!("uid {uid}"), (login, None, login), &state, now, true).map_err(sql)?;
        tx.commit().map_err(sql)
    }
}

/// The tokens as stored, for the audit seal.
pub(super) fn digest(conn: &Connection) -> rusqlite::Result<String> {
    super::seal::rows_digest(
        conn,
        "SELECT id, hash, person, name, scope, issued_by, issued_ms, expires_ms, revoked_ms, revoked_by
         FROM api_tokens ORDER BY id",
        None,
    )
}
