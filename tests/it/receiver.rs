//! The agent API against the real binary, a real log file and a real loopback port.

use crate::support;

use support::{Env, event};

#[test]
fn each_bad_line_is_rejected_by_name_and_the_valid_lines_of_the_body_are_stored() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let long_id = "i".repeat(129);
    let long_message = "m".repeat(64 * 1024 + 1);
    let lines = [
        /* 1 */ event("ok-1", &key, "web-01", "download", "started"),
        /* 2 */ event("u1", "DEP-999", "web-01", "download", "started"),
        /* 3 */ event("u2", &key, "db-01", "download", "started"),
        /* 4 */
        format!(
            r#"{{"id":"u3","deployment":"{key}","target":"web-01","phase":"wave-2","step":"install","status":"started"}}"#
        ),
        /* 5 */ event("u4", &key, "web-01", "install", "done"),
        /* 6 */
        format!(
            r#"{{"id":"u5","deployment":"{key}","target":"web-01","step":"install","status":"started","at":"26/11/2026"}}"#
        ),
        /* 7 */ format!(r#"{{"id":"u6","deployment":"{key}","target":"web-01","status":"started"}}"#),
        /* 8 */ format!(r#"{{"id":"u7","deployment":"{key}","target":"web-01","step":"install","status":7}}"#),
        /* 9 */ event(&long_id, &key, "web-01", "install", "started"),
        /* 10 */
        format!(
            r#"{{"id":"u8","deployment":"{key}","target":"web-01","step":"install","status":"info","message":"{long_message}"}}"#
        ),
        /* 11 */ "this is not json".to_owned(),
        /* 12 */
        format!(
            r#"{{"id":"ok-2","deployment":"{key}","target":"web-02","step":"download","status":"failed","message":"disk full","agent":"v3"}}"#
        ),
    ];
    let server = env.serve();
    let reply = server.post("/v1/events", lines.join("\n").as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json = reply.json();
    // Line 3 names a host that is not in the plan: stored, as agents reported it, and flagged.
    assert_eq!(json["accepted"], 3);
    assert_eq!(json["duplicates"], 0);
    let rejected: Vec<(u64, String)> = json["rejected"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| (r["line"].as_u64().expect("line"), r["error"].as_str().expect("error").to_owned()))
        .collect();
    let expected = [
        (2, "field \"deployment\": unknown deployment \"DEP-999\""),
        (4, "field \"phase\": \"wave-2\" does not match target \"web-01\""),
        (5, "field \"status\": unknown status \"done\""),
        (6, "field \"at\": \"26/11/2026\" is not an RFC 3339 timestamp"),
        (7, "field \"step\": missing"),
        (8, "field \"status\": invalid type: integer `7`"),
        (9, "field \"id\": \"iiii"),
        (10, "field \"message\""),
        (11, "not a JSON object"),
    ];
    assert_eq!(rejected.len(), expected.len(), "{rejected:#?}");
    for ((line, error), (want_line, want)) in rejected.iter().zip(expected) {
        assert_eq!(*line, want_line, "{error}");
        assert!(error.contains(want), "line {line}: {error}\n  should contain: {want}");
    }
    assert!(rejected[6].1.contains("129 bytes, over the limit of 128"), "{}", rejected[6].1);
    assert!(rejected[7].1.contains("65537 bytes"), "{}", rejected[7].1);
    assert_eq!(env.event_ids(&key).len(), 3);
    let flags = env.run(&["conformance", &key, "--json"]);
    let flag: serde_json::Value = flags
        .ok()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|f: &serde_json::Value| f["kind"] == "unplanned_target")
        .expect("flagged");
    assert_eq!(flag["sample_targets"], serde_json::json!(["db-01"]));
}

#[test]
fn resending_a_batch_counts_duplicates_and_changes_nothing() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let server = env.serve();
    let body = [event("a", &key, "web-01", "download", "started"), event("b", &key, "web-01", "download", "succeeded")]
        .join("\n");
    assert_eq!(server.post("/v1/events", body.as_bytes()).json()["accepted"], 2);
    let again = server.post("/v1/events", body.as_bytes());
    assert_eq!(again.status, 200);
    assert_eq!((again.json()["accepted"].as_u64(), again.json()["duplicates"].as_u64()), (Some(0), Some(2)));
    assert_eq!(env.event_ids(&key).len(), 2);
}

