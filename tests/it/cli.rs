//! The command line as scripts use it: output contracts, exit codes, precedence.

use crate::support;

use support::{Env, bin, event};

#[test]
fn plan_prints_the_key_alone_on_the_first_line_and_follows_the_model() {
    let env = Env::new();
    let targets = env.path("hosts.txt");
    let hosts: Vec<String> = (1..=100).map(|i| format!("web-{i:03}")).collect();
    std::fs::write(&targets, format!("# production web fleet\n{}\n", hosts.join("\n"))).expect("writes");
    let run = env.run(&[
        "plan",
        "--release",
        "payments-api@2.4.1",
        "--env",
        "production",
        "--model",
        "phased",
        "--targets",
        targets.to_str().expect("utf-8"),
        "--change",
        "CHG-42",
        "--start",
        "2030-01-07T18:00:00Z",
    ]);
    let out = run.ok();
    assert_eq!(out.lines().next(), Some("DEP-1"));
    let status = env.run(&["status", "DEP-1", "--json"]).json();
    let phases: Vec<(&str, u64, u64)> = status["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name"),
                p["targets"].as_u64().expect("n"),
                p["failure_budget"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(phases, vec![("pilot", 2, 0), ("wave-1", 20, 1), ("wave-2", 78, 3)]);
    assert_eq!(status["change_ref"], "CHG-42");
    // Monday 19:00 in Berlin: inside weekday-evenings, so the planned start fits the calendar.
    assert_eq!(status["planned_at"], "2030-01-07T18:00:00Z");
    assert_eq!(status["target_list"][0]["name"], "web-001");
    assert_eq!(env.plan("rolling", 3), "DEP-2");
}

#[test]
fn plan_refuses_bad_input_naming_the_value_with_exit_2() {
    let env = Env::new();
    let base = ["plan", "--env", "production"];
    let cases: [(&[&str], &str); 4] = [
        (
            &["--release", "api@1", "--targets", "a,b", "--model", "blue-green"],
            "unknown deployment model \"blue-green\"",
        ),
        (
            &["--release", "api@1", "--targets", "a,b", "--model", "phased", "--start", "tomorrow"],
            "--start \"tomorrow\"",
        ),
        (&["--release", "api@1", "--model", "phased", "--targets", "a,a"], "target \"a\" is listed twice"),
        (&["--targets", "a,b", "--model", "phased", "--release", "api"], "release \"api\" is not NAME@VERSION"),
    ];
    for (extra, want) in cases {
        let run = env.run(&[&base[..], extra].concat());
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{extra:?}: {}", run.stderr);
    }
    assert_eq!(env.run(&["list", "--json"]).json(), serde_json::json!([]), "nothing was planned");
}

#[test]
fn status_shows_each_phase_in_order_with_counts_and_targets() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let lines = [
        event("1", &key, "web-01", "download", "succeeded"),
        event("2", &key, "web-01", "install", "succeeded"),
        event("3", &key, "web-01", "verify", "succeeded"),
        event("4", &key, "web-02", "install", "started"),
    ];
    env.run_with_stdin(&["ingest", "-"], &lines.join("\n")).ok();
    let out = env.run(&["status", &key]).ok().to_owned();
    let pilot =
        out.find("phase 1. pilot [running]  done 1  failed 0  running 1  pending 0  budget left 0 of 0").expect(&out);
    let wave = out.find("phase 2. wave-1 [pending]").expect(&out);
    assert!(pilot < wave);
    assert!(out.contains("web-01                   succeeded  verify succeeded"), "{out}");
    assert!(out.contains("web-02                   running    install started"), "{out}");
    let events = env.run(&["events", &key, "--limit", "2"]).ok().to_owned();
    assert_eq!(events.lines().count(), 2);
    assert!(events.lines().last().expect("a line").contains("web-02"), "{events}");
}

#[test]
fn list_shows_deployments_newest_first_and_filters_by_status() {
    let env = Env::new();
    let first = env.plan("phased", 4);
    let second = env.plan("rolling", 4);
    env.run_with_stdin(&["ingest", "-"], &event("x", &second, "web-01", "drain", "started")).ok();
    let all = env.run(&["list", "--json"]).json();
    assert_eq!(all[0]["key"], second.as_str());
    assert_eq!(all[1]["key"], first.as_str());
    let running = env.run(&["list", "--json", "--status", "running"]).json();
    assert_eq!(running.as_array().map(Vec::len), Some(1));
    let bad = env.run(&["list", "--status", "exploded"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown deployment status \"exploded\""), "{}", bad.stderr);
}

