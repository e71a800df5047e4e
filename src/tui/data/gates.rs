//! The data thread's part in approvals: the operator's inbox (each entry with the phase it
//! would start and that phase's ETA), the failure reviews they owe and the improvement actions
//! past their due date, their notifications, and the writes the dashboard asks for — decisions
//! and "mark read" — made here, off the UI thread, through the same [`crate::decide`] as the
//! CLI and the demo.

use super::{Loader, Refresh};
use crate::decide::Desk;
use crate::domain::gate::view::{ActionItem, ActionKind, Notification};
use crate::domain::history::{HistoryFilter, HistoryRow, ReviewState};
use crate::domain::records::PhaseView;
use crate::store::{ActionRow, Estimate, Store, StoreError};
use crate::tui::strings;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Notifications read per refresh (newest first).
pub const NOTIFICATIONS_SHOWN: usize = 200;
/// Owed reviews read per refresh, newest first (the operator's are kept of these).
pub const OWED_READ: usize = 200;
/// Estimates are re-read at most this often per model (they move only when phases finish).
const ESTIMATE_TTL: Duration = Duration::from_secs(60);

/// One inbox entry with what the dashboard adds to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub item: ActionItem,
    /// The deployment model, whose past phases give the ETA.
    pub model: String,
    /// The phase the decision starts (a gate's phase) or runs again (a failed phase).
    pub phase: Option<PhaseView>,
    /// How long that phase should take, from the model's past per-host durations.
    pub eta: Option<TimeDelta>,
    /// Hosts the ETA was learnt from.
    pub eta_hosts: usize,
}

/// The operator's gates and notifications as of one read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateData {
    pub inbox: Vec<Pending>,
    /// Finished deployments whose failure review the operator owes, newest first.
    pub owed: Vec<HistoryRow>,
    /// Improvement actions not done by their due date, the earliest due first.
    pub overdue: Vec<ActionRow>,
    pub notifications: Vec<Notification>,
    pub unread: usize,
}

/// A decision the operator confirmed.
pub type DecisionCmd = crate::decide::Ask;

/// The answer to a decision, in the words of [`crate::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// What was recorded.
    Recorded(String),
    /// The rule that refused it, or why nothing could be written.
    NotRecorded(String),
}

/// Per-model estimates with the instant they were read.
pub(super) type EstimateCache = HashMap<String, (Instant, Option<Estimate>)>;

fn estimate(store: &Store, cache: &mut EstimateCache, model: &str) -> Result<Option<Estimate>, StoreError> {
    if let Some((_, e)) = cache.get(model).filter(|(at, _)| at.elapsed() < ESTIMATE_TTL) {
        return Ok(*e);
    }
    let e = store.estimate(model)?;
    cache.insert(model.to_owned(), (Instant::now(), e));
    Ok(e)
}

/// The inbox, notifications and unread count of `setup`'s operator at `now`.
pub(super) fn read(
    store: &Store,
    desk: &Desk,
    cache: &mut EstimateCache,
    now: DateTime<Utc>,
) -> Result<GateData, StoreError> {
    let items = store.inbox(desk.operator.decider(), &desk.rules.windows, &desk.rules.freezes, now)?;
    let mut inbox = Vec::with_capacity(items.len());
    for item in items {
        let model = store.summary(item.deployment)?.model;
        let phase = store.phases(item.deployment)?.into_iter().find(|p| p.name == item.phase);
        let size = match (&phase, item.kind) {
            (Some(p), ActionKind::Gate) => p.targets,
            (Some(p), ActionKind::FailedPhase) => p.failed.max(1),
            (None, _) => 0,
        };
        let est = estimate(store, cache, &model)?;
        let eta = est.filter(|_| size > 0).map(|e| e.phase(size));
        inbox.push(Pending { item, model, phase, eta, eta_hosts: est.map_or(0, |e| e.hosts) });
    }
    let (owed, overdue) = follow_ups(store, desk, now)?;
    let notifications = store.notifications(&desk.operator.name, false, NOTIFICATIONS_SHOWN)?;
    let unread = store.unread_count(&desk.operator.name)?;
    Ok(GateData { inbox, owed, overdue, notifications, unread })
}

/// The reviews the operator owes (the config's rule says who owes one: [`Config::review_owers`])
/// and every improvement action past its due date (in the configured zone's calendar).
///
/// [`Config::review_owers`]: crate::config::Config::review_owers
fn follow_ups(store: &Store, desk: &Desk, now: DateTime<Utc>) -> Result<(Vec<HistoryRow>, Vec<ActionRow>), StoreError> {
    let config = &desk.config;
    let me = &desk.operator.name;
    // Someone who owes every review by their role needs no requester filter; others owe theirs.
    let owes_all = config.review_owers("").iter().any(|p| p == me);
    let filter = HistoryFilter {
        reviews: vec![ReviewState::Owed],
        requester: (!owes_all).then(|| me.clone()),
        ..HistoryFilter::default()
    };
    let owed = store
        .history(&filter, &config.review_rule(), now, 0, OWED_READ)?
        .into_iter()
        .filter(|row| config.review_owers(&row.requested_by).contains(me))
        .collect();
    let today = now.with_timezone(&config.timezone).date_naive();
    let overdue = store.open_actions()?.into_iter().filter(|a| a.action.due < today).collect();
    Ok((owed, overdue))
}

impl Loader {
    /// The operator's gates and notifications now (`None` without an operator, as in benches).
    pub fn gates(&mut self) -> Result<Option<GateData>, StoreError> {
        let Some(desk) = self.desk.as_ref() else { return Ok(None) };
        let now = self.clock.now();
        // The inbox and the estimates each read in one snapshot of their own.
        read(&self.store, desk, &mut self.estimates, now).map(Some)
    }

    /// Records a confirmed decision through [`crate::decide`], as the CLI does.
    pub fn decide(&mut self, cmd: &DecisionCmd) -> Decided {
        let Some(desk) = self.desk.as_ref() else {
            return Decided::NotRecorded(strings::gates::NO_OPERATOR.to_owned());
        };
        match desk.decide(&mut self.store, cmd, self.clock.now()) {
            Ok(recorded) => Decided::Recorded(recorded.to_string()),
            Err(e) => Decided::NotRecorded(e.to_string()),
        }
    }

    /// Marks the operator's notifications read (all of them when `ids` is empty).
    pub fn mark_read(&mut self, ids: &[i64]) -> Result<usize, StoreError> {
        let Some(desk) = self.desk.as_ref() else { return Ok(0) };
        let now = self.clock.now();
        self.store.mark_read(&desk.operator.name, ids, now)
    }

    /// What the dashboard must see after this loader wrote: its own commits do not move
    /// `data_version`, so the list, the selected deployment and the gates are read now.
    pub fn after_write(&mut self) -> Result<Refresh, StoreError> {
        let mut refresh = self.refresh()?;
        refresh.gates = self.gates()?;
        Ok(refresh)
    }
}
