//! The change calendar: lanes, bars, windows, freezes and conflicts on screen; moving, zooming
//! and opening a deployment from its bar.

use super::{app, fixture, press, screen, serve};
use crate::tui::app::Tab;
use crate::tui::app::schedule::Zoom;
use crossterm::event::KeyCode;

/// The fixture with an emergency freeze of staging declared this afternoon by dana.
fn with_freeze() -> fixture::Fixture {
    let fx = fixture::build();
    let mut store = crate::store::Store::open_existing(&fx.path).expect("opens");
    let envs = vec!["production".to_owned()];
    store
        .declare_freeze(&crate::store::FreezeRequest {
            name: "db-incident",
            environments: &envs,
            from: fixture::at("2026-11-27T13:00:00Z"),
            until: fixture::at("2026-11-27T16:00:00Z"),
            reason: "primary database failover",
            person: "dana",
            os_user: "dana",
            now: fixture::now(),
        })
        .expect("declared");
    fx
}

#[test]
fn the_week_shows_lanes_windows_freezes_bars_and_the_next_events_at_80x24_and_200x50() {
    let fx = with_freeze();
    for (w, h) in [(80, 24), (200, 50)] {
        let (mut app, mut loader) = app(&fx, w, h);
        let cmds = press(&mut app, KeyCode::Char('3'));
        serve(&mut app, &mut loader, cmds);
        assert_eq!((app.tab, app.calendar.zoom), (Tab::Schedule, Zoom::Week));
        press(&mut app, KeyCode::Down);
        let text = screen(&app);
        for want in ["production", "staging", "░", "▓", "│", "Next", "window weekday-evenings opens"] {
            assert!(text.contains(want), "{want} missing at {w}x{h}:\n{text}");
        }
        insta::assert_snapshot!(format!("calendar_week_{w}x{h}"), text);
    }
}

#[test]
fn zoom_move_back_to_now_and_enter_opens_the_deployment() {
    let fx = with_freeze();
    let (mut app, mut loader) = app(&fx, 120, 40);
    let cmds = press(&mut app, KeyCode::Char('3'));
    serve(&mut app, &mut loader, cmds);
    let cmds = press(&mut app, KeyCode::Char('+'));
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.calendar.zoom, Zoom::Day);
    let text = screen(&app);
    assert!(text.contains("Thu 26 Nov 2026 – Thu 26 Nov 2026") && text.contains("18:00"), "{text}");
    // Tomorrow: the emergency freeze, from 14:00 Berlin.
    let cmds = press(&mut app, KeyCode::Right);
    serve(&mut app, &mut loader, cmds);
    let text = screen(&app);
    assert!(text.contains("Fri 27 Nov 2026") && text.contains("▓"), "{text}");
    let cmds = press(&mut app, KeyCode::Char('t'));
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.calendar.offset, 0);
    for _ in 0..2 {
        let cmds = press(&mut app, KeyCode::Char('-'));
        serve(&mut app, &mut loader, cmds);
    }
    assert_eq!(app.calendar.zoom, Zoom::Month);
    assert!(screen(&app).contains("November 2026") || screen(&app).contains("Nov 2026"));
    // The scheduled checkout rollout is a bar; Enter on it shows it in Live.
    let checkout = app
        .calendar
        .bars()
        .iter()
        .find(|e| e.name == "checkout@5.0.0")
        .and_then(|e| e.key.clone())
        .expect("checkout is on the calendar");
    while app.calendar.selected.map(|k| k.to_string()) != Some(checkout.clone()) {
        press(&mut app, KeyCode::Down);
    }
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.tab, Tab::Live);
    assert_eq!(app.live.selected.map(|k| k.to_string()), Some(checkout));
}

