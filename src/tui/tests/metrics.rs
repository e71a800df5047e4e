//! The Metrics view on a log of finished deployments with known answers: the tiles, the period
//! and scope keys, an empty scope, and `Enter` on a top failing service landing in History.

use super::fixture::{self, Fixture, Run, events, hosts, ingest, plan_by};
use super::{app, press, screen, serve};
use crate::domain::{DeploymentKey, DeploymentStatus, EventStatus};
use crate::store::Store;
use crate::tui::app::{App, Cmd, Tab};
use crossterm::event::KeyCode;

/// Ten production big-bang deployments over three weeks before the fixture's now: `api`
/// fails three times, `web` once, the rest succeed.
fn log() -> Fixture {
    log_of(&RUNS)
}

const RUNS: [(&str, &str, bool); 10] = [
    ("api@1.0.0", "2026-11-05T09:00:00Z", true),
    ("web@2.0.0", "2026-11-06T09:00:00Z", false),
    ("api@1.0.1", "2026-11-09T09:00:00Z", false),
    ("api@1.0.2", "2026-11-12T09:00:00Z", false),
    ("web@2.0.1", "2026-11-13T09:00:00Z", true),
    ("api@1.0.3", "2026-11-16T09:00:00Z", true),
    ("web@2.0.2", "2026-11-18T09:00:00Z", false),
    ("api@1.0.4", "2026-11-20T09:00:00Z", true),
    ("db@3.0.0", "2026-11-23T09:00:00Z", false),
    ("api@1.0.5", "2026-11-25T09:00:00Z", false),
];

/// A log of these runs: (release, planned, whether web's second host fails its verify).
fn log_of(runs: &[(&str, &str, bool)]) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shipdeck.db");
    let mut store = Store::open(&path).expect("opens");
    let mut first = DeploymentKey(0);
    for &(release, when, fails) in runs {
        let targets = hosts("h", 2);
        let key = plan_by(&mut store, release, "production", "big-bang", &targets, when, "dana");
        first = if first.0 == 0 { key } else { first };
        let start = fixture::at(when) + chrono::TimeDelta::minutes(5);
        let from = start.to_rfc3339();
        let mut evs = Vec::new();
        for (i, h) in targets.iter().enumerate() {
            let last = if fails && i == 1 { EventStatus::Failed } else { EventStatus::Succeeded };
            let error = "No space left on device";
            evs.extend(events(&Run {
                key,
                host: h,
                steps: &["install", "verify"],
                from: &from,
                last: Some(last),
                error,
            }));
        }
        ingest(&mut store, evs, &(start + chrono::TimeDelta::minutes(2)).to_rfc3339());
    }
    Fixture { _dir: dir, path, running: first, half_approved: first, baking: first, not_lee: first, failed: first }
}

#[test]
fn metrics_shows_the_kpis_of_the_period_and_enter_on_a_failing_service_opens_history_filtered() {
    let fx = log();
    for (w, h) in [(80, 24), (200, 50)] {
        let (mut app, mut loader) = app(&fx, w, h);
        let cmds = press(&mut app, KeyCode::Char('6'));
        assert!(
            matches!(cmds.as_slice(), [Cmd::LoadMetrics(a)] if a.days == 30 && a.environment.is_none()),
            "{cmds:?}"
        );
        serve(&mut app, &mut loader, cmds);
        let data = app.metrics.data.as_deref().expect("metrics arrived");
        assert_eq!(data.current.deployments, 10);
        assert_eq!(data.current.production_failed, 4);
        assert_eq!(data.current.change_failure_rate, Some(0.4));
        assert_eq!(data.top_services[0], ("api".to_owned(), 3));
        assert_eq!(data.top_steps[0], ("verify".to_owned(), 4));
        let text = screen(&app);
        assert!(text.contains("Change failure rate") && text.contains("40.0%"), "{text}");
        assert!(text.contains("60.0%"), "the success rate: {text}");
        assert!(text.contains("api") && text.contains("verify"), "{text}");
        insta::assert_snapshot!(format!("metrics_kpis_{w}x{h}"), text);
    }
}

