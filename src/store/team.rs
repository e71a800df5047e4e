//! The team stored in the log: people, roles, logins, the identity mode and who may change it.
//!
//! Decisions count this team, never the config of whoever runs a command. It changes only by
//! [`Store::sync_team`], which checks in its write transaction that the one changing it holds
//! an admin role of the team stored so far (or it is the first team of a new log, or the
//! demo's own new log), and appends the change — or the refusal — to the audit
//! trail.

use super::gates::audit;
use super::{Store, StoreError};
use crate::domain::gate::view::Subscription;
use crate::domain::team::{Member, Team, TeamPolicy, TimeRules};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// Who changes the team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncBy<'a> {
    /// A person, by name, from an OS account: must hold an admin role of the stored team.
    Person { name: &'a str, os_user: &'a str },
    /// The program that created this log moments ago for itself (the demo adding its loopback
    /// channels, a benchmark its synthetic team), audited as `shipdeck`. Nothing else may
    /// change a team without an admin: not the receiver, whose config anyone who can start one
    /// writes.
    Creator { os_user: &'a str },
    /// Only seeds a log that holds no team yet (planning into a new log, the demo); changes
    /// nothing otherwise.
    Seed { os_user: &'a str },
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The stored team already was this one.
    Unchanged,
    /// Stored, with its audit record.
    Stored { audit_id: i64, seeded: bool },
    /// A seed into a log that already holds a team: the stored one stays.
    Kept,
}

/// Why the team was not changed.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "team sync refused: {person} holds none of the roles allowed to change the team ({}); the refusal is in the audit trail",
        roles.join(", ")
    )]
    NotAllowed { person: String, roles: Vec<String> },
    #[error("team sync refused: \"{person}\" is not a person of the log's team; the refusal is in the audit trail")]
    NotAPerson { person: String },
}

/// A stored value that does not parse: the team cannot be read.
fn corrupt(path: &std::path::Path, what: String, detail: &str) -> StoreError {
    StoreError::Corrupt { path: path.to_path_buf(), what, detail: detail.to_owned() }
}

fn read_team(conn: &Connection, path: &std::path::Path) -> Result<Option<Team>, StoreError> {
    let sql = |source| StoreError::Sql { path: path.to_path_buf(), source };
    type PolicyRow = (String, String, String, Option<String>, Option<String>, Option<String>);
    let policy: Option<PolicyRow> = conn
        .query_row(
            "SELECT identity, admin_roles, plan_for_others, windows, freezes, schedule FROM team_policy WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()
        .map_err(sql)?;
    let Some((identity, admin, plan_for_others, windows, freezes, schedule)) = policy else { return Ok(None) };
    let schedule = match schedule {
        None => crate::domain::team::SchedulePolicy::default(),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| corrupt(path, "the team's schedule roles".into(), &e.to_string()))?,
    };
    let time_rules =
        parse_time_rules(windows, freezes).map_err(|(what, e)| corrupt(path, what.into(), &e.to_string()))?;
    let roles = |text: &str, what: &str| -> Result<Vec<String>, StoreError> {
        serde_json::from_str(text).map_err(|e| corrupt(path, what.to_owned(), &e.to_string()))
    };
    let policy = TeamPolicy {
        identity: identity.parse().map_err(|e: String| corrupt(path, "the team's identity mode".into(), &e))?,
        admin_roles: roles(&admin, "the team's admin roles")?,
        plan_for_others: roles(&plan_for_others, "the roles that may plan for others")?,
        schedule,
    };
    let rows = conn
        .prepare_cached("SELECT name, roles, login FROM team ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<(String, String, Option<String>)>>>()
        })
        .map_err(sql)?;
    let mut members = Vec::with_capacity(rows.len());
    for (name, r, login) in rows {
        let roles = roles(&r, &format!("the roles of team member \"{name}\""))?;
        members.push(Member { name, roles, login });
    }
    Ok(Some(Team { members, policy, time_rules }))
}

/// The stored windows and freezes columns (`None`: stored before time rules were), or which of
/// them does not parse.
fn parse_time_rules(
    windows: Option<String>,
    freezes: Option<String>,
) -> Result<Option<TimeRules>, (&'static str, serde_json::Error)> {
    let (Some(w), Some(f)) = (windows, freezes) else { return Ok(None) };
    Ok(Some(TimeRules {
        windows: serde_json::from_str(&w).map_err(|e| ("the stored change windows", e))?,
        freezes: serde_json::from_str(&f).map_err(|e| ("the stored freezes", e))?,
    }))
}

