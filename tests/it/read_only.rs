//! `--read-only`: the log is opened read-only at the SQLite level, for the dashboard and every
//! command; commands that write refuse, and a log that needs a migration is reported, not
//! migrated.

use crate::support;

use support::Env;
use support::tmux::Tmux;

#[cfg(unix)]
fn make_read_only(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
}

#[test]
#[cfg(unix)]
fn a_read_only_log_file_is_read_by_every_reading_command_and_never_changed() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    make_read_only(&env.db);
    let before = std::fs::read(&env.db).expect("reads");

    let status = env.run(&["--read-only", "status", &key, "--json"]).json();
    assert_eq!(status["key"], key.as_str());
    assert!(env.run(&["list", "--read-only"]).ok().contains(&key), "the flag is global");
    env.run(&["--read-only", "events", &key]).ok();
    env.run(&["--read-only", "gate", "show", &key, "pilot"]).ok();
    env.run(&["--read-only", "audit", "verify"]).ok();
    env.run(&["--read-only", "notify", "list", "--json"]).ok();

    for args in [
        vec!["approve", key.as_str(), "pilot"],
        vec!["plan", "--release", "a@1", "--env", "staging", "--model", "big-bang", "--targets", "h1"],
        vec!["ingest", "-"],
        vec!["notify", "retry", "1"],
        vec!["notify", "run"],
    ] {
        let mut full = vec!["--read-only"];
        full.extend(args.iter().copied());
        let run = env.run(&full);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("`{}` writes to the deployment log", args[0])), "{}", run.stderr);
    }
    assert_eq!(std::fs::read(&env.db).expect("reads"), before, "the file is byte for byte the same");
}

#[test]
fn a_log_that_needs_a_migration_is_reported_under_read_only_and_left_as_it_is() {
    let env = Env::new();
    {
        let conn = rusqlite::Connection::open(&env.db).expect("creates");
        conn.execute_batch("CREATE TABLE deployments (id INTEGER PRIMARY KEY); PRAGMA user_version = 1;").expect("v1");
    }
    let run = env.run(&["--read-only", "list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("schema version 1"), "{}", run.stderr);
    assert!(run.stderr.contains("not migrated"), "{}", run.stderr);
    let conn = rusqlite::Connection::open(&env.db).expect("reopens");
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("reads");
    assert_eq!(version, 1);
}

#[test]
#[cfg(unix)]
fn the_dashboard_opens_a_read_only_file_with_read_only_and_offers_no_decision() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    make_read_only(&env.db);
    let before = std::fs::read(&env.db).expect("reads");
    let bin = env!("CARGO_BIN_EXE_shipdeck");
    // omar may approve the pilot: without --read-only, `a` opens the confirm dialog.
    let command = format!("SHIPDECK_OPERATOR=omar {bin} --db {} --read-only; echo EXIT=$?; sleep 30", env.db.display());
    let t = Tmux::start("read-only", 120, 30, &command);
    let home = t.wait_for(&key);
    assert!(home.contains("read-only"), "the header says so:\n{home}");
    t.keys(&["2"]);
    let approvals = t.wait_for("pilot");
    t.keys(&["a"]);
    let after = t.screen();
    assert!(!after.contains("Enter confirm"), "no confirm dialog in read-only mode:\n{after}\n(before: {approvals})");
    t.keys(&["q"]);
    t.wait_for("EXIT=0");
    assert_eq!(std::fs::read(&env.db).expect("reads"), before);
}
