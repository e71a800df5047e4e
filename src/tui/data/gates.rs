//! The data thread's reads for approvals: the operator's inbox (each entry with the phase it
//! would start and that phase's ETA) and their notifications. The writes the dashboard asks
//! for (decisions, "mark read") are the [`super::Loader`]'s, through [`crate::decide`].

use crate::decide::Desk;
use crate::domain::gate::view::ActionKind;
use crate::store::{Estimate, Store, StoreError};
use crate::tui::model::{GateData, NOTIFICATIONS_SHOWN, Pending};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::{Duration, Instant};

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
    let notifications = store.notifications(&desk.operator.name, false, NOTIFICATIONS_SHOWN)?;
    let unread = store.unread_count(&desk.operator.name)?;
    Ok(GateData { inbox, notifications, unread })
}
