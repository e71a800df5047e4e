//! Update tests: keys and data in, state and commands out; no terminal, no log.

use super::*;
use crate::domain::records::{DeploymentSummary, PhaseView, StoredEvent, TargetView};
use crate::domain::{DeploymentKey, DeploymentStatus, EventStatus, PhaseStatus, TargetStatus};
use crate::tui::model::DetailUpdate;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).expect("valid")
}

fn summary(key: i64, release: &str, env: &str, status: DeploymentStatus) -> DeploymentSummary {
    DeploymentSummary {
        key: DeploymentKey(key),
        release: release.into(),
        version: "1.0.0".into(),
        change_ref: None,
        environment: env.into(),
        model: "phased".into(),
        technique: "phased".into(),
        requested_by: "dana".into(),
        status,
        planned_at: t0(),
        created_at: t0(),
        started_at: Some(t0()),
        finished_at: None,
        steps: vec!["install".into()],
        targets: 25,
        succeeded: 0,
        failed: 0,
        running: 0,
        current_phase: Some("pilot".into()),
        last_event_seq: 0,
    }
}

fn target(i: usize) -> TargetView {
    TargetView {
        name: format!("web-{i:02}"),
        phase: "pilot".into(),
        status: TargetStatus::Pending,
        last_step: None,
        last_status: None,
        last_message: None,
        last_error: None,
        last_at: None,
        seen_at: None,
        labels: Default::default(),
    }
}

fn event(seq: i64, key: i64, target: &str) -> StoredEvent {
    StoredEvent {
        seq,
        id: format!("e{seq}"),
        deployment: DeploymentKey(key),
        phase: Some("pilot".into()),
        target: Some(target.into()),
        step: "install".into(),
        status: EventStatus::Started,
        at: t0(),
        received_at: t0(),
        message: None,
        data: None,
    }
}

fn detail(key: i64, events: Vec<StoredEvent>, all: bool) -> DetailUpdate {
    let phase = PhaseView {
        index: 0,
        name: "pilot".into(),
        status: PhaseStatus::Running,
        targets: 25,
        succeeded: 0,
        failed: 0,
        running: 0,
        pending: 25,
        failure_budget: 1,
        budget_left: 1,
        gate: None,
        started_at: None,
        finished_at: None,
    };
    DetailUpdate {
        key: DeploymentKey(key),
        phases: vec![phase],
        targets: if all { (1..=60).map(target).collect() } else { Vec::new() },
        all_targets: all,
        reset_tail: all,
        new_events: events.len(),
        events,
        verification: crate::domain::records::Verification::default(),
        analysis: None,
        shape: crate::tui::model::Shape::default(),
    }
}

/// An app at 80x24 with three deployments: DEP-2 running (selected), DEP-3 planned, DEP-1 failed.
fn app() -> App {
    let session = Session {
        db: "log.db".into(),
        receiver: None,
        config: Config::built_in(),
        operator: "lee".into(),
        os_user: "lee".into(),
        notice: None,
    };
    let mut app = App::new(session, Keymap::default(), Theme::mono(), false, t0());
    app.update(Msg::Resize(80, 24));
    let list = vec![
        summary(3, "checkout", "staging", DeploymentStatus::Planned),
        summary(2, "payments-api", "production", DeploymentStatus::Running),
        summary(1, "search", "production", DeploymentStatus::Failed),
    ];
    let events = (1..=30).map(|s| event(s, 2, "web-01")).collect();
    let refresh = Refresh { list: Some(list), detail: Some(detail(2, events, true)), ..Refresh::default() };
    assert_eq!(app.update(Msg::Data(Box::new(refresh))), vec![], "the detail came with the list");
    app
}

