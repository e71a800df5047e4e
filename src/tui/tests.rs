//! Screen tests: snapshots of every view from a real log and a fixed clock, every terminal size
//! without panic, and the data source following another process's commits.

mod approvals;
pub(crate) mod fixture;
mod follow_ups;
mod history;
mod layers;
mod metrics;
mod replay;
mod schedule;
mod techniques;
mod widths;

use super::app::{App, Cmd, Msg, Session, Tab};
use super::data::Loader;
use super::keymap::Keymap;
use super::theme::Theme;
use crate::config::Config;
use crate::domain::EventStatus;
use crate::store::Store;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

/// The dashboard on the fixture log, as `run` builds it, at `w` x `h`.
pub(super) fn app(fx: &fixture::Fixture, w: u16, h: u16) -> (App, Loader) {
    app_on(&fx.path, w, h)
}

/// The dashboard on the log at `path`, as `run` builds it, at `w` x `h`.
fn app_on(path: &std::path::Path, w: u16, h: u16) -> (App, Loader) {
    let store = Store::open_existing(path).expect("opens");
    let config = Config::built_in();
    let desk = crate::decide::Desk::new(
        &config,
        crate::decide::Operator::named(&config, fixture::OPERATOR, fixture::OPERATOR),
    );
    let rule = config.review_rule();
    let mut loader = Loader::new(store, fixture::clock(), config.timezone)
        .with_gates(desk)
        .with_reviews(rule)
        .with_production(config.production_environments());
    let session = Session {
        db: "/var/lib/shipdeck/shipdeck.db".into(),
        receiver: Some("127.0.0.1:7480".into()),
        config,
        operator: fixture::OPERATOR.into(),
        os_user: fixture::OPERATOR.into(),
        notice: None,
    };
    let mut app = App::new(session, Keymap::default(), Theme::colour(), false, fixture::now());
    app.update(Msg::Resize(w, h));
    let cmds = app.update(Msg::Data(Box::new(loader.initial().expect("loads"))));
    assert!(cmds.is_empty(), "the first data already holds the selected deployment: {cmds:?}");
    (app, loader)
}

