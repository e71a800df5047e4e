//! Recording a model review's suggestion as an improvement action: the one path `shipdeck models
//! review --record` and `i` in the Metrics view take.
//!
//! Fail closed: the owner must be a person of the team stored in the log (not of the caller's
//! config), the due date a real date not in the past, and the one who records it a person of
//! that team too; anything else is refused with the bad value named and nothing is written.

use super::Operator;
use crate::domain::model_review::Suggestion;
use crate::domain::review::Action;
use crate::store::{Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};

/// What the front end collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAsk {
    pub owner: String,
    /// `YYYY-MM-DD`, as typed.
    pub due: String,
}

/// Why a suggestion was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The owner is nobody the log's team knows (an input error).
    #[error("owner \"{owner}\" is not a person of the log's team (people: {people}); nothing was recorded")]
    UnknownOwner { owner: String, people: String },
    #[error("the log holds no team, so no owner can be checked: run `shipdeck team sync`; nothing was recorded")]
    NoTeam,
    #[error("due date \"{0}\" is not a date (YYYY-MM-DD); nothing was recorded")]
    BadDue(String),
    #[error("due date {due} is in the past (today is {today}); nothing was recorded")]
    PastDue { due: NaiveDate, today: NaiveDate },
    #[error(
        "\"{0}\" is not a person of the log's team: set SHIPDECK_OPERATOR or `operator` to your name; nothing was recorded"
    )]
    NotAPerson(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RecordError {
    /// Whether the input was wrong (exit 2), rather than the operator refused (exit 1).
    #[must_use]
    pub fn is_input(&self) -> bool {
        matches!(self, Self::UnknownOwner { .. } | Self::NoTeam | Self::BadDue(_) | Self::PastDue { .. })
    }
}

/// Records `suggestion` as an action of its model, owned by `ask.owner`, due `ask.due`, by
/// `who`; returns what every front end says about it. `today` is the date in the display zone.
pub fn record(
    store: &mut Store,
    who: &Operator,
    suggestion: &Suggestion,
    ask: &RecordAsk,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<String, RecordError> {
    let team = store.team()?.ok_or(RecordError::NoTeam)?;
    let owner = ask.owner.trim();
    if team.person(owner).is_none() {
        let people: Vec<&str> = team.members.iter().map(|m| m.name.as_str()).collect();
        return Err(RecordError::UnknownOwner { owner: owner.to_owned(), people: people.join(", ") });
    }
    let due =
        NaiveDate::parse_from_str(ask.due.trim(), "%Y-%m-%d").map_err(|_| RecordError::BadDue(ask.due.clone()))?;
    if due < today {
        return Err(RecordError::PastDue { due, today });
    }
    if !who.is_person() {
        return Err(RecordError::NotAPerson(who.name.clone()));
    }
    let action = Action { text: suggestion.text.clone(), owner: owner.to_owned(), due, done: false };
    let n = store.record_model_action(suggestion, &action, &who.name, now)?;
    Ok(format!(
        "recorded: {} action {n}, owner {owner}, due {due}, by {}: {}",
        suggestion.model, who.name, suggestion.text
    ))
}
