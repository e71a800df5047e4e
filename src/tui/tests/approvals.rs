//! The Approvals and Notifications views and the confirm dialog on a real log: keys in, state
//! and commands out, decisions recorded through the data source, and snapshots.

use super::{app, fixture, press, screen, serve};
use crate::domain::gate::Decision;
use crate::domain::gate::view::ActionKind;
use crate::store::Store;
use crate::tui::app::approvals::timing::{EtaWarning, timing};
use crate::tui::app::{Cmd, Msg, Tab};
use crate::tui::model::{Decided, DecisionCmd};
use chrono::TimeDelta;
use crossterm::event::KeyCode;

fn keys(app: &mut crate::tui::app::App, codes: &[KeyCode]) -> Vec<Cmd> {
    codes.iter().flat_map(|c| press(app, *c)).collect()
}

fn typed(app: &mut crate::tui::app::App, text: &str) -> Vec<Cmd> {
    text.chars().flat_map(|c| press(app, KeyCode::Char(c))).collect()
}

/// The Approvals view with `key`'s entry selected.
fn select(app: &mut crate::tui::app::App, key: crate::domain::DeploymentKey) {
    press(app, KeyCode::Char('2'));
    press(app, KeyCode::Home);
    while app.approvals.current().is_some_and(|p| p.item.deployment != key) {
        let before = app.approvals.selected;
        press(app, KeyCode::Char('j'));
        assert_ne!(before, app.approvals.selected, "{key} is not in the inbox");
    }
}

#[test]
fn the_inbox_puts_what_the_operator_can_do_now_first_and_the_header_counts_pending_gates() {
    let fx = fixture::build();
    let (app, _loader) = app(&fx, 80, 24);
    let order: Vec<_> = app.approvals.items.iter().map(|p| p.item.deployment).collect();
    // The running payments rollout went into wave-1 without its approval: that gate stays.
    assert_eq!(order, vec![fx.failed, fx.half_approved, fx.running, fx.baking, fx.not_lee]);
    assert!(app.approvals.items[2].item.ran_past);
    let gates = app.approvals.items.iter().filter(|p| p.item.kind == ActionKind::Gate && !p.item.ran_past).count();
    assert_eq!(app.counts.awaiting_approval, gates, "◆ counts every deployment waiting at a gate");
    assert_eq!(gates, 3);
    let baking = &app.approvals.items[3];
    assert_eq!(baking.phase.as_ref().map(|p| p.targets), Some(8), "wave-1 takes a fifth of 40 hosts");
    assert!(baking.eta.is_some_and(|e| e > TimeDelta::zero()), "past pilots give an ETA");
}