pub(super) fn press(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Runs the commands an update returned against the loader, as the run loop does.
pub(super) fn serve(app: &mut App, loader: &mut Loader, cmds: Vec<Cmd>) {
    for cmd in cmds {
        let refresh = match cmd {
            Cmd::Select(key) => loader.select(key),
            Cmd::LoadTarget(key, name) => loader.target(key, name),
            Cmd::Decide(d) => {
                let decided = loader.decide(&d);
                app.update(Msg::Decided(decided));
                loader.after_write()
            }
            Cmd::Preview(d) => {
                let told = loader.preview(&d);
                app.update(Msg::Previewed(d, told));
                continue;
            }
            Cmd::MarkRead(ids) => loader.mark_read(&ids).and_then(|_| loader.after_write()),
            Cmd::LoadHistory(filter, offset) => loader.history(filter, offset),
            Cmd::LoadReport(key) => loader.report(key),
            Cmd::LoadMetrics(ask) => loader.metrics(ask),
            Cmd::LoadCompare(key) => loader.compare(key),
            Cmd::LoadChecklist(key) => loader.checklist(key),
            Cmd::LoadCalendar(from, until) => loader.calendar(from, until),
            Cmd::LoadModelReview(days) => loader.model_review(days),
            Cmd::RecordSuggestion(s, ask) => {
                let recorded = loader.record(&s, &ask);
                app.update(Msg::Decided(recorded));
                loader.metrics_again_for_tests()
            }
            Cmd::LoadReplay(key) => loader.replay(key),
            Cmd::Tick(ask) => {
                let ticked = loader.tick(&ask);
                app.update(Msg::Decided(ticked));
                loader.after_write().and_then(|mut r| {
                    r.checklist = loader.checklist(ask.key)?.checklist;
                    Ok(r)
                })
            }
            Cmd::SaveReview(key, content, text) => {
                let saved = loader.save_review(key, &content, &text);
                app.update(Msg::Decided(saved));
                continue;
            }
            Cmd::Quit | Cmd::Pause(_) | Cmd::EditReview(..) => continue,
        };
        let more = app.update(Msg::Data(Box::new(refresh.expect("loads"))));
        serve(app, loader, more);
    }
}

/// The sizes every view is held to by snapshots: the smallest drawn, the tmux test's, the
/// classic terminal, a laptop and a wide screen.
const SIZES: [(u16, u16); 5] = [(50, 12), (60, 15), (80, 24), (120, 40), (200, 50)];

/// The screen as text, one line per row, trailing blanks trimmed.
pub(super) fn screen(app: &App) -> String {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| f.render_widget(app, f.area())).expect("draws");
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..w {
            let cell = &buf[(x, y)];
            if skip == 0 {
                line.push_str(cell.symbol());
            }
            skip = usize::from(skip == 0) * unicode_width(cell.symbol()).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn unicode_width(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}

#[test]
fn every_view_at_every_size_from_50x12_to_200x50() {
    let fx = fixture::build();
    for (w, h) in SIZES {
        let (mut app, mut loader) = app(&fx, w, h);
        for (i, tab) in Tab::ALL.iter().enumerate() {
            let digit = char::from_digit(u32::try_from(i + 1).expect("small"), 10).expect("digit");
            let cmds = press(&mut app, KeyCode::Char(digit));
            serve(&mut app, &mut loader, cmds);
            assert_eq!(app.tab, *tab);
            insta::assert_snapshot!(format!("{tab:?}_{w}x{h}").to_lowercase(), screen(&app));
        }
    }
}

#[test]
fn a_target_opened_from_the_heatmap_shows_its_events_and_last_error_in_full() {
    let fx = fixture::build();
    for (w, h) in [(80, 24), (200, 50)] {
        let (mut app, mut loader) = app(&fx, w, h);
        press(&mut app, KeyCode::Enter);
        // web-015 failed: two rows down in the heatmap when it is narrower than 15 cells, else 14 right.
        let cols = app.geometry().host_cols;
        for _ in 0..14 / cols {
            press(&mut app, KeyCode::Down);
        }
        for _ in 0..14 % cols {
            press(&mut app, KeyCode::Char('l'));
        }
        let cmds = press(&mut app, KeyCode::Enter);
        assert_eq!(cmds, vec![Cmd::LoadTarget(fx.running, "web-015".into())]);
        serve(&mut app, &mut loader, cmds);
        let text = screen(&app);
        assert!(text.contains("No space left on device"), "{text}");
        insta::assert_snapshot!(format!("target_{w}x{h}"), text);
    }
}

#[test]
fn help_filter_and_pause_at_80x24() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    press(&mut app, KeyCode::Char('?'));
    let text = screen(&app);
    insta::assert_snapshot!("help_80x24", text);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Char('/'));
    let mut cmds = Vec::new();
    for c in "prod".chars() {
        cmds.extend(press(&mut app, KeyCode::Char(c)));
    }
    serve(&mut app, &mut loader, cmds);
    let text = screen(&app);
    assert!(text.contains("PAUSED") && text.contains("/prod"), "{text}");
    insta::assert_snapshot!("filter_paused_80x24", text);
}

/// The box whose top border starts with `top`, cut out of a screen.
fn overlay(screen: &str, top: &str) -> String {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let Some((y, x)) = screen.lines().enumerate().find_map(|(y, l)| l.find(top).map(|b| (y, l[..b].chars().count())))
    else {
        return String::new();
    };
    let w = lines[y][x..].iter().position(|c| *c == '┐').map_or(0, |p| p + 1);
    let mut out = String::new();
    for line in &lines[y..] {
        let row: String = line.iter().skip(x).take(w).collect();
        out.push_str(&row);
        out.push('\n');
        if row.starts_with('└') {
            break;
        }
    }
    out
}

