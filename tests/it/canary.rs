//! Canary analysis as a user meets it: agents post metric samples to the real receiver, whose
//! automation approves the fleet's gate when the analysis passes and halts the deployment when
//! it fails; `status` shows the analysis; a person may approve over it, audited as an override.

use crate::support::{Env, Server};

/// The shipped config with a quick analysis (1 s intervals, 2 s to pass) and no bake.
fn quick_config(env: &Env) -> String {
    let text = crate::support::built_in_config()
        .replace("roles = [\"service_owner\", \"sre\"], bake = \"30m\" }", "roles = [\"service_owner\", \"sre\"] }")
        .replace("for = \"10m\"", "for = \"2s\"\ninterval = \"1s\"")
        // Its first runs would be supervised (a person at every gate); this one runs as configured.
        .replace("technique = \"canary\"\n", "technique = \"canary\"\nsupervised_runs = 0\n");
    assert!(text.contains("interval = \"1s\""), "the shipped canary has analysis rules");
    assert!(text.contains("supervised_runs = 0"), "the canary model is found");
    let path = env.path("quick.toml");
    std::fs::write(&path, text).expect("writes");
    path.to_str().expect("utf-8").to_owned()
}

/// Plans the canary model over c1 (the canary) and c2..c4, serves, and has c1 succeed.
fn started(env: &Env, config: &str) -> Server {
    let plan = ["--config", config, "plan", "--release", "svc@1.0.0", "--env", "production", "--model", "canary"];
    env.run(&[&plan[..], &["--targets", "c1,c2,c3,c4"]].concat()).ok();
    let server = env.serve_with(&[("SHIPDECK_CONFIG", config)]);
    let body: String = ["install", "verify"]
        .iter()
        .map(|s| format!("{{\"id\":\"c1-{s}\",\"deployment\":\"DEP-1\",\"target\":\"c1\",\"step\":\"{s}\",\"status\":\"succeeded\"}}\n"))
        .collect();
    assert_eq!(server.post("/v1/events", body.as_bytes()).status, 200);
    server
}

/// Posts one round of samples (at the receiver's time): the canary's error rate and latency as
/// given, the baseline's 0.2 and 100.
fn samples(server: &Server, round: usize, canary: (f64, f64)) {
    let mut body = String::new();
    for host in ["c1", "c2", "c3", "c4"] {
        let (err, lat) = if host == "c1" { canary } else { (0.2, 100.0) };
        for (metric, value) in [("error_rate", err), ("latency_p95_ms", lat)] {
            body.push_str(&format!(
                "{{\"id\":\"{host}-{metric}-{round}\",\"deployment\":\"DEP-1\",\"target\":\"{host}\",\"step\":\"metrics\",\"status\":\"info\",\"data\":{{\"metric\":\"{metric}\",\"value\":{value}}}}}\n"
            ));
        }
    }
    let reply = server.post("/v1/events", body.as_bytes());
    assert_eq!(reply.json()["accepted"], 8, "{}", reply.body);
}

