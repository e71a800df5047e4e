//! Deployment techniques as a user meets them: inventories with labels, phases chosen by label
//! and spread across racks, rolling batches, `models test` and `config check` on models.

use crate::support::Env;

/// 12 hosts: 3 in berlin, 9 in paris, on racks r0..r2.
const INVENTORY_CSV: &str = "name,site,rack\n# the office pilot\nber-1,berlin,r0\nber-2,berlin,r1\nber-3,berlin,r2\n\
par-1,paris,r0\npar-2,paris,r0\npar-3,paris,r0\npar-4,paris,r1\npar-5,paris,r1\npar-6,paris,r1\npar-7,paris,r2\npar-8,paris,r2\npar-9,paris,r2\n";

fn plan(env: &Env, model: &str, targets: &str) -> crate::support::Run {
    env.run(&["plan", "--release", "svc@1.0.0", "--env", "production", "--model", model, "--targets", targets])
}

fn phase_targets(env: &Env, key: &str) -> Vec<(String, Vec<String>)> {
    let status = env.run(&["status", key, "--json"]).json();
    let phases: Vec<String> = status["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    phases
        .into_iter()
        .map(|p| {
            let names = status["target_list"]
                .as_array()
                .expect("targets")
                .iter()
                .filter(|t| t["phase"] == p.as_str())
                .map(|t| t["name"].as_str().expect("name").to_owned())
                .collect();
            (p, names)
        })
        .collect()
}

#[test]
fn a_pilot_by_site_from_a_csv_inventory_and_status_shows_the_labels() {
    let env = Env::new();
    let csv = env.path("fleet.csv");
    std::fs::write(&csv, INVENTORY_CSV).expect("writes");
    let out = plan(&env, "pilot", csv.to_str().expect("utf-8"));
    assert!(out.ok().contains("pilot"), "{}", out.stdout);
    let phases = phase_targets(&env, "DEP-1");
    assert_eq!(phases[0], ("pilot".to_owned(), vec!["ber-1".to_owned(), "ber-2".into(), "ber-3".into()]));
    assert_eq!(phases[1].1.len(), 9);
    let status = env.run(&["status", "DEP-1"]);
    assert!(
        status.ok().lines().any(|l| l.contains("ber-2") && l.contains("[rack=r1 site=berlin]")),
        "{}",
        status.stdout
    );
    let json = env.run(&["status", "DEP-1", "--json"]).json();
    assert_eq!(json["target_list"][0]["labels"]["site"], "berlin");

    // The same fleet as TOML plans the same.
    let toml: String = INVENTORY_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("[[targets]]\nname = \"{}\"\nsite = \"{}\"\nrack = \"{}\"\n\n", f[0], f[1], f[2])
        })
        .collect();
    let file = env.path("fleet.toml");
    std::fs::write(&file, toml).expect("writes");
    plan(&env, "pilot", file.to_str().expect("utf-8")).ok();
    assert_eq!(phase_targets(&env, "DEP-2"), phases);
}

#[test]
fn rolling_batches_spread_across_racks_respect_max_unavailable() {
    let env = Env::new();
    let config = env.path("roll.toml");
    let mut text = crate::support::built_in_config();
    text = text.replace("batch = 10\nmax_unavailable = 10\n", "batch = 3\nmax_unavailable = 3\n");
    std::fs::write(&config, &text).expect("writes");
    let csv = env.path("fleet.csv");
    std::fs::write(&csv, INVENTORY_CSV).expect("writes");
    let run = env.run(&[
        "--config",
        config.to_str().expect("utf-8"),
        "plan",
        "--release",
        "svc@1.0.0",
        "--env",
        "production",
        "--model",
        "rolling",
        "--targets",
        csv.to_str().expect("utf-8"),
    ]);
    run.ok();
    let phases = phase_targets(&env, "DEP-1");
    assert_eq!(
        phases.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        vec!["batch-1", "batch-2", "batch-3", "batch-4"]
    );
    let rack = |name: &str| {
        INVENTORY_CSV
            .lines()
            .find(|l| l.starts_with(&format!("{name},")))
            .and_then(|l| l.rsplit(',').next())
            .expect("rack")
            .to_owned()
    };
    for (batch, targets) in &phases {
        let mut racks: Vec<String> = targets.iter().map(|t| rack(t)).collect();
        racks.sort();
        assert_eq!(racks, vec!["r0", "r1", "r2"], "{batch} takes one host per rack");
    }
}