fn key(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn keys(app: &mut App, codes: &[KeyCode]) -> Vec<Cmd> {
    codes.iter().flat_map(|c| key(app, *c)).collect()
}

fn shown(app: &App) -> Vec<i64> {
    app.live.shown.iter().map(|&i| app.live.deployments[i].key.0).collect()
}

#[test]
fn running_deployments_come_first_and_the_first_is_selected() {
    let app = app();
    assert_eq!(shown(&app), vec![2, 3, 1]);
    assert_eq!(app.live.selected, Some(DeploymentKey(2)));
}

#[test]
fn moving_through_the_list_selects_and_loads_each_deployment() {
    let mut app = app();
    assert_eq!(key(&mut app, KeyCode::Char('j')), vec![Cmd::Select(Some(DeploymentKey(3)))]);
    assert!(app.live.detail.is_none(), "the old detail is dropped until the new one arrives");
    assert_eq!(key(&mut app, KeyCode::Down), vec![Cmd::Select(Some(DeploymentKey(1)))]);
    assert_eq!(key(&mut app, KeyCode::Down), vec![], "already at the last row");
    assert_eq!(key(&mut app, KeyCode::Home), vec![Cmd::Select(Some(DeploymentKey(2)))]);
    // A late answer for a deployment no longer selected is ignored.
    app.update(Msg::Data(Box::new(Refresh { detail: Some(detail(3, Vec::new(), true)), ..Refresh::default() })));
    assert!(app.live.detail.is_none());
}

#[test]
fn only_key_presses_count() {
    let mut app = app();
    let mut release = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    assert_eq!(app.update(Msg::Key(release)), vec![]);
    assert_eq!(app.live.selected, Some(DeploymentKey(2)));
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut app = app();
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Cmd::Quit]);
    let mut app = self::app();
    key(&mut app, KeyCode::Char('/'));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.update(Msg::Key(ctrl_c)), vec![Cmd::Quit], "even while typing a filter");
    assert!(app.quit);
}

#[test]
fn tab_shift_tab_and_numbers_switch_views() {
    let mut app = app();
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.tab, Tab::Approvals);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Metrics);
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.tab, Tab::Schedule);
    assert_eq!(key(&mut app, KeyCode::Char('j')), vec![], "list keys do nothing outside Live");
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(app.tab, Tab::Live);
}

#[test]
fn the_filter_matches_release_env_or_status_and_esc_clears_it() {
    let mut app = app();
    let mut cmds = key(&mut app, KeyCode::Char('/'));
    for c in "staging".chars() {
        cmds.extend(key(&mut app, KeyCode::Char(c)));
    }
    assert_eq!(shown(&app), vec![3]);
    assert_eq!(cmds, vec![Cmd::Select(Some(DeploymentKey(3)))], "the selection follows the filter");
    keys(&mut app, &[KeyCode::Esc]);
    assert_eq!(shown(&app), vec![2, 3, 1]);
    key(&mut app, KeyCode::Char('/'));
    for c in "fail".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(shown(&app), vec![1]);
    key(&mut app, KeyCode::Enter);
    assert!(!app.live.filtering && app.live.filter == "fail", "Enter keeps the filter");
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Cmd::Quit], "keys act again after Enter");
}

#[test]
fn enter_walks_into_the_heatmap_and_opens_a_target() {
    let mut app = app();
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.live.focus, Focus::Hosts);
    let cols = app.geometry().host_cols;
    assert!(cols < 60, "the heatmap wraps at 80 columns");
    keys(&mut app, &[KeyCode::Char('l'), KeyCode::Right, KeyCode::Char('h')]);
    assert_eq!(app.live.detail.as_ref().map(|d| d.cursor), Some(1));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.live.detail.as_ref().map(|d| d.cursor), Some(1 + cols));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.live.detail.as_ref().map(|d| d.cursor), Some(1 + cols), "no row below");
    let name = format!("web-{:02}", 2 + cols);
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Cmd::LoadTarget(DeploymentKey(2), name.clone())]);
    assert_eq!(app.live.target.as_ref().map(|t| t.name.as_str()), Some(name.as_str()));
    key(&mut app, KeyCode::Esc);
    assert!(app.live.target.is_none());
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.live.focus, Focus::List);
}

