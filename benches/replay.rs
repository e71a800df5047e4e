//! `shipdeck-bench replay`: `status KEY --at TIME` and the dashboard's replay steps on a
//! 10,000-host deployment of 50,000 events (see [`crate::log::build_rollout`]).
//!
//! `status --at`: the log read (`Store::replay_log`), folded to the moment (`Replay`) and
//! written as JSON, in process and as the command; its floor is a plain scan of the rows it
//! reads (the deployment's events, targets and phases by key). Each replay step: a key press
//! through the dashboard's own `App::update` (the fold to the new cursor and the hand-over of
//! every host and the tail to the Live view) and the frame drawn at 200x50; its floor is the
//! same frame drawn unchanged plus a copy of the hosts it hands over.

use crate::log;
use crate::measure::{median, ms, time};
use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use shipdeck::clock::{FixedClock, SharedClock};
use shipdeck::domain::replay::Replay;
use shipdeck::store::Store;
use shipdeck::tui::app::{App, Msg, Session};
use shipdeck::tui::data::{Loader, TAIL_CAP};
use shipdeck::tui::keymap::Keymap;
use shipdeck::tui::model::Cmd;
use shipdeck::tui::theme::Theme;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZE: (u16, u16) = (200, 50);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reuse (or keep) the generated log here
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Hosts of the deployment (five events each)
    #[arg(long, default_value_t = 10_000)]
    targets: usize,
    /// Runs of `status --at` (the median is printed)
    #[arg(long, default_value_t = 9)]
    runs: usize,
    /// Key presses measured per kind of step
    #[arg(long, default_value_t = 100)]
    steps: usize,
}

/// When the rollout is planned: a Monday noon, long past.
fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T10:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

fn line(name: &str, took: Duration, floor: Duration, goal_ms: u64) {
    let ratio = took.as_secs_f64() / floor.as_secs_f64().max(1e-9);
    let ok = if took < Duration::from_millis(goal_ms) { "ok" } else { "MISSED" };
    println!("{name:<52} {:>10}   floor {:>10}   x{ratio:<5.1} goal < {goal_ms} ms: {ok}", ms(took), ms(floor));
}

