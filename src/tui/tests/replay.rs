//! Replay mode on the Live screen: `T` opens the selected deployment at its last happening,
//! steps and play move the time cursor, the pipeline, heatmap and tail follow it, decisions are
//! refused, and `Esc` goes back to live.

use super::{app, fixture, press, screen, serve};
use crate::domain::TargetStatus;
use crate::tui::app::{App, Cmd, Msg};
use crate::tui::strings;
use chrono::TimeDelta;
use crossterm::event::KeyCode;

fn failed_hosts(app: &App) -> usize {
    let detail = app.live.detail.as_ref().expect("detail");
    detail.targets.iter().filter(|t| t.status == TargetStatus::Failed).count()
}

fn cursor(app: &App) -> (usize, usize) {
    app.replay.as_ref().and_then(|m| m.position()).expect("replay loaded")
}

#[test]
fn replay_opens_at_the_present_steps_back_to_before_a_failure_and_goes_back_to_live() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 200, 50);
    assert_eq!(app.live.selected, Some(fx.running));
    let live = app.live.detail.clone().expect("detail");
    assert_eq!(failed_hosts(&app), 1, "web-015 failed at 10:21");

    let cmds = press(&mut app, KeyCode::Char('T'));
    assert_eq!(cmds, vec![Cmd::LoadReplay(fx.running)]);
    serve(&mut app, &mut loader, cmds);
    let (pos, len) = cursor(&app);
    assert_eq!(pos, len, "replay opens at the last happening");
    let now = app.live.detail.clone().expect("detail");
    assert_eq!((now.phases, now.targets), (live.phases.clone(), live.targets.clone()), "the present, rebuilt");
    assert!(screen(&app).contains(strings::REPLAY), "the header says so");

    // One event back at a time until web-015's failure is undone.
    let mut steps = 0;
    while failed_hosts(&app) == 1 {
        press(&mut app, KeyCode::Left);
        steps += 1;
        assert!(steps < len, "the failure is among the happenings");
    }
    let before_failure = app.replay.as_ref().and_then(|m| m.at()).expect("cursor");
    assert!(before_failure <= fixture::at("2026-11-26T10:22:00Z"), "{before_failure}");
    let web015 = app.live.detail.as_ref().and_then(|d| d.target_named("web-015")).expect("web-015").clone();
    assert_ne!(web015.status, TargetStatus::Failed);
    press(&mut app, KeyCode::Right);
    assert_eq!(failed_hosts(&app), 1, "and forward again");

    // A minute back at a time: the tail holds only what had arrived.
    press(&mut app, KeyCode::Char('['));
    let at = app.replay.as_ref().and_then(|m| m.at()).expect("cursor");
    let tail = &app.live.detail.as_ref().expect("detail").tail;
    assert!(tail.iter().all(|e| e.received_at <= at), "the tail at {at}");
    assert!(tail.len() < live.tail.len());

    // Decisions are refused, with the reason.
    let cmds = press(&mut app, KeyCode::Char('a'));
    assert!(cmds.is_empty() && app.dialog.is_none());
    assert_eq!(app.status.as_ref().map(|s| s.1.as_str()), Some(strings::REPLAY_NO_DECISIONS));

    // So are checklist ticks: the Checklist panel does not open.
    press(&mut app, KeyCode::Char('c'));
    assert!(app.checklist.is_none());
    assert_eq!(app.status.as_ref().map(|s| s.1.as_str()), Some(strings::REPLAY_NO_DECISIONS));
    // Moving to another deployment waits for the way back.
    press(&mut app, KeyCode::Down);
    assert_eq!(app.live.selected, Some(fx.running));

    // Another process commits meanwhile: the past stays on screen.
    let shown = app.live.detail.as_ref().expect("detail").targets.clone();
    let mut writer = crate::store::Store::open(&fx.path).expect("opens");
    let evs = fixture::events(&fixture::Run {
        key: fx.running,
        host: "web-021",
        steps: &["download"],
        from: "2026-11-26T10:29:30Z",
        last: None,
        error: "",
    });
    fixture::ingest(&mut writer, evs, "2026-11-26T10:29:40Z");
    let refresh = loader.poll().expect("polls").expect("news");
    app.update(Msg::Data(Box::new(refresh)));
    assert_eq!(app.live.detail.as_ref().expect("detail").targets, shown);

    // Esc: live again, read afresh from the log (with the new event).
    let cmds = press(&mut app, KeyCode::Esc);
    assert_eq!(cmds, vec![Cmd::Select(Some(fx.running))]);
    assert!(app.replay.is_none());
    serve(&mut app, &mut loader, cmds);
    let back = app.live.detail.as_ref().expect("detail");
    assert_eq!(back.target_named("web-021").map(|t| t.status), Some(TargetStatus::Running));
    assert!(!screen(&app).contains(strings::REPLAY));
}

