//! Blue/green (`parallel`) switch-overs and supervised runs, as a pipeline and a deployment
//! manager meet them: `shipdeck switch`, `gate wait` for the switch and the switch back, the
//! `switch` record in the deployment document, and the first runs of a new model supervised.

use crate::support::{Env, built_in_config, event, finish, first_stderr_line};

/// 3 blue (live) and 3 green (idle) hosts.
const SLOTS_CSV: &str = "name,slot,rack\nb1,blue,r1\nb2,blue,r2\nb3,blue,r3\ng1,green,r1\ng2,green,r2\ng3,green,r3\n";

/// The built-in config with the parallel model's bake removed, `keep_old` as given and no
/// supervision (tested on its own below).
fn config(env: &Env, keep_old: &str) -> String {
    let text = built_in_config()
        .replace(
            "switch = { approvals = 1, roles = [\"deployment_manager\", \"service_owner\"], bake = \"10m\" }",
            "switch = { approvals = 1, roles = [\"deployment_manager\", \"service_owner\"] }\nsupervised_runs = 0",
        )
        .replace("keep_old = \"2h\"", &format!("keep_old = \"{keep_old}\""));
    assert!(text.contains("supervised_runs = 0"), "the shipped parallel model changed: adapt this test");
    let path = env.path("bluegreen.toml");
    std::fs::write(&path, text).expect("writes");
    path.to_str().expect("utf-8").to_owned()
}

fn plan_parallel(env: &Env, config: &str) -> String {
    let csv = env.path("slots.csv");
    std::fs::write(&csv, SLOTS_CSV).expect("writes");
    let run = env.run(&[
        "--config",
        config,
        "plan",
        "--release",
        "web@2.0.0",
        "--env",
        "production",
        "--model",
        "parallel",
        "--targets",
        csv.to_str().expect("utf-8"),
        "--requested-by",
        "sam",
    ]);
    let out = run.ok();
    assert!(out.contains("  1. green             3 targets"), "{out}");
    assert!(out.contains("  2. switch            0 targets, failure budget 0, gate: 1 approval(s)"), "{out}");
    assert!(
        out.contains("old set: 3 target(s) keep the old release and the traffic until `shipdeck switch DEP-1`; kept"),
        "{out}"
    );
    out.lines().next().expect("key").to_owned()
}

fn green_succeeds(server: &crate::support::Server, key: &str) {
    let body: String =
        ["g1", "g2", "g3"].iter().map(|h| event(&format!("{h}-v"), key, h, "verify", "succeeded") + "\n").collect();
    assert_eq!(server.post("/v1/events", body.as_bytes()).status, 200);
}

fn switch(env: &Env, config: &str, who: &str, extra: &[&str]) -> crate::support::Run {
    env.run_env(&[("SHIPDECK_OPERATOR", who)], &[&["--config", config, "switch", "DEP-1"][..], extra].concat())
}

