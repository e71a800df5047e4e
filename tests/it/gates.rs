//! Gates end to end: the real binary deciding from separate processes, pipelines waiting on the
//! log file and on the receiver, and the audit trail noticing a hand edit.

use crate::support;

use support::{Env, finish, first_stderr_line};

/// A team of eight approvers and a model whose first phase needs five of them.
const TEAM: &str = r#"
timezone = "UTC"
[[environments]]
name = "prod"
production = true
[[people]]
name = "req"
roles = ["requester"]
"#;

fn team_config(env: &Env) -> String {
    let mut text = TEAM.to_owned();
    for i in 1..=8 {
        text.push_str(&format!("[[people]]\nname = \"p{i}\"\nroles = [\"approver\"]\n"));
    }
    text.push_str(
        "[models.five]\ntechnique = \"pilot\"\nsteps = [\"install\"]\n\
         [[models.five.phases]]\nname = \"first\"\ntargets = \"rest\"\n\
         gate = { approvals = 5, roles = [\"approver\"] }\n",
    );
    let path = env.path("team.toml");
    std::fs::write(&path, text).expect("writes");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn concurrent_approvals_from_separate_processes_count_exactly() {
    let env = Env::new();
    let config = team_config(&env);
    let plan = env.run_env(
        &[("SHIPDECK_OPERATOR", "req")],
        &[
            "--config",
            &config,
            "plan",
            "--release",
            "api@1",
            "--env",
            "prod",
            "--model",
            "five",
            "--targets",
            "a,b",
            "--requested-by",
            "req",
        ],
    );
    assert_eq!(plan.ok().lines().next(), Some("DEP-1"));
    // Ten processes at once: eight people, two of them twice.
    let people = ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p1", "p2"];
    let children: Vec<_> = people
        .iter()
        .map(|p| env.spawn(&[("SHIPDECK_OPERATOR", p)], &["--config", &config, "approve", "DEP-1", "first"]))
        .collect();
    let runs: Vec<_> = children.into_iter().map(finish).collect();
    for r in &runs {
        assert!(!r.stderr.contains("locked"), "{}", r.stderr);
        assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
        if r.code == 1 {
            assert!(
                r.stderr.contains("already approved") || r.stderr.contains("one person counts once"),
                "{}",
                r.stderr
            );
        }
    }
    assert_eq!(runs.iter().filter(|r| r.code == 0).count(), 5, "exactly the five needed are recorded");
    let said: Vec<&str> = runs.iter().filter(|r| r.code == 0).map(|r| r.stdout.as_str()).collect();
    for (n, words) in
        [(1, "1 of 5 approvals, 4 missing"), (4, "4 of 5 approvals, 1 missing"), (5, "gate approved (5 of 5)")]
    {
        assert_eq!(said.iter().filter(|s| s.contains(words)).count(), 1, "approval {n} says \"{words}\": {said:?}");
    }
    let gate = env.run(&["--config", &config, "gate", "show", "DEP-1", "first", "--json"]).json();
    assert_eq!(gate["state"], "approved");
    assert_eq!(gate["approvals"].as_array().expect("approvals").len(), 5);
    let mut names: Vec<&str> =
        gate["approvals"].as_array().expect("approvals").iter().map(|a| a["person"].as_str().expect("name")).collect();
    names.dedup();
    assert_eq!(names.len(), 5, "distinct people");
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
}

/// A phased deployment whose `pre` checklist (required by the pilot gate) is ticked.
fn plan_phased(env: &Env) -> String {
    env.plan("phased", 10)
}

#[test]
fn gate_wait_on_the_log_file_returns_0_when_another_process_approves() {
    let env = Env::new();
    let key = plan_phased(&env);
    let mut waiter = env.spawn(&[], &["gate", "wait", &key, "pilot", "--timeout", "30s"]);
    let ready = first_stderr_line(&mut waiter);
    assert!(ready.contains("pending"), "the waiter has read the open gate: {ready}");
    let refused = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["approve", &key, "pilot"]);
    assert_eq!(refused.code, 1, "the requester may not approve: {}", refused.stderr);
    assert!(refused.stderr.contains("may not approve it"), "{}", refused.stderr);
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "pilot", "--comment", "pilot looks fine"]).ok();
    let waited = finish(waiter);
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    assert_eq!(waited.stdout.trim(), "approved");
}

#[test]
fn gate_wait_on_the_receiver_returns_0_on_approval_and_1_on_rejection() {
    let env = Env::new();
    let approved = plan_phased(&env);
    let rejected = plan_phased(&env);
    let server = env.serve();
    let url = format!("http://{}", server.addr);
    let mut first = env.spawn(&[], &["gate", "wait", &approved, "pilot", "--server", &url, "--timeout", "30s"]);
    let mut second = env.spawn(&[], &["gate", "wait", &rejected, "pilot", "--server", &url, "--timeout", "30s"]);
    for waiter in [&mut first, &mut second] {
        let ready = first_stderr_line(waiter);
        assert!(ready.contains("pending"), "the waiter has read the open gate: {ready}");
    }
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &approved, "pilot"]).ok();
    let no_reason = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["reject", &rejected, "pilot"]);
    assert_eq!(no_reason.code, 2, "--reason is required: {}", no_reason.stderr);
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["reject", &rejected, "pilot", "--reason", "wrong build"]).ok();
    let first = finish(first);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = finish(second);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(second.stderr.contains("rejected"), "{}", second.stderr);
    let status = env.run(&["status", &rejected, "--json"]).json();
    assert_eq!(status["status"], "aborted", "a rejection halts the deployment");
    // The endpoint itself, without waiting.
    let reply = server.get(&format!("/v1/deployments/{approved}/gates/pilot"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (reply.json()["state"].as_str(), reply.json()["outcome"].as_str()),
        (Some("approved"), Some("approved"))
    );
    assert_eq!(server.get(&format!("/v1/deployments/{approved}/gates/nope")).status, 404);
}

#[test]
fn gate_wait_times_out_with_3_and_refuses_bad_input_with_2() {
    let env = Env::new();
    let key = plan_phased(&env);
    let run = env.run(&["gate", "wait", &key, "wave-1", "--timeout", "300ms"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    for (args, want) in [
        (vec!["gate", "wait", key.as_str(), "wave-9"], "\"wave-9\" is not a phase"),
        (vec!["gate", "wait", key.as_str(), "pilot", "--timeout", "soon"], "--timeout \"soon\""),
        (vec!["gate", "wait", "DEP-99", "pilot"], "unknown deployment"),
    ] {
        let run = env.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn editing_an_audit_row_by_hand_makes_verify_fail_naming_it() {
    let env = Env::new();
    for _ in 0..3 {
        let key = plan_phased(&env);
        env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "pilot"]).ok();
    }
    // Record 1 is the team stored when the log was created; then each plan, its tick of
    // `artifacts` and its approval.
    assert!(env.run(&["audit", "verify"]).ok().contains("intact: 10 record(s)"));
    let list = env.run(&["audit", "list", "--json"]);
    let fourth: serde_json::Value = serde_json::from_str(list.ok().lines().nth(3).expect("10 lines")).expect("json");
    assert_eq!((fourth["person"].as_str(), fourth["decision"].as_str()), (Some("omar"), Some("approve")));
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    conn.execute("UPDATE gate_decisions SET person = 'mallory' WHERE id = 4", []).expect("edits");
    drop(conn);
    let run = env.run(&["audit", "verify"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("audit record 4 was changed"), "{}", run.stderr);
}
