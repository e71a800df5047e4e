//! `shipdeck kpi` against the real binary and a real log: the definitions end to end, and
//! bad input refused with one sentence and exit 2.

use crate::support;

use support::Env;

/// Posts the outcome of a big-bang deployment of web-01, web-02: web-02's install fails when
/// `fail` is set.
fn finish(env: &Env, key: &str, fail: bool) {
    let mut lines = Vec::new();
    for host in ["web-01", "web-02"] {
        let steps: &[(&str, &str)] = if fail && host == "web-02" {
            &[("install", "failed")]
        } else {
            &[("install", "succeeded"), ("verify", "succeeded")]
        };
        for (step, status) in steps {
            lines.push(format!(
                r#"{{"id":"{key}-{host}-{step}","deployment":"{key}","target":"{host}","step":"{step}","status":"{status}","message":"disk full"}}"#
            ));
        }
    }
    env.run_with_stdin(&["ingest", "-"], &(lines.join("\n") + "\n")).ok();
}

#[test]
fn kpis_count_a_production_failure_and_its_recovery() {
    let env = Env::new();
    let failed = env.plan("big-bang", 2);
    finish(&env, &failed, true);

    let k = env.run(&["kpi", "--json"]).json();
    assert_eq!(k["deployments"], 1);
    assert_eq!(k["production_started"], 1);
    assert_eq!(k["production_failed"], 1);
    assert_eq!(k["change_failure_rate"], 1.0);
    assert_eq!(k["success_rate"], 0.0);
    assert_eq!(k["hosts_failed_per_deployment"], 1.0);
    assert_eq!(k["recovery"]["open"], 1, "no success yet: the failure is still open");
    assert_eq!(k["recovery"]["count"], 0);
    assert!(k["recovery"]["median_s"].is_null());
    assert_eq!(k["production_environments"], serde_json::json!(["production", "dr-site"]));

    let recovered = env.plan("big-bang", 2);
    finish(&env, &recovered, false);
    let k = env.run(&["kpi", "--json", "--service", "payments-api", "--env", "production"]).json();
    assert_eq!(k["deployments"], 2);
    assert_eq!(k["change_failure_rate"], 0.5);
    assert_eq!(k["recovery"]["open"], 0);
    assert_eq!(k["recovery"]["count"], 1);
    assert!(k["recovery"]["median_s"].as_i64().is_some_and(|s| s >= 0));
    assert_eq!(k["first_time_right_rate"], 0.5);

    let text = env.run(&["kpi"]);
    assert!(text.ok().contains("change failure rate"), "{}", text.stdout);
    assert!(text.stdout.contains("50.0%   (1 of 2 production deployments that started)"), "{}", text.stdout);
    let by = env.run(&["kpi", "--by", "model", "--csv"]);
    let lines: Vec<&str> = by.ok().lines().collect();
    assert!(lines[0].starts_with("group,deployments,per_day,"), "{}", by.stdout);
    assert!(lines[1].starts_with("big-bang,2,"), "{}", by.stdout);
}

#[test]
fn an_empty_scope_says_so_and_never_divides_by_zero() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    finish(&env, &key, false);
    let empty = env.run(&["kpi", "--model", "phased"]);
    assert!(empty.ok().contains("no deployments in this period"), "{}", empty.stdout);
    assert!(!empty.stdout.contains("NaN"));
    let json = env.run(&["kpi", "--model", "phased", "--json"]);
    assert!(!json.ok().contains("NaN"), "{}", json.stdout);
    assert_eq!(json.json()["success_rate"], serde_json::Value::Null);
    let old = env.run(&["kpi", "--since", "2020-01-01", "--until", "2020-02-01"]);
    assert!(old.ok().contains("no deployments in this period"), "{}", old.stdout);
}

#[test]
fn bad_kpi_input_is_one_sentence_and_exit_2() {
    let env = Env::new();
    let key = env.plan("big-bang", 2);
    finish(&env, &key, false);
    for (args, needle) in [
        (vec!["kpi", "--since", "lately"], "\"lately\" is not a period"),
        (
            vec!["kpi", "--since", "2026-02-01", "--until", "2026-01-01"],
            "--until 2026-01-01 is not after --since 2026-02-01",
        ),
        (vec!["kpi", "--until", "someday"], "\"someday\" is not a date"),
        (vec!["kpi", "--service", "nope"], "--service \"nope\" has no deployment in the log"),
        (vec!["kpi", "--env", "prod"], "--env \"prod\" is not declared in the config"),
        (vec!["kpi", "--model", "zigzag"], "--model \"zigzag\" is not declared in the config"),
        (vec!["kpi", "--by", "hour"], "--by \"hour\" is not a grouping"),
    ] {
        let run = env.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{args:?}: {}", run.stderr);
    }
}
