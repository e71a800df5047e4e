//! Who may do what comes from the log: each bypass a user might try is refused, and the refusal
//! is in the audit trail; an operator the team does not know records nothing; a policy that does
//! not parse fails closed; a head kept elsewhere detects a rewritten audit chain.

use crate::support;

use support::Env;

fn audit(env: &Env) -> Vec<serde_json::Value> {
    env.run(&["audit", "list", "--json"])
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON record a line"))
        .collect()
}

fn write_config(env: &Env, name: &str, text: &str) -> String {
    let path = env.path(name);
    std::fs::write(&path, text).expect("writes");
    path.to_str().expect("utf-8").to_owned()
}

/// The built-in config with one line replaced.
fn built_in_with(env: &Env, name: &str, from: &str, to: &str) -> String {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/shipdeck.toml")).expect("reads");
    assert!(shipped.contains(from), "{from}");
    write_config(env, name, &shipped.replacen(from, to, 1))
}

#[test]
fn another_config_file_granting_a_role_is_refused_and_cannot_become_the_team() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    // priya's own config makes her a deployment manager.
    let mine = built_in_with(
        &env,
        "mine.toml",
        "name = \"priya\"\nlogin = \"priya\"\nroles = [\"service_owner\"]",
        "name = \"priya\"\nlogin = \"priya\"\nroles = [\"service_owner\", \"deployment_manager\"]",
    );
    let as_priya = [("SHIPDECK_OPERATOR", "priya")];
    let approve = env.run_env(&as_priya, &["--config", &mine, "approve", &key, "pilot"]);
    assert_eq!(approve.code, 1, "{}", approve.stderr);
    assert!(approve.stderr.contains("priya holds none of the roles"), "{}", approve.stderr);
    let sync = env.run_env(&as_priya, &["--config", &mine, "team", "sync"]);
    assert_eq!(sync.code, 1, "{}", sync.stderr);
    assert!(sync.stderr.contains("team sync refused"), "{}", sync.stderr);
    let team = env.run(&["team", "show", "--json"]).json();
    let priya = team["members"].as_array().expect("members").iter().find(|m| m["name"] == "priya").cloned();
    assert_eq!(priya.expect("priya")["roles"], serde_json::json!(["service_owner"]));
    let trail = audit(&env);
    let refused: Vec<(&str, &str)> = trail
        .iter()
        .filter(|r| r["outcome"] == "refused")
        .map(|r| (r["decision"].as_str().expect("d"), r["person"].as_str().expect("p")))
        .collect();
    assert_eq!(refused, [("approve", "priya"), ("team_sync", "priya")]);
    assert!(env.run(&["gate", "show", &key, "pilot", "--json"]).json()["approvals"].as_array().expect("a").is_empty());
    // A deployment manager of the stored team may change it, and that is recorded.
    let sync = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["--config", &mine, "team", "sync"]);
    assert!(sync.ok().contains("stored the team"), "{}", sync.stdout);
    assert_eq!(audit(&env).last().expect("records")["decision"], "team_sync");
}