/// Posts rounds every 200 ms until `done` says so (at most 30 s).
fn feed_until(env: &Env, server: &Server, canary: (f64, f64), done: impl Fn(&Env) -> bool) {
    for round in 0..150 {
        samples(server, round, canary);
        if round % 5 == 4 && done(env) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("the analysis never decided");
}

fn audit(env: &Env) -> String {
    env.run(&["audit", "list", "--deployment", "DEP-1"]).ok().to_owned()
}

#[test]
fn the_receiver_approves_a_passing_canary_as_the_analysis_and_gate_wait_sees_it() {
    let env = Env::new();
    let config = quick_config(&env);
    let server = started(&env, &config);
    let url = format!("http://{}", server.addr);
    let waiter = env.spawn(&[], &["gate", "wait", "DEP-1", "fleet", "--timeout", "60s", "--server", &url]);
    feed_until(&env, &server, (0.3, 110.0), |env| audit(env).contains("shipdeck (analysis)"));
    let waited = crate::support::finish(waiter);
    assert_eq!((waited.code, waited.stdout.trim()), (0, "approved"), "{}", waited.stderr);
    let trail = audit(&env);
    assert!(
        trail.contains("approve  shipdeck (analysis) as automatic")
            && trail.contains("canary analysis pass: error_rate difference: canary 0.3 vs baseline 0.2 = 0.1 ≤ 0.5"),
        "{trail}"
    );
    let status = env.run(&["--config", &config, "status", "DEP-1"]);
    assert!(status.ok().contains("canary analysis: pass · fleet approved by shipdeck (analysis)"), "{}", status.stdout);
    assert!(
        status.stdout.contains("latency_p95_ms ratio: canary 110 vs baseline 100 = 1.1 ≤ 1.2"),
        "{}",
        status.stdout
    );
    let json = env.run(&["status", "DEP-1", "--json"]).json();
    assert_eq!(json["analysis"]["analysis"]["verdict"], "pass");
    assert_eq!(json["analysis"]["gate_phase"], "fleet");
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
}

#[test]
fn the_receiver_halts_a_failing_canary_and_a_person_may_approve_it_anyway_audited() {
    let env = Env::new();
    let config = quick_config(&env);
    let server = started(&env, &config);
    feed_until(&env, &server, (3.0, 100.0), |env| audit(env).contains("halt"));
    let trail = audit(&env);
    assert!(
        trail.contains("shipdeck (analysis)")
            && trail.contains("canary analysis fail: error_rate difference: canary 3 vs baseline 0.2 = 2.8 > 0.5"),
        "{trail}"
    );
    let status = env.run(&["--config", &config, "status", "DEP-1"]);
    assert!(status.ok().contains("[failed]"), "{}", status.stdout);
    assert!(
        status.stdout.contains("canary analysis: fail · deployment halted, waiting for a person"),
        "{}",
        status.stdout
    );
    // lee (an SRE) approves the fleet over the failed analysis: recorded, flagged as an override.
    let lee = [("SHIPDECK_OPERATOR", "lee")];
    let approved =
        env.run_env(&lee, &["--config", &config, "approve", "DEP-1", "fleet", "--comment", "known noisy metric"]);
    assert!(
        approved.ok().contains("gate approved (1 of 1)")
            && approved.stdout.contains("flagged: override of canary analysis fail"),
        "{}",
        approved.stdout
    );
    let json = env.run(&["status", "DEP-1", "--json"]).json();
    assert_eq!(json["status"], "running", "the fleet may start: {json}");
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
}

#[test]
fn status_warns_about_a_metric_no_agent_reports() {
    let env = Env::new();
    let config = quick_config(&env);
    let server = started(&env, &config);
    // Only the error rate is reported.
    for round in 0..15 {
        let body: String = ["c1", "c2"]
            .iter()
            .map(|h| format!("{{\"id\":\"{h}-{round}\",\"deployment\":\"DEP-1\",\"target\":\"{h}\",\"step\":\"metrics\",\"status\":\"info\",\"data\":{{\"metric\":\"error_rate\",\"value\":0.1}}}}\n"))
            .collect();
        assert_eq!(server.post("/v1/events", body.as_bytes()).status, 200);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let status = env.run(&["--config", &config, "status", "DEP-1"]);
    assert!(status.ok().contains("canary analysis: missing metric"), "{}", status.stdout);
    assert!(status.stdout.contains("! no agent reports \"latency_p95_ms\""), "{}", status.stdout);
    assert!(!audit(&env).contains("shipdeck (analysis)"), "never approved on a missing metric");
}

#[test]
fn an_overflowing_metric_value_is_rejected_line_by_line_and_never_passes_a_failing_canary() {
    let env = Env::new();
    let config = quick_config(&env);
    let server = started(&env, &config);
    let line = |id: &str, value: &str| {
        format!(
            "{{\"id\":\"{id}\",\"deployment\":\"DEP-1\",\"target\":\"c1\",\"step\":\"metrics\",\"status\":\"info\",\"data\":{{\"metric\":\"error_rate\",\"value\":{value}}}}}\n"
        )
    };
    let huge = "9".repeat(400);
    let body = [
        line("a", "-1e400"),
        line("b", "1e400"),
        line("c", &huge),
        line("d", "0.9,\"value\":-1e400"),
        line("e", "0.9"),
    ]
    .concat();
    let reply = server.post("/v1/events", body.as_bytes());
    let json = reply.json();
    assert_eq!(json["accepted"], 1, "{}", reply.body);
    let lines: Vec<u64> =
        json["rejected"].as_array().expect("rejected").iter().map(|r| r["line"].as_u64().expect("line")).collect();
    assert_eq!(lines, [1, 2, 3, 4], "{}", reply.body);
    assert!(json["rejected"][0]["error"].to_string().contains("metric sample"), "{}", reply.body);
}
