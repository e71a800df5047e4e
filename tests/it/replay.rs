//! `status KEY --at TIME`: the deployment as it was, replayed from the log, through the binary.

use crate::support;

use support::{Env, event};

fn received_at(env: &Env, key: &str) -> Vec<String> {
    let run = env.run(&["events", key, "--json", "--limit", "100"]);
    run.ok()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["received_at"].as_str().expect("received_at").to_owned()
        })
        .collect()
}

fn pause() {
    // Each step of the story gets its own millisecond on the wall clock.
    std::thread::sleep(std::time::Duration::from_millis(30));
}

#[test]
fn status_at_shows_a_host_failed_then_retried_and_at_the_end_what_status_shows() {
    let env = Env::new();
    // Past its supervised runs: the canary phase has no gate of its own.
    let config = env.path("unsupervised.toml");
    let text = crate::support::built_in_config().replace("[models.canary]\n", "[models.canary]\nsupervised_runs = 0\n");
    std::fs::write(&config, text).expect("writes");
    let c = config.to_str().expect("utf-8").to_owned();
    let args = [
        "--config",
        &c,
        "plan",
        "--release",
        "payments-api@2.4.1",
        "--env",
        "production",
        "--model",
        "canary",
        "--targets",
        "web-01,web-02,web-03",
    ];
    let key = env.run(&args).ok().lines().next().expect("a key").to_owned();
    pause();
    env.run_with_stdin(&["ingest", "-"], &format!("{}\n", event("e1", &key, "web-01", "install", "failed"))).ok();
    pause();
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["retry", &key, "canary", "--comment", "disk cleaned"]).ok();
    pause();
    let again = [event("e2", &key, "web-01", "install", "succeeded"), event("e3", &key, "web-01", "verify", "started")];
    env.run_with_stdin(&["ingest", "-"], &format!("{}\n", again.join("\n"))).ok();
    let times = received_at(&env, &key);
    assert_eq!(times.len(), 3);

    let failed = env.run(&["status", &key, "--at", &times[0], "--json"]).json();
    assert_eq!(failed["at"], times[0].as_str());
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["phases"][0]["status"], "failed");
    assert_eq!(failed["target_list"][0]["status"], "failed");
    assert_eq!(failed["decisions"].as_array().map(Vec::len), Some(0));
    assert_eq!(failed["tail"].as_array().map(Vec::len), Some(1));
    assert_eq!(failed["gates"][0]["phase"], "fleet");
    assert_eq!(failed["gates"][0]["state"], "waiting", "the canary before it has not succeeded");

    // Just before the second attempt: retried, the host starts over.
    let before_second =
        chrono::DateTime::parse_from_rfc3339(&times[1]).expect("time") - chrono::TimeDelta::milliseconds(1);
    let retried = env.run(&["status", &key, "--at", &before_second.to_rfc3339(), "--json"]).json();
    assert_eq!(retried["status"], "planned");
    assert_eq!(retried["target_list"][0]["status"], "pending");
    assert_eq!(retried["decisions"][0]["decision"], "retry");
    assert_eq!(retried["decisions"][0]["person"], "omar");

    // At the end, the same document as `status --json`, plus the replay's own fields.
    let mut end = env.run(&["status", &key, "--at", &times[2], "--json"]).json();
    assert_eq!(end["target_list"][0]["status"], "running");
    let object = end.as_object_mut().expect("object");
    for extra in ["at", "gates", "decisions", "tail"] {
        assert!(object.remove(extra).is_some(), "{extra}");
    }
    // `status --json` adds a canary's live analysis, which a replay does not fold.
    let mut now = env.run(&["status", &key, "--json"]).json();
    assert!(now.as_object_mut().expect("object").remove("analysis").is_some(), "a canary has its analysis");
    assert_eq!(end, now);

    let text = env.run(&["status", &key, "--at", &times[0]]).ok().to_owned();
    assert!(text.starts_with("replay at "), "{text}");
    assert!(text.contains(&format!("{key}  payments-api@2.4.1 -> production  [failed]")), "{text}");
    assert!(text.contains("web-01                   failed     install failed"), "{text}");
}

#[test]
fn status_at_refuses_a_time_that_does_not_parse_is_before_the_plan_or_in_the_future() {
    let env = Env::new();
    let key = env.plan("canary", 3);
    let cases = [
        ("yesterday", "--at \"yesterday\" is not a time"),
        ("2001-01-01T00:00:00Z", "--at \"2001-01-01T00:00:00Z\" is before DEP-1 was planned"),
        ("2999-01-01T00:00:00Z", "--at \"2999-01-01T00:00:00Z\" is in the future"),
    ];
    for (given, said) in cases {
        let run = env.run(&["status", &key, "--at", given]);
        assert_eq!(run.code, 2, "{given}: {}", run.stderr);
        assert!(run.stderr.contains(said), "{given}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "one sentence: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    let unknown = env.run(&["status", "DEP-9", "--at", "2026-01-01T00:00:00Z"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("DEP-9"), "{}", unknown.stderr);
}

/// The dashboard in a real terminal: `T` opens the replay, `←` steps back over the failure and
/// the heatmap follows, a decision key is refused, `Esc` is live again.
#[test]
fn the_dashboard_replays_a_deployment_in_a_real_terminal() {
    let env = Env::new();
    let key = env.plan("canary", 3);
    pause();
    env.run_with_stdin(&["ingest", "-"], &format!("{}\n", event("e1", &key, "web-01", "install", "started"))).ok();
    pause();
    env.run_with_stdin(&["ingest", "-"], &format!("{}\n", event("e2", &key, "web-01", "install", "failed"))).ok();
    let bin = env!("CARGO_BIN_EXE_shipdeck");
    let command = format!("SHIPDECK_OPERATOR=omar {bin} --db {}; sleep 30", env.db.display());
    let t = support::tmux::Tmux::start("replay-e2e", 120, 30, &command);
    t.wait_for("Hosts 3 ✗1 ·2");

    t.keys(&["T"]);
    // The cursor stands after the last of two happenings: the present.
    let replay = t.wait_for(" 2/2 ");
    assert!(replay.contains("REPLAY") && replay.contains("Hosts 3 ✗1 ·2"), "{replay}");
    t.keys(&["Left"]);
    let started = t.wait_for("Hosts 3 ●1 ·2");
    assert!(started.contains(" 1/2 "), "{started}");
    t.keys(&["Left"]);
    t.wait_for("Hosts 3 ·3");
    t.keys(&["Right", "Right"]);
    t.wait_for("Hosts 3 ✗1 ·2");

    t.keys(&["R"]);
    t.wait_for("replay shows the past");
    t.keys(&["Escape"]);
    // Live again: the replay's marks leave the screen, the present stays.
    let live = t.wait_gone("REPLAY");
    assert!(live.contains("Hosts 3 ✗1 ·2"), "live again:\n{live}");
    t.keys(&["q"]);
}
