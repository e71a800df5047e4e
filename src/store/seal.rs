//! Loads the stored facts the audit trail seals ([`crate::domain::seal`]) and checks them
//! against the newest seal of each: the plan of every deployment, the team, the emergency
//! freezes.

use super::gates::audit::{AuditProblem, FREEZE_DECISIONS, PLAN_DECISIONS, SEAL, TEAM_DECISION, TOKEN_DECISIONS};
use crate::domain::seal::{PhaseFacts, PlanFacts, digest};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeMap;

/// A stored value as JSON (blobs as hex), for digests of rows as they are stored.
fn json_of(v: ValueRef<'_>) -> serde_json::Value {
    match v {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => digest(b).into(),
    }
}

/// The digest of every row `sql` selects, in its order.
pub(super) fn rows_digest(conn: &Connection, sql: &str, arg: Option<i64>) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let mut rows = match arg {
        Some(a) => stmt.query([a])?,
        None => stmt.query([])?,
    };
    let mut all = Vec::new();
    while let Some(r) = rows.next()? {
        let row: Vec<serde_json::Value> =
            (0..columns).map(|i| r.get_ref(i).map(json_of)).collect::<rusqlite::Result<_>>()?;
        all.push(serde_json::Value::Array(row));
    }
    Ok(digest(&serde_json::to_vec(&all).unwrap_or_default()))
}

/// The team as stored: its people and its policy (identity, admin roles, windows, freezes...).
pub(super) fn team_digest(conn: &Connection) -> rusqlite::Result<String> {
    let people = rows_digest(conn, "SELECT name, roles, login FROM team ORDER BY name", None)?;
    let policy = rows_digest(
        conn,
        "SELECT identity, admin_roles, plan_for_others, windows, freezes, schedule FROM team_policy WHERE id = 1",
        None,
    )?;
    Ok(digest(format!("{people}{policy}").as_bytes()))
}

/// The emergency freezes as stored, ended ones too.
pub(super) fn freezes_digest(conn: &Connection) -> rusqlite::Result<String> {
    rows_digest(
        conn,
        "SELECT name, environments, from_ms, until_ms, reason, declared_by, declared_ms, ended_ms, ended_by
         FROM emergency_freezes ORDER BY id",
        None,
    )
}

/// The plan facts of deployment `id` as stored (`None`: no such deployment).
pub(super) fn plan_facts(conn: &Connection, id: i64) -> rusqlite::Result<Option<PlanFacts>> {
    const COLUMNS: [&str; 12] = [
        "release",
        "environment",
        "model",
        "technique",
        "steps",
        "requested_by",
        "planned_by",
        "planned_os_user",
        "recovery",
        "windows",
        "model_hash",
        "supervised_run",
    ];
    let deployment = conn
        .prepare_cached(
            "SELECT r.name || '@' || r.version, d.environment, d.model, d.technique, d.steps, d.requested_by,
                    d.planned_by, d.planned_os_user, d.recovery, d.windows, d.model_hash, d.supervised_run
             FROM deployments d JOIN releases r ON r.id = d.release_id WHERE d.id = ?1",
        )?
        .query_row([id], |r| {
            COLUMNS
                .iter()
                .enumerate()
                .map(|(i, name)| Ok(((*name).to_owned(), json_of(r.get_ref(i)?))))
                .collect::<rusqlite::Result<BTreeMap<_, _>>>()
        })
        .optional()?;
    let Some(deployment) = deployment else { return Ok(None) };
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, target_count, failure_budget, gate FROM phases WHERE deployment_id = ?1 ORDER BY idx",
    )?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, Option<String>>(4)?))
        })?
        .collect::<rusqlite::Result<Vec<(i64, String, i64, i64, Option<String>)>>>()?;
    let mut phases = Vec::with_capacity(rows.len());
    for (phase_id, name, target_count, failure_budget, gate) in rows {
        let targets = rows_digest(conn, "SELECT name FROM targets WHERE phase_id = ?1 ORDER BY id", Some(phase_id))?;
        phases.push(PhaseFacts { name, target_count, failure_budget, gate, targets });
    }
    Ok(Some(PlanFacts { deployment, phases }))
}

/// The seal a record of `decision` about `deployment` carries (JSON), read in the transaction
/// that made the change; `None` for a record that changes no sealed fact.
pub(super) fn seal_for(conn: &Connection, decision: &str, deployment: i64) -> rusqlite::Result<Option<String>> {
    let seal = if PLAN_DECISIONS.contains(&decision) {
        plan_facts(conn, deployment)?.map(|facts| serde_json::json!({ "plan": facts }))
    } else if decision == TEAM_DECISION {
        Some(serde_json::json!({ "team": team_digest(conn)? }))
    } else if FREEZE_DECISIONS.contains(&decision) {
        Some(serde_json::json!({ "freezes": freezes_digest(conn)? }))
    } else if TOKEN_DECISIONS.contains(&decision) {
        Some(serde_json::json!({ "tokens": super::tokens::digest(conn)? }))
    } else {
        None
    };
    Ok(seal.map(|s| s.to_string()))
}