fn press(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn run(ctx: &crate::Ctx, a: &Args) -> anyhow::Result<()> {
    let dir =
        tempfile::Builder::new().prefix("shipdeck-bench").tempdir().context("cannot create a temporary folder")?;
    let path = a.db.clone().unwrap_or_else(|| dir.path().join("replay-bench.db"));
    println!("shipdeck-bench replay");
    if path.exists() {
        println!("log: {} (reused)", path.display());
    } else {
        log::build_rollout(&ctx.config, &path, a.targets, start())?;
    }
    let store = Store::open_existing(&path)?;
    let key = store
        .list(&shipdeck::store::ListFilter { statuses: Vec::new(), limit: 1 })?
        .first()
        .map(|d| d.key)
        .context("the log has no deployment")?;
    let log = store.replay_log(key)?;
    let (hosts, events, decisions) = (log.stored.target_list.len(), log.events.len(), log.decisions.len());
    let mut replay = Replay::new(log);
    let (planned, end, happenings) = (replay.start(), replay.end(), replay.len());
    println!(
        "{key}: {hosts} hosts, {events} events, {decisions} decisions, {happenings} happenings from {} to {}",
        planned.to_rfc3339(),
        end.to_rfc3339()
    );
    replay.seek(happenings);
    anyhow::ensure!(replay.detail() == store.detail(key, true)?, "replay at the end differs from the stored state");

    // `status --at`: at the end (every event folded) and in the middle of the rollout.
    let (floor, rows) = time(a.runs, || Ok(store.replay_floor(key)?))?;
    println!("floor: {rows} rows read by key");
    let middle = planned + (end - planned) / 2;
    for (name, at) in [("the last event", end), ("mid-rollout", middle)] {
        let (took, bytes) = time(a.runs, || {
            let mut r = Replay::for_one_moment(store.replay_log(key)?);
            r.seek_time(at);
            Ok(serde_json::to_vec(&r.view(TAIL_CAP))?.len())
        })?;
        line(&format!("status --at {name} ({} KiB of JSON)", bytes / 1024), took, floor, 100);
    }
    let exe = std::env::current_exe()?.with_file_name(format!("shipdeck{}", std::env::consts::EXE_SUFFIX));
    if exe.is_file() {
        let at = end.to_rfc3339();
        let (took, out) = time(a.runs, || {
            Ok(std::process::Command::new(&exe)
                .arg("--db")
                .arg(&path)
                .args(["status", &key.to_string(), "--at", &at, "--json"])
                .output()?)
        })?;
        anyhow::ensure!(out.status.success(), "status --at failed: {}", String::from_utf8_lossy(&out.stderr));
        line(&format!("`shipdeck status {key} --at ... --json` command"), took, floor, 100);
    } else {
        println!("(no shipdeck binary beside this one: the `status --at` command not timed)");
    }

    // The dashboard: T opens the replay, each key press a step, each step a frame.
    let clock: SharedClock = Arc::new(FixedClock(end + TimeDelta::hours(1)));
    let config = ctx.config.clone();
    let mut loader = Loader::new(Store::open_existing(&path)?, clock.clone(), config.timezone);
    let session = Session {
        db: path.display().to_string(),
        receiver: None,
        config,
        operator: "bench".into(),
        os_user: "bench".into(),
        notice: None,
    };
    let mut app = App::new(session, Keymap::default(), Theme::colour(), false, clock.now());
    app.update(Msg::Resize(SIZE.0, SIZE.1));
    app.update(Msg::Data(Box::new(loader.initial()?)));
    let mut terminal = Terminal::new(TestBackend::new(SIZE.0, SIZE.1))?;
    let opened = Instant::now();
    let cmds = press(&mut app, KeyCode::Char('T'));
    anyhow::ensure!(cmds == vec![Cmd::LoadReplay(key)], "T asked for {cmds:?}");
    app.update(Msg::Data(Box::new(loader.replay(key)?)));
    terminal.draw(|f| f.render_widget(&app, f.area()))?;
    let open = opened.elapsed();
    let mut step_floor = Vec::new();
    for _ in 0..a.steps.max(1) {
        let t = Instant::now();
        let hosts = app.live.detail.as_ref().map(|d| d.targets.clone());
        terminal.draw(|f| f.render_widget(&app, f.area()))?;
        step_floor.push(t.elapsed());
        drop(hosts);
    }
    let step_floor = median(step_floor);
    line("T: open the replay (read, fold to the end, frame)", open, step_floor, 100);
    let kinds: [(&str, usize, KeyCode); 4] = [
        ("→ a happening forward, mid-rollout", happenings / 2, KeyCode::Right),
        ("← a happening back (refold from a checkpoint)", happenings, KeyCode::Left),
        ("] a minute forward, from the plan", 0, KeyCode::Char(']')),
        ("[ a minute back, from the end", happenings, KeyCode::Char('[')),
    ];
    for (name, from, code) in kinds {
        if let Some(r) = app.replay.as_mut().and_then(|m| m.replay.as_mut()) {
            r.seek(from);
        }
        let mut took = Vec::with_capacity(a.steps);
        for _ in 0..a.steps.max(1) {
            let t = Instant::now();
            press(&mut app, code);
            terminal.draw(|f| f.render_widget(&app, f.area()))?;
            took.push(t.elapsed());
        }
        let worst = took.iter().max().copied().unwrap_or_default();
        let cursor = app.replay.as_ref().and_then(|m| m.position()).unwrap_or_default();
        line(&format!("{name} (median; cursor {}/{})", cursor.0, cursor.1), median(took), step_floor, 33);
        line(&format!("{name} (slowest of {})", a.steps.max(1)), worst, step_floor, 33);
    }
    Ok(())
}
