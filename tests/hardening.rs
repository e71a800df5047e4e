//! The receiver and the CLI under hostile or broken input (issue: hardening).

mod support;

use support::Env;

/// Bytes that would drive a terminal: OSC 0 (title), ED (clear), CR overwrite, OSC 52
/// (clipboard), a C1 CSI and a bidi override.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\rok\u{1b}]52;c;aGk=\u{7}\u{9b}1m\u{202e}gnp.exe";

#[track_caller]
fn assert_inert(what: &str, text: &str) {
    for bad in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}'] {
        assert!(!text.contains(bad), "{what} printed {bad:?} raw:\n{text:?}");
    }
}

#[test]
fn terminal_escapes_from_agents_and_people_are_shown_not_obeyed() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    let server = env.serve();
    let line = serde_json::json!({
        "id": "evil-1", "deployment": key, "target": "web-01", "step": "install",
        "status": "failed", "message": HOSTILE,
    });
    assert_eq!(server.post("/v1/events", line.to_string().as_bytes()).status, 200);

    let events = env.run(&["events", &key]);
    assert_inert("events", events.ok());
    assert!(events.stdout.contains("\\e]0;pwned\\u{7}\\e[2J\\rok"), "{}", events.stdout);
    assert!(events.stdout.contains("\\u{9b}1m\\u{202e}gnp.exe"), "{}", events.stdout);
    // JSON stays exact: the message round-trips byte for byte.
    let json = env.run(&["events", &key, "--json"]);
    let first: serde_json::Value = serde_json::from_str(json.ok().lines().next().expect("a line")).expect("json");
    assert_eq!(first["message"], HOSTILE);

    let status = env.run(&["status", &key]);
    assert_inert("status", status.ok());
    assert!(status.stdout.contains("\\e[2J"), "{}", status.stdout);

    let comment = format!("fine {HOSTILE}");
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "pilot", "--comment", &comment]).ok();
    let audit = env.run(&["audit", "list"]);
    assert_inert("audit list", audit.ok());
    assert!(audit.stdout.contains("comment: fine \\e]0;pwned"), "{}", audit.stdout);

    let release = format!("evil{HOSTILE}@1");
    let plan =
        env.run(&["plan", "--release", &release, "--env", "production", "--model", "big-bang", "--targets", "a"]);
    assert_inert("plan", plan.ok());
    let list = env.run(&["list"]);
    assert_inert("list", list.ok());
    assert!(list.stdout.contains("evil\\e]0;pwned"), "{}", list.stdout);

    // Errors quote the bad value: through the same function.
    let bad_model = env.run(&["plan", "--release", "a@1", "--env", "production", "--model", HOSTILE, "--targets", "a"]);
    assert_eq!(bad_model.code, 2);
    assert_inert("plan error", &bad_model.stderr);
    assert!(bad_model.stderr.contains("\\e[2J"), "{}", bad_model.stderr);

    // emit prints the receiver's refusal, which quotes what was sent.
    let url = format!("http://{}", server.addr);
    let emit = env.run(&[
        "emit",
        "--server",
        &url,
        "--deployment",
        &key,
        "--target",
        HOSTILE,
        "--step",
        "s",
        "--status",
        "info",
    ]);
    assert_eq!(emit.code, 1, "{}", emit.stderr);
    assert_inert("emit error", &emit.stderr);
    assert!(emit.stderr.contains("\\u{202e}"), "{}", emit.stderr);
}