#[test]
fn bodies_that_are_not_ndjson_text_are_refused_whole() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let server = env.serve();
    let empty = server.post("/v1/events", b"");
    assert_eq!(empty.status, 400);
    assert!(empty.json()["error"].as_str().expect("error").contains("empty body"));
    let mut bad = event("x", &key, "web-01", "download", "started").into_bytes();
    bad.extend_from_slice(b"\n\xff\xfe");
    let reply = server.post("/v1/events", &bad);
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"].as_str().expect("error").contains("not valid UTF-8"), "{}", reply.body);
    // 8 MiB + 1 byte of otherwise valid lines.
    let line = event("y", &key, "web-01", "download", "info");
    let mut big = String::new();
    while big.len() <= 8 * 1024 * 1024 {
        big.push_str(&line);
        big.push('\n');
    }
    let reply = server.post("/v1/events", big.as_bytes());
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(env.event_ids(&key).is_empty(), "nothing of a refused body is stored");
}

#[test]
fn with_a_token_configured_only_the_right_bearer_gets_in() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let server = env.serve_with(&[("SHIPDECK_TOKEN", "s3cret")]);
    let body = event("t1", &key, "web-01", "download", "started");
    let none = server.request("POST", "/v1/events", &[], body.as_bytes()).expect("replies");
    assert_eq!(none.status, 401);
    assert!(none.body.contains("missing bearer token"), "{}", none.body);
    let wrong =
        server.request("POST", "/v1/events", &[("Authorization", "Bearer nope")], body.as_bytes()).expect("replies");
    assert_eq!(wrong.status, 401);
    assert_eq!(server.request("GET", &format!("/v1/deployments/{key}"), &[], b"").expect("replies").status, 401);
    assert!(env.event_ids(&key).is_empty(), "a refused request stores nothing");
    let right =
        server.request("POST", "/v1/events", &[("Authorization", "Bearer s3cret")], body.as_bytes()).expect("replies");
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(env.event_ids(&key), vec!["t1"]);
}

#[test]
fn a_body_with_only_rejected_lines_is_unprocessable() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let server = env.serve();
    let reply = server.post("/v1/events", event("x", &key, "web-01", "download", "done").as_bytes());
    assert_eq!(reply.status, 422);
    assert_eq!(reply.json()["rejected"][0]["line"], 1);
}

#[test]
fn the_deployment_endpoint_answers_what_status_json_prints() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let server = env.serve();
    let body = [event("a", &key, "web-01", "download", "started"), event("b", &key, "web-02", "download", "failed")]
        .join("\n");
    server.post("/v1/events", body.as_bytes());
    let api = server.get(&format!("/v1/deployments/{key}"));
    assert_eq!(api.status, 200);
    let cli = env.run(&["status", &key, "--json"]).json();
    assert_eq!(api.json(), cli);
    assert_eq!(cli["status"], "failed");
    assert_eq!(cli["phases"][0]["failed"], 1);
    assert_eq!(server.get("/v1/deployments/DEP-404").status, 404);
    assert_eq!(server.get("/v1/deployments/banana").status, 400);
    assert_eq!(server.get("/v1/health").json()["status"], "ok");
}