#[test]
fn a_conflicting_deployment_is_highlighted_with_its_conflict() {
    let fx = fixture::build();
    {
        // Planned into tomorrow's emergency freeze.
        let mut store = crate::store::Store::open_existing(&fx.path).expect("opens");
        fixture::plan_by(
            &mut store,
            "risky@1.0.0",
            "production",
            "big-bang",
            &fixture::hosts("rk", 3),
            "2026-11-27T14:00:00Z",
            "dana",
        );
        let envs = vec!["production".to_owned()];
        let req = crate::store::FreezeRequest {
            name: "db-incident",
            environments: &envs,
            from: fixture::at("2026-11-27T13:00:00Z"),
            until: fixture::at("2026-11-27T16:00:00Z"),
            reason: "failover",
            person: "dana",
            os_user: "dana",
            now: fixture::now(),
        };
        store.declare_freeze(&req).expect("declared");
    }
    let (mut app, mut loader) = app(&fx, 120, 40);
    let cmds = press(&mut app, KeyCode::Char('3'));
    serve(&mut app, &mut loader, cmds);
    let risky = app.calendar.bars().into_iter().find(|e| e.name == "risky@1.0.0").cloned().expect("on the calendar");
    assert_eq!(risky.conflicts.len(), 2, "outside the windows (Friday) and in the freeze: {:?}", risky.conflicts);
    while app.calendar.selected_entry().map(|e| e.name.as_str()) != Some("risky@1.0.0") {
        press(&mut app, KeyCode::Down);
    }
    let text = screen(&app);
    assert!(text.contains("!risky@1.0.0") || text.contains("!risky"), "{text}");
    assert!(text.contains("! overlaps freeze \"db-incident\""), "{text}");
}

#[test]
fn the_calendar_is_read_again_when_another_process_declares_a_freeze() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 120, 40);
    let cmds = press(&mut app, KeyCode::Char('3'));
    serve(&mut app, &mut loader, cmds);
    assert!(loader.calendar_again().expect("reads").is_none(), "nothing changed");
    let mut other = crate::store::Store::open_existing(&fx.path).expect("another process");
    let envs = vec!["production".to_owned()];
    other
        .declare_freeze(&crate::store::FreezeRequest {
            name: "db-incident",
            environments: &envs,
            from: fixture::at("2026-11-27T13:00:00Z"),
            until: fixture::at("2026-11-27T16:00:00Z"),
            reason: "failover",
            person: "dana",
            os_user: "dana",
            now: fixture::now(),
        })
        .expect("declared");
    let again = loader.calendar_again().expect("reads").expect("read again after the commit");
    app.update(crate::tui::app::Msg::Data(Box::new(again)));
    assert!(screen(&app).contains("freeze db-incident starts"), "{}", screen(&app));
}

/// A calendar entry of the week shown.
fn entry(
    kind: crate::domain::calendar::EntryKind,
    name: &str,
    env: &str,
    from: &str,
    until: &str,
) -> crate::domain::calendar::Entry {
    crate::domain::calendar::Entry {
        kind,
        name: name.into(),
        key: (kind == crate::domain::calendar::EntryKind::Deployment).then(|| format!("DEP-{}", 900 + name.len())),
        environments: vec![env.into()],
        start: fixture::at(from),
        end: fixture::at(until),
        status: (kind == crate::domain::calendar::EntryKind::Deployment).then(|| "scheduled".to_owned()),
        emergency: false,
        reason: None,
        conflicts: Vec::new(),
    }
}

/// The rows of `env`'s lane: from its label to the next lane's (or the legend).
fn lane(text: &str, env: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = lines.iter().position(|l| l.starts_with(&format!("│{env}"))) else { return Vec::new() };
    let mut out = vec![lines[first].to_owned()];
    for l in &lines[first + 1..] {
        if !(l.starts_with("│ ") || l.starts_with("│+")) || l.contains("window  ▓ freeze") {
            break;
        }
        out.push((*l).to_owned());
    }
    out
}

