//! Verification from the command line: the release record, checklists as decisions (and the
//! bad input they refuse), a gate that requires a checklist, and `verifying` until the `post`
//! checklist is done, then `succeeded` with the requester told.

use crate::support::{Env, event};

const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn deployments(env: &Env) -> usize {
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    conn.query_row("SELECT count(*) FROM deployments", [], |r| r.get(0)).unwrap_or(0)
}

#[test]
fn a_release_file_is_recorded_and_a_bad_checksum_writes_nothing() {
    let env = Env::new();
    let plan = |file: &str| {
        env.run(&["plan", "--release-file", file, "--env", "production", "--model", "big-bang", "--targets", "a,b"])
    };
    let bad = env.path("bad.toml");
    std::fs::write(&bad, "release = \"api@1.0\"\n[[components]]\ncomponent = \"api@1.0\"\nchecksum = \"sha256:abc\"\n")
        .expect("writes");
    let run = plan(bad.to_str().expect("utf-8"));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("\"sha256:abc\"") && run.stderr.lines().count() == 1, "{}", run.stderr);
    assert_eq!(deployments(&env), 0, "nothing written");
    let flag = env.run(&[
        "plan",
        "--release",
        "api@1.0",
        "--env",
        "production",
        "--model",
        "big-bang",
        "--targets",
        "a",
        "--component",
        "api@1.0=md5:00",
    ]);
    assert_eq!(flag.code, 2, "{}", flag.stderr);
    assert!(flag.stderr.contains("\"md5:00\""), "{}", flag.stderr);

    let good = env.path("release.toml");
    std::fs::write(
        &good,
        format!(
            "release = \"api@1.0\"\nchange = \"RFC-77\"\nnotes_url = \"https://wiki.example.com/api/1.0\"\n\
             evidence = [\"https://ci.example.com/runs/12\"]\n[[components]]\ncomponent = \"api-server@1.0.3\"\n\
             checksum = \"sha256:{HEX}\"\n"
        ),
    )
    .expect("writes");
    let key = plan(good.to_str().expect("utf-8")).ok().lines().next().expect("a key").to_owned();
    let status = env.run(&["status", &key]).ok().to_owned();
    assert!(status.contains(&format!("component api-server@1.0.3 sha256:{HEX}")), "{status}");
    assert!(status.contains("evidence  https://ci.example.com/runs/12"), "{status}");
    let json = env.run(&["status", &key, "--json"]).json();
    assert_eq!(json["release_record"]["change_ref"], "RFC-77");
    assert_eq!(json["change_ref"], "RFC-77", "the file's change is the deployment's change");
    assert_eq!(json["release_record"]["components"][0]["checksum"], format!("sha256:{HEX}"));
    // The report for the change record carries it too.
    let report = env.run(&["report", &key]).ok().to_owned();
    assert!(report.contains("## Release record") && report.contains("<https://ci.example.com/runs/12>"), "{report}");
}