/// The time rules in force ([`TimeRules::in_force`]) for a writer inside its transaction (the
/// ingest's conformance flags): the team's stored windows and freezes without reading the rest
/// of the team. A stored value that does not parse fails the transaction, never flags nothing.
pub(super) fn time_rules_for_writer(conn: &Connection) -> rusqlite::Result<TimeRules> {
    let row: Option<(Option<String>, Option<String>)> = conn
        .prepare_cached("SELECT windows, freezes FROM team_policy WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (windows, freezes) = row.unwrap_or_default();
    let stored = parse_time_rules(windows, freezes)
        .map_err(|(_, e)| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(TimeRules::in_force(stored, super::schedule::emergency_in(conn)?))
}

/// A stored subscription: person, kind, and the JSON of environments, services, channels and
/// timing.
type SubscriptionRow = (String, String, String, String, String, String);

fn read_subscriptions(conn: &Connection) -> rusqlite::Result<Vec<SubscriptionRow>> {
    conn.prepare_cached(
        "SELECT person, kind, environments, services, channels, timing FROM subscriptions
         ORDER BY person, kind, environments, services, channels, timing",
    )?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
    .collect()
}

fn subscription_rows(subscriptions: &[Subscription]) -> Vec<SubscriptionRow> {
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let mut rows: Vec<SubscriptionRow> = subscriptions
        .iter()
        .map(|s| {
            let timing = serde_json::to_string(&s.timing).unwrap_or_else(|_| "{}".into());
            (s.person.clone(), s.kind.clone(), json(&s.environments), json(&s.services), json(&s.channels), timing)
        })
        .collect();
    rows.sort();
    rows.dedup();
    rows
}

fn normalised(team: &Team) -> Team {
    let mut t = team.clone();
    t.members.sort();
    t.members.dedup_by(|a, b| a.name == b.name);
    t
}

fn write_team(conn: &Connection, team: &Team, subs: &[SubscriptionRow], now_ms: i64) -> rusqlite::Result<()> {
    conn.execute_batch("DELETE FROM team; DELETE FROM subscriptions;")?;
    for m in &team.members {
        let roles = serde_json::to_string(&m.roles).unwrap_or_else(|_| "[]".into());
        conn.execute("INSERT INTO team (name, roles, login) VALUES (?1, ?2, ?3)", params![m.name, roles, m.login])?;
    }
    for (person, kind, envs, services, channels, timing) in subs {
        conn.execute(
            "INSERT INTO subscriptions (person, kind, environments, services, channels, timing)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![person, kind, envs, services, channels, timing],
        )?;
    }
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let rules = team.time_rules.as_ref();
    let windows = rules.map(|r| serde_json::to_string(&r.windows).unwrap_or_else(|_| "[]".into()));
    let freezes = rules.map(|r| serde_json::to_string(&r.freezes).unwrap_or_else(|_| "[]".into()));
    conn.execute(
        "INSERT INTO team_policy (id, identity, admin_roles, plan_for_others, synced_ms, windows, freezes, schedule)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET identity = excluded.identity, admin_roles = excluded.admin_roles,
             plan_for_others = excluded.plan_for_others, synced_ms = excluded.synced_ms,
             windows = excluded.windows, freezes = excluded.freezes, schedule = excluded.schedule",
        params![
            team.policy.identity.as_str(),
            json(&team.policy.admin_roles),
            json(&team.policy.plan_for_others),
            now_ms,
            windows,
            freezes,
            serde_json::to_string(&team.policy.schedule).ok()
        ],
    )?;
    Ok(())
}

/// What changed, for the audit record: people added, removed or changed, and the policy.
fn changes(before: Option<&Team>, after: &Team) -> serde_json::Value {
    let Some(before) = before else { return serde_json::json!({ "seeded": after }) };
    let find = |t: &Team, n: &str| t.members.iter().find(|m| m.name == n).cloned();
    let added: Vec<&Member> = after.members.iter().filter(|m| find(before, &m.name).is_none()).collect();
    let removed: Vec<&str> =
        before.members.iter().filter(|m| find(after, &m.name).is_none()).map(|m| m.name.as_str()).collect();
    let changed: Vec<serde_json::Value> = after
        .members
        .iter()
        .filter_map(|m| {
            find(before, &m.name).filter(|b| b != m).map(|b| serde_json::json!({ "before": b, "after": m }))
        })
        .collect();
    serde_json::json!({
        "added": added,
        "removed": removed,
        "changed": changed,
        "policy": (before.policy != after.policy).then(|| serde_json::json!({ "before": before.policy, "after": after.policy })),
        "time_rules": (before.time_rules != after.time_rules).then(|| serde_json::json!({ "before": before.time_rules, "after": after.time_rules })),
    })
}

impl Store {
    /// The team stored in the log (`None`: none was ever stored). A stored value that does not
    /// parse is an error naming it, never an empty team.
    pub fn team(&self) -> Result<Option<Team>, StoreError> {
        read_team(&self.conn, &self.path)
    }

    /// [`Store::team`] inside a transaction.
    pub(super) fn team_in(conn: &Connection, path: &std::path::Path) -> Result<Option<Team>, StoreError> {
        read_team(conn, path)
    }

    /// Whether the log's team and subscriptions are `team` and `subscriptions` (`None`: the log
    /// holds no team yet).
    pub fn team_is(&self, team: &Team, subscriptions: &[Subscription]) -> Result<Option<bool>, StoreError> {
        let Some(stored) = read_team(&self.conn, &self.path)? else { return Ok(None) };
        let subs = read_subscriptions(&self.conn).map_err(|e| self.sql(e))?;
        Ok(Some(stored == normalised(team) && subs == subscription_rows(subscriptions)))
    }

    /// The change windows and freezes in force in the log: those stored with the team, with
    /// the emergency freezes ([`TimeRules::in_force`]). Decisions, the inbox, refusals and
    /// conformance flags are all checked against these, never against a caller's config.
    pub fn time_rules(&self) -> Result<TimeRules, StoreError> {
        Self::time_rules_in(&self.conn, &self.path)
    }

    /// [`Store::time_rules`] inside a transaction.
    pub(super) fn time_rules_in(conn: &Connection, path: &std::path::Path) -> Result<TimeRules, StoreError> {
        let stored = read_team(conn, path)?.and_then(|t| t.time_rules);
        let emergency = super::schedule::emergency_in(conn)
            .map_err(|source| StoreError::Sql { path: path.to_path_buf(), source })?;
        Ok(TimeRules::in_force(stored, emergency))
    }

    /// Replaces the stored team and stakeholder subscriptions with `team` when `by` may, and
    /// records the change (or the refusal) in the audit trail.
    pub fn sync_team(
        &mut self,
        team: &Team,
        subscriptions: &[Subscription],
        by: SyncBy<'_>,
        now: DateTime<Utc>,
    ) -> Result<SyncOutcome, TeamError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let want = normalised(team);
        let subs = subscription_rows(subscriptions);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let stored = read_team(&tx, &path)?;
        if stored.as_ref() == Some(&want) && read_subscriptions(&tx).map_err(sql)? == subs {
            return Ok(SyncOutcome::Unchanged);
        }
        let now_ms = now.timestamp_millis();
        let (person, os_user, role) = match (by, &stored) {
            (SyncBy::Seed { .. }, Some(_)) => return Ok(SyncOutcome::Kept),
            (SyncBy::Seed { os_user }, None) => ("shipdeck", os_user, None),
            (SyncBy::Creator { os_user }, _) => ("shipdeck", os_user, None),
            (SyncBy::Person { name, os_user }, None) => (name, os_user, None),
            (SyncBy::Person { name, os_user }, Some(current)) => {
                let admin = &current.policy.admin_roles;
                let refusal = match current.person(name) {
                    None => TeamError::NotAPerson { person: name.to_owned() },
                    Some(m) => match Team::role_in(m, admin) {
                        Some(role) => {
                            let role = role.to_owned();
                            return store_team(
                                &path,
                                tx,
                                stored.as_ref(),
                                &want,
                                &subs,
                                (name, os_user, Some(&role)),
                                now_ms,
                            );
                        }
                        None => TeamError::NotAllowed { person: name.to_owned(), roles: admin.clone() },
                    },
                };
                let state = serde_json::json!({ "refused": refusal.to_string(), "admin_roles": admin, "proposed": changes(Some(current), &want) });
                audit::append(
                    &tx,
                    &audit::NewRecord {
                        subject: None,
                        deployment_id: 0,
                        phase_id: 0,
                        decision: TEAM_SYNC,
                        person: name,
                        role: None,
                        os_user,
                        comment: None,
                        reason: None,
                        policy_state: &state.to_string(),
                        decided_ms: now_ms,
                        outcome: Some(audit::REFUSED),
                    },
                )
                .map_err(sql)?;
                tx.commit().map_err(sql)?;
                return Err(refusal);
            }
        };
        store_team(&path, tx, stored.as_ref(), &want, &subs, (person, os_user, role), now_ms)
    }
}

fn store_team(
    path: &std::path::Path,
    tx: rusqlite::Transaction<'_>,
    stored: Option<&Team>,
    want: &Team,
    subs: &[SubscriptionRow],
    (person, os_user, role): (&str, &str, Option<&String>),
    now_ms: i64,
) -> Result<SyncOutcome, TeamError> {
    let sql = |source| StoreError::Sql { path: path.to_path_buf(), source };
    write_team(&tx, want, subs, now_ms).map_err(sql)?;
    let state = serde_json::json!({ "changes": changes(stored, want), "subscriptions": subs.len() });
    let audit_id = audit::append(
        &tx,
        &audit::NewRecord {
            subject: None,
            deployment_id: 0,
            phase_id: 0,
            decision: TEAM_SYNC,
            person,
            role: role.map(String::as_str),
            os_user,
            comment: None,
            reason: None,
            policy_state: &state.to_string(),
            decided_ms: now_ms,
            outcome: None,
        },
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(SyncOutcome::Stored { audit_id, seeded: stored.is_none() })
}

/// The audit record's `decision` for a team change.
pub const TEAM_SYNC: &str = "team_sync";