#[test]
fn approving_needs_the_confirm_and_records_through_the_data_source() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    select(&mut app, fx.half_approved);
    let opened = press(&mut app, KeyCode::Char('a'));
    let ask = DecisionCmd {
        key: fx.half_approved,
        phase: "wave-1".into(),
        decision: Decision::Approve,
        comment: None,
        reason: None,
    };
    assert_eq!(opened, vec![Cmd::Preview(ask)], "the key opens the dialog and asks who would be told");
    let dialog = app.dialog.as_ref().expect("a confirm dialog");
    assert_eq!((dialog.decision, dialog.reason_required, &dialog.preview), (Decision::Approve, false, &None));
    assert!(screen(&app).contains("working it out"), "{}", screen(&app));
    serve(&mut app, &mut loader, opened);
    let preview = app.dialog.as_ref().and_then(|d| d.preview.clone()).expect("previewed").expect("would be recorded");
    assert!(!preview.is_empty());
    assert!(preview.iter().all(|t| t.person != fixture::OPERATOR), "the decider is not told");
    let shown = screen(&app);
    assert!(shown.contains("Will notify:"), "{shown}");
    assert!(preview.iter().all(|t| shown.contains(&format!("{} ({})", t.person, t.kind))), "{shown}");
    assert_eq!(
        Store::open_existing(&fx.path).expect("opens").gate(fx.half_approved, "wave-1").expect("gate").approvals.len(),
        1,
        "the preview wrote nothing"
    );
    // Typing goes into the comment, not to the keymap ('q' does not quit, 'j' does not move).
    assert_eq!(typed(&mut app, "lgtm q j"), vec![]);
    assert!(!app.quit);
    let cmds = press(&mut app, KeyCode::Enter);
    let want = DecisionCmd {
        key: fx.half_approved,
        phase: "wave-1".into(),
        decision: Decision::Approve,
        comment: Some("lgtm q j".into()),
        reason: None,
    };
    assert_eq!(cmds, vec![Cmd::Decide(want)]);
    assert!(app.dialog.as_ref().is_some_and(|d| d.sending));
    serve(&mut app, &mut loader, cmds);
    assert!(app.dialog.is_none(), "recorded: the dialog closes");
    let (ok, status) = app.status.clone().expect("a result");
    assert!(ok && status.contains("gate approved (2 of 2)"), "{status}");
    let gate = Store::open_existing(&fx.path).expect("opens").gate(fx.half_approved, "wave-1").expect("gate");
    assert_eq!(gate.approvals.iter().map(|a| a.person.as_str()).collect::<Vec<_>>(), vec!["priya", "lee"]);
    assert_eq!(gate.approvals[1].comment.as_deref(), Some("lgtm q j"));
    assert!(app.approvals.for_deployment(fx.half_approved).is_none(), "the inbox was read again");
    // Everyone the preview named was told, as it said.
    let store = Store::open_existing(&fx.path).expect("opens");
    for t in &preview {
        let told = store.notifications(&t.person, false, 50).expect("notifications");
        assert!(
            told.iter().any(|n| n.kind == t.kind && n.subject == t.subject),
            "{} was not told {}",
            t.person,
            t.subject
        );
    }
}

#[test]
fn esc_cancels_and_nothing_is_written() {
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 80, 24);
    select(&mut app, fx.half_approved);
    let opened = press(&mut app, KeyCode::Char('a'));
    assert!(matches!(&opened[..], [Cmd::Preview(_)]), "{opened:?}");
    let mut cmds = typed(&mut app, "oops");
    cmds.extend(press(&mut app, KeyCode::Esc));
    assert_eq!(cmds, vec![]);
    assert!(app.dialog.is_none());
    let gate = Store::open_existing(&fx.path).expect("opens").gate(fx.half_approved, "wave-1").expect("gate");
    assert_eq!(gate.approvals.len(), 1);
}

#[test]
fn a_rejection_needs_a_reason_and_halts_the_deployment() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    select(&mut app, fx.half_approved);
    press(&mut app, KeyCode::Char('r'));
    assert!(app.dialog.as_ref().is_some_and(|d| d.reason_required));
    assert_eq!(keys(&mut app, &[KeyCode::Char(' '), KeyCode::Enter]), vec![], "a blank reason is no reason");
    let error = app.dialog.as_ref().and_then(|d| d.error.clone()).expect("says why");
    assert!(error.contains("needs a reason"), "{error}");
    assert!(screen(&app).contains("needs a reason"));
    typed(&mut app, "pilot logs show errors");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(matches!(&cmds[..], [Cmd::Decide(d)] if d.reason.as_deref() == Some("pilot logs show errors")));
    serve(&mut app, &mut loader, cmds);
    let status = app.status.clone().expect("a result").1;
    assert!(status.contains("deployment aborted"), "{status}");
    let gate = Store::open_existing(&fx.path).expect("opens").gate(fx.half_approved, "wave-1").expect("gate");
    assert_eq!(gate.rejection.map(|r| r.reason), Some("pilot logs show errors".into()));
}

