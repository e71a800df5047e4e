//! `shipdeck bench dashboard`: the dashboard's cost on a large log.
//!
//! Builds (or reuses) a log with one running deployment of 10,000 targets among 1,000,000
//! events, then measures on ratatui's `TestBackend` at 200x50: the median frame of the Live
//! view with its state loaded, the floor (an unchanged full-screen paragraph through the same
//! terminal), the refresh after 1,000 new events committed by another connection, the time from
//! opening the log to the first frame, and the process's memory.

use super::app::{App, Msg, Session};
use super::data::Loader;
use super::keymap::Keymap;
use super::theme::Theme;
use crate::clock::{FixedClock, SharedClock};
use crate::config::Config;
use crate::domain::{AgentEvent, DeploymentKey, EventStatus, ReleaseRef};
use crate::store::{PlanRequest, Store, Submission};
use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::widgets::Paragraph;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TARGETS: usize = 10_000;
const EVENTS: usize = 1_000_000;
const FILLER_TARGETS: usize = 2_500;
const BATCH: usize = 20_000;
const SIZE: (u16, u16) = (200, 50);

fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}

fn event(key: DeploymentKey, host: &str, step: &str, status: EventStatus, at: DateTime<Utc>) -> AgentEvent {
    AgentEvent {
        id: format!("{host}-{step}-{}", status.as_str()),
        deployment: key.to_string(),
        target: Some(host.to_owned()),
        phase: None,
        step: step.to_owned(),
        status,
        at,
        message: (status == EventStatus::Failed).then(|| format!("{step} failed: exit code 1")),
        data: None,
    }
}

/// Stores events in big multi-request transactions, as the receiver's group commit does.
struct Writer<'a> {
    store: &'a mut Store,
    pending: Vec<AgentEvent>,
    stored: usize,
}

impl Writer<'_> {
    fn push(&mut self, e: AgentEvent) -> anyhow::Result<()> {
        self.pending.push(e);
        if self.pending.len() >= BATCH { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        let received_ms = (base() + TimeDelta::hours(2)).timestamp_millis();
        let subs: Vec<Submission> = self
            .pending
            .drain(..)
            .collect::<Vec<_>>()
            .chunks(1_000)
            .map(|c| Submission { events: c.iter().cloned().enumerate().collect(), received_ms })
            .collect();
        for out in self.store.ingest(&subs)? {
            anyhow::ensure!(out.rejected.is_empty(), "bench events rejected: {:?}", out.rejected.first());
            self.stored += out.accepted;
        }
        Ok(())
    }
}

fn plan(
    store: &mut Store,
    config: &Config,
    release: &str,
    model: &str,
    hosts: Vec<String>,
) -> anyhow::Result<DeploymentKey> {
    let req = PlanRequest {
        release: release.parse::<ReleaseRef>().map_err(anyhow::Error::msg)?,
        environment: "production".into(),
        model_name: model.into(),
        model: config.model(model).map_err(anyhow::Error::msg)?,
        targets: hosts,
        change_ref: Some("CHG-1".into()),
        requested_by: "bench".into(),
        release_record: Default::default(),
        planned_start: base(),
        now: base(),
    };
    Ok(store.plan(&req)?.0)
}

/// Builds the bench log: past deployments as filler, then the live one with 10,000 targets.
fn build(path: &Path) -> anyhow::Result<()> {
    let config = Config::built_in();
    let mut store = Store::open(path)?;
    let t = base();
    // The live deployment's events, counted first so the filler makes the total exact.
    let live_events = 2 * 6 + 2_000 * 6 + 5_000 * 6 + 50 * 4 + 1_950 * 3;
    let mut filler = EVENTS - live_events;
    let mut n = 0;
    while filler > 0 {
        n += 1;
        let hosts: Vec<String> = (0..FILLER_TARGETS).map(|i| format!("old{n}-{i:05}")).collect();
        let key = plan(&mut store, &config, &format!("billing@1.{n}.0"), "big-bang", hosts.clone())?;
        let mut w = Writer { store: &mut store, pending: Vec::new(), stored: 0 };
        'hosts: for h in &hosts {
            for step in ["install", "verify"] {
                for status in [EventStatus::Started, EventStatus::Succeeded] {
                    if filler == 0 {
                        break 'hosts;
                    }
                    w.push(event(key, h, step, status, t))?;
                    filler -= 1;
                }
            }
        }
        w.flush()?;
    }
    let hosts: Vec<String> = (0..TARGETS).map(|i| format!("web-{i:05}")).collect();
    let key = plan(&mut store, &config, "payments-api@2.4.1", "phased", hosts.clone())?;
    let mut w = Writer { store: &mut store, pending: Vec::new(), stored: 0 };
    for (i, h) in hosts.iter().enumerate() {
        let at = t + TimeDelta::seconds(i64::try_from(i).unwrap_or(0) / 10);
        let (steps, last): (&[&str], EventStatus) = match i {
            0..7_002 => (&["download", "install", "verify"], EventStatus::Succeeded),
            7_002..7_052 => (&["download", "install"], EventStatus::Failed),
            7_052..9_002 => (&["download", "install"], EventStatus::Started),
            _ => (&[], EventStatus::Info),
        };
        for (s, step) in steps.iter().enumerate() {
            w.push(event(key, h, step, EventStatus::Started, at))?;
            let end = if s + 1 == steps.len() { last } else { EventStatus::Succeeded };
            if end != EventStatus::Started {
                w.push(event(key, h, step, end, at))?;
            }
        }
    }
    w.flush()?;
    Ok(())
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
    };
    let mut app = App::new(session, Keymap::default(), Theme::colour(), false, clock.now());
    app.update(Msg::Resize(SIZE.0, SIZE.1));
    app.update(Msg::Data(Box::new(first)));
    let mut terminal = Terminal::new(TestBackend::new(SIZE.0, SIZE.1))?;
    terminal.draw(|f| f.render_widget(&app, f.area()))?;
    Ok((app, loader, terminal))
}

/// Runs the dashboard benchmark and prints its numbers.
pub fn bench(db: Option<PathBuf>) -> anyhow::Result<()> {
    let dir =
        tempfile::Builder::new().prefix("shipdeck-bench").tempdir().context("cannot create a temporary folder")?;
    let path = db.unwrap_or_else(|| dir.path().join("bench.db"));
    println!("shipdeck bench dashboard");
    if path.exists() {
        println!("log: {} (reused)", path.display());
    } else {
        let t = Instant::now();
        build(&path).with_context(|| format!("cannot build the bench log {}", path.display()))?;
        println!("log: {} (built: {EVENTS} events in {:.1} s)", path.display(), t.elapsed().as_secs_f64());
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
        summary.targets == TARGETS,
        "the selected deployment has {} targets, not {TARGETS}",
        summary.targets
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
    let hosts: Vec<String> = (7_052..9_002).map(|i| format!("web-{i:05}")).collect();
    let mut refreshes = Vec::new();
    let mut reads = Vec::new();
    for round in 0..10 {
        let at = clock.now();
        let events: Vec<(usize, AgentEvent)> = (0..1_000)
            .map(|i| {
                let mut e = event(key, &hosts[(round * 1_000 + i) % hosts.len()], "progress", EventStatus::Info, at);
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
    println!("memory   {} ({list_len} deployments listed, tail capped at {})", memory(), super::data::TAIL_CAP);
    println!("         (VmHWM includes building the log when it was not reused)");
    Ok(())
}
