//! The edges of the log, the export formats and the command line (issue 21, section 4 and
//! 2.8): someone else's database, a damaged or read-only log, keys not spelled `DEP-<n>`,
//! control characters in CSV and iCalendar, the help texts.

use crate::support;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use support::Env;

/// An SQLite database of another program, in rollback-journal mode (SQLite's default).
fn foreign_database(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("creates");
    conn.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');",
    )
    .expect("writes");
}

/// Whether the file's header says WAL (bytes 18 and 19 are 2; 1 is the rollback journal).
fn is_wal(bytes: &[u8]) -> bool {
    bytes[18] == 2 && bytes[19] == 2
}

fn application_id(path: &Path) -> i32 {
    let conn = rusqlite::Connection::open(path).expect("opens");
    conn.pragma_query_value(None, "application_id", |r| r.get(0)).expect("reads")
}

/// Starts `shipdeck serve` and returns what it says first and how it ended: a receiver that
/// starts says where it listens (and is stopped here), one that refuses exits.
fn serve_first_words(env: &Env) -> (String, Option<i32>) {
    let mut child = support::bin()
        .arg("--db")
        .arg(&env.db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut first = String::new();
    std::io::BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut first).expect("reads");
    if first.contains("shipdeck receiver on http://") {
        let _ = child.kill();
        let _ = child.wait();
        return (first, None);
    }
    (first, child.wait().expect("waits").code())
}

#[test]
fn a_foreign_sqlite_database_is_refused_and_left_unchanged() {
    let env = Env::new();
    foreign_database(&env.db);
    let before = std::fs::read(&env.db).expect("reads");
    let plan = ["plan", "--release", "a@1", "--env", "staging", "--model", "big-bang", "--targets", "h1"];
    for args in [&["list"][..], &plan, &["status", "DEP-1"], &["approve", "DEP-1", "all"], &["ingest", "-"]] {
        let run = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("is not a shipdeck log but another program's SQLite database"), "{}", run.stderr);
        assert!(run.stderr.contains("\"notes\""), "names what it holds: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    let (said, code) = serve_first_words(&env);
    assert_eq!(code, Some(2), "the receiver does not start on it: {said}");
    let after = std::fs::read(&env.db).expect("reads");
    assert!(after == before, "the database is byte for byte the same");
    assert!(!is_wal(&after) && !support::exists(&env.path("log.db-wal")), "not switched to WAL");
    // A database marked by another program (its application id) is refused too.
    let marked = Env::new();
    rusqlite::Connection::open(&marked.db)
        .expect("creates")
        .execute_batch("PRAGMA application_id = 42;")
        .expect("marks");
    let run = marked.run(&["list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("its application id is 0x0000002a"), "{}", run.stderr);
}

#[test]
fn a_log_from_a_newer_shipdeck_in_rollback_journal_mode_is_refused_before_it_is_switched_to_wal() {
    let env = Env::new();
    env.plan("big-bang", 1);
    {
        let conn = rusqlite::Connection::open(&env.db).expect("opens");
        conn.pragma_update(None, "journal_mode", "DELETE").expect("rollback journal");
        conn.pragma_update(None, "user_version", 999).expect("a newer schema");
    }
    let before = std::fs::read(&env.db).expect("reads");
    assert!(!is_wal(&before));
    for args in [&["list"][..], &["approve", "DEP-1", "all"]] {
        let run = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], args);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("written by a newer shipdeck (schema version 999"), "{}", run.stderr);
    }
    assert!(std::fs::read(&env.db).expect("reads") == before, "left as it was, journal mode included");
}

