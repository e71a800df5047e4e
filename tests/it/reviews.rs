//! History, failure reviews and reports against the real binary and a real log.

use crate::support;

use support::Env;

/// A big-bang deployment of web-01, web-02 in which web-02's install fails with `error`.
fn failed_deployment(env: &Env, error: &str) -> String {
    let key = env.plan("big-bang", 2);
    let mut lines = Vec::new();
    for (host, steps) in
        [("web-01", vec![("install", "succeeded"), ("verify", "succeeded")]), ("web-02", vec![("install", "failed")])]
    {
        for (step, status) in steps {
            // No `at`: the receive time, which the clock-skew rule always accepts.
            let msg = if status == "failed" { error } else { "ok" };
            lines.push(format!(
                r#"{{"id":"{host}-{step}","deployment":"{key}","target":"{host}","step":"{step}","status":"{status}","message":"{msg}"}}"#
            ));
        }
    }
    env.run_with_stdin(&["ingest", "-"], &(lines.join("\n") + "\n")).ok();
    key
}

fn write(env: &Env, name: &str, text: &str) -> String {
    let path = env.path(name);
    std::fs::write(&path, text).expect("writes");
    path.display().to_string()
}

const FILLED: &str = r#"
state = "complete"
summary = "Disk full on web-02"
impact = "Checkout slower for ten minutes"
cause_category = "capacity"
root_cause = "Old releases were never pruned"
contributing_factors = ["no free-space alert"]
lessons = "Check free space before the download step"

[[actions]]
text = "Prune old releases nightly"
owner = "sam"
due = 2026-12-01
"#;

#[test]
fn a_failed_production_deployment_owes_a_review_until_one_is_written() {
    let env = Env::new();
    let key = failed_deployment(&env, "No space left on device (free 3 MB) writing /srv/app/x.jar");
    let rows = env.run(&["history", "--json"]).json();
    assert_eq!(rows[0]["key"], key.as_str());
    assert_eq!(rows[0]["result"], "failed");
    assert_eq!((rows[0]["hosts_failed"].as_u64(), rows[0]["hosts_total"].as_u64()), (Some(1), Some(2)));
    assert_eq!(rows[0]["review"], "owed");
    let owed = env.run(&["review", "list", "--owed"]);
    assert!(owed.ok().contains(&key) && owed.stdout.contains("owed by dana"), "{}", owed.stdout);
    let none = env.run(&["history", "--result", "succeeded"]);
    assert!(none.ok().contains("no finished deployments matching result=succeeded"), "{}", none.stdout);

    // The template carries the facts: the error group with its placeholders.
    let template = env.run(&["review", &key, "--template"]);
    assert!(template.ok().contains("No space left on device (free <n> MB) writing <path>"), "{}", template.stdout);

    // A file without a summary is refused by line; nothing is written.
    let empty = write(&env, "empty.toml", &template.stdout);
    let refused = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["review", &key, "--file", &empty]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("\"summary\" is required") && refused.stderr.contains("line "),
        "{}",
        refused.stderr
    );
    let ghost = write(&env, "ghost.toml", &FILLED.replace("owner = \"sam\"", "owner = \"ghost\""));
    let refused = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["review", &key, "--file", &ghost]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("owner \"ghost\" is no configured person"), "{}", refused.stderr);
    assert!(env.run(&["review", "list", "--owed"]).ok().contains(&key), "still owed after refusals");

    let filled = write(&env, "filled.toml", FILLED);
    let saved = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["review", &key, "--file", &filled]);
    assert!(saved.ok().contains("completed"), "{}", saved.stdout);
    assert_eq!(env.run(&["history", "--json"]).json()[0]["review"], "complete");
    assert!(env.run(&["review", "list", "--owed"]).ok().contains("no reviews owed"));

    let open = env.run(&["review", "list", "--open-actions"]);
    assert!(open.ok().contains("Prune old releases nightly"), "{}", open.stdout);
    env.run_env(&[("SHIPDECK_OPERATOR", "sam")], &["review", "action", &key, "1", "--done"]).ok();
    assert!(env.run(&["review", "list", "--open-actions"]).ok().contains("no open improvement actions"));
    let missing = env.run_env(&[("SHIPDECK_OPERATOR", "sam")], &["review", "action", &key, "9", "--done"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("has no action 9"), "{}", missing.stderr);
}

