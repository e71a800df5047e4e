//! The receiver and the CLI under hostile or broken input (issue: hardening).

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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
    // The agent reported ahead of the pilot's gate: approving it now is retroactive, with a reason.
    let approve = ["approve", &key, "pilot", "--comment", &comment, "--reason", "the host was installed by hand"];
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &approve).ok();
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

    // emit prints the receiver's refusal, which quotes what was sent. (A target outside the
    // plan is stored and flagged, so the refusal here is for a phase that does not exist.)
    let url = format!("http://{}", server.addr);
    let emit = env.run(&[
        "emit",
        "--server",
        &url,
        "--deployment",
        &key,
        "--phase",
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

/// The shipped config with some `[receiver]` settings replaced (`key = value` lines).
fn config_with(env: &Env, settings: &[(&str, &str)]) -> String {
    let mut text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/shipdeck.toml")).expect("config");
    for (key, value) in settings {
        let line = text.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap_or_else(|| panic!("no {key}"));
        text = text.replacen(line, &format!("{} = {value}", key.trim_start_matches("# ")), 1);
    }
    let path = env.path("shipdeck.toml");
    std::fs::write(&path, text).expect("writes config");
    path.display().to_string()
}

/// `shipdeck serve` with a config, optionally under `ulimit -Sn`, keeping its log lines.
fn serve_logged(env: &Env, config: &str, soft_files: Option<u32>) -> (support::Server, Arc<Mutex<Vec<String>>>) {
    let mut cmd = match soft_files {
        Some(n) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("ulimit -Sn {n} && exec \"$0\" \"$@\"")).arg(env!("CARGO_BIN_EXE_shipdeck"));
            c.env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test").env_remove("SHIPDECK_TOKEN");
            c
        }
        None => support::bin(),
    };
    cmd.arg("--db").arg(&env.db).args(["--config", config, "serve", "--listen", "127.0.0.1:0"]);
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    lines.read_line(&mut first).expect("reads the banner");
    let addr = first.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).expect("address").to_owned();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            sink.lock().expect("lock").push(line);
        }
    });
    (support::Server { child, addr, said: Arc::default() }, log)
}

/// Whether the receiver logs a line containing `needle` within a few seconds (its log is read
/// by another thread, so a line may arrive just after the reply that followed it).
fn logged(log: &Mutex<Vec<String>>, needle: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if log.lock().expect("lock").iter().any(|l| l.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Reads what the server sends until it closes the connection (or `limit` passes).
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&raw).into_owned(), true),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&raw).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&raw).into_owned(), false),
        }
    }
}

#[test]
fn stalled_uploads_get_408_and_never_starve_a_normal_agent() {
    let env = Env::new();
    let key = env.plan("big-bang", 40);
    let config = config_with(&env, &[("body_timeout", "\"2s\"")]);
    let (server, _) = serve_logged(&env, &config, None);
    // 200 clients that announce a body and then send a byte now and then, half of them chunked.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = TcpStream::connect(&server.addr).expect("connects");
            let framing = if i % 2 == 0 { "Content-Length: 100000" } else { "Transfer-Encoding: chunked" };
            write!(s, "POST /v1/events HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n").expect("head");
            s
        })
        .collect();
    let started = Instant::now();
    let mut batches = 0;
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(3) {
        for (i, s) in slow.iter_mut().enumerate() {
            let _ = s.write_all(if i % 2 == 0 { b"{" } else { b"1\r\n{\r\n" });
        }
        let body = (0..20)
            .map(|i| support::event(&format!("ok-{n}-{i}"), &key, &format!("web-{:02}", i + 1), "install", "info"))
            .collect::<Vec<_>>()
            .join("\n");
        n += 1;
        let sent = Instant::now();
        let reply = server.post("/v1/events", body.as_bytes());
        let took = sent.elapsed();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(took < Duration::from_secs(1), "batch {n} waited {took:?} behind stalled uploads");
        batches += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(batches >= 10, "only {batches} batches in 3 s");
    // Every stalled upload was cut off (408, connection closed) soon after its deadline.
    let mut timed_out = 0;
    for s in &mut slow {
        let (reply, closed) = read_until_closed(s, Duration::from_secs(3));
        assert!(closed, "a stalled upload was still held: {reply:?}");
        timed_out += usize::from(reply.starts_with("HTTP/1.1 408"));
    }
    assert!(timed_out > 0, "no stalled upload was answered 408");
    assert_eq!(env.event_ids(&key).len(), batches * 20);
}

