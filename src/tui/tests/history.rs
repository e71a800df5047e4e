//! History and the failure drill-down on the fixture log: paging, filters, the time range, the
//! drill-down from History and from Live, and a review through the editor round.

use super::{app, fixture, press, screen, serve};
use crate::decide::review::Edited;
use crate::domain::DeploymentStatus;
use crate::tui::app::{Cmd, Msg, Tab};
use crossterm::event::KeyCode;

fn typed(app: &mut crate::tui::app::App, text: &str) -> Vec<Cmd> {
    text.chars().flat_map(|c| press(app, KeyCode::Char(c))).collect()
}

#[test]
fn history_lists_finished_deployments_and_filters_them() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 120, 30);
    let cmds = press(&mut app, KeyCode::Char('5'));
    assert!(matches!(cmds.as_slice(), [Cmd::LoadHistory(_, 0)]), "{cmds:?}");
    serve(&mut app, &mut loader, cmds);
    let h = &app.history;
    assert!(h.loaded && h.total >= 2, "the failed canary and the staging success: {}", h.total);
    assert!(h.rows.iter().any(|r| r.key == fx.failed && r.result == DeploymentStatus::Failed));
    let text = screen(&app);
    assert!(text.contains(&fx.failed.to_string()) && text.contains("✗ failed"), "{text}");

    // The filter line: named filters and free words, shown as chips once kept.
    press(&mut app, KeyCode::Char('/'));
    let cmds = typed(&mut app, "result=failed");
    serve(&mut app, &mut loader, cmds);
    press(&mut app, KeyCode::Enter);
    assert!(app.history.rows.iter().all(|r| r.result == DeploymentStatus::Failed));
    assert_eq!(app.history.total, 1);
    let text = screen(&app);
    assert!(text.contains(" result=failed "), "{text}");
    // A filter that matches nothing says so.
    press(&mut app, KeyCode::Char('/'));
    let cmds = typed(&mut app, " nosuchword");
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.history.total, 0);
    assert!(screen(&app).contains("No finished deployment matches these filters."));
    // A bad filter is named and changes nothing.
    let cmds = typed(&mut app, " colour=red");
    serve(&mut app, &mut loader, cmds);
    assert!(app.history.line_error.is_some());
    assert!(screen(&app).contains("unknown filter \"colour\""), "{}", screen(&app));
    press(&mut app, KeyCode::Esc);
    // Esc cleared the line: everything again. `t` cycles the time range from "all" to "24h".
    let cmds = press(&mut app, KeyCode::Char('t'));
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.history.period_label(), "24h");
    assert!(screen(&app).contains("· 24h"), "{}", screen(&app));
}

#[test]
fn the_drill_down_of_a_failed_deployment_tells_what_failed_where_and_why() {
    let fx = fixture::build();
    for (w, h) in [(80, 24), (200, 50)] {
        let (mut app, mut loader) = app(&fx, w, h);
        let cmds = press(&mut app, KeyCode::Char('5'));
        serve(&mut app, &mut loader, cmds);
        let row = app.history.rows.iter().position(|r| r.key == fx.failed).expect("listed");
        for _ in 0..row {
            press(&mut app, KeyCode::Down);
        }
        insta::assert_snapshot!(format!("history_list_{w}x{h}"), screen(&app));
        let cmds = press(&mut app, KeyCode::Enter);
        assert_eq!(cmds, vec![Cmd::LoadReport(fx.failed)]);
        serve(&mut app, &mut loader, cmds);
        let text = screen(&app);
        assert!(text.contains("Timeline") && text.contains("Error groups"), "{text}");
        insta::assert_snapshot!(format!("drill_{w}x{h}"), text);
        press(&mut app, KeyCode::Esc);
        assert!(app.history.drill.is_none());
    }
}

#[test]
fn a_refused_attempt_is_never_listed_as_an_approval_in_the_drill_down() {
    let fx = fixture::build();
    {
        // sam tries to approve the failed canary's fleet gate: refused, and kept in the audit.
        let mut store = crate::store::Store::open(&fx.path).expect("opens");
        let config = crate::config::Config::built_in();
        let ask = crate::decide::Ask {
            key: fx.failed,
            phase: "fleet".into(),
            decision: crate::domain::gate::Decision::Approve,
            comment: None,
            reason: None,
        };
        let who = crate::decide::Operator::named(&config, "sam", "sam");
        let err = crate::decide::Desk::new(&config, who).decide(&mut store, &ask, fixture::now()).expect_err("refused");
        assert!(err.is_refusal(), "{err}");
    }
    let (mut app, mut loader) = app(&fx, 200, 50);
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    let cmds = app.history.drill(Some(fx.failed));
    serve(&mut app, &mut loader, cmds);
    let text = screen(&app);
    let decisions = text.split("Decisions").nth(1).expect("a Decisions list");
    assert!(decisions.contains("fleet approve (refused) by sam"), "{text}");
    assert!(!decisions.contains("fleet approve by sam"), "{text}");
}

#[test]
fn the_drill_down_is_reachable_from_live() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 120, 30);
    let selected = app.live.selected.expect("a deployment is selected");
    let cmds = press(&mut app, KeyCode::Char('d'));
    assert_eq!(app.tab, Tab::History);
    assert!(cmds.contains(&Cmd::LoadReport(selected)), "{cmds:?}");
    serve(&mut app, &mut loader, cmds);
    let report = app.history.drill.as_ref().and_then(|d| d.report.as_ref()).expect("report");
    assert_eq!(report.deployment.key, selected);
}

