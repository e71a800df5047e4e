//! The deployment log: the only code that speaks SQL.
//!
//! One SQLite file is the single source of truth and the bus between processes: the receiver,
//! any number of dashboards and the CLI open it at once. WAL lets readers run beside the one
//! writer; writers take the lock up front (`BEGIN IMMEDIATE`) and wait for it (busy timeout), so
//! "database is locked" never reaches a user. The schema evolves by numbered migrations recorded
//! in `PRAGMA user_version`; a log written by a newer shipdeck is refused, never downgraded.
//! The file is marked as shipdeck's (`PRAGMA application_id`): someone else's SQLite database
//! is refused, and every file is looked at before anything writes to it.

mod analysis;
#[cfg(feature = "bench")]
mod bench;
mod budget;
mod checklists;
mod conformance;
mod dedupe;
mod estimates;
mod file;
mod gates;
mod history;
mod ingest;
mod kpi;
pub mod live;
mod lost;
mod migrations;
mod model_review;
mod operations;
mod outbox;
mod parallel;
mod planning;
mod queries;
mod replay;
mod schedule;
mod seal;
mod team;
#[cfg(test)]
pub(crate) mod testing;
mod tokens;

pub use crate::domain::schedule::TimeRules;
pub use analysis::AnalysisState;
pub use checklists::{TickError, TickOutcome, TickRequest};
pub use estimates::Estimate;
pub use gates::{
    AUTOMATIC_ROLE, AuditProblem, AuditVerified, AutomaticGate, DecisionOutcome, DecisionRequest, GateError,
};
pub use history::{ActionRow, REVIEW_COMPLETE};
pub use ingest::{IngestOutcome, Rejection, Submission};
pub use kpi::KpiScope;
pub use operations::OperationalCounts;
pub use outbox::{Attempt, IN_APP, RetryError};
pub use planning::{PLAN, PLAN_FOR, PlanRequest, Planner};
pub use queries::ListFilter;
pub use schedule::{
    CANCEL, Change, FREEZE_ADD, FREEZE_END, FreezeRequest, LOOKBACK_MS, RESCHEDULE, SCHEDULE_OVERRIDE, ScheduleError,
};
pub use team::{SyncBy, SyncOutcome, TEAM_SYNC, TeamError};
pub use tokens::{PEER_USE, TOKEN_ISSUE, TOKEN_REVOKE, TOKEN_USE, TokenError, TokenRequest};

use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits for another connection's write lock, for [`BUSY_TIMEOUT`] in all: every quarter of a
/// millisecond for the first 100 ms, then every 10 ms. The log's writers hold the lock for a
/// millisecond or two (the delivery worker's claims and results, the CLI's decisions), and
/// SQLite's own handler sleeps up to 100 ms between looks, long after the lock was free: the
/// receiver's writer would sit idle while agents wait.
fn wait_for_lock(tries: i32) -> bool {
    const SHORT_TRIES: u32 = 400;
    let (short, long) = (Duration::from_micros(250), Duration::from_millis(10));
    let tries = u32::try_from(tries).unwrap_or(0);
    let waited = if tries < SHORT_TRIES { short * tries } else { short * SHORT_TRIES + long * (tries - SHORT_TRIES) };
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(if tries < SHORT_TRIES { short } else { long });
    true
}

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no deployment log at {0} (`shipdeck plan` creates it; pass --db or set SHIPDECK_DB to use another file)")]
    Missing(PathBuf),
    #[error("cannot open the deployment log {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "the deployment log {path} was written by a newer shipdeck (schema version {found}, this one knows up to {known}); upgrade shipdeck to use it"
    )]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error(
        "the deployment log {path} is at schema version {found} and this shipdeck needs version {needed}; it was opened read-only, so it was not migrated (open it once without --read-only to migrate it)"
    )]
    NeedsMigration { path: PathBuf, found: i64, needed: i64 },
    /// A file that cannot serve as the log (not SQLite, truncated, a directory...).
    #[error("the deployment log {path} {reason}")]
    Unusable { path: PathBuf, reason: String },
    /// An SQLite database that holds someone else's data: it is left as it is.
    #[error(
        "{path} is not a shipdeck log but another program's SQLite database ({what}); it was left unchanged: pass --db with a shipdeck log, or a path where none exists yet"
    )]
    Foreign { path: PathBuf, what: String },
    /// A log this user may read but not write (a command that writes was asked for).
    #[error("the deployment log {path} cannot be written: {}", if *.folder { "its folder is read-only (read commands such as status, list and events still work)" } else { "the file is read-only (read commands still work)" })]
    NotWritable { path: PathBuf, folder: bool },
    /// `PRAGMA quick_check` found the file damaged.
    #[error("the deployment log {path} is damaged ({problem}): restore it from a backup")]
    Damaged { path: PathBuf, problem: String },
    #[error("the deployment log {path} is damaged: {what} does not parse ({detail}); nothing was decided")]
    Corrupt { path: PathBuf, what: String, detail: String },
    #[error("cannot create the folder {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("unknown deployment \"{0}\"")]
    UnknownDeployment(String),
    /// The plan asked for cannot be made (nothing was written).
    #[error(transparent)]
    Plan(#[from] crate::domain::plan::PlanError),
    #[error("{key} has no action {n} (see `shipdeck review {key}`)")]
    UnknownAction { key: String, n: usize },
    #[error("model \"{model}\" has no improvement action {n} (see `shipdeck models actions`)")]
    UnknownModelAction { model: String, n: usize },
    /// Planning was refused by the team's rules (the refusal is in the audit trail).
    #[error("{0}")]
    PlanRefused(String),
    /// Planning names someone the log's team does not know.
    #[error("{0}")]
    PlanPerson(String),
    #[error("the deployment log {path} failed: {source}")]
    Sql { path: PathBuf, source: rusqlite::Error },
}