/// The OS account this test runs as (what os-login mode sees, whatever USER says).
fn account() -> String {
    let out = std::process::Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn naming_someone_else_from_the_same_os_account_is_refused_in_os_login_mode() {
    let env = Env::new();
    let me = account();
    let config = write_config(
        &env,
        "shared-host.toml",
        &format!(
            "identity = \"os-login\"\n\
             [[environments]]\nname = \"production\"\nproduction = true\n\
             [[people]]\nname = \"rita\"\nlogin = \"{me}\"\nroles = [\"deployment_manager\"]\n\
             [[people]]\nname = \"omar\"\nlogin = \"omar-not-here\"\nroles = [\"deployment_manager\"]\n\
             [models.m]\ntechnique = \"big-bang\"\nsteps = [\"install\"]\n\
             [[models.m.phases]]\nname = \"all\"\ntargets = \"rest\"\n\
             gate = {{ approvals = 1, roles = [\"deployment_manager\"] }}\n"
        ),
    );
    let plan =
        ["--config", &config, "plan", "--release", "a@1", "--env", "production", "--model", "m", "--targets", "h1"];
    // rita plans from her own account (naming herself is fine).
    assert_eq!(env.run_env(&[("SHIPDECK_OPERATOR", "rita")], &plan).ok().lines().next(), Some("DEP-1"));
    // From the same account, claiming to be omar: refused, nothing recorded.
    let before = audit(&env).len();
    let approve = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["--config", &config, "approve", "DEP-1", "all"]);
    assert_eq!(approve.code, 1, "{}", approve.stderr);
    assert!(approve.stderr.contains("may not act as omar"), "{}", approve.stderr);
    // Setting USER changes nothing either: the account is the process's, so this is rita, who
    // planned it herself.
    let spoof = env.run_env(&[("USER", "omar-not-here")], &["--config", &config, "approve", "DEP-1", "all"]);
    assert_eq!(spoof.code, 1, "{}", spoof.stderr);
    assert!(spoof.stderr.contains("by rita refused"), "{}", spoof.stderr);
    let trail = audit(&env);
    assert_eq!(trail.len(), before + 1, "only rita's refused self-approval is recorded");
    assert_eq!(trail.last().expect("r")["person"], "rita");
}

#[test]
fn requested_by_someone_else_needs_a_role_and_is_recorded() {
    let env = Env::new();
    env.plan("big-bang", 2);
    let plan = |who: &str, requester: &str| {
        env.run_env(
            &[("SHIPDECK_OPERATOR", who)],
            &[
                "plan",
                "--release",
                "a@1",
                "--env",
                "production",
                "--model",
                "big-bang",
                "--targets",
                "h1",
                "--requested-by",
                requester,
            ],
        )
    };
    let sam = plan("sam", "priya");
    assert_eq!(sam.code, 1, "{}", sam.stderr);
    assert!(sam.stderr.contains("sam may not plan on behalf of priya"), "{}", sam.stderr);
    let ghost = plan("dana", "ghost");
    assert_eq!(ghost.code, 2, "{}", ghost.stderr);
    assert!(ghost.stderr.contains("--requested-by \"ghost\" is not a person of the log's team"), "{}", ghost.stderr);
    assert_eq!(plan("dana", "priya").ok().lines().next(), Some("DEP-2"));
    let trail = audit(&env);
    let plans: Vec<(&str, &str, Option<&str>)> = trail
        .iter()
        .filter(|r| r["decision"] == "plan_for")
        .map(|r| (r["person"].as_str().expect("p"), r["deployment"].as_str().expect("k"), r["outcome"].as_str()))
        .collect();
    assert_eq!(plans, [("sam", "DEP-0", Some("refused")), ("dana", "DEP-2", None)]);
    assert_eq!(env.run(&["list", "--json"]).json()[0]["requested_by"], "priya");
}

#[test]
fn a_gate_whose_stored_json_does_not_parse_fails_closed() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    conn.execute("UPDATE phases SET gate = '{\"approvals\": 2, ' WHERE name = 'pilot'", []).expect("corrupts");
    drop(conn);
    let approve = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "pilot"]);
    assert_eq!(approve.code, 1, "{}", approve.stderr);
    assert!(approve.stderr.contains("stored gate policy of DEP-1 phase pilot does not parse"), "{}", approve.stderr);
    let show = env.run(&["gate", "show", &key, "pilot"]);
    assert_eq!(show.code, 1, "{}", show.stderr);
    assert!(show.stderr.contains("does not parse"), "{}", show.stderr);
    let wait = env.run(&["gate", "wait", &key, "pilot", "--timeout", "1s"]);
    assert_eq!(wait.code, 1, "never an instant approval: {}", wait.stderr);
    assert!(wait.stderr.contains("does not parse"), "{}", wait.stderr);
}