#[test]
fn switch_over_and_switch_back_through_gate_wait() {
    let env = Env::new();
    let c = config(&env, "2h");
    let key = plan_parallel(&env, &c);
    let server = env.serve();
    let url = format!("http://{}", server.addr);

    // Only the green set deploys; blue keeps the traffic until the switch.
    let doc = server.get(&format!("/v1/deployments/{key}")).json();
    assert_eq!(doc["switch"]["live"], "old");
    assert_eq!(doc["switch"]["state"], "before");
    assert_eq!(doc["switch"]["old_targets"], serde_json::json!(["b1", "b2", "b3"]));
    assert_eq!(doc["switch"]["new_set"], "slot=green");

    // A pipeline waits for the switch-over through the receiver.
    let mut waiter = env.spawn(&[], &["gate", "wait", &key, "switch", "--timeout", "60s", "--server", &url]);
    let first = first_stderr_line(&mut waiter);
    assert!(first.contains("switch: waiting"), "{first}");
    // Before green succeeded, nobody may switch: the gate is still waiting.
    let early = switch(&env, &c, "omar", &[]);
    assert_eq!(early.code, 1, "{}", early.stderr);
    assert!(early.stderr.contains("the gate is waiting"), "{}", early.stderr);
    green_succeeds(&server, &key);
    // The requester may not switch their own deployment (no self-approval); a dry run changes nothing.
    let own = switch(&env, &c, "sam", &[]);
    assert_eq!(own.code, 1);
    assert!(own.stderr.contains("sam holds none of the roles"), "{}", own.stderr);
    let dry = switch(&env, &c, "omar", &["--dry-run"]);
    assert!(
        dry.ok().starts_with("dry run, nothing written: would record: DEP-1 switch approve by omar"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("would notify"), "{}", dry.stdout);
    assert_eq!(env.run(&["status", &key, "--json"]).json()["switch"]["live"], "old", "a dry run switches nothing");

    let over = switch(&env, &c, "omar", &["--comment", "green error rate as blue's for 15 minutes"]);
    assert!(
        over.ok().contains("recorded: DEP-1 switch approve by omar as deployment_manager: gate approved (1 of 1)"),
        "{}",
        over.stdout
    );
    assert!(
        over.stdout
            .contains("traffic goes to the new set (slot=green, 3 target(s)); the old set (3 target(s)) is kept until"),
        "{}",
        over.stdout
    );
    let waited = finish(waiter);
    assert_eq!((waited.code, waited.stdout.trim()), (0, "approved"), "{}", waited.stderr);
    let status = env.run(&["status", &key, "--json"]).json();
    assert_eq!((status["status"].as_str(), status["switch"]["live"].as_str()), (Some("succeeded"), Some("new")));
    assert_eq!(status["switch"]["state"], "switched");
    assert!(status["switch"]["old_kept_until"].is_string());
    assert!(
        env.run(&["status", &key]).ok().contains("switch: traffic on the new set green"),
        "status says where traffic is"
    );

    // The Approvals inbox offers the switch back while the old set is kept, checked by the
    // switch-back rule: omar may, lee (no recovery role, not the requester) may not.
    let switched = |who: &str| -> Option<serde_json::Value> {
        let inbox = env.run_env(&[("SHIPDECK_OPERATOR", who)], &["--config", &c, "gate", "inbox", "--json"]).json();
        inbox.as_array().expect("items").iter().find(|i| i["kind"] == "switched").cloned()
    };
    let offered = switched("omar").expect("the switch back is offered");
    assert_eq!((offered["phase"].as_str(), &offered["offers"]), (Some("switch"), &serde_json::json!(["rollback"])));
    assert!(offered["blocked"].is_null() && offered["switch"]["old_targets"].is_array(), "{offered}");
    let lee = switched("lee").expect("listed for others too");
    assert!(lee["blocked"].to_string().contains("lee"), "{lee}");

    // Then the pipeline waits for a switch back, locally this time.
    let mut back_waiter = env.spawn(&[], &["gate", "wait", &key, "switch", "--back", "--timeout", "60s"]);
    first_stderr_line(&mut back_waiter);
    let back = switch(&env, &c, "omar", &["--back", "--reason", "checkout errors on green"]);
    assert!(
        back.ok().contains("recorded: DEP-1 switch rollback by omar as deployment_manager: deployment rolled back"),
        "{}",
        back.stdout
    );
    assert!(back.stdout.contains("traffic goes back to the old set (3 target(s))"), "{}", back.stdout);
    let waited = finish(back_waiter);
    assert_eq!((waited.code, waited.stdout.trim()), (0, "switched back"), "{}", waited.stderr);
    // The plain wait now says so too, through the receiver: exit 1.
    let after = env.run(&["gate", "wait", &key, "switch", "--server", &url]);
    assert_eq!(after.code, 1);
    assert!(after.stderr.contains("traffic was switched back to the old set"), "{}", after.stderr);
    let doc = server.get(&format!("/v1/deployments/{key}")).json();
    assert_eq!(
        (doc["status"].as_str(), doc["switch"]["live"].as_str(), doc["switch"]["state"].as_str()),
        (Some("rolled_back"), Some("old"), Some("switched_back"))
    );
    assert_eq!(switched("omar"), None, "switched back: nothing left to offer");
    // Once is enough; the audit trail has both decisions with who and why.
    let again = switch(&env, &c, "omar", &["--back"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("traffic was already switched back to the old set"), "{}", again.stderr);
    let audit = env.run(&["audit", "list", "--deployment", &key]).ok().to_owned();
    assert!(
        audit.contains("switch") && audit.contains("rollback") && audit.contains("checkout errors on green"),
        "{audit}"
    );
}

#[test]
fn the_old_set_is_released_after_keep_old_and_a_switch_back_is_then_refused() {
    let env = Env::new();
    let c = config(&env, "2s");
    let key = plan_parallel(&env, &c);
    let server = env.serve();
    let url = format!("http://{}", server.addr);
    // Switching back before any switch is refused, naming why.
    let none = switch(&env, &c, "omar", &["--back"]);
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("traffic has not been switched to the new set yet"), "{}", none.stderr);
    green_succeeds(&server, &key);
    switch(&env, &c, "omar", &[]).ok();
    // A pipeline waiting for a switch back learns that none can come once the old set is released.
    let waited = env.run(&["gate", "wait", &key, "switch", "--back", "--timeout", "60s", "--server", &url]);
    assert_eq!(waited.code, 1, "{}", waited.stderr);
    assert!(waited.stderr.contains("the old set was released"), "{}", waited.stderr);
    let late = switch(&env, &c, "omar", &["--back"]);
    assert_eq!(late.code, 1);
    assert!(
        late.stderr.contains("the old set was released at") && late.stderr.contains("2s after the switch-over"),
        "{}",
        late.stderr
    );
    let doc = server.get(&format!("/v1/deployments/{key}")).json();
    assert_eq!(
        (doc["switch"]["state"].as_str(), doc["switch"]["old_released"].as_bool()),
        (Some("released"), Some(true))
    );
    assert!(env.run(&["status", &key]).ok().contains("was released at"));
    // --back on a gate that is not a switch-over, and switch on a deployment that is not parallel.
    let phased = env.plan("phased", 4);
    let not = env.run(&["gate", "wait", &phased, "wave-1", "--back"]);
    assert_eq!(not.code, 2);
    assert!(not.stderr.contains("is not the switch gate of a parallel deployment"), "{}", not.stderr);
    let not = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["switch", &phased]);
    assert_eq!(not.code, 2);
    assert!(not.stderr.contains("is not a parallel (blue/green) deployment"), "{}", not.stderr);
}