#[test]
fn the_tail_follows_until_scrolled_up_then_counts_new_events_until_end() {
    let mut app = app();
    let more = |from: i64, n: i64| {
        let events = (from..from + n).map(|s| event(s, 2, "web-03")).collect();
        Msg::Data(Box::new(Refresh { detail: Some(detail(2, events, false)), ..Refresh::default() }))
    };
    app.update(more(31, 2));
    let d = app.live.detail.as_ref().expect("detail");
    assert_eq!((d.tail.len(), d.tail_scroll, d.unseen), (32, 0, 0));
    key(&mut app, KeyCode::PageUp);
    let scrolled = app.live.detail.as_ref().expect("detail").tail_scroll;
    assert!(scrolled > 0);
    app.update(more(33, 3));
    app.update(more(33, 3)); // seen again (a selection raced a poll): not counted twice
    let d = app.live.detail.as_ref().expect("detail");
    assert_eq!((d.tail.len(), d.tail_scroll, d.unseen), (35, scrolled + 3, 3), "the view stays put");
    key(&mut app, KeyCode::End);
    let d = app.live.detail.as_ref().expect("detail");
    assert_eq!((d.tail_scroll, d.unseen), (0, 0));
}

#[test]
fn the_tail_is_bounded() {
    let mut app = app();
    let events = (100..100 + 2 * crate::tui::model::TAIL_CAP as i64).map(|s| event(s, 2, "web-01")).collect();
    app.update(Msg::Data(Box::new(Refresh { detail: Some(detail(2, events, false)), ..Refresh::default() })));
    let tail = &app.live.detail.as_ref().expect("detail").tail;
    assert_eq!(tail.len(), crate::tui::model::TAIL_CAP);
    assert_eq!(tail.back().map(|e| e.seq), Some(99 + 2 * crate::tui::model::TAIL_CAP as i64));
}

#[test]
fn space_pauses_and_resumes_live_updates() {
    let mut app = app();
    assert_eq!(key(&mut app, KeyCode::Char(' ')), vec![Cmd::Pause(true)]);
    assert!(app.paused);
    assert_eq!(key(&mut app, KeyCode::Char(' ')), vec![Cmd::Pause(false)]);
    assert!(!app.paused);
}

#[test]
fn help_swallows_keys_until_closed() {
    let mut app = app();
    key(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    assert_eq!(key(&mut app, KeyCode::Char('j')), vec![]);
    assert_eq!(app.live.selected, Some(DeploymentKey(2)));
    key(&mut app, KeyCode::Esc);
    assert!(!app.help);
}

#[test]
fn a_rebound_key_drives_the_same_action() {
    let mut app = app();
    app.keymap = Keymap::from_config(&[("filter".to_owned(), "f".to_owned())].into()).expect("valid");
    key(&mut app, KeyCode::Char('/'));
    assert!(!app.live.filtering);
    key(&mut app, KeyCode::Char('f'));
    assert!(app.live.filtering);
}

#[test]
fn a_changed_summary_reorders_the_list_but_keeps_the_selection() {
    let mut app = app();
    let mut done = summary(2, "payments-api", "production", DeploymentStatus::Succeeded);
    done.succeeded = 25;
    let cmds = app.update(Msg::Data(Box::new(Refresh { changed: vec![done], ..Refresh::default() })));
    assert_eq!(cmds, vec![]);
    assert_eq!(shown(&app), vec![3, 2, 1]);
    assert_eq!(app.live.selected, Some(DeploymentKey(2)));
    assert_eq!(app.live.summary().map(|s| s.succeeded), Some(25));
}

#[test]
fn a_flood_while_scrolled_up_freezes_the_tail_and_end_reloads_it() {
    let mut app = app();
    key(&mut app, KeyCode::PageUp);
    let before: Vec<i64> = app.live.detail.as_ref().expect("detail").tail.iter().map(|e| e.seq).collect();
    let mut flood = detail(2, (1_000..1_200).map(|s| event(s, 2, "web-04")).collect(), false);
    (flood.reset_tail, flood.new_events) = (true, 5_000);
    app.update(Msg::Data(Box::new(Refresh { detail: Some(flood), ..Refresh::default() })));
    let d = app.live.detail.as_ref().expect("detail");
    assert_eq!(d.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), before, "what the user reads stays");
    assert_eq!((d.unseen, d.stale), (5_000, true));
    assert_eq!(key(&mut app, KeyCode::End), vec![Cmd::Select(Some(DeploymentKey(2)))]);
    app.update(Msg::Data(Box::new(Refresh {
        detail: Some(detail(2, vec![event(1_300, 2, "web-04")], true)),
        ..Refresh::default()
    })));
    let d = app.live.detail.as_ref().expect("detail");
    assert_eq!((d.tail.len(), d.tail_scroll, d.unseen, d.stale), (1, 0, 0, false));
}

