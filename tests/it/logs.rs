//! `serve --log-format json`: request errors and commits as one JSON object per stderr line.

use crate::support::{Env, bin, event, http};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn serve_logs_commits_and_request_errors_as_json_lines_on_stderr() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    let mut child = bin()
        .arg("--db")
        .arg(&env.db)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let banner: serde_json::Value =
        serde_json::from_str(&lines.recv_timeout(Duration::from_secs(30)).expect("a banner")).expect("JSON banner");
    let message = banner["message"].as_str().expect("message");
    let addr = message.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).expect("address").to_owned();

    let body = event("a", &key, "web-01", "download", "started");
    assert_eq!(http(&addr, "POST", "/v1/events", &[], body.as_bytes()).expect("posts").status, 200);
    assert_eq!(http(&addr, "GET", "/v1/deployments/DEP-404", &[], b"").expect("gets").status, 404);

    let (mut commit, mut request_error) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while (commit.is_none() || request_error.is_none()) && Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) else { continue };
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("a stderr line that is not JSON ({e}): {line}"));
        match v["message"].as_str() {
            Some("commit") => commit = Some(v),
            Some("request error") => request_error = Some(v),
            _ => {}
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let commit = commit.expect("a commit was logged");
    assert_eq!((commit["level"].as_str(), commit["accepted"].as_u64()), (Some("INFO"), Some(1)), "{commit}");
    assert!(commit["timestamp"].is_string(), "{commit}");
    let error = request_error.expect("the 404 was logged");
    assert_eq!((error["status"].as_u64(), error["path"].as_str()), (Some(404), Some("/v1/deployments/DEP-404")));
}