#[test]
fn an_operator_without_the_role_sees_the_rule_and_gets_no_dialog() {
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 80, 24);
    select(&mut app, fx.not_lee);
    assert_eq!(press(&mut app, KeyCode::Char('a')), vec![]);
    assert!(app.dialog.is_none());
    let (ok, status) = app.status.clone().expect("says why");
    assert!(!ok);
    assert!(status.contains("lee holds none of the roles allowed to decide here (deployment_manager, change_manager)"));
    assert!(screen(&app).contains("lee holds none of the roles"), "{}", screen(&app));
}

#[test]
fn a_decision_refused_when_recorded_shows_the_rule_in_the_dialog() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    select(&mut app, fx.half_approved);
    press(&mut app, KeyCode::Char('a'));
    // Meanwhile omar rejected it in another terminal; the inbox has not been read again yet.
    let mut other = Store::open_existing(&fx.path).expect("opens");
    fixture::decide(&mut other, fx.half_approved, "wave-1", "omar", Decision::Reject, "2026-11-26T10:29:00Z");
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    let dialog = app.dialog.as_ref().expect("stays open");
    let error = dialog.error.clone().expect("the rule");
    assert!(error.contains("refused: the deployment is aborted"), "{error}");
    assert!(!dialog.sending);
    assert!(!app.status.clone().expect("status").0);
}

#[test]
fn read_only_hides_every_decision() {
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 80, 24);
    app.read_only = true;
    select(&mut app, fx.half_approved);
    for k in ['a', 'r', 'R', 'x', 'b'] {
        assert_eq!(press(&mut app, KeyCode::Char(k)), vec![]);
        assert!(app.dialog.is_none() && app.status.is_none(), "{k} does nothing");
    }
    let text = screen(&app);
    assert!(!text.contains("a approve") && !text.contains("r reject"), "{text}");
    press(&mut app, KeyCode::Char('?'));
    let help = screen(&app);
    assert!(!help.contains("approve the gate") && help.contains("read-only"), "{help}");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('4'));
    assert_eq!(press(&mut app, KeyCode::Enter), vec![], "marking read writes too");
}

#[test]
fn the_live_view_acts_on_the_selected_deployments_gate() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    select(&mut app, fx.half_approved);
    let cmds = press(&mut app, KeyCode::Enter);
    assert_eq!(app.tab, Tab::Live, "Enter shows the deployment in Live");
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.live.selected, Some(fx.half_approved));
    assert!(screen(&app).contains("a approve"), "{}", screen(&app));
    press(&mut app, KeyCode::Char('a'));
    let dialog = app.dialog.as_ref().expect("the same dialog from Live");
    assert_eq!((dialog.pending.item.deployment, dialog.decision), (fx.half_approved, Decision::Approve));
}

#[test]
fn a_failed_phase_offers_retry_abort_and_rollback_only() {
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 80, 24);
    select(&mut app, fx.failed);
    press(&mut app, KeyCode::Char('a'));
    assert!(app.dialog.is_none());
    assert!(app.status.clone().expect("says why").1.contains("it offers retry, abort, rollback"));
    for (k, d) in [('R', Decision::Retry), ('x', Decision::Abort), ('b', Decision::Rollback)] {
        press(&mut app, KeyCode::Char(k));
        assert_eq!(app.dialog.as_ref().map(|d| d.decision), Some(d));
        if d == Decision::Rollback {
            // Nothing tells agents to undo anything: the dialog must not promise it.
            let text = screen(&app);
            assert!(text.contains("no agent is told") && !text.contains("agents undo"), "{text}");
        }
        press(&mut app, KeyCode::Esc);
    }
}

#[test]
fn notifications_are_newest_first_and_enter_marks_one_read() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    let unread = app.approvals.unread;
    assert!(unread > 0, "lee hears about decisions on production deployments");
    let times: Vec<_> = app.approvals.notifications.iter().map(|n| n.created_at).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    press(&mut app, KeyCode::Char('4'));
    let text = screen(&app);
    assert!(text.contains(&format!("{unread} unread")), "the header counts them: {text}");
    let cmds = press(&mut app, KeyCode::Enter);
    assert_eq!(cmds, vec![Cmd::MarkRead(vec![app.approvals.notifications[0].id])]);
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.approvals.unread, unread - 1);
    let store = Store::open_existing(&fx.path).expect("opens");
    assert_eq!(store.unread_count(fixture::OPERATOR).expect("counts"), unread - 1);
    assert_eq!(press(&mut app, KeyCode::Enter), vec![], "already read");
}