#[test]
fn the_period_and_scope_keys_ask_again_and_an_empty_scope_says_so() {
    let fx = log();
    let (mut app, mut loader) = app(&fx, 80, 24);
    let cmds = press(&mut app, KeyCode::Char('6'));
    serve(&mut app, &mut loader, cmds);
    // 90d first; three presses later 7d: the last three deployments against the three before.
    let cmds = press(&mut app, KeyCode::Char('t'));
    assert!(matches!(cmds.as_slice(), [Cmd::LoadMetrics(a)] if a.days == 90), "{cmds:?}");
    serve(&mut app, &mut loader, cmds);
    assert!(screen(&app).contains("Metrics · 90d"), "{}", screen(&app));
    for _ in 0..2 {
        let cmds = press(&mut app, KeyCode::Char('t'));
        serve(&mut app, &mut loader, cmds);
    }
    assert_eq!(app.metrics.period_label(), "7d");
    let d = app.metrics.data.as_deref().expect("metrics");
    assert_eq!((d.current.deployments, d.previous.deployments), (3, 3));
    // The scope cycles through the declared environments; staging has nothing.
    let cmds = press(&mut app, KeyCode::Char('s'));
    assert!(matches!(cmds.as_slice(), [Cmd::LoadMetrics(a)] if a.environment.as_deref() == Some("production")));
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.metrics.data.as_deref().map(|d| d.current.deployments), Some(3));
    while app.metrics.wanted.as_ref().and_then(|w| w.environment.as_deref()) != Some("staging") {
        let cmds = press(&mut app, KeyCode::Char('s'));
        assert!(app.metrics.wanted.as_ref().is_none_or(|w| w.environment.is_some()), "staging is declared");
        serve(&mut app, &mut loader, cmds);
    }
    let text = screen(&app);
    assert!(text.contains("no deployments in this period") && !text.contains("NaN"), "{text}");
}

#[test]
fn enter_on_a_top_failing_service_lands_in_history_filtered_to_its_failures() {
    let fx = log();
    let (mut app, mut loader) = app(&fx, 120, 40);
    let cmds = press(&mut app, KeyCode::Char('6'));
    serve(&mut app, &mut loader, cmds);
    let cmds = press(&mut app, KeyCode::Enter);
    assert_eq!(app.tab, Tab::History);
    serve(&mut app, &mut loader, cmds);
    let h = &app.history;
    assert_eq!(h.filter.service.as_deref(), Some("api"));
    assert_eq!(h.period_label(), "30d");
    assert_eq!(h.total, 3, "api's three failures");
    assert!(h.rows.iter().all(|r| r.release == "api" && r.result != DeploymentStatus::Succeeded));
    assert!(screen(&app).contains("service=api"), "{}", screen(&app));
    // Down to the phases: big-bang/all, big-bang's four failures.
    let cmds = press(&mut app, KeyCode::Char('6'));
    serve(&mut app, &mut loader, cmds);
    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
    }
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.history.filter.model.as_deref(), Some("big-bang"));
    assert_eq!(app.history.filter.service, None);
    assert_eq!(app.history.total, 4);
    // The phase: its model's runs in which it failed; the step: runs with a host failed there.
    for (downs, phase, step) in [(3, Some("all"), None), (4, None, Some("verify"))] {
        let cmds = press(&mut app, KeyCode::Char('6'));
        serve(&mut app, &mut loader, cmds);
        press(&mut app, KeyCode::Home);
        for _ in 0..downs {
            press(&mut app, KeyCode::Down);
        }
        let cmds = press(&mut app, KeyCode::Enter);
        serve(&mut app, &mut loader, cmds);
        let f = &app.history.filter;
        assert_eq!((f.phase.as_deref(), f.step.as_deref()), (phase, step), "{:?}", app.history.line);
        assert_eq!(app.history.total, 4);
        assert!(app.history.rows.iter().all(|r| r.result != DeploymentStatus::Succeeded && r.hosts_failed == 1));
        let chip = phase.map_or_else(|| format!("step={}", step.unwrap_or_default()), |p| format!("phase={p}"));
        assert!(screen(&app).contains(&chip), "{}", screen(&app));
    }
}

