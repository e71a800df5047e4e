//! The audit trail of decisions: `gate_decisions` rows, hash-chained.
//!
//! Each record's hash is SHA-256 over a canonical JSON serialization of its fields in a fixed
//! order, the previous record's hash included; `audit_head` holds the count and the newest
//! hash. Changing a record breaks its hash, removing one leaves a gap in the numbers or a short
//! count, inserting one breaks the link to the record before. Anyone able to write the file can
//! still rewrite the whole chain: publish the head hash (`audit list --json`) elsewhere to
//! anchor it, or let the server sign the records (`serve --signing-key`,
//! [`crate::domain::signing`]): a connection given the key signs each record's hash in the
//! statement that inserts it, and `audit verify --key` checks every signature.

use super::super::{Store, StoreError};
use crate::clock::from_ms;
use crate::domain::DeploymentKey;
use crate::domain::gate::view::AuditRecord;
use crate::domain::signing::{PublicKey, SigningKey};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The `outcome` of a decision that was tried and refused.
pub(in crate::store) const REFUSED: &str = "refused";

/// The decisions whose records seal a deployment's plan facts ([`super::super::seal`]).
pub(in crate::store) const PLAN_DECISIONS: [&str; 2] = [super::super::planning::PLAN, super::super::planning::PLAN_FOR];
/// The decision whose records seal the stored team.
pub(in crate::store) const TEAM_DECISION: &str = super::super::team::TEAM_SYNC;
/// The decisions whose records seal the emergency freezes.
pub(in crate::store) const FREEZE_DECISIONS: [&str; 2] =
    [super::super::schedule::FREEZE_ADD, super::super::schedule::FREEZE_END];
/// The decisions whose records seal the API tokens.
pub(in crate::store) const TOKEN_DECISIONS: [&str; 2] =
    [super::super::tokens::TOKEN_ISSUE, super::super::tokens::TOKEN_REVOKE];
/// The record an upgrade appends to seal what a log held before seals.
pub(in crate::store) const SEAL: &str = "seal";

/// The previous hash of the first record.
pub(super) const GENESIS: &str = crate::domain::audit::GENESIS;

/// A decision about to be appended.
pub(in crate::store) struct NewRecord<'a> {
    /// 0 for records about no deployment (team syncs).
    pub deployment_id: i64,
    pub phase_id: i64,
    /// A decision (`approve`, ...), `team_sync`, `check` (a checklist tick) or `flag` (a
    /// conformance flag).
    pub decision: &'a str,
    /// The checklist item or flag a `check` or `flag` record is about.
    pub subject: Option<&'a str>,
    pub person: &'a str,
    pub role: Option<&'a str>,
    pub os_user: &'a str,
    pub comment: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub policy_state: &'a str,
    pub decided_ms: i64,
    /// `None`: recorded; `Some("refused")`: tried and refused (never counted).
    pub outcome: Option<&'a str>,
}

/// The hashed fields, in their canonical order. Never reorder or rename: old hashes would break.
#[derive(Serialize)]
pub(super) struct Canonical<'a> {
    id: i64,
    prev_hash: &'a str,
    deployment_id: i64,
    phase_id: i64,
    decision: &'a str,
    person: &'a str,
    role: Option<&'a str>,
    os_user: Option<&'a str>,
    comment: Option<&'a str>,
    reason: Option<&'a str>,
    policy_state: Option<&'a str>,
    decided_ms: i64,
    /// Absent from records that were recorded (and from every record before it existed), so
    /// old hashes still hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    /// Added with checklists and flags; absent from other records, so their hashes hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    /// The stored facts the record's change left (see [`super::super::seal`]); absent from
    /// records that change none, and from every record before seals.
    #[serde(skip_serializing_if = "Option::is_none")]
    seal: Option<&'a str>,
}