#[test]
fn a_review_written_in_the_editor_is_saved_and_a_broken_one_kept() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 200, 50);
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    let cmds = app.history.drill(Some(fx.failed));
    serve(&mut app, &mut loader, cmds);
    // w: the editor on the template, prefilled with the facts.
    let cmds = press(&mut app, KeyCode::Char('w'));
    let [Cmd::EditReview(key, template)] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert_eq!(*key, fx.failed);
    assert!(template.contains("# Failure review:") && template.contains("summary = \"\""), "{template}");

    // The author leaves a mistake: nothing is saved, the text is kept, w opens it again.
    let broken = template
        .replace("summary = \"\"", "summary = \"Canary failed\"")
        .replace("cause_category = \"\"", "cause_category = \"gremlins\"");
    let err = crate::decide::review::parse(&broken, &app.session.config).expect_err("unknown category");
    let cmds = app.update(Msg::ReviewEdited(fx.failed, Ok(Edited::Invalid(err, broken.clone()))));
    assert!(cmds.is_empty());
    assert!(screen(&app).contains("\"gremlins\" is unknown"), "{}", screen(&app));
    let cmds = press(&mut app, KeyCode::Char('w'));
    assert_eq!(cmds, vec![Cmd::EditReview(fx.failed, broken.clone())], "the kept text, not the template");

    // Fixed: saved as the operator, and the drill-down shows it.
    let fixed = broken.replace("gremlins", "code");
    let content = crate::decide::review::parse(&fixed, &app.session.config).expect("valid");
    let cmds = app.update(Msg::ReviewEdited(fx.failed, Ok(Edited::Valid(content, fixed))));
    assert!(matches!(cmds.as_slice(), [Cmd::SaveReview(..)]), "{cmds:?}");
    serve(&mut app, &mut loader, cmds);
    let cmds = vec![Cmd::LoadReport(fx.failed)];
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.status.as_ref().map(|s| s.0), Some(true), "{:?}", app.status);
    let text = screen(&app);
    assert!(text.contains("Canary failed"), "{text}");
    insta::assert_snapshot!("drill_with_review_200x50", text);
    // At 80x24 the review is below what failed: scrolled to.
    app.update(Msg::Resize(80, 24));
    press(&mut app, KeyCode::PageDown);
    let text = screen(&app);
    assert!(text.contains("Canary failed"), "{text}");
    insta::assert_snapshot!("drill_with_review_80x24", text);
}

#[test]
fn w_after_enter_in_history_opens_the_editor() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 120, 30);
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    let cmds = press(&mut app, KeyCode::Char('w'));
    assert!(matches!(cmds.as_slice(), [Cmd::EditReview(..)]), "{cmds:?}");
}

#[test]
fn the_checklist_panel_ticks_an_item_with_evidence_through_the_decision_path() {
    use crate::domain::checklist::ItemState;
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 100, 30);
    let geometry = app.geometry();
    let cmds = app.live.show(fx.not_lee, &geometry);
    serve(&mut app, &mut loader, cmds);
    let cmds = press(&mut app, KeyCode::Char('c'));
    assert_eq!(cmds, vec![Cmd::LoadChecklist(fx.not_lee)]);
    serve(&mut app, &mut loader, cmds);
    let ids: Vec<String> =
        app.checklist.as_ref().and_then(|p| p.items.clone()).expect("items").into_iter().map(|i| i.id).collect();
    assert_eq!(ids, ["artifacts", "backup", "smoke", "service-healthy"]);

    // lee (sre) may tick the environment's backup, which needs evidence.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    assert!(app.checklist.as_ref().is_some_and(|p| p.confirm.is_some()), "space opens the confirm");
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    let text = screen(&app);
    assert!(text.contains("needs evidence"), "refused without evidence:\n{text}");
    let cmds = typed(&mut app, "restore tested on db-2");
    assert!(cmds.is_empty(), "typing only fills the evidence");
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    let panel = app.checklist.as_ref().expect("open");
    let backup = panel.items.as_ref().expect("items").iter().find(|i| i.id == "backup").expect("backup");
    assert_eq!((backup.state, backup.ticked_by.as_deref()), (ItemState::Done, Some("lee")));
    assert_eq!(backup.evidence.as_deref(), Some("restore tested on db-2"));
    assert!(panel.confirm.is_none());
    insta::assert_snapshot!("checklist_100x30", screen(&app));

    // An item ticked already, or ticked by the agents' events, opens no confirm and says why.
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Char(' '));
    assert!(app.checklist.as_ref().is_some_and(|p| p.confirm.is_none()));
    assert!(screen(&app).contains("\"artifacts\" is already done"), "{}", screen(&app));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    assert!(app.checklist.as_ref().is_some_and(|p| p.confirm.is_none()));
    assert!(screen(&app).contains("not by hand"), "{}", screen(&app));
    press(&mut app, KeyCode::Esc);
    assert!(app.checklist.is_none(), "Esc closes the panel");
}

#[test]
fn the_drill_down_scrolls_no_further_than_its_last_line() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    let cmds = app.history.drill(Some(fx.failed));
    serve(&mut app, &mut loader, cmds);
    for _ in 0..50 {
        press(&mut app, KeyCode::PageDown);
    }
    let bottom = app.history.drill.as_ref().map(|d| d.scroll).expect("open");
    assert!(bottom > 0 && bottom < 60, "held at the end: {bottom}");
    let text = screen(&app);
    assert!(text.contains("w writes it"), "the end of the review section is still on screen:\n{text}");
    press(&mut app, KeyCode::Up);
    assert_eq!(app.history.drill.as_ref().map(|d| d.scroll), Some(bottom - 1), "one key back up, not fifty");
}