#[test]
fn an_operator_who_is_nobody_is_told_once_and_nothing_is_recorded_in_their_name() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    let before = audit(&env).len();
    let nobody = [("SHIPDECK_OPERATOR", "root-like-nobody")];
    let approve = env.run_env(&nobody, &["approve", &key, "pilot"]);
    assert_eq!(approve.code, 1, "{}", approve.stderr);
    assert_eq!(approve.stderr.matches("is not a person of the log's team").count(), 2, "{}", approve.stderr);
    assert!(approve.stderr.starts_with("note: \"root-like-nobody\""), "said up front: {}", approve.stderr);
    let plan = env
        .run_env(&nobody, &["plan", "--release", "a@1", "--env", "staging", "--model", "big-bang", "--targets", "h"]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(plan.stderr.contains("nothing is planned in that name"), "{}", plan.stderr);
    let inbox = env.run_env(&nobody, &["gate", "inbox"]);
    assert_eq!(inbox.stderr.matches("note: ").count(), 1, "{}", inbox.stderr);
    assert_eq!(audit(&env).len(), before, "nothing recorded");
    assert_eq!(env.run(&["list", "--json"]).json().as_array().expect("list").len(), 1);
    let config = built_in_with(&env, "ghost.toml", "operator = \"\"", "operator = \"ghost\"");
    let check = env.run(&["config", "check", &config]);
    assert_eq!(check.code, 2, "{}", check.stderr);
    assert!(check.stderr.contains("\"ghost\" is not a person"), "{}", check.stderr);
}

#[test]
fn a_head_kept_elsewhere_detects_a_rewritten_chain() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "pilot"]).ok();
    let head = env.run(&["audit", "head"]).ok().trim().to_owned();
    let (count, hash) = head.split_once(' ').expect("COUNT HASH");
    assert_eq!(count, "4", "the team, the plan, the `pre` tick, the approval");
    assert!(env.run(&["audit", "verify", "--expect", hash]).ok().contains("contains the expected head"));
    // Someone replaces the whole trail with another chain that is consistent in itself.
    let other = Env::new();
    let k2 = other.plan("phased", 4);
    other.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &k2, "pilot", "--comment", "forged"]).ok();
    let conn = rusqlite::Connection::open(&env.db).expect("opens");
    conn.execute("ATTACH DATABASE ?1 AS other", [other.db.to_str().expect("utf-8")]).expect("attaches");
    conn.execute_batch(
        "DELETE FROM gate_decisions; INSERT INTO gate_decisions SELECT * FROM other.gate_decisions;
         DELETE FROM audit_head; INSERT INTO audit_head SELECT * FROM other.audit_head;",
    )
    .expect("rewrites");
    drop(conn);
    assert_eq!(env.run(&["audit", "verify"]).code, 0, "the forged chain holds together");
    let verify = env.run(&["audit", "verify", "--expect", hash]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(verify.stderr.contains("does not contain the expected head"), "{}", verify.stderr);
}

#[test]
fn the_dashboard_says_up_front_when_the_operator_is_nobody_and_offers_no_decision() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    let before = audit(&env).len();
    let bin = env!("CARGO_BIN_EXE_shipdeck");
    let command = format!("SHIPDECK_OPERATOR=mallory {bin} --db {}; echo EXIT=$?; sleep 30", env.db.display());
    let t = support::tmux::Tmux::start("nobody", 160, 30, &command);
    let home = t.wait_for(&key);
    assert!(home.lines().next().is_some_and(|h| h.contains("as mallory (not in team)")), "header:\n{home}");
    assert!(home.contains("\"mallory\" (OS account"), "the footer says why:\n{home}");
    assert!(home.contains("nothing is recorded in that name"), "{home}");
    t.keys(&["2", "a"]);
    let after = t.screen();
    assert!(!after.contains("Enter confirm"), "no decision dialog for nobody:\n{after}");
    t.keys(&["q"]);
    t.wait_for("EXIT=0");
    assert_eq!(audit(&env).len(), before, "nothing recorded");
}

