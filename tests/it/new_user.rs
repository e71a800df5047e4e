//! What a new user trips over: inputs that used to slip through without a word.

use crate::support;

use support::Env;

fn plan_with_targets(env: &Env, targets: &str) -> support::Run {
    env.run(&["plan", "--release", "api@1", "--env", "production", "--model", "phased", "--targets", targets])
}

#[test]
fn targets_that_look_like_a_missing_file_or_a_folder_are_refused_by_name() {
    let env = Env::new();
    let folder = env.dir.path().to_str().expect("utf-8").to_owned();
    for bad in ["hosts.txt", "/no/such/dir/hosts.txt", "fleet.csv", "inventory.toml", folder.as_str()] {
        let run = plan_with_targets(&env, bad);
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("\"{bad}\"")), "{bad}: {}", run.stderr);
    }
    assert!(!env.db.exists(), "nothing was planned");
    // A host list stays a host list, and a single host name is a host.
    plan_with_targets(&env, "web-01,web-02,web-03").ok();
    let one = plan_with_targets(&env, "web-09");
    assert_eq!(one.code, 0, "{}", one.stderr);
}

fn help(env: &Env, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    env.run(&all).ok().to_owned()
}

#[test]
fn help_texts_say_what_the_commands_do() {
    let env = Env::new();
    for stop in ["abort", "rollback"] {
        let text = help(&env, &[stop]);
        assert!(text.contains("--reason"), "{text}");
        assert!(!text.contains("freeze"), "{stop} --help: a stop is never held back by a freeze: {text}");
    }
    assert!(help(&env, &["retry"]).contains("during a freeze"));
    let demo = help(&env, &["demo"]);
    assert!(demo.contains("demo: a new temporary folder"), "{demo}");
    // The help promises what exists: failure reviews, now that they do.
    let top = help(&env, &[]);
    for command in ["history", "review", "report"] {
        assert!(top.contains(&format!("\n  {command} ")), "{command} missing: {top}");
    }
    assert!(top.contains("failure reviews"), "{top}");
}

#[test]
fn errors_say_what_to_do() {
    let env = Env::new();
    let no_log = env.run(&["list"]);
    assert_eq!(no_log.code, 2, "{}", no_log.stderr);
    assert!(
        no_log.stderr.contains("`shipdeck plan` creates it") && !no_log.stderr.contains("shipdeck demo"),
        "the demo never creates this log: {}",
        no_log.stderr
    );
    env.plan("phased", 3);
    let typo = env.run(&["list", "--status", "faild"]);
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("\"faild\" (one of planned, running, awaiting_approval"), "{}", typo.stderr);
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}");
    let emit = env.run(&["emit", "--server", &url, "--deployment", "DEP-1", "--step", "install", "--status", "info"]);
    assert_eq!(emit.code, 1, "{}", emit.stderr);
    assert!(emit.stderr.contains(&format!("nothing listens at {url}")), "{}", emit.stderr);
}

#[test]
fn config_check_counts_in_words() {
    let env = Env::new();
    let file = env.path("one.toml");
    std::fs::write(
        &file,
        "[[people]]\nname = \"a\"\n[[windows]]\nname = \"w\"\ndays = [\"mon\"]\nstart = \"18:00\"\nend = \"20:00\"\n\
         [[freezes]]\nname = \"f\"\nfrom = \"2026-12-20T00:00\"\nuntil = \"2026-12-21T00:00\"\n",
    )
    .expect("writes");
    let out = env.run(&["config", "check", file.to_str().expect("utf-8")]);
    let text = out.ok();
    assert!(text.contains("1 person, 0 stakeholder rules") && text.contains("1 window, 1 freeze,"), "{text}");
}

#[test]
fn gate_wait_on_a_receiver_says_where_the_gate_stands_before_it_changes() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    let server = env.serve();
    let url = format!("http://{}", server.addr);
    let run = env.run(&["gate", "wait", &key, "pilot", "--server", &url, "--timeout", "1s"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{key} pilot: pending (0 of 1 approvals), deployment awaiting_approval")),
        "{}",
        run.stderr
    );
}