/// Regression: a late agent's events were shown where they arrived, not when they happened.
#[test]
fn the_tail_is_in_time_order_whatever_the_arrival_order() {
    let mut app = app();
    let late = |seq: i64, minutes: i64| {
        let mut e = event(seq, 2, "web-07");
        e.at = t0() - chrono::TimeDelta::minutes(minutes);
        e
    };
    // Arrive 31, 32, 33; happened 33 first, then 31, then 32 (all before the first 30).
    let events = vec![late(31, 5), late(32, 3), late(33, 9)];
    app.update(Msg::Data(Box::new(Refresh { detail: Some(detail(2, events, false)), ..Refresh::default() })));
    let tail = &app.live.detail.as_ref().expect("detail").tail;
    let order: Vec<i64> = tail.iter().take(4).map(|e| e.seq).collect();
    assert_eq!(order, vec![33, 31, 32, 1]);
    // Nothing is taken twice or lost: the newest arrival is still known after sorting.
    app.update(Msg::Data(Box::new(Refresh {
        detail: Some(detail(2, vec![late(33, 9), event(34, 2, "web-07")], false)),
        ..Refresh::default()
    })));
    let tail = &app.live.detail.as_ref().expect("detail").tail;
    assert_eq!(tail.len(), 34);
    assert_eq!(tail.back().map(|e| e.seq), Some(34));
}

/// Regression: `d` in Live opened the drill-down under History, and Esc left the user in
/// History (with its old filter) instead of back in Live.
#[test]
fn esc_from_a_drill_down_opened_in_live_returns_to_live() {
    let mut app = app();
    let cmds = key(&mut app, KeyCode::Char('d'));
    assert!(cmds.contains(&Cmd::LoadReport(DeploymentKey(2))), "{cmds:?}");
    assert_eq!(app.tab, Tab::History);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.tab, Tab::Live);
    assert!(app.history.drill.is_none());
    assert_eq!(app.live.selected, Some(DeploymentKey(2)), "on the deployment drilled into");
    // A drill-down opened in History itself closes back into History.
    key(&mut app, KeyCode::Char('d'));
    key(&mut app, KeyCode::Char('5'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.tab, Tab::History, "moved by hand: Esc closes it where it is");
}

/// Regression: Live's `/` did not find a deployment by its key, which History's filter does.
#[test]
fn the_live_filter_matches_deployment_keys() {
    let mut app = app();
    key(&mut app, KeyCode::Char('/'));
    for c in "dep-3".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(shown(&app), vec![3]);
}

/// The sort key cycles the list's column; the selection stays on its deployment (by key) as the
/// rows move under it, and the footer names the key.
#[test]
fn the_sort_key_cycles_the_column_and_keeps_the_selection_on_its_deployment() {
    let mut app = app();
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.live.selected, Some(DeploymentKey(3)));
    assert_eq!(key(&mut app, KeyCode::Char('s')), vec![], "nothing to load: the same deployment");
    assert_eq!((app.live.sort, shown(&app)), (SortBy::Key, vec![3, 2, 1]));
    key(&mut app, KeyCode::Char('s'));
    assert_eq!((app.live.sort, shown(&app)), (SortBy::Release, vec![3, 2, 1]), "checkout, payments-api, search");
    key(&mut app, KeyCode::Char('s'));
    assert_eq!((app.live.sort, shown(&app)), (SortBy::Environment, vec![2, 1, 3]));
    assert_eq!(app.live.selected, Some(DeploymentKey(3)), "the cursor moved with DEP-3");
    // A state change re-sorts under the cursor; the selection stays on DEP-3.
    let mut failed = summary(2, "payments-api", "production", DeploymentStatus::Failed);
    failed.failed = 4;
    key(&mut app, KeyCode::Char('s'));
    app.update(Msg::Data(Box::new(Refresh { changed: vec![failed], ..Refresh::default() })));
    assert_eq!((app.live.sort, shown(&app)), (SortBy::Failed, vec![2, 3, 1]));
    assert_eq!(app.live.selected, Some(DeploymentKey(3)));
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.live.sort, SortBy::Status);
}