#[test]
fn a_parallel_model_without_an_old_set_or_a_known_label_is_refused_at_plan_time() {
    let env = Env::new();
    let c = config(&env, "2h");
    let only_green = env.path("green.csv");
    std::fs::write(&only_green, "name,slot\ng1,green\ng2,green\n").expect("writes");
    let run = env.run(&[
        "--config",
        &c,
        "plan",
        "--release",
        "web@2",
        "--env",
        "production",
        "--model",
        "parallel",
        "--targets",
        only_green.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("every target matches new = \"slot=green\""), "{}", run.stderr);
    let run = env.run(&[
        "--config",
        &c,
        "plan",
        "--release",
        "web@2",
        "--env",
        "production",
        "--model",
        "parallel",
        "--targets",
        "a,b",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("selects by label \"slot\", which no target carries"), "{}", run.stderr);
    assert_eq!(env.run(&["list", "--json"]).json(), serde_json::json!([]), "nothing was planned");
    // config check: a parallel model needs `new`; `keep_old` belongs to parallel models only.
    let bad = env.path("bad.toml");
    std::fs::write(&bad, built_in_config().replace("new = \"slot=green\"\n", "")).expect("writes");
    let check = env.run(&["config", "check", bad.to_str().expect("utf-8")]);
    assert_eq!(check.code, 2);
    assert!(check.stderr.contains("parallel model \"parallel\" needs new = \"slot=green\""), "{}", check.stderr);
    std::fs::write(&bad, built_in_config().replace("[models.canary]\n", "[models.canary]\nkeep_old = \"1h\"\n"))
        .expect("writes");
    let check = env.run(&["config", "check", bad.to_str().expect("utf-8")]);
    assert_eq!(check.code, 2);
    assert!(
        check.stderr.contains("new, switch and keep_old are for parallel models; \"canary\" is canary"),
        "{}",
        check.stderr
    );
    std::fs::write(&bad, built_in_config().replace("keep_old = \"2h\"", "keep_old = \"0s\"")).expect("writes");
    let check = env.run(&["config", "check", bad.to_str().expect("utf-8")]);
    assert_eq!(check.code, 2);
    assert!(check.stderr.contains("keep_old \"0s\" must be longer than 0s"), "{}", check.stderr);
}

/// The built-in config with the rolling model supervised for its first 2 runs, and `extra`
/// lines added to it (a change of the model's definition).
fn supervised_config(env: &Env, extra: &str) -> String {
    let path = env.path("supervised.toml");
    let text =
        built_in_config().replace("[models.rolling]\n", &format!("[models.rolling]\nsupervised_runs = 2\n{extra}"));
    std::fs::write(&path, text).expect("writes");
    path.to_str().expect("utf-8").to_owned()
}

fn plan_rolling(env: &Env, config: &str, hosts: &[String]) -> crate::support::Run {
    env.run(&[
        "--config",
        config,
        "plan",
        "--release",
        "svc@1.0.0",
        "--env",
        "production",
        "--model",
        "rolling",
        "--targets",
        &hosts.join(","),
        "--requested-by",
        "sam",
    ])
}

fn undrained(key: &str, hosts: &[String], nonce: &str) -> String {
    hosts.iter().map(|h| event(&format!("{h}-{nonce}"), key, h, "undrain", "succeeded") + "\n").collect()
}

#[test]
fn supervised_runs_of_a_new_or_changed_model_need_a_person_at_every_phase() {
    let env = Env::new();
    let c = supervised_config(&env, "");
    let hosts: Vec<String> = (1..=15).map(|i| format!("h{i:02}")).collect();
    let run = plan_rolling(&env, &c, &hosts);
    assert!(
        run.ok().contains(
            "supervised run 1 of 2: model rolling is new or changed, so every phase needs a person's approval"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  1. batch-1          10 targets, failure budget 1, gate: 1 approval(s)"),
        "{}",
        run.stdout
    );
    let status = env.run(&["status", "DEP-1"]);
    assert!(status.ok().contains("supervised (1 of 2)"), "{}", status.stdout);
    assert_eq!(env.run(&["status", "DEP-1", "--json"]).json()["supervised"], serde_json::json!({"run": 1, "of": 2}));
    assert_eq!(
        env.run(&["status", "DEP-1", "--json"]).json()["status"],
        "awaiting_approval",
        "even the first batch waits"
    );

    // The receiver runs the automation, yet batch-2 waits for a person after batch-1 succeeded.
    let server = env.serve();
    let as_omar =
        |args: &[&str]| env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &[&["--config", &c][..], args].concat());
    as_omar(&["approve", "DEP-1", "batch-1"]).ok();
    assert_eq!(server.post("/v1/events", undrained("DEP-1", &hosts[..10], "a").as_bytes()).status, 200);
    let waited = env.run(&["gate", "wait", "DEP-1", "batch-2", "--timeout", "2s"]);
    assert_eq!(waited.code, 3, "no automatic approval in a supervised run: {}", waited.stdout);
    assert!(!env.run(&["audit", "list", "--deployment", "DEP-1"]).ok().contains("shipdeck (rolling)"));
    // The requester may not approve it either (a supervised batch is no self-approval).
    let own = env.run_env(&[("SHIPDECK_OPERATOR", "sam")], &["--config", &c, "approve", "DEP-1", "batch-2"]);
    assert_eq!(own.code, 1, "{}", own.stdout);
    as_omar(&["approve", "DEP-1", "batch-2"]).ok();
    assert_eq!(server.post("/v1/events", undrained("DEP-1", &hosts[10..], "a").as_bytes()).status, 200);
    assert_eq!(env.run(&["status", "DEP-1", "--json"]).json()["status"], "succeeded");

    // The second run is supervised (2 of 2) once started; the third runs as configured.
    assert!(plan_rolling(&env, &c, &hosts).ok().contains("supervised run 2 of 2"));
    as_omar(&["approve", "DEP-2", "batch-1"]).ok();
    assert_eq!(server.post("/v1/events", undrained("DEP-2", &hosts[..1], "b").as_bytes()).status, 200);
    let third = plan_rolling(&env, &c, &hosts);
    assert!(!third.ok().contains("supervised"), "{}", third.stdout);
    assert!(third.stdout.contains("  1. batch-1          10 targets, failure budget 1\n"), "{}", third.stdout);
    assert!(env.run(&["status", "DEP-3", "--json"]).json().get("supervised").is_none());

    // A changed definition (another step) is a new model: supervised again from 1.
    let changed = supervised_config(&env, "");
    std::fs::write(
        &changed,
        std::fs::read_to_string(&changed).expect("reads").replace(
            "steps = [\"drain\", \"install\", \"verify\", \"undrain\"]",
            "steps = [\"drain\", \"install\", \"verify\", \"smoke\", \"undrain\"]",
        ),
    )
    .expect("writes");
    assert!(plan_rolling(&env, &changed, &hosts).ok().contains("supervised run 1 of 2"));
}

/// `g` in a real terminal: the heatmap of a rolling fleet grouped by rack, then back.
#[test]
fn g_groups_the_heatmap_by_rack_in_a_real_terminal() {
    let env = Env::new();
    let csv = env.path("racks.csv");
    let rows: String = (1..=12).map(|i| format!("web-{i:02},r{}\n", 1 + i % 3)).collect();
    std::fs::write(&csv, format!("name,rack\n{rows}")).expect("writes");
    env.run(&[
        "plan",
        "--release",
        "svc@1.0.0",
        "--env",
        "production",
        "--model",
        "rolling",
        "--targets",
        csv.to_str().expect("utf-8"),
    ])
    .ok();
    let command = format!(
        "SHIPDECK_OPERATOR=dana {} --db {} tui; echo EXIT=$?; sleep 30",
        env!("CARGO_BIN_EXE_shipdeck"),
        env.db.display()
    );
    let t = crate::support::tmux::Tmux::start("group-e2e", 100, 30, &command);
    t.wait_for("Hosts 12");
    t.keys(&["g"]);
    let grouped = t.wait_for("by rack");
    assert!(grouped.contains("r1 ····") && grouped.contains("r2 ····") && grouped.contains("r3 ····"), "{grouped}");
    t.keys(&["g"]);
    t.wait_for("Hosts 12 ·12");
    t.keys(&["q"]);
    t.wait_for("EXIT=0");
}