pub(super) fn hash(c: &Canonical<'_>) -> String {
    let bytes = serde_json::to_vec(c).unwrap_or_default();
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The SQL function that signs a record's hash on this connection (NULL without a key).
const SIGN: &str = "shipdeck_sign";

/// Makes the records appended through `conn` signed with `key` from now on (unsigned: `None`).
/// The key lives in the connection's signing function, so every path that appends a record,
/// however deep, signs it in the same statement, and none can forget to.
pub(in crate::store) fn sign_with(conn: &Connection, key: Option<Arc<SigningKey>>) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        SIGN,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let hash: String = ctx.get(0)?;
            Ok(key.as_ref().map(|k| k.sign(&hash)))
        },
    )?;
    // Statements cached before hold the function they were prepared with.
    conn.flush_prepared_statement_cache();
    Ok(())
}

/// Appends a record after the current head; returns its number. A recorded change of a sealed
/// fact (a plan, a team sync, a freeze) carries its seal, read in the same transaction.
pub(in crate::store) fn append(conn: &Connection, r: &NewRecord<'_>) -> rusqlite::Result<i64> {
    let seal = match r.outcome {
        None => super::super::seal::seal_for(conn, r.decision, r.deployment_id)?,
        Some(_) => None,
    };
    append_sealed(conn, r, seal.as_deref())
}

/// [`append`] with the seal given.
pub(in crate::store) fn append_sealed(
    conn: &Connection,
    r: &NewRecord<'_>,
    seal: Option<&str>,
) -> rusqlite::Result<i64> {
    let head: Option<(i64, String)> = conn
        .query_row("SELECT count, hash FROM audit_head WHERE id = 1", [], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (count, prev) = head.unwrap_or((0, GENESIS.to_owned()));
    let id: i64 = conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM gate_decisions", [], |row| row.get(0))?;
    let c = Canonical {
        id,
        prev_hash: &prev,
        deployment_id: r.deployment_id,
        phase_id: r.phase_id,
        decision: r.decision,
        person: r.person,
        role: r.role,
        os_user: Some(r.os_user),
        comment: r.comment,
        reason: r.reason,
        policy_state: Some(r.policy_state),
        decided_ms: r.decided_ms,
        outcome: r.outcome,
        subject: r.subject,
        seal,
    };
    let h = hash(&c);
    conn.prepare_cached(
        "INSERT INTO gate_decisions (id, deployment_id, phase_id, decision, person, role, os_user, comment, reason,
                                     policy_state, decided_ms, prev_hash, hash, outcome, subject, seal, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, shipdeck_sign(?13))",
    )?
    .execute(params![
        id,
        (r.deployment_id != 0).then_some(r.deployment_id),
        (r.phase_id != 0).then_some(r.phase_id),
        c.decision,
        r.person,
        r.role,
        r.os_user,
        r.comment,
        r.reason,
        r.policy_state,
        r.decided_ms,
        prev,
        h,
        r.outcome,
        r.subject,
        seal
    ])?;
    conn.prepare_cached(
        "INSERT INTO audit_head (id, count, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET count = excluded.count, hash = excluded.hash",
    )?
    .execute(params![count + 1, h])?;
    Ok(id)
}

/// The first problem `audit verify` finds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditProblem {
    #[error("audit record {id} was changed: its content no longer matches its hash")]
    Changed { id: i64 },
    #[error("audit record {id} was removed: record {next} follows record {prev}")]
    Removed { id: i64, prev: i64, next: i64 },
    #[error("audit record {id} was inserted or the record before it was changed: it does not follow record {prev}")]
    Inserted { id: i64, prev: i64 },
    #[error(
        "audit records after record {last} were removed: the trail should hold {expected} records, it holds {found}"
    )]
    RemovedAtEnd { last: i64, expected: i64, found: i64 },
    #[error("audit record {id} was inserted after the newest recorded one (the trail should hold {expected} records)")]
    InsertedAtEnd { id: i64, expected: i64 },
    #[error("the audit trail's head does not match its newest record {last}")]
    Head { last: i64 },
    #[error("the log no longer holds what audit record {id} sealed: {what}")]
    FactChanged { id: i64, what: String },
    #[error("{what} is in no audit record: it was stored outside shipdeck")]
    Unsealed { what: String },
    #[error("audit record {id} is not signed by the server's key")]
    NotSigned { id: i64 },
    #[error("no audit record is signed by the server's key (of {count} record(s))")]
    NoneSigned { count: i64 },
}