#[test]
fn ticking_is_a_decision_with_its_rules_and_the_pilot_gate_requires_pre() {
    let env = Env::new();
    let as_ = |who: &str, args: &[&str]| env.run_env(&[("SHIPDECK_OPERATOR", who)], args);
    let plan = ["plan", "--release", "api@1", "--env", "production", "--model", "phased", "--targets", "a,b,c"];
    let key = as_("dana", &plan).ok().lines().next().expect("a key").to_owned();

    let refused = as_("omar", &["approve", &key, "pilot"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("not ticked: artifacts (pre)"), "{}", refused.stderr);

    let unknown = as_("sam", &["check", &key, "nope"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("\"nope\" is not a checklist item") && unknown.stderr.contains("artifacts"));
    let no_evidence = as_("sam", &["check", &key, "artifacts"]);
    assert_eq!(no_evidence.code, 1, "{}", no_evidence.stderr);
    assert!(no_evidence.stderr.contains("needs evidence"), "{}", no_evidence.stderr);
    let wrong_role = as_("priya", &["check", &key, "artifacts", "--evidence", "looked fine"]);
    assert_eq!(wrong_role.code, 1, "{}", wrong_role.stderr);
    assert!(wrong_role.stderr.contains("priya holds none of the roles"), "{}", wrong_role.stderr);
    let nobody = as_("ghost", &["check", &key, "artifacts", "--evidence", "x"]);
    assert_eq!(nobody.code, 1, "{}", nobody.stderr);
    let checks = |env: &Env| env.run(&["audit", "list", "--json"]).ok().matches("\"decision\":\"check\"").count();
    assert_eq!(checks(&env), 0, "refused ticks write nothing");

    let ticked = as_("sam", &["check", &key, "artifacts", "--evidence", "https://ci.example.com/runs/12"]);
    assert_eq!(ticked.code, 0, "{}", ticked.stderr);
    assert!(ticked.stdout.contains("artifacts done by sam as release_engineer"), "{}", ticked.stdout);
    let twice = as_("dana", &["check", &key, "artifacts", "--evidence", "again"]);
    assert_eq!(twice.code, 1, "{}", twice.stderr);
    assert!(twice.stderr.contains("already ticked done by sam"), "{}", twice.stderr);
    let audit = env.run(&["audit", "list", "--json"]).ok().to_owned();
    let record: serde_json::Value = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["decision"] == "check")
        .expect("the tick");
    assert_eq!((record["decision"].as_str(), record["subject"].as_str()), (Some("check"), Some("artifacts")));
    assert_eq!(record["comment"], "https://ci.example.com/runs/12");
    assert_eq!(as_("omar", &["approve", &key, "pilot"]).code, 0, "pre is done: the gate opens");

    // Nothing can be ticked on a halted deployment.
    let halted = as_("dana", &plan).ok().lines().next().expect("a key").to_owned();
    as_("omar", &["reject", &halted, "pilot", "--reason", "wrong build"]).ok();
    let late = as_("sam", &["check", &halted, "artifacts", "--evidence", "x"]);
    assert_eq!(late.code, 1, "{}", late.stderr);
    assert!(late.stderr.contains("the deployment is aborted"), "{}", late.stderr);
}

#[test]
fn after_the_last_phase_it_verifies_then_succeeds_and_the_requester_is_told() {
    let env = Env::new();
    let config = env.path("shipdeck.toml");
    let text = format!(
        "{}\n[models.quick]\ntechnique = \"big-bang\"\nsteps = [\"install\", \"verify\"]\n\
         [[models.quick.phases]]\nname = \"all\"\ntargets = \"rest\"\n\
         [[models.quick.checklists.post]]\nid = \"smoke\"\ntext = \"Smoke checks pass\"\nauto = \"verify\"\n\
         [[models.quick.checklists.post]]\nid = \"signoff\"\ntext = \"Owner signs off\"\nroles = [\"service_owner\"]\n",
        include_str!("../../config/shipdeck.toml")
    );
    std::fs::write(&config, text).expect("writes");
    let cfg = config.to_str().expect("utf-8");
    let run = |who: &str, args: &[&str]| {
        let mut all = vec!["--config", cfg];
        all.extend_from_slice(args);
        env.run_env(&[("SHIPDECK_OPERATOR", who)], &all)
    };
    let plan = run("dana", &["plan", "--release", "api@2", "--env", "staging", "--model", "quick", "--targets", "a,b"]);
    let key = plan.ok().lines().next().expect("key").to_owned();
    let body: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|h| ["install", "verify"].map(|s| event(&format!("{h}-{s}"), &key, h, s, "succeeded")))
        .collect();
    env.run_with_stdin(&["--config", cfg, "ingest", "-"], &body.join("\n")).ok();
    let status = |env: &Env| env.run(&["status", &key, "--json"]).json();
    let s = status(&env);
    assert_eq!(s["status"], "verifying", "{s}");
    let smoke = s["checklist"].as_array().expect("items").iter().find(|i| i["id"] == "smoke").cloned();
    assert_eq!(smoke.map(|i| i["state"].clone()), Some(serde_json::json!("done")), "ticked by the agents' verify");

    assert_eq!(run("priya", &["check", &key, "signoff"]).code, 0);
    assert_eq!(status(&env)["status"], "succeeded");
    let report = env.run(&["--config", cfg, "report", &key]).ok().to_owned();
    assert!(report.contains("| post | Owner signs off | done | priya |"), "{report}");
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    let told: i64 = conn
        .query_row(
            "SELECT count(*) FROM notifications WHERE recipient = 'dana' AND kind = 'deployment_succeeded'",
            [],
            |r| r.get(0),
        )
        .expect("counts");
    assert_eq!(told, 1, "the requester hears once that it succeeded");

    // A failed post item fails the deployment instead.
    let plan = run("dana", &["plan", "--release", "api@3", "--env", "staging", "--model", "quick", "--targets", "a"]);
    let second = plan.ok().lines().next().expect("key").to_owned();
    let body: Vec<String> =
        ["install", "verify"].iter().map(|s| event(&format!("x-{s}"), &second, "a", s, "succeeded")).collect();
    env.run_with_stdin(&["--config", cfg, "ingest", "-"], &body.join("\n")).ok();
    assert_eq!(run("priya", &["check", &second, "signoff", "--failed", "--evidence", "errors up 4x"]).code, 0);
    assert_eq!(env.run(&["status", &second, "--json"]).json()["status"], "failed");
}