#[test]
fn an_eta_past_the_window_or_into_a_freeze_is_a_warning() {
    let fx = fixture::build();
    let (app, _loader) = app(&fx, 80, 24);
    let config = &app.session.config;
    let mut baking = app.approvals.for_deployment(fx.baking).expect("in the inbox").clone();
    let t = timing(&baking, &config.windows, &config.freezes, app.now);
    assert_eq!(t.start, Some(fixture::at("2026-11-26T17:00:00Z")), "the window opens at 18:00 Berlin");
    assert_eq!(t.warning, None);
    baking.eta = Some(TimeDelta::hours(6));
    let t = timing(&baking, &config.windows, &config.freezes, app.now);
    let closes = fixture::at("2026-11-26T22:00:00Z");
    assert_eq!(t.warning, Some(EtaWarning::PastWindow { name: "weekday-evenings".into(), closes }));
    // A failed phase retried the week before the year-end freeze, for ten days.
    let mut failed = app.approvals.for_deployment(fx.failed).expect("in the inbox").clone();
    failed.eta = Some(TimeDelta::days(30));
    let t = timing(&failed, &config.windows, &config.freezes, app.now);
    assert!(matches!(t.warning, Some(EtaWarning::IntoFreeze { ref name, .. }) if name == "year-end"), "{t:?}");
    assert!(t.bake_until.is_none());
}

#[test]
fn snapshots_of_the_approvals_view_and_the_confirm_dialog() {
    let fx = fixture::build();
    for (w, h) in [(80, 24), (200, 50)] {
        let (mut app, _loader) = app(&fx, w, h);
        select(&mut app, fx.half_approved);
        insta::assert_snapshot!(format!("approvals_inbox_{w}x{h}"), screen(&app));
        let (mut app, mut loader) = (app, _loader);
        let cmds = press(&mut app, KeyCode::Char('r'));
        serve(&mut app, &mut loader, cmds);
        typed(&mut app, "pilot error rate too high");
        insta::assert_snapshot!(format!("confirm_reject_{w}x{h}"), screen(&app));
        press(&mut app, KeyCode::Esc);
        select(&mut app, fx.baking);
        insta::assert_snapshot!(format!("approvals_baking_{w}x{h}"), screen(&app));
    }
}

#[test]
fn a_decision_result_without_a_dialog_still_shows() {
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 80, 24);
    app.update(Msg::Decided(Decided::NotRecorded("approve of DEP-9 pilot by lee refused: something".into())));
    assert!(screen(&app).contains("refused: something"));
}

#[test]
fn the_dashboard_says_how_many_approvals_are_still_missing_as_the_cli_does() {
    let fx = fixture::build();
    // Another staging rollout by sam whose wave-1 (two approvals) has none yet.
    let mut store = Store::open_existing(&fx.path).expect("opens");
    let hosts = fixture::hosts("inv", 10);
    let key =
        fixture::plan_by(&mut store, "inventory@2.0.0", "staging", "phased", &hosts, "2026-11-26T09:30:00Z", "sam");
    fixture::decide(&mut store, key, "pilot", "omar", Decision::Approve, "2026-11-26T09:31:00Z");
    fixture::phase_ok(&mut store, key, &hosts[..2], "2026-11-26T09:40:00Z", "2026-11-26T09:50:00Z");
    drop(store);
    let (mut app, mut loader) = app(&fx, 80, 24);
    select(&mut app, key);
    press(&mut app, KeyCode::Char('a'));
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    let (ok, status) = app.status.clone().expect("a result");
    assert!(ok, "{status}");
    assert!(
        status.starts_with(&format!(
            "recorded: {key} wave-1 approve by lee as service_owner: 1 of 2 approvals, 1 missing"
        )),
        "{status}"
    );
}