#[test]
fn a_missing_log_or_unknown_deployment_is_an_input_error() {
    let env = Env::new();
    let run = env.run(&["status", "DEP-1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no deployment log at"), "{}", run.stderr);
    assert!(!env.db.exists(), "reading never creates a log");
    env.plan("phased", 2);
    let run = env.run(&["status", "DEP-7"]);
    assert_eq!((run.code, run.stderr.trim()), (2, "shipdeck: unknown deployment \"DEP-7\""));
    assert_eq!(env.run(&["status", "7x"]).code, 2);
}

#[test]
fn a_log_from_a_newer_shipdeck_is_refused_and_left_untouched() {
    let env = Env::new();
    env.plan("phased", 2);
    rusqlite::Connection::open(&env.db).expect("opens").pragma_update(None, "user_version", 42).expect("sets");
    let run = env.run(&["list"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("written by a newer shipdeck (schema version 42"), "{}", run.stderr);
    let v: i64 = rusqlite::Connection::open(&env.db)
        .expect("opens")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("reads");
    assert_eq!(v, 42);
}

#[test]
fn config_check_names_file_line_and_key() {
    let env = Env::new();
    let file = env.path("team.toml");
    std::fs::write(&file, "timezone = \"UTC\"\n[receiver]\nlisten = \"localhost\"\n").expect("writes");
    let run = bin().args(["config", "check", file.to_str().expect("utf-8")]).output().expect("runs");
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains(&format!("{}:3: key \"receiver.listen\": \"localhost\" is not an address", file.display())),
        "{err}"
    );
    let ok = bin().args(["config", "check"]).output().expect("runs");
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok: built-in"));
    let default = bin().args(["config", "default"]).output().expect("runs");
    std::fs::write(&file, &default.stdout).expect("writes");
    let again = bin().args(["config", "check", file.to_str().expect("utf-8")]).output().expect("runs");
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn the_db_flag_beats_the_environment_which_beats_the_config_file() {
    let env = Env::new();
    let (flag, from_env, from_file) = (env.path("flag.db"), env.path("env.db"), env.path("file.db"));
    let config = env.path("c.toml");
    std::fs::write(&config, format!("db = \"{}\"\noperator = \"ada\"\n[[people]]\nname = \"ada\"\n[[environments]]\nname = \"dev\"\n[models.m]\ntechnique = \"big-bang\"\nsteps = [\"install\"]\n[[models.m.phases]]\nname = \"all\"\ntargets = \"rest\"\n", from_file.display())).expect("writes");
    let plan = |extra: &[&str], envs: &[(&str, &std::path::Path)]| {
        let mut c = bin();
        c.args(extra).args(["plan", "--release", "a@1", "--env", "dev", "--model", "m", "--targets", "h1"]);
        for (k, v) in envs {
            c.env(k, v);
        }
        assert_eq!(c.output().expect("runs").status.code(), Some(0));
    };
    plan(&["--config", config.to_str().expect("utf-8")], &[]);
    assert!(from_file.exists());
    plan(&[], &[("SHIPDECK_CONFIG", &config), ("SHIPDECK_DB", &from_env)]);
    assert!(from_env.exists());
    plan(&["--db", flag.to_str().expect("utf-8")], &[("SHIPDECK_CONFIG", &config), ("SHIPDECK_DB", &from_env)]);
    assert!(flag.exists());
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let env = Env::new();
    let key = env.plan("phased", 50);
    let mut child = bin()
        .arg("--db")
        .arg(&env.db)
        .args(["status", &key])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("waits");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bench_runs_the_separate_bench_binary_or_says_how_to_build_it() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    // A copy of shipdeck alone in a folder: no shipdeck-bench beside it.
    let exe = env.path("shipdeck");
    std::fs::copy(env!("CARGO_BIN_EXE_shipdeck"), &exe).expect("copies");
    // A freshly written executable can be briefly "busy" (ETXTBSY) while another test thread
    // forks with its descriptor open: try again rather than fail on the race.
    let run = |args: &[&str]| {
        for _ in 0..50 {
            match std::process::Command::new(&exe).args(args).output() {
                Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(std::time::Duration::from_millis(20)),
                other => return other.expect("runs"),
            }
        }
        panic!("{} stayed busy", exe.display());
    };
    let out = run(&["bench", "ingest", "--prefill", "10"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cargo build --release --features bench"), "{stderr}");
    assert!(stderr.contains("shipdeck-bench ingest"), "{stderr}");
    // With one beside it, its arguments and exit code pass through.
    let fake = env.path("shipdeck-bench");
    std::fs::write(&fake, "#!/bin/sh\necho \"bench: $*\"\nexit 3\n").expect("writes");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = run(&["bench", "ingest", "--prefill", "10"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "bench: ingest --prefill 10");
}
