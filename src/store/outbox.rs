//! Notifications and their outbox: who is told about a happening, over which channels, and the
//! delivery rows the delivery worker claims, sends and records.
//!
//! [`tell`] is the one routing rule: the people a happening always tells, then everyone whose
//! stakeholder subscription (stored in the log by `team sync`) matches its kind, environment
//! and service, each over in-app plus the channels of their matching rules. It runs inside the
//! transaction of the change that causes the happening, so a notification is never lost nor
//! invented; a decision's preview runs the same transaction and rolls it back.
//!
//! A worker claims due deliveries with a lease (`state = 'sending'`, `due_ms` = end of the
//! lease): a worker that dies leaves them due again at the end of the lease, and the next claim
//! sends them again with the same idempotency key. Two workers never hold one delivery at once.

use super::gates::DeploymentRow;
use super::{Store, StoreError};
use crate::domain::DeploymentKey;
use crate::domain::notify::timing::{self, Timing};
use crate::domain::notify::{Delivery, DeliveryState, Outgoing, Told};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// The channel every notification goes to.
pub const IN_APP: &str = "in_app";

/// A happening as the rules need it.
pub(super) struct Happening<'a> {
    pub dep: &'a DeploymentRow,
    pub phase_id: i64,
    /// The notification's kind (`gate_pending`, `deployment_failed`, ...).
    pub kind: &'a str,
    /// A rule kind that also matches (`deployment_finished` for the four endings).
    pub also: Option<&'a str>,
    /// People told whatever the rules say (the requester of a finished deployment, the people
    /// who may approve a pending gate).
    pub told: Vec<String>,
    /// Someone never told (the person who made the decision).
    pub except: Option<&'a str>,
    pub subject: String,
    pub body: String,
    pub now_ms: i64,
}

/// The service a release belongs to: its name before `@`.
fn service_of(release: &str) -> &str {
    release.split_once('@').map_or(release, |(name, _)| name)
}

/// Stores the happening's notifications and their deliveries.
///
/// Each (recipient, channel) is timed by the rules that chose it (see
/// [`crate::domain::notify::timing`]): due now, or when the person's quiet hours end, or
/// collected into the open digest of that recipient and channel. Urgent happenings are due now.
pub(super) fn tell(conn: &Connection, h: &Happening<'_>) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT person, channels, timing FROM subscriptions WHERE kind IN (?1, ?2)
         AND (environments = '[]' OR ?3 IN (SELECT value FROM json_each(environments)))
         AND (services = '[]' OR ?4 IN (SELECT value FROM json_each(services)))
         ORDER BY person, channels, timing",
    )?;
    let subscribed = stmt
        .query_map(params![h.kind, h.also.unwrap_or(h.kind), h.dep.environment, service_of(&h.dep.release)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Each person told, with each channel and the timings of the rules that chose it.
    type Channels = Vec<(String, Vec<Timing>)>;
    let mut recipients: Vec<(String, Channels)> = h.told.iter().map(|p| (p.clone(), Vec::new())).collect();
    for (person, channels, timing) in subscribed {
        let channels: Vec<String> = serde_json::from_str(&channels).unwrap_or_default();
        let timing: Timing = serde_json::from_str(&timing).unwrap_or_default();
        let at = match recipients.iter().position(|(p, _)| *p == person) {
            Some(i) => i,
            None => {
                recipients.push((person, Vec::new()));
                recipients.len() - 1
            }
        };
        for c in channels {
            let list = &mut recipients[at].1;
            match list.iter_mut().find(|(name, _)| *name == c) {
                Some((_, timings)) => timings.push(timing.clone()),
                None => list.push((c, vec![timing.clone()])),
            }
        }
    }
    let mut note = conn.prepare_cached(
        "INSERT INTO notifications (deployment_id, phase_id, kind, recipient, subject, body, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let now = crate::clock::from_ms(h.now_ms);
    for (person, channels) in recipients.iter().filter(|(p, _)| Some(p.as_str()) != h.except) {
        note.execute(params![h.dep.id, h.phase_id, h.kind, person, h.subject, h.body, h.now_ms])?;
        let id = conn.last_insert_rowid();
        let urgent = timing::is_urgent(h.kind, h.told.contains(person));
        for (channel, timings) in channels {
            let (due, digest) = if urgent { (now, None) } else { timing::merge(timings, now) };
            let out = NewDelivery { notification: id, recipient: person, channel, due, now };
            match digest {
                None => insert_delivery(conn, &out, None)?,
                Some(period) => join_digest(conn, &out, period)?,
            }
        }
    }
    Ok(())
}

/// A delivery about to be written.
struct NewDelivery<'a> {
    notification: i64,
    recipient: &'a str,
    channel: &'a str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
}

fn insert_delivery(conn: &Connection, d: &NewDelivery<'_>, digest: Option<chrono::TimeDelta>) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO deliveries (notification_id, channel, due_ms, created_ms, idempotency_key, digest_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        d.notification,
        d.channel,
        d.due.timestamp_millis(),
        d.now.timestamp_millis(),
        uuid::Uuid::new_v4().to_string(),
        digest.map(|p| p.num_milliseconds())
    ])?;
    Ok(())
}

