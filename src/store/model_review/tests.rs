use super::super::testing::Plan;
use super::super::{Store, StoreError, Submission};
use crate::domain::event::parse_line;
use crate::domain::model_review::Rule;
use crate::domain::review::Action;
use crate::domain::{DeploymentKey, DeploymentStatus};
use chrono::{DateTime, NaiveDate, Utc};

fn at(day: u32, minute: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T10:{minute:02}:00Z")).expect("valid").with_timezone(&Utc)
}

/// A big-bang deployment of three hosts on `day`: each step takes a minute; `fail` hosts
/// (from web-03 down) fail `step` with `error`.
fn run(store: &mut Store, day: u32, fail: usize, step: &str, error: &str) -> DeploymentKey {
    let key = Plan::new("big-bang", 3).release("api@1.0.0").requester("sam").at(at(day, 0)).plan(store);
    let mut lines = Vec::new();
    for (h, host) in ["web-01", "web-02", "web-03"].into_iter().enumerate() {
        let fails = h >= 3 - fail;
        for (i, s) in ["install", "verify"].into_iter().enumerate() {
            let minute = u32::try_from(i * 2).expect("small");
            lines.push(format!(
                r#"{{"id":"{key}-{host}-{s}-s","deployment":"{key}","target":"{host}","step":"{s}","status":"started","at":"{}"}}"#,
                at(day, minute + 1).to_rfc3339()
            ));
            let failed = fails && s == step;
            let (status, message) = if failed { ("failed", error) } else { ("succeeded", "ok") };
            lines.push(format!(
                r#"{{"id":"{key}-{host}-{s}","deployment":"{key}","target":"{host}","step":"{s}","status":"{status}","at":"{}","message":"{message}"}}"#,
                at(day, minute + 2).to_rfc3339()
            ));
            if failed {
                break;
            }
        }
    }
    let events = lines.iter().enumerate().map(|(i, l)| (i + 1, parse_line(l, at(day, 0)).expect(l))).collect();
    store.ingest(&[Submission { events, received_ms: at(day, 5).timestamp_millis() }]).expect("ingests");
    key
}

#[test]
fn the_review_of_a_hand_built_log_has_the_known_numbers_and_finds_the_failing_step() {
    let (_dir, mut store) = super::super::testing::open();
    for day in 1..=4 {
        run(&mut store, day, 0, "", "");
    }
    run(&mut store, 5, 2, "install", "No space left on device (free 12 MB)");
    run(&mut store, 6, 1, "install", "No space left on device (free 3 MB)");
    run(&mut store, 7, 1, "verify", "health check timed out after 30 s");
    let production = vec!["production".to_owned()];
    let r = store.model_review(None, at(1, 0), at(20, 0), &production).expect("reviews");
    assert_eq!(r.models.len(), 1);
    let m = &r.models[0];
    assert_eq!((m.model.as_str(), m.runs, m.succeeded), ("big-bang", 7, 4));
    // The phase ran from the first start (minute 1) to the last event (minute 4, or 2 when every
    // host that got as far failed its install first).
    assert_eq!(m.phases.len(), 1);
    assert_eq!((m.phases[0].runs, m.phases[0].failed_runs, m.phases[0].failed_hosts), (7, 3, 4));
    assert_eq!(m.phases[0].median_targets, Some(3));
    assert_eq!(
        m.failing_steps.iter().map(|c| (c.name.as_str(), c.count)).collect::<Vec<_>>(),
        [("install", 3), ("verify", 1)]
    );
    assert_eq!(m.error_groups[0].count, 3, "both disk messages are one shape: {:?}", m.error_groups);
    assert!(m.error_groups[0].name.starts_with("No space left on device"), "{:?}", m.error_groups);
    assert!(m.gates.is_empty(), "big-bang has no gate");
    // Three of four failed hosts in install: under the five hosts a rule needs.
    assert!(r.suggestions.is_empty(), "{:?}", r.suggestions);
    run(&mut store, 8, 3, "install", "No space left on device (free 1 MB)");
    let r = store.model_review(Some("big-bang"), at(1, 0), at(20, 0), &production).expect("reviews");
    assert_eq!(
        r.suggestions.iter().map(|s| (s.rule, s.subject.as_str())).collect::<Vec<_>>(),
        [(Rule::FailingStep, "install")]
    );
    assert_eq!(r.suggestions[0].numbers["failed_hosts"], 7.0);
    // The period and the model narrow it.
    assert!(store.model_review(Some("phased"), at(1, 0), at(20, 0), &production).expect("reviews").models.is_empty());
    assert_eq!(store.model_review(None, at(6, 0), at(20, 0), &production).expect("reviews").models[0].runs, 3);
    let statuses = store.model_runs(None, at(1, 0), at(20, 0), &production).expect("runs");
    assert_eq!(statuses.iter().filter(|r| r.deployment.status == DeploymentStatus::Succeeded).count(), 4);
}

#[test]
fn a_suggestion_recorded_is_a_models_action_beside_review_actions_and_can_be_done() {
    let (_dir, mut store) = super::super::testing::open();
    for day in 1..=5 {
        run(&mut store, day, 2, "install", "No space left on device (free 12 MB)");
    }
    let production = vec!["production".to_owned()];
    let r = store.model_review(None, at(1, 0), at(20, 0), &production).expect("reviews");
    let s = &r.suggestions[0];
    let due = NaiveDate::from_ymd_opt(2026, 12, 15).expect("date");
    let action = Action { text: s.text.clone(), owner: "priya".into(), due, done: false };
    assert_eq!(store.record_model_action(s, &action, "dana", at(20, 0)).expect("records"), 1);
    assert_eq!(store.record_model_action(s, &action, "dana", at(20, 1)).expect("records"), 2);
    let open = store.open_actions().expect("open");
    assert_eq!(open.len(), 2);
    assert_eq!((open[0].deployment, open[0].model.as_deref(), open[0].n), (None, Some("big-bang"), 1));
    assert_eq!(open[0].of(), "model big-bang");
    let json = serde_json::to_value(&open[0]).expect("json");
    assert_eq!((json["deployment"].clone(), json["model"].clone()), (serde_json::Value::Null, "big-bang".into()));
    store.set_model_action_done("big-bang", 1, true, "priya", at(22, 0)).expect("done");
    let actions = store.model_actions(Some("big-bang")).expect("actions");
    let one = actions.iter().find(|a| a.n == 1).expect("1");
    assert_eq!((one.done_at, one.done_by.as_deref()), (Some(at(22, 0)), Some("priya")));
    assert_eq!(store.open_actions().expect("open").len(), 1);
    let err = store.set_model_action_done("big-bang", 9, true, "priya", at(22, 0)).expect_err("no 9");
    assert!(matches!(err, StoreError::UnknownModelAction { n: 9, .. }), "{err}");
    // The Metrics view marks it on the week it was done.
    let m = store
        .metrics(
            &crate::domain::kpi::MetricsAsk { days: 30, environment: None },
            at(25, 0),
            &production,
            chrono_tz::UTC,
        )
        .expect("metrics");
    assert_eq!(m.actions_done, [(at(22, 0), s.text.clone())]);
}
