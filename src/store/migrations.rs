//! Numbered schema migrations, applied in one transaction and recorded in `user_version`.

use super::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`. Append only; never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_gates.sql"),
    include_str!("migrations/0003_reviews.sql"),
    include_str!("migrations/0004_team.sql"),
    include_str!("migrations/0005_time_rules.sql"),
    include_str!("migrations/0006_history.sql"),
    include_str!("migrations/0007_history_at_scale.sql"),
    include_str!("migrations/0008_history_search.sql"),
    include_str!("migrations/0009_verification.sql"),
    include_str!("migrations/0010_notifications.sql"),
    include_str!("migrations/0011_schedules.sql"),
    include_str!("migrations/0012_techniques.sql"),
    include_str!("migrations/0013_improvements.sql"),
    include_str!("migrations/0014_notify_delivery.sql"),
    include_str!("migrations/0015_analysis.sql"),
    include_str!("migrations/0016_parallel.sql"),
    include_str!("migrations/0017_audit_seal.sql"),
    include_str!("migrations/0018_tokens.sql"),
];

/// The version whose upgrade appends the audit seal of what the log held.
const SEALED_FROM: i64 = 17;

/// The schema version this build writes.
#[allow(clippy::cast_possible_wrap)]
pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn apply(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |source| StoreError::Sql { path: path.to_path_buf(), source };
    let version = |c: &Connection| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
    let found = version(conn).map_err(sql)?;
    if found == LATEST {
        return Ok(());
    }
    if found > LATEST {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found, known: LATEST });
    }
    // Another process may be migrating the same file: take the write lock, then look again.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let found = version(&tx).map_err(sql)?;
    if found > LATEST {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found, known: LATEST });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(migration).map_err(sql)?;
        tx.pragma_update(None, "user_version", i + 1).map_err(sql)?;
    }
    // A log from before seals holds facts no record covers yet: one record seals them as they
    // stand, so a change made to them afterwards is found like any other.
    if (1..SEALED_FROM).contains(&found) {
        super::seal::seal_upgrade(&tx).map_err(sql)?;
    }
    tx.commit().map_err(sql)
}

/// For a read-only connection: the log must already be at [`LATEST`]; an older one is reported
/// (a read-only open never migrates), a newer one refused as always.
pub fn check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|source| StoreError::Sql { path: path.to_path_buf(), source })?;
    match found.cmp(&LATEST) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::TooNew { path: path.to_path_buf(), found, known: LATEST }),
        std::cmp::Ordering::Less => Err(StoreError::NeedsMigration { path: path.to_path_buf(), found, needed: LATEST }),
    }
}