/// Adds the notification to the recipient's open digest on this channel (one still queued:
/// a digest a worker has claimed is closed), or opens one, due at the end of its period.
fn join_digest(conn: &Connection, d: &NewDelivery<'_>, period: chrono::TimeDelta) -> rusqlite::Result<()> {
    let open: Option<i64> = conn
        .prepare_cached(
            "SELECT d.id FROM deliveries d JOIN notifications n ON n.id = d.notification_id
             WHERE d.digest_ms IS NOT NULL AND d.state = 'queued' AND d.channel = ?1 AND n.recipient = ?2
             ORDER BY d.id LIMIT 1",
        )?
        .query_row(params![d.channel, d.recipient], |r| r.get(0))
        .optional()?;
    let delivery = match open {
        Some(id) => id,
        None => {
            insert_delivery(conn, d, Some(period))?;
            conn.last_insert_rowid()
        }
    };
    conn.prepare_cached("INSERT OR IGNORE INTO digest_items (delivery_id, notification_id) VALUES (?1, ?2)")?
        .execute(params![delivery, d.notification])?;
    Ok(())
}

/// The newest notification id (what a preview reads after).
pub(super) fn newest_notification(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT coalesce(max(id), 0) FROM notifications", [], |r| r.get(0))
}

/// Who was told after notification `after`, each with in-app and their channels.
pub(super) fn told_after(conn: &Connection, after: i64) -> rusqlite::Result<Vec<Told>> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.recipient, n.kind, n.subject,
                (SELECT json_group_array(channel) FROM (
                    SELECT id, channel FROM deliveries WHERE notification_id = n.id AND digest_ms IS NULL
                    UNION ALL
                    SELECT d.id, d.channel FROM digest_items i JOIN deliveries d ON d.id = i.delivery_id
                    WHERE i.notification_id = n.id ORDER BY id))
         FROM notifications n WHERE n.id > ?1 ORDER BY n.id",
    )?;
    stmt.query_map([after], |r| {
        let channels: Vec<String> = serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default();
        Ok(Told {
            person: r.get(0)?,
            kind: r.get(1)?,
            subject: r.get(2)?,
            channels: std::iter::once(IN_APP.to_owned()).chain(channels).collect(),
        })
    })?
    .collect()
}

/// The result of one attempt, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    /// Failed: try again at `retry_at`, or never again (`None`: the delivery failed for good).
    Failed {
        error: String,
        retry_at: Option<DateTime<Utc>>,
        max_attempts: u32,
    },
}

/// Why `notify retry` did nothing.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no delivery {0} (see `shipdeck notify list`)")]
    Unknown(i64),
    #[error("delivery {id} is {state}, not failed: only a failed delivery is retried by hand")]
    NotFailed { id: i64, state: String },
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.notification_id, d.channel, d.state, d.attempts, d.max_attempts,
        d.due_ms, d.last_error, d.sent_ms, d.created_ms, d.idempotency_key,
        n.recipient, n.kind, n.deployment_id, p.name, n.subject, n.body, d.digest_ms IS NOT NULL
     FROM deliveries d JOIN notifications n ON n.id = d.notification_id LEFT JOIN phases p ON p.id = n.phase_id";

/// A delivery row, and whether it is a digest (whose items are read next, by [`complete`]).
fn delivery(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Delivery, bool)> {
    let ms = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(crate::clock::from_ms))
    };
    let d = Delivery {
        id: r.get(0)?,
        notification: r.get(1)?,
        channel: r.get(2)?,
        state: r.get::<_, String>(3)?.parse().unwrap_or(DeliveryState::Queued),
        attempts: r.get(4)?,
        max_attempts: r.get(5)?,
        due_at: crate::clock::from_ms(r.get(6)?),
        last_error: r.get(7)?,
        sent_at: ms(8)?,
        created_at: crate::clock::from_ms(r.get(9)?),
        idempotency_key: r.get(10)?,
        outgoing: Outgoing {
            recipient: r.get(11)?,
            kind: r.get(12)?,
            deployment: r.get::<_, Option<i64>>(13)?.map(DeploymentKey),
            phase: r.get(14)?,
            subject: r.get(15)?,
            body: r.get(16)?,
        },
        items: Vec::new(),
    };
    Ok((d, r.get(17)?))
}

