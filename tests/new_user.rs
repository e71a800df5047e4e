//! What a new user trips over: inputs that used to slip through without a word.

mod support;

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