#[test]
fn reports_tell_the_whole_story_in_markdown_and_json() {
    let env = Env::new();
    let key = failed_deployment(&env, "connection refused: postgres at 10.0.4.17:5432");
    let json = env.run(&["report", &key, "--format", "json"]).json();
    for field in ["timeline", "error_groups", "decisions", "review"] {
        assert!(json.get(field).is_some(), "report JSON lacks {field}: {json}");
    }
    assert_eq!(json["error_groups"][0]["pattern"], "connection refused: postgres at <addr>");
    assert_eq!(json["error_groups"][0]["sample_hosts"][0], "web-02");
    let kinds: Vec<&str> =
        json["timeline"].as_array().expect("array").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(
        kinds.contains(&"first_failure") && kinds.contains(&"budget_exceeded") && kinds.contains(&"finished"),
        "{kinds:?}"
    );

    let filled = write(&env, "filled.toml", FILLED);
    env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["review", &key, "--file", &filled]).ok();
    let md = env.run(&["report", &key]);
    let md = md.ok();
    assert!(md.starts_with(&format!("# {key} payments-api@2.4.1 → production: failed")), "{md}");
    assert!(md.contains("## Timeline") && md.contains("## Errors") && md.contains("## Review"), "{md}");
    assert!(md.contains("**Summary:** Disk full on web-02"), "{md}");
    assert!(md.contains("| 1 | Prune old releases nightly | sam | 2026-12-01 | no |"), "{md}");

    // Who was told what: a phased plan opens its pilot's gate and tells the people who may approve.
    let phased = env.plan("phased", 4);
    let json = env.run(&["report", &phased, "--format", "json"]).json();
    let told: Vec<&str> =
        json["notifications"].as_array().expect("array").iter().filter_map(|n| n["kind"].as_str()).collect();
    assert!(told.contains(&"gate_pending"), "{json}");
    assert!(env.run(&["report", &phased]).ok().contains("## Notifications"));

    let unknown = env.run(&["report", "DEP-999"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("DEP-999"), "{}", unknown.stderr);
}

#[test]
fn the_editor_writes_the_review_and_a_broken_file_is_kept() {
    let env = Env::new();
    let key = failed_deployment(&env, "disk full");
    // A fake editor that fills the file the way a person would.
    let source = write(&env, "source.toml", FILLED);
    let editor = write(&env, "editor.sh", &format!("#!/bin/sh\ncp '{source}' \"$1\"\n"));
    std::process::Command::new("chmod").args(["+x", &editor]).status().expect("chmod");
    let saved = env.run_env(&[("SHIPDECK_OPERATOR", "dana"), ("EDITOR", &editor), ("VISUAL", "")], &["review", &key]);
    assert!(saved.ok().contains(&format!("review of {key} saved (completed")), "{}", saved.stdout);

    // An editor leaving a mistake: not a terminal, so no second round; the text is kept.
    let broken = write(&env, "broken.toml", &FILLED.replace("capacity", "gremlins"));
    let editor = write(&env, "editor2.sh", &format!("#!/bin/sh\ncp '{broken}' \"$1\"\n"));
    std::process::Command::new("chmod").args(["+x", &editor]).status().expect("chmod");
    let refused = env.run_env(&[("SHIPDECK_OPERATOR", "dana"), ("EDITOR", &editor), ("VISUAL", "")], &["review", &key]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("\"gremlins\" is unknown"), "{}", refused.stderr);
    let kept = refused.stderr.split("your text is kept in ").nth(1).expect("a path").trim();
    assert!(std::fs::read_to_string(kept).expect("kept").contains("gremlins"));
    std::fs::remove_dir_all(std::path::Path::new(kept).parent().expect("dir")).ok();
    // The stored review is the first one, untouched.
    let json = env.run(&["report", &key, "--format", "json"]).json();
    assert_eq!(json["review"]["cause_category"], "capacity");
}

#[test]
fn in_the_dashboard_w_suspends_for_the_editor_and_the_review_shows_after() {
    let env = Env::new();
    let key = failed_deployment(&env, "No space left on device (free 3 MB)");
    let source = write(&env, "source.toml", FILLED);
    // The editor proves it had the terminal's file: it writes the review and returns.
    let editor = write(&env, "editor.sh", &format!("#!/bin/sh\ncp '{source}' \"$1\"\n"));
    std::process::Command::new("chmod").args(["+x", &editor]).status().expect("chmod");
    let command = format!(
        "SHIPDECK_OPERATOR=dana VISUAL= EDITOR={editor} {} --db {} tui; echo EXIT=$?; stty -a | grep -o -- '-\\?icanon' | sed 's/^/TTY=/'; sleep 30",
        env!("CARGO_BIN_EXE_shipdeck"),
        env.db.display()
    );
    let t = support::tmux::Tmux::start("review-e2e", 120, 32, &command);
    t.wait_for("Deployments");
    t.keys(&["5"]);
    let history = t.wait_for("✗ failed");
    assert!(history.contains(&key) && history.contains("owed"), "{history}");
    t.keys(&["Enter"]);
    let drill = t.wait_for("Error groups");
    assert!(drill.contains("No space left on device (free <n> MB)"), "{drill}");
    t.keys(&["w"]);
    let after = t.wait_for("Disk full on web-02");
    assert!(after.contains("complete by dana"), "the drill-down shows the saved review:\n{after}");
    t.keys(&["Escape"]);
    let list = t.wait_for("✓ complete");
    assert!(list.contains(&key), "{list}");
    t.keys(&["q"]);
    // The tty line is printed after the exit line: wait for it, not just the first.
    let end = t.wait_for("TTY=");
    assert!(end.contains("EXIT=0") && end.contains("TTY=icanon"), "{end}");
}