#[test]
fn emit_posts_one_event_and_reports_refusals() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let server = env.serve();
    let url = format!("http://{}", server.addr);
    let base = ["emit", "--server", &url, "--deployment", &key];
    let ok = env
        .run(&[&base[..], &["--target", "web-01", "--step", "download", "--status", "started", "--id", "e1"]].concat());
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.json()["accepted"], 1);
    let dup = env
        .run(&[&base[..], &["--target", "web-01", "--step", "download", "--status", "started", "--id", "e1"]].concat());
    assert_eq!((dup.code, dup.json()["duplicates"].as_u64()), (0, Some(1)));
    let refused = env.run(&[&base[..], &["--target", "web-01", "--step", "reboot", "--status", "started"]].concat());
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("\"reboot\" is not a lifecycle step"), "{}", refused.stderr);
    let usage = env.run(&[&base[..], &["--target", "web-01", "--step", "download", "--status", "finished"]].concat());
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("unknown status \"finished\""), "{}", usage.stderr);
    let tls = env.run(&[
        "emit",
        "--server",
        "ftp://deploy.example",
        "--deployment",
        &key,
        "--step",
        "download",
        "--status",
        "info",
    ]);
    assert_eq!(tls.code, 2);
    assert!(tls.stderr.contains("\"ftp://deploy.example\" is not an http:// or https:// URL"), "{}", tls.stderr);
    drop(server);
    let down = env.run(&[&base[..], &["--target", "web-01", "--step", "download", "--status", "info"]].concat());
    assert_eq!(down.code, 1);
    assert!(down.stderr.contains(&format!("nothing listens at {url}")), "{}", down.stderr);
}

#[test]
fn ingest_imports_a_file_with_the_same_validation_and_summary() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let file = env.path("events.ndjson");
    let body = [
        event("a", &key, "web-01", "download", "started"),
        event("b", &key, "web-01", "reboot", "started"),
        String::new(),
        event("c", &key, "web-01", "download", "succeeded"),
    ]
    .join("\n");
    std::fs::write(&file, &body).expect("writes");
    let run = env.run(&["ingest", file.to_str().expect("utf-8")]);
    assert_eq!(run.code, 1, "a rejected line makes the import report a failure");
    assert_eq!(
        run.json(),
        serde_json::json!({"accepted": 2, "duplicates": 0, "rejected": [{"line": 2, "error": format!("field \"step\": \"reboot\" is not a lifecycle step of {key} (steps: download, install, verify; use status \"info\" for other steps)")}]})
    );
    let again = env.run_with_stdin(&["ingest", "-"], &body);
    assert_eq!((again.json()["accepted"].as_u64(), again.json()["duplicates"].as_u64()), (Some(0), Some(2)));
    assert_eq!(env.event_ids(&key), vec!["a", "c"]);
}

#[test]
fn the_example_agent_script_reports_a_host_through_its_lifecycle() {
    let env = Env::new();
    let key = env.plan("phased", 2);
    let server = env.serve();
    let agent = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/agent.sh");
    let run = |host: &str, step_command: &str| {
        std::process::Command::new("sh")
            .args([agent, &key, host])
            .env("SHIPDECK_URL", format!("http://{}", server.addr))
            .env("AGENT_STEP_COMMAND", step_command)
            .output()
            .expect("sh runs the agent")
    };
    assert!(run("web-01", "true").status.success());
    // A failing step is reported with its output, quotes and all, and the agent stops.
    let failing = env.path("fail.sh");
    std::fs::write(&failing, "#!/bin/sh\n[ \"$1\" = install ] && { echo 'dpkg: \"disk\" full'; exit 1; }; exit 0\n")
        .expect("writes");
    let out = run("web-02", &format!("sh {}", failing.display()));
    assert!(!out.status.success());
    let status = env.run(&["status", &key, "--json"]).json();
    let targets = status["target_list"].as_array().expect("targets");
    assert_eq!(targets[0]["status"], "succeeded");
    assert_eq!(targets[1]["status"], "failed");
    assert_eq!(targets[1]["last_error"], "dpkg: \"disk\" full");
    // An event the receiver refuses (a step the model does not have) stops the agent at once.
    let refused = std::process::Command::new("sh")
        .args([agent, &key, "web-01"])
        .env("SHIPDECK_URL", format!("http://{}", server.addr))
        .env("AGENT_STEPS", "reboot")
        .output()
        .expect("sh runs the agent");
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(why.contains("(422)") && why.contains("reboot") && why.contains("is not a lifecycle step"), "{why}");
}