/// Regression: notifications were cut with `…` and could not be read in full, and one whose
/// gate had been decided still looked like it asked for something.
#[test]
fn enter_opens_a_notification_in_full_and_decided_gates_show_as_settled() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    press(&mut app, KeyCode::Char('4'));
    let text = screen(&app);
    let line = |needle: &str| text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}:\n{text}"));
    // Agents ran DEP-3's wave-1 without its approval: the gate still waits for a decision
    // (before conformance flags it dropped out of the inbox and looked settled).
    assert!(!line("DEP-3 wave-1: approval needed").contains("settled"), "DEP-3's wave-1 still waits:\n{text}");
    assert!(!line("DEP-6 wave-1: approval needed").contains("settled"), "DEP-6's wave-1 still waits:\n{text}");
    let first = app.approvals.notifications[0].clone();
    let tail: String = first.body.chars().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
    assert!(!text.contains(&tail), "the list shows it cut:\n{text}");
    let cmds = press(&mut app, KeyCode::Enter);
    assert_eq!(cmds, vec![Cmd::MarkRead(vec![first.id])], "opening marks it read");
    serve(&mut app, &mut loader, cmds);
    let opened = screen(&app);
    let flat: String = opened.lines().map(|l| l.trim_matches(|c| c == '│' || c == ' ')).collect::<Vec<_>>().join(" ");
    assert!(flat.contains(tail.trim()), "the whole text is shown:\n{opened}");
    assert_eq!(press(&mut app, KeyCode::Esc), vec![]);
    assert!(!app.approvals.note_open);
}
/// Saves a complete review of the fixture's old staging success with one action past its due
/// date, one due later and one done; returns the deployment.
fn review_with_overdue_action(fx: &fixture::Fixture) -> crate::domain::DeploymentKey {
    review_with_overdue_actions(fx, 0)
}

/// [`review_with_overdue_action`] with `more` actions past their due date besides.
pub(super) fn review_with_overdue_actions(fx: &fixture::Fixture, more: usize) -> crate::domain::DeploymentKey {
    use crate::domain::history::HistoryFilter;
    use crate::domain::review::{Action, Completion, ReviewContent};
    let mut store = Store::open_existing(&fx.path).expect("opens");
    let rule = crate::config::Config::built_in().review_rule();
    let staging = HistoryFilter { environment: Some("staging".into()), ..HistoryFilter::default() };
    let old = store.history(&staging, &rule, fixture::now(), 0, 1).expect("history")[0].key;
    let action = |text: &str, owner: &str, due: &str, done: bool| Action {
        text: text.into(),
        owner: owner.into(),
        due: chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").expect("date"),
        done,
    };
    let content = ReviewContent {
        state: Completion::Complete,
        summary: "staging hosts filled their disks".into(),
        impact: "none in production".into(),
        cause_category: "capacity".into(),
        root_cause: "old releases were never pruned".into(),
        contributing_factors: Vec::new(),
        lessons: "prune as part of the model".into(),
        actions: vec![
            action("Prune old releases before unpacking", "sam", "2026-11-20", false),
            action("Alert on free disk below 20%", "priya", "2026-12-10", false),
            action("Resize staging disks", "omar", "2026-11-01", true),
        ]
        .into_iter()
        .chain((1..=more).map(|i| action(&format!("Follow-up number {i}"), "sam", "2026-11-21", false)))
        .collect(),
    };
    store.save_review(old, &content, "(file)", ("dana", "dana"), fixture::at("2026-10-30T09:00:00Z")).expect("saved");
    old
}