#[test]
fn an_undeclared_environment_is_refused_listing_the_declared_ones() {
    let env = Env::new();
    let run = env.run(&["plan", "--release", "api@1", "--env", "prod", "--model", "phased", "--targets", "a,b,c"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown environment \"prod\" (declared: production, dr-site, staging)"),
        "{}",
        run.stderr
    );
    assert!(!env.db.exists(), "nothing was planned");
    let file = env.path("typo.toml");
    let shipped = env.run(&["config", "default"]).ok().to_owned();
    std::fs::write(&file, shipped.replace("environments = [\"production\"]\ndays", "environments = [\"prod\"]\ndays"))
        .expect("writes");
    let check = env.run(&["config", "check", file.to_str().expect("utf-8")]);
    assert_eq!(check.code, 2, "{}", check.stdout);
    assert!(check.stderr.contains("key \"windows[0].environments\": unknown environment \"prod\""), "{}", check.stderr);
}

#[test]
fn config_check_and_the_dashboard_refuse_clashing_keys_alike_with_exit_2() {
    let env = Env::new();
    let file = env.path("keys.toml");
    let shipped = env.run(&["config", "default"]).ok().to_owned();
    std::fs::write(&file, shipped.replace("# filter = \"f\"", "filter = \"q\"")).expect("writes");
    let path = file.to_str().expect("utf-8");
    let check = env.run(&["config", "check", path]);
    assert_eq!(check.code, 2, "{}", check.stdout);
    assert!(
        check.stderr.contains("key \"dashboard.keys.filter\": key \"q\" is bound to both filter and quit"),
        "{}",
        check.stderr
    );
    env.plan("phased", 2);
    let dashboard = env.run(&["--config", path, "tui"]);
    assert_eq!(dashboard.code, 2, "{}", dashboard.stderr);
    assert_eq!(dashboard.stderr, check.stderr, "the same validation, the same words");
}

/// A team whose gate may only be approved in a one-off window far ahead.
const LATER: &str = r#"
timezone = "UTC"
[[environments]]
name = "production"
[[people]]
name = "dana"
roles = ["dm"]
[[people]]
name = "omar"
roles = ["dm"]
[models.gated]
technique = "pilot"
steps = ["install"]
[[models.gated.phases]]
name = "pilot"
targets = "rest"
gate = { approvals = 1, roles = ["dm"], windows = ["later"] }
[[windows]]
name = "later"
from = "2099-01-01T00:00"
until = "2099-01-02T00:00"
[schedule]
override_roles = ["dm"]
"#;

#[test]
fn gate_show_lists_every_rule_still_missing_and_refusals_name_when_all_hold() {
    let env = Env::new();
    let config = env.path("later.toml");
    std::fs::write(&config, LATER).expect("writes");
    let c = config.to_str().expect("utf-8");
    let plan = env.run(&[
        "--config",
        c,
        "plan",
        "--release",
        "api@1",
        "--env",
        "production",
        "--model",
        "gated",
        "--targets",
        "a,b",
        "--requested-by",
        "dana",
        "--start",
        "2098-06-01T00:00:00Z",
        // The start is outside every window on purpose: planning it takes an override.
        "--force",
        "--reason",
        "the window is what this test is about",
    ]);
    plan.ok();
    let show = env.run(&["--config", c, "gate", "show", "DEP-1", "pilot"]);
    let missing: Vec<&str> = show.ok().lines().filter(|l| l.starts_with("missing: ")).collect();
    assert_eq!(
        missing,
        vec![
            "missing: 1 approval(s)",
            "missing: the planned start, 2098-06-01 00:00 UTC",
            "missing: a change window: later opens 2099-01-01 00:00 UTC",
            "missing: every time rule holds from 2099-01-01 00:00 UTC",
        ],
        "{}",
        show.stdout
    );
    let refused = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["--config", c, "approve", "DEP-1", "pilot"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "the deployment is planned to start at 2098-06-01 00:00 UTC; with every time rule, approval is possible from 2099-01-01 00:00 UTC"
        ),
        "{}",
        refused.stderr
    );
    let inbox = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["--config", c, "gate", "inbox"]);
    assert!(inbox.ok().contains("approval is possible from 2099-01-01 00:00 UTC"), "{}", inbox.stdout);
}

