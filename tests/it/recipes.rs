//! The operations recipes in `assets/`: the pipeline step scripts run against the real binary
//! and receiver, the GitHub Actions and GitLab CI files parse (PyYAML) and call those scripts,
//! and the systemd unit passes `systemd-analyze verify`.

use crate::support::{Env, Run};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// Runs an `assets/ci` script as a pipeline would: `shipdeck` on the PATH, the log in `env`.
fn script(env: &Env, name: &str, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_shipdeck")).parent().expect("bin dir").to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("bash");
    cmd.arg(assets().join("ci").join(name)).args(args).stdin(Stdio::null());
    for var in ["SHIPDECK_CONFIG", "SHIPDECK_TOKEN", "SHIPDECK_OPERATOR", "SHIPDECK_URL", "SHIPDECK_CA_CERT"] {
        cmd.env_remove(var);
    }
    cmd.env("PATH", path).env("SHIPDECK_DB", &env.db).env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn plan_report_and_gate_scripts_drive_a_deployment_with_the_right_exit_codes() {
    let env = Env::new();
    let out = env.path("step-output");
    let vars = [
        ("RELEASE", "payments-api@2.4.1"),
        ("DEPLOY_ENV", "production"),
        ("MODEL", "phased"),
        ("TARGETS", "web-01,web-02,web-03,web-04,web-05,web-06,web-07,web-08,web-09,web-10"),
        ("CHANGE", "CHG-7"),
        ("SHIPDECK_OPERATOR", "dana"),
    ];
    let planned = script(&env, "plan.sh", &[out.to_str().expect("utf-8")], &vars);
    assert_eq!((planned.code, planned.stdout.trim()), (0, "DEP-1"), "{}", planned.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("output file"), "SHIPDECK_KEY=DEP-1\n");
    let unknown_env = script(
        &env,
        "plan.sh",
        &[out.to_str().expect("utf-8")],
        &[&vars[..1], &[("DEPLOY_ENV", "prod")], &vars[2..]].concat(),
    );
    assert_eq!(unknown_env.code, 2, "{}", unknown_env.stderr);
    let second = script(&env, "plan.sh", &[out.to_str().expect("utf-8")], &vars);
    assert_eq!(second.stdout.trim(), "DEP-2");

    let server = env.serve();
    let url = format!("http://{}", server.addr);
    let at = [("SHIPDECK_URL", url.as_str()), ("GATE_TIMEOUT", "30s")];

    // The shipped pilot gate needs the `pre` checklist, ticked by the release engineer.
    for key in ["DEP-1", "DEP-2"] {
        env.run_env(&[("SHIPDECK_OPERATOR", "sam")], &["check", key, "artifacts", "--evidence", "checksums match"])
            .ok();
    }
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", "DEP-1", "pilot"]).ok();
    let approved = script(&env, "gate.sh", &["DEP-1", "pilot"], &at);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    assert!(approved.stdout.contains("approved"), "{}", approved.stdout);

    let reported = script(&env, "report.sh", &["DEP-1", "deploy", "started"], &at);
    assert_eq!(reported.code, 0, "{}", reported.stderr);
    let again = script(&env, "report.sh", &["DEP-1", "deploy", "started"], &at);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let stored = env.event_ids("DEP-1");
    assert_eq!(stored.iter().filter(|id| id.ends_with("-DEP-1-all-deploy-started")).count(), 1, "{stored:?}");
    let bad = script(&env, "report.sh", &["DEP-1", "deploy", "finished"], &at);
    assert_eq!(bad.code, 2, "bad input is not retried: {}", bad.stderr);
    assert_eq!(bad.stderr.matches("attempt ").count(), 1, "{}", bad.stderr);

    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["reject", "DEP-2", "pilot", "--reason", "wrong build"]).ok();
    let rejected = script(&env, "gate.sh", &["DEP-2", "pilot"], &at);
    assert_eq!(rejected.code, 1, "{}", rejected.stderr);
    assert!(rejected.stderr.contains("rejected or the deployment halted"), "{}", rejected.stderr);

    let third = script(&env, "plan.sh", &[out.to_str().expect("utf-8")], &vars);
    let key = third.stdout.trim().to_owned();
    let timed_out = script(&env, "gate.sh", &[&key, "pilot"], &[at[0], ("GATE_TIMEOUT", "1s")]);
    assert_eq!(timed_out.code, 3, "{}", timed_out.stderr);
    assert!(timed_out.stderr.contains("nobody decided"), "{}", timed_out.stderr);
    let unknown = script(&env, "gate.sh", &["DEP-99", "pilot"], &at);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    drop(server);

    // The receiver is down: report.sh tries again, then says so.
    let down = script(&env, "report.sh", &["DEP-1", "verify", "started"], &[at[0], ("REPORT_ATTEMPTS", "2")]);
    assert_eq!(down.code, 1, "{}", down.stderr);
    assert_eq!(down.stderr.matches("nothing listens").count(), 2, "{}", down.stderr);
}