#[test]
fn reviews_the_operator_owes_and_overdue_actions_show_below_the_gates_and_in_the_header() {
    let fx = fixture::build();
    let reviewed = review_with_overdue_action(&fx);
    for (w, h) in [(80, 24), (200, 50)] {
        let (mut app, _loader) = app(&fx, w, h);
        // lee, a service owner, owes the review of the failed production canary.
        let owed: Vec<_> = app.approvals.owed.iter().map(|r| r.key).collect();
        assert_eq!(owed, vec![fx.failed]);
        let overdue: Vec<_> = app.approvals.overdue.iter().map(|a| (a.deployment, a.n)).collect();
        assert_eq!(overdue, vec![(Some(reviewed), 1)], "due later or done is not overdue");
        press(&mut app, KeyCode::Char('2'));
        let shown = screen(&app);
        let header = shown.lines().next().unwrap_or_default();
        // In words when they fit, else in short before the clock.
        let counts = if w >= 120 { "1 review owed  1 action overdue" } else { "✎1 !1" };
        assert!(header.contains(counts), "{header}");
        assert!(header.trim_end().ends_with("11:30:00 CET"), "the clock stays whole: {header}");
        assert!(shown.contains("review owed") && shown.contains("Prune old releases"), "{shown}");
        insta::assert_snapshot!(format!("approvals_follow_ups_{w}x{h}"), shown);
    }
}

#[test]
fn only_those_the_config_names_owe_a_review() {
    let fx = fixture::build();
    review_with_overdue_action(&fx);
    let config = crate::config::Config::built_in();
    let owed = |person: &str| {
        let store = Store::open_existing(&fx.path).expect("opens");
        let desk = crate::decide::Desk::new(&config, crate::decide::Operator::named(&config, person, person));
        let mut loader = crate::tui::data::Loader::new(store, fixture::clock(), config.timezone).with_gates(desk);
        let data = loader.gates().expect("reads").expect("an operator");
        (data.owed.len(), data.overdue.len())
    };
    // The requester (dana) and the service owners (lee, priya) owe it; sam and omar do not.
    // Overdue actions are everyone's to see.
    assert_eq!([owed("dana"), owed("priya"), owed("sam"), owed("omar")], [(1, 1), (1, 1), (0, 1), (0, 1)]);
}

#[test]
fn notifications_show_each_channel_s_delivery_state_and_the_header_counts_failed_ones() {
    use crate::domain::notify::{Delivery, DeliveryState, Outgoing};
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 120, 30);
    press(&mut app, KeyCode::Char('4'));
    let note = app.approvals.notifications.first().cloned().expect("lee has notifications");
    let delivery = |id: i64, channel: &str, state: DeliveryState, attempts: u32, error: Option<&str>| Delivery {
        id,
        notification: note.id,
        channel: channel.into(),
        state,
        attempts,
        max_attempts: Some(6),
        due_at: fixture::now(),
        last_error: error.map(str::to_owned),
        sent_at: (state == DeliveryState::Sent).then(fixture::now),
        created_at: fixture::now(),
        idempotency_key: format!("key-{id}"),
        outgoing: Outgoing {
            recipient: note.recipient.clone(),
            kind: note.kind.clone(),
            deployment: note.deployment,
            phase: note.phase.clone(),
            subject: note.subject.clone(),
            body: note.body.clone(),
        },
        items: Vec::new(),
    };
    app.approvals.deliveries = vec![
        delivery(1, "hook", DeliveryState::Sent, 1, None),
        delivery(2, "mail", DeliveryState::Retrying, 2, Some("SMTP 127.0.0.1: connection refused")),
        delivery(3, "pager", DeliveryState::Failed, 6, Some("page.sh: exit status 1")),
    ];
    app.approvals.failed_deliveries = 2;
    let list = screen(&app);
    assert!(list.contains("hook ✓") && list.contains("mail ↻2/6") && list.contains("pager ✗"), "{list}");
    assert!(list.lines().next().is_some_and(|h| h.contains("✉✗2")), "{list}");
    app.update(Msg::Resize(200, 30));
    assert!(screen(&app).lines().next().is_some_and(|h| h.contains("✉✗2 failed deliveries")), "{}", screen(&app));
    app.update(Msg::Resize(120, 30));
    press(&mut app, KeyCode::Enter);
    let open = screen(&app);
    assert!(open.contains("in_app: read"), "opening marks it read: {open}");
    assert!(open.contains("mail: retrying 2/6: SMTP 127.0.0.1: connection refused"), "{open}");
    assert!(open.contains("pager: failed 6/6: page.sh: exit status 1"), "{open}");
    assert!(open.contains("hook: sent 2026-11-26"), "{open}");
}