#[test]
fn declared_mode_flags_who_acted_from_which_account_in_the_audit_and_the_report() {
    let env = Env::new();
    // USER says "ci"; the account is the process's real user id, whatever USER says.
    let me = account();
    let from_ci = |who: &'static str| [("SHIPDECK_OPERATOR", who), ("USER", "ci"), ("LOGNAME", "ci")];
    let key = env
        .run_env(
            &from_ci("dana"),
            &["plan", "--release", "a@1", "--env", "production", "--model", "phased", "--targets", "a,b,c,d"],
        )
        .ok()
        .lines()
        .next()
        .expect("key")
        .to_owned();
    env.run_env(&from_ci("sam"), &["check", &key, "artifacts", "--evidence", "checksums match"]).ok();
    let refused = env.run_env(&from_ci("priya"), &["approve", &key, "pilot"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let approved = env.run_env(&from_ci("omar"), &["approve", &key, "pilot"]);
    let said = approved.ok();
    assert!(said.contains(&format!("flagged: acted as omar from account {me}")), "{said}");
    assert!(said.contains(&format!("flagged: planned and approved from one account ({me})")), "{said}");
    let list = env.run(&["audit", "list"]).ok().to_owned();
    assert!(list.contains("approve (refused) priya"), "{list}");
    assert!(
        list.contains(&format!(
            "flagged: acted as omar from account {me}, planned and approved from one account ({me})"
        )),
        "{list}"
    );
    assert!(!list.contains("account ci"), "{list}");
    let report = env.run(&["report", &key]).ok().to_owned();
    assert!(report.contains("| approve (refused) | priya"), "{report}");
    assert!(report.contains(&format!("acted as omar from account {me}")), "{report}");
    assert!(report.contains(&format!("planned and approved from one account ({me})")), "{report}");
}

#[test]
fn user_set_to_a_person_s_login_neither_names_them_nor_dodges_the_flags() {
    let env = Env::new();
    let key = env
        .run_env(
            &[("SHIPDECK_OPERATOR", "dana")],
            &["plan", "--release", "a@1", "--env", "production", "--model", "phased", "--targets", "a,b,c,d"],
        )
        .ok()
        .lines()
        .next()
        .expect("key")
        .to_owned();
    // USER=omar with SHIPDECK_OPERATOR unset: the name is the real account's, not omar.
    let approve = std::process::Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .args(["--db"])
        .arg(&env.db)
        .args(["approve", &key, "pilot"])
        .env_remove("SHIPDECK_OPERATOR")
        .env("USER", "omar")
        .env("LOGNAME", "omar")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&approve.stderr);
    assert_ne!(approve.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("by omar"), "{stderr}");
    assert!(audit(&env).iter().all(|r| r["person"] != "omar"), "nothing is recorded as omar");
}

#[test]
fn a_config_of_your_own_without_the_freeze_does_not_lift_it() {
    let env = Env::new();
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/shipdeck.toml")).expect("reads");
    let frozen = write_config(
        &env,
        "frozen.toml",
        &format!(
            "{shipped}\n[[freezes]]\nname = \"incident\"\nenvironments = [\"production\"]\n\
             from = \"2020-01-01T00:00:00Z\"\nuntil = \"2099-01-01T00:00:00Z\"\nreason = \"major incident\"\n"
        ),
    );
    let plan = env.run_env(
        &[("SHIPDECK_OPERATOR", "dana")],
        &[
            "--config",
            &frozen,
            "plan",
            "--release",
            "a@1",
            "--env",
            "production",
            "--model",
            "phased",
            "--targets",
            "a,b,c,d",
        ],
    );
    let key = plan.ok().lines().next().expect("key").to_owned();
    env.run_env(&[("SHIPDECK_OPERATOR", "sam")], &["check", &key, "artifacts", "--evidence", "checksums match"]).ok();
    // omar approves with the shipped config, which has no such freeze: the log's rules hold.
    let approve = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "pilot"]);
    assert_eq!(approve.code, 1, "{}", approve.stderr);
    assert!(approve.stderr.contains("frozen by \"incident\""), "{}", approve.stderr);
    let inbox = env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["gate", "inbox", "--json"]).json();
    assert!(inbox[0]["blocked"].to_string().contains("incident"), "the inbox says the same: {inbox}");
    let show = env.run(&["gate", "show", &key, "pilot"]).ok().to_owned();
    assert!(show.lines().any(|l| l.starts_with("missing: ") && l.contains("incident")), "{show}");
    // The dashboard shows the log's freezes too, not the caller's config's.
    let bin = env!("CARGO_BIN_EXE_shipdeck");
    let command = format!("SHIPDECK_OPERATOR=omar {bin} --db {}; sleep 30", env.db.display());
    let t = support::tmux::Tmux::start("log-freezes", 160, 40, &command);
    t.wait_for(&key);
    t.keys(&["3"]);
    t.wait_for("incident");
}