/// Regression: `?` showed one global list in every view, cut at 130x40 (`the deployment's
/// drill-down and re…`); it shows the view's own keys first, then those of every view, each
/// description whole (wrapped), and every action is in the help of a view it acts in.
#[test]
fn help_shows_the_focused_views_keys_first_and_cuts_nothing() {
    use crate::keymap::Action;
    let fx = fixture::build();
    for (w, h) in [(80, 24), (130, 40), (200, 50)] {
        let (mut app, _loader) = app(&fx, w, h);
        let mut named = std::collections::BTreeSet::new();
        for (i, tab) in Tab::ALL.iter().enumerate() {
            let digit = char::from_digit(u32::try_from(i + 1).expect("small"), 10).expect("digit");
            press(&mut app, KeyCode::Char(digit));
            press(&mut app, KeyCode::Char('?'));
            let text = overlay(&screen(&app), "┌ Keys");
            assert!(!text.contains('…'), "{tab:?} {w}x{h}: help cut\n{text}");
            let [own, every] = app.keymap.help_for(tab.scope(), |_| true);
            let line_of = |a: Action| {
                let entry = format!("{} {} ", app.keymap.label(a), a.name());
                text.lines().position(|l| l.contains(&entry) || l.ends_with(entry.trim_end()))
            };
            for (_, a) in own.iter().chain(&every) {
                line_of(*a).unwrap_or_else(|| panic!("{tab:?} {w}x{h}: {} missing\n{text}", a.name()));
                named.insert(a.name());
                // From 130 columns the descriptions are shown, whole: their last word is there.
                let last = a.describe().split(' ').next_back().unwrap_or_default();
                assert!(w < 130 || text.contains(last), "{tab:?} {w}x{h}: {} cut\n{text}", a.describe());
            }
            // The view's own keys come first: above the heading of every view's keys, or in a
            // column before it.
            let find = |needle: &str| {
                text.lines().enumerate().find_map(|(y, l)| l.find(needle).map(|x| (y, l[..x].chars().count())))
            };
            if let (Some((_, first)), Some(heading)) = (own.first(), find(crate::tui::strings::HELP_EVERYWHERE)) {
                let at = find(&format!("{} {} ", app.keymap.label(*first), first.name())).expect("shown");
                assert!(at.0 < heading.0 || at.1 < heading.1, "{tab:?}: the view's keys come first\n{text}");
            }
            if (w, h) == (130, 40) && *tab == Tab::Approvals {
                insta::assert_snapshot!("help_approvals_130x40", text);
            }
            press(&mut app, KeyCode::Esc);
        }
        assert_eq!(named.len(), Action::ALL.len(), "every action is in some view's help");
    }
}

#[test]
fn a_tiny_terminal_gets_a_notice_instead_of_a_broken_screen() {
    let fx = fixture::build();
    let (app, _loader) = app(&fx, 40, 10);
    insta::assert_snapshot!("too_small_40x10", screen(&app));
}

#[test]
fn every_size_from_1x1_to_120x40_renders_without_panic() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 80, 24);
    let cmds = [KeyCode::Enter, KeyCode::Down, KeyCode::Enter].into_iter().flat_map(|k| press(&mut app, k)).collect();
    serve(&mut app, &mut loader, cmds);
    assert!(app.live.target.is_some());
    let mut buf = Buffer::empty(Rect::new(0, 0, 1, 1));
    for w in 1..=120 {
        for h in 1..=40 {
            app.update(Msg::Resize(w, h));
            buf.resize(Rect::new(0, 0, w, h));
            buf.reset();
            (&app).render(buf.area, &mut buf);
        }
    }
    // The other screens, the confirm dialog and the help overlay, on a coarser grid.
    let keys = [KeyCode::Char('3'), KeyCode::Char('4'), KeyCode::Char('6'), KeyCode::Char('?'), KeyCode::Esc];
    for key in keys.into_iter().chain([KeyCode::Char('2'), KeyCode::Char('R')]) {
        press(&mut app, key);
        for w in (1..=120).step_by(7) {
            for h in 1..=40 {
                app.update(Msg::Resize(w, h));
                buf.resize(Rect::new(0, 0, w, h));
                buf.reset();
                (&app).render(buf.area, &mut buf);
            }
        }
    }
    assert!(app.dialog.is_some(), "the confirm dialog was drawn at every size too");
}