/// Appends the seal of a log upgraded from before seals: its team, its freezes and a digest of
/// each deployment's plan facts.
pub(super) fn seal_upgrade(conn: &Connection) -> rusqlite::Result<()> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM deployments ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut plans = serde_json::Map::new();
    for id in ids {
        if let Some(facts) = plan_facts(conn, id)? {
            plans.insert(id.to_string(), facts.digest().into());
        }
    }
    let has_team: bool = conn.query_row("SELECT count(*) FROM team_policy", [], |r| r.get::<_, i64>(0))? > 0;
    let seal = serde_json::json!({
        "plans": plans,
        "team": if has_team { Some(team_digest(conn)?) } else { None },
        "freezes": freezes_digest(conn)?,
    });
    let state = serde_json::json!({ "upgrade": "the facts the log held before the audit trail sealed them" });
    let now = crate::clock::system().now().timestamp_millis();
    super::gates::audit::append_sealed(
        conn,
        &super::gates::audit::NewRecord {
            deployment_id: 0,
            phase_id: 0,
            decision: SEAL,
            subject: None,
            person: "shipdeck",
            role: None,
            os_user: "",
            comment: None,
            reason: None,
            policy_state: &state.to_string(),
            decided_ms: now,
            outcome: None,
        },
        Some(&seal.to_string()),
    )?;
    Ok(())
}

/// A sealed record: its number and its seal.
type Sealed = (i64, serde_json::Value);

/// The newest record whose seal has `key`, of `deployment` when given.
fn newest(conn: &Connection, key: &str, deployment: Option<i64>) -> rusqlite::Result<Option<Sealed>> {
    let path = format!("$.{key}");
    let row: Option<(i64, String)> = match deployment {
        Some(d) => conn
            .prepare_cached(
                "SELECT id, seal FROM gate_decisions WHERE deployment_id = ?1 AND seal IS NOT NULL
                 AND json_type(seal, ?2) IS NOT NULL ORDER BY id DESC LIMIT 1",
            )?
            .query_row(rusqlite::params![d, path], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
        None => conn
            .prepare_cached(
                "SELECT id, seal FROM gate_decisions WHERE seal IS NOT NULL AND json_type(seal, ?1) IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([path], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
    };
    Ok(row.map(|(id, s)| (id, serde_json::from_str(&s).unwrap_or(serde_json::Value::Null))))
}

/// Whether the newest seal of `key` (a digest) still holds `current`. `fact` names it ("the
/// emergency freezes") and `exists` says whether the log holds it at all: one that no seal
/// covers was stored outside shipdeck.
fn digest_holds(
    conn: &Connection,
    key: &str,
    current: &str,
    (fact, exists): (&str, bool),
) -> rusqlite::Result<Option<AuditProblem>> {
    Ok(match newest(conn, key, None)? {
        Some((id, seal)) if seal[key].is_string() => (seal[key].as_str() != Some(current))
            .then(|| AuditProblem::FactChanged { id, what: format!("{fact} changed") }),
        _ => exists.then(|| AuditProblem::Unsealed { what: fact.to_owned() }),
    })
}

/// The first stored fact that no longer matches its newest seal, once the chain itself holds.
pub(super) fn check(conn: &Connection) -> rusqlite::Result<Option<AuditProblem>> {
    let changed = |id: i64, what: String| Some(AuditProblem::FactChanged { id, what });
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let team = (
        "the stored team (people, roles, identity, windows or freezes)",
        count("SELECT count(*) FROM team_policy")? > 0,
    );
    if let Some(p) = digest_holds(conn, "team", &team_digest(conn)?, team)? {
        return Ok(Some(p));
    }
    let freezes = ("the emergency freezes", count("SELECT count(*) FROM emergency_freezes")? > 0);
    if let Some(p) = digest_holds(conn, "freezes", &freezes_digest(conn)?, freezes)? {
        return Ok(Some(p));
    }
    let tokens = ("the API tokens", count("SELECT count(*) FROM api_tokens")? > 0);
    if let Some(p) = digest_holds(conn, "tokens", &super::tokens::digest(conn)?, tokens)? {
        return Ok(Some(p));
    }
    let upgrade = newest(conn, "plans", None)?;
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM deployments ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        let Some(facts) = plan_facts(conn, id)? else { continue };
        let key = crate::domain::DeploymentKey(id);
        if let Some((record, seal)) = newest(conn, "plan", Some(id))? {
            let sealed: Option<PlanFacts> = serde_json::from_value(seal["plan"].clone()).ok();
            let Some(sealed) = sealed else {
                return Ok(changed(record, format!("the plan facts of {key} in the record do not parse")));
            };
            let what = sealed.changes(&facts);
            if !what.is_empty() {
                return Ok(changed(record, format!("{key}: {}", what.join(", "))));
            }
            continue;
        }
        match upgrade.as_ref().and_then(|(record, seal)| Some((*record, seal["plans"].get(id.to_string())?.clone()))) {
            Some((record, digest)) => {
                if digest.as_str() != Some(facts.digest().as_str()) {
                    return Ok(changed(
                        record,
                        format!("{key}: its plan (a phase, a gate policy or the targets) was changed"),
                    ));
                }
            }
            None => return Ok(Some(AuditProblem::Unsealed { what: format!("{key}'s plan") })),
        }
    }
    Ok(None)
}
