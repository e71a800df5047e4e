//! The data thread's part in approvals: the operator's inbox (each entry with the phase it
//! would start and that phase's ETA), their notifications, and the writes the dashboard asks
//! for — decisions and "mark read" — made here, off the UI thread, through the same
//! [`Store::decide`] as the CLI.

use super::{Loader, Refresh};
use crate::domain::DeploymentKey;
use crate::domain::gate::Decision;
use crate::domain::gate::view::{ActionItem, ActionKind, Member, Notification, Subscription};
use crate::domain::records::PhaseView;
use crate::domain::schedule::{ChangeWindow, Freeze};
use crate::store::{DecisionRequest, Estimate, GateError, Store, StoreError};
use crate::tui::strings;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Notifications read per refresh (newest first).
pub const NOTIFICATIONS_SHOWN: usize = 200;
/// Estimates are re-read at most this often per model (they move only when phases finish).
const ESTIMATE_TTL: Duration = Duration::from_secs(60);

/// Who the dashboard acts as, and the rules and team its decisions are checked against.
#[derive(Debug, Clone)]
pub struct GateSetup {
    /// The operator's name (`SHIPDECK_OPERATOR`, the config's `operator`, or the OS login).
    pub operator: String,
    /// Their roles; `None` when the name is not a person in the config.
    pub roles: Option<Vec<String>>,
    /// The OS account, recorded beside every decision.
    pub os_user: String,
    pub windows: Vec<ChangeWindow>,
    pub freezes: Vec<Freeze>,
    pub members: Vec<Member>,
    pub subscriptions: Vec<Subscription>,
}

impl GateSetup {
    /// The setup for `operator` under a configuration.
    #[must_use]
    pub fn new(config: &crate::config::Config, operator: &str, os_user: &str) -> Self {
        Self {
            operator: operator.to_owned(),
            roles: config.person(operator).map(|p| p.roles.clone()),
            os_user: os_user.to_owned(),
            windows: config.windows.clone(),
            freezes: config.freezes.clone(),
            members: config.members(),
            subscriptions: config.subscriptions(),
        }
    }
}

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
    pub notifications: Vec<Notification>,
    pub unread: usize,
}

/// A decision the operator confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionCmd {
    pub key: DeploymentKey,
    pub phase: String,
    pub decision: Decision,
    pub comment: Option<String>,
    /// The written reason of a rejection or of a freeze override.
    pub reason: Option<String>,
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
    setup: &GateSetup,
    cache: &mut EstimateCache,
    now: DateTime<Utc>,
) -> Result<GateData, StoreError> {
    let no_roles = Vec::new();
    let decider =
        crate::domain::gate::Decider { name: &setup.operator, roles: setup.roles.as_ref().unwrap_or(&no_roles) };
    let items = store.inbox(decider, &setup.windows, &setup.freezes, now)?;
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
    let notifications = store.notifications(&setup.operator, false, NOTIFICATIONS_SHOWN)?;
    let unread = store.unread_count(&setup.operator)?;
    Ok(GateData { inbox, notifications, unread })
}

impl Loader {
    /// The operator's gates and notifications now (`None` without an operator, as in benches).
    pub fn gates(&mut self) -> Result<Option<GateData>, StoreError> {
        let Some(setup) = self.setup.as_ref() else { return Ok(None) };
        let now = self.clock.now();
        // The inbox and the estimates each read in one snapshot of their own.
        read(&self.store, setup, &mut self.estimates, now).map(Some)
    }

    /// Records a confirmed decision: `Ok` with what was recorded, `Err` with the rule that
    /// refused it (or why nothing could be written).
    pub fn decide(&mut self, cmd: &DecisionCmd) -> Result<String, String> {
        let Some(setup) = self.setup.as_ref() else { return Err(strings::gates::NO_OPERATOR.to_owned()) };
        let what = strings::gates::what(cmd.decision, cmd.key, &cmd.phase, &setup.operator);
        let Some(roles) = setup.roles.as_ref() else {
            return Err(strings::gates::not_a_person(&what, &setup.operator));
        };
        self.store.sync_team(&setup.members, &setup.subscriptions).map_err(|e| format!("{what} failed: {e}"))?;
        let req = DecisionRequest {
            key: cmd.key,
            phase: &cmd.phase,
            decision: cmd.decision,
            person: &setup.operator,
            roles,
            os_user: &setup.os_user,
            comment: cmd.comment.as_deref(),
            reason: cmd.reason.as_deref(),
            windows: &setup.windows,
            freezes: &setup.freezes,
            now: self.clock.now(),
        };
        match self.store.decide(&req) {
            Ok(out) => Ok(strings::gates::recorded(&what, &out)),
            Err(GateError::Refused(r)) => Err(format!("{what} refused: {}", r.describe(self.tz))),
            Err(e) => Err(format!("{what} failed: {e}")),
        }
    }

    /// Marks the operator's notifications read (all of them when `ids` is empty).
    pub fn mark_read(&mut self, ids: &[i64]) -> Result<usize, StoreError> {
        let Some(setup) = self.setup.as_ref() else { return Ok(0) };
        let now = self.clock.now();
        self.store.mark_read(&setup.operator, ids, now)
    }

    /// What the dashboard must see after this loader wrote: its own commits do not move
    /// `data_version`, so the list, the selected deployment and the gates are read now.
    pub fn after_write(&mut self) -> Result<Refresh, StoreError> {
        let mut refresh = self.refresh()?;
        refresh.gates = self.gates()?;
        Ok(refresh)
    }
}