#[test]
fn idle_connections_are_closed_and_the_connection_cap_is_logged() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let config = config_with(&env, &[("idle_timeout", "\"2s\""), ("max_connections", "50")]);
    let (server, log) = serve_logged(&env, &config, Some(256));
    // The receiver raised its own soft limit on open files to the hard limit.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).expect("limits");
    let files: Vec<&str> =
        limits.lines().find(|l| l.starts_with("Max open files")).expect("row").split_whitespace().collect();
    assert_eq!(files[3], files[4], "soft limit not raised: {limits}");

    let mut idle: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(&server.addr).expect("connects")).collect();
    // Once the receiver has taken all 50, the next connection is over the cap.
    let until = Instant::now() + Duration::from_millis(1500);
    let over = loop {
        let reply = server.get("/v1/health");
        if reply.status == 503 || Instant::now() > until {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(over.status, 503, "{}", over.body);
    assert!(over.body.contains("connection cap"), "{}", over.body);
    assert!(logged(&log, "connection cap of 50 reached"), "{:?}", log.lock().expect("lock"));
    // Idle connections are closed after idle_timeout, and the receiver serves again.
    for s in &mut idle {
        let (_, closed) = read_until_closed(s, Duration::from_secs(4));
        assert!(closed, "an idle connection was kept open");
    }
    let reply = server.post("/v1/events", support::event("after", &key, "web-01", "install", "info").as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(logged(&log, "below the connection cap again"), "{:?}", log.lock().expect("lock"));
}

#[test]
fn a_hard_limit_on_open_files_lowers_the_connection_cap_and_says_so() {
    let env = Env::new();
    let config = config_with(&env, &[]);
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("ulimit -n 300 && exec \"$0\" \"$@\"").arg(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test").arg("--db").arg(&env.db);
    cmd.args(["--config", &config, "serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let banner = lines.next().expect("a banner").expect("text");
    let note = lines.next().expect("a note").expect("text");
    let _ = child.kill();
    let _ = child.wait();
    assert!(banner.contains("http://"), "{banner}");
    assert!(
        note.contains(
            "open files are limited to 300; serving at most 236 connections instead of receiver.max_connections = 4096"
        ),
        "{note}"
    );
}

#[test]
fn sigterm_answers_held_long_polls_and_exits_promptly() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    let (mut server, _) = serve_logged(&env, &config_with(&env, &[]), None);
    let acked = server.post("/v1/events", support::event("before", &key, "web-01", "install", "started").as_bytes());
    assert_eq!(acked.status, 200);
    let addr = server.addr.clone();
    let path = format!("/v1/deployments/{key}/gates/pilot?wait=300");
    let poll = std::thread::spawn(move || support::http(&addr, "GET", &path, &[], b""));
    let mut stalled = TcpStream::connect(&server.addr).expect("connects");
    write!(stalled, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{{\"id\":").expect("head");
    // An agent that keeps posting through the shutdown: whatever was acknowledged is kept.
    let (addr, agent_key) = (server.addr.clone(), key.clone());
    let agent = std::thread::spawn(move || {
        let mut acked = vec!["before".to_owned()];
        for n in 0.. {
            let id = format!("during-{n}");
            let line = support::event(&id, &agent_key, "web-02", "install", "info");
            match support::http(&addr, "POST", "/v1/events", &[], line.as_bytes()) {
                Ok(r) if r.status == 200 => acked.push(id),
                Ok(r) if r.status == 503 => {}
                _ => return acked,
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(500));

    let sent = Instant::now();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let exited = loop {
        if let Some(status) = server.child.try_wait().expect("waits") {
            break status;
        }
        assert!(sent.elapsed() < Duration::from_secs(8), "still up {:?} after SIGTERM", sent.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exited.success(), "{exited:?}");
    let answer = poll.join().expect("poll thread").expect("the long-poll got an answer");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["state"], "pending", "{}", answer.body);
    let (reply, closed) = read_until_closed(&mut stalled, Duration::from_secs(2));
    assert!(closed && (reply.is_empty() || reply.starts_with("HTTP/1.1 503")), "{reply:?}");
    let acked = agent.join().expect("agent thread");
    assert!(acked.len() > 1, "the agent was acknowledged before the shutdown");
    // A reply lost to the exit may leave one more stored than acknowledged, never one fewer.
    let stored: std::collections::HashSet<String> = env.event_ids(&key).into_iter().collect();
    assert!(acked.iter().all(|id| stored.contains(id)), "acknowledged {acked:?}, stored {stored:?}");
}

#[test]
fn a_client_that_half_closes_still_gets_its_reply() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let server = env.serve();
    for i in 0..20 {
        let body = support::event(&format!("hc-{i}"), &key, "web-01", "install", "info");
        let mut s = TcpStream::connect(&server.addr).expect("connects");
        write!(s, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .expect("sends");
        s.shutdown(std::net::Shutdown::Write).expect("half-closes");
        let (reply, _) = read_until_closed(&mut s, Duration::from_secs(10));
        assert!(reply.starts_with("HTTP/1.1 200"), "request {i}: {reply:?}");
    }
    assert_eq!(env.event_ids(&key).len(), 20);
}

#[test]
fn tokens_are_trimmed_and_the_bearer_scheme_is_case_insensitive() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let config = config_with(&env, &[("token_env", "\"SHIPDECK_TEST_NO_SUCH_VAR\""), ("# token", "\"  s3cret \"")]);
    let (server, _) = serve_logged(&env, &config, None);
    let post = |auth: &str, id: &str| {
        let body = support::event(id, &key, "web-01", "install", "info");
        server.request("POST", "/v1/events", &[("Authorization", auth)], body.as_bytes()).expect("request").status
    };
    assert_eq!(post("Bearer s3cret", "a"), 200);
    assert_eq!(post("bearer s3cret", "b"), 200);
    assert_eq!(post("BEARER   s3cret ", "c"), 200);
    assert_eq!(post("Bearer s3cre", "d"), 401);
    assert_eq!(post("Bearer s3cretx", "e"), 401);
    assert_eq!(post("Basic s3cret", "f"), 401);
    let url = format!("http://{}", server.addr);
    env.run(&[
        "emit",
        "--server",
        &url,
        "--deployment",
        &key,
        "--step",
        "s",
        "--status",
        "info",
        "--token",
        " s3cret ",
    ])
    .ok();
}

#[test]
fn an_at_far_in_the_future_or_before_the_plan_is_refused_naming_the_line() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let server = env.serve();
    let line = |id: &str, at: &str| {
        format!(
            r#"{{"id":"{id}","deployment":"{key}","target":"web-01","step":"install","status":"failed","at":"{at}"}}"#
        )
    };
    let body = [line("future", "9999-12-31T23:59:59Z"), line("past", "2000-01-01T00:00:00Z")].join("\n");
    let reply = server.post("/v1/events", body.as_bytes());
    assert_eq!(reply.status, 422, "{}", reply.body);
    let rejected = reply.json()["rejected"].clone();
    assert_eq!(rejected[0]["line"], 1);
    let future = rejected[0]["error"].as_str().expect("error");
    assert!(
        future.contains("field \"at\"") && future.contains("9999-12-31") && future.contains("clock skew of 5m"),
        "{future}"
    );
    assert_eq!(rejected[1]["line"], 2);
    let past = rejected[1]["error"].as_str().expect("error");
    assert!(past.contains("2000-01-01") && past.contains(&format!("before {key} was planned")), "{past}");
    // Nothing was stored: the target did not fail for good.
    assert!(env.event_ids(&key).is_empty());
    assert_eq!(env.run(&["status", &key, "--json"]).json()["failed"], 0);
}

#[test]
fn events_show_the_year_when_it_is_not_this_one() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    // A generous skew lets an old event in; `events` must not pass it off as this year's.
    let (server, _) = serve_logged(&env, &config_with(&env, &[("clock_skew", "\"800d\"")]), None);
    // The receiver runs on the wall clock, so the test asks the same one.
    let now = shipdeck::clock::system().now();
    let old = now - chrono::TimeDelta::days(400);
    let line = format!(
        r#"{{"id":"old","deployment":"{key}","target":"web-01","step":"install","status":"info","at":"{}"}}"#,
        old.to_rfc3339()
    );
    assert_eq!(server.post("/v1/events", line.as_bytes()).status, 200);
    let now_line = support::event("new", &key, "web-02", "install", "info");
    assert_eq!(server.post("/v1/events", now_line.as_bytes()).status, 200);
    let out = env.run(&["--config", &config_with(&env, &[("timezone", "\"UTC\"")]), "events", &key]);
    let lines: Vec<&str> = out.ok().lines().collect();
    assert!(lines[0].starts_with(&old.format("%Y-%m-%d ").to_string()), "{}", out.stdout);
    assert!(!lines[1].starts_with(&now.format("%Y-").to_string()), "{}", out.stdout);
}

#[test]
fn data_is_kept_as_written_a_bom_is_skipped_and_an_array_is_not_an_event() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let server = env.serve();
    let data = r#"{"big":123456789012345678901234567890,"ratio":1.50,"nested":{"a":[1,2]}}"#;
    let event = format!(
        r#"{{"id":"raw","deployment":"{key}","target":"web-01","step":"install","status":"info","data":{data}}}"#
    );
    let body = format!("\u{feff}{event}\n[\"a\",\"{key}\",null,null,\"install\",\"info\"]");
    let reply = server.post("/v1/events", body.as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json = reply.json();
    assert_eq!(json["accepted"], 1, "the first line after the BOM is an event: {}", reply.body);
    assert_eq!(json["rejected"][0]["line"], 2);
    assert!(json["rejected"][0]["error"].as_str().expect("error").contains("JSON array"), "{}", reply.body);
    let out = env.run(&["events", &key, "--json"]);
    assert!(out.ok().contains(&format!(r#""data":{data}"#)), "{}", out.stdout);
}

#[test]
fn health_says_failing_while_commits_fail_and_ok_after() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let server = env.serve();
    let fresh = server.get("/v1/health");
    assert_eq!((fresh.status, fresh.json()["status"].as_str()), (200, Some("ok")), "{}", fresh.body);
    assert!(fresh.json()["last_commit"].is_null());
    // Every write of an event now fails, as on a full disk.
    let db = rusqlite::Connection::open(&env.db).expect("opens");
    db.execute_batch(
        "CREATE TRIGGER broken BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;",
    )
    .expect("trigger");
    let post = server.post("/v1/events", support::event("a", &key, "web-01", "install", "info").as_bytes());
    assert_eq!(post.status, 503, "{}", post.body);
    let failing = server.get("/v1/health");
    assert_eq!(failing.status, 503, "{}", failing.body);
    let json = failing.json();
    assert_eq!(json["status"], "failing");
    assert!(json["last_error"]["error"].as_str().expect("error").contains("simulated write failure"), "{json}");
    assert!(json["last_error"]["at"].is_string() && json["last_commit"].is_null(), "{json}");

    db.execute_batch("DROP TRIGGER broken;").expect("drop");
    let post = server.post("/v1/events", support::event("a", &key, "web-01", "install", "info").as_bytes());
    assert_eq!(post.status, 200, "{}", post.body);
    let healthy = server.get("/v1/health");
    assert_eq!(healthy.status, 200, "{}", healthy.body);
    assert!(healthy.json()["last_error"].is_null() && healthy.json()["last_commit"].is_string(), "{}", healthy.body);
}

/// Runs `shipdeck --db DB ARGS`, as an unprivileged user when the tests run as root (root may
/// write anywhere, so a read-only folder would prove nothing).
fn run_unprivileged(db: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_shipdeck")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_shipdeck"))
    };
    cmd.env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test").env_remove("SHIPDECK_DB").env_remove("SHIPDECK_CONFIG");
    let out = cmd.arg("--db").arg(db).args(args).stdin(Stdio::null()).output().expect("runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn broken_logs_are_refused_in_one_sentence_with_exit_2_and_left_alone() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let good = std::fs::read(&env.db).expect("reads the log");
    let not_sqlite = env.path("notes.txt");
    std::fs::write(&not_sqlite, "deployment notes\n").expect("writes");
    let truncated = env.path("truncated.db");
    std::fs::write(&truncated, &good[..good.len() / 3]).expect("writes");
    let empty = env.path("empty.db");
    std::fs::write(&empty, "").expect("writes");
    let cases = [
        (not_sqlite.clone(), "is not a shipdeck log (not an SQLite database)"),
        (truncated.clone(), "restore it from a backup"),
        (env.dir.path().to_path_buf(), "is a directory, not a log file"),
        (empty.clone(), "is an empty file (0 bytes), not a log"),
    ];
    for (path, expected) in &cases {
        for args in [vec!["status", key.as_str()], vec!["list"], vec!["events", key.as_str()]] {
            let out = support::bin().arg("--db").arg(path).args(&args).output().expect("runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} on {}: {stderr}", path.display());
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
            assert!(!stderr.contains("file is not a database"), "SQLite's words, not ours: {stderr}");
        }
    }
    // Nothing was turned into a new, empty log.
    assert_eq!(std::fs::read(&empty).expect("reads"), b"");
    assert_eq!(std::fs::read(&not_sqlite).expect("reads"), b"deployment notes\n");
    assert_eq!(std::fs::read(&truncated).expect("reads").len(), good.len() / 3);
}

#[test]
#[cfg(unix)]
fn read_commands_work_on_a_log_in_a_read_only_folder_and_writes_say_why_not() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let folder = env.path("readonly");
    std::fs::create_dir(&folder).expect("mkdir");
    let db = folder.join("log.db");
    std::fs::copy(&env.db, &db).expect("copies the log");
    for (path, mode) in [(env.dir.path(), 0o755), (folder.as_path(), 0o555), (db.as_path(), 0o644)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    for args in [vec!["status", key.as_str()], vec!["list"], vec!["events", key.as_str()]] {
        let (code, stdout, stderr) = run_unprivileged(&db, &args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains(&key) || args[0] == "events", "{args:?}: {stdout}");
    }
    let (code, _, stderr) = run_unprivileged(
        &db,
        &["plan", "--release", "a@1", "--env", "production", "--model", "big-bang", "--targets", "x"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be written: its folder is read-only"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
}

#[test]
fn config_check_the_planner_and_the_dashboard_refuse_a_config_that_would_get_stuck() {
    let env = Env::new();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/shipdeck.toml")).expect("config");
    let stuck = shipped.replacen(
        "steps = [\"download\", \"install\", \"verify\"]",
        "steps = [\"install\", \"verify\", \"install\"]",
        1,
    );
    assert_ne!(stuck, shipped);
    let line =
        stuck.lines().position(|l| l.contains("steps = [\"install\", \"verify\", \"install\"]")).expect("line") + 1;
    let path = env.path("stuck.toml");
    std::fs::write(&path, stuck).expect("writes");
    let config = path.display().to_string();
    let expected = format!("stuck.toml:{line}: key \"models.phased.steps[2]\": step \"install\" appears twice");
    for args in [
        vec!["config", "check", config.as_str()],
        vec![
            "--config",
            &config,
            "plan",
            "--release",
            "a@1",
            "--env",
            "production",
            "--model",
            "big-bang",
            "--targets",
            "x",
        ],
        vec!["--config", &config, "tui"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(&expected), "{args:?}: {}", out.stderr);
    }
}