#[test]
fn a_receiver_started_on_a_config_of_your_own_keeps_the_log_s_team_in_declared_mode() {
    let env = Env::new();
    let key = env.plan("phased", 4);
    // sam, a release engineer with no admin role, serves with his own config: it makes him a
    // deployment manager and adds two accomplices who approve.
    let accomplices = "\n[[people]]\nname = \"x1\"\nroles = [\"deployment_manager\"]\n\
                       [[people]]\nname = \"x2\"\nroles = [\"service_owner\"]\n";
    let mine = built_in_with(
        &env,
        "mine.toml",
        "name = \"sam\"\nlogin = \"sam\"\nroles = [\"release_engineer\"]",
        &format!(
            "name = \"sam\"\nlogin = \"sam\"\nroles = [\"release_engineer\", \"deployment_manager\"]\n{accomplices}"
        ),
    );
    let before = env.run(&["team", "show", "--json"]).json();
    let server = env.serve_with(&[("SHIPDECK_CONFIG", mine.as_str()), ("SHIPDECK_OPERATOR", "sam")]);
    let said = server.wait_said("differs from the log's");
    assert!(said.contains("the log's team counts"), "{said}");
    assert!(!said.contains("stored the config's team"), "{said}");
    assert_eq!(env.run(&["team", "show", "--json"]).json(), before, "the stored team is unchanged");
    assert!(audit(&env).iter().all(|r| r["decision"] != "team_sync" || r["person"] != "receiver"));
    // Neither the accomplices nor sam can approve.
    for who in ["x1", "x2", "sam"] {
        let approve = env.run_env(&[("SHIPDECK_OPERATOR", who)], &["--config", &mine, "approve", &key, "pilot"]);
        assert_eq!(approve.code, 1, "{who}: {}", approve.stderr);
    }
    assert!(env.run(&["gate", "show", &key, "pilot", "--json"]).json()["approvals"].as_array().expect("a").is_empty());
    drop(server);
}

