//! Numbered schema migrations, applied in one transaction and recorded in `user_version`, and
//! the mark that makes a file shipdeck's (`application_id`).
//!
//! A file is looked at before anything writes to it ([`inspect`]): only an empty database or a
//! shipdeck log this build can read is ever changed. A log is marked with [`APPLICATION_ID`] in
//! the transaction that migrates it; a log written before the mark existed is recognised by its
//! schema (a `user_version` this build knows and a `deployments` table) and gets the mark on
//! its first read-write open. Anything else that holds data is someone else's database.

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
    include_str!("migrations/0019_audit_signatures.sql"),
];

/// The version whose upgrade appends the audit seal of what the log held.
const SEALED_FROM: i64 = 17;

/// The schema version this build writes.
#[allow(clippy::cast_possible_wrap)]
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The `application_id` of a shipdeck log ("SHPD" in ASCII), shown by `file(1)` and
/// `sqlite3 .dbinfo`.
pub const APPLICATION_ID: i32 = 0x5348_5044;

/// What an existing file holds, looked at before anything writes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No table, no version, no mark: a new log may be made in it.
    Empty,
    /// A shipdeck log at this schema version (marked, or recognised by its schema).
    Log { version: i64 },
}

/// Tells what the database on `conn` is, without writing: a shipdeck log (refused when a newer
/// shipdeck wrote it), an empty database, or someone else's database (refused, naming it).
pub fn inspect(conn: &Connection, path: &Path) -> Result<Found, StoreError> {
    let sql = |source| StoreError::Sql { path: path.to_path_buf(), source };
    let app: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(sql)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type = 'table' DESC, rowid")
        .map_err(sql)?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(sql)?;
    let names = names.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)?;
    let too_new = || StoreError::TooNew { path: path.to_path_buf(), found: version, known: LATEST };
    if app == APPLICATION_ID {
        return if version > LATEST { Err(too_new()) } else { Ok(Found::Log { version }) };
    }
    let foreign = |what: String| StoreError::Foreign { path: path.to_path_buf(), what };
    if app != 0 {
        return Err(foreign(format!("its application id is {app:#010x}, shipdeck's is {APPLICATION_ID:#010x}")));
    }
    if names.is_empty() && version == 0 {
        return Ok(Found::Empty);
    }
    if version > 0 && names.iter().any(|n| n == "deployments") {
        return if version > LATEST { Err(too_new()) } else { Ok(Found::Log { version }) };
    }
    let shown: Vec<String> = names.iter().take(3).map(|n| format!("\"{n}\"")).collect();
    let more =
        if names.len() > shown.len() { format!(" and {} more", names.len() - shown.len()) } else { String::new() };
    Err(foreign(if shown.is_empty() {
        format!("it holds no table but its user_version is {version}")
    } else {
        format!("it holds {}{more} and no shipdeck table", shown.join(", "))
    }))
}

/// Brings a log [`inspect`] accepted to [`LATEST`] and marks it, in one transaction.
pub fn apply(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |source| StoreError::Sql { path: path.to_path_buf(), source };
    let version = |c: &Connection| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
    let marked = |c: &Connection| {
        c.pragma_query_value(None, "application_id", |r| r.get::<_, i32>(0)).map(|id| id == APPLICATION_ID)
    };
    let found = version(conn).map_err(sql)?;
    if found == LATEST && marked(conn).map_err(sql)? {
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
    if !marked(&tx).map_err(sql)? {
        tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(sql)?;
    }
    tx.commit().map_err(sql)
}

/// For a read-only connection: the file must be a shipdeck log already at [`LATEST`]; an older
/// one is reported (a read-only open never migrates), a newer or a foreign one refused as always.
pub fn check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = match inspect(conn, path)? {
        Found::Log { version } => version,
        Found::Empty => 0,
    };
    match found.cmp(&LATEST) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::TooNew { path: path.to_path_buf(), found, known: LATEST }),
        std::cmp::Ordering::Less => Err(StoreError::NeedsMigration { path: path.to_path_buf(), found, needed: LATEST }),
    }
}
