//! The Approvals view's counts and its "Reviews and actions" panel on a real log: every count
//! said once, every row reachable, and the cursor where the operator left it.

use super::approvals::review_with_overdue_actions;
use super::{app, fixture, press, screen, serve};
use crate::tui::app::{Msg, Tab};
use crate::tui::model::Refresh;
use crossterm::event::KeyCode;

/// Regression: the tab said 23 (entries plus reviews and actions) under a list titled
/// "Needs you 3"; both now count the entries the operator can act on now.
#[test]
fn the_approvals_tab_counts_what_the_list_title_calls_needs_you() {
    let fx = fixture::build();
    review_with_overdue_actions(&fx, 3);
    for (w, h) in [(80, 24), (130, 40), (200, 50)] {
        let (mut app, _loader) = app(&fx, w, h);
        press(&mut app, KeyCode::Char('2'));
        let n = app.approvals.needs_you();
        assert!(n > 0 && app.approvals.follow_ups() == 5, "{n} {}", app.approvals.follow_ups());
        let text = screen(&app);
        let tabs = text.lines().nth(1).unwrap_or_default();
        // In words where they fit, as a number where only that fits, else not at all.
        let said = [format!("Approvals ({n} need you)"), format!("Approvals ({n})"), "Approvals   3".to_owned()];
        assert!(said.iter().any(|s| tabs.contains(s.as_str())), "{w}x{h}: {tabs}");
        assert!(text.contains(&format!("Needs you {n} ")), "{text}");
    }
}

/// Regression: the panel showed 7 of 20 rows and `j` stopped at the last gate; it must move
/// through every review and action, scrolling the panel to each.
#[test]
fn j_reaches_every_review_and_action_and_the_panel_scrolls_to_it() {
    let fx = fixture::build();
    review_with_overdue_actions(&fx, 8);
    let (mut app, _loader) = app(&fx, 80, 24);
    press(&mut app, KeyCode::Char('2'));
    let (entries, follow_ups) = (app.approvals.items.len(), app.approvals.follow_ups());
    assert_eq!(follow_ups, 10, "one review owed, nine actions overdue");
    for _ in 0..entries {
        press(&mut app, KeyCode::Char('j'));
    }
    for i in 0..follow_ups {
        let (at, _) = app.approvals.selected_follow_up().expect("on a review or an action");
        assert_eq!(at, i);
        assert!(app.approvals.current().is_none(), "no decision acts on a follow-up");
        let text = screen(&app);
        let wanted = match i {
            0 => fx.failed.to_string(),
            1 => "Prune old releases".to_owned(),
            n => format!("Follow-up number {}", n - 1),
        };
        // On its row in the panel, and in full in the box below.
        assert!(text.matches(&wanted).count() >= 2, "row {i} ({wanted}) not shown:\n{text}");
        press(&mut app, KeyCode::Char('j'));
    }
    press(&mut app, KeyCode::Home);
    assert_eq!(app.approvals.selected, 0);
}

/// Regression: the cursor started on the second row when the inbox arrived in two reads (it
/// followed the first read's first entry); until the operator moves it stays on the first row.
#[test]
fn the_approvals_cursor_starts_on_the_first_row_as_entries_arrive() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    let all = loader.gates().expect("reads").expect("an operator");
    let mut fewer = all.clone();
    fewer.inbox.retain(|p| p.item.deployment != app.approvals.items[0].item.deployment);
    for data in [fewer, all] {
        app.update(Msg::Data(Box::new(Refresh { gates: Some(data), ..Refresh::default() })));
    }
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(app.approvals.selected, 0);
    let first = app.approvals.items[0].item.deployment;
    assert_eq!(app.approvals.current().map(|p| p.item.deployment), Some(first));
    // Once moved, the cursor follows its entry by key through a re-sort.
    press(&mut app, KeyCode::Char('j'));
    let second = app.approvals.current().map(|p| (p.item.deployment, p.item.phase.clone()));
    let mut reordered = loader.gates().expect("reads").expect("an operator");
    reordered.inbox.retain(|p| p.item.deployment != first);
    app.update(Msg::Data(Box::new(Refresh { gates: Some(reordered), ..Refresh::default() })));
    assert_eq!(app.approvals.current().map(|p| (p.item.deployment, p.item.phase.clone())), second);
}

/// Regression: Enter on a review owed did nothing; it opens the drill-down, and Esc comes back
/// to Approvals, not to History.
#[test]
fn esc_from_a_drill_down_opened_from_a_review_owed_returns_to_approvals() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    press(&mut app, KeyCode::Char('2'));
    while app.approvals.selected_follow_up().is_none() {
        press(&mut app, KeyCode::Char('j'));
    }
    let cmds = press(&mut app, KeyCode::Enter);
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.tab, Tab::History);
    assert_eq!(app.history.drill.as_ref().map(|d| d.key), Some(fx.failed));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.tab, Tab::Approvals);
    assert!(app.history.drill.is_none());
}

/// Regression: the Approvals detail box's title dropped ESC and printed U+202E raw; it shows
/// them as `\e` and `\u{202e}`, as every other view does.
#[test]
fn the_approvals_detail_title_shows_control_characters_escaped() {
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 120, 40);
    press(&mut app, KeyCode::Char('2'));
    app.approvals.items[0].item.release = "evil\u{1b}[2J\u{202e}name".into();
    let text = screen(&app);
    let title = text.lines().find(|l| l.contains("→") && l.contains("evil")).unwrap_or_default();
    assert!(title.contains(r"evil\e[2J\u{202e}name"), "{title}");
}
