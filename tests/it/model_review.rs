//! `shipdeck models review` against the real binary and a real log: the numbers and a
//! suggestion in JSON, recording it as an improvement action (and the input it refuses), and
//! marking that action done.

use crate::support;

use support::Env;

/// Six big-bang runs of web-01, web-02 where web-02's install fails: the install step caused
/// every failed host.
fn log() -> Env {
    let env = Env::new();
    // Past its supervised runs: the model's own shape (no gate), so the review has no gate wait.
    let config = env.path("unsupervised.toml");
    let text = support::built_in_config().replace("[models.big-bang]\n", "[models.big-bang]\nsupervised_runs = 0\n");
    std::fs::write(&config, text).expect("writes");
    let c = config.to_str().expect("utf-8").to_owned();
    for _ in 0..6 {
        let args = [
            "--config",
            &c,
            "plan",
            "--release",
            "payments-api@2.4.1",
            "--env",
            "production",
            "--model",
            "big-bang",
            "--targets",
            "web-01,web-02",
        ];
        let key = env.run(&args).ok().lines().next().expect("a key").to_owned();
        let mut lines = Vec::new();
        for (host, steps) in [
            ("web-01", &[("install", "succeeded"), ("verify", "succeeded")][..]),
            ("web-02", &[("install", "failed")][..]),
        ] {
            for (step, status) in steps {
                lines.push(format!(
                    r#"{{"id":"{key}-{host}-{step}","deployment":"{key}","target":"{host}","step":"{step}","status":"{status}","message":"No space left on device (free 12 MB)"}}"#
                ));
            }
        }
        env.run_with_stdin(&["ingest", "-"], &(lines.join("\n") + "\n")).ok();
    }
    env
}

#[test]
fn models_review_json_has_the_numbers_and_the_suggestion_that_they_trigger() {
    let env = log();
    let r = env.run(&["models", "review", "--json"]).json();
    for field in ["from", "until", "model", "models", "suggestions"] {
        assert!(r.get(field).is_some(), "{field} missing: {r}");
    }
    let m = &r["models"][0];
    assert_eq!(m["model"], "big-bang");
    assert_eq!(
        (m["runs"].as_u64(), m["succeeded"].as_u64(), m["success_rate"].as_f64()),
        (Some(6), Some(0), Some(0.0))
    );
    assert_eq!(m["phases"][0]["name"], "all");
    assert_eq!((m["phases"][0]["failed_runs"].as_u64(), m["phases"][0]["failed_hosts"].as_u64()), (Some(6), Some(6)));
    assert_eq!(m["failing_steps"], serde_json::json!([{ "name": "install", "count": 6 }]));
    assert_eq!(m["error_groups"][0]["count"], 6);
    assert!(m["gates"].as_array().is_some_and(Vec::is_empty));
    let s = &r["suggestions"][0];
    assert_eq!(
        (s["n"].as_u64(), s["model"].as_str(), s["rule"].as_str(), s["subject"].as_str()),
        (Some(1), Some("big-bang"), Some("failing_step"), Some("install"))
    );
    assert_eq!(s["numbers"], serde_json::json!({ "failed_hosts": 6.0, "share": 1.0, "step_failed_hosts": 6.0 }));
    assert!(s["why"].as_str().is_some_and(|w| w.contains("install caused 6 of 6 failed hosts (100%)")), "{s}");

    let text = env.run(&["models", "review", "--model", "big-bang"]);
    assert!(text.ok().contains("big-bang: 6 runs, success 0.0%"), "{}", text.stdout);
    assert!(text.stdout.contains("  1. big-bang: harden the install step"), "{}", text.stdout);
    let none = env.run(&["models", "review", "--model", "phased"]);
    assert!(
        none.ok().contains("no deployments in this period") && none.stdout.contains("no suggestions"),
        "{}",
        none.stdout
    );
    for (args, named) in [
        (&["models", "review", "--model", "yolo"][..], "\"yolo\""),
        (&["models", "review", "--since", "soon"][..], "\"soon\""),
    ] {
        let bad = env.run(args);
        assert_eq!(bad.code, 2, "{args:?}: {}", bad.stderr);
        assert!(bad.stderr.contains(named), "{}", bad.stderr);
    }
}

#[test]
fn a_suggestion_recorded_becomes_an_improvement_action_and_bad_input_records_nothing() {
    let env = log();
    let as_dana = [("SHIPDECK_OPERATOR", "dana")];
    let record = |n: &str, owner: &str, due: &str| {
        env.run_env(&as_dana, &["models", "review", "--record", n, "--owner", owner, "--due", due])
    };
    for (run, named) in [
        (record("1", "ghost", "2099-12-31"), "owner \"ghost\" is not a person of the log's team"),
        (record("1", "priya", "next week"), "due date \"next week\" is not a date"),
        (record("1", "priya", "2020-01-01"), "due date 2020-01-01 is in the past"),
        (record("7", "priya", "2099-12-31"), "--record 7: this review has 1 suggestion(s)"),
    ] {
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(named), "{named}: {}", run.stderr);
    }
    // Nobody the team knows may record one.
    let stranger = env.run_env(
        &[("SHIPDECK_OPERATOR", "mallory")],
        &["models", "review", "--record", "1", "--owner", "priya", "--due", "2099-12-31"],
    );
    assert_eq!(stranger.code, 1, "{}", stranger.stderr);
    let listed = env.run(&["models", "actions", "--json"]).json();
    assert_eq!(listed, serde_json::json!([]), "nothing was recorded");
    let read_only = env.run_env(
        &as_dana,
        &["--read-only", "models", "review", "--record", "1", "--owner", "priya", "--due", "2099-12-31"],
    );
    assert_ne!(read_only.code, 0);

    let ok = record("1", "priya", "2099-12-31");
    assert!(ok.ok().contains("recorded: big-bang action 1, owner priya, due 2099-12-31, by dana"), "{}", ok.stdout);
    let listed = env.run(&["models", "actions", "--json"]).json();
    let a = &listed[0];
    assert_eq!(
        (a["model"].as_str(), a["n"].as_u64(), a["owner"].as_str(), a["due"].as_str()),
        (Some("big-bang"), Some(1), Some("priya"), Some("2099-12-31"))
    );
    assert!(a["deployment"].is_null() && a["done_at"].is_null(), "{a}");
    assert!(a["text"].as_str().is_some_and(|t| t.starts_with("big-bang: harden the install step")), "{a}");
    // The same open actions as failure reviews'.
    let open = env.run(&["review", "list", "--open-actions"]);
    assert!(open.ok().contains("model big-bang #1  due 2099-12-31  priya  big-bang: harden"), "{}", open.stdout);

    let done = env.run_env(&[("SHIPDECK_OPERATOR", "priya")], &["models", "action", "big-bang", "1", "--done"]);
    assert!(done.ok().contains("big-bang action 1 marked done by priya"), "{}", done.stdout);
    let a = env.run(&["models", "actions", "--json"]).json();
    assert_eq!(a[0]["done_by"], "priya");
    assert!(a[0]["done_at"].is_string());
    assert!(env.run(&["review", "list", "--open-actions"]).ok().contains("no open improvement actions"));
    let missing = env.run_env(&as_dana, &["models", "action", "big-bang", "4", "--done"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("model \"big-bang\" has no improvement action 4"), "{}", missing.stderr);
}