#[test]
fn bad_selectors_and_batches_are_refused_at_plan_time_naming_the_value() {
    let env = Env::new();
    // Plain host names carry no labels: the pilot's selector cannot work.
    let run = plan(&env, "pilot", "a,b,c");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("phase \"pilot\" selects by label \"site\", which no target carries"),
        "{}",
        run.stderr
    );
    let csv = env.path("tokyo.csv");
    std::fs::write(&csv, "name,site\nt-1,tokyo\nt-2,tokyo\n").expect("writes");
    let run = plan(&env, "pilot", csv.to_str().expect("utf-8"));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("the selector \"site=berlin\" of phase \"pilot\" matches no target"), "{}", run.stderr);
    let bad = env.path("bad.csv");
    std::fs::write(&bad, "host,site\nt-1,tokyo\n").expect("writes");
    let run = plan(&env, "pilot", bad.to_str().expect("utf-8"));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("has no \"name\" column"), "{}", run.stderr);
    assert_eq!(env.run(&["list", "--json"]).stdout.trim(), "[]", "nothing was planned");

    // A config with max_unavailable 0 or a batch of 0% is refused, naming the key.
    for (from, to, says) in [
        ("max_unavailable = 10\n", "max_unavailable = 0\n", "max_unavailable of 0"),
        ("batch = 10\n", "batch = \"0%\"\n", "\"0%\""),
    ] {
        let config = env.path("bad.toml");
        std::fs::write(&config, crate::support::built_in_config().replace(from, to)).expect("writes");
        let run = env.run(&["config", "check", config.to_str().expect("utf-8")]);
        assert_eq!(run.code, 2, "{}", run.stdout);
        assert!(run.stderr.contains("models.rolling") && run.stderr.contains(says), "{}", run.stderr);
    }
}

