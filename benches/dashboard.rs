//! `shipdeck-bench dashboard`: the dashboard's cost on a large log.
//!
//! Builds (or reuses) a log with one running deployment of 10,000 targets among 1,000,000
//! events (see [`crate::log`]), then measures on ratatui's `TestBackend` at 200x50: the median
//! frame of the Live view with its state loaded, the floor (an unchanged full-screen paragraph
//! through the same terminal), the refresh after 1,000 new events committed by another
//! connection, the time from opening the log to the first frame, and the process's memory.

use crate::log::{self, Live};
use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::widgets::Paragraph;
use shipdeck::clock::{FixedClock, SharedClock};
use shipdeck::config::Config;
use shipdeck::domain::{AgentEvent, EventStatus};
use shipdeck::store::{Store, Submission};
use shipdeck::tui::app::{App, Msg, Session};
use shipdeck::tui::data::{Loader, TAIL_CAP};
use shipdeck::tui::keymap::Keymap;
use shipdeck::tui::theme::Theme;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZE: (u16, u16) = (200, 50);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reuse (or keep) the generated log here
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Events in the generated log
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Hosts of its running deployment
    #[arg(long, default_value_t = 10_000)]
    targets: usize,
}

fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).map_or("n/a".to_owned(), |l| l[name.len()..].trim().to_owned())
    };
    format!("VmRSS {}, VmHWM {}", field("VmRSS:"), field("VmHWM:"))
}

/// Opens the log, loads the first data and draws the first frame, as `tui::run` does.
fn start(path: &Path, clock: &SharedClock) -> anyhow::Result<(App, Loader, Terminal<TestBackend>)> {
    let config = Config::built_in();
    let store = Store::open_existing(path)?;
    let mut loader = Loader::new(store, clock.clone(), config.timezone);
    let first = loader.initial()?;
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
    app.update(Msg::Data(Box::new(first)));
    let mut terminal = Terminal::new(TestBackend::new(SIZE.0, SIZE.1))?;
    terminal.draw(|f| f.render_widget(&app, f.area()))?;
    Ok((app, loader, terminal))
}

/// Runs the dashboard benchmark and prints its numbers.
pub fn run(a: &Args) -> anyhow::Result<()> {
    let dir =
        tempfile::Builder::new().prefix("shipdeck-bench").tempdir().context("cannot create a temporary folder")?;
    let path = a.db.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    println!("shipdeck-bench dashboard");
    if path.exists() {
        println!("log: {} (reused)", path.display());
    } else {
        let spec = log::Spec { events: a.events, targets: a.targets, live: Live::UnderWay };
        log::build(&Config::built_in(), &path, &spec, base() + TimeDelta::hours(1))
            .with_context(|| format!("cannot build the bench log {}", path.display()))?;
        println!("log: {} (built)", path.display());
    }
    let clock: SharedClock = Arc::new(FixedClock(base() + TimeDelta::hours(2) + TimeDelta::minutes(1)));

    let mut starts = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let started = start(&path, &clock)?;
        starts.push(t.elapsed());
        drop(started);
    }
    let first_start = starts[0];
    let (mut app, mut loader, mut terminal) = start(&path, &clock)?;
    let summary = app.live.summary().context("the bench log has no deployment")?;
    let total = Store::open_existing(&path)?.last_seq()?;
    println!("selected: {} with {} targets; log holds {total} events", summary.key, summary.targets);
    anyhow::ensure!(
        summary.targets == a.targets,
        "the selected deployment has {} targets, not {}",
        summary.targets,
        a.targets
    );
    let key = summary.key;

    let frames = 300;
    let mut live = Vec::with_capacity(frames);
    for _ in 0..frames {
        let t = Instant::now();
        terminal.draw(|f| f.render_widget(&app, f.area()))?;
        live.push(t.elapsed());
    }
    let mut floor_terminal = Terminal::new(TestBackend::new(SIZE.0, SIZE.1))?;
    let line = "shipdeck ".repeat(usize::from(SIZE.0) / 9);
    let paragraph = Paragraph::new(vec![ratatui::text::Line::raw(line); usize::from(SIZE.1)]);
    let mut floor = Vec::with_capacity(frames);
    for _ in 0..frames {
        let t = Instant::now();
        floor_terminal.draw(|f| f.render_widget(&paragraph, f.area()))?;
        floor.push(t.elapsed());
    }
    let mut empty = Vec::with_capacity(frames);
    for _ in 0..frames {
        let t = Instant::now();
        floor_terminal.draw(|_| {})?;
        empty.push(t.elapsed());
    }
    let (frame, floor, empty) = (median(live), median(floor), median(empty));

    // Another connection commits 1,000 events per round, as the receiver would.
    let mut writer = Store::open(&path)?;
    let hosts = log::running_hosts(a.targets);
    let mut refreshes = Vec::new();
    let mut reads = Vec::new();
    for round in 0..10 {
        let at = clock.now();
        let events: Vec<(usize, AgentEvent)> = (0..1_000)
            .map(|i| {
                let mut e =
                    log::fixed_event(key, &hosts[(round * 1_000 + i) % hosts.len()], "progress", EventStatus::Info, at);
                e.id = format!("bench-{total}-{round}-{i}");
                e.message = Some(format!("progress {}%", round * 10));
                (i, e)
            })
            .collect();
        writer.ingest(&[Submission { events, received_ms: at.timestamp_millis() }])?;
        let t = Instant::now();
        let refresh = loader.poll()?.context("the new events were not noticed")?;
        let read = t.elapsed();
        app.update(Msg::Data(Box::new(refresh)));
        refreshes.push(t.elapsed());
        reads.push(read);
    }
    let (refresh, read) = (median(refreshes), median(reads));
    drop(writer);
    let list_len = app.live.deployments.len();

    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!(
        "frame    live view {}x{} on TestBackend, state loaded: median {} over {frames} frames",
        SIZE.0,
        SIZE.1,
        ms(frame)
    );
    println!("floor    unchanged full-screen paragraph, same terminal:  median {}", ms(floor));
    println!("         (an empty draw, only the buffer swap and diff: median {})", ms(empty));
    let ratio = frame.as_secs_f64() / floor.as_secs_f64().max(1e-9);
    println!(
        "         frame/floor {ratio:.2}x  (goal < 4x and < 2 ms: {})",
        verdict(ratio < 4.0 && frame < Duration::from_millis(2))
    );
    println!(
        "refresh  after 1,000 new events (poll + apply), median of 10: {} (reading the log: {})  (goal < 5 ms: {})",
        ms(refresh),
        ms(read),
        verdict(refresh < Duration::from_millis(5))
    );
    println!(
        "start    open log + first queries + first frame: first {}, median of 5 {}  (goal < 150 ms: {})",
        ms(first_start),
        ms(median(starts.clone())),
        verdict(first_start < Duration::from_millis(150))
    );
    println!("memory   {} ({list_len} deployments listed, tail capped at {})", memory(), TAIL_CAP);
    println!("         (VmHWM includes building the log when it was not reused)");
    Ok(())
}
