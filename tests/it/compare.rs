//! `shipdeck compare` on two runs of the real binary and log.

use crate::support;

use support::Env;

/// Posts a big-bang run of web-01, web-02; web-02's install fails with `error` when given.
fn finish(env: &Env, key: &str, error: Option<&str>) {
    let mut lines = Vec::new();
    for host in ["web-01", "web-02"] {
        let steps: Vec<(&str, &str, &str)> = match error {
            Some(e) if host == "web-02" => vec![("install", "failed", e)],
            _ => vec![("install", "succeeded", "ok"), ("verify", "succeeded", "ok")],
        };
        for (step, status, msg) in steps {
            lines.push(format!(
                r#"{{"id":"{key}-{host}-{step}","deployment":"{key}","target":"{host}","step":"{step}","status":"{status}","message":"{msg}"}}"#
            ));
        }
    }
    env.run_with_stdin(&["ingest", "-"], &(lines.join("\n") + "\n")).ok();
}

#[test]
fn compare_shows_where_two_runs_diverged_what_failed_in_both_and_new_error_groups() {
    let env = Env::new();
    let good = env.plan("big-bang", 2);
    finish(&env, &good, None);
    let disk = env.plan("big-bang", 2);
    finish(&env, &disk, Some("No space left on device (free 3 MB)"));
    let again = env.plan("big-bang", 2);
    finish(&env, &again, Some("permission denied opening /srv/app"));

    let c = env.run(&["compare", &good, &disk, "--json"]).json();
    assert_eq!(c["first"]["key"], good.as_str());
    assert_eq!(c["second"]["status"], "failed");
    assert_eq!(c["same_service"], true);
    assert_eq!(c["divergence"]["phase"], "all");
    let what = c["divergence"]["what"].as_str().unwrap_or_default();
    assert!(
        what.contains("succeeded with 0 failed host(s), then failed with 1")
            && what.contains("web-02 failed at install"),
        "{what}"
    );
    assert_eq!(c["failed_in_both"], serde_json::json!([]));
    assert_eq!(c["new_error_groups"][0]["pattern"], "No space left on device (free <n> MB)");
    let install = c["steps"].as_array().and_then(|s| s.iter().find(|s| s["step"] == "install")).cloned();
    let install = install.unwrap_or_default();
    // The first run reported no `started` events: no durations, and no failure at install.
    assert_eq!((install["first"]["failed"].as_u64().unwrap_or(0), install["second"]["failed"].as_u64()), (0, Some(1)));

    // Two failed runs: web-02 failed in both; only the new shape of error is new.
    let c = env.run(&["compare", &disk, &again, "--json"]).json();
    assert_eq!(c["failed_in_both"], serde_json::json!(["web-02"]));
    assert_eq!(c["new_error_groups"].as_array().map(Vec::len), Some(1));
    assert_eq!(c["divergence"], serde_json::Value::Null, "both failed the same phase with one host");
    let text = env.run(&["compare", &disk, &again]);
    assert!(text.ok().contains("failed in both (1): web-02"), "{}", text.stdout);
    assert!(text.stdout.contains("no divergence"), "{}", text.stdout);
}

#[test]
fn compare_says_when_the_services_differ_and_refuses_unknown_keys() {
    let env = Env::new();
    let a = env.plan("big-bang", 2);
    finish(&env, &a, None);
    let other = env.run(&[
        "plan",
        "--release",
        "search-svc@1.0.0",
        "--env",
        "production",
        "--model",
        "big-bang",
        "--targets",
        "web-01,web-02",
        "--requested-by",
        "dana",
    ]);
    let b = other.ok().lines().next().unwrap_or_default().to_owned();
    finish(&env, &b, None);
    let run = env.run(&["compare", &a, &b]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("different services"), "{}", run.stderr);
    let unknown = env.run(&["compare", &a, "DEP-999"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("unknown deployment \"DEP-999\""), "{}", unknown.stderr);
    let bad = env.run(&["compare", &a, "nope"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}
