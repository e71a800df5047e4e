//! Text the user must read whole is never cut, at the README's 130x40, at 80x24 and at 200
//! columns: durations, releases, refusals and review errors, comparisons; and the tables use
//! the width they have.

use super::{app, fixture, press, screen, serve};
use crossterm::event::KeyCode;

/// The screen's lines with the box borders and padding taken off, joined by spaces: wrapped
/// text reads as one line again.
fn flat(text: &str) -> String {
    text.lines().map(|l| l.trim_matches(|c| c == '│' || c == ' ')).collect::<Vec<_>>().join(" ")
}

/// Regression: History's DURATION showed `1d10h5m1…` at 130x40.
#[test]
fn a_history_duration_too_long_for_its_column_is_shortened_never_cut() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 130, 40);
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    app.history.rows[0].duration_s = 86_400 + 10 * 3_600 + 5 * 60 + 12;
    let text = screen(&app);
    let row = text.lines().find(|l| l.contains(&app.history.rows[0].key.to_string())).unwrap_or_default();
    assert!(row.contains(" 1d10h ") && !row.contains('…'), "{row}");
}

/// Regression: at 80x24 RELEASE kept `payments-api…` and dropped the version, so two
/// deployments of one service looked the same; the name is cut, the version kept.
#[test]
fn at_80x24_a_cut_release_keeps_its_version_in_live_approvals_and_history() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    let live = screen(&app);
    assert!(live.contains("…@2.4.1") && !live.contains("payments-api…"), "{live}");
    press(&mut app, KeyCode::Char('2'));
    let approvals = screen(&app);
    assert!(approvals.contains("…@2.4.1") && !approvals.contains("payments-api@…"), "{approvals}");
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    let history = screen(&app);
    assert!(history.contains("…@1.9.0") && !history.contains("@1.9…"), "{history}");
}

/// Regression: at 200 columns Live's and History's tables ended 75 columns short of the
/// border; their flexible columns take the width.
#[test]
fn at_200_columns_the_tables_take_the_width() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 200, 50);
    let header_end = |text: &str, first: &str| {
        text.lines().find(|l| l.contains(first)).map_or(0, |l| l.trim_end_matches(['│', ' ']).chars().count())
    };
    let live = screen(&app);
    assert!(header_end(&live, "  KEY     RELEASE") >= 190, "{live}");
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    let history = screen(&app);
    assert!(header_end(&history, " KEY ") >= 190, "{history}");
}

/// Regression: a review error's list of valid cause categories (and a refusal naming the roles
/// allowed) was cut at the footer's edge: the choices are the point; it is shown whole.
#[test]
fn a_long_refusal_or_review_error_is_shown_whole() {
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 130, 40);
    let categories = app.session.config.reviews.cause_categories.join(", ");
    let error = format!(
        "review not saved: cause_category \"gremlins\" is unknown (one of {categories}); fix it in the editor, every other field is kept as you wrote it"
    );
    assert!(error.chars().count() > 130, "long enough to need wrapping");
    app.status = Some((false, error.clone()));
    let text = screen(&app);
    assert!(flat(&text).contains(&error), "{text}");
    // Any size, and a status of blanks alone, draw without panic.
    for status in [error.clone(), " ".repeat(300)] {
        app.status = Some((false, status));
        for (w, h) in [(1, 1), (12, 3), (50, 12), (80, 24), (200, 50)] {
            app.update(crate::tui::app::Msg::Resize(w, h));
            let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, w, h));
            ratatui::widgets::Widget::render(&app, buf.area, &mut buf);
        }
    }
    app.update(crate::tui::app::Msg::Resize(130, 40));
    // The next key clears it.
    press(&mut app, KeyCode::Char('j'));
    assert!(app.status.is_none());
}

/// Regression: Compare's lines were cut at the box's edge at 130x40; they wrap.
#[test]
fn compare_wraps_its_lines() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 130, 40);
    let cmds = press(&mut app, KeyCode::Char('5'));
    serve(&mut app, &mut loader, cmds);
    let why = format!(
        "no previous run to compare with: {}",
        "every earlier run of this service failed before its first phase; ".repeat(3)
    );
    let key = app.history.rows[0].key;
    app.history.compare =
        Some(crate::tui::app::history::CompareView { key, data: Some(Err(why.trim_end().to_owned())), scroll: 0 });
    let text = screen(&app);
    assert!(flat(&text).contains(why.trim_end()), "{text}");
}
