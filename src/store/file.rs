//! Telling what is wrong with a file given as the log, in one sentence.
//!
//! SQLite's own words ("file is not a database", "unable to open database file") do not say
//! what to do, and a zero-byte or truncated file would otherwise open as an empty log: a read
//! command must never make a broken log look like one with no deployments.

use super::StoreError;
use std::path::Path;

fn unusable(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Unusable { path: path.to_path_buf(), reason: reason.into() }
}

/// Checks an existing file before it is opened as the log, from its metadata only.
/// `must_hold_a_log`: a read command, for which an empty file is an error, not a log to create.
pub(super) fn check(path: &Path, must_hold_a_log: bool) -> Result<(), StoreError> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
    if meta.is_dir() {
        return Err(unusable(path, "is a directory, not a log file (give the file inside it, e.g. shipdeck.db)"));
    }
    if meta.len() == 0 {
        if must_hold_a_log {
            return Err(unusable(
                path,
                "is an empty file (0 bytes), not a log: a truncated copy? (`shipdeck plan` creates a new log at a path where no file exists)",
            ));
        }
        return Ok(());
    }
    Ok(())
}

/// Checks that the file holds every page SQLite's header promises (a truncated copy otherwise
/// reads as a log with missing rows). Pages still in a `-wal` file are not in the main file
/// yet, so the check applies when there is none.
///
/// Only SQLite reads the file here: opening and closing it by hand in a process that has it
/// open would drop that process's SQLite locks (POSIX lock semantics).
pub(super) fn check_length(conn: &rusqlite::Connection, path: &Path) -> Result<(), StoreError> {
    // The order matters while other processes write: the page count (which counts pages still
    // in a `-wal` file) first, then whether a `-wal` file exists, then the file's length. Pages
    // counted from a `-wal` file are either still there (skipped) or already checkpointed into
    // the main file (counted in its length, read after): a busy log never looks truncated.
    let pragma = |name: &str| conn.pragma_query_value(None, name, |r| r.get::<_, i64>(0));
    let sql = |source| explain(path, StoreError::Open { path: path.to_path_buf(), source });
    let pages = u64::try_from(pragma("page_count").map_err(sql)?).unwrap_or(0);
    let page_size = u64::try_from(pragma("page_size").map_err(sql)?).unwrap_or(0);
    if std::fs::metadata(sibling(path, "-wal")).is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    let Ok(len) = std::fs::metadata(path).map(|m| m.len()) else { return Ok(()) };
    if len < pages * page_size {
        return Err(unusable(
            path,
            format!(
                "is truncated ({len} bytes where its header promises {}): restore it from a backup",
                pages * page_size
            ),
        ));
    }
    Ok(())
}

/// Rewords SQLite's failures that mean "this file cannot be the log" into one sentence.
pub(super) fn explain(path: &Path, err: StoreError) -> StoreError {
    use rusqlite::ErrorCode;
    let (StoreError::Open { source, .. } | StoreError::Sql { source, .. }) = &err else { return err };
    let Some(code) = source.sqlite_error_code() else { return err };
    match code {
        ErrorCode::NotADatabase => {
            unusable(path, "is not a shipdeck log (not an SQLite database): is it the right file?")
        }
        ErrorCode::DatabaseCorrupt => {
            unusable(path, "is damaged (truncated or corrupted: SQLite finds it malformed): restore it from a backup")
        }
        ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied if !writable_folder(path) => {
            StoreError::NotWritable { path: path.to_path_buf(), folder: true }
        }
        ErrorCode::ReadOnly | ErrorCode::PermissionDenied => {
            StoreError::NotWritable { path: path.to_path_buf(), folder: false }
        }
        _ => err,
    }
}

/// Whether new files (the log's `-wal` and `-shm`) can be created next to the log.
pub(super) fn writable_folder(path: &Path) -> bool {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    tempfile::tempfile_in(dir).is_ok()
}

/// `path` with `suffix` appended to its file name (the `-wal` and `-shm` files).
pub(super) fn sibling(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// An SQLite URI that opens `path` as immutable (no locks, no `-shm`), or `None` when the path
/// is not UTF-8.
pub(super) fn immutable_uri(path: &Path) -> Option<String> {
    use std::fmt::Write as _;
    let mut uri = String::from("file:");
    for b in path.to_str()?.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            let _ = write!(uri, "%{b:02X}");
        }
    }
    uri.push_str("?immutable=1");
    Some(uri)
}
