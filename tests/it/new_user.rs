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
    let top = help(&env, &[]);
    assert!(!top.contains("review"), "no failure reviews yet: {top}");
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