/// Regression: two scheduled bars' labels ran over a freeze on both rows of the lane, so the
/// freeze the conflict list names was not drawn; six deployments at one time showed as two,
/// with no "+N more".
#[test]
fn the_week_draws_a_freeze_under_labels_and_every_deployment_or_how_many_more() {
    use crate::domain::calendar::{Conflict, EntryKind};
    let fx = fixture::build();
    for (w, h) in [(80, 24), (130, 40)] {
        let (mut app, mut loader) = app(&fx, w, h);
        let cmds = press(&mut app, KeyCode::Char('3'));
        serve(&mut app, &mut loader, cmds);
        let (from, until) = app.calendar.span(app.now, app.session.config.timezone);
        let freeze =
            entry(EntryKind::Freeze, "dc-maintenance", "production", "2026-11-27T19:00:00Z", "2026-11-28T07:00:00Z");
        let mut ledger =
            entry(EntryKind::Deployment, "ledger@3.1.0", "production", "2026-11-27T20:00:00Z", "2026-11-27T21:00:00Z");
        ledger.conflicts = vec![Conflict::Freeze { name: freeze.name.clone(), from: freeze.start, until: freeze.end }];
        let mut entries = vec![
            freeze,
            entry(
                EntryKind::Deployment,
                "auth-gateway@2.2.0",
                "production",
                "2026-11-27T16:00:00Z",
                "2026-11-27T16:30:00Z",
            ),
            entry(
                EntryKind::Deployment,
                "catalog-api@4.2.0",
                "production",
                "2026-11-27T16:30:00Z",
                "2026-11-27T17:00:00Z",
            ),
            ledger,
        ];
        let six: Vec<String> = (1..=6).map(|i| format!("svc-{i}@1.0.0")).collect();
        for name in &six {
            entries.push(entry(EntryKind::Deployment, name, "staging", "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"));
        }
        for (i, e) in entries.iter_mut().enumerate() {
            if e.key.is_some() {
                e.key = Some(format!("DEP-{}", 900 + i));
            }
        }
        app.calendar.apply(crate::tui::model::CalendarPage { from, until, entries, upcoming: Vec::new() });
        let text = screen(&app);
        let production = lane(&text, "production").join("\n");
        assert!(production.contains('▓'), "{w}x{h}: the freeze is drawn\n{text}");
        let staging = lane(&text, "staging").join("\n");
        let shown = six.iter().filter(|n| staging.contains(n.as_str())).count();
        let more = staging.split('+').nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<usize>().ok());
        assert_eq!(shown + more.unwrap_or(0), 6, "{w}x{h}: each shown, or counted as more\n{text}");
        if (w, h) == (130, 40) {
            assert_eq!(shown, 6, "room for every one at 130x40\n{text}");
        }
    }
}

/// Regression: at 80x24 the selected bar's conflicts were cut at the box's edge (the windows it
/// could start in are the point of the line); they wrap.
#[test]
fn the_selected_bars_conflicts_wrap_instead_of_being_cut() {
    use crate::domain::calendar::{Conflict, EntryKind};
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    let cmds = press(&mut app, KeyCode::Char('3'));
    serve(&mut app, &mut loader, cmds);
    let (from, until) = app.calendar.span(app.now, app.session.config.timezone);
    let mut ledger =
        entry(EntryKind::Deployment, "ledger@3.1.0", "production", "2026-11-27T20:00:00Z", "2026-11-27T21:00:00Z");
    ledger.key = Some("DEP-901".into());
    let windows = ["weekday-evenings", "weekend-nights", "month-end-batch", "quarterly-maintenance"];
    let conflict = Conflict::StartOutsideWindows { windows: windows.map(String::from).to_vec(), next_opens: None };
    let said = conflict.describe(app.session.config.timezone);
    ledger.conflicts = vec![conflict];
    app.calendar.apply(crate::tui::model::CalendarPage { from, until, entries: vec![ledger], upcoming: Vec::new() });
    app.calendar.selected = Some(crate::domain::DeploymentKey(901));
    let text = screen(&app);
    let flat = text.lines().map(|l| l.trim_matches(|c| c == '│' || c == ' ')).collect::<Vec<_>>().join(" ");
    assert!(said.chars().count() > 76 && flat.contains(&format!("! {said}")), "{said}\n{text}");
}