#[test]
fn p_plays_from_the_start_at_1x_10x_60x_and_pauses() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 120, 40);
    let cmds = press(&mut app, KeyCode::Char('T'));
    serve(&mut app, &mut loader, cmds);
    let start = fixture::now();
    press(&mut app, KeyCode::Char('p'));
    let mode = app.replay.as_ref().expect("replaying");
    assert_eq!(mode.speed, Some(1));
    assert_eq!(cursor(&app).0, 0, "at the end, play starts over from the plan");
    let planned = mode.at().expect("cursor");
    app.update(Msg::Tick(start + TimeDelta::seconds(30)));
    let at = app.replay.as_ref().and_then(|m| m.at()).expect("cursor");
    assert_eq!(at - planned, TimeDelta::seconds(30), "1x");
    press(&mut app, KeyCode::Char('p'));
    assert_eq!(app.replay.as_ref().and_then(|m| m.speed), Some(10));
    app.update(Msg::Tick(start + TimeDelta::seconds(60)));
    let later = app.replay.as_ref().and_then(|m| m.at()).expect("cursor");
    assert_eq!(later - at, TimeDelta::seconds(300), "10x");
    press(&mut app, KeyCode::Char('p'));
    assert_eq!(app.replay.as_ref().and_then(|m| m.speed), Some(60));
    // Played to the end, it stops there.
    app.update(Msg::Tick(start + TimeDelta::days(2)));
    let (pos, len) = cursor(&app);
    assert_eq!((pos, app.replay.as_ref().and_then(|m| m.speed)), (len, None));
    press(&mut app, KeyCode::Char('p'));
    press(&mut app, KeyCode::Char('p'));
    press(&mut app, KeyCode::Char('p'));
    press(&mut app, KeyCode::Char('p'));
    assert_eq!(app.replay.as_ref().and_then(|m| m.speed), None, "after 60x, p pauses");
}

#[test]
fn live_in_replay_at_80x24_and_200x50() {
    let fx = fixture::build();
    for (w, h) in [(80, 24), (200, 50)] {
        let (mut app, mut loader) = app(&fx, w, h);
        let cmds = press(&mut app, KeyCode::Char('T'));
        serve(&mut app, &mut loader, cmds);
        // Three minutes back: wave-1 under way past its gate, web-015 failed, four hosts not started.
        for _ in 0..3 {
            press(&mut app, KeyCode::Char('['));
        }
        let text = screen(&app);
        assert!(text.contains(strings::REPLAY), "{text}");
        insta::assert_snapshot!(format!("replay_{w}x{h}"), text);
    }
}

#[test]
fn switching_views_goes_back_to_live() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 120, 40);
    let cmds = press(&mut app, KeyCode::Char('T'));
    serve(&mut app, &mut loader, cmds);
    press(&mut app, KeyCode::Left);
    let cmds = press(&mut app, KeyCode::Char('2'));
    assert!(app.replay.is_none());
    assert_eq!(app.tab, crate::tui::app::Tab::Approvals);
    assert!(cmds.contains(&Cmd::Select(Some(fx.running))), "the live detail is read again: {cmds:?}");
}