/// A digest gets its notifications, oldest first; any other delivery is as read.
fn complete(conn: &Connection, (d, digest): (Delivery, bool)) -> rusqlite::Result<Delivery> {
    if !digest {
        return Ok(d);
    }
    let items = conn
        .prepare_cached(
            "SELECT n.recipient, n.kind, n.deployment_id, p.name, n.subject, n.body
             FROM digest_items i JOIN notifications n ON n.id = i.notification_id
             LEFT JOIN phases p ON p.id = n.phase_id WHERE i.delivery_id = ?1 ORDER BY n.id",
        )?
        .query_map([d.id], |r| {
            Ok(Outgoing {
                recipient: r.get(0)?,
                kind: r.get(1)?,
                deployment: r.get::<_, Option<i64>>(2)?.map(DeploymentKey),
                phase: r.get(3)?,
                subject: r.get(4)?,
                body: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(d.into_digest(items))
}

/// `ids` as a JSON array, for `json_each` (one statement for a whole batch).
fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    let ids: Vec<i64> = ids.into_iter().collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Claims up to `limit` due deliveries for `owner` until `lease_until`. A cheap read comes
    /// first, so an idle worker never takes the write lock.
    pub fn claim_deliveries(
        &mut self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let now_ms = now.timestamp_millis();
        let due: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM deliveries WHERE state IN ('queued', 'sending', 'retrying') AND due_ms <= ?1 LIMIT 1",
            )
            .and_then(|mut s| s.query_row([now_ms], |r| r.get(0)).optional())
            .map_err(sql)?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let ids: Vec<i64> = tx
            .prepare_cached(
                "UPDATE deliveries SET state = 'sending', lease_owner = ?1, attempts = attempts + 1, due_ms = ?2
                 WHERE id IN (SELECT id FROM deliveries WHERE state IN ('queued', 'sending', 'retrying')
                              AND due_ms <= ?3 ORDER BY due_ms, id LIMIT ?4)
                 RETURNING id",
            )
            .and_then(|mut s| {
                s.query_map(params![owner, lease_until.timestamp_millis(), now_ms, limit], |r| r.get(0))?.collect()
            })
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
        // Read after the commit, outside the write lock: the lease keeps the rows ours, and a
        // claimed digest takes no more items.
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(Delivery, bool)> = self
            .conn
            .prepare_cached(&format!(
                "{DELIVERY_SELECT} WHERE d.id IN (SELECT value FROM json_each(?1)) AND d.lease_owner = ?2 ORDER BY d.id"
            ))
            .and_then(|mut s| s.query_map(params![id_list(ids), owner], delivery)?.collect())
            .map_err(sql)?;
        rows.into_iter().map(|row| complete(&self.conn, row)).collect::<rusqlite::Result<_>>().map_err(sql)
    }

    /// Records attempts made by `owner`. A delivery is marked sent whoever holds it now (it was
    /// sent); a failure counts only while `owner` still holds the lease.
    pub fn record_attempts(
        &mut self,
        owner: &str,
        results: &[(i64, Attempt)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let now_ms = now.timestamp_millis();
        let sent = id_list(results.iter().filter(|(_, a)| *a == Attempt::Sent).map(|(id, _)| *id));
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        // The sent ones, however many, in two statements: the write lock is held briefly.
        tx.prepare_cached(
            "UPDATE notifications SET delivered_ms = coalesce(delivered_ms, ?2)
             WHERE id IN (SELECT notification_id FROM deliveries WHERE id IN (SELECT value FROM json_each(?1)))
                OR id IN (SELECT notification_id FROM digest_items WHERE delivery_id IN (SELECT value FROM json_each(?1)))",
        )
        .and_then(|mut s| s.execute(params![sent, now_ms]))
        .map_err(sql)?;
        tx.prepare_cached(
            "UPDATE deliveries SET state = 'sent', sent_ms = ?2, lease_owner = NULL
             WHERE id IN (SELECT value FROM json_each(?1)) AND state != 'sent'",
        )
        .and_then(|mut s| s.execute(params![sent, now_ms]))
        .map_err(sql)?;
        for (id, attempt) in results {
            if let Attempt::Failed { error, retry_at, max_attempts } = attempt {
                let (state, due) = match retry_at {
                    Some(at) => ("retrying", at.timestamp_millis()),
                    None => ("failed", now_ms),
                };
                tx.prepare_cached(
                    "UPDATE deliveries SET state = ?3, due_ms = ?4, last_error = ?5, max_attempts = ?6, lease_owner = NULL
                     WHERE id = ?1 AND state = 'sending' AND lease_owner = ?2",
                )
                .and_then(|mut s| s.execute(params![id, owner, state, due, error, max_attempts]))
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Stores the `start_approaching` reminder of every deployment whose planned start lies
    /// within `lead` of `now` and that has not started: once per deployment, to the requester
    /// and subscribers. Returns how many were reminded. A read first, so nothing is locked
    /// while there is nothing to remind.
    pub fn remind_starts(&mut self, now: DateTime<Utc>, lead: chrono::TimeDelta) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let (now_ms, until_ms) = (now.timestamp_millis(), (now + lead).timestamp_millis());
        let due = "SELECT id FROM deployments WHERE start_reminded_ms IS NULL AND started_ms IS NULL
                   AND status IN ('planned', 'awaiting_approval') AND planned_ms > ?1 AND planned_ms <= ?2";
        let any: Option<i64> = self
            .conn
            .prepare_cached(&format!("{due} LIMIT 1"))
            .and_then(|mut s| s.query_row(params![now_ms, until_ms], |r| r.get(0)).optional())
            .map_err(sql)?;
        if any.is_none() {
            return Ok(0);
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let ids: Vec<i64> = tx
            .prepare_cached(due)
            .and_then(|mut s| s.query_map(params![now_ms, until_ms], |r| r.get(0))?.collect())
            .map_err(sql)?;
        for id in &ids {
            tx.execute("UPDATE deployments SET start_reminded_ms = ?2 WHERE id = ?1", params![id, now_ms])
                .map_err(sql)?;
            let Some(dep) = super::gates::load_deployment(&tx, *id).map_err(sql)? else { continue };
            let Some(first) = super::gates::load_phases(&tx, *id).map_err(sql)?.first().map(|p| p.id) else { continue };
            let minutes = (dep.planned_start - now).num_minutes().max(1);
            let text = (
                format!("DEP-{id} starts in {minutes} min: {} to {}", dep.release, dep.environment),
                format!(
                    "Planned start {}. Requested by {}.",
                    crate::domain::time::until(dep.planned_start, self.zone),
                    dep.requested_by
                ),
            );
            super::gates::views::notify_happening(&tx, &dep, first, "start_approaching", true, text, now_ms)
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(ids.len())
    }

    /// Deliveries, newest first (`failed_only`: only those that failed for good).
    pub fn deliveries(&self, failed_only: bool, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let query = if failed_only {
            format!("{DELIVERY_SELECT} WHERE d.state = 'failed' ORDER BY d.id DESC LIMIT ?1")
        } else {
            format!("{DELIVERY_SELECT} ORDER BY d.id DESC LIMIT ?1")
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(&query)
            .and_then(|mut s| s.query_map([limit], delivery)?.collect::<rusqlite::Result<Vec<_>>>())
            .and_then(|rows| rows.into_iter().map(|row| complete(&self.conn, row)).collect())
            .map_err(|e| self.sql(e))
    }

    /// The deliveries of these notifications, in id order; a digest that carries one of them
    /// is listed under it (with `notification` set to it).
    pub fn deliveries_of(&self, notifications: &[i64]) -> Result<Vec<Delivery>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "{DELIVERY_SELECT} WHERE d.notification_id = ?1
                    OR d.id IN (SELECT delivery_id FROM digest_items WHERE notification_id = ?1) ORDER BY d.id"
            ))
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for n in notifications {
            let rows = stmt.query_map([n], delivery).and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>);
            for row in rows.map_err(|e| self.sql(e))? {
                let mut d = complete(&self.conn, row).map_err(|e| self.sql(e))?;
                d.notification = *n;
                out.push(d);
            }
        }
        Ok(out)
    }

    /// How many deliveries failed for good.
    pub fn failed_deliveries(&self) -> Result<usize, StoreError> {
        self.conn
            .prepare_cached("SELECT count(*) FROM deliveries WHERE state = 'failed'")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(|e| self.sql(e))
    }

    /// Queues a failed delivery again, with its attempts reset (and its idempotency key kept).
    pub fn retry_delivery(&mut self, id: i64, now: DateTime<Utc>) -> Result<Delivery, RetryError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let state: Option<String> =
            tx.query_row("SELECT state FROM deliveries WHERE id = ?1", [id], |r| r.get(0)).optional().map_err(sql)?;
        match state.as_deref() {
            None => return Err(RetryError::Unknown(id)),
            Some("failed") => {}
            Some(other) => return Err(RetryError::NotFailed { id, state: other.to_owned() }),
        }
        tx.execute(
            "UPDATE deliveries SET state = 'queued', attempts = 0, due_ms = ?2, lease_owner = NULL WHERE id = ?1",
            params![id, now.timestamp_millis()],
        )
        .map_err(sql)?;
        let row = tx.query_row(&format!("{DELIVERY_SELECT} WHERE d.id = ?1"), [id], delivery).map_err(sql)?;
        let d = complete(&tx, row).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(d)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod timing_tests;
