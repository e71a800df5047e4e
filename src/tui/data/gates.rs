//! The data thread's reads for approvals: the operator's inbox (each entry with the phase it
//! would start and that phase's ETA), the failure reviews they owe and the improvement actions
//! past their due date, and their notifications. The writes the dashboard asks
//! for (decisions, "mark read") are the [`super::Loader`]'s, through [`crate::decide`].

use crate::decide::Desk;
use crate::domain::gate::view::ActionKind;
use crate::domain::history::{HistoryFilter, HistoryRow, ReviewState};
use crate::store::{ActionRow, Estimate, Store, StoreError};
use crate::tui::model::{GateData, NOTIFICATIONS_SHOWN, Pending};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Owed reviews read per refresh, newest first (the operator's are kept of these).
pub const OWED_READ: usize = 200;
/// Estimates are re-read at most this often per model (they move only when phases finish).
const ESTIMATE_TTL: Duration = Duration::from_secs(60);

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
    let rules = store.time_rules()?;
    let items = store.inbox(desk.operator.decider(), now)?;
    let mut inbox = Vec::with_capacity(items.len());
    for item in items {
        let model = store.summary(item.deployment)?.model;
        let phase = store.phases(item.deployment)?.into_iter().find(|p| p.name == item.phase);
        let size = match (&phase, item.kind) {
            (Some(p), ActionKind::Gate) => p.targets,
            (Some(p), ActionKind::FailedPhase) => p.failed.max(1),
            (Some(_), ActionKind::Switched) => 0,
            (None, _) => 0,
        };
        let est = estimate(store, cache, &model)?;
        let eta = est.filter(|_| size > 0).map(|e| e.phase(size));
        let analysis = store.analysis(item.deployment, now)?;
        inbox.push(Pending { item, model, phase, eta, eta_hosts: est.map_or(0, |e| e.hosts), analysis });
    }
    let (owed, overdue) = follow_ups(store, desk, now)?;
    let notifications = store.notifications(&desk.operator.name, false, NOTIFICATIONS_SHOWN)?;
    let unread = store.unread_count(&desk.operator.name)?;
    let ids: Vec<i64> = notifications.iter().map(|n| n.id).collect();
    let deliveries = store.deliveries_of(&ids)?;
    let failed_deliveries = store.failed_deliveries()?;
    Ok(GateData { inbox, owed, overdue, notifications, unread, deliveries, failed_deliveries, rules })
}

/// The reviews the operator owes (the config's rule says who owes one: [`Config::review_owers`])
/// and every improvement action past its due date (in the configured zone's calendar).
///
/// [`Config::review_owers`]: crate::config::Config::review_owers
fn follow_ups(store: &Store, desk: &Desk, now: DateTime<Utc>) -> Result<(Vec<HistoryRow>, Vec<ActionRow>), StoreError> {
    let config = &desk.config;
    let me = &desk.operator.name;
    // Someone who owes every review by their role needs no requester filter; others owe theirs.
    let owes_all = config.owes_reviews_by_role(me);
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