#[test]
fn a_receiver_started_on_a_config_of_your_own_keeps_the_log_s_os_login_identity() {
    let env = Env::new();
    let me = account();
    let team = |identity: &str| {
        format!(
            "identity = \"{identity}\"\n\
             [[environments]]\nname = \"production\"\nproduction = true\n\
             [[people]]\nname = \"rita\"\nlogin = \"{me}\"\nroles = [\"deployment_manager\"]\n\
             [[people]]\nname = \"omar\"\nlogin = \"omar-not-here\"\nroles = [\"deployment_manager\"]\n\
             [[people]]\nname = \"priya\"\nlogin = \"priya-not-here\"\nroles = [\"deployment_manager\"]\n\
             [models.m]\ntechnique = \"big-bang\"\nsteps = [\"install\"]\n\
             [[models.m.phases]]\nname = \"all\"\ntargets = \"rest\"\n\
             gate = {{ approvals = 2, roles = [\"deployment_manager\"] }}\n"
        )
    };
    let shared = write_config(&env, "shared-host.toml", &team("os-login"));
    let mine = write_config(&env, "mine.toml", &team("declared"));
    let plan =
        ["--config", &shared, "plan", "--release", "a@1", "--env", "production", "--model", "m", "--targets", "h1"];
    assert_eq!(env.run_env(&[("SHIPDECK_OPERATOR", "rita")], &plan).ok().lines().next(), Some("DEP-1"));
    // rita serves with a config that switches the identity to declared.
    let server = env.serve_with(&[("SHIPDECK_CONFIG", mine.as_str())]);
    server.wait_said("differs from the log's");
    assert_eq!(env.run(&["team", "show", "--json"]).json()["policy"]["identity"], "os-login");
    // From her account, approving as omar and as priya is still refused, and nothing counts.
    for who in ["omar", "priya"] {
        let approve = env.run_env(&[("SHIPDECK_OPERATOR", who)], &["--config", &mine, "approve", "DEP-1", "all"]);
        assert_eq!(approve.code, 1, "{who}: {}", approve.stderr);
        assert!(approve.stderr.contains(&format!("may not act as {who}")), "{}", approve.stderr);
    }
    assert!(env.run(&["gate", "show", "DEP-1", "all", "--json"]).json()["approvals"].as_array().expect("a").is_empty());
    drop(server);
}

#[test]
fn a_stored_gate_policy_lowered_with_sqlite_fails_audit_verify_naming_it() {
    let env = Env::new();
    let key = env.plan("phased", 8);
    assert_eq!(env.run(&["audit", "verify"]).code, 0);
    let pristine = std::fs::read(&env.db).expect("reads");
    let tamper = |sql: &str| {
        std::fs::write(&env.db, &pristine).expect("restores");
        let _ = std::fs::remove_file(env.db.with_extension("db-wal"));
        let conn = rusqlite::Connection::open(&env.db).expect("opens");
        conn.execute_batch(sql).expect("tampers");
        drop(conn);
        let verify = env.run(&["audit", "verify"]);
        assert_eq!(verify.code, 1, "{sql}: {}", verify.stdout);
        verify.stderr
    };
    // From two approvals to one: the gate would then approve with one.
    let said =
        tamper("UPDATE phases SET gate = replace(gate, '\"approvals\":2', '\"approvals\":1') WHERE name = 'wave-1'");
    assert!(said.contains(&format!("{key}: the gate policy of phase 2 \"wave-1\" was changed")), "{said}");
    let said = tamper("UPDATE phases SET name = 'late' WHERE name = 'wave-1'");
    assert!(said.contains("phase 2 was renamed from \"wave-1\" to \"late\""), "{said}");
    let said = tamper("UPDATE targets SET phase_id = (SELECT max(id) FROM phases) WHERE id = 1");
    assert!(said.contains("were changed"), "{said}");
    let said = tamper("UPDATE team SET roles = '[\"deployment_manager\"]' WHERE name = 'sam'");
    assert!(said.contains("the stored team"), "{said}");
    let said = tamper("UPDATE team_policy SET identity = 'os-login'");
    assert!(said.contains("the stored team"), "{said}");
    let said = tamper("UPDATE deployments SET requested_by = 'omar'");
    assert!(said.contains("its requested by was changed"), "{said}");
    let said = tamper(
        "INSERT INTO emergency_freezes (name, environments, from_ms, until_ms, reason, declared_by, declared_ms)
         VALUES ('x', '[]', 0, 1, 'r', 'dana', 0)",
    );
    assert!(said.contains("the emergency freezes"), "{said}");
}