#[test]
fn events_committed_by_another_process_reach_the_screen_incrementally() {
    let fx = fixture::build();
    let (mut app, mut loader) = app(&fx, 200, 50);
    assert_eq!(loader.poll().expect("polls"), None, "nothing committed since the first load");
    let tail_before = app.live.detail.as_ref().expect("detail").tail.len();

    // Another process (the receiver) stores events: web-021 starts, web-016 finishes.
    let mut writer = Store::open(&fx.path).expect("opens");
    let mut evs = fixture::events(&fixture::Run {
        key: fx.running,
        host: "web-021",
        steps: &["download"],
        from: "2026-11-26T10:29:30Z",
        last: None,
        error: "",
    });
    evs.extend(
        fixture::events(&fixture::Run {
            key: fx.running,
            host: "web-016",
            steps: &["download", "install", "verify"],
            from: "2026-11-26T10:27:00Z",
            last: Some(EventStatus::Succeeded),
            error: "",
        })
        .into_iter()
        .skip(3),
    );
    fixture::ingest(&mut writer, evs, "2026-11-26T10:29:50Z");

    let refresh = loader.poll().expect("polls").expect("a commit was noticed");
    assert!(refresh.list.is_none(), "no full reload for new events");
    let detail = refresh.detail.as_ref().expect("selected deployment changed");
    let names: Vec<&str> = detail.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["web-016", "web-021"], "only the changed targets are read");
    assert_eq!(detail.events.len(), 4);

    // Scrolled up, the tail stays put and counts what waits; End follows again.
    press(&mut app, KeyCode::PageUp);
    app.update(Msg::Data(Box::new(refresh)));
    let d = app.live.detail.as_ref().expect("detail");
    assert_eq!((d.tail.len(), d.unseen), (tail_before + 4, 4));
    assert!(screen(&app).contains("4 new · End to follow"));
    press(&mut app, KeyCode::End);
    let d = app.live.detail.as_ref().expect("detail");
    assert_eq!((d.tail_scroll, d.unseen), (0, 0));
    let text = screen(&app);
    assert!(text.contains("web-016 ✓ verify health check passed"), "{text}");
    assert_eq!(app.live.summary().expect("summary").succeeded, 15);
}

#[test]
fn a_dashboard_that_falls_behind_holds_the_data_thread_back_and_loses_no_event() {
    use super::model::Loaded;
    let fx = fixture::build();
    let (_app, mut loader) = app(&fx, 200, 50);
    loader.select(Some(fx.running)).expect("selects");
    // The run loop's channel, at its smallest: one update in flight.
    let (out, mut updates) = tokio::sync::mpsc::channel::<Loaded>(1);
    let (requests, inbox) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || loader.run(&inbox, &out));
    let mut writer = Store::open(&fx.path).expect("opens");
    let batch = |n: usize| {
        (0..3)
            .flat_map(|i| {
                let host = format!("web-{:03}", 31 + n * 3 + i);
                fixture::events(&fixture::Run {
                    key: fx.running,
                    host: &host,
                    steps: &["download"],
                    from: "2026-11-26T10:29:00Z",
                    last: None,
                    error: "",
                })
            })
            .collect::<Vec<_>>()
    };
    let mut committed = 0;
    let first = batch(0);
    committed += first.len();
    fixture::ingest(&mut writer, first, "2026-11-26T10:29:10Z");
    // Nobody reads: the first update fills the channel, and the data thread must wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while updates.is_empty() {
        assert!(std::time::Instant::now() < deadline, "the first update never came");
        std::thread::yield_now();
    }
    for n in 1..3 {
        let more = batch(n);
        committed += more.len();
        fixture::ingest(&mut writer, more, "2026-11-26T10:29:20Z");
    }
    // Now the dashboard catches up: every event arrives exactly once.
    let mut seen = Vec::new();
    while seen.len() < committed && std::time::Instant::now() < deadline {
        match updates.try_recv() {
            Ok(Loaded::Refresh(r)) => {
                seen.extend(r.detail.into_iter().filter(|d| d.key == fx.running).flat_map(|d| d.events));
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => std::thread::yield_now(),
        }
    }
    let hosts: std::collections::BTreeSet<_> = seen.iter().filter_map(|e| e.target.clone()).collect();
    assert_eq!((seen.len(), hosts.len()), (committed, 9), "{seen:?}");
    drop(requests);
    drop(updates);
    thread.join().expect("the data thread ends");
}