/// What `audit verify` found in an intact trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditVerified {
    /// Records in the trail.
    pub count: i64,
    /// With a key: the records before the first signed one (written before the server signed).
    pub unsigned_before: i64,
}

pub(super) const RECORD_SELECT: &str = "
    SELECT g.id, g.deployment_id, g.phase_id, g.decision, g.person, g.role, g.os_user, g.comment, g.reason,
           g.policy_state, g.decided_ms, g.prev_hash, g.hash, coalesce(p.name, ''), coalesce(g.deployment_id, p.deployment_id, 0),
           g.outcome, g.subject, g.seal
    FROM gate_decisions g LEFT JOIN phases p ON p.id = g.phase_id";

pub(super) type RawRow = (
    i64,
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get::<_, Option<i64>>(1)?.unwrap_or(0),
        r.get::<_, Option<i64>>(2)?.unwrap_or(0),
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get::<_, Option<String>>(11)?.unwrap_or_default(),
        r.get::<_, Option<String>>(12)?.unwrap_or_default(),
        r.get(13)?,
        r.get(14)?,
        r.get(15)?,
        r.get(16)?,
        r.get(17)?,
    ))
}

pub(super) fn canonical(row: &RawRow) -> Canonical<'_> {
    Canonical {
        id: row.0,
        prev_hash: &row.11,
        deployment_id: row.1,
        phase_id: row.2,
        decision: &row.3,
        person: &row.4,
        role: row.5.as_deref(),
        os_user: row.6.as_deref(),
        comment: row.7.as_deref(),
        reason: row.8.as_deref(),
        policy_state: row.9.as_deref(),
        decided_ms: row.10,
        outcome: row.15.as_deref(),
        subject: row.16.as_deref(),
        seal: row.17.as_deref(),
    }
}

fn record(row: RawRow) -> AuditRecord {
    AuditRecord {
        id: row.0,
        deployment: DeploymentKey(row.14),
        phase: row.13,
        decision: row.3,
        outcome: row.15,
        subject: row.16,
        person: row.4,
        role: row.5,
        os_user: row.6,
        comment: row.7,
        reason: row.8,
        policy_state: row.9.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or(serde_json::Value::Null),
        decided_at: from_ms(row.10),
        prev_hash: row.11,
        hash: row.12,
    }
}

impl Store {
    /// The chain's record count and newest hash (`0` and the genesis hash when empty).
    pub fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let head: Option<(i64, String)> = self
            .conn
            .query_row("SELECT count, hash FROM audit_head WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(head.unwrap_or((0, GENESIS.to_owned())))
    }

    /// The number of the record with this hash, if the trail holds it.
    pub fn audit_find(&self, hash: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT id FROM gate_decisions WHERE hash = ?1", [hash], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Every audit record, oldest first (or only those of one deployment).
    pub fn audit_records(&self, deployment: Option<DeploymentKey>) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("{RECORD_SELECT} WHERE ?1 IS NULL OR g.deployment_id = ?1 ORDER BY g.id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([deployment.map(|k| k.0)], raw).map_err(|e| self.sql(e))?;
        let rows = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))?;
        Ok(rows.into_iter().map(record).collect())
    }

    /// Walks the whole chain: `Ok(count)` when intact, else the first problem.
    pub fn audit_verify(&self) -> Result<Result<i64, AuditProblem>, StoreError> {
        Ok(self.audit_verify_signed(None)?.map(|v| v.count))
    }

    /// [`Store::audit_verify`], and with `key`: every record from the first signed one on
    /// carries a valid signature by that key, and at least one does. Records before the first
    /// signed one predate signing (counted); an unsigned record after a signed one was not
    /// written by the server.
    pub fn audit_verify_signed(
        &self,
        key: Option<&PublicKey>,
    ) -> Result<Result<AuditVerified, AuditProblem>, StoreError> {
        self.read_snapshot(|s| {
            let count = match verify_chain(s)? {
                Ok(count) => count,
                Err(problem) => return Ok(Err(problem)),
            };
            let Some(key) = key else { return Ok(Ok(AuditVerified { count, unsigned_before: 0 })) };
            verify_signatures(s, key, count)
        })
    }
}