/// A canary whose analysis has the error rate but no agent reporting latency: the Approvals
/// view shows the analysis live, warns about the missing metric and says how it decides.
#[test]
fn the_approvals_view_shows_the_live_canary_analysis_and_warns_about_a_missing_metric() {
    use crate::domain::EventStatus;
    let fx = fixture::build();
    let key = {
        let mut store = Store::open_existing(&fx.path).expect("opens");
        let hosts = fixture::hosts("cat", 4);
        let key = fixture::plan_by(
            &mut store,
            "catalog@2.0.0",
            "production",
            "canary",
            &hosts,
            "2026-11-26T10:00:00Z",
            "dana",
        );
        let run = fixture::Run {
            key,
            host: "cat-001",
            steps: &["install", "verify"],
            from: "2026-11-26T10:00:10Z",
            last: Some(EventStatus::Succeeded),
            error: "",
        };
        fixture::ingest(&mut store, fixture::events(&run), "2026-11-26T10:01:00Z");
        let mut samples = Vec::new();
        for m in 2..29 {
            for (i, h) in hosts.iter().enumerate() {
                let line = format!(
                    r#"{{"id":"s-{h}-{m}","deployment":"{key}","target":"{h}","step":"metrics","status":"info","at":"2026-11-26T10:{m:02}:00Z","data":{{"metric":"error_rate","value":{}}}}}"#,
                    if i == 0 { 0.3 } else { 0.2 }
                );
                samples.push(crate::domain::event::parse_line(&line, fixture::now()).expect("a sample"));
            }
        }
        fixture::ingest(&mut store, samples, "2026-11-26T10:29:00Z");
        key
    };
    let (mut app, _loader) = app(&fx, 120, 40);
    select(&mut app, key);
    let shown = screen(&app);
    assert!(shown.contains("Analysis:  canary analysis: missing metric"), "{shown}");
    assert!(
        shown.contains("error_rate difference: canary 0.3 vs baseline 0.2 = 0.1 ≤ 0.5 (held 27m of 10m)"),
        "{shown}"
    );
    assert!(shown.contains("⚠ no agent reports \"latency_p95_ms\" for the canary and the baseline"), "{shown}");
    assert!(shown.contains("shipdeck (analysis) approves once every rule passes"), "{shown}");
}

#[test]
fn an_emergency_freeze_declared_elsewhere_is_among_the_missing_rules_of_an_open_dashboard() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 200, 50);
    select(&mut app, fx.baking);
    assert!(!screen(&app).contains("freeze outage"), "{}", screen(&app));
    // Another process declares a freeze of production, ending within a minute.
    let mut writer = Store::open(&fx.path).expect("opens");
    let envs = vec!["production".to_owned()];
    writer
        .declare_freeze(&crate::store::FreezeRequest {
            name: "outage",
            environments: &envs,
            from: fixture::now(),
            until: fixture::at("2026-11-26T12:00:30Z"),
            reason: "payments outage",
            person: "omar",
            os_user: "omar",
            now: fixture::now(),
        })
        .expect("declared");
    // The data thread reads the gates again (on its timer, as it does after a commit).
    let gates = loader.gates().expect("reads");
    app.update(Msg::Data(Box::new(crate::tui::model::Refresh { gates, ..Default::default() })));
    select(&mut app, fx.baking);
    let text = screen(&app);
    assert!(text.contains("freeze outage until 13:00:30"), "{text}");
}