#[test]
fn a_log_written_before_the_mark_is_recognised_upgraded_and_marked() {
    let env = Env::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1.db");
    std::fs::copy(fixture, &env.db).expect("copies the version-1 log");
    assert_eq!(application_id(&env.db), 0, "the first schema had no mark");
    assert!(env.run(&["list"]).ok().contains("DEP-1"));
    assert_eq!(application_id(&env.db), 0x5348_5044, "marked in the upgrade's transaction");
    // A current log whose mark was lost (or made before it existed) opens and gets it back.
    let current = Env::new();
    current.plan("big-bang", 1);
    assert_eq!(application_id(&current.db), 0x5348_5044, "a new log is marked");
    rusqlite::Connection::open(&current.db)
        .expect("opens")
        .execute_batch("PRAGMA application_id = 0;")
        .expect("unmarks");
    assert!(current.run(&["list"]).ok().contains("DEP-1"));
    assert_eq!(application_id(&current.db), 0x5348_5044);
}

#[test]
fn serve_refuses_a_damaged_log_at_start_naming_the_problem() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let line = support::event("e1", &key, "web-01", "install", "started");
    env.run_with_stdin(&["ingest", "-"], &format!("{line}\n")).ok();
    // Break the header of the events table's root page, as a bad disk or a careless copy would.
    let (root, page_size): (u64, u64) = {
        let conn = rusqlite::Connection::open(&env.db).expect("opens");
        conn.pragma_update(None, "journal_mode", "DELETE").expect("checkpoints into the file");
        let root = conn
            .query_row("SELECT rootpage FROM sqlite_schema WHERE name = 'events'", [], |r| r.get(0))
            .expect("events");
        (root, conn.pragma_query_value(None, "page_size", |r| r.get(0)).expect("page size"))
    };
    let mut bytes = std::fs::read(&env.db).expect("reads");
    bytes[usize::try_from((root - 1) * page_size).expect("fits")] = 0xff;
    std::fs::write(&env.db, &bytes).expect("writes");
    let (said, code) = serve_first_words(&env);
    assert_eq!(code, Some(2), "it must not start and answer health \"ok\": {said}");
    assert!(said.contains("is damaged") && said.contains("restore it from a backup"), "{said}");
    assert!(said.contains(&env.db.display().to_string()), "names the file: {said}");
    // A command that meets the damage later says it the same way, not in SQLite's words.
    let events = env.run(&["events", &key]);
    assert_eq!(events.code, 2, "{}", events.stderr);
    assert!(events.stderr.contains("is damaged") && !events.stderr.contains("Error code"), "{}", events.stderr);
    assert_eq!(events.stderr.lines().count(), 1, "{}", events.stderr);
}

/// Runs the binary as an unprivileged user when the tests run as root (root may write a
/// read-only file, so it would prove nothing).
fn run_unprivileged(db: &Path, env: &[(&str, &str)], args: &[&str]) -> support::Run {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_shipdeck")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_shipdeck"))
    };
    cmd.env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test").env_remove("SHIPDECK_DB").env_remove("SHIPDECK_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.arg("--db").arg(db).args(args).stdin(Stdio::null()).output().expect("runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    support::Run { code: out.status.code().unwrap_or(-1), stdout: text(&out.stdout), stderr: text(&out.stderr) }
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
#[cfg(unix)]
fn approving_on_a_read_only_log_file_says_so_in_one_sentence_with_exit_2() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let folder = env.path("shared");
    std::fs::create_dir(&folder).expect("mkdir");
    let db = folder.join("log.db");
    std::fs::copy(&env.db, &db).expect("copies the log");
    chmod(env.dir.path(), 0o755);
    chmod(&folder, 0o777);
    chmod(&db, 0o444);
    let before = std::fs::read(&db).expect("reads");
    let run = run_unprivileged(&db, &[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "all"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "shipdeck: the deployment log {} cannot be written: the file is read-only (read commands still work)",
            db.display()
        )
    );
    assert!(!run.stderr.contains("Error code"), "not SQLite's words: {}", run.stderr);
    let list = run_unprivileged(&db, &[], &["list"]);
    assert!(list.ok().contains(&key), "reading still works");
    assert!(std::fs::read(&db).expect("reads") == before);
}

