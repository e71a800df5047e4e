//! The terminal dashboard: live rollouts over the deployment log.
//!
//! [`run`] opens the log (a missing or unreadable log fails before the screen is taken), starts
//! the [`data`] thread that follows the log, and runs one `tokio::select!` loop over terminal
//! input, data and a clock tick. Layers: [`model`] (plain data) is used by [`data`], [`app`]
//! and [`view`]; [`layout`] by [`app`] and [`view`]; this loop alone joins `data` and `app`,
//! wrapping what the loader hands over in a [`Msg`]. Each turn drains what is waiting and draws at most once, and
//! no more than ~30 times a second however fast events arrive. The terminal is restored on
//! quit, Ctrl-C, SIGTERM and panic.

pub mod app;
pub mod data;
pub use crate::keymap;
pub mod layout;
pub mod model;
pub mod strings;
pub mod theme;
pub mod view;
pub mod widgets;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::store::Store;
use anyhow::Context;
use app::{App, Cmd, Msg, Session};
use crossterm::event::{Event, EventStream};
use data::{Loader, Request};
use futures_util::{FutureExt, StreamExt};
use keymap::Keymap;
use model::Loaded;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use theme::Theme;
use tokio::sync::mpsc;

/// Shortest time between two frames (~30 per second).
const FRAME: Duration = Duration::from_millis(33);
/// Updates from the data thread waiting for the UI at most.
const UPDATES_QUEUED: usize = 64;
/// How often the clock, ages and silence are refreshed without new data.
const TICK: Duration = Duration::from_millis(500);

/// What the dashboard needs from the command line.
pub struct TuiOptions {
    pub db: PathBuf,
    pub config: Config,
    pub clock: SharedClock,
    /// Open the log read-only at the SQLite level and hide every action that writes to it.
    pub read_only: bool,
    /// The receiver's address, shown in the header when one runs alongside.
    pub receiver: Option<String>,
    /// Who decisions are made as, with the OS account recorded beside them.
    pub operator: crate::decide::Operator,
}

/// Builds the app state and the loader with its first data, before any terminal is touched.
fn prepare(opts: TuiOptions) -> anyhow::Result<(App, Loader, SharedClock)> {
    let keymap = Keymap::from_config(&opts.config.dashboard.keys)
        .map_err(|e| anyhow::anyhow!("{}: {e}", e.config_path(&opts.config.dashboard.keys)))?;
    let theme = Theme::select(&opts.config.dashboard.theme, Theme::no_color_env());
    // A log this user may not write (a read-only file or folder) opens as with --read-only: the
    // dashboard hides the actions that would write instead of refusing to start.
    let mut store = if opts.read_only { Store::open_read_only(&opts.db)? } else { Store::open_to_read(&opts.db)? };
    store.set_zone(opts.config.timezone);
    let read_only = opts.read_only || store.is_read_only();
    // Every view shows the windows and freezes decisions are checked against: the log's.
    let mut opts = opts;
    let rules = crate::decide::time_rules(&opts.config, &store)?;
    opts.config.windows = rules.windows;
    opts.config.freezes = rules.freezes;
    let desk = crate::decide::Desk::new(&opts.config, opts.operator.clone());
    let mut loader = Loader::new(store, opts.clock.clone(), opts.config.timezone)
        .with_gates(desk)
        .with_reviews(opts.config.review_rule())
        .with_production(opts.config.production_environments());
    let first = loader.initial().with_context(|| format!("cannot read the deployment log {}", opts.db.display()))?;
    let session = Session {
        db: opts.db.display().to_string(),
        receiver: opts.receiver,
        config: opts.config,
        operator: opts.operator.name,
        os_user: opts.operator.os_user,
        notice: opts.operator.notice,
    };
    let notice = session.notice.clone();
    let mut app = App::new(session, keymap, theme, read_only, opts.clock.now());
    app.status = notice.map(|n| (false, n));
    if let Ok((w, h)) = crossterm::terminal::size() {
        app.update(Msg::Resize(w, h));
    }
    app.update(Msg::Data(Box::new(first)));
    Ok((app, loader, opts.clock))
}