/// Regression: after shrinking, scrolling and growing the terminal again, the list stayed
/// scrolled and hid the rows above its first; it must keep the selection in view and fill the
/// space it has.
#[test]
fn a_resize_keeps_the_selection_in_view_and_fills_the_space() {
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 80, 24);
    let first = screen(&app);
    app.update(Msg::Resize(60, 15));
    press(&mut app, KeyCode::Char('G'));
    let small = screen(&app);
    let last = app.live.selected.expect("a selection");
    assert!(small.contains(&last.to_string()), "the selection is in view at 60x15:\n{small}");
    assert!(app.live.list_offset > 0, "the short list scrolled to the last row");
    app.update(Msg::Resize(200, 50));
    let again = screen(&app);
    assert_eq!(app.live.list_offset, 0, "every row fits again: nothing stays scrolled away");
    for key in ["DEP-3", "DEP-7", "DEP-6", "DEP-5"] {
        assert!(first.contains(key) && again.contains(key), "{key} hidden after the resize:\n{again}");
    }
    // The Approvals list keeps its selection in view at every size too.
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('G'));
    for (w, h) in SIZES {
        app.update(Msg::Resize(w, h));
        let text = screen(&app);
        // G goes to the last row of all: the last review owed or action overdue.
        let selected = app.approvals.selected_follow_up().and_then(|(_, f)| f.deployment()).expect("selected");
        let selected = selected.to_string();
        assert!(text.contains(&selected), "{selected} out of view at {w}x{h}:\n{text}");
    }
}

/// Regression: at 50 columns the Approvals list cut its STATUS (why an entry waits) to `f…`.
#[test]
fn the_approvals_status_column_keeps_its_room_at_every_width() {
    let fx = fixture::build();
    for (w, h) in SIZES {
        let (mut app, _loader) = app(&fx, w, h);
        press(&mut app, KeyCode::Char('2'));
        let text = screen(&app);
        assert!(text.contains("failed 1/1 · ready") && text.contains("gate 1/2 · ready"), "{w}x{h}:\n{text}");
    }
}

/// `dashboard.theme = "light"` in the config gives the light theme; the Live view at 80x24,
/// every cell with its style, is held by a snapshot (the text is the default theme's: meaning
/// stays in the symbols).
#[test]
fn the_light_theme_chosen_in_the_config_styles_the_live_view() {
    let text = crate::config::BUILT_IN.replace("theme = \"default\"", "theme = \"light\"");
    let config = Config::parse(&text, "light.toml").expect("a valid config");
    let theme = Theme::select(&config.dashboard.theme, false);
    assert_eq!(theme, Theme::light());
    assert_eq!(Theme::select(&config.dashboard.theme, true), Theme::mono(), "NO_COLOR still wins");
    let fx = fixture::build();
    let (mut app, _loader) = app(&fx, 80, 24);
    let default_text = screen(&app);
    app.theme = theme;
    assert_eq!(screen(&app), default_text);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    terminal.draw(|f| f.render_widget(&app, f.area())).expect("draws");
    insta::assert_debug_snapshot!("live_light_80x24", terminal.backend().buffer());
}
