//! Ticking a checklist item: a decision like an approval, taken through the same path by the
//! CLI (`shipdeck check`), the dashboard's Checklist panel and the demo's colleagues.

use super::{Operator, Rules};
use crate::domain::DeploymentKey;
use crate::store::{Store, StoreError, TickError, TickOutcome, TickRequest};
use chrono::{DateTime, Utc};
use std::fmt;

/// A tick someone asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickAsk {
    pub key: DeploymentKey,
    pub item: String,
    /// A note or a link.
    pub evidence: Option<String>,
    /// The check was made and did not pass.
    pub failed: bool,
}

/// A recorded tick. Its `Display` is what every front end says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticked {
    pub key: DeploymentKey,
    pub person: String,
    pub outcome: TickOutcome,
}

impl fmt::Display for Ticked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.outcome;
        write!(
            f,
            "recorded: {} {} {} by {} as {}: deployment {} (audit record {})",
            self.key,
            o.item.id,
            o.item.state,
            self.person,
            o.role,
            o.deployment_status.as_str().replace('_', " "),
            o.audit_id
        )
    }
}

/// Why a tick was not recorded. Its `Display` is what every front end says about it.
#[derive(Debug, thiserror::Error)]
pub enum TickFailure {
    #[error(
        "check of {key} {item} by {person} refused: \"{person}\" is not a person in the config's [[people]] (set SHIPDECK_OPERATOR or `operator` to your name)"
    )]
    NotAPerson { key: DeploymentKey, item: String, person: String },
    #[error("check of {key} {item} by {person} refused: {text}")]
    Refused { key: DeploymentKey, item: String, person: String, text: String },
    /// The item does not exist: the ask itself is wrong.
    #[error("{0}")]
    Ask(TickError),
    #[error("check of {key} {item} failed: {source}")]
    Store { key: DeploymentKey, item: String, source: Box<StoreError> },
}

impl TickFailure {
    /// Whether a rule (or the operator's identity) refused it.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::NotAPerson { .. } | Self::Refused { .. })
    }
}

/// Records the tick `ask` as `who` at `now`: the one path for ticks.
pub fn tick(
    store: &mut Store,
    rules: &Rules,
    who: &Operator,
    ask: &TickAsk,
    now: DateTime<Utc>,
) -> Result<Ticked, TickFailure> {
    let (key, item, person) = (ask.key, ask.item.clone(), who.name.clone());
    // The roles come from the team stored in the log (see `identity`), never from a config.
    let Some(roles) = who.roles.as_deref() else { return Err(TickFailure::NotAPerson { key, item, person }) };
    let _ = rules;
    let req = TickRequest {
        key,
        item: &ask.item,
        person: &who.name,
        roles,
        os_user: &who.os_user,
        evidence: ask.evidence.as_deref(),
        failed: ask.failed,
        now,
    };
    match store.tick(&req) {
        Ok(outcome) => Ok(Ticked { key, person, outcome }),
        Err(TickError::Refused(r)) => Err(TickFailure::Refused { key, item, person, text: r.to_string() }),
        Err(TickError::Store(source)) => Err(TickFailure::Store { key, item, source: Box::new(source) }),
        Err(e @ TickError::UnknownItem { .. }) => Err(TickFailure::Ask(e)),
    }
}