/// The signatures of a trail whose chain holds: the first record not signed by `key` at or
/// after the first signed one.
fn verify_signatures(
    s: &Store,
    key: &PublicKey,
    count: i64,
) -> Result<Result<AuditVerified, AuditProblem>, StoreError> {
    let mut stmt =
        s.conn.prepare("SELECT id, hash, signature FROM gate_decisions ORDER BY id").map_err(|e| s.sql(e))?;
    let mut rows = stmt.query([]).map_err(|e| s.sql(e))?;
    let mut unsigned_before = None;
    let mut seen = 0;
    while let Some(r) = rows.next().map_err(|e| s.sql(e))? {
        let (id, hash, signature): (i64, String, Option<String>) =
            (r.get(0).map_err(|e| s.sql(e))?, r.get(1).map_err(|e| s.sql(e))?, r.get(2).map_err(|e| s.sql(e))?);
        match (unsigned_before, signature) {
            (None, None) => seen += 1,
            (_, Some(sig)) if key.verifies(&hash, &sig) => unsigned_before = unsigned_before.or(Some(seen)),
            // A record before the first signed one that carries another key's signature (or a
            // bad one) is as much a forgery as one after it.
            _ => return Ok(Err(AuditProblem::NotSigned { id })),
        }
    }
    match unsigned_before {
        Some(unsigned_before) => Ok(Ok(AuditVerified { count, unsigned_before })),
        None => Ok(Err(AuditProblem::NoneSigned { count })),
    }
}

/// The chain, its head and the seals: `Ok(count)` when intact, else the first problem.
fn verify_chain(s: &Store) -> Result<Result<i64, AuditProblem>, StoreError> {
    {
        let sql = format!("{RECORD_SELECT} ORDER BY g.id");
        let mut stmt = s.conn.prepare(&sql).map_err(|e| s.sql(e))?;
        let mut rows = stmt.query([]).map_err(|e| s.sql(e))?;
        let mut prev: Option<(i64, String)> = None;
        let mut count = 0;
        while let Some(r) = rows.next().map_err(|e| s.sql(e))? {
            let row = raw(r).map_err(|e| s.sql(e))?;
            count += 1;
            let (prev_id, prev_hash) = prev.clone().unwrap_or((0, GENESIS.to_owned()));
            if row.0 != prev_id + 1 {
                return Ok(Err(AuditProblem::Removed { id: prev_id + 1, prev: prev_id, next: row.0 }));
            }
            if row.11 != prev_hash {
                return Ok(Err(AuditProblem::Inserted { id: row.0, prev: prev_id }));
            }
            if hash(&canonical(&row)) != row.12 {
                return Ok(Err(AuditProblem::Changed { id: row.0 }));
            }
            prev = Some((row.0, row.12));
        }
        let head: Option<(i64, String)> = s
            .conn
            .query_row("SELECT count, hash FROM audit_head WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(|e| s.sql(e))?;
        let (expected, head_hash) = head.unwrap_or((0, GENESIS.to_owned()));
        let (last, last_hash) = prev.unwrap_or((0, GENESIS.to_owned()));
        if count < expected {
            return Ok(Err(AuditProblem::RemovedAtEnd { last, expected, found: count }));
        }
        if count > expected {
            return Ok(Err(AuditProblem::InsertedAtEnd { id: expected + 1, expected }));
        }
        if head_hash != last_hash {
            return Ok(Err(AuditProblem::Head { last }));
        }
        if let Some(problem) = super::super::seal::check(&s.conn).map_err(|e| s.sql(e))? {
            return Ok(Err(problem));
        }
        Ok(Ok(count))
    }
}