/// Runs the dashboard until the user quits.
pub async fn run(opts: TuiOptions) -> anyhow::Result<()> {
    let (mut app, loader, clock) = prepare(opts)?;
    // Bounded: a dashboard that falls behind holds the data thread back (it reads on from its
    // last sequence number, so nothing is lost) instead of letting updates pile up.
    let (data_tx, mut data_rx) = mpsc::channel::<Loaded>(UPDATES_QUEUED);
    let (req_tx, req_rx) = std::sync::mpsc::channel::<Request>();
    let worker = std::thread::Builder::new()
        .name("shipdeck-data".into())
        .spawn(move || loader.run(&req_rx, &data_tx))
        .context("cannot start the dashboard's data thread")?;

    #[cfg(unix)]
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let mut terminal = ratatui::try_init().context("cannot take over the terminal")?;
    let result = async {
        let mut input = EventStream::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut dirty = true;
        let mut last_draw = Instant::now().checked_sub(FRAME).unwrap_or_else(Instant::now);
        loop {
            if dirty && last_draw.elapsed() >= FRAME {
                terminal.draw(|f| f.render_widget(&app, f.area()))?;
                last_draw = Instant::now();
                dirty = false;
            }
            let frame_due = tokio::time::sleep(FRAME.saturating_sub(last_draw.elapsed()));
            let mut msgs = Vec::new();
            #[cfg(unix)]
            let terminate = sigterm.recv();
            #[cfg(not(unix))]
            let terminate = std::future::pending::<Option<()>>();
            tokio::select! {
                biased;
                ev = input.next() => match ev {
                    Some(Ok(ev)) => {
                        msgs.extend(input_msg(ev));
                        while let Some(Some(Ok(ev))) = input.next().now_or_never() {
                            msgs.extend(input_msg(ev));
                        }
                    }
                    Some(Err(e)) => return Err(anyhow::Error::from(e).context("cannot read the terminal")),
                    None => break,
                },
                Some(loaded) = data_rx.recv() => {
                    msgs.push(Msg::from(loaded));
                    while let Ok(loaded) = data_rx.try_recv() {
                        msgs.push(Msg::from(loaded));
                    }
                }
                _ = tick.tick() => msgs.push(Msg::Tick(clock.now())),
                _ = terminate => break,
                () = frame_due, if dirty => {}
            }
            let mut queue: std::collections::VecDeque<Msg> = msgs.into();
            while let Some(msg) = queue.pop_front() {
                dirty = true;
                for cmd in app.update(msg) {
                    match cmd {
                        Cmd::Quit => return Ok(()),
                        Cmd::Select(key) => drop(req_tx.send(Request::Select(key))),
                        Cmd::LoadTarget(key, name) => drop(req_tx.send(Request::Target(key, name))),
                        Cmd::Pause(p) => drop(req_tx.send(Request::Pause(p))),
                        Cmd::Decide(d) => drop(req_tx.send(Request::Decide(d))),
                        Cmd::Preview(d) => drop(req_tx.send(Request::Preview(d))),
                        Cmd::MarkRead(ids) => drop(req_tx.send(Request::MarkRead(ids))),
                        Cmd::LoadHistory(filter, offset) => drop(req_tx.send(Request::History(filter, offset))),
                        Cmd::LoadReport(key) => drop(req_tx.send(Request::Report(key))),
                        Cmd::LoadMetrics(ask) => drop(req_tx.send(Request::Metrics(ask))),
                        Cmd::LoadCompare(key) => drop(req_tx.send(Request::Compare(key))),
                        Cmd::LoadChecklist(key) => drop(req_tx.send(Request::Checklist(key))),
                        Cmd::Tick(ask) => drop(req_tx.send(Request::Tick(ask))),
                        Cmd::LoadCalendar(from, until) => drop(req_tx.send(Request::Calendar(from, until))),
                        Cmd::LoadModelReview(days) => drop(req_tx.send(Request::ModelReview(days))),
                        Cmd::RecordSuggestion(s, ask) => drop(req_tx.send(Request::Record(s, ask))),
                        Cmd::LoadReplay(key) => drop(req_tx.send(Request::Replay(key))),
                        Cmd::SaveReview(key, content, text) => {
                            drop(req_tx.send(Request::SaveReview(key, content, text)));
                        }
                        Cmd::EditReview(key, text) => {
                            // The editor owns the terminal until it exits: stop reading keys, then
                            // leave the screen. The stream must be gone before a new one is made:
                            // its reader thread holds the terminal's event lock while it waits.
                            drop(input);
                            ratatui::restore();
                            let edited = crate::decide::review::edit_once(&text, &app.session.config, key)
                                .map_err(|e| e.to_string());
                            resume(&mut terminal)?;
                            input = EventStream::new();
                            queue.push_back(Msg::ReviewEdited(key, edited));
                        }
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    ratatui::restore();
    drop(req_tx);
    drop(worker.join());
    result
}

/// Takes the terminal back after an editor ran: raw mode, the alternate screen, a full redraw.
fn resume(terminal: &mut ratatui::DefaultTerminal) -> anyhow::Result<()> {
    crossterm::terminal::enable_raw_mode().context("cannot take the terminal back")?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)
        .context("cannot take the terminal back")?;
    terminal.clear().context("cannot redraw the terminal")?;
    Ok(())
}

/// The messages of one terminal event: key presses and resizes.
fn input_msg(ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(key) => Some(Msg::Key(key)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
