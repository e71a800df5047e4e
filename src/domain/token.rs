//! Per-person API tokens: who a caller of the server is, and what they may do there.
//!
//! A token belongs to one person of the log's team (or, with scope `events`, to an agent): the
//! person is the operator of everything done with it, so nothing is claimed by name. The log
//! keeps only a token's SHA-256; the secret is printed once, when it is issued. Scopes are
//! ordered: `admin` may do what `decide` may, which may do what `read` may; `events` posts agent
//! events and reads gates, and never decides.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// An agent's: post events, read deployments and gates.
    Events,
    /// Every read.
    Read,
    /// Reads, and decisions as the token's person.
    Decide,
    /// Decisions, and issuing and revoking tokens (with an admin role of the team).
    Admin,
}

impl Scope {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Read => "read",
            Self::Decide => "decide",
            Self::Admin => "admin",
        }
    }

    /// Whether a token of this scope may do what `needed` allows.
    #[must_use]
    pub fn allows(self, needed: Self) -> bool {
        match needed {
            // Agents' endpoints: events and gate reads, for agents and people alike.
            Self::Events => true,
            // An agent's token never reads more than gates, never decides.
            _ => self != Self::Events && self >= needed,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "events" => Ok(Self::Events),
            "read" => Ok(Self::Read),
            "decide" => Ok(Self::Decide),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown token scope \"{other}\" (events, read, decide or admin)")),
        }
    }
}

/// A token as the log knows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub person: String,
    pub name: Option<String>,
    pub scope: Scope,
    pub issued_by: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a presented token does not identify anyone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("unknown token: nothing was done (issue one with `shipdeck token issue`)")]
    Unknown,
    /// Without its time: this text reaches people over HTTP, where no zone is known; `token
    /// list` shows when, in the configured zone.
    #[error("token {id} expired: nothing was done (issue a new one)")]
    Expired { id: String },
    #[error("token {id} was revoked: nothing was done")]
    Revoked { id: String },
}

/// Whether `info` identifies its person at `now`.
///
/// # Errors
/// The refusal when the token is revoked or expired.
pub fn check(info: &TokenInfo, now: chrono::DateTime<chrono::Utc>) -> Result<(), TokenRefusal> {
    if info.revoked_at.is_some() {
        return Err(TokenRefusal::Revoked { id: info.id.clone() });
    }
    match info.expires_at {
        Some(at) if at <= now => Err(TokenRefusal::Expired { id: info.id.clone() }),
        _ => Ok(()),
    }
}

/// What the audit trail records as the account of a decision made with token `id`.
#[must_use]
pub fn account(id: &str) -> String {
    format!("token {id}")
}

/// Whether an audit record's account is a token's (see [`account`]).
#[must_use]
pub fn is_account(os_user: &str) -> bool {
    os_user.strip_prefix("token tk_").is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The SHA-256 the log keeps of a token's secret (hex).
#[must_use]
pub fn hash(secret: &str) -> String {
    super::seal::digest(secret.trim().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_token_never_reads_more_than_gates_and_never_decides() {
        assert!(Scope::Events.allows(Scope::Events));
        assert!(!Scope::Events.allows(Scope::Read));
        assert!(!Scope::Events.allows(Scope::Decide));
        assert!(Scope::Read.allows(Scope::Read) && !Scope::Read.allows(Scope::Decide));
        assert!(Scope::Decide.allows(Scope::Read) && !Scope::Decide.allows(Scope::Admin));
        assert!(Scope::Admin.allows(Scope::Decide));
    }

    #[test]
    fn a_revoked_or_expired_token_is_refused_naming_it() {
        let t0 = chrono::DateTime::UNIX_EPOCH;
        let mut info = TokenInfo {
            id: "tk1".into(),
            person: "omar".into(),
            name: None,
            scope: Scope::Decide,
            issued_by: "dana".into(),
            issued_at: t0,
            expires_at: Some(t0 + chrono::TimeDelta::days(1)),
            revoked_at: None,
        };
        assert_eq!(check(&info, t0), Ok(()));
        assert!(matches!(check(&info, t0 + chrono::TimeDelta::days(1)), Err(TokenRefusal::Expired { .. })));
        info.revoked_at = Some(t0);
        assert_eq!(check(&info, t0), Err(TokenRefusal::Revoked { id: "tk1".into() }));
    }
}