#[test]
#[cfg(unix)]
fn conformance_reads_a_log_in_a_read_only_folder_as_the_other_read_commands_do() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    // web-09 is not a target of the plan: a conformance flag.
    let line = support::event("x1", &key, "web-09", "install", "started");
    env.run_with_stdin(&["ingest", "-"], &format!("{line}\n"));
    let folder = env.path("readonly");
    std::fs::create_dir(&folder).expect("mkdir");
    let db = folder.join("log.db");
    {
        // One file, no `-wal` beside it, as a backup copy would be.
        let conn = rusqlite::Connection::open(&env.db).expect("opens");
        conn.execute("VACUUM INTO ?1", [db.to_str().expect("utf-8")]).expect("copies");
    }
    chmod(env.dir.path(), 0o755);
    chmod(&folder, 0o555);
    let run = run_unprivileged(&db, &[], &["conformance"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(&key) && run.stdout.contains("web-09"), "{}", run.stdout);
    chmod(&folder, 0o755);
}

#[test]
fn keys_not_spelled_dep_n_are_rejected_line_by_line_naming_the_value() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    assert_eq!(key, "DEP-1");
    let lines = [
        support::event("a", "dep-1", "web-01", "install", "started"),
        support::event("b", "1", "web-01", "install", "started"),
        support::event("c", "DEP-01", "web-01", "install", "started"),
        support::event("d", "DEP-1", "web-01", "install", "started"),
    ];
    let out = env.run_with_stdin(&["ingest", "-"], &(lines.join("\n") + "\n"));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc = out.json();
    let rejected: Vec<(u64, String)> = doc["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| (r["line"].as_u64().expect("line"), r["error"].as_str().expect("error").to_owned()))
        .collect();
    let expected =
        |v: &str| format!("field \"deployment\": \"{v}\" is not a deployment key (expected DEP-<number>, e.g. DEP-1)");
    assert_eq!(rejected, [(1, expected("dep-1")), (2, expected("1")), (3, expected("DEP-01"))]);
    assert_eq!(env.event_ids("DEP-1"), ["d"], "only the line with the key as the contract spells it");
    // The receiver says the same, and the command line takes the key in the same one spelling.
    let server = env.serve();
    let reply = server.post("/v1/events", lines[0].as_bytes());
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(reply.body.contains("\\\"dep-1\\\" is not a deployment key"), "{}", reply.body);
    assert_eq!(server.get("/v1/deployments/dep-1").status, 400);
    let status = env.run(&["status", "dep-1"]);
    assert_eq!(status.code, 2);
    assert_eq!(status.stderr.trim(), "shipdeck: \"dep-1\" is not a deployment key (expected DEP-<number>, e.g. DEP-1)");
}

#[test]
fn the_expected_head_must_be_a_records_hash_not_the_genesis_hash() {
    let env = Env::new();
    env.plan("big-bang", 1);
    let genesis = "0".repeat(64);
    let run = env.run(&["audit", "verify", "--expect", &genesis]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("is the genesis hash") && run.stderr.contains("not a record's hash"), "{}", run.stderr);
    let short = env.run(&["audit", "verify", "--expect", "ec14975225be"]);
    assert_eq!(short.code, 2, "{}", short.stdout);
    assert!(short.stderr.contains("\"ec14975225be\" is not a record's hash"), "{}", short.stderr);
    // A real head still passes.
    let head = env.run(&["audit", "head"]).ok().trim().to_owned();
    let (_, hash) = head.split_once(' ').expect("COUNT HASH");
    assert!(env.run(&["audit", "verify", "--expect", hash]).ok().contains("contains the expected head"));
}

#[test]
fn the_help_names_shipdeck_operator_offers_no_config_show_and_an_empty_inbox_says_so() {
    let env = Env::new();
    for args in [&["--help"][..], &["approve", "--help"], &["reject", "--help"], &["check", "--help"]] {
        let help = env.run(args);
        assert!(help.ok().contains("SHIPDECK_OPERATOR"), "{args:?}: {}", help.stdout);
    }
    let config = env.run(&["config", "--help"]);
    assert!(!config.ok().to_lowercase().contains("show"), "there is no `config show`: {}", config.stdout);
    let key = env.plan("big-bang", 1);
    // Once the only gate is approved, nothing waits for anyone.
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "all"]).ok();
    let inbox = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["gate", "inbox"]);
    assert_eq!(inbox.ok().trim(), "nothing waits for you");
}