/// An open deployment log.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Deployments' immutable plan facts (targets, phases, steps), loaded once per process.
    plans: HashMap<i64, Arc<ingest::PlanFacts>>,
    /// Ids already stored, per deployment written to (see `dedupe`).
    dedupe: dedupe::DedupeIndex,
    /// Targets' derived state between this connection's commits (see `ingest`).
    targets: ingest::TargetCache,
    /// How far an event's `at` may lie in the future or before its deployment was planned.
    clock_skew: chrono::TimeDelta,
    /// The share of a phase's failure budget whose use is told (see `budget`).
    budget_warning: f64,
    /// The zone the notifications this connection words name their times in (the config's).
    zone: chrono_tz::Tz,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the log at `path`, creating it (and its folder) when missing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        file::check(path, false)?;
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
            .map_err(|e| file::explain(path, e))
    }

    /// Opens an existing log; a missing file is an error, not a new empty log.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        file::check(path, true)?;
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(|e| file::explain(path, e))
    }

    /// Opens an existing log for a read command: like [`Store::open_existing`], but a log in a
    /// folder this user cannot write to (where SQLite cannot create its `-wal` and `-shm`
    /// files) is opened read-only instead of refused.
    pub fn open_to_read(path: &Path) -> Result<Self, StoreError> {
        match Self::open_existing(path) {
            Err(StoreError::NotWritable { .. }) if path.is_file() => Self::open_read_only(path),
            other => other,
        }
    }

    /// Opens an existing log read-only at the SQLite level: nothing this connection does can
    /// change the file, and a log that needs a migration is reported, not migrated.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        file::check(path, true)?;
        match Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_ONLY) {
            // In a folder nobody may write to, SQLite cannot create the `-shm` file it reads a
            // WAL log with. With no `-wal` file there is nothing outside the main file, and no
            // one can start writing: it may be read as it is.
            Err(_) if !file::writable_folder(path) && !file::sibling(path, "-wal").exists() => {
                Self::open_immutable(path)
            }
            other => other.map_err(|e| file::explain(path, e)),
        }
    }

    fn open_immutable(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| file::explain(path, StoreError::Open { path: path.to_path_buf(), source });
        let uri = file::immutable_uri(path).ok_or_else(|| StoreError::Unusable {
            path: path.to_path_buf(),
            reason: "cannot be read from a read-only folder: its path is not UTF-8".into(),
        })?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(uri, flags).map_err(open_err)?;
        gates::audit::sign_with(&conn, None).map_err(open_err)?;
        file::check_length(&conn, path)?;
        migrations::check(&conn, path)?;
        Ok(Self::with_connection(conn, path))
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
        let mut conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(open_err)?;
        conn.busy_handler(Some(wait_for_lock)).map_err(open_err)?;
        // Unsigned until a key is set; registered before a migration may append a record.
        gates::audit::sign_with(&conn, None).map_err(open_err)?;
        file::check_length(&conn, path)?;
        if flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY) {
            migrations::check(&conn, path)?;
            return Ok(Self::with_connection(conn, path));
        }
        // Look before writing anything: a file refused here (someone else's database, a log
        // from a newer shipdeck, a damaged one) is left byte for byte as it was.
        migrations::inspect(&conn, path)?;
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StoreError::NotWritable { path: path.to_path_buf(), folder: !file::writable_folder(path) });
        }
        // WAL survives in the file; setting it again is cheap. FULL sync: an acknowledged event
        // survives power loss too, and group commit keeps the cost per event small.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        conn.pragma_update(None, "cache_size", -65_536).map_err(open_err)?;
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(open_err)?;
        migrations::apply(&mut conn, path)?;
        Ok(Self::with_connection(conn, path))
    }

    fn with_connection(conn: Connection, path: &Path) -> Self {
        Self {
            conn,
            path: path.to_path_buf(),
            plans: HashMap::new(),
            dedupe: dedupe::DedupeIndex::default(),
            targets: ingest::TargetCache::default(),
            clock_skew: crate::domain::event::DEFAULT_CLOCK_SKEW,
            budget_warning: budget::DEFAULT_SHARE,
            zone: chrono_tz::UTC,
        }
    }

    /// Signs every audit record appended through this connection from now on with `key` (the
    /// server's, `serve --signing-key`): `audit verify --key` then proves the server wrote them.
    pub fn set_signing_key(
        &mut self,
        key: std::sync::Arc<crate::domain::signing::SigningKey>,
    ) -> Result<(), StoreError> {
        gates::audit::sign_with(&self.conn, Some(key)).map_err(|e| self.sql(e))
    }

    /// Checks the whole file's structure (`PRAGMA quick_check`): for a process that will run for
    /// long on it (the receiver), so damage is told at start instead of at its first commit.
    pub fn quick_check(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA quick_check(3)").map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.sql(e))?;
        let found = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.sql(e))?;
        if found.iter().all(|line| line == "ok") {
            return Ok(());
        }
        Err(StoreError::Damaged { path: self.path.clone(), problem: found.join("; ") })
    }

    /// Sets the zone the notifications written through this connection name their times in
    /// (the config's `timezone`), as every other text people read does.
    pub fn set_zone(&mut self, zone: chrono_tz::Tz) {
        self.zone = zone;
    }

    /// Whether this connection was opened read-only.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false)
    }

    /// Sets how far an event's `at` may lie in the future or before its deployment was planned
    /// (`receiver.clock_skew`); events outside are rejected, naming the line.
    pub fn set_clock_skew(&mut self, skew: chrono::TimeDelta) {
        self.clock_skew = skew;
    }

    /// The file this log lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes whenever another connection commits to the file; cheap to poll.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn.pragma_query_value(None, "data_version", |r| r.get(0)).map_err(|e| self.sql(e))
    }

    /// An SQL failure; one that means the file is damaged (or cannot be written) is said in
    /// one sentence naming the file, as at open, not in SQLite's words.
    fn sql(&self, source: rusqlite::Error) -> StoreError {
        file::explain(&self.path, StoreError::Sql { path: self.path.clone(), source })
    }

    /// The `synchronous` level in force on this connection (`FULL` unless relaxed for a bulk load).
    pub fn synchronous(&self) -> Result<&'static str, StoreError> {
        let level: i64 = self.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).map_err(|e| self.sql(e))?;
        Ok(match level {
            0 => "OFF",
            1 => "NORMAL",
            2 => "FULL",
            _ => "EXTRA",
        })
    }

    /// For the delivery worker's connection: its commits (claims, attempts' results) stop
    /// waiting for the disk, so they hold the write lock for microseconds and the receiver's
    /// commits do not queue behind them. What a power cut may lose is only a claim or a "sent"
    /// mark: the delivery is then sent again with the same idempotency key, which at-least-once
    /// delivery allows. The notifications and deliveries themselves are written by the
    /// happenings' own (fully synced) transactions.
    pub fn relax_durability_for_outbox(&mut self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| self.sql(e))
    }

    /// Trades durability for speed while loading generated data (the demo's history): commits
    /// stop waiting for the disk. Never use it for events an agent is told were stored.
    pub fn relax_durability_for_bulk_load(&mut self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", "OFF").map_err(|e| self.sql(e))
    }
}

/// A stable 64-bit FNV-1a hash of an event id (stable across versions and processes, unlike
/// the standard library's hasher).
#[must_use]
pub fn id_hash(id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

#[cfg(test)]
mod tests;