#[test]
fn c_in_history_compares_the_selected_run_with_its_previous_run_of_the_service() {
    let fx = log();
    let (mut app, mut loader) = app(&fx, 120, 40);
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    // Newest first: api@1.0.5 (succeeded) after api@1.0.4 (failed).
    let cmds = press(&mut app, KeyCode::Char('c'));
    assert!(matches!(cmds.as_slice(), [Cmd::LoadCompare(_)]), "{cmds:?}");
    serve(&mut app, &mut loader, cmds);
    let c = app.history.compare.as_ref().expect("open");
    let cmp = c.data.as_ref().expect("answered").as_ref().expect("a previous run");
    assert_eq!(cmp.first.release, "api@1.0.4");
    assert_eq!(cmp.second.release, "api@1.0.5");
    let d = cmp.divergence.as_ref().expect("they diverge");
    assert!(d.what.starts_with("failed with 1 failed host(s), then succeeded with 0"), "{}", d.what);
    let text = screen(&app);
    assert!(text.contains("first divergence: phase all") && text.contains("api@1.0.4"), "{text}");
    press(&mut app, KeyCode::Esc);
    assert!(app.history.compare.is_none());
    // The oldest run of a service has nothing before it, and says so.
    let cmds = press(&mut app, KeyCode::Char('G'));
    serve(&mut app, &mut loader, cmds);
    let cmds = press(&mut app, KeyCode::Char('c'));
    serve(&mut app, &mut loader, cmds);
    let why = app.history.compare.as_ref().and_then(|c| c.data.clone()).expect("answered").expect_err("nothing before");
    assert!(why.contains("no earlier finished run"), "{why}");
}

