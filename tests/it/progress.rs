//! Progress bars: drawn on stderr when it is a terminal, and nothing at all when it is not.

use crate::support::{Env, event};
use std::process::Command;

/// A file of `n` valid events for `key`'s hosts.
fn big_file(env: &Env, key: &str, n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&event(&format!("ev-{i}"), key, &format!("web-{:02}", i % 10 + 1), "download", "info"));
        text.push('\n');
    }
    let path = env.path("big.ndjson");
    std::fs::write(&path, text).expect("writes");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn ingest_and_exports_print_nothing_on_stderr_when_it_is_not_a_terminal() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let file = big_file(&env, &key, 25_000);
    let run = env.run(&["ingest", &file]);
    assert_eq!(run.json()["accepted"], 25_000, "{}", run.stderr);
    assert_eq!(run.stderr, "", "a progress bar leaked into a pipe");
    for format in ["--csv", "--json"] {
        let export = env.run(&["history", format, "--limit", "0"]);
        assert_eq!((export.code, export.stderr.as_str()), (0, ""), "history {format}");
    }
}

#[test]
fn ingest_shows_a_progress_bar_on_a_terminal() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let file = big_file(&env, &key, 25_000);
    // `script` gives the command a pseudo-terminal and copies what it wrote.
    let command = format!("{} --db {} ingest {file}", env!("CARGO_BIN_EXE_shipdeck"), env.db.to_str().expect("utf-8"));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("SHIPDECK_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test")
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ingesting"), "no progress bar on a terminal: {text}");
    assert!(text.contains("\"accepted\":25000"), "{text}");
}