#[test]
fn models_test_prints_the_edge_cases_and_refuses_a_model_over_its_budget() {
    let env = Env::new();
    let run = env.run(&["models", "test", "phased"]);
    let out = run.ok();
    for want in [
        "1 target(s)",
        "pilot 1",
        "10000 target(s)",
        "pilot 2 · wave-1 2000 · wave-2 7998",
        "19 target(s): 5% is under one target",
    ] {
        assert!(out.contains(want), "{want} in {out}");
    }
    assert!(out.contains("note: phase wave-1 gets no target"), "{out}");
    let run = env.run(&["models", "test", "rolling", "--targets", "25"]);
    assert!(run.ok().contains("batch-1 10 · batch-2 10 · batch-3 5"), "{}", run.stdout);
    let pilot = env.run(&["models", "test", "pilot"]);
    assert!(
        pilot.ok().contains("10 target(s) without labels")
            && pilot.stdout.contains("plan refused: phase \"pilot\" selects by label \"site\""),
        "{}",
        pilot.stdout
    );

    // A percentage max_unavailable rounds down to 0 on small fleets: refused, exit 1, and
    // `config check` refuses the config for it (exit 2).
    let config = env.path("pct.toml");
    std::fs::write(
        &config,
        crate::support::built_in_config()
            .replace("batch = 10\nmax_unavailable = 10\n", "batch = 1\nmax_unavailable = \"10%\"\n"),
    )
    .expect("writes");
    let c = config.to_str().expect("utf-8");
    let run = env.run(&["--config", c, "models", "test", "rolling"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("REFUSED: max_unavailable \"10%\" of 7 target(s) is 0"), "{}", run.stdout);
    assert!(run.stderr.contains("model \"rolling\" is refused: 5 case(s)"), "{}", run.stderr);
    let check = env.run(&["config", "check", c]);
    assert_eq!(check.code, 2);
    assert!(
        check.stderr.contains("model(s) rolling would produce an empty phase or a phase over its budget"),
        "{}",
        check.stderr
    );
    assert_eq!(env.run(&["models", "test", "nope"]).code, 2);
    // An inventory file is tested as it is.
    let csv = env.path("fleet.csv");
    std::fs::write(&csv, INVENTORY_CSV).expect("writes");
    let run = env.run(&["models", "test", "pilot", "--targets", csv.to_str().expect("utf-8")]);
    assert!(run.ok().contains("pilot 3 · everyone 9"), "{}", run.stdout);
}

#[test]
fn the_receiver_starts_the_next_rolling_batch_and_gate_wait_sees_it() {
    let env = Env::new();
    let hosts: Vec<String> = (1..=15).map(|i| format!("h{i:02}")).collect();
    // Past its supervised runs (see bluegreen::supervised_runs_...): the batches advance alone.
    let config = env.path("unsupervised.toml");
    std::fs::write(
        &config,
        crate::support::built_in_config().replace("[models.rolling]\n", "[models.rolling]\nsupervised_runs = 0\n"),
    )
    .expect("writes");
    let c = config.to_str().expect("utf-8");
    env.run(&[
        "--config",
        c,
        "plan",
        "--release",
        "svc@1.0.0",
        "--env",
        "production",
        "--model",
        "rolling",
        "--targets",
        &hosts.join(","),
    ])
    .ok();
    let server = env.serve();
    let url = format!("http://{}", server.addr);
    let waiter = env.spawn(&[], &["gate", "wait", "DEP-1", "batch-2", "--timeout", "60s", "--server", &url]);
    let body: String = hosts[..10]
        .iter()
        .map(|h| format!("{{\"id\":\"{h}-u\",\"deployment\":\"DEP-1\",\"target\":\"{h}\",\"step\":\"undrain\",\"status\":\"succeeded\"}}\n"))
        .collect();
    assert_eq!(server.post("/v1/events", body.as_bytes()).status, 200);
    let waited = crate::support::finish(waiter);
    assert_eq!((waited.code, waited.stdout.trim()), (0, "approved"), "{}", waited.stderr);
    let audit = env.run(&["audit", "list", "--deployment", "DEP-1"]);
    assert!(
        audit.ok().contains("shipdeck (rolling)")
            && audit.stdout.contains("batch-1 succeeded within its failure budget"),
        "{}",
        audit.stdout
    );
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
}

#[test]
fn the_gate_after_a_pilot_approves_only_on_feedback() {
    let env = Env::new();
    let config = env.path("pilot.toml");
    std::fs::write(&config, crate::support::built_in_config().replace("bake = \"1h\" }", "}")).expect("writes");
    let c = config.to_str().expect("utf-8");
    let csv = env.path("fleet.csv");
    std::fs::write(&csv, INVENTORY_CSV).expect("writes");
    let planned = env.run(&[
        "--config",
        c,
        "plan",
        "--release",
        "svc@1.0.0",
        "--env",
        "staging",
        "--model",
        "pilot",
        "--targets",
        csv.to_str().expect("utf-8"),
    ]);
    planned.ok();
    let body: String = ["ber-1", "ber-2", "ber-3"]
        .iter()
        .map(|h| format!("{{\"id\":\"{h}-v\",\"deployment\":\"DEP-1\",\"target\":\"{h}\",\"step\":\"verify\",\"status\":\"succeeded\"}}\n"))
        .collect();
    env.run_with_stdin(&["--config", c, "ingest", "-"], &body).ok();
    let omar = [("SHIPDECK_OPERATOR", "omar")];
    let bare = env.run_env(&omar, &["--config", c, "approve", "DEP-1", "everyone"]);
    assert_eq!(bare.code, 1, "{}", bare.stderr);
    assert!(bare.stderr.contains("this gate approves on the pilot's feedback"), "{}", bare.stderr);
    let ok = env.run_env(
        &omar,
        &["--config", c, "approve", "DEP-1", "everyone", "--comment", "Berlin office: no complaints in two days"],
    );
    assert!(ok.ok().contains("gate approved (1 of 1)"), "{}", ok.stdout);
    let audit = env.run(&["audit", "list", "--deployment", "DEP-1"]);
    assert!(audit.ok().contains("approve (refused)") && audit.stdout.contains("no complaints"), "{}", audit.stdout);
}

#[test]
fn the_receiver_rejects_metric_samples_that_are_not_numbers_and_keeps_the_rest() {
    let env = Env::new();
    plan(&env, "canary", "c1,c2,c3").ok();
    let server = env.serve();
    let body = "{\"id\":\"m1\",\"deployment\":\"DEP-1\",\"target\":\"c1\",\"step\":\"canary\",\"status\":\"info\",\"data\":{\"metric\":\"error_rate\",\"value\":0.7}}\n\
                {\"id\":\"m2\",\"deployment\":\"DEP-1\",\"target\":\"c2\",\"step\":\"canary\",\"status\":\"info\",\"data\":{\"metric\":\"error_rate\",\"value\":\"NaN\"}}\n";
    let reply = server.post("/v1/events", body.as_bytes());
    assert_eq!(reply.status, 200);
    let json = reply.json();
    assert_eq!(json["accepted"], 1);
    assert_eq!(json["rejected"][0]["line"], 2);
    assert_eq!(
        json["rejected"][0]["error"],
        "field \"data\": the value of metric sample \"error_rate\" is \"NaN\", not a number"
    );
    assert_eq!(env.event_ids("DEP-1"), vec!["m1"]);
}