#[test]
fn a_short_target_list_keeps_every_gate_and_plan_says_where_it_went() {
    let env = Env::new();
    let run = env.run(&[
        "plan",
        "--release",
        "api@1",
        "--env",
        "production",
        "--model",
        "phased",
        "--targets",
        "web-01",
        "--requested-by",
        "dana",
    ]);
    let out = run.ok();
    assert!(
        out.contains(
            "note: 1 target(s) cannot fill the 3 phases of model phased: wave-1, wave-2 get(s) none; the gate of \
             wave-1, wave-2 applies to pilot, which now needs the strictest of them: 2 approval(s) from \
             deployment_manager or service_owner, bake 10m, windows weekday-evenings, weekend-nights"
        ),
        "{out}"
    );
    let gate = env.run(&["gate", "show", "DEP-1", "pilot", "--json"]).json();
    assert_eq!(gate["required"], 2, "{gate}");
    assert_eq!(gate["policy"]["windows"], serde_json::json!(["weekday-evenings", "weekend-nights"]));
}

#[test]
fn events_are_listed_by_when_they_happened_not_when_they_arrived() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    let line = |id: &str, target: &str, step: &str, at: &str| {
        format!(
            r#"{{"id":"{id}","deployment":"{key}","target":"{target}","step":"{step}","status":"succeeded","at":"{at}"}}"#
        )
    };
    let ndjson = [
        line("a", "web-01", "install", "2026-11-20T10:05:00Z"),
        line("b", "web-02", "install", "2026-11-20T10:01:00Z"),
        line("c", "web-01", "verify", "2026-11-20T10:09:00Z"),
        line("d", "web-02", "verify", "2026-11-20T10:05:00Z"),
    ]
    .join("\n");
    // Events a week old are believable only with a clock skew that wide (the default refuses
    // them as before the deployment was planned).
    let config = env.path("skew.toml");
    let shipped = env.run(&["config", "default"]).ok().to_owned();
    std::fs::write(&config, shipped.replace("clock_skew = \"5m\"", "clock_skew = \"30d\"")).expect("writes");
    let config = config.display().to_string();
    env.run_with_stdin(&["--config", &config, "ingest", "-"], &ndjson).ok();
    let ids: Vec<String> = env.event_ids(&key);
    assert_eq!(ids, vec!["b", "a", "d", "c"], "by `at`, arrival breaking the tie of a and d");
    let text = env.run(&["events", &key]).ok().to_owned();
    let first = text.lines().next().expect("a line");
    assert!(first.starts_with("2026-11-20 11:01:00") || first.starts_with("11-20 11:01:00"), "{text}");
}

/// The README's walk-through runs on `assets/walkthrough.toml`: it is valid and plans as shown.
#[test]
fn the_walk_through_config_plans_as_the_readme_shows() {
    let env = Env::new();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/walkthrough.toml");
    env.run(&["config", "check", config]).ok();
    let targets = "web-01,web-02,web-03,web-04,web-05,web-06,web-07,web-08,web-09,web-10";
    let run = env.run_env(
        &[("SHIPDECK_OPERATOR", "sam")],
        &[
            "--config",
            config,
            "plan",
            "--release",
            "payments-api@2.4.1",
            "--env",
            "production",
            "--model",
            "phased",
            "--targets",
            targets,
            "--change",
            "CHG-1042",
        ],
    );
    let readme = include_str!("../../README.md");
    for line in run.ok().lines() {
        assert!(readme.contains(&format!("# {line}")), "the README shows `{line}`");
    }
}

/// The README's pictures of the dashboard are the views' snapshots, as the tests draw them: a
/// change to a view that the README does not follow fails here.
#[test]
fn the_readme_pictures_are_the_views_snapshots() {
    let readme = include_str!("../../README.md");
    for (name, snapshot) in [
        (
            "metrics",
            include_str!("../../src/tui/tests/snapshots/shipdeck__tui__tests__metrics__metrics_kpis_80x24.snap"),
        ),
        ("replay", include_str!("../../src/tui/tests/snapshots/shipdeck__tui__tests__replay__replay_80x24.snap")),
    ] {
        // The snapshot's picture follows its header (between two `---` lines).
        let picture = snapshot.splitn(3, "---\n").nth(2).unwrap_or_else(|| panic!("{name}: no picture"));
        assert!(picture.lines().count() >= 24, "{name}: a whole 80x24 screen");
        assert!(readme.contains(&format!("```text\n{picture}```")), "the README shows the {name} view as drawn");
    }
}