/// The pipeline files parse as YAML, and every `assets/ci/` script they call exists and is
/// valid bash.
#[test]
fn the_github_and_gitlab_pipelines_parse_and_call_scripts_that_exist() {
    let dump = "import sys, json, yaml\nprint(json.dumps([yaml.safe_load(open(f)) for f in sys.argv[1:]]))";
    let files = [assets().join("ci/github-actions.yml"), assets().join("ci/gitlab-ci.yml")];
    let out = Command::new("python3").arg("-c").arg(dump).args(&files).output().expect("python3 runs");
    assert!(out.status.success(), "PyYAML refused a pipeline: {}", String::from_utf8_lossy(&out.stderr));
    let docs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let github = &docs[0]["jobs"]["deploy"]["steps"];
    let gitlab = &docs[1];
    let mut commands: Vec<String> =
        github.as_array().expect("steps").iter().filter_map(|s| s["run"].as_str().map(str::to_owned)).collect();
    for job in ["plan", "pilot", "wave-1", "report"] {
        for line in gitlab[job]["script"].as_array().unwrap_or_else(|| panic!("gitlab job {job}")) {
            commands.push(line.as_str().expect("a command").to_owned());
        }
    }
    let mut called = std::collections::BTreeSet::new();
    for command in &commands {
        for word in command.split_whitespace().filter(|w| w.starts_with("assets/ci/")) {
            called.insert(word.to_owned());
        }
    }
    for script in ["assets/ci/plan.sh", "assets/ci/gate.sh", "assets/ci/report.sh"] {
        assert!(called.contains(script), "no pipeline calls {script}: {called:?}");
    }
    for script in &called {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
        let check = Command::new("bash").arg("-n").arg(&path).output().expect("bash");
        assert!(check.status.success(), "{script}: {}", String::from_utf8_lossy(&check.stderr));
    }
    // Both block on a gate before each gated phase.
    assert!(commands.iter().filter(|c| c.contains("gate.sh")).count() >= 4, "{commands:#?}");
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(assets().join("shipdeck.service")).expect("assets/shipdeck.service");
    for hardening in ["User=shipdeck", "StateDirectory=shipdeck", "ProtectSystem=strict", "NoNewPrivileges=yes"] {
        assert!(unit.contains(hardening), "the unit lacks {hardening}");
    }
    // The binary where the unit says it is: this build's.
    let dir = tempfile::tempdir().expect("tempdir");
    let here = unit.replace("/usr/local/bin/shipdeck", env!("CARGO_BIN_EXE_shipdeck"));
    let path = dir.path().join("shipdeck.service");
    std::fs::write(&path, here).expect("writes");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed for this test (.ci/run installs systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
}

/// `assets/agent.sh` started while the receiver is down keeps resending, and once the receiver
/// is up every step is stored exactly once.
#[test]
fn the_example_agent_resends_until_the_receiver_stores_its_events() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}");
    let mut agent = Command::new("sh")
        .arg(assets().join("agent.sh"))
        .args([&key, "web-01"])
        .env("SHIPDECK_URL", &url)
        .env("AGENT_STEPS", "download install")
        .env_remove("SHIPDECK_TOKEN")
        .stdin(Stdio::null())
        .spawn()
        .expect("sh runs the agent");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(agent.try_wait().expect("agent state").is_none(), "the agent gave up while the receiver was down");
    let server = crate::support::bin()
        .arg("--db")
        .arg(&env.db)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let status = agent.wait().expect("the agent ends");
    let mut server = server;
    let _ = server.kill();
    let _ = server.wait();
    assert!(status.success(), "agent exit {status:?}");
    let ids = env.event_ids(&key);
    for step in ["download-started", "download-succeeded", "install-started", "install-succeeded"] {
        assert_eq!(ids.iter().filter(|id| id.contains(step)).count(), 1, "{step} in {ids:?}");
    }
}