/// [`RUNS`] and two more failures: six failed hosts, all in verify, which the model review's
/// failing-step rule names.
fn review_log() -> Fixture {
    let mut runs = RUNS.to_vec();
    runs.push(("db@3.0.1", "2026-11-24T09:00:00Z", true));
    runs.push(("web@2.0.3", "2026-11-24T12:00:00Z", true));
    let fx = log_of(&runs);
    // Owners are checked against the team stored in the log.
    let config = crate::config::Config::built_in();
    let by = crate::store::SyncBy::Seed { os_user: "test" };
    let mut store = Store::open(&fx.path).expect("opens");
    store.sync_team(&config.team(), &config.subscriptions(), by, fixture::now()).expect("stores the team");
    fx
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn erase(app: &mut App, n: usize) {
    for _ in 0..n {
        press(app, KeyCode::Backspace);
    }
}

#[test]
fn m_shows_the_model_review_and_its_suggestions() {
    let fx = review_log();
    for (w, h) in [(80, 24), (200, 50)] {
        let (mut app, mut loader) = app(&fx, w, h);
        let cmds = press(&mut app, KeyCode::Char('6'));
        serve(&mut app, &mut loader, cmds);
        let cmds = press(&mut app, KeyCode::Char('m'));
        assert_eq!(cmds, vec![Cmd::LoadModelReview(30)]);
        serve(&mut app, &mut loader, cmds);
        let (days, review) = app.metrics.review.as_ref().expect("the review arrived");
        assert_eq!((*days, review.models[0].runs, review.models[0].succeeded), (30, 12, 6));
        assert_eq!(review.suggestions.len(), 1);
        let text = screen(&app);
        assert!(text.contains("Model review (30d)"), "{text}");
        assert!(text.contains("1. big-bang: harden the verify step"), "{text}");
        assert!(text.contains("why: verify caused 6 of 6 failed hosts (100%)"), "{text}");
        assert!(text.contains("i record action") && text.contains("m top failing"), "the footer: {text}");
        insta::assert_snapshot!(format!("metrics_review_{w}x{h}"), text);
        // The period key reads the review of the new period too; m again: top failing.
        let cmds = press(&mut app, KeyCode::Char('t'));
        assert!(cmds.contains(&Cmd::LoadModelReview(90)), "{cmds:?}");
        serve(&mut app, &mut loader, cmds);
        assert_eq!(app.metrics.review.as_ref().map(|r| r.0), Some(90));
        press(&mut app, KeyCode::Char('m'));
        assert!(screen(&app).contains("Top failing"), "{}", screen(&app));
    }
}

#[test]
fn i_records_the_selected_suggestion_asking_owner_and_due_and_refuses_bad_ones() {
    let fx = review_log();
    let (mut app, mut loader) = app(&fx, 120, 40);
    for key in ['6', 'm'] {
        let cmds = press(&mut app, KeyCode::Char(key));
        serve(&mut app, &mut loader, cmds);
    }
    assert!(press(&mut app, KeyCode::Char('i')).is_empty());
    let d = app.metrics.record.as_ref().expect("the dialog is open");
    assert_eq!((d.owner.as_str(), d.due.as_str()), ("lee", "2026-12-10"), "the operator, two weeks ahead");
    assert!(screen(&app).contains("Record an improvement action"), "{}", screen(&app));
    // Someone the log's team does not know: refused, the dialog stays with the reason.
    erase(&mut app, 3);
    typed(&mut app, "ghost");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(matches!(cmds.as_slice(), [Cmd::RecordSuggestion(..)]), "{cmds:?}");
    serve(&mut app, &mut loader, cmds);
    let d = app.metrics.record.as_ref().expect("still open");
    assert!(d.error.as_deref().is_some_and(|e| e.contains("owner \"ghost\" is not a person")), "{:?}", d.error);
    assert!(screen(&app).contains("owner \"ghost\""), "{}", screen(&app));
    // A due date that is not one.
    erase(&mut app, 5);
    typed(&mut app, "priya");
    press(&mut app, KeyCode::Tab);
    erase(&mut app, 10);
    typed(&mut app, "2026-13-01");
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    let e = app.metrics.record.as_ref().and_then(|d| d.error.clone()).expect("refused");
    assert!(e.contains("due date \"2026-13-01\" is not a date"), "{e}");
    let store = Store::open_existing(&fx.path).expect("opens");
    assert!(store.model_actions(None).expect("actions").is_empty(), "nothing was recorded");
    // Fixed: recorded, the dialog closes and the footer says so.
    erase(&mut app, 5);
    typed(&mut app, "12-31");
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    assert!(app.metrics.record.is_none());
    let (ok, said) = app.status.clone().expect("said");
    assert!(ok && said.starts_with("recorded: big-bang action 1, owner priya, due 2026-12-31, by lee"), "{said}");
    let actions = store.model_actions(Some("big-bang")).expect("actions");
    assert_eq!((actions.len(), actions[0].action.owner.as_str()), (1, "priya"));
    assert!(actions[0].action.text.starts_with("big-bang: harden the verify step"));
    // Esc cancels without writing.
    press(&mut app, KeyCode::Char('i'));
    let cmds = press(&mut app, KeyCode::Esc);
    assert!(cmds.is_empty() && app.metrics.record.is_none());
    assert_eq!(store.model_actions(None).expect("actions").len(), 1);
    // Done a day ago: marked on the charts' week and listed, so its effect can be seen.
    let mut store = store;
    let done = fixture::now() - chrono::TimeDelta::days(1);
    store.set_model_action_done("big-bang", 1, true, "priya", done).expect("done");
    let cmds = app.metrics.load(&["production".to_owned()]);
    serve(&mut app, &mut loader, cmds);
    assert!(screen(&app).contains("actions done: ◆ 11-25 big-bang: harden the verify step"), "{}", screen(&app));
    // Tall tiles mark the week under each chart.
    app.update(crate::tui::app::Msg::Resize(200, 50));
    let text = screen(&app);
    assert!(text.lines().filter(|l| l.contains('◆') && !l.contains("actions done")).count() >= 3, "{text}");
}

#[test]
fn the_metrics_view_follows_the_log_when_another_process_finishes_a_deployment() {
    use crate::tui::data::Request;
    use crate::tui::model::Loaded;
    let fx = log();
    let (_app, loader) = app(&fx, 120, 40);
    let (out, mut updates) = tokio::sync::mpsc::channel::<Loaded>(16);
    let (requests, inbox) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || loader.run(&inbox, &out));
    requests.send(Request::Metrics(crate::domain::kpi::MetricsAsk { days: 30, environment: None })).expect("sends");
    requests.send(Request::ModelReview(30)).expect("sends");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut wait_for = |want: usize| {
        let (mut metrics, mut runs) = (None, None);
        while metrics != Some(want) || runs != Some(want) {
            assert!(
                std::time::Instant::now() < deadline,
                "no Metrics of {want} deployments came: {metrics:?} {runs:?}"
            );
            match updates.try_recv() {
                Ok(Loaded::Refresh(r)) => {
                    metrics = r.metrics.map(|m| m.current.deployments).or(metrics);
                    runs = r.model_review.map(|(_, r)| r.models.iter().map(|m| m.runs).sum()).or(runs);
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    };
    wait_for(10);
    // Another process finishes one more deployment: the view reads again by itself.
    let mut writer = Store::open(&fx.path).expect("opens");
    let targets = hosts("h", 2);
    let key = plan_by(&mut writer, "api@1.0.6", "production", "big-bang", &targets, "2026-11-25T12:00:00Z", "dana");
    let mut evs = Vec::new();
    for h in &targets {
        evs.extend(events(&Run {
            key,
            host: h,
            steps: &["install", "verify"],
            from: "2026-11-25T12:05:00Z",
            last: Some(EventStatus::Succeeded),
            error: "",
        }));
    }
    ingest(&mut writer, evs, "2026-11-25T12:10:00Z");
    wait_for(11);
    drop(requests);
    thread.join().expect("the data thread ends");
}

/// Regression: per-role approval waits were listed under the heading "per gate", and in "Top
/// failing" each count stood at the end of its column, beside the next column's name.
#[test]
fn role_waits_have_their_own_heading_and_each_top_failing_count_stands_by_its_name() {
    use crate::domain::kpi::{NamedWait, Spread};
    let fx = log();
    let (mut app, mut loader) = app(&fx, 200, 50);
    let cmds = press(&mut app, KeyCode::Char('6'));
    serve(&mut app, &mut loader, cmds);
    let data = app.metrics.data.as_deref_mut().expect("metrics arrived");
    let wait =
        |name: &str| NamedWait { name: name.into(), wait: Spread { count: 2, median_s: Some(60), p90_s: Some(90) } };
    data.current.approval_wait_by_gate = vec![wait("big-bang/all")];
    data.current.approval_wait_by_role = vec![wait("deployment_manager")];
    let text = screen(&app);
    let at = |needle: &str| {
        text.lines()
            .enumerate()
            .find_map(|(y, l)| l.find(needle).map(|x| (y, l[..x].chars().count())))
            .unwrap_or_else(|| panic!("{needle}:\n{text}"))
    };
    let line = |needle: &str| at(needle).0;
    // Each wait in the column of its own heading, below it.
    let (gates, gate, roles, role) = (
        at("Approval wait per gate"),
        at("big-bang/all                 p50"),
        at("Approval wait per role"),
        at("deployment_manager"),
    );
    assert!(gates.0 < gate.0 && gates.1 == gate.1, "{text}");
    assert!(roles.0 < role.0 && roles.1 == role.1 && roles.1 != gates.1 || roles.0 > gate.0, "{text}");
    // `3 api`: the count is read with its own name, first in its column.
    let api = &text.lines().nth(line(" api ")).unwrap_or_default().to_owned();
    assert!(api.contains("│ 3 api "), "{api}");
    assert!(api.contains(" 4 big-bang "), "{api}");
}