/// Text that would drive a terminal or break a file: OSC 0 (title) ended by BEL, CR, BS and a
/// bidi override.
const HOSTILE: &str = "pay\u{1b}]0;owned\u{7}\r\u{8}\u{202e}api";

/// Whether `text` holds a character that `domain::text` escapes (a newline or tab of the format
/// itself excepted).
fn has_control(text: &str) -> bool {
    text.chars().any(|c| {
        (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

/// Plans `release` to staging on one host, web-01, as dana; returns its key.
fn plan_release(env: &Env, release: &str) -> String {
    let args = ["plan", "--release", release, "--env", "staging", "--model", "big-bang", "--targets", "web-01"];
    env.run(&args).ok().lines().next().expect("a key").to_owned()
}

#[test]
fn history_csv_escapes_control_and_bidi_characters_and_parses_back() {
    let env = Env::new();
    let key = plan_release(&env, &format!("{HOSTILE}@1"));
    let events = [
        support::event("i", &key, "web-01", "install", "succeeded"),
        support::event("v", &key, "web-01", "verify", "succeeded"),
    ];
    env.run_with_stdin(&["ingest", "-"], &(events.join("\n") + "\n")).ok();
    let csv = env.run(&["history", "--csv"]).ok().to_owned();
    // Each record is one line ending in LF: a CR inside a field would have hidden the fields
    // before it on a terminal.
    assert!(!has_control(&csv) && !csv.contains('\r'), "{csv:?}");
    let path = env.path("history.csv");
    std::fs::write(&path, &csv).expect("writes");
    let script = "import csv, sys\nfor row in csv.DictReader(open(sys.argv[1], newline='')):\n    print(row['key'], row['release'])";
    let out = Command::new("python3").args(["-c", script]).arg(&path).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{key} pay\\e]0;owned\\u{{7}}\\r\\u{{8}}\\u{{202e}}api")
    );
}

#[test]
fn the_ics_calendar_escapes_control_and_bidi_characters_and_parses_back() {
    let env = Env::new();
    let key = plan_release(&env, &format!("{HOSTILE}@1"));
    let name = "fr\u{202e}eze\u{1b}[2J";
    let freeze =
        ["freeze", "add", "--env", "staging", "--until", "2031-01-01T00:00", "--name", name, "--reason", HOSTILE];
    env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &freeze).ok();
    let ics = env.run(&["schedule", "export", "--ics"]).ok().to_owned();
    let server = env.serve();
    let served = server.get("/v1/calendar.ics");
    assert_eq!(served.status, 200, "{}", served.body);
    for (what, text) in [("export", ics.as_str()), ("/v1/calendar.ics", served.body.as_str())] {
        // RFC 5545: lines end in CRLF, and no other control character is allowed.
        assert!(!has_control(text) && !text.replace("\r\n", "").contains('\r'), "{what}: {text:?}");
        let path = env.path("cal.ics");
        std::fs::write(&path, text).expect("writes");
        let script = r"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
for e in cal.walk('VEVENT'):
    print(str(e.get('summary')), '|', str(e.get('description')).replace('\n', ' / '))
";
        let out = Command::new("python3").args(["-c", script]).arg(&path).output().expect("python3 runs");
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        let parsed = String::from_utf8_lossy(&out.stdout).into_owned();
        let has = |line: &str| assert!(parsed.lines().any(|l| l.starts_with(line)), "{what}: {line} not in:\n{parsed}");
        has(r"Emergency freeze fr\u{202e}eze\e[2J (staging) | pay\e]0;owned\u{7}\r\u{8}\u{202e}api");
        has(&format!(r"{key} pay\e]0;owned\u{{7}}\r\u{{8}}\u{{202e}}api@1 → staging | {key} pay\e]0;owned"));
    }
}
